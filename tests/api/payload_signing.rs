//! Payload signatures (the JWS a dynamic BR Code's location will answer): signed by an
//! asymmetric KMS key on moto and by the DEV-ONLY local key, verified by our verifier and
//! by an independent JOSE library (PyPI `jwcrypto`, installed by `make test`) with our
//! JWK Set.

use crate::common::moto;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use tucano_shared::adapters::aws::{blob_of, Service};
use tucano_shared::adapters::kms_signer::KmsSigner;
use tucano_shared::adapters::local_signer::{LocalKeyError, LocalSigner};
use tucano_shared::domain::jws::{self, CertificateChain, Header, JwkSet};
use tucano_shared::ports::PayloadSigner;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jws");

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(FIXTURES).join(name)).unwrap()
}

/// Signs `payload` as the payload location will: the current key's kid and x5t, a jku.
async fn sign(signer: &dyn PayloadSigner, payload: &[u8]) -> (String, JwkSet) {
    let current = signer.current();
    let header = Header::new(&current.kid, &current.chain.x5t(), "https://pix.tucano.test/jwks");
    let input = jws::signing_input(&header, payload);
    let signature = signer.sign(input.as_bytes()).await.unwrap();
    let keys = signer.published().iter().map(|k| k.chain.jwk(&k.kid).unwrap()).collect();
    (jws::compact(&input, &signature), JwkSet { keys })
}

/// `jwcrypto` verifies `token` with `jwks`: Ok(payload) or Err(its complaint).
pub(crate) fn jwcrypto_verifies(token: &str, jwks: &JwkSet) -> Result<String, String> {
    let python = concat!(env!("CARGO_MANIFEST_DIR"), "/.venv-contract/bin/python");
    assert!(Path::new(python).exists(), "the contract venv is missing: `make test` installs jwcrypto into it");
    let script = r#"
import json, sys
from jwcrypto import jwk, jws
keys = jwk.JWKSet.from_json(sys.argv[2])
token = jws.JWS()
token.deserialize(sys.argv[1])
kid = token.jose_header["kid"]
token.verify(keys.get_key(kid), alg="RS256")
print(token.payload.decode())
"#;
    let out = Command::new(python).args(["-c", script, token, &serde_json::to_string(jwks).unwrap()]).output().unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("").to_owned())
    }
}

fn tampered(token: &str) -> String {
    use base64::Engine;
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"valor":{"original":"0.01"}}"#);
    parts.join(".")
}

#[tokio::test]
async fn the_local_key_signs_payloads_an_independent_jose_library_verifies() {
    let key = String::from_utf8(fixture("leaf.pk8.pem")).unwrap();
    let signer = LocalSigner::new(&key, &fixture("chain.pem"), "dev-1").unwrap();
    let payload = br#"{"txid":"tucanotest00000000000000000001","valor":{"original":"10.00"}}"#;
    let (token, jwks) = sign(&signer, payload).await;
    assert_eq!(jwcrypto_verifies(&token, &jwks), Ok(String::from_utf8(payload.to_vec()).unwrap()));
    assert!(jwcrypto_verifies(&tampered(&token), &jwks).is_err(), "a tampered payload does not verify");
    assert_eq!(jws::parse(&token).unwrap().verify(&jwks).unwrap().kid, "dev-1");

    // A key that is not the leaf's is refused at start, not discovered by payers.
    assert!(matches!(LocalSigner::new(&key, &fixture("ca.pem"), "dev-1"), Err(LocalKeyError::Mismatch)));
}

/// A CA and a leaf certificate for `public_key_der` (the KMS key's), made by openssl in
/// `dir`: the chain a PSP would configure for its KMS key.
fn chain_for(public_key_der: &[u8], dir: &Path) -> Vec<u8> {
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, public_key_der)
    );
    std::fs::write(dir.join("kms.pub.pem"), pem).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl (Debian's) is needed");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=Test QR CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
    ]);
    // Any CSR will do: -force_pubkey puts the KMS key in the certificate.
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "csr.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=pix.tucano.test",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-force_pubkey",
        "kms.pub.pem",
        "-out",
        "leaf.pem",
    ]);
    [std::fs::read(dir.join("leaf.pem")).unwrap(), std::fs::read(dir.join("ca.pem")).unwrap()].concat()
}

#[tokio::test]
async fn a_kms_key_signs_payloads_that_verify_with_the_published_chain() {
    let moto = moto::Moto::start().await;
    let aws = moto.aws();
    let kms = aws.client(Service::Kms);
    let created = kms
        .call("CreateKey", &json!({"KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY", "Description": "payloads"}))
        .await
        .unwrap();
    let key_id = created["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    let public = kms.call("GetPublicKey", &json!({"KeyId": key_id})).await.unwrap();
    let dir: PathBuf = std::env::temp_dir().join(format!("tucano-kms-chain-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let chain = CertificateChain::from_pem(&chain_for(&blob_of(&public["PublicKey"]).unwrap(), &dir)).unwrap();
    let _ = std::fs::remove_dir_all(&dir);

    let signer = KmsSigner::new(&aws, &key_id, chain, "kms-1").await.unwrap();
    let payload = br#"{"txid":"tucanotest00000000000000000002","status":"ATIVA"}"#;
    let (token, jwks) = sign(&signer, payload).await;
    assert_eq!(jwks.keys[0].x5c.len(), 2);
    assert_eq!(jws::parse(&token).unwrap().verify(&jwks).unwrap().kid, "kms-1");
    assert!(jwcrypto_verifies(&token, &jwks).is_ok(), "{:?}", jwcrypto_verifies(&token, &jwks));
    assert!(jwcrypto_verifies(&tampered(&token), &jwks).is_err());

    // A chain that is not the KMS key's stops the signer at start.
    let wrong = CertificateChain::from_pem(&fixture("chain.pem")).unwrap();
    let refused = KmsSigner::new(&aws, &key_id, wrong, "kms-1").await.err().expect("a mismatched chain");
    assert!(refused.to_string().contains("not the key of the certificate chain's leaf"), "{refused}");
}
