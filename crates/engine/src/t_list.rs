//! List commands (Redis's `t_list.c`), the non-blocking ones.
//!
//! A list is a [`ListValue`]: elements packed in chunks, so pushes and pops at both ends are
//! O(1) and an index is found by skipping whole chunks from the nearer end. A list is never empty: the command that removes its last element deletes
//! the key, as Redis does. Arguments are parsed and keys looked up in the same order as Redis,
//! so that a request with several faults reports the same one.

use crate::args::parse_i64;
use crate::blocking::{parse_timeout, End, Operation};
use crate::command::CommandSpec;
use crate::notify::EventClass;
use crate::table::{command, engine};
use crate::{Args, CommandError, CommandResult, CompactBytes, Ctx, Entry, ListValue, Reply, Value};

/// The error LPOP and RPOP give for a count that is not a non-negative integer.
const POP_COUNT: CommandError = CommandError::msg("ERR value is out of range, must be positive");

impl End {
    /// `LEFT` or `RIGHT`, in any case (Redis's `getListPositionFromObjectOrReply`).
    fn parse(arg: &[u8]) -> Result<End, CommandError> {
        if arg.eq_ignore_ascii_case(b"left") {
            Ok(End::Left)
        } else if arg.eq_ignore_ascii_case(b"right") {
            Ok(End::Right)
        } else {
            Err(CommandError::Syntax)
        }
    }

    /// The event a push at this end publishes.
    fn push_event(self) -> &'static str {
        match self {
            End::Left => "lpush",
            End::Right => "rpush",
        }
    }

    /// The event a pop from this end publishes.
    fn pop_event(self) -> &'static str {
        match self {
            End::Left => "lpop",
            End::Right => "rpop",
        }
    }
}

/// Adds `element` at `end` of `list`.
fn push(list: &mut ListValue, end: End, element: &[u8]) {
    match end {
        End::Left => list.push_front(element),
        End::Right => list.push_back(element),
    }
}

/// Takes the element at `end` of `list`.
fn pop(list: &mut ListValue, end: End) -> Option<CompactBytes> {
    match end {
        End::Left => list.pop_front(),
        End::Right => list.pop_back(),
    }
}

/// Takes the element at `end` of `list` and replies with it, straight from the list's bytes;
/// false when the list is empty.
fn pop_into(list: &mut ListValue, end: End, reply: &mut Reply) -> bool {
    let send = |element: &[u8]| reply.bulk(element);
    match end {
        End::Left => list.pop_front_with(send),
        End::Right => list.pop_back_with(send),
    }
    .is_some()
}

/// The list at `key` for a read (counted as a keyspace hit or miss): `None` if missing,
/// `WRONGTYPE` if another type.
fn list_at<'c>(ctx: &'c Ctx<'_, '_>, key: &[u8]) -> Result<Option<&'c ListValue>, CommandError> {
    match ctx.lookup(key)? {
        None => Ok(None),
        Some(Entry {
            value: Value::List(list),
            ..
        }) => Ok(Some(list)),
        Some(_) => Err(CommandError::WrongType),
    }
}

/// The list at `key` for changing in place (a write lookup: not counted, as Redis's
/// `lookupKeyWrite`): `None` if missing, `WRONGTYPE` if another type.
fn list_mut<'c>(
    ctx: &'c mut Ctx<'_, '_>,
    key: &[u8],
) -> Result<Option<&'c mut ListValue>, CommandError> {
    let Some(entry) = ctx.lookup_write(key)? else {
        return Ok(None);
    };
    match &mut entry.value {
        Value::List(list) => Ok(Some(list)),
        _ => Err(CommandError::WrongType),
    }
}

/// Reports that the command took elements out of the list at `key` with `event`; when it
/// took the last, deletes the key (lists are never empty) and reports `del` after, as Redis's
/// `listElementsRemoved` orders them. Watchers are touched once the key is gone.
fn report_removal(ctx: &mut Ctx<'_, '_>, key: &[u8], event: &str, empty: bool) -> CommandResult {
    if !empty {
        ctx.modified(EventClass::LIST, event, key);
        return Ok(());
    }
    ctx.notify(EventClass::LIST, event, key);
    let (db, now) = (ctx.db(), ctx.now);
    ctx.locked.remove(db, key, now)?;
    ctx.modified(EventClass::GENERIC, "del", key);
    Ok(())
}

/// Stores a new list at `key` (which holds no live value).
fn create(ctx: &mut Ctx<'_, '_>, key: &[u8], list: ListValue) -> CommandResult {
    let (db, now) = (ctx.db(), ctx.now);
    ctx.locked
        .insert(db, key, Entry::new(Value::List(list), now), now)?;
    Ok(())
}

/// `start..=end` (negative counting from the tail) clamped to a list of `len` elements, as
/// LRANGE and LTRIM compute it; `None` when nothing is in range.
fn clamp_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = i64::try_from(len).unwrap_or(i64::MAX);
    // A negative index plus a non-negative length cannot overflow.
    let start = if start < 0 { start + len } else { start }.max(0);
    let end = if end < 0 { end + len } else { end };
    if start > end || start >= len {
        return None;
    }
    let end = end.min(len - 1);
    Some((start as usize, end as usize))
}

/// The position of `index` (negative counting from the tail) in a list of `len` elements.
fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let len = i64::try_from(len).unwrap_or(i64::MAX);
    let index = if index < 0 { index + len } else { index };
    (0..len).contains(&index).then_some(index as usize)
}

/// `LPUSH key element [element ...]`
pub fn lpush(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    push_generic(ctx, args, reply, End::Left, false)
}

/// `RPUSH key element [element ...]`
pub fn rpush(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    push_generic(ctx, args, reply, End::Right, false)
}

/// `LPUSHX key element [element ...]`: only onto an existing list.
pub fn lpushx(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    push_generic(ctx, args, reply, End::Left, true)
}

/// `RPUSHX key element [element ...]`: only onto an existing list.
pub fn rpushx(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    push_generic(ctx, args, reply, End::Right, true)
}

/// Pushes every element in turn at `end` (so LPUSH reverses them); replies with the new length,
/// or 0 when `existing_only` and there is no list.
fn push_generic(
    ctx: &mut Ctx<'_, '_>,
    args: &mut Args<'_>,
    reply: &mut Reply,
    end: End,
    existing_only: bool,
) -> CommandResult {
    let key = args.next_bytes()?;
    let elements = args.rest();
    let at_front = end == End::Left;
    let len = match list_mut(ctx, key)? {
        Some(list) => {
            list.push_all(at_front, elements);
            list.len()
        }
        None if existing_only => {
            reply.integer(0);
            return Ok(());
        }
        None => {
            let mut list = ListValue::new();
            list.push_all(at_front, elements);
            let len = list.len();
            create(ctx, key, list)?;
            len
        }
    };
    // The arity guarantees at least one element, so the list changed.
    ctx.modified(EventClass::LIST, end.push_event(), key);
    reply.count(len);
    Ok(())
}

/// `LPOP key [count]`
pub fn lpop(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    pop_generic(ctx, args, reply, End::Left, "lpop")
}

/// `RPOP key [count]`
pub fn rpop(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    pop_generic(ctx, args, reply, End::Right, "rpop")
}

/// Without a count: the popped element, or nil. With one: an array of up to `count` elements
/// in the order popped, a nil array when the key is missing, an empty array for count 0.
fn pop_generic(
    ctx: &mut Ctx<'_, '_>,
    args: &mut Args<'_>,
    reply: &mut Reply,
    end: End,
    name: &str,
) -> CommandResult {
    let key = args.next_bytes()?;
    // The table's arity (-2) lets any number through; Redis refuses more than a count itself.
    if args.remaining() > 1 {
        return Err(CommandError::WrongArity(name.to_string()));
    }
    let count = match args.peek() {
        Some(arg) => match parse_i64(arg) {
            Ok(n) if n >= 0 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            _ => return Err(POP_COUNT),
        },
        None => None,
    };
    let Some(list) = list_mut(ctx, key)? else {
        match count {
            Some(_) => reply.null_array(),
            None => reply.null(),
        }
        return Ok(());
    };
    let popped = match count {
        None => {
            let popped = pop_into(list, end, reply);
            if !popped {
                // Unreachable as lists are never empty; answer as for a missing key.
                reply.null();
            }
            popped
        }
        Some(count) => {
            let n = count.min(list.len());
            reply.array(n);
            for _ in 0..n {
                pop_into(list, end, reply);
            }
            n > 0
        }
    };
    if !popped {
        // COUNT 0 changes nothing.
        return Ok(());
    }
    let empty = list.is_empty();
    report_removal(ctx, key, end.pop_event(), empty)
}

/// `LLEN key`
pub fn llen(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let len = list_at(ctx, key)?.map_or(0, ListValue::len);
    reply.count(len);
    Ok(())
}

/// `LRANGE key start stop`
pub fn lrange(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    // Redis parses the range before looking the key up.
    let start = args.next_i64()?;
    let stop = args.next_i64()?;
    let Some(list) = list_at(ctx, key)? else {
        reply.array(0);
        return Ok(());
    };
    match clamp_range(start, stop, list.len()) {
        Some((start, stop)) => reply.bulks(list.range(start..stop + 1)),
        None => reply.array(0),
    }
    Ok(())
}

/// `LINDEX key index`
pub fn lindex(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    // Redis looks the key up first: a bad index on a missing key is just nil.
    let Some(list) = list_at(ctx, key)? else {
        reply.null();
        return Ok(());
    };
    let index = args.next_i64()?;
    match resolve_index(index, list.len()).and_then(|i| list.get(i)) {
        Some(element) => reply.bulk(element),
        None => reply.null(),
    }
    Ok(())
}

/// `LSET key index element`
pub fn lset(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let Some(list) = list_mut(ctx, key)? else {
        return Err(CommandError::NoSuchKey);
    };
    let index = args.next_i64()?;
    let element = args.next_bytes()?;
    let set = resolve_index(index, list.len()).is_some_and(|i| list.set(i, element));
    if !set {
        return Err(CommandError::msg("ERR index out of range"));
    }
    ctx.modified(EventClass::LIST, "lset", key);
    reply.ok();
    Ok(())
}

/// `LINSERT key <BEFORE | AFTER> pivot element`: the new length, -1 when the pivot is not
/// found, 0 when the key is missing.
pub fn linsert(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let after = if args.eat("after") {
        true
    } else if args.eat("before") {
        false
    } else {
        return Err(CommandError::Syntax);
    };
    let pivot = args.next_bytes()?;
    let element = args.next_bytes()?;
    let Some(list) = list_mut(ctx, key)? else {
        reply.integer(0);
        return Ok(());
    };
    match list.iter().position(|e| e == pivot) {
        Some(at) => {
            list.insert(at + usize::from(after), element);
            reply.count(list.len());
            ctx.modified(EventClass::LIST, "linsert", key);
        }
        None => reply.integer(-1),
    }
    Ok(())
}

/// `LREM key count element`: removes the first `count` occurrences from the head (count > 0),
/// from the tail (count < 0), or all of them (0); replies with how many went.
pub fn lrem(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let count = args.next_i64()?;
    let element = args.next_bytes()?;
    let Some(list) = list_mut(ctx, key)? else {
        reply.integer(0);
        return Ok(());
    };
    let limit = match count {
        0 => usize::MAX,
        n => usize::try_from(n.unsigned_abs()).unwrap_or(usize::MAX),
    };
    let removed = list.remove_matching(element, limit, count < 0);
    if removed > 0 {
        let empty = list.is_empty();
        report_removal(ctx, key, "lrem", empty)?;
    }
    reply.count(removed);
    Ok(())
}

/// `LTRIM key start stop`: keeps only the range, deleting the key when nothing is left.
pub fn ltrim(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let start = args.next_i64()?;
    let stop = args.next_i64()?;
    if let Some(list) = list_mut(ctx, key)? {
        match clamp_range(start, stop, list.len()) {
            Some((start, stop)) => list.retain_range(start..stop + 1),
            None => list.clear(),
        }
        // Redis reports a trim even when it removes nothing.
        let empty = list.is_empty();
        report_removal(ctx, key, "ltrim", empty)?;
    }
    reply.ok();
    Ok(())
}

/// `LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]`
pub fn lpos(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let element = args.next_bytes()?;
    let mut rank: i64 = 1;
    // `None`: no COUNT option, so the reply is one position rather than an array.
    let mut count: Option<i64> = None;
    let mut maxlen: i64 = 0;
    while let Some(option) = args.peek() {
        args.next_bytes()?;
        // An option without its value falls through to the syntax error, as in Redis.
        let has_value = !args.is_empty();
        if option.eq_ignore_ascii_case(b"rank") && has_value {
            rank = args.next_i64()?;
            if rank == 0 {
                return Err(CommandError::msg(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the \
                     second ... or use negative to start from the end of the list",
                ));
            }
        } else if option.eq_ignore_ascii_case(b"count") && has_value {
            count = Some(non_negative(
                args.next_bytes()?,
                "ERR COUNT can't be negative",
            )?);
        } else if option.eq_ignore_ascii_case(b"maxlen") && has_value {
            maxlen = non_negative(args.next_bytes()?, "ERR MAXLEN can't be negative")?;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    // A negative rank searches from the tail. Redis 7.0 negates without a range check, so
    // RANK -9223372036854775808 stays negative and then accepts the first match: wrapping
    // arithmetic below reproduces that.
    let from_tail = rank < 0;
    if from_tail {
        rank = rank.wrapping_neg();
    }
    let Some(list) = list_at(ctx, key)? else {
        match count {
            Some(_) => reply.array(0),
            None => reply.null(),
        }
        return Ok(());
    };
    let len = list.len();
    let scan = usize::try_from(maxlen)
        .ok()
        .filter(|&m| m > 0)
        .unwrap_or(usize::MAX);
    // One walk over the elements, from the end the rank says, with their positions.
    let mut forward = list.iter().enumerate();
    let mut backward = list.iter().rev().enumerate().map(|(i, e)| (len - 1 - i, e));
    let walk: &mut dyn Iterator<Item = (usize, &[u8])> = if from_tail {
        &mut backward
    } else {
        &mut forward
    };
    let mut found = Vec::new();
    let mut matches: i64 = 0;
    for (position, candidate) in walk.take(scan) {
        if candidate != element {
            continue;
        }
        matches += 1;
        if matches < rank {
            continue;
        }
        found.push(position);
        match count {
            // COUNT 0 means every match.
            Some(count) if count == 0 || matches.wrapping_sub(rank).wrapping_add(1) < count => {}
            _ => break,
        }
    }
    match count {
        Some(_) => {
            reply.array(found.len());
            for position in found {
                reply.count(position);
            }
        }
        None => match found.first() {
            Some(&position) => reply.count(position),
            None => reply.null(),
        },
    }
    Ok(())
}

/// An integer that must not be negative; `message` for anything else, including a value that
/// is not an integer (Redis's `getPositiveLongFromObjectOrReply` with a message).
fn non_negative(arg: &[u8], message: &'static str) -> Result<i64, CommandError> {
    match parse_i64(arg) {
        Ok(n) if n >= 0 => Ok(n),
        _ => Err(CommandError::msg(message)),
    }
}

/// `LMOVE source destination <LEFT | RIGHT> <LEFT | RIGHT>`
pub fn lmove(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let source = args.next_bytes()?;
    let destination = args.next_bytes()?;
    let from = End::parse(args.next_bytes()?)?;
    let to = End::parse(args.next_bytes()?)?;
    if !move_generic(ctx, reply, source, destination, from, to)? {
        reply.null();
    }
    Ok(())
}

/// `RPOPLPUSH source destination`: LMOVE source destination RIGHT LEFT.
pub fn rpoplpush(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let source = args.next_bytes()?;
    let destination = args.next_bytes()?;
    if !move_generic(ctx, reply, source, destination, End::Right, End::Left)? {
        reply.null();
    }
    Ok(())
}

/// Moves one element from `from` of `source` to `to` of `destination` and replies with it;
/// false, with no reply, when the source is missing. Both types are checked before anything
/// changes, so a WRONGTYPE destination leaves the source intact. Also what a client blocked
/// in BLMOVE runs once its source has elements.
pub(crate) fn move_generic(
    ctx: &mut Ctx<'_, '_>,
    reply: &mut Reply,
    source: &[u8],
    destination: &[u8],
    from: End,
    to: End,
) -> Result<bool, CommandError> {
    let (db, now) = (ctx.db(), ctx.now);
    if list_mut(ctx, source)?.is_none() {
        return Ok(false);
    }
    let same = source == destination;
    if !same {
        if let Some(entry) = ctx.locked.get(db, destination, now)? {
            if !matches!(entry.value, Value::List(_)) {
                return Err(CommandError::WrongType);
            }
        }
    }
    let Some(list) = list_mut(ctx, source)? else {
        return Err(CommandError::Internal(
            "source list vanished under its lock",
        ));
    };
    let Some(element) = pop(list, from) else {
        return Err(CommandError::Internal("empty list"));
    };
    reply.bulk(&element);
    // Redis pushes onto the destination before it reports the pop (and deletes an emptied
    // source), so the destination's events come first.
    if same {
        // Rotation: the element goes back into the list it came from.
        push(list, to, &element);
        ctx.modified(EventClass::LIST, to.push_event(), destination);
        ctx.modified(EventClass::LIST, from.pop_event(), source);
        return Ok(true);
    }
    let empty = list.is_empty();
    match list_mut(ctx, destination)? {
        Some(list) => push(list, to, &element),
        None => create(ctx, destination, ListValue::from_iter([element.as_bytes()]))?,
    }
    ctx.modified(EventClass::LIST, to.push_event(), destination);
    report_removal(ctx, source, from.pop_event(), empty)?;
    Ok(true)
}

/// `LMPOP numkeys key [key ...] <LEFT | RIGHT> [COUNT count]`: pops up to `count` (default 1)
/// elements from the first non-empty list; replies `[key, [elements]]`, or a nil array.
pub fn lmpop(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let (keys, end, count) = crate::args::parse_mpop(args, End::parse)?;
    for key in keys {
        // A missing key is skipped; another type stops the search with WRONGTYPE.
        if serve_pop(ctx, key, end, Some(count), reply)? {
            return Ok(());
        }
    }
    reply.null_array();
    Ok(())
}

/// Pops from the list at `key` and replies with the key and what was popped: one element as
/// `[key, element]` (BLPOP, BRPOP), or up to `count` as `[key, [elements]]` (LMPOP, BLMPOP).
/// False, with no reply, when there is no list; WRONGTYPE for another type. Also what a
/// client blocked on `key` runs once it has elements.
pub(crate) fn serve_pop(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    end: End,
    count: Option<usize>,
    reply: &mut Reply,
) -> Result<bool, CommandError> {
    let Some(list) = list_mut(ctx, key)? else {
        return Ok(false);
    };
    reply.array(2);
    reply.bulk(key);
    match count {
        None => {
            if !pop_into(list, end, reply) {
                return Err(CommandError::Internal("empty list"));
            }
        }
        Some(count) => {
            // LMPOP and BLMPOP refuse a count of 0, so at least one element goes.
            let n = count.min(list.len());
            reply.array(n);
            for _ in 0..n {
                pop_into(list, end, reply);
            }
        }
    }
    let empty = list.is_empty();
    report_removal(ctx, key, end.pop_event(), empty)?;
    Ok(true)
}

/// `BLPOP key [key ...] timeout`
pub fn blpop(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    blocking_pop(ctx, args, reply, End::Left)
}

/// `BRPOP key [key ...] timeout`
pub fn brpop(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    blocking_pop(ctx, args, reply, End::Right)
}

/// BLPOP and BRPOP: the timeout is checked first, then the keys in order; the first list
/// found is popped at once, else the client blocks on every key.
fn blocking_pop(
    ctx: &mut Ctx<'_, '_>,
    args: &mut Args<'_>,
    reply: &mut Reply,
    end: End,
) -> CommandResult {
    let all = args.rest();
    let (timeout, keys) = all.split_last().ok_or(CommandError::Syntax)?;
    let deadline = parse_timeout(timeout, ctx.now)?;
    block_unless_served(ctx, keys, end, None, deadline, reply)
}

/// `BLMPOP timeout numkeys key [key ...] <LEFT | RIGHT> [COUNT count]`
pub fn blmpop(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let timeout = args.next_bytes()?;
    let (keys, end, count) = crate::args::parse_mpop(args, End::parse)?;
    let deadline = parse_timeout(timeout, ctx.now)?;
    block_unless_served(ctx, keys, end, Some(count), deadline, reply)
}

/// Pops from the first of `keys` holding a list, else blocks on all of them (or, for a client
/// that may not block, answers a nil array as a timeout would).
fn block_unless_served(
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
    if !ctx.block_on(keys, Operation::ListPop { end, count }, deadline) {
        reply.null_array();
    }
    Ok(())
}

/// `BLMOVE source destination <LEFT | RIGHT> <LEFT | RIGHT> timeout`
pub fn blmove(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let source = args.next_bytes()?;
    let destination = args.next_bytes()?;
    let from = End::parse(args.next_bytes()?)?;
    let to = End::parse(args.next_bytes()?)?;
    let deadline = parse_timeout(args.next_bytes()?, ctx.now)?;
    blocking_move(ctx, reply, (source, destination), (from, to), deadline)
}

/// `BRPOPLPUSH source destination timeout`: BLMOVE source destination RIGHT LEFT timeout.
pub fn brpoplpush(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let source = args.next_bytes()?;
    let destination = args.next_bytes()?;
    let deadline = parse_timeout(args.next_bytes()?, ctx.now)?;
    let ends = (End::Right, End::Left);
    blocking_move(ctx, reply, (source, destination), ends, deadline)
}

/// BLMOVE and BRPOPLPUSH once parsed: a move now if the source has elements, else a wait on
/// the source alone (the destination's type is checked only when an element moves).
fn blocking_move(
    ctx: &mut Ctx<'_, '_>,
    reply: &mut Reply,
    (source, destination): (&[u8], &[u8]),
    (from, to): (End, End),
    deadline: Option<u64>,
) -> CommandResult {
    if move_generic(ctx, reply, source, destination, from, to)? {
        return Ok(());
    }
    let operation = Operation::ListMove {
        from,
        to,
        destination: CompactBytes::new(destination),
    };
    if !ctx.block_on([source], operation, deadline) {
        reply.null();
    }
    Ok(())
}

/// Registration block: the list commands' rows of the command table.
pub(crate) static COMMANDS: &[CommandSpec] = &[
    command!("blmove", 6, [WRITE, DENYOOM, NOSCRIPT, BLOCKING], (1, 2, 1), List, engine!(blmove), "6.2.0",
        "O(1)", "Moves an element from one end of a list to an end of another, waiting for one to arrive if the source is empty.",
        "source destination <LEFT | RIGHT> <LEFT | RIGHT> timeout"),
    command!("blmpop", -5, [WRITE, BLOCKING, MOVABLEKEYS], (0, 0, 0), List, engine!(blmpop), "7.0.0",
        "O(N+M) where N is the number of provided keys and M is the number of elements returned.",
        "Pops elements from the first non-empty list of several, waiting for one to be filled if all are empty.",
        "timeout numkeys key [key ...] <LEFT | RIGHT> [COUNT count]", key_count_at: Some(2), key_flags: &["RW", "access", "delete"]),
    command!("blpop", -3, [WRITE, NOSCRIPT, BLOCKING], (1, -2, 1), List, engine!(blpop), "2.0.0",
        "O(N) where N is the number of provided keys.",
        "Removes and returns the first element of the first non-empty list, waiting for one if all are empty.",
        "key [key ...] timeout", key_flags: &["RW", "access", "delete"]),
    command!("brpop", -3, [WRITE, NOSCRIPT, BLOCKING], (1, -2, 1), List, engine!(brpop), "2.0.0",
        "O(N) where N is the number of provided keys.",
        "Removes and returns the last element of the first non-empty list, waiting for one if all are empty.",
        "key [key ...] timeout", key_flags: &["RW", "access", "delete"]),
    command!("brpoplpush", 4, [WRITE, DENYOOM, NOSCRIPT, BLOCKING], (1, 2, 1), List, engine!(brpoplpush), "2.2.0",
        "O(1)", "Moves the last element of a list to the head of another, waiting for one to arrive if the source is empty.",
        "source destination timeout"),
    command!("lindex", 3, [READONLY], (1, 1, 1), List, engine!(lindex), "1.0.0",
        "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1).",
        "Returns an element from a list by its index.", "key index"),
    command!("linsert", 5, [WRITE, DENYOOM], (1, 1, 1), List, engine!(linsert), "2.2.0",
        "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N).",
        "Inserts an element before or after another element of a list.",
        "key <BEFORE | AFTER> pivot element", key_flags: &["RW", "insert"]),
    command!("llen", 2, [READONLY, FAST], (1, 1, 1), List, engine!(llen), "1.0.0",
        "O(1)", "Returns the length of a list.", "key", key_flags: &["RO"]),
    command!("lmove", 5, [WRITE, DENYOOM], (1, 2, 1), List, engine!(lmove), "6.2.0",
        "O(1)", "Moves an element from one end of a list to an end of another list, and returns it.",
        "source destination <LEFT | RIGHT> <LEFT | RIGHT>"),
    command!("lmpop", -4, [WRITE, MOVABLEKEYS], (0, 0, 0), List, engine!(lmpop), "7.0.0",
        "O(N+M) where N is the number of provided keys and M is the number of elements returned.",
        "Pops elements from the first non-empty list of several.",
        "numkeys key [key ...] <LEFT | RIGHT> [COUNT count]", key_count_at: Some(1), key_flags: &["RW", "access", "delete"]),
    command!("lpop", -2, [WRITE, FAST], (1, 1, 1), List, engine!(lpop), "1.0.0",
        "O(N) where N is the number of elements returned",
        "Removes and returns the first elements of a list, deleting it when emptied.", "key [count]", key_flags: &["RW", "access", "delete"]),
    command!("lpos", -3, [READONLY], (1, 1, 1), List, engine!(lpos), "6.0.6",
        "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time.",
        "Returns the positions of the elements of a list that equal a value.",
        "key element [RANK rank] [COUNT num-matches] [MAXLEN len]"),
    command!("lpush", -3, [WRITE, DENYOOM, FAST], (1, 1, 1), List, engine!(lpush), "1.0.0",
        "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        "Prepends elements to a list, creating it if needed.", "key element [element ...]", key_flags: &["RW", "insert"]),
    command!("lpushx", -3, [WRITE, DENYOOM, FAST], (1, 1, 1), List, engine!(lpushx), "2.2.0",
        "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        "Prepends elements to a list only if the list exists.", "key element [element ...]", key_flags: &["RW", "insert"]),
    command!("lrange", 4, [READONLY], (1, 1, 1), List, engine!(lrange), "1.0.0",
        "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.",
        "Returns a range of elements of a list.", "key start stop"),
    command!("lrem", 4, [WRITE], (1, 1, 1), List, engine!(lrem), "1.0.0",
        "O(N+M) where N is the length of the list and M is the number of elements removed.",
        "Removes occurrences of an element from a list.", "key count element", key_flags: &["RW", "delete"]),
    command!("lset", 4, [WRITE, DENYOOM], (1, 1, 1), List, engine!(lset), "1.0.0",
        "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1).",
        "Replaces the element of a list at an index.", "key index element"),
    command!("ltrim", 4, [WRITE], (1, 1, 1), List, engine!(ltrim), "1.0.0",
        "O(N) where N is the number of elements to be removed by the operation.",
        "Keeps only a range of elements of a list, deleting it when nothing is left.", "key start stop", key_flags: &["RW", "delete"]),
    command!("rpop", -2, [WRITE, FAST], (1, 1, 1), List, engine!(rpop), "1.0.0",
        "O(N) where N is the number of elements returned",
        "Removes and returns the last elements of a list, deleting it when emptied.", "key [count]", key_flags: &["RW", "access", "delete"]),
    command!("rpoplpush", 3, [WRITE, DENYOOM], (1, 2, 1), List, engine!(rpoplpush), "1.2.0",
        "O(1)", "Moves the last element of a list to the head of another list, and returns it.",
        "source destination"),
    command!("rpush", -3, [WRITE, DENYOOM, FAST], (1, 1, 1), List, engine!(rpush), "1.0.0",
        "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        "Appends elements to a list, creating it if needed.", "key element [element ...]", key_flags: &["RW", "insert"]),
    command!("rpushx", -3, [WRITE, DENYOOM, FAST], (1, 1, 1), List, engine!(rpushx), "2.2.0",
        "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        "Appends elements to a list only if the list exists.", "key element [element ...]", key_flags: &["RW", "insert"]),
];

#[cfg(test)]
pub(crate) mod tests {
    use bytes::Bytes;
    use kv_resp::Frame;

    use crate::keys::tests::{bulk, bulks, err, int, Client};
    use crate::{Engine, Session};

    fn ints(items: &[i64]) -> Frame {
        Frame::Array(items.iter().map(|&n| int(n)).collect())
    }

    const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

    #[test]
    fn push_and_range() {
        let mut c = Client::new();
        assert_eq!(c.cmd("LPUSH l a b c"), int(3));
        assert_eq!(c.cmd("RPUSH l d e"), int(5));
        assert_eq!(c.cmd("LRANGE l 0 -1"), bulks(&["c", "b", "a", "d", "e"]));
        assert_eq!(c.cmd("LRANGE l -2 100"), bulks(&["d", "e"]));
        assert_eq!(c.cmd("LRANGE l 3 1"), bulks(&[]));
        assert_eq!(c.cmd("LRANGE l 5 9"), bulks(&[]));
        assert_eq!(c.cmd("LRANGE l -100 0"), bulks(&["c"]));
        assert_eq!(c.cmd("LRANGE nope 0 -1"), bulks(&[]));
        assert_eq!(
            c.cmd("LRANGE l x 1"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(c.cmd("LLEN l"), int(5));
        assert_eq!(c.cmd("LLEN nope"), int(0));
        assert_eq!(c.cmd("TYPE l"), Frame::simple("list"));
        assert_eq!(c.cmd("LPUSHX nope a"), int(0));
        assert_eq!(c.cmd("EXISTS nope"), int(0));
        assert_eq!(c.cmd("LPUSHX l x y"), int(7));
        assert_eq!(c.cmd("RPUSHX l z"), int(8));
        assert_eq!(c.cmd("LRANGE l 0 1"), bulks(&["y", "x"]));
        assert_eq!(c.cmd("LINDEX l -1"), bulk("z"));
        assert_eq!(
            c.cmd("LPUSH l"),
            err("ERR wrong number of arguments for 'lpush' command")
        );
    }

    #[test]
    fn pops_with_and_without_count() {
        let mut c = Client::new();
        c.cmd("RPUSH l a b c d e");
        assert_eq!(c.cmd("LPOP l"), bulk("a"));
        assert_eq!(c.cmd("RPOP l"), bulk("e"));
        assert_eq!(c.cmd("LPOP l 0"), bulks(&[]));
        assert_eq!(c.cmd("RPOP l 2"), bulks(&["d", "c"]));
        assert_eq!(c.cmd("LPOP l 5"), bulks(&["b"]));
        // The last element took the key with it.
        assert_eq!(c.cmd("EXISTS l"), int(0));
        assert_eq!(c.cmd("LPOP l"), Frame::NullBulk);
        assert_eq!(c.cmd("LPOP l 0"), Frame::NullArray);
        assert_eq!(c.cmd("RPOP l 3"), Frame::NullArray);
        let positive = "ERR value is out of range, must be positive";
        assert_eq!(c.cmd("LPOP l -1"), err(positive));
        assert_eq!(c.cmd("RPOP l abc"), err(positive));
        assert_eq!(
            c.cmd("LPOP l 1 2"),
            err("ERR wrong number of arguments for 'lpop' command")
        );
        assert_eq!(
            c.cmd("RPOP l 1 2"),
            err("ERR wrong number of arguments for 'rpop' command")
        );
    }

    #[test]
    fn index_and_set() {
        let mut c = Client::new();
        c.cmd("RPUSH l a b c");
        assert_eq!(c.cmd("LINDEX l 0"), bulk("a"));
        assert_eq!(c.cmd("LINDEX l -3"), bulk("a"));
        assert_eq!(c.cmd("LINDEX l 3"), Frame::NullBulk);
        assert_eq!(c.cmd("LINDEX l -4"), Frame::NullBulk);
        assert_eq!(c.cmd("LINDEX nope abc"), Frame::NullBulk);
        assert_eq!(
            c.cmd("LINDEX l abc"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(c.cmd("LSET l -1 C"), Frame::simple("OK"));
        assert_eq!(c.cmd("LSET l 0 A"), Frame::simple("OK"));
        assert_eq!(c.cmd("LRANGE l 0 -1"), bulks(&["A", "b", "C"]));
        assert_eq!(c.cmd("LSET l 3 x"), err("ERR index out of range"));
        assert_eq!(c.cmd("LSET l -4 x"), err("ERR index out of range"));
        assert_eq!(c.cmd("LSET nope 0 x"), err("ERR no such key"));
        assert_eq!(
            c.cmd("LSET l x x"),
            err("ERR value is not an integer or out of range")
        );
    }

    #[test]
    fn insert_remove_trim() {
        let mut c = Client::new();
        c.cmd("RPUSH l a b c b");
        assert_eq!(c.cmd("LINSERT l BEFORE b x"), int(5));
        assert_eq!(c.cmd("LINSERT l after b y"), int(6));
        assert_eq!(
            c.cmd("LRANGE l 0 -1"),
            bulks(&["a", "x", "b", "y", "c", "b"])
        );
        assert_eq!(c.cmd("LINSERT l before zz x"), int(-1));
        assert_eq!(c.cmd("LINSERT nope before a b"), int(0));
        assert_eq!(c.cmd("LINSERT l middle a b"), err("ERR syntax error"));

        c.cmd("DEL l");
        c.cmd("RPUSH l a b a c a b a");
        assert_eq!(c.cmd("LREM l 2 a"), int(2));
        assert_eq!(c.cmd("LRANGE l 0 -1"), bulks(&["b", "c", "a", "b", "a"]));
        assert_eq!(c.cmd("LREM l -1 a"), int(1));
        assert_eq!(c.cmd("LRANGE l 0 -1"), bulks(&["b", "c", "a", "b"]));
        assert_eq!(c.cmd("LREM l -1 b"), int(1));
        assert_eq!(c.cmd("LRANGE l 0 -1"), bulks(&["b", "c", "a"]));
        assert_eq!(c.cmd("LREM l 0 zz"), int(0));
        assert_eq!(c.cmd("LREM nope 0 a"), int(0));
        assert_eq!(c.cmd("LREM l 0 b"), int(1));
        assert_eq!(c.cmd("LREM l 0 c"), int(1));
        assert_eq!(c.cmd("LREM l 0 a"), int(1));
        assert_eq!(c.cmd("EXISTS l"), int(0));

        c.cmd("RPUSH l a b c d e f");
        assert_eq!(c.cmd("LTRIM l 1 -2"), Frame::simple("OK"));
        assert_eq!(c.cmd("LRANGE l 0 -1"), bulks(&["b", "c", "d", "e"]));
        assert_eq!(c.cmd("LTRIM l -100 100"), Frame::simple("OK"));
        assert_eq!(c.cmd("LLEN l"), int(4));
        assert_eq!(c.cmd("LTRIM l 2 1"), Frame::simple("OK"));
        assert_eq!(c.cmd("EXISTS l"), int(0));
        assert_eq!(c.cmd("LTRIM nope 0 1"), Frame::simple("OK"));
    }

    #[test]
    fn lpos_options() {
        let mut c = Client::new();
        c.cmd("RPUSH l a b c a b c a");
        assert_eq!(c.cmd("LPOS l a"), int(0));
        assert_eq!(c.cmd("LPOS l zz"), Frame::NullBulk);
        assert_eq!(c.cmd("LPOS l a RANK 2"), int(3));
        assert_eq!(c.cmd("LPOS l a RANK -1"), int(6));
        assert_eq!(c.cmd("LPOS l a RANK -2"), int(3));
        assert_eq!(c.cmd("LPOS l a RANK 4"), Frame::NullBulk);
        assert_eq!(c.cmd("LPOS l a COUNT 0"), ints(&[0, 3, 6]));
        assert_eq!(c.cmd("LPOS l a COUNT 2"), ints(&[0, 3]));
        assert_eq!(c.cmd("LPOS l a RANK -1 COUNT 2"), ints(&[6, 3]));
        assert_eq!(c.cmd("LPOS l a RANK 2 COUNT 0"), ints(&[3, 6]));
        assert_eq!(c.cmd("LPOS l a COUNT 0 MAXLEN 4"), ints(&[0, 3]));
        assert_eq!(c.cmd("LPOS l c RANK -1 MAXLEN 1"), Frame::NullBulk);
        assert_eq!(c.cmd("LPOS l zz COUNT 1"), ints(&[]));
        assert_eq!(c.cmd("LPOS nope a"), Frame::NullBulk);
        assert_eq!(c.cmd("LPOS nope a COUNT 1"), ints(&[]));
        // Redis 7.0 negates the most negative rank without a check: it finds the first match
        // from the tail.
        assert_eq!(c.cmd("LPOS l a RANK -9223372036854775808"), int(6));
        assert_eq!(
            c.cmd("LPOS l a RANK 0"),
            err("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list")
        );
        assert_eq!(
            c.cmd("LPOS l a COUNT -1"),
            err("ERR COUNT can't be negative")
        );
        assert_eq!(
            c.cmd("LPOS l a MAXLEN x"),
            err("ERR MAXLEN can't be negative")
        );
        assert_eq!(c.cmd("LPOS l a RANK"), err("ERR syntax error"));
        assert_eq!(c.cmd("LPOS l a FOO 1"), err("ERR syntax error"));
    }

    #[test]
    fn lmove_and_rpoplpush() {
        let mut c = Client::new();
        c.cmd("RPUSH src a b c");
        assert_eq!(c.cmd("LMOVE src dst LEFT RIGHT"), bulk("a"));
        assert_eq!(c.cmd("LMOVE src dst right left"), bulk("c"));
        assert_eq!(c.cmd("LRANGE dst 0 -1"), bulks(&["c", "a"]));
        assert_eq!(c.cmd("RPOPLPUSH src dst"), bulk("b"));
        assert_eq!(c.cmd("EXISTS src"), int(0));
        assert_eq!(c.cmd("LRANGE dst 0 -1"), bulks(&["b", "c", "a"]));
        assert_eq!(c.cmd("LMOVE src dst LEFT LEFT"), Frame::NullBulk);
        // Same key: a rotation.
        assert_eq!(c.cmd("LMOVE dst dst LEFT RIGHT"), bulk("b"));
        assert_eq!(c.cmd("LRANGE dst 0 -1"), bulks(&["c", "a", "b"]));
        assert_eq!(c.cmd("RPOPLPUSH dst dst"), bulk("b"));
        assert_eq!(c.cmd("LRANGE dst 0 -1"), bulks(&["b", "c", "a"]));
        assert_eq!(c.cmd("LMOVE dst dst UP LEFT"), err("ERR syntax error"));
        // A string destination is refused before the source changes.
        c.cmd("SET s v");
        assert_eq!(c.cmd("LMOVE dst s LEFT LEFT"), err(WRONGTYPE));
        assert_eq!(c.cmd("LLEN dst"), int(3));
        assert_eq!(c.cmd("LMOVE nope s LEFT LEFT"), Frame::NullBulk);
        assert_eq!(c.cmd("RPOPLPUSH s dst"), err(WRONGTYPE));
    }

    #[test]
    fn lmpop_picks_the_first_non_empty_list() {
        let mut c = Client::new();
        c.cmd("RPUSH l1 a b c");
        c.cmd("RPUSH l2 x y");
        assert_eq!(
            c.cmd("LMPOP 2 nope l1 RIGHT"),
            Frame::Array(vec![bulk("l1"), bulks(&["c"])])
        );
        assert_eq!(
            c.cmd("LMPOP 2 l2 l1 left COUNT 5"),
            Frame::Array(vec![bulk("l2"), bulks(&["x", "y"])])
        );
        assert_eq!(c.cmd("EXISTS l2"), int(0));
        assert_eq!(c.cmd("LMPOP 1 nope LEFT"), Frame::NullArray);
        let numkeys = "ERR numkeys should be greater than 0";
        assert_eq!(c.cmd("LMPOP 0 l1 LEFT"), err(numkeys));
        assert_eq!(c.cmd("LMPOP x l1 LEFT"), err(numkeys));
        assert_eq!(c.cmd("LMPOP 2 l1 LEFT"), err("ERR syntax error"));
        assert_eq!(c.cmd("LMPOP 1 l1 UP"), err("ERR syntax error"));
        let count = "ERR count should be greater than 0";
        assert_eq!(c.cmd("LMPOP 1 l1 LEFT COUNT 0"), err(count));
        assert_eq!(c.cmd("LMPOP 1 l1 LEFT COUNT x"), err(count));
        assert_eq!(
            c.cmd("LMPOP 1 l1 LEFT COUNT 1 COUNT 1"),
            err("ERR syntax error")
        );
        c.cmd("SET s v");
        assert_eq!(c.cmd("LMPOP 2 s l1 LEFT"), err(WRONGTYPE));
        assert_eq!(
            c.cmd("LMPOP 2 l1 s LEFT"),
            Frame::Array(vec![bulk("l1"), bulks(&["a"])])
        );
    }

    #[test]
    fn lmpop_locks_the_keys_numkeys_names() {
        let engine = Engine::new(1, 16);
        let session = Session::default();
        let args = |words: &[&'static str]| -> Vec<&'static [u8]> {
            words.iter().map(|w| w.as_bytes()).collect()
        };
        let (spec, _) = engine
            .lookup(&args(&["LMPOP", "2", "a", "b", "LEFT"]))
            .expect("lmpop is in the table");
        let plan = engine.lock_plan(spec, &session, &args(&["LMPOP", "2", "a", "b", "LEFT"]));
        let keyspace = &engine.keyspace;
        assert!(plan.write);
        assert_eq!(
            plan.shards.to_vec(),
            vec![(0, keyspace.shard_of(b"a")), (0, keyspace.shard_of(b"b"))]
        );
        for bad in [
            &["LMPOP", "0", "a", "LEFT"][..],
            &["LMPOP", "x", "a", "LEFT"],
            &["LMPOP", "5", "a", "LEFT"],
        ] {
            assert!(engine
                .lock_plan(spec, &session, &args(bad))
                .shards
                .is_empty());
        }
    }

    #[test]
    fn wrong_types_both_ways() {
        let mut c = Client::new();
        c.cmd("SET s v");
        for line in [
            "LPUSH s a",
            "RPUSH s a",
            "LPUSHX s a",
            "RPUSHX s a",
            "LPOP s",
            "RPOP s 0",
            "LLEN s",
            "LRANGE s 0 -1",
            "LINDEX s 0",
            "LSET s 0 a",
            "LINSERT s BEFORE a b",
            "LREM s 0 a",
            "LTRIM s 0 1",
            "LPOS s a",
            "LMOVE s d LEFT LEFT",
            "RPOPLPUSH s d",
            "LMPOP 1 s LEFT",
        ] {
            assert_eq!(c.cmd(line), err(WRONGTYPE), "{line}");
        }
        assert_eq!(c.cmd("GET s"), bulk("v"));
        c.cmd("RPUSH l a");
        for line in [
            "GET l",
            "APPEND l x",
            "INCR l",
            "STRLEN l",
            "GETRANGE l 0 1",
        ] {
            assert_eq!(c.cmd(line), err(WRONGTYPE), "{line}");
        }
        // SET replaces a list whatever its type.
        assert_eq!(c.cmd("SET l v"), Frame::simple("OK"));
        assert_eq!(c.cmd("LLEN l"), err(WRONGTYPE));
    }

    /// Lists long enough to span many chunks, with elements from empty to larger than a chunk,
    /// through every command that walks or edits the middle, against a `VecDeque`.
    #[test]
    fn long_lists_with_mixed_sizes() {
        use std::collections::VecDeque;

        let mut c = Client::new();
        let mut model: VecDeque<Vec<u8>> = VecDeque::new();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |bound: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % bound
        };
        let sizes = [0, 1, 20, 127, 128, 400, 600, 5000];
        let element = |n: u64| {
            let size = sizes[(n % sizes.len() as u64) as usize];
            let mut e = format!("e{n}:").into_bytes();
            e.resize(size.max(e.len()), b'.');
            e
        };
        for i in 0..3000 {
            let e = element(next(40));
            if i % 3 == 0 {
                c.run(&[b"LPUSH", b"l", &e]);
                model.push_front(e);
            } else {
                c.run(&[b"RPUSH", b"l", &e]);
                model.push_back(e);
            }
        }
        let check = |c: &mut Client, model: &VecDeque<Vec<u8>>| {
            let all = Frame::Array(
                model
                    .iter()
                    .map(|e| Frame::bulk(Bytes::copy_from_slice(e)))
                    .collect(),
            );
            assert_eq!(c.cmd("LRANGE l 0 -1"), all);
            assert_eq!(c.int("LLEN l"), model.len() as i64);
        };
        check(&mut c, &model);
        for round in 0..300 {
            let len = model.len() as u64;
            let at = next(len);
            let e = element(next(40));
            match round % 6 {
                0 => {
                    assert_eq!(
                        c.run(&[b"LSET", b"l", at.to_string().as_bytes(), &e]),
                        Frame::simple("OK")
                    );
                    model[at as usize] = e;
                }
                1 => {
                    let pivot = model[at as usize].clone();
                    c.run(&[b"LINSERT", b"l", b"BEFORE", &pivot, &e]);
                    let first = model.iter().position(|x| *x == pivot).unwrap_or(0);
                    model.insert(first, e);
                }
                2 => {
                    let target = model[at as usize].clone();
                    let removed = c.run(&[b"LREM", b"l", b"-2", &target]);
                    let mut gone = 0;
                    let mut i = model.len();
                    while i > 0 && gone < 2 {
                        i -= 1;
                        if model[i] == target {
                            model.remove(i);
                            gone += 1;
                        }
                    }
                    assert_eq!(removed, int(gone));
                }
                3 => {
                    let expected = model
                        .get(at as usize)
                        .map_or(Frame::NullBulk, |e| Frame::bulk(Bytes::copy_from_slice(e)));
                    assert_eq!(c.cmd(&format!("LINDEX l {at}")), expected);
                    let from = at as usize;
                    let range = Frame::Array(
                        model
                            .iter()
                            .skip(from)
                            .take(100)
                            .map(|e| Frame::bulk(Bytes::copy_from_slice(e)))
                            .collect(),
                    );
                    assert_eq!(c.cmd(&format!("LRANGE l {from} {}", from + 99)), range);
                }
                4 => {
                    let target = model[at as usize].clone();
                    let positions: Vec<i64> = model
                        .iter()
                        .enumerate()
                        .rev()
                        .filter(|(_, x)| **x == target)
                        .map(|(i, _)| i as i64)
                        .collect();
                    assert_eq!(
                        c.run(&[b"LPOS", b"l", &target, b"RANK", b"-1", b"COUNT", b"0"]),
                        ints(&positions)
                    );
                }
                _ => {
                    c.cmd("LTRIM l 1 -2");
                    model.pop_front();
                    model.pop_back();
                    let popped = c.cmd("LMOVE l l RIGHT LEFT");
                    if let Some(e) = model.pop_back() {
                        assert_eq!(popped, Frame::bulk(Bytes::copy_from_slice(&e)));
                        model.push_front(e);
                    }
                }
            }
        }
        check(&mut c, &model);
        assert_eq!(c.cmd("OBJECT ENCODING l"), Frame::bulk("quicklist"));
        // DUMP and RESTORE carry the elements, whatever the chunking.
        let payload = match c.cmd("DUMP l") {
            Frame::Bulk(payload) => payload,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            c.run(&[b"RESTORE", b"copy", b"0", &payload]),
            Frame::simple("OK")
        );
        assert_eq!(c.cmd("LRANGE copy 0 -1"), c.cmd("LRANGE l 0 -1"));
        // Popping everything deletes the key.
        let all = model.len();
        assert_eq!(c.cmd(&format!("RPOP l {all}")), {
            Frame::Array(
                model
                    .iter()
                    .rev()
                    .map(|e| Frame::bulk(Bytes::copy_from_slice(e)))
                    .collect(),
            )
        });
        assert_eq!(c.cmd("EXISTS l"), int(0));
    }

    #[test]
    fn expiry_survives_changes_and_goes_with_the_key() {
        let mut c = Client::new();
        c.cmd("RPUSH l a b");
        assert_eq!(c.cmd("EXPIRE l 100"), int(1));
        c.cmd("RPUSH l c");
        c.cmd("LPOP l");
        assert!(c.int("TTL l") > 0);
        c.cmd("LPOP l 2");
        assert_eq!(c.cmd("TTL l"), int(-2));
        c.cmd("RPUSH l a");
        assert_eq!(c.cmd("TTL l"), int(-1));
    }

    /// Runs each command and checks the keyspace notifications it published, in order, as
    /// `"<event> <key>"` (database 0, every class and `new`).
    pub(crate) fn check_events(c: &mut Client, cases: &[(&str, &[&str])]) {
        let seen = crate::keys::tests::record_events(c, "EAn");
        for (line, expected) in cases {
            c.cmd(line);
            let published: Vec<String> = std::mem::take(&mut *seen.lock())
                .into_iter()
                .map(|e| e.strip_prefix("0 ").expect("database 0").to_string())
                .collect();
            assert_eq!(published, *expected, "{line}");
        }
    }

    /// The events Redis 7.0 publishes for each list command: one per change, none for a
    /// command that changes nothing, `del` after the event that took the last element, and a
    /// move's destination before its source.
    #[test]
    fn list_commands_publish_redis_events() {
        let mut c = Client::new();
        c.put_expired(0, b"old");
        check_events(
            &mut c,
            &[
                ("LPUSH l a b", &["new l", "lpush l"]),
                ("RPUSHX l c", &["rpush l"]),
                ("LPUSHX nolist a", &[]),
                ("LINSERT l BEFORE a x", &["linsert l"]),
                ("LINSERT l BEFORE nopivot x", &[]),
                ("LSET l 0 y", &["lset l"]),
                ("LSET l 99 y", &[]),
                ("LREM l 0 nothing", &[]),
                ("LREM l 1 y", &["lrem l"]),
                ("LTRIM l 0 -1", &["ltrim l"]),
                ("LPOP l 0", &[]),
                ("RPOP l", &["rpop l"]),
                (
                    "LMOVE l dst LEFT RIGHT",
                    &["new dst", "rpush dst", "lpop l"],
                ),
                ("RPOPLPUSH l dst", &["lpush dst", "rpop l", "del l"]),
                ("RPOPLPUSH l dst", &[]),
                ("LMOVE dst dst LEFT LEFT", &["lpush dst", "lpop dst"]),
                (
                    "LMOVE dst old LEFT LEFT",
                    &["expired old", "new old", "lpush old", "lpop dst"],
                ),
                ("LPOP dst 5", &["lpop dst", "del dst"]),
                ("RPUSH l a b c", &["new l", "rpush l"]),
                ("LMPOP 2 nolist l RIGHT COUNT 2", &["rpop l"]),
                ("BLPOP nolist l 0", &["lpop l", "del l"]),
                ("RPUSH l a", &["new l", "rpush l"]),
                ("LTRIM l 1 0", &["ltrim l", "del l"]),
                ("SET s v", &["new s", "set s"]),
                ("LPUSH s a", &[]),
            ],
        );
    }
}
