//! Custom values on the command line: `--field key=value`, typed by the
//! tenant's field definitions (an option by its id or label, money in the
//! field's currency, dates as YYYY-MM-DD), and shown as `key=value`.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use crm_proto::{
    common::v1::{self as common, FieldType, field_value::Kind},
    pipeline::v1::{self as pb, pipeline_service_client::PipelineServiceClient},
};

use super::Connection;

/// The typed values of `args` (`key=value` each) for the tenant's deal fields.
pub(super) async fn deal_values(
    c: &Connection,
    client: &mut PipelineServiceClient<tonic::transport::Channel>,
    args: &[String],
) -> anyhow::Result<BTreeMap<String, common::FieldValue>> {
    if args.is_empty() {
        return Ok(BTreeMap::new());
    }
    let req = pb::ListFieldDefinitionsRequest {
        include_archived: false,
    };
    let defs = client
        .list_field_definitions(c.request(req))
        .await?
        .into_inner()
        .definitions;
    args.iter().map(|a| parse(&defs, a)).collect()
}

/// One `key=value` argument, typed by its definition.
pub fn parse(defs: &[common::FieldDefinition], arg: &str) -> anyhow::Result<(String, common::FieldValue)> {
    let (key, raw) = arg
        .split_once('=')
        .with_context(|| format!("--field {arg:?}: write it as key=value"))?;
    let def = defs
        .iter()
        .find(|d| d.key == key)
        .with_context(|| format!("--field {key}: the tenant has no such deal field"))?;
    let option = |raw: &str| -> anyhow::Result<String> {
        let found = def
            .options
            .iter()
            .find(|o| o.id == raw || o.label.eq_ignore_ascii_case(raw));
        Ok(found
            .with_context(|| format!("--field {key}: {raw:?} is not one of its options"))?
            .id
            .clone())
    };
    let kind = match FieldType::try_from(def.r#type).unwrap_or(FieldType::Unspecified) {
        FieldType::Number => Kind::Number(raw.parse().with_context(|| format!("--field {key}: not a number"))?),
        FieldType::Money => {
            let units: f64 = raw
                .parse()
                .with_context(|| format!("--field {key}: an amount such as 1200.50"))?;
            let minor_units = (units * 1e9).round() as i128;
            Kind::Money(common::Money {
                currency_code: def.currency_code.clone(),
                units: (minor_units / 1_000_000_000) as i64,
                nanos: (minor_units % 1_000_000_000) as i32,
            })
        }
        FieldType::Date => {
            let d = chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .with_context(|| format!("--field {key}: a date as YYYY-MM-DD"))?;
            use chrono::Datelike;
            Kind::Date(common::Date {
                year: d.year(),
                month: d.month() as i32,
                day: d.day() as i32,
            })
        }
        FieldType::Datetime => {
            let t = chrono::DateTime::parse_from_rfc3339(raw)
                .with_context(|| format!("--field {key}: a time as RFC 3339"))?;
            Kind::Datetime(prost_types::Timestamp {
                seconds: t.timestamp(),
                nanos: t.timestamp_subsec_nanos() as i32,
            })
        }
        FieldType::Boolean => Kind::Boolean(match raw.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => true,
            "false" | "no" | "0" => false,
            _ => bail!("--field {key}: yes or no"),
        }),
        FieldType::SingleSelect => Kind::Option(option(raw)?),
        FieldType::MultiSelect => Kind::Options(common::OptionIds {
            ids: raw
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| option(s.trim()))
                .collect::<anyhow::Result<_>>()?,
        }),
        _ => Kind::Text(raw.to_owned()),
    };
    Ok((key.to_owned(), common::FieldValue { kind: Some(kind) }))
}

/// Custom values as `key=value key=value`.
pub fn show(values: &BTreeMap<String, common::FieldValue>) -> String {
    values
        .iter()
        .map(|(k, v)| {
            let shown = match &v.kind {
                Some(Kind::Text(s) | Kind::Option(s)) => s.clone(),
                Some(Kind::Number(n)) => n.to_string(),
                Some(Kind::Money(m)) => super::output::money(Some(m)),
                Some(Kind::Date(d)) => format!("{:04}-{:02}-{:02}", d.year, d.month, d.day),
                Some(Kind::Datetime(t)) => t.to_string(),
                Some(Kind::Boolean(b)) => b.to_string(),
                Some(Kind::Options(o)) => o.ids.join(","),
                None => String::new(),
            };
            format!("{k}={shown}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_option_is_found_by_its_label_and_money_takes_the_fields_currency() {
        let defs = vec![
            common::FieldDefinition {
                key: "source".into(),
                r#type: FieldType::SingleSelect as i32,
                options: vec![common::FieldOption {
                    id: "trade_show".into(),
                    label: "Trade show".into(),
                }],
                ..Default::default()
            },
            common::FieldDefinition {
                key: "budget".into(),
                r#type: FieldType::Money as i32,
                currency_code: "EUR".into(),
                ..Default::default()
            },
        ];
        let (_, v) = parse(&defs, "source=trade show").unwrap();
        assert_eq!(v.kind, Some(Kind::Option("trade_show".into())));
        let (_, v) = parse(&defs, "budget=12.5").unwrap();
        let Some(Kind::Money(m)) = v.kind else { panic!() };
        assert_eq!((m.currency_code.as_str(), m.units, m.nanos), ("EUR", 12, 500_000_000));
        assert!(parse(&defs, "nope=1").is_err());
    }
}
