//! Money and dates: minor units of an ISO 4217 currency on disk,
//! `crm.common.v1.Money` on the wire; dates as CE day numbers on disk.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use crm_proto::common::v1::{Date, Money};

/// A wire amount as (currency, minor units); `None` for an unknown currency
/// or a fraction finer than the minor unit.
pub fn to_minor(m: &Money) -> Option<(String, i64)> {
    Some((m.currency_code.clone(), crm_proto::money::to_minor(m)?))
}

/// `minor` units of `currency` as wire money (saturating at i64 units).
pub use crm_proto::money::from_minor as to_money;

/// A fractional amount of minor units, rounded half away from zero.
pub fn round_minor(x: f64) -> i128 {
    x.round() as i128
}

/// Totals per currency, in code order, on the wire.
pub fn totals<K: AsRef<str>>(sums: &BTreeMap<K, i128>) -> Vec<Money> {
    sums.iter().map(|(c, m)| to_money(c.as_ref(), *m)).collect()
}

/// A wire date as a CE day number; `None` if it is not a real date.
pub fn date_to_day(d: &Date) -> Option<i32> {
    Some(parse_date(d)?.num_days_from_ce())
}

/// A wire date as a calendar date; `None` if it is not a real date.
pub fn parse_date(d: &Date) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(d.year, u32::try_from(d.month).ok()?, u32::try_from(d.day).ok()?)
}

/// A calendar date on the wire.
pub fn to_date(d: NaiveDate) -> Date {
    Date {
        year: d.year(),
        month: d.month() as i32,
        day: d.day() as i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_money_round_trips_through_minor_units() {
        let m = Money {
            currency_code: "EUR".into(),
            units: 12,
            nanos: 500_000_000,
        };
        assert_eq!(to_minor(&m), Some(("EUR".into(), 1250)));
        assert_eq!(to_money("EUR", 1250), m);
        assert_eq!(to_money("JPY", 1200).units, 1200);
    }

    #[test]
    fn an_unknown_currency_has_no_minor_units() {
        let m = Money {
            currency_code: "XXXX".into(),
            units: 1,
            nanos: 0,
        };
        assert_eq!(to_minor(&m), None);
    }

    #[test]
    fn an_impossible_date_is_rejected() {
        assert!(
            date_to_day(&Date {
                year: 2026,
                month: 2,
                day: 30
            })
            .is_none()
        );
        assert!(
            date_to_day(&Date {
                year: 2026,
                month: 2,
                day: 28
            })
            .is_some()
        );
    }
}
