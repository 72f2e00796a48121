//! The synchronous question the tasks service asks ContactsService when a
//! task names a contact: does it exist for the caller? The caller's token
//! is forwarded, so the answer is the caller's view.

use std::time::Duration;

use crm_kit::{
    ApiError,
    auth::{self, Caller},
    peer,
};
use crm_proto::contacts::v1::{GetContactRequest, contacts_service_client::ContactsServiceClient};
use tonic::{Request, transport::Channel};

/// A client of ContactsService.
#[derive(Clone, Debug)]
pub struct ContactsDirectory {
    client: ContactsServiceClient<Channel>,
}

impl ContactsDirectory {
    /// A client of the ContactsService at `url`, connecting on first use.
    pub fn connect_lazy(url: &str) -> anyhow::Result<Self> {
        // A peer that is down is UNAVAILABLE quickly, not a hang.
        let channel = crm_kit::peer::channel(url, Duration::from_secs(2), Some(Duration::from_secs(5)))?;
        Ok(Self {
            client: ContactsServiceClient::new(channel),
        })
    }

    /// FAILED_PRECONDITION naming `field` unless the contact `id` exists for the caller.
    pub async fn require_contact(&self, caller: &Caller, field: &str, id: &str) -> Result<(), ApiError> {
        let mut req = Request::new(GetContactRequest { id: id.to_owned() });
        auth::forward(caller, &mut req)?;
        let reply = self.client.clone().get_contact(req).await;
        peer::reference(reply.map(drop), field, "contact", id, "the contacts service")
    }
}
