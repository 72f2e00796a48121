//! The hand-worked answers to each RPC over the history of `history.rs`,
//! as functions so the same numbers can be checked after any delivery.

use crm_kit::{testing::authed, time::now_micros};
use crm_proto::{analytics::v1 as pb, common::v1::Date};

use super::{
    harness::{Suite, assert_rate, money, period, token_of},
    history::{D, D3, D4, LEAD, P, QUAL, T0},
};

fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

/// Every report of the hand-made history, as written by hand below.
pub async fn all(s: &mut Suite, tenant: &str) {
    funnel(s, tenant).await;
    durations(s, tenant).await;
    bottlenecks(s, tenant).await;
    velocity(s, tenant).await;
    owners(s, tenant).await;
    forecast(s, tenant).await;
}

/// GetFunnel over [T0, T0+10D).
pub async fn funnel(s: &mut Suite, tenant: &str) {
    let req = pb::GetFunnelRequest {
        pipeline_id: P.into(),
        owner_id: String::new(),
        period: period(T0, T0 + 10 * D),
        ..Default::default()
    };
    let f = s
        .client
        .get_funnel(authed(&token_of(tenant), req))
        .await
        .unwrap()
        .into_inner();
    let names: Vec<_> = f.stages.iter().map(|s| s.stage_name.as_str()).collect();
    assert_eq!(names, ["Lead", "Qualified"], "only the OPEN stages, in board order");
    // Lead: stays begun in the period by d1 @0, d2 @1D, d3 @3D, d5 @8D;
    // d1 and d3 went on to Qualified, d2 to Lost; d5 is still there.
    let lead = &f.stages[0];
    assert_eq!(
        (lead.stage_id.as_str(), lead.entered, lead.advanced, lead.lost),
        (LEAD, 4, 2, 1)
    );
    assert_rate(lead.conversion_rate, 0.5);
    assert_eq!(lead.current_count, 1);
    assert_eq!(lead.current_amount, [money("EUR", 800, 0)]);
    // Qualified: d1 @2D (then Won), d4 @6D, d3 @7D.
    let qual = &f.stages[1];
    assert_eq!(
        (qual.stage_id.as_str(), qual.entered, qual.advanced, qual.lost),
        (QUAL, 3, 1, 0)
    );
    assert_rate(qual.conversion_rate, 1.0 / 3.0);
    assert_eq!(qual.current_count, 2);
    assert_eq!(qual.current_amount, [money("EUR", 500, 0), money("USD", 300, 0)]);
    // d1 won @6D, d2 lost @4D.
    assert_eq!((f.won, f.lost), (1, 1));
    assert_rate(f.win_rate, 0.5);
}

/// GetStageDurations over [T0, T0+10D).
pub async fn durations(s: &mut Suite, tenant: &str) {
    let req = pb::GetStageDurationsRequest {
        pipeline_id: P.into(),
        owner_id: String::new(),
        period: period(T0, T0 + 10 * D),
    };
    let before = now_micros() / 1_000_000;
    let r = s
        .client
        .get_stage_durations(authed(&token_of(tenant), req))
        .await
        .unwrap()
        .into_inner();
    let after = now_micros() / 1_000_000 + 1;
    let names: Vec<_> = r.stages.iter().map(|s| s.stage_name.as_str()).collect();
    assert_eq!(names, ["Lead", "Qualified", "Won", "Lost"]);
    let (t0, day) = (T0 / 1_000_000, D / 1_000_000);
    // Lead: ended stays of 2D (d1), 3D (d2), 4D (d3): mean 3D, p50 at rank
    // ceil(1.5) = 2 -> 3D, p90 at rank ceil(2.7) = 3 -> 4D; d5 open since 8D.
    let lead = &r.stages[0];
    assert_eq!((lead.count, lead.p50_seconds, lead.p90_seconds), (3, 3 * day, 4 * day));
    assert_rate(lead.mean_seconds, (3 * day) as f64);
    assert_eq!(lead.open_count, 1);
    let age = lead.open_max_age_seconds;
    assert!((before - t0 - 8 * day..=after - t0 - 8 * day).contains(&age), "{age}");
    // Qualified: d1's 4D stay ended @6D; d4 (since 6D) and d3 (since 7D) are open.
    let qual = &r.stages[1];
    assert_eq!((qual.count, qual.p50_seconds, qual.p90_seconds), (1, 4 * day, 4 * day));
    assert_rate(qual.mean_seconds, (4 * day) as f64);
    assert_eq!(qual.open_count, 2);
    let max = qual.open_max_age_seconds;
    assert!((before - t0 - 6 * day..=after - t0 - 6 * day).contains(&max), "{max}");
    let mean = qual.open_mean_age_seconds;
    let (lo, hi) = (
        (before - t0) as f64 - 6.5 * day as f64,
        (after - t0) as f64 - 6.5 * day as f64,
    );
    assert!(lo <= mean && mean <= hi, "{mean}");
    // Won and Lost: nothing left them; d1 and d2 are still in them.
    for (i, since) in [(2, 6), (3, 4)] {
        let st = &r.stages[i];
        assert_eq!((st.count, st.p50_seconds, st.open_count), (0, 0, 1));
        let age = st.open_max_age_seconds;
        assert!((before - t0 - since * day..=after - t0 - since * day).contains(&age));
    }
}

/// GetBottlenecks over [T0, T0+10D).
pub async fn bottlenecks(s: &mut Suite, tenant: &str) {
    let req = pb::GetBottlenecksRequest {
        pipeline_id: P.into(),
        owner_id: String::new(),
        period: period(T0, T0 + 10 * D),
        min_entries: 3,
        stalled_limit: 0,
    };
    let r = s
        .client
        .get_bottlenecks(authed(&token_of(tenant), req.clone()))
        .await
        .unwrap()
        .into_inner();
    // Qualified converts 1/3 and waits 4D; Lead converts 1/2 and waits 3D.
    let ids = |ranks: &[pb::StageRank]| ranks.iter().map(|r| r.stage_id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&r.by_conversion), [QUAL, LEAD]);
    assert_eq!(ids(&r.by_time_in_stage), [QUAL, LEAD]);
    let q = &r.by_conversion[0];
    assert_eq!(
        (q.stage_name.as_str(), q.entered, q.p50_seconds),
        ("Qualified", 3, 345_600)
    );
    assert_rate(q.conversion_rate, 1.0 / 3.0);
    assert_eq!(
        (r.by_time_in_stage[1].entered, r.by_time_in_stage[1].p50_seconds),
        (4, 259_200)
    );
    // Qualified rots after 10 days: d4 (since 6D) and d3 (since 7D) are far past it.
    let stalled: Vec<_> = r
        .stalled_deals
        .iter()
        .map(|d| (d.deal_id.as_str(), d.owner_id.as_str()))
        .collect();
    assert_eq!(stalled, [(D4, "bob"), (D3, "ann")]);
    assert_eq!(r.stalled_total, 2);
    let d4 = &r.stalled_deals[0];
    assert_eq!(
        (d4.title.as_str(), d4.stage_id.as_str(), d4.rotting_days),
        ("Deal d4", QUAL, 10)
    );
    let days = (now_micros() - T0 - 6 * D) as f64 / D as f64;
    assert!((d4.days_in_stage - days).abs() < 0.01, "{}", d4.days_in_stage);

    // A limit keeps the longest stalled; the total still counts them all.
    let one = pb::GetBottlenecksRequest {
        stalled_limit: 1,
        ..req.clone()
    };
    let r = s
        .client
        .get_bottlenecks(authed(&token_of(tenant), one))
        .await
        .unwrap()
        .into_inner();
    let stalled: Vec<_> = r.stalled_deals.iter().map(|d| d.deal_id.as_str()).collect();
    assert_eq!((stalled.as_slice(), r.stalled_total), ([D4].as_slice(), 2));

    // By default a stage needs 5 entries to be ranked by conversion.
    let req = pb::GetBottlenecksRequest { min_entries: 0, ..req };
    let r = s
        .client
        .get_bottlenecks(authed(&token_of(tenant), req))
        .await
        .unwrap()
        .into_inner();
    assert!(r.by_conversion.is_empty());
    assert_eq!(r.by_time_in_stage.len(), 2);
}

/// GetVelocity over everything closed (a ten-year lookback).
pub async fn velocity(s: &mut Suite, tenant: &str) {
    let req = pb::GetVelocityRequest {
        pipeline_id: P.into(),
        owner_id: String::new(),
        lookback_days: 3650,
    };
    let r = s
        .client
        .get_velocity(authed(&token_of(tenant), req))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.velocity.len(), 2);
    // EUR: d1 won (1000, created @0, closed @6D), d2 lost; d3 and d5 open:
    // 2 x 0.5 x 1000 / 6 = 166.666... EUR a day.
    let eur = &r.velocity[0];
    assert_eq!((eur.currency_code.as_str(), eur.open_deal_count), ("EUR", 2));
    assert_rate(eur.win_rate, 0.5);
    assert_eq!(eur.average_won_amount, Some(money("EUR", 1000, 0)));
    assert_rate(eur.average_cycle_days, 6.0);
    assert_eq!(eur.velocity_per_day, Some(money("EUR", 166, 670_000_000)));
    // USD: only d4, open; nothing closed.
    let usd = &r.velocity[1];
    assert_eq!((usd.currency_code.as_str(), usd.open_deal_count), ("USD", 1));
    assert_rate(usd.win_rate, 0.0);
    assert_eq!(usd.average_won_amount, Some(money("USD", 0, 0)));
    assert_eq!(usd.velocity_per_day, Some(money("USD", 0, 0)));
}

/// GetOwnerPerformance over [T0, T0+10D).
pub async fn owners(s: &mut Suite, tenant: &str) {
    let req = pb::GetOwnerPerformanceRequest {
        pipeline_id: P.into(),
        owner_id: String::new(),
        period: period(T0, T0 + 10 * D),
        ..Default::default()
    };
    let r = s
        .client
        .get_owner_performance(authed(&token_of(tenant), req))
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<_> = r.owners.iter().map(|o| o.owner_id.as_str()).collect();
    assert_eq!(ids, ["ann", "bob"]);
    // ann: d1 won (1000 EUR); d3 (500 in Qualified, 50 %) and d5 (800 in
    // Lead, 10 %) open: weighted 250 + 80 = 330; activities @1D and @9D (not @11D).
    let ann = &r.owners[0];
    assert_eq!((ann.won_count, ann.lost_count, ann.open_count), (1, 0, 2));
    assert_rate(ann.win_rate, 1.0);
    assert_eq!(ann.won_amount, [money("EUR", 1000, 0)]);
    assert_eq!(ann.open_amount, [money("EUR", 1300, 0)]);
    assert_eq!(ann.weighted_amount, [money("EUR", 330, 0)]);
    assert_eq!(ann.activities_logged, 2);
    // bob: d2 lost; d4 open (300 USD in Qualified, 50 %); one activity @5D.
    let bob = &r.owners[1];
    assert_eq!((bob.won_count, bob.lost_count, bob.open_count), (0, 1, 1));
    assert_rate(bob.win_rate, 0.0);
    assert!(bob.won_amount.is_empty());
    assert_eq!(bob.open_amount, [money("USD", 300, 0)]);
    assert_eq!(bob.weighted_amount, [money("USD", 150, 0)]);
    assert_eq!(bob.activities_logged, 1);
}

/// A forecast request over the first quarter of 2026 with a ten-year lookback.
pub fn forecast_request(seed: u64, min_sample: i32) -> pb::GetForecastRequest {
    pb::GetForecastRequest {
        pipeline_id: P.into(),
        owner_id: String::new(),
        from: date(2026, 1, 1),
        to: date(2026, 3, 31),
        grouping: pb::ForecastGrouping::Month as i32,
        seed,
        lookback_days: 3650,
        min_sample,
        ..Default::default()
    }
}

/// GetForecast by month with the stage probabilities (2 closed deals < 10).
pub async fn forecast(s: &mut Suite, tenant: &str) {
    let req = forecast_request(7, 0);
    let r = s
        .client
        .get_forecast(authed(&token_of(tenant), req))
        .await
        .unwrap()
        .into_inner();
    let keys: Vec<_> = r
        .buckets
        .iter()
        .map(|b| {
            (
                b.period_start.unwrap().month,
                b.committed.as_ref().unwrap().currency_code.as_str(),
            )
        })
        .collect();
    assert_eq!(keys, [(1, "EUR"), (2, "EUR"), (3, "USD")]);
    let eur = |units| Some(money("EUR", units, 0));
    // January: d1 won on 2026-01-07; nothing open closes in January.
    let jan = &r.buckets[0];
    assert_eq!(
        (jan.committed.clone(), jan.weighted.clone(), jan.best_case.clone()),
        (eur(1000), eur(0), eur(1000))
    );
    assert_eq!(
        (jan.p10.clone(), jan.p50.clone(), jan.p90.clone()),
        (eur(1000), eur(1000), eur(1000))
    );
    assert_eq!(jan.open_deal_count, 0);
    // February: d3 (500 at 50 %) and d5 (800 at 10 %): 250 + 80 = 330.
    // Totals 0 (45 %), 500 (45 %), 800 (5 %), 1300 (5 %): p10 is 0, p50 is 500.
    let feb = &r.buckets[1];
    assert_eq!(
        (feb.committed.clone(), feb.weighted.clone(), feb.best_case.clone()),
        (eur(0), eur(330), eur(1300))
    );
    assert_eq!(feb.historical, eur(330));
    assert_eq!(
        (feb.p10.clone(), feb.p50.clone(), feb.open_deal_count),
        (eur(0), eur(500), 2)
    );
    // March: d4, 300 USD at 50 %.
    let mar = &r.buckets[2];
    let usd = |units| Some(money("USD", units, 0));
    assert_eq!(
        (mar.weighted.clone(), mar.best_case.clone(), mar.historical.clone()),
        (usd(150), usd(300), usd(150))
    );
    assert_eq!(
        (mar.p10.clone(), mar.p90.clone(), mar.open_deal_count),
        (usd(0), usd(300), 1)
    );
}
