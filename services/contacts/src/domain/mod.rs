//! The contacts domain: requests parsed into valid values ("parse, don't
//! validate"), and the rules that decide what a change does. No I/O here.

pub mod activity;
pub mod company;
pub mod contact;
pub mod listing;
pub mod mask;
pub mod merge;
