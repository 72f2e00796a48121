//! The analytics definitions, as pure functions over one pipeline's
//! projected history (no I/O): the history itself ([`history`]: deals and
//! their stays), what one request sees of it ([`view`]), then one module per
//! report: the funnel (and the funnels kept current deal by deal,
//! [`kept`]), durations, velocity, bottlenecks, owners and the forecast.
//! Each report is one or two passes over the deals, so it stays fast at a
//! million deals.

pub mod bottlenecks;
pub mod durations;
pub mod forecast;
pub mod funnel;
pub mod history;
pub mod kept;
pub mod money;
pub mod owners;
pub mod records;
pub mod rng;
pub mod velocity;
pub mod view;

pub use history::History;
pub use records::{Deal, DealRow, Key, NONE, Stage, Stay, Text, Transition};
pub use view::View;

/// Microseconds in a day.
pub const DAY: i64 = 86_400_000_000;

/// A half-open time interval [from, to) in µs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    /// The first instant in it.
    pub from: i64,
    /// The first instant after it.
    pub to: i64,
}

impl Period {
    /// Whether `t` lies in the period.
    pub fn contains(&self, t: i64) -> bool {
        self.from <= t && t < self.to
    }
}

/// The value at rank ceil(num/den x n) of `values` in sorted order (nearest
/// rank), found by selection (linear time; `values` is reordered); 0 when empty.
pub fn select_rank<T: Ord + Copy + Default>(values: &mut [T], num: usize, den: usize) -> T {
    if values.is_empty() {
        return T::default();
    }
    let rank = (num * values.len()).div_ceil(den).max(1).min(values.len());
    *values.select_nth_unstable(rank - 1).1
}

/// The value at rank ceil(num/den x n) of `sorted` (nearest rank); 0 when empty.
pub fn nearest_rank(sorted: &[i64], num: usize, den: usize) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (num * sorted.len()).div_ceil(den).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

/// `part / whole`, 0 when `whole` is 0.
pub fn rate(part: i64, whole: i64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_takes_the_ceiling_rank() {
        let ten: Vec<i64> = (1..=10).collect();
        assert_eq!(nearest_rank(&ten, 1, 2), 5);
        assert_eq!(nearest_rank(&ten, 9, 10), 9);
        assert_eq!(nearest_rank(&[7, 9, 30], 1, 2), 9);
        assert_eq!(nearest_rank(&[7, 9, 30], 9, 10), 30);
        assert_eq!(nearest_rank(&[4], 1, 10), 4);
        assert_eq!(nearest_rank(&[], 1, 2), 0);
        for (num, den) in [(1, 2), (9, 10), (1, 10)] {
            let mut shuffled = vec![30, 7, 9, 1, 22, 5, 9];
            let mut sorted = shuffled.clone();
            sorted.sort_unstable();
            assert_eq!(select_rank(&mut shuffled, num, den), nearest_rank(&sorted, num, den));
        }
        assert_eq!(select_rank::<i64>(&mut [], 1, 2), 0);
    }
}
