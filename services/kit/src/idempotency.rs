//! Request-id idempotency (AIP-155): a create retried with the same
//! `request_id` returns the first result and creates nothing new.
//!
//! The key is written in the same transaction as the resource it created;
//! a second call finds it and returns that resource. The same request_id
//! with a different request body is INVALID_ARGUMENT.

use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait};
use sha2::{Digest, Sha256};

use crate::{error::ApiError, tenant::Tenant};

/// The `idempotency_keys` table.
pub mod entity {
    use sea_orm::entity::prelude::*;

    /// A request_id already used, and what it created.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "idempotency_keys")]
    pub struct Model {
        /// The caller's tenant.
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: String,
        /// The RPC, e.g. `CreateDeal`.
        #[sea_orm(primary_key, auto_increment = false)]
        pub scope: String,
        /// The caller's request_id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub request_id: String,
        /// SHA-256 of the encoded request, to catch a reused id.
        pub request_hash: String,
        /// The id of the created resource.
        pub resource_id: String,
        /// When the key was recorded (µs since the epoch).
        pub created_at: i64,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A create's validated request_id (if the caller sent one) with the
/// fingerprint of its request.
#[derive(Debug, Clone)]
pub struct RequestKey(Option<Key>);

#[derive(Debug, Clone)]
struct Key {
    scope: &'static str,
    request_id: String,
    hash: String,
}

impl RequestKey {
    /// The key of `request` (the whole request message, so a reused id with
    /// another body is caught); empty when the caller sent no request_id.
    pub fn parse(scope: &'static str, request_id: &str, request: &impl prost::Message) -> Result<Self, ApiError> {
        if request_id.is_empty() {
            return Ok(Self(None));
        }
        if request_id.len() > 100 || request_id.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(ApiError::invalid(
                "request_id",
                "must be at most 100 characters without spaces",
            ));
        }
        let hash = hex(&Sha256::digest(request.encode_to_vec()));
        Ok(Self(Some(Key {
            scope,
            request_id: request_id.to_owned(),
            hash,
        })))
    }

    /// The id of the resource this request_id created before, if any.
    pub async fn created_before<C: ConnectionTrait>(
        &self,
        conn: &C,
        tenant: &Tenant,
    ) -> Result<Option<String>, ApiError> {
        let Some(key) = &self.0 else {
            return Ok(None);
        };
        let found = entity::Entity::find_by_id((tenant.id(), key.scope.to_owned(), key.request_id.clone()))
            .one(conn)
            .await?;
        match found {
            Some(row) if row.request_hash != key.hash => Err(ApiError::invalid(
                "request_id",
                "was already used for a different request",
            )),
            Some(row) => Ok(Some(row.resource_id)),
            None => Ok(None),
        }
    }

    /// Records that this request_id created `resource_id` (in the creating
    /// transaction); nothing when the caller sent none.
    pub async fn remember<C: ConnectionTrait>(
        &self,
        conn: &C,
        tenant: &Tenant,
        resource_id: &str,
    ) -> Result<(), DbErr> {
        let Some(key) = &self.0 else {
            return Ok(());
        };
        entity::Entity::insert(entity::ActiveModel {
            tenant_id: Set(tenant.id()),
            scope: Set(key.scope.to_owned()),
            request_id: Set(key.request_id.clone()),
            request_hash: Set(key.hash.clone()),
            resource_id: Set(resource_id.to_owned()),
            created_at: Set(crate::time::now_micros()),
        })
        .exec(conn)
        .await?;
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
