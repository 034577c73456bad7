//! Ports: the traits use cases depend on. Adapters (Postgres today; DynamoDB, KMS and the
//! rail later) implement them, so use cases run the same in Lambda, locally and in tests.

use crate::domain::charge::{Charge, ChargePatch, ChargeStatus, ChargeTerms, RevisionError};
use crate::domain::document::Document;
use crate::domain::ids::{LocationToken, Txid};
use crate::domain::merchant::{ApiKeyHash, Merchant, MerchantId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// A storage failure. Callers never show its content to clients.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or timed out: worth retrying.
    #[error("storage unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// Anything else: a bug or a broken invariant.
    #[error("unexpected storage error")]
    Unexpected(#[source] anyhow::Error),
}

/// A merchant to register.
pub struct NewMerchant {
    pub name: String,
    pub city: String,
    pub pix_key: String,
    pub api_key_hash: ApiKeyHash,
}

/// Why a merchant could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum RegisterMerchantError {
    /// A Pix key belongs to exactly one account.
    #[error("that Pix key is already registered")]
    PixKeyTaken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[async_trait]
pub trait MerchantStore: Send + Sync {
    async fn register(&self, new: NewMerchant) -> Result<MerchantId, RegisterMerchantError>;
    /// The merchant owning an active API key with this hash.
    async fn by_api_key(&self, hash: &ApiKeyHash) -> Result<Option<Merchant>, StoreError>;
}

/// A new charge, ready to store.
pub struct NewCharge<'a> {
    pub txid: &'a Txid,
    pub terms: &'a ChargeTerms,
    /// SHA-256 of the canonical request: a repeated PUT with the same content is a replay.
    pub fingerprint: [u8; 32],
    pub location_token: LocationToken,
    pub location_url: String,
    /// The dynamic BR Code pointing at `location_url`.
    pub pix_copia_e_cola: String,
}

/// What storing a new charge did.
#[derive(Debug)]
pub enum CreateOutcome {
    Created(Charge),
    /// The txid was already used by this merchant.
    Exists {
        charge: Charge,
        same_request: bool,
    },
}

/// What a revision did.
#[derive(Debug)]
pub enum ReviseOutcome {
    /// The charge after the PATCH (unchanged when the PATCH changed nothing).
    Revised(Charge),
    Rejected(RevisionError),
    NotFound,
}

/// Filters of `GET /cob` (the Bacen parameters, already parsed).
#[derive(Debug, Clone)]
pub struct ChargeQuery {
    pub inicio: DateTime<Utc>,
    pub fim: DateTime<Utc>,
    pub devedor: Option<Document>,
    pub status: Option<ChargeStatus>,
    pub location_presente: Option<bool>,
    pub pagina: u32,
    pub itens_por_pagina: u32,
}

/// One page of results and the total count across pages.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

#[async_trait]
pub trait ChargeStore: Send + Sync {
    async fn create(
        &self,
        merchant: MerchantId,
        new: NewCharge<'_>,
    ) -> Result<CreateOutcome, StoreError>;
    /// The charge now, or at revision `revisao`.
    async fn find(
        &self,
        merchant: MerchantId,
        txid: &Txid,
        revisao: Option<i32>,
    ) -> Result<Option<Charge>, StoreError>;
    /// Applies `patch` atomically under the domain revision rules.
    async fn revise(
        &self,
        merchant: MerchantId,
        txid: &Txid,
        patch: &ChargePatch,
    ) -> Result<ReviseOutcome, StoreError>;
    async fn list(
        &self,
        merchant: MerchantId,
        query: &ChargeQuery,
    ) -> Result<Page<Charge>, StoreError>;
}
