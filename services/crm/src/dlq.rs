//! `crm dlq`: what an operator does with the events a consumer gave up on.

use anyhow::bail;
use crm_kit::bus::{amqp::AmqpConfig, dlq::DeadLetters};

use crate::{ServiceName, cli::DlqAction, client::output};

/// Runs `action` on `service`'s dead letters; returns what to print.
pub async fn run(
    config: AmqpConfig,
    action: DlqAction,
    service: ServiceName,
    event_id: Option<&str>,
) -> anyhow::Result<String> {
    let consumer = match service {
        ServiceName::Contacts => crm_contacts::CONSUMER,
        ServiceName::Tasks => crm_tasks::automation::CONSUMER,
        ServiceName::Analytics => crm_analytics::projection::CONSUMER,
        ServiceName::Pipeline | ServiceName::Gateway => {
            bail!("{service:?} consumes no events: it has no dead letters")
        }
    };
    let letters = DeadLetters::new(config, consumer);
    Ok(match action {
        DlqAction::List => {
            let rows: Vec<Vec<String>> = letters
                .list()
                .await?
                .iter()
                .map(|l| {
                    let e = l.event.as_ref();
                    vec![
                        l.event_id().to_owned(),
                        e.map_or("(not an event)".to_owned(), |e| e.r#type.clone()),
                        e.map_or(String::new(), |e| e.tenant_id.clone()),
                        l.reason.clone(),
                        l.deaths.to_string(),
                        l.bytes.to_string(),
                    ]
                })
                .collect();
            output::table(&["EVENT ID", "TYPE", "TENANT", "REASON", "DEATHS", "BYTES"], &rows)
        }
        DlqAction::Show => {
            let Some(id) = event_id else {
                bail!("`crm dlq show` needs --event-id");
            };
            let all = letters.list().await?;
            let Some(letter) = all.iter().find(|l| l.event_id() == id) else {
                bail!("no dead letter {id} for {consumer}");
            };
            let event = letter.event.as_ref().map(output::json).transpose()?.unwrap_or_default();
            format!(
                "reason: {}\ndeaths: {}\nbytes: {}\n{event}",
                letter.reason, letter.deaths, letter.bytes
            )
        }
        DlqAction::Replay => {
            let sent = letters.replay(event_id).await?;
            format!("replayed {sent} dead letter(s) to {consumer}")
        }
        DlqAction::Purge => format!("dropped {} dead letter(s) of {consumer}", letters.purge().await?),
    })
}
