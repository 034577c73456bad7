//! `tucano bench ...`: measurements on this machine, written to BENCHMARKS.md.
//!
//! `ledger`: received Pix per second credited to one hot merchant account versus spread
//! over many, through the real path (notification claim, received Pix row, ledger entry
//! with its triggers, outbox event), each its own committed transaction, and in the
//! rail's batches (the plain credits of a batch booked in one statement).

use anyhow::Context;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tucano_shared::adapters::postgres::{
    key_owner, migrate, pool_options, AccountDirectory, PgLedger, PgMerchantStore, PgPixStore,
};
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
    pub seconds: u64,
    pub credits: u64,
    pub credits_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
    /// Balance rows per merchant account (None: the schema's default).
    pub balance_shards: Option<i16>,
    /// False for the floor run with the ledger's triggers off: the same credits, without
    /// balance upkeep and without the database's ledger checks.
    pub ledger_triggers: bool,
    /// Time spent in the ledger's triggers per credit (balances, zero-sum and minimum
    /// checks), ms, as Postgres counts it (`track_functions`; None where that setting
    /// cannot be turned on, as without superuser rights).
    pub trigger_ms_per_credit: Option<f64>,
    /// Received Pix per rail notification request (1: one each; more: a batch, its plain
    /// credits booked together in one statement). Latencies and errors are per request.
    pub batch: usize,
    /// Received Pix per writing transaction, as the books show them afterwards.
    pub credits_per_commit: f64,
}

/// A fresh database next to `database_url`'s, migrated.
async fn fresh_database(database_url: &str, name: &str) -> anyhow::Result<sqlx::PgPool> {
    let (server, _) = database_url.rsplit_once('/').context("DATABASE_URL has no database name")?;
    let admin = sqlx::PgPool::connect(database_url).await.context("connecting to DATABASE_URL")?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&admin).await?;
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await?;
    // Best effort: counts the time spent in functions (the ledger's triggers).
    let _ = sqlx::query(&format!("ALTER DATABASE {name} SET track_functions = 'pl'")).execute(&admin).await;
    admin.close().await;
    let url = format!("{server}/{name}");
    let pool = pool_options(64).connect(&url).await?;
    migrate(&pool).await?;
    Ok(pool)
}

/// A merchant named `name` with the Pix key `pix_key` (a 0.99% fee), registered on a
/// benchmark's database; answers its API key.
pub async fn register_merchant(pool: &sqlx::PgPool, name: &str, pix_key: &str) -> anyhow::Result<ApiKey> {
    let api_key = ApiKey::generate();
    let new = NewMerchant {
        name: name.to_owned(),
        city: "SAO PAULO".into(),
        pix_key: pix_key.to_owned(),
        api_key_hash: api_key.hash(),
        fees: FeePlan { bps: 99, fixed: Amount::ZERO },
        individual: false,
        limits: Default::default(),
        first_client: None,
    };
    PgMerchantStore::new(pool.clone()).register(new).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(api_key)
}

/// A merchant with a fresh Pix key; answers the key.
async fn register_bench_merchant(pool: &sqlx::PgPool, i: usize) -> anyhow::Result<String> {
    let key = uuid::Uuid::new_v4().to_string();
    register_merchant(pool, &format!("Bench {i}"), &key).await?;
    Ok(key)
}

/// A Pix of `valor` paid in to `chave` now, with a new end-to-end id.
fn bench_pix(chave: &str, valor: Amount) -> IncomingPix {
    let now = chrono::Utc::now();
    IncomingPix {
        end_to_end_id: EndToEndId::generate("BENCH000", now),
        chave: chave.to_owned(),
        txid: None,
        valor,
        horario: now,
        pagador: Payer { documento: None, nome: None },
        info_pagador: None,
    }
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
/// `ledger_triggers: false` turns the ledger tables' own triggers off in the throwaway
/// database (no balances kept, no zero-sum, minimum-balance or immutability checks): a
/// floor that prices what the database's enforcement of the ledger costs a credit. Such a
/// run's ledger is not checked afterwards (its balances were never kept).
pub async fn ledger(
    database_url: &str,
    accounts: usize,
    concurrency: usize,
    seconds: u64,
    balance_shards: Option<i16>,
    ledger_triggers: bool,
    batch: usize,
) -> anyhow::Result<LedgerRun> {
    anyhow::ensure!(batch >= 1, "a batch carries at least one Pix");
    let pool = fresh_database(database_url, "tucano_bench_ledger").await?;
    let mut keys = vec![];
    for i in 0..accounts {
        keys.push(register_bench_merchant(&pool, i).await?);
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
    if !ledger_triggers {
        for table in ["ledger_transactions", "ledger_postings", "ledger_balances"] {
            sqlx::query(&format!("ALTER TABLE {table} DISABLE TRIGGER USER")).execute(&pool).await?;
        }
    }
    let directory = Arc::new(AccountDirectory::default());
    let cipher = Arc::new(tucano_shared::adapters::local_cipher::LocalCipher::new([7; 32]));
    let store = Arc::new(PgPixStore::new(pool.clone(), directory.clone(), cipher));
    let ledger = PgLedger::new(pool.clone());
    let keys = Arc::new(keys);
    let valor = Amount::parse("10.00")?;
    let (per_second, latencies, errors) = drive(concurrency, seconds, move |n| {
        let (store, keys) = (store.clone(), keys.clone());
        async move {
            let first = usize::try_from(n).unwrap_or(0) * batch;
            if batch == 1 {
                let pix = bench_pix(&keys[first % keys.len()], valor);
                return store.record_incoming(pix.end_to_end_id.as_str(), &pix).await.is_ok();
            }
            let pix: Vec<IncomingPix> =
                (first..first + batch).map(|i| bench_pix(&keys[i % keys.len()], valor)).collect();
            let items: Vec<(&str, &IncomingPix)> = pix.iter().map(|p| (p.end_to_end_id.as_str(), p)).collect();
            store.record_incoming_all(&items).await.iter().all(Result::is_ok)
        }
    })
    .await;
    let per_second = per_second * batch as f64;
    // Every credit counted is in the books, and a batch was booked in one transaction.
    let (recorded, commits): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(DISTINCT xmin::text) FROM received_pix").fetch_one(&pool).await?;
    let counted = (latencies.len() * batch) as i64;
    anyhow::ensure!(
        recorded >= counted && (errors > 0 || recorded == counted),
        "{recorded} received Pix in the books for {counted} credits counted"
    );
    let credits_per_commit = if commits > 0 { recorded as f64 / commits as f64 } else { 0.0 };
    anyhow::ensure!(batch == 1 || credits_per_commit > 1.0, "the batches were booked one Pix at a time, not together");
    // The ledger must still be exact after the storm.
    if ledger_triggers {
        let failures = ledger.check().await?;
        anyhow::ensure!(failures.is_empty(), "ledger check failed after the benchmark ({} problems)", failures.len());
    }
    let (server, _) = database_url.rsplit_once('/').context("DATABASE_URL has no database name")?;
    pool.close().await;
    // Read once every session has ended and so reported its function times.
    let stats = sqlx::PgPool::connect(&format!("{server}/tucano_bench_ledger")).await?;
    let trigger_ms: Option<f64> = sqlx::query_scalar(
        "SELECT sum(self_time)::float8 FROM pg_stat_user_functions WHERE funcname LIKE 'ledger\\_%'",
    )
    .fetch_one(&stats)
    .await
    .ok()
    .flatten();
    stats.close().await;
    let credits = (latencies.len() * batch) as f64;
    Ok(LedgerRun {
        accounts,
        concurrency,
        seconds,
        credits: credits as u64,
        credits_per_second: per_second,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        errors,
        balance_shards,
        ledger_triggers,
        trigger_ms_per_credit: trigger_ms.filter(|_| credits > 0.0).map(|ms| ms / credits),
        batch,
        credits_per_commit,
    })
}

/// A floor for the ledger figures: `round_trips` round trips ending in one committed
/// one-row insert, looped by `concurrency` workers on the same Postgres (1 = the raw
/// insert-and-commit floor; more = the same commit after as many round trips as a credit).
#[derive(Debug, Clone, serde::Serialize)]
pub struct FloorRun {
    pub round_trips: u64,
    pub concurrency: usize,
    pub commits_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
}

pub async fn commit_floor(
    database_url: &str,
    concurrency: usize,
    seconds: u64,
    round_trips: u64,
) -> anyhow::Result<FloorRun> {
    anyhow::ensure!(round_trips == 1 || round_trips >= 3, "a floor in a transaction has at least 3 round trips");
    let pool = fresh_database(database_url, "tucano_bench_floor").await?;
    sqlx::query("CREATE TABLE commit_floor (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v bigint NOT NULL)")
        .execute(&pool)
        .await?;
    let work = pool.clone();
    let (per_second, latencies, errors) = drive(concurrency, seconds, move |n| {
        let pool = work.clone();
        async move {
            let v = i64::try_from(n).unwrap_or(0);
            let insert = sqlx::query("INSERT INTO commit_floor (v) VALUES ($1)").bind(v);
            if round_trips == 1 {
                return insert.execute(&pool).await.is_ok();
            }
            let Ok(mut tx) = pool.begin().await else { return false };
            for _ in 3..round_trips {
                if sqlx::query("SELECT 1").execute(&mut *tx).await.is_err() {
                    return false;
                }
            }
            insert.execute(&mut *tx).await.is_ok() && tx.commit().await.is_ok()
        }
    })
    .await;
    pool.close().await;
    Ok(FloorRun {
        round_trips,
        concurrency,
        commits_per_second: per_second,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        errors,
    })
}

/// A floor for the ledger figures: the received Pix recorded as a credit records it, with
/// no ledger entry at all. The key's owner is read, then one autocommitted statement
/// claims the notification and writes the Pix row and its outbox event (the same tables,
/// columns and round trips as a credit; no journal entry, no postings, no balances). The
/// most any ledger design could give a credit on this Postgres, whatever it costs itself.
pub async fn record_floor(database_url: &str, concurrency: usize, seconds: u64) -> anyhow::Result<FloorRun> {
    let pool = fresh_database(database_url, "tucano_bench_record").await?;
    let key = Arc::new(register_bench_merchant(&pool, 0).await?);
    let work = pool.clone();
    let valor = Amount::parse("10.00")?;
    let (per_second, latencies, errors) = drive(concurrency, seconds, move |_| {
        let (pool, key) = (work.clone(), key.clone());
        async move {
            let pix = bench_pix(&key, valor);
            let Ok(mut conn) = pool.acquire().await else { return false };
            let Ok(Some((merchant, plan))) = key_owner(&mut conn, &pix.chave).await else { return false };
            let fee = plan.fee(pix.valor);
            let event =
                tucano_shared::domain::event::DomainEvent::pix_recebido(&pix.end_to_end_id, None, pix.valor, fee, None);
            sqlx::query_as::<_, (bool, bool)>(
                "WITH claim AS (
                     INSERT INTO rail_notifications (id, kind) VALUES ($1, 'PIX_RECEBIDO') ON CONFLICT (id) DO NOTHING
                     RETURNING id
                 ), pix AS (
                     INSERT INTO received_pix (end_to_end_id, merchant_id, chave, valor, fee, horario)
                     SELECT $1, $2, $3, $4, $5, $6 FROM claim ON CONFLICT (end_to_end_id) DO NOTHING RETURNING id
                 ), events AS (
                     INSERT INTO outbox_events (merchant_id, kind, payload) SELECT $2, $7, $8 FROM pix RETURNING id
                 )
                 SELECT EXISTS (SELECT 1 FROM claim), EXISTS (SELECT 1 FROM pix)",
            )
            .bind(pix.end_to_end_id.as_str())
            .bind(merchant.0)
            .bind(&pix.chave)
            .bind(pix.valor.centavos())
            .bind(fee.centavos())
            .bind(pix.horario)
            .bind(event.kind.as_str())
            .bind(&event.payload)
            .fetch_one(&mut *conn)
            .await
            .is_ok_and(|(claimed, recorded)| claimed && recorded)
        }
    })
    .await;
    pool.close().await;
    Ok(FloorRun {
        // By construction, a credit's: the owner, the one statement, the ping on release.
        round_trips: 3,
        concurrency,
        commits_per_second: per_second,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        errors,
    })
}

/// Round trips to Postgres one credit makes in steady state (statements prepared, pool
/// warm), counted by a proxy in front of the server rather than read off the code.
pub async fn round_trips_per_credit(database_url: &str) -> anyhow::Result<u64> {
    let pool = fresh_database(database_url, "tucano_bench_roundtrips").await?;
    let key = register_bench_merchant(&pool, 0).await?;
    pool.close().await;
    let mut url = url::Url::parse(database_url)?;
    let host = url.host_str().context("DATABASE_URL has no host")?.to_owned();
    let port = url.port().unwrap_or(5432);
    let upstream =
        tokio::net::lookup_host((host.as_str(), port)).await?.next().context("cannot resolve DATABASE_URL")?;
    let proxy = crate::roundtrips::RoundTripCounter::start(upstream).await?;
    url.set_host(Some("127.0.0.1"))?;
    url.set_port(Some(proxy.addr().port())).map_err(|_| anyhow::anyhow!("cannot set the proxy's port"))?;
    url.set_path("/tucano_bench_roundtrips");
    url.query_pairs_mut().append_pair("sslmode", "disable");
    let pool = pool_options(1).connect(url.as_str()).await?;
    let store = PgPixStore::new(
        pool.clone(),
        Arc::new(AccountDirectory::default()),
        Arc::new(tucano_shared::adapters::local_cipher::LocalCipher::new([7; 32])),
    );
    let valor = Amount::parse("10.00")?;
    let mut counts = vec![];
    for _ in 0..7 {
        let pix = bench_pix(&key, valor);
        let before = proxy.count();
        store.record_incoming(pix.end_to_end_id.as_str(), &pix).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        counts.push(proxy.count() - before);
    }
    pool.close().await;
    // The first credit prepares its statements; the later ones are the steady state, give
    // or take the pool's liveness check after a pause (an empty Sync), hence the median.
    let mut steady = counts[1..].to_vec();
    steady.sort_unstable();
    Ok(steady[steady.len() / 2])
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

/// One scenario of the API benchmark at one concurrency.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ApiRun {
    pub scenario: &'static str,
    pub concurrency: usize,
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
    /// The same storage work called directly (no HTTP, JSON or routing): the floor.
    pub floor_per_second: f64,
}

/// Runs `op` from `concurrency` workers for `seconds`; returns (ops/s, sorted latencies ms, errors).
async fn drive<F, Fut>(concurrency: usize, seconds: u64, op: F) -> (f64, Vec<f64>, u64)
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let op = Arc::new(op);
    let stop = Arc::new(AtomicBool::new(false));
    let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (op, stop, counter) = (op.clone(), stop.clone(), counter.clone());
            tokio::spawn(async move {
                let mut lat = vec![];
                let mut errors = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    let t = Instant::now();
                    if op(n).await {
                        lat.push(t.elapsed().as_secs_f64() * 1e3);
                    } else {
                        errors += 1;
                    }
                }
                (lat, errors)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let (mut all, mut errors) = (vec![], 0);
    for w in workers {
        match w.await {
            Ok((l, e)) => {
                all.extend(l);
                errors += e;
            }
            // A worker that panicked: at least one operation of unknown outcome.
            Err(_) => errors += 1,
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    (all.len() as f64 / elapsed, all, errors)
}

/// Load on the local server (create, get and list charges) against the same storage work
/// called directly through the ports, on a fresh database next to `database_url`.
pub async fn api(database_url: &str, concurrencies: &[usize], seconds: u64) -> anyhow::Result<Vec<ApiRun>> {
    use tucano_shared::app::{charges, AppState, Config};
    use tucano_shared::domain::charge::ChargeTerms;
    use tucano_shared::domain::ids::Txid;
    use tucano_shared::domain::oauth::Scopes;
    use tucano_shared::domain::pix_key::PixKey;

    let pool = fresh_database(database_url, "tucano_bench_api").await?;
    let mut config = Config::new(database_url.into(), 64, "bench.example/qr/v2".into())?
        .with_rail("http://127.0.0.1:9", b"bench-secret-0123456789")?;
    // The heavy-list quota (120 a merchant-minute) would turn the list load into 429s: the
    // benchmark measures the work, so its one merchant is not held to it.
    config.quotas.list_per_minute = 1_000_000_000;
    let state = AppState::with_pool(config, pool.clone())?;
    let api_key = ApiKey::generate();
    let key = "loja@bench.example";
    let (first_client, secret) = tucano_shared::app::clients::new_client("bench", Scopes::all())?;
    let client_id = first_client.id.clone();
    state
        .merchants
        .register(NewMerchant {
            name: "Bench".into(),
            city: "SAO PAULO".into(),
            pix_key: key.into(),
            api_key_hash: api_key.hash(),
            fees: FeePlan::default(),
            individual: false,
            limits: Default::default(),
            first_client: Some(first_client),
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let addr = crate::server::spawn("127.0.0.1:0".parse()?, state.clone()).await?;
    let base = format!("http://{addr}");
    let client = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
    // As a Bacen client authenticates: one token from /oauth/token, then Bearer on each call.
    let grant: serde_json::Value = client
        .post(format!("{base}/oauth/token"))
        .basic_auth(client_id.as_str(), Some(secret.expose()))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await?
        .json()
        .await?;
    let token = grant["access_token"].as_str().ok_or_else(|| anyhow::anyhow!("no access token: {grant}"))?.to_owned();
    let bearer = format!("Bearer {token}");
    let body = serde_json::json!({"calendario": {"expiracao": 3600}, "valor": {"original": "10.00"}, "chave": key})
        .to_string();
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    // At most 9 + 8 + 18 = 35 characters, the longest txid.
    let txid = move |prefix: &str, n: u64| format!("{prefix}{run_id}{n:018}");

    // A charge to read back.
    let probe = client
        .put(format!("{base}/v2/cob/{}", txid("probe", 0)))
        .header("authorization", &bearer)
        .body(body.clone())
        .send()
        .await?;
    anyhow::ensure!(probe.status() == 201, "the server did not create the probe charge: {}", probe.status());
    let probe_path = format!("{base}/v2/cob/{}", txid("probe", 0));
    let list_path =
        format!("{base}/v2/cob?inicio=2000-01-01T00:00:00Z&fim=2100-01-01T00:00:00Z&paginacao.itensPorPagina=10");

    let mut runs = vec![];
    for &c in concurrencies {
        for scenario in ["create", "get", "list"] {
            let (client, bearer, body) = (client.clone(), bearer.clone(), body.clone());
            let (base, probe_path, list_path) = (base.clone(), probe_path.clone(), list_path.clone());
            let tx = txid.clone();
            let scenario_label = format!("{scenario}{c}");
            let (rps, lat, errors) = drive(c, seconds, move |n| {
                let (client, bearer, body) = (client.clone(), bearer.clone(), body.clone());
                let url = match scenario {
                    "create" => format!("{base}/v2/cob/{}", tx(&format!("c{scenario_label}"), n)),
                    "get" => probe_path.clone(),
                    _ => list_path.clone(),
                };
                async move {
                    let req = if scenario == "create" { client.put(url).body(body) } else { client.get(url) };
                    matches!(req.header("authorization", bearer).send().await, Ok(r) if r.status().is_success())
                }
            })
            .await;
            // The floor: authenticate the same token and do the same storage call, directly.
            let st = state.clone();
            let token = token.clone();
            let terms = ChargeTerms {
                expiracao: 3600,
                devedor: None,
                valor: Amount::parse("10.00")?,
                valor_alteravel: false,
                chave: PixKey::parse(key)?,
                solicitacao_pagador: None,
                info_adicionais: vec![],
            };
            let probe_txid = Txid::parse_for_charge(&txid("probe", 0))?;
            let tx = txid.clone();
            let label = format!("f{scenario}{c}");
            let query = tucano_shared::ports::ChargeQuery {
                inicio: chrono::DateTime::parse_from_rfc3339("2000-01-01T00:00:00Z")?.to_utc(),
                fim: chrono::DateTime::parse_from_rfc3339("2100-01-01T00:00:00Z")?.to_utc(),
                devedor: None,
                status: None,
                location_presente: None,
                lote: None,
                pagina: 0,
                itens_por_pagina: 10,
            };
            let (floor, _, _) = drive(c, seconds, move |n| {
                let (st, terms, probe_txid, query) = (st.clone(), terms.clone(), probe_txid.clone(), query.clone());
                let id = tx(&label, n);
                let token = token.clone();
                async move {
                    let now = st.clock.now();
                    let Ok((m, _)) = st.tokens.admit(&token, now, &*st.clients, &*st.merchants).await else {
                        return false;
                    };
                    match scenario {
                        "create" => {
                            let Ok(t) = Txid::parse_for_charge(&id) else { return false };
                            charges::create(&st, &m, charges::NewTxid::Chosen(t), &terms, None, [0; 32]).await.is_ok()
                        }
                        "get" => charges::get(&st, &m, &probe_txid, None).await.is_ok(),
                        _ => charges::list(&st, &m, &query).await.is_ok(),
                    }
                }
            })
            .await;
            runs.push(ApiRun {
                scenario,
                concurrency: c,
                requests_per_second: rps,
                p50_ms: percentile(&lat, 0.50),
                p99_ms: percentile(&lat, 0.99),
                errors,
                floor_per_second: floor,
            });
        }
    }
    pool.close().await;
    Ok(runs)
}
