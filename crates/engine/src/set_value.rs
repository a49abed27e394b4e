//! The set value, in the two forms Redis 7.0 keeps a set in.
//!
//! - **intset** while every member is an integer as Redis's `string2ll` reads one and there
//!   are at most `set-max-intset-entries` (512) of them: an [`IntSet`], a sorted array of
//!   integers, with no per-member allocation and, for a handful of small integers, no
//!   allocation at all. Members come out in ascending numeric order, as Redis walks an intset.
//! - **hashtable** otherwise: an [`IndexedSet`], members in a vector plus a table of their
//!   positions, so SPOP and SRANDMEMBER still pick in O(1).
//!
//! A set starts as an intset, becomes a hashtable when a non-integer arrives or an insertion
//! passes the threshold, and never goes back, as in Redis (whose `setTypeAdd` converts and
//! nothing converts the other way). Sets built whole (the `*STORE` commands, RESTORE) take the
//! form their content calls for ([`SetValue::from_members`], [`SetValue::refit`]), as Redis
//! builds those from a fresh intset. Redis 7.0 has no listpack sets; neither has kv.
//!
//! Everything that depends on the form (OBJECT ENCODING, SSCAN returning the whole set, the
//! order of SMEMBERS) follows the form in use, not the content: a set of integers that once
//! held a string stays a hashtable, and answers as one.

use std::fmt;

use crate::indexed::IndexedSet;
use crate::intset::{parse_member, IntSet, IntText, Member};
use crate::random::Rng;
use crate::CompactBytes;

/// A set of byte strings, as an intset or a hash table (see the module docs).
#[derive(Clone)]
pub struct SetValue(Repr);

/// The two forms.
#[derive(Clone)]
enum Repr {
    /// Sorted integers (Redis's `intset` encoding).
    Ints(IntSet),
    /// A hash table with O(1) random access (Redis's `hashtable` encoding); boxed so that a
    /// set is 32 bytes in either form.
    Table(Box<IndexedSet>),
}

impl SetValue {
    /// An empty set, as Redis creates one for an integer (`setTypeCreate`): an intset. A first
    /// member that is not an integer converts it at once, so this serves every new set.
    pub fn new() -> SetValue {
        SetValue(Repr::Ints(IntSet::new()))
    }

    /// A set of `members` (duplicates ignored) in the form Redis gives a set built from a
    /// fresh intset by adding each of them: an intset when every member is an integer and
    /// there are at most `max_intset` distinct ones, else a hash table.
    pub fn from_members<'m>(
        members: impl IntoIterator<Item = &'m [u8]>,
        max_intset: usize,
    ) -> SetValue {
        let members: Vec<&[u8]> = members.into_iter().collect();
        let ints: Option<Vec<i64>> = members.iter().map(|m| parse_member(m)).collect();
        if let Some(mut ints) = ints {
            ints.sort_unstable();
            ints.dedup();
            if ints.len() <= max_intset {
                return SetValue(Repr::Ints(IntSet::from_sorted(&ints)));
            }
        }
        let mut table = IndexedSet::with_capacity(members.len());
        for member in members {
            if !table.contains(member) {
                table.insert(CompactBytes::new(member));
            }
        }
        SetValue(Repr::Table(Box::new(table)))
    }

    /// Re-chooses the form from the content, as Redis does when it loads a set: for RESTORE.
    pub fn refit(&mut self, max_intset: usize) {
        let fits = self.len() <= max_intset && self.iter().all(|m| parse_member(&m).is_some());
        if fits != self.is_intset() {
            let rebuilt = {
                let members: Vec<Member<'_>> = self.iter().collect();
                SetValue::from_members(members.iter().map(|m| &**m), max_intset)
            };
            *self = rebuilt;
        }
    }

    /// Heap bytes owned, members' bytes estimated from `samples` of them (0: all).
    pub fn heap_size(&self, samples: usize) -> usize {
        match &self.0 {
            Repr::Ints(ints) => ints.heap_size(),
            Repr::Table(table) => std::mem::size_of::<IndexedSet>() + table.heap_size(samples),
        }
    }

    /// How many members there are. O(1).
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Ints(ints) => ints.len(),
            Repr::Table(table) => table.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the set is an intset.
    pub fn is_intset(&self) -> bool {
        matches!(self.0, Repr::Ints(_))
    }

    /// The name OBJECT ENCODING reports for the form in use.
    pub fn encoding(&self) -> &'static str {
        if self.is_intset() {
            "intset"
        } else {
            "hashtable"
        }
    }

    /// Whether `member` is in the set: O(log n) for an intset, O(1) for a hash table.
    pub fn contains(&self, member: &[u8]) -> bool {
        match &self.0 {
            // A member that is not an integer cannot be in an intset.
            Repr::Ints(ints) => parse_member(member).is_some_and(|n| ints.contains(n)),
            Repr::Table(table) => table.contains(member),
        }
    }

    /// Adds `member`; false if it was there already. An intset becomes a hash table first
    /// when `member` is not an integer, and after the insertion when it then has more than
    /// `max_intset` members (Redis's `setTypeAdd`, which checks only after a real addition).
    pub fn insert(&mut self, member: &[u8], max_intset: usize) -> bool {
        if let Repr::Ints(ints) = &mut self.0 {
            if let Some(n) = parse_member(member) {
                let added = ints.insert(n);
                if added && ints.len() > max_intset {
                    self.convert(1);
                }
                return added;
            }
            self.convert(1);
        }
        match &mut self.0 {
            Repr::Table(table) => table.add(member),
            // `convert` made it a table just above.
            Repr::Ints(_) => false,
        }
    }

    /// Adds every one of `members` (SADD); how many were new. Like one [`SetValue::insert`]
    /// after another, but a set that will be a hash table by the end is made one first, with
    /// room for them all, so that it grows once: the final form and members are the same
    /// (an intset that meets a non-integer converts in either order), and a set of a few
    /// strings does not keep a doubled vector's slack.
    pub fn insert_all<M: std::ops::Deref<Target = [u8]>>(
        &mut self,
        members: &[M],
        max_intset: usize,
    ) -> usize {
        match &mut self.0 {
            Repr::Ints(_) => {
                if members.iter().any(|m| parse_member(m).is_none()) {
                    self.convert(members.len());
                }
            }
            Repr::Table(table) => table.reserve(members.len()),
        }
        members
            .iter()
            .filter(|m| self.insert(m, max_intset))
            .count()
    }

    /// Removes `member`; false if it was not there. Never changes the form.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.0 {
            Repr::Ints(ints) => parse_member(member).is_some_and(|n| ints.remove(n)),
            Repr::Table(table) => table.remove(member),
        }
    }

    /// Turns an intset into a hash table holding the same members, for good, with room for
    /// `more` members besides.
    fn convert(&mut self, more: usize) {
        if let Repr::Ints(ints) = &self.0 {
            let mut table = IndexedSet::with_capacity(ints.len() + more);
            for n in ints.iter() {
                table.insert(CompactBytes::new(&IntText::new(n)));
            }
            self.0 = Repr::Table(Box::new(table));
        }
    }

    /// Every member, in the form's order: ascending for an intset (Redis's order), storage
    /// order for a hash table.
    pub fn iter(&self) -> Iter<'_> {
        Iter(match &self.0 {
            Repr::Ints(ints) => IterRepr::Ints(ints, 0..ints.len()),
            Repr::Table(table) => IterRepr::Table(table.iter()),
        })
    }

    /// The member at `position` (`0..len`) in the form's order. O(1).
    pub fn member_at(&self, position: usize) -> Option<Member<'_>> {
        match &self.0 {
            Repr::Ints(ints) => ints.get(position).map(|n| Member::Int(IntText::new(n))),
            Repr::Table(table) => table.member_at(position).map(|m| Member::Bytes(m)),
        }
    }

    /// A uniformly random member; `None` when empty. O(1).
    pub(crate) fn random(&self, rng: &mut Rng) -> Option<Member<'_>> {
        if self.is_empty() {
            return None;
        }
        self.member_at(rng.below(self.len()))
    }

    /// Removes and returns a uniformly random member; `None` when empty. O(1) for a hash
    /// table, O(n) for an intset (which shifts its array, as Redis's does).
    pub(crate) fn pop_random(&mut self, rng: &mut Rng) -> Option<CompactBytes> {
        match &mut self.0 {
            Repr::Ints(ints) => {
                if ints.is_empty() {
                    return None;
                }
                let n = ints.remove_at(rng.below(ints.len()))?;
                Some(CompactBytes::new(&IntText::new(n)))
            }
            Repr::Table(table) => table.pop_random(rng),
        }
    }

    /// Removes and returns `count` (fewer than `len`) distinct members chosen uniformly, in
    /// random order: SPOP with a count. O(count) from a hash table; from an intset one pass
    /// over its array, O(n), however many are taken.
    pub(crate) fn pop_many(&mut self, rng: &mut Rng, count: usize) -> Vec<CompactBytes> {
        match &mut self.0 {
            Repr::Ints(ints) => {
                let positions = crate::indexed::distinct_positions(rng, ints.len(), count);
                let popped = positions
                    .iter()
                    .filter_map(|&p| ints.get(p))
                    .map(|n| CompactBytes::new(&IntText::new(n)))
                    .collect();
                ints.remove_positions(&positions);
                popped
            }
            Repr::Table(table) => (0..count).filter_map(|_| table.pop_random(rng)).collect(),
        }
    }

    /// `count` distinct members chosen uniformly, in random order. O(count).
    pub(crate) fn distinct(&self, rng: &mut Rng, count: usize) -> Vec<Member<'_>> {
        crate::indexed::distinct_positions(rng, self.len(), count)
            .into_iter()
            .filter_map(|p| self.member_at(p))
            .collect()
    }

    /// The table of a hash-table set (SSCAN walks it); `None` for an intset, which SSCAN
    /// returns whole.
    pub(crate) fn table(&self) -> Option<&IndexedSet> {
        match &self.0 {
            Repr::Ints(_) => None,
            Repr::Table(table) => Some(table),
        }
    }
}

impl Default for SetValue {
    fn default() -> SetValue {
        SetValue::new()
    }
}

/// Equal when they hold the same members, whatever their forms and orders.
impl PartialEq for SetValue {
    fn eq(&self, other: &SetValue) -> bool {
        self.len() == other.len() && self.iter().all(|m| other.contains(&m))
    }
}

impl fmt::Debug for SetValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.encoding())?;
        f.debug_set().entries(self.iter()).finish()
    }
}

/// The members of a set, in its form's order (see [`SetValue::iter`]).
#[derive(Debug)]
pub struct Iter<'a>(IterRepr<'a>);

/// Where an [`Iter`] is, in either form.
#[derive(Debug)]
enum IterRepr<'a> {
    /// An intset and the indexes left to yield.
    Ints(&'a IntSet, std::ops::Range<usize>),
    /// A hash table's members.
    Table(crate::indexed::Keys<'a, ()>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = Member<'a>;

    fn next(&mut self) -> Option<Member<'a>> {
        match &mut self.0 {
            IterRepr::Ints(ints, range) => {
                let n = ints.get(range.next()?)?;
                Some(Member::Int(IntText::new(n)))
            }
            IterRepr::Table(keys) => keys.next().map(|m| Member::Bytes(m)),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = match &self.0 {
            IterRepr::Ints(_, range) => range.len(),
            IterRepr::Table(keys) => keys.len(),
        };
        (left, Some(left))
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(set: &SetValue) -> Vec<String> {
        set.iter()
            .map(|m| String::from_utf8_lossy(&m).into_owned())
            .collect()
    }

    #[test]
    fn a_set_is_32_bytes_in_either_form() {
        assert_eq!(std::mem::size_of::<SetValue>(), 32);
    }

    #[test]
    fn intsets_convert_on_a_string_or_past_the_threshold() {
        let mut set = SetValue::new();
        assert!(set.insert(b"3", 3));
        assert!(set.insert(b"-1", 3));
        assert!(!set.insert(b"3", 3));
        assert!(set.insert(b"2", 3));
        assert_eq!(set.encoding(), "intset");
        assert_eq!(members(&set), ["-1", "2", "3"]);
        assert!(!set.insert(b"2", 3), "an existing member converts nothing");
        assert!(set.insert(b"4", 3));
        assert_eq!(set.encoding(), "hashtable", "4 members passes 3");
        assert!(set.remove(b"4"));
        assert_eq!(set.encoding(), "hashtable", "never back");
        let mut set = SetValue::new();
        set.insert(b"1", 512);
        assert!(set.insert(b"01", 512));
        assert_eq!(set.encoding(), "hashtable", "01 is not an integer to Redis");
        assert!(set.contains(b"1") && set.contains(b"01") && !set.contains(b"2"));
        let mut set = SetValue::new();
        assert!(set.insert(b"7", 0));
        assert_eq!(
            set.encoding(),
            "hashtable",
            "a threshold of 0 converts the first"
        );
    }

    #[test]
    fn built_sets_take_the_form_of_their_content() {
        let ints: Vec<&[u8]> = vec![b"5", b"1", b"5", b"-2"];
        let set = SetValue::from_members(ints.clone(), 3);
        assert_eq!(set.encoding(), "intset");
        assert_eq!(members(&set), ["-2", "1", "5"]);
        assert_eq!(SetValue::from_members(ints, 2).encoding(), "hashtable");
        let mixed: Vec<&[u8]> = vec![b"5", b"a"];
        let mut set = SetValue::from_members(mixed, 512);
        assert_eq!(set.encoding(), "hashtable");
        set.remove(b"a");
        set.refit(512);
        assert_eq!(set.encoding(), "intset", "loading picks the form again");
        set.refit(0);
        assert_eq!(set.encoding(), "hashtable");
        assert_eq!(members(&set), ["5"]);
    }

    #[test]
    fn picks_and_pops_in_both_forms() {
        let mut rng = Rng::new();
        for max in [512, 0] {
            let words: Vec<Vec<u8>> = (0..20).map(|i| i.to_string().into_bytes()).collect();
            let mut set = SetValue::from_members(words.iter().map(|w| &w[..]), max);
            let picked = set.distinct(&mut rng, 5);
            assert_eq!(picked.len(), 5);
            assert!(picked.iter().all(|m| set.contains(m)));
            let random = set.random(&mut rng).map(|m| m.to_vec());
            assert!(random.is_some_and(|m| set.contains(&m)));
            let mut popped = Vec::new();
            while let Some(m) = set.pop_random(&mut rng) {
                assert!(!set.contains(&m));
                popped.push(m);
            }
            assert_eq!(popped.len(), 20);
            assert!(set.is_empty() && set.random(&mut rng).is_none());
            let mut set = SetValue::from_members(words.iter().map(|w| &w[..]), max);
            let popped = set.pop_many(&mut rng, 15);
            assert_eq!(popped.len(), 15);
            assert_eq!(set.len(), 5);
            assert!(popped.iter().all(|m| !set.contains(m)));
            let mut all: Vec<Vec<u8>> = popped.iter().map(|m| m.to_vec()).collect();
            all.extend(set.iter().map(|m| m.to_vec()));
            all.sort();
            all.dedup();
            assert_eq!(all.len(), 20, "every member popped or kept, once");
        }
    }
}
