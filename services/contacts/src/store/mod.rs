//! sea-orm queries. Every function takes the caller's
//! [`Tenant`](crm_kit::tenant::Tenant) and starts its query from it, and
//! takes `&impl ConnectionTrait` so it runs inside the handler's
//! transaction.

pub mod activities;
pub mod companies;
pub mod contact_list;
pub mod contacts;

use sea_orm::sea_query::{Expr, ExprTrait, IntoColumnRef, LikeExpr, SimpleExpr};

/// `column LIKE 'prefix%'`, with `%`, `_` and `\` in `prefix` taken
/// literally. `prefix` must already be lower case, like the column.
pub fn starts_with(column: impl IntoColumnRef, prefix: &str) -> SimpleExpr {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    Expr::col(column).like(LikeExpr::new(pattern).escape('\\'))
}

/// The tenant's field definitions of `record_type` (contacts or
/// companies), every state, for checking custom values and showing them.
pub async fn fields(
    conn: &impl sea_orm::ConnectionTrait,
    tenant: &crm_kit::tenant::Tenant,
    record_type: crm_fields::RecordType,
) -> Result<crm_fields::Definitions, sea_orm::DbErr> {
    crm_fields::store::load(conn, tenant, record_type).await
}
