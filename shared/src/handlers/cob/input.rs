//! Parsing `cob` request bodies and query strings into domain values, with a Bacen
//! `violacoes` entry for each bad field.

use crate::domain::charge::{
    ChargePatch, ChargeStatus, ChargeTerms, Devedor, InfoAdicional, DEFAULT_EXPIRATION_SECS, MAX_DEVEDOR_NOME,
    MAX_INFO_ADICIONAIS, MAX_INFO_NOME, MAX_INFO_VALOR, MAX_SOLICITACAO_PAGADOR,
};
use crate::domain::document::{Cnpj, Cpf, Document, DocumentError};
use crate::domain::money::Amount;
use crate::domain::pix_key::PixKey;
use crate::http::json::{parse_body, Fields, Violations};
use crate::http::problem::{ApiError, ProblemKind};
use crate::http::query::QueryParams;
use crate::ports::ChargeQuery;
use serde_json::Value;

const DETAIL: &str = "The charge request does not follow the schema or is semantically wrong.";

/// The fields a create or a revision may carry, each already parsed.
#[derive(Default)]
struct CobFields {
    expiracao: Option<i32>,
    devedor: Option<Devedor>,
    valor: Option<Amount>,
    valor_alteravel: Option<bool>,
    chave: Option<PixKey>,
    solicitacao_pagador: Option<String>,
    info_adicionais: Option<Vec<InfoAdicional>>,
    loc: Option<i64>,
    status: Option<ChargeStatus>,
}

/// Which request is being read: they differ in what is required and allowed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Create,
    Revise,
}

fn read_fields(body: &[u8], mode: Mode) -> Result<CobFields, ApiError> {
    let value = parse_body(body)?;
    let mut v = Violations::default();
    let Some(mut root) = Fields::of(&value, "cob", &mut v) else {
        return v.finish(CobFields::default(), ProblemKind::CobOperacaoInvalida, DETAIL);
    };
    let mut out = CobFields::default();

    if let Ok(Some(mut cal)) = root.object("calendario", &mut v) {
        if let Ok(Some(secs)) = cal.integer("expiracao", 1..=i64::from(i32::MAX), &mut v) {
            out.expiracao = i32::try_from(secs).ok();
        }
    }
    if let Ok(Some(mut dev)) = root.object("devedor", &mut v) {
        out.devedor = read_devedor(&mut dev, &mut v);
    }
    let valor = root.object("valor", &mut v);
    let valor = if mode == Mode::Create { root.require("valor", valor, &mut v) } else { valor };
    if let Ok(Some(mut val)) = valor {
        let original = val.string("original", 16, &mut v);
        let original = if mode == Mode::Create { val.require("original", original, &mut v) } else { original };
        if let Ok(Some(s)) = original {
            match Amount::parse(s) {
                Ok(a) if a.is_zero() => v.add(val.path_of("original"), "must be greater than zero"),
                Ok(a) => out.valor = Some(a),
                Err(e) => v.add(val.path_of("original"), e.to_string()),
            }
        }
        if let Ok(Some(m)) = val.integer("modalidadeAlteracao", 0..=1, &mut v) {
            out.valor_alteravel = Some(m == 1);
        }
        if val.raw("retirada").is_some() {
            v.add(val.path_of("retirada"), "Pix Saque and Pix Troco are not offered");
        }
    }
    let chave = root.string("chave", 77, &mut v);
    let chave = if mode == Mode::Create { root.require("chave", chave, &mut v) } else { chave };
    if let Ok(Some(s)) = chave {
        match PixKey::parse(s) {
            Ok(k) => out.chave = Some(k),
            Err(e) => v.add("cob.chave", e.to_string()),
        }
    }
    if let Ok(Some(s)) = root.string("solicitacaoPagador", MAX_SOLICITACAO_PAGADOR, &mut v) {
        out.solicitacao_pagador = Some(s.to_owned());
    }
    if let Ok(Some(items)) = root.array("infoAdicionais", MAX_INFO_ADICIONAIS, &mut v) {
        out.info_adicionais = read_info_adicionais("cob", items, &mut v);
    }
    if let Ok(Some(mut loc)) = root.object("loc", &mut v) {
        let id = loc.integer("id", 1..=i64::MAX, &mut v);
        if let Ok(Some(id)) = loc.require("id", id, &mut v) {
            out.loc = Some(id);
        }
        // The spec requires tipoCob here but defines no such property: accepted, and when
        // given it must say what the charge is.
        if let Ok(Some(t)) = loc.string("tipoCob", 4, &mut v) {
            if t != "cob" {
                v.add(loc.path_of("tipoCob"), "must be cob for an immediate charge");
            }
        }
    }
    match (root.string("status", 40, &mut v), mode) {
        (Ok(Some("REMOVIDA_PELO_USUARIO_RECEBEDOR")), Mode::Revise) => {
            out.status = Some(ChargeStatus::RemovidaPeloUsuarioRecebedor)
        }
        (Ok(Some(_)), Mode::Revise) => v.add("cob.status", "can only be set to REMOVIDA_PELO_USUARIO_RECEBEDOR"),
        (Ok(Some(_)), Mode::Create) => v.add("cob.status", "is set by the PSP, not in a new charge"),
        (Ok(None) | Err(()), _) => {}
    }
    v.finish(out, ProblemKind::CobOperacaoInvalida, DETAIL)
}

pub(crate) fn read_devedor(dev: &mut Fields<'_>, v: &mut Violations) -> Option<Devedor> {
    let cpf = dev.string("cpf", 11, v);
    let cnpj = dev.string("cnpj", 14, v);
    let nome = dev.string("nome", MAX_DEVEDOR_NOME, v);
    let doc_error = |e: DocumentError| match e {
        DocumentError::Format => "does not have the document's format",
        DocumentError::CheckDigits => "has invalid check digits",
    };
    let documento = match (cpf, cnpj) {
        (Ok(Some(c)), Ok(None)) => {
            Cpf::parse(c).map(Document::Cpf).map_err(|e| v.add(dev.path_of("cpf"), doc_error(e))).ok()
        }
        (Ok(None), Ok(Some(c))) => {
            Cnpj::parse(c).map(Document::Cnpj).map_err(|e| v.add(dev.path_of("cnpj"), doc_error(e))).ok()
        }
        (Ok(Some(_)), Ok(Some(_))) => {
            v.add(dev.path_of("cpf"), "cpf and cnpj cannot both be given");
            None
        }
        (Ok(None), Ok(None)) => {
            v.add(dev.path_of("cpf"), "a devedor needs a cpf or a cnpj");
            None
        }
        _ => None,
    };
    let nome = match nome {
        Ok(Some(n)) if !n.trim().is_empty() => Some(n.to_owned()),
        Ok(_) => {
            v.add(dev.path_of("nome"), "is required with a cpf or cnpj");
            None
        }
        Err(()) => None,
    };
    Some(Devedor { documento: documento?, nome: nome? })
}

pub(crate) fn read_info_adicionais(prefix: &str, items: &[Value], v: &mut Violations) -> Option<Vec<InfoAdicional>> {
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let path = format!("{prefix}.infoAdicionais[{i}]");
        let Some(mut f) = Fields::of(item, &path, v) else {
            continue;
        };
        let nome = f.string("nome", MAX_INFO_NOME, v);
        let nome = f.require("nome", nome, v);
        let valor = f.string("valor", MAX_INFO_VALOR, v);
        let valor = f.require("valor", valor, v);
        if let (Ok(Some(nome)), Ok(Some(valor))) = (nome, valor) {
            out.push(InfoAdicional { nome: nome.to_owned(), valor: valor.to_owned() });
        }
    }
    (out.len() == items.len()).then_some(out)
}

/// A create request: the terms, and the location to serve them at when it names one.
pub struct NewCob {
    pub terms: ChargeTerms,
    pub loc: Option<i64>,
}

/// The body of `PUT /cob/{txid}` or `POST /cob`.
pub fn new_charge(body: &[u8]) -> Result<NewCob, ApiError> {
    let f = read_fields(body, Mode::Create)?;
    let loc = f.loc;
    // read_fields guarantees valor and chave in Create mode; missing ones were violations.
    let terms = match (f.valor, f.chave) {
        (Some(valor), Some(chave)) => ChargeTerms {
            expiracao: f.expiracao.unwrap_or(DEFAULT_EXPIRATION_SECS),
            devedor: f.devedor,
            valor,
            valor_alteravel: f.valor_alteravel.unwrap_or(false),
            chave,
            solicitacao_pagador: f.solicitacao_pagador,
            info_adicionais: f.info_adicionais.unwrap_or_default(),
        },
        _ => return Err(ApiError::new(ProblemKind::CobOperacaoInvalida, DETAIL)),
    };
    Ok(NewCob { terms, loc })
}

/// The body of `PATCH /cob/{txid}`.
pub fn patch(body: &[u8]) -> Result<ChargePatch, ApiError> {
    let f = read_fields(body, Mode::Revise)?;
    Ok(ChargePatch {
        expiracao: f.expiracao,
        devedor: f.devedor,
        valor: f.valor,
        valor_alteravel: f.valor_alteravel,
        chave: f.chave,
        solicitacao_pagador: f.solicitacao_pagador,
        info_adicionais: f.info_adicionais,
        loc: f.loc,
        remover: f.status.is_some(),
        replace: None,
    })
}

const QUERY_DETAIL: &str = "The query parameters do not follow the schema or make no sense together.";

/// The query of `GET /cob`.
pub fn charge_query(mut q: QueryParams) -> Result<ChargeQuery, ApiError> {
    let query = charge_query_fields(&mut q);
    q.finish(query, ProblemKind::CobConsultaInvalida, QUERY_DETAIL)
}

/// The filters `GET /cob` and `GET /cobv` share, each bad one recorded in `q`.
pub(crate) fn charge_query_fields(q: &mut QueryParams) -> Option<ChargeQuery> {
    let interval = q.interval();
    let devedor = q.document();
    let status = q.parse("status", "is not a charge status", ChargeStatus::parse);
    let location_presente = q.boolean("locationPresente");
    let (pagina, itens_por_pagina) = q.pagination();
    interval.map(|(inicio, fim)| ChargeQuery {
        inicio,
        fim,
        devedor,
        status,
        location_presente,
        lote: None,
        pagina,
        itens_por_pagina,
    })
}

/// `?revisao=N` on `GET /cob/{txid}`.
pub fn revisao(mut q: QueryParams) -> Result<Option<i32>, ApiError> {
    let revisao = q.parse("revisao", "must be a whole number from 0", |s| s.parse::<i32>().ok().filter(|n| *n >= 0));
    q.finish(Some(revisao), ProblemKind::CobConsultaInvalida, QUERY_DETAIL)
}
