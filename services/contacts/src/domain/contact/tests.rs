//! Unit tests of the contact rules.

static NONE: std::sync::LazyLock<crm_fields::Definitions> = std::sync::LazyLock::new(crm_fields::Definitions::default);

use prost_types::FieldMask;

use super::*;

fn contact() -> pb::Contact {
    pb::Contact {
        first_name: "Ann".into(),
        emails: vec!["Ann@Example.com".into(), "ann@example.com".into()],
        tags: vec!["VIP".into(), "vip".into(), "lead".into()],
        phones: vec![" +1 555 0100 ".into()],
        ..Default::default()
    }
}

fn violations(result: ApiResult<impl std::fmt::Debug>) -> Vec<String> {
    match result {
        Err(ApiError::InvalidArgument(v)) => v.into_iter().map(|v| v.field).collect(),
        other => panic!("expected violations, got {other:?}"),
    }
}

#[test]
fn emails_and_tags_are_lower_cased_and_deduplicated() {
    let f = ContactFields::parse(Some(&contact()), "ann", &NONE).unwrap();
    assert_eq!(f.emails, ["ann@example.com"]);
    assert_eq!(f.tags, ["vip", "lead"]);
    assert_eq!(f.phones, ["+1 555 0100"]);
    assert_eq!(f.owner_id, "ann");
}

#[test]
fn a_contact_without_name_or_email_is_rejected() {
    assert_eq!(
        violations(ContactFields::parse(Some(&pb::Contact::default()), "ann", &NONE)),
        ["contact"]
    );
}

#[test]
fn implausible_emails_are_each_named() {
    let mut c = contact();
    c.emails = vec![
        "a@b.co".into(),
        "no-at".into(),
        "two@@x.com".into(),
        "x@nodot".into(),
        "@x.com".into(),
    ];
    assert_eq!(
        violations(ContactFields::parse(Some(&c), "ann", &NONE)),
        [
            "contact.emails[1]",
            "contact.emails[2]",
            "contact.emails[3]",
            "contact.emails[4]"
        ]
    );
}

#[test]
fn too_many_phones_and_an_over_long_tag_are_both_reported() {
    let mut c = contact();
    c.phones = vec!["1".into(); 21];
    c.tags = vec!["t".repeat(51)];
    assert_eq!(
        violations(ContactFields::parse(Some(&c), "ann", &NONE)),
        ["contact.phones", "contact.tags[0]"]
    );
}

#[test]
fn a_malformed_company_id_is_named() {
    let mut c = contact();
    c.company_id = "acme".into();
    assert_eq!(
        violations(ContactFields::parse(Some(&c), "ann", &NONE)),
        ["contact.company_id"]
    );
}

#[test]
fn an_update_that_removes_every_name_and_email_is_rejected() {
    let current = ContactFields::parse(Some(&contact()), "ann", &NONE).unwrap();
    let req = pb::UpdateContactRequest {
        contact: Some(pb::Contact {
            id: crm_kit::validate::new_id().to_string(),
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["first_name".into(), "emails".into()],
        }),
    };
    let update = ContactUpdate::parse(&req).unwrap();
    assert!(update.apply(&current, &NONE).is_err());
}

#[test]
fn an_update_replaces_repeated_fields_whole_and_names_what_changed() {
    let current = ContactFields::parse(Some(&contact()), "ann", &NONE).unwrap();
    let req = pb::UpdateContactRequest {
        contact: Some(pb::Contact {
            id: crm_kit::validate::new_id().to_string(),
            tags: vec!["Customer".into()],
            title: "ignored: not in the mask".into(),
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["tags".into()],
        }),
    };
    let (next, changed) = ContactUpdate::parse(&req).unwrap().apply(&current, &NONE).unwrap();
    assert_eq!(next.tags, ["customer"]);
    assert_eq!(next.title, "");
    assert_eq!(changed, ["tags"]);
}

#[test]
fn a_merge_unions_lists_and_keeps_the_primary_company() {
    let mut primary = ContactFields {
        emails: vec!["a@x.com".into()],
        tags: vec!["vip".into()],
        ..Default::default()
    };
    let company = crm_kit::validate::new_id();
    let duplicate = ContactFields {
        emails: vec!["b@x.com".into()],
        tags: vec!["vip".into(), "lead".into()],
        phones: vec!["1".into()],
        company_id: Some(company),
        ..Default::default()
    };
    primary.absorb(&duplicate);
    assert_eq!(primary.emails, ["a@x.com", "b@x.com"]);
    assert_eq!(primary.tags, ["vip", "lead"]);
    assert_eq!(primary.phones, ["1"]);
    assert_eq!(primary.company_id, Some(company));
}
