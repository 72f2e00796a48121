//! Rule RPCs: create (idempotent, trigger checked against PipelineService),
//! get, list, update, delete.

use crm_kit::{
    ApiError, ApiResult,
    auth::Caller,
    etag,
    idempotency::RequestKey,
    time,
    validate::{Violations, new_id, parse_id, parse_target},
};
use crm_proto::{events::v1 as ev, tasks::v1 as pb};
use sea_orm::{ConnectionTrait, TransactionTrait};

use super::{Tasks, convert, mask_paths};
use crate::{
    domain::{
        durations,
        rule::{ActionSpec, TriggerSpec},
    },
    entity::rule,
    events::{self, types},
    store,
};

/// The parsed fields of a rule request; `None` when not being set.
#[derive(Default)]
struct RuleFields {
    name: Option<String>,
    enabled: Option<bool>,
    trigger: Option<TriggerSpec>,
    action: Option<ActionSpec>,
}

impl RuleFields {
    fn parse(v: &mut Violations, r: &pb::Rule, paths: &[&str]) -> Self {
        let mut f = Self::default();
        for path in paths {
            match *path {
                "name" => f.name = Some(v.required_text("rule.name", &r.name, 100)),
                "enabled" => f.enabled = Some(r.enabled),
                "trigger" => f.trigger = TriggerSpec::parse(v, r.trigger.as_ref()),
                "action" => f.action = ActionSpec::parse(v, r.action.as_ref()),
                other => v.add("update_mask", format!("{other:?} is not a field that can be changed")),
            }
        }
        f
    }
}

fn apply_trigger(row: &mut rule::Model, t: TriggerSpec) {
    row.trigger_kind = t.kind.as_str().to_owned();
    row.pipeline_id = t.pipeline_id;
    row.stage_id = t.stage_id;
}

fn apply_action(row: &mut rule::Model, a: ActionSpec) {
    row.title_template = a.title_template;
    row.due_in = a.due_in;
    row.assignee_kind = a.assignee.kind().to_owned();
    row.assignee_users = serde_json::to_string(&a.assignee.users()).unwrap_or_else(|_| "[]".to_owned());
    row.priority = a.priority;
    row.remind_before = durations::to_json(&a.remind_before);
}

impl Tasks {
    async fn find_rule(&self, conn: &impl ConnectionTrait, tenant: &str, id: &str) -> ApiResult<rule::Model> {
        store::rules::find(conn, tenant, id)
            .await?
            .ok_or_else(|| ApiError::not_found("rule", id))
    }

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

    pub(super) async fn create_rule(
        &self,
        caller: Caller,
        req: pb::CreateRuleRequest,
    ) -> ApiResult<pb::CreateRuleResponse> {
        let key = RequestKey::parse("CreateRule", &req.request_id, &req)?;
        let input = req.rule.unwrap_or_default();
        let mut v = Violations::new();
        let f = RuleFields::parse(&mut v, &input, &["name", "enabled", "trigger", "action"]);
        v.finish()?;
        let (Some(trigger), Some(action)) = (f.trigger, f.action) else {
            return Err(ApiError::Internal(anyhow::anyhow!("rule parse produced no value")));
        };
        let tenant = caller.tenant_id.as_str();
        if let Some(key) = &key
            && let Some(id) = key.find(&self.db, tenant).await?
        {
            let existing = self.find_rule(&self.db, tenant, &id).await?;
            return Ok(pb::CreateRuleResponse {
                rule: Some(convert::rule(&existing)),
            });
        }
        self.check_trigger(&caller, &trigger).await?;
        let now = time::now_micros();
        let mut created = rule::Model {
            id: new_id().to_string(),
            tenant_id: tenant.to_owned(),
            name: f.name.unwrap_or_default(),
            enabled: f.enabled.unwrap_or_default(),
            trigger_kind: String::new(),
            pipeline_id: String::new(),
            stage_id: None,
            title_template: String::new(),
            due_in: 0,
            assignee_kind: String::new(),
            assignee_users: String::new(),
            rr_cursor: 0,
            priority: 0,
            remind_before: String::new(),
            created_at: now,
            updated_at: now,
            version: 1,
        };
        apply_trigger(&mut created, trigger);
        apply_action(&mut created, action);
        let txn = self.db.begin().await?;
        store::rules::insert(&txn, &created).await?;
        if let Some(key) = &key {
            key.remember(&txn, tenant, &created.id).await?;
        }
        let reply = convert::rule(&created);
        let payload = ev::RuleChanged {
            rule: Some(reply.clone()),
        };
        events::append(&txn, &caller, types::RULE_CREATED, &created.id, 1, &payload).await?;
        txn.commit().await?;
        Ok(pb::CreateRuleResponse { rule: Some(reply) })
    }

    pub(super) async fn get_rule(&self, caller: Caller, req: pb::GetRuleRequest) -> ApiResult<pb::GetRuleResponse> {
        let id = parse_id("id", &req.id)?.to_string();
        let r = self.find_rule(&self.db, &caller.tenant_id, &id).await?;
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
        let mut rows = store::rules::list(&self.db, &caller.tenant_id, page.after.as_deref(), page.size + 1).await?;
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
        let paths = mask_paths(req.update_mask.as_ref())?;
        let input = req.rule.unwrap_or_default();
        let mut v = Violations::new();
        let id = v.required_id("rule.id", &input.id).map(|u| u.to_string());
        let given_etag = v.absorb(etag::parse("rule.etag", &input.etag)).flatten();
        let f = RuleFields::parse(&mut v, &input, &paths);
        let id = v.finish_with(id)?;
        let tenant = caller.tenant_id.as_str();
        // Cheap checks first, so a stale or foreign rule is not worth a peer call.
        let before = self.find_rule(&self.db, tenant, &id).await?;
        etag::check("rule", &id, given_etag, before.version)?;
        if let Some(t) = &f.trigger {
            self.check_trigger(&caller, t).await?;
        }

        let txn = self.db.begin().await?;
        let current = self.find_rule(&txn, tenant, &id).await?;
        etag::check("rule", &id, given_etag, current.version)?;
        let mut next = current.clone();
        if let Some(name) = f.name {
            next.name = name;
        }
        if let Some(enabled) = f.enabled {
            next.enabled = enabled;
        }
        if let Some(t) = f.trigger {
            apply_trigger(&mut next, t);
        }
        if let Some(a) = f.action {
            apply_action(&mut next, a);
        }
        next.version += 1;
        next.updated_at = time::now_micros();
        if !store::rules::update_guarded(&txn, &next, current.version).await? {
            return Err(ApiError::Conflict);
        }
        let reply = convert::rule(&next);
        let payload = ev::RuleChanged {
            rule: Some(reply.clone()),
        };
        events::append(&txn, &caller, types::RULE_UPDATED, &id, next.version, &payload).await?;
        txn.commit().await?;
        Ok(pb::UpdateRuleResponse { rule: Some(reply) })
    }

    pub(super) async fn delete_rule(
        &self,
        caller: Caller,
        req: pb::DeleteRuleRequest,
    ) -> ApiResult<pb::DeleteRuleResponse> {
        let (id, given_etag) = parse_target(&req.id, &req.etag)?;
        let id = id.to_string();
        let tenant = caller.tenant_id.as_str();
        let txn = self.db.begin().await?;
        let current = self.find_rule(&txn, tenant, &id).await?;
        etag::check("rule", &id, given_etag, current.version)?;
        store::rules::delete(&txn, tenant, &id).await?;
        let payload = ev::RuleChanged {
            rule: Some(convert::rule(&current)),
        };
        events::append(&txn, &caller, types::RULE_DELETED, &id, current.version + 1, &payload).await?;
        txn.commit().await?;
        Ok(pb::DeleteRuleResponse {})
    }
}
