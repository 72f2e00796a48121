//! Which records a caller sees and may change. Under the tenant's TEAM
//! visibility everyone reads every record; under OWNER, reps and viewers
//! read only what they own or are assigned. A hidden record reads as
//! missing (NOT_FOUND), and a change to it too.

use crm_kit::{
    ApiError,
    auth::Caller,
    etag::Target,
    tenant::{Record, Tenant},
};
use crm_proto::common::v1::Visibility;

use crate::{roles, settings::Settings};

/// What a caller may read under their tenant's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every record of the tenant.
    All,
    /// Only the records this user owns or is assigned.
    Own(String),
}

impl Scope {
    /// What `caller` may read in their tenant under `settings`: everything
    /// under TEAM visibility, and for managers, admins and the suite's own
    /// services; under OWNER, a rep's or viewer's own records only.
    pub fn under(caller: &Caller, settings: &crate::settings::entity::Model) -> Self {
        if roles::sees_everything(caller) || settings.visibility != Visibility::Owner as i32 {
            Scope::All
        } else {
            Scope::Own(caller.user_id.clone())
        }
    }

    /// Whether a record owned by (or assigned to) `owner` is in scope.
    pub fn sees(&self, owner: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Own(user) => owner == user,
        }
    }

    /// NOT_FOUND (as for a record that does not exist) unless a record of
    /// `owner` is in scope.
    pub fn check(&self, kind: &'static str, id: &str, owner: &str) -> Result<(), ApiError> {
        if self.sees(owner) {
            Ok(())
        } else {
            Err(ApiError::not_found(kind, id))
        }
    }

    /// NOT_FOUND unless `record` is in scope.
    pub fn check_record<R: Owned>(&self, record: &R) -> Result<(), ApiError> {
        self.check(R::KIND, record.record_id(), record.owner())
    }

    /// Whether `caller` may change the `kind` record `id` owned by (or
    /// assigned to) `owner` in this scope: NOT_FOUND when it is out of
    /// scope, PERMISSION_DENIED when their role does not let them change it
    /// (see [`roles::may_change_owned`]).
    pub fn may_change(&self, caller: &Caller, kind: &'static str, id: &str, owner: &str) -> Result<(), ApiError> {
        self.check(kind, id, owner)?;
        roles::may_change_owned(caller, owner)
    }

    /// `record`, once `caller` may change it (see [`Scope::may_change`]) and
    /// it is still at the etag `target` names (ABORTED otherwise): the
    /// guard every update and delete of an owned record passes first. The
    /// scope is read before the change's transaction begins, so that a
    /// transaction never waits for a second connection.
    pub fn changeable<R: Owned>(&self, caller: &Caller, record: R, target: &Target) -> Result<R, ApiError> {
        self.may_change(caller, R::KIND, record.record_id(), record.owner())?;
        target.check(&record)?;
        Ok(record)
    }

    /// A list's owner filter within the scope: as asked under [`Scope::All`];
    /// otherwise the user's own, and a filter naming another user matches
    /// nothing (no user id holds a space).
    pub fn narrow(&self, requested: Option<String>) -> Option<String> {
        match (self, requested) {
            (Scope::All, requested) => requested,
            (Scope::Own(user), None) => Some(user.clone()),
            (Scope::Own(user), Some(r)) if &r == user => Some(r),
            (Scope::Own(_), Some(_)) => Some(" ".to_owned()),
        }
    }
}

/// A record with an owner (or assignee), whom visibility and the role
/// check look at.
pub trait Owned: Record {
    /// The user who owns it or is assigned it.
    fn owner(&self) -> &str;
}

impl Settings {
    /// What `caller` may read in their tenant (see [`Scope::under`]).
    pub async fn scope(&self, caller: &Caller) -> Result<Scope, ApiError> {
        if roles::sees_everything(caller) {
            return Ok(Scope::All);
        }
        Ok(Scope::under(caller, &self.get(&Tenant::of(caller)).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_owner_scope_narrows_a_list_to_the_user_and_matches_nothing_for_another() {
        let own = Scope::Own("ann".into());
        assert_eq!(own.narrow(None).as_deref(), Some("ann"));
        assert_eq!(own.narrow(Some("ann".into())).as_deref(), Some("ann"));
        assert_eq!(own.narrow(Some("bob".into())).as_deref(), Some(" "));
        assert_eq!(Scope::All.narrow(Some("bob".into())).as_deref(), Some("bob"));
    }
}
