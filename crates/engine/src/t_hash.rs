//! Hash commands (Redis's `t_hash.c`), field expiry included.
//!
//! A hash is a [`HashValue`]: field to value, plus an expiry time for the fields that have one,
//! small (a listpack) or large (a hash table) as Redis keeps it (see [`crate::hash_value`] for
//! the forms and the conversion rules, which every writer here follows through
//! [`HashValue::insert`] with the thresholds of the moment). It is never empty: the command
//! that removes its last field deletes the key, as Redis does.
//! Every command checks its arguments in the order Redis does, so that a request with several
//! faults gets the same error from both.
//!
//! # Field expiry
//!
//! The HEXPIRE family, HTTL family and HPERSIST came with Redis 7.4 (in their final form, with
//! the `FIELDS` keyword and -2 replies for a missing key, from 7.4.0's second release
//! candidate); kv follows them as Redis 8.0's `t_hash.c` implements them, and their rows take
//! 8.0's flags (8.0 dropped `denyoom` from the HEXPIRE family). HGETEX, HSETEX and HGETDEL
//! follow Redis 8.0, which added them. A field whose time
//! has come is never visible: readers skip it (they hold a shared lock and cannot delete),
//! writers reclaim every expired field of the hash they change before changing it (see
//! `update`), and the keyspace's active expiry reclaims the rest
//! ([`crate::Keyspace::expire_fields_cycle`]). A hash whose every field has expired counts as
//! a missing key everywhere (see [`Entry::is_expired`]). Each reclaimed field counts in INFO's
//! `expired_subkeys`, as in Redis.
//!
//! What clears a field's TTL is what Redis's documentation says: commands that delete or
//! overwrite the field (HDEL, HSET, HMSET, HSETEX without KEEPTTL, HGETDEL) and HPERSIST;
//! commands that change a value without replacing the field (HINCRBY, HINCRBYFLOAT) keep it.
//!
//! # Keyspace events
//!
//! Redis 7.0's for the commands it has (`hset` for HSET, HMSET and HSETNX, `hdel`, `hincrby`,
//! `hincrbyfloat`, then `del` when the key goes with its last field), Redis 8.0's for the
//! field-expiry commands: `hexpire`, or `hdel` when a time already past deleted fields;
//! `hpersist`; HSETEX's `hset` then `hexpire` or `hdel`; HGETDEL's `hdel`. Each is published
//! only if the command changed something (HSET always does), after `hexpired` when the write
//! reclaimed expired fields (see `update`).

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::command::CommandSpec;
use crate::keys::ExpireForm;
use crate::longdouble::{self, LongDouble};
use crate::table::{command, engine};
use crate::{Args, CommandError, CommandResult, Ctx, Entry, EventClass, HashValue, Reply, Value};

/// The hash at `key` for a read (counts a keyspace hit or miss), `None` if missing,
/// `WRONGTYPE` if another type.
fn hash_at<'c>(ctx: &'c Ctx<'_, '_>, key: &[u8]) -> Result<Option<&'c HashValue>, CommandError> {
    match ctx.lookup(key)? {
        None => Ok(None),
        Some(Entry {
            value: Value::Hash(h),
            ..
        }) => Ok(Some(h)),
        Some(_) => Err(CommandError::WrongType),
    }
}

/// `WRONGTYPE` if `key` holds something other than a hash, for the write commands that, like
/// Redis (`lookupKeyWrite` then `checkType`), check the type before their arguments. A write
/// lookup counts no hit or miss.
fn check_hash_type(ctx: &Ctx<'_, '_>, key: &[u8]) -> CommandResult {
    match ctx.locked.get(ctx.db(), key, ctx.now)? {
        Some(entry) if !matches!(entry.value, Value::Hash(_)) => Err(CommandError::WrongType),
        _ => Ok(()),
    }
}

/// The keyspace events a hash change publishes, in order (none when nothing changed).
type Events = &'static [&'static str];

/// Nothing changed: no event.
const UNCHANGED: Events = &[];

/// Runs `change` on the hash at `key` for a write. A missing key is created empty first when
/// `create` (Redis's `hashTypeLookupWriteOrCreate`), else `change` is not run and `None` is
/// returned.
///
/// Before `change` runs, every field of the hash whose time has come is reclaimed, so `change`
/// sees live fields only and may treat the stored ones as the truth. After it, the keyspace's
/// field-expiry index learns the hash's new earliest field expiry, and a hash left empty is
/// deleted, so no command can leave an empty hash behind, even one that fails half-way.
///
/// `change` returns, with its result, the hash events of what it did. They are published in
/// Redis's order once the change is made: `hexpired` first if fields were reclaimed (what
/// Redis's lazy field expiry notifies), then the command's own, then `del` if the key went with
/// its last field; watchers of the key are touched once if there was any.
fn update<T>(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    create: bool,
    change: impl FnOnce(&mut HashValue) -> Result<(T, Events), CommandError>,
) -> Result<Option<T>, CommandError> {
    let (db, now, engine) = (ctx.db(), ctx.now, ctx.engine);
    let lfu = ctx.engine.lfu();
    let expired = &engine.keyspace.expired_subkeys;
    let entry = if create {
        let make = || Entry::new(Value::Hash(HashValue::new()), now);
        Some(ctx.locked.get_or_insert_with(db, key, now, make)?.0)
    } else {
        ctx.locked.get_mut(db, key, now)?
    };
    let Some(entry) = entry else {
        return Ok(None);
    };
    // Redis's write lookup records the access whatever the type it then finds.
    entry.touch(now, lfu);
    let Value::Hash(hash) = &mut entry.value else {
        return Err(CommandError::WrongType);
    };
    let indexed = hash.min_expiry();
    let reclaimed = hash.remove_expired(now, usize::MAX);
    if reclaimed > 0 {
        // Only then: every thread's hash writes would otherwise contend on the counter.
        expired.fetch_add(reclaimed as u64, Ordering::Relaxed);
    }
    let result = change(hash);
    let (earliest, empty) = (hash.min_expiry(), hash.is_empty());
    ctx.locked.reindex_fields(db, key, indexed, earliest)?;
    if empty {
        ctx.locked.remove(db, key, now)?;
    }
    let events = result.as_ref().map_or(UNCHANGED, |(_, events)| *events);
    let reclaimed = (reclaimed > 0).then_some("hexpired");
    let mut all = reclaimed.iter().chain(events).copied();
    if let Some(first) = all.next() {
        ctx.modified(EventClass::HASH, first, key);
        for event in all {
            ctx.notify(EventClass::HASH, event, key);
        }
        if empty {
            ctx.notify(EventClass::GENERIC, "del", key);
        }
    }
    result.map(|(value, _)| Some(value))
}

/// The field-value arguments of HSET/HMSET, which must come in pairs (at least one, which the
/// arity already guarantees).
fn field_pairs<'a>(args: &Args<'a>, command: &str) -> Result<&'a [&'a [u8]], CommandError> {
    let rest = args.rest();
    if rest.len() % 2 != 0 {
        return Err(CommandError::WrongArity(command.to_string()));
    }
    Ok(rest)
}

/// Sets every pair of `pairs` in the hash at `key`, clearing their TTLs; how many fields are
/// new. Like Redis, every argument is checked against the small form's byte limit before any
/// is written.
fn set_pairs(ctx: &mut Ctx<'_, '_>, key: &[u8], pairs: &[&[u8]]) -> Result<usize, CommandError> {
    let limits = ctx.engine.config.hash_limits();
    let created = update(ctx, key, true, |hash| {
        hash.fit_arguments(pairs.iter().map(|a| &a[..]), limits);
        let mut created = 0;
        for pair in pairs.chunks_exact(2) {
            if hash.insert(pair[0], pair[1], limits) {
                created += 1;
            }
        }
        // Redis notifies even when every value was already the one set.
        Ok((created, &["hset"]))
    })?;
    Ok(created.unwrap_or(0))
}

/// `HSET key field value [field value ...]`: how many fields were added.
pub fn hset(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let pairs = field_pairs(args, "hset")?;
    let created = set_pairs(ctx, key, pairs)?;
    reply.count(created);
    Ok(())
}

/// `HMSET key field value [field value ...]`: HSET's old form, replying OK.
pub fn hmset(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let pairs = field_pairs(args, "hmset")?;
    set_pairs(ctx, key, pairs)?;
    reply.ok();
    Ok(())
}

/// `HSETNX key field value`: 1 if the field was set, 0 if it already existed.
pub fn hsetnx(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let field = args.next_bytes()?;
    let value = args.next_bytes()?;
    let (now, limits) = (ctx.now, ctx.engine.config.hash_limits());
    let set = update(ctx, key, true, |hash| {
        // The field is looked for first: an existing one leaves the hash as it is, even when
        // the value would not fit the small form (Redis checks in this order too).
        if hash.contains(field, now) {
            return Ok((false, UNCHANGED));
        }
        hash.insert(field, value, limits);
        Ok((true, &["hset"]))
    })?;
    reply.integer(i64::from(set == Some(true)));
    Ok(())
}

/// `HGET key field`: the value, or nil.
pub fn hget(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let field = args.next_bytes()?;
    match hash_at(ctx, key)?.and_then(|h| h.get(field, ctx.now)) {
        Some(value) => reply.bulk(value),
        None => reply.null(),
    }
    Ok(())
}

/// `HMGET key field [field ...]`: a value or nil for each field.
pub fn hmget(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let fields = args.rest();
    let hash = hash_at(ctx, key)?;
    reply.array(fields.len());
    for field in fields {
        match hash.and_then(|h| h.get(field, ctx.now)) {
            Some(value) => reply.bulk(value),
            None => reply.null(),
        }
    }
    Ok(())
}

/// `HDEL key field [field ...]`: how many fields were removed; the key goes with the last.
pub fn hdel(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let fields = args.rest();
    let removed = update(ctx, key, false, |hash| {
        let removed = fields
            .iter()
            .filter(|field| hash.remove(field).is_some())
            .count();
        Ok((removed, if removed > 0 { &["hdel"] } else { UNCHANGED }))
    })?;
    reply.count(removed.unwrap_or(0));
    Ok(())
}

/// `HLEN key`: the number of fields, 0 for a missing key.
///
/// Fields whose time has come are not counted, reclaimed or not. Redis 7.4 counts them until
/// they are reclaimed, which its reads do on access; kv's reads cannot (they hold a shared
/// lock), so counting them would make HLEN disagree with Redis after any read of the field.
pub fn hlen(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    reply.count(hash_at(ctx, key)?.map_or(0, |h| h.live_len(ctx.now)));
    Ok(())
}

/// `HSTRLEN key field`: the length of the value, 0 when there is none.
pub fn hstrlen(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let field = args.next_bytes()?;
    let len = hash_at(ctx, key)?
        .and_then(|h| h.get(field, ctx.now))
        .map_or(0, |v| v.len());
    reply.count(len);
    Ok(())
}

/// `HEXISTS key field`: 1 if the field exists.
pub fn hexists(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let field = args.next_bytes()?;
    let exists = hash_at(ctx, key)?.is_some_and(|h| h.contains(field, ctx.now));
    reply.integer(i64::from(exists));
    Ok(())
}

/// What HKEYS, HVALS and HGETALL return of each field.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Parts {
    Fields,
    Values,
    Both,
}

/// HKEYS, HVALS and HGETALL: every live field, value or both, in the map's order (Redis's
/// order is its own too: clients cannot rely on one). HGETALL is a map in RESP3, flat in RESP2.
fn get_all(
    ctx: &mut Ctx<'_, '_>,
    args: &mut Args<'_>,
    reply: &mut Reply,
    parts: Parts,
) -> CommandResult {
    let key = args.next_bytes()?;
    let now = ctx.now;
    let hash = hash_at(ctx, key)?;
    let len = hash.map_or(0, |h| h.live_len(now));
    if parts == Parts::Both {
        reply.map(len);
    } else {
        reply.array(len);
    }
    for (field, value) in hash.into_iter().flat_map(|h| h.iter(now)) {
        if parts != Parts::Values {
            reply.bulk(field);
        }
        if parts != Parts::Fields {
            reply.bulk(value);
        }
    }
    Ok(())
}

/// `HKEYS key`
pub fn hkeys(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    get_all(ctx, args, reply, Parts::Fields)
}

/// `HVALS key`
pub fn hvals(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    get_all(ctx, args, reply, Parts::Values)
}

/// `HGETALL key`
pub fn hgetall(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    get_all(ctx, args, reply, Parts::Both)
}

/// `HINCRBY key field increment`: the new value; a missing field counts as 0. The field keeps
/// its TTL (Redis's `HASH_SET_KEEP_TTL`).
pub fn hincrby(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let field = args.next_bytes()?;
    // Redis parses the increment before it looks at the key.
    let by = args.next_i64()?;
    let (now, limits) = (ctx.now, ctx.engine.config.hash_limits());
    let new = update(ctx, key, true, |hash| {
        let current = match hash.get(field, now) {
            Some(value) => kv_resp::parse_i64(value)
                .ok_or(CommandError::msg("ERR hash value is not an integer"))?,
            None => 0,
        };
        let new = current.checked_add(by).ok_or(CommandError::Overflow)?;
        hash.insert_keep_ttl(field, itoa::Buffer::new().format(new).as_bytes(), limits);
        Ok((new, &["hincrby"]))
    })?;
    reply.integer(new.unwrap_or(0));
    Ok(())
}

/// `HINCRBYFLOAT key field increment`: the new value, computed and printed in 80-bit
/// extended precision as Redis does on x86-64. The field keeps its TTL, as with HINCRBY.
pub fn hincrbyfloat(
    ctx: &mut Ctx<'_, '_>,
    args: &mut Args<'_>,
    reply: &mut Reply,
) -> CommandResult {
    let key = args.next_bytes()?;
    let field = args.next_bytes()?;
    // The increment is checked before the key, as in Redis.
    let by = longdouble::parse(args.next_bytes()?).ok_or(CommandError::NotFloat)?;
    if matches!(by, LongDouble::Infinite { .. }) {
        return Err(CommandError::msg("ERR value is NaN or Infinity"));
    }
    let (now, limits) = (ctx.now, ctx.engine.config.hash_limits());
    let new = update(ctx, key, true, |hash| {
        let current = match hash.get(field, now) {
            Some(value) => longdouble::parse(value)
                .ok_or(CommandError::msg("ERR hash value is not a float"))?,
            None => LongDouble::zero(false),
        };
        let sum = match current.add(by) {
            Some(sum @ LongDouble::Finite { .. }) => sum,
            _ => {
                return Err(CommandError::msg(
                    "ERR increment would produce NaN or Infinity",
                ))
            }
        };
        let text = longdouble::format_human(&sum);
        hash.insert_keep_ttl(field, &text, limits);
        Ok((text, &["hincrbyfloat"]))
    })?;
    if let Some(text) = &new {
        // Replayed as its result, the field keeping its TTL as here.
        ctx.propagate(|| {
            crate::effect_args!(b"HSETEX", key, b"KEEPTTL", b"FIELDS", b"1", field, text)
        });
    }
    reply.bulk(&new.unwrap_or_default());
    Ok(())
}

/// Writes one HRANDFIELD pick: the field, and its value when asked (a pair array in RESP3).
fn write_pick(reply: &mut Reply, with_values: bool, field: &[u8], value: &[u8]) {
    if with_values && reply.protocol == crate::Protocol::Resp3 {
        reply.array(2);
    }
    reply.bulk(field);
    if with_values {
        reply.bulk(value);
    }
}

/// The header of an HRANDFIELD reply of `n` picks: flat pairs in RESP2, pair arrays in RESP3.
fn write_picks_header(reply: &mut Reply, with_values: bool, n: usize) {
    if with_values && reply.protocol != crate::Protocol::Resp3 {
        reply.array(n.saturating_mul(2));
    } else {
        reply.array(n);
    }
}

/// `HRANDFIELD key [count [WITHVALUES]]`: random live fields. A positive count gives distinct
/// fields, at most the whole hash; a negative one gives exactly `-count`, possibly repeated.
/// (Redis reclaims the hash's expired fields first; kv leaves them out, with the same result.)
pub fn hrandfield(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let now = ctx.now;
    let Some(count_arg) = args.peek() else {
        match hash_at(ctx, key)? {
            None => reply.null(),
            // A hash with no live field is already a missing key; `None` only guards the draw.
            // O(1) from a large hash, O(n) from a small one, as Redis's `lpRandomPair`.
            Some(hash) => match hash.random_live(&mut crate::random::Rng::new(), now) {
                Some((field, _)) => reply.bulk(field),
                None => reply.null(),
            },
        }
        return Ok(());
    };
    args.next_bytes()?;
    let (count, with_values) = crate::random::pick_count(count_arg, args, Some("withvalues"))?;
    let Some(hash) = hash_at(ctx, key)? else {
        reply.array(0);
        return Ok(());
    };
    let wanted = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
    let mut rng = crate::random::Rng::new();
    // A small hash's live pairs are listed once (O(n) for a bounded n), so that every draw
    // after that is O(1) in either form.
    let picker = hash.live_picker(now);
    if wanted == 0 || picker.pick(&mut rng).is_none() {
        reply.array(0);
        return Ok(());
    }
    if count < 0 {
        // Independent O(1) draws; the count is not bounded by the hash size, so nothing is
        // allocated in proportion to it.
        write_picks_header(reply, with_values, wanted);
        for _ in 0..wanted {
            let (field, value) = picker
                .pick(&mut rng)
                .ok_or(CommandError::Internal("hash emptied under its lock"))?;
            write_pick(reply, with_values, field, value);
        }
        return Ok(());
    }
    // Distinct picks: from a small hash in the hash's order (the whole hash when the count
    // covers it), as Redis answers from a listpack.
    let picked = picker.distinct(&mut rng, wanted);
    write_picks_header(reply, with_values, picked.len());
    for (field, value) in picked {
        write_pick(reply, with_values, field, value);
    }
    Ok(())
}

/// `HSCAN key cursor [MATCH pattern] [COUNT count]`: the next cursor and a batch of live fields
/// with their values.
///
/// A small hash (a listpack) comes back whole with cursor 0, in its order, whatever the cursor
/// and COUNT, as Redis answers for a listpack. A large one is walked bucket by bucket, COUNT
/// fields a call (see `scan::collection_step`; fields past their time are counted, not
/// returned): every field present for the whole iteration is returned at least once however
/// the map grows, shrinks or rehashes in between.
pub fn hscan(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let cursor = crate::keys::parse_cursor(args.next_bytes()?)?;
    let now = ctx.now;
    // Redis looks the key up before it reads the options: a missing key answers an empty
    // scan even with bad options.
    let Some(hash) = hash_at(ctx, key)? else {
        crate::scan::empty_scan(reply);
        return Ok(());
    };
    let options = crate::scan::ScanOptions::parse(args)?;
    let (next, batch) = match hash.table() {
        None => (0, hash.iter(now).collect::<Vec<_>>()),
        Some(map) => {
            let hasher = map.hasher();
            fn pair<'a>(
                (f, v): (&'a crate::CompactBytes, &'a crate::CompactBytes),
            ) -> (&'a [u8], &'a [u8]) {
                (f.as_bytes(), v.as_bytes())
            }
            let (next, batch) = crate::scan::collection_step(
                cursor,
                options.count,
                |from| {
                    let (buckets, layout, nodes) = map.buckets_from(from);
                    (buckets, layout, nodes.map(|node| node.map(pair)))
                },
                || {
                    map.iter()
                        .map(|(f, v)| (hasher.hash_one(f.as_bytes()), pair((f, v))))
                },
            );
            let live = batch
                .into_iter()
                .filter(|&(f, _)| !hash.is_expired_field(f, now));
            (next, live.collect())
        }
    };
    let batch: Vec<_> = batch
        .into_iter()
        .filter(|(f, _)| options.keeps(f))
        .collect();
    reply.array(2);
    reply.bulk(itoa::Buffer::new().format(next).as_bytes());
    reply.array(batch.len() * 2);
    for (field, value) in batch {
        reply.bulk(field);
        reply.bulk(value);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Field expiry: argument parsing
// ---------------------------------------------------------------------------------------------

/// The latest field expiry Redis accepts, in Unix milliseconds (`HFE_MAX_ABS_TIME_MSEC`: its
/// 48-bit expiry times with the top two bits kept for later use), in the year 4199.
const MAX_FIELD_EXPIRY: i64 = (1 << 46) - 1;

/// A negative time, which field expiry refuses where key expiry deletes the key.
const NEGATIVE_TIME: CommandError = CommandError::msg("ERR invalid expire time, must be >= 0");

/// The `FIELDS` keyword is not where the syntax puts it.
const NO_FIELDS: CommandError =
    CommandError::msg("ERR Mandatory argument FIELDS is missing or not at the right position");

/// A field count that is not a positive integer, as the HEXPIRE family words it.
const EXPIRE_BAD_COUNT: &str = "ERR Parameter `numFields` should be greater than 0";

/// A field count that is not a positive integer, as HTTL, HPERSIST, HGETEX and HGETDEL word it.
const BAD_COUNT: &str = "ERR Number of fields must be a positive integer";

/// A field count that does not match the fields that follow it.
const COUNT_MISMATCH: CommandError =
    CommandError::msg("ERR The `numfields` parameter must match the number of arguments");

impl ExpireForm {
    /// The absolute expiry, in Unix milliseconds, that `arg` gives at `now`, with Redis's
    /// checks (`parseExpireTime`): an integer, not negative, and not past
    /// [`MAX_FIELD_EXPIRY`] once converted, which also keeps every step free of overflow.
    fn field_expiry(self, arg: &[u8], now: u64) -> Result<u64, CommandError> {
        let value = crate::args::parse_i64(arg)?;
        if value < 0 {
            return Err(NEGATIVE_TIME);
        }
        let invalid = CommandError::InvalidExpireTime(self.name);
        let millis = if self.seconds {
            if value > MAX_FIELD_EXPIRY / 1000 {
                return Err(invalid);
            }
            value * 1000
        } else {
            value
        };
        let base = if self.absolute {
            0
        } else {
            i64::try_from(now).unwrap_or(i64::MAX)
        };
        if millis > MAX_FIELD_EXPIRY.saturating_sub(base) {
            return Err(invalid);
        }
        Ok((millis + base).unsigned_abs())
    }
}

/// The fields of a `FIELDS numfields field [field ...]` block that starts `rest`, with Redis's
/// checks in its order: the keyword, the count (a positive integer, else `bad_count`), then
/// the count against what follows. `name` is for a block cut short before its count (only
/// HGETEX can be, as Redis does not check that case; kv calls it an arity error).
fn fields_block<'a>(
    rest: &'a [&'a [u8]],
    name: &str,
    bad_count: &'static str,
) -> Result<&'a [&'a [u8]], CommandError> {
    if !rest
        .first()
        .is_some_and(|w| w.eq_ignore_ascii_case(b"fields"))
    {
        return Err(NO_FIELDS);
    }
    let count = rest
        .get(1)
        .ok_or_else(|| CommandError::WrongArity(name.to_string()))?;
    let count = kv_resp::parse_i64(count)
        .filter(|&n| n > 0)
        .ok_or(CommandError::msg(bad_count))?;
    let fields = &rest[2..];
    if usize::try_from(count).ok() != Some(fields.len()) {
        return Err(COUNT_MISMATCH);
    }
    Ok(fields)
}

/// HEXPIRE's `NX | XX | GT | LT`, checked per field against its current expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldCondition {
    /// No condition.
    Always,
    /// Only a field without a TTL.
    Nx,
    /// Only a field with a TTL.
    Xx,
    /// Only a later time; a field without a TTL has an infinite one, so never.
    Gt,
    /// Only an earlier time; a field without a TTL has an infinite one, so always.
    Lt,
}

impl FieldCondition {
    /// Consumes the condition, if the next argument is one (Redis looks at that one position
    /// only, so anything else there must be `FIELDS`).
    fn parse(args: &mut Args<'_>) -> FieldCondition {
        for (word, condition) in [
            ("nx", FieldCondition::Nx),
            ("xx", FieldCondition::Xx),
            ("gt", FieldCondition::Gt),
            ("lt", FieldCondition::Lt),
        ] {
            if args.eat(word) {
                return condition;
            }
        }
        FieldCondition::Always
    }

    /// Whether a field whose expiry is `current` may be given `at`.
    fn allows(self, at: u64, current: Option<u64>) -> bool {
        match self {
            FieldCondition::Always => true,
            FieldCondition::Nx => current.is_none(),
            FieldCondition::Xx => current.is_some(),
            FieldCondition::Gt => current.is_some_and(|c| at > c),
            FieldCondition::Lt => current.is_none_or(|c| at < c),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Field expiry: commands
// ---------------------------------------------------------------------------------------------

/// What happened to one field of an HEXPIRE (the integers are Redis's replies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expired {
    /// The field does not exist (-2).
    NoField = -2,
    /// The condition was not met (0).
    Unchanged = 0,
    /// The expiry was set (1).
    Set = 1,
    /// The time was already past, so the field was deleted (2).
    Deleted = 2,
}

/// Gives the live `field` the expiry `at`, or deletes it when `at` is not after `now` (Redis's
/// `hashTypeSetEx`: a time already come deletes, and the deletion counts as an expiry).
fn expire_field(
    hash: &mut HashValue,
    field: &[u8],
    at: u64,
    now: u64,
    expired: &AtomicU64,
) -> Expired {
    if at <= now {
        hash.remove(field);
        expired.fetch_add(1, Ordering::Relaxed);
        Expired::Deleted
    } else {
        hash.set_expiry(field, at);
        Expired::Set
    }
}

/// The HEXPIRE family (Redis 7.4, as 8.0 implements it): sets each field's expiry where the
/// condition allows it, deleting fields whose new time is already past. Replies one code per
/// field (see [`Expired`]), -2 for every field of a missing key (7.4.0's final behaviour; its
/// first release candidate replied nil).
fn hexpire_generic(
    ctx: &mut Ctx<'_, '_>,
    args: &mut Args<'_>,
    reply: &mut Reply,
    form: ExpireForm,
) -> CommandResult {
    let key = args.next_bytes()?;
    check_hash_type(ctx, key)?;
    let now = ctx.now;
    let at = form.field_expiry(args.next_bytes()?, now)?;
    let condition = FieldCondition::parse(args);
    let fields = fields_block(args.rest(), form.name, EXPIRE_BAD_COUNT)?;
    let engine = ctx.engine;
    let expired = &engine.keyspace.expired_subkeys;
    let codes = update(ctx, key, false, |hash| {
        let codes: Vec<Expired> = fields
            .iter()
            .map(|field| {
                if !hash.contains(field, now) {
                    Expired::NoField
                } else if !condition.allows(at, hash.expires_at(field)) {
                    Expired::Unchanged
                } else {
                    expire_field(hash, field, at, now, expired)
                }
            })
            .collect();
        // One event: `hdel` if any field went, else `hexpire` if any was given the time.
        let events: Events = if codes.contains(&Expired::Deleted) {
            &["hdel"]
        } else if codes.contains(&Expired::Set) {
            &["hexpire"]
        } else {
            UNCHANGED
        };
        Ok((codes, events))
    })?;
    // Replayed at the absolute time, for the fields it changed, the condition settled.
    ctx.propagate_nothing();
    if let Some(codes) = &codes {
        let changed = |wanted: Expired| {
            fields
                .iter()
                .zip(codes)
                .filter(move |(_, code)| **code == wanted)
                .map(|(field, _)| crate::effects::arg(field))
        };
        if codes.contains(&Expired::Set) {
            ctx.propagate(|| {
                let set: Vec<_> = changed(Expired::Set).collect();
                let mut effect = crate::effect_args!(b"HPEXPIREAT", key, at.to_string());
                effect.extend(crate::effect_args!(b"FIELDS", set.len().to_string()));
                effect.extend(set);
                effect
            });
        }
        if codes.contains(&Expired::Deleted) {
            ctx.propagate(|| {
                let mut effect = crate::effect_args!(b"HDEL", key);
                effect.extend(changed(Expired::Deleted));
                effect
            });
        }
    }
    reply.array(fields.len());
    match codes {
        Some(codes) => codes.into_iter().for_each(|c| reply.integer(c as i64)),
        None => fields
            .iter()
            .for_each(|_| reply.integer(Expired::NoField as i64)),
    }
    Ok(())
}

/// `HEXPIRE key seconds [NX | XX | GT | LT] FIELDS numfields field [field ...]`
pub fn hexpire(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let form = ExpireForm {
        name: "hexpire",
        seconds: true,
        absolute: false,
    };
    hexpire_generic(ctx, args, reply, form)
}

/// `HPEXPIRE key milliseconds [NX | XX | GT | LT] FIELDS numfields field [field ...]`
pub fn hpexpire(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let form = ExpireForm {
        name: "hpexpire",
        seconds: false,
        absolute: false,
    };
    hexpire_generic(ctx, args, reply, form)
}

/// `HEXPIREAT key unix-time-seconds [NX | XX | GT | LT] FIELDS numfields field [field ...]`
pub fn hexpireat(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let form = ExpireForm {
        name: "hexpireat",
        seconds: true,
        absolute: true,
    };
    hexpire_generic(ctx, args, reply, form)
}

/// `HPEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT] FIELDS numfields field [field ...]`
pub fn hpexpireat(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let form = ExpireForm {
        name: "hpexpireat",
        seconds: false,
        absolute: true,
    };
    hexpire_generic(ctx, args, reply, form)
}

/// What the HTTL family reports of a field's expiry.
#[derive(Debug, Clone, Copy)]
struct TtlForm {
    /// The command's name, for an arity error.
    name: &'static str,
    /// Milliseconds rather than seconds.
    millis: bool,
    /// The expiry time rather than the time left.
    absolute: bool,
}

/// The HTTL family (Redis 7.4, as 8.0 implements it): for each field, its expiry as the form asks,
/// -1 without one, -2 if there is no such field (or key). Seconds are rounded up, as Redis's `httlGenericCommand` does (unlike
/// TTL, which rounds to the nearest).
fn httl_generic(
    ctx: &mut Ctx<'_, '_>,
    args: &mut Args<'_>,
    reply: &mut Reply,
    form: TtlForm,
) -> CommandResult {
    let key = args.next_bytes()?;
    let now = ctx.now;
    let hash = hash_at(ctx, key)?;
    let fields = fields_block(args.rest(), form.name, BAD_COUNT)?;
    reply.array(fields.len());
    for field in fields {
        let Some(hash) = hash.filter(|h| h.contains(field, now)) else {
            reply.integer(-2);
            continue;
        };
        let Some(at) = hash.expires_at(field) else {
            reply.integer(-1);
            continue;
        };
        // A live field's time is after `now`, and no expiry exceeds MAX_FIELD_EXPIRY: no
        // step below can overflow or go negative.
        let base = if form.absolute { 0 } else { now };
        let left = at - base;
        let shown = if form.millis {
            left
        } else {
            left.div_ceil(1000)
        };
        reply.integer(i64::try_from(shown).unwrap_or(i64::MAX));
    }
    Ok(())
}

/// `HTTL key FIELDS numfields field [field ...]`: seconds left, rounded up.
pub fn httl(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let form = TtlForm {
        name: "httl",
        millis: false,
        absolute: false,
    };
    httl_generic(ctx, args, reply, form)
}

/// `HPTTL key FIELDS numfields field [field ...]`: milliseconds left.
pub fn hpttl(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let form = TtlForm {
        name: "hpttl",
        millis: true,
        absolute: false,
    };
    httl_generic(ctx, args, reply, form)
}

/// `HEXPIRETIME key FIELDS numfields field [field ...]`: the expiry as Unix seconds, rounded up.
pub fn hexpiretime(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let form = TtlForm {
        name: "hexpiretime",
        millis: false,
        absolute: true,
    };
    httl_generic(ctx, args, reply, form)
}

/// `HPEXPIRETIME key FIELDS numfields field [field ...]`: the expiry as Unix milliseconds.
pub fn hpexpiretime(
    ctx: &mut Ctx<'_, '_>,
    args: &mut Args<'_>,
    reply: &mut Reply,
) -> CommandResult {
    let form = TtlForm {
        name: "hpexpiretime",
        millis: true,
        absolute: true,
    };
    httl_generic(ctx, args, reply, form)
}

/// `HPERSIST key FIELDS numfields field [field ...]` (Redis 7.4, as 8.0 implements it): removes
/// each field's expiry; per field 1 if removed, -1 if it had none, -2 if there is no such field
/// (or key).
pub fn hpersist(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    check_hash_type(ctx, key)?;
    let fields = fields_block(args.rest(), "hpersist", BAD_COUNT)?;
    let now = ctx.now;
    let codes = update(ctx, key, false, |hash| {
        let codes: Vec<i64> = fields
            .iter()
            .map(|field| match hash.contains(field, now) {
                false => -2,
                true if hash.clear_expiry(field).is_some() => 1,
                true => -1,
            })
            .collect();
        let events: Events = if codes.contains(&1) {
            &["hpersist"]
        } else {
            UNCHANGED
        };
        Ok((codes, events))
    })?;
    reply.array(fields.len());
    match codes {
        Some(codes) => codes.into_iter().for_each(|c| reply.integer(c)),
        None => fields.iter().for_each(|_| reply.integer(-2)),
    }
    Ok(())
}

/// What HGETEX does to the fields it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GetExpiry {
    /// Nothing.
    Keep,
    /// `EX`, `PX`, `EXAT`, `PXAT`: give them this expiry (Unix milliseconds).
    At(u64),
    /// `PERSIST`: remove their expiry.
    Persist,
}

/// `HGETEX key [EX seconds | PX milliseconds | EXAT unix-time-seconds |
/// PXAT unix-time-milliseconds | PERSIST] FIELDS numfields field [field ...]` (Redis 8.0):
/// each field's value or nil, then the expiry change on the fields that exist. A time already
/// past deletes them (after their values are read).
pub fn hgetex(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    check_hash_type(ctx, key)?;
    let now = ctx.now;
    // Redis looks for an option in the one position after the key.
    let option = args.peek().unwrap_or_default();
    let expiry = if let Some(form) = ExpireForm::from_option("hgetex", option) {
        args.next_bytes()?;
        GetExpiry::At(form.field_expiry(args.next_bytes()?, now)?)
    } else if args.eat("persist") {
        GetExpiry::Persist
    } else {
        GetExpiry::Keep
    };
    let fields = fields_block(args.rest(), "hgetex", BAD_COUNT)?;
    let engine = ctx.engine;
    let expired = &engine.keyspace.expired_subkeys;
    let values = update(ctx, key, false, |hash| {
        let mut values = Vec::with_capacity(fields.len());
        let (mut updated, mut deleted) = (false, false);
        for field in fields {
            let value = hash.get(field, now).map(|v| v.to_vec());
            if value.is_some() {
                match expiry {
                    GetExpiry::Keep => {}
                    GetExpiry::At(at) => match expire_field(hash, field, at, now, expired) {
                        Expired::Deleted => deleted = true,
                        _ => updated = true,
                    },
                    GetExpiry::Persist => {
                        // Only a field that had a TTL counts as changed.
                        updated |= hash.clear_expiry(field).is_some();
                    }
                }
            }
            values.push(value);
        }
        let events: Events = match expiry {
            GetExpiry::Persist if updated => &["hpersist"],
            _ if updated => &["hexpire"],
            _ if deleted => &["hdel"],
            _ => UNCHANGED,
        };
        Ok((values, events))
    })?;
    // Replayed as the expiry change on the fields that were there, the time absolute.
    ctx.propagate_nothing();
    if let Some(values) = &values {
        let present: Vec<_> = fields
            .iter()
            .zip(values)
            .filter(|(_, value)| value.is_some())
            .map(|(field, _)| crate::effects::arg(field))
            .collect();
        let with_fields = |mut effect: Vec<bytes::Bytes>| {
            effect.extend(crate::effect_args!(b"FIELDS", present.len().to_string()));
            effect.extend(present.iter().cloned());
            effect
        };
        match expiry {
            _ if present.is_empty() => {}
            GetExpiry::Keep => {}
            GetExpiry::At(at) if at <= now => ctx.propagate(|| {
                let mut effect = crate::effect_args!(b"HDEL", key);
                effect.extend(present.iter().cloned());
                effect
            }),
            GetExpiry::At(at) => ctx
                .propagate(|| with_fields(crate::effect_args!(b"HPEXPIREAT", key, at.to_string()))),
            GetExpiry::Persist => {
                ctx.propagate(|| with_fields(crate::effect_args!(b"HPERSIST", key)))
            }
        }
    }
    reply.array(fields.len());
    match values {
        Some(values) => values.iter().for_each(|v| match v {
            Some(value) => reply.bulk(value),
            None => reply.null(),
        }),
        None => fields.iter().for_each(|_| reply.null()),
    }
    Ok(())
}

/// What HSETEX does to the expiry of the fields it sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetExpiry {
    /// No option: the fields lose any TTL, as with HSET.
    Clear,
    /// `KEEPTTL`: existing fields keep theirs.
    Keep,
    /// `EX`, `PX`, `EXAT`, `PXAT`: this expiry (Unix milliseconds).
    At(u64),
}

/// HSETEX's arguments after the key.
#[derive(Debug)]
struct SetExOptions<'a> {
    /// `FNX`: set only if none of the fields exists.
    fnx: bool,
    /// `FXX`: set only if all the fields exist.
    fxx: bool,
    /// The expiry option.
    expiry: SetExpiry,
    /// The field-value pairs.
    pairs: &'a [&'a [u8]],
}

impl<'a> SetExOptions<'a> {
    /// Parses the options and the `FIELDS` block as Redis 8.0's `hsetexParseArgs` does: left
    /// to right, the first problem met is the one reported, and the pairs must fill the rest
    /// of the command exactly (else an arity error).
    fn parse(args: &Args<'a>, now: u64) -> Result<SetExOptions<'a>, CommandError> {
        let rest = args.rest();
        let mut options = SetExOptions {
            fnx: false,
            fxx: false,
            expiry: SetExpiry::Clear,
            pairs: &[],
        };
        let mut expiry_given = false;
        let arity = || CommandError::WrongArity("hsetex".to_string());
        let mut i = 0;
        while let Some(word) = rest.get(i) {
            if word.eq_ignore_ascii_case(b"fields") {
                // At least a count, a field and a value must follow.
                if i + 3 >= rest.len() {
                    return Err(arity());
                }
                let count = kv_resp::parse_i64(rest[i + 1])
                    .filter(|n| (1..=i64::from(i32::MAX)).contains(n))
                    .ok_or(CommandError::msg("ERR invalid number of fields"))?;
                let pairs = &rest[i + 2..];
                if pairs.len() % 2 != 0 || usize::try_from(count).ok() != Some(pairs.len() / 2) {
                    return Err(arity());
                }
                options.pairs = pairs;
                return Ok(options);
            }
            let form = ExpireForm::from_option("hsetex", word);
            let keepttl = word.eq_ignore_ascii_case(b"keepttl");
            if form.is_some() || keepttl {
                if expiry_given {
                    return Err(CommandError::msg(
                        "ERR Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be specified",
                    ));
                }
                expiry_given = true;
                options.expiry = match form {
                    None => SetExpiry::Keep,
                    Some(form) => {
                        i += 1;
                        let time = rest
                            .get(i)
                            .ok_or(CommandError::msg("ERR missing expire time"))?;
                        SetExpiry::At(form.field_expiry(time, now)?)
                    }
                };
            } else if word.eq_ignore_ascii_case(b"fnx") || word.eq_ignore_ascii_case(b"fxx") {
                if options.fnx || options.fxx {
                    return Err(CommandError::msg(
                        "ERR Only one of FXX or FNX arguments can be specified",
                    ));
                }
                options.fnx = word.eq_ignore_ascii_case(b"fnx");
                options.fxx = !options.fnx;
            } else {
                return Err(unknown_argument(word));
            }
            i += 1;
        }
        // Redis's arity (-6) leaves no way to get here without meeting an error above.
        Err(NO_FIELDS)
    }
}

/// Redis's `unknown argument: %s`: the argument as a C string (cut at its first NUL byte), then
/// as Redis treats every formatted error: CR and LF trimmed from the end, the others turned
/// into spaces.
fn unknown_argument(word: &[u8]) -> CommandError {
    let line_break = |b: &u8| *b == b'\r' || *b == b'\n';
    let text = word.split(|&b| b == 0).next().unwrap_or_default();
    let end = text
        .iter()
        .rposition(|b| !line_break(b))
        .map_or(0, |i| i + 1);
    let shown: Vec<u8> = text[..end]
        .iter()
        .map(|b| if line_break(b) { b' ' } else { *b })
        .collect();
    CommandError::Other(format!("ERR unknown argument: {}", String::from_utf8_lossy(&shown)).into())
}

/// `HSETEX key [FNX | FXX] [EX seconds | PX milliseconds | EXAT unix-time-seconds |
/// PXAT unix-time-milliseconds | KEEPTTL] FIELDS numfields field value [field value ...]`
/// (Redis 8.0): sets the fields and their expiry; 1 if set, 0 if FNX or FXX forbade it. A time
/// already past deletes the fields as it sets them (and the key with its last field).
pub fn hsetex(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let now = ctx.now;
    // Redis reads every argument before it looks at the key.
    let options = SetExOptions::parse(args, now)?;
    let engine = ctx.engine;
    let expired = &engine.keyspace.expired_subkeys;
    let limits = engine.config.hash_limits();
    let set = update(ctx, key, !options.fxx, |hash| {
        let fields = || options.pairs.chunks_exact(2).map(|pair| pair[0]);
        if (options.fnx && fields().any(|f| hash.contains(f, now)))
            || (options.fxx && !fields().all(|f| hash.contains(f, now)))
        {
            return Ok((false, UNCHANGED));
        }
        // Redis 8.0 checks the pairs against the small form's byte limit once the condition
        // holds, before writing any.
        hash.fit_arguments(options.pairs.iter().map(|a| &a[..]), limits);
        let mut deleted = false;
        for pair in options.pairs.chunks_exact(2) {
            let (field, value) = (pair[0], pair[1]);
            match options.expiry {
                SetExpiry::Clear => {
                    hash.insert(field, value, limits);
                }
                SetExpiry::Keep => {
                    hash.insert_keep_ttl(field, value, limits);
                }
                SetExpiry::At(at) => {
                    hash.insert_keep_ttl(field, value, limits);
                    deleted |= expire_field(hash, field, at, now, expired) == Expired::Deleted;
                }
            }
        }
        // `hset`, then what the expiry did: `hdel` if it deleted, else `hexpire`.
        let events: Events = match options.expiry {
            SetExpiry::At(_) if deleted => &["hset", "hdel"],
            SetExpiry::At(_) => &["hset", "hexpire"],
            SetExpiry::Clear | SetExpiry::Keep => &["hset"],
        };
        Ok((true, events))
    })?;
    if let (Some(true), SetExpiry::At(at)) = (set, options.expiry) {
        // Replayed with the expiry absolute.
        ctx.propagate(|| {
            let mut effect =
                crate::effect_args!(b"HSETEX", key, b"PXAT", at.to_string(), b"FIELDS");
            effect.push(crate::effects::arg((options.pairs.len() / 2).to_string()));
            effect.extend(options.pairs.iter().map(crate::effects::arg));
            effect
        });
    }
    reply.integer(i64::from(set == Some(true)));
    Ok(())
}

/// `HGETDEL key FIELDS numfields field [field ...]` (Redis 8.0): each field's value or nil,
/// deleting the fields that exist; the key goes with its last field.
pub fn hgetdel(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    check_hash_type(ctx, key)?;
    let fields = fields_block(args.rest(), "hgetdel", BAD_COUNT)?;
    let values = update(ctx, key, false, |hash| {
        let values: Vec<_> = fields.iter().map(|field| hash.remove(field)).collect();
        let events: Events = if values.iter().any(Option::is_some) {
            &["hdel"]
        } else {
            UNCHANGED
        };
        Ok((values, events))
    })?;
    reply.array(fields.len());
    match values {
        Some(values) => values.iter().for_each(|v| match v {
            Some(value) => reply.bulk(value),
            None => reply.null(),
        }),
        None => fields.iter().for_each(|_| reply.null()),
    }
    Ok(())
}

/// Registration block: the hash commands' rows of the command table.
///
/// The field-expiry rows take Redis 8.0's facts: the HEXPIRE family without `denyoom` (8.0
/// dropped it, as EXPIRE never had it), `since` the release that added each command.
pub(crate) static COMMANDS: &[CommandSpec] = &[
    command!("hdel", -3, [WRITE, FAST], (1, 1, 1), Hash, engine!(hdel), "2.0.0",
        "O(N) where N is the number of fields to be removed.",
        "Deletes fields and their values from a hash, and the key with its last field.",
        "key field [field ...]", key_flags: &["RW", "delete"]),
    command!("hexists", 3, [READONLY, FAST], (1, 1, 1), Hash, engine!(hexists), "2.0.0",
        "O(1)", "Tells whether a field exists in a hash.", "key field", key_flags: &["RO"]),
    command!("hexpire", -6, [WRITE, FAST], (1, 1, 1), Hash, engine!(hexpire), "7.4.0",
        "O(N) where N is the number of specified fields",
        "Gives fields of a hash a time to live in seconds.",
        "key seconds [NX | XX | GT | LT] FIELDS numfields field [field ...]"),
    command!("hexpireat", -6, [WRITE, FAST], (1, 1, 1), Hash, engine!(hexpireat), "7.4.0",
        "O(N) where N is the number of specified fields",
        "Makes fields of a hash expire at a Unix time in seconds.",
        "key unix-time-seconds [NX | XX | GT | LT] FIELDS numfields field [field ...]"),
    command!("hexpiretime", -5, [READONLY, FAST], (1, 1, 1), Hash, engine!(hexpiretime), "7.4.0",
        "O(N) where N is the number of specified fields",
        "Returns when fields of a hash expire, as Unix times in seconds.",
        "key FIELDS numfields field [field ...]"),
    command!("hget", 3, [READONLY, FAST], (1, 1, 1), Hash, engine!(hget), "2.0.0",
        "O(1)", "Returns the value of a field in a hash.", "key field"),
    command!("hgetall", 2, [READONLY], (1, 1, 1), Hash, engine!(hgetall), "2.0.0",
        "O(N) where N is the size of the hash.", "Returns every field and value of a hash.",
        "key", tips: &["nondeterministic_output_order"]),
    command!("hgetdel", -5, [WRITE, FAST], (1, 1, 1), Hash, engine!(hgetdel), "8.0.0",
        "O(N) where N is the number of specified fields",
        "Returns the values of fields of a hash and deletes the fields.",
        "key FIELDS numfields field [field ...]", key_flags: &["RW", "access", "delete"]),
    command!("hgetex", -5, [WRITE, FAST], (1, 1, 1), Hash, engine!(hgetex), "8.0.0",
        "O(N) where N is the number of specified fields",
        "Returns the values of fields of a hash, optionally changing their expiry.",
        "key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | PERSIST] FIELDS numfields field [field ...]",
        key_flags: &["RW", "access", "update"]),
    command!("hincrby", 4, [WRITE, DENYOOM, FAST], (1, 1, 1), Hash, engine!(hincrby), "2.0.0",
        "O(1)", "Increments the integer value of a field in a hash by a number.",
        "key field increment", key_flags: &["RW", "access", "update"]),
    command!("hincrbyfloat", 4, [WRITE, DENYOOM, FAST], (1, 1, 1), Hash, engine!(hincrbyfloat),
        "2.6.0", "O(1)", "Increments the floating-point value of a field in a hash by a number.",
        "key field increment", key_flags: &["RW", "access", "update"]),
    command!("hkeys", 2, [READONLY], (1, 1, 1), Hash, engine!(hkeys), "2.0.0",
        "O(N) where N is the size of the hash.", "Returns every field of a hash.", "key",
        tips: &["nondeterministic_output_order"]),
    command!("hlen", 2, [READONLY, FAST], (1, 1, 1), Hash, engine!(hlen), "2.0.0",
        "O(1)", "Returns the number of fields in a hash.", "key", key_flags: &["RO"]),
    command!("hmget", -3, [READONLY, FAST], (1, 1, 1), Hash, engine!(hmget), "2.0.0",
        "O(N) where N is the number of fields being requested.",
        "Returns the values of several fields of a hash.", "key field [field ...]"),
    command!("hmset", -4, [WRITE, DENYOOM, FAST], (1, 1, 1), Hash, engine!(hmset), "2.0.0",
        "O(N) where N is the number of fields being set.",
        "Sets several fields of a hash (HSET's older form, replying OK).",
        "key field value [field value ...]"),
    command!("hpersist", -5, [WRITE, FAST], (1, 1, 1), Hash, engine!(hpersist), "7.4.0",
        "O(N) where N is the number of specified fields",
        "Removes the expiry of fields of a hash.", "key FIELDS numfields field [field ...]"),
    command!("hpexpire", -6, [WRITE, FAST], (1, 1, 1), Hash, engine!(hpexpire), "7.4.0",
        "O(N) where N is the number of specified fields",
        "Gives fields of a hash a time to live in milliseconds.",
        "key milliseconds [NX | XX | GT | LT] FIELDS numfields field [field ...]"),
    command!("hpexpireat", -6, [WRITE, FAST], (1, 1, 1), Hash, engine!(hpexpireat), "7.4.0",
        "O(N) where N is the number of specified fields",
        "Makes fields of a hash expire at a Unix time in milliseconds.",
        "key unix-time-milliseconds [NX | XX | GT | LT] FIELDS numfields field [field ...]"),
    command!("hpexpiretime", -5, [READONLY, FAST], (1, 1, 1), Hash, engine!(hpexpiretime),
        "7.4.0", "O(N) where N is the number of specified fields",
        "Returns when fields of a hash expire, as Unix times in milliseconds.",
        "key FIELDS numfields field [field ...]"),
    command!("hpttl", -5, [READONLY, FAST], (1, 1, 1), Hash, engine!(hpttl), "7.4.0",
        "O(N) where N is the number of specified fields",
        "Returns the time to live of fields of a hash in milliseconds.",
        "key FIELDS numfields field [field ...]"),
    command!("hrandfield", -2, [READONLY], (1, 1, 1), Hash, engine!(hrandfield), "6.2.0",
        "O(N) where N is the number of fields returned",
        "Returns random fields of a hash, optionally with their values.",
        "key [count [WITHVALUES]]", tips: &["nondeterministic_output"]),
    command!("hscan", -3, [READONLY], (1, 1, 1), Hash, engine!(hscan), "2.8.0",
        "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
        "Iterates over the fields and values of a hash.", "key cursor [MATCH pattern] [COUNT count]",
        tips: &["nondeterministic_output"]),
    command!("hset", -4, [WRITE, DENYOOM, FAST], (1, 1, 1), Hash, engine!(hset), "2.0.0",
        "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.",
        "Sets fields of a hash, creating the key if needed.", "key field value [field value ...]"),
    command!("hsetex", -6, [WRITE, DENYOOM, FAST], (1, 1, 1), Hash, engine!(hsetex), "8.0.0",
        "O(N) where N is the number of fields being set.",
        "Sets fields of a hash and, optionally, their expiry.",
        "key [FNX | FXX] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL] FIELDS numfields field value [field value ...]"),
    command!("hsetnx", 4, [WRITE, DENYOOM, FAST], (1, 1, 1), Hash, engine!(hsetnx), "2.0.0",
        "O(1)", "Sets a field of a hash only if the field does not exist.", "key field value", key_flags: &["RW", "insert"]),
    command!("hstrlen", 3, [READONLY, FAST], (1, 1, 1), Hash, engine!(hstrlen), "3.2.0",
        "O(1)", "Returns the length of the value of a field in a hash.", "key field", key_flags: &["RO"]),
    command!("httl", -5, [READONLY, FAST], (1, 1, 1), Hash, engine!(httl), "7.4.0",
        "O(N) where N is the number of specified fields",
        "Returns the time to live of fields of a hash in seconds.",
        "key FIELDS numfields field [field ...]"),
    command!("hvals", 2, [READONLY], (1, 1, 1), Hash, engine!(hvals), "2.0.0",
        "O(N) where N is the size of the hash.", "Returns every value of a hash.", "key",
        tips: &["nondeterministic_output_order"]),
];

#[cfg(test)]
mod field_expiry_tests;

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use kv_resp::Frame;

    use super::*;
    use crate::keys::tests::{bulk, err, int, Client};
    use crate::Protocol;

    /// The strings of an array of bulk strings, sorted (hash order is unspecified).
    fn sorted(frame: Frame) -> Vec<String> {
        let Frame::Array(items) = frame else {
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

    /// Sets the hash thresholds as CONFIG SET would.
    fn set_hash_limits(c: &Client, entries: u64, value: u64) {
        let config = &c.engine.config;
        config
            .hash_max_listpack_entries
            .store(entries, std::sync::atomic::Ordering::Relaxed);
        config
            .hash_max_listpack_value
            .store(value, std::sync::atomic::Ordering::Relaxed);
    }

    /// What OBJECT ENCODING says of `key`.
    fn encoding(c: &mut Client, key: &str) -> Frame {
        c.cmd(&format!("OBJECT ENCODING {key}"))
    }

    /// ` f0 v f1 v ...`: `n` field-value pairs for an HSET line.
    fn fields(n: usize) -> String {
        (0..n).map(|i| format!(" f{i} v")).collect()
    }

    #[test]
    fn listpack_thresholds_128_and_512() {
        let mut c = Client::new();
        c.cmd(&format!("HSET h{}", fields(512)));
        assert_eq!(
            encoding(&mut c, "h"),
            bulk("listpack"),
            "Redis 7.0's default is 512"
        );
        c.cmd("HSET h f512 v");
        assert_eq!(encoding(&mut c, "h"), bulk("hashtable"));
        c.cmd("HDEL h f512 f0");
        assert_eq!(encoding(&mut c, "h"), bulk("hashtable"), "never back");
        set_hash_limits(&c, 128, 64);
        c.cmd(&format!("HSET e{}", fields(128)));
        assert_eq!(encoding(&mut c, "e"), bulk("listpack"));
        c.cmd("HSET e f128 v");
        assert_eq!(encoding(&mut c, "e"), bulk("hashtable"), "129 fields");
        c.cmd(&format!("HSET e2{}", fields(129)));
        assert_eq!(encoding(&mut c, "e2"), bulk("hashtable"));
        set_hash_limits(&c, 512, 64);
    }

    #[test]
    fn listpack_value_threshold_64_and_65() {
        let mut c = Client::new();
        let (at, over) = ("x".repeat(64), "x".repeat(65));
        c.cmd(&format!("HSET h {at} {at}"));
        assert_eq!(encoding(&mut c, "h"), bulk("listpack"));
        c.cmd(&format!("HSET h f {over}"));
        assert_eq!(encoding(&mut c, "h"), bulk("hashtable"));
        c.cmd(&format!("HSET h2 {over} v"));
        assert_eq!(encoding(&mut c, "h2"), bulk("hashtable"));
        // Every argument is checked before any is written.
        c.cmd(&format!("HSET h3 f {over} f short"));
        assert_eq!(encoding(&mut c, "h3"), bulk("hashtable"));
        assert_eq!(c.cmd("HGET h3 f"), bulk("short"));
        // HSETNX of an existing field writes nothing and converts nothing.
        c.cmd("HSET h4 f v");
        assert_eq!(c.cmd(&format!("HSETNX h4 f {over}")), int(0));
        assert_eq!(encoding(&mut c, "h4"), bulk("listpack"));
        assert_eq!(c.cmd(&format!("HSETNX h4 g {over}")), int(1));
        assert_eq!(encoding(&mut c, "h4"), bulk("hashtable"));
        // HINCRBY's field and HINCRBYFLOAT's result count too.
        c.cmd("HSET h5 f 1");
        c.cmd(&format!("HINCRBY h5 {over} 1"));
        assert_eq!(encoding(&mut c, "h5"), bulk("hashtable"));
        c.cmd("HSET h6 f 1");
        c.cmd("HINCRBYFLOAT h6 f 1e300");
        assert_eq!(encoding(&mut c, "h6"), bulk("hashtable"));
        // The threshold is live: later writes use the new one; nothing converts on its own.
        c.cmd("HSET h7 a 12345 b 1 c 2");
        set_hash_limits(&c, 2, 5);
        assert_eq!(encoding(&mut c, "h7"), bulk("listpack"));
        assert_eq!(c.cmd("HGET h7 a"), bulk("12345"));
        assert_eq!(c.cmd("HSETNX h7 a x"), int(0));
        assert_eq!(encoding(&mut c, "h7"), bulk("listpack"));
        c.cmd("HSET h7 a 9");
        assert_eq!(
            encoding(&mut c, "h7"),
            bulk("hashtable"),
            "an update past 2 fields"
        );
        set_hash_limits(&c, 0, 64);
        c.cmd("HSET zero f v");
        assert_eq!(encoding(&mut c, "zero"), bulk("hashtable"));
        set_hash_limits(&c, 512, 64);
    }

    #[test]
    fn listpack_order_shows_in_replies() {
        let mut c = Client::new();
        c.cmd("HSET h c 3 a 1 b 2");
        c.cmd("HSET h d 4 a one");
        c.cmd("HDEL h b");
        c.cmd("HSET h b two");
        let flat = |items: &[&str]| Frame::Array(items.iter().map(|s| bulk(s)).collect());
        assert_eq!(c.cmd("HKEYS h"), flat(&["c", "a", "d", "b"]));
        assert_eq!(
            c.cmd("HGETALL h"),
            flat(&["c", "3", "a", "one", "d", "4", "b", "two"])
        );
        assert_eq!(
            c.cmd("HSCAN h 7 COUNT 1"),
            Frame::Array(vec![
                bulk("0"),
                flat(&["c", "3", "a", "one", "d", "4", "b", "two"])
            ])
        );
        assert_eq!(c.cmd("HRANDFIELD h 10"), flat(&["c", "a", "d", "b"]));
        // Distinct picks from a listpack come in its order.
        for _ in 0..20 {
            let Frame::Array(picked) = c.cmd("HRANDFIELD h 3") else {
                panic!("an array")
            };
            let order = ["c", "a", "d", "b"];
            let at: Vec<usize> = picked
                .iter()
                .map(|f| order.iter().position(|o| bulk(o) == *f).unwrap_or(9))
                .collect();
            assert!(at.windows(2).all(|w| w[0] < w[1]), "{at:?}");
        }
    }

    #[test]
    fn restore_picks_the_hash_form_for_the_content() {
        let mut c = Client::new();
        c.cmd("HSET h a 1 b 2");
        let over = "x".repeat(65);
        c.cmd(&format!("HSET h c {over}"));
        c.cmd("HDEL h c");
        assert_eq!(encoding(&mut c, "h"), bulk("hashtable"));
        let Frame::Bulk(payload) = c.cmd("DUMP h") else {
            panic!("a payload")
        };
        assert_eq!(
            c.run(&[b"RESTORE", b"r", b"0", &payload]),
            Frame::simple("OK")
        );
        assert_eq!(
            encoding(&mut c, "r"),
            bulk("listpack"),
            "loading picks the form"
        );
        assert_eq!(c.cmd("HGET r b"), bulk("2"));
        set_hash_limits(&c, 1, 64);
        assert_eq!(
            c.run(&[b"RESTORE", b"r1", b"0", &payload]),
            Frame::simple("OK")
        );
        assert_eq!(encoding(&mut c, "r1"), bulk("hashtable"));
        set_hash_limits(&c, 512, 1);
        assert_eq!(
            c.run(&[b"RESTORE", b"r2", b"0", &payload]),
            Frame::simple("OK")
        );
        assert_eq!(
            encoding(&mut c, "r2"),
            bulk("listpack"),
            "1-byte fields and values fit"
        );
        set_hash_limits(&c, 512, 0);
        assert_eq!(
            c.run(&[b"RESTORE", b"r3", b"0", &payload]),
            Frame::simple("OK")
        );
        assert_eq!(encoding(&mut c, "r3"), bulk("hashtable"));
        set_hash_limits(&c, 512, 64);
    }

    #[test]
    fn hset_hmset_hsetnx_and_reads() {
        let mut c = Client::new();
        assert_eq!(c.cmd("HSET h a 1 b 2"), int(2));
        assert_eq!(c.cmd("HSET h a 10 c 3"), int(1));
        assert_eq!(c.cmd("HMSET h d 4"), Frame::simple("OK"));
        assert_eq!(
            c.cmd("HSET h a"),
            err("ERR wrong number of arguments for 'hset' command")
        );
        assert_eq!(
            c.cmd("HMSET h a 1 b"),
            err("ERR wrong number of arguments for 'hmset' command")
        );
        assert_eq!(c.cmd("HLEN h"), int(4));
        assert_eq!(c.cmd("HGET h a"), bulk("10"));
        assert_eq!(c.cmd("HGET h zz"), Frame::NullBulk);
        assert_eq!(c.cmd("HGET nokey a"), Frame::NullBulk);
        assert_eq!(
            c.cmd("HMGET h a zz d"),
            Frame::Array(vec![bulk("10"), Frame::NullBulk, bulk("4")])
        );
        assert_eq!(c.cmd("HMGET nokey a"), Frame::Array(vec![Frame::NullBulk]));
        assert_eq!(c.cmd("HSETNX h a x"), int(0));
        assert_eq!(c.cmd("HSETNX h e 5"), int(1));
        assert_eq!(c.cmd("HSETNX new f v"), int(1));
        assert_eq!(c.cmd("HGET h e"), bulk("5"));
        assert_eq!(c.cmd("HEXISTS h e"), int(1));
        assert_eq!(c.cmd("HEXISTS h zz"), int(0));
        assert_eq!(c.cmd("HEXISTS nokey a"), int(0));
        assert_eq!(c.cmd("HSTRLEN h a"), int(2));
        assert_eq!(c.cmd("HSTRLEN h zz"), int(0));
        assert_eq!(c.cmd("HSTRLEN nokey a"), int(0));
        assert_eq!(c.cmd("HLEN nokey"), int(0));
        assert_eq!(c.cmd("TYPE h"), Frame::simple("hash"));
    }

    #[test]
    fn hkeys_hvals_hgetall_in_both_protocols() {
        let mut c = Client::new();
        c.cmd("HSET h a 1 b 2");
        assert_eq!(sorted(c.cmd("HKEYS h")), ["a", "b"]);
        assert_eq!(sorted(c.cmd("HVALS h")), ["1", "2"]);
        assert_eq!(sorted(c.cmd("HGETALL h")), ["1", "2", "a", "b"]);
        assert_eq!(c.cmd("HKEYS nokey"), Frame::Array(vec![]));
        assert_eq!(c.cmd("HGETALL nokey"), Frame::Array(vec![]));
        c.set_protocol(Protocol::Resp3);
        let Frame::Map(mut pairs) = c.cmd("HGETALL h") else {
            panic!("HGETALL is a map in RESP3")
        };
        pairs.sort_by_key(|(f, _)| format!("{f:?}"));
        assert_eq!(pairs, vec![(bulk("a"), bulk("1")), (bulk("b"), bulk("2"))]);
        assert_eq!(c.cmd("HGETALL nokey"), Frame::Map(vec![]));
        assert_eq!(c.cmd("HGET h zz"), Frame::Null);
    }

    #[test]
    fn hdel_deletes_the_key_with_its_last_field() {
        let mut c = Client::new();
        c.cmd("HSET h a 1 b 2 c 3");
        assert_eq!(c.cmd("HDEL nokey a"), int(0));
        assert_eq!(c.cmd("HDEL h a a zz"), int(1));
        assert_eq!(c.cmd("EXISTS h"), int(1));
        assert_eq!(c.cmd("HDEL h b c"), int(2));
        assert_eq!(c.cmd("EXISTS h"), int(0));
        assert_eq!(c.cmd("HLEN h"), int(0));
    }

    #[test]
    fn hincrby_counts_and_refuses() {
        let mut c = Client::new();
        assert_eq!(c.cmd("HINCRBY h n 5"), int(5));
        assert_eq!(c.cmd("HINCRBY h n -7"), int(-2));
        assert_eq!(c.cmd("HGET h n"), bulk("-2"));
        assert_eq!(
            c.cmd("HINCRBY h n x"),
            err("ERR value is not an integer or out of range")
        );
        c.cmd("HSET h s hello");
        assert_eq!(
            c.cmd("HINCRBY h s 1"),
            err("ERR hash value is not an integer")
        );
        c.cmd("HSET h big 9223372036854775807");
        assert_eq!(
            c.cmd("HINCRBY h big 1"),
            err("ERR increment or decrement would overflow")
        );
        assert_eq!(c.cmd("HGET h big"), bulk("9223372036854775807"));
        // A failed increment on a missing key leaves nothing behind.
        assert_eq!(
            c.cmd("HINCRBY other n x"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(c.cmd("EXISTS other"), int(0));
    }

    #[test]
    fn hincrbyfloat_uses_long_double() {
        let mut c = Client::new();
        assert_eq!(c.cmd("HINCRBYFLOAT h x 10.5"), bulk("10.5"));
        assert_eq!(
            c.cmd("HINCRBYFLOAT h y 1000.1"),
            bulk("1000.09999999999999998")
        );
        assert_eq!(c.cmd("HINCRBYFLOAT h x -0.5"), bulk("10"));
        assert_eq!(c.cmd("HGET h x"), bulk("10"));
        assert_eq!(
            c.cmd("HINCRBYFLOAT h x abc"),
            err("ERR value is not a valid float")
        );
        assert_eq!(
            c.cmd("HINCRBYFLOAT h x inf"),
            err("ERR value is NaN or Infinity")
        );
        c.cmd("HSET h s hello");
        assert_eq!(
            c.cmd("HINCRBYFLOAT h s 1"),
            err("ERR hash value is not a float")
        );
        c.cmd("HSET h i inf");
        assert_eq!(
            c.cmd("HINCRBYFLOAT h i 1"),
            err("ERR increment would produce NaN or Infinity")
        );
        c.cmd("HSET h big 1.1e4932");
        assert_eq!(
            c.cmd("HINCRBYFLOAT h big 1.1e4932"),
            err("ERR increment would produce NaN or Infinity")
        );
    }

    #[test]
    fn wrong_types_both_ways() {
        let mut c = Client::new();
        c.cmd("SET s v");
        for line in [
            "HSET s f v",
            "HMSET s f v",
            "HSETNX s f v",
            "HGET s f",
            "HMGET s f",
            "HDEL s f",
            "HLEN s",
            "HSTRLEN s f",
            "HEXISTS s f",
            "HKEYS s",
            "HVALS s",
            "HGETALL s",
            "HINCRBY s f 1",
            "HINCRBYFLOAT s f 1",
            "HRANDFIELD s",
            "HRANDFIELD s 0",
            "HSCAN s 0",
        ] {
            assert_eq!(c.cmd(line), err(WRONGTYPE), "{line}");
        }
        // The argument is checked before the type, as in Redis.
        assert_eq!(
            c.cmd("HINCRBY s f x"),
            err("ERR value is not an integer or out of range")
        );
        c.cmd("HSET h f v");
        for line in ["GET h", "INCR h", "APPEND h x", "STRLEN h", "GETDEL h"] {
            assert_eq!(c.cmd(line), err(WRONGTYPE), "{line}");
        }
        assert_eq!(c.cmd("MGET h"), Frame::Array(vec![Frame::NullBulk]));
        assert_eq!(c.cmd("GET s"), bulk("v"));
    }

    #[test]
    fn hrandfield_counts() {
        let mut c = Client::new();
        assert_eq!(c.cmd("HRANDFIELD nokey"), Frame::NullBulk);
        assert_eq!(c.cmd("HRANDFIELD nokey 3"), Frame::Array(vec![]));
        // A repeating draw is refused before it could build an unbounded reply.
        assert_eq!(
            c.cmd("HRANDFIELD nokey -16777217"),
            err("ERR value is out of range")
        );
        assert_eq!(c.cmd("HRANDFIELD nokey -16777216"), Frame::Array(vec![]));
        let fields: Vec<String> = (0..20).map(|i| format!("f{i}")).collect();
        for f in &fields {
            c.cmd(&format!("HSET h {f} v{f}"));
        }
        let all: HashSet<String> = fields.iter().cloned().collect();
        let Frame::Bulk(one) = c.cmd("HRANDFIELD h") else {
            panic!("a bulk string")
        };
        assert!(all.contains(std::str::from_utf8(&one).expect("utf-8")));
        assert_eq!(c.cmd("HRANDFIELD h 0"), Frame::Array(vec![]));
        // Positive: distinct, at most the hash.
        let picked = sorted(c.cmd("HRANDFIELD h 5"));
        assert_eq!(picked.len(), 5);
        assert_eq!(picked.iter().collect::<HashSet<_>>().len(), 5);
        assert!(picked.iter().all(|f| all.contains(f)));
        assert_eq!(sorted(c.cmd("HRANDFIELD h 100")).len(), 20);
        // Negative: exactly that many, repeats allowed.
        let picked = sorted(c.cmd("HRANDFIELD h -50"));
        assert_eq!(picked.len(), 50);
        assert!(picked.iter().all(|f| all.contains(f)));
        // WITHVALUES: flat pairs in RESP2, pair arrays in RESP3.
        let Frame::Array(flat) = c.cmd("HRANDFIELD h 3 WITHVALUES") else {
            panic!("an array")
        };
        assert_eq!(flat.len(), 6);
        for pair in flat.chunks(2) {
            let (Frame::Bulk(f), Frame::Bulk(v)) = (&pair[0], &pair[1]) else {
                panic!("{pair:?}")
            };
            assert_eq!(&v[..], [&b"v"[..], &f[..]].concat());
        }
        c.set_protocol(Protocol::Resp3);
        let Frame::Array(pairs) = c.cmd("HRANDFIELD h -4 withvalues") else {
            panic!("an array")
        };
        assert_eq!(pairs.len(), 4);
        assert!(pairs
            .iter()
            .all(|p| matches!(p, Frame::Array(pair) if pair.len() == 2)));
        c.set_protocol(Protocol::Resp2);
        assert_eq!(c.cmd("HRANDFIELD h 1 foo"), err("ERR syntax error"));
        assert_eq!(
            c.cmd("HRANDFIELD h x"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(
            c.cmd("HRANDFIELD h -9223372036854775808"),
            err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
        );
        assert_eq!(
            c.cmd("HRANDFIELD h -4611686018427387904 WITHVALUES"),
            err("ERR value is out of range")
        );
    }

    /// Every field a complete HSCAN iteration returns, and how many calls it took.
    fn scan_all(c: &mut Client, key: &str, options: &str) -> (Vec<String>, usize) {
        let mut cursor = "0".to_string();
        let mut fields = Vec::new();
        let mut calls = 0;
        loop {
            calls += 1;
            let Frame::Array(mut reply) = c.cmd(&format!("HSCAN {key} {cursor} {options}")) else {
                panic!("an array")
            };
            let batch = reply.pop().expect("batch");
            let Some(Frame::Bulk(next)) = reply.pop() else {
                panic!("a cursor")
            };
            let Frame::Array(items) = batch else {
                panic!("{batch:?}")
            };
            for pair in items.chunks(2) {
                let Frame::Bulk(f) = &pair[0] else {
                    panic!("{pair:?}")
                };
                fields.push(String::from_utf8(f.to_vec()).expect("utf-8"));
            }
            cursor = String::from_utf8(next.to_vec()).expect("digits");
            if cursor == "0" {
                return (fields, calls);
            }
        }
    }

    #[test]
    fn hscan_small_and_big_hashes() {
        let mut c = Client::new();
        assert_eq!(
            c.cmd("HSCAN nokey 0"),
            Frame::Array(vec![bulk("0"), Frame::Array(vec![])])
        );
        c.cmd("HSET small a 1 b 2 ab 3");
        let (mut fields, calls) = scan_all(&mut c, "small", "COUNT 1");
        fields.sort();
        assert_eq!(
            (fields, calls),
            (vec!["a".into(), "ab".into(), "b".into()], 1)
        );
        let (mut fields, _) = scan_all(&mut c, "small", "MATCH a*");
        fields.sort();
        assert_eq!(fields, ["a", "ab"]);
        assert_eq!(c.cmd("HSCAN small x"), err("ERR invalid cursor"));
        assert_eq!(c.cmd("HSCAN small 0 COUNT 0"), err("ERR syntax error"));
        assert_eq!(c.cmd("HSCAN small 0 TYPE hash"), err("ERR syntax error"));
        assert_eq!(c.cmd("HSCAN small 0 MATCH"), err("ERR syntax error"));

        // A big hash is walked in several calls and every field comes back.
        for chunk in 0..10 {
            let mut line = "HSET big".to_string();
            for i in 0..100 {
                line.push_str(&format!(" f{} v", chunk * 100 + i));
            }
            c.cmd(&line);
        }
        let (fields, calls) = scan_all(&mut c, "big", "COUNT 50");
        assert!(calls >= 20, "{calls} calls");
        let unique: HashSet<String> = fields.iter().cloned().collect();
        assert_eq!(unique.len(), 1000);
        assert_eq!(
            fields.len(),
            1000,
            "no field is returned twice by a stable hash"
        );
        let (fields, _) = scan_all(&mut c, "big", "MATCH f99* COUNT 7");
        let unique: HashSet<String> = fields.into_iter().collect();
        assert_eq!(unique.len(), 11, "f99 and f990..f999");
    }

    #[test]
    fn hscan_keeps_its_guarantee_while_the_hash_changes() {
        let mut c = Client::new();
        for i in 0..1000 {
            c.cmd(&format!("HSET h stable{i} v"));
        }
        let mut cursor = "0".to_string();
        let mut seen = HashSet::new();
        let mut round = 0;
        loop {
            let Frame::Array(mut reply) = c.cmd(&format!("HSCAN h {cursor} COUNT 30")) else {
                panic!("an array")
            };
            let Some(Frame::Array(items)) = reply.pop() else {
                panic!("a batch")
            };
            let Some(Frame::Bulk(next)) = reply.pop() else {
                panic!("a cursor")
            };
            for pair in items.chunks(2) {
                if let Frame::Bulk(f) = &pair[0] {
                    seen.insert(f.to_vec());
                }
            }
            // Grow and shrink the hash between calls: forces rehashing.
            for i in 0..40 {
                c.cmd(&format!("HSET h churn{round}_{i} v"));
            }
            for i in 0..40 {
                c.cmd(&format!("HDEL h churn{round}_{i}"));
            }
            round += 1;
            cursor = String::from_utf8(next.to_vec()).expect("digits");
            if cursor == "0" {
                break;
            }
        }
        for i in 0..1000 {
            assert!(seen.contains(format!("stable{i}").as_bytes()), "stable{i}");
        }
    }

    #[test]
    fn hscan_cursors_parse_like_strtoul() {
        assert_eq!(crate::keys::parse_cursor(b""), Ok(0));
        assert_eq!(crate::keys::parse_cursor(b"+12"), Ok(12));
        assert_eq!(crate::keys::parse_cursor(b"-1"), Ok(u64::MAX));
        for bad in [&b" 1"[..], b"1x", b"-", b"18446744073709551616"] {
            assert!(crate::keys::parse_cursor(bad).is_err(), "{bad:?}");
        }
    }

    /// Runs each command at its time (Unix ms) and checks the keyevent notifications it
    /// published, in order, as `"<event> <key>"` (database 0).
    fn check_events(c: &mut Client, cases: &[(u64, &str, &[&str])]) {
        let seen = crate::keys::tests::record_events(c, "EA");
        for &(now, line, expected) in cases {
            c.cmd_at(line, now);
            let published: Vec<String> = std::mem::take(&mut *seen.lock())
                .into_iter()
                .map(|e| e.strip_prefix("0 ").expect("database 0").to_string())
                .collect();
            assert_eq!(published, expected, "{line}");
        }
    }

    /// The events of the field-expiry commands (Redis 8.0's, which the Redis 7.0 differential
    /// test cannot check), and the `hexpired` of a write that reclaims expired fields.
    #[test]
    fn field_expiry_commands_publish_redis_events() {
        const T: u64 = 1_700_000_000_000;
        let mut c = Client::new();
        check_events(
            &mut c,
            &[
                // HEXPIRE family: `hexpire` when a field got the time, `hdel` when a past time
                // deleted fields (then `del` with the last), nothing when nothing changed.
                (T, "HSET h a 1 b 2 c 3", &["hset h"]),
                (T, "HPEXPIRE h 1000 FIELDS 2 a nofield", &["hexpire h"]),
                (T, "HPEXPIRE h 1000 NX FIELDS 1 a", &[]),
                (T, "HPEXPIRE h 1000 FIELDS 1 nofield", &[]),
                (T, "HPEXPIRE nokey 1000 FIELDS 1 a", &[]),
                (T, "HPEXPIRE h -1 FIELDS 1 a", &[]),
                (T, "HEXPIREAT h 1 FIELDS 2 a b", &["hdel h"]),
                (T, "HSET h a 1", &["hset h"]),
                (T, "HEXPIRE h 10 FIELDS 1 a", &["hexpire h"]),
                // HPERSIST: only when a field lost its TTL.
                (T, "HPERSIST h FIELDS 2 a c", &["hpersist h"]),
                (T, "HPERSIST h FIELDS 2 a c", &[]),
                (T, "HPERSIST nokey FIELDS 1 a", &[]),
                (T, "HPEXPIREAT h 1 FIELDS 2 a c", &["hdel h", "del h"]),
                // HGETEX: `hexpire`, `hpersist` or `hdel` for what it did; nothing for a read.
                (T, "HSET g a 1 b 2", &["hset g"]),
                (T, "HGETEX g FIELDS 1 a", &[]),
                (T, "HGETEX g PX 1000 FIELDS 2 a nofield", &["hexpire g"]),
                (T, "HGETEX g PERSIST FIELDS 1 b", &[]),
                (T, "HGETEX g PERSIST FIELDS 1 a", &["hpersist g"]),
                (T, "HGETEX g PXAT 1 FIELDS 1 a", &["hdel g"]),
                (T, "HGETEX g EXAT 1 FIELDS 1 b", &["hdel g", "del g"]),
                (T, "HGETEX g PX 1000 FIELDS 1 b", &[]),
                // HSETEX: `hset`, then `hexpire` or `hdel` for the expiry it set.
                (T, "HSETEX s FIELDS 1 a 1", &["hset s"]),
                (T, "HSETEX s PX 1000 FIELDS 1 b 2", &["hset s", "hexpire s"]),
                (T, "HSETEX s FNX FIELDS 1 a 3", &[]),
                (T, "HSETEX s FXX KEEPTTL FIELDS 1 b 5", &["hset s"]),
                (T, "HSETEX s PXAT 1 FIELDS 1 a 1", &["hset s", "hdel s"]),
                (
                    T,
                    "HSETEX s PXAT 1 FIELDS 1 b 1",
                    &["hset s", "hdel s", "del s"],
                ),
                (T, "HSETEX nokey FXX FIELDS 1 a 1", &[]),
                (
                    T,
                    "HSETEX new PXAT 1 FIELDS 1 a 1",
                    &["hset new", "hdel new", "del new"],
                ),
                // HGETDEL: `hdel` when a field went, then `del` with the last.
                (T, "HSET d a 1 b 2", &["hset d"]),
                (T, "HGETDEL d FIELDS 1 nofield", &[]),
                (T, "HGETDEL d FIELDS 2 a nofield", &["hdel d"]),
                (T, "HGETDEL d FIELDS 1 b", &["hdel d", "del d"]),
                (T, "HGETDEL d FIELDS 1 b", &[]),
                // A write that reclaims expired fields reports them first, even when it then
                // changes nothing.
                (T, "HSET r a 1 b 2 c 3", &["hset r"]),
                (T, "HPEXPIRE r 100 FIELDS 1 a", &["hexpire r"]),
                (T + 200, "HSET r x 1", &["hexpired r", "hset r"]),
                (T + 200, "HDEL r nofield", &[]),
                (T + 200, "HPEXPIRE r 100 FIELDS 1 b", &["hexpire r"]),
                (T + 400, "HSETNX r c 9", &["hexpired r"]),
                (T + 400, "HPEXPIRE r 100 FIELDS 1 c", &["hexpire r"]),
                (T + 600, "HDEL r c x", &["hexpired r", "hdel r", "del r"]),
                // Reads reclaim nothing and publish nothing.
                (T, "HSET q a 1 b 2", &["hset q"]),
                (T, "HPEXPIRE q 100 FIELDS 1 a", &["hexpire q"]),
                (T + 200, "HGETALL q", &[]),
                (T + 200, "HTTL q FIELDS 1 a", &[]),
            ],
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
        assert_eq!(row("hset").arity, -4);
        assert_eq!(row("hrandfield").arity, -2);
        assert_eq!(row("hscan").arity, -3);
        assert_eq!(row("hgetall").tips, ["nondeterministic_output_order"]);
        assert!(COMMANDS
            .iter()
            .all(|c| crate::table::find(c.name.as_bytes()).is_some()));
    }

    use crate::multi::tests::fails_watch;

    #[test]
    fn changes_fail_watches_and_no_ops_do_not() {
        let setup = ["HSET h a 1 b 2"];
        for (line, fails) in [
            ("HSET h a 1", true),
            ("HSETNX h a 2", false),
            ("HSETNX h c 3", true),
            ("HDEL h nofield", false),
            ("HDEL h a", true),
            ("HINCRBY h n 1", true),
            ("HINCRBY h a x", false),
            ("HINCRBYFLOAT h a 1", true),
            ("HEXPIRE h 100 FIELDS 1 nofield", false),
            ("HEXPIRE h 100 FIELDS 1 a", true),
            ("HPERSIST h FIELDS 1 a", false),
            ("HGETEX h FIELDS 1 a", false),
            ("HGETEX h PX 100000 FIELDS 1 a", true),
            ("HSETEX h FNX FIELDS 1 a 1", false),
            ("HSETEX h FIELDS 1 a 1", true),
            ("HGETDEL h FIELDS 1 nofield", false),
            ("HGETDEL h FIELDS 1 a", true),
            ("HGETALL h", false),
        ] {
            assert_eq!(fails_watch(&setup, "h", line), fails, "{line}");
        }
    }
}
