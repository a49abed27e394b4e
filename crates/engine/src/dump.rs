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
//! - A **sorted set** (tag 3) is its count, then each member in ascending `(score, member)`
//!   order as a length-prefixed string followed by its score as an IEEE-754 double, 8 bytes
//!   little-endian. A reader refuses NaN scores and repeated members; RESTORE gives the set the
//!   form its content calls for, as Redis does when it loads one.
//! - A **hash with field TTLs** (tag 6) is a hash (tag 4) whose fields each carry a third
//!   varint after the value: the field's expiry in Unix milliseconds, 0 for none. A hash
//!   without field TTLs is still written with tag 4, so its payload is what it always was and
//!   older kv builds can restore it; they refuse tag 6 as a tag they do not know.
//! - The **version** is [`FORMAT_VERSION`]. A reader refuses versions newer than its own; a
//!   later version may change encodings and must keep reading older ones.
//! - The **checksum** is the reflected CRC-64 with the Jones polynomial (the one Redis uses),
//!   initial value 0, no final XOR, over the tag, the value and the version.

use std::num::NonZeroU64;

use crate::args::parse_i64;
use crate::{Args, CommandError, CommandResult, Ctx, Entry, EventClass, Reply, Value};

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
    /// A list: varint count, then each element as varint length and bytes.
    List = 1,
    /// A set: varint count, then each member as varint length and bytes.
    Set = 2,
    /// A sorted set: varint count, then each member as varint length and bytes followed by its
    /// score (f64, 8 bytes LE), in ascending order.
    ZSet = 3,
    /// A hash: varint count, then each field and its value as varint length and bytes.
    Hash = 4,
    /// A hash with field TTLs: as [`Tag::Hash`], with each field's expiry (Unix milliseconds,
    /// 0 for none) as a varint after its value.
    HashWithTtls = 6,
    // Reserved for the types kv will add, so that their payloads never collide with each
    // other: 5 stream.
}

impl Tag {
    /// The tag a payload starts with, if this build knows it.
    fn from_byte(byte: u8) -> Option<Tag> {
        match byte {
            0 => Some(Tag::String),
            1 => Some(Tag::List),
            2 => Some(Tag::Set),
            3 => Some(Tag::ZSet),
            4 => Some(Tag::Hash),
            6 => Some(Tag::HashWithTtls),
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

impl From<PayloadError> for CommandError {
    fn from(e: PayloadError) -> CommandError {
        CommandError::msg(e.message())
    }
}

/// Thresholds that keep nothing small: a hash being decoded stays in the large form, where an
/// insertion is O(1), until RESTORE picks its form.
const NO_SMALL_FORM: crate::hash_value::Limits = crate::hash_value::Limits {
    max_entries: 0,
    max_value: 0,
};

/// Serializes `value` into a complete payload, footer included.
pub fn serialize(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_value(value, &mut out);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    let crc = crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Readies a value decoded from a payload or a snapshot for storing, as Redis's loading does:
/// drops hash fields whose time has passed by `now`, and puts a collection in the form its
/// content and `config`'s current thresholds call for (decoding builds the large form).
/// `false` when nothing is left to store (a hash whose every field had expired).
pub fn prepare_loaded(value: &mut Value, config: &crate::EngineConfig, now: u64) -> bool {
    if let Value::Hash(hash) = value {
        hash.remove_expired(now, usize::MAX);
        if hash.is_empty() {
            return false;
        }
    }
    match value {
        Value::ZSet(zset) => zset.refit(config.zset_limits()),
        Value::Hash(hash) => hash.refit(config.hash_limits()),
        Value::Set(set) => set.refit(config.set_max_intset_entries()),
        Value::Str(_) | Value::List(_) => {}
    }
    true
}

/// Appends the encoding of `value`, tag and value without the footer: the body of a DUMP
/// payload, and what a snapshot stores for each key (whose file has one checksum of its own).
pub fn encode_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Str(s) => {
            out.push(Tag::String as u8);
            write_bytes(out, s);
        }
        Value::List(items) => {
            out.push(Tag::List as u8);
            write_varint(out, items.len() as u64);
            for item in items.iter() {
                write_bytes(out, item);
            }
        }
        Value::Set(members) => {
            out.push(Tag::Set as u8);
            write_varint(out, members.len() as u64);
            for member in members.iter() {
                write_bytes(out, &member);
            }
        }
        Value::ZSet(zset) => {
            out.push(Tag::ZSet as u8);
            write_varint(out, zset.len() as u64);
            for (member, score) in zset.iter() {
                write_bytes(out, member);
                out.extend_from_slice(&score.to_le_bytes());
            }
        }
        Value::Hash(hash) => {
            // Every stored field: one whose time has passed is dropped by RESTORE, which
            // knows the time, so DUMP (which must not change the hash) need not.
            let ttls = hash.has_ttls();
            out.push(if ttls { Tag::HashWithTtls } else { Tag::Hash } as u8);
            write_varint(out, hash.len() as u64);
            for (field, value) in hash.iter_stored() {
                write_bytes(out, field);
                write_bytes(out, value);
                if ttls {
                    write_varint(out, hash.expires_at(field).unwrap_or(0));
                }
            }
        }
    }
}

/// Checks the footer of `payload` and decodes the value it holds.
pub fn deserialize(payload: &[u8]) -> Result<Value, PayloadError> {
    decode_value(verify(payload)?)
}

/// Decodes a value encoded by [`encode_value`] (no footer), all of `body`.
pub fn decode_value(body: &[u8]) -> Result<Value, PayloadError> {
    let mut reader = Reader { rest: body };
    let tag = Tag::from_byte(reader.byte()?).ok_or(PayloadError::BadFormat)?;
    let value = match tag {
        Tag::String => {
            let len = reader.varint()?;
            Value::Str(crate::StrValue::new(reader.take(len)?))
        }
        Tag::List => {
            let count = reader.count()?;
            let mut items = crate::ListValue::new();
            for _ in 0..count {
                items.push_back(reader.bytes()?);
            }
            if items.is_empty() {
                return Err(PayloadError::BadFormat);
            }
            Value::List(items)
        }
        Tag::Set => {
            let count = reader.count()?;
            let mut members = Vec::new();
            for _ in 0..count {
                members.push(reader.bytes()?);
            }
            // Built whole, in the form the content calls for at the default threshold;
            // RESTORE then picks the form for the server's own, as Redis does on load.
            let set = crate::SetValue::from_members(members.iter().copied(), 512);
            // A member twice would silently shrink the set: refuse, as for hash fields.
            if set.len() != members.len() || set.is_empty() {
                return Err(PayloadError::BadFormat);
            }
            Value::Set(set)
        }
        Tag::ZSet => {
            let count = reader.count()?;
            let mut items = Vec::new();
            let mut seen = std::collections::HashSet::new();
            for _ in 0..count {
                let member = reader.bytes()?;
                let score = f64::from_le_bytes(reader.array()?);
                // A NaN score or a member twice cannot be built through commands.
                if score.is_nan() || !seen.insert(member) {
                    return Err(PayloadError::BadFormat);
                }
                items.push((crate::CompactBytes::new(member), score));
            }
            if items.is_empty() {
                return Err(PayloadError::BadFormat);
            }
            items.sort_by(|a, b| crate::zset::cmp_elements(a.1, &a.0, b.1, &b.0));
            // Built large, so scores stay exactly as written (a small set would turn -0 into
            // 0); RESTORE then picks the form for the server's limits, as Redis does on load.
            Value::ZSet(Box::new(crate::ZSetValue::large_from_sorted(items)))
        }
        Tag::Hash | Tag::HashWithTtls => {
            let count = reader.count()?;
            // Built large, O(1) a field whatever the count; RESTORE then picks the form for
            // the server's thresholds, as Redis does on load.
            let mut hash = crate::HashValue::new_large();
            for _ in 0..count {
                let field = reader.bytes()?;
                let value = reader.bytes()?;
                // A field twice would silently shrink the hash: refuse.
                if !hash.insert(field, value, NO_SMALL_FORM) {
                    return Err(PayloadError::BadFormat);
                }
                if tag == Tag::HashWithTtls {
                    match reader.varint()? {
                        0 => {}
                        at => {
                            hash.set_expiry(field, at);
                        }
                    }
                }
            }
            if hash.is_empty() {
                return Err(PayloadError::BadFormat);
            }
            Value::Hash(hash)
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
/// A length-prefixed byte string.
fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    write_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

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
    /// A length-prefixed byte string.
    fn bytes(&mut self) -> Result<&'a [u8], PayloadError> {
        let len = self.varint()?;
        self.take(len)
    }

    /// An element count, refused when the payload cannot possibly hold that many elements
    /// (each takes at least one byte), so a forged count never drives an allocation.
    fn count(&mut self) -> Result<u64, PayloadError> {
        let count = self.varint()?;
        if count > self.rest.len() as u64 {
            return Err(PayloadError::BadFormat);
        }
        Ok(count)
    }

    /// The next `N` bytes as an array (a fixed-size field such as a score).
    fn array<const N: usize>(&mut self) -> Result<[u8; N], PayloadError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N as u64)?);
        Ok(out)
    }

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

// ---------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------

/// `DUMP key`: the key's value as a payload, or nil when missing. The TTL is not included.
pub fn dump(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    match ctx.lookup(args.next_bytes()?)? {
        Some(entry) => reply.bulk(&serialize(&entry.value)),
        None => reply.null(),
    }
    Ok(())
}

/// RESTORE's options after the payload.
#[derive(Debug, Default)]
struct RestoreOptions {
    /// `REPLACE`: overwrite an existing key.
    replace: bool,
    /// `ABSTTL`: the TTL is a Unix time in milliseconds.
    absttl: bool,
    /// `IDLETIME seconds`: how long ago the key is to look last accessed.
    idle_seconds: Option<i64>,
    /// `FREQ frequency`: the LFU counter to start from (ignored without an LFU policy).
    freq: Option<i64>,
}

impl RestoreOptions {
    /// Parses the options as Redis does: IDLETIME and FREQ exclude each other (the second is a
    /// syntax error), and a bad value is reported where it is met.
    fn parse(args: &mut Args<'_>) -> Result<RestoreOptions, CommandError> {
        let mut o = RestoreOptions::default();
        while let Some(option) = args.peek() {
            args.next_bytes()?;
            let has_value = !args.is_empty();
            if option.eq_ignore_ascii_case(b"replace") {
                o.replace = true;
            } else if option.eq_ignore_ascii_case(b"absttl") {
                o.absttl = true;
            } else if option.eq_ignore_ascii_case(b"idletime") && has_value && o.freq.is_none() {
                let idle = args.next_i64()?;
                if idle < 0 {
                    return Err(CommandError::msg(
                        "ERR Invalid IDLETIME value, must be >= 0",
                    ));
                }
                o.idle_seconds = Some(idle);
            } else if option.eq_ignore_ascii_case(b"freq") && has_value && o.idle_seconds.is_none()
            {
                let freq = args.next_i64()?;
                if !(0..=255).contains(&freq) {
                    return Err(CommandError::msg(
                        "ERR Invalid FREQ value, must be >= 0 and <= 255",
                    ));
                }
                o.freq = Some(freq);
            } else {
                return Err(CommandError::Syntax);
            }
        }
        Ok(o)
    }
}

/// `RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]`:
/// creates the key from a DUMP payload. A TTL of 0 means no expiry; one already in the past
/// creates nothing (but REPLACE still deletes the old key) and replies OK, as in Redis.
pub fn restore(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let ttl = args.next_bytes()?;
    let payload = args.next_bytes()?;
    let options = RestoreOptions::parse(args)?;
    let (db, now) = (ctx.db(), ctx.now);
    // Redis's order of checks: existing key, then TTL, then payload.
    if !options.replace && ctx.locked.get(db, key, now)?.is_some() {
        return Err(CommandError::msg("BUSYKEY Target key name already exists."));
    }
    let ttl = parse_i64(ttl)?;
    if ttl < 0 {
        return Err(CommandError::msg("ERR Invalid TTL value, must be >= 0"));
    }
    let mut value = deserialize(payload)?;
    // Redis deletes the old key without looking it up: one past its TTL counts as deleted
    // (reported as `del` if nothing takes its place), never as expired.
    let deleted = options.replace && ctx.locked.delete_even_expired(db, key)?;
    // What Redis reports when REPLACE deleted a key and nothing takes its place.
    let report_deletion = |ctx: &mut Ctx<'_, '_>| {
        if deleted {
            ctx.modified(EventClass::GENERIC, "del", key);
            ctx.propagate(|| crate::effect_args!(b"DEL", key));
        }
    };
    // A hash left with no live field is like a TTL already past: nothing is created.
    if !prepare_loaded(&mut value, &ctx.engine.config, now) {
        report_deletion(ctx);
        reply.ok();
        return Ok(());
    }
    let now_signed = i64::try_from(now).unwrap_or(i64::MAX);
    // A relative TTL so large that the sum wraps lands in the past, as it does in Redis.
    let expires_at = match ttl {
        0 => None,
        ttl if options.absttl => Some(ttl),
        ttl => Some(ttl.wrapping_add(now_signed)),
    };
    if expires_at.is_some_and(|at| at <= now_signed) {
        report_deletion(ctx);
        reply.ok();
        return Ok(());
    }
    let entry = Entry {
        value,
        expires_at: expires_at.and_then(|at| NonZeroU64::new(at.unsigned_abs())),
        access: crate::Access::new(now).cell(),
    };
    // As Redis's `objectSetLRUOrLFU`: FREQ counts under an LFU policy, IDLETIME otherwise.
    match (ctx.engine.lfu(), options.freq, options.idle_seconds) {
        (Some(_), Some(freq), _) => entry.set_frequency(now, u8::try_from(freq).unwrap_or(0)),
        (None, _, Some(idle)) => entry.set_idle(now, idle.unsigned_abs()),
        _ => {}
    }
    ctx.locked.insert(db, key, entry, now)?;
    ctx.modified(EventClass::GENERIC, "restore", key);
    // Replayed with the TTL absolute.
    ctx.propagate(|| {
        let ttl = expires_at.unwrap_or(0).to_string();
        crate::effect_args!(b"RESTORE", key, ttl, payload, b"ABSTTL", b"REPLACE")
    });
    reply.ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use kv_resp::Frame;

    use super::*;
    use crate::keys::tests::Client;

    fn string(s: &[u8]) -> Value {
        Value::Str(crate::StrValue::new(s))
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
        for s in [
            &b""[..],
            b"x",
            b"hello",
            b"12345",
            &[0u8, 255, 13, 10],
            &[b'a'; 200],
            &[7u8; 70_000],
        ] {
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
            assert_eq!(
                deserialize(&payload[..len]),
                Err(PayloadError::VersionOrChecksum),
                "{len}"
            );
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
        assert_eq!(
            deserialize(&sealed(b"\x00\x01a", 2)),
            Err(PayloadError::VersionOrChecksum)
        );
        assert_eq!(
            deserialize(&sealed(b"\x00\x01a", u16::MAX)),
            Err(PayloadError::VersionOrChecksum)
        );
        assert_eq!(deserialize(&sealed(b"\x00\x01a", 0)), Ok(string(b"a")));
    }

    #[test]
    fn well_sealed_nonsense_is_a_format_error() {
        let cases: &[&[u8]] = &[
            b"",                                                 // no tag
            b"\x09\x00",                                         // unknown tag
            b"\x00",                                             // no length
            b"\x00\x05abc",                                      // length beyond the end
            b"\x00\x01ab",                                       // trailing bytes
            b"\x00\x80",                                         // unfinished varint
            b"\x00\x81\x00a",                                    // redundant zero byte
            b"\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",     // 2^64 - 1: far beyond the end
            b"\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02",     // more than 64 bits
            b"\x00\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00", // eleven bytes
        ];
        for body in cases {
            assert_eq!(
                deserialize(&sealed(body, FORMAT_VERSION)),
                Err(PayloadError::BadFormat),
                "{body:?}"
            );
        }
    }

    // -----------------------------------------------------------------------------------------
    // DUMP and RESTORE through the engine
    // -----------------------------------------------------------------------------------------

    fn ok() -> Frame {
        Frame::simple("OK")
    }

    fn err(text: &'static str) -> Frame {
        Frame::error(text)
    }

    /// DUMP's payload for `key`.
    fn dump_of(c: &mut Client, key: &str) -> Bytes {
        match c.cmd(&format!("DUMP {key}")) {
            Frame::Bulk(payload) => payload,
            other => panic!("{other:?}"),
        }
    }

    /// RESTORE with the payload in third place and `options` after it.
    fn restore(c: &mut Client, key: &str, ttl: &str, payload: &[u8], options: &str) -> Frame {
        let mut args: Vec<&[u8]> = vec![b"RESTORE", key.as_bytes(), ttl.as_bytes(), payload];
        args.extend(options.split_whitespace().map(str::as_bytes));
        c.run(&args)
    }

    #[test]
    fn dump_and_restore_round_trip() {
        let mut c = Client::new();
        assert_eq!(c.cmd("DUMP nope"), Frame::NullBulk);
        c.run(&[b"SET", b"k", b"bin\x00\r\nary"]);
        c.cmd("PEXPIRE k 100000");
        let payload = dump_of(&mut c, "k");
        assert_eq!(payload, Bytes::from(serialize(&string(b"bin\x00\r\nary"))));
        assert_eq!(restore(&mut c, "copy", "0", &payload, ""), ok());
        assert_eq!(c.cmd("GET copy"), Frame::bulk("bin\x00\r\nary"));
        // DUMP does not carry the TTL.
        assert_eq!(c.cmd("TTL copy"), Frame::Integer(-1));
        assert_eq!(
            restore(&mut c, "copy", "0", &payload, ""),
            err("BUSYKEY Target key name already exists.")
        );
        assert_eq!(restore(&mut c, "copy", "5000", &payload, "REPLACE"), ok());
        assert!((4_000..=5_000).contains(&c.int("PTTL copy")));
        let at = crate::now_ms() + 60_000;
        assert_eq!(
            restore(&mut c, "abs", &at.to_string(), &payload, "ABSTTL"),
            ok()
        );
        assert_eq!(c.cmd("PEXPIRETIME abs"), Frame::Integer(at as i64));
        assert_eq!(c.engine.keyspace.db_volatile(0), 3);
        c.cmd("SET big 12345");
        let payload = dump_of(&mut c, "big");
        assert_eq!(restore(&mut c, "n", "0", &payload, ""), ok());
        assert_eq!(c.cmd("OBJECT ENCODING n"), Frame::bulk("int"));
    }

    #[test]
    fn restore_ttl_in_the_past_creates_nothing() {
        let mut c = Client::new();
        let payload = serialize(&string(b"v"));
        assert_eq!(restore(&mut c, "k", "1", &payload, "ABSTTL"), ok());
        assert_eq!(c.cmd("EXISTS k"), Frame::Integer(0));
        // A relative TTL that overflows lands in the past, as in Redis.
        assert_eq!(
            restore(&mut c, "k", "9223372036854775807", &payload, ""),
            ok()
        );
        assert_eq!(c.cmd("EXISTS k"), Frame::Integer(0));
        // REPLACE still deletes the old key.
        c.cmd("SET k old");
        assert_eq!(restore(&mut c, "k", "1", &payload, "REPLACE ABSTTL"), ok());
        assert_eq!(c.cmd("EXISTS k"), Frame::Integer(0));
        assert_eq!(c.engine.keyspace.db_volatile(0), 0);
    }

    #[test]
    fn restore_replace_deletes_a_key_past_its_ttl_without_expiring_it() {
        let mut c = Client::new();
        let seen = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
        let log = seen.clone();
        let events = &c.engine.keyspace.events;
        events.set_sink(Box::new(move |channel, key| {
            log.lock().push(format!(
                "{} {}",
                String::from_utf8_lossy(channel),
                String::from_utf8_lossy(key)
            ));
        }));
        events.set_classes(crate::notify::parse_classes("Egx").expect("valid classes"));
        let payload = serialize(&string(b"v"));
        // Both keys are past their TTL but still stored (no active cycle runs here).
        c.cmd("SET k old PXAT 1");
        c.cmd("SET gone old PXAT 1");
        assert_eq!(restore(&mut c, "k", "0", &payload, "REPLACE"), ok());
        assert_eq!(
            restore(&mut c, "gone", "1", &payload, "REPLACE ABSTTL"),
            ok()
        );
        // Redis's dbDelete: no `expired` event and no count; `del` when nothing replaces it.
        assert_eq!(
            *seen.lock(),
            [
                "__keyevent@0__:expire k",
                "__keyevent@0__:expire gone",
                "__keyevent@0__:restore k",
                "__keyevent@0__:del gone",
            ]
        );
        let expired = &c.engine.keyspace.expired_keys;
        assert_eq!(expired.load(std::sync::atomic::Ordering::Relaxed), 0);
        assert_eq!(c.cmd("GET k"), Frame::bulk("v"));
    }

    #[test]
    fn restore_idletime_and_freq() {
        let mut c = Client::new();
        let payload = serialize(&string(b"v"));
        assert_eq!(restore(&mut c, "k", "0", &payload, "IDLETIME 50"), ok());
        assert_eq!(c.cmd("OBJECT IDLETIME k"), Frame::Integer(50));
        assert_eq!(
            restore(&mut c, "k", "0", &payload, "idletime 1 idletime 2 replace"),
            ok()
        );
        assert_eq!(c.cmd("OBJECT IDLETIME k"), Frame::Integer(2));
        assert_eq!(
            restore(
                &mut c,
                "k",
                "0",
                &payload,
                "freq 1 freq 2 replace replace absttl absttl"
            ),
            ok()
        );
        assert_eq!(
            restore(
                &mut c,
                "k",
                "0",
                &payload,
                "IDLETIME 99999999999999999 REPLACE"
            ),
            ok()
        );
        assert_eq!(c.cmd("GET k"), Frame::bulk("v"));
    }

    #[test]
    fn restore_argument_errors_in_redis_order() {
        let mut c = Client::new();
        c.cmd("SET x hello");
        let good = serialize(&string(b"v"));
        let checksum = err("ERR DUMP payload version or checksum are wrong");
        let syntax = err("ERR syntax error");
        let not_integer = err("ERR value is not an integer or out of range");
        assert_eq!(
            restore(&mut c, "x", "0", b"abc", ""),
            err("BUSYKEY Target key name already exists.")
        );
        assert_eq!(restore(&mut c, "y", "0", b"abc", ""), checksum);
        assert_eq!(restore(&mut c, "y", "0", b"", ""), checksum);
        assert_eq!(
            restore(&mut c, "y", "-1", b"abc", ""),
            err("ERR Invalid TTL value, must be >= 0")
        );
        assert_eq!(
            restore(&mut c, "x", "-1", b"abc", "REPLACE"),
            err("ERR Invalid TTL value, must be >= 0")
        );
        assert_eq!(restore(&mut c, "y", "abc", b"abc", ""), not_integer);
        assert_eq!(
            restore(&mut c, "y", "0", b"abc", "IDLETIME -1"),
            err("ERR Invalid IDLETIME value, must be >= 0")
        );
        assert_eq!(restore(&mut c, "y", "0", b"abc", "IDLETIME x"), not_integer);
        assert_eq!(
            restore(&mut c, "y", "0", b"abc", "FREQ 256"),
            err("ERR Invalid FREQ value, must be >= 0 and <= 255")
        );
        assert_eq!(
            restore(&mut c, "y", "0", b"abc", "FREQ -1"),
            err("ERR Invalid FREQ value, must be >= 0 and <= 255")
        );
        assert_eq!(
            restore(&mut c, "y", "0", &good, "FREQ 1 IDLETIME 1"),
            syntax
        );
        assert_eq!(
            restore(&mut c, "y", "0", &good, "IDLETIME 1 FREQ 1"),
            syntax
        );
        assert_eq!(restore(&mut c, "y", "0", &good, "IDLETIME"), syntax);
        assert_eq!(restore(&mut c, "x", "0", &good, "foo"), syntax);
        assert_eq!(c.cmd("EXISTS y"), Frame::Integer(0));
        let mut unknown_tag = b"\x09".to_vec();
        unknown_tag.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        let crc = crc64(0, &unknown_tag);
        unknown_tag.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(
            restore(&mut c, "y", "0", &unknown_tag, ""),
            err("ERR Bad data format")
        );
        assert_eq!(
            c.cmd("RESTORE y 0"),
            err("ERR wrong number of arguments for 'restore' command")
        );
    }

    #[test]
    fn restore_refuses_every_corrupted_payload() {
        let mut c = Client::new();
        c.cmd("SET k 0123456789abcdef");
        let payload = dump_of(&mut c, "k").to_vec();
        for i in 0..payload.len() {
            for flip in [0x01u8, 0x10, 0x80, 0xff] {
                let mut bad = payload.clone();
                bad[i] ^= flip;
                let reply = restore(&mut c, "r", "0", &bad, "REPLACE");
                assert!(reply.is_error(), "byte {i} ^ {flip:#x}: {reply:?}");
            }
        }
        for len in 0..payload.len() {
            assert_eq!(
                restore(&mut c, "r", "0", &payload[..len], ""),
                err("ERR DUMP payload version or checksum are wrong")
            );
        }
        assert_eq!(c.cmd("EXISTS r"), Frame::Integer(0));
    }
}
