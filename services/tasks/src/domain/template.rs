//! Rule title templates: `{deal.title}`, `{deal.amount}`, `{stage.name}`
//! and `{deal.fields.<key>}` are replaced; any other `{...}` is rejected
//! when the rule is saved.

use crm_proto::common::v1::Money;

/// The placeholders a template may use.
pub const PLACEHOLDERS: [&str; 3] = ["{deal.title}", "{deal.amount}", "{stage.name}"];

/// The first unknown `{...}` of `template`, or an unmatched brace.
pub fn unknown_placeholder(template: &str) -> Option<String> {
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return Some("}".to_owned());
        }
        let Some(close) = rest[open..].find('}') else {
            return Some(rest[open..].to_owned());
        };
        let placeholder = &rest[open..open + close + 1];
        if !PLACEHOLDERS.contains(&placeholder) && field_key(placeholder).is_none() {
            return Some(placeholder.to_owned());
        }
        rest = &rest[open + close + 1..];
    }
    None
}

/// The key of a `{deal.fields.<key>}` placeholder.
fn field_key(placeholder: &str) -> Option<&str> {
    let key = placeholder.strip_prefix("{deal.fields.")?.strip_suffix('}')?;
    crm_fields::edit::is_key(key).then_some(key)
}

/// The custom-field keys `template` renders.
pub fn field_keys(template: &str) -> Vec<String> {
    template
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}'))
        .filter_map(|(inside, _)| field_key(&format!("{{{inside}}}")).map(str::to_owned))
        .collect()
}

/// What the placeholders stand for.
#[derive(Clone, Debug, Default)]
pub struct Values {
    /// The deal's title.
    pub deal_title: String,
    /// The deal's amount, rendered (empty without one).
    pub deal_amount: String,
    /// The stage's name (empty when the event names none).
    pub stage_name: String,
    /// The deal's custom values, rendered, by key.
    pub fields: std::collections::BTreeMap<String, String>,
}

/// `template` with its placeholders replaced, cut to 200 characters.
pub fn render(template: &str, values: &Values) -> String {
    let text = template
        .replace("{deal.title}", &values.deal_title)
        .replace("{deal.amount}", &values.deal_amount)
        .replace("{stage.name}", &values.stage_name);
    let mut text = text;
    for key in field_keys(template) {
        let shown = values.fields.get(&key).map_or("", String::as_str);
        text = text.replace(&format!("{{deal.fields.{key}}}"), shown);
    }
    let text = text.trim();
    let text: String = text.chars().take(200).collect();
    if text.is_empty() { "Follow up".to_owned() } else { text }
}

/// Money as people read it: `12000.00 EUR`, with the currency's decimals.
pub fn money(m: &Money) -> String {
    let exp = crm_proto::money::exponent(&m.currency_code).unwrap_or(2);
    let negative = m.units < 0 || m.nanos < 0;
    let units = m.units.unsigned_abs();
    let fraction = u64::from(m.nanos.unsigned_abs()) / 10_u64.pow(9 - exp.min(9));
    let sign = if negative { "-" } else { "" };
    if exp == 0 {
        format!("{sign}{units} {}", m.currency_code)
    } else {
        format!(
            "{sign}{units}.{fraction:0width$} {}",
            m.currency_code,
            width = exp as usize
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_amount_renders_with_its_currency_decimals() {
        let eur = Money {
            currency_code: "EUR".into(),
            units: 12000,
            nanos: 0,
        };
        assert_eq!(money(&eur), "12000.00 EUR");
        let half = Money {
            currency_code: "USD".into(),
            units: 12,
            nanos: 500_000_000,
        };
        assert_eq!(money(&half), "12.50 USD");
        let yen = Money {
            currency_code: "JPY".into(),
            units: 500,
            nanos: 0,
        };
        assert_eq!(money(&yen), "500 JPY");
    }

    #[test]
    fn only_the_three_placeholders_are_accepted() {
        assert_eq!(
            unknown_placeholder("Call about {deal.title} ({deal.amount}) in {stage.name}"),
            None
        );
        assert_eq!(
            unknown_placeholder("Hi {contact.name}").as_deref(),
            Some("{contact.name}")
        );
        assert!(unknown_placeholder("open { brace").is_some());
        assert!(unknown_placeholder("close } brace").is_some());
    }

    #[test]
    fn a_template_renders_its_values() {
        let v = Values {
            deal_title: "Acme".into(),
            deal_amount: "1.00 EUR".into(),
            stage_name: "Demo".into(),
            fields: [("region".to_owned(), "emea".to_owned())].into(),
        };
        assert_eq!(
            render("{stage.name}: {deal.title} {deal.amount}", &v),
            "Demo: Acme 1.00 EUR"
        );
        assert_eq!(
            render("Call {deal.title} ({deal.fields.region}{deal.fields.tier})", &v),
            "Call Acme (emea)"
        );
        assert_eq!(
            unknown_placeholder("{deal.fields.region} {deal.fields.Bad}"),
            Some("{deal.fields.Bad}".into())
        );
    }
}
