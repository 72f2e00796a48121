//! The analytics service (being written).
