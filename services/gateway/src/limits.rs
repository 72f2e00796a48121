//! Per-tenant limits: a token bucket of calls (rate and burst) and a cap on
//! the calls a tenant has in flight at once, so one caller cannot starve
//! the others. Over either limit a call is RESOURCE_EXHAUSTED with a
//! `google.rpc.RetryInfo` saying when to try again.
//!
//! A bucket is a few numbers under one mutex: a dependency would not make
//! it shorter, and the delay it reports is exact.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The limits every tenant gets.
#[derive(Clone, Copy, Debug)]
pub struct LimitConfig {
    /// Calls per second, sustained.
    pub rate: f64,
    /// Calls allowed at once after a quiet spell.
    pub burst: f64,
    /// Calls in flight at once.
    pub in_flight: usize,
}

impl Default for LimitConfig {
    fn default() -> Self {
        Self {
            rate: 500.0,
            burst: 1000.0,
            in_flight: 64,
        }
    }
}

/// The tenants' buckets and in-flight counts.
#[derive(Debug)]
pub struct Limits {
    config: LimitConfig,
    tenants: Mutex<HashMap<String, Tenant>>,
}

#[derive(Debug)]
struct Tenant {
    tokens: f64,
    at: Instant,
    in_flight: Arc<AtomicUsize>,
}

/// A call let through: it counts as in flight until dropped.
#[derive(Debug)]
pub struct Permit(Arc<AtomicUsize>);

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Limits {
    /// Limits of `config` for every tenant.
    pub fn new(config: LimitConfig) -> Self {
        Self {
            config,
            tenants: Mutex::new(HashMap::new()),
        }
    }

    /// Lets one call of `tenant` through, or says when to retry.
    pub fn admit(&self, tenant: &str) -> Result<Permit, Status> {
        let now = Instant::now();
        let mut tenants = self.tenants.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let t = tenants.entry(tenant.to_owned()).or_insert_with(|| Tenant {
            tokens: self.config.burst,
            at: now,
            in_flight: Arc::new(AtomicUsize::new(0)),
        });
        t.tokens = (t.tokens + now.duration_since(t.at).as_secs_f64() * self.config.rate).min(self.config.burst);
        t.at = now;
        if t.tokens < 1.0 {
            let wait = Duration::from_secs_f64((1.0 - t.tokens) / self.config.rate);
            return Err(exhausted(
                format!("tenant {tenant} is over its rate of {} calls/s", self.config.rate),
                wait,
            ));
        }
        if t.in_flight.load(Ordering::Acquire) >= self.config.in_flight {
            return Err(exhausted(
                format!("tenant {tenant} has {} calls in flight already", self.config.in_flight),
                Duration::from_millis(100),
            ));
        }
        t.tokens -= 1.0;
        t.in_flight.fetch_add(1, Ordering::AcqRel);
        Ok(Permit(t.in_flight.clone()))
    }
}

fn exhausted(message: String, retry_in: Duration) -> Status {
    Status::with_error_details(
        Code::ResourceExhausted,
        message,
        ErrorDetails::with_retry_info(Some(retry_in)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_over_its_burst_waits_while_another_goes_through() {
        let limits = Limits::new(LimitConfig {
            rate: 10.0,
            burst: 5.0,
            in_flight: 100,
        });
        let permits: Vec<Permit> = (0..5).map(|_| limits.admit("a").unwrap()).collect();
        let err = limits.admit("a").unwrap_err();
        assert_eq!(err.code(), Code::ResourceExhausted);
        let retry = err.get_details_retry_info().and_then(|r| r.retry_delay).unwrap();
        assert!(
            retry > Duration::ZERO && retry <= Duration::from_millis(100),
            "{retry:?}"
        );
        assert!(limits.admit("b").is_ok(), "another tenant has its own bucket");
        drop(permits);
        std::thread::sleep(Duration::from_millis(120));
        assert!(limits.admit("a").is_ok(), "a token came back after 100 ms");
    }

    #[test]
    fn calls_in_flight_are_capped_until_they_finish() {
        let limits = Limits::new(LimitConfig {
            rate: 1000.0,
            burst: 1000.0,
            in_flight: 2,
        });
        let first = limits.admit("a").unwrap();
        let _second = limits.admit("a").unwrap();
        assert_eq!(limits.admit("a").unwrap_err().code(), Code::ResourceExhausted);
        drop(first);
        assert!(limits.admit("a").is_ok());
    }
}
