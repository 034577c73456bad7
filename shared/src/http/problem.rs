//! `application/problem+json` errors (RFC 7807) with the Bacen API Pix error types.
//!
//! An `ApiError` knows its HTTP status, its `type` URI and a message that is safe to show.
//! The cause of a 5xx is logged once, with the request id, and never sent to the client.

use super::{RequestId, Response};
use bytes::Bytes;
use http::{header, HeaderValue, StatusCode};
use serde::Serialize;

const BACEN_TYPE_BASE: &str = "https://pix.bcb.gov.br/api/v2/error/";
/// Types Bacen does not define follow the same naming under our own base: authentication,
/// method, body size and media type (401, 405, 413, 415), rail signatures, Idempotency-Key
/// conflicts, our extensions (`/envio`, `/dict`, webhook listings) and quotas (429).
const TUCANO_TYPE_BASE: &str = "https://tucano.dev/problems/";

/// The kinds of problem the API reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// 400: the request as a whole is malformed (not JSON, bad header, ...).
    RequisicaoInvalida,
    /// 401: no valid API key.
    NaoAutenticado,
    /// 403: authenticated, but not allowed.
    AcessoNegado,
    /// 404: no such route or resource.
    NaoEncontrado,
    /// 405: the path exists, the method does not.
    MetodoNaoPermitido,
    /// 413: body above the limit.
    RequisicaoMuitoGrande,
    /// 415: a body that is not JSON.
    TipoDeConteudoNaoSuportado,
    /// 400: a charge request that breaks the schema or the rules.
    CobOperacaoInvalida,
    /// 404: no charge with that txid for this merchant.
    CobNaoEncontrado,
    /// 400: bad parameters on `GET /cob` or `GET /cob/{txid}`.
    CobConsultaInvalida,
    /// 404: no payload at that location (or the charge behind it is gone).
    CobPayloadNaoEncontrado,
    /// 404: no recurrence at that location (or it is gone for good).
    RecPayloadNaoEncontrado,
    /// 400: a payload location asked with a bad `DPP` or `codMun`.
    CobPayloadOperacaoInvalida,
    /// 400: a batch request that breaks the schema or the rules.
    LoteCobVOperacaoInvalida,
    /// 404: no batch with that id for this merchant.
    LoteCobVNaoEncontrado,
    /// 400: bad parameters on `GET /lotecobv`.
    LoteCobVConsultaInvalida,
    /// 400: a charge-with-due-date request that breaks the schema or the rules.
    CobVOperacaoInvalida,
    /// 404: no charge with a due date with that txid for this merchant.
    CobVNaoEncontrada,
    /// 400: bad parameters on `GET /cobv` or `GET /cobv/{txid}`.
    CobVConsultaInvalida,
    /// 400: a recurrence's location whose recurrence expired, was rejected or cancelled.
    RecPayloadOperacaoInvalida,
    /// 400: a recurrence request that breaks the schema or the rules.
    RecOperacaoInvalida,
    /// 404: no recurrence with that idRec for this merchant.
    RecNaoEncontrada,
    /// 400: bad parameters on `GET /rec`.
    RecConsultaInvalida,
    /// 400: a confirmation request that breaks the schema or the rules.
    SolicRecOperacaoInvalida,
    /// 404: no confirmation request with that id for this merchant.
    SolicRecNaoEncontrada,
    /// 400: a recurring-charge request that breaks the schema or the rules.
    CobROperacaoInvalida,
    /// 404: no recurring charge with that txid for this merchant.
    CobRNaoEncontrado,
    /// 400: bad parameters on `GET /cobr`.
    CobRConsultaInvalida,
    /// 404: no received Pix with that end-to-end id for this merchant.
    PixNaoEncontrado,
    /// 400: bad parameters on `GET /pix`.
    PixConsultaInvalida,
    /// 400: a refund request that breaks the schema or the rules (incl. insufficient funds).
    PixDevolucaoInvalida,
    /// 404: no such refund.
    PixDevolucaoNaoEncontrada,
    /// 401: a rail message without a valid signature.
    AssinaturaInvalida,
    /// 409: a request with this Idempotency-Key is still running.
    ChaveIdempotenciaEmUso,
    /// 422: this Idempotency-Key was used for a different request.
    ChaveIdempotenciaReutilizada,
    /// 400: a transfer that breaks the schema, a limit, or the balance.
    EnvioOperacaoInvalida,
    /// 404: no transfer with that idEnvio.
    EnvioNaoEncontrado,
    /// 400: bad parameters on `GET /envio`.
    EnvioConsultaInvalida,
    /// 404: no account holds that Pix key.
    ChaveNaoEncontrada,
    /// 400: a webhook request that breaks the schema or the rules.
    WebhookOperacaoInvalida,
    /// 400: bad parameters on `GET /webhook`.
    WebhookConsultaInvalida,
    /// 404: no API Pix webhook on that key.
    WebhookNaoEncontrado,
    /// 404: no payload location with that id for this merchant.
    PayloadLocationNaoEncontrado,
    /// 400: a `POST /loc` body that breaks the schema.
    PayloadLocationOperacaoInvalida,
    /// 400: bad parameters on `GET /loc`.
    PayloadLocationConsultaInvalida,
    /// 404: no recurrence location with that id for this merchant.
    PayloadLocationRecNaoEncontrado,
    /// 400: bad parameters on `GET /locrec`.
    PayloadLocationRecConsultaInvalida,
    /// 400: bad parameters on `GET /eventos`.
    EventosConsultaInvalida,
    /// 429: a per-merchant quota is used up for this minute (`Retry-After` says when the
    /// next window opens). Named as the DICT API names its own.
    RateLimited,
    /// 503: a dependency is down; retry later.
    ServicoIndisponivel,
    /// 500: a bug; the body carries only the correlation id.
    ErroInternoDoServidor,
}

impl ProblemKind {
    pub fn status(self) -> StatusCode {
        match self {
            ProblemKind::RequisicaoInvalida
            | ProblemKind::CobOperacaoInvalida
            | ProblemKind::CobConsultaInvalida
            | ProblemKind::CobVOperacaoInvalida
            | ProblemKind::CobVConsultaInvalida
            | ProblemKind::RecPayloadOperacaoInvalida
            | ProblemKind::RecOperacaoInvalida
            | ProblemKind::RecConsultaInvalida
            | ProblemKind::SolicRecOperacaoInvalida
            | ProblemKind::CobROperacaoInvalida
            | ProblemKind::CobRConsultaInvalida
            | ProblemKind::CobPayloadOperacaoInvalida
            | ProblemKind::LoteCobVOperacaoInvalida
            | ProblemKind::LoteCobVConsultaInvalida
            | ProblemKind::PixConsultaInvalida
            | ProblemKind::PixDevolucaoInvalida
            | ProblemKind::EnvioOperacaoInvalida
            | ProblemKind::EnvioConsultaInvalida
            | ProblemKind::WebhookOperacaoInvalida
            | ProblemKind::WebhookConsultaInvalida
            | ProblemKind::PayloadLocationOperacaoInvalida
            | ProblemKind::PayloadLocationConsultaInvalida
            | ProblemKind::PayloadLocationRecConsultaInvalida
            | ProblemKind::EventosConsultaInvalida => StatusCode::BAD_REQUEST,
            ProblemKind::NaoAutenticado | ProblemKind::AssinaturaInvalida => StatusCode::UNAUTHORIZED,
            ProblemKind::AcessoNegado => StatusCode::FORBIDDEN,
            ProblemKind::NaoEncontrado
            | ProblemKind::CobNaoEncontrado
            | ProblemKind::CobPayloadNaoEncontrado
            | ProblemKind::CobVNaoEncontrada
            | ProblemKind::RecNaoEncontrada
            | ProblemKind::SolicRecNaoEncontrada
            | ProblemKind::CobRNaoEncontrado
            | ProblemKind::LoteCobVNaoEncontrado
            | ProblemKind::PixNaoEncontrado
            | ProblemKind::PixDevolucaoNaoEncontrada
            | ProblemKind::EnvioNaoEncontrado
            | ProblemKind::ChaveNaoEncontrada
            | ProblemKind::WebhookNaoEncontrado
            | ProblemKind::PayloadLocationNaoEncontrado
            | ProblemKind::PayloadLocationRecNaoEncontrado
            | ProblemKind::RecPayloadNaoEncontrado => StatusCode::NOT_FOUND,
            ProblemKind::MetodoNaoPermitido => StatusCode::METHOD_NOT_ALLOWED,
            ProblemKind::ChaveIdempotenciaEmUso => StatusCode::CONFLICT,
            ProblemKind::ChaveIdempotenciaReutilizada => StatusCode::UNPROCESSABLE_ENTITY,
            ProblemKind::RequisicaoMuitoGrande => StatusCode::PAYLOAD_TOO_LARGE,
            ProblemKind::TipoDeConteudoNaoSuportado => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ProblemKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ProblemKind::ServicoIndisponivel => StatusCode::SERVICE_UNAVAILABLE,
            ProblemKind::ErroInternoDoServidor => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn name(self) -> &'static str {
        match self {
            ProblemKind::RequisicaoInvalida => "RequisicaoInvalida",
            ProblemKind::NaoAutenticado => "NaoAutenticado",
            ProblemKind::AcessoNegado => "AcessoNegado",
            ProblemKind::NaoEncontrado => "NaoEncontrado",
            ProblemKind::MetodoNaoPermitido => "MetodoNaoPermitido",
            ProblemKind::RequisicaoMuitoGrande => "RequisicaoMuitoGrande",
            ProblemKind::TipoDeConteudoNaoSuportado => "TipoDeConteudoNaoSuportado",
            ProblemKind::CobOperacaoInvalida => "CobOperacaoInvalida",
            ProblemKind::CobNaoEncontrado => "CobNaoEncontrado",
            ProblemKind::CobConsultaInvalida => "CobConsultaInvalida",
            ProblemKind::CobPayloadNaoEncontrado => "CobPayloadNaoEncontrado",
            ProblemKind::RecPayloadNaoEncontrado => "RecPayloadNaoEncontrado",
            ProblemKind::CobPayloadOperacaoInvalida => "CobPayloadOperacaoInvalida",
            ProblemKind::LoteCobVOperacaoInvalida => "LoteCobVOperacaoInvalida",
            ProblemKind::LoteCobVNaoEncontrado => "LoteCobVNaoEncontrado",
            ProblemKind::LoteCobVConsultaInvalida => "LoteCobVConsultaInvalida",
            ProblemKind::CobVOperacaoInvalida => "CobVOperacaoInvalida",
            ProblemKind::CobVNaoEncontrada => "CobVNaoEncontrada",
            ProblemKind::CobVConsultaInvalida => "CobVConsultaInvalida",
            ProblemKind::RecPayloadOperacaoInvalida => "RecPayloadOperacaoInvalida",
            ProblemKind::RecOperacaoInvalida => "RecOperacaoInvalida",
            ProblemKind::RecNaoEncontrada => "RecNaoEncontrada",
            ProblemKind::RecConsultaInvalida => "RecConsultaInvalida",
            ProblemKind::SolicRecOperacaoInvalida => "SolicRecOperacaoInvalida",
            ProblemKind::SolicRecNaoEncontrada => "SolicRecNaoEncontrada",
            ProblemKind::CobROperacaoInvalida => "CobROperacaoInvalida",
            ProblemKind::CobRNaoEncontrado => "CobRNaoEncontrado",
            ProblemKind::CobRConsultaInvalida => "CobRConsultaInvalida",
            ProblemKind::PixNaoEncontrado => "PixNaoEncontrado",
            ProblemKind::PixConsultaInvalida => "PixConsultaInvalida",
            ProblemKind::PixDevolucaoInvalida => "PixDevolucaoInvalida",
            ProblemKind::PixDevolucaoNaoEncontrada => "PixDevolucaoNaoEncontrada",
            ProblemKind::AssinaturaInvalida => "AssinaturaInvalida",
            ProblemKind::ChaveIdempotenciaEmUso => "ChaveIdempotenciaEmUso",
            ProblemKind::ChaveIdempotenciaReutilizada => "ChaveIdempotenciaReutilizada",
            ProblemKind::EnvioOperacaoInvalida => "EnvioOperacaoInvalida",
            ProblemKind::EnvioNaoEncontrado => "EnvioNaoEncontrado",
            ProblemKind::EnvioConsultaInvalida => "EnvioConsultaInvalida",
            ProblemKind::ChaveNaoEncontrada => "ChaveNaoEncontrada",
            ProblemKind::WebhookOperacaoInvalida => "WebhookOperacaoInvalida",
            ProblemKind::WebhookConsultaInvalida => "WebhookConsultaInvalida",
            ProblemKind::WebhookNaoEncontrado => "WebhookNaoEncontrado",
            ProblemKind::PayloadLocationNaoEncontrado => "PayloadLocationNaoEncontrado",
            ProblemKind::PayloadLocationOperacaoInvalida => "PayloadLocationOperacaoInvalida",
            ProblemKind::PayloadLocationConsultaInvalida => "PayloadLocationConsultaInvalida",
            ProblemKind::PayloadLocationRecNaoEncontrado => "PayloadLocationRecNaoEncontrado",
            ProblemKind::PayloadLocationRecConsultaInvalida => "PayloadLocationRecConsultaInvalida",
            ProblemKind::EventosConsultaInvalida => "EventosConsultaInvalida",
            ProblemKind::RateLimited => "RateLimited",
            ProblemKind::ServicoIndisponivel => "ServicoIndisponivel",
            ProblemKind::ErroInternoDoServidor => "ErroInternoDoServidor",
        }
    }

    fn is_bacen(self) -> bool {
        match self {
            ProblemKind::NaoAutenticado
            | ProblemKind::MetodoNaoPermitido
            | ProblemKind::RequisicaoMuitoGrande
            | ProblemKind::TipoDeConteudoNaoSuportado
            | ProblemKind::AssinaturaInvalida
            | ProblemKind::ChaveIdempotenciaEmUso
            | ProblemKind::ChaveIdempotenciaReutilizada
            | ProblemKind::EnvioOperacaoInvalida
            | ProblemKind::EnvioNaoEncontrado
            | ProblemKind::EnvioConsultaInvalida
            | ProblemKind::ChaveNaoEncontrada
            | ProblemKind::EventosConsultaInvalida
            | ProblemKind::RateLimited => false,
            ProblemKind::RequisicaoInvalida
            | ProblemKind::AcessoNegado
            | ProblemKind::NaoEncontrado
            | ProblemKind::CobOperacaoInvalida
            | ProblemKind::CobNaoEncontrado
            | ProblemKind::CobConsultaInvalida
            | ProblemKind::CobPayloadNaoEncontrado
            | ProblemKind::CobPayloadOperacaoInvalida
            | ProblemKind::CobVOperacaoInvalida
            | ProblemKind::CobVNaoEncontrada
            | ProblemKind::CobVConsultaInvalida
            | ProblemKind::RecPayloadOperacaoInvalida
            | ProblemKind::RecOperacaoInvalida
            | ProblemKind::RecNaoEncontrada
            | ProblemKind::RecConsultaInvalida
            | ProblemKind::SolicRecOperacaoInvalida
            | ProblemKind::SolicRecNaoEncontrada
            | ProblemKind::CobROperacaoInvalida
            | ProblemKind::CobRNaoEncontrado
            | ProblemKind::CobRConsultaInvalida
            | ProblemKind::LoteCobVOperacaoInvalida
            | ProblemKind::LoteCobVNaoEncontrado
            | ProblemKind::LoteCobVConsultaInvalida
            | ProblemKind::PixNaoEncontrado
            | ProblemKind::PixConsultaInvalida
            | ProblemKind::PixDevolucaoInvalida
            | ProblemKind::PixDevolucaoNaoEncontrada
            | ProblemKind::WebhookOperacaoInvalida
            | ProblemKind::WebhookNaoEncontrado
            | ProblemKind::WebhookConsultaInvalida
            | ProblemKind::PayloadLocationNaoEncontrado
            | ProblemKind::PayloadLocationOperacaoInvalida
            | ProblemKind::PayloadLocationConsultaInvalida
            | ProblemKind::PayloadLocationRecNaoEncontrado
            | ProblemKind::PayloadLocationRecConsultaInvalida
            | ProblemKind::RecPayloadNaoEncontrado
            | ProblemKind::ServicoIndisponivel
            | ProblemKind::ErroInternoDoServidor => true,
        }
    }

    pub fn type_uri(self) -> String {
        let base = if self.is_bacen() { BACEN_TYPE_BASE } else { TUCANO_TYPE_BASE };
        format!("{base}{}", self.name())
    }

    fn title(self) -> &'static str {
        match self {
            ProblemKind::RequisicaoInvalida => "Requisição inválida.",
            ProblemKind::NaoAutenticado => "Não autenticado.",
            ProblemKind::AcessoNegado => "Acesso negado.",
            ProblemKind::NaoEncontrado => "Não encontrado.",
            ProblemKind::MetodoNaoPermitido => "Método não permitido.",
            ProblemKind::RequisicaoMuitoGrande => "Requisição muito grande.",
            ProblemKind::TipoDeConteudoNaoSuportado => "Tipo de conteúdo não suportado.",
            ProblemKind::CobOperacaoInvalida => "Cobrança inválida.",
            ProblemKind::CobNaoEncontrado => "Cobrança não encontrada.",
            ProblemKind::CobConsultaInvalida => "Consulta de cobranças inválida.",
            ProblemKind::CobPayloadNaoEncontrado => "Cobrança não encontrada.",
            ProblemKind::CobPayloadOperacaoInvalida => "Requisição inválida.",
            ProblemKind::LoteCobVOperacaoInvalida => "Lote inválido.",
            ProblemKind::LoteCobVNaoEncontrado => "Lote não encontrado.",
            ProblemKind::LoteCobVConsultaInvalida => "Consulta de lotes inválida.",
            ProblemKind::CobVOperacaoInvalida => "Cobrança inválida.",
            ProblemKind::CobVNaoEncontrada => "Cobrança não encontrada.",
            ProblemKind::CobVConsultaInvalida => "Consulta de cobranças inválida.",
            ProblemKind::RecPayloadOperacaoInvalida => "Payload de recorrência indisponível.",
            ProblemKind::RecOperacaoInvalida => "Recorrência inválida.",
            ProblemKind::RecNaoEncontrada => "Recorrência não encontrada.",
            ProblemKind::RecConsultaInvalida => "Consulta de recorrências inválida.",
            ProblemKind::SolicRecOperacaoInvalida => "Solicitação de recorrência inválida.",
            ProblemKind::SolicRecNaoEncontrada => "Solicitação de recorrência não encontrada.",
            ProblemKind::CobROperacaoInvalida => "Cobrança recorrente inválida.",
            ProblemKind::CobRNaoEncontrado => "Cobrança recorrente não encontrada.",
            ProblemKind::CobRConsultaInvalida => "Consulta de cobranças recorrentes inválida.",
            ProblemKind::PixNaoEncontrado => "Pix não encontrado.",
            ProblemKind::PixConsultaInvalida => "Consulta de Pix inválida.",
            ProblemKind::PixDevolucaoInvalida => "Devolução inválida.",
            ProblemKind::PixDevolucaoNaoEncontrada => "Devolução não encontrada.",
            ProblemKind::AssinaturaInvalida => "Assinatura inválida.",
            ProblemKind::ChaveIdempotenciaEmUso => "Requisição em andamento.",
            ProblemKind::ChaveIdempotenciaReutilizada => "Chave de idempotência reutilizada.",
            ProblemKind::EnvioOperacaoInvalida => "Envio inválido.",
            ProblemKind::EnvioNaoEncontrado => "Envio não encontrado.",
            ProblemKind::EnvioConsultaInvalida => "Consulta de envios inválida.",
            ProblemKind::ChaveNaoEncontrada => "Chave não encontrada.",
            ProblemKind::WebhookOperacaoInvalida => "Webhook inválido.",
            ProblemKind::WebhookConsultaInvalida => "Consulta inválida.",
            ProblemKind::WebhookNaoEncontrado => "Webhook não encontrado.",
            ProblemKind::PayloadLocationNaoEncontrado => "Location não encontrada.",
            ProblemKind::PayloadLocationOperacaoInvalida => "PayloadLocation inválido.",
            ProblemKind::PayloadLocationConsultaInvalida => "Consulta de locations inválida.",
            ProblemKind::PayloadLocationRecNaoEncontrado => "Location de recorrência não encontrada.",
            ProblemKind::PayloadLocationRecConsultaInvalida => "Consulta de locations de recorrência inválida.",
            ProblemKind::RecPayloadNaoEncontrado => "Recorrência não encontrada.",
            ProblemKind::EventosConsultaInvalida => "Consulta de eventos inválida.",
            ProblemKind::RateLimited => "Limite de requisições atingido.",
            ProblemKind::ServicoIndisponivel => "Serviço indisponível.",
            ProblemKind::ErroInternoDoServidor => "Erro interno do servidor.",
        }
    }
}

/// One bad field: `propriedade` is its path (`cob.valor.original`), `razao` why.
/// The offending value is never echoed: it may be personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violacao {
    pub razao: String,
    pub propriedade: String,
}

/// An error the API answers with. Build it with a kind and a safe detail message.
#[derive(Debug)]
pub struct ApiError {
    pub kind: ProblemKind,
    pub detail: String,
    pub violacoes: Vec<Violacao>,
    /// For 5xx: what went wrong, logged with the request id, never sent.
    pub cause: Option<anyhow::Error>,
    /// Extra headers (e.g. `Allow` on 405).
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
}

#[derive(Serialize)]
struct ProblemBody<'a> {
    #[serde(rename = "type")]
    type_: String,
    title: &'static str,
    status: u16,
    detail: &'a str,
    #[serde(rename = "correlationId", skip_serializing_if = "str::is_empty")]
    correlation_id: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    violacoes: &'a [Violacao],
}

impl ApiError {
    pub fn new(kind: ProblemKind, detail: impl Into<String>) -> Self {
        ApiError { kind, detail: detail.into(), violacoes: vec![], cause: None, headers: vec![] }
    }

    pub fn with_violations(kind: ProblemKind, detail: impl Into<String>, violacoes: Vec<Violacao>) -> Self {
        ApiError { violacoes, ..ApiError::new(kind, detail) }
    }

    /// A 500 whose cause is logged, not shown.
    pub fn internal(cause: anyhow::Error) -> Self {
        ApiError {
            cause: Some(cause),
            ..ApiError::new(
                ProblemKind::ErroInternoDoServidor,
                "An unexpected error occurred; quote the correlationId to support.",
            )
        }
    }

    /// A 503 whose cause is logged, not shown.
    pub fn unavailable(cause: anyhow::Error) -> Self {
        ApiError {
            cause: Some(cause),
            ..ApiError::new(ProblemKind::ServicoIndisponivel, "The service is temporarily unavailable; retry later.")
        }
    }

    /// The problem as a JSON value without a correlation id (a batch item's `problema`).
    pub fn to_problem(&self) -> serde_json::Value {
        let body = ProblemBody {
            type_: self.kind.type_uri(),
            title: self.kind.title(),
            status: self.kind.status().as_u16(),
            detail: &self.detail,
            correlation_id: "",
            violacoes: &self.violacoes,
        };
        serde_json::to_value(&body).unwrap_or_default()
    }

    /// The problem+json response, logging the cause of server-side errors.
    pub fn into_response(self, request_id: &str) -> Response {
        let status = self.kind.status();
        if let Some(cause) = &self.cause {
            tracing::error!(request_id, status = status.as_u16(), error = format!("{cause:#}"), "request failed");
        }
        let body = ProblemBody {
            type_: self.kind.type_uri(),
            title: self.kind.title(),
            status: status.as_u16(),
            detail: &self.detail,
            correlation_id: request_id,
            violacoes: &self.violacoes,
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let mut res = http::Response::new(Bytes::from(bytes));
        *res.status_mut() = status;
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        for (name, value) in self.headers {
            res.headers_mut().insert(name, value);
        }
        res
    }
}

impl From<crate::ports::StoreError> for ApiError {
    fn from(e: crate::ports::StoreError) -> Self {
        match e {
            crate::ports::StoreError::Unavailable(cause) => ApiError::unavailable(cause),
            crate::ports::StoreError::Unexpected(cause) => ApiError::internal(cause),
        }
    }
}

/// For callers that only have a request: the id to quote.
pub fn respond(err: ApiError, req: &super::Request) -> Response {
    err.into_response(&RequestId::of(req))
}
