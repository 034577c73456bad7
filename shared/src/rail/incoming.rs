//! Reading the rail's messages into domain types, field by field: a received Pix as a
//! notification or the rail's statement reports it, timestamps and amounts.

use crate::domain::document::{Cnpj, Cpf, Document};
use crate::domain::ids::{EndToEndId, Txid};
use crate::domain::money::Amount;
use crate::domain::payment::{IncomingPix, Payer};
use crate::domain::text::free_text;
use crate::http::json::Violations;
use crate::rail::protocol::PixRecebido;
use chrono::{DateTime, Utc};

/// An RFC 3339 timestamp, or a violation of `field`.
pub fn time(s: &str, field: &str, v: &mut Violations) -> Option<DateTime<Utc>> {
    let t = DateTime::parse_from_rfc3339(s).ok().map(|t| t.to_utc());
    if t.is_none() {
        v.add(field, "must be an RFC 3339 timestamp");
    }
    t
}

/// A positive Bacen amount, or a violation of `field`.
pub fn positive_amount(s: &str, field: &str, v: &mut Violations) -> Option<Amount> {
    match Amount::parse(s) {
        Ok(a) if !a.is_zero() => Some(a),
        _ => {
            v.add(field, "must be a positive Bacen amount");
            None
        }
    }
}

/// A received Pix as the rail reports it, checked field by field.
pub fn incoming(p: &PixRecebido) -> Result<IncomingPix, Violations> {
    let mut v = Violations::default();
    let e2eid = EndToEndId::parse(&p.end_to_end_id).map_err(|e| v.add("pix.endToEndId", e.to_string())).ok();
    let txid = match p.txid.as_deref() {
        Some(t) => Txid::parse(t).map(Some).map_err(|e| v.add("pix.txid", e.to_string())).ok(),
        None => Some(None),
    };
    let valor = positive_amount(&p.valor, "pix.valor", &mut v);
    let horario = time(&p.horario, "pix.horario", &mut v);
    if p.chave.is_empty() || p.chave.len() > 77 || p.chave.chars().any(char::is_control) {
        v.add("pix.chave", "must have 1 to 77 characters, none a control character");
    }
    let documento = match (&p.pagador.cpf, &p.pagador.cnpj) {
        (Some(c), None) => {
            Cpf::parse(c).map(|c| Some(Document::Cpf(c))).map_err(|_| v.add("pix.pagador.cpf", "invalid")).ok()
        }
        (None, Some(c)) => {
            Cnpj::parse(c).map(|c| Some(Document::Cnpj(c))).map_err(|_| v.add("pix.pagador.cnpj", "invalid")).ok()
        }
        (None, None) => Some(None),
        (Some(_), Some(_)) => {
            v.add("pix.pagador", "cpf and cnpj cannot both be given");
            None
        }
    };
    // Free text is kept as readable text: a payer's name is never a reason to refuse money.
    let nome = p.pagador.nome.as_deref().and_then(|n| free_text(n, 200));
    let info = p.info_pagador.as_deref().and_then(|i| free_text(i, 140));
    match (e2eid, txid, valor, horario, documento) {
        (Some(end_to_end_id), Some(txid), Some(valor), Some(horario), Some(documento)) if v.is_empty() => {
            Ok(IncomingPix {
                end_to_end_id,
                chave: p.chave.clone(),
                txid,
                valor,
                horario,
                pagador: Payer { documento, nome },
                info_pagador: info,
            })
        }
        _ => {
            if v.is_empty() {
                v.add("pix", "invalid");
            }
            Err(v)
        }
    }
}
