//! A customer's purchase summary: its deals' counts and sums by status and
//! currency, folded into what a sales rep asks ("what has this customer
//! bought, and what is still open").

use std::collections::BTreeMap;

use crm_kit::{ApiError, ApiResult, time, validate::Violations};
use crm_proto::pipeline::v1 as pb;

use super::{DealStatus, money::to_money};

/// Whose deals to sum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Customer {
    /// A contact's.
    Contact(String),
    /// A company's.
    Company(String),
}

impl Customer {
    /// Parses the request: exactly one of contact_id and company_id.
    pub fn parse(req: &pb::GetPurchaseSummaryRequest) -> ApiResult<Self> {
        let mut v = Violations::new();
        let contact = v.optional_id("contact_id", &req.contact_id);
        let company = v.optional_id("company_id", &req.company_id);
        v.finish()?;
        match (contact, company) {
            (Some(c), None) => Ok(Self::Contact(c.to_string())),
            (None, Some(c)) => Ok(Self::Company(c.to_string())),
            _ => Err(ApiError::invalid(
                "contact_id",
                "give exactly one of contact_id and company_id",
            )),
        }
    }
}

/// One group of a customer's deals: (status, currency, count, summed minor
/// units, first closed_at, last closed_at).
pub type Group = (String, Option<String>, i64, Option<i64>, Option<i64>, Option<i64>);

/// The summary of `groups`.
pub fn summary(groups: Vec<Group>) -> pb::GetPurchaseSummaryResponse {
    let mut reply = pb::GetPurchaseSummaryResponse::default();
    let (mut won, mut open) = (BTreeMap::<String, i128>::new(), BTreeMap::<String, i128>::new());
    let (mut first, mut last): (Option<i64>, Option<i64>) = (None, None);
    for (status, currency, count, total, min_closed, max_closed) in groups {
        let sums = match DealStatus::from_db(&status) {
            DealStatus::Won => {
                reply.won_count += count;
                first = first.into_iter().chain(min_closed).min();
                last = last.into_iter().chain(max_closed).max();
                &mut won
            }
            DealStatus::Open => {
                reply.open_count += count;
                &mut open
            }
            DealStatus::Lost => {
                reply.lost_count += count;
                continue;
            }
        };
        if let (Some(c), Some(t)) = (currency, total) {
            *sums.entry(c).or_default() += i128::from(t);
        }
    }
    reply.won_total = won.iter().map(|(c, m)| to_money(c, *m)).collect();
    reply.open_total = open.iter().map(|(c, m)| to_money(c, *m)).collect();
    reply.first_purchase_time = first.map(time::to_timestamp);
    reply.last_purchase_time = last.map(time::to_timestamp);
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn won_deals_sum_per_currency_and_lost_ones_only_count() {
        let g = |s: &str, c: &str, n, t, lo, hi| (s.to_owned(), Some(c.to_owned()), n, Some(t), lo, hi);
        let reply = summary(vec![
            g("won", "EUR", 2, 1_500, Some(10), Some(30)),
            g("won", "USD", 1, 700, Some(5), Some(5)),
            g("open", "EUR", 3, 900, None, None),
            g("lost", "EUR", 4, 100, Some(1), Some(99)),
        ]);
        assert_eq!((reply.won_count, reply.open_count, reply.lost_count), (3, 3, 4));
        let codes: Vec<_> = reply
            .won_total
            .iter()
            .map(|m| (m.currency_code.as_str(), m.units))
            .collect();
        assert_eq!(codes, [("EUR", 15), ("USD", 7)]);
        assert_eq!(reply.first_purchase_time, Some(time::to_timestamp(5)));
        assert_eq!(reply.last_purchase_time, Some(time::to_timestamp(30)));
    }

    #[test]
    fn naming_both_or_neither_customer_is_rejected() {
        let both = pb::GetPurchaseSummaryRequest {
            contact_id: crm_kit::validate::new_id().to_string(),
            company_id: crm_kit::validate::new_id().to_string(),
        };
        assert!(Customer::parse(&both).is_err());
        assert!(Customer::parse(&pb::GetPurchaseSummaryRequest::default()).is_err());
    }
}
