//! Pix transfers out (our extension, in the API Pix's style): `Envio` and a page of them.

use super::{Horario, Paginacao, Parametros};
use crate::domain::transfer::{Receiver, Transfer, TransferReturn};
use crate::ports::{Page, TransferQuery};
use serde::Serialize;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContaBanco<'a> {
    pub ispb: &'a str,
    pub agencia: &'a str,
    pub conta: &'a str,
    pub tipo_conta: &'static str,
    /// Masked: the merchant typed it, the answer need not repeat it whole.
    pub documento: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Favorecido<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chave: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conta_banco: Option<ContaBanco<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nome: Option<&'a str>,
}

/// A return of (part of) a transfer by the receiving bank.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Retorno<'a> {
    pub rtr_id: &'a str,
    pub valor: String,
    pub horario: Horario,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codigo: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub motivo: Option<&'a str>,
}

impl<'a> Retorno<'a> {
    fn of(d: &'a TransferReturn) -> Self {
        Retorno {
            rtr_id: d.rtr_id.as_str(),
            valor: d.valor.to_string(),
            horario: Horario::new(None, Some(d.horario)),
            codigo: d.codigo.as_deref(),
            motivo: d.motivo.as_deref(),
        }
    }
}

/// A transfer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Envio<'a> {
    pub id_envio: &'a str,
    pub end_to_end_id: &'a str,
    pub valor: String,
    pub favorecido: Favorecido<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub descricao: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub txid: Option<&'a str>,
    pub status: &'static str,
    pub horario: Horario,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub motivo: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerta: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub devolucoes: Vec<Retorno<'a>>,
}

impl<'a> Envio<'a> {
    pub fn of(t: &'a Transfer) -> Self {
        let (chave, conta_banco) = match &t.favorecido {
            Receiver::Key(k) => (Some(k.as_str()), None),
            Receiver::Account(a) => (
                None,
                Some(ContaBanco {
                    ispb: &a.ispb,
                    agencia: &a.agencia,
                    conta: &a.conta,
                    tipo_conta: a.tipo.as_str(),
                    documento: a.documento.masked(),
                }),
            ),
        };
        Envio {
            id_envio: t.id.as_str(),
            end_to_end_id: t.end_to_end_id.as_str(),
            valor: t.valor.to_string(),
            favorecido: Favorecido { chave, conta_banco, nome: t.favorecido_nome.as_deref() },
            descricao: t.descricao.as_deref(),
            txid: t.txid.as_ref().map(|x| x.as_str()),
            status: t.status.as_str(),
            horario: Horario::new(Some(t.solicitacao), t.liquidacao),
            motivo: t.motivo.as_deref(),
            alerta: t.alerta.map(|a| a.as_str()),
            devolucoes: t.devolucoes.iter().map(Retorno::of).collect(),
        }
    }
}

/// A page of `GET /envio`.
#[derive(Debug, Serialize)]
pub struct Envios<'a> {
    pub parametros: Parametros,
    pub envios: Vec<Envio<'a>>,
}

impl<'a> Envios<'a> {
    pub fn of(q: &TransferQuery, p: &'a Page<Transfer>) -> Self {
        Envios {
            parametros: Parametros::new(q.inicio, q.fim, Paginacao::new(q.pagina, q.itens_por_pagina, p.total)),
            envios: p.items.iter().map(Envio::of).collect(),
        }
    }
}
