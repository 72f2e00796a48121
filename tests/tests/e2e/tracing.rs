//! One trace from the gateway to the task a rule creates. Contacts,
//! pipeline, tasks and the gateway each run in a process of their own (this
//! test binary, started again to run one service as `crm serve` does), on
//! PostgreSQL and RabbitMQ, exporting spans over OTLP to a receiver that
//! this test serves. A deal moved through the gateway into a stage with a
//! rule gives spans of the gateway, the pipeline's MoveDeal, the outbox
//! relay's publish and the tasks consumer, all of one trace; creating the
//! deal gives one trace through the pipeline to contacts, which it asks
//! whether the deal's contact exists.

use std::{
    collections::HashMap,
    io::{BufRead, BufReader, Write},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use clap::ValueEnum;
use crm::{ServiceConfig, ServiceName};
use crm_kit::{
    bus::amqp::AmqpConfig,
    testing::{Backend, TestDatabase, authed, token, wait_queue},
};
use crm_proto::{
    contacts::v1::{self as cpb, contacts_service_client::ContactsServiceClient},
    pipeline::v1::{self as pb, pipeline_service_client::PipelineServiceClient},
    tasks::v1::tasks_service_client::TasksServiceClient,
};
use opentelemetry_proto::tonic::{
    collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
        trace_service_server::{TraceService, TraceServiceServer},
    },
    common::v1::{KeyValue, any_value::Value},
};
use tokio::net::TcpListener;

use super::harness::{create_deal, move_to, proposal_rule, sales_pipeline, wait_serving, wait_tasks};

/// Set in a service process this test starts: the service it runs.
const CHILD: &str = "CRM_TRACE_TEST_SERVICE";
/// What a service process prints once it listens, before its URL.
const LISTENING: &str = "trace-test service listening at ";
/// This module's path in the test binary (to run the child "test" alone).
const CHILD_TEST: &str = "tracing::serves_one_service_when_the_trace_test_starts_this_binary";

/// One span as the receiver got it.
#[derive(Clone, Debug)]
struct Received {
    service: String,
    name: String,
    trace_id: String,
    span_id: String,
    parent: String,
    start: u64,
}

/// An OTLP/gRPC trace receiver that keeps every span it is sent.
#[derive(Clone, Default)]
struct Receiver(Arc<Mutex<Vec<Received>>>);

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut kept = self.0.lock().unwrap();
        for resource_spans in request.into_inner().resource_spans {
            let attributes = resource_spans.resource.map(|r| r.attributes).unwrap_or_default();
            let service = string_attribute(&attributes, "service.name");
            for span in resource_spans.scope_spans.into_iter().flat_map(|s| s.spans) {
                kept.push(Received {
                    service: service.clone(),
                    name: span.name,
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent: hex(&span.parent_span_id),
                    start: span.start_time_unix_nano,
                });
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn string_attribute(attributes: &[KeyValue], key: &str) -> String {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
        .map(|v| match v {
            Value::StringValue(s) => s.clone(),
            other => format!("{other:?}"),
        })
        .unwrap_or_default()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Serves the receiver on a loopback port; returns its URL and what it keeps.
async fn receiver() -> (String, Receiver) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = crm::local_url(listener.local_addr().unwrap());
    let receiver = Receiver::default();
    let service = TraceServiceServer::new(receiver.clone());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    (url, receiver)
}

/// The service processes; each stops (and exports its last spans) when its
/// stdin closes, and is killed if it has not within a few seconds.
#[derive(Default)]
struct Processes(Vec<Child>);

impl Processes {
    /// Starts `service` with `env` and returns its URL once it listens.
    async fn start(&mut self, service: &str, env: Vec<(String, String)>) -> String {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([CHILD_TEST, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD, service)
            .envs(env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        self.0.push(child);
        let (tx, rx) = std::sync::mpsc::channel();
        let name = service.to_owned();
        // Reads the URL, then keeps draining (and echoing) the child's output.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // libtest's "test … " may stand before it on the line.
                match line.split_once(LISTENING) {
                    Some((_, url)) => drop(tx.send(url.to_owned())),
                    None => eprintln!("[{name}] {line}"),
                }
            }
        });
        let url = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(60)))
            .await
            .unwrap()
            .unwrap_or_else(|_| panic!("{service} did not start"));
        wait_serving(&url).await;
        url
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            drop(child.stdin.take());
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for child in &mut self.0 {
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Not a test on its own: the body of a service process that
/// [`one_trace_runs_from_the_gateway_through_the_relay_to_the_tasks_consumer`]
/// starts (it returns at once otherwise).
#[test]
fn serves_one_service_when_the_trace_test_starts_this_binary() {
    let Ok(service) = std::env::var(CHILD) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(serve_child(&service));
}

async fn serve_child(service: &str) {
    let name = ServiceName::from_str(service, true).unwrap();
    let telemetry = crm_kit::telemetry::init(false, &format!("crm-{service}"));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("{LISTENING}{}", crm::local_url(listener.local_addr().unwrap()));
    std::io::stdout().flush().unwrap();
    let var = |k: &str| std::env::var(format!("CRM_TRACE_TEST_{k}")).unwrap_or_default();
    let config = ServiceConfig {
        database_url: var("DATABASE_URL"),
        contacts_url: var("CONTACTS_URL"),
        pipeline_url: var("PIPELINE_URL"),
        tasks_url: var("TASKS_URL"),
        analytics_url: var("ANALYTICS_URL"),
        amqp: Some(AmqpConfig {
            url: var("AMQP_URL"),
            exchange: var("EXCHANGE"),
            queue_prefix: var("QUEUE_PREFIX"),
        }),
        auth: crm_kit::testing::auth_config(),
        limits: crm_gateway::limits::LimitConfig::default(),
    };
    let stdin_closed = async {
        let _ = tokio::task::spawn_blocking(|| std::io::stdin().read_line(&mut String::new())).await;
    };
    crm::run_service(name, listener, config, stdin_closed).await.unwrap();
    telemetry.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_runs_from_the_gateway_through_the_relay_to_the_tasks_consumer() {
    let test = "trace_across_processes";
    let Some(broker) = crate::harness::suite_broker(test) else {
        return;
    };
    let Some(contacts_db) = TestDatabase::create(Backend::Postgres, "trace_contacts").await else {
        return;
    };
    let Some(pipeline_db) = TestDatabase::create(Backend::Postgres, "trace_pipeline").await else {
        return;
    };
    let Some(tasks_db) = TestDatabase::create(Backend::Postgres, "trace_tasks").await else {
        return;
    };
    // Registers the consumers' queues with the test broker, so they are deleted after.
    drop(broker.consumer(crm_tasks::automation::CONSUMER, &[]));
    drop(broker.consumer(crm_contacts::CONSUMER, &[]));
    let (otlp_url, receiver) = receiver().await;

    let mut processes = Processes::default();
    let mut urls: HashMap<&str, String> = HashMap::new();
    // Nothing answers here: the gateway needs an analytics URL, the test no analytics.
    urls.insert("ANALYTICS_URL", "http://127.0.0.1:9".to_owned());
    for (service, db) in [
        ("contacts", Some(&contacts_db)),
        ("pipeline", Some(&pipeline_db)),
        ("tasks", Some(&tasks_db)),
        ("gateway", None),
    ] {
        let mut env: Vec<(String, String)> = urls
            .iter()
            .map(|(k, v)| (format!("CRM_TRACE_TEST_{k}"), v.clone()))
            .collect();
        env.extend([
            (
                "CRM_TRACE_TEST_DATABASE_URL".into(),
                db.map(|d| d.url.clone()).unwrap_or_default(),
            ),
            ("CRM_TRACE_TEST_AMQP_URL".into(), broker.config.url.clone()),
            ("CRM_TRACE_TEST_EXCHANGE".into(), broker.config.exchange.clone()),
            ("CRM_TRACE_TEST_QUEUE_PREFIX".into(), broker.config.queue_prefix.clone()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT".into(), otlp_url.clone()),
            ("OTEL_SERVICE_NAME".into(), format!("crm-{service}")),
            // Export within a tenth of a second, not the default five.
            ("OTEL_BSP_SCHEDULE_DELAY".into(), "100".into()),
            ("RUST_LOG".into(), "warn".into()),
        ]);
        let url = processes.start(service, env).await;
        urls.insert(
            match service {
                "contacts" => "CONTACTS_URL",
                "pipeline" => "PIPELINE_URL",
                "tasks" => "TASKS_URL",
                _ => "GATEWAY_URL",
            },
            url,
        );
    }
    wait_queue(
        &broker.config.url,
        &broker.config.queue(crm_tasks::automation::CONSUMER),
    )
    .await;

    // Every call through the gateway.
    let gateway = wait_serving(&urls["GATEWAY_URL"]).await;
    let admin = token("acme", "ann", &["admin"]);
    let mut pipeline = PipelineServiceClient::new(gateway.clone());
    let mut tasks = TasksServiceClient::new(gateway.clone());
    let p = sales_pipeline(&mut pipeline, &admin).await;
    proposal_rule(&mut tasks, &admin, &p.id, &p.stages[1].id).await;
    let contact = cpb::CreateContactRequest {
        contact: Some(cpb::Contact {
            first_name: "Bill".into(),
            last_name: "Lumbergh".into(),
            ..Default::default()
        }),
        request_id: String::new(),
    };
    let mut contacts = ContactsServiceClient::new(gateway);
    let contact = contacts
        .create_contact(authed(&admin, contact))
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap();
    // The pipeline asks contacts whether the deal's contact exists.
    let deal = pb::Deal {
        pipeline_id: p.id.clone(),
        title: "Initech renewal".into(),
        contact_id: contact.id,
        ..Default::default()
    };
    let deal = create_deal(&mut pipeline, &admin, deal).await;
    move_to(&mut pipeline, &admin, &deal.id, &p.stages[1].id).await;
    assert_eq!(
        wait_tasks(&mut tasks, &admin, &deal.id, 1).await.len(),
        1,
        "the rule made its task"
    );

    let moved = [
        ("crm-gateway", "gateway crm.pipeline.v1.PipelineService/MoveDeal"),
        ("crm-pipeline", "crm.pipeline.v1.PipelineService/MoveDeal"),
        ("crm-pipeline", "publish pipeline.deal.stage_changed"),
        ("crm-tasks", "process pipeline.deal.stage_changed"),
    ];
    let trace = wait_trace(&receiver, &moved).await;
    print_trace("MoveDeal", &trace);
    assert_spans(&trace, &moved);
    let created = [
        ("crm-gateway", "gateway crm.pipeline.v1.PipelineService/CreateDeal"),
        ("crm-pipeline", "crm.pipeline.v1.PipelineService/CreateDeal"),
        ("crm-contacts", "crm.contacts.v1.ContactsService/GetContact"),
    ];
    let trace = wait_trace(&receiver, &created).await;
    print_trace("CreateDeal", &trace);
    assert_spans(&trace, &created);
}

fn print_trace(call: &str, trace: &[Received]) {
    println!("the trace of {call}, as the receiver got it (service, span, trace id, span id, parent span id):");
    for s in trace {
        println!(
            "  {:<13} {:<52} {} {} {}",
            s.service,
            s.name,
            s.trace_id,
            s.span_id,
            if s.parent.is_empty() { "-" } else { &s.parent }
        );
    }
}

/// Every `wanted` span is in `trace`, and the first two (the gateway's and
/// the service's) are parent and child.
fn assert_spans(trace: &[Received], wanted: &[(&str, &str)]) {
    for (service, name) in wanted {
        assert!(
            trace.iter().any(|s| s.service == *service && s.name == *name),
            "no span {name:?} of {service} in the trace of {:?}: {trace:#?}",
            wanted[0].1
        );
    }
    let span = |name: &str| trace.iter().find(|s| s.name == name).unwrap();
    assert_eq!(
        span(wanted[1].1).parent,
        span(wanted[0].1).span_id,
        "the service's span is the gateway's child"
    );
}

/// The spans of the trace of the first `wanted[0]` span, once it holds every
/// wanted (service, span name) or 20 s have passed; oldest first.
async fn wait_trace(receiver: &Receiver, wanted: &[(&str, &str)]) -> Vec<Received> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let spans = receiver.0.lock().unwrap().clone();
        let root = spans
            .iter()
            .find(|s| (s.service.as_str(), s.name.as_str()) == wanted[0]);
        let mut trace: Vec<Received> = match root {
            Some(root) => spans.iter().filter(|s| s.trace_id == root.trace_id).cloned().collect(),
            None => Vec::new(),
        };
        let complete = wanted
            .iter()
            .all(|(service, name)| trace.iter().any(|s| s.service == *service && s.name == *name));
        if complete || Instant::now() > deadline {
            trace.sort_by_key(|s| s.start);
            if trace.is_empty() {
                eprintln!("spans received: {spans:#?}");
            }
            return trace;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
