//! Money: integer minor units plus an ISO 4217 code on disk,
//! `crm.common.v1.Money` on the wire.

pub use crm_fields::money::{Amount, MAX_MINOR};
pub use crm_proto::money::{exponent, from_minor as to_money};

/// `total x probability / 100`, rounded half up to the minor unit.
pub fn weighted(total: i128, probability: i32) -> i128 {
    (total * i128::from(probability) + 50) / 100
}

#[cfg(test)]
mod tests {
    use crm_kit::validate::Violations;
    use crm_proto::common::v1::Money;

    use super::*;

    fn parse(code: &str, units: i64, nanos: i32) -> Result<Amount, crm_kit::ApiError> {
        let mut v = Violations::new();
        let a = Amount::parse(
            &mut v,
            "amount",
            &Money {
                currency_code: code.into(),
                units,
                nanos,
            },
        );
        v.finish_with(a)
    }

    #[test]
    fn euros_and_cents_become_minor_units() {
        assert_eq!(parse("EUR", 12, 500_000_000).unwrap().minor, 1250);
        assert_eq!(parse("JPY", 1200, 0).unwrap().minor, 1200);
    }

    #[test]
    fn a_negative_amount_is_rejected() {
        assert!(parse("EUR", -1, 0).is_err());
    }

    #[test]
    fn an_unknown_currency_code_is_rejected() {
        assert!(parse("EURO", 1, 0).is_err());
        assert!(parse("eur", 1, 0).is_err());
        assert!(parse("", 1, 0).is_err());
    }

    #[test]
    fn a_fraction_finer_than_the_minor_unit_is_rejected() {
        assert!(parse("EUR", 1, 5).is_err());
        assert!(parse("JPY", 1, 500_000_000).is_err());
    }

    #[test]
    fn minor_units_round_trip_to_wire_money() {
        let a = parse("USD", 99, 990_000_000).unwrap();
        assert_eq!(
            a.to_proto(),
            Money {
                currency_code: "USD".into(),
                units: 99,
                nanos: 990_000_000
            }
        );
    }

    #[test]
    fn weighting_rounds_half_up() {
        assert_eq!(weighted(1001, 50), 501);
        assert_eq!(weighted(1000, 25), 250);
        assert_eq!(weighted(3, 50), 2);
    }
}
