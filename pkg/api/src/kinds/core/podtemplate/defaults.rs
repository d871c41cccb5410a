//! PodTemplate defaults: its template's, as a pod's.

use crate::defaults::{value_struct, Object};

pub(super) fn default_pod_template_object(obj: &mut Object) {
    if let Some(template) = value_struct(obj, "template") {
        crate::kinds::core::pod::defaults::default_pod_template(template);
    }
}
