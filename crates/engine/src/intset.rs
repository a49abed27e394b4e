//! The small form of an all-integer set: Redis's intset, in kv's bytes.
//!
//! An [`IntSet`] is a sorted array of distinct integers, each stored in the narrowest of 2, 4
//! or 8 bytes (little-endian) that holds every member, as Redis widens an intset from
//! `int16_t` to `int32_t` to `int64_t` when a wider member arrives (and, like Redis, never
//! narrows it again). Its bytes are `[width][member][member]...`, kept in a
//! [`CompactBytes`] of 30 inline bytes: up to 14 small members (29 bytes) live inside the
//! value itself, with no allocation at all, which is what makes a set of a few small integers
//! cheaper per key than Redis's (a set's value slot has those bytes free anyway).
//!
//! Lookups are binary searches, O(log n); a random member is one index away, O(1), as SPOP
//! and SRANDMEMBER need; an insertion or removal rewrites the array, O(n), as Redis's
//! `memmove` does, for at most `set-max-intset-entries` members.
//!
//! Members reach clients as decimal text: [`Member`] is a member's bytes, borrowed from a
//! hash-table set or spelled out from an integer into an [`IntText`] on the stack.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

use crate::CompactBytes;

/// Bytes an intset keeps inside its value before it needs an allocation: 30 makes the whole
/// [`CompactBytes`] 32 bytes, the space a set has in a `Value`.
const INLINE: usize = 30;

/// The longest decimal integer: `-9223372036854775808`.
const MAX_DIGITS: usize = 20;

/// An integer written out in decimal, without an allocation.
#[derive(Clone, Copy)]
pub struct IntText {
    /// How many bytes of `digits` are used.
    len: u8,
    /// The text, left-aligned.
    digits: [u8; MAX_DIGITS],
}

impl IntText {
    /// `n` in decimal, as Redis writes an intset member out (`ll2string`).
    pub fn new(n: i64) -> IntText {
        let mut buffer = itoa::Buffer::new();
        let text = buffer.format(n).as_bytes();
        let mut digits = [0; MAX_DIGITS];
        digits[..text.len()].copy_from_slice(text);
        IntText {
            // At most 20 bytes, so the cast is exact.
            len: text.len() as u8,
            digits,
        }
    }
}

impl fmt::Debug for IntText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", String::from_utf8_lossy(self))
    }
}

impl Deref for IntText {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.digits[..usize::from(self.len)]
    }
}

/// One set member as bytes: borrowed from a hash-table set, or an intset's integer spelled
/// out. Compares and hashes as its bytes, so members of either form mix in one collection.
#[derive(Clone, Copy)]
pub enum Member<'a> {
    /// A member stored as bytes.
    Bytes(&'a [u8]),
    /// A member stored as an integer.
    Int(IntText),
}

impl Deref for Member<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Member::Bytes(bytes) => bytes,
            Member::Int(text) => text,
        }
    }
}

impl PartialEq for Member<'_> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for Member<'_> {}

/// Hashes exactly as `[u8]` does, like [`CompactBytes`].
impl Hash for Member<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (**self).hash(state);
    }
}

impl fmt::Debug for Member<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self))
    }
}

/// The integer an intset would store for `member`: Redis's `string2ll`, which reads only the
/// canonical spelling (no `+`, no leading zeros, no spaces), so the text comes back unchanged.
pub(crate) fn parse_member(member: &[u8]) -> Option<i64> {
    if member.len() > MAX_DIGITS {
        return None;
    }
    kv_resp::parse_i64(member)
}

/// The narrowest width, in bytes, that holds `n`: Redis's `_intsetValueEncoding`.
fn width_for(n: i64) -> usize {
    if i16::try_from(n).is_ok() {
        2
    } else if i32::try_from(n).is_ok() {
        4
    } else {
        8
    }
}

/// Appends `n` to `out` in `width` little-endian bytes (`n` fits: the caller chose the width).
fn push(out: &mut Vec<u8>, n: i64, width: usize) {
    out.extend_from_slice(&n.to_le_bytes()[..width]);
}

/// A sorted array of distinct integers (see the module docs). Never empty once stored in a
/// key, but an empty one is valid: a new set starts as one.
#[derive(Clone, PartialEq, Eq)]
pub struct IntSet(CompactBytes<INLINE>);

impl IntSet {
    /// An empty intset, 2 bytes a member until a wider one arrives.
    pub fn new() -> IntSet {
        IntSet(CompactBytes::new(&[2]))
    }

    /// An intset of `sorted`, which must be ascending and distinct, in the narrowest width.
    pub fn from_sorted(sorted: &[i64]) -> IntSet {
        let width = sorted.iter().map(|&n| width_for(n)).max().unwrap_or(2);
        let mut bytes = Vec::with_capacity(1 + sorted.len() * width);
        // The width is 2, 4 or 8: the cast is exact.
        bytes.push(width as u8);
        for &n in sorted {
            push(&mut bytes, n, width);
        }
        IntSet(CompactBytes::from(bytes))
    }

    /// Bytes a member takes: 2, 4 or 8.
    fn width(&self) -> usize {
        usize::from(self.0.first().copied().unwrap_or(2))
    }

    /// How many members there are. O(1).
    pub fn len(&self) -> usize {
        (self.0.len() - 1) / self.width()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The member at `index` in ascending order. O(1).
    pub fn get(&self, index: usize) -> Option<i64> {
        let width = self.width();
        let start = 1 + index.checked_mul(width)?;
        let chunk = self.0.get(start..start + width)?;
        // Sign-extend from the stored width.
        let fill = if chunk[width - 1] & 0x80 != 0 {
            0xff
        } else {
            0
        };
        let mut bytes = [fill; 8];
        bytes[..width].copy_from_slice(chunk);
        Some(i64::from_le_bytes(bytes))
    }

    /// Where `n` is (`Ok`) or would go (`Err`): a binary search, O(log n).
    fn search(&self, n: i64) -> Result<usize, usize> {
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let mid = low + (high - low) / 2;
            match self.get(mid) {
                Some(m) if m < n => low = mid + 1,
                Some(m) if m > n => high = mid,
                Some(_) => return Ok(mid),
                None => break,
            }
        }
        Err(low)
    }

    /// Whether `n` is a member. O(log n).
    pub fn contains(&self, n: i64) -> bool {
        self.search(n).is_ok()
    }

    /// Adds `n`; false if it was there already. Widens every member first when `n` needs more
    /// bytes than they have. O(n).
    pub fn insert(&mut self, n: i64) -> bool {
        let Err(at) = self.search(n) else {
            return false;
        };
        let (old, new) = (self.width(), self.width().max(width_for(n)));
        let mut bytes = Vec::with_capacity(1 + (self.len() + 1) * new);
        bytes.push(new as u8);
        if new == old {
            let split = 1 + at * old;
            bytes.extend_from_slice(&self.0[1..split]);
            push(&mut bytes, n, new);
            bytes.extend_from_slice(&self.0[split..]);
        } else {
            for m in self.iter().take(at) {
                push(&mut bytes, m, new);
            }
            push(&mut bytes, n, new);
            for m in self.iter().skip(at) {
                push(&mut bytes, m, new);
            }
        }
        self.0 = CompactBytes::from(bytes);
        true
    }

    /// Removes `n`; false if it was not there. The width stays, as in Redis. O(n).
    pub fn remove(&mut self, n: i64) -> bool {
        let Ok(at) = self.search(n) else {
            return false;
        };
        self.remove_at(at);
        true
    }

    /// Removes and returns the member at `index`, if there is one. O(n).
    pub fn remove_at(&mut self, index: usize) -> Option<i64> {
        let n = self.get(index)?;
        let width = self.width();
        let start = 1 + index * width;
        let mut bytes = Vec::with_capacity(self.0.len() - width);
        bytes.extend_from_slice(&self.0[..start]);
        bytes.extend_from_slice(&self.0[start + width..]);
        self.0 = CompactBytes::from(bytes);
        Some(n)
    }

    /// Removes the members at `positions` (distinct, each below `len`) in one rewrite, O(n):
    /// many random pops cost one pass instead of one each.
    pub fn remove_positions(&mut self, positions: &[usize]) {
        let mut doomed = positions.to_vec();
        doomed.sort_unstable();
        let width = self.width();
        let mut bytes = Vec::with_capacity(self.0.len().saturating_sub(doomed.len() * width));
        bytes.push(width as u8);
        let mut next = doomed.iter().peekable();
        for (index, chunk) in self.0[1..].chunks_exact(width).enumerate() {
            if next.peek() == Some(&&index) {
                next.next();
            } else {
                bytes.extend_from_slice(chunk);
            }
        }
        self.0 = CompactBytes::from(bytes);
    }

    /// Every member, ascending.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = i64> + ExactSizeIterator + '_ {
        let width = self.width();
        self.0[1..].chunks_exact(width).map(move |chunk| {
            let fill = if chunk[width - 1] & 0x80 != 0 {
                0xff
            } else {
                0
            };
            let mut bytes = [fill; 8];
            bytes[..width].copy_from_slice(chunk);
            i64::from_le_bytes(bytes)
        })
    }

    /// Heap bytes owned beyond the value itself (0 while the members fit inline).
    pub fn heap_size(&self) -> usize {
        self.0.heap_size()
    }
}

impl Default for IntSet {
    fn default() -> IntSet {
        IntSet::new()
    }
}

impl fmt::Debug for IntSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn widens_and_stays_sorted() {
        let mut set = IntSet::new();
        assert!(set.is_empty());
        for n in [5, -3, 5, 0, 32767, -32768] {
            set.insert(n);
        }
        assert_eq!(set.width(), 2);
        assert_eq!(set.iter().collect::<Vec<_>>(), [-32768, -3, 0, 5, 32767]);
        assert_eq!(set.heap_size(), 0, "five 2-byte members fit inline");
        assert!(set.insert(32768));
        assert_eq!(set.width(), 4);
        assert!(set.insert(i64::MIN));
        assert_eq!(set.width(), 8);
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            [i64::MIN, -32768, -3, 0, 5, 32767, 32768]
        );
        assert!(set.remove(i64::MIN));
        assert_eq!(set.width(), 8, "Redis never narrows an intset");
        assert!(!set.remove(i64::MIN));
        assert!(set.contains(32768) && !set.contains(1));
        assert_eq!(set.get(0), Some(-32768));
        assert_eq!(set.get(6), None);
        assert_eq!(set.remove_at(0), Some(-32768));
        assert_eq!(set.len(), 5);
        set.remove_positions(&[4, 0, 2]);
        assert_eq!(set.iter().collect::<Vec<_>>(), [0, 32767]);
    }

    #[test]
    fn fourteen_small_members_fit_inline() {
        let set = IntSet::from_sorted(&(0..14).collect::<Vec<_>>());
        assert_eq!(set.heap_size(), 0);
        let set = IntSet::from_sorted(&(0..15).collect::<Vec<_>>());
        assert_eq!(set.heap_size(), 31);
        assert_eq!(IntSet::from_sorted(&[1, 1 << 40]).width(), 8);
    }

    #[test]
    fn members_spell_as_redis_reads_them() {
        for text in ["0", "-1", "9223372036854775807", "-9223372036854775808"] {
            let n = parse_member(text.as_bytes()).expect("an integer");
            assert_eq!(&*IntText::new(n), text.as_bytes());
        }
        for text in [
            "",
            "-",
            "+1",
            "01",
            "-0",
            " 1",
            "1 ",
            "9223372036854775808",
            "1.0",
        ] {
            assert_eq!(parse_member(text.as_bytes()), None, "{text:?}");
        }
        assert_eq!(Member::Int(IntText::new(12)), Member::Bytes(b"12"));
    }

    proptest! {
        /// Random insertions and removals agree with a `BTreeSet`, through every widening.
        #[test]
        fn behaves_like_a_sorted_set(ops in proptest::collection::vec((any::<bool>(), prop_oneof![
            -300i64..300,
            any::<i16>().prop_map(i64::from),
            any::<i32>().prop_map(i64::from),
            any::<i64>(),
        ]), 1..200)) {
            let mut set = IntSet::new();
            let mut model = BTreeSet::new();
            for (add, n) in ops {
                if add {
                    prop_assert_eq!(set.insert(n), model.insert(n));
                } else {
                    prop_assert_eq!(set.remove(n), model.remove(&n));
                }
                prop_assert_eq!(set.len(), model.len());
                prop_assert!(set.iter().eq(model.iter().copied()));
                prop_assert_eq!(set.contains(n), model.contains(&n));
            }
        }
    }
}
