//! apps/v1: the workload controllers' kinds.

pub mod deployment;
pub mod replicaset;
