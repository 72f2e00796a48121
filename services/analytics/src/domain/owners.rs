//! Per owner: wins, losses, open pipeline and activity.

use std::collections::BTreeMap;

use crm_proto::{analytics::v1 as pb, common::v1::DealStatus};

use super::{Key, Period, View, money, rate};

#[derive(Default)]
struct Tally {
    won: i64,
    lost: i64,
    won_amount: BTreeMap<Key, i128>,
    open: i64,
    open_amount: BTreeMap<Key, i128>,
    // Sum of minor x probability, divided by 100 once at the end.
    weighted_x100: BTreeMap<Key, i128>,
}

/// GetOwnerPerformance over `v`: one entry per owner of a deal in the
/// pipeline, plus `also` (the requested owner) even without deals;
/// `activities` counts each owner's activities logged in the period.
pub fn owners<'a>(
    v: &View<'a>,
    period: Period,
    also: Option<&'a str>,
    activities: &BTreeMap<String, i64>,
) -> pb::GetOwnerPerformanceResponse {
    // Indexed by owner key; `None` for owners without a deal in view.
    let mut by_key: Vec<Option<Tally>> = (0..v.h.owner_count()).map(|_| None).collect();
    for (d, _) in v.deals() {
        let Some(t) = by_key.get_mut(d.owner as usize) else {
            continue;
        };
        let t = t.get_or_insert_with(Tally::default);
        let in_period = d.closed_at.is_some_and(|c| period.contains(c));
        let add = |sums: &mut BTreeMap<Key, i128>, factor: i128| {
            if let Some((c, m)) = d.amount() {
                *sums.entry(c).or_default() += i128::from(m) * factor;
            }
        };
        match d.status {
            DealStatus::Won if in_period => {
                t.won += 1;
                add(&mut t.won_amount, 1);
            }
            DealStatus::Lost if in_period => t.lost += 1,
            DealStatus::Open => {
                t.open += 1;
                add(&mut t.open_amount, 1);
                let p = v.h.stage(d.stage).map_or(0, |s| s.probability);
                add(&mut t.weighted_x100, i128::from(p));
            }
            _ => {}
        }
    }
    let mut tallies: BTreeMap<&str, Tally> = by_key
        .into_iter()
        .enumerate()
        .filter_map(|(k, t)| Some((v.h.owner(k as Key), t?)))
        .collect();
    if let Some(owner) = also {
        tallies.entry(owner).or_default();
    }
    let named = |sums: &BTreeMap<Key, i128>| super::funnel::named(v, sums);
    let owners = tallies
        .into_iter()
        .map(|(id, t)| {
            // Rounded half up to the minor unit, once per owner and currency.
            let weighted: BTreeMap<Key, i128> = t.weighted_x100.into_iter().map(|(c, m)| (c, (m + 50) / 100)).collect();
            pb::OwnerPerformance {
                owner_id: id.to_owned(),
                won_count: t.won,
                won_amount: money::totals(&named(&t.won_amount)),
                lost_count: t.lost,
                win_rate: rate(t.won, t.won + t.lost),
                open_count: t.open,
                open_amount: money::totals(&named(&t.open_amount)),
                weighted_amount: money::totals(&named(&weighted)),
                activities_logged: activities.get(id).copied().unwrap_or(0),
            }
        })
        .collect();
    pb::GetOwnerPerformanceResponse {
        owners,
        groups: Vec::new(),
    }
}
