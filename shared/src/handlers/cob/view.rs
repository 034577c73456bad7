//! The Bacen JSON representation of charges (`CobGerada` / `CobCompleta` / `CobsConsultadas`).

use crate::domain::charge::{Charge, ChargeTerms, Devedor};
use crate::domain::document::Document;
use crate::ports::{ChargeQuery, Page};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

/// RFC 3339 in UTC with milliseconds, as in the Bacen examples.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn devedor(d: &Devedor) -> Value {
    match &d.documento {
        Document::Cpf(c) => json!({"cpf": c.as_str(), "nome": d.nome}),
        Document::Cnpj(c) => json!({"cnpj": c.as_str(), "nome": d.nome}),
    }
}

/// The merchant-chosen part of a charge. Also the canonical form fingerprinted for
/// idempotent PUTs: built in a fixed order from parsed values, so the bytes are stable
/// whatever the order or spacing of the request.
pub fn terms(t: &ChargeTerms) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("calendario".into(), json!({"expiracao": t.expiracao}));
    if let Some(d) = &t.devedor {
        m.insert("devedor".into(), devedor(d));
    }
    let mut valor = json!({"original": t.valor.to_string()});
    if t.valor_alteravel {
        valor["modalidadeAlteracao"] = json!(1);
    }
    m.insert("valor".into(), valor);
    m.insert("chave".into(), json!(t.chave.as_str()));
    if let Some(s) = &t.solicitacao_pagador {
        m.insert("solicitacaoPagador".into(), json!(s));
    }
    if !t.info_adicionais.is_empty() {
        m.insert("infoAdicionais".into(), json!(t.info_adicionais));
    }
    m
}

/// Appends the merchant-chosen fields after the PSP's, in the order of the Bacen examples.
pub fn append_terms(m: &mut Map<String, Value>, mut terms: Map<String, Value>) {
    for key in ["devedor", "valor", "chave", "solicitacaoPagador", "infoAdicionais"] {
        if let Some(v) = terms.remove(key) {
            m.insert(key.into(), v);
        }
    }
}

/// A whole charge, fields in the order of the Bacen examples.
pub fn charge(c: &Charge) -> Value {
    let terms = terms(&c.terms);
    let mut m = Map::new();
    m.insert("calendario".into(), json!({"criacao": timestamp(c.criacao), "expiracao": c.terms.expiracao}));
    m.insert("txid".into(), json!(c.txid.as_str()));
    m.insert("revisao".into(), json!(c.revisao));
    if let Some(loc) = &c.loc {
        m.insert(
            "loc".into(),
            json!({"id": loc.id, "location": loc.location, "tipoCob": "cob", "criacao": timestamp(loc.criacao)}),
        );
        m.insert("location".into(), json!(loc.location));
    }
    m.insert("status".into(), json!(c.status.as_str()));
    append_terms(&mut m, terms);
    if let Some(p) = &c.pix_copia_e_cola {
        m.insert("pixCopiaECola".into(), json!(p));
    }
    Value::Object(m)
}

/// A page of `GET /cob`, with the Bacen `parametros` block.
pub fn page(q: &ChargeQuery, p: &Page<Charge>) -> Value {
    json!({
        "parametros": {
            "inicio": timestamp(q.inicio),
            "fim": timestamp(q.fim),
            "paginacao": crate::handlers::paginacao(q.pagina, q.itens_por_pagina, p.total),
        },
        "cobs": p.items.iter().map(charge).collect::<Vec<_>>(),
    })
}
