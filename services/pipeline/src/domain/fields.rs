//! The caller-settable fields of a deal, parsed and validated.

use crm_kit::validate::Violations;
use crm_proto::pipeline::v1 as pb;

use super::money::Amount;
use crate::entity::deal;

/// The longest deal title.
pub const MAX_TITLE: usize = 200;

/// A date as stored: `YYYY-MM-DD`, which sorts as text (the rule custom
/// date values follow too).
pub use crm_fields::value::date as parse_date;

/// The fields a caller may set on a deal. `None` means "not given".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DealFields {
    /// The title.
    pub title: Option<String>,
    /// The amount; `Some(None)` clears it.
    pub amount: Option<Option<Amount>>,
    /// The contact; `Some(None)` clears it.
    pub contact_id: Option<Option<String>>,
    /// The company; `Some(None)` clears it.
    pub company_id: Option<Option<String>>,
    /// The owner.
    pub owner_id: Option<String>,
    /// The expected close date; `Some(None)` clears it.
    pub expected_close_date: Option<Option<String>>,
    /// The whole stored object of custom values, checked against the
    /// tenant's definitions.
    pub custom: Option<serde_json::Value>,
}

/// The names of the settable fields, as update_mask paths.
pub const SETTABLE: [&str; 6] = [
    "title",
    "amount",
    "contact_id",
    "company_id",
    "owner_id",
    "expected_close_date",
];

impl DealFields {
    /// Parses the fields of `deal` named in `paths` (all of them on create).
    pub fn parse(v: &mut Violations, deal: &pb::Deal, paths: &[&str]) -> DealFields {
        let mut f = DealFields::default();
        for path in paths {
            match *path {
                "title" => f.title = Some(v.required_text("deal.title", &deal.title, MAX_TITLE)),
                "amount" => {
                    f.amount = Some(deal.amount.as_ref().and_then(|m| Amount::parse(v, "deal.amount", m)));
                }
                "contact_id" => {
                    f.contact_id = Some(
                        v.optional_id("deal.contact_id", &deal.contact_id)
                            .map(|u| u.to_string()),
                    )
                }
                "company_id" => {
                    f.company_id = Some(
                        v.optional_id("deal.company_id", &deal.company_id)
                            .map(|u| u.to_string()),
                    )
                }
                "owner_id" if deal.owner_id.is_empty() => {}
                "owner_id" => f.owner_id = Some(v.user_id("deal.owner_id", &deal.owner_id)),
                "expected_close_date" => {
                    f.expected_close_date = Some(
                        deal.expected_close_date
                            .as_ref()
                            .and_then(|d| parse_date(v, "deal.expected_close_date", d)),
                    );
                }
                // Checked against the tenant's definitions (see DealUpdate::apply).
                p if crm_fields::values::is_custom_path(p) => {}
                other => v.add(
                    "update_mask",
                    format!("{other:?} is not an updatable deal field; use one of {SETTABLE:?}"),
                ),
            }
        }
        f
    }
}

impl DealFields {
    /// Sets the given fields on `d`.
    pub fn apply_to(&self, d: &mut deal::Model) {
        if let Some(title) = &self.title {
            d.title.clone_from(title);
        }
        if let Some(amount) = &self.amount {
            d.amount_minor = amount.as_ref().map(|a| a.minor);
            d.currency = amount.as_ref().map(|a| a.currency.clone());
        }
        if let Some(c) = &self.contact_id {
            d.contact_id.clone_from(c);
        }
        if let Some(c) = &self.company_id {
            d.company_id.clone_from(c);
        }
        if let Some(o) = &self.owner_id {
            d.owner_id.clone_from(o);
        }
        if let Some(date) = &self.expected_close_date {
            d.expected_close_date.clone_from(date);
        }
        if let Some(custom) = &self.custom {
            d.custom_fields.clone_from(custom);
        }
    }
}

#[cfg(test)]
mod tests {
    use crm_proto::common::v1 as common;

    use super::*;

    #[test]
    fn february_30th_is_not_a_date() {
        let mut v = Violations::new();
        assert_eq!(
            parse_date(
                &mut v,
                "d",
                &common::Date {
                    year: 2026,
                    month: 2,
                    day: 30
                }
            ),
            None
        );
        assert!(!v.is_empty());
    }

    #[test]
    fn dates_are_stored_as_sortable_text() {
        let mut v = Violations::new();
        let d = parse_date(
            &mut v,
            "d",
            &common::Date {
                year: 2026,
                month: 3,
                day: 9,
            },
        );
        assert_eq!(d.as_deref(), Some("2026-03-09"));
    }

    #[test]
    fn an_unknown_mask_path_is_rejected() {
        let mut v = Violations::new();
        DealFields::parse(&mut v, &pb::Deal::default(), &["stage_id"]);
        assert!(v.finish().is_err());
    }

    #[test]
    fn an_empty_title_and_a_negative_amount_are_both_reported() {
        let mut v = Violations::new();
        let deal = pb::Deal {
            amount: Some(common::Money {
                currency_code: "EUR".into(),
                units: -5,
                nanos: 0,
            }),
            ..Default::default()
        };
        DealFields::parse(&mut v, &deal, &["title", "amount"]);
        let Err(crm_kit::ApiError::InvalidArgument(found)) = v.finish() else {
            panic!()
        };
        let fields: Vec<_> = found.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["deal.title", "deal.amount"]);
    }
}
