//! The ownership bookkeeping of structured-merge-diff's `merge.Updater`: which manager owns
//! which fields after an update or an apply, the conflicts of an apply, and the removal of
//! fields an applier stopped applying ("prune").

use serde_json::Value;

use crate::conflict::Conflicts;
use crate::fieldset::FieldSet;
use crate::managed::{ManagedFields, VersionedSet};
use crate::merge::Comparison;
use crate::schema::{Schema, TypeRef};

/// One object type at one version, with the fields its writes ignore.
pub(crate) struct Updater<'s> {
    pub schema: &'s Schema,
    pub ty: &'s TypeRef,
    pub api_version: String,
    /// Reset fields: ignored, with everything below them, in comparisons and owned sets.
    pub ignored: &'s FieldSet,
}

impl Updater<'_> {
    /// Takes the fields that changed between `old` and `new` away from every manager but
    /// `workflow` (removed fields always; changed fields only with `force`, else they are
    /// conflicts). Managers left with nothing are dropped.
    fn update(&self, old: &Value, new: &Value, managed: &mut ManagedFields, workflow: &str, force: bool) -> Result<Comparison, Conflicts> {
        let compare = self.schema.compare(old, new, self.ty).exclude(self.ignored);
        let changed = compare.modified.union(&compare.added);
        let mut conflicts: Vec<(String, FieldSet)> = Vec::new();
        for (manager, vs) in &managed.fields {
            if manager == workflow {
                continue;
            }
            let c = vs.set.intersection(&changed);
            if !c.is_empty() {
                conflicts.push((manager.clone(), c));
            }
        }
        if !force && !conflicts.is_empty() {
            return Err(Conflicts::from_sets(&conflicts));
        }
        for (manager, c) in &conflicts {
            if let Some(vs) = managed.fields.get_mut(manager) {
                vs.set = vs.set.difference(c);
            }
        }
        if !compare.removed.is_empty() {
            for (manager, vs) in managed.fields.iter_mut() {
                if manager != workflow {
                    vs.set = vs.set.difference(&compare.removed);
                }
            }
        }
        managed.fields.retain(|_, vs| !vs.set.is_empty());
        Ok(compare)
    }

    /// An update by `manager`: it comes to own what it changed, on top of what it owned.
    pub fn update_object(&self, live: &Value, new: &Value, managed: &mut ManagedFields, manager: &str) {
        let compare = self.update(live, new, managed, manager, true).expect("forced updates do not conflict");
        let previous = managed.fields.get(manager).map(|vs| vs.set.clone()).unwrap_or_default();
        let set = previous
            .difference(&compare.removed)
            .union(&compare.modified)
            .union(&compare.added)
            .recursive_difference(self.ignored);
        if set.is_empty() {
            managed.fields.remove(manager);
        } else {
            managed.fields.insert(manager.to_string(), VersionedSet { set, api_version: self.api_version.clone(), applied: false });
        }
    }

    /// An apply of `config` by `manager`: the merged object, with the fields `manager` applied
    /// last time and no longer applies removed unless someone else owns them. `manager` comes
    /// to own exactly the fields of `config`.
    pub fn apply(&self, live: &Value, config: &Value, managed: &mut ManagedFields, manager: &str, force: bool) -> Result<Value, Conflicts> {
        let merged = self.schema.merge(Some(live), Some(config), self.ty).unwrap_or_else(|| serde_json::json!({}));
        let last = managed.fields.get(manager).map(|vs| vs.set.clone());
        let set = self
            .schema
            .to_field_set(config, self.ty, false)
            .unwrap_or_default()
            .recursive_difference(self.ignored);
        managed.fields.insert(manager.to_string(), VersionedSet { set, api_version: self.api_version.clone(), applied: true });
        let new = match last {
            Some(last) if !last.is_empty() => self.prune(&merged, managed, &last),
            _ => merged,
        };
        self.update(live, &new, managed, manager, force)?;
        Ok(new)
    }

    fn fields(&self, v: &Value) -> FieldSet {
        let set = self.schema.to_field_set(v, self.ty, true).unwrap_or_default();
        self.schema.ensure_named_fields_are_members(&set, self.ty)
    }

    fn remove(&self, v: &Value, set: &FieldSet) -> Value {
        self.schema.remove_items(v, set, self.ty).unwrap_or_else(|| serde_json::json!({}))
    }

    /// Removes what `last` held and nobody owns any more (upstream's prune, with its two
    /// add-back passes: items still owned by anyone, and items `last` never held).
    fn prune(&self, merged: &Value, managed: &ManagedFields, last: &FieldSet) -> Value {
        let last = self.schema.ensure_named_fields_are_members(last, self.ty);
        let pruned = self.remove(merged, &last);
        let owned = managed.fields.values().fold(FieldSet::new(), |acc, vs| acc.union(&vs.set));
        let owned = self.schema.ensure_named_fields_are_members(&owned, self.ty);
        let merged_set = self.fields(merged);
        let pruned = self.remove(merged, &merged_set.difference(&self.fields(&pruned).union(&owned)));
        self.remove(merged, &merged_set.difference(&self.fields(&pruned)).intersection(&last))
    }
}
