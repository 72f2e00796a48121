//! Tasks: create with defaults, idempotency, updates with etags, complete,
//! delete, lists, bad input and tenancy.

use crm_kit::testing::{Backend, authed, token};
use crm_proto::tasks::v1 as pb;
use prost_types::FieldMask;
use tonic::Code;

use super::harness::{assert_bad_field, in_secs, secs, suite, task};

async fn a_new_task_is_open_assigned_to_its_creator_and_announced(backend: Backend) {
    let Some(mut s) = suite(backend, "task_defaults").await else {
        return;
    };
    let mut t = task("Call Dana");
    t.remind_before = vec![secs(3600), secs(60)];
    let created = s.create_task(t).await.unwrap();
    assert_eq!(created.status, pb::TaskStatus::Open as i32);
    assert_eq!(created.assignee_id, "ann");
    assert_eq!(created.priority, pb::TaskPriority::Normal as i32);
    assert_eq!(created.remind_before.len(), 2);
    assert_eq!(created.etag, "v1");
    let got = s
        .tasks
        .get_task(authed(&s.token, pb::GetTaskRequest { id: created.id.clone() }))
        .await
        .unwrap()
        .into_inner()
        .task
        .unwrap();
    assert_eq!(got, created);
    assert_eq!(s.event_types().await, ["tasks.task.created"]);
}

async fn the_same_request_id_twice_creates_one_task(backend: Backend) {
    let Some(mut s) = suite(backend, "idempotent_task").await else {
        return;
    };
    let req = pb::CreateTaskRequest {
        task: Some(task("Once")),
        request_id: "retry-1".into(),
    };
    let first = s
        .tasks
        .create_task(authed(&s.token, req.clone()))
        .await
        .unwrap()
        .into_inner();
    let second = s.tasks.create_task(authed(&s.token, req)).await.unwrap().into_inner();
    assert_eq!(first.task.unwrap().id, second.task.unwrap().id);
    assert_eq!(s.all_tasks().await.len(), 1);
    assert_eq!(s.event_types().await, ["tasks.task.created"]);
}

async fn bad_task_input_names_every_field(backend: Backend) {
    let Some(mut s) = suite(backend, "bad_task").await else {
        return;
    };
    let bad = pb::Task {
        title: "x".repeat(201),
        notes: "n".repeat(10_001),
        due_time: None,
        assignee_id: "has space".into(),
        priority: 42,
        deal_id: "not-a-uuid".into(),
        contact_id: "0190c6e48a1b7cde9f00123456789abc".into(),
        remind_before: vec![secs(60), secs(-1)],
        ..Default::default()
    };
    let err = s.create_task(bad).await.unwrap_err();
    for field in [
        "task.title",
        "task.notes",
        "task.due_time",
        "task.assignee_id",
        "task.priority",
        "task.deal_id",
        "task.contact_id",
        "task.remind_before[1]",
    ] {
        assert_bad_field(&err, field);
    }
    let mut too_many = task("Many");
    too_many.remind_before = (0..11).map(secs).collect();
    assert_bad_field(&s.create_task(too_many).await.unwrap_err(), "task.remind_before");
    let mut too_far = task("Far");
    too_far.remind_before = vec![secs(366 * 86_400)];
    assert_bad_field(&s.create_task(too_far).await.unwrap_err(), "task.remind_before[0]");
    let mut invalid_time = task("When");
    invalid_time.due_time = Some(prost_types::Timestamp { seconds: 0, nanos: -5 });
    assert_bad_field(&s.create_task(invalid_time).await.unwrap_err(), "task.due_time");
    assert!(s.all_tasks().await.is_empty());
    assert!(s.event_types().await.is_empty());
}

async fn an_update_changes_only_the_masked_fields_and_a_stale_etag_is_aborted(backend: Backend) {
    let Some(mut s) = suite(backend, "update_task").await else {
        return;
    };
    let created = s.create_task(task("Draft")).await.unwrap();
    let update = |t: pb::Task, paths: &[&str]| pb::UpdateTaskRequest {
        task: Some(t),
        update_mask: Some(FieldMask {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        }),
    };
    let change = pb::Task {
        id: created.id.clone(),
        etag: created.etag.clone(),
        title: "Final".into(),
        notes: "ignored, not in the mask".into(),
        priority: pb::TaskPriority::Urgent as i32,
        ..Default::default()
    };
    let updated = s
        .tasks
        .update_task(authed(&s.token, update(change.clone(), &["title", "priority"])))
        .await
        .unwrap()
        .into_inner()
        .task
        .unwrap();
    assert_eq!((updated.title.as_str(), updated.notes.as_str()), ("Final", ""));
    assert_eq!(updated.priority, pb::TaskPriority::Urgent as i32);
    assert_eq!(updated.etag, "v2");
    let stale = s
        .tasks
        .update_task(authed(&s.token, update(change.clone(), &["title"])))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let unknown = s
        .tasks
        .update_task(authed(&s.token, update(change.clone(), &["status"])))
        .await
        .unwrap_err();
    assert_bad_field(&unknown, "update_mask");
    let no_mask = s
        .tasks
        .update_task(authed(&s.token, update(change, &[])))
        .await
        .unwrap_err();
    assert_bad_field(&no_mask, "update_mask");
    assert_eq!(s.event_types().await, ["tasks.task.created", "tasks.task.updated"]);
}

async fn completing_a_task_twice_is_a_failed_precondition(backend: Backend) {
    let Some(mut s) = suite(backend, "complete_task").await else {
        return;
    };
    let created = s.create_task(task("Finish")).await.unwrap();
    let complete = |etag: &str| pb::CompleteTaskRequest {
        id: created.id.clone(),
        etag: etag.into(),
    };
    let stale = s
        .tasks
        .complete_task(authed(&s.token, complete("v9")))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let done = s
        .tasks
        .complete_task(authed(&s.token, complete("v1")))
        .await
        .unwrap()
        .into_inner()
        .task
        .unwrap();
    assert_eq!(done.status, pb::TaskStatus::Done as i32);
    assert!(done.complete_time.is_some());
    let again = s.tasks.complete_task(authed(&s.token, complete(""))).await.unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    assert_eq!(s.event_types().await, ["tasks.task.created", "tasks.task.completed"]);
}

async fn a_deleted_task_is_gone_with_its_reminders(backend: Backend) {
    let Some(mut s) = suite(backend, "delete_task").await else {
        return;
    };
    let mut t = task("Temporary");
    t.remind_before = vec![secs(60)];
    let created = s.create_task(t).await.unwrap();
    let delete = |etag: &str| pb::DeleteTaskRequest {
        id: created.id.clone(),
        etag: etag.into(),
    };
    let stale = s.tasks.delete_task(authed(&s.token, delete("v2"))).await.unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    s.tasks.delete_task(authed(&s.token, delete("v1"))).await.unwrap();
    let gone = s
        .tasks
        .get_task(authed(&s.token, pb::GetTaskRequest { id: created.id.clone() }))
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
    use sea_orm::{EntityTrait, PaginatorTrait};
    let reminders = crm_tasks::entity::reminder::Entity::find().count(&s.db).await.unwrap();
    assert_eq!(reminders, 0);
    assert_eq!(s.event_types().await, ["tasks.task.created", "tasks.task.deleted"]);
}

async fn another_tenants_task_reads_as_not_found(backend: Backend) {
    let Some(mut s) = suite(backend, "tenant_task").await else {
        return;
    };
    let created = s.create_task(task("Ours")).await.unwrap();
    let other = token("globex", "gus", &["admin"]);
    let get = s
        .tasks
        .get_task(authed(&other, pb::GetTaskRequest { id: created.id.clone() }))
        .await
        .unwrap_err();
    assert_eq!(get.code(), Code::NotFound);
    let complete = s
        .tasks
        .complete_task(authed(
            &other,
            pb::CompleteTaskRequest {
                id: created.id.clone(),
                etag: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(complete.code(), Code::NotFound);
    let delete = s
        .tasks
        .delete_task(authed(
            &other,
            pb::DeleteTaskRequest {
                id: created.id.clone(),
                etag: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(delete.code(), Code::NotFound);
    let theirs = s
        .tasks
        .list_tasks(authed(&other, pb::ListTasksRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(theirs.tasks.is_empty());
}

async fn tasks_list_soonest_due_first_in_pages_and_filter(backend: Backend) {
    let Some(mut s) = suite(backend, "list_tasks").await else {
        return;
    };
    let mut ids = Vec::new();
    for hours in [5, 1, 3, 2, 4] {
        let mut t = task(&format!("In {hours}h"));
        t.due_time = Some(in_secs(hours * 3600));
        if hours == 3 {
            t.assignee_id = "bob".into();
        }
        ids.push((hours, s.create_task(t).await.unwrap().id));
    }
    let mut past = task("Late");
    past.due_time = Some(in_secs(-3600));
    let late = s.create_task(past).await.unwrap();
    let mut seen = Vec::new();
    let mut token = String::new();
    let now = in_secs(0);
    loop {
        let req = pb::ListTasksRequest {
            page_size: 2,
            page_token: token.clone(),
            due_after: Some(now),
            ..Default::default()
        };
        let page = s.tasks.list_tasks(authed(&s.token, req)).await.unwrap().into_inner();
        seen.extend(page.tasks.into_iter().map(|t| t.title));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, ["In 1h", "In 2h", "In 3h", "In 4h", "In 5h"]);
    let list = |req: pb::ListTasksRequest| {
        let mut client = s.tasks.clone();
        let token = s.token.clone();
        async move { client.list_tasks(authed(&token, req)).await.unwrap().into_inner().tasks }
    };
    let bobs = list(pb::ListTasksRequest {
        assignee_id: "bob".into(),
        ..Default::default()
    })
    .await;
    assert_eq!(bobs.len(), 1);
    let overdue = list(pb::ListTasksRequest {
        overdue_only: true,
        ..Default::default()
    })
    .await;
    assert_eq!(
        overdue.iter().map(|t| t.id.clone()).collect::<Vec<_>>(),
        [late.id.as_str()]
    );
    let before = list(pb::ListTasksRequest {
        due_before: Some(in_secs(2 * 3600 + 60)),
        status: pb::TaskStatus::Open as i32,
        ..Default::default()
    })
    .await;
    assert_eq!(before.len(), 3);
    let bad = s
        .tasks
        .list_tasks(authed(
            &s.token,
            pb::ListTasksRequest {
                deal_id: "nope".into(),
                status: 9,
                page_token: token,
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_bad_field(&bad, "deal_id");
    assert_bad_field(&bad, "status");
}

async fn a_task_names_only_a_deal_and_a_contact_its_tenant_has(backend: Backend) {
    let Some(mut s) = suite(backend, "task_references").await else {
        return;
    };
    let pipeline = s.sales_pipeline().await;
    let contact = s.contact("dana@acme.example").await;
    let deal = s.deal(&pipeline, "Acme", 100, &contact.id).await;
    // Another tenant's deal and contact, and ids nobody has.
    let own = s.token.clone();
    s.token = token("globex", "gil", &["admin"]);
    let theirs = s.sales_pipeline().await;
    let their_contact = s.contact("gil@globex.example").await;
    let their_deal = s.deal(&theirs, "Globex", 100, &their_contact.id).await;
    s.token = own;
    let random = crm_kit::validate::new_id().to_string();
    for (deal_id, contact_id, subject) in [
        (their_deal.id.as_str(), "", "task.deal_id"),
        (random.as_str(), "", "task.deal_id"),
        ("", their_contact.id.as_str(), "task.contact_id"),
        ("", random.as_str(), "task.contact_id"),
    ] {
        let mut t = task("Pointing elsewhere");
        (t.deal_id, t.contact_id) = (deal_id.into(), contact_id.into());
        let err = s.create_task(t).await.unwrap_err();
        super::harness::assert_precondition(&err, subject);
    }
    assert!(s.all_tasks().await.is_empty(), "nothing was created");
    let mut t = task("Follow up");
    (t.deal_id, t.contact_id) = (deal.id.clone(), contact.id.clone());
    let created = s.create_task(t).await.unwrap();
    // An update that points the task at another tenant's deal changes nothing.
    let req = pb::UpdateTaskRequest {
        task: Some(pb::Task {
            id: created.id.clone(),
            deal_id: their_deal.id.clone(),
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["deal_id".into()],
        }),
    };
    let err = s.tasks.update_task(authed(&s.token, req)).await.unwrap_err();
    super::harness::assert_precondition(&err, "task.deal_id");
    let got = s
        .tasks
        .get_task(authed(&s.token, pb::GetTaskRequest { id: created.id.clone() }))
        .await
        .unwrap()
        .into_inner()
        .task
        .unwrap();
    assert_eq!(got, created);
}

crm_kit::backend_tests!(
    a_task_names_only_a_deal_and_a_contact_its_tenant_has,
    a_new_task_is_open_assigned_to_its_creator_and_announced,
    the_same_request_id_twice_creates_one_task,
    bad_task_input_names_every_field,
    an_update_changes_only_the_masked_fields_and_a_stale_etag_is_aborted,
    completing_a_task_twice_is_a_failed_precondition,
    a_deleted_task_is_gone_with_its_reminders,
    another_tenants_task_reads_as_not_found,
    tasks_list_soonest_due_first_in_pages_and_filter,
);
