//! One contract for every Cipher (the local DEV-ONLY one and KMS, here on moto server),
//! and the proof that payer documents never reach a table in plaintext.

use crate::common::*;
use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;
use tucano_shared::adapters::kms_cipher::KmsCipher;
use tucano_shared::adapters::local_cipher::LocalCipher;
use tucano_shared::domain::merchant::MerchantId;
use tucano_shared::ports::{Cipher, CipherContext, CipherError};

async fn contract(cipher: &dyn Cipher) {
    let m = MerchantId(uuid::Uuid::new_v4());
    let ctx = CipherContext { merchant: Some(m), purpose: "devedor" };
    let secret = b"12345678909";

    let a = cipher.encrypt(secret, ctx).await.unwrap();
    let b = cipher.encrypt(secret, ctx).await.unwrap();
    assert_ne!(a, b, "fresh nonce per value");
    assert!(!a.windows(secret.len()).any(|w| w == secret), "no plaintext inside the envelope");
    assert_eq!(cipher.decrypt(&a, ctx).await.unwrap(), secret);
    assert_eq!(cipher.decrypt(&b, ctx).await.unwrap(), secret);

    // Tampering anywhere, truncation, or another context is an error, never garbage.
    for i in [0, 1, 3, 10, a.len() / 2, a.len() - 1] {
        let mut t = a.clone();
        t[i] ^= 0x01;
        assert!(
            matches!(cipher.decrypt(&t, ctx).await, Err(CipherError::Rejected | CipherError::Unexpected(_))),
            "byte {i}"
        );
    }
    assert!(cipher.decrypt(&a[..a.len() - 5], ctx).await.is_err());
    assert!(cipher.decrypt(&[], ctx).await.is_err());
    let other_merchant = CipherContext { merchant: Some(MerchantId(uuid::Uuid::new_v4())), purpose: "devedor" };
    assert!(cipher.decrypt(&a, other_merchant).await.is_err());
    let other_purpose = CipherContext { merchant: Some(m), purpose: "pagador" };
    assert!(cipher.decrypt(&a, other_purpose).await.is_err());

    // Many contexts: the data-key cache stays correct.
    for i in 0..50 {
        let c = CipherContext { merchant: Some(MerchantId(uuid::Uuid::from_u128(i))), purpose: "pagador" };
        let e = cipher.encrypt(format!("v{i}").as_bytes(), c).await.unwrap();
        assert_eq!(cipher.decrypt(&e, c).await.unwrap(), format!("v{i}").as_bytes());
    }

    // Blind indexes: deterministic, keyed, separated by purpose.
    let index = |purpose, value| cipher.blind_index(purpose, value).unwrap();
    assert_eq!(index("payer-document", secret), index("payer-document", secret));
    assert_ne!(index("payer-document", secret), index("payer-document", b"12345678910"));
    assert_ne!(index("payer-document", secret), index("other", secret));
}

#[tokio::test]
async fn the_local_cipher_honours_the_contract() {
    contract(&LocalCipher::new([42; 32])).await;
    // Another master key cannot open its envelopes.
    let ctx = CipherContext { merchant: None, purpose: "x" };
    let e = LocalCipher::new([1; 32]).encrypt(b"secret", ctx).await.unwrap();
    assert!(LocalCipher::new([2; 32]).decrypt(&e, ctx).await.is_err());
}

#[tokio::test]
async fn the_kms_cipher_honours_the_contract() {
    let moto = moto::Moto::start().await;
    let kms = moto.kms();
    let key = kms.create_key().description("tucano test").send().await.unwrap();
    let key_id = key.key_metadata().unwrap().key_id().to_owned();
    let wrapped = KmsCipher::wrap_index_key(&moto.aws(), &key_id).await.unwrap();
    let cipher = KmsCipher::new(&moto.aws(), key_id.clone(), Some(&wrapped)).await.unwrap();
    contract(&cipher).await;

    // A second instance (another Lambda) decrypts the first one's envelopes and computes
    // the same blind indexes: both come from KMS, not from process memory.
    let ctx = CipherContext { merchant: None, purpose: "pagador" };
    let e = cipher.encrypt(b"11222333000181", ctx).await.unwrap();
    let other = KmsCipher::new(&moto.aws(), key_id.clone(), Some(&wrapped)).await.unwrap();
    assert_eq!(other.decrypt(&e, ctx).await.unwrap(), b"11222333000181");
    assert_eq!(other.blind_index("payer-document", b"a").unwrap(), cipher.blind_index("payer-document", b"a").unwrap());
    // A public function's: no index key, so no blind index (nor access-token keys), while
    // it still decrypts what its purposes allow.
    let public = KmsCipher::new(&moto.aws(), key_id, None).await.unwrap();
    assert!(public.blind_index("payer-document", b"a").is_err());
    assert!(tucano_shared::app::oauth::signing_keys(&public).is_empty());
    assert_eq!(public.decrypt(&e, ctx).await.unwrap(), b"11222333000181");
    // Envelopes of the local cipher are refused.
    let local = LocalCipher::new([3; 32]).encrypt(b"x", ctx).await.unwrap();
    assert!(other.decrypt(&local, ctx).await.is_err());
}

#[sqlx::test(migrations = "./migrations")]
async fn payer_documents_are_never_stored_in_plaintext(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", "loja@example.com").await;
    let mut body = charge_body("loja@example.com", "10.00");
    body["devedor"] = json!({"cpf": "12345678909", "nome": "Francisco da Silva"});
    let (status, _, _) = call(app.request(Method::PUT, &format!("/v2/cob/{}", txid(1)), &m).json(&body)).await;
    assert_eq!(status, 201);
    let mut body = charge_body("loja@example.com", "11.00");
    body["devedor"] = json!({"cnpj": "12ABC34501DE35", "nome": "Empresa"});
    call(app.request(Method::PUT, &format!("/v2/cob/{}", txid(2)), &m).json(&body)).await;
    app.notify(&json!({"tipo": "PIX_RECEBIDO", "id": "n1", "pix": {
        "endToEndId": "E9999999920261121130500000000001", "valor": "5.00", "chave": "loja@example.com",
        "horario": chrono::Utc::now().to_rfc3339(), "pagador": {"cpf": "52998224725", "nome": "Maria"}}}))
        .await;
    // Paying a charge with a devedor reads the charge (its devedor decrypted) as it books
    // the Pix: the rail's function may use that purpose.
    let (status, _, paid) = app
        .notify(&json!({"tipo": "PIX_RECEBIDO", "id": "n2", "pix": {
            "endToEndId": "E9999999920261121130500000000002", "valor": "10.00", "chave": "loja@example.com",
            "txid": txid(1), "horario": chrono::Utc::now().to_rfc3339()}}))
        .await;
    assert_eq!((status, paid["resultado"].as_str()), (200, Some("APLICADA")), "{paid}");

    // A raw dump of every table holding payer data shows no document, in any encoding.
    for table in ["charges", "charge_revisions", "received_pix"] {
        let dump: String = sqlx::query_scalar(&format!("SELECT coalesce(string_agg(t::text, ' '), '') FROM {table} t"))
            .fetch_one(&app.pool)
            .await
            .unwrap();
        for doc in ["12345678909", "12ABC34501DE35", "52998224725"] {
            assert!(!dump.contains(doc), "{table} holds {doc} in plaintext");
            assert!(!dump.contains(&hex_of(doc)), "{table} holds {doc} as hex");
        }
    }
    // The API still shows them to their merchant, and finds them by document.
    let (_, _, cob) = call(app.request(Method::GET, &format!("/v2/cob/{}", txid(1)), &m)).await;
    assert_eq!(cob["devedor"]["cpf"], "12345678909");
    let (_, _, found) = call(app.request(
        Method::GET,
        "/v2/cob?inicio=2000-01-01T00:00:00Z&fim=2100-01-01T00:00:00Z&cnpj=12ABC34501DE35",
        &m,
    ))
    .await;
    assert_eq!(found["cobs"].as_array().unwrap().len(), 1);
    let (_, _, pix) = call(app.request(
        Method::GET,
        "/v2/pix?inicio=2000-01-01T00:00:00Z&fim=2100-01-01T00:00:00Z&cpf=52998224725",
        &m,
    ))
    .await;
    assert_eq!(pix["pix"][0]["pagador"]["cpf"], "52998224725");
}

fn hex_of(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

#[sqlx::test(migrations = "./migrations")]
async fn the_blind_index_key_is_made_once_per_database_and_then_reused(pool: PgPool) {
    use tucano_shared::adapters::postgres::platform_keys::ensure_blind_index_key;
    let moto = moto::Moto::start().await;
    let kms = moto.kms();
    let key_id = kms.create_key().send().await.unwrap().key_metadata().unwrap().key_id().to_owned();
    let first = ensure_blind_index_key(&pool, &moto.aws(), &key_id).await.unwrap();
    let again = ensure_blind_index_key(&pool, &moto.aws(), &key_id).await.unwrap();
    assert_eq!(first, again, "every deploy after the first reads the same key");
    // It is a working wrapped key: two ciphers built from it index alike.
    let a = KmsCipher::new(&moto.aws(), key_id.clone(), Some(&first)).await.unwrap();
    let b = KmsCipher::new(&moto.aws(), key_id, Some(&again)).await.unwrap();
    let index = |c: &KmsCipher| c.blind_index("payer-document", b"52998224725").unwrap();
    assert_eq!(index(&a), index(&b));
}
