//! What `crm bench` prints.

use std::{fmt, time::Duration};

use super::{BenchOptions, Call, Tally, pgbench::Shape};

/// Everything one bench run measured.
#[derive(Clone, Debug)]
pub struct Report {
    addr: String,
    connections: usize,
    streams: usize,
    duration: Duration,
    deals: usize,
    seeding: Duration,
    /// Health/Check through the same path.
    pub floor: Option<Tally>,
    /// Each call's run, in order.
    pub calls: Vec<(Call, Tally)>,
    /// pgbench's runs of the same SQL shapes.
    pub pgbench: Vec<Shape>,
}

impl Report {
    /// An empty report of a run with `opts`.
    pub fn new(opts: &BenchOptions, seeding: Duration) -> Self {
        Self {
            addr: opts.addr.clone(),
            connections: opts.connections,
            streams: opts.streams,
            duration: opts.duration,
            deals: opts.deals,
            seeding,
            floor: None,
            calls: Vec::new(),
            pgbench: Vec::new(),
        }
    }

    /// The successful calls per second of `call`, if it ran.
    pub fn rate(&self, call: Call) -> Option<f64> {
        self.calls.iter().find(|(c, _)| *c == call).map(|(_, t)| t.per_second())
    }
}

fn errors(t: &Tally) -> String {
    if t.errors.is_empty() {
        return "0".into();
    }
    t.errors
        .iter()
        .map(|(code, n)| format!("{code} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn line(f: &mut fmt::Formatter<'_>, name: &str, t: &Tally) -> fmt::Result {
    writeln!(
        f,
        "{name:<12} {:>10.0} {:>9} {:>8.2} {:>8.2} {:>8.2}  {}",
        t.per_second(),
        t.ok(),
        t.quantile_ms(0.50),
        t.quantile_ms(0.99),
        t.quantile_ms(0.999),
        errors(t)
    )
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "crm bench against {}: {} connections, {} streams, {} s per call, {} deals seeded in {:.1} s",
            self.addr,
            self.connections,
            self.streams,
            self.duration.as_secs(),
            self.deals,
            self.seeding.as_secs_f64()
        )?;
        writeln!(
            f,
            "{:<12} {:>10} {:>9} {:>8} {:>8} {:>8}  errors",
            "call", "ok/s", "ok", "p50 ms", "p99 ms", "p999 ms"
        )?;
        if let Some(floor) = &self.floor {
            line(f, "Health", floor)?;
        }
        for (call, tally) in &self.calls {
            line(f, call.name(), tally)?;
        }
        if let Some(floor) = &self.floor {
            let floor = floor.per_second();
            writeln!(
                f,
                "\nagainst the floor (Health/Check through the same path, {floor:.0}/s):"
            )?;
            for (call, tally) in &self.calls {
                writeln!(f, "  {:<12} {:.2}", call.name(), tally.per_second() / floor.max(1e-9))?;
            }
        }
        if !self.pgbench.is_empty() {
            writeln!(
                f,
                "\nagainst PostgreSQL (pgbench, the same SQL, {} clients, {} s each):",
                self.streams,
                self.duration.as_secs()
            )?;
            for shape in &self.pgbench {
                let ours = self.rate(shape.call).unwrap_or(0.0);
                writeln!(
                    f,
                    "  {:<12} {:<36} {:>9.0} tps   crm {:>7.0}/s   ratio {:.2}",
                    shape.call.name(),
                    shape.what,
                    shape.tps,
                    ours,
                    ours / shape.tps.max(1e-9)
                )?;
            }
        }
        Ok(())
    }
}
