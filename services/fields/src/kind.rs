//! The record types that carry custom fields, the field types, and a
//! definition's state, each with its stored and its wire form.

use crm_proto::common::v1 as common;

/// A record type with custom fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordType {
    /// Deals (PipelineService).
    Deal,
    /// Contacts (ContactsService).
    Contact,
    /// Companies (ContactsService).
    Company,
}

impl RecordType {
    /// The stored form, also the prefix of violations (`deal.custom_fields.x`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deal => "deal",
            Self::Contact => "contact",
            Self::Company => "company",
        }
    }

    /// The plural, for messages ("is not a field of deals").
    pub fn plural(self) -> &'static str {
        match self {
            Self::Deal => "deals",
            Self::Contact => "contacts",
            Self::Company => "companies",
        }
    }

    /// From the wire enum; `None` for UNSPECIFIED or an unknown value.
    pub fn from_proto(value: i32) -> Option<Self> {
        match common::RecordType::try_from(value).ok()? {
            common::RecordType::Unspecified => None,
            common::RecordType::Deal => Some(Self::Deal),
            common::RecordType::Contact => Some(Self::Contact),
            common::RecordType::Company => Some(Self::Company),
        }
    }

    /// The wire enum.
    pub fn to_proto(self) -> common::RecordType {
        match self {
            Self::Deal => common::RecordType::Deal,
            Self::Contact => common::RecordType::Contact,
            Self::Company => common::RecordType::Company,
        }
    }
}

/// What a field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// One line of text.
    Text,
    /// Text with line breaks.
    LongText,
    /// A number.
    Number,
    /// An amount in the field's currency.
    Money,
    /// A calendar date.
    Date,
    /// A point in time.
    Datetime,
    /// Yes or no.
    Boolean,
    /// One option.
    SingleSelect,
    /// Any number of options.
    MultiSelect,
    /// A user id.
    User,
    /// An email address.
    Email,
    /// An http(s) URL.
    Url,
    /// A phone number.
    Phone,
}

/// Every type with its stored name and wire enum.
const TYPES: [(FieldType, &str, common::FieldType); 13] = [
    (FieldType::Text, "text", common::FieldType::Text),
    (FieldType::LongText, "long_text", common::FieldType::LongText),
    (FieldType::Number, "number", common::FieldType::Number),
    (FieldType::Money, "money", common::FieldType::Money),
    (FieldType::Date, "date", common::FieldType::Date),
    (FieldType::Datetime, "datetime", common::FieldType::Datetime),
    (FieldType::Boolean, "boolean", common::FieldType::Boolean),
    (
        FieldType::SingleSelect,
        "single_select",
        common::FieldType::SingleSelect,
    ),
    (FieldType::MultiSelect, "multi_select", common::FieldType::MultiSelect),
    (FieldType::User, "user", common::FieldType::User),
    (FieldType::Email, "email", common::FieldType::Email),
    (FieldType::Url, "url", common::FieldType::Url),
    (FieldType::Phone, "phone", common::FieldType::Phone),
];

impl FieldType {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        TYPES.iter().find(|t| t.0 == self).map_or("text", |t| t.1)
    }

    /// From the stored form (an unknown one reads as text).
    pub fn from_db(s: &str) -> Self {
        TYPES.iter().find(|t| t.1 == s).map_or(Self::Text, |t| t.0)
    }

    /// From the wire enum; `None` for UNSPECIFIED or an unknown value.
    pub fn from_proto(value: i32) -> Option<Self> {
        let wire = common::FieldType::try_from(value).ok()?;
        TYPES.iter().find(|t| t.2 == wire).map(|t| t.0)
    }

    /// The wire enum.
    pub fn to_proto(self) -> common::FieldType {
        TYPES
            .iter()
            .find(|t| t.0 == self)
            .map_or(common::FieldType::Text, |t| t.2)
    }

    /// Whether values are options of the field.
    pub fn is_select(self) -> bool {
        matches!(self, Self::SingleSelect | Self::MultiSelect)
    }

    /// Whether values are ordered, so ranges filter them.
    pub fn is_ordered(self) -> bool {
        matches!(self, Self::Number | Self::Money | Self::Date | Self::Datetime)
    }

    /// The FieldValue case its values take, as the proto names it.
    pub fn case(self) -> &'static str {
        match self {
            Self::Text | Self::LongText | Self::User | Self::Email | Self::Url | Self::Phone => "text",
            Self::Number => "number",
            Self::Money => "money",
            Self::Date => "date",
            Self::Datetime => "datetime",
            Self::Boolean => "boolean",
            Self::SingleSelect => "option",
            Self::MultiSelect => "options",
        }
    }
}

/// Where a definition is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Shown, validated, filterable.
    Active,
    /// Hidden; values kept.
    Archived,
    /// Deleted: values purged (or being purged); the key stays taken.
    Deleted,
}

impl State {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Archived => "archived",
            Self::Deleted => "deleted",
        }
    }

    /// From the stored form.
    pub fn from_db(s: &str) -> Self {
        match s {
            "archived" => Self::Archived,
            "deleted" => Self::Deleted,
            _ => Self::Active,
        }
    }

    /// The wire enum (a deleted definition is never shown).
    pub fn to_proto(self) -> common::FieldState {
        match self {
            Self::Active => common::FieldState::Active,
            Self::Archived | Self::Deleted => common::FieldState::Archived,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips_through_its_stored_and_wire_forms() {
        for (t, _, _) in TYPES {
            assert_eq!(FieldType::from_db(t.as_str()), t);
            assert_eq!(FieldType::from_proto(t.to_proto() as i32), Some(t));
        }
        assert_eq!(FieldType::from_proto(0), None);
    }
}
