//! Certificate profiles and checks: issuing the CA, serving and client certificates, and deciding
//! whether a certificate already on disk is still good enough to reuse.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyPair, KeyUsagePurpose, SanType,
};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::time::ASN1Time;

use crate::{der, PkiError};

pub(crate) const CA_COMMON_NAME: &str = "corekube-ca";
/// The serving certificate's CN, as kubeadm names it.
pub(crate) const SERVING_COMMON_NAME: &str = "kube-apiserver";

const DAY_SECS: i64 = 24 * 60 * 60;
const CA_VALIDITY_SECS: i64 = 10 * 365 * DAY_SECS;
const LEAF_VALIDITY_SECS: i64 = 365 * DAY_SECS;
/// kubeadm backdates NotBefore by five minutes so peers with slightly slow clocks accept a
/// certificate issued moments ago.
const BACKDATE_SECS: i64 = 5 * 60;
/// A leaf certificate this close to expiry is re-issued at the next start rather than reused.
const RENEW_BEFORE_SECS: i64 = 30 * DAY_SECS;

/// The DNS names under which in-cluster clients reach the API server via the `kubernetes`
/// Service (kubeadm adds the same list).
const KUBERNETES_SERVICE_NAMES: [&str; 4] =
    ["kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"];

/// Which TLS role a leaf certificate is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LeafRole {
    Server,
    Client,
}

/// One subject alternative name, normalised so names read back from a certificate compare
/// equal to the ones requested.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SubjectAltName {
    Ip(IpAddr),
    Dns(String),
}

impl SubjectAltName {
    /// Parses an address as given on a command line: an IP (optionally bracketed or with a
    /// port, as in a bind address) becomes an IP SAN, anything else must be a DNS name.
    /// Blank input yields `None`.
    pub(crate) fn parse(raw: &str) -> Result<Option<Self>, PkiError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Ok(None);
        }
        let unbracketed = trimmed.strip_prefix('[').and_then(|s| s.strip_suffix(']')).unwrap_or(trimmed);
        if let Ok(ip) = unbracketed.parse::<IpAddr>() {
            return Ok(Some(SubjectAltName::Ip(ip)));
        }
        if let Ok(socket) = trimmed.parse::<SocketAddr>() {
            return Ok(Some(SubjectAltName::Ip(socket.ip())));
        }
        let name = trimmed.strip_suffix('.').unwrap_or(trimmed).to_ascii_lowercase();
        if is_valid_dns_name(&name) {
            Ok(Some(SubjectAltName::Dns(name)))
        } else {
            Err(PkiError::InvalidSan(raw.to_string()))
        }
    }

    fn to_rcgen(&self) -> Result<SanType, PkiError> {
        Ok(match self {
            SubjectAltName::Ip(ip) => SanType::IpAddress(*ip),
            SubjectAltName::Dns(name) => SanType::DnsName(name.as_str().try_into()?),
        })
    }
}

/// Accepts RFC 1123 host names, a leading `*.` wildcard, and underscores (which real host
/// names sometimes carry even though the RFC forbids them).
fn is_valid_dns_name(name: &str) -> bool {
    let name = name.strip_prefix("*.").unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// The machine's host name as the kernel reports it, if it is usable as a DNS SAN.
pub(crate) fn machine_host_name() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .find_map(|text| match SubjectAltName::parse(&text) {
            Ok(Some(SubjectAltName::Dns(name))) => Some(name),
            _ => None,
        })
}

/// Every SAN the serving certificate must carry, in kubeadm's order and without duplicates.
pub(crate) fn serving_sans(host_name: Option<&str>, extra_sans: &[String]) -> Result<Vec<SubjectAltName>, PkiError> {
    let mut sans = vec![
        SubjectAltName::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        SubjectAltName::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        SubjectAltName::Dns("localhost".into()),
    ];
    let mut push_unique = |san: SubjectAltName| {
        if !sans.contains(&san) {
            sans.push(san);
        }
    };
    if let Some(Some(san)) = host_name.map(SubjectAltName::parse).transpose()? {
        push_unique(san);
    }
    for extra in extra_sans {
        if let Some(san) = SubjectAltName::parse(extra)? {
            push_unique(san);
        }
    }
    for name in KUBERNETES_SERVICE_NAMES {
        push_unique(SubjectAltName::Dns(name.into()));
    }
    Ok(sans)
}

/// Seconds since the Unix epoch.
pub(crate) fn now_unix() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn validity_time(unix_secs: i64) -> Result<ASN1Time, PkiError> {
    ASN1Time::from_timestamp(unix_secs)
        .map_err(|e| PkiError::InvalidCertificate { what: "validity period".into(), reason: e.to_string() })
}

/// Builds the self-signed CA certificate for `ca_key` and returns it as PEM.
pub(crate) fn self_signed_ca(ca_key: &KeyPair, now: i64) -> Result<String, PkiError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, CA_COMMON_NAME);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages =
        vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment, KeyUsagePurpose::KeyCertSign];
    params.not_before = validity_time(now - BACKDATE_SECS)?.to_datetime();
    params.not_after = validity_time(now + CA_VALIDITY_SECS)?.to_datetime();
    Ok(certificate_pem(params.self_signed(ca_key)?.der()))
}

/// What a leaf certificate says about its holder.
pub(crate) struct LeafProfile<'a> {
    pub common_name: &'a str,
    pub organizations: &'a [&'a str],
    pub sans: &'a [SubjectAltName],
    pub role: LeafRole,
}

/// Issues a leaf certificate with a fresh key, signed by the CA; returns (cert PEM, key PEM).
pub(crate) fn issue_leaf(
    ca_cert_der: &[u8],
    ca_key: &KeyPair,
    profile: &LeafProfile<'_>,
    now: i64,
) -> Result<(String, String), PkiError> {
    let ca_cert = parse_certificate(ca_cert_der, "CA certificate")?;
    let issuer = Issuer::from_ca_cert_der(&ca_cert_der.into(), ca_key)?;
    let leaf_key = KeyPair::generate()?;

    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    if let [organization] = profile.organizations {
        params.distinguished_name.push(DnType::OrganizationName, *organization);
    }
    params.distinguished_name.push(DnType::CommonName, profile.common_name);
    params.subject_alt_names = profile.sans.iter().map(SubjectAltName::to_rcgen).collect::<Result<_, _>>()?;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![match profile.role {
        LeafRole::Server => ExtendedKeyUsagePurpose::ServerAuth,
        LeafRole::Client => ExtendedKeyUsagePurpose::ClientAuth,
    }];
    params.use_authority_key_identifier_extension = true;
    params.not_before = validity_time(now - BACKDATE_SECS)?.to_datetime();
    // A leaf outliving its CA would only fail verification later; cap it instead.
    let not_after = (now + LEAF_VALIDITY_SECS).min(ca_cert.validity().not_after.timestamp());
    params.not_after = validity_time(not_after)?.to_datetime();

    let signed = params.signed_by(&leaf_key, &issuer)?;
    let cert_der = if profile.organizations.len() > 1 {
        // rcgen keeps one value per attribute type, so several groups need our own subject.
        let subject = der::encode_subject(profile.common_name, profile.organizations);
        der::replace_subject(signed.der(), &subject, ca_key)?
    } else {
        signed.der().to_vec()
    };
    Ok((certificate_pem(&cert_der), leaf_key.serialize_pem()))
}

/// PEM-encodes a DER certificate with 64-column lines.
pub(crate) fn certificate_pem(der: &[u8]) -> String {
    let encoded = BASE64.encode(der);
    let mut pem = String::with_capacity(encoded.len() + encoded.len() / 64 + 64);
    pem.push_str("-----BEGIN CERTIFICATE-----\n");
    for line in encoded.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("base64 output is ASCII"));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

/// Decodes the first PEM block of `pem`, which must be a certificate; `what` names it in errors.
pub(crate) fn certificate_der_from_pem(pem: &str, what: &str) -> Result<Vec<u8>, PkiError> {
    let invalid = |reason: String| PkiError::InvalidCertificate { what: what.to_string(), reason };
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|e| invalid(e.to_string()))?;
    if block.label != "CERTIFICATE" {
        return Err(invalid(format!("PEM block is {:?}, not CERTIFICATE", block.label)));
    }
    Ok(block.contents)
}

pub(crate) fn parse_certificate<'a>(der: &'a [u8], what: &str) -> Result<X509Certificate<'a>, PkiError> {
    match x509_parser::parse_x509_certificate(der) {
        Ok((_, cert)) => Ok(cert),
        Err(e) => Err(PkiError::InvalidCertificate { what: what.to_string(), reason: e.to_string() }),
    }
}

/// Whether `cert` names the CA as issuer and carries a valid signature by the CA's key.
pub(crate) fn is_signed_by(cert: &X509Certificate<'_>, ca: &X509Certificate<'_>) -> bool {
    cert.issuer().as_raw() == ca.subject().as_raw() && cert.verify_signature(Some(ca.public_key())).is_ok()
}

/// Whether `key` is the private half of the public key in `cert`.
pub(crate) fn key_matches(cert: &X509Certificate<'_>, key: &KeyPair) -> bool {
    cert.public_key().subject_public_key.data.as_ref() == key.public_key_raw()
}

/// Every DNS and IP SAN in `cert`.
pub(crate) fn sans_of(cert: &X509Certificate<'_>) -> Vec<SubjectAltName> {
    let Ok(Some(extension)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    extension
        .value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some(SubjectAltName::Dns(dns.to_ascii_lowercase())),
            GeneralName::IPAddress(bytes) => match bytes.len() {
                4 => Some(SubjectAltName::Ip(IpAddr::from(<[u8; 4]>::try_from(*bytes).ok()?))),
                16 => Some(SubjectAltName::Ip(IpAddr::from(<[u8; 16]>::try_from(*bytes).ok()?))),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// Whether `cert` may be used for `role` according to its extended key usage.
pub(crate) fn allows_role(cert: &X509Certificate<'_>, role: LeafRole) -> bool {
    match cert.extended_key_usage() {
        Ok(Some(eku)) => match role {
            LeafRole::Server => eku.value.server_auth,
            LeafRole::Client => eku.value.client_auth,
        },
        _ => false,
    }
}

/// The user (last CN, as Go's crypto/x509 reads it) and groups (every O) named by `cert`.
pub(crate) fn subject_of_certificate(cert: &X509Certificate<'_>) -> Result<(String, Vec<String>), PkiError> {
    let invalid = |reason: String| PkiError::InvalidCertificate { what: "certificate subject".into(), reason };
    let subject = cert.subject();
    let user = match subject.iter_common_name().last() {
        Some(cn) => cn.as_str().map_err(|e| invalid(e.to_string()))?.to_string(),
        None => return Err(PkiError::MissingCommonName),
    };
    let groups = subject
        .iter_organization()
        .map(|o| o.as_str().map(str::to_string).map_err(|e| invalid(e.to_string())))
        .collect::<Result<_, _>>()?;
    Ok((user, groups))
}

/// Whether a leaf certificate and key found on disk can be served again: they parse, belong
/// together, were signed by the CA, are valid now and not about to expire, allow `role`, and
/// pass the caller's own check (`accept`) of names or subject.
pub(crate) fn leaf_is_reusable(
    cert_pem: &str,
    key_pem: &str,
    ca_cert_der: &[u8],
    role: LeafRole,
    now: i64,
    accept: impl FnOnce(&X509Certificate<'_>) -> bool,
) -> bool {
    let Ok(cert_der) = certificate_der_from_pem(cert_pem, "leaf") else { return false };
    let Ok(cert) = parse_certificate(&cert_der, "leaf") else { return false };
    let Ok(ca) = parse_certificate(ca_cert_der, "CA") else { return false };
    let Ok(key) = KeyPair::from_pem(key_pem) else { return false };
    let validity = cert.validity();
    key_matches(&cert, &key)
        && is_signed_by(&cert, &ca)
        && validity.not_before.timestamp() <= now
        && validity.not_after.timestamp() - now > RENEW_BEFORE_SECS
        && allows_role(&cert, role)
        && accept(&cert)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dns(name: &str) -> SubjectAltName {
        SubjectAltName::Dns(name.into())
    }

    fn ip(addr: &str) -> SubjectAltName {
        SubjectAltName::Ip(addr.parse().unwrap())
    }

    #[test]
    fn san_parsing_accepts_addresses_as_written_on_command_lines() {
        assert_eq!(SubjectAltName::parse("10.0.0.1").unwrap(), Some(ip("10.0.0.1")));
        assert_eq!(SubjectAltName::parse("[fd00::1]").unwrap(), Some(ip("fd00::1")));
        assert_eq!(SubjectAltName::parse("10.0.0.1:6443").unwrap(), Some(ip("10.0.0.1")));
        assert_eq!(SubjectAltName::parse("[fd00::1]:6443").unwrap(), Some(ip("fd00::1")));
        assert_eq!(SubjectAltName::parse(" Node-1.Example.COM. ").unwrap(), Some(dns("node-1.example.com")));
        assert_eq!(SubjectAltName::parse("*.apps.example").unwrap(), Some(dns("*.apps.example")));
        assert_eq!(SubjectAltName::parse("  ").unwrap(), None);
        for bad in ["bad name", "-lead.example", "a..b", "ünicode.example", "host:port"] {
            assert!(matches!(SubjectAltName::parse(bad), Err(PkiError::InvalidSan(_))), "{bad}");
        }
    }

    #[test]
    fn serving_sans_follow_kubeadm_order_without_duplicates() {
        let extra = vec!["0.0.0.0".to_string(), "localhost".to_string(), "api.example".to_string()];
        let sans = serving_sans(Some("node1"), &extra).unwrap();
        assert_eq!(
            sans,
            vec![
                ip("127.0.0.1"),
                ip("::1"),
                dns("localhost"),
                dns("node1"),
                ip("0.0.0.0"),
                dns("api.example"),
                dns("kubernetes"),
                dns("kubernetes.default"),
                dns("kubernetes.default.svc"),
                dns("kubernetes.default.svc.cluster.local"),
            ]
        );
    }

    #[test]
    fn pem_encoding_round_trips() {
        let der: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let pem = certificate_pem(&der);
        assert!(pem.lines().all(|line| line.len() <= 64));
        assert_eq!(certificate_der_from_pem(&pem, "test").unwrap(), der);
    }

    #[test]
    fn non_certificate_pem_is_rejected() {
        let key_pem = KeyPair::generate().unwrap().serialize_pem();
        assert!(matches!(certificate_der_from_pem(&key_pem, "k"), Err(PkiError::InvalidCertificate { .. })));
    }
}
