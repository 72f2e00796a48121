//! The suite as `crm up` runs it: every service on one port, the pipeline
//! asking contacts over gRPC, driven only through the generated clients.

use crm_kit::testing::{Backend, authed, token};
use crm_proto::{
    common::v1::{ActivityKind, DealStatus, Money},
    contacts::v1::{self as cpb, contacts_service_client::ContactsServiceClient},
    pipeline::v1::{self as pb, pipeline_service_client::PipelineServiceClient},
};
use tonic::Code;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};

use super::harness::{sales_pipeline, up};

async fn the_tour_from_the_readme_works_end_to_end(backend: Backend) {
    let Some(suite) = up(backend, "tour").await else { return };
    let t = token("acme", "ann", &["admin"]);
    let mut contacts = ContactsServiceClient::new(suite.channel.clone());
    let mut pipeline = PipelineServiceClient::new(suite.channel.clone());

    let company = cpb::Company {
        name: "Acme Corp".into(),
        domain: "acme.example".into(),
        ..Default::default()
    };
    let company = contacts
        .create_company(authed(
            &t,
            cpb::CreateCompanyRequest {
                company: Some(company),
                request_id: String::new(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .company
        .unwrap();
    let contact = cpb::Contact {
        first_name: "Dana".into(),
        last_name: "Scully".into(),
        emails: vec!["dana@acme.example".into()],
        company_id: company.id.clone(),
        ..Default::default()
    };
    let contact = contacts
        .create_contact(authed(
            &t,
            cpb::CreateContactRequest {
                contact: Some(contact),
                request_id: String::new(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap();

    let p = sales_pipeline(&mut pipeline, &t).await;

    let deal = pb::Deal {
        pipeline_id: p.id.clone(),
        title: "Acme renewal".into(),
        amount: Some(Money {
            currency_code: "EUR".into(),
            units: 12_000,
            nanos: 0,
        }),
        contact_id: contact.id.clone(),
        company_id: company.id.clone(),
        ..Default::default()
    };
    let deal = pipeline
        .create_deal(authed(
            &t,
            pb::CreateDealRequest {
                deal: Some(deal),
                request_id: "tour-1".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .deal
        .unwrap();
    let moved = pipeline
        .move_deal(authed(
            &t,
            pb::MoveDealRequest {
                deal_id: deal.id.clone(),
                stage_id: p.stages[1].id.clone(),
                etag: deal.etag.clone(),
                lost_reason: String::new(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(moved.deal.as_ref().unwrap().probability, 60);

    let activity = cpb::Activity {
        kind: ActivityKind::Call as i32,
        subject: "Pricing call".into(),
        contact_id: contact.id.clone(),
        deal_id: deal.id.clone(),
        ..Default::default()
    };
    contacts
        .log_activity(authed(
            &t,
            cpb::LogActivityRequest {
                activity: Some(activity),
                request_id: String::new(),
            },
        ))
        .await
        .unwrap();
    let timeline = contacts
        .list_activities(authed(
            &t,
            cpb::ListActivitiesRequest {
                subject: Some(cpb::list_activities_request::Subject::DealId(deal.id.clone())),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(timeline.activities.len(), 1);

    let history = pipeline
        .list_deal_history(authed(
            &t,
            pb::ListDealHistoryRequest {
                deal_id: deal.id.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(history.transitions.len(), 2);
    let board = pipeline
        .get_board(authed(
            &t,
            pb::GetBoardRequest {
                pipeline_id: p.id.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(board.columns[1].deal_count, 1);
    assert_eq!(
        board.columns[1].weighted_total,
        [Money {
            currency_code: "EUR".into(),
            units: 7_200,
            nanos: 0
        }]
    );

    let won = pipeline
        .move_deal(authed(
            &t,
            pb::MoveDealRequest {
                deal_id: deal.id.clone(),
                stage_id: p.stages[2].id.clone(),
                etag: String::new(),
                lost_reason: String::new(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(won.deal.unwrap().status, DealStatus::Won as i32);
}

async fn the_pipeline_asks_contacts_about_references_across_the_port(backend: Backend) {
    let Some(suite) = up(backend, "references").await else {
        return;
    };
    let t = token("acme", "ann", &["admin"]);
    let other_tenant = token("globex", "gus", &["admin"]);
    let mut contacts = ContactsServiceClient::new(suite.channel.clone());
    let mut pipeline = PipelineServiceClient::new(suite.channel.clone());
    let theirs = cpb::Company {
        name: "Globex".into(),
        ..Default::default()
    };
    let theirs = contacts
        .create_company(authed(
            &other_tenant,
            cpb::CreateCompanyRequest {
                company: Some(theirs),
                request_id: String::new(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .company
        .unwrap();
    let p = sales_pipeline(&mut pipeline, &t).await;
    let deal = pb::Deal {
        pipeline_id: p.id.clone(),
        title: "T".into(),
        company_id: theirs.id.clone(),
        ..Default::default()
    };
    let err = pipeline
        .create_deal(authed(
            &t,
            pb::CreateDealRequest {
                deal: Some(deal),
                request_id: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::FailedPrecondition,
        "another tenant's company does not exist for us: {err:?}"
    );
    assert!(err.message().contains("deal.company_id"));
}

async fn health_reports_every_service_serving(backend: Backend) {
    let Some(suite) = up(backend, "health").await else {
        return;
    };
    let mut health = HealthClient::new(suite.channel.clone());
    for service in [
        "",
        "crm.contacts.v1.ContactsService",
        "crm.pipeline.v1.PipelineService",
        "crm.tasks.v1.TasksService",
    ] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "{service}");
    }
}

async fn every_change_leaves_the_outbox_through_the_relay(backend: Backend) {
    let Some(suite) = up(backend, "relay").await else {
        return;
    };
    let t = token("acme", "ann", &["admin"]);
    let mut pipeline = PipelineServiceClient::new(suite.channel.clone());
    let p = sales_pipeline(&mut pipeline, &t).await;
    let db = crm_kit::db::connect(&suite.dbs.as_ref().expect("its own databases").1.url)
        .await
        .unwrap();
    let mut left = u64::MAX;
    for _ in 0..100 {
        left = crm_kit::bus::relay::pending(&db).await.unwrap();
        if left == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(left, 0, "the pipeline.created event of {} was relayed", p.id);
    let events = crm_kit::outbox::read_all(&db).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.r#type.as_str()).collect::<Vec<_>>(),
        ["pipeline.pipeline.created"]
    );
}

crm_kit::backend_tests!(
    every_change_leaves_the_outbox_through_the_relay,
    the_tour_from_the_readme_works_end_to_end,
    the_pipeline_asks_contacts_about_references_across_the_port,
    health_reports_every_service_serving,
);
