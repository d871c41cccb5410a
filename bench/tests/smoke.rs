//! The benchmark keeps working as the code changes: a `--quick` run of every default
//! measurement against the debug build of corekube (about a minute) must run each of them
//! and produce figures on both sides. Targets are not judged here: a debug build on a shared
//! CI machine says nothing about them.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

fn corekube_binary() -> PathBuf {
    // Built by `cargo test --workspace` for the root package's integration tests, in the
    // same target directory as this benchmark.
    let bench = PathBuf::from(env!("CARGO_BIN_EXE_corekube-bench"));
    let path = bench.with_file_name("corekube");
    assert!(path.exists(), "{} is missing: run `cargo test --workspace` (or `cargo build -p corekube`) first", path.display());
    path
}

#[test]
fn quick_run_measures_every_default_section_against_etcd() {
    assert!(
        Command::new("etcd").arg("--version").output().is_ok_and(|o| o.status.success()),
        "etcd not found: install Debian's etcd-server (scripts/install-deps)"
    );
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("results.json");
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_corekube-bench"))
        .args(["--quick", "--corekube"])
        .arg(corekube_binary())
        .arg("--json")
        .arg(&json)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "corekube-bench --quick failed ({:?})\nstdout:\n{stdout}\nstderr:\n{stderr}", out.status);
    assert!(started.elapsed() < Duration::from_secs(600), "the quick run took {:?}", started.elapsed());

    let result: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(result["errors"], serde_json::json!([]), "{stdout}");
    let rows = result["rows"].as_array().unwrap();
    for section in ["create", "reads", "churn", "watch", "footprint"] {
        assert!(rows.iter().any(|r| r["section"] == section), "no {section} rows in\n{stdout}");
    }
    // Throughputs are measured on both sides, and every event reached every corekube watcher.
    let figure = |name: &str, side: &str| rows.iter().find(|r| r["name"] == name).and_then(|r| r[side].as_f64()).unwrap_or_else(|| panic!("no {side} figure for {name:?} in\n{stdout}"));
    for name in ["create configmaps c=1 throughput", "create pods c=64 throughput", "GET pod rv=0 c=16 throughput", "LIST namespace rv=unset c=4 throughput"] {
        assert!(figure(name, "corekube") > 0.0 && figure(name, "etcd") > 0.0, "{name}: no throughput in\n{stdout}");
    }
    // The benchmark started both servers, so it knows every process's CPU time.
    let cpu = "create configmaps c=1 CPU per create, all processes";
    assert!(figure(cpu, "corekube") > 0.0 && figure(cpu, "etcd") > 0.0, "{cpu}: no figure in\n{stdout}");
    let delivered = rows.iter().filter(|r| r["name"].as_str().is_some_and(|n| n.ends_with("events delivered"))).collect::<Vec<_>>();
    assert!(!delivered.is_empty(), "no watch delivery rows in\n{stdout}");
    for r in delivered {
        assert_eq!(r["corekube"].as_f64(), Some(100.0), "{}: not every event arrived\n{stdout}", r["name"]);
    }
    assert!(figure("/readyz after etcd is ready", "corekube") > 0.0, "{stdout}");
}
