//! Renders kubeconfig files in the shape kubeadm writes admin.conf.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde_yaml::{Mapping, Value};

/// The single cluster every corekube kubeconfig names.
pub(crate) const CLUSTER_NAME: &str = "corekube";

/// Builds a YAML mapping whose keys keep the given order, as kubectl and kubeadm print them.
fn mapping<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Mapping(entries.into_iter().map(|(key, value)| (Value::from(key), value)).collect::<Mapping>())
}

fn embedded(pem: &str) -> Value {
    Value::from(BASE64.encode(pem.as_bytes()))
}

/// Returns the kubeconfig text for `user` talking to `server_url`, with the CA and the user's
/// client credentials embedded as base64 PEM so the file stands alone.
pub(crate) fn render(
    server_url: &str,
    user: &str,
    ca_cert_pem: &str,
    client_cert_pem: &str,
    client_key_pem: &str,
) -> Result<String, serde_yaml::Error> {
    let context_name = format!("{user}@{CLUSTER_NAME}");
    let config = mapping([
        ("apiVersion", Value::from("v1")),
        ("kind", Value::from("Config")),
        (
            "clusters",
            Value::Sequence(vec![mapping([
                (
                    "cluster",
                    mapping([
                        ("certificate-authority-data", embedded(ca_cert_pem)),
                        ("server", Value::from(server_url)),
                    ]),
                ),
                ("name", Value::from(CLUSTER_NAME)),
            ])]),
        ),
        (
            "contexts",
            Value::Sequence(vec![mapping([
                ("context", mapping([("cluster", Value::from(CLUSTER_NAME)), ("user", Value::from(user))])),
                ("name", Value::from(context_name.as_str())),
            ])]),
        ),
        ("current-context", Value::from(context_name.as_str())),
        ("preferences", Value::Mapping(Mapping::new())),
        (
            "users",
            Value::Sequence(vec![mapping([
                ("name", Value::from(user)),
                (
                    "user",
                    mapping([
                        ("client-certificate-data", embedded(client_cert_pem)),
                        ("client-key-data", embedded(client_key_pem)),
                    ]),
                ),
            ])]),
        ),
    ]);
    serde_yaml::to_string(&config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_admin_conf_shape_in_kubeadm_key_order() {
        let text = render("https://127.0.0.1:6443", "kubernetes-admin", "CA", "CERT", "KEY").unwrap();
        let expected = "\
apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: Q0E=
    server: https://127.0.0.1:6443
  name: corekube
contexts:
- context:
    cluster: corekube
    user: kubernetes-admin
  name: kubernetes-admin@corekube
current-context: kubernetes-admin@corekube
preferences: {}
users:
- name: kubernetes-admin
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
";
        assert_eq!(text, expected);
    }

    #[test]
    fn user_names_needing_quotes_survive_a_round_trip() {
        let text = render("https://[::1]:6443", "system:admin: #x", "a", "b", "c").unwrap();
        let parsed: Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(parsed["users"][0]["name"].as_str(), Some("system:admin: #x"));
        assert_eq!(parsed["current-context"].as_str(), Some("system:admin: #x@corekube"));
        assert_eq!(parsed["clusters"][0]["cluster"]["server"].as_str(), Some("https://[::1]:6443"));
    }
}
