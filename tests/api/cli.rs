//! The `tucano` command: merchant creation and BR Code decoding, as a shell user runs them.

use crate::common::database_url_of;
use serde_json::Value;
use sqlx::{PgPool, Row};
use std::process::Command;

fn tucano(database_url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tucano")).args(args).env("DATABASE_URL", database_url).output().unwrap()
}

#[sqlx::test(migrations = "./migrations")]
async fn merchants_create_prints_an_api_key_once_and_stores_only_its_hash(pool: PgPool) {
    let url = database_url_of(&pool);
    let out =
        tucano(&url, &["merchants", "create", "--name", "Ateliê Maria", "--pix-key", "maria@example.com", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let key = printed["api_key"].as_str().unwrap();
    assert!(key.starts_with("tk_"));
    assert!(printed["id"].as_str().unwrap().len() == 36);

    let rows = sqlx::query("SELECT hash FROM api_keys").fetch_all(&pool).await.unwrap();
    assert_eq!(rows.len(), 1);
    let hash: Vec<u8> = rows[0].get("hash");
    assert_ne!(hash, key.as_bytes());
    let dump: String =
        sqlx::query_scalar("SELECT string_agg(t::text, ' ') FROM api_keys t").fetch_one(&pool).await.unwrap();
    assert!(!dump.contains(key.trim_start_matches("tk_")));

    // A Pix key belongs to one account.
    let again = tucano(&url, &["merchants", "create", "--name", "Outra", "--pix-key", "maria@example.com"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already registered"));
    let bad = tucano(&url, &["merchants", "create", "--name", "X", "--pix-key", "Maria@Example.com"]);
    assert!(!bad.status.success());
}

#[test]
fn brcode_decode_checks_the_crc() {
    let good = "00020101021226760014br.gov.bcb.pix2554pix.example.com/qr/v2/8b3da2f39a4140d1a91abd93113bd4415204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***80800014br.gov.bcb.pix2558pix.example.com/qr/v2/rec/94ed2badcbc04c15b0bb7fa35319489063047741";
    let out = tucano("postgres://unused", &["brcode", "decode", good, "--json"]);
    assert!(out.status.success());
    let decoded: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(decoded["merchant_name"], "Fulano de Tal");
    assert_eq!(decoded["account"]["url"], "pix.example.com/qr/v2/8b3da2f39a4140d1a91abd93113bd441");

    let tampered = good.replace("BRASILIA", "BRASILIO");
    let out = tucano("postgres://unused", &["brcode", "decode", &tampered]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("CRC"));
}

/// `tucano merchants receiver` sets what a merchant's charges with a due date show of it;
/// bad details and unknown merchants are refused and change nothing.
#[sqlx::test(migrations = "./migrations")]
async fn merchants_receiver_sets_the_receiver_details_of_charges_with_a_due_date(pool: PgPool) {
    use tucano_shared::ports::MerchantStore;
    let url = database_url_of(&pool);
    let out = tucano(&url, &["merchants", "create", "--name", "Padaria", "--pix-key", "padaria@example.com", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let id: String = serde_json::from_slice::<Value>(&out.stdout).unwrap()["id"].as_str().unwrap().to_owned();
    let args = |extra: &[&'static str]| {
        let mut a = vec!["merchants", "receiver", "--merchant"];
        a.push(Box::leak(id.clone().into_boxed_str()));
        a.extend_from_slice(extra);
        a
    };
    let store = tucano_shared::adapters::postgres::PgMerchantStore::new(pool.clone());
    let merchant = tucano_shared::domain::merchant::MerchantId(uuid::Uuid::parse_str(&id).unwrap());

    for (bad, why) in [
        (&["--cnpj", "11222333000181", "--logradouro", "Rua A, 1", "--uf", "pe", "--cep", "50000000"][..], "uf"),
        (&["--cnpj", "11222333000181", "--logradouro", "Rua A, 1", "--uf", "PE", "--cep", "5000-000"][..], "cep"),
        (&["--cnpj", "11222333000189", "--logradouro", "Rua A, 1", "--uf", "PE", "--cep", "50000000"][..], "CNPJ"),
    ] {
        let out = tucano(&url, &args(bad));
        assert!(!out.status.success(), "{bad:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(why), "{}", String::from_utf8_lossy(&out.stderr));
    }
    assert_eq!(store.receiver(merchant).await.unwrap(), None);

    let ok = [
        "--cnpj",
        "11222333000181",
        "--nome-fantasia",
        "Padaria do Bairro",
        "--logradouro",
        "Rua A, 1",
        "--uf",
        "PE",
        "--cep",
        "50000000",
    ];
    let out = tucano(&url, &args(&ok));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r = store.receiver(merchant).await.unwrap().expect("set");
    assert_eq!(
        (r.documento.as_str(), r.nome_fantasia.as_deref(), r.uf.as_str(), r.cep.as_str()),
        ("11222333000181", Some("Padaria do Bairro"), "PE", "50000000")
    );

    let unknown = tucano(
        &url,
        &[
            "merchants",
            "receiver",
            "--merchant",
            "00000000-0000-0000-0000-000000000000",
            "--cpf",
            "12345678909",
            "--logradouro",
            "Rua B",
            "--uf",
            "SP",
            "--cep",
            "01000000",
        ],
    );
    assert!(!unknown.status.success());
}
