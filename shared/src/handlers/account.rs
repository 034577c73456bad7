//! `/saldo` and `/extrato`: the merchant's balance and statement, straight from the ledger.

use crate::app::opaque_ids::{IdSpace, OpaqueIds};
use crate::app::AppState;
use crate::bacen::extrato::{Extrato, Lancamento, Saldo};
use crate::bacen::{timestamp, Paginacao, Parametros};
use crate::domain::ledger::EntryKind;
use crate::domain::money::Amount;
use crate::http::auth::authenticated;
use crate::http::problem::{ApiError, ProblemKind};
use crate::http::query::QueryParams;
use crate::http::{json, Request, Response};
use crate::ports::{StatementLine, StatementQuery};
use http::StatusCode;

/// `GET /saldo`: available and pending (reserved for money on its way out).
pub async fn balance(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let b = crate::app::account::balance(state, &merchant).await?;
    let saldo = Saldo {
        disponivel: b.available.to_string(),
        pendente: b.pending.to_string(),
        horario: timestamp(state.clock.now()),
    };
    Ok(json(StatusCode::OK, &saldo))
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
        EntryKind::DebtRepayment => "SALDO_DEVEDOR_PAGO",
    }
}

fn line<'a>(l: &'a StatementLine, ids: &OpaqueIds) -> Result<Lancamento<'a>, ApiError> {
    let amount = Amount::from_centavos(l.amount.abs())
        .map_err(|e| ApiError::internal(anyhow::Error::new(e).context("posting amount")))?;
    Ok(Lancamento::new(ids.seal(l.id), l.at, tipo(l.kind), l.available, amount, l.amount >= 0, &l.reference))
}

/// `GET /extrato[?inicio=&fim=&paginacao...]`: ledger postings on the merchant's accounts,
/// newest first, each with the reference of its movement.
pub async fn statement(state: &AppState, req: &Request) -> Result<Response, ApiError> {
    let merchant = authenticated(req)?;
    let mut q = QueryParams::new(req.uri().query());
    let inicio = q.timestamp("inicio");
    let fim = q.fim();
    let (pagina, itens_por_pagina) = q.pagination();
    let query = StatementQuery { inicio, fim, pagina, itens_por_pagina };
    let query =
        q.finish(Some(query), ProblemKind::RequisicaoInvalida, "The query parameters do not follow the schema.")?;
    let page = crate::app::account::statement(state, &merchant, &query).await?;
    let ids = OpaqueIds::new(state.cipher.as_ref(), IdSpace::StatementLine, merchant.id)
        .map_err(|e| ApiError::internal(e.into()))?;
    let body = Extrato {
        parametros: Parametros::optional(query.inicio, query.fim, Paginacao::new(pagina, itens_por_pagina, page.total)),
        lancamentos: page.items.iter().map(|l| line(l, &ids)).collect::<Result<_, _>>()?,
    };
    Ok(json(StatusCode::OK, &body))
}
