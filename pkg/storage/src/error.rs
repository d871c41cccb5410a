//! Storage failures, named for what the caller must do about them.

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("key not found")]
    NotFound,
    #[error("key already exists")]
    AlreadyExists,
    /// The compare-and-swap failed: the object changed since the caller read it.
    #[error("the object has been modified; current revision {current}")]
    Conflict { current: i64 },
    /// The requested revision is older than etcd's compacted history.
    #[error("required revision {requested} has been compacted (compacted to {compacted})")]
    Compacted { requested: i64, compacted: i64 },
    #[error("required revision {requested} is a future revision (current {current})")]
    FutureRevision { requested: i64, current: i64 },
    #[error("stored value of {key} is not a JSON object: {detail}")]
    Corrupt { key: String, detail: String },
    #[error("etcd unavailable: {0}")]
    Unavailable(String),
}

impl From<etcd_client::Error> for StorageError {
    fn from(e: etcd_client::Error) -> Self {
        StorageError::Unavailable(e.to_string())
    }
}
