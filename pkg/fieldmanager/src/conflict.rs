//! Apply conflicts and their rendering as upstream's 409 Status: the message
//! (`Apply failed with 1 conflict: conflict with "mgr" using apps/v1: .spec.replicas`) and one
//! `FieldManagerConflict` cause per conflicting field.

use std::fmt;

use crate::element::Path;
use crate::fieldset::FieldSet;
use crate::managed::{identifier_parts, UPDATE};

/// A field the applier sets to a different value than another manager owns it with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The other manager's identifier (see [`crate::manager_identifier`]).
    pub manager: String,
    pub path: Path,
}

/// One cause of the 409 Status: `type` is always `FieldManagerConflict`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConflictCause {
    /// `conflict with "kubectl-client-side-apply" using apps/v1`
    pub message: String,
    /// `.spec.replicas`
    pub field: String,
}

/// The conflicts of one apply, ordered by manager identifier then path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflicts(pub Vec<Conflict>);

/// The cause type of every conflict cause.
pub const CAUSE_TYPE_FIELD_MANAGER_CONFLICT: &str = "FieldManagerConflict";

/// How upstream names a manager in conflict messages: `"kubectl"`,
/// `"kube-controller-manager" using apps/v1`, `"kubelet" with subresource "status" using v1`.
pub fn print_manager(id: &str) -> String {
    let Some((manager, operation, api_version, subresource)) = identifier_parts(id) else {
        return format!("{id:?}");
    };
    let mut s = corekube_api::quote::go_quote(&manager);
    if !subresource.is_empty() {
        s = format!("{s} with subresource {}", corekube_api::quote::go_quote(&subresource));
    }
    if operation == UPDATE {
        s = format!("{s} using {api_version}");
    }
    s
}

impl Conflicts {
    pub(crate) fn from_sets(sets: &[(String, FieldSet)]) -> Conflicts {
        let mut out = Vec::new();
        for (manager, set) in sets {
            out.extend(set.paths().into_iter().map(|path| Conflict { manager: manager.clone(), path }));
        }
        Conflicts(out)
    }

    /// The Status message.
    pub fn message(&self) -> String {
        if let [c] = self.0.as_slice() {
            return format!("Apply failed with 1 conflict: conflict with {}: {}", print_manager(&c.manager), c.path);
        }
        let mut managers: Vec<&String> = self.0.iter().map(|c| &c.manager).collect();
        managers.sort();
        managers.dedup();
        let mut lines = Vec::new();
        for m in managers {
            lines.push(format!("conflicts with {}:", print_manager(m)));
            lines.extend(self.0.iter().filter(|c| &c.manager == m).map(|c| format!("- {}", c.path)));
        }
        format!("Apply failed with {} conflicts: {}", self.0.len(), lines.join("\n"))
    }

    /// The Status causes, one per conflict.
    pub fn causes(&self) -> Vec<ConflictCause> {
        self.0
            .iter()
            .map(|c| ConflictCause { message: format!("conflict with {}", print_manager(&c.manager)), field: c.path.to_string() })
            .collect()
    }

    /// The conflicting paths.
    pub fn to_set(&self) -> FieldSet {
        FieldSet::from_paths(self.0.iter().map(|c| c.path.clone()))
    }
}

impl fmt::Display for Conflicts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for Conflicts {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::managed::{manager_identifier, APPLY};

    #[test]
    fn messages_as_upstream() {
        let csa = manager_identifier("kubectl-client-side-apply", UPDATE, "apps/v1", "");
        let one = Conflicts(vec![Conflict { manager: csa.clone(), path: Path::fields(&["spec", "replicas"]) }]);
        assert_eq!(one.message(), r#"Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas"#);
        assert_eq!(
            one.causes(),
            [ConflictCause { message: r#"conflict with "kubectl-client-side-apply" using apps/v1"#.into(), field: ".spec.replicas".into() }]
        );
        let other = manager_identifier("other", APPLY, "apps/v1", "");
        let status = manager_identifier("kubelet", UPDATE, "v1", "status");
        let many = Conflicts(vec![
            Conflict { manager: other.clone(), path: Path::fields(&["spec", "replicas"]) },
            Conflict { manager: other, path: Path::fields(&["metadata", "labels", "app"]) },
            Conflict { manager: status, path: Path::fields(&["status", "phase"]) },
        ]);
        assert_eq!(
            many.message(),
            "Apply failed with 3 conflicts: conflicts with \"kubelet\" with subresource \"status\" using v1:\n- .status.phase\nconflicts with \"other\":\n- .spec.replicas\n- .metadata.labels.app"
        );
    }
}
