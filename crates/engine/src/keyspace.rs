//! The keyspace: every database's keys, sharded, and the locking that makes commands atomic.
//!
//! # Locking
//!
//! Each database is a [`DashMap`] whose shards are `RwLock`ed hash maps; every database uses
//! the same hasher and shard count, so a key lives in the same shard index whichever database
//! it is in. A command never touches a map except through a [`Locked`] set of shard guards,
//! acquired all at once before the command runs and released after it has finished:
//!
//! - the shards are named by `(database, shard)` pairs and always acquired in ascending order,
//!   so two commands can never wait on each other in a cycle (no deadlock);
//! - a command holds every shard it touches for its whole duration, so no other command sees
//!   it half done (multi-key atomicity), and commands on other shards run in parallel;
//! - read-only commands take shared locks, everything else exclusive ones.
//!
//! Transactions and scripts use the same mechanism with the union of their shards (or all of
//! them). See ARCHITECTURE.md for the table of which commands take which locks.
//!
//! # Expiry
//!
//! Next to each shard sits an index of its volatile keys ordered by expiry time, guarded by the
//! shard's lock (its mutex is only ever taken while the shard lock is held). Lookups treat an
//! expired entry as absent; writers delete it on sight; [`Keyspace::expire_cycle`] deletes the
//! rest in time order without scanning.
//!
//! Hash fields can expire too (Redis 7.4's HEXPIRE family). Next to the key index sits a second
//! one per shard, of the hashes that have fields with a TTL, ordered by each hash's earliest
//! field expiry (a hash is indexed under [`crate::HashValue::min_expiry`], and only then). It follows
//! the hash wherever the hash goes: the functions that store, move or drop entries keep it, and
//! the hash commands report in-place changes with [`Locked::reindex_fields`].
//! [`Keyspace::expire_fields_cycle`] reclaims due fields from it, earliest first, and deletes a
//! hash whose last field goes. Whenever both index mutexes are held at once, the key index is
//! locked first.

use std::collections::BTreeSet;
use std::hash::BuildHasher;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use dashmap::{DashMap, RwLockReadGuard, RwLockWriteGuard, SharedValue};
use hashbrown::hash_map::RawEntryMut;
use parking_lot::Mutex;

use crate::multi::Watches;
use crate::notify::{EventClass, KeyEvents};
use crate::{CommandError, CompactBytes, Entry, Value};

mod snapshot;
pub use snapshot::{ShardSink, SnapshotBusy, SnapshotProgress};

/// The hasher of every database: one seed shared by all, so shard indexes agree across them.
type KeyHasher = foldhash::fast::RandomState;

/// One shard's map, as dashmap stores it: a set of nodes.
type ShardMap = hashbrown::HashMap<NodeBox, SharedValue<()>, KeyHasher>;

/// A key and its entry in one allocation. The table then holds one pointer per key, so its
/// unavoidable slack (hashbrown tables run between 44% and 87% full) costs 9 bytes a slot
/// instead of a whole key and entry; with small values inline in the entry, a typical key
/// costs one table slot and one allocation.
#[derive(Debug)]
struct Node {
    key: CompactBytes,
    entry: Entry,
}

/// Bytes of a key's node, the allocation that holds its key and entry (for `MEMORY USAGE`).
pub(crate) const NODE_SIZE: usize = std::mem::size_of::<Node>();

/// The table's key: a boxed node, hashed and compared by its key bytes alone, so the table
/// can be searched with a plain `&[u8]`.
#[derive(Debug)]
struct NodeBox(Box<Node>);

impl std::hash::Hash for NodeBox {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.key.as_bytes().hash(state);
    }
}

impl PartialEq for NodeBox {
    fn eq(&self, other: &NodeBox) -> bool {
        self.0.key.as_bytes() == other.0.key.as_bytes()
    }
}

impl Eq for NodeBox {}

impl std::borrow::Borrow<[u8]> for NodeBox {
    fn borrow(&self) -> &[u8] {
        self.0.key.as_bytes()
    }
}

/// Keys a database holds before [`Keyspace::warm_ahead`] is worth its cost: in a smaller one
/// the table and nodes mostly stay in the processor's caches, and looking keys up twice only
/// costs. About 6 MB of nodes and tables.
const WARM_AHEAD_MIN_KEYS: usize = 50_000;

/// Volatile keys of one shard, ordered by expiry time.
type ExpiryIndex = BTreeSet<(u64, CompactBytes)>;

/// Hashes of one shard that have fields with a TTL, ordered by their earliest field expiry.
type FieldIndex = BTreeSet<(u64, CompactBytes)>;

/// All databases.
#[derive(Debug)]
pub struct Keyspace {
    dbs: Box<[Db]>,
    shard_count: usize,
    /// Keys deleted because their time had come (INFO's `expired_keys`).
    pub expired_keys: AtomicU64,
    /// Hash fields deleted because their time had come (INFO's `expired_subkeys`, Redis 7.4).
    pub expired_subkeys: AtomicU64,
    /// Keyspace notifications: which are enabled, and where they go.
    pub events: KeyEvents,
    /// The keys clients WATCH.
    pub watches: Watches,
    /// Where the invalidations of client-side caching go.
    pub tracking: crate::tracking::KeyTracking,
    /// The point-in-time snapshot running, if any.
    snapshots: snapshot::Snapshots,
    /// Where the effects of writes go (the append-only file), if anywhere.
    pub effects: crate::effects::Effects,
    /// The background freeing thread (UNLINK, FLUSHALL ASYNC, and the `lazyfree-lazy-*`
    /// settings that say which deletions use it).
    pub lazyfree: crate::lazyfree::LazyFree,
    /// Where [`Keyspace::shrink_sparse_tables`] goes on from: a `(database, shard)` position.
    shrink_cursor: std::sync::atomic::AtomicUsize,
    /// The databases' key counts change together while this is odd (see [`DbKeyCount`]).
    counts_changing: AtomicU64,
    /// Held by whoever changes several databases' key counts at once.
    counts_writer: Mutex<()>,
}

/// A database's key count as of the last command that finished changing it: what DBSIZE
/// reads without taking any shard lock. A command adds what it changed (its shards' lengths
/// now against when it locked them) once, before it releases its locks, so no reader ever
/// sees part of a command: MSET's two new keys appear together, a MOVE leaves one database
/// and enters the other at once (commands changing several databases publish under
/// [`Keyspace::counts_changing`], a sequence lock readers retry on). The per-shard counts of
/// [`ShardCounters`] change key by key and are only hints.
#[derive(Debug, Default)]
#[repr(align(64))]
struct DbKeyCount(std::sync::atomic::AtomicUsize);

/// One shard's counters, on a cache line of their own, written under the shard's lock.
#[derive(Debug, Default)]
#[repr(align(64))]
struct ShardCounters {
    /// The key count: written by whoever changes the shard, read without any lock by INFO
    /// (which must not take shard locks: it may run inside an EXEC that holds some).
    keys: std::sync::atomic::AtomicUsize,
    /// The last snapshot that has this shard (see the `snapshot` module).
    saved: AtomicU64,
    /// Changes made to the shard's keys, for Redis's count of changes since the last save
    /// (`rdb_changes_since_last_save`, and the `save` points).
    changes: AtomicU64,
    /// Commands waiting for the shard's exclusive lock (counted only when they had to wait):
    /// a snapshot's walk lets them in between its runs (the lock itself favours readers).
    writers_waiting: std::sync::atomic::AtomicUsize,
    /// How many times the shard's table may have been rebuilt (grown, rehashed in place,
    /// shrunk, replaced), moving its keys to other buckets: a SCAN cursor that names a bucket
    /// holds the generation it was read under (see [`Locked::buckets_from`]).
    layout: std::sync::atomic::AtomicU32,
}

impl ShardCounters {
    /// Adds `n` changes; called with the shard held for writing, so no other thread writes the
    /// counter meanwhile and a plain load and store will do.
    fn add_changes(&self, n: u64) {
        let now = self.changes.load(Ordering::Relaxed);
        self.changes.store(now.wrapping_add(n), Ordering::Relaxed);
    }
}

#[derive(Debug)]
struct Db {
    map: DashMap<NodeBox, (), KeyHasher>,
    expiry: Box<[Mutex<ExpiryIndex>]>,
    /// Per shard, like `expiry`, and guarded the same way.
    fields: Box<[Mutex<FieldIndex>]>,
    /// Per shard: the number of keys (expired ones not yet reclaimed included), and which
    /// snapshot has it.
    counters: Box<[ShardCounters]>,
    /// The whole database's number of keys, as of the last command that changed it.
    keys: DbKeyCount,
}

impl Db {
    fn new(hasher: &KeyHasher, shards: usize) -> Db {
        Db {
            map: DashMap::with_hasher_and_shard_amount(*hasher, shards),
            expiry: (0..shards)
                .map(|_| Mutex::new(ExpiryIndex::new()))
                .collect(),
            fields: (0..shards).map(|_| Mutex::new(FieldIndex::new())).collect(),
            counters: (0..shards).map(|_| ShardCounters::default()).collect(),
            keys: DbKeyCount::default(),
        }
    }
}

/// How commands changed databases' numbers of keys: `(database, change)` pairs.
pub type CountChanges = smallvec::SmallVec<[(usize, isize); 1]>;

/// `(database, shard)` pairs; most commands name one or two, kept without an allocation.
pub type ShardList = smallvec::SmallVec<[(usize, usize); 4]>;

/// The shards a command needs, and how.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockPlan {
    /// Exclusive locks if true, shared ones otherwise.
    pub write: bool,
    /// `(database, shard)` pairs; sorted and deduplicated by [`Keyspace::lock`].
    pub shards: ShardList,
}

impl Keyspace {
    /// `databases` empty databases, each split into `shards` shards (a power of two).
    pub fn new(databases: usize, shards: usize) -> Keyspace {
        let hasher = KeyHasher::default();
        let shards = shards.max(2).next_power_of_two();
        Keyspace {
            dbs: (0..databases.max(1))
                .map(|_| Db::new(&hasher, shards))
                .collect(),
            shard_count: shards,
            expired_keys: AtomicU64::new(0),
            expired_subkeys: AtomicU64::new(0),
            events: KeyEvents::default(),
            watches: Watches::default(),
            tracking: Default::default(),
            snapshots: Default::default(),
            lazyfree: Default::default(),
            effects: Default::default(),
            shrink_cursor: Default::default(),
            counts_changing: AtomicU64::new(0),
            counts_writer: Mutex::new(()),
        }
    }

    /// Number of databases.
    pub fn databases(&self) -> usize {
        self.dbs.len()
    }

    /// Number of shards per database.
    pub fn shard_count(&self) -> usize {
        self.shard_count
    }

    /// The shard `key` lives in, in every database.
    pub fn shard_of(&self, key: &[u8]) -> usize {
        self.dbs[0].map.determine_map(key)
    }

    /// `key`'s hash and shard, computed once: the same hash picks the shard (dashmap) and
    /// the bucket inside it (hashbrown), as both use the one shared hasher.
    fn locate(&self, key: &[u8]) -> (u64, usize) {
        let hash = self.dbs[0].map.hasher().hash_one(key);
        (hash, self.dbs[0].map.determine_shard(hash as usize))
    }

    /// Adds every shard of database `db` to `plan`.
    pub fn plan_whole_db(&self, plan: &mut LockPlan, db: usize) {
        plan.shards.extend((0..self.shard_count).map(|s| (db, s)));
    }

    /// Adds every shard of every database to `plan`.
    pub fn plan_everything(&self, plan: &mut LockPlan) {
        for db in 0..self.dbs.len() {
            self.plan_whole_db(plan, db);
        }
    }

    /// Acquires every shard of every database, for writing if `write`: for what must see or
    /// replace the whole dataset at once (DEBUG RELOAD, DEBUG LOADAOF, whole-dataset checks).
    pub fn lock_everything(&self, write: bool) -> Locked<'_> {
        let mut plan = LockPlan {
            write,
            ..Default::default()
        };
        self.plan_everything(&mut plan);
        self.lock(plan)
    }

    /// Acquires the shards of `plan`, in ascending order, blocking until all are held.
    pub fn lock(&self, mut plan: LockPlan) -> Locked<'_> {
        if plan.shards.len() > 1 {
            plan.shards.sort_unstable();
            plan.shards.dedup();
        }
        plan.shards
            .retain(|&mut (db, shard)| db < self.dbs.len() && shard < self.shard_count);
        let mut held: smallvec::SmallVec<[Held<'_>; 2]> = smallvec::SmallVec::new();
        held.reserve(plan.shards.len());
        for &(db, shard) in &plan.shards {
            let lock = &self.dbs[db].map.shards()[shard];
            let (guard, len_at_lock) = if plan.write {
                let guard = lock
                    .try_write()
                    .unwrap_or_else(|| self.wait_to_write(db, shard));
                let len = guard.len();
                (Guard::Write(guard), len)
            } else {
                (Guard::Read(lock.read()), 0)
            };
            held.push(Held {
                db,
                shard,
                guard,
                len_at_lock,
            });
        }
        // Read once, with every lock held: the snapshot this command's changes are kept out
        // of, if one is running (see the `snapshot` module).
        let epoch = if plan.write {
            self.snapshots.epoch.load(Ordering::SeqCst)
        } else {
            0
        };
        Locked {
            keyspace: self,
            held,
            epoch,
            expired_seen: Default::default(),
            written: Vec::new(),
            changes: std::cell::Cell::new(0),
            effects: Vec::new(),
            served: Vec::new(),
            wants_whole_db: false,
        }
    }

    /// Whether `db` holds enough keys for [`Keyspace::warm_ahead`] to pay, by its lock-free
    /// count (a hint).
    pub fn worth_warming(&self, db: usize) -> bool {
        self.dbs
            .get(db)
            .is_some_and(|d| d.keys.0.load(Ordering::Relaxed) >= WARM_AHEAD_MIN_KEYS)
    }

    /// Looks `keys` of `db` up and discards what it finds, for the requests a connection has
    /// read but not yet run: each lookup of a random key in a large table waits on two or
    /// three cache misses (the bucket's control bytes, its pointer, the node), one after the
    /// other, and a pipelined batch's commands would wait on them in turn. In this short loop
    /// the processor has the misses of several lookups in flight at once, and the commands
    /// then find their keys in cache ([`Locked::warm`] does the same within one command).
    ///
    /// Only a hint: a shard whose shared lock is not free at once is skipped, so this never
    /// waits and can take its locks in any order; nothing is changed or counted (no access
    /// time, no expiry, no hit or miss).
    pub fn warm_ahead(&self, db: usize, keys: &[&[u8]]) {
        let Some(database) = self.dbs.get(db) else {
            return;
        };
        // The locks first, then the lookups: taking a lock is an atomic instruction, which
        // waits for every load before it, so lookups between them would not overlap.
        let mut held: smallvec::SmallVec<[(usize, RwLockReadGuard<'_, ShardMap>); 16]> =
            smallvec::SmallVec::new();
        let mut probes: smallvec::SmallVec<[(u64, usize, &[u8]); 16]> = smallvec::SmallVec::new();
        let mut last: Option<&[u8]> = None;
        for &key in keys {
            // A pipeline of commands on one key (HSET of one hash) looks it up once.
            if last.replace(key) == Some(key) {
                continue;
            }
            let (hash, shard) = self.locate(key);
            let at = match held.iter().position(|&(s, _)| s == shard) {
                Some(at) => at,
                None => match database.map.shards()[shard].try_read() {
                    Some(guard) => {
                        held.push((shard, guard));
                        held.len() - 1
                    }
                    None => continue,
                },
            };
            probes.push((hash, at, key));
        }
        for (hash, at, key) in probes {
            let found = held[at].1.raw_entry().from_key_hashed_nocheck(hash, key);
            std::hint::black_box(found.map(|(node, _)| {
                (
                    node.0.entry.expires_at,
                    node.0.entry.access.load(Ordering::Relaxed),
                )
            }));
        }
    }

    /// Takes `(db, shard)`'s exclusive lock when it is not free at once, counted as waiting
    /// meanwhile (see [`ShardCounters::writers_waiting`]).
    #[cold]
    fn wait_to_write(&self, db: usize, shard: usize) -> RwLockWriteGuard<'_, ShardMap> {
        let waiting = &self.dbs[db].counters[shard].writers_waiting;
        waiting.fetch_add(1, Ordering::SeqCst);
        let guard = self.dbs[db].map.shards()[shard].write();
        waiting.fetch_sub(1, Ordering::SeqCst);
        guard
    }

    /// Whether commands wait for `(db, shard)`'s exclusive lock.
    pub(super) fn writers_waiting(&self, db: usize, shard: usize) -> bool {
        self.dbs[db].counters[shard]
            .writers_waiting
            .load(Ordering::SeqCst)
            > 0
    }

    /// Records the deletion of `key` the server made on its own (expiry, eviction) as a DEL.
    pub(crate) fn record_deletion(&self, epoch: u64, db: usize, key: &[u8]) {
        if self.effects.enabled() {
            let del = crate::effects::Effect {
                db,
                args: crate::effect_args!(b"DEL", key),
            };
            self.effects.record(epoch, &[del]);
        }
    }

    /// Changes made to keys since the start, counted as Redis counts its `dirty` changes: one per
    /// key a command changed, one per key a flush removed. Takes no shard lock.
    pub fn changes(&self) -> u64 {
        self.dbs
            .iter()
            .flat_map(|d| d.counters.iter())
            .fold(0u64, |sum, c| {
                sum.wrapping_add(c.changes.load(Ordering::Relaxed))
            })
    }

    /// Number of keys in `db`, expired ones not yet reclaimed included (as Redis counts them),
    /// as of the last command that changed them: never part of a command (see
    /// [`DbKeyCount`]). Takes no shard lock, so the commands running under locks held now
    /// are not in it yet.
    pub fn db_len(&self, db: usize) -> usize {
        let Some(d) = self.dbs.get(db) else {
            return 0;
        };
        loop {
            let before = self.counts_changing.load(Ordering::SeqCst);
            if before % 2 == 0 {
                let count = d.keys.0.load(Ordering::SeqCst);
                if self.counts_changing.load(Ordering::SeqCst) == before {
                    return count;
                }
            }
            std::hint::spin_loop();
        }
    }

    /// Adds what a command changed to the databases' key counts: `deltas` holds `(database,
    /// change)` pairs, one per database, and all of them appear to readers at once.
    fn publish_counts(&self, deltas: &[(usize, isize)]) {
        let add = |db: usize, delta: isize| {
            self.dbs[db]
                .keys
                .0
                .fetch_add(delta as usize, Ordering::SeqCst);
        };
        match deltas {
            [] => {}
            [(db, delta)] => add(*db, *delta),
            several => {
                let _writer = self.counts_writer.lock();
                self.counts_changing.fetch_add(1, Ordering::SeqCst);
                for &(db, delta) in several {
                    add(db, delta);
                }
                self.counts_changing.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    /// Number of keys in shard `shard` of `db` as of its last change, read without its lock:
    /// a hint for lock plans (see SCAN's), which must not rely on it.
    pub fn shard_len(&self, db: usize, shard: usize) -> usize {
        self.dbs
            .get(db)
            .and_then(|d| d.counters.get(shard))
            .map_or(0, |c| c.keys.load(Ordering::Relaxed))
    }

    /// Records that `key` in `db` changed (Redis's `signalModifiedKey`), by `client` if a
    /// client's command changed it: the transactions watching it will fail, and the clients
    /// caching it are told. Called with the key's shard held for writing.
    pub fn signal_modified(&self, locked: &Locked<'_>, db: usize, key: &[u8], client: Option<u64>) {
        locked.changes.set(locked.changes.get() + 1);
        if let Some(d) = self.dbs.get(db) {
            d.counters[self.shard_of(key)].add_changes(1);
        }
        self.watches.touch(db, key, || locked.contains_raw(db, key));
        self.tracking.invalidate(Some(key), client);
    }

    /// Reports the deletion of `key`'s `entry`, found expired at `now` by a command whose
    /// locks read snapshot epoch `epoch`: counts it, records its DEL, publishes its `expired`
    /// event and touches its watchers.
    fn expired(&self, epoch: u64, db: usize, key: &[u8], entry: &Entry, now: u64) {
        self.count_expired(entry, now);
        self.record_deletion(epoch, db, key);
        if entry.key_expired(now) {
            self.events.publish(EventClass::EXPIRED, "expired", db, key);
        } else {
            // A hash whose every field has expired (Redis 7.4 reclaims them one by one,
            // deleting the key with the last).
            self.events.publish(EventClass::HASH, "hexpired", db, key);
            self.events.publish(EventClass::GENERIC, "del", db, key);
        }
        self.watches.touch(db, key, || false);
        self.tracking.invalidate(Some(key), None);
    }

    /// Frees the entry of a key deleted because its time came, in the background with
    /// `lazyfree-lazy-expire yes` when it is large.
    pub(crate) fn dispose_expired(&self, entry: Entry) {
        self.lazyfree.dispose(entry.value, &self.lazyfree.on_expire);
    }

    /// Frees the entry of a key the server deleted or overwrote on its own account, in the
    /// background with `lazyfree-lazy-server-del yes` when it is large.
    pub(crate) fn dispose_deleted(&self, entry: Entry) {
        self.lazyfree
            .dispose(entry.value, &self.lazyfree.on_server_del);
    }

    /// Number of volatile keys in `db`.
    pub fn db_volatile(&self, db: usize) -> usize {
        self.dbs
            .get(db)
            .map_or(0, |d| d.expiry.iter().map(|e| e.lock().len()).sum())
    }

    /// Keys of every database whose time has come but that are not deleted yet, counting up to
    /// `limit` (INFO's `expired_stale_perc`).
    pub fn due_keys(&self, now: u64, limit: usize) -> usize {
        let mut due = 0;
        for index in self.dbs.iter().flat_map(|d| d.expiry.iter()) {
            due += index
                .lock()
                .iter()
                .take_while(|(at, _)| *at <= now)
                .take(limit - due)
                .count();
            if due >= limit {
                break;
            }
        }
        due
    }

    /// Number of volatile keys in every database.
    pub fn volatile_keys(&self) -> usize {
        (0..self.dbs.len()).map(|db| self.db_volatile(db)).sum()
    }

    /// Number of hashes in `db` that have fields with a TTL (INFO keyspace's `subexpiry`).
    pub fn db_subexpiry(&self, db: usize) -> usize {
        self.dbs
            .get(db)
            .map_or(0, |d| d.fields.iter().map(|f| f.lock().len()).sum())
    }

    /// Reclaims hash fields whose time has come, earliest first, with at most `budget` units
    /// of work (see `Locked::expire_fields_due`); returns how many it used. Like
    /// [`Keyspace::expire_cycle`], it holds one shard at a time, for writing.
    pub fn expire_fields_cycle(&self, now: u64, budget: usize) -> usize {
        let mut work = 0;
        for db in 0..self.dbs.len() {
            for shard in 0..self.shard_count {
                if work >= budget {
                    return work;
                }
                // Peek without the shard lock: a stale answer only delays the work a cycle.
                let due = self.dbs[db].fields[shard]
                    .lock()
                    .first()
                    .is_some_and(|(at, _)| *at <= now);
                if !due {
                    continue;
                }
                let mut locked = self.lock(LockPlan {
                    write: true,
                    shards: smallvec::smallvec![(db, shard)],
                });
                work += locked.expire_fields_due(db, shard, now, budget - work);
            }
        }
        work
    }

    /// Calls `visit` with up to `count` keys of `db` and their entries (expired ones
    /// included): the keys of consecutive buckets of a shard's table from a random bucket, as
    /// Redis's `dictGetSomeKeys` samples, moving on to the next shards while fewer were
    /// found. Each shard is held for reading while it is visited. Returns how many keys it
    /// visited: fewer than `count` only when `db` has fewer keys. O(count) on a table of any
    /// size, where an iterator would walk to a random position: eviction samples keys before
    /// every write while memory is full.
    pub fn sample(&self, db: usize, count: usize, mut visit: impl FnMut(&[u8], &Entry)) -> usize {
        let Some(d) = self.dbs.get(db) else {
            return 0;
        };
        let mut seen = 0;
        for shard in self.shards_with_keys_from_random(d) {
            if seen >= count {
                break;
            }
            let guard = d.map.shards()[shard].read();
            let found: smallvec::SmallVec<[&Node; 16]> = buckets_from_random(&guard)
                .flatten()
                .take(count - seen)
                .collect();
            // Every sampled node is loaded before any is visited: the loads do not depend on
            // each other, so the processor overlaps their cache misses instead of paying them
            // one after another (a visit compares and copies keys in between).
            // A node spans two cache lines: the key starts one, the access word ends the other.
            let warm = found.iter().fold(0, |acc, node| {
                acc ^ node.entry.access.load(Ordering::Relaxed) ^ node.key.len() as u64
            });
            std::hint::black_box(warm);
            for node in found {
                visit(node.key.as_bytes(), &node.entry);
                seen += 1;
            }
        }
        seen
    }

    /// Like [`Keyspace::sample`], over the keys of `db` with a TTL: consecutive entries of a
    /// shard's expiry index from a random key's expiry (see `random_volatile_expiry`), or
    /// with `soonest` from its start (the keys closest to expiring).
    pub fn sample_volatile(
        &self,
        db: usize,
        count: usize,
        soonest: bool,
        mut visit: impl FnMut(&[u8], &Entry),
    ) -> usize {
        let Some(d) = self.dbs.get(db) else {
            return 0;
        };
        let mut seen = 0;
        for shard in self.shards_with_keys_from_random(d) {
            if seen >= count {
                break;
            }
            let guard = d.map.shards()[shard].read();
            // The key index is only ever locked with its shard held.
            let index = d.expiry[shard].lock();
            let (Some((low, _)), Some((high, _))) = (index.first(), index.last()) else {
                continue;
            };
            let from = match soonest {
                true => *low,
                false => random_volatile_expiry(&guard)
                    .unwrap_or_else(|| low + crate::random::thread_u64() % (high - low + 1)),
            };
            let start = (from, CompactBytes::new(b""));
            let wrapped = index.range(start.clone()..).chain(index.range(..start));
            for (_, key) in wrapped.take(count - seen) {
                if let Some((node, _)) = guard.get_key_value(key.as_bytes()) {
                    visit(key.as_bytes(), &node.0.entry);
                    seen += 1;
                }
            }
        }
        seen
    }

    /// The first shard of `db` that holds keys by the lock-free counts, from a random one on:
    /// a hint for lock plans (RANDOMKEY's), which must not rely on it.
    pub fn random_shard_with_keys(&self, db: usize) -> Option<usize> {
        let d = self.dbs.get(db)?;
        self.shards_with_keys_from_random(d).next()
    }

    /// The shards of `d` that hold keys (by their lock-free counts), from a random one on,
    /// wrapping around.
    fn shards_with_keys_from_random<'d>(&self, d: &'d Db) -> impl Iterator<Item = usize> + 'd {
        let shards = self.shard_count;
        let first = crate::random::thread_u64() as usize;
        (0..shards)
            .map(move |step| first.wrapping_add(step) % shards)
            .filter(|&shard| d.counters[shard].keys.load(Ordering::Relaxed) > 0)
    }

    /// Records that the table of `(db, shard)`, held for writing, may be rebuilt: its keys may
    /// move to other buckets (see [`ShardCounters::layout`]).
    fn relayout(&self, db: usize, shard: usize) {
        let layout = &self.dbs[db].counters[shard].layout;
        layout.store(
            layout.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
    }

    /// Records the key count of `(db, shard)`, held for writing (see [`ShardCounters`]).
    fn set_len(&self, db: usize, shard: usize, len: usize) {
        let count = &self.dbs[db].counters[shard].keys;
        // Most writes leave the count as it was: reading first keeps the line shared.
        if count.load(Ordering::Relaxed) != len {
            count.store(len, Ordering::Relaxed);
        }
    }

    /// Drops `entry`, just taken out of `key`'s place in `(db, shard)`, from the field index.
    fn unindex_fields(&self, db: usize, shard: usize, key: &[u8], entry: &Entry) {
        if let Some(at) = field_expiry(entry) {
            self.dbs[db].fields[shard]
                .lock()
                .remove(&(at, CompactBytes::new(key)));
        }
    }

    /// Counts the deletion of `entry`, found expired at `now`: in `expired_keys` if its own
    /// time had come, else (a hash whose every field had expired) in `expired_subkeys`, one
    /// per field, as Redis counts the fields it reclaims.
    fn count_expired(&self, entry: &Entry, now: u64) {
        if entry.key_expired(now) {
            self.expired_keys.fetch_add(1, Ordering::Relaxed);
        } else if let Value::Hash(hash) = &entry.value {
            self.expired_subkeys
                .fetch_add(hash.len() as u64, Ordering::Relaxed);
        }
    }

    /// Gives back the memory of tables that deletions left mostly empty, as Redis's cron
    /// resizes its hash tables: hashbrown tables grow but never shrink on their own, so a
    /// shard that once held a million keys would keep room for them. A table with room for
    /// more than ten times the keys it holds is shrunk to fit them. Visits `budget` shards,
    /// going on from where the previous call stopped, each under its shared lock (one that a
    /// command holds is skipped) and, when sparse, its exclusive lock for the shrinking: a
    /// rehash of at most a tenth of the table's room. Returns how many tables it shrank.
    pub fn shrink_sparse_tables(&self, budget: usize) -> usize {
        let total = self.dbs.len() * self.shard_count;
        let mut shrunk = 0;
        for _ in 0..budget.min(total) {
            let at = self.shrink_cursor.fetch_add(1, Ordering::Relaxed) % total;
            let (db, shard) = (at / self.shard_count, at % self.shard_count);
            let sparse = self.dbs[db].map.shards()[shard]
                .try_read()
                .is_some_and(|map| is_sparse(&map));
            if !sparse {
                continue;
            }
            let mut locked = self.lock(LockPlan {
                write: true,
                shards: smallvec::smallvec![(db, shard)],
            });
            if let Ok((map, _)) = locked.shard_mut(db, shard) {
                // Checked again: keys may have come while no lock was held.
                if is_sparse(map) {
                    map.shrink_to(0);
                    self.relayout(db, shard);
                    shrunk += 1;
                }
            }
        }
        shrunk
    }

    /// Deletes keys whose time has come, oldest first, at most `budget` of them; returns how
    /// many it deleted. Holds one shard at a time, so it never stalls the whole keyspace.
    pub fn expire_cycle(&self, now: u64, budget: usize) -> usize {
        let mut deleted = 0;
        for db in 0..self.dbs.len() {
            for shard in 0..self.shard_count {
                if deleted >= budget {
                    return deleted;
                }
                // Peek without the shard lock: a stale answer only delays the work a cycle.
                let due = self.dbs[db].expiry[shard]
                    .lock()
                    .first()
                    .is_some_and(|(at, _)| *at <= now);
                if !due {
                    continue;
                }
                let mut locked = self.lock(LockPlan {
                    write: true,
                    shards: smallvec::smallvec![(db, shard)],
                });
                deleted += locked.expire_due(db, shard, now, budget - deleted);
            }
        }
        deleted
    }
}

/// Every bucket of `map` (a shard's table) in order from a random one, wrapping around: its
/// node if it holds one. Consecutive buckets from a random place are how Redis's
/// `dictGetSomeKeys` samples: O(1) to start on a table of any size, where an iterator would
/// walk to a random position.
fn buckets_from_random<'m>(map: &'m ShardMap) -> impl Iterator<Item = Option<&'m Node>> + 'm {
    // A power of two, as hashbrown sizes its tables.
    let mask = map.raw_table().buckets() - 1;
    let start = crate::random::thread_u64() as usize;
    (0..=mask).map(move |i| bucket(map, start.wrapping_add(i)))
}

/// Whether `map` (a shard's table) has room for more than ten times its keys, as Redis's
/// `htNeedsResize` judges a dict (under 10% full), and is past the smallest size worth
/// shrinking. The room is counted from the table's buckets (hashbrown fills at most 7/8 of
/// them), not from `capacity()`: that counts only the room left for insertions, and a
/// removal from a crowded group leaves a tombstone that gives none back, so a table emptied
/// by deletions could look full and never shrink.
fn is_sparse(map: &ShardMap) -> bool {
    let room = map.raw_table().buckets() / 8 * 7;
    room >= 128 && map.len() * 10 < room
}

/// Whether `map` (a shard's table) has no room left: its next insertion into an empty bucket
/// rebuilds it, at twice the size or in place (hashbrown's `growth_left` is 0).
fn is_full(map: &ShardMap) -> bool {
    map.capacity() == map.len()
}

/// How many random buckets [`random_node`] tries before it walks the table.
const RANDOM_PROBES: usize = 32;

/// A random node of `map` (a shard's table), as Redis's `dictGetRandomKey` picks one: a
/// random bucket, again while it is empty. hashbrown keeps a table at least 44% full while it
/// grows, so a few tries find a node; a table left sparse by deletions (it does not shrink)
/// falls back, after [`RANDOM_PROBES`] empty buckets, to the first node after the last one
/// tried.
fn random_node(map: &ShardMap) -> Option<&Node> {
    if map.is_empty() {
        return None;
    }
    for _ in 0..RANDOM_PROBES {
        if let Some(node) = bucket(map, crate::random::thread_u64() as usize) {
            return Some(node);
        }
    }
    buckets_from_random(map).flatten().next()
}

/// The node in bucket `index` of `map` (a shard's table), reduced modulo its bucket count,
/// if that bucket holds one.
fn bucket(map: &ShardMap, index: usize) -> Option<&Node> {
    crate::raw_bucket::full_bucket(map.raw_table(), index).map(|(node, _)| &*node.0)
}

/// How many buckets of a shard's table [`random_volatile_expiry`] looks at.
const VOLATILE_PROBES: usize = 128;

/// The expiry of a random key with a TTL in `map` (a shard's table): the first such key in up
/// to [`VOLATILE_PROBES`] consecutive buckets from a random one, as [`Keyspace::sample`]
/// takes keys; `None` if those hold none (few keys of the shard have a TTL). Sampling the
/// expiry index from a random key's expiry, not from a random expiry time, keeps every key
/// about as likely to be sampled: a random time falls mostly into the longest gaps between
/// expiry times, so the keys just after those gaps would be sampled nearly every time (keys
/// given a TTL far from the others', such as the ones just written, would be evicted first
/// whatever the policy's measure says).
fn random_volatile_expiry(map: &ShardMap) -> Option<u64> {
    buckets_from_random(map)
        .take(VOLATILE_PROBES)
        .flatten()
        .find_map(|node| node.entry.expires_at())
}

/// A set of held shard locks: the only way to read or change keys.
#[derive(Debug)]
pub struct Locked<'a> {
    keyspace: &'a Keyspace,
    /// Sorted by `(db, shard)`; inline for the usual one or two shards.
    held: smallvec::SmallVec<[Held<'a>; 2]>,
    /// The snapshot epoch read when the locks were taken (0 for shared locks): entries are
    /// handed to that snapshot before they change, if it has not walked their shard.
    epoch: u64,
    /// Changes reported under these locks ([`Keyspace::signal_modified`]): a command that
    /// made any has an effect to record.
    changes: std::cell::Cell<u64>,
    /// The effects of the commands run under these locks, recorded when they are released.
    effects: Vec<crate::effects::Effect>,
    /// Blocked clients served under these locks: their replies are published once the
    /// effects are recorded.
    served: Vec<Arc<crate::blocking::Waiter>>,
    /// Keys [`Locked::get`] found past their TTL but could not delete (it only reads): Redis
    /// deletes such a key on any lookup, and reports it, so the command's runner does it
    /// after the command (see [`Locked::take_expired_seen`]).
    expired_seen: std::cell::RefCell<Vec<(usize, CompactBytes)>>,
    /// The keys written under these locks, in order, while clients are blocked (see
    /// [`Locked::note_written`]).
    written: Vec<(usize, CompactBytes)>,
    /// Set by a command whose narrow plan was not enough (see [`Locked::ask_whole_db`]).
    wants_whole_db: bool,
}

struct Held<'a> {
    db: usize,
    shard: usize,
    guard: Guard<'a>,
    /// The shard's number of keys when its exclusive lock was taken (0 for a shared lock):
    /// what the command changed is published from it (see [`DbKeyCount`]).
    len_at_lock: usize,
}

impl std::fmt::Debug for Held<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Held({}, {})", self.db, self.shard)
    }
}

enum Guard<'a> {
    Read(RwLockReadGuard<'a, ShardMap>),
    Write(RwLockWriteGuard<'a, ShardMap>),
}

impl Guard<'_> {
    fn map(&self) -> &ShardMap {
        match self {
            Guard::Read(g) => g,
            Guard::Write(g) => g,
        }
    }
}

/// A command touched a key outside its lock plan: a bug in the command table, reported as an
/// error rather than a crash.
const NOT_LOCKED: CommandError =
    CommandError::Internal("key accessed outside the command's lock plan");

impl Drop for Locked<'_> {
    /// Records the effects of the commands run under these locks, still holding them, then
    /// hands the clients they served their replies.
    fn drop(&mut self) {
        self.publish_counts();
        if !self.effects.is_empty() {
            self.keyspace.effects.record(self.epoch, &self.effects);
        }
        for waiter in self.served.drain(..) {
            waiter.publish();
        }
    }
}

impl<'a> Locked<'a> {
    /// Adds what was changed under these locks to the databases' key counts (see
    /// [`DbKeyCount`]); called before they are released.
    fn publish_counts(&mut self) {
        let deltas = self.unpublished_counts();
        if deltas.is_empty() {
            return;
        }
        for held in &mut self.held {
            held.len_at_lock = held.guard.map().len();
        }
        self.keyspace.publish_counts(&deltas);
    }

    /// How the commands run under these locks changed each database's number of keys, which
    /// [`Keyspace::db_len`] does not show before the locks are released: `(database,
    /// change)` pairs, in database order, for the databases that changed.
    pub fn unpublished_counts(&self) -> CountChanges {
        let mut deltas = CountChanges::new();
        for held in &self.held {
            // A plan's locks are all shared or all exclusive.
            let Guard::Write(map) = &held.guard else {
                break;
            };
            let delta = map.len() as isize - held.len_at_lock as isize;
            if delta == 0 {
                continue;
            }
            match deltas.last_mut() {
                Some((db, sum)) if *db == held.db => *sum += delta,
                _ => deltas.push((held.db, delta)),
            }
        }
        deltas
    }

    /// Number of keys in `db` as the commands under these locks see it: the published count
    /// ([`Keyspace::db_len`]) with their own changes.
    pub fn db_len(&self, db: usize) -> usize {
        let own = self
            .unpublished_counts()
            .iter()
            .find(|(d, _)| *d == db)
            .map_or(0, |(_, delta)| *delta);
        self.keyspace.db_len(db).wrapping_add_signed(own)
    }

    /// The snapshot epoch these locks read (0 for shared locks).
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Changes reported under these locks so far.
    pub(crate) fn changes(&self) -> u64 {
        self.changes.get()
    }

    /// Adds an effect of the command running under these locks.
    pub(crate) fn push_effect(&mut self, effect: crate::effects::Effect) {
        self.effects.push(effect);
    }

    /// Notes a blocked client served under these locks (its reply waits for [`Drop`]).
    pub(crate) fn served(&mut self, waiter: Arc<crate::blocking::Waiter>) {
        self.served.push(waiter);
    }

    /// The keyspace these locks belong to.
    pub fn keyspace(&self) -> &'a Keyspace {
        self.keyspace
    }

    fn find(&self, db: usize, shard: usize) -> Option<usize> {
        // Every shard held (a load, FLUSHALL, EXEC of a whole-keyspace command): the guards,
        // sorted and one per shard, are at their shard's place, no search needed.
        let shards = self.keyspace.shard_count;
        if self.held.len() == self.keyspace.dbs.len() * shards {
            return (db < self.keyspace.dbs.len() && shard < shards).then_some(db * shards + shard);
        }
        self.held
            .binary_search_by(|h| (h.db, h.shard).cmp(&(db, shard)))
            .ok()
    }

    /// Whether this guard holds `key`'s shard of `db` for writing.
    pub fn holds_for_write(&self, db: usize, key: &[u8]) -> bool {
        let shard = self.keyspace.shard_of(key);
        self.find(db, shard)
            .is_some_and(|i| matches!(self.held[i].guard, Guard::Write(_)))
    }

    fn map(&self, db: usize, key: &[u8]) -> Result<&ShardMap, CommandError> {
        let shard = self.keyspace.shard_of(key);
        let i = self.find(db, shard).ok_or(NOT_LOCKED)?;
        Ok(self.held[i].guard.map())
    }

    /// The write guard and expiry index for `key`'s shard in `db`.
    fn shard_mut(
        &mut self,
        db: usize,
        shard: usize,
    ) -> Result<(&mut ShardMap, &'a Mutex<ExpiryIndex>), CommandError> {
        let i = self.find(db, shard).ok_or(NOT_LOCKED)?;
        let index = &self.keyspace.dbs[db].expiry[shard];
        match &mut self.held[i].guard {
            Guard::Write(g) => Ok((&mut **g, index)),
            Guard::Read(_) => Err(CommandError::Internal("write under a shared lock")),
        }
    }

    /// The live entry at `key`, if any.
    pub fn get(&self, db: usize, key: &[u8], now: u64) -> Result<Option<&Entry>, CommandError> {
        let (hash, shard) = self.keyspace.locate(key);
        let i = self.find(db, shard).ok_or(NOT_LOCKED)?;
        let entry = self.held[i]
            .guard
            .map()
            .raw_entry()
            .from_key_hashed_nocheck(hash, key)
            .map(|(node, _)| &node.0.entry);
        match entry {
            Some(e) if e.is_expired(now) => {
                self.note_expired(db, key);
                Ok(None)
            }
            live => Ok(live),
        }
    }

    /// Looks each of `keys` up and discards what it finds. A command that does much work per
    /// key (MSET's inserts, MGET's replies) calls it first: this loop is short enough for the
    /// processor to have the cache misses of several lookups in flight at once, where the
    /// command's own loop stalls on them one after the other. A command whose loop is a bare
    /// lookup per key (EXISTS) gains nothing and pays for the second lookups (10% measured).
    pub fn warm<'k>(&self, db: usize, keys: impl Iterator<Item = &'k [u8]>) {
        for key in keys {
            std::hint::black_box(self.entry_raw(db, key).map(|entry| entry.expires_at));
        }
    }

    /// Records that a command run under these locks wrote `key` of `db`: the clients blocked
    /// on the keys a transaction wrote are served in the order the keys were written, as
    /// Redis serves its ready keys.
    pub fn note_written(&mut self, db: usize, key: &[u8]) {
        self.written.push((db, CompactBytes::new(key)));
    }

    /// The keys recorded by [`Locked::note_written`] since the last call, in order (a key
    /// written twice is there twice).
    pub fn take_written(&mut self) -> Vec<(usize, CompactBytes)> {
        std::mem::take(&mut self.written)
    }

    /// The keys [`Locked::get`] found expired since the last call, for deletion.
    pub fn take_expired_seen(&mut self) -> Vec<(usize, CompactBytes)> {
        std::mem::take(self.expired_seen.get_mut())
    }

    /// The live entry at `key` for changing in place (its expiry is changed with
    /// [`Locked::set_expiry`]). An expired entry found here is deleted.
    pub fn get_mut(
        &mut self,
        db: usize,
        key: &[u8],
        now: u64,
    ) -> Result<Option<&mut Entry>, CommandError> {
        let (hash, shard) = self.keyspace.locate(key);
        let (keyspace, epoch) = (self.keyspace, self.epoch);
        let (map, index) = self.shard_mut(db, shard)?;
        let len = map.len();
        // One probe: the entry is checked for expiry and handed out from the same slot.
        match map.raw_entry_mut().from_key_hashed_nocheck(hash, key) {
            RawEntryMut::Vacant(_) => Ok(None),
            RawEntryMut::Occupied(slot) => {
                keyspace.before_change(epoch, db, shard, key, &slot.key().0.entry);
                Self::live_or_reclaim(keyspace, epoch, db, shard, key, slot, index, len, now)
            }
        }
    }

    /// [`Locked::get_mut`]'s found entry: handed out if live, else deleted.
    #[allow(clippy::too_many_arguments)]
    fn live_or_reclaim<'m>(
        keyspace: &Keyspace,
        epoch: u64,
        db: usize,
        shard: usize,
        key: &[u8],
        slot: hashbrown::hash_map::RawOccupiedEntryMut<'m, NodeBox, SharedValue<()>, KeyHasher>,
        index: &Mutex<ExpiryIndex>,
        len: usize,
        now: u64,
    ) -> Result<Option<&'m mut Entry>, CommandError> {
        match slot {
            slot if slot.key().0.entry.is_expired(now) => {
                let (old, _) = slot.remove_entry();
                if let Some(at) = old.0.entry.expires_at {
                    index.lock().remove(&(at.get(), CompactBytes::new(key)));
                }
                keyspace.unindex_fields(db, shard, key, &old.0.entry);
                keyspace.set_len(db, shard, len - 1);
                keyspace.expired(epoch, db, key, &old.0.entry, now);
                keyspace.dispose_expired(old.0.entry);
                Ok(None)
            }
            slot => Ok(Some(&mut slot.into_key().0.entry)),
        }
    }

    /// The live entry at `key` for changing in place, created with `make` when there is none
    /// (an expired one counts as none); the flag says whether it was created. One probe, where
    /// a lookup followed by an insert would take two.
    pub fn get_or_insert_with(
        &mut self,
        db: usize,
        key: &[u8],
        now: u64,
        make: impl FnOnce() -> Entry,
    ) -> Result<(&mut Entry, bool), CommandError> {
        let (hash, shard) = self.keyspace.locate(key);
        let (keyspace, epoch) = (self.keyspace, self.epoch);
        let (map, index) = self.shard_mut(db, shard)?;
        let len = map.len();
        let full = is_full(map);
        let make = || {
            let mut entry = make();
            snapshot::mark_new(&mut entry, epoch);
            entry
        };
        match map.raw_entry_mut().from_key_hashed_nocheck(hash, key) {
            RawEntryMut::Occupied(slot) => {
                let node = slot.into_key();
                keyspace.before_change(epoch, db, shard, key, &node.0.entry);
                if !node.0.entry.is_expired(now) {
                    return Ok((&mut node.0.entry, false));
                }
                if let Some(at) = node.0.entry.expires_at {
                    index.lock().remove(&(at.get(), CompactBytes::new(key)));
                }
                keyspace.unindex_fields(db, shard, key, &node.0.entry);
                keyspace.expired(epoch, db, key, &node.0.entry, now);
                keyspace.events.publish(EventClass::NEW, "new", db, key);
                let old = std::mem::replace(&mut node.0.entry, make());
                keyspace.dispose_expired(old);
                Ok((&mut node.0.entry, true))
            }
            RawEntryMut::Vacant(slot) => {
                if full {
                    keyspace.relayout(db, shard);
                }
                let node = NodeBox(Box::new(Node {
                    key: CompactBytes::new(key),
                    entry: make(),
                }));
                let (node, _) = slot.insert_hashed_nocheck(hash, node, SharedValue::new(()));
                keyspace.set_len(db, shard, len + 1);
                keyspace.events.publish(EventClass::NEW, "new", db, key);
                Ok((&mut node.0.entry, true))
            }
        }
    }

    /// Stores `entry` at `key`, replacing whatever was there: a value past its TTL is deleted
    /// as expired, a live one as the server's own deletion (`lazyfree-lazy-server-del`, as
    /// Redis's `dbOverwrite`).
    pub fn insert(
        &mut self,
        db: usize,
        key: &[u8],
        entry: Entry,
        now: u64,
    ) -> Result<(), CommandError> {
        let (hash, shard) = self.keyspace.locate(key);
        let (keyspace, epoch) = (self.keyspace, self.epoch);
        let (map, index) = self.shard_mut(db, shard)?;
        let mut entry = entry;
        snapshot::mark_new(&mut entry, epoch);
        let new_expiry = entry.expires_at;
        let new_fields = field_expiry(&entry);
        let full = is_full(map);
        // One probe for both cases: the table lookup is most of a SET's cost at scale.
        let old = match map.raw_entry_mut().from_key_hashed_nocheck(hash, key) {
            RawEntryMut::Occupied(mut slot) => {
                keyspace.before_change(epoch, db, shard, key, &slot.key().0.entry);
                Some(std::mem::replace(&mut slot.key_mut().0.entry, entry))
            }
            RawEntryMut::Vacant(slot) => {
                if full {
                    keyspace.relayout(db, shard);
                }
                let node = NodeBox(Box::new(Node {
                    key: CompactBytes::new(key),
                    entry,
                }));
                slot.insert_hashed_nocheck(hash, node, SharedValue::new(()));
                None
            }
        };
        let len = map.len();
        let expired_old = old.as_ref().filter(|o| o.is_expired(now));
        if let Some(expired_old) = expired_old {
            keyspace.expired(epoch, db, key, expired_old, now);
        }
        if old.is_none() || expired_old.is_some() {
            keyspace.set_len(db, shard, len);
            keyspace.events.publish(EventClass::NEW, "new", db, key);
        }
        if let Some(old) = &old {
            keyspace.unindex_fields(db, shard, key, old);
        }
        if let Some(at) = new_fields {
            keyspace.dbs[db].fields[shard]
                .lock()
                .insert((at, CompactBytes::new(key)));
        }
        let old_expiry = old.as_ref().and_then(|o| o.expires_at);
        if old_expiry != new_expiry {
            let mut index = index.lock();
            if let Some(at) = old_expiry {
                index.remove(&(at.get(), CompactBytes::new(key)));
            }
            if let Some(at) = new_expiry {
                index.insert((at.get(), CompactBytes::new(key)));
            }
        }
        if let Some(old) = old {
            if old.is_expired(now) {
                keyspace.dispose_expired(old);
            } else {
                keyspace.dispose_deleted(old);
            }
        }
        Ok(())
    }

    /// Deletes `key`; returns its entry if it was live. One past its TTL is deleted as
    /// expired (event, count and DEL effect).
    pub fn remove(
        &mut self,
        db: usize,
        key: &[u8],
        now: u64,
    ) -> Result<Option<Entry>, CommandError> {
        let Some(old) = self.take(db, key)? else {
            return Ok(None);
        };
        if old.is_expired(now) {
            self.keyspace.expired(self.epoch, db, key, &old, now);
            self.keyspace.dispose_expired(old);
            return Ok(None);
        }
        Ok(Some(old))
    }

    /// Deletes `key` whether it is live or past its TTL; whether it was there. This is Redis's
    /// `dbDelete`, which the `*STORE` commands call on a destination they never looked up: a
    /// key past its TTL goes as a plain deletion (the caller reports `del`), not as an
    /// expired one.
    pub fn delete_even_expired(&mut self, db: usize, key: &[u8]) -> Result<bool, CommandError> {
        let Some(old) = self.take(db, key)? else {
            return Ok(false);
        };
        self.keyspace.dispose_deleted(old);
        Ok(true)
    }

    /// Takes `key`'s entry out of its table and its indexes, live or not.
    fn take(&mut self, db: usize, key: &[u8]) -> Result<Option<Entry>, CommandError> {
        let shard = self.keyspace.shard_of(key);
        let (keyspace, epoch) = (self.keyspace, self.epoch);
        let (map, index) = self.shard_mut(db, shard)?;
        if keyspace.snapshot_lacks(epoch, db, shard) {
            if let Some((node, _)) = map.get_key_value(key) {
                keyspace.before_change(epoch, db, shard, key, &node.0.entry);
            }
        }
        let Some(old) = map.remove_entry(key).map(|(node, _)| node.0.entry) else {
            return Ok(None);
        };
        let len = map.len();
        if let Some(at) = old.expires_at {
            index.lock().remove(&(at.get(), CompactBytes::new(key)));
        }
        keyspace.set_len(db, shard, len);
        keyspace.unindex_fields(db, shard, key, &old);
        Ok(Some(old))
    }

    /// Sets or clears the expiry of the live entry at `key`; false if there is none.
    pub fn set_expiry(
        &mut self,
        db: usize,
        key: &[u8],
        at: Option<u64>,
        now: u64,
    ) -> Result<bool, CommandError> {
        self.reclaim_if_expired(db, key, now)?;
        let shard = self.keyspace.shard_of(key);
        let (keyspace, epoch) = (self.keyspace, self.epoch);
        let (map, index) = self.shard_mut(db, shard)?;
        let RawEntryMut::Occupied(slot) = map.raw_entry_mut().from_key(key) else {
            return Ok(false);
        };
        let entry = &mut slot.into_key().0.entry;
        let at = at.and_then(NonZeroU64::new);
        if entry.expires_at != at {
            keyspace.before_change(epoch, db, shard, key, entry);
            let mut index = index.lock();
            if let Some(old) = entry.expires_at {
                index.remove(&(old.get(), CompactBytes::new(key)));
            }
            if let Some(new) = at {
                index.insert((new.get(), CompactBytes::new(key)));
            }
            entry.expires_at = at;
        }
        Ok(true)
    }

    /// Deletes `key` if it is there but expired.
    fn reclaim_if_expired(&mut self, db: usize, key: &[u8], now: u64) -> Result<(), CommandError> {
        if self
            .map(db, key)?
            .get_key_value(key)
            .is_some_and(|(node, _)| node.0.entry.is_expired(now))
        {
            self.remove(db, key, now)?;
        }
        Ok(())
    }

    /// Whether `key` is in `db`, live or past its TTL but not yet deleted (false if its shard
    /// is not held).
    pub fn contains_raw(&self, db: usize, key: &[u8]) -> bool {
        self.map(db, key).is_ok_and(|map| map.contains_key(key))
    }

    /// The entry at `key` in `db`, live or past its TTL but not yet deleted (`None` if its
    /// shard is not held).
    pub fn entry_raw(&self, db: usize, key: &[u8]) -> Option<&Entry> {
        // One hash for both the shard and the probe.
        let (hash, shard) = self.keyspace.locate(key);
        let i = self.find(db, shard)?;
        self.held[i]
            .guard
            .map()
            .raw_entry()
            .from_key_hashed_nocheck(hash, key)
            .map(|(node, _)| &node.0.entry)
    }

    /// Whether `key` is in `db` but past its TTL (false if its shard is not held).
    pub fn is_expired_raw(&self, db: usize, key: &[u8], now: u64) -> bool {
        self.map(db, key).is_ok_and(|map| {
            map.get_key_value(key)
                .is_some_and(|(node, _)| node.0.entry.is_expired(now))
        })
    }

    /// Live entries of the held shards of `db`, in no particular order.
    pub fn iter(&self, db: usize, now: u64) -> impl Iterator<Item = (&CompactBytes, &Entry)> + '_ {
        self.held
            .iter()
            .filter(move |h| h.db == db)
            .flat_map(|h| h.guard.map().keys())
            .map(|node| (&node.0.key, &node.0.entry))
            .filter(move |(_, e)| !e.is_expired(now))
    }

    /// Live entries of one held shard of `db`.
    pub fn iter_shard(
        &self,
        db: usize,
        shard: usize,
        now: u64,
    ) -> Result<impl Iterator<Item = (&CompactBytes, &Entry)> + '_, CommandError> {
        Ok(self
            .iter_shard_raw(db, shard)?
            .filter(move |(_, e)| !e.is_expired(now)))
    }

    /// Every entry of one held shard of `db`, those past their TTL but not yet deleted
    /// included.
    pub fn iter_shard_raw(
        &self,
        db: usize,
        shard: usize,
    ) -> Result<impl Iterator<Item = (&CompactBytes, &Entry)> + '_, CommandError> {
        let i = self.find(db, shard).ok_or(NOT_LOCKED)?;
        Ok(self.held[i]
            .guard
            .map()
            .keys()
            .map(|node| (&node.0.key, &node.0.entry)))
    }

    /// Number of keys in held shard `(db, shard)`, past their TTL or not.
    pub fn shard_keys(&self, db: usize, shard: usize) -> Result<usize, CommandError> {
        let i = self.find(db, shard).ok_or(NOT_LOCKED)?;
        Ok(self.held[i].guard.map().len())
    }

    /// The buckets of held shard `(db, shard)` from index `from` on, in index order: the key
    /// and entry in each, if any (past its TTL or not); with the number of buckets and the
    /// table's layout generation. A key stays in its bucket until the generation changes
    /// ([`ShardCounters::layout`]), so walking the buckets in order across calls of the same
    /// generation meets every key that stays: SCAN's cheap path.
    #[allow(clippy::type_complexity)]
    pub fn buckets_from(
        &self,
        db: usize,
        shard: usize,
        from: usize,
    ) -> Result<
        (
            usize,
            u32,
            impl Iterator<Item = Option<(&CompactBytes, &Entry)>> + '_,
        ),
        CommandError,
    > {
        let i = self.find(db, shard).ok_or(NOT_LOCKED)?;
        let map = self.held[i].guard.map();
        let buckets = map.raw_table().buckets();
        let layout = self.keyspace.dbs[db].counters[shard]
            .layout
            .load(Ordering::Relaxed);
        let nodes = (from.min(buckets)..buckets)
            .map(move |index| bucket(map, index).map(|node| (&node.key, &node.entry)));
        Ok((buckets, layout, nodes))
    }

    /// A random key of `(db, shard)` (held) and its entry, past its TTL or not; `None` when
    /// the shard stores no key. O(1) expected (see `random_node`).
    pub fn random_raw(
        &self,
        db: usize,
        shard: usize,
    ) -> Result<Option<(&CompactBytes, &Entry)>, CommandError> {
        let i = self.find(db, shard).ok_or(NOT_LOCKED)?;
        Ok(random_node(self.held[i].guard.map()).map(|node| (&node.key, &node.entry)))
    }

    /// Has `key` of `db`, found past its TTL, deleted after the command, as a lookup that
    /// finds it does (see [`Locked::take_expired_seen`]).
    pub fn note_expired(&self, db: usize, key: &[u8]) {
        self.expired_seen
            .borrow_mut()
            .push((db, CompactBytes::new(key)));
    }

    /// Whether shard `shard` of `db` is among the held ones.
    pub fn holds(&self, db: usize, shard: usize) -> bool {
        self.find(db, shard).is_some()
    }

    /// The held shards of `db`, in ascending order.
    pub fn held_shards(&self, db: usize) -> impl Iterator<Item = usize> + '_ {
        self.held
            .iter()
            .filter(move |h| h.db == db)
            .map(|h| h.shard)
    }

    /// Whether every shard of `db` is held.
    pub fn holds_whole_db(&self, db: usize) -> bool {
        self.held_shards(db).count() == self.keyspace.shard_count
    }

    /// Says that the running command, planned with a narrow plan (see
    /// [`crate::command::Locks::Narrow`]), found it was not enough: it wrote no reply, and
    /// runs again holding its whole database.
    pub fn ask_whole_db(&mut self) {
        self.wants_whole_db = true;
    }

    /// Whether the command asked for its whole database ([`Locked::ask_whole_db`]); clears
    /// the request.
    pub fn take_whole_db_request(&mut self) -> bool {
        std::mem::take(&mut self.wants_whole_db)
    }

    /// Empties every held shard of `db`; returns what was removed, to be dropped by the caller
    /// (possibly on another thread, for `FLUSHDB ASYNC`).
    pub fn clear(&mut self, db: usize) -> Vec<ShardContents> {
        let mut removed = Vec::new();
        let (keyspace, epoch) = (self.keyspace, self.epoch);
        for held in self.held.iter_mut().filter(|h| h.db == db) {
            if let Guard::Write(map) = &mut held.guard {
                keyspace.before_emptying(epoch, db, held.shard, map);
                let hasher = *map.hasher();
                let map = std::mem::replace(&mut **map, ShardMap::with_hasher(hasher));
                keyspace.relayout(db, held.shard);
                keyspace.set_len(db, held.shard, 0);
                keyspace.dbs[db].counters[held.shard].add_changes(map.len() as u64);
                let index = std::mem::take(&mut *keyspace.dbs[db].expiry[held.shard].lock());
                let fields = std::mem::take(&mut *keyspace.dbs[db].fields[held.shard].lock());
                removed.push(ShardContents {
                    map,
                    _index: index,
                    _fields: fields,
                });
            }
        }
        removed
    }

    /// Exchanges the contents of databases `a` and `b`, whose every shard must be held for
    /// writing.
    pub fn swap_dbs(&mut self, a: usize, b: usize) -> Result<(), CommandError> {
        if a == b {
            return Ok(());
        }
        let keyspace = self.keyspace;
        for shard in 0..keyspace.shard_count {
            let (Some(i), Some(j)) = (self.find(a, shard), self.find(b, shard)) else {
                return Err(NOT_LOCKED);
            };
            let (lo, hi) = (i.min(j), i.max(j));
            let (left, right) = self.held.split_at_mut(hi);
            match (&mut left[lo].guard, &mut right[0].guard) {
                (Guard::Write(x), Guard::Write(y)) => {
                    keyspace.before_emptying(self.epoch, a, shard, x);
                    keyspace.before_emptying(self.epoch, b, shard, y);
                    std::mem::swap(&mut **x, &mut **y);
                    keyspace.relayout(a, shard);
                    keyspace.relayout(b, shard);
                    keyspace.set_len(a, shard, x.len());
                    keyspace.set_len(b, shard, y.len());
                }
                _ => return Err(CommandError::Internal("write under a shared lock")),
            }
            let mut x = keyspace.dbs[a].expiry[shard].lock();
            let mut y = keyspace.dbs[b].expiry[shard].lock();
            std::mem::swap(&mut *x, &mut *y);
            let mut x = keyspace.dbs[a].fields[shard].lock();
            let mut y = keyspace.dbs[b].fields[shard].lock();
            std::mem::swap(&mut *x, &mut *y);
        }
        Ok(())
    }

    /// Deletes up to `budget` due keys of one held shard; returns how many.
    fn expire_due(&mut self, db: usize, shard: usize, now: u64, budget: usize) -> usize {
        let (keyspace, epoch) = (self.keyspace, self.epoch);
        let Ok((map, index)) = self.shard_mut(db, shard) else {
            return 0;
        };
        let mut index = index.lock();
        let mut deleted = 0;
        while deleted < budget {
            match index.first() {
                Some((at, _)) if *at <= now => {}
                _ => break,
            }
            let Some((_, key)) = index.pop_first() else {
                break;
            };
            if let Some((node, _)) = map.get_key_value(key.as_bytes()) {
                keyspace.before_change(epoch, db, shard, &key, &node.0.entry);
            }
            if let Some((node, _)) = map.remove_entry(key.as_bytes()) {
                keyspace.record_deletion(epoch, db, &key);
                keyspace.unindex_fields(db, shard, &key, &node.0.entry);
                keyspace.set_len(db, shard, map.len());
                keyspace
                    .events
                    .publish(EventClass::EXPIRED, "expired", db, &key);
                keyspace.watches.touch(db, &key, || false);
                keyspace.tracking.invalidate(Some(&key), None);
                keyspace.dispose_expired(node.0.entry);
            }
            deleted += 1;
        }
        keyspace
            .expired_keys
            .fetch_add(deleted as u64, Ordering::Relaxed);
        deleted
    }

    /// Records that the hash at `key` in `db`, changed in place, is now indexed under its
    /// earliest field expiry `new` instead of `old` (see [`crate::HashValue::min_expiry`]). Hash
    /// commands call this after every change to a hash's field TTLs, the shard still held for
    /// writing.
    pub fn reindex_fields(
        &mut self,
        db: usize,
        key: &[u8],
        old: Option<u64>,
        new: Option<u64>,
    ) -> Result<(), CommandError> {
        let shard = self.keyspace.shard_of(key);
        let i = self.find(db, shard).ok_or(NOT_LOCKED)?;
        if !matches!(self.held[i].guard, Guard::Write(_)) {
            return Err(CommandError::Internal("write under a shared lock"));
        }
        if old == new {
            return Ok(());
        }
        let mut index = self.keyspace.dbs[db].fields[shard].lock();
        if let Some(at) = old {
            index.remove(&(at, CompactBytes::new(key)));
        }
        if let Some(at) = new {
            index.insert((at, CompactBytes::new(key)));
        }
        Ok(())
    }

    /// Reclaims hash fields of one held shard whose time has come, earliest first, deleting a
    /// hash whose last field goes. Stops after `budget` units of work (a field reclaimed, or an
    /// index entry found stale); returns how many it used.
    fn expire_fields_due(&mut self, db: usize, shard: usize, now: u64, budget: usize) -> usize {
        let (keyspace, epoch) = (self.keyspace, self.epoch);
        let Ok((map, keys)) = self.shard_mut(db, shard) else {
            return 0;
        };
        // The key index first, as everywhere both are held: an emptied hash may be volatile.
        let mut keys = keys.lock();
        let mut index = keyspace.dbs[db].fields[shard].lock();
        let (mut work, mut reclaimed) = (0, 0);
        while work < budget {
            match index.first() {
                Some((at, _)) if *at <= now => {}
                _ => break,
            }
            let Some((at, key)) = index.pop_first() else {
                break;
            };
            let RawEntryMut::Occupied(mut slot) = map.raw_entry_mut().from_key(key.as_bytes())
            else {
                work += 1;
                continue;
            };
            keyspace.before_change(epoch, db, shard, &key, &slot.key().0.entry);
            let entry = &mut slot.key_mut().0.entry;
            let Value::Hash(hash) = &mut entry.value else {
                work += 1;
                continue;
            };
            // An entry for another time is stale (the invariant says it cannot be, but a stale
            // entry must cost a little work, never a wrong deletion); the hash's real one is
            // put back, which is a no-op when it is there.
            if hash.min_expiry() != Some(at) {
                if let Some(real) = hash.min_expiry() {
                    index.insert((real, key));
                }
                work += 1;
                continue;
            }
            let removed = hash.remove_expired(now, budget - work);
            work += removed.max(1);
            reclaimed += removed;
            if removed > 0 {
                keyspace
                    .events
                    .publish(EventClass::HASH, "hexpired", db, &key);
            }
            if !hash.is_empty() {
                if removed > 0 {
                    keyspace.watches.touch(db, &key, || true);
                    keyspace.tracking.invalidate(Some(&key), None);
                }
                if let Some(next) = hash.min_expiry() {
                    index.insert((next, key));
                }
                continue;
            }
            let (node, _) = slot.remove_entry();
            keyspace.record_deletion(epoch, db, &key);
            if let Some(at) = node.0.entry.expires_at {
                keys.remove(&(at.get(), key.clone()));
            }
            keyspace.set_len(db, shard, map.len());
            keyspace
                .events
                .publish(EventClass::GENERIC, "del", db, &key);
            keyspace.watches.touch(db, &key, || false);
            keyspace.tracking.invalidate(Some(&key), None);
        }
        keyspace
            .expired_subkeys
            .fetch_add(reclaimed as u64, Ordering::Relaxed);
        work
    }
}

/// What [`Locked::clear`] took out of a shard; dropping it frees the memory.
pub struct ShardContents {
    map: ShardMap,
    _index: ExpiryIndex,
    _fields: FieldIndex,
}

impl ShardContents {
    /// Keys removed.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether none were.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl std::fmt::Debug for ShardContents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ShardContents({} keys)", self.map.len())
    }
}

/// The time the field index files `entry` under: its hash's earliest field expiry, if it is a
/// hash with field TTLs.
fn field_expiry(entry: &Entry) -> Option<u64> {
    match &entry.value {
        Value::Hash(hash) => hash.min_expiry(),
        _ => None,
    }
}

/// Hashes `key` the way shards are chosen; exposed for SCAN cursors.
pub fn key_hash(keyspace: &Keyspace, key: &[u8]) -> u64 {
    keyspace.dbs[0].map.hasher().hash_one(key)
}
