//! Set commands (Redis's `t_set.c`).
//!
//! A set is a `SetValue` of members. It is never empty: the command that removes its last
//! member deletes the key, and a `*STORE` command whose result is empty deletes its
//! destination, as Redis does. Arguments are checked in Redis's order, so that a request with
//! several faults gets the same error from both.
//!
//! A set is an intset or a hash table (see [`crate::set_value`] for the two forms and when a
//! set changes from one to the other).
//!
//! Reply order follows Redis's, which comes from the form: a command that walks a stored set
//! (SMEMBERS, SSCAN, SINTER walking its smallest input, SRANDMEMBER returning the whole set)
//! answers in that set's order, ascending for an intset; a command whose reply Redis builds as
//! a new set (SUNION, SDIFF, SPOP taking the whole set) answers in the order of the set it
//! would build, ascending when that is an intset (every member an integer, at most
//! `set-max-intset-entries` of them). Hash-table order is kv's own, which no client may rely
//! on (Redis's is its dict's).

use std::collections::HashSet;
use std::hash::BuildHasher;

use crate::command::CommandSpec;
use crate::intset::{parse_member, Member};
use crate::notify::EventClass;
use crate::table::{command, engine};
use crate::{Args, CommandError, CommandResult, CompactBytes, Ctx, Entry, Reply, SetValue, Value};

/// The set at `key` for a read (counts a keyspace hit or miss): `None` if missing,
/// `WRONGTYPE` if another type.
fn set_at<'c>(ctx: &'c Ctx<'_, '_>, key: &[u8]) -> Result<Option<&'c SetValue>, CommandError> {
    as_set(ctx.lookup(key)?)
}

/// The set in `entry`, if any; `WRONGTYPE` for another type.
fn as_set(entry: Option<&Entry>) -> Result<Option<&SetValue>, CommandError> {
    match entry {
        None => Ok(None),
        Some(Entry {
            value: Value::Set(set),
            ..
        }) => Ok(Some(set)),
        Some(_) => Err(CommandError::WrongType),
    }
}

/// The sets at `keys`, every type checked before any result is computed (Redis checks them
/// all, even after a missing key). A `write` command looks its sources up as Redis's
/// `lookupKeyWrite` does, without counting keyspace hits or misses, and deletes (and reports)
/// the expired ones it meets, up to the first of another type.
fn sets_at<'c>(
    ctx: &'c mut Ctx<'_, '_>,
    keys: &[&[u8]],
    write: bool,
) -> Result<Vec<Option<&'c SetValue>>, CommandError> {
    if write {
        // A mutable lookup is what deletes an expired key; the sets are read afterwards.
        for key in keys {
            if let Some(entry) = ctx.lookup_write(key)? {
                if !matches!(entry.value, Value::Set(_)) {
                    return Err(CommandError::WrongType);
                }
            }
        }
    }
    let ctx: &'c Ctx<'_, '_> = ctx;
    keys.iter()
        .map(|key| {
            if write {
                as_set(ctx.locked.get(ctx.db(), key, ctx.now)?)
            } else {
                set_at(ctx, key)
            }
        })
        .collect()
}

/// Runs `change` on the set at `key` for a write. A missing key is created empty first when
/// `create`, else `change` is not run and `None` is returned. A set `change` leaves empty is
/// deleted, so no command can leave an empty set behind; the flag beside `change`'s result
/// says whether that happened.
fn update<T>(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    create: bool,
    change: impl FnOnce(&mut SetValue) -> T,
) -> Result<Option<(T, bool)>, CommandError> {
    let (db, now) = (ctx.db(), ctx.now);
    let lfu = ctx.engine.lfu();
    let entry = if create {
        // Redis's `setTypeCreate` makes an intset for an integer and a hash table otherwise;
        // an empty intset that converts on its first non-integer comes to the same.
        let make = || Entry::new(Value::Set(SetValue::new()), now);
        Some(ctx.locked.get_or_insert_with(db, key, now, make)?.0)
    } else {
        ctx.locked.get_mut(db, key, now)?
    };
    let Some(entry) = entry else {
        return Ok(None);
    };
    // Redis's write lookup records the access whatever the type it then finds.
    entry.touch(now, lfu);
    let Value::Set(set) = &mut entry.value else {
        return Err(CommandError::WrongType);
    };
    let result = change(set);
    let deleted = set.is_empty();
    if deleted {
        ctx.locked.remove(db, key, now)?;
    }
    Ok(Some((result, deleted)))
}

/// Reports that the command took members out of the set at `key` with `event`, then `del`
/// when [`update`] deleted the emptied key, in the order Redis publishes them.
fn report_removal(ctx: &Ctx<'_, '_>, key: &[u8], event: &str, deleted: bool) {
    ctx.modified(EventClass::SET, event, key);
    if deleted {
        ctx.notify(EventClass::GENERIC, "del", key);
    }
}

/// Stores `members` at `destination` as a fresh persistent set, replacing any value of any
/// type, and reports `event`; an empty result deletes the destination instead, reported as
/// `del` if there was one. Returns the stored size.
fn store(
    ctx: &mut Ctx<'_, '_>,
    destination: &[u8],
    members: SetValue,
    event: &str,
) -> Result<usize, CommandError> {
    let (db, now) = (ctx.db(), ctx.now);
    let len = members.len();
    if len == 0 {
        if ctx.locked.delete_even_expired(db, destination)? {
            ctx.modified(EventClass::GENERIC, "del", destination);
        }
    } else {
        let entry = Entry::new(Value::Set(members), now);
        ctx.locked.insert(db, destination, entry, now)?;
        ctx.modified(EventClass::SET, event, destination);
    }
    Ok(len)
}

/// Writes `members`, in the order given, as a set (RESP3 `~`, an array in RESP2) or an array.
fn write_members<M: std::ops::Deref<Target = [u8]>>(
    reply: &mut Reply,
    members: &[M],
    as_set: bool,
) {
    if as_set {
        reply.set(members.len());
    } else {
        reply.array(members.len());
    }
    for member in members {
        reply.bulk(member);
    }
}

/// Puts `members` (distinct) in the order of the set Redis would build from them (a fresh
/// intset, members added one by one): ascending when every one is an integer and there are
/// at most `max_intset`, else left as they are (a hash table's order is its own).
fn in_built_set_order(members: &mut [Member<'_>], max_intset: usize) {
    if members.len() > max_intset {
        return;
    }
    let keys: Option<Vec<i64>> = members.iter().map(|m| parse_member(m)).collect();
    if let Some(keys) = keys {
        let mut keyed: Vec<(i64, Member<'_>)> =
            keys.into_iter().zip(members.iter().copied()).collect();
        keyed.sort_unstable_by_key(|(n, _)| *n);
        for (slot, (_, member)) in members.iter_mut().zip(keyed) {
            *slot = member;
        }
    }
}

/// `SADD key member [member ...]`: how many members were added.
pub fn sadd(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let members = args.rest();
    let max_intset = ctx.engine.config.set_max_intset_entries();
    let added = update(ctx, key, true, |set| set.insert_all(members, max_intset))?;
    let added = added.map_or(0, |(added, _)| added);
    if added > 0 {
        ctx.modified(EventClass::SET, "sadd", key);
    }
    reply.count(added);
    Ok(())
}

/// `SREM key member [member ...]`: how many members were removed; the key goes with the last.
pub fn srem(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let members = args.rest();
    let removed = update(ctx, key, false, |set| {
        members.iter().filter(|m| set.remove(&m[..])).count()
    })?;
    let removed = match removed {
        Some((removed, deleted)) if removed > 0 => {
            report_removal(ctx, key, "srem", deleted);
            removed
        }
        _ => 0,
    };
    reply.count(removed);
    Ok(())
}

/// `SCARD key`: the number of members, 0 for a missing key.
pub fn scard(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    reply.count(set_at(ctx, key)?.map_or(0, |s| s.len()));
    Ok(())
}

/// `SISMEMBER key member`: 1 if the member is in the set, else 0.
pub fn sismember(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let member = args.next_bytes()?;
    let found = set_at(ctx, key)?.is_some_and(|s| s.contains(member));
    reply.integer(i64::from(found));
    Ok(())
}

/// `SMISMEMBER key member [member ...]`: 1 or 0 for each member.
pub fn smismember(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let members = args.rest();
    let set = set_at(ctx, key)?;
    reply.array(members.len());
    for member in members {
        reply.integer(i64::from(set.is_some_and(|s| s.contains(&member[..]))));
    }
    Ok(())
}

/// `SMEMBERS key`: every member (a set in RESP3, as Redis answers it through SINTER).
pub fn smembers(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let members: Vec<Member<'_>> = set_at(ctx, key)?
        .map(|s| s.iter().collect())
        .unwrap_or_default();
    write_members(reply, &members, true);
    Ok(())
}

/// The set operations SINTER, SUNION and SDIFF share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// The members of `op` over `sets` (`None` is a missing key, an empty set), without
/// duplicates. `limit` stops an intersection once it has that many (0: no limit). An
/// intersection comes in the order of its smallest input, as Redis walks that one; a union or
/// difference in the order its inputs are walked.
fn combine<'s>(sets: &[Option<&'s SetValue>], op: Op, limit: usize) -> Vec<Member<'s>> {
    match op {
        Op::Inter => {
            // An intersection with an empty set is empty.
            let Some(mut present) = sets.iter().copied().collect::<Option<Vec<_>>>() else {
                return Vec::new();
            };
            // Walk the smallest set and probe the others, as Redis does.
            present.sort_by_key(|s| s.len());
            let Some((smallest, others)) = present.split_first() else {
                return Vec::new();
            };
            let mut out = Vec::new();
            for member in smallest.iter() {
                if others.iter().all(|s| s.contains(&member)) {
                    out.push(member);
                    if out.len() == limit {
                        break;
                    }
                }
            }
            out
        }
        Op::Union => {
            let mut seen: HashSet<Member<'s>> = HashSet::new();
            sets.iter()
                .flatten()
                .flat_map(|s| s.iter())
                .filter(|m| seen.insert(*m))
                .collect()
        }
        Op::Diff => {
            let Some(Some(first)) = sets.first() else {
                return Vec::new();
            };
            let others: Vec<&SetValue> = sets[1..].iter().flatten().copied().collect();
            first
                .iter()
                .filter(|m| !others.iter().any(|s| s.contains(m)))
                .collect()
        }
    }
}

/// SINTER, SUNION, SDIFF and their `*STORE` forms: replies with the members, or stores them
/// at the destination and replies with how many there are.
fn combine_command(
    ctx: &mut Ctx<'_, '_>,
    args: &mut Args<'_>,
    reply: &mut Reply,
    op: Op,
    with_store: bool,
) -> CommandResult {
    let destination = if with_store {
        Some(args.next_bytes()?)
    } else {
        None
    };
    let keys = args.rest();
    let max_intset = ctx.engine.config.set_max_intset_entries();
    let sets = sets_at(ctx, keys, with_store)?;
    let mut members = combine(&sets, op, 0);
    let Some(destination) = destination else {
        // Redis replies SINTER while walking its smallest input, but builds the result of
        // SUNION and SDIFF as a new set first and replies in that set's order.
        if op != Op::Inter {
            in_built_set_order(&mut members, max_intset);
        }
        write_members(reply, &members, true);
        return Ok(());
    };
    // Redis builds every stored result from a fresh intset: its content picks the form.
    let owned = SetValue::from_members(members.iter().map(|m| &**m), max_intset);
    let event = match op {
        Op::Inter => "sinterstore",
        Op::Union => "sunionstore",
        Op::Diff => "sdiffstore",
    };
    let len = store(ctx, destination, owned, event)?;
    reply.count(len);
    Ok(())
}

/// `SINTER key [key ...]`: the members in every set.
pub fn sinter(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    combine_command(ctx, args, reply, Op::Inter, false)
}

/// `SINTERSTORE destination key [key ...]`
pub fn sinterstore(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    combine_command(ctx, args, reply, Op::Inter, true)
}

/// `SUNION key [key ...]`: the members in any set.
pub fn sunion(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    combine_command(ctx, args, reply, Op::Union, false)
}

/// `SUNIONSTORE destination key [key ...]`
pub fn sunionstore(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    combine_command(ctx, args, reply, Op::Union, true)
}

/// `SDIFF key [key ...]`: the members of the first set in none of the others.
pub fn sdiff(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    combine_command(ctx, args, reply, Op::Diff, false)
}

/// `SDIFFSTORE destination key [key ...]`
pub fn sdiffstore(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    combine_command(ctx, args, reply, Op::Diff, true)
}

/// `SINTERCARD numkeys key [key ...] [LIMIT limit]`: the size of the intersection, counting
/// stopped at `limit` when it is not 0.
pub fn sintercard(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let numkeys = crate::args::parse_numkeys(args.next_bytes()?)?;
    let rest = args.rest();
    let Some(keys) = rest.get(..numkeys) else {
        return Err(CommandError::msg(
            "ERR Number of keys can't be greater than number of args",
        ));
    };
    let mut options = Args::new(&rest[numkeys..]);
    let mut limit = 0usize;
    while let Some(option) = options.peek() {
        options.next_bytes()?;
        // A repeated LIMIT is allowed: the last one counts.
        if option.eq_ignore_ascii_case(b"limit") && !options.is_empty() {
            limit = match crate::args::parse_i64(options.next_bytes()?) {
                Ok(n) if n >= 0 => usize::try_from(n).unwrap_or(usize::MAX),
                _ => return Err(CommandError::msg("ERR LIMIT can't be negative")),
            };
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let sets = sets_at(ctx, keys, false)?;
    reply.count(combine(&sets, Op::Inter, limit).len());
    Ok(())
}

/// `SMOVE source destination member`: 1 if the member moved, 0 if the source lacks it.
///
/// Both types are checked before anything changes (a missing source answers 0 without looking
/// at the destination's type, as Redis does), so a WRONGTYPE destination leaves the source
/// intact.
pub fn smove(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let source = args.next_bytes()?;
    let destination = args.next_bytes()?;
    let member = args.next_bytes()?;
    let (db, now) = (ctx.db(), ctx.now);
    let lfu = ctx.engine.lfu();
    // Redis looks both keys up for a write, deleting expired ones, before checking either.
    let mut is_set = |key: &[u8]| -> Result<Option<bool>, CommandError> {
        let entry = ctx.locked.get_mut(db, key, now)?;
        Ok(entry.map(|entry| {
            entry.touch(now, lfu);
            matches!(entry.value, Value::Set(_))
        }))
    };
    let source_is_set = is_set(source)?;
    let destination_is_set = is_set(destination)?;
    let Some(source_is_set) = source_is_set else {
        reply.integer(0);
        return Ok(());
    };
    if !source_is_set || destination_is_set == Some(false) {
        return Err(CommandError::WrongType);
    }
    if source == destination {
        // Moving a member onto its own set changes nothing.
        let found = as_set(ctx.locked.get(db, source, now)?)?.is_some_and(|s| s.contains(member));
        reply.integer(i64::from(found));
        return Ok(());
    }
    let max_intset = ctx.engine.config.set_max_intset_entries();
    let removed = update(ctx, source, false, |set| set.remove(member))?;
    let Some((true, deleted)) = removed else {
        reply.integer(0);
        return Ok(());
    };
    report_removal(ctx, source, "srem", deleted);
    let added = update(ctx, destination, true, |set| set.insert(member, max_intset))?;
    // A member the destination already had leaves it unchanged.
    if matches!(added, Some((true, _))) {
        ctx.modified(EventClass::SET, "sadd", destination);
    }
    reply.integer(1);
    Ok(())
}

/// `SPOP key [count]`: removes and returns a random member (nil if missing), or up to `count`
/// distinct members as a set; the key goes with its last member.
pub fn spop(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    if args.remaining() > 1 {
        return Err(CommandError::Syntax);
    }
    let Some(count_arg) = args.peek() else {
        let popped = update(ctx, key, false, |set| {
            set.pop_random(&mut crate::random::Rng::new())
        })?;
        match popped {
            Some((Some(member), deleted)) => {
                reply.bulk(&member);
                report_removal(ctx, key, "spop", deleted);
                // Replayed as what chance took.
                ctx.propagate(|| crate::effect_args!(b"SREM", key, member.as_bytes()));
            }
            _ => reply.null(),
        }
        return Ok(());
    };
    let count = match crate::args::parse_i64(count_arg) {
        Ok(n) if n >= 0 => usize::try_from(n).unwrap_or(usize::MAX),
        _ => {
            return Err(CommandError::msg(
                "ERR value is out of range, must be positive",
            ))
        }
    };
    let max_intset = ctx.engine.config.set_max_intset_entries();
    let popped = update(ctx, key, false, |set| {
        if count >= set.len() {
            // The whole set: the key goes. Redis replies with it as the union of the one
            // set, built as a new set, so the order is that set's.
            let whole = std::mem::take(set);
            let mut members: Vec<Member<'_>> = whole.iter().collect();
            in_built_set_order(&mut members, max_intset);
            return members
                .iter()
                .map(|m| CompactBytes::new(m))
                .collect::<Vec<_>>();
        }
        // O(count) from a hash table; one pass over an intset's array.
        set.pop_many(&mut crate::random::Rng::new(), count)
    })?;
    let popped = match popped {
        // A count of 0 changes nothing.
        Some((popped, deleted)) if count > 0 => {
            report_removal(ctx, key, "spop", deleted);
            ctx.propagate(|| {
                if deleted {
                    return crate::effect_args!(b"DEL", key);
                }
                let mut effect = crate::effect_args!(b"SREM", key);
                effect.extend(popped.iter().map(|m| crate::effects::arg(m.as_bytes())));
                effect
            });
            popped
        }
        _ => Vec::new(),
    };
    write_members(reply, &popped, true);
    Ok(())
}

/// `SRANDMEMBER key [count]`: a random member (nil if missing), or with a count an array: a
/// positive count gives distinct members, at most the whole set; a negative one gives exactly
/// `-count`, possibly repeated.
pub fn srandmember(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    if args.remaining() > 1 {
        return Err(CommandError::Syntax);
    }
    let Some(count_arg) = args.peek() else {
        match set_at(ctx, key)? {
            None => reply.null(),
            Some(set) => {
                let member = set.random(&mut crate::random::Rng::new());
                reply.bulk(&member.ok_or(CommandError::Internal("empty set"))?);
            }
        }
        return Ok(());
    };
    args.next_bytes()?;
    let (count, _) = crate::random::pick_count(count_arg, args, None)?;
    let Some(set) = set_at(ctx, key)? else {
        reply.array(0);
        return Ok(());
    };
    let wanted = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
    let mut rng = crate::random::Rng::new();
    if count < 0 {
        // Independent O(1) draws; nothing is allocated in proportion to the count.
        reply.array(wanted);
        for _ in 0..wanted {
            let member = set.random(&mut rng);
            reply.bulk(&member.ok_or(CommandError::Internal("empty set"))?);
        }
        return Ok(());
    }
    if wanted >= set.len() {
        // The whole set, in the order Redis walks it.
        let members: Vec<Member<'_>> = set.iter().collect();
        write_members(reply, &members, false);
        return Ok(());
    }
    let picked = set.distinct(&mut rng, wanted);
    write_members(reply, &picked, false);
    Ok(())
}

/// `SSCAN key cursor [MATCH pattern] [COUNT count]`: the next cursor and a batch of members.
///
/// An intset comes back whole with cursor 0, in ascending numeric order, whatever the cursor
/// and COUNT, as Redis answers for intsets. A hash table is walked bucket by bucket, COUNT
/// members a call (see `scan::collection_step`): every member present for the whole
/// iteration is returned at least once however the set grows, shrinks or rehashes.
pub fn sscan(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let cursor = crate::keys::parse_cursor(args.next_bytes()?)?;
    // Redis looks the key up before it reads the options: a missing key answers an empty
    // scan even with bad options.
    let Some(set) = set_at(ctx, key)? else {
        crate::scan::empty_scan(reply);
        return Ok(());
    };
    let options = crate::scan::ScanOptions::parse(args)?;
    let (next, batch): (u64, Vec<Member<'_>>) = match set.table() {
        None => (0, set.iter().collect()),
        Some(table) => {
            let hasher = table.hasher();
            crate::scan::collection_step(
                cursor,
                options.count,
                |from| {
                    let (buckets, layout, nodes) = table.buckets_from(from);
                    let members = nodes.map(|node| node.map(|m| Member::Bytes(m.as_bytes())));
                    (buckets, layout, members)
                },
                || {
                    table
                        .iter()
                        .map(|m| (hasher.hash_one(m.as_bytes()), Member::Bytes(m.as_bytes())))
                },
            )
        }
    };
    let batch: Vec<Member<'_>> = batch.into_iter().filter(|m| options.keeps(m)).collect();
    reply.array(2);
    reply.bulk(itoa::Buffer::new().format(next).as_bytes());
    write_members(reply, &batch, false);
    Ok(())
}

/// Registration block: the set commands' rows of the command table.
pub(crate) static COMMANDS: &[CommandSpec] = &[
    command!("sadd", -3, [WRITE, DENYOOM, FAST], (1, 1, 1), Set, engine!(sadd), "1.0.0",
        "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        "Adds members to a set, creating it if needed.", "key member [member ...]", key_flags: &["RW", "insert"]),
    command!("scard", 2, [READONLY, FAST], (1, 1, 1), Set, engine!(scard), "1.0.0",
        "O(1)", "Returns the number of members in a set.", "key", key_flags: &["RO"]),
    command!("sdiff", -2, [READONLY], (1, -1, 1), Set, engine!(sdiff), "1.0.0",
        "O(N) where N is the total number of elements in all given sets.",
        "Returns the members of the first set that are in none of the others.", "key [key ...]",
        tips: &["nondeterministic_output_order"]),
    command!("sdiffstore", -3, [WRITE, DENYOOM], (1, -1, 1), Set, engine!(sdiffstore), "1.0.0",
        "O(N) where N is the total number of elements in all given sets.",
        "Stores the difference of sets in a key, deleting it when the difference is empty.",
        "destination key [key ...]"),
    command!("sinter", -2, [READONLY], (1, -1, 1), Set, engine!(sinter), "1.0.0",
        "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.",
        "Returns the members common to every set.", "key [key ...]",
        tips: &["nondeterministic_output_order"]),
    command!("sintercard", -3, [READONLY, MOVABLEKEYS], (0, 0, 0), Set, engine!(sintercard),
        "7.0.0",
        "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.",
        "Returns the number of members common to every set, optionally stopping at a limit.",
        "numkeys key [key ...] [LIMIT limit]", key_count_at: Some(1)),
    command!("sinterstore", -3, [WRITE, DENYOOM], (1, -1, 1), Set, engine!(sinterstore), "1.0.0",
        "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.",
        "Stores the intersection of sets in a key, deleting it when the intersection is empty.",
        "destination key [key ...]"),
    command!("sismember", 3, [READONLY, FAST], (1, 1, 1), Set, engine!(sismember), "1.0.0",
        "O(1)", "Tells whether a member is in a set.", "key member", key_flags: &["RO"]),
    command!("smembers", 2, [READONLY], (1, 1, 1), Set, engine!(smembers), "1.0.0",
        "O(N) where N is the set cardinality.", "Returns every member of a set.", "key",
        tips: &["nondeterministic_output_order"]),
    command!("smismember", -3, [READONLY, FAST], (1, 1, 1), Set, engine!(smismember), "6.2.0",
        "O(N) where N is the number of elements being checked for membership",
        "Tells for each of several members whether it is in a set.", "key member [member ...]"),
    command!("smove", 4, [WRITE, FAST], (1, 2, 1), Set, engine!(smove), "1.0.0",
        "O(1)", "Moves a member from one set to another.", "source destination member"),
    command!("spop", -2, [WRITE, FAST], (1, 1, 1), Set, engine!(spop), "1.0.0",
        "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.",
        "Removes and returns random members of a set, deleting it when emptied.", "key [count]",
        tips: &["nondeterministic_output"], key_flags: &["RW", "access", "delete"]),
    command!("srandmember", -2, [READONLY], (1, 1, 1), Set, engine!(srandmember), "1.0.0",
        "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.",
        "Returns random members of a set.", "key [count]", tips: &["nondeterministic_output"]),
    command!("srem", -3, [WRITE, FAST], (1, 1, 1), Set, engine!(srem), "1.0.0",
        "O(N) where N is the number of members to be removed.",
        "Removes members from a set, deleting it with its last member.", "key member [member ...]", key_flags: &["RW", "delete"]),
    command!("sscan", -3, [READONLY], (1, 1, 1), Set, engine!(sscan), "2.8.0",
        "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
        "Iterates over the members of a set.", "key cursor [MATCH pattern] [COUNT count]",
        tips: &["nondeterministic_output"]),
    command!("sunion", -2, [READONLY], (1, -1, 1), Set, engine!(sunion), "1.0.0",
        "O(N) where N is the total number of elements in all given sets.",
        "Returns the members in any of several sets.", "key [key ...]",
        tips: &["nondeterministic_output_order"]),
    command!("sunionstore", -3, [WRITE, DENYOOM], (1, -1, 1), Set, engine!(sunionstore), "1.0.0",
        "O(N) where N is the total number of elements in all given sets.",
        "Stores the union of sets in a key, deleting it when the union is empty.",
        "destination key [key ...]"),
];

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use kv_resp::Frame;

    use super::COMMANDS;
    use crate::keys::tests::{bulk, bulks, err, int, Client};
    use crate::Protocol;

    /// The strings of an array (or RESP3 set) of bulk strings, sorted (set order is kv's).
    fn sorted(frame: Frame) -> Vec<String> {
        let (Frame::Array(items) | Frame::Set(items)) = frame else {
            panic!("{frame:?}")
        };
        let mut out: Vec<String> = items
            .into_iter()
            .map(|f| match f {
                Frame::Bulk(b) => String::from_utf8(b.to_vec()).expect("utf-8"),
                other => panic!("{other:?}"),
            })
            .collect();
        out.sort();
        out
    }

    const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

    #[test]
    fn sadd_srem_and_reads() {
        let mut c = Client::new();
        assert_eq!(c.cmd("SADD s a b a c"), int(3));
        assert_eq!(c.cmd("SADD s c d"), int(1));
        assert_eq!(c.cmd("SCARD s"), int(4));
        assert_eq!(c.cmd("SCARD nokey"), int(0));
        assert_eq!(c.cmd("SISMEMBER s a"), int(1));
        assert_eq!(c.cmd("SISMEMBER s z"), int(0));
        assert_eq!(c.cmd("SISMEMBER nokey a"), int(0));
        assert_eq!(
            c.cmd("SMISMEMBER s a z d"),
            Frame::Array(vec![int(1), int(0), int(1)])
        );
        assert_eq!(c.cmd("SMISMEMBER nokey a"), Frame::Array(vec![int(0)]));
        assert_eq!(sorted(c.cmd("SMEMBERS s")), ["a", "b", "c", "d"]);
        assert_eq!(c.cmd("SMEMBERS nokey"), bulks(&[]));
        assert_eq!(c.cmd("TYPE s"), Frame::simple("set"));
        assert_eq!(c.cmd("OBJECT ENCODING s"), Frame::bulk("hashtable"));
        assert_eq!(
            c.cmd("SADD s"),
            err("ERR wrong number of arguments for 'sadd' command")
        );
        assert_eq!(c.cmd("SREM nokey a"), int(0));
        assert_eq!(c.cmd("SREM s a a z"), int(1));
        assert_eq!(c.cmd("SREM s b c"), int(2));
        assert_eq!(c.cmd("EXISTS s"), int(1));
        assert_eq!(c.cmd("SREM s d"), int(1));
        assert_eq!(c.cmd("EXISTS s"), int(0), "the last member takes the key");
    }

    #[test]
    fn integer_sets_are_intsets_in_numeric_order() {
        let mut c = Client::new();
        c.cmd("SADD s 10 -3 2 9223372036854775807 -9223372036854775808");
        assert_eq!(c.cmd("OBJECT ENCODING s"), Frame::bulk("intset"));
        assert_eq!(
            c.cmd("SMEMBERS s"),
            bulks(&[
                "-9223372036854775808",
                "-3",
                "2",
                "10",
                "9223372036854775807"
            ])
        );
        assert_eq!(
            c.cmd("SSCAN s 0 COUNT 1"),
            Frame::Array(vec![
                bulk("0"),
                bulks(&[
                    "-9223372036854775808",
                    "-3",
                    "2",
                    "10",
                    "9223372036854775807"
                ])
            ])
        );
        // Not integers as Redis reads them: a hash table.
        c.cmd("SADD t 1 007");
        assert_eq!(c.cmd("OBJECT ENCODING t"), Frame::bulk("hashtable"));
        for i in 0..513 {
            c.cmd(&format!("SADD big {i}"));
        }
        assert_eq!(c.cmd("OBJECT ENCODING big"), Frame::bulk("hashtable"));
        assert_eq!(c.cmd("OBJECT REFCOUNT big"), int(1));
    }

    /// Sets `set-max-intset-entries` as CONFIG SET would.
    fn set_max_intset(c: &Client, n: u64) {
        c.engine
            .config
            .set_max_intset_entries
            .store(n, std::sync::atomic::Ordering::Relaxed);
    }

    /// What OBJECT ENCODING says of `key`.
    fn encoding(c: &mut Client, key: &str) -> Frame {
        c.cmd(&format!("OBJECT ENCODING {key}"))
    }

    #[test]
    fn intset_threshold_edges_and_no_way_back() {
        let mut c = Client::new();
        let ints = |a: usize, b: usize| (a..b).map(|i| i.to_string()).collect::<Vec<_>>().join(" ");
        c.cmd(&format!("SADD s {}", ints(0, 512)));
        assert_eq!(encoding(&mut c, "s"), bulk("intset"));
        assert_eq!(c.cmd("SADD s 511 0"), int(0));
        assert_eq!(encoding(&mut c, "s"), bulk("intset"), "512 members");
        assert_eq!(c.cmd("SADD s 512"), int(1));
        assert_eq!(encoding(&mut c, "s"), bulk("hashtable"), "513 members");
        assert_eq!(c.cmd("SREM s 512 511 510"), int(3));
        assert_eq!(encoding(&mut c, "s"), bulk("hashtable"), "never back");
        assert_eq!(c.cmd("SCARD s"), int(510));
        assert_eq!(c.cmd("SISMEMBER s 509"), int(1));
        // A hash table of integers is walked with a cursor, not returned whole.
        let (members, calls) = scan_all(&mut c, "s", "COUNT 10");
        assert!(calls > 1, "{calls} calls");
        assert_eq!(members.len(), 510);
        // A non-integer member converts; the intset's members survive the conversion.
        c.cmd("SADD t 3 1 2");
        assert_eq!(c.cmd("SADD t x"), int(1));
        assert_eq!(encoding(&mut c, "t"), bulk("hashtable"));
        assert_eq!(sorted(c.cmd("SMEMBERS t")), ["1", "2", "3", "x"]);
        c.cmd("SREM t x");
        assert_eq!(encoding(&mut c, "t"), bulk("hashtable"));
        assert_eq!(
            c.cmd("SMISMEMBER t 1 2 3 x"),
            Frame::Array(vec![int(1), int(1), int(1), int(0)])
        );
    }

    #[test]
    fn intset_threshold_is_a_live_setting() {
        let mut c = Client::new();
        c.cmd("SADD s 1 2 3 4 5");
        set_max_intset(&c, 2);
        assert_eq!(
            encoding(&mut c, "s"),
            bulk("intset"),
            "only later additions convert"
        );
        assert_eq!(c.cmd("SADD s 1"), int(0));
        assert_eq!(
            encoding(&mut c, "s"),
            bulk("intset"),
            "an existing member adds nothing"
        );
        assert_eq!(c.cmd("SADD s 9"), int(1));
        assert_eq!(encoding(&mut c, "s"), bulk("hashtable"));
        c.cmd("SADD two 1 2");
        assert_eq!(encoding(&mut c, "two"), bulk("intset"));
        c.cmd("SADD three 1 2 3");
        assert_eq!(encoding(&mut c, "three"), bulk("hashtable"));
        set_max_intset(&c, 0);
        c.cmd("SADD zero 1");
        assert_eq!(encoding(&mut c, "zero"), bulk("hashtable"));
        set_max_intset(&c, 512);
    }

    #[test]
    fn built_sets_take_the_form_of_their_content() {
        let mut c = Client::new();
        c.cmd("SADD h 5 3 1 x");
        c.cmd("SREM h x");
        assert_eq!(encoding(&mut c, "h"), bulk("hashtable"));
        for line in ["SINTERSTORE d h", "SUNIONSTORE d h", "SDIFFSTORE d h nokey"] {
            c.cmd(line);
            assert_eq!(encoding(&mut c, "d"), bulk("intset"), "{line}");
        }
        // Built as a new set, SUNION, SDIFF and a whole-set SPOP reply in that set's order.
        assert_eq!(c.cmd("SUNION h"), bulks(&["1", "3", "5"]));
        assert_eq!(c.cmd("SDIFF h nokey"), bulks(&["1", "3", "5"]));
        c.cmd("SADD h2 5 3 1 x");
        c.cmd("SREM h2 x");
        assert_eq!(c.cmd("SPOP h2 3"), bulks(&["1", "3", "5"]));
        c.cmd("SADD m 2 a");
        c.cmd("SUNIONSTORE d m");
        assert_eq!(encoding(&mut c, "d"), bulk("hashtable"));
        // SMOVE creates its destination as SADD would.
        c.cmd("SADD src 7 b");
        c.cmd("SMOVE src ints 7");
        assert_eq!(encoding(&mut c, "ints"), bulk("intset"));
        c.cmd("SMOVE src strs b");
        assert_eq!(encoding(&mut c, "strs"), bulk("hashtable"));
        // COPY keeps the form.
        c.cmd("COPY h hcopy");
        assert_eq!(encoding(&mut c, "hcopy"), bulk("hashtable"));
        // The sorted-set commands read intset members as their text.
        assert_eq!(
            c.cmd("ZUNION 2 d ints WITHSCORES"),
            bulks(&["2", "1", "7", "1", "a", "1"])
        );
        assert_eq!(c.cmd("SORT ints"), bulks(&["7"]));
        c.cmd("SADD sortme 10 -2 3");
        assert_eq!(c.cmd("SORT sortme BY nosort"), bulks(&["-2", "3", "10"]));
        assert_eq!(c.cmd("SORT sortme ALPHA"), bulks(&["-2", "10", "3"]));
    }

    #[test]
    fn restore_picks_the_form_for_the_content() {
        let mut c = Client::new();
        c.cmd("SADD h 1 2 x");
        c.cmd("SREM h x");
        let Frame::Bulk(payload) = c.cmd("DUMP h") else {
            panic!("a payload")
        };
        assert_eq!(
            c.run(&[b"RESTORE", b"r", b"0", &payload]),
            Frame::simple("OK")
        );
        assert_eq!(
            encoding(&mut c, "r"),
            bulk("intset"),
            "loading picks the form"
        );
        assert_eq!(c.cmd("SMEMBERS r"), bulks(&["1", "2"]));
        set_max_intset(&c, 1);
        assert_eq!(
            c.run(&[b"RESTORE", b"r1", b"0", &payload]),
            Frame::simple("OK")
        );
        assert_eq!(encoding(&mut c, "r1"), bulk("hashtable"));
        set_max_intset(&c, 512);
        c.cmd("SADD str a b");
        let Frame::Bulk(payload) = c.cmd("DUMP str") else {
            panic!("a payload")
        };
        assert_eq!(
            c.run(&[b"RESTORE", b"r2", b"0", &payload]),
            Frame::simple("OK")
        );
        assert_eq!(encoding(&mut c, "r2"), bulk("hashtable"));
    }

    #[test]
    fn resp3_replies_sets_where_redis_does() {
        let mut c = Client::new();
        c.cmd("SADD s 1 2");
        c.set_protocol(Protocol::Resp3);
        assert_eq!(c.cmd("SMEMBERS s"), Frame::Set(vec![bulk("1"), bulk("2")]));
        assert_eq!(c.cmd("SMEMBERS nokey"), Frame::Set(vec![]));
        assert_eq!(c.cmd("SINTER s"), Frame::Set(vec![bulk("1"), bulk("2")]));
        assert_eq!(c.cmd("SUNION nokey"), Frame::Set(vec![]));
        assert_eq!(c.cmd("SDIFF s"), Frame::Set(vec![bulk("1"), bulk("2")]));
        assert_eq!(c.cmd("SPOP nokey 1"), Frame::Set(vec![]));
        assert_eq!(c.cmd("SPOP s 0"), Frame::Set(vec![]));
        // SRANDMEMBER answers arrays, even with the whole set.
        assert_eq!(c.cmd("SRANDMEMBER s 10"), bulks(&["1", "2"]));
        assert_eq!(c.cmd("SRANDMEMBER nokey"), Frame::Null);
        assert_eq!(c.cmd("SPOP s 5"), Frame::Set(vec![bulk("1"), bulk("2")]));
        assert_eq!(c.cmd("EXISTS s"), int(0));
    }

    #[test]
    fn combinations_and_stores() {
        let mut c = Client::new();
        c.cmd("SADD a x y z 1");
        c.cmd("SADD b y z w");
        c.cmd("SADD c z q");
        assert_eq!(sorted(c.cmd("SINTER a b")), ["y", "z"]);
        assert_eq!(sorted(c.cmd("SINTER a b c")), ["z"]);
        assert_eq!(c.cmd("SINTER a nokey"), bulks(&[]));
        assert_eq!(sorted(c.cmd("SUNION a nokey c")), ["1", "q", "x", "y", "z"]);
        assert_eq!(sorted(c.cmd("SDIFF a b")), ["1", "x"]);
        assert_eq!(sorted(c.cmd("SDIFF a nokey c")), ["1", "x", "y"]);
        assert_eq!(c.cmd("SDIFF nokey a"), bulks(&[]));
        assert_eq!(c.cmd("SDIFF a a"), bulks(&[]));
        assert_eq!(c.cmd("SINTERCARD 2 a b"), int(2));
        assert_eq!(c.cmd("SINTERCARD 2 a b LIMIT 1"), int(1));
        assert_eq!(c.cmd("SINTERCARD 2 a b LIMIT 0"), int(2));
        assert_eq!(c.cmd("SINTERCARD 2 a b limit 1 LIMIT 0"), int(2));
        assert_eq!(c.cmd("SINTERCARD 1 nokey"), int(0));
        for (line, error) in [
            ("SINTERCARD 0 a", "ERR numkeys should be greater than 0"),
            ("SINTERCARD x a", "ERR numkeys should be greater than 0"),
            (
                "SINTERCARD 3 a b",
                "ERR Number of keys can't be greater than number of args",
            ),
            ("SINTERCARD 2 a b LIMIT -1", "ERR LIMIT can't be negative"),
            ("SINTERCARD 2 a b LIMIT x", "ERR LIMIT can't be negative"),
            ("SINTERCARD 2 a b LIMIT", "ERR syntax error"),
            ("SINTERCARD 2 a b FOO 1", "ERR syntax error"),
        ] {
            assert_eq!(c.cmd(line), err(error), "{line}");
        }
        // Stores replace any value, TTL included, and reply the size.
        c.cmd("SET d str");
        c.cmd("EXPIRE d 100");
        assert_eq!(c.cmd("SINTERSTORE d a b"), int(2));
        assert_eq!(c.cmd("TTL d"), int(-1));
        assert_eq!(sorted(c.cmd("SMEMBERS d")), ["y", "z"]);
        assert_eq!(c.cmd("SUNIONSTORE d a b c"), int(6));
        assert_eq!(c.cmd("SDIFFSTORE d a b c"), int(2));
        assert_eq!(sorted(c.cmd("SMEMBERS d")), ["1", "x"]);
        // A store reading its own destination sees the old value.
        assert_eq!(c.cmd("SUNIONSTORE d d c"), int(4));
        // An empty result deletes the destination and replies 0.
        assert_eq!(c.cmd("SINTERSTORE d a nokey"), int(0));
        assert_eq!(c.cmd("EXISTS d"), int(0));
        c.cmd("SET d str");
        assert_eq!(c.cmd("SDIFFSTORE d a a"), int(0));
        assert_eq!(c.cmd("EXISTS d"), int(0));
        c.cmd("SET d str");
        assert_eq!(c.cmd("SUNIONSTORE d nokey"), int(0));
        assert_eq!(c.cmd("EXISTS d"), int(0));
        // Every source's type is checked, even after a missing key.
        c.cmd("SET str v");
        for line in [
            "SINTER nokey str",
            "SINTER a str",
            "SUNION nokey str",
            "SDIFF nokey str",
            "SINTERCARD 2 nokey str",
            "SINTERSTORE d nokey str",
            "SUNIONSTORE d a str",
            "SDIFFSTORE d a str",
        ] {
            assert_eq!(c.cmd(line), err(WRONGTYPE), "{line}");
        }
        assert_eq!(c.cmd("EXISTS d"), int(0), "a failed store writes nothing");
    }

    #[test]
    fn smove_moves_and_checks_types_first() {
        let mut c = Client::new();
        c.cmd("SADD src a b");
        c.cmd("SET str v");
        assert_eq!(c.cmd("SMOVE nokey str a"), int(0));
        assert_eq!(c.cmd("SMOVE src str a"), err(WRONGTYPE));
        assert_eq!(c.cmd("SMOVE str src a"), err(WRONGTYPE));
        assert_eq!(c.cmd("SCARD src"), int(2));
        assert_eq!(c.cmd("SMOVE src src a"), int(1));
        assert_eq!(c.cmd("SMOVE src src z"), int(0));
        assert_eq!(c.cmd("SMOVE src dst z"), int(0));
        assert_eq!(c.cmd("EXISTS dst"), int(0));
        assert_eq!(c.cmd("SMOVE src dst a"), int(1));
        assert_eq!(c.cmd("SMEMBERS dst"), bulks(&["a"]));
        c.cmd("SADD dst b");
        assert_eq!(c.cmd("SMOVE src dst b"), int(1));
        assert_eq!(c.cmd("EXISTS src"), int(0), "the last member takes the key");
        assert_eq!(c.cmd("SCARD dst"), int(2));
    }

    #[test]
    fn spop_counts() {
        let mut c = Client::new();
        assert_eq!(c.cmd("SPOP nokey"), Frame::NullBulk);
        assert_eq!(c.cmd("SPOP nokey 3"), bulks(&[]));
        assert_eq!(
            c.cmd("SPOP nokey -1"),
            err("ERR value is out of range, must be positive")
        );
        assert_eq!(
            c.cmd("SPOP nokey x"),
            err("ERR value is out of range, must be positive")
        );
        assert_eq!(c.cmd("SPOP nokey 1 2"), err("ERR syntax error"));
        let all: HashSet<String> = (0..20).map(|i| format!("m{i}")).collect();
        for m in &all {
            c.cmd(&format!("SADD s {m}"));
        }
        let Frame::Bulk(one) = c.cmd("SPOP s") else {
            panic!("a bulk string")
        };
        let one = String::from_utf8(one.to_vec()).expect("utf-8");
        assert!(all.contains(&one));
        assert_eq!(c.cmd(&format!("SISMEMBER s {one}")), int(0));
        assert_eq!(c.cmd("SPOP s 0"), bulks(&[]));
        let popped = sorted(c.cmd("SPOP s 5"));
        assert_eq!(popped.iter().collect::<HashSet<_>>().len(), 5);
        assert_eq!(c.cmd("SCARD s"), int(14));
        assert_eq!(sorted(c.cmd("SPOP s 100")).len(), 14);
        assert_eq!(c.cmd("EXISTS s"), int(0));
        c.cmd("SADD s only");
        assert_eq!(c.cmd("SPOP s"), bulk("only"));
        assert_eq!(c.cmd("EXISTS s"), int(0));
    }

    #[test]
    fn srandmember_counts() {
        let mut c = Client::new();
        assert_eq!(c.cmd("SRANDMEMBER nokey"), Frame::NullBulk);
        assert_eq!(c.cmd("SRANDMEMBER nokey 3"), bulks(&[]));
        assert_eq!(
            c.cmd("SRANDMEMBER nokey -16777217"),
            err("ERR value is out of range")
        );
        assert_eq!(c.cmd("SRANDMEMBER nokey -16777216"), bulks(&[]));
        assert_eq!(c.cmd("SRANDMEMBER nokey 1 2"), err("ERR syntax error"));
        assert_eq!(
            c.cmd("SRANDMEMBER nokey x"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(
            c.cmd("SRANDMEMBER nokey -9223372036854775808"),
            err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
        );
        let all: HashSet<String> = (0..20).map(|i| format!("m{i}")).collect();
        for m in &all {
            c.cmd(&format!("SADD s {m}"));
        }
        let Frame::Bulk(one) = c.cmd("SRANDMEMBER s") else {
            panic!("a bulk string")
        };
        assert!(all.contains(std::str::from_utf8(&one).expect("utf-8")));
        assert_eq!(c.cmd("SRANDMEMBER s 0"), bulks(&[]));
        let picked = sorted(c.cmd("SRANDMEMBER s 5"));
        assert_eq!(picked.iter().collect::<HashSet<_>>().len(), 5);
        assert!(picked.iter().all(|m| all.contains(m)));
        assert_eq!(sorted(c.cmd("SRANDMEMBER s 100")).len(), 20);
        let picked = sorted(c.cmd("SRANDMEMBER s -50"));
        assert_eq!(picked.len(), 50);
        assert!(picked.iter().all(|m| all.contains(m)));
        assert_eq!(c.cmd("SCARD s"), int(20), "SRANDMEMBER removes nothing");
    }

    #[test]
    fn wrong_types_both_ways() {
        let mut c = Client::new();
        c.cmd("SET str v");
        for line in [
            "SADD str a",
            "SREM str a",
            "SCARD str",
            "SISMEMBER str a",
            "SMISMEMBER str a",
            "SMEMBERS str",
            "SPOP str",
            "SPOP str 1",
            "SRANDMEMBER str",
            "SRANDMEMBER str 1",
            "SSCAN str 0",
        ] {
            assert_eq!(c.cmd(line), err(WRONGTYPE), "{line}");
        }
        c.cmd("SADD s a");
        for line in ["GET s", "LPUSH s x", "HSET s f v", "APPEND s x"] {
            assert_eq!(c.cmd(line), err(WRONGTYPE), "{line}");
        }
        assert_eq!(c.cmd("SCARD s"), int(1));
    }

    /// Every member a complete SSCAN iteration returns, and how many calls it took.
    fn scan_all(c: &mut Client, key: &str, options: &str) -> (Vec<String>, usize) {
        let mut cursor = "0".to_string();
        let mut members = Vec::new();
        let mut calls = 0;
        loop {
            calls += 1;
            let Frame::Array(mut reply) = c.cmd(&format!("SSCAN {key} {cursor} {options}")) else {
                panic!("an array")
            };
            let batch = reply.pop().expect("batch");
            let Some(Frame::Bulk(next)) = reply.pop() else {
                panic!("a cursor")
            };
            members.extend(sorted(batch));
            cursor = String::from_utf8(next.to_vec()).expect("digits");
            if cursor == "0" {
                return (members, calls);
            }
        }
    }

    #[test]
    fn sscan_small_and_big_sets() {
        let mut c = Client::new();
        assert_eq!(
            c.cmd("SSCAN nokey 0 COUNT 0"),
            Frame::Array(vec![bulk("0"), bulks(&[])])
        );
        c.cmd("SADD small 3 1 2 11");
        assert_eq!(
            scan_all(&mut c, "small", "COUNT 1"),
            (vec!["1".into(), "11".into(), "2".into(), "3".into()], 1)
        );
        assert_eq!(scan_all(&mut c, "small", "MATCH 1*").0, ["1", "11"]);
        assert_eq!(c.cmd("SSCAN small x"), err("ERR invalid cursor"));
        assert_eq!(c.cmd("SSCAN small 0 COUNT 0"), err("ERR syntax error"));
        assert_eq!(c.cmd("SSCAN small 0 MATCH"), err("ERR syntax error"));
        for chunk in 0..10 {
            let mut line = "SADD big".to_string();
            for i in 0..100 {
                line.push_str(&format!(" m{}", chunk * 100 + i));
            }
            c.cmd(&line);
        }
        let (members, calls) = scan_all(&mut c, "big", "COUNT 50");
        assert!(calls >= 20, "{calls} calls");
        assert_eq!(members.len(), 1000, "no member twice from a stable set");
        assert_eq!(members.iter().collect::<HashSet<_>>().len(), 1000);
        let (members, _) = scan_all(&mut c, "big", "MATCH m99* COUNT 7");
        assert_eq!(members.len(), 11, "m99 and m990..m999");
    }

    #[test]
    fn dump_and_restore_sets() {
        let mut c = Client::new();
        c.cmd("SADD s a b 1");
        let Frame::Bulk(payload) = c.cmd("DUMP s") else {
            panic!("a payload")
        };
        assert_eq!(payload[0], 2, "tag 2 is a set");
        let restored = c.run(&[b"RESTORE", b"t", b"0", &payload]);
        assert_eq!(restored, Frame::simple("OK"));
        assert_eq!(sorted(c.cmd("SMEMBERS t")), ["1", "a", "b"]);
        // A duplicate member cannot be built through the set itself; write one by hand.
        let mut body = vec![2u8, 2, 1, b'x', 1, b'x'];
        body.extend_from_slice(&crate::dump::FORMAT_VERSION.to_le_bytes());
        let crc = crate::dump::crc64(0, &body);
        body.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(
            crate::dump::deserialize(&body),
            Err(crate::dump::PayloadError::BadFormat)
        );
    }

    #[test]
    fn rows_match_redis_facts() {
        let row = |name: &str| {
            COMMANDS
                .iter()
                .find(|c| c.name == name)
                .unwrap_or_else(|| panic!("{name}"))
        };
        assert_eq!(row("sadd").arity, -3);
        assert_eq!(row("smove").arity, 4);
        assert_eq!(row("sintercard").key_count_at, Some(1));
        assert_eq!(row("smembers").tips, ["nondeterministic_output_order"]);
        assert!(COMMANDS
            .iter()
            .all(|c| crate::table::find(c.name.as_bytes()).is_some()));
    }

    /// The events Redis 7.0 publishes for each set command: one per change, none for a
    /// command that changes nothing, `del` after the event that took the last member, and
    /// `expired` for each expired key a write looks up.
    #[test]
    fn set_commands_publish_redis_events() {
        let mut c = Client::new();
        c.put_expired(0, b"old");
        c.put_expired(0, b"old2");
        crate::t_list::tests::check_events(
            &mut c,
            &[
                ("SADD s a b c", &["new s", "sadd s"]),
                ("SADD s a", &[]),
                ("SREM s nothing", &[]),
                ("SREM s a", &["srem s"]),
                ("SPOP s 0", &[]),
                ("SMOVE s s b", &[]),
                ("SMOVE s dst b", &["srem s", "new dst", "sadd dst"]),
                ("SADD s b", &["sadd s"]),
                ("SMOVE s dst b", &["srem s"]),
                ("SMOVE s dst nothing", &[]),
                ("SMOVE nosrc old a", &["expired old"]),
                ("SPOP s 5", &["spop s", "del s"]),
                ("SPOP dst", &["spop dst", "del dst"]),
                ("SADD a 1 2", &["new a", "sadd a"]),
                ("SADD b 2 3", &["new b", "sadd b"]),
                ("SINTERSTORE i a b", &["new i", "sinterstore i"]),
                ("SUNIONSTORE i a b old2", &["expired old2", "sunionstore i"]),
                ("SDIFFSTORE d a b", &["new d", "sdiffstore d"]),
                ("SINTERSTORE i a nokey", &["del i"]),
                ("SINTERSTORE i a nokey", &[]),
                ("SDIFFSTORE d a a", &["del d"]),
                ("SET str v", &["new str", "set str"]),
                ("SUNIONSTORE out a str", &[]),
                ("SREM a 1 2", &["srem a", "del a"]),
            ],
        );
    }
}
