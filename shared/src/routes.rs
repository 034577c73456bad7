//! The one route table. The local server mounts it, each `functions/` binary serves one
//! entry of it, and a test checks that `serverless.yml` declares exactly the same set.

use crate::app::key_policy::{
    self, BLIND_INDEX_KEY, DEVEDOR, FAVORECIDO, IDEMPOTENCY_RESPONSE, PAGADOR, RAIL_SECRET, WEBHOOK_SECRET,
};
use crate::app::AppState;
use crate::domain::oauth::Scope;
use crate::domain::quota::Quota;
use crate::handlers::{account, cob, cobv, envio, loc, lotecobv, oauth, openapi, payload, pix, rail, rec, webhooks};
use crate::http::auth::{authenticate, require};
use crate::http::idempotency;
use crate::http::problem::{ApiError, ProblemKind};
use crate::http::{PathParams, Request, RequestId, Response, MAX_BODY_BYTES};
use http::{header, HeaderValue, Method};
use percent_encoding::percent_decode_str;
use std::time::Instant;
use tracing::Instrument;

/// Every route of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteId {
    OAuthToken,
    OpenApiGet,
    CobPut,
    CobPost,
    CobPatch,
    CobGet,
    CobList,
    CobVPut,
    CobVPatch,
    CobVGet,
    CobVList,
    LoteCobVPut,
    LoteCobVPatch,
    LoteCobVGet,
    LoteCobVList,
    RecPost,
    RecGet,
    RecPatch,
    RecList,
    SolicRecPost,
    SolicRecGet,
    SolicRecPatch,
    CobRPut,
    CobRPost,
    CobRPatch,
    CobRGet,
    CobRList,
    CobRRetry,
    PayloadGet,
    PayloadCobvGet,
    JwksGet,
    LocPost,
    LocList,
    LocGet,
    LocUnlink,
    LocQrCodeGet,
    LocRecPost,
    LocRecList,
    LocRecGet,
    LocRecUnlink,
    PixGet,
    PixList,
    RefundPut,
    RefundGet,
    BalanceGet,
    StatementGet,
    RailNotification,
    TransferPut,
    TransferQrPut,
    TransferGet,
    TransferList,
    DictGet,
    WebhookPut,
    WebhookGet,
    WebhookDelete,
    WebhookList,
    WebhookRecPut,
    WebhookRecGet,
    WebhookRecDelete,
    WebhookCobRPut,
    WebhookCobRGet,
    WebhookCobRDelete,
    EndpointPost,
    EndpointList,
    EndpointGet,
    EndpointDelete,
    EndpointRotate,
    EndpointReplay,
    EndpointDeliveries,
    EventList,
    EventGet,
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A merchant's client, with `Authorization: Bearer <access token>` granting the scope.
    Merchant(Scope),
    /// Anyone (the payload location a payer's bank reads; the token endpoint, where the
    /// client authenticates itself).
    Public,
    /// The Pix rail, proven by the message signature the handler checks.
    Rail,
}

impl Access {
    /// The rule's name (`Merchant`, `Public`, `Rail`), as `tucano routes --json` lists it.
    pub fn name(self) -> &'static str {
        match self {
            Access::Merchant(_) => "Merchant",
            Access::Public => "Public",
            Access::Rail => "Rail",
        }
    }

    /// The OAuth scope a merchant route requires.
    pub fn scope(self) -> Option<Scope> {
        match self {
            Access::Merchant(scope) => Some(scope),
            Access::Public | Access::Rail => None,
        }
    }
}

/// How a route treats `Idempotency-Key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// POSTs of our own extensions: the header is required.
    Required,
    /// PUT/PATCH with a client-chosen id are idempotent by themselves; the header adds
    /// exact response replay. Also Bacen's `POST /cob`, which has no such header in the
    /// spec: without one, each POST is a new charge.
    Optional,
    Off,
}

/// A route: method, path template (`{name}` segments), Lambda function name, access rule
/// and idempotency rule.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub id: RouteId,
    pub method: &'static str,
    pub path: &'static str,
    /// The function's name in `serverless.yml` and its binary in `functions/src/bin/`.
    pub function: &'static str,
    pub access: Access,
    pub idempotency: Idempotency,
    /// The encryption purposes its requests may use (`app::key_policy`): its role's KMS
    /// grant is conditioned on exactly these.
    pub keys: &'static [&'static str],
    /// The per-merchant quota its requests count against.
    pub quota: Quota,
}

pub const ROUTES: &[Route] = &[
    Route {
        id: RouteId::OpenApiGet,
        method: "GET",
        path: "/openapi.json",
        function: "openapi_get",
        access: Access::Public,
        idempotency: Idempotency::Off,
        keys: &[],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::OAuthToken,
        method: "POST",
        path: "/oauth/token",
        function: "oauth_token",
        access: Access::Public,
        idempotency: Idempotency::Off,
        keys: &[],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::CobPut,
        method: "PUT",
        path: "/v2/cob/{txid}",
        function: "cob_put",
        access: Access::Merchant(Scope::CobWrite),
        idempotency: Idempotency::Optional,
        keys: &[DEVEDOR, IDEMPOTENCY_RESPONSE],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::CobPatch,
        method: "PATCH",
        path: "/v2/cob/{txid}",
        function: "cob_patch",
        access: Access::Merchant(Scope::CobWrite),
        idempotency: Idempotency::Optional,
        keys: &[DEVEDOR, IDEMPOTENCY_RESPONSE],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::CobGet,
        method: "GET",
        path: "/v2/cob/{txid}",
        function: "cob_get",
        access: Access::Merchant(Scope::CobRead),
        idempotency: Idempotency::Off,
        keys: &[DEVEDOR, PAGADOR],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::CobPost,
        method: "POST",
        path: "/v2/cob",
        function: "cob_post",
        access: Access::Merchant(Scope::CobWrite),
        idempotency: Idempotency::Optional,
        keys: &[DEVEDOR, IDEMPOTENCY_RESPONSE],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::CobList,
        method: "GET",
        path: "/v2/cob",
        function: "cob_list",
        access: Access::Merchant(Scope::CobRead),
        idempotency: Idempotency::Off,
        keys: &[DEVEDOR, PAGADOR],
        quota: Quota::List,
    },
    Route {
        id: RouteId::CobVPut,
        method: "PUT",
        path: "/v2/cobv/{txid}",
        function: "cobv_put",
        access: Access::Merchant(Scope::CobvWrite),
        idempotency: Idempotency::Optional,
        keys: &[DEVEDOR, IDEMPOTENCY_RESPONSE],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::CobVPatch,
        method: "PATCH",
        path: "/v2/cobv/{txid}",
        function: "cobv_patch",
        access: Access::Merchant(Scope::CobvWrite),
        idempotency: Idempotency::Optional,
        keys: &[DEVEDOR, IDEMPOTENCY_RESPONSE],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::CobVGet,
        method: "GET",
        path: "/v2/cobv/{txid}",
        function: "cobv_get",
        access: Access::Merchant(Scope::CobvRead),
        idempotency: Idempotency::Off,
        keys: &[DEVEDOR, PAGADOR],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::CobVList,
        method: "GET",
        path: "/v2/cobv",
        function: "cobv_list",
        access: Access::Merchant(Scope::CobvRead),
        idempotency: Idempotency::Off,
        keys: &[DEVEDOR, PAGADOR],
        quota: Quota::List,
    },
    Route {
        id: RouteId::LoteCobVPut,
        method: "PUT",
        path: "/v2/lotecobv/{id}",
        function: "lotecobv_put",
        access: Access::Merchant(Scope::LoteCobvWrite),
        idempotency: Idempotency::Optional,
        keys: &[DEVEDOR, IDEMPOTENCY_RESPONSE],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::LoteCobVPatch,
        method: "PATCH",
        path: "/v2/lotecobv/{id}",
        function: "lotecobv_patch",
        access: Access::Merchant(Scope::LoteCobvWrite),
        idempotency: Idempotency::Optional,
        keys: &[DEVEDOR, IDEMPOTENCY_RESPONSE],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::LoteCobVGet,
        method: "GET",
        path: "/v2/lotecobv/{id}",
        function: "lotecobv_get",
        access: Access::Merchant(Scope::LoteCobvRead),
        idempotency: Idempotency::Off,
        keys: &[],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::LoteCobVList,
        method: "GET",
        path: "/v2/lotecobv",
        function: "lotecobv_list",
        access: Access::Merchant(Scope::LoteCobvRead),
        idempotency: Idempotency::Off,
        keys: &[],
        quota: Quota::List,
    },
    Route {
        id: RouteId::RecPost,
        method: "POST",
        path: "/v2/rec",
        function: "rec_post",
        access: Access::Merchant(Scope::RecWrite),
        idempotency: Idempotency::Optional,
        keys: &[DEVEDOR, IDEMPOTENCY_RESPONSE],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::RecList,
        method: "GET",
        path: "/v2/rec",
        function: "rec_list",
        access: Access::Merchant(Scope::RecRead),
        idempotency: Idempotency::Off,
        keys: &[DEVEDOR, PAGADOR],
        quota: Quota::List,
    },
    Route {
        id: RouteId::RecGet,
        method: "GET",
        path: "/v2/rec/{idRec}",
        function: "rec_get",
        access: Access::Merchant(Scope::RecRead),
        idempotency: Idempotency::Off,
        keys: &[DEVEDOR, PAGADOR],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::RecPatch,
        method: "PATCH",
        path: "/v2/rec/{idRec}",
        function: "rec_patch",
        access: Access::Merchant(Scope::RecWrite),
        idempotency: Idempotency::Optional,
        keys: &[DEVEDOR, PAGADOR, IDEMPOTENCY_RESPONSE, RAIL_SECRET],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::SolicRecPost,
        method: "POST",
        path: "/v2/solicrec",
        function: "solicrec_post",
        access: Access::Merchant(Scope::SolicRecWrite),
        idempotency: Idempotency::Optional,
        keys: &[DEVEDOR, PAGADOR, IDEMPOTENCY_RESPONSE, RAIL_SECRET],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::SolicRecGet,
        method: "GET",
        path: "/v2/solicrec/{idSolicRec}",
        function: "solicrec_get",
        access: Access::Merchant(Scope::SolicRecRead),
        idempotency: Idempotency::Off,
        keys: &[DEVEDOR, PAGADOR],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::SolicRecPatch,
        method: "PATCH",
        path: "/v2/solicrec/{idSolicRec}",
        function: "solicrec_patch",
        access: Access::Merchant(Scope::SolicRecWrite),
        idempotency: Idempotency::Optional,
        keys: &[DEVEDOR, PAGADOR, IDEMPOTENCY_RESPONSE, RAIL_SECRET],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::CobRPut,
        method: "PUT",
        path: "/v2/cobr/{txid}",
        function: "cobr_put",
        access: Access::Merchant(Scope::CobrWrite),
        idempotency: Idempotency::Optional,
        keys: &[DEVEDOR, PAGADOR, IDEMPOTENCY_RESPONSE, RAIL_SECRET],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::CobRPost,
        method: "POST",
        path: "/v2/cobr",
        function: "cobr_post",
        access: Access::Merchant(Scope::CobrWrite),
        idempotency: Idempotency::Optional,
        keys: &[DEVEDOR, PAGADOR, IDEMPOTENCY_RESPONSE, RAIL_SECRET],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::CobRPatch,
        method: "PATCH",
        path: "/v2/cobr/{txid}",
        function: "cobr_patch",
        access: Access::Merchant(Scope::CobrWrite),
        idempotency: Idempotency::Optional,
        keys: &[DEVEDOR, PAGADOR, IDEMPOTENCY_RESPONSE, RAIL_SECRET],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::CobRGet,
        method: "GET",
        path: "/v2/cobr/{txid}",
        function: "cobr_get",
        access: Access::Merchant(Scope::CobrRead),
        idempotency: Idempotency::Off,
        keys: &[DEVEDOR, PAGADOR],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::CobRList,
        method: "GET",
        path: "/v2/cobr",
        function: "cobr_list",
        access: Access::Merchant(Scope::CobrRead),
        idempotency: Idempotency::Off,
        keys: &[DEVEDOR, PAGADOR],
        quota: Quota::List,
    },
    Route {
        id: RouteId::CobRRetry,
        method: "POST",
        path: "/v2/cobr/{txid}/retentativa/{data}",
        function: "cobr_retentativa_post",
        access: Access::Merchant(Scope::CobrWrite),
        idempotency: Idempotency::Optional,
        keys: &[DEVEDOR, PAGADOR, IDEMPOTENCY_RESPONSE, RAIL_SECRET],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::PayloadGet,
        method: "GET",
        path: "/qr/v2/{token}",
        function: "payload_get",
        access: Access::Public,
        idempotency: Idempotency::Off,
        keys: &[DEVEDOR, PAGADOR],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::PayloadCobvGet,
        method: "GET",
        path: "/qr/v2/cobv/{token}",
        function: "payload_cobv_get",
        access: Access::Public,
        idempotency: Idempotency::Off,
        keys: &[DEVEDOR, PAGADOR],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::JwksGet,
        method: "GET",
        path: "/.well-known/jwks.json",
        function: "jwks_get",
        access: Access::Public,
        idempotency: Idempotency::Off,
        keys: &[],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::LocPost,
        method: "POST",
        path: "/v2/loc",
        function: "loc_post",
        access: Access::Merchant(Scope::PayloadLocationWrite),
        idempotency: Idempotency::Optional,
        keys: &[IDEMPOTENCY_RESPONSE],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::LocList,
        method: "GET",
        path: "/v2/loc",
        function: "loc_list",
        access: Access::Merchant(Scope::PayloadLocationRead),
        idempotency: Idempotency::Off,
        keys: &[],
        quota: Quota::List,
    },
    Route {
        id: RouteId::LocGet,
        method: "GET",
        path: "/v2/loc/{id}",
        function: "loc_get",
        access: Access::Merchant(Scope::PayloadLocationRead),
        idempotency: Idempotency::Off,
        keys: &[],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::LocUnlink,
        method: "DELETE",
        path: "/v2/loc/{id}/txid",
        function: "loc_txid_delete",
        access: Access::Merchant(Scope::PayloadLocationWrite),
        idempotency: Idempotency::Off,
        keys: &[],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::LocQrCodeGet,
        method: "GET",
        path: "/v2/loc/{id}/qrcode",
        function: "loc_qrcode_get",
        access: Access::Merchant(Scope::PayloadLocationRead),
        idempotency: Idempotency::Off,
        keys: &[],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::LocRecPost,
        method: "POST",
        path: "/v2/locrec",
        function: "locrec_post",
        access: Access::Merchant(Scope::PayloadLocationRecWrite),
        idempotency: Idempotency::Optional,
        keys: &[IDEMPOTENCY_RESPONSE],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::LocRecList,
        method: "GET",
        path: "/v2/locrec",
        function: "locrec_list",
        access: Access::Merchant(Scope::PayloadLocationRecRead),
        idempotency: Idempotency::Off,
        keys: &[],
        quota: Quota::List,
    },
    Route {
        id: RouteId::LocRecGet,
        method: "GET",
        path: "/v2/locrec/{id}",
        function: "locrec_get",
        access: Access::Merchant(Scope::PayloadLocationRecRead),
        idempotency: Idempotency::Off,
        keys: &[],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::LocRecUnlink,
        method: "DELETE",
        path: "/v2/locrec/{id}/idRec",
        function: "locrec_idrec_delete",
        access: Access::Merchant(Scope::PayloadLocationRecWrite),
        idempotency: Idempotency::Off,
        keys: &[],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::PixGet,
        method: "GET",
        path: "/v2/pix/{e2eid}",
        function: "pix_get",
        access: Access::Merchant(Scope::PixRead),
        idempotency: Idempotency::Off,
        keys: &[PAGADOR],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::PixList,
        method: "GET",
        path: "/v2/pix",
        function: "pix_list",
        access: Access::Merchant(Scope::PixRead),
        idempotency: Idempotency::Off,
        keys: &[PAGADOR],
        quota: Quota::List,
    },
    Route {
        id: RouteId::RefundPut,
        method: "PUT",
        path: "/v2/pix/{e2eid}/devolucao/{id}",
        function: "refund_put",
        access: Access::Merchant(Scope::PixWrite),
        idempotency: Idempotency::Optional,
        keys: &[PAGADOR, IDEMPOTENCY_RESPONSE, RAIL_SECRET],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::RefundGet,
        method: "GET",
        path: "/v2/pix/{e2eid}/devolucao/{id}",
        function: "refund_get",
        access: Access::Merchant(Scope::PixRead),
        idempotency: Idempotency::Off,
        keys: &[],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::BalanceGet,
        method: "GET",
        path: "/v2/saldo",
        function: "balance_get",
        access: Access::Merchant(Scope::SaldoRead),
        idempotency: Idempotency::Off,
        keys: &[],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::StatementGet,
        method: "GET",
        path: "/v2/extrato",
        function: "statement_get",
        access: Access::Merchant(Scope::ExtratoRead),
        idempotency: Idempotency::Off,
        keys: &[],
        quota: Quota::List,
    },
    Route {
        id: RouteId::TransferPut,
        method: "PUT",
        path: "/v2/envio/{idEnvio}",
        function: "transfer_put",
        access: Access::Merchant(Scope::EnvioWrite),
        idempotency: Idempotency::Optional,
        keys: &[FAVORECIDO, IDEMPOTENCY_RESPONSE, RAIL_SECRET],
        quota: Quota::Dict,
    },
    Route {
        id: RouteId::TransferQrPut,
        method: "PUT",
        path: "/v2/envio/{idEnvio}/qrcode",
        function: "transfer_qr_put",
        access: Access::Merchant(Scope::EnvioWrite),
        idempotency: Idempotency::Optional,
        keys: &[FAVORECIDO, IDEMPOTENCY_RESPONSE, RAIL_SECRET],
        quota: Quota::Dict,
    },
    Route {
        id: RouteId::TransferGet,
        method: "GET",
        path: "/v2/envio/{idEnvio}",
        function: "transfer_get",
        access: Access::Merchant(Scope::EnvioRead),
        idempotency: Idempotency::Off,
        keys: &[FAVORECIDO],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::TransferList,
        method: "GET",
        path: "/v2/envio",
        function: "transfer_list",
        access: Access::Merchant(Scope::EnvioRead),
        idempotency: Idempotency::Off,
        keys: &[FAVORECIDO],
        quota: Quota::List,
    },
    Route {
        id: RouteId::DictGet,
        method: "GET",
        path: "/v2/dict/{chave}",
        function: "dict_get",
        access: Access::Merchant(Scope::DictRead),
        idempotency: Idempotency::Off,
        keys: &[RAIL_SECRET],
        quota: Quota::Dict,
    },
    Route {
        id: RouteId::WebhookPut,
        method: "PUT",
        path: "/v2/webhook/{chave}",
        function: "webhook_put",
        access: Access::Merchant(Scope::WebhookWrite),
        idempotency: Idempotency::Optional,
        keys: &[WEBHOOK_SECRET, IDEMPOTENCY_RESPONSE],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::WebhookGet,
        method: "GET",
        path: "/v2/webhook/{chave}",
        function: "webhook_get",
        access: Access::Merchant(Scope::WebhookRead),
        idempotency: Idempotency::Off,
        keys: &[],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::WebhookDelete,
        method: "DELETE",
        path: "/v2/webhook/{chave}",
        function: "webhook_delete",
        access: Access::Merchant(Scope::WebhookWrite),
        idempotency: Idempotency::Optional,
        keys: &[IDEMPOTENCY_RESPONSE],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::WebhookList,
        method: "GET",
        path: "/v2/webhook",
        function: "webhook_list",
        access: Access::Merchant(Scope::WebhookRead),
        idempotency: Idempotency::Off,
        keys: &[],
        quota: Quota::List,
    },
    Route {
        id: RouteId::WebhookRecPut,
        method: "PUT",
        path: "/v2/webhookrec",
        function: "webhookrec_put",
        access: Access::Merchant(Scope::WebhookRecWrite),
        idempotency: Idempotency::Optional,
        keys: &[WEBHOOK_SECRET, IDEMPOTENCY_RESPONSE],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::WebhookRecGet,
        method: "GET",
        path: "/v2/webhookrec",
        function: "webhookrec_get",
        access: Access::Merchant(Scope::WebhookRecRead),
        idempotency: Idempotency::Off,
        keys: &[],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::WebhookRecDelete,
        method: "DELETE",
        path: "/v2/webhookrec",
        function: "webhookrec_delete",
        access: Access::Merchant(Scope::WebhookRecWrite),
        idempotency: Idempotency::Optional,
        keys: &[IDEMPOTENCY_RESPONSE],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::WebhookCobRPut,
        method: "PUT",
        path: "/v2/webhookcobr",
        function: "webhookcobr_put",
        access: Access::Merchant(Scope::WebhookCobrWrite),
        idempotency: Idempotency::Optional,
        keys: &[WEBHOOK_SECRET, IDEMPOTENCY_RESPONSE],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::WebhookCobRGet,
        method: "GET",
        path: "/v2/webhookcobr",
        function: "webhookcobr_get",
        access: Access::Merchant(Scope::WebhookCobrRead),
        idempotency: Idempotency::Off,
        keys: &[],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::WebhookCobRDelete,
        method: "DELETE",
        path: "/v2/webhookcobr",
        function: "webhookcobr_delete",
        access: Access::Merchant(Scope::WebhookCobrWrite),
        idempotency: Idempotency::Optional,
        keys: &[IDEMPOTENCY_RESPONSE],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::EndpointPost,
        method: "POST",
        path: "/v2/webhooks",
        function: "endpoint_post",
        access: Access::Merchant(Scope::WebhooksWrite),
        idempotency: Idempotency::Required,
        keys: &[WEBHOOK_SECRET, IDEMPOTENCY_RESPONSE],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::EndpointList,
        method: "GET",
        path: "/v2/webhooks",
        function: "endpoint_list",
        access: Access::Merchant(Scope::WebhooksRead),
        idempotency: Idempotency::Off,
        keys: &[],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::EndpointGet,
        method: "GET",
        path: "/v2/webhooks/{id}",
        function: "endpoint_get",
        access: Access::Merchant(Scope::WebhooksRead),
        idempotency: Idempotency::Off,
        keys: &[],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::EndpointDelete,
        method: "DELETE",
        path: "/v2/webhooks/{id}",
        function: "endpoint_delete",
        access: Access::Merchant(Scope::WebhooksWrite),
        idempotency: Idempotency::Optional,
        keys: &[IDEMPOTENCY_RESPONSE],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::EndpointRotate,
        method: "POST",
        path: "/v2/webhooks/{id}/segredo",
        function: "endpoint_rotate",
        access: Access::Merchant(Scope::WebhooksWrite),
        idempotency: Idempotency::Required,
        keys: &[WEBHOOK_SECRET, IDEMPOTENCY_RESPONSE],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::EndpointReplay,
        method: "POST",
        path: "/v2/webhooks/{id}/reenviar",
        function: "endpoint_replay",
        access: Access::Merchant(Scope::WebhooksWrite),
        idempotency: Idempotency::Required,
        keys: &[IDEMPOTENCY_RESPONSE],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::EndpointDeliveries,
        method: "GET",
        path: "/v2/webhooks/{id}/entregas",
        function: "endpoint_deliveries",
        access: Access::Merchant(Scope::WebhooksRead),
        idempotency: Idempotency::Off,
        keys: &[],
        quota: Quota::List,
    },
    Route {
        id: RouteId::EventList,
        method: "GET",
        path: "/v2/eventos",
        function: "event_list",
        access: Access::Merchant(Scope::EventosRead),
        idempotency: Idempotency::Off,
        keys: &[],
        quota: Quota::List,
    },
    Route {
        id: RouteId::EventGet,
        method: "GET",
        path: "/v2/eventos/{id}",
        function: "event_get",
        access: Access::Merchant(Scope::EventosRead),
        idempotency: Idempotency::Off,
        keys: &[],
        quota: Quota::Unlimited,
    },
    Route {
        id: RouteId::RailNotification,
        method: "POST",
        path: "/rail/notificacoes",
        function: "rail_notification",
        access: Access::Rail,
        idempotency: Idempotency::Off,
        keys: &[PAGADOR, DEVEDOR, RAIL_SECRET],
        quota: Quota::Unlimited,
    },
];

/// What starts a function that serves no HTTP route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// An EventBridge schedule expression.
    Schedule(&'static str),
    /// An SQS queue (its resource name in `serverless.yml`).
    Queue(&'static str),
    /// CloudFormation, as a custom resource on every deploy.
    Deploy,
    /// An operator, through `lambda:InvokeFunction` with IAM (no event source).
    Operator,
}

/// A function no HTTP route calls.
#[derive(Debug, Clone, Copy)]
pub struct Job {
    pub function: &'static str,
    pub trigger: Trigger,
    /// As for routes: the encryption purposes it may use.
    pub keys: &'static [&'static str],
}

/// The scheduled and queue-fed functions; `serverless.yml` and `functions/` follow this
/// list as they follow `ROUTES`.
pub const JOBS: &[Job] = &[
    Job {
        function: "reconciler",
        trigger: Trigger::Schedule("rate(1 minute)"),
        keys: &[FAVORECIDO, PAGADOR, DEVEDOR, RAIL_SECRET],
    },
    Job { function: "webhook_relay", trigger: Trigger::Schedule("rate(1 minute)"), keys: &[] },
    Job { function: "lotecobv_worker", trigger: Trigger::Schedule("rate(1 minute)"), keys: &[DEVEDOR] },
    Job {
        function: "webhook_deliver",
        trigger: Trigger::Queue("WebhookQueue"),
        keys: &[WEBHOOK_SECRET, PAGADOR, DEVEDOR],
    },
    Job { function: "migrate", trigger: Trigger::Deploy, keys: &[BLIND_INDEX_KEY] },
    Job { function: "admin", trigger: Trigger::Operator, keys: &[] },
];

/// The route table as data (`tucano routes --json`): what `scripts/serverless_yml.py`
/// writes the template from, so that the table has one source. Enum values by their Rust
/// names; `keys` are the KMS encryption purposes' values and `secrets` the other entries
/// of a policy (the rail secret); `cold_start_keys`, the purposes every function uses
/// whatever its entry lists.
pub fn table_json() -> serde_json::Value {
    let kms = |keys: &[&'static str]| keys.iter().copied().filter(|k| *k != RAIL_SECRET).collect::<Vec<_>>();
    let secrets = |keys: &[&'static str]| keys.iter().copied().filter(|k| *k == RAIL_SECRET).collect::<Vec<_>>();
    let routes: Vec<_> = ROUTES
        .iter()
        .map(|r| {
            serde_json::json!({
                "function": r.function,
                "method": r.method,
                "path": r.path,
                "access": r.access.name(),
                "scope": r.access.scope().map(Scope::as_str),
                "idempotency": format!("{:?}", r.idempotency),
                "quota": format!("{:?}", r.quota),
                "keys": kms(r.keys),
                "secrets": secrets(r.keys),
                "indexKey": r.holds_index_key(),
            })
        })
        .collect();
    let jobs: Vec<_> = JOBS
        .iter()
        .map(|j| {
            let (trigger, argument) = match j.trigger {
                Trigger::Schedule(expression) => ("Schedule", Some(expression)),
                Trigger::Queue(queue) => ("Queue", Some(queue)),
                Trigger::Deploy => ("Deploy", None),
                Trigger::Operator => ("Operator", None),
            };
            serde_json::json!({"function": j.function, "trigger": trigger, "argument": argument,
                               "keys": kms(j.keys), "secrets": secrets(j.keys), "indexKey": j.holds_index_key()})
        })
        .collect();
    serde_json::json!({"routes": routes, "jobs": jobs, "cold_start_keys": [BLIND_INDEX_KEY]})
}

/// The functions that hold no blind-index key (the key derives the access tokens' signing
/// key, so it mints tokens for any merchant): the public ones that parse what anyone sends,
/// and the webhook relay and delivery worker (the latter posts to addresses merchants
/// choose), none of which needs document indexes or tokens. In AWS they are not given it;
/// here their work is refused an index.
const NO_INDEX_KEY: &[&str] =
    &["openapi_get", "jwks_get", "payload_get", "payload_cobv_get", "webhook_relay", "webhook_deliver"];

impl Route {
    /// Whether its function holds the blind-index key (see [`NO_INDEX_KEY`]).
    pub fn holds_index_key(&self) -> bool {
        !NO_INDEX_KEY.contains(&self.function)
    }
}

impl Job {
    /// Whether its function holds the blind-index key (see [`NO_INDEX_KEY`]).
    pub fn holds_index_key(&self) -> bool {
        !NO_INDEX_KEY.contains(&self.function)
    }
}

/// Runs `work` held to the job `function`'s policy, as its Lambda is: its encryption
/// purposes, and blind indexes only if it holds the index key (an unknown name: neither).
pub async fn within_job<F: std::future::Future>(function: &str, work: F) -> F::Output {
    match JOBS.iter().find(|j| j.function == function) {
        Some(job) => key_policy::within_route(job.keys, job.holds_index_key(), work).await,
        None => key_policy::within_route(&[], false, work).await,
    }
}

impl RouteId {
    /// This route's entry in the table (None would be a bug: a test checks every entry).
    pub fn route(self) -> Option<&'static Route> {
        ROUTES.iter().find(|r| r.id == self)
    }
}

impl Route {
    /// The percent-decoded parameters if `path` matches this route's template.
    pub fn matches(&self, path: &str) -> Option<PathParams> {
        let mut params = vec![];
        let mut actual = path.strip_prefix('/')?.split('/');
        for expected in self.path.trim_start_matches('/').split('/') {
            let segment = actual.next()?;
            match expected.strip_prefix('{').and_then(|e| e.strip_suffix('}')) {
                Some(name) => {
                    let decoded = percent_decode_str(segment).decode_utf8().ok()?;
                    if decoded.is_empty() {
                        return None;
                    }
                    params.push((name, decoded.into_owned()));
                }
                None if segment == expected => {}
                None => return None,
            }
        }
        actual.next().is_none().then_some(PathParams(params))
    }
}

/// What the table says about a method and path.
pub enum Resolved {
    Found(&'static Route, PathParams),
    /// The path exists with other methods (listed for the `Allow` header).
    MethodNotAllowed(Vec<&'static str>),
    NotFound,
}

pub fn resolve(method: &Method, path: &str) -> Resolved {
    let mut allowed = vec![];
    for route in ROUTES {
        if let Some(params) = route.matches(path) {
            if route.method == method.as_str() {
                return Resolved::Found(route, params);
            }
            allowed.push(route.method);
        }
    }
    if allowed.is_empty() {
        Resolved::NotFound
    } else {
        Resolved::MethodNotAllowed(allowed)
    }
}

/// The answer for a request that matched no route.
pub fn unrouted(resolved: Resolved, request_id: &str) -> Option<Response> {
    let err = match resolved {
        Resolved::Found(..) => return None,
        Resolved::NotFound => ApiError::new(ProblemKind::NaoEncontrado, "No such resource."),
        Resolved::MethodNotAllowed(allowed) => {
            let mut e = ApiError::new(ProblemKind::MetodoNaoPermitido, "This resource does not accept that method.");
            if let Ok(v) = HeaderValue::from_str(&allowed.join(", ")) {
                e.headers.push((header::ALLOW, v));
            }
            e
        }
    };
    Some(err.into_response(request_id))
}

impl Route {
    /// The largest body the route accepts: a batch of charges is larger than any other,
    /// then a batch of the rail's notifications.
    pub fn max_body(&self) -> usize {
        match self.id {
            RouteId::LoteCobVPut | RouteId::LoteCobVPatch => crate::http::MAX_BATCH_BODY_BYTES,
            RouteId::RailNotification => crate::http::MAX_RAIL_BODY_BYTES,
            _ => MAX_BODY_BYTES,
        }
    }
}

/// The 413 for a body over `limit` bytes.
pub fn too_large(request_id: &str, limit: usize) -> Response {
    ApiError::new(ProblemKind::RequisicaoMuitoGrande, format!("The request body is larger than {limit} bytes."))
        .into_response(request_id)
}

fn body_is_json_or_absent(req: &Request) -> bool {
    match req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(ct) => {
            let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
        }
    }
}

/// Runs one request through its route: authentication, idempotency, handler. Always
/// answers: errors become problem+json.
pub async fn handle(
    state: &AppState,
    route: &'static Route,
    mut req: Request,
    params: PathParams,
    request_id: String,
) -> Response {
    let trace = crate::telemetry::trace_id(req.headers().get("x-amzn-trace-id").and_then(|v| v.to_str().ok()));
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        route = route.function,
        merchant_id = tracing::field::Empty,
        trace_id = trace.as_deref().unwrap_or("")
    );
    req.extensions_mut().insert(params);
    req.extensions_mut().insert(RequestId(request_id.clone()));
    async move {
        let started = Instant::now();
        let work = run(state, route, req, &request_id);
        let mut res = match key_policy::within_route(route.keys, route.holds_index_key(), work).await {
            Ok(res) => res,
            Err(e) => e.into_response(&request_id),
        };
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            res.headers_mut().insert("x-request-id", v);
        }
        tracing::info!(
            status = res.status().as_u16(),
            latency_ms = started.elapsed().as_secs_f64() * 1e3,
            "request done"
        );
        res
    }
    .instrument(span)
    .await
}

async fn run(
    state: &AppState,
    route: &'static Route,
    mut req: Request,
    request_id: &str,
) -> Result<Response, ApiError> {
    // The token endpoint reads forms too (RFC 6749); every other body is JSON.
    if route.id != RouteId::OAuthToken && !req.body().is_empty() && !body_is_json_or_absent(&req) {
        return Err(ApiError::new(ProblemKind::TipoDeConteudoNaoSuportado, "Send the body as application/json."));
    }
    state.keep_db_auth_fresh().await?;
    let merchant = match route.access {
        Access::Merchant(scope) => {
            let (m, scopes) = authenticate(state, &req).await?;
            require(scopes, scope)?;
            crate::http::quota::admit(state, route.quota, &m).await?;
            req.extensions_mut().insert(m.clone());
            Some(m)
        }
        Access::Public | Access::Rail => None,
    };
    match (route.idempotency, &merchant) {
        (Idempotency::Required | Idempotency::Optional, Some(m)) => {
            idempotency::guard(state, m, route.idempotency == Idempotency::Required, &req, request_id, || {
                dispatch(state, route.id, &req)
            })
            .await
        }
        _ => dispatch(state, route.id, &req).await,
    }
}

async fn dispatch(state: &AppState, route: RouteId, req: &Request) -> Result<Response, ApiError> {
    match route {
        RouteId::OAuthToken => oauth::token(state, req).await,
        RouteId::OpenApiGet => Ok(openapi::get()),
        RouteId::CobPut => cob::put(state, req).await,
        RouteId::CobPost => cob::post(state, req).await,
        RouteId::CobPatch => cob::patch(state, req).await,
        RouteId::CobGet => cob::get(state, req).await,
        RouteId::CobList => cob::list(state, req).await,
        RouteId::CobVPut => cobv::put(state, req).await,
        RouteId::CobVPatch => cobv::patch(state, req).await,
        RouteId::CobVGet => cobv::get(state, req).await,
        RouteId::CobVList => cobv::list(state, req).await,
        RouteId::LoteCobVPut => lotecobv::put(state, req).await,
        RouteId::LoteCobVPatch => lotecobv::patch(state, req).await,
        RouteId::LoteCobVGet => lotecobv::get(state, req).await,
        RouteId::LoteCobVList => lotecobv::list(state, req).await,
        RouteId::RecPost => rec::rec_post(state, req).await,
        RouteId::RecList => rec::rec_list(state, req).await,
        RouteId::RecGet => rec::rec_get(state, req).await,
        RouteId::RecPatch => rec::rec_patch(state, req).await,
        RouteId::SolicRecPost => rec::solicrec_post(state, req).await,
        RouteId::SolicRecGet => rec::solicrec_get(state, req).await,
        RouteId::SolicRecPatch => rec::solicrec_patch(state, req).await,
        RouteId::CobRPut => rec::cobr_put(state, req).await,
        RouteId::CobRPost => rec::cobr_post(state, req).await,
        RouteId::CobRPatch => rec::cobr_patch(state, req).await,
        RouteId::CobRGet => rec::cobr_get(state, req).await,
        RouteId::CobRList => rec::cobr_list(state, req).await,
        RouteId::CobRRetry => rec::cobr_retry(state, req).await,
        RouteId::PayloadGet | RouteId::PayloadCobvGet => payload::get(state, req).await,
        RouteId::JwksGet => payload::jwks(state, req).await,
        RouteId::LocPost => loc::post(state, req).await,
        RouteId::LocList => loc::list(state, req).await,
        RouteId::LocGet => loc::get(state, req).await,
        RouteId::LocUnlink => loc::unlink(state, req).await,
        RouteId::LocQrCodeGet => loc::qrcode(state, req).await,
        RouteId::LocRecPost => rec::locrec_post(state, req).await,
        RouteId::LocRecList => rec::locrec_list(state, req).await,
        RouteId::LocRecGet => rec::locrec_get(state, req).await,
        RouteId::LocRecUnlink => rec::locrec_unlink(state, req).await,
        RouteId::PixGet => pix::get(state, req).await,
        RouteId::PixList => pix::list(state, req).await,
        RouteId::RefundPut => pix::refund_put(state, req).await,
        RouteId::RefundGet => pix::refund_get(state, req).await,
        RouteId::BalanceGet => account::balance(state, req).await,
        RouteId::StatementGet => account::statement(state, req).await,
        RouteId::RailNotification => rail::notification(state, req).await,
        RouteId::TransferPut => envio::put(state, req).await,
        RouteId::TransferQrPut => envio::put_qrcode(state, req).await,
        RouteId::TransferGet => envio::get(state, req).await,
        RouteId::TransferList => envio::list(state, req).await,
        RouteId::DictGet => envio::dict(state, req).await,
        RouteId::WebhookPut => webhooks::bacen_put(state, req).await,
        RouteId::WebhookGet => webhooks::bacen_get(state, req).await,
        RouteId::WebhookDelete => webhooks::bacen_delete(state, req).await,
        RouteId::WebhookList => webhooks::bacen_list(state, req).await,
        RouteId::WebhookRecPut => webhooks::rec_put(state, req).await,
        RouteId::WebhookRecGet => webhooks::rec_get(state, req).await,
        RouteId::WebhookRecDelete => webhooks::rec_delete(state, req).await,
        RouteId::WebhookCobRPut => webhooks::cobr_put(state, req).await,
        RouteId::WebhookCobRGet => webhooks::cobr_get(state, req).await,
        RouteId::WebhookCobRDelete => webhooks::cobr_delete(state, req).await,
        RouteId::EndpointPost => webhooks::create(state, req).await,
        RouteId::EndpointList => webhooks::list(state, req).await,
        RouteId::EndpointGet => webhooks::get(state, req).await,
        RouteId::EndpointDelete => webhooks::delete(state, req).await,
        RouteId::EndpointRotate => webhooks::rotate(state, req).await,
        RouteId::EndpointReplay => webhooks::replay(state, req).await,
        RouteId::EndpointDeliveries => webhooks::deliveries(state, req).await,
        RouteId::EventList => webhooks::events(state, req).await,
        RouteId::EventGet => webhooks::event(state, req).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_id_has_exactly_one_entry_and_names_are_unique() {
        for r in ROUTES {
            assert_eq!(ROUTES.iter().filter(|x| x.id == r.id).count(), 1);
            assert_eq!(ROUTES.iter().filter(|x| x.function == r.function).count(), 1);
            assert_eq!(ROUTES.iter().filter(|x| x.method == r.method && x.path == r.path).count(), 1);
            assert_eq!(r.id.route().map(|x| x.function), Some(r.function));
        }
    }

    #[test]
    fn a_route_that_keeps_responses_for_replay_may_seal_them_and_no_other_may() {
        for r in ROUTES {
            let keeps = !matches!(r.idempotency, Idempotency::Off);
            assert_eq!(r.keys.contains(&IDEMPOTENCY_RESPONSE), keeps, "{}", r.function);
        }
    }

    #[test]
    fn templates_match_and_decode_parameters() {
        let Resolved::Found(route, params) = resolve(&Method::GET, "/v2/cob/abc%41") else { panic!() };
        assert_eq!(route.id, RouteId::CobGet);
        assert_eq!(params.get("txid"), "abcA");
        assert!(matches!(resolve(&Method::GET, "/v2/cob"), Resolved::Found(r, _) if r.id == RouteId::CobList));
        assert!(matches!(resolve(&Method::GET, "/v2/cob/a/b"), Resolved::NotFound));
        assert!(matches!(resolve(&Method::GET, "/v2/cob/"), Resolved::NotFound));
        assert!(matches!(resolve(&Method::GET, "/nope"), Resolved::NotFound));
        assert!(matches!(resolve(&Method::DELETE, "/v2/cob/x"), Resolved::MethodNotAllowed(m) if m.len() == 3));
    }
}
