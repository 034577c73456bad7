//! `/saldo` and `/extrato`: the merchant's balance and statement, straight from the ledger.

use crate::app::opaque_ids::{IdSpace, OpaqueIds};
use crate::app::AppState;
use crate::domain::ledger::EntryKind;
use crate::handlers::cob::view::timestamp;
use crate::http::auth::authenticated;
use crate::http::problem::{ApiError, ProblemKind};
use crate::http::query::QueryParams;
use crate::http::{json, Request, Response};
use crate::ports::{StatementLine, StatementQuery};
use chrono::Utc;
use http::StatusCode;
use serde_json::{json as j, Value};

/// `GET /saldo`: available and pending (reserved for money on its way out).
pub async fn balance(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let b = state.ledger.balance(merchant.id).await?;
    Ok(json(
        StatusCode::OK,
        &j!({"disponivel": b.available.to_string(), "pendente": b.pending.to_string(), "horario": timestamp(Utc::now())}),
    ))
}

fn tipo(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::PixReceived => "PIX_RECEBIDO",
        EntryKind::RefundReserve => "DEVOLUCAO_RESERVADA",
        EntryKind::RefundSettle => "DEVOLUCAO_LIQUIDADA",
        EntryKind::RefundVoid => "DEVOLUCAO_ESTORNADA",
        EntryKind::TransferReserve => "ENVIO_RESERVADO",
        EntryKind::TransferSettle => "ENVIO_LIQUIDADO",
        EntryKind::TransferVoid => "ENVIO_ESTORNADO",
        EntryKind::TransferCorrection => "ENVIO_CORRIGIDO",
        EntryKind::RefundCorrection => "DEVOLUCAO_CORRIGIDA",
        EntryKind::TransferReturn => "ENVIO_DEVOLVIDO",
        EntryKind::PixReceivedCorrection => "PIX_RECEBIDO_CORRIGIDO",
    }
}

fn line(l: &StatementLine, ids: &OpaqueIds) -> Value {
    j!({
        // Opaque and this merchant's: not the platform-wide posting sequence.
        "id": ids.seal(l.id),
        "horario": timestamp(l.at),
        "tipo": tipo(l.kind),
        "conta": if l.available { "DISPONIVEL" } else { "PENDENTE" },
        "natureza": if l.amount >= 0 { "CREDITO" } else { "DEBITO" },
        "valor": crate::domain::money::Amount::from_centavos(l.amount.abs()).map(|a| a.to_string()).unwrap_or_default(),
        "referencia": l.reference,
    })
}

/// `GET /extrato[?inicio=&fim=&paginacao...]`: ledger postings on the merchant's accounts,
/// newest first, each with the reference of its movement.
pub async fn statement(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let mut q = QueryParams::new(req.uri().query());
    let inicio = q.timestamp("inicio");
    let fim = q.timestamp("fim");
    let (pagina, itens_por_pagina) = q.pagination();
    let query = StatementQuery { inicio, fim, pagina, itens_por_pagina };
    let query =
        q.finish(Some(query), ProblemKind::RequisicaoInvalida, "The query parameters do not follow the schema.")?;
    let page = state.ledger.statement(merchant.id, &query).await?;
    let ids = OpaqueIds::new(state.cipher.as_ref(), IdSpace::StatementLine, merchant.id);
    let mut parametros = serde_json::Map::new();
    if let Some(i) = query.inicio {
        parametros.insert("inicio".into(), j!(timestamp(i)));
    }
    if let Some(f) = query.fim {
        parametros.insert("fim".into(), j!(timestamp(f)));
    }
    parametros.insert("paginacao".into(), crate::handlers::paginacao(pagina, itens_por_pagina, page.total));
    Ok(json(
        StatusCode::OK,
        &j!({"parametros": parametros, "lancamentos": page.items.iter().map(|l| line(l, &ids)).collect::<Vec<_>>()}),
    ))
}
