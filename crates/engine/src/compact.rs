//! Compact owned byte strings for keys and small values.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// Bytes stored inline up to this length.
const INLINE: usize = 22;

/// An owned, binary-safe byte string in 24 bytes: up to 22 bytes live inline, longer strings in
/// one exact-size heap allocation.
///
/// Keys and string values are copied into this on write, so nothing stored ever pins a network
/// read buffer, and short strings cost no allocation at all.
#[derive(Clone)]
pub struct CompactBytes(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, data: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl CompactBytes {
    /// An empty string.
    pub const EMPTY: CompactBytes = CompactBytes(Repr::Inline {
        len: 0,
        data: [0; INLINE],
    });

    /// Copies `bytes`.
    pub fn new(bytes: &[u8]) -> CompactBytes {
        if bytes.len() <= INLINE {
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
}

impl From<Vec<u8>> for CompactBytes {
    fn from(bytes: Vec<u8>) -> CompactBytes {
        if bytes.len() <= INLINE {
            CompactBytes::new(&bytes)
        } else {
            CompactBytes(Repr::Heap(bytes.into_boxed_slice()))
        }
    }
}

impl From<&[u8]> for CompactBytes {
    fn from(bytes: &[u8]) -> CompactBytes {
        CompactBytes::new(bytes)
    }
}

impl Deref for CompactBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Borrow<[u8]> for CompactBytes {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for CompactBytes {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for CompactBytes {}

impl PartialOrd for CompactBytes {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for CompactBytes {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

/// Hashes exactly as `[u8]` does, so maps keyed by `CompactBytes` can be queried with `&[u8]`.
impl Hash for CompactBytes {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl fmt::Debug for CompactBytes {
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
        for len in [0, 1, 21, 22, 23, 100] {
            let bytes: Vec<u8> = (0..len as u8).collect();
            let compact = CompactBytes::new(&bytes);
            assert_eq!(compact.as_bytes(), &bytes[..]);
            assert_eq!(CompactBytes::from(bytes.clone()).as_bytes(), &bytes[..]);
            assert_eq!(compact.heap_size(), if len > INLINE { len } else { 0 });
        }
    }

    #[test]
    fn hashes_like_a_slice() {
        use std::hash::BuildHasher;
        let state = std::collections::hash_map::RandomState::new();
        let bytes = b"some key that is longer than inline";
        assert_eq!(
            state.hash_one(CompactBytes::new(bytes)),
            state.hash_one(&bytes[..])
        );
        assert_eq!(
            state.hash_one(CompactBytes::new(b"k")),
            state.hash_one(&b"k"[..])
        );
    }
}
