//! Activities: an interaction logged on the timeline of a contact, a
//! company and/or a deal.

use crm_kit::{ApiError, ApiResult, time, validate::Violations};
use crm_proto::{
    common::v1::ActivityKind,
    contacts::v1::{self as pb, list_activities_request::Subject},
};
use uuid::Uuid;

/// The longest subject.
pub const SUBJECT_MAX: usize = 200;
/// The longest body.
pub const BODY_MAX: usize = 10_000;

/// A LogActivity request's activity, valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewActivity {
    /// A known kind, never UNSPECIFIED.
    pub kind: ActivityKind,
    /// 1 to 200 characters.
    pub subject: String,
    /// At most 10,000 characters.
    pub body: String,
    /// When it happened (µs since the epoch).
    pub occurred_at: i64,
    /// The contact's timeline it is on.
    pub contact_id: Option<Uuid>,
    /// The company's timeline it is on.
    pub company_id: Option<Uuid>,
    /// The deal's timeline it is on (a PipelineService deal; not checked here).
    pub deal_id: Option<Uuid>,
}

impl NewActivity {
    /// Parses the activity; `occurred_at` defaults to `now`.
    pub fn parse(activity: Option<&pb::Activity>, now: i64) -> ApiResult<Self> {
        let a = activity.ok_or_else(|| ApiError::invalid("activity", "is required"))?;
        let mut v = Violations::new();
        let kind = match ActivityKind::try_from(a.kind) {
            Ok(ActivityKind::Unspecified) | Err(_) => {
                v.add("activity.kind", "must be CALL, EMAIL, MEETING or NOTE");
                ActivityKind::Unspecified
            }
            Ok(kind) => kind,
        };
        let subject = v.required_text("activity.subject", &a.subject, SUBJECT_MAX);
        let body = v.optional_text("activity.body", &a.body, BODY_MAX);
        let occurred_at = match &a.occurred_at {
            None => now,
            Some(ts) => time::from_timestamp(ts).unwrap_or_else(|| {
                v.add("activity.occurred_at", "must be a valid time between years 1 and 9999");
                now
            }),
        };
        let contact_id = v.optional_id("activity.contact_id", &a.contact_id);
        let company_id = v.optional_id("activity.company_id", &a.company_id);
        let deal_id = v.optional_id("activity.deal_id", &a.deal_id);
        if a.contact_id.is_empty() && a.company_id.is_empty() && a.deal_id.is_empty() {
            v.add("activity", "needs at least one of contact_id, company_id and deal_id");
        }
        v.finish()?;
        Ok(Self {
            kind,
            subject,
            body,
            occurred_at,
            contact_id,
            company_id,
            deal_id,
        })
    }
}

/// Whose timeline a ListActivities request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeline {
    /// A contact's.
    Contact(Uuid),
    /// A company's.
    Company(Uuid),
    /// A deal's.
    Deal(Uuid),
}

impl Timeline {
    /// The request's subject; exactly one is required.
    pub fn parse(subject: Option<&Subject>) -> ApiResult<Self> {
        let mut v = Violations::new();
        let timeline = match subject {
            Some(Subject::ContactId(id)) => v.required_id("contact_id", id).map(Self::Contact),
            Some(Subject::CompanyId(id)) => v.required_id("company_id", id).map(Self::Company),
            Some(Subject::DealId(id)) => v.required_id("deal_id", id).map(Self::Deal),
            None => {
                v.add("subject", "one of contact_id, company_id and deal_id is required");
                None
            }
        };
        v.finish_with(timeline)
    }

    /// A stable description, binding page tokens to this timeline.
    pub fn fingerprint(&self) -> String {
        match self {
            Self::Contact(id) => format!("activities/contact/{id}"),
            Self::Company(id) => format!("activities/company/{id}"),
            Self::Deal(id) => format!("activities/deal/{id}"),
        }
    }

    /// The fingerprint of the timeline read as `author`'s activities only
    /// (`None`: everyone's), binding page tokens to both.
    pub fn fingerprint_for(&self, author: Option<&str>) -> String {
        format!("{}&author={}", self.fingerprint(), author.unwrap_or(""))
    }
}

#[cfg(test)]
mod tests {
    use prost_types::Timestamp;

    use super::*;

    fn activity() -> pb::Activity {
        pb::Activity {
            kind: ActivityKind::Call as i32,
            subject: "Intro call".into(),
            deal_id: crm_kit::validate::new_id().to_string(),
            ..Default::default()
        }
    }

    fn fields(result: ApiResult<NewActivity>) -> Vec<String> {
        match result {
            Err(ApiError::InvalidArgument(v)) => v.into_iter().map(|v| v.field).collect(),
            other => panic!("expected violations, got {other:?}"),
        }
    }

    #[test]
    fn an_activity_without_a_time_happened_now() {
        assert_eq!(NewActivity::parse(Some(&activity()), 42).unwrap().occurred_at, 42);
    }

    #[test]
    fn an_activity_without_kind_subject_or_timeline_names_each_field() {
        let a = pb::Activity::default();
        assert_eq!(
            fields(NewActivity::parse(Some(&a), 0)),
            ["activity.kind", "activity.subject", "activity"]
        );
    }

    #[test]
    fn an_out_of_range_time_is_rejected() {
        let mut a = activity();
        a.occurred_at = Some(Timestamp {
            seconds: i64::MAX,
            nanos: 0,
        });
        assert_eq!(fields(NewActivity::parse(Some(&a), 0)), ["activity.occurred_at"]);
    }

    #[test]
    fn a_timeline_request_without_a_subject_is_rejected() {
        let Err(ApiError::InvalidArgument(v)) = Timeline::parse(None) else {
            panic!("expected violations")
        };
        assert_eq!(v[0].field, "subject");
    }
}
