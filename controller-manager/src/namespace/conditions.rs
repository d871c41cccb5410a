//! The deletion conditions a terminating namespace reports in its status, as upstream's
//! namespace deleter keeps them: each of the five types is always present, True with the
//! failure's reason and message, or False with its "ok" reason and message.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::NamespaceCondition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

pub const DISCOVERY_FAILURE: &str = "NamespaceDeletionDiscoveryFailure";
pub const GROUP_VERSION_PARSING_FAILURE: &str = "NamespaceDeletionGroupVersionParsingFailure";
pub const CONTENT_FAILURE: &str = "NamespaceDeletionContentFailure";
pub const CONTENT_REMAINING: &str = "NamespaceContentRemaining";
pub const FINALIZERS_REMAINING: &str = "NamespaceFinalizersRemaining";

/// The condition types in the order upstream writes them, each with its "ok" reason and message.
const OK: [(&str, &str, &str); 5] = [
    (DISCOVERY_FAILURE, "ResourcesDiscovered", "All resources successfully discovered"),
    (GROUP_VERSION_PARSING_FAILURE, "ParsedGroupVersions", "All legacy kube types successfully parsed"),
    (CONTENT_FAILURE, "ContentDeleted", "All content successfully deleted, may be waiting on finalization"),
    (CONTENT_REMAINING, "ContentRemoved", "All content successfully removed"),
    (FINALIZERS_REMAINING, "ContentHasNoFinalizers", "All content-preserving finalizers finished"),
];

/// What one pass over the namespace's content found.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Discovery failed (the pass used what was discovered before, if anything).
    pub discovery_error: Option<String>,
    /// A discovered group version could not be parsed.
    pub group_version_error: Option<String>,
    /// One message per resource whose content could not be deleted.
    pub content_errors: Vec<String>,
    /// Objects left, by `resource.group` (`pods.` for the core group).
    pub remaining: BTreeMap<String, usize>,
    /// Objects left, by each finalizer they carry.
    pub finalizers: BTreeMap<String, usize>,
}

impl Outcome {
    /// The True conditions this outcome calls for: (type, reason, message).
    fn failures(&self) -> Vec<(&'static str, &'static str, String)> {
        let mut out = Vec::new();
        if let Some(e) = &self.discovery_error {
            out.push((DISCOVERY_FAILURE, "DiscoveryFailed", e.clone()));
        }
        if let Some(e) = &self.group_version_error {
            out.push((GROUP_VERSION_PARSING_FAILURE, "GroupVersionParsingFailed", e.clone()));
        }
        if !self.content_errors.is_empty() {
            let mut msgs = self.content_errors.clone();
            msgs.sort();
            let message = format!("Failed to delete all resource types, {} remaining: {}", msgs.len(), msgs.join(", "));
            out.push((CONTENT_FAILURE, "ContentDeletionFailed", message));
        }
        let listed = |entries: Vec<String>| {
            let mut entries = entries;
            entries.sort();
            entries.join(", ")
        };
        let remaining: Vec<String> =
            self.remaining.iter().filter(|(_, n)| **n > 0).map(|(r, n)| format!("{r} has {n} resource instances")).collect();
        if !self.remaining.is_empty() {
            out.push((CONTENT_REMAINING, "SomeResourcesRemain", format!("Some resources are remaining: {}", listed(remaining))));
        }
        let finalizers: Vec<String> =
            self.finalizers.iter().filter(|(_, n)| **n > 0).map(|(f, n)| format!("{f} in {n} resource instances")).collect();
        if !self.finalizers.is_empty() {
            out.push((
                FINALIZERS_REMAINING,
                "SomeFinalizersRemain",
                format!("Some content in the namespace has finalizers remaining: {}", listed(finalizers)),
            ));
        }
        out
    }
}

/// Brings `conditions` in line with `outcome`; true when anything changed. A condition keeps
/// its transition time unless its status flips.
pub fn update(conditions: &mut Vec<NamespaceCondition>, outcome: &Outcome, now: jiff::Timestamp) -> bool {
    let failures = outcome.failures();
    let mut changed = false;
    for (type_, ok_reason, ok_message) in OK {
        let (status, reason, message) = match failures.iter().find(|(t, _, _)| *t == type_) {
            Some((_, reason, message)) => ("True", *reason, message.clone()),
            None => ("False", ok_reason, ok_message.to_string()),
        };
        match conditions.iter_mut().find(|c| c.type_ == type_) {
            None => {
                conditions.push(NamespaceCondition {
                    type_: type_.to_string(),
                    status: status.to_string(),
                    reason: Some(reason.to_string()),
                    message: Some(message),
                    last_transition_time: Some(Time(now)),
                });
                changed = true;
            }
            Some(old) => {
                if old.status == status && old.reason.as_deref() == Some(reason) && old.message.as_deref() == Some(message.as_str()) {
                    continue;
                }
                if old.status != status {
                    old.last_transition_time = Some(Time(now));
                }
                old.status = status.to_string();
                old.reason = Some(reason.to_string());
                old.message = Some(message);
                changed = true;
            }
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'a>(c: &'a [NamespaceCondition], t: &str) -> &'a NamespaceCondition {
        c.iter().find(|c| c.type_ == t).unwrap()
    }

    #[test]
    fn all_ok_when_nothing_failed() {
        let mut c = Vec::new();
        assert!(update(&mut c, &Outcome::default(), jiff::Timestamp::now()));
        assert_eq!(c.len(), 5);
        assert!(c.iter().all(|c| c.status == "False"));
        assert_eq!(find(&c, FINALIZERS_REMAINING).reason.as_deref(), Some("ContentHasNoFinalizers"));
        assert_eq!(find(&c, CONTENT_FAILURE).reason.as_deref(), Some("ContentDeleted"));
        // Nothing new: nothing to write.
        assert!(!update(&mut c, &Outcome::default(), jiff::Timestamp::now()));
    }

    #[test]
    fn remaining_content_and_finalizers_as_upstream_words_them() {
        let mut c = Vec::new();
        let outcome = Outcome {
            remaining: [("pods.".to_string(), 2), ("configmaps.".to_string(), 1)].into(),
            finalizers: [("example.com/x".to_string(), 1)].into(),
            content_errors: vec!["b failed".into(), "a failed".into()],
            ..Default::default()
        };
        let t0 = jiff::Timestamp::from_second(1000).unwrap();
        update(&mut c, &outcome, t0);
        let remaining = find(&c, CONTENT_REMAINING);
        assert_eq!(remaining.status, "True");
        assert_eq!(remaining.reason.as_deref(), Some("SomeResourcesRemain"));
        assert_eq!(
            remaining.message.as_deref(),
            Some("Some resources are remaining: configmaps. has 1 resource instances, pods. has 2 resource instances")
        );
        let f = find(&c, FINALIZERS_REMAINING);
        assert_eq!(f.reason.as_deref(), Some("SomeFinalizersRemain"));
        assert_eq!(
            f.message.as_deref(),
            Some("Some content in the namespace has finalizers remaining: example.com/x in 1 resource instances")
        );
        assert_eq!(
            find(&c, CONTENT_FAILURE).message.as_deref(),
            Some("Failed to delete all resource types, 2 remaining: a failed, b failed")
        );

        // The status flips back: a new transition time; an unchanged one keeps its own.
        let t1 = jiff::Timestamp::from_second(2000).unwrap();
        assert!(update(&mut c, &Outcome::default(), t1));
        assert_eq!(find(&c, CONTENT_REMAINING).last_transition_time, Some(Time(t1)));
        assert_eq!(find(&c, DISCOVERY_FAILURE).last_transition_time, Some(Time(t0)));
    }
}
