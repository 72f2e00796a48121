//! Metrics in `crm up`: a deal created and moved shows on `GET /metrics` as
//! RPCs (at the gateway and at the pipeline service), events published by
//! the pipeline's outbox relay and consumed by tasks and analytics, an
//! outbox drained back to 0, and the database pools.
//!
//! The registry is the test process's: other tests move the same series
//! at the same time, so every assertion is on a delta (at least) or on a
//! label this test alone uses. On the topology (`CRM_TOPOLOGY_METRICS`) it
//! scrapes every replica's endpoint instead and adds up what they count.

use std::{net::SocketAddr, time::Duration};

use crm_kit::testing::{Backend, authed, has_sample, sample, scrape, token};
use crm_proto::pipeline::v1::{self as pb, pipeline_service_client::PipelineServiceClient};

use super::harness::{create_deal, sales_pipeline, up};

const MOVE: &str = "/crm.pipeline.v1.PipelineService/MoveDeal";

/// Every endpoint's exposition, one after the other ([`sample`] adds up
/// the series of the same name and labels).
async fn scrape_all(addrs: &[SocketAddr]) -> String {
    let mut text = String::new();
    for addr in addrs {
        text.push_str(&scrape(*addr).await);
    }
    text
}

/// Scrapes until `done` holds of the exposition (up to 20 s).
async fn scrape_until(addrs: &[SocketAddr], what: &str, done: impl Fn(&str) -> bool) -> String {
    let mut text = String::new();
    for _ in 0..200 {
        text = scrape_all(addrs).await;
        if done(&text) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never saw {what}:\n{text}");
}

async fn a_moved_deal_shows_in_the_rpc_event_outbox_and_pool_metrics(backend: Backend) {
    let Some(suite) = up(backend, "metrics").await else {
        return;
    };
    let metrics: Vec<SocketAddr> = match std::env::var("CRM_TOPOLOGY_METRICS") {
        Ok(list) => list.split(',').map(|a| a.parse().unwrap()).collect(),
        Err(_) => vec![
            crm_kit::metrics::endpoint::spawn(Some("127.0.0.1:0".parse().unwrap()))
                .await
                .unwrap()
                .unwrap(),
        ],
    };
    let admin = token("acme", "ann", &["admin"]);
    let mut pipeline = PipelineServiceClient::new(suite.channel.clone());
    let p = sales_pipeline(&mut pipeline, &admin).await;

    let published = |t: &str, event_type| {
        let labels = [("service", "pipeline"), ("event_type", event_type)];
        sample(t, "crm_events_published_total", &labels)
    };
    let consumed = |t: &str, service| {
        let labels = [("service", service), ("event_type", "pipeline.deal.stage_changed")];
        sample(t, "crm_events_consumed_total", &labels)
    };
    let moves = |t: &str, service, code| {
        let labels = [("service", service), ("method", MOVE), ("code", code)];
        sample(t, "crm_rpc_requests_total", &labels)
    };
    let before = scrape_all(&metrics).await;

    let deal = pb::Deal {
        pipeline_id: p.id.clone(),
        title: "Metered".into(),
        ..Default::default()
    };
    let deal = create_deal(&mut pipeline, &admin, deal).await;
    let mv = |deal_id: &str| pb::MoveDealRequest {
        deal_id: deal_id.into(),
        stage_id: p.stages[1].id.clone(),
        etag: String::new(),
        lost_reason: String::new(),
    };
    pipeline.move_deal(authed(&admin, mv(&deal.id))).await.unwrap();
    let missing = pipeline
        .move_deal(authed(&admin, mv("0190f1a2-0000-7000-8000-000000000000")))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);

    let text = scrape_until(&metrics, "the move's events published and consumed", |t| {
        published(t, "pipeline.deal.created") > published(&before, "pipeline.deal.created")
            && published(t, "pipeline.deal.stage_changed") > published(&before, "pipeline.deal.stage_changed")
            && consumed(t, "tasks") > consumed(&before, "tasks")
            && consumed(t, "analytics") > consumed(&before, "analytics")
    })
    .await;
    for (service, code) in [
        ("gateway", "OK"),
        ("pipeline", "OK"),
        ("gateway", "NOT_FOUND"),
        ("pipeline", "NOT_FOUND"),
    ] {
        assert!(
            moves(&text, service, code) > moves(&before, service, code),
            "MoveDeal {code} at {service} was counted:\n{text}"
        );
    }
    assert!(
        sample(
            &text,
            "crm_rpc_duration_seconds_count",
            &[("service", "pipeline"), ("method", MOVE)]
        ) >= 2.0,
        "the latency histogram saw the moves"
    );
    assert!(
        has_sample(&text, "crm_consumer_lag_seconds_count", &[("service", "tasks")]),
        "the consumer lag is observed"
    );
    for service in ["contacts", "pipeline", "tasks", "analytics"] {
        for state in ["idle", "in_use"] {
            let labels = [("service", service), ("state", state)];
            assert!(
                has_sample(&text, "crm_db_pool_connections", &labels),
                "{service} pool {state}"
            );
        }
    }
    // The relay samples its backlog every few seconds; once the events are
    // out it reads 0 (other suites share the label, so wait for a 0).
    let pipeline_outbox = [("service", "pipeline")];
    let text = scrape_until(&metrics, "the pipeline outbox drained", |t| {
        has_sample(t, "crm_outbox_backlog", &pipeline_outbox)
            && sample(t, "crm_outbox_backlog", &pipeline_outbox) == 0.0
    })
    .await;
    assert!(has_sample(&text, "crm_outbox_oldest_age_seconds", &pipeline_outbox));
}

crm_kit::backend_tests!(a_moved_deal_shows_in_the_rpc_event_outbox_and_pool_metrics);
