//! Analytics by custom field: the funnel grouped by a select field and
//! filtered on it, from the analytics service's own copy of the values and
//! definitions, matching a count made here; an option move reaches it.

use crm_kit::testing::{Backend, assert_bad_field, authed};
use crm_proto::{
    analytics::v1::{self as a, analytics_service_client::AnalyticsServiceClient},
    common::v1::{self as common, FieldType},
};
use tonic::transport::Channel;

use super::{Fields, option, select, values};
use crate::harness::up;

fn period() -> Option<a::Period> {
    let now = prost_types::Timestamp::from(std::time::SystemTime::now());
    Some(a::Period {
        from: Some(prost_types::Timestamp {
            seconds: now.seconds - 3600,
            nanos: 0,
        }),
        to: Some(prost_types::Timestamp {
            seconds: now.seconds + 3600,
            nanos: 0,
        }),
    })
}

/// (option, deals entered Lead, won) per group of the funnel grouped by lead_source.
async fn by_source(
    client: &mut AnalyticsServiceClient<Channel>,
    t: &str,
    pipeline_id: &str,
) -> Result<Vec<(String, i64, i64)>, tonic::Status> {
    let req = a::GetFunnelRequest {
        pipeline_id: pipeline_id.into(),
        period: period(),
        group_by_field: "lead_source".into(),
        ..Default::default()
    };
    let reply = client.get_funnel(authed(t, req)).await?.into_inner();
    Ok(reply
        .groups
        .into_iter()
        .map(|g| {
            let f = g.funnel.unwrap_or_default();
            (g.option_id, f.stages.first().map_or(0, |s| s.entered), f.won)
        })
        .collect())
}

async fn the_funnel_grouped_by_a_select_field_matches_a_count_made_here(backend: Backend) {
    let Some(suite) = up(backend, "field_analytics").await else {
        return;
    };
    let mut f = Fields::new(suite.channel.clone()).await;
    let mut analytics = AnalyticsServiceClient::new(suite.channel.clone());
    let source = f
        .define(select(
            "lead_source",
            FieldType::SingleSelect,
            &["Web", "Referral", "Event"],
        ))
        .await
        .unwrap();
    let won = f
        .pipeline
        .stages
        .iter()
        .find(|s| s.kind == common::StageKind::Won as i32)
        .unwrap()
        .id
        .clone();
    // (source, won?) per deal; the count below is made from this list.
    let plan = [
        ("web", true),
        ("web", false),
        ("web", true),
        ("referral", false),
        ("referral", true),
        ("event", false),
    ];
    for (i, (src, wins)) in plan.iter().enumerate() {
        let d = f
            .deal(&format!("Deal {i}"), values(&[("lead_source", option(src))]))
            .await
            .unwrap();
        if *wins {
            crate::harness::move_to(&mut f.client, &f.t, &d.id, &won).await;
        }
    }
    f.deal("No source", values(&[])).await.unwrap();
    let count = |src: &str| {
        let of: Vec<_> = plan.iter().filter(|(s, _)| *s == src).collect();
        (
            src.to_owned(),
            of.len() as i64,
            of.iter().filter(|(_, w)| *w).count() as i64,
        )
    };
    let expected = vec![count("web"), count("referral"), count("event")];
    let mut got = Vec::new();
    // Analytics learns of the field from its event: until then (the bus's
    // lag on a topology) the group-by names a field it does not know.
    for _ in 0..300 {
        match by_source(&mut analytics, &f.t, &f.pipeline.id).await {
            Ok(groups) if groups == expected => {
                got = groups;
                break;
            }
            Ok(groups) => got = groups,
            Err(e) => assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        got, expected,
        "grouped by lead_source (deals without one are in no group)"
    );

    // A filter: the web deals' funnel is the web group's.
    let req = a::GetFunnelRequest {
        pipeline_id: f.pipeline.id.clone(),
        period: period(),
        field_filter: Some(common::FieldFilter {
            key: "lead_source".into(),
            equals: Some(option("web")),
            ..Default::default()
        }),
        ..Default::default()
    };
    let web = analytics.get_funnel(authed(&f.t, req)).await.unwrap().into_inner();
    assert_eq!((web.stages[0].entered, web.won), (3, 2));
    let by_owner = a::GetOwnerPerformanceRequest {
        pipeline_id: f.pipeline.id.clone(),
        period: period(),
        group_by_field: "lead_source".into(),
        ..Default::default()
    };
    let perf = analytics
        .get_owner_performance(authed(&f.t, by_owner))
        .await
        .unwrap()
        .into_inner();
    let won_by_group: Vec<i64> = perf
        .groups
        .iter()
        .map(|g| {
            g.performance
                .as_ref()
                .map_or(0, |p| p.owners.iter().map(|o| o.won_count).sum())
        })
        .collect();
    assert_eq!(won_by_group, [2, 1, 0]);

    // Not a select field, or unknown: named.
    let bad = a::GetFunnelRequest {
        pipeline_id: f.pipeline.id.clone(),
        period: period(),
        group_by_field: "nope".into(),
        ..Default::default()
    };
    assert_bad_field(
        &analytics.get_funnel(authed(&f.t, bad)).await.unwrap_err(),
        "group_by_field",
    );

    // Removing "event" and moving its deals to "referral" reaches the copy.
    let mut without_event = source.clone();
    without_event.options.retain(|o| o.id != "event");
    let moves = vec![common::OptionMove {
        from_option_id: "event".into(),
        to_option_id: "referral".into(),
    }];
    f.update_definition(without_event, &["options"], moves).await.unwrap();
    let expected = vec![count("web"), ("referral".to_owned(), 3, 1)];
    for _ in 0..300 {
        got = by_source(&mut analytics, &f.t, &f.pipeline.id).await.unwrap();
        if got == expected {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(got, expected, "the event deal counts as referral now");
}

crm_kit::backend_tests!(the_funnel_grouped_by_a_select_field_matches_a_count_made_here);
