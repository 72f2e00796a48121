//! Custom deal fields through the gateway of `crm up`: definitions from
//! creation to purge, every type's checks naming the field, filters of
//! each kind, and a customer's purchase history.

mod analytics;
mod contacts;
mod filters;
mod rules;
mod types;

use crm_kit::testing::{Backend, authed, token};
use crm_proto::{
    common::v1::{self as common, FieldType, field_value::Kind},
    pipeline::v1::{self as pb, pipeline_service_client::PipelineServiceClient},
};
use tonic::{Code, transport::Channel};

use super::harness::{sales_pipeline, up};

/// A client, an admin's token and the sales pipeline.
pub(super) struct Fields {
    pub client: PipelineServiceClient<Channel>,
    pub t: String,
    pub pipeline: pb::Pipeline,
}

impl Fields {
    pub async fn new(channel: Channel) -> Self {
        let mut client = PipelineServiceClient::new(channel);
        let t = token("acme", "ann", &["admin"]);
        let pipeline = sales_pipeline(&mut client, &t).await;
        Self { client, t, pipeline }
    }

    /// Defines `d`; the definition or the call's status.
    pub async fn define(&mut self, d: common::FieldDefinition) -> Result<common::FieldDefinition, tonic::Status> {
        let req = pb::CreateFieldDefinitionRequest {
            definition: Some(d),
            request_id: String::new(),
        };
        Ok(self
            .client
            .create_field_definition(authed(&self.t, req))
            .await?
            .into_inner()
            .definition
            .unwrap())
    }

    /// Creates a deal with these custom values.
    pub async fn deal(&mut self, title: &str, values: Values) -> Result<pb::Deal, tonic::Status> {
        let req = pb::CreateDealRequest {
            deal: Some(pb::Deal {
                pipeline_id: self.pipeline.id.clone(),
                title: title.into(),
                custom_fields: values,
                ..Default::default()
            }),
            request_id: String::new(),
        };
        Ok(self
            .client
            .create_deal(authed(&self.t, req))
            .await?
            .into_inner()
            .deal
            .unwrap())
    }

    /// Sets (or with `None`, clears) one custom value of `deal`.
    pub async fn set(
        &mut self,
        deal: &pb::Deal,
        key: &str,
        value: Option<common::FieldValue>,
    ) -> Result<pb::Deal, tonic::Status> {
        let req = pb::UpdateDealRequest {
            deal: Some(pb::Deal {
                id: deal.id.clone(),
                custom_fields: value.map(|v| (key.to_owned(), v)).into_iter().collect(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec![format!("custom_fields.{key}")],
            }),
        };
        Ok(self
            .client
            .update_deal(authed(&self.t, req))
            .await?
            .into_inner()
            .deal
            .unwrap())
    }

    pub async fn get(&mut self, id: &str) -> pb::Deal {
        let req = pb::GetDealRequest { id: id.into() };
        self.client
            .get_deal(authed(&self.t, req))
            .await
            .unwrap()
            .into_inner()
            .deal
            .unwrap()
    }

    /// The ids of the deals matching `filters`, in order.
    pub async fn list(&mut self, filters: Vec<common::FieldFilter>) -> Result<Vec<String>, tonic::Status> {
        let req = pb::ListDealsRequest {
            page_size: 500,
            field_filters: filters,
            ..Default::default()
        };
        let deals = self.client.list_deals(authed(&self.t, req)).await?.into_inner().deals;
        Ok(deals.into_iter().map(|d| d.id).collect())
    }

    pub async fn update_definition(
        &mut self,
        d: common::FieldDefinition,
        paths: &[&str],
        moves: Vec<common::OptionMove>,
    ) -> Result<common::FieldDefinition, tonic::Status> {
        let req = pb::UpdateFieldDefinitionRequest {
            definition: Some(d),
            update_mask: Some(prost_types::FieldMask {
                paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            }),
            option_moves: moves,
        };
        Ok(self
            .client
            .update_field_definition(authed(&self.t, req))
            .await?
            .into_inner()
            .definition
            .unwrap())
    }
}

pub(super) type Values = std::collections::BTreeMap<String, common::FieldValue>;

/// A definition of `key` with type `kind`.
pub(super) fn field(key: &str, kind: FieldType) -> common::FieldDefinition {
    common::FieldDefinition {
        key: key.into(),
        label: key.replace('_', " "),
        r#type: kind as i32,
        ..Default::default()
    }
}

/// A select field with options of these labels.
pub(super) fn select(key: &str, kind: FieldType, labels: &[&str]) -> common::FieldDefinition {
    common::FieldDefinition {
        options: labels
            .iter()
            .map(|l| common::FieldOption {
                id: String::new(),
                label: (*l).into(),
            })
            .collect(),
        ..field(key, kind)
    }
}

pub(super) fn value(kind: Kind) -> common::FieldValue {
    common::FieldValue { kind: Some(kind) }
}

pub(super) fn text(s: &str) -> common::FieldValue {
    value(Kind::Text(s.into()))
}

pub(super) fn option(id: &str) -> common::FieldValue {
    value(Kind::Option(id.into()))
}

pub(super) fn values(pairs: &[(&str, common::FieldValue)]) -> Values {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

async fn a_field_lives_from_definition_to_purge_and_its_key_is_never_reused(backend: Backend) {
    let Some(suite) = up(backend, "field_life").await else {
        return;
    };
    let mut f = Fields::new(suite.channel.clone()).await;
    let source = f
        .define(select(
            "lead_source",
            FieldType::SingleSelect,
            &["Web", "Referral", "Trade show"],
        ))
        .await
        .unwrap();
    let ids: Vec<&str> = source.options.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(
        ids,
        ["web", "referral", "trade_show"],
        "option ids are made from the labels"
    );
    assert_eq!(
        (source.etag.as_str(), source.state),
        ("v1", common::FieldState::Active as i32)
    );
    let again = f.define(field("lead_source", FieldType::Text)).await.unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists, "{again:?}");
    let a = f.deal("Acme", values(&[("lead_source", option("web"))])).await.unwrap();
    let b = f
        .deal("Globex", values(&[("lead_source", option("trade_show"))]))
        .await
        .unwrap();

    // Renaming the field and an option is metadata: the deals keep their values and versions.
    let mut renamed = source.clone();
    renamed.label = "Lead source".into();
    renamed.options[0].label = "Website".into();
    let renamed = f
        .update_definition(renamed, &["label", "options"], vec![])
        .await
        .unwrap();
    assert_eq!(
        (
            renamed.label.as_str(),
            renamed.options[0].label.as_str(),
            renamed.etag.as_str()
        ),
        ("Lead source", "Website", "v2")
    );
    let a_now = f.get(&a.id).await;
    assert_eq!(
        (a_now.custom_fields.get("lead_source"), a_now.etag.as_str()),
        (Some(&option("web")), "v1")
    );

    // The type cannot change.
    let mut retyped = renamed.clone();
    retyped.r#type = FieldType::Text as i32;
    let refused = f.update_definition(retyped, &["type"], vec![]).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");

    // Removing "web" while Acme holds it is refused; with a target, Acme moves to "referral".
    let mut without_web = renamed.clone();
    without_web.options.remove(0);
    let refused = f
        .update_definition(without_web.clone(), &["options"], vec![])
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert_eq!(
        f.get(&a.id).await.custom_fields.get("lead_source"),
        Some(&option("web")),
        "nothing changed"
    );
    let to_referral = vec![common::OptionMove {
        from_option_id: "web".into(),
        to_option_id: "referral".into(),
    }];
    let moved = f
        .update_definition(without_web, &["options"], to_referral)
        .await
        .unwrap();
    assert_eq!(moved.options.len(), 2);
    assert_eq!(
        f.get(&a.id).await.custom_fields.get("lead_source"),
        Some(&option("referral"))
    );
    assert_eq!(
        f.get(&b.id).await.custom_fields.get("lead_source"),
        Some(&option("trade_show"))
    );

    // Archived: gone from replies, validation and filters; the values are kept.
    let archive = pb::ArchiveFieldDefinitionRequest {
        key: "lead_source".into(),
        etag: moved.etag.clone(),
    };
    let archived = f
        .client
        .archive_field_definition(authed(&f.t, archive))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(archived.definition.unwrap().state, common::FieldState::Archived as i32);
    assert!(f.get(&a.id).await.custom_fields.is_empty(), "hidden from replies");
    let err = f
        .deal("Initech", values(&[("lead_source", option("referral"))]))
        .await
        .unwrap_err();
    crm_kit::testing::assert_bad_field(&err, "deal.custom_fields.lead_source");
    let filter = common::FieldFilter {
        key: "lead_source".into(),
        any_of: vec!["referral".into()],
        ..Default::default()
    };
    crm_kit::testing::assert_bad_field(&f.list(vec![filter]).await.unwrap_err(), "field_filters[0].key");
    let listed = pb::ListFieldDefinitionsRequest {
        include_archived: false,
    };
    assert!(
        f.client
            .list_field_definitions(authed(&f.t, listed))
            .await
            .unwrap()
            .into_inner()
            .definitions
            .is_empty()
    );
    // What is stored shows in the suite's own database (on a shared
    // topology the databases are not the test's: the checks of the stored
    // values run in the cargo test step, on `crm up`).
    let own_db = suite.dbs.is_some();
    if own_db {
        let stored = stored_values(&suite, &a.id).await;
        assert_eq!(
            stored,
            Some(serde_json::json!({"lead_source": "referral"})),
            "archived values are kept"
        );
    }

    // Deleted: the values are purged in the background, and the key stays taken.
    let delete = pb::DeleteFieldDefinitionRequest {
        key: "lead_source".into(),
        etag: String::new(),
    };
    f.client.delete_field_definition(authed(&f.t, delete)).await.unwrap();
    let mut purged = !own_db;
    for _ in 0..if own_db { 100 } else { 0 } {
        let (a_left, b_left) = (stored_values(&suite, &a.id).await, stored_values(&suite, &b.id).await);
        if a_left == Some(serde_json::json!({})) && b_left == Some(serde_json::json!({})) {
            purged = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(purged, "the purge removed the deleted field's values from every deal");
    let get = pb::GetFieldDefinitionRequest {
        key: "lead_source".into(),
    };
    assert_eq!(
        f.client
            .get_field_definition(authed(&f.t, get))
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    let reused = f.define(field("lead_source", FieldType::Text)).await.unwrap_err();
    assert_eq!(
        reused.code(),
        Code::AlreadyExists,
        "a deleted field's key is never reused: {reused:?}"
    );
}

/// The custom values stored on deal `id`, read from the pipeline's own
/// database (`None` on a shared topology, whose databases are not ours).
pub(super) async fn stored_values(suite: &super::harness::Running, id: &str) -> Option<serde_json::Value> {
    use sea_orm::EntityTrait;
    let (_, pipeline_db, _, _) = suite.dbs.as_ref()?;
    let conn = sea_orm::Database::connect(&pipeline_db.url).await.unwrap();
    let deal = crm_pipeline::entity::deal::Entity::find_by_id(id)
        .one(&conn)
        .await
        .unwrap()?;
    Some(deal.custom_fields)
}

async fn only_admins_define_fields(backend: Backend) {
    let Some(suite) = up(backend, "field_admins").await else {
        return;
    };
    let mut f = Fields::new(suite.channel.clone()).await;
    let rep = token("acme", "rob", &["rep"]);
    let req = pb::CreateFieldDefinitionRequest {
        definition: Some(field("region", FieldType::Text)),
        request_id: String::new(),
    };
    let denied = f.client.create_field_definition(authed(&rep, req)).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    f.define(field("region", FieldType::Text)).await.unwrap();
    // Another tenant sees none of acme's fields, and may use the same key.
    let other = token("globex", "gus", &["admin"]);
    let listed = pb::ListFieldDefinitionsRequest { include_archived: true };
    let seen = f
        .client
        .list_field_definitions(authed(&other, listed))
        .await
        .unwrap()
        .into_inner();
    assert!(seen.definitions.is_empty());
    let req = pb::CreateFieldDefinitionRequest {
        definition: Some(field("region", FieldType::Number)),
        request_id: String::new(),
    };
    f.client.create_field_definition(authed(&other, req)).await.unwrap();
}

async fn an_update_through_the_gateway_announces_its_values_and_changed_keys(backend: Backend) {
    use crm_proto::events::v1 as ev;
    use prost::Message;
    let Some(suite) = up(backend, "field_events_gw").await else {
        return;
    };
    let mut f = Fields::new(suite.channel.clone()).await;
    f.define(field("region", FieldType::Text)).await.unwrap();
    f.define(field("segment", FieldType::Text)).await.unwrap();
    let d = f.deal("Acme", values(&[("region", text("emea"))])).await.unwrap();
    f.set(&d, "segment", Some(text("smb"))).await.unwrap();
    // The outbox of the suite's own pipeline database (a shared topology's is not ours).
    let Some((_, pipeline_db, _, _)) = suite.dbs.as_ref() else {
        return;
    };
    let conn = sea_orm::Database::connect(&pipeline_db.url).await.unwrap();
    let events = crm_kit::outbox::read_all(&conn).await.unwrap();
    let payload = |t: &str| {
        events
            .iter()
            .find(|e| e.r#type == t)
            .and_then(|e| e.payload.clone())
            .unwrap()
            .value
    };
    let created = ev::DealCreated::decode(payload("pipeline.deal.created").as_slice()).unwrap();
    assert_eq!(created.deal.unwrap().custom_fields, values(&[("region", text("emea"))]));
    let updated = ev::DealUpdated::decode(payload("pipeline.deal.updated").as_slice()).unwrap();
    assert_eq!(updated.changed_fields, ["custom_fields.segment"]);
    assert_eq!(
        updated.deal.unwrap().custom_fields,
        values(&[("region", text("emea")), ("segment", text("smb"))])
    );
    let defined = events.iter().filter(|e| e.r#type == "pipeline.field.created").count();
    assert_eq!(defined, 2);
}

crm_kit::backend_tests!(
    a_field_lives_from_definition_to_purge_and_its_key_is_never_reused,
    only_admins_define_fields,
    an_update_through_the_gateway_announces_its_values_and_changed_keys,
);
