//! Double-entry journal entries. Each constructor builds a balanced entry (postings sum to
//! zero) for one kind of money movement, keyed by its natural key so that it can be posted
//! at most once. The database checks the same invariants again.

use super::merchant::MerchantId;
use super::money::Amount;

/// The accounts money moves between.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Account {
    /// What the merchant can use now.
    MerchantAvailable(MerchantId),
    /// What is reserved for money on its way out (refunds, transfers).
    MerchantPending(MerchantId),
    /// The platform's position at the rail (sponsor bank / SPI): the other side of every
    /// Pix in or out.
    RailSettlement,
    /// Fees charged.
    FeeRevenue,
    /// Money received for a key no merchant owns, parked until someone sorts it out; also
    /// the other side of a rail report we cannot attribute (a divergent notification).
    Suspense,
    /// What merchants owe the platform: money that left for them beyond their available
    /// balance (a settlement after a void, a larger settlement than ordered). Operations
    /// collect it.
    OperationsReceivable,
}

/// The kinds of movement, each unique on its natural key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    PixReceived,
    RefundReserve,
    RefundSettle,
    RefundVoid,
    TransferReserve,
    TransferSettle,
    TransferVoid,
    /// A booking that corrects a transfer after a contradictory verdict.
    TransferCorrection,
    /// The same, for a refund.
    RefundCorrection,
    /// A Pix we sent, returned by the receiving bank (a devolução, MED included).
    TransferReturn,
    /// The difference a divergent notification of a received Pix reports.
    PixReceivedCorrection,
    /// What a merchant owes operations, repaid from its available balance.
    DebtRepayment,
}

const ENTRY_KINDS: [EntryKind; 12] = [
    EntryKind::PixReceived,
    EntryKind::RefundReserve,
    EntryKind::RefundSettle,
    EntryKind::RefundVoid,
    EntryKind::TransferReserve,
    EntryKind::TransferSettle,
    EntryKind::TransferVoid,
    EntryKind::TransferCorrection,
    EntryKind::RefundCorrection,
    EntryKind::TransferReturn,
    EntryKind::PixReceivedCorrection,
    EntryKind::DebtRepayment,
];

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::PixReceived => "pix_received",
            EntryKind::RefundReserve => "refund_reserve",
            EntryKind::RefundSettle => "refund_settle",
            EntryKind::RefundVoid => "refund_void",
            EntryKind::TransferReserve => "transfer_reserve",
            EntryKind::TransferSettle => "transfer_settle",
            EntryKind::TransferVoid => "transfer_void",
            EntryKind::TransferCorrection => "transfer_correction",
            EntryKind::RefundCorrection => "refund_correction",
            EntryKind::TransferReturn => "transfer_return",
            EntryKind::PixReceivedCorrection => "pix_received_correction",
            EntryKind::DebtRepayment => "debt_repayment",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        ENTRY_KINDS.into_iter().find(|k| k.as_str() == s)
    }
}

/// A balanced journal entry, ready to post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    kind: EntryKind,
    natural_key: String,
    postings: Vec<(Account, i64)>,
}

impl JournalEntry {
    fn new(kind: EntryKind, natural_key: String, postings: Vec<(Account, i64)>) -> Self {
        let postings: Vec<_> = postings.into_iter().filter(|(_, a)| *a != 0).collect();
        debug_assert_eq!(postings.iter().map(|(_, a)| a).sum::<i64>(), 0);
        JournalEntry { kind, natural_key, postings }
    }

    /// A Pix received: the rail pays in `valor`; the merchant gets it net of `fee`.
    /// `merchant` is None when the key is unknown: the money goes to suspense.
    pub fn pix_received(e2eid: &str, merchant: Option<MerchantId>, valor: Amount, fee: Amount) -> Self {
        let v = valor.centavos();
        let f = fee.centavos().min(v);
        let postings = match merchant {
            Some(m) => {
                vec![(Account::RailSettlement, -v), (Account::MerchantAvailable(m), v - f), (Account::FeeRevenue, f)]
            }
            None => vec![(Account::RailSettlement, -v), (Account::Suspense, v)],
        };
        JournalEntry::new(EntryKind::PixReceived, e2eid.to_owned(), postings)
    }

    /// Money on its way out is reserved: `valor` moves from available to pending (the
    /// database refuses it without funds).
    fn reserve(kind: EntryKind, key: &str, merchant: MerchantId, valor: Amount) -> Self {
        let v = valor.centavos();
        JournalEntry::new(
            kind,
            key.to_owned(),
            vec![(Account::MerchantAvailable(merchant), -v), (Account::MerchantPending(merchant), v)],
        )
    }

    /// The rail confirmed: the reservation leaves through the rail.
    fn settle(kind: EntryKind, key: &str, merchant: MerchantId, valor: Amount) -> Self {
        let v = valor.centavos();
        JournalEntry::new(
            kind,
            key.to_owned(),
            vec![(Account::MerchantPending(merchant), -v), (Account::RailSettlement, v)],
        )
    }

    /// An entry from postings computed elsewhere (a settlement of another amount, a
    /// correction); None unless they balance over at least two accounts.
    pub fn balanced(kind: EntryKind, key: &str, postings: Vec<(Account, i64)>) -> Option<Self> {
        let mut merged: Vec<(Account, i64)> = vec![];
        for (a, v) in postings {
            match merged.iter_mut().find(|(b, _)| *b == a) {
                Some((_, w)) => *w = w.checked_add(v)?,
                None => merged.push((a, v)),
            }
        }
        merged.retain(|(_, v)| *v != 0);
        let sum = merged.iter().try_fold(0i64, |s, (_, v)| s.checked_add(*v))?;
        (sum == 0 && merged.len() >= 2).then(|| JournalEntry { kind, natural_key: key.to_owned(), postings: merged })
    }

    /// A Pix we sent comes back (keyed by the return's rtrId): the rail pays in `valor`;
    /// the merchant gets what the transfer sent, any `excess` goes to suspense.
    pub fn transfer_return(rtr_id: &str, merchant: MerchantId, valor: Amount, excess: Amount) -> Self {
        let (v, x) = (valor.centavos(), excess.centavos().min(valor.centavos()));
        JournalEntry::new(
            EntryKind::TransferReturn,
            rtr_id.to_owned(),
            vec![(Account::RailSettlement, -v), (Account::MerchantAvailable(merchant), v - x), (Account::Suspense, x)],
        )
    }

    /// A divergent report of a received Pix: the rail's position moves by `difference`
    /// (positive: more arrived than first reported), parked in suspense.
    pub fn pix_received_correction(key: &str, difference: i64) -> Option<Self> {
        Self::balanced(
            EntryKind::PixReceivedCorrection,
            key,
            vec![(Account::RailSettlement, -difference), (Account::Suspense, difference)],
        )
    }

    /// What `merchant` owes operations (the receivable), `amount` of it repaid from its
    /// available balance: its repayment number `number`, the entry's key `{merchant}:{number}`.
    pub fn debt_repayment(merchant: MerchantId, number: i64, amount: Amount) -> Self {
        let v = amount.centavos();
        JournalEntry::new(
            EntryKind::DebtRepayment,
            format!("{}:{number}", merchant.0),
            vec![(Account::MerchantAvailable(merchant), -v), (Account::OperationsReceivable, v)],
        )
    }

    /// The rail refused: the reservation returns to available.
    fn void(kind: EntryKind, key: &str, merchant: MerchantId, valor: Amount) -> Self {
        let v = valor.centavos();
        JournalEntry::new(
            kind,
            key.to_owned(),
            vec![(Account::MerchantPending(merchant), -v), (Account::MerchantAvailable(merchant), v)],
        )
    }

    /// A refund requested (keyed by its rtrId).
    pub fn refund_reserve(rtr_id: &str, merchant: MerchantId, valor: Amount) -> Self {
        Self::reserve(EntryKind::RefundReserve, rtr_id, merchant, valor)
    }

    pub fn refund_settle(rtr_id: &str, merchant: MerchantId, valor: Amount) -> Self {
        Self::settle(EntryKind::RefundSettle, rtr_id, merchant, valor)
    }

    pub fn refund_void(rtr_id: &str, merchant: MerchantId, valor: Amount) -> Self {
        Self::void(EntryKind::RefundVoid, rtr_id, merchant, valor)
    }

    /// A transfer out requested (keyed by its end-to-end id).
    pub fn transfer_reserve(e2eid: &str, merchant: MerchantId, valor: Amount) -> Self {
        Self::reserve(EntryKind::TransferReserve, e2eid, merchant, valor)
    }

    pub fn transfer_settle(e2eid: &str, merchant: MerchantId, valor: Amount) -> Self {
        Self::settle(EntryKind::TransferSettle, e2eid, merchant, valor)
    }

    pub fn transfer_void(e2eid: &str, merchant: MerchantId, valor: Amount) -> Self {
        Self::void(EntryKind::TransferVoid, e2eid, merchant, valor)
    }

    pub fn kind(&self) -> EntryKind {
        self.kind
    }

    pub fn natural_key(&self) -> &str {
        &self.natural_key
    }

    /// Postings in account order, so concurrent transactions lock balance rows in one order.
    pub fn postings(&self) -> Vec<(Account, i64)> {
        let mut p = self.postings.clone();
        p.sort_by_key(|(a, _)| *a);
        p
    }
}

/// A merchant's fee plan for received Pix: a percentage (basis points) plus a fixed amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FeePlan {
    pub bps: u32,
    pub fixed: Amount,
}

impl FeePlan {
    /// The fee on `valor`: fixed + percentage rounded half up, never more than `valor`.
    pub fn fee(&self, valor: Amount) -> Amount {
        let v = i128::from(valor.centavos());
        let pct = (v * i128::from(self.bps) + 5_000) / 10_000;
        let fee = (i128::from(self.fixed.centavos()) + pct).min(v);
        Amount::from_centavos(fee as i64).unwrap_or(Amount::ZERO)
    }
}

/// A merchant's balances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balance {
    pub available: Amount,
    pub pending: Amount,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sum(e: &JournalEntry) -> i64 {
        e.postings().iter().map(|(_, a)| a).sum()
    }

    #[test]
    fn fees_are_rounded_half_up_and_capped() {
        let plan = FeePlan { bps: 99, fixed: Amount::parse("0.10").unwrap() };
        assert_eq!(plan.fee(Amount::parse("100.00").unwrap()), Amount::parse("1.09").unwrap());
        assert_eq!(plan.fee(Amount::parse("0.50").unwrap()), Amount::parse("0.10").unwrap()); // 0.495 -> 0
        assert_eq!(plan.fee(Amount::parse("0.05").unwrap()), Amount::parse("0.05").unwrap()); // capped
        assert_eq!(FeePlan::default().fee(Amount::parse("10.00").unwrap()), Amount::ZERO);
    }

    #[test]
    fn a_repayment_moves_the_merchants_money_to_the_receivable_keyed_by_merchant_and_number() {
        let m = MerchantId(uuid::Uuid::from_u128(7));
        let e = JournalEntry::debt_repayment(m, 3, Amount::parse("15.00").unwrap());
        assert_eq!(e.kind(), EntryKind::DebtRepayment);
        assert_eq!(e.natural_key(), format!("{}:3", m.0));
        assert_eq!(e.postings(), vec![(Account::MerchantAvailable(m), -1500), (Account::OperationsReceivable, 1500)]);
        assert_eq!(EntryKind::parse("debt_repayment"), Some(EntryKind::DebtRepayment));
    }

    proptest! {
        #[test]
        fn every_entry_balances(c in 1i64..999_999_999_999, bps in 0u32..=10_000, fixed in 0i64..10_000) {
            let m = MerchantId(uuid::Uuid::nil());
            let valor = Amount::from_centavos(c).unwrap();
            let fee = FeePlan { bps, fixed: Amount::from_centavos(fixed).unwrap() }.fee(valor);
            prop_assert!(fee <= valor);
            for e in [
                JournalEntry::pix_received("e", Some(m), valor, fee),
                JournalEntry::pix_received("e", None, valor, fee),
                JournalEntry::refund_reserve("r", m, valor),
                JournalEntry::refund_settle("r", m, valor),
                JournalEntry::refund_void("r", m, valor),
                JournalEntry::transfer_reserve("t", m, valor),
                JournalEntry::transfer_settle("t", m, valor),
                JournalEntry::transfer_void("t", m, valor),
                JournalEntry::debt_repayment(m, 1, valor),
            ] {
                prop_assert_eq!(sum(&e), 0);
                prop_assert!(e.postings().len() >= 2);
            }
        }
    }
}
