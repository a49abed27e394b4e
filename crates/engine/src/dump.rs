//! The DUMP/RESTORE payload: kv's serialization of one value.
//!
//! # Format
//!
//! ```text
//! +-----+----------------+----------------------+-----------------------+
//! | tag | value encoding | version (u16, LE)    | CRC-64 (u64, LE)      |
//! +-----+----------------+----------------------+-----------------------+
//!   1 B    depends on tag   2 B                    8 B
//! ```
//!
//! The layout follows Redis's (type byte, value, 2-byte version, CRC-64/Jones over everything
//! before it), but the value encodings are kv's own and the version numbers count kv's format,
//! not Redis's RDB versions, so a payload from one is not meant to be restored by the other.
//!
//! - The **tag** names the value's type. Each type has a fixed tag that is never reused (see
//!   [`Tag`]); a type added later gets a new tag, so payloads written today keep their meaning.
//!   A reader meeting a tag it does not know refuses the payload instead of guessing.
//! - **Lengths** are unsigned LEB128 varints (7 bits a byte, low bits first, at most 10 bytes,
//!   no redundant trailing zero bytes), so small values cost one byte and every length has one
//!   encoding. A reader checks each declared length against the bytes actually present before
//!   using it, so a hostile payload can neither make it allocate nor read out of bounds.
//! - A **string** (tag 0) is its length followed by its bytes.
//! - The **version** is [`FORMAT_VERSION`]. A reader refuses versions newer than its own; a
//!   later version may change encodings and must keep reading older ones.
//! - The **checksum** is the reflected CRC-64 with the Jones polynomial (the one Redis uses),
//!   initial value 0, no final XOR, over the tag, the value and the version.

use crate::Value;

/// The payload format version this build writes, and the newest it reads.
pub const FORMAT_VERSION: u16 = 1;

/// Bytes after the value: the version and the checksum.
const FOOTER_LEN: usize = 2 + 8;

/// The type tags. Values are part of the format: never renumber or reuse one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Tag {
    /// A string: varint length, then the bytes.
    String = 0,
    // Reserved for the types kv will add, so that their payloads never collide with each
    // other: 1 list, 2 set, 3 sorted set, 4 hash, 5 stream.
}

impl Tag {
    /// The tag a payload starts with, if this build knows it.
    fn from_byte(byte: u8) -> Option<Tag> {
        match byte {
            0 => Some(Tag::String),
            _ => None,
        }
    }
}

/// Why a payload was refused; each maps to the error line Redis sends for the same case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadError {
    /// Too short for a footer, a newer version, or a checksum mismatch.
    VersionOrChecksum,
    /// The checksum holds but the content does not decode (unknown tag, a length beyond the
    /// end, trailing bytes).
    BadFormat,
}

impl PayloadError {
    /// The error line RESTORE replies with.
    pub fn message(self) -> &'static str {
        match self {
            PayloadError::VersionOrChecksum => "ERR DUMP payload version or checksum are wrong",
            PayloadError::BadFormat => "ERR Bad data format",
        }
    }
}

impl From<PayloadError> for crate::CommandError {
    fn from(e: PayloadError) -> crate::CommandError {
        crate::CommandError::msg(e.message())
    }
}

/// Serializes `value` into a complete payload, footer included.
pub fn serialize(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    match value {
        Value::Str(s) => {
            out.push(Tag::String as u8);
            write_varint(&mut out, s.len() as u64);
            out.extend_from_slice(s);
        }
    }
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    let crc = crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Checks the footer of `payload` and decodes the value it holds.
pub fn deserialize(payload: &[u8]) -> Result<Value, PayloadError> {
    let body = verify(payload)?;
    let mut reader = Reader { rest: body };
    let tag = Tag::from_byte(reader.byte()?).ok_or(PayloadError::BadFormat)?;
    let value = match tag {
        Tag::String => {
            let len = reader.varint()?;
            Value::Str(crate::CompactBytes::new(reader.take(len)?))
        }
    };
    if !reader.rest.is_empty() {
        return Err(PayloadError::BadFormat);
    }
    Ok(value)
}

/// Checks the version and the checksum; returns the bytes before the footer.
fn verify(payload: &[u8]) -> Result<&[u8], PayloadError> {
    let split = payload
        .len()
        .checked_sub(FOOTER_LEN)
        .ok_or(PayloadError::VersionOrChecksum)?;
    let (body, footer) = payload.split_at(split);
    let (version, crc) = footer.split_at(2);
    let version = u16::from_le_bytes([version[0], version[1]]);
    if version > FORMAT_VERSION {
        return Err(PayloadError::VersionOrChecksum);
    }
    let mut stored = [0u8; 8];
    stored.copy_from_slice(crc);
    if crc64(0, &payload[..split + 2]) != u64::from_le_bytes(stored) {
        return Err(PayloadError::VersionOrChecksum);
    }
    Ok(body)
}

/// Appends `n` as an unsigned LEB128 varint.
fn write_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// A bounds-checked cursor over a payload's value bytes.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// The next byte.
    fn byte(&mut self) -> Result<u8, PayloadError> {
        let (&first, rest) = self.rest.split_first().ok_or(PayloadError::BadFormat)?;
        self.rest = rest;
        Ok(first)
    }

    /// A canonical LEB128 varint: at most 10 bytes, fitting in 64 bits, without a redundant
    /// zero last byte.
    fn varint(&mut self) -> Result<u64, PayloadError> {
        let mut n = 0u64;
        for i in 0..10 {
            let byte = self.byte()?;
            let bits = u64::from(byte & 0x7f);
            // The tenth byte may only carry the 64th bit.
            if i == 9 && bits > 1 {
                return Err(PayloadError::BadFormat);
            }
            n |= bits << (7 * i);
            if byte & 0x80 == 0 {
                if i > 0 && byte == 0 {
                    return Err(PayloadError::BadFormat);
                }
                return Ok(n);
            }
        }
        Err(PayloadError::BadFormat)
    }

    /// The next `len` bytes, refusing a length beyond the end before touching anything.
    fn take(&mut self, len: u64) -> Result<&'a [u8], PayloadError> {
        let len = usize::try_from(len).map_err(|_| PayloadError::BadFormat)?;
        if len > self.rest.len() {
            return Err(PayloadError::BadFormat);
        }
        let (taken, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok(taken)
    }
}

/// The Jones polynomial, bit-reflected: 0xad93d23594c935a9 read from the other end.
const JONES_REFLECTED: u64 = 0x95ac_9329_ac4b_c9b5;

/// The byte-at-a-time lookup table of the reflected CRC, built at compile time.
const CRC_TABLE: [u64; 256] = crc_table();

/// Each table entry is the CRC of one byte value, computed bit by bit.
const fn crc_table() -> [u64; 256] {
    let mut table = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u64;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ JONES_REFLECTED
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

/// CRC-64/Jones as Redis computes it (`crc64(crc, data)`): reflected, no final XOR; pass 0 to
/// start, or a previous result to continue over more data.
pub fn crc64(mut crc: u64, data: &[u8]) -> u64 {
    for &byte in data {
        crc = CRC_TABLE[((crc ^ u64::from(byte)) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CompactBytes;

    fn string(s: &[u8]) -> Value {
        Value::Str(CompactBytes::new(s))
    }

    #[test]
    fn crc64_matches_the_jones_test_vector() {
        // The check value Redis's own crc64 test uses.
        assert_eq!(crc64(0, b"123456789"), 0xe9c6_d914_c4b8_d9ca);
        assert_eq!(crc64(0, b""), 0);
        // Continuing over a split input gives the same result.
        assert_eq!(crc64(crc64(0, b"1234"), b"56789"), 0xe9c6_d914_c4b8_d9ca);
    }

    #[test]
    fn crc64_matches_a_real_redis_dump() {
        // `DUMP` of "hello" from Redis 7.0: the last 8 bytes are the CRC of the rest.
        let payload = b"\x00\x05hello\x0a\x00cr\xdfve4 \x0a";
        let (body, crc) = payload.split_at(payload.len() - 8);
        assert_eq!(crc64(0, body).to_le_bytes(), crc);
    }

    #[test]
    fn strings_round_trip() {
        for s in [&b""[..], b"x", b"hello", b"12345", &[0u8, 255, 13, 10], &[b'a'; 200], &[7u8; 70_000]] {
            let payload = serialize(&string(s));
            assert_eq!(deserialize(&payload), Ok(string(s)), "{} bytes", s.len());
        }
    }

    #[test]
    fn layout_is_tag_length_bytes_version_crc() {
        let payload = serialize(&string(b"hi"));
        assert_eq!(&payload[..5], b"\x00\x02hi\x01");
        assert_eq!(payload[5], 0);
        assert_eq!(payload.len(), 4 + FOOTER_LEN);
        let long = serialize(&string(&[b'z'; 300]));
        // 300 = 0b10_0101100: low seven bits with the continuation bit, then 2.
        assert_eq!(&long[..3], &[0, 0xac, 0x02]);
    }

    #[test]
    fn every_single_byte_change_is_refused() {
        let payload = serialize(&string(b"some value"));
        for i in 0..payload.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bad = payload.clone();
                bad[i] ^= flip;
                assert!(deserialize(&bad).is_err(), "byte {i} ^ {flip:#x} accepted");
            }
        }
    }

    #[test]
    fn truncated_and_extended_payloads_are_refused() {
        let payload = serialize(&string(b"some value"));
        for len in 0..payload.len() {
            assert_eq!(deserialize(&payload[..len]), Err(PayloadError::VersionOrChecksum), "{len}");
        }
        let mut longer = payload.clone();
        longer.push(0);
        assert_eq!(deserialize(&longer), Err(PayloadError::VersionOrChecksum));
    }

    /// A payload with a correct footer around arbitrary content.
    fn sealed(body: &[u8], version: u16) -> Vec<u8> {
        let mut out = body.to_vec();
        out.extend_from_slice(&version.to_le_bytes());
        let crc = crc64(0, &out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    #[test]
    fn newer_versions_are_refused_and_older_ones_read() {
        assert_eq!(deserialize(&sealed(b"\x00\x01a", 2)), Err(PayloadError::VersionOrChecksum));
        assert_eq!(deserialize(&sealed(b"\x00\x01a", u16::MAX)), Err(PayloadError::VersionOrChecksum));
        assert_eq!(deserialize(&sealed(b"\x00\x01a", 0)), Ok(string(b"a")));
    }

    #[test]
    fn well_sealed_nonsense_is_a_format_error() {
        let cases: &[&[u8]] = &[
            b"",                                                // no tag
            b"\x09\x00",                                        // unknown tag
            b"\x00",                                            // no length
            b"\x00\x05abc",                                     // length beyond the end
            b"\x00\x01ab",                                      // trailing bytes
            b"\x00\x80",                                        // unfinished varint
            b"\x00\x81\x00a",                                   // redundant zero byte
            b"\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",    // 2^64 - 1: far beyond the end
            b"\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02",    // more than 64 bits
            b"\x00\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00", // eleven bytes
        ];
        for body in cases {
            assert_eq!(deserialize(&sealed(body, FORMAT_VERSION)), Err(PayloadError::BadFormat), "{body:?}");
        }
    }
}
