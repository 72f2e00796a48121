//! The tenant's configuration version (see
//! [`crm_kit::cache::config_versions`]: raised by every change to its
//! settings, its deal field definitions and its pipelines, in the change's
//! transaction), read in the same statement as the rows a call reads: a
//! cached copy is used only if it was read at that version, so another
//! replica's change is seen at once, without a round trip of its own.

use crm_kit::{cache::config_versions, tenant::Tenant};
use sea_orm::{
    ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryResult, QuerySelect, Select, sea_query::Expr,
};

/// The tenant's configuration version when a statement ran (0: never changed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seen(pub i64);

/// `query` over the table `table` (its rows' `tenant_id`), with the
/// tenant's configuration version as `seen_config`.
pub fn with_version<E: EntityTrait>(query: Select<E>, table: &str) -> Select<E> {
    let sub = config_versions::subquery(&format!(r#""{table}"."tenant_id""#));
    query.column_as(Expr::cust(sub), "seen_config")
}

/// The tenant's version alone (for a page that came back empty).
pub async fn now(conn: &impl ConnectionTrait, tenant: &Tenant) -> Result<Seen, DbErr> {
    Ok(Seen(config_versions::read(conn, tenant).await?))
}

/// A row and the version seen with it.
pub struct WithSeen<M>(pub M, pub Seen);

impl<M: FromQueryResult> FromQueryResult for WithSeen<M> {
    fn from_query_result(res: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        let version = res.try_get::<Option<i64>>(pre, "seen_config")?.unwrap_or(0);
        Ok(WithSeen(M::from_query_result(res, pre)?, Seen(version)))
    }
}

/// The select `query` as rows with the version seen with them.
pub fn seen<E: EntityTrait>(query: Select<E>) -> sea_orm::Selector<sea_orm::SelectModel<WithSeen<E::Model>>>
where
    E::Model: FromQueryResult,
{
    query.into_model::<WithSeen<E::Model>>()
}
