//! Pix Automático in Bacen's JSON: `RecCompleta` and `RecsConsultadas` (recurrences),
//! `SolicRecCompleta` (confirmation requests), `CobRCompleta` and `CobsRConsultadas`
//! (recurring charges with their attempts and, once paid, their Pix).

use super::{timestamp, Paginacao, Parametros};
use crate::domain::document::Document;
use crate::domain::payment::ReceivedPix;
use crate::domain::rec::recurrence::describe;
use crate::domain::rec::{Encerramento, Jornada, RecValue, Recurrence, RecurringCharge, SolicRec, Update};
use crate::ports::{CobRQuery, Page, RecQuery};
use serde_json::{json, Map, Value};

/// The receiver a recurrence shows: its CNPJ and name.
#[derive(Debug, Clone, Copy)]
pub struct Receiver<'a> {
    pub cnpj: &'a str,
    pub nome: &'a str,
}

fn document(d: &Document) -> (&'static str, &str) {
    match d {
        Document::Cpf(c) => ("cpf", c.as_str()),
        Document::Cnpj(c) => ("cnpj", c.as_str()),
    }
}

fn history<S: Copy>(updates: &[Update<S>], name: impl Fn(S) -> &'static str) -> Value {
    updates.iter().map(|u| json!({"status": name(u.status), "data": timestamp(u.data)})).collect()
}

fn ending(e: &Encerramento) -> Value {
    match e {
        Encerramento::Rejeicao { codigo, descricao } => json!({"rejeicao": {"codigo": codigo, "descricao": descricao}}),
        Encerramento::Cancelamento { solicitante, codigo, descricao } => {
            json!({"cancelamento": {"solicitante": solicitante, "codigo": codigo, "descricao": descricao}})
        }
    }
}

fn insert_some(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(v) = value {
        map.insert(key.to_owned(), v);
    }
}

/// `RecCompleta`.
pub fn rec(r: &Recurrence, receiver: Receiver<'_>) -> Value {
    let t = &r.terms;
    let (kind, doc) = document(&t.devedor.documento);
    let mut vinculo = Map::new();
    insert_some(&mut vinculo, "objeto", t.objeto.as_ref().map(|o| json!(o)));
    vinculo.insert("contrato".into(), json!(t.contrato));
    vinculo.insert("devedor".into(), json!({kind: doc, "nome": t.devedor.nome}));
    let mut calendario = Map::new();
    calendario.insert("dataInicial".into(), json!(t.data_inicial.to_string()));
    insert_some(&mut calendario, "dataFinal", t.data_final.map(|d| json!(d.to_string())));
    calendario.insert("periodicidade".into(), json!(t.periodicidade.as_str()));
    let mut recebedor = Map::new();
    recebedor.insert("cnpj".into(), json!(receiver.cnpj));
    recebedor.insert("nome".into(), json!(receiver.nome));
    insert_some(&mut recebedor, "convenio", t.convenio.as_ref().map(|c| json!(c)));
    let mut out = Map::new();
    out.insert("idRec".into(), json!(r.id_rec.as_str()));
    out.insert("vinculo".into(), Value::Object(vinculo));
    out.insert("calendario".into(), Value::Object(calendario));
    match t.valor {
        RecValue::Fixed(v) => out.insert("valor".into(), json!({"valorRec": v.to_string()})),
        RecValue::Minimum(m) => out.insert("valor".into(), json!({"valorMinimoRecebedor": m.to_string()})),
        RecValue::Free => None,
    };
    out.insert("recebedor".into(), Value::Object(recebedor));
    if let Some(p) = &r.pagador {
        let (kind, doc) = document(&p.documento);
        let mut pagador = Map::new();
        pagador.insert(kind.into(), json!(doc));
        pagador.insert("ispbParticipante".into(), json!(p.ispb));
        insert_some(&mut pagador, "codMun", p.cod_mun.as_ref().map(|c| json!(c)));
        out.insert("pagador".into(), Value::Object(pagador));
    }
    out.insert("status".into(), json!(r.status.as_str()));
    out.insert("politicaRetentativa".into(), json!(t.politica.as_str()));
    out.insert("atualizacao".into(), history(&r.atualizacao, |s| s.as_str()));
    insert_some(&mut out, "encerramento", r.encerramento.as_ref().map(ending));
    out.insert("ativacao".into(), ativacao(r));
    insert_some(&mut out, "loc", r.loc.as_ref().map(location));
    Value::Object(out)
}

/// `RecAtivacao`: the journey, and the charge of journey 3 while it can be one (the spec:
/// `dadosJornada` "deve ser removido pelo PSP Recebedor quando a ativação for realizada
/// pelas jornadas 1, 2 ou 4").
fn ativacao(r: &Recurrence) -> Value {
    let mut a = Map::new();
    a.insert("tipoJornada".into(), json!(r.jornada.as_str()));
    let by_charge = matches!(r.jornada, Jornada::Jornada3 | Jornada::AguardandoDefinicao);
    insert_some(
        &mut a,
        "dadosJornada",
        r.jornada_txid.as_ref().filter(|_| by_charge).map(|t| json!({"txid": t.as_str()})),
    );
    Value::Object(a)
}

/// `PayloadLocationRecCompleta`.
pub fn location(l: &crate::domain::rec::RecLoc) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(l.id));
    out.insert("location".into(), json!(l.location));
    out.insert("criacao".into(), json!(timestamp(l.criacao)));
    insert_some(&mut out, "idRec", l.id_rec.as_ref().map(|i| json!(i.as_str())));
    Value::Object(out)
}

/// `PayloadLocationRecConsultadas`.
pub fn locations(q: &crate::ports::LocRecQuery, page: &Page<crate::domain::rec::RecLoc>) -> Value {
    let parametros = Parametros::new(q.inicio, q.fim, Paginacao::new(q.pagina, q.itens_por_pagina, page.total))
        .filter("idRecPresente", q.id_rec_presente)
        .filter("recebedor", q.convenio.as_ref().map(|c| json!({"convenio": c})));
    json!({"parametros": parametros, "loc": page.items.iter().map(location).collect::<Vec<_>>()})
}

/// `RecPayload`: what a recurrence's location serves (signed), as the payer's bank shows it.
pub fn payload(r: &Recurrence, receiver: Receiver<'_>, ispb: &str) -> Value {
    let full = rec(r, receiver);
    let mut out = Map::new();
    for key in ["idRec", "vinculo", "calendario", "valor", "politicaRetentativa", "atualizacao"] {
        insert_some(&mut out, key, full.get(key).cloned());
    }
    out.insert("recebedor".into(), json!({"cnpj": receiver.cnpj, "nome": receiver.nome, "ispbParticipante": ispb}));
    Value::Object(out)
}

/// `RecsConsultadas`.
pub fn recs(q: &RecQuery, page: &Page<crate::domain::rec::Recurrence>, receiver: Receiver<'_>) -> Value {
    let doc = q.devedor.as_ref().map(document);
    let parametros = Parametros::new(q.inicio, q.fim, Paginacao::new(q.pagina, q.itens_por_pagina, page.total))
        .filter("cpf", doc.filter(|d| d.0 == "cpf").map(|d| d.1.to_owned()))
        .filter("cnpj", doc.filter(|d| d.0 == "cnpj").map(|d| d.1.to_owned()))
        .filter("status", q.status.map(|s| s.as_str()))
        .filter("locationPresente", q.location_presente)
        .filter("recebedor", q.convenio.as_ref().map(|c| json!({"convenio": c})));
    json!({"parametros": parametros, "recs": page.items.iter().map(|r| rec(r, receiver)).collect::<Vec<_>>()})
}

/// `SolicRecCompleta`.
pub fn solicitation(s: &SolicRec) -> Value {
    let d = &s.destinatario;
    let (kind, doc) = document(&d.documento);
    let mut destinatario = Map::new();
    destinatario.insert("ispbParticipante".into(), json!(d.ispb));
    insert_some(&mut destinatario, "agencia", d.agencia.as_ref().map(|a| json!(a)));
    destinatario.insert("conta".into(), json!(d.conta));
    destinatario.insert(kind.into(), json!(doc));
    json!({
        "idSolicRec": s.id_solic_rec.as_str(),
        "idRec": s.id_rec.as_str(),
        "calendario": {"dataExpiracaoSolicitacao": timestamp(s.data_expiracao)},
        "destinatario": destinatario,
        "status": s.status.as_str(),
        "atualizacao": history(&s.atualizacao, |x| x.as_str()),
    })
}

/// `CobRCompleta`, with the Pix that paid it.
pub fn charge(c: &RecurringCharge, receiver: Receiver<'_>, pix: &[ReceivedPix]) -> Value {
    let t = &c.terms;
    let mut recebedor = Map::new();
    recebedor.insert("conta".into(), json!(t.recebedor.conta));
    recebedor.insert("tipoConta".into(), json!(t.recebedor.tipo_conta.as_str()));
    insert_some(&mut recebedor, "agencia", t.recebedor.agencia.as_ref().map(|a| json!(a)));
    recebedor.insert("cnpj".into(), json!(receiver.cnpj));
    recebedor.insert("nome".into(), json!(receiver.nome));
    let tentativas: Vec<Value> = c
        .attempts
        .iter()
        .map(|a| {
            let mut out = Map::new();
            out.insert("dataLiquidacao".into(), json!(a.data_liquidacao.to_string()));
            out.insert("tipo".into(), json!(a.tipo.as_str()));
            out.insert("status".into(), json!(a.status.as_str()));
            out.insert("endToEndId".into(), json!(a.end_to_end_id.as_str()));
            out.insert("atualizacao".into(), history(&a.atualizacao, |s| s.as_str()));
            insert_some(
                &mut out,
                "rejeicao",
                a.rejeicao.as_ref().map(|code| json!({"codigo": code, "descricao": describe(code)})),
            );
            Value::Object(out)
        })
        .collect();
    let mut out = Map::new();
    out.insert("idRec".into(), json!(t.id_rec.as_str()));
    out.insert("txid".into(), json!(c.txid.as_str()));
    insert_some(&mut out, "infoAdicional", t.info_adicional.as_ref().map(|i| json!(i)));
    out.insert(
        "calendario".into(),
        json!({"criacao": c.criacao.to_string(), "dataDeVencimento": t.data_vencimento.to_string()}),
    );
    out.insert("valor".into(), json!({"original": t.valor.to_string()}));
    out.insert("ajusteDiaUtil".into(), json!(t.ajuste_dia_util));
    out.insert("recebedor".into(), Value::Object(recebedor));
    if !t.devedor.is_empty() {
        out.insert("devedor".into(), serde_json::to_value(&t.devedor).unwrap_or(Value::Null));
    }
    out.insert("status".into(), json!(c.status.as_str()));
    out.insert("politicaRetentativa".into(), json!(c.politica.as_str()));
    out.insert("atualizacao".into(), history(&c.atualizacao, |s| s.as_str()));
    insert_some(&mut out, "encerramento", c.encerramento.as_ref().map(ending));
    out.insert("tentativas".into(), Value::Array(tentativas));
    if !pix.is_empty() {
        let pix: Vec<Value> =
            pix.iter().map(|p| serde_json::to_value(super::pix::Pix::of(p)).unwrap_or(Value::Null)).collect();
        out.insert("pix".into(), Value::Array(pix));
    }
    Value::Object(out)
}

/// `CobsRConsultadas`.
pub fn charges(q: &CobRQuery, page: &Page<RecurringCharge>, receiver: Receiver<'_>) -> Value {
    let doc = q.devedor.as_ref().map(document);
    let parametros = Parametros::new(q.inicio, q.fim, Paginacao::new(q.pagina, q.itens_por_pagina, page.total))
        .filter("idRec", q.id_rec.as_ref().map(|i| i.as_str().to_owned()))
        .filter("cpf", doc.filter(|d| d.0 == "cpf").map(|d| d.1.to_owned()))
        .filter("cnpj", doc.filter(|d| d.0 == "cnpj").map(|d| d.1.to_owned()))
        .filter("status", q.status.map(|s| s.as_str()))
        .filter("recebedor", q.convenio.as_ref().map(|c| json!({"convenio": c})));
    json!({"parametros": parametros, "cobsr": page.items.iter().map(|c| charge(c, receiver, &[])).collect::<Vec<_>>()})
}

/// `RecNotification`: what `/webhookrec` sends of a recurrence.
pub fn rec_notification(r: &Recurrence) -> Value {
    let mut out = Map::new();
    out.insert("idRec".into(), json!(r.id_rec.as_str()));
    out.insert("status".into(), json!(r.status.as_str()));
    out.insert("atualizacao".into(), history(&r.atualizacao, |s| s.as_str()));
    insert_some(&mut out, "encerramento", r.encerramento.as_ref().map(ending));
    out.insert("ativacao".into(), ativacao(r));
    Value::Object(out)
}

/// `CobRNotification`: what `/webhookcobr` sends of a recurring charge.
pub fn charge_notification(c: &RecurringCharge, pix: &[ReceivedPix]) -> Value {
    let full = charge(c, Receiver { cnpj: "", nome: "" }, pix);
    let mut out = Map::new();
    for key in ["idRec", "txid", "status", "atualizacao", "encerramento", "tentativas", "pix"] {
        insert_some(&mut out, key, full.get(key).cloned());
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::charge::Devedor;
    use crate::domain::document::Cpf;
    use crate::domain::ids::Txid;
    use crate::domain::rec::recurrence::{RecStatus, RecTerms, RetryPolicy};
    use crate::domain::rec::{IdRec, Periodicidade};

    fn approved_by(jornada: Jornada) -> Recurrence {
        let now = chrono::Utc::now();
        Recurrence {
            id_rec: IdRec::generate(RetryPolicy::NaoPermite, "99999999", now.date_naive()),
            status: RecStatus::Aprovada,
            terms: RecTerms {
                objeto: None,
                contrato: "c-1".into(),
                devedor: Devedor {
                    documento: Document::Cpf(Cpf::parse("12345678909").unwrap()),
                    nome: "Fulano".into(),
                },
                data_inicial: now.date_naive(),
                data_final: None,
                periodicidade: Periodicidade::Mensal,
                valor: RecValue::Free,
                convenio: None,
                politica: RetryPolicy::NaoPermite,
            },
            loc: None,
            // Created for journey 3, with the charge that would activate it.
            jornada_txid: Some(Txid::parse("adesao2027abcdefghijklmnop").unwrap()),
            jornada,
            pagador: None,
            encerramento: None,
            atualizacao: vec![Update { status: RecStatus::Aprovada, data: now }],
        }
    }

    #[test]
    fn dados_jornada_is_shown_only_for_a_journey_a_charge_activates() {
        let shown = |j| ativacao(&approved_by(j)).get("dadosJornada").is_some();
        assert!(shown(Jornada::Jornada3));
        assert!(shown(Jornada::AguardandoDefinicao));
        // Activated otherwise (the payer scanned the recurrence's own code): removed, as
        // the spec asks.
        assert!(!shown(Jornada::Jornada2));
        assert!(!shown(Jornada::Jornada4));
        assert_eq!(ativacao(&approved_by(Jornada::Jornada2))["tipoJornada"], "JORNADA_2");
    }
}
