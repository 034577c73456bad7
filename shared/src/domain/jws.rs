//! Signed payloads (compact JWS, RFC 7515) as Bacen's security manual wants a dynamic BR
//! Code's payload location to answer, and the JWK Set (RFC 7517) a payer's bank verifies
//! them with.
//!
//! The algorithm is RS256 (RSASSA-PKCS1-v1_5 with SHA-256): the one in Bacen's own example
//! header, so the one every payer-side validator accepts; KMS signs with it
//! (`RSASSA_PKCS1_V1_5_SHA_256`) and PKCS#1 v1.5 signatures have no practical forgery when
//! verified strictly. The protected header carries `alg`, `typ`, `kid`, `x5t` (base64url,
//! unpadded SHA-1 of the leaf certificate's DER, as the manual defines it) and `jku`; the
//! JWKS entry carries the same `kid` and `x5t`, `x5c` (leaf first, then its chain, plain
//! base64), `n` and `e`.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use base64::Engine;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::signature::Verifier;
use rsa::traits::PublicKeyParts;
use rsa::RsaPublicKey;
use serde::{Deserialize, Serialize};
use sha1::Digest as _;
use x509_cert::der::{Decode, Encode};
use x509_cert::Certificate;

/// The one algorithm we sign with.
pub const ALG: &str = "RS256";

/// RSASSA-PSS with SHA-256: Bacen's first payload example used it and some PSPs sign with
/// it; we verify it, and sign with RS256, which every payer's bank reads.
pub const PSS_ALG: &str = "PS256";

/// Why a certificate chain, a key set or a signed payload is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    #[error("the certificate chain is not PEM or DER certificates")]
    BadCertificate,
    #[error("the signing certificate does not hold an RSA key of at least 2048 bits")]
    NotRsa,
    #[error("not a compact JWS")]
    Malformed,
    #[error("the JWS algorithm is not RS256")]
    Algorithm,
    #[error("no key in the key set has this kid and x5t")]
    UnknownKey,
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the signing certificate does not chain to a trusted CA, is not valid now, or is not the location host's")]
    Untrusted,
}

/// The CAs whose certificates we accept on other PSPs' payloads: the public web roots
/// (Bacen requires a CA widely recognised by browsers), or a configured PEM bundle (the
/// dev CA locally).
pub struct TrustStore {
    anchors: Vec<rustls_pki_types::TrustAnchor<'static>>,
}

impl TrustStore {
    pub fn public_roots() -> Self {
        TrustStore { anchors: webpki_roots::TLS_SERVER_ROOTS.to_vec() }
    }

    pub fn from_pem(pem: &[u8]) -> Result<Self, JwsError> {
        let certs = Certificate::load_pem_chain(pem).map_err(|_| JwsError::BadCertificate)?;
        let mut anchors = vec![];
        for cert in certs {
            let der = rustls_pki_types::CertificateDer::from(cert.to_der().map_err(|_| JwsError::BadCertificate)?);
            let anchor = webpki::anchor_from_trusted_cert(&der).map_err(|_| JwsError::BadCertificate)?;
            anchors.push(anchor.to_owned());
        }
        if anchors.is_empty() {
            return Err(JwsError::BadCertificate);
        }
        Ok(TrustStore { anchors })
    }

    /// Whether `jwk`'s certificate (its `x5c` leaf, with the rest as intermediates) chains to
    /// one of these CAs at `now` (Unix seconds), may authenticate a server (as a site's
    /// certificate does) and names `host` (the payload location's host).
    pub fn check(&self, jwk: &Jwk, host: &str, now: u64) -> Result<(), JwsError> {
        let ders = x5c_ders(jwk).ok_or(JwsError::Untrusted)?;
        let (leaf, rest) = ders.split_first().ok_or(JwsError::Untrusted)?;
        let leaf = rustls_pki_types::CertificateDer::from(leaf.as_slice());
        let intermediates: Vec<_> = rest.iter().map(|d| rustls_pki_types::CertificateDer::from(d.as_slice())).collect();
        let cert = webpki::EndEntityCert::try_from(&leaf).map_err(|_| JwsError::Untrusted)?;
        cert.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &self.anchors,
            &intermediates,
            rustls_pki_types::UnixTime::since_unix_epoch(std::time::Duration::from_secs(now)),
            webpki::KeyUsage::server_auth(),
            None,
            None,
        )
        .map_err(|_| JwsError::Untrusted)?;
        let name = rustls_pki_types::ServerName::try_from(host).map_err(|_| JwsError::Untrusted)?;
        cert.verify_is_valid_for_subject_name(&name).map_err(|_| JwsError::Untrusted)
    }
}

/// The certificate chain a signing key is published with: leaf first, each next one the
/// issuer of the previous.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateChain {
    der: Vec<Vec<u8>>,
}

impl CertificateChain {
    /// From PEM (`-----BEGIN CERTIFICATE-----` blocks, leaf first).
    pub fn from_pem(pem: &[u8]) -> Result<Self, JwsError> {
        let certs = Certificate::load_pem_chain(pem).map_err(|_| JwsError::BadCertificate)?;
        let der: Result<Vec<Vec<u8>>, _> = certs.iter().map(|c| c.to_der()).collect();
        let der = der.map_err(|_| JwsError::BadCertificate)?;
        if der.is_empty() {
            return Err(JwsError::BadCertificate);
        }
        let chain = CertificateChain { der };
        chain.public_key()?;
        Ok(chain)
    }

    pub fn leaf(&self) -> &[u8] {
        &self.der[0]
    }

    /// `x5t`: base64url (unpadded) SHA-1 of the leaf's DER.
    pub fn x5t(&self) -> String {
        B64.encode(sha1::Sha1::digest(self.leaf()))
    }

    /// The leaf's RSA public key.
    pub fn public_key(&self) -> Result<RsaPublicKey, JwsError> {
        let cert = Certificate::from_der(self.leaf()).map_err(|_| JwsError::BadCertificate)?;
        let spki = cert.tbs_certificate.subject_public_key_info;
        let spki_der = spki.to_der().map_err(|_| JwsError::BadCertificate)?;
        let key = <RsaPublicKey as rsa::pkcs8::DecodePublicKey>::from_public_key_der(&spki_der)
            .map_err(|_| JwsError::NotRsa)?;
        if key.size() < 256 {
            return Err(JwsError::NotRsa);
        }
        Ok(key)
    }

    /// The JWK Set entry for this chain's leaf under `kid`.
    pub fn jwk(&self, kid: &str) -> Result<Jwk, JwsError> {
        let key = self.public_key()?;
        Ok(Jwk {
            kty: "RSA".into(),
            r#use: "sig".into(),
            key_ops: vec!["verify".into()],
            alg: ALG.into(),
            kid: kid.into(),
            x5t: self.x5t(),
            x5t_s256: self.der.first().map(|leaf| B64.encode(sha2::Sha256::digest(leaf))).unwrap_or_default(),
            x5c: self.der.iter().map(|d| STANDARD.encode(d)).collect(),
            n: B64.encode(key.n().to_bytes_be()),
            e: B64.encode(key.e().to_bytes_be()),
        })
    }
}

/// One key of a JWK Set. Read leniently (RFC 7517 makes `use`, `alg`, `key_ops` optional;
/// absent, they are empty), written whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(rename = "use", default)]
    pub r#use: String,
    #[serde(default)]
    pub key_ops: Vec<String>,
    #[serde(default)]
    pub alg: String,
    #[serde(default)]
    pub kid: String,
    #[serde(default)]
    pub x5t: String,
    /// The SHA-256 thumbprint some PSPs publish instead of (or beside) `x5t`.
    #[serde(rename = "x5t#S256", default, skip_serializing_if = "String::is_empty")]
    pub x5t_s256: String,
    #[serde(default)]
    pub x5c: Vec<String>,
    #[serde(default)]
    pub n: String,
    #[serde(default)]
    pub e: String,
}

impl Jwk {
    /// Whether the key's own declarations (when it makes them) allow verifying `alg`.
    fn may_verify(&self, alg: &str) -> bool {
        self.kty == "RSA"
            && (self.r#use.is_empty() || self.r#use == "sig")
            // "RSA" is not a JWS algorithm, but some PSPs publish it for their signing keys.
            && (self.alg.is_empty() || self.alg == alg || self.alg == "RSA")
            && (self.key_ops.is_empty() || self.key_ops.iter().any(|o| o == "verify"))
    }
}

/// A JWK Set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

impl JwkSet {
    /// Another PSP's key set: entries that are not keys we can read (another key type, a
    /// member of an unexpected shape) are skipped, not a reason to refuse the set.
    pub fn from_json(bytes: &[u8]) -> Result<JwkSet, JwsError> {
        #[derive(Deserialize)]
        struct Raw {
            keys: Vec<serde_json::Value>,
        }
        let raw: Raw = serde_json::from_slice(bytes).map_err(|_| JwsError::UnknownKey)?;
        Ok(JwkSet { keys: raw.keys.into_iter().filter_map(|k| serde_json::from_value(k).ok()).collect() })
    }
}

/// The DER of a key's `x5c` certificates (standard base64; line breaks, which some PSPs
/// leave in, are ignored).
fn x5c_ders(jwk: &Jwk) -> Option<Vec<Vec<u8>>> {
    jwk.x5c
        .iter()
        .map(|c| STANDARD.decode(c.chars().filter(|ch| !ch.is_ascii_whitespace()).collect::<String>()).ok())
        .collect()
}

fn leaf_der(jwk: &Jwk) -> Option<Vec<u8>> {
    x5c_ders(jwk)?.into_iter().next()
}

/// A thumbprint as base64url without padding, however it was written (some PSPs pad it,
/// or use the standard alphabet).
fn thumbprint(declared: &str) -> String {
    declared.trim_end_matches('=').replace('+', "-").replace('/', "_")
}

/// A big-endian unsigned integer without its leading zero bytes (some serialisers add one).
fn unsigned(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// The protected header of a payload JWS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    /// Extensions the verifier must understand (RFC 7515 §4.1.11): we understand none, so a
    /// header that names any is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crit: Option<Vec<String>>,
    pub kid: String,
    /// The signing certificate's SHA-1 thumbprint; Bacen's own 2.9.0 example carries only
    /// the SHA-256 one (`x5t#S256`): one of the two is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x5t: Option<String>,
    #[serde(rename = "x5t#S256", default, skip_serializing_if = "Option::is_none")]
    pub x5t_s256: Option<String>,
    pub jku: String,
}

impl Header {
    pub fn new(kid: &str, x5t: &str, jku: &str) -> Self {
        Header {
            alg: ALG.into(),
            typ: Some("JOSE".into()),
            crit: None,
            kid: kid.into(),
            x5t: Some(x5t.into()),
            x5t_s256: None,
            jku: jku.into(),
        }
    }
}

/// The signing input (`base64url(header) "." base64url(payload)`) of `payload` under
/// `header`; the caller signs it and calls [`compact`].
pub fn signing_input(header: &Header, payload: &[u8]) -> String {
    let header = serde_json::to_vec(header).unwrap_or_default();
    format!("{}.{}", B64.encode(header), B64.encode(payload))
}

/// The compact serialization of a signed input.
pub fn compact(signing_input: &str, signature: &[u8]) -> String {
    format!("{signing_input}.{}", B64.encode(signature))
}

/// A compact JWS taken apart (nothing verified yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub header: Header,
    pub payload: Vec<u8>,
    signing_input: String,
    signature: Vec<u8>,
}

/// Takes a compact JWS apart. Anything but RS256 (`none`, `HS256`, ...) is refused here.
pub fn parse(jws: &str) -> Result<Parsed, JwsError> {
    let jws = jws.trim();
    let mut parts = jws.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JwsError::Malformed);
    };
    let decode = |x: &str| B64.decode(x).map_err(|_| JwsError::Malformed);
    let header: Header = serde_json::from_slice(&decode(h)?).map_err(|_| JwsError::Malformed)?;
    if header.alg != ALG && header.alg != PSS_ALG {
        return Err(JwsError::Algorithm);
    }
    if header.crit.is_some() || header.x5t.is_none() && header.x5t_s256.is_none() {
        return Err(JwsError::Malformed);
    }
    let signature = decode(s)?;
    if signature.is_empty() {
        return Err(JwsError::BadSignature);
    }
    Ok(Parsed { header, payload: decode(p)?, signing_input: format!("{h}.{p}"), signature })
}

impl Parsed {
    /// Verifies the signature with the key of `keys` whose `kid` is the header's and whose
    /// `x5c` leaf has the thumbprints the header and the key declare (SHA-1 `x5t`, SHA-256
    /// `x5t#S256`: whichever each gives, however base64-padded) and that public key.
    /// Whether that certificate chains to a trusted CA is the caller's check.
    pub fn verify<'k>(&self, keys: &'k JwkSet) -> Result<&'k Jwk, JwsError> {
        let h = &self.header;
        let jwk = keys
            .keys
            .iter()
            .filter(|k| k.kid == h.kid && k.may_verify(&h.alg))
            .find(|k| {
                leaf_der(k).is_some_and(|leaf| {
                    let (sha1, sha256) =
                        (B64.encode(sha1::Sha1::digest(&leaf)), B64.encode(sha2::Sha256::digest(&leaf)));
                    let agrees =
                        |declared: Option<&str>, actual: &str| declared.is_none_or(|d| thumbprint(d) == actual);
                    agrees(h.x5t.as_deref(), &sha1)
                        && agrees(h.x5t_s256.as_deref(), &sha256)
                        && agrees(Some(&k.x5t).filter(|t| !t.is_empty()).map(String::as_str), &sha1)
                        && agrees(Some(&k.x5t_s256).filter(|t| !t.is_empty()).map(String::as_str), &sha256)
                })
            })
            .ok_or(JwsError::UnknownKey)?;
        let leaf = leaf_der(jwk).ok_or(JwsError::UnknownKey)?;
        let chain = CertificateChain { der: vec![leaf] };
        let key = chain.public_key()?;
        let (n, e) = (
            B64.decode(&jwk.n).map_err(|_| JwsError::UnknownKey)?,
            B64.decode(&jwk.e).map_err(|_| JwsError::UnknownKey)?,
        );
        if unsigned(&n) != key.n().to_bytes_be() || unsigned(&e) != key.e().to_bytes_be() {
            return Err(JwsError::UnknownKey);
        }
        let input = self.signing_input.as_bytes();
        let verified = if self.header.alg == PSS_ALG {
            let signature =
                rsa::pss::Signature::try_from(self.signature.as_slice()).map_err(|_| JwsError::BadSignature)?;
            rsa::pss::VerifyingKey::<sha2::Sha256>::new(key).verify(input, &signature)
        } else {
            let signature = Signature::try_from(self.signature.as_slice()).map_err(|_| JwsError::BadSignature)?;
            VerifyingKey::<sha2::Sha256>::new(key).verify(input, &signature)
        };
        verified.map_err(|_| JwsError::BadSignature)?;
        Ok(jwk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::signature::{SignatureEncoding, Signer};

    const CHAIN: &[u8] = include_bytes!("../../../tests/fixtures/jws/chain.pem");
    const KEY: &str = include_str!("../../../tests/fixtures/jws/leaf.pk8.pem");

    fn sign(input: &str) -> Vec<u8> {
        let key = rsa::RsaPrivateKey::from_pkcs8_pem(KEY).unwrap();
        rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key).sign(input.as_bytes()).to_vec()
    }

    fn signed(payload: &[u8], kid: &str) -> (String, JwkSet) {
        let chain = CertificateChain::from_pem(CHAIN).unwrap();
        let header = Header::new(kid, &chain.x5t(), "https://pix.tucano.test/jwks");
        let input = signing_input(&header, payload);
        (compact(&input, &sign(&input)), JwkSet { keys: vec![chain.jwk("k1").unwrap()] })
    }

    #[test]
    fn a_signed_payload_verifies_with_the_published_key_set() {
        let (jws, keys) = signed(br#"{"txid":"x"}"#, "k1");
        let parsed = parse(&jws).unwrap();
        assert_eq!(parsed.payload, br#"{"txid":"x"}"#);
        assert_eq!(parsed.verify(&keys).unwrap().kid, "k1");
        let jwk = &keys.keys[0];
        assert_eq!(jwk.x5c.len(), 2, "leaf and its CA");
        assert_eq!(jwk.x5t.len(), 27, "an unpadded base64url SHA-1");
        assert!(!jwk.x5c[0].contains('\n') && !jwk.x5c[0].contains('-'), "plain base64");
    }

    #[test]
    fn another_psps_key_set_is_read_leniently_but_its_declarations_are_honoured() {
        let (jws, keys) = signed(b"{}", "k1");
        let mut entry = serde_json::to_value(&keys.keys[0]).unwrap();
        entry.as_object_mut().unwrap().remove("use");
        entry.as_object_mut().unwrap().remove("alg");
        entry.as_object_mut().unwrap().remove("key_ops");
        // n with the leading zero byte some serialisers write.
        let n = B64.decode(entry["n"].as_str().unwrap()).unwrap();
        entry["n"] = serde_json::json!(B64.encode([&[0u8][..], &n].concat()));
        let set = serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "other"}, entry]});
        let lenient = JwkSet::from_json(set.to_string().as_bytes()).unwrap();
        assert_eq!(parse(&jws).unwrap().verify(&lenient).unwrap().kid, "k1");
        let mut encryption = lenient.clone();
        encryption.keys.iter_mut().for_each(|k| k.r#use = "enc".into());
        assert_eq!(
            parse(&jws).unwrap().verify(&encryption),
            Err(JwsError::UnknownKey),
            "a key declared for encryption"
        );
    }

    /// A JWS of `payload` under a header written by hand (as another PSP might).
    fn signed_with_header(payload: &[u8], header: serde_json::Value) -> String {
        let input = format!("{}.{}", B64.encode(header.to_string()), B64.encode(payload));
        compact(&input, &sign(&input))
    }

    #[test]
    fn the_thumbprint_may_be_sha_256_or_padded_and_the_certificates_wrapped_as_other_psps_write_them() {
        let (_, keys) = signed(b"{}", "k1");
        let jwk = &keys.keys[0];
        let jku = "https://pix.tucano.test/jwks";
        // Bacen's own 2.9.0 example: x5t#S256 and no x5t.
        let s256 = signed_with_header(
            b"{}",
            serde_json::json!({"alg": "RS256", "kid": "k1", "x5t#S256": jwk.x5t_s256, "jku": jku}),
        );
        assert_eq!(parse(&s256).unwrap().verify(&keys).map(|k| k.kid.as_str()), Ok("k1"));
        // A padded thumbprint in the header and in the key; the key's certificates wrapped
        // at 64 characters; "RSA" as its alg.
        let padded = format!("{}=", jwk.x5t);
        let jws =
            signed_with_header(b"{}", serde_json::json!({"alg": "RS256", "kid": "k1", "x5t": padded, "jku": jku}));
        let mut odd = jwk.clone();
        odd.x5t = padded.clone();
        odd.alg = "RSA".into();
        odd.x5c = odd
            .x5c
            .iter()
            .map(|c| c.as_bytes().chunks(64).map(|l| String::from_utf8_lossy(l)).collect::<Vec<_>>().join("\n"))
            .collect();
        let theirs = JwkSet { keys: vec![odd.clone()] };
        assert_eq!(parse(&jws).unwrap().verify(&theirs).map(|k| k.kid.as_str()), Ok("k1"));
        let dev_ca = TrustStore::from_pem(include_bytes!("../../../tests/fixtures/jws/ca.pem")).unwrap();
        assert_eq!(dev_ca.check(&odd, "pix.tucano.test", 1_800_000_000), Ok(()));
        // A thumbprint of another certificate, or none at all, is still refused.
        let wrong = signed_with_header(
            b"{}",
            serde_json::json!({"alg": "RS256", "kid": "k1", "x5t#S256": jwk.x5t, "jku": jku}),
        );
        assert_eq!(parse(&wrong).unwrap().verify(&keys), Err(JwsError::UnknownKey));
        let none = signed_with_header(b"{}", serde_json::json!({"alg": "RS256", "kid": "k1", "jku": jku}));
        assert_eq!(parse(&none), Err(JwsError::Malformed));
    }

    #[test]
    fn a_payload_another_psp_signed_with_ps256_verifies_and_a_tampered_one_does_not() {
        use rsa::signature::RandomizedSigner;
        let (_, mut keys) = signed(b"{}", "k1");
        keys.keys[0].alg = PSS_ALG.into();
        let x5t = keys.keys[0].x5t.clone();
        let header =
            serde_json::json!({"alg": "PS256", "kid": "k1", "x5t": x5t, "jku": "https://pix.tucano.test/jwks"});
        let h = B64.encode(header.to_string());
        let input = format!("{h}.{}", B64.encode(br#"{"txid":"x"}"#));
        let key = rsa::RsaPrivateKey::from_pkcs8_pem(KEY).unwrap();
        let pss =
            rsa::pss::SigningKey::<sha2::Sha256>::new(key).sign_with_rng(&mut rand::thread_rng(), input.as_bytes());
        let jws = compact(&input, &pss.to_vec());
        assert_eq!(parse(&jws).unwrap().verify(&keys).map(|k| k.kid.as_str()), Ok("k1"));
        let forged = compact(&format!("{h}.{}", B64.encode(br#"{"txid":"y"}"#)), &pss.to_vec());
        assert_eq!(parse(&forged).unwrap().verify(&keys), Err(JwsError::BadSignature));
        // An RS256 signature is no PS256 one; a key declared for RS256 verifies no PS256.
        let rs = compact(&input, &sign(&input));
        assert_eq!(parse(&rs).unwrap().verify(&keys), Err(JwsError::BadSignature));
        keys.keys[0].alg = ALG.into();
        assert_eq!(parse(&jws).unwrap().verify(&keys), Err(JwsError::UnknownKey));
    }

    #[test]
    fn a_key_is_trusted_only_when_its_chain_reaches_a_trusted_ca_for_the_location_host() {
        let (_, keys) = signed(b"{}", "k1");
        let jwk = &keys.keys[0];
        let now = 1_800_000_000; // 2027
        let dev_ca = TrustStore::from_pem(include_bytes!("../../../tests/fixtures/jws/ca.pem")).unwrap();
        assert_eq!(dev_ca.check(jwk, "pix.tucano.test", now), Ok(()));
        assert_eq!(dev_ca.check(jwk, "127.0.0.1", now), Ok(()));
        assert_eq!(dev_ca.check(jwk, "pix.other.example", now), Err(JwsError::Untrusted), "another host");
        assert_eq!(TrustStore::public_roots().check(jwk, "pix.tucano.test", now), Err(JwsError::Untrusted));
        assert_eq!(dev_ca.check(jwk, "pix.tucano.test", 4_000_000_000), Err(JwsError::Untrusted), "expired");
        let mut alone = jwk.clone();
        alone.x5c.truncate(1);
        assert_eq!(dev_ca.check(&alone, "pix.tucano.test", now), Ok(()), "the CA itself is the anchor");
    }

    #[test]
    fn tampering_another_kid_and_unsigned_tokens_are_refused() {
        let (jws, keys) = signed(br#"{"valor":{"original":"10.00"}}"#, "k1");
        let mut parts: Vec<String> = jws.split('.').map(str::to_owned).collect();
        parts[1] = B64.encode(br#"{"valor":{"original":"0.01"}}"#);
        assert_eq!(parse(&parts.join(".")).unwrap().verify(&keys), Err(JwsError::BadSignature));
        let (other, _) = signed(b"{}", "k2");
        assert_eq!(parse(&other).unwrap().verify(&keys), Err(JwsError::UnknownKey));
        for alg in ["none", "HS256", "RS512", "PS384"] {
            let header = B64.encode(format!(r#"{{"alg":"{alg}","kid":"k1","x5t":"x","jku":"https://a/b"}}"#));
            assert_eq!(parse(&format!("{header}.{}.AAAA", B64.encode(b"{}"))), Err(JwsError::Algorithm), "{alg}");
        }
        assert_eq!(parse("a.b"), Err(JwsError::Malformed));
        let crit = B64.encode(r#"{"alg":"RS256","crit":["exp"],"kid":"k1","x5t":"x","jku":"https://a/b"}"#);
        assert_eq!(parse(&format!("{crit}.{}.AAAA", B64.encode(b"{}"))), Err(JwsError::Malformed), "crit");
        let mut wrong_key = keys.clone();
        wrong_key.keys[0].n = B64.encode([0xff; 256]);
        assert_eq!(parse(&jws).unwrap().verify(&wrong_key), Err(JwsError::UnknownKey), "n must be the leaf's key");
    }
}
