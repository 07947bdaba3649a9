//! Authentication: the static API token goes on every request (see [`crate::client`]); the
//! account PIN buys temporary keys, which downloads need.
//!
//! A temporary key (`POST /api/keys`) lives one hour. [`Keys`] hands it out as a
//! [`KeyLease`]: concurrent downloads share one key (one fetch for all of them), a key with
//! less than [`KEY_MARGIN`] of its life left is replaced before use, and when the last lease
//! of a key ends the key is revoked (`DELETE /api/keys/{key}`), on failure paths too. With
//! `reuse_temporary_key`, an idle key is kept for later downloads until it goes stale or
//! [`Keys::close`] revokes it.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use securesend_core::{Result, Secret};

use crate::client::Api;

/// The documented life of a temporary key. Its `expires_at` carries no time zone, so the
/// adapter counts the hour from before its request instead of trusting that timestamp.
pub(crate) const KEY_LIFE: Duration = Duration::from_secs(3600);

/// A key with less life than this left is not handed out: a download started with it could
/// outlive it.
pub(crate) const KEY_MARGIN: Duration = Duration::from_secs(300);

struct Held {
    id: u64,
    key: Secret,
    fresh_until: Instant,
}

#[derive(Default)]
struct KeyState {
    current: Option<Arc<Held>>,
    leases: HashMap<u64, usize>,
    next_id: u64,
}

/// The temporary keys of one provider instance.
pub(crate) struct Keys {
    api: Api,
    pin: Secret,
    reuse: bool,
    state: Mutex<KeyState>,
    /// Held by the one caller fetching a key; the others wait and share its key.
    flight: tokio::sync::Mutex<()>,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.lock();
        f.debug_struct("Keys")
            .field("reuse", &self.reuse)
            .field("has_key", &st.current.is_some())
            .field("leases", &st.leases.values().sum::<usize>())
            .finish_non_exhaustive()
    }
}

/// The use of one temporary key by one download. Return it with [`KeyLease::release`]; a
/// lease dropped without that is settled in the background.
pub(crate) struct KeyLease {
    keys: Arc<Keys>,
    held: Arc<Held>,
    released: bool,
}

impl fmt::Debug for KeyLease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyLease")
            .field("key", &self.held.key)
            .finish()
    }
}

impl KeyLease {
    /// The temporary key, for the `pinKey` field.
    pub fn key(&self) -> &Secret {
        &self.held.key
    }

    /// Ends the lease; revokes the key now if it was the last use and the key is not kept.
    pub async fn release(mut self) {
        self.released = true;
        if let Some(key) = self.keys.settle(&self.held) {
            self.keys.revoke(&key).await;
        }
    }
}

impl Drop for KeyLease {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        if let Some(key) = self.keys.settle(&self.held) {
            // A download abandoned mid-way: revoke in the background where a runtime runs.
            match tokio::runtime::Handle::try_current() {
                Ok(rt) => {
                    let keys = self.keys.clone();
                    rt.spawn(async move { keys.revoke(&key).await });
                }
                Err(_) => tracing::warn!(
                    provider = crate::PROVIDER,
                    "a temporary key could not be revoked (no async runtime); it expires within an hour"
                ),
            }
        }
    }
}

impl Keys {
    pub fn new(api: Api, pin: Secret, reuse: bool) -> Arc<Keys> {
        Arc::new(Keys {
            api,
            pin,
            reuse,
            state: Mutex::new(KeyState::default()),
            flight: tokio::sync::Mutex::new(()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, KeyState> {
        // Every update is a few assignments that leave the state consistent at each step.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn try_lease(self: &Arc<Self>) -> Option<KeyLease> {
        let mut st = self.lock();
        let held = st
            .current
            .clone()
            .filter(|h| Instant::now() < h.fresh_until)?;
        *st.leases.entry(held.id).or_insert(0) += 1;
        Some(KeyLease {
            keys: self.clone(),
            held,
            released: false,
        })
    }

    /// A lease on a fresh temporary key, fetching one (with the PIN) when needed.
    pub async fn acquire(self: &Arc<Self>) -> Result<KeyLease> {
        if let Some(lease) = self.try_lease() {
            return Ok(lease);
        }
        let _flight = self.flight.lock().await;
        if let Some(lease) = self.try_lease() {
            return Ok(lease);
        }
        let asked = Instant::now();
        let key = self.api.create_temporary_key(&self.pin).await?;
        let (lease, stale) = {
            let mut st = self.lock();
            let id = st.next_id;
            st.next_id += 1;
            let held = Arc::new(Held {
                id,
                key,
                fresh_until: asked + (KEY_LIFE - KEY_MARGIN),
            });
            st.leases.insert(id, 1);
            let old = st.current.replace(held.clone());
            // The replaced key is revoked now if nobody uses it, else when its last lease ends.
            let stale = old.filter(|o| st.leases.get(&o.id) == Some(&0));
            if let Some(o) = &stale {
                st.leases.remove(&o.id);
            }
            let lease = KeyLease {
                keys: self.clone(),
                held,
                released: false,
            };
            (lease, stale)
        };
        tracing::debug!(provider = crate::PROVIDER, "temporary key created");
        if let Some(old) = stale {
            self.revoke(&old.key).await;
        }
        Ok(lease)
    }

    /// Checks the PIN with a request of its own: a new temporary key, revoked at once. No
    /// key held for downloads is used or replaced, so the answer is about the PIN as now
    /// configured.
    pub async fn check_pin(&self) -> Result<()> {
        let key = self.api.create_temporary_key(&self.pin).await?;
        self.revoke(&key).await;
        Ok(())
    }

    /// The service refused the lease's key: it is never handed out again (the lease still
    /// ends normally, which revokes it for good measure).
    pub fn forget(&self, lease: &KeyLease) {
        let mut st = self.lock();
        if st
            .current
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(c, &lease.held))
        {
            st.current = None;
        }
    }

    /// Counts a lease back; `Some(key)` when the key is to be revoked now.
    fn settle(&self, held: &Arc<Held>) -> Option<Secret> {
        let mut st = self.lock();
        let left = st.leases.get_mut(&held.id)?;
        *left = left.saturating_sub(1);
        if *left > 0 {
            return None;
        }
        let is_current = st.current.as_ref().is_some_and(|c| Arc::ptr_eq(c, held));
        if is_current && self.reuse && Instant::now() < held.fresh_until {
            return None;
        }
        st.leases.remove(&held.id);
        if is_current {
            st.current = None;
        }
        Some(held.key.clone())
    }

    /// `DELETE /api/keys/{key}`. A failure is logged, never raised: the download it follows
    /// has succeeded or failed on its own, and the key expires within the hour anyway.
    async fn revoke(&self, key: &Secret) {
        match self.api.revoke_temporary_key(key).await {
            Ok(()) => tracing::debug!(provider = crate::PROVIDER, "temporary key revoked"),
            Err(e) if e.is_not_found() => {
                tracing::debug!(provider = crate::PROVIDER, "temporary key was already gone")
            }
            Err(e) => tracing::warn!(
                provider = crate::PROVIDER,
                error = %e,
                "could not revoke the temporary key; it expires within an hour"
            ),
        }
    }

    /// Revokes the kept key now, or (if downloads still use it) when the last of them ends.
    pub async fn close(&self) -> Result<()> {
        let idle = {
            let mut st = self.lock();
            let Some(held) = st.current.take() else {
                return Ok(());
            };
            if st.leases.get(&held.id).copied().unwrap_or(0) == 0 {
                st.leases.remove(&held.id);
                Some(held)
            } else {
                None
            }
        };
        match idle {
            Some(held) => match self.api.revoke_temporary_key(&held.key).await {
                Err(e) if !e.is_not_found() => Err(e),
                _ => Ok(()),
            },
            None => Ok(()),
        }
    }
}

impl Drop for Keys {
    fn drop(&mut self) {
        // A kept key outlives the provider unless revoked here (best effort: a runtime that is
        // shutting down may not run the request; `close` is the reliable way).
        let st = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        let Some(held) = st.current.take() else {
            return;
        };
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let api = self.api.clone();
            rt.spawn(async move {
                let _ = api.revoke_temporary_key(&held.key).await;
            });
        }
    }
}
