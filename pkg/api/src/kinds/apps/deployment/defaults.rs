//! Deployment defaults (upstream `SetDefaults_Deployment`): replicas, rolling update, history, deadline, the template's pod defaults.

use serde_json::{json, Value};

use crate::defaults::{set_if_missing, set_if_zero, value_struct, Object};

pub(super) fn default_deployment(deployment: &mut Object) {
    let Some(spec) = value_struct(deployment, "spec") else { return };
    set_if_missing(spec, "replicas", json!(1));
    if let Some(strategy) = value_struct(spec, "strategy") {
        set_if_zero(strategy, "type", json!("RollingUpdate"));
        // A Recreate strategy has no rolling parameters to fill in.
        if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
            if let Some(rolling_update) = value_struct(strategy, "rollingUpdate") {
                set_if_missing(rolling_update, "maxUnavailable", json!("25%"));
                set_if_missing(rolling_update, "maxSurge", json!("25%"));
            }
        }
    }
    set_if_missing(spec, "revisionHistoryLimit", json!(10));
    set_if_missing(spec, "progressDeadlineSeconds", json!(600));
    if let Some(template) = value_struct(spec, "template") {
        crate::kinds::core::pod::defaults::default_pod_template(template);
    }
}
