//! What the functions' tests share: a merchant with an API key, and the URL of the
//! database a `#[sqlx::test]` made.

use sqlx::PgPool;
use tucano_shared::adapters::postgres::PgMerchantStore;
use tucano_shared::domain::merchant::{ApiKey, MerchantId};
use tucano_shared::ports::{MerchantStore, NewMerchant};

/// Registers the merchant "Loja" (Pix key `loja@example.com`) and returns its API key.
pub async fn merchant(pool: &PgPool) -> (ApiKey, MerchantId) {
    let key = ApiKey::generate();
    let id = PgMerchantStore::new(pool.clone())
        .register(NewMerchant {
            name: "Loja".into(),
            city: "RECIFE".into(),
            pix_key: "loja@example.com".into(),
            api_key_hash: key.hash(),
            fees: Default::default(),
            individual: false,
            limits: Default::default(),
            first_client: None,
        })
        .await
        .unwrap();
    (key, id)
}

/// The URL of the test's own database, on the server DATABASE_URL names.
#[allow(dead_code)]
pub fn database_url_of(pool: &PgPool) -> String {
    let db = pool.connect_options().get_database().unwrap().to_owned();
    let base = std::env::var("DATABASE_URL").unwrap();
    let (prefix, _) = base.rsplit_once('/').unwrap();
    format!("{prefix}/{db}")
}
