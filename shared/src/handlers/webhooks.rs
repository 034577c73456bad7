//! Webhooks: the API Pix standard (`/webhook/{chave}`: a callback per receiving key),
//! signed event webhooks (`/webhooks`) with their secrets and deliveries, and the event log
//! (`/eventos`) every webhook is drawn from.

use crate::app::opaque_ids::{IdSpace, OpaqueIds};
use crate::app::webhooks::{self as uc, WebhookError};
use crate::app::AppState;
use crate::bacen::webhooks::{Endpoint, Entrega, Webhook, WebhooksConsultados};
use crate::bacen::{timestamp, Paginacao, Parametros};
use crate::http::auth::authenticated;
use crate::http::json::{parse_body, Fields, Violations};
use crate::http::problem::{ApiError, ProblemKind, Violacao};
use crate::http::query::QueryParams;
use crate::http::{json, param, Request, Response};
use crate::ports::{CipherError, EndpointKind, Event};
use bytes::Bytes;
use http::StatusCode;
use serde_json::json as j;
use uuid::Uuid;

const DETAIL: &str = "The webhook request does not follow the schema or the rules.";
const MAX_URL: usize = crate::domain::webhook::MAX_URL_LEN;

fn invalid(propriedade: &str, razao: &str) -> ApiError {
    ApiError::with_violations(
        ProblemKind::WebhookOperacaoInvalida,
        DETAIL,
        vec![Violacao { propriedade: propriedade.into(), razao: razao.into() }],
    )
}

fn not_found() -> ApiError {
    ApiError::new(ProblemKind::NaoEncontrado, "No such webhook.")
}

fn map_error(e: WebhookError) -> ApiError {
    match e {
        WebhookError::BadUrl(why) => invalid("webhookUrl", &why.to_string()),
        WebhookError::NotYourKey => invalid("chave", "is not a Pix key of this account"),
        WebhookError::BadEventType(_) => invalid("eventos", "lists an unknown event type"),
        e @ WebhookError::TooMany(_) => ApiError::new(ProblemKind::WebhookOperacaoInvalida, format!("Refused: {e}.")),
        WebhookError::NotFound => not_found(),
        // Only the key service being down is worth a retry; a secret that does not open is
        // a fault a retry cannot mend.
        WebhookError::Cipher(e @ CipherError::Unavailable(_)) => ApiError::unavailable(e.into()),
        WebhookError::Cipher(e @ (CipherError::Rejected | CipherError::Unexpected(_))) => ApiError::internal(e.into()),
        WebhookError::Store(e) => e.into(),
    }
}

/// As `map_error`, with Bacen's own type for a key without a webhook.
fn map_bacen_error(e: WebhookError) -> ApiError {
    match e {
        WebhookError::NotFound => ApiError::new(ProblemKind::WebhookNaoEncontrado, "No webhook on this key."),
        other => map_error(other),
    }
}

fn no_content() -> Response {
    let mut res = http::Response::new(Bytes::new());
    *res.status_mut() = StatusCode::NO_CONTENT;
    res
}

/// `{"webhookUrl": "..."}` (and for event endpoints `"eventos": [...]`).
fn read_url(body: &[u8], with_events: bool) -> Result<(String, Option<Vec<String>>), ApiError> {
    let value = parse_body(body)?;
    let mut v = Violations::default();
    let Some(mut f) = Fields::of(&value, "webhook", &mut v) else {
        return Err(ApiError::with_violations(ProblemKind::WebhookOperacaoInvalida, DETAIL, v.0));
    };
    let url = f.string("webhookUrl", MAX_URL, &mut v);
    let url = f.require("webhookUrl", url, &mut v).ok().flatten().map(str::to_owned);
    let mut eventos = None;
    if with_events {
        if let Ok(Some(items)) = f.array("eventos", 20, &mut v) {
            let names: Option<Vec<String>> = items.iter().map(|i| i.as_str().map(str::to_owned)).collect();
            match names {
                Some(n) if !n.is_empty() => eventos = Some(n),
                _ => v.add("webhook.eventos", "must be a non-empty array of event type names"),
            }
        }
    }
    // Bacen's `/webhook` reads tolerantly (a newer minor version may add fields); our own
    // `/webhooks` refuses what it does not know.
    if with_events {
        f.deny_unknown(&mut v);
    }
    let url = v.finish(url, ProblemKind::WebhookOperacaoInvalida, DETAIL)?.unwrap_or_default();
    Ok((url, eventos))
}

fn chave(req: &Request) -> Result<&str, ApiError> {
    let c = param(req, "chave");
    if c.chars().count() > 77 || c.chars().any(char::is_control) {
        return Err(invalid("chave", "must be a Pix key of at most 77 characters"));
    }
    Ok(c)
}

fn endpoint_id(req: &Request) -> Result<Uuid, ApiError> {
    Uuid::parse_str(param(req, "id")).map_err(|_| not_found())
}

/// `PUT /webhook/{chave}`: creates or repoints the callback; a new one answers with its
/// signing secret (`segredo`), this once.
pub async fn bacen_put(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let chave = chave(req)?;
    let (url, _) = read_url(req.body(), false)?;
    let (endpoint, secret) = uc::put_bacen(state, &merchant, chave, &url).await.map_err(map_error)?;
    let body = Webhook::of(&endpoint);
    match secret {
        Some(s) => Ok(json(StatusCode::OK, &body.with_secret(&s))),
        None => Ok(json(StatusCode::OK, &body)),
    }
}

/// `GET /webhook/{chave}`.
pub async fn bacen_get(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let endpoint = uc::bacen(state, &merchant, chave(req)?).await.map_err(map_bacen_error)?;
    Ok(json(StatusCode::OK, &Webhook::of(&endpoint)))
}

/// `DELETE /webhook/{chave}`.
pub async fn bacen_delete(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    uc::delete_bacen(state, &merchant, chave(req)?).await.map_err(map_bacen_error)?;
    Ok(no_content())
}

/// `PUT /webhookrec` and `PUT /webhookcobr`: Pix Automático's callbacks, one of each per
/// merchant; the answer that creates one shows its signing secret, once.
async fn keyless_put(state: &AppState, req: &Request, kind: EndpointKind) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let (url, _) = read_url(req.body(), false)?;
    let (endpoint, secret) = uc::put_keyless(state, &merchant, &kind, &url).await.map_err(map_error)?;
    let body = Webhook::of(&endpoint);
    match secret {
        Some(s) => Ok(json(StatusCode::OK, &body.with_secret(&s))),
        None => Ok(json(StatusCode::OK, &body)),
    }
}

async fn keyless_get(state: &AppState, req: &Request, kind: EndpointKind) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let endpoint = uc::keyless(state, &merchant, &kind).await.map_err(map_bacen_error)?;
    Ok(json(StatusCode::OK, &Webhook::of(&endpoint)))
}

async fn keyless_delete(state: &AppState, req: &Request, kind: EndpointKind) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    uc::delete_keyless(state, &merchant, &kind).await.map_err(map_bacen_error)?;
    Ok(no_content())
}

pub async fn rec_put(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    keyless_put(state, req, EndpointKind::BacenRec).await
}
pub async fn rec_get(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    keyless_get(state, req, EndpointKind::BacenRec).await
}
pub async fn rec_delete(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    keyless_delete(state, req, EndpointKind::BacenRec).await
}
pub async fn cobr_put(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    keyless_put(state, req, EndpointKind::BacenCobr).await
}
pub async fn cobr_get(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    keyless_get(state, req, EndpointKind::BacenCobr).await
}
pub async fn cobr_delete(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    keyless_delete(state, req, EndpointKind::BacenCobr).await
}

/// `GET /webhook?inicio=&fim=&paginacao.*` (both dates optional, as in the spec).
pub async fn bacen_list(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let mut q = QueryParams::new(req.uri().query());
    let inicio = q.timestamp("inicio");
    let fim = q.fim();
    let (pagina, itens) = q.pagination();
    q.finish(Some(()), ProblemKind::WebhookConsultaInvalida, "The query parameters do not follow the schema.")?;
    let page = uc::list_bacen(state, &merchant, inicio, fim, pagina, itens).await.map_err(map_error)?;
    let body = WebhooksConsultados {
        parametros: Parametros::optional(inicio, fim, Paginacao::new(pagina, itens, page.total)),
        webhooks: page.items.iter().map(Webhook::of).collect(),
    };
    Ok(json(StatusCode::OK, &body))
}

/// `POST /webhooks`: `{"webhookUrl", "eventos"?}` → 201 with the secret, this once.
pub async fn create(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let (url, eventos) = read_url(req.body(), true)?;
    let (endpoint, secret) = uc::create(state, &merchant, &url, eventos).await.map_err(map_error)?;
    Ok(json(StatusCode::CREATED, &Endpoint::of(&endpoint).with_secret(&secret)))
}

/// `GET /webhooks`.
pub async fn list(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let all = uc::list(state, &merchant).await.map_err(map_error)?;
    Ok(json(StatusCode::OK, &j!({"webhooks": all.iter().map(Endpoint::of).collect::<Vec<_>>()})))
}

/// `GET /webhooks/{id}`.
pub async fn get(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let endpoint = uc::endpoint(state, &merchant, endpoint_id(req)?).await.map_err(map_error)?;
    Ok(json(StatusCode::OK, &Endpoint::of(&endpoint)))
}

/// `DELETE /webhooks/{id}`.
pub async fn delete(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    uc::delete(state, &merchant, endpoint_id(req)?).await.map_err(map_error)?;
    Ok(no_content())
}

/// `POST /webhooks/{id}/segredo`: a new secret, this once; the previous one keeps signing
/// (beside it) until `segredoAnteriorValidoAte`.
pub async fn rotate(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let (secret, until) = uc::rotate(state, &merchant, endpoint_id(req)?).await.map_err(map_error)?;
    Ok(json(StatusCode::OK, &j!({"segredo": secret.expose(), "segredoAnteriorValidoAte": timestamp(until)})))
}

/// `POST /webhooks/{id}/reenviar`: re-enables the endpoint and schedules every delivery
/// that gave up (or waited for it) again, now.
pub async fn replay(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let n = uc::replay(state, &merchant, endpoint_id(req)?).await.map_err(map_error)?;
    Ok(json(StatusCode::ACCEPTED, &j!({"reagendadas": n})))
}

/// `GET /webhooks/{id}/entregas`: the latest 100 deliveries, newest first.
pub async fn deliveries(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let all = uc::deliveries(state, &merchant, endpoint_id(req)?, 100).await.map_err(map_error)?;
    Ok(json(StatusCode::OK, &j!({"entregas": all.iter().map(Entrega::of).collect::<Vec<_>>()})))
}

const DEFAULT_EVENTS: u32 = 100;
const MAX_EVENTS: u32 = 1000;

/// `GET /eventos?cursor=&limite=&tipo=`: oldest first from the cursor; `proximoCursor`
/// continues where the page ended (present when the page is full).
pub async fn events(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    // Cursors are opaque and this merchant's: not the platform-wide event sequence.
    let cursors = OpaqueIds::new(state.cipher.as_ref(), IdSpace::EventCursor, merchant.id)
        .map_err(|e| ApiError::internal(e.into()))?;
    let mut q = QueryParams::new(req.uri().query());
    let cursor =
        q.parse("cursor", "must be a cursor from a previous page", |s| cursors.open_pair(s).filter(|p| p.1 >= 0));
    let limite = q.parse("limite", "must be a whole number from 1 to 1000", |s| {
        s.parse::<u32>().ok().filter(|n| (1..=MAX_EVENTS).contains(n))
    });
    let tipo =
        q.parse("tipo", "is not an event type", |s| crate::domain::webhook::is_event_type(s).then(|| s.to_owned()));
    q.finish(Some(()), ProblemKind::EventosConsultaInvalida, "The query parameters do not follow the schema.")?;
    let limite = limite.unwrap_or(DEFAULT_EVENTS);
    let page =
        uc::events(state, &merchant, cursor.unwrap_or((0, 0)), tipo.as_deref(), limite).await.map_err(map_error)?;
    let next =
        (page.len() == limite as usize).then(|| page.last().map(|e| cursors.seal_pair(e.writer, e.seq))).flatten();
    Ok(json(
        StatusCode::OK,
        &j!({"eventos": page.iter().map(uc::event_json).collect::<Vec<_>>(), "proximoCursor": next}),
    ))
}

/// `GET /eventos/{id}`.
pub async fn event(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let id =
        Uuid::parse_str(param(req, "id")).map_err(|_| ApiError::new(ProblemKind::NaoEncontrado, "No such event."))?;
    let e: Event = uc::event(state, &merchant, id).await.map_err(|e| match e {
        WebhookError::NotFound => ApiError::new(ProblemKind::NaoEncontrado, "No such event."),
        other => map_error(other),
    })?;
    Ok(json(StatusCode::OK, &uc::event_json(&e)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    #[test]
    fn a_secret_that_does_not_open_is_a_500_and_only_an_unreachable_key_service_a_503() {
        let status = |e: CipherError| map_error(WebhookError::Cipher(e)).kind.status();
        assert_eq!(status(CipherError::Rejected), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(status(CipherError::Unexpected(anyhow::anyhow!("policy"))), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(status(CipherError::Unavailable(anyhow::anyhow!("throttled"))), StatusCode::SERVICE_UNAVAILABLE);
    }
}
