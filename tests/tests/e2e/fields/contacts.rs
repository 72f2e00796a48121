//! Custom fields on contacts and companies (ContactsService owns them):
//! definitions per record type, values checked and named, filters, and a
//! merge that keeps the primary's values and fills its gaps.

use crm_kit::testing::{Backend, assert_bad_field, authed, token};
use crm_proto::{
    common::v1::{self as common, FieldType, RecordType, field_value::Kind},
    contacts::v1::{self as cpb, contacts_service_client::ContactsServiceClient},
};
use tonic::{Code, transport::Channel};

use super::{Values, field, option, select, text, value, values};
use crate::harness::up;

async fn define(
    c: &mut ContactsServiceClient<Channel>,
    t: &str,
    rt: RecordType,
    d: common::FieldDefinition,
) -> Result<common::FieldDefinition, tonic::Status> {
    let req = cpb::CreateFieldDefinitionRequest {
        definition: Some(common::FieldDefinition {
            record_type: rt as i32,
            ..d
        }),
        request_id: String::new(),
    };
    Ok(c.create_field_definition(authed(t, req))
        .await?
        .into_inner()
        .definition
        .unwrap())
}

async fn contact(
    c: &mut ContactsServiceClient<Channel>,
    t: &str,
    email: &str,
    custom: Values,
) -> Result<cpb::Contact, tonic::Status> {
    let req = cpb::CreateContactRequest {
        contact: Some(cpb::Contact {
            emails: vec![email.into()],
            custom_fields: custom,
            ..Default::default()
        }),
        request_id: String::new(),
    };
    Ok(c.create_contact(authed(t, req)).await?.into_inner().contact.unwrap())
}

async fn contacts_and_companies_carry_their_own_fields(backend: Backend) {
    let Some(suite) = up(backend, "field_contacts").await else {
        return;
    };
    let t = token("acme", "ann", &["admin"]);
    let mut c = ContactsServiceClient::new(suite.channel.clone());
    define(
        &mut c,
        &t,
        RecordType::Contact,
        select("persona", FieldType::SingleSelect, &["Buyer", "Champion", "User"]),
    )
    .await
    .unwrap();
    define(&mut c, &t, RecordType::Contact, field("linkedin", FieldType::Url))
        .await
        .unwrap();
    define(
        &mut c,
        &t,
        RecordType::Company,
        common::FieldDefinition {
            min: Some(1.0),
            ..field("employees", FieldType::Number)
        },
    )
    .await
    .unwrap();
    // The record type is required here, and deals' fields belong to PipelineService.
    let err = define(&mut c, &t, RecordType::Unspecified, field("x", FieldType::Text))
        .await
        .unwrap_err();
    assert_bad_field(&err, "definition.record_type");
    assert_bad_field(
        &define(&mut c, &t, RecordType::Deal, field("x", FieldType::Text))
            .await
            .unwrap_err(),
        "definition.record_type",
    );
    // The same key may name a contact field and a company field.
    define(&mut c, &t, RecordType::Company, field("linkedin", FieldType::Url))
        .await
        .unwrap();

    let dana = contact(
        &mut c,
        &t,
        "dana@acme.example",
        values(&[
            ("persona", option("buyer")),
            ("linkedin", text("https://linkedin.example/dana")),
        ]),
    )
    .await
    .unwrap();
    assert_eq!(dana.custom_fields.get("persona"), Some(&option("buyer")));
    let err = contact(
        &mut c,
        &t,
        "x@acme.example",
        values(&[("persona", option("ceo")), ("employees", value(Kind::Number(3.0)))]),
    )
    .await
    .unwrap_err();
    assert_bad_field(&err, "contact.custom_fields.persona");
    assert_bad_field(&err, "contact.custom_fields.employees");
    let fox = contact(
        &mut c,
        &t,
        "fox@acme.example",
        values(&[("persona", option("champion"))]),
    )
    .await
    .unwrap();

    let company = |name: &str, employees: f64| cpb::CreateCompanyRequest {
        company: Some(cpb::Company {
            name: name.into(),
            custom_fields: values(&[("employees", value(Kind::Number(employees)))]),
            ..Default::default()
        }),
        request_id: String::new(),
    };
    let acme = c
        .create_company(authed(&t, company("Acme", 1200.0)))
        .await
        .unwrap()
        .into_inner()
        .company
        .unwrap();
    let tiny = c
        .create_company(authed(&t, company("Tiny", 4.0)))
        .await
        .unwrap()
        .into_inner()
        .company
        .unwrap();
    let err = c.create_company(authed(&t, company("Nobody", 0.0))).await.unwrap_err();
    assert_bad_field(&err, "company.custom_fields.employees");

    // Filters.
    let by_persona = cpb::ListContactsRequest {
        field_filters: vec![common::FieldFilter {
            key: "persona".into(),
            any_of: vec!["champion".into(), "user".into()],
            ..Default::default()
        }],
        ..Default::default()
    };
    let found: Vec<String> = c
        .list_contacts(authed(&t, by_persona))
        .await
        .unwrap()
        .into_inner()
        .contacts
        .into_iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(found, std::slice::from_ref(&fox.id));
    let big = cpb::ListCompaniesRequest {
        field_filters: vec![common::FieldFilter {
            key: "employees".into(),
            min: Some(value(Kind::Number(100.0))),
            ..Default::default()
        }],
        ..Default::default()
    };
    let found: Vec<String> = c
        .list_companies(authed(&t, big))
        .await
        .unwrap()
        .into_inner()
        .companies
        .into_iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(found, std::slice::from_ref(&acme.id));
    assert_ne!(acme.id, tiny.id);

    // An update names the changed key; a merge keeps the primary's values and fills its gaps.
    let update = cpb::UpdateCompanyRequest {
        company: Some(cpb::Company {
            id: tiny.id.clone(),
            custom_fields: values(&[("employees", value(Kind::Number(5.0)))]),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["custom_fields.employees".into()],
        }),
    };
    let tiny = c
        .update_company(authed(&t, update))
        .await
        .unwrap()
        .into_inner()
        .company
        .unwrap();
    assert_eq!(
        (tiny.custom_fields.get("employees"), tiny.etag.as_str()),
        (Some(&value(Kind::Number(5.0))), "v2")
    );
    let merge = cpb::MergeContactsRequest {
        primary_id: fox.id.clone(),
        duplicate_id: dana.id.clone(),
        primary_etag: String::new(),
    };
    let merged = c
        .merge_contacts(authed(&t, merge))
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap();
    assert_eq!(
        merged.custom_fields,
        values(&[
            ("linkedin", text("https://linkedin.example/dana")),
            ("persona", option("champion"))
        ])
    );
    let listed = cpb::ListFieldDefinitionsRequest {
        record_type: RecordType::Company as i32,
        include_archived: false,
    };
    let keys: Vec<String> = c
        .list_field_definitions(authed(&t, listed))
        .await
        .unwrap()
        .into_inner()
        .definitions
        .into_iter()
        .map(|d| d.key)
        .collect();
    assert_eq!(keys, ["employees", "linkedin"]);
    let rep = token("acme", "rob", &["rep"]);
    let denied = define(&mut c, &rep, RecordType::Contact, field("y", FieldType::Text))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
}

crm_kit::backend_tests!(contacts_and_companies_carry_their_own_fields);
