//! The client subcommands against `crm up`: tables by default, the proto3
//! JSON of the reply with `--json`.

use clap::Parser;
use crm::{
    cli::{Cli, Command},
    client::run,
};
use crm_kit::testing::{Backend, token};
use crm_proto::pipeline::v1::pipeline_service_client::PipelineServiceClient;

use super::harness::{sales_pipeline, up};

/// Parses `args` as the crm binary would and runs the client command.
async fn crm(args: &[String]) -> String {
    let cli = Cli::try_parse_from(args).unwrap();
    let Some(Command::Client(command)) = &cli.command else {
        panic!("not a client command: {args:?}")
    };
    run(&cli.connection, command).await.unwrap()
}

async fn the_client_commands_print_tables_and_json(backend: Backend) {
    let Some(suite) = up(backend, "client").await else {
        return;
    };
    let t = token("acme", "ann", &["admin"]);
    let p = sales_pipeline(&mut PipelineServiceClient::new(suite.channel.clone()), &t).await;
    let base = ["crm", "--addr", suite.url.as_str(), "--token", t.as_str()];
    let with = |rest: &[&str]| {
        base.iter()
            .chain(rest)
            .map(|s| (*s).to_owned())
            .collect::<Vec<String>>()
    };

    let table = crm(&with(&["pipelines"])).await;
    assert!(
        table.starts_with("ID") && table.contains("Lead (10%) > Proposal (60%) > Won > Lost"),
        "{table}"
    );
    let created = crm(&with(&[
        "--json",
        "deals",
        "create",
        "--pipeline",
        &p.id,
        "--title",
        "From the CLI",
        "--amount",
        "1500",
    ]))
    .await;
    let created: serde_json::Value = serde_json::from_str(&created).unwrap();
    assert_eq!(
        created["deal"]["amount"]["units"], "1500",
        "int64 in the proto3 JSON mapping is a string"
    );
    let id = created["deal"]["id"].as_str().unwrap().to_owned();
    let moved = crm(&with(&["deals", "move", &id, "--stage", &p.stages[1].id])).await;
    assert!(
        moved.contains("From the CLI") && moved.contains("OPEN") && moved.contains("v2"),
        "{moved}"
    );
    let board = crm(&with(&["board", &p.id])).await;
    assert!(
        board
            .lines()
            .any(|l| l.starts_with("Proposal") && l.contains("1500 EUR") && l.contains("900 EUR")),
        "{board}"
    );
    let history = crm(&with(&["deals", "history", &id])).await;
    assert_eq!(history.lines().count(), 3, "a header and two entries:\n{history}");
}

async fn the_client_sets_shows_and_filters_custom_fields(backend: Backend) {
    use crm_proto::{common::v1 as common, pipeline::v1 as pb};
    let Some(suite) = up(backend, "client_fields").await else {
        return;
    };
    let t = token("acme", "ann", &["admin"]);
    let mut client = PipelineServiceClient::new(suite.channel.clone());
    let p = sales_pipeline(&mut client, &t).await;
    let source = common::FieldDefinition {
        key: "lead_source".into(),
        label: "Lead source".into(),
        r#type: common::FieldType::SingleSelect as i32,
        options: ["Web", "Trade show"]
            .iter()
            .map(|l| common::FieldOption {
                id: String::new(),
                label: (*l).into(),
            })
            .collect(),
        ..Default::default()
    };
    let budget = common::FieldDefinition {
        key: "budget".into(),
        label: "Budget".into(),
        r#type: common::FieldType::Money as i32,
        currency_code: "EUR".into(),
        ..Default::default()
    };
    for d in [source, budget] {
        let req = pb::CreateFieldDefinitionRequest {
            definition: Some(d),
            request_id: String::new(),
        };
        client
            .create_field_definition(crm_kit::testing::authed(&t, req))
            .await
            .unwrap();
    }
    let base = ["crm", "--addr", suite.url.as_str(), "--token", t.as_str()];
    let with = |rest: &[&str]| {
        base.iter()
            .chain(rest)
            .map(|s| (*s).to_owned())
            .collect::<Vec<String>>()
    };
    let create = |title: &'static str, source: &'static str| {
        with(&[
            "deals",
            "create",
            "--pipeline",
            &p.id,
            "--title",
            title,
            "--field",
            source,
            "--field",
            "budget=1200.5",
        ])
    };
    let shown = crm(&create("Fair", "lead_source=Trade show")).await;
    assert!(shown.contains("budget=1200.50 EUR lead_source=trade_show"), "{shown}");
    crm(&create("Site", "lead_source=web")).await;
    let listed = crm(&with(&["deals", "list", "--field", "lead_source=trade show"])).await;
    assert!(listed.contains("Fair") && !listed.contains("Site"), "{listed}");
}

crm_kit::backend_tests!(
    the_client_commands_print_tables_and_json,
    the_client_sets_shows_and_filters_custom_fields,
);
