//! The roles a token may carry (`admin`, `manager`, `rep`, `viewer`, and
//! `service` for the suite's own calls) and what each may do: every RPC
//! names the [`Access`] it needs, checked before its request is read.

use crm_kit::{ApiError, auth::Caller, handler::Permission};

/// The roles a token may carry (what `crm token --role` offers).
pub const ROLES: [&str; 4] = ["admin", "manager", "rep", "viewer"];

/// What a call does to the tenant's data, for the role check: every RPC
/// names its kind (see [`crm_kit::handler::call_as`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Reads: every role.
    Read,
    /// Creates records: reps, managers and admins.
    Create,
    /// Changes or deletes a record: managers and admins; reps too, but
    /// only what they own (the handler asks [`may_change_owned`] once it
    /// has read the record).
    Change,
    /// Imports deals in bulk: managers and admins.
    Import,
    /// Exports a tenant's deals: managers, admins, and the suite's own
    /// services (role `service`, as analytics catching up).
    Export,
    /// Configures the tenant: pipelines and stages, automation rules,
    /// projection rebuilds: admins.
    Configure,
}

impl Access {
    fn verb(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Create => "create records",
            Access::Change => "change records",
            Access::Import => "import deals",
            Access::Export => "export deals",
            Access::Configure => "configure the tenant",
        }
    }

    /// Whether `caller`'s roles allow this at all.
    pub fn allows(self, caller: &Caller) -> bool {
        let any = |roles: &[&str]| roles.iter().any(|r| caller.has_role(r));
        match self {
            Access::Read => any(&["admin", "manager", "rep", "viewer", "service"]),
            Access::Create | Access::Change => any(&["admin", "manager", "rep"]),
            Access::Import => any(&["admin", "manager"]),
            Access::Export => any(&["admin", "manager", "service"]),
            Access::Configure => any(&["admin"]),
        }
    }
}

impl Permission for Access {
    /// PERMISSION_DENIED unless the caller's roles allow this.
    fn check(self, caller: &Caller) -> Result<(), ApiError> {
        if self.allows(caller) {
            return Ok(());
        }
        let roles = if caller.roles.is_empty() {
            "no role".to_owned()
        } else {
            format!("role {}", caller.roles.join(", "))
        };
        Err(ApiError::PermissionDenied(format!("{roles} may not {}", self.verb())))
    }
}

/// Whether `caller` sees every record of the tenant whatever its
/// visibility: managers, admins and the suite's own services.
pub fn sees_everything(caller: &Caller) -> bool {
    ["admin", "manager", "service"].iter().any(|r| caller.has_role(r))
}

/// PERMISSION_DENIED unless `caller` may change a record owned by (or
/// assigned to) `owner`: managers and admins change everything in the
/// tenant, reps only their own.
pub fn may_change_owned(caller: &Caller, owner: &str) -> Result<(), ApiError> {
    if caller.has_role("admin") || caller.has_role("manager") || (caller.has_role("rep") && owner == caller.user_id) {
        return Ok(());
    }
    Err(ApiError::PermissionDenied(
        "a rep changes only the records they own or are assigned".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(role: &str) -> Caller {
        Caller {
            user_id: "ann".into(),
            tenant_id: "acme".into(),
            roles: vec![role.into()],
            token: String::new(),
        }
    }

    #[test]
    fn a_viewer_reads_but_creates_nothing() {
        assert!(Access::Read.check(&caller("viewer")).is_ok());
        let err = Access::Create.check(&caller("viewer")).unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied);
    }

    #[test]
    fn a_rep_changes_only_their_own_records() {
        assert!(may_change_owned(&caller("rep"), "ann").is_ok());
        assert!(may_change_owned(&caller("rep"), "bob").is_err());
        assert!(may_change_owned(&caller("manager"), "bob").is_ok());
    }
}
