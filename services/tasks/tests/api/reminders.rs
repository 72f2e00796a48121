//! Reminders: two schedulers on one database fire each reminder exactly
//! once, overdue tasks are announced once, and WatchReminders streams a
//! reminder that falls due to its assignee only.

use std::{collections::HashMap, time::Duration};

use crm_kit::testing::{Backend, authed, token};
use crm_proto::{events::v1 as ev, tasks::v1 as pb};
use crm_tasks::reminders::Scheduler;
use tonic::Code;

use super::harness::{assert_bad_field, in_secs, secs, suite, task};

async fn two_schedulers_fire_each_of_200_reminders_exactly_once(backend: Backend) {
    let Some(mut s) = suite(backend, "schedulers_race").await else {
        return;
    };
    for i in 0..20 {
        let mut t = task(&format!("Task {i}"));
        t.due_time = Some(in_secs(3600));
        // Ten reminders each, all already due.
        t.remind_before = (0..10).map(|k| secs(7200 + k * 60)).collect();
        s.create_task(t).await.unwrap();
    }
    // SQLite has one writer: schedulers of one process share its connection.
    // On PostgreSQL each scheduler has its own pool, as replicas would.
    let second = match backend {
        Backend::Sqlite => s.db.clone(),
        Backend::Postgres => crm_kit::db::connect(&s.db_url).await.unwrap(),
    };
    let a = Scheduler::new(s.db.clone(), s.hub.clone());
    let b = Scheduler::new(second, s.hub.clone());
    let mut fired = 0;
    loop {
        let (x, y) = tokio::join!(a.fire_due(), b.fire_due());
        let round = x.unwrap() + y.unwrap();
        if round == 0 {
            break;
        }
        fired += round;
    }
    assert_eq!(fired, 200);
    let mut per_reminder: HashMap<(String, i64), usize> = HashMap::new();
    for e in s
        .events()
        .await
        .into_iter()
        .filter(|e| e.r#type == "tasks.reminder.due")
    {
        let r = e
            .payload
            .unwrap()
            .to_msg::<ev::ReminderDue>()
            .unwrap()
            .reminder
            .unwrap();
        let key = (r.task.unwrap().id, r.remind_time.unwrap().seconds);
        *per_reminder.entry(key).or_default() += 1;
    }
    assert_eq!(per_reminder.len(), 200);
    assert!(per_reminder.values().all(|n| *n == 1), "{per_reminder:?}");
}

async fn an_open_task_past_due_is_announced_overdue_once(backend: Backend) {
    let Some(mut s) = suite(backend, "overdue_once").await else {
        return;
    };
    let mut late = task("Late");
    late.due_time = Some(in_secs(-60));
    let late = s.create_task(late).await.unwrap();
    let mut done = task("Late but done");
    done.due_time = Some(in_secs(-60));
    let done = s.create_task(done).await.unwrap();
    s.tasks
        .complete_task(authed(
            &s.token,
            pb::CompleteTaskRequest {
                id: done.id,
                etag: String::new(),
            },
        ))
        .await
        .unwrap();
    let scheduler = Scheduler::new(s.db.clone(), s.hub.clone());
    scheduler.fire_due().await.unwrap();
    scheduler.fire_due().await.unwrap();
    let overdue: Vec<String> = s
        .events()
        .await
        .into_iter()
        .filter(|e| e.r#type == "tasks.task.overdue")
        .map(|e| e.aggregate_id)
        .collect();
    assert_eq!(overdue, [late.id]);
}

async fn watch_reminders_streams_a_reminder_that_falls_due_to_its_assignee(backend: Backend) {
    let Some(mut s) = suite(backend, "watch_reminders").await else {
        return;
    };
    let bad = s
        .tasks
        .watch_reminders(authed(
            &s.token,
            pb::WatchRemindersRequest {
                assignee_id: "not valid".into(),
            },
        ))
        .await
        .expect_err("a malformed assignee is rejected");
    assert_bad_field(&bad, "assignee_id");
    assert_eq!(bad.code(), Code::InvalidArgument);

    let mut mine = s
        .tasks
        .watch_reminders(authed(&s.token, pb::WatchRemindersRequest::default()))
        .await
        .unwrap()
        .into_inner();
    // The same user name in another tenant sees nothing of acme's.
    let theirs = token("globex", "ann", &["rep"]);
    let mut foreign = s
        .tasks
        .watch_reminders(authed(&theirs, pb::WatchRemindersRequest::default()))
        .await
        .unwrap()
        .into_inner();

    let mut bobs = task("Bob's");
    bobs.assignee_id = "bob".into();
    bobs.due_time = Some(in_secs(1));
    bobs.remind_before = vec![secs(0)];
    s.create_task(bobs).await.unwrap();
    let mut t = task("Soon");
    t.due_time = Some(in_secs(2));
    t.remind_before = vec![secs(1)];
    let soon = s.create_task(t).await.unwrap();

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let scheduler = tokio::spawn(Scheduler::new(s.db.clone(), s.hub.clone()).run(async {
        let _ = stopped.await;
    }));
    let got = tokio::time::timeout(Duration::from_secs(10), mine.message())
        .await
        .expect("a reminder within 10 s")
        .unwrap()
        .expect("stream open");
    let reminder = got.reminder.unwrap();
    assert_eq!(reminder.task.unwrap().id, soon.id);
    assert!(reminder.remind_time.is_some());
    let nothing = tokio::time::timeout(Duration::from_millis(700), foreign.message()).await;
    assert!(nothing.is_err(), "another tenant received {nothing:?}");
    let _ = stop.send(());
    scheduler.await.unwrap();
}

crm_kit::backend_tests!(
    two_schedulers_fire_each_of_200_reminders_exactly_once,
    an_open_task_past_due_is_announced_overdue_once,
    watch_reminders_streams_a_reminder_that_falls_due_to_its_assignee,
);
