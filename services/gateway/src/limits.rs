//! Per-tenant limits: a token bucket of calls (rate and burst) and a cap on
//! the calls a tenant has in flight at once, so one caller cannot starve
//! the others. Over either limit a call is RESOURCE_EXHAUSTED with a
//! `google.rpc.RetryInfo` saying when to try again.
//!
//! Above them, the gateway's own capacity: at most `capacity` calls in
//! flight in all, and a tenant with calls in flight may hold at most
//! `capacity / (k + 1)` of them, `k` being how many tenants have calls in
//! flight. So however high one tenant's own limits are raised, a flood of
//! its calls leaves room (half the capacity when it is alone) for a tenant
//! that comes next, and what the gateway holds at once is bounded.
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
    /// Calls in flight at once through this gateway, all tenants together.
    pub capacity: usize,
}

impl Default for LimitConfig {
    fn default() -> Self {
        Self {
            rate: 500.0,
            burst: 1000.0,
            in_flight: 64,
            capacity: 256,
        }
    }
}

/// The tenants' buckets and in-flight counts.
#[derive(Debug)]
pub struct Limits {
    config: LimitConfig,
    tenants: Mutex<HashMap<String, Tenant>>,
    /// Calls in flight, all tenants together.
    total: Arc<AtomicUsize>,
}

#[derive(Debug)]
struct Tenant {
    tokens: f64,
    at: Instant,
    in_flight: Arc<AtomicUsize>,
    /// Told each time one of the tenant's calls ends.
    freed: Arc<tokio::sync::Notify>,
}

/// A call let through: it counts as in flight (its tenant's, and the
/// gateway's) until dropped.
#[derive(Debug)]
pub struct Permit {
    tenant: Arc<AtomicUsize>,
    total: Arc<AtomicUsize>,
    freed: Arc<tokio::sync::Notify>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.tenant.fetch_sub(1, Ordering::AcqRel);
        self.total.fetch_sub(1, Ordering::AcqRel);
        // One of the tenant's calls waiting for its share may go now.
        self.freed.notify_one();
    }
}

/// Why a call was not let through.
enum Refusal {
    /// Over the tenant's own limits: answered at once.
    Now(Status),
    /// Over the tenant's fair share of the gateway: it may wait for one of
    /// its own calls to end.
    Share(Status, Arc<tokio::sync::Notify>),
}

/// How long a call over its tenant's fair share waits for one of that
/// tenant's own calls to end before it is refused: a flood waits (costing
/// a stream, no CPU) instead of being refused and retried at full speed.
pub const SHARE_WAIT: Duration = Duration::from_millis(500);

impl Limits {
    /// Limits of `config` for every tenant.
    pub fn new(config: LimitConfig) -> Self {
        Self {
            config,
            tenants: Mutex::new(HashMap::new()),
            total: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Lets one call of `tenant` through, or says when to retry.
    pub fn admit(&self, tenant: &str) -> Result<Permit, Status> {
        self.try_admit(tenant).map_err(|r| match r {
            Refusal::Now(s) | Refusal::Share(s, _) => s,
        })
    }

    /// Lets one call of `tenant` through; a call over its tenant's fair
    /// share waits up to `within` for one of the tenant's calls to end.
    pub async fn admit_within(&self, tenant: &str, within: Duration) -> Result<Permit, Status> {
        let until = tokio::time::Instant::now() + within;
        loop {
            match self.try_admit(tenant) {
                Ok(permit) => return Ok(permit),
                Err(Refusal::Now(status)) => return Err(status),
                Err(Refusal::Share(status, freed)) => {
                    if tokio::time::timeout_at(until, freed.notified()).await.is_err() {
                        return Err(status);
                    }
                }
            }
        }
    }

    fn try_admit(&self, tenant: &str) -> Result<Permit, Refusal> {
        let now = Instant::now();
        let mut tenants = self.tenants.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let t = tenants.entry(tenant.to_owned()).or_insert_with(|| Tenant {
            tokens: self.config.burst,
            at: now,
            in_flight: Arc::new(AtomicUsize::new(0)),
            freed: Arc::new(tokio::sync::Notify::new()),
        });
        t.tokens = (t.tokens + now.duration_since(t.at).as_secs_f64() * self.config.rate).min(self.config.burst);
        t.at = now;
        if t.tokens < 1.0 {
            let wait = Duration::from_secs_f64((1.0 - t.tokens) / self.config.rate);
            return Err(Refusal::Now(exhausted(
                format!("tenant {tenant} is over its rate of {} calls/s", self.config.rate),
                wait,
            )));
        }
        let held = t.in_flight.load(Ordering::Acquire);
        if held >= self.config.in_flight {
            return Err(Refusal::Now(exhausted(
                format!("tenant {tenant} has {} calls in flight already", self.config.in_flight),
                Duration::from_millis(100),
            )));
        }
        // Under the one lock, so the counts are those of this moment.
        // A tenant already holding calls keeps room for one more tenant: at
        // most capacity / (k + 1), k tenants (itself among them) holding calls.
        let busy = tenants
            .values()
            .filter(|t| t.in_flight.load(Ordering::Acquire) > 0)
            .count();
        let total = self.total.load(Ordering::Acquire);
        let share = (self.config.capacity / (busy + 1)).max(1);
        if total >= self.config.capacity || (held > 0 && held >= share) {
            let status = exhausted(
                format!(
                    "the gateway is busy: tenant {tenant} holds {held} of its {} calls in flight, its share now",
                    self.config.capacity
                ),
                Duration::from_millis(100),
            );
            return Err(match held > 0 {
                true => Refusal::Share(status, t_freed(&tenants, tenant)),
                false => Refusal::Now(status),
            });
        }
        let t = tenants.get_mut(tenant).expect("entered above");
        t.tokens -= 1.0;
        t.in_flight.fetch_add(1, Ordering::AcqRel);
        self.total.fetch_add(1, Ordering::AcqRel);
        Ok(Permit {
            tenant: t.in_flight.clone(),
            total: self.total.clone(),
            freed: t.freed.clone(),
        })
    }
}

fn t_freed(tenants: &HashMap<String, Tenant>, tenant: &str) -> Arc<tokio::sync::Notify> {
    tenants
        .get(tenant)
        .map_or_else(|| Arc::new(tokio::sync::Notify::new()), |t| t.freed.clone())
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
            capacity: 1000,
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
    fn a_tenant_whose_limits_are_raised_leaves_room_for_the_next() {
        let limits = Limits::new(LimitConfig {
            rate: 1e9,
            burst: 1e9,
            in_flight: 1_000_000,
            capacity: 100,
        });
        let flood: Vec<Permit> = std::iter::from_fn(|| limits.admit("a").ok()).take(1000).collect();
        assert_eq!(flood.len(), 50, "alone, a tenant holds half the capacity");
        let b: Vec<Permit> = std::iter::from_fn(|| limits.admit("b").ok()).take(1000).collect();
        assert_eq!(b.len(), 33, "with two busy tenants, a third of it each");
        assert!(limits.admit("c").is_ok(), "and a third tenant still gets in");
        assert!(limits.admit("a").is_err(), "while the flood waits");
        drop(flood);
        assert!(limits.admit("a").is_ok(), "its calls ended: it is let in again");
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_over_its_share_waits_for_one_of_its_tenants_calls_to_end() {
        let limits = Arc::new(Limits::new(LimitConfig {
            rate: 1e9,
            burst: 1e9,
            in_flight: 1_000,
            capacity: 4,
        }));
        let held: Vec<Permit> = std::iter::from_fn(|| limits.admit("a").ok()).take(10).collect();
        assert_eq!(held.len(), 2, "alone, half of 4");
        let waiting = {
            let limits = limits.clone();
            tokio::spawn(async move { limits.admit_within("a", SHARE_WAIT).await.is_ok() })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(held);
        assert!(waiting.await.unwrap(), "let in as soon as one of its calls ended");
        let _full: Vec<Permit> = std::iter::from_fn(|| limits.admit("a").ok()).take(10).collect();
        let refused = limits.admit_within("a", SHARE_WAIT).await;
        assert_eq!(
            refused.unwrap_err().code(),
            Code::ResourceExhausted,
            "refused after the wait"
        );
    }

    #[test]
    fn calls_in_flight_are_capped_until_they_finish() {
        let limits = Limits::new(LimitConfig {
            rate: 1000.0,
            burst: 1000.0,
            in_flight: 2,
            capacity: 1000,
        });
        let first = limits.admit("a").unwrap();
        let _second = limits.admit("a").unwrap();
        assert_eq!(limits.admit("a").unwrap_err().code(), Code::ResourceExhausted);
        drop(first);
        assert!(limits.admit("a").is_ok());
    }
}
