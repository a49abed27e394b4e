//! The engine's side of client-side caching (Redis's `tracking.c`): every change to a key,
//! and every flush, is reported to the server, which keeps the table of who caches what and
//! sends the invalidation messages. The engine only says *which* key changed and *which*
//! client changed it (for `NOLOOP`), while the change still holds the key's shard, so the
//! invalidation of a change is sent before any client can read the changed value.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

/// Where invalidations go: `(key, client that changed it)`, with no key for a flush of a whole
/// database. The client is `None` for a change nobody asked for (expiry).
pub type InvalidationSink = Box<dyn Fn(Option<&[u8]>, Option<u64>) + Send + Sync>;

/// Whether any client tracks keys, and where invalidations go.
#[derive(Default)]
pub struct KeyTracking {
    /// Set while at least one client has tracking on: when clear, a change costs one load.
    active: AtomicBool,
    sink: OnceLock<InvalidationSink>,
}

impl std::fmt::Debug for KeyTracking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyTracking")
            .field("active", &self.active.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl KeyTracking {
    /// Installs where invalidations go; only the first call counts.
    pub fn set_sink(&self, sink: InvalidationSink) {
        let _ = self.sink.set(sink);
    }

    /// Records whether any client tracks keys now.
    pub fn set_active(&self, active: bool) {
        self.active.store(active, Ordering::Release);
    }

    /// Reports that `key` changed (`None`: a whole database was flushed), by `client`.
    pub fn invalidate(&self, key: Option<&[u8]>, client: Option<u64>) {
        if !self.active.load(Ordering::Acquire) {
            return;
        }
        if let Some(sink) = self.sink.get() {
            sink(key, client);
        }
    }
}
