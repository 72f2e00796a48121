//! Rule RPCs: create (idempotent, trigger checked against PipelineService),
//! get, list, update, delete. What a rule holds is [`crate::domain::rule`].

use crm_kit::{
    ApiError, ApiResult,
    auth::Caller,
    etag::Target,
    idempotency::RequestKey,
    tenant::Tenant,
    time,
    validate::{Violations, parse_id},
};
use crm_proto::tasks::v1 as pb;
use sea_orm::TransactionTrait;

use super::Tasks;
use crate::{
    convert,
    domain::{NewRule, RuleFields, RuleUpdate, conditions, rule::TriggerSpec},
    events, store,
};

impl Tasks {
    /// Asks PipelineService whether the trigger's pipeline (and stage) exist.
    async fn check_trigger(&self, caller: &Caller, t: &TriggerSpec) -> ApiResult<()> {
        let pipeline = self
            .pipelines
            .require_pipeline(caller, &t.pipeline_field(), &t.pipeline_id)
            .await?;
        if let Some(stage) = &t.stage_id
            && !pipeline.stages.iter().any(|s| &s.id == stage)
        {
            let field = t.stage_field();
            return Err(ApiError::precondition(
                "REFERENCE_NOT_FOUND",
                &field,
                format!("{field}: stage {stage} is not a stage of pipeline {}", t.pipeline_id),
            ));
        }
        Ok(())
    }

    /// Asks PipelineService whether the custom deal fields the change's
    /// conditions and template name are active, and checks the conditions'
    /// values against them.
    async fn check_fields(&self, caller: &Caller, f: &RuleFields) -> ApiResult<()> {
        let keys = f.field_keys();
        if keys.is_empty() {
            return Ok(());
        }
        let defs = self.pipelines.deal_fields(caller).await?;
        let mut v = Violations::new();
        for (field, key) in &keys {
            if !defs.iter().any(|d| &d.key == key) {
                v.add(field, format!("{key:?} is not an active custom deal field"));
            }
        }
        v.finish()?;
        conditions::check_fields(f.conditions.as_deref().unwrap_or_default(), &defs)
    }

    pub(super) async fn create_rule(
        &self,
        caller: Caller,
        req: pb::CreateRuleRequest,
    ) -> ApiResult<pb::CreateRuleResponse> {
        let key = RequestKey::parse("CreateRule", &req.request_id, &req)?;
        let new = NewRule::parse(&req)?;
        let tenant = Tenant::of(&caller);
        if let Some(id) = key.created_before(&self.db, &tenant).await? {
            let existing = store::rules::get(&self.db, &tenant, &id).await?;
            return Ok(pb::CreateRuleResponse {
                rule: Some(convert::rule(&existing)),
            });
        }
        self.check_trigger(&caller, &new.trigger).await?;
        self.check_fields(&caller, &new.fields).await?;
        let created = new.create(&tenant, time::now_micros());
        let txn = self.db.begin().await?;
        store::rules::insert(&txn, &created).await?;
        key.remember(&txn, &tenant, &created.id).await?;
        events::rule_created(&txn, &caller, &created).await?;
        txn.commit().await?;
        Ok(pb::CreateRuleResponse {
            rule: Some(convert::rule(&created)),
        })
    }

    pub(super) async fn get_rule(&self, caller: Caller, req: pb::GetRuleRequest) -> ApiResult<pb::GetRuleResponse> {
        let id = parse_id("id", &req.id)?.to_string();
        let r = store::rules::get(&self.db, &Tenant::of(&caller), &id).await?;
        Ok(pb::GetRuleResponse {
            rule: Some(convert::rule(&r)),
        })
    }

    pub(super) async fn list_rules(
        &self,
        caller: Caller,
        req: pb::ListRulesRequest,
    ) -> ApiResult<pb::ListRulesResponse> {
        let query = "rules";
        let tokens = &self.shared.page_tokens;
        let page = tokens.parse::<String>(req.page_size, &req.page_token, query)?;
        let (after, limit) = (page.after.as_deref(), page.size + 1);
        let mut rows = store::rules::list(&self.db, &Tenant::of(&caller), after, limit).await?;
        let next_page_token = tokens.finish(&mut rows, page.size, query, |r| r.id.clone());
        Ok(pb::ListRulesResponse {
            rules: rows.iter().map(convert::rule).collect(),
            next_page_token,
        })
    }

    pub(super) async fn update_rule(
        &self,
        caller: Caller,
        req: pb::UpdateRuleRequest,
    ) -> ApiResult<pb::UpdateRuleResponse> {
        let update = RuleUpdate::parse(&req)?;
        let tenant = Tenant::of(&caller);
        // Cheap checks first, so a stale or foreign rule is not worth a peer call.
        update
            .target
            .check(&store::rules::get(&self.db, &tenant, &update.target.id).await?)?;
        if let Some(t) = &update.fields.trigger {
            self.check_trigger(&caller, t).await?;
        }
        self.check_fields(&caller, &update.fields).await?;
        let txn = self.db.begin().await?;
        let current = store::rules::get(&txn, &tenant, &update.target.id).await?;
        update.target.check(&current)?;
        let next = update.apply(&current, time::now_micros());
        store::rules::save(&txn, &tenant, &next, current.version).await?;
        events::rule_updated(&txn, &caller, &next).await?;
        txn.commit().await?;
        Ok(pb::UpdateRuleResponse {
            rule: Some(convert::rule(&next)),
        })
    }

    pub(super) async fn delete_rule(
        &self,
        caller: Caller,
        req: pb::DeleteRuleRequest,
    ) -> ApiResult<pb::DeleteRuleResponse> {
        let target = Target::parse(&req.id, &req.etag)?;
        let tenant = Tenant::of(&caller);
        let txn = self.db.begin().await?;
        let current = store::rules::get(&txn, &tenant, &target.id).await?;
        target.check(&current)?;
        store::rules::delete(&txn, &tenant, &current).await?;
        events::rule_deleted(&txn, &caller, &current).await?;
        txn.commit().await?;
        Ok(pb::DeleteRuleResponse {})
    }
}
