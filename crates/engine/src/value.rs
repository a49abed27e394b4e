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

    /// The name `OBJECT ENCODING` reports. A string's name is the one Redis would pick for
    /// its content (kv stores strings one way); a collection's names the form it is in, which
    /// changes only on the way up, as in Redis, so it follows the write history just as
    /// Redis's does.
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
        // Hashes and sets live in the value itself, so they must fit beside its tag.
        assert_eq!(std::mem::size_of::<HashValue>(), 32);
        assert_eq!(std::mem::size_of::<SetValue>(), 32);
    }
}
