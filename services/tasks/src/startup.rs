//! The one way to build the tasks service: its gRPC service behind the
//! token check, its database, the automation consumer (deal events fire
//! rules), and the reminder scheduler. `crm serve tasks`, `crm up` and the
//! tests all run what [`build`] returns.

use std::sync::Arc;

use crm_kit::{
    Shared,
    peer::contacts::ContactsDirectory,
    startup::{Consumer, Job, Listener, Service, Work, bindings},
};
use crm_proto::tasks::v1::tasks_service_server::TasksServiceServer;
use sea_orm::DatabaseConnection;
use tonic::service::interceptor::InterceptedService;

use crate::{
    SERVICE_NAME,
    automation::{Automation, BINDINGS, CONSUMER},
    events::types,
    grpc::Tasks,
    pipelines::PipelineDirectory,
    reminders::{ReminderHub, Scheduler},
};

/// How the reminders a scheduler fires reach the `WatchReminders` streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Announce {
    /// Straight to this process's hub: one process serves every watcher
    /// (`crm up`).
    Directly,
    /// Through the bus: with several replicas, a watcher connected to one
    /// must hear what another fired, so every replica's hub is fed from the
    /// `tasks.reminder.due` events it hears (`crm serve tasks`).
    ThroughTheBus,
}

/// Where the tasks service finds its peers, and how it announces reminders.
#[derive(Clone, Debug)]
pub struct Config {
    /// PipelineService, asked whether a rule's pipeline and stage, and a
    /// task's deal, exist.
    pub pipeline_url: String,
    /// ContactsService, asked whether a task's contact exists.
    pub contacts_url: String,
    /// How fired reminders reach the watchers.
    pub announce: Announce,
    /// The hub `WatchReminders` streams from (the tests keep a handle).
    pub hub: ReminderHub,
}

impl Config {
    /// PipelineService at `pipeline_url`, ContactsService at
    /// `contacts_url`, reminders announced as `announce`.
    pub fn new(pipeline_url: impl Into<String>, contacts_url: impl Into<String>, announce: Announce) -> Self {
        Self {
            pipeline_url: pipeline_url.into(),
            contacts_url: contacts_url.into(),
            announce,
            hub: ReminderHub::new(),
        }
    }
}

/// The tasks service on `db` (migrated), checking tokens with `shared`.
pub fn build(db: DatabaseConnection, shared: Shared, config: Config) -> anyhow::Result<Service> {
    let pipelines = PipelineDirectory::connect_lazy(&config.pipeline_url)?;
    let contacts = ContactsDirectory::connect_lazy(&config.contacts_url)?;
    let auth = shared.authenticate();
    let hub = config.hub;
    let settings = crm_tenancy::Settings::stored(crm_kit::db::readers(&db));
    let service = Tasks::new(db.clone(), shared, pipelines, contacts, hub.clone(), settings);
    let grpc = InterceptedService::new(TasksServiceServer::new(service), auth);
    let mut scheduler = Scheduler::new(db.clone(), hub.clone());
    let mut listeners = Vec::new();
    if config.announce == Announce::ThroughTheBus {
        scheduler = scheduler.announcing_through_the_bus();
        listeners.push(Listener {
            bindings: bindings(&[types::REMINDER_DUE]),
            on_event: Arc::new(move |envelope| hub.hear(&envelope)),
        });
    }
    Ok(Service {
        name: SERVICE_NAME,
        mount: Box::new(move |routes| routes.add_service(grpc)),
        work: Work {
            label: "tasks",
            db,
            consumer: Some(Consumer {
                name: CONSUMER,
                bindings: bindings(BINDINGS),
                handler: Arc::new(Automation),
            }),
            listeners,
            jobs: vec![Job::new("reminder scheduler", move |stop| scheduler.run(stop.wait()))],
        },
    })
}
