//! `crm.common.v1.Money` and integer minor units, as the contract defines
//! them: `nanos` must be a whole number of the currency's minor unit.
//! Every service converts through here, so they agree on every amount.

use iso_currency::Currency;

use crate::common::v1::Money;

/// The number of decimals of `code`'s minor unit, if it is an ISO 4217
/// currency amounts can be in.
pub fn exponent(code: &str) -> Option<u32> {
    Currency::from_code(code)?.exponent().map(u32::from)
}

/// `money` in minor units; `None` for an unknown currency, a fraction
/// finer than the minor unit, or an overflow.
pub fn to_minor(money: &Money) -> Option<i64> {
    let exp = exponent(&money.currency_code)?;
    let step = 10_i64.pow(9 - exp);
    if i64::from(money.nanos) % step != 0 {
        return None;
    }
    money
        .units
        .checked_mul(10_i64.pow(exp))?
        .checked_add(i64::from(money.nanos) / step)
}

/// `minor` units of `currency` as wire money (saturating at i64 units).
pub fn from_minor(currency: &str, minor: i128) -> Money {
    let exp = exponent(currency).unwrap_or(0);
    let scale = 10_i128.pow(exp);
    let units = i64::try_from(minor / scale).unwrap_or(i64::MAX);
    let nanos = ((minor % scale) * 10_i128.pow(9 - exp)) as i32;
    Money {
        currency_code: currency.to_owned(),
        units,
        nanos,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_units_round_trip_through_wire_money() {
        let m = from_minor("USD", 9999);
        assert_eq!((m.units, m.nanos), (99, 990_000_000));
        assert_eq!(to_minor(&m), Some(9999));
        assert_eq!(to_minor(&from_minor("JPY", 1200)), Some(1200));
    }

    #[test]
    fn a_fraction_finer_than_the_minor_unit_or_an_unknown_currency_has_no_minor_units() {
        let fine = Money {
            currency_code: "EUR".into(),
            units: 1,
            nanos: 5,
        };
        assert_eq!(to_minor(&fine), None);
        assert_eq!(
            to_minor(&Money {
                currency_code: "EURO".into(),
                units: 1,
                nanos: 0
            }),
            None
        );
    }
}
