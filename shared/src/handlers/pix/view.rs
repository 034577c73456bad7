//! The Bacen JSON of received Pix (`Pix`, `PixConsultados`) and refunds (`Devolucao`).

use crate::domain::document::Document;
use crate::domain::payment::{ReceivedPix, Refund};
use crate::handlers::cob::view::timestamp;
use crate::ports::{Page, PixQuery};
use serde_json::{json, Map, Value};

pub fn refund(r: &Refund) -> Value {
    let mut horario = Map::new();
    horario.insert("solicitacao".into(), json!(timestamp(r.solicitacao)));
    if let Some(l) = r.liquidacao {
        horario.insert("liquidacao".into(), json!(timestamp(l)));
    }
    let mut m = Map::new();
    m.insert("id".into(), json!(r.id.as_str()));
    m.insert("rtrId".into(), json!(r.rtr_id.as_str()));
    m.insert("valor".into(), json!(r.valor.to_string()));
    m.insert("natureza".into(), json!(r.natureza.as_str()));
    if let Some(d) = &r.descricao {
        m.insert("descricao".into(), json!(d));
    }
    m.insert("horario".into(), Value::Object(horario));
    m.insert("status".into(), json!(r.status.as_str()));
    if let Some(motivo) = &r.motivo {
        m.insert("motivo".into(), json!(motivo));
    }
    if let Some(a) = r.alerta {
        m.insert("alerta".into(), json!(a.as_str()));
    }
    Value::Object(m)
}

/// A received Pix. Beyond Bacen's fields: `pagador`, `tarifa` (our fee), `alerta` (why
/// it did not conclude a charge, when it did not) and `alertaRail` (the rail reported it
/// again with another amount or key: operations are looking at it).
pub fn pix(p: &ReceivedPix) -> Value {
    let mut m = Map::new();
    m.insert("endToEndId".into(), json!(p.end_to_end_id.as_str()));
    if let Some(t) = &p.txid {
        m.insert("txid".into(), json!(t.as_str()));
    }
    m.insert("valor".into(), json!(p.valor.to_string()));
    m.insert("componentesValor".into(), json!({"original": {"valor": p.valor.to_string()}}));
    m.insert("chave".into(), json!(p.chave));
    m.insert("horario".into(), json!(timestamp(p.horario)));
    if let Some(i) = &p.info_pagador {
        m.insert("infoPagador".into(), json!(i));
    }
    let mut pagador = Map::new();
    match &p.pagador.documento {
        Some(Document::Cpf(c)) => drop(pagador.insert("cpf".into(), json!(c.as_str()))),
        Some(Document::Cnpj(c)) => drop(pagador.insert("cnpj".into(), json!(c.as_str()))),
        None => {}
    }
    if let Some(n) = &p.pagador.nome {
        pagador.insert("nome".into(), json!(n));
    }
    if !pagador.is_empty() {
        m.insert("pagador".into(), Value::Object(pagador));
    }
    m.insert("tarifa".into(), json!(p.fee.to_string()));
    if let Some(a) = p.alert {
        m.insert("alerta".into(), json!(a.as_str()));
    }
    if let Some(a) = p.rail_alert {
        m.insert("alertaRail".into(), json!(a.as_str()));
    }
    if !p.refunds.is_empty() {
        m.insert("devolucoes".into(), Value::Array(p.refunds.iter().map(refund).collect()));
    }
    Value::Object(m)
}

pub fn page(q: &PixQuery, p: &Page<ReceivedPix>) -> Value {
    json!({
        "parametros": {
            "inicio": timestamp(q.inicio),
            "fim": timestamp(q.fim),
            "paginacao": crate::handlers::paginacao(q.pagina, q.itens_por_pagina, p.total),
        },
        "pix": p.items.iter().map(pix).collect::<Vec<_>>(),
    })
}
