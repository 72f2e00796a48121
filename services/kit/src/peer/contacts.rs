//! The synchronous question a service asks ContactsService when a record
//! names a contact or a company (the pipeline for deals, tasks for tasks):
//! does it exist for the caller? The caller's token is forwarded, so the
//! answer is the caller's view: another tenant's record, or one the caller
//! may not see, does not exist.

use std::time::Duration;

use crm_proto::contacts::v1::{GetCompanyRequest, GetContactRequest, contacts_service_client::ContactsServiceClient};
use tonic::{Request, transport::Channel};

use crate::{
    ApiError,
    auth::{self, Caller},
    peer,
};

/// How the contacts service is named when it is down.
const PEER: &str = "the contacts service";

/// A client of ContactsService.
#[derive(Clone, Debug)]
pub struct ContactsDirectory {
    client: ContactsServiceClient<Channel>,
}

impl ContactsDirectory {
    /// A client of the ContactsService at `url`, connecting on first use, so
    /// a service starts even while contacts is still coming up.
    pub fn connect_lazy(url: &str) -> anyhow::Result<Self> {
        // A peer that is down is UNAVAILABLE quickly, not a hang.
        let channel = peer::channel(url, Duration::from_secs(2), Some(Duration::from_secs(5)))?;
        Ok(Self {
            client: ContactsServiceClient::new(channel),
        })
    }

    /// FAILED_PRECONDITION naming `field` unless the contact exists.
    pub async fn require_contact(&self, caller: &Caller, field: &str, id: &str) -> Result<(), ApiError> {
        let mut req = Request::new(GetContactRequest { id: id.to_owned() });
        auth::forward(caller, &mut req)?;
        let result = self.client.clone().get_contact(req).await;
        peer::reference(result.map(drop), field, "contact", id, PEER)
    }

    /// FAILED_PRECONDITION naming `field` unless the company exists.
    pub async fn require_company(&self, caller: &Caller, field: &str, id: &str) -> Result<(), ApiError> {
        let mut req = Request::new(GetCompanyRequest { id: id.to_owned() });
        auth::forward(caller, &mut req)?;
        let result = self.client.clone().get_company(req).await;
        peer::reference(result.map(drop), field, "company", id, PEER)
    }
}
