//! End-to-end: immediate charges (`/cob`) over real HTTP on a real Postgres database.

use crate::common::*;
use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;
use tucano_shared::domain::brcode::BrCode;

const KEY_A: &str = "loja.a@example.com";
const KEY_B: &str = "+5581987654321";

#[sqlx::test(migrations = "./migrations")]
async fn a_charge_is_created_revised_read_at_each_revision_and_removed(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Padaria São João", KEY_A).await;
    let path = format!("/v2/cob/{}", txid(1));

    // Create.
    let mut body = charge_body(KEY_A, "37.00");
    body["devedor"] = json!({"cpf": "12345678909", "nome": "Francisco da Silva"});
    body["infoAdicionais"] = json!([{"nome": "Campo 1", "valor": "Informação Adicional1 do PSP-Recebedor"}]);
    let (status, ct, cob) = call(app.request(Method::PUT, &path, &m).json(&body)).await;
    assert_eq!(status, 201, "{cob}");
    assert_eq!(ct, "application/json");
    assert_eq!(cob["txid"], txid(1));
    assert_eq!(cob["revisao"], 0);
    assert_eq!(cob["status"], "ATIVA");
    assert_eq!(cob["valor"]["original"], "37.00");
    assert_eq!(cob["calendario"]["expiracao"], 3600);
    assert_eq!(cob["devedor"]["cpf"], "12345678909");
    assert_eq!(cob["chave"], KEY_A);
    assert_eq!(cob["loc"]["tipoCob"], "cob");
    let location = cob["location"].as_str().unwrap();
    assert!(location.starts_with(LOCATION_BASE) && location.len() <= 77, "{location}");

    // Its copia-e-cola is a valid dynamic BR Code pointing at its location.
    let code = BrCode::decode(cob["pixCopiaECola"].as_str().unwrap()).unwrap();
    assert_eq!(code.account.url.as_deref(), Some(location));
    assert_eq!(code.merchant_name, "Padaria Sao Joao");
    assert_eq!(code.merchant_city, "RECIFE");
    assert_eq!(code.txid, "***");

    // Read.
    let (status, _, read_back) = call(app.request(Method::GET, &path, &m)).await;
    assert_eq!(status, 200);
    assert_eq!(read_back, cob);

    // Revise: the revision grows by one.
    let (status, _, revised) =
        call(app.request(Method::PATCH, &path, &m).json(&json!({"valor": {"original": "40.00"}}))).await;
    assert_eq!(status, 200, "{revised}");
    assert_eq!(revised["revisao"], 1);
    assert_eq!(revised["valor"]["original"], "40.00");
    assert_eq!(revised["devedor"]["nome"], "Francisco da Silva");

    // A PATCH that changes nothing makes no new revision.
    let (_, _, same) = call(app.request(Method::PATCH, &path, &m).json(&json!({"valor": {"original": "40.00"}}))).await;
    assert_eq!(same["revisao"], 1);

    // Each revision stays readable.
    let (_, _, first) = call(app.request(Method::GET, &format!("{path}?revisao=0"), &m)).await;
    assert_eq!(first["valor"]["original"], "37.00");
    assert_eq!(first["revisao"], 0);
    let (status, _, problem) = call(app.request(Method::GET, &format!("{path}?revisao=7"), &m)).await;
    assert_eq!(status, 400);
    assert_eq!(problem["type"], format!("{BACEN_ERROR}CobConsultaInvalida"));

    // Removal cannot be mixed with changes...
    let mixed = json!({"status": "REMOVIDA_PELO_USUARIO_RECEBEDOR", "solicitacaoPagador": "x"});
    let (status, _, problem) = call(app.request(Method::PATCH, &path, &m).json(&mixed)).await;
    assert_eq!(status, 400);
    assert_eq!(problem["type"], format!("{BACEN_ERROR}CobOperacaoInvalida"));

    // ...but on its own it removes the charge, as a new revision.
    let remove = json!({"status": "REMOVIDA_PELO_USUARIO_RECEBEDOR"});
    let (status, _, removed) = call(app.request(Method::PATCH, &path, &m).json(&remove)).await;
    assert_eq!(status, 200);
    assert_eq!(removed["status"], "REMOVIDA_PELO_USUARIO_RECEBEDOR");
    assert_eq!(removed["revisao"], 2);

    // A removed charge is final.
    let (status, ct, problem) =
        call(app.request(Method::PATCH, &path, &m).json(&json!({"calendario": {"expiracao": 60}}))).await;
    assert_eq!(status, 400);
    assert_eq!(ct, "application/problem+json");
    assert_eq!(problem["type"], format!("{BACEN_ERROR}CobOperacaoInvalida"));
    assert_eq!(app.count("charge_revisions").await, 3);
}

#[sqlx::test(migrations = "./migrations")]
async fn repeating_a_put_returns_the_same_charge_and_a_different_body_alters_it_while_ativa(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", KEY_A).await;
    let path = format!("/v2/cob/{}", txid(2));
    let body = charge_body(KEY_A, "10.00");

    let (s1, _, first) = call(app.request(Method::PUT, &path, &m).json(&body)).await;
    let (s2, _, again) = call(app.request(Method::PUT, &path, &m).json(&body)).await;
    assert_eq!((s1, s2), (201, 201));
    assert_eq!(first, again);
    assert_eq!(app.count("charges").await, 1);
    assert_eq!(app.count("locations").await, 1);

    // Other content for a charge still ATIVA alters it, as the spec's PUT does: the request
    // is its whole new terms (the payer's message it leaves out is gone), at its location.
    let mut with_message = charge_body(KEY_A, "10.00");
    with_message["solicitacaoPagador"] = json!("Pedido 7");
    let (status, _, with) = call(app.request(Method::PUT, &path, &m).json(&with_message)).await;
    assert_eq!(
        (status, with["revisao"].as_i64(), with["solicitacaoPagador"].as_str()),
        (201, Some(1), Some("Pedido 7"))
    );
    let mut without_message = charge_body(KEY_A, "11.00");
    without_message.as_object_mut().unwrap().remove("solicitacaoPagador");
    let (status, _, altered) = call(app.request(Method::PUT, &path, &m).json(&without_message)).await;
    assert_eq!(status, 201, "{altered}");
    assert_eq!((altered["valor"]["original"].as_str(), altered["revisao"].as_i64()), (Some("11.00"), Some(2)));
    assert!(altered.get("solicitacaoPagador").is_none(), "{altered}");
    assert_eq!(altered["location"], first["location"]);
    let (status, _, again) = call(app.request(Method::PUT, &path, &m).json(&without_message)).await;
    assert_eq!((status, again["revisao"].as_i64()), (201, Some(2)), "the same alteration again changes nothing");
    // The first request again, once the charge was revised: made what it says once more,
    // not answered as a replay of its creation.
    let (status, _, back) = call(app.request(Method::PUT, &path, &m).json(&body)).await;
    assert_eq!((status, back["valor"]["original"].as_str(), back["revisao"].as_i64()), (201, Some("10.00"), Some(3)));

    // One no longer ATIVA is refused.
    let remove = json!({"status": "REMOVIDA_PELO_USUARIO_RECEBEDOR"});
    assert_eq!(call(app.request(Method::PATCH, &path, &m).json(&remove)).await.0, 200);
    let (status, _, problem) = call(app.request(Method::PUT, &path, &m).json(&charge_body(KEY_A, "12.00"))).await;
    assert_eq!(status, 400);
    assert_eq!(problem["type"], format!("{BACEN_ERROR}CobOperacaoInvalida"));
    assert_eq!(problem["violacoes"][0]["propriedade"], "txid");
    assert_eq!(app.count("charges").await, 1);
    assert_eq!(app.count("locations").await, 1);
}

#[sqlx::test(migrations = "./migrations")]
async fn post_creates_a_charge_with_a_txid_chosen_by_the_psp(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", KEY_A).await;
    let (status, _, cob) = call(
        app.request(Method::POST, "/v2/cob", &m).header("idempotency-key", "k1").json(&charge_body(KEY_A, "5.50")),
    )
    .await;
    assert_eq!(status, 201, "{cob}");
    let txid = cob["txid"].as_str().unwrap();
    assert!(txid.len() >= 26 && txid.len() <= 35 && txid.chars().all(|c| c.is_ascii_alphanumeric()));
    let (status, _, _) = call(app.request(Method::GET, &format!("/v2/cob/{txid}"), &m)).await;
    assert_eq!(status, 200);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_merchant_can_never_see_or_touch_another_merchants_charge(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let a = app.merchant("Loja A", KEY_A).await;
    let b = app.merchant("Loja B", KEY_B).await;
    let path = format!("/v2/cob/{}", txid(3));
    let (status, _, _) = call(app.request(Method::PUT, &path, &a).json(&charge_body(KEY_A, "10.00"))).await;
    assert_eq!(status, 201);

    let (status, _, problem) = call(app.request(Method::GET, &path, &b)).await;
    assert_eq!(status, 404);
    assert_eq!(problem["type"], format!("{BACEN_ERROR}CobNaoEncontrado"));
    let remove = json!({"status": "REMOVIDA_PELO_USUARIO_RECEBEDOR"});
    let (status, _, _) = call(app.request(Method::PATCH, &path, &b).json(&remove)).await;
    assert_eq!(status, 404);
    let (_, _, list) =
        call(app.request(Method::GET, "/v2/cob?inicio=2000-01-01T00:00:00Z&fim=2100-01-01T00:00:00Z", &b)).await;
    assert_eq!(list["cobs"], json!([]));

    // B cannot bill on A's key either.
    let (status, _, problem) = call(
        app.request(Method::POST, "/v2/cob", &b).header("idempotency-key", "k2").json(&charge_body(KEY_A, "1.00")),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(problem["violacoes"][0]["propriedade"], "cob.chave");

    // The same txid is free for B: txids are unique per merchant.
    let (status, _, _) = call(app.request(Method::PUT, &path, &b).json(&charge_body(KEY_B, "2.00"))).await;
    assert_eq!(status, 201);
    let (_, _, still_a) = call(app.request(Method::GET, &path, &a)).await;
    assert_eq!(still_a["valor"]["original"], "10.00");
    assert_eq!(still_a["status"], "ATIVA");
}

#[sqlx::test(migrations = "./migrations")]
async fn requests_without_valid_credentials_are_refused_with_401(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let _m = app.merchant("Loja", KEY_A).await;
    let path = format!("/v2/cob/{}", txid(4));
    for auth in [None, Some("Bearer tk_wrong"), Some("Basic dXNlcjpwYXNz"), Some("Bearer ")] {
        let mut req = app.anonymous(Method::PUT, &path).json(&charge_body(KEY_A, "1.00"));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let res = req.send().await.unwrap();
        // RFC 6750 §3: an error code only when a token was presented.
        let challenge = if auth.is_some_and(|a| a.starts_with("Bearer ") && a.len() > 7) {
            r#"Bearer error="invalid_token""#
        } else {
            "Bearer"
        };
        assert_eq!(res.headers().get("www-authenticate").unwrap(), challenge, "{auth:?}");
        let (status, ct, problem) = read(res).await;
        assert_eq!(status, 401, "{auth:?}");
        assert_eq!(ct, "application/problem+json");
        assert_eq!(problem["status"], 401);
        assert!(problem["correlationId"].as_str().is_some_and(|s| !s.is_empty()));
    }
    assert_eq!(app.count("charges").await, 0);
}

#[sqlx::test(migrations = "./migrations")]
async fn each_bad_input_is_rejected_with_its_problem_type_and_writes_nothing(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", KEY_A).await;
    let good = charge_body(KEY_A, "10.00");
    let with = |pointer: &str, value: serde_json::Value| {
        let mut b = good.clone();
        *b.pointer_mut(pointer).unwrap() = value;
        b
    };
    let with_devedor = |devedor: serde_json::Value| {
        let mut b = good.clone();
        b["devedor"] = devedor;
        b
    };
    // (case, txid, body, expected status, expected type, expected propriedade)
    let cases: Vec<(&str, String, String, u16, &str, Option<&str>)> = vec![
        (
            "amount without decimals",
            txid(10),
            with("/valor/original", json!("10")).to_string(),
            400,
            "CobOperacaoInvalida",
            Some("cob.valor.original"),
        ),
        (
            "negative amount",
            txid(11),
            with("/valor/original", json!("-1.00")).to_string(),
            400,
            "CobOperacaoInvalida",
            Some("cob.valor.original"),
        ),
        (
            "three decimals",
            txid(12),
            with("/valor/original", json!("1.005")).to_string(),
            400,
            "CobOperacaoInvalida",
            Some("cob.valor.original"),
        ),
        (
            "zero amount",
            txid(13),
            with("/valor/original", json!("0.00")).to_string(),
            400,
            "CobOperacaoInvalida",
            Some("cob.valor.original"),
        ),
        (
            "amount as a number",
            txid(14),
            with("/valor/original", json!(10.0)).to_string(),
            400,
            "CobOperacaoInvalida",
            Some("cob.valor.original"),
        ),
        (
            "bad CPF check digits",
            txid(15),
            with_devedor(json!({"cpf": "12345678900", "nome": "Fulano"})).to_string(),
            400,
            "CobOperacaoInvalida",
            Some("cob.devedor.cpf"),
        ),
        (
            "bad CNPJ check digits",
            txid(16),
            with_devedor(json!({"cnpj": "12ABC34501DE36", "nome": "Empresa"})).to_string(),
            400,
            "CobOperacaoInvalida",
            Some("cob.devedor.cnpj"),
        ),
        (
            "CPF and CNPJ together",
            txid(17),
            with_devedor(json!({"cpf": "12345678909", "cnpj": "11222333000181", "nome": "X"})).to_string(),
            400,
            "CobOperacaoInvalida",
            Some("cob.devedor.cpf"),
        ),
        (
            "devedor without nome",
            txid(18),
            with_devedor(json!({"cpf": "12345678909"})).to_string(),
            400,
            "CobOperacaoInvalida",
            Some("cob.devedor.nome"),
        ),
        (
            "zero expiration",
            txid(19),
            with("/calendario/expiracao", json!(0)).to_string(),
            400,
            "CobOperacaoInvalida",
            Some("cob.calendario.expiracao"),
        ),
        (
            "expiration as a string",
            txid(20),
            with("/calendario/expiracao", json!("3600")).to_string(),
            400,
            "CobOperacaoInvalida",
            Some("cob.calendario.expiracao"),
        ),
        (
            "invalid Pix key",
            txid(21),
            with("/chave", json!("not a key")).to_string(),
            400,
            "CobOperacaoInvalida",
            Some("cob.chave"),
        ),
        (
            "someone else's Pix key",
            txid(22),
            with("/chave", json!("outra@example.com")).to_string(),
            400,
            "CobOperacaoInvalida",
            Some("cob.chave"),
        ),
        (
            "message too long",
            txid(23),
            with("/solicitacaoPagador", json!("x".repeat(141))).to_string(),
            400,
            "CobOperacaoInvalida",
            Some("cob.solicitacaoPagador"),
        ),
        (
            "status on create",
            txid(25),
            {
                let mut b = good.clone();
                b["status"] = json!("CONCLUIDA");
                b.to_string()
            },
            400,
            "CobOperacaoInvalida",
            Some("cob.status"),
        ),
        (
            "missing valor",
            txid(26),
            {
                let mut b = good.clone();
                b.as_object_mut().unwrap().remove("valor");
                b.to_string()
            },
            400,
            "CobOperacaoInvalida",
            Some("cob.valor"),
        ),
        (
            "missing chave",
            txid(27),
            {
                let mut b = good.clone();
                b.as_object_mut().unwrap().remove("chave");
                b.to_string()
            },
            400,
            "CobOperacaoInvalida",
            Some("cob.chave"),
        ),
        ("body is an array", txid(28), "[]".into(), 400, "CobOperacaoInvalida", Some("cob")),
        ("malformed JSON", txid(29), "{\"valor\": ".into(), 400, "RequisicaoInvalida", None),
        ("empty body", txid(30), "".into(), 400, "RequisicaoInvalida", None),
        ("txid too short", "abc".into(), good.to_string(), 400, "CobOperacaoInvalida", Some("txid")),
        (
            "txid with a dash",
            "abcdefghijklmnopqrstuvwxyz-12".into(),
            good.to_string(),
            400,
            "CobOperacaoInvalida",
            Some("txid"),
        ),
        ("txid too long", "a".repeat(36), good.to_string(), 400, "CobOperacaoInvalida", Some("txid")),
    ];
    for (case, txid, body, status, kind, prop) in cases {
        let res = app
            .request(Method::PUT, &format!("/v2/cob/{txid}"), &m)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let (got, ct, problem) = read(res).await;
        assert_eq!(got, status, "{case}: {problem}");
        assert_eq!(ct, "application/problem+json", "{case}");
        assert_eq!(problem["type"], format!("{BACEN_ERROR}{kind}"), "{case}: {problem}");
        if let Some(prop) = prop {
            let props: Vec<_> =
                problem["violacoes"].as_array().unwrap().iter().map(|v| v["propriedade"].clone()).collect();
            assert!(props.contains(&json!(prop)), "{case}: {problem}");
        }
        assert!(!problem.to_string().contains("12345678900"), "{case}: a document was echoed");
    }

    // A body that is not JSON at all.
    let res = app
        .request(Method::PUT, &format!("/v2/cob/{}", txid(31)), &m)
        .header("content-type", "text/plain")
        .body("valor=10")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);

    assert_eq!(app.count("charges").await, 0);
    assert_eq!(app.count("locations").await, 0);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_bad_patch_changes_nothing(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", KEY_A).await;
    let path = format!("/v2/cob/{}", txid(5));
    let (_, _, created) = call(app.request(Method::PUT, &path, &m).json(&charge_body(KEY_A, "10.00"))).await;
    for bad in [
        json!({"valor": {"original": "1.005"}}),
        json!({"status": "CONCLUIDA"}),
        json!({"devedor": {"cpf": "11111111111", "nome": "X"}}),
        json!({"chave": "outra@example.com"}),
    ] {
        let (status, _, problem) = call(app.request(Method::PATCH, &path, &m).json(&bad)).await;
        assert_eq!(status, 400, "{bad}: {problem}");
        assert_eq!(problem["type"], format!("{BACEN_ERROR}CobOperacaoInvalida"));
    }
    let (_, _, now) = call(app.request(Method::GET, &path, &m)).await;
    assert_eq!(now, created);
    assert_eq!(app.count("charge_revisions").await, 1);
}

#[sqlx::test(migrations = "./migrations")]
async fn the_list_filters_and_paginates_like_bacen(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", KEY_A).await;
    for n in 0..5 {
        let mut body = charge_body(KEY_A, &format!("{}.00", n + 1));
        if n == 0 {
            body["devedor"] = json!({"cpf": "12345678909", "nome": "Francisco"});
        }
        if n == 1 {
            body["devedor"] = json!({"cnpj": "12ABC34501DE35", "nome": "Empresa"});
        }
        let (status, _, _) =
            call(app.request(Method::PUT, &format!("/v2/cob/{}", txid(100 + n)), &m).json(&body)).await;
        assert_eq!(status, 201);
    }
    let remove = json!({"status": "REMOVIDA_PELO_USUARIO_RECEBEDOR"});
    app.request(Method::PATCH, &format!("/v2/cob/{}", txid(104)), &m).json(&remove).send().await.unwrap();

    let range = "inicio=2000-01-01T00:00:00Z&fim=2100-01-01T00:00:00%2B00:00";
    let list = |q: String| {
        let req = app.request(Method::GET, &format!("/v2/cob?{range}{q}"), &m);
        async move { call(req).await }
    };

    let (status, _, page) = list("&paginacao.itensPorPagina=2&paginacao.paginaAtual=1".into()).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["cobs"].as_array().unwrap().len(), 2);
    assert_eq!(page["cobs"][0]["txid"], txid(102));
    assert_eq!(
        page["parametros"]["paginacao"],
        json!({"paginaAtual": 1, "itensPorPagina": 2, "quantidadeDePaginas": 3, "quantidadeTotalDeItens": 5})
    );

    let (_, _, past_end) = list("&paginacao.itensPorPagina=2&paginacao.paginaAtual=9".into()).await;
    assert_eq!(past_end["cobs"], json!([]));
    assert_eq!(past_end["parametros"]["paginacao"]["quantidadeTotalDeItens"], 5);

    let (_, _, by_cpf) = list("&cpf=12345678909".into()).await;
    assert_eq!(by_cpf["cobs"].as_array().unwrap().len(), 1);
    assert_eq!(by_cpf["cobs"][0]["txid"], txid(100));
    let (_, _, by_cnpj) = list("&cnpj=12ABC34501DE35".into()).await;
    assert_eq!(by_cnpj["cobs"][0]["txid"], txid(101));
    let (_, _, removed) = list("&status=REMOVIDA_PELO_USUARIO_RECEBEDOR".into()).await;
    assert_eq!(removed["cobs"].as_array().unwrap().len(), 1);
    let (_, _, active) = list("&status=ATIVA&locationPresente=true".into()).await;
    assert_eq!(active["cobs"].as_array().unwrap().len(), 4);

    for bad in [
        "&cpf=12345678909&cnpj=11222333000181",
        "&cpf=123",
        "&status=PAGA",
        "&paginacao.itensPorPagina=0",
        "&paginacao.paginaAtual=-1",
        "&bogus=1",
    ] {
        let (status, _, problem) = list(bad.into()).await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(problem["type"], format!("{BACEN_ERROR}CobConsultaInvalida"), "{bad}");
    }
    let req = app.request(Method::GET, "/v2/cob?inicio=2030-01-01T00:00:00Z&fim=2020-01-01T00:00:00Z", &m);
    let (status, _, problem) = call(req).await;
    assert_eq!(status, 400);
    assert_eq!(problem["violacoes"][0]["propriedade"], "fim");
    let (status, _, _) = call(app.request(Method::GET, "/v2/cob", &m)).await;
    assert_eq!(status, 400);
}

#[sqlx::test(migrations = "./migrations")]
async fn unknown_routes_and_methods_get_problem_json(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", KEY_A).await;
    let (status, ct, problem) = call(app.request(Method::GET, "/nada", &m)).await;
    assert_eq!((status, ct.as_str()), (404, "application/problem+json"));
    assert_eq!(problem["type"], format!("{BACEN_ERROR}NaoEncontrado"));
    let res = app.request(Method::DELETE, &format!("/v2/cob/{}", txid(1)), &m).send().await.unwrap();
    assert_eq!(res.headers().get("allow").unwrap(), "PUT, PATCH, GET");
    assert_eq!(res.status(), 405);
    let big = "x".repeat(100 * 1024);
    let res = app.request(Method::PUT, &format!("/v2/cob/{}", txid(1)), &m).body(big).send().await.unwrap();
    assert_eq!(res.status(), 413);
}

#[sqlx::test(migrations = "./migrations")]
async fn the_database_refuses_a_change_that_skips_the_revision_rules(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", KEY_A).await;
    let path = format!("/v2/cob/{}", txid(6));
    app.request(Method::PUT, &path, &m).json(&charge_body(KEY_A, "10.00")).send().await.unwrap();

    let silent = sqlx::query("UPDATE charges SET valor_original = 1").execute(&app.pool).await;
    assert!(silent.is_err(), "a term change without a new revision must fail");
    let jump = sqlx::query("UPDATE charges SET valor_original = 1, revisao = 5").execute(&app.pool).await;
    assert!(jump.is_err(), "revisions grow one at a time");
    let history = sqlx::query("DELETE FROM charge_revisions").execute(&app.pool).await;
    assert!(history.is_err(), "the revision history is immutable");
    sqlx::query("UPDATE charges SET status = 'CONCLUIDA'").execute(&app.pool).await.unwrap();
    let reopen = sqlx::query("UPDATE charges SET status = 'ATIVA'").execute(&app.pool).await;
    assert!(reopen.is_err(), "a paid charge is final");
}

/// A client written for a newer minor version of the spec sends fields Tucano does not
/// know: they are ignored. What Tucano does not offer is refused by name.
#[sqlx::test(migrations = "./migrations")]
async fn unknown_fields_are_ignored_and_what_is_not_offered_is_refused_by_name(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", KEY_A).await;
    let mut body = charge_body(KEY_A, "3.00");
    body["campoDeUmaVersaoNova"] = json!({"qualquer": 1});
    body["calendario"]["outroCampo"] = json!(true);
    body["valor"]["outroCampo"] = json!("x");
    let (status, _, cob) = call(app.request(Method::PUT, &format!("/v2/cob/{}", txid(60)), &m).json(&body)).await;
    assert_eq!(status, 201, "{cob}");
    assert!(cob.get("campoDeUmaVersaoNova").is_none());
    assert_eq!(cob["loc"]["txid"], txid(60), "a location names its charge");

    let mut saque = charge_body(KEY_A, "3.00");
    saque["valor"]["retirada"] =
        json!({"saque": {"valor": "10.00", "modalidadeAgente": "AGTEC", "prestadorDoServicoDeSaque": "12345678"}});
    let (status, _, problem) = call(app.request(Method::PUT, &format!("/v2/cob/{}", txid(61)), &m).json(&saque)).await;
    assert_eq!(status, 400);
    assert_eq!(problem["type"], "https://pix.bcb.gov.br/api/v2/error/CobOperacaoInvalida");
    assert_eq!(problem["violacoes"][0]["propriedade"], "cob.valor.retirada");
    assert!(problem["violacoes"][0]["razao"].as_str().unwrap().contains("not offered"));
    assert_eq!(app.count("charges").await, 1);
}

#[sqlx::test(migrations = "./migrations")]
async fn an_empty_list_is_one_page_and_a_list_echoes_its_filters(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", KEY_A).await;
    let query =
        "inicio=2020-01-01T00:00:00Z&fim=2030-01-01T00:00:00Z&status=ATIVA&cpf=52998224725&locationPresente=true";
    let (status, _, list) = call(app.request(Method::GET, &format!("/v2/cob?{query}"), &m)).await;
    assert_eq!(status, 200, "{list}");
    let p = &list["parametros"];
    assert_eq!(p["paginacao"]["quantidadeDePaginas"], 1, "the spec's minimum");
    assert_eq!(p["paginacao"]["quantidadeTotalDeItens"], 0);
    assert_eq!(
        (&p["status"], &p["cpf"], &p["locationPresente"]),
        (&json!("ATIVA"), &json!("52998224725"), &json!(true))
    );
    let (_, _, pix) = call(app.request(
        Method::GET,
        "/v2/pix?inicio=2020-01-01T00:00:00Z&fim=2030-01-01T00:00:00Z&txIdPresente=false",
        &m,
    ))
    .await;
    assert_eq!(pix["parametros"]["txIdPresente"], false);
    assert_eq!(pix["parametros"]["paginacao"]["quantidadeDePaginas"], 1);
}

/// A day's window written to the second (`T00:00:00Z` to `T23:59:59Z`, as clients write
/// them) holds a Pix received in that day's last second: the next day's window starts at
/// `T00:00:00Z`, and nothing may fall between the two.
#[sqlx::test(migrations = "./migrations")]
async fn a_day_window_written_to_the_second_holds_a_pix_of_its_last_second(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", KEY_A).await;
    let day = (chrono::Utc::now() - chrono::Duration::days(1)).date_naive();
    let note = json!({"tipo": "PIX_RECEBIDO", "id": "in-1", "pix": {
        "endToEndId": "E9999999920261122130500000000001", "valor": "1.00", "chave": KEY_A,
        "horario": format!("{day}T23:59:59.358Z")}});
    assert_eq!(app.notify(&note).await.0, 200);
    let listed = |day: chrono::NaiveDate| {
        let path = format!("/v2/pix?inicio={day}T00:00:00Z&fim={day}T23:59:59Z");
        call(app.request(Method::GET, &path, &m))
    };
    let (status, _, that_day) = listed(day).await;
    assert_eq!(status, 200, "{that_day}");
    assert_eq!(that_day["pix"].as_array().map(Vec::len), Some(1), "{that_day}");
    assert_eq!(that_day["parametros"]["fim"], format!("{day}T23:59:59.000Z"), "as stated");
    let (_, _, next_day) = listed(day.succ_opt().unwrap()).await;
    assert_eq!(next_day["pix"].as_array().map(Vec::len), Some(0), "{next_day}");
}

/// A location's QR image decodes, with an independent reader (PyPI `zxing-cpp`, installed
/// by `make test`), back to the exact BR Code; SVG when asked; another merchant's location
/// is not found.
#[sqlx::test(migrations = "./migrations")]
async fn a_locations_qr_image_decodes_to_its_br_code(pool: PgPool) {
    use base64::Engine;
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", KEY_A).await;
    let other = app.merchant("Outra", KEY_B).await;
    let (_, _, cob) =
        call(app.request(Method::PUT, &format!("/v2/cob/{}", txid(70)), &m).json(&charge_body(KEY_A, "42.00"))).await;
    let id = cob["loc"]["id"].as_i64().unwrap();
    let path = format!("/v2/loc/{id}/qrcode");
    let (status, _, qr) = call(app.request(Method::GET, &path, &m)).await;
    assert_eq!(status, 200, "{qr}");
    assert_eq!(qr["qrcode"], cob["pixCopiaECola"]);
    let png = qr["imagemQrcode"].as_str().unwrap().strip_prefix("data:image/png;base64,").unwrap();
    let png = base64::engine::general_purpose::STANDARD.decode(png).unwrap();
    let file = std::env::temp_dir().join(format!("tucano-qr-{}.png", uuid::Uuid::new_v4()));
    std::fs::write(&file, &png).unwrap();
    let python = concat!(env!("CARGO_MANIFEST_DIR"), "/.venv-contract/bin/python");
    let read = std::process::Command::new(python)
        .args(["-c", "import sys, zxingcpp; from PIL import Image; r = zxingcpp.read_barcodes(Image.open(sys.argv[1])); print(r[0].text if r else '')"])
        .arg(&file)
        .output()
        .expect("the contract venv (make test installs zxing-cpp into it)");
    let _ = std::fs::remove_file(&file);
    assert_eq!(
        String::from_utf8_lossy(&read.stdout).trim(),
        cob["pixCopiaECola"].as_str().unwrap(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );

    let res = app.request(Method::GET, &path, &m).header("accept", "image/svg+xml").send().await.unwrap();
    assert_eq!(res.headers()["content-type"], "image/svg+xml");
    assert!(res.text().await.unwrap().contains("<svg"));
    let (status, _, problem) = call(app.request(Method::GET, &path, &other)).await;
    assert_eq!(
        (status, problem["type"].as_str()),
        (404, Some("https://pix.bcb.gov.br/api/v2/error/PayloadLocationNaoEncontrado"))
    );
}

/// Charges with a due date share `charges` (one txid space, one location per charge): the
/// database holds each kind to its shape, and an immediate charge cannot take the txid of
/// one with a due date (nor read it as its own).
#[sqlx::test(migrations = "./migrations")]
async fn the_two_kinds_of_charge_share_one_txid_space_and_the_database_holds_each_to_its_shape(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let m = app.merchant("Loja", KEY_A).await;
    let insert = |kind: &'static str, extra: &'static str| {
        let pool = app.pool.clone();
        let merchant = m.id.0;
        async move {
            sqlx::query(&format!(
                "INSERT INTO charges (merchant_id, txid, kind, valor_original, chave, request_hash, devedor_nome,
                                      devedor_doc_kind, devedor_doc_enc, devedor_doc_index, {extra})
                 SELECT $1, $2, $3, 1000, 'x', decode(repeat('00', 32), 'hex'), 'Fulano',
                        'cpf', '\\x00', decode(repeat('00', 32), 'hex'), {values}",
                values = match extra {
                    "vencimento, validade_apos_vencimento" => "DATE '2026-12-31', 30",
                    "expiracao" => "3600",
                    _ => "DATE '2026-12-31', 30, 3600",
                }
            ))
            .bind(merchant)
            .bind(txid(80))
            .bind(kind)
            .execute(&pool)
            .await
        }
    };
    assert!(insert("cobv", "expiracao").await.is_err(), "a cobv has a due date, not an expiry");
    assert!(insert("cob", "vencimento, validade_apos_vencimento").await.is_err(), "a cob has no due date");
    assert!(insert("cobv", "vencimento, validade_apos_vencimento").await.is_ok());

    let path = format!("/v2/cob/{}", txid(80));
    let (status, _, problem) = call(app.request(Method::PUT, &path, &m).json(&charge_body(KEY_A, "1.00"))).await;
    assert_eq!((status, problem["violacoes"][0]["propriedade"].as_str()), (400, Some("txid")), "{problem}");
    let (status, _, _) = call(app.request(Method::GET, &path, &m)).await;
    assert_eq!(status, 404, "a cobv is not read as a cob");
    let (_, _, list) =
        call(app.request(Method::GET, "/v2/cob?inicio=2020-01-01T00:00:00Z&fim=2099-01-01T00:00:00Z", &m)).await;
    assert_eq!(list["cobs"], json!([]));
    assert_eq!(app.count("charges").await, 1);
}
