//! Custom deal fields: the copy of their definitions (`pipeline.field.*`)
//! and each deal's select values, stored as `{"key": ["option", ...]}`.
//! An option move or a deleted field rewrites the deals that held it, and
//! tells their read models.

use std::collections::BTreeMap;

use crm_kit::tenant::Tenant;
use crm_proto::{
    common::v1::{self as common, field_value::Kind},
    events::v1::{self as ev, EventEnvelope},
};
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseTransaction, IntoActiveModel, QueryFilter};

use super::{Touched, decode::decode, save};
use crate::entity::{deal, field};

/// The stored select values of a deal's custom values (other types are
/// not kept: reports group and filter on selects only).
pub fn select_json(custom: &BTreeMap<String, common::FieldValue>) -> String {
    let held: BTreeMap<&str, Vec<&str>> = custom
        .iter()
        .filter_map(|(k, v)| match &v.kind {
            Some(Kind::Option(o)) => Some((k.as_str(), vec![o.as_str()])),
            Some(Kind::Options(o)) => Some((k.as_str(), o.ids.iter().map(String::as_str).collect())),
            _ => None,
        })
        .collect();
    serde_json::to_string(&held).unwrap_or_else(|_| "{}".to_owned())
}

/// The (key, option) pairs of stored select values.
pub fn pairs(stored: &str) -> Vec<(String, String)> {
    let held: BTreeMap<String, Vec<String>> = serde_json::from_str(stored).unwrap_or_default();
    held.into_iter()
        .flat_map(|(k, options)| options.into_iter().map(move |o| (k.clone(), o)))
        .collect()
}

/// Applies a `pipeline.field.*` event; the deals whose values it rewrote.
pub(super) async fn apply(txn: &DatabaseTransaction, e: &EventEnvelope) -> anyhow::Result<Vec<Touched>> {
    let (definition, moves, deleted) = match e.r#type.as_str() {
        "pipeline.field.created" => (decode::<ev::FieldDefinitionCreated>(e)?.definition, Vec::new(), false),
        "pipeline.field.updated" => {
            let p: ev::FieldDefinitionUpdated = decode(e)?;
            (p.definition, p.option_moves, false)
        }
        "pipeline.field.archived" => (decode::<ev::FieldDefinitionArchived>(e)?.definition, Vec::new(), false),
        "pipeline.field.deleted" => (decode::<ev::FieldDefinitionDeleted>(e)?.definition, Vec::new(), true),
        _ => return Ok(Vec::new()),
    };
    let Some(d) = definition else { return Ok(Vec::new()) };
    let tenant = Tenant::of_event(e);
    let stored = tenant
        .find::<field::Entity>()
        .filter(field::Column::Key.eq(&d.key))
        .one(txn)
        .await?;
    if stored.as_ref().is_some_and(|s| s.version > e.aggregate_version) {
        return Ok(Vec::new());
    }
    let options: Vec<(String, String)> = d.options.iter().map(|o| (o.id.clone(), o.label.clone())).collect();
    let row = field::Model {
        tenant_id: tenant.id(),
        key: d.key.clone(),
        field_type: d.r#type,
        options: serde_json::to_string(&options)?,
        state: if deleted { 0 } else { d.state },
        version: e.aggregate_version,
    };
    save(txn, stored.is_some(), row.into_active_model()).await?;
    let rewrite = |held: &mut Vec<String>| {
        if deleted {
            held.clear();
        }
        for m in &moves {
            if let Some(at) = held.iter().position(|o| o == &m.from_option_id) {
                held.remove(at);
                if !held.contains(&m.to_option_id) {
                    held.push(m.to_option_id.clone());
                }
            }
        }
    };
    if deleted || !moves.is_empty() {
        return rewrite_deals(txn, &tenant, &d.key, rewrite).await;
    }
    Ok(Vec::new())
}

/// Rewrites field `key` of every deal of `tenant` that holds it.
async fn rewrite_deals(
    txn: &DatabaseTransaction,
    tenant: &Tenant,
    key: &str,
    rewrite: impl Fn(&mut Vec<String>),
) -> anyhow::Result<Vec<Touched>> {
    let needle = format!("%{}%", serde_json::to_string(key)?);
    let rows = tenant
        .find::<deal::Entity>()
        .filter(deal::Column::Fields.like(needle))
        .all(txn)
        .await?;
    let mut touched = Vec::new();
    for row in rows {
        let mut held: BTreeMap<String, Vec<String>> = serde_json::from_str(&row.fields).unwrap_or_default();
        let Some(options) = held.get_mut(key) else { continue };
        rewrite(options);
        if options.is_empty() {
            held.remove(key);
        }
        let fields = serde_json::to_string(&held)?;
        if fields == row.fields {
            continue;
        }
        tenant
            .update::<deal::Entity>()
            .set(deal::ActiveModel {
                fields: Set(fields),
                ..Default::default()
            })
            .filter(deal::Column::Id.eq(&row.id))
            .exec(txn)
            .await?;
        touched.push(Touched::deal(row.pipeline_id, row.id));
    }
    Ok(touched)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_select_values_are_kept_as_key_option_pairs() {
        let v = |kind| common::FieldValue { kind: Some(kind) };
        let custom: BTreeMap<String, common::FieldValue> = [
            ("source".to_owned(), v(Kind::Option("web".into()))),
            (
                "tags".to_owned(),
                v(Kind::Options(common::OptionIds {
                    ids: vec!["a".into(), "b".into()],
                })),
            ),
            ("region".to_owned(), v(Kind::Text("emea".into()))),
        ]
        .into();
        let stored = select_json(&custom);
        assert_eq!(stored, r#"{"source":["web"],"tags":["a","b"]}"#);
        let expected: Vec<(String, String)> = [("source", "web"), ("tags", "a"), ("tags", "b")]
            .iter()
            .map(|(k, o)| ((*k).to_owned(), (*o).to_owned()))
            .collect();
        assert_eq!(pairs(&stored), expected);
    }
}
