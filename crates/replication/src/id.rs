//! Replication IDs: 40 random hexadecimal characters naming one history of the write stream
//! (Redis's `master_replid`). A master takes a new one when its history starts afresh (a
//! restart without the old data, a promotion); a replica adopts its master's.

use std::io::Read;

/// The length of a replication ID.
pub const ID_LEN: usize = 40;

/// A new, random replication ID.
pub fn new_id() -> String {
    let mut bytes = [0u8; ID_LEN / 2];
    let from_os = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if from_os.is_err() {
        // No /dev/urandom: the standard library's per-process random hashing keys, mixed
        // with the time and a counter, are random enough to tell histories apart.
        use std::collections::hash_map::RandomState;
        use std::hash::{BuildHasher, Hasher};
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        for chunk in bytes.chunks_mut(8) {
            let mut hasher = RandomState::new().build_hasher();
            hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            hasher.write_u128(nanos);
            let word = hasher.finish().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `id` has the form of a replication ID.
pub fn is_id(id: &str) -> bool {
    id.len() == ID_LEN && id.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_forty_hex_characters_and_differ() {
        let a = new_id();
        let b = new_id();
        assert!(is_id(&a), "{a}");
        assert!(is_id(&b), "{b}");
        assert_ne!(a, b);
        assert!(!is_id("0123"));
        assert!(!is_id(&"g".repeat(ID_LEN)));
    }
}
