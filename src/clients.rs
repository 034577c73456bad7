//! `tucano clients`: a merchant's OAuth clients (create with scopes, list, rotate,
//! revoke), through the same operations the AWS admin function runs.

use anyhow::Context;
use clap::Subcommand;
use std::time::Duration;
use tucano_shared::adapters::postgres::PgClientStore;
use tucano_shared::app::clients::{self, ClientAdminError};
use tucano_shared::domain::merchant::MerchantId;
use tucano_shared::domain::oauth::{ClientId, Scopes};

#[derive(Subcommand)]
pub enum ClientsCommand {
    /// Create a client for a merchant; prints its client_id and secret (shown once).
    Create {
        #[arg(long)]
        merchant: uuid::Uuid,
        #[arg(long, default_value = "default")]
        name: String,
        /// Space-separated scopes (default: every scope).
        #[arg(long)]
        scope: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// A merchant's clients (never their secrets).
    List {
        #[arg(long)]
        merchant: uuid::Uuid,
    },
    /// A new secret; the current one keeps working for the overlap.
    Rotate {
        client_id: String,
        /// How long the current secret stays valid, in seconds (at most 7 days).
        #[arg(long, default_value_t = 86_400)]
        overlap_secs: u64,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a client for good: no new token, and its tokens stop working within 30 s.
    Revoke { client_id: String },
}

pub fn parse_scopes(list: Option<&str>) -> anyhow::Result<Scopes> {
    match list {
        None => Ok(Scopes::all()),
        Some(l) => {
            Scopes::parse(l).map_err(|_| anyhow::anyhow!("--scope names an unknown scope; known: {}", Scopes::all()))
        }
    }
}

fn client_id(s: &str) -> anyhow::Result<ClientId> {
    ClientId::parse(s).ok_or_else(|| anyhow::anyhow!("a client id looks like cli_ and 22 letters or digits"))
}

fn explain(e: ClientAdminError) -> anyhow::Error {
    match e {
        ClientAdminError::Store(e) => anyhow::Error::new(e).context("the database"),
        other => anyhow::anyhow!("{other}"),
    }
}

/// Prints credentials shown once.
pub fn print_credentials(client: &ClientId, secret: &str, scopes: Scopes, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::json!({"client_id": client.as_str(), "client_secret": secret, "scope": scopes.to_string()})
        );
    } else {
        println!("client_id:     {client}");
        println!("client_secret: {secret}   (shown once, store it now)");
        println!("scope:         {scopes}");
    }
}

pub async fn run(command: ClientsCommand) -> anyhow::Result<()> {
    let pool = crate::cli::migrated_pool().await?;
    let store = PgClientStore::new(pool);
    match command {
        ClientsCommand::Create { merchant, name, scope, json } => {
            let scopes = parse_scopes(scope.as_deref())?;
            let (record, secret) = clients::create(&store, MerchantId(merchant), &name, scopes).await.map_err(|e| {
                match e {
                    // The only foreign key: the merchant.
                    ClientAdminError::Store(_) => anyhow::anyhow!("no merchant {merchant} (or the database failed)"),
                    other => explain(other),
                }
            })?;
            print_credentials(&record.id, secret.expose(), record.scopes, json);
        }
        ClientsCommand::List { merchant } => {
            let list = tucano_shared::ports::ClientStore::list(&store, MerchantId(merchant))
                .await
                .context("listing clients")?;
            for c in &list {
                println!("{}", clients::describe(c));
            }
        }
        ClientsCommand::Rotate { client_id: id, overlap_secs, json } => {
            let id = client_id(&id)?;
            let now = chrono::Utc::now();
            let (record, secret) =
                clients::rotate(&store, &id, Duration::from_secs(overlap_secs), now).await.map_err(explain)?;
            print_credentials(&record.id, secret.expose(), record.scopes, json);
            if !json {
                if let Some((_, until)) = record.previous {
                    println!("the previous secret works until {}", until.to_rfc3339());
                }
            }
        }
        ClientsCommand::Revoke { client_id: id } => {
            let id = client_id(&id)?;
            clients::revoke(&store, &id).await.map_err(explain)?;
            println!("client {id} revoked");
        }
    }
    Ok(())
}
