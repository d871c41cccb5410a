//! core/v1 Namespace: created Active with the `kubernetes` finalizer; deleting one marks it
//! Terminating until the namespace controller has emptied it; the system namespaces cannot be
//! deleted.

mod defaults;
mod strategy;
mod table;
pub mod validation;

use k8s_openapi::api::core::v1 as core;
use serde_json::{Map, Value};

use crate::decode::typed;
use crate::kinds::{field, status_of, Behaviour, DeletePlan, ResourceDef, SubresourceDef, NO_COLLECTION_DELETE};
use crate::table::Printer;
use crate::validation::{FieldError, Op};

pub use strategy::{is_protected_namespace, is_terminating};

pub static DEF: ResourceDef = ResourceDef {
    group: "", version: "v1", kind: "Namespace", plural: "namespaces", singular: "namespace", namespaced: false,
    short_names: &["ns"], categories: &[], verbs: NO_COLLECTION_DELETE,
    subresources: &[
        status_of("", "v1", "Namespace"),
        SubresourceDef { name: "finalize", group: "", version: "v1", kind: "Namespace", verbs: &["update"], printer: None },
    ],
    storage_resource: "namespaces", field_labels: &[field("status.phase", "status.phase")],
    codec: typed::<core::Namespace>,
    behaviour: &Namespace,
};

#[derive(Debug)]
pub struct Namespace;

fn has_spec_finalizers(ns: &Value) -> bool {
    ns.pointer("/spec/finalizers").and_then(|f| f.as_array()).is_some_and(|f| !f.is_empty())
}

impl Behaviour for Namespace {
    fn defaults(&self, obj: &mut Map<String, Value>) {
        defaults::default_namespace(obj);
    }

    fn validate(&self, obj: &Value, op: Op) -> Vec<FieldError> {
        crate::validation::typed::<core::Namespace>(obj, op, validation::validate_namespace, validation::validate_namespace_update, validation::validate_namespace_status_update)
    }

    fn printer(&self) -> Option<&'static Printer> {
        Some(&table::PRINTER)
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        strategy::prepare_for_create(obj);
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        strategy::prepare_for_update(new, old);
    }

    fn delete_forbidden(&self, name: &str) -> Option<String> {
        is_protected_namespace(name).then(|| format!("namespaces \"{name}\" is forbidden: this namespace may not be deleted"))
    }

    // A namespace already terminating is being emptied; upstream answers a second delete with a
    // Conflict until its content is gone (the namespace controller then finalizes it).
    fn delete_conflict(&self, old: &Value) -> Option<String> {
        (crate::meta::deletion_timestamp(old).is_some() && has_spec_finalizers(old)).then(|| {
            "The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system.".to_string()
        })
    }

    fn delete_plan(&self, obj: &Value, _grace_seconds: Option<i64>) -> DeletePlan {
        strategy::delete_plan(obj)
    }

    fn mark_deleting(&self, obj: &mut Value, plan: DeletePlan) {
        if plan == DeletePlan::Terminate {
            obj["status"]["phase"] = "Terminating".into();
        }
    }

    // A namespace still waiting for its contents to be removed (spec.finalizers) is not done
    // even when metadata.finalizers is empty (upstream's `ShouldDeleteNamespaceDuringUpdate`).
    fn may_remove(&self, obj: &Value) -> bool {
        !has_spec_finalizers(obj)
    }
}
