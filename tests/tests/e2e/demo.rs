//! `crm demo` against a fresh `crm up`: the seeded data set lands, analytics
//! catches up, and the report names Demo as the bottleneck.

use crm_kit::testing::Backend;

use super::harness::up;

async fn the_demo_fills_a_tenant_and_reports_demo_as_the_bottleneck(backend: Backend) {
    let Some(suite) = up(backend, "demo").await else { return };
    let opts = crm::demo::DemoOptions {
        addr: suite.url.clone(),
        tenant: "demo".into(),
        deals: 400,
        seed: 7,
        secret: crm_kit::testing::TEST_SECRET_TEXT.into(),
    };
    let report = crm::demo::run(&opts).await.unwrap();
    assert_eq!(report.imported, 400);
    assert_eq!(
        report.funnel.stages[0].entered, 400,
        "every deal entered Lead in the last year"
    );
    assert_eq!(report.bottlenecks.by_conversion[0].stage_name, "Demo");
    assert_eq!(report.bottlenecks.by_time_in_stage[0].stage_name, "Demo");
    assert!(!report.forecast.buckets.is_empty());
    // The funnel by lead source: every deal has one, so the groups add up.
    let groups = &report.funnel.groups;
    let labels: Vec<&str> = groups.iter().map(|g| g.option_label.as_str()).collect();
    assert_eq!(labels, ["Web", "Referral", "Event", "Partner"]);
    let entered: i64 = groups
        .iter()
        .map(|g| g.funnel.as_ref().map_or(0, |f| f.stages[0].entered))
        .sum();
    let won: i64 = groups.iter().map(|g| g.funnel.as_ref().map_or(0, |f| f.won)).sum();
    assert_eq!((entered, won), (400, report.funnel.won));
    let text = report.to_string();
    for section in [
        "FUNNEL",
        "FUNNEL BY LEAD SOURCE",
        "TIME IN STAGE",
        "FORECAST",
        "VELOCITY",
        "BOTTLENECK",
        "STALLED DEALS",
    ] {
        assert!(text.contains(section), "the report has {section}:\n{text}");
    }
}

crm_kit::backend_tests!(the_demo_fills_a_tenant_and_reports_demo_as_the_bottleneck);
