//! The events a merchant can follow (the outbox, `/eventos`, event webhooks): one typed
//! enum of their kinds and one constructor per event, so each payload's shape is said once.

use super::charge::ChargeStatus;
use super::ids::{EndToEndId, RefundId, RtrId, Txid};
use super::money::Amount;
use super::payment::RefundStatus;
use super::transfer::{IdEnvio, TransferStatus};
use serde_json::{json, Value};

/// Every kind of event, with its name on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    PixRecebido,
    CobConcluida,
    CobvConcluida,
    DevolucaoSolicitada,
    DevolucaoDevolvido,
    DevolucaoNaoRealizado,
    EnvioEmProcessamento,
    EnvioRealizado,
    EnvioNaoRealizado,
    EnvioDevolvido,
    ContradicaoRegistrada,
    RecAprovada,
    RecRejeitada,
    RecCancelada,
    RecExpirada,
    CobrAtiva,
    CobrConcluida,
    CobrRejeitada,
    CobrCancelada,
    CobrExpirada,
    CobrTentativaRejeitada,
}

impl EventKind {
    pub const ALL: [EventKind; 21] = [
        EventKind::PixRecebido,
        EventKind::CobConcluida,
        EventKind::CobvConcluida,
        EventKind::DevolucaoSolicitada,
        EventKind::DevolucaoDevolvido,
        EventKind::DevolucaoNaoRealizado,
        EventKind::EnvioEmProcessamento,
        EventKind::EnvioRealizado,
        EventKind::EnvioNaoRealizado,
        EventKind::EnvioDevolvido,
        EventKind::ContradicaoRegistrada,
        EventKind::RecAprovada,
        EventKind::RecRejeitada,
        EventKind::RecCancelada,
        EventKind::RecExpirada,
        EventKind::CobrAtiva,
        EventKind::CobrConcluida,
        EventKind::CobrRejeitada,
        EventKind::CobrCancelada,
        EventKind::CobrExpirada,
        EventKind::CobrTentativaRejeitada,
    ];

    /// The kinds that trigger the API Pix callback (`{webhookUrl}/pix`) of the receiving
    /// key's webhook, when the Pix has a txid: a Pix received, and a refund reaching a
    /// final status.
    pub const BACEN_CALLBACK: [EventKind; 3] =
        [EventKind::PixRecebido, EventKind::DevolucaoDevolvido, EventKind::DevolucaoNaoRealizado];

    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::PixRecebido => "pix.recebido",
            EventKind::CobConcluida => "cob.concluida",
            EventKind::CobvConcluida => "cobv.concluida",
            EventKind::DevolucaoSolicitada => "devolucao.solicitada",
            EventKind::DevolucaoDevolvido => "devolucao.devolvido",
            EventKind::DevolucaoNaoRealizado => "devolucao.nao_realizado",
            EventKind::EnvioEmProcessamento => "envio.em_processamento",
            EventKind::EnvioRealizado => "envio.realizado",
            EventKind::EnvioNaoRealizado => "envio.nao_realizado",
            EventKind::EnvioDevolvido => "envio.devolvido",
            EventKind::ContradicaoRegistrada => "contradicao.registrada",
            EventKind::RecAprovada => "rec.aprovada",
            EventKind::RecRejeitada => "rec.rejeitada",
            EventKind::RecCancelada => "rec.cancelada",
            EventKind::RecExpirada => "rec.expirada",
            EventKind::CobrAtiva => "cobr.ativa",
            EventKind::CobrConcluida => "cobr.concluida",
            EventKind::CobrRejeitada => "cobr.rejeitada",
            EventKind::CobrCancelada => "cobr.cancelada",
            EventKind::CobrExpirada => "cobr.expirada",
            EventKind::CobrTentativaRejeitada => "cobr.tentativa_rejeitada",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// An event as written to the outbox: its kind and its payload (`data`).
#[derive(Debug, Clone, PartialEq)]
pub struct DomainEvent {
    pub kind: EventKind,
    pub payload: Value,
}

impl DomainEvent {
    /// A recurrence reached `status` (`kind` is one of the `rec.*` kinds).
    pub fn recurrence(kind: EventKind, id_rec: &str, status: &str) -> Self {
        DomainEvent { kind, payload: json!({"idRec": id_rec, "status": status}) }
    }

    /// A recurring charge reached `status` (`kind` is one of the `cobr.*` kinds).
    pub fn recurring_charge(kind: EventKind, txid: &str, id_rec: &str, status: &str) -> Self {
        DomainEvent { kind, payload: json!({"txid": txid, "idRec": id_rec, "status": status}) }
    }

    /// The payer's bank could not debit an attempt of a recurring charge.
    pub fn attempt_rejected(txid: &str, id_rec: &str, e2eid: &str, codigo: &str) -> Self {
        DomainEvent {
            kind: EventKind::CobrTentativaRejeitada,
            payload: json!({"txid": txid, "idRec": id_rec, "endToEndId": e2eid, "codigo": codigo}),
        }
    }

    /// A Pix credited to the merchant (`alerta`: why it did not conclude a charge).
    pub fn pix_recebido(
        e2eid: &EndToEndId,
        txid: Option<&Txid>,
        valor: Amount,
        tarifa: Amount,
        alerta: Option<&str>,
    ) -> Self {
        DomainEvent {
            kind: EventKind::PixRecebido,
            payload: json!({
                "endToEndId": e2eid.as_str(),
                "txid": txid.map(Txid::as_str),
                "valor": valor.to_string(),
                "tarifa": tarifa.to_string(),
                "alerta": alerta,
            }),
        }
    }

    /// A charge concluded by a Pix.
    pub fn cob_concluida(txid: &Txid, e2eid: &EndToEndId) -> Self {
        DomainEvent {
            kind: EventKind::CobConcluida,
            payload: json!({"txid": txid.as_str(), "endToEndId": e2eid.as_str(), "status": ChargeStatus::Concluida.as_str()}),
        }
    }

    /// A charge with a due date concluded by a Pix of its final amount on that day.
    pub fn cobv_concluida(txid: &Txid, e2eid: &EndToEndId) -> Self {
        DomainEvent {
            kind: EventKind::CobvConcluida,
            payload: json!({"txid": txid.as_str(), "endToEndId": e2eid.as_str(), "status": ChargeStatus::Concluida.as_str()}),
        }
    }

    /// A refund reserved and ordered.
    pub fn devolucao_solicitada(e2eid: &EndToEndId, id: &RefundId, rtr_id: &RtrId, valor: Amount) -> Self {
        DomainEvent {
            kind: EventKind::DevolucaoSolicitada,
            payload: json!({"endToEndId": e2eid.as_str(), "id": id.as_str(), "rtrId": rtr_id.as_str(),
                            "valor": valor.to_string(), "status": RefundStatus::EmProcessamento.as_str()}),
        }
    }

    /// A transfer reserved and ordered.
    pub fn envio_em_processamento(id: &IdEnvio, e2eid: &EndToEndId, valor: Amount) -> Self {
        DomainEvent {
            kind: EventKind::EnvioEmProcessamento,
            payload: json!({"idEnvio": id.as_str(), "endToEndId": e2eid.as_str(), "valor": valor.to_string(),
                            "status": TransferStatus::EmProcessamento.as_str()}),
        }
    }

    /// A transfer or refund the rail settled (`valor_liquidado`) or rejected (None), on its
    /// movement's `reference`; `alerta` when the verdict contradicted the books.
    pub fn verdict(
        kind: EventKind,
        reference: &Value,
        valor: Amount,
        status: &str,
        valor_liquidado: Option<Amount>,
        alerta: Option<&str>,
    ) -> Self {
        let mut payload = reference.clone();
        payload["valor"] = json!(valor.to_string());
        payload["status"] = json!(status);
        if let Some(s) = valor_liquidado {
            payload["valorLiquidado"] = json!(s.to_string());
        }
        if let Some(a) = alerta {
            payload["alerta"] = json!(a);
        }
        DomainEvent { kind, payload }
    }

    /// A Pix we sent that the receiving bank returned (in part or whole).
    pub fn envio_devolvido(reference: &Value, valor: Amount, codigo: Option<&str>) -> Self {
        let mut payload = reference.clone();
        payload["valor"] = json!(valor.to_string());
        payload["codigo"] = json!(codigo);
        DomainEvent { kind: EventKind::EnvioDevolvido, payload }
    }

    /// The rail contradicted the books about `referencia`: booked as reported, flagged.
    pub fn contradicao_registrada(alerta: &str, referencia: &str) -> Self {
        DomainEvent {
            kind: EventKind::ContradicaoRegistrada,
            payload: json!({"alerta": alerta, "referencia": referencia}),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_parses_back_from_its_name_and_names_are_unique() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
            assert_eq!(EventKind::ALL.iter().filter(|x| x.as_str() == k.as_str()).count(), 1);
        }
        assert_eq!(EventKind::parse("pix.enviado"), None);
    }
}
