//! The cluster PKI as kubeadm lays it out: CA, API server serving certificate, client certificates, kubeconfigs.
//!
//! Files under the PKI directory (mode 0700): `ca.crt`/`ca.key`, `apiserver.crt`/`apiserver.key`
//! and `<stem>.crt`/`<stem>.key` per client. Keys and kubeconfigs are 0600, certificates 0644.
//! The CA key is read from disk only while signing and is never returned.

mod der;
mod files;
mod issue;
mod kubeconfig;

use std::fmt;
use std::path::{Path, PathBuf};

use rcgen::KeyPair;

use crate::files::{PRIVATE_FILE_MODE, PUBLIC_FILE_MODE};
use crate::issue::{LeafProfile, LeafRole};

const CA_CERT_FILE: &str = "ca.crt";
const CA_KEY_FILE: &str = "ca.key";
const SERVING_FILE_STEM: &str = "apiserver";

/// Client file stems that would overwrite the CA or the serving certificate.
const RESERVED_FILE_STEMS: [&str; 2] = ["ca", SERVING_FILE_STEM];

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("{action} {}: {source}", path.display())]
    Io { action: &'static str, path: PathBuf, source: std::io::Error },
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("invalid {what}: {reason}")]
    InvalidCertificate { what: String, reason: String },
    #[error("invalid private key {}: {reason}", path.display())]
    InvalidKey { path: PathBuf, reason: String },
    /// Replacing the CA would invalidate every certificate and kubeconfig it signed, so a
    /// half-present CA is an error for the operator to resolve, never silently regenerated.
    #[error("CA certificate {} exists but its key {} is missing; refusing to replace the CA", cert.display(), key.display())]
    CaKeyMissing { cert: PathBuf, key: PathBuf },
    #[error("CA key {} does not match CA certificate {}", key.display(), cert.display())]
    CaKeyMismatch { cert: PathBuf, key: PathBuf },
    #[error("{} is not a CA certificate", .0.display())]
    NotCa(PathBuf),
    #[error("invalid subject alternative name {0:?}: not an IP address or DNS name")]
    InvalidSan(String),
    #[error("invalid certificate file stem {0:?}: use letters, digits, '.', '-', '_', not starting with '.', and not \"ca\" or \"apiserver\"")]
    InvalidFileStem(String),
    #[error("invalid client identity: {0}")]
    InvalidIdentity(String),
    #[error("certificate subject has no common name")]
    MissingCommonName,
    #[error("rendering kubeconfig: {0}")]
    Kubeconfig(#[from] serde_yaml::Error),
}

/// Everything the server needs from its PKI directory.
#[derive(Clone)]
pub struct ClusterPki {
    pub ca_cert_pem: String,
    pub serving_cert_pem: String,
    pub serving_key_pem: String,
    pub dir: PathBuf,
    /// Decoded once so per-request checks like [`ClusterPki::is_issued_by_ca`] stay cheap.
    ca_cert_der: Vec<u8>,
}

impl fmt::Debug for ClusterPki {
    // Hand-written so the serving key never lands in a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterPki").field("dir", &self.dir).finish_non_exhaustive()
    }
}

/// Loads the PKI under `dir` (e.g. /var/lib/corekube/pki), creating on first start: a CA
/// (self-signed, CN "corekube-ca", 10 years, ECDSA P-256) and the API server's serving
/// certificate (1 year, EKU serverAuth) for 127.0.0.1, ::1, localhost, the host name, every
/// entry of `extra_sans` (IPs become IP SANs, other strings DNS SANs) and the `kubernetes`
/// Service names. On later starts both are reused; the serving certificate is re-issued when
/// a requested SAN is missing from it, it is expiring within 30 days, or it no longer matches
/// its key or the CA.
pub fn load_or_create(dir: &Path, extra_sans: &[String]) -> Result<ClusterPki, PkiError> {
    load_or_create_with_host_name(dir, issue::machine_host_name().as_deref(), extra_sans)
}

fn load_or_create_with_host_name(
    dir: &Path,
    host_name: Option<&str>,
    extra_sans: &[String],
) -> Result<ClusterPki, PkiError> {
    let sans = issue::serving_sans(host_name, extra_sans)?;
    files::ensure_private_dir(dir)?;
    let ca_cert_pem = load_or_create_ca(dir)?;
    let ca_cert_der = issue::certificate_der_from_pem(&ca_cert_pem, "CA certificate")?;
    let profile =
        LeafProfile { common_name: issue::SERVING_COMMON_NAME, organizations: &[], sans: &sans, role: LeafRole::Server };
    let (serving_cert_pem, serving_key_pem) = load_or_issue_leaf(dir, SERVING_FILE_STEM, &ca_cert_der, &profile, |cert| {
        let present = issue::sans_of(cert);
        sans.iter().all(|san| present.contains(san))
    })?;
    Ok(ClusterPki { ca_cert_pem, serving_cert_pem, serving_key_pem, dir: dir.to_path_buf(), ca_cert_der })
}

/// Returns the CA certificate PEM, creating the CA if neither file exists. A key without its
/// certificate (e.g. a crash between the two writes) gets a fresh certificate for that key.
fn load_or_create_ca(dir: &Path) -> Result<String, PkiError> {
    let cert_path = dir.join(CA_CERT_FILE);
    let key_path = dir.join(CA_KEY_FILE);
    let existing_cert = files::read_if_exists(&cert_path)?;
    let existing_key = files::read_if_exists(&key_path)?;
    match (existing_cert, existing_key) {
        (Some(cert_pem), Some(key_pem)) => {
            let key = parse_key(&key_pem, &key_path)?;
            let cert_der = issue::certificate_der_from_pem(&cert_pem, &cert_path.display().to_string())?;
            let cert = issue::parse_certificate(&cert_der, &cert_path.display().to_string())?;
            if !cert.is_ca() {
                return Err(PkiError::NotCa(cert_path));
            }
            if !issue::key_matches(&cert, &key) {
                return Err(PkiError::CaKeyMismatch { cert: cert_path, key: key_path });
            }
            Ok(cert_pem)
        }
        (Some(_), None) => Err(PkiError::CaKeyMissing { cert: cert_path, key: key_path }),
        (None, Some(key_pem)) => {
            let key = parse_key(&key_pem, &key_path)?;
            let cert_pem = issue::self_signed_ca(&key, issue::now_unix())?;
            files::write_atomically(&cert_path, cert_pem.as_bytes(), PUBLIC_FILE_MODE)?;
            Ok(cert_pem)
        }
        (None, None) => {
            let key = KeyPair::generate()?;
            let cert_pem = issue::self_signed_ca(&key, issue::now_unix())?;
            // Key first: if we crash before the certificate, the next start re-certifies this key.
            files::write_atomically(&key_path, key.serialize_pem().as_bytes(), PRIVATE_FILE_MODE)?;
            files::write_atomically(&cert_path, cert_pem.as_bytes(), PUBLIC_FILE_MODE)?;
            Ok(cert_pem)
        }
    }
}

fn parse_key(key_pem: &str, path: &Path) -> Result<KeyPair, PkiError> {
    KeyPair::from_pem(key_pem).map_err(|e| PkiError::InvalidKey { path: path.to_path_buf(), reason: e.to_string() })
}

/// Reuses `<dir>/<stem>.crt`/`.key` when [`issue::leaf_is_reusable`] and `accept` allow it;
/// otherwise issues a new pair from `profile` and writes it. Returns (cert PEM, key PEM).
fn load_or_issue_leaf(
    dir: &Path,
    file_stem: &str,
    ca_cert_der: &[u8],
    profile: &LeafProfile<'_>,
    accept: impl FnOnce(&x509_parser::certificate::X509Certificate<'_>) -> bool,
) -> Result<(String, String), PkiError> {
    let cert_path = dir.join(format!("{file_stem}.crt"));
    let key_path = dir.join(format!("{file_stem}.key"));
    let now = issue::now_unix();
    if let (Some(cert_pem), Some(key_pem)) = (files::read_if_exists(&cert_path)?, files::read_if_exists(&key_path)?) {
        if issue::leaf_is_reusable(&cert_pem, &key_pem, ca_cert_der, profile.role, now, accept) {
            return Ok((cert_pem, key_pem));
        }
    }

    let ca_key_path = dir.join(CA_KEY_FILE);
    let ca_key_pem = files::read_if_exists(&ca_key_path)?
        .ok_or_else(|| PkiError::CaKeyMissing { cert: dir.join(CA_CERT_FILE), key: ca_key_path.clone() })?;
    let ca_key = parse_key(&ca_key_pem, &ca_key_path)?;
    let (cert_pem, key_pem) = issue::issue_leaf(ca_cert_der, &ca_key, profile, now)?;
    // Key first: a crash in between leaves a certificate that no longer matches its key, which
    // the next call notices and re-issues.
    files::write_atomically(&key_path, key_pem.as_bytes(), PRIVATE_FILE_MODE)?;
    files::write_atomically(&cert_path, cert_pem.as_bytes(), PUBLIC_FILE_MODE)?;
    Ok((cert_pem, key_pem))
}

fn validate_file_stem(file_stem: &str) -> Result<(), PkiError> {
    let well_formed = !file_stem.is_empty()
        && !file_stem.starts_with('.')
        && file_stem.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if well_formed && !RESERVED_FILE_STEMS.contains(&file_stem) {
        Ok(())
    } else {
        Err(PkiError::InvalidFileStem(file_stem.to_string()))
    }
}

fn sorted(mut items: Vec<String>) -> Vec<String> {
    items.sort();
    items
}

impl ClusterPki {
    /// Issues (or reuses if already on disk with the same subject) a client certificate signed
    /// by the CA: CN = user, O = each group, EKU clientAuth, 1 year. Files
    /// `<dir>/<file_stem>.crt` / `.key` (key 0600). Group order does not matter for reuse.
    pub fn client_cert(&self, file_stem: &str, user: &str, groups: &[&str]) -> Result<(String, String), PkiError> {
        validate_file_stem(file_stem)?;
        if user.is_empty() {
            return Err(PkiError::InvalidIdentity("user name is empty".into()));
        }
        if groups.iter().any(|g| g.is_empty()) {
            return Err(PkiError::InvalidIdentity("group name is empty".into()));
        }
        let wanted_groups = sorted(groups.iter().map(|g| g.to_string()).collect());
        let profile = LeafProfile { common_name: user, organizations: groups, sans: &[], role: LeafRole::Client };
        load_or_issue_leaf(&self.dir, file_stem, &self.ca_cert_der, &profile, |cert| {
            issue::subject_of_certificate(cert)
                .is_ok_and(|(name, groups)| name == user && sorted(groups) == wanted_groups)
        })
    }

    /// Issues (or reuses while it still covers `sans`) a kubelet's serving certificate: CN
    /// `system:node:NODE` as upstream's kubelet serving certificates, O `system:nodes`, EKU
    /// serverAuth, SANs `sans` (IPs and DNS names) plus 127.0.0.1 and localhost. Files
    /// `<dir>/<file_stem>.crt` / `.key`.
    pub fn kubelet_serving_cert(&self, file_stem: &str, node: &str, sans: &[String]) -> Result<(String, String), PkiError> {
        validate_file_stem(file_stem)?;
        let mut wanted = vec![issue::SubjectAltName::Ip(std::net::Ipv4Addr::LOCALHOST.into()), issue::SubjectAltName::Dns("localhost".into())];
        for raw in sans {
            if let Some(san) = issue::SubjectAltName::parse(raw)? {
                if !wanted.contains(&san) {
                    wanted.push(san);
                }
            }
        }
        let common_name = format!("system:node:{node}");
        let profile = LeafProfile { common_name: &common_name, organizations: &["system:nodes"], sans: &wanted, role: LeafRole::Server };
        load_or_issue_leaf(&self.dir, file_stem, &self.ca_cert_der, &profile, |cert| {
            let present = issue::sans_of(cert);
            wanted.iter().all(|san| present.contains(san))
        })
    }

    /// Writes a kubeconfig in kubeadm admin.conf style (cluster "corekube", context
    /// "<user>@corekube", current-context set) embedding the CA and the client credentials as
    /// base64 PEM. Mode 0600; replaced atomically; missing parent directories are created.
    pub fn write_kubeconfig(
        &self,
        path: &Path,
        server_url: &str,
        user: &str,
        cert_pem: &str,
        key_pem: &str,
    ) -> Result<(), PkiError> {
        let text = kubeconfig::render(server_url, user, &self.ca_cert_pem, cert_pem, key_pem)?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| files::io_error("creating directory", parent, e))?;
        }
        files::write_atomically(path, text.as_bytes(), PRIVATE_FILE_MODE)
    }

    /// Whether the DER certificate names our CA as issuer and carries a valid signature by the
    /// CA key. Validity dates and key usage are not checked here; the TLS layer does that.
    pub fn is_issued_by_ca(&self, cert_der: &[u8]) -> bool {
        match (issue::parse_certificate(cert_der, "certificate"), issue::parse_certificate(&self.ca_cert_der, "CA")) {
            (Ok(cert), Ok(ca)) => issue::is_signed_by(&cert, &ca),
            _ => false,
        }
    }
}

/// Reads user name (CN) and groups (every O, in order) from a DER client certificate, for
/// authentication. With several CNs the last wins, as in Go's crypto/x509.
pub fn subject_of(cert_der: &[u8]) -> Result<(String, Vec<String>), PkiError> {
    let cert = issue::parse_certificate(cert_der, "client certificate")?;
    issue::subject_of_certificate(&cert)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;
    use x509_parser::extensions::GeneralName;

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn der_of(pem: &str) -> Vec<u8> {
        issue::certificate_der_from_pem(pem, "test").unwrap()
    }

    fn pki_in(dir: &Path) -> ClusterPki {
        load_or_create_with_host_name(dir, Some("node-1"), &["10.1.2.3".into()]).unwrap()
    }

    #[test]
    fn first_start_creates_files_with_private_modes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("pki");
        let pki = load_or_create(&dir, &["10.1.2.3".into()]).unwrap();

        assert_eq!(pki.dir, dir);
        assert_eq!(mode_of(&dir), 0o700);
        assert_eq!(mode_of(&dir.join("ca.key")), 0o600);
        assert_eq!(mode_of(&dir.join("ca.crt")), 0o644);
        assert_eq!(mode_of(&dir.join("apiserver.key")), 0o600);
        assert_eq!(mode_of(&dir.join("apiserver.crt")), 0o644);
        assert_eq!(fs::read_to_string(dir.join("ca.crt")).unwrap(), pki.ca_cert_pem);
        assert_eq!(fs::read_to_string(dir.join("apiserver.crt")).unwrap(), pki.serving_cert_pem);
        assert_eq!(fs::read_to_string(dir.join("apiserver.key")).unwrap(), pki.serving_key_pem);
        assert!(!format!("{pki:?}").contains("PRIVATE KEY"));
    }

    #[test]
    fn ca_is_self_signed_ten_year_corekube_ca() {
        let tmp = tempfile::tempdir().unwrap();
        let pki = pki_in(tmp.path());
        let der = der_of(&pki.ca_cert_pem);
        let ca = issue::parse_certificate(&der, "ca").unwrap();
        assert!(ca.is_ca());
        assert_eq!(ca.subject().iter_common_name().next().unwrap().as_str().unwrap(), "corekube-ca");
        assert!(issue::is_signed_by(&ca, &ca));
        let lifetime = ca.validity().not_after.timestamp() - ca.validity().not_before.timestamp();
        assert!((3649 * 86400..=3651 * 86400).contains(&lifetime), "{lifetime}");
        assert!(pki.is_issued_by_ca(&der));
    }

    #[test]
    fn second_start_reuses_ca_and_serving_cert() {
        let tmp = tempfile::tempdir().unwrap();
        let first = pki_in(tmp.path());
        let second = pki_in(tmp.path());
        assert_eq!(first.ca_cert_pem, second.ca_cert_pem);
        assert_eq!(first.serving_cert_pem, second.serving_cert_pem);
        assert_eq!(first.serving_key_pem, second.serving_key_pem);
    }

    #[test]
    fn serving_cert_has_every_san_and_server_auth() {
        let tmp = tempfile::tempdir().unwrap();
        let pki = load_or_create_with_host_name(
            tmp.path(),
            Some("node-1"),
            &["10.1.2.3".into(), "API.example.com".into(), "fd00::7".into()],
        )
        .unwrap();
        let der = der_of(&pki.serving_cert_pem);
        let cert = issue::parse_certificate(&der, "serving").unwrap();

        let san_ext = cert.subject_alternative_name().unwrap().unwrap();
        let mut dns = Vec::new();
        let mut ips = Vec::new();
        for name in &san_ext.value.general_names {
            match name {
                GeneralName::DNSName(n) => dns.push(n.to_string()),
                GeneralName::IPAddress(b) => ips.push(b.to_vec()),
                other => panic!("unexpected SAN {other:?}"),
            }
        }
        for want in [
            "localhost",
            "node-1",
            "api.example.com",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ] {
            assert!(dns.iter().any(|d| d == want), "missing DNS SAN {want}: {dns:?}");
        }
        for want in ["127.0.0.1", "::1", "10.1.2.3", "fd00::7"] {
            let bytes = match want.parse::<std::net::IpAddr>().unwrap() {
                std::net::IpAddr::V4(v4) => v4.octets().to_vec(),
                std::net::IpAddr::V6(v6) => v6.octets().to_vec(),
            };
            assert!(ips.contains(&bytes), "missing IP SAN {want}");
        }
        assert!(issue::allows_role(&cert, LeafRole::Server));
        assert!(!cert.is_ca());
        assert!(pki.is_issued_by_ca(&der));
        let lifetime = cert.validity().not_after.timestamp() - cert.validity().not_before.timestamp();
        assert!((364 * 86400..=366 * 86400).contains(&lifetime), "{lifetime}");
        assert!(issue::key_matches(&cert, &KeyPair::from_pem(&pki.serving_key_pem).unwrap()));
    }

    #[test]
    fn new_san_reissues_serving_cert_but_keeps_ca() {
        let tmp = tempfile::tempdir().unwrap();
        let first = pki_in(tmp.path());
        let widened =
            load_or_create_with_host_name(tmp.path(), Some("node-1"), &["10.1.2.3".into(), "192.168.9.9".into()])
                .unwrap();
        assert_eq!(first.ca_cert_pem, widened.ca_cert_pem);
        assert_ne!(first.serving_cert_pem, widened.serving_cert_pem);
        assert_ne!(first.serving_key_pem, widened.serving_key_pem);
        let der = der_of(&widened.serving_cert_pem);
        let cert = issue::parse_certificate(&der, "serving").unwrap();
        assert!(issue::sans_of(&cert).contains(&issue::SubjectAltName::Ip("192.168.9.9".parse().unwrap())));

        // Asking for a subset of what the certificate already covers reuses it.
        let narrowed = load_or_create_with_host_name(tmp.path(), Some("node-1"), &[]).unwrap();
        assert_eq!(narrowed.serving_cert_pem, widened.serving_cert_pem);
    }

    #[test]
    fn serving_cert_not_matching_its_key_is_reissued() {
        let tmp = tempfile::tempdir().unwrap();
        let first = pki_in(tmp.path());
        let stray_key = KeyPair::generate().unwrap().serialize_pem();
        fs::write(tmp.path().join("apiserver.key"), stray_key).unwrap();
        let second = pki_in(tmp.path());
        assert_ne!(first.serving_cert_pem, second.serving_cert_pem);
        let der = der_of(&second.serving_cert_pem);
        let cert = issue::parse_certificate(&der, "serving").unwrap();
        assert!(issue::key_matches(&cert, &KeyPair::from_pem(&second.serving_key_pem).unwrap()));
    }

    #[test]
    fn serving_cert_near_expiry_is_reissued() {
        let tmp = tempfile::tempdir().unwrap();
        let first = pki_in(tmp.path());
        // Re-issue "now" as if it were ~11 months ago, leaving under 30 days of validity.
        let ca_key = KeyPair::from_pem(&fs::read_to_string(tmp.path().join("ca.key")).unwrap()).unwrap();
        let sans = issue::serving_sans(Some("node-1"), &["10.1.2.3".into()]).unwrap();
        let profile = LeafProfile {
            common_name: issue::SERVING_COMMON_NAME,
            organizations: &[],
            sans: &sans,
            role: LeafRole::Server,
        };
        let (old_cert, old_key) =
            issue::issue_leaf(&first.ca_cert_der, &ca_key, &profile, issue::now_unix() - 340 * 86400).unwrap();
        fs::write(tmp.path().join("apiserver.crt"), &old_cert).unwrap();
        fs::write(tmp.path().join("apiserver.key"), &old_key).unwrap();

        let second = pki_in(tmp.path());
        assert_ne!(second.serving_cert_pem, old_cert);
        assert_eq!(second.ca_cert_pem, first.ca_cert_pem);
    }

    #[test]
    fn ca_cert_without_key_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        pki_in(tmp.path());
        fs::remove_file(tmp.path().join("ca.key")).unwrap();
        assert!(matches!(
            load_or_create_with_host_name(tmp.path(), None, &[]),
            Err(PkiError::CaKeyMissing { .. })
        ));
    }

    #[test]
    fn ca_key_not_matching_cert_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        pki_in(tmp.path());
        fs::write(tmp.path().join("ca.key"), KeyPair::generate().unwrap().serialize_pem()).unwrap();
        assert!(matches!(
            load_or_create_with_host_name(tmp.path(), None, &[]),
            Err(PkiError::CaKeyMismatch { .. })
        ));
    }

    #[test]
    fn ca_key_without_cert_is_recertified_and_still_signs_old_certs() {
        let tmp = tempfile::tempdir().unwrap();
        let first = pki_in(tmp.path());
        fs::remove_file(tmp.path().join("ca.crt")).unwrap();
        let second = pki_in(tmp.path());
        // Same key, so the serving certificate from before still verifies and is reused.
        assert_eq!(first.serving_cert_pem, second.serving_cert_pem);
        assert!(second.is_issued_by_ca(&der_of(&first.serving_cert_pem)));
    }

    #[test]
    fn invalid_extra_san_is_rejected() {
        let tmp = tempfile::tempdir().unwrap();
        let result = load_or_create_with_host_name(tmp.path(), None, &["not a name".into()]);
        assert!(matches!(result, Err(PkiError::InvalidSan(_))));
    }

    #[test]
    fn client_cert_subject_round_trips_for_any_number_of_groups() {
        let tmp = tempfile::tempdir().unwrap();
        let pki = pki_in(tmp.path());
        let cases: [(&str, &str, &[&str]); 3] = [
            ("anon", "system:kube-scheduler", &[]),
            ("admin", "kubernetes-admin", &["kubeadm:cluster-admins"]),
            ("dev", "alice", &["dev", "ops", "system:masters"]),
        ];
        for (stem, user, groups) in cases {
            let (cert_pem, key_pem) = pki.client_cert(stem, user, groups).unwrap();
            let der = der_of(&cert_pem);
            let (name, got_groups) = subject_of(&der).unwrap();
            assert_eq!(name, user);
            assert_eq!(got_groups, groups);

            assert!(pki.is_issued_by_ca(&der), "{stem} not verified");
            let cert = issue::parse_certificate(&der, "client").unwrap();
            assert!(issue::allows_role(&cert, LeafRole::Client));
            assert!(!issue::allows_role(&cert, LeafRole::Server));
            assert!(issue::key_matches(&cert, &KeyPair::from_pem(&key_pem).unwrap()));

            let cert_path = tmp.path().join(format!("{stem}.crt"));
            let key_path = tmp.path().join(format!("{stem}.key"));
            assert_eq!(fs::read_to_string(&cert_path).unwrap(), cert_pem);
            assert_eq!(fs::read_to_string(&key_path).unwrap(), key_pem);
            assert_eq!(mode_of(&key_path), 0o600);
            assert_eq!(mode_of(&cert_path), 0o644);
        }
    }

    #[test]
    fn client_cert_is_reused_for_same_subject_and_reissued_for_new_one() {
        let tmp = tempfile::tempdir().unwrap();
        let pki = pki_in(tmp.path());
        let first = pki.client_cert("dev", "alice", &["dev", "ops"]).unwrap();
        assert_eq!(pki.client_cert("dev", "alice", &["ops", "dev"]).unwrap(), first);

        let regrouped = pki.client_cert("dev", "alice", &["dev"]).unwrap();
        assert_ne!(regrouped, first);
        assert_eq!(subject_of(&der_of(&regrouped.0)).unwrap(), ("alice".to_string(), vec!["dev".to_string()]));

        let renamed = pki.client_cert("dev", "bob", &["dev"]).unwrap();
        assert_eq!(subject_of(&der_of(&renamed.0)).unwrap().0, "bob");
    }

    #[test]
    fn client_cert_rejects_stems_that_escape_or_clobber() {
        let tmp = tempfile::tempdir().unwrap();
        let pki = pki_in(tmp.path());
        for stem in ["", "ca", "apiserver", "../admin", "a/b", ".hidden"] {
            assert!(matches!(pki.client_cert(stem, "u", &[]), Err(PkiError::InvalidFileStem(_))), "{stem:?}");
        }
        assert!(matches!(pki.client_cert("ok", "", &[]), Err(PkiError::InvalidIdentity(_))));
        assert!(matches!(pki.client_cert("ok", "u", &[""]), Err(PkiError::InvalidIdentity(_))));
    }

    #[test]
    fn certificates_from_another_ca_are_not_ours() {
        let ours_dir = tempfile::tempdir().unwrap();
        let theirs_dir = tempfile::tempdir().unwrap();
        let ours = pki_in(ours_dir.path());
        let theirs = pki_in(theirs_dir.path());
        let (foreign_cert, _) = theirs.client_cert("admin", "kubernetes-admin", &["system:masters"]).unwrap();
        let (foreign_multi, _) = theirs.client_cert("dev", "alice", &["a", "b"]).unwrap();

        // Same CA name, different key: the issuer matches by name, so the signature must decide.
        assert!(!ours.is_issued_by_ca(&der_of(&foreign_cert)));
        assert!(!ours.is_issued_by_ca(&der_of(&foreign_multi)));
        assert!(!ours.is_issued_by_ca(&der_of(&theirs.serving_cert_pem)));
        assert!(!ours.is_issued_by_ca(&der_of(&theirs.ca_cert_pem)));
        assert!(!ours.is_issued_by_ca(b"not a certificate"));
        assert!(theirs.is_issued_by_ca(&der_of(&foreign_cert)));
    }

    #[test]
    fn subject_of_rejects_garbage() {
        assert!(matches!(subject_of(b"\x30\x03\x02\x01\x00"), Err(PkiError::InvalidCertificate { .. })));
    }

    #[test]
    fn kubeconfig_embeds_credentials_and_is_private() {
        use base64::Engine;
        let tmp = tempfile::tempdir().unwrap();
        let pki = pki_in(&tmp.path().join("pki"));
        let (cert_pem, key_pem) = pki.client_cert("admin", "kubernetes-admin", &["kubeadm:cluster-admins"]).unwrap();
        let path = tmp.path().join("etc/admin.conf");
        pki.write_kubeconfig(&path, "https://127.0.0.1:6443", "kubernetes-admin", &cert_pem, &key_pem).unwrap();
        assert_eq!(mode_of(&path), 0o600);

        let config: serde_yaml::Value = serde_yaml::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        let decode = |v: &serde_yaml::Value| {
            String::from_utf8(base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap()).unwrap()).unwrap()
        };
        assert_eq!(config["apiVersion"].as_str(), Some("v1"));
        assert_eq!(config["kind"].as_str(), Some("Config"));
        let cluster = &config["clusters"][0];
        assert_eq!(cluster["name"].as_str(), Some("corekube"));
        assert_eq!(cluster["cluster"]["server"].as_str(), Some("https://127.0.0.1:6443"));
        assert_eq!(decode(&cluster["cluster"]["certificate-authority-data"]), pki.ca_cert_pem);
        let context = &config["contexts"][0];
        assert_eq!(context["name"].as_str(), Some("kubernetes-admin@corekube"));
        assert_eq!(context["context"]["cluster"].as_str(), Some("corekube"));
        assert_eq!(context["context"]["user"].as_str(), Some("kubernetes-admin"));
        assert_eq!(config["current-context"].as_str(), Some("kubernetes-admin@corekube"));
        assert!(config["preferences"].as_mapping().unwrap().is_empty());
        let user = &config["users"][0];
        assert_eq!(user["name"].as_str(), Some("kubernetes-admin"));
        assert_eq!(decode(&user["user"]["client-certificate-data"]), cert_pem);
        assert_eq!(decode(&user["user"]["client-key-data"]), key_pem);

        // Overwriting replaces the content and keeps the mode.
        pki.write_kubeconfig(&path, "https://10.0.0.1:6443", "kubernetes-admin", &cert_pem, &key_pem).unwrap();
        let config: serde_yaml::Value = serde_yaml::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(config["clusters"][0]["cluster"]["server"].as_str(), Some("https://10.0.0.1:6443"));
        assert_eq!(mode_of(&path), 0o600);
    }
}
