//! What a service that owns fields does with them: the definitions' life
//! cycle (each change with its event, in one transaction), shared by
//! PipelineService (deals) and ContactsService (contacts, companies). The
//! handlers parse and reply; the rules are in [`crate::edit`].

use crm_kit::{ApiError, ApiResult, auth::Caller, idempotency::RequestKey, outbox, tenant::Tenant, time};
use crm_proto::{common::v1 as common, events::v1 as ev};
use sea_orm::{DatabaseConnection, TransactionTrait};

use crate::{
    RecordType,
    definition::Definition,
    edit::{self, DefinitionUpdate, MAX_FIELDS, NewDefinition},
    store,
};

/// The event types of one owning service.
#[derive(Clone, Copy, Debug)]
pub struct EventTypes {
    /// `<service>.field.created`.
    pub created: &'static str,
    /// `<service>.field.updated`.
    pub updated: &'static str,
    /// `<service>.field.archived`.
    pub archived: &'static str,
    /// `<service>.field.deleted`.
    pub deleted: &'static str,
}

/// A service's record types with fields, the table of each, and its events.
#[derive(Clone, Copy, Debug)]
pub struct Owner {
    /// The record types and their tables.
    pub records: &'static [(RecordType, &'static str)],
    /// The record type an unspecified one reads as.
    pub fallback: Option<RecordType>,
    /// The events.
    pub events: EventTypes,
    /// Whether each change raises the tenant's
    /// [`crm_kit::cache::config_versions`] (a service that caches them).
    pub bumps_config: bool,
}

impl Owner {
    /// The record types it owns.
    pub fn record_types(&self) -> Vec<RecordType> {
        self.records.iter().map(|r| r.0).collect()
    }

    /// The record type of a request (its fallback when unspecified), or
    /// INVALID_ARGUMENT naming `field`.
    pub fn record_type(&self, field: &str, value: i32) -> ApiResult<RecordType> {
        RecordType::from_proto(value)
            .or(self.fallback)
            .filter(|rt| self.records.iter().any(|r| r.0 == *rt))
            .ok_or_else(|| ApiError::invalid(field, "is not a record type of this service"))
    }

    fn table(&self, rt: RecordType) -> &'static str {
        self.records.iter().find(|r| r.0 == rt).map_or("", |r| r.1)
    }

    /// Defines a field.
    pub async fn create(
        &self,
        db: &DatabaseConnection,
        caller: &Caller,
        input: &common::FieldDefinition,
        key: RequestKey,
    ) -> ApiResult<common::FieldDefinition> {
        let new = NewDefinition::parse(input, &self.record_types(), self.fallback)?;
        let tenant = Tenant::of(caller);
        let rt = new.definition.record_type;
        if let Some(id) = key.created_before(db, &tenant).await? {
            let d = store::load(db, &tenant, rt).await?;
            let found =
                d.0.iter()
                    .find(|d| d.row.id == id)
                    .ok_or_else(|| ApiError::not_found("field definition", id))?;
            return Ok(found.to_proto());
        }
        let txn = db.begin().await?;
        if let Some(holder) = store::holder(&txn, &tenant, rt, new.definition.key()).await? {
            return Err(ApiError::AlreadyExists {
                resource_type: "field definition",
                name: holder.id,
                description: format!(
                    "the key {:?} is taken (by an existing or a deleted field: keys are never reused)",
                    holder.key
                ),
            });
        }
        if store::count(&txn, &tenant, rt).await? >= MAX_FIELDS as u64 {
            return Err(ApiError::limit(
                "definition",
                format!("at most {MAX_FIELDS} fields per record type (archived and deleted ones count)"),
            ));
        }
        let created = new.create(&tenant, time::now_micros());
        store::insert(&txn, &created).await?;
        key.remember(&txn, &tenant, &created.row.id).await?;
        let payload = ev::FieldDefinitionCreated {
            definition: Some(created.to_proto()),
        };
        self.emit(&txn, caller, self.events.created, &created, &payload).await?;
        txn.commit().await?;
        Ok(created.to_proto())
    }

    /// One definition.
    pub async fn get(
        &self,
        db: &DatabaseConnection,
        caller: &Caller,
        rt: RecordType,
        key: &str,
    ) -> ApiResult<common::FieldDefinition> {
        Ok(store::get(db, &Tenant::of(caller), rt, key).await?.to_proto())
    }

    /// The definitions, oldest first.
    pub async fn list(
        &self,
        db: &DatabaseConnection,
        caller: &Caller,
        rt: RecordType,
        include_archived: bool,
    ) -> ApiResult<Vec<common::FieldDefinition>> {
        let defs = store::load(db, &Tenant::of(caller), rt).await?;
        Ok(defs
            .0
            .iter()
            .filter(|d| d.is_active() || (include_archived && d.state == crate::State::Archived))
            .map(Definition::to_proto)
            .collect())
    }

    /// Changes a definition; removed options' records move where the
    /// update says, and a removed option still in use without a target is
    /// FAILED_PRECONDITION.
    pub async fn update(
        &self,
        db: &DatabaseConnection,
        caller: &Caller,
        rt: RecordType,
        update: &DefinitionUpdate,
    ) -> ApiResult<common::FieldDefinition> {
        let tenant = Tenant::of(caller);
        let table = self.table(rt);
        let txn = db.begin().await?;
        let current = store::get(&txn, &tenant, rt, &update.key).await?;
        crm_kit::etag::check("field definition", &update.key, update.etag, current.row.version)?;
        let change = update.apply(&current, time::now_micros())?;
        let multi = current.kind == crate::FieldType::MultiSelect;
        let order: Vec<String> = change.next.spec.options.iter().map(|o| o.id.clone()).collect();
        let (mut moves, mut dropped) = (Vec::new(), Vec::new());
        for (from, to) in &change.removed {
            match to {
                Some(to) => {
                    let order = multi.then_some(order.as_slice());
                    store::move_option(&txn, table, &tenant, &update.key, (from, to), order).await?;
                    moves.push(common::OptionMove {
                        from_option_id: from.clone(),
                        to_option_id: to.clone(),
                    });
                }
                None if store::uses_option(&txn, table, &tenant, &update.key, from, multi).await? => {
                    return Err(ApiError::precondition(
                        "OPTION_IN_USE",
                        format!("definition.options.{from}"),
                        format!(
                            "{} still hold the option {from:?}; name the option they move to in option_moves",
                            rt.plural()
                        ),
                    ));
                }
                None => dropped.push(from.clone()),
            }
        }
        store::save(&txn, &tenant, &change.next, current.row.version).await?;
        let payload = ev::FieldDefinitionUpdated {
            definition: Some(change.next.to_proto()),
            changed_fields: change.paths.clone(),
            option_moves: moves,
            removed_option_ids: dropped,
        };
        self.emit(&txn, caller, self.events.updated, &change.next, &payload)
            .await?;
        txn.commit().await?;
        Ok(change.next.to_proto())
    }

    /// Archives a field.
    pub async fn archive(
        &self,
        db: &DatabaseConnection,
        caller: &Caller,
        rt: RecordType,
        key: &str,
        etag: Option<i64>,
    ) -> ApiResult<common::FieldDefinition> {
        let event = self.events.archived;
        let payload = |_: &Definition, next: &Definition| ev::FieldDefinitionArchived {
            definition: Some(next.to_proto()),
        };
        let next = self
            .change(db, caller, (rt, key, etag), edit::archive, event, payload)
            .await?;
        Ok(next.to_proto())
    }

    /// Deletes an archived field; its values are purged by [`crate::purge`].
    pub async fn delete(
        &self,
        db: &DatabaseConnection,
        caller: &Caller,
        rt: RecordType,
        key: &str,
        etag: Option<i64>,
    ) -> ApiResult<()> {
        let event = self.events.deleted;
        let payload = |current: &Definition, _: &Definition| ev::FieldDefinitionDeleted {
            definition: Some(current.to_proto()),
        };
        self.change(db, caller, (rt, key, etag), edit::delete, event, payload)
            .await?;
        Ok(())
    }

    /// Moves the definition `(record type, key, etag read)` to the state
    /// `edit` gives it, announcing `event_type` with `payload(current, next)`.
    async fn change<P: prost::Message + prost::Name>(
        &self,
        db: &DatabaseConnection,
        caller: &Caller,
        (rt, key, etag): (RecordType, &str, Option<i64>),
        edit: fn(&Definition, i64) -> ApiResult<Definition>,
        event_type: &'static str,
        payload: impl FnOnce(&Definition, &Definition) -> P,
    ) -> ApiResult<Definition> {
        let tenant = Tenant::of(caller);
        let txn = db.begin().await?;
        let current = store::get(&txn, &tenant, rt, key).await?;
        crm_kit::etag::check("field definition", key, etag, current.row.version)?;
        let next = edit(&current, time::now_micros())?;
        store::save(&txn, &tenant, &next, current.row.version).await?;
        let payload = payload(&current, &next);
        self.emit(&txn, caller, event_type, &next, &payload).await?;
        txn.commit().await?;
        Ok(next)
    }

    async fn emit<P: prost::Message + prost::Name>(
        &self,
        conn: &impl sea_orm::ConnectionTrait,
        caller: &Caller,
        event_type: &'static str,
        d: &Definition,
        payload: &P,
    ) -> Result<(), sea_orm::DbErr> {
        outbox::emit(conn, caller, event_type, &d.row.id, d.row.version, payload).await?;
        if self.bumps_config {
            crm_kit::cache::config_versions::bump(conn, &Tenant::of(caller)).await?;
        }
        Ok(())
    }
}
