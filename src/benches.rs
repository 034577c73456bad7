//! The `tucano bench` commands: run a scenario, print it for people, and with `--record`
//! append it to BENCHMARKS.md (command, machine, date), with `--json` print it for scripts.
//! Every figure is set against a floor measured in the same run.

use crate::cli::{BenchCommand, BenchOutput};
use anyhow::Context;
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use tucano_shared::adapters::postgres::{lazy_pool, migrate};
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
        BenchCommand::Ledger { accounts, concurrency, seconds, balance_shards, batch, out } => {
            (vec![ledger(&accounts, concurrency, seconds, balance_shards, batch).await?], out)
        }
        BenchCommand::Api { concurrency, seconds, out } => (vec![api(&concurrency, seconds).await?], out),
        BenchCommand::Coldstart { runs, functions, no_build, out } => {
            (vec![coldstart(runs, &functions, no_build).await?], out)
        }
        BenchCommand::FirstResponse { runs, functions, pg_root_cert, no_build, out } => {
            (vec![first_response(runs, &functions, pg_root_cert.as_deref(), no_build).await?], out)
        }
        BenchCommand::Packages { dir, out } => (vec![packages(&dir, None)?], out),
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

/// Every scenario at a size that runs in minutes, headed by a summary of each figure
/// against its target. The deploy build is timed from an empty target directory.
async fn all() -> anyhow::Result<Vec<Report>> {
    let started = std::time::Instant::now();
    let mut reports = vec![ledger(&[1, 100], 16, 10, None, RAIL_BATCH).await?];
    reports.push(api(&[1, 8], 3).await?);
    let functions: Vec<String> = REPRESENTATIVE.iter().map(|s| (*s).to_owned()).collect();
    reports.push(coldstart(10, &functions, false).await?);
    let root_cert = std::env::var_os("PG_TLS_ROOT_CERT").map(PathBuf::from);
    reports.push(first_response(10, &[], root_cert.as_deref(), true).await?);
    let empty = target_dir().join("bench-empty");
    let build = timed_lambdas_build(&empty)?;
    reports.push(packages(&empty.join("lambda"), Some(build))?);
    let _ = std::fs::remove_dir_all(&empty);
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    eprintln!("bench all took {minutes:.1} min");
    let postgres = postgres_facts().await?;
    reports.insert(0, summary(&reports, minutes, &postgres));
    Ok(reports)
}

/// `make lambdas` into `dir`, emptied first; answers the seconds it took.
fn timed_lambdas_build(dir: &Path) -> anyhow::Result<f64> {
    let _ = std::fs::remove_dir_all(dir);
    eprintln!("make lambdas from an empty target directory ({})...", dir.display());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The tools it installs (cargo-lambda and its zig) are set-up, not build: install first.
    let setup = std::process::Command::new("bash")
        .args(["-c", "source scripts/lib.sh && ensure_rust && ensure_cargo_lambda"])
        .current_dir(root)
        .status()?;
    anyhow::ensure!(setup.success(), "installing cargo-lambda failed");
    let started = std::time::Instant::now();
    let status = std::process::Command::new("bash")
        .arg("scripts/make-lambdas.sh")
        .env("CARGO_TARGET_DIR", dir)
        .current_dir(root)
        .status()?;
    anyhow::ensure!(status.success(), "make lambdas failed");
    Ok(started.elapsed().as_secs_f64())
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

/// Hot credits per second over the same credits with the ledger's triggers off: the
/// database's enforcement of the ledger (balances kept, zero-sum, minimum balance,
/// immutability) may cost a hot credit at most a third of its throughput.
const UNGUARDED_TARGET: f64 = 0.67;

/// One line per target of the benchmarks issue, read off the scenarios' JSON.
/// `met` is None for a figure that is reported without a target of its own.
fn targets(reports: &[Report]) -> Vec<(String, f64, String, Option<bool>)> {
    let of = |name: &str| reports.iter().map(|r| &r.json).find(|j| j["scenario"] == name);
    let mut rows = vec![];
    if let Some(r) = of("ledger").and_then(|j| j["hot_over_spread"].as_f64()) {
        rows.push(("ledger: hot / spread credits/s".into(), r, "≥ 0.80".into(), Some(r >= 0.80)));
    }
    if let Some(r) = of("ledger").and_then(|j| j["batched_over_commit_floor"].as_f64()) {
        let batch = of("ledger").and_then(|j| j["batched"]["batch"].as_u64()).unwrap_or(0);
        rows.push((
            format!("ledger: hot credits/s, the rail's batches of {batch} / raw commit floor"),
            r,
            "≥ 0.30".into(),
            Some(r >= 0.30),
        ));
    }
    if let Some(r) = of("ledger").and_then(|j| j["hot_over_commit_floor"].as_f64()) {
        rows.push((
            "ledger: hot credits/s, one Pix per notification / raw commit floor".into(),
            r,
            "measured (its ceiling: the row below)".into(),
            None,
        ));
    }
    if let Some(r) = of("ledger").and_then(|j| j["record_over_commit_floor"].as_f64()) {
        rows.push((
            "ledger: the Pix recorded with no ledger at all, one per notification / raw commit floor".into(),
            r,
            "measured".into(),
            None,
        ));
    }
    if let Some(r) = of("ledger").and_then(|j| j["hot_over_record"].as_f64()) {
        rows.push((
            "ledger: hot credits/s / the Pix recorded with no ledger at all".into(),
            r,
            "measured".into(),
            None,
        ));
    }
    if let Some(r) = of("ledger").and_then(|j| j["hot_over_unguarded"].as_f64()) {
        rows.push((
            "ledger: hot credits/s / the same without the ledger's triggers".into(),
            r,
            format!("≥ {UNGUARDED_TARGET:.2}"),
            Some(r >= UNGUARDED_TARGET),
        ));
    }
    if let Some(j) = of("api") {
        let creates = j["runs"].as_array().into_iter().flatten().filter(|r| r["run"]["scenario"] == "create");
        if let Some(worst) = creates.filter_map(|r| r["ratio_to_floor"].as_f64()).reduce(f64::min) {
            rows.push((
                "api: create charge req/s / storage floor (worst concurrency)".into(),
                worst,
                "≥ 0.60".into(),
                Some(worst >= 0.60),
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
                "≤ 1.30".into(),
                Some(worst <= 1.3),
            ));
        }
        if let Some(rss) = functions.iter().filter_map(|r| r["run"]["peak_rss_mib"].as_f64()).reduce(f64::max) {
            rows.push(("coldstart: peak RSS MiB (worst function)".into(), rss, "≤ 32".into(), Some(rss <= 32.0)));
        }
    }
    if let Some(j) = of("first_response") {
        let runs = j["runs"].as_array().into_iter().flatten();
        if let Some(worst) = runs.filter_map(|r| r["first_response"]["p99_ms"].as_f64()).reduce(f64::max) {
            // Reported with its parts; it has no target of its own.
            rows.push((
                "first response with TLS to Postgres, p99 ms (worst function)".into(),
                worst,
                "measured, with its parts".into(),
                None,
            ));
        }
    }
    if let Some(j) = of("packages") {
        if let Some(s) = j["build_seconds"].as_f64() {
            let minutes = s / 60.0;
            rows.push((
                "deploy: make lambdas from an empty target dir, min".into(),
                minutes,
                "≤ 6".into(),
                Some(minutes <= 6.0),
            ));
        }
        if let Some(upload) = j["upload_mib"].as_f64() {
            rows.push((
                "deploy: code uploaded, all functions, MiB".into(),
                upload,
                "≤ 12".into(),
                Some(upload <= 12.0),
            ));
        }
        if let Some(zip) = j["largest_zip_mib"].as_f64() {
            rows.push(("deploy: largest zip MiB".into(), zip, "≤ 50 (Lambda limit)".into(), Some(zip <= 50.0)));
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
        let met = match met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "n/a",
        };
        md.push_str(&format!("| {what} | {value:.2} | {target} | {met} |\n"));
    }
    let json = json!({
        "scenario": "summary",
        "minutes": minutes,
        "postgres": postgres,
        "targets": rows.iter().map(|(what, value, target, met)| json!({"figure": what, "value": value, "target": target, "met": met})).collect::<Vec<_>>(),
    });
    Report { markdown: md, json }
}

/// Where a hot credit's time goes, as shares of it. Each share is the step between two
/// loops of the same run (time per operation = concurrency / throughput), from the raw
/// commit floor up to the hot credits themselves; a step lost in noise shows as 0.
#[derive(serde::Serialize)]
struct TimeSplit {
    /// One committed one-row insert (the raw floor).
    commit: f64,
    /// A credit's other round trips (the floor with as many round trips as a credit).
    round_trips: f64,
    /// The received Pix recorded: notification claim, Pix row, outbox event.
    record: f64,
    /// The ledger's rows: the journal entry and its postings (the credits with the ledger's
    /// triggers off; the step also holds what a credit does beyond the record floor's
    /// statement: its fuller Pix row, its legs' account lookup).
    ledger_rows: f64,
    /// The ledger's upkeep: balances moved and the database's checks (the triggers).
    ledger_upkeep: f64,
}

/// The rail's batch in `bench all`: ten Pix per notification request, as Bacen's own
/// webhook and a bank's message interface deliver them several at a time.
const RAIL_BATCH: usize = 10;

async fn ledger(
    accounts: &[usize],
    concurrency: usize,
    seconds: u64,
    balance_shards: Option<i16>,
    batch: usize,
) -> anyhow::Result<Report> {
    let url = database_url()?;
    anyhow::ensure!(
        (1..=tucano_shared::handlers::rail::MAX_BATCH).contains(&batch),
        "--batch must be 1 to {}",
        tucano_shared::handlers::rail::MAX_BATCH
    );
    let mut runs = vec![];
    for &n in accounts {
        anyhow::ensure!(n >= 1, "--accounts must be at least 1");
        let run = crate::bench::ledger(&url, n, concurrency, seconds, balance_shards, true, 1).await?;
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
    // The hot account again, its Pix arriving in the rail's batches.
    let batched = match (batch > 1, hot) {
        (true, Some(h)) => {
            let run = crate::bench::ledger(&url, 1, concurrency, seconds, h.balance_shards, true, batch).await?;
            eprintln!(
                "hot account, batches of {batch}: credits/s={:.0} p50={:.2}ms p99={:.2}ms per batch, failed batches={}, {:.1} credits per commit",
                run.credits_per_second, run.p50_ms, run.p99_ms, run.errors, run.credits_per_commit
            );
            Some(run)
        }
        _ => None,
    };
    // The floors, same Postgres, same concurrency, same run.
    let round_trips = crate::bench::round_trips_per_credit(&url).await?;
    let raw = crate::bench::commit_floor(&url, concurrency, seconds, 1).await?;
    let same_trips = crate::bench::commit_floor(&url, concurrency, seconds, round_trips).await?;
    // The ceiling of that ratio: the same Pix recorded with no ledger entry at all.
    let record = crate::bench::record_floor(&url, concurrency, seconds).await?;
    let floors = [raw.clone(), same_trips.clone()];
    let record_over_floor =
        Some(record.commits_per_second / raw.commits_per_second).filter(|_| raw.commits_per_second > 0.0);
    let hot_over_record =
        hot.filter(|_| record.commits_per_second > 0.0).map(|h| h.credits_per_second / record.commits_per_second);
    let hot_over_floor =
        hot.filter(|_| raw.commits_per_second > 0.0).map(|h| h.credits_per_second / raw.commits_per_second);
    let batched_over_floor = batched
        .as_ref()
        .filter(|_| raw.commits_per_second > 0.0)
        .map(|b| b.credits_per_second / raw.commits_per_second);
    // The price of the database's enforcement: the same hot credits with the ledger's
    // triggers off (no balances kept, no checks), same Postgres, same run.
    let unguarded = match hot {
        Some(h) => Some(crate::bench::ledger(&url, 1, concurrency, seconds, h.balance_shards, false, 1).await?),
        None => None,
    };
    let hot_over_unguarded = hot
        .zip(unguarded.as_ref())
        .filter(|(_, u)| u.credits_per_second > 0.0)
        .map(|(h, u)| h.credits_per_second / u.credits_per_second);
    if let (Some(u), Some(r)) = (&unguarded, hot_over_unguarded) {
        eprintln!(
            "floor: hot credits with the ledger's triggers off, c={} credits/s={:.0}; hot / that = {r:.2} (target >= {UNGUARDED_TARGET:.2})",
            u.concurrency, u.credits_per_second
        );
    }
    let split = match (hot, &unguarded) {
        (Some(h), Some(u)) if [h.credits_per_second, u.credits_per_second].iter().all(|x| *x > 0.0) => {
            let per_op = |per_second: f64| concurrency as f64 / per_second;
            let ladder = [
                per_op(raw.commits_per_second),
                per_op(same_trips.commits_per_second),
                per_op(record.commits_per_second),
                per_op(u.credits_per_second),
                per_op(h.credits_per_second),
            ];
            let credit = ladder[4];
            let step =
                |i: usize| if i == 0 { ladder[0] / credit } else { (ladder[i] - ladder[i - 1]).max(0.0) / credit };
            Some(TimeSplit {
                commit: step(0),
                round_trips: step(1),
                record: step(2),
                ledger_rows: step(3),
                ledger_upkeep: step(4),
            })
        }
        _ => None,
    };
    for f in &floors {
        eprintln!(
            "floor: {} round trip(s) + commit, c={} commits/s={:.0} p50={:.2}ms p99={:.2}ms errors={}",
            f.round_trips, f.concurrency, f.commits_per_second, f.p50_ms, f.p99_ms, f.errors
        );
    }
    eprintln!(
        "floor: the Pix recorded without a ledger entry, c={} records/s={:.0} p50={:.2}ms p99={:.2}ms errors={}",
        record.concurrency, record.commits_per_second, record.p50_ms, record.p99_ms, record.errors
    );
    if let Some(r) = batched_over_floor {
        eprintln!("hot credits in batches of {batch} / raw commit floor = {r:.2} (target >= 0.30)");
    }
    if let Some(r) = hot_over_floor {
        eprintln!("hot credits one per notification / raw commit floor = {r:.2}; {round_trips} round trips per credit");
    }
    if let (Some(c), Some(h)) = (record_over_floor, hot_over_record) {
        eprintln!("the Pix recorded without a ledger / raw commit floor = {c:.2}; hot credits / that = {h:.2}");
    }
    if let Some(t) = &split {
        eprintln!(
            "a hot credit's time: commit {:.2}, other round trips {:.2}, the Pix record {:.2}, ledger rows {:.2}, ledger upkeep (triggers) {:.2}",
            t.commit, t.round_trips, t.record, t.ledger_rows, t.ledger_upkeep
        );
    }
    let shards = balance_shards.map(|n| format!(" --balance-shards {n}")).unwrap_or_default();
    let command = format!(
        "tucano bench ledger --accounts {} --concurrency {concurrency} --seconds {seconds}{shards} --batch {batch} --record",
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
    if let Some(b) = &batched {
        md.push_str(&format!(
            "| 1, in the rail's batches of {batch} | {} | {:.0} | {:.2} | {:.2} | {} |\n",
            b.concurrency, b.credits_per_second, b.p50_ms, b.p99_ms, b.errors
        ));
    }
    if let Some(r) = ratio {
        md.push_str(&format!("\nHot / spread throughput: **{r:.2}** (target ≥ 0.80).\n"));
    }
    md.push_str(&format!(
        "\nFloors on the same Postgres at concurrency {concurrency}, in the same run (the first two: one committed one-row insert per operation; a credit makes {round_trips} round trips, counted by a proxy):\n\n| floor | round trips | commits/s | p50 ms | p99 ms | errors |\n|---|---:|---:|---:|---:|---:|\n"
    ));
    for (name, f) in [("raw insert-and-commit", &raw), ("same round trips as a credit", &same_trips)] {
        md.push_str(&format!(
            "| {name} | {} | {:.0} | {:.2} | {:.2} | {} |\n",
            f.round_trips, f.commits_per_second, f.p50_ms, f.p99_ms, f.errors
        ));
    }
    if let Some(u) = &unguarded {
        md.push_str(&format!(
            "| hot credits, the ledger's triggers off (no balances kept, no checks) | {round_trips} | {:.0} | {:.2} | {:.2} | {} |\n",
            u.credits_per_second, u.p50_ms, u.p99_ms, u.errors
        ));
    }
    md.push_str(&format!(
        "| the Pix recorded without a ledger entry (claim, Pix, event) | {} | {:.0} | {:.2} | {:.2} | {} |\n",
        record.round_trips, record.commits_per_second, record.p50_ms, record.p99_ms, record.errors
    ));
    if let Some(r) = batched_over_floor {
        md.push_str(&format!(
            "\nHot credits in the rail's batches of {batch} / raw commit floor: **{r:.2}** (target ≥ 0.30; that row's latencies and errors are per batch; {:.1} credits per commit in the books afterwards).",
            batched.as_ref().map_or(0.0, |b| b.credits_per_commit)
        ));
    }
    if let Some(r) = hot_over_floor {
        md.push_str(&format!("\nHot credits one Pix per notification / raw commit floor: **{r:.2}**."));
    }
    if let (Some(c), Some(h)) = (record_over_floor, hot_over_record) {
        md.push_str(&format!(
            " The Pix recorded with no ledger at all / raw commit floor: **{c:.2}** (the most any ledger could reach on that measure); hot credits / that: **{h:.2}**."
        ));
    }
    if let Some(r) = hot_over_unguarded {
        md.push_str(&format!(
            " Hot credits / the same credits without the ledger's triggers: **{r:.2}** (target ≥ {UNGUARDED_TARGET:.2}: what the database's enforcement of the ledger costs)."
        ));
    }
    if let Some(t) = &split {
        let pct = |x: f64| format!("{:.0}%", x * 100.0);
        md.push_str(&format!(
            " A hot credit's time, step by step up the floors above: one commit {}, its other round trips {}, recording the Pix (claim, Pix row, event) {}, the ledger's rows (entry, postings) {}, the ledger's upkeep (balances, checks: its triggers) {}.",
            pct(t.commit),
            pct(t.round_trips),
            pct(t.record),
            pct(t.ledger_rows),
            pct(t.ledger_upkeep)
        ));
    }
    if let Some(ms) = hot.and_then(|h| h.trigger_ms_per_credit) {
        md.push_str(&format!(" (Postgres counts {ms:.2} ms per credit inside the triggers' functions.)"));
    }
    md.push('\n');
    Ok(Report {
        markdown: md,
        json: json!({
            "scenario": "ledger",
            "runs": runs,
            "hot_over_spread": ratio,
            "round_trips_per_credit": round_trips,
            "floors": floors,
            "hot_over_commit_floor": hot_over_floor,
            "batched": batched,
            "batched_over_commit_floor": batched_over_floor,
            "record_floor": record,
            "record_over_commit_floor": record_over_floor,
            "hot_over_record": hot_over_record,
            "unguarded": unguarded,
            "hot_over_unguarded": hot_over_unguarded,
            "time_split": split,
        }),
    })
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

/// The host's target triple, for building the function binary as the Lambda one is built.
fn host_triple() -> String {
    format!("{}-unknown-linux-gnu", std::env::consts::ARCH)
}

/// Where the function binary built like the Lambda one (non-PIE, explicit target) lands.
fn functions_release_dir() -> PathBuf {
    target_dir().join(host_triple()).join("release")
}

fn cargo(args: &[&str], envs: &[(String, String)]) -> anyhow::Result<()> {
    let status = std::process::Command::new("cargo")
        .args(args)
        .envs(envs.iter().cloned())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()?;
    anyhow::ensure!(status.success(), "cargo {} failed", args.join(" "));
    Ok(())
}

/// The function binary as `make lambdas` builds it (alone, with `LAMBDA_RUSTFLAGS` from
/// scripts/lib.sh), for this machine's architecture, and the hello-world floor as anyone
/// builds a bare Rust Lambda (`cargo build --release`, a PIE), both in release.
fn build_release_functions() -> anyhow::Result<()> {
    eprintln!("building the function binary (as make lambdas does, for this machine) and the hello-world floor...");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let flags = std::process::Command::new("bash")
        .args(["-c", "source scripts/lib.sh >/dev/null && printf %s \"$LAMBDA_RUSTFLAGS\""])
        .current_dir(root)
        .output()?;
    anyhow::ensure!(flags.status.success(), "cannot read LAMBDA_RUSTFLAGS from scripts/lib.sh");
    let flags = String::from_utf8(flags.stdout)?;
    let triple = host_triple();
    let var = format!("CARGO_TARGET_{}_RUSTFLAGS", triple.to_uppercase().replace('-', "_"));
    cargo(
        &["build", "--release", "--locked", "--target", &triple, "-p", "tucano-functions", "--bin", "bootstrap"],
        &[(var, flags)],
    )?;
    cargo(&["build", "--release", "--locked", "-p", "tucano-hello", "--bin", "hello"], &[])
}

/// Functions whose first response `bench all` measures with TLS: a write and a read of
/// money's neighbours (a charge), and a read of money (the balance).
const FIRST_RESPONSE: [&str; 3] = ["cob_put", "cob_get", "balance_get"];

async fn first_response(
    runs: usize,
    functions: &[String],
    root_cert: Option<&Path>,
    no_build: bool,
) -> anyhow::Result<Report> {
    let root_cert = root_cert.context(
        "no TLS root certificate for Postgres: pass --pg-root-cert or set PG_TLS_ROOT_CERT (make bench sets up TLS on its private Postgres)",
    )?;
    if !no_build {
        build_release_functions()?;
    }
    let functions: Vec<&str> =
        if functions.is_empty() { FIRST_RESPONSE.to_vec() } else { functions.iter().map(String::as_str).collect() };
    let binary = functions_release_dir().join("bootstrap");
    let (connect, results) = crate::firstresponse::run(&database_url()?, root_cert, &binary, &functions, runs).await?;
    let ms = |s: crate::firstresponse::Spread| format!("{:.2} / {:.2}", s.p50_ms, s.p99_ms);
    let mut md = format!(
        "\n### First response after a cold start, TLS to Postgres — {}\n\n`tucano bench first-response --runs {runs} --functions {} --record` on {}: the one function binary started {runs} times per function under our Runtime API emulator, connecting as a password role (SCRAM-SHA-256) over TLS with the server certificate verified (`sslmode=verify-full`; a dev-only self-signed certificate). Connection parts are medians of {} full connects each by this process with the same client (sqlx, rustls); queries are the server's active time for the function's session; our code is what remains.\n\n| function | status | first response p50 / p99 ms | init | TCP + startup | authentication | TLS handshake | queries | our code |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        now(),
        functions.join(","),
        crate::bench::machine(),
        runs.max(10),
    );
    let mut rows = vec![];
    for r in &results {
        eprintln!(
            "{:<12} first response p50={:.2}ms p99={:.2}ms init={:.2} tcp+startup={:.2} auth={:.2} tls={:.2} queries={:.2} ours={:.2}",
            r.function, r.first_response.p50_ms, r.first_response.p99_ms, r.init.p50_ms, connect.tcp_and_startup.p50_ms,
            connect.authentication.p50_ms, connect.tls_handshake.p50_ms, r.queries.p50_ms, r.our_code.p50_ms
        );
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.function,
            r.status,
            ms(r.first_response),
            ms(r.init),
            ms(connect.tcp_and_startup),
            ms(connect.authentication),
            ms(connect.tls_handshake),
            ms(r.queries),
            ms(r.our_code)
        ));
        rows.push(json!(r));
    }
    Ok(Report { markdown: md, json: json!({"scenario": "first_response", "connect": connect, "runs": rows}) })
}

async fn coldstart(runs: usize, only: &[String], no_build: bool) -> anyhow::Result<Report> {
    let chosen: Vec<_> = ROUTES.iter().filter(|r| only.is_empty() || only.iter().any(|f| f == r.function)).collect();
    anyhow::ensure!(!chosen.is_empty(), "no route function matches --functions");
    if !no_build {
        build_release_functions()?;
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
    let api_key = crate::bench::register_merchant(&pool, "Bench", "loja@bench.example").await?;
    let env = crate::coldstart::function_env(&db);
    let hello_event = crate::coldstart::event("GET", "/hello", "none", None);
    let hello = target_dir().join("release").join("hello");
    let floor = crate::coldstart::measure("hello (floor)", &hello, &env, &hello_event, runs).await?;
    let bootstrap = functions_release_dir().join("bootstrap");
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
        results.push(crate::coldstart::measure(r.function, &bootstrap, &env, &ev, runs).await?);
    }
    let only_arg = if only.is_empty() { String::new() } else { format!(" --functions {}", only.join(",")) };
    let mut md = format!(
        "\n### Cold start — {}\n\n`tucano bench coldstart --runs {runs}{only_arg} --record` on {}: each binary started {runs} times under our Lambda Runtime API emulator with one API Gateway v2 event (auth + Postgres for the functions). The functions run the one `bootstrap` binary built as `make lambdas` builds it (alone, non-PIE, one-thread runtime) for this machine; the floor is a bare `lambda_http` hello world built the default way (`cargo build --release`: a PIE, tokio's multi-thread runtime). Ratios are to that floor, measured in the same run.\n\n| function | init p50 ms | init / floor | first response p50 ms | status | peak RSS MiB | binary MiB |\n|---|---:|---:|---:|---:|---:|---:|\n",
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

/// What a deploy uploads: every distinct zip under `dir` (`<name>/bootstrap.zip`; `make
/// lambdas` writes one, `bootstrap`, that every function runs), and how long the build took.
fn packages(dir: &Path, build_seconds: Option<f64>) -> anyhow::Result<Report> {
    let mut zips: Vec<(String, f64)> = std::fs::read_dir(dir)
        .with_context(|| format!("no {}: run `make lambdas`", dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter_map(|n| {
            let size = std::fs::metadata(dir.join(&n).join("bootstrap.zip")).ok()?.len() as f64 / 1_048_576.0;
            Some((n, size))
        })
        .collect();
    zips.sort_by(|a, b| a.0.cmp(&b.0));
    anyhow::ensure!(!zips.is_empty(), "no Lambda zips in {}", dir.display());
    let functions = ROUTES.len() + tucano_shared::routes::JOBS.len();
    let upload: f64 = zips.iter().map(|(_, mib)| mib).sum();
    let largest = zips.iter().map(|(_, mib)| *mib).fold(0.0, f64::max);
    let built = build_seconds
        .map(|s| {
            format!(
                " `make lambdas` from an empty target directory took **{:.0} min {:02.0} s** (target ≤ 6 min).",
                (s / 60.0).floor(),
                s % 60.0
            )
        })
        .unwrap_or_default();
    let mut md = format!(
        "\n### Deploy: build time and upload — {}\n\n`tucano bench packages --record` (cargo-lambda, release, arm64, zip) on {}.{built}\n\n| zip | MiB |\n|---|---:|\n",
        now(),
        crate::bench::machine().replace(", release build", "").replace(", debug build", "")
    );
    for (name, mib) in &zips {
        eprintln!("{name:<24} {mib:.2} MiB");
        md.push_str(&format!("| {name} | {mib:.2} |\n"));
    }
    md.push_str(&format!(
        "\n{functions} functions run these {} zip(s): a deploy uploads {upload:.2} MiB (target ≤ 12 MiB; the Lambda limit is 50 MiB zipped per function).\n",
        zips.len()
    ));
    Ok(Report {
        markdown: md,
        json: json!({
            "scenario": "packages",
            "zips": zips.iter().map(|(n, m)| json!({"name": n, "zip_mib": m})).collect::<Vec<_>>(),
            "functions": functions,
            "upload_mib": upload,
            "largest_zip_mib": largest,
            "build_seconds": build_seconds,
        }),
    })
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
            report(json!({"scenario": "ledger", "hot_over_spread": 0.94, "hot_over_unguarded": 0.71,
                          "record_over_commit_floor": 0.25, "hot_over_record": 0.5, "hot_over_commit_floor": 0.12,
                          "batched": {"batch": 10}, "batched_over_commit_floor": 0.29})),
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
            report(json!({"scenario": "first_response", "runs": [{"first_response": {"p99_ms": 48.0}}]})),
        ];
        let rows: Vec<(String, f64, Option<bool>)> =
            targets(&reports).into_iter().map(|(w, v, _, met)| (w, v, met)).collect();
        assert_eq!(
            rows,
            [
                ("ledger: hot / spread credits/s".to_owned(), 0.94, Some(true)),
                ("ledger: hot credits/s, the rail's batches of 10 / raw commit floor".to_owned(), 0.29, Some(false)),
                ("ledger: hot credits/s, one Pix per notification / raw commit floor".to_owned(), 0.12, None),
                (
                    "ledger: the Pix recorded with no ledger at all, one per notification / raw commit floor"
                        .to_owned(),
                    0.25,
                    None
                ),
                ("ledger: hot credits/s / the Pix recorded with no ledger at all".to_owned(), 0.5, None),
                ("ledger: hot credits/s / the same without the ledger's triggers".to_owned(), 0.71, Some(true)),
                ("api: create charge req/s / storage floor (worst concurrency)".to_owned(), 0.55, Some(false)),
                ("coldstart: init / hello-world init (worst function)".to_owned(), 1.6, Some(false)),
                ("coldstart: peak RSS MiB (worst function)".to_owned(), 12.0, Some(true)),
                ("first response with TLS to Postgres, p99 ms (worst function)".to_owned(), 48.0, None),
            ]
        );
        let summary = summary(&reports, 3.0, "Postgres 15 (fsync=on)");
        assert!(summary
            .markdown
            .contains("| api: create charge req/s / storage floor (worst concurrency) | 0.55 | ≥ 0.60 | **no** |"));
        assert!(summary.markdown.contains("Postgres 15 (fsync=on)"));
        assert!(summary.markdown.contains("| 48.00 | measured, with its parts | n/a |"), "no target, so not judged");
    }
}
