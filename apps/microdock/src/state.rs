//! The app's state: identity (for admin tokens, key hashing and audit), settings, and the
//! cached public plugin list.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::FromRef;
use bytes::Bytes;
use trellis_identity::Identity;
use trellis_kernel::Platform;

use crate::settings::Settings;

#[derive(Clone)]
pub struct MdState {
    pub identity: Identity,
    pub settings: Arc<Settings>,
    pub list_cache: Arc<ListCache>,
}

impl FromRef<MdState> for Identity {
    fn from_ref(s: &MdState) -> Identity {
        s.identity.clone()
    }
}

impl MdState {
    pub fn platform(&self) -> &Platform {
        self.identity.platform()
    }
}

/// The serialized public list (no search, no paging), the request desktop clients repeat.
/// Any change through this instance invalidates it at once; a change made by another
/// instance sharing the database shows within `MAX_AGE`.
#[derive(Default)]
pub struct ListCache {
    generation: AtomicU64,
    slot: Mutex<Option<Cached>>,
}

#[derive(Clone)]
pub struct Cached {
    pub generation: u64,
    pub at: Instant,
    pub body: Bytes,
    pub etag: String,
}

const MAX_AGE: Duration = Duration::from_secs(2);

impl ListCache {
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn get(&self) -> Option<Cached> {
        let slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        slot.as_ref()
            .filter(|c| c.generation == self.generation() && c.at.elapsed() < MAX_AGE)
            .cloned()
    }

    pub fn put(&self, c: Cached) {
        *self.slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(c);
    }
}
