//! Client subcommands for the everyday calls, so nobody needs grpcurl for
//! them: tables by default, the proto3 JSON of the reply with `--json`.

mod commands;
mod deals;
mod fields;
pub mod output;
mod report;

use clap::{Args, Subcommand};
use crm_kit::{auth::TokenVerifier, config::AuthArgs};
use tonic::{Request, transport::Channel};

pub use self::commands::run;

/// How to reach the suite and who calls.
#[derive(Args, Clone, Debug)]
pub struct Connection {
    /// Where the suite answers (`crm up` or a gateway).
    #[arg(long, env = "CRM_ADDR", default_value = "http://127.0.0.1:50051", global = true)]
    pub addr: String,
    /// A bearer token; without one, a development token is minted for
    /// `--tenant` and `--user` with the configured secret.
    #[arg(long, env = "CRM_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// The tenant of the minted development token.
    #[arg(long, default_value = "acme", global = true)]
    pub tenant: String,
    /// The user of the minted development token.
    #[arg(long, default_value = "dev", global = true)]
    pub user: String,
    /// Print the reply as proto3 JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// Token signing, for the minted token.
    #[command(flatten)]
    pub auth: AuthArgs,
}

impl Connection {
    async fn channel(&self) -> anyhow::Result<Channel> {
        use anyhow::Context;
        tonic::transport::Endpoint::from_shared(self.addr.clone())?
            .connect()
            .await
            .with_context(|| format!("connecting to {}", self.addr))
    }

    fn token(&self) -> String {
        self.token.clone().unwrap_or_else(|| {
            TokenVerifier::hs256(self.auth.secret.as_bytes()).mint(&self.tenant, &self.user, &["admin"], 3600)
        })
    }

    fn request<T>(&self, msg: T) -> Request<T> {
        let mut req = Request::new(msg);
        if let Ok(value) = format!("Bearer {}", self.token()).parse() {
            req.metadata_mut().insert("authorization", value);
        }
        req
    }
}

/// The client subcommands.
#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Lists pipelines with their stages.
    Pipelines,
    /// Works with deals.
    #[command(subcommand)]
    Deals(DealsCommand),
    /// Shows a pipeline as a board.
    Board {
        /// The pipeline.
        pipeline_id: String,
    },
    /// Lists tasks.
    Tasks {
        /// Only this assignee's.
        #[arg(long)]
        assignee: Option<String>,
        /// Only this deal's.
        #[arg(long)]
        deal: Option<String>,
    },
    /// Prints an analytics report of a pipeline.
    Report {
        /// funnel, durations, forecast, velocity, bottlenecks or owners.
        #[arg(value_parser = ["funnel", "durations", "forecast", "velocity", "bottlenecks", "owners"])]
        kind: String,
        /// The pipeline.
        pipeline_id: String,
        /// How many days back the period reaches (forecast: how many days ahead).
        #[arg(long, default_value_t = 365)]
        days: i64,
    },
}

/// `crm deals ...`.
#[derive(Subcommand, Debug)]
pub enum DealsCommand {
    /// Lists deals.
    List {
        /// Only this pipeline's.
        #[arg(long)]
        pipeline: Option<String>,
        /// Only this owner's.
        #[arg(long)]
        owner: Option<String>,
        /// Only the deals whose custom field has this value, as key=value
        /// (repeatable; an option by its id or label).
        #[arg(long = "field", value_name = "KEY=VALUE")]
        fields: Vec<String>,
    },
    /// Creates a deal.
    Create {
        /// The pipeline.
        #[arg(long)]
        pipeline: String,
        /// The title.
        #[arg(long)]
        title: String,
        /// The amount in whole units, e.g. 12000.
        #[arg(long)]
        amount: Option<i64>,
        /// The amount's currency.
        #[arg(long, default_value = "EUR")]
        currency: String,
        /// A custom value, as key=value (repeatable), typed by the field's
        /// definition: an option by its id or label, money in the field's
        /// currency, a date as YYYY-MM-DD.
        #[arg(long = "field", value_name = "KEY=VALUE")]
        fields: Vec<String>,
    },
    /// Moves a deal to another stage of its pipeline.
    Move {
        /// The deal.
        deal_id: String,
        /// The stage to move it to.
        #[arg(long)]
        stage: String,
        /// Why it was lost (for a move to the LOST stage).
        #[arg(long, default_value = "")]
        lost_reason: String,
    },
    /// Shows a deal's stage history.
    History {
        /// The deal.
        deal_id: String,
    },
}
