//! Pod updates (which spec fields may change) and pod status writes.

use super::*;

const SYSTEM_CONDITIONS: &[&str] = &["PodScheduled", "Ready", "Initialized"];

/// The mirror-pod annotation may be neither added, changed nor removed.
fn annotation_updates(new: &Pod, old: &Pod) -> Vec<FieldError> {
    let key = "kubernetes.io/config.mirror";
    let path = Path::of(&["metadata", "annotations"]).key(key);
    let get = |p: &Pod| p.metadata.annotations.as_ref().and_then(|a| a.get(key)).cloned();
    let mut errs = match (get(old), get(new)) {
        (Some(o), n) if n.as_ref() != Some(&o) => vec![FieldError::forbidden(&path, "may not remove or update mirror pod annotation")],
        (None, Some(_)) => vec![FieldError::forbidden(&path, "may not add mirror pod annotation")],
        _ => Vec::new(),
    };
    errs.extend(pod_specific_annotations(&new.metadata, new.spec.as_ref().unwrap_or(&PodSpec::default())));
    errs
}

/// Containers may not be added or removed; only their images change.
fn container_updates(new: &[k8s_openapi::api::core::v1::Container], old_len: usize, path: &Path) -> Result<Vec<FieldError>, FieldError> {
    if new.len() != old_len {
        return Err(FieldError::forbidden(path, "pod updates may not add or remove containers"));
    }
    let mut errs = Vec::new();
    for (i, c) in new.iter().enumerate() {
        let image = c.image.as_deref().unwrap_or("");
        if image.is_empty() {
            errs.push(FieldError::required(&path.index(i).child("image"), ""));
        }
        if image.trim() != image {
            errs.push(FieldError::invalid(&path.index(i).child("image"), image, "must not have leading or trailing whitespace"));
        }
    }
    Ok(errs)
}

/// Existing tolerations may only have their tolerationSeconds changed.
fn only_added_tolerations(new: &[Toleration], old: &[Toleration], path: &Path) -> Vec<FieldError> {
    for o in old {
        let kept = new.iter().any(|n| Toleration { toleration_seconds: n.toleration_seconds, ..o.clone() } == *n);
        if !kept {
            return vec![FieldError::forbidden(path, "existing toleration can not be modified except its tolerationSeconds")];
        }
    }
    validate_tolerations(new, path)
}

/// Update-time pod validation (`ValidatePodUpdate`).
pub fn validate_pod_update(new: &Pod, old: &Pod) -> Vec<FieldError> {
    let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata);
    errs.extend(pod_metadata_and_spec(new));
    errs.extend(annotation_updates(new, old));
    let spec_path = Path::new("spec");
    let (default_new, default_old) = (PodSpec::default(), PodSpec::default());
    let new_spec = new.spec.as_ref().unwrap_or(&default_new);
    let old_spec = old.spec.as_ref().unwrap_or(&default_old);

    let lists = [
        (&new_spec.containers[..], old_spec.containers.len(), "containers"),
        (new_spec.init_containers.as_deref().unwrap_or(&[]), old_spec.init_containers.as_ref().map_or(0, Vec::len), "initContainers"),
    ];
    for (containers, old_len, field) in lists {
        match container_updates(containers, old_len, &spec_path.child(field)) {
            Ok(e) => errs.extend(e),
            Err(e) => {
                errs.push(e);
                return errs;
            }
        }
    }

    // activeDeadlineSeconds may be set once, then only lowered.
    let ads_path = spec_path.child("activeDeadlineSeconds");
    match (new_spec.active_deadline_seconds, old_spec.active_deadline_seconds) {
        (Some(n), _) if !(0..=MAX_INT32).contains(&n) => {
            errs.push(FieldError::invalid(&ads_path, n, names::inclusive_range_error(0, MAX_INT32)));
            return errs;
        }
        (Some(n), Some(o)) if o < n => {
            errs.push(FieldError::invalid(&ads_path, n, "must be less than or equal to previous value"));
            return errs;
        }
        (None, Some(_)) => errs.push(FieldError::invalid(
            &ads_path,
            BadValue::Json(serde_json::Value::Null),
            "must not update from a positive integer to nil value",
        )),
        _ => {}
    }

    errs.extend(only_added_tolerations(
        new_spec.tolerations.as_deref().unwrap_or(&[]),
        old_spec.tolerations.as_deref().unwrap_or(&[]),
        &spec_path.child("tolerations"),
    ));
    let old_gates: BTreeSet<&str> = old_spec.scheduling_gates.iter().flatten().map(|g| g.name.as_str()).collect();
    for (i, g) in new_spec.scheduling_gates.iter().flatten().enumerate() {
        if !old_gates.contains(g.name.as_str()) {
            errs.push(FieldError::forbidden(
                &spec_path.child("schedulingGates").index(i).child("name"),
                format!("only deletion is allowed, but found new scheduling gate '{}'", g.name),
            ));
        }
    }
    if new_spec == old_spec {
        return errs;
    }

    // Put back everything an update may change, then anything still different is forbidden.
    let mut munged = new_spec.clone();
    for (c, o) in munged.containers.iter_mut().zip(&old_spec.containers) {
        c.image.clone_from(&o.image);
    }
    for (c, o) in munged.init_containers.iter_mut().flatten().zip(old_spec.init_containers.iter().flatten()) {
        c.image.clone_from(&o.image);
    }
    munged.active_deadline_seconds = old_spec.active_deadline_seconds;
    munged.scheduling_gates.clone_from(&old_spec.scheduling_gates);
    munged.tolerations.clone_from(&old_spec.tolerations);
    if old_spec.termination_grace_period_seconds.is_some_and(|g| g < 0) && munged.termination_grace_period_seconds == Some(1) {
        munged.termination_grace_period_seconds = old_spec.termination_grace_period_seconds;
    }
    if munged != *old_spec {
        errs.push(FieldError::forbidden(
            &spec_path,
            format!("pod updates may not change fields other than {UPDATABLE_POD_SPEC_FIELDS}\n{}", spec_diff(old_spec, &munged)),
        ));
    }
    errs
}

/// Status writes (`ValidatePodStatusUpdate`).
pub fn validate_pod_status_update(new: &Pod, old: &Pod) -> Vec<FieldError> {
    let mut errs = meta::validate_object_meta_update(&new.metadata, &old.metadata);
    errs.extend(annotation_updates(new, old));
    let default_status = Default::default();
    let status = new.status.as_ref().unwrap_or(&default_status);
    for (i, c) in status.conditions.iter().flatten().enumerate() {
        if !SYSTEM_CONDITIONS.contains(&c.type_.as_str()) {
            // Upstream reports these under metadata, as it is handed the metadata path.
            errs.extend(meta::validate_label_name(&c.type_, &Path::of(&["metadata", "conditions"]).index(i).child("Type")));
        }
    }
    let status_path = Path::new("status");
    let node = |p: &Pod| p.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default();
    if node(new) != node(old) {
        errs.push(FieldError::forbidden(&status_path.child("nodeName"), "may not be changed directly"));
    }
    let old_nominated = old.status.as_ref().and_then(|s| s.nominated_node_name.clone()).unwrap_or_default();
    if let Some(n) = status.nominated_node_name.as_deref().filter(|n| !n.is_empty() && *n != old_nominated) {
        errs.extend(subdomain(n, &status_path.child("nominatedNodeName")));
    }
    for (i, ip) in status.pod_ips.iter().flatten().enumerate() {
        if names::parse_ip(&ip.ip).is_none() {
            errs.push(FieldError::invalid(&status_path.child("podIPs").index(i), &ip.ip, names::IP_MSG));
        }
    }
    let host_ips = status.host_ips.as_deref().unwrap_or(&[]);
    if let Some(first) = host_ips.first() {
        let hp = status_path.child("hostIPs");
        if status.host_ip.as_deref().unwrap_or("") != first.ip {
            errs.push(FieldError::invalid(&hp.index(0).child("ip"), &first.ip, "must be equal to `hostIP`"));
        }
        for (i, ip) in host_ips.iter().enumerate() {
            if names::parse_ip(&ip.ip).is_none() {
                errs.push(FieldError::invalid(&hp.index(i), &ip.ip, names::IP_MSG));
            }
        }
    }
    errs
}
