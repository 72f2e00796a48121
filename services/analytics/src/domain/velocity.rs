//! Sales velocity per currency: open deals x win rate x average won amount
//! / average cycle length.

use std::collections::BTreeMap;

use crm_proto::{analytics::v1 as pb, common::v1::DealStatus};

use super::{DAY, View, money, rate};

#[derive(Default)]
struct Tally {
    won: i64,
    lost: i64,
    won_minor: i128,
    cycle_micros: i128,
    open: i64,
}

/// GetVelocity over `h`: deals closed at or after `since` count. Deals
/// without an amount have no currency and are left out.
pub fn velocity(v: &View, since: i64) -> pb::GetVelocityResponse {
    let mut tallies: Vec<Tally> = (0..v.h.currency_count()).map(|_| Tally::default()).collect();
    for (d, _) in v.deals() {
        let Some((currency, minor)) = d.amount() else { continue };
        let recent = d.closed_at.is_some_and(|t| t >= since && t <= v.now);
        let Some(t) = tallies.get_mut(currency as usize) else {
            continue;
        };
        let minor = &minor;
        match d.status {
            DealStatus::Open => t.open += 1,
            DealStatus::Won if recent => {
                t.won += 1;
                t.won_minor += i128::from(*minor);
                t.cycle_micros += i128::from(d.closed_at.unwrap_or(d.create_time) - d.create_time);
            }
            DealStatus::Lost if recent => t.lost += 1,
            _ => {}
        }
    }
    let by_currency: BTreeMap<&str, Tally> = tallies
        .into_iter()
        .enumerate()
        .map(|(k, t)| (v.h.currency(k as super::Key), t))
        .collect();
    let velocity = by_currency
        .into_iter()
        .filter(|(_, t)| t.won + t.lost + t.open > 0)
        .map(|(currency, t)| {
            let win_rate = rate(t.won, t.won + t.lost);
            let (avg_won, avg_days) = if t.won == 0 {
                (0.0, 0.0)
            } else {
                let n = t.won as f64;
                (t.won_minor as f64 / n, t.cycle_micros as f64 / n / DAY as f64)
            };
            let per_day = if avg_days > 0.0 {
                t.open as f64 * win_rate * avg_won / avg_days
            } else {
                0.0
            };
            pb::Velocity {
                average_won_amount: Some(money::to_money(currency, money::round_minor(avg_won))),
                velocity_per_day: Some(money::to_money(currency, money::round_minor(per_day))),
                currency_code: currency.to_owned(),
                win_rate,
                average_cycle_days: avg_days,
                open_deal_count: t.open,
            }
        })
        .collect();
    pb::GetVelocityResponse { velocity }
}
