//! Rule conditions: checked when a rule is saved (their shape here, custom
//! fields against PipelineService's definitions in [`check_fields`]),
//! stored as a JSON array of each condition's protobuf encoding in base64,
//! and held against the deal an event is about ([`holds`]).

use std::cmp::Ordering;

use base64::{Engine, engine::general_purpose::STANDARD};
use crm_kit::{ApiResult, validate::Violations};
use crm_proto::{
    common::v1::{self as common, field_value::Kind},
    pipeline::v1::Deal,
    tasks::v1::{self as pb, ConditionOperator as Op},
};
use prost::Message;

/// The most conditions of one rule.
pub const MAX_CONDITIONS: usize = 20;
/// The most values of an ANY_OF.
pub const MAX_ANY_OF: usize = 100;

/// What a condition reads of the deal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    /// Its amount.
    Amount,
    /// Its owner.
    Owner,
    /// Its pipeline.
    Pipeline,
    /// Its stage.
    Stage,
    /// One of its custom values.
    Custom(String),
}

impl Subject {
    /// The subject `field` names, if any.
    pub fn of(field: &str) -> Option<Self> {
        Some(match field {
            "amount" => Self::Amount,
            "owner_id" => Self::Owner,
            "pipeline_id" => Self::Pipeline,
            "stage_id" => Self::Stage,
            f => Self::Custom(
                f.strip_prefix("custom_fields.")
                    .filter(|k| crm_fields::edit::is_key(k))?
                    .to_owned(),
            ),
        })
    }

    /// The deal's value of this subject, if it has one.
    fn read(&self, deal: &Deal) -> Option<common::FieldValue> {
        let text = |s: &str| (!s.is_empty()).then(|| value(Kind::Text(s.to_owned())));
        match self {
            Self::Amount => deal.amount.clone().map(|m| value(Kind::Money(m))),
            Self::Owner => text(&deal.owner_id),
            Self::Pipeline => text(&deal.pipeline_id),
            Self::Stage => text(&deal.stage_id),
            Self::Custom(key) => deal.custom_fields.get(key).cloned(),
        }
    }
}

fn value(kind: Kind) -> common::FieldValue {
    common::FieldValue { kind: Some(kind) }
}

/// The FieldValue case of `v`, as the proto names it.
fn case(v: &common::FieldValue) -> &'static str {
    match &v.kind {
        Some(Kind::Text(_)) => "text",
        Some(Kind::Number(_)) => "number",
        Some(Kind::Money(_)) => "money",
        Some(Kind::Date(_)) => "date",
        Some(Kind::Datetime(_)) => "datetime",
        Some(Kind::Boolean(_)) => "boolean",
        Some(Kind::Option(_)) => "option",
        Some(Kind::Options(_)) => "options",
        None => "",
    }
}

/// Checks the conditions' shape, naming `rule.conditions[i]...`.
pub fn parse(v: &mut Violations, conditions: &[pb::RuleCondition]) -> Vec<pb::RuleCondition> {
    if conditions.len() > MAX_CONDITIONS {
        v.add(
            "rule.conditions",
            format!("at most {MAX_CONDITIONS} conditions (got {})", conditions.len()),
        );
        return Vec::new();
    }
    for (i, c) in conditions.iter().enumerate() {
        let at = format!("rule.conditions[{i}]");
        let Some(subject) = Subject::of(&c.field) else {
            v.add(
                format!("{at}.field"),
                "must be amount, owner_id, pipeline_id, stage_id or custom_fields.<key>",
            );
            continue;
        };
        let op = Op::try_from(c.operator).unwrap_or(Op::Unspecified);
        let fixed_case = match subject {
            Subject::Amount => Some("money"),
            Subject::Owner | Subject::Pipeline | Subject::Stage => Some("text"),
            Subject::Custom(_) => None,
        };
        let compared: Vec<&common::FieldValue> = match op {
            Op::Unspecified => {
                v.add(format!("{at}.operator"), "is required");
                continue;
            }
            Op::IsSet | Op::IsEmpty => Vec::new(),
            Op::AnyOf if c.values.is_empty() || c.values.len() > MAX_ANY_OF => {
                v.add(format!("{at}.values"), format!("ANY_OF takes 1 to {MAX_ANY_OF} values"));
                continue;
            }
            Op::AnyOf => c.values.iter().collect(),
            _ => match &c.value {
                Some(x) if x.kind.is_some() => vec![x],
                _ => {
                    v.add(format!("{at}.value"), "is required for this operator");
                    continue;
                }
            },
        };
        if matches!(op, Op::GreaterThan | Op::LessThan) && fixed_case == Some("text") {
            v.add(
                format!("{at}.operator"),
                "GREATER_THAN and LESS_THAN compare amounts, numbers, money and dates",
            );
        }
        if let Some(want) = fixed_case
            && compared.iter().any(|x| case(x) != want)
        {
            v.add(
                format!("{at}.value"),
                format!("{} is compared with a `{want}` value", c.field),
            );
        }
    }
    conditions.to_vec()
}

/// The custom keys the conditions name, with each condition's index.
pub fn custom_keys(conditions: &[pb::RuleCondition]) -> Vec<(usize, String)> {
    conditions
        .iter()
        .enumerate()
        .filter_map(|(i, c)| match Subject::of(&c.field) {
            Some(Subject::Custom(k)) => Some((i, k)),
            _ => None,
        })
        .collect()
}

/// Checks custom-field conditions against the tenant's active deal fields
/// `defs`: the field exists, the values are of its type and options of it.
pub fn check_fields(conditions: &[pb::RuleCondition], defs: &[common::FieldDefinition]) -> ApiResult<()> {
    let mut v = Violations::new();
    for (i, key) in custom_keys(conditions) {
        let c = &conditions[i];
        let at = format!("rule.conditions[{i}]");
        let Some(def) = defs.iter().find(|d| d.key == key) else {
            v.add(
                format!("{at}.field"),
                format!("{key:?} is not an active custom deal field"),
            );
            continue;
        };
        let Some(kind) = crm_fields::FieldType::from_proto(def.r#type) else {
            continue;
        };
        let op = Op::try_from(c.operator).unwrap_or(Op::Unspecified);
        if matches!(op, Op::GreaterThan | Op::LessThan) && !kind.is_ordered() {
            v.add(
                format!("{at}.operator"),
                format!("a {} field has no order", kind.as_str()),
            );
        }
        let given = c.value.iter().chain(&c.values);
        for x in given {
            // An ANY_OF on a multi select lists single options.
            let want = if op == Op::AnyOf && kind == crm_fields::FieldType::MultiSelect {
                "option"
            } else {
                kind.case()
            };
            if case(x) != want {
                v.add(
                    format!("{at}.value"),
                    format!("{key} is compared with a `{want}` value"),
                );
            }
            let ids: Vec<&String> = match &x.kind {
                Some(Kind::Option(id)) => vec![id],
                Some(Kind::Options(o)) => o.ids.iter().collect(),
                _ => Vec::new(),
            };
            if let Some(bad) = ids.iter().find(|id| !def.options.iter().any(|o| &o.id == **id)) {
                v.add(format!("{at}.value"), format!("{bad:?} is not an option of {key}"));
            }
        }
    }
    v.finish()
}

/// The stored form of `conditions`.
pub fn to_db(conditions: &[pb::RuleCondition]) -> String {
    let encoded: Vec<String> = conditions.iter().map(|c| STANDARD.encode(c.encode_to_vec())).collect();
    serde_json::to_string(&encoded).unwrap_or_else(|_| "[]".to_owned())
}

/// The conditions of a stored rule (what cannot be read is dropped).
pub fn from_db(stored: &str) -> Vec<pb::RuleCondition> {
    let encoded: Vec<String> = serde_json::from_str(stored).unwrap_or_default();
    encoded
        .iter()
        .filter_map(|e| STANDARD.decode(e).ok())
        .filter_map(|b| pb::RuleCondition::decode(b.as_slice()).ok())
        .collect()
}

/// Whether every condition holds for `deal`.
pub fn holds(conditions: &[pb::RuleCondition], deal: &Deal) -> bool {
    conditions.iter().all(|c| one(c, deal))
}

fn one(c: &pb::RuleCondition, deal: &Deal) -> bool {
    let Some(subject) = Subject::of(&c.field) else {
        return false;
    };
    let actual = subject.read(deal);
    let op = Op::try_from(c.operator).unwrap_or(Op::Unspecified);
    let given = c.value.as_ref();
    match (op, &actual) {
        (Op::IsSet, a) => a.is_some(),
        (Op::IsEmpty, a) => a.is_none(),
        (Op::NotEquals, None) => true,
        (_, None) => false,
        (Op::Equals, Some(a)) => given.is_some_and(|g| equal(a, g)),
        (Op::NotEquals, Some(a)) => given.is_some_and(|g| !equal(a, g)),
        (Op::AnyOf, Some(a)) => c.values.iter().any(|g| equal(a, g) || holds_option(a, g)),
        (Op::GreaterThan, Some(a)) => given.and_then(|g| order(a, g)) == Some(Ordering::Greater),
        (Op::LessThan, Some(a)) => given.and_then(|g| order(a, g)) == Some(Ordering::Less),
        (Op::Unspecified, _) => false,
    }
}

/// Whether a multi-select value `a` holds the option `g`.
fn holds_option(a: &common::FieldValue, g: &common::FieldValue) -> bool {
    match (&a.kind, &g.kind) {
        (Some(Kind::Options(held)), Some(Kind::Option(id))) => held.ids.contains(id),
        _ => false,
    }
}

fn equal(a: &common::FieldValue, b: &common::FieldValue) -> bool {
    match (&a.kind, &b.kind) {
        (Some(Kind::Options(x)), Some(Kind::Options(y))) => {
            let (mut x, mut y) = (x.ids.clone(), y.ids.clone());
            x.sort();
            y.sort();
            x == y
        }
        _ => order(a, b) == Some(Ordering::Equal) || a == b,
    }
}

/// How `a` compares with `b` when both are of one ordered kind.
fn order(a: &common::FieldValue, b: &common::FieldValue) -> Option<Ordering> {
    match (a.kind.as_ref()?, b.kind.as_ref()?) {
        (Kind::Number(x), Kind::Number(y)) => x.partial_cmp(y),
        (Kind::Money(x), Kind::Money(y)) if x.currency_code == y.currency_code => {
            crm_proto::money::to_minor(x)?.partial_cmp(&crm_proto::money::to_minor(y)?)
        }
        (Kind::Date(x), Kind::Date(y)) => (x.year, x.month, x.day).partial_cmp(&(y.year, y.month, y.day)),
        (Kind::Datetime(x), Kind::Datetime(y)) => (x.seconds, x.nanos).partial_cmp(&(y.seconds, y.nanos)),
        _ => None,
    }
}

/// A custom value as a task title shows it.
pub fn display(v: &common::FieldValue) -> String {
    match &v.kind {
        Some(Kind::Text(s) | Kind::Option(s)) => s.clone(),
        Some(Kind::Number(n)) => n.to_string(),
        Some(Kind::Money(m)) => super::template::money(m),
        Some(Kind::Date(d)) => format!("{:04}-{:02}-{:02}", d.year, d.month, d.day),
        Some(Kind::Datetime(t)) => chrono::DateTime::from_timestamp(t.seconds, 0)
            .map(|d| d.to_rfc3339())
            .unwrap_or_default(),
        Some(Kind::Boolean(b)) => if *b { "yes" } else { "no" }.to_owned(),
        Some(Kind::Options(o)) => o.ids.join(", "),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(field: &str, op: Op, v: Option<common::FieldValue>) -> pb::RuleCondition {
        pb::RuleCondition {
            field: field.into(),
            operator: op as i32,
            value: v,
            values: Vec::new(),
        }
    }

    fn eur(units: i64) -> common::FieldValue {
        value(Kind::Money(common::Money {
            currency_code: "EUR".into(),
            units,
            nanos: 0,
        }))
    }

    #[test]
    fn conditions_on_the_amount_and_a_custom_field_must_all_hold() {
        let mut deal = Deal {
            amount: eur(5_000)
                .kind
                .and_then(|k| if let Kind::Money(m) = k { Some(m) } else { None }),
            ..Default::default()
        };
        deal.custom_fields
            .insert("region".into(), value(Kind::Text("emea".into())));
        let big = cond("amount", Op::GreaterThan, Some(eur(1_000)));
        let emea = cond(
            "custom_fields.region",
            Op::Equals,
            Some(value(Kind::Text("emea".into()))),
        );
        assert!(holds(&[big.clone(), emea.clone()], &deal));
        let apac = cond(
            "custom_fields.region",
            Op::Equals,
            Some(value(Kind::Text("apac".into()))),
        );
        assert!(!holds(&[big, apac], &deal));
        assert!(holds(&[cond("custom_fields.tier", Op::IsEmpty, None)], &deal));
        assert!(holds(
            &[cond(
                "custom_fields.tier",
                Op::NotEquals,
                Some(value(Kind::Option("gold".into())))
            )],
            &deal
        ));
        assert!(!holds(&[cond("amount", Op::LessThan, Some(eur(5_000)))], &deal));
    }

    #[test]
    fn conditions_survive_their_stored_form() {
        let c = vec![cond("amount", Op::GreaterThan, Some(eur(10)))];
        assert_eq!(from_db(&to_db(&c)), c);
    }

    #[test]
    fn a_text_subject_has_no_order_and_an_unknown_field_is_named() {
        let mut v = Violations::new();
        parse(
            &mut v,
            &[
                cond("owner_id", Op::GreaterThan, Some(value(Kind::Text("a".into())))),
                cond("title", Op::IsSet, None),
            ],
        );
        let Err(crm_kit::ApiError::InvalidArgument(found)) = v.finish() else {
            panic!()
        };
        let fields: Vec<_> = found.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["rule.conditions[0].operator", "rule.conditions[1].field"]);
    }
}
