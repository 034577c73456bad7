//! The `tucano` command line: local server, sandbox rail, migrations, merchants, ledger
//! check, BR Code tools and benchmarks.

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use std::net::{IpAddr, SocketAddr};
use tucano_shared::adapters::postgres::{lazy_pool, migrate, PgLedger};
use tucano_shared::app::{AppState, Config};
use tucano_shared::domain::brcode::BrCode;
use tucano_shared::domain::ledger::FeePlan;
use tucano_shared::domain::money::Amount;
use tucano_shared::ports::{Ledger, MerchantLimits};

#[derive(Parser)]
#[command(name = "tucano", version, about = "Tucano: a Pix payments API. Local server, sandbox rail, admin and tools.")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve every route locally over HTTP (same handlers as the Lambdas); migrates first.
    Dev {
        #[arg(long, default_value_t = 3000)]
        port: u16,
        #[arg(long, default_value = "127.0.0.1")]
        host: IpAddr,
    },
    /// Run the sandbox Pix rail (the payer's bank and the SPI) as its own process.
    SandboxRail {
        #[arg(long, default_value_t = 3100)]
        port: u16,
        #[arg(long, default_value = "127.0.0.1")]
        host: IpAddr,
        /// Where Tucano listens (notifications go to its /rail/notificacoes).
        #[arg(long, env = "TUCANO_URL", default_value = "http://127.0.0.1:3000")]
        tucano_url: String,
        /// The fault profile at start (all off by default; `PUT /falhas` changes it).
        #[command(flatten)]
        faults: crate::sandbox::faults::FaultFlags,
    },
    /// Drive the sandbox rail from a shell.
    Sandbox {
        #[command(subcommand)]
        command: SandboxCommand,
    },
    /// Apply pending database migrations (DATABASE_URL).
    Migrate,
    /// Manage merchants.
    Merchants {
        #[command(subcommand)]
        command: MerchantsCommand,
    },
    /// Manage a merchant's OAuth clients (client credentials and scopes).
    Clients {
        #[command(subcommand)]
        command: crate::clients::ClientsCommand,
    },
    /// Finish transfers left EM_PROCESSAMENTO by asking the rail where each stands.
    Reconcile {
        /// Leave alone what was requested less than this many seconds ago.
        #[arg(long, default_value_t = 30)]
        grace_secs: i64,
    },
    /// Webhooks to merchants.
    Webhooks {
        #[command(subcommand)]
        command: WebhooksCommand,
    },
    /// The ledger.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// BR Code (Pix QR / copia e cola) tools.
    Brcode {
        #[command(subcommand)]
        command: BrcodeCommand,
    },
    /// The route table: every route and job with its function, access, idempotency,
    /// quota and encryption purposes (what the AWS template is written from).
    Routes {
        /// As JSON (what scripts/serverless_yml.py reads).
        #[arg(long)]
        json: bool,
    },
    /// Benchmarks; results are appended to BENCHMARKS.md with --record.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Subcommand)]
pub enum SandboxCommand {
    /// Pay a BR Code as a payer would; Tucano gets the (signed) notification.
    Pay {
        pix_copia_e_cola: String,
        /// Amount to pay (required for codes without one; overrides the charge's).
        #[arg(long)]
        amount: Option<String>,
        /// Send the notification this many times.
        #[arg(long, default_value_t = 1)]
        duplicates: u32,
        /// Deliver copies in random order.
        #[arg(long)]
        shuffle: bool,
        /// Deliver the copies together, as one batch (one signed request).
        #[arg(long)]
        batch: bool,
        /// Pay as on this day (YYYY-MM-DD): a charge with a due date is priced for it (early
        /// with its discount, late with its fine and interest).
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
        #[arg(long, env = "PIX_RAIL_URL", default_value = "http://127.0.0.1:3100")]
        rail_url: String,
    },
    /// Move the sandbox clock forward, debiting the Pix Automático attempts due each day.
    Advance {
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=3660))]
        days: u32,
        #[command(flatten)]
        rail: RailUrl,
    },
    /// Show the simulated payer: its recurrence requests, recurrences and scheduled attempts.
    Payer {
        #[command(flatten)]
        rail: RailUrl,
    },
    /// Cancel a recurrence as its payer.
    CancelRecurrence {
        id_rec: String,
        #[command(flatten)]
        rail: RailUrl,
    },
    /// Cancel one scheduled attempt as its payer.
    CancelAttempt {
        end_to_end_id: String,
        #[command(flatten)]
        rail: RailUrl,
    },
    /// Approve a pending recurrence request as its payer.
    Approve {
        id_solic_rec: String,
        #[command(flatten)]
        rail: RailUrl,
    },
    /// Reject a pending recurrence request as its payer.
    Reject {
        id_solic_rec: String,
        #[command(flatten)]
        rail: RailUrl,
    },
}

/// Where the sandbox rail listens.
#[derive(clap::Args)]
pub struct RailUrl {
    /// The sandbox rail's base URL.
    #[arg(long = "rail", alias = "rail-url", env = "PIX_RAIL_URL", default_value = "http://127.0.0.1:3100")]
    pub url: String,
}

#[derive(Subcommand)]
pub enum MerchantsCommand {
    /// Register a merchant with its receiving Pix key; prints its first OAuth client
    /// (client_id and client_secret, every scope) and its legacy API key, once.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long = "pix-key")]
        pix_key: String,
        /// City shown in the merchant's BR Codes.
        #[arg(long, default_value = "SAO PAULO")]
        city: String,
        /// Fee on each received Pix, in percent with up to two decimals (e.g. 0.99).
        #[arg(long, default_value = "0")]
        fee_percent: String,
        /// Fixed fee on each received Pix, in reais (e.g. 0.10).
        #[arg(long, default_value = "0.00")]
        fee_fixed: String,
        /// The merchant is a person (CPF): the Pix night limit applies to its transfers.
        #[arg(long)]
        individual: bool,
        /// Largest transfer out, in reais.
        #[arg(long, default_value = "100000.00")]
        limit_per_transfer: String,
        /// Largest total of transfers out per day (Brasília), in reais.
        #[arg(long, default_value = "500000.00")]
        limit_daily: String,
        /// Largest transfer between 20:00 and 06:00 for individuals, in reais.
        #[arg(long, default_value = "1000.00")]
        limit_night: String,
        /// Print {"id", "client_id", "client_secret", "scope", "api_key"} instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Set the receiver details a merchant's charges with a due date show (Bacen
    /// `recebedor`: document and address; name and city are the merchant's).
    Receiver {
        #[arg(long)]
        merchant: uuid::Uuid,
        #[arg(long, conflicts_with = "cnpj", required_unless_present = "cnpj")]
        cpf: Option<String>,
        #[arg(long)]
        cnpj: Option<String>,
        #[arg(long = "nome-fantasia")]
        nome_fantasia: Option<String>,
        #[arg(long)]
        logradouro: String,
        /// Two capital letters (e.g. PE).
        #[arg(long)]
        uf: String,
        /// Eight digits.
        #[arg(long)]
        cep: String,
    },
}

#[derive(Subcommand)]
pub enum WebhooksCommand {
    /// Deliver webhooks: fan outbox events out into deliveries and attempt every due one,
    /// until stopped (`tucano dev` runs the same loop in-process).
    Dispatch {
        /// One pass, then exit (prints what it did as JSON).
        #[arg(long)]
        once: bool,
        /// Pause between passes that found nothing to do, in milliseconds.
        #[arg(long, default_value_t = 250)]
        idle_ms: u64,
    },
}

#[derive(Subcommand)]
pub enum LedgerCommand {
    /// Verify every ledger invariant over the whole database; non-zero exit on failure.
    Check,
    /// What each merchant owes operations (settlements beyond its balance), most first.
    Owed,
}

#[derive(Subcommand)]
pub enum BrcodeCommand {
    /// Decode a BR Code payload and check its CRC; exits non-zero if invalid.
    Decode {
        payload: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Cold start of function binaries (release) under our Lambda Runtime API emulator,
    /// against a bare lambda_http hello world built the same way.
    Coldstart {
        #[arg(long, default_value_t = 20)]
        runs: usize,
        /// Functions to measure (default: every route's).
        #[arg(long, value_delimiter = ',')]
        functions: Vec<String>,
        /// Use the release binaries already built instead of building them first.
        #[arg(long)]
        no_build: bool,
        #[command(flatten)]
        out: BenchOutput,
    },
    /// The first response after a cold start with TLS to Postgres and a password login, as
    /// in AWS, p50/p99 with its parts (init, connection, queries, our code).
    FirstResponse {
        #[arg(long, default_value_t = 20)]
        runs: usize,
        /// Functions to measure (default: cob_put, cob_get, balance_get).
        #[arg(long, value_delimiter = ',')]
        functions: Vec<String>,
        /// The certificate (or CA) that the Postgres server's TLS certificate is verified with.
        #[arg(long, env = "PG_TLS_ROOT_CERT")]
        pg_root_cert: Option<std::path::PathBuf>,
        /// Use the release binary already built instead of building it first.
        #[arg(long)]
        no_build: bool,
        #[command(flatten)]
        out: BenchOutput,
    },
    /// Requests per second and latency of create / get / list charges over HTTP, against
    /// the same storage work called directly.
    Api {
        #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
        concurrency: Vec<usize>,
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        #[command(flatten)]
        out: BenchOutput,
    },
    /// Credits per second: one hot merchant account versus spread over many.
    Ledger {
        /// Account counts to compare, e.g. 1,100.
        #[arg(long, value_delimiter = ',', default_value = "1,100")]
        accounts: Vec<usize>,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Rewrite merchant accounts to this many balance rows (1 = one row per account).
        #[arg(long)]
        balance_shards: Option<i16>,
        /// Also credit the hot account in the rail's batches of this many Pix per
        /// notification request (booked together); 1 = only one Pix per request.
        #[arg(long, default_value_t = 10)]
        batch: usize,
        #[command(flatten)]
        out: BenchOutput,
    },
    /// Sizes of the Lambda zips `make lambdas` wrote, against the hello-world zip.
    Packages {
        #[arg(long, default_value = "target/lambda")]
        dir: std::path::PathBuf,
        #[command(flatten)]
        out: BenchOutput,
    },
    /// Every scenario, sized to run in minutes: ledger, api, coldstart of representative
    /// functions, and package sizes when `make lambdas` has run.
    All {
        #[command(flatten)]
        out: BenchOutput,
    },
}

/// Where results go besides the terminal.
#[derive(clap::Args, Clone, Copy)]
pub struct BenchOutput {
    /// Append the results to BENCHMARKS.md.
    #[arg(long)]
    pub record: bool,
    /// Print the results as JSON on standard output.
    #[arg(long)]
    pub json: bool,
}

/// A small pool on `DATABASE_URL` with every migration applied; the database is created
/// first if the server does not have it yet.
/// The CAs a payer's bank trusts on payload signatures: `PAYLOAD_TRUST_STORE` (a PEM file;
/// `make dev` points it at its dev CA), else the public web roots.
fn payload_trust_store() -> anyhow::Result<tucano_shared::domain::jws::TrustStore> {
    use tucano_shared::domain::jws::TrustStore;
    match std::env::var("PAYLOAD_TRUST_STORE") {
        Ok(path) => {
            let pem = std::fs::read(&path).with_context(|| format!("reading PAYLOAD_TRUST_STORE ({path})"))?;
            TrustStore::from_pem(&pem).map_err(|e| anyhow::anyhow!("PAYLOAD_TRUST_STORE: {e}"))
        }
        Err(_) => Ok(TrustStore::public_roots()),
    }
}

pub async fn migrated_pool() -> anyhow::Result<sqlx::PgPool> {
    use sqlx::migrate::MigrateDatabase;
    let url = database_url()?;
    let exists = sqlx::Postgres::database_exists(&url)
        .await
        .context("reaching Postgres (is it running and is DATABASE_URL right?)")?;
    if !exists {
        sqlx::Postgres::create_database(&url).await.context("creating the database")?;
        tracing::info!("created the database named in DATABASE_URL");
    }
    let pool = lazy_pool(&url, 2)?;
    migrate(&pool).await.context("applying migrations")?;
    Ok(pool)
}

fn database_url() -> anyhow::Result<String> {
    std::env::var("DATABASE_URL").context("DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/tucano)")
}

fn rail_secret() -> anyhow::Result<String> {
    std::env::var("RAIL_WEBHOOK_SECRET")
        .context("RAIL_WEBHOOK_SECRET is not set: the secret shared by Tucano and the rail")
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Dev { port, host } => dev(SocketAddr::new(host, port)).await,
        Command::SandboxRail { port, host, tucano_url, faults } => {
            sandbox_rail(SocketAddr::new(host, port), tucano_url, faults.into()).await
        }
        Command::Sandbox { command } => sandbox(command).await,
        Command::Migrate => {
            migrated_pool().await?.close().await;
            println!("migrations applied");
            Ok(())
        }
        Command::Merchants {
            command:
                MerchantsCommand::Create {
                    name,
                    pix_key,
                    city,
                    fee_percent,
                    fee_fixed,
                    individual,
                    limit_per_transfer,
                    limit_daily,
                    limit_night,
                    json,
                },
        } => {
            let amount = |flag: &str, v: &str| {
                Amount::parse(v)
                    .ok()
                    .filter(|a| !a.is_zero())
                    .ok_or_else(|| anyhow::anyhow!("{flag} must be an amount like 1000.00"))
            };
            let limits = MerchantLimits {
                per_transfer: amount("--limit-per-transfer", &limit_per_transfer)?,
                daily: amount("--limit-daily", &limit_daily)?,
                night: amount("--limit-night", &limit_night)?,
            };
            let fees = FeePlan {
                bps: parse_percent(&fee_percent)?,
                fixed: Amount::parse(&fee_fixed).map_err(|e| anyhow::anyhow!("--fee-fixed {e}"))?,
            };
            create_merchant(name, pix_key, city, fees, individual, limits, json).await
        }
        Command::Merchants {
            command: MerchantsCommand::Receiver { merchant, cpf, cnpj, nome_fantasia, logradouro, uf, cep },
        } => {
            let op = serde_json::json!({"op": "merchants.receiver", "merchant": merchant.to_string(), "cpf": cpf,
                                        "cnpj": cnpj, "nomeFantasia": nome_fantasia, "logradouro": logradouro,
                                        "uf": uf, "cep": cep});
            let pool = migrated_pool().await?;
            let merchants = tucano_shared::adapters::postgres::PgMerchantStore::new(pool.clone());
            let clients = tucano_shared::adapters::postgres::PgClientStore::new(pool);
            match tucano_shared::app::admin::run(&merchants, &clients, chrono::Utc::now(), &op).await {
                Ok(_) => {
                    use tucano_shared::ports::MerchantStore;
                    let id = tucano_shared::domain::merchant::MerchantId(merchant);
                    let account = merchants.account_number(id).await.context("reading the account number")?;
                    println!("merchant {merchant}: receiver details set");
                    if let Some(n) = account {
                        println!("its account here (recurring charges' recebedor): agencia 0001, conta {n}, PAGAMENTO");
                    }
                }
                Err(tucano_shared::app::admin::AdminError::Store(e)) => {
                    return Err(anyhow::Error::new(e).context("setting the receiver details"))
                }
                Err(e) => bail!("{e}"),
            }
            Ok(())
        }
        Command::Clients { command } => crate::clients::run(command).await,
        Command::Ledger { command: LedgerCommand::Check } => ledger_check().await,
        Command::Ledger { command: LedgerCommand::Owed } => ledger_owed().await,
        Command::Reconcile { grace_secs } => reconcile(grace_secs).await,
        Command::Webhooks { command: WebhooksCommand::Dispatch { once, idle_ms } } => dispatch(once, idle_ms).await,
        Command::Brcode { command: BrcodeCommand::Decode { payload, json } } => decode(&payload, json),
        Command::Routes { json } => {
            print_routes(json);
            Ok(())
        }
        Command::Bench { command } => crate::benches::run(command).await,
    }
}

/// The application state from the environment, as `tucano dev` and the tools build it.
async fn env_state(location_base: String, pool_size: u32) -> anyhow::Result<AppState> {
    let rail_url = std::env::var("PIX_RAIL_URL").unwrap_or_else(|_| "http://127.0.0.1:3100".into());
    let mut config =
        Config::new(database_url()?, pool_size, location_base)?.with_rail(&rail_url, rail_secret()?.as_bytes())?;
    config.idempotency = Config::idempotency_from_env()?;
    config.cipher = Config::cipher_from_env()?;
    if let Ok(scheme) = std::env::var("LOCATION_SCHEME") {
        config.location_scheme = scheme;
    }
    config.webhooks = tucano_shared::app::WebhookSettings::from_env()?;
    config.payloads = tucano_shared::app::PayloadSigning::from_env()?;
    config.quotas = Config::quotas_from_env()?;
    config.tokens = tucano_shared::app::TokenSettings::from_env()?;
    config.read_rail_env()?;
    if config.webhooks.rules.allow_local {
        tracing::warn!("WEBHOOK_ALLOW_LOCAL: webhooks may go to http://127.0.0.1 (DEVELOPMENT ONLY)");
    }
    tracing::info!(idempotency = ?config.idempotency, cipher = ?config.cipher, "configuration");
    AppState::new(config).await
}

async fn reconcile(grace_secs: i64) -> anyhow::Result<()> {
    tucano_shared::telemetry::init(std::env::var("LOG_FORMAT").as_deref() == Ok("json"));
    let state = env_state("localhost/qr/v2".into(), 4).await?;
    // Run by hand, a pass finishes every order, however long it takes.
    let grace = chrono::Duration::seconds(grace_secs.max(0));
    let report = tucano_shared::app::reconcile::run_within(&state, grace, std::time::Duration::MAX).await?;
    println!("{}", serde_json::to_string(&report)?);
    anyhow::ensure!(report.errors == 0, "{} order(s) could not be reconciled; run again", report.errors);
    Ok(())
}

async fn dispatch(once: bool, idle_ms: u64) -> anyhow::Result<()> {
    tucano_shared::telemetry::init(std::env::var("LOG_FORMAT").as_deref() == Ok("json"));
    let state = env_state("localhost/qr/v2".into(), 8).await?;
    if once {
        let report = tucano_shared::app::webhooks::dispatch_once(&state).await?;
        println!(
            "{}",
            serde_json::json!({"fannedOut": report.fanned_out, "attempted": report.attempted, "delivered": report.delivered})
        );
        return Ok(());
    }
    println!("webhook dispatcher running");
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    tucano_shared::app::webhooks::run_dispatcher(state, std::time::Duration::from_millis(idle_ms), stop).await;
    Ok(())
}

async fn dev(addr: SocketAddr) -> anyhow::Result<()> {
    tucano_shared::telemetry::init(std::env::var("LOG_FORMAT").as_deref() == Ok("json"));
    let location_base =
        std::env::var("PIX_LOCATION_BASE").unwrap_or_else(|_| format!("localhost:{}/qr/v2", addr.port()));
    let pool = migrated_pool().await?;
    pool.close().await;
    let mut state = env_state(location_base, 10).await?;
    // With the sandbox rail, both run on its simulated time (`tucano sandbox advance`).
    if let Some(clock) = tucano_shared::adapters::sandbox_clock::SandboxClock::from_env() {
        tracing::info!("running on the sandbox's simulated clock (SANDBOX_CLOCK_FILE)");
        state = state.with_clock(std::sync::Arc::new(clock));
    }
    if let tucano_shared::app::IdempotencyBackend::DynamoDb { table } = &state.config.idempotency {
        let aws = tucano_shared::adapters::aws::AwsContext::from_env()?;
        tucano_shared::adapters::dynamodb::DynamoIdempotencyStore::new(&aws, table.clone())
            .ensure_table()
            .await
            .context("creating the local DynamoDB table")?;
    }
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
    let addr = listener.local_addr().unwrap_or(addr);
    tracing::info!(%addr, "tucano dev server listening");
    // Webhooks go out from a task beside the server (a queue-fed Lambda in AWS).
    let dispatcher = state.clone();
    // It fans out (the relay's work) and delivers: held to the delivery worker's key policy.
    tokio::spawn(tucano_shared::routes::within_job(
        "webhook_deliver",
        tucano_shared::app::webhooks::run_dispatcher(
            dispatcher,
            std::time::Duration::from_millis(250),
            std::future::pending(),
        ),
    ));
    // Orders left EM_PROCESSAMENTO are reconciled from a task too (a scheduled Lambda in AWS).
    let reconciler = state.clone();
    let env_secs = |name: &str, default: u64| std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default);
    let every = env_secs("RECONCILE_EVERY_SECS", 15).max(1);
    let grace = chrono::Duration::seconds(i64::try_from(env_secs("RECONCILE_GRACE_SECS", 10)).unwrap_or(10));
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(every)).await;
            let minute = tucano_shared::app::reconcile::minute(&reconciler, grace);
            let m = tucano_shared::routes::within_job("reconciler", minute).await;
            if let Err(e) = m.pass {
                tracing::warn!(error = %e, "reconciliation pass failed");
            }
            if let Err(e) = m.swept {
                tracing::warn!(error = %e, "Pix Automático sweep failed");
            }
            if let Err(e) = m.pruned {
                tracing::warn!(error = %e, "pruning the history failed");
            }
        }
    });
    // Batches of charges with a due date are worked off by a task too (a scheduled Lambda
    // in AWS).
    let batches = state.clone();
    tokio::spawn(async move {
        loop {
            let pass = tucano_shared::handlers::lotecobv::process_pending(&batches, 100);
            match tucano_shared::routes::within_job("lotecobv_worker", pass).await {
                Ok(0) => tokio::time::sleep(std::time::Duration::from_millis(500)).await,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "batch pass failed");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    });
    crate::server::serve(listener, state).await?;
    Ok(())
}

async fn sandbox_rail(
    addr: SocketAddr,
    tucano_url: String,
    faults: crate::sandbox::faults::FaultProfile,
) -> anyhow::Result<()> {
    tucano_shared::telemetry::init(std::env::var("LOG_FORMAT").as_deref() == Ok("json"));
    let config = crate::sandbox::RailConfig {
        tucano_url,
        secret: rail_secret()?.into_bytes(),
        location_scheme: "http".into(),
        trust: std::sync::Arc::new(payload_trust_store()?),
    };
    if faults != crate::sandbox::faults::FaultProfile::default() {
        tracing::warn!(?faults, "the sandbox rail will misbehave as its fault profile says");
    }
    let (bound, handle) = crate::sandbox::spawn(addr, config, faults).await?;
    // The first line on stdout tells a parent process where we listen.
    println!("sandbox rail listening on {bound}");
    handle.await?;
    Ok(())
}

async fn sandbox(command: SandboxCommand) -> anyhow::Result<()> {
    use reqwest::Method;
    match command {
        SandboxCommand::Pay { pix_copia_e_cola, amount, duplicates, shuffle, batch, date, rail_url } => {
            sandbox_pay(&rail_url, &pix_copia_e_cola, amount, duplicates, shuffle, batch, date).await
        }
        SandboxCommand::Advance { days, rail } => {
            let body = serde_json::json!({"dias": days});
            sandbox_call(&rail.url, Method::POST, &["relogio", "avancar"], Some(body)).await
        }
        SandboxCommand::Payer { rail } => sandbox_call(&rail.url, Method::GET, &["pagador"], None).await,
        SandboxCommand::CancelRecurrence { id_rec, rail } => {
            let path = ["pagador", "recorrencias", id_rec.as_str(), "cancelamento"];
            sandbox_call(&rail.url, Method::POST, &path, None).await
        }
        SandboxCommand::CancelAttempt { end_to_end_id, rail } => {
            let path = ["pagador", "agendamentos", end_to_end_id.as_str(), "cancelamento"];
            sandbox_call(&rail.url, Method::POST, &path, None).await
        }
        SandboxCommand::Approve { id_solic_rec, rail } => {
            let path = ["pagador", "solicitacoes", id_solic_rec.as_str(), "aprovar"];
            sandbox_call(&rail.url, Method::POST, &path, None).await
        }
        SandboxCommand::Reject { id_solic_rec, rail } => {
            let path = ["pagador", "solicitacoes", id_solic_rec.as_str(), "rejeitar"];
            sandbox_call(&rail.url, Method::POST, &path, None).await
        }
    }
}

/// Calls the sandbox rail at `segments` (each percent-encoded) and prints its JSON answer.
async fn sandbox_call(
    rail: &str,
    method: reqwest::Method,
    segments: &[&str],
    body: Option<serde_json::Value>,
) -> anyhow::Result<()> {
    let mut url = url::Url::parse(rail).with_context(|| format!("--rail is not a URL: {rail}"))?;
    url.path_segments_mut()
        .map_err(|()| anyhow::anyhow!("--rail cannot take a path: {rail}"))?
        .pop_if_empty()
        .extend(segments);
    let mut request = reqwest::Client::new().request(method, url);
    if let Some(b) = body {
        request = request.json(&b);
    }
    let res = request.send().await.with_context(|| format!("reaching the sandbox rail at {rail}"))?;
    let status = res.status();
    let text = res.text().await?;
    if !status.is_success() {
        bail!("the rail answered {status}: {text}");
    }
    println!("{text}");
    Ok(())
}

async fn sandbox_pay(
    rail: &str,
    code: &str,
    amount: Option<String>,
    duplicates: u32,
    shuffle: bool,
    batch: bool,
    date: Option<chrono::NaiveDate>,
) -> anyhow::Result<()> {
    let mut body = serde_json::json!({"pixCopiaECola": code, "duplicatas": duplicates, "embaralhar": shuffle});
    if batch {
        body["emLote"] = serde_json::json!(true);
    }
    if let Some(a) = amount {
        body["valor"] = serde_json::json!(a);
    }
    if let Some(d) = date {
        body["dataPagamento"] = serde_json::json!(d.to_string());
    }
    let res = reqwest::Client::new()
        .post(format!("{}/pagamentos", rail.trim_end_matches('/')))
        .json(&body)
        .send()
        .await
        .with_context(|| format!("reaching the sandbox rail at {rail}"))?;
    let status = res.status();
    let text = res.text().await?;
    if !status.is_success() {
        bail!("the rail refused the payment ({status}): {text}");
    }
    println!("{text}");
    Ok(())
}

/// `"0.99"` percent -> 99 basis points.
fn parse_percent(s: &str) -> anyhow::Result<u32> {
    tucano_shared::app::admin::parse_percent(s)
        .ok_or_else(|| anyhow::anyhow!("--fee-percent must be a percentage like 0.99, at most 100"))
}

async fn create_merchant(
    name: String,
    pix_key: String,
    city: String,
    fees: FeePlan,
    individual: bool,
    limits: MerchantLimits,
    json: bool,
) -> anyhow::Result<()> {
    use tucano_shared::app::admin::{self, AdminError, MerchantRequest};
    let pool = migrated_pool().await?;
    let merchants = tucano_shared::adapters::postgres::PgMerchantStore::new(pool);
    let request = MerchantRequest { name, pix_key, city, fees, individual, limits };
    let created = match admin::create_merchant(&merchants, request).await {
        Ok(created) => created,
        Err(AdminError::Store(e)) => return Err(anyhow::Error::new(e).context("registering the merchant")),
        Err(e) => bail!("{e}"),
    };
    if json {
        println!("{}", created.to_json());
    } else {
        println!("merchant {} created; its OAuth client (POST /oauth/token with these):", created.id);
        crate::clients::print_credentials(&created.client_id, created.client_secret.expose(), created.scopes, false);
        println!("legacy API key, every scope (shown once): {}", created.api_key.expose());
    }
    Ok(())
}

async fn ledger_check() -> anyhow::Result<()> {
    let pool = lazy_pool(&database_url()?, 2)?;
    let ledger = PgLedger::new(pool);
    let failures = ledger.check().await.context("checking the ledger")?;
    if failures.is_empty() {
        println!("ledger check passed: every transaction balances, balances equal postings, none below its minimum, records match");
        return Ok(());
    }
    for f in &failures {
        println!("FAIL {f}");
    }
    bail!("ledger check failed: {} problem(s)", failures.len())
}

async fn ledger_owed() -> anyhow::Result<()> {
    let ledger = PgLedger::new(lazy_pool(&database_url()?, 2)?);
    let owed = ledger.owed().await.context("reading the operations receivable")?;
    if owed.is_empty() {
        println!("no merchant owes operations anything");
    }
    for (merchant, amount) in &owed {
        println!("{} owes {amount}", merchant.0);
    }
    Ok(())
}

fn decode(payload: &str, json: bool) -> anyhow::Result<()> {
    let code = BrCode::decode(payload.trim()).map_err(|e| anyhow::anyhow!("invalid BR Code: {e}"))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&code)?);
        return Ok(());
    }
    let kind = if code.account.url.is_some() { "dynamic" } else { "static" };
    println!("valid {kind} Pix BR Code (CRC {} ok)", code.crc);
    println!("  receiver: {} ({})", code.merchant_name, code.merchant_city);
    let fields = [
        ("key", code.account.chave.as_deref()),
        ("location", code.account.url.as_deref()),
        ("amount", code.amount.as_deref()),
        ("txid", Some(code.txid.as_str())),
        ("message", code.account.info_adicional.as_deref()),
    ];
    for (label, value) in fields {
        if let Some(v) = value {
            println!("  {label:<9} {v}");
        }
    }
    Ok(())
}

/// `tucano routes`: the route table as JSON, or one line per route and job.
fn print_routes(json: bool) {
    if json {
        println!("{}", tucano_shared::routes::table_json());
        return;
    }
    for r in tucano_shared::routes::ROUTES {
        let scope = r.access.scope().map(|s| s.as_str()).unwrap_or("");
        println!("{:<6} {:<40} {:<22} {:<9} {}", r.method, r.path, r.function, r.access.name(), scope);
    }
    for j in tucano_shared::routes::JOBS {
        println!("{:<6} {:<40} {:<22} {:?}", "-", "-", j.function, j.trigger);
    }
}
