//! The hash value: its fields, in one of Redis's two forms, and the expiry times of the fields
//! that have one (Redis 7.4's hash field expiration).
//!
//! # Forms
//!
//! - **listpack** (or **listpackex** while some field has a TTL, as Redis 7.4 names it) while
//!   the hash has at most `hash-max-listpack-entries` fields (512 in Redis 7.0's defaults) and
//!   every field and value is at most `hash-max-listpack-value` (64) bytes: a [`Listpack`], the
//!   pairs packed into one buffer in insertion order. A small hash costs one allocation (none
//!   for a couple of short pairs); lookups walk it, O(n) for a bounded n, as Redis's do.
//! - **hashtable** otherwise: an [`IndexedMap`] of field to value, with O(1) lookups and O(1)
//!   random picks for HRANDFIELD.
//!
//! Like Redis, a hash converts before an insertion that brings a field or value over the byte
//! threshold (HSET, HMSET and HSETEX check all their arguments first, as
//! `hashTypeTryConversion` does), and after any write of a field that leaves it with more
//! fields than the entry threshold (Redis's `hashTypeSet` checks after updates too); it never
//! converts back. RESTORE picks the form for the content ([`HashValue::refit`]), as Redis's
//! loading does. Replies whose shape depends on the form (OBJECT ENCODING, HSCAN returning the
//! whole hash, the order of HGETALL) follow the form in use.
//!
//! # Field expiry
//!
//! A field whose time has come is *expired*: no command sees it, whatever it asks. It stays
//! stored until it is *reclaimed*, by a writer of the hash (which reclaims every expired field
//! on sight, as writers do with expired keys) or by the keyspace's active expiry. Readers hold
//! only a shared lock and cannot reclaim, so every read method here takes the time and skips
//! what has expired; [`HashValue::len`] is the one count that includes it.
//!
//! A hash without field TTLs keeps no expiry bookkeeping at all: `ttls` is `None` (one pointer,
//! inside the value's own 32 bytes). With TTLs, both forms keep them in the same side
//! structure, so the expiry rules are one code path whatever the form.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::hash::RandomState;

use crate::indexed::IndexedMap;
use crate::listpack::Listpack;
use crate::random::Rng;
use crate::CompactBytes;

/// Field to value in the large form, with a randomly seeded hasher because fields come from
/// clients, and O(1) random picks for HRANDFIELD.
pub(crate) type FieldMap = IndexedMap<CompactBytes>;

/// The encoding thresholds, from `hash-max-listpack-entries` and `hash-max-listpack-value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most fields the small form holds.
    pub max_entries: usize,
    /// Longest field or value, in bytes, the small form holds.
    pub max_value: usize,
}

impl Limits {
    /// Redis 7.0's built-in defaults (what `CONFIG GET` reports without a configuration
    /// file): 512 fields of at most 64 bytes.
    pub const DEFAULT: Limits = Limits {
        max_entries: 512,
        max_value: 64,
    };
}

/// Largest buffer the small form grows to, whatever the thresholds say: Redis's
/// `LISTPACK_MAX_SAFETY_SIZE` (1 GiB), past which it converts as `lpSafeToAdd` decides.
const MAX_SMALL_BYTES: usize = 1 << 30;

/// A hash: its fields in one of two forms, plus the expiry times of the fields that have one.
///
/// Invariant: `ttls`, when present, names only stored fields and is never empty, so "has field
/// TTLs" is `ttls.is_some()`.
#[derive(Clone, Default)]
pub struct HashValue {
    fields: Fields,
    ttls: Option<Box<FieldTtls>>,
}

/// The two forms of a hash's fields.
#[derive(Clone)]
enum Fields {
    /// Packed pairs (Redis's listpack encoding).
    Small(Listpack),
    /// A hash map (Redis's hashtable encoding); boxed so that a hash is 32 bytes in either form.
    Large(Box<FieldMap>),
}

impl Default for Fields {
    fn default() -> Fields {
        Fields::Small(Listpack::new())
    }
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

/// Random picks among a hash's live fields, for HRANDFIELD: O(1) a pick from a large hash
/// without field TTLs, from a list of the live pairs (made once, O(n)) otherwise.
pub(crate) enum LivePicker<'a> {
    /// The live pairs of a small hash, in the hash's order.
    Listed(Vec<(&'a [u8], &'a [u8])>),
    /// A large hash, drawn from directly.
    Large(&'a HashValue, u64),
}

impl<'a> LivePicker<'a> {
    /// A uniformly random live pair; `None` when there is none.
    pub(crate) fn pick(&self, rng: &mut Rng) -> Option<(&'a [u8], &'a [u8])> {
        match self {
            LivePicker::Listed(pairs) if pairs.is_empty() => None,
            LivePicker::Listed(pairs) => pairs.get(rng.below(pairs.len())).copied(),
            LivePicker::Large(hash, now) => hash.random_live(rng, *now),
        }
    }

    /// `count` distinct live pairs (all of them if fewer), uniformly chosen. From a small hash
    /// they come in the hash's order, as Redis's `lpRandomPairsUnique` returns them; the whole
    /// hash when `count` covers it. O(count) for a large hash without field TTLs, O(N)
    /// otherwise.
    pub(crate) fn distinct(&self, rng: &mut Rng, count: usize) -> Vec<(&'a [u8], &'a [u8])> {
        match self {
            LivePicker::Listed(pairs) => {
                if count >= pairs.len() {
                    return pairs.clone();
                }
                let mut positions = crate::indexed::distinct_positions(rng, pairs.len(), count);
                positions.sort_unstable();
                positions
                    .into_iter()
                    .filter_map(|p| pairs.get(p).copied())
                    .collect()
            }
            LivePicker::Large(hash, now) => hash.distinct_live(rng, count, *now),
        }
    }
}

impl HashValue {
    /// An empty hash, in the small form (Redis's `createHashObject`); an insertion that does
    /// not fit converts it at once.
    pub fn new() -> HashValue {
        HashValue::default()
    }

    /// An empty hash already in the large form: for building one whose size is not known to
    /// fit (RESTORE builds this way, then [`HashValue::refit`]s), so that filling it stays
    /// O(1) a field.
    pub fn new_large() -> HashValue {
        HashValue {
            fields: Fields::Large(Box::default()),
            ttls: None,
        }
    }

    /// Heap bytes owned, fields' and values' bytes estimated from `samples` of them (0: all),
    /// field TTLs included.
    pub fn heap_size(&self, samples: usize) -> usize {
        let fields = match &self.fields {
            Fields::Small(lp) => lp.heap_size(),
            Fields::Large(map) => {
                std::mem::size_of::<FieldMap>() + map.heap_size(samples, CompactBytes::heap_size)
            }
        };
        let ttls = self.ttls.as_ref().map_or(0, |ttls| {
            let pair = std::mem::size_of::<(CompactBytes, u64)>();
            // The map's table, and the ordered set's B-tree nodes (about 2/3 full); a field's
            // bytes are copied into both.
            let names = ttls.at.keys().map(CompactBytes::heap_size);
            std::mem::size_of::<FieldTtls>()
                + crate::memory::table_bytes(ttls.at.capacity(), pair)
                + ttls.order.len() * pair * 3 / 2
                + 2 * crate::memory::sampled_first(ttls.at.len(), samples, names)
        });
        fields + ttls
    }

    /// Stored fields, expired ones not yet reclaimed included: the size that decides the
    /// form. What a client may see is [`HashValue::live_len`].
    pub fn len(&self) -> usize {
        match &self.fields {
            Fields::Small(lp) => lp.len(),
            Fields::Large(map) => map.len(),
        }
    }

    /// Whether nothing is stored (a hash key is deleted as soon as that happens).
    pub fn is_empty(&self) -> bool {
        match &self.fields {
            Fields::Small(lp) => lp.is_empty(),
            Fields::Large(map) => map.is_empty(),
        }
    }

    /// Whether the hash is in the small (listpack) form.
    pub fn is_small(&self) -> bool {
        matches!(self.fields, Fields::Small(_))
    }

    /// The name OBJECT ENCODING reports for the form in use: Redis 7.4 names a small hash
    /// with field TTLs `listpackex` (its listpack of field, value, expiry triplets).
    pub fn encoding(&self) -> &'static str {
        match (self.is_small(), self.has_ttls()) {
            (true, false) => "listpack",
            (true, true) => "listpackex",
            (false, _) => "hashtable",
        }
    }

    /// Fields that have not expired at `now`.
    pub fn live_len(&self, now: u64) -> usize {
        let expired = self.ttls.as_ref().map_or(0, |t| t.expired(now));
        self.len() - expired
    }

    /// Whether `field` (which need not exist) has no expiry time at or before `now`. A field
    /// expires when its time is reached, as keys do in kv: at `now == at` it is gone.
    fn unexpired(&self, field: &[u8], now: u64) -> bool {
        self.ttls
            .as_ref()
            .and_then(|t| t.at.get(field))
            .is_none_or(|&at| at > now)
    }

    /// The stored value of `field`, expired or not.
    fn get_stored(&self, field: &[u8]) -> Option<&[u8]> {
        match &self.fields {
            Fields::Small(lp) => lp.get(field),
            Fields::Large(map) => map.get(field).map(|v| v.as_bytes()),
        }
    }

    /// The value of `field` if it exists and has not expired at `now`.
    pub fn get(&self, field: &[u8], now: u64) -> Option<&[u8]> {
        self.get_stored(field)
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

    /// The fields not expired at `now`, with their values, in the form's order (insertion
    /// order for the small form, as Redis's listpack).
    pub fn iter(&self, now: u64) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.iter_stored()
            .filter(move |(field, _)| self.unexpired(field, now))
    }

    /// Every stored field with its value, expired or not: for what depends on the stored
    /// content (the DUMP payload, a conversion).
    pub fn iter_stored(&self) -> Box<dyn Iterator<Item = (&[u8], &[u8])> + '_> {
        match &self.fields {
            Fields::Small(lp) => Box::new(lp.iter()),
            Fields::Large(map) => Box::new(map.iter().map(|(f, v)| (f.as_bytes(), v.as_bytes()))),
        }
    }

    /// The stored field at `position` (`0..len`) with its value, expired or not: O(1) in the
    /// large form, O(n) in the small one.
    pub fn stored_at(&self, position: usize) -> Option<(&[u8], &[u8])> {
        match &self.fields {
            Fields::Small(lp) => lp.nth(position),
            Fields::Large(map) => map
                .entry_at(position)
                .map(|(f, v)| (f.as_bytes(), v.as_bytes())),
        }
    }

    /// What HRANDFIELD draws from: the live pairs listed once for a small hash (so that many
    /// picks cost O(n) in all, not O(n) each), the map itself for a large one.
    pub(crate) fn live_picker(&self, now: u64) -> LivePicker<'_> {
        match &self.fields {
            Fields::Small(_) => LivePicker::Listed(self.iter(now).collect()),
            Fields::Large(_) => LivePicker::Large(self, now),
        }
    }

    /// A uniformly random field not expired at `now`, with its value. O(1) draws in the large
    /// form; only when most stored fields are expired does it fall back to listing the live
    /// ones. The small form lists them, O(n).
    pub(crate) fn random_live(&self, rng: &mut Rng, now: u64) -> Option<(&[u8], &[u8])> {
        let Fields::Large(map) = &self.fields else {
            let live: Vec<_> = self.iter(now).collect();
            return live.get(rng.below(live.len().max(1))).copied();
        };
        let draw = |rng: &mut Rng| map.random(rng).map(|(f, v)| (f.as_bytes(), v.as_bytes()));
        if self.ttls.is_none() {
            return draw(rng);
        }
        for _ in 0..16 {
            let (field, value) = draw(rng)?;
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
    /// with their values. O(count) for a large hash without field TTLs; O(N) otherwise.
    pub(crate) fn distinct_live(
        &self,
        rng: &mut Rng,
        count: usize,
        now: u64,
    ) -> Vec<(&[u8], &[u8])> {
        if let (Fields::Large(map), None) = (&self.fields, &self.ttls) {
            return map
                .distinct_positions(rng, count)
                .into_iter()
                .filter_map(|p| map.entry_at(p))
                .map(|(f, v)| (f.as_bytes(), v.as_bytes()))
                .collect();
        }
        rng.distinct(self.iter(now).collect(), count)
    }

    /// Whether the stored `field` is expired at `now`.
    pub fn is_expired_field(&self, field: &[u8], now: u64) -> bool {
        !self.unexpired(field, now)
    }

    /// The map of the large form (HSCAN walks its table); `None` for the small form, which
    /// HSCAN returns whole. Fields past their time are in it too.
    pub(crate) fn table(&self) -> Option<&FieldMap> {
        match &self.fields {
            Fields::Small(_) => None,
            Fields::Large(map) => Some(map),
        }
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
            t.order.len() == self.len() && t.order.last().is_some_and(|(at, _)| *at <= now)
        })
    }

    /// Converts to the large form, for good, when any of `arguments` (the fields and values a
    /// command is about to write) is longer than the small form allows: Redis's
    /// `hashTypeTryConversion`, which HSET, HMSET and HSETEX run over all their arguments
    /// before writing any, so a long value converts the hash even when a later pair of the
    /// same command overwrites it.
    pub fn fit_arguments<'a>(
        &mut self,
        arguments: impl IntoIterator<Item = &'a [u8]>,
        limits: Limits,
    ) {
        let Fields::Small(lp) = &self.fields else {
            return;
        };
        let mut sum = 0usize;
        for argument in arguments {
            if argument.len() > limits.max_value {
                self.convert();
                return;
            }
            sum = sum.saturating_add(argument.len());
        }
        if lp.byte_len().saturating_add(sum) > MAX_SMALL_BYTES {
            self.convert();
        }
    }

    /// Sets `field` to `value` and removes its expiry time (HSET overwrites the field, TTL
    /// included); true if the field is new. Converts to the large form as
    /// [`HashValue::insert_keep_ttl`] says.
    pub fn insert(&mut self, field: &[u8], value: &[u8], limits: Limits) -> bool {
        self.clear_expiry(field);
        self.insert_keep_ttl(field, value, limits)
    }

    /// Sets `field` to `value`, keeping any expiry time it has (HINCRBY changes a value
    /// without replacing the field); true if the field is new. Like Redis's `hashTypeSet`, a
    /// small hash converts first when the field or the value is longer than
    /// `limits.max_value`, and after the write when it has more than `limits.max_entries`
    /// fields (an update included, which matters once the threshold was lowered).
    pub fn insert_keep_ttl(&mut self, field: &[u8], value: &[u8], limits: Limits) -> bool {
        if let Fields::Small(lp) = &self.fields {
            let grown = lp.byte_len() + field.len() + value.len() + 20;
            if field.len() > limits.max_value
                || value.len() > limits.max_value
                || grown > MAX_SMALL_BYTES
            {
                self.convert();
            }
        }
        let new = match &mut self.fields {
            Fields::Small(lp) => lp.insert(field, value),
            // The field is copied only when it is new.
            Fields::Large(map) => map.set(field, CompactBytes::new(value)).is_none(),
        };
        if matches!(&self.fields, Fields::Small(lp) if lp.len() > limits.max_entries) {
            self.convert();
        }
        new
    }

    /// Removes `field` and its expiry time; returns its value if it was stored. Never changes
    /// the form.
    pub fn remove(&mut self, field: &[u8]) -> Option<CompactBytes> {
        let value = match &mut self.fields {
            Fields::Small(lp) => lp.remove(field),
            Fields::Large(map) => map.remove(field),
        }?;
        self.clear_expiry(field);
        Some(value)
    }

    /// Turns the small form into the large one, holding the same pairs in the same order.
    fn convert(&mut self) {
        if let Fields::Small(lp) = &self.fields {
            let mut map = FieldMap::with_capacity(lp.len() + 1);
            for (field, value) in lp.iter() {
                map.insert(CompactBytes::new(field), CompactBytes::new(value));
            }
            self.fields = Fields::Large(Box::new(map));
        }
    }

    /// Re-chooses the form from the content, as Redis does when it loads a hash (RESTORE):
    /// small when the stored fields fit `limits`, else large. TTLs stay as they are.
    pub fn refit(&mut self, limits: Limits) {
        let fits = self.len() <= limits.max_entries
            && self
                .iter_stored()
                .all(|(f, v)| f.len() <= limits.max_value && v.len() <= limits.max_value)
            && self
                .iter_stored()
                .map(|(f, v)| f.len() + v.len() + 4)
                .sum::<usize>()
                <= MAX_SMALL_BYTES;
        if fits == self.is_small() {
            return;
        }
        let fields = if fits {
            Fields::Small(Listpack::from_distinct(self.iter_stored()))
        } else {
            let mut map = FieldMap::with_capacity(self.len());
            for (field, value) in self.iter_stored() {
                map.insert(CompactBytes::new(field), CompactBytes::new(value));
            }
            Fields::Large(Box::new(map))
        };
        self.fields = fields;
    }

    /// Gives the stored `field` the expiry time `at` (Unix milliseconds); false, changing
    /// nothing, if there is no such field.
    pub fn set_expiry(&mut self, field: &[u8], at: u64) -> bool {
        if self.get_stored(field).is_none() {
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
            match &mut self.fields {
                Fields::Small(lp) => lp.remove(field.as_bytes()),
                Fields::Large(map) => map.remove(field.as_bytes()),
            };
            removed += 1;
        }
        if ttls.at.is_empty() {
            self.ttls = None;
        }
        removed
    }
}

/// Equal when they hold the same fields, values and expiry times, whatever their forms and
/// orders.
impl PartialEq for HashValue {
    fn eq(&self, other: &HashValue) -> bool {
        self.len() == other.len()
            && self.ttls == other.ttls
            && self
                .iter_stored()
                .all(|(f, v)| other.get_stored(f) == Some(v))
    }
}

impl fmt::Debug for HashValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        write!(f, "{}", self.encoding())?;
        f.debug_map()
            .entries(self.iter_stored().map(|(k, v)| (lossy(k), lossy(v))))
            .finish()?;
        if let Some(ttls) = &self.ttls {
            write!(f, " ttls {:?}", ttls.at)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits::DEFAULT;

    #[test]
    fn expiry_hides_fields_until_reclaimed() {
        for mut h in [HashValue::new(), HashValue::new_large()] {
            assert!(h.insert(b"a", b"1", LIMITS));
            assert!(h.insert(b"b", b"2", LIMITS));
            assert!(!h.has_ttls());
            assert!(h.set_expiry(b"a", 100));
            assert!(!h.set_expiry(b"zz", 100));
            assert_eq!(h.min_expiry(), Some(100));
            assert_eq!(h.get(b"a", 99), Some(&b"1"[..]));
            assert_eq!(h.get(b"a", 100), None);
            assert_eq!((h.len(), h.live_len(99), h.live_len(100)), (2, 2, 1));
            assert_eq!(h.iter(100).count(), 1);
            assert!(!h.all_expired(1000));
            assert_eq!(h.remove_expired(100, 10), 1);
            assert_eq!(h.len(), 1);
            assert!(!h.has_ttls(), "the bookkeeping goes with the last TTL");
        }
    }

    #[test]
    fn overwrites_clear_or_keep_the_ttl() {
        let mut h = HashValue::new();
        h.insert(b"a", b"1", LIMITS);
        h.set_expiry(b"a", 100);
        assert_eq!(h.encoding(), "listpackex");
        assert!(!h.insert_keep_ttl(b"a", b"2", LIMITS));
        assert_eq!(h.expires_at(b"a"), Some(100));
        assert!(!h.insert(b"a", b"3", LIMITS));
        assert_eq!(h.expires_at(b"a"), None);
        assert!(!h.has_ttls());
        assert_eq!(h.encoding(), "listpack");
        h.set_expiry(b"a", 50);
        h.set_expiry(b"a", 70);
        assert_eq!(h.min_expiry(), Some(70));
        assert_eq!(h.remove(b"a").as_deref(), Some(&b"3"[..]));
        assert!(h.is_empty() && !h.has_ttls());
    }

    #[test]
    fn all_expired_needs_every_field_volatile_and_due() {
        let mut h = HashValue::new();
        h.insert(b"a", b"1", LIMITS);
        h.insert(b"b", b"2", LIMITS);
        h.set_expiry(b"a", 10);
        h.set_expiry(b"b", 20);
        assert!(!h.all_expired(19));
        assert!(h.all_expired(20));
        assert_eq!(h.remove_expired(20, 1), 1, "the budget bounds the work");
        assert_eq!(h.min_expiry(), Some(20));
        assert_eq!(h.remove_expired(20, 5), 1);
        assert!(h.is_empty());
    }

    #[test]
    fn a_hash_is_32_bytes_in_either_form() {
        assert_eq!(std::mem::size_of::<HashValue>(), 32);
    }

    /// The entry threshold: `max_entries` fields stay small, one more converts, for good.
    #[test]
    fn entry_threshold_edges() {
        for max in [128, 512] {
            let limits = Limits {
                max_entries: max,
                max_value: 64,
            };
            let mut h = HashValue::new();
            for i in 0..max {
                h.insert(format!("f{i}").as_bytes(), b"v", limits);
            }
            assert_eq!(h.encoding(), "listpack", "{max} fields");
            h.insert(b"f0", b"updated", limits);
            assert_eq!(h.encoding(), "listpack", "an update at the threshold");
            h.insert(b"one-more", b"v", limits);
            assert_eq!(h.encoding(), "hashtable", "{} fields", max + 1);
            h.remove(b"one-more");
            h.remove(b"f1");
            assert_eq!(h.encoding(), "hashtable", "never back");
            assert_eq!(h.len(), max - 1);
            assert_eq!(h.get(b"f0", 0), Some(&b"updated"[..]));
        }
    }

    /// The byte threshold applies to fields and values alike, at 64 and 65 bytes.
    #[test]
    fn value_threshold_edges() {
        let at = vec![b'x'; 64];
        let over = vec![b'x'; 65];
        let mut h = HashValue::new();
        h.insert(&at, &at, LIMITS);
        assert_eq!(h.encoding(), "listpack");
        h.insert(b"f", &over, LIMITS);
        assert_eq!(h.encoding(), "hashtable");
        let mut h = HashValue::new();
        h.insert(&over, b"v", LIMITS);
        assert_eq!(h.encoding(), "hashtable");
        // HSET's argument check converts even when a later pair overwrites the long value.
        let mut h = HashValue::new();
        h.fit_arguments([&b"f"[..], &over, b"f", b"short"], LIMITS);
        assert_eq!(h.encoding(), "hashtable");
        let mut h = HashValue::new();
        h.fit_arguments([&b"f"[..], &at], LIMITS);
        assert_eq!(h.encoding(), "listpack");
        // A lowered entry threshold converts on the next write, even an update.
        let mut h = HashValue::new();
        for f in [&b"a"[..], b"b", b"c"] {
            h.insert(f, b"1", LIMITS);
        }
        h.insert_keep_ttl(
            b"a",
            b"2",
            Limits {
                max_entries: 2,
                max_value: 64,
            },
        );
        assert_eq!(h.encoding(), "hashtable");
        // A threshold of 0 converts with the first field.
        let mut h = HashValue::new();
        h.insert(
            b"a",
            b"1",
            Limits {
                max_entries: 0,
                max_value: 64,
            },
        );
        assert_eq!(h.encoding(), "hashtable");
    }

    #[test]
    fn conversions_keep_order_values_and_ttls() {
        let mut h = HashValue::new();
        for i in 0..5 {
            h.insert(
                format!("f{i}").as_bytes(),
                format!("v{i}").as_bytes(),
                LIMITS,
            );
        }
        h.set_expiry(b"f3", 1000);
        let before: Vec<(Vec<u8>, Vec<u8>)> =
            h.iter(0).map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
        let small = h.clone();
        h.insert(
            b"f0",
            b"v0",
            Limits {
                max_entries: 4,
                max_value: 64,
            },
        );
        assert_eq!(h.encoding(), "hashtable");
        let after: Vec<(Vec<u8>, Vec<u8>)> =
            h.iter(0).map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
        assert_eq!(before, after, "the map starts in the listpack's order");
        assert_eq!(h, small, "equality ignores the form");
        assert_eq!(h.expires_at(b"f3"), Some(1000));
        h.refit(LIMITS);
        assert_eq!(h.encoding(), "listpackex", "RESTORE picks the form again");
        assert_eq!(h, small);
        h.refit(Limits {
            max_entries: 4,
            max_value: 64,
        });
        assert_eq!(h.encoding(), "hashtable");
        let mut h = HashValue::new_large();
        h.insert(b"a", b"1", LIMITS);
        h.refit(LIMITS);
        assert_eq!(h.encoding(), "listpack");
    }

    #[test]
    fn small_picks_come_in_order() {
        let mut h = HashValue::new();
        for i in 0..10 {
            h.insert(format!("f{i}").as_bytes(), b"v", LIMITS);
        }
        let mut rng = Rng::new();
        let picker = h.live_picker(0);
        let picked = picker.distinct(&mut rng, 4);
        assert_eq!(picked.len(), 4);
        let positions: Vec<usize> = picked
            .iter()
            .map(|(f, _)| h.iter(0).position(|(g, _)| g == *f).unwrap_or(usize::MAX))
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
        assert_eq!(picker.distinct(&mut rng, 10).len(), 10);
        assert!(picker.pick(&mut rng).is_some());
        assert_eq!(h.stored_at(9), Some((&b"f9"[..], &b"v"[..])));
    }
}
