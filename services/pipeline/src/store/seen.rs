//! The versions of what the service keeps in memory (the tenant's
//! settings, its deal field definitions, a deal's pipeline), read in the
//! same statement as the rows a call reads: a cached copy is used only if
//! it is at the version the database holds now, so another replica's
//! change is seen at once, without a round trip of its own.

use crm_fields::Definitions;
use crm_kit::tenant::Tenant;
use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult, QueryResult, QuerySelect, Select, Statement,
    sea_query::Expr,
};

/// What the database held when a statement ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seen {
    /// The tenant settings' version (0: the defaults, never changed).
    pub settings: i64,
    /// The definitions' stamp (see [`fields_stamp`]).
    pub fields: i64,
    /// The version of the row's pipeline, if the statement read one and it exists.
    pub pipeline: Option<i64>,
}

/// A stamp that changes with every change to a tenant's deal definitions:
/// each change raises a definition's version, creating one adds a row.
pub fn fields_stamp(defs: &Definitions) -> i64 {
    let versions: i64 = defs.0.iter().map(|d| d.row.version).sum();
    defs.0.len() as i64 * 1_000_000 + versions
}

/// The SQL of the two tenant stamps, for rows whose tenant is `tenant_col`.
fn stamp_sql(tenant_col: &str) -> (String, String) {
    (
        format!(r#"(SELECT "version" FROM "tenant_settings" WHERE "tenant_id" = {tenant_col})"#),
        format!(
            r#"(SELECT CAST(COUNT(*) * 1000000 + COALESCE(SUM("version"), 0) AS BIGINT) FROM "field_definitions" WHERE "tenant_id" = {tenant_col} AND "record_type" = 'deal')"#
        ),
    )
}

/// `query` over `deals`, with the columns of [`Seen`] for each row.
pub fn with_deal_stamps<E: EntityTrait>(query: Select<E>) -> Select<E> {
    let (settings, fields) = stamp_sql(r#""deals"."tenant_id""#);
    query
        .column_as(Expr::cust(settings), "seen_settings")
        .column_as(Expr::cust(fields), "seen_fields")
        .column_as(
            Expr::cust(
                r#"(SELECT "pipelines"."version" FROM "pipelines" WHERE "pipelines"."id" = "deals"."pipeline_id" AND "pipelines"."tenant_id" = "deals"."tenant_id")"#,
            ),
            "seen_pipeline",
        )
}

/// `query` over `pipelines`, with the columns of [`Seen`] (the pipeline's
/// own version as `seen_pipeline`).
pub fn with_pipeline_stamps<E: EntityTrait>(query: Select<E>) -> Select<E> {
    let (settings, fields) = stamp_sql(r#""pipelines"."tenant_id""#);
    query
        .column_as(Expr::cust(settings), "seen_settings")
        .column_as(Expr::cust(fields), "seen_fields")
        .column_as(Expr::cust(r#""pipelines"."version""#), "seen_pipeline")
}

/// The tenant's stamps alone (for a page that came back empty).
pub async fn tenant_stamps(conn: &impl ConnectionTrait, tenant: &Tenant) -> Result<Seen, DbErr> {
    let backend = conn.get_database_backend();
    let param = if backend == DbBackend::Postgres { "$1" } else { "?" };
    let (settings, fields) = stamp_sql(param);
    // One parameter used twice: bind it twice on SQLite's positional `?`.
    let (sql, values) = if backend == DbBackend::Postgres {
        (
            format!("SELECT {settings} AS seen_settings, {fields} AS seen_fields"),
            vec![tenant.id().into()],
        )
    } else {
        (
            format!("SELECT {settings} AS seen_settings, {fields} AS seen_fields"),
            vec![tenant.id().into(), tenant.id().into()],
        )
    };
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("stamps".into()))?;
    Seen::from_row(&row, "")
}

impl Seen {
    fn from_row(res: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        Ok(Self {
            settings: res.try_get::<Option<i64>>(pre, "seen_settings")?.unwrap_or(0),
            fields: res.try_get::<Option<i64>>(pre, "seen_fields")?.unwrap_or(0),
            pipeline: res.try_get::<Option<i64>>(pre, "seen_pipeline").unwrap_or(None),
        })
    }
}

/// A row and what was [`Seen`] with it.
pub struct WithSeen<M>(pub M, pub Seen);

impl<M: FromQueryResult> FromQueryResult for WithSeen<M> {
    fn from_query_result(res: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        Ok(WithSeen(M::from_query_result(res, pre)?, Seen::from_row(res, pre)?))
    }
}

/// The select `query` as rows with what was seen with them.
pub fn seen<E: EntityTrait>(query: Select<E>) -> sea_orm::Selector<sea_orm::SelectModel<WithSeen<E::Model>>>
where
    E::Model: FromQueryResult,
{
    query.into_model::<WithSeen<E::Model>>()
}
