//! Requests parsed into valid values: bad input is INVALID_ARGUMENT naming
//! every bad field before anything is read.

use chrono::NaiveDate;
use crm_kit::{ApiResult, time, validate::Violations};
use crm_proto::{
    analytics::v1::{self as pb, ForecastGrouping},
    common::v1::Date,
};

use crate::domain::{DAY, Period, forecast, money};

/// The largest lookback accepted, in days (about a century).
const MAX_LOOKBACK_DAYS: i32 = 36_500;

/// What every call names: the pipeline and an optional owner.
#[derive(Clone, Debug)]
pub struct Scope {
    /// The pipeline (a canonical UUID).
    pub pipeline_id: String,
    /// Only this owner's deals.
    pub owner: Option<String>,
}

/// Parses the pipeline and owner, recording violations.
pub fn scope(v: &mut Violations, pipeline_id: &str, owner_id: &str) -> Scope {
    v.required_id("pipeline_id", pipeline_id);
    let owner = (!owner_id.is_empty()).then(|| v.user_id("owner_id", owner_id));
    Scope {
        pipeline_id: pipeline_id.to_ascii_lowercase(),
        owner,
    }
}

/// A required period with from < to.
pub fn period(v: &mut Violations, p: Option<&pb::Period>) -> Option<Period> {
    let Some(p) = p else {
        v.add("period", "is required");
        return None;
    };
    let from = p.from.as_ref().and_then(time::from_timestamp);
    let to = p.to.as_ref().and_then(time::from_timestamp);
    match (from, to) {
        (Some(from), Some(to)) if from < to => Some(Period { from, to }),
        (Some(_), Some(_)) => {
            v.add("period", "`from` must be before `to`");
            None
        }
        _ => {
            v.add("period", "`from` and `to` are both required and must be valid times");
            None
        }
    }
}

/// A count-like option: 0 means `default`, negative or above `max` is bad.
pub fn positive_or_default(v: &mut Violations, field: &str, value: i32, default: i32, max: i32) -> i32 {
    match value {
        0 => default,
        1.. if value <= max => value,
        _ => {
            v.add(
                field,
                format!("must be between 1 and {max} (0 for the default, {default})"),
            );
            default
        }
    }
}

/// A lookback in days (0 for `default`).
pub fn lookback(v: &mut Violations, field: &str, value: i32, default: i32) -> i32 {
    positive_or_default(v, field, value, default, MAX_LOOKBACK_DAYS)
}

/// A required calendar date.
pub fn date(v: &mut Violations, field: &str, d: Option<&Date>) -> Option<NaiveDate> {
    let parsed = d.and_then(money::parse_date);
    if parsed.is_none() {
        v.add(field, "is required and must be a real calendar date");
    }
    parsed
}

/// Finishes a parse: INVALID_ARGUMENT if anything was recorded.
pub fn finish<T>(v: Violations, value: T) -> ApiResult<T> {
    v.finish()?;
    Ok(value)
}

/// A GetForecast request, parsed: everything of its query but the instant
/// it is asked at.
#[derive(Clone, Copy, Debug)]
pub struct Forecast {
    from: NaiveDate,
    to: NaiveDate,
    quarters: bool,
    seed: u64,
    lookback_days: i32,
    min_sample: i32,
}

impl Forecast {
    /// The query asked at `now` (µs).
    pub fn at(&self, now: i64) -> forecast::Query {
        forecast::Query {
            from: self.from,
            to: self.to,
            quarters: self.quarters,
            seed: self.seed,
            since: now - i64::from(self.lookback_days) * DAY,
            min_sample: i64::from(self.min_sample),
        }
    }
}

/// Parses a GetForecast request, naming every bad field.
pub fn forecast(req: &pb::GetForecastRequest) -> ApiResult<(Scope, Forecast)> {
    let mut v = Violations::new();
    let scope = scope(&mut v, &req.pipeline_id, &req.owner_id);
    let from = date(&mut v, "from", req.from.as_ref());
    let to = date(&mut v, "to", req.to.as_ref());
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        v.add("to", "must not be before `from`");
    }
    let quarters = match ForecastGrouping::try_from(req.grouping) {
        Ok(ForecastGrouping::Quarter) => true,
        Ok(_) => false,
        Err(_) => {
            v.add("grouping", "must be MONTH or QUARTER");
            false
        }
    };
    let lookback_days = lookback(&mut v, "lookback_days", req.lookback_days, 365);
    let min_sample = positive_or_default(&mut v, "min_sample", req.min_sample, 10, i32::MAX);
    let (from, to) = v.finish_with(from.zip(to))?;
    let ask = Forecast {
        from,
        to,
        quarters,
        seed: req.seed,
        lookback_days,
        min_sample,
    };
    Ok((scope, ask))
}
