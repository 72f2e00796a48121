//! Tracing setup: human-readable lines by default, JSON for log shippers
//! (`CRM_LOG_FORMAT=json`), levels from `RUST_LOG` (default `info`).
//!
//! When `OTEL_EXPORTER_OTLP_ENDPOINT` is set (e.g. `http://collector:4317`),
//! spans at level info and above are also exported over OTLP/gRPC, batched,
//! as service `OTEL_SERVICE_NAME` (else the name the binary passes), and
//! trace context is read and written as W3C `traceparent`. The standard
//! `OTEL_EXPORTER_OTLP_*` and `OTEL_BSP_*` variables tune the exporter.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::{Resource, propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing_subscriber::{EnvFilter, Layer, filter::LevelFilter, fmt, layer::SubscriberExt, util::SubscriberInitExt};

/// What [`init`] installed; [`Telemetry::shutdown`] exports the spans still
/// buffered.
#[must_use = "call shutdown() before exiting, or the last spans are lost"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

/// Installs the global subscriber, with the OTLP exporter when
/// `OTEL_EXPORTER_OTLP_ENDPOINT` is set; `service` is the `service.name`
/// unless `OTEL_SERVICE_NAME` says otherwise. A second call is a no-op.
pub fn init(json: bool, service: &str) -> Telemetry {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = fmt::layer().with_target(false);
    let fmt = if json { fmt.json().boxed() } else { fmt.boxed() };
    let provider = exporting()
        .then(|| tracer_provider(service))
        .and_then(|built| built.map_err(|e| eprintln!("OTLP span export is off: {e}")).ok());
    // Spans are exported whatever RUST_LOG says of log lines.
    let otel = provider.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("crm"))
            .with_filter(LevelFilter::INFO)
    });
    let installed = tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(otel)
        .try_init()
        .is_ok();
    if installed && provider.is_some() {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    }
    Telemetry {
        provider: provider.filter(|_| installed),
    }
}

/// Whether spans are to be exported.
fn exporting() -> bool {
    std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_some_and(|v| !v.is_empty())
}

fn tracer_provider(service: &str) -> anyhow::Result<SdkTracerProvider> {
    let name = std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| service.to_owned());
    // The endpoint, headers and timeout come from the OTEL_EXPORTER_OTLP_* variables.
    let exporter = opentelemetry_otlp::SpanExporter::builder().with_tonic().build()?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(name).build())
        .build())
}

impl Telemetry {
    /// Exports the buffered spans and stops the exporter (waits at most
    /// the exporter's timeout); a no-op when nothing is exported.
    pub async fn shutdown(self) {
        let Some(provider) = self.provider else {
            return;
        };
        // The exporter's thread blocks; the runtime keeps driving its gRPC channel.
        match tokio::task::spawn_blocking(move || provider.shutdown()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("exporting the last spans failed: {e}"),
            Err(e) => eprintln!("exporting the last spans failed: {e}"),
        }
    }
}
