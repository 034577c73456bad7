//! Payload signatures (the JWS a dynamic BR Code's location will answer): signed by an
//! asymmetric KMS key on moto and by the DEV-ONLY local key, verified by our verifier and
//! by an independent JOSE library (PyPI `jwcrypto`, installed by `make test`) with our
//! JWK Set.

use crate::common::certs::{chain_for, fresh_key};
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
    let signer = LocalSigner::new(&key, &fixture("chain.pem"), Some("dev-1")).unwrap();
    let payload = br#"{"txid":"tucanotest00000000000000000001","valor":{"original":"10.00"}}"#;
    let (token, jwks) = sign(&signer, payload).await;
    assert_eq!(jwcrypto_verifies(&token, &jwks), Ok(String::from_utf8(payload.to_vec()).unwrap()));
    assert!(jwcrypto_verifies(&tampered(&token), &jwks).is_err(), "a tampered payload does not verify");
    assert_eq!(jws::parse(&token).unwrap().verify(&jwks).unwrap().kid, "dev-1");

    // A key that is not the leaf's is refused at start, not discovered by payers.
    assert!(matches!(LocalSigner::new(&key, &fixture("ca.pem"), Some("dev-1")), Err(LocalKeyError::Mismatch)));
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

    let signer = KmsSigner::new(&aws, &key_id, chain, Some("kms-1")).await.unwrap();
    let payload = br#"{"txid":"tucanotest00000000000000000002","status":"ATIVA"}"#;
    let (token, jwks) = sign(&signer, payload).await;
    assert_eq!(jwks.keys[0].x5c.len(), 2);
    assert_eq!(jws::parse(&token).unwrap().verify(&jwks).unwrap().kid, "kms-1");
    assert!(jwcrypto_verifies(&token, &jwks).is_ok(), "{:?}", jwcrypto_verifies(&token, &jwks));
    assert!(jwcrypto_verifies(&tampered(&token), &jwks).is_err());

    // A chain that is not the KMS key's stops the signer at start.
    let wrong = CertificateChain::from_pem(&fixture("chain.pem")).unwrap();
    let refused = KmsSigner::new(&aws, &key_id, wrong, Some("kms-1")).await.err().expect("a mismatched chain");
    assert!(refused.to_string().contains("not the key of the certificate chain's leaf"), "{refused}");
}

/// The payload of a charge at `app`'s location, its JWS header's kid, and the key set the
/// app publishes.
async fn served(app: &crate::common::TestApp, m: &crate::common::TestMerchant, n: u32) -> (String, String, JwkSet) {
    use crate::common::{call, charge_body, txid};
    let (status, _, cob) = call(
        app.request(reqwest::Method::PUT, &format!("/v2/cob/{}", txid(n)), m)
            .json(&charge_body("rotacao@example.com", "1.00")),
    )
    .await;
    assert_eq!(status, 201, "{cob}");
    let token = cob["location"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let res = app.anonymous(reqwest::Method::GET, &format!("/qr/v2/{token}")).send().await.unwrap();
    let jws_text = res.text().await.unwrap();
    let kid = jws::parse(&jws_text).unwrap().header.kid;
    let (_, _, set) = call(app.anonymous(reqwest::Method::GET, "/.well-known/jwks.json")).await;
    (jws_text, kid, serde_json::from_value(set).unwrap())
}

/// Rotation: the key set publishes the next key beside the signing one (payers' banks may
/// keep our key set a while), then, once the next key signs, the previous one beside it.
/// Each key's kid is its certificate's thumbprint; payloads verify with the published set
/// at every step, with jwcrypto and with our own verifier.
#[sqlx::test(migrations = "./migrations")]
async fn the_key_set_publishes_a_second_key_while_one_rotates_in_and_out(pool: sqlx::PgPool) {
    use tucano_shared::app::AlsoPublish;
    let dir = std::env::temp_dir().join(format!("tucano-rotation-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let (next_key, next_pem) = fresh_key(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    let current_x5t = CertificateChain::from_pem(&fixture("chain.pem")).unwrap().x5t();
    let next_x5t = CertificateChain::from_pem(&next_pem).unwrap().x5t();

    // Before: the current key signs; the next is published beside it.
    let next = next_pem.clone();
    let app = crate::common::TestApp::spawn_configured(pool.clone(), move |c| {
        c.payloads.also_publish = Some(AlsoPublish::Pem(next));
    })
    .await;
    let m = app.merchant("Loja", "rotacao@example.com").await;
    let (token, kid, set) = served(&app, &m, 1).await;
    let kids: Vec<&str> = set.keys.iter().map(|k| k.kid.as_str()).collect();
    assert_eq!(kids, [current_x5t.as_str(), next_x5t.as_str()]);
    assert_eq!(kid, current_x5t, "the current key signs, under its thumbprint");
    assert!(jwcrypto_verifies(&token, &set).is_ok());
    assert!(jws::parse(&token).unwrap().verify(&set).is_ok());

    // After: the next key signs; the previous is published beside it.
    let key_file = tempfile_with(&next_key);
    let chain_file = tempfile_with(std::str::from_utf8(&next_pem).unwrap());
    let previous = fixture("chain.pem");
    let app = crate::common::TestApp::spawn_configured(pool, move |c| {
        let mut signing = tucano_shared::app::PayloadSigning::local_files(&key_file, &chain_file, None).unwrap();
        signing.also_publish = Some(AlsoPublish::Pem(previous));
        c.payloads = signing;
    })
    .await;
    let (token, kid, set) = served(&app, &m, 2).await;
    let kids: Vec<&str> = set.keys.iter().map(|k| k.kid.as_str()).collect();
    assert_eq!(kids, [next_x5t.as_str(), current_x5t.as_str()]);
    assert_eq!(kid, next_x5t);
    assert!(jwcrypto_verifies(&token, &set).is_ok());
    assert!(jws::parse(&token).unwrap().verify(&set).is_ok());

    // Publishing the signing key "also" publishes it once.
    let once = tucano_shared::app::signed_payloads::AlsoPublishing::new(
        std::sync::Arc::new(
            LocalSigner::new(&String::from_utf8(fixture("leaf.pk8.pem")).unwrap(), &fixture("chain.pem"), None)
                .unwrap(),
        ),
        tucano_shared::ports::PublishedKey::new(CertificateChain::from_pem(&fixture("chain.pem")).unwrap(), None),
    );
    assert_eq!(once.published().len(), 1);
}

/// `text` in a fresh temporary file; its path.
fn tempfile_with(text: &str) -> String {
    let path = std::env::temp_dir().join(format!("tucano-{}.pem", uuid::Uuid::new_v4()));
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}
