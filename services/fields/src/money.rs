//! Money as the CRM stores it: integer minor units of a known currency,
//! never negative, at most [`MAX_MINOR`]; deal amounts and money custom
//! values share this rule.

use crm_kit::validate::Violations;
use crm_proto::{
    common::v1::Money,
    money::{exponent, from_minor as to_money},
};

/// A non-negative amount in minor units of a known currency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Amount {
    /// The upper-case ISO 4217 code.
    pub currency: String,
    /// The amount in minor units (cents for USD).
    pub minor: i64,
}

impl Amount {
    /// Parses a wire amount, recording violations under `field`.
    pub fn parse(v: &mut Violations, field: &str, money: &Money) -> Option<Amount> {
        let code = money.currency_code.as_str();
        let Some(exp) = exponent(code) else {
            v.add(
                format!("{field}.currency_code"),
                format!("{code:?} is not an ISO 4217 currency code such as \"EUR\""),
            );
            return None;
        };
        if money.units < 0 || money.nanos < 0 {
            v.add(field, "must not be negative");
            return None;
        }
        if money.nanos >= 1_000_000_000 {
            v.add(format!("{field}.nanos"), "must be below 1,000,000,000");
            return None;
        }
        let nano_step = 10_i64.pow(9 - exp);
        if i64::from(money.nanos) % nano_step != 0 {
            v.add(
                format!("{field}.nanos"),
                format!("{code} has {exp} decimals; nanos must be a multiple of {nano_step}"),
            );
            return None;
        }
        // The currency and the fraction were checked above: only an overflow is left.
        match crm_proto::money::to_minor(money) {
            Some(minor) if minor <= MAX_MINOR => Some(Amount {
                currency: code.to_owned(),
                minor,
            }),
            _ => {
                v.add(format!("{field}.units"), "is too large");
                None
            }
        }
    }

    /// The wire form.
    pub fn to_proto(&self) -> Money {
        to_money(&self.currency, i128::from(self.minor))
    }
}

/// The largest amount accepted (10^15 minor units), so sums of many deals
/// never overflow.
pub const MAX_MINOR: i64 = 1_000_000_000_000_000;
