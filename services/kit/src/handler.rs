//! The shape every RPC handler shares: take the verified caller, run the
//! handler, map its [`ApiError`] to a status.

use std::future::Future;

use tonic::{Request, Response, Status};

use crate::{ApiError, ApiResult, auth};

/// What a call needs of its caller before its request is read (the CRM's
/// roles implement it: `crm_tenancy::Access`).
pub trait Permission: Copy {
    /// PERMISSION_DENIED (or another error) unless `caller` has it.
    fn check(self, caller: &auth::Caller) -> ApiResult<()>;
}

/// Runs `handler` with the request's verified caller and message, once the
/// caller has `permission` (PERMISSION_DENIED before the request is even
/// read otherwise), and maps its error to a status.
pub async fn call_as<T, R, F>(
    permission: impl Permission,
    req: Request<T>,
    handler: impl FnOnce(auth::Caller, T) -> F,
) -> Result<Response<R>, Status>
where
    F: Future<Output = ApiResult<R>>,
{
    let caller = auth::caller(&req)?;
    permission.check(&caller)?;
    let reply = handler(caller, req.into_inner()).await?;
    Ok(Response::new(reply))
}

/// The field paths of an update mask; an empty mask is INVALID_ARGUMENT.
pub fn mask_paths(mask: Option<&prost_types::FieldMask>) -> ApiResult<Vec<&str>> {
    let paths: Vec<&str> = mask
        .map(|m| m.paths.iter().map(String::as_str).collect())
        .unwrap_or_default();
    if paths.is_empty() {
        return Err(ApiError::invalid(
            "update_mask",
            "must name at least one field to change",
        ));
    }
    Ok(paths)
}
