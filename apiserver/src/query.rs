//! Query parameters, parsed once into the options of each verb.

use corekube_api::decode::FieldValidation;
use corekube_api::selector::{FieldSelector, LabelSelector};
use corekube_api::ApiError;

/// The raw `key=value` pairs of a query string, in order.
#[derive(Clone, Debug, Default)]
pub struct Query(pub Vec<(String, String)>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        Query(form_urlencoded::parse(raw.unwrap_or("").as_bytes()).into_owned().collect())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
    }

    /// Kubernetes query booleans: present with "", "1" or "true" is true.
    pub fn flag(&self, key: &str) -> Result<bool, ApiError> {
        match self.get(key) {
            None => Ok(false),
            Some("" | "1" | "true" | "True" | "TRUE" | "t" | "T") => Ok(true),
            Some("0" | "false" | "False" | "FALSE" | "f" | "F") => Ok(false),
            Some(other) => Err(ApiError::BadRequest(format!("invalid boolean value for {key}: {other:?}"))),
        }
    }

    fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| ApiError::BadRequest(format!("invalid value for {key}: {v:?}"))),
        }
    }
}

/// Options of list and watch.
#[derive(Clone, Debug, Default)]
pub struct ListParams {
    pub label: LabelSelector,
    pub field: FieldSelector,
    pub limit: Option<i64>,
    pub continue_token: Option<String>,
    pub resource_version: Option<String>,
    pub resource_version_match: Option<String>,
    pub watch: bool,
    pub timeout_seconds: Option<u64>,
    pub allow_bookmarks: bool,
    pub send_initial_events: Option<bool>,
}

impl ListParams {
    pub fn parse(q: &Query) -> Result<ListParams, ApiError> {
        let label = LabelSelector::parse(q.get("labelSelector").unwrap_or("")).map_err(ApiError::BadRequest)?;
        let field = FieldSelector::parse(q.get("fieldSelector").unwrap_or("")).map_err(ApiError::BadRequest)?;
        let send_initial_events = match q.get("sendInitialEvents") {
            None => None,
            Some(_) => Some(q.flag("sendInitialEvents")?),
        };
        Ok(ListParams {
            label,
            field,
            limit: q.int("limit")?.filter(|l| *l > 0),
            continue_token: q.get("continue").filter(|s| !s.is_empty()).map(String::from),
            resource_version: q.get("resourceVersion").filter(|s| !s.is_empty()).map(String::from),
            resource_version_match: q.get("resourceVersionMatch").filter(|s| !s.is_empty()).map(String::from),
            watch: q.flag("watch")?,
            timeout_seconds: q.int("timeoutSeconds")?.map(|t| t.max(0) as u64),
            allow_bookmarks: q.flag("allowWatchBookmarks")?,
            send_initial_events,
        })
    }
}

/// Options of create, update and patch.
#[derive(Clone, Debug)]
pub struct WriteParams {
    pub dry_run: bool,
    pub field_validation: FieldValidation,
    /// `fieldManager`: who the write's fields are recorded for in managedFields.
    pub field_manager: Option<String>,
    /// `force`: a server-side apply takes fields other managers own.
    pub force: bool,
}

impl WriteParams {
    pub fn parse(q: &Query) -> Result<WriteParams, ApiError> {
        let field_manager = q.get("fieldManager").filter(|m| !m.is_empty()).map(String::from);
        if let Some(m) = &field_manager {
            if m.len() > 128 || m.chars().any(|c| c.is_control()) {
                return Err(options_invalid("fieldManager", &format!("Invalid value: \"{m}\": must be at most 128 printable characters")));
            }
        }
        Ok(WriteParams {
            dry_run: dry_run(&q.all("dryRun"))?,
            field_validation: FieldValidation::parse(q.get("fieldValidation"))?,
            field_manager,
            force: q.flag("force")?,
        })
    }
}

/// A 422 on the request's options, as upstream's PatchOptions/CreateOptions validation.
pub fn options_invalid(field: &str, message: &str) -> ApiError {
    let reason = if message.starts_with("Required") { "FieldValueRequired" } else if message.starts_with("Forbidden") { "FieldValueForbidden" } else { "FieldValueInvalid" };
    ApiError::Invalid {
        group: "meta.k8s.io".into(),
        kind: "PatchOptions".into(),
        name: String::new(),
        causes: vec![corekube_api::Cause { reason: reason.into(), message: message.into(), field: field.into() }],
    }
}

/// `dryRun` accepts only `All`, as upstream.
pub fn dry_run(values: &[&str]) -> Result<bool, ApiError> {
    let mut dry = false;
    for v in values {
        match *v {
            "All" => dry = true,
            "" => {}
            other => return Err(ApiError::BadRequest(format!("Invalid dryRun value: {other:?}: valid values are \"All\""))),
        }
    }
    Ok(dry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_follow_kubernetes_rules() {
        let q = Query::parse(Some("watch=&a=1&b=false&c=x"));
        assert!(q.flag("watch").unwrap());
        assert!(q.flag("a").unwrap());
        assert!(!q.flag("b").unwrap());
        assert!(!q.flag("missing").unwrap());
        assert!(q.flag("c").is_err());
    }

    #[test]
    fn list_params_parse() {
        let q = Query::parse(Some("labelSelector=app%3Dweb&limit=2&continue=abc&resourceVersion=0&timeoutSeconds=5"));
        let p = ListParams::parse(&q).unwrap();
        assert_eq!(p.limit, Some(2));
        assert_eq!(p.continue_token.as_deref(), Some("abc"));
        assert_eq!(p.resource_version.as_deref(), Some("0"));
        assert_eq!(p.timeout_seconds, Some(5));
        assert!(!p.label.is_empty());
        assert!(ListParams::parse(&Query::parse(Some("labelSelector=a%20in"))).is_err());
        assert!(dry_run(&["All"]).unwrap());
        assert!(dry_run(&["Some"]).is_err());
    }
}
