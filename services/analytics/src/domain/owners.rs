//! Per owner: wins, losses, open pipeline and activity.

use std::collections::{BTreeMap, BTreeSet};

use crm_proto::{analytics::v1 as pb, common::v1::DealStatus};

use super::{History, Period, money, rate};

#[derive(Default)]
struct Tally {
    won: i64,
    lost: i64,
    won_amount: BTreeMap<String, i128>,
    open: i64,
    open_amount: BTreeMap<String, i128>,
    // Sum of minor x probability, divided by 100 once at the end.
    weighted_x100: BTreeMap<String, i128>,
}

/// GetOwnerPerformance over `h`: one entry per owner of a deal in the
/// pipeline, plus `also` (the requested owner) even without deals;
/// `activities` counts each owner's activities logged in the period.
pub fn owners(
    h: &History,
    period: Period,
    also: Option<&str>,
    activities: &BTreeMap<String, i64>,
) -> pb::GetOwnerPerformanceResponse {
    let mut ids: BTreeSet<&str> = h.deals.iter().map(|(d, _)| d.owner_id.as_str()).collect();
    ids.extend(also);
    let mut tallies: BTreeMap<&str, Tally> = ids.into_iter().map(|id| (id, Tally::default())).collect();
    for (d, _) in &h.deals {
        let Some(t) = tallies.get_mut(d.owner_id.as_str()) else {
            continue;
        };
        let in_period = d.closed_at.is_some_and(|c| period.contains(c));
        let add = |sums: &mut BTreeMap<String, i128>, factor: i128| {
            if let Some((c, m)) = &d.amount {
                *sums.entry(c.clone()).or_default() += i128::from(*m) * factor;
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
                let p = h.stage(&d.stage_id).map_or(0, |s| s.probability);
                add(&mut t.weighted_x100, i128::from(p));
            }
            _ => {}
        }
    }
    let owners = tallies
        .into_iter()
        .map(|(id, t)| {
            // Rounded half up to the minor unit, once per owner and currency.
            let weighted = t.weighted_x100.into_iter().map(|(c, m)| (c, (m + 50) / 100)).collect();
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
