//! What a key holds: a typed value and its metadata.

use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::zset::ZSetValue;
use crate::CompactBytes;

/// A string value: up to 38 bytes inline, so a value and its key share one allocation.
pub type StrValue = CompactBytes<38>;

/// A list: its elements in order, packed back to back in chunks of bytes (see
/// [`crate::packed_list`]): O(1) pushes and pops at both ends, about 2 bytes of overhead per
/// short element.
pub type ListValue = crate::packed_list::PackedList;

pub use crate::hash_value::HashValue;

/// A set of members: a hash set with O(1) random picks (SPOP, SRANDMEMBER), seeded randomly
/// because members come from clients.
pub type SetValue = crate::indexed::IndexedSet;

/// A stored value. One keyspace holds every type, so a command finds the wrong type as a
/// `WRONGTYPE` error rather than as a missing key.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string, also used for integers, floats and bitmaps, as in Redis.
    Str(StrValue),
    /// A list. Never empty: the key goes when its last element does.
    List(ListValue),
    /// A hash, boxed to keep every value 40 bytes. Never empty. Its fields may have expiry
    /// times of their own (see [`HashValue`]).
    Hash(Box<HashValue>),
    /// A set, boxed to keep every value 40 bytes. Never empty.
    Set(Box<SetValue>),
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

    /// The name `OBJECT ENCODING` reports. kv's representations differ from Redis's; the names
    /// are the ones Redis would report for the same content, which is what tools expect.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => {
                if s.len() <= 20 && kv_resp::parse_i64(s).is_some() {
                    "int"
                } else if s.len() <= 44 {
                    "embstr"
                } else {
                    "raw"
                }
            }
            // Redis 7.0 keeps every list in a quicklist.
            Value::List(_) => "quicklist",
            // Redis 7.4 keeps a small hash with field TTLs in a listpack of triplets (field,
            // value, expiry), which it names `listpackex`.
            Value::Hash(h) => match (is_compact_hash(h), h.has_ttls()) {
                (true, false) => "listpack",
                (true, true) => "listpackex",
                (false, _) => "hashtable",
            },
            // Redis 7.0 has no listpack sets: an intset, else a hash table.
            Value::Set(s) => {
                if is_intset(s) {
                    "intset"
                } else {
                    "hashtable"
                }
            }
            // A sorted set reports the form it is in: it changes only on the way up, as in
            // Redis, so the name follows the write history just as Redis's does.
            Value::ZSet(z) => z.encoding(),
        }
    }
}

/// Whether Redis would keep `hash` in its compact (listpack) encoding, with its defaults
/// `hash-max-listpack-entries 512` and `hash-max-listpack-value 64`. Behaviour that depends on
/// the encoding (OBJECT ENCODING, HSCAN returning the whole hash) follows this.
pub(crate) fn is_compact_hash(hash: &HashValue) -> bool {
    hash.len() <= 512
        && hash
            .iter_stored()
            .all(|(f, v)| f.len() <= 64 && v.len() <= 64)
}

/// Whether Redis would keep `set` as an intset: every member an integer as Redis's
/// `string2ll` reads one, and at most `set-max-intset-entries` (512) of them. OBJECT ENCODING,
/// SSCAN returning the whole set, and the numeric order kv replies in all follow this.
pub(crate) fn is_intset(set: &SetValue) -> bool {
    set.len() <= 512 && set.iter().all(|m| is_intset_member(m))
}

/// Whether `member` is an integer an intset can hold (Redis's `string2ll`).
pub(crate) fn is_intset_member(member: &[u8]) -> bool {
    member.len() <= 20 && kv_resp::parse_i64(member).is_some()
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
}

/// A value with the metadata kept for its key.
#[derive(Debug)]
pub struct Entry {
    /// The value.
    pub value: Value,
    /// Absolute expiry time in Unix milliseconds, if the key is volatile. Only the keyspace
    /// changes it, so that its expiry index stays in step.
    pub(crate) expires_at: Option<NonZeroU64>,
    /// Last access time in milliseconds, for `OBJECT IDLETIME`. Atomic so that reads, which
    /// hold only a shared lock, can record themselves as Redis's lookups do.
    pub(crate) accessed_at: AtomicU64,
}

impl Clone for Entry {
    fn clone(&self) -> Entry {
        Entry {
            value: self.value.clone(),
            expires_at: self.expires_at,
            accessed_at: AtomicU64::new(self.accessed_at()),
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
    /// A persistent entry holding `value`.
    pub fn new(value: Value, now: u64) -> Entry {
        Entry {
            value,
            expires_at: None,
            accessed_at: AtomicU64::new(now),
        }
    }

    /// When the key was last read or written, in Unix milliseconds.
    pub fn accessed_at(&self) -> u64 {
        self.accessed_at.load(Ordering::Relaxed)
    }

    /// Records an access at `now`.
    pub fn touch(&self, now: u64) {
        self.accessed_at.store(now, Ordering::Relaxed);
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
        // Field expiry costs a hash without field TTLs one pointer (a `None`) in the box it
        // already has: 56 bytes instead of 48, the same 64-byte allocation with glibc.
        assert_eq!(
            std::mem::size_of::<HashValue>(),
            std::mem::size_of::<crate::hash_value::FieldMap>() + 8
        );
    }
}
