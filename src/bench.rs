//! `tucano bench ...`: measurements on this machine, written to BENCHMARKS.md.
//!
//! `ledger`: received Pix per second credited to one hot merchant account versus spread
//! over many, through the real path (notification claim, received Pix row, ledger entry
//! with its triggers, outbox event), each its own committed transaction.

use anyhow::Context;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tucano_shared::adapters::postgres::{migrate, AccountDirectory, PgLedger, PgMerchantStore, PgPixStore};
use tucano_shared::domain::ids::EndToEndId;
use tucano_shared::domain::ledger::FeePlan;
use tucano_shared::domain::merchant::ApiKey;
use tucano_shared::domain::money::Amount;
use tucano_shared::domain::payment::{IncomingPix, Payer};
use tucano_shared::ports::{Ledger, MerchantStore, NewMerchant, PixStore};

/// One run of the ledger benchmark.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LedgerRun {
    pub accounts: usize,
    pub concurrency: usize,
    pub seconds: f64,
    pub credits: u64,
    pub credits_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
    /// Balance rows per merchant account (None: the schema's default).
    pub balance_shards: Option<i16>,
}

/// A fresh database next to `database_url`'s, migrated.
async fn fresh_database(database_url: &str, name: &str) -> anyhow::Result<sqlx::PgPool> {
    let (server, _) = database_url.rsplit_once('/').context("DATABASE_URL has no database name")?;
    let admin = sqlx::PgPool::connect(database_url).await.context("connecting to DATABASE_URL")?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&admin).await?;
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await?;
    admin.close().await;
    let url = format!("{server}/{name}");
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(64).connect(&url).await?;
    migrate(&pool).await?;
    Ok(pool)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Runs credits for `seconds` with `concurrency` workers over `accounts` merchants.
///
/// `balance_shards` rewrites the merchant accounts of the throwaway database to that many
/// balance rows (1 = the classic one-row-per-account design), for comparison.
pub async fn ledger(
    database_url: &str,
    accounts: usize,
    concurrency: usize,
    seconds: u64,
    balance_shards: Option<i16>,
) -> anyhow::Result<LedgerRun> {
    let pool = fresh_database(database_url, "tucano_bench_ledger").await?;
    let merchants_store = PgMerchantStore::new(pool.clone());
    let mut keys = vec![];
    for i in 0..accounts {
        let key = uuid::Uuid::new_v4().to_string();
        let new = NewMerchant {
            name: format!("Bench {i}"),
            city: "SAO PAULO".into(),
            pix_key: key.clone(),
            api_key_hash: ApiKey::generate().hash(),
            fees: FeePlan { bps: 99, fixed: Amount::ZERO },
            individual: false,
            limits: Default::default(),
        };
        merchants_store.register(new).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        keys.push(key);
    }
    if let Some(n) = balance_shards {
        anyhow::ensure!((1..=64).contains(&n), "--balance-shards must be 1 to 64");
        for sql in [
            "ALTER TABLE ledger_accounts DISABLE TRIGGER USER".to_owned(),
            "ALTER TABLE ledger_balances DISABLE TRIGGER USER".to_owned(),
            format!("UPDATE ledger_accounts SET shards = {n} WHERE merchant_id IS NOT NULL"),
            "DELETE FROM ledger_balances b USING ledger_accounts a WHERE a.id = b.account_id AND b.shard >= a.shards"
                .to_owned(),
            "ALTER TABLE ledger_accounts ENABLE TRIGGER USER".to_owned(),
            "ALTER TABLE ledger_balances ENABLE TRIGGER USER".to_owned(),
        ] {
            sqlx::query(&sql).execute(&pool).await?;
        }
    }
    let directory = Arc::new(AccountDirectory::default());
    let cipher = Arc::new(tucano_shared::adapters::local_cipher::LocalCipher::new([7; 32]));
    let store = Arc::new(PgPixStore::new(pool.clone(), directory.clone(), cipher));
    let ledger = PgLedger::new(pool.clone());
    let keys = Arc::new(keys);
    let stop = Arc::new(AtomicBool::new(false));
    let valor = Amount::parse("10.00")?;
    let started = Instant::now();
    let mut workers = vec![];
    for w in 0..concurrency {
        let (store, keys, stop) = (store.clone(), keys.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = vec![];
            let mut errors = 0u64;
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let chave = keys[(w + n * concurrency) % keys.len()].clone();
                n += 1;
                let now = chrono::Utc::now();
                let pix = IncomingPix {
                    end_to_end_id: EndToEndId::generate("BENCH000", now),
                    chave,
                    txid: None,
                    valor,
                    horario: now,
                    pagador: Payer { documento: None, nome: None },
                    info_pagador: None,
                };
                let t = Instant::now();
                match store.record_incoming(pix.end_to_end_id.as_str(), &pix).await {
                    Ok(_) => latencies.push(t.elapsed().as_secs_f64() * 1e3),
                    Err(_) => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = vec![];
    let mut errors = 0;
    for w in workers {
        let (l, e) = w.await?;
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    // The ledger must still be exact after the storm.
    let failures = ledger.check().await?;
    anyhow::ensure!(failures.is_empty(), "ledger check failed after the benchmark ({} problems)", failures.len());
    pool.close().await;
    Ok(LedgerRun {
        accounts,
        concurrency,
        seconds: elapsed,
        credits: latencies.len() as u64,
        credits_per_second: latencies.len() as f64 / elapsed,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        errors,
        balance_shards,
    })
}

/// Facts about this machine for the record.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().next().map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_owned()))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| format!("{:.0} GiB", kb as f64 / 1_048_576.0))
        .unwrap_or_default();
    let profile = if cfg!(debug_assertions) { "debug build" } else { "release build" };
    format!("{cores} cores, {mem}, {} {}, {profile}", std::env::consts::OS, std::env::consts::ARCH)
}
