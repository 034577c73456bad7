//! Messages between Tucano and the rail. Field names follow the Bacen API Pix where it has
//! one (`endToEndId`, `rtrId`, `valor`, ...). Amounts are Bacen strings on the wire.

use serde::{Deserialize, Serialize};

/// The payer of a received Pix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Pagador {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cpf: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cnpj: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub nome: Option<String>,
}

/// A Pix that arrived for one of our keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PixRecebido {
    pub end_to_end_id: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub txid: Option<String>,
    pub valor: String,
    pub chave: String,
    /// RFC 3339 settlement time.
    pub horario: String,
    #[serde(default)]
    pub pagador: Pagador,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub info_pagador: Option<String>,
}

/// The outcome of a refund we ordered. A rejection carries its final reason `codigo`
/// (pacs.002); `valor` is what the rail settled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DevolucaoResultado {
    pub rtr_id: String,
    pub end_to_end_id: String,
    pub valor: String,
    pub horario: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub codigo: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub motivo: Option<String>,
}

/// A Pix we sent, returned by the receiving bank (pacs.004): the same message as a
/// refund's outcome, where `endToEndId` is our transfer's, `rtrId` the return's own id and
/// `codigo` its reason (MD06 asked by the receiver, FR01 fraud under MED, BE08 bank error,
/// SL02 ...).
pub type DevolucaoRecebida = DevolucaoResultado;

/// The body of a 422 answer to an order: a final rejection with its reason code. Only
/// this voids an order at once; any other answer leaves it to the reconciler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rejeicao {
    pub codigo: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub motivo: Option<String>,
}

/// A signed notification from the rail to Tucano.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "tipo", deny_unknown_fields)]
pub enum Notificacao {
    #[serde(rename = "PIX_RECEBIDO")]
    PixRecebido { id: String, pix: PixRecebido },
    #[serde(rename = "DEVOLUCAO_LIQUIDADA")]
    DevolucaoLiquidada { id: String, devolucao: DevolucaoResultado },
    #[serde(rename = "DEVOLUCAO_REJEITADA")]
    DevolucaoRejeitada { id: String, devolucao: DevolucaoResultado },
    #[serde(rename = "PIX_ENVIADO_LIQUIDADO")]
    PixEnviadoLiquidado { id: String, envio: EnvioResultado },
    #[serde(rename = "PIX_ENVIADO_REJEITADO")]
    PixEnviadoRejeitado { id: String, envio: EnvioResultado },
    #[serde(rename = "PIX_ENVIADO_DEVOLVIDO")]
    PixEnviadoDevolvido { id: String, devolucao: DevolucaoRecebida },
}

/// The outcome of a Pix we sent. A rejection carries its final reason `codigo`;
/// `valor` is what the rail settled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvioResultado {
    pub end_to_end_id: String,
    pub valor: String,
    pub horario: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub codigo: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub motivo: Option<String>,
}

/// A receiving bank account, when there is no key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContaDestino {
    pub ispb: String,
    pub agencia: String,
    pub conta: String,
    pub tipo_conta: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cpf: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cnpj: Option<String>,
    pub nome: String,
}

/// A Pix order from Tucano to the rail (pacs.008). Idempotent on the end-to-end id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrdemPagamento {
    pub end_to_end_id: String,
    pub valor: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub chave: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub conta: Option<ContaDestino>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub descricao: Option<String>,
}

/// A DICT entry as a payer's bank may show it: the name, and the document masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EntradaDict {
    pub chave: String,
    pub tipo_chave: String,
    pub nome: String,
    pub documento: String,
    pub ispb: String,
}

/// Where an order stands at the rail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatusOrdem {
    /// EM_PROCESSAMENTO, LIQUIDADO or REJEITADO.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub horario: Option<String>,
    /// The final reason of a REJEITADO.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub codigo: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub motivo: Option<String>,
    /// What a LIQUIDADO settled.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub valor: Option<String>,
    /// How many times the order was received (the rail applies it once).
    #[serde(default)]
    pub pedidos: u32,
}

impl Notificacao {
    /// The same notification under another id (a rail re-announcing what it already sent).
    pub fn with_id(mut self, new_id: &str) -> Self {
        let id = match &mut self {
            Notificacao::PixRecebido { id, .. }
            | Notificacao::DevolucaoLiquidada { id, .. }
            | Notificacao::DevolucaoRejeitada { id, .. }
            | Notificacao::PixEnviadoLiquidado { id, .. }
            | Notificacao::PixEnviadoRejeitado { id, .. }
            | Notificacao::PixEnviadoDevolvido { id, .. } => id,
        };
        new_id.clone_into(id);
        self
    }

    pub fn id(&self) -> &str {
        match self {
            Notificacao::PixRecebido { id, .. }
            | Notificacao::DevolucaoLiquidada { id, .. }
            | Notificacao::DevolucaoRejeitada { id, .. }
            | Notificacao::PixEnviadoLiquidado { id, .. }
            | Notificacao::PixEnviadoRejeitado { id, .. }
            | Notificacao::PixEnviadoDevolvido { id, .. } => id,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Notificacao::PixRecebido { .. } => "PIX_RECEBIDO",
            Notificacao::DevolucaoLiquidada { .. } => "DEVOLUCAO_LIQUIDADA",
            Notificacao::DevolucaoRejeitada { .. } => "DEVOLUCAO_REJEITADA",
            Notificacao::PixEnviadoLiquidado { .. } => "PIX_ENVIADO_LIQUIDADO",
            Notificacao::PixEnviadoRejeitado { .. } => "PIX_ENVIADO_REJEITADO",
            Notificacao::PixEnviadoDevolvido { .. } => "PIX_ENVIADO_DEVOLVIDO",
        }
    }
}

/// A refund order from Tucano to the rail (pacs.004 in the SPI).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrdemDevolucao {
    pub rtr_id: String,
    pub end_to_end_id: String,
    pub valor: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub descricao: Option<String>,
}
