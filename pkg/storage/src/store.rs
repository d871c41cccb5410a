//! Objects in etcd: reads, paged lists pinned to one revision, and compare-and-swap writes.
//!
//! Stored values are the object's JSON without `metadata.resourceVersion`; readers get it back
//! set to the key's `mod_revision`, so a resourceVersion is always an etcd revision.

use etcd_client::{Client, Compare, CompareOp, GetOptions, Txn, TxnOp, TxnOpResponse};
use serde_json::Value;

use crate::StorageError;

/// One page of a list, read at a single revision.
#[derive(Debug)]
pub struct ListPage {
    pub items: Vec<Value>,
    /// The revision the whole page was read at; the list's resourceVersion.
    pub revision: i64,
    /// Key of the last item, to continue after.
    pub last_key: Option<String>,
    /// How many keys in the range follow this page.
    pub remaining: i64,
}

/// A page of stored objects as etcd holds them: key, JSON bytes (no resourceVersion), and
/// the revision each was last modified at.
pub(crate) struct RawPage {
    pub items: Vec<(String, Vec<u8>, i64)>,
    pub revision: i64,
    pub remaining: i64,
}

/// The largest etcd response a list may receive (etcd's own request limit is far lower, but a
/// range over many objects adds up).
const MAX_RESPONSE_BYTES: usize = 1 << 30;

/// A handle on etcd. Cloning shares the connection.
#[derive(Clone)]
pub struct EtcdStore {
    client: Client,
}

impl EtcdStore {
    pub fn new(client: Client) -> Self {
        EtcdStore { client }
    }

    pub async fn connect(endpoints: &[String]) -> Result<EtcdStore, StorageError> {
        let transport = crate::transport::EtcdTransport::new(endpoints).map_err(StorageError::Unavailable)?;
        let channel = etcd_client::Channel::Custom(tower::util::BoxCloneSyncService::new(transport));
        Ok(EtcdStore { client: Client::from_channel(channel, None).await? })
    }

    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// The latest revision etcd has committed.
    pub async fn current_revision(&self) -> Result<i64, StorageError> {
        let resp = self.client.kv_client().get("/", Some(GetOptions::new().with_count_only())).await?;
        Ok(resp.header().map(|h| h.revision()).unwrap_or(0))
    }

    /// Reads one object, with its resourceVersion set.
    pub async fn get(&self, key: &str) -> Result<Option<Value>, StorageError> {
        let resp = self.client.kv_client().get(key, None).await?;
        match resp.kvs().first() {
            Some(kv) => Ok(Some(decode(key, kv.value(), kv.mod_revision())?)),
            None => Ok(None),
        }
    }

    /// Reads up to `limit` objects under `prefix` at `revision` (0 = latest), starting after
    /// `start_after`. Every item of the page and the page's revision come from the same read.
    pub async fn list(
        &self,
        prefix: &str,
        revision: i64,
        start_after: Option<&str>,
        limit: Option<i64>,
    ) -> Result<ListPage, StorageError> {
        let raw = self.list_raw(prefix, revision, start_after, limit).await?;
        let mut items = Vec::with_capacity(raw.items.len());
        for (key, value, rev) in &raw.items {
            items.push(decode(key, value, *rev)?);
        }
        let last_key = raw.items.last().map(|(k, _, _)| k.clone());
        Ok(ListPage { items, revision: raw.revision, last_key, remaining: raw.remaining })
    }

    /// [`list`](Self::list) without decoding: for the watch cache, which keeps the bytes.
    pub(crate) async fn list_raw(&self, prefix: &str, revision: i64, start_after: Option<&str>, limit: Option<i64>) -> Result<RawPage, StorageError> {
        let start = match start_after {
            Some(k) => format!("{k}\0"),
            None => prefix.to_string(),
        };
        let mut opts = GetOptions::new().with_range(prefix_end(prefix));
        if revision > 0 {
            opts = opts.with_revision(revision);
        }
        if let Some(l) = limit.filter(|l| *l > 0) {
            opts = opts.with_limit(l);
        }
        // A whole collection can exceed the client's default 4 MiB response limit.
        let mut kv = self.client.kv_client().max_decoding_message_size(MAX_RESPONSE_BYTES);
        let mut resp = match kv.get(start, Some(opts)).await {
            Ok(r) => r,
            Err(e) => return Err(self.classify_revision_error(e, revision).await),
        };
        let read_rev = if revision > 0 { revision } else { resp.header().map(|h| h.revision()).unwrap_or(0) };
        let more = resp.more();
        let count = resp.count();
        let items: Vec<(String, Vec<u8>, i64)> = resp
            .take_kvs()
            .into_iter()
            .map(|kv| {
                let rev = kv.mod_revision();
                let (key, value) = kv.into_key_value();
                (String::from_utf8_lossy(&key).into_owned(), value, rev)
            })
            .collect();
        let remaining = if more { count - items.len() as i64 } else { 0 };
        Ok(RawPage { items, revision: read_rev, remaining })
    }

    /// Stores a new object; fails with AlreadyExists if the key is taken.
    pub async fn create(&self, key: &str, mut obj: Value) -> Result<Value, StorageError> {
        let txn = Txn::new()
            .when([Compare::create_revision(key, CompareOp::Equal, 0)])
            .and_then([TxnOp::put(key, encode(&mut obj), None)]);
        let resp = self.client.kv_client().txn(txn).await?;
        if !resp.succeeded() {
            return Err(StorageError::AlreadyExists);
        }
        let rev = resp.header().map(|h| h.revision()).unwrap_or(0);
        Ok(with_resource_version(obj, rev))
    }

    /// Stores a new object like `create`, and returns it as JSON (resourceVersion spliced into
    /// the bytes written to etcd) for a caller that only sends it back: the object is serialized
    /// once instead of twice.
    pub async fn create_json(&self, key: &str, mut obj: Value) -> Result<Vec<u8>, StorageError> {
        let stored = encode(&mut obj);
        drop(obj);
        let txn = Txn::new()
            .when([Compare::create_revision(key, CompareOp::Equal, 0)])
            .and_then([TxnOp::put(key, stored.clone(), None)]);
        let resp = self.client.kv_client().txn(txn).await?;
        if !resp.succeeded() {
            return Err(StorageError::AlreadyExists);
        }
        let rev = resp.header().map(|h| h.revision()).unwrap_or(0);
        match crate::cached::with_resource_version_spliced(&stored, rev) {
            Some(json) => Ok(json),
            // Not an object with metadata (never for a valid object): the slow way.
            None => Ok(serde_json::to_vec(&decode(key, &stored, rev)?).expect("a JSON value always serializes")),
        }
    }

    /// Replaces an object if it is still at `expected_revision`.
    pub async fn update(&self, key: &str, mut obj: Value, expected_revision: i64) -> Result<Value, StorageError> {
        let txn = Txn::new()
            .when([Compare::mod_revision(key, CompareOp::Equal, expected_revision)])
            .and_then([TxnOp::put(key, encode(&mut obj), None)])
            .or_else([TxnOp::get(key, None)]);
        let resp = self.client.kv_client().txn(txn).await?;
        if !resp.succeeded() {
            return Err(failed_compare(&resp.op_responses()));
        }
        let rev = resp.header().map(|h| h.revision()).unwrap_or(0);
        Ok(with_resource_version(obj, rev))
    }

    /// Deletes an object, if given only while it is still at `expected_revision`. Returns its last
    /// state (resourceVersion = the revision it had) and the deletion's revision.
    pub async fn delete(&self, key: &str, expected_revision: Option<i64>) -> Result<(Value, i64), StorageError> {
        let del = TxnOp::delete(key, Some(etcd_client::DeleteOptions::new().with_prev_key()));
        let txn = match expected_revision {
            Some(rev) => Txn::new()
                .when([Compare::mod_revision(key, CompareOp::Equal, rev)])
                .and_then([del])
                .or_else([TxnOp::get(key, None)]),
            None => Txn::new().and_then([del]),
        };
        let resp = self.client.kv_client().txn(txn).await?;
        if !resp.succeeded() {
            return Err(failed_compare(&resp.op_responses()));
        }
        let rev = resp.header().map(|h| h.revision()).unwrap_or(0);
        for op in resp.op_responses() {
            if let TxnOpResponse::Delete(d) = op {
                if let Some(prev) = d.prev_kvs().first() {
                    return Ok((decode(key, prev.value(), prev.mod_revision())?, rev));
                }
            }
        }
        Err(StorageError::NotFound)
    }

    /// Discards history older than `revision`.
    pub async fn compact(&self, revision: i64) -> Result<(), StorageError> {
        match self.client.kv_client().compact(revision, None).await {
            Ok(_) => Ok(()),
            Err(e) => Err(self.classify_revision_error(e, revision).await),
        }
    }

    /// etcd answers both "compacted" and "future revision" with gRPC OutOfRange; which one it was
    /// follows from comparing with the current revision, never from the message text.
    async fn classify_revision_error(&self, e: etcd_client::Error, requested: i64) -> StorageError {
        let out_of_range = matches!(&e, etcd_client::Error::GRpcStatus(s) if s.code() == tonic::Code::OutOfRange);
        // A read at the latest revision cannot be too old or too new, whatever the code says
        // (tonic also uses OutOfRange for an oversized message).
        if !out_of_range || requested <= 0 {
            return e.into();
        }
        match self.current_revision().await {
            Ok(current) if requested > current => StorageError::FutureRevision { requested, current },
            Ok(_) => StorageError::Compacted { requested, compacted: self.compacted_revision().await.unwrap_or(0) },
            Err(e) => e,
        }
    }

    /// The revision etcd has compacted to: a watch from revision 1 is cancelled with it. etcd
    /// first confirms the watch, then cancels it, so a short wait after the confirmation tells
    /// "not compacted" (0) apart. Used for error messages only.
    pub async fn compacted_revision(&self) -> Result<i64, StorageError> {
        let mut w = self.client.watch_client();
        let opts = etcd_client::WatchOptions::new().with_start_revision(1);
        let mut stream = w.watch("/compaction-probe", Some(opts)).await?;
        let mut wait = tokio::time::Duration::from_secs(2);
        loop {
            match tokio::time::timeout(wait, stream.message()).await {
                Ok(Ok(Some(msg))) if msg.compact_revision() > 0 => return Ok(msg.compact_revision()),
                Ok(Ok(Some(msg))) if msg.created() => wait = tokio::time::Duration::from_millis(300),
                Ok(Ok(Some(_))) => {}
                _ => return Ok(0),
            }
        }
    }
}

/// The first key after every key that starts with `prefix`.
pub(crate) fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

fn failed_compare(ops: &[TxnOpResponse]) -> StorageError {
    for op in ops {
        if let TxnOpResponse::Get(g) = op {
            return match g.kvs().first() {
                Some(kv) => StorageError::Conflict { current: kv.mod_revision() },
                None => StorageError::NotFound,
            };
        }
    }
    StorageError::NotFound
}

/// The stored form drops resourceVersion: it is the key's revision, not data. It is taken out
/// for the encoding and put back, so the object is not copied (the caller sets the new one).
fn encode(obj: &mut Value) -> Vec<u8> {
    let meta = obj.get_mut("metadata").and_then(|m| m.as_object_mut());
    let rv = meta.and_then(|m| m.remove("resourceVersion"));
    let bytes = serde_json::to_vec(obj).expect("a JSON value always serializes");
    if let (Some(rv), Some(meta)) = (rv, obj.get_mut("metadata").and_then(|m| m.as_object_mut())) {
        meta.insert("resourceVersion".into(), rv);
    }
    bytes
}

pub(crate) fn decode(key: &str, bytes: &[u8], revision: i64) -> Result<Value, StorageError> {
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| StorageError::Corrupt { key: key.to_string(), detail: e.to_string() })?;
    if !v.is_object() {
        return Err(StorageError::Corrupt { key: key.to_string(), detail: "not an object".into() });
    }
    Ok(with_resource_version(v, revision))
}

pub(crate) fn with_resource_version(mut obj: Value, revision: i64) -> Value {
    if let Some(o) = obj.as_object_mut() {
        let meta = o.entry("metadata").or_insert_with(|| Value::Object(Default::default()));
        if let Some(m) = meta.as_object_mut() {
            m.insert("resourceVersion".into(), Value::String(revision.to_string()));
        }
    }
    obj
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments_last_byte() {
        assert_eq!(prefix_end("/registry/pods/"), b"/registry/pods0".to_vec());
        assert_eq!(prefix_end("a\u{7f}"), b"a\x80".to_vec());
    }

    #[test]
    fn encode_strips_and_decode_restores_resource_version() {
        let mut obj = serde_json::json!({"metadata": {"name": "a", "resourceVersion": "5"}});
        let bytes = encode(&mut obj);
        assert_eq!(obj["metadata"]["resourceVersion"], "5");
        assert!(!String::from_utf8_lossy(&bytes).contains("resourceVersion"));
        let back = decode("k", &bytes, 9).unwrap();
        assert_eq!(back["metadata"]["resourceVersion"], "9");
        assert!(decode("k", b"[1]", 1).is_err());
    }
}
