//! Activities and timelines, and merging contacts.

use crm_kit::testing::Backend;
use crm_proto::{common::v1::ActivityKind, contacts::v1 as pb};
use pb::list_activities_request::Subject;
use prost_types::Timestamp;
use tonic::Code;

use crate::support::{Harness, bad_fields, person, start};

fn activity(subject: &str, seconds: i64) -> pb::Activity {
    pb::Activity {
        kind: ActivityKind::Call as i32,
        subject: subject.into(),
        occurred_at: Some(Timestamp { seconds, nanos: 0 }),
        ..Default::default()
    }
}

async fn log(h: &mut Harness, activity: pb::Activity) -> Result<pb::Activity, tonic::Status> {
    let req = h.req(pb::LogActivityRequest {
        activity: Some(activity),
        request_id: String::new(),
    });
    Ok(h.client
        .log_activity(req)
        .await?
        .into_inner()
        .activity
        .expect("activity"))
}

async fn timeline(h: &mut Harness, subject: Subject, page_size: i32, page_token: &str) -> pb::ListActivitiesResponse {
    let req = pb::ListActivitiesRequest {
        subject: Some(subject),
        page_size,
        page_token: page_token.into(),
    };
    h.client
        .list_activities(h.req(req))
        .await
        .expect("list activities")
        .into_inner()
}

fn subjects(page: &pb::ListActivitiesResponse) -> Vec<&str> {
    page.activities.iter().map(|a| a.subject.as_str()).collect()
}

async fn timelines_list_activities_newest_first_for_contact_company_and_deal(backend: Backend) {
    let Some(mut h) = start(backend, "activity_timelines").await else {
        return;
    };
    let company = h.company("Acme", "").await;
    let ann = h.contact(person("Ann", "", &[])).await;
    let deal = crm_kit::validate::new_id().to_string();
    let on_all = |a: pb::Activity| pb::Activity {
        contact_id: ann.id.clone(),
        company_id: company.id.clone(),
        deal_id: deal.clone(),
        ..a
    };
    log(&mut h, on_all(activity("old", 1_000))).await.unwrap();
    let new = log(&mut h, on_all(activity("new", 3_000))).await.unwrap();
    log(&mut h, on_all(activity("tie-a", 2_000))).await.unwrap();
    log(&mut h, on_all(activity("tie-b", 2_000))).await.unwrap();
    log(
        &mut h,
        pb::Activity {
            deal_id: deal.clone(),
            ..activity("deal only", 500)
        },
    )
    .await
    .unwrap();
    assert_eq!((new.author_id.as_str(), new.kind), ("ann", ActivityKind::Call as i32));

    let first = timeline(&mut h, Subject::ContactId(ann.id.clone()), 2, "").await;
    let second = timeline(&mut h, Subject::ContactId(ann.id.clone()), 2, &first.next_page_token).await;
    assert_eq!(
        [subjects(&first), subjects(&second)].concat(),
        ["new", "tie-b", "tie-a", "old"]
    );
    assert!(second.next_page_token.is_empty());
    let by_company = timeline(&mut h, Subject::CompanyId(company.id.clone()), 0, "").await;
    assert_eq!(subjects(&by_company), ["new", "tie-b", "tie-a", "old"]);
    let by_deal = timeline(&mut h, Subject::DealId(deal.clone()), 0, "").await;
    assert_eq!(subjects(&by_deal), ["new", "tie-b", "tie-a", "old", "deal only"]);

    // A token is bound to its timeline.
    let req = pb::ListActivitiesRequest {
        subject: Some(Subject::DealId(deal)),
        page_size: 2,
        page_token: first.next_page_token,
    };
    assert_eq!(
        h.client.list_activities(h.req(req)).await.unwrap_err().code(),
        Code::InvalidArgument
    );
    let req = pb::ListActivitiesRequest {
        subject: None,
        page_size: 0,
        page_token: String::new(),
    };
    assert_eq!(
        bad_fields(&h.client.list_activities(h.req(req)).await.unwrap_err()),
        ["subject"]
    );
    let logged = h
        .events()
        .await
        .iter()
        .filter(|t| *t == "contacts.activity.logged")
        .count();
    assert_eq!(logged, 5);
}

async fn an_activity_needs_a_kind_a_subject_and_existing_timelines(backend: Backend) {
    let Some(mut h) = start(backend, "activity_bad_input").await else {
        return;
    };
    let err = log(
        &mut h,
        pb::Activity {
            kind: 0,
            ..activity("", 0)
        },
    )
    .await
    .unwrap_err();
    assert_eq!(bad_fields(&err), ["activity.kind", "activity.subject", "activity"]);
    let err = log(
        &mut h,
        pb::Activity {
            deal_id: "deal-7".into(),
            ..activity("x", 0)
        },
    )
    .await
    .unwrap_err();
    assert_eq!(bad_fields(&err), ["activity.deal_id"]);
    let missing = crm_kit::validate::new_id().to_string();
    for (a, field) in [
        (
            pb::Activity {
                contact_id: missing.clone(),
                ..activity("x", 0)
            },
            "activity.contact_id",
        ),
        (
            pb::Activity {
                company_id: missing.clone(),
                ..activity("x", 0)
            },
            "activity.company_id",
        ),
    ] {
        let err = log(&mut h, a).await.unwrap_err();
        assert_eq!(err.code(), Code::FailedPrecondition);
        assert!(err.message().contains(field), "{}", err.message());
    }
    assert!(h.events().await.is_empty());
}

async fn a_retried_log_activity_records_one_activity(backend: Backend) {
    let Some(mut h) = start(backend, "activity_retry").await else {
        return;
    };
    let deal = crm_kit::validate::new_id().to_string();
    let req = pb::LogActivityRequest {
        activity: Some(pb::Activity {
            deal_id: deal.clone(),
            ..activity("call", 10)
        }),
        request_id: "a-1".into(),
    };
    let first = h.client.log_activity(h.req(req.clone())).await.unwrap().into_inner();
    let again = h.client.log_activity(h.req(req)).await.unwrap().into_inner();
    assert_eq!(first, again);
    assert_eq!(timeline(&mut h, Subject::DealId(deal), 0, "").await.activities.len(), 1);
    assert_eq!(h.events().await, ["contacts.activity.logged"]);
}

async fn merging_contacts_moves_emails_phones_tags_and_activities_to_the_primary(backend: Backend) {
    let Some(mut h) = start(backend, "contact_merge").await else {
        return;
    };
    let acme = h.company("Acme", "").await;
    let primary = h
        .contact(pb::Contact {
            phones: vec!["1".into()],
            tags: vec!["vip".into()],
            ..person("Ann", "Lee", &["ann@acme.com"])
        })
        .await;
    let duplicate = h
        .contact(pb::Contact {
            phones: vec!["1".into(), "2".into()],
            tags: vec!["lead".into(), "vip".into()],
            company_id: acme.id.clone(),
            ..person("Ann", "", &["ann.lee@gmail.com"])
        })
        .await;
    log(
        &mut h,
        pb::Activity {
            contact_id: duplicate.id.clone(),
            ..activity("dup call", 100)
        },
    )
    .await
    .unwrap();
    log(
        &mut h,
        pb::Activity {
            contact_id: primary.id.clone(),
            ..activity("primary call", 50)
        },
    )
    .await
    .unwrap();

    let stale = pb::MergeContactsRequest {
        primary_id: primary.id.clone(),
        duplicate_id: duplicate.id.clone(),
        primary_etag: "v9".into(),
    };
    assert_eq!(
        h.client.merge_contacts(h.req(stale)).await.unwrap_err().code(),
        Code::Aborted
    );
    let itself = pb::MergeContactsRequest {
        primary_id: primary.id.clone(),
        duplicate_id: primary.id.clone(),
        primary_etag: String::new(),
    };
    assert_eq!(
        bad_fields(&h.client.merge_contacts(h.req(itself)).await.unwrap_err()),
        ["duplicate_id"]
    );
    let unknown = pb::MergeContactsRequest {
        primary_id: primary.id.clone(),
        duplicate_id: crm_kit::validate::new_id().to_string(),
        primary_etag: String::new(),
    };
    assert_eq!(
        h.client.merge_contacts(h.req(unknown)).await.unwrap_err().code(),
        Code::NotFound
    );

    let req = pb::MergeContactsRequest {
        primary_id: primary.id.clone(),
        duplicate_id: duplicate.id.clone(),
        primary_etag: primary.etag.clone(),
    };
    let merged = h
        .client
        .merge_contacts(h.req(req))
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap();
    assert_eq!(merged.emails, ["ann@acme.com", "ann.lee@gmail.com"]);
    assert_eq!(merged.phones, ["1", "2"]);
    assert_eq!(merged.tags, ["vip", "lead"]);
    assert_eq!(merged.company_id, acme.id);
    assert_ne!(merged.etag, primary.etag);
    assert_eq!(h.get_contact(&primary.id).await.unwrap(), merged);
    assert_eq!(h.get_contact(&duplicate.id).await.unwrap_err().code(), Code::NotFound);
    let page = timeline(&mut h, Subject::ContactId(primary.id.clone()), 0, "").await;
    assert_eq!(subjects(&page), ["dup call", "primary call"]);
    assert!(
        timeline(&mut h, Subject::ContactId(duplicate.id.clone()), 0, "")
            .await
            .activities
            .is_empty()
    );

    let events = crm_kit::outbox::read_all(&h.conn).await.unwrap();
    let tail: Vec<_> = events[events.len() - 2..]
        .iter()
        .map(|e| (e.r#type.as_str(), e.aggregate_id.as_str()))
        .collect();
    assert_eq!(
        tail,
        [
            ("contacts.contact.merged", primary.id.as_str()),
            ("contacts.contact.deleted", duplicate.id.as_str())
        ]
    );
    let payload: crm_proto::events::v1::ContactMerged =
        events[events.len() - 2].payload.as_ref().unwrap().to_msg().unwrap();
    assert_eq!(payload.activities_moved, 1);
}

crm_kit::backend_tests!(
    timelines_list_activities_newest_first_for_contact_company_and_deal,
    an_activity_needs_a_kind_a_subject_and_existing_timelines,
    a_retried_log_activity_records_one_activity,
    merging_contacts_moves_emails_phones_tags_and_activities_to_the_primary,
);
