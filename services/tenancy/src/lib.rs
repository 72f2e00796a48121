//! Tenancy as the CRM defines it, shared by every service: the roles a
//! token may carry and what each may do ([`roles`]), which records a caller
//! sees and may change under the tenant's visibility ([`visibility`]), and
//! the tenant settings that the pipeline service owns and every other
//! service keeps a copy of from its events ([`settings`]).
//!
//! The kit below it knows a caller's identity (user, tenant, role names)
//! but none of what those mean in a CRM; this crate is where they get
//! their meaning.
#![forbid(unsafe_code)]
// A failed unwrap in a unit test is the test failing, with its location.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod roles;
pub mod settings;
pub mod visibility;

pub use roles::{Access, ROLES};
pub use settings::Settings;
pub use visibility::{Owned, Scope};
