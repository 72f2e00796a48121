//! Stored records as wire messages, for replies and event payloads alike.

use crm_fields::Definitions;
use crm_kit::{etag, time::to_timestamp};
use crm_proto::contacts::v1 as pb;

use crate::{
    entity::{activity, company},
    store::contacts::ContactRecord,
};

/// A stored company as a `Company`.
pub fn company(row: &company::Model, defs: &Definitions) -> pb::Company {
    pb::Company {
        id: row.id.clone(),
        name: row.name.clone(),
        domain: row.domain.clone(),
        owner_id: row.owner_id.clone(),
        etag: etag::format(row.version),
        create_time: Some(to_timestamp(row.created_at)),
        update_time: Some(to_timestamp(row.updated_at)),
        custom_fields: crm_fields::values::to_wire(defs, &row.custom_fields),
    }
}

/// A stored contact as a `Contact`.
pub fn contact(record: &ContactRecord, defs: &Definitions) -> pb::Contact {
    let (row, f) = (&record.row, &record.fields);
    pb::Contact {
        id: row.id.clone(),
        first_name: f.first_name.clone(),
        last_name: f.last_name.clone(),
        emails: f.emails.clone(),
        phones: f.phones.clone(),
        company_id: f.company_id.map(|id| id.to_string()).unwrap_or_default(),
        title: f.title.clone(),
        tags: f.tags.clone(),
        owner_id: f.owner_id.clone(),
        etag: etag::format(row.version),
        create_time: Some(to_timestamp(row.created_at)),
        update_time: Some(to_timestamp(row.updated_at)),
        custom_fields: crm_fields::values::to_wire(defs, &f.custom),
    }
}

/// A stored activity as an `Activity`.
pub fn activity(row: &activity::Model) -> pb::Activity {
    pb::Activity {
        id: row.id.clone(),
        kind: row.kind,
        subject: row.subject.clone(),
        body: row.body.clone(),
        occurred_at: Some(to_timestamp(row.occurred_at)),
        author_id: row.author_id.clone(),
        contact_id: row.contact_id.clone().unwrap_or_default(),
        company_id: row.company_id.clone().unwrap_or_default(),
        deal_id: row.deal_id.clone().unwrap_or_default(),
        create_time: Some(to_timestamp(row.created_at)),
    }
}
