//! `tucano bench coldstart`: each function binary started under a minimal Lambda Runtime
//! API emulator (ours), measuring exec → ready (its first `/next` poll) and exec → first
//! response, and its peak RSS, against a bare `lambda_http` hello world built the same way.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// What the emulator saw of one process.
#[derive(Default)]
struct Seen {
    ready: Option<Instant>,
    /// When the function answered, and its answer (an API Gateway v2 response document).
    responded: Option<(Instant, serde_json::Value)>,
    failed: bool,
    polls: u32,
}

#[derive(Clone)]
struct Emulator {
    seen: Arc<Mutex<Seen>>,
    event: Arc<String>,
    done: Arc<Notify>,
}

async fn next(State(e): State<Emulator>) -> (StatusCode, HeaderMap, String) {
    let first = {
        let mut s = e.seen.lock().unwrap_or_else(|p| p.into_inner());
        s.polls += 1;
        if s.ready.is_none() {
            s.ready = Some(Instant::now());
        }
        s.polls == 1
    };
    if !first {
        // No second invocation: hold the poll until the process is stopped.
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let mut h = HeaderMap::new();
    let deadline = (std::time::SystemTime::now() + Duration::from_secs(10))
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    h.insert("lambda-runtime-aws-request-id", HeaderValue::from_static("bench-request-1"));
    h.insert(
        "lambda-runtime-deadline-ms",
        HeaderValue::from_str(&deadline.to_string()).unwrap_or(HeaderValue::from_static("0")),
    );
    h.insert(
        "lambda-runtime-invoked-function-arn",
        HeaderValue::from_static("arn:aws:lambda:sa-east-1:123456789012:function:bench"),
    );
    h.insert("lambda-runtime-trace-id", HeaderValue::from_static("Root=1-00000000-000000000000000000000000"));
    (StatusCode::OK, h, (*e.event).clone())
}

async fn response(State(e): State<Emulator>, Path(_id): Path<String>, body: String) -> StatusCode {
    let answer = serde_json::from_str(&body).unwrap_or_default();
    e.seen.lock().unwrap_or_else(|p| p.into_inner()).responded = Some((Instant::now(), answer));
    e.done.notify_one();
    StatusCode::ACCEPTED
}

async fn error(State(e): State<Emulator>) -> StatusCode {
    e.seen.lock().unwrap_or_else(|p| p.into_inner()).failed = true;
    e.done.notify_one();
    StatusCode::ACCEPTED
}

/// One cold start: exec → ready, exec → first response, peak RSS, and the answer.
pub struct Start {
    pub ready_ms: f64,
    pub response_ms: f64,
    pub peak_rss_kib: u64,
    /// The `statusCode` of the function's answer.
    pub status: u16,
    /// The whole answer (`statusCode`, `headers`, `body`...), as the Runtime API got it.
    pub response: serde_json::Value,
}

fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// The machine an ELF executable is built for (`e_machine`), e.g. 62 (x86_64) or 183 (aarch64).
pub fn elf_machine(binary: &std::path::Path) -> std::io::Result<u16> {
    let mut header = [0u8; 20];
    std::io::Read::read_exact(&mut std::fs::File::open(binary)?, &mut header)?;
    if &header[..4] != b"\x7fELF" || header[5] != 1 {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "not a little-endian ELF file"));
    }
    Ok(u16::from_le_bytes([header[18], header[19]]))
}

pub const EM_X86_64: u16 = 62;
pub const EM_AARCH64: u16 = 183;

/// How to run `binary` here: itself, or an arm64 Lambda binary on an x86_64 machine under
/// qemu's user-mode emulator with Debian's arm64 C library (`qemu-user-static`,
/// `libc6-arm64-cross`), as the release-artifact check does.
pub fn launcher(binary: &std::path::Path) -> std::io::Result<tokio::process::Command> {
    let native = if cfg!(target_arch = "aarch64") { EM_AARCH64 } else { EM_X86_64 };
    let machine = elf_machine(binary)?;
    if machine == native {
        return Ok(tokio::process::Command::new(binary));
    }
    if machine == EM_AARCH64 {
        let mut qemu = tokio::process::Command::new("qemu-aarch64-static");
        qemu.arg("-L").arg("/usr/aarch64-linux-gnu").arg(binary);
        return Ok(qemu);
    }
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, format!("no way to run ELF machine {machine} here")))
}

/// Starts `binary` once under a fresh emulator that hands it `event`.
pub async fn start_once(binary: &std::path::Path, env: &[(String, String)], event: &str) -> anyhow::Result<Start> {
    let emulator = Emulator { seen: Arc::default(), event: Arc::new(event.to_owned()), done: Arc::new(Notify::new()) };
    let app = axum::Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(error))
        .with_state(emulator.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let exec = Instant::now();
    let mut child = launcher(binary)?
        .envs(env.iter().cloned())
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "bench")
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().unwrap_or(0);
    let waited = tokio::time::timeout(Duration::from_secs(20), emulator.done.notified()).await;
    // The process idles in its second /next poll; its peak RSS covers init and one request.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let rss = peak_rss_kib(pid);
    let _ = child.kill().await;
    server.abort();
    anyhow::ensure!(waited.is_ok(), "{} did not answer its first invocation", binary.display());
    let seen = emulator.seen.lock().unwrap_or_else(|p| p.into_inner());
    anyhow::ensure!(!seen.failed, "{} reported an error", binary.display());
    let (ready, (responded, response)) = match (seen.ready, seen.responded.clone()) {
        (Some(r), Some(x)) => (r, x),
        _ => anyhow::bail!("{} never polled or answered", binary.display()),
    };
    Ok(Start {
        ready_ms: (ready - exec).as_secs_f64() * 1e3,
        response_ms: (responded - exec).as_secs_f64() * 1e3,
        peak_rss_kib: rss,
        status: response["statusCode"].as_u64().and_then(|s| u16::try_from(s).ok()).unwrap_or(0),
        response,
    })
}

/// The environment a deployed function reads (see serverless.yml), pointed at `database_url`,
/// a rail that is not there, and the dev-only local cipher.
pub fn function_env(database_url: &str) -> Vec<(String, String)> {
    [
        ("DATABASE_URL", database_url.to_owned()),
        ("DB_MAX_CONNECTIONS", "2".to_owned()),
        ("PIX_LOCATION_BASE", "pix.example.com/qr/v2".to_owned()),
        ("RAIL_WEBHOOK_SECRET", "emulator-secret-0123456789".to_owned()),
        ("PIX_RAIL_URL", "http://127.0.0.1:9".to_owned()),
        ("CIPHER", "local".to_owned()),
        ("TUCANO_DEV_MASTER_KEY", "00".repeat(32)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// An API Gateway HTTP API (v2) event for `method path`.
pub fn event(method: &str, path: &str, api_key: &str, body: Option<&str>) -> String {
    serde_json::json!({
        "version": "2.0", "routeKey": format!("{method} {path}"), "rawPath": path, "rawQueryString": "",
        "headers": {"authorization": format!("Bearer {api_key}"), "content-type": "application/json",
                    "idempotency-key": uuid::Uuid::new_v4().to_string()},
        "requestContext": {"accountId": "123456789012", "apiId": "bench", "domainName": "bench.example", "domainPrefix": "bench",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "bench"},
            "requestId": "bench-1", "routeKey": format!("{method} {path}"), "stage": "$default",
            "time": "21/Nov/2026:12:00:00 +0000", "timeEpoch": 1795000000000u64},
        "body": body, "isBase64Encoded": false
    })
    .to_string()
}

/// One function's figures over its runs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ColdStart {
    pub function: String,
    pub runs: usize,
    pub ready_p50_ms: f64,
    pub response_p50_ms: f64,
    pub peak_rss_mib: f64,
    pub binary_mib: f64,
    /// The HTTP status of the first response (the same in every run).
    pub status: u16,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Measures `binary` `runs` times.
pub async fn measure(
    name: &str,
    binary: &std::path::Path,
    env: &[(String, String)],
    event: &str,
    runs: usize,
) -> anyhow::Result<ColdStart> {
    let (mut ready, mut resp, mut rss, mut status) = (vec![], vec![], 0u64, 0u16);
    for _ in 0..runs {
        let s = start_once(binary, env, event).await?;
        // A cold start that ends in a server error measured a failure, not the function.
        anyhow::ensure!(s.status < 500, "{name} answered {} to its first invocation", s.status);
        status = s.status;
        ready.push(s.ready_ms);
        resp.push(s.response_ms);
        rss = rss.max(s.peak_rss_kib);
    }
    Ok(ColdStart {
        function: name.to_owned(),
        runs,
        ready_p50_ms: median(ready),
        response_p50_ms: median(resp),
        peak_rss_mib: rss as f64 / 1024.0,
        binary_mib: std::fs::metadata(binary).map(|m| m.len() as f64 / 1_048_576.0).unwrap_or(0.0),
        status,
    })
}
