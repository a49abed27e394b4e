//! What HSCAN, SSCAN and ZSCAN share: their options, the reply for a missing key, and the walk
//! over a collection's table ([`collection_step`]: bucket by bucket, falling back to hash
//! order after a rebuild) that keeps SCAN's guarantee while the collection grows, shrinks or
//! rehashes between calls.

use crate::{Args, CommandError, Reply};

/// The options of a collection scan: `[MATCH pattern] [COUNT count]`.
#[derive(Debug)]
pub(crate) struct ScanOptions<'a> {
    /// How many items to examine (a hint, as in Redis).
    pub count: usize,
    /// Only items matching this glob are returned.
    pub pattern: Option<&'a [u8]>,
}

impl<'a> ScanOptions<'a> {
    /// Reads the options with Redis's errors: a COUNT below 1, an option without its value or
    /// an unknown option is a syntax error.
    pub(crate) fn parse(args: &mut Args<'a>) -> Result<ScanOptions<'a>, CommandError> {
        let mut options = ScanOptions {
            count: 10,
            pattern: None,
        };
        while let Some(option) = args.peek() {
            args.next_bytes()?;
            if args.is_empty() {
                return Err(CommandError::Syntax);
            }
            if option.eq_ignore_ascii_case(b"count") {
                let n = args.next_i64()?;
                if n < 1 {
                    return Err(CommandError::Syntax);
                }
                options.count = usize::try_from(n).unwrap_or(usize::MAX);
            } else if option.eq_ignore_ascii_case(b"match") {
                options.pattern = Some(args.next_bytes()?);
            } else {
                return Err(CommandError::Syntax);
            }
        }
        Ok(options)
    }

    /// Whether `item` passes MATCH.
    pub(crate) fn keeps(&self, item: &[u8]) -> bool {
        self.pattern
            .is_none_or(|p| crate::glob::matches(p, item, false))
    }
}

/// The reply to a scan of a missing key: cursor 0 and nothing.
pub(crate) fn empty_scan(reply: &mut Reply) {
    reply.array(2);
    reply.bulk(b"0");
    reply.array(0);
}

/// One step of a walk in hash order over `(hash, item)` pairs: the items of smallest hash
/// from `cursor` on, at least `count` of them and at least an eighth of those left (more when
/// several share the last hash, so that none is skipped), in hash order, and the cursor after
/// them, 0 when the walk is complete. An item present for the whole walk keeps its hash, so it
/// is returned at least once. O(items) per call, with no sort of the whole collection; taking
/// an eighth of what is left bounds a whole walk to about 8 passes (O(N)) instead of one pass
/// per COUNT items (O(N^2 / COUNT)).
pub(crate) fn hash_order_step<T>(
    items: impl Iterator<Item = (u64, T)>,
    cursor: u64,
    count: usize,
) -> (u64, Vec<T>) {
    let mut candidates: Vec<(u64, T)> = items.filter(|(h, _)| *h >= cursor).collect();
    let room = count.max(candidates.len() / 8).max(1);
    let next = if candidates.len() > room {
        let (_, nth, _) = candidates.select_nth_unstable_by_key(room - 1, |c| c.0);
        let last = nth.0;
        candidates.retain(|c| c.0 <= last);
        // Past the largest hash there is nothing left: the end, cursor 0.
        last.checked_add(1).unwrap_or(0)
    } else {
        0
    };
    candidates.sort_unstable_by_key(|c| c.0);
    (next, candidates.into_iter().map(|(_, item)| item).collect())
}

/// The top bit of a collection cursor: set when it walks in hash order (see
/// [`collection_step`]).
const BY_HASH: u64 = 1 << 63;

/// Bits of a collection cursor that hold a bucket index.
const BUCKET_BITS: u32 = 32;

/// One step of HSCAN or SSCAN over a collection in its table form.
///
/// The cursor walks the buckets of the collection's table in index order, from the bucket it
/// names, holding the table's layout generation too:
///
/// ```text
/// | 0 | layout generation: 31 bits | bucket index: 32 bits |
/// | 1 | hash: its top 63 bits                               |
/// ```
///
/// An entry keeps its bucket until the table is rebuilt (grown, rehashed, shrunk), which
/// changes the generation. While it holds, a call takes `count` entries (or looks at ten
/// empty buckets per entry asked for), as Redis's does: O(COUNT). A cursor given under an
/// older generation walks the rest of the collection in the order of the entries' hashes
/// instead (the second form, [`hash_order_step`]), which no rebuild changes, from the start:
/// entries already returned may come again, as Redis allows, and the walk ends whatever
/// happens to the table. Either way an entry present for the whole iteration is returned at
/// least once. `buckets_from(index)` gives the table's buckets from `index` on (see
/// `IndexedMap::buckets_from`); `hashed()` every entry with its hash.
pub(crate) fn collection_step<T, B, H>(
    cursor: u64,
    count: usize,
    buckets_from: impl FnOnce(usize) -> (usize, u32, B),
    hashed: impl FnOnce() -> H,
) -> (u64, Vec<T>)
where
    B: Iterator<Item = Option<T>>,
    H: Iterator<Item = (u64, T)>,
{
    let by_hash = |from: u64| {
        let (next, batch) = hash_order_step(hashed().map(|(h, t)| (h >> 1, t)), from, count);
        // Past the largest 63-bit hash there is nothing left: the end, cursor 0.
        let next = if next == 0 || next > !BY_HASH {
            0
        } else {
            BY_HASH | next
        };
        (next, batch)
    };
    if cursor & BY_HASH != 0 {
        return by_hash(cursor & !BY_HASH);
    }
    let index = (cursor & ((1 << BUCKET_BITS) - 1)) as usize;
    let layout = (cursor >> BUCKET_BITS) as u32;
    let (buckets, now, nodes) = buckets_from(index);
    let generation_bits = (1u32 << (63 - BUCKET_BITS)) - 1;
    if (index > 0 && layout != now & generation_bits) || buckets > (1 << BUCKET_BITS) {
        return by_hash(0);
    }
    let mut found = Vec::new();
    let mut buckets_left = count.saturating_mul(10);
    let walk = (index, buckets);
    match walk_buckets(nodes, walk, count, &mut buckets_left, &mut found) {
        Some(next) => {
            let cursor = (u64::from(now & generation_bits) << BUCKET_BITS) | next as u64;
            (cursor, found)
        }
        None => (0, found),
    }
}

/// Takes the items of a table's buckets (`nodes`, from bucket `index` of `buckets` in all,
/// as `walk` gives them) into `found` until it holds `count` items, or until `buckets_left`
/// runs out (as Redis's SCAN, a call looks at ten buckets per item asked for at most): the
/// bucket to go on from, or `None` once the table's last bucket is taken. SCAN's steps over
/// a shard and HSCAN's, SSCAN's and ZSCAN's over a collection.
pub(crate) fn walk_buckets<T>(
    nodes: impl Iterator<Item = Option<T>>,
    (index, buckets): (usize, usize),
    count: usize,
    buckets_left: &mut usize,
    found: &mut Vec<T>,
) -> Option<usize> {
    let mut next = index;
    for node in nodes {
        next += 1;
        *buckets_left = buckets_left.saturating_sub(1);
        found.extend(node);
        if next < buckets && (found.len() >= count || *buckets_left == 0) {
            return Some(next);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use kv_resp::Frame;

    use crate::keys::tests::Client;

    /// One `command key cursor COUNT count` call: the reply cursor and the members (the
    /// items at even places: HSCAN and ZSCAN pair each with its value or score).
    fn step(c: &mut Client, command: &str, cursor: u64, count: usize) -> (u64, Vec<Vec<u8>>) {
        let Frame::Array(reply) = c.cmd(&format!("{command} big {cursor} COUNT {count}")) else {
            panic!("an array")
        };
        let [Frame::Bulk(next), Frame::Array(items)] = &reply[..] else {
            panic!("{reply:?}")
        };
        let pairs = command != "SSCAN";
        let members = items
            .iter()
            .enumerate()
            .filter(|(i, _)| !pairs || i % 2 == 0)
            .map(|(_, item)| match item {
                Frame::Bulk(b) => b.to_vec(),
                other => panic!("{other:?}"),
            })
            .collect();
        let next = std::str::from_utf8(next)
            .unwrap_or_default()
            .parse()
            .unwrap_or(0);
        (next, members)
    }

    /// Fills `big` with `n` members of its type.
    fn fill(c: &mut Client, command: &str, from: usize, n: usize) {
        for i in from..from + n {
            match command {
                "HSCAN" => c.cmd(&format!("HSET big m{i} v")),
                "SSCAN" => c.cmd(&format!("SADD big m{i}")),
                _ => c.cmd(&format!("ZADD big {i} m{i}")),
            };
        }
    }

    /// Deletes members `from..from + n` of `big`.
    fn empty(c: &mut Client, command: &str, from: usize, n: usize) {
        for i in from..from + n {
            match command {
                "HSCAN" => c.cmd(&format!("HDEL big m{i}")),
                "SSCAN" => c.cmd(&format!("SREM big m{i}")),
                _ => c.cmd(&format!("ZREM big m{i}")),
            };
        }
    }

    #[test]
    fn collection_scans_take_about_count_items_a_call() {
        for command in ["HSCAN", "SSCAN", "ZSCAN"] {
            let mut c = Client::new();
            fill(&mut c, command, 0, 10_000);
            let mut seen: HashMap<Vec<u8>, usize> = HashMap::new();
            let (mut cursor, mut calls) = (0, 0);
            loop {
                let (next, members) = step(&mut c, command, cursor, 10);
                assert!(members.len() <= 10, "{command}: {} items", members.len());
                for member in members {
                    *seen.entry(member).or_default() += 1;
                }
                calls += 1;
                if next == 0 {
                    break;
                }
                cursor = next;
            }
            // Nothing changed meanwhile: every member exactly once, in about 1,000 calls.
            assert_eq!(seen.len(), 10_000, "{command}");
            assert!(seen.values().all(|&n| n == 1), "{command}");
            assert!((1_000..1_100).contains(&calls), "{command}: {calls} calls");
        }
    }

    #[test]
    fn collection_scans_finish_while_the_table_is_rebuilt_between_calls() {
        for command in ["HSCAN", "SSCAN", "ZSCAN"] {
            let mut c = Client::new();
            fill(&mut c, command, 0, 1_000);
            let mut seen: HashMap<Vec<u8>, usize> = HashMap::new();
            let (mut cursor, mut calls) = (0, 0);
            loop {
                let (next, members) = step(&mut c, command, cursor, 5);
                for member in members {
                    *seen.entry(member).or_default() += 1;
                }
                if next == 0 {
                    break;
                }
                cursor = next;
                calls += 1;
                assert!(calls < 100, "{command} does not finish");
                // The table grows past twice its size, then shrinks back: rebuilt each time.
                fill(&mut c, command, 100_000, 3_000);
                empty(&mut c, command, 100_000, 3_000);
            }
            for i in 0..1_000 {
                let member = format!("m{i}").into_bytes();
                assert!(seen.contains_key(&member), "{command}: m{i} missed");
            }
        }
    }
}
