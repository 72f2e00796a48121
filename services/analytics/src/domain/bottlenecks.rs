//! The stages that hold sales back, and the deals stalled in their stage.

use crm_proto::{
    analytics::v1 as pb,
    common::v1::{DealStatus, StageKind},
};

use super::{DAY, History, Period, durations::stage_duration, funnel};

/// GetBottlenecks over `h`; stages with fewer than `min_entries` entries
/// are left out of the conversion ranking. Ties keep board order.
pub fn bottlenecks(h: &History, period: Period, min_entries: i64) -> pb::GetBottlenecksResponse {
    let ranks: Vec<pb::StageRank> = funnel::open_stages(h)
        .map(|(at, s)| {
            let f = funnel::flow(h, at, period);
            pb::StageRank {
                stage_id: s.id.clone(),
                stage_name: s.name.clone(),
                conversion_rate: f.conversion_rate(),
                entered: f.entered,
                p50_seconds: stage_duration(h, s, period).p50_seconds,
            }
        })
        .collect();
    let mut by_conversion: Vec<_> = ranks.iter().filter(|r| r.entered >= min_entries).cloned().collect();
    by_conversion.sort_by(|a, b| a.conversion_rate.total_cmp(&b.conversion_rate));
    let mut by_time_in_stage = ranks;
    by_time_in_stage.sort_by_key(|r| std::cmp::Reverse(r.p50_seconds));
    pb::GetBottlenecksResponse {
        by_conversion,
        by_time_in_stage,
        stalled_deals: stalled(h),
    }
}

/// Open deals whose current stay is longer than their stage's rotting_days, longest first.
fn stalled(h: &History) -> Vec<pb::StalledDeal> {
    let mut found: Vec<(i64, pb::StalledDeal)> = h
        .deals
        .iter()
        .filter(|(d, _)| d.status == DealStatus::Open)
        .filter_map(|(d, stays)| {
            let current = stays.last().filter(|s| s.exited.is_none())?;
            let stage = h.stage(&current.stage_id).filter(|s| s.kind == StageKind::Open)?;
            let age = h.now - current.entered;
            (stage.rotting_days > 0 && age > i64::from(stage.rotting_days) * DAY).then(|| {
                let deal = pb::StalledDeal {
                    deal_id: d.id.clone(),
                    title: d.title.clone(),
                    stage_id: stage.id.clone(),
                    owner_id: d.owner_id.clone(),
                    days_in_stage: age as f64 / DAY as f64,
                    rotting_days: stage.rotting_days,
                };
                (age, deal)
            })
        })
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.deal_id.cmp(&b.1.deal_id)));
    found.into_iter().map(|(_, d)| d).collect()
}
