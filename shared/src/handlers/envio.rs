//! `/envio` and `/dict`: Pix transfers out, by key, bank account or BR Code, and the key
//! lookup a banking app shows before paying. In the style of the API Pix (`PUT` with the
//! client's idEnvio, Portuguese field names, problem+json).

use crate::app::transfers::{self, TransferError};
use crate::app::AppState;
use crate::bacen::envio::{Envio, Envios};
use crate::domain::document::{Cnpj, Cpf, Document};
use crate::domain::money::Amount;
use crate::domain::pix_key::PixKey;
use crate::domain::transfer::{
    AccountType, BankAccount, IdEnvio, Receiver, TransferRequest, TransferStatus, MAX_DESCRICAO,
};
use crate::http::auth::authenticated;
use crate::http::json::{parse_body, Fields, Violations};
use crate::http::problem::{ApiError, ProblemKind, Violacao};
use crate::http::query::QueryParams;
use crate::http::{json, param, Request, Response};
use crate::ports::{TransferQuery, TransferRejection};
use http::StatusCode;
use serde_json::json as j;

const DETAIL: &str = "The transfer request does not follow the schema, a limit, or the balance.";

fn invalid(propriedade: &str, razao: &str) -> ApiError {
    ApiError::with_violations(
        ProblemKind::EnvioOperacaoInvalida,
        DETAIL,
        vec![Violacao { propriedade: propriedade.into(), razao: razao.into() }],
    )
}

fn map_error(e: TransferError) -> ApiError {
    match e {
        TransferError::UnknownKey => ApiError::new(ProblemKind::ChaveNaoEncontrada, "No account holds this Pix key."),
        TransferError::IdInUse => invalid("idEnvio", "already used for a transfer with different content"),
        TransferError::Rejected(r @ TransferRejection::InsufficientFunds) => {
            ApiError::new(ProblemKind::EnvioOperacaoInvalida, format!("Nothing was moved: {r}."))
        }
        TransferError::Rejected(TransferRejection::Limit(v)) => invalid("valor", &v.to_string()),
        TransferError::BadCode(why) => invalid("pixCopiaECola", &why),
        TransferError::LocationUnreadable(why) => {
            invalid("pixCopiaECola", &format!("the payload location could not be read ({})", why.code()))
        }
        TransferError::NotFound => ApiError::new(ProblemKind::EnvioNaoEncontrado, "No transfer with this idEnvio."),
        TransferError::RailUnavailable(cause) => ApiError::unavailable(cause),
        TransferError::RateLimited { retry_after } => crate::http::quota::limited(
            format!("The key-lookup quota is used up (a key not found costs 20 lookups); retry after {retry_after} s."),
            retry_after,
        ),
        TransferError::Store(e) => e.into(),
    }
}

fn path_id(req: &Request) -> Result<IdEnvio, ApiError> {
    IdEnvio::parse(param(req, "idEnvio")).ok_or_else(|| invalid("idEnvio", "must be 1 to 35 letters or digits"))
}

fn amount(f: &mut Fields<'_>, v: &mut Violations, required: bool) -> Option<Amount> {
    let raw = f.string("valor", 16, v);
    let raw = if required { f.require("valor", raw, v) } else { raw };
    match raw {
        Ok(Some(s)) => match Amount::parse(s) {
            Ok(a) if !a.is_zero() => Some(a),
            Ok(_) => {
                v.add(f.path_of("valor"), "must be greater than zero");
                None
            }
            Err(e) => {
                v.add(f.path_of("valor"), e.to_string());
                None
            }
        },
        _ => None,
    }
}

fn receiver(f: &mut Fields<'_>, v: &mut Violations) -> Option<Receiver> {
    let chave = f.string("chave", 77, v);
    let conta = f.object("contaBanco", v);
    match (chave, conta) {
        (Ok(Some(k)), Ok(None)) => {
            PixKey::parse(k).map(Receiver::Key).map_err(|e| v.add(f.path_of("chave"), e.to_string())).ok()
        }
        (Ok(None), Ok(Some(mut c))) => {
            let text = |c: &mut Fields<'_>, v: &mut Violations, k: &'static str, max: usize| {
                let s = c.string(k, max, v);
                c.require(k, s, v).ok().flatten().map(str::to_owned)
            };
            let ispb = text(&mut c, v, "ispb", 8)
                .filter(|s| s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()));
            let agencia =
                text(&mut c, v, "agencia", 4).filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
            let conta = text(&mut c, v, "conta", 20).filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
            let tipo = text(&mut c, v, "tipoConta", 4).and_then(|t| AccountType::parse(&t));
            let nome = text(&mut c, v, "nome", 200);
            let cpf = c.string("cpf", 11, v).ok().flatten().map(|s| Cpf::parse(s).map(Document::Cpf));
            let cnpj = c.string("cnpj", 14, v).ok().flatten().map(|s| Cnpj::parse(s).map(Document::Cnpj));
            let documento = match (cpf, cnpj) {
                (Some(Ok(d)), None) | (None, Some(Ok(d))) => Some(d),
                _ => None,
            };
            for (k, ok) in [
                ("ispb", ispb.is_some()),
                ("agencia", agencia.is_some()),
                ("conta", conta.is_some()),
                ("tipoConta", tipo.is_some()),
                ("cpf", documento.is_some()),
            ] {
                if !ok {
                    v.add(c.path_of(k), "is missing or invalid");
                }
            }
            c.deny_unknown(v);
            Some(Receiver::Account(BankAccount {
                ispb: ispb?,
                agencia: agencia?,
                conta: conta?,
                tipo: tipo?,
                documento: documento?,
                nome: nome?,
            }))
        }
        (Ok(None), Ok(None)) => {
            v.add(f.path_of("chave"), "give a chave or a contaBanco");
            None
        }
        (Ok(Some(_)), Ok(Some(_))) => {
            v.add(f.path_of("chave"), "give a chave or a contaBanco, not both");
            None
        }
        _ => None,
    }
}

fn descricao(f: &mut Fields<'_>, v: &mut Violations) -> Option<String> {
    f.string("descricao", MAX_DESCRICAO, v).ok().flatten().map(str::to_owned)
}

/// `PUT /envio/{idEnvio}`: `{"valor", "favorecido": {"chave"} | {"contaBanco": {...}}, "descricao"}`.
fn transfer_request(id: IdEnvio, body: &[u8]) -> Result<TransferRequest, ApiError> {
    let value = parse_body(body)?;
    let mut v = Violations::default();
    let Some(mut f) = Fields::of(&value, "envio", &mut v) else {
        return Err(ApiError::with_violations(ProblemKind::EnvioOperacaoInvalida, DETAIL, v.0));
    };
    let valor = amount(&mut f, &mut v, true);
    let favorecido = match f.object("favorecido", &mut v) {
        Ok(Some(mut fav)) => {
            let r = receiver(&mut fav, &mut v);
            fav.deny_unknown(&mut v);
            r
        }
        Ok(None) => {
            v.add("envio.favorecido", "is required");
            None
        }
        Err(()) => None,
    };
    let descricao = descricao(&mut f, &mut v);
    f.deny_unknown(&mut v);
    let request = match (valor, favorecido) {
        (Some(valor), Some(favorecido)) => Some(TransferRequest { id, valor, favorecido, descricao, txid: None }),
        _ => None,
    };
    v.finish(request, ProblemKind::EnvioOperacaoInvalida, DETAIL)?
        .ok_or_else(|| ApiError::new(ProblemKind::EnvioOperacaoInvalida, DETAIL))
}

/// `PUT /envio/{idEnvio}`.
pub async fn put(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let request = transfer_request(path_id(req)?, req.body())?;
    let done = transfers::send(state, &merchant, &request, request.fingerprint(None)).await.map_err(map_error)?;
    tracing::info!(e2eid = done.transfer.end_to_end_id.as_str(), created = done.created, "transfer requested");
    Ok(json(StatusCode::CREATED, &Envio::of(&done.transfer)))
}

/// `PUT /envio/{idEnvio}/qrcode`: `{"pixCopiaECola", "valor"?, "descricao"?}`.
pub async fn put_qrcode(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let id = path_id(req)?;
    let value = parse_body(req.body())?;
    let mut v = Violations::default();
    let Some(mut f) = Fields::of(&value, "envio", &mut v) else {
        return Err(ApiError::with_violations(ProblemKind::EnvioOperacaoInvalida, DETAIL, v.0));
    };
    let code = f.string("pixCopiaECola", 512, &mut v);
    let code = f.require("pixCopiaECola", code, &mut v).ok().flatten().map(str::to_owned);
    let valor = amount(&mut f, &mut v, false);
    let descricao = descricao(&mut f, &mut v);
    f.deny_unknown(&mut v);
    let code = v.finish(code, ProblemKind::EnvioOperacaoInvalida, DETAIL)?.unwrap_or_default();
    let request =
        transfers::request_for_code(state, &merchant, id, &code, valor, descricao).await.map_err(map_error)?;
    let done =
        transfers::send(state, &merchant, &request, request.fingerprint(Some(&code))).await.map_err(map_error)?;
    Ok(json(StatusCode::CREATED, &Envio::of(&done.transfer)))
}

/// `GET /envio/{idEnvio}`.
pub async fn get(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let id = IdEnvio::parse(param(req, "idEnvio"))
        .ok_or_else(|| ApiError::new(ProblemKind::EnvioNaoEncontrado, "No transfer with this idEnvio."))?;
    let t = transfers::get(state, &merchant, &id).await.map_err(map_error)?;
    Ok(json(StatusCode::OK, &Envio::of(&t)))
}

/// `GET /envio?inicio=&fim=[&status=]`.
pub async fn list(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let mut q = QueryParams::new(req.uri().query());
    let interval = q.interval();
    let status = q.parse("status", "is not a transfer status", TransferStatus::parse);
    let (pagina, itens_por_pagina) = q.pagination();
    let query = interval.map(|(inicio, fim)| TransferQuery { inicio, fim, status, pagina, itens_por_pagina });
    let query =
        q.finish(query, ProblemKind::EnvioConsultaInvalida, "The query parameters do not follow the schema.")?;
    let page = transfers::list(state, &merchant, &query).await.map_err(map_error)?;
    Ok(json(StatusCode::OK, &Envios::of(&query, &page)))
}

/// `GET /dict/{chave}`: the holder's name and masked document.
pub async fn dict(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let chave = PixKey::parse(param(req, "chave")).map_err(|e| invalid("chave", &e.to_string()))?;
    let entry = transfers::lookup(state, &merchant, &chave).await.map_err(map_error)?;
    Ok(json(
        StatusCode::OK,
        &j!({"chave": entry.chave, "tipoChave": entry.tipo_chave, "nome": entry.nome, "documento": entry.documento, "ispb": entry.ispb}),
    ))
}
