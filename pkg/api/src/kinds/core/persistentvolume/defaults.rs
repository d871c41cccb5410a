//! PersistentVolume defaults (upstream `SetDefaults_PersistentVolume`).

use serde_json::json;

use crate::defaults::{set_if_missing, set_if_zero, value_struct, Object};

pub(super) fn default_persistent_volume(volume: &mut Object) {
    if let Some(status) = value_struct(volume, "status") {
        set_if_zero(status, "phase", json!("Pending"));
    }
    let Some(spec) = value_struct(volume, "spec") else { return };
    set_if_zero(spec, "persistentVolumeReclaimPolicy", json!("Retain"));
    set_if_missing(spec, "volumeMode", json!("Filesystem"));
    crate::defaults::default_legacy_volume_sources(spec);
}
