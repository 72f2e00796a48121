//! What each client subcommand calls and prints.

use crm_proto::{
    analytics::v1::analytics_service_client::AnalyticsServiceClient,
    common::v1::{Money, StageKind},
    pipeline::v1::{self as pb, pipeline_service_client::PipelineServiceClient},
    tasks::v1::{self as t, tasks_service_client::TasksServiceClient},
};

use super::{
    ClientCommand, Connection,
    deals::deals,
    output::{json, money, table},
    report::report,
};

/// Runs `command` and returns what to print.
pub async fn run(c: &Connection, command: &ClientCommand) -> anyhow::Result<String> {
    let channel = c.channel().await?;
    let mut pipelines = PipelineServiceClient::new(channel.clone());
    match command {
        ClientCommand::Pipelines => {
            let reply = pipelines
                .list_pipelines(c.request(pb::ListPipelinesRequest {
                    page_size: 500,
                    ..Default::default()
                }))
                .await?
                .into_inner();
            if c.json {
                return json(&reply);
            }
            let rows = reply
                .pipelines
                .iter()
                .map(|p| vec![p.id.clone(), p.name.clone(), stage_names(&p.stages)])
                .collect::<Vec<_>>();
            Ok(table(&["ID", "NAME", "STAGES"], &rows))
        }
        ClientCommand::Deals(cmd) => deals(c, &mut pipelines, cmd).await,
        ClientCommand::Board { pipeline_id } => {
            let req = pb::GetBoardRequest {
                pipeline_id: pipeline_id.clone(),
                ..Default::default()
            };
            let reply = pipelines.get_board(c.request(req)).await?.into_inner();
            if c.json {
                return json(&reply);
            }
            let rows = reply
                .columns
                .iter()
                .map(|col| {
                    let stage = col.stage.clone().unwrap_or_default();
                    let totals = |ms: &[Money]| ms.iter().map(|m| money(Some(m))).collect::<Vec<_>>().join(", ");
                    vec![
                        stage.name,
                        col.deal_count.to_string(),
                        totals(&col.total),
                        totals(&col.weighted_total),
                    ]
                })
                .collect::<Vec<_>>();
            Ok(table(&["STAGE", "DEALS", "TOTAL", "WEIGHTED"], &rows))
        }
        ClientCommand::Tasks { assignee, deal } => {
            let req = t::ListTasksRequest {
                assignee_id: assignee.clone().unwrap_or_default(),
                deal_id: deal.clone().unwrap_or_default(),
                page_size: 500,
                ..Default::default()
            };
            let reply = TasksServiceClient::new(channel)
                .list_tasks(c.request(req))
                .await?
                .into_inner();
            if c.json {
                return json(&reply);
            }
            let rows = reply
                .tasks
                .iter()
                .map(|task| {
                    let status = t::TaskStatus::try_from(task.status)
                        .map_or("?", |s| s.as_str_name().trim_start_matches("TASK_STATUS_"));
                    let due = task.due_time.map(|d| d.to_string()).unwrap_or_default();
                    vec![
                        task.id.clone(),
                        task.title.clone(),
                        task.assignee_id.clone(),
                        due,
                        status.to_owned(),
                    ]
                })
                .collect::<Vec<_>>();
            Ok(table(&["ID", "TITLE", "ASSIGNEE", "DUE", "STATUS"], &rows))
        }
        ClientCommand::Report {
            kind,
            pipeline_id,
            days,
        } => report(c, AnalyticsServiceClient::new(channel), kind, pipeline_id, *days).await,
    }
}

pub(super) fn stage_names(stages: &[pb::Stage]) -> String {
    stages
        .iter()
        .map(|s| match StageKind::try_from(s.kind) {
            Ok(StageKind::Open) => format!("{} ({}%)", s.name, s.probability),
            _ => s.name.clone(),
        })
        .collect::<Vec<_>>()
        .join(" > ")
}
