//! Custom deal fields in events and in exports and imports: the created
//! and updated payloads carry the values, updates name the changed keys,
//! definitions announce their life cycle, and an import with bad values
//! rejects that deal by index with the field named.

use crm_kit::testing::{Backend, authed};
use crm_proto::{
    common::v1::{self as common, FieldType, field_value::Kind},
    events::v1 as ev,
    pipeline::v1 as pb,
};
use prost::Message;
use tokio_stream::StreamExt;

use super::harness::suite;

fn text(s: &str) -> common::FieldValue {
    common::FieldValue {
        kind: Some(Kind::Text(s.into())),
    }
}

fn definition(key: &str) -> pb::CreateFieldDefinitionRequest {
    pb::CreateFieldDefinitionRequest {
        definition: Some(common::FieldDefinition {
            key: key.into(),
            label: key.into(),
            r#type: FieldType::Text as i32,
            ..Default::default()
        }),
        request_id: String::new(),
    }
}

async fn events_carry_custom_values_and_name_the_changed_keys(backend: Backend) {
    let Some(mut s) = suite(backend, "field_events").await else {
        return;
    };
    for key in ["region", "segment"] {
        s.pipeline
            .create_field_definition(authed(&s.token, definition(key)))
            .await
            .unwrap();
    }
    let p = s.sales_pipeline().await;
    let create = pb::CreateDealRequest {
        deal: Some(pb::Deal {
            pipeline_id: p.id.clone(),
            title: "Acme".into(),
            custom_fields: [("region".to_owned(), text("emea"))].into(),
            ..Default::default()
        }),
        request_id: String::new(),
    };
    let deal = s
        .pipeline
        .create_deal(authed(&s.token, create))
        .await
        .unwrap()
        .into_inner()
        .deal
        .unwrap();
    let update = pb::UpdateDealRequest {
        deal: Some(pb::Deal {
            id: deal.id.clone(),
            title: "Acme GmbH".into(),
            custom_fields: [("region".to_owned(), text("emea")), ("segment".to_owned(), text("smb"))].into(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec![
                "title".into(),
                "custom_fields.region".into(),
                "custom_fields.segment".into(),
            ],
        }),
    };
    s.pipeline.update_deal(authed(&s.token, update)).await.unwrap();
    let events = s.events().await;
    let types: Vec<&str> = events.iter().map(|e| e.r#type.as_str()).collect();
    assert_eq!(
        types,
        [
            "pipeline.field.created",
            "pipeline.field.created",
            "pipeline.pipeline.created",
            "pipeline.deal.created",
            "pipeline.deal.updated"
        ]
    );
    let payload = |e: &ev::EventEnvelope| e.payload.as_ref().unwrap().value.clone();
    let created = ev::DealCreated::decode(payload(&events[3]).as_slice()).unwrap();
    assert_eq!(
        created.deal.unwrap().custom_fields,
        [("region".to_owned(), text("emea"))].into()
    );
    let updated = ev::DealUpdated::decode(payload(&events[4]).as_slice()).unwrap();
    // region was set to the value it had: only segment changed.
    assert_eq!(updated.changed_fields, ["title", "custom_fields.segment"]);
    assert_eq!(updated.deal.unwrap().custom_fields.len(), 2);
    let field = ev::FieldDefinitionCreated::decode(payload(&events[0]).as_slice()).unwrap();
    assert_eq!(field.definition.unwrap().key, "region");
}

async fn exports_and_imports_carry_custom_values(backend: Backend) {
    let Some(mut s) = suite(backend, "field_import").await else {
        return;
    };
    s.pipeline
        .create_field_definition(authed(&s.token, definition("region")))
        .await
        .unwrap();
    let p = s.sales_pipeline().await;
    let now = prost_types::Timestamp::from(std::time::SystemTime::now() - std::time::Duration::from_secs(60));
    let row = |title: &str, region: common::FieldValue| pb::ImportDealsRequest {
        pipeline_id: p.id.clone(),
        title: title.into(),
        history: vec![pb::HistoryEntry {
            stage_id: p.stages[0].id.clone(),
            entered_at: Some(now),
        }],
        custom_fields: [("region".to_owned(), region)].into(),
        ..Default::default()
    };
    let bad = common::FieldValue {
        kind: Some(Kind::Number(3.0)),
    };
    let rows = vec![row("One", text("emea")), row("Two", bad), row("Three", text("apac"))];
    let reply = s
        .pipeline
        .import_deals(authed(&s.token, tokio_stream::iter(rows)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((reply.imported, reply.rejected), (2, 1));
    assert_eq!(
        (reply.errors[0].index, reply.errors[0].field.as_str()),
        (1, "custom_fields.region")
    );
    let req = pb::ExportDealsRequest {
        pipeline_id: p.id.clone(),
    };
    let mut stream = s
        .pipeline
        .export_deals(authed(&s.token, req))
        .await
        .unwrap()
        .into_inner();
    let mut regions = Vec::new();
    while let Some(m) = stream.next().await {
        let deal = m.unwrap().deal.unwrap();
        regions.push((deal.title, deal.custom_fields.get("region").cloned()));
    }
    assert_eq!(
        regions,
        [
            ("One".to_owned(), Some(text("emea"))),
            ("Three".to_owned(), Some(text("apac")))
        ]
    );
}

async fn a_tenant_has_at_most_500_fields_per_record_type(backend: Backend) {
    let Some(mut s) = suite(backend, "field_limit").await else {
        return;
    };
    for i in 0..crm_fields::edit::MAX_FIELDS {
        s.pipeline
            .create_field_definition(authed(&s.token, definition(&format!("f{i}"))))
            .await
            .unwrap();
    }
    let err = s
        .pipeline
        .create_field_definition(authed(&s.token, definition("one_more")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");
    let req = pb::ListFieldDefinitionsRequest { include_archived: true };
    let listed = s
        .pipeline
        .list_field_definitions(authed(&s.token, req))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.definitions.len(), crm_fields::edit::MAX_FIELDS);
}

crm_kit::backend_tests!(
    events_carry_custom_values_and_name_the_changed_keys,
    exports_and_imports_carry_custom_values,
    a_tenant_has_at_most_500_fields_per_record_type,
);
