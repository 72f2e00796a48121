//! What a service is made of, handed to whoever runs it: each service crate
//! has one `startup::build` that returns a [`Service`], and `crm serve`
//! (RabbitMQ), `crm up` (the in-process bus) and the test harnesses all run
//! that same value, each in its own way.
//!
//! A [`Service`] is its gRPC side (the tonic service to mount, behind its
//! token check) and its [`Work`]: the database whose outbox a relay
//! publishes, the bus consumer that applies events to it, the listeners that
//! every replica hears, and the background jobs (scanners, schedulers).

use std::{future::Future, sync::Arc};

use crm_proto::events::v1::EventEnvelope;
use futures_util::future::BoxFuture;
use sea_orm::DatabaseConnection;
use tokio::sync::watch;
use tonic::service::Routes;

use crate::{
    bus::{
        Handler, Publisher,
        amqp::{AmqpConfig, AmqpConsumer, AmqpPublisher},
        fanout,
        local::{LocalBus, Subscription},
        relay::Relay,
    },
    server::Serve,
};

/// One service, ready to run.
pub struct Service {
    /// The fully-qualified gRPC name, e.g. `crm.pipeline.v1.PipelineService`.
    pub name: &'static str,
    /// Adds the tonic service to a server's routes.
    pub mount: Box<dyn FnOnce(Routes) -> Routes + Send>,
    /// What runs beside the RPCs.
    pub work: Work,
}

/// What a service runs beside its RPCs.
pub struct Work {
    /// The short name of the service (`pipeline`), for metrics and logs.
    pub label: &'static str,
    /// Its database: readiness follows it, and its outbox is relayed.
    pub db: DatabaseConnection,
    /// The consumer that applies bus events to the database, if any.
    pub consumer: Option<Consumer>,
    /// What every replica hears (at most once, nothing stored).
    pub listeners: Vec<Listener>,
    /// Background jobs, each running until [`Stop`] fires.
    pub jobs: Vec<Job>,
}

/// A durable consumer: one queue per service, each event applied once.
#[derive(Clone)]
pub struct Consumer {
    /// Its name: the inbox key and the queue name.
    pub name: &'static str,
    /// The routing-key patterns it binds.
    pub bindings: Vec<String>,
    /// What it does with an event, in the event's transaction.
    pub handler: Arc<dyn Handler>,
}

/// A notice every replica hears: a queue of its own per replica.
#[derive(Clone)]
pub struct Listener {
    /// The routing-key patterns it binds.
    pub bindings: Vec<String>,
    /// Called with each event.
    pub on_event: Arc<dyn Fn(EventEnvelope) + Send + Sync>,
}

/// A background job: a future that runs until its [`Stop`] fires.
pub struct Job {
    /// What it is, for logs.
    pub name: &'static str,
    run: Box<dyn FnOnce(Stop) -> BoxFuture<'static, ()> + Send>,
}

impl Job {
    /// A job that runs `run(stop)`.
    pub fn new<F, Fut>(name: &'static str, run: F) -> Self
    where
        F: FnOnce(Stop) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Self {
            name,
            run: Box::new(move |stop| Box::pin(run(stop))),
        }
    }

    /// Starts the job on the runtime.
    pub fn spawn(self, stop: &Stop) -> tokio::task::JoinHandle<()> {
        tracing::debug!(job = self.name, "starting");
        tokio::spawn((self.run)(stop.clone()))
    }
}

/// The signal that stops background work; [`Stop::new`] gives its switch.
#[derive(Clone, Debug)]
pub struct Stop(watch::Receiver<bool>);

/// Flips [`Stop`]: every job holding one winds down.
#[derive(Debug)]
pub struct StopSwitch(watch::Sender<bool>);

impl Stop {
    /// A new signal and its switch.
    pub fn new() -> (StopSwitch, Self) {
        let (tx, rx) = watch::channel(false);
        (StopSwitch(tx), Self(rx))
    }

    /// Resolves once the switch flips (or is dropped).
    pub async fn wait(mut self) {
        let _ = self.0.wait_for(|stopped| *stopped).await;
    }
}

impl StopSwitch {
    /// Stops the background work.
    pub fn stop(&self) {
        let _ = self.0.send(true);
    }
}

impl Service {
    /// The gRPC side of `services` on one server, and their work.
    pub fn serve_all(services: Vec<Service>) -> (Serve, Vec<Work>) {
        let mut routes = Routes::default();
        let mut serve = Serve {
            routes: Routes::default(),
            service_names: Vec::with_capacity(services.len()),
            databases: Vec::with_capacity(services.len()),
        };
        let mut work = Vec::with_capacity(services.len());
        for s in services {
            routes = (s.mount)(routes);
            serve.service_names.push(s.name);
            serve.databases.push(s.work.db.clone());
            work.push(s.work);
        }
        serve.routes = routes;
        (serve, work)
    }
}

impl Work {
    /// Subscribes the consumer and the listeners to the in-process bus.
    pub fn subscribe(&self, bus: &LocalBus) {
        if let Some(c) = &self.consumer {
            bus.subscribe(Subscription {
                consumer: c.name.to_owned(),
                bindings: c.bindings.clone(),
                db: self.db.clone(),
                handler: c.handler.clone(),
            });
        }
        for l in &self.listeners {
            bus.listen(l.bindings.clone(), l.on_event.clone());
        }
    }

    /// Starts the background jobs.
    pub fn spawn_jobs(&mut self, stop: &Stop) {
        for job in self.jobs.drain(..) {
            job.spawn(stop);
        }
    }

    /// Starts a relay that publishes this service's outbox through `publisher`.
    pub fn spawn_relay(&self, db: DatabaseConnection, publisher: Arc<dyn Publisher>, stop: &Stop) {
        let relay = Relay::new(db, publisher).named(self.label);
        tokio::spawn(relay.run(stop.clone().wait()));
    }

    /// Runs this work against RabbitMQ: the consumer on the service's
    /// durable queue, each listener on a queue of its own, the jobs, and a
    /// relay on `relay_db` (connections of its own, so a burst of requests
    /// holding the service's pool does not hold its events back).
    pub fn start_on_broker(mut self, amqp: &AmqpConfig, relay_db: DatabaseConnection, stop: &Stop) {
        if let Some(c) = &self.consumer {
            let patterns: Vec<&str> = c.bindings.iter().map(String::as_str).collect();
            let consumer = AmqpConsumer::new(amqp.clone(), c.name, &patterns);
            tokio::spawn(consumer.run(self.db.clone(), c.handler.clone(), stop.clone().wait()));
        }
        for l in &self.listeners {
            let on_event = l.on_event.clone();
            let heard = move |envelope| on_event(envelope);
            tokio::spawn(fanout::run(
                amqp.clone(),
                l.bindings.clone(),
                heard,
                stop.clone().wait(),
            ));
        }
        self.spawn_jobs(stop);
        self.spawn_relay(relay_db, Arc::new(AmqpPublisher::new(amqp.clone())), stop);
    }
}

/// Runs `works` in one process on `bus`: every consumer and listener is
/// subscribed before any relay starts, so no event is published before its
/// consumers are there; then each service's jobs and its relay.
pub fn start_in_process(works: Vec<Work>, bus: &LocalBus, stop: &Stop) {
    for w in &works {
        w.subscribe(bus);
    }
    let publisher: Arc<dyn Publisher> = Arc::new(bus.clone());
    for mut w in works {
        w.spawn_jobs(stop);
        w.spawn_relay(w.db.clone(), publisher.clone(), stop);
    }
}

/// The bindings of a consumer or listener, as owned strings.
pub fn bindings(patterns: &[&str]) -> Vec<String> {
    patterns.iter().map(|b| (*b).to_owned()).collect()
}
