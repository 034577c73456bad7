//! Parsing `/pix` requests: the refund body and the list query.

use crate::domain::ids::{RefundId, Txid};
use crate::domain::money::Amount;
use crate::domain::payment::{Natureza, RefundRequest, MAX_REFUND_DESCRICAO};
use crate::http::json::{parse_body, Fields, Violations};
use crate::http::problem::{ApiError, ProblemKind};
use crate::http::query::QueryParams;
use crate::ports::PixQuery;

const DETAIL: &str = "The refund request does not follow the schema or makes no sense.";

/// The body of `PUT /pix/{e2eid}/devolucao/{id}`.
pub fn refund_request(id: RefundId, body: &[u8]) -> Result<RefundRequest, ApiError> {
    let value = parse_body(body)?;
    let mut v = Violations::default();
    let Some(mut f) = Fields::of(&value, "devolucao", &mut v) else {
        return Err(ApiError::with_violations(ProblemKind::PixDevolucaoInvalida, DETAIL, v.0));
    };
    let valor = f.string("valor", 16, &mut v);
    let valor = match f.require("valor", valor, &mut v) {
        Ok(Some(s)) => match Amount::parse(s) {
            Ok(a) if !a.is_zero() => Some(a),
            Ok(_) => {
                v.add("devolucao.valor", "must be greater than zero");
                None
            }
            Err(e) => {
                v.add("devolucao.valor", e.to_string());
                None
            }
        },
        _ => None,
    };
    let natureza = match f.string("natureza", 20, &mut v) {
        Ok(Some(s)) => Natureza::parse(s).or_else(|| {
            v.add("devolucao.natureza", "must be ORIGINAL or RETIRADA");
            None
        }),
        Ok(None) => Some(Natureza::Original),
        Err(()) => None,
    };
    let descricao = f.string("descricao", MAX_REFUND_DESCRICAO, &mut v).ok().flatten().map(str::to_owned);
    let request = match (valor, natureza) {
        (Some(valor), Some(natureza)) => Some(RefundRequest { id, valor, natureza, descricao }),
        _ => None,
    };
    v.finish(request, ProblemKind::PixDevolucaoInvalida, DETAIL)?.ok_or_else(unreachable_problem)
}

/// Only reached if a parser forgot to record a violation: still a clean 400.
fn unreachable_problem() -> ApiError {
    ApiError::new(ProblemKind::PixDevolucaoInvalida, DETAIL)
}

/// The query of `GET /pix`.
pub fn pix_query(mut q: QueryParams) -> Result<PixQuery, ApiError> {
    let interval = q.interval();
    let txid = q.parse("txid", "must be 1 to 35 letters or digits", |s| Txid::parse(s).ok());
    let txid_presente = q.boolean("txIdPresente");
    let devolucao_presente = q.boolean("devolucaoPresente");
    let pagador = q.document();
    let (pagina, itens_por_pagina) = q.pagination();
    let query = interval.map(|(inicio, fim)| PixQuery {
        inicio,
        fim,
        txids: txid.into_iter().collect(),
        txid_presente,
        devolucao_presente,
        pagador,
        pagina,
        itens_por_pagina,
    });
    q.finish(query, ProblemKind::PixConsultaInvalida, "The query parameters do not follow the schema.")
}
