//! Descriptor tables for every message the decoder knows, generated from the Kubernetes API definitions.

mod access;
mod apps;
mod batch;
mod core_containers;
mod core_nodes;
mod core_objects;
mod core_persistent_volumes;
mod core_pods;
mod core_volume_plugins;
mod core_volumes;
mod kinds;
mod meta;
mod small_groups;

#[cfg(test)]
pub(crate) use kinds::ALL_MESSAGES;
pub use kinds::KINDS;

use crate::descriptor::Message;

/// The message of a top-level object, by the apiVersion and kind its envelope names.
pub fn kind_message(api_version: &str, kind: &str) -> Option<&'static Message> {
    KINDS
        .iter()
        .find(|(version, k, _)| *k == kind && (*version == api_version || *version == "*"))
        .map(|(_, _, message)| *message)
}
