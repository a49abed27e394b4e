//! Sorted-set commands (Redis's `t_zset.c`).
//!
//! A sorted set is a [`ZSetValue`] (see [`crate::zset`] for its two forms and why). It is never
//! empty: the command that removes its last member deletes the key, and a `*STORE` command
//! whose result is empty deletes its destination, as Redis does. Arguments are checked in
//! Redis's order, so that a request with several faults gets the same error from both.
//!
//! Replies: a score is a double (RESP3 `,`; in RESP2 a bulk string of `%.17g`, with `inf` and
//! `-inf`). With WITHSCORES, RESP2 replies alternate members and scores in one array while
//! RESP3 nests a `[member, score]` pair per element, as Redis 7 does. Ranges whose length is
//! not known in advance are collected before the reply is written (Redis defers the length;
//! the bytes are the same).
//!
//! Score ranges (`1`, `(1`, `-inf`, `+inf`) are read as Redis reads them, with C's `strtod`:
//! leading spaces, hex floats and out-of-range values are accepted, trailing bytes are not, and
//! the text ends at a NUL byte. Scores themselves (ZADD, ZINCRBY, WEIGHTS) are read as Redis's
//! `string2d`: no leading space, no overflow. Lexicographic bounds are `-`, `+`, `[member` or
//! `(member`.
//!
//! Keyspace events follow Redis 7.0's: a command that changes a key reports it once, after the
//! change (`zadd`, `zincr` for ZADD INCR and ZINCRBY, `zrem`, `zremrangeby*`, `zpopmin`,
//! `zpopmax`, the `*store` commands' own names) and only if something changed; one that
//! deletes its key with the last member adds `del`, as does a `*STORE` whose empty result
//! deletes an existing destination.

use std::collections::HashMap;

use crate::args::{parse_f64_opt, parse_i64};
use crate::blocking::{parse_timeout, End, Operation};
use crate::command::{BeginSearch, CommandSpec, FindKeys, KeySpec};
use crate::intset::Member;
use crate::table::{command, engine};
use crate::zset::{cmp_elements, LexBound, LexRange, ScoreRange};
use crate::{
    Args, CommandError, CommandResult, CompactBytes, Ctx, Entry, EventClass, Protocol, Reply,
    SetValue, Value, ZSetValue,
};

// ---------------------------------------------------------------------------------------------
// Access to the keyspace
// ---------------------------------------------------------------------------------------------

/// The sorted set at `key` for a read (counts a keyspace hit or miss): `None` if missing,
/// `WRONGTYPE` if another type.
fn zset_at<'c>(ctx: &'c Ctx<'_, '_>, key: &[u8]) -> Result<Option<&'c ZSetValue>, CommandError> {
    match ctx.lookup(key)? {
        None => Ok(None),
        Some(Entry {
            value: Value::ZSet(zset),
            ..
        }) => Ok(Some(zset)),
        Some(_) => Err(CommandError::WrongType),
    }
}

/// The sorted set at `key` for a write (Redis's `lookupKeyWrite`, which records the access
/// whatever the type): `None` if missing, `WRONGTYPE` if another type.
fn zset_mut<'c>(
    ctx: &'c mut Ctx<'_, '_>,
    key: &[u8],
) -> Result<Option<&'c mut ZSetValue>, CommandError> {
    let Some(entry) = ctx.lookup_write(key)? else {
        return Ok(None);
    };
    match &mut entry.value {
        Value::ZSet(zset) => Ok(Some(zset)),
        _ => Err(CommandError::WrongType),
    }
}

/// Deletes `key` when the command has just emptied its sorted set.
fn delete_if_empty(ctx: &mut Ctx<'_, '_>, key: &[u8], empty: bool) -> CommandResult {
    if empty {
        let (db, now) = (ctx.db(), ctx.now);
        ctx.locked.remove(db, key, now)?;
    }
    Ok(())
}

/// Reports a change that removed members from `key`: the command's `event`, then `del` when
/// the key went with its last member (`emptied`, already deleted), as Redis's ZREM and
/// ZREMRANGEBY* notify.
fn removed_events(ctx: &Ctx<'_, '_>, key: &[u8], event: &str, emptied: bool) {
    ctx.modified(EventClass::ZSET, event, key);
    if emptied {
        ctx.notify(EventClass::GENERIC, "del", key);
    }
}

/// Stores `items` (ascending, members distinct) at `destination` as a fresh persistent sorted
/// set in the form its content calls for, replacing any value of any type, and publishes
/// `event`; an empty result deletes the destination instead, with a `del` event if it was
/// there (Redis's `*STORE` commands). Returns the stored size.
fn store(
    ctx: &mut Ctx<'_, '_>,
    destination: &[u8],
    items: Vec<(CompactBytes, f64)>,
    event: &str,
) -> Result<usize, CommandError> {
    let (db, now) = (ctx.db(), ctx.now);
    let len = items.len();
    if len == 0 {
        if ctx.locked.delete_even_expired(db, destination)? {
            ctx.modified(EventClass::GENERIC, "del", destination);
        }
    } else {
        let zset = ZSetValue::from_sorted(items, ctx.engine.config.zset_limits());
        let entry = Entry::new(Value::ZSet(Box::new(zset)), now);
        ctx.locked.insert(db, destination, entry, now)?;
        ctx.modified(EventClass::ZSET, event, destination);
    }
    Ok(len)
}

/// Owned copies of borrowed elements, for writing them elsewhere in the keyspace.
fn owned(items: &[(&[u8], f64)]) -> Vec<(CompactBytes, f64)> {
    items
        .iter()
        .map(|&(member, score)| (CompactBytes::new(member), score))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Replies and argument parsing shared by several commands
// ---------------------------------------------------------------------------------------------

/// Writes one element: the member, then its score when `withscores`, as a `[member, score]`
/// pair in RESP3.
fn write_element(reply: &mut Reply, member: &[u8], score: f64, withscores: bool) {
    if withscores && reply.protocol == Protocol::Resp3 {
        reply.array(2);
    }
    reply.bulk(member);
    if withscores {
        reply.double(score);
    }
}

/// The array header for `n` elements written by [`write_element`]: RESP2 counts members and
/// scores separately.
fn elements_header(reply: &mut Reply, n: usize, withscores: bool) {
    if withscores && reply.protocol == Protocol::Resp2 {
        reply.array(n * 2);
    } else {
        reply.array(n);
    }
}

/// Writes `items` as a range reply.
fn write_elements(reply: &mut Reply, items: &[(&[u8], f64)], withscores: bool) {
    elements_header(reply, items.len(), withscores);
    for &(member, score) in items {
        write_element(reply, member, score, withscores);
    }
}

/// One end of a score range as Redis's `zslParseRange` reads it: an optional `(` for an open
/// end, then what `strtod` reads in full up to the end or a NUL byte (so leading spaces and an
/// empty string, which reads as 0, are accepted), not NaN.
fn parse_score_bound(arg: &[u8]) -> Option<(f64, bool)> {
    let (text, exclusive) = match arg.split_first() {
        Some((b'(', rest)) => (rest, true),
        _ => (arg, false),
    };
    let text = &text[..text.iter().position(|&b| b == 0).unwrap_or(text.len())];
    let read = crate::strtod::strtod(text);
    (read.len == text.len() && !read.value.is_nan()).then_some((read.value, exclusive))
}

/// A score range from its two ends, with Redis's error.
fn parse_score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, CommandError> {
    match (parse_score_bound(min), parse_score_bound(max)) {
        (Some((min, min_exclusive)), Some((max, max_exclusive))) => Ok(ScoreRange {
            min,
            max,
            min_exclusive,
            max_exclusive,
        }),
        _ => Err(CommandError::msg("ERR min or max is not a float")),
    }
}

/// One end of a lexicographic range as Redis's `zslParseLexRangeItem` reads it. `+` and `-`
/// stand alone (C sees a NUL byte right after them as the end of the string).
fn parse_lex_bound(arg: &[u8]) -> Option<LexBound> {
    let alone = |rest: &[u8]| rest.first().is_none_or(|&b| b == 0);
    match arg.split_first() {
        Some((b'+', rest)) if alone(rest) => Some(LexBound::Max),
        Some((b'-', rest)) if alone(rest) => Some(LexBound::Min),
        Some((b'(', rest)) => Some(LexBound::Member {
            bytes: rest.to_vec(),
            exclusive: true,
        }),
        Some((b'[', rest)) => Some(LexBound::Member {
            bytes: rest.to_vec(),
            exclusive: false,
        }),
        _ => None,
    }
}

/// A lexicographic range from its two ends, with Redis's error.
fn parse_lex_range(min: &[u8], max: &[u8]) -> Result<LexRange, CommandError> {
    match (parse_lex_bound(min), parse_lex_bound(max)) {
        (Some(min), Some(max)) => Ok(LexRange { min, max }),
        _ => Err(CommandError::msg(
            "ERR min or max not valid string range item",
        )),
    }
}

/// `start..=end` by rank (negative counting from the end) clamped to a set of `len` elements,
/// as ZRANGE and ZREMRANGEBYRANK compute it; `None` when nothing is in range.
fn clamp_ranks(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = i64::try_from(len).unwrap_or(i64::MAX);
    // A negative index plus a non-negative length cannot overflow.
    let start = if start < 0 { start + len } else { start }.max(0);
    let end = if end < 0 { end + len } else { end };
    if start > end || start >= len {
        return None;
    }
    let end = end.min(len - 1);
    Some((usize::try_from(start).ok()?, usize::try_from(end).ok()?))
}

// ---------------------------------------------------------------------------------------------
// ZADD, ZINCRBY
// ---------------------------------------------------------------------------------------------

/// ZADD's options (ZINCRBY is ZADD with INCR set).
#[derive(Debug, Default, Clone, Copy)]
struct AddOptions {
    /// Only add new members.
    nx: bool,
    /// Only update existing members.
    xx: bool,
    /// Only update to a greater score.
    gt: bool,
    /// Only update to a lesser score.
    lt: bool,
    /// Reply members added or changed, not only added.
    ch: bool,
    /// Add the score to the current one and reply the result.
    incr: bool,
}

/// ZADD and ZINCRBY (Redis's `zaddGenericCommand`): options, then score-member pairs, every
/// score checked before anything changes.
fn zadd_generic(
    ctx: &mut Ctx<'_, '_>,
    args: &mut Args<'_>,
    reply: &mut Reply,
    incr: bool,
) -> CommandResult {
    let key = args.next_bytes()?;
    let mut o = AddOptions {
        incr,
        ..AddOptions::default()
    };
    // Options come first; the first word that is not one starts the pairs. ZINCRBY reads
    // them too, as Redis does.
    while let Some(word) = args.peek() {
        let flag = match word.to_ascii_lowercase().as_slice() {
            b"nx" => &mut o.nx,
            b"xx" => &mut o.xx,
            b"gt" => &mut o.gt,
            b"lt" => &mut o.lt,
            b"ch" => &mut o.ch,
            b"incr" => &mut o.incr,
            _ => break,
        };
        *flag = true;
        args.next_bytes()?;
    }
    let rest = args.rest();
    if rest.is_empty() || rest.len() % 2 != 0 {
        return Err(CommandError::Syntax);
    }
    if o.nx && o.xx {
        return Err(CommandError::msg(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (o.nx && (o.gt || o.lt)) || (o.gt && o.lt) {
        return Err(CommandError::msg(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if o.incr && rest.len() > 2 {
        return Err(CommandError::msg(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    let pairs = rest
        .chunks_exact(2)
        .map(|pair| Ok((crate::args::parse_f64(pair[0])?, pair[1])))
        .collect::<Result<Vec<(f64, &[u8])>, CommandError>>()?;
    let limits = ctx.engine.config.zset_limits();
    let (db, now) = (ctx.db(), ctx.now);
    let lfu = ctx.engine.lfu();
    if o.xx && ctx.locked.get(db, key, now)?.is_none() {
        // XX on a missing key: nothing to update, and no key is created.
        write_add_reply(reply, o, 0, 0, None);
        return Ok(());
    }
    // A new set takes the form Redis gives it from the first member alone.
    let first = pairs[0].1;
    let make = || {
        let zset = ZSetValue::for_first_member(first, limits);
        Entry::new(Value::ZSet(Box::new(zset)), now)
    };
    let (entry, _) = ctx.locked.get_or_insert_with(db, key, now, make)?;
    entry.touch(now, lfu);
    let Value::ZSet(zset) = &mut entry.value else {
        return Err(CommandError::WrongType);
    };
    let (mut added, mut updated) = (0, 0);
    let mut last_score = None;
    let mut outcome = Ok(());
    for (score, member) in pairs {
        match add_one(zset, member, score, o, limits) {
            Ok(Added::New(s)) => {
                added += 1;
                last_score = Some(s);
            }
            Ok(Added::Updated(s)) => {
                updated += 1;
                last_score = Some(s);
            }
            Ok(Added::Same(s)) => last_score = Some(s),
            Ok(Added::Nothing) => {}
            Err(e) => {
                outcome = Err(e);
                break;
            }
        }
    }
    let empty = zset.is_empty();
    // A new key whose only insertion failed must not stay behind empty.
    delete_if_empty(ctx, key, empty)?;
    // Once something was added or changed, Redis notifies even when a later pair failed.
    if added + updated > 0 {
        let event = if o.incr { "zincr" } else { "zadd" };
        ctx.modified(EventClass::ZSET, event, key);
    }
    outcome?;
    write_add_reply(reply, o, added, updated, last_score);
    Ok(())
}

/// ZADD's reply: with INCR the new score (nil when nothing was done), else the number added
/// (with CH, added or changed).
fn write_add_reply(
    reply: &mut Reply,
    o: AddOptions,
    added: usize,
    updated: usize,
    score: Option<f64>,
) {
    if o.incr {
        match score {
            Some(score) => reply.double(score),
            None => reply.null(),
        }
    } else if o.ch {
        reply.count(added + updated);
    } else {
        reply.count(added);
    }
}

/// What one ZADD pair did.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Added {
    /// A new member, with its score.
    New(f64),
    /// An existing member whose score changed.
    Updated(f64),
    /// An existing member left at the same score (it still counts as processed).
    Same(f64),
    /// Nothing: NX on an existing member, XX on a missing one, or GT/LT refusing.
    Nothing,
}

/// One ZADD pair (Redis's `zsetAdd`).
fn add_one(
    zset: &mut ZSetValue,
    member: &[u8],
    score: f64,
    o: AddOptions,
    limits: crate::zset::Limits,
) -> Result<Added, CommandError> {
    match zset.score(member) {
        Some(current) => {
            if o.nx {
                return Ok(Added::Nothing);
            }
            let score = if o.incr { score + current } else { score };
            if score.is_nan() {
                return Err(CommandError::msg(
                    "ERR resulting score is not a number (NaN)",
                ));
            }
            if (o.lt && score >= current) || (o.gt && score <= current) {
                return Ok(Added::Nothing);
            }
            // IEEE equality: -0 and 0 are the same score, so nothing moves.
            if score == current {
                return Ok(Added::Same(score));
            }
            zset.set_score(member, score);
            Ok(Added::Updated(score))
        }
        None => {
            if o.xx {
                return Ok(Added::Nothing);
            }
            if !zset.insert(member, score, limits) {
                return Err(CommandError::msg("ERR sorted set is full"));
            }
            Ok(Added::New(score))
        }
    }
}

/// `ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]`
pub fn zadd(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    zadd_generic(ctx, args, reply, false)
}

/// `ZINCRBY key increment member`: the new score.
pub fn zincrby(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    zadd_generic(ctx, args, reply, true)
}

// ---------------------------------------------------------------------------------------------
// Single-member reads and ZREM
// ---------------------------------------------------------------------------------------------

/// `ZREM key member [member ...]`: how many were removed; the key goes with the last member.
pub fn zrem(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let members = args.rest();
    let Some(zset) = zset_mut(ctx, key)? else {
        reply.integer(0);
        return Ok(());
    };
    let removed = members.iter().filter(|m| zset.remove(m).is_some()).count();
    let empty = zset.is_empty();
    delete_if_empty(ctx, key, empty)?;
    if removed > 0 {
        removed_events(ctx, key, "zrem", empty);
    }
    reply.count(removed);
    Ok(())
}

/// `ZCARD key`: the number of members, 0 for a missing key.
pub fn zcard(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    reply.count(zset_at(ctx, key)?.map_or(0, ZSetValue::len));
    Ok(())
}

/// `ZSCORE key member`: the score, nil if the member or key is missing.
pub fn zscore(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let member = args.next_bytes()?;
    match zset_at(ctx, key)?.and_then(|z| z.score(member)) {
        Some(score) => reply.double(score),
        None => reply.null(),
    }
    Ok(())
}

/// `ZMSCORE key member [member ...]`: a score or nil for each member.
pub fn zmscore(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let members = args.rest();
    let zset = zset_at(ctx, key)?;
    reply.array(members.len());
    for member in members {
        match zset.and_then(|z| z.score(member)) {
            Some(score) => reply.double(score),
            None => reply.null(),
        }
    }
    Ok(())
}

/// ZRANK and ZREVRANK with Redis 7.2's WITHSCORE: the rank (and score), nil (a nil array with
/// WITHSCORE) when the member or key is missing.
fn zrank_generic(
    ctx: &mut Ctx<'_, '_>,
    args: &mut Args<'_>,
    reply: &mut Reply,
    reverse: bool,
    name: &str,
) -> CommandResult {
    let key = args.next_bytes()?;
    let member = args.next_bytes()?;
    let withscore = match args.remaining() {
        0 => false,
        1 if args.eat("withscore") => true,
        1 => return Err(CommandError::Syntax),
        _ => return Err(CommandError::WrongArity(name.to_string())),
    };
    let found = zset_at(ctx, key)?.and_then(|zset| {
        let rank = zset.rank(member)?;
        let rank = if reverse { zset.len() - 1 - rank } else { rank };
        Some((rank, zset.score(member)?))
    });
    match found {
        Some((rank, score)) if withscore => {
            reply.array(2);
            reply.count(rank);
            reply.double(score);
        }
        Some((rank, _)) => reply.count(rank),
        None if withscore => reply.null_array(),
        None => reply.null(),
    }
    Ok(())
}

/// `ZRANK key member [WITHSCORE]`: the 0-based rank in ascending order.
pub fn zrank(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    zrank_generic(ctx, args, reply, false, "zrank")
}

/// `ZREVRANK key member [WITHSCORE]`: the 0-based rank in descending order.
pub fn zrevrank(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    zrank_generic(ctx, args, reply, true, "zrevrank")
}

// ---------------------------------------------------------------------------------------------
// Counting and ranges
// ---------------------------------------------------------------------------------------------

/// `ZCOUNT key min max`: how many scores lie in the range. O(log n).
pub fn zcount(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let range = parse_score_range(args.next_bytes()?, args.next_bytes()?)?;
    let count = zset_at(ctx, key)?.map_or(0, |z| z.count_in_score_range(&range));
    reply.count(count);
    Ok(())
}

/// `ZLEXCOUNT key min max`: how many members lie in the range. O(log n) in the large form.
pub fn zlexcount(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let range = parse_lex_range(args.next_bytes()?, args.next_bytes()?)?;
    let count = zset_at(ctx, key)?.map_or(0, |z| z.count_in_lex_range(&range));
    reply.count(count);
    Ok(())
}

/// How a ZRANGE-family command reads its range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeKind {
    /// Not fixed by the command: ZRANGE and ZRANGESTORE take BYSCORE/BYLEX, else ranks.
    Auto,
    /// By 0-based rank, negative counting from the end.
    Rank,
    /// By score (BYSCORE).
    Score,
    /// By member bytes (BYLEX).
    Lex,
}

/// The order a ZRANGE-family command replies in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// Not fixed by the command: ZRANGE and ZRANGESTORE take REV.
    Auto,
    /// Lowest first.
    Forward,
    /// Highest first (REV).
    Reverse,
}

/// A parsed range.
#[derive(Debug)]
enum Range {
    /// Start and stop ranks as given.
    Rank(i64, i64),
    /// A score interval.
    Score(ScoreRange),
    /// A lexicographic interval.
    Lex(LexRange),
}

/// Whether an element `(member, score)` is still inside a range, on the side a walk leaves it.
type InRange<'r> = Box<dyn Fn(&[u8], f64) -> bool + 'r>;

/// The elements a ZRANGE-family range selects, in reply order (O(log n + m)): by rank; or from
/// the first (last, in reverse) element in range, skipping `offset`, while in range and up to
/// `limit` (negative: no limit), as Redis walks them. A negative offset selects nothing, as
/// Redis's skipping loop runs off the end.
fn select<'z>(
    zset: &'z ZSetValue,
    range: &Range,
    reverse: bool,
    offset: i64,
    limit: i64,
) -> Vec<(&'z [u8], f64)> {
    let len = zset.len();
    if let Range::Rank(start, end) = *range {
        let Some((start, end)) = clamp_ranks(start, end, len) else {
            return Vec::new();
        };
        let from = if reverse { len - 1 - start } else { start };
        return zset
            .iter_from(from, reverse)
            .take(end - start + 1)
            .collect();
    }
    let Ok(offset) = usize::try_from(offset) else {
        return Vec::new();
    };
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let (edge, inside): (Option<usize>, InRange<'_>) = match range {
        Range::Score(r) if reverse => {
            (zset.last_in_score_range(r), Box::new(|_, s| r.above_min(s)))
        }
        Range::Score(r) => (
            zset.first_in_score_range(r),
            Box::new(|_, s| r.below_max(s)),
        ),
        Range::Lex(r) if reverse => (zset.last_in_lex_range(r), Box::new(|m, _| r.above_min(m))),
        Range::Lex(r) => (zset.first_in_lex_range(r), Box::new(|m, _| r.below_max(m))),
        Range::Rank(..) => (None, Box::new(|_, _| false)),
    };
    let Some(edge) = edge else {
        return Vec::new();
    };
    let from = if reverse {
        edge.checked_sub(offset)
    } else {
        edge.checked_add(offset).filter(|&f| f < len)
    };
    let Some(from) = from else {
        return Vec::new();
    };
    zset.iter_from(from, reverse)
        .take_while(|&(m, s)| inside(m, s))
        .take(limit)
        .collect()
}

/// The ZRANGE family (Redis's `zrangeGenericCommand`): ZRANGE, ZRANGESTORE, ZREVRANGE and the
/// BYSCORE/BYLEX forms. Options are read first, then the range, then the key.
fn zrange_generic(
    ctx: &mut Ctx<'_, '_>,
    args: &mut Args<'_>,
    reply: &mut Reply,
    with_store: bool,
    mut kind: RangeKind,
    mut direction: Direction,
) -> CommandResult {
    let destination = if with_store {
        Some(args.next_bytes()?)
    } else {
        None
    };
    let key = args.next_bytes()?;
    let mut min = args.next_bytes()?;
    let mut max = args.next_bytes()?;
    let mut withscores = false;
    let (mut offset, mut limit) = (0i64, -1i64);
    while let Some(option) = args.peek() {
        args.next_bytes()?;
        let is = |word: &str| option.eq_ignore_ascii_case(word.as_bytes());
        if !with_store && is("withscores") {
            withscores = true;
        } else if is("limit") && args.remaining() >= 2 {
            offset = args.next_i64()?;
            limit = args.next_i64()?;
        } else if direction == Direction::Auto && is("rev") {
            direction = Direction::Reverse;
        } else if kind == RangeKind::Auto && is("bylex") {
            kind = RangeKind::Lex;
        } else if kind == RangeKind::Auto && is("byscore") {
            kind = RangeKind::Score;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let reverse = direction == Direction::Reverse;
    if kind == RangeKind::Auto {
        kind = RangeKind::Rank;
    }
    // Redis tests the limit against its "no limit" value, so `LIMIT 0 -1` passes with ranks.
    if limit != -1 && kind == RangeKind::Rank {
        return Err(CommandError::msg(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && kind == RangeKind::Lex {
        return Err(CommandError::msg(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    // Reversed score and lex ranges are written high end first.
    if reverse && kind != RangeKind::Rank {
        std::mem::swap(&mut min, &mut max);
    }
    let range = match kind {
        RangeKind::Score => Range::Score(parse_score_range(min, max)?),
        RangeKind::Lex => Range::Lex(parse_lex_range(min, max)?),
        RangeKind::Auto | RangeKind::Rank => Range::Rank(parse_i64(min)?, parse_i64(max)?),
    };
    let selected = match zset_at(ctx, key)? {
        Some(zset) => select(zset, &range, reverse, offset, limit),
        None => Vec::new(),
    };
    let Some(destination) = destination else {
        write_elements(reply, &selected, withscores);
        return Ok(());
    };
    let mut items = owned(&selected);
    if reverse {
        items.reverse();
    }
    let stored = store(ctx, destination, items, "zrangestore")?;
    reply.count(stored);
    Ok(())
}

/// `ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]`
pub fn zrange(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    zrange_generic(ctx, args, reply, false, RangeKind::Auto, Direction::Auto)
}

/// `ZRANGESTORE dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]`: stores the
/// range (scores included) and replies its size.
pub fn zrangestore(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    zrange_generic(ctx, args, reply, true, RangeKind::Auto, Direction::Auto)
}

/// `ZREVRANGE key start stop [WITHSCORES]`
pub fn zrevrange(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    zrange_generic(ctx, args, reply, false, RangeKind::Rank, Direction::Reverse)
}

/// `ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]`
pub fn zrangebyscore(
    ctx: &mut Ctx<'_, '_>,
    args: &mut Args<'_>,
    reply: &mut Reply,
) -> CommandResult {
    zrange_generic(
        ctx,
        args,
        reply,
        false,
        RangeKind::Score,
        Direction::Forward,
    )
}

/// `ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]`
pub fn zrevrangebyscore(
    ctx: &mut Ctx<'_, '_>,
    args: &mut Args<'_>,
    reply: &mut Reply,
) -> CommandResult {
    zrange_generic(
        ctx,
        args,
        reply,
        false,
        RangeKind::Score,
        Direction::Reverse,
    )
}

/// `ZRANGEBYLEX key min max [LIMIT offset count]`
pub fn zrangebylex(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    zrange_generic(ctx, args, reply, false, RangeKind::Lex, Direction::Forward)
}

/// `ZREVRANGEBYLEX key max min [LIMIT offset count]`
pub fn zrevrangebylex(
    ctx: &mut Ctx<'_, '_>,
    args: &mut Args<'_>,
    reply: &mut Reply,
) -> CommandResult {
    zrange_generic(ctx, args, reply, false, RangeKind::Lex, Direction::Reverse)
}

/// ZREMRANGEBYRANK, ZREMRANGEBYSCORE and ZREMRANGEBYLEX: the range is parsed before the key
/// is looked at; removal is O(log n + m).
fn zremrange_generic(
    ctx: &mut Ctx<'_, '_>,
    args: &mut Args<'_>,
    reply: &mut Reply,
    kind: RangeKind,
) -> CommandResult {
    let key = args.next_bytes()?;
    let (min, max) = (args.next_bytes()?, args.next_bytes()?);
    let range = match kind {
        RangeKind::Score => Range::Score(parse_score_range(min, max)?),
        RangeKind::Lex => Range::Lex(parse_lex_range(min, max)?),
        RangeKind::Auto | RangeKind::Rank => Range::Rank(parse_i64(min)?, parse_i64(max)?),
    };
    let Some(zset) = zset_mut(ctx, key)? else {
        reply.integer(0);
        return Ok(());
    };
    let ranks = match &range {
        Range::Rank(start, end) => clamp_ranks(*start, *end, zset.len()),
        Range::Score(r) => zset
            .first_in_score_range(r)
            .zip(zset.last_in_score_range(r)),
        // From the first member in range while below the upper end, as Redis deletes.
        Range::Lex(r) => zset.first_in_lex_range(r).map(|first| {
            let run = zset
                .iter_from(first, false)
                .take_while(|(m, _)| r.below_max(m))
                .count();
            (first, first + run.saturating_sub(1))
        }),
    };
    let removed = ranks.map_or(0, |(start, end)| zset.remove_ranks(start, end));
    let empty = zset.is_empty();
    delete_if_empty(ctx, key, empty)?;
    if removed > 0 {
        let event = match kind {
            RangeKind::Score => "zremrangebyscore",
            RangeKind::Lex => "zremrangebylex",
            RangeKind::Auto | RangeKind::Rank => "zremrangebyrank",
        };
        removed_events(ctx, key, event, empty);
    }
    reply.count(removed);
    Ok(())
}

/// `ZREMRANGEBYRANK key start stop`: how many were removed.
pub fn zremrangebyrank(
    ctx: &mut Ctx<'_, '_>,
    args: &mut Args<'_>,
    reply: &mut Reply,
) -> CommandResult {
    zremrange_generic(ctx, args, reply, RangeKind::Rank)
}

/// `ZREMRANGEBYSCORE key min max`: how many were removed.
pub fn zremrangebyscore(
    ctx: &mut Ctx<'_, '_>,
    args: &mut Args<'_>,
    reply: &mut Reply,
) -> CommandResult {
    zremrange_generic(ctx, args, reply, RangeKind::Score)
}

/// `ZREMRANGEBYLEX key min max`: how many were removed.
pub fn zremrangebylex(
    ctx: &mut Ctx<'_, '_>,
    args: &mut Args<'_>,
    reply: &mut Reply,
) -> CommandResult {
    zremrange_generic(ctx, args, reply, RangeKind::Lex)
}

// ---------------------------------------------------------------------------------------------
// Pops
// ---------------------------------------------------------------------------------------------

/// Which end a pop takes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// The lowest scores (ZPOPMIN, `MIN`).
    Min,
    /// The highest scores (ZPOPMAX, `MAX`).
    Max,
}

/// How popped elements are laid out, as Redis's `genericZpopCommand` writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PopReply {
    /// `[member, score, ...]`: ZPOPMIN/ZPOPMAX without a count, or in RESP2.
    Flat,
    /// `[[member, score], ...]`: ZPOPMIN/ZPOPMAX with a count, in RESP3.
    Nested,
    /// `[key, member, score]`: BZPOPMIN/BZPOPMAX.
    KeyFlat,
    /// `[key, [[member, score], ...]]`: ZMPOP and BZMPOP, in both protocols.
    KeyNested,
}

/// Pops up to `count` (at least 1) elements from `side` of the sorted set at `key` and writes
/// them as `shape` says, deleting the key when it empties; returns how many were popped. A
/// missing key pops nothing and writes nothing (`None`: the caller replies or blocks); another
/// type is `WRONGTYPE`, with nothing written.
///
/// For the blocking commands (BZPOPMIN, BZPOPMAX, BZMPOP) as much as for ZPOPMIN, ZPOPMAX and
/// ZMPOP: O(log n + count).
pub(crate) fn pop(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    side: Side,
    count: usize,
    shape: PopReply,
    reply: &mut Reply,
) -> Result<Option<usize>, CommandError> {
    let Some(zset) = zset_mut(ctx, key)? else {
        return Ok(None);
    };
    let len = zset.len();
    let n = count.min(len);
    match shape {
        PopReply::Flat => reply.array(n * 2),
        PopReply::Nested => reply.array(n),
        PopReply::KeyFlat => {
            reply.array(n * 2 + 1);
            reply.bulk(key);
        }
        PopReply::KeyNested => {
            reply.array(2);
            reply.bulk(key);
            reply.array(n);
        }
    }
    let nested = matches!(shape, PopReply::Nested | PopReply::KeyNested);
    let elements = match side {
        Side::Min => zset.iter_from(0, false),
        Side::Max => zset.iter_from(len.saturating_sub(1), true),
    };
    for (member, score) in elements.take(n) {
        if nested {
            reply.array(2);
        }
        reply.bulk(member);
        reply.double(score);
    }
    if n > 0 {
        match side {
            Side::Min => zset.remove_ranks(0, n - 1),
            Side::Max => zset.remove_ranks(len - n, len - 1),
        };
    }
    let empty = zset.is_empty();
    if n > 0 {
        // Redis signals the pop before it deletes the emptied key.
        let event = match side {
            Side::Min => "zpopmin",
            Side::Max => "zpopmax",
        };
        ctx.modified(EventClass::ZSET, event, key);
    }
    delete_if_empty(ctx, key, empty)?;
    if empty {
        ctx.notify(EventClass::GENERIC, "del", key);
    }
    Ok(Some(n))
}

/// ZPOPMIN and ZPOPMAX: one element as a flat pair, or with a count up to that many (nested
/// pairs in RESP3); an empty array for a missing key or a count of 0.
fn zpop_command(
    ctx: &mut Ctx<'_, '_>,
    args: &mut Args<'_>,
    reply: &mut Reply,
    side: Side,
) -> CommandResult {
    let key = args.next_bytes()?;
    if args.remaining() > 1 {
        return Err(CommandError::Syntax);
    }
    let count = match args.peek() {
        None => None,
        Some(arg) => match parse_i64(arg) {
            Ok(n) if n >= 0 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            _ => {
                return Err(CommandError::msg(
                    "ERR value is out of range, must be positive",
                ))
            }
        },
    };
    if count == Some(0) {
        // The type is still checked, as Redis looks the key up first.
        zset_mut(ctx, key)?;
        reply.array(0);
        return Ok(());
    }
    let shape = if count.is_some() && reply.protocol == Protocol::Resp3 {
        PopReply::Nested
    } else {
        PopReply::Flat
    };
    if pop(ctx, key, side, count.unwrap_or(1), shape, reply)?.is_none() {
        reply.array(0);
    }
    Ok(())
}

/// `ZPOPMIN key [count]`: removes and returns the lowest-scored elements.
pub fn zpopmin(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    zpop_command(ctx, args, reply, Side::Min)
}

/// `ZPOPMAX key [count]`: removes and returns the highest-scored elements.
pub fn zpopmax(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    zpop_command(ctx, args, reply, Side::Max)
}

/// `ZMPOP numkeys key [key ...] <MIN | MAX> [COUNT count]`: pops from the first non-empty set,
/// replying `[key, [[member, score], ...]]`, or a nil array when every key is missing.
pub fn zmpop(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let (keys, side, count) = crate::args::parse_mpop(args, parse_side)?;
    for key in keys {
        // A missing key is skipped; another type stops the search with WRONGTYPE.
        if pop(ctx, key, side, count, PopReply::KeyNested, reply)?.is_some() {
            return Ok(());
        }
    }
    reply.null_array();
    Ok(())
}

/// `MIN` or `MAX`, in any case.
fn parse_side(arg: &[u8]) -> Result<Side, CommandError> {
    if arg.eq_ignore_ascii_case(b"min") {
        Ok(Side::Min)
    } else if arg.eq_ignore_ascii_case(b"max") {
        Ok(Side::Max)
    } else {
        Err(CommandError::Syntax)
    }
}

/// Pops from the sorted set at `key` for a blocking command, replying with the key: one
/// element as `[key, member, score]` (BZPOPMIN, BZPOPMAX), or up to `count` as
/// `[key, [[member, score], ...]]` (BZMPOP). False, with no reply, when there is no sorted set;
/// WRONGTYPE for another type. Also what a client blocked on `key` runs once it is filled.
pub(crate) fn serve_pop(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    end: End,
    count: Option<usize>,
    reply: &mut Reply,
) -> Result<bool, CommandError> {
    let side = match end {
        End::Left => Side::Min,
        End::Right => Side::Max,
    };
    let (count, shape) = match count {
        None => (1, PopReply::KeyFlat),
        Some(count) => (count, PopReply::KeyNested),
    };
    Ok(pop(ctx, key, side, count, shape, reply)?.is_some())
}

/// `BZPOPMIN key [key ...] timeout`
pub fn bzpopmin(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    blocking_zpop(ctx, args, reply, End::Left)
}

/// `BZPOPMAX key [key ...] timeout`
pub fn bzpopmax(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    blocking_zpop(ctx, args, reply, End::Right)
}

/// BZPOPMIN and BZPOPMAX: the timeout first, then the keys in order.
fn blocking_zpop(
    ctx: &mut Ctx<'_, '_>,
    args: &mut Args<'_>,
    reply: &mut Reply,
    end: End,
) -> CommandResult {
    let (timeout, keys) = args.rest().split_last().ok_or(CommandError::Syntax)?;
    let deadline = parse_timeout(timeout, ctx.now)?;
    zpop_or_block(ctx, keys, end, None, deadline, reply)
}

/// `BZMPOP timeout numkeys key [key ...] <MIN | MAX> [COUNT count]`: numkeys, side and count
/// are checked before the timeout, as in Redis.
pub fn bzmpop(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let timeout = args.next_bytes()?;
    let (keys, side, count) = crate::args::parse_mpop(args, parse_side)?;
    let deadline = parse_timeout(timeout, ctx.now)?;
    let end = match side {
        Side::Min => End::Left,
        Side::Max => End::Right,
    };
    zpop_or_block(ctx, keys, end, Some(count), deadline, reply)
}

/// Pops from the first of `keys` holding a sorted set, else blocks on all of them (or, for a
/// client that may not block, answers a nil array as a timeout would).
fn zpop_or_block(
    ctx: &mut Ctx<'_, '_>,
    keys: &[&[u8]],
    end: End,
    count: Option<usize>,
    deadline: Option<u64>,
    reply: &mut Reply,
) -> CommandResult {
    for key in keys {
        if serve_pop(ctx, key, end, count, reply)? {
            return Ok(());
        }
    }
    if !ctx.block_on(keys, Operation::ZSetPop { end, count }, deadline) {
        reply.null_array();
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// ZUNION, ZINTER, ZDIFF, their STORE forms, ZINTERCARD
// ---------------------------------------------------------------------------------------------

/// The operations ZUNION, ZINTER and ZDIFF compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOp {
    /// Members of any input.
    Union,
    /// Members of every input.
    Inter,
    /// Members of the first input in no other.
    Diff,
}

/// How scores of a member found in several inputs combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    /// The weighted scores added up (the default).
    Sum,
    /// The least weighted score.
    Min,
    /// The greatest weighted score.
    Max,
}

impl Aggregate {
    /// Folds `value` into `target` as Redis's `zunionInterAggregate` does: a sum of `inf` and
    /// `-inf` is 0, and a NaN value never wins MIN or MAX.
    fn fold(self, target: &mut f64, value: f64) {
        match self {
            Aggregate::Sum => {
                *target += value;
                if target.is_nan() {
                    *target = 0.0;
                }
            }
            Aggregate::Min => {
                if value < *target {
                    *target = value;
                }
            }
            Aggregate::Max => {
                if value > *target {
                    *target = value;
                }
            }
        }
    }
}

/// An input of the set operations: a sorted set, a plain set (each member scoring 1, as in
/// Redis), or a missing key (empty).
#[derive(Debug, Clone, Copy)]
enum Source<'a> {
    /// A missing key: no members.
    Missing,
    /// A sorted set.
    ZSet(&'a ZSetValue),
    /// A set, each member scoring 1.
    Set(&'a SetValue),
}

impl<'a> Source<'a> {
    /// The input at `key`, read as Redis's `lookupKeyRead` (counting a hit or a miss).
    fn at(ctx: &'a Ctx<'_, '_>, key: &[u8]) -> Result<Source<'a>, CommandError> {
        Ok(match ctx.lookup(key)? {
            None => Source::Missing,
            Some(Entry {
                value: Value::ZSet(zset),
                ..
            }) => Source::ZSet(zset),
            Some(Entry {
                value: Value::Set(set),
                ..
            }) => Source::Set(set),
            Some(_) => return Err(CommandError::WrongType),
        })
    }

    /// How many members the input has.
    fn len(&self) -> usize {
        match self {
            Source::Missing => 0,
            Source::ZSet(zset) => zset.len(),
            Source::Set(set) => set.len(),
        }
    }

    /// The score of `member` in this input.
    fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            Source::Missing => None,
            Source::ZSet(zset) => zset.score(member),
            Source::Set(set) => set.contains(member).then_some(1.0),
        }
    }

    /// Every element with its score. A set's members come as [`Member`]s: an intset holds
    /// integers, spelled out as they are walked.
    fn elements(&self) -> Box<dyn Iterator<Item = (Member<'a>, f64)> + 'a> {
        match *self {
            Source::Missing => Box::new(std::iter::empty()),
            Source::ZSet(zset) => Box::new(zset.iter().map(|(m, s)| (Member::Bytes(m), s))),
            Source::Set(set) => Box::new(set.iter().map(|m| (m, 1.0))),
        }
    }
}

/// The options of the set operations, after the keys.
#[derive(Debug)]
struct CombineOptions {
    /// One weight per input (WEIGHTS), 1 by default.
    weights: Vec<f64>,
    /// How the scores of a member found in several inputs combine (AGGREGATE).
    aggregate: Aggregate,
    /// Whether the reply carries scores (WITHSCORES).
    withscores: bool,
    /// ZINTERCARD's LIMIT; 0 is no limit.
    limit: usize,
}

/// The elements of `op` over `inputs` (each with its weight), ascending, as Redis's
/// `zunionInterDiffGenericCommand` computes them: a union or intersection visits its inputs
/// from the smallest to the largest (a stable sort by size, as glibc's qsort is for these), so
/// sums add in Redis's order and round the same way. `count_only` stops an intersection at
/// `limit` (when not 0) and returns the count with no elements.
fn combine<'a>(
    mut inputs: Vec<(Source<'a>, f64)>,
    op: SetOp,
    aggregate: Aggregate,
    count_only: Option<usize>,
) -> (usize, Vec<(Member<'a>, f64)>) {
    if op != SetOp::Diff {
        inputs.sort_by_key(|(source, _)| source.len());
    }
    let mut out: Vec<(Member<'a>, f64)> = Vec::new();
    let mut count = 0;
    match op {
        SetOp::Inter => {
            let Some(((first, first_weight), others)) = inputs.split_first() else {
                return (0, out);
            };
            for (member, score) in first.elements() {
                let mut score = first_weight * score;
                if score.is_nan() {
                    score = 0.0;
                }
                let everywhere = others.iter().all(|(source, weight)| {
                    source.score(&member).is_some_and(|value| {
                        aggregate.fold(&mut score, value * weight);
                        true
                    })
                });
                if !everywhere {
                    continue;
                }
                count += 1;
                match count_only {
                    Some(limit) if limit > 0 && count >= limit => break,
                    Some(_) => {}
                    None => out.push((member, score)),
                }
            }
        }
        SetOp::Union => {
            let mut scores: HashMap<Member<'a>, f64> = HashMap::new();
            for (source, weight) in &inputs {
                for (member, score) in source.elements() {
                    let mut score = weight * score;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    scores
                        .entry(member)
                        .and_modify(|total| aggregate.fold(total, score))
                        .or_insert(score);
                }
            }
            out = scores.into_iter().collect();
        }
        SetOp::Diff => {
            if let Some(((first, _), others)) = inputs.split_first() {
                out = first
                    .elements()
                    .filter(|(member, _)| others.iter().all(|(o, _)| o.score(member).is_none()))
                    .collect();
            }
        }
    }
    out.sort_by(|a, b| cmp_elements(a.1, &a.0, b.1, &b.0));
    if count_only.is_none() {
        count = out.len();
    }
    (count, out)
}

/// ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD. `name` is the command's, for the
/// numkeys error. Every input's type is checked before the options are read, as in Redis.
fn combine_command(
    ctx: &mut Ctx<'_, '_>,
    args: &mut Args<'_>,
    reply: &mut Reply,
    op: SetOp,
    with_store: bool,
    count_only: bool,
    name: &str,
) -> CommandResult {
    let destination = if with_store {
        Some(args.next_bytes()?)
    } else {
        None
    };
    let numkeys = parse_i64(args.next_bytes()?)?;
    if numkeys < 1 {
        return Err(CommandError::Other(
            format!("ERR at least 1 input key is needed for '{name}' command").into(),
        ));
    }
    let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
    let rest = args.rest();
    let keys = rest.get(..numkeys).ok_or(CommandError::Syntax)?;
    let sources = keys
        .iter()
        .map(|key| Source::at(ctx, key))
        .collect::<Result<Vec<_>, _>>()?;
    let options = parse_combine_options(
        &rest[numkeys..],
        numkeys,
        op,
        destination.is_some(),
        count_only,
    )?;
    let inputs: Vec<(Source<'_>, f64)> = sources.into_iter().zip(options.weights).collect();
    let (count, members) = combine(
        inputs,
        op,
        options.aggregate,
        count_only.then_some(options.limit),
    );
    let elements: Vec<(&[u8], f64)> = members.iter().map(|(m, s)| (&**m, *s)).collect();
    if count_only {
        reply.count(count);
        return Ok(());
    }
    let Some(destination) = destination else {
        write_elements(reply, &elements, options.withscores);
        return Ok(());
    };
    let items = owned(&elements);
    let stored = store(ctx, destination, items, name)?;
    reply.count(stored);
    Ok(())
}

/// The options after the keys: WEIGHTS and AGGREGATE (not for ZDIFF or ZINTERCARD),
/// WITHSCORES (not for a STORE form or ZINTERCARD), LIMIT (only ZINTERCARD).
fn parse_combine_options(
    words: &[&[u8]],
    numkeys: usize,
    op: SetOp,
    with_store: bool,
    count_only: bool,
) -> Result<CombineOptions, CommandError> {
    let mut options = CombineOptions {
        weights: vec![1.0; numkeys],
        aggregate: Aggregate::Sum,
        withscores: false,
        limit: 0,
    };
    let weighted = op != SetOp::Diff && !count_only;
    let mut words = Args::new(words);
    while let Some(option) = words.peek() {
        let remaining = words.remaining();
        words.next_bytes()?;
        let is = |word: &str| option.eq_ignore_ascii_case(word.as_bytes());
        if weighted && remaining > numkeys && is("weights") {
            for weight in options.weights.iter_mut() {
                *weight = parse_f64_opt(words.next_bytes()?)
                    .ok_or(CommandError::msg("ERR weight value is not a float"))?;
            }
        } else if weighted && remaining >= 2 && is("aggregate") {
            let how = words.next_bytes()?;
            options.aggregate = if how.eq_ignore_ascii_case(b"sum") {
                Aggregate::Sum
            } else if how.eq_ignore_ascii_case(b"min") {
                Aggregate::Min
            } else if how.eq_ignore_ascii_case(b"max") {
                Aggregate::Max
            } else {
                return Err(CommandError::Syntax);
            };
        } else if !with_store && !count_only && is("withscores") {
            options.withscores = true;
        } else if count_only && remaining >= 2 && is("limit") {
            options.limit = match parse_i64(words.next_bytes()?) {
                Ok(n) if n >= 0 => usize::try_from(n).unwrap_or(usize::MAX),
                _ => return Err(CommandError::msg("ERR LIMIT can't be negative")),
            };
        } else {
            return Err(CommandError::Syntax);
        }
    }
    Ok(options)
}

/// `ZUNION numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]`
pub fn zunion(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    combine_command(ctx, args, reply, SetOp::Union, false, false, "zunion")
}

/// `ZINTER numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]`
pub fn zinter(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    combine_command(ctx, args, reply, SetOp::Inter, false, false, "zinter")
}

/// `ZDIFF numkeys key [key ...] [WITHSCORES]`
pub fn zdiff(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    combine_command(ctx, args, reply, SetOp::Diff, false, false, "zdiff")
}

/// `ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...]`
pub fn zunionstore(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    combine_command(ctx, args, reply, SetOp::Union, true, false, "zunionstore")
}

/// `ZINTERSTORE destination numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...]`
pub fn zinterstore(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    combine_command(ctx, args, reply, SetOp::Inter, true, false, "zinterstore")
}

/// `ZDIFFSTORE destination numkeys key [key ...]`
pub fn zdiffstore(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    combine_command(ctx, args, reply, SetOp::Diff, true, false, "zdiffstore")
}

/// `ZINTERCARD numkeys key [key ...] [LIMIT limit]`: the size of the intersection, counting
/// stopped at `limit` when it is not 0.
pub fn zintercard(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    combine_command(ctx, args, reply, SetOp::Inter, false, true, "zintercard")
}

// ---------------------------------------------------------------------------------------------
// ZRANDMEMBER, ZSCAN
// ---------------------------------------------------------------------------------------------

/// `ZRANDMEMBER key [count [WITHSCORES]]`: a random member (nil if missing), or with a count an
/// array: a positive count gives distinct elements, at most the whole set (then in descending
/// order, the order Redis walks it in); a negative one gives exactly `-count`, possibly
/// repeated. Each pick is O(log n).
pub fn zrandmember(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let Some(count_arg) = args.peek() else {
        match zset_at(ctx, key)? {
            None => reply.null(),
            Some(zset) => {
                let pick = crate::random::Rng::new().below(zset.len().max(1));
                let (member, _) = zset
                    .get(pick)
                    .ok_or(CommandError::Internal("sorted set shorter than its length"))?;
                reply.bulk(member);
            }
        }
        return Ok(());
    };
    args.next_bytes()?;
    let (count, withscores) = crate::random::pick_count(count_arg, args, Some("withscores"))?;
    let Some(zset) = zset_at(ctx, key)? else {
        reply.array(0);
        return Ok(());
    };
    let wanted = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
    let len = zset.len();
    if wanted == 0 || len == 0 {
        reply.array(0);
        return Ok(());
    }
    let mut rng = crate::random::Rng::new();
    let write = |reply: &mut Reply, rank: usize| {
        if let Some((member, score)) = zset.get(rank) {
            write_element(reply, member, score, withscores);
        }
    };
    if count < 0 || wanted == 1 {
        // Independent draws; nothing is allocated in proportion to the count.
        elements_header(reply, wanted, withscores);
        for _ in 0..wanted {
            write(reply, rng.below(len));
        }
        return Ok(());
    }
    if wanted >= len {
        elements_header(reply, len, withscores);
        for (member, score) in zset.iter_from(len - 1, true) {
            write_element(reply, member, score, withscores);
        }
        return Ok(());
    }
    let ranks = if wanted * 3 > len {
        rng.distinct((0..len).collect(), wanted)
    } else {
        // Few picks from many: draw until enough distinct ranks came up.
        let mut seen = std::collections::HashSet::with_capacity(wanted);
        let mut ranks = Vec::with_capacity(wanted);
        while ranks.len() < wanted {
            let rank = rng.below(len);
            if seen.insert(rank) {
                ranks.push(rank);
            }
        }
        ranks
    };
    elements_header(reply, ranks.len(), withscores);
    for rank in ranks {
        write(reply, rank);
    }
    Ok(())
}

/// A score as Redis's listpack holds it, which is what ZSCAN of a small set returns: an
/// integral score within ±2^62 as an integer (`double2ll`), anything else as `%.17g`.
fn listpack_score_text(score: f64) -> Vec<u8> {
    const LIMIT: f64 = 4_611_686_018_427_387_904.0;
    if score.fract() == 0.0 && (-LIMIT..=LIMIT).contains(&score) {
        // In range and integral, so the conversion is exact.
        itoa::Buffer::new().format(score as i64).as_bytes().to_vec()
    } else {
        score_text(score)
    }
}

/// A score as `%.17g`, `inf` or `-inf` (Redis's `d2string` for what ZSCAN returns of a large
/// set).
fn score_text(score: f64) -> Vec<u8> {
    let mut text = [0u8; 32];
    let len = kv_resp::encode::format_double(score, &mut text);
    text[..len].to_vec()
}

/// `ZSCAN key cursor [MATCH pattern] [COUNT count]`: the next cursor and a batch of members
/// with their scores (as bulk strings in both protocols).
///
/// A small set comes back whole with cursor 0, in order, whatever the cursor and COUNT, as
/// Redis answers for a listpack. A large one is walked bucket by bucket of its member index,
/// COUNT members a call (see `scan::collection_step`): every member present for the whole
/// iteration is returned at least once.
pub fn zscan(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let cursor = crate::keys::parse_cursor(args.next_bytes()?)?;
    // Redis looks the key up before it reads the options: a missing key answers an empty
    // scan even with bad options.
    let Some(zset) = zset_at(ctx, key)? else {
        crate::scan::empty_scan(reply);
        return Ok(());
    };
    let options = crate::scan::ScanOptions::parse(args)?;
    let small = zset.is_small();
    let (next, batch) = match zset.scan_step(cursor, options.count) {
        Some(step) => step,
        None => (0, zset.iter().collect::<Vec<_>>()),
    };
    let batch: Vec<(&[u8], f64)> = batch
        .into_iter()
        .filter(|(m, _)| options.keeps(m))
        .collect();
    reply.array(2);
    reply.bulk(itoa::Buffer::new().format(next).as_bytes());
    reply.array(batch.len() * 2);
    for (member, score) in batch {
        reply.bulk(member);
        let text = if small {
            listpack_score_text(score)
        } else {
            score_text(score)
        };
        reply.bulk(&text);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Registration
// ---------------------------------------------------------------------------------------------

/// ZRANGESTORE's keys: the destination is written over, the source only read.
const RANGESTORE_KEYS: &[KeySpec] = &[
    KeySpec {
        notes: None,
        flags: &["OW", "update"],
        begin_search: BeginSearch::Index(1),
        find_keys: FindKeys::Range {
            lastkey: 0,
            keystep: 1,
            limit: 0,
        },
    },
    KeySpec {
        notes: None,
        flags: &["RO", "access"],
        begin_search: BeginSearch::Index(2),
        find_keys: FindKeys::Range {
            lastkey: 0,
            keystep: 1,
            limit: 0,
        },
    },
];

/// The keys of ZUNIONSTORE, ZINTERSTORE and ZDIFFSTORE: the destination, written over, then
/// `numkeys` sources, only read.
const STORE_KEYS: &[KeySpec] = &[
    KeySpec {
        notes: None,
        flags: &["OW", "update"],
        begin_search: BeginSearch::Index(1),
        find_keys: FindKeys::Range {
            lastkey: 0,
            keystep: 1,
            limit: 0,
        },
    },
    KeySpec {
        notes: None,
        flags: &["RO", "access"],
        begin_search: BeginSearch::Index(2),
        find_keys: FindKeys::Keynum {
            keynumidx: 0,
            firstkey: 1,
            keystep: 1,
        },
    },
];

/// Registration block: the sorted-set commands' rows of the command table.
pub(crate) static COMMANDS: &[CommandSpec] = &[
    command!("zadd", -4, [WRITE, DENYOOM, FAST], (1, 1, 1), SortedSet, engine!(zadd), "1.2.0",
        "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
        "Adds members with scores to a sorted set, or updates their scores, creating it if needed.",
        "key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]"),
    command!("zcard", 2, [READONLY, FAST], (1, 1, 1), SortedSet, engine!(zcard), "1.2.0",
        "O(1)", "Returns the number of members in a sorted set.", "key", key_flags: &["RO"]),
    command!("zcount", 4, [READONLY, FAST], (1, 1, 1), SortedSet, engine!(zcount), "2.0.0",
        "O(log(N)) with N being the number of elements in the sorted set.",
        "Counts the members of a sorted set whose scores lie in a range.", "key min max"),
    command!("zdiff", -3, [READONLY, MOVABLEKEYS], (0, 0, 0), SortedSet, engine!(zdiff), "6.2.0",
        "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.",
        "Returns the members of the first sorted set that are in none of the others.",
        "numkeys key [key ...] [WITHSCORES]", key_count_at: Some(1)),
    command!("zdiffstore", -4, [WRITE, DENYOOM, MOVABLEKEYS], (1, 1, 1), SortedSet,
        engine!(zdiffstore), "6.2.0",
        "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.",
        "Stores the difference of sorted sets in a key, deleting it when the difference is empty.",
        "destination numkeys key [key ...]", key_count_at: Some(2), key_specs: STORE_KEYS),
    command!("zincrby", 4, [WRITE, DENYOOM, FAST], (1, 1, 1), SortedSet, engine!(zincrby), "1.2.0",
        "O(log(N)) where N is the number of elements in the sorted set.",
        "Adds to the score of a sorted-set member, creating the member or the set if needed.",
        "key increment member", key_flags: &["RW", "access", "update"]),
    command!("zinter", -3, [READONLY, MOVABLEKEYS], (0, 0, 0), SortedSet, engine!(zinter), "6.2.0",
        "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.",
        "Returns the members common to several sorted sets, with combined scores.",
        "numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE <SUM | MIN | MAX>] [WITHSCORES]",
        key_count_at: Some(1)),
    command!("zintercard", -3, [READONLY, MOVABLEKEYS], (0, 0, 0), SortedSet, engine!(zintercard),
        "7.0.0",
        "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.",
        "Returns the number of members common to several sorted sets, optionally stopping at a limit.",
        "numkeys key [key ...] [LIMIT limit]", key_count_at: Some(1)),
    command!("zinterstore", -4, [WRITE, DENYOOM, MOVABLEKEYS], (1, 1, 1), SortedSet,
        engine!(zinterstore), "2.0.0",
        "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.",
        "Stores the intersection of sorted sets in a key, deleting it when the intersection is empty.",
        "destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE <SUM | MIN | MAX>]",
        key_count_at: Some(2), key_specs: STORE_KEYS),
    command!("zlexcount", 4, [READONLY, FAST], (1, 1, 1), SortedSet, engine!(zlexcount), "2.8.9",
        "O(log(N)) with N being the number of elements in the sorted set.",
        "Counts the members of a sorted set within a lexicographic range.", "key min max"),
    command!("bzmpop", -5, [WRITE, BLOCKING, MOVABLEKEYS], (0, 0, 0), SortedSet, engine!(bzmpop), "7.0.0",
        "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.",
        "Pops the lowest- or highest-scored members from the first non-empty sorted set of several, waiting for one to be filled if all are empty.",
        "timeout numkeys key [key ...] <MIN | MAX> [COUNT count]", key_count_at: Some(2),
        key_flags: &["RW", "access", "delete"]),
    command!("bzpopmax", -3, [WRITE, NOSCRIPT, BLOCKING, FAST], (1, -2, 1), SortedSet, engine!(bzpopmax), "5.0.0",
        "O(log(N)) with N being the number of elements in the sorted set.",
        "Removes and returns the highest-scored member of the first non-empty sorted set, waiting for one if all are empty.",
        "key [key ...] timeout", key_flags: &["RW", "access", "delete"]),
    command!("bzpopmin", -3, [WRITE, NOSCRIPT, BLOCKING, FAST], (1, -2, 1), SortedSet, engine!(bzpopmin), "5.0.0",
        "O(log(N)) with N being the number of elements in the sorted set.",
        "Removes and returns the lowest-scored member of the first non-empty sorted set, waiting for one if all are empty.",
        "key [key ...] timeout", key_flags: &["RW", "access", "delete"]),
    command!("zmpop", -4, [WRITE, MOVABLEKEYS], (0, 0, 0), SortedSet, engine!(zmpop), "7.0.0",
        "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.",
        "Pops the lowest- or highest-scored members from the first non-empty sorted set of several.",
        "numkeys key [key ...] <MIN | MAX> [COUNT count]", key_count_at: Some(1),
        key_flags: &["RW", "access", "delete"]),
    command!("zmscore", -3, [READONLY, FAST], (1, 1, 1), SortedSet, engine!(zmscore), "6.2.0",
        "O(N) where N is the number of members being requested.",
        "Returns the scores of several sorted-set members.", "key member [member ...]"),
    command!("zpopmax", -2, [WRITE, FAST], (1, 1, 1), SortedSet, engine!(zpopmax), "5.0.0",
        "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.",
        "Removes and returns the highest-scored members of a sorted set, deleting it when emptied.",
        "key [count]", key_flags: &["RW", "access", "delete"]),
    command!("zpopmin", -2, [WRITE, FAST], (1, 1, 1), SortedSet, engine!(zpopmin), "5.0.0",
        "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.",
        "Removes and returns the lowest-scored members of a sorted set, deleting it when emptied.",
        "key [count]", key_flags: &["RW", "access", "delete"]),
    command!("zrandmember", -2, [READONLY], (1, 1, 1), SortedSet, engine!(zrandmember), "6.2.0",
        "O(N) where N is the number of elements returned",
        "Returns random members of a sorted set, optionally with their scores.",
        "key [count [WITHSCORES]]", tips: &["nondeterministic_output"]),
    command!("zrange", -4, [READONLY], (1, 1, 1), SortedSet, engine!(zrange), "1.2.0",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.",
        "Returns a range of a sorted set's members, by rank, score or lexicographic order.",
        "key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]"),
    command!("zrangebylex", -4, [READONLY], (1, 1, 1), SortedSet, engine!(zrangebylex), "2.8.9",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
        "Returns the members of a sorted set within a lexicographic range.",
        "key min max [LIMIT offset count]"),
    command!("zrangebyscore", -4, [READONLY], (1, 1, 1), SortedSet, engine!(zrangebyscore), "1.0.5",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
        "Returns the members of a sorted set whose scores lie in a range.",
        "key min max [WITHSCORES] [LIMIT offset count]"),
    command!("zrangestore", -5, [WRITE, DENYOOM], (1, 2, 1), SortedSet, engine!(zrangestore), "6.2.0",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.",
        "Stores a range of a sorted set in another key, deleting it when the range is empty.",
        "dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]", key_specs: RANGESTORE_KEYS),
    command!("zrank", -3, [READONLY, FAST], (1, 1, 1), SortedSet, engine!(zrank), "2.0.0",
        "O(log(N))", "Returns the rank of a sorted-set member, lowest score first.",
        "key member [WITHSCORE]"),
    command!("zrem", -3, [WRITE, FAST], (1, 1, 1), SortedSet, engine!(zrem), "1.2.0",
        "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.",
        "Removes members from a sorted set, deleting it with its last member.",
        "key member [member ...]", key_flags: &["RW", "delete"]),
    command!("zremrangebylex", 4, [WRITE], (1, 1, 1), SortedSet, engine!(zremrangebylex), "2.8.9",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
        "Removes the members of a sorted set within a lexicographic range.", "key min max",
        key_flags: &["RW", "delete"]),
    command!("zremrangebyrank", 4, [WRITE], (1, 1, 1), SortedSet, engine!(zremrangebyrank), "2.0.0",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
        "Removes the members of a sorted set within a range of ranks.", "key start stop",
        key_flags: &["RW", "delete"]),
    command!("zremrangebyscore", 4, [WRITE], (1, 1, 1), SortedSet, engine!(zremrangebyscore), "1.2.0",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
        "Removes the members of a sorted set whose scores lie in a range.", "key min max",
        key_flags: &["RW", "delete"]),
    command!("zrevrange", -4, [READONLY], (1, 1, 1), SortedSet, engine!(zrevrange), "1.2.0",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.",
        "Returns a range of a sorted set's members by rank, highest score first.",
        "key start stop [WITHSCORES]"),
    command!("zrevrangebylex", -4, [READONLY], (1, 1, 1), SortedSet, engine!(zrevrangebylex), "2.8.9",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
        "Returns the members of a sorted set within a lexicographic range, highest first.",
        "key max min [LIMIT offset count]"),
    command!("zrevrangebyscore", -4, [READONLY], (1, 1, 1), SortedSet, engine!(zrevrangebyscore),
        "2.2.0",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
        "Returns the members of a sorted set whose scores lie in a range, highest first.",
        "key max min [WITHSCORES] [LIMIT offset count]"),
    command!("zrevrank", -3, [READONLY, FAST], (1, 1, 1), SortedSet, engine!(zrevrank), "2.0.0",
        "O(log(N))", "Returns the rank of a sorted-set member, highest score first.",
        "key member [WITHSCORE]"),
    command!("zscan", -3, [READONLY], (1, 1, 1), SortedSet, engine!(zscan), "2.8.0",
        "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..",
        "Iterates over the members of a sorted set and their scores.",
        "key cursor [MATCH pattern] [COUNT count]", tips: &["nondeterministic_output"]),
    command!("zscore", 3, [READONLY, FAST], (1, 1, 1), SortedSet, engine!(zscore), "1.2.0",
        "O(1)", "Returns the score of a sorted-set member.", "key member"),
    command!("zunion", -3, [READONLY, MOVABLEKEYS], (0, 0, 0), SortedSet, engine!(zunion), "6.2.0",
        "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.",
        "Returns the members of any of several sorted sets, with combined scores.",
        "numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE <SUM | MIN | MAX>] [WITHSCORES]",
        key_count_at: Some(1)),
    command!("zunionstore", -4, [WRITE, DENYOOM, MOVABLEKEYS], (1, 1, 1), SortedSet,
        engine!(zunionstore), "2.0.0",
        "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.",
        "Stores the union of sorted sets in a key, deleting it when the union is empty.",
        "destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE <SUM | MIN | MAX>]",
        key_count_at: Some(2), key_specs: STORE_KEYS),
];

#[cfg(test)]
mod tests {
    use kv_resp::Frame;

    use super::{pop, PopReply, Side, COMMANDS};
    use crate::keys::tests::{bulk, bulks, err, int, Client};
    use crate::{Engine, Protocol, Session};

    const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
    const NOT_FLOAT: &str = "ERR value is not a valid float";
    const RANGE_NOT_FLOAT: &str = "ERR min or max is not a float";
    const BAD_LEX: &str = "ERR min or max not valid string range item";

    fn arr(items: Vec<Frame>) -> Frame {
        Frame::Array(items)
    }

    /// A RESP3 `[member, score]` pair.
    fn pair(member: &str, score: f64) -> Frame {
        arr(vec![bulk(member), Frame::Double(score)])
    }

    /// A client with `z` = a:1 b:2 c:3 d:4 e:5.
    fn with_abcde() -> Client {
        let mut c = Client::new();
        c.cmd("ZADD z 1 a 2 b 3 c 4 d 5 e");
        c
    }

    #[test]
    fn zadd_adds_updates_and_counts() {
        let mut c = Client::new();
        assert_eq!(c.cmd("ZADD z 1 a"), int(1));
        assert_eq!(c.cmd("ZADD z 2 b 3 c"), int(2));
        assert_eq!(c.cmd("ZADD z 10 a 4 d"), int(1), "updates are not counted");
        assert_eq!(c.cmd("ZADD z 1 a 1 a 2 a"), int(0), "the last pair wins");
        assert_eq!(c.cmd("ZSCORE z a"), bulk("2"));
        assert_eq!(c.cmd("ZCARD z"), int(4));
        assert_eq!(c.cmd("TYPE z"), Frame::simple("zset"));
        assert_eq!(c.cmd("OBJECT ENCODING z"), bulk("listpack"));
        for (line, error) in [
            ("ZADD z NX 1", "ERR syntax error"),
            ("ZADD z 1 a 2", "ERR syntax error"),
            ("ZADD z NX CH", "ERR syntax error"),
            ("ZADD z nan a", NOT_FLOAT),
            ("ZADD z 1 a x b", NOT_FLOAT),
            ("ZADD z 1 a NX 2 b", "ERR syntax error"),
            ("ZADD z", "ERR wrong number of arguments for 'zadd' command"),
        ] {
            assert_eq!(c.cmd(line), err(error), "{line}");
        }
        assert_eq!(
            c.cmd("ZSCORE z b"),
            bulk("2"),
            "a failed ZADD changes nothing"
        );
    }

    #[test]
    fn zadd_options() {
        let mut c = Client::new();
        assert_eq!(c.cmd("ZADD z NX 1 a 2 b"), int(2));
        assert_eq!(c.cmd("ZADD z NX 10 a 3 c"), int(1));
        assert_eq!(c.cmd("ZSCORE z a"), bulk("1"));
        assert_eq!(c.cmd("ZADD z XX 10 a 20 new"), int(0));
        assert_eq!(c.cmd("ZSCORE z a"), bulk("10"));
        assert_eq!(c.cmd("ZSCORE z new"), Frame::NullBulk);
        assert_eq!(
            c.cmd("ZADD z CH 10 a 5 b 6 d"),
            int(2),
            "b changed, d added"
        );
        assert_eq!(
            c.cmd("ZADD z GT CH 1 a 20 b 9 e"),
            int(2),
            "b raised, e added"
        );
        assert_eq!(c.cmd("ZADD z LT CH 100 a 1 b"), int(1));
        assert_eq!(c.cmd("ZSCORE z a"), bulk("10"));
        assert_eq!(c.cmd("ZSCORE z b"), bulk("1"));
        assert_eq!(c.cmd("ZADD z INCR 5 a"), bulk("15"));
        assert_eq!(c.cmd("ZADD z INCR -5.5 a"), bulk("9.5"));
        assert_eq!(c.cmd("ZADD z NX INCR 1 a"), Frame::NullBulk);
        assert_eq!(c.cmd("ZADD z XX INCR 1 nothere"), Frame::NullBulk);
        assert_eq!(c.cmd("ZADD z GT INCR -1 a"), Frame::NullBulk);
        assert_eq!(c.cmd("ZADD z LT INCR -1 a"), bulk("8.5"));
        assert_eq!(
            c.cmd("ZADD z GT INCR 1 brand"),
            bulk("1"),
            "GT/LT only refuse updates"
        );
        assert_eq!(
            c.cmd("ZADD z INCR 0 a"),
            bulk("8.5"),
            "an unchanged score is a result"
        );
        for (line, error) in [
            (
                "ZADD z NX XX 1 a",
                "ERR XX and NX options at the same time are not compatible",
            ),
            (
                "ZADD z nx xx x a",
                "ERR XX and NX options at the same time are not compatible",
            ),
            (
                "ZADD z GT LT 1 a",
                "ERR GT, LT, and/or NX options at the same time are not compatible",
            ),
            (
                "ZADD z GT NX 1 a",
                "ERR GT, LT, and/or NX options at the same time are not compatible",
            ),
            (
                "ZADD z LT NX 1 a",
                "ERR GT, LT, and/or NX options at the same time are not compatible",
            ),
            (
                "ZADD z INCR 1 a 2 b",
                "ERR INCR option supports a single increment-element pair",
            ),
            ("ZADD z INCR NX XX 1 a 2", "ERR syntax error"),
        ] {
            assert_eq!(c.cmd(line), err(error), "{line}");
        }
        // XX on a missing key creates nothing, whatever else is asked.
        assert_eq!(c.cmd("ZADD nokey XX 1 a"), int(0));
        assert_eq!(c.cmd("ZADD nokey XX CH 1 a"), int(0));
        assert_eq!(c.cmd("ZADD nokey XX INCR 1 a"), Frame::NullBulk);
        assert_eq!(c.cmd("EXISTS nokey"), int(0));
        // INCR reaching NaN (inf - inf) is an error and changes nothing.
        c.cmd("ZADD inf 1 m");
        assert_eq!(c.cmd("ZADD inf INCR inf m"), bulk("inf"));
        assert_eq!(
            c.cmd("ZADD inf INCR -inf m"),
            err("ERR resulting score is not a number (NaN)")
        );
        assert_eq!(c.cmd("ZSCORE inf m"), bulk("inf"));
    }

    #[test]
    fn zincrby_reads_zadd_options() {
        let mut c = Client::new();
        assert_eq!(c.cmd("ZINCRBY z 2 a"), bulk("2"));
        assert_eq!(c.cmd("ZINCRBY z 2.5 a"), bulk("4.5"));
        c.cmd("ZADD t 0.1 m");
        assert_eq!(c.cmd("ZINCRBY t 0.2 m"), bulk("0.30000000000000004"));
        // A word that is a ZADD option is one: "nx" here is not an increment.
        assert_eq!(c.cmd("ZINCRBY z nx a"), err("ERR syntax error"));
        assert_eq!(c.cmd("ZINCRBY z 5 nx"), bulk("5"));
        assert_eq!(c.cmd("ZINCRBY z xx nx"), err("ERR syntax error"));
        assert_eq!(c.cmd("ZINCRBY z x a"), err(NOT_FLOAT));
        assert_eq!(c.cmd("ZINCRBY z nan a"), err(NOT_FLOAT));
        assert_eq!(
            c.cmd("ZINCRBY z 1"),
            err("ERR wrong number of arguments for 'zincrby' command")
        );
        c.cmd("ZADD i inf m");
        assert_eq!(
            c.cmd("ZINCRBY i -inf m"),
            err("ERR resulting score is not a number (NaN)")
        );
        c.set_protocol(Protocol::Resp3);
        assert_eq!(c.cmd("ZINCRBY z 1 a"), Frame::Double(5.5));
        assert_eq!(c.cmd("ZADD z NX INCR 1 a"), Frame::Null);
    }

    #[test]
    fn scores_parse_as_string2d_and_print_as_17_digits() {
        let mut c = Client::new();
        for (score, shown) in [
            ("0x10", "16"),
            ("0X1P3", "8"),
            ("+inf", "inf"),
            ("-Infinity", "-inf"),
            ("5e-324", "4.9406564584124654e-324"),
            ("1.", "1"),
            (".5", "0.5"),
            ("0.1", "0.10000000000000001"),
            ("123456789012345678", "1.2345678901234568e+17"),
            ("1e20", "1e+20"),
            ("1e15", "1000000000000000"),
        ] {
            c.run(&[b"DEL", b"s"]);
            assert_eq!(
                c.run(&[b"ZADD", b"s", score.as_bytes(), b"m"]),
                int(1),
                "{score}"
            );
            assert_eq!(c.cmd("ZSCORE s m"), bulk(shown), "{score}");
        }
        for bad in [
            &b"1e400"[..],
            b"1e-400",
            b" 1",
            b"1 ",
            b"",
            b"nan",
            b"1e",
            b"0x",
            b"1\x00",
        ] {
            assert_eq!(
                c.run(&[b"ZADD", b"s", bad, b"m"]),
                err(NOT_FLOAT),
                "{bad:?}"
            );
        }
        // -0: the small form stores 0 (as Redis's listpack), the large form keeps -0.
        assert_eq!(c.cmd("ZADD small -0 m"), int(1));
        assert_eq!(c.cmd("ZSCORE small m"), bulk("0"));
        assert_eq!(
            c.cmd("ZINCRBY small2 -0 m"),
            bulk("-0"),
            "the reply is the sum itself"
        );
        assert_eq!(c.cmd("ZSCORE small2 m"), bulk("0"));
        c.engine
            .config
            .zset_max_listpack_entries
            .store(0, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(c.cmd("ZADD large -0 m"), int(1));
        assert_eq!(c.cmd("OBJECT ENCODING large"), bulk("skiplist"));
        assert_eq!(c.cmd("ZSCORE large m"), bulk("-0"));
    }

    #[test]
    fn score_ranges_parse_as_strtod() {
        let mut c = with_abcde();
        let count = |c: &mut Client, min: &[u8], max: &[u8]| c.run(&[b"ZCOUNT", b"z", min, max]);
        assert_eq!(count(&mut c, b"-inf", b"+inf"), int(5));
        assert_eq!(count(&mut c, b"(1", b"(5"), int(3));
        assert_eq!(count(&mut c, b"", b"1"), int(1), "empty reads as 0");
        assert_eq!(count(&mut c, b"(", b"1"), int(1));
        assert_eq!(
            count(&mut c, b" 2", b"3"),
            int(2),
            "leading space is skipped"
        );
        assert_eq!(count(&mut c, b"0x2", b"0x3"), int(2));
        assert_eq!(
            count(&mut c, b"1", b"1e400"),
            int(5),
            "overflow is inf here"
        );
        assert_eq!(
            count(&mut c, b"2\x00junk", b"3"),
            int(2),
            "a NUL ends the text"
        );
        assert_eq!(count(&mut c, b"(3", b"3"), int(0));
        assert_eq!(count(&mut c, b"3", b"1"), int(0));
        for (min, max) in [
            (&b"1 "[..], &b"2"[..]),
            (b"nan", b"2"),
            (b"(nan", b"2"),
            (b"((1", b"2"),
            (b"1", b"abc"),
        ] {
            assert_eq!(
                count(&mut c, min, max),
                err(RANGE_NOT_FLOAT),
                "{min:?} {max:?}"
            );
        }
        assert_eq!(c.cmd("ZCOUNT nokey 0 1"), int(0));
        assert_eq!(c.cmd("ZCOUNT nokey x 1"), err(RANGE_NOT_FLOAT));
    }

    #[test]
    fn single_member_reads() {
        let mut c = Client::new();
        c.cmd("ZADD z 1 a 2 b 3 c 3 d -1 e");
        assert_eq!(c.cmd("ZREM z a zz a"), int(1));
        assert_eq!(c.cmd("ZREM nokey a"), int(0));
        assert_eq!(c.cmd("ZCARD z"), int(4));
        assert_eq!(c.cmd("ZCARD nokey"), int(0));
        assert_eq!(c.cmd("ZSCORE z zz"), Frame::NullBulk);
        assert_eq!(c.cmd("ZSCORE nokey a"), Frame::NullBulk);
        assert_eq!(
            c.cmd("ZMSCORE z b zz c"),
            arr(vec![bulk("2"), Frame::NullBulk, bulk("3")])
        );
        assert_eq!(
            c.cmd("ZMSCORE nokey a b"),
            arr(vec![Frame::NullBulk, Frame::NullBulk])
        );
        assert_eq!(c.cmd("ZRANK z e"), int(0));
        assert_eq!(c.cmd("ZRANK z d"), int(3), "equal scores order by member");
        assert_eq!(c.cmd("ZREVRANK z d"), int(0));
        assert_eq!(c.cmd("ZRANK z zz"), Frame::NullBulk);
        assert_eq!(c.cmd("ZREVRANK nokey a"), Frame::NullBulk);
        // Redis 7.2's WITHSCORE.
        assert_eq!(c.cmd("ZRANK z c WITHSCORE"), arr(vec![int(2), bulk("3")]));
        assert_eq!(
            c.cmd("ZREVRANK z e withscore"),
            arr(vec![int(3), bulk("-1")])
        );
        assert_eq!(c.cmd("ZRANK z zz WITHSCORE"), Frame::NullArray);
        assert_eq!(c.cmd("ZRANK nokey a WITHSCORE"), Frame::NullArray);
        assert_eq!(c.cmd("ZRANK z c foo"), err("ERR syntax error"));
        assert_eq!(
            c.cmd("ZRANK z c WITHSCORE x"),
            err("ERR wrong number of arguments for 'zrank' command")
        );
        c.set_protocol(Protocol::Resp3);
        assert_eq!(c.cmd("ZSCORE z b"), Frame::Double(2.0));
        assert_eq!(c.cmd("ZSCORE z zz"), Frame::Null);
        assert_eq!(
            c.cmd("ZMSCORE z b zz"),
            arr(vec![Frame::Double(2.0), Frame::Null])
        );
        assert_eq!(
            c.cmd("ZRANK z c WITHSCORE"),
            arr(vec![int(2), Frame::Double(3.0)])
        );
        assert_eq!(c.cmd("ZRANK z zz WITHSCORE"), Frame::Null);
        assert_eq!(c.cmd("ZREM z b c d e"), int(4));
        assert_eq!(c.cmd("EXISTS z"), int(0), "the last member takes the key");
    }

    #[test]
    fn zrange_by_rank() {
        let mut c = with_abcde();
        assert_eq!(c.cmd("ZRANGE z 0 -1"), bulks(&["a", "b", "c", "d", "e"]));
        assert_eq!(c.cmd("ZRANGE z 1 3"), bulks(&["b", "c", "d"]));
        assert_eq!(c.cmd("ZRANGE z -2 -1"), bulks(&["d", "e"]));
        assert_eq!(
            c.cmd("ZRANGE z -100 100"),
            bulks(&["a", "b", "c", "d", "e"])
        );
        assert_eq!(c.cmd("ZRANGE z 3 1"), bulks(&[]));
        assert_eq!(c.cmd("ZRANGE z 5 10"), bulks(&[]));
        assert_eq!(c.cmd("ZRANGE z 0 -6"), bulks(&[]));
        assert_eq!(
            c.cmd("ZRANGE z -9223372036854775808 9223372036854775807"),
            bulks(&["a", "b", "c", "d", "e"])
        );
        assert_eq!(c.cmd("ZRANGE z 0 1 REV"), bulks(&["e", "d"]));
        assert_eq!(
            c.cmd("ZRANGE z 0 1 REV WITHSCORES"),
            bulks(&["e", "5", "d", "4"])
        );
        assert_eq!(c.cmd("ZREVRANGE z -2 -1"), bulks(&["b", "a"]));
        assert_eq!(
            c.cmd("ZRANGE z 0 1 LIMIT 0 -1"),
            bulks(&["a", "b"]),
            "no limit given"
        );
        assert_eq!(c.cmd("ZRANGE nokey 0 -1"), bulks(&[]));
        c.set_protocol(Protocol::Resp3);
        assert_eq!(
            c.cmd("ZRANGE z 0 1 WITHSCORES"),
            arr(vec![pair("a", 1.0), pair("b", 2.0)])
        );
        assert_eq!(
            c.cmd("ZREVRANGE z 0 0 WITHSCORES"),
            arr(vec![pair("e", 5.0)])
        );
        assert_eq!(c.cmd("ZRANGE z 0 1"), bulks(&["a", "b"]));
    }

    #[test]
    fn zrange_by_score_with_limits() {
        let mut c = Client::new();
        c.cmd("ZADD z -inf ninf 1 a 2 b 3 c 4 d 5 e 6 f inf pinf");
        assert_eq!(c.cmd("ZRANGE z (1 3 BYSCORE"), bulks(&["b", "c"]));
        assert_eq!(c.cmd("ZRANGE z -inf -inf BYSCORE"), bulks(&["ninf"]));
        assert_eq!(
            c.cmd("ZRANGE z (-inf (inf BYSCORE LIMIT 0 2"),
            bulks(&["a", "b"])
        );
        assert_eq!(c.cmd("ZRANGE z 3 1 BYSCORE REV"), bulks(&["c", "b", "a"]));
        assert_eq!(
            c.cmd("ZRANGE z 5 (2 BYSCORE REV LIMIT 1 2 WITHSCORES"),
            bulks(&["d", "4", "c", "3"])
        );
        assert_eq!(c.cmd("ZRANGEBYSCORE z 1 6 LIMIT 2 2"), bulks(&["c", "d"]));
        assert_eq!(c.cmd("ZRANGEBYSCORE z 1 6 LIMIT 5 10"), bulks(&["f"]));
        assert_eq!(c.cmd("ZRANGEBYSCORE z 1 6 LIMIT 6 10"), bulks(&[]));
        assert_eq!(c.cmd("ZRANGEBYSCORE z 1 6 LIMIT 0 0"), bulks(&[]));
        assert_eq!(
            c.cmd("ZRANGEBYSCORE z 1 6 LIMIT 3 -5"),
            bulks(&["d", "e", "f"]),
            "a negative count is no limit"
        );
        assert_eq!(
            c.cmd("ZRANGEBYSCORE z 1 6 LIMIT -1 2"),
            bulks(&[]),
            "a negative offset selects nothing"
        );
        assert_eq!(
            c.cmd("ZREVRANGEBYSCORE z 6 1 LIMIT 4 10"),
            bulks(&["b", "a"])
        );
        assert_eq!(c.cmd("ZREVRANGEBYSCORE z 6 1 LIMIT 6 10"), bulks(&[]));
        assert_eq!(
            c.cmd("ZRANGEBYSCORE z 1 2 WITHSCORES"),
            bulks(&["a", "1", "b", "2"])
        );
        assert_eq!(c.cmd("ZRANGEBYSCORE nokey 1 2"), bulks(&[]));
        c.set_protocol(Protocol::Resp3);
        assert_eq!(
            c.cmd("ZREVRANGEBYSCORE z +inf 6 WITHSCORES"),
            arr(vec![pair("pinf", f64::INFINITY), pair("f", 6.0)])
        );
    }

    #[test]
    fn zrange_by_lex() {
        let mut c = Client::new();
        c.cmd("ZADD l 0 a 0 b 0 bb 0 c 0 d 0 e");
        assert_eq!(
            c.cmd("ZRANGE l - + BYLEX"),
            bulks(&["a", "b", "bb", "c", "d", "e"])
        );
        assert_eq!(c.cmd("ZRANGE l [b [c BYLEX"), bulks(&["b", "bb", "c"]));
        assert_eq!(c.cmd("ZRANGE l (b (d BYLEX"), bulks(&["bb", "c"]));
        assert_eq!(c.cmd("ZRANGE l + - BYLEX"), bulks(&[]));
        assert_eq!(c.cmd("ZRANGE l [a [a BYLEX"), bulks(&["a"]));
        assert_eq!(c.cmd("ZRANGE l (a [a BYLEX"), bulks(&[]));
        assert_eq!(
            c.cmd("ZRANGE l [d [b BYLEX REV"),
            bulks(&["d", "c", "bb", "b"])
        );
        assert_eq!(c.cmd("ZRANGE l - + BYLEX LIMIT 1 2"), bulks(&["b", "bb"]));
        assert_eq!(c.cmd("ZRANGEBYLEX l [c +"), bulks(&["c", "d", "e"]));
        assert_eq!(c.cmd("ZREVRANGEBYLEX l + (c LIMIT 0 1"), bulks(&["e"]));
        assert_eq!(
            c.run(&[b"ZRANGE", b"l", b"[", b"(b", b"BYLEX"]),
            bulks(&["a"])
        );
        assert_eq!(
            c.run(&[b"ZRANGE", b"l", b"-\x00", b"[a", b"BYLEX"]),
            bulks(&["a"])
        );
        assert_eq!(c.cmd("ZLEXCOUNT l [b [d"), int(4));
        assert_eq!(c.cmd("ZLEXCOUNT l (b (d"), int(2));
        assert_eq!(c.cmd("ZLEXCOUNT nokey - +"), int(0));
        for line in [
            "ZRANGE l a + BYLEX",
            "ZRANGE l - b BYLEX",
            "ZRANGE l -a + BYLEX",
            "ZRANGE l +b + BYLEX",
            "ZRANGEBYLEX l x y",
            "ZLEXCOUNT l a +",
            "ZLEXCOUNT nokey a +",
            "ZREMRANGEBYLEX l x +",
        ] {
            assert_eq!(c.cmd(line), err(BAD_LEX), "{line}");
        }
        assert_eq!(c.run(&[b"ZRANGEBYLEX", b"l", b"", b"+"]), err(BAD_LEX));
    }

    #[test]
    fn zrange_option_errors() {
        let mut c = with_abcde();
        c.cmd("SET str v");
        for (line, error) in [
            ("ZRANGE z 0 -1 LIMIT 0 1", "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"),
            ("ZREVRANGE z 0 1 LIMIT 0 1", "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"),
            ("ZRANGE z - + BYLEX WITHSCORES", "ERR syntax error, WITHSCORES not supported in combination with BYLEX"),
            ("ZRANGEBYLEX z - + WITHSCORES", "ERR syntax error, WITHSCORES not supported in combination with BYLEX"),
            ("ZRANGE z 0 1 BYSCORE BYLEX", "ERR syntax error"),
            ("ZRANGE z 0 1 REV REV", "ERR syntax error"),
            ("ZRANGE z 0 1 foo", "ERR syntax error"),
            ("ZRANGE z 0 1 LIMIT", "ERR syntax error"),
            ("ZRANGE z 0 1 LIMIT 0", "ERR syntax error"),
            ("ZRANGEBYSCORE z 0 1 REV", "ERR syntax error"),
            ("ZRANGEBYSCORE z 0 1 BYSCORE", "ERR syntax error"),
            ("ZREVRANGE z 0 1 BYSCORE", "ERR syntax error"),
            ("ZRANGESTORE d z 0 -1 WITHSCORES", "ERR syntax error"),
            ("ZRANGE z x 1", "ERR value is not an integer or out of range"),
            ("ZRANGE z 0 1 BYSCORE LIMIT x 1", "ERR value is not an integer or out of range"),
            ("ZRANGE z x 1 BYSCORE", RANGE_NOT_FLOAT),
            ("ZRANGE z x 1 BYLEX", BAD_LEX),
            // The range is read before the key's type is looked at.
            ("ZRANGE str x 1", "ERR value is not an integer or out of range"),
            ("ZRANGE str 0 1", WRONGTYPE),
            ("ZRANGE z 0", "ERR wrong number of arguments for 'zrange' command"),
        ] {
            assert_eq!(c.cmd(line), err(error), "{line}");
        }
    }

    #[test]
    fn zrangestore_stores_and_deletes() {
        let mut c = Client::new();
        c.cmd("ZADD src 1 a 2 b 3 c 4 d");
        assert_eq!(c.cmd("ZRANGESTORE dst src 1 2 REV"), int(2));
        assert_eq!(
            c.cmd("ZRANGE dst 0 -1 WITHSCORES"),
            bulks(&["b", "2", "c", "3"])
        );
        assert_eq!(
            c.cmd("ZRANGESTORE dst src (1 +inf BYSCORE LIMIT 1 1"),
            int(1)
        );
        assert_eq!(c.cmd("ZRANGE dst 0 -1 WITHSCORES"), bulks(&["c", "3"]));
        c.cmd("ZADD lex 0 a 0 b 0 c");
        assert_eq!(c.cmd("ZRANGESTORE dst lex [b + BYLEX"), int(2));
        assert_eq!(
            c.cmd("ZRANGE dst 0 -1 WITHSCORES"),
            bulks(&["b", "0", "c", "0"])
        );
        c.cmd("SET str v");
        c.cmd("EXPIRE str 100");
        assert_eq!(c.cmd("ZRANGESTORE str src 0 0"), int(1));
        assert_eq!(c.cmd("TTL str"), int(-1), "a store replaces the TTL too");
        assert_eq!(c.cmd("TYPE str"), Frame::simple("zset"));
        assert_eq!(c.cmd("ZRANGESTORE dst src 10 20"), int(0));
        assert_eq!(
            c.cmd("EXISTS dst"),
            int(0),
            "an empty range deletes the destination"
        );
        c.cmd("ZADD dst 1 x");
        assert_eq!(c.cmd("ZRANGESTORE dst nokey 0 -1"), int(0));
        assert_eq!(c.cmd("EXISTS dst"), int(0));
        assert_eq!(
            c.cmd("ZRANGESTORE src src 1 2"),
            int(2),
            "reading its own destination"
        );
        assert_eq!(c.cmd("ZRANGE src 0 -1"), bulks(&["b", "c"]));
        c.cmd("SET s2 v");
        assert_eq!(c.cmd("ZRANGESTORE dst s2 0 -1"), err(WRONGTYPE));
    }

    #[test]
    fn zremrange_commands() {
        let mut c = Client::new();
        c.cmd("ZADD z 1 a 2 b 3 c 4 d 5 e 6 f");
        assert_eq!(c.cmd("ZREMRANGEBYRANK z 0 0"), int(1));
        assert_eq!(c.cmd("ZREMRANGEBYRANK z -1 -1"), int(1));
        assert_eq!(c.cmd("ZREMRANGEBYRANK z 10 20"), int(0));
        assert_eq!(c.cmd("ZREMRANGEBYSCORE z (2 3"), int(1));
        assert_eq!(c.cmd("ZRANGE z 0 -1"), bulks(&["b", "d", "e"]));
        assert_eq!(
            c.cmd("ZREMRANGEBYRANK z x 1"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(c.cmd("ZREMRANGEBYSCORE z x 1"), err(RANGE_NOT_FLOAT));
        assert_eq!(c.cmd("ZREMRANGEBYRANK z 0 -1"), int(3));
        assert_eq!(c.cmd("EXISTS z"), int(0));
        assert_eq!(c.cmd("ZREMRANGEBYRANK nokey 0 -1"), int(0));
        c.cmd("ZADD l 0 a 0 b 0 c 0 d 0 e");
        assert_eq!(c.cmd("ZREMRANGEBYLEX l [b (d"), int(2));
        assert_eq!(c.cmd("ZRANGE l 0 -1"), bulks(&["a", "d", "e"]));
        assert_eq!(c.cmd("ZREMRANGEBYLEX l - +"), int(3));
        assert_eq!(c.cmd("EXISTS l"), int(0));
        c.cmd("SET str v");
        assert_eq!(c.cmd("ZREMRANGEBYSCORE str 0 1"), err(WRONGTYPE));
        assert_eq!(c.cmd("ZREMRANGEBYSCORE str x 1"), err(RANGE_NOT_FLOAT));
    }

    #[test]
    fn zpop_replies_in_both_protocols() {
        let mut c = with_abcde();
        assert_eq!(c.cmd("ZPOPMIN z"), bulks(&["a", "1"]));
        assert_eq!(c.cmd("ZPOPMAX z"), bulks(&["e", "5"]));
        assert_eq!(c.cmd("ZPOPMIN z 2"), bulks(&["b", "2", "c", "3"]));
        assert_eq!(c.cmd("ZPOPMAX z 0"), bulks(&[]));
        assert_eq!(c.cmd("ZPOPMAX z 10"), bulks(&["d", "4"]));
        assert_eq!(c.cmd("EXISTS z"), int(0));
        assert_eq!(c.cmd("ZPOPMIN z"), bulks(&[]));
        let positive = "ERR value is out of range, must be positive";
        assert_eq!(c.cmd("ZPOPMIN z -1"), err(positive));
        assert_eq!(c.cmd("ZPOPMIN z x"), err(positive));
        assert_eq!(c.cmd("ZPOPMIN z 1 2"), err("ERR syntax error"));
        c.cmd("SET str v");
        assert_eq!(
            c.cmd("ZPOPMIN str 0"),
            err(WRONGTYPE),
            "the type is checked first"
        );
        c.cmd("ZADD z 1 a 2 b");
        c.set_protocol(Protocol::Resp3);
        assert_eq!(
            c.cmd("ZPOPMIN z"),
            arr(vec![bulk("a"), Frame::Double(1.0)]),
            "without a count: flat"
        );
        c.cmd("ZADD z 1 a");
        assert_eq!(
            c.cmd("ZPOPMAX z 5"),
            arr(vec![pair("b", 2.0), pair("a", 1.0)]),
            "with a count: pairs"
        );
        assert_eq!(c.cmd("ZPOPMIN nokey 1"), arr(vec![]));
    }

    #[test]
    fn zmpop_takes_the_first_non_empty_set() {
        let mut c = Client::new();
        c.cmd("ZADD z1 1 a 2 b 3 c");
        c.cmd("ZADD z2 10 x 20 y");
        assert_eq!(
            c.cmd("ZMPOP 2 nokey z1 MIN"),
            arr(vec![bulk("z1"), arr(vec![bulks(&["a", "1"])])])
        );
        assert_eq!(
            c.cmd("ZMPOP 2 z1 z2 max COUNT 5"),
            arr(vec![
                bulk("z1"),
                arr(vec![bulks(&["c", "3"]), bulks(&["b", "2"])])
            ])
        );
        assert_eq!(c.cmd("EXISTS z1"), int(0));
        assert_eq!(c.cmd("ZMPOP 1 nokey MIN"), Frame::NullArray);
        let numkeys = "ERR numkeys should be greater than 0";
        let count = "ERR count should be greater than 0";
        for (line, error) in [
            ("ZMPOP 0 z2 MIN", numkeys),
            ("ZMPOP x z2 MIN", numkeys),
            ("ZMPOP 1 z2 foo", "ERR syntax error"),
            ("ZMPOP 2 z2 MIN", "ERR syntax error"),
            ("ZMPOP 9223372036854775807 z2 MIN", "ERR syntax error"),
            ("ZMPOP 1 z2 MIN COUNT 0", count),
            ("ZMPOP 1 z2 MIN COUNT x", count),
            ("ZMPOP 1 z2 MIN COUNT", "ERR syntax error"),
            ("ZMPOP 1 z2 MIN COUNT 1 COUNT 1", "ERR syntax error"),
        ] {
            assert_eq!(c.cmd(line), err(error), "{line}");
        }
        c.cmd("SET str v");
        assert_eq!(c.cmd("ZMPOP 2 nokey str MIN"), err(WRONGTYPE));
        c.set_protocol(Protocol::Resp3);
        assert_eq!(
            c.cmd("ZMPOP 2 z2 str MIN"),
            arr(vec![bulk("z2"), arr(vec![pair("x", 10.0)])])
        );
        assert_eq!(c.cmd("ZMPOP 1 nokey MIN"), Frame::Null);
    }

    /// The pop the blocking commands build on: every reply shape, and the key going with its
    /// last member.
    #[test]
    fn pop_for_the_blocking_commands() {
        let engine = Engine::new(1, 4);
        let mut session = Session::default();
        let args = |words: &[&'static str]| -> Vec<&'static [u8]> {
            words.iter().map(|w| w.as_bytes()).collect()
        };
        let mut reply = crate::Reply::new(Protocol::Resp2);
        engine.execute(
            &mut session,
            &args(&["ZADD", "z", "1", "a", "2", "b"]),
            &mut reply,
        );
        let run = |side, count, shape, protocol| {
            let mut reply = crate::Reply::new(protocol);
            let plan = crate::LockPlan {
                write: true,
                shards: smallvec::smallvec![(0, engine.keyspace.shard_of(b"z"))],
            };
            let mut locked = engine.keyspace.lock(plan);
            let mut session = Session::default();
            let mut ctx = crate::Ctx {
                engine: &engine,
                locked: &mut locked,
                session: &mut session,
                now: crate::now_ms(),
                block: None,
                rewritten: false,
            };
            let popped = pop(&mut ctx, b"z", side, count, shape, &mut reply);
            (popped, reply.buf.to_vec())
        };
        assert_eq!(
            run(Side::Max, 1, PopReply::KeyFlat, Protocol::Resp3),
            (Ok(Some(1)), b"*3\r\n$1\r\nz\r\n$1\r\nb\r\n,2\r\n".to_vec())
        );
        assert_eq!(
            run(Side::Min, 5, PopReply::KeyNested, Protocol::Resp2),
            (
                Ok(Some(1)),
                b"*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n".to_vec()
            )
        );
        assert_eq!(
            run(Side::Min, 1, PopReply::Flat, Protocol::Resp2),
            (Ok(None), Vec::new()),
            "the emptied key went; a missing key writes nothing"
        );
    }

    #[test]
    fn union_inter_diff() {
        let mut c = Client::new();
        c.cmd("ZADD a 1 x 2 y 3 z");
        c.cmd("ZADD b 10 y 20 z 30 w");
        c.cmd("SADD set y w q");
        assert_eq!(
            c.cmd("ZUNION 2 a b WITHSCORES"),
            bulks(&["x", "1", "y", "12", "z", "23", "w", "30"])
        );
        assert_eq!(
            c.cmd("ZUNION 2 a b WEIGHTS 2 -1 WITHSCORES"),
            bulks(&["w", "-30", "z", "-14", "y", "-6", "x", "2"])
        );
        assert_eq!(
            c.cmd("ZUNION 2 a b AGGREGATE MIN WITHSCORES"),
            bulks(&["x", "1", "y", "2", "z", "3", "w", "30"])
        );
        assert_eq!(
            c.cmd("ZUNION 3 a nokey set WITHSCORES"),
            bulks(&["q", "1", "w", "1", "x", "1", "y", "3", "z", "3"]),
            "a plain set scores 1"
        );
        assert_eq!(c.cmd("ZINTER 2 a b"), bulks(&["y", "z"]));
        assert_eq!(
            c.cmd("ZINTER 2 a b AGGREGATE MAX WITHSCORES"),
            bulks(&["y", "10", "z", "20"])
        );
        assert_eq!(c.cmd("ZINTER 2 a nokey"), bulks(&[]));
        assert_eq!(c.cmd("ZINTER 3 a b set WITHSCORES"), bulks(&["y", "13"]));
        assert_eq!(c.cmd("ZDIFF 2 a b WITHSCORES"), bulks(&["x", "1"]));
        assert_eq!(c.cmd("ZDIFF 2 b set"), bulks(&["z"]));
        assert_eq!(c.cmd("ZDIFF 2 nokey a"), bulks(&[]));
        // inf - inf sums to 0; 0 × inf weighs 0.
        c.cmd("ZADD p inf m");
        c.cmd("ZADD n -inf m");
        assert_eq!(c.cmd("ZUNION 2 p n WITHSCORES"), bulks(&["m", "0"]));
        assert_eq!(
            c.cmd("ZUNION 2 p n WEIGHTS 0 1 WITHSCORES"),
            bulks(&["m", "-inf"])
        );
        c.set_protocol(Protocol::Resp3);
        assert_eq!(
            c.cmd("ZINTER 2 a b WITHSCORES"),
            arr(vec![pair("y", 12.0), pair("z", 23.0)])
        );
        assert_eq!(c.cmd("ZDIFF 2 a b"), bulks(&["x"]));
    }

    #[test]
    fn combine_errors() {
        let mut c = Client::new();
        c.cmd("ZADD a 1 x");
        c.cmd("SET str v");
        for (line, error) in [
            (
                "ZUNION 0 a",
                "ERR at least 1 input key is needed for 'zunion' command",
            ),
            (
                "ZINTER -1 a",
                "ERR at least 1 input key is needed for 'zinter' command",
            ),
            (
                "ZDIFFSTORE d 0 a",
                "ERR at least 1 input key is needed for 'zdiffstore' command",
            ),
            (
                "ZINTERCARD 0 a",
                "ERR at least 1 input key is needed for 'zintercard' command",
            ),
            ("ZUNION x a", "ERR value is not an integer or out of range"),
            ("ZUNION 3 a a", "ERR syntax error"),
            ("ZUNION 2 a a WEIGHTS 1", "ERR syntax error"),
            (
                "ZUNION 2 a a WEIGHTS 1 x",
                "ERR weight value is not a float",
            ),
            (
                "ZUNION 2 a a WEIGHTS 1 nan",
                "ERR weight value is not a float",
            ),
            ("ZUNION 1 a AGGREGATE avg", "ERR syntax error"),
            ("ZUNION 1 a AGGREGATE", "ERR syntax error"),
            ("ZUNIONSTORE d 1 a WITHSCORES", "ERR syntax error"),
            ("ZDIFF 1 a WEIGHTS 1", "ERR syntax error"),
            ("ZDIFF 1 a AGGREGATE SUM", "ERR syntax error"),
            ("ZINTERCARD 1 a LIMIT -1", "ERR LIMIT can't be negative"),
            ("ZINTERCARD 1 a LIMIT x", "ERR LIMIT can't be negative"),
            ("ZINTERCARD 1 a LIMIT", "ERR syntax error"),
            ("ZINTERCARD 1 a WITHSCORES", "ERR syntax error"),
            // Every input's type is checked before the options are read.
            ("ZUNION 2 str nokey WEIGHTS x y", WRONGTYPE),
            ("ZINTER 2 nokey str", WRONGTYPE),
            ("ZINTERCARD 2 a str", WRONGTYPE),
        ] {
            assert_eq!(c.cmd(line), err(error), "{line}");
        }
    }

    #[test]
    fn stores_and_intercard() {
        let mut c = Client::new();
        c.cmd("ZADD a 1 x 2 y 3 z");
        c.cmd("ZADD b 10 y 20 z 30 w");
        c.cmd("SET d str");
        c.cmd("EXPIRE d 100");
        assert_eq!(c.cmd("ZUNIONSTORE d 2 a b"), int(4));
        assert_eq!(c.cmd("TTL d"), int(-1));
        assert_eq!(
            c.cmd("ZINTERSTORE d 2 a b WEIGHTS 1 2 AGGREGATE MAX"),
            int(2)
        );
        assert_eq!(
            c.cmd("ZRANGE d 0 -1 WITHSCORES"),
            bulks(&["y", "20", "z", "40"])
        );
        assert_eq!(c.cmd("ZDIFFSTORE d 2 a b"), int(1));
        assert_eq!(
            c.cmd("ZUNIONSTORE d 2 d b"),
            int(4),
            "the old destination is an input"
        );
        assert_eq!(c.cmd("ZINTERSTORE d 2 a nokey"), int(0));
        assert_eq!(c.cmd("EXISTS d"), int(0));
        assert_eq!(c.cmd("ZINTERCARD 2 a b"), int(2));
        assert_eq!(c.cmd("ZINTERCARD 2 a b LIMIT 1"), int(1));
        assert_eq!(c.cmd("ZINTERCARD 2 a b LIMIT 0"), int(2));
        assert_eq!(c.cmd("ZINTERCARD 2 a nokey"), int(0));
    }

    /// Sums over three inputs add from the smallest input up, as Redis does, so that the
    /// rounding is the same.
    #[test]
    fn sums_add_smallest_input_first() {
        let mut c = Client::new();
        c.cmd("ZADD e1 1e16 m 1 p 2 q");
        c.cmd("ZADD e2 1 m");
        c.cmd("ZADD e3 1 m 1 p");
        // e2 + e3 first (2), then 1e16: 1e16 + 2 is exact, 1e16 + 1 + 1 is not.
        assert_eq!(c.cmd("ZSCORE e1 m"), bulk("10000000000000000"));
        let Frame::Array(items) = c.cmd("ZUNION 3 e1 e2 e3 WITHSCORES") else {
            panic!("an array")
        };
        assert_eq!(items.last(), Some(&bulk("10000000000000002")));
    }

    #[test]
    fn zrandmember_counts() {
        let mut c = Client::new();
        c.cmd("ZADD z 1 a 2 b 3 c");
        assert_eq!(
            c.cmd("ZRANDMEMBER z 3"),
            bulks(&["c", "b", "a"]),
            "whole set: descending"
        );
        assert_eq!(
            c.cmd("ZRANDMEMBER z 10 WITHSCORES"),
            bulks(&["c", "3", "b", "2", "a", "1"])
        );
        assert_eq!(c.cmd("ZRANDMEMBER z 0"), bulks(&[]));
        let Frame::Array(two) = c.cmd("ZRANDMEMBER z 2") else {
            panic!("an array")
        };
        assert_eq!(two.len(), 2);
        assert_ne!(two[0], two[1], "a positive count gives distinct members");
        let Frame::Array(many) = c.cmd("ZRANDMEMBER z -20 WITHSCORES") else {
            panic!("an array")
        };
        assert_eq!(many.len(), 40, "a negative count repeats");
        assert!(matches!(c.cmd("ZRANDMEMBER z"), Frame::Bulk(_)));
        assert_eq!(c.cmd("ZRANDMEMBER nokey"), Frame::NullBulk);
        assert_eq!(c.cmd("ZRANDMEMBER nokey 5"), bulks(&[]));
        for (line, error) in [
            ("ZRANDMEMBER z x", "ERR value is not an integer or out of range"),
            ("ZRANDMEMBER z x foo", "ERR value is not an integer or out of range"),
            ("ZRANDMEMBER z 1 foo", "ERR syntax error"),
            ("ZRANDMEMBER z 1 WITHSCORES foo", "ERR syntax error"),
            ("ZRANDMEMBER nokey 1 foo", "ERR syntax error"),
            ("ZRANDMEMBER z -9223372036854775808", "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"),
            ("ZRANDMEMBER z 9223372036854775807 WITHSCORES", "ERR value is out of range"),
            ("ZRANDMEMBER z -16777217", "ERR value is out of range"),
        ] {
            assert_eq!(c.cmd(line), err(error), "{line}");
        }
        assert_eq!(c.cmd("ZRANDMEMBER nokey -16777216"), bulks(&[]));
        c.set_protocol(Protocol::Resp3);
        assert_eq!(
            c.cmd("ZRANDMEMBER z 5 WITHSCORES"),
            arr(vec![pair("c", 3.0), pair("b", 2.0), pair("a", 1.0)])
        );
        // Distinct picks from a large set.
        for i in 0..1000 {
            c.cmd(&format!("ZADD big {i} m{i}"));
        }
        let Frame::Array(picked) = c.cmd("ZRANDMEMBER big 10") else {
            panic!("an array")
        };
        let distinct: std::collections::HashSet<String> =
            picked.iter().map(|f| format!("{f:?}")).collect();
        assert_eq!(distinct.len(), 10);
        let Frame::Array(picked) = c.cmd("ZRANDMEMBER big 900") else {
            panic!("an array")
        };
        let distinct: std::collections::HashSet<String> =
            picked.iter().map(|f| format!("{f:?}")).collect();
        assert_eq!(distinct.len(), 900);
    }

    /// Every member a complete ZSCAN iteration returns (members only), and how many calls it
    /// took.
    fn scan_all(c: &mut Client, key: &str, options: &str) -> (Vec<String>, usize) {
        let mut cursor = "0".to_string();
        let mut members = Vec::new();
        let mut calls = 0;
        loop {
            calls += 1;
            let Frame::Array(mut reply) = c.cmd(&format!("ZSCAN {key} {cursor} {options}")) else {
                panic!("an array")
            };
            let Some(Frame::Array(batch)) = reply.pop() else {
                panic!("a batch")
            };
            let Some(Frame::Bulk(next)) = reply.pop() else {
                panic!("a cursor")
            };
            for item in batch.chunks(2) {
                let Frame::Bulk(m) = &item[0] else {
                    panic!("a member")
                };
                members.push(String::from_utf8(m.to_vec()).expect("utf-8"));
            }
            cursor = String::from_utf8(next.to_vec()).expect("digits");
            if cursor == "0" {
                members.sort();
                return (members, calls);
            }
        }
    }

    #[test]
    fn zscan_small_and_large() {
        let mut c = Client::new();
        assert_eq!(
            c.cmd("ZSCAN nokey 0 COUNT 0"),
            arr(vec![bulk("0"), bulks(&[])])
        );
        c.cmd("ZADD z 4611686018427387904 a 9223372036854775807 b 0.1 c -inf d");
        // A small set comes back whole, in order, scores as a listpack holds them.
        assert_eq!(
            c.cmd("ZSCAN z 7 COUNT 1"),
            arr(vec![
                bulk("0"),
                bulks(&[
                    "d",
                    "-inf",
                    "c",
                    "0.10000000000000001",
                    "a",
                    "4611686018427387904",
                    "b",
                    "9.2233720368547758e+18"
                ])
            ])
        );
        assert_eq!(
            c.cmd("ZSCAN z 0 MATCH [ab]"),
            arr(vec![
                bulk("0"),
                bulks(&["a", "4611686018427387904", "b", "9.2233720368547758e+18"])
            ])
        );
        assert_eq!(c.cmd("ZSCAN z x"), err("ERR invalid cursor"));
        assert_eq!(c.cmd("ZSCAN z 0 COUNT 0"), err("ERR syntax error"));
        assert_eq!(c.cmd("ZSCAN z 0 MATCH"), err("ERR syntax error"));
        for i in 0..1000 {
            c.cmd(&format!("ZADD big {i} m{i}"));
        }
        assert_eq!(c.cmd("OBJECT ENCODING big"), bulk("skiplist"));
        let (members, calls) = scan_all(&mut c, "big", "COUNT 50");
        assert!(calls >= 20, "{calls} calls");
        assert_eq!(members.len(), 1000, "every member once from a stable set");
        assert_eq!(
            members
                .iter()
                .collect::<std::collections::HashSet<_>>()
                .len(),
            1000
        );
        assert_eq!(scan_all(&mut c, "big", "MATCH m99* COUNT 7").0.len(), 11);
        // A large set prints its scores as %.17g.
        c.cmd("ZADD big 4611686018427387904 huge");
        assert_eq!(
            c.cmd("ZSCAN big 0 MATCH huge COUNT 10000"),
            arr(vec![bulk("0"), bulks(&["huge", "4.6116860184273879e+18"])])
        );
    }

    #[test]
    fn encodings_follow_the_thresholds() {
        let mut c = Client::new();
        let long = "x".repeat(65);
        c.cmd(&format!("ZADD long 1 {long}"));
        assert_eq!(
            c.cmd("OBJECT ENCODING long"),
            bulk("skiplist"),
            "a long first member"
        );
        c.cmd(&format!("ZADD late 1 a 2 {long}"));
        assert_eq!(c.cmd("OBJECT ENCODING late"), bulk("skiplist"));
        c.cmd(&format!("ZREM late {long}"));
        assert_eq!(
            c.cmd("OBJECT ENCODING late"),
            bulk("skiplist"),
            "never back"
        );
        let mut line = "ZADD k".to_string();
        for i in 0..128 {
            line.push_str(&format!(" {i} m{i}"));
        }
        c.cmd(&line);
        assert_eq!(c.cmd("OBJECT ENCODING k"), bulk("listpack"));
        c.cmd("ZADD k 0 m0");
        assert_eq!(
            c.cmd("OBJECT ENCODING k"),
            bulk("listpack"),
            "an update adds nothing"
        );
        c.cmd("ZADD k 128 m128");
        assert_eq!(c.cmd("OBJECT ENCODING k"), bulk("skiplist"));
        // A stored result takes the form its content calls for; COPY keeps the form.
        assert_eq!(c.cmd("ZRANGESTORE small k 0 9"), int(10));
        assert_eq!(c.cmd("OBJECT ENCODING small"), bulk("listpack"));
        assert_eq!(c.cmd("ZUNIONSTORE big 1 k"), int(129));
        assert_eq!(c.cmd("OBJECT ENCODING big"), bulk("skiplist"));
        c.cmd("ZREMRANGEBYRANK k 0 -3");
        assert_eq!(c.cmd("COPY k k2"), int(1));
        assert_eq!(c.cmd("OBJECT ENCODING k2"), bulk("skiplist"));
        // The thresholds are live settings.
        let config = &c.engine.config;
        config
            .zset_max_listpack_entries
            .store(2, std::sync::atomic::Ordering::Relaxed);
        c.cmd("ZADD two 1 a 2 b");
        assert_eq!(c.cmd("OBJECT ENCODING two"), bulk("listpack"));
        c.cmd("ZADD two 3 c");
        assert_eq!(c.cmd("OBJECT ENCODING two"), bulk("skiplist"));
        c.engine
            .config
            .zset_max_listpack_value
            .store(1, std::sync::atomic::Ordering::Relaxed);
        c.cmd("ZADD v 1 ab");
        assert_eq!(c.cmd("OBJECT ENCODING v"), bulk("skiplist"));
    }

    #[test]
    fn dump_and_restore_sorted_sets() {
        let mut c = Client::new();
        c.cmd("ZADD z 1.5 a -inf b 0.1 c");
        let Frame::Bulk(payload) = c.cmd("DUMP z") else {
            panic!("a payload")
        };
        assert_eq!(payload[0], 3, "tag 3 is a sorted set");
        assert_eq!(
            c.run(&[b"RESTORE", b"t", b"0", &payload]),
            Frame::simple("OK")
        );
        assert_eq!(
            c.cmd("ZRANGE t 0 -1 WITHSCORES"),
            c.cmd("ZRANGE z 0 -1 WITHSCORES")
        );
        assert_eq!(c.cmd("OBJECT ENCODING t"), bulk("listpack"));
        // A large set round-trips too, and comes back small when it fits.
        c.engine
            .config
            .zset_max_listpack_entries
            .store(0, std::sync::atomic::Ordering::Relaxed);
        c.cmd("ZADD big -0 m 2 n");
        let Frame::Bulk(payload) = c.cmd("DUMP big") else {
            panic!("a payload")
        };
        assert_eq!(
            c.run(&[b"RESTORE", b"big2", b"0", &payload]),
            Frame::simple("OK")
        );
        assert_eq!(c.cmd("OBJECT ENCODING big2"), bulk("skiplist"));
        assert_eq!(c.cmd("ZSCORE big2 m"), bulk("-0"));
        c.engine
            .config
            .zset_max_listpack_entries
            .store(128, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(
            c.run(&[b"RESTORE", b"big3", b"0", &payload]),
            Frame::simple("OK")
        );
        assert_eq!(c.cmd("OBJECT ENCODING big3"), bulk("listpack"));
        // Forged payloads: a NaN score, a member twice, no member at all.
        let forge = |body: &[u8]| {
            let mut out = body.to_vec();
            out.extend_from_slice(&crate::dump::FORMAT_VERSION.to_le_bytes());
            let crc = crate::dump::crc64(0, &out);
            out.extend_from_slice(&crc.to_le_bytes());
            crate::dump::deserialize(&out)
        };
        let mut nan = vec![3u8, 1, 1, b'x'];
        nan.extend_from_slice(&f64::NAN.to_le_bytes());
        assert_eq!(forge(&nan), Err(crate::dump::PayloadError::BadFormat));
        let mut twice = vec![3u8, 2, 1, b'x'];
        twice.extend_from_slice(&1.0f64.to_le_bytes());
        twice.extend_from_slice(&[1, b'x']);
        twice.extend_from_slice(&2.0f64.to_le_bytes());
        assert_eq!(forge(&twice), Err(crate::dump::PayloadError::BadFormat));
        assert_eq!(forge(&[3u8, 0]), Err(crate::dump::PayloadError::BadFormat));
        assert_eq!(
            forge(&[3u8, 1, 1, b'x', 0, 0]),
            Err(crate::dump::PayloadError::BadFormat)
        );
    }

    #[test]
    fn wrong_types_both_ways() {
        let mut c = Client::new();
        c.cmd("SET str v");
        for line in [
            "ZADD str 1 a",
            "ZINCRBY str 1 a",
            "ZREM str a",
            "ZCARD str",
            "ZSCORE str a",
            "ZMSCORE str a",
            "ZRANK str a",
            "ZREVRANK str a",
            "ZCOUNT str 0 1",
            "ZLEXCOUNT str - +",
            "ZRANGE str 0 1",
            "ZRANGEBYSCORE str 0 1",
            "ZRANGEBYLEX str - +",
            "ZREVRANGE str 0 1",
            "ZREMRANGEBYRANK str 0 1",
            "ZREMRANGEBYSCORE str 0 1",
            "ZREMRANGEBYLEX str - +",
            "ZPOPMIN str",
            "ZPOPMAX str 1",
            "ZRANDMEMBER str",
            "ZRANDMEMBER str 1",
            "ZSCAN str 0",
            "ZUNION 1 str",
            "ZINTERCARD 1 str",
            "ZMPOP 1 str MIN",
        ] {
            assert_eq!(c.cmd(line), err(WRONGTYPE), "{line}");
        }
        c.cmd("ZADD z 1 a");
        for line in [
            "GET z",
            "LPUSH z x",
            "SADD z x",
            "HSET z f v",
            "INCR z",
            "SMEMBERS z",
        ] {
            assert_eq!(c.cmd(line), err(WRONGTYPE), "{line}");
        }
        assert_eq!(
            c.cmd("SCAN 0 TYPE zset"),
            arr(vec![bulk("0"), bulks(&["z"])])
        );
        assert_eq!(c.cmd("ZCARD z"), int(1));
    }

    #[test]
    fn key_positions_and_lock_plans() {
        let engine = Engine::new(1, 16);
        let args = |words: &[&'static str]| -> Vec<&'static [u8]> {
            words.iter().map(|w| w.as_bytes()).collect()
        };
        let keys = |words: &[&'static str]| {
            let args = args(words);
            let (spec, _) = engine.lookup(&args).expect("in the table");
            spec.keys_in(&args).to_vec()
        };
        // A destination before numkeys, then the counted keys.
        assert_eq!(keys(&["ZUNIONSTORE", "d", "2", "a", "b"]), vec![1, 3, 4]);
        assert_eq!(
            keys(&["ZINTERSTORE", "d", "1", "a", "WEIGHTS", "2"]),
            vec![1, 3]
        );
        assert_eq!(keys(&["ZDIFFSTORE", "d", "0", "a"]), Vec::<usize>::new());
        assert_eq!(keys(&["ZUNIONSTORE", "d", "5", "a"]), Vec::<usize>::new());
        assert_eq!(keys(&["ZUNION", "2", "a", "b", "WITHSCORES"]), vec![2, 3]);
        assert_eq!(keys(&["ZMPOP", "1", "a", "MIN"]), vec![2]);
        assert_eq!(keys(&["ZINTERCARD", "2", "a", "b"]), vec![2, 3]);
        assert_eq!(keys(&["ZRANGESTORE", "d", "s", "0", "1"]), vec![1, 2]);
        let words = ["ZUNIONSTORE", "d", "2", "a", "b"];
        let plan = engine.lock_plan(
            engine.lookup(&args(&words)).expect("in the table").0,
            &Session::default(),
            &args(&words),
        );
        assert!(plan.write);
        let mut shards: Vec<usize> = ["d", "a", "b"]
            .iter()
            .map(|k| engine.keyspace.shard_of(k.as_bytes()))
            .collect();
        shards.sort_unstable();
        shards.dedup();
        let mut planned: Vec<usize> = plan.shards.iter().map(|&(_, s)| s).collect();
        planned.sort_unstable();
        planned.dedup();
        assert_eq!(planned, shards);
    }

    /// The STORE forms report a destination written over and sources only read, as Redis's
    /// two key specifications say.
    #[test]
    fn store_forms_flag_each_key_by_its_role() {
        let mut c = Client::new();
        let flagged = |key: &str, flags: &[&'static str]| {
            arr(vec![
                bulk(key),
                arr(flags.iter().map(|f| Frame::simple(*f)).collect()),
            ])
        };
        assert_eq!(
            c.cmd("COMMAND GETKEYSANDFLAGS ZUNIONSTORE d 2 a b"),
            arr(vec![
                flagged("d", &["OW", "update"]),
                flagged("a", &["RO", "access"]),
                flagged("b", &["RO", "access"]),
            ])
        );
        assert_eq!(
            c.cmd("COMMAND GETKEYSANDFLAGS ZRANGESTORE d s 0 1"),
            arr(vec![
                flagged("d", &["OW", "update"]),
                flagged("s", &["RO", "access"])
            ])
        );
        assert_eq!(
            c.cmd("COMMAND GETKEYS ZDIFFSTORE d 0 a"),
            err("ERR Invalid arguments specified for command")
        );
        let Frame::Array(info) = c.cmd("COMMAND INFO zinterstore") else {
            panic!("an array")
        };
        let Some(Frame::Array(row)) = info.first() else {
            panic!("a row")
        };
        let Some(Frame::Array(specs)) = row.get(8) else {
            panic!("key specs")
        };
        assert_eq!(specs.len(), 2);
    }

    #[test]
    fn rows_match_redis_facts() {
        let row = |name: &str| {
            COMMANDS
                .iter()
                .find(|c| c.name == name)
                .unwrap_or_else(|| panic!("{name}"))
        };
        assert_eq!(row("zadd").arity, -4);
        assert_eq!(row("zrangestore").arity, -5);
        assert_eq!(row("zunionstore").key_count_at, Some(2));
        assert_eq!(row("zmpop").key_count_at, Some(1));
        assert_eq!(row("zrank").arity, -3, "Redis 7.2's WITHSCORE");
        assert_eq!(row("zscan").tips, ["nondeterministic_output"]);
        assert_eq!(COMMANDS.len(), 35);
        assert!(COMMANDS
            .iter()
            .all(|c| crate::table::find(c.name.as_bytes()).is_some()));
    }

    use crate::multi::tests::fails_watch;

    #[test]
    fn changes_fail_watches_and_no_ops_do_not() {
        let setup = ["ZADD z 1 a 2 b", "ZADD src 1 x"];
        for (line, fails) in [
            ("ZADD z 1 a", false),
            ("ZADD z 3 a", true),
            ("ZADD z XX 1 nomember", false),
            ("ZINCRBY z 0 a", false),
            ("ZINCRBY z 1 a", true),
            ("ZREM z nomember", false),
            ("ZREM z a", true),
            ("ZREMRANGEBYSCORE z 5 6", false),
            ("ZREMRANGEBYRANK z 0 0", true),
            ("ZPOPMIN z 0", false),
            ("ZPOPMAX z", true),
            ("ZMPOP 1 z MIN", true),
            ("BZPOPMIN z 0", true),
            ("ZUNIONSTORE z 1 src", true),
            ("ZINTERSTORE z 2 src nozset", true),
            ("ZRANGESTORE z src 0 -1", true),
            ("ZRANGESTORE z src 5 6", true),
            ("ZRANGE z 0 -1", false),
        ] {
            assert_eq!(fails_watch(&setup, "z", line), fails, "{line}");
        }
        // An empty result on a missing destination deletes nothing.
        assert!(!fails_watch(&setup, "d", "ZDIFFSTORE d 2 src src"));
        assert!(fails_watch(&setup, "d", "ZDIFFSTORE d 1 src"));
    }
}
