//! Definitions, tenant-scoped, and the few statements that touch the
//! custom values of a whole record table (moving a removed option's
//! records, purging a deleted field's values). Record tables and keys in
//! SQL text come from this crate's callers and [`crate::edit::is_key`]
//! keys, never from a request unchecked.

use crm_kit::{ApiError, ApiResult, tenant::Tenant};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    QueryOrder, Statement, Value,
};
use serde_json::{Value as Json, json};

use crate::{
    RecordType, State,
    definition::{Definition, Definitions},
    edit::is_key,
    entity::{self, Column, Entity},
};

/// Every definition of `tenant` and `record_type` (all states), oldest first.
pub async fn load(conn: &impl ConnectionTrait, tenant: &Tenant, record_type: RecordType) -> Result<Definitions, DbErr> {
    let rows = tenant
        .find::<Entity>()
        .filter(Column::RecordType.eq(record_type.as_str()))
        .order_by_asc(Column::Id)
        .all(conn)
        .await?;
    Ok(Definitions(rows.into_iter().map(Definition::from_row).collect()))
}

/// The definition `key` (active or archived), or NOT_FOUND.
pub async fn get(
    conn: &impl ConnectionTrait,
    tenant: &Tenant,
    record_type: RecordType,
    key: &str,
) -> ApiResult<Definition> {
    tenant
        .find::<Entity>()
        .filter(Column::RecordType.eq(record_type.as_str()))
        .filter(Column::Key.eq(key))
        .filter(Column::State.ne(State::Deleted.as_str()))
        .one(conn)
        .await?
        .map(Definition::from_row)
        .ok_or_else(|| ApiError::not_found("field definition", key))
}

/// How many definitions (of every state) the tenant has for `record_type`.
pub async fn count(conn: &impl ConnectionTrait, tenant: &Tenant, record_type: RecordType) -> Result<u64, DbErr> {
    tenant
        .find::<Entity>()
        .filter(Column::RecordType.eq(record_type.as_str()))
        .count(conn)
        .await
}

/// The definition that holds `key`, in any state (also deleted).
pub async fn holder(
    conn: &impl ConnectionTrait,
    tenant: &Tenant,
    record_type: RecordType,
    key: &str,
) -> Result<Option<entity::Model>, DbErr> {
    tenant
        .find::<Entity>()
        .filter(Column::RecordType.eq(record_type.as_str()))
        .filter(Column::Key.eq(key))
        .one(conn)
        .await
}

/// Inserts a new definition.
pub async fn insert(conn: &impl ConnectionTrait, d: &Definition) -> Result<(), DbErr> {
    Entity::insert(d.row.clone().into_active_model()).exec(conn).await?;
    Ok(())
}

/// Writes `next` if the definition is still at `expected` (ABORTED otherwise).
pub async fn save(conn: &impl ConnectionTrait, tenant: &Tenant, next: &Definition, expected: i64) -> ApiResult<()> {
    tenant.save_model_guarded(conn, &next.row, expected).await
}

/// Deleted definitions whose values are not purged yet, any tenant, a few.
pub async fn unpurged(
    conn: &impl ConnectionTrait,
    record_type: RecordType,
    limit: u64,
) -> Result<Vec<entity::Model>, DbErr> {
    use sea_orm::QuerySelect;
    Entity::find()
        .filter(Column::RecordType.eq(record_type.as_str()))
        .filter(Column::State.eq(State::Deleted.as_str()))
        .filter(Column::PurgedAt.is_null())
        .limit(limit)
        .all(conn)
        .await
}

/// Marks a deleted definition's values purged at `now`.
pub async fn mark_purged(conn: &impl ConnectionTrait, d: &entity::Model, now: i64) -> Result<(), DbErr> {
    use sea_orm::sea_query::Expr;
    Tenant::of_row(&d.tenant_id)
        .update::<Entity>()
        .col_expr(Column::PurgedAt, Expr::value(now))
        .filter(Column::Id.eq(&d.id))
        .exec(conn)
        .await?;
    Ok(())
}

/// A statement in the connection's own placeholder style.
fn statement(conn: &impl ConnectionTrait, pg: &str, sqlite: &str, values: Vec<Value>) -> Statement {
    let backend = conn.get_database_backend();
    let sql = if backend == DbBackend::Postgres { pg } else { sqlite };
    Statement::from_sql_and_values(backend, sql, values)
}

/// Whether any record of `tenant` in `table` holds `option` in field `key`.
pub async fn uses_option(
    conn: &impl ConnectionTrait,
    table: &str,
    tenant: &Tenant,
    key: &str,
    option: &str,
    multi: bool,
) -> ApiResult<bool> {
    check_key(key)?;
    let probe = if multi {
        json!({ key: [option] })
    } else {
        json!({ key: option })
    };
    let pg = format!("SELECT 1 AS one FROM {table} WHERE tenant_id = $1 AND custom_fields @> $2 LIMIT 1");
    let sqlite = if multi {
        format!(
            "SELECT 1 AS one FROM {table} WHERE tenant_id = ? AND EXISTS \
             (SELECT 1 FROM json_each(custom_fields, '$.{key}') WHERE value = ?) LIMIT 1"
        )
    } else {
        format!(
            "SELECT 1 AS one FROM {table} WHERE tenant_id = ? AND json_extract(custom_fields, '$.{key}') = ? LIMIT 1"
        )
    };
    let values = if conn.get_database_backend() == DbBackend::Postgres {
        vec![tenant.as_str().into(), probe.into()]
    } else {
        vec![tenant.as_str().into(), option.into()]
    };
    Ok(conn
        .query_one_raw(statement(conn, &pg, &sqlite, values))
        .await?
        .is_some())
}

/// Rewrites every record of `tenant` in `table` whose field `key` holds
/// `from` to hold `to` instead (a multi select keeps each option once, in
/// `order`). Returns how many records changed.
pub async fn move_option(
    conn: &impl ConnectionTrait,
    table: &str,
    tenant: &Tenant,
    key: &str,
    (from, to): (&str, &str),
    order: Option<&[String]>,
) -> ApiResult<u64> {
    check_key(key)?;
    let multi = order.is_some();
    let pg = format!("SELECT id, custom_fields FROM {table} WHERE tenant_id = $1 AND custom_fields @> $2");
    let sqlite = if multi {
        format!(
            "SELECT id, custom_fields FROM {table} WHERE tenant_id = ? AND EXISTS \
             (SELECT 1 FROM json_each(custom_fields, '$.{key}') WHERE value = ?)"
        )
    } else {
        format!(
            "SELECT id, custom_fields FROM {table} WHERE tenant_id = ? AND json_extract(custom_fields, '$.{key}') = ?"
        )
    };
    let probe = if multi {
        json!({ key: [from] })
    } else {
        json!({ key: from })
    };
    let values = if conn.get_database_backend() == DbBackend::Postgres {
        vec![tenant.as_str().into(), probe.into()]
    } else {
        vec![tenant.as_str().into(), from.into()]
    };
    let rows = conn.query_all_raw(statement(conn, &pg, &sqlite, values)).await?;
    let mut moved = 0;
    for row in rows {
        let id: String = row.try_get("", "id")?;
        let mut fields: Json = row.try_get("", "custom_fields")?;
        let Some(map) = fields.as_object_mut() else { continue };
        let next = match (map.get(key), order) {
            (Some(Json::Array(ids)), Some(order)) => {
                let held: Vec<&str> = ids
                    .iter()
                    .filter_map(Json::as_str)
                    .map(|s| if s == from { to } else { s })
                    .collect();
                Json::Array(
                    order
                        .iter()
                        .filter(|o| held.contains(&o.as_str()))
                        .map(|o| Json::from(o.clone()))
                        .collect(),
                )
            }
            _ => Json::from(to),
        };
        map.insert(key.to_owned(), next);
        let pg = format!("UPDATE {table} SET custom_fields = $1 WHERE tenant_id = $2 AND id = $3");
        let sqlite = format!("UPDATE {table} SET custom_fields = ? WHERE tenant_id = ? AND id = ?");
        let values = vec![fields.into(), tenant.as_str().into(), id.into()];
        conn.execute_raw(statement(conn, &pg, &sqlite, values)).await?;
        moved += 1;
    }
    Ok(moved)
}

/// Removes field `key` from up to `batch` records of `tenant` in `table`;
/// returns how many it changed (0 when none holds it any more).
pub async fn purge_batch(
    conn: &impl ConnectionTrait,
    table: &str,
    tenant: &Tenant,
    key: &str,
    batch: u64,
) -> ApiResult<u64> {
    check_key(key)?;
    let pg = format!(
        "UPDATE {table} SET custom_fields = custom_fields - $2 WHERE id IN \
         (SELECT id FROM {table} WHERE tenant_id = $1 AND jsonb_exists(custom_fields, $2) LIMIT {batch})"
    );
    let sqlite = format!(
        "UPDATE {table} SET custom_fields = json_remove(custom_fields, '$.{key}') WHERE id IN \
         (SELECT id FROM {table} WHERE tenant_id = ? AND json_type(custom_fields, '$.{key}') IS NOT NULL LIMIT {batch})"
    );
    let values = if conn.get_database_backend() == DbBackend::Postgres {
        vec![tenant.as_str().into(), key.into()]
    } else {
        vec![tenant.as_str().into()]
    };
    Ok(conn
        .execute_raw(statement(conn, &pg, &sqlite, values))
        .await?
        .rows_affected())
}

/// INTERNAL for a key that is not lower snake case: never embedded in SQL.
fn check_key(key: &str) -> ApiResult<()> {
    if is_key(key) {
        Ok(())
    } else {
        Err(ApiError::Internal(anyhow::anyhow!(
            "refusing a field key {key:?} in SQL"
        )))
    }
}
