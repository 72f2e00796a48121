//! Listing contacts: the query, company and tag filters, and paging.

use crm_kit::testing::Backend;
use crm_proto::contacts::v1 as pb;
use tonic_types::StatusExt;

use crate::support::{person, start};

async fn contacts_are_filtered_by_query_company_and_tag_and_paged(backend: Backend) {
    let Some(mut h) = start(backend, "contact_list").await else {
        return;
    };
    let acme = h.company("Acme", "").await;
    let at_acme = |c: pb::Contact| pb::Contact {
        company_id: acme.id.clone(),
        tags: vec!["VIP".into()],
        ..c
    };
    let ann = h.contact(at_acme(person("Ann", "Lee", &["ann@acme.com"]))).await;
    let bob = h.contact(at_acme(person("Bob", "Annan", &[]))).await;
    let cy = h.contact(person("Cy", "Young", &["annie@other.org"])).await;
    let dee = h.contact(at_acme(person("Dee", "Ng", &["dee@acme.com"]))).await;
    let ids = |contacts: &[pb::Contact]| contacts.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
    let list = |query: &str, company_id: &str, tag: &str| pb::ListContactsRequest {
        query: query.into(),
        company_id: company_id.into(),
        tag: tag.into(),
        ..Default::default()
    };

    let cases = [
        (list("ANN", "", ""), vec![&ann, &bob, &cy]),
        (list("ann lee", "", ""), vec![&ann]),
        (list("dee@", "", ""), vec![&dee]),
        (list("", &acme.id, "vip"), vec![&ann, &bob, &dee]),
        (list("ann", &acme.id, "VIP"), vec![&ann, &bob]),
        (list("", "", "nobody"), vec![]),
    ];
    for (req, expected) in cases {
        let found = h
            .client
            .list_contacts(h.req(req.clone()))
            .await
            .unwrap()
            .into_inner()
            .contacts;
        assert_eq!(
            ids(&found),
            expected.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
            "{req:?}"
        );
    }

    let page = |token: &str| pb::ListContactsRequest {
        page_size: 3,
        page_token: token.into(),
        ..list("", &acme.id, "")
    };
    let first = h.client.list_contacts(h.req(page(""))).await.unwrap().into_inner();
    assert_eq!(ids(&first.contacts), ids(&[ann.clone(), bob.clone(), dee.clone()]));
    assert!(first.next_page_token.is_empty());
    let first = h
        .client
        .list_contacts(h.req(pb::ListContactsRequest {
            page_size: 2,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    let second = h
        .client
        .list_contacts(h.req(pb::ListContactsRequest {
            page_size: 2,
            page_token: first.next_page_token.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        [ids(&first.contacts), ids(&second.contacts)].concat(),
        ids(&[ann, bob, cy, dee])
    );
    let reused = pb::ListContactsRequest {
        page_size: 2,
        page_token: first.next_page_token.clone(),
        tag: "vip".into(),
        ..Default::default()
    };
    let err = h.client.list_contacts(h.req(reused)).await.unwrap_err();
    assert_eq!(err.get_details_error_info().unwrap().reason, "INVALID_PAGE_TOKEN");
}

crm_kit::backend_tests!(contacts_are_filtered_by_query_company_and_tag_and_paged);
