//! The rail's verdicts on money we send out (transfers and refunds): which rejections are
//! final, and how a verdict is booked against what the books already say — including a
//! verdict that contradicts them, which is booked as what really happened and flagged,
//! never swallowed as a duplicate.

use super::ledger::Account;
use super::merchant::MerchantId;
use super::money::Amount;
use chrono::{DateTime, Utc};

/// A final rejection reason, as the SPI's pacs.002 (status RJCT) and pacs.004 carry them.
/// Only these void a movement: anything else the rail answers (a timeout, a throttle, a
/// server error, a code we do not know) leaves it pending for the reconciler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectionCode {
    /// The SPI timed out the settlement: it did not happen.
    Ab03,
    /// The receiving participant failed to process it.
    Ab09,
    /// The receiving account number is invalid or does not exist.
    Ac03,
    /// The receiving account is blocked.
    Ac06,
    /// The receiving account is closed.
    Ac07,
    /// The receiving account's type is wrong.
    Ac14,
    /// The receiving account does not take this kind of transaction.
    Ag03,
    /// The amount is above what the receiving account may take.
    Am02,
    /// The amount is not the one expected (a charge's amount).
    Am09,
    /// The receiver's CPF/CNPJ does not match the account holder.
    Be01,
    /// The receiver's CPF/CNPJ is incorrect.
    Ch11,
    /// The receiving participant refused the order.
    Ds04,
    /// A regulatory reason.
    Rr04,
}

const ALL_CODES: [RejectionCode; 13] = [
    RejectionCode::Ab03,
    RejectionCode::Ab09,
    RejectionCode::Ac03,
    RejectionCode::Ac06,
    RejectionCode::Ac07,
    RejectionCode::Ac14,
    RejectionCode::Ag03,
    RejectionCode::Am02,
    RejectionCode::Am09,
    RejectionCode::Be01,
    RejectionCode::Ch11,
    RejectionCode::Ds04,
    RejectionCode::Rr04,
];

impl RejectionCode {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectionCode::Ab03 => "AB03",
            RejectionCode::Ab09 => "AB09",
            RejectionCode::Ac03 => "AC03",
            RejectionCode::Ac06 => "AC06",
            RejectionCode::Ac07 => "AC07",
            RejectionCode::Ac14 => "AC14",
            RejectionCode::Ag03 => "AG03",
            RejectionCode::Am02 => "AM02",
            RejectionCode::Am09 => "AM09",
            RejectionCode::Be01 => "BE01",
            RejectionCode::Ch11 => "CH11",
            RejectionCode::Ds04 => "DS04",
            RejectionCode::Rr04 => "RR04",
        }
    }

    /// What the code means, as a merchant reads it in `motivo`.
    pub fn description(self) -> &'static str {
        match self {
            RejectionCode::Ab03 => "settlement timed out at the SPI",
            RejectionCode::Ab09 => "the receiving institution failed to process it",
            RejectionCode::Ac03 => "the receiving account does not exist",
            RejectionCode::Ac06 => "the receiving account is blocked",
            RejectionCode::Ac07 => "the receiving account is closed",
            RejectionCode::Ac14 => "the receiving account type is wrong",
            RejectionCode::Ag03 => "the receiving account does not take this transaction",
            RejectionCode::Am02 => "the amount is above the receiving account's limit",
            RejectionCode::Am09 => "the amount is not the expected one",
            RejectionCode::Be01 => "the receiver's document does not match the account holder",
            RejectionCode::Ch11 => "the receiver's document is incorrect",
            RejectionCode::Ds04 => "refused by the receiving institution",
            RejectionCode::Rr04 => "refused for a regulatory reason",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        ALL_CODES.into_iter().find(|c| c.as_str() == s)
    }

    /// Every code, for documentation and the sandbox.
    pub fn all() -> &'static [RejectionCode] {
        &ALL_CODES
    }
}

/// An explicit, final rejection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub code: RejectionCode,
    /// The rail's own words, if any.
    pub detail: Option<String>,
}

impl Rejection {
    pub fn new(code: RejectionCode) -> Self {
        Rejection { code, detail: None }
    }

    /// `motivo` as stored and shown: the code and what it means, at most 140 characters.
    pub fn motivo(&self) -> String {
        // The rail's own words, as free text (a control character would be refused by the
        // database, and the order's outcome with it, on every pass).
        let detail = self.detail.as_deref().and_then(|d| super::text::free_text(d, 140));
        let text = detail.as_deref().unwrap_or(self.code.description());
        format!("{}: {text}", self.code.as_str()).chars().take(140).collect()
    }
}

/// The rail's verdict on an order (a refund or a Pix out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RailVerdict {
    /// The money left. `valor` is the amount the rail says it settled, when it says.
    Settled {
        at: DateTime<Utc>,
        valor: Option<Amount>,
    },
    Rejected(Rejection),
}

impl RailVerdict {
    /// Whether two verdicts say the same thing happened (settled, or not), whatever their
    /// details.
    pub fn same_outcome(&self, other: &RailVerdict) -> bool {
        matches!(
            (self, other),
            (RailVerdict::Settled { .. }, RailVerdict::Settled { .. })
                | (RailVerdict::Rejected(_), RailVerdict::Rejected(_))
        )
    }
}

/// How a verdict reached us, which decides whether it may contradict the books.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard {
    /// The rail's word, booked even against a movement already decided, as a contradiction:
    /// its answer to our order, a return (which proves the money left).
    FromRail,
    /// A notification that would reverse a decided movement, which the rail's status
    /// confirmed while the movement stood as given: booked as the rail's word if nothing
    /// was booked for the movement since. If something was, it may be a word of the rail's
    /// newer than the status read: the status is read again.
    Confirmed(Standing),
    /// A notification: it decides a movement still pending; one that would reverse a
    /// decided movement is not booked before the rail's status is read (notifications can
    /// arrive out of order, and a stale one would undo what really happened).
    Notified,
    /// We read the rail's status before the movement's row was locked (the reconciler):
    /// it decides a movement still pending, and nothing else. A movement decided since
    /// was decided by a word of the rail's newer than the read.
    OnStatusRead,
}

/// Where an outgoing movement stood when it was read: its state and its row's version,
/// which every booking for it changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub booked: Booked,
    pub version: i64,
}

/// Where an outgoing movement stands in our books.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Booked {
    /// Reserved, waiting for the verdict.
    Pending,
    Settled,
    Voided,
}

/// Why a verdict was flagged for operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contradiction {
    /// The rail settled what we had voided on its earlier rejection.
    SettledAfterVoid,
    /// The rail rejected what we had settled on its earlier confirmation.
    VoidedAfterSettle,
    /// The rail settled another amount than we ordered.
    AmountDiffers,
    /// A returned Pix for more than was sent.
    ReturnExceedsTransfer,
    /// A second notification of a received Pix with another amount or key.
    DivergentNotification,
}

impl Contradiction {
    /// The `alerta` shown on the resource.
    pub fn as_str(self) -> &'static str {
        match self {
            Contradiction::SettledAfterVoid => "LIQUIDADO_APOS_REJEICAO",
            Contradiction::VoidedAfterSettle => "REJEITADO_APOS_LIQUIDACAO",
            Contradiction::AmountDiffers => "VALOR_LIQUIDADO_DIVERGENTE",
            Contradiction::ReturnExceedsTransfer => "DEVOLUCAO_EXCEDENTE",
            Contradiction::DivergentNotification => "NOTIFICACAO_DIVERGENTE",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Contradiction::SettledAfterVoid,
            Contradiction::VoidedAfterSettle,
            Contradiction::AmountDiffers,
            Contradiction::ReturnExceedsTransfer,
            Contradiction::DivergentNotification,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// What to book for a verdict, given what is booked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Booking {
    /// The reservation leaves through the rail (`settled` may differ from what was
    /// reserved: then it is flagged, and the difference is the merchant's).
    Settle { settled: Amount },
    /// The reservation returns to the merchant.
    Void(Rejection),
    /// The verdict agrees with the books: nothing to do.
    Agrees,
    /// Money left although we had voided: it is taken from the merchant now.
    SettleAfterVoid { settled: Amount },
    /// Money did not leave although we had settled: everything the movement booked is
    /// undone.
    VoidAfterSettle(Rejection),
    /// A settlement of another amount than the one booked, which was assumed (the amount
    /// ordered: a return proved the money left before the settlement was heard, or the
    /// rail did not say): the difference is booked.
    Resettle { from: Amount, to: Amount },
    /// A notification that would reverse a decided movement: nothing is booked before the
    /// rail's status is read.
    Unconfirmed,
}

impl Booking {
    /// The flag this booking raises, if any.
    pub fn contradiction(&self, reserved: Amount) -> Option<Contradiction> {
        match self {
            Booking::Settle { settled } if *settled != reserved => Some(Contradiction::AmountDiffers),
            Booking::Settle { .. } | Booking::Void(_) | Booking::Agrees | Booking::Unconfirmed => None,
            Booking::SettleAfterVoid { .. } => Some(Contradiction::SettledAfterVoid),
            Booking::Resettle { .. } => Some(Contradiction::AmountDiffers),
            Booking::VoidAfterSettle(_) => Some(Contradiction::VoidedAfterSettle),
        }
    }
}

/// Decides how `verdict`, `heard` as it was, is booked for a movement of `reserved` that
/// stands at `booked` (`assumed`: the amount booked as settled when it was assumed rather
/// than reported; a reported amount is not moved by a later report that disagrees).
pub fn book(booked: Booked, reserved: Amount, assumed: Option<Amount>, verdict: &RailVerdict, heard: Heard) -> Booking {
    if heard == Heard::OnStatusRead && booked != Booked::Pending {
        return Booking::Agrees;
    }
    let booking = decide(booked, reserved, assumed, verdict);
    let reverses = matches!(booking, Booking::SettleAfterVoid { .. } | Booking::VoidAfterSettle(_));
    if heard == Heard::Notified && reverses {
        return Booking::Unconfirmed;
    }
    booking
}

/// [`book`] for a word of the rail's taken as it is.
fn decide(booked: Booked, reserved: Amount, assumed: Option<Amount>, verdict: &RailVerdict) -> Booking {
    match (booked, verdict, assumed) {
        (Booked::Pending, RailVerdict::Settled { valor, .. }, _) => {
            Booking::Settle { settled: valor.unwrap_or(reserved) }
        }
        (Booked::Pending, RailVerdict::Rejected(r), _) => Booking::Void(r.clone()),
        (Booked::Settled, RailVerdict::Settled { valor: Some(to), .. }, Some(from)) if from != *to => {
            Booking::Resettle { from, to: *to }
        }
        (Booked::Settled, RailVerdict::Settled { .. }, _) | (Booked::Voided, RailVerdict::Rejected(_), _) => {
            Booking::Agrees
        }
        (Booked::Voided, RailVerdict::Settled { valor, .. }, _) => {
            Booking::SettleAfterVoid { settled: valor.unwrap_or(reserved) }
        }
        (Booked::Settled, RailVerdict::Rejected(r), _) => Booking::VoidAfterSettle(r.clone()),
    }
}

/// The postings that take `amount` out of a merchant's available balance: as much as
/// `available` covers, the rest from the operations receivable (what the merchant owes
/// us, for operations to collect).
pub fn take_from_merchant(merchant: MerchantId, amount: i64, available: i64) -> Vec<(Account, i64)> {
    let from_merchant = amount.min(available.max(0)).max(0);
    vec![
        (Account::MerchantAvailable(merchant), -from_merchant),
        (Account::OperationsReceivable, -(amount - from_merchant)),
    ]
}

/// The postings of a settlement of `settled` against a reservation of `reserved` (zero
/// when the reservation was already released), `available` being the merchant's
/// available balance now.
pub fn settlement_postings(merchant: MerchantId, reserved: i64, settled: i64, available: i64) -> Vec<(Account, i64)> {
    let mut p = vec![(Account::MerchantPending(merchant), -reserved), (Account::RailSettlement, settled)];
    let left_over = reserved - settled;
    if left_over >= 0 {
        p.push((Account::MerchantAvailable(merchant), left_over));
    } else {
        p.extend(take_from_merchant(merchant, -left_over, available));
    }
    p
}

/// The postings that move a settlement booked at `from` to `to`: more left, the difference
/// comes from the merchant (`available` first, then owed); less left, it goes back to
/// the merchant's available balance. `returned`: what came back of the movement so far;
/// what of it exceeded the amount sent was parked in suspense, and the new amount sent
/// moves that line (more sent: some of it was the merchant's after all).
pub fn resettlement_postings(
    merchant: MerchantId,
    from: i64,
    to: i64,
    available: i64,
    returned: i64,
) -> Vec<(Account, i64)> {
    let more = to - from;
    let mut p = vec![(Account::RailSettlement, more)];
    if more > 0 {
        p.extend(take_from_merchant(merchant, more, available));
    } else {
        p.push((Account::MerchantAvailable(merchant), -more));
    }
    let released = (returned - from).max(0) - (returned - to).max(0);
    if released != 0 {
        p.extend([(Account::Suspense, -released), (Account::MerchantAvailable(merchant), released)]);
    }
    p
}

/// The postings that undo a movement of `merchant` whose entries so far net to `net` per
/// account, the merchant owing operations `owed` now. What the movement put on the
/// receivable (a debt) is taken off it only as far as it is still owed: what the merchant
/// repaid of it since goes back to its available balance instead.
pub fn undo_postings(merchant: MerchantId, net: &[(Account, i64)], owed: i64) -> Vec<(Account, i64)> {
    let mut p: Vec<(Account, i64)> = net.iter().map(|(a, v)| (*a, -v)).collect();
    let repaid = p.iter_mut().find(|(a, v)| *a == Account::OperationsReceivable && *v > owed.max(0)).map(|(_, v)| {
        let repaid = *v - owed.max(0);
        *v -= repaid;
        repaid
    });
    if let Some(r) = repaid {
        p.push((Account::MerchantAvailable(merchant), r));
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn amount(s: &str) -> Amount {
        Amount::parse(s).unwrap()
    }

    fn settled(valor: Option<&str>) -> RailVerdict {
        RailVerdict::Settled { at: Utc::now(), valor: valor.map(amount) }
    }

    fn rejected() -> RailVerdict {
        RailVerdict::Rejected(Rejection::new(RejectionCode::Ac07))
    }

    #[test]
    fn an_undone_debt_the_merchant_repaid_goes_back_to_its_balance_not_the_receivable() {
        let m = MerchantId(uuid::Uuid::from_u128(3));
        // A settlement after a void took 5.00 from available and 15.00 on the receivable.
        let net = [
            (Account::MerchantAvailable(m), -500),
            (Account::OperationsReceivable, -1500),
            (Account::RailSettlement, 2000),
        ];
        let undo = |owed| {
            let mut p = undo_postings(m, &net, owed);
            p.sort();
            p
        };
        // Still owed whole: undone as booked.
        assert_eq!(
            undo(1500),
            [
                (Account::MerchantAvailable(m), 500),
                (Account::RailSettlement, -2000),
                (Account::OperationsReceivable, 1500)
            ]
        );
        // 10.00 repaid since: that much comes back to the merchant, the rest off the debt.
        use crate::domain::ledger::{EntryKind, JournalEntry};
        let merged = |p: Vec<(Account, i64)>| JournalEntry::balanced(EntryKind::TransferCorrection, "k", p).unwrap();
        assert_eq!(
            merged(undo(500)).postings(),
            [
                (Account::MerchantAvailable(m), 1500),
                (Account::RailSettlement, -2000),
                (Account::OperationsReceivable, 500)
            ]
        );
        // All repaid: nothing is taken off the receivable.
        assert_eq!(
            merged(undo(0)).postings(),
            [(Account::MerchantAvailable(m), 2000), (Account::RailSettlement, -2000)]
        );
    }

    #[test]
    fn only_the_listed_codes_are_final_rejections() {
        assert_eq!(RejectionCode::parse("AC07"), Some(RejectionCode::Ac07));
        for not_final in ["", "ac07", "AC7", "429", "TIMEOUT", "ED05", "AC07 "] {
            assert_eq!(RejectionCode::parse(not_final), None, "{not_final:?}");
        }
        for c in RejectionCode::all() {
            assert_eq!(RejectionCode::parse(c.as_str()), Some(*c));
        }
    }

    #[test]
    fn motivo_names_the_code_and_fits_the_bacen_limit() {
        assert_eq!(Rejection::new(RejectionCode::Ac07).motivo(), "AC07: the receiving account is closed");
        let long = Rejection { code: RejectionCode::Ds04, detail: Some("x".repeat(500)) };
        assert_eq!(long.motivo().chars().count(), 140);
        // A rail's answer with control characters is kept as free text (Postgres refuses NUL).
        let odd = Rejection { code: RejectionCode::Ac03, detail: Some("conta\u{0}inválida\n".into()) };
        assert_eq!(odd.motivo(), "AC03: conta inválida");
        let blank = Rejection { code: RejectionCode::Ac07, detail: Some("\u{0}".into()) };
        assert_eq!(blank.motivo(), "AC07: the receiving account is closed");
    }

    #[test]
    fn a_notification_that_would_reverse_a_decided_movement_waits_for_the_rails_status() {
        let v = amount("10.00");
        assert_eq!(book(Booked::Settled, v, None, &rejected(), Heard::Notified), Booking::Unconfirmed);
        assert_eq!(book(Booked::Voided, v, None, &settled(None), Heard::Notified), Booking::Unconfirmed);
        // Confirmed, it is booked; a pending movement is decided by it at once.
        let confirmed = Heard::Confirmed(Standing { booked: Booked::Settled, version: 1 });
        assert!(matches!(book(Booked::Settled, v, None, &rejected(), confirmed), Booking::VoidAfterSettle(_)));
        assert!(matches!(book(Booked::Pending, v, None, &rejected(), Heard::Notified), Booking::Void(_)));
        assert_eq!(book(Booked::Settled, v, None, &settled(None), Heard::Notified), Booking::Agrees);
        assert!(settled(None).same_outcome(&settled(Some("9.00"))) && !settled(None).same_outcome(&rejected()));
    }

    #[test]
    fn a_verdict_that_agrees_with_the_books_books_nothing() {
        let v = amount("10.00");
        assert_eq!(book(Booked::Settled, v, None, &settled(None), Heard::FromRail), Booking::Agrees);
        assert_eq!(book(Booked::Voided, v, None, &rejected(), Heard::FromRail), Booking::Agrees);
    }

    #[test]
    fn a_status_read_decides_only_a_movement_still_pending() {
        let v = amount("10.00");
        assert_eq!(
            book(Booked::Pending, v, None, &rejected(), Heard::OnStatusRead),
            Booking::Void(Rejection::new(RejectionCode::Ac07))
        );
        assert_eq!(book(Booked::Pending, v, None, &settled(None), Heard::OnStatusRead), Booking::Settle { settled: v });
        // Decided since the read, by a newer word of the rail's: the read changes nothing.
        assert_eq!(book(Booked::Voided, v, None, &settled(None), Heard::OnStatusRead), Booking::Agrees);
        assert_eq!(book(Booked::Settled, v, None, &rejected(), Heard::OnStatusRead), Booking::Agrees);
    }

    #[test]
    fn a_verdict_that_contradicts_a_final_state_is_booked_and_flagged() {
        let v = amount("10.00");
        let late = book(Booked::Voided, v, None, &settled(None), Heard::FromRail);
        assert_eq!(late, Booking::SettleAfterVoid { settled: v });
        assert_eq!(late.contradiction(v), Some(Contradiction::SettledAfterVoid));
        let undo = book(Booked::Settled, v, None, &rejected(), Heard::FromRail);
        assert_eq!(undo.contradiction(v), Some(Contradiction::VoidedAfterSettle));
        let other = book(Booked::Pending, v, None, &settled(Some("12.00")), Heard::FromRail);
        assert_eq!(other, Booking::Settle { settled: amount("12.00") });
        assert_eq!(other.contradiction(v), Some(Contradiction::AmountDiffers));
        assert_eq!(book(Booked::Pending, v, None, &settled(Some("10.00")), Heard::FromRail).contradiction(v), None);
    }

    #[test]
    fn a_reported_settlement_moves_an_assumed_amount_and_no_other() {
        let v = amount("10.00");
        let other = book(Booked::Settled, v, Some(v), &settled(Some("12.00")), Heard::FromRail);
        assert_eq!(other, Booking::Resettle { from: v, to: amount("12.00") });
        assert_eq!(other.contradiction(v), Some(Contradiction::AmountDiffers));
        assert_eq!(book(Booked::Settled, v, Some(v), &settled(Some("10.00")), Heard::FromRail), Booking::Agrees);
        // Reported once, reported again otherwise: the second does not reverse the first.
        assert_eq!(book(Booked::Settled, v, None, &settled(Some("12.00")), Heard::FromRail), Booking::Agrees);
        // Nor does a status read.
        assert_eq!(book(Booked::Settled, v, Some(v), &settled(Some("12.00")), Heard::OnStatusRead), Booking::Agrees);
        let m = MerchantId(uuid::Uuid::nil());
        assert_eq!(
            resettlement_postings(m, 1_000, 1_200, 100, 0),
            vec![
                (Account::RailSettlement, 200),
                (Account::MerchantAvailable(m), -100),
                (Account::OperationsReceivable, -100)
            ]
        );
        assert_eq!(
            resettlement_postings(m, 1_200, 1_000, 0, 0),
            vec![(Account::RailSettlement, -200), (Account::MerchantAvailable(m), 200)]
        );
    }

    #[test]
    fn a_return_parked_in_suspense_as_excess_is_the_merchants_once_more_is_known_to_have_left() {
        let m = MerchantId(uuid::Uuid::nil());
        // 12.00 came back of a transfer assumed at 10.00: 2.00 waited in suspense. 12.00 left.
        let p = resettlement_postings(m, 1_000, 1_200, 5_000, 1_200);
        assert_eq!(p.iter().map(|(_, v)| v).sum::<i64>(), 0);
        let net = |a: Account| p.iter().filter(|(x, _)| *x == a).map(|(_, v)| v).sum::<i64>();
        assert_eq!((net(Account::Suspense), net(Account::MerchantAvailable(m))), (-200, 0));
        // Only 8.00 left: 2.00 more of the 10.00 returned is excess.
        let p = resettlement_postings(m, 1_000, 800, 5_000, 1_000);
        let net = |a: Account| p.iter().filter(|(x, _)| *x == a).map(|(_, v)| v).sum::<i64>();
        assert_eq!((net(Account::Suspense), net(Account::MerchantAvailable(m))), (200, 0));
    }

    #[test]
    fn a_shortfall_is_taken_from_the_merchant_first_then_owed() {
        let m = MerchantId(uuid::Uuid::nil());
        assert_eq!(
            take_from_merchant(m, 500, 300),
            vec![(Account::MerchantAvailable(m), -300), (Account::OperationsReceivable, -200)]
        );
        assert_eq!(take_from_merchant(m, 500, -10)[1], (Account::OperationsReceivable, -500));
    }

    proptest! {
        #[test]
        fn every_settlement_balances_and_never_overdraws(
            reserved in 0i64..1_000_000, settled in 1i64..1_000_000, available in -100i64..1_000_000,
            owed in -100i64..1_000_000,
        ) {
            let m = MerchantId(uuid::Uuid::nil());
            let p = settlement_postings(m, reserved, settled, available);
            prop_assert_eq!(p.iter().map(|(_, v)| v).sum::<i64>(), 0);
            let debit = p.iter().filter(|(a, v)| *a == Account::MerchantAvailable(m) && *v < 0).map(|(_, v)| -v).sum::<i64>();
            prop_assert!(debit <= available.max(0));
            // Undone whatever the merchant owes by then: balanced, and never more off the
            // receivable than is owed.
            let undo = undo_postings(m, &p, owed);
            prop_assert_eq!(undo.iter().map(|(_, v)| v).sum::<i64>(), 0);
            let off_debt = undo.iter().filter(|(a, _)| *a == Account::OperationsReceivable).map(|(_, v)| *v).sum::<i64>();
            prop_assert!(off_debt <= owed.max(0) || off_debt <= 0);
        }
    }
}
