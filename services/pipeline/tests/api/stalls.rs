//! The stall scanner: an open deal that outstays its stage's rotting_days is
//! announced once per stay, also with two scanners at once.

use std::time::Duration;

use crm_kit::testing::{Backend, authed};
use crm_pipeline::stalls::Scanner;
use crm_proto::{common::v1::StageKind, events::v1::DealStalled, pipeline::v1 as pb};
use sea_orm::{ConnectionTrait, Statement};

use super::harness::{Suite, stage, suite};

/// Lead (rots after 3 days), Won, Lost.
async fn rotting_pipeline(s: &mut Suite) -> pb::Pipeline {
    let mut lead = stage("Lead", StageKind::Open, 10);
    lead.rotting_days = 3;
    let stages = vec![
        lead,
        stage("Proposal", StageKind::Open, 50),
        stage("Won", StageKind::Won, 100),
        stage("Lost", StageKind::Lost, 0),
    ];
    let req = pb::CreatePipelineRequest {
        pipeline: Some(pb::Pipeline {
            name: "Rotting".into(),
            stages,
            ..Default::default()
        }),
        request_id: String::new(),
    };
    s.pipeline
        .create_pipeline(authed(&s.token, req))
        .await
        .unwrap()
        .into_inner()
        .pipeline
        .unwrap()
}

/// Pretends `deal` entered its stage `days` ago.
async fn age(s: &Suite, deal: &pb::Deal, days: i64) {
    let then = crm_kit::time::now_micros() - days * 86_400 * 1_000_000;
    let sql = "UPDATE deals SET stage_entered_at = $1 WHERE id = $2";
    let stmt = Statement::from_sql_and_values(s.db.get_database_backend(), sql, [then.into(), deal.id.clone().into()]);
    s.db.execute_raw(stmt).await.unwrap();
}

async fn stalled(s: &Suite) -> Vec<DealStalled> {
    s.events()
        .await
        .iter()
        .filter(|e| e.r#type == "pipeline.deal.stalled")
        .map(|e| e.payload.as_ref().unwrap().to_msg().unwrap())
        .collect()
}

async fn a_deal_that_outstays_its_stage_is_announced_once_per_stay(backend: Backend) {
    let Some(mut s) = suite(backend, "stall_once").await else {
        return;
    };
    let p = rotting_pipeline(&mut s).await;
    let old = s.deal(&p, "Old", 1).await;
    let fresh = s.deal(&p, "Fresh", 1).await;
    age(&s, &old, 4).await;
    age(&s, &fresh, 2).await;
    let scanner = Scanner::new(s.db.clone(), Duration::from_secs(60));
    assert_eq!(scanner.scan_once().await.unwrap(), 1);
    assert_eq!(scanner.scan_once().await.unwrap(), 0, "a stay is announced once");
    let found = stalled(&s).await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].deal.as_ref().unwrap().id, old.id);
    assert_eq!(
        (found[0].stage.as_ref().unwrap().name.as_str(), found[0].rotting_days),
        ("Lead", 3)
    );

    // A new stay in a stage without rotting_days never stalls; back in Lead
    // and old again, it is a new stay and is announced again.
    s.move_to(&old, &p.stages[1].id, "").await.unwrap();
    age(&s, &old, 30).await;
    assert_eq!(scanner.scan_once().await.unwrap(), 0);
    s.move_to(&old, &p.stages[0].id, "").await.unwrap();
    age(&s, &old, 5).await;
    assert_eq!(scanner.scan_once().await.unwrap(), 1);
}

async fn two_scanners_announce_each_stalled_deal_once(backend: Backend) {
    let Some(mut s) = suite(backend, "stall_two_scanners").await else {
        return;
    };
    let p = rotting_pipeline(&mut s).await;
    for i in 0..20 {
        let d = s.deal(&p, &format!("D{i}"), 1).await;
        age(&s, &d, 10).await;
    }
    let (a, b) = (
        Scanner::new(s.db.clone(), Duration::from_secs(60)),
        Scanner::new(s.db.clone(), Duration::from_secs(60)),
    );
    let (na, nb) = tokio::join!(a.scan_once(), b.scan_once());
    assert_eq!(na.unwrap() + nb.unwrap(), 20);
    assert_eq!(stalled(&s).await.len(), 20);
}

crm_kit::backend_tests!(
    a_deal_that_outstays_its_stage_is_announced_once_per_stay,
    two_scanners_announce_each_stalled_deal_once,
);
