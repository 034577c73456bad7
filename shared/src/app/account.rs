//! Use cases of the merchant's account: balance and statement, from the ledger.

use super::AppState;
use crate::domain::ledger::Balance;
use crate::domain::merchant::Merchant;
use crate::ports::{Ledger, Page, StatementLine, StatementQuery, StoreError};

/// The ports the account use cases run with.
pub trait AccountPorts {
    fn ledger(&self) -> &dyn Ledger;
}

impl AccountPorts for AppState {
    fn ledger(&self) -> &dyn Ledger {
        self.ledger.as_ref()
    }
}

/// `GET /saldo`: available and pending (reserved for money on its way out).
pub async fn balance(ports: &impl AccountPorts, merchant: &Merchant) -> Result<Balance, StoreError> {
    ports.ledger().balance(merchant.id).await
}

/// `GET /extrato`: postings on the merchant's accounts, newest first.
pub async fn statement(
    ports: &impl AccountPorts,
    merchant: &Merchant,
    query: &StatementQuery,
) -> Result<Page<StatementLine>, StoreError> {
    ports.ledger().statement(merchant.id, query).await
}
