//! Resource names and quantities: container requests and limits, node capacity, PVC storage.
//!
//! Skipped from upstream: hugepage divisibility and pod-level resources.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;

use super::field::{FieldError, Path};
use super::names;
use super::quantity::{self, Quantity};

const STANDARD_CONTAINER: &[&str] = &["cpu", "memory", "ephemeral-storage"];
const STANDARD: &[&str] = &[
    "cpu",
    "memory",
    "ephemeral-storage",
    "storage",
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "services.nodeports",
    "services.loadbalancers",
    "requests.cpu",
    "requests.memory",
    "requests.storage",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
];
const INTEGER: &[&str] = &[
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "services.nodeports",
    "services.loadbalancers",
];

pub fn is_hugepages(name: &str) -> bool {
    name.starts_with("hugepages-")
}

pub fn is_native(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

pub fn is_extended(name: &str) -> bool {
    !is_native(name) && !name.starts_with("requests.") && names::is_qualified_name(&format!("requests.{name}")).is_empty()
}

/// Native resources other than hugepages may have requests below limits.
pub fn overcommit_allowed(name: &str) -> bool {
    is_native(name) && !is_hugepages(name)
}

fn is_integer_resource(name: &str) -> bool {
    INTEGER.contains(&name) || name.starts_with("count/") || is_extended(name)
}

fn is_standard(name: &str) -> bool {
    STANDARD.contains(&name) || is_hugepages(name) || name.starts_with("requests.hugepages-")
}

/// Parses a quantity, reporting the decode error upstream would have given at this field.
pub fn parse(q: &ApiQuantity, path: &Path) -> Result<Quantity, FieldError> {
    quantity::parse(&q.0).map_err(|e| FieldError::invalid(path, &q.0, e))
}

/// `ValidateResourceQuantityValue`: not negative, and whole for integer resources.
pub fn quantity_value(name: &str, q: &Quantity, path: &Path) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if q.is_negative() {
        errs.push(FieldError::invalid(path, q.canonical(), "must be greater than or equal to 0"));
    }
    if is_integer_resource(name) && !q.is_integer() {
        errs.push(FieldError::invalid(path, q.canonical(), "must be an integer"));
    }
    errs
}

/// `validateContainerResourceName`.
pub fn container_resource_name(name: &str, path: &Path) -> Vec<FieldError> {
    let mut errs: Vec<FieldError> = names::is_qualified_name(name).into_iter().map(|m| FieldError::invalid(path, name, m)).collect();
    if !errs.is_empty() {
        return errs;
    }
    if !name.contains('/') {
        if !is_standard(name) {
            errs.push(FieldError::invalid(path, name, "must be a standard resource type or fully qualified"));
        }
        if !STANDARD_CONTAINER.contains(&name) && !is_hugepages(name) {
            errs.push(FieldError::invalid(path, name, "must be a standard resource for containers"));
        }
    } else if !is_native(name) && !is_extended(name) {
        errs.push(FieldError::invalid(path, name, "doesn't follow extended resource name standard"));
    }
    errs
}

type ResourceList = BTreeMap<String, ApiQuantity>;

/// `ValidateResourceRequirements` for a container's limits and requests.
pub fn validate_requirements(limits: Option<&ResourceList>, requests: Option<&ResourceList>, path: &Path) -> Vec<FieldError> {
    let (lim_path, req_path) = (path.child("limits"), path.child("requests"));
    let mut errs = Vec::new();
    let mut parsed_limits = BTreeMap::new();
    let (mut cpu_or_memory, mut hugepages) = (false, false);
    for (name, q) in limits.into_iter().flatten() {
        let p = lim_path.key(name);
        errs.extend(container_resource_name(name, &p));
        match parse(q, &p) {
            Ok(q) => {
                errs.extend(quantity_value(name, &q, &p));
                parsed_limits.insert(name.as_str(), q);
            }
            Err(e) => errs.push(e),
        }
        hugepages |= is_hugepages(name);
        cpu_or_memory |= name == "cpu" || name == "memory";
    }
    for (name, q) in requests.into_iter().flatten() {
        let p = req_path.key(name);
        errs.extend(container_resource_name(name, &p));
        let q = match parse(q, &p) {
            Ok(q) => q,
            Err(e) => {
                errs.push(e);
                continue;
            }
        };
        errs.extend(quantity_value(name, &q, &p));
        match parsed_limits.get(name.as_str()) {
            Some(limit) if q != *limit && !overcommit_allowed(name) => {
                errs.push(FieldError::invalid(&req_path, q.canonical(), format!("must be equal to {name} limit of {}", limit.canonical())))
            }
            Some(limit) if q > *limit => errs.push(FieldError::invalid(
                &req_path,
                q.canonical(),
                format!("must be less than or equal to {name} limit of {}", limit.canonical()),
            )),
            None if !overcommit_allowed(name) && !limits.is_some_and(|l| l.contains_key(name)) => {
                errs.push(FieldError::required(&lim_path, "Limit must be set for non overcommitable resources"))
            }
            _ => {}
        }
        hugepages |= is_hugepages(name);
        cpu_or_memory |= name == "cpu" || name == "memory";
    }
    if hugepages && !cpu_or_memory {
        errs.push(FieldError::forbidden(path, "HugePages require cpu or memory"));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(pairs: &[(&str, &str)]) -> ResourceList {
        pairs.iter().map(|(k, v)| (k.to_string(), ApiQuantity(v.to_string()))).collect()
    }

    fn run(limits: &[(&str, &str)], requests: &[(&str, &str)]) -> Vec<String> {
        let p = Path::of(&["spec", "containers"]).index(0).child("resources");
        validate_requirements(Some(&list(limits)), Some(&list(requests)), &p).iter().map(|e| e.to_string()).collect()
    }

    /// (limits, requests, the errors)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [(&'a str, &'a str)], Vec<String>);

    #[test]
    fn requirement_cases() {
        let r = "spec.containers[0].resources";
        let cases: Vec<Case> = vec![
            (&[("cpu", "1"), ("memory", "1Gi")], &[("cpu", "500m"), ("memory", "512Mi")], vec![]),
            (
                &[("cpu", "1")],
                &[("cpu", "2")],
                vec![format!("{r}.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1")],
            ),
            (
                &[("memory", "1Gi")],
                &[("memory", "2048Mi")],
                vec![format!("{r}.requests: Invalid value: \"2Gi\": must be less than or equal to memory limit of 1Gi")],
            ),
            (&[("cpu", "-1")], &[], vec![format!("{r}.limits[cpu]: Invalid value: \"-1\": must be greater than or equal to 0")]),
            (&[("cpu", "lots")], &[], vec![format!("{r}.limits[cpu]: Invalid value: \"lots\": {}", quantity::FORMAT_ERROR)]),
            (
                &[],
                &[("foo", "1")],
                vec![
                    format!("{r}.requests[foo]: Invalid value: \"foo\": must be a standard resource type or fully qualified"),
                    format!("{r}.requests[foo]: Invalid value: \"foo\": must be a standard resource for containers"),
                ],
            ),
            (
                &[],
                &[("storage", "1")],
                vec![format!("{r}.requests[storage]: Invalid value: \"storage\": must be a standard resource for containers")],
            ),
            (
                &[("example.com/gpu", "1")],
                &[("example.com/gpu", "2")],
                vec![format!("{r}.requests: Invalid value: \"2\": must be equal to example.com/gpu limit of 1")],
            ),
            (
                &[],
                &[("example.com/gpu", "1")],
                vec![format!("{r}.limits: Required value: Limit must be set for non overcommitable resources")],
            ),
            (
                &[("example.com/gpu", "500m")],
                &[],
                vec![format!("{r}.limits[example.com/gpu]: Invalid value: \"500m\": must be an integer")],
            ),
            (&[("hugepages-2Mi", "2Mi")], &[], vec![format!("{r}: Forbidden: HugePages require cpu or memory")]),
        ];
        for (limits, requests, want) in cases {
            assert_eq!(run(limits, requests), want, "{limits:?} {requests:?}");
        }
    }
}
