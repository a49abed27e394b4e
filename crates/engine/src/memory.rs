//! `MEMORY USAGE`: how many bytes a key and its value take.
//!
//! Nothing in kv records each value's allocations as they happen (that would cost every write),
//! so the figure is computed from the structures that hold the value: their allocated
//! capacities, exactly, plus the heap bytes of their elements. Summing every element would make
//! the command O(N), so, as in Redis, the elements' own bytes are *sampled*: `SAMPLES count`
//! elements (5 by default, every one with 0), spread evenly over the collection, and their
//! average multiplied by the element count. Sizes of containers of other containers (the chunks
//! of a long list) are sampled the same way.

use std::mem::size_of;

use crate::{Args, CommandError, CommandResult, Ctx, Reply};

/// Elements sampled when the client names no count (Redis's `OBJ_COMPUTE_SIZE_DEF_SAMPLES`).
pub const DEFAULT_SAMPLES: usize = 5;

/// Bytes a hashbrown table (which `HashMap`, `HashTable` and dashmap's shards all are) with
/// room for `capacity` entries allocates for slots of `slot` bytes: one control byte per
/// bucket beside each slot (plus a group's worth of trailing control bytes), and buckets a
/// power of two that the capacity fills to at most 7/8.
pub fn table_bytes(capacity: usize, slot: usize) -> usize {
    if capacity == 0 {
        return 0;
    }
    let buckets = if capacity < 8 {
        (capacity + 1).next_power_of_two()
    } else {
        (capacity * 8 / 7).next_power_of_two()
    };
    const GROUP: usize = 16;
    buckets * (slot + 1) + GROUP
}

/// The heap bytes of `len` elements estimated from a sample: `size_of(i)` is the heap size of
/// the `i`-th element; `samples` of them, spread evenly (all of them when `samples` is 0 or at
/// least `len`), are measured and their mean scaled up to `len`.
pub fn sampled(len: usize, samples: usize, size_of: impl Fn(usize) -> usize) -> usize {
    if len == 0 {
        return 0;
    }
    let taken = if samples == 0 { len } else { samples.min(len) };
    let total = (0..taken).map(|k| size_of(k * len / taken)).sum();
    scale(total, taken, len)
}

/// Like [`sampled`], for elements that can only be walked in order: the first `samples`
/// sizes `sizes` yields stand for all `len`.
pub fn sampled_first(len: usize, samples: usize, sizes: impl Iterator<Item = usize>) -> usize {
    let taken = if samples == 0 { len } else { samples.min(len) };
    scale(sizes.take(taken).sum(), taken, len)
}

/// `total` bytes measured over `taken` of `len` elements, scaled up to all of them (truncated,
/// as Redis's `(double)elesize/samples*len`).
fn scale(total: usize, taken: usize, len: usize) -> usize {
    if taken == 0 || taken == len {
        total
    } else {
        ((total as f64 / taken as f64) * len as f64) as usize
    }
}

/// Bytes a key costs in the keyspace besides its value's heap: the table slot that points at
/// it, its node (key and entry together), the key's own heap bytes, and, for a volatile key,
/// its place in the expiry index.
pub fn key_overhead(key_len: usize, volatile: bool) -> usize {
    let key_heap = crate::CompactBytes::<{ crate::compact::KEY_INLINE }>::heap_size_for(key_len);
    let expiry = if volatile { EXPIRY_ENTRY + key_heap } else { 0 };
    KEY_ENTRY + key_heap + expiry
}

/// A key's table slot (a pointer, with its share of a 7/8-full table's control bytes and
/// slack) and its node.
const KEY_ENTRY: usize = (size_of::<usize>() + 1) * 8 / 7 + crate::keyspace::NODE_SIZE;

/// A volatile key's place in the expiry index, a B-tree of `(time, key)` pairs whose nodes
/// hold up to 11 pairs and are about 2/3 full.
const EXPIRY_ENTRY: usize = size_of::<(u64, crate::CompactBytes)>() * 3 / 2;

/// What a database's bookkeeping takes for `keys` keys, `volatile` of them with a TTL, values
/// and long keys' bytes aside: `(key table, expiry index)` (MEMORY STATS' `overhead.hashtable.main`
/// and `overhead.hashtable.expires`).
pub fn db_overhead(keys: usize, volatile: usize) -> (usize, usize) {
    // The value's own bytes in the node are data, as a Redis value's are.
    let per_key = KEY_ENTRY - size_of::<crate::Value>();
    (keys * per_key, volatile * EXPIRY_ENTRY)
}

/// `MEMORY USAGE key [SAMPLES count]`: the bytes the key and its value take, or nil when the
/// key does not exist.
pub fn usage(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let mut samples = DEFAULT_SAMPLES;
    while !args.is_empty() {
        // Redis checks the option's name and that a count follows, then the count.
        if !args.eat("samples") || args.remaining() < 1 {
            return Err(CommandError::Syntax);
        }
        let count = args.next_i64()?;
        samples = match count {
            ..=-1 => return Err(CommandError::Syntax),
            0 => 0,
            n => usize::try_from(n).unwrap_or(usize::MAX),
        };
    }
    match ctx.peek(key)? {
        Some(entry) => {
            let bytes = key_overhead(key.len(), entry.expires_at.is_some())
                + entry.value.heap_size(samples);
            reply.count(bytes);
        }
        None => reply.null(),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_scales_the_mean_and_measures_all_when_asked() {
        let sizes = [10, 20, 30, 40];
        assert_eq!(sampled(4, 0, |i| sizes[i]), 100);
        assert_eq!(sampled(4, 9, |i| sizes[i]), 100);
        // Elements 0 and 2: mean 20, times 4.
        assert_eq!(sampled(4, 2, |i| sizes[i]), 80);
        assert_eq!(sampled(0, 5, |_| unreachable!()), 0);
    }

    #[test]
    fn table_bytes_follow_hashbrown_growth() {
        assert_eq!(table_bytes(0, 8), 0);
        // 3 entries: 4 buckets; 14 entries: 16 buckets; 15 entries: 32.
        assert_eq!(table_bytes(3, 8), 4 * 9 + 16);
        assert_eq!(table_bytes(14, 8), 16 * 9 + 16);
        assert_eq!(table_bytes(15, 8), 32 * 9 + 16);
    }
}
