//! The sorted-set value: members with scores, ordered by `(score, member)`.
//!
//! Redis keeps a sorted set in one of two encodings, and so does kv:
//!
//! - **Small** (`listpack` in OBJECT ENCODING): a `Vec` of `(member, score)` sorted by
//!   `(score, member)`. Lookups by member are linear, as in Redis's listpack, which is fine
//!   because the form is only used while the set has at most `zset-max-listpack-entries` (128)
//!   members of at most `zset-max-listpack-value` (64) bytes. 32 bytes an element, one
//!   allocation for the whole set.
//! - **Large** (`skiplist`): Redis's own structure, a skiplist whose links carry spans (how many
//!   elements each link jumps), so the rank of an element and the element at a rank are found
//!   in O(log n) by summing spans on the way down, plus a hash index from member to node for
//!   O(1) score lookups. Each node is a *tower* of 64-bit words in one arena: its score, its
//!   member's length and its height, its level-0 forward and backward links, one word (next,
//!   span) per higher level, as Redis keeps a node's levels inline, then the member's bytes
//!   padded to a word. Links are `u32` word offsets, so a descent reads only towers: one cache
//!   miss a step, where a node whose higher links sat in a separate allocation cost two (and
//!   ZRANK ran at 0.56 of Redis's speed). A one-level node (three in four) with a 14-byte
//!   member is 40 bytes, all told. The member is read only when scores tie or to check a
//!   hash-index candidate, which then costs no further lookup; the index stores tower offsets
//!   (4 bytes a slot), so a member is stored once. The arena is bytes, read a word at a time
//!   (no `unsafe` but the prefetch hint in `prefetch`). A removed node's tower is reused by the
//!   next node of the same size; when free towers outweigh live ones the arena is renumbered in
//!   one pass (links rewritten, no comparisons), so memory follows the set down at an amortized
//!   O(1) a removal. See BENCHMARKS.md for the resident bytes an element against Redis.
//!
//! A set starts small unless its first member is already too long, converts to large when an
//! insertion would pass either threshold, and never converts back, as in Redis; results built
//! whole (the `*STORE` commands, RESTORE) take the form their content calls for
//! ([`ZSetValue::from_sorted`]). The small form stores a zero score as `+0`, as Redis's listpack
//! does (it keeps integral scores as integers), while the large form keeps `-0`; the difference
//! shows in a reply, so it is kept.
//!
//! Order: by score (IEEE comparison, so `-0 == 0`), then by member bytes (`memcmp`, shorter
//! first on a common prefix), Redis's tie rule. Scores are never NaN.
//!
//! Lexicographic ranges are only meaningful when every score is equal (Redis says so too); for
//! other sets both forms answer exactly as Redis's algorithms for the same form do: linear
//! scans over the small form, skiplist descents over the large one.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

use hashbrown::raw::RawTable;

use crate::random::Rng;
use crate::CompactBytes;

/// The encoding thresholds, from `zset-max-listpack-entries` and `zset-max-listpack-value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most members the small form holds.
    pub max_entries: usize,
    /// Longest member, in bytes, the small form holds.
    pub max_value: usize,
}

impl Limits {
    /// Redis's defaults: 128 members of at most 64 bytes.
    pub const DEFAULT: Limits = Limits {
        max_entries: 128,
        max_value: 64,
    };

    /// Whether `len` members, the longest `longest` bytes, fit the small form.
    fn fit(self, len: usize, longest: usize) -> bool {
        len <= self.max_entries && longest <= self.max_value
    }
}

/// Members with their scores, as one ZSCAN step returns them.
pub type ScanBatch<'a> = Vec<(&'a [u8], f64)>;

/// The most members one sorted set may hold: node indexes and spans are 32-bit.
pub const MAX_LEN: usize = (u32::MAX - 2) as usize;

/// The order of sorted-set elements: by score, then by member bytes.
pub fn cmp_elements(a_score: f64, a_member: &[u8], b_score: f64, b_member: &[u8]) -> Ordering {
    // Scores are never NaN, so the comparison always has an answer.
    a_score
        .partial_cmp(&b_score)
        .unwrap_or(Ordering::Equal)
        .then_with(|| a_member.cmp(b_member))
}

/// A score interval, each end open or closed (`(1.5` is open): Redis's `zrangespec`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreRange {
    /// Lower end.
    pub min: f64,
    /// Upper end.
    pub max: f64,
    /// Whether `min` itself is excluded.
    pub min_exclusive: bool,
    /// Whether `max` itself is excluded.
    pub max_exclusive: bool,
}

impl ScoreRange {
    /// Whether `score` is at or above the lower end.
    pub fn above_min(&self, score: f64) -> bool {
        if self.min_exclusive {
            score > self.min
        } else {
            score >= self.min
        }
    }

    /// Whether `score` is at or below the upper end.
    pub fn below_max(&self, score: f64) -> bool {
        if self.max_exclusive {
            score < self.max
        } else {
            score <= self.max
        }
    }

    /// Whether no score can be in the range.
    pub fn is_empty(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.min_exclusive || self.max_exclusive))
    }
}

/// One end of a lexicographic range: `-`, `+`, `[member` or `(member`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexBound {
    /// `-`: below every member.
    Min,
    /// `+`: above every member.
    Max,
    /// `[member` (inclusive) or `(member` (exclusive).
    Member {
        /// The bytes after the bracket.
        bytes: Vec<u8>,
        /// Whether the member itself is excluded.
        exclusive: bool,
    },
}

impl LexBound {
    /// Whether the bound excludes its own value; `-` and `+` count as exclusive, as in Redis.
    fn exclusive(&self) -> bool {
        match self {
            LexBound::Min | LexBound::Max => true,
            LexBound::Member { exclusive, .. } => *exclusive,
        }
    }

    /// How `member` compares with the bound (Redis's `sdscmplex`).
    fn cmp_member(&self, member: &[u8]) -> Ordering {
        match self {
            LexBound::Min => Ordering::Greater,
            LexBound::Max => Ordering::Less,
            LexBound::Member { bytes, .. } => member.cmp(bytes),
        }
    }
}

/// A lexicographic interval: Redis's `zlexrangespec`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexRange {
    /// Lower end.
    pub min: LexBound,
    /// Upper end.
    pub max: LexBound,
}

impl LexRange {
    /// Whether `member` is at or above the lower end.
    pub fn above_min(&self, member: &[u8]) -> bool {
        let cmp = self.min.cmp_member(member);
        if self.min.exclusive() {
            cmp == Ordering::Greater
        } else {
            cmp != Ordering::Less
        }
    }

    /// Whether `member` is at or below the upper end.
    pub fn below_max(&self, member: &[u8]) -> bool {
        let cmp = self.max.cmp_member(member);
        if self.max.exclusive() {
            cmp == Ordering::Less
        } else {
            cmp != Ordering::Greater
        }
    }

    /// Whether no member can be in the range (Redis compares the two ends with `sdscmplex`,
    /// where `-` and `+` are below and above everything and equal only to themselves).
    pub fn is_empty(&self) -> bool {
        let cmp = match (&self.min, &self.max) {
            (LexBound::Min, LexBound::Min) | (LexBound::Max, LexBound::Max) => Ordering::Equal,
            (LexBound::Min, _) | (_, LexBound::Max) => Ordering::Less,
            (LexBound::Max, _) | (_, LexBound::Min) => Ordering::Greater,
            (LexBound::Member { bytes: a, .. }, LexBound::Member { bytes: b, .. }) => a.cmp(b),
        };
        cmp == Ordering::Greater
            || (cmp == Ordering::Equal && (self.min.exclusive() || self.max.exclusive()))
    }
}

/// One element of the small form.
#[derive(Debug, Clone, PartialEq)]
struct Item {
    /// The member's bytes.
    member: CompactBytes,
    /// Its score; never NaN, never -0.
    score: f64,
}

/// A sorted set. Never empty once stored: the command that removes its last member deletes
/// the key.
#[derive(Clone)]
pub struct ZSetValue(Repr);

/// The two forms a sorted set takes.
#[derive(Clone)]
enum Repr {
    /// Sorted `(member, score)` pairs (Redis's listpack encoding).
    Small(Vec<Item>),
    /// The skiplist and its hash index (Redis's skiplist encoding).
    Large(SkipList),
}

/// Iterates a sorted set's elements from a rank, forward or backward.
#[derive(Debug)]
pub struct Iter<'a> {
    /// Where the walk is.
    inner: IterInner<'a>,
    /// Whether it walks from high to low.
    reverse: bool,
}

/// The position of an [`Iter`] in either form.
#[derive(Debug)]
enum IterInner<'a> {
    /// The small form.
    Small {
        /// The elements.
        items: &'a [Item],
        /// The next index to yield; `None` once a backward walk has passed the front.
        next: Option<usize>,
    },
    /// The large form.
    Large {
        /// The skiplist.
        list: &'a SkipList,
        /// The next node to yield, `NIL` at the end.
        node: u32,
    },
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<(&'a [u8], f64)> {
        match &mut self.inner {
            IterInner::Small { items, next } => {
                let at = (*next)?;
                let item = items.get(at)?;
                *next = if self.reverse {
                    at.checked_sub(1)
                } else {
                    Some(at + 1)
                };
                Some((item.member.as_bytes(), item.score))
            }
            IterInner::Large { list, node } => {
                if *node == NIL {
                    return None;
                }
                let current = *node;
                *node = if self.reverse {
                    list.prev(current)
                } else {
                    list.next(current, 0)
                };
                Some((list.member(current), list.score(current)))
            }
        }
    }
}

impl ZSetValue {
    /// An empty set in the form Redis creates for a first insertion of `first_member`: large
    /// when small sets are disabled (`max_entries` 0) or the member is already too long.
    pub fn for_first_member(first_member: &[u8], limits: Limits) -> ZSetValue {
        if limits.max_entries == 0 || first_member.len() > limits.max_value {
            ZSetValue(Repr::Large(SkipList::new()))
        } else {
            ZSetValue(Repr::Small(Vec::new()))
        }
    }

    /// A set holding `items` (sorted by `(score, member)`, members distinct), in the form
    /// their content calls for: small when they fit `limits`, else large.
    pub fn from_sorted(items: Vec<(CompactBytes, f64)>, limits: Limits) -> ZSetValue {
        let longest = items.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
        if limits.fit(items.len(), longest) {
            let items = items
                .into_iter()
                .map(|(member, score)| Item {
                    member,
                    score: small_score(score),
                })
                .collect();
            ZSetValue(Repr::Small(items))
        } else {
            ZSetValue::large_from_sorted(items)
        }
    }

    /// Re-chooses the form from the content, as Redis does when it loads a value.
    pub fn refit(&mut self, limits: Limits) {
        let longest = self.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
        if limits.fit(self.len(), longest) == self.is_small() {
            return;
        }
        let items: Vec<(CompactBytes, f64)> = self
            .iter()
            .map(|(m, s)| (CompactBytes::new(m), s))
            .collect();
        *self = ZSetValue::from_sorted(items, limits);
    }

    /// A set holding `items` (sorted, distinct) in the large form, whatever their number, with
    /// scores exactly as given; [`ZSetValue::refit`] then picks the form.
    pub fn large_from_sorted(items: Vec<(CompactBytes, f64)>) -> ZSetValue {
        let mut list = SkipList::new();
        for (member, score) in items {
            // A result past the set's capacity (only a union of two near-full sets makes one)
            // keeps what fits.
            if !list.insert(member.as_bytes(), score) {
                break;
            }
        }
        ZSetValue(Repr::Large(list))
    }

    /// How many members there are.
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Small(items) => items.len(),
            Repr::Large(list) => list.len,
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the set is in the small form.
    pub fn is_small(&self) -> bool {
        matches!(self.0, Repr::Small(_))
    }

    /// The name OBJECT ENCODING reports for the form in use.
    pub fn encoding(&self) -> &'static str {
        if self.is_small() {
            "listpack"
        } else {
            "skiplist"
        }
    }

    /// The score of `member`, if present.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.0 {
            Repr::Small(items) => items
                .iter()
                .find(|it| it.member.as_bytes() == member)
                .map(|it| it.score),
            Repr::Large(list) => list.find(member).map(|id| list.score(id)),
        }
    }

    /// Adds `member`, which must not be present, converting to the large form first when the
    /// small one would pass `limits` (Redis checks before inserting). False, with nothing
    /// added, when the set is full: [`MAX_LEN`] members, or (near a billion members) no room
    /// left for 32-bit tower offsets.
    pub fn insert(&mut self, member: &[u8], score: f64, limits: Limits) -> bool {
        if self.len() >= MAX_LEN {
            return false;
        }
        if let Repr::Small(items) = &self.0 {
            if items.len() + 1 > limits.max_entries || member.len() > limits.max_value {
                self.convert_to_large();
            }
        }
        match &mut self.0 {
            Repr::Small(items) => {
                let score = small_score(score);
                let at = items.partition_point(|it| {
                    cmp_elements(it.score, &it.member, score, member) == Ordering::Less
                });
                items.insert(
                    at,
                    Item {
                        member: CompactBytes::new(member),
                        score,
                    },
                );
            }
            Repr::Large(list) => return list.insert(member, score),
        }
        true
    }

    /// Changes the score of `member`, which must be present, moving it to its new place.
    pub fn set_score(&mut self, member: &[u8], score: f64) {
        match &mut self.0 {
            Repr::Small(items) => {
                let Some(at) = items.iter().position(|it| it.member.as_bytes() == member) else {
                    return;
                };
                let mut item = items.remove(at);
                item.score = small_score(score);
                let to = items.partition_point(|it| {
                    cmp_elements(it.score, &it.member, item.score, &item.member) == Ordering::Less
                });
                items.insert(to, item);
            }
            Repr::Large(list) => list.set_score(member, score),
        }
    }

    /// Removes `member`; its score if it was present.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match &mut self.0 {
            Repr::Small(items) => {
                let at = items.iter().position(|it| it.member.as_bytes() == member)?;
                Some(items.remove(at).score)
            }
            Repr::Large(list) => list.remove(member),
        }
    }

    /// The 0-based rank of `member` in ascending order, if present. O(log n).
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        match &self.0 {
            Repr::Small(items) => items.iter().position(|it| it.member.as_bytes() == member),
            Repr::Large(list) => list.rank(member),
        }
    }

    /// The element at 0-based `rank`. O(log n).
    pub fn get(&self, rank: usize) -> Option<(&[u8], f64)> {
        match &self.0 {
            Repr::Small(items) => items.get(rank).map(|it| (it.member.as_bytes(), it.score)),
            Repr::Large(list) => {
                let node = list.select(rank.checked_add(1)?)?;
                Some((list.member(node), list.score(node)))
            }
        }
    }

    /// The elements from 0-based `rank` on, ascending, or descending when `reverse`. Finding
    /// the start is O(log n), each step O(1).
    pub fn iter_from(&self, rank: usize, reverse: bool) -> Iter<'_> {
        let inner = match &self.0 {
            Repr::Small(items) => IterInner::Small {
                items,
                next: (rank < items.len()).then_some(rank),
            },
            Repr::Large(list) => IterInner::Large {
                list,
                node: rank
                    .checked_add(1)
                    .and_then(|r| list.select(r))
                    .unwrap_or(NIL),
            },
        };
        Iter { inner, reverse }
    }

    /// Every element in ascending order.
    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0, false)
    }

    /// Removes the elements of 0-based ranks `start..=end` (which must lie within the set);
    /// returns how many went. O(log n + m).
    pub fn remove_ranks(&mut self, start: usize, end: usize) -> usize {
        if start > end || start >= self.len() {
            return 0;
        }
        let end = end.min(self.len() - 1);
        match &mut self.0 {
            Repr::Small(items) => items.drain(start..=end).count(),
            Repr::Large(list) => list.remove_ranks(start, end),
        }
    }

    /// The rank of the first element within `range`, if any. O(log n).
    pub fn first_in_score_range(&self, range: &ScoreRange) -> Option<usize> {
        if range.is_empty() || !self.score_range_overlaps(range) {
            return None;
        }
        let at = match &self.0 {
            Repr::Small(items) => items.partition_point(|it| !range.above_min(it.score)),
            Repr::Large(list) => list.walk(|n| !range.above_min(n.score())).1,
        };
        let (_, score) = self.get(at)?;
        range.below_max(score).then_some(at)
    }

    /// The rank of the last element within `range`, if any. O(log n).
    pub fn last_in_score_range(&self, range: &ScoreRange) -> Option<usize> {
        if range.is_empty() || !self.score_range_overlaps(range) {
            return None;
        }
        let passed = match &self.0 {
            Repr::Small(items) => items.partition_point(|it| range.below_max(it.score)),
            Repr::Large(list) => list.walk(|n| range.below_max(n.score())).1,
        };
        let at = passed.checked_sub(1)?;
        let (_, score) = self.get(at)?;
        range.above_min(score).then_some(at)
    }

    /// Whether the first element is not above the range and the last not below it.
    fn score_range_overlaps(&self, range: &ScoreRange) -> bool {
        let (Some((_, first)), Some((_, last))) = (self.get(0), self.last()) else {
            return false;
        };
        range.above_min(last) && range.below_max(first)
    }

    /// The last element.
    fn last(&self) -> Option<(&[u8], f64)> {
        self.len().checked_sub(1).and_then(|r| self.get(r))
    }

    /// How many elements lie within `range`. O(log n).
    pub fn count_in_score_range(&self, range: &ScoreRange) -> usize {
        match (
            self.first_in_score_range(range),
            self.last_in_score_range(range),
        ) {
            (Some(first), Some(last)) => (last + 1).saturating_sub(first),
            _ => 0,
        }
    }

    /// The rank of the first element within `range`, as Redis finds it: a scan from the head of
    /// the small form, a skiplist descent in the large one. O(log n) for the large form.
    pub fn first_in_lex_range(&self, range: &LexRange) -> Option<usize> {
        if range.is_empty() || !self.lex_range_overlaps(range) {
            return None;
        }
        let at = match &self.0 {
            Repr::Small(items) => items
                .iter()
                .position(|it| range.above_min(&it.member))
                .unwrap_or(items.len()),
            Repr::Large(list) => list.walk(|n| !range.above_min(n.member())).1,
        };
        let (member, _) = self.get(at)?;
        range.below_max(member).then_some(at)
    }

    /// The rank of the last element within `range`, as Redis finds it (see
    /// [`ZSetValue::first_in_lex_range`]).
    pub fn last_in_lex_range(&self, range: &LexRange) -> Option<usize> {
        if range.is_empty() || !self.lex_range_overlaps(range) {
            return None;
        }
        let at = match &self.0 {
            Repr::Small(items) => items.iter().rposition(|it| range.below_max(&it.member))?,
            Repr::Large(list) => list
                .walk(|n| range.below_max(n.member()))
                .1
                .checked_sub(1)?,
        };
        let (member, _) = self.get(at)?;
        range.above_min(member).then_some(at)
    }

    /// Whether the last member is not below the range and the first not above it.
    fn lex_range_overlaps(&self, range: &LexRange) -> bool {
        let (Some((first, _)), Some((last, _))) = (self.get(0), self.last()) else {
            return false;
        };
        range.above_min(last) && range.below_max(first)
    }

    /// How many elements lie within `range`, as Redis counts them: from the first in range
    /// while below the upper end in the small form, by rank difference in the large one.
    pub fn count_in_lex_range(&self, range: &LexRange) -> usize {
        let Some(first) = self.first_in_lex_range(range) else {
            return 0;
        };
        if self.is_small() {
            return self
                .iter_from(first, false)
                .take_while(|(m, _)| range.below_max(m))
                .count();
        }
        // Redis's arithmetic: everything from the first on, less what follows the last.
        match self.last_in_lex_range(range) {
            Some(last) => (last + 1).saturating_sub(first),
            None => self.len() - first,
        }
    }

    /// One ZSCAN step over the large form (see `scan::collection_step`): the next cursor and
    /// the members with their scores; `None` for the small form, which ZSCAN returns whole.
    pub fn scan_step(&self, cursor: u64, count: usize) -> Option<(u64, ScanBatch<'_>)> {
        let Repr::Large(list) = &self.0 else {
            return None;
        };
        Some(crate::scan::collection_step(
            cursor,
            count,
            |from| list.buckets_from(from),
            || {
                self.iter()
                    .map(|(member, score)| (list.hasher.hash_one(member), (member, score)))
            },
        ))
    }

    /// Converts the small form to the large one.
    fn convert_to_large(&mut self) {
        if let Repr::Small(items) = &mut self.0 {
            let mut list = SkipList::new();
            // A small set is far below the large form's capacity.
            for item in std::mem::take(items) {
                list.insert(item.member.as_bytes(), item.score);
            }
            self.0 = Repr::Large(list);
        }
    }

    /// Heap bytes the set owns, estimated from its allocations (for memory reports and tests).
    pub fn heap_size(&self) -> usize {
        match &self.0 {
            Repr::Small(items) => {
                items.capacity() * std::mem::size_of::<Item>()
                    + items.iter().map(|it| it.member.heap_size()).sum::<usize>()
            }
            Repr::Large(list) => list.heap_size(),
        }
    }
}

/// A score as the small form stores it: Redis's listpack keeps integral scores as integers, so
/// `-0` reads back as `0`.
fn small_score(score: f64) -> f64 {
    if score == 0.0 {
        0.0
    } else {
        score
    }
}

impl std::fmt::Debug for ZSetValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let items: Vec<(String, f64)> = self
            .iter()
            .map(|(m, s)| (String::from_utf8_lossy(m).into_owned(), s))
            .collect();
        f.debug_struct("ZSetValue")
            .field("encoding", &self.encoding())
            .field("items", &items)
            .finish()
    }
}

/// Sets are equal when they hold the same members with the same scores, whatever their form.
impl PartialEq for ZSetValue {
    fn eq(&self, other: &ZSetValue) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

// ---------------------------------------------------------------------------------------------
// The large form: an indexed skiplist whose nodes are packed in one arena
// ---------------------------------------------------------------------------------------------

/// Most levels a node can have (Redis's `ZSKIPLIST_MAXLEVEL`).
const MAX_LEVEL: usize = 32;

/// "No node": the end of a chain, and the member slot of a free tower.
const NIL: u32 = u32::MAX;

/// The head's tower, at offset 0: no element, a link at every level.
const HEAD: u32 = 0;

// A node is a *tower*: a run of 64-bit words in `SkipList::arena`, named by the offset of its
// first word (so an arena holds at most 32 GiB). Links hold offsets, so a descent reads nothing
// but towers: the next node's score and, when it moves there, that node's link at the current
// level, both a few words from the tower's start (one cache miss a step, as in Redis, whose
// nodes hold their levels inline). The member's bytes end the tower, so checking a hash-index
// candidate costs one more miss at most, and a tie between two scores none.
//
// The arena is bytes, read a word at a time, so that a member is a plain `&[u8]` of it.

/// Word of a tower holding the score, as `f64` bits.
const SCORE: usize = 0;
/// Word holding the member's length (low half) and the tower's level count (high half, with
/// [`FREE`] set once the tower is free).
const SHAPE: usize = 1;
/// The flag of a free tower in the high half of its [`SHAPE`] word.
const FREE: u32 = 1 << 31;
/// Word holding the level-0 links: the next element (low half) and the previous one (high
/// half). Level 0's span is 1 (0 for the last element), so it is not stored.
const LEVEL0: usize = 2;
/// First word of the links at levels 1 and up, one word a level: the next node (low half) and
/// how many elements the link skips (high half; for a link to `NIL`, how many elements follow).
/// The member's bytes follow the last link, padded to a whole word.
const UPPER: usize = 3;

/// Words in a tower of `levels` levels whose member is `member_len` bytes.
const fn tower_words(levels: usize, member_len: usize) -> usize {
    UPPER + levels - 1 + member_len.div_ceil(8)
}

/// Word `i` of `arena`.
fn word(arena: &[u8], i: usize) -> u64 {
    let at = i * 8;
    arena
        .get(at..at + 8)
        .and_then(|w| <[u8; 8]>::try_from(w).ok())
        .map_or(0, u64::from_ne_bytes)
}

/// Sets word `i` of `arena`.
fn set_word(arena: &mut [u8], i: usize, value: u64) {
    let at = i * 8;
    if let Some(w) = arena.get_mut(at..at + 8) {
        w.copy_from_slice(&value.to_ne_bytes());
    }
}

/// Starts loading the tower at `x` into the cache, so that a descent has its next candidate
/// on the way while it compares the current one (a descent is a chain of dependent loads,
/// which otherwise wait one after another). A no-op for `NIL` and on other processors.
#[inline(always)]
fn prefetch(arena: &[u8], x: u32) {
    #[cfg(target_arch = "x86_64")]
    if x != NIL {
        let at = arena.as_ptr().wrapping_add(x as usize * 8);
        #[allow(unsafe_code)]
        // SAFETY: `_mm_prefetch` needs SSE, which every x86_64 processor has (it is in the
        // target's baseline), and a prefetch is a hint that never faults and never reads into
        // the program, whatever the address: there is nothing else to uphold.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(at.cast());
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (arena, x);
}

/// The member of the tower at `x` in `arena`.
fn member_of(arena: &[u8], x: u32) -> &[u8] {
    let shape = word(arena, x as usize + SHAPE);
    let levels = (high(shape) & !FREE) as usize;
    let start = (x as usize + UPPER + levels - 1) * 8;
    &arena[start..start + low(shape) as usize]
}

/// Two 32-bit halves in one word.
fn pack(low: u32, high: u32) -> u64 {
    u64::from(low) | (u64::from(high) << 32)
}

/// The low half of a word.
fn low(word: u64) -> u32 {
    word as u32
}

/// The high half of a word.
fn high(word: u64) -> u32 {
    (word >> 32) as u32
}

/// Redis's `zskiplist` plus its `dict`, with every node in one arena.
#[derive(Clone)]
struct SkipList {
    /// Every tower, back to back; the head's is first. Free towers keep their shape and are
    /// reused by a node of the same size.
    arena: Vec<u8>,
    /// Free towers, by their size in words.
    free: HashMap<usize, Vec<u32>>,
    /// Words in free towers.
    free_words: usize,
    /// Member to tower, hashed with `hasher` and compared through the arena. hashbrown's raw
    /// table, so that ZSCAN can walk its buckets ([`SkipList::buckets_from`]).
    index: RawTable<u32>,
    /// How many times `index` may have been rebuilt (grown, rehashed, shrunk), moving towers
    /// to other buckets: a ZSCAN cursor holds it.
    layout: u32,
    /// Randomly seeded, as members come from clients.
    hasher: RandomState,
    /// Levels in use (at least 1).
    level: usize,
    /// Elements.
    len: usize,
    /// The last element's tower, `NIL` when empty.
    tail: u32,
    /// Draws node levels.
    rng: Rng,
}

impl std::fmt::Debug for SkipList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SkipList")
            .field("len", &self.len)
            .field("level", &self.level)
            .field("arena_bytes", &self.arena.len())
            .field("free_words", &self.free_words)
            .field("index_buckets", &self.index.buckets())
            .field("layout", &self.layout)
            .finish()
    }
}

/// A node seen during a descent: its score is at hand, its member is read only if asked for.
#[derive(Clone, Copy)]
struct NodeRef<'a> {
    /// The list.
    list: &'a SkipList,
    /// The node's tower.
    id: u32,
}

impl<'a> NodeRef<'a> {
    /// The node's score.
    fn score(self) -> f64 {
        self.list.score(self.id)
    }

    /// The node's member.
    fn member(self) -> &'a [u8] {
        self.list.member(self.id)
    }
}

impl SkipList {
    /// An empty list: the head alone, with a link at every level.
    fn new() -> SkipList {
        let mut list = SkipList {
            arena: Vec::new(),
            free: HashMap::new(),
            free_words: 0,
            index: RawTable::new(),
            layout: 0,
            hasher: RandomState::new(),
            level: 1,
            len: 0,
            tail: NIL,
            rng: Rng::new(),
        };
        list.alloc(b"", 0.0, MAX_LEVEL);
        list
    }

    /// Word `i` of the arena.
    fn word(&self, i: usize) -> u64 {
        word(&self.arena, i)
    }

    /// Sets word `i` of the arena.
    fn set_word(&mut self, i: usize, value: u64) {
        set_word(&mut self.arena, i, value);
    }

    /// The score of node `x`.
    fn score(&self, x: u32) -> f64 {
        f64::from_bits(self.word(x as usize + SCORE))
    }

    /// Sets the score of node `x`.
    fn set_score_of(&mut self, x: u32, score: f64) {
        self.set_word(x as usize + SCORE, score.to_bits());
    }

    /// The member of node `x` (empty for the head).
    fn member(&self, x: u32) -> &[u8] {
        member_of(&self.arena, x)
    }

    /// How many levels node `x` has.
    fn levels(&self, x: u32) -> usize {
        (high(self.word(x as usize + SHAPE)) & !FREE) as usize
    }

    /// How many words node `x`'s tower takes.
    fn words(&self, x: u32) -> usize {
        tower_words(self.levels(x), low(self.word(x as usize + SHAPE)) as usize)
    }

    /// The word of node `x` holding its link at `level`, which the node must have.
    fn link_word(x: u32, level: usize) -> usize {
        x as usize
            + match level {
                0 => LEVEL0,
                _ => UPPER + level - 1,
            }
    }

    /// The next node of `x` at `level`.
    fn next(&self, x: u32, level: usize) -> u32 {
        debug_assert!(level < self.levels(x));
        low(self.word(SkipList::link_word(x, level)))
    }

    /// The element before `x`, `NIL` for the first.
    fn prev(&self, x: u32) -> u32 {
        high(self.word(x as usize + LEVEL0))
    }

    /// Sets the element before `x`.
    fn set_prev(&mut self, x: u32, prev: u32) {
        let i = x as usize + LEVEL0;
        let next = low(self.word(i));
        self.set_word(i, pack(next, prev));
    }

    /// How many elements the link of `x` at `level` skips.
    fn span(&self, x: u32, level: usize) -> usize {
        match level {
            0 => usize::from(self.next(x, 0) != NIL),
            _ => high(self.word(SkipList::link_word(x, level))) as usize,
        }
    }

    /// Sets the link of `x` at `level` (the span is implied at level 0).
    fn set_link(&mut self, x: u32, level: usize, next: u32, span: usize) {
        debug_assert!(level < self.levels(x));
        let i = SkipList::link_word(x, level);
        let value = match level {
            0 => pack(next, high(self.word(i))),
            // Spans never exceed the length, which MAX_LEN keeps within u32.
            _ => pack(next, span as u32),
        };
        self.set_word(i, value);
    }

    /// Sets only the span of `x` at `level` (level 0 has none to set).
    fn set_span(&mut self, x: u32, level: usize, span: usize) {
        if level > 0 {
            let next = self.next(x, level);
            self.set_link(x, level, next, span);
        }
    }

    /// A random level, 1 with probability 3/4, each further level a quarter as likely as the
    /// one before (Redis's `ZSKIPLIST_P`).
    fn random_level(&mut self) -> usize {
        let mut bits = self.rng.next_u64();
        let mut level = 1;
        while level < MAX_LEVEL && bits & 3 == 0 {
            level += 1;
            bits >>= 2;
        }
        level
    }

    /// Whether a node for a member of `member_len` bytes fits: tower offsets must stay below
    /// `NIL`.
    fn has_room(&self, member_len: usize) -> bool {
        self.len < MAX_LEN
            && (self.arena.len() / 8)
                .checked_add(tower_words(MAX_LEVEL, member_len))
                .is_some_and(|end| end < NIL as usize)
    }

    /// A tower for a new node of `level` levels, unlinked: a free one of the same size, else a
    /// new one at the end of the arena.
    fn alloc(&mut self, member: &[u8], score: f64, level: usize) -> u32 {
        let words = tower_words(level, member.len());
        let at = match self.free.get_mut(&words).and_then(Vec::pop) {
            Some(at) => {
                self.free_words -= words;
                at as usize
            }
            None => {
                let at = self.arena.len() / 8;
                self.arena.resize((at + words) * 8, 0);
                at
            }
        };
        self.set_word(at + SCORE, score.to_bits());
        // `has_room` keeps lengths and offsets below NIL.
        self.set_word(at + SHAPE, pack(member.len() as u32, level as u32));
        self.set_word(at + LEVEL0, pack(NIL, NIL));
        for l in 1..level {
            self.set_word(at + UPPER + l - 1, pack(NIL, 0));
        }
        let start = (at + UPPER + level - 1) * 8;
        let padded = member.len().div_ceil(8) * 8;
        self.arena[start..start + member.len()].copy_from_slice(member);
        self.arena[start + member.len()..start + padded].fill(0);
        at as u32
    }

    /// The node holding `member`.
    fn find(&self, member: &[u8]) -> Option<u32> {
        let hash = self.hasher.hash_one(member);
        self.index
            .get(hash, |&id| self.member(id) == member)
            .copied()
    }

    /// The index's buckets from `from` on, in index order: the member and score of the node
    /// each points at, if any; with the number of buckets and the index's layout generation
    /// (see `scan::collection_step`).
    fn buckets_from(
        &self,
        from: usize,
    ) -> (usize, u32, impl Iterator<Item = Option<(&[u8], f64)>> + '_) {
        let buckets = self.index.buckets();
        let nodes = (from.min(buckets)..buckets).map(move |bucket| {
            let &id = crate::raw_bucket::full_bucket(&self.index, bucket)?;
            Some((self.member(id), self.score(id)))
        });
        (buckets, self.layout, nodes)
    }

    /// Whether node `x` comes before `(score, member)`; its member is read only on a tie.
    fn before(&self, x: u32, score: f64, member: &[u8]) -> bool {
        let x_score = self.score(x);
        x_score < score || (x_score == score && self.member(x) < member)
    }

    /// During a descent at `level`, standing on `x` and about to compare `next` (its next
    /// node there): starts loading both nodes the descent may compare after it, the one after
    /// `next` at this level (if it moves to `next`) and the one after `x` a level down (if it
    /// does not).
    #[inline(always)]
    fn prefetch_candidates(&self, x: u32, next: u32, level: usize) {
        if level > 0 {
            prefetch(&self.arena, self.next(x, level - 1));
        }
        prefetch(&self.arena, self.next(next, level));
    }

    /// Walks from the head, moving forward at each level while `go` holds for the next node;
    /// returns the node reached and how many elements were passed (its 1-based rank, 0 for
    /// the head).
    fn walk(&self, mut go: impl FnMut(NodeRef<'_>) -> bool) -> (u32, usize) {
        let mut x = HEAD;
        let mut rank = 0;
        for level in (0..self.level).rev() {
            loop {
                let next = self.next(x, level);
                if next == NIL {
                    break;
                }
                self.prefetch_candidates(x, next, level);
                if !go(NodeRef {
                    list: self,
                    id: next,
                }) {
                    break;
                }
                rank += self.span(x, level);
                x = next;
            }
        }
        (x, rank)
    }

    /// The last node before `(score, member)` at each level (Redis's `update` array).
    fn predecessors(&self, score: f64, member: &[u8]) -> ([u32; MAX_LEVEL], [usize; MAX_LEVEL]) {
        let mut update = [HEAD; MAX_LEVEL];
        let mut rank = [0usize; MAX_LEVEL];
        let mut x = HEAD;
        let mut passed = 0;
        for level in (0..self.level).rev() {
            loop {
                let next = self.next(x, level);
                if next == NIL {
                    break;
                }
                self.prefetch_candidates(x, next, level);
                if !self.before(next, score, member) {
                    break;
                }
                passed += self.span(x, level);
                x = next;
            }
            update[level] = x;
            rank[level] = passed;
        }
        (update, rank)
    }

    /// Inserts a member that is not present (Redis's `zslInsert` plus the dict insertion).
    /// False, with nothing inserted, when the arena is full.
    fn insert(&mut self, member: &[u8], score: f64) -> bool {
        if !self.has_room(member.len()) {
            return false;
        }
        let hash = self.hasher.hash_one(member);
        let level = self.random_level();
        let id = self.alloc(member, score, level);
        self.link(id);
        if self.index.capacity() == self.index.len() {
            // No room left: this insertion rebuilds the table.
            self.layout = self.layout.wrapping_add(1);
        }
        let (arena, hasher) = (&self.arena, &self.hasher);
        self.index
            .insert(hash, id, |&i| hasher.hash_one(member_of(arena, i)));
        true
    }

    /// Links node `x`, which is in the arena but not in the list, at the place its score and
    /// member call for (Redis's `zslInsert` after the node is made).
    fn link(&mut self, x: u32) {
        let level = self.levels(x);
        let (mut update, mut rank) = self.predecessors(self.score(x), self.member(x));
        if level > self.level {
            for l in self.level..level {
                rank[l] = 0;
                update[l] = HEAD;
                self.set_span(HEAD, l, self.len);
            }
            self.level = level;
        }
        for l in 0..level {
            let before = update[l];
            let next = self.next(before, l);
            let span = self.span(before, l);
            self.set_link(x, l, next, span - (rank[0] - rank[l]));
            self.set_link(before, l, x, rank[0] - rank[l] + 1);
        }
        for (l, &before) in update.iter().enumerate().take(self.level).skip(level) {
            let span = self.span(before, l);
            self.set_span(before, l, span + 1);
        }
        self.set_prev(x, if update[0] == HEAD { NIL } else { update[0] });
        let next = self.next(x, 0);
        if next == NIL {
            self.tail = x;
        } else {
            self.set_prev(next, x);
        }
        self.len += 1;
    }

    /// Unlinks node `x` given its predecessors (Redis's `zslDeleteNode`); the node stays in
    /// the arena and the index.
    fn unlink(&mut self, x: u32, update: &[u32; MAX_LEVEL]) {
        for (l, &before) in update.iter().enumerate().take(self.level) {
            let span = self.span(before, l);
            if self.next(before, l) == x {
                let (next, x_span) = (self.next(x, l), self.span(x, l));
                self.set_link(before, l, next, span + x_span - 1);
            } else {
                self.set_span(before, l, span.saturating_sub(1));
            }
        }
        let (prev, next) = (self.prev(x), self.next(x, 0));
        if next == NIL {
            self.tail = prev;
        } else {
            self.set_prev(next, prev);
        }
        while self.level > 1 && self.next(HEAD, self.level - 1) == NIL {
            self.level -= 1;
        }
        self.len -= 1;
    }

    /// Drops unlinked node `x` from the index and frees its tower. O(1).
    fn release(&mut self, x: u32) {
        let hash = self.hasher.hash_one(self.member(x));
        self.index.remove_entry(hash, |&id| id == x);
        let shape = self.word(x as usize + SHAPE);
        self.set_word(x as usize + SHAPE, pack(low(shape), high(shape) | FREE));
        let words = self.words(x);
        self.free.entry(words).or_default().push(x);
        self.free_words += words;
    }

    /// Once free towers hold more words than live ones, renumbers both arenas in one pass:
    /// live towers close up in arena order, every link and index entry is rewritten through
    /// the old-to-new map (hashes depend on members only, so nothing is rehashed), and the
    /// spare capacity is given back. O(n) with no comparisons, after at least n/2 removals:
    /// amortized O(1) each.
    fn maybe_compact(&mut self) {
        let total_words = self.arena.len() / 8;
        if self.free_words <= 96 || self.free_words <= total_words / 2 {
            return;
        }
        let live_words = total_words - self.free_words;
        let mut map = vec![NIL; total_words];
        let mut arena: Vec<u8> = Vec::with_capacity((live_words + live_words / 2) * 8);
        let mut at = 0;
        while at < total_words {
            let words = self.words(at as u32);
            if high(self.word(at + SHAPE)) & FREE == 0 {
                // Offsets in the new arena are below the old ones, so below NIL.
                map[at] = (arena.len() / 8) as u32;
                arena.extend_from_slice(&self.arena[at * 8..(at + words) * 8]);
            }
            at += words;
        }
        let renumber = |id: u32| if id == NIL { NIL } else { map[id as usize] };
        let mut at = 0;
        while at < arena.len() / 8 {
            let shape = word(&arena, at + SHAPE);
            let levels = high(shape) as usize;
            // Every link's low half is a node; so is the level-0 word's high half (the
            // previous element), where the other levels keep a span.
            let level0 = word(&arena, at + LEVEL0);
            set_word(
                &mut arena,
                at + LEVEL0,
                pack(renumber(low(level0)), renumber(high(level0))),
            );
            for i in at + UPPER..at + UPPER + levels - 1 {
                let link = word(&arena, i);
                set_word(&mut arena, i, pack(renumber(low(link)), high(link)));
            }
            at += tower_words(levels, low(shape) as usize);
        }
        self.tail = renumber(self.tail);
        // SAFETY: the iterator yields the full buckets of `self.index`, which is borrowed
        // mutably here and not otherwise touched until the loop ends, so each bucket is valid
        // and unaliased while it is written.
        #[allow(unsafe_code)]
        unsafe {
            for bucket in self.index.iter() {
                let id = bucket.as_mut();
                *id = renumber(*id);
            }
        }
        self.arena = arena;
        self.free = HashMap::new();
        self.free_words = 0;
        self.layout = self.layout.wrapping_add(1);
        let (arena, hasher) = (&self.arena, &self.hasher);
        self.index
            .shrink_to(self.len, |&i| hasher.hash_one(member_of(arena, i)));
    }

    /// Removes `member`; its score if present.
    fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let id = self.find(member)?;
        let score = self.score(id);
        let (update, _) = self.predecessors(score, member);
        self.unlink(id, &update);
        self.release(id);
        self.maybe_compact();
        Some(score)
    }

    /// Moves `member` (present) to `score` (Redis's `zslUpdateScore`): in place when it keeps
    /// its position, else unlinked and linked again.
    fn set_score(&mut self, member: &[u8], score: f64) {
        let Some(id) = self.find(member) else {
            return;
        };
        let (prev, next) = (self.prev(id), self.next(id, 0));
        let after_prev = prev == NIL || self.before(prev, score, member);
        let before_next = next == NIL
            || cmp_elements(score, member, self.score(next), self.member(next)) == Ordering::Less;
        if after_prev && before_next {
            self.set_score_of(id, score);
            return;
        }
        let old = self.score(id);
        let (update, _) = self.predecessors(old, member);
        self.unlink(id, &update);
        // The node keeps its tower, its levels and its index entry; only its place changes.
        self.set_score_of(id, score);
        self.link(id);
    }

    /// The 0-based rank of `member`.
    fn rank(&self, member: &[u8]) -> Option<usize> {
        let id = self.find(member)?;
        let score = self.score(id);
        let (x, rank) = self.walk(|n| {
            let n_score = n.score();
            n_score < score || (n_score == score && n.member() <= member)
        });
        (x == id).then(|| rank - 1)
    }

    /// The node at 1-based `rank`.
    fn select(&self, rank: usize) -> Option<u32> {
        if rank == 0 || rank > self.len {
            return None;
        }
        // The ends are linked directly: the first and last elements cost no descent.
        if rank == 1 {
            return Some(self.next(HEAD, 0));
        }
        if rank == self.len {
            return Some(self.tail);
        }
        let mut x = HEAD;
        let mut traversed = 0;
        for level in (0..self.level).rev() {
            loop {
                let next = self.next(x, level);
                let span = self.span(x, level);
                if next == NIL || traversed + span > rank {
                    break;
                }
                traversed += span;
                x = next;
            }
            if traversed == rank {
                return Some(x);
            }
        }
        None
    }

    /// Removes 0-based ranks `start..=end` (within the list), as Redis's
    /// `zslDeleteRangeByRank`: one descent, then each node unlinked in turn.
    fn remove_ranks(&mut self, start: usize, end: usize) -> usize {
        let (start, end) = (start + 1, end + 1);
        let mut update = [HEAD; MAX_LEVEL];
        let mut x = HEAD;
        let mut traversed = 0;
        for level in (0..self.level).rev() {
            loop {
                let next = self.next(x, level);
                let span = self.span(x, level);
                if next == NIL || traversed + span >= start {
                    break;
                }
                traversed += span;
                x = next;
            }
            update[level] = x;
        }
        traversed += 1;
        let mut x = self.next(x, 0);
        let mut removed = 0;
        while x != NIL && traversed <= end {
            let next = self.next(x, 0);
            self.unlink(x, &update);
            self.release(x);
            removed += 1;
            traversed += 1;
            x = next;
        }
        self.maybe_compact();
        removed
    }

    /// Heap bytes owned: the arena, the index and the free lists.
    fn heap_size(&self) -> usize {
        let arena = self.arena.capacity();
        let index = crate::memory::table_bytes(self.index.capacity(), std::mem::size_of::<u32>());
        let free = self.free.capacity() * std::mem::size_of::<(usize, Vec<u32>)>()
            + self.free.values().map(Vec::capacity).sum::<usize>() * std::mem::size_of::<u32>();
        arena + index + free
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The model: a sorted set of `(score, member)`, with a total order on scores.
    #[derive(Debug, Default)]
    struct Model {
        items: Vec<(f64, Vec<u8>)>,
    }

    impl Model {
        fn sort(&mut self) {
            self.items
                .sort_by(|a, b| cmp_elements(a.0, &a.1, b.0, &b.1));
        }
        fn find(&self, member: &[u8]) -> Option<usize> {
            self.items.iter().position(|(_, m)| m == member)
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Add(u8, i8),
        Remove(u8),
        Rank(u8),
        Get(usize),
        RemoveRanks(usize, usize),
        ScoreRange(i8, i8, bool, bool),
        LexRange(u8, u8, bool, bool),
        PopMin(usize),
        PopMax(usize),
        IterFrom(usize, bool),
    }

    fn member(m: u8) -> Vec<u8> {
        // Some members share prefixes, some are long enough to leave CompactBytes' inline
        // storage and the small form's value limit.
        match m % 4 {
            0 => vec![b'a' + m % 26],
            1 => format!("m{m}").into_bytes(),
            // 10 to 46 bytes: member words of every padding in the large form's towers.
            2 => format!("member-{m}-{}", "x".repeat(usize::from(m % 37))).into_bytes(),
            _ => format!("{m:03}").into_bytes(),
        }
    }

    fn op() -> impl Strategy<Value = Op> {
        let m = 0u8..200;
        prop_oneof![
            6 => (m.clone(), -5i8..5).prop_map(|(m, s)| Op::Add(m, s)),
            2 => m.clone().prop_map(Op::Remove),
            2 => m.clone().prop_map(Op::Rank),
            1 => (0usize..300).prop_map(Op::Get),
            1 => (0usize..300, 0usize..20).prop_map(|(a, n)| Op::RemoveRanks(a, a + n)),
            2 => (-6i8..6, -6i8..6, any::<bool>(), any::<bool>())
                .prop_map(|(a, b, x, y)| Op::ScoreRange(a, b, x, y)),
            1 => (m.clone(), m, any::<bool>(), any::<bool>())
                .prop_map(|(a, b, x, y)| Op::LexRange(a, b, x, y)),
            1 => (0usize..5).prop_map(Op::PopMin),
            1 => (0usize..5).prop_map(Op::PopMax),
            1 => (0usize..300, any::<bool>()).prop_map(|(r, rev)| Op::IterFrom(r, rev)),
        ]
    }

    /// Checks every observable of `set` against `model`.
    fn check_same(set: &ZSetValue, model: &Model) {
        assert_eq!(set.len(), model.items.len());
        let got: Vec<(f64, Vec<u8>)> = set.iter().map(|(m, s)| (s, m.to_vec())).collect();
        assert_eq!(got, model.items);
        let back: Vec<(f64, Vec<u8>)> = set
            .iter_from(set.len().saturating_sub(1), true)
            .map(|(m, s)| (s, m.to_vec()))
            .collect();
        let mut reversed = model.items.clone();
        reversed.reverse();
        assert_eq!(back, reversed);
        for (rank, (score, m)) in model.items.iter().enumerate() {
            assert_eq!(set.score(m), Some(*score));
            assert_eq!(set.rank(m), Some(rank));
        }
    }

    fn run(ops: Vec<Op>, limits: Limits) {
        let mut set = ZSetValue::for_first_member(b"", limits);
        let mut model = Model::default();
        let mut was_large = !set.is_small();
        for op in ops {
            match op {
                Op::Add(m, s) => {
                    let m = member(m);
                    let score = f64::from(s) / 2.0;
                    match model.find(&m) {
                        Some(at) => {
                            model.items[at].0 = score;
                            set.set_score(&m, score);
                        }
                        None => {
                            model.items.push((score, m.clone()));
                            assert!(set.insert(&m, score, limits));
                        }
                    }
                    model.sort();
                }
                Op::Remove(m) => {
                    let m = member(m);
                    let expected = model.find(&m).map(|at| model.items.remove(at).0);
                    assert_eq!(set.remove(&m), expected);
                }
                Op::Rank(m) => {
                    let m = member(m);
                    assert_eq!(set.rank(&m), model.find(&m));
                }
                Op::Get(r) => {
                    let expected = model.items.get(r).map(|(s, m)| (m.as_slice(), *s));
                    assert_eq!(set.get(r), expected);
                }
                Op::RemoveRanks(a, b) => {
                    let expected = if a < model.items.len() {
                        let b = b.min(model.items.len() - 1);
                        model.items.drain(a..=b).count()
                    } else {
                        0
                    };
                    assert_eq!(set.remove_ranks(a, b), expected);
                }
                Op::ScoreRange(a, b, x, y) => {
                    let range = ScoreRange {
                        min: f64::from(a) / 2.0,
                        max: f64::from(b) / 2.0,
                        min_exclusive: x,
                        max_exclusive: y,
                    };
                    let inside: Vec<usize> = (0..model.items.len())
                        .filter(|&i| {
                            let s = model.items[i].0;
                            range.above_min(s) && range.below_max(s)
                        })
                        .collect();
                    assert_eq!(set.first_in_score_range(&range), inside.first().copied());
                    assert_eq!(set.last_in_score_range(&range), inside.last().copied());
                    assert_eq!(set.count_in_score_range(&range), inside.len());
                }
                Op::LexRange(a, b, x, y) => {
                    // Lexicographic ranges are defined over equal scores: check them on a
                    // copy whose scores are all 0.
                    let flat: Vec<(CompactBytes, f64)> = {
                        let mut v: Vec<Vec<u8>> =
                            model.items.iter().map(|(_, m)| m.clone()).collect();
                        v.sort();
                        v.into_iter()
                            .map(|m| (CompactBytes::new(&m), 0.0))
                            .collect()
                    };
                    // Exercise the form of the set under test.
                    let mut zero = ZSetValue::from_sorted(flat.clone(), limits);
                    if !set.is_small() && zero.is_small() {
                        zero.convert_to_large();
                    }
                    let bound = |m: u8, excl: bool| match m % 10 {
                        0 => LexBound::Min,
                        1 => LexBound::Max,
                        _ => LexBound::Member {
                            bytes: member(m),
                            exclusive: excl,
                        },
                    };
                    let range = LexRange {
                        min: bound(a, x),
                        max: bound(b, y),
                    };
                    let inside: Vec<usize> = (0..flat.len())
                        .filter(|&i| range.above_min(&flat[i].0) && range.below_max(&flat[i].0))
                        .collect();
                    assert_eq!(zero.first_in_lex_range(&range), inside.first().copied());
                    assert_eq!(zero.last_in_lex_range(&range), inside.last().copied());
                    assert_eq!(zero.count_in_lex_range(&range), inside.len());
                }
                Op::PopMin(n) => {
                    let n = n.min(model.items.len());
                    let expected: Vec<(f64, Vec<u8>)> = model.items.drain(..n).collect();
                    let got: Vec<(f64, Vec<u8>)> =
                        set.iter().take(n).map(|(m, s)| (s, m.to_vec())).collect();
                    assert_eq!(got, expected);
                    if n > 0 {
                        assert_eq!(set.remove_ranks(0, n - 1), n);
                    }
                }
                Op::PopMax(n) => {
                    let len = model.items.len();
                    let n = n.min(len);
                    let mut expected: Vec<(f64, Vec<u8>)> = model.items.drain(len - n..).collect();
                    expected.reverse();
                    let got: Vec<(f64, Vec<u8>)> = set
                        .iter_from(len.saturating_sub(1), true)
                        .take(n)
                        .map(|(m, s)| (s, m.to_vec()))
                        .collect();
                    assert_eq!(got, expected);
                    if n > 0 {
                        assert_eq!(set.remove_ranks(len - n, len - 1), n);
                    }
                }
                Op::IterFrom(r, rev) => {
                    let got: Vec<(f64, Vec<u8>)> = set
                        .iter_from(r, rev)
                        .map(|(m, s)| (s, m.to_vec()))
                        .collect();
                    let expected: Vec<(f64, Vec<u8>)> = if r >= model.items.len() {
                        Vec::new()
                    } else if rev {
                        model.items[..=r].iter().rev().cloned().collect()
                    } else {
                        model.items[r..].to_vec()
                    };
                    assert_eq!(got, expected);
                }
            }
            // The small form never comes back once left.
            if was_large {
                assert!(!set.is_small());
            }
            was_large = !set.is_small();
            if set.is_small() {
                assert!(set.len() <= limits.max_entries);
            }
            check_same(&set, &model);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Random operations against the model, crossing the small→large conversion (the
        /// limits are low so that most runs convert).
        #[test]
        fn matches_a_sorted_vec_model(ops in proptest::collection::vec(op(), 1..150)) {
            run(ops, Limits { max_entries: 16, max_value: 12 });
        }

        /// The same with Redis's default limits and with the small form disabled.
        #[test]
        fn matches_the_model_at_other_limits(
            ops in proptest::collection::vec(op(), 1..150),
            large in any::<bool>(),
        ) {
            let limits = if large {
                Limits { max_entries: 0, max_value: 64 }
            } else {
                Limits::DEFAULT
            };
            run(ops, limits);
        }
    }

    #[test]
    fn tower_and_item_sizes() {
        assert_eq!(
            tower_words(1, 0) * 8,
            24,
            "a one-level node, before its member"
        );
        assert_eq!(tower_words(1, 14) * 8, 40, "with a 14-byte member");
        assert_eq!(tower_words(MAX_LEVEL, 0), 34, "the head");
        assert_eq!(std::mem::size_of::<Item>(), 32);
    }

    #[test]
    fn converts_past_either_threshold_and_never_back() {
        let limits = Limits {
            max_entries: 3,
            max_value: 4,
        };
        let mut set = ZSetValue::for_first_member(b"a", limits);
        assert!(set.is_small());
        for (i, m) in [b"a", b"b", b"c"].iter().enumerate() {
            set.insert(*m, i as f64, limits);
        }
        assert_eq!(set.encoding(), "listpack");
        set.insert(b"d", 3.0, limits);
        assert_eq!(set.encoding(), "skiplist");
        set.remove(b"d");
        set.remove(b"c");
        assert_eq!(set.encoding(), "skiplist", "no conversion back");
        let mut long = ZSetValue::for_first_member(b"a", limits);
        long.insert(b"a", 1.0, limits);
        long.insert(b"toolong", 2.0, limits);
        assert_eq!(long.encoding(), "skiplist");
        assert_eq!(
            ZSetValue::for_first_member(b"toolong", limits).encoding(),
            "skiplist"
        );
        assert_eq!(
            ZSetValue::for_first_member(
                b"a",
                Limits {
                    max_entries: 0,
                    ..limits
                }
            )
            .encoding(),
            "skiplist"
        );
        let items = vec![(CompactBytes::new(b"x"), -0.0)];
        let small = ZSetValue::from_sorted(items.clone(), limits);
        assert!(small.is_small());
        assert!(small.score(b"x").is_some_and(|s| s.is_sign_positive()));
        let mut large = ZSetValue::from_sorted(
            items,
            Limits {
                max_entries: 0,
                ..limits
            },
        );
        assert!(large.score(b"x").is_some_and(|s| s.is_sign_negative()));
        large.refit(limits);
        assert!(large.is_small());
    }

    #[test]
    fn mass_removal_gives_memory_back() {
        let mut set = ZSetValue::for_first_member(
            b"",
            Limits {
                max_entries: 0,
                max_value: 0,
            },
        );
        for i in 0..10_000u32 {
            set.insert(format!("m{i}").as_bytes(), f64::from(i), Limits::DEFAULT);
        }
        let full = set.heap_size();
        assert_eq!(set.remove_ranks(0, 9_899), 9_900);
        assert!(set.heap_size() < full / 10, "{} of {full}", set.heap_size());
        assert_eq!(set.rank(b"m9950"), Some(50));
        assert_eq!(
            set.get(99).map(|(m, _)| m.to_vec()),
            Some(b"m9999".to_vec())
        );
    }

    /// Removals that trigger the arena's renumbering, interleaved with insertions and score
    /// changes, leave the set equal to its model.
    #[test]
    fn churn_through_renumbering() {
        let large = Limits {
            max_entries: 0,
            max_value: 0,
        };
        let mut set = ZSetValue::for_first_member(b"", large);
        let mut model = Model::default();
        let mut rng = crate::random::Rng::new();
        for round in 0..6u32 {
            for i in 0..400u32 {
                let m = format!("r{round}m{i}").into_bytes();
                let score = f64::from(rng.below(50) as u32);
                assert!(set.insert(&m, score, large));
                model.items.push((score, m));
            }
            model.sort();
            // Remove about three quarters: single members, then a rank range.
            let members: Vec<Vec<u8>> = model.items.iter().map(|(_, m)| m.clone()).collect();
            for m in members.iter().step_by(2) {
                let at = model.find(m).expect("present");
                assert_eq!(set.remove(m), Some(model.items.remove(at).0));
            }
            let n = model.items.len() / 2;
            assert_eq!(set.remove_ranks(n / 2, n / 2 + n - 1), n);
            model.items.drain(n / 2..n / 2 + n);
            // Move some survivors.
            for (score, m) in model.items.iter_mut().step_by(3) {
                *score += 100.0;
                set.set_score(m, *score);
            }
            model.sort();
            check_same(&set, &model);
        }
    }

    /// The structure's own allocations for a large set of 20-byte members stay well under
    /// Redis's ~130 bytes an element (BENCHMARKS.md has the resident figure).
    #[test]
    fn large_form_bytes_per_element() {
        let mut set = ZSetValue::for_first_member(
            b"",
            Limits {
                max_entries: 0,
                max_value: 0,
            },
        );
        let n = 100_000u32;
        for i in 0..n {
            let m = format!("member:{i:013}");
            set.insert(m.as_bytes(), f64::from(i), Limits::DEFAULT);
        }
        let per = set.heap_size() as f64 / f64::from(n);
        println!("large form: {per:.1} bytes an element");
        assert!(per < 100.0, "{per} bytes an element");
    }
}
