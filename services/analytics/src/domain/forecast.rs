//! The revenue forecast per month or quarter and currency: committed,
//! weighted, best case, historical, and p10/p50/p90 of a seeded simulation.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate};
use crm_proto::{
    analytics::v1 as pb,
    common::v1::{DealStatus, StageKind},
};

use super::{Deal, Key, Stay, View, money, nearest_rank, rng};

/// Simulated runs per bucket. With n = 2,000 runs the nearest-rank
/// percentile q is the true quantile of the won total up to a rank error of
/// about sqrt(q (1 - q) / n): ±0.7 percentage points for p10 and p90 and
/// ±1.1 for p50 (one standard error); the answer is exact whenever every
/// p_win is 0 or 1, and the same seed always gives the same answer.
pub const RUNS: usize = 2_000;

/// What the caller asked.
#[derive(Clone, Debug)]
pub struct Query {
    /// First day, inclusive.
    pub from: NaiveDate,
    /// Last day, inclusive.
    pub to: NaiveDate,
    /// Quarters instead of months.
    pub quarters: bool,
    /// The simulation's seed.
    pub seed: u64,
    /// Deals closed at or after this time (µs) count for p_win.
    pub since: i64,
    /// Below this many closed deals through a stage, its probability is used.
    pub min_sample: i64,
}

/// p_win of each board position: of the deals in view closed at or after
/// `since` that were ever in the stage, the share won; the stage's own
/// probability when fewer than `min_sample` such deals closed.
pub fn p_win(v: &View, since: i64, min_sample: i64) -> Vec<f64> {
    let n = v.stages().len();
    // Per position: deals through it, of which won; and (above 64 stages,
    // where the visited bits do not reach) the stays seen of the deal at hand.
    type Acc = (Vec<i64>, Vec<i64>, Vec<bool>);
    let add = |acc: &mut Acc, d: &Deal, stays: &[Stay]| {
        if !matches!(d.status, DealStatus::Won | DealStatus::Lost) || d.closed_at.is_none_or(|t| t < since) {
            return;
        }
        let won_it = i64::from(d.status == DealStatus::Won);
        let (through, won, seen) = acc;
        if n <= 64 {
            // The positions it visited, one bit each.
            let mut m = d.visited;
            while m != 0 {
                let p = m.trailing_zeros() as usize;
                through[p] += 1;
                won[p] += won_it;
                m &= m - 1;
            }
            return;
        }
        seen.iter_mut().for_each(|x| *x = false);
        for st in stays {
            let Some(p) = v.h.position(st.stage) else { continue };
            if !seen[p] {
                seen[p] = true;
                through[p] += 1;
                won[p] += won_it;
            }
        }
    };
    let merge = |mut a: Acc, b: Acc| -> Acc {
        for (x, y) in a.0.iter_mut().zip(b.0) {
            *x += y;
        }
        for (x, y) in a.1.iter_mut().zip(b.1) {
            *x += y;
        }
        a
    };
    let (through, won, _) = v.fold(|| (vec![0_i64; n], vec![0_i64; n], vec![false; n]), add, merge);
    v.stages()
        .iter()
        .enumerate()
        .map(|(p, s)| {
            if through[p] < min_sample || through[p] == 0 {
                f64::from(s.probability) / 100.0
            } else {
                won[p] as f64 / through[p] as f64
            }
        })
        .collect()
}

/// One bucket and currency of the forecast.
#[derive(Default)]
struct Bucket {
    committed: i128,
    // (amount, stage probability, p_win) of each open deal, in deal-id order.
    open: Vec<(i128, i32, f64)>,
}

/// The first day of the month or quarter of `d`.
fn bucket_start(d: NaiveDate, quarters: bool) -> NaiveDate {
    let month = if quarters {
        (d.month() - 1) / 3 * 3 + 1
    } else {
        d.month()
    };
    NaiveDate::from_ymd_opt(d.year(), month, 1).unwrap_or(d)
}

/// GetForecast over `v`.
pub fn forecast<'a>(v: &View<'a>, q: &Query) -> pb::GetForecastResponse {
    let p_win = p_win(v, q.since, q.min_sample);
    let in_range = |d: NaiveDate| q.from <= d && d <= q.to;
    let micros = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map_or(0, |t| t.and_utc().timestamp_micros());
    let (from_us, to_us) = (micros(q.from), micros(q.to) + super::DAY);
    // Per (bucket, currency): the committed sum and the open deals, each
    // with its amount, stage probability and p_win. The fold keeps the deals'
    // order (chunks are joined left to right), so the answer is the same
    // on any number of cores.
    type Buckets<'a> = BTreeMap<(NaiveDate, Key), (i128, Vec<(&'a Deal, i128, i32, f64)>)>;
    let add = |buckets: &mut Buckets<'a>, d: &'a Deal, _: &'a [Stay]| {
        let Some((currency, minor)) = d.amount() else { return };
        let key = |day: NaiveDate| (bucket_start(day, q.quarters), currency);
        match d.status {
            DealStatus::Won => {
                // Most wins lie outside the range: compare µs before making dates.
                let inside = d.closed_at.filter(|t| (from_us..to_us).contains(t));
                let day = inside.and_then(DateTime::from_timestamp_micros).map(|t| t.date_naive());
                if let Some(day) = day.filter(|&day| in_range(day)) {
                    buckets.entry(key(day)).or_default().0 += i128::from(minor);
                }
            }
            DealStatus::Open => {
                let Some(day) = d.expected_close.filter(|&day| in_range(day)) else {
                    return;
                };
                let at = v.h.position(d.stage);
                let prob = at.map(|p| &v.stages()[p]).filter(|s| s.kind == StageKind::Open);
                let prob = prob.map_or(0, |s| s.probability);
                let p = at.map_or(f64::from(prob) / 100.0, |at| p_win[at]);
                buckets
                    .entry(key(day))
                    .or_default()
                    .1
                    .push((d, i128::from(minor), prob, p));
            }
            _ => {}
        }
    };
    let merge = |mut a: Buckets<'a>, b: Buckets<'a>| {
        for (k, (committed, open)) in b {
            let e = a.entry(k).or_default();
            e.0 += committed;
            e.1.extend(open);
        }
        a
    };
    let buckets = v.fold(Buckets::new, add, merge);
    // In date, then currency code order.
    let buckets: BTreeMap<_, _> = buckets
        .into_iter()
        .map(|((start, currency), b)| ((start, v.h.currency(currency)), b))
        .collect();
    let buckets = buckets
        .into_iter()
        .map(|((start, currency), (committed, mut open))| {
            // The simulation draws for the deals in id order, so the answer
            // depends on the seed only.
            if open.len() <= SIMULATED_DEALS {
                open.sort_unstable_by(|a, b| v.h.text(a.0).id.cmp(&v.h.text(b.0).id));
            }
            let open = open.into_iter().map(|(_, m, prob, p)| (m, prob, p)).collect();
            reply(start, currency, &Bucket { committed, open }, q.seed)
        })
        .collect();
    pb::GetForecastResponse {
        buckets,
        groups: Vec::new(),
    }
}

/// Up to this many open deals in a bucket, p10/p50/p90 come from [`RUNS`]
/// simulated runs; above it, from the normal approximation of the won total
/// (see [`approximate`]).
pub const SIMULATED_DEALS: usize = 200;

/// The won total's p10, p50 and p90 by the central limit theorem: each open
/// deal adds amount x Bernoulli(p_win), so the total has mean committed +
/// sum(p a) and variance sum(p (1 - p) a^2); the percentiles are mean -
/// 1.2816 sd, mean and mean + 1.2816 sd, kept within [committed, committed +
/// every open amount]. Above [`SIMULATED_DEALS`] deals its error against the
/// simulation is a small fraction of one sd (the test bounds it by 0.1 sd);
/// the answer is exact when every p_win is 0 or 1.
fn approximate(b: &Bucket) -> [i128; 3] {
    const Z90: f64 = 1.281_551_565_545;
    let mean = b.committed as f64 + b.open.iter().map(|(m, _, p)| *m as f64 * p).sum::<f64>();
    let var: f64 = b.open.iter().map(|(m, _, p)| (*m as f64).powi(2) * p * (1.0 - p)).sum();
    let (low, high) = (
        b.committed,
        b.committed + b.open.iter().map(|(m, _, _)| m).sum::<i128>(),
    );
    let at = |z: f64| money::round_minor(mean + z * var.sqrt()).clamp(low, high);
    [at(-Z90), at(0.0), at(Z90)]
}

fn reply(start: NaiveDate, currency: &str, b: &Bucket, seed: u64) -> pb::ForecastBucket {
    let weighted_x100: i128 = b.open.iter().map(|(m, prob, _)| m * i128::from(*prob)).sum();
    let open_total: i128 = b.open.iter().map(|(m, _, _)| m).sum();
    let historical: f64 = b.open.iter().map(|(m, _, p)| *m as f64 * p).sum();
    let [p10, p50, p90] = if b.open.len() <= SIMULATED_DEALS {
        let salt = rng::fnv1a(format!("{start}/{currency}").as_bytes());
        let totals = simulate(b, seed ^ salt);
        [(1, 10), (1, 2), (9, 10)].map(|(num, den)| i128::from(nearest_rank(&totals, num, den)))
    } else {
        approximate(b)
    };
    let m = |minor: i128| Some(money::to_money(currency, minor));
    pb::ForecastBucket {
        period_start: Some(money::to_date(start)),
        committed: m(b.committed),
        weighted: m((weighted_x100 + 50) / 100),
        best_case: m(b.committed + open_total),
        historical: m(money::round_minor(historical)),
        p10: m(p10),
        p50: m(p50),
        p90: m(p90),
        open_deal_count: b.open.len() as i64,
    }
}

/// The sorted won totals of [`RUNS`] runs in which each open deal wins
/// independently with its p_win.
fn simulate(b: &Bucket, seed: u64) -> Vec<i64> {
    let mut r = rng::SplitMix64::new(seed);
    let mut totals: Vec<i64> = (0..RUNS)
        .map(|_| {
            let won: i128 = b
                .open
                .iter()
                .filter(|(_, _, p)| r.next_f64() < *p)
                .map(|(m, _, _)| m)
                .sum();
            i64::try_from(b.committed + won).unwrap_or(i64::MAX)
        })
        .collect();
    totals.sort_unstable();
    totals
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certain_outcomes_give_exact_percentiles() {
        let b = Bucket {
            committed: 100,
            open: vec![(1000, 50, 1.0), (5000, 50, 0.0), (30, 10, 1.0)],
        };
        let totals = simulate(&b, 42);
        assert!(totals.iter().all(|&t| t == 1130));
    }

    #[test]
    fn the_same_seed_gives_the_same_simulation() {
        let b = Bucket {
            committed: 0,
            open: vec![(1000, 50, 0.3), (700, 50, 0.6), (50, 10, 0.5)],
        };
        assert_eq!(simulate(&b, 7), simulate(&b, 7));
        // A coin flip over 2,000 runs: the median of one deal at p = 0.3 is 0
        // and its p90 the deal's amount.
        let one = Bucket {
            committed: 0,
            open: vec![(1000, 50, 0.3)],
        };
        let t = simulate(&one, 9);
        assert_eq!((nearest_rank(&t, 1, 2), nearest_rank(&t, 9, 10)), (0, 1000));
    }

    #[test]
    fn the_normal_approximation_stays_within_a_tenth_of_an_sd_of_the_simulation() {
        // 250 deals of 10.00 to 1,000.00 with p_win between 0.05 and 0.95.
        let mut r = rng::SplitMix64::new(2026);
        let open: Vec<_> = (0..250)
            .map(|_| {
                let amount = 1_000 + (r.next_u64() % 99_001) as i128;
                (amount, 50, 0.05 + 0.9 * r.next_f64())
            })
            .collect();
        let b = Bucket { committed: 5_000, open };
        let sd = b
            .open
            .iter()
            .map(|(m, _, p)| (*m as f64).powi(2) * p * (1.0 - p))
            .sum::<f64>()
            .sqrt();
        let totals = simulate(&b, 11);
        let simulated = [(1, 10), (1, 2), (9, 10)].map(|(num, den)| nearest_rank(&totals, num, den) as f64);
        let approximated = approximate(&b).map(|x| x as f64);
        for (s, a) in simulated.iter().zip(approximated) {
            assert!((s - a).abs() < 0.1 * sd, "simulated {s}, approximated {a}, sd {sd}");
        }
        // Certain outcomes are exact.
        let certain = Bucket {
            committed: 100,
            open: vec![(1000, 50, 1.0), (5000, 50, 0.0), (30, 10, 1.0)],
        };
        assert_eq!(approximate(&certain), [1130, 1130, 1130]);
    }

    #[test]
    fn quarters_start_on_their_first_month() {
        let d = NaiveDate::from_ymd_opt(2026, 8, 17).unwrap();
        assert_eq!(bucket_start(d, true), NaiveDate::from_ymd_opt(2026, 7, 1).unwrap());
        assert_eq!(bucket_start(d, false), NaiveDate::from_ymd_opt(2026, 8, 1).unwrap());
    }
}
