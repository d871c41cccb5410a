//! events.k8s.io/v1 Event: served from the core Events' storage, converted on the way in and out;
//! its own (stricter) validation, printer and field labels named after its schema.

pub(crate) mod convert;

use k8s_openapi::api::{core::v1 as core, events::v1 as events};
use serde_json::{Map, Value};

use crate::decode::typed;
use crate::kinds::{field, FieldLabel, ALL_VERBS, Behaviour, ResourceDef};
use crate::table::Printer;
use crate::validation::{self, FieldError, Op};

/// events.k8s.io names the same stored fields after its own schema.
const FIELDS: &[FieldLabel] = &[
    field("regarding.kind", "involvedObject.kind"),
    field("regarding.namespace", "involvedObject.namespace"),
    field("regarding.name", "involvedObject.name"),
    field("regarding.uid", "involvedObject.uid"),
    field("regarding.apiVersion", "involvedObject.apiVersion"),
    field("regarding.resourceVersion", "involvedObject.resourceVersion"),
    field("regarding.fieldPath", "involvedObject.fieldPath"),
    field("reason", "reason"),
    field("reportingController", "reportingComponent"),
    field("type", "type"),
    field("deprecatedSource.component", "source.component"),
];

pub static DEF: ResourceDef = ResourceDef {
    group: "events.k8s.io", version: "v1", kind: "Event", plural: "events", singular: "event", namespaced: true,
    short_names: &["ev"], categories: &[], verbs: ALL_VERBS, subresources: &[],
    storage_resource: "events", field_labels: FIELDS,
    codec: typed::<events::Event>,
    behaviour: &Event,
};

#[derive(Debug)]
pub struct Event;

impl Behaviour for Event {
    fn defaults(&self, _obj: &mut Map<String, Value>) {}

    fn validate(&self, obj: &Value, op: Op) -> Vec<FieldError> {
        use crate::kinds::core::event::validation as event;
        validation::typed::<core::Event>(obj, op, event::validate_event_strict, event::validate_event_update_strict, event::validate_event_update_strict)
    }

    fn printer(&self) -> Option<&'static Printer> {
        Some(&crate::kinds::core::event::table::EVENTS_V1_PRINTER)
    }

    fn garbage_collected(&self) -> bool {
        false
    }

    fn to_served(&self, stored: Value) -> Value {
        convert::core_to_events_v1(stored)
    }

    fn to_stored(&self, served: Value) -> Value {
        convert::events_v1_to_core(served)
    }

}
