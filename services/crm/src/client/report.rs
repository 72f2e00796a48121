//! `crm report`: one analytics report of a pipeline, as a table.

use crm_proto::{
    analytics::v1::{self as a, analytics_service_client::AnalyticsServiceClient},
    common::v1::Money,
};

use super::{
    Connection,
    output::{json, money, table},
};

const DAY_SECS: i64 = 86_400;

pub(super) async fn report(
    c: &Connection,
    mut client: AnalyticsServiceClient<tonic::transport::Channel>,
    kind: &str,
    pipeline_id: &str,
    days: i64,
) -> anyhow::Result<String> {
    let now = crm_kit::time::now_micros();
    let back = crate::demo::period(now - days * DAY_SECS * 1_000_000, now + DAY_SECS * 1_000_000);
    let id = pipeline_id.to_owned();
    let pct = |r: f64| format!("{:.1}%", r * 100.0);
    let secs_days = |s: f64| format!("{:.1} d", s / DAY_SECS as f64);
    match kind {
        "funnel" => {
            let reply = client
                .get_funnel(c.request(a::GetFunnelRequest {
                    pipeline_id: id,
                    owner_id: String::new(),
                    period: back,
                    ..Default::default()
                }))
                .await?
                .into_inner();
            if c.json {
                return json(&reply);
            }
            let rows: Vec<Vec<String>> = reply
                .stages
                .iter()
                .map(|s| {
                    vec![
                        s.stage_name.clone(),
                        s.entered.to_string(),
                        s.advanced.to_string(),
                        s.lost.to_string(),
                        pct(s.conversion_rate),
                        s.current_count.to_string(),
                    ]
                })
                .collect();
            let t = table(&["STAGE", "ENTERED", "ADVANCED", "LOST", "CONVERSION", "NOW"], &rows);
            Ok(format!(
                "{t}\nwon {}, lost {}, win rate {}",
                reply.won,
                reply.lost,
                pct(reply.win_rate)
            ))
        }
        "durations" => {
            let req = a::GetStageDurationsRequest {
                pipeline_id: id,
                owner_id: String::new(),
                period: back,
            };
            let reply = client.get_stage_durations(c.request(req)).await?.into_inner();
            if c.json {
                return json(&reply);
            }
            let rows: Vec<Vec<String>> = reply
                .stages
                .iter()
                .map(|s| {
                    vec![
                        s.stage_name.clone(),
                        s.count.to_string(),
                        secs_days(s.mean_seconds),
                        secs_days(s.p50_seconds as f64),
                        secs_days(s.p90_seconds as f64),
                        s.open_count.to_string(),
                    ]
                })
                .collect();
            Ok(table(&["STAGE", "STAYS", "MEAN", "P50", "P90", "OPEN"], &rows))
        }
        "velocity" => {
            let reply = client
                .get_velocity(c.request(a::GetVelocityRequest {
                    pipeline_id: id,
                    owner_id: String::new(),
                    lookback_days: days as i32,
                }))
                .await?
                .into_inner();
            if c.json {
                return json(&reply);
            }
            let rows: Vec<Vec<String>> = reply
                .velocity
                .iter()
                .map(|v| {
                    vec![
                        v.currency_code.clone(),
                        v.open_deal_count.to_string(),
                        pct(v.win_rate),
                        money(v.average_won_amount.as_ref()),
                        format!("{:.1}", v.average_cycle_days),
                        money(v.velocity_per_day.as_ref()),
                    ]
                })
                .collect();
            Ok(table(
                &["CURRENCY", "OPEN", "WIN RATE", "AVG WON", "CYCLE DAYS", "PER DAY"],
                &rows,
            ))
        }
        "forecast" => {
            let date = |micros: i64| {
                use chrono::Datelike;
                chrono::DateTime::from_timestamp_micros(micros)
                    .map(|d| d.date_naive())
                    .map(|d| crm_proto::common::v1::Date {
                        year: d.year(),
                        month: d.month() as i32,
                        day: d.day() as i32,
                    })
            };
            let req = a::GetForecastRequest {
                pipeline_id: id,
                from: date(now),
                to: date(now + days * DAY_SECS * 1_000_000),
                grouping: a::ForecastGrouping::Month as i32,
                seed: 1,
                ..Default::default()
            };
            let reply = client.get_forecast(c.request(req)).await?.into_inner();
            if c.json {
                return json(&reply);
            }
            let rows: Vec<Vec<String>> = reply
                .buckets
                .iter()
                .map(|b| {
                    let start = b
                        .period_start
                        .map(|d| format!("{}-{:02}", d.year, d.month))
                        .unwrap_or_default();
                    let m = |x: &Option<Money>| money(x.as_ref());
                    vec![
                        start,
                        m(&b.committed),
                        m(&b.weighted),
                        m(&b.best_case),
                        m(&b.historical),
                        m(&b.p10),
                        m(&b.p50),
                        m(&b.p90),
                    ]
                })
                .collect();
            Ok(table(
                &[
                    "MONTH",
                    "COMMITTED",
                    "WEIGHTED",
                    "BEST CASE",
                    "HISTORICAL",
                    "P10",
                    "P50",
                    "P90",
                ],
                &rows,
            ))
        }
        "bottlenecks" => {
            let req = a::GetBottlenecksRequest {
                pipeline_id: id,
                owner_id: String::new(),
                period: back,
                min_entries: 0,
                stalled_limit: 0,
            };
            let reply = client.get_bottlenecks(c.request(req)).await?.into_inner();
            if c.json {
                return json(&reply);
            }
            let rank = |r: &[a::StageRank]| {
                r.iter()
                    .map(|s| {
                        vec![
                            s.stage_name.clone(),
                            pct(s.conversion_rate),
                            s.entered.to_string(),
                            secs_days(s.p50_seconds as f64),
                        ]
                    })
                    .collect::<Vec<_>>()
            };
            let stalled: Vec<Vec<String>> = reply
                .stalled_deals
                .iter()
                .map(|d| {
                    vec![
                        d.deal_id.clone(),
                        d.title.clone(),
                        d.owner_id.clone(),
                        format!("{:.0}", d.days_in_stage),
                        d.rotting_days.to_string(),
                    ]
                })
                .collect();
            Ok(format!(
                "By conversion (lowest first):\n{}\n\nBy time in stage (longest first):\n{}\n\nStalled deals ({} in all):\n{}",
                table(&["STAGE", "CONVERSION", "ENTERED", "P50"], &rank(&reply.by_conversion)),
                table(
                    &["STAGE", "CONVERSION", "ENTERED", "P50"],
                    &rank(&reply.by_time_in_stage)
                ),
                reply.stalled_total,
                table(&["ID", "TITLE", "OWNER", "DAYS IN STAGE", "ROTS AFTER"], &stalled)
            ))
        }
        _ => {
            let req = a::GetOwnerPerformanceRequest {
                pipeline_id: id,
                owner_id: String::new(),
                period: back,
                ..Default::default()
            };
            let reply = client.get_owner_performance(c.request(req)).await?.into_inner();
            if c.json {
                return json(&reply);
            }
            let all = |ms: &[Money]| ms.iter().map(|m| money(Some(m))).collect::<Vec<_>>().join(", ");
            let rows: Vec<Vec<String>> = reply
                .owners
                .iter()
                .map(|o| {
                    vec![
                        o.owner_id.clone(),
                        o.won_count.to_string(),
                        all(&o.won_amount),
                        o.lost_count.to_string(),
                        pct(o.win_rate),
                        o.open_count.to_string(),
                        all(&o.weighted_amount),
                        o.activities_logged.to_string(),
                    ]
                })
                .collect();
            Ok(table(
                &[
                    "OWNER",
                    "WON",
                    "WON AMOUNT",
                    "LOST",
                    "WIN RATE",
                    "OPEN",
                    "WEIGHTED",
                    "ACTIVITIES",
                ],
                &rows,
            ))
        }
    }
}
