//! Companies: CRUD, paging and search, tenancy, idempotency, events.

use crm_kit::testing::{self, Backend};
use crm_proto::contacts::v1 as pb;
use tonic::Code;

use crate::support::{bad_fields, mask, person, start};

async fn a_company_can_be_created_read_updated_and_deleted(backend: Backend) {
    let Some(mut h) = start(backend, "company_crud").await else {
        return;
    };
    let created = h.company(" Acme ", "ACME.com").await;
    assert_eq!(
        (
            created.name.as_str(),
            created.domain.as_str(),
            created.owner_id.as_str()
        ),
        ("Acme", "acme.com", "ann")
    );

    let got = h
        .client
        .get_company(h.req(pb::GetCompanyRequest { id: created.id.clone() }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.company.as_ref(), Some(&created));

    let change = pb::Company {
        id: created.id.clone(),
        name: "Acme Inc".into(),
        etag: created.etag.clone(),
        ..Default::default()
    };
    let req = h.req(pb::UpdateCompanyRequest {
        company: Some(change.clone()),
        update_mask: mask(&["name"]),
    });
    let updated = h
        .client
        .update_company(req)
        .await
        .unwrap()
        .into_inner()
        .company
        .unwrap();
    assert_eq!(
        (updated.name.as_str(), updated.domain.as_str()),
        ("Acme Inc", "acme.com")
    );
    assert_ne!(updated.etag, created.etag);

    // The first etag is stale now, for update and delete alike.
    let req = h.req(pb::UpdateCompanyRequest {
        company: Some(change.clone()),
        update_mask: mask(&["name"]),
    });
    assert_eq!(h.client.update_company(req).await.unwrap_err().code(), Code::Aborted);
    let req = h.req(pb::DeleteCompanyRequest {
        id: created.id.clone(),
        etag: created.etag.clone(),
    });
    assert_eq!(h.client.delete_company(req).await.unwrap_err().code(), Code::Aborted);

    for paths in [&[][..], &["name", "etag"][..]] {
        let req = h.req(pb::UpdateCompanyRequest {
            company: Some(change.clone()),
            update_mask: mask(paths),
        });
        assert_eq!(
            bad_fields(&h.client.update_company(req).await.unwrap_err()),
            ["update_mask"]
        );
    }

    let req = h.req(pb::DeleteCompanyRequest {
        id: created.id.clone(),
        etag: updated.etag.clone(),
    });
    h.client.delete_company(req).await.unwrap();
    let err = h
        .client
        .get_company(h.req(pb::GetCompanyRequest { id: created.id.clone() }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(
        h.events().await,
        [
            "contacts.company.created",
            "contacts.company.updated",
            "contacts.company.deleted"
        ]
    );
    let versions: Vec<_> = crm_kit::outbox::read_all(&h.conn)
        .await
        .unwrap()
        .iter()
        .map(|e| e.aggregate_version)
        .collect();
    assert_eq!(versions, [1, 2, 3]);
}

async fn companies_are_listed_in_pages_and_searched_by_name_or_domain_prefix(backend: Backend) {
    let Some(mut h) = start(backend, "company_list").await else {
        return;
    };
    h.company("Acme", "acme.com").await;
    h.company("Globex", "globex.example").await;
    h.company("Initech", "acme-partner.io").await;
    h.company("acme 100%", "").await;
    let list = |page_size, page_token: &str, query: &str| pb::ListCompaniesRequest {
        page_size,
        page_token: page_token.into(),
        query: query.into(),
        ..Default::default()
    };

    let first = h
        .client
        .list_companies(h.req(list(2, "", "")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.companies.len(), 2);
    assert!(!first.next_page_token.is_empty());
    let second = h
        .client
        .list_companies(h.req(list(2, &first.next_page_token, "")))
        .await
        .unwrap()
        .into_inner();
    let names: Vec<_> = first
        .companies
        .iter()
        .chain(&second.companies)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, ["Acme", "Globex", "Initech", "acme 100%"]);
    assert!(second.next_page_token.is_empty());

    let found = h
        .client
        .list_companies(h.req(list(0, "", "ACME")))
        .await
        .unwrap()
        .into_inner();
    let names: Vec<_> = found.companies.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["Acme", "Initech", "acme 100%"]);
    // LIKE wildcards in the query are taken literally.
    for (query, count) in [("acme 100%", 1), ("%", 0), ("_cme", 0)] {
        let found = h
            .client
            .list_companies(h.req(list(0, "", query)))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(found.companies.len(), count, "query {query}");
    }

    let mut tampered = first.next_page_token.clone().into_bytes();
    tampered[2] ^= 1;
    let tampered = String::from_utf8(tampered).unwrap();
    let err = h
        .client
        .list_companies(h.req(list(2, &tampered, "")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = h
        .client
        .list_companies(h.req(list(2, &first.next_page_token, "acme")))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::InvalidArgument,
        "a token only works for its own query"
    );
    assert_eq!(
        bad_fields(&h.client.list_companies(h.req(list(501, "", ""))).await.unwrap_err()),
        ["page_size"]
    );
}

async fn a_company_that_contacts_belong_to_cannot_be_deleted(backend: Backend) {
    let Some(mut h) = start(backend, "company_in_use").await else {
        return;
    };
    let company = h.company("Acme", "").await;
    h.contact(pb::Contact {
        company_id: company.id.clone(),
        ..person("Ann", "", &[])
    })
    .await;
    let err = h
        .client
        .delete_company(h.req(pb::DeleteCompanyRequest {
            id: company.id.clone(),
            etag: String::new(),
        }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(
        h.events().await,
        ["contacts.company.created", "contacts.contact.created"]
    );
}

async fn another_tenants_company_reads_as_not_found_and_stays_unchanged(backend: Backend) {
    let Some(mut h) = start(backend, "company_tenancy").await else {
        return;
    };
    let company = h.company("Acme", "").await;
    let other = testing::token("globex", "bob", &["admin"]);
    let get = pb::GetCompanyRequest { id: company.id.clone() };
    assert_eq!(
        h.client
            .get_company(testing::authed(&other, get.clone()))
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    let change = pb::Company {
        id: company.id.clone(),
        name: "Hijacked".into(),
        ..Default::default()
    };
    let req = testing::authed(
        &other,
        pb::UpdateCompanyRequest {
            company: Some(change),
            update_mask: mask(&["name"]),
        },
    );
    assert_eq!(h.client.update_company(req).await.unwrap_err().code(), Code::NotFound);
    let req = testing::authed(
        &other,
        pb::DeleteCompanyRequest {
            id: company.id.clone(),
            etag: String::new(),
        },
    );
    assert_eq!(h.client.delete_company(req).await.unwrap_err().code(), Code::NotFound);
    let listed = h
        .client
        .list_companies(testing::authed(&other, pb::ListCompaniesRequest::default()))
        .await
        .unwrap();
    assert!(listed.into_inner().companies.is_empty());
    let still = h
        .client
        .get_company(h.req(get))
        .await
        .unwrap()
        .into_inner()
        .company
        .unwrap();
    assert_eq!(still, company);
    assert_eq!(h.events().await, ["contacts.company.created"]);
}

async fn a_retried_create_company_returns_the_first_company_and_creates_nothing(backend: Backend) {
    let Some(mut h) = start(backend, "company_retry").await else {
        return;
    };
    let req = pb::CreateCompanyRequest {
        company: Some(pb::Company {
            name: "Acme".into(),
            ..Default::default()
        }),
        request_id: "retry-1".into(),
    };
    let first = h.client.create_company(h.req(req.clone())).await.unwrap().into_inner();
    let again = h.client.create_company(h.req(req.clone())).await.unwrap().into_inner();
    assert_eq!(first, again);
    let listed = h
        .client
        .list_companies(h.req(pb::ListCompaniesRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.companies.len(), 1);
    assert_eq!(h.events().await, ["contacts.company.created"]);
    // The same request_id with another body is a caller bug.
    let mut other = req;
    other.company.as_mut().unwrap().name = "Globex".into();
    assert_eq!(
        bad_fields(&h.client.create_company(h.req(other)).await.unwrap_err()),
        ["request_id"]
    );
}

async fn bad_company_input_names_each_field_and_writes_nothing(backend: Backend) {
    let Some(mut h) = start(backend, "company_bad_input").await else {
        return;
    };
    let company = pb::Company {
        name: "x".repeat(201),
        domain: "not a domain".into(),
        ..Default::default()
    };
    let req = h.req(pb::CreateCompanyRequest {
        company: Some(company),
        request_id: String::new(),
    });
    assert_eq!(
        bad_fields(&h.client.create_company(req).await.unwrap_err()),
        ["company.name", "company.domain"]
    );
    let err = h
        .client
        .get_company(h.req(pb::GetCompanyRequest { id: "42".into() }))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["id"]);
    assert!(h.events().await.is_empty());
}

crm_kit::backend_tests!(
    a_company_can_be_created_read_updated_and_deleted,
    companies_are_listed_in_pages_and_searched_by_name_or_domain_prefix,
    a_company_that_contacts_belong_to_cannot_be_deleted,
    another_tenants_company_reads_as_not_found_and_stays_unchanged,
    a_retried_create_company_returns_the_first_company_and_creates_nothing,
    bad_company_input_names_each_field_and_writes_nothing,
);
