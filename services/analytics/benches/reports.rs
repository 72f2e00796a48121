//! The reports' compute alone, over an in-memory history of
//! `CRM_BENCH_DEALS` deals (default 1,000,000) of five stage entries on
//! average: what each analytics RPC costs besides its I/O.
//! Run: `cargo bench -p crm-analytics --bench reports`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use chrono::NaiveDate;
use crm_analytics::domain::{
    DAY, DealRow, History, Period, Stage, Transition, bottlenecks, durations, forecast, funnel, owners,
    rng::SplitMix64, velocity,
};
use crm_proto::common::v1::{DealStatus, StageKind};

fn main() {
    let n: usize = std::env::var("CRM_BENCH_DEALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let now: i64 = 1_800_000_000_000_000;
    let mut stages: Vec<Stage> = (0..6)
        .map(|i| Stage {
            id: format!("open-{i}"),
            name: format!("Open {i}"),
            kind: StageKind::Open,
            probability: 10 + 15 * i,
            rotting_days: 14,
        })
        .collect();
    for (id, kind) in [("won", StageKind::Won), ("lost", StageKind::Lost)] {
        stages.push(Stage {
            id: id.into(),
            name: id.into(),
            kind,
            probability: 0,
            rotting_days: 0,
        });
    }
    let mut h = History::new(stages);
    let mut rng = SplitMix64::new(1);
    let started = Instant::now();
    for i in 0..n {
        let created = now - 365 * DAY + (rng.next_f64() * 364.0 * DAY as f64) as i64;
        let mut ts = vec![Transition {
            version: 1,
            to_stage_id: "open-0".into(),
            at: created,
        }];
        let mut at = created;
        let mut status = DealStatus::Open;
        for s in 0..6 {
            at += (rng.next_f64() * 10.0 * DAY as f64) as i64;
            if at > now {
                break;
            }
            let to = if rng.next_f64() < 0.85 {
                if s == 5 {
                    "won".to_owned()
                } else {
                    format!("open-{}", s + 1)
                }
            } else {
                "lost".to_owned()
            };
            status = match to.as_str() {
                "won" => DealStatus::Won,
                "lost" => DealStatus::Lost,
                _ => DealStatus::Open,
            };
            ts.push(Transition {
                version: s + 2,
                to_stage_id: to,
                at,
            });
            if status != DealStatus::Open {
                break;
            }
        }
        let row = DealRow {
            id: format!("deal-{i:08}"),
            stage_id: ts.last().unwrap().to_stage_id.clone(),
            status,
            title: format!("Deal {i}"),
            owner_id: format!("owner-{}", i % 8),
            amount: Some(("EUR".into(), 100_000 + (i as i64 % 1000) * 100)),
            expected_close: NaiveDate::from_ymd_opt(2027, 1 + (i % 12) as u32, 1),
            create_time: created,
            closed_at: (status != DealStatus::Open).then_some(at),
            fields: Vec::new(),
        };
        h.put(row, ts);
    }
    println!("built {} deals in {:.1} s", h.len(), started.elapsed().as_secs_f64());
    let quarter = Period {
        from: now - 90 * DAY,
        to: now,
    };
    let v = h.view(None, now);
    let q = forecast::Query {
        from: NaiveDate::from_ymd_opt(2027, 1, 1).unwrap(),
        to: NaiveDate::from_ymd_opt(2027, 6, 30).unwrap(),
        quarters: false,
        seed: 7,
        since: now - 365 * DAY,
        min_sample: 10,
    };
    let time = |name: &str, f: &dyn Fn()| {
        let mut ms: Vec<f64> = (0..11)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        ms.sort_by(f64::total_cmp);
        println!("{name:<22} median {:>7.1} ms  max {:>7.1} ms", ms[5], ms[10]);
    };
    time("funnel", &|| drop(funnel::funnel(&v, quarter)));
    time("durations", &|| drop(durations::durations(&v, quarter)));
    time("forecast", &|| drop(forecast::forecast(&v, &q)));
    time("velocity", &|| drop(velocity::velocity(&v, now - 90 * DAY)));
    time("bottlenecks", &|| drop(bottlenecks::bottlenecks(&v, quarter, 5, 100)));
    time("owners", &|| {
        drop(owners::owners(&v, quarter, None, &Default::default()))
    });
    let one = h.view(Some("owner-3"), now);
    time("funnel (one owner)", &|| drop(funnel::funnel(&one, quarter)));
}
