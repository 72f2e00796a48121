//! sea-orm queries. Every function takes the caller's tenant and filters by
//! it, and takes `&impl ConnectionTrait` so it runs inside a transaction.

pub mod deals;
pub mod pipelines;

/// A pipeline with its stages in board order.
#[derive(Clone, Debug)]
pub struct PipelineWithStages {
    /// The pipeline row.
    pub pipeline: crate::entity::pipeline::Model,
    /// Its stages, by position.
    pub stages: Vec<crate::entity::stage::Model>,
}

impl PipelineWithStages {
    /// The stage with `id`, if it belongs to this pipeline.
    pub fn stage(&self, id: &str) -> Option<&crate::entity::stage::Model> {
        self.stages.iter().find(|s| s.id == id)
    }
}
