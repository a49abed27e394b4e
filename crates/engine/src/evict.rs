//! Eviction: keeping memory under `maxmemory` by deleting keys, as Redis's `evict.c` does.
//!
//! The engine does not measure memory: the server counts its allocations and passes a gauge
//! to [`Engine::make_room`], which it calls before every command while `maxmemory` is set
//! (and from its cron, to finish work cut short). While the gauge reads more than
//! `maxmemory`, keys are deleted one at a time, each under a write lock of its own shard only,
//! chosen by `maxmemory-policy`:
//!
//! - the random policies take a random key (of any key, or of the keys with a TTL);
//! - LRU, LFU and TTL approximate the best victim as Redis does: `maxmemory-samples` keys of
//!   each database are sampled into a pool of the 16 best candidates seen so far (longest
//!   idle, least frequently used, or closest to expiring), and the best candidate still
//!   present goes.
//!
//! Each eviction counts in `evicted_keys`, publishes the `evicted` keyspace event, fails the
//! transactions watching the key and invalidates clients caching it. Evictions are serialized
//! by the pool's lock, and one call works at most `maxmemory-eviction-tenacity`'s time limit
//! (500 µs by default), as Redis's does: a call that ran out of time lets the command through
//! while memory is still over, so a burst of writes slows down instead of failing. A command
//! flagged `denyoom` is refused only when nothing is left to evict (or the policy is
//! `noeviction`).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::notify::EventClass;
use crate::{CompactBytes, Engine, LockPlan};

/// Redis's starting LFU count for a new key, so that a new key is not the first to go.
pub const LFU_INIT_VAL: u8 = 5;

/// How many candidates the pool keeps (Redis's `EVPOOL_SIZE`).
const POOL_SIZE: usize = 16;

/// What to delete when memory is over `maxmemory` (`maxmemory-policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Delete nothing: refuse the commands that may grow memory.
    NoEviction,
    /// The least recently used key.
    AllKeysLru,
    /// The least frequently used key.
    AllKeysLfu,
    /// Any key.
    AllKeysRandom,
    /// The least recently used key with a TTL.
    VolatileLru,
    /// The least frequently used key with a TTL.
    VolatileLfu,
    /// Any key with a TTL.
    VolatileRandom,
    /// The key with a TTL closest to expiring.
    VolatileTtl,
}

impl Policy {
    /// Every policy, in the order their numbers are stored.
    pub const ALL: [Policy; 8] = [
        Policy::NoEviction,
        Policy::AllKeysLru,
        Policy::AllKeysLfu,
        Policy::AllKeysRandom,
        Policy::VolatileLru,
        Policy::VolatileLfu,
        Policy::VolatileRandom,
        Policy::VolatileTtl,
    ];

    /// The policy's name in `maxmemory-policy`.
    pub fn name(self) -> &'static str {
        match self {
            Policy::NoEviction => "noeviction",
            Policy::AllKeysLru => "allkeys-lru",
            Policy::AllKeysLfu => "allkeys-lfu",
            Policy::AllKeysRandom => "allkeys-random",
            Policy::VolatileLru => "volatile-lru",
            Policy::VolatileLfu => "volatile-lfu",
            Policy::VolatileRandom => "volatile-random",
            Policy::VolatileTtl => "volatile-ttl",
        }
    }

    /// The policy named `name` (any case).
    pub fn from_name(name: &str) -> Option<Policy> {
        Policy::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name))
    }

    /// Whether keys are counted by frequency (OBJECT FREQ answers, OBJECT IDLETIME refuses).
    pub fn uses_lfu(self) -> bool {
        matches!(self, Policy::AllKeysLfu | Policy::VolatileLfu)
    }

    /// Whether only keys with a TTL may go.
    fn volatile_only(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }

    fn random(self) -> bool {
        matches!(self, Policy::AllKeysRandom | Policy::VolatileRandom)
    }
}

/// The LFU counter's parameters (`lfu-log-factor`, `lfu-decay-time`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lfu {
    /// How much harder each increment gets: the counter grows logarithmically with accesses.
    pub log_factor: u32,
    /// Minutes per one-step decay of an idle key's counter; 0 never decays.
    pub decay_minutes: u32,
}

impl Lfu {
    /// `counter`, stored at `last` and read at `now` (Unix seconds), less one per
    /// `decay_minutes` whole minutes between them (Redis's `LFUDecrAndReturn`).
    pub fn decayed(self, counter: u8, last: u32, now: u32) -> u8 {
        if self.decay_minutes == 0 {
            return counter;
        }
        let periods = (now / 60).saturating_sub(last / 60) / self.decay_minutes;
        counter.saturating_sub(u8::try_from(periods).unwrap_or(u8::MAX))
    }

    /// `counter` after one access: incremented with odds `1 / ((counter - 5) * log_factor
    /// + 1)`, saturating at 255 (Redis's `LFULogIncr`).
    pub fn incremented(self, counter: u8) -> u8 {
        if counter == u8::MAX {
            return counter;
        }
        let base = f64::from(counter.saturating_sub(LFU_INIT_VAL));
        let odds = 1.0 / (base * f64::from(self.log_factor) + 1.0);
        // 53 random bits as a fraction in [0, 1).
        let roll = (crate::random::thread_u64() >> 11) as f64 / (1u64 << 53) as f64;
        if roll < odds {
            counter + 1
        } else {
            counter
        }
    }
}

/// The eviction settings, written by the server's configuration and read by every command.
#[derive(Debug)]
pub struct Settings {
    /// `maxmemory` in bytes; 0 turns eviction off.
    pub maxmemory: AtomicU64,
    /// `maxmemory-policy`, as its index in [`Policy::ALL`].
    policy: AtomicU8,
    /// `maxmemory-samples`: keys sampled per database to refill the pool.
    pub samples: AtomicU32,
    /// `maxmemory-eviction-tenacity`: how long one call may work (see [`time_limit`]).
    pub tenacity: AtomicU32,
    /// `lfu-log-factor`.
    pub lfu_log_factor: AtomicU32,
    /// `lfu-decay-time`, in minutes.
    pub lfu_decay_time: AtomicU32,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            maxmemory: AtomicU64::new(0),
            policy: AtomicU8::new(0),
            samples: AtomicU32::new(5),
            tenacity: AtomicU32::new(10),
            lfu_log_factor: AtomicU32::new(10),
            lfu_decay_time: AtomicU32::new(1),
        }
    }
}

impl Settings {
    /// The policy in force.
    pub fn policy(&self) -> Policy {
        let index = usize::from(self.policy.load(Ordering::Relaxed));
        Policy::ALL
            .get(index)
            .copied()
            .unwrap_or(Policy::NoEviction)
    }

    /// Changes the policy.
    pub fn set_policy(&self, policy: Policy) {
        let index = Policy::ALL.iter().position(|&p| p == policy).unwrap_or(0);
        self.policy.store(index as u8, Ordering::Relaxed);
    }

    /// The LFU parameters, when an LFU policy is in force (accesses then count).
    pub fn lfu(&self) -> Option<Lfu> {
        if !self.policy().uses_lfu() {
            return None;
        }
        Some(self.lfu_params())
    }

    /// The LFU parameters, whatever the policy.
    pub fn lfu_params(&self) -> Lfu {
        Lfu {
            log_factor: self.lfu_log_factor.load(Ordering::Relaxed),
            decay_minutes: self.lfu_decay_time.load(Ordering::Relaxed),
        }
    }
}

/// How long one eviction call may work, from `maxmemory-eviction-tenacity` (Redis's
/// `evictionTimeLimitUs`): 50 µs a step up to 10, then 15% more a step, and no limit at 100.
pub fn time_limit(tenacity: u32) -> Option<Duration> {
    match tenacity {
        0..=10 => Some(Duration::from_micros(50 * u64::from(tenacity))),
        11..=99 => {
            let micros = 500.0 * 1.15f64.powi(tenacity as i32 - 10);
            Some(Duration::from_micros(micros as u64))
        }
        _ => None,
    }
}

/// What [`Engine::make_room`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Room {
    /// Memory is within `maxmemory` (or there is no limit).
    Enough,
    /// Still over, but the call ran out of time while it was evicting: commands go on.
    Evicting,
    /// Still over, and nothing (more) may be evicted: commands that may grow memory are
    /// refused.
    Exhausted,
}

/// A key the pool holds as a candidate, with its score (higher goes first).
#[derive(Debug)]
struct Candidate {
    score: u64,
    db: usize,
    key: CompactBytes,
}

/// What eviction keeps between calls, under one lock.
#[derive(Debug, Default)]
struct Pool {
    /// The best candidates seen, by ascending score: the best is last.
    candidates: Vec<Candidate>,
    /// When memory went over `maxmemory`, while it still is.
    over_since: Option<Instant>,
    /// The databases that had keys when last looked at, and when that was: summing every
    /// database's shard counts for every eviction would cost more than the eviction.
    dbs_with_keys: Vec<usize>,
    /// Unix ms; 0 before the first look.
    dbs_checked: u64,
}

/// How long, in ms, [`Pool::dbs_with_keys`] is trusted (a database that gains its first keys
/// waits this long to be sampled; one that loses its last is noticed at once).
const DBS_FRESH_FOR_MS: u64 = 100;

/// Eviction's state and counters.
#[derive(Debug, Default)]
pub struct Evictor {
    pool: Mutex<Pool>,
    /// Whether memory was over `maxmemory` at the last call: lets the calls that find memory
    /// within the limit skip the pool's lock.
    over: AtomicBool,
    /// Keys deleted to free memory (INFO's `evicted_keys`).
    pub evicted_keys: AtomicU64,
    /// Microseconds spent over `maxmemory`, in spells that have ended.
    exceeded_micros: AtomicU64,
    /// The next database the random policies take a key from.
    next_db: AtomicUsize,
}

impl Evictor {
    /// Zeroes the counters (`CONFIG RESETSTAT`).
    pub fn reset_stats(&self) {
        self.evicted_keys.store(0, Ordering::Relaxed);
        self.exceeded_micros.store(0, Ordering::Relaxed);
        let mut pool = self.pool.lock();
        if pool.over_since.is_some() {
            pool.over_since = Some(Instant::now());
        }
    }

    /// Milliseconds spent over `maxmemory`: in all (`total_eviction_exceeded_time`) and in the
    /// current spell (`current_eviction_exceeded_time`).
    pub fn exceeded_ms(&self) -> (u64, u64) {
        let current = self
            .pool
            .lock()
            .over_since
            .map_or(0, |since| since.elapsed().as_micros() as u64);
        let total = self.exceeded_micros.load(Ordering::Relaxed) + current;
        (total / 1000, current / 1000)
    }
}

impl Engine {
    /// The LFU parameters when an LFU policy counts accesses, for [`crate::Entry::touch`].
    pub fn lfu(&self) -> Option<Lfu> {
        self.config.eviction.lfu()
    }

    /// Evicts keys until `used()` (the bytes in use) is within `maxmemory`, the policy or the
    /// keyspace allows no more, or the time limit runs out. Must be called with no shard lock
    /// held.
    pub fn make_room(&self, used: &dyn Fn() -> u64) -> Room {
        let settings = &self.config.eviction;
        let max = settings.maxmemory.load(Ordering::Relaxed);
        if max == 0
            || self.config.replica.load(Ordering::Relaxed)
            || (used() <= max && !self.evictor.over.load(Ordering::Relaxed))
        {
            return Room::Enough;
        }
        // One thread evicts at a time. Another that finds it busy lets its command through:
        // the evicting thread works until memory is within the limit, which covers the
        // other's write too, and waiting would stall the other thread's clients for nothing.
        let Some(mut pool) = self.evictor.pool.try_lock() else {
            return Room::Evicting;
        };
        let room = self.evict_until(&mut pool, max, used);
        match (room, pool.over_since) {
            (Room::Enough, Some(since)) => {
                let micros = since.elapsed().as_micros() as u64;
                self.evictor
                    .exceeded_micros
                    .fetch_add(micros, Ordering::Relaxed);
                pool.over_since = None;
            }
            (Room::Evicting | Room::Exhausted, None) => pool.over_since = Some(Instant::now()),
            _ => {}
        }
        self.evictor
            .over
            .store(room != Room::Enough, Ordering::Relaxed);
        room
    }

    fn evict_until(&self, pool: &mut Pool, max: u64, used: &dyn Fn() -> u64) -> Room {
        let settings = &self.config.eviction;
        let policy = settings.policy();
        if used() <= max {
            return Room::Enough;
        }
        if policy == Policy::NoEviction {
            return Room::Exhausted;
        }
        let limit = time_limit(settings.tenacity.load(Ordering::Relaxed));
        let samples = settings.samples.load(Ordering::Relaxed).max(1) as usize;
        let started = Instant::now();
        let mut evicted = 0u64;
        let now = crate::now_ms();
        while used() > max {
            let Some((db, key)) = self.pick_victim(pool, policy, samples, now) else {
                return Room::Exhausted;
            };
            if self.evict(db, &key, policy, now) {
                evicted += 1;
                // Redis looks at the clock every 16 keys.
                if evicted % 16 == 0 && limit.is_some_and(|limit| started.elapsed() > limit) {
                    return Room::Evicting;
                }
            }
        }
        Room::Enough
    }

    /// The next key to evict under `policy`, or `None` when no key qualifies.
    fn pick_victim(
        &self,
        pool: &mut Pool,
        policy: Policy,
        samples: usize,
        now: u64,
    ) -> Option<(usize, CompactBytes)> {
        let keyspace = &self.keyspace;
        if policy.random() {
            return self.pick_random(pool, policy, now);
        }
        let lfu = self.config.eviction.lfu_params();
        let score = |entry: &crate::Entry| -> u64 {
            match policy {
                Policy::AllKeysLfu | Policy::VolatileLfu => {
                    255 - u64::from(entry.access().frequency(now, lfu))
                }
                Policy::VolatileTtl => u64::MAX - entry.expires_at().unwrap_or(u64::MAX),
                _ => entry.access().idle_seconds(now),
            }
        };
        // Refill the pool until it holds a key that is still there (Redis's loop in
        // `performEvictions`), giving up when a refill finds no key at all.
        let mut fresh = false;
        loop {
            let mut sampled = 0;
            pool.refresh_dbs(keyspace, now, fresh);
            for &db in &pool.dbs_with_keys {
                let candidates = &mut pool.candidates;
                let mut add = |key: &[u8], entry: &crate::Entry| {
                    offer(candidates, score(entry), db, key);
                };
                sampled += match policy.volatile_only() {
                    true => {
                        let soonest = policy == Policy::VolatileTtl;
                        keyspace.sample_volatile(db, samples, soonest, &mut add)
                    }
                    false => keyspace.sample(db, samples, &mut add),
                };
            }
            if sampled == 0 {
                if !fresh {
                    // The list of databases may be stale: look again before giving up.
                    fresh = true;
                    continue;
                }
                pool.candidates.clear();
                return None;
            }
            if let Some(best) = pool.candidates.pop() {
                return Some((best.db, best.key));
            }
        }
    }

    /// A random key (with a TTL, for `volatile-random`), taking the databases in turn.
    fn pick_random(
        &self,
        pool: &mut Pool,
        policy: Policy,
        now: u64,
    ) -> Option<(usize, CompactBytes)> {
        let keyspace = &self.keyspace;
        for fresh in [false, true] {
            pool.refresh_dbs(keyspace, now, fresh);
            let dbs = &pool.dbs_with_keys;
            for _ in 0..dbs.len() {
                let turn = self.evictor.next_db.fetch_add(1, Ordering::Relaxed);
                let db = dbs[turn % dbs.len()];
                let mut picked = None;
                let mut take = |key: &[u8], _: &crate::Entry| {
                    picked = Some((db, CompactBytes::new(key)));
                };
                match policy.volatile_only() {
                    true => keyspace.sample_volatile(db, 1, false, &mut take),
                    false => keyspace.sample(db, 1, &mut take),
                };
                if picked.is_some() {
                    return picked;
                }
            }
        }
        None
    }

    /// Deletes `key` of `db` to free memory, if it is still there (and, for a volatile
    /// policy, still has a TTL); whether it did.
    fn evict(&self, db: usize, key: &[u8], policy: Policy, now: u64) -> bool {
        let keyspace = &self.keyspace;
        let mut locked = keyspace.lock(LockPlan {
            write: true,
            shards: smallvec::smallvec![(db, keyspace.shard_of(key))],
        });
        let Some(entry) = locked.entry_raw(db, key) else {
            return false;
        };
        if policy.volatile_only() && entry.expires_at().is_none() {
            return false;
        }
        // A key past its TTL goes as expired (its own event), which frees the same memory.
        let Ok(Some(entry)) = locked.remove(db, key, now) else {
            return true;
        };
        self.evictor.evicted_keys.fetch_add(1, Ordering::Relaxed);
        keyspace.signal_modified(&locked, db, key, None);
        keyspace.record_deletion(locked.epoch(), db, key);
        keyspace
            .events
            .publish(EventClass::EVICTED, "evicted", db, key);
        drop(locked);
        // Freed after the lock (a large value takes a while to free), or in the background
        // with `lazyfree-lazy-eviction yes`.
        keyspace
            .lazyfree
            .dispose(entry.value, &keyspace.lazyfree.on_eviction);
        true
    }
}

impl Pool {
    /// Refreshes [`Pool::dbs_with_keys`] if it is older than [`DBS_FRESH_FOR`] at `now`
    /// (Unix ms), or if `fresh` asks for it.
    fn refresh_dbs(&mut self, keyspace: &crate::Keyspace, now: u64, fresh: bool) {
        let stale = now.saturating_sub(self.dbs_checked) > DBS_FRESH_FOR_MS;
        if fresh || stale || self.dbs_checked == 0 {
            self.dbs_with_keys.clear();
            let with_keys = (0..keyspace.databases()).filter(|&db| keyspace.db_len(db) > 0);
            self.dbs_with_keys.extend(with_keys);
            self.dbs_checked = now.max(1);
        }
    }
}

/// Considers `key` of `db` with `score` for `candidates` (ascending by score, at most
/// [`POOL_SIZE`]): kept if there is room or it beats the worst candidate (which then goes).
fn offer(candidates: &mut Vec<Candidate>, score: u64, db: usize, key: &[u8]) {
    // Judged before looking for the key in the pool: most samples lose here, and a key that
    // is in the pool already under an older score stays there as it was.
    if candidates.len() == POOL_SIZE && candidates[0].score >= score {
        return;
    }
    if let Some(same) = candidates
        .iter()
        .position(|c| c.db == db && c.key.as_bytes() == key)
    {
        candidates.remove(same);
    }
    if candidates.len() == POOL_SIZE {
        candidates.remove(0);
    }
    let at = candidates.partition_point(|c| c.score <= score);
    candidates.insert(
        at,
        Candidate {
            score,
            db,
            key: CompactBytes::new(key),
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::tests::{record_events, Client};
    use crate::{Access, Entry, Value};
    use kv_resp::Frame;

    /// A gauge that charges 100 bytes a key, so limits read as key counts.
    fn gauge(engine: &Engine) -> impl Fn() -> u64 + '_ {
        move || {
            let keyspace = &engine.keyspace;
            (0..keyspace.databases())
                .map(|db| keyspace.db_len(db) as u64 * 100)
                .sum()
        }
    }

    /// A client with `policy`, `maxmemory` of `keys` keys (see [`gauge`]), and samples enough
    /// to see every key (so the approximated policies choose exactly).
    fn client(policy: Policy, keys: u64) -> Client {
        let c = Client::new();
        let settings = &c.engine.config.eviction;
        settings.set_policy(policy);
        settings.maxmemory.store(keys * 100, Ordering::Relaxed);
        settings.samples.store(64, Ordering::Relaxed);
        // No time limit: a debug build is slow, and the tests check where eviction ends.
        settings.tenacity.store(100, Ordering::Relaxed);
        c
    }

    fn make_room(c: &Client) -> Room {
        c.engine.make_room(&gauge(&c.engine))
    }

    fn exists(c: &mut Client, key: &str) -> bool {
        c.cmd(&format!("EXISTS {key}")) == Frame::Integer(1)
    }

    /// Which of `k0`..`k{n-1}` are gone.
    fn gone(c: &mut Client, n: usize) -> Vec<usize> {
        (0..n).filter(|i| !exists(c, &format!("k{i}"))).collect()
    }

    /// Stores `key` with an access record of `access`.
    fn put_with(c: &Client, key: &str, access: Access) {
        let entry = Entry::new(Value::Str(crate::StrValue::new(b"v")), 0);
        entry
            .access
            .store(access.cell().into_inner(), Ordering::Relaxed);
        c.put(0, key.as_bytes(), entry);
    }

    #[test]
    fn policy_names_round_trip() {
        for policy in Policy::ALL {
            assert_eq!(Policy::from_name(policy.name()), Some(policy));
            assert_eq!(
                Policy::from_name(&policy.name().to_uppercase()),
                Some(policy)
            );
        }
        assert_eq!(Policy::from_name("allkeys"), None);
        let settings = Settings::default();
        assert_eq!(settings.policy(), Policy::NoEviction);
        assert_eq!(settings.lfu(), None);
        settings.set_policy(Policy::VolatileLfu);
        assert_eq!(settings.policy(), Policy::VolatileLfu);
        assert!(settings.lfu().is_some());
    }

    #[test]
    fn lfu_counters_decay_by_the_minute_and_grow_logarithmically() {
        let lfu = Lfu {
            log_factor: 10,
            decay_minutes: 1,
        };
        // Minutes are counted on the clock, as Redis's minute clock does: 59 s across a minute
        // boundary is one minute.
        assert_eq!(lfu.decayed(10, 59, 118), 9);
        assert_eq!(lfu.decayed(10, 0, 59), 10);
        assert_eq!(lfu.decayed(10, 0, 600), 0);
        assert_eq!(
            lfu.decayed(10, 600, 0),
            10,
            "a clock going back decays nothing"
        );
        let slow = Lfu {
            decay_minutes: 2,
            ..lfu
        };
        assert_eq!(slow.decayed(10, 0, 240), 8);
        let never = Lfu {
            decay_minutes: 0,
            ..lfu
        };
        assert_eq!(never.decayed(10, 0, 1_000_000), 10);
        // Up to the starting value every access counts.
        assert_eq!(lfu.incremented(0), 1);
        assert_eq!(lfu.incremented(LFU_INIT_VAL), LFU_INIT_VAL + 1);
        assert_eq!(lfu.incremented(255), 255);
        // A log factor of 0 counts every access; 10 makes a high counter rarely move.
        let every = Lfu {
            log_factor: 0,
            decay_minutes: 1,
        };
        assert_eq!(every.incremented(200), 201);
        let grown = (0..1000).filter(|_| lfu.incremented(200) == 201).count();
        assert!(grown < 10, "{grown} of 1000 accesses counted at 200");
    }

    #[test]
    fn time_limits_follow_tenacity() {
        assert_eq!(time_limit(0), Some(Duration::ZERO));
        assert_eq!(time_limit(10), Some(Duration::from_micros(500)));
        assert_eq!(time_limit(11), Some(Duration::from_micros(575)));
        assert_eq!(time_limit(100), None);
    }

    #[test]
    fn no_limit_or_room_enough_does_nothing() {
        let mut c = client(Policy::AllKeysRandom, 0);
        c.cmd("MSET a 1 b 2");
        assert_eq!(make_room(&c), Room::Enough);
        c.engine
            .config
            .eviction
            .maxmemory
            .store(200, Ordering::Relaxed);
        assert_eq!(make_room(&c), Room::Enough);
        assert_eq!(c.int("DBSIZE"), 2);
    }

    #[test]
    fn random_eviction_brings_memory_under_the_limit() {
        let mut c = client(Policy::AllKeysRandom, 30);
        for i in 0..100 {
            c.cmd(&format!("SET k{i} v"));
        }
        c.cmd("SELECT 3");
        for i in 0..20 {
            c.cmd(&format!("SET k{i} v"));
        }
        assert_eq!(make_room(&c), Room::Enough);
        let left = c.int("DBSIZE") + {
            c.cmd("SELECT 0");
            c.int("DBSIZE")
        };
        assert_eq!(left, 30);
        let evicted = c.engine.evictor.evicted_keys.load(Ordering::Relaxed);
        assert_eq!(evicted, 90);
        // Both databases gave keys: the random policy takes them in turn.
        assert!(c.int("DBSIZE") < 100);
    }

    #[test]
    fn noeviction_and_an_empty_keyspace_are_exhausted() {
        let mut c = client(Policy::NoEviction, 1);
        c.cmd("MSET a 1 b 2");
        assert_eq!(make_room(&c), Room::Exhausted);
        assert_eq!(c.int("DBSIZE"), 2);
        // Over the limit with nothing left to take (the gauge never reaches zero).
        let c = Client::new();
        let settings = &c.engine.config.eviction;
        settings.set_policy(Policy::AllKeysLru);
        settings.maxmemory.store(1, Ordering::Relaxed);
        assert_eq!(c.engine.make_room(&|| 1000), Room::Exhausted);
        let (total, current) = c.engine.evictor.exceeded_ms();
        assert!(total >= current);
    }

    #[test]
    fn volatile_policies_spare_persistent_keys() {
        for policy in [
            Policy::VolatileLru,
            Policy::VolatileLfu,
            Policy::VolatileRandom,
            Policy::VolatileTtl,
        ] {
            let mut c = client(policy, 25);
            for i in 0..20 {
                c.cmd(&format!("SET keep{i} v"));
                c.cmd(&format!("SET temp{i} v EX {}", 1000 + i));
            }
            assert_eq!(make_room(&c), Room::Enough, "{policy:?}");
            assert_eq!(c.int("DBSIZE"), 25, "{policy:?}");
            assert!((0..20).all(|i| exists(&mut c, &format!("keep{i}"))));
            // Below what the persistent keys need: every volatile key goes, then nothing can.
            c.engine
                .config
                .eviction
                .maxmemory
                .store(1000, Ordering::Relaxed);
            assert_eq!(make_room(&c), Room::Exhausted, "{policy:?}");
            assert_eq!(c.int("DBSIZE"), 20, "{policy:?}");
        }
    }

    #[test]
    fn volatile_ttl_takes_the_keys_closest_to_expiring() {
        let mut c = client(Policy::VolatileTtl, 15);
        for i in 0..20 {
            c.cmd(&format!("SET k{i} v EX {}", 100 + i));
        }
        assert_eq!(make_room(&c), Room::Enough);
        assert_eq!(gone(&mut c, 20), [0, 1, 2, 3, 4]);
    }

    #[test]
    fn lru_takes_the_longest_idle_keys() {
        let c = client(Policy::AllKeysLru, 15);
        let now = crate::now_ms();
        for i in 0..20u64 {
            // k0 is the longest idle.
            put_with(&c, &format!("k{i}"), Access::new(now - (40 - i) * 1000));
        }
        let mut c = c;
        assert_eq!(make_room(&c), Room::Enough);
        assert_eq!(gone(&mut c, 20), [0, 1, 2, 3, 4]);
    }

    #[test]
    fn lfu_takes_the_least_used_keys_and_counts_accesses() {
        let mut c = client(Policy::AllKeysLfu, 15);
        for i in 0..20 {
            c.cmd(&format!("SET k{i} v"));
        }
        // A new key starts at 5; reads count (with every access counted at log factor 0).
        assert_eq!(c.cmd("OBJECT FREQ k0"), Frame::Integer(5));
        c.engine
            .config
            .eviction
            .lfu_log_factor
            .store(0, Ordering::Relaxed);
        for i in 5..20 {
            for _ in 0..3 {
                c.cmd(&format!("GET k{i}"));
            }
        }
        assert_eq!(c.cmd("OBJECT FREQ k5"), Frame::Integer(8));
        assert_eq!(make_room(&c), Room::Enough);
        assert_eq!(gone(&mut c, 20), [0, 1, 2, 3, 4]);
    }

    #[test]
    fn an_eviction_publishes_counts_and_fails_watchers() {
        let mut c = client(Policy::AllKeysLru, 0);
        let seen = record_events(&c, "Ee");
        c.cmd("SET w v");
        c.cmd("WATCH w");
        let engine = &c.engine;
        engine.config.eviction.maxmemory.store(1, Ordering::Relaxed);
        assert_eq!(engine.make_room(&gauge(engine)), Room::Enough);
        assert_eq!(*seen.lock(), vec!["0 evicted w".to_string()]);
        assert_eq!(engine.evictor.evicted_keys.load(Ordering::Relaxed), 1);
        let mut plan = LockPlan::default();
        engine.watched_shards(&c.session, &mut plan);
        let locked = engine.keyspace.lock(plan);
        assert!(engine.watch_failed(&c.session, &locked, crate::now_ms()));
    }

    #[test]
    fn object_freq_and_idletime_answer_per_policy() {
        let mut c = client(Policy::AllKeysLru, 0);
        c.cmd("SET k v");
        assert!(matches!(c.cmd("OBJECT FREQ k"), Frame::Error(_)));
        assert_eq!(c.cmd("OBJECT IDLETIME k"), Frame::Integer(0));
        c.engine.config.eviction.set_policy(Policy::VolatileLfu);
        assert_eq!(c.cmd("OBJECT FREQ k"), Frame::Integer(5));
        assert!(matches!(c.cmd("OBJECT IDLETIME k"), Frame::Error(_)));
        assert_eq!(c.cmd("OBJECT FREQ missing"), Frame::NullBulk);
    }

    #[test]
    fn a_call_stops_at_its_time_limit_and_the_next_goes_on() {
        let mut c = client(Policy::AllKeysRandom, 10);
        for i in 0..100 {
            c.cmd(&format!("SET k{i} v"));
        }
        // No time at all: Redis checks the clock every 16 keys, so 16 go per call.
        let tenacity = |c: &Client, value| {
            c.engine
                .config
                .eviction
                .tenacity
                .store(value, Ordering::Relaxed)
        };
        tenacity(&c, 0);
        assert_eq!(make_room(&c), Room::Evicting);
        assert_eq!(c.int("DBSIZE"), 84);
        tenacity(&c, 100);
        assert_eq!(make_room(&c), Room::Enough);
        assert_eq!(c.int("DBSIZE"), 10);
    }

    #[test]
    fn samples_are_distinct_and_bounded_by_the_keys_there_are() {
        let mut c = Client::new();
        c.cmd("MSET a 1 b 2 c 3");
        c.cmd("SET t 1 EX 100");
        let keyspace = &c.engine.keyspace;
        let mut seen = Vec::new();
        assert_eq!(keyspace.sample(0, 10, |k, _| seen.push(k.to_vec())), 4);
        seen.sort();
        assert_eq!(seen, [b"a", b"b", b"c", b"t"]);
        assert_eq!(keyspace.sample(1, 10, |_, _| {}), 0);
        let mut volatile = Vec::new();
        let found = keyspace.sample_volatile(0, 10, false, |k, _| volatile.push(k.to_vec()));
        assert_eq!((found, volatile), (1, vec![b"t".to_vec()]));
        for i in 0..200 {
            c.cmd(&format!("SET k{i} v"));
        }
        let keyspace = &c.engine.keyspace;
        let mut some = Vec::new();
        assert_eq!(keyspace.sample(0, 5, |k, _| some.push(k.to_vec())), 5);
        some.sort();
        some.dedup();
        assert_eq!(some.len(), 5);
    }
}
