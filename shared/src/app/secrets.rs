//! Secrets a function holds in memory, not in its configuration: read from the secret
//! store on first use, and read again when a message fails to verify (the likely cause is
//! a rotation), at most once a minute whatever arrives.

use crate::ports::{SecretSource, SecretVersions, StoreError};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::RwLock;

/// How soon a failed verification may read the secret again.
pub const MIN_REREAD: Duration = Duration::from_secs(60);
/// How long values are held before the next use reads them again, whatever happens: a
/// rotation reaches every function within this bound, and a revoked previous value stops
/// verifying.
pub const MAX_AGE: Duration = Duration::from_secs(300);

struct Held {
    versions: SecretVersions,
    /// When the store was last asked (successfully or not). Wall-clock time: a frozen
    /// Lambda's monotonic clock may not have moved while the world did.
    read_at: SystemTime,
    /// When the store last answered.
    loaded_at: SystemTime,
}

impl Held {
    fn new(versions: SecretVersions) -> Self {
        let now = SystemTime::now();
        Held { versions, read_at: now, loaded_at: now }
    }

    fn asked_within(&self, d: Duration) -> bool {
        SystemTime::now().duration_since(self.read_at).is_ok_and(|age| age < d)
    }

    /// After a failed read: asked now; and a previous value the store has not confirmed
    /// for longer than a rotation's overlap stops verifying.
    fn asked_in_vain(&mut self) {
        self.read_at = SystemTime::now();
        if SystemTime::now().duration_since(self.loaded_at).map_or(true, |age| age >= MAX_PREVIOUS_UNCONFIRMED) {
            self.versions.previous = None;
        }
    }
}

/// How long a previous value keeps verifying while the store cannot be reached.
pub const MAX_PREVIOUS_UNCONFIRMED: Duration = Duration::from_secs(24 * 3600);

/// One secret with its rotation overlap (`previous`).
pub struct RotatingSecret {
    source: Option<(Arc<dyn SecretSource>, String)>,
    /// The shortest value accepted from the store.
    min_len: usize,
    /// [`MIN_REREAD`] unless changed.
    reread_after: Duration,
    /// The key-policy entry a function must list to use it (none: any may).
    policy: Option<&'static str>,
    held: RwLock<Option<Held>>,
}

impl RotatingSecret {
    /// A secret given at start-up (the local server, tests): never re-read.
    pub fn fixed(current: Vec<u8>, previous: Option<Vec<u8>>) -> Self {
        let held = Held::new(SecretVersions { current, previous });
        RotatingSecret {
            source: None,
            min_len: 0,
            reread_after: MIN_REREAD,
            policy: None,
            held: RwLock::new(Some(held)),
        }
    }

    /// A secret read from `source` under `id` when first needed.
    pub fn from_source(source: Arc<dyn SecretSource>, id: String, min_len: usize) -> Self {
        RotatingSecret {
            source: Some((source, id)),
            min_len,
            reread_after: MIN_REREAD,
            policy: None,
            held: RwLock::new(None),
        }
    }

    /// The same, usable only by a request or job whose key policy lists `entry`
    /// (`app::key_policy`): a function that is not, is refused here as IAM refuses its
    /// role in AWS, so a list that misses one fails the tests that reach it.
    pub fn held_to(mut self, entry: &'static str) -> Self {
        self.policy = Some(entry);
        self
    }

    fn permitted(&self) -> Result<(), StoreError> {
        match self.policy {
            Some(entry) if !crate::app::key_policy::allowed(entry) => {
                tracing::error!(entry, "a secret outside this function's key policy");
                Err(StoreError::Unexpected(anyhow::anyhow!("{entry} is outside this function's key policy")))
            }
            _ => Ok(()),
        }
    }

    /// The same, re-read sooner (tests that rotate and cannot wait a minute).
    pub fn reread_after(mut self, after: Duration) -> Self {
        self.reread_after = after;
        self
    }

    async fn load(&self) -> Result<SecretVersions, StoreError> {
        let Some((source, id)) = &self.source else {
            return Err(StoreError::Unexpected(anyhow::anyhow!("a fixed secret has nothing to read")));
        };
        let versions = source.read(id).await?;
        let short = |v: &[u8]| v.len() < self.min_len;
        if short(&versions.current) {
            return Err(StoreError::Unexpected(anyhow::anyhow!("secret {id} is shorter than {} bytes", self.min_len)));
        }
        // A too-short previous value is dropped rather than accepted.
        let previous = versions.previous.filter(|p| !short(p));
        Ok(SecretVersions { current: versions.current, previous })
    }

    fn fresh(&self, h: &Held) -> bool {
        self.source.is_none() || h.asked_within(MAX_AGE)
    }

    /// The values now: current first, then the previous one during a rotation. Read from
    /// the store on first use and once they are older than [`MAX_AGE`] (if the store is
    /// down then, the values held are kept).
    pub async fn versions(&self) -> Result<SecretVersions, StoreError> {
        self.permitted()?;
        if let Some(h) = self.held.read().await.as_ref().filter(|h| self.fresh(h)) {
            return Ok(h.versions.clone());
        }
        let mut held = self.held.write().await;
        if let Some(h) = held.as_ref().filter(|h| self.fresh(h)) {
            return Ok(h.versions.clone());
        }
        match (self.load().await, held.as_mut()) {
            (Ok(versions), _) => {
                *held = Some(Held::new(versions.clone()));
                Ok(versions)
            }
            (Err(e), Some(h)) => {
                tracing::warn!(error = %e, "re-reading a secret failed; keeping the values held");
                h.asked_in_vain();
                Ok(h.versions.clone())
            }
            (Err(e), None) => Err(e),
        }
    }

    /// Reads the secret again unless it was read within [`MIN_REREAD`] (or as set); true if its value
    /// changed (then a failed verification is worth trying again).
    pub async fn reread(&self) -> bool {
        if self.source.is_none() || self.permitted().is_err() {
            return false;
        }
        let mut held = self.held.write().await;
        if held.as_ref().is_some_and(|h| h.asked_within(self.reread_after)) {
            return false;
        }
        match self.load().await {
            Ok(versions) => {
                let changed = held.as_ref().is_none_or(|h| h.versions != versions);
                *held = Some(Held::new(versions));
                changed
            }
            Err(e) => {
                tracing::warn!(error = %e, "re-reading a secret failed; keeping the values held");
                // A store that is down is not asked again at once by the next bad message.
                if let Some(h) = held.as_mut() {
                    h.asked_in_vain();
                }
                false
            }
        }
    }
}

impl SecretVersions {
    /// The values a message may be signed with, current first.
    pub fn all(&self) -> Vec<&[u8]> {
        std::iter::once(self.current.as_slice()).chain(self.previous.as_deref()).collect()
    }
}

#[async_trait::async_trait]
impl crate::ports::HeldSecret for RotatingSecret {
    async fn versions(&self) -> Result<SecretVersions, StoreError> {
        RotatingSecret::versions(self).await
    }

    async fn reread(&self) -> bool {
        RotatingSecret::reread(self).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use std::sync::Mutex;

    /// A store whose value the test rotates, counting reads.
    struct Store {
        value: Mutex<(Vec<u8>, Option<Vec<u8>>)>,
        reads: Mutex<u32>,
    }

    #[async_trait]
    impl SecretSource for Store {
        async fn read(&self, _: &str) -> Result<SecretVersions, StoreError> {
            *self.reads.lock().unwrap() += 1;
            let (current, previous) = self.value.lock().unwrap().clone();
            Ok(SecretVersions { current, previous })
        }
    }

    #[tokio::test]
    async fn a_secret_held_to_a_policy_entry_serves_only_requests_whose_function_lists_it() {
        use crate::app::key_policy::{within, DEVEDOR, RAIL_SECRET};
        let secret = RotatingSecret::fixed(b"rail-secret-0123".to_vec(), None).held_to(RAIL_SECRET);
        assert!(within(&[DEVEDOR, RAIL_SECRET], secret.versions()).await.is_ok());
        assert!(within(&[DEVEDOR], secret.versions()).await.is_err(), "refused as IAM refuses the role");
        assert!(secret.versions().await.is_ok(), "outside any request (start-up, tools) IAM is the boundary");
    }

    #[tokio::test]
    async fn a_secret_is_read_once_and_a_rotation_is_picked_up_at_most_once_a_minute() {
        let store = Arc::new(Store { value: Mutex::new((b"first-secret-0123".to_vec(), None)), reads: Mutex::new(0) });
        let secret = RotatingSecret::from_source(store.clone(), "rail".into(), 16);
        assert_eq!(*store.reads.lock().unwrap(), 0, "nothing is read before it is needed");
        assert_eq!(secret.versions().await.unwrap().current, b"first-secret-0123");
        assert_eq!(secret.versions().await.unwrap().current, b"first-secret-0123");
        assert_eq!(*store.reads.lock().unwrap(), 1);
        *store.value.lock().unwrap() = (b"second-secret-0123".to_vec(), Some(b"first-secret-0123".to_vec()));
        assert!(!secret.reread().await, "read less than a minute ago");
        assert_eq!(*store.reads.lock().unwrap(), 1);
        secret.held.write().await.as_mut().unwrap().read_at -= MIN_REREAD;
        assert!(secret.reread().await);
        let v = secret.versions().await.unwrap();
        assert_eq!(v.all(), [&b"second-secret-0123"[..], &b"first-secret-0123"[..]]);
        // Past MAX_AGE the next use reads again by itself: the previous value is gone.
        *store.value.lock().unwrap() = (b"second-secret-0123".to_vec(), None);
        secret.held.write().await.as_mut().unwrap().read_at -= MAX_AGE;
        assert_eq!(secret.versions().await.unwrap().all(), [&b"second-secret-0123"[..]]);
        assert_eq!(*store.reads.lock().unwrap(), 3);
    }

    #[tokio::test]
    async fn a_secret_shorter_than_the_minimum_is_refused() {
        let store = Arc::new(Store { value: Mutex::new((b"short".to_vec(), None)), reads: Mutex::new(0) });
        let secret = RotatingSecret::from_source(store, "rail".into(), 16);
        assert!(secret.versions().await.is_err());
    }
}
