//! Use cases of the merchant's account: balance and statement, from the ledger.

use super::AppState;
use crate::domain::ledger::Balance;
use crate::domain::merchant::Merchant;
use crate::ports::{Page, StatementLine, StatementQuery, StoreError};

/// `GET /saldo`: available and pending (reserved for money on its way out).
pub async fn balance(state: &AppState, merchant: &Merchant) -> Result<Balance, StoreError> {
    state.ledger.balance(merchant.id).await
}

/// `GET /extrato`: postings on the merchant's accounts, newest first.
pub async fn statement(
    state: &AppState,
    merchant: &Merchant,
    query: &StatementQuery,
) -> Result<Page<StatementLine>, StoreError> {
    state.ledger.statement(merchant.id, query).await
}
