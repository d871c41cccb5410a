//! Which resource, namespace, name and subresource a resource URL names.

use corekube_api::{kinds, ApiError, ResourceDef};

/// A parsed resource path under `/api/v1` or `/apis/{group}/{version}`.
#[derive(Debug)]
pub struct Target {
    pub def: &'static ResourceDef,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

/// Parses the segments after the group-version. Namespaced resources may be addressed across
/// all namespaces (`/api/v1/pods`) for list and watch; the caller checks the verb.
pub fn parse(group: &str, version: &str, rest: &[&str]) -> Result<Target, ApiError> {
    let find = |plural: &str| kinds::find(group, version, plural).ok_or(ApiError::PathNotFound);
    let (namespace, rest): (Option<String>, &[&str]) = match rest {
        // `namespaces/{ns}` and `namespaces/{ns}/{status|finalize}` address the Namespace itself.
        ["namespaces", ns, sub @ ..] if group.is_empty() && (sub.is_empty() || matches!(sub, ["status"] | ["finalize"])) => {
            let def = find("namespaces")?;
            return Ok(Target { def, namespace: None, name: Some(ns.to_string()), subresource: sub.first().map(|s| s.to_string()) });
        }
        ["namespaces", ns, rest @ ..] => (Some(ns.to_string()), rest),
        _ => (None, rest),
    };
    let (def, name, subresource) = match rest {
        [plural] => (find(plural)?, None, None),
        [plural, name] => (find(plural)?, Some(name.to_string()), None),
        [plural, name, sub] => (find(plural)?, Some(name.to_string()), Some(sub.to_string())),
        _ => return Err(ApiError::PathNotFound),
    };
    if namespace.is_some() && !def.namespaced {
        return Err(ApiError::PathNotFound);
    }
    if let Some(sub) = &subresource {
        if def.subresource(sub).is_none() {
            return Err(ApiError::PathNotFound);
        }
    }
    if name.as_deref() == Some("") || namespace.as_deref() == Some("") {
        return Err(ApiError::PathNotFound);
    }
    Ok(Target { def, namespace, name, subresource })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let t = parse("", "v1", &["namespaces", "default", "pods", "web", "status"]).unwrap();
        assert_eq!((t.def.plural, t.namespace.as_deref(), t.name.as_deref(), t.subresource.as_deref()), ("pods", Some("default"), Some("web"), Some("status")));
        let t = parse("", "v1", &["namespaces", "kube-system"]).unwrap();
        assert_eq!((t.def.plural, t.name.as_deref()), ("namespaces", Some("kube-system")));
        let t = parse("", "v1", &["namespaces", "x", "finalize"]).unwrap();
        assert_eq!(t.subresource.as_deref(), Some("finalize"));
        let t = parse("", "v1", &["namespaces"]).unwrap();
        assert!(t.name.is_none());
        let t = parse("", "v1", &["pods"]).unwrap();
        assert!(t.namespace.is_none());
        let t = parse("apps", "v1", &["namespaces", "d", "deployments"]).unwrap();
        assert_eq!(t.def.kind, "Deployment");
        assert!(parse("", "v1", &["namespaces", "x", "nodes"]).is_err());
        assert!(parse("", "v1", &["bogus"]).is_err());
        assert!(parse("", "v1", &["pods", "a", "exec2"]).is_err());
        assert!(parse("", "v1", &["namespaces", "x", "pods", "a", "b", "c"]).is_err());
    }
}
