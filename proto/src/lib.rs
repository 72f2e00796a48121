//! The suite's v1 protobuf contracts, generated from `proto/crm/**` at build
//! time. The `.proto` files are the documentation; this crate exposes the
//! generated types, clients and servers, the descriptor set that server
//! reflection serves, and [`money`]: the contract's own rule for
//! `crm.common.v1.Money` and minor units, which every service shares.
#![forbid(unsafe_code)]
#![allow(clippy::all, missing_docs)]

pub mod money;

/// The encoded `FileDescriptorSet` of every contract, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/crm_descriptor.bin"));

/// `crm.common.v1`: Money, Date and the shared enums.
pub mod common {
    /// Version 1.
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/crm.common.v1.rs"));
    }
}

/// `crm.contacts.v1`: ContactsService.
pub mod contacts {
    /// Version 1.
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/crm.contacts.v1.rs"));
    }
}

/// `crm.pipeline.v1`: PipelineService.
pub mod pipeline {
    /// Version 1.
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/crm.pipeline.v1.rs"));
    }
}

/// `crm.events.v1`: the event envelope and every payload on the bus.
pub mod events {
    /// Version 1.
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/crm.events.v1.rs"));
    }
}

/// `crm.tasks.v1`: TasksService.
pub mod tasks {
    /// Version 1.
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/crm.tasks.v1.rs"));
    }
}

/// `crm.analytics.v1`: AnalyticsService.
pub mod analytics {
    /// Version 1.
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/crm.analytics.v1.rs"));
    }
}
