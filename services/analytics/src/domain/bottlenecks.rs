//! The stages that hold sales back, and the deals stalled in their stage.

use crm_proto::{
    analytics::v1 as pb,
    common::v1::{DealStatus, StageKind},
};

use super::{
    DAY, Period, View,
    durations::{gather, p50_seconds},
    funnel,
};

/// GetBottlenecks over `v`: the OPEN stages with at least `min_entries`
/// entries by conversion rate (lowest first), all OPEN stages by p50 time in
/// stage (longest first), and the first `limit` stalled deals.
pub fn bottlenecks(v: &View, period: Period, min_entries: i64, limit: usize) -> pb::GetBottlenecksResponse {
    let flows = funnel::flows(v, period);
    let mut gathered = gather(v, period);
    let ranks: Vec<pb::StageRank> = funnel::open_stages(v)
        .map(|(at, s)| pb::StageRank {
            stage_id: s.id.clone(),
            stage_name: s.name.clone(),
            conversion_rate: flows[at].conversion_rate(),
            entered: flows[at].entered,
            p50_seconds: p50_seconds(&mut gathered[at]),
        })
        .collect();
    let mut by_conversion: Vec<_> = ranks.iter().filter(|r| r.entered >= min_entries).cloned().collect();
    by_conversion.sort_by(|a, b| a.conversion_rate.total_cmp(&b.conversion_rate));
    let mut by_time_in_stage = ranks;
    by_time_in_stage.sort_by_key(|r| std::cmp::Reverse(r.p50_seconds));
    let (stalled_deals, stalled_total) = stalled(v, limit);
    pb::GetBottlenecksResponse {
        by_conversion,
        by_time_in_stage,
        stalled_deals,
        stalled_total,
    }
}

/// The open deals whose current stay outlasted their stage's rotting_days:
/// the first `limit`, longest first (ties by id), and how many there are.
fn stalled(v: &View, limit: usize) -> (Vec<pb::StalledDeal>, i64) {
    let mut found: Vec<_> = v
        .deals()
        .filter(|(d, _)| d.status == DealStatus::Open)
        .filter_map(|(d, stays)| {
            let current = stays.last().filter(|s| s.exited.is_none())?;
            let stage = v.h.stage(current.stage).filter(|s| s.kind == StageKind::Open)?;
            let age = v.now - current.entered;
            (stage.rotting_days > 0 && age > i64::from(stage.rotting_days) * DAY).then_some((age, d, stage))
        })
        .collect();
    let total = found.len() as i64;
    let order =
        |a: &(i64, &super::Deal, _), b: &(i64, &super::Deal, _)| b.0.cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id));
    if found.len() > limit && limit > 0 {
        found.select_nth_unstable_by(limit - 1, order);
    }
    found.truncate(limit);
    found.sort_by(order);
    let deals = found
        .into_iter()
        .map(|(age, d, stage)| pb::StalledDeal {
            deal_id: d.id.clone(),
            title: d.title.clone(),
            stage_id: stage.id.clone(),
            owner_id: d.owner_id.clone(),
            days_in_stage: age as f64 / DAY as f64,
            rotting_days: stage.rotting_days,
        })
        .collect();
    (deals, total)
}
