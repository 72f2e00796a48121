//! Starts contacts and pipeline on their own ports and databases, as they
//! run in production, and gives tests clients and helpers.

use crm_kit::testing::{Backend, TestDatabase, TestServer, authed, shared, token};
use crm_proto::{
    common::v1::{Money, StageKind},
    contacts::v1::{self as cpb, contacts_service_client::ContactsServiceClient},
    events::v1::EventEnvelope,
    pipeline::v1::{self as pb, pipeline_service_client::PipelineServiceClient},
};
use sea_orm::DatabaseConnection;
use tonic::{Status, transport::Channel};

/// The suite under test and its clients.
pub struct Suite {
    /// A PipelineService client.
    pub pipeline: PipelineServiceClient<Channel>,
    /// A ContactsService client.
    pub contacts: ContactsServiceClient<Channel>,
    /// The pipeline's database, to inspect the outbox.
    pub db: DatabaseConnection,
    /// An admin of tenant `acme`.
    pub token: String,
    /// The pipeline's database URL and ContactsService's address, for a
    /// second replica ([`Suite::replica`]).
    urls: (String, String),
    _servers: (TestServer, TestServer),
    _dbs: (TestDatabase, TestDatabase),
}

/// A fresh suite, or `None` when the PostgreSQL half is skipped.
pub async fn suite(backend: Backend, test: &str) -> Option<Suite> {
    let contacts_db = TestDatabase::create(backend, test).await?;
    let pipeline_db = TestDatabase::create(backend, test).await?;
    let cconn = crm_kit::db::connect_and_migrate::<crm_contacts::migration::Migrator>(&contacts_db.url)
        .await
        .expect("contacts db");
    let pconn = crm_kit::db::connect_and_migrate::<crm_pipeline::migration::Migrator>(&pipeline_db.url)
        .await
        .expect("pipeline db");
    let (contacts_server, _) = TestServer::start_service(crm_contacts::startup::build(cconn, shared())).await;
    let config = crm_pipeline::startup::Config::new(contacts_server.url());
    let pipeline = crm_pipeline::startup::build(pconn.clone(), shared(), config).expect("pipeline service");
    // The stall scanner is run by the tests that need it.
    let (pipeline_server, _) = TestServer::start_service(pipeline).await;
    Some(Suite {
        pipeline: PipelineServiceClient::new(pipeline_server.channel().await),
        contacts: ContactsServiceClient::new(contacts_server.channel().await),
        db: pconn,
        token: token("acme", "ann", &["admin"]),
        urls: (pipeline_db.url.clone(), contacts_server.url()),
        _servers: (contacts_server, pipeline_server),
        _dbs: (contacts_db, pipeline_db),
    })
}

/// A stage for a create request.
pub fn stage(name: &str, kind: StageKind, probability: i32) -> pb::Stage {
    pb::Stage {
        name: name.into(),
        kind: kind as i32,
        probability,
        rotting_days: 0,
        ..Default::default()
    }
}

/// Lead (10%), Demo (50%), Won, Lost.
pub fn sales_stages() -> Vec<pb::Stage> {
    vec![
        stage("Lead", StageKind::Open, 10),
        stage("Demo", StageKind::Open, 50),
        stage("Won", StageKind::Won, 100),
        stage("Lost", StageKind::Lost, 0),
    ]
}

/// EUR money.
pub fn eur(units: i64) -> Option<Money> {
    Some(Money {
        currency_code: "EUR".into(),
        units,
        nanos: 0,
    })
}

impl Suite {
    /// Another replica of the pipeline service on the same database (its
    /// own connections and its own memory), and its server.
    pub async fn replica(&self) -> (PipelineServiceClient<Channel>, TestServer) {
        let db = crm_kit::db::connect(&self.urls.0).await.expect("pipeline db");
        let config = crm_pipeline::startup::Config::new(self.urls.1.clone());
        let service = crm_pipeline::startup::build(db, shared(), config).expect("pipeline service");
        let (server, _) = TestServer::start_service(service).await;
        (PipelineServiceClient::new(server.channel().await), server)
    }

    /// Creates the Lead/Demo/Won/Lost pipeline.
    pub async fn sales_pipeline(&mut self) -> pb::Pipeline {
        let req = pb::CreatePipelineRequest {
            pipeline: Some(pb::Pipeline {
                name: "Sales".into(),
                stages: sales_stages(),
                ..Default::default()
            }),
            request_id: String::new(),
        };
        self.pipeline
            .create_pipeline(authed(&self.token, req))
            .await
            .expect("create pipeline")
            .into_inner()
            .pipeline
            .expect("pipeline")
    }

    /// Creates a deal titled `title` worth `units` EUR in `pipeline`.
    pub async fn deal(&mut self, pipeline: &pb::Pipeline, title: &str, units: i64) -> pb::Deal {
        let deal = pb::Deal {
            pipeline_id: pipeline.id.clone(),
            title: title.into(),
            amount: eur(units),
            ..Default::default()
        };
        let req = pb::CreateDealRequest {
            deal: Some(deal),
            request_id: String::new(),
        };
        self.pipeline
            .create_deal(authed(&self.token, req))
            .await
            .expect("create deal")
            .into_inner()
            .deal
            .expect("deal")
    }

    /// Moves `deal` to `stage_id`.
    pub async fn move_to(
        &mut self,
        deal: &pb::Deal,
        stage_id: &str,
        reason: &str,
    ) -> Result<pb::MoveDealResponse, Status> {
        let req = pb::MoveDealRequest {
            deal_id: deal.id.clone(),
            stage_id: stage_id.into(),
            etag: String::new(),
            lost_reason: reason.into(),
        };
        self.pipeline
            .move_deal(authed(&self.token, req))
            .await
            .map(tonic::Response::into_inner)
    }

    /// Creates a contact in tenant acme.
    pub async fn contact(&mut self, email: &str) -> cpb::Contact {
        let c = cpb::Contact {
            first_name: "Dana".into(),
            emails: vec![email.into()],
            ..Default::default()
        };
        let req = cpb::CreateContactRequest {
            contact: Some(c),
            request_id: String::new(),
        };
        self.contacts
            .create_contact(authed(&self.token, req))
            .await
            .expect("create contact")
            .into_inner()
            .contact
            .expect("contact")
    }

    /// The event types in the pipeline's outbox, oldest first.
    pub async fn events(&self) -> Vec<EventEnvelope> {
        crm_kit::outbox::read_all(&self.db).await.expect("read outbox")
    }

    /// The event types in the pipeline's outbox, oldest first.
    pub async fn event_types(&self) -> Vec<String> {
        self.events().await.into_iter().map(|e| e.r#type).collect()
    }
}

pub use crm_kit::testing::assert_bad_field;
