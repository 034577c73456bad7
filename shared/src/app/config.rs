//! Typed configuration from the environment, checked once at start-up with clear messages.

use std::env;

/// Why the configuration is unusable. Start-up stops with this message.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is unset or set to nothing usable; carries its name and how to set it.
    #[error("{0} is not set; {1}")]
    Missing(&'static str, &'static str),
    /// A variable is set but its value is refused; carries its name and the rule it breaks.
    #[error("{0} is invalid: {1}")]
    Invalid(&'static str, String),
}

/// Everything a function or the local server needs to run.
#[derive(Clone)]
pub struct Config {
    /// Postgres connection string (through RDS Proxy in AWS).
    pub database_url: String,
    /// Pool size: small in Lambda (one request at a time), larger locally.
    pub db_max_connections: u32,
    /// Host and path prefix of payload locations, without scheme:
    /// `pix.example.com/qr/v2` gives `pix.example.com/qr/v2/{token}`.
    pub location_base: String,
    /// Base URL of the Pix rail (the sandbox locally).
    pub rail_url: String,
    /// Shared secret signing rail messages in both directions.
    pub rail_secret: Vec<u8>,
    /// `RAIL_WEBHOOK_SECRET_ID` (AWS): the Secrets Manager secret holding it instead, read
    /// on first use and again when it rotates; `rail_secret` is then empty.
    pub rail_secret_id: Option<String>,
    /// `DB_IAM_AUTH=true` (AWS): the database password is an IAM authentication token for
    /// the URL's user, minted from the function's own credentials.
    pub db_iam_auth: bool,
    /// The secret being rotated out (`RAIL_WEBHOOK_SECRET_PREVIOUS`): notifications signed
    /// with it are still accepted during the overlap; nothing is signed with it.
    pub rail_secret_previous: Option<Vec<u8>>,
    /// How long a rail call may take before its outcome is unknown (`RAIL_TIMEOUT_MS`,
    /// default 10 000).
    pub rail_timeout: std::time::Duration,
    /// Our ISPB, in the SPI ids we generate (rtrId, ...).
    pub ispb: String,
    /// Where idempotency records live.
    pub idempotency: IdempotencyBackend,
    /// How personal data and secrets are encrypted at rest.
    pub cipher: CipherBackend,
    /// Scheme for reading other PSPs' payload locations: `https`, or `http` locally
    /// (`LOCATION_SCHEME`). DEV ONLY: `http` also lets the reader reach loopback
    /// addresses; with `https` only public addresses are ever fetched.
    pub location_scheme: String,
    /// How webhooks to merchants are delivered.
    pub webhooks: WebhookSettings,
    /// Requests per merchant per minute on counted routes.
    pub quotas: crate::domain::quota::QuotaLimits,
    pub tokens: TokenSettings,
    /// How payload locations are signed, and whose signatures we trust when we pay.
    pub payloads: PayloadSigning,
}

/// The key payload locations are signed with (`PAYLOAD_SIGNING`): `local` (DEV-ONLY: a PEM
/// key and its chain, `PAYLOAD_KEY_FILE`, `PAYLOAD_CERT_CHAIN_FILE`), `kms` (an asymmetric
/// KMS key `PAYLOAD_KMS_KEY_ID` and the chain in the SSM parameter
/// `PAYLOAD_CERT_CHAIN_PARAMETER`), or none (`off`, the default: locations answer 503).
/// `PAYLOAD_KID` names the key (default: its certificate's thumbprint, `x5t`, so each key
/// has its own without bookkeeping). A second key may be published beside it while one
/// rotates in or out: its chain in `PAYLOAD_ALSO_PUBLISH_FILE` (PEM) or the SSM parameter
/// `PAYLOAD_ALSO_PUBLISH_PARAMETER` (`name` or `name:version`; absent: nothing more is
/// published), under its thumbprint. `PAYLOAD_TRUST_STORE`: a PEM file of the CAs whose
/// certificates we accept on other PSPs' payloads (default: the public web roots, as Bacen
/// requires widely recognised CAs).
#[derive(Clone, Default)]
pub struct PayloadSigning {
    pub key: PayloadKey,
    pub kid: Option<String>,
    pub also_publish: Option<AlsoPublish>,
    pub trust_store_pem: Option<Vec<u8>>,
}

/// Where the certificate chain of a second published key is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AlsoPublish {
    Pem(Vec<u8>),
    Parameter(String),
}

#[derive(Clone, Default)]
pub enum PayloadKey {
    #[default]
    Off,
    Local {
        key_pem: String,
        chain_pem: Vec<u8>,
    },
    Kms {
        key_id: String,
        chain_parameter: String,
    },
}

impl std::fmt::Debug for PayloadSigning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let key = match &self.key {
            PayloadKey::Off => "off".to_owned(),
            PayloadKey::Local { .. } => "local(dev-only)".to_owned(),
            PayloadKey::Kms { key_id, .. } => format!("kms({key_id})"),
        };
        let also = match &self.also_publish {
            None => "",
            Some(AlsoPublish::Pem(_)) => ", also publishing a key from a file",
            Some(AlsoPublish::Parameter(_)) => ", also publishing a key from SSM",
        };
        let kid = self.kid.as_deref().unwrap_or("x5t");
        write!(f, "PayloadSigning({key}, kid {kid}{also}, custom trust store: {})", self.trust_store_pem.is_some())
    }
}

impl PayloadSigning {
    /// The DEV-ONLY local key and chain in these files, trusting `trust_store` (PEM).
    pub fn local_files(key: &str, chain: &str, trust_store: Option<&str>) -> Result<Self, ConfigError> {
        let read = |name: &'static str, path: &str| {
            std::fs::read(path).map_err(|_| ConfigError::Invalid(name, format!("cannot read {path}")))
        };
        let key_pem = String::from_utf8(read("PAYLOAD_KEY_FILE", key)?)
            .map_err(|_| ConfigError::Invalid("PAYLOAD_KEY_FILE", "is not PEM".into()))?;
        Ok(PayloadSigning {
            key: PayloadKey::Local { key_pem, chain_pem: read("PAYLOAD_CERT_CHAIN_FILE", chain)? },
            kid: None,
            also_publish: None,
            trust_store_pem: trust_store.map(|t| read("PAYLOAD_TRUST_STORE", t)).transpose()?,
        })
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        let var = |name: &'static str| {
            env::var(name).map_err(|_| ConfigError::Missing(name, "required with this PAYLOAD_SIGNING"))
        };
        let trust = env::var("PAYLOAD_TRUST_STORE").ok();
        let mut out = match env::var("PAYLOAD_SIGNING").as_deref() {
            Err(_) | Ok("off") | Ok("") => PayloadSigning::default(),
            Ok("local") => Self::local_files(&var("PAYLOAD_KEY_FILE")?, &var("PAYLOAD_CERT_CHAIN_FILE")?, None)?,
            Ok("kms") => PayloadSigning {
                key: PayloadKey::Kms {
                    key_id: var("PAYLOAD_KMS_KEY_ID")?,
                    chain_parameter: var("PAYLOAD_CERT_CHAIN_PARAMETER")?,
                },
                kid: None,
                also_publish: None,
                trust_store_pem: None,
            },
            Ok(_) => return Err(ConfigError::Invalid("PAYLOAD_SIGNING", "must be local, kms or off".into())),
        };
        out.kid = env::var("PAYLOAD_KID").ok().filter(|k| !k.is_empty());
        out.also_publish = match (env::var("PAYLOAD_ALSO_PUBLISH_FILE"), env::var("PAYLOAD_ALSO_PUBLISH_PARAMETER")) {
            (Ok(path), _) if !path.is_empty() => Some(AlsoPublish::Pem(
                std::fs::read(&path)
                    .map_err(|_| ConfigError::Invalid("PAYLOAD_ALSO_PUBLISH_FILE", format!("cannot read {path}")))?,
            )),
            (_, Ok(name)) if !name.is_empty() => Some(AlsoPublish::Parameter(name)),
            _ => None,
        };
        if let Some(path) = trust {
            out.trust_store_pem = Some(
                std::fs::read(&path)
                    .map_err(|_| ConfigError::Invalid("PAYLOAD_TRUST_STORE", format!("cannot read {path}")))?,
            );
        }
        Ok(out)
    }
}

/// OAuth access tokens: how long one lives (`TOKEN_TTL_SECONDS`, 60 to 86,400, default
/// 3,600) and how often a function re-reads the revoked clients (every 30 s): a revoked
/// client's tokens stop working within that interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenSettings {
    pub ttl: std::time::Duration,
    pub revocation_refresh: std::time::Duration,
}

/// The longest access-token lifetime any instance may issue (`TOKEN_TTL_SECONDS`' ceiling).
pub const MAX_TOKEN_TTL_SECONDS: u64 = 86_400;

impl TokenSettings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut out = TokenSettings::default();
        if let Ok(ttl) = env::var("TOKEN_TTL_SECONDS") {
            let seconds = ttl.parse().ok().filter(|n| (60..=MAX_TOKEN_TTL_SECONDS).contains(n)).ok_or_else(|| {
                ConfigError::Invalid("TOKEN_TTL_SECONDS", "must be a whole number from 60 to 86400".into())
            })?;
            out.ttl = std::time::Duration::from_secs(seconds);
        }
        Ok(out)
    }
}

impl Default for TokenSettings {
    fn default() -> Self {
        TokenSettings {
            ttl: std::time::Duration::from_secs(3600),
            revocation_refresh: std::time::Duration::from_secs(30),
        }
    }
}

/// Webhook delivery: which receivers are allowed, how long to wait, when to retry.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookSettings {
    /// `WEBHOOK_ALLOW_LOCAL=true` (DEV ONLY): receivers on http://127.0.0.1 and localhost.
    pub rules: crate::domain::webhook::ReceiverRules,
    /// `WEBHOOK_TIMEOUT_MS` (default 10 000): the whole POST, connect to last byte.
    pub timeout: std::time::Duration,
    /// `WEBHOOK_RETRY_DELAYS` (seconds, comma-separated; default about 3 days).
    pub retry: crate::domain::webhook::RetryPolicy,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            rules: Default::default(),
            timeout: std::time::Duration::from_secs(10),
            retry: Default::default(),
        }
    }
}

impl WebhookSettings {
    /// Reads the `WEBHOOK_*` variables.
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut w = WebhookSettings::default();
        match env::var("WEBHOOK_ALLOW_LOCAL").as_deref() {
            Err(_) | Ok("false") | Ok("0") | Ok("") => {}
            Ok("true") | Ok("1") => w.rules.allow_local = true,
            Ok(_) => return Err(ConfigError::Invalid("WEBHOOK_ALLOW_LOCAL", "must be true or false".into())),
        }
        if let Ok(ms) = env::var("WEBHOOK_TIMEOUT_MS") {
            let ms: u64 = ms.parse().ok().filter(|n| (100..=30_000).contains(n)).ok_or_else(|| {
                ConfigError::Invalid("WEBHOOK_TIMEOUT_MS", "must be a whole number from 100 to 30000".into())
            })?;
            w.timeout = std::time::Duration::from_millis(ms);
        }
        if let Ok(d) = env::var("WEBHOOK_RETRY_DELAYS") {
            w.retry = crate::domain::webhook::RetryPolicy::parse(&d).ok_or_else(|| {
                ConfigError::Invalid("WEBHOOK_RETRY_DELAYS", "must be comma-separated seconds".into())
            })?;
        }
        Ok(w)
    }
}

/// `CIPHER=kms` (with `KMS_KEY_ID` and `BLIND_INDEX_KEY_WRAPPED`, the KMS-encrypted
/// blind-index key in hex, which the public functions are not given) or `CIPHER=local`
/// (DEV ONLY, with `TUCANO_DEV_MASTER_KEY`).
#[derive(Clone, PartialEq, Eq)]
pub enum CipherBackend {
    Local { master: [u8; 32] },
    Kms { key_id: String, wrapped_index_key: Option<Vec<u8>> },
}

impl std::fmt::Debug for CipherBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CipherBackend::Local { .. } => f.write_str("Local(dev-only)"),
            CipherBackend::Kms { key_id, .. } => write!(f, "Kms({key_id})"),
        }
    }
}

impl CipherBackend {
    /// A local cipher under a random key that lives as long as the process: for tests and
    /// tools that keep nothing encrypted across runs.
    pub fn ephemeral() -> Self {
        let mut master = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut master);
        CipherBackend::Local { master }
    }

    /// A local cipher under a 32-byte key given as 64 hex characters.
    pub fn local_from_hex(hex_key: &str) -> Result<Self, ConfigError> {
        let bytes = hex::decode(hex_key.trim()).ok().filter(|b| b.len() == 32);
        let master = bytes.and_then(|b| b.try_into().ok()).ok_or_else(|| {
            ConfigError::Invalid("TUCANO_DEV_MASTER_KEY", "must be 64 hex characters (32 bytes)".into())
        })?;
        Ok(CipherBackend::Local { master })
    }
}

/// `IDEMPOTENCY_STORE=postgres` (default) or `dynamodb` (with `IDEMPOTENCY_TABLE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyBackend {
    Postgres,
    DynamoDb { table: String },
}

/// The rail secret must be long enough to resist guessing.
pub const MIN_RAIL_SECRET: usize = 16;
const DEFAULT_RAIL_URL: &str = "http://127.0.0.1:3100";
const DEFAULT_ISPB: &str = "99999999";

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &"***")
            .field("db_max_connections", &self.db_max_connections)
            .field("location_base", &self.location_base)
            .field("rail_url", &self.rail_url)
            .field("rail_secret", &"***")
            .field("rail_secret_id", &self.rail_secret_id)
            .field("db_iam_auth", &self.db_iam_auth)
            .field("rail_secret_previous", &self.rail_secret_previous.as_ref().map(|_| "***"))
            .field("rail_timeout", &self.rail_timeout)
            .field("ispb", &self.ispb)
            .field("idempotency", &self.idempotency)
            .field("cipher", &self.cipher)
            .field("webhooks", &self.webhooks)
            .field("quotas", &self.quotas)
            .field("tokens", &self.tokens)
            .field("payloads", &self.payloads)
            .finish()
    }
}

/// A location is at most 77 characters; the token and its slash take 33, and a charge
/// with a due date's `/cobv` 5 more.
const MAX_LOCATION_BASE: usize = 77 - 33 - 5;

impl Config {
    /// Reads the configuration from the environment: `DATABASE_URL` (required) and the
    /// rest README.md lists under "Configuration (environment)", each with its default.
    pub fn from_env() -> Result<Self, ConfigError> {
        let database_url = env::var("DATABASE_URL").map_err(|_| {
            ConfigError::Missing(
                "DATABASE_URL",
                "set it to a Postgres URL, e.g. postgres://postgres@127.0.0.1:5432/tucano",
            )
        })?;
        let db_max_connections = match env::var("DB_MAX_CONNECTIONS") {
            Ok(s) => s.parse().ok().filter(|n| (1..=100).contains(n)).ok_or_else(|| {
                ConfigError::Invalid("DB_MAX_CONNECTIONS", "must be a whole number from 1 to 100".into())
            })?,
            Err(_) => 5,
        };
        let location_base = env::var("PIX_LOCATION_BASE").map_err(|_| {
            ConfigError::Missing(
                "PIX_LOCATION_BASE",
                "set it to the public host and path of QR payloads, e.g. pix.example.com/qr/v2",
            )
        })?;
        let rail_url = env::var("PIX_RAIL_URL").unwrap_or_else(|_| DEFAULT_RAIL_URL.into());
        let config = Self::new(database_url, db_max_connections, location_base)?;
        let config = match (env::var("RAIL_WEBHOOK_SECRET"), env::var("RAIL_WEBHOOK_SECRET_ID")) {
            (Ok(secret), _) => config.with_rail(&rail_url, secret.as_bytes())?,
            (Err(_), Ok(id)) if !id.is_empty() => {
                let mut config = config.with_rail_url(&rail_url)?;
                config.rail_secret_id = Some(id);
                config
            }
            _ => return Err(ConfigError::Missing(
                "RAIL_WEBHOOK_SECRET",
                "set it to the secret shared with the Pix rail (or RAIL_WEBHOOK_SECRET_ID to the secret holding it)",
            )),
        };
        let mut config = match env::var("PSP_ISPB") {
            Ok(ispb) => config.with_ispb(&ispb)?,
            Err(_) => config,
        };
        config.idempotency = Self::idempotency_from_env()?;
        config.cipher = Self::cipher_from_env()?;
        if let Ok(scheme) = env::var("LOCATION_SCHEME") {
            config.location_scheme = scheme;
        }
        config.webhooks = WebhookSettings::from_env()?;
        config.quotas = Self::quotas_from_env()?;
        config.payloads = PayloadSigning::from_env()?;
        config.tokens = TokenSettings::from_env()?;
        config.db_iam_auth = match env::var("DB_IAM_AUTH").as_deref() {
            Err(_) | Ok("false") | Ok("0") | Ok("") => false,
            Ok("true") | Ok("1") => true,
            Ok(_) => return Err(ConfigError::Invalid("DB_IAM_AUTH", "must be true or false".into())),
        };
        config.read_rail_env()?;
        Ok(config)
    }

    /// `RAIL_WEBHOOK_SECRET_PREVIOUS` and `RAIL_TIMEOUT_MS`.
    pub fn read_rail_env(&mut self) -> Result<(), ConfigError> {
        if let Ok(previous) = env::var("RAIL_WEBHOOK_SECRET_PREVIOUS") {
            if !previous.is_empty() {
                if previous.len() < MIN_RAIL_SECRET {
                    return Err(ConfigError::Invalid(
                        "RAIL_WEBHOOK_SECRET_PREVIOUS",
                        format!("must have at least {MIN_RAIL_SECRET} bytes"),
                    ));
                }
                self.rail_secret_previous = Some(previous.into_bytes());
            }
        }
        if let Ok(ms) = env::var("RAIL_TIMEOUT_MS") {
            let ms: u64 = ms.parse().ok().filter(|n| (100..=60_000).contains(n)).ok_or_else(|| {
                ConfigError::Invalid("RAIL_TIMEOUT_MS", "must be a whole number from 100 to 60000".into())
            })?;
            self.rail_timeout = std::time::Duration::from_millis(ms);
        }
        Ok(())
    }

    /// `QUOTA_DICT_TOKENS_PF` (default 100), `QUOTA_DICT_TOKENS_PJ` (default 1000) and
    /// `QUOTA_LIST_PER_MINUTE` (default 120).
    pub fn quotas_from_env() -> Result<crate::domain::quota::QuotaLimits, ConfigError> {
        let mut limits = crate::domain::quota::QuotaLimits::default();
        for (name, slot) in [
            ("QUOTA_DICT_TOKENS_PF", &mut limits.dict_tokens_individual),
            ("QUOTA_DICT_TOKENS_PJ", &mut limits.dict_tokens_company),
            ("QUOTA_LIST_PER_MINUTE", &mut limits.list_per_minute),
        ] {
            if let Ok(v) = env::var(name) {
                *slot = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=100_000).contains(n))
                    .ok_or_else(|| ConfigError::Invalid(name, "must be a whole number from 1 to 100000".into()))?;
            }
        }
        Ok(limits)
    }

    /// `IDEMPOTENCY_STORE` (default postgres) and `IDEMPOTENCY_TABLE`.
    pub fn idempotency_from_env() -> Result<IdempotencyBackend, ConfigError> {
        Ok(match env::var("IDEMPOTENCY_STORE").as_deref() {
            Err(_) | Ok("postgres") => IdempotencyBackend::Postgres,
            Ok("dynamodb") => IdempotencyBackend::DynamoDb {
                table: env::var("IDEMPOTENCY_TABLE").map_err(|_| {
                    ConfigError::Missing("IDEMPOTENCY_TABLE", "name the DynamoDB table of idempotency records")
                })?,
            },
            Ok(_) => return Err(ConfigError::Invalid("IDEMPOTENCY_STORE", "must be postgres or dynamodb".into())),
        })
    }

    /// The configuration of a function that needs the blind-index key: refused at cold
    /// start if it has none (every function but the public ones; see `routes`), rather
    /// than failing the first request that indexes a document or checks a token.
    pub fn requiring_index_key(self) -> Result<Self, ConfigError> {
        match self.cipher {
            CipherBackend::Kms { wrapped_index_key: None, .. } => Err(ConfigError::Missing(
                "BLIND_INDEX_KEY_WRAPPED",
                "give the KMS-encrypted blind-index key in hex (every function but the public ones)",
            )),
            _ => Ok(self),
        }
    }

    /// `CIPHER` (required) with its keys.
    pub fn cipher_from_env() -> Result<CipherBackend, ConfigError> {
        Ok(match env::var("CIPHER").as_deref() {
            Ok("kms") => CipherBackend::Kms {
                key_id: env::var("KMS_KEY_ID")
                    .map_err(|_| ConfigError::Missing("KMS_KEY_ID", "name the KMS key for data keys"))?,
                wrapped_index_key: match env::var("BLIND_INDEX_KEY_WRAPPED") {
                    Err(_) => None,
                    Ok(h) => Some(hex::decode(h.trim()).map_err(|_| {
                        ConfigError::Invalid("BLIND_INDEX_KEY_WRAPPED", "must be the wrapped key in hex".into())
                    })?),
                },
            },
            Ok("local") => CipherBackend::local_from_hex(&env::var("TUCANO_DEV_MASTER_KEY").map_err(|_| {
                ConfigError::Missing("TUCANO_DEV_MASTER_KEY", "the local DEV-ONLY cipher needs a 64-hex-character key")
            })?)?,
            _ => return Err(ConfigError::Missing("CIPHER", "set it to kms (production) or local (development only)")),
        })
    }

    /// Points the configuration at a rail.
    pub fn with_rail(self, url: &str, secret: &[u8]) -> Result<Self, ConfigError> {
        let mut config = self.with_rail_url(url)?;
        if secret.len() < MIN_RAIL_SECRET {
            return Err(ConfigError::Invalid(
                "RAIL_WEBHOOK_SECRET",
                format!("must have at least {MIN_RAIL_SECRET} bytes"),
            ));
        }
        config.rail_secret = secret.to_vec();
        Ok(config)
    }

    /// Points the configuration at a rail whose secret comes from elsewhere.
    pub fn with_rail_url(mut self, url: &str) -> Result<Self, ConfigError> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ConfigError::Invalid("PIX_RAIL_URL", "must be an http(s) URL".into()));
        }
        self.rail_url = url.to_owned();
        Ok(self)
    }

    pub fn with_ispb(mut self, ispb: &str) -> Result<Self, ConfigError> {
        if ispb.len() != 8 || !ispb.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()) {
            return Err(ConfigError::Invalid("PSP_ISPB", "must be 8 digits or uppercase letters".into()));
        }
        self.ispb = ispb.to_owned();
        Ok(self)
    }

    pub fn new(database_url: String, db_max_connections: u32, location_base: String) -> Result<Self, ConfigError> {
        let location_base = location_base.trim_end_matches('/').to_owned();
        let valid = !location_base.is_empty()
            && location_base.len() <= MAX_LOCATION_BASE
            && !location_base.contains("://")
            && location_base.bytes().all(|b| b.is_ascii_graphic());
        if !valid {
            return Err(ConfigError::Invalid(
                "PIX_LOCATION_BASE",
                format!("must be a host and path without scheme, at most {MAX_LOCATION_BASE} characters"),
            ));
        }
        Ok(Config {
            database_url,
            db_max_connections,
            location_base,
            rail_url: DEFAULT_RAIL_URL.into(),
            rail_secret: vec![],
            rail_secret_id: None,
            db_iam_auth: false,
            rail_secret_previous: None,
            rail_timeout: std::time::Duration::from_secs(10),
            ispb: DEFAULT_ISPB.into(),
            idempotency: IdempotencyBackend::Postgres,
            cipher: CipherBackend::ephemeral(),
            location_scheme: "https".into(),
            webhooks: WebhookSettings::default(),
            quotas: Default::default(),
            tokens: TokenSettings::default(),
            payloads: PayloadSigning::default(),
        })
    }
}
