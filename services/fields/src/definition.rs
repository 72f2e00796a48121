//! A field definition as the domain reads it: the row with its spec
//! parsed, and its wire form.

use crm_kit::time;
use crm_proto::common::v1 as common;
use serde::{Deserialize, Serialize};

use crate::{FieldType, RecordType, State, entity, value};

/// One option of a select field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldOption {
    /// The stable id records store.
    pub id: String,
    /// What people see.
    pub label: String,
}

/// What a definition says beyond its type: stored as JSON in one column.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    /// Select types: the options, in display order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<FieldOption>,
    /// Text types: the most characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    /// Number: the smallest value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Number: the largest value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Number: the most decimal places.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decimals: Option<u32>,
    /// Money: the currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// The default value, in its stored form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
}

/// A definition: the row's columns, typed.
#[derive(Clone, Debug, PartialEq)]
pub struct Definition {
    /// The row.
    pub row: entity::Model,
    /// The record type.
    pub record_type: RecordType,
    /// The field type.
    pub kind: FieldType,
    /// The state.
    pub state: State,
    /// The spec.
    pub spec: Spec,
}

impl Definition {
    /// The definition a row holds (a spec that does not parse reads as empty).
    pub fn from_row(row: entity::Model) -> Self {
        let spec = serde_json::from_value(row.spec.clone()).unwrap_or_default();
        let record_type = match row.record_type.as_str() {
            "contact" => RecordType::Contact,
            "company" => RecordType::Company,
            _ => RecordType::Deal,
        };
        Self {
            kind: FieldType::from_db(&row.field_type),
            state: State::from_db(&row.state),
            record_type,
            spec,
            row,
        }
    }

    /// The key.
    pub fn key(&self) -> &str {
        &self.row.key
    }

    /// Whether it is shown and validated.
    pub fn is_active(&self) -> bool {
        self.state == State::Active
    }

    /// The option `id`, if the field has it.
    pub fn option(&self, id: &str) -> Option<&FieldOption> {
        self.spec.options.iter().find(|o| o.id == id)
    }

    /// The most characters of a text value.
    pub fn max_length(&self) -> u32 {
        self.spec.max_length.unwrap_or(match self.kind {
            FieldType::LongText => value::DEFAULT_LONG_TEXT,
            _ => value::DEFAULT_TEXT,
        })
    }

    /// The wire form.
    pub fn to_proto(&self) -> common::FieldDefinition {
        let r = &self.row;
        common::FieldDefinition {
            id: r.id.clone(),
            record_type: self.record_type.to_proto() as i32,
            key: r.key.clone(),
            label: r.label.clone(),
            description: r.description.clone(),
            r#type: self.kind.to_proto() as i32,
            required: r.required,
            default_value: self.spec.default.as_ref().and_then(|d| value::to_proto(self, d)),
            options: self
                .spec
                .options
                .iter()
                .map(|o| common::FieldOption {
                    id: o.id.clone(),
                    label: o.label.clone(),
                })
                .collect(),
            max_length: match self.kind {
                FieldType::Text | FieldType::LongText => self.max_length() as i32,
                _ => 0,
            },
            min: self.spec.min,
            max: self.spec.max,
            decimals: self.spec.decimals.unwrap_or(0) as i32,
            currency_code: self.spec.currency.clone().unwrap_or_default(),
            state: self.state.to_proto() as i32,
            etag: crm_kit::etag::format(r.version),
            create_time: Some(time::to_timestamp(r.created_at)),
            update_time: Some(time::to_timestamp(r.updated_at)),
        }
    }
}

/// The definitions of one tenant and record type (every state), as
/// validation and replies read them.
#[derive(Clone, Debug, Default)]
pub struct Definitions(pub Vec<Definition>);

impl Definitions {
    /// The definition of `key`, in any state.
    pub fn get(&self, key: &str) -> Option<&Definition> {
        self.0.iter().find(|d| d.key() == key)
    }

    /// The active definition of `key`.
    pub fn active(&self, key: &str) -> Option<&Definition> {
        self.get(key).filter(|d| d.is_active())
    }

    /// The active definitions, oldest first.
    pub fn all_active(&self) -> impl Iterator<Item = &Definition> {
        self.0.iter().filter(|d| d.is_active())
    }
}
