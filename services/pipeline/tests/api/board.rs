//! GetBoard: counts, totals and weighted totals per currency, per stage.

use crm_kit::testing::{Backend, authed};
use crm_proto::{common::v1::Money, pipeline::v1 as pb};

use super::harness::{eur, suite};

async fn the_board_sums_each_stage_per_currency_and_weights_by_probability(backend: Backend) {
    let Some(mut s) = suite(backend, "board").await else {
        return;
    };
    let p = s.sales_pipeline().await;
    s.deal(&p, "A", 1000).await;
    s.deal(&p, "B", 500).await;
    let usd = pb::Deal {
        pipeline_id: p.id.clone(),
        title: "C".into(),
        amount: Some(Money {
            currency_code: "USD".into(),
            units: 10,
            nanos: 50_000_000,
        }),
        ..Default::default()
    };
    s.pipeline
        .create_deal(authed(
            &s.token,
            pb::CreateDealRequest {
                deal: Some(usd),
                request_id: String::new(),
            },
        ))
        .await
        .unwrap();
    let d = s.deal(&p, "D", 300).await;
    s.move_to(&d, &p.stages[1].id, "").await.unwrap();
    let no_amount = pb::Deal {
        pipeline_id: p.id.clone(),
        title: "E".into(),
        ..Default::default()
    };
    s.pipeline
        .create_deal(authed(
            &s.token,
            pb::CreateDealRequest {
                deal: Some(no_amount),
                request_id: String::new(),
            },
        ))
        .await
        .unwrap();

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
    let counts: Vec<i64> = board.columns.iter().map(|c| c.deal_count).collect();
    assert_eq!(counts, [4, 1, 0, 0]);
    let lead = &board.columns[0];
    assert_eq!(
        lead.total,
        [
            eur(1500).unwrap(),
            Money {
                currency_code: "USD".into(),
                units: 10,
                nanos: 50_000_000
            }
        ]
    );
    // 10% of 1500 EUR, and 10% of 10.05 USD = 1.005, rounded half up to 1.01.
    assert_eq!(
        lead.weighted_total,
        [
            eur(150).unwrap(),
            Money {
                currency_code: "USD".into(),
                units: 1,
                nanos: 10_000_000
            }
        ]
    );
    assert_eq!(
        lead.deals.iter().map(|d| d.title.as_str()).collect::<Vec<_>>(),
        ["A", "B", "C", "E"]
    );
    assert_eq!(board.columns[1].weighted_total, [eur(150).unwrap()]);

    let small = pb::GetBoardRequest {
        pipeline_id: p.id.clone(),
        deals_per_stage: 2,
        ..Default::default()
    };
    let small = s
        .pipeline
        .get_board(authed(&s.token, small))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (small.columns[0].deals.len(), small.columns[0].deal_count),
        (2, 4),
        "counts cover every deal"
    );
}

crm_kit::backend_tests!(the_board_sums_each_stage_per_currency_and_weights_by_probability);
