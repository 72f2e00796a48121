//! Times: microseconds since the Unix epoch on disk (portable and ordered on
//! both PostgreSQL and SQLite), `google.protobuf.Timestamp` on the wire.

use prost_types::{Duration, Timestamp};

/// Now, in microseconds since the Unix epoch.
pub fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// A stored time as a wire timestamp.
pub fn to_timestamp(micros: i64) -> Timestamp {
    Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: (micros.rem_euclid(1_000_000) * 1000) as i32,
    }
}

/// A wire timestamp as a stored time; `None` if out of range (before year 1
/// or after 9999) or with invalid nanos.
pub fn from_timestamp(ts: &Timestamp) -> Option<i64> {
    const MIN: i64 = -62_135_596_800; // 0001-01-01T00:00:00Z
    const MAX: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    if !(MIN..=MAX).contains(&ts.seconds) || !(0..1_000_000_000).contains(&ts.nanos) {
        return None;
    }
    Some(ts.seconds * 1_000_000 + i64::from(ts.nanos) / 1000)
}

/// A span of microseconds as a wire duration.
pub fn to_duration(micros: i64) -> Duration {
    Duration {
        seconds: micros / 1_000_000,
        nanos: ((micros % 1_000_000) * 1000) as i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_round_trips_through_a_timestamp() {
        let t = 1_790_000_000_123_456;
        assert_eq!(from_timestamp(&to_timestamp(t)), Some(t));
        assert_eq!(from_timestamp(&to_timestamp(-1)), Some(-1));
    }

    #[test]
    fn an_out_of_range_timestamp_is_rejected() {
        assert_eq!(
            from_timestamp(&Timestamp {
                seconds: i64::MAX,
                nanos: 0
            }),
            None
        );
        assert_eq!(from_timestamp(&Timestamp { seconds: 0, nanos: -1 }), None);
    }
}
