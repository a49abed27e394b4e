//! Freeing on a background thread what a command removed, as Redis's lazyfree does: UNLINK's
//! large values (DEL's too with `lazyfree-lazy-user-del yes`), the databases FLUSHALL and
//! FLUSHDB empty with ASYNC (or with `lazyfree-lazy-user-flush yes`), and with the settings
//! of [`LazyFree`] the values of keys that expire, that the server deletes or overwrites, and
//! that eviction takes. The command answers without waiting for the memory to be given back,
//! and INFO counts what waits (`lazyfree_pending_objects`) and what was freed
//! (`lazyfreed_objects`).
//!
//! One thread, started on first use, frees the jobs in order; it ends when the engine is
//! dropped. If it cannot be started, the job is freed by the caller instead.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};

use parking_lot::Mutex;

use crate::keyspace::ShardContents;
use crate::Value;

/// Redis's `LAZYFREE_THRESHOLD`: a value whose freeing takes more than this many steps (see
/// [`Value::free_effort`]) is freed in the background.
pub const THRESHOLD: usize = 64;

/// The counters INFO reports, shared with the freeing thread.
#[derive(Debug, Default)]
pub struct LazyFreeCounts {
    /// Objects waiting to be freed (`lazyfree_pending_objects`).
    pub pending: AtomicU64,
    /// Objects freed so far (`lazyfreed_objects`; CONFIG RESETSTAT zeroes it).
    pub freed: AtomicU64,
}

impl LazyFreeCounts {
    /// Frees `job` and counts it as freed.
    fn finish(&self, job: Job) {
        drop(job.garbage);
        self.pending.fetch_sub(job.objects, Ordering::Relaxed);
        self.freed.fetch_add(job.objects, Ordering::Relaxed);
    }
}

/// Something to free, counted as `objects` objects.
struct Job {
    objects: u64,
    garbage: Box<dyn Send>,
}

/// The background freeing thread, its counters, and when the keyspace uses it.
#[derive(Debug, Default)]
pub struct LazyFree {
    /// What INFO reports.
    pub counts: Arc<LazyFreeCounts>,
    /// The way to the thread, once it runs.
    worker: Mutex<Option<mpsc::Sender<Job>>>,
    /// `lazyfree-lazy-expire`: the values of keys deleted because their time came.
    pub on_expire: AtomicBool,
    /// `lazyfree-lazy-server-del`: the values the server deletes or overwrites on its own
    /// account (Redis's `dbDelete` and `dbOverwrite`): SET over a key, RENAME's and COPY
    /// REPLACE's destination, an emptied `*STORE` destination, RESTORE REPLACE.
    pub on_server_del: AtomicBool,
    /// `lazyfree-lazy-eviction`: the values eviction takes.
    pub on_eviction: AtomicBool,
    /// `replica-lazy-flush`: a replica's old dataset, emptied at a full synchronisation.
    pub on_replica_flush: AtomicBool,
}

impl LazyFree {
    /// Hands `garbage`, counted as `objects` objects, to the freeing thread.
    pub fn free(&self, objects: u64, garbage: impl Send + 'static) {
        self.counts.pending.fetch_add(objects, Ordering::Relaxed);
        let job = Job {
            objects,
            garbage: Box::new(garbage),
        };
        let mut worker = self.worker.lock();
        let job = match worker.as_ref() {
            Some(sender) => match sender.send(job) {
                Ok(()) => return,
                Err(mpsc::SendError(job)) => job,
            },
            None => job,
        };
        // No thread yet (or it is gone): start one and hand it the job.
        let (sender, receiver) = mpsc::channel::<Job>();
        let counts = Arc::clone(&self.counts);
        let started = std::thread::Builder::new()
            .name("kv-lazyfree".into())
            .spawn(move || receiver.into_iter().for_each(|job| counts.finish(job)));
        match started {
            Ok(_) => {
                // The receiver lives as long as the thread, which has not even looked at it:
                // this send cannot fail.
                let _ = sender.send(job);
                *worker = Some(sender);
            }
            Err(_) => {
                // Freed here instead: the caller waits for it, as it would have without
                // lazyfree, and the counts come out the same.
                drop(worker);
                self.counts.finish(job);
            }
        }
    }

    /// Frees `value` in the background if it is worth it (as Redis's `freeObjAsync`), here
    /// otherwise.
    pub fn free_value(&self, value: Value) {
        if value.free_effort() > THRESHOLD {
            self.free(1, value);
        } else {
            drop(value);
        }
    }

    /// Frees what a flush emptied (`removed`, counted as one object per key, as Redis counts
    /// an emptied database) in the background.
    pub fn free_flushed(&self, removed: Vec<ShardContents>) {
        if !removed.is_empty() {
            let keys = removed.iter().map(ShardContents::len).sum::<usize>() as u64;
            self.free(keys, removed);
        }
    }

    /// Frees `value` as `setting` (one of [`LazyFree::on_expire`], ...) says: through
    /// [`LazyFree::free_value`] when it is on, here when it is off.
    pub fn dispose(&self, value: Value, setting: &AtomicBool) {
        if setting.load(Ordering::Relaxed) {
            self.free_value(value);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn jobs_are_counted_pending_then_freed() {
        let lazy = LazyFree::default();
        let (tell, freed) = mpsc::channel::<()>();
        /// Says when it is dropped.
        struct Telltale(mpsc::Sender<()>);
        impl Drop for Telltale {
            fn drop(&mut self) {
                let _ = self.0.send(());
            }
        }
        for _ in 0..3 {
            lazy.free(5, Telltale(tell.clone()));
        }
        for _ in 0..3 {
            freed
                .recv_timeout(std::time::Duration::from_secs(10))
                .unwrap();
        }
        // The counters move just after the drop: wait for them.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while lazy.counts.freed.load(Ordering::Relaxed) < 15 {
            assert!(std::time::Instant::now() < deadline, "never counted");
            std::thread::yield_now();
        }
        assert_eq!(lazy.counts.pending.load(Ordering::Relaxed), 0);
    }
}
