//! Upstream's pod field labels (`PodToSelectableFields`): what `--field-selector` may name.

use crate::kinds::{field, field_or, FieldLabel};

pub(super) const FIELDS: &[FieldLabel] = &[
    field("spec.nodeName", "spec.nodeName"),
    field("spec.restartPolicy", "spec.restartPolicy"),
    field("spec.schedulerName", "spec.schedulerName"),
    field("spec.serviceAccountName", "spec.serviceAccountName"),
    field_or("spec.hostNetwork", "spec.hostNetwork", "false"),
    field("status.phase", "status.phase"),
    field("status.podIP", "status.podIP"),
    field("status.nominatedNodeName", "status.nominatedNodeName"),
];
