//! What a key holds: a typed value and its metadata.

use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::zset::ZSetValue;

pub use crate::str_value::StrValue;

/// A list: its elements in order, packed back to back in chunks of bytes (see
/// [`crate::packed_list`]): O(1) pushes and pops at both ends, about 2 bytes of overhead per
/// short element.
pub type ListValue = crate::packed_list::PackedList;

pub use crate::hash_value::HashValue;

pub use crate::set_value::SetValue;

/// A stored value. One keyspace holds every type, so a command finds the wrong type as a
/// `WRONGTYPE` error rather than as a missing key.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string, also used for integers, floats and bitmaps, as in Redis.
    Str(StrValue),
    /// A list. Never empty: the key goes when its last element does.
    List(ListValue),
    /// A hash, small (a listpack) or large (a hash table). Never empty. Its fields may have
    /// expiry times of their own (see [`HashValue`]). Not boxed: its 32 bytes fit beside the
    /// value's tag, so a small hash costs one allocation (or none).
    Hash(HashValue),
    /// A set, an intset or a hash table. Never empty. Not boxed, for the same reason as a
    /// hash: a few small integers then cost no allocation at all.
    Set(SetValue),
    /// A sorted set, boxed to keep every value 40 bytes. Never empty.
    ZSet(Box<ZSetValue>),
}

impl Value {
    /// The name `TYPE` reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
        }
    }

    /// How many steps freeing the value takes, as Redis's `lazyfreeGetFreeEffort` counts them:
    /// a list's chunks (Redis: its quicklist nodes), the members of a large hash, set or
    /// sorted set, and 1 for a string or a small collection (one allocation, or a few).
    pub fn free_effort(&self) -> usize {
        match self {
            Value::List(list) => list.chunk_count(),
            Value::Hash(hash) if !hash.is_small() => hash.len(),
            Value::Set(set) if !set.is_intset() => set.len(),
            Value::ZSet(zset) if !zset.is_small() => zset.len(),
            _ => 1,
        }
    }

    /// The name `OBJECT ENCODING` reports. A string's name is the one Redis would give it (by
    /// its content, or by how it was last written: see [`StrValue::encoding`]); a collection's
    /// names the form it is in, which changes only on the way up, as in Redis, so it follows
    /// the write history just as Redis's does.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding(),
            // Redis 7.0 keeps every list in a quicklist.
            Value::List(_) => "quicklist",
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
        }
    }
}

/// Redis shares one object between all keys for the integers below this
/// (`OBJ_SHARED_INTEGERS`).
const SHARED_INTEGERS: i64 = 10_000;

/// The reference count Redis reports for such a shared object (`OBJ_SHARED_REFCOUNT`).
const SHARED_REFCOUNT: i64 = i32::MAX as i64;

impl Value {
    /// The reference count Redis would report for this value (`OBJECT REFCOUNT`, `DEBUG
    /// OBJECT`): its shared refcount for a small integer string, 1 otherwise. kv shares
    /// nothing; the number is what tools expect.
    pub fn refcount(&self) -> i64 {
        match self {
            Value::Str(s) => {
                let shared = self.encoding() == "int"
                    && kv_resp::parse_i64(s).is_some_and(|n| (0..SHARED_INTEGERS).contains(&n));
                if shared {
                    SHARED_REFCOUNT
                } else {
                    1
                }
            }
            Value::List(_) | Value::Hash(_) | Value::Set(_) | Value::ZSet(_) => 1,
        }
    }

    /// Heap bytes the value owns beyond its own 40 bytes, for `MEMORY USAGE`: exact for a
    /// string, and for a collection its structures' capacities plus its elements' bytes
    /// estimated from `samples` of them (0: all; see [`crate::memory`]).
    pub fn heap_size(&self, samples: usize) -> usize {
        match self {
            Value::Str(s) => s.heap_size(),
            Value::List(list) => list.heap_size(samples),
            Value::Hash(hash) => hash.heap_size(samples),
            Value::Set(set) => set.heap_size(samples),
            Value::ZSet(zset) => std::mem::size_of::<ZSetValue>() + zset.heap_size(),
        }
    }
}

/// A value with the metadata kept for its key.
#[derive(Debug)]
pub struct Entry {
    /// The value.
    pub value: Value,
    /// Absolute expiry time in Unix milliseconds, if the key is volatile. Only the keyspace
    /// changes it, so that its expiry index stays in step.
    pub(crate) expires_at: Option<NonZeroU64>,
    /// When the key was last used and how often, for eviction (LRU and LFU), `OBJECT
    /// IDLETIME` and `OBJECT FREQ`; see [`Access`]. Atomic so that reads, which hold only a
    /// shared lock, can record themselves as Redis's lookups do.
    pub(crate) access: AtomicU64,
}

/// The bit of an entry's access word that records which snapshot has the entry: the parity
/// of that snapshot's epoch (see the keyspace's `snapshot` module). Not part of [`Access`].
pub(crate) const SNAPSHOT_MARK: u64 = 1 << 63;

/// The access bookkeeping of an entry, packed in one word: the last access time in Unix
/// seconds in the low 32 bits (Redis's LRU clock also ticks in seconds) and the LFU counter in
/// the next 8 (the word's top bit is the entry's snapshot mark, kept apart). Redis keeps, besides the counter, the minute of its last decay; every access
/// decays the counter first, so that minute is the last access time, and one clock serves
/// both policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access(u64);

impl Access {
    /// A key created at `now` (Unix ms): accessed now, with Redis's starting LFU count (so a
    /// new key is not the first to go under an LFU policy).
    pub fn new(now: u64) -> Access {
        Access::from_parts(seconds(now), crate::evict::LFU_INIT_VAL)
    }

    /// The word as an entry stores it.
    pub(crate) fn cell(self) -> AtomicU64 {
        AtomicU64::new(self.0)
    }

    fn from_parts(seconds: u32, counter: u8) -> Access {
        Access(u64::from(seconds) | u64::from(counter) << 32)
    }

    /// The last access time, in Unix seconds.
    pub fn seconds(self) -> u32 {
        self.0 as u32
    }

    /// The LFU counter as last stored (not decayed).
    pub fn counter(self) -> u8 {
        (self.0 >> 32) as u8
    }

    /// Whole seconds since the last access, at `now` (Unix ms).
    pub fn idle_seconds(self, now: u64) -> u64 {
        u64::from(seconds(now).saturating_sub(self.seconds()))
    }

    /// The LFU counter at `now` (Unix ms), decayed for the time since the last access
    /// (Redis's `LFUDecrAndReturn`).
    pub fn frequency(self, now: u64, lfu: crate::evict::Lfu) -> u8 {
        lfu.decayed(self.counter(), self.seconds(), seconds(now))
    }
}

/// Unix seconds of `now` (Unix ms), saturating in 2106.
fn seconds(now: u64) -> u32 {
    u32::try_from(now / 1000).unwrap_or(u32::MAX)
}

impl Clone for Entry {
    fn clone(&self) -> Entry {
        Entry {
            value: self.value.clone(),
            expires_at: self.expires_at,
            access: AtomicU64::new(self.access.load(Ordering::Relaxed)),
        }
    }
}

/// Entries are equal when their values and expiry are; access times are bookkeeping.
impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        self.value == other.value && self.expires_at == other.expires_at
    }
}

impl Entry {
    /// A persistent entry holding `value`, created at `now`.
    pub fn new(value: Value, now: u64) -> Entry {
        Entry {
            value,
            expires_at: None,
            access: Access::new(now).cell(),
        }
    }

    /// This entry, to expire at `at` (absolute Unix milliseconds) if some: for an entry about
    /// to be inserted, whose insertion indexes the expiry.
    pub fn expiring_at(mut self, at: Option<u64>) -> Entry {
        self.expires_at = at.and_then(NonZeroU64::new);
        self
    }

    /// The entry's access bookkeeping.
    pub fn access(&self) -> Access {
        Access(self.access.load(Ordering::Relaxed) & !SNAPSHOT_MARK)
    }

    /// The entry's snapshot mark: [`SNAPSHOT_MARK`] or 0.
    pub(crate) fn snapshot_mark(&self) -> u64 {
        self.access.load(Ordering::Relaxed) & SNAPSHOT_MARK
    }

    /// Sets the snapshot mark to `mark` ([`SNAPSHOT_MARK`] or 0), keeping the access
    /// bookkeeping: atomically, since readers may record an access meanwhile.
    pub(crate) fn set_snapshot_mark(&self, mark: u64) {
        let _ = self
            .access
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |word| {
                (word & SNAPSHOT_MARK != mark).then_some((word & !SNAPSHOT_MARK) | mark)
            });
    }

    /// [`Entry::set_snapshot_mark`] for an entry not yet shared: a plain store.
    pub(crate) fn with_snapshot_mark(&mut self, mark: u64) {
        let word = self.access.get_mut();
        *word = (*word & !SNAPSHOT_MARK) | mark;
    }

    /// Stores `access`, keeping the snapshot mark; a store that loses a race with another
    /// update of the word is dropped (one access record less, never a lost mark).
    fn store_access(&self, seen: u64, access: Access) {
        let _ = self.access.compare_exchange(
            seen,
            access.0 | (seen & SNAPSHOT_MARK),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// Records an access at `now`: the time, and under an LFU policy (`lfu` given) the
    /// counter, decayed then incremented with Redis's logarithmic odds.
    pub fn touch(&self, now: u64, lfu: Option<crate::evict::Lfu>) {
        let seen = self.access.load(Ordering::Relaxed);
        let old = Access(seen & !SNAPSHOT_MARK);
        let counter = match lfu {
            Some(lfu) => lfu.incremented(old.frequency(now, lfu)),
            None => old.counter(),
        };
        let new = Access::from_parts(seconds(now), counter);
        // Most reads land in the second of the previous one: not writing keeps the line shared.
        if new != old {
            self.store_access(seen, new);
        }
    }

    /// Sets the access time to `idle` seconds before `now` (RESTORE ... IDLETIME).
    pub fn set_idle(&self, now: u64, idle: u64) {
        let at = u64::from(seconds(now)).saturating_sub(idle);
        let at = u32::try_from(at).unwrap_or(0);
        let seen = self.access.load(Ordering::Relaxed);
        let counter = Access(seen & !SNAPSHOT_MARK).counter();
        self.store_access(seen, Access::from_parts(at, counter));
    }

    /// Sets the LFU counter to `counter`, as of `now` (RESTORE ... FREQ).
    pub fn set_frequency(&self, now: u64, counter: u8) {
        let seen = self.access.load(Ordering::Relaxed);
        self.store_access(seen, Access::from_parts(seconds(now), counter));
    }

    /// The absolute expiry time in Unix milliseconds, if any.
    pub fn expires_at(&self) -> Option<u64> {
        self.expires_at.map(NonZeroU64::get)
    }

    /// Whether the entry is logically gone at `now`: its own time has come, or it is a hash
    /// whose every field has expired (Redis deletes such a hash on first access, so no command
    /// can tell it apart from a missing key).
    pub fn is_expired(&self, now: u64) -> bool {
        self.key_expired(now) || matches!(&self.value, Value::Hash(h) if h.all_expired(now))
    }

    /// Whether the key's own expiry time has come (field expiry aside).
    pub fn key_expired(&self, now: u64) -> bool {
        self.expires_at.is_some_and(|at| at.get() <= now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The per-key memory figure in BENCHMARKS.md rests on these sizes: a new type must not
    /// grow every value (box it instead).
    #[test]
    fn values_stay_small() {
        assert_eq!(std::mem::size_of::<Value>(), 40);
        assert_eq!(std::mem::size_of::<Entry>(), 56);
        // Hashes and sets live in the value itself, so they must fit beside its tag.
        assert_eq!(std::mem::size_of::<HashValue>(), 32);
        assert_eq!(std::mem::size_of::<SetValue>(), 32);
    }
}
