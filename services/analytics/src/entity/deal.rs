//! `analytics_deals`: the latest snapshot of each deal.

use sea_orm::entity::prelude::*;

/// A projected deal.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "analytics_deals")]
pub struct Model {
    /// The owning tenant.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    /// The deal's id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The pipeline it is in.
    #[sea_orm(indexed)]
    pub pipeline_id: String,
    /// The stage it is in.
    pub stage_id: String,
    /// The `crm.common.v1.DealStatus` value.
    pub status: i32,
    /// Its title.
    pub title: String,
    /// Its owner.
    pub owner_id: String,
    /// Its amount in minor units, if it has one.
    pub amount_minor: Option<i64>,
    /// The ISO 4217 code of the amount.
    pub currency: Option<String>,
    /// The expected close date, as days since 0001-01-01 (CE day 1).
    pub expected_close_day: Option<i32>,
    /// Created (µs).
    pub create_time: i64,
    /// Won or lost (µs); unset while open.
    pub closed_at: Option<i64>,
    /// The aggregate_version of the snapshot.
    pub version: i64,
    /// Whether the deal was deleted (a tombstone, so late events stay dead).
    pub deleted: bool,
    /// Its select custom values: a JSON object of field key to the option
    /// ids it holds (see `projection::fields`).
    #[sea_orm(column_type = "Text")]
    pub fields: String,
}

/// Relations are followed by explicit queries.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

crm_kit::tenant_scoped!();
