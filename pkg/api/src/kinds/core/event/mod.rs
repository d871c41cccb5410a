//! core/v1 Event: validation, printer and upstream's event field labels. The garbage collector's
//! finalizers never apply to events.

pub(crate) mod table;
pub mod validation;

use k8s_openapi::api::core::v1 as core;
use serde_json::{Map, Value};

use crate::decode::typed;
use crate::kinds::{field, FieldLabel, ALL_VERBS, Behaviour, ResourceDef};
use crate::table::Printer;
use crate::validation::{FieldError, Op};

const FIELDS: &[FieldLabel] = &[
    field("involvedObject.kind", "involvedObject.kind"),
    field("involvedObject.namespace", "involvedObject.namespace"),
    field("involvedObject.name", "involvedObject.name"),
    field("involvedObject.uid", "involvedObject.uid"),
    field("involvedObject.apiVersion", "involvedObject.apiVersion"),
    field("involvedObject.resourceVersion", "involvedObject.resourceVersion"),
    field("involvedObject.fieldPath", "involvedObject.fieldPath"),
    field("reason", "reason"),
    field("reportingComponent", "reportingComponent"),
    field("source", "source.component"),
    field("type", "type"),
];

pub static DEF: ResourceDef = ResourceDef {
    group: "", version: "v1", kind: "Event", plural: "events", singular: "event", namespaced: true,
    short_names: &["ev"], categories: &[], verbs: ALL_VERBS, subresources: &[],
    storage_resource: "events", field_labels: FIELDS,
    codec: typed::<core::Event>,
    behaviour: &Event,
};

#[derive(Debug)]
pub struct Event;

impl Behaviour for Event {
    fn defaults(&self, _obj: &mut Map<String, Value>) {}

    fn validate(&self, obj: &Value, op: Op) -> Vec<FieldError> {
        crate::validation::typed::<core::Event>(obj, op, validation::validate_event, validation::validate_event_update, validation::validate_event_update)
    }

    fn printer(&self) -> Option<&'static Printer> {
        Some(&table::PRINTER)
    }

    fn garbage_collected(&self) -> bool {
        false
    }

}
