//! The composition root: the one place that knows the concrete adapters. It builds the
//! `AppState` (ports only) for Lambda, the local server, the CLI and tests; everything
//! else depends on ports.

use crate::adapters::aws::AwsContext;
use crate::adapters::aws::Service;
use crate::adapters::dynamodb::DynamoIdempotencyStore;
use crate::adapters::kms_cipher::KmsCipher;
use crate::adapters::kms_signer::KmsSigner;
use crate::adapters::local_cipher::LocalCipher;
use crate::adapters::local_signer::LocalSigner;
use crate::adapters::location_http::HttpLocationReader;
use crate::adapters::postgres::iam_auth::IamPassword;
use crate::adapters::postgres::{
    lazy_pool, AccountDirectory, PgChargeStore, PgClientStore, PgIdempotencyStore, PgLedger, PgLocationStore,
    PgMerchantStore, PgPixStore, PgRateCounter, PgTransferStore, PgWebhookStore,
};
use crate::adapters::rail_http::HttpRail;
use crate::adapters::secrets_manager::SecretsManagerSource;
use crate::adapters::webhook_http::HttpWebhookTransport;
use crate::app::config::{AlsoPublish, CipherBackend, IdempotencyBackend, PayloadKey, MIN_RAIL_SECRET};
use crate::app::key_policy::{PurposeGuard, RAIL_SECRET};
use crate::app::oauth::{signing_keys, TokenGate};
use crate::app::secrets::RotatingSecret;
use crate::app::signed_payloads::{AlsoPublishing, SignedCache};
use crate::app::{AppState, Config};
use crate::domain::jws::{CertificateChain, TrustStore};
use crate::domain::webhook::ReceiverRules;
use crate::ports::{Cipher, PublishedKey, SystemClock};
use sqlx::PgPool;
use std::sync::Arc;

impl AppState {
    /// The production wiring on Postgres; opens no connection until the first request.
    /// With `IDEMPOTENCY_STORE=dynamodb`, idempotency records go to DynamoDB; the AWS
    /// context (region, credentials, endpoints) is read from the environment here, at cold
    /// start, and only by functions that call AWS.
    pub async fn new(config: Config) -> anyhow::Result<Self> {
        let pool = lazy_pool(&config.database_url, config.db_max_connections)?;
        let needs_aws = matches!(config.cipher, CipherBackend::Kms { .. })
            || matches!(config.payloads.key, PayloadKey::Kms { .. })
            || matches!(config.idempotency, IdempotencyBackend::DynamoDb { .. })
            || config.rail_secret_id.is_some()
            || config.db_iam_auth;
        let aws = if needs_aws { Some(AwsContext::from_env()?) } else { None };
        let cipher: Arc<dyn Cipher> = match (&config.cipher, &aws) {
            (CipherBackend::Kms { key_id, wrapped_index_key }, Some(aws)) => {
                Arc::new(KmsCipher::new(aws, key_id.clone(), wrapped_index_key.as_deref()).await?)
            }
            (CipherBackend::Local { master }, _) => Arc::new(LocalCipher::new(*master)),
            (CipherBackend::Kms { .. }, None) => anyhow::bail!("KMS configured without an AWS configuration"),
        };
        let mut state = Self::with_parts(config.clone(), pool.clone(), cipher)?;
        if let (PayloadKey::Kms { key_id, chain_parameter }, Some(aws)) = (&config.payloads.key, &aws) {
            // The chain is public but long (a Lambda environment holds 4 KiB): an SSM
            // parameter, read once here. Until the PSP has stored it (its certificate needs
            // the key this stack makes), payload locations answer 503.
            let ssm = aws.client(Service::Ssm);
            match ssm.call("GetParameter", &serde_json::json!({"Name": chain_parameter})).await {
                Ok(answer) => {
                    let pem = answer["Parameter"]["Value"]
                        .as_str()
                        .ok_or_else(|| anyhow::anyhow!("the SSM parameter {chain_parameter} has no value"))?;
                    let chain = CertificateChain::from_pem(pem.as_bytes())?;
                    let signer = KmsSigner::new(aws, key_id, chain, config.payloads.kid.as_deref()).await?;
                    state.payload_signer = Some(Arc::new(signer));
                }
                Err(e) if e.code() == Some("ParameterNotFound") => {
                    tracing::error!("no payload certificate chain stored yet: payload locations answer 503");
                }
                Err(e) => return Err(e.into()),
            }
        }
        if let (Some(AlsoPublish::Parameter(name)), Some(aws), Some(signer)) =
            (&config.payloads.also_publish, &aws, &state.payload_signer)
        {
            // A key rotating in or out: published beside the signing one (public, so an SSM
            // parameter like the signing key's chain). Not there: nothing more to publish.
            match aws.client(Service::Ssm).call("GetParameter", &serde_json::json!({"Name": name})).await {
                Ok(answer) => {
                    let pem = answer["Parameter"]["Value"]
                        .as_str()
                        .ok_or_else(|| anyhow::anyhow!("the SSM parameter {name} has no value"))?;
                    let other = PublishedKey::new(CertificateChain::from_pem(pem.as_bytes())?, None);
                    state.payload_signer = Some(Arc::new(AlsoPublishing::new(signer.clone(), other)));
                }
                Err(e) if e.code() == Some("ParameterNotFound") || e.code() == Some("ParameterVersionNotFound") => {
                    tracing::warn!("no second payload key stored: the key set publishes the signing key alone");
                }
                Err(e) => return Err(e.into()),
            }
        }
        if let (Some(id), Some(aws)) = (&config.rail_secret_id, &aws) {
            let source = Arc::new(SecretsManagerSource::new(aws));
            let secret = RotatingSecret::from_source(source, id.clone(), MIN_RAIL_SECRET).held_to(RAIL_SECRET);
            state = state.with_rail_secret(Arc::new(secret));
        }
        if let (true, Some(aws)) = (config.db_iam_auth, &aws) {
            let options: sqlx::postgres::PgConnectOptions = config.database_url.parse()?;
            let (region, credentials) = (aws.region().to_owned(), aws.credentials_provider());
            state.db_auth = Some(Arc::new(IamPassword::new(pool.clone(), options, region, credentials)));
        }
        Ok(match (&config.idempotency, &aws) {
            (IdempotencyBackend::DynamoDb { table }, Some(aws)) => {
                let store = DynamoIdempotencyStore::new(aws, table.clone());
                state.with_idempotency(Arc::new(store))
            }
            _ => state,
        })
    }

    /// The same state with the rail secret held by `secret` (the rail client follows).
    pub fn with_rail_secret(mut self, secret: Arc<RotatingSecret>) -> Self {
        let rail = HttpRail::new(&self.config.rail_url, secret.clone(), self.config.rail_timeout);
        self.rail = Arc::new(rail);
        self.rail_secret = secret;
        self
    }

    /// The same wiring on an existing pool (tests, the local server).
    /// Only for the local cipher (KMS needs the async `new`).
    pub fn with_pool(config: Config, pool: PgPool) -> anyhow::Result<Self> {
        let cipher: Arc<dyn Cipher> = match &config.cipher {
            CipherBackend::Local { master } => Arc::new(LocalCipher::new(*master)),
            CipherBackend::Kms { .. } => anyhow::bail!("a KMS cipher needs AppState::new"),
        };
        Self::with_parts(config, pool, cipher)
    }

    /// The Postgres wiring around a given cipher.
    pub fn with_parts(config: Config, pool: PgPool, cipher: Arc<dyn Cipher>) -> anyhow::Result<Self> {
        // Every request and job runs held to its function's key policy, here as under IAM.
        let cipher: Arc<dyn Cipher> = Arc::new(PurposeGuard(cipher));
        let accounts = Arc::new(AccountDirectory::default());
        // Outbound clients are built on first use: most functions never call out.
        let location_rules = ReceiverRules { allow_local: config.location_scheme == "http" };
        let trust = match &config.payloads.trust_store_pem {
            Some(pem) => TrustStore::from_pem(pem)?,
            None => TrustStore::public_roots(),
        };
        let payload_signer: Option<Arc<dyn crate::ports::PayloadSigner>> = match &config.payloads.key {
            PayloadKey::Local { key_pem, chain_pem } => {
                let signer: Arc<dyn crate::ports::PayloadSigner> =
                    Arc::new(LocalSigner::new(key_pem, chain_pem, config.payloads.kid.as_deref())?);
                match &config.payloads.also_publish {
                    Some(AlsoPublish::Pem(pem)) => {
                        let other = PublishedKey::new(CertificateChain::from_pem(pem)?, None);
                        Some(Arc::new(AlsoPublishing::new(signer, other)))
                    }
                    _ => Some(signer),
                }
            }
            PayloadKey::Off | PayloadKey::Kms { .. } => None,
        };
        let rail_secret = Arc::new(
            RotatingSecret::fixed(config.rail_secret.clone(), config.rail_secret_previous.clone()).held_to(RAIL_SECRET),
        );
        let rail = HttpRail::new(&config.rail_url, rail_secret.clone(), config.rail_timeout);
        let transport = HttpWebhookTransport::new(config.webhooks.rules, config.webhooks.timeout);
        let tokens = TokenGate::new(signing_keys(&*cipher), config.tokens);
        Ok(AppState {
            config: Arc::new(config),
            merchants: Arc::new(PgMerchantStore::new(pool.clone())),
            clients: Arc::new(PgClientStore::new(pool.clone())),
            payload_signer,
            signed_payloads: Arc::new(SignedCache::new(std::time::Duration::from_secs(5))),
            tokens: Arc::new(tokens),
            charges: Arc::new(PgChargeStore::new(pool.clone(), cipher.clone())),
            payload_locations: Arc::new(PgLocationStore::new(pool.clone())),
            due_charges: Arc::new(crate::adapters::postgres::PgDueChargeStore::new(pool.clone(), cipher.clone())),
            lotes: Arc::new(crate::adapters::postgres::PgLoteStore::new(pool.clone())),
            recurrences: Arc::new(crate::adapters::postgres::PgRecurrenceStore::new(pool.clone(), cipher.clone())),
            pix: Arc::new(PgPixStore::new(pool.clone(), accounts.clone(), cipher.clone())),
            transfers: Arc::new(PgTransferStore::new(pool.clone(), accounts, cipher.clone())),
            locations: Arc::new(HttpLocationReader::new(location_rules, trust)),
            clock: Arc::new(SystemClock),
            cipher,
            ledger: Arc::new(PgLedger::new(pool.clone())),
            rail: Arc::new(rail),
            idempotency: Arc::new(PgIdempotencyStore::new(pool.clone())),
            webhooks: Arc::new(PgWebhookStore::new(pool.clone())),
            webhook_transport: Arc::new(transport),
            rate_counter: Arc::new(PgRateCounter::new(pool)),
            rail_secret,
            db_auth: None,
        })
    }
}

/// The DEV-ONLY local cipher under `master` (tests, `make dev`).
pub fn local_cipher(master: [u8; 32]) -> LocalCipher {
    LocalCipher::new(master)
}
