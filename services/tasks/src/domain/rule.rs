//! Rule values: the trigger (kept in columns so matching rules are found by
//! index) and the create-task action, parsed with every violation named.

use crm_kit::validate::Violations;
use crm_proto::tasks::v1::{self as pb, action, create_task_action, trigger};

use super::{Priority, durations, template};

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
                format!(
                    "{bad:?} is not a placeholder; use {{deal.title}}, {{deal.amount}}, {{stage.name}} or {{deal.fields.<key>}}"
                ),
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
}
