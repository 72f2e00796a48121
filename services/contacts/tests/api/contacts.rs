//! Contacts: CRUD, email uniqueness, bad input, tenancy, retries, events.

use crm_kit::testing::{self, Backend};
use crm_proto::contacts::v1 as pb;
use tonic::Code;
use tonic_types::StatusExt;

use crate::support::{bad_fields, mask, person, start};

async fn a_contact_can_be_created_read_updated_and_deleted(backend: Backend) {
    let Some(mut h) = start(backend, "contact_crud").await else {
        return;
    };
    let company = h.company("Acme", "acme.com").await;
    let created = h
        .contact(pb::Contact {
            phones: vec!["+1 555 0100".into()],
            tags: vec!["VIP".into(), "vip".into()],
            company_id: company.id.clone(),
            title: "CTO".into(),
            ..person("Ann", "Lee", &["Ann@Acme.com", "ann@acme.com"])
        })
        .await;
    assert_eq!(created.emails, ["ann@acme.com"]);
    assert_eq!(created.tags, ["vip"]);
    assert_eq!(created.owner_id, "ann");
    assert_eq!(h.get_contact(&created.id).await.unwrap(), created);

    let change = pb::Contact {
        id: created.id.clone(),
        etag: created.etag.clone(),
        emails: vec!["ann.lee@acme.com".into()],
        tags: vec!["customer".into()],
        title: "not in the mask".into(),
        ..Default::default()
    };
    let req = h.req(pb::UpdateContactRequest {
        contact: Some(change.clone()),
        update_mask: mask(&["emails", "tags"]),
    });
    let updated = h
        .client
        .update_contact(req)
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap();
    assert_eq!(
        (updated.emails.clone(), updated.tags.clone()),
        (vec!["ann.lee@acme.com".to_owned()], vec!["customer".to_owned()])
    );
    assert_eq!((updated.title.as_str(), updated.first_name.as_str()), ("CTO", "Ann"));

    // A stale etag changes nothing.
    let req = h.req(pb::UpdateContactRequest {
        contact: Some(change),
        update_mask: mask(&["title"]),
    });
    let err = h.client.update_contact(req).await.unwrap_err();
    assert_eq!(err.code(), Code::Aborted);
    assert_eq!(err.get_details_error_info().unwrap().reason, "ETAG_MISMATCH");
    let req = h.req(pb::DeleteContactRequest {
        id: created.id.clone(),
        etag: created.etag.clone(),
    });
    assert_eq!(h.client.delete_contact(req).await.unwrap_err().code(), Code::Aborted);
    assert_eq!(h.get_contact(&created.id).await.unwrap(), updated);

    let req = h.req(pb::DeleteContactRequest {
        id: created.id.clone(),
        etag: String::new(),
    });
    h.client.delete_contact(req).await.unwrap();
    assert_eq!(h.get_contact(&created.id).await.unwrap_err().code(), Code::NotFound);
    // The deleted contact's email is free again.
    h.contact(person("", "", &["ann.lee@acme.com"])).await;
    let events = h.events().await;
    assert_eq!(
        events[1..4],
        [
            "contacts.contact.created",
            "contacts.contact.updated",
            "contacts.contact.deleted"
        ]
    );
    let envelopes = crm_kit::outbox::read_all(&h.conn).await.unwrap();
    let updated_event: crm_proto::events::v1::ContactUpdated = envelopes[2].payload.as_ref().unwrap().to_msg().unwrap();
    assert_eq!(updated_event.changed_fields, ["emails", "tags"]);
    assert_eq!(envelopes[3].aggregate_version, 3);
}

async fn a_duplicate_email_is_already_exists_naming_the_existing_contact(backend: Backend) {
    let Some(mut h) = start(backend, "contact_duplicate_email").await else {
        return;
    };
    let ann = h.contact(person("Ann", "", &["ann@acme.com"])).await;
    let bob = h.contact(person("Bob", "", &["bob@acme.com"])).await;
    let events_before = h.events().await;

    let req = h.req(pb::CreateContactRequest {
        contact: Some(person("Other", "", &["x@y.com", "ANN@acme.com"])),
        request_id: String::new(),
    });
    let err = h.client.create_contact(req).await.unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    assert!(
        err.message().contains("ann@acme.com") && err.message().contains(&ann.id),
        "{}",
        err.message()
    );
    assert_eq!(err.get_details_error_info().unwrap().metadata["existing_id"], ann.id);

    let change = pb::Contact {
        id: bob.id.clone(),
        emails: vec!["bob@acme.com".into(), "ann@acme.com".into()],
        ..Default::default()
    };
    let req = h.req(pb::UpdateContactRequest {
        contact: Some(change),
        update_mask: mask(&["emails"]),
    });
    assert_eq!(
        h.client.update_contact(req).await.unwrap_err().code(),
        Code::AlreadyExists
    );

    assert_eq!(h.all_contacts().await.len(), 2);
    assert_eq!(h.get_contact(&bob.id).await.unwrap(), bob);
    assert_eq!(h.events().await, events_before, "a failed change writes no event");
}

async fn bad_contact_input_names_each_field_and_writes_nothing(backend: Backend) {
    let Some(mut h) = start(backend, "contact_bad_input").await else {
        return;
    };
    let cases: Vec<(pb::Contact, Vec<&str>)> = vec![
        (pb::Contact::default(), vec!["contact"]),
        (person(&"x".repeat(101), "", &[]), vec!["contact.first_name"]),
        (
            person("Ann", "", &["no-at-sign", "a@b@c.com"]),
            vec!["contact.emails[0]", "contact.emails[1]"],
        ),
        (
            pb::Contact {
                company_id: "acme".into(),
                ..person("Ann", "", &[])
            },
            vec!["contact.company_id"],
        ),
        (
            pb::Contact {
                tags: vec![String::new()],
                phones: vec!["1".repeat(41)],
                ..person("Ann", "", &[])
            },
            vec!["contact.phones[0]", "contact.tags[0]"],
        ),
    ];
    for (contact, fields) in cases {
        let req = h.req(pb::CreateContactRequest {
            contact: Some(contact),
            request_id: String::new(),
        });
        assert_eq!(bad_fields(&h.client.create_contact(req).await.unwrap_err()), fields);
    }
    for id in ["", "not-a-uuid", "0190C6E48A1B7CDE9F00123456789ABC"] {
        let err = h
            .client
            .get_contact(h.req(pb::GetContactRequest { id: id.into() }))
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&err), ["id"]);
    }
    let err = h
        .client
        .list_contacts(h.req(pb::ListContactsRequest {
            page_size: 501,
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["page_size"]);
    assert!(h.all_contacts().await.is_empty());
    assert!(h.events().await.is_empty());
}

async fn a_contact_of_an_unknown_company_fails_precondition(backend: Backend) {
    let Some(mut h) = start(backend, "contact_unknown_company").await else {
        return;
    };
    let company_id = crm_kit::validate::new_id().to_string();
    let req = h.req(pb::CreateContactRequest {
        contact: Some(pb::Contact {
            company_id,
            ..person("Ann", "", &[])
        }),
        request_id: String::new(),
    });
    let err = h.client.create_contact(req).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(
        err.get_details_precondition_failure().unwrap().violations[0].subject,
        "contact.company_id"
    );
    assert!(h.events().await.is_empty());
}

async fn another_tenants_contact_reads_as_not_found_and_stays_unchanged(backend: Backend) {
    let Some(mut h) = start(backend, "contact_tenancy").await else {
        return;
    };
    let ann = h.contact(person("Ann", "", &["ann@acme.com"])).await;
    let other = testing::token("globex", "bob", &["admin"]);
    let err = h
        .client
        .get_contact(testing::authed(&other, pb::GetContactRequest { id: ann.id.clone() }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let change = pb::Contact {
        id: ann.id.clone(),
        first_name: "Eve".into(),
        ..Default::default()
    };
    let req = testing::authed(
        &other,
        pb::UpdateContactRequest {
            contact: Some(change),
            update_mask: mask(&["first_name"]),
        },
    );
    assert_eq!(h.client.update_contact(req).await.unwrap_err().code(), Code::NotFound);
    let req = testing::authed(
        &other,
        pb::DeleteContactRequest {
            id: ann.id.clone(),
            etag: String::new(),
        },
    );
    assert_eq!(h.client.delete_contact(req).await.unwrap_err().code(), Code::NotFound);
    // Emails are unique per tenant: another tenant may use the same address.
    let req = testing::authed(
        &other,
        pb::CreateContactRequest {
            contact: Some(person("", "", &["ann@acme.com"])),
            request_id: String::new(),
        },
    );
    h.client.create_contact(req).await.unwrap();
    assert_eq!(h.get_contact(&ann.id).await.unwrap(), ann);
    assert_eq!(h.all_contacts().await.len(), 1);
}

async fn a_retried_create_contact_returns_the_first_contact_and_creates_nothing(backend: Backend) {
    let Some(mut h) = start(backend, "contact_retry").await else {
        return;
    };
    let req = pb::CreateContactRequest {
        contact: Some(person("Ann", "", &["ann@acme.com"])),
        request_id: "r-1".into(),
    };
    let first = h.client.create_contact(h.req(req.clone())).await.unwrap().into_inner();
    let again = h.client.create_contact(h.req(req)).await.unwrap().into_inner();
    assert_eq!(first, again);
    assert_eq!(h.all_contacts().await.len(), 1);
    assert_eq!(h.events().await, ["contacts.contact.created"]);
}

crm_kit::backend_tests!(
    a_contact_can_be_created_read_updated_and_deleted,
    a_duplicate_email_is_already_exists_naming_the_existing_contact,
    bad_contact_input_names_each_field_and_writes_nothing,
    a_contact_of_an_unknown_company_fails_precondition,
    another_tenants_contact_reads_as_not_found_and_stays_unchanged,
    a_retried_create_contact_returns_the_first_contact_and_creates_nothing,
);
