//! sea-orm queries, every one scoped to a tenant, taking
//! `&impl ConnectionTrait` so they run inside a transaction.

pub mod reminders;
pub mod rules;
pub mod tasks;
