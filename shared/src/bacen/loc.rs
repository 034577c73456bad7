//! `PayloadLocation(Completa)` and `PayloadLocationConsultadas`: a location as `/loc`
//! shows it, and inside a charge.

use super::{timestamp, Paginacao, Parametros};
use crate::domain::payload_location::PayloadLocation;
use crate::ports::{LocationQuery, Page};
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Loc<'a> {
    pub id: i64,
    /// The charge it serves, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub txid: Option<&'a str>,
    pub location: &'a str,
    pub tipo_cob: &'static str,
    pub criacao: String,
}

impl<'a> Loc<'a> {
    pub fn of(l: &'a PayloadLocation) -> Self {
        Loc::new(l.id, l.txid.as_ref().map(|t| t.as_str()), &l.location, l.tipo_cob.as_str(), l.criacao)
    }

    pub fn new(
        id: i64,
        txid: Option<&'a str>,
        location: &'a str,
        tipo_cob: &'static str,
        criacao: DateTime<Utc>,
    ) -> Self {
        Loc { id, txid, location, tipo_cob, criacao: timestamp(criacao) }
    }
}

/// A page of `GET /loc`.
#[derive(Debug, Serialize)]
pub struct LocsConsultadas<'a> {
    pub parametros: Parametros,
    pub loc: Vec<Loc<'a>>,
}

impl<'a> LocsConsultadas<'a> {
    pub fn of(q: &LocationQuery, p: &'a Page<PayloadLocation>) -> Self {
        LocsConsultadas {
            parametros: Parametros::new(q.inicio, q.fim, Paginacao::new(q.pagina, q.itens_por_pagina, p.total))
                .filter("txIdPresente", q.txid_presente)
                .filter("tipoCob", q.tipo_cob.map(|t| t.as_str())),
            loc: p.items.iter().map(Loc::of).collect(),
        }
    }
}
