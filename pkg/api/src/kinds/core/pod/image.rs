//! The default `imagePullPolicy`, read from an image reference the way upstream's reference parser reads it.

/// `Always` when the reference names the `latest` tag, spelled out or implied by giving neither a tag
/// nor a digest; `IfNotPresent` otherwise, including for references that do not parse.
pub(super) fn default_pull_policy(image: &str) -> &'static str {
    if tag_of(image) == Some("latest") {
        "Always"
    } else {
        "IfNotPresent"
    }
}

/// The tag a runtime would pull: the written one, `latest` when neither tag nor digest is written,
/// and `None` for a digest-only reference or one upstream would refuse to parse.
fn tag_of(image: &str) -> Option<&str> {
    // A bare 64-hex string is an image ID, which upstream refuses as a repository name.
    if image.len() == 64 && image.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return None;
    }
    let (named, digest) = match image.split_once('@') {
        Some((named, digest)) => (named, Some(digest)),
        None => (image, None),
    };
    if digest.is_some_and(|d| !is_digest(d)) {
        return None;
    }
    // A colon after the last slash starts the tag; an earlier one is a registry port.
    let (name, tag) = match named.rfind(':') {
        Some(i) if !named[i + 1..].contains('/') => (&named[..i], Some(&named[i + 1..])),
        _ => (named, None),
    };
    if tag.is_some_and(|t| !is_tag(t)) || !is_name(name) {
        return None;
    }
    match (tag, digest) {
        (None, None) => Some("latest"),
        (tag, _) => tag,
    }
}

fn is_tag(tag: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = tag.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && word(bytes[0])
        && bytes[1..].iter().all(|&b| word(b) || b == b'.' || b == b'-')
}

/// Only the algorithms upstream can verify, each with its exact lowercase hex length.
fn is_digest(digest: &str) -> bool {
    let Some((algorithm, hex)) = digest.split_once(':') else { return false };
    let want = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return false,
    };
    hex.len() == want && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn is_name(name: &str) -> bool {
    if name.is_empty() || name.len() > 255 {
        return false;
    }
    let components: Vec<&str> = name.split('/').collect();
    let (first, rest) = components.split_first().expect("split yields at least one piece");
    // Like upstream, the first of several components is a registry when it could not be a path.
    let is_registry = !rest.is_empty()
        && (first.contains(['.', ':']) || *first == "localhost" || first.bytes().any(|b| b.is_ascii_uppercase()));
    if is_registry {
        is_registry_host(first) && rest.iter().all(|c| is_path_component(c))
    } else {
        components.iter().all(|c| is_path_component(c))
    }
}

/// Lowercase alphanumeric runs joined by `.`, `_`, `__` or any run of `-`.
fn is_path_component(component: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = component.as_bytes();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut separator = String::new();
    for &b in bytes {
        if alnum(b) {
            let ok = separator.is_empty()
                || matches!(separator.as_str(), "." | "_" | "__")
                || separator.bytes().all(|s| s == b'-');
            if !ok {
                return false;
            }
            separator.clear();
        } else if matches!(b, b'.' | b'_' | b'-') {
            separator.push(b as char);
        } else {
            return false;
        }
    }
    true
}

/// A DNS name, IPv4 address or bracketed IPv6 address, optionally with a numeric port.
fn is_registry_host(registry: &str) -> bool {
    let (host, port) = if let Some(after_bracket) = registry.strip_prefix('[') {
        let Some((ipv6, tail)) = after_bracket.split_once(']') else { return false };
        if ipv6.is_empty() || !ipv6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.') {
            return false;
        }
        match tail {
            "" => return true,
            _ => match tail.strip_prefix(':') {
                Some(port) => ("", Some(port)),
                None => return false,
            },
        }
    } else {
        match registry.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (registry, None),
        }
    };
    let label_ok = |label: &str| {
        let bytes = label.as_bytes();
        !bytes.is_empty()
            && bytes[0].is_ascii_alphanumeric()
            && bytes[bytes.len() - 1].is_ascii_alphanumeric()
            && bytes.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let host_ok = registry.starts_with('[') || host.split('.').all(label_ok);
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    host_ok && port_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "sha256:4b4e1b5f1e7e0b4e2b9e2a9f1c3a6f0d1d0b8f8c7e6d5c4b3a29180706050403";

    #[test]
    fn pull_policy_follows_the_tag() {
        let cases: &[(&str, &str)] = &[
            ("busybox", "Always"),
            ("busybox:latest", "Always"),
            ("busybox:1.36", "IfNotPresent"),
            ("registry:5000/busybox", "Always"),
            ("registry:5000/busybox:1.36", "IfNotPresent"),
            ("registry:5000/busybox:latest", "Always"),
            ("localhost/busybox", "Always"),
            ("docker.io/library/nginx:1.27-alpine", "IfNotPresent"),
            ("ghcr.io/org/team/app", "Always"),
            ("[::1]:5000/busybox", "Always"),
            ("my-registry/foo__bar/baz", "Always"),
            ("Registry.Example.com/busybox", "Always"),
            // A digest pins the image, unless a `latest` tag is written next to it.
            (&*format!("busybox@{SHA}"), "IfNotPresent"),
            (&*format!("busybox:latest@{SHA}"), "Always"),
            (&*format!("busybox:1.36@{SHA}"), "IfNotPresent"),
            // Unparseable references have no tag at all.
            ("", "IfNotPresent"),
            ("Busybox", "IfNotPresent"),
            ("busybox:", "IfNotPresent"),
            ("busybox@sha256:abc", "IfNotPresent"),
            ("busybox--:latest", "IfNotPresent"),
            ("bad..name", "IfNotPresent"),
            ("4b4e1b5f1e7e0b4e2b9e2a9f1c3a6f0d1d0b8f8c7e6d5c4b3a29180706050403", "IfNotPresent"),
        ];
        for (image, want) in cases {
            assert_eq!(default_pull_policy(image), *want, "image {image:?}");
        }
    }
}
