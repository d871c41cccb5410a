//! The one place where failures become `metav1.Status` bodies with upstream's reasons and codes.
//! (The API server turns them into HTTP responses: `corekube_apiserver`'s `error` module.)

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, Status, StatusCause, StatusDetails};

/// One entry of `details.causes`: why a field was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cause {
    /// Upstream's cause type, e.g. `FieldValueRequired`.
    pub reason: String,
    pub message: String,
    /// The field path, e.g. `spec.containers[0].image`.
    pub field: String,
}

/// The resource a failure is about, as upstream names it in messages (`deployments.apps`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupResource {
    pub group: String,
    pub resource: String,
}

impl GroupResource {
    pub fn new(group: &str, resource: &str) -> Self {
        GroupResource { group: group.to_string(), resource: resource.to_string() }
    }
}

impl std::fmt::Display for GroupResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.group.is_empty() {
            write!(f, "{}", self.resource)
        } else {
            write!(f, "{}.{}", self.resource, self.group)
        }
    }
}

/// Every failure a request can end in. Each variant maps to exactly one HTTP code and reason.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{resource} \"{name}\" not found")]
    NotFound { resource: GroupResource, name: String },
    #[error("the server could not find the requested resource")]
    PathNotFound,
    #[error("{resource} \"{name}\" already exists")]
    AlreadyExists { resource: GroupResource, name: String },
    #[error("Operation cannot be fulfilled on {resource} \"{name}\": {detail}")]
    Conflict { resource: GroupResource, name: String, detail: String },
    /// A server-side apply that would take fields other managers own (409, with one
    /// `FieldManagerConflict` cause per field).
    #[error("{message}")]
    ApplyConflict { message: String, causes: Vec<Cause> },
    #[error("{}", invalid_message(.group, .kind, .name, .causes))]
    Invalid { group: String, kind: String, name: String, causes: Vec<Cause> },
    #[error("{0}")]
    BadRequest(String),
    #[error("Unauthorized")]
    Unauthorized,
    #[error("{message}")]
    Forbidden { resource: GroupResource, name: String, message: String },
    #[error("the server does not allow this method on the requested resource")]
    MethodNotAllowed,
    #[error("{0}")]
    NotAcceptable(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A patch that decodes but cannot be applied to the object.
    #[error("{0}")]
    UnprocessablePatch(String),
    #[error("{0}")]
    RequestEntityTooLarge(String),
    /// A resourceVersion or continue token older than the retained history.
    #[error("{message}")]
    Expired { message: String, continue_token: Option<String> },
    #[error("{0}")]
    Timeout(String),
    #[error("{0}")]
    TooLargeResourceVersion(String),
    #[error("Internal error occurred: {0}")]
    Internal(String),
    #[error("{0}")]
    ServiceUnavailable(String),
    /// A kubelet's answer passed on (pods/log and the like): its code, its text as the message.
    #[error("{message}")]
    Backend { code: u16, message: String },
}

/// Upstream names the kind with its group: `Deployment.apps "web" is invalid`.
fn invalid_message(group: &str, kind: &str, name: &str, causes: &[Cause]) -> String {
    let kind = if group.is_empty() { kind.to_string() } else { format!("{kind}.{group}") };
    let parts: Vec<String> = causes
        .iter()
        .map(|c| if c.field.is_empty() { c.message.clone() } else { format!("{}: {}", c.field, c.message) })
        .collect();
    match parts.len() {
        1 => format!("{kind} \"{name}\" is invalid: {}", parts[0]),
        _ => format!("{kind} \"{name}\" is invalid: [{}]", parts.join(", ")),
    }
}

impl ApiError {
    pub fn code(&self) -> u16 {
        match self {
            ApiError::NotFound { .. } | ApiError::PathNotFound => 404,
            ApiError::AlreadyExists { .. } | ApiError::Conflict { .. } | ApiError::ApplyConflict { .. } => 409,
            ApiError::Invalid { .. } | ApiError::UnprocessablePatch(_) => 422,
            ApiError::BadRequest(_) => 400,
            ApiError::Unauthorized => 401,
            ApiError::Forbidden { .. } => 403,
            ApiError::MethodNotAllowed => 405,
            ApiError::NotAcceptable(_) => 406,
            ApiError::UnsupportedMediaType(_) => 415,
            ApiError::RequestEntityTooLarge(_) => 413,
            ApiError::Expired { .. } => 410,
            ApiError::Timeout(_) | ApiError::TooLargeResourceVersion(_) => 504,
            ApiError::Internal(_) => 500,
            ApiError::ServiceUnavailable(_) => 503,
            ApiError::Backend { code, .. } => *code,
        }
    }

    pub fn reason(&self) -> &'static str {
        match self {
            ApiError::NotFound { .. } | ApiError::PathNotFound => "NotFound",
            ApiError::AlreadyExists { .. } => "AlreadyExists",
            ApiError::Conflict { .. } | ApiError::ApplyConflict { .. } => "Conflict",
            ApiError::Invalid { .. } | ApiError::UnprocessablePatch(_) => "Invalid",
            ApiError::BadRequest(_) => "BadRequest",
            ApiError::Unauthorized => "Unauthorized",
            ApiError::Forbidden { .. } => "Forbidden",
            ApiError::MethodNotAllowed => "MethodNotAllowed",
            ApiError::NotAcceptable(_) => "NotAcceptable",
            ApiError::UnsupportedMediaType(_) => "UnsupportedMediaType",
            ApiError::RequestEntityTooLarge(_) => "RequestEntityTooLarge",
            ApiError::Expired { .. } => "Expired",
            ApiError::Timeout(_) | ApiError::TooLargeResourceVersion(_) => "Timeout",
            ApiError::Internal(_) => "InternalError",
            ApiError::ServiceUnavailable(_) => "ServiceUnavailable",
            ApiError::Backend { code, .. } => match code {
                400 => "BadRequest",
                401 => "Unauthorized",
                403 => "Forbidden",
                404 => "NotFound",
                409 => "Conflict",
                503 => "ServiceUnavailable",
                _ => "InternalError",
            },
        }
    }

    /// The `metav1.Status` body for this error.
    pub fn status(&self) -> Status {
        let details = match self {
            ApiError::NotFound { resource, name }
            | ApiError::AlreadyExists { resource, name }
            | ApiError::Conflict { resource, name, .. }
            | ApiError::Forbidden { resource, name, .. } => Some(StatusDetails {
                name: Some(name.clone()).filter(|n| !n.is_empty()),
                group: Some(resource.group.clone()).filter(|g| !g.is_empty()),
                kind: Some(resource.resource.clone()),
                ..Default::default()
            }),
            ApiError::Invalid { group, kind, name, causes } => Some(StatusDetails {
                name: Some(name.clone()),
                group: Some(group.clone()).filter(|g| !g.is_empty()),
                kind: Some(kind.clone()),
                causes: Some(
                    causes
                        .iter()
                        .map(|c| StatusCause {
                            reason: Some(c.reason.clone()),
                            message: Some(c.message.clone()),
                            field: Some(c.field.clone()),
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            ApiError::ApplyConflict { causes, .. } => Some(StatusDetails {
                causes: Some(
                    causes
                        .iter()
                        .map(|c| StatusCause { reason: Some(c.reason.clone()), message: Some(c.message.clone()), field: Some(c.field.clone()) })
                        .collect(),
                ),
                ..Default::default()
            }),
            ApiError::TooLargeResourceVersion(_) => Some(StatusDetails {
                causes: Some(vec![StatusCause {
                    reason: Some("ResourceVersionTooLarge".into()),
                    message: Some("Too large resource version".into()),
                    field: None,
                }]),
                retry_after_seconds: Some(1),
                ..Default::default()
            }),
            _ => None,
        };
        let continue_ = match self {
            ApiError::Expired { continue_token, .. } => continue_token.clone(),
            _ => None,
        };
        Status {
            code: Some(self.code() as i32),
            details,
            message: Some(self.to_string()),
            metadata: ListMeta { continue_, ..Default::default() },
            reason: Some(self.reason().to_string()),
            status: Some("Failure".to_string()),
        }
    }

    /// The status as JSON with `kind`/`apiVersion` set, as clients expect.
    pub fn status_json(&self) -> serde_json::Value {
        status_value(&self.status())
    }
}

/// Serializes a `Status` with its `kind` and `apiVersion`.
pub fn status_value(status: &Status) -> serde_json::Value {
    let mut v = serde_json::to_value(status).unwrap_or_default();
    if let Some(m) = v.as_object_mut() {
        m.insert("kind".into(), "Status".into());
        m.insert("apiVersion".into(), "v1".into());
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_names_group_qualified_resource() {
        let e = ApiError::NotFound { resource: GroupResource::new("apps", "deployments"), name: "web".into() };
        assert_eq!(e.to_string(), "deployments.apps \"web\" not found");
        let s = e.status_json();
        assert_eq!(s["code"], 404);
        assert_eq!(s["reason"], "NotFound");
        assert_eq!(s["details"]["kind"], "deployments");
        assert_eq!(s["details"]["group"], "apps");
        assert_eq!(s["kind"], "Status");
    }

    #[test]
    fn invalid_lists_causes_like_upstream() {
        let one = ApiError::Invalid {
            group: String::new(),
            kind: "Pod".into(),
            name: "x".into(),
            causes: vec![Cause { reason: "FieldValueRequired".into(), message: "Required value".into(), field: "spec.containers[0].image".into() }],
        };
        assert_eq!(one.to_string(), "Pod \"x\" is invalid: spec.containers[0].image: Required value");
        let two = ApiError::Invalid {
            group: String::new(),
            kind: "Pod".into(),
            name: "x".into(),
            causes: vec![
                Cause { reason: "FieldValueRequired".into(), message: "Required value".into(), field: "a".into() },
                Cause { reason: "FieldValueRequired".into(), message: "Required value".into(), field: "b".into() },
            ],
        };
        assert_eq!(two.to_string(), "Pod \"x\" is invalid: [a: Required value, b: Required value]");
        assert_eq!(two.status_json()["details"]["causes"][1]["field"], "b");
    }
}
