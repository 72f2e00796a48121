//! Creating and updating a deal: the request parsed into valid values, and
//! the rows the change writes.

use crm_fields::{Definitions, values};
use crm_kit::{
    ApiError, ApiResult,
    etag::Target,
    handler::mask_paths,
    tenant::Tenant,
    validate::{Violations, new_id},
};
use crm_proto::pipeline::v1 as pb;

use super::{
    DealStatus, StageKind,
    fields::{DealFields, SETTABLE},
    pipeline::PipelineWithStages,
};
use crate::entity::{deal, stage, transition};

/// A valid CreateDeal request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDeal {
    /// The pipeline.
    pub pipeline_id: String,
    /// The stage to start in; the pipeline's first OPEN stage when unset.
    pub stage_id: Option<String>,
    /// Title, amount, references, owner, close date.
    pub fields: DealFields,
}

/// A new deal: its row, its first stage entry, and that stage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatedDeal {
    /// The deal at version 1.
    pub deal: deal::Model,
    /// Its first stage entry (from no stage).
    pub transition: transition::Model,
    /// The stage it starts in.
    pub stage: stage::Model,
}

impl NewDeal {
    /// Parses the request against the tenant's deal fields `defs`, naming
    /// every bad field.
    pub fn parse(req: &pb::CreateDealRequest, defs: &Definitions) -> ApiResult<Self> {
        let input = req.deal.clone().unwrap_or_default();
        let mut v = Violations::new();
        let pipeline_id = v
            .required_id("deal.pipeline_id", &input.pipeline_id)
            .map(|u| u.to_string());
        let stage_id = v.optional_id("deal.stage_id", &input.stage_id).map(|u| u.to_string());
        let mut fields = DealFields::parse(&mut v, &input, &SETTABLE);
        let custom = values::for_create(&mut v, defs, &input.custom_fields, CUSTOM);
        let pipeline_id = v.finish_with(pipeline_id)?;
        values::check_size(&custom, CUSTOM)?;
        fields.custom = Some(custom);
        Ok(Self {
            pipeline_id,
            stage_id,
            fields,
        })
    }

    /// The deal of `tenant` in `pipeline`, created by `user` (its owner
    /// unless the request names one); it starts in an OPEN stage.
    pub fn create(
        &self,
        tenant: &Tenant,
        pipeline: &PipelineWithStages,
        user: &str,
        now: i64,
    ) -> ApiResult<CreatedDeal> {
        let stage = match &self.stage_id {
            Some(id) => pipeline
                .stage(id)
                .ok_or_else(|| ApiError::invalid("deal.stage_id", "is not a stage of the deal's pipeline"))?,
            None => pipeline.first_open().ok_or_else(|| {
                ApiError::Internal(anyhow::anyhow!("pipeline {} has no OPEN stage", pipeline.pipeline.id))
            })?,
        };
        if StageKind::from_db(&stage.kind) != StageKind::Open {
            return Err(ApiError::invalid(
                "deal.stage_id",
                "a deal starts in an OPEN stage; create it, then move it",
            ));
        }
        let mut deal = deal::Model {
            id: new_id().to_string(),
            tenant_id: tenant.id(),
            pipeline_id: self.pipeline_id.clone(),
            stage_id: stage.id.clone(),
            status: DealStatus::Open.as_str().to_owned(),
            title: String::new(),
            amount_minor: None,
            currency: None,
            contact_id: None,
            company_id: None,
            owner_id: user.to_owned(),
            expected_close_date: None,
            lost_reason: None,
            stage_entered_at: now,
            closed_at: None,
            created_at: now,
            updated_at: now,
            version: 1,
            custom_fields: serde_json::json!({}),
        };
        self.fields.apply_to(&mut deal);
        let transition = first_entry(&deal, user);
        Ok(CreatedDeal {
            deal,
            transition,
            stage: stage.clone(),
        })
    }
}

/// The stage entry a new deal starts with, by `actor`.
fn first_entry(d: &deal::Model, actor: &str) -> transition::Model {
    transition::Model {
        id: new_id().to_string(),
        tenant_id: d.tenant_id.clone(),
        deal_id: d.id.clone(),
        from_stage_id: None,
        to_stage_id: d.stage_id.clone(),
        actor_id: actor.to_owned(),
        moved_at: d.stage_entered_at,
        time_in_from_stage: None,
        lost_reason: None,
    }
}

/// How violations name a deal's custom values.
pub const CUSTOM: &str = "deal.custom_fields";

/// A valid UpdateDeal request: the fields its mask names.
#[derive(Clone, Debug, PartialEq)]
pub struct DealUpdate {
    /// The deal and the etag the caller read.
    pub target: Target,
    /// The new values of the fields in the mask.
    pub fields: DealFields,
    /// The mask's paths other than custom values.
    pub paths: Vec<String>,
    /// The custom values the mask names; `None` when it names none.
    pub custom: Option<values::Edit>,
}

/// A deal after an update, and the fields that changed as the update
/// event names them (custom values as `custom_fields.<key>`).
#[derive(Clone, Debug, PartialEq)]
pub struct UpdatedDeal {
    /// The next version.
    pub next: deal::Model,
    /// The changed fields.
    pub changed: Vec<String>,
}

impl DealUpdate {
    /// Parses the request, naming every bad field.
    pub fn parse(req: &pb::UpdateDealRequest) -> ApiResult<Self> {
        let paths = mask_paths(req.update_mask.as_ref())?;
        let input = req.deal.clone().unwrap_or_default();
        let mut v = Violations::new();
        let target = Target::parse_in(&mut v, "deal.id", &input.id, "deal.etag", &input.etag);
        let fields = DealFields::parse(&mut v, &input, &paths);
        let target = v.finish_with(target)?;
        let custom = values::Edit::from_mask(&paths, &input.custom_fields);
        Ok(Self {
            target,
            fields,
            paths: paths
                .iter()
                .filter(|p| !values::is_custom_path(p))
                .map(|p| (*p).to_owned())
                .collect(),
            custom,
        })
    }

    /// `current` with the update applied, as the next version at `now`;
    /// custom values are checked against the tenant's deal fields `defs`.
    pub fn apply(&self, current: &deal::Model, defs: &Definitions, now: i64) -> ApiResult<UpdatedDeal> {
        let mut next = current.clone();
        self.fields.apply_to(&mut next);
        let mut changed = self.paths.clone();
        if let Some(edit) = &self.custom {
            let change = edit.apply(defs, &current.custom_fields, CUSTOM)?;
            next.custom_fields = change.stored;
            changed.extend(change.changed);
        }
        next.version += 1;
        next.updated_at = now;
        Ok(UpdatedDeal { next, changed })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(paths: &[&str], deal: pb::Deal) -> ApiResult<DealUpdate> {
        DealUpdate::parse(&pb::UpdateDealRequest {
            deal: Some(deal),
            update_mask: Some(prost_types::FieldMask {
                paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            }),
        })
    }

    #[test]
    fn an_update_changes_only_the_masked_fields_and_bumps_the_version() {
        let id = new_id().to_string();
        let u = update(
            &["title"],
            pb::Deal {
                id: id.clone(),
                title: " Renewal ".into(),
                owner_id: "bob".into(),
                ..Default::default()
            },
        )
        .unwrap();
        let current = deal::Model {
            id,
            title: "Old".into(),
            owner_id: "ann".into(),
            version: 3,
            ..Default::default()
        };
        let next = u.apply(&current, &Definitions::default(), 99).unwrap().next;
        assert_eq!((next.title.as_str(), next.owner_id.as_str()), ("Renewal", "ann"));
        assert_eq!((next.version, next.updated_at), (4, 99));
    }

    #[test]
    fn an_update_without_an_id_names_deal_id() {
        let Err(ApiError::InvalidArgument(v)) = update(&["title"], pb::Deal::default()) else {
            panic!("expected violations")
        };
        let fields: Vec<_> = v.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["deal.id", "deal.title"]);
    }
}
