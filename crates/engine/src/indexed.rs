//! A hash map whose entries also sit densely in a vector, so that a uniformly random entry is
//! one index away: what SPOP, SRANDMEMBER and HRANDFIELD need to run in the O(1) per pick that
//! redis.io documents (a plain hash table can only find its n-th entry by walking).
//!
//! Entries live in a `Vec` in no particular order; a hashbrown table of their positions finds
//! one by key. Removal moves the last entry into the hole (`swap_remove`) and re-points its
//! table slot, so every operation stays O(1). The table holds one `usize` per entry instead
//! of a whole key, which also makes this smaller than a `HashMap` of the same entries.
//!
//! The table is hashbrown's raw table so that HSCAN and SSCAN can walk its buckets from where
//! the last call stopped ([`IndexedMap::buckets_from`]): an entry keeps its bucket until the
//! table is rebuilt, and the map counts its rebuilds (`layout`).

use std::fmt;
use std::hash::{BuildHasher, RandomState};

use hashbrown::raw::RawTable;

use crate::random::Rng;
use crate::CompactBytes;

/// A key for [`IndexedMap::upsert`]: already stored bytes, or a borrowed slice copied only if
/// the key turns out to be new.
enum NewKey<'a> {
    /// Stored as it is.
    Owned(CompactBytes),
    /// Copied when stored.
    Borrowed(&'a [u8]),
}

/// Keys (client-chosen bytes, hence a randomly seeded hasher) to values, with O(1) random
/// access. `IndexedMap<()>` is a set.
#[derive(Clone)]
pub struct IndexedMap<V> {
    /// The entries, densely packed.
    entries: Vec<(CompactBytes, V)>,
    /// Positions in `entries`, hashed by the key they point at.
    index: RawTable<usize>,
    /// Hashes keys for `index`.
    hasher: RandomState,
    /// How many times `index` may have been rebuilt (grown, rehashed, shrunk, cleared),
    /// moving positions to other buckets: a scan cursor holds it (see
    /// [`IndexedMap::buckets_from`]).
    layout: u32,
}

impl<V> IndexedMap<V> {
    /// An empty map.
    pub fn new() -> IndexedMap<V> {
        IndexedMap {
            entries: Vec::new(),
            index: RawTable::new(),
            hasher: RandomState::new(),
            layout: 0,
        }
    }

    /// An empty map with room for `capacity` entries before it reallocates.
    pub fn with_capacity(capacity: usize) -> IndexedMap<V> {
        IndexedMap {
            entries: Vec::with_capacity(capacity),
            index: RawTable::with_capacity(capacity),
            hasher: RandomState::new(),
            layout: 0,
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Makes room for `additional` more entries (growing as a `Vec` does: an empty map gets
    /// exactly that much, a fuller one at least doubles).
    pub fn reserve(&mut self, additional: usize) {
        self.entries.reserve(additional);
        if additional > self.index.capacity() - self.index.len() {
            self.relayout();
        }
        let (entries, hasher) = (&self.entries, &self.hasher);
        self.index
            .reserve(additional, |&i| hasher.hash_one(entries[i].0.as_bytes()));
    }

    /// Notes that `index` is about to be rebuilt (see [`IndexedMap::buckets_from`]).
    fn relayout(&mut self) {
        self.layout = self.layout.wrapping_add(1);
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Heap bytes owned: the entry vector and the table at their capacities, plus the keys'
    /// and values' own heap bytes (`value_heap`), estimated from `samples` entries (0: all).
    pub fn heap_size(&self, samples: usize, value_heap: impl Fn(&V) -> usize) -> usize {
        let entries = self.entries.capacity() * std::mem::size_of::<(CompactBytes, V)>();
        let index = crate::memory::table_bytes(self.index.capacity(), std::mem::size_of::<usize>());
        let elements = crate::memory::sampled(self.entries.len(), samples, |i| {
            let (key, value) = &self.entries[i];
            key.heap_size() + value_heap(value)
        });
        entries + index + elements
    }

    /// The hasher keys are hashed with (SCAN-style cursors order entries by it).
    pub fn hasher(&self) -> &RandomState {
        &self.hasher
    }

    /// Where `key`'s entry is in `entries`.
    fn position(&self, key: &[u8]) -> Option<usize> {
        let hash = self.hasher.hash_one(key);
        let entries = &self.entries;
        self.index
            .get(hash, |&i| entries[i].0.as_bytes() == key)
            .copied()
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.position(key).is_some()
    }

    /// The value of `key`.
    pub fn get(&self, key: &[u8]) -> Option<&V> {
        self.position(key).map(|i| &self.entries[i].1)
    }

    /// The value of `key`, to change in place.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        let i = self.position(key)?;
        Some(&mut self.entries[i].1)
    }

    /// Sets `key` to `value`; returns the value it replaced.
    pub fn insert(&mut self, key: CompactBytes, value: V) -> Option<V> {
        self.upsert(NewKey::Owned(key), value)
    }

    /// Sets `key` to `value`, copying the key only when it is new; returns the value it
    /// replaced. One hash and one probe, whether the key is new or not (HSET and SADD on a
    /// large collection are mostly this).
    pub fn set(&mut self, key: &[u8], value: V) -> Option<V> {
        self.upsert(NewKey::Borrowed(key), value)
    }

    /// Sets `key` to `value`, storing the key (a copy of a borrowed one) when it is new.
    fn upsert(&mut self, key: NewKey<'_>, value: V) -> Option<V> {
        let bytes = match &key {
            NewKey::Owned(key) => key.as_bytes(),
            NewKey::Borrowed(key) => key,
        };
        let hash = self.hasher.hash_one(bytes);
        let entries = &self.entries;
        if let Some(&i) = self.index.get(hash, |&i| entries[i].0.as_bytes() == bytes) {
            return Some(std::mem::replace(&mut self.entries[i].1, value));
        }
        if self.index.capacity() == self.index.len() {
            // No room left: this insertion rebuilds the table.
            self.relayout();
        }
        let (entries, hasher) = (&self.entries, &self.hasher);
        self.index.insert(hash, entries.len(), |&i| {
            hasher.hash_one(entries[i].0.as_bytes())
        });
        let key = match key {
            NewKey::Owned(key) => key,
            NewKey::Borrowed(key) => CompactBytes::new(key),
        };
        self.entries.push((key, value));
        None
    }

    /// Removes `key`; returns its entry.
    pub fn remove_entry(&mut self, key: &[u8]) -> Option<(CompactBytes, V)> {
        let hash = self.hasher.hash_one(key);
        let entries = &self.entries;
        let position = self
            .index
            .remove_entry(hash, |&i| entries[i].0.as_bytes() == key)?;
        Some(self.take(position))
    }

    /// Removes `key`; returns its value.
    pub fn remove(&mut self, key: &[u8]) -> Option<V> {
        self.remove_entry(key).map(|(_, value)| value)
    }

    /// Takes the entry at `position` out of `entries` (its table slot already gone), moving the
    /// last entry into its place and re-pointing that entry's slot.
    fn take(&mut self, position: usize) -> (CompactBytes, V) {
        let last = self.entries.len() - 1;
        if position != last {
            let hash = self.hasher.hash_one(self.entries[last].0.as_bytes());
            if let Some(slot) = self.index.get_mut(hash, |&i| i == last) {
                *slot = position;
            }
        }
        let entry = self.entries.swap_remove(position);
        // Give back memory after large removals, as Redis shrinks its tables.
        if self.entries.capacity() > 64 && self.entries.len() < self.entries.capacity() / 4 {
            self.entries.shrink_to(self.entries.len() * 2);
            self.relayout();
            let (entries, hasher) = (&self.entries, &self.hasher);
            self.index
                .shrink_to(entries.len(), |&i| hasher.hash_one(entries[i].0.as_bytes()));
        }
        entry
    }

    /// The entry at `position` (`0..len`), the way random picks address entries.
    pub fn entry_at(&self, position: usize) -> Option<(&CompactBytes, &V)> {
        self.entries.get(position).map(|(k, v)| (k, v))
    }

    /// A uniformly random entry; `None` when empty. O(1).
    pub(crate) fn random(&self, rng: &mut Rng) -> Option<(&CompactBytes, &V)> {
        if self.entries.is_empty() {
            return None;
        }
        self.entry_at(rng.below(self.entries.len()))
    }

    /// Removes and returns a uniformly random entry; `None` when empty. O(1).
    pub(crate) fn pop_random(&mut self, rng: &mut Rng) -> Option<(CompactBytes, V)> {
        if self.entries.is_empty() {
            return None;
        }
        let position = rng.below(self.entries.len());
        let hash = self.hasher.hash_one(self.entries[position].0.as_bytes());
        self.index.remove_entry(hash, |&i| i == position);
        Some(self.take(position))
    }

    /// `count` distinct positions (all of them if `count >= len`), uniformly chosen, in random
    /// order. O(count) (see [`distinct_positions`]).
    pub(crate) fn distinct_positions(&self, rng: &mut Rng, count: usize) -> Vec<usize> {
        distinct_positions(rng, self.entries.len(), count)
    }

    /// Every entry, in storage order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&CompactBytes, &V)> + '_ {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// Every key, in storage order.
    pub fn keys(&self) -> Keys<'_, V> {
        Keys(self.entries.iter())
    }

    /// Removes every entry for which `keep` is false.
    pub fn retain(&mut self, mut keep: impl FnMut(&CompactBytes, &mut V) -> bool) {
        self.entries.retain_mut(|(k, v)| keep(k, v));
        self.reindex();
    }

    /// Rebuilds the table after `entries` moved wholesale.
    fn reindex(&mut self) {
        self.relayout();
        self.index.clear();
        let (entries, hasher) = (&self.entries, &self.hasher);
        for position in 0..entries.len() {
            let hash = hasher.hash_one(entries[position].0.as_bytes());
            self.index.insert(hash, position, |&i| {
                hasher.hash_one(entries[i].0.as_bytes())
            });
        }
    }

    /// The buckets of the table from index `from` on, in index order: the entry each points
    /// at, if any; with the number of buckets and the table's layout generation. An entry
    /// keeps its bucket until the generation changes (the table is rebuilt; moving an entry
    /// inside `entries` only re-points its bucket), so walking the buckets in order across
    /// calls of one generation meets every entry that stays exactly once: HSCAN's and SSCAN's
    /// O(COUNT) steps (see `scan::collection_step`).
    pub(crate) fn buckets_from(
        &self,
        from: usize,
    ) -> (
        usize,
        u32,
        impl Iterator<Item = Option<(&CompactBytes, &V)>> + '_,
    ) {
        let buckets = self.index.buckets();
        let nodes = (from.min(buckets)..buckets).map(move |bucket| {
            let &position = crate::raw_bucket::full_bucket(&self.index, bucket)?;
            self.entries.get(position).map(|(k, v)| (k, v))
        });
        (buckets, self.layout, nodes)
    }
}

/// `count` distinct positions in `0..len` (all of them if `count >= len`), uniformly chosen,
/// in random order. O(count): rejection sampling while few are wanted, a partial shuffle of all
/// positions once they are a sizeable share (as Redis's SRANDMEMBER switches strategy).
pub(crate) fn distinct_positions(rng: &mut Rng, len: usize, count: usize) -> Vec<usize> {
    if count.saturating_mul(3) >= len {
        return rng.distinct((0..len).collect(), count);
    }
    let mut chosen = hashbrown::HashSet::with_capacity(count);
    let mut picks = Vec::with_capacity(count);
    while picks.len() < count {
        let position = rng.below(len);
        if chosen.insert(position) {
            picks.push(position);
        }
    }
    picks
}

/// The keys of an [`IndexedMap`], in storage order.
#[derive(Debug, Clone)]
pub struct Keys<'a, V>(std::slice::Iter<'a, (CompactBytes, V)>);

impl<'a, V> Iterator for Keys<'a, V> {
    type Item = &'a CompactBytes;

    fn next(&mut self) -> Option<&'a CompactBytes> {
        self.0.next().map(|(k, _)| k)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl<V> ExactSizeIterator for Keys<'_, V> {}

/// A set of byte strings with O(1) random access, with `HashSet`'s method names.
#[derive(Clone, Default, PartialEq)]
pub struct IndexedSet(IndexedMap<()>);

impl IndexedSet {
    /// An empty set.
    pub fn new() -> IndexedSet {
        IndexedSet(IndexedMap::new())
    }

    /// An empty set with room for `capacity` members before it reallocates.
    pub fn with_capacity(capacity: usize) -> IndexedSet {
        IndexedSet(IndexedMap::with_capacity(capacity))
    }

    /// Heap bytes owned (see [`IndexedMap::heap_size`]).
    pub fn heap_size(&self, samples: usize) -> usize {
        self.0.heap_size(samples, |()| 0)
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Makes room for `additional` more members.
    pub fn reserve(&mut self, additional: usize) {
        self.0.reserve(additional);
    }

    /// Adds `member`; false if it was there already.
    pub fn insert(&mut self, member: CompactBytes) -> bool {
        self.0.insert(member, ()).is_none()
    }

    /// Adds a copy of `member` if it is not there; false if it was. One probe.
    pub fn add(&mut self, member: &[u8]) -> bool {
        self.0.set(member, ()).is_none()
    }

    /// Whether `member` is present.
    pub fn contains(&self, member: &[u8]) -> bool {
        self.0.contains_key(member)
    }

    /// Removes `member`; false if it was not there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        self.0.remove_entry(member).is_some()
    }

    /// Every member, in storage order.
    pub fn iter(&self) -> Keys<'_, ()> {
        self.0.keys()
    }

    /// The hasher members are hashed with (SSCAN orders members by it).
    pub fn hasher(&self) -> &RandomState {
        self.0.hasher()
    }

    /// The table's buckets from `from` on (see [`IndexedMap::buckets_from`]).
    pub(crate) fn buckets_from(
        &self,
        from: usize,
    ) -> (usize, u32, impl Iterator<Item = Option<&CompactBytes>> + '_) {
        let (buckets, layout, nodes) = self.0.buckets_from(from);
        (
            buckets,
            layout,
            nodes.map(|node| node.map(|(member, ())| member)),
        )
    }

    /// The member at `position` (`0..len`).
    pub fn member_at(&self, position: usize) -> Option<&CompactBytes> {
        self.0.entry_at(position).map(|(member, _)| member)
    }

    /// Removes and returns a uniformly random member. O(1).
    pub(crate) fn pop_random(&mut self, rng: &mut Rng) -> Option<CompactBytes> {
        self.0.pop_random(rng).map(|(member, _)| member)
    }
}

impl FromIterator<CompactBytes> for IndexedSet {
    fn from_iter<I: IntoIterator<Item = CompactBytes>>(items: I) -> IndexedSet {
        let mut set = IndexedSet::new();
        for item in items {
            set.insert(item);
        }
        set
    }
}

impl fmt::Debug for IndexedSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl<V> FromIterator<(CompactBytes, V)> for IndexedMap<V> {
    fn from_iter<I: IntoIterator<Item = (CompactBytes, V)>>(items: I) -> IndexedMap<V> {
        let mut map = IndexedMap::new();
        for (key, value) in items {
            map.insert(key, value);
        }
        map
    }
}

impl<V> Default for IndexedMap<V> {
    fn default() -> IndexedMap<V> {
        IndexedMap::new()
    }
}

/// Equal when they hold the same entries, whatever their order.
impl<V: PartialEq> PartialEq for IndexedMap<V> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl<V: fmt::Debug> fmt::Debug for IndexedMap<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, u32),
        Remove(u8),
        PopRandom,
        Retain(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (any::<u8>(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k % 64, v)),
            2 => any::<u8>().prop_map(|k| Op::Remove(k % 64)),
            1 => Just(Op::PopRandom),
            1 => any::<u8>().prop_map(|m| Op::Retain(m % 7 + 2)),
        ]
    }

    fn key(k: u8) -> CompactBytes {
        CompactBytes::new(format!("key-{k}").as_bytes())
    }

    proptest! {
        /// Random operations agree with a std HashMap, and every key stays findable after the
        /// swaps removals make.
        #[test]
        fn behaves_like_a_hash_map(ops in proptest::collection::vec(op(), 1..300)) {
            let mut map = IndexedMap::new();
            let mut model: HashMap<Vec<u8>, u32> = HashMap::new();
            let mut rng = crate::random::Rng::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        let old = map.insert(key(k), v);
                        prop_assert_eq!(old, model.insert(key(k).to_vec(), v));
                    }
                    Op::Remove(k) => {
                        prop_assert_eq!(map.remove(&key(k)), model.remove(&key(k).to_vec()));
                    }
                    Op::PopRandom => match map.pop_random(&mut rng) {
                        Some((k, v)) => prop_assert_eq!(model.remove(k.as_bytes()), Some(v)),
                        None => prop_assert!(model.is_empty()),
                    },
                    Op::Retain(m) => {
                        map.retain(|_, v| *v % u32::from(m) != 0);
                        model.retain(|_, v| *v % u32::from(m) != 0);
                    }
                }
                prop_assert_eq!(map.len(), model.len());
                for (k, v) in &model {
                    prop_assert_eq!(map.get(k), Some(v));
                }
                for (k, v) in map.iter() {
                    prop_assert_eq!(model.get(k.as_bytes()), Some(v));
                }
            }
        }
    }

    #[test]
    fn distinct_positions_are_distinct_and_in_range() {
        let set: IndexedSet = (0..1000).map(|i| key((i % 256) as u8)).collect();
        let mut rng = crate::random::Rng::new();
        for count in [0, 1, 5, 85, 86, 255, 256, 300] {
            let picks = set.0.distinct_positions(&mut rng, count);
            assert_eq!(picks.len(), count.min(set.len()));
            let unique: std::collections::HashSet<_> = picks.iter().collect();
            assert_eq!(unique.len(), picks.len());
            assert!(picks.iter().all(|&p| p < set.len()));
        }
    }

    #[test]
    fn random_picks_reach_every_entry() {
        let set: IndexedSet = (0..8).map(key).collect();
        let mut rng = crate::random::Rng::new();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            if let Some((member, _)) = set.0.random(&mut rng) {
                seen.insert(member.clone());
            }
        }
        assert_eq!(seen.len(), 8);
    }
}
