//! Resource quantities as integers, and pod requests / node allocatable computed as upstream.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Node, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

pub const CPU: &str = "cpu";
pub const MEMORY: &str = "memory";
pub const EPHEMERAL_STORAGE: &str = "ephemeral-storage";
pub const PODS: &str = "pods";

/// Scoring default for a container that requests no cpu (upstream `DefaultMilliCPURequest`).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// Scoring default for a container that requests no memory (upstream `DefaultMemoryRequest`).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

fn scaled(s: &str, scale: u32) -> Option<i64> {
    let q = corekube_api::validation::quantity::parse(s.trim()).ok()?;
    Some(q.ceil_scaled(scale).clamp(i64::MIN as i128, i64::MAX as i128) as i64)
}

/// The quantity in whole units, rounded up (upstream `Quantity.Value()`); `None` if malformed.
pub fn parse_value(s: &str) -> Option<i64> {
    scaled(s, 0)
}

/// The quantity in thousandths, rounded up (upstream `Quantity.MilliValue()`).
pub fn parse_milli(s: &str) -> Option<i64> {
    scaled(s, 3)
}

/// Requests or capacity in scheduler units: cpu in millicores, the rest in plain units.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resource {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    pub allowed_pod_number: i64,
    /// Extended and hugepages resources, by name.
    pub scalar: BTreeMap<String, i64>,
}

impl Resource {
    /// Builds from a resource list; malformed quantities count as zero.
    pub fn from_list(list: &BTreeMap<String, Quantity>) -> Resource {
        let mut r = Resource::default();
        for (name, q) in list {
            r.set(name, q);
        }
        r
    }

    fn set(&mut self, name: &str, q: &Quantity) {
        match name {
            CPU => self.milli_cpu = parse_milli(&q.0).unwrap_or(0),
            MEMORY => self.memory = parse_value(&q.0).unwrap_or(0),
            EPHEMERAL_STORAGE => self.ephemeral_storage = parse_value(&q.0).unwrap_or(0),
            PODS => self.allowed_pod_number = parse_value(&q.0).unwrap_or(0),
            other if is_scalar_resource(other) => {
                self.scalar.insert(other.to_string(), parse_value(&q.0).unwrap_or(0));
            }
            _ => {}
        }
    }

    pub fn add(&mut self, o: &Resource) {
        self.milli_cpu += o.milli_cpu;
        self.memory += o.memory;
        self.ephemeral_storage += o.ephemeral_storage;
        self.allowed_pod_number += o.allowed_pod_number;
        for (k, v) in &o.scalar {
            *self.scalar.entry(k.clone()).or_insert(0) += v;
        }
    }

    pub fn sub(&mut self, o: &Resource) {
        self.milli_cpu -= o.milli_cpu;
        self.memory -= o.memory;
        self.ephemeral_storage -= o.ephemeral_storage;
        self.allowed_pod_number -= o.allowed_pod_number;
        for (k, v) in &o.scalar {
            *self.scalar.entry(k.clone()).or_insert(0) -= v;
        }
    }

    /// Per-resource maximum (used for init containers).
    pub fn set_max(&mut self, o: &Resource) {
        self.milli_cpu = self.milli_cpu.max(o.milli_cpu);
        self.memory = self.memory.max(o.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(o.ephemeral_storage);
        for (k, v) in &o.scalar {
            let e = self.scalar.entry(k.clone()).or_insert(0);
            *e = (*e).max(*v);
        }
    }

    /// The amount of one named resource (cpu in millicores).
    pub fn get(&self, name: &str) -> i64 {
        match name {
            CPU => self.milli_cpu,
            MEMORY => self.memory,
            EPHEMERAL_STORAGE => self.ephemeral_storage,
            PODS => self.allowed_pod_number,
            other => self.scalar.get(other).copied().unwrap_or(0),
        }
    }
}

/// Extended resources (domain-qualified, not `kubernetes.io/`), hugepages and attachable volumes,
/// as upstream's `IsScalarResourceName`.
pub fn is_scalar_resource(name: &str) -> bool {
    name.starts_with("hugepages-")
        || name.starts_with("attachable-volumes-")
        || (name.contains('/') && !name.starts_with("kubernetes.io/") && !name.starts_with("requests."))
}

/// A container's requests; a resource with a limit but no request requests its limit, as the
/// apiserver's defaulting does.
fn container_requests(c: &Container, non_zero: bool) -> Resource {
    let mut r = Resource::default();
    let res = c.resources.as_ref();
    let requests = res.and_then(|r| r.requests.as_ref());
    let limits = res.and_then(|r| r.limits.as_ref());
    if let Some(limits) = limits {
        for (name, q) in limits {
            if requests.is_none_or(|req| !req.contains_key(name)) {
                r.set(name, q);
            }
        }
    }
    if let Some(requests) = requests {
        for (name, q) in requests {
            r.set(name, q);
        }
    }
    if non_zero {
        let has = |name: &str| {
            requests.is_some_and(|m| m.contains_key(name)) || limits.is_some_and(|m| m.contains_key(name))
        };
        if !has(CPU) {
            r.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
        }
        if !has(MEMORY) {
            r.memory = DEFAULT_MEMORY_REQUEST;
        }
    }
    r
}

/// The pod's effective requests, as upstream's `resourcehelper.PodRequests`: the sum of the
/// containers and restartable (sidecar) init containers, at least the largest need of any
/// regular init container (plus the sidecars started before it), plus `spec.overhead`.
/// With `non_zero`, a container that requests no cpu/memory counts 100m / 200Mi (for scoring).
pub fn pod_requests(pod: &Pod, non_zero: bool) -> Resource {
    let Some(spec) = pod.spec.as_ref() else { return Resource::default() };
    let mut reqs = Resource::default();
    for c in &spec.containers {
        reqs.add(&container_requests(c, non_zero));
    }
    let mut sidecars = Resource::default();
    let mut init_max = Resource::default();
    for c in spec.init_containers.iter().flatten() {
        let mut r = container_requests(c, non_zero);
        if c.restart_policy.as_deref() == Some("Always") {
            reqs.add(&r);
            sidecars.add(&r);
            r = sidecars.clone();
        } else {
            r.add(&sidecars);
        }
        init_max.set_max(&r);
    }
    reqs.set_max(&init_max);
    if let Some(overhead) = spec.overhead.as_ref() {
        reqs.add(&Resource::from_list(overhead));
    }
    reqs
}

/// What the node offers to pods: `status.allocatable`, falling back to `status.capacity`.
pub fn node_allocatable(node: &Node) -> Resource {
    let status = node.status.as_ref();
    match status.and_then(|s| s.allocatable.as_ref().or(s.capacity.as_ref())) {
        Some(list) => Resource::from_list(list),
        None => Resource::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[test]
    fn quantities() {
        let cases: &[(&str, Option<i64>, Option<i64>)] = &[
            ("1", Some(1), Some(1000)),
            ("100m", Some(1), Some(100)),
            ("1.5", Some(2), Some(1500)),
            ("0.1", Some(1), Some(100)),
            ("2Gi", Some(2 << 30), Some((2i64 << 30) * 1000)),
            ("128Mi", Some(128 << 20), Some((128i64 << 20) * 1000)),
            ("1k", Some(1000), Some(1_000_000)),
            ("1e3", Some(1000), Some(1_000_000)),
            ("1E3", Some(1000), Some(1_000_000)),
            ("5M", Some(5_000_000), Some(5_000_000_000)),
            ("250u", Some(1), Some(1)),
            ("1n", Some(1), Some(1)),
            ("0", Some(0), Some(0)),
            ("1.5Ki", Some(1536), Some(1_536_000)),
            ("abc", None, None),
            ("1Q", None, None),
            ("", None, None),
        ];
        for (s, value, milli) in cases {
            assert_eq!(parse_value(s), *value, "value of {s:?}");
            assert_eq!(parse_milli(s), *milli, "milli of {s:?}");
        }
    }

    #[test]
    fn pod_requests_as_upstream() {
        struct Case {
            name: &'static str,
            pod: Pod,
            cpu: i64,
            mem: i64,
            non_zero_cpu: i64,
        }
        let cases = vec![
            Case { name: "empty", pod: pod("p").build(), cpu: 0, mem: 0, non_zero_cpu: 0 },
            Case { name: "container without requests", pod: pod("p").image("x").build(), cpu: 0, mem: 0, non_zero_cpu: 100 },
            Case {
                name: "two containers",
                pod: pod("p").container("1", "1Gi").container("500m", "").build(),
                cpu: 1500,
                mem: 1 << 30,
                non_zero_cpu: 1500,
            },
            Case {
                name: "init container larger",
                pod: pod("p").container("1", "").init_container("3", "", false).build(),
                cpu: 3000,
                mem: 0,
                non_zero_cpu: 3000,
            },
            Case {
                name: "sidecar adds, and raises later init containers",
                pod: pod("p")
                    .container("1", "")
                    .init_container("1", "", true)
                    .init_container("1500m", "", false)
                    .build(),
                cpu: 2500,
                mem: 0,
                non_zero_cpu: 2500,
            },
            Case {
                name: "overhead",
                pod: pod("p").container("1", "").overhead("250m", "").build(),
                cpu: 1250,
                mem: 0,
                non_zero_cpu: 1250,
            },
        ];
        for c in cases {
            let r = pod_requests(&c.pod, false);
            assert_eq!((r.milli_cpu, r.memory), (c.cpu, c.mem), "{}", c.name);
            assert_eq!(pod_requests(&c.pod, true).milli_cpu, c.non_zero_cpu, "{}", c.name);
        }
    }

    #[test]
    fn limits_default_requests_and_scalars() {
        let mut p = pod("p").build();
        let c = &mut p.spec.as_mut().unwrap().containers;
        c.push(Container {
            name: "x".into(),
            resources: Some(k8s_openapi::api::core::v1::ResourceRequirements {
                limits: Some(BTreeMap::from([
                    ("cpu".to_string(), Quantity("2".into())),
                    ("example.com/gpu".to_string(), Quantity("1".into())),
                ])),
                ..Default::default()
            }),
            ..Default::default()
        });
        let r = pod_requests(&p, false);
        assert_eq!(r.milli_cpu, 2000);
        assert_eq!(r.scalar.get("example.com/gpu"), Some(&1));
        assert_eq!(pod_requests(&p, true).memory, DEFAULT_MEMORY_REQUEST);
    }
}
