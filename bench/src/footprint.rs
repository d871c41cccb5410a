//! footprint: start-up time to `/readyz` 200 (with its own managed etcd, and on an etcd that is
//! already ready), idle RSS of corekube (etcd not included) with no objects and with N stored
//! objects (beside their serialized size), idle RSS once the OpenAPI documents were served, and
//! the stripped binary size.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::create::{create_corekube, note, Batch};
use crate::procs::{proc_stat, rss_bytes, start_corekube, start_etcd};
use crate::APISERVER_ONLY;
use crate::report::{emit, Row, Target};
use crate::Env;

const MIB: f64 = 1024.0 * 1024.0;
/// The OpenAPI documents kubectl reads: the v3 index and the core group (client-side
/// validation by `kubectl apply`, `kubectl explain`), and v2 (kubectl 1.27 and 1.28).
const OPENAPI_PATHS: [&str; 3] = ["/openapi/v3", "/openapi/v3/api/v1", "/openapi/v2"];

/// The first child process of `pid` whose command is `etcd` (corekube's managed etcd).
fn etcd_child(pid: u32) -> Option<u32> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Some((comm, fields)) = proc_stat(child) else { continue };
        let ppid = fields.get(1).and_then(|s| s.parse::<u32>().ok());
        if ppid == Some(pid) && comm.contains("etcd") {
            return Some(child);
        }
    }
    None
}

fn mib(x: Option<u64>) -> Option<f64> {
    x.map(|b| b as f64 / MIB)
}

/// Size of the binary without symbols: the file itself when it has no `.symtab` (release
/// builds strip), otherwise a stripped copy made with `strip`.
fn stripped_size(bin: &Path, workdir: &Path) -> Result<(u64, String), String> {
    let bytes = std::fs::read(bin).map_err(|e| format!("{}: {e}", bin.display()))?;
    let has_symtab = bytes.windows(8).any(|w| w == b".symtab\0");
    if !has_symtab {
        return Ok((bytes.len() as u64, "file as built (no symbol table)".into()));
    }
    let out = workdir.join("corekube.stripped");
    let status = std::process::Command::new("strip").arg("-o").arg(&out).arg(bin).status().map_err(|e| format!("strip: {e}"))?;
    if !status.success() {
        return Err(format!("strip {} failed", bin.display()));
    }
    let size = std::fs::metadata(&out).map_err(|e| e.to_string())?.len();
    let _ = std::fs::remove_file(&out);
    Ok((size, format!("stripped copy; file is {:.1} MiB", bytes.len() as f64 / MIB)))
}

pub async fn run(env: &mut Env, rows: &mut Vec<Row>) -> Result<(), String> {
    let c = env.counts.clone();
    let settle = Duration::from_secs(c.settle_secs);
    let mut details = serde_json::Map::new();

    match env.startup {
        Some((etcd_ready, corekube_ready)) => {
            emit(
                rows,
                Row::new("footprint", "/readyz after etcd is ready", "s", Some(corekube_ready), Some(etcd_ready))
                    .target(Target::AtMost(1.0))
                    .note("fresh data dir, incl. PKI; etcd column: etcd's own start to ready"),
            );
            details.insert("readyz_after_etcd_ready_s".into(), json!(corekube_ready));
        }
        None => emit(rows, Row::new("footprint", "/readyz after etcd is ready", "s", None, None).target(Target::AtMost(1.0)).note("n/a: corekube was given (--server)")),
    }

    let bin = env.corekube_bin.clone()?;

    // etcd alone, fresh, for the baseline of the managed start.
    let etcd_alone = {
        let e = start_etcd(&env.etcd_binary, &env.workdir.join("footprint-etcd")).await?;
        e.ready_secs
    };
    let dir = env.workdir.join("footprint").join("data");
    let ck = start_corekube(&bin, &dir, None, None, APISERVER_ONLY).await?;
    emit(
        rows,
        Row::new("footprint", "start to /readyz with its own etcd", "s", Some(ck.ready_secs), Some(etcd_alone)).note("fresh data dir; etcd column: etcd alone, start to ready"),
    );
    tokio::time::sleep(settle).await;
    let rss0 = rss_bytes(ck.proc.pid);
    let etcd_rss0 = etcd_child(ck.proc.pid).and_then(rss_bytes);
    emit(rows, Row::new("footprint", "idle RSS, no objects", "MiB", mib(rss0), mib(etcd_rss0)).target(Target::AtMost(40.0)).note("etcd column: its managed etcd"));

    // What a first `kubectl apply` (validation) or `kubectl explain` adds: the OpenAPI documents.
    for path in OPENAPI_PATHS {
        ck.api.ok(http::Method::GET, path, None, Vec::new()).await?;
    }
    tokio::time::sleep(settle).await;
    let rss_openapi = rss_bytes(ck.proc.pid);
    emit(rows, Row::new("footprint", "idle RSS, no objects, OpenAPI served", "MiB", mib(rss_openapi), None).note("after GETs of /openapi/v3, /openapi/v3/api/v1 and /openapi/v2"));

    // Load N ConfigMaps, then restart so the figure is the idle state with them stored.
    let n = c.footprint_objects;
    let ns = format!("bench-footprint-{}", env.tag);
    ck.api.ensure_namespace(&ns).await?;
    let batch = Arc::new(Batch::configmaps(&ns, "fp", n, c.configmap_bytes));
    ck.api.warm_up(32).await;
    let loaded = create_corekube(&ck.api, "configmaps", &ns, &batch, 32, c.phase_limit * 4).await;
    if loaded.ok != n {
        return Err(format!("loading {n} ConfigMaps: {} stored; {}", loaded.ok, note(&loaded)));
    }
    let items = ck.api.list_all(&format!("/api/v1/namespaces/{ns}/configmaps")).await?;
    let serialized: usize = items.iter().map(|i| serde_json::to_vec(i).map(|v| v.len()).unwrap_or(0)).sum();
    tokio::time::sleep(settle).await;
    let rss_loaded = rss_bytes(ck.proc.pid);
    let port = ck.port;
    drop(ck);

    let ck = start_corekube(&bin, &dir, None, Some(port), APISERVER_ONLY).await?;
    tokio::time::sleep(settle).await;
    let rss_n = rss_bytes(ck.proc.pid);
    let etcd_rss_n = etcd_child(ck.proc.pid).and_then(rss_bytes);
    emit(
        rows,
        Row::new("footprint", format!("idle RSS, {n} objects stored"), "MiB", mib(rss_n), mib(etcd_rss_n)).note(format!(
            "after a restart; {} items, serialized {:.1} MiB; {:.1} MiB right after loading",
            items.len(),
            serialized as f64 / MIB,
            mib(rss_loaded).unwrap_or(f64::NAN)
        )),
    );
    let growth = match (rss0, rss_n) {
        (Some(a), Some(b)) if serialized > 0 => Some((b as f64 - a as f64) / serialized as f64),
        _ => None,
    };
    emit(rows, Row::new("footprint", "RSS growth / serialized size", "x", growth, None).target(Target::AtMost(2.0)));
    emit(rows, Row::new("footprint", format!("restart to /readyz with {n} objects"), "s", Some(ck.ready_secs), None));
    drop(ck);

    let (size, how) = stripped_size(&bin, &env.workdir)?;
    emit(rows, Row::new("footprint", "stripped binary size", "MiB", Some(size as f64 / MIB), None).note(how));

    details.insert(
        "managed".into(),
        json!({
            "etcd_alone_ready_s": etcd_alone,
            "rss_empty_bytes": rss0, "etcd_rss_empty_bytes": etcd_rss0, "rss_openapi_served_bytes": rss_openapi,
            "objects": n, "serialized_bytes": serialized,
            "rss_after_load_bytes": rss_loaded, "rss_restarted_bytes": rss_n, "etcd_rss_restarted_bytes": etcd_rss_n,
            "load": loaded.to_json(), "binary_bytes": size,
        }),
    );
    env.details.insert("footprint".into(), details.into());
    Ok(())
}
