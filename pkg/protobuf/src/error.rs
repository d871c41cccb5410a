//! The one error type of the crate; its messages are shown to clients in 400 responses.

/// Why a protobuf body could not be decoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("body is not a Kubernetes protobuf message: it does not start with the \"k8s\\x00\" prefix")]
    BadMagic,
    #[error("protobuf envelope does not name the object's kind")]
    MissingKind,
    #[error("protobuf envelope has content encoding {0:?}; only unencoded objects are supported")]
    UnsupportedEncoding(String),
    #[error("protobuf decoding of kind {kind:?} in {api_version:?} is not supported")]
    UnsupportedKind { api_version: String, kind: String },
    #[error("invalid protobuf body{}: {problem}", at(path))]
    Malformed {
        /// Where in the object (JSON field path, e.g. `spec.template.spec.containers[0]`), or
        /// empty for the top level.
        path: String,
        problem: String,
    },
}

fn at(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!(" at {path}")
    }
}

impl DecodeError {
    pub(crate) fn malformed(problem: impl Into<String>) -> Self {
        DecodeError::Malformed { path: String::new(), problem: problem.into() }
    }

    /// Prefixes the location of a malformed-data error with the field it was found under, as the
    /// error travels up through the enclosing messages.
    pub(crate) fn within(self, segment: &str) -> Self {
        match self {
            DecodeError::Malformed { path, problem } if !segment.is_empty() => {
                let path = match (path.is_empty(), path.starts_with('[')) {
                    (true, _) => segment.to_string(),
                    (false, true) => format!("{segment}{path}"),
                    (false, false) => format!("{segment}.{path}"),
                };
                DecodeError::Malformed { path, problem }
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_location() {
        let cases = [
            (DecodeError::malformed("truncated varint"), "invalid protobuf body: truncated varint"),
            (
                DecodeError::malformed("bad").within("name").within("[0]").within("containers").within("spec"),
                "invalid protobuf body at spec.containers[0].name: bad",
            ),
            (DecodeError::malformed("bad").within(""), "invalid protobuf body: bad"),
            (DecodeError::MissingKind.within("spec"), "protobuf envelope does not name the object's kind"),
        ];
        for (err, want) in cases {
            assert_eq!(err.to_string(), want);
        }
    }
}
