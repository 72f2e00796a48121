//! MoveDeal: the state machine, history, events, etags, and atomicity of
//! a move and its events.

use crm_kit::testing::{Backend, authed};
use crm_proto::{common::v1::DealStatus, pipeline::v1 as pb};
use prost_types::FieldMask;
use sea_orm::ConnectionTrait;
use tonic::Code;

use super::harness::{assert_bad_field, suite};

async fn a_deal_moves_to_lost_with_a_reason_and_reopens(backend: Backend) {
    let Some(mut s) = suite(backend, "move_lost_reopen").await else {
        return;
    };
    let p = s.sales_pipeline().await;
    let (demo, lost) = (p.stages[1].id.clone(), p.stages[3].id.clone());
    let d = s.deal(&p, "Acme", 100).await;
    let moved = s.move_to(&d, &demo, "").await.unwrap();
    assert_eq!(moved.deal.as_ref().unwrap().probability, 50);
    assert!(moved.transition.unwrap().time_in_from_stage.is_some());

    let err = s.move_to(&d, &lost, "").await.unwrap_err();
    assert_bad_field(&err, "lost_reason");
    let lost_deal = s
        .move_to(&d, &lost, "went with a competitor")
        .await
        .unwrap()
        .deal
        .unwrap();
    assert_eq!(lost_deal.status, DealStatus::Lost as i32);
    assert_eq!(lost_deal.lost_reason, "went with a competitor");
    assert!(lost_deal.closed_at.is_some());

    let reopened = s.move_to(&d, &demo, "").await.unwrap().deal.unwrap();
    assert_eq!(reopened.status, DealStatus::Open as i32);
    assert!(reopened.closed_at.is_none() && reopened.lost_reason.is_empty());

    let history = s
        .pipeline
        .list_deal_history(authed(
            &s.token,
            pb::ListDealHistoryRequest {
                deal_id: d.id.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let path: Vec<_> = history.transitions.iter().map(|t| t.to_stage_id.as_str()).collect();
    assert_eq!(path, [p.stages[0].id.as_str(), &demo, &lost, &demo], "oldest first");
    assert_eq!(history.transitions[2].lost_reason, "went with a competitor");
    assert!(history.transitions.iter().all(|t| t.actor_id == "ann"));

    let types = s.event_types().await;
    let tail: Vec<_> = types.iter().skip(2).map(String::as_str).collect();
    assert_eq!(
        tail,
        [
            "pipeline.deal.stage_changed",
            "pipeline.deal.stage_changed",
            "pipeline.deal.lost",
            "pipeline.deal.stage_changed",
            "pipeline.deal.reopened",
        ]
    );
    let versions: Vec<i64> = s
        .events()
        .await
        .iter()
        .filter(|e| e.aggregate_id == d.id)
        .map(|e| e.aggregate_version)
        .collect();
    assert_eq!(versions, [1, 2, 3, 3, 4, 4]);
}

async fn winning_a_deal_sets_closed_at_and_emits_won(backend: Backend) {
    let Some(mut s) = suite(backend, "move_won").await else {
        return;
    };
    let p = s.sales_pipeline().await;
    let d = s.deal(&p, "Acme", 100).await;
    let won = s.move_to(&d, &p.stages[2].id, "").await.unwrap().deal.unwrap();
    assert_eq!((won.status, won.probability), (DealStatus::Won as i32, 100));
    assert!(won.closed_at.is_some());
    assert!(s.event_types().await.contains(&"pipeline.deal.won".to_owned()));
}

async fn a_stale_etag_is_aborted_and_changes_nothing(backend: Backend) {
    let Some(mut s) = suite(backend, "stale_deal_etag").await else {
        return;
    };
    let p = s.sales_pipeline().await;
    let d = s.deal(&p, "Acme", 100).await;
    s.move_to(&d, &p.stages[1].id, "").await.unwrap();
    let req = pb::MoveDealRequest {
        deal_id: d.id.clone(),
        stage_id: p.stages[0].id.clone(),
        etag: d.etag.clone(),
        lost_reason: String::new(),
    };
    let err = s.pipeline.move_deal(authed(&s.token, req)).await.unwrap_err();
    assert_eq!(err.code(), Code::Aborted);
    let upd = pb::UpdateDealRequest {
        deal: Some(pb::Deal {
            id: d.id.clone(),
            title: "Renamed".into(),
            etag: d.etag.clone(),
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["title".into()],
        }),
    };
    assert_eq!(
        s.pipeline.update_deal(authed(&s.token, upd)).await.unwrap_err().code(),
        Code::Aborted
    );
    let now = s
        .pipeline
        .get_deal(authed(&s.token, pb::GetDealRequest { id: d.id.clone() }))
        .await
        .unwrap()
        .into_inner()
        .deal
        .unwrap();
    assert_eq!(
        (now.stage_id.as_str(), now.title.as_str()),
        (p.stages[1].id.as_str(), "Acme")
    );
}

/// A database trigger makes the second write of MoveDeal (the transition)
/// fail after the first (the deal row) succeeded: the deal must be
/// unchanged and no event written, and the caller sees no database text.
async fn a_move_that_fails_half_way_leaves_neither_change_nor_event(backend: Backend) {
    let Some(mut s) = suite(backend, "atomic_move").await else {
        return;
    };
    let p = s.sales_pipeline().await;
    let d = s.deal(&p, "Acme", 100).await;
    let before = s.event_types().await.len();
    let sql: &[&str] = match backend {
        Backend::Sqlite => &[
            "CREATE TRIGGER sabotage BEFORE INSERT ON deal_transitions WHEN NEW.from_stage_id IS NOT NULL \
             BEGIN SELECT RAISE(ABORT, 'sabotaged transition insert'); END",
        ],
        Backend::Postgres => &[
            "CREATE FUNCTION sabotage() RETURNS trigger AS $$ BEGIN \
             IF NEW.from_stage_id IS NOT NULL THEN RAISE EXCEPTION 'sabotaged transition insert'; END IF; \
             RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER sabotage BEFORE INSERT ON deal_transitions FOR EACH ROW EXECUTE FUNCTION sabotage()",
        ],
    };
    for stmt in sql {
        s.db.execute_unprepared(stmt).await.expect("install trigger");
    }
    let err = s.move_to(&d, &p.stages[1].id, "").await.unwrap_err();
    assert_eq!(err.code(), Code::Internal);
    assert!(
        !err.message().contains("sabotaged"),
        "database text leaked: {}",
        err.message()
    );
    let now = s
        .pipeline
        .get_deal(authed(&s.token, pb::GetDealRequest { id: d.id.clone() }))
        .await
        .unwrap()
        .into_inner()
        .deal
        .unwrap();
    assert_eq!((now.stage_id, now.etag), (d.stage_id.clone(), d.etag.clone()));
    assert_eq!(
        s.event_types().await.len(),
        before,
        "no event for a change that did not commit"
    );
}

/// More moves at once than the service has connections, for longer than
/// its cached reads live: none waits for a second connection while
/// holding one. (Before, a move read the field definitions inside its
/// transaction; each time they expired under load, every connection was
/// held by a transaction waiting for one more: UNAVAILABLE after 5 s.)
async fn more_moves_at_once_than_connections_all_succeed(backend: Backend) {
    let Some(mut s) = suite(backend, "move_many_at_once").await else {
        return;
    };
    let p = s.sales_pipeline().await;
    let mut deals = Vec::new();
    for i in 0..64 {
        deals.push(s.deal(&p, &format!("Deal {i}"), 100).await);
    }
    let stages = [p.stages[0].id.clone(), p.stages[1].id.clone()];
    let until = std::time::Instant::now() + crm_kit::cache::TTL * 5 / 2;
    let mut movers = tokio::task::JoinSet::new();
    for d in deals {
        let (mut client, token, stages) = (s.pipeline.clone(), s.token.clone(), stages.clone());
        movers.spawn(async move {
            let (mut etag, mut moves, mut failed) = (d.etag.clone(), 0, Vec::new());
            while std::time::Instant::now() < until {
                let req = pb::MoveDealRequest {
                    deal_id: d.id.clone(),
                    stage_id: stages[(moves + 1) % 2].clone(),
                    etag: etag.clone(),
                    lost_reason: String::new(),
                };
                match client.move_deal(authed(&token, req)).await {
                    Ok(r) => {
                        etag = r.into_inner().deal.unwrap().etag;
                        moves += 1;
                    }
                    Err(e) => {
                        failed.push(e.code());
                        break;
                    }
                }
            }
            (moves, failed)
        });
    }
    let results = movers.join_all().await;
    let moves: usize = results.iter().map(|r| r.0).sum();
    let failed: Vec<_> = results.iter().flat_map(|r| r.1.clone()).collect();
    assert!(
        failed.is_empty(),
        "{} movers failed after {moves} moves: {failed:?}",
        failed.len()
    );
    assert!(moves >= 64, "every deal moved at least once: {moves}");
}

crm_kit::backend_tests!(
    more_moves_at_once_than_connections_all_succeed,
    a_deal_moves_to_lost_with_a_reason_and_reopens,
    winning_a_deal_sets_closed_at_and_emits_won,
    a_stale_etag_is_aborted_and_changes_nothing,
    a_move_that_fails_half_way_leaves_neither_change_nor_event,
);
