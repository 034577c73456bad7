//! Webhooks in Bacen's JSON (`/webhook/{chave}`: `Webhook`, `WebhooksConsultados`) and ours
//! (`/webhooks`: event endpoints and their deliveries).

use super::{timestamp, Parametros};
use crate::domain::webhook::WebhookSecret;
use crate::ports::{DeliverySummary, EndpointKind, WebhookEndpoint};
use serde::Serialize;

/// A Bacen callback registration (`PUT|GET /webhook/{chave}`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Webhook<'a> {
    pub webhook_url: &'a str,
    /// The receiving key (`/webhook/{chave}`); none on `/webhookrec` and `/webhookcobr`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chave: Option<&'a str>,
    pub criacao: String,
    /// Its signing secret: in the answer that created it, only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segredo: Option<String>,
}

impl<'a> Webhook<'a> {
    pub fn of(e: &'a WebhookEndpoint) -> Self {
        let chave = match &e.kind {
            EndpointKind::Bacen { chave } => Some(chave.as_str()),
            EndpointKind::Eventos { .. } | EndpointKind::BacenRec | EndpointKind::BacenCobr => None,
        };
        Webhook { webhook_url: &e.url, chave, criacao: timestamp(e.created_at), segredo: None }
    }

    pub fn with_secret(mut self, secret: &WebhookSecret) -> Self {
        self.segredo = Some(secret.expose());
        self
    }
}

/// A page of `GET /webhook`.
#[derive(Debug, Serialize)]
pub struct WebhooksConsultados<'a> {
    pub parametros: Parametros,
    pub webhooks: Vec<Webhook<'a>>,
}

#[derive(Debug, Serialize)]
pub struct Desativacao<'a> {
    pub horario: String,
    pub motivo: &'a str,
}

/// An event-webhook endpoint (`/webhooks`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint<'a> {
    pub id: uuid::Uuid,
    pub webhook_url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eventos: Option<&'a [String]>,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desativacao: Option<Desativacao<'a>>,
    pub criacao: String,
    /// Its signing secret: in the answer that created it, only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segredo: Option<String>,
}

impl<'a> Endpoint<'a> {
    pub fn of(e: &'a WebhookEndpoint) -> Self {
        Endpoint {
            id: e.id,
            webhook_url: &e.url,
            eventos: match &e.kind {
                EndpointKind::Eventos { tipos } => Some(tipos),
                EndpointKind::Bacen { .. } | EndpointKind::BacenRec | EndpointKind::BacenCobr => None,
            },
            status: if e.disabled.is_some() { "DESATIVADO" } else { "ATIVO" },
            desativacao: e.disabled.as_ref().map(|(at, why)| Desativacao { horario: timestamp(*at), motivo: why }),
            criacao: timestamp(e.created_at),
            segredo: None,
        }
    }

    pub fn with_secret(mut self, secret: &WebhookSecret) -> Self {
        self.segredo = Some(secret.expose());
        self
    }
}

/// One delivery of an event to an endpoint.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entrega<'a> {
    pub id: uuid::Uuid,
    pub evento: uuid::Uuid,
    pub tipo: &'a str,
    pub status: &'a str,
    pub tentativas: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxima_tentativa: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrega: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ultimo_status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ultimo_erro: Option<&'a str>,
}

impl<'a> Entrega<'a> {
    pub fn of(d: &'a DeliverySummary) -> Self {
        Entrega {
            id: d.id,
            evento: d.event_id,
            tipo: &d.event_kind,
            status: &d.status,
            tentativas: d.attempts,
            proxima_tentativa: d.next_attempt_at.map(timestamp),
            entrega: d.delivered_at.map(timestamp),
            ultimo_status: d.last_status_code,
            ultimo_erro: d.last_error.as_deref(),
        }
    }
}
