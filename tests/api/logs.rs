//! What the logs say: JSON lines with request id, merchant id and trace id; business
//! metrics as Embedded Metric Format lines; and never a payer's CPF or an API key, even
//! when the requests carry them.

use crate::common::*;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncBufReadExt;

const KEY: &str = "loja@example.com";
const CPF: &str = "52998224725";

#[sqlx::test(migrations = "./migrations")]
async fn logs_carry_request_merchant_and_trace_ids_and_no_personal_data(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let m = app.merchant("Padaria", KEY).await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tucano"))
        .args(["dev", "--port", "0"])
        .env("DATABASE_URL", database_url_of(&pool))
        .env("RAIL_WEBHOOK_SECRET", RAIL_SECRET)
        .env("CIPHER", "local")
        .env("TUCANO_DEV_MASTER_KEY", TEST_MASTER_KEY)
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "debug")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let lines = lines.clone();
        tokio::spawn(async move {
            let mut reader = tokio::io::BufReader::new(stream).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                lines.lock().unwrap().push(line);
            }
        });
    }
    let mut addr = None;
    for _ in 0..1200 {
        addr = lines.lock().unwrap().iter().find_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            (v["message"] == "tucano dev server listening").then(|| v["addr"].as_str().unwrap().to_owned())
        });
        if addr.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let base = format!("http://{}", addr.expect("the server started"));
    let client = reqwest::Client::new();
    let with_cpf = json!({"calendario": {"expiracao": 3600}, "valor": {"original": "10.00"}, "chave": KEY,
                          "devedor": {"cpf": CPF, "nome": "Fulano de Tal"}});
    let res = client
        .put(format!("{base}/v2/cob/{}", txid(1)))
        .bearer_auth(&m.api_key)
        .header("x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")
        .json(&with_cpf)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let bad_cpf = json!({"calendario": {"expiracao": 3600}, "valor": {"original": "10.00"}, "chave": KEY,
                         "devedor": {"cpf": "52998224724", "nome": "Fulano"}});
    let res =
        client.put(format!("{base}/v2/cob/{}", txid(2))).bearer_auth(&m.api_key).json(&bad_cpf).send().await.unwrap();
    assert_eq!(res.status(), 400);
    let res = client
        .get(format!("{base}/v2/cob?inicio=2000-01-01T00:00:00Z&fim=2100-01-01T00:00:00Z&cpf={CPF}"))
        .bearer_auth(&m.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res =
        client.get(format!("{base}/v2/cob/{}", txid(1))).bearer_auth(format!("{}x", m.api_key)).send().await.unwrap();
    assert_eq!(res.status(), 401);
    // Keys inside URLs: a CPF and an e-mail in the path of a directory lookup, which goes
    // on to the rail with the key in its own URL.
    for key in [CPF, "cliente.final%40example.com"] {
        client.get(format!("{base}/v2/dict/{key}")).bearer_auth(&m.api_key).send().await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    child.kill().await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let lines = lines.lock().unwrap().clone();
    let all = lines.join("\n");
    for secret in [CPF, "529.982.247-25", "52998224724", &m.api_key[3..], "Fulano", "cliente.final"] {
        assert!(!all.contains(secret), "the logs leak {secret}:\n{all}");
    }
    let json_lines: Vec<Value> = lines.iter().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let done: Vec<&Value> = json_lines.iter().filter(|v| v["message"] == "request done").collect();
    assert_eq!(done.len(), 6, "{all}");
    assert!(done.iter().all(|v| v["span"]["request_id"].as_str().is_some_and(|s| !s.is_empty())));
    let created = done.iter().find(|v| v["status"] == 201).unwrap();
    assert_eq!(created["span"]["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
    assert!(created["span"]["merchant_id"].as_str().is_some_and(|s| s.len() == 36));
    let emf = json_lines.iter().find(|v| v.get("_aws").is_some()).expect("an EMF line");
    assert_eq!(emf["ChargesCreated"], 1.0);
    assert_eq!(emf["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Tucano");
}
