//! Filters on custom values: parsed against the tenant's definitions, then
//! turned into SQL on the record table's `custom_fields` column.
//!
//! On PostgreSQL equality and any-of are `custom_fields @> {...}`
//! containment, which the column's GIN index (`jsonb_path_ops`) answers;
//! ranges read `custom_fields ->> key`. On SQLite they use `json_extract`
//! and `json_each`.

use crm_kit::{ApiResult, validate::Violations};
use crm_proto::common::v1 as common;
use sea_orm::{
    Condition, DbBackend,
    sea_query::{Expr, SimpleExpr},
};
use serde_json::{Value as Json, json};

use crate::{
    FieldType,
    definition::Definitions,
    value::{self, Purpose},
};

/// The most custom-field filters per list call.
pub const MAX_FILTERS: usize = 10;
/// The most option ids of one any-of filter.
pub const MAX_ANY_OF: usize = 100;

/// What one filter asks of a field.
#[derive(Clone, Debug, PartialEq)]
pub enum Test {
    /// The stored value equals this.
    Equals(Json),
    /// A single select holds one of these, or a multi select at least one.
    AnyOf(Vec<String>, bool),
    /// The stored value is within these bounds (inclusive), either open.
    Range(Option<Json>, Option<Json>),
}

/// One valid filter.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldCondition {
    /// The field's key (lower snake case).
    pub key: String,
    /// What its value must satisfy.
    pub test: Test,
    /// Whether the stored values are numbers (ranges compare numerically).
    pub numeric: bool,
}

/// Parses `filters` (named `field_filters[i]` in violations).
pub fn parse(defs: &Definitions, filters: &[common::FieldFilter]) -> ApiResult<Vec<FieldCondition>> {
    if filters.len() > MAX_FILTERS {
        let why = format!("at most {MAX_FILTERS} filters (got {})", filters.len());
        return Err(crm_kit::ApiError::invalid("field_filters", why));
    }
    let mut v = Violations::new();
    let out = filters
        .iter()
        .enumerate()
        .filter_map(|(i, f)| one(&mut v, defs, i, f))
        .collect();
    v.finish()?;
    Ok(out)
}

fn one(v: &mut Violations, defs: &Definitions, i: usize, f: &common::FieldFilter) -> Option<FieldCondition> {
    let at = format!("field_filters[{i}]");
    let Some(def) = defs.active(&f.key) else {
        v.add(
            format!("{at}.key"),
            format!("{:?} is not an active custom field", f.key),
        );
        return None;
    };
    let given = [
        f.equals.is_some(),
        !f.any_of.is_empty(),
        f.min.is_some() || f.max.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        v.add(&at, "give exactly one of equals, any_of, or min and/or max");
        return None;
    }
    let numeric = matches!(def.kind, FieldType::Number | FieldType::Money | FieldType::Datetime);
    let test = if let Some(eq) = &f.equals {
        if def.kind == FieldType::MultiSelect {
            v.add(format!("{at}.equals"), "a multi-select field is filtered with any_of");
            return None;
        }
        Test::Equals(value::parse(v, &format!("{at}.equals"), def, eq, Purpose::Filter)?)
    } else if !f.any_of.is_empty() {
        if !def.kind.is_select() || f.any_of.len() > MAX_ANY_OF {
            v.add(
                format!("{at}.any_of"),
                format!("takes 1 to {MAX_ANY_OF} options of a select field"),
            );
            return None;
        }
        if let Some(bad) = f.any_of.iter().find(|id| def.option(id).is_none()) {
            v.add(format!("{at}.any_of"), format!("{bad:?} is not an option of the field"));
            return None;
        }
        Test::AnyOf(f.any_of.clone(), def.kind == FieldType::MultiSelect)
    } else {
        if !def.kind.is_ordered() {
            v.add(
                &at,
                format!(
                    "min and max filter number, money, date and datetime fields, not {}",
                    def.kind.as_str()
                ),
            );
            return None;
        }
        let bound = |v: &mut Violations, name: &str, b: &Option<common::FieldValue>| {
            b.as_ref()
                .and_then(|b| value::parse(v, &format!("{at}.{name}"), def, b, Purpose::Filter))
        };
        Test::Range(bound(v, "min", &f.min), bound(v, "max", &f.max))
    };
    Some(FieldCondition {
        key: f.key.clone(),
        test,
        numeric,
    })
}

/// The SQL condition of `conditions` (all must hold) on `backend`.
pub fn condition(backend: DbBackend, conditions: &[FieldCondition]) -> Condition {
    conditions
        .iter()
        .fold(Condition::all(), |all, c| all.add(expr(backend, c)))
}

fn expr(backend: DbBackend, c: &FieldCondition) -> Condition {
    // Keys are lower snake case (checked when parsed against definitions).
    let key = c.key.as_str();
    let pg = backend == DbBackend::Postgres;
    match &c.test {
        Test::Equals(value) if pg => one_of(Expr::cust_with_values("custom_fields @> $1", [json!({ key: value })])),
        Test::Equals(value) => one_of(Expr::cust_with_values(
            format!("json_extract(custom_fields, '$.{key}') = json_extract(?, '$')"),
            [value.to_string()],
        )),
        Test::AnyOf(ids, multi) if pg => ids.iter().fold(Condition::any(), |any, id| {
            let probe = if *multi {
                json!({ key: [id] })
            } else {
                json!({ key: id })
            };
            any.add(Expr::cust_with_values("custom_fields @> $1", [probe]))
        }),
        Test::AnyOf(ids, multi) => {
            let marks = vec!["?"; ids.len()].join(", ");
            let sql = if *multi {
                format!("EXISTS (SELECT 1 FROM json_each(custom_fields, '$.{key}') WHERE value IN ({marks}))")
            } else {
                format!("json_extract(custom_fields, '$.{key}') IN ({marks})")
            };
            one_of(Expr::cust_with_values(sql, ids.iter().cloned()))
        }
        Test::Range(min, max) => {
            let target = match (pg, c.numeric) {
                (true, true) => format!("(custom_fields ->> '{key}')::numeric"),
                (true, false) => format!("(custom_fields ->> '{key}')"),
                (false, _) => format!("json_extract(custom_fields, '$.{key}')"),
            };
            let bound = |b: &Json| -> sea_orm::Value {
                match b {
                    Json::Number(n) if n.is_i64() => n.as_i64().into(),
                    Json::Number(n) => n.as_f64().into(),
                    other => other.as_str().map(str::to_owned).into(),
                }
            };
            // sea-query numbers PostgreSQL's placeholders ($1 within each
            // expression); `?` is one of its operators there.
            let mark = if pg { "$1" } else { "?" };
            let mut all = Condition::all();
            if let Some(min) = min {
                all = all.add(Expr::cust_with_values(format!("{target} >= {mark}"), [bound(min)]));
            }
            if let Some(max) = max {
                all = all.add(Expr::cust_with_values(format!("{target} <= {mark}"), [bound(max)]));
            }
            all
        }
    }
}

fn one_of(e: SimpleExpr) -> Condition {
    Condition::all().add(e)
}

#[cfg(test)]
mod tests {
    use sea_orm::{
        DbBackend,
        sea_query::{Alias, PostgresQueryBuilder, Query, SqliteQueryBuilder},
    };

    use super::*;

    fn sql(backend: DbBackend, c: &FieldCondition) -> String {
        let q = Query::select()
            .column(Alias::new("id"))
            .from(Alias::new("deals"))
            .cond_where(condition(backend, std::slice::from_ref(c)))
            .to_owned();
        match backend {
            DbBackend::Postgres => q.to_string(PostgresQueryBuilder),
            _ => q.to_string(SqliteQueryBuilder),
        }
    }

    #[test]
    fn equality_is_containment_on_postgres_and_json_extract_on_sqlite() {
        let c = FieldCondition {
            key: "region".into(),
            test: Test::Equals(Json::from("apac")),
            numeric: false,
        };
        assert_eq!(
            sql(DbBackend::Postgres, &c),
            r#"SELECT "id" FROM "deals" WHERE custom_fields @> '{"region":"apac"}'"#
        );
        assert_eq!(
            sql(DbBackend::Sqlite, &c),
            r#"SELECT "id" FROM "deals" WHERE json_extract(custom_fields, '$.region') = json_extract('"apac"', '$')"#
        );
    }

    #[test]
    fn a_numeric_range_compares_numbers_on_both_backends() {
        let c = FieldCondition {
            key: "score".into(),
            test: Test::Range(Some(json!(5)), Some(json!(12.5))),
            numeric: true,
        };
        assert_eq!(
            sql(DbBackend::Postgres, &c),
            r#"SELECT "id" FROM "deals" WHERE ((custom_fields ->> 'score')::numeric >= 5) AND ((custom_fields ->> 'score')::numeric <= 12.5)"#
        );
        assert_eq!(
            sql(DbBackend::Sqlite, &c),
            r#"SELECT "id" FROM "deals" WHERE (json_extract(custom_fields, '$.score') >= 5) AND (json_extract(custom_fields, '$.score') <= 12.5)"#
        );
    }

    #[test]
    fn any_of_a_multi_select_is_one_containment_per_option_on_postgres() {
        let c = FieldCondition {
            key: "products".into(),
            test: Test::AnyOf(vec!["erp".into(), "bi".into()], true),
            numeric: false,
        };
        assert_eq!(
            sql(DbBackend::Postgres, &c),
            r#"SELECT "id" FROM "deals" WHERE (custom_fields @> '{"products":["erp"]}') OR (custom_fields @> '{"products":["bi"]}')"#
        );
    }
}
