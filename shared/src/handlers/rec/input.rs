//! Parsing Pix Automático request bodies and query strings (`rec`, `solicrec`, `cobr`)
//! into domain values, with a Bacen `violacoes` entry for each bad field. Rules that span
//! fields or need stored state are the domain's.

use crate::domain::charge::Devedor;
use crate::domain::cobv::Contato;
use crate::domain::document::{Cnpj, Cpf, Document};
use crate::domain::money::Amount;
use crate::domain::rec::recurrence::Destinatario;
use crate::domain::rec::{
    CobRStatus, CobRTerms, ContaRecebedor, IdRec, Periodicidade, RecStatus, RecTerms, RecValue, RetryPolicy, TipoConta,
};
use crate::handlers::cob::input::read_devedor;
use crate::handlers::cobv::input::read_contato;
use crate::http::json::{parse_body, Field, Fields, Violations};
use crate::http::problem::{ApiError, ProblemKind};
use crate::http::query::QueryParams;
use crate::ports::{CobRQuery, RecQuery};
use chrono::{DateTime, NaiveDate, Utc};

pub const REC_DETAIL: &str = "The recurrence request does not follow the schema or is semantically wrong.";
pub const SOLICREC_DETAIL: &str = "The confirmation request does not follow the schema or is semantically wrong.";
pub const COBR_DETAIL: &str = "The recurring charge request does not follow the schema or is semantically wrong.";
pub const QUERY_DETAIL: &str = "The query parameters do not follow the schema or make no sense together.";

fn required<'a, T>(f: &Fields<'a>, key: &'static str, field: Field<T>, v: &mut Violations) -> Option<T> {
    f.require(key, field, v).ok().flatten()
}

fn read_date(f: &mut Fields<'_>, key: &'static str, needed: bool, v: &mut Violations) -> Option<NaiveDate> {
    let field = f.string(key, 10, v);
    let s = if needed { required(f, key, field, v)? } else { field.ok().flatten()? };
    let d = crate::bacen::full_date(s);
    if d.is_none() {
        v.add(f.path_of(key), "must be a date YYYY-MM-DD");
    }
    d
}

fn read_amount(f: &mut Fields<'_>, key: &'static str, v: &mut Violations) -> Option<Amount> {
    let s = f.string(key, 13, v).ok().flatten()?;
    match Amount::parse(s) {
        Ok(a) if !a.is_zero() => Some(a),
        Ok(_) => {
            v.add(f.path_of(key), "must be more than zero");
            None
        }
        Err(e) => {
            v.add(f.path_of(key), e.to_string());
            None
        }
    }
}

/// Text of 1 to `max` characters, trimmed.
fn read_text(f: &mut Fields<'_>, key: &'static str, max: usize, v: &mut Violations) -> Field<String> {
    match f.string(key, max, v) {
        Ok(Some(s)) if s.trim().is_empty() => {
            v.add(f.path_of(key), "must not be blank");
            Err(())
        }
        other => other.map(|s| s.map(|s| s.trim().to_owned())),
    }
}

fn read_vinculo(root: &mut Fields<'_>, v: &mut Violations) -> Option<(Option<String>, String, Devedor)> {
    let field = root.object("vinculo", v);
    let mut vinculo = required(root, "vinculo", field, v)?;
    let objeto = read_text(&mut vinculo, "objeto", 35, v);
    let contrato = read_text(&mut vinculo, "contrato", 35, v);
    let contrato = required(&vinculo, "contrato", contrato, v);
    let field = vinculo.object("devedor", v);
    let devedor = required(&vinculo, "devedor", field, v).and_then(|mut d| {
        let devedor = read_devedor(&mut d, v)?;
        if devedor.nome.chars().count() > 140 {
            v.add(d.path_of("nome"), "must have at most 140 characters");
            return None;
        }
        Some(devedor)
    });
    Some((objeto.ok()?, contrato?, devedor?))
}

/// A new recurrence: its terms, its location (`loc`, journeys 2 to 4) and the immediate
/// charge whose payment activates it (`ativacao.dadosJornada.txid`, journey 3).
#[derive(Debug)]
pub struct NewRec {
    pub terms: RecTerms,
    pub loc: Option<i64>,
    pub txid: Option<crate::domain::ids::Txid>,
}

/// `POST /rec`.
pub fn new_rec(body: &[u8]) -> Result<NewRec, ApiError> {
    let value = parse_body(body)?;
    let mut v = Violations::default();
    let Some(mut root) = Fields::of(&value, "rec", &mut v) else {
        return Err(finish_err(v, ProblemKind::RecOperacaoInvalida, REC_DETAIL));
    };
    let vinculo = read_vinculo(&mut root, &mut v);
    let field = root.object("calendario", &mut v);
    let calendario = required(&root, "calendario", field, &mut v).map(|mut cal| {
        let inicial = read_date(&mut cal, "dataInicial", true, &mut v);
        let final_ = read_date(&mut cal, "dataFinal", false, &mut v);
        let field = cal.string("periodicidade", 10, &mut v);
        let periodicidade = required(&cal, "periodicidade", field, &mut v).and_then(|s| {
            let p = Periodicidade::parse(s);
            if p.is_none() {
                v.add(cal.path_of("periodicidade"), "must be SEMANAL, MENSAL, TRIMESTRAL, SEMESTRAL or ANUAL");
            }
            p
        });
        (inicial, final_, periodicidade)
    });
    let valor = match root.object("valor", &mut v) {
        Ok(Some(mut val)) => {
            let fixed = read_amount(&mut val, "valorRec", &mut v);
            let minimum = read_amount(&mut val, "valorMinimoRecebedor", &mut v);
            match (fixed, minimum) {
                (Some(_), Some(_)) => {
                    v.add("rec.valor", "valorRec and valorMinimoRecebedor cannot both be given");
                    None
                }
                (Some(f), None) => Some(RecValue::Fixed(f)),
                (None, Some(m)) => Some(RecValue::Minimum(m)),
                (None, None) => Some(RecValue::Free),
            }
        }
        Ok(None) => Some(RecValue::Free),
        Err(()) => None,
    };
    let convenio = match root.object("recebedor", &mut v) {
        Ok(Some(mut r)) => read_text(&mut r, "convenio", 60, &mut v).ok(),
        Ok(None) => Some(None),
        Err(()) => None,
    };
    let field = root.string("politicaRetentativa", 20, &mut v);
    let politica = required(&root, "politicaRetentativa", field, &mut v).and_then(|s| {
        let p = RetryPolicy::parse(s);
        if p.is_none() {
            v.add("rec.politicaRetentativa", "must be NAO_PERMITE or PERMITE_3R_7D");
        }
        p
    });
    let loc = root.integer("loc", 1..=i64::MAX, &mut v).ok();
    let txid = match root.object("ativacao", &mut v) {
        Ok(Some(mut a)) => match a.object("dadosJornada", &mut v) {
            Ok(Some(mut d)) => match d.string("txid", 35, &mut v) {
                Ok(Some(t)) => match crate::domain::ids::Txid::parse_for_charge(t) {
                    Ok(t) => Some(Some(t)),
                    Err(_) => {
                        v.add("rec.ativacao.dadosJornada.txid", "must have 26 to 35 letters and digits");
                        None
                    }
                },
                Ok(None) => Some(None),
                Err(()) => None,
            },
            Ok(None) => Some(None),
            Err(()) => None,
        },
        Ok(None) => Some(None),
        Err(()) => None,
    };
    let terms = match (vinculo, calendario, valor, convenio, politica) {
        (
            Some((objeto, contrato, devedor)),
            Some((Some(data_inicial), data_final, Some(periodicidade))),
            Some(valor),
            Some(convenio),
            Some(politica),
        ) => Some(RecTerms {
            objeto,
            contrato,
            devedor,
            data_inicial,
            data_final,
            periodicidade,
            valor,
            convenio,
            politica,
        }),
        _ => None,
    };
    let new = match (terms, loc, txid) {
        (Some(terms), Some(loc), Some(txid)) => Some(NewRec { terms, loc, txid }),
        _ => None,
    };
    finish(v, new, ProblemKind::RecOperacaoInvalida, REC_DETAIL)
}

/// The query of `GET /locrec`.
pub fn locrec_query(query: Option<&str>) -> Result<crate::ports::LocRecQuery, ApiError> {
    let mut q = QueryParams::new(query);
    let interval = q.interval();
    let id_rec_presente = q.boolean("idRecPresente");
    let convenio = convenio(&mut q);
    let (pagina, itens_por_pagina) = q.pagination();
    let query = interval.map(|(inicio, fim)| crate::ports::LocRecQuery {
        inicio,
        fim,
        id_rec_presente,
        convenio,
        pagina,
        itens_por_pagina,
    });
    q.finish(query, ProblemKind::PayloadLocationRecConsultaInvalida, QUERY_DETAIL)
}

fn finish_err(v: Violations, kind: ProblemKind, detail: &str) -> ApiError {
    match v.finish((), kind, detail) {
        Err(e) => e,
        Ok(()) => ApiError::new(kind, detail),
    }
}

fn finish<T>(v: Violations, value: Option<T>, kind: ProblemKind, detail: &str) -> Result<T, ApiError> {
    match v.finish(value, kind, detail)? {
        Some(value) => Ok(value),
        None => Err(ApiError::new(kind, detail)),
    }
}

/// `PATCH /rec/{idRec}`: a cancellation (`status: CANCELADA`), or changes (Bacen's
/// `RecRevisada`), not both.
pub fn rec_patch(body: &[u8]) -> Result<Option<crate::domain::rec::RecRevision>, ApiError> {
    let value = parse_body(body)?;
    let mut v = Violations::default();
    let kind = ProblemKind::RecOperacaoInvalida;
    let Some(mut root) = Fields::of(&value, "rec", &mut v) else { return Err(finish_err(v, kind, REC_DETAIL)) };
    let cancel = match root.string("status", 20, &mut v) {
        Ok(Some("CANCELADA")) => true,
        Ok(Some(_)) => {
            v.add("rec.status", "can only be set to CANCELADA");
            false
        }
        _ => false,
    };
    let mut revision = crate::domain::rec::RecRevision::default();
    if let Ok(Some(mut vinculo)) = root.object("vinculo", &mut v) {
        if let Ok(Some(mut devedor)) = vinculo.object("devedor", &mut v) {
            revision.devedor_nome = read_text(&mut devedor, "nome", 140, &mut v).ok().flatten();
        }
    }
    revision.loc = root.integer("loc", 1..=i64::MAX, &mut v).ok().flatten();
    if let Ok(Some(mut cal)) = root.object("calendario", &mut v) {
        revision.data_inicial = read_date(&mut cal, "dataInicial", false, &mut v);
    }
    if let Ok(Some(mut a)) = root.object("ativacao", &mut v) {
        if let Ok(Some(mut d)) = a.object("dadosJornada", &mut v) {
            if let Ok(Some(t)) = d.string("txid", 35, &mut v) {
                match crate::domain::ids::Txid::parse_for_charge(t) {
                    Ok(t) => revision.txid = Some(t),
                    Err(_) => v.add("rec.ativacao.dadosJornada.txid", "must have 26 to 35 letters and digits"),
                }
            }
        }
    }
    match (cancel, revision.is_empty()) {
        (true, false) => v.add("rec.status", "a recurrence cannot be cancelled and changed in the same request"),
        (false, true) if v.is_empty() => {
            v.add("rec", "nothing to change: give status CANCELADA or the fields to change")
        }
        _ => {}
    }
    let parsed = if cancel { None } else { Some(revision) };
    v.finish(parsed, kind, REC_DETAIL)
}

/// A PATCH whose only change this service takes is `status: CANCELADA` (Bacen's
/// `RecRevisada`, `SolicRecRevisada` and `CobRRevisada` all cancel).
pub fn cancellation(body: &[u8], root_name: &str, kind: ProblemKind, detail: &str) -> Result<(), ApiError> {
    let value = parse_body(body)?;
    let mut v = Violations::default();
    let Some(mut root) = Fields::of(&value, root_name, &mut v) else { return Err(finish_err(v, kind, detail)) };
    let field = root.string("status", 20, &mut v);
    match required(&root, "status", field, &mut v) {
        Some("CANCELADA") => {}
        Some(_) => v.add(root.path_of("status"), "can only be set to CANCELADA"),
        None => {}
    }
    finish(v, Some(()), kind, detail)
}

/// `POST /solicrec`: the recurrence, when the request expires, and the payer's account.
pub fn new_solicitation(body: &[u8]) -> Result<(IdRec, DateTime<Utc>, Destinatario), ApiError> {
    let value = parse_body(body)?;
    let mut v = Violations::default();
    let kind = ProblemKind::SolicRecOperacaoInvalida;
    let Some(mut root) = Fields::of(&value, "solicrec", &mut v) else {
        return Err(finish_err(v, kind, SOLICREC_DETAIL));
    };
    let field = root.string("idRec", 29, &mut v);
    let id_rec = required(&root, "idRec", field, &mut v).and_then(|s| {
        let id = IdRec::parse(s);
        if id.is_none() {
            v.add("solicrec.idRec", "is not a recurrence id");
        }
        id
    });
    let field = root.object("calendario", &mut v);
    let expira = required(&root, "calendario", field, &mut v).and_then(|mut cal| {
        let field = cal.string("dataExpiracaoSolicitacao", 40, &mut v);
        let s = required(&cal, "dataExpiracaoSolicitacao", field, &mut v)?;
        let t = DateTime::parse_from_rfc3339(s).ok().map(|t| t.to_utc());
        if t.is_none() {
            v.add(cal.path_of("dataExpiracaoSolicitacao"), "must be an RFC 3339 timestamp");
        }
        t
    });
    let field = root.object("destinatario", &mut v);
    let destinatario =
        required(&root, "destinatario", field, &mut v).and_then(|mut d| read_destinatario(&mut d, &mut v));
    let parsed = match (id_rec, expira, destinatario) {
        (Some(a), Some(b), Some(c)) => Some((a, b, c)),
        _ => None,
    };
    finish(v, parsed, kind, SOLICREC_DETAIL)
}

fn read_destinatario(d: &mut Fields<'_>, v: &mut Violations) -> Option<Destinatario> {
    let field = d.string("ispbParticipante", 8, v);
    let ispb = required(d, "ispbParticipante", field, v).and_then(|s| {
        let ok = s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase());
        if !ok {
            v.add(d.path_of("ispbParticipante"), "must be 8 digits or capital letters");
        }
        ok.then(|| s.to_owned())
    });
    let field = read_text(d, "conta", 20, v);
    let conta = required(d, "conta", field, v);
    let agencia = match d.string("agencia", 4, v) {
        Ok(Some(a)) if a.is_empty() || !a.bytes().all(|b| b.is_ascii_digit()) => {
            v.add(d.path_of("agencia"), "must be 1 to 4 digits");
            None
        }
        Ok(a) => Some(a.map(str::to_owned)),
        Err(()) => None,
    };
    let cpf = d.string("cpf", 11, v);
    let cnpj = d.string("cnpj", 14, v);
    let documento = match (cpf, cnpj) {
        (Ok(Some(c)), Ok(None)) => {
            Cpf::parse(c).map(Document::Cpf).map_err(|_| v.add(d.path_of("cpf"), "is not a valid CPF")).ok()
        }
        (Ok(None), Ok(Some(c))) => {
            Cnpj::parse(c).map(Document::Cnpj).map_err(|_| v.add(d.path_of("cnpj"), "is not a valid CNPJ")).ok()
        }
        (Ok(Some(_)), Ok(Some(_))) => {
            v.add(d.path_of("cpf"), "cpf and cnpj cannot both be given");
            None
        }
        (Ok(None), Ok(None)) => {
            v.add(d.path_of("cpf"), "the payer's cpf or cnpj is required");
            None
        }
        _ => None,
    };
    Some(Destinatario { ispb: ispb?, agencia: agencia?, conta: conta?, documento: documento? })
}

/// `PUT /cobr/{txid}` and `POST /cobr`.
pub fn new_charge(body: &[u8]) -> Result<CobRTerms, ApiError> {
    let value = parse_body(body)?;
    let mut v = Violations::default();
    let kind = ProblemKind::CobROperacaoInvalida;
    let Some(mut root) = Fields::of(&value, "cobr", &mut v) else { return Err(finish_err(v, kind, COBR_DETAIL)) };
    let field = root.string("idRec", 29, &mut v);
    let id_rec = required(&root, "idRec", field, &mut v).and_then(|s| {
        let id = IdRec::parse(s);
        if id.is_none() {
            v.add("cobr.idRec", "is not a recurrence id");
        }
        id
    });
    let info_adicional = read_text(&mut root, "infoAdicional", 140, &mut v).ok();
    let field = root.object("calendario", &mut v);
    let vencimento = required(&root, "calendario", field, &mut v)
        .and_then(|mut c| read_date(&mut c, "dataDeVencimento", true, &mut v));
    let field = root.object("valor", &mut v);
    let valor = required(&root, "valor", field, &mut v).and_then(|mut val| {
        let present = val.raw("original").is_some();
        if !present {
            v.add("cobr.valor.original", "is required");
            return None;
        }
        read_amount(&mut val, "original", &mut v)
    });
    let ajuste = match root.raw("ajusteDiaUtil") {
        None => Some(true),
        Some(x) => {
            let b = x.as_bool();
            if b.is_none() {
                v.add("cobr.ajusteDiaUtil", "must be true or false");
            }
            b
        }
    };
    let field = root.object("recebedor", &mut v);
    let recebedor = required(&root, "recebedor", field, &mut v).and_then(|mut r| {
        let field = read_text(&mut r, "conta", 20, &mut v);
        let conta = required(&r, "conta", field, &mut v);
        let agencia = read_text(&mut r, "agencia", 4, &mut v).ok();
        let field = r.string("tipoConta", 10, &mut v);
        let tipo = required(&r, "tipoConta", field, &mut v).and_then(|s| {
            let t = TipoConta::parse(s);
            if t.is_none() {
                v.add("cobr.recebedor.tipoConta", "must be CORRENTE, POUPANCA or PAGAMENTO");
            }
            t
        });
        Some(ContaRecebedor { conta: conta?, agencia: agencia?, tipo_conta: tipo? })
    });
    let devedor = match root.object("devedor", &mut v) {
        Ok(Some(mut d)) => Some(read_contato(&mut d, &mut v)),
        Ok(None) => Some(Contato::default()),
        Err(()) => None,
    };
    if let Ok(Some(_)) = root.string("status", 20, &mut v) {
        v.add("cobr.status", "is set by the PSP, not in a new charge");
    }
    let terms = match (id_rec, info_adicional, vencimento, valor, ajuste, recebedor, devedor) {
        (
            Some(id_rec),
            Some(info_adicional),
            Some(data_vencimento),
            Some(valor),
            Some(ajuste),
            Some(recebedor),
            Some(devedor),
        ) => Some(CobRTerms {
            id_rec,
            info_adicional,
            data_vencimento,
            valor,
            ajuste_dia_util: ajuste,
            recebedor,
            devedor,
        }),
        _ => None,
    };
    finish(v, terms, kind, COBR_DETAIL)
}

/// The `convenio` filter (the agreement between receiver and its bank).
fn convenio(q: &mut QueryParams) -> Option<String> {
    q.parse("convenio", "must have 1 to 60 characters and no control character", |s| {
        (!s.is_empty() && s.chars().count() <= 60 && !s.chars().any(char::is_control)).then(|| s.to_owned())
    })
}

/// The query of `GET /rec`.
pub fn rec_query(query: Option<&str>) -> Result<RecQuery, ApiError> {
    let mut q = QueryParams::new(query);
    let interval = q.interval();
    let devedor = q.document();
    let status = q.parse("status", "is not a recurrence status", RecStatus::parse);
    let convenio = convenio(&mut q);
    let location_presente = q.boolean("locationPresente");
    let (pagina, itens_por_pagina) = q.pagination();
    let query = interval.map(|(inicio, fim)| RecQuery {
        inicio,
        fim,
        devedor,
        status,
        convenio,
        location_presente,
        pagina,
        itens_por_pagina,
    });
    q.finish(query, ProblemKind::RecConsultaInvalida, QUERY_DETAIL)
}

/// The query of `GET /cobr`.
pub fn cobr_query(query: Option<&str>) -> Result<CobRQuery, ApiError> {
    let mut q = QueryParams::new(query);
    let interval = q.interval();
    let id_rec = q.parse("idRec", "is not a recurrence id", IdRec::parse);
    let devedor = q.document();
    let status = q.parse("status", "is not a recurring charge status", CobRStatus::parse);
    let convenio = convenio(&mut q);
    let (pagina, itens_por_pagina) = q.pagination();
    let query = interval.map(|(inicio, fim)| CobRQuery {
        inicio,
        fim,
        id_rec,
        devedor,
        status,
        convenio,
        pagina,
        itens_por_pagina,
    });
    q.finish(query, ProblemKind::CobRConsultaInvalida, QUERY_DETAIL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn props(e: ApiError) -> Vec<String> {
        e.violacoes.iter().map(|v| v.propriedade.clone()).collect()
    }

    #[test]
    fn a_recurrence_reads_every_field_and_names_each_bad_one() {
        let ok = json!({
            "vinculo": {"objeto": "Gym", "contrato": "63100862", "devedor": {"cpf": "12345678909", "nome": "Fulano"}},
            "calendario": {"dataInicial": "2027-01-10", "periodicidade": "MENSAL"},
            "valor": {"valorRec": "35.00"},
            "politicaRetentativa": "PERMITE_3R_7D"
        });
        let new = new_rec(ok.to_string().as_bytes()).unwrap();
        assert_eq!(new.terms.valor, RecValue::Fixed(Amount::parse("35.00").unwrap()));
        assert_eq!((new.loc, new.txid), (None, None));
        let bad = json!({
            "vinculo": {"contrato": "", "devedor": {"cpf": "123"}},
            "calendario": {"dataInicial": "10/01/2027", "periodicidade": "DIARIA"},
            "valor": {"valorRec": "35.00", "valorMinimoRecebedor": "10.00"},
            "politicaRetentativa": "SEMPRE",
            "loc": 0
        });
        let e = new_rec(bad.to_string().as_bytes()).unwrap_err();
        assert_eq!(
            props(e),
            [
                "rec.vinculo.contrato",
                "rec.vinculo.devedor.cpf",
                "rec.vinculo.devedor.nome",
                "rec.calendario.dataInicial",
                "rec.calendario.periodicidade",
                "rec.valor",
                "rec.politicaRetentativa",
                "rec.loc"
            ]
        );
    }

    #[test]
    fn the_convenio_filter_takes_text_and_refuses_a_nul() {
        let q = "inicio=2027-01-01T00:00:00Z&fim=2027-02-01T00:00:00Z";
        assert_eq!(rec_query(Some(&format!("{q}&convenio=c1"))).unwrap().convenio.as_deref(), Some("c1"));
        for bad in ["%00", "a%0Ab", ""] {
            let e = rec_query(Some(&format!("{q}&convenio={bad}"))).err().expect(bad);
            assert_eq!(props(e), ["convenio"], "{bad}");
        }
    }

    #[test]
    fn a_recurring_charge_defaults_to_the_business_day_adjustment() {
        let body = json!({
            "idRec": "RR9999999920270104abcdefghijk",
            "calendario": {"dataDeVencimento": "2027-01-12"},
            "valor": {"original": "35.00"},
            "recebedor": {"conta": "100001", "tipoConta": "PAGAMENTO"}
        });
        let terms = new_charge(body.to_string().as_bytes()).unwrap();
        assert!(terms.ajuste_dia_util);
        let e = new_charge(json!({"idRec": "x", "valor": {"original": "0.00"}}).to_string().as_bytes()).unwrap_err();
        assert_eq!(props(e), ["cobr.idRec", "cobr.calendario", "cobr.valor.original", "cobr.recebedor"]);
    }

    #[test]
    fn a_recurrence_is_either_cancelled_or_changed() {
        assert_eq!(rec_patch(br#"{"status":"CANCELADA"}"#).unwrap(), None);
        let changed = rec_patch(br#"{"calendario":{"dataInicial":"2027-01-01"},"loc":7}"#).unwrap().unwrap();
        assert_eq!((changed.loc, changed.data_inicial.map(|d| d.to_string())), (Some(7), Some("2027-01-01".into())));
        let e = rec_patch(br#"{"status":"CANCELADA","calendario":{"dataInicial":"2027-01-01"}}"#).unwrap_err();
        assert_eq!(props(e), ["rec.status"]);
        assert_eq!(props(rec_patch(br#"{"status":"APROVADA"}"#).unwrap_err()), ["rec.status"]);
        assert_eq!(props(rec_patch(b"{}").unwrap_err()), ["rec"]);
        assert!(
            cancellation(br#"{"status":"CANCELADA"}"#, "cobr", ProblemKind::CobROperacaoInvalida, COBR_DETAIL).is_ok()
        );
    }
}
