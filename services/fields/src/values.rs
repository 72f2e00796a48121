//! A record's custom values: checked against the tenant's definitions on
//! create and update into the stored JSON object, and shown on replies.
//!
//! Required fields are checked whenever a record is created or updated:
//! a field made required later does not make the records that lack it
//! invalid, but their next update must set it. Values of archived fields
//! stay in the stored object, hidden, and are kept by every update.

use std::collections::BTreeMap;

use crm_kit::{ApiError, ApiResult, validate::Violations};
use crm_proto::common::v1 as common;
use serde_json::{Map, Value as Json};

use crate::{
    definition::Definitions,
    value::{self, Purpose},
};

/// The most bytes a record's stored custom values may take.
pub const MAX_STORED_BYTES: usize = 64 * 1024;

/// The wire map of custom values.
pub type WireValues = BTreeMap<String, common::FieldValue>;

/// The update-mask path of the whole map.
pub const PATH: &str = "custom_fields";

/// The stored values of a new record: the given ones checked, defaults
/// for the rest, every required field present. `prefix` names the map in
/// violations (e.g. `deal.custom_fields`).
pub fn for_create(v: &mut Violations, defs: &Definitions, input: &WireValues, prefix: &str) -> Json {
    let mut stored = Map::new();
    for (key, given) in input {
        if let Some(value) = checked(v, defs, key, given, prefix) {
            stored.insert(key.clone(), value);
        }
    }
    for def in defs.all_active() {
        if stored.contains_key(def.key()) || input.contains_key(def.key()) {
            continue;
        }
        match &def.spec.default {
            Some(default) => {
                stored.insert(def.key().to_owned(), default.clone());
            }
            None if def.row.required => v.add(format!("{prefix}.{}", def.key()), "is required"),
            None => {}
        }
    }
    Json::Object(stored)
}

/// A record's next stored values, and the keys whose value changed.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// The whole stored object after the update.
    pub stored: Json,
    /// The keys whose value was set, changed or cleared.
    pub changed: Vec<String>,
}

/// Which custom values an update mask names: `None` when it names none,
/// `Some(None)` for the whole map, `Some(Some(keys))` for those keys.
pub fn masked_keys<'a>(paths: &[&'a str]) -> Option<Option<Vec<&'a str>>> {
    if paths.contains(&PATH) {
        return Some(None);
    }
    let keys: Vec<&str> = paths.iter().filter_map(|p| p.strip_prefix("custom_fields.")).collect();
    (!keys.is_empty()).then_some(Some(keys))
}

/// Applies the masked custom values of an update to `current` (the
/// record's stored object): each named key takes the input's value, or is
/// cleared when the input lacks it; `keys` `None` replaces every active
/// field's value. Required fields must hold a value afterwards.
pub fn for_update(
    v: &mut Violations,
    defs: &Definitions,
    current: &Json,
    input: &WireValues,
    keys: Option<&[&str]>,
    prefix: &str,
) -> Change {
    let mut next = current.as_object().cloned().unwrap_or_default();
    let named: Vec<String> = match keys {
        Some(keys) => keys.iter().map(|k| (*k).to_owned()).collect(),
        None => {
            let mut all: Vec<String> = defs.all_active().map(|d| d.key().to_owned()).collect();
            all.extend(input.keys().filter(|k| !all.contains(k)).cloned().collect::<Vec<_>>());
            all
        }
    };
    if keys.is_some() {
        for key in input.keys().filter(|k| !named.contains(k)) {
            v.add(
                format!("{prefix}.{key}"),
                format!("is not named in update_mask (add \"{PATH}.{key}\")"),
            );
        }
    }
    for key in &named {
        match input.get(key) {
            Some(given) => {
                if let Some(value) = checked(v, defs, key, given, prefix) {
                    next.insert(key.clone(), value);
                }
            }
            None if defs.active(key).is_some() => {
                next.remove(key);
            }
            None => unknown(v, defs, key, prefix),
        }
    }
    for def in defs.all_active().filter(|d| d.row.required) {
        if !next.contains_key(def.key()) && !input.contains_key(def.key()) {
            v.add(format!("{prefix}.{}", def.key()), "is required");
        }
    }
    let before = current.as_object();
    let mut changed: Vec<String> = named
        .into_iter()
        .filter(|k| before.and_then(|b| b.get(k)) != next.get(k))
        .collect();
    changed.sort();
    Change {
        stored: Json::Object(next),
        changed,
    }
}

/// RESOURCE_EXHAUSTED when `stored` passes [`MAX_STORED_BYTES`].
pub fn check_size(stored: &Json, prefix: &str) -> ApiResult<()> {
    let bytes = stored.to_string().len();
    if bytes > MAX_STORED_BYTES {
        return Err(ApiError::limit(
            prefix,
            format!("custom values take at most {MAX_STORED_BYTES} bytes per record as stored (these take {bytes})"),
        ));
    }
    Ok(())
}

/// The stored form of `given` for the active field `key`.
fn checked(
    v: &mut Violations,
    defs: &Definitions,
    key: &str,
    given: &common::FieldValue,
    prefix: &str,
) -> Option<Json> {
    match defs.active(key) {
        Some(def) => value::parse(v, &format!("{prefix}.{key}"), def, given, Purpose::Store),
        None => {
            unknown(v, defs, key, prefix);
            None
        }
    }
}

/// Records that `key` is not an active field.
fn unknown(v: &mut Violations, defs: &Definitions, key: &str, prefix: &str) {
    let field = format!("{prefix}.{key}");
    match defs.get(key) {
        Some(d) if d.state == crate::State::Archived => v.add(field, "is an archived field"),
        _ => v.add(field, "is not a custom field of this record type"),
    }
}

/// The values a reply shows: those of active fields.
pub fn to_wire(defs: &Definitions, stored: &Json) -> WireValues {
    let Some(map) = stored.as_object() else {
        return WireValues::new();
    };
    map.iter()
        .filter_map(|(key, value)| {
            let def = defs.active(key)?;
            Some((key.clone(), value::to_proto(def, value)?))
        })
        .collect()
}

/// The custom values of a create request, checked ([`for_create`] and the
/// size bound) on their own.
pub fn create(defs: &Definitions, input: &WireValues, prefix: &str) -> ApiResult<Json> {
    let mut v = Violations::new();
    let stored = for_create(&mut v, defs, input, prefix);
    v.finish()?;
    check_size(&stored, prefix)?;
    Ok(stored)
}

/// The custom part of an update: the values given and which keys the mask
/// names (`None`: the whole map).
#[derive(Clone, Debug, PartialEq)]
pub struct Edit {
    input: WireValues,
    keys: Option<Vec<String>>,
}

impl Edit {
    /// The edit an update mask asks for; `None` when it names no custom value.
    pub fn from_mask(paths: &[&str], input: &WireValues) -> Option<Self> {
        masked_keys(paths).map(|keys| Self {
            input: input.clone(),
            keys: keys.map(|k| k.iter().map(|s| (*s).to_owned()).collect()),
        })
    }

    /// Applies the edit to `current` (checked, the size bound included);
    /// the changed keys come back as `custom_fields.<key>` paths.
    pub fn apply(&self, defs: &Definitions, current: &Json, prefix: &str) -> ApiResult<Change> {
        let mut v = Violations::new();
        let keys: Option<Vec<&str>> = self.keys.as_ref().map(|k| k.iter().map(String::as_str).collect());
        let mut change = for_update(&mut v, defs, current, &self.input, keys.as_deref(), prefix);
        v.finish()?;
        check_size(&change.stored, prefix)?;
        for key in &mut change.changed {
            *key = format!("{PATH}.{key}");
        }
        Ok(change)
    }
}

/// Whether an update-mask path names custom values.
pub fn is_custom_path(path: &str) -> bool {
    path == PATH || path.starts_with("custom_fields.")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{Definition, entity};

    fn defs(required: bool) -> Definitions {
        let row = entity::Model {
            key: "region".into(),
            field_type: "text".into(),
            required,
            state: "active".into(),
            ..Default::default()
        };
        let archived = entity::Model {
            key: "old".into(),
            field_type: "text".into(),
            state: "archived".into(),
            ..Default::default()
        };
        Definitions(vec![Definition::from_row(row), Definition::from_row(archived)])
    }

    fn text(s: &str) -> common::FieldValue {
        common::FieldValue {
            kind: Some(common::field_value::Kind::Text(s.into())),
        }
    }

    #[test]
    fn an_update_keeps_hidden_values_and_names_only_the_keys_that_changed() {
        let current = json!({"region": "emea", "old": "kept"});
        let input: WireValues = [("region".to_owned(), text("apac"))].into();
        let mut v = Violations::new();
        let change = for_update(&mut v, &defs(false), &current, &input, None, "deal.custom_fields");
        assert!(v.is_empty());
        assert_eq!(change.stored, json!({"region": "apac", "old": "kept"}));
        assert_eq!(change.changed, ["region"]);
        assert_eq!(
            to_wire(&defs(false), &change.stored).len(),
            1,
            "the archived value is hidden"
        );
    }

    #[test]
    fn clearing_a_required_value_is_refused_and_an_archived_key_is_named() {
        let mut v = Violations::new();
        for_update(
            &mut v,
            &defs(true),
            &json!({"region": "emea"}),
            &WireValues::new(),
            Some(&["region"]),
            "deal.custom_fields",
        );
        let input: WireValues = [("old".to_owned(), text("x"))].into();
        for_create(&mut v, &defs(false), &input, "deal.custom_fields");
        let Err(ApiError::InvalidArgument(found)) = v.finish() else {
            panic!("expected violations")
        };
        let fields: Vec<_> = found
            .iter()
            .map(|f| (f.field.as_str(), f.description.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                ("deal.custom_fields.region", "is required"),
                ("deal.custom_fields.old", "is an archived field")
            ]
        );
    }

    #[test]
    fn more_than_64_kib_of_values_is_resource_exhausted() {
        let big = json!({"notes": "x".repeat(MAX_STORED_BYTES)});
        assert_eq!(
            check_size(&big, "deal.custom_fields").unwrap_err().code(),
            tonic::Code::ResourceExhausted
        );
        assert!(check_size(&json!({"notes": "x"}), "deal.custom_fields").is_ok());
    }
}
