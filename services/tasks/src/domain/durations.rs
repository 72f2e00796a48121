//! Durations on the wire (`google.protobuf.Duration`) as µs on disk, limited
//! to 0..=365 days.

use crm_kit::validate::Violations;
use prost_types::Duration;

/// The longest duration accepted: 365 days, in µs.
pub const MAX_MICROS: i64 = 365 * 24 * 3600 * 1_000_000;

/// The most reminders a task may have.
pub const MAX_REMINDERS: usize = 10;

/// A duration of 0 to 365 days in µs, recording a violation under `field`.
pub fn parse(v: &mut Violations, field: &str, d: &Duration) -> Option<i64> {
    if d.seconds < 0 || d.nanos < 0 {
        v.add(field, "must not be negative");
        return None;
    }
    if d.nanos >= 1_000_000_000 {
        v.add(field, "nanos must be below 1,000,000,000");
        return None;
    }
    match d
        .seconds
        .checked_mul(1_000_000)
        .and_then(|s| s.checked_add(i64::from(d.nanos) / 1000))
    {
        Some(micros) if micros <= MAX_MICROS => Some(micros),
        _ => {
            v.add(field, "must be at most 365 days");
            None
        }
    }
}

/// A reminder list (`field[i]` each 0 to 365 days, at most 10), sorted and
/// without duplicates.
pub fn parse_reminders(v: &mut Violations, field: &str, list: &[Duration]) -> Vec<i64> {
    if list.len() > MAX_REMINDERS {
        v.add(field, format!("must have at most {MAX_REMINDERS} entries"));
    }
    let mut out: Vec<i64> = list
        .iter()
        .enumerate()
        .filter_map(|(i, d)| parse(v, &format!("{field}[{i}]"), d))
        .collect();
    out.sort_unstable_by(|a, b| b.cmp(a));
    out.dedup();
    out
}

/// The stored JSON form of a reminder list.
pub fn to_json(list: &[i64]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".to_owned())
}

/// A stored reminder list; a damaged value reads as none.
pub fn from_json(text: &str) -> Vec<i64> {
    serde_json::from_str(text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_negative_reminder_is_rejected_naming_its_index() {
        let mut v = Violations::new();
        let list = [Duration { seconds: 60, nanos: 0 }, Duration { seconds: -1, nanos: 0 }];
        parse_reminders(&mut v, "task.remind_before", &list);
        let Err(crm_kit::ApiError::InvalidArgument(found)) = v.finish() else {
            panic!("expected a violation")
        };
        assert_eq!(found[0].field, "task.remind_before[1]");
    }

    #[test]
    fn more_than_a_year_is_rejected_and_a_year_is_accepted() {
        let mut v = Violations::new();
        let year = Duration {
            seconds: 365 * 24 * 3600,
            nanos: 0,
        };
        assert_eq!(parse(&mut v, "d", &year), Some(MAX_MICROS));
        let more = Duration {
            seconds: year.seconds,
            nanos: 1000,
        };
        assert_eq!(parse(&mut v, "d", &more), None);
        assert!(!v.is_empty());
    }
}
