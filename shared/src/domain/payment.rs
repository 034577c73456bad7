//! Received Pix and refunds (devoluções): how an incoming payment is judged against the
//! charge it names, and the rules a refund must follow.

use super::charge::{Charge, ChargeStatus};
use super::cobv::AmountDue;
use super::document::Document;
use super::ids::{EndToEndId, RefundId, RtrId, Txid};
use super::money::Amount;
use crate::domain::cobv::calendar::brasilia_date;
use chrono::{DateTime, Duration, Utc};

/// Refunds are possible until the 90th day after the payment's date (in Brasília).
pub const REFUND_WINDOW_DAYS: i64 = 90;
pub const MAX_REFUND_DESCRICAO: usize = 140;

/// Why a received Pix did not conclude a charge. The money is credited all the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alert {
    /// It names a txid this merchant has no charge for.
    UnknownCharge,
    /// The charge had expired when paid.
    ExpiredCharge,
    /// The charge had been removed.
    RemovedCharge,
    /// The charge was already paid by another Pix.
    AlreadyPaid,
    /// The amount differs from the charge's and the charge does not allow changes.
    AmountMismatch,
    /// The key belongs to no merchant here.
    UnknownKey,
    /// It names a recurring charge, but none of the charge's open attempts.
    UnknownAttempt,
}

impl Alert {
    pub fn as_str(self) -> &'static str {
        match self {
            Alert::UnknownCharge => "COBRANCA_INEXISTENTE",
            Alert::ExpiredCharge => "COBRANCA_EXPIRADA",
            Alert::RemovedCharge => "COBRANCA_REMOVIDA",
            Alert::AlreadyPaid => "COBRANCA_JA_PAGA",
            Alert::AmountMismatch => "VALOR_DIVERGENTE",
            Alert::UnknownKey => "CHAVE_DESCONHECIDA",
            Alert::UnknownAttempt => "TENTATIVA_INEXISTENTE",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Alert::UnknownCharge,
            Alert::ExpiredCharge,
            Alert::RemovedCharge,
            Alert::AlreadyPaid,
            Alert::AmountMismatch,
            Alert::UnknownKey,
            Alert::UnknownAttempt,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }
}

/// The charge a received Pix names, of either kind.
#[derive(Debug, Clone, Copy)]
pub enum Payable<'a> {
    Immediate(&'a Charge),
    Due(&'a super::cobv::DueCharge),
    /// A recurring charge (Pix Automático), debited by the payer's bank.
    Recurring(&'a super::rec::RecurringCharge),
}

impl Payable<'_> {
    fn status(self) -> ChargeStatus {
        use super::rec::CobRStatus;
        match self {
            Payable::Immediate(c) => c.status,
            Payable::Due(c) => c.status,
            // A debit may arrive before the notice that scheduled it: CRIADA is payable too.
            Payable::Recurring(c) => match c.status {
                CobRStatus::Criada | CobRStatus::Ativa => ChargeStatus::Ativa,
                CobRStatus::Concluida => ChargeStatus::Concluida,
                CobRStatus::Expirada | CobRStatus::Rejeitada | CobRStatus::Cancelada => ChargeStatus::RemovidaPeloPsp,
            },
        }
    }
}

/// Whether a payment of `valor` at `at` concludes `charge` (None) or why not. An immediate
/// charge: before it expires, its amount (unless the payer may change it). A charge with a
/// due date: by its last payable day, exactly its final amount on that day (Brasília).
pub fn assess(charge: Option<Payable<'_>>, valor: Amount, at: DateTime<Utc>) -> Option<Alert> {
    let Some(charge) = charge else { return Some(Alert::UnknownCharge) };
    match charge.status() {
        ChargeStatus::Concluida => return Some(Alert::AlreadyPaid),
        ChargeStatus::RemovidaPeloUsuarioRecebedor | ChargeStatus::RemovidaPeloPsp => {
            return Some(Alert::RemovedCharge)
        }
        ChargeStatus::Ativa => {}
    }
    match charge {
        Payable::Immediate(charge) => {
            if at > charge.expires_at() {
                return Some(Alert::ExpiredCharge);
            }
            if valor != charge.terms.valor && !charge.terms.valor_alteravel {
                return Some(Alert::AmountMismatch);
            }
        }
        Payable::Due(charge) => match charge.terms.price.amount_due(super::cobv::calendar::brasilia_date(at)) {
            Err(_) => return Some(Alert::ExpiredCharge),
            Ok(due) if due.final_ != valor => return Some(Alert::AmountMismatch),
            Ok(_) => {}
        },
        Payable::Recurring(charge) => {
            if valor != charge.terms.valor {
                return Some(Alert::AmountMismatch);
            }
        }
    }
    None
}

/// A recurring charge is paid only by the debit of one of its open attempts (its
/// end-to-end id): any other Pix naming it is credited and flagged, and the attempt stays.
fn unscheduled(charge: Option<Payable<'_>>, e2eid: &EndToEndId) -> Option<Alert> {
    match charge {
        Some(Payable::Recurring(c)) if !c.attempts.iter().any(|a| a.status.is_open() && &a.end_to_end_id == e2eid) => {
            Some(Alert::UnknownAttempt)
        }
        _ => None,
    }
}

/// What booking a received Pix means, decided from whether a merchant owns its key and
/// the charge it names (as read for this booking).
#[derive(Debug, Clone, PartialEq)]
pub struct CreditDecision {
    /// Why it does not conclude a charge (None: it concludes the one it names, or names none).
    pub alert: Option<Alert>,
    /// It concludes the charge it names.
    pub concludes: bool,
    /// What the merchant is told (nothing when no merchant owns the key).
    pub events: Vec<super::event::DomainEvent>,
    /// What it paid for, part by part, when it concludes a charge with a due date.
    pub due: Option<AmountDue>,
}

/// The rules of a received Pix: an unknown key parks the money (no merchant, no events);
/// a Pix without a txid is a plain credit; one naming a charge concludes it when
/// [`assess`] finds nothing wrong, and is credited and flagged otherwise.
pub fn decide_credit(pix: &IncomingPix, owned: bool, charge: Option<Payable<'_>>, fee: Amount) -> CreditDecision {
    use super::event::DomainEvent;
    let alert = match (owned, &pix.txid) {
        (false, _) => Some(Alert::UnknownKey),
        (true, None) => None,
        (true, Some(_)) => assess(charge, pix.valor, pix.horario).or_else(|| unscheduled(charge, &pix.end_to_end_id)),
    };
    let concluded = charge.filter(|_| alert.is_none() && owned && pix.txid.is_some());
    let due = match concluded {
        Some(Payable::Due(c)) => c.terms.price.amount_due(super::cobv::calendar::brasilia_date(pix.horario)).ok(),
        _ => None,
    };
    let mut events = vec![];
    if owned {
        let e2eid = &pix.end_to_end_id;
        events.push(DomainEvent::pix_recebido(e2eid, pix.txid.as_ref(), pix.valor, fee, alert.map(Alert::as_str)));
        match concluded {
            Some(Payable::Immediate(c)) => events.push(DomainEvent::cob_concluida(&c.txid, e2eid)),
            Some(Payable::Due(c)) => events.push(DomainEvent::cobv_concluida(&c.txid, e2eid)),
            Some(Payable::Recurring(c)) => events.push(DomainEvent::recurring_charge(
                super::event::EventKind::CobrConcluida,
                c.txid.as_str(),
                c.terms.id_rec.as_str(),
                "CONCLUIDA",
            )),
            None => {}
        }
    }
    CreditDecision { alert, concludes: concluded.is_some(), events, due }
}

/// The payer as the rail reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payer {
    pub documento: Option<Document>,
    pub nome: Option<String>,
}

/// A Pix the rail says arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingPix {
    pub end_to_end_id: EndToEndId,
    pub chave: String,
    pub txid: Option<Txid>,
    pub valor: Amount,
    pub horario: DateTime<Utc>,
    pub pagador: Payer,
    pub info_pagador: Option<String>,
}

/// Refund statuses (Bacen).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundStatus {
    EmProcessamento,
    Devolvido,
    NaoRealizado,
}

impl RefundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::EmProcessamento => "EM_PROCESSAMENTO",
            RefundStatus::Devolvido => "DEVOLVIDO",
            RefundStatus::NaoRealizado => "NAO_REALIZADO",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [RefundStatus::EmProcessamento, RefundStatus::Devolvido, RefundStatus::NaoRealizado]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// `ORIGINAL` (a common Pix) or `RETIRADA` (Pix Saque / Troco, which we do not offer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Natureza {
    Original,
    Retirada,
}

impl Natureza {
    pub fn as_str(self) -> &'static str {
        match self {
            Natureza::Original => "ORIGINAL",
            Natureza::Retirada => "RETIRADA",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ORIGINAL" => Some(Natureza::Original),
            "RETIRADA" => Some(Natureza::Retirada),
            _ => None,
        }
    }
}

/// What a merchant asks for in `PUT /pix/{e2eid}/devolucao/{id}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    pub id: RefundId,
    pub valor: Amount,
    pub natureza: Natureza,
    pub descricao: Option<String>,
}

impl RefundRequest {
    /// What "the same refund again" means for an idempotent `PUT .../devolucao/{id}`. Refunds
    /// keep the fingerprint of the request that made them: these bytes must not change.
    pub fn fingerprint(&self) -> [u8; 32] {
        let canonical = serde_json::json!({
            "valor": self.valor.to_string(), "natureza": self.natureza.as_str(), "descricao": self.descricao,
        });
        super::idempotency::fingerprint(canonical.to_string().as_bytes())
    }
}

/// A refund order as the rail receives it (idempotent at the rail on `rtr_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundOrder {
    pub rtr_id: RtrId,
    pub end_to_end_id: EndToEndId,
    pub valor: Amount,
    pub descricao: Option<String>,
}

/// A refund as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub id: RefundId,
    pub rtr_id: RtrId,
    pub valor: Amount,
    pub natureza: Natureza,
    pub descricao: Option<String>,
    pub status: RefundStatus,
    pub motivo: Option<String>,
    pub solicitacao: DateTime<Utc>,
    pub liquidacao: Option<DateTime<Utc>>,
    /// What the rail reported settled (another amount than `valor` only when it said so).
    pub valor_liquidado: Option<Amount>,
    /// Set when the rail contradicted itself about this refund.
    pub alerta: Option<super::verdict::Contradiction>,
}

/// A received Pix as a merchant sees it, with its refunds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedPix {
    pub end_to_end_id: EndToEndId,
    pub txid: Option<Txid>,
    pub chave: String,
    pub valor: Amount,
    pub fee: Amount,
    pub horario: DateTime<Utc>,
    pub pagador: Payer,
    pub info_pagador: Option<String>,
    pub alert: Option<Alert>,
    /// Set when the rail reported this end-to-end id again with another amount or key.
    pub rail_alert: Option<super::verdict::Contradiction>,
    /// What it paid for, part by part, when it concluded a charge with a due date (else
    /// the whole `valor` is the original).
    pub due: Option<AmountDue>,
    pub refunds: Vec<Refund>,
}

/// Why a refund is refused before anything moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RefundRejection {
    /// The Pix was received more than `REFUND_WINDOW_DAYS` days ago.
    #[error("the refund window of {REFUND_WINDOW_DAYS} days after the payment has passed")]
    WindowClosed,
    /// The amount is above what is left to refund: the Pix less its refunds not rejected.
    #[error("refunds would exceed the amount of the Pix")]
    ExceedsReceived,
    /// `natureza` is `RETIRADA`, which only Pix Saque and Troco have; we offer neither.
    #[error("RETIRADA refunds apply only to Pix Saque or Pix Troco")]
    NaturezaNotApplicable,
    /// Reserving the amount would take the merchant's account below its minimum balance.
    #[error("the available balance does not cover the refund")]
    InsufficientFunds,
    /// The rail reported the Pix twice with another amount or key (NOTIFICACAO_DIVERGENTE):
    /// which report was right is for operations to settle first, or more could go back
    /// than came in.
    #[error("the Pix is under review (the rail reported it twice, differently): refunds wait until it is settled")]
    UnderReview,
}

impl ReceivedPix {
    /// What is still refundable: the amount less refunds that were not rejected, each by
    /// what it sent back once settled (else by what it asked).
    pub fn refundable(&self) -> i64 {
        let taken: i64 = self
            .refunds
            .iter()
            .filter(|r| r.status != RefundStatus::NaoRealizado)
            .map(|r| r.valor_liquidado.unwrap_or(r.valor).centavos())
            .sum();
        self.valor.centavos() - taken
    }

    /// Checks a new refund against the Bacen rules (funds are the ledger's business).
    pub fn check_refund(&self, req: &RefundRequest, now: DateTime<Utc>) -> Result<(), RefundRejection> {
        if req.natureza == Natureza::Retirada {
            return Err(RefundRejection::NaturezaNotApplicable);
        }
        if self.rail_alert.is_some() {
            return Err(RefundRejection::UnderReview);
        }
        // Days counted by date in Brasília (the regulation counts from the payment's date):
        // the whole 90th day after it is still inside.
        let (paid_on, today) = (brasilia_date(self.horario), brasilia_date(now));
        if today > paid_on + Duration::days(REFUND_WINDOW_DAYS) {
            return Err(RefundRejection::WindowClosed);
        }
        if req.valor.centavos() > self.refundable() {
            return Err(RefundRejection::ExceedsReceived);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::charge::ChargeTerms;
    use crate::domain::pix_key::PixKey;

    fn amount(s: &str) -> Amount {
        Amount::parse(s).unwrap()
    }

    fn charge(status: ChargeStatus, alteravel: bool) -> Charge {
        Charge {
            txid: Txid::parse_for_charge("abcdefghijklmnopqrstuvwxyz01").unwrap(),
            revisao: 0,
            status,
            criacao: Utc::now() - Duration::minutes(10),
            terms: ChargeTerms {
                expiracao: 3600,
                devedor: None,
                valor: amount("10.00"),
                valor_alteravel: alteravel,
                chave: PixKey::parse("loja@example.com").unwrap(),
                solicitacao_pagador: None,
                info_adicionais: vec![],
            },
            loc: None,
            pix_copia_e_cola: None,
        }
    }

    #[test]
    fn a_payment_of_the_right_amount_concludes_an_active_charge() {
        assert_eq!(
            assess(Some(Payable::Immediate(&charge(ChargeStatus::Ativa, false))), amount("10.00"), Utc::now()),
            None
        );
    }

    #[test]
    fn payments_that_cannot_conclude_their_charge_are_flagged() {
        let now = Utc::now();
        assert_eq!(assess(None, amount("10.00"), now), Some(Alert::UnknownCharge));
        assert_eq!(
            assess(Some(Payable::Immediate(&charge(ChargeStatus::Concluida, false))), amount("10.00"), now),
            Some(Alert::AlreadyPaid)
        );
        assert_eq!(
            assess(
                Some(Payable::Immediate(&charge(ChargeStatus::RemovidaPeloUsuarioRecebedor, false))),
                amount("10.00"),
                now
            ),
            Some(Alert::RemovedCharge)
        );
        assert_eq!(
            assess(
                Some(Payable::Immediate(&charge(ChargeStatus::Ativa, false))),
                amount("10.00"),
                now + Duration::hours(2)
            ),
            Some(Alert::ExpiredCharge)
        );
        assert_eq!(
            assess(Some(Payable::Immediate(&charge(ChargeStatus::Ativa, false))), amount("9.99"), now),
            Some(Alert::AmountMismatch)
        );
        assert_eq!(assess(Some(Payable::Immediate(&charge(ChargeStatus::Ativa, true))), amount("9.99"), now), None);
    }

    fn incoming(txid: Option<&str>, valor: &str) -> IncomingPix {
        IncomingPix {
            end_to_end_id: EndToEndId::parse("E9999999920261121130500000000002").unwrap(),
            chave: "loja@example.com".into(),
            txid: txid.map(|t| Txid::parse(t).unwrap()),
            valor: amount(valor),
            horario: Utc::now(),
            pagador: Payer { documento: None, nome: None },
            info_pagador: None,
        }
    }

    fn kinds(d: &CreditDecision) -> Vec<&'static str> {
        d.events.iter().map(|e| e.kind.as_str()).collect()
    }

    #[test]
    fn a_received_pix_concludes_the_charge_it_names_and_tells_the_merchant_both() {
        let c = charge(ChargeStatus::Ativa, false);
        let d = decide_credit(
            &incoming(Some(c.txid.as_str()), "10.00"),
            true,
            Some(Payable::Immediate(&c)),
            amount("0.10"),
        );
        assert_eq!((d.alert, d.concludes), (None, true));
        assert_eq!(kinds(&d), ["pix.recebido", "cob.concluida"]);
        assert_eq!(d.events[0].payload["tarifa"], "0.10");
    }

    #[test]
    fn a_received_pix_that_cannot_conclude_is_credited_flagged_and_concludes_nothing() {
        let c = charge(ChargeStatus::Concluida, false);
        let d =
            decide_credit(&incoming(Some(c.txid.as_str()), "10.00"), true, Some(Payable::Immediate(&c)), Amount::ZERO);
        assert_eq!((d.alert, d.concludes), (Some(Alert::AlreadyPaid), false));
        assert_eq!(kinds(&d), ["pix.recebido"]);
        assert_eq!(d.events[0].payload["alerta"], Alert::AlreadyPaid.as_str());
        let plain = decide_credit(&incoming(None, "3.00"), true, None, Amount::ZERO);
        assert_eq!((plain.alert, plain.concludes, kinds(&plain)), (None, false, vec!["pix.recebido"]));
    }

    #[test]
    fn a_pix_to_a_key_nobody_here_owns_is_parked_and_tells_no_one() {
        let c = charge(ChargeStatus::Ativa, false);
        let d =
            decide_credit(&incoming(Some(c.txid.as_str()), "10.00"), false, Some(Payable::Immediate(&c)), Amount::ZERO);
        assert_eq!((d.alert, d.concludes, d.events.len()), (Some(Alert::UnknownKey), false, 0));
    }

    fn received(valor: &str, days_ago: i64) -> ReceivedPix {
        ReceivedPix {
            end_to_end_id: EndToEndId::parse("E9999999920261121130500000000001").unwrap(),
            txid: None,
            chave: "loja@example.com".into(),
            valor: amount(valor),
            fee: Amount::ZERO,
            horario: Utc::now() - Duration::days(days_ago),
            pagador: Payer { documento: None, nome: None },
            info_pagador: None,
            alert: None,
            rail_alert: None,
            due: None,
            refunds: vec![],
        }
    }

    fn req(valor: &str, natureza: Natureza) -> RefundRequest {
        RefundRequest { id: RefundId::parse("r1").unwrap(), valor: amount(valor), natureza, descricao: None }
    }

    #[test]
    fn refunds_follow_the_bacen_rules() {
        let now = Utc::now();
        let pix = received("10.00", 1);
        assert_eq!(pix.check_refund(&req("10.00", Natureza::Original), now), Ok(()));
        assert_eq!(pix.check_refund(&req("10.01", Natureza::Original), now), Err(RefundRejection::ExceedsReceived));
        assert_eq!(
            pix.check_refund(&req("1.00", Natureza::Retirada), now),
            Err(RefundRejection::NaturezaNotApplicable)
        );
        assert_eq!(
            received("10.00", 91).check_refund(&req("1.00", Natureza::Original), now),
            Err(RefundRejection::WindowClosed)
        );
    }

    #[test]
    fn the_refund_window_counts_days_by_date_in_brasilia() {
        // Paid 1 January 2026 at 10:00 in Brasília (13:00Z): the whole of 1 April (the 90th
        // day after it) is inside, to 23:59 there (02:59Z on the 2nd); the 2nd is not.
        let mut pix = received("10.00", 0);
        pix.horario = "2026-01-01T13:00:00Z".parse().unwrap();
        let on = |at: &str| pix.check_refund(&req("1.00", Natureza::Original), at.parse().unwrap());
        assert_eq!(on("2026-04-01T18:00:00Z"), Ok(()), "later in the day than the payment was");
        assert_eq!(on("2026-04-02T02:59:00Z"), Ok(()), "23:59 in Brasília");
        assert_eq!(on("2026-04-02T03:00:00Z"), Err(RefundRejection::WindowClosed));
    }

    #[test]
    fn rejected_refunds_do_not_use_up_the_amount() {
        let mut pix = received("10.00", 1);
        let refund = |valor: &str, status| Refund {
            id: RefundId::parse("a").unwrap(),
            rtr_id: RtrId::parse("D9999999920261121130500000000001").unwrap(),
            valor: amount(valor),
            natureza: Natureza::Original,
            descricao: None,
            status,
            motivo: None,
            solicitacao: Utc::now(),
            liquidacao: None,
            valor_liquidado: None,
            alerta: None,
        };
        pix.refunds = vec![refund("6.00", RefundStatus::Devolvido), refund("4.00", RefundStatus::NaoRealizado)];
        assert_eq!(pix.refundable(), 400);

        // A refund that settled at another amount took that amount.
        let mut more = refund("5.00", RefundStatus::Devolvido);
        more.valor_liquidado = Some(amount("7.00"));
        pix.refunds = vec![more];
        assert_eq!(pix.refundable(), 300);
        assert_eq!(
            pix.check_refund(&req("5.00", Natureza::Original), Utc::now()),
            Err(RefundRejection::ExceedsReceived)
        );
    }

    /// R$ 100.00 due 10 September 2026 with a 2.00 fine, payable 30 days after.
    fn due_charge() -> crate::domain::cobv::DueCharge {
        use crate::domain::cobv::{Contato, DueCharge, DueTerms, Multa, PriceTerms};
        DueCharge {
            txid: Txid::parse_for_charge("vencimento000000000000000001").unwrap(),
            revisao: 0,
            status: ChargeStatus::Ativa,
            criacao: Utc::now(),
            terms: DueTerms {
                price: PriceTerms {
                    original: amount("100.00"),
                    vencimento: chrono::NaiveDate::from_ymd_opt(2026, 9, 10).unwrap(),
                    validade_apos_vencimento: 30,
                    multa: Some(Multa::Fixed(amount("2.00"))),
                    juros: None,
                    abatimento: None,
                    desconto: None,
                },
                devedor: crate::domain::charge::Devedor {
                    documento: crate::domain::document::Document::Cpf(
                        crate::domain::document::Cpf::parse("12345678909").unwrap(),
                    ),
                    nome: "Fulano".into(),
                },
                contato: Contato::default(),
                chave: crate::domain::pix_key::PixKey::parse("loja@example.com").unwrap(),
                solicitacao_pagador: None,
                info_adicionais: vec![],
            },
            loc: None,
            pix_copia_e_cola: None,
        }
    }

    #[test]
    fn a_charge_with_a_due_date_concludes_only_with_its_final_amount_of_that_day() {
        let c = due_charge();
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let due = Some(Payable::Due(&c));
        // 10 September (13:00 Brasília): the original; the 11th: the original and the fine.
        assert_eq!(assess(due, amount("100.00"), at("2026-09-10T16:00:00Z")), None);
        assert_eq!(assess(due, amount("100.00"), at("2026-09-11T16:00:00Z")), Some(Alert::AmountMismatch));
        assert_eq!(assess(due, amount("102.00"), at("2026-09-11T16:00:00Z")), None);
        // 23:30 UTC on the 10th is still the 10th in Brasília.
        assert_eq!(assess(due, amount("100.00"), at("2026-09-11T02:30:00Z")), None);
        // 10 September + 30 days is Saturday 10 October, which runs past Monday 12th (a
        // holiday) to Tuesday 13th: the 14th is too late.
        assert_eq!(assess(due, amount("102.00"), at("2026-10-13T16:00:00Z")), None);
        assert_eq!(assess(due, amount("102.00"), at("2026-10-14T16:00:00Z")), Some(Alert::ExpiredCharge));

        let mut pix = incoming(Some(c.txid.as_str()), "102.00");
        pix.horario = at("2026-09-11T16:00:00Z");
        let d = decide_credit(&pix, true, due, Amount::ZERO);
        assert!(d.concludes);
        assert_eq!(kinds(&d), ["pix.recebido", "cobv.concluida"]);
        // What it paid for is kept with it (Bacen's componentesValor): the original and the fine.
        let parts = d.due.expect("the parts of a due charge's payment");
        assert_eq!((parts.original, parts.multa, parts.final_), (amount("100.00"), amount("2.00"), amount("102.00")));

        // A Pix that does not conclude it paid for nothing in particular.
        let mut wrong = incoming(Some(c.txid.as_str()), "100.00");
        wrong.horario = at("2026-09-11T16:00:00Z");
        assert_eq!(decide_credit(&wrong, true, due, Amount::ZERO).due, None);
    }
}
