//! Received Pix and their refunds in Bacen's JSON: `Pix`, `PixConsultados`, `Devolucao`.

use super::{Horario, Paginacao, Parametros};
use crate::domain::document::Document;
use crate::domain::money::Amount;
use crate::domain::payment::{ReceivedPix, Refund};
use crate::ports::{Page, PixQuery};
use serde::Serialize;

/// A refund.
#[derive(Debug, Serialize)]
pub struct Devolucao<'a> {
    pub id: &'a str,
    #[serde(rename = "rtrId")]
    pub rtr_id: &'a str,
    pub valor: String,
    pub natureza: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub descricao: Option<&'a str>,
    pub horario: Horario,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub motivo: Option<&'a str>,
    /// Ours: the rail contradicted itself about this refund.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerta: Option<&'static str>,
}

impl<'a> Devolucao<'a> {
    pub fn of(r: &'a Refund) -> Self {
        Devolucao {
            id: r.id.as_str(),
            rtr_id: r.rtr_id.as_str(),
            valor: r.valor.to_string(),
            natureza: r.natureza.as_str(),
            descricao: r.descricao.as_deref(),
            horario: Horario::new(Some(r.solicitacao), r.liquidacao),
            status: r.status.as_str(),
            motivo: r.motivo.as_deref(),
            alerta: r.alerta.map(|a| a.as_str()),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ValorComponente {
    pub valor: String,
}

/// What a Pix's `valor` is made of: the original amount, and for a Pix that paid a charge
/// with a due date, the fine, interest, rebate and discount it included (each only when not
/// zero; `valor` = original + multa + juros − abatimento − desconto).
#[derive(Debug, Serialize)]
pub struct ComponentesValor {
    pub original: ValorComponente,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multa: Option<ValorComponente>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub juros: Option<ValorComponente>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abatimento: Option<ValorComponente>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desconto: Option<ValorComponente>,
}

impl ComponentesValor {
    pub fn of(p: &ReceivedPix) -> Self {
        let part = |a: Amount| (a != Amount::ZERO).then(|| ValorComponente { valor: a.to_string() });
        match &p.due {
            None => ComponentesValor {
                original: ValorComponente { valor: p.valor.to_string() },
                multa: None,
                juros: None,
                abatimento: None,
                desconto: None,
            },
            Some(d) => ComponentesValor {
                original: ValorComponente { valor: d.original.to_string() },
                multa: part(d.multa),
                juros: part(d.juros),
                abatimento: part(d.abatimento),
                desconto: part(d.desconto),
            },
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Pagador<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpf: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cnpj: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nome: Option<&'a str>,
}

/// A received Pix. Beyond Bacen's fields: `pagador`, `tarifa` (our fee), `alerta` (why
/// it did not conclude a charge, when it did not) and `alertaRail` (the rail reported it
/// again with another amount or key: operations are looking at it).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pix<'a> {
    pub end_to_end_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub txid: Option<&'a str>,
    pub valor: String,
    pub componentes_valor: ComponentesValor,
    pub chave: &'a str,
    pub horario: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info_pagador: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pagador: Option<Pagador<'a>>,
    pub tarifa: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerta: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerta_rail: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub devolucoes: Vec<Devolucao<'a>>,
}

impl<'a> Pix<'a> {
    pub fn of(p: &'a ReceivedPix) -> Self {
        let (cpf, cnpj) = match &p.pagador.documento {
            Some(Document::Cpf(c)) => (Some(c.as_str()), None),
            Some(Document::Cnpj(c)) => (None, Some(c.as_str())),
            None => (None, None),
        };
        let nome = p.pagador.nome.as_deref();
        let pagador = (cpf.is_some() || cnpj.is_some() || nome.is_some()).then_some(Pagador { cpf, cnpj, nome });
        Pix {
            end_to_end_id: p.end_to_end_id.as_str(),
            txid: p.txid.as_ref().map(|t| t.as_str()),
            valor: p.valor.to_string(),
            componentes_valor: ComponentesValor::of(p),
            chave: &p.chave,
            horario: super::timestamp(p.horario),
            info_pagador: p.info_pagador.as_deref(),
            pagador,
            tarifa: p.fee.to_string(),
            alerta: p.alert.map(|a| a.as_str()),
            alerta_rail: p.rail_alert.map(|a| a.as_str()),
            devolucoes: p.refunds.iter().map(Devolucao::of).collect(),
        }
    }
}

/// A page of `GET /pix`.
#[derive(Debug, Serialize)]
pub struct PixConsultados<'a> {
    pub parametros: Parametros,
    pub pix: Vec<Pix<'a>>,
}

impl<'a> PixConsultados<'a> {
    pub fn of(q: &PixQuery, p: &'a Page<ReceivedPix>) -> Self {
        PixConsultados {
            parametros: Parametros::new(q.inicio, q.fim, Paginacao::new(q.pagina, q.itens_por_pagina, p.total))
                .filter("txid", q.txids.first().map(|t| t.as_str()))
                .filter("txIdPresente", q.txid_presente)
                .filter("devolucaoPresente", q.devolucao_presente)
                .document(q.pagador.as_ref()),
            pix: p.items.iter().map(Pix::of).collect(),
        }
    }
}
