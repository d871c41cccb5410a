//! What one kind does differently from the generic rules. Every registry entry points at one
//! value implementing [`Behaviour`]; the generic store, tables and validation ask it and never
//! name a kind. Every method has the generic answer as its default, so a kind implements only
//! what it changes.

use serde_json::{Map, Value};

use crate::table::Printer;
use crate::validation::{FieldError, Op};

/// What a DELETE does to an object that has no finalizers holding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeletePlan {
    /// Remove it from storage now.
    Immediate,
    /// Set deletionTimestamp this many seconds ahead; the node's kubelet removes it.
    Graceful(i64),
    /// Mark it Terminating; a controller empties and removes it.
    Terminate,
}

/// Upstream's mutating admission plugins that corekube has. A kind's behaviour names the ones
/// its creates go through; the API server runs them, since they read other objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// `Priority`: a pod's priority and preemptionPolicy from its PriorityClass.
    Priority,
    /// `DefaultTolerationSeconds`: the not-ready and unreachable tolerations.
    DefaultTolerationSeconds,
    /// `DefaultStorageClass`: a claim without a class gets the default one.
    DefaultStorageClass,
}

/// A kind's defaults, validation, printer and server-side strategy. Objects are the stored JSON
/// form (already normalised through the kind's k8s-openapi type).
pub trait Behaviour: Send + Sync + std::fmt::Debug {
    /// Upstream's defaulting, in place; never overwrites a set value.
    fn defaults(&self, _obj: &mut Map<String, Value>) {}

    /// Upstream's validation of a create, update or status write. Empty = valid.
    fn validate(&self, _obj: &Value, _op: Op) -> Vec<FieldError> {
        Vec::new()
    }

    /// Upstream's printer for `kubectl get`; None prints upstream's default table.
    fn printer(&self) -> Option<&'static Printer> {
        None
    }

    /// Whether `metadata.generation` counts spec changes (starting at 1).
    fn tracks_generation(&self) -> bool {
        false
    }

    /// Whether an update changes what the generation counts (for kinds that track it): the spec.
    fn spec_changed(&self, new: &Value, old: &Value) -> bool {
        new.get("spec") != old.get("spec")
    }

    /// Server-owned fields of a new object, after defaults (its initial status, ...).
    fn prepare_for_create(&self, _obj: &mut Value) {}

    /// What an update of the main resource keeps from `old` or derives, before defaults. The
    /// generic rules (status kept, server-owned metadata kept) apply after it.
    fn prepare_for_update(&self, _new: &mut Value, _old: &Value) {}

    /// Upstream's admission plugins this kind's creates go through, in order.
    fn admission(&self) -> &'static [Admission] {
        &[]
    }

    /// Why a DELETE of the object called `name` is refused (a 403 message), if it is.
    fn delete_forbidden(&self, _name: &str) -> Option<String> {
        None
    }

    /// Why another DELETE of an object already being deleted is a 409 (the detail), if it is.
    fn delete_conflict(&self, _old: &Value) -> Option<String> {
        None
    }

    /// What a DELETE does to the object once no finalizer holds it.
    fn delete_plan(&self, _obj: &Value, _grace_seconds: Option<i64>) -> DeletePlan {
        DeletePlan::Immediate
    }

    /// Changes a DELETE that keeps the object makes beyond its deletionTimestamp.
    fn mark_deleting(&self, _obj: &mut Value, _plan: DeletePlan) {}

    /// Whether an object with no finalizers left may leave storage (a namespace also waits for
    /// its spec.finalizers).
    fn may_remove(&self, _obj: &Value) -> bool {
        true
    }

    /// Whether the garbage collector's finalizers (orphan, foregroundDeletion) apply.
    fn garbage_collected(&self) -> bool {
        true
    }

    /// A stored object in the form this entry serves (only entries that serve another entry's
    /// storage, such as events.k8s.io events, convert).
    fn to_served(&self, stored: Value) -> Value {
        stored
    }

    /// A served-form object in its stored form, before the stored kind's codec normalises it.
    fn to_stored(&self, served: Value) -> Value {
        served
    }
}

/// The behaviour of a kind that follows every generic rule (upstream's default strategy).
#[derive(Debug)]
pub struct Generic;

impl Behaviour for Generic {}
