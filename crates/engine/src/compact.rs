//! Compact owned byte strings for keys and small values.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// Bytes a key keeps inline: 22 makes a [`CompactBytes`] exactly 24 bytes.
pub(crate) const KEY_INLINE: usize = 22;

/// An owned, binary-safe byte string that keeps up to `INLINE` bytes (at most 255) inside
/// itself and longer strings in one exact-size heap allocation.
///
/// Keys and string values are copied into this on write, so nothing stored ever pins a network
/// read buffer, and short strings cost no allocation at all. Keys use the default (24 bytes in
/// all); string values use [`crate::StrValue`], sized so that the common small values (up to 38
/// bytes) live inside the key's node with no allocation of their own.
#[derive(Clone)]
pub struct CompactBytes<const INLINE: usize = KEY_INLINE>(Repr<INLINE>);

#[derive(Clone)]
enum Repr<const INLINE: usize> {
    Inline { len: u8, data: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl<const INLINE: usize> CompactBytes<INLINE> {
    /// An empty string.
    pub const EMPTY: CompactBytes<INLINE> = CompactBytes(Repr::Inline {
        len: 0,
        data: [0; INLINE],
    });

    /// Copies `bytes`.
    pub fn new(bytes: &[u8]) -> CompactBytes<INLINE> {
        if bytes.len() <= INLINE && INLINE <= u8::MAX as usize {
            let mut data = [0; INLINE];
            data[..bytes.len()].copy_from_slice(bytes);
            CompactBytes(Repr::Inline {
                len: bytes.len() as u8,
                data,
            })
        } else {
            CompactBytes(Repr::Heap(bytes.into()))
        }
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, data } => &data[..usize::from(*len)],
            Repr::Heap(boxed) => boxed,
        }
    }

    /// Heap bytes owned beyond the 24 bytes of the value itself.
    pub fn heap_size(&self) -> usize {
        match &self.0 {
            Repr::Inline { .. } => 0,
            Repr::Heap(boxed) => boxed.len(),
        }
    }

    /// The heap bytes a string of `len` bytes would own.
    pub fn heap_size_for(len: usize) -> usize {
        if len <= INLINE && INLINE <= u8::MAX as usize {
            0
        } else {
            len
        }
    }
}

impl<const INLINE: usize> From<Vec<u8>> for CompactBytes<INLINE> {
    fn from(bytes: Vec<u8>) -> CompactBytes<INLINE> {
        if bytes.len() <= INLINE && INLINE <= u8::MAX as usize {
            CompactBytes::new(&bytes)
        } else {
            CompactBytes(Repr::Heap(bytes.into_boxed_slice()))
        }
    }
}

impl<const INLINE: usize> From<&[u8]> for CompactBytes<INLINE> {
    fn from(bytes: &[u8]) -> CompactBytes<INLINE> {
        CompactBytes::new(bytes)
    }
}

impl<const INLINE: usize> Deref for CompactBytes<INLINE> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl<const INLINE: usize> Borrow<[u8]> for CompactBytes<INLINE> {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl<const INLINE: usize> PartialEq for CompactBytes<INLINE> {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl<const INLINE: usize> Eq for CompactBytes<INLINE> {}

impl<const INLINE: usize> PartialOrd for CompactBytes<INLINE> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<const INLINE: usize> Ord for CompactBytes<INLINE> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

/// Hashes exactly as `[u8]` does, so maps keyed by `CompactBytes` can be queried with `&[u8]`.
impl<const INLINE: usize> Hash for CompactBytes<INLINE> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl<const INLINE: usize> fmt::Debug for CompactBytes<INLINE> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_heap_hold_the_same_bytes() {
        assert_eq!(std::mem::size_of::<CompactBytes>(), 24);
        assert_eq!(std::mem::size_of::<CompactBytes<38>>(), 40);
        for len in [0, 1, 21, 22, 23, 100] {
            let bytes: Vec<u8> = (0..len as u8).collect();
            let compact: CompactBytes = CompactBytes::new(&bytes);
            assert_eq!(compact.as_bytes(), &bytes[..]);
            assert_eq!(
                CompactBytes::<22>::from(bytes.clone()).as_bytes(),
                &bytes[..]
            );
            assert_eq!(compact.heap_size(), if len > KEY_INLINE { len } else { 0 });
        }
    }

    #[test]
    fn hashes_like_a_slice() {
        use std::hash::BuildHasher;
        let state = std::collections::hash_map::RandomState::new();
        let bytes = b"some key that is longer than inline";
        assert_eq!(
            state.hash_one(CompactBytes::<22>::new(bytes)),
            state.hash_one(&bytes[..])
        );
        assert_eq!(
            state.hash_one(CompactBytes::<38>::new(b"k")),
            state.hash_one(&b"k"[..])
        );
    }
}
