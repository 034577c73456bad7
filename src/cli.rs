//! The `tucano` command line: local server, migrations, merchants, BR Code tools.

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use tucano_shared::adapters::postgres::{lazy_pool, migrate};
use tucano_shared::app::{AppState, Config};
use tucano_shared::domain::brcode::BrCode;
use tucano_shared::domain::merchant::ApiKey;
use tucano_shared::domain::pix_key::PixKey;
use tucano_shared::ports::{NewMerchant, RegisterMerchantError};

#[derive(Parser)]
#[command(
    name = "tucano",
    version,
    about = "Tucano: a Pix payments API. Local server, admin and tools."
)]
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
        /// Address to bind; loopback by default.
        #[arg(long, default_value = "127.0.0.1")]
        host: std::net::IpAddr,
    },
    /// Apply pending database migrations (DATABASE_URL).
    Migrate,
    /// Manage merchants.
    Merchants {
        #[command(subcommand)]
        command: MerchantsCommand,
    },
    /// BR Code (Pix QR / copia e cola) tools.
    Brcode {
        #[command(subcommand)]
        command: BrcodeCommand,
    },
}

#[derive(Subcommand)]
pub enum MerchantsCommand {
    /// Register a merchant with its receiving Pix key; prints its API key once.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long = "pix-key")]
        pix_key: String,
        /// City shown in the merchant's BR Codes.
        #[arg(long, default_value = "SAO PAULO")]
        city: String,
        /// Print {"id":...,"api_key":...} instead of text.
        #[arg(long)]
        json: bool,
    },
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

fn database_url() -> anyhow::Result<String> {
    std::env::var("DATABASE_URL")
        .context("DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/tucano)")
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Dev { port, host } => dev(SocketAddr::new(host, port)).await,
        Command::Migrate => {
            let pool = lazy_pool(&database_url()?, 2)?;
            migrate(&pool).await.context("applying migrations")?;
            println!("migrations applied");
            Ok(())
        }
        Command::Merchants {
            command:
                MerchantsCommand::Create {
                    name,
                    pix_key,
                    city,
                    json,
                },
        } => create_merchant(name, pix_key, city, json).await,
        Command::Brcode {
            command: BrcodeCommand::Decode { payload, json },
        } => decode(&payload, json),
    }
}

async fn dev(addr: SocketAddr) -> anyhow::Result<()> {
    tucano_shared::telemetry::init(std::env::var("LOG_FORMAT").as_deref() == Ok("json"));
    let location_base = std::env::var("PIX_LOCATION_BASE")
        .unwrap_or_else(|_| format!("localhost:{}/qr/v2", addr.port()));
    let config = Config::new(database_url()?, 10, location_base)?;
    let pool = lazy_pool(&config.database_url, config.db_max_connections)?;
    migrate(&pool)
        .await
        .context("applying migrations (is Postgres running and DATABASE_URL right?)")?;
    let state = AppState::with_pool(config, pool);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    tracing::info!(%addr, "tucano dev server listening");
    crate::server::serve(listener, state).await?;
    Ok(())
}

async fn create_merchant(
    name: String,
    pix_key: String,
    city: String,
    json: bool,
) -> anyhow::Result<()> {
    let key = PixKey::parse(&pix_key).map_err(|e| anyhow::anyhow!("--pix-key {e}"))?;
    if name.trim().is_empty() || name.chars().count() > 200 {
        bail!("--name must have 1 to 200 characters");
    }
    if city.trim().is_empty() || city.chars().count() > 200 {
        bail!("--city must have 1 to 200 characters");
    }
    let pool = lazy_pool(&database_url()?, 2)?;
    migrate(&pool).await.context("applying migrations")?;
    let state = AppState::with_pool(
        Config::new(database_url()?, 2, "unused.invalid/qr".into())?,
        pool,
    );
    let api_key = ApiKey::generate();
    let new = NewMerchant {
        name: name.trim().into(),
        city: city.trim().into(),
        pix_key: key.as_str().into(),
        api_key_hash: api_key.hash(),
    };
    let id = match state.merchants.register(new).await {
        Ok(id) => id,
        Err(RegisterMerchantError::PixKeyTaken) => {
            bail!("that Pix key is already registered to a merchant")
        }
        Err(RegisterMerchantError::Store(e)) => {
            return Err(anyhow::Error::new(e).context("registering the merchant"))
        }
    };
    if json {
        println!(
            "{}",
            serde_json::json!({"id": id.to_string(), "api_key": api_key.expose()})
        );
    } else {
        println!("merchant {id} created");
        println!("API key (shown once, store it now): {}", api_key.expose());
    }
    Ok(())
}

fn decode(payload: &str, json: bool) -> anyhow::Result<()> {
    let code =
        BrCode::decode(payload.trim()).map_err(|e| anyhow::anyhow!("invalid BR Code: {e}"))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&code)?);
    } else {
        let kind = if code.account.url.is_some() {
            "dynamic"
        } else {
            "static"
        };
        println!("valid {kind} Pix BR Code (CRC {} ok)", code.crc);
        println!(
            "  receiver: {} ({})",
            code.merchant_name, code.merchant_city
        );
        if let Some(k) = &code.account.chave {
            println!("  key:      {k}");
        }
        if let Some(u) = &code.account.url {
            println!("  location: {u}");
        }
        if let Some(a) = &code.amount {
            println!("  amount:   {a}");
        }
        println!("  txid:     {}", code.txid);
        if let Some(i) = &code.account.info_adicional {
            println!("  message:  {i}");
        }
    }
    Ok(())
}
