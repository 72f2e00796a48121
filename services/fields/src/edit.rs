//! Defining and changing a field: the request parsed into a valid
//! definition, and what a change may and may not do.

use crm_kit::{
    ApiError, ApiResult,
    handler::mask_paths,
    tenant::Tenant,
    validate::{Violations, new_id},
};
use crm_proto::common::v1 as common;

use crate::{
    FieldType, RecordType, State,
    definition::{Definition, FieldOption, Spec},
    entity,
    value::{self, MAX_LONG_TEXT, MAX_TEXT, Purpose},
};

/// The most definitions (of every state) per tenant and record type.
pub const MAX_FIELDS: usize = 500;
/// The most options of a select field.
pub const MAX_OPTIONS: usize = 1_000;
/// The longest key or option id.
pub const MAX_KEY: usize = 64;
/// The longest label.
pub const MAX_LABEL: usize = 100;
/// The longest description.
pub const MAX_DESCRIPTION: usize = 500;
/// The most decimal places of a number field.
pub const MAX_DECIMALS: u32 = 10;

/// Whether `s` is lower snake case: `[a-z][a-z0-9_]*`, 1 to [`MAX_KEY`] long.
pub fn is_key(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && s.len() <= MAX_KEY
}

/// An option id made from a label: "Trade show" -> "trade_show".
pub fn slug(label: &str) -> String {
    let mut out = String::new();
    for c in label.trim().chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    let mut out = out.trim_end_matches('_').to_owned();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'o');
    }
    out.truncate(MAX_KEY);
    out
}

/// A valid CreateFieldDefinition request: the row it writes, but for the
/// tenant, id and times.
#[derive(Clone, Debug, PartialEq)]
pub struct NewDefinition {
    /// The definition, version 1.
    pub definition: Definition,
}

impl NewDefinition {
    /// Parses `input` for one of `allowed` record types (`fallback` when
    /// unspecified), naming every bad field under `definition.`.
    pub fn parse(
        input: &common::FieldDefinition,
        allowed: &[RecordType],
        fallback: Option<RecordType>,
    ) -> ApiResult<Self> {
        let mut v = Violations::new();
        let record_type = match RecordType::from_proto(input.record_type).or(fallback) {
            Some(rt) if allowed.contains(&rt) => Some(rt),
            _ => {
                let names: Vec<&str> = allowed.iter().map(|r| r.to_proto().as_str_name()).collect();
                v.add("definition.record_type", format!("must be one of {names:?} here"));
                None
            }
        };
        let key = input.key.trim();
        if !is_key(key) {
            v.add(
                "definition.key",
                format!("must be lower snake case ([a-z][a-z0-9_]*), 1 to {MAX_KEY} characters"),
            );
        }
        let kind = FieldType::from_proto(input.r#type);
        if kind.is_none() {
            v.add("definition.type", "is required: one of the FieldType values");
        }
        let (label, description) = texts(&mut v, input);
        let spec = kind.map(|k| parse_spec(&mut v, input, k, true));
        v.finish()?;
        let (Some(record_type), Some(kind), Some(spec)) = (record_type, kind, spec) else {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "definition parse produced no value"
            )));
        };
        let row = entity::Model {
            record_type: record_type.as_str().to_owned(),
            key: key.to_owned(),
            label,
            description,
            field_type: kind.as_str().to_owned(),
            required: input.required,
            state: State::Active.as_str().to_owned(),
            version: 1,
            ..Default::default()
        };
        let mut definition = Definition::from_row(row);
        definition.spec = spec;
        let mut v = Violations::new();
        set_default(&mut v, &mut definition, input);
        v.finish()?;
        Ok(Self { definition })
    }

    /// The row to insert for `tenant` at `now`.
    pub fn create(&self, tenant: &Tenant, now: i64) -> Definition {
        let mut d = self.definition.clone();
        d.row.id = new_id().to_string();
        d.row.tenant_id = tenant.id();
        d.row.created_at = now;
        d.row.updated_at = now;
        d
    }
}

/// The label and description, checked.
fn texts(v: &mut Violations, input: &common::FieldDefinition) -> (String, String) {
    (
        v.required_text("definition.label", &input.label, MAX_LABEL),
        v.optional_text("definition.description", &input.description, MAX_DESCRIPTION),
    )
}

/// The spec a definition of `kind` asks for. `new_currency`: whether the
/// currency is being set (on create) rather than kept.
fn parse_spec(v: &mut Violations, input: &common::FieldDefinition, kind: FieldType, new_currency: bool) -> Spec {
    let mut spec = Spec::default();
    match kind {
        FieldType::Text | FieldType::LongText => {
            let max = if kind == FieldType::Text {
                MAX_TEXT
            } else {
                MAX_LONG_TEXT
            };
            match u32::try_from(input.max_length) {
                Ok(0) => {}
                Ok(n) if n <= max => spec.max_length = Some(n),
                _ => v.add("definition.max_length", format!("must be 0 (the default) to {max}")),
            }
        }
        FieldType::Number => {
            for (name, bound) in [("min", input.min), ("max", input.max)] {
                if bound.is_some_and(|b| !b.is_finite()) {
                    v.add(format!("definition.{name}"), "must be a finite number");
                }
            }
            if let (Some(min), Some(max)) = (input.min, input.max)
                && min > max
            {
                v.add("definition.max", "must not be below min");
            }
            (spec.min, spec.max) = (input.min, input.max);
            match u32::try_from(input.decimals) {
                Ok(d) if d <= MAX_DECIMALS => spec.decimals = (d > 0).then_some(d),
                _ => v.add("definition.decimals", format!("must be 0 to {MAX_DECIMALS}")),
            }
        }
        FieldType::Money => {
            let code = input.currency_code.as_str();
            if new_currency && crm_proto::money::exponent(code).is_none() {
                v.add(
                    "definition.currency_code",
                    format!("{code:?} is not an ISO 4217 currency code such as \"EUR\""),
                );
            }
            spec.currency = Some(code.to_owned());
        }
        FieldType::SingleSelect | FieldType::MultiSelect => spec.options = parse_options(v, &input.options),
        _ => {}
    }
    spec
}

/// Sets the definition's default from the wire, checked against the rest
/// of the definition, naming `definition.default_value`.
fn set_default(v: &mut Violations, def: &mut Definition, input: &common::FieldDefinition) {
    def.spec.default = input
        .default_value
        .as_ref()
        .and_then(|d| value::parse(v, "definition.default_value", def, d, Purpose::Store));
    def.row.spec = serde_json::to_value(&def.spec).unwrap_or_default();
}

fn parse_options(v: &mut Violations, options: &[common::FieldOption]) -> Vec<FieldOption> {
    if options.is_empty() || options.len() > MAX_OPTIONS {
        v.add(
            "definition.options",
            format!(
                "a select field needs 1 to {MAX_OPTIONS} options (got {})",
                options.len()
            ),
        );
        return Vec::new();
    }
    let mut out: Vec<FieldOption> = Vec::with_capacity(options.len());
    for (i, o) in options.iter().enumerate() {
        let label = v.required_text(&format!("definition.options[{i}].label"), &o.label, MAX_LABEL);
        let id = if o.id.is_empty() { slug(&label) } else { o.id.clone() };
        if !is_key(&id) {
            v.add(
                format!("definition.options[{i}].id"),
                format!("must be lower snake case, 1 to {MAX_KEY} characters"),
            );
        } else if out.iter().any(|p| p.id == id) {
            v.add(
                format!("definition.options[{i}].id"),
                format!("{id:?} is used by another option"),
            );
        } else if out.iter().any(|p| p.label.to_lowercase() == label.to_lowercase()) {
            v.add(
                format!("definition.options[{i}].label"),
                format!("{label:?} is used by another option"),
            );
        }
        out.push(FieldOption { id, label });
    }
    out
}

/// The definition paths an update mask may name.
pub const SETTABLE: [&str; 9] = [
    "label",
    "description",
    "required",
    "default_value",
    "options",
    "max_length",
    "min",
    "max",
    "decimals",
];

/// A valid UpdateFieldDefinition request.
#[derive(Clone, Debug, PartialEq)]
pub struct DefinitionUpdate {
    /// The field's key.
    pub key: String,
    /// The etag the caller read.
    pub etag: Option<i64>,
    /// The input, for the masked parts.
    pub input: common::FieldDefinition,
    /// The mask's paths.
    pub paths: Vec<String>,
    /// Removed options' records move to these: (from, to).
    pub moves: Vec<(String, String)>,
}

/// A change the rules allowed: the definition after it, and what it does
/// to the records' values.
#[derive(Clone, Debug, PartialEq)]
pub struct DefinitionChange {
    /// The definition after the change (version + 1).
    pub next: Definition,
    /// The options removed, with the option their records move to, if any.
    pub removed: Vec<(String, Option<String>)>,
    /// The changed paths.
    pub paths: Vec<String>,
}

impl DefinitionUpdate {
    /// Parses the request, naming every bad field.
    pub fn parse(
        input: &common::FieldDefinition,
        mask: Option<&prost_types::FieldMask>,
        moves: &[common::OptionMove],
    ) -> ApiResult<Self> {
        let paths = mask_paths(mask)?;
        let mut v = Violations::new();
        for p in &paths {
            match *p {
                "type" => {
                    return Err(ApiError::precondition(
                        "FIELD_TYPE_FIXED",
                        "definition.type",
                        "a field's type cannot change; archive the field and add another",
                    ));
                }
                "key" | "currency_code" | "record_type" => v.add("update_mask", format!("{p:?} cannot change")),
                p if SETTABLE.contains(&p) => {}
                other => v.add(
                    "update_mask",
                    format!("{other:?} is not an updatable field; use one of {SETTABLE:?}"),
                ),
            }
        }
        if !is_key(&input.key) {
            v.add("definition.key", "must name the field (its lower snake case key)");
        }
        let etag = v.absorb(crm_kit::etag::parse("definition.etag", &input.etag)).flatten();
        for (i, m) in moves.iter().enumerate() {
            if !is_key(&m.from_option_id) || !is_key(&m.to_option_id) {
                v.add(format!("option_moves[{i}]"), "must name two option ids");
            }
        }
        v.finish()?;
        Ok(Self {
            key: input.key.clone(),
            etag,
            input: input.clone(),
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            moves: moves
                .iter()
                .map(|m| (m.from_option_id.clone(), m.to_option_id.clone()))
                .collect(),
        })
    }

    /// `current` with the update applied, at `now`.
    pub fn apply(&self, current: &Definition, now: i64) -> ApiResult<DefinitionChange> {
        // The whole definition as it would be, parsed as a create would be.
        let mut merged = current.to_proto();
        let i = &self.input;
        for p in &self.paths {
            match p.as_str() {
                "label" => merged.label.clone_from(&i.label),
                "description" => merged.description.clone_from(&i.description),
                "required" => merged.required = i.required,
                "default_value" => merged.default_value.clone_from(&i.default_value),
                "options" => merged.options.clone_from(&i.options),
                "max_length" => merged.max_length = i.max_length,
                "min" => merged.min = i.min,
                "max" => merged.max = i.max,
                _ => merged.decimals = i.decimals,
            }
        }
        let mut v = Violations::new();
        let (label, description) = texts(&mut v, &merged);
        let spec = parse_spec(&mut v, &merged, current.kind, false);
        v.finish()?;
        let mut next = current.clone();
        next.spec = spec;
        (next.row.label, next.row.description, next.row.required) = (label, description, merged.required);
        let mut v = Violations::new();
        set_default(&mut v, &mut next, &merged);
        let removed = self.removed_options(&mut v, current, &next);
        v.finish()?;
        next.row.version += 1;
        next.row.updated_at = now;
        Ok(DefinitionChange {
            next,
            removed,
            paths: self.paths.clone(),
        })
    }

    /// The options `next` no longer has, each with its move target.
    fn removed_options(
        &self,
        v: &mut Violations,
        current: &Definition,
        next: &Definition,
    ) -> Vec<(String, Option<String>)> {
        let removed: Vec<&str> = current
            .spec
            .options
            .iter()
            .map(|o| o.id.as_str())
            .filter(|id| next.option(id).is_none())
            .collect();
        for (i, (from, to)) in self.moves.iter().enumerate() {
            if !removed.contains(&from.as_str()) {
                v.add(
                    format!("option_moves[{i}].from_option_id"),
                    format!("{from:?} is not an option this update removes"),
                );
            } else if next.option(to).is_none() {
                v.add(
                    format!("option_moves[{i}].to_option_id"),
                    format!("{to:?} is not an option of the field after the update"),
                );
            }
        }
        removed
            .into_iter()
            .map(|id| {
                let to = self.moves.iter().find(|(from, _)| from == id).map(|(_, to)| to.clone());
                (id.to_owned(), to)
            })
            .collect()
    }
}

/// The definition archived at `now`: FAILED_PRECONDITION unless active.
pub fn archive(current: &Definition, now: i64) -> ApiResult<Definition> {
    if current.state != State::Active {
        return Err(ApiError::precondition(
            "FIELD_NOT_ACTIVE",
            "key",
            "the field is already archived",
        ));
    }
    Ok(with_state(current, State::Archived, now))
}

/// The definition deleted at `now`: FAILED_PRECONDITION unless archived.
pub fn delete(current: &Definition, now: i64) -> ApiResult<Definition> {
    if current.state != State::Archived {
        return Err(ApiError::precondition(
            "FIELD_NOT_ARCHIVED",
            "key",
            "only an archived field can be deleted; archive it first",
        ));
    }
    Ok(with_state(current, State::Deleted, now))
}

fn with_state(current: &Definition, state: State, now: i64) -> Definition {
    let mut next = current.clone();
    next.state = state;
    next.row.state = state.as_str().to_owned();
    next.row.version += 1;
    next.row.updated_at = now;
    next
}

/// A request's field key, or INVALID_ARGUMENT naming `field`.
pub fn parse_key(field: &str, key: &str) -> ApiResult<String> {
    if is_key(key) {
        Ok(key.to_owned())
    } else {
        Err(ApiError::invalid(
            field,
            format!("must be a field key: lower snake case, 1 to {MAX_KEY} characters"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn select(labels: &[&str]) -> common::FieldDefinition {
        common::FieldDefinition {
            key: "source".into(),
            label: "Source".into(),
            r#type: common::FieldType::SingleSelect as i32,
            options: labels
                .iter()
                .map(|l| common::FieldOption {
                    id: String::new(),
                    label: (*l).into(),
                })
                .collect(),
            ..Default::default()
        }
    }

    fn mask(paths: &[&str]) -> prost_types::FieldMask {
        prost_types::FieldMask {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    #[test]
    fn option_ids_are_made_from_labels_in_lower_snake_case() {
        assert_eq!(slug("Trade show"), "trade_show");
        assert_eq!(slug("  B2B / Partner! "), "b2b_partner");
        assert_eq!(slug("2nd tier"), "o2nd_tier");
        assert!(is_key("lead_source") && !is_key("Lead") && !is_key("_x") && !is_key(""));
    }

    #[test]
    fn a_removed_option_is_reported_with_the_option_its_records_move_to() {
        let new = NewDefinition::parse(
            &select(&["Web", "Referral", "Event"]),
            &[RecordType::Deal],
            Some(RecordType::Deal),
        )
        .unwrap();
        let current = new.create(&Tenant::of_row("acme"), 1);
        let mut input = current.to_proto();
        input.options.retain(|o| o.id != "web" && o.id != "event");
        let moves = [common::OptionMove {
            from_option_id: "web".into(),
            to_option_id: "referral".into(),
        }];
        let update = DefinitionUpdate::parse(&input, Some(&mask(&["options"])), &moves).unwrap();
        let change = update.apply(&current, 2).unwrap();
        assert_eq!(
            change.removed,
            [
                ("web".to_owned(), Some("referral".to_owned())),
                ("event".to_owned(), None)
            ]
        );
        assert_eq!((change.next.row.version, change.next.spec.options.len()), (2, 1));
    }

    #[test]
    fn a_type_change_is_a_failed_precondition_and_a_move_to_a_removed_option_is_named() {
        let err = DefinitionUpdate::parse(&select(&["Web"]), Some(&mask(&["type"])), &[]).unwrap_err();
        assert_eq!(err.code(), tonic::Code::FailedPrecondition);
        let new = NewDefinition::parse(
            &select(&["Web", "Referral"]),
            &[RecordType::Deal],
            Some(RecordType::Deal),
        )
        .unwrap();
        let current = new.create(&Tenant::of_row("acme"), 1);
        let mut input = current.to_proto();
        input.options.clear();
        input.options.push(common::FieldOption {
            id: "event".into(),
            label: "Event".into(),
        });
        let moves = [common::OptionMove {
            from_option_id: "web".into(),
            to_option_id: "referral".into(),
        }];
        let update = DefinitionUpdate::parse(&input, Some(&mask(&["options"])), &moves).unwrap();
        let Err(ApiError::InvalidArgument(v)) = update.apply(&current, 2) else {
            panic!("expected violations")
        };
        assert_eq!(v[0].field, "option_moves[0].to_option_id");
    }

    #[test]
    fn a_select_has_at_most_1000_options() {
        let labels: Vec<String> = (0..=MAX_OPTIONS).map(|i| format!("Option {i}")).collect();
        let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
        let Err(ApiError::InvalidArgument(v)) =
            NewDefinition::parse(&select(&refs), &[RecordType::Deal], Some(RecordType::Deal))
        else {
            panic!("expected violations")
        };
        assert_eq!(v[0].field, "definition.options");
        assert!(
            NewDefinition::parse(
                &select(&refs[..MAX_OPTIONS]),
                &[RecordType::Deal],
                Some(RecordType::Deal)
            )
            .is_ok()
        );
    }

    #[test]
    fn a_money_field_needs_a_currency_and_a_select_needs_options() {
        let money = common::FieldDefinition {
            key: "budget".into(),
            label: "Budget".into(),
            r#type: common::FieldType::Money as i32,
            currency_code: "XYZ".into(),
            ..Default::default()
        };
        let Err(ApiError::InvalidArgument(v)) =
            NewDefinition::parse(&money, &[RecordType::Deal], Some(RecordType::Deal))
        else {
            panic!("expected violations")
        };
        assert_eq!(v[0].field, "definition.currency_code");
        let Err(ApiError::InvalidArgument(v)) =
            NewDefinition::parse(&select(&[]), &[RecordType::Deal], Some(RecordType::Deal))
        else {
            panic!("expected violations")
        };
        assert_eq!(v[0].field, "definition.options");
    }
}
