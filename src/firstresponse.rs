//! `tucano bench first-response`: the first answer after a cold start with TLS to Postgres
//! and a password login, as in AWS (RDS Proxy requires TLS), split into its parts: the
//! process's init, the connection (TCP and startup, authentication, TLS handshake), the
//! queries (the server's own active time for the function's session) and our code.

use crate::coldstart::{event, function_env, start_once};
use anyhow::Context;
use sqlx::Connection;
use std::time::Instant;

/// The database and role the scenario uses; the role logs in with SCRAM-SHA-256 over TLS.
const DATABASE: &str = "tucano_bench_tls";
const ROLE: &str = "tucano_bench";

/// p50 and p99 of one figure, in milliseconds.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Spread {
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl Spread {
    fn of(mut samples: Vec<f64>) -> Self {
        samples.sort_by(f64::total_cmp);
        let at = |p: f64| samples.get(((samples.len().max(1) - 1) as f64 * p).round() as usize).copied().unwrap_or(0.0);
        Self { p50_ms: at(0.50), p99_ms: at(0.99) }
    }
}

/// What opening a connection costs, each part measured by this process with the client
/// library the functions use (sqlx, rustls), against the same server.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Connect {
    /// TCP and the startup exchange (a `trust` login, no TLS).
    pub tcp_and_startup: Spread,
    /// SCRAM-SHA-256 added to that.
    pub authentication: Spread,
    /// The TLS handshake (with certificate verification) added to a SCRAM login.
    pub tls_handshake: Spread,
}

/// One function's first responses.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FirstResponse {
    pub function: String,
    pub runs: usize,
    pub status: u16,
    pub first_response: Spread,
    /// exec → the runtime's first poll.
    pub init: Spread,
    /// Time Postgres spent executing the function's statements (`pg_stat_database.active_time`).
    pub queries: Spread,
    /// What is left: first response − init − connection (p50 parts) − queries: our handlers,
    /// the pool, statement preparation on the new connection, loopback round trips.
    pub our_code: Spread,
}

async fn admin(url: &str) -> anyhow::Result<sqlx::PgPool> {
    sqlx::PgPool::connect(url).await.context("connecting to DATABASE_URL")
}

/// The scenario's database, migrated, with a merchant, and the password role allowed to do
/// what the API does on it. Answers the role's URL (TLS, verified) and the merchant's API key.
async fn prepare(database_url: &str, root_cert: &std::path::Path) -> anyhow::Result<(url::Url, String, String)> {
    let pool = admin(database_url).await?;
    let ssl: String = sqlx::query_scalar("SELECT current_setting('ssl')").fetch_one(&pool).await?;
    anyhow::ensure!(ssl == "on", "the Postgres at DATABASE_URL does not take TLS (ssl = {ssl})");
    sqlx::query(&format!("DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")).execute(&pool).await?;
    sqlx::query(&format!("CREATE DATABASE {DATABASE}")).execute(&pool).await?;
    let password = uuid::Uuid::new_v4().simple().to_string();
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1)")
        .bind(ROLE)
        .fetch_one(&pool)
        .await?;
    let verb = if exists { "ALTER" } else { "CREATE" };
    sqlx::query("SET password_encryption = 'scram-sha-256'").execute(&pool).await?;
    // A password made of hex digits, quoted: nothing to escape.
    sqlx::query(&format!("{verb} ROLE {ROLE} LOGIN PASSWORD '{password}'")).execute(&pool).await?;
    pool.close().await;

    let mut db = url::Url::parse(database_url)?;
    db.set_path(&format!("/{DATABASE}"));
    let pool = admin(db.as_str()).await?;
    tucano_shared::adapters::postgres::migrate(&pool).await?;
    for grant in [
        format!("GRANT USAGE ON SCHEMA public TO {ROLE}"),
        format!("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {ROLE}"),
        format!("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {ROLE}"),
    ] {
        sqlx::query(&grant).execute(&pool).await?;
    }
    let api_key = crate::bench::register_merchant(&pool, "Bench", "loja@bench.example").await?;
    pool.close().await;

    let mut role = db.clone();
    role.set_username(ROLE).map_err(|_| anyhow::anyhow!("DATABASE_URL cannot carry a user"))?;
    role.set_password(Some(&password)).map_err(|_| anyhow::anyhow!("DATABASE_URL cannot carry a password"))?;
    role.set_query(None);
    role.query_pairs_mut()
        .append_pair("sslmode", "verify-full")
        .append_pair("sslrootcert", &root_cert.to_string_lossy());
    Ok((role, api_key.expose().to_owned(), db.to_string()))
}

async fn time_connects(url: &str, samples: usize) -> anyhow::Result<Vec<f64>> {
    let mut out = vec![];
    for _ in 0..samples {
        let t = Instant::now();
        let conn = sqlx::PgConnection::connect(url).await.with_context(|| "connecting for the connection figures")?;
        out.push(t.elapsed().as_secs_f64() * 1e3);
        conn.close().await?;
    }
    Ok(out)
}

/// The connection parts, as differences of medians of full connects.
async fn connect_parts(trust: &url::Url, role: &url::Url, samples: usize) -> anyhow::Result<Connect> {
    let plain = |u: &url::Url| {
        let mut u = u.clone();
        u.set_query(Some("sslmode=disable"));
        u.to_string()
    };
    let trust = time_connects(&plain(trust), samples).await?;
    let scram = time_connects(&plain(role), samples).await?;
    let tls = time_connects(role.as_str(), samples).await?;
    let diff = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| (x - y).max(0.0)).collect::<Vec<_>>();
    let sorted = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v
    };
    // Pair the samples in rank order, so that each difference compares like with like.
    let (trust, scram, tls) = (sorted(&trust), sorted(&scram), sorted(&tls));
    Ok(Connect {
        tcp_and_startup: Spread::of(trust.clone()),
        authentication: Spread::of(diff(&scram, &trust)),
        tls_handshake: Spread::of(diff(&tls, &scram)),
    })
}

/// The server's active time (ms) for the scenario's database so far, once every session of
/// `ROLE` has ended (a backend reports its figures when it exits).
async fn active_ms(admin: &sqlx::PgPool) -> anyhow::Result<f64> {
    for _ in 0..200 {
        let open: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND usename = $2")
            .bind(DATABASE)
            .bind(ROLE)
            .fetch_one(admin)
            .await?;
        if open == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    Ok(sqlx::query_scalar("SELECT active_time FROM pg_stat_database WHERE datname = $1")
        .bind(DATABASE)
        .fetch_one(admin)
        .await?)
}

/// Runs the scenario for `functions`, `runs` cold starts each, with `binary` (the one Lambda
/// binary) and the server's TLS certificate `root_cert`.
pub async fn run(
    database_url: &str,
    root_cert: &std::path::Path,
    binary: &std::path::Path,
    functions: &[&str],
    runs: usize,
) -> anyhow::Result<(Connect, Vec<FirstResponse>)> {
    let (role, api_key, db) = prepare(database_url, root_cert).await?;
    let trust = url::Url::parse(&db)?;
    let connect = connect_parts(&trust, &role, runs.max(10)).await?;
    let connection_ms = connect.tcp_and_startup.p50_ms + connect.authentication.p50_ms + connect.tls_handshake.p50_ms;
    let admin = admin(database_url).await?;
    let mut results = vec![];
    for &function in functions {
        let route = tucano_shared::routes::ROUTES
            .iter()
            .find(|r| r.function == function)
            .with_context(|| format!("no route function {function}"))?;
        let mut env = function_env(role.as_str());
        env.push(("_HANDLER".into(), function.into()));
        let (mut first, mut init, mut queries, mut ours, mut status) = (vec![], vec![], vec![], vec![], 0);
        for n in 0..runs {
            // cob_put creates the charge of run n, cob_get then reads it.
            let txid = format!("primeiraresposta{n:010}");
            let path = route.path.replace("{txid}", &txid);
            let body =
                (route.method != "GET").then_some(r#"{"valor":{"original":"1.00"},"chave":"loja@bench.example"}"#);
            let ev = event(route.method, &path, &api_key, body);
            let before = active_ms(&admin).await?;
            let start = start_once(binary, &env, &ev).await?;
            let query = (active_ms(&admin).await? - before).max(0.0);
            anyhow::ensure!(start.status < 500, "{function} answered {}: {}", start.status, start.response);
            status = start.status;
            first.push(start.response_ms);
            init.push(start.ready_ms);
            queries.push(query);
            ours.push((start.response_ms - start.ready_ms - connection_ms - query).max(0.0));
        }
        results.push(FirstResponse {
            function: function.to_owned(),
            runs,
            status,
            first_response: Spread::of(first),
            init: Spread::of(init),
            queries: Spread::of(queries),
            our_code: Spread::of(ours),
        });
    }
    admin.close().await;
    Ok((connect, results))
}
