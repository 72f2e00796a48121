//! ImportDeals: deals with history from another CRM; bad rows reported by
//! index, the rest imported in batches, only import events published.

use crm_kit::testing::{Backend, authed};
use crm_proto::{common::v1::DealStatus, pipeline::v1 as pb};
use prost_types::Timestamp;

use super::harness::{eur, suite};

fn entry(stage_id: &str, seconds: i64) -> pb::HistoryEntry {
    pb::HistoryEntry {
        stage_id: stage_id.into(),
        entered_at: Some(Timestamp { seconds, nanos: 0 }),
    }
}

const DAY: i64 = 86_400;
const T0: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

async fn imported_history_lands_whole_and_bad_rows_are_reported_by_index(backend: Backend) {
    let Some(mut s) = suite(backend, "import").await else {
        return;
    };
    let p = s.sales_pipeline().await;
    let (lead, demo, won) = (&p.stages[0].id, &p.stages[1].id, &p.stages[2].id);
    let deal = |title: &str, history: Vec<pb::HistoryEntry>| pb::ImportDealsRequest {
        pipeline_id: p.id.clone(),
        title: title.into(),
        amount: eur(1000),
        owner_id: "olga".into(),
        history,
        ..Default::default()
    };
    let rows = vec![
        deal(
            "Won one",
            vec![entry(lead, T0), entry(demo, T0 + 3 * DAY), entry(won, T0 + 10 * DAY)],
        ),
        deal("Open one", vec![entry(lead, T0 + DAY)]),
        deal("From the future", vec![entry(lead, 4_000_000_000)]),
        pb::ImportDealsRequest {
            pipeline_id: crm_kit::validate::new_id().to_string(),
            ..deal("Nowhere", vec![entry(lead, T0)])
        },
        deal("Backwards", vec![entry(lead, T0 + DAY), entry(demo, T0)]),
    ];
    let reply = s
        .pipeline
        .import_deals(authed(&s.token, tokio_stream::iter(rows)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((reply.imported, reply.rejected), (2, 3));
    let errors: Vec<(i64, &str)> = reply.errors.iter().map(|e| (e.index, e.field.as_str())).collect();
    assert_eq!(
        errors,
        [
            (2, "history[0].entered_at"),
            (3, "pipeline_id"),
            (4, "history[1].entered_at")
        ]
    );

    let deals = s
        .pipeline
        .list_deals(authed(&s.token, pb::ListDealsRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .deals;
    let won_deal = deals.iter().find(|d| d.title == "Won one").unwrap();
    assert_eq!(
        (won_deal.status, won_deal.stage_id.as_str(), won_deal.owner_id.as_str()),
        (DealStatus::Won as i32, won.as_str(), "olga")
    );
    assert_eq!(won_deal.closed_at.as_ref().unwrap().seconds, T0 + 10 * DAY);
    assert_eq!(won_deal.create_time.as_ref().unwrap().seconds, T0);
    let history = s
        .pipeline
        .list_deal_history(authed(
            &s.token,
            pb::ListDealHistoryRequest {
                deal_id: won_deal.id.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .transitions;
    let spent: Vec<Option<i64>> = history
        .iter()
        .map(|t| t.time_in_from_stage.as_ref().map(|d| d.seconds))
        .collect();
    assert_eq!(spent, [None, Some(3 * DAY), Some(7 * DAY)]);

    let types = s.event_types().await;
    assert_eq!(types.iter().filter(|t| *t == "pipeline.deal.imported").count(), 2);
    assert!(
        !types
            .iter()
            .any(|t| t == "pipeline.deal.created" || t == "pipeline.deal.stage_changed"),
        "history fires no live events"
    );
}

async fn a_large_import_is_written_in_batches(backend: Backend) {
    let Some(mut s) = suite(backend, "import_batches").await else {
        return;
    };
    let p = s.sales_pipeline().await;
    let (lead, demo) = (p.stages[0].id.clone(), p.stages[1].id.clone());
    let rows: Vec<pb::ImportDealsRequest> = (0..1200)
        .map(|i| pb::ImportDealsRequest {
            pipeline_id: p.id.clone(),
            title: format!("Deal {i}"),
            history: vec![entry(&lead, T0 + i), entry(&demo, T0 + i + DAY)],
            ..Default::default()
        })
        .collect();
    let started = std::time::Instant::now();
    let reply = s
        .pipeline
        .import_deals(authed(&s.token, tokio_stream::iter(rows)))
        .await
        .unwrap()
        .into_inner();
    let _ = std::io::Write::write_fmt(
        &mut std::io::stderr(),
        format_args!("imported 1200 deals in {:?} ({backend:?})\n", started.elapsed()),
    );
    assert_eq!((reply.imported, reply.rejected), (1200, 0));
    let board = s
        .pipeline
        .get_board(authed(
            &s.token,
            pb::GetBoardRequest {
                pipeline_id: p.id.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(board.columns[1].deal_count, 1200);
}

crm_kit::backend_tests!(
    imported_history_lands_whole_and_bad_rows_are_reported_by_index,
    a_large_import_is_written_in_batches,
);
