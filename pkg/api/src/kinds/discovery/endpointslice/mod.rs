//! discovery.k8s.io/v1 EndpointSlice: ports default to TCP and an empty name; upstream's
//! validation, printer (NAME, ADDRESSTYPE, PORTS, ENDPOINTS, AGE) and field labels (only
//! `metadata.name` and `metadata.namespace`); generation counts every change beyond metadata
//! and to labels, as upstream's strategy does (a slice has no spec).

mod table;
mod validation;

use k8s_openapi::api::discovery::v1 as discovery;
use serde_json::{json, Map, Value};

use crate::decode::typed;
use crate::kinds::{Behaviour, ResourceDef, ALL_VERBS};
use crate::table::Printer;
use crate::validation::{FieldError, Op};

pub static DEF: ResourceDef = ResourceDef {
    group: "discovery.k8s.io", version: "v1", kind: "EndpointSlice", plural: "endpointslices", singular: "endpointslice",
    namespaced: true, short_names: &[], categories: &[], verbs: ALL_VERBS, subresources: &[],
    storage_resource: "endpointslices", field_labels: &[],
    codec: typed::<discovery::EndpointSlice>,
    behaviour: &EndpointSlice,
};

#[derive(Debug)]
pub struct EndpointSlice;

impl Behaviour for EndpointSlice {
    // `SetDefaults_EndpointPort`.
    fn defaults(&self, obj: &mut Map<String, Value>) {
        let Some(ports) = obj.get_mut("ports").and_then(Value::as_array_mut) else { return };
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            if port.get("name").is_none_or(Value::is_null) {
                port.insert("name".into(), json!(""));
            }
            if port.get("protocol").is_none_or(Value::is_null) {
                port.insert("protocol".into(), json!("TCP"));
            }
        }
    }

    fn validate(&self, obj: &Value, op: Op) -> Vec<FieldError> {
        crate::validation::typed::<discovery::EndpointSlice>(
            obj,
            op,
            validation::validate_endpoint_slice,
            validation::validate_endpoint_slice_update,
            validation::validate_endpoint_slice_update,
        )
    }

    fn printer(&self) -> Option<&'static Printer> {
        Some(&table::PRINTER)
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    fn spec_changed(&self, new: &Value, old: &Value) -> bool {
        let (Some(n), Some(o)) = (new.as_object(), old.as_object()) else { return new != old };
        let fields = |m: &Map<String, Value>| m.keys().filter(|k| k.as_str() != "metadata").count();
        fields(n) != fields(o)
            || n.iter().any(|(k, v)| k != "metadata" && o.get(k) != Some(v))
            || new.pointer("/metadata/labels") != old.pointer("/metadata/labels")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_default_to_tcp_and_an_empty_name() {
        let mut obj = json!({"ports": [{"port": 80}, {"name": "dns", "protocol": "UDP", "port": 53}]});
        EndpointSlice.defaults(obj.as_object_mut().unwrap());
        assert_eq!(obj["ports"], json!([{"name": "", "protocol": "TCP", "port": 80}, {"name": "dns", "protocol": "UDP", "port": 53}]));
    }

    #[test]
    fn generation_follows_everything_but_metadata_and_labels_too() {
        let old = json!({"metadata": {"name": "s", "labels": {"a": "1"}}, "addressType": "IPv4", "endpoints": []});
        let mut new = old.clone();
        new["metadata"]["annotations"] = json!({"x": "y"});
        assert!(!EndpointSlice.spec_changed(&new, &old));
        new["metadata"]["labels"]["a"] = json!("2");
        assert!(EndpointSlice.spec_changed(&new, &old));
        let mut new = old.clone();
        new["endpoints"] = json!([{"addresses": ["10.0.0.1"]}]);
        assert!(EndpointSlice.spec_changed(&new, &old));
    }
}
