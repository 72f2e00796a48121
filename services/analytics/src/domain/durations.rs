//! Time in stage: the stays that ended in a period, and the stays still open.

use crm_proto::analytics::v1 as pb;

use super::{Period, View, select_rank};

/// Microseconds in a second.
const SECOND: i64 = 1_000_000;

/// The stays of one board stage, gathered in one pass.
#[derive(Clone, Debug, Default)]
pub struct Gathered {
    /// Lengths of the stays that ended in the period (µs), in no order.
    pub ended: Vec<i64>,
    /// Ages of the stays still open (µs).
    pub open: Vec<i64>,
}

/// The stays of every board stage (indexed by board position).
pub fn gather(v: &View, period: Period) -> Vec<Gathered> {
    let mut out = vec![Gathered::default(); v.stages().len()];
    for (_, stays) in v.deals() {
        for st in stays {
            let Some(p) = v.h.position(st.stage) else { continue };
            match st.exited {
                Some(exit) if period.contains(exit) => out[p].ended.push(exit - st.entered),
                Some(_) => {}
                None => out[p].open.push((v.now - st.entered).max(0)),
            }
        }
    }
    out
}

/// The p50 of `g`'s ended stays, in seconds.
pub fn p50_seconds(g: &mut Gathered) -> i64 {
    select_rank(&mut g.ended, 1, 2) / SECOND
}

fn mean_seconds(micros: &[i64]) -> f64 {
    if micros.is_empty() {
        return 0.0;
    }
    micros.iter().map(|&m| m as f64).sum::<f64>() / micros.len() as f64 / SECOND as f64
}

/// GetStageDurations over `v`: every stage in board order.
pub fn durations(v: &View, period: Period) -> pb::GetStageDurationsResponse {
    let stages = v
        .stages()
        .iter()
        .zip(gather(v, period))
        .map(|(s, mut g)| pb::StageDuration {
            stage_id: s.id.clone(),
            stage_name: s.name.clone(),
            count: g.ended.len() as i64,
            mean_seconds: mean_seconds(&g.ended),
            p50_seconds: p50_seconds(&mut g),
            p90_seconds: select_rank(&mut g.ended, 9, 10) / SECOND,
            open_count: g.open.len() as i64,
            open_mean_age_seconds: mean_seconds(&g.open),
            open_max_age_seconds: g.open.iter().max().copied().unwrap_or(0) / SECOND,
        })
        .collect();
    pb::GetStageDurationsResponse { stages }
}
