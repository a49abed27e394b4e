//! Point-in-time snapshots taken while clients keep reading and writing.
//!
//! A snapshot is the dataset as of one instant, its *epoch*. [`Keyspace::snapshot`] starts a
//! new epoch, then walks every shard under its shared lock (taken for a run of keys at a time,
//! so writers to the shard wait for one run, not the whole shard) and hands each key to a
//! [`ShardSink`]. Writers keep writing meanwhile; what keeps the walk at the instant is
//! copy-on-write per key:
//!
//! - Every command that takes exclusive locks reads the epoch counter once, when all of its
//!   shards are held ([`Keyspace::lock`]). If a snapshot of that epoch has not walked a
//!   shard yet (the shard's `saved` counter is behind), then before the command changes or
//!   deletes an entry there, the entry's current value is handed to the sink and the entry is
//!   marked as had (a parity bit of its access word, the epoch's parity), and an entry the
//!   command creates is marked at once, since it was not there at the instant. The walk hands
//!   over the entries not yet marked and marks them. FLUSHDB, FLUSHALL and SWAPDB, which empty
//!   or exchange whole shards, hand an unwalked shard over whole first.
//! - So every key present at the instant is handed over exactly once, with its value of the
//!   instant, and no key created after it. A command that read the old epoch runs before the
//!   instant: the walk cannot read its shards until it releases them, so all its writes are
//!   in. One that read the new epoch runs after it: none of its writes are. A command that
//!   sees another's write acquired a lock that one released, so it cannot have read an older
//!   epoch: the commands in the snapshot are closed under "happened before", and a multi-key
//!   command or a transaction is in whole or not at all (the epoch is read once, all locks
//!   held).
//! - Once a snapshot has walked every shard, every entry carries its parity, so the next
//!   snapshot (the other parity) finds them all unmarked. Marks are set even when the sink has
//!   failed and stopped reading, for the same reason.
//! - Cost: a write meeting an unwalked shard encodes the one value it changes, once per key
//!   per snapshot (Redis's forked child makes the kernel copy a 4 KiB page per page written);
//!   extra memory is the sink's buffers, whatever the write rate. Between snapshots a write
//!   lock costs one more atomic load, and a change one more load of the shard's counter line.
//!   Readers recording an access update the word with a compare-and-swap so they never undo
//!   a mark.
//!
//! Lock order: shard locks, then the sink (whatever it locks inside); the snapshot's own
//! mutexes are never held while a shard lock is taken.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::{Keyspace, ShardMap};
use crate::value::SNAPSHOT_MARK;
use crate::Entry;

/// Receives the shards of a point-in-time snapshot (see the module documentation): each
/// shard of each database exactly once, as of the snapshot's instant.
pub trait ShardSink: Send + Sync {
    /// Takes the keys of one shard of database `db`. Called with the shard locked, on the
    /// thread taking the snapshot or on the thread of a command about to write to the shard,
    /// so it should encode and go; it must not touch the keyspace. Keys past their TTL not yet
    /// reclaimed are included; the sink decides as of which time to leave them out.
    fn save_shard(&self, db: usize, keys: &mut dyn Iterator<Item = (&[u8], &Entry)>);

    /// Takes one key of database `db`, handed over by a writer about to change it (so called
    /// often, from many threads, under the key's shard lock). By default a one-key shard.
    fn save_key(&self, db: usize, key: &[u8], entry: &Entry) {
        self.save_shard(db, &mut std::iter::once((key, entry)));
    }

    /// Takes a run of keys of database `db` from the snapshot's own walk (one thread, many
    /// calls per shard, under the shard's shared lock): a sink may gather them across calls.
    /// By default, [`ShardSink::save_shard`].
    fn save_run(&self, db: usize, keys: &mut dyn Iterator<Item = (&[u8], &Entry)>) {
        self.save_shard(db, keys);
    }

    /// The bytes the sink holds for the snapshot that are not written out yet, and the most
    /// it has held: the snapshot's extra memory (INFO's `current_cow_size`). None by default.
    fn held_bytes(&self) -> (u64, u64) {
        (0, 0)
    }
}

/// How far the running snapshot is (INFO's `current_save_keys_processed` and company).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SnapshotProgress {
    /// Keys handed to the sink so far, by the walk or by writers.
    pub handed: u64,
    /// Keys in the keyspace when the snapshot began.
    pub total: u64,
    /// Of `handed`, those writers handed over before changing them (copy-on-write).
    pub copied: u64,
    /// The sink's [`ShardSink::held_bytes`] now.
    pub held_bytes: u64,
    /// The most the sink has held for this snapshot.
    pub peak_bytes: u64,
}

/// [`Keyspace::snapshot`] was called while another snapshot was running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a snapshot is already running")]
pub struct SnapshotBusy;

/// The keyspace's snapshot state.
#[derive(Default)]
pub(super) struct Snapshots {
    /// The epoch of the latest snapshot started; 0 before the first.
    pub(super) epoch: AtomicU64,
    /// The running snapshot's sink: set before its epoch starts, cleared once every shard has
    /// been handed over, so a writer that finds a shard unsaved always finds the sink.
    sink: Mutex<Option<Arc<dyn ShardSink>>>,
    /// Held while a snapshot runs: one at a time.
    running: Mutex<()>,
    /// The running snapshot's progress: keys handed over, of `total`, `copied` by writers.
    handed: AtomicU64,
    total: AtomicU64,
    copied: AtomicU64,
}

impl std::fmt::Debug for Snapshots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshots")
            .field("epoch", &self.epoch.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// The snapshot mark of epoch `epoch`'s entries: its parity.
fn mark_of(epoch: u64) -> u64 {
    if epoch % 2 == 1 {
        SNAPSHOT_MARK
    } else {
        0
    }
}

impl Keyspace {
    /// Takes a snapshot of every database as of now, handing each key to `sink` exactly once
    /// (see the module documentation), while other threads go on running commands. Returns
    /// once every shard has been walked.
    pub fn snapshot(&self, sink: Arc<dyn ShardSink>) -> Result<(), SnapshotBusy> {
        self.snapshot_from(sink, |_| {})
    }

    /// [`Keyspace::snapshot`], telling `starting` the snapshot's epoch before any command can
    /// read it: the append-only file's rewrite routes effects by it (those of earlier epochs
    /// are in the snapshot, the others are not).
    pub fn snapshot_from(
        &self,
        sink: Arc<dyn ShardSink>,
        starting: impl FnOnce(u64),
    ) -> Result<(), SnapshotBusy> {
        self.snapshot_with(sink, false, starting)
    }

    /// [`Keyspace::snapshot`] whose instant is a quiet one: `at_instant` runs, and the epoch
    /// moves, while every shard of every database is held exclusively, so every command that
    /// ran before the instant has finished (and recorded its effects) and none after it has
    /// begun. What `at_instant` reads of the effects recorded so far (a replication stream's
    /// offset) splits them exactly: those before are in the snapshot, those after are not.
    /// Costs writers one pause while every lock is taken in turn and released.
    pub fn snapshot_quiet(
        &self,
        sink: Arc<dyn ShardSink>,
        at_instant: impl FnOnce(u64),
    ) -> Result<(), SnapshotBusy> {
        self.snapshot_with(sink, true, at_instant)
    }

    /// The snapshot itself; `quiet`: the epoch moves with every shard held.
    fn snapshot_with(
        &self,
        sink: Arc<dyn ShardSink>,
        quiet: bool,
        starting: impl FnOnce(u64),
    ) -> Result<(), SnapshotBusy> {
        let _running = self.snapshots.running.try_lock().ok_or(SnapshotBusy)?;
        let total = (0..self.dbs.len()).map(|db| self.db_len(db) as u64).sum();
        self.snapshots.total.store(total, Ordering::Relaxed);
        self.snapshots.handed.store(0, Ordering::Relaxed);
        self.snapshots.copied.store(0, Ordering::Relaxed);
        *self.snapshots.sink.lock() = Some(Arc::clone(&sink));
        let held = quiet.then(|| self.lock_everything(true));
        // Only a snapshot moves the counter, and this one holds `running`.
        starting(self.snapshots.epoch.load(Ordering::SeqCst) + 1);
        let epoch = self.snapshots.epoch.fetch_add(1, Ordering::SeqCst) + 1;
        drop(held);
        for (db, d) in self.dbs.iter().enumerate() {
            for shard in 0..self.shard_count {
                let saved = &d.counters[shard].saved;
                // Emptied or swapped by a writer already; checked again under the lock.
                if saved.load(Ordering::Acquire) >= epoch {
                    continue;
                }
                // In runs, releasing the lock after a run when a writer waits for the shard:
                // it gets in after one run, not after the whole shard. Per-key marks make that
                // safe: a writer meeting an unmarked entry hands it over itself, and the walk
                // that takes the lock again skips the entries already marked.
                loop {
                    let map = d.map.shards()[shard].read();
                    if saved.load(Ordering::Relaxed) >= epoch {
                        break;
                    }
                    let (taken, done) = hand_over_runs(&*sink, db, &map, epoch, WALK_RUN, || {
                        self.writers_waiting(db, shard)
                    });
                    self.snapshots.handed.fetch_add(taken, Ordering::Relaxed);
                    if done {
                        saved.store(epoch, Ordering::Release);
                        break;
                    }
                    drop(map);
                    // The lock lets a reader in whenever no writer holds it, so the walk
                    // would take it straight back: wait (a bounded while) for the writers
                    // the run held up to get in first.
                    let until = std::time::Instant::now() + WRITERS_FIRST;
                    while self.writers_waiting(db, shard) && std::time::Instant::now() < until {
                        std::thread::yield_now();
                    }
                }
            }
        }
        *self.snapshots.sink.lock() = None;
        Ok(())
    }

    /// The running snapshot's progress; `None` when none runs.
    pub fn snapshot_progress(&self) -> Option<SnapshotProgress> {
        let sink = self.snapshots.sink.lock().clone()?;
        let (held_bytes, peak_bytes) = sink.held_bytes();
        let s = &self.snapshots;
        Some(SnapshotProgress {
            handed: s.handed.load(Ordering::Relaxed),
            total: s.total.load(Ordering::Relaxed),
            copied: s.copied.load(Ordering::Relaxed),
            held_bytes,
            peak_bytes,
        })
    }

    /// Whether a command whose locks read epoch `epoch` must hand entries of `(db, shard)` over
    /// before changing them: a snapshot started at that epoch has not walked the shard yet.
    /// Called with the shard held for writing.
    pub(super) fn snapshot_lacks(&self, epoch: u64, db: usize, shard: usize) -> bool {
        epoch != 0 && self.dbs[db].counters[shard].saved.load(Ordering::Relaxed) < epoch
    }

    /// Before `entry` (of `key`, in `(db, shard)`, held for writing) changes or goes, under a
    /// command whose locks read epoch `epoch`: hands its current value over to the running
    /// snapshot unless the snapshot has it already (copy-on-write, per key).
    pub(super) fn before_change(
        &self,
        epoch: u64,
        db: usize,
        shard: usize,
        key: &[u8],
        entry: &Entry,
    ) {
        if !self.snapshot_lacks(epoch, db, shard) || entry.snapshot_mark() == mark_of(epoch) {
            return;
        }
        // Unsaved under an exclusive lock: the snapshot's walk has not passed this shard, so
        // its sink is still installed.
        let sink = self.snapshots.sink.lock().clone();
        if let Some(sink) = sink {
            sink.save_key(db, key, entry);
            self.snapshots.handed.fetch_add(1, Ordering::Relaxed);
            self.snapshots.copied.fetch_add(1, Ordering::Relaxed);
        }
        entry.set_snapshot_mark(mark_of(epoch));
    }

    /// Before every entry of `(db, shard)` goes at once (FLUSHDB, FLUSHALL, SWAPDB), under a
    /// command whose locks read epoch `epoch`: hands the shard over whole, as the walk would.
    pub(super) fn before_emptying(&self, epoch: u64, db: usize, shard: usize, map: &ShardMap) {
        if !self.snapshot_lacks(epoch, db, shard) {
            return;
        }
        let sink = self.snapshots.sink.lock().clone();
        if let Some(sink) = sink {
            let handed = hand_over(&*sink, db, map, epoch);
            self.snapshots.handed.fetch_add(handed, Ordering::Relaxed);
        }
        self.dbs[db].counters[shard]
            .saved
            .store(epoch, Ordering::Release);
    }
}

/// Marks a new entry, about to be stored by a command whose locks read epoch `epoch`, as had
/// by that epoch's snapshot: it was not there at the instant (if the snapshot is running) or
/// it is for the next snapshot to take (if not).
pub(super) fn mark_new(entry: &mut Entry, epoch: u64) {
    entry.with_snapshot_mark(mark_of(epoch));
}

/// How many keys the walk hands over per acquisition of a shard's lock.
const WALK_RUN: usize = 512;

/// How long, at most, the walk gives way between runs to writers waiting for the shard.
const WRITERS_FIRST: std::time::Duration = std::time::Duration::from_millis(1);

/// How many entries the walk reads ahead: see [`lacking`].
const READ_AHEAD: usize = 16;

/// The entries of `map` whose snapshot mark is not `mark`, in the table's order. Each node is
/// an allocation of its own, so reading a mark is a cache miss: the marks of the next
/// [`READ_AHEAD`] nodes are read together, as independent loads whose misses overlap, instead
/// of each after the previous entry is handled (the walk was bound by memory latency, most of
/// a full sync's time on the master); the key and value are then read from the cache.
fn lacking(map: &ShardMap, mark: u64) -> impl Iterator<Item = (&[u8], &Entry)> {
    let mut nodes = map.keys();
    let mut batch: [Option<&super::NodeBox>; READ_AHEAD] = [None; READ_AHEAD];
    let (mut len, mut next) = (0, 0);
    std::iter::from_fn(move || loop {
        while next < len {
            let slot = batch[next];
            next += 1;
            if let Some(node) = slot {
                return Some((node.0.key.as_bytes(), &node.0.entry));
            }
        }
        (len, next) = (0, 0);
        for (slot, node) in batch.iter_mut().zip(nodes.by_ref()) {
            *slot = Some(node);
            len += 1;
        }
        if len == 0 {
            return None;
        }
        for slot in &mut batch[..len] {
            if slot.is_some_and(|node| node.0.entry.snapshot_mark() == mark) {
                *slot = None;
            }
        }
    })
}

/// Hands `sink` the entries of `map` (shard of `db`) that epoch `epoch`'s snapshot lacks,
/// marking them, in runs of `run`, until they are all handed or, after a run, `give_way`
/// says writers wait for the shard; how many, and whether that was the last of them.
///
/// The walk goes on through the same iteration while nobody waits: a walk that started over
/// after every run read the marks of every entry it had already handed again, which made a
/// shard's walk quadratic in its size (most of a full sync's time on the master).
fn hand_over_runs(
    sink: &dyn ShardSink,
    db: usize,
    map: &ShardMap,
    epoch: u64,
    run: usize,
    give_way: impl Fn() -> bool,
) -> (u64, bool) {
    let mark = mark_of(epoch);
    let mut lacking = lacking(map, mark);
    let mut handed = 0;
    loop {
        let taken = std::cell::Cell::new(0);
        let mut some = std::iter::from_fn(|| {
            if taken.get() == run {
                return None;
            }
            let next = lacking.next()?;
            next.1.set_snapshot_mark(mark);
            taken.set(taken.get() + 1);
            Some(next)
        });
        sink.save_run(db, &mut some);
        // A sink that failed stops reading; the marks must still be set for the next snapshot.
        some.for_each(drop);
        handed += taken.get() as u64;
        if taken.get() < run {
            return (handed, true);
        }
        if give_way() {
            return (handed, false);
        }
    }
}

/// Hands `sink` the entries of `map` (shard of `db`) that epoch `epoch`'s snapshot lacks, and
/// marks every entry as had by it, whether or not the sink reads them all; how many.
fn hand_over(sink: &dyn ShardSink, db: usize, map: &ShardMap, epoch: u64) -> u64 {
    let mark = mark_of(epoch);
    let mut handed = 0;
    let mut lacking = lacking(map, mark).inspect(|(_, entry)| {
        entry.set_snapshot_mark(mark);
        handed += 1;
    });
    sink.save_shard(db, &mut lacking);
    // A sink that failed stops reading; the marks must still be set for the next snapshot.
    lacking.for_each(drop);
    handed
}

#[cfg(test)]
mod tests {
    // Test code: a failed unwrap is a failed test.
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::{Engine, Protocol, Reply, Session};

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
        let args: Vec<&[u8]> = line.split_whitespace().map(str::as_bytes).collect();
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
            &crate::Value::Str(crate::StrValue::new(text.as_bytes())),
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
        // Every key once (the sorted lists are equal, duplicates included), as of the instant.
        let mut got = sink.inner.keys.lock().clone();
        got.sort();
        expected.sort();
        assert_eq!(got, expected);
        // The writes happened all the same.
        assert!(run(&engine, "KEYS new*").len() > 10);
    }

    /// A sink that, on its first run of keys, starts a thread writing to the very shard
    /// being walked (changing, deleting and adding keys in three big commands), and keeps
    /// the shard's lock until the writer waits for it.
    struct WriteBetweenRuns {
        engine: Arc<Engine>,
        inner: Collect,
        writer: Mutex<Option<std::thread::JoinHandle<()>>>,
        handed_by_writers: AtomicU64,
    }

    impl ShardSink for WriteBetweenRuns {
        fn save_shard(&self, db: usize, keys: &mut dyn Iterator<Item = (&[u8], &Entry)>) {
            self.inner.save_shard(db, keys);
            let mut writer = self.writer.lock();
            if writer.is_some() {
                return;
            }
            let engine = Arc::clone(&self.engine);
            *writer = Some(std::thread::spawn(move || {
                let list = |prefix: &str, value: &str| {
                    (0..3000)
                        .map(|i| format!("{prefix}{i} {value}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                };
                run(&engine, &format!("MSET {}", list("k", "changed")));
                run(
                    &engine,
                    &format!("DEL {}", list("d", "").replace("  ", " ")),
                );
                run(&engine, &format!("MSET {}", list("new", "x")));
            }));
            // Keep the shard until the writer waits for it.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while !self.engine.keyspace.writers_waiting(0, 0) {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the writer never came"
                );
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }

        fn save_key(&self, db: usize, key: &[u8], entry: &Entry) {
            self.handed_by_writers.fetch_add(1, Ordering::Relaxed);
            self.inner
                .save_shard(db, &mut std::iter::once((key, entry)));
        }
    }

    #[test]
    fn writes_to_the_shard_between_runs_of_its_walk_stay_out() {
        let engine = Arc::new(Engine::new(1, 1));
        let mut expected = Vec::new();
        for i in 0..3000 {
            run(&engine, &format!("SET k{i} v{i}"));
            run(&engine, &format!("SET d{i} gone-later"));
            expected.push((0, format!("k{i}").into_bytes(), encoded(&format!("v{i}"))));
            expected.push((0, format!("d{i}").into_bytes(), encoded("gone-later")));
        }
        let sink = Arc::new(WriteBetweenRuns {
            engine: Arc::clone(&engine),
            inner: Collect::default(),
            writer: Mutex::new(None),
            handed_by_writers: AtomicU64::new(0),
        });
        engine.keyspace.snapshot(sink.clone()).unwrap();
        let writer = sink.writer.lock().take().unwrap();
        writer.join().unwrap();
        // The writer got in between runs and handed over what it changed first.
        assert!(sink.handed_by_writers.load(Ordering::Relaxed) > 0);
        let mut got = sink.inner.keys.lock().clone();
        got.sort();
        expected.sort();
        assert_eq!(got.len(), expected.len());
        assert!(got == expected, "the snapshot is not the instant's data");
        assert_eq!(run(&engine, "DBSIZE"), b":6000\r\n");
    }

    /// Keeps each key as a DUMP payload, `(db, key, payload)`, to be restored elsewhere.
    #[derive(Default)]
    struct Payloads(Mutex<Vec<Collected>>);

    impl ShardSink for Payloads {
        fn save_shard(&self, db: usize, keys: &mut dyn Iterator<Item = (&[u8], &Entry)>) {
            let mut all = self.0.lock();
            for (key, entry) in keys {
                all.push((db, key.to_vec(), crate::dump::serialize(&entry.value)));
            }
        }
    }

    /// Records every group of effects.
    #[derive(Default)]
    struct EffectLog(Mutex<Vec<Vec<crate::effects::Effect>>>);

    impl crate::effects::EffectSink for EffectLog {
        fn record(&self, _: u64, group: &[crate::effects::Effect]) {
            self.0.lock().push(group.to_vec());
        }
    }

    /// Every key of `engine` with its DUMP encoding, sorted.
    fn dataset(engine: &Engine) -> Vec<Collected> {
        let locked = engine.keyspace.lock_everything(false);
        let mut all = Vec::new();
        for (key, entry) in locked.iter(0, crate::now_ms()) {
            let mut value = Vec::new();
            crate::dump::encode_value(&entry.value, &mut value);
            all.push((0, key.to_vec(), value));
        }
        all.sort();
        all
    }

    #[test]
    fn a_quiet_snapshot_splits_the_effects_exactly() {
        // What a replica's full sync relies on: the snapshot, then the effects recorded after
        // the instant, give the master's data exactly, while writers never stopped.
        for round in 0..5 {
            let engine = Arc::new(Engine::new(1, 8));
            let log = Arc::new(EffectLog::default());
            engine.keyspace.effects.set_sink(Some(log.clone()));
            for i in 0..200 {
                run(&engine, &format!("SET k{i} 0"));
            }
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let writers: Vec<_> = (0..2u64)
                .map(|w| {
                    let (engine, stop) = (Arc::clone(&engine), Arc::clone(&stop));
                    std::thread::spawn(move || {
                        let mut x = w * 7919 + round;
                        while !stop.load(Ordering::Relaxed) {
                            x = x
                                .wrapping_mul(6364136223846793005)
                                .wrapping_add(1442695040888963407);
                            let key = format!("k{}", (x >> 33) % 250);
                            let line = match (x >> 20) % 4 {
                                0 => format!("DEL {key}"),
                                1 => format!("SET {key} {x}"),
                                2 => format!("RPUSH l{} {x}", (x >> 40) % 5),
                                _ => format!("INCR {key}"),
                            };
                            run(&engine, &line);
                        }
                    })
                })
                .collect();
            std::thread::sleep(std::time::Duration::from_millis(5));
            let sink = Arc::new(Payloads::default());
            let mut split = 0;
            engine
                .keyspace
                .snapshot_quiet(sink.clone(), |_| split = log.0.lock().len())
                .unwrap();
            std::thread::sleep(std::time::Duration::from_millis(5));
            stop.store(true, Ordering::Relaxed);
            for writer in writers {
                writer.join().unwrap();
            }
            let replica = Engine::new(1, 8);
            for (_, key, payload) in sink.0.lock().iter() {
                let mut args = vec![
                    bytes::Bytes::from_static(b"RESTORE"),
                    bytes::Bytes::copy_from_slice(key),
                    bytes::Bytes::from_static(b"0"),
                    bytes::Bytes::copy_from_slice(payload),
                ];
                args.push(bytes::Bytes::from_static(b"REPLACE"));
                let mut reply = Reply::new(Protocol::Resp2);
                replica.execute(
                    &mut Session::default(),
                    &crate::arg_slices(&args),
                    &mut reply,
                );
                assert_eq!(&reply.buf[..], b"+OK\r\n");
            }
            let groups = log.0.lock().clone();
            assert!(
                split > 200 && split < groups.len(),
                "{split} of {}",
                groups.len()
            );
            for effect in groups[split..].iter().flatten() {
                let mut reply = Reply::new(Protocol::Resp2);
                replica.execute(
                    &mut Session::default(),
                    &crate::arg_slices(&effect.args),
                    &mut reply,
                );
            }
            assert!(dataset(&replica) == dataset(&engine), "round {round}");
        }
    }

    /// Snapshots `engine` with a plain collecting sink; its keys, sorted.
    fn snapshot_keys(engine: &Engine) -> Vec<Vec<u8>> {
        let sink = Arc::new(Collect::default());
        engine.keyspace.snapshot(sink.clone()).unwrap();
        let mut keys: Vec<_> = sink.keys.lock().iter().map(|k| k.1.clone()).collect();
        keys.sort();
        keys
    }

    #[test]
    fn keys_nobody_touches_are_in_every_snapshot() {
        // Marks alternate with the epoch's parity: a key marked by one snapshot must not look
        // handed over to the one after next.
        let engine = Engine::new(1, 4);
        for i in 0..50 {
            run(&engine, &format!("SET k{i} v"));
        }
        for round in 0..5 {
            run(&engine, &format!("SET new{round} v"));
            let keys = snapshot_keys(&engine);
            assert_eq!(keys.len(), 51 + round, "snapshot {round}");
        }
    }

    #[test]
    fn a_writer_hands_over_only_the_keys_it_changes() {
        // A sink that, on its first call (shard 0, held shared by the walk), has another
        // thread overwrite one key in each other shard: each is handed over alone, with its
        // old value, not its whole shard.
        struct Batches {
            engine: Arc<Engine>,
            sizes: Mutex<Vec<usize>>,
            keys: Mutex<Vec<(Vec<u8>, Vec<u8>)>>,
            started: std::sync::atomic::AtomicBool,
        }
        impl ShardSink for Batches {
            fn save_shard(&self, _: usize, keys: &mut dyn Iterator<Item = (&[u8], &Entry)>) {
                let mut size = 0;
                for (key, entry) in keys {
                    let mut value = Vec::new();
                    crate::dump::encode_value(&entry.value, &mut value);
                    self.keys.lock().push((key.to_vec(), value));
                    size += 1;
                }
                self.sizes.lock().push(size);
                if self.started.swap(true, Ordering::SeqCst) {
                    return;
                }
                let engine = Arc::clone(&self.engine);
                std::thread::spawn(move || {
                    for i in 0..400 {
                        let key = format!("k{i}");
                        if engine.keyspace.shard_of(key.as_bytes()) != 0 {
                            run(&engine, &format!("SET {key} changed"));
                        }
                    }
                })
                .join()
                .unwrap();
            }
        }
        let engine = Arc::new(Engine::new(1, 8));
        for i in 0..400 {
            run(&engine, &format!("SET k{i} v{i}"));
        }
        let sink = Arc::new(Batches {
            engine: Arc::clone(&engine),
            sizes: Mutex::new(Vec::new()),
            keys: Mutex::new(Vec::new()),
            started: Default::default(),
        });
        engine.keyspace.snapshot(sink.clone()).unwrap();
        let sizes = sink.sizes.lock().clone();
        // The walk's 8 shards, plus one single-key hand-over per overwritten key.
        let singles = sizes.iter().filter(|&&n| n == 1).count();
        assert!(singles >= 300, "{sizes:?}");
        let mut keys = sink.keys.lock().clone();
        keys.sort();
        let mut expected: Vec<_> = (0..400)
            .map(|i| (format!("k{i}").into_bytes(), encoded(&format!("v{i}"))))
            .collect();
        expected.sort();
        assert_eq!(keys, expected);
    }

    #[test]
    fn a_sink_that_stops_reading_still_leaves_every_key_for_the_next_snapshot() {
        struct Deaf;
        impl ShardSink for Deaf {
            fn save_shard(&self, _: usize, _: &mut dyn Iterator<Item = (&[u8], &Entry)>) {}
        }
        let engine = Engine::new(1, 4);
        for i in 0..40 {
            run(&engine, &format!("SET k{i} v"));
        }
        engine.keyspace.snapshot(Arc::new(Deaf)).unwrap();
        assert_eq!(snapshot_keys(&engine).len(), 40);
        engine.keyspace.snapshot(Arc::new(Deaf)).unwrap();
        engine.keyspace.snapshot(Arc::new(Deaf)).unwrap();
        assert_eq!(snapshot_keys(&engine).len(), 40);
    }

    #[test]
    fn the_starting_callback_learns_the_epoch_writers_then_read() {
        struct Check(Arc<Engine>, Mutex<Vec<u64>>);
        impl ShardSink for Check {
            fn save_shard(&self, _: usize, _: &mut dyn Iterator<Item = (&[u8], &Entry)>) {
                // Only on the first call (shard 0): the walk holds shard 1 when it comes to it.
                if !self.1.lock().is_empty() {
                    return;
                }
                let keyspace = &self.0.keyspace;
                let locked = keyspace.lock(crate::LockPlan {
                    write: true,
                    shards: smallvec::smallvec![(0, 1)],
                });
                self.1.lock().push(locked.epoch());
            }
        }
        let engine = Arc::new(Engine::new(1, 2));
        for round in 1..=3u64 {
            let check = Arc::new(Check(Arc::clone(&engine), Mutex::new(Vec::new())));
            let mut told = None;
            engine
                .keyspace
                .snapshot_from(check.clone(), |epoch| told = Some(epoch))
                .unwrap();
            assert_eq!(told, Some(round));
            // Shard 0's hand-over runs while the snapshot is under way: the lock taken then
            // (on shard 1, not held by the walk) reads the epoch the callback was told.
            assert_eq!(check.1.lock()[0], round);
        }
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
