//! The hash value: its fields, and the expiry times of the fields that have one (Redis 7.4's
//! hash field expiration).
//!
//! A field whose time has come is *expired*: no command sees it, whatever it asks. It stays
//! stored until it is *reclaimed*, by a writer of the hash (which reclaims every expired field
//! on sight, as writers do with expired keys) or by the keyspace's active expiry. Readers hold
//! only a shared lock and cannot reclaim, so every read method here takes the time and skips
//! what has expired; [`HashValue::len`] is the one count that includes it.
//!
//! A hash without field TTLs keeps no expiry bookkeeping at all: `ttls` is `None` (one pointer,
//! inside the allocation the hash already has).

use std::collections::{BTreeSet, HashMap};
use std::hash::RandomState;

use crate::CompactBytes;

/// Field to value, with a randomly seeded hasher because fields come from clients, and O(1)
/// random picks for HRANDFIELD.
pub(crate) type FieldMap = crate::indexed::IndexedMap<CompactBytes>;

/// A hash: field to value, plus the expiry times of the fields that have one.
///
/// Invariant: `ttls`, when present, names only stored fields and is never empty, so "has field
/// TTLs" is `ttls.is_some()`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HashValue {
    fields: FieldMap,
    ttls: Option<Box<FieldTtls>>,
}

/// The expiry times of a hash's volatile fields, by field (for lookups) and in time order (for
/// the earliest one, and for reclaiming due fields oldest first without a scan).
#[derive(Debug, Clone, Default, PartialEq)]
struct FieldTtls {
    /// Field to absolute expiry time, Unix milliseconds.
    at: HashMap<CompactBytes, u64, RandomState>,
    /// `(expiry, field)` for every entry of `at`.
    order: BTreeSet<(u64, CompactBytes)>,
}

impl FieldTtls {
    /// Gives `field` the expiry time `at`, replacing any it had.
    fn set(&mut self, field: &[u8], at: u64) {
        match self.at.get_mut(field) {
            Some(old) if *old == at => {}
            Some(old) => {
                self.order.remove(&(*old, CompactBytes::new(field)));
                *old = at;
                self.order.insert((at, CompactBytes::new(field)));
            }
            None => {
                self.at.insert(CompactBytes::new(field), at);
                self.order.insert((at, CompactBytes::new(field)));
            }
        }
    }

    /// Removes `field`'s expiry time; returns it if there was one.
    fn clear(&mut self, field: &[u8]) -> Option<u64> {
        let at = self.at.remove(field)?;
        self.order.remove(&(at, CompactBytes::new(field)));
        Some(at)
    }

    /// How many fields are expired at `now`.
    fn expired(&self, now: u64) -> usize {
        self.order.iter().take_while(|(at, _)| *at <= now).count()
    }
}

impl HashValue {
    /// An empty hash.
    pub fn new() -> HashValue {
        HashValue::default()
    }

    /// Stored fields, expired ones not yet reclaimed included: the size that decides Redis's
    /// encoding. What a client may see is [`HashValue::live_len`].
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether nothing is stored (a hash key is deleted as soon as that happens).
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Fields that have not expired at `now`.
    pub fn live_len(&self, now: u64) -> usize {
        let expired = self.ttls.as_ref().map_or(0, |t| t.expired(now));
        self.fields.len() - expired
    }

    /// Whether `field` (which need not exist) has no expiry time at or before `now`. A field
    /// expires when its time is reached, as keys do in kv: at `now == at` it is gone.
    fn unexpired(&self, field: &[u8], now: u64) -> bool {
        self.ttls
            .as_ref()
            .and_then(|t| t.at.get(field))
            .is_none_or(|&at| at > now)
    }

    /// The value of `field` if it exists and has not expired at `now`.
    pub fn get(&self, field: &[u8], now: u64) -> Option<&CompactBytes> {
        self.fields
            .get(field)
            .filter(|_| self.unexpired(field, now))
    }

    /// Whether `field` exists and has not expired at `now`.
    pub fn contains(&self, field: &[u8], now: u64) -> bool {
        self.get(field, now).is_some()
    }

    /// The expiry time of `field` in Unix milliseconds, if it has one (expired or not).
    pub fn expires_at(&self, field: &[u8]) -> Option<u64> {
        self.ttls.as_ref().and_then(|t| t.at.get(field)).copied()
    }

    /// The fields not expired at `now`, with their values, in the map's order.
    pub fn iter(&self, now: u64) -> impl Iterator<Item = (&CompactBytes, &CompactBytes)> + '_ {
        self.fields
            .iter()
            .filter(move |(field, _)| self.unexpired(field, now))
    }

    /// Every stored field with its value, expired or not: for what depends on the stored
    /// content (the encoding Redis would pick, the DUMP payload).
    pub fn iter_stored(&self) -> impl Iterator<Item = (&CompactBytes, &CompactBytes)> + '_ {
        self.fields.iter()
    }

    /// The stored field at `position` (`0..len`) with its value, expired or not: random picks
    /// address fields this way.
    pub fn stored_at(&self, position: usize) -> Option<(&CompactBytes, &CompactBytes)> {
        self.fields.entry_at(position)
    }

    /// A uniformly random field not expired at `now`, with its value. O(1) draws; only when
    /// most stored fields are expired does it fall back to listing the live ones.
    pub(crate) fn random_live(
        &self,
        rng: &mut crate::random::Rng,
        now: u64,
    ) -> Option<(&CompactBytes, &CompactBytes)> {
        if self.ttls.is_none() {
            return self.fields.random(rng);
        }
        for _ in 0..16 {
            let (field, value) = self.fields.random(rng)?;
            if self.unexpired(field, now) {
                return Some((field, value));
            }
        }
        let live: Vec<_> = self.iter(now).collect();
        if live.is_empty() {
            return None;
        }
        live.get(rng.below(live.len())).copied()
    }

    /// `count` distinct fields not expired at `now` (all of them if fewer), chosen uniformly,
    /// with their values. O(count) for a hash without field TTLs; O(N) with them.
    pub(crate) fn distinct_live(
        &self,
        rng: &mut crate::random::Rng,
        count: usize,
        now: u64,
    ) -> Vec<(&CompactBytes, &CompactBytes)> {
        if self.ttls.is_none() {
            return self
                .fields
                .distinct_positions(rng, count)
                .into_iter()
                .filter_map(|p| self.fields.entry_at(p))
                .collect();
        }
        rng.distinct(self.iter(now).collect(), count)
    }

    /// Whether the stored `field` is expired at `now`.
    pub fn is_expired_field(&self, field: &[u8], now: u64) -> bool {
        !self.unexpired(field, now)
    }

    /// The map's hasher, fixed for the map's life (HSCAN orders fields by it).
    pub fn hasher(&self) -> &RandomState {
        self.fields.hasher()
    }

    /// Whether any stored field has an expiry time.
    pub fn has_ttls(&self) -> bool {
        self.ttls.is_some()
    }

    /// The earliest expiry time of any field: the time the keyspace indexes the hash under.
    pub fn min_expiry(&self) -> Option<u64> {
        self.ttls
            .as_ref()
            .and_then(|t| t.order.first())
            .map(|(at, _)| *at)
    }

    /// Whether every field has expired at `now`: the hash is then as gone as an expired key.
    pub fn all_expired(&self, now: u64) -> bool {
        self.ttls.as_ref().is_some_and(|t| {
            t.order.len() == self.fields.len() && t.order.last().is_some_and(|(at, _)| *at <= now)
        })
    }

    /// Sets `field` to `value` and removes its expiry time (HSET overwrites the field, TTL
    /// included); true if the field is new.
    pub fn insert(&mut self, field: &[u8], value: CompactBytes) -> bool {
        self.clear_expiry(field);
        self.insert_keep_ttl(field, value)
    }

    /// Sets `field` to `value`, keeping any expiry time it has (HINCRBY changes a value
    /// without replacing the field); true if the field is new. An existing field's value is
    /// replaced in place, which saves copying the field again.
    pub fn insert_keep_ttl(&mut self, field: &[u8], value: CompactBytes) -> bool {
        match self.fields.get_mut(field) {
            Some(old) => {
                *old = value;
                false
            }
            None => {
                self.fields.insert(CompactBytes::new(field), value);
                true
            }
        }
    }

    /// Removes `field` and its expiry time; returns its value if it was stored.
    pub fn remove(&mut self, field: &[u8]) -> Option<CompactBytes> {
        let value = self.fields.remove(field)?;
        self.clear_expiry(field);
        Some(value)
    }

    /// Gives the stored `field` the expiry time `at` (Unix milliseconds); false, changing
    /// nothing, if there is no such field.
    pub fn set_expiry(&mut self, field: &[u8], at: u64) -> bool {
        if !self.fields.contains_key(field) {
            return false;
        }
        self.ttls.get_or_insert_with(Box::default).set(field, at);
        true
    }

    /// Removes `field`'s expiry time; returns it if there was one.
    pub fn clear_expiry(&mut self, field: &[u8]) -> Option<u64> {
        let ttls = self.ttls.as_mut()?;
        let at = ttls.clear(field);
        if ttls.at.is_empty() {
            self.ttls = None;
        }
        at
    }

    /// Removes up to `budget` fields expired at `now`, earliest first; returns how many.
    pub fn remove_expired(&mut self, now: u64, budget: usize) -> usize {
        let Some(ttls) = self.ttls.as_mut() else {
            return 0;
        };
        let mut removed = 0;
        while removed < budget {
            match ttls.order.first() {
                Some((at, _)) if *at <= now => {}
                _ => break,
            }
            let Some((_, field)) = ttls.order.pop_first() else {
                break;
            };
            ttls.at.remove(field.as_bytes());
            self.fields.remove(field.as_bytes());
            removed += 1;
        }
        if ttls.at.is_empty() {
            self.ttls = None;
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(s: &str) -> CompactBytes {
        CompactBytes::new(s.as_bytes())
    }

    #[test]
    fn expiry_hides_fields_until_reclaimed() {
        let mut h = HashValue::new();
        assert!(h.insert(b"a", value("1")));
        assert!(h.insert(b"b", value("2")));
        assert!(!h.has_ttls());
        assert!(h.set_expiry(b"a", 100));
        assert!(!h.set_expiry(b"zz", 100));
        assert_eq!(h.min_expiry(), Some(100));
        assert_eq!(h.get(b"a", 99), Some(&value("1")));
        assert_eq!(h.get(b"a", 100), None);
        assert_eq!((h.len(), h.live_len(99), h.live_len(100)), (2, 2, 1));
        assert_eq!(h.iter(100).count(), 1);
        assert!(!h.all_expired(1000));
        assert_eq!(h.remove_expired(100, 10), 1);
        assert_eq!(h.len(), 1);
        assert!(!h.has_ttls(), "the bookkeeping goes with the last TTL");
    }

    #[test]
    fn overwrites_clear_or_keep_the_ttl() {
        let mut h = HashValue::new();
        h.insert(b"a", value("1"));
        h.set_expiry(b"a", 100);
        assert!(!h.insert_keep_ttl(b"a", value("2")));
        assert_eq!(h.expires_at(b"a"), Some(100));
        assert!(!h.insert(b"a", value("3")));
        assert_eq!(h.expires_at(b"a"), None);
        assert!(!h.has_ttls());
        h.set_expiry(b"a", 50);
        h.set_expiry(b"a", 70);
        assert_eq!(h.min_expiry(), Some(70));
        assert_eq!(h.remove(b"a"), Some(value("3")));
        assert!(h.is_empty() && !h.has_ttls());
    }

    #[test]
    fn all_expired_needs_every_field_volatile_and_due() {
        let mut h = HashValue::new();
        h.insert(b"a", value("1"));
        h.insert(b"b", value("2"));
        h.set_expiry(b"a", 10);
        h.set_expiry(b"b", 20);
        assert!(!h.all_expired(19));
        assert!(h.all_expired(20));
        assert_eq!(h.remove_expired(20, 1), 1, "the budget bounds the work");
        assert_eq!(h.min_expiry(), Some(20));
        assert_eq!(h.remove_expired(20, 5), 1);
        assert!(h.is_empty());
    }
}
