//! Rough CPU cost of each typed step of a pod create, on the benchmark's pod
//! (run with `cargo run --release -p corekube-bench --example create_cost`). Figures are
//! single-threaded with warm caches, so a loaded server spends more on each (the pod create
//! benchmark at 64 clients measured about 310 us of server CPU per pod; these steps and the
//! managedFields bookkeeping, `corekube-fieldmanager`'s `update_cost`, add up to about 55 us).
use std::hint::black_box;
use std::time::Instant;

use corekube_api::decode::{self, BodyFormat};
use k8s_openapi::api::core::v1::Pod;

/// The benchmark's objects, so this measures the pod the benchmark creates.
#[path = "../src/objects.rs"]
#[allow(dead_code)]
mod objects;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Mean microseconds per call of `f` over `n` calls.
fn time<T>(n: usize, mut f: impl FnMut() -> T) -> f64 {
    black_box(f());
    let t = Instant::now();
    for _ in 0..n {
        black_box(f());
    }
    t.elapsed().as_secs_f64() * 1e6 / n as f64
}

fn main() {
    let n = 5000;
    let body = objects::pod("bench", "pod-1", 1);
    let parsed = decode::parse_body(&body, BodyFormat::Json).unwrap().value;
    let normalized = decode::typed::<Pod>(parsed.clone()).unwrap().value;
    let mut defaulted = normalized.clone();
    corekube_api::defaults::apply_defaults("", "Pod", &mut defaulted);

    println!("pod body: {} bytes, {} after defaults", body.len(), serde_json::to_vec(&defaulted).unwrap().len());
    println!("parse body (duplicate check):  {:6.1} us", time(n, || decode::parse_body(&body, BodyFormat::Json).unwrap()));
    println!("normalize through the type:    {:6.1} us", time(n, || decode::typed::<Pod>(parsed.clone()).unwrap()));
    println!("  of which cloning the input:  {:6.1} us", time(n, || parsed.clone()));
    println!("defaults:                      {:6.1} us", time(n, || {
        let mut v = normalized.clone();
        corekube_api::defaults::apply_defaults("", "Pod", &mut v);
        v
    }));
    println!("validation:                    {:6.1} us", time(n, || {
        let mut v = defaulted.clone();
        corekube_api::validation::validate_create("", "Pod", &mut v)
    }));
    println!("  of which cloning the input:  {:6.1} us", time(n, || defaulted.clone()));
    println!("encode for storage:            {:6.1} us", time(n, || serde_json::to_vec(&defaulted).unwrap()));
}
