//! Starts contacts, pipeline and tasks on their own ports and databases, as
//! they run in production, wires the tasks automation to the in-process
//! bus, and gives tests clients and helpers.

use std::sync::Arc;

use crm_kit::{
    bus::{Message, Publisher, local::LocalBus, relay::Relay},
    testing::{Backend, TestDatabase, TestServer, authed, shared, token},
};
use crm_proto::{
    common::v1::{Money, StageKind},
    contacts::v1::{self as cpb, contacts_service_client::ContactsServiceClient},
    events::v1::EventEnvelope,
    pipeline::v1::{self as ppb, pipeline_service_client::PipelineServiceClient},
    tasks::v1::{self as pb, tasks_service_client::TasksServiceClient},
};
use crm_tasks::{reminders::ReminderHub, startup::Announce};
use prost::Message as _;
use sea_orm::DatabaseConnection;
use tonic::{Code, Status, transport::Channel};
use tonic_types::StatusExt;

/// The suite under test and its clients.
pub struct Suite {
    /// A TasksService client.
    pub tasks: TasksServiceClient<Channel>,
    /// A PipelineService client.
    pub pipeline: PipelineServiceClient<Channel>,
    /// A ContactsService client.
    pub contacts: ContactsServiceClient<Channel>,
    /// The tasks database.
    pub db: DatabaseConnection,
    /// The tasks database's URL, for a second connection.
    pub db_url: String,
    /// The pipeline database, whose outbox feeds the bus.
    pub pipeline_db: DatabaseConnection,
    /// The contacts database, whose outbox feeds the bus.
    pub contacts_db: DatabaseConnection,
    /// The in-process bus with the tasks automation subscribed.
    pub bus: LocalBus,
    /// The hub the tasks service streams reminders from.
    pub hub: ReminderHub,
    /// User `ann` of tenant `acme`.
    pub token: String,
    _servers: (TestServer, TestServer, TestServer),
    _dbs: (TestDatabase, TestDatabase, TestDatabase),
}

/// A fresh suite, or `None` when the PostgreSQL half is skipped.
pub async fn suite(backend: Backend, test: &str) -> Option<Suite> {
    let contacts_db = TestDatabase::create(backend, test).await?;
    let pipeline_db = TestDatabase::create(backend, test).await?;
    let tasks_db = TestDatabase::create(backend, test).await?;
    let cconn = crm_kit::db::connect_and_migrate::<crm_contacts::migration::Migrator>(&contacts_db.url)
        .await
        .expect("contacts db");
    let pconn = crm_kit::db::connect_and_migrate::<crm_pipeline::migration::Migrator>(&pipeline_db.url)
        .await
        .expect("pipeline db");
    let tconn = crm_kit::db::connect_and_migrate::<crm_tasks::migration::Migrator>(&tasks_db.url)
        .await
        .expect("tasks db");
    let (contacts_server, _) = TestServer::start_service(crm_contacts::startup::build(cconn.clone(), shared())).await;
    let config = crm_pipeline::startup::Config::new(contacts_server.url());
    let pipeline = crm_pipeline::startup::build(pconn.clone(), shared(), config).expect("pipeline service");
    let (pipeline_server, _) = TestServer::start_service(pipeline).await;
    let config = crm_tasks::startup::Config::new(pipeline_server.url(), contacts_server.url(), Announce::Directly);
    let hub = config.hub.clone();
    let tasks = crm_tasks::startup::build(tconn.clone(), shared(), config).expect("tasks service");
    // The automation consumes through the in-process bus; the tests run
    // the relays and the scheduler themselves.
    let (tasks_server, work) = TestServer::start_service(tasks).await;
    let bus = LocalBus::new();
    work.subscribe(&bus);
    Some(Suite {
        tasks: TasksServiceClient::new(tasks_server.channel().await),
        pipeline: PipelineServiceClient::new(pipeline_server.channel().await),
        contacts: ContactsServiceClient::new(contacts_server.channel().await),
        db: tconn,
        db_url: tasks_db.url.clone(),
        pipeline_db: pconn,
        contacts_db: cconn,
        bus,
        hub,
        token: token("acme", "ann", &["admin"]),
        _servers: (contacts_server, pipeline_server, tasks_server),
        _dbs: (contacts_db, pipeline_db, tasks_db),
    })
}

/// A stage for a create request.
pub fn stage(name: &str, kind: StageKind, probability: i32) -> ppb::Stage {
    ppb::Stage {
        name: name.into(),
        kind: kind as i32,
        probability,
        rotting_days: 0,
        ..Default::default()
    }
}

/// EUR money.
pub fn eur(units: i64) -> Option<Money> {
    Some(Money {
        currency_code: "EUR".into(),
        units,
        nanos: 0,
    })
}

/// A wire duration of `secs` seconds.
pub fn secs(secs: i64) -> prost_types::Duration {
    prost_types::Duration {
        seconds: secs,
        nanos: 0,
    }
}

/// A wire time `secs` seconds from now.
pub fn in_secs(secs: i64) -> prost_types::Timestamp {
    crm_kit::time::to_timestamp(crm_kit::time::now_micros() + secs * 1_000_000)
}

/// A valid task due in a day.
pub fn task(title: &str) -> pb::Task {
    pb::Task {
        title: title.into(),
        due_time: Some(in_secs(86_400)),
        ..Default::default()
    }
}

impl Suite {
    /// Creates the Lead/Demo/Won/Lost pipeline.
    pub async fn sales_pipeline(&mut self) -> ppb::Pipeline {
        let stages = vec![
            stage("Lead", StageKind::Open, 10),
            stage("Demo", StageKind::Open, 50),
            stage("Won", StageKind::Won, 100),
            stage("Lost", StageKind::Lost, 0),
        ];
        let req = ppb::CreatePipelineRequest {
            pipeline: Some(ppb::Pipeline {
                name: "Sales".into(),
                stages,
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

    /// Creates a deal titled `title` worth `units` EUR in `pipeline`, with
    /// an optional contact.
    pub async fn deal(&mut self, pipeline: &ppb::Pipeline, title: &str, units: i64, contact: &str) -> ppb::Deal {
        let deal = ppb::Deal {
            pipeline_id: pipeline.id.clone(),
            title: title.into(),
            amount: eur(units),
            contact_id: contact.into(),
            ..Default::default()
        };
        let req = ppb::CreateDealRequest {
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

    /// Moves `deal` to `stage_id` (with a lost reason for LOST).
    pub async fn move_to(&mut self, deal: &ppb::Deal, stage_id: &str, reason: &str) {
        let req = ppb::MoveDealRequest {
            deal_id: deal.id.clone(),
            stage_id: stage_id.into(),
            etag: String::new(),
            lost_reason: reason.into(),
        };
        self.pipeline
            .move_deal(authed(&self.token, req))
            .await
            .expect("move deal");
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

    /// Creates a task as `ann`.
    pub async fn create_task(&mut self, t: pb::Task) -> Result<pb::Task, Status> {
        let req = pb::CreateTaskRequest {
            task: Some(t),
            request_id: String::new(),
        };
        self.tasks
            .create_task(authed(&self.token, req))
            .await
            .map(|r| r.into_inner().task.expect("task"))
    }

    /// Creates a rule as `ann`.
    pub async fn create_rule(&mut self, r: pb::Rule) -> Result<pb::Rule, Status> {
        let req = pb::CreateRuleRequest {
            rule: Some(r),
            request_id: String::new(),
        };
        self.tasks
            .create_rule(authed(&self.token, req))
            .await
            .map(|r| r.into_inner().rule.expect("rule"))
    }

    /// Every task of tenant acme, soonest due first (one page of 500).
    pub async fn all_tasks(&mut self) -> Vec<pb::Task> {
        let req = pb::ListTasksRequest {
            page_size: 500,
            ..Default::default()
        };
        self.tasks
            .list_tasks(authed(&self.token, req))
            .await
            .expect("list tasks")
            .into_inner()
            .tasks
    }

    /// Delivers the pipeline's and contacts' pending events through the bus.
    pub async fn relay(&self) {
        let bus: Arc<dyn Publisher> = Arc::new(self.bus.clone());
        Relay::new(self.pipeline_db.clone(), bus.clone())
            .publish_pending()
            .await
            .expect("relay pipeline events");
        Relay::new(self.contacts_db.clone(), bus)
            .publish_pending()
            .await
            .expect("relay contacts events");
    }

    /// Publishes `envelope` through the bus again, as a broker redelivery would.
    pub async fn redeliver(&self, envelope: &EventEnvelope) {
        let message = Message {
            event_id: envelope.event_id.clone(),
            routing_key: envelope.r#type.clone(),
            body: envelope.encode_to_vec(),
        };
        self.bus.publish(&message).await.expect("redeliver");
    }

    /// The pipeline's outbox, oldest first.
    pub async fn pipeline_events(&self) -> Vec<EventEnvelope> {
        crm_kit::outbox::read_all(&self.pipeline_db)
            .await
            .expect("read pipeline outbox")
    }

    /// The tasks outbox, oldest first.
    pub async fn events(&self) -> Vec<EventEnvelope> {
        crm_kit::outbox::read_all(&self.db).await.expect("read tasks outbox")
    }

    /// The event types in the tasks outbox, oldest first.
    pub async fn event_types(&self) -> Vec<String> {
        self.events().await.into_iter().map(|e| e.r#type).collect()
    }
}

pub use crm_kit::testing::assert_bad_field;

/// Asserts `status` is FAILED_PRECONDITION about `subject`.
pub fn assert_precondition(status: &Status, subject: &str) {
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    let subjects: Vec<String> = status
        .get_details_precondition_failure()
        .map(|p| p.violations.into_iter().map(|v| v.subject).collect())
        .unwrap_or_default();
    assert!(
        subjects.iter().any(|s| s == subject),
        "expected a precondition on {subject}, got {subjects:?} ({})",
        status.message()
    );
}
