//! What each function may encrypt and decrypt: the encryption purposes (sent to KMS as
//! `purpose` in the encryption context), the rule that a request runs with its route's
//! list, and the cipher guard that holds the local server and the Lambdas to it. The IAM
//! policies in `serverless.yml` are written from the same lists
//! (`kms:EncryptionContext:purpose`), so a test run through the local server proves the
//! lists the policies grant.

use crate::ports::{Cipher, CipherContext, CipherError};
use async_trait::async_trait;
use std::future::Future;
use std::sync::Arc;

pub use crate::ports::purpose::*;

tokio::task_local! {
    static POLICY: Option<&'static [&'static str]>;
    /// Whether the running request's function holds the blind-index key.
    static INDEX: bool;
}

/// Runs `work` (one request or job invocation) allowed only the listed purposes.
pub async fn within<F: Future>(purposes: &'static [&'static str], work: F) -> F::Output {
    POLICY.scope(Some(purposes), work).await
}

/// Runs one request allowed only its route's purposes, and blind indexes only if its
/// function holds the index key (`Route::holds_index_key`).
pub async fn within_route<F: Future>(purposes: &'static [&'static str], holds_index: bool, work: F) -> F::Output {
    POLICY.scope(Some(purposes), INDEX.scope(holds_index, work)).await
}

/// `work` held to the running task's policy, for a task it spawns (a task-local does not
/// follow `tokio::spawn` by itself).
pub fn inherit<F: Future>(work: F) -> impl Future<Output = F::Output> {
    POLICY.scope(POLICY.try_with(|p| *p).ok().flatten(), INDEX.scope(index_allowed(), work))
}

/// Whether the running request may compute blind indexes (outside any request: yes).
pub fn index_allowed() -> bool {
    INDEX.try_with(|i| *i).unwrap_or(true)
}

/// Whether the running request may use `purpose`. Outside any request (start-up, tools)
/// everything is allowed: the IAM policy is the boundary there.
pub fn allowed(purpose: &str) -> bool {
    purpose == BLIND_INDEX_KEY || POLICY.try_with(|p| p.is_none_or(|p| p.contains(&purpose))).unwrap_or(true)
}

/// A cipher that refuses purposes outside the running request's list, as KMS does in AWS
/// (`AccessDeniedException`), so that a missing entry fails every test that reaches it.
pub struct PurposeGuard(pub Arc<dyn Cipher>);

fn refused(purpose: &str) -> CipherError {
    tracing::error!(purpose, "encryption purpose outside this function's key policy");
    CipherError::Unexpected(anyhow::anyhow!("purpose {purpose} is outside this function's key policy"))
}

#[async_trait]
impl Cipher for PurposeGuard {
    async fn encrypt(&self, plaintext: &[u8], context: CipherContext) -> Result<Vec<u8>, CipherError> {
        if !allowed(context.purpose) {
            return Err(refused(context.purpose));
        }
        self.0.encrypt(plaintext, context).await
    }

    async fn decrypt(&self, envelope: &[u8], context: CipherContext) -> Result<Vec<u8>, CipherError> {
        if !allowed(context.purpose) {
            return Err(refused(context.purpose));
        }
        self.0.decrypt(envelope, context).await
    }

    fn blind_index(&self, purpose: &'static str, value: &[u8]) -> Result<[u8; 32], CipherError> {
        // Indexes are HMACs under a key every function but the public ones holds (in AWS
        // they are not given it): refused there as the missing key refuses it in AWS.
        if !index_allowed() {
            return Err(refused(BLIND_INDEX_KEY));
        }
        self.0.blind_index(purpose, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guarded() -> PurposeGuard {
        PurposeGuard(Arc::new(crate::wiring::local_cipher([7; 32])))
    }

    fn context(purpose: &'static str) -> CipherContext {
        CipherContext { merchant: None, purpose }
    }

    #[tokio::test]
    async fn a_request_uses_the_purposes_its_route_lists_and_no_other() {
        let c = guarded();
        let sealed = c.encrypt(b"12345678909", context(DEVEDOR)).await.unwrap();
        within(&[DEVEDOR], async {
            assert_eq!(c.decrypt(&sealed, context(DEVEDOR)).await.unwrap(), b"12345678909");
            assert!(c.encrypt(b"secret", context(WEBHOOK_SECRET)).await.is_err());
            assert!(c.decrypt(&sealed, context(PAGADOR)).await.is_err());
        })
        .await;
        within(&[], async { assert!(c.decrypt(&sealed, context(DEVEDOR)).await.is_err()) }).await;
    }

    #[tokio::test]
    async fn a_task_spawned_by_a_request_keeps_its_policy() {
        let c = Arc::new(guarded());
        let sealed = c.encrypt(b"x", context(DEVEDOR)).await.unwrap();
        let refused = within(&[PAGADOR], async {
            let c = c.clone();
            tokio::spawn(inherit(async move { c.decrypt(&sealed, context(DEVEDOR)).await.is_err() })).await.unwrap()
        })
        .await;
        assert!(refused);
    }

    #[tokio::test]
    async fn a_public_functions_request_computes_no_blind_index_not_even_in_a_task_it_spawns() {
        let c = Arc::new(guarded());
        within_route(&[DEVEDOR], true, async { assert!(c.blind_index("doc", b"1").is_ok()) }).await;
        let refused = within_route(&[DEVEDOR], false, async {
            let spawned = c.clone();
            let in_task = tokio::spawn(inherit(async move { spawned.blind_index("doc", b"1").is_err() }));
            c.blind_index("doc", b"1").is_err() && in_task.await.unwrap()
        })
        .await;
        assert!(refused, "refused as the missing key refuses it in AWS");
    }

    #[tokio::test]
    async fn outside_a_request_the_iam_policy_is_the_only_boundary() {
        let c = guarded();
        assert!(c.encrypt(b"x", context(WEBHOOK_SECRET)).await.is_ok());
        assert!(allowed(BLIND_INDEX_KEY));
    }
}
