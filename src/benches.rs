//! The `tucano bench` commands: run a scenario, print it for people, and with `--record`
//! append it to BENCHMARKS.md (command, machine, date), with `--json` print it for scripts.
//! Every figure is set against a floor measured in the same run.

use crate::cli::{BenchCommand, BenchOutput};
use anyhow::Context;
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use tucano_shared::adapters::postgres::{lazy_pool, migrate};
use tucano_shared::domain::ledger::FeePlan;
use tucano_shared::domain::merchant::ApiKey;
use tucano_shared::ports::{MerchantLimits, MerchantStore, NewMerchant};
use tucano_shared::routes::ROUTES;

/// One scenario's results: a section of BENCHMARKS.md and the same figures as JSON.
pub struct Report {
    pub markdown: String,
    pub json: Value,
}

/// Functions `bench all` starts cold: reads and writes, with and without money, and the
/// rail's and the webhooks' entry points.
const REPRESENTATIVE: [&str; 6] =
    ["cob_put", "cob_get", "pix_get", "transfer_put", "endpoint_post", "rail_notification"];

fn database_url() -> anyhow::Result<String> {
    std::env::var("DATABASE_URL").context("set DATABASE_URL to a Postgres the benchmark may create databases on")
}

fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string()
}

pub async fn run(command: BenchCommand) -> anyhow::Result<()> {
    let (reports, out) = match command {
        BenchCommand::Ledger { accounts, concurrency, seconds, balance_shards, out } => {
            (vec![ledger(&accounts, concurrency, seconds, balance_shards).await?], out)
        }
        BenchCommand::Api { concurrency, seconds, out } => (vec![api(&concurrency, seconds).await?], out),
        BenchCommand::Coldstart { runs, functions, no_build, out } => {
            (vec![coldstart(runs, &functions, no_build).await?], out)
        }
        BenchCommand::Packages { dir, out } => (vec![packages(&dir)?], out),
        BenchCommand::All { out } => (all().await?, out),
    };
    finish(&reports, out)
}

fn finish(reports: &[Report], out: BenchOutput) -> anyhow::Result<()> {
    if out.record {
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open("BENCHMARKS.md")?;
        for r in reports {
            f.write_all(r.markdown.as_bytes())?;
        }
        eprintln!("appended to BENCHMARKS.md");
    }
    if out.json {
        let all: Vec<&Value> = reports.iter().map(|r| &r.json).collect();
        let value = if all.len() == 1 { all[0].clone() } else { json!(all) };
        println!("{}", serde_json::to_string_pretty(&value)?);
    }
    Ok(())
}

/// Every scenario at a size that runs in minutes on a fresh clone, headed by a summary of
/// each figure against its target.
async fn all() -> anyhow::Result<Vec<Report>> {
    let started = std::time::Instant::now();
    let mut reports = vec![ledger(&[1, 100], 8, 10, None).await?];
    reports.push(api(&[1, 8], 3).await?);
    let functions: Vec<String> = REPRESENTATIVE.iter().map(|s| (*s).to_owned()).collect();
    reports.push(coldstart(10, &functions, false).await?);
    let zips = Path::new("target/lambda");
    if zips.join("hello/bootstrap.zip").exists() {
        reports.push(packages(zips)?);
    } else {
        eprintln!("package sizes skipped: run `make lambdas` first (it builds the release arm64 zips)");
    }
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    eprintln!("bench all took {minutes:.1} min");
    let postgres = postgres_facts().await?;
    reports.insert(0, summary(&reports, minutes, &postgres));
    Ok(reports)
}

/// The server's version and durability settings: commit latency, and so the ledger's and
/// the API's write figures, depend on them.
async fn postgres_facts() -> anyhow::Result<String> {
    let pool = sqlx::PgPool::connect(&database_url()?).await?;
    let (version, fsync, sync_commit): (String, String, String) = sqlx::query_as(
        "SELECT current_setting('server_version'), current_setting('fsync'), current_setting('synchronous_commit')",
    )
    .fetch_one(&pool)
    .await?;
    pool.close().await;
    Ok(format!("Postgres {version} (fsync={fsync}, synchronous_commit={sync_commit})"))
}

/// One line per target of the benchmarks issue, read off the scenarios' JSON.
fn targets(reports: &[Report]) -> Vec<(String, f64, String, bool)> {
    let of = |name: &str| reports.iter().map(|r| &r.json).find(|j| j["scenario"] == name);
    let mut rows = vec![];
    if let Some(r) = of("ledger").and_then(|j| j["hot_over_spread"].as_f64()) {
        rows.push(("ledger: hot / spread credits/s".into(), r, "≥ 0.80".into(), r >= 0.80));
    }
    if let Some(j) = of("api") {
        let creates = j["runs"].as_array().into_iter().flatten().filter(|r| r["run"]["scenario"] == "create");
        if let Some(worst) = creates.filter_map(|r| r["ratio_to_floor"].as_f64()).reduce(f64::min) {
            rows.push((
                "api: create charge req/s / storage floor (worst concurrency)".into(),
                worst,
                "≥ 0.60".into(),
                worst >= 0.60,
            ));
        }
    }
    if let Some(j) = of("coldstart") {
        let functions: Vec<&Value> =
            j["runs"].as_array().into_iter().flatten().filter(|r| r["run"]["function"] != "hello (floor)").collect();
        if let Some(worst) = functions.iter().filter_map(|r| r["init_over_floor"].as_f64()).reduce(f64::max) {
            rows.push((
                "coldstart: init / hello-world init (worst function)".into(),
                worst,
                "≤ 1.50".into(),
                worst <= 1.5,
            ));
        }
        if let Some(rss) = functions.iter().filter_map(|r| r["run"]["peak_rss_mib"].as_f64()).reduce(f64::max) {
            rows.push(("coldstart: peak RSS MiB (worst function)".into(), rss, "≤ 32".into(), rss <= 32.0));
        }
    }
    if let Some(j) = of("packages") {
        if let Some(zip) =
            j["functions"].as_array().into_iter().flatten().filter_map(|f| f["zip_mib"].as_f64()).reduce(f64::max)
        {
            rows.push(("packages: largest zip MiB".into(), zip, "≤ 50 (Lambda limit)".into(), zip <= 50.0));
        }
    }
    rows
}

fn summary(reports: &[Report], minutes: f64, postgres: &str) -> Report {
    let rows = targets(reports);
    let mut md = format!(
        "\n## `tucano bench all --record` — {}\n\nOn {}, {postgres}; took {minutes:.1} min (builds included). The sections below are its scenarios; each names the single-scenario command that gives the same figures.\n\n| figure | value | target | met |\n|---|---:|---|---|\n",
        now(),
        crate::bench::machine()
    );
    for (what, value, target, met) in &rows {
        md.push_str(&format!("| {what} | {value:.2} | {target} | {} |\n", if *met { "yes" } else { "**no**" }));
    }
    let json = json!({
        "scenario": "summary",
        "minutes": minutes,
        "postgres": postgres,
        "targets": rows.iter().map(|(what, value, target, met)| json!({"figure": what, "value": value, "target": target, "met": met})).collect::<Vec<_>>(),
    });
    Report { markdown: md, json }
}

async fn ledger(
    accounts: &[usize],
    concurrency: usize,
    seconds: u64,
    balance_shards: Option<i16>,
) -> anyhow::Result<Report> {
    let url = database_url()?;
    let mut runs = vec![];
    for &n in accounts {
        anyhow::ensure!(n >= 1, "--accounts must be at least 1");
        let run = crate::bench::ledger(&url, n, concurrency, seconds, balance_shards).await?;
        eprintln!(
            "accounts={:<5} concurrency={} credits/s={:.0} p50={:.2}ms p99={:.2}ms errors={}",
            run.accounts, run.concurrency, run.credits_per_second, run.p50_ms, run.p99_ms, run.errors
        );
        runs.push(run);
    }
    let hot = runs.iter().find(|r| r.accounts == 1);
    let spread = runs.iter().filter(|r| r.accounts > 1).max_by_key(|r| r.accounts);
    let ratio = match (hot, spread) {
        (Some(h), Some(s)) if s.credits_per_second > 0.0 => Some(h.credits_per_second / s.credits_per_second),
        _ => None,
    };
    if let Some(r) = ratio {
        eprintln!("hot / spread = {r:.2} (target >= 0.80)");
    }
    let shards = balance_shards.map(|n| format!(" --balance-shards {n}")).unwrap_or_default();
    let command = format!(
        "tucano bench ledger --accounts {} --concurrency {concurrency} --seconds {seconds}{shards} --record",
        accounts.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
    );
    let mut md = format!(
        "\n### Ledger: hot account vs spread — {}\n\n`{command}` on {}; Postgres at DATABASE_URL.\n\n| accounts | concurrency | credits/s | p50 ms | p99 ms | errors |\n|---:|---:|---:|---:|---:|---:|\n",
        now(),
        crate::bench::machine()
    );
    for r in &runs {
        md.push_str(&format!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {} |\n",
            r.accounts, r.concurrency, r.credits_per_second, r.p50_ms, r.p99_ms, r.errors
        ));
    }
    if let Some(r) = ratio {
        md.push_str(&format!("\nHot / spread throughput: **{r:.2}** (target ≥ 0.80).\n"));
    }
    Ok(Report { markdown: md, json: json!({"scenario": "ledger", "runs": runs, "hot_over_spread": ratio}) })
}

async fn api(concurrency: &[usize], seconds: u64) -> anyhow::Result<Report> {
    let runs = crate::bench::api(&database_url()?, concurrency, seconds).await?;
    let mut md = format!(
        "\n### API: charges over HTTP vs the same storage work called directly — {}\n\n`tucano bench api --concurrency {} --seconds {seconds} --record` on {}; client, server and Postgres on one machine.\n\n| scenario | concurrency | req/s | p50 ms | p99 ms | errors | floor ops/s | ratio |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
        now(),
        concurrency.iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
        crate::bench::machine()
    );
    let mut rows = vec![];
    for r in &runs {
        let ratio = if r.floor_per_second > 0.0 { r.requests_per_second / r.floor_per_second } else { 0.0 };
        eprintln!(
            "{:<6} c={:<3} req/s={:.0} p50={:.2}ms p99={:.2}ms errors={} floor={:.0}/s ratio={:.2}",
            r.scenario, r.concurrency, r.requests_per_second, r.p50_ms, r.p99_ms, r.errors, r.floor_per_second, ratio
        );
        md.push_str(&format!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {} | {:.0} | {:.2} |\n",
            r.scenario, r.concurrency, r.requests_per_second, r.p50_ms, r.p99_ms, r.errors, r.floor_per_second, ratio
        ));
        rows.push(json!({"run": r, "ratio_to_floor": ratio}));
    }
    Ok(Report { markdown: md, json: json!({"scenario": "api", "runs": rows}) })
}

fn target_dir() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| root.join("target"))
}

async fn coldstart(runs: usize, only: &[String], no_build: bool) -> anyhow::Result<Report> {
    let chosen: Vec<_> = ROUTES.iter().filter(|r| only.is_empty() || only.iter().any(|f| f == r.function)).collect();
    anyhow::ensure!(!chosen.is_empty(), "no route function matches --functions");
    if !no_build {
        eprintln!("building the function binary and the hello-world floor (release)...");
        let args = [
            "build",
            "--release",
            "-p",
            "tucano-hello",
            "--bin",
            "hello",
            "-p",
            "tucano-functions",
            "--bin",
            "bootstrap",
        ];
        let status =
            std::process::Command::new("cargo").args(&args).current_dir(env!("CARGO_MANIFEST_DIR")).status()?;
        anyhow::ensure!(status.success(), "cargo build failed");
    }
    // A database with a merchant, so that functions really reach Postgres.
    let url = database_url()?;
    let (server, _) = url.rsplit_once('/').context("DATABASE_URL has no database name")?;
    let admin = sqlx::PgPool::connect(&url).await?;
    sqlx::query("DROP DATABASE IF EXISTS tucano_bench_cold WITH (FORCE)").execute(&admin).await?;
    sqlx::query("CREATE DATABASE tucano_bench_cold").execute(&admin).await?;
    admin.close().await;
    let db = format!("{server}/tucano_bench_cold");
    let pool = lazy_pool(&db, 2)?;
    migrate(&pool).await?;
    let api_key = ApiKey::generate();
    tucano_shared::adapters::postgres::PgMerchantStore::new(pool.clone())
        .register(NewMerchant {
            name: "Bench".into(),
            city: "SAO PAULO".into(),
            pix_key: "loja@bench.example".into(),
            api_key_hash: api_key.hash(),
            fees: FeePlan::default(),
            individual: false,
            limits: MerchantLimits::default(),
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let env = crate::coldstart::function_env(&db);
    let release = target_dir().join("release");
    let hello_event = crate::coldstart::event("GET", "/hello", "none", None);
    let floor = crate::coldstart::measure("hello (floor)", &release.join("hello"), &env, &hello_event, runs).await?;
    let mut results = vec![floor.clone()];
    for r in chosen {
        let path = r
            .path
            .replace("{txid}", "benchbenchbenchbenchbench01")
            .replace("{e2eid}", "E0000000020261121120000000000000")
            .replace("{id}", "d1")
            .replace("{idEnvio}", "e1")
            .replace("{token}", "00000000000000000000000000000000")
            .replace("{chave}", "loja@bench.example");
        let body = (r.method != "GET").then_some("{}");
        let ev = crate::coldstart::event(r.method, &path, api_key.expose(), body);
        // Every function runs the one binary; its handler says which route.
        let mut env = env.clone();
        env.push(("_HANDLER".to_owned(), r.function.to_owned()));
        results.push(crate::coldstart::measure(r.function, &release.join("bootstrap"), &env, &ev, runs).await?);
    }
    let only_arg = if only.is_empty() { String::new() } else { format!(" --functions {}", only.join(",")) };
    let mut md = format!(
        "\n### Cold start — {}\n\n`tucano bench coldstart --runs {runs}{only_arg} --record` on {}: each release binary started {runs} times under our Lambda Runtime API emulator with one API Gateway v2 event (auth + Postgres for the functions). Ratios are to the hello-world floor measured in the same run.\n\n| function | init p50 ms | init / floor | first response p50 ms | status | peak RSS MiB | binary MiB |\n|---|---:|---:|---:|---:|---:|---:|\n",
        now(),
        crate::bench::machine().replace("debug build", "functions in release")
    );
    let mut rows = vec![];
    for c in &results {
        let ratio = if floor.ready_p50_ms > 0.0 { c.ready_p50_ms / floor.ready_p50_ms } else { 0.0 };
        eprintln!(
            "{:<18} init={:.2}ms ({:.2}x) first-response={:.2}ms rss={:.1}MiB bin={:.1}MiB",
            c.function, c.ready_p50_ms, ratio, c.response_p50_ms, c.peak_rss_mib, c.binary_mib
        );
        md.push_str(&format!(
            "| {} | {:.2} | {:.2} | {:.2} | {} | {:.1} | {:.1} |\n",
            c.function, c.ready_p50_ms, ratio, c.response_p50_ms, c.status, c.peak_rss_mib, c.binary_mib
        ));
        rows.push(json!({"run": c, "init_over_floor": ratio}));
    }
    Ok(Report { markdown: md, json: json!({"scenario": "coldstart", "runs": rows}) })
}

/// The zip of every function under `dir` (`<function>/bootstrap.zip`), against `hello`'s.
fn packages(dir: &Path) -> anyhow::Result<Report> {
    let size = |name: &str| -> Option<f64> {
        std::fs::metadata(dir.join(name).join("bootstrap.zip")).ok().map(|m| m.len() as f64 / 1_048_576.0)
    };
    let floor =
        size("hello").with_context(|| format!("no {}/hello/bootstrap.zip: run `make lambdas`", dir.display()))?;
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "hello" && dir.join(n).join("bootstrap.zip").exists())
        .collect();
    names.sort();
    anyhow::ensure!(!names.is_empty(), "no function zips in {}", dir.display());
    let mut md = format!(
        "\n### Lambda package sizes — {}\n\n`make lambdas && tucano bench packages --record` (cargo-lambda, release, arm64, zip) on {}. Floor: a bare lambda_http hello world built the same way, {floor:.2} MiB.\n\n| function | zip MiB | zip / floor |\n|---|---:|---:|\n",
        now(),
        crate::bench::machine().replace(", debug build", "")
    );
    let mut rows = vec![];
    for n in &names {
        let mib = size(n).unwrap_or_default();
        eprintln!("{n:<24} {mib:.2} MiB ({:.1}x)", mib / floor);
        md.push_str(&format!("| {n} | {mib:.2} | {:.1} |\n", mib / floor));
        rows.push(json!({"function": n, "zip_mib": mib, "over_floor": mib / floor}));
    }
    let total: f64 = names.iter().filter_map(|n| size(n)).sum();
    md.push_str(&format!(
        "\n{} zips, {total:.1} MiB in all (the Lambda limit is 50 MiB zipped per function).\n",
        names.len()
    ));
    Ok(Report { markdown: md, json: json!({"scenario": "packages", "floor_mib": floor, "functions": rows}) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(json: Value) -> Report {
        Report { markdown: String::new(), json }
    }

    #[test]
    fn the_summary_judges_the_worst_figure_of_each_scenario_against_its_target() {
        let reports = [
            report(json!({"scenario": "ledger", "hot_over_spread": 0.94})),
            report(json!({"scenario": "api", "runs": [
                {"run": {"scenario": "create"}, "ratio_to_floor": 0.82},
                {"run": {"scenario": "create"}, "ratio_to_floor": 0.55},
                {"run": {"scenario": "get"}, "ratio_to_floor": 0.10},
            ]})),
            report(json!({"scenario": "coldstart", "runs": [
                {"run": {"function": "hello (floor)", "peak_rss_mib": 4.0}, "init_over_floor": 1.0},
                {"run": {"function": "cob_put", "peak_rss_mib": 11.0}, "init_over_floor": 1.4},
                {"run": {"function": "cob_get", "peak_rss_mib": 12.0}, "init_over_floor": 1.6},
            ]})),
        ];
        let rows: Vec<(String, f64, bool)> = targets(&reports).into_iter().map(|(w, v, _, met)| (w, v, met)).collect();
        assert_eq!(
            rows,
            [
                ("ledger: hot / spread credits/s".to_owned(), 0.94, true),
                ("api: create charge req/s / storage floor (worst concurrency)".to_owned(), 0.55, false),
                ("coldstart: init / hello-world init (worst function)".to_owned(), 1.6, false),
                ("coldstart: peak RSS MiB (worst function)".to_owned(), 12.0, true),
            ]
        );
        let summary = summary(&reports, 3.0, "Postgres 15 (fsync=on)");
        assert!(summary
            .markdown
            .contains("| api: create charge req/s / storage floor (worst concurrency) | 0.55 | ≥ 0.60 | **no** |"));
        assert!(summary.markdown.contains("Postgres 15 (fsync=on)"));
    }
}
