//! The deal state machine: a deal's status follows the kind of its stage;
//! a move to the LOST stage needs a reason; leaving WON or LOST reopens it.

use crm_kit::ApiError;
use crm_proto::common::v1 as common;

use super::stages::StageKind;

/// The longest lost reason.
pub const MAX_LOST_REASON: usize = 500;

/// A deal's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DealStatus {
    /// In an OPEN stage.
    Open,
    /// In the WON stage.
    Won,
    /// In the LOST stage.
    Lost,
}

impl DealStatus {
    /// The status of a deal in a stage of `kind`.
    pub fn of(kind: StageKind) -> Self {
        match kind {
            StageKind::Open => Self::Open,
            StageKind::Won => Self::Won,
            StageKind::Lost => Self::Lost,
        }
    }

    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Won => "won",
            Self::Lost => "lost",
        }
    }

    /// From the stored form.
    pub fn from_db(s: &str) -> Self {
        Self::of(StageKind::from_db(s))
    }

    /// From the wire enum; `Ok(None)` for UNSPECIFIED (any status).
    pub fn from_proto(status: i32) -> Result<Option<Self>, prost::UnknownEnumValue> {
        match common::DealStatus::try_from(status)? {
            common::DealStatus::Unspecified => Ok(None),
            common::DealStatus::Open => Ok(Some(Self::Open)),
            common::DealStatus::Won => Ok(Some(Self::Won)),
            common::DealStatus::Lost => Ok(Some(Self::Lost)),
        }
    }

    /// The wire enum.
    pub fn to_proto(self) -> common::DealStatus {
        match self {
            Self::Open => common::DealStatus::Open,
            Self::Won => common::DealStatus::Won,
            Self::Lost => common::DealStatus::Lost,
        }
    }
}

/// What a valid move does to a deal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MoveEffect {
    /// The status after the move.
    pub status: DealStatus,
    /// The lost reason after the move (only in the LOST stage).
    pub lost_reason: Option<String>,
    /// Whether the move closes the deal now (sets closed_at).
    pub closes: bool,
    /// Whether the move reopens a won or lost deal.
    pub reopens: bool,
}

/// Checks a move from a stage of kind `from` (id `from_id`) to `to_id` of
/// kind `to`, with the caller's `lost_reason`.
pub fn plan_move(
    from_id: &str,
    from: StageKind,
    to_id: &str,
    to: StageKind,
    lost_reason: &str,
) -> Result<MoveEffect, ApiError> {
    if from_id == to_id {
        return Err(ApiError::precondition(
            "ALREADY_IN_STAGE",
            "stage_id",
            "the deal is already in this stage",
        ));
    }
    let reason = lost_reason.trim();
    let lost_reason = if to == StageKind::Lost {
        if reason.is_empty() {
            return Err(ApiError::invalid(
                "lost_reason",
                "is required to move a deal to the LOST stage",
            ));
        }
        if reason.chars().count() > MAX_LOST_REASON {
            return Err(ApiError::invalid(
                "lost_reason",
                format!("must be at most {MAX_LOST_REASON} characters"),
            ));
        }
        Some(reason.to_owned())
    } else {
        None
    };
    Ok(MoveEffect {
        status: DealStatus::of(to),
        lost_reason,
        closes: to != StageKind::Open,
        reopens: from != StageKind::Open && to == StageKind::Open,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_to_the_lost_stage_without_a_reason_is_rejected() {
        let err = plan_move("a", StageKind::Open, "l", StageKind::Lost, "  ").unwrap_err();
        assert!(matches!(err, ApiError::InvalidArgument(v) if v[0].field == "lost_reason"));
    }

    #[test]
    fn moving_to_the_lost_stage_with_a_reason_closes_the_deal() {
        let effect = plan_move("a", StageKind::Open, "l", StageKind::Lost, "budget cut").unwrap();
        assert_eq!(effect.status, DealStatus::Lost);
        assert_eq!(effect.lost_reason.as_deref(), Some("budget cut"));
        assert!(effect.closes && !effect.reopens);
    }

    #[test]
    fn moving_a_won_deal_back_to_an_open_stage_reopens_it() {
        let effect = plan_move("w", StageKind::Won, "a", StageKind::Open, "").unwrap();
        assert_eq!(effect.status, DealStatus::Open);
        assert!(effect.reopens && !effect.closes);
        assert_eq!(effect.lost_reason, None);
    }

    #[test]
    fn moving_between_open_stages_neither_closes_nor_reopens() {
        let effect = plan_move("a", StageKind::Open, "b", StageKind::Open, "ignored").unwrap();
        assert!(!effect.closes && !effect.reopens);
        assert_eq!(effect.lost_reason, None);
    }

    #[test]
    fn moving_to_the_current_stage_is_a_failed_precondition() {
        let err = plan_move("a", StageKind::Open, "a", StageKind::Open, "").unwrap_err();
        assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    }
}
