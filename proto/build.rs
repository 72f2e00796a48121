//! Compiles the contracts with protox (a pure-Rust protobuf compiler, so no
//! system `protoc` is needed) and generates the prost messages and tonic
//! clients and servers. The descriptor set is kept for server reflection.

use std::{env, fs, path::PathBuf};

use prost::Message;

const PROTOS: &[&str] = &[
    "crm/common/v1/common.proto",
    "crm/common/v1/fields.proto",
    "crm/contacts/v1/contacts.proto",
    "crm/pipeline/v1/pipeline.proto",
    "crm/tasks/v1/tasks.proto",
    "crm/analytics/v1/analytics.proto",
    "crm/events/v1/events.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    let fds = protox::compile(PROTOS, ["."])?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(out.join("crm_descriptor.bin"), fds.encode_to_vec())?;
    // `Name` impls let the outbox wrap payloads in `google.protobuf.Any`.
    let mut config = prost_build::Config::new();
    config.enable_type_names();
    // Custom values in key order, so replies and events are deterministic.
    config.btree_map(["."]);
    tonic_prost_build::configure().compile_fds_with_config(fds, config)?;
    Ok(())
}
