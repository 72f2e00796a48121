//! Per owner: wins, losses, open pipeline and activity.

use std::collections::{BTreeMap, HashMap};

use crm_proto::{analytics::v1 as pb, common::v1::DealStatus};

use super::{Period, View, money, rate};

#[derive(Default)]
struct Tally<'a> {
    won: i64,
    lost: i64,
    won_amount: BTreeMap<&'a str, i128>,
    open: i64,
    open_amount: BTreeMap<&'a str, i128>,
    // Sum of minor x probability, divided by 100 once at the end.
    weighted_x100: BTreeMap<&'a str, i128>,
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
    let mut tallies = HashMap::<&str, Tally<'a>>::new();
    if let Some(owner) = also {
        tallies.insert(owner, Tally::default());
    }
    for (d, _) in v.deals() {
        let t = match tallies.get_mut(d.owner_id.as_str()) {
            Some(t) => t,
            None => tallies.entry(d.owner_id.as_str()).or_default(),
        };
        let in_period = d.closed_at.is_some_and(|c| period.contains(c));
        let add = |sums: &mut BTreeMap<&'a str, i128>, factor: i128| {
            if let Some((c, m)) = &d.amount {
                *sums.entry(c.as_str()).or_default() += i128::from(*m) * factor;
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
    let tallies: BTreeMap<&str, Tally<'a>> = tallies.into_iter().collect();
    let owners = tallies
        .into_iter()
        .map(|(id, t)| {
            // Rounded half up to the minor unit, once per owner and currency.
            let weighted: BTreeMap<&str, i128> =
                t.weighted_x100.into_iter().map(|(c, m)| (c, (m + 50) / 100)).collect();
            pb::OwnerPerformance {
                owner_id: id.to_owned(),
                won_count: t.won,
                won_amount: money::totals(&t.won_amount),
                lost_count: t.lost,
                win_rate: rate(t.won, t.won + t.lost),
                open_count: t.open,
                open_amount: money::totals(&t.open_amount),
                weighted_amount: money::totals(&weighted),
                activities_logged: activities.get(id).copied().unwrap_or(0),
            }
        })
        .collect();
    pb::GetOwnerPerformanceResponse { owners }
}
