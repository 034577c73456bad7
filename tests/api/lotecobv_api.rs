//! End-to-end: batches of charges with a due date (`/lotecobv`): accepted at once, each
//! charge then created or refused on its own by the worker, revised in a batch too.

use crate::cobv_api::{school, tuesday_morning, tuition};
use crate::common::*;
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;
use tucano_shared::app::due_charges::Origin;

/// Runs the batch worker until nothing is pending, as the scheduled function does.
async fn work_off(app: &TestApp) -> usize {
    let mut total = 0;
    loop {
        let pass = tucano_shared::handlers::lotecobv::process_pending(&app.state, 200);
        let done = tucano_shared::routes::within_job("lotecobv_worker", pass).await.unwrap();
        if done == 0 {
            return total;
        }
        total += done;
    }
}

/// A batch item: the tuition request (`cobv_api::tuition`) for `valor`, with txid `n`.
fn item(n: u32, valor: &str) -> Value {
    let mut item = tuition(valor);
    item["txid"] = json!(txid(n));
    item
}

fn statuses(lote: &Value) -> std::collections::BTreeMap<String, usize> {
    let mut out = std::collections::BTreeMap::new();
    for item in lote["cobsv"].as_array().unwrap() {
        *out.entry(item["status"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    out
}

#[sqlx::test(migrations = "./migrations")]
async fn a_thousand_charge_batch_is_accepted_at_once_and_each_charge_created_or_refused_on_its_own(pool: PgPool) {
    let app = TestApp::spawn_configured_at(pool, tuesday_morning(), |_| {}).await;
    let m = school(&app).await;
    // Every hundredth charge is due before today: refused, without holding up the others.
    let cobsv: Vec<Value> = (0..1000)
        .map(|n| {
            let mut item = tuition("100.00");
            if n % 100 == 7 {
                item["calendario"]["dataDeVencimento"] = json!("2026-08-01");
            }
            item["txid"] = json!(txid(1000 + n));
            item
        })
        .collect();
    let batch = json!({"descricao": "Mensalidades de setembro", "cobsv": cobsv});
    let res = app.request(Method::PUT, "/v2/lotecobv/1", &m).json(&batch).send().await.unwrap();
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    let (_, _, pending) = call(app.request(Method::GET, "/v2/lotecobv/1", &m)).await;
    assert_eq!(statuses(&pending), [("EM_PROCESSAMENTO".to_owned(), 1000)].into());
    assert!(pending["cobsv"][0].get("criacao").is_none(), "no charge is created yet: {}", pending["cobsv"][0]);
    assert_eq!(app.count("charges").await, 0, "nothing is created inside the request");

    assert_eq!(work_off(&app).await, 1000);
    let (status, _, done) = call(app.request(Method::GET, "/v2/lotecobv/1", &m)).await;
    assert_eq!(status, 200);
    assert_eq!(done["descricao"], "Mensalidades de setembro");
    assert_eq!(statuses(&done), [("CRIADA".to_owned(), 990), ("NEGADA".to_owned(), 10)].into());
    let refused = done["cobsv"].as_array().unwrap().iter().find(|i| i["status"] == "NEGADA").unwrap();
    assert_eq!(refused["txid"], txid(1007));
    assert_eq!(refused["problema"]["type"], format!("{BACEN_ERROR}CobVOperacaoInvalida"));
    assert_eq!(refused["problema"]["violacoes"][0]["propriedade"], "cobv.calendario.dataDeVencimento");
    assert!(refused.get("criacao").is_none(), "a charge denied was never created: {refused}");
    // A charge created says when, as the charge itself does.
    let (_, _, first) = call(app.request(Method::GET, &format!("/v2/cobv/{}", txid(1000)), &m)).await;
    assert_eq!(done["cobsv"][0]["criacao"], first["calendario"]["criacao"]);
    assert_eq!(app.count("charges").await, 990);
    assert_eq!(
        app.count("lote_cobv_items WHERE request_enc IS NOT NULL").await,
        0,
        "no sealed request outlives its processing"
    );

    // The same batch again changes nothing; one under its id that drops (or adds) a
    // charge, or another that repeats one of its charges, is refused.
    let res = app.request(Method::PUT, "/v2/lotecobv/1", &m).json(&batch).send().await.unwrap();
    assert_eq!(res.status(), 202);
    assert_eq!(work_off(&app).await, 0);
    let mut other = batch.clone();
    other["cobsv"].as_array_mut().unwrap().pop();
    let (status, _, p) = call(app.request(Method::PUT, "/v2/lotecobv/1", &m).json(&other)).await;
    assert_eq!((status, p["type"].as_str()), (400, Some(&*format!("{BACEN_ERROR}LoteCobVOperacaoInvalida"))));
    let mut again = tuition("1.00");
    again["txid"] = json!(txid(1000));
    let (status, _, p) =
        call(app.request(Method::PUT, "/v2/lotecobv/2", &m).json(&json!({"descricao": "x", "cobsv": [again]}))).await;
    assert_eq!(status, 400, "{p}");

    // Revised in a batch: only charges of the batch.
    let revision = json!({"cobsv": [{"txid": txid(1000), "valor": {"original": "150.00"}}]});
    let res = app.request(Method::PATCH, "/v2/lotecobv/1", &m).json(&revision).send().await.unwrap();
    assert_eq!(res.status(), 202);
    assert_eq!(work_off(&app).await, 1);
    let (_, _, revised) = call(app.request(Method::GET, &format!("/v2/cobv/{}", txid(1000)), &m)).await;
    assert_eq!((revised["revisao"].as_i64(), revised["valor"]["original"].as_str()), (Some(1), Some("150.00")));
    let stranger = json!({"cobsv": [{"txid": txid(5000), "valor": {"original": "1.00"}}]});
    let (status, _, _) = call(app.request(Method::PATCH, "/v2/lotecobv/1", &m).json(&stranger)).await;
    assert_eq!(status, 400);

    // The batch's charges among the others.
    let (status, _, p) =
        call(app.request(Method::PUT, &format!("/v2/cobv/{}", txid(9000)), &m).json(&tuition("50.00"))).await;
    assert_eq!(status, 201, "{p}");
    let range = "inicio=2020-01-01T00:00:00Z&fim=2099-01-01T00:00:00Z";
    let (_, _, of_batch) =
        call(app.request(Method::GET, &format!("/v2/cobv?{range}&loteCobVId=1&paginacao.itensPorPagina=1"), &m)).await;
    assert_eq!(of_batch["parametros"]["paginacao"]["quantidadeTotalDeItens"], 990, "{of_batch}");
    assert_eq!(of_batch["parametros"]["loteCobVId"], 1);
    let (_, _, all) = call(app.request(Method::GET, &format!("/v2/cobv?{range}&paginacao.itensPorPagina=1"), &m)).await;
    assert_eq!(all["parametros"]["paginacao"]["quantidadeTotalDeItens"], 991);
    let (status, _, _) = call(app.request(Method::GET, &format!("/v2/cobv?{range}&loteCobVId=x"), &m)).await;
    assert_eq!(status, 400);

    let (_, _, list) =
        call(app.request(Method::GET, "/v2/lotecobv?inicio=2020-01-01T00:00:00Z&fim=2099-01-01T00:00:00Z", &m)).await;
    assert_eq!(list["lotes"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["lotes"][0]["cobsv"].as_array().unwrap().len(), 1000);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_malformed_batch_is_refused_whole_with_its_problem(pool: PgPool) {
    let app = TestApp::spawn_configured_at(pool, tuesday_morning(), |_| {}).await;
    let m = school(&app).await;
    let item = |t: &str| {
        let mut i = tuition("1.00");
        i["txid"] = json!(t);
        i
    };
    let too_many: Vec<Value> = (0..1001).map(|n| item(&txid(n))).collect();
    for (path, body, prop) in [
        ("/v2/lotecobv/1", json!({"cobsv": [item(&txid(1))]}), "loteCobV.descricao"),
        ("/v2/lotecobv/1", json!({"descricao": " ", "cobsv": [item(&txid(1))]}), "loteCobV.descricao"),
        ("/v2/lotecobv/1", json!({"descricao": "x", "cobsv": []}), "loteCobV.cobsv"),
        ("/v2/lotecobv/1", json!({"descricao": "x", "cobsv": too_many}), "loteCobV.cobsv"),
        (
            "/v2/lotecobv/1",
            json!({"descricao": "x", "cobsv": [item(&txid(1)), item(&txid(1))]}),
            "loteCobV.cobsv[1].txid",
        ),
        ("/v2/lotecobv/1", json!({"descricao": "x", "cobsv": [item("curto")]}), "loteCobV.cobsv[0].txid"),
        ("/v2/lotecobv/abc", json!({"descricao": "x", "cobsv": [item(&txid(1))]}), "id"),
    ] {
        let (status, _, p) = call(app.request(Method::PUT, path, &m).json(&body)).await;
        assert_eq!(status, 400, "{prop}: {p}");
        assert_eq!(p["type"], format!("{BACEN_ERROR}LoteCobVOperacaoInvalida"), "{prop}");
        assert_eq!(p["violacoes"][0]["propriedade"], prop, "{p}");
    }
    assert_eq!(app.count("lotes_cobv").await, 0);
    let (status, _, p) = call(app.request(Method::GET, "/v2/lotecobv/9", &m)).await;
    assert_eq!((status, p["type"].as_str()), (404, Some(&*format!("{BACEN_ERROR}LoteCobVNaoEncontrado"))));
}

const IN_BATCH: &str = "/v2/cobv?inicio=2000-01-01T00:00:00Z&fim=2100-01-01T00:00:00Z";

/// The spec's PUT of an existing batch alters it: the same charges, each made what its whole
/// creation request says once created (what it leaves out is removed), and replayed as the
/// same PUT afterwards, unless a charge was revised since.
#[sqlx::test(migrations = "./migrations")]
async fn a_put_of_the_same_charges_alters_the_batch(pool: PgPool) {
    let clock = tuesday_morning();
    let app = TestApp::spawn_configured_at(pool, clock.clone(), |_| {}).await;
    let m = school(&app).await;
    let batch = |valor: &str, descricao: &str| json!({"descricao": descricao, "cobsv": [item(1, valor)]});
    assert_eq!(call(app.request(Method::PUT, "/v2/lotecobv/1", &m).json(&batch("100.00", "Setembro"))).await.0, 202);
    assert_eq!(work_off(&app).await, 1);

    // The new request has no fine and no message to the payer.
    let mut altered = batch("95.00", "Setembro, com desconto");
    altered["cobsv"][0]["valor"].as_object_mut().unwrap().remove("multa");
    altered["cobsv"][0].as_object_mut().unwrap().remove("solicitacaoPagador");
    assert_eq!(call(app.request(Method::PUT, "/v2/lotecobv/1", &m).json(&altered)).await.0, 202);
    assert_eq!(work_off(&app).await, 1);
    let charge = || async { call(app.request(Method::GET, &format!("/v2/cobv/{}", txid(1)), &m)).await.2 };
    let cobv = charge().await;
    assert_eq!((cobv["valor"]["original"].as_str(), cobv["revisao"].as_i64()), (Some("95.00"), Some(1)), "{cobv}");
    assert!(cobv["valor"].get("multa").is_none(), "the fine the request leaves out is gone: {cobv}");
    assert!(cobv.get("solicitacaoPagador").is_none(), "{cobv}");
    assert!(cobv["valor"].get("juros").is_some(), "what it states stays: {cobv}");
    let (_, _, lote) = call(app.request(Method::GET, "/v2/lotecobv/1", &m)).await;
    assert_eq!(lote["descricao"], "Setembro, com desconto");
    assert_eq!(call(app.request(Method::PUT, "/v2/lotecobv/1", &m).json(&altered)).await.0, 202);
    assert_eq!(work_off(&app).await, 0, "the same PUT again changes nothing");

    // Revised since, by the charge's own PATCH or PUT or the batch's: the same PUT again
    // makes the charge what it says once more.
    let direct = json!({"valor": {"original": "80.00"}});
    let path = format!("/v2/cobv/{}", txid(1));
    assert_eq!(call(app.request(Method::PATCH, &path, &m).json(&direct)).await.0, 200);
    assert_eq!(call(app.request(Method::PUT, "/v2/lotecobv/1", &m).json(&altered)).await.0, 202);
    assert_eq!(work_off(&app).await, 1);
    assert_eq!(charge().await["valor"]["original"], "95.00");
    let mut by_put = altered["cobsv"][0].clone();
    by_put.as_object_mut().unwrap().remove("txid");
    by_put["valor"]["original"] = json!("85.00");
    assert_eq!(call(app.request(Method::PUT, &path, &m).json(&by_put)).await.0, 201);
    assert_eq!(call(app.request(Method::PUT, "/v2/lotecobv/1", &m).json(&altered)).await.0, 202);
    assert_eq!(work_off(&app).await, 1);
    assert_eq!(charge().await["valor"]["original"], "95.00");
    let in_batch = json!({"cobsv": [{"txid": txid(1), "valor": {"original": "70.00"}}]});
    assert_eq!(call(app.request(Method::PATCH, "/v2/lotecobv/1", &m).json(&in_batch)).await.0, 202);
    assert_eq!(work_off(&app).await, 1);
    assert_eq!(charge().await["valor"]["original"], "70.00");
    assert_eq!(call(app.request(Method::PUT, "/v2/lotecobv/1", &m).json(&altered)).await.0, 202);
    assert_eq!(work_off(&app).await, 1);
    let cobv = charge().await;
    assert_eq!((cobv["valor"]["original"].as_str(), cobv["revisao"].as_i64()), (Some("95.00"), Some(7)), "{cobv}");

    // Past its due date (the 10th), revised, then the same PUT again: made what the PUT says
    // once more, its due date (restated, not changed) not judged again.
    *clock.0.lock().unwrap() = "2026-09-12T12:00:00Z".parse().unwrap();
    let late = json!({"cobsv": [{"txid": txid(1), "valor": {"original": "60.00"}}]});
    assert_eq!(call(app.request(Method::PATCH, "/v2/lotecobv/1", &m).json(&late)).await.0, 202);
    assert_eq!(work_off(&app).await, 1);
    assert_eq!(call(app.request(Method::PUT, "/v2/lotecobv/1", &m).json(&altered)).await.0, 202);
    assert_eq!(work_off(&app).await, 1);
    let (_, _, lote) = call(app.request(Method::GET, "/v2/lotecobv/1", &m)).await;
    assert_eq!(statuses(&lote)["CRIADA"], 1, "{lote}");
    assert_eq!(charge().await["valor"]["original"], "95.00");

    // A PATCH may change the description alone (the spec's revised batch requires nothing).
    let renamed = json!({"descricao": "Setembro (revisado)"});
    assert_eq!(call(app.request(Method::PATCH, "/v2/lotecobv/1", &m).json(&renamed)).await.0, 202);
    assert_eq!(work_off(&app).await, 0);
    let (_, _, lote) = call(app.request(Method::GET, "/v2/lotecobv/1", &m)).await;
    assert_eq!((lote["descricao"].as_str(), statuses(&lote)["CRIADA"]), (Some("Setembro (revisado)"), 1), "{lote}");
}

/// A revision (PATCH) of a charge still being created is refused (there is no charge to
/// revise yet), where a PUT of the batch corrects its creation request; once the batch
/// shows it CRIADA, it is revised. A revision that lands while the worker holds an older
/// one wins: the stale outcome is not recorded and the item is processed again with the
/// newer request.
#[sqlx::test(migrations = "./migrations")]
async fn a_revision_waits_for_the_creation_and_the_newest_revision_wins(pool: PgPool) {
    let app = TestApp::spawn_configured_at(pool, tuesday_morning(), |_| {}).await;
    let m = school(&app).await;
    let with_txid = |mut body: Value| {
        body["txid"] = json!(txid(1));
        body
    };
    let batch = json!({"descricao": "x", "cobsv": [with_txid(tuition("100.00"))]});
    assert_eq!(call(app.request(Method::PUT, "/v2/lotecobv/1", &m).json(&batch)).await.0, 202);
    // A new description alone leaves the PUT's replay a replay.
    let renamed = json!({"descricao": "y"});
    assert_eq!(call(app.request(Method::PATCH, "/v2/lotecobv/1", &m).json(&renamed)).await.0, 202);
    let (status, _, p) = call(app.request(Method::PUT, "/v2/lotecobv/1", &m).json(&batch)).await;
    assert_eq!(status, 202, "{p}");

    // The spec's partial revision (loteCobVBodyRevisado1) of the pending creation.
    let partial = json!({"cobsv": [{"txid": txid(1), "valor": {"original": "110.00"}}]});
    let (status, _, p) = call(app.request(Method::PATCH, "/v2/lotecobv/1", &m).json(&partial)).await;
    assert_eq!(status, 400, "{p}");
    assert!(p["violacoes"][0]["razao"].as_str().unwrap().contains("still pending"), "{p}");
    // Nor can it be created past the batch.
    let (status, _, p) =
        call(app.request(Method::PUT, &format!("/v2/cobv/{}", txid(1)), &m).json(&tuition("90.00"))).await;
    assert_eq!((status, p["violacoes"][0]["propriedade"].as_str()), (400, Some("txid")), "{p}");
    // A PUT of the batch corrects it (Bacen's maintainers: pix-api issue 300).
    let corrected = json!({"descricao": "x", "cobsv": [with_txid(tuition("105.00"))]});
    let (status, _, p) = call(app.request(Method::PUT, "/v2/lotecobv/1", &m).json(&corrected)).await;
    assert_eq!(status, 202, "{p}");
    assert_eq!(work_off(&app).await, 1, "created once, from the correction");
    let (_, _, cobv) = call(app.request(Method::GET, &format!("/v2/cobv/{}", txid(1)), &m)).await;
    assert_eq!((cobv["valor"]["original"].as_str(), cobv["revisao"].as_i64()), (Some("105.00"), Some(0)), "{cobv}");

    // Created: now it can be revised, and the newest revision wins. A charge the batch
    // does not have cannot be.
    let revision = |valor: &str| json!({"cobsv": [{"txid": txid(1), "valor": {"original": valor}}]});
    let stranger = json!({"cobsv": [{"txid": txid(2), "valor": {"original": "1.00"}}]});
    let (status, _, p) = call(app.request(Method::PATCH, "/v2/lotecobv/1", &m).json(&stranger)).await;
    assert!(status == 400 && p["violacoes"][0]["razao"].as_str().unwrap().contains("not in this batch"), "{p}");
    assert_eq!(call(app.request(Method::PATCH, "/v2/lotecobv/1", &m).json(&revision("110.00"))).await.0, 202);
    let revising = app.state.lotes.pending(10).await.unwrap();
    // Listed in its batch while its revision is pending (it exists, at its last revision).
    let (_, _, listed) = call(app.request(Method::GET, &format!("{IN_BATCH}&loteCobVId=1"), &m)).await;
    assert_eq!(listed["cobs"].as_array().map(Vec::len), Some(1), "{listed}");
    // And only the batch revises it now.
    let (status, _, p) = call(
        app.request(Method::PATCH, &format!("/v2/cobv/{}", txid(1)), &m).json(&json!({"solicitacaoPagador": "x"})),
    )
    .await;
    assert_eq!(status, 400, "{p}");
    assert_eq!(p["violacoes"][0]["propriedade"], "txid", "{p}");
    // Another PATCH waits while this one is pending (it would replace it: what the pending
    // one changes, and it does not, would be lost)...
    let (status, _, p) = call(app.request(Method::PATCH, "/v2/lotecobv/1", &m).json(&revision("120.00"))).await;
    assert_eq!(status, 400, "{p}");
    assert!(p["violacoes"][0]["razao"].as_str().unwrap().contains("still pending"), "{p}");
    // ...where a PUT of the batch corrects it whole, and wins over the revision the worker
    // holds.
    let whole = json!({"descricao": "x", "cobsv": [with_txid(tuition("120.00"))]});
    assert_eq!(call(app.request(Method::PUT, "/v2/lotecobv/1", &m).json(&whole)).await.0, 202);
    assert!(!app.state.lotes.finish(&revising[0], None).await.unwrap(), "a stale outcome is not recorded");
    assert_eq!(work_off(&app).await, 1);
    let (_, _, cobv) = call(app.request(Method::GET, &format!("/v2/cobv/{}", txid(1)), &m)).await;
    assert_eq!(
        (cobv["valor"]["original"].as_str(), cobv["revisao"].as_i64()),
        (Some("120.00"), Some(1)),
        "revised once, by the newest request: {cobv}"
    );
}

/// A charge made outside the batch with one of its txids (a merchant's own PUT that passed
/// its check as the batch was submitted) is not the batch's, even with the very request the
/// batch holds: the batch is denied its creation and the merchant's charge is left as it
/// is, not altered to the batch's request, then or by a correction of the batch.
#[sqlx::test(migrations = "./migrations")]
async fn a_batch_never_alters_a_charge_made_outside_it(pool: PgPool) {
    let app = TestApp::spawn_configured_at(pool, tuesday_morning(), |_| {}).await;
    let m = school(&app).await;
    let batch = json!({"descricao": "x", "cobsv": [item(1, "100.00"), item(2, "100.00")]});
    assert_eq!(call(app.request(Method::PUT, "/v2/lotecobv/1", &m).json(&batch)).await.0, 202);
    // The merchant's own PUTs, checked before the batch held the txids, land now: one with
    // other terms, one with the batch's own.
    let merchant = app.state.merchants.by_id(m.id).await.unwrap().unwrap();
    for (n, valor) in [(1, "70.00"), (2, "100.00")] {
        let own = tucano_shared::handlers::cobv::input::new_charge(tuition(valor).to_string().as_bytes()).unwrap();
        let txid = tucano_shared::domain::ids::Txid::parse(&txid(n)).unwrap();
        tucano_shared::app::due_charges::create(&app.state, &merchant, txid, &own.terms, None, Origin::Merchant)
            .await
            .unwrap();
    }
    assert_eq!(work_off(&app).await, 2);
    let (_, _, lote) = call(app.request(Method::GET, "/v2/lotecobv/1", &m)).await;
    assert_eq!(statuses(&lote)["NEGADA"], 2, "{lote}");
    assert!(lote["cobsv"][0].get("criacao").is_none(), "no charge of the batch's: {lote}");
    // Nor does a PUT of the batch correcting the denied creations alter the charges.
    let again = json!({"descricao": "x", "cobsv": [item(1, "80.00"), item(2, "80.00")]});
    assert_eq!(call(app.request(Method::PUT, "/v2/lotecobv/1", &m).json(&again)).await.0, 202);
    assert_eq!(work_off(&app).await, 2);
    let (_, _, lote) = call(app.request(Method::GET, "/v2/lotecobv/1", &m)).await;
    assert_eq!(statuses(&lote)["NEGADA"], 2, "{lote}");
    for (n, valor) in [(1, "70.00"), (2, "100.00")] {
        let (_, _, cobv) = call(app.request(Method::GET, &format!("/v2/cobv/{}", txid(n)), &m)).await;
        assert_eq!((cobv["valor"]["original"].as_str(), cobv["revisao"].as_i64()), (Some(valor), Some(0)), "{cobv}");
    }
}

/// A PUT of the batch correcting a creation can land while the worker makes the charge from
/// the request it corrects, before the worker recorded that: the worker's outcome is stale
/// and not recorded, and the next pass makes the batch's own charge what the correction
/// says (it was left live, as the old request made it, while the batch showed it NEGADA).
/// Both orders: the charge committed before the correction, or after.
#[sqlx::test(migrations = "./migrations")]
async fn a_correction_landing_between_a_creation_and_its_record_makes_the_charge_what_it_says(pool: PgPool) {
    let app = TestApp::spawn_configured_at(pool, tuesday_morning(), |_| {}).await;
    let m = school(&app).await;
    let merchant = app.state.merchants.by_id(m.id).await.unwrap().unwrap();
    for (lote, created_first) in [(1, true), (2, false)] {
        let item = |valor: &str| {
            let mut item = item(lote, valor);
            item["solicitacaoPagador"] = json!(format!("Mensalidade de {valor}"));
            item
        };
        let batch_of = |valor: &str| json!({"descricao": "x", "cobsv": [item(valor)]});
        let path = format!("/v2/lotecobv/{lote}");
        assert_eq!(call(app.request(Method::PUT, &path, &m).json(&batch_of("100.00"))).await.0, 202);
        // The worker takes the item and makes its charge, as its pass does, while the
        // correction lands.
        let taken = app.state.lotes.pending(10).await.unwrap();
        let old = tucano_shared::handlers::cobv::input::new_charge(item("100.00").to_string().as_bytes()).unwrap();
        let made = || async {
            let txid = tucano_shared::domain::ids::Txid::parse(&txid(lote)).unwrap();
            let origin = Origin::Batch(i64::from(lote));
            tucano_shared::app::due_charges::create(&app.state, &merchant, txid, &old.terms, None, origin)
                .await
                .unwrap();
        };
        let correct = || async {
            let (status, _, p) = call(app.request(Method::PUT, &path, &m).json(&batch_of("105.00"))).await;
            assert_eq!(status, 202, "{p}");
        };
        if created_first {
            made().await;
            correct().await;
        } else {
            correct().await;
            made().await;
        }
        assert!(!app.state.lotes.finish(&taken[0], None).await.unwrap(), "a stale outcome is not recorded");
        // Listed in its batch meanwhile: it exists, the batch's own.
        let (_, _, listed) = call(app.request(Method::GET, &format!("{IN_BATCH}&loteCobVId={lote}"), &m)).await;
        assert_eq!(listed["cobs"].as_array().map(Vec::len), Some(1), "{listed}");

        assert_eq!(work_off(&app).await, 1);
        let (_, _, got) = call(app.request(Method::GET, &path, &m)).await;
        assert_eq!(statuses(&got)["CRIADA"], 1, "{got}");
        assert!(got["cobsv"][0]["criacao"].is_string(), "{got}");
        let (_, _, cobv) = call(app.request(Method::GET, &format!("/v2/cobv/{}", txid(lote)), &m)).await;
        assert_eq!(
            (cobv["valor"]["original"].as_str(), cobv["solicitacaoPagador"].as_str(), cobv["revisao"].as_i64()),
            (Some("105.00"), Some("Mensalidade de 105.00"), Some(1)),
            "created first: {created_first}: {cobv}"
        );
    }
}

/// A worker that made a charge and stopped before it recorded that (a crash, a timeout)
/// finds the charge its batch made on its next pass and records it CRIADA, as it is.
#[sqlx::test(migrations = "./migrations")]
async fn a_creation_the_worker_made_but_never_recorded_is_recorded_on_its_next_pass(pool: PgPool) {
    let app = TestApp::spawn_configured_at(pool, tuesday_morning(), |_| {}).await;
    let m = school(&app).await;
    let item = item(1, "100.00");
    let batch = json!({"descricao": "x", "cobsv": [item.clone()]});
    assert_eq!(call(app.request(Method::PUT, "/v2/lotecobv/1", &m).json(&batch)).await.0, 202);
    let merchant = app.state.merchants.by_id(m.id).await.unwrap().unwrap();
    let request = tucano_shared::handlers::cobv::input::new_charge(item.to_string().as_bytes()).unwrap();
    let txid1 = tucano_shared::domain::ids::Txid::parse(&txid(1)).unwrap();
    tucano_shared::app::due_charges::create(&app.state, &merchant, txid1, &request.terms, None, Origin::Batch(1))
        .await
        .unwrap();

    assert_eq!(work_off(&app).await, 1);
    let (_, _, lote) = call(app.request(Method::GET, "/v2/lotecobv/1", &m)).await;
    assert_eq!(statuses(&lote)["CRIADA"], 1, "{lote}");
    let (_, _, cobv) = call(app.request(Method::GET, &format!("/v2/cobv/{}", txid(1)), &m)).await;
    assert_eq!((cobv["valor"]["original"].as_str(), cobv["revisao"].as_i64()), (Some("100.00"), Some(0)), "{cobv}");
}

/// A charge a batch made before charges carried their batch (or that code deployed before
/// that made during the deploy) is the batch's all the same when its item says so (created,
/// or revised since): shown with its creation, listed in its batch, revised by the batch.
#[sqlx::test(migrations = "./migrations")]
async fn a_charge_a_batch_made_before_charges_carried_their_batch_is_still_the_batchs(pool: PgPool) {
    let app = TestApp::spawn_configured_at(pool, tuesday_morning(), |_| {}).await;
    let m = school(&app).await;
    let batch = json!({"descricao": "x", "cobsv": [item(1, "100.00")]});
    assert_eq!(call(app.request(Method::PUT, "/v2/lotecobv/1", &m).json(&batch)).await.0, 202);
    assert_eq!(work_off(&app).await, 1);
    // As such code left it (past the guard that keeps a charge's batch).
    let mut tx = app.pool.begin().await.unwrap();
    sqlx::query("SET LOCAL session_replication_role = replica").execute(&mut *tx).await.unwrap();
    sqlx::query("UPDATE charges SET lote_id = NULL").execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();

    let (_, _, lote) = call(app.request(Method::GET, "/v2/lotecobv/1", &m)).await;
    assert!(lote["cobsv"][0]["criacao"].is_string(), "{lote}");
    let revision = json!({"cobsv": [{"txid": txid(1), "valor": {"original": "110.00"}}]});
    assert_eq!(call(app.request(Method::PATCH, "/v2/lotecobv/1", &m).json(&revision)).await.0, 202);
    let (_, _, listed) = call(app.request(Method::GET, &format!("{IN_BATCH}&loteCobVId=1"), &m)).await;
    assert_eq!(listed["cobs"].as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(work_off(&app).await, 1);
    let (_, _, cobv) = call(app.request(Method::GET, &format!("/v2/cobv/{}", txid(1)), &m)).await;
    assert_eq!((cobv["valor"]["original"].as_str(), cobv["revisao"].as_i64()), (Some("110.00"), Some(1)), "{cobv}");
    // And the guard keeps a charge's batch from changing.
    let changed = sqlx::query("UPDATE charges SET lote_id = 1").execute(&app.pool).await.unwrap_err();
    let code = changed.as_database_error().and_then(|e| e.code()).map(|c| c.into_owned());
    assert_eq!(code.as_deref(), Some("23514"), "a charge's batch is set once, at creation: {changed}");
}

/// An item the worker cannot process for a fault (here its sealed request no longer opens)
/// waits before its next try and does not hold up the batches behind it; after
/// `MAX_FAULTS` tries it is denied, and the batch shows why.
#[sqlx::test(migrations = "./migrations")]
async fn an_item_that_meets_faults_waits_and_holds_up_no_other_batch_then_is_denied(pool: PgPool) {
    use tucano_shared::handlers::lotecobv::{process_pending, MAX_FAULTS};
    let app = TestApp::spawn_configured_at(pool, tuesday_morning(), |_| {}).await;
    let m = school(&app).await;
    for n in 1..=2 {
        let batch = json!({"descricao": "x", "cobsv": [item(n, "100.00")]});
        assert_eq!(call(app.request(Method::PUT, &format!("/v2/lotecobv/{n}"), &m).json(&batch)).await.0, 202);
    }
    sqlx::query("UPDATE lote_cobv_items SET request_enc = '\\x00' WHERE lote_id = 1").execute(&app.pool).await.unwrap();
    let one_pass = || async {
        let pass = process_pending(&app.state, 1);
        tucano_shared::routes::within_job("lotecobv_worker", pass).await.unwrap()
    };
    // The first pass takes the oldest, the damaged one, and it waits; the next takes the
    // other batch's.
    assert_eq!(one_pass().await, 0);
    assert_eq!(one_pass().await, 1);
    let (_, _, second) = call(app.request(Method::GET, "/v2/lotecobv/2", &m)).await;
    assert_eq!(statuses(&second)["CRIADA"], 1, "{second}");
    let (faults, waits): (i32, bool) =
        sqlx::query_as("SELECT faults, retry_at > now() FROM lote_cobv_items WHERE lote_id = 1")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((faults, waits), (1, true));
    assert_eq!(one_pass().await, 0, "not tried again before its time");

    // Its tries run out (each wait lapsed here at once).
    for _ in 1..MAX_FAULTS {
        sqlx::query("UPDATE lote_cobv_items SET retry_at = now() WHERE lote_id = 1").execute(&app.pool).await.unwrap();
        one_pass().await;
    }
    let (_, _, first) = call(app.request(Method::GET, "/v2/lotecobv/1", &m)).await;
    assert_eq!(statuses(&first)["NEGADA"], 1, "{first}");
    assert_eq!(first["cobsv"][0]["problema"]["status"], 500, "{first}");
}
