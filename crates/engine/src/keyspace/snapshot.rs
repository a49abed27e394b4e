//! Point-in-time snapshots taken while clients keep reading and writing.
//!
//! A snapshot is the dataset as of one instant, its *epoch*. Each shard records the last epoch
//! it was handed over in (`ShardCounters::saved`). [`Keyspace::snapshot`] starts a new epoch,
//! then visits every shard under its shared lock and hands its keys to a [`ShardSink`], unless
//! a writer got there first: every acquisition of exclusive locks ([`Keyspace::lock`] with a
//! write plan), once all of its shards are held, hands over each held shard the running
//! snapshot does not have yet, *before* the command changes anything. Each shard is therefore
//! handed over exactly once, with exactly the writes made before the epoch began:
//!
//! - A command whose locks were all held when it read the epoch counter and found it old runs
//!   before the instant: the snapshot cannot visit its shards until it releases them, so its
//!   writes are in. A command that found the new epoch runs after the instant: each shard it
//!   writes is handed over before it writes, so none of its writes are in. Nothing can see a
//!   later command's write and find the old epoch (the shard lock orders them), so the set of
//!   commands in the snapshot is closed under "happened before": a consistent cut, never half
//!   of a multi-key command or transaction (the epoch is read once, all locks held).
//! - Extra memory is what one shard's keys take to encode, per thread handing one over, and
//!   the sink's buffers: no copy of the dataset, whatever the write load. A writer that meets
//!   a shard the snapshot lacks waits for that one shard to be encoded (about a millisecond
//!   per 4,000 small keys), once per shard per snapshot.
//! - Between snapshots a write lock costs one more atomic load of the epoch and, per shard, of
//!   its `saved` mark (on the cache line of the shard's key count, which writes touch anyway).
//!
//! Lock order: shard locks, then the sink (whatever it locks inside); the snapshot's own
//! mutexes are never held while a shard lock is taken.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::{Guard, Held, Keyspace};
use crate::Entry;

/// Receives the shards of a point-in-time snapshot (see the module documentation): each
/// shard of each database exactly once, as of the snapshot's instant.
pub trait ShardSink: Send + Sync {
    /// Takes the keys of one shard of database `db`. Called with the shard locked, on the
    /// thread taking the snapshot or on the thread of a command about to write to the shard,
    /// so it should encode and go; it must not touch the keyspace. Keys past their TTL not yet
    /// reclaimed are included; the sink decides as of which time to leave them out.
    fn save_shard(&self, db: usize, keys: &mut dyn Iterator<Item = (&[u8], &Entry)>);
}

/// [`Keyspace::snapshot`] was called while another snapshot was running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a snapshot is already running")]
pub struct SnapshotBusy;

/// The keyspace's snapshot state.
#[derive(Default)]
pub(super) struct Snapshots {
    /// The epoch of the latest snapshot started; 0 before the first.
    epoch: AtomicU64,
    /// The running snapshot's sink: set before its epoch starts, cleared once every shard has
    /// been handed over, so a writer that finds a shard unsaved always finds the sink.
    sink: Mutex<Option<Arc<dyn ShardSink>>>,
    /// Held while a snapshot runs: one at a time.
    running: Mutex<()>,
}

impl std::fmt::Debug for Snapshots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshots")
            .field("epoch", &self.epoch.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Keyspace {
    /// Takes a snapshot of every database as of now, handing each shard to `sink` exactly
    /// once (see the module documentation), while other threads go on running commands.
    /// Returns once every shard has been handed over.
    pub fn snapshot(&self, sink: Arc<dyn ShardSink>) -> Result<(), SnapshotBusy> {
        let _running = self.snapshots.running.try_lock().ok_or(SnapshotBusy)?;
        *self.snapshots.sink.lock() = Some(Arc::clone(&sink));
        let epoch = self.snapshots.epoch.fetch_add(1, Ordering::SeqCst) + 1;
        for (db, d) in self.dbs.iter().enumerate() {
            for shard in 0..self.shard_count {
                let saved = &d.counters[shard].saved;
                // A writer may have handed it over already; checked again under the lock.
                if saved.load(Ordering::Acquire) >= epoch {
                    continue;
                }
                let map = d.map.shards()[shard].read();
                if saved.load(Ordering::Relaxed) < epoch {
                    sink.save_shard(
                        db,
                        &mut map
                            .keys()
                            .map(|node| (node.0.key.as_bytes(), &node.0.entry)),
                    );
                    saved.store(epoch, Ordering::Release);
                }
            }
        }
        *self.snapshots.sink.lock() = None;
        Ok(())
    }

    /// Hands over, before a command writes, each of its exclusively `held` shards that the
    /// running snapshot does not have yet. Called once all of them are held.
    pub(super) fn save_before_writing(&self, held: &[Held<'_>]) {
        let epoch = self.snapshots.epoch.load(Ordering::SeqCst);
        if epoch == 0 {
            return;
        }
        for h in held {
            let saved = &self.dbs[h.db].counters[h.shard].saved;
            if saved.load(Ordering::Relaxed) >= epoch {
                continue;
            }
            // Unsaved under an exclusive lock: the snapshot has not passed this shard, so its
            // sink is still installed.
            let sink = self.snapshots.sink.lock().clone();
            if let (Some(sink), Guard::Write(map)) = (sink, &h.guard) {
                sink.save_shard(
                    h.db,
                    &mut map
                        .keys()
                        .map(|node| (node.0.key.as_bytes(), &node.0.entry)),
                );
            }
            saved.store(epoch, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    // Test code: a failed unwrap is a failed test.
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::{CompactBytes, Engine, Protocol, Reply, Session};

    /// A key as the test sinks collect it: `(db, key, value as DUMP encodes it)`.
    type Collected = (usize, Vec<u8>, Vec<u8>);

    /// Collects what it is handed.
    #[derive(Default)]
    struct Collect {
        keys: Mutex<Vec<Collected>>,
        shards: AtomicU64,
        /// How long to take over each shard, to let writers run meanwhile.
        pause: std::time::Duration,
    }

    impl ShardSink for Collect {
        fn save_shard(&self, db: usize, keys: &mut dyn Iterator<Item = (&[u8], &Entry)>) {
            self.shards.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(self.pause);
            let mut all = self.keys.lock();
            for (key, entry) in keys {
                let mut value = Vec::new();
                crate::dump::encode_value(&entry.value, &mut value);
                all.push((db, key.to_vec(), value));
            }
        }
    }

    fn run(engine: &Engine, line: &str) -> Vec<u8> {
        let args: Vec<bytes::Bytes> = line
            .split_whitespace()
            .map(|w| bytes::Bytes::copy_from_slice(w.as_bytes()))
            .collect();
        let mut reply = Reply::new(Protocol::Resp2);
        engine.execute(&mut Session::default(), &args, &mut reply);
        reply.buf.to_vec()
    }

    /// A sink that, on its first shard (shard 0 of database 0, which the snapshot holds
    /// shared meanwhile), has another thread write to keys of the other shards: the writes
    /// come after the instant, so none of them may be in the snapshot.
    struct WriteDuring {
        engine: Arc<Engine>,
        inner: Collect,
        started: std::sync::atomic::AtomicBool,
    }

    impl ShardSink for WriteDuring {
        fn save_shard(&self, db: usize, keys: &mut dyn Iterator<Item = (&[u8], &Entry)>) {
            self.inner.save_shard(db, keys);
            if self.started.swap(true, Ordering::SeqCst) {
                return;
            }
            let engine = Arc::clone(&self.engine);
            std::thread::spawn(move || {
                let elsewhere = |key: &str| engine.keyspace.shard_of(key.as_bytes()) != 0;
                for i in 0..200 {
                    for line in [
                        format!("SET k{i} changed"),
                        format!("DEL d{i}"),
                        format!("SET new{i} x"),
                    ] {
                        if line.split(' ').nth(1).is_some_and(elsewhere) {
                            run(&engine, &line);
                        }
                    }
                }
            })
            .join()
            .unwrap();
        }
    }

    /// A string value as the snapshot tests' sinks hold it.
    fn encoded(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        crate::dump::encode_value(
            &crate::Value::Str(CompactBytes::new(text.as_bytes())),
            &mut out,
        );
        out
    }

    #[test]
    fn every_shard_is_handed_over_once_as_of_the_instant() {
        let engine = Arc::new(Engine::new(2, 16));
        let mut expected = Vec::new();
        for i in 0..200 {
            run(&engine, &format!("SET k{i} v{i}"));
            run(&engine, &format!("SET d{i} gone-later"));
            expected.push((0, format!("k{i}").into_bytes(), encoded(&format!("v{i}"))));
            expected.push((0, format!("d{i}").into_bytes(), encoded("gone-later")));
        }
        let sink = Arc::new(WriteDuring {
            engine: Arc::clone(&engine),
            inner: Collect::default(),
            started: Default::default(),
        });
        engine.keyspace.snapshot(sink.clone()).unwrap();
        // 2 databases of 16 shards, each handed over once, by the snapshot or by a writer.
        assert_eq!(sink.inner.shards.load(Ordering::Relaxed), 32);
        let mut got = sink.inner.keys.lock().clone();
        got.sort();
        expected.sort();
        assert_eq!(got, expected);
        // The writes happened all the same.
        assert!(run(&engine, "KEYS new*").len() > 10);
    }

    #[test]
    fn a_second_snapshot_while_one_runs_is_refused_and_the_next_sees_new_writes() {
        struct Nested(Arc<Engine>, Mutex<Option<Result<(), SnapshotBusy>>>);
        impl ShardSink for Nested {
            fn save_shard(&self, _: usize, _: &mut dyn Iterator<Item = (&[u8], &Entry)>) {
                let mut result = self.1.lock();
                if result.is_none() {
                    *result = Some(self.0.keyspace.snapshot(Arc::new(Collect::default())));
                }
            }
        }
        let engine = Arc::new(Engine::new(1, 4));
        run(&engine, "SET a 1");
        let nested = Arc::new(Nested(Arc::clone(&engine), Mutex::new(None)));
        engine.keyspace.snapshot(nested.clone()).unwrap();
        assert_eq!(*nested.1.lock(), Some(Err(SnapshotBusy)));

        run(&engine, "SET b 2");
        let sink = Arc::new(Collect::default());
        engine.keyspace.snapshot(sink.clone()).unwrap();
        assert_eq!(sink.keys.lock().len(), 2);
        assert_eq!(sink.shards.load(Ordering::Relaxed), 4);
    }

    #[test]
    fn a_multi_key_write_is_in_whole_or_not_at_all() {
        // Writers move a unit between two keys in different shards while snapshots run: every
        // snapshot must hold a total of 100.
        let engine = Arc::new(Engine::new(1, 64));
        run(&engine, "MSET a 100 b 0");
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writers: Vec<_> = (0..2)
            .map(|_| {
                let (engine, stop) = (Arc::clone(&engine), Arc::clone(&stop));
                std::thread::spawn(move || {
                    let mut i = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let a = i % 101;
                        run(&engine, &format!("MSET a {a} b {}", 100 - a));
                        i += 7;
                    }
                })
            })
            .collect();
        for _ in 0..30 {
            let sink = Arc::new(Collect {
                pause: std::time::Duration::from_micros(50),
                ..Default::default()
            });
            engine.keyspace.snapshot(sink.clone()).unwrap();
            let total: u64 = sink
                .keys
                .lock()
                .iter()
                .map(|(_, _, value)| {
                    let text = crate::dump::decode_value(value).unwrap();
                    match text {
                        crate::Value::Str(s) => std::str::from_utf8(s.as_bytes())
                            .unwrap()
                            .parse::<u64>()
                            .unwrap(),
                        _ => panic!("not a string"),
                    }
                })
                .sum();
            assert_eq!(total, 100);
        }
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            w.join().unwrap();
        }
    }
}
