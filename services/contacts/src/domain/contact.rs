//! Contacts: their changeable fields, the rules for emails, phones and
//! tags, and the updates that change them.

use crm_fields::{Definitions, values};
use crm_kit::{ApiError, ApiResult, etag::Target, validate::Violations};
use crm_proto::contacts::v1 as pb;
use uuid::Uuid;

/// The longest first or last name.
pub const NAME_MAX: usize = 100;
/// The longest job title.
pub const TITLE_MAX: usize = 200;
/// The most emails, and the most phones, of one contact.
pub const LIST_MAX: usize = 20;
/// The longest email address (RFC 5321 path limit).
pub const EMAIL_MAX: usize = 254;
/// The longest phone number.
pub const PHONE_MAX: usize = 40;
/// The most tags of one contact.
pub const TAGS_MAX: usize = 50;
/// The longest tag.
pub const TAG_MAX: usize = 50;
/// The paths an UpdateContact mask may name.
pub const UPDATABLE: &[&str] = &[
    "first_name",
    "last_name",
    "emails",
    "phones",
    "company_id",
    "title",
    "tags",
    "owner_id",
];

/// How violations name a contact's custom values.
pub const CUSTOM: &str = "contact.custom_fields";

/// The changeable fields of a contact, valid.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ContactFields {
    /// At most 100 characters.
    pub first_name: String,
    /// At most 100 characters.
    pub last_name: String,
    /// Lower case, without repeats, in the caller's order.
    pub emails: Vec<String>,
    /// Trimmed, in the caller's order.
    pub phones: Vec<String>,
    /// The company, if any.
    pub company_id: Option<Uuid>,
    /// At most 200 characters.
    pub title: String,
    /// Lower case, without repeats.
    pub tags: Vec<String>,
    /// The owning user.
    pub owner_id: String,
    /// The stored custom values (an object).
    pub custom: serde_json::Value,
}

impl ContactFields {
    /// The contact of a create request, its custom values checked against
    /// the tenant's contact fields `defs`; the owner defaults to `caller_user`.
    pub fn parse(contact: Option<&pb::Contact>, caller_user: &str, defs: &Definitions) -> ApiResult<Self> {
        let c = contact.ok_or_else(|| ApiError::invalid("contact", "is required"))?;
        let mut v = Violations::new();
        let fields = Self {
            first_name: v.optional_text("contact.first_name", &c.first_name, NAME_MAX),
            last_name: v.optional_text("contact.last_name", &c.last_name, NAME_MAX),
            emails: parse_emails(&mut v, "contact.emails", &c.emails),
            phones: parse_phones(&mut v, "contact.phones", &c.phones),
            company_id: v.optional_id("contact.company_id", &c.company_id),
            title: v.optional_text("contact.title", &c.title, TITLE_MAX),
            tags: parse_tags(&mut v, "contact.tags", &c.tags),
            owner_id: match c.owner_id.as_str() {
                "" => caller_user.to_owned(),
                owner => v.user_id("contact.owner_id", owner),
            },
            custom: values::for_create(&mut v, defs, &c.custom_fields, CUSTOM),
        };
        fields.check_identifiable(&mut v);
        v.finish()?;
        values::check_size(&fields.custom, CUSTOM)?;
        Ok(fields)
    }

    /// A contact needs a first name, a last name or an email.
    fn check_identifiable(&self, v: &mut Violations) {
        if self.first_name.is_empty() && self.last_name.is_empty() && self.emails.is_empty() {
            v.add("contact", "needs a first_name, a last_name or at least one email");
        }
    }

    /// "first last", lower case, for name search.
    pub fn full_name_lower(&self) -> String {
        format!("{} {}", self.first_name, self.last_name).trim().to_lowercase()
    }

    /// Adds `other`'s emails, phones and tags that this contact lacks, and
    /// its company when this contact has none (a merge).
    pub fn absorb(&mut self, other: &ContactFields) {
        union(&mut self.emails, &other.emails);
        union(&mut self.phones, &other.phones);
        union(&mut self.tags, &other.tags);
        if self.company_id.is_none() {
            self.company_id = other.company_id;
        }
        // Custom values: this contact's win; the other's fill the gaps.
        if let (Some(mine), Some(theirs)) = (self.custom.as_object_mut(), other.custom.as_object()) {
            for (key, value) in theirs {
                mine.entry(key.clone()).or_insert_with(|| value.clone());
            }
        }
    }
}

fn union(into: &mut Vec<String>, from: &[String]) {
    for item in from {
        if !into.contains(item) {
            into.push(item.clone());
        }
    }
}

/// Emails: at most 20 plausible addresses, lower-cased, repeats dropped.
pub fn parse_emails(v: &mut Violations, field: &str, raw: &[String]) -> Vec<String> {
    if raw.len() > LIST_MAX {
        v.add(field, format!("must hold at most {LIST_MAX} addresses"));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, email) in raw.iter().enumerate() {
        let email = email.trim().to_lowercase();
        if !is_plausible_email(&email) {
            v.add(
                format!("{field}[{i}]"),
                "must be an email address such as ann@example.com",
            );
        } else if !out.contains(&email) {
            out.push(email);
        }
    }
    out
}

/// One `@`, a non-empty local part, a domain with a dot, no spaces, at most
/// 254 characters. Deliverability is the mail server's business.
pub fn is_plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    email.chars().count() <= EMAIL_MAX
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Phones: at most 20, each 1 to 40 characters, trimmed.
pub fn parse_phones(v: &mut Violations, field: &str, raw: &[String]) -> Vec<String> {
    if raw.len() > LIST_MAX {
        v.add(field, format!("must hold at most {LIST_MAX} numbers"));
    }
    raw.iter()
        .enumerate()
        .map(|(i, phone)| v.required_text(&format!("{field}[{i}]"), phone, PHONE_MAX))
        .collect()
}

/// Tags: at most 50, each 1 to 50 characters, lower-cased, repeats dropped.
pub fn parse_tags(v: &mut Violations, field: &str, raw: &[String]) -> Vec<String> {
    if raw.len() > TAGS_MAX {
        v.add(field, format!("must hold at most {TAGS_MAX} tags"));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, tag) in raw.iter().enumerate() {
        let tag = v.required_text(&format!("{field}[{i}]"), tag, TAG_MAX).to_lowercase();
        if !tag.is_empty() && !out.contains(&tag) {
            out.push(tag);
        }
    }
    out
}

/// An UpdateContact request, parsed: which contact, the etag, and the new
/// value of each masked field.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactUpdate {
    /// The contact and the etag the caller read.
    pub target: Target,
    paths: Vec<&'static str>,
    values: ContactFields,
    custom: Option<values::Edit>,
}

impl ContactUpdate {
    /// Parses the request, naming every bad field; unmasked fields are ignored.
    pub fn parse(req: &pb::UpdateContactRequest) -> ApiResult<Self> {
        let c = req
            .contact
            .as_ref()
            .ok_or_else(|| ApiError::invalid("contact", "is required"))?;
        let mut v = Violations::new();
        let target = Target::parse_in(&mut v, "contact.id", &c.id, "contact.etag", &c.etag);
        let paths = super::mask::parse(&mut v, req.update_mask.as_ref(), UPDATABLE);
        let has = |p: &str| paths.contains(&p);
        let mut values = ContactFields::default();
        if has("first_name") {
            values.first_name = v.optional_text("contact.first_name", &c.first_name, NAME_MAX);
        }
        if has("last_name") {
            values.last_name = v.optional_text("contact.last_name", &c.last_name, NAME_MAX);
        }
        if has("emails") {
            values.emails = parse_emails(&mut v, "contact.emails", &c.emails);
        }
        if has("phones") {
            values.phones = parse_phones(&mut v, "contact.phones", &c.phones);
        }
        if has("company_id") {
            values.company_id = v.optional_id("contact.company_id", &c.company_id);
        }
        if has("title") {
            values.title = v.optional_text("contact.title", &c.title, TITLE_MAX);
        }
        if has("tags") {
            values.tags = parse_tags(&mut v, "contact.tags", &c.tags);
        }
        if has("owner_id") {
            values.owner_id = v.user_id("contact.owner_id", &c.owner_id);
        }
        let target = v.finish_with(target)?;
        let all: Vec<&str> = req
            .update_mask
            .iter()
            .flat_map(|m| m.paths.iter().map(String::as_str))
            .collect();
        let custom = values::Edit::from_mask(&all, &c.custom_fields);
        Ok(Self {
            target,
            paths,
            values,
            custom,
        })
    }

    /// The company the update points the contact at, if it sets one.
    pub fn new_company(&self) -> Option<Uuid> {
        self.paths
            .contains(&"company_id")
            .then_some(self.values.company_id)
            .flatten()
    }

    /// The fields after the update (custom values checked against `defs`)
    /// and the names of those that changed; an update that leaves the
    /// contact without name and email is rejected.
    pub fn apply(&self, current: &ContactFields, defs: &Definitions) -> ApiResult<(ContactFields, Vec<String>)> {
        let mut next = current.clone();
        let new = &self.values;
        for path in &self.paths {
            match *path {
                "first_name" => next.first_name.clone_from(&new.first_name),
                "last_name" => next.last_name.clone_from(&new.last_name),
                "emails" => next.emails.clone_from(&new.emails),
                "phones" => next.phones.clone_from(&new.phones),
                "company_id" => next.company_id = new.company_id,
                "title" => next.title.clone_from(&new.title),
                "tags" => next.tags.clone_from(&new.tags),
                _ => next.owner_id.clone_from(&new.owner_id),
            }
        }
        let mut v = Violations::new();
        next.check_identifiable(&mut v);
        v.finish()?;
        let mut changed = changed_fields(current, &next);
        if let Some(edit) = &self.custom {
            let change = edit.apply(defs, &current.custom, CUSTOM)?;
            next.custom = change.stored;
            changed.extend(change.changed);
        }
        Ok((next, changed))
    }
}

/// The names of the fields that differ between `a` and `b`.
pub fn changed_fields(a: &ContactFields, b: &ContactFields) -> Vec<String> {
    let checks = [
        ("first_name", a.first_name != b.first_name),
        ("last_name", a.last_name != b.last_name),
        ("emails", a.emails != b.emails),
        ("phones", a.phones != b.phones),
        ("company_id", a.company_id != b.company_id),
        ("title", a.title != b.title),
        ("tags", a.tags != b.tags),
        ("owner_id", a.owner_id != b.owner_id),
    ];
    checks
        .into_iter()
        .filter(|(_, differs)| *differs)
        .map(|(name, _)| name.to_owned())
        .collect()
}

#[cfg(test)]
mod tests;
