//! Reminders: the [`Scheduler`] claims due reminders and overdue tasks in
//! the database, writes their events, and after commit announces each
//! reminder on the [`ReminderHub`], which `WatchReminders` streams from.
//!
//! Claims lock rows with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so several
//! schedulers (replicas) on one database fire each reminder exactly once.

use std::{future::Future, time::Duration};

use anyhow::Context;
use crm_kit::{tenant::Tenant, time};
use crm_proto::{events::v1 as ev, tasks::v1 as pb};
use sea_orm::{DatabaseConnection, TransactionTrait};
use tokio::sync::broadcast;

use crate::{
    convert,
    domain::TaskStatus,
    events::{self, system_caller, types},
    store::reminders as store,
};

/// A reminder that fell due, for one assignee of one tenant.
#[derive(Clone, Debug, PartialEq)]
pub struct DueReminder {
    /// The task's tenant.
    pub tenant_id: String,
    /// The task's assignee.
    pub assignee_id: String,
    /// The reminder.
    pub reminder: pb::Reminder,
}

/// The actor of the events the scheduler writes.
const SCHEDULER: &str = "scheduler";

/// How many announcements a slow watcher may fall behind before it misses some.
const HUB_CAPACITY: usize = 1024;

/// Where fired reminders are announced to the watchers of this process.
#[derive(Clone, Debug)]
pub struct ReminderHub {
    tx: broadcast::Sender<DueReminder>,
}

impl Default for ReminderHub {
    fn default() -> Self {
        Self::new()
    }
}

impl ReminderHub {
    /// A new hub: one per process, shared by the scheduler and the service.
    pub fn new() -> Self {
        Self {
            tx: broadcast::channel(HUB_CAPACITY).0,
        }
    }

    /// Announces `item` to the current watchers (none is fine).
    pub fn send(&self, item: DueReminder) {
        let _ = self.tx.send(item);
    }

    /// A receiver of every announcement from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<DueReminder> {
        self.tx.subscribe()
    }

    /// Announces the reminder a `tasks.reminder.due` event carries (other
    /// events, and one without a reminder, are ignored).
    pub fn hear(&self, envelope: &ev::EventEnvelope) {
        if envelope.r#type != types::REMINDER_DUE {
            return;
        }
        let reminder = envelope
            .payload
            .as_ref()
            .and_then(|p| p.to_msg::<ev::ReminderDue>().ok())
            .and_then(|due| due.reminder);
        let Some(reminder) = reminder else {
            tracing::warn!(event_id = %envelope.event_id, "a reminder event without a reminder; ignored");
            return;
        };
        let assignee_id = reminder
            .task
            .as_ref()
            .map(|t| t.assignee_id.clone())
            .unwrap_or_default();
        self.send(DueReminder {
            tenant_id: envelope.tenant_id.clone(),
            assignee_id,
            reminder,
        });
    }
}

/// Fires due reminders and overdue notices of one tasks database.
#[derive(Clone, Debug)]
pub struct Scheduler {
    db: DatabaseConnection,
    hub: ReminderHub,
    /// Whether fired reminders go to `hub` straight away; off where every
    /// replica hears them from the bus instead ([`ReminderHub::hear`]).
    announce: bool,
    batch: u64,
    poll: Duration,
}

impl Scheduler {
    /// A scheduler of `db` announcing on `hub`.
    pub fn new(db: DatabaseConnection, hub: ReminderHub) -> Self {
        Self {
            db,
            hub,
            announce: true,
            batch: 100,
            poll: Duration::from_millis(500),
        }
    }

    /// A scheduler that leaves the announcing to the bus: with several
    /// replicas, a watcher connected to one must hear the reminders that
    /// another fired, so every replica's hub is fed from the
    /// `tasks.reminder.due` events ([`ReminderHub::hear`]) instead.
    pub fn announcing_through_the_bus(self) -> Self {
        Self {
            announce: false,
            ..self
        }
    }

    /// Fires every reminder due now and sends every overdue notice, batch by
    /// batch; returns how many reminders this scheduler fired.
    pub async fn fire_due(&self) -> anyhow::Result<usize> {
        let mut total = 0;
        loop {
            let (fired, claimed) = self.fire_batch().await?;
            total += fired;
            if claimed < self.batch as usize {
                return Ok(total);
            }
        }
    }

    /// One transaction: claim, mark, write events, commit; then announce.
    /// Returns (reminders fired, rows claimed).
    async fn fire_batch(&self) -> anyhow::Result<(usize, usize)> {
        let now = time::now_micros();
        let txn = self.db.begin().await.context("beginning a scheduler batch")?;
        let due = store::claim_due(&txn, now, self.batch).await?;
        store::mark_fired(&txn, due.iter().map(|r| r.id.clone()).collect(), now).await?;
        let tasks = store::tasks_by_id(&txn, due.iter().map(|r| r.task_id.clone()).collect()).await?;
        let mut announce = Vec::new();
        for r in &due {
            // A reminder of a task that is done or cancelled is spent silently.
            let Some(t) = tasks
                .iter()
                .find(|t| t.id == r.task_id && TaskStatus::from_db(&t.status) == TaskStatus::Open)
            else {
                continue;
            };
            let reminder = pb::Reminder {
                task: Some(convert::task(t)),
                remind_time: Some(time::to_timestamp(r.remind_at)),
            };
            let system = system_caller(&Tenant::of_row(&t.tenant_id), SCHEDULER);
            events::reminder_due(&txn, &system, t, &reminder).await?;
            announce.push(DueReminder {
                tenant_id: t.tenant_id.clone(),
                assignee_id: t.assignee_id.clone(),
                reminder,
            });
        }
        let overdue = store::claim_overdue(&txn, now, self.batch).await?;
        store::mark_overdue(&txn, overdue.iter().map(|t| t.id.clone()).collect()).await?;
        for t in &overdue {
            let system = system_caller(&Tenant::of_row(&t.tenant_id), SCHEDULER);
            events::task_overdue(&txn, &system, t).await?;
        }
        txn.commit().await.context("committing a scheduler batch")?;
        let fired = announce.len();
        if self.announce {
            for item in announce {
                self.hub.send(item);
            }
        }
        Ok((fired, due.len().max(overdue.len())))
    }

    /// Runs until `shutdown` resolves, polling about twice a second; a
    /// failed round is logged and retried on the next tick.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            if let Err(e) = self.fire_due().await {
                tracing::warn!(error = format!("{e:#}"), "reminder scheduler: round failed; retrying");
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(self.poll) => {}
            }
        }
    }
}
