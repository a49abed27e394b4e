//! DEBUG DIGEST and DEBUG DIGEST-VALUE: a SHA-1 based digest of the dataset that does not
//! depend on the order keys (or set and hash members) were inserted in, so two servers holding
//! the same data give the same digest. It is Redis 7.0's algorithm (`debug.c`), byte for byte,
//! so a kv and a Redis given the same commands can be compared by digest.
//!
//! Per key: the key's name is mixed in, then the value's type number (Redis's `OBJ_*`: string
//! 0, list 1, set 2, sorted set 3, hash 4) and its content: a string's bytes, a list's
//! elements in order, a set's members xor-ed (order-free), a hash's and a sorted set's pairs
//! each digested on their own and xor-ed in (scores as `%.17g`), then a marker if the key has
//! a TTL (the time itself is left out). Each key's digest is xor-ed into the dataset's (through
//! SHA-1 once more, as every xor here), and each non-empty database mixes in its number first.

use sha1_smol::Sha1;

use crate::{Entry, Locked, Value};

/// A 20-byte digest.
pub type Digest = [u8; 20];

/// Xors the SHA-1 of `data` into `digest` (Redis's `xorDigest`): order-free accumulation.
fn xor(digest: &mut Digest, data: &[u8]) {
    let hash = Sha1::from(data).digest().bytes();
    for (d, h) in digest.iter_mut().zip(hash) {
        *d ^= h;
    }
}

/// Xors `data` in, then replaces `digest` with the SHA-1 of itself (Redis's `mixDigest`):
/// order-sensitive accumulation.
fn mix(digest: &mut Digest, data: &[u8]) {
    xor(digest, data);
    *digest = Sha1::from(&digest[..]).digest().bytes();
}

/// Xors a pair's own digest, built from `parts`, into `digest` (as [`xor`] does any data:
/// through SHA-1 once more).
fn xor_pair(digest: &mut Digest, parts: [&[u8]; 2]) {
    let mut element = [0u8; 20];
    for part in parts {
        mix(&mut element, part);
    }
    xor(digest, &element);
}

/// Adds `entry`'s value and TTL marker to `digest` (Redis's `xorObjectDigest`).
pub fn mix_entry(digest: &mut Digest, entry: &Entry, now: u64) {
    let type_number: u32 = match &entry.value {
        Value::Str(_) => 0,
        Value::List(_) => 1,
        Value::Set(_) => 2,
        Value::ZSet(_) => 3,
        Value::Hash(_) => 4,
    };
    mix(digest, &type_number.to_be_bytes());
    match &entry.value {
        Value::Str(s) => mix(digest, s.as_bytes()),
        Value::List(items) => {
            for item in items.iter() {
                mix(digest, item);
            }
        }
        Value::Set(members) => {
            for member in members.iter() {
                xor(digest, &member);
            }
        }
        Value::ZSet(zset) => {
            let mut text = [0u8; 32];
            for (member, score) in zset.iter() {
                let len = kv_resp::encode::format_double(score, &mut text);
                xor_pair(digest, [member, &text[..len]]);
            }
        }
        Value::Hash(hash) => {
            for (field, value) in hash.iter(now) {
                xor_pair(digest, [field, value]);
            }
        }
    }
    if entry.expires_at().is_some() {
        xor(digest, b"!!expire!!");
    }
}

/// The digest of every database `locked` holds whole (Redis's `computeDatasetDigest`): all
/// zeros for an empty dataset.
pub fn dataset(locked: &Locked<'_>, now: u64) -> Digest {
    let mut total = [0u8; 20];
    for db in 0..locked.keyspace().databases() {
        let mut keys = locked.iter(db, now).peekable();
        if keys.peek().is_none() {
            continue;
        }
        mix(&mut total, &(db as u32).to_be_bytes());
        for (key, entry) in keys {
            let mut digest = [0u8; 20];
            mix(&mut digest, key.as_bytes());
            mix_entry(&mut digest, entry, now);
            xor(&mut total, &digest);
        }
    }
    total
}

/// `digest` as 40 lowercase hex digits, as DEBUG DIGEST answers it.
pub fn hex(digest: &Digest) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    // Test code: a failed unwrap is a failed test.
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn mixing_is_sha1_of_the_xor() {
        // SHA-1("abc") is a9993e36...; mixing "abc" into zeros xors it in, then hashes that.
        let mut digest = [0u8; 20];
        xor(&mut digest, b"abc");
        assert_eq!(hex(&digest), "a9993e364706816aba3e25717850c26c9cd0d89d");
        let mut mixed = [0u8; 20];
        mix(&mut mixed, b"abc");
        assert_eq!(mixed, Sha1::from(&digest[..]).digest().bytes());
    }

    #[test]
    fn set_order_does_not_matter_but_list_order_does() {
        let digest_of = |value: Value| {
            let mut digest = [0u8; 20];
            mix_entry(&mut digest, &Entry::new(value, 0), 0);
            digest
        };
        let set = |members: &[&[u8]]| {
            let mut set = crate::SetValue::default();
            for m in members {
                set.insert(m, 0);
            }
            Value::Set(set)
        };
        assert_eq!(digest_of(set(&[b"a", b"b"])), digest_of(set(&[b"b", b"a"])));
        let list = |items: &[&[u8]]| {
            let mut list = crate::ListValue::default();
            for item in items {
                list.push_back(item);
            }
            Value::List(list)
        };
        assert_ne!(
            digest_of(list(&[b"a", b"b"])),
            digest_of(list(&[b"b", b"a"]))
        );
    }
}
