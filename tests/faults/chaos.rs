//! Chaos: a burst of charges paid, transfers and refunds while the server is killed with
//! SIGKILL (twice) and its Postgres — a cluster this test owns — is killed and restarted,
//! against a sandbox rail that throttles, fails, times out and duplicates notifications.
//! Clients retry every request with the same ids; the server's reconciler runs. Afterwards
//! every operation is final, each settled exactly once, the balances are exact to the
//! centavo, `tucano ledger check` passes and no request answers 5xx.

use crate::common::charge_body;
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

const BIN: &str = env!("CARGO_BIN_EXE_tucano");
const SECRET: &str = "chaos-rail-secret-0123456789";
const MASTER_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
/// Per merchant in the burst: charges paid (2.00 each), transfers and refunds (1.00 each).
const PAID: usize = 20;
const SENT: usize = 25;
const REFUNDED: usize = 15;
/// What each merchant holds at the end: ten 10.00 charges funded before the burst.
const FINAL: &str = "100.00"; // 100.00 + PAID x 2.00 - SENT x 1.00 - REFUNDED x 1.00

/// How many times a client had to retry (the chaos must have hit the burst).
static RETRIES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
/// No single request keeps retrying longer than this.
const RETRY_FOR: Duration = Duration::from_secs(60);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// Runs a Postgres binary as the postgres user when we are root (initdb refuses root).
fn pg(bin: &Path, tool: &str) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join(tool));
        c
    } else {
        Command::new(bin.join(tool))
    }
}

fn pg_bindir() -> PathBuf {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() {
            return dir;
        }
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("Postgres binaries under /usr/lib/postgresql")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|d| d.join("initdb").exists())
        .collect();
    dirs.sort();
    dirs.pop().expect("an initdb")
}

/// A throwaway Postgres cluster of this test's own, so it can be killed.
struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl Cluster {
    fn create() -> Cluster {
        let bin = pg_bindir();
        let dir = std::env::temp_dir().join(format!("tucano-chaos-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        if is_root() {
            assert!(Command::new("chown").arg("postgres").arg(&dir).status().unwrap().success());
        }
        let out = pg(&bin, "initdb")
            .arg("-D")
            .arg(dir.join("data"))
            .args(["-A", "trust", "-U", "postgres", "--no-instructions"])
            .current_dir("/")
            .output()
            .unwrap();
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        let cluster = Cluster { bin, dir, port: free_port() };
        cluster.start();
        cluster
    }

    fn start(&self) {
        let opts =
            format!("-p {} -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=100 -c fsync=off", self.port);
        let out = pg(&self.bin, "pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .args(["-w", "-t", "30", "-o", &opts, "start"])
            .current_dir("/")
            .output()
            .unwrap();
        assert!(out.status.success(), "pg_ctl start: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// SIGKILL to the postmaster and every backend: a crash, recovered at the next start.
    fn kill(&self) {
        let pid = std::fs::read_to_string(self.dir.join("data/postmaster.pid")).unwrap();
        let pid = pid.lines().next().unwrap().trim().to_owned();
        let _ = Command::new("pkill").args(["-KILL", "-P", &pid]).status();
        let _ = Command::new("kill").args(["-KILL", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/tucano", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = pg(&self.bin, "pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "stop"])
            .current_dir("/")
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A child process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct World {
    cluster: Cluster,
    port: u16,
    rail_url: String,
    _rail: Proc,
    server: Option<Proc>,
    client: Client,
}

impl World {
    fn env(&self, c: &mut Command) {
        c.env("DATABASE_URL", self.cluster.url())
            .env("RAIL_WEBHOOK_SECRET", SECRET)
            .env("CIPHER", "local")
            .env("TUCANO_DEV_MASTER_KEY", MASTER_KEY)
            .env("PIX_RAIL_URL", &self.rail_url)
            .env("LOCATION_SCHEME", "http")
            .env("PIX_LOCATION_BASE", format!("127.0.0.1:{}/qr/v2", self.port))
            // Payloads signed with the TEST-ONLY key (its certificate names 127.0.0.1).
            .env("PAYLOAD_SIGNING", "local")
            .env("PAYLOAD_KEY_FILE", concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jws/leaf.pk8.pem"))
            .env("PAYLOAD_CERT_CHAIN_FILE", concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jws/chain.pem"))
            .env("RAIL_TIMEOUT_MS", "1000")
            .env("RECONCILE_EVERY_SECS", "1")
            .env("RECONCILE_GRACE_SECS", "2")
            .env("RUST_LOG", "error")
            .env_remove("IDEMPOTENCY_STORE");
    }

    fn start_server(&mut self) {
        let mut c = Command::new(BIN);
        c.args(["dev", "--port", &self.port.to_string()]).stdout(Stdio::null()).stderr(Stdio::null());
        self.env(&mut c);
        self.server = Some(Proc(c.spawn().unwrap()));
    }

    /// SIGKILL, as a crashed Lambda or a killed container.
    fn kill_server(&mut self) {
        self.server = None;
    }

    async fn wait_for_server(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.client.get(format!("http://127.0.0.1:{}/v2/saldo", self.port)).send().await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the server did not come up");
    }

    fn merchant(&self, name: &str, key: &str) -> String {
        let mut c = Command::new(BIN);
        c.args(["merchants", "create", "--name", name, "--pix-key", key, "--json"]);
        self.env(&mut c);
        let out = c.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["api_key"].as_str().unwrap().to_owned()
    }
}

/// One client call, retried with the same request until it gets an answer below 500
/// (a crashed server, a database that is down and a 503 are all retried).
async fn until_answered(
    client: &Client,
    method: Method,
    url: &str,
    key: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let deadline = Instant::now() + RETRY_FOR;
    loop {
        let mut req = client.request(method.clone(), url).timeout(Duration::from_secs(5));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        if let Ok(res) = req.send().await {
            let status = res.status().as_u16();
            if status < 500 {
                return (status, res.json().await.unwrap_or(Value::Null));
            }
        }
        assert!(Instant::now() < deadline, "{method} {url} never answered below 500");
        RETRIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

struct Merchant {
    key: &'static str,
    api_key: String,
}

fn txid(m: usize, n: usize) -> String {
    format!("caos{m}x{n:024}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_server_and_postgres_mid_burst_loses_nothing_and_moves_nothing_twice() {
    let started = Instant::now();
    let cluster = Cluster::create();
    let port = free_port();
    // The rail misbehaves throughout (with a seed, so a failure can be replayed).
    let rail_port = free_port();
    let rail = Command::new(BIN)
        .args(["sandbox-rail", "--port", &rail_port.to_string(), "--tucano-url", &format!("http://127.0.0.1:{port}")])
        .args(["--order-429", "0.1", "--order-500", "0.1", "--order-timeout", "0.05", "--timeout-ms", "1500"])
        .args(["--status-500", "0.1", "--duplicate-notifications", "0.2", "--reorder-notifications", "--seed", "13"])
        .args(["--latency-ms", "20"])
        .env("RAIL_WEBHOOK_SECRET", SECRET)
        .env("PAYLOAD_TRUST_STORE", concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jws/ca.pem"))
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut world = World {
        cluster,
        port,
        rail_url: format!("http://127.0.0.1:{rail_port}"),
        _rail: Proc(rail),
        server: None,
        client: Client::new(),
    };
    let merchants: Vec<Merchant> = [("Loja Um", "loja1@example.com"), ("Loja Dois", "loja2@example.com")]
        .into_iter()
        .map(|(name, key)| Merchant { key, api_key: world.merchant(name, key) })
        .collect();
    world.start_server();
    world.wait_for_server().await;
    let base = format!("http://127.0.0.1:{port}");
    let client = world.client.clone();

    // Funding, before the chaos: ten charges of 10.00 paid per merchant.
    let mut refundable: Vec<Vec<String>> = vec![vec![]; merchants.len()];
    for (i, m) in merchants.iter().enumerate() {
        for n in 0..10 {
            refundable[i].push(charge_and_pay(&client, &base, &world.rail_url, m, &txid(i, n), "10.00").await);
        }
    }

    // The burst: per merchant PAID more charges paid, SENT transfers and REFUNDED refunds,
    // eight at a time — while the chaos task kills things.
    let gate = Arc::new(Semaphore::new(8));
    let finished = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut ops = vec![];
    for (i, m) in merchants.iter().enumerate() {
        let api_key = m.api_key.clone();
        for n in 0..PAID + SENT + REFUNDED {
            let (client, base, rail_url, gate, api_key, key) =
                (client.clone(), base.clone(), world.rail_url.clone(), gate.clone(), api_key.clone(), m.key);
            let finished = finished.clone();
            let refund_of = refundable[i][n % 10].clone();
            ops.push(tokio::spawn(async move {
                let _permit = gate.acquire().await.unwrap();
                let m = Merchant { key, api_key };
                match n {
                    n if n < PAID => {
                        charge_and_pay(&client, &base, &rail_url, &m, &txid(i, 100 + n), "2.00").await;
                    }
                    n if n < PAID + SENT => {
                        let body = json!({"valor": "1.00", "favorecido": {"chave": "fornecedor@example.com"}});
                        let url = format!("{base}/v2/envio/caos{i}t{n}");
                        let (status, e) =
                            until_answered(&client, Method::PUT, &url, Some(&m.api_key), Some(&body)).await;
                        assert_eq!(status, 201, "{e}");
                    }
                    _ => {
                        let url = format!("{base}/v2/pix/{refund_of}/devolucao/caos{i}d{n}");
                        let body = json!({"valor": "1.00"});
                        let (status, r) =
                            until_answered(&client, Method::PUT, &url, Some(&m.api_key), Some(&body)).await;
                        assert_eq!(status, 201, "{r}");
                    }
                }
                finished.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Instant::now()
            }));
        }
    }
    // The chaos, paced by the burst's progress rather than by the clock (so that a faster
    // build cannot finish the burst before the last crash): the server killed after a
    // tenth of the operations, Postgres after a third, the server again after 60%.
    let total = ops.len();
    let reached = |share: f64| {
        let finished = finished.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            while (finished.load(std::sync::atomic::Ordering::Relaxed) as f64) < share * total as f64 {
                assert!(Instant::now() < deadline, "the burst stopped making progress");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    reached(0.1).await;
    world.kill_server();
    tokio::time::sleep(Duration::from_millis(250)).await;
    world.start_server();
    reached(0.35).await;
    world.cluster.kill();
    tokio::time::sleep(Duration::from_millis(250)).await;
    world.cluster.start();
    reached(0.6).await;
    world.kill_server();
    let last_kill = Instant::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    world.start_server();
    let mut last_done = started;
    let mut done_at = vec![];
    for op in ops {
        let t = op.await.unwrap();
        done_at.push(t.duration_since(started).as_millis());
        last_done = last_done.max(t);
    }
    done_at.sort();
    eprintln!(
        "burst ops done from {} to {} ms after start; last kill at {} ms",
        done_at[0],
        done_at[done_at.len() - 1],
        last_kill.duration_since(started).as_millis()
    );
    assert!(last_done > last_kill, "the burst was over before the last crash: make it longer");
    let retried = RETRIES.load(std::sync::atomic::Ordering::Relaxed);
    assert!(retried > 0, "no request had to be retried: the chaos missed the burst");

    // Everything becomes final: the reconciler of the running server finishes what the
    // crashes and the rail's faults left open.
    let deadline = Instant::now() + Duration::from_secs(60);
    for m in &merchants {
        loop {
            let (_, saldo) =
                until_answered(&client, Method::GET, &format!("{base}/v2/saldo"), Some(&m.api_key), None).await;
            if saldo["pendente"] == "0.00" && saldo["disponivel"] == FINAL {
                break;
            }
            assert!(Instant::now() < deadline, "{} never settled: {saldo}", m.key);
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    // No 5xx after recovery, and every operation final, replayed with the same ids.
    for (i, m) in merchants.iter().enumerate() {
        for n in (0..10).chain(100..100 + PAID) {
            let (status, cob) =
                answer(&client, Method::GET, &format!("{base}/v2/cob/{}", txid(i, n)), &m.api_key, None).await;
            assert_eq!((status, cob["status"].as_str()), (200, Some("CONCLUIDA")), "{cob}");
        }
        for n in PAID..PAID + SENT {
            let body = json!({"valor": "1.00", "favorecido": {"chave": "fornecedor@example.com"}});
            let url = format!("{base}/v2/envio/caos{i}t{n}");
            let (status, e) = answer(&client, Method::PUT, &url, &m.api_key, Some(&body)).await;
            assert_eq!((status, e["status"].as_str()), (201, Some("REALIZADO")), "{e}");
        }
        for n in PAID + SENT..PAID + SENT + REFUNDED {
            let url = format!("{base}/v2/pix/{}/devolucao/caos{i}d{n}", refundable[i][n % 10]);
            let (status, r) = answer(&client, Method::PUT, &url, &m.api_key, Some(&json!({"valor": "1.00"}))).await;
            assert_eq!((status, r["status"].as_str()), (201, Some("DEVOLVIDO")), "{r}");
        }
        let (_, saldo) = answer(&client, Method::GET, &format!("{base}/v2/saldo"), &m.api_key, None).await;
        assert_eq!((saldo["disponivel"].as_str(), saldo["pendente"].as_str()), (Some(FINAL), Some("0.00")));
    }

    // Exactly one settlement per transfer and per refund; one credit per Pix paid in.
    let pool = sqlx::PgPool::connect(&world.cluster.url()).await.unwrap();
    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(&pool).await.unwrap() as usize }
    };
    let n = merchants.len();
    assert_eq!(count("SELECT count(*) FROM transfers").await, n * SENT);
    assert_eq!(count("SELECT count(*) FROM ledger_transactions WHERE kind = 'transfer_settle'").await, n * SENT);
    assert_eq!(count("SELECT count(*) FROM ledger_transactions WHERE kind = 'transfer_void'").await, 0);
    assert_eq!(count("SELECT count(*) FROM refunds").await, n * REFUNDED);
    assert_eq!(count("SELECT count(*) FROM ledger_transactions WHERE kind = 'refund_settle'").await, n * REFUNDED);
    assert_eq!(count("SELECT count(*) FROM received_pix").await, n * (10 + PAID));
    assert_eq!(count("SELECT count(*) FROM ledger_transactions WHERE kind = 'pix_received'").await, n * (10 + PAID));
    assert_eq!(count("SELECT count(*) FROM rail_contradictions").await, 0);
    pool.close().await;
    let mut check = Command::new(BIN);
    check.args(["ledger", "check"]);
    world.env(&mut check);
    let out = check.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    eprintln!("chaos run took {:.1} s; {retried} client retries", started.elapsed().as_secs_f64());
}

/// One call, once: the server is up and must answer below 500.
async fn answer(client: &Client, method: Method, url: &str, key: &str, body: Option<&Value>) -> (u16, Value) {
    let mut req = client.request(method, url).bearer_auth(key);
    if let Some(b) = body {
        req = req.json(b);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    assert!(status < StatusCode::INTERNAL_SERVER_ERROR, "{url} answered {status}");
    (status.as_u16(), res.json().await.unwrap_or(Value::Null))
}

/// Creates a charge (retried with its txid) and has the sandbox pay it (retried only
/// while the payer's bank could not read the charge: nothing was paid then). Returns the
/// payment's end-to-end id.
async fn charge_and_pay(client: &Client, base: &str, rail: &str, m: &Merchant, txid: &str, valor: &str) -> String {
    let url = format!("{base}/v2/cob/{txid}");
    let (status, cob) =
        until_answered(client, Method::PUT, &url, Some(&m.api_key), Some(&charge_body(m.key, valor))).await;
    assert!(status == 201 || status == 200, "{status} {cob}");
    let (status, cob) = until_answered(client, Method::GET, &url, Some(&m.api_key), None).await;
    assert_eq!(status, 200, "{cob}");
    let deadline = Instant::now() + RETRY_FOR;
    loop {
        let res = client
            .post(format!("{rail}/pagamentos"))
            .json(&json!({"pixCopiaECola": cob["pixCopiaECola"]}))
            .send()
            .await;
        if let Ok(res) = res {
            if res.status().is_success() {
                let paid: Value = res.json().await.unwrap();
                return paid["endToEndId"].as_str().unwrap().to_owned();
            }
        }
        assert!(Instant::now() < deadline, "the payer's bank never paid {txid}");
        RETRIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}
