//! The demo report: what a sales manager reads, from AnalyticsService.

use std::{fmt, time::Duration};

use crm_proto::{
    analytics::v1::{self as a, analytics_service_client::AnalyticsServiceClient},
    common::v1::{Date, Money},
};
use tonic::transport::Channel;

use super::{Pipeline, authed};

/// A day in microseconds.
pub const DAY: i64 = 86_400 * 1_000_000;

/// The period [from, to) in microseconds.
pub fn period(from: i64, to: i64) -> Option<a::Period> {
    Some(a::Period {
        from: Some(crm_kit::time::to_timestamp(from)),
        to: Some(crm_kit::time::to_timestamp(to)),
    })
}

/// Everything the report prints.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Deals imported.
    pub imported: i64,
    /// How long the demo took.
    pub elapsed: Duration,
    /// The last year's funnel.
    pub funnel: a::GetFunnelResponse,
    /// The last year's time in stage.
    pub durations: a::GetStageDurationsResponse,
    /// The next six months.
    pub forecast: a::GetForecastResponse,
    /// The last quarter's velocity.
    pub velocity: a::GetVelocityResponse,
    /// The bottlenecks and stalled deals.
    pub bottlenecks: a::GetBottlenecksResponse,
}

/// Asks AnalyticsService for every part of the report.
pub async fn gather(
    client: &mut AnalyticsServiceClient<Channel>,
    token: &str,
    p: &Pipeline,
    now: i64,
    seed: u64,
) -> anyhow::Result<Report> {
    let year = period(now - 365 * DAY, now + DAY);
    let id = p.id.clone();
    let funnel = a::GetFunnelRequest {
        pipeline_id: id.clone(),
        owner_id: String::new(),
        period: year,
        // The demo defines the field (see data::fields).
        group_by_field: "lead_source".into(),
        ..Default::default()
    };
    let durations = a::GetStageDurationsRequest {
        pipeline_id: id.clone(),
        owner_id: String::new(),
        period: year,
    };
    let to_date = |micros: i64| {
        use chrono::Datelike;
        chrono::DateTime::from_timestamp_micros(micros)
            .map(|d| d.date_naive())
            .map(|d| Date {
                year: d.year(),
                month: d.month() as i32,
                day: d.day() as i32,
            })
    };
    let forecast = a::GetForecastRequest {
        pipeline_id: id.clone(),
        from: to_date(now),
        to: to_date(now + 180 * DAY),
        grouping: a::ForecastGrouping::Month as i32,
        seed,
        ..Default::default()
    };
    let velocity = a::GetVelocityRequest {
        pipeline_id: id.clone(),
        owner_id: String::new(),
        lookback_days: 90,
    };
    let bottlenecks = a::GetBottlenecksRequest {
        pipeline_id: id,
        owner_id: String::new(),
        period: year,
        min_entries: 20,
        stalled_limit: 10,
    };
    Ok(Report {
        funnel: client.get_funnel(authed(token, funnel)).await?.into_inner(),
        durations: client.get_stage_durations(authed(token, durations)).await?.into_inner(),
        forecast: client.get_forecast(authed(token, forecast)).await?.into_inner(),
        velocity: client.get_velocity(authed(token, velocity)).await?.into_inner(),
        bottlenecks: client.get_bottlenecks(authed(token, bottlenecks)).await?.into_inner(),
        ..Default::default()
    })
}

fn money(m: Option<&Money>) -> String {
    m.map_or_else(|| "-".into(), |m| format!("{} {}", group(m.units), m.currency_code))
}

fn group(n: i64) -> String {
    let s = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

fn days(seconds: f64) -> String {
    format!("{:.1} d", seconds / 86_400.0)
}

fn bar(rate: f64) -> String {
    let filled = (rate.clamp(0.0, 1.0) * 30.0).round() as usize;
    format!("{}{}", "█".repeat(filled), "·".repeat(30 - filled))
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Demo tenant: {} deals imported, report ready in {:.1?}\n",
            self.imported, self.elapsed
        )?;
        writeln!(f, "FUNNEL, last 12 months")?;
        writeln!(
            f,
            "  {:<12} {:>8} {:>9} {:>6}  conversion",
            "stage", "entered", "advanced", "lost"
        )?;
        for s in &self.funnel.stages {
            let pct = s.conversion_rate * 100.0;
            writeln!(
                f,
                "  {:<12} {:>8} {:>9} {:>6}  {} {pct:>5.1}%",
                s.stage_name,
                s.entered,
                s.advanced,
                s.lost,
                bar(s.conversion_rate)
            )?;
        }
        let win = self.funnel.win_rate * 100.0;
        writeln!(
            f,
            "  won {}, lost {}, win rate {win:.1}%\n",
            self.funnel.won, self.funnel.lost
        )?;
        writeln!(f, "FUNNEL BY LEAD SOURCE, last 12 months")?;
        writeln!(
            f,
            "  {:<12} {:>8} {:>6} {:>6}  win rate",
            "source", "entered", "won", "lost"
        )?;
        for g in &self.funnel.groups {
            let Some(funnel) = &g.funnel else { continue };
            let entered = funnel.stages.first().map_or(0, |s| s.entered);
            let rate = funnel.win_rate * 100.0;
            writeln!(
                f,
                "  {:<12} {entered:>8} {:>6} {:>6}  {} {rate:>5.1}%",
                g.option_label,
                funnel.won,
                funnel.lost,
                bar(funnel.win_rate)
            )?;
        }
        writeln!(f)?;
        writeln!(f, "TIME IN STAGE, stays ended in the last 12 months")?;
        writeln!(
            f,
            "  {:<12} {:>7} {:>9} {:>9} {:>9} {:>6}",
            "stage", "stays", "mean", "p50", "p90", "open"
        )?;
        let open: Vec<&str> = self.funnel.stages.iter().map(|s| s.stage_id.as_str()).collect();
        for s in self
            .durations
            .stages
            .iter()
            .filter(|s| open.contains(&s.stage_id.as_str()))
        {
            let (p50, p90) = (days(s.p50_seconds as f64), days(s.p90_seconds as f64));
            writeln!(
                f,
                "  {:<12} {:>7} {:>9} {p50:>9} {p90:>9} {:>6}",
                s.stage_name,
                s.count,
                days(s.mean_seconds),
                s.open_count
            )?;
        }
        writeln!(f, "\nFORECAST by month (expected close date)")?;
        writeln!(
            f,
            "  {:<8} {:>14} {:>14} {:>14} {:>14} {:>14}",
            "month", "committed", "weighted", "p10", "p50", "p90"
        )?;
        for b in &self.forecast.buckets {
            let month = b
                .period_start
                .map_or_else(String::new, |d| format!("{}-{:02}", d.year, d.month));
            let cols = [&b.committed, &b.weighted, &b.p10, &b.p50, &b.p90].map(|m| money(m.as_ref()));
            writeln!(
                f,
                "  {month:<8} {:>14} {:>14} {:>14} {:>14} {:>14}",
                cols[0], cols[1], cols[2], cols[3], cols[4]
            )?;
        }
        writeln!(f, "\nVELOCITY, last 90 days")?;
        for v in &self.velocity.velocity {
            writeln!(
                f,
                "  {}: {} open deals x {:.1}% win rate x {} average won / {:.1} days cycle = {} per day",
                v.currency_code,
                v.open_deal_count,
                v.win_rate * 100.0,
                money(v.average_won_amount.as_ref()),
                v.average_cycle_days,
                money(v.velocity_per_day.as_ref())
            )?;
        }
        writeln!(f, "\nBOTTLENECK")?;
        if let Some(s) = self.bottlenecks.by_conversion.first() {
            writeln!(
                f,
                "  lowest conversion: {} ({:.1}% of {} entries advance)",
                s.stage_name,
                s.conversion_rate * 100.0,
                s.entered
            )?;
        }
        if let Some(s) = self.bottlenecks.by_time_in_stage.first() {
            writeln!(
                f,
                "  longest wait:      {} (median {})",
                s.stage_name,
                days(s.p50_seconds as f64)
            )?;
        }
        let stalled = &self.bottlenecks.stalled_deals;
        writeln!(
            f,
            "\nSTALLED DEALS: {} open deals outstayed their stage; the longest:",
            self.bottlenecks.stalled_total
        )?;
        for d in stalled.iter().take(10) {
            writeln!(
                f,
                "  {:<12} {:<8} {:>6.0} days in stage (rots after {})",
                d.title, d.owner_id, d.days_in_stage, d.rotting_days
            )?;
        }
        Ok(())
    }
}
