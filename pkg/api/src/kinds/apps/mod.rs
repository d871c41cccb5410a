//! apps/v1: the workload controllers' kinds.

pub mod deployment;
pub mod replicaset;
// What the workload kinds share (upstream's `pkg/apis/apps/validation` and printers): selector and
// template rules, replica counts, the scale subresource's printer.
mod table;
pub mod validation;

use crate::kinds::{SubresourceDef, STATUS_VERBS};

/// `scale`, served by both workload kinds.
pub(crate) const SCALE: SubresourceDef =
    SubresourceDef { name: "scale", group: "autoscaling", version: "v1", kind: "Scale", verbs: STATUS_VERBS, printer: Some(&table::SCALE) };
