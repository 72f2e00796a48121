//! The stages that hold sales back, and the deals stalled in their stage.

use crm_proto::{
    analytics::v1 as pb,
    common::v1::{DealStatus, StageKind},
};

use super::{
    DAY, Deal, Period, Stage, View,
    durations::{Gather, p50_seconds},
    funnel,
};

/// GetBottlenecks over `v`: the OPEN stages with at least `min_entries`
/// entries by conversion rate (lowest first), all OPEN stages by p50 time in
/// stage (longest first), and the first `limit` stalled deals.
pub fn bottlenecks<'a>(v: &View<'a>, period: Period, min_entries: i64, limit: usize) -> pb::GetBottlenecksResponse {
    // One pass: the flows, the stays, the stalled deals.
    type Acc<'a> = (funnel::Flows<'a>, Gather, Vec<(i64, &'a Deal, &'a Stage)>);
    let (flows, mut gathered, stalled) = v.fold(
        || (funnel::Flows::new(v, period), Gather::new(v, period), Vec::new()),
        |acc: &mut Acc<'a>, d, stays| {
            acc.0.add(d, stays);
            acc.1.add(d, stays);
            if let Some(s) = stalled_in(v, d) {
                acc.2.push(s);
            }
        },
        |a: Acc<'a>, b: Acc<'a>| -> Acc<'a> {
            let mut stalled = a.2;
            stalled.extend(b.2);
            (a.0.merge(b.0), a.1.merge(b.1), stalled)
        },
    );
    let flows = flows.out;
    let ranks: Vec<pb::StageRank> = funnel::open_stages(v)
        .map(|(at, s)| pb::StageRank {
            stage_id: s.id.clone(),
            stage_name: s.name.clone(),
            conversion_rate: flows[at].conversion_rate(),
            entered: flows[at].entered,
            p50_seconds: p50_seconds(&mut gathered.ended[at]),
        })
        .collect();
    let mut by_conversion: Vec<_> = ranks.iter().filter(|r| r.entered >= min_entries).cloned().collect();
    by_conversion.sort_by(|a, b| a.conversion_rate.total_cmp(&b.conversion_rate));
    let mut by_time_in_stage = ranks;
    by_time_in_stage.sort_by_key(|r| std::cmp::Reverse(r.p50_seconds));
    let (stalled_deals, stalled_total) = longest(v, stalled, limit);
    pb::GetBottlenecksResponse {
        by_conversion,
        by_time_in_stage,
        stalled_deals,
        stalled_total,
    }
}

/// `d`, if it is open and its current stay outlasted its stage's
/// rotting_days: how long it has stayed, the deal, the stage.
fn stalled_in<'a>(v: &View<'a>, d: &'a Deal) -> Option<(i64, &'a Deal, &'a Stage)> {
    if d.status != DealStatus::Open {
        return None;
    }
    let stage = v.h.stage(d.last_stage).filter(|s| s.kind == StageKind::Open)?;
    let age = v.now - d.last_entered;
    (stage.rotting_days > 0 && age > i64::from(stage.rotting_days) * DAY).then_some((age, d, stage))
}

/// The first `limit` of the stalled deals `found`, longest first (ties by
/// id), and how many there are.
fn longest<'a>(v: &View<'a>, mut found: Vec<(i64, &'a Deal, &'a Stage)>, limit: usize) -> (Vec<pb::StalledDeal>, i64) {
    let total = found.len() as i64;
    let order = |a: &(i64, &Deal, &Stage), b: &(i64, &Deal, &Stage)| {
        b.0.cmp(&a.0).then_with(|| v.h.text(a.1).id.cmp(&v.h.text(b.1).id))
    };
    if found.len() > limit && limit > 0 {
        found.select_nth_unstable_by(limit - 1, order);
    }
    found.truncate(limit);
    found.sort_by(order);
    let deals = found
        .into_iter()
        .map(|(age, d, stage)| {
            let text = v.h.text(d);
            pb::StalledDeal {
                deal_id: text.id.clone(),
                title: text.title.clone(),
                stage_id: stage.id.clone(),
                owner_id: v.h.owner(d.owner).to_owned(),
                days_in_stage: age as f64 / DAY as f64,
                rotting_days: stage.rotting_days,
            }
        })
        .collect();
    (deals, total)
}
