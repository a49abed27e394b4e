//! What HSCAN and SSCAN share: their options, the reply for a missing key, and the walk in
//! hash order that keeps SCAN's guarantee over a collection that grows, shrinks or rehashes
//! between calls.

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

/// One step of a walk in hash order over `(hash, item)` pairs: the `count` items of smallest
/// hash from `cursor` on (more when several share the last hash, so that none is skipped), in
/// hash order, and the cursor after them, 0 when the walk is complete. An item present for the
/// whole walk keeps its hash, so it is returned at least once. O(items) per call, with no sort
/// of the whole collection.
pub(crate) fn hash_order_step<T>(
    items: impl Iterator<Item = (u64, T)>,
    cursor: u64,
    count: usize,
) -> (u64, Vec<T>) {
    let mut candidates: Vec<(u64, T)> = items.filter(|(h, _)| *h >= cursor).collect();
    let next = if candidates.len() > count {
        let (_, nth, _) = candidates.select_nth_unstable_by_key(count - 1, |c| c.0);
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
