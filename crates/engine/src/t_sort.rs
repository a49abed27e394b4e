//! SORT and SORT_RO (Redis's `sort.c`): the elements of a list or set, ordered by their own
//! value or by weights read from other keys, replied or stored as a list, optionally with the
//! values of other keys in their place.
//!
//! A command runs in five steps, each a function below: [`SortOptions::parse`] reads the
//! options as Redis's `sortCommandGeneric` does (same order, same errors); [`load`] collects
//! the key's elements (the one place that knows the value types); [`weigh`] gives each its
//! weight (its own number or text, or another key's); [`order`] sorts the part the reply
//! covers; [`reply_items`] or [`store_items`] writes the result.
//!
//! # Keys the data names
//!
//! `BY` and `GET` patterns name keys built from the elements (`weight_*`, `object_*->field`),
//! unknown until the elements are read. A SORT whose patterns will read such keys therefore
//! locks every shard of the selected database; any other SORT locks only its key and its
//! `STORE` destination ([`plan`]). SORT without `STORE` writes nothing, so it takes shared
//! locks and runs beside other readers.
//!
//! # Order, exactly as Redis
//!
//! Numbers are read with C's `strtod` (white space, hex and `inf` included; see
//! [`crate::strtod`]) and equal numbers are ordered by their elements' bytes, so a numeric
//! order is total. `ALPHA` compares bytes: with `STORE` over their whole length, without it
//! as C's `strcoll` does in the C locale Redis runs in (up to the first NUL byte). Elements
//! that still compare equal keep the order Redis's sort leaves them in: glibc's `qsort`, a
//! stable merge sort, keeps their load order, while `BY` with a `LIMIT` that leaves some out
//! runs Redis's partial quicksort (`pqsort`), whose order of equal elements
//! [`partial_quicksort`] reproduces step for step.
//!
//! Set members are loaded in the order Redis iterates them where kv can know it: ascending for
//! an all-integer set (an intset, in Redis); other sets in kv's own order, which only shows in
//! `BY nosort` replies and among `ALPHA BY` ties.

use std::cmp::Ordering;
use std::ops::Range;

use crate::command::{BeginSearch, CommandSpec, FindKeys, KeyFlags, KeySpec, Locks};
use crate::intset::Member;
use crate::keyspace::ShardList;
use crate::strtod::strtod;
use crate::table::{command, engine};
use crate::{
    Args, CommandError, CommandResult, Ctx, Engine, Entry, EventClass, ListValue, LockPlan, Reply,
    Session, Value,
};

/// A weight that is not a number, as Redis words it.
const NOT_DOUBLE: CommandError =
    CommandError::msg("ERR One or more scores can't be converted into double");

/// The flags of the sorted key.
const SORTED_KEY: KeyFlags = &["RO", "access"];

/// The flags of the `STORE` destination.
const STORE_KEY: KeyFlags = &["OW", "update"];

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

/// SORT's options, as Redis's parsing loop leaves them.
#[derive(Debug, Clone, PartialEq)]
struct SortOptions<'a> {
    /// `DESC` (the last of `ASC`/`DESC` wins).
    desc: bool,
    /// `ALPHA`: compare as text rather than as numbers.
    alpha: bool,
    /// `LIMIT`'s offset; 0 without it.
    offset: i64,
    /// `LIMIT`'s count; negative (all) without it.
    count: i64,
    /// The last `BY` pattern.
    by: Option<&'a [u8]>,
    /// Some `BY` pattern had no `*` (`BY nosort`): nothing is sorted, whatever a later `BY`
    /// says, as in Redis.
    dont_sort: bool,
    /// `GET` patterns, in order.
    gets: Vec<&'a [u8]>,
    /// The last `STORE` destination.
    store: Option<&'a [u8]>,
}

impl<'a> SortOptions<'a> {
    /// Parses the options after the key, front to back, stopping at the first problem as Redis
    /// does: an option missing its arguments, or an unknown word, is a syntax error; a LIMIT
    /// number is checked when LIMIT is read. SORT_RO (`readonly`) knows no `STORE`.
    fn parse(options: &'a [&'a [u8]], readonly: bool) -> Result<SortOptions<'a>, CommandError> {
        let mut parsed = SortOptions {
            desc: false,
            alpha: false,
            offset: 0,
            count: -1,
            by: None,
            dont_sort: false,
            gets: Vec::new(),
            store: None,
        };
        let mut args = Args::new(options);
        while let Some(option) = args.peek() {
            args.next_bytes()?;
            let left = args.remaining();
            if is_word(option, b"asc") {
                parsed.desc = false;
            } else if is_word(option, b"desc") {
                parsed.desc = true;
            } else if is_word(option, b"alpha") {
                parsed.alpha = true;
            } else if is_word(option, b"limit") && left >= 2 {
                parsed.offset = args.next_i64()?;
                parsed.count = args.next_i64()?;
            } else if !readonly && is_word(option, b"store") && left >= 1 {
                parsed.store = Some(args.next_bytes()?);
            } else if is_word(option, b"by") && left >= 1 {
                let pattern = args.next_bytes()?;
                // A pattern without `*` names the same key for every element: nothing to
                // sort by.
                parsed.dont_sort |= !has_star(pattern);
                parsed.by = Some(pattern);
            } else if is_word(option, b"get") && left >= 1 {
                parsed.gets.push(args.next_bytes()?);
            } else {
                return Err(CommandError::Syntax);
            }
        }
        Ok(parsed)
    }

    /// Whether running will read keys the elements name: a `BY` that sorts, or a `GET` other
    /// than `#` whose pattern has a `*` (one without never reads a key).
    fn reads_named_keys(&self) -> bool {
        (!self.dont_sort && self.by.is_some())
            || self
                .gets
                .iter()
                .any(|p| !is_element_pattern(p) && has_star(p))
    }

    /// The positions of `len` loaded elements the reply covers, LIMIT clamped as Redis clamps
    /// it: a negative offset is 0, a negative count means all, and nothing past the end.
    fn window(&self, len: usize) -> Range<usize> {
        let len = i64::try_from(len).unwrap_or(i64::MAX);
        let start = self.offset.clamp(0, len);
        let count = self.count.clamp(-1, len);
        if start >= len {
            return 0..0;
        }
        // Both at most `len`: no overflow.
        let end = if count < 0 {
            len
        } else {
            (start + count).min(len)
        };
        start as usize..end as usize
    }
}

/// Whether `arg` is `word`, ignoring ASCII case, as C's `strcasecmp` compares: up to the
/// first NUL byte (`"desc\0x"` is `DESC` to Redis).
fn is_word(arg: &[u8], word: &[u8]) -> bool {
    c_string(arg).eq_ignore_ascii_case(word)
}

/// `s` up to its first NUL byte: what C's string functions see of it.
fn c_string(s: &[u8]) -> &[u8] {
    let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
    &s[..end]
}

/// Whether C's `strchr` finds a `*` in `pattern`.
fn has_star(pattern: &[u8]) -> bool {
    c_string(pattern).contains(&b'*')
}

/// Whether `pattern` is `#`, the element itself (Redis checks only the first two bytes).
fn is_element_pattern(pattern: &[u8]) -> bool {
    pattern.first() == Some(&b'#') && pattern.get(1).is_none_or(|&b| b == 0)
}

// ---------------------------------------------------------------------------------------------
// Keys named by patterns
// ---------------------------------------------------------------------------------------------

/// The value `pattern` names for `element`, as Redis's `lookupKeyByPattern`: `#` is the
/// element; otherwise the first `*` is replaced by the element to make a key name, whose
/// string value is the result, or, when `->field` follows the `*`, that field of the hash
/// there. Nothing when the pattern has no `*`, the key is missing or of another type, or the
/// field is missing. `key` is a buffer for the key name, reused from call to call.
fn lookup_by_pattern<'c>(
    ctx: &'c Ctx<'_, '_>,
    pattern: &[u8],
    element: &'c [u8],
    key: &mut Vec<u8>,
) -> Result<Option<&'c [u8]>, CommandError> {
    if is_element_pattern(pattern) {
        return Ok(Some(element));
    }
    // Redis searches with C string functions, so the `*` and the `->` count only before the
    // first NUL byte; the field name itself is everything after the `->`.
    let text = c_string(pattern);
    let Some(star) = text.iter().position(|&b| b == b'*') else {
        return Ok(None);
    };
    let arrow = text[star + 1..]
        .windows(2)
        .position(|w| w == b"->")
        .map(|at| star + 1 + at)
        // An empty field name (or one starting with NUL) makes `->` part of the key name.
        .filter(|&at| text.len() > at + 2);
    let key_end = arrow.unwrap_or(pattern.len());
    key.clear();
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(element);
    key.extend_from_slice(&pattern[star + 1..key_end]);
    let Some(entry) = ctx.lookup(key)? else {
        return Ok(None);
    };
    Ok(match (&entry.value, arrow) {
        (Value::Hash(hash), Some(at)) => hash.get(&pattern[at + 2..], ctx.now),
        (Value::Str(s), None) => Some(s.as_bytes()),
        _ => None,
    })
}

// ---------------------------------------------------------------------------------------------
// The steps
// ---------------------------------------------------------------------------------------------

/// The elements SORT works on, and the positions of them the reply covers once in order.
#[derive(Debug)]
struct Loaded<'v> {
    /// The elements, in load order.
    elements: Vec<&'v [u8]>,
    /// The positions the reply covers once the elements are in order.
    window: Range<usize>,
}

/// Collects the elements of `value` (`None`: a missing key, which sorts as an empty list),
/// the one place SORT looks at the sorted key's type. A string or hash is `WRONGTYPE`.
///
/// With `BY nosort` a list needs no sorting, so only the window is loaded, straight in list
/// order (from the tail for `DESC`), and the window becomes all of it. A set has no order of
/// its own to keep: when its unsorted members would be stored, Redis sorts them by their
/// bytes instead (so that a replica stores the same list), which `options` is changed to ask.
/// A set's elements come from `set_members`, the set's members in its own order, which the
/// caller spelled out.
///
/// A sorted set with `BY nosort` keeps its own order too: the window is taken straight in
/// rank order (from the highest rank for `DESC`), as for a list, which is Redis's shortcut for
/// a sorted set with `nosort` and `LIMIT`; otherwise every member is weighed and sorted like a
/// set's.
fn load<'v>(
    value: Option<&'v Value>,
    set_members: &'v [Member<'v>],
    options: &mut SortOptions<'_>,
) -> Result<Loaded<'v>, CommandError> {
    match value {
        None => Ok(Loaded {
            elements: Vec::new(),
            window: 0..0,
        }),
        Some(Value::List(list)) => {
            let window = options.window(list.len());
            if !options.dont_sort {
                let elements = list.iter().collect();
                return Ok(Loaded { elements, window });
            }
            let taken = window.len();
            let elements: Vec<&[u8]> = if options.desc {
                let last = list.len() - window.start;
                list.range(last - taken..last).rev().collect()
            } else {
                list.range(window).collect()
            };
            Ok(Loaded {
                elements,
                window: 0..taken,
            })
        }
        Some(Value::Set(set)) => {
            if options.dont_sort && options.store.is_some() {
                options.dont_sort = false;
                options.alpha = true;
                options.by = None;
            }
            Ok(Loaded {
                elements: set_members.iter().map(|m| &**m).collect(),
                window: options.window(set.len()),
            })
        }
        Some(Value::ZSet(zset)) => {
            let window = options.window(zset.len());
            if !options.dont_sort {
                let elements = zset.iter().map(|(member, _)| member).collect();
                return Ok(Loaded { elements, window });
            }
            let taken = window.len();
            let elements: Vec<&[u8]> = if options.desc {
                let from = zset.len().saturating_sub(window.start + 1);
                zset.iter_from(from, true)
                    .take(taken)
                    .map(|(member, _)| member)
                    .collect()
            } else {
                zset.iter_from(window.start, false)
                    .take(taken)
                    .map(|(member, _)| member)
                    .collect()
            };
            Ok(Loaded {
                elements,
                window: 0..taken,
            })
        }
        Some(Value::Str(_) | Value::Hash(_)) => Err(CommandError::WrongType),
    }
}

/// One element and what it sorts by.
#[derive(Debug, Clone, Copy)]
struct Item<'v> {
    /// The element itself.
    element: &'v [u8],
    /// Where it was loaded: equal elements keep this order.
    position: usize,
    /// Its number (numeric sort); 0 when its weight key is missing.
    score: f64,
    /// Its weight's text (`ALPHA BY`); `None` when missing, which sorts first.
    by: Option<&'v [u8]>,
}

/// Gives every element its weight: its own value, or the one its `BY` pattern names (a
/// missing one counts as 0, or as less than any text). Every weight is looked up, as in
/// Redis, before a weight that is not a number (for `strtod`) fails the command.
fn weigh<'c>(
    ctx: &'c Ctx<'_, '_>,
    elements: Vec<&'c [u8]>,
    options: &SortOptions<'_>,
) -> Result<Vec<Item<'c>>, CommandError> {
    let mut items: Vec<Item<'c>> = elements
        .into_iter()
        .enumerate()
        .map(|(position, element)| Item {
            element,
            position,
            score: 0.0,
            by: None,
        })
        .collect();
    if options.dont_sort {
        return Ok(items);
    }
    let mut not_a_number = false;
    let mut key = Vec::new();
    for item in &mut items {
        let weight = match options.by {
            Some(pattern) => lookup_by_pattern(ctx, pattern, item.element, &mut key)?,
            None => Some(item.element),
        };
        let Some(weight) = weight else {
            continue;
        };
        if options.alpha {
            // Without BY, ALPHA compares the elements themselves.
            if options.by.is_some() {
                item.by = Some(weight);
            }
        } else {
            match number(weight) {
                Some(score) => item.score = score,
                None => not_a_number = true,
            }
        }
    }
    if not_a_number {
        return Err(NOT_DOUBLE);
    }
    Ok(items)
}

/// `text` as Redis reads a weight: `strtod` must read up to the end (or to a NUL byte), must
/// not overflow or underflow, and must not give NaN. An empty text is 0.
fn number(text: &[u8]) -> Option<f64> {
    let read = strtod(text);
    let stop = text.get(read.len).copied().unwrap_or(0);
    (stop == 0 && !read.range_error && !read.value.is_nan()).then_some(read.value)
}

/// How two items compare, as Redis's `sortCompare`.
#[derive(Debug, Clone, Copy)]
struct Comparison {
    /// `ALPHA`: text rather than numbers.
    alpha: bool,
    /// ALPHA compares `BY` weights rather than the elements.
    by: bool,
    /// Text compares over its whole length (with STORE), else as `strcoll` in the C locale.
    binary: bool,
    /// `DESC`: the whole comparison reversed, ties included.
    desc: bool,
}

impl Comparison {
    /// How `a` compares with `b` in the reply's order.
    fn compare(self, a: &Item<'_>, b: &Item<'_>) -> Ordering {
        let order = if !self.alpha {
            // No weight is NaN, so two weights are ordered or equal; equal weights are ordered
            // by their elements, so the result never depends on the sort algorithm.
            a.score
                .partial_cmp(&b.score)
                .unwrap_or(Ordering::Equal)
                .then_with(|| a.element.cmp(b.element))
        } else if self.by {
            match (a.by, b.by) {
                (Some(x), Some(y)) => self.text(x, y),
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
            }
        } else {
            self.text(a.element, b.element)
        };
        if self.desc {
            order.reverse()
        } else {
            order
        }
    }

    /// How two texts compare under ALPHA.
    fn text(self, a: &[u8], b: &[u8]) -> Ordering {
        if self.binary {
            a.cmp(b)
        } else {
            // `strcoll` in the C locale is `strcmp`: unsigned bytes, up to the first NUL.
            c_string(a).cmp(c_string(b))
        }
    }
}

/// Puts the items the reply covers (`window`) in order, as Redis would leave them.
fn order(items: &mut [Item<'_>], window: Range<usize>, options: &SortOptions<'_>) {
    if options.dont_sort || window.is_empty() {
        return;
    }
    let comparison = Comparison {
        alpha: options.alpha,
        by: options.by.is_some(),
        binary: options.store.is_some(),
        desc: options.desc,
    };
    let whole = window == (0..items.len());
    if !whole && comparison.alpha && comparison.by {
        // Redis's partial quicksort, the one case where its order of equal items (equal or
        // missing ALPHA weights) differs from load order.
        partial_quicksort(items, window, &|a, b| comparison.compare(a, b));
        return;
    }
    // Elsewhere Redis sorts with glibc's stable merge sort (or with its quicksort on items
    // that are only ever equal to identical ones): ties keep load order. Selecting the window
    // first costs O(N + M log M) for M items out of N.
    let total = |a: &Item<'_>, b: &Item<'_>| {
        comparison
            .compare(a, b)
            .then_with(|| a.position.cmp(&b.position))
    };
    if window.end < items.len() {
        items.select_nth_unstable_by(window.end - 1, total);
    }
    let head = &mut items[..window.end];
    if window.start > 0 {
        head.select_nth_unstable_by(window.start, total);
    }
    head[window.start..].sort_unstable_by(total);
}

/// Sorts `items` far enough that positions `window` hold what a full sort puts there, the way
/// Redis's `pqsort` does (Bentley and McIlroy's quicksort from NetBSD, skipping the partitions
/// that lie outside the window), so that items comparing equal end up where Redis puts them.
///
/// Like any quicksort it has inputs that would take quadratic time; beyond a recursion depth
/// no ordinary input reaches, the part left is sorted by a standard sort instead (correct,
/// though equal items may then sit elsewhere than in Redis).
fn partial_quicksort<T>(
    items: &mut [T],
    window: Range<usize>,
    compare: &impl Fn(&T, &T) -> Ordering,
) {
    let depth = 2 * (usize::BITS - items.len().leading_zeros()) + 16;
    quicksort_part(items, 0, &window, compare, depth);
}

/// One call of [`partial_quicksort`]'s recursion on `items`, which start at position `base`
/// of the whole.
fn quicksort_part<T>(
    mut items: &mut [T],
    mut base: usize,
    window: &Range<usize>,
    compare: &impl Fn(&T, &T) -> Ordering,
    mut depth: u32,
) {
    loop {
        let n = items.len();
        if n < 7 {
            insertion_sort(items, compare);
            return;
        }
        if depth == 0 {
            items.sort_by(compare);
            return;
        }
        depth -= 1;
        // The pivot: the middle, the median of three, or the median of three medians.
        let mut middle = n / 2;
        if n > 7 {
            let (mut low, mut high) = (0, n - 1);
            if n > 40 {
                let d = n / 8;
                low = median_of_three(items, low, low + d, low + 2 * d, compare);
                middle = median_of_three(items, middle - d, middle, middle + d, compare);
                high = median_of_three(items, high - 2 * d, high - d, high, compare);
            }
            middle = median_of_three(items, low, middle, high, compare);
        }
        items.swap(0, middle);
        // Partition around items[0]: items equal to it gather at both ends ([1, pa) and
        // (pd, n)), smaller ones after the left group, larger ones before the right group.
        let (mut pa, mut pb, mut pc, mut pd) = (1, 1, n - 1, n - 1);
        let mut swapped = false;
        loop {
            while pb <= pc {
                let order = compare(&items[pb], &items[0]);
                if order == Ordering::Greater {
                    break;
                }
                if order == Ordering::Equal {
                    swapped = true;
                    items.swap(pa, pb);
                    pa += 1;
                }
                pb += 1;
            }
            while pb <= pc {
                let order = compare(&items[pc], &items[0]);
                if order == Ordering::Less {
                    break;
                }
                if order == Ordering::Equal {
                    swapped = true;
                    items.swap(pc, pd);
                    pd -= 1;
                }
                pc -= 1;
            }
            if pb > pc {
                break;
            }
            items.swap(pb, pc);
            swapped = true;
            pb += 1;
            pc -= 1;
        }
        if !swapped {
            // Nothing moved: the items are probably in order already.
            insertion_sort(items, compare);
            return;
        }
        // Bring the equal groups to the middle.
        let r = pa.min(pb - pa);
        swap_runs(items, 0, pb - r, r);
        let r = (pd - pc).min(n - pd - 1);
        swap_runs(items, pb, n - r, r);
        let overlaps = |start: usize, len: usize| {
            window.start < base + start + len && base + start < window.end
        };
        let smaller = pb - pa;
        if smaller > 1 && overlaps(0, smaller) {
            quicksort_part(&mut items[..smaller], base, window, compare, depth);
        }
        let larger = pd - pc;
        if larger <= 1 || !overlaps(n - larger, larger) {
            return;
        }
        // The larger side by iteration rather than recursion, as Redis does.
        base += n - larger;
        items = &mut std::mem::take(&mut items)[n - larger..];
    }
}

/// Insertion sort, moving each item down past the larger ones before it.
fn insertion_sort<T>(items: &mut [T], compare: &impl Fn(&T, &T) -> Ordering) {
    for i in 1..items.len() {
        let mut j = i;
        while j > 0 && compare(&items[j - 1], &items[j]) == Ordering::Greater {
            items.swap(j, j - 1);
            j -= 1;
        }
    }
}

/// Which of positions `a`, `b`, `c` holds the median, with NetBSD's comparisons.
fn median_of_three<T>(
    items: &[T],
    a: usize,
    b: usize,
    c: usize,
    compare: &impl Fn(&T, &T) -> Ordering,
) -> usize {
    let less = |x: usize, y: usize| compare(&items[x], &items[y]) == Ordering::Less;
    let greater = |x: usize, y: usize| compare(&items[x], &items[y]) == Ordering::Greater;
    if less(a, b) {
        if less(b, c) {
            b
        } else if less(a, c) {
            c
        } else {
            a
        }
    } else if greater(b, c) {
        b
    } else if less(a, c) {
        a
    } else {
        c
    }
}

/// Swaps the `len` items from `a` with the `len` items from `b`, pair by pair from the first.
fn swap_runs<T>(items: &mut [T], a: usize, b: usize, len: usize) {
    for i in 0..len {
        items.swap(a + i, b + i);
    }
}

/// Writes the items of `window` as SORT's reply: each element, or for each the values its
/// GET patterns name (nil where missing).
fn reply_items(
    ctx: &Ctx<'_, '_>,
    items: &[Item<'_>],
    gets: &[&[u8]],
    reply: &mut Reply,
) -> CommandResult {
    reply.array(items.len() * gets.len().max(1));
    let mut key = Vec::new();
    for item in items {
        if gets.is_empty() {
            reply.bulk(item.element);
        }
        for pattern in gets {
            match lookup_by_pattern(ctx, pattern, item.element, &mut key)? {
                Some(value) => reply.bulk(value),
                None => reply.null(),
            }
        }
    }
    Ok(())
}

/// The list `STORE` saves: each element, or for each the values its GET patterns name (empty
/// where missing).
fn store_items(
    ctx: &Ctx<'_, '_>,
    items: &[Item<'_>],
    gets: &[&[u8]],
) -> Result<ListValue, CommandError> {
    let mut elements: Vec<&[u8]> = Vec::with_capacity(items.len() * gets.len().max(1));
    let mut key = Vec::new();
    for item in items {
        if gets.is_empty() {
            elements.push(item.element);
        }
        for pattern in gets {
            let value = lookup_by_pattern(ctx, pattern, item.element, &mut key)?;
            elements.push(value.unwrap_or_default());
        }
    }
    // One push of them all sizes the list's chunks once.
    let mut list = ListValue::new();
    list.push_all(false, &elements);
    Ok(list)
}

// ---------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------

/// `SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC | DESC] [ALPHA]
/// [STORE destination]`: the sorted elements, or with STORE how many were stored.
pub fn sort(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    sort_generic(ctx, args, reply, false)
}

/// `SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC | DESC] [ALPHA]`:
/// SORT without STORE.
pub fn sort_ro(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    sort_generic(ctx, args, reply, true)
}

/// SORT and SORT_RO: parse, look the key up, load, weigh, order, then reply or store.
fn sort_generic(
    ctx: &mut Ctx<'_, '_>,
    args: &mut Args<'_>,
    reply: &mut Reply,
    readonly: bool,
) -> CommandResult {
    let key = args.next_bytes()?;
    let mut options = SortOptions::parse(args.rest(), readonly)?;
    let reader: &Ctx<'_, '_> = ctx;
    let value = reader.lookup(key)?.map(|entry| &entry.value);
    let missing = value.is_none();
    // A set's members, in the order Redis walks the set (ascending for an intset), spelled
    // out once here: an intset stores integers, not the bytes the elements borrow.
    let set_members: Vec<Member<'_>> = match value {
        Some(Value::Set(set)) => set.iter().collect(),
        _ => Vec::new(),
    };
    let Loaded { elements, window } = load(value, &set_members, &mut options)?;
    let mut items = weigh(reader, elements, &options)?;
    order(&mut items, window.clone(), &options);
    let chosen = &items[window];
    let Some(destination) = options.store else {
        return reply_items(reader, chosen, &options.gets, reply);
    };
    let list = store_items(reader, chosen, &options.gets)?;
    let stored = list.len();
    if matches!(value, Some(Value::Set(_))) {
        // A set's order is the server's own, so BY ties may fall differently on replay: the
        // log gets the list itself (Redis propagates SORT as sent and lives with that).
        propagate_stored(ctx, destination, &list);
    }
    let (db, now) = (ctx.db(), ctx.now);
    if missing {
        // Its shard is held for writing with STORE: a key found expired is deleted, as Redis's
        // lookup does.
        crate::keys::expire_if_needed(ctx, key)?;
    }
    if list.is_empty() {
        if ctx.locked.delete_even_expired(db, destination)? {
            ctx.modified(EventClass::GENERIC, "del", destination);
        }
    } else {
        let entry = Entry::new(Value::List(list), now);
        ctx.locked.insert(db, destination, entry, now)?;
        ctx.modified(EventClass::LIST, "sortstore", destination);
    }
    reply.count(stored);
    Ok(())
}

/// Records SORT ... STORE's effect as the list it stored: DEL of the destination, then
/// RPUSHes of the elements in order (in runs, so no one command of the log is huge).
fn propagate_stored(ctx: &mut Ctx<'_, '_>, destination: &[u8], list: &ListValue) {
    const RUN: usize = 1024;
    ctx.propagate(|| crate::effect_args!("DEL", destination));
    let elements: Vec<&[u8]> = list.iter().collect();
    for run in elements.chunks(RUN) {
        ctx.propagate(|| {
            let mut args = crate::effect_args!("RPUSH", destination);
            args.extend(run.iter().map(crate::effects::arg));
            args
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Keys and locks
// ---------------------------------------------------------------------------------------------

/// SORT's keys for `COMMAND GETKEYS` (Redis's `sortGetKeys`): the sorted key, and the last
/// `STORE` destination found by skipping each option's arguments. BY and GET keys are not
/// reported: they depend on the data.
fn sort_keys(args: &[&[u8]]) -> Vec<(usize, KeyFlags)> {
    if args.len() < 2 {
        return Vec::new();
    }
    let mut store = None;
    let mut at = 2;
    while at < args.len() {
        let arg = args[at];
        if is_word(arg, b"limit") {
            at += 2;
        } else if is_word(arg, b"get") || is_word(arg, b"by") {
            at += 1;
        } else if is_word(arg, b"store") && at + 1 < args.len() {
            // Redis then looks at the destination itself as a possible option name.
            store = Some(at + 1);
        }
        at += 1;
    }
    std::iter::once((1, SORTED_KEY))
        .chain(store.map(|at| (at, STORE_KEY)))
        .collect()
}

/// SORT's lock plan (see the module documentation): every shard of the selected database when
/// its patterns will read keys the elements name, else the key's and the destination's; for
/// writing only with STORE. Options that do not parse lock just the key: the command fails
/// before reading it.
fn plan(engine: &Engine, session: &Session, args: &[&[u8]], readonly: bool) -> LockPlan {
    let mut plan = LockPlan {
        write: false,
        shards: ShardList::new(),
    };
    let keyspace = &engine.keyspace;
    let Some(key) = args.get(1) else {
        return plan;
    };
    let options = args
        .get(2..)
        .and_then(|options| SortOptions::parse(options, readonly).ok());
    let Some(options) = options else {
        plan.shards.push((session.db, keyspace.shard_of(key)));
        return plan;
    };
    plan.write = options.store.is_some();
    if options.reads_named_keys() {
        keyspace.plan_whole_db(&mut plan, session.db);
    } else {
        plan.shards.push((session.db, keyspace.shard_of(key)));
        if let Some(destination) = options.store {
            plan.shards
                .push((session.db, keyspace.shard_of(destination)));
        }
    }
    plan
}

/// SORT's lock plan.
fn plan_sort(engine: &Engine, session: &Session, args: &[&[u8]]) -> LockPlan {
    plan(engine, session, args, false)
}

/// SORT_RO's lock plan.
fn plan_sort_ro(engine: &Engine, session: &Session, args: &[&[u8]]) -> LockPlan {
    plan(engine, session, args, true)
}

// ---------------------------------------------------------------------------------------------
// Registration
// ---------------------------------------------------------------------------------------------

/// The key specification of the sorted key.
const SORTED_KEY_SPEC: KeySpec = KeySpec {
    notes: None,
    flags: SORTED_KEY,
    begin_search: BeginSearch::Index(1),
    find_keys: FindKeys::Range {
        lastkey: 0,
        keystep: 1,
        limit: 0,
    },
};

/// The key specification of the keys BY and GET patterns name.
const PATTERN_KEY_SPEC: KeySpec = KeySpec {
    notes: Some(
        "For the optional BY/GET keyword. It is marked 'unknown' because the key names derive \
         from the content of the key we sort",
    ),
    flags: SORTED_KEY,
    begin_search: BeginSearch::Unknown,
    find_keys: FindKeys::Unknown,
};

/// The key specification of the STORE destination.
const STORE_KEY_SPEC: KeySpec = KeySpec {
    notes: Some(
        "For the optional STORE keyword. It is marked 'unknown' because the keyword can appear \
         anywhere in the argument array",
    ),
    flags: STORE_KEY,
    begin_search: BeginSearch::Unknown,
    find_keys: FindKeys::Unknown,
};

/// Registration block: SORT and SORT_RO's rows of the command table.
pub(crate) static COMMANDS: &[CommandSpec] = &[
    command!("sort", -2, [WRITE, DENYOOM, MOVABLEKEYS], (1, 1, 1), Generic, engine!(sort), "1.0.0",
        "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).",
        "Sorts the elements of a list or set, or reads other keys' values in that order, and replies or stores them as a list.",
        "key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC | DESC] [ALPHA] [STORE destination]",
        extra_acl: &["set", "sortedset", "list", "dangerous"], group_acl: false, locks: Locks::Custom(plan_sort),
        find_keys: Some(sort_keys), key_specs: &[SORTED_KEY_SPEC, PATTERN_KEY_SPEC, STORE_KEY_SPEC]),
    command!("sort_ro", -2, [READONLY, MOVABLEKEYS], (1, 1, 1), Generic, engine!(sort_ro), "7.0.0",
        "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).",
        "Sorts the elements of a list or set, or reads other keys' values in that order, and replies with them.",
        "key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC | DESC] [ALPHA]",
        extra_acl: &["set", "sortedset", "list", "dangerous"], group_acl: false, locks: Locks::Custom(plan_sort_ro),
        key_specs: &[SORTED_KEY_SPEC, PATTERN_KEY_SPEC]),
];

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use kv_resp::Frame;

    use super::*;
    use crate::keys::tests::{bulks, err, int, Client};
    use crate::{now_ms, Engine, Session};

    const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
    const SYNTAX: &str = "ERR syntax error";
    const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
    const NOT_NUMBER: &str = "ERR One or more scores can't be converted into double";

    /// The words of an array reply, `nil` for a null, for compact assertions.
    fn words(frame: Frame) -> Vec<String> {
        let Frame::Array(items) = frame else {
            panic!("not an array: {frame:?}")
        };
        items
            .into_iter()
            .map(|item| match item {
                Frame::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
                Frame::NullBulk | Frame::Null => "nil".to_owned(),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    /// The reply to `line` as words.
    fn sorted(c: &mut Client, line: &str) -> Vec<String> {
        words(c.cmd(line))
    }

    /// The reply to raw arguments as words.
    fn sorted_raw(c: &mut Client, args: &[&[u8]]) -> Vec<String> {
        words(c.run(args))
    }

    #[test]
    fn numeric_sort_orders_ties_by_the_element() {
        let mut c = Client::new();
        c.cmd("RPUSH l 3 1 2 10 -5 1.5 01 1 +1 1.0");
        assert_eq!(
            sorted(&mut c, "SORT l"),
            ["-5", "+1", "01", "1", "1", "1.0", "1.5", "2", "3", "10"]
        );
        // DESC reverses the whole comparison, ties included.
        assert_eq!(
            sorted(&mut c, "SORT l DESC"),
            ["10", "3", "2", "1.5", "1.0", "1", "1", "01", "+1", "-5"]
        );
        // The last of ASC and DESC wins.
        assert_eq!(sorted(&mut c, "SORT l DESC ASC LIMIT 0 2"), ["-5", "+1"]);
        assert_eq!(sorted(&mut c, "SORT l ASC DESC LIMIT 0 2"), ["10", "3"]);
        assert_eq!(sorted(&mut c, "SORT_RO l LIMIT 0 2"), ["-5", "+1"]);
        // The list itself is left alone.
        assert_eq!(c.cmd("LRANGE l 0 1"), bulks(&["3", "1"]));
    }

    #[test]
    fn numbers_are_read_as_strtod_reads_them() {
        let mut c = Client::new();
        c.run(&[
            b"RPUSH",
            b"f",
            b"2.5",
            b" \t7",
            b"0x10",
            b"0X1P3",
            b"",
            b"-inf",
            b"inf",
            b"+INFINITY",
            b"-0",
            b".5",
            b"1E2",
            b"-0x1p-2",
            b"6\0junk",
            b"\x0b4",
        ]);
        assert_eq!(
            sorted(&mut c, "SORT f"),
            [
                "-inf",
                "-0x1p-2",
                "",
                "-0",
                ".5",
                "2.5",
                "\u{b}4",
                "6\0junk",
                " \t7",
                "0X1P3",
                "0x10",
                "1E2",
                "+INFINITY",
                "inf"
            ]
        );
        for bad in [
            &b"abc"[..],
            b"5 ",
            b" ",
            b"nan",
            b"nan(1)",
            b"1e400",
            b"1e-400",
            b"1e-310",
            b"0x1.fffffffffffff8p1023",
            b"0x",
            b"1e",
            b"infinit",
        ] {
            c.cmd("DEL bad");
            c.run(&[b"RPUSH", b"bad", b"1", bad]);
            assert_eq!(c.cmd("SORT bad"), err(NOT_NUMBER), "{bad:?}");
            // Nothing is converted without a numeric sort.
            assert_eq!(c.cmd("SORT bad ALPHA LIMIT 0 0"), bulks(&[]));
            assert_eq!(c.cmd("SORT bad BY nosort LIMIT 0 1"), bulks(&["1"]));
        }
        // The error wins over LIMIT, which only cuts what is replied.
        assert_eq!(c.cmd("SORT bad LIMIT 0 0"), err(NOT_NUMBER));
    }

    #[test]
    fn alpha_compares_like_strcoll_without_store_and_bytes_with_it() {
        let mut c = Client::new();
        c.run(&[
            b"RPUSH", b"l", b"a\0b", b"\xff", b"a", b"a\0a", b"B", b"", b"\0", b"10", b"9",
        ]);
        // Up to the first NUL: "a\0b", "a" and "a\0a" tie and keep the list's order, and so do
        // "" and "\0"; bytes are unsigned.
        assert_eq!(
            sorted(&mut c, "SORT l ALPHA"),
            ["", "\0", "10", "9", "B", "a\0b", "a", "a\0a", "\u{fffd}"]
        );
        assert_eq!(
            sorted(&mut c, "SORT l ALPHA DESC"),
            ["\u{fffd}", "a\0b", "a", "a\0a", "B", "9", "10", "", "\0"]
        );
        assert_eq!(c.cmd("SORT l ALPHA STORE d"), int(9));
        assert_eq!(
            words(c.cmd("LRANGE d 0 -1")),
            ["", "\0", "10", "9", "B", "a", "a\0a", "a\0b", "\u{fffd}"]
        );
    }

    #[test]
    fn limit_is_clamped_as_redis_clamps_it() {
        let mut c = Client::new();
        c.cmd("RPUSH l 5 4 3 2 1");
        let cases: &[(&str, &[&str])] = &[
            ("0 2", &["1", "2"]),
            ("1 2", &["2", "3"]),
            ("2 -1", &["3", "4", "5"]),
            ("3 -2", &["4", "5"]),
            ("-5 2", &["1", "2"]),
            ("0 0", &[]),
            ("4 1", &["5"]),
            ("5 1", &[]),
            ("6 1", &[]),
            ("2 9223372036854775807", &["3", "4", "5"]),
            ("9223372036854775807 9223372036854775807", &[]),
            (
                "-9223372036854775808 -9223372036854775808",
                &["1", "2", "3", "4", "5"],
            ),
        ];
        for (limit, expected) in cases {
            assert_eq!(
                c.cmd(&format!("SORT l LIMIT {limit}")),
                bulks(expected),
                "{limit}"
            );
        }
        assert_eq!(sorted(&mut c, "SORT l LIMIT 0 1 LIMIT 3 1"), ["4"]);
        assert_eq!(sorted(&mut c, "SORT l DESC LIMIT 1 2"), ["4", "3"]);
        assert_eq!(c.cmd("SORT nokey LIMIT 0 5"), bulks(&[]));
    }

    #[test]
    fn options_fail_in_redis_order() {
        let mut c = Client::new();
        c.cmd("RPUSH l 1");
        c.cmd("SET str v");
        for (line, error) in [
            ("SORT l LIMIT a 1", NOT_INTEGER),
            ("SORT l LIMIT 1 a", NOT_INTEGER),
            ("SORT l LIMIT 1.5 1", NOT_INTEGER),
            ("SORT l LIMIT 0 9223372036854775808", NOT_INTEGER),
            // LIMIT is checked when read: before a later unknown word, after an earlier one.
            ("SORT l LIMIT a 1 FOO", NOT_INTEGER),
            ("SORT l FOO LIMIT a 1", SYNTAX),
            ("SORT l LIMIT 0", SYNTAX),
            ("SORT l LIMIT", SYNTAX),
            ("SORT l BY", SYNTAX),
            ("SORT l GET", SYNTAX),
            ("SORT l STORE", SYNTAX),
            ("SORT l ASC FOO", SYNTAX),
            // Options are checked before the key's type.
            ("SORT str FOO", SYNTAX),
            ("SORT str LIMIT x 1", NOT_INTEGER),
            ("SORT str", WRONGTYPE),
            ("SORT_RO l STORE d", SYNTAX),
            ("SORT_RO str STORE d", SYNTAX),
            ("SORT", "ERR wrong number of arguments for 'sort' command"),
            (
                "SORT_RO",
                "ERR wrong number of arguments for 'sort_ro' command",
            ),
        ] {
            assert_eq!(c.cmd(line), err(error), "{line}");
        }
        assert_eq!(c.int("EXISTS d"), 0);
    }

    #[test]
    fn keywords_compare_as_c_strings() {
        let mut c = Client::new();
        c.cmd("RPUSH l 2 1 3");
        assert_eq!(
            sorted_raw(&mut c, &[b"SORT", b"l", b"DESC\0zz"]),
            ["3", "2", "1"]
        );
        assert_eq!(
            sorted_raw(&mut c, &[b"SORT", b"l", b"LIMIT\0", b"0", b"1"]),
            ["1"]
        );
        assert_eq!(c.run(&[b"SORT", b"l", b"\0DESC"]), err(SYNTAX));
        // A `*` after a NUL byte is not seen: the pattern is constant, nothing is sorted.
        assert_eq!(
            sorted_raw(&mut c, &[b"SORT", b"l", b"BY", b"w_\0*"]),
            ["2", "1", "3"]
        );
    }

    #[test]
    fn types_and_missing_keys() {
        let mut c = Client::new();
        c.cmd("SET str 5");
        c.cmd("HSET h f 1");
        for line in [
            "SORT str",
            "SORT h",
            "SORT_RO str",
            "SORT str BY nosort",
            "SORT h STORE d",
        ] {
            assert_eq!(c.cmd(line), err(WRONGTYPE), "{line}");
        }
        assert_eq!(c.int("EXISTS d"), 0);
        assert_eq!(c.cmd("SORT nokey DESC ALPHA LIMIT 0 10"), bulks(&[]));
        assert_eq!(c.cmd("SORT nokey BY w_* GET o_*"), bulks(&[]));
        assert_eq!(c.cmd("SORT_RO nokey"), bulks(&[]));
        // An expired key is missing.
        let now = now_ms();
        c.cmd_at("RPUSH gone 1 2", now);
        c.cmd_at("PEXPIRE gone 10", now);
        assert_eq!(c.cmd_at("SORT gone", now + 20), bulks(&[]));
    }

    #[test]
    fn by_string_keys_weighs_elements() {
        let mut c = Client::new();
        c.cmd("RPUSH l a b c d e");
        c.cmd("MSET w_a 3 w_b 1 w_c 2");
        // Missing weights (d, e) are 0; ties are ordered by the element.
        assert_eq!(sorted(&mut c, "SORT l BY w_*"), ["d", "e", "b", "c", "a"]);
        assert_eq!(
            sorted(&mut c, "SORT l BY w_* DESC"),
            ["a", "c", "b", "e", "d"]
        );
        assert_eq!(sorted(&mut c, "SORT l BY w_* LIMIT 1 2"), ["e", "b"]);
        assert_eq!(sorted(&mut c, "SORT_RO l BY w_* LIMIT 3 9"), ["c", "a"]);
        // Weights of other types count as missing.
        c.cmd("RPUSH w_d 9");
        c.cmd("HSET w_e f 9");
        assert_eq!(sorted(&mut c, "SORT l BY w_*"), ["d", "e", "b", "c", "a"]);
        c.cmd("SET w_e notanumber");
        assert_eq!(c.cmd("SORT l BY w_*"), err(NOT_NUMBER));
        c.cmd("SET w_e 0x10");
        assert_eq!(sorted(&mut c, "SORT l BY w_* DESC LIMIT 0 1"), ["e"]);
        // Only the first `*` is replaced, wherever it is.
        c.cmd("MSET pre-a-* 5 pre-b-* 1");
        assert_eq!(
            sorted(&mut c, "SORT l BY pre-*-* DESC LIMIT 0 2"),
            ["a", "b"]
        );
        c.cmd("MSET a_x 1 b_x 3");
        assert_eq!(sorted(&mut c, "SORT l BY *_x DESC LIMIT 0 2"), ["b", "a"]);
        // An expired weight is missing.
        let now = now_ms();
        c.cmd_at("SET w_a 100 PX 10", now);
        assert_eq!(sorted(&mut c, "SORT l BY w_* DESC LIMIT 0 1"), ["a"]);
        assert_eq!(
            words(c.cmd_at("SORT l BY w_* DESC LIMIT 0 1", now + 20)),
            ["e"]
        );
    }

    #[test]
    fn alpha_by_weighs_by_text_with_missing_weights_first() {
        let mut c = Client::new();
        c.cmd("RPUSH l a b c d e");
        c.cmd("MSET t_a banana t_b apple t_c cherry t_d apple");
        // Equal weights (b, d) and missing ones (e) keep the list's order in a full sort.
        assert_eq!(
            sorted(&mut c, "SORT l BY t_* ALPHA"),
            ["e", "b", "d", "a", "c"]
        );
        assert_eq!(
            sorted(&mut c, "SORT l BY t_* ALPHA DESC"),
            ["c", "a", "b", "d", "e"]
        );
        assert_eq!(c.cmd("SORT l BY t_* ALPHA STORE dst"), int(5));
        assert_eq!(c.cmd("LRANGE dst 0 -1"), bulks(&["e", "b", "d", "a", "c"]));
    }

    #[test]
    fn alpha_by_ties_under_limit_follow_redis_quicksort() {
        // Orders taken from Redis 7.0.15, whose partial quicksort moves equal items around.
        let mut c = Client::new();
        let numbers: Vec<String> = (1..=60).map(|n| n.to_string()).collect();
        c.cmd(&format!("RPUSH l {}", numbers.join(" ")));
        c.cmd("MSET k_3 x k_7 x k_11 a k_12 z k_30 x k_31 a k_45 m k_50 x k_59 a");
        assert_eq!(
            sorted(&mut c, "SORT l BY k_* ALPHA LIMIT 0 10"),
            ["60", "2", "51", "52", "53", "54", "55", "56", "57", "58"]
        );
        assert_eq!(
            sorted(&mut c, "SORT l BY none_* ALPHA LIMIT 30 5"),
            ["31", "32", "33", "34", "35"]
        );
        assert_eq!(
            sorted(&mut c, "SORT l BY none_* ALPHA DESC LIMIT 10 10"),
            ["11", "12", "13", "14", "15", "16", "17", "18", "19", "20"]
        );
        c.cmd("RPUSH l8 1 2 3 4 5 6 7 8");
        assert_eq!(
            sorted(&mut c, "SORT l8 BY none_* ALPHA LIMIT 0 3"),
            ["8", "2", "3"]
        );
        // A full window is a stable sort.
        let full = sorted(&mut c, "SORT l BY k_* ALPHA");
        assert_eq!(
            &full[50..],
            ["60", "11", "31", "59", "45", "3", "7", "30", "50", "12"]
        );
    }

    #[test]
    fn by_hash_fields() {
        let mut c = Client::new();
        c.cmd("RPUSH l 1 2 3 4");
        c.cmd("HSET h_1 score 30 name one");
        c.cmd("HSET h_2 score 10 name two");
        c.cmd("HSET h_3 score 20 name three");
        c.cmd("SET h_4 notahash");
        assert_eq!(sorted(&mut c, "SORT l BY h_*->score"), ["4", "2", "3", "1"]);
        assert_eq!(
            sorted(&mut c, "SORT l BY h_*->score GET h_*->name"),
            ["nil", "two", "three", "one"]
        );
        assert_eq!(
            sorted(&mut c, "SORT l BY h_*->name ALPHA"),
            ["4", "1", "3", "2"]
        );
        assert_eq!(
            sorted(&mut c, "SORT l BY h_*->missing"),
            ["1", "2", "3", "4"]
        );
        // `->` with nothing after it is part of the key name.
        c.cmd("SET h_1-> 5");
        assert_eq!(
            sorted(&mut c, "SORT l GET h_*->"),
            ["5", "nil", "nil", "nil"]
        );
        // The field is everything after the first `->` following the `*`.
        c.cmd("HSET x_1 f->g hi");
        assert_eq!(sorted(&mut c, "SORT l GET x_*->f->g LIMIT 0 1"), ["hi"]);
        c.cmd("HSET a->b_1 f 1");
        assert_eq!(sorted(&mut c, "SORT l GET a->b_*->f LIMIT 0 1"), ["1"]);
        // An expired field is missing.
        let now = now_ms();
        c.cmd_at("HPEXPIRE h_1 10 FIELDS 1 score", now);
        assert_eq!(
            words(c.cmd_at("SORT l BY h_*->score", now + 20)),
            ["1", "4", "2", "3"]
        );
    }

    #[test]
    fn nosort_keeps_list_order_and_applies_limit_and_desc() {
        let mut c = Client::new();
        c.cmd("RPUSH l c a b 10 2");
        assert_eq!(
            sorted(&mut c, "SORT l BY nosort"),
            ["c", "a", "b", "10", "2"]
        );
        assert_eq!(
            sorted(&mut c, "SORT l BY nosort DESC"),
            ["2", "10", "b", "a", "c"]
        );
        assert_eq!(sorted(&mut c, "SORT l BY nosort LIMIT 1 2"), ["a", "b"]);
        assert_eq!(
            sorted(&mut c, "SORT l BY nosort DESC LIMIT 1 2"),
            ["10", "b"]
        );
        assert_eq!(
            sorted(&mut c, "SORT l BY nosort DESC LIMIT 3 10"),
            ["a", "c"]
        );
        assert_eq!(
            sorted(&mut c, "SORT l BY nosort LIMIT 5 1"),
            Vec::<String>::new()
        );
        assert_eq!(sorted(&mut c, "SORT l BY nosort ALPHA LIMIT 0 1"), ["c"]);
        // Any constant pattern is nosort, and nosort wins over every other BY.
        c.cmd("SET const 5");
        for by in ["const", "#", "nosort BY w_*", "w_* BY nosort"] {
            assert_eq!(
                sorted(&mut c, &format!("SORT l BY {by} LIMIT 0 2")),
                ["c", "a"],
                "{by}"
            );
        }
        assert_eq!(c.cmd("SORT l BY nosort DESC LIMIT 1 2 STORE d"), int(2));
        assert_eq!(c.cmd("LRANGE d 0 -1"), bulks(&["10", "b"]));
    }

    #[test]
    fn sets_sort_and_keep_their_order_only_unsorted() {
        let mut c = Client::new();
        c.cmd("SADD s 5 3 10 -2 100");
        // An all-integer set in Redis's (intset) order.
        assert_eq!(
            sorted(&mut c, "SORT s BY nosort"),
            ["-2", "3", "5", "10", "100"]
        );
        assert_eq!(
            sorted(&mut c, "SORT s BY nosort DESC LIMIT 1 2"),
            ["3", "5"]
        );
        // Stored unsorted members are sorted by their bytes instead.
        assert_eq!(c.cmd("SORT s BY nosort STORE d"), int(5));
        assert_eq!(
            c.cmd("LRANGE d 0 -1"),
            bulks(&["-2", "10", "100", "3", "5"])
        );
        assert_eq!(c.cmd("SORT s BY nosort DESC LIMIT 0 2 STORE d"), int(2));
        assert_eq!(c.cmd("LRANGE d 0 -1"), bulks(&["5", "3"]));
        assert_eq!(sorted(&mut c, "SORT s DESC"), ["100", "10", "5", "3", "-2"]);
        c.cmd("SADD t banana apple cherry");
        assert_eq!(
            sorted(&mut c, "SORT t ALPHA"),
            ["apple", "banana", "cherry"]
        );
        assert_eq!(c.cmd("SORT t"), err(NOT_NUMBER));
        c.cmd("MSET w_apple 3 w_banana 1 w_cherry 2");
        assert_eq!(
            sorted(&mut c, "SORT t BY w_*"),
            ["banana", "cherry", "apple"]
        );
    }

    #[test]
    fn get_patterns() {
        let mut c = Client::new();
        c.cmd("RPUSH l 3 1 2");
        c.cmd("MSET o_1 one o_2 two");
        c.cmd("RPUSH o_3 notastring");
        assert_eq!(sorted(&mut c, "SORT l GET o_*"), ["one", "two", "nil"]);
        assert_eq!(
            sorted(&mut c, "SORT l GET # GET o_* DESC LIMIT 0 2"),
            ["3", "nil", "2", "two"]
        );
        assert_eq!(
            sorted(&mut c, "SORT l GET # GET #"),
            ["1", "1", "2", "2", "3", "3"]
        );
        // A pattern without `*` names no key; `#` counts only alone (or before a NUL).
        assert_eq!(sorted(&mut c, "SORT l GET nostar"), ["nil", "nil", "nil"]);
        assert_eq!(sorted(&mut c, "SORT l GET #x"), ["nil", "nil", "nil"]);
        assert_eq!(
            sorted_raw(&mut c, &[b"SORT", b"l", b"GET", b"#\0x"]),
            ["1", "2", "3"]
        );
        assert_eq!(
            sorted(&mut c, "SORT l BY nosort GET o_*"),
            ["nil", "one", "two"]
        );
        c.cmd("SET 2 itself");
        assert_eq!(sorted(&mut c, "SORT l GET *"), ["nil", "itself", "nil"]);
        // RESP3 nulls.
        c.set_protocol(crate::Protocol::Resp3);
        assert_eq!(
            c.cmd("SORT l GET o_* LIMIT 2 1"),
            Frame::Array(vec![Frame::Null])
        );
    }

    #[test]
    fn store_writes_a_list_and_counts() {
        let mut c = Client::new();
        c.cmd("RPUSH l 3 1 2");
        assert_eq!(c.cmd("SORT l STORE dst"), int(3));
        assert_eq!(c.cmd("LRANGE dst 0 -1"), bulks(&["1", "2", "3"]));
        // Any type is replaced, and the TTL goes with it.
        c.cmd("SET dst v EX 100");
        assert_eq!(c.cmd("SORT l DESC STORE dst"), int(3));
        assert_eq!(c.cmd("LRANGE dst 0 -1"), bulks(&["3", "2", "1"]));
        assert_eq!(c.int("TTL dst"), -1);
        c.cmd("HSET dst f v");
        assert_eq!(c.cmd("SORT l LIMIT 0 1 STORE dst"), int(1));
        assert_eq!(c.cmd("LRANGE dst 0 -1"), bulks(&["1"]));
        // Missing GET values are stored as empty strings; the count is of values.
        c.cmd("SET o_1 one");
        assert_eq!(c.cmd("SORT l GET # GET o_* STORE dst"), int(6));
        assert_eq!(
            c.cmd("LRANGE dst 0 -1"),
            bulks(&["1", "one", "2", "", "3", ""])
        );
        // An empty result deletes the destination.
        assert_eq!(c.cmd("SORT l LIMIT 0 0 STORE dst"), int(0));
        assert_eq!(c.int("EXISTS dst"), 0);
        c.cmd("SET dst v");
        assert_eq!(c.cmd("SORT nokey STORE dst"), int(0));
        assert_eq!(c.int("EXISTS dst"), 0);
        // Onto the sorted key itself; the last STORE wins.
        assert_eq!(c.cmd("SORT l DESC STORE l"), int(3));
        assert_eq!(c.cmd("LRANGE l 0 -1"), bulks(&["3", "2", "1"]));
        assert_eq!(c.cmd("SORT l STORE a STORE b"), int(3));
        assert_eq!(c.int("EXISTS a"), 0);
        // A failing sort stores nothing.
        c.cmd("RPUSH bad x");
        c.cmd("SET keep v");
        assert_eq!(c.cmd("SORT bad STORE keep"), err(NOT_NUMBER));
        assert_eq!(c.cmd("GET keep"), crate::keys::tests::bulk("v"));
    }

    #[test]
    fn databases_are_separate() {
        let mut c = Client::new();
        c.cmd("SELECT 1");
        c.cmd("RPUSH l 2 1");
        c.cmd("MSET w_1 2 w_2 1 o_1 one");
        assert_eq!(sorted(&mut c, "SORT l BY w_* GET o_*"), ["nil", "one"]);
        c.cmd("SELECT 0");
        assert_eq!(c.cmd("SORT l BY w_* GET o_*"), bulks(&[]));
    }

    #[test]
    fn getkeys_finds_the_last_store_destination() {
        let args = |line: &'static str| -> Vec<&'static [u8]> {
            line.split_whitespace().map(str::as_bytes).collect()
        };
        let positions = |line: &'static str| -> Vec<usize> {
            sort_keys(&args(line))
                .into_iter()
                .map(|(at, _)| at)
                .collect()
        };
        assert_eq!(positions("sort a"), [1]);
        assert_eq!(positions("sort a STORE b"), [1, 3]);
        assert_eq!(positions("sort a BY x GET y STORE b LIMIT 0 1"), [1, 7]);
        assert_eq!(positions("sort a LIMIT store b"), [1]);
        assert_eq!(positions("sort a LIMIT 0 1 STORE b STORE c"), [1, 8]);
        assert_eq!(positions("sort a STORE"), [1]);
        // Redis also reads the destination as a possible option name.
        assert_eq!(positions("sort a STORE GET x"), [1, 3]);
        assert_eq!(positions("sort a GET store b"), [1]);
        assert_eq!(sort_keys(&args("sort a store b"))[1].1, STORE_KEY);
        let mut c = Client::new();
        assert_eq!(c.cmd("COMMAND GETKEYS sort a STORE b"), bulks(&["a", "b"]));
        assert_eq!(c.cmd("COMMAND GETKEYS sort_ro a STORE b"), bulks(&["a"]));
        assert_eq!(
            c.cmd("COMMAND GETKEYSANDFLAGS sort a STORE b"),
            Frame::Array(vec![
                Frame::Array(vec![
                    crate::keys::tests::bulk("a"),
                    Frame::Array(vec![Frame::simple("RO"), Frame::simple("access")]),
                ]),
                Frame::Array(vec![
                    crate::keys::tests::bulk("b"),
                    Frame::Array(vec![Frame::simple("OW"), Frame::simple("update")]),
                ]),
            ])
        );
    }

    #[test]
    fn lock_plans_cover_the_keys_read() {
        let engine = Engine::new(16, 16);
        let session = Session {
            db: 3,
            ..Session::default()
        };
        let shard = |key: &[u8]| engine.keyspace.shard_of(key);
        let plan_of = |line: &str, readonly: bool| {
            let args: Vec<&[u8]> = line.split_whitespace().map(str::as_bytes).collect();
            let mut plan = plan(&engine, &session, &args, readonly);
            plan.shards.sort_unstable();
            plan.shards.dedup();
            plan
        };
        let whole_db =
            |plan: &LockPlan| plan.shards.len() == 16 && plan.shards.iter().all(|&(db, _)| db == 3);
        // Without STORE, shared locks on the key alone.
        for line in [
            "sort a",
            "sort a BY nosort",
            "sort a BY const",
            "sort a GET #",
            "sort a GET nostar",
            "sort a BY nosort BY w_* GET # DESC ALPHA LIMIT 0 1",
        ] {
            let plan = plan_of(line, false);
            assert!(!plan.write, "{line}");
            assert_eq!(plan.shards.to_vec(), vec![(3, shard(b"a"))], "{line}");
        }
        // STORE locks the destination too, for writing.
        let plan = plan_of("sort a STORE b", false);
        assert!(plan.write);
        let mut expected = vec![(3, shard(b"a")), (3, shard(b"b"))];
        expected.sort_unstable();
        expected.dedup();
        assert_eq!(plan.shards.to_vec(), expected);
        // Patterns that read keys named by the data lock the whole database.
        for line in [
            "sort a BY w_*",
            "sort a GET o_*",
            "sort a GET # GET o_*->f",
            "sort a BY w_* STORE b",
        ] {
            assert!(whole_db(&plan_of(line, false)), "{line}");
        }
        assert!(plan_of("sort a BY w_* STORE b", false).write);
        assert!(!plan_of("sort a BY w_*", true).write);
        // SORT_RO has no STORE: its options fail, so only the key is locked.
        let plan = plan_of("sort_ro a BY w_* STORE b", true);
        assert_eq!(plan.shards.to_vec(), vec![(3, shard(b"a"))]);
        assert!(!plan.write);
        let plan = plan_of("sort a LIMIT x 1 GET o_*", false);
        assert_eq!(plan.shards.to_vec(), vec![(3, shard(b"a"))]);
    }

    #[test]
    fn table_rows_match_redis() {
        let info = |name: &str| -> (Vec<&str>, Vec<&str>) {
            let spec = crate::table::find(name.as_bytes()).expect("registered");
            (spec.flags.names().collect(), spec.acl_categories())
        };
        assert_eq!(
            info("sort"),
            (
                vec!["write", "denyoom", "movablekeys"],
                vec!["write", "set", "sortedset", "list", "slow", "dangerous"]
            )
        );
        assert_eq!(
            info("sort_ro"),
            (
                vec!["readonly", "movablekeys"],
                vec!["read", "set", "sortedset", "list", "slow", "dangerous"]
            )
        );
    }

    #[test]
    fn partial_quicksort_sorts_the_window() {
        // Items are (key, id): compared by key only, so there are many ties; the window must
        // hold the keys a full sort puts there, whatever the ties.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for round in 0..300 {
            let len = 1 + next(120);
            let spread = 1 + next(if round % 2 == 0 { 5 } else { 1000 });
            let mut items: Vec<(usize, usize)> = (0..len).map(|id| (next(spread), id)).collect();
            let mut expected = items.clone();
            expected.sort_by_key(|&(key, _)| key);
            let start = next(len);
            let end = start + 1 + next(len - start);
            partial_quicksort(&mut items, start..end, &|a, b| a.0.cmp(&b.0));
            let got: Vec<usize> = items[start..end].iter().map(|&(k, _)| k).collect();
            let want: Vec<usize> = expected[start..end].iter().map(|&(k, _)| k).collect();
            assert_eq!(got, want, "len {len}, window {start}..{end}");
            let mut ids: Vec<usize> = items.iter().map(|&(_, id)| id).collect();
            ids.sort_unstable();
            assert!(ids.iter().copied().eq(0..len), "items lost or duplicated");
        }
    }

    /// McIlroy's "killer adversary": a comparison that decides values as late as it can so as
    /// to drive a quicksort quadratic. The depth bound must keep the work near N log N.
    #[test]
    fn partial_quicksort_resists_a_quadratic_adversary() {
        let n = 20_000;
        let gas = n;
        let values: Vec<Cell<usize>> = (0..n).map(|_| Cell::new(gas)).collect();
        let (solid, candidate, comparisons) = (Cell::new(0), Cell::new(0), Cell::new(0u64));
        let compare = |&x: &usize, &y: &usize| {
            comparisons.set(comparisons.get() + 1);
            if values[x].get() == gas && values[y].get() == gas {
                let frozen = if x == candidate.get() { x } else { y };
                values[frozen].set(solid.get());
                solid.set(solid.get() + 1);
            }
            if values[x].get() == gas {
                candidate.set(x);
            } else if values[y].get() == gas {
                candidate.set(y);
            }
            values[x].get().cmp(&values[y].get())
        };
        let mut items: Vec<usize> = (0..n).collect();
        partial_quicksort(&mut items, 0..n - 1, &compare);
        let bound = 10 * n as u64 * u64::from(usize::BITS - n.leading_zeros());
        assert!(
            comparisons.get() < bound,
            "{} comparisons",
            comparisons.get()
        );
        let window: Vec<usize> = items[..n - 1].iter().map(|&i| values[i].get()).collect();
        assert!(window.windows(2).all(|w| w[0] <= w[1]));
    }
}
