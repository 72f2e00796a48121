//! One custom value: checked against its definition into the stored JSON
//! form, and back to the wire.
//!
//! Stored forms (what the records' `custom_fields` JSON holds, and what
//! filters compare): text types as strings; numbers as JSON numbers; money
//! as integer minor units of the field's currency; dates as `YYYY-MM-DD`;
//! datetimes as integer microseconds since the epoch; booleans; a single
//! select as its option id; a multi select as an array of option ids in
//! the field's option order.

use crm_kit::{time, validate::Violations};
use crm_proto::common::v1::{self as common, field_value::Kind};
use serde_json::{Value as Json, json};

use crate::{FieldType, definition::Definition};

/// TEXT's default and largest `max_length`.
pub const DEFAULT_TEXT: u32 = 255;
/// TEXT's largest `max_length`.
pub const MAX_TEXT: u32 = 1_000;
/// LONG_TEXT's default `max_length`.
pub const DEFAULT_LONG_TEXT: u32 = 10_000;
/// LONG_TEXT's largest `max_length`.
pub const MAX_LONG_TEXT: u32 = 65_536;
/// The longest email address.
pub const MAX_EMAIL: usize = 254;
/// The longest URL.
pub const MAX_URL: usize = 2_048;

/// What a value is checked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// To be stored on a record: every rule of the definition.
    Store,
    /// To compare in a filter: the right case and form, not the bounds.
    Filter,
}

/// The stored form of `value` for the field `def`, recording violations
/// under `field`.
pub fn parse(
    v: &mut Violations,
    field: &str,
    def: &Definition,
    value: &common::FieldValue,
    purpose: Purpose,
) -> Option<Json> {
    let Some(kind) = &value.kind else {
        v.add(
            field,
            format!("must hold a `{}` value ({} field)", def.kind.case(), def.kind.as_str()),
        );
        return None;
    };
    let bad_case = |v: &mut Violations| {
        v.add(
            field,
            format!(
                "must be a `{}` value: the field's type is {}",
                def.kind.case(),
                def.kind.as_str()
            ),
        );
        None
    };
    match (def.kind, kind) {
        (
            FieldType::Text
            | FieldType::LongText
            | FieldType::User
            | FieldType::Email
            | FieldType::Url
            | FieldType::Phone,
            Kind::Text(s),
        ) => text(v, field, def, s, purpose).map(Json::from),
        (FieldType::Number, Kind::Number(n)) => number(v, field, def, *n, purpose),
        (FieldType::Money, Kind::Money(m)) => money(v, field, def, m),
        (FieldType::Date, Kind::Date(d)) => date(v, field, d).map(Json::from),
        (FieldType::Datetime, Kind::Datetime(ts)) => datetime(v, field, ts),
        (FieldType::Boolean, Kind::Boolean(b)) => Some(Json::Bool(*b)),
        (FieldType::SingleSelect, Kind::Option(id)) => option(v, field, def, id).map(Json::from),
        (FieldType::MultiSelect, Kind::Options(ids)) => options(v, field, def, &ids.ids),
        _ => bad_case(v),
    }
}

fn text(v: &mut Violations, field: &str, def: &Definition, s: &str, purpose: Purpose) -> Option<String> {
    let s = s.trim();
    if s.is_empty() {
        v.add(field, "must not be empty (leave the key out to clear the value)");
        return None;
    }
    match text_problem(def, s, purpose) {
        Some(why) => {
            v.add(field, why);
            None
        }
        None => Some(s.to_owned()),
    }
}

/// What is wrong with the (trimmed, non-empty) text `s` for `def`, if anything.
fn text_problem(def: &Definition, s: &str, purpose: Purpose) -> Option<String> {
    let n = s.chars().count();
    let visible = !s.chars().any(|c| c.is_whitespace() || c.is_control());
    match def.kind {
        FieldType::Text | FieldType::LongText => {
            let max = def.max_length() as usize;
            let lines_ok = def.kind == FieldType::LongText || !s.contains('\n');
            if purpose == Purpose::Store && n > max {
                Some(format!("must be at most {max} characters (got {n})"))
            } else if !lines_ok || s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
                Some("must not contain line breaks or control characters".into())
            } else {
                None
            }
        }
        FieldType::User => (n > 100 || s.chars().any(char::is_whitespace))
            .then(|| "must be a user id: 1 to 100 characters without spaces".into()),
        FieldType::Email => {
            let shaped = s.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
            });
            let ok = n <= MAX_EMAIL && shaped && s.matches('@').count() == 1 && visible;
            (!ok).then(|| format!("must be an email address such as ann@example.com, at most {MAX_EMAIL} characters"))
        }
        FieldType::Url => {
            let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://"));
            let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
            let ok = n <= MAX_URL && host.is_some_and(|h| !h.is_empty()) && visible;
            (!ok).then(|| {
                format!("must be an http or https URL such as https://example.com, at most {MAX_URL} characters")
            })
        }
        FieldType::Phone => {
            let digits = s.chars().filter(char::is_ascii_digit).count();
            let chars_ok = s.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c));
            (!(5..=32).contains(&n) || digits < 5 || !chars_ok)
                .then(|| "must be a phone number: digits, spaces and + - ( ) ., 5 to 32 characters".into())
        }
        _ => None,
    }
}

fn number(v: &mut Violations, field: &str, def: &Definition, n: f64, purpose: Purpose) -> Option<Json> {
    if !n.is_finite() {
        v.add(field, "must be a finite number");
        return None;
    }
    if purpose == Purpose::Store {
        if let Some(min) = def.spec.min.filter(|min| n < *min) {
            v.add(field, format!("must be at least {min} (got {n})"));
            return None;
        }
        if let Some(max) = def.spec.max.filter(|max| n > *max) {
            v.add(field, format!("must be at most {max} (got {n})"));
            return None;
        }
        let decimals = def.spec.decimals.unwrap_or(0);
        let scaled = n * 10f64.powi(decimals as i32);
        if (scaled - scaled.round()).abs() > 1e-6 * scaled.abs().max(1.0) {
            v.add(field, format!("must have at most {decimals} decimal places (got {n})"));
            return None;
        }
    }
    serde_json::Number::from_f64(n).map(Json::Number)
}

fn money(v: &mut Violations, field: &str, def: &Definition, m: &common::Money) -> Option<Json> {
    let currency = def.spec.currency.as_deref().unwrap_or_default();
    if m.currency_code != currency {
        v.add(
            format!("{field}.currency_code"),
            format!("must be {currency}, the field's currency"),
        );
        return None;
    }
    crate::money::Amount::parse(v, field, m).map(|a| json!(a.minor))
}

/// A wire date as stored, `YYYY-MM-DD`.
pub fn date(v: &mut Violations, field: &str, d: &common::Date) -> Option<String> {
    let valid = u32::try_from(d.month)
        .ok()
        .zip(u32::try_from(d.day).ok())
        .filter(|_| (1..=9999).contains(&d.year))
        .and_then(|(m, day)| chrono::NaiveDate::from_ymd_opt(d.year, m, day));
    match valid {
        Some(d) => Some(d.format("%Y-%m-%d").to_string()),
        None => {
            v.add(field, "must be a valid calendar date with year 1 to 9999");
            None
        }
    }
}

fn datetime(v: &mut Violations, field: &str, ts: &prost_types::Timestamp) -> Option<Json> {
    // Year 1 to 9999, as dates.
    let ok = (-62_135_596_800..=253_402_300_799).contains(&ts.seconds) && (0..1_000_000_000).contains(&ts.nanos);
    if !ok {
        v.add(field, "must be a valid time between years 1 and 9999");
        return None;
    }
    Some(json!(ts.seconds * 1_000_000 + i64::from(ts.nanos / 1_000)))
}

fn option(v: &mut Violations, field: &str, def: &Definition, id: &str) -> Option<String> {
    if def.option(id).is_none() {
        v.add(
            field,
            format!("{id:?} is not an option of the field ({})", option_list(def)),
        );
        return None;
    }
    Some(id.to_owned())
}

fn options(v: &mut Violations, field: &str, def: &Definition, ids: &[String]) -> Option<Json> {
    let before = ids.len();
    for (i, id) in ids.iter().enumerate() {
        if def.option(id).is_none() {
            v.add(
                format!("{field}.ids[{i}]"),
                format!("{id:?} is not an option of the field ({})", option_list(def)),
            );
            return None;
        }
        if ids[..i].contains(id) {
            v.add(format!("{field}.ids[{i}]"), format!("{id:?} is given twice"));
            return None;
        }
    }
    // Canonical: the field's option order, so equal sets store equally.
    let chosen: Vec<Json> = def
        .spec
        .options
        .iter()
        .filter(|o| ids.contains(&o.id))
        .map(|o| Json::from(o.id.clone()))
        .collect();
    debug_assert_eq!(chosen.len(), before);
    Some(Json::Array(chosen))
}

/// The first few option ids, for messages.
fn option_list(def: &Definition) -> String {
    let ids: Vec<&str> = def.spec.options.iter().take(10).map(|o| o.id.as_str()).collect();
    let more = if def.spec.options.len() > 10 { ", ..." } else { "" };
    format!("one of {}{more}", ids.join(", "))
}

/// The wire form of a stored value of `def`; `None` if it does not fit
/// the type (never written by this crate).
pub fn to_proto(def: &Definition, stored: &Json) -> Option<common::FieldValue> {
    let kind = match def.kind {
        FieldType::Text
        | FieldType::LongText
        | FieldType::User
        | FieldType::Email
        | FieldType::Url
        | FieldType::Phone => Kind::Text(stored.as_str()?.to_owned()),
        FieldType::Number => Kind::Number(stored.as_f64()?),
        FieldType::Money => Kind::Money(crm_proto::money::from_minor(
            def.spec.currency.as_deref().unwrap_or_default(),
            i128::from(stored.as_i64()?),
        )),
        FieldType::Date => {
            let d = chrono::NaiveDate::parse_from_str(stored.as_str()?, "%Y-%m-%d").ok()?;
            use chrono::Datelike;
            Kind::Date(common::Date {
                year: d.year(),
                month: d.month() as i32,
                day: d.day() as i32,
            })
        }
        FieldType::Datetime => Kind::Datetime(time::to_timestamp(stored.as_i64()?)),
        FieldType::Boolean => Kind::Boolean(stored.as_bool()?),
        FieldType::SingleSelect => Kind::Option(stored.as_str()?.to_owned()),
        FieldType::MultiSelect => Kind::Options(common::OptionIds {
            ids: stored
                .as_array()?
                .iter()
                .filter_map(|id| id.as_str().map(str::to_owned))
                .collect(),
        }),
    };
    Some(common::FieldValue { kind: Some(kind) })
}
