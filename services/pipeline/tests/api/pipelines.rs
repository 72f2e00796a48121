//! Pipelines: create, get, list, update stages, delete.

use crm_kit::testing::{Backend, authed};
use crm_proto::{common::v1::StageKind, pipeline::v1 as pb};
use prost_types::FieldMask;
use tonic::Code;

use super::harness::{assert_bad_field, stage, suite};

async fn a_created_pipeline_reads_back_with_its_stages_in_order(backend: Backend) {
    let Some(mut s) = suite(backend, "pipeline_reads_back").await else {
        return;
    };
    let created = s.sales_pipeline().await;
    let names: Vec<_> = created.stages.iter().map(|st| st.name.as_str()).collect();
    assert_eq!(names, ["Lead", "Demo", "Won", "Lost"]);
    assert!(created.stages.iter().all(|st| !st.id.is_empty()));
    let got = s
        .pipeline
        .get_pipeline(authed(&s.token, pb::GetPipelineRequest { id: created.id.clone() }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.pipeline.unwrap(), created);
    let list = s
        .pipeline
        .list_pipelines(authed(&s.token, pb::ListPipelinesRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.pipelines.len(), 1);
    assert_eq!(s.event_types().await, ["pipeline.pipeline.created"]);
}

async fn a_pipeline_without_a_won_stage_is_rejected_and_nothing_is_written(backend: Backend) {
    let Some(mut s) = suite(backend, "pipeline_without_won").await else {
        return;
    };
    let stages = vec![stage("Lead", StageKind::Open, 10), stage("Lost", StageKind::Lost, 0)];
    let req = pb::CreatePipelineRequest {
        pipeline: Some(pb::Pipeline {
            name: "X".into(),
            stages,
            ..Default::default()
        }),
        request_id: String::new(),
    };
    let err = s.pipeline.create_pipeline(authed(&s.token, req)).await.unwrap_err();
    assert_bad_field(&err, "pipeline.stages");
    let list = s
        .pipeline
        .list_pipelines(authed(&s.token, pb::ListPipelinesRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(list.pipelines.is_empty());
    assert!(s.event_types().await.is_empty());
}

async fn stages_can_be_renamed_added_reordered_and_reweighted(backend: Backend) {
    let Some(mut s) = suite(backend, "restage").await else {
        return;
    };
    let p = s.sales_pipeline().await;
    let mut stages = p.stages.clone();
    stages[0].name = "Qualified".into();
    stages[1].probability = 60;
    stages.swap(0, 1);
    stages.insert(2, stage("Proposal", StageKind::Open, 75));
    let req = pb::UpdatePipelineRequest {
        pipeline: Some(pb::Pipeline {
            id: p.id.clone(),
            name: "Sales EU".into(),
            stages,
            etag: p.etag.clone(),
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["name".into(), "stages".into()],
        }),
    };
    let updated = s
        .pipeline
        .update_pipeline(authed(&s.token, req))
        .await
        .unwrap()
        .into_inner()
        .pipeline
        .unwrap();
    let names: Vec<_> = updated
        .stages
        .iter()
        .map(|st| (st.name.as_str(), st.probability))
        .collect();
    assert_eq!(
        names,
        [
            ("Demo", 60),
            ("Qualified", 10),
            ("Proposal", 75),
            ("Won", 100),
            ("Lost", 0)
        ]
    );
    assert_eq!(updated.name, "Sales EU");
    assert_eq!(updated.stages[1].id, p.stages[0].id, "a renamed stage keeps its id");
    assert_ne!(updated.etag, p.etag);
}

async fn removing_a_stage_that_holds_deals_is_a_failed_precondition(backend: Backend) {
    let Some(mut s) = suite(backend, "remove_full_stage").await else {
        return;
    };
    let p = s.sales_pipeline().await;
    s.deal(&p, "Acme renewal", 100).await;
    let without_lead: Vec<_> = p.stages[1..].to_vec();
    let req = |stages: Vec<pb::Stage>| pb::UpdatePipelineRequest {
        pipeline: Some(pb::Pipeline {
            id: p.id.clone(),
            stages,
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["stages".into()],
        }),
    };
    let err = s
        .pipeline
        .update_pipeline(authed(&s.token, req(without_lead)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    let got = s
        .pipeline
        .get_pipeline(authed(&s.token, pb::GetPipelineRequest { id: p.id.clone() }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.pipeline.unwrap().stages.len(), 4, "nothing changed");

    let mut without_demo = p.stages.clone();
    without_demo.remove(1);
    let updated = s
        .pipeline
        .update_pipeline(authed(&s.token, req(without_demo)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.pipeline.unwrap().stages.len(), 3, "an empty stage can go");
}

async fn a_stale_pipeline_etag_is_aborted(backend: Backend) {
    let Some(mut s) = suite(backend, "stale_pipeline_etag").await else {
        return;
    };
    let p = s.sales_pipeline().await;
    let rename = |name: &str, etag: &str| pb::UpdatePipelineRequest {
        pipeline: Some(pb::Pipeline {
            id: p.id.clone(),
            name: name.into(),
            etag: etag.into(),
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["name".into()],
        }),
    };
    s.pipeline
        .update_pipeline(authed(&s.token, rename("First", &p.etag)))
        .await
        .unwrap();
    let err = s
        .pipeline
        .update_pipeline(authed(&s.token, rename("Second", &p.etag)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Aborted);
    let got = s
        .pipeline
        .get_pipeline(authed(&s.token, pb::GetPipelineRequest { id: p.id.clone() }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.pipeline.unwrap().name, "First");
}

async fn a_pipeline_with_deals_cannot_be_deleted_but_an_empty_one_can(backend: Backend) {
    let Some(mut s) = suite(backend, "delete_pipeline").await else {
        return;
    };
    let p = s.sales_pipeline().await;
    let d = s.deal(&p, "Big one", 5).await;
    let del = pb::DeletePipelineRequest {
        id: p.id.clone(),
        etag: String::new(),
    };
    let err = s
        .pipeline
        .delete_pipeline(authed(&s.token, del.clone()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    s.pipeline
        .delete_deal(authed(
            &s.token,
            pb::DeleteDealRequest {
                id: d.id,
                etag: String::new(),
            },
        ))
        .await
        .unwrap();
    s.pipeline.delete_pipeline(authed(&s.token, del)).await.unwrap();
    let err = s
        .pipeline
        .get_pipeline(authed(&s.token, pb::GetPipelineRequest { id: p.id }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

async fn the_callers_trace_context_is_written_into_the_event(backend: Backend) {
    let Some(mut s) = suite(backend, "trace_into_event").await else {
        return;
    };
    let traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let req = pb::CreatePipelineRequest {
        pipeline: Some(pb::Pipeline {
            name: "Traced".into(),
            stages: super::harness::sales_stages(),
            ..Default::default()
        }),
        request_id: String::new(),
    };
    let mut traced = authed(&s.token, req.clone());
    traced
        .metadata_mut()
        .insert("traceparent", traceparent.parse().unwrap());
    s.pipeline.create_pipeline(traced).await.unwrap();
    s.pipeline.create_pipeline(authed(&s.token, req)).await.unwrap();
    let events = s.events().await;
    assert_eq!(events[0].trace_context.as_ref().unwrap().traceparent, traceparent);
    let fresh = &events[1].trace_context.as_ref().unwrap().traceparent;
    assert!(
        fresh.starts_with("00-") && fresh != traceparent,
        "an untraced call starts a trace: {fresh}"
    );
}

crm_kit::backend_tests!(
    the_callers_trace_context_is_written_into_the_event,
    a_created_pipeline_reads_back_with_its_stages_in_order,
    a_pipeline_without_a_won_stage_is_rejected_and_nothing_is_written,
    stages_can_be_renamed_added_reordered_and_reweighted,
    removing_a_stage_that_holds_deals_is_a_failed_precondition,
    a_stale_pipeline_etag_is_aborted,
    a_pipeline_with_deals_cannot_be_deleted_but_an_empty_one_can,
);
