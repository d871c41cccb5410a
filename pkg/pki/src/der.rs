//! Minimal DER surgery: swaps a certificate's subject for one with several organizations and
//! re-signs it, since rcgen's names hold at most one value per attribute type.

use rcgen::SigningKey;

use crate::PkiError;

const TAG_SEQUENCE: u8 = 0x30;
const TAG_SET: u8 = 0x31;
const TAG_OID: u8 = 0x06;
const TAG_UTF8_STRING: u8 = 0x0c;
const TAG_BIT_STRING: u8 = 0x03;
/// `[0] EXPLICIT Version`, present in every v3 certificate.
const TAG_VERSION: u8 = 0xa0;

/// id-at-commonName (2.5.4.3), content octets only.
const OID_COMMON_NAME: [u8; 3] = [0x55, 0x04, 0x03];
/// id-at-organizationName (2.5.4.10), content octets only.
const OID_ORGANIZATION: [u8; 3] = [0x55, 0x04, 0x0a];

fn push_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let leading_zeros = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - leading_zeros) as u8);
        out.extend_from_slice(&bytes[leading_zeros..]);
    }
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    push_length(&mut out, content.len());
    out.extend_from_slice(content);
    out
}

/// One single-valued RDN: `SET { SEQUENCE { type, UTF8String value } }`.
fn relative_distinguished_name(oid: &[u8], value: &str) -> Vec<u8> {
    let mut attribute = tlv(TAG_OID, oid);
    attribute.extend(tlv(TAG_UTF8_STRING, value.as_bytes()));
    tlv(TAG_SET, &tlv(TAG_SEQUENCE, &attribute))
}

/// Encodes an X.509 Name the way Go's crypto/x509 orders it: every organization, then the
/// common name, each in its own RDN.
pub(crate) fn encode_subject(common_name: &str, organizations: &[&str]) -> Vec<u8> {
    let mut rdns = Vec::new();
    for organization in organizations {
        rdns.extend(relative_distinguished_name(&OID_ORGANIZATION, organization));
    }
    rdns.extend(relative_distinguished_name(&OID_COMMON_NAME, common_name));
    tlv(TAG_SEQUENCE, &rdns)
}

/// Splits the DER element at the start of `input` into (header length, content length).
/// Only the single-byte tags X.509 uses at the levels walked here are supported.
fn element_header(input: &[u8]) -> Option<(usize, usize)> {
    let tag = *input.first()?;
    if tag & 0x1f == 0x1f {
        return None;
    }
    let first_length_byte = *input.get(1)?;
    let (header_len, content_len) = if first_length_byte < 0x80 {
        (2, first_length_byte as usize)
    } else {
        let length_bytes = (first_length_byte & 0x7f) as usize;
        if length_bytes == 0 || length_bytes > std::mem::size_of::<usize>() {
            return None;
        }
        let encoded = input.get(2..2 + length_bytes)?;
        let content_len = encoded.iter().fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (2 + length_bytes, content_len)
    };
    (input.len() >= header_len.checked_add(content_len)?).then_some((header_len, content_len))
}

/// Length of the whole DER element (header plus content) at the start of `input`.
fn element_len(input: &[u8]) -> Option<usize> {
    element_header(input).map(|(header, content)| header + content)
}

fn malformed() -> PkiError {
    PkiError::InvalidCertificate { what: "freshly issued certificate".into(), reason: "malformed DER".into() }
}

/// Returns `cert_der` with its subject replaced by `subject_der`, re-signed by `signer`, which
/// must be the key that signed `cert_der` so the copied signatureAlgorithm stays truthful.
pub(crate) fn replace_subject(
    cert_der: &[u8],
    subject_der: &[u8],
    signer: &impl SigningKey,
) -> Result<Vec<u8>, PkiError> {
    // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
    let (cert_header, cert_content_len) = element_header(cert_der).ok_or_else(malformed)?;
    let cert_content = &cert_der[cert_header..cert_header + cert_content_len];
    let tbs_len = element_len(cert_content).ok_or_else(malformed)?;
    let (tbs, after_tbs) = cert_content.split_at(tbs_len);
    let signature_algorithm = &after_tbs[..element_len(after_tbs).ok_or_else(malformed)?];

    // TBSCertificate ::= SEQUENCE { [0] version, serialNumber, signature, issuer, validity,
    //                               subject, ... }
    let (tbs_header, tbs_content_len) = element_header(tbs).ok_or_else(malformed)?;
    let tbs_content = &tbs[tbs_header..tbs_header + tbs_content_len];
    let elements_before_subject = if tbs_content.first() == Some(&TAG_VERSION) { 5 } else { 4 };
    let mut subject_start = 0;
    for _ in 0..elements_before_subject {
        subject_start += element_len(&tbs_content[subject_start..]).ok_or_else(malformed)?;
    }
    let subject_end = subject_start + element_len(&tbs_content[subject_start..]).ok_or_else(malformed)?;

    let mut new_tbs_content = Vec::with_capacity(tbs_content.len() + subject_der.len());
    new_tbs_content.extend_from_slice(&tbs_content[..subject_start]);
    new_tbs_content.extend_from_slice(subject_der);
    new_tbs_content.extend_from_slice(&tbs_content[subject_end..]);
    let new_tbs = tlv(TAG_SEQUENCE, &new_tbs_content);

    let signature = signer.sign(&new_tbs)?;
    let mut bit_string = Vec::with_capacity(signature.len() + 1);
    bit_string.push(0); // no unused bits
    bit_string.extend_from_slice(&signature);

    let mut new_cert_content = new_tbs;
    new_cert_content.extend_from_slice(signature_algorithm);
    new_cert_content.extend(tlv(TAG_BIT_STRING, &bit_string));
    Ok(tlv(TAG_SEQUENCE, &new_cert_content))
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::FromDer;

    #[test]
    fn long_form_lengths_round_trip() {
        for len in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let encoded = tlv(TAG_SEQUENCE, &vec![0u8; len]);
            assert_eq!(element_header(&encoded).map(|(_, content)| content), Some(len));
            assert_eq!(element_len(&encoded), Some(encoded.len()));
        }
    }

    #[test]
    fn truncated_elements_are_rejected() {
        assert_eq!(element_header(&[TAG_SEQUENCE, 5, 0, 0]), None);
        assert_eq!(element_header(&[TAG_SEQUENCE, 0x82, 0x01]), None);
        assert_eq!(element_header(&[]), None);
    }

    #[test]
    fn subject_parses_with_every_organization() {
        let der = encode_subject("alice", &["dev", "ops"]);
        let (rest, name) = x509_parser::x509::X509Name::from_der(&der).unwrap();
        assert!(rest.is_empty());
        let organizations: Vec<_> = name.iter_organization().map(|o| o.as_str().unwrap()).collect();
        assert_eq!(organizations, ["dev", "ops"]);
        assert_eq!(name.iter_common_name().next().unwrap().as_str().unwrap(), "alice");
    }
}
