//! Fields the field manager never tracks: the type and identity metadata every write carries
//! (upstream's stripMetaManager), and the per-resource reset fields (a main-resource write does
//! not own `.status`, a status write does not own `.spec`; upstream's `GetResetFields`).

use crate::element::Path;
use crate::fieldset::FieldSet;

/// `apiVersion`, `kind`, `metadata` itself and the server-managed metadata fields.
pub fn strip_set() -> &'static FieldSet {
    static SET: std::sync::OnceLock<FieldSet> = std::sync::OnceLock::new();
    SET.get_or_init(build_strip_set)
}

fn build_strip_set() -> FieldSet {
    let mut s = FieldSet::from_paths([Path::fields(&["apiVersion"]), Path::fields(&["kind"]), Path::fields(&["metadata"])]);
    for f in ["name", "namespace", "creationTimestamp", "selfLink", "uid", "clusterName", "generation", "managedFields", "resourceVersion"] {
        s.insert(&Path::fields(&["metadata", f]));
    }
    s
}

/// The reset fields of a write to `kind` (group as in the apiVersion, "" for core) through
/// `subresource` ("" or "status"), for a kind that has a status subresource or not: writes to
/// the main resource ignore `.status`, status writes ignore `.spec` (pods' status writes also
/// `.metadata.deletionTimestamp` and `.metadata.ownerReferences`). Kinds without a status
/// subresource reset nothing.
pub fn reset_fields(group: &str, kind: &str, subresource: &str, has_status_subresource: bool) -> FieldSet {
    if !has_status_subresource {
        return FieldSet::new();
    }
    match subresource {
        "" => FieldSet::from_paths([Path::fields(&["status"])]),
        "status" => {
            let mut s = FieldSet::from_paths([Path::fields(&["spec"])]);
            if group.is_empty() && kind == "Pod" {
                s.insert(&Path::fields(&["metadata", "deletionTimestamp"]));
                s.insert(&Path::fields(&["metadata", "ownerReferences"]));
            }
            s
        }
        _ => FieldSet::new(),
    }
}
