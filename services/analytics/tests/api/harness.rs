//! Starts the analytics service on its own port and database, and feeds it
//! events straight through the projection handler and the kit inbox.

use crm_analytics::projection::{CONSUMER, Projector};
use crm_kit::{
    bus::inbox::{Applied, apply_batch, apply_once},
    testing::{Backend, TestDatabase, TestServer, token},
};
use crm_proto::{
    analytics::v1::{self as pb, analytics_service_client::AnalyticsServiceClient},
    common::v1::Money,
    events::v1::EventEnvelope,
};
use sea_orm::DatabaseConnection;
use tonic::{Code, Status, transport::Channel};
use tonic_types::StatusExt;

/// The service under test and a client.
pub struct Suite {
    /// An AnalyticsService client.
    pub client: AnalyticsServiceClient<Channel>,
    /// The analytics database.
    pub db: DatabaseConnection,
    _server: TestServer,
    _db: TestDatabase,
}

/// A fresh service, or `None` when the PostgreSQL half is skipped.
pub async fn suite(backend: Backend, test: &str) -> Option<Suite> {
    let db = TestDatabase::create(backend, test).await?;
    let conn = crm_kit::db::connect_and_migrate::<crm_analytics::migration::Migrator>(&db.url)
        .await
        .expect("analytics db");
    // No pipeline service here: RebuildProjections is tested end to end in tests/.
    let config = crm_analytics::startup::Config {
        pipeline_url: "http://127.0.0.1:1".into(),
        catch_up_if_empty: false,
    };
    let service = crm_analytics::startup::build(conn.clone(), crm_kit::testing::shared(), config)
        .await
        .expect("analytics service");
    let (server, _work) = TestServer::start_service(service).await;
    Some(Suite {
        client: AnalyticsServiceClient::new(server.channel().await),
        db: conn,
        _server: server,
        _db: db,
    })
}

impl Suite {
    /// Applies `events` in the given order, as the bus would deliver them.
    pub async fn deliver(&self, events: &[EventEnvelope]) {
        for e in events {
            apply_once(&self.db, CONSUMER, e, &Projector)
                .await
                .expect("apply event");
        }
    }

    /// Applies `events` in the given order, `size` at a time in one
    /// transaction each, as the RabbitMQ consumer applies what is ready.
    pub async fn deliver_in_batches(&self, events: &[EventEnvelope], size: usize) {
        for batch in events.chunks(size) {
            let batch: Vec<&EventEnvelope> = batch.iter().collect();
            apply_batch(&self.db, CONSUMER, &batch, &Projector)
                .await
                .expect("apply batch");
        }
    }

    /// Applies one event and says whether it changed anything.
    pub async fn deliver_one(&self, e: &EventEnvelope) -> Applied {
        apply_once(&self.db, CONSUMER, e, &Projector)
            .await
            .expect("apply event")
    }
}

/// A token of user `ann` (admin) in `tenant`.
pub fn token_of(tenant: &str) -> String {
    token(tenant, "ann", &["admin"])
}

/// `units` and `nanos` of `currency`.
pub fn money(currency: &str, units: i64, nanos: i32) -> Money {
    Money {
        currency_code: currency.into(),
        units,
        nanos,
    }
}

/// A period of [from, to) in µs.
pub fn period(from: i64, to: i64) -> Option<pb::Period> {
    Some(pb::Period {
        from: Some(crm_kit::time::to_timestamp(from)),
        to: Some(crm_kit::time::to_timestamp(to)),
    })
}

/// Whether two rates agree to rounding.
pub fn assert_rate(got: f64, want: f64) {
    assert!((got - want).abs() < 1e-9, "got {got}, want {want}");
}

/// Asserts `status` is INVALID_ARGUMENT naming `field` in its BadRequest.
pub fn assert_bad_field(status: &Status, field: &str) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let fields: Vec<String> = status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default();
    assert!(fields.iter().any(|f| f == field), "expected {field}, got {fields:?}");
}
