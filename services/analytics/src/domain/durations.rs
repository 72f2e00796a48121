//! Time in stage: the stays that ended in a period, and the stays still open.

use crm_proto::analytics::v1 as pb;

use super::{History, Period, Stage, nearest_rank};

/// Microseconds in a second.
const SECOND: i64 = 1_000_000;

/// GetStageDurations for one stage.
pub fn stage_duration(h: &History, s: &Stage, period: Period) -> pb::StageDuration {
    let stays = h.deals.iter().flat_map(|(_, st)| st).filter(|st| st.stage_id == s.id);
    let mut ended = Vec::new();
    let mut open = Vec::new();
    for st in stays {
        match st.exited {
            Some(exit) if period.contains(exit) => ended.push(exit - st.entered),
            Some(_) => {}
            None => open.push((h.now - st.entered).max(0)),
        }
    }
    ended.sort_unstable();
    pb::StageDuration {
        stage_id: s.id.clone(),
        stage_name: s.name.clone(),
        count: ended.len() as i64,
        mean_seconds: mean_seconds(&ended),
        p50_seconds: nearest_rank(&ended, 1, 2) / SECOND,
        p90_seconds: nearest_rank(&ended, 9, 10) / SECOND,
        open_count: open.len() as i64,
        open_mean_age_seconds: mean_seconds(&open),
        open_max_age_seconds: open.iter().max().copied().unwrap_or(0) / SECOND,
    }
}

fn mean_seconds(micros: &[i64]) -> f64 {
    if micros.is_empty() {
        return 0.0;
    }
    micros.iter().map(|&m| m as f64).sum::<f64>() / micros.len() as f64 / SECOND as f64
}

/// GetStageDurations over `h`: every stage in board order.
pub fn durations(h: &History, period: Period) -> pb::GetStageDurationsResponse {
    pb::GetStageDurationsResponse {
        stages: h.stages.iter().map(|s| stage_duration(h, s, period)).collect(),
    }
}
