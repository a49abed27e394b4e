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

use std::collections::HashMap;

use bytes::Bytes;

use crate::args::{parse_f64_opt, parse_i64};
use crate::command::CommandSpec;
use crate::table::{command, engine};
use crate::zset::{cmp_elements, LexBound, LexRange, ScoreRange};
use crate::{
    Args, CommandError, CommandResult, CompactBytes, Ctx, Entry, Protocol, Reply, SetValue, Value,
    ZSetValue,
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
    let (db, now) = (ctx.db(), ctx.now);
    let Some(entry) = ctx.locked.get_mut(db, key, now)? else {
        return Ok(None);
    };
    entry.touch(now);
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

/// Stores `items` (ascending, members distinct) at `destination` as a fresh persistent sorted
/// set in the form its content calls for, replacing any value of any type; an empty result
/// deletes the destination instead. Returns the stored size.
fn store(
    ctx: &mut Ctx<'_, '_>,
    destination: &[u8],
    items: Vec<(CompactBytes, f64)>,
) -> Result<usize, CommandError> {
    let (db, now) = (ctx.db(), ctx.now);
    let len = items.len();
    if len == 0 {
        ctx.locked.remove(db, destination, now)?;
    } else {
        let zset = ZSetValue::from_sorted(items, ctx.engine.config.zset_limits());
        let entry = Entry::new(Value::ZSet(Box::new(zset)), now);
        ctx.locked.insert(db, destination, entry, now)?;
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
    let read = crate::args::strtod(text);
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
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
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
    if (o.gt && o.nx) || (o.lt && o.nx) || (o.gt && o.lt) {
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
        .map(|pair| Ok((crate::args::parse_f64(&pair[0])?, &pair[1][..])))
        .collect::<Result<Vec<(f64, &[u8])>, CommandError>>()?;
    let limits = ctx.engine.config.zset_limits();
    let (db, now) = (ctx.db(), ctx.now);
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
    entry.touch(now);
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
    let removed = members
        .iter()
        .filter(|m| zset.remove(m).is_some())
        .count();
    let empty = zset.is_empty();
    delete_if_empty(ctx, key, empty)?;
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
    Rank,
    Score,
    Lex,
}

/// The order a ZRANGE-family command replies in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// Not fixed by the command: ZRANGE and ZRANGESTORE take REV.
    Auto,
    Forward,
    Reverse,
}

/// A parsed range.
#[derive(Debug)]
enum Range {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

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
        return zset.iter_from(from, reverse).take(end - start + 1).collect();
    }
    let Ok(offset) = usize::try_from(offset) else {
        return Vec::new();
    };
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let (edge, inside): (Option<usize>, Box<dyn Fn(&[u8], f64) -> bool + '_>) = match range {
        Range::Score(r) if reverse => (zset.last_in_score_range(r), Box::new(|_, s| r.above_min(s))),
        Range::Score(r) => (zset.first_in_score_range(r), Box::new(|_, s| r.below_max(s))),
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
    let stored = store(ctx, destination, items)?;
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
    zrange_generic(ctx, args, reply, false, RangeKind::Score, Direction::Forward)
}

/// `ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]`
pub fn zrevrangebyscore(
    ctx: &mut Ctx<'_, '_>,
    args: &mut Args<'_>,
    reply: &mut Reply,
) -> CommandResult {
    zrange_generic(ctx, args, reply, false, RangeKind::Score, Direction::Reverse)
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
    /// `[key, member, score, ...]`: BZPOPMIN/BZPOPMAX.
    // Built by the blocking commands, which live outside this module.
    #[allow(dead_code)]
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
    delete_if_empty(ctx, key, empty)?;
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
    let numkeys = match parse_i64(args.next_bytes()?) {
        Ok(n) if n >= 1 => usize::try_from(n).unwrap_or(usize::MAX),
        _ => return Err(CommandError::msg("ERR numkeys should be greater than 0")),
    };
    let rest = args.rest();
    // The keys, then the side: a numkeys reaching past the arguments is a syntax error.
    let keys = rest.get(..numkeys).ok_or(CommandError::Syntax)?;
    let side = rest.get(numkeys).ok_or(CommandError::Syntax)?;
    let side = if side.eq_ignore_ascii_case(b"min") {
        Side::Min
    } else if side.eq_ignore_ascii_case(b"max") {
        Side::Max
    } else {
        return Err(CommandError::Syntax);
    };
    let mut options = Args::new(&rest[numkeys + 1..]);
    let mut count = None;
    while let Some(option) = options.peek() {
        options.next_bytes()?;
        if count.is_none() && option.eq_ignore_ascii_case(b"count") && !options.is_empty() {
            count = Some(match options.next_i64() {
                Ok(n) if n >= 1 => usize::try_from(n).unwrap_or(usize::MAX),
                _ => return Err(CommandError::msg("ERR count should be greater than 0")),
            });
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let count = count.unwrap_or(1);
    for key in keys {
        // A missing key is skipped; another type stops the search with WRONGTYPE.
        if pop(ctx, key, side, count, PopReply::KeyNested, reply)?.is_some() {
            return Ok(());
        }
    }
    reply.null_array();
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// ZUNION, ZINTER, ZDIFF, their STORE forms, ZINTERCARD
// ---------------------------------------------------------------------------------------------

/// The operations ZUNION, ZINTER and ZDIFF compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

/// How scores of a member found in several inputs combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
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
    Missing,
    ZSet(&'a ZSetValue),
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

    /// Every element with its score.
    fn elements(&self) -> Box<dyn Iterator<Item = (&'a [u8], f64)> + 'a> {
        match *self {
            Source::Missing => Box::new(std::iter::empty()),
            Source::ZSet(zset) => Box::new(zset.iter()),
            Source::Set(set) => Box::new(set.iter().map(|m| (m.as_bytes(), 1.0))),
        }
    }
}

/// The options of the set operations, after the keys.
#[derive(Debug)]
struct CombineOptions {
    weights: Vec<f64>,
    aggregate: Aggregate,
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
) -> (usize, Vec<(&'a [u8], f64)>) {
    if op != SetOp::Diff {
        inputs.sort_by_key(|(source, _)| source.len());
    }
    let mut out: Vec<(&'a [u8], f64)> = Vec::new();
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
                    source.score(member).is_some_and(|value| {
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
            let mut scores: HashMap<&'a [u8], f64> = HashMap::new();
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
    out.sort_by(|a, b| cmp_elements(a.1, a.0, b.1, b.0));
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
    let (count, elements) = combine(
        inputs,
        op,
        options.aggregate,
        count_only.then_some(options.limit),
    );
    if count_only {
        reply.count(count);
        return Ok(());
    }
    let Some(destination) = destination else {
        write_elements(reply, &elements, options.withscores);
        return Ok(());
    };
    let items = owned(&elements);
    let stored = store(ctx, destination, items)?;
    reply.count(stored);
    Ok(())
}

/// The options after the keys: WEIGHTS and AGGREGATE (not for ZDIFF or ZINTERCARD),
/// WITHSCORES (not for a STORE form or ZINTERCARD), LIMIT (only ZINTERCARD).
fn parse_combine_options(
    words: &[Bytes],
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

/// Most elements a negative ZRANDMEMBER count may ask for (16M).
const MAX_REPEATED_PICKS: i64 = 1 << 24;

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
    // As Redis's getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX): i64::MIN is refused.
    let count = parse_i64(count_arg)?;
    if count == i64::MIN {
        return Err(CommandError::msg(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let withscores = match args.remaining() {
        0 => false,
        1 if args.eat("withscores") => true,
        _ => return Err(CommandError::Syntax),
    };
    // Redis bounds the count so that twice it (member and score) cannot overflow.
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Err(CommandError::msg("ERR value is out of range"));
    }
    // A negative count repeats members, so the reply grows with the count alone: past this kv
    // refuses rather than build a reply of any size a client asks for (Redis 7.0 tries, and
    // can crash).
    if count < -MAX_REPEATED_PICKS {
        return Err(CommandError::msg("ERR value is out of range"));
    }
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
        itoa::Buffer::new()
            .format(score as i64)
            .as_bytes()
            .to_vec()
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
/// Redis answers for a listpack. A large one is walked in the order of its members' hashes
/// (under the set's own hasher, fixed for its life): the cursor is the hash to resume from, so
/// every member present for the whole iteration is returned at least once.
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
    let (next, batch) = if small {
        (0, zset.iter().collect::<Vec<_>>())
    } else {
        let items = zset.iter().map(|(m, s)| (zset.member_hash(m), (m, s)));
        crate::scan::hash_order_step(items, cursor, options.count)
    };
    let batch: Vec<(&[u8], f64)> = batch.into_iter().filter(|(m, _)| options.keeps(m)).collect();
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
        "destination numkeys key [key ...]", key_count_at: Some(2)),
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
        key_count_at: Some(2)),
    command!("zlexcount", 4, [READONLY, FAST], (1, 1, 1), SortedSet, engine!(zlexcount), "2.8.9",
        "O(log(N)) with N being the number of elements in the sorted set.",
        "Counts the members of a sorted set within a lexicographic range.", "key min max"),
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
        "dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]"),
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
        key_count_at: Some(2)),
];
