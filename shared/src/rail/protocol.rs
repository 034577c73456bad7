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
    /// The payer's bank showed a confirmation request (Pix Automático) to its customer.
    #[serde(rename = "SOLICREC_RECEBIDA", rename_all = "camelCase")]
    SolicRecRecebida { id: String, id_solic_rec: String },
    /// The payer authorised a recurrence: answering a confirmation request (journey 1,
    /// `idSolicRec`) or from a QR code (journeys 2 to 4).
    #[serde(rename = "REC_APROVADA")]
    RecAprovada { id: String, aprovacao: AprovacaoRec },
    /// The payer (or the payer's bank) refused a recurrence, with its reason code.
    #[serde(rename = "REC_REJEITADA")]
    RecRejeitada { id: String, rejeicao: RejeicaoRec },
    /// The payer's side cancelled an authorised recurrence, ending these scheduled attempts
    /// there (one it already debited is not among them: its Pix is on its way). Without
    /// the list, every open attempt ends.
    #[serde(rename = "REC_CANCELADA", rename_all = "camelCase")]
    RecCancelada {
        id: String,
        id_rec: String,
        cancelamento: Cancelamento,
        #[serde(skip_serializing_if = "Option::is_none", default)]
        tentativas_canceladas: Option<Vec<String>>,
    },
    /// The payer's bank scheduled a recurring charge's attempt.
    #[serde(rename = "COBR_AGENDADA", rename_all = "camelCase")]
    CobRAgendada { id: String, end_to_end_id: String },
    /// The payer's bank could not debit an attempt (or refused to schedule it).
    #[serde(rename = "COBR_TENTATIVA_REJEITADA", rename_all = "camelCase")]
    CobRTentativaRejeitada { id: String, end_to_end_id: String, codigo: String },
    /// The payer's side cancelled a scheduled attempt (and so its recurring charge).
    #[serde(rename = "COBR_CANCELADA", rename_all = "camelCase")]
    CobRCancelada { id: String, end_to_end_id: String, cancelamento: Cancelamento },
}

/// The payer's identity as its bank reports it when a recurrence is authorised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PagadorRec {
    pub ispb_participante: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cpf: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cnpj: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cod_mun: Option<String>,
}

/// A recurrence authorised by its payer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AprovacaoRec {
    pub id_rec: String,
    /// The confirmation request answered (journey 1).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub id_solic_rec: Option<String>,
    /// `JORNADA_1` .. `JORNADA_4`.
    pub tipo_jornada: String,
    pub pagador: PagadorRec,
    /// RFC 3339.
    pub horario: String,
}

/// A recurrence refused by its payer, with the reason code (`AP13`, `AP14`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RejeicaoRec {
    pub id_rec: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub id_solic_rec: Option<String>,
    pub codigo: String,
}

/// Who cancelled, and why (Bacen's `encerramento.cancelamento`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Cancelamento {
    /// `PSP_PAGADOR`, `USUARIO_PAGADOR`, `PSP_RECEBEDOR` or `USUARIO_RECEBEDOR`.
    pub solicitante: String,
    pub codigo: String,
}

/// A recurrence as sent to the payer's bank with a confirmation request (pain.009).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SolicitacaoRec {
    pub id_solic_rec: String,
    pub id_rec: String,
    /// The receiver: CNPJ, name and its bank's ISPB.
    pub recebedor: RecebedorRec,
    pub vinculo: VinculoRec,
    pub calendario: CalendarioRec,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub valor_rec: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub valor_minimo_recebedor: Option<String>,
    /// `NAO_PERMITE` or `PERMITE_3R_7D`.
    pub politica_retentativa: String,
    pub destinatario: DestinatarioRec,
    /// RFC 3339: the payer's bank drops the request after it.
    pub data_expiracao_solicitacao: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecebedorRec {
    pub cnpj: String,
    pub nome: String,
    pub ispb_participante: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VinculoRec {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub objeto: Option<String>,
    pub contrato: String,
    /// The debtor named by the receiver: `cpf` or `cnpj`, and `nome`.
    pub devedor: Pagador,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CalendarioRec {
    pub data_inicial: chrono::NaiveDate,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub data_final: Option<chrono::NaiveDate>,
    /// `SEMANAL`, `MENSAL`, `TRIMESTRAL`, `SEMESTRAL` or `ANUAL`.
    pub periodicidade: String,
}

/// The payer's account the request goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DestinatarioRec {
    pub ispb_participante: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub agencia: Option<String>,
    pub conta: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cpf: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cnpj: Option<String>,
}

/// One attempt of a recurring charge, sent to the payer's bank to be debited on
/// `dataLiquidacao` (pain.013). Idempotent on `endToEndId`, which the payment carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgendamentoCobR {
    pub end_to_end_id: String,
    pub id_rec: String,
    pub txid: String,
    pub valor: String,
    pub data_liquidacao: chrono::NaiveDate,
    /// `AGND` (the charge's first attempt) or `RIFL` (a retry after a failed one).
    pub tipo: String,
    /// The receiver's Pix key: where the payment is credited.
    pub chave: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub info_adicional: Option<String>,
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
            | Notificacao::PixEnviadoDevolvido { id, .. }
            | Notificacao::SolicRecRecebida { id, .. }
            | Notificacao::RecAprovada { id, .. }
            | Notificacao::RecRejeitada { id, .. }
            | Notificacao::RecCancelada { id, .. }
            | Notificacao::CobRAgendada { id, .. }
            | Notificacao::CobRTentativaRejeitada { id, .. }
            | Notificacao::CobRCancelada { id, .. } => id,
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
            | Notificacao::PixEnviadoDevolvido { id, .. }
            | Notificacao::SolicRecRecebida { id, .. }
            | Notificacao::RecAprovada { id, .. }
            | Notificacao::RecRejeitada { id, .. }
            | Notificacao::RecCancelada { id, .. }
            | Notificacao::CobRAgendada { id, .. }
            | Notificacao::CobRTentativaRejeitada { id, .. }
            | Notificacao::CobRCancelada { id, .. } => id,
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
            Notificacao::SolicRecRecebida { .. } => "SOLICREC_RECEBIDA",
            Notificacao::RecAprovada { .. } => "REC_APROVADA",
            Notificacao::RecRejeitada { .. } => "REC_REJEITADA",
            Notificacao::RecCancelada { .. } => "REC_CANCELADA",
            Notificacao::CobRAgendada { .. } => "COBR_AGENDADA",
            Notificacao::CobRTentativaRejeitada { .. } => "COBR_TENTATIVA_REJEITADA",
            Notificacao::CobRCancelada { .. } => "COBR_CANCELADA",
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
