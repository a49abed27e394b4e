//! The small form of a hash: its field-value pairs packed into one byte buffer, kv's take on
//! Redis's listpack.
//!
//! ```text
//! [count] [field len][field][value len][value] [field len][field][value len][value] ...
//! ```
//!
//! Every length and the pair count are LEB128 varints (one byte below 128), pairs are in
//! insertion order, an update rewrites a value where it is and a removal closes the gap, so
//! the order is Redis's listpack order: HGETALL, HSCAN and a whole-hash HRANDFIELD answer in
//! the same order as Redis does. A pair costs its bytes plus two (Redis's listpack: plus four,
//! and seven for the whole list), and the buffer is a [`CompactBytes`]: up to 22 bytes (a
//! couple of short pairs) inside the value itself, beyond that one exact-size allocation.
//!
//! Lookups walk the pairs, O(n), and every change rebuilds the buffer, O(n), as Redis's
//! listpack does; the form only holds up to `hash-max-listpack-entries` pairs of at most
//! `hash-max-listpack-value` bytes, so n is bounded by the configuration. The count makes
//! HLEN O(1).

use std::fmt;
use std::ops::Range;

use crate::CompactBytes;

/// Bytes kept inline: 22 makes the buffer 24 bytes, which with a hash's TTL pointer fills the
/// 32 bytes a hash has in a `Value`.
const INLINE: usize = 22;

/// Appends `n` as a LEB128 varint.
fn push_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// How many bytes `n` takes as a LEB128 varint.
fn varint_len(n: usize) -> usize {
    let bits = usize::BITS - n.leading_zeros();
    (bits.max(1) as usize).div_ceil(7)
}

/// Reads a LEB128 varint at `*at`, moving past it; `None` if the bytes end first or it does
/// not fit a `usize` (the buffer is kv's own, so neither happens).
fn read_varint(bytes: &[u8], at: &mut usize) -> Option<usize> {
    let mut n: usize = 0;
    let mut shift = 0;
    loop {
        let byte = *bytes.get(*at)?;
        *at += 1;
        n |= usize::from(byte & 0x7f).checked_shl(shift)?;
        if byte & 0x80 == 0 {
            return Some(n);
        }
        shift += 7;
        if shift >= usize::BITS {
            return None;
        }
    }
}

/// Where one pair lies in the buffer.
#[derive(Debug, Clone)]
struct Slot {
    /// From the pair's first byte to the byte after it.
    whole: Range<usize>,
    /// The field's bytes.
    field: Range<usize>,
    /// The value's bytes.
    value: Range<usize>,
}

/// Field-value pairs in one buffer (see the module docs).
#[derive(Clone)]
pub struct Listpack(CompactBytes<INLINE>);

impl Listpack {
    /// Heap bytes owned beyond the value itself (0 while the pairs fit inline).
    pub fn heap_size(&self) -> usize {
        self.0.heap_size()
    }

    /// No pairs.
    pub fn new() -> Listpack {
        Listpack(CompactBytes::new(&[0]))
    }

    /// A buffer of `pairs`, whose fields must be distinct, built in one pass (no lookups).
    pub fn from_distinct<'a>(pairs: impl Iterator<Item = (&'a [u8], &'a [u8])>) -> Listpack {
        let mut count = 0;
        let mut body = Vec::new();
        for (field, value) in pairs {
            push_varint(&mut body, field.len());
            body.extend_from_slice(field);
            push_varint(&mut body, value.len());
            body.extend_from_slice(value);
            count += 1;
        }
        let mut bytes = Vec::with_capacity(varint_len(count) + body.len());
        push_varint(&mut bytes, count);
        bytes.extend_from_slice(&body);
        Listpack(CompactBytes::from(bytes))
    }

    /// How many pairs there are. O(1).
    pub fn len(&self) -> usize {
        read_varint(&self.0, &mut 0).unwrap_or(0)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The size of the buffer, in bytes.
    pub fn byte_len(&self) -> usize {
        self.0.len()
    }

    /// Where the first pair starts (after the count).
    fn first(&self) -> usize {
        let mut at = 0;
        read_varint(&self.0, &mut at);
        at
    }

    /// The pair starting at `*at`, moving past it.
    fn slot(&self, at: &mut usize) -> Option<Slot> {
        let start = *at;
        let field_len = read_varint(&self.0, at)?;
        let field = *at..at.checked_add(field_len)?;
        *at = field.end;
        let value_len = read_varint(&self.0, at)?;
        let value = *at..at.checked_add(value_len)?;
        *at = value.end;
        if value.end > self.0.len() {
            return None;
        }
        Some(Slot {
            whole: start..value.end,
            field,
            value,
        })
    }

    /// The pairs' places, in order.
    fn slots(&self) -> impl Iterator<Item = Slot> + '_ {
        let mut at = self.first();
        std::iter::from_fn(move || {
            if at >= self.0.len() {
                return None;
            }
            self.slot(&mut at)
        })
    }

    /// Where `field`'s pair is. O(n).
    fn find(&self, field: &[u8]) -> Option<Slot> {
        self.slots().find(|s| &self.0[s.field.clone()] == field)
    }

    /// Every pair, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.slots()
            .map(|s| (&self.0[s.field.clone()], &self.0[s.value.clone()]))
    }

    /// The value of `field`. O(n).
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        self.find(field).map(|s| &self.0[s.value])
    }

    /// The pair at `position` (`0..len`). O(n).
    pub fn nth(&self, position: usize) -> Option<(&[u8], &[u8])> {
        self.iter().nth(position)
    }

    /// Sets `field` to `value`: in place if the field exists (false), else appended (true).
    /// O(n): the buffer is rebuilt.
    pub fn insert(&mut self, field: &[u8], value: &[u8]) -> bool {
        let mut pair = Vec::with_capacity(
            varint_len(field.len()) + field.len() + varint_len(value.len()) + value.len(),
        );
        push_varint(&mut pair, field.len());
        pair.extend_from_slice(field);
        push_varint(&mut pair, value.len());
        pair.extend_from_slice(value);
        match self.find(field) {
            Some(slot) => {
                self.rebuild(self.len(), slot.whole, &pair);
                false
            }
            None => {
                let end = self.0.len();
                self.rebuild(self.len() + 1, end..end, &pair);
                true
            }
        }
    }

    /// Removes `field`; returns its value if it was there. O(n).
    pub fn remove(&mut self, field: &[u8]) -> Option<CompactBytes> {
        let slot = self.find(field)?;
        let value = CompactBytes::new(&self.0[slot.value.clone()]);
        self.rebuild(self.len() - 1, slot.whole, &[]);
        Some(value)
    }

    /// Writes the buffer anew with `count` pairs, `replacement` in place of the bytes `cut`.
    /// The new buffer is allocated at its exact size: the allocation is the hash's whole cost,
    /// and slack would round it up to a larger allocator chunk.
    fn rebuild(&mut self, count: usize, cut: Range<usize>, replacement: &[u8]) {
        let first = self.first();
        let body = self.0.len() - first - cut.len() + replacement.len();
        let mut bytes = Vec::with_capacity(varint_len(count) + body);
        push_varint(&mut bytes, count);
        bytes.extend_from_slice(&self.0[first..cut.start]);
        bytes.extend_from_slice(replacement);
        bytes.extend_from_slice(&self.0[cut.end..]);
        self.0 = CompactBytes::from(bytes);
    }
}

impl Default for Listpack {
    fn default() -> Listpack {
        Listpack::new()
    }
}

impl fmt::Debug for Listpack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        f.debug_map()
            .entries(self.iter().map(|(k, v)| (lossy(k), lossy(v))))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn keeps_insertion_order_through_updates_and_removals() {
        let mut lp = Listpack::new();
        assert!(lp.is_empty());
        assert!(lp.insert(b"a", b"1"));
        assert!(lp.insert(b"b", b"2"));
        assert!(lp.insert(b"c", b""));
        assert!(!lp.insert(b"a", b"one"));
        assert_eq!(lp.len(), 3);
        let pairs: Vec<_> = lp.iter().collect();
        assert_eq!(pairs, [(&b"a"[..], &b"one"[..]), (b"b", b"2"), (b"c", b"")]);
        assert_eq!(lp.0.heap_size(), 0, "three tiny pairs fit inline");
        assert_eq!(lp.remove(b"b").as_deref(), Some(&b"2"[..]));
        assert_eq!(lp.remove(b"b"), None);
        assert_eq!(lp.nth(1), Some((&b"c"[..], &b""[..])));
        assert_eq!(lp.get(b"a"), Some(&b"one"[..]));
        assert_eq!(lp.get(b"zz"), None);
    }

    #[test]
    fn varint_lengths() {
        for n in [0, 1, 127, 128, 16383, 16384, usize::MAX] {
            let mut out = Vec::new();
            push_varint(&mut out, n);
            assert_eq!(out.len(), varint_len(n), "{n}");
            assert_eq!(read_varint(&out, &mut 0), Some(n));
        }
    }

    #[test]
    fn long_pairs_and_many_pairs() {
        let mut lp = Listpack::new();
        let long = vec![b'x'; 300];
        for i in 0..200 {
            lp.insert(format!("f{i}").as_bytes(), &long);
        }
        assert_eq!(lp.len(), 200, "a two-byte count");
        assert_eq!(lp.get(b"f199"), Some(&long[..]));
        lp.insert(b"f0", b"short");
        assert_eq!(lp.nth(0), Some((&b"f0"[..], &b"short"[..])));
        for i in 0..200 {
            assert!(lp.remove(format!("f{i}").as_bytes()).is_some());
        }
        assert!(lp.is_empty());
        assert_eq!(lp.byte_len(), 1);
    }

    proptest! {
        /// Random insertions and removals agree with a vector of pairs in insertion order.
        #[test]
        fn behaves_like_an_ordered_map(ops in proptest::collection::vec(
            (any::<bool>(), 0u8..12, proptest::collection::vec(any::<u8>(), 0..150)), 1..120)) {
            let mut lp = Listpack::new();
            let mut model: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
            for (add, f, value) in ops {
                let field = vec![b'f'; usize::from(f)];
                let at = model.iter().position(|(k, _)| *k == field);
                if add {
                    prop_assert_eq!(lp.insert(&field, &value), at.is_none());
                    match at {
                        Some(i) => model[i].1 = value,
                        None => model.push((field, value)),
                    }
                } else {
                    let removed = at.map(|i| model.remove(i).1);
                    prop_assert_eq!(lp.remove(&field).map(|v| v.to_vec()), removed);
                }
                prop_assert_eq!(lp.len(), model.len());
                let pairs: Vec<(Vec<u8>, Vec<u8>)> =
                    lp.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
                prop_assert_eq!(&pairs, &model);
            }
        }
    }
}
