//! ExportDeals: every deal of the tenant with its history, as a stream.

use crm_kit::testing::{Backend, authed, token};
use crm_proto::pipeline::v1 as pb;
use tokio_stream::StreamExt;

use super::harness::suite;

async fn export_streams_each_deal_with_its_history_and_only_the_callers(backend: Backend) {
    let Some(mut s) = suite(backend, "export").await else {
        return;
    };
    let p = s.sales_pipeline().await;
    let other = s.sales_pipeline().await;
    let a = s.deal(&p, "A", 1).await;
    s.deal(&p, "B", 2).await;
    s.deal(&other, "C", 3).await;
    s.move_to(&a, &p.stages[1].id, "").await.unwrap();
    s.move_to(&a, &p.stages[3].id, "no budget").await.unwrap();

    let all: Vec<pb::ExportDealsResponse> = s
        .pipeline
        .export_deals(authed(&s.token, pb::ExportDealsRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .map(Result::unwrap)
        .collect()
        .await;
    let summary: Vec<(String, usize)> = all
        .iter()
        .map(|m| (m.deal.as_ref().unwrap().title.clone(), m.history.len()))
        .collect();
    assert_eq!(summary, [("A".to_owned(), 3), ("B".to_owned(), 1), ("C".to_owned(), 1)]);
    let path: Vec<&str> = all[0].history.iter().map(|t| t.to_stage_id.as_str()).collect();
    assert_eq!(path, [p.stages[0].id.as_str(), &p.stages[1].id, &p.stages[3].id]);
    assert_eq!(all[0].history[2].lost_reason, "no budget");

    let one = pb::ExportDealsRequest {
        pipeline_id: other.id.clone(),
    };
    let only: Vec<_> = s
        .pipeline
        .export_deals(authed(&s.token, one))
        .await
        .unwrap()
        .into_inner()
        .collect::<Vec<_>>()
        .await;
    assert_eq!(only.len(), 1);

    let stranger = token("globex", "gus", &["admin"]);
    let theirs: Vec<_> = s
        .pipeline
        .export_deals(authed(&stranger, pb::ExportDealsRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .collect::<Vec<_>>()
        .await;
    assert!(theirs.is_empty(), "another tenant exports nothing of ours");
}

crm_kit::backend_tests!(export_streams_each_deal_with_its_history_and_only_the_callers);
