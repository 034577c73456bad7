//! Immediate charges in Bacen's JSON: `CobGerada`/`CobCompleta` (a charge), `CobsConsultadas`
//! (a page of them) and `PayloadCobImediata` (what the payload location serves).

use super::{timestamp, Paginacao, Parametros};
use crate::domain::charge::{Charge, ChargeTerms, Devedor, InfoAdicional};
use crate::domain::document::Document;
use crate::ports::{ChargeQuery, Page};
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Calendario {
    pub criacao: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apresentacao: Option<String>,
    pub expiracao: i32,
}

#[derive(Debug, Serialize)]
pub struct DevedorView<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpf: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cnpj: Option<&'a str>,
    pub nome: &'a str,
}

impl<'a> DevedorView<'a> {
    pub fn of(d: &'a Devedor) -> Self {
        match &d.documento {
            Document::Cpf(c) => DevedorView { cpf: Some(c.as_str()), cnpj: None, nome: &d.nome },
            Document::Cnpj(c) => DevedorView { cpf: None, cnpj: Some(c.as_str()), nome: &d.nome },
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Valor {
    pub original: String,
    /// 1 when the payer may change the amount; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modalidade_alteracao: Option<u8>,
}

/// The merchant-chosen fields of a charge, after the PSP's, in the Bacen examples' order.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Terms<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub devedor: Option<DevedorView<'a>>,
    pub valor: Valor,
    pub chave: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub solicitacao_pagador: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub info_adicionais: &'a [InfoAdicional],
}

impl<'a> Terms<'a> {
    pub fn of(t: &'a ChargeTerms) -> Self {
        Terms {
            devedor: t.devedor.as_ref().map(DevedorView::of),
            valor: Valor { original: t.valor.to_string(), modalidade_alteracao: t.valor_alteravel.then_some(1) },
            chave: t.chave.as_str(),
            solicitacao_pagador: t.solicitacao_pagador.as_deref(),
            info_adicionais: &t.info_adicionais,
        }
    }
}

/// A whole charge.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cob<'a> {
    pub calendario: Calendario,
    pub txid: &'a str,
    pub revisao: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loc: Option<super::loc::Loc<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<&'a str>,
    pub status: &'static str,
    #[serde(flatten)]
    pub terms: Terms<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pix_copia_e_cola: Option<&'a str>,
    /// The Pix that paid it (with their refunds), on a charge read whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pix: Option<Vec<super::pix::Pix<'a>>>,
}

impl<'a> Cob<'a> {
    pub fn of(c: &'a Charge) -> Self {
        Cob {
            calendario: Calendario { criacao: timestamp(c.criacao), apresentacao: None, expiracao: c.terms.expiracao },
            txid: c.txid.as_str(),
            revisao: c.revisao,
            loc: c
                .loc
                .as_ref()
                .map(|l| super::loc::Loc::new(l.id, Some(c.txid.as_str()), &l.location, "cob", l.criacao)),
            location: c.loc.as_ref().map(|l| l.location.as_str()),
            status: c.status.as_str(),
            terms: Terms::of(&c.terms),
            pix_copia_e_cola: c.pix_copia_e_cola.as_deref(),
            pix: None,
        }
    }

    /// A charge with the Pix received for it (`CobCompleta.pix`), when there are any.
    pub fn with_pix(c: &'a Charge, pix: &'a [crate::domain::payment::ReceivedPix]) -> Self {
        let pix = (!pix.is_empty()).then(|| pix.iter().map(super::pix::Pix::of).collect());
        Cob { pix, ..Cob::of(c) }
    }
}

/// A page of `GET /cob`.
#[derive(Debug, Serialize)]
pub struct CobsConsultadas<'a> {
    pub parametros: Parametros,
    pub cobs: Vec<Cob<'a>>,
}

impl<'a> CobsConsultadas<'a> {
    /// `pix`: the Pix received for the page's charges, by txid.
    pub fn of(
        q: &ChargeQuery,
        p: &'a Page<Charge>,
        pix: &'a std::collections::HashMap<String, Vec<crate::domain::payment::ReceivedPix>>,
    ) -> Self {
        CobsConsultadas {
            parametros: Parametros::new(q.inicio, q.fim, Paginacao::new(q.pagina, q.itens_por_pagina, p.total))
                .document(q.devedor.as_ref())
                .filter("status", q.status.map(|s| s.as_str()))
                .filter("locationPresente", q.location_presente),
            cobs: p
                .items
                .iter()
                .map(|c| Cob::with_pix(c, pix.get(c.txid.as_str()).map_or(&[], Vec::as_slice)))
                .collect(),
        }
    }
}

/// What a charge's payload location serves (`PayloadCobImediata`), as of `apresentacao`.
#[derive(Debug, Serialize)]
pub struct Payload<'a> {
    pub calendario: Calendario,
    pub txid: &'a str,
    pub revisao: i32,
    pub status: &'static str,
    #[serde(flatten)]
    pub terms: Terms<'a>,
}

impl<'a> Payload<'a> {
    pub fn of(c: &'a Charge, apresentacao: DateTime<Utc>) -> Self {
        Payload {
            calendario: Calendario {
                criacao: timestamp(c.criacao),
                apresentacao: Some(timestamp(apresentacao)),
                expiracao: c.terms.expiracao,
            },
            txid: c.txid.as_str(),
            revisao: c.revisao,
            status: c.status.as_str(),
            terms: Terms::of(&c.terms),
        }
    }
}
