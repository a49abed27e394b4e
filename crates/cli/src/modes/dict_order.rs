//! The order redis-cli's `--bigkeys` summary lists types in.
//!
//! redis-cli keeps its per-type statistics in a Redis `dict` keyed by the type's name and
//! prints the summary by iterating it, so the order is the dict's: the bucket order of the
//! names' hashes (SipHash-1-2 with redis-cli's all-zero seed), and, because the table grows
//! from 4 to 8 buckets when the sixth type is added and moves entries across one bucket per
//! lookup (incremental rehashing), how many lookups happened before the summary. With a
//! single key the order is `string list hash stream set zset`; from a handful of keys on it is
//! `list hash string stream set zset`.
//!
//! [`TypeTable`] replays the dict's behaviour (Redis 7.0's `dict.c`: add, find, rehash step,
//! iteration) on names only, so that kv-cli prints its summary in the same order.

/// A Redis dict holding names, reproducing where each sits and how the table is rehashed.
#[derive(Debug, Clone, Default)]
pub struct TypeTable {
    /// The two hash tables; each bucket's chain is listed from its head.
    tables: [Vec<Vec<String>>; 2],
    /// Entries in each table.
    used: [usize; 2],
    /// The next bucket of table 0 to move, while rehashing.
    rehash_index: Option<usize>,
}

/// `DICT_HT_INITIAL_SIZE`.
const INITIAL_SIZE: usize = 4;

impl TypeTable {
    /// An empty dict.
    pub fn new() -> TypeTable {
        TypeTable::default()
    }

    /// `dictAdd` of a name not yet in the dict.
    pub fn add(&mut self, name: &str) {
        if self.rehash_index.is_some() {
            self.rehash_step();
        }
        self.expand_if_needed();
        let table = usize::from(self.rehash_index.is_some());
        let index = bucket(name, self.tables[table].len());
        // New entries go to the head of their bucket.
        self.tables[table][index].insert(0, name.to_string());
        self.used[table] += 1;
    }

    /// `dictFind`: whether the name is there. Like the real one, a lookup moves one bucket
    /// along while the table is being rehashed.
    pub fn find(&mut self, name: &str) -> bool {
        if self.used[0] + self.used[1] == 0 {
            return false;
        }
        if self.rehash_index.is_some() {
            self.rehash_step();
        }
        self.tables.iter().any(|table| {
            !table.is_empty() && table[bucket(name, table.len())].iter().any(|n| n == name)
        })
    }

    /// The names in iteration order (`dictNext`: table 0's buckets, then table 1's).
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.tables.iter().flat_map(|table| {
            table
                .iter()
                .flat_map(|chain| chain.iter().map(String::as_str))
        })
    }

    /// `_dictExpandIfNeeded`: 4 buckets at first, then the next power of two above the
    /// entries when they fill the table.
    fn expand_if_needed(&mut self) {
        if self.rehash_index.is_some() {
            return;
        }
        if self.tables[0].is_empty() {
            self.tables[0] = vec![Vec::new(); INITIAL_SIZE];
            return;
        }
        if self.used[0] >= self.tables[0].len() {
            let size = (self.used[0] + 1).next_power_of_two().max(INITIAL_SIZE);
            self.tables[1] = vec![Vec::new(); size];
            self.rehash_index = Some(0);
        }
    }

    /// `dictRehash(d, 1)`: moves the next non-empty bucket of table 0 (looking at no more
    /// than 10 empty ones), and ends the rehash when table 0 is empty.
    fn rehash_step(&mut self) {
        let Some(mut index) = self.rehash_index else {
            return;
        };
        let mut empty_visits = 10;
        if self.used[0] != 0 {
            while self.tables[0][index].is_empty() {
                index += 1;
                empty_visits -= 1;
                if empty_visits == 0 {
                    self.rehash_index = Some(index);
                    return;
                }
            }
            let chain = std::mem::take(&mut self.tables[0][index]);
            for name in chain {
                let to = bucket(&name, self.tables[1].len());
                self.tables[1][to].insert(0, name);
                self.used[0] -= 1;
                self.used[1] += 1;
            }
            index += 1;
        }
        self.rehash_index = Some(index);
        if self.used[0] == 0 {
            self.tables[0] = std::mem::take(&mut self.tables[1]);
            self.used = [self.used[1], 0];
            self.rehash_index = None;
        }
    }
}

/// The bucket of `name` in a table of `size` (a power of two) buckets.
fn bucket(name: &str, size: usize) -> usize {
    (siphash12(name.as_bytes()) as usize) & (size - 1)
}

/// Redis's `siphash()` (SipHash-1-2, one compression and two finalization rounds) with an
/// all-zero key, which is redis-cli's `dictGenHashFunction`.
pub fn siphash12(input: &[u8]) -> u64 {
    let (k0, k1) = (0u64, 0u64);
    let mut v = [
        0x736f_6d65_7073_6575 ^ k0,
        0x646f_7261_6e64_6f6d ^ k1,
        0x6c79_6765_6e65_7261 ^ k0,
        0x7465_6462_7974_6573 ^ k1,
    ];
    let chunks = input.chunks_exact(8);
    let tail = chunks.remainder();
    for chunk in chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let m = u64::from_le_bytes(word);
        v[3] ^= m;
        sip_round(&mut v);
        v[0] ^= m;
    }
    let mut last = (input.len() as u64) << 56;
    for (i, &byte) in tail.iter().enumerate() {
        last |= u64::from(byte) << (8 * i);
    }
    v[3] ^= last;
    sip_round(&mut v);
    v[0] ^= last;
    v[2] ^= 0xff;
    sip_round(&mut v);
    sip_round(&mut v);
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

/// One SipRound.
fn sip_round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13);
    v[1] ^= v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16);
    v[3] ^= v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21);
    v[3] ^= v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17);
    v[1] ^= v[2];
    v[2] = v[2].rotate_left(32);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// redis-cli's table after its six built-in types were added.
    fn builtin() -> TypeTable {
        let mut table = TypeTable::new();
        for name in ["string", "list", "set", "hash", "zset", "stream"] {
            table.add(name);
        }
        table
    }

    fn order(table: &TypeTable) -> Vec<&str> {
        table.iter().collect()
    }

    #[test]
    fn the_orders_redis_cli_7_0_prints() {
        // Seen from redis-cli 7.0.15 --bigkeys on a database of one key, and of eight.
        let mut table = builtin();
        assert!(table.find("list"));
        assert_eq!(
            order(&table),
            ["string", "list", "hash", "stream", "set", "zset"]
        );
        let mut table = builtin();
        for _ in 0..8 {
            table.find("string");
        }
        assert_eq!(
            order(&table),
            ["list", "hash", "string", "stream", "set", "zset"]
        );
    }

    #[test]
    fn every_name_stays_findable_while_rehashing() {
        let mut table = builtin();
        for step in 0..20 {
            for name in ["string", "list", "set", "hash", "zset", "stream"] {
                assert!(table.find(name), "{name} lost after {step} steps");
            }
            assert!(!table.find("ReJSON-RL"));
            assert_eq!(table.iter().count(), 6);
        }
        table.add("ReJSON-RL");
        assert!(table.find("ReJSON-RL"));
        assert_eq!(table.iter().count(), 7);
    }
}
