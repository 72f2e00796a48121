//! The tasks service (being written).
