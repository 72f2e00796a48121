//! The test harness: a fresh database, the service on port 0, a client.

use crm_kit::testing::{self, Backend, TestDatabase, TestServer};
use crm_proto::contacts::v1::{self as pb, contacts_service_client::ContactsServiceClient};
use sea_orm::DatabaseConnection;
use tonic::{Code, Request, Status, transport::Channel};
use tonic_types::StatusExt;

/// A running service with its database and a client of tenant `acme`.
pub struct Harness {
    pub client: ContactsServiceClient<Channel>,
    pub conn: DatabaseConnection,
    pub token: String,
    _server: TestServer,
    _db: TestDatabase,
}

/// Starts the service on a fresh database; `None` when the PostgreSQL half
/// is skipped (announced by the kit).
pub async fn start(backend: Backend, name: &str) -> Option<Harness> {
    let db = TestDatabase::create(backend, name).await?;
    let conn = crm_kit::db::connect_and_migrate::<crm_contacts::migration::Migrator>(&db.url)
        .await
        .expect("connect and migrate");
    let service = crm_contacts::startup::build(conn.clone(), testing::shared());
    let (server, _) = TestServer::start_service(service).await;
    let client = ContactsServiceClient::new(server.channel().await);
    Some(Harness {
        client,
        conn,
        token: testing::token("acme", "ann", &["rep"]),
        _server: server,
        _db: db,
    })
}

impl Harness {
    /// `msg` as a call of ann@acme.
    pub fn req<T>(&self, msg: T) -> Request<T> {
        testing::authed(&self.token, msg)
    }

    /// The event types in the outbox, oldest first.
    pub async fn events(&self) -> Vec<String> {
        crm_kit::outbox::read_all(&self.conn)
            .await
            .expect("read outbox")
            .into_iter()
            .map(|e| e.r#type)
            .collect()
    }

    /// Creates a company named `name` with `domain`.
    pub async fn company(&mut self, name: &str, domain: &str) -> pb::Company {
        let company = pb::Company {
            name: name.into(),
            domain: domain.into(),
            ..Default::default()
        };
        let req = self.req(pb::CreateCompanyRequest {
            company: Some(company),
            request_id: String::new(),
        });
        self.client
            .create_company(req)
            .await
            .expect("create company")
            .into_inner()
            .company
            .expect("company")
    }

    /// Creates `contact`.
    pub async fn contact(&mut self, contact: pb::Contact) -> pb::Contact {
        let req = self.req(pb::CreateContactRequest {
            contact: Some(contact),
            request_id: String::new(),
        });
        self.client
            .create_contact(req)
            .await
            .expect("create contact")
            .into_inner()
            .contact
            .expect("contact")
    }

    /// Reads contact `id`.
    pub async fn get_contact(&mut self, id: &str) -> Result<pb::Contact, Status> {
        let req = self.req(pb::GetContactRequest { id: id.into() });
        Ok(self
            .client
            .get_contact(req)
            .await?
            .into_inner()
            .contact
            .expect("contact"))
    }

    /// All of the tenant's contacts.
    pub async fn all_contacts(&mut self) -> Vec<pb::Contact> {
        let req = self.req(pb::ListContactsRequest {
            page_size: 500,
            ..Default::default()
        });
        self.client
            .list_contacts(req)
            .await
            .expect("list contacts")
            .into_inner()
            .contacts
    }
}

/// A contact named `first last` with `emails`.
pub fn person(first: &str, last: &str, emails: &[&str]) -> pb::Contact {
    pb::Contact {
        first_name: first.into(),
        last_name: last.into(),
        emails: emails.iter().map(|e| (*e).to_owned()).collect(),
        ..Default::default()
    }
}

/// The fields a BadRequest names, after checking the code.
pub fn bad_fields(status: &Status) -> Vec<String> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

/// A field mask of `paths`.
pub fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
    })
}
