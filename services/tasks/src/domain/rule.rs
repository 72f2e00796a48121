//! Rule values: the trigger (kept in columns so matching rules are found by
//! index) and the create-task action, parsed with every violation named.

use crm_kit::{
    ApiResult,
    etag::Target,
    handler::mask_paths,
    tenant::Tenant,
    validate::{Violations, new_id},
};
use crm_proto::tasks::v1::{self as pb, action, create_task_action, trigger};

use super::{Priority, durations, template};
use crate::entity::rule;

/// What makes a rule fire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TriggerKind {
    /// A deal enters a stage.
    DealEnteredStage,
    /// A deal is created.
    DealCreated,
    /// A deal is won.
    DealWon,
    /// A deal is lost.
    DealLost,
    /// A deal stalls in its stage.
    DealStalled,
}

impl TriggerKind {
    /// The stored form, also the proto field name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DealEnteredStage => "deal_entered_stage",
            Self::DealCreated => "deal_created",
            Self::DealWon => "deal_won",
            Self::DealLost => "deal_lost",
            Self::DealStalled => "deal_stalled",
        }
    }

    /// From the stored form.
    pub fn from_db(s: &str) -> Option<Self> {
        [
            Self::DealEnteredStage,
            Self::DealCreated,
            Self::DealWon,
            Self::DealLost,
            Self::DealStalled,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A parsed trigger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TriggerSpec {
    /// The kind.
    pub kind: TriggerKind,
    /// The pipeline.
    pub pipeline_id: String,
    /// The stage, for `DealEnteredStage`.
    pub stage_id: Option<String>,
}

impl TriggerSpec {
    /// Parses `rule.trigger`.
    pub fn parse(v: &mut Violations, t: Option<&pb::Trigger>) -> Option<Self> {
        let Some(kind) = t.and_then(|t| t.kind.as_ref()) else {
            v.add("rule.trigger", "is required: set one kind of trigger");
            return None;
        };
        let (kind, pipeline, stage) = match kind {
            trigger::Kind::DealEnteredStage(t) => (TriggerKind::DealEnteredStage, &t.pipeline_id, Some(&t.stage_id)),
            trigger::Kind::DealCreated(t) => (TriggerKind::DealCreated, &t.pipeline_id, None),
            trigger::Kind::DealWon(t) => (TriggerKind::DealWon, &t.pipeline_id, None),
            trigger::Kind::DealLost(t) => (TriggerKind::DealLost, &t.pipeline_id, None),
            trigger::Kind::DealStalled(t) => (TriggerKind::DealStalled, &t.pipeline_id, None),
        };
        let prefix = format!("rule.trigger.{}", kind.as_str());
        let pipeline_id = v.required_id(&format!("{prefix}.pipeline_id"), pipeline);
        let stage_id = stage.map(|s| v.required_id(&format!("{prefix}.stage_id"), s));
        Some(Self {
            kind,
            pipeline_id: pipeline_id?.to_string(),
            stage_id: match stage_id {
                Some(s) => Some(s?.to_string()),
                None => None,
            },
        })
    }

    /// The field path of the trigger's pipeline, e.g.
    /// `rule.trigger.deal_won.pipeline_id`.
    pub fn pipeline_field(&self) -> String {
        format!("rule.trigger.{}.pipeline_id", self.kind.as_str())
    }

    /// The field path of the trigger's stage.
    pub fn stage_field(&self) -> String {
        format!("rule.trigger.{}.stage_id", self.kind.as_str())
    }
}

/// Who gets the tasks a rule creates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Assignee {
    /// The deal's owner.
    DealOwner,
    /// One user.
    User(String),
    /// These users in turn.
    RoundRobin(Vec<String>),
}

impl Assignee {
    /// The stored kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::DealOwner => "deal_owner",
            Self::User(_) => "user",
            Self::RoundRobin(_) => "round_robin",
        }
    }

    /// The stored user list.
    pub fn users(&self) -> Vec<String> {
        match self {
            Self::DealOwner => Vec::new(),
            Self::User(u) => vec![u.clone()],
            Self::RoundRobin(users) => users.clone(),
        }
    }

    /// The assignee of a task for a deal owned by `deal_owner`; a round
    /// robin takes `turn` (see [`Assignee::takes_turns`]).
    pub fn pick(self, deal_owner: &str, turn: i64) -> String {
        match self {
            Self::DealOwner => deal_owner.to_owned(),
            Self::User(u) => u,
            Self::RoundRobin(users) if users.is_empty() => deal_owner.to_owned(),
            Self::RoundRobin(users) => {
                let at = turn.rem_euclid(users.len() as i64);
                users[usize::try_from(at).unwrap_or_default()].clone()
            }
        }
    }

    /// Whether picking an assignee takes the rule's next round-robin turn.
    pub fn takes_turns(&self) -> bool {
        matches!(self, Self::RoundRobin(users) if !users.is_empty())
    }

    /// From the stored kind and user list.
    pub fn from_db(kind: &str, users: &str) -> Self {
        let users: Vec<String> = serde_json::from_str(users).unwrap_or_default();
        match kind {
            "user" => Self::User(users.into_iter().next().unwrap_or_default()),
            "round_robin" => Self::RoundRobin(users),
            _ => Self::DealOwner,
        }
    }
}

/// The most users a round robin may have.
pub const MAX_ROUND_ROBIN: usize = 100;

/// A parsed create-task action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionSpec {
    /// The title template.
    pub title_template: String,
    /// Due this long after the trigger (µs).
    pub due_in: i64,
    /// Who gets the task.
    pub assignee: Assignee,
    /// The task priority.
    pub priority: i32,
    /// The task reminders (µs before due).
    pub remind_before: Vec<i64>,
}

const ACTION: &str = "rule.action.create_task";

impl ActionSpec {
    /// Parses `rule.action`.
    pub fn parse(v: &mut Violations, a: Option<&pb::Action>) -> Option<Self> {
        let Some(action::Kind::CreateTask(a)) = a.and_then(|a| a.kind.as_ref()) else {
            v.add("rule.action", "is required: set create_task");
            return None;
        };
        let title_template = v.required_text(&format!("{ACTION}.title_template"), &a.title_template, 200);
        if let Some(bad) = template::unknown_placeholder(&title_template) {
            v.add(
                format!("{ACTION}.title_template"),
                format!("{bad:?} is not a placeholder; use {{deal.title}}, {{deal.amount}} or {{stage.name}}"),
            );
        }
        let due_in = match &a.due_in {
            Some(d) => durations::parse(v, &format!("{ACTION}.due_in"), d),
            None => Some(0),
        };
        let assignee = parse_assignee(v, a.assignee.as_ref());
        let priority = Priority::parse(v, &format!("{ACTION}.priority"), a.priority);
        let remind_before = durations::parse_reminders(v, &format!("{ACTION}.remind_before"), &a.remind_before);
        Some(Self {
            title_template,
            due_in: due_in?,
            assignee: assignee?,
            priority,
            remind_before,
        })
    }
}

fn parse_assignee(v: &mut Violations, a: Option<&create_task_action::Assignee>) -> Option<Assignee> {
    use create_task_action::Assignee as A;
    match a {
        None => {
            v.add(
                format!("{ACTION}.assignee"),
                "is required: set deal_owner, user_id or round_robin",
            );
            None
        }
        Some(A::DealOwner(false)) => {
            v.add(format!("{ACTION}.deal_owner"), "must be true when chosen");
            None
        }
        Some(A::DealOwner(true)) => Some(Assignee::DealOwner),
        Some(A::UserId(u)) => Some(Assignee::User(v.user_id(&format!("{ACTION}.user_id"), u))),
        Some(A::RoundRobin(rr)) => {
            let field = format!("{ACTION}.round_robin.user_ids");
            if rr.user_ids.is_empty() || rr.user_ids.len() > MAX_ROUND_ROBIN {
                v.add(&field, format!("must list 1 to {MAX_ROUND_ROBIN} users"));
                return None;
            }
            let users = rr
                .user_ids
                .iter()
                .enumerate()
                .map(|(i, u)| v.user_id(&format!("{field}[{i}]"), u))
                .collect();
            Some(Assignee::RoundRobin(users))
        }
    }
}

/// The parsed fields of a rule request; `None` when not being set.
#[derive(Clone, Debug, Default)]
pub struct RuleFields {
    /// The name.
    pub name: Option<String>,
    /// Whether it fires.
    pub enabled: Option<bool>,
    /// What makes it fire.
    pub trigger: Option<TriggerSpec>,
    /// What it does.
    pub action: Option<ActionSpec>,
}

/// Every field of a rule, as a create sets them.
const ALL: [&str; 4] = ["name", "enabled", "trigger", "action"];

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

    /// Sets the given fields on `row`.
    fn apply_to(&self, row: &mut rule::Model) {
        if let Some(name) = &self.name {
            row.name.clone_from(name);
        }
        if let Some(enabled) = self.enabled {
            row.enabled = enabled;
        }
        if let Some(t) = &self.trigger {
            row.trigger_kind = t.kind.as_str().to_owned();
            row.pipeline_id.clone_from(&t.pipeline_id);
            row.stage_id.clone_from(&t.stage_id);
        }
        if let Some(a) = &self.action {
            row.title_template.clone_from(&a.title_template);
            row.due_in = a.due_in;
            row.assignee_kind = a.assignee.kind().to_owned();
            row.assignee_users = serde_json::to_string(&a.assignee.users()).unwrap_or_else(|_| "[]".to_owned());
            row.priority = a.priority;
            row.remind_before = durations::to_json(&a.remind_before);
        }
    }
}

/// A valid CreateRule request: every field set.
#[derive(Clone, Debug)]
pub struct NewRule {
    fields: RuleFields,
    /// What makes it fire (to check against the pipeline service).
    pub trigger: TriggerSpec,
}

impl NewRule {
    /// Parses the request, naming every bad field.
    pub fn parse(req: &pb::CreateRuleRequest) -> ApiResult<Self> {
        let input = req.rule.clone().unwrap_or_default();
        let mut v = Violations::new();
        let fields = RuleFields::parse(&mut v, &input, &ALL);
        let trigger = fields.trigger.clone().filter(|_| fields.action.is_some());
        let trigger = v.finish_with(trigger)?;
        Ok(Self { fields, trigger })
    }

    /// The new rule of `tenant` at version 1.
    pub fn create(&self, tenant: &Tenant, now: i64) -> rule::Model {
        let mut created = rule::Model {
            id: new_id().to_string(),
            tenant_id: tenant.id(),
            name: String::new(),
            enabled: false,
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
        self.fields.apply_to(&mut created);
        created
    }
}

/// A valid UpdateRule request: the fields its mask names.
#[derive(Clone, Debug)]
pub struct RuleUpdate {
    /// The rule and the etag the caller read.
    pub target: Target,
    /// The new values of the fields in the mask.
    pub fields: RuleFields,
}

impl RuleUpdate {
    /// Parses the request, naming every bad field.
    pub fn parse(req: &pb::UpdateRuleRequest) -> ApiResult<Self> {
        let paths = mask_paths(req.update_mask.as_ref())?;
        let input = req.rule.clone().unwrap_or_default();
        let mut v = Violations::new();
        let target = Target::parse_in(&mut v, "rule.id", &input.id, "rule.etag", &input.etag);
        let fields = RuleFields::parse(&mut v, &input, &paths);
        let target = v.finish_with(target)?;
        Ok(Self { target, fields })
    }

    /// `current` with the update applied, as the next version at `now`.
    pub fn apply(&self, current: &rule::Model, now: i64) -> rule::Model {
        let mut next = current.clone();
        self.fields.apply_to(&mut next);
        next.version += 1;
        next.updated_at = now;
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_robin_takes_turns_and_the_deal_owner_does_not() {
        let rr = Assignee::RoundRobin(vec!["ann".into(), "bob".into()]);
        assert!(rr.takes_turns() && !Assignee::DealOwner.takes_turns());
        assert_eq!(rr.clone().pick("owner", 3), "bob");
        assert_eq!(rr.pick("owner", -2), "ann");
        assert_eq!(Assignee::DealOwner.pick("owner", 0), "owner");
    }

    #[test]
    fn a_rule_without_trigger_or_action_names_both() {
        let Err(crm_kit::ApiError::InvalidArgument(v)) = NewRule::parse(&pb::CreateRuleRequest::default()) else {
            panic!("expected violations")
        };
        let fields: Vec<_> = v.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["rule.name", "rule.trigger", "rule.action"]);
    }
}
