//! The string value: its bytes, inline up to 38 of them (inside the key's node, no allocation
//! of their own), longer ones in a heap buffer with room to grow; and the mark that says what
//! Redis's `OBJECT ENCODING` would call it.
//!
//! # Growth
//!
//! APPEND and SETRANGE change a string where it is, as Redis changes its sds strings: a buffer
//! that must grow gets room for as much again, at most 1 MiB more (Redis's `sdsMakeRoomFor`),
//! so a string built by appends costs amortized O(1) per appended byte, and a SETRANGE that
//! stays within the string costs the length of its patch, as redis.io documents. (Copying the
//! whole string for every call, as kv did before, made building a large string quadratic.)
//!
//! # Encoding
//!
//! Redis names a string's encoding by how it was last written. A string set by SET and the
//! like is `int`, `embstr` or `raw` by its content (see [`StrValue::encoding`]), but APPEND and
//! SETRANGE on an existing string, and SETRANGE creating one, leave it `raw` (they work on an
//! unshared sds), and INCRBYFLOAT writes `embstr` even for an integer result. A mark on the
//! value keeps that: two bits of an inline string's length byte, a flag beside a heap buffer.
//! It moves with the value (COPY, RENAME and MOVE keep it, as Redis's do) and is lost where
//! Redis also re-encodes: a new value, RESTORE, loading a snapshot.

use std::fmt;
use std::ops::Deref;

/// Bytes kept inline: 38 makes a `StrValue` 40 bytes, a `Value` too.
const INLINE: usize = 38;

/// The length bits of an inline string's length byte (38 needs six).
const LEN_BITS: u8 = 0x3f;

/// Growth beyond which a buffer gets at most this much spare room (Redis's `SDS_MAX_PREALLOC`).
const MAX_PREALLOC: usize = 1024 * 1024;

/// What a string's encoding is besides its content (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    /// By content: `int`, `embstr` or `raw`.
    Content,
    /// `raw`, whatever the content (changed in place by APPEND or SETRANGE).
    Raw,
    /// Not `int` (INCRBYFLOAT's result): `embstr`, or `raw` past 44 bytes.
    NotInt,
}

impl Mark {
    /// The mark's two bits in an inline string's length byte.
    fn bits(self) -> u8 {
        match self {
            Mark::Content => 0,
            Mark::Raw => 0x40,
            Mark::NotInt => 0x80,
        }
    }

    fn from_bits(len_byte: u8) -> Mark {
        match len_byte & !LEN_BITS {
            0x40 => Mark::Raw,
            0x80 => Mark::NotInt,
            _ => Mark::Content,
        }
    }
}

/// A string value (see the module docs).
#[derive(Clone)]
pub struct StrValue(Repr);

#[derive(Clone)]
enum Repr {
    /// Up to [`INLINE`] bytes; `len` holds the length in its low six bits and the [`Mark`] in
    /// the top two.
    Inline { len: u8, data: [u8; INLINE] },
    /// Longer strings, with room to grow once APPEND or SETRANGE has grown them.
    Heap { bytes: Vec<u8>, mark: Mark },
}

impl StrValue {
    /// The empty string.
    pub const EMPTY: StrValue = StrValue(Repr::Inline {
        len: 0,
        data: [0; INLINE],
    });

    /// Copies `bytes`.
    pub fn new(bytes: &[u8]) -> StrValue {
        if bytes.len() <= INLINE {
            let mut data = [0; INLINE];
            data[..bytes.len()].copy_from_slice(bytes);
            StrValue(Repr::Inline {
                len: bytes.len() as u8,
                data,
            })
        } else {
            StrValue(Repr::Heap {
                bytes: bytes.to_vec(),
                mark: Mark::Content,
            })
        }
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, data } => &data[..usize::from(len & LEN_BITS)],
            Repr::Heap { bytes, .. } => bytes,
        }
    }

    /// Heap bytes owned beyond the value's own 40 (its buffer's capacity).
    pub fn heap_size(&self) -> usize {
        match &self.0 {
            Repr::Inline { .. } => 0,
            Repr::Heap { bytes, .. } => bytes.capacity(),
        }
    }

    /// The name Redis's `OBJECT ENCODING` gives this string.
    pub fn encoding(&self) -> &'static str {
        let bytes = self.as_bytes();
        match self.mark() {
            Mark::Raw => "raw",
            Mark::Content if bytes.len() <= 20 && kv_resp::parse_i64(bytes).is_some() => "int",
            // Redis's `OBJ_ENCODING_EMBSTR_SIZE_LIMIT`.
            Mark::Content | Mark::NotInt if bytes.len() <= 44 => "embstr",
            Mark::Content | Mark::NotInt => "raw",
        }
    }

    /// Marks the string as INCRBYFLOAT's result: never `int`.
    pub fn mark_not_int(&mut self) {
        self.set_mark(Mark::NotInt);
    }

    /// Marks the string as changed in place: `raw` (SETRANGE creating a key does this too).
    pub fn mark_raw(&mut self) {
        self.set_mark(Mark::Raw);
    }

    fn mark(&self) -> Mark {
        match &self.0 {
            Repr::Inline { len, .. } => Mark::from_bits(*len),
            Repr::Heap { mark, .. } => *mark,
        }
    }

    fn set_mark(&mut self, new: Mark) {
        match &mut self.0 {
            Repr::Inline { len, .. } => *len = (*len & LEN_BITS) | new.bits(),
            Repr::Heap { mark, .. } => *mark = new,
        }
    }

    /// Appends `suffix` in place (APPEND), and marks the string `raw`.
    pub fn append(&mut self, suffix: &[u8]) {
        let len = self.len();
        self.grow_to(len + suffix.len());
        self.bytes_mut()[len..].copy_from_slice(suffix);
        self.mark_raw();
    }

    /// Writes `patch` at `offset`, padding with zero bytes up to it if the string is shorter
    /// (SETRANGE), and marks the string `raw`.
    pub fn set_range(&mut self, offset: usize, patch: &[u8]) {
        let end = offset + patch.len();
        self.grow_to(end.max(self.len()));
        self.bytes_mut()[offset..end].copy_from_slice(patch);
        self.mark_raw();
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        match &mut self.0 {
            Repr::Inline { len, data } => &mut data[..usize::from(*len & LEN_BITS)],
            Repr::Heap { bytes, .. } => bytes,
        }
    }

    /// Makes the string `new_len` bytes long (not shorter than it is), the new bytes zero. A
    /// buffer that must grow gets room for as much again, at most [`MAX_PREALLOC`] more, as
    /// Redis's greedy `sdsMakeRoomFor` gives it.
    fn grow_to(&mut self, new_len: usize) {
        let grow = |bytes: &mut Vec<u8>| {
            if new_len > bytes.capacity() {
                let room = new_len.min(MAX_PREALLOC);
                bytes.reserve_exact(new_len + room - bytes.len());
            }
            bytes.resize(new_len, 0);
        };
        let mark = self.mark();
        match &mut self.0 {
            Repr::Inline { len, .. } if new_len <= INLINE => {
                // The bytes past the old length are zero: every write of a shorter string
                // leaves them so (`new`), and shrinking never happens in place.
                *len = new_len as u8 | mark.bits();
            }
            Repr::Inline { len, data } => {
                let mut bytes = data[..usize::from(*len & LEN_BITS)].to_vec();
                grow(&mut bytes);
                self.0 = Repr::Heap { bytes, mark };
            }
            Repr::Heap { bytes, .. } => grow(bytes),
        }
    }
}

impl From<Vec<u8>> for StrValue {
    fn from(mut bytes: Vec<u8>) -> StrValue {
        if bytes.len() <= INLINE {
            StrValue::new(&bytes)
        } else {
            bytes.shrink_to_fit();
            StrValue(Repr::Heap {
                bytes,
                mark: Mark::Content,
            })
        }
    }
}

impl Deref for StrValue {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

/// Equal when the bytes are: the encoding mark is not part of the value.
impl PartialEq for StrValue {
    fn eq(&self, other: &StrValue) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for StrValue {}

impl fmt::Debug for StrValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_grow_in_place_with_room_to_spare() {
        let mut s = StrValue::new(b"ab");
        s.append(b"cd");
        assert_eq!(s.as_bytes(), b"abcd");
        assert_eq!(s.heap_size(), 0, "still inline");
        let chunk = [b'x'; 30];
        s.append(&chunk);
        assert_eq!(s.len(), 34);
        s.append(&chunk);
        assert_eq!(s.len(), 64);
        assert!(s.heap_size() >= 128, "room for as much again");
        // Appends within the room do not move the buffer.
        let before = s.as_ptr();
        s.append(&chunk);
        assert_eq!(s.as_ptr(), before);
        assert_eq!(&s[..4], b"abcd");
        assert!(s[4..].iter().all(|&b| b == b'x'));
        // Past 1 MiB the spare room stops doubling.
        let mut big = StrValue::new(&[1; 100]);
        big.append(&vec![2; 3 * MAX_PREALLOC]);
        assert!(big.heap_size() <= 4 * MAX_PREALLOC + 100);
    }

    #[test]
    fn set_range_patches_and_pads_with_zeros() {
        let mut s = StrValue::new(b"hello");
        s.set_range(1, b"EL");
        assert_eq!(s.as_bytes(), b"hELlo");
        s.set_range(8, b"!");
        assert_eq!(s.as_bytes(), b"hELlo\0\0\0!");
        let mut empty = StrValue::EMPTY;
        empty.set_range(50, b"z");
        assert_eq!(empty.len(), 51);
        assert!(empty[..50].iter().all(|&b| b == 0));
        assert_eq!(empty[50], b'z');
    }

    #[test]
    fn encodings_follow_content_unless_marked() {
        assert_eq!(StrValue::new(b"12345").encoding(), "int");
        assert_eq!(StrValue::new(b"012").encoding(), "embstr");
        assert_eq!(StrValue::new(&[b'a'; 44]).encoding(), "embstr");
        assert_eq!(StrValue::new(&[b'a'; 45]).encoding(), "raw");
        let mut appended = StrValue::new(b"1");
        appended.append(b"2");
        assert_eq!(appended.as_bytes(), b"12");
        assert_eq!(appended.encoding(), "raw");
        let mut float = StrValue::new(b"3");
        float.mark_not_int();
        assert_eq!(float.encoding(), "embstr");
        assert_eq!(float.as_bytes(), b"3", "the mark does not touch the length");
        let mut long_float = StrValue::new(&[b'1'; 40]);
        long_float.mark_not_int();
        assert_eq!(long_float.encoding(), "embstr");
        // A mark survives growth to the heap, and a clone.
        let mut grown = StrValue::new(b"x");
        grown.mark_raw();
        grown.append(&[b'y'; 60]);
        assert_eq!(grown.clone().encoding(), "raw");
        assert_eq!(grown, StrValue::new(&grown));
    }
}
