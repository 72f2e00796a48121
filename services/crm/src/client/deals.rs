//! `crm deals`: list, show, create, move, history.

use crm_proto::{
    common::v1::{self as common, DealStatus, Money},
    pipeline::v1::{self as pb, pipeline_service_client::PipelineServiceClient},
};

use super::{
    Connection, DealsCommand, fields,
    output::{json, money, table},
};

const DAY_SECS: i64 = 86_400;

pub(super) async fn deals(
    c: &Connection,
    client: &mut PipelineServiceClient<tonic::transport::Channel>,
    cmd: &DealsCommand,
) -> anyhow::Result<String> {
    let deal_row = |d: &pb::Deal| {
        let status = DealStatus::try_from(d.status).map_or("?", |s| s.as_str_name().trim_start_matches("DEAL_STATUS_"));
        vec![
            d.id.clone(),
            d.title.clone(),
            money(d.amount.as_ref()),
            d.owner_id.clone(),
            status.to_owned(),
            d.etag.clone(),
            fields::show(&d.custom_fields),
        ]
    };
    const DEAL_HEADERS: [&str; 7] = ["ID", "TITLE", "AMOUNT", "OWNER", "STATUS", "ETAG", "FIELDS"];
    match cmd {
        DealsCommand::List {
            pipeline,
            owner,
            fields,
        } => {
            let filters = fields::deal_values(c, client, fields).await?;
            let req = pb::ListDealsRequest {
                pipeline_id: pipeline.clone().unwrap_or_default(),
                owner_id: owner.clone().unwrap_or_default(),
                page_size: 500,
                field_filters: filters
                    .into_iter()
                    .map(|(key, v)| common::FieldFilter {
                        key,
                        equals: Some(v),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            };
            let reply = client.list_deals(c.request(req)).await?.into_inner();
            if c.json {
                return json(&reply);
            }
            Ok(table(
                &DEAL_HEADERS,
                &reply.deals.iter().map(deal_row).collect::<Vec<_>>(),
            ))
        }
        DealsCommand::Create {
            pipeline,
            title,
            amount,
            currency,
            fields,
        } => {
            let custom_fields = fields::deal_values(c, client, fields).await?;
            let amount = amount.map(|units| Money {
                currency_code: currency.clone(),
                units,
                nanos: 0,
            });
            let deal = pb::Deal {
                pipeline_id: pipeline.clone(),
                title: title.clone(),
                amount,
                custom_fields,
                ..Default::default()
            };
            let reply = client
                .create_deal(c.request(pb::CreateDealRequest {
                    deal: Some(deal),
                    request_id: String::new(),
                }))
                .await?
                .into_inner();
            if c.json {
                return json(&reply);
            }
            Ok(table(
                &DEAL_HEADERS,
                &reply.deal.iter().map(deal_row).collect::<Vec<_>>(),
            ))
        }
        DealsCommand::Move {
            deal_id,
            stage,
            lost_reason,
        } => {
            let req = pb::MoveDealRequest {
                deal_id: deal_id.clone(),
                stage_id: stage.clone(),
                etag: String::new(),
                lost_reason: lost_reason.clone(),
            };
            let reply = client.move_deal(c.request(req)).await?.into_inner();
            if c.json {
                return json(&reply);
            }
            Ok(table(
                &DEAL_HEADERS,
                &reply.deal.iter().map(deal_row).collect::<Vec<_>>(),
            ))
        }
        DealsCommand::History { deal_id } => {
            let req = pb::ListDealHistoryRequest {
                deal_id: deal_id.clone(),
                page_size: 500,
                ..Default::default()
            };
            let reply = client.list_deal_history(c.request(req)).await?.into_inner();
            if c.json {
                return json(&reply);
            }
            let rows = reply
                .transitions
                .iter()
                .map(|tr| {
                    let spent = tr
                        .time_in_from_stage
                        .map(|d| format!("{:.1} d", d.seconds as f64 / DAY_SECS as f64))
                        .unwrap_or_default();
                    let at = tr.moved_at.map(|m| m.to_string()).unwrap_or_default();
                    vec![
                        at,
                        tr.from_stage_id.clone(),
                        tr.to_stage_id.clone(),
                        spent,
                        tr.actor_id.clone(),
                    ]
                })
                .collect::<Vec<_>>();
            Ok(table(&["AT", "FROM", "TO", "TIME IN FROM", "BY"], &rows))
        }
    }
}
