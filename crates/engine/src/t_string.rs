//! String commands (Redis's `t_string.c`).

use crate::args::parse_i64;
use crate::command::CommandSpec;
use crate::keys::expire_if_needed;
use crate::table::{command, engine};
use crate::{Args, CommandError, CommandResult, Ctx, Entry, EventClass, Reply, StrValue, Value};

/// The string at `key`, `None` if missing, `WRONGTYPE` if another type.
pub(crate) fn string_at<'c>(
    ctx: &'c Ctx<'_, '_>,
    key: &[u8],
) -> Result<Option<&'c [u8]>, CommandError> {
    match ctx.lookup(key)? {
        None => Ok(None),
        Some(Entry {
            value: Value::Str(s),
            ..
        }) => Ok(Some(s.as_bytes())),
        Some(_) => Err(CommandError::WrongType),
    }
}

/// Stores a string at `key`, keeping the key's TTL when `keep_ttl`.
fn store(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    value: StrValue,
    keep_ttl: bool,
    expires_at: Option<u64>,
) -> CommandResult {
    let db = ctx.db();
    let now = ctx.now;
    let ttl = if keep_ttl {
        ctx.locked.get(db, key, now)?.and_then(Entry::expires_at)
    } else {
        expires_at
    };
    ctx.locked
        .insert(db, key, Entry::new(Value::Str(value), now), now)?;
    if ttl.is_some() {
        ctx.locked.set_expiry(db, key, ttl, now)?;
    }
    Ok(())
}

/// Replaces the string at an existing `key` in place, keeping its TTL.
fn overwrite(ctx: &mut Ctx<'_, '_>, key: &[u8], value: StrValue) -> CommandResult {
    match ctx.lookup_write(key)? {
        Some(entry) => {
            entry.value = Value::Str(value);
            Ok(())
        }
        None => store(ctx, key, value, false, None),
    }
}

/// The string at `key` for a command that changes it in place (APPEND, SETRANGE): a write
/// lookup, as Redis's (no hit or miss counted; a key past its TTL is deleted, `None`), which
/// touches the key it finds whatever the command does next, as Redis's lookup does.
/// `WRONGTYPE` for another type.
fn string_for_write<'c>(
    ctx: &'c mut Ctx<'_, '_>,
    key: &[u8],
) -> Result<Option<&'c mut StrValue>, CommandError> {
    let Some(entry) = ctx.lookup_write(key)? else {
        return Ok(None);
    };
    match &mut entry.value {
        Value::Str(value) => Ok(Some(value)),
        _ => Err(CommandError::WrongType),
    }
}

/// The longest string a command may make: `proto-max-bulk-len`.
fn length_limit(ctx: &Ctx<'_, '_>) -> u64 {
    ctx.engine
        .config
        .proto_max_bulk_len
        .load(std::sync::atomic::Ordering::Relaxed)
}

/// How an expiry option is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExpiryUnit {
    /// EX: seconds from now.
    Seconds,
    /// PX: milliseconds from now.
    Millis,
    /// EXAT: absolute Unix seconds.
    UnixSeconds,
    /// PXAT: absolute Unix milliseconds.
    UnixMillis,
}

/// The options SET and GETEX share, parsed as Redis's `parseExtendedStringArgumentsOrReply`.
#[derive(Debug, Default)]
struct StringOptions<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keep_ttl: bool,
    persist: bool,
    expiry: Option<(ExpiryUnit, &'a [u8])>,
}

/// Which command is parsing, as options differ.
#[derive(PartialEq, Eq)]
enum Parsing {
    Set,
    GetEx,
}

impl<'a> StringOptions<'a> {
    fn parse(
        args: &mut crate::Args<'a>,
        command: Parsing,
    ) -> Result<StringOptions<'a>, CommandError> {
        let mut o = StringOptions::default();
        while let Some(arg) = args.peek() {
            args.next_bytes()?;
            let is = |word: &str| arg.eq_ignore_ascii_case(word.as_bytes());
            let has_expiry = o.expiry.is_some();
            if command == Parsing::Set && is("nx") && !o.xx {
                o.nx = true;
            } else if command == Parsing::Set && is("xx") && !o.nx {
                o.xx = true;
            } else if command == Parsing::Set && is("get") {
                o.get = true;
            } else if command == Parsing::Set && is("keepttl") && !o.persist && !has_expiry {
                o.keep_ttl = true;
            } else if command == Parsing::GetEx && is("persist") && !has_expiry && !o.keep_ttl {
                o.persist = true;
            } else if let Some(unit) = [
                ("ex", ExpiryUnit::Seconds),
                ("px", ExpiryUnit::Millis),
                ("exat", ExpiryUnit::UnixSeconds),
                ("pxat", ExpiryUnit::UnixMillis),
            ]
            .into_iter()
            .find(|(word, _)| is(word))
            .map(|(_, unit)| unit)
            {
                // The same option given twice is allowed (the last wins), another one is not.
                let other_expiry = o.expiry.is_some_and(|(u, _)| u != unit);
                if o.keep_ttl || o.persist || other_expiry || args.is_empty() {
                    return Err(CommandError::Syntax);
                }
                o.expiry = Some((unit, args.next_bytes()?));
            } else {
                return Err(CommandError::Syntax);
            }
        }
        Ok(o)
    }

    /// The absolute expiry time in milliseconds, validated as Redis does for `command`.
    fn expires_at(&self, now: u64, command: &'static str) -> Result<Option<u64>, CommandError> {
        let Some((unit, text)) = self.expiry else {
            return Ok(None);
        };
        absolute_expiry(parse_i64(text)?, unit, now, command).map(Some)
    }
}

/// Converts an expiry argument to absolute milliseconds, refusing what Redis refuses.
fn absolute_expiry(
    value: i64,
    unit: ExpiryUnit,
    now: u64,
    command: &'static str,
) -> Result<u64, CommandError> {
    let invalid = CommandError::InvalidExpireTime(command);
    if value <= 0 {
        return Err(invalid);
    }
    let millis = match unit {
        ExpiryUnit::Seconds | ExpiryUnit::UnixSeconds => {
            value.checked_mul(1000).ok_or(invalid.clone())?
        }
        ExpiryUnit::Millis | ExpiryUnit::UnixMillis => value,
    };
    let absolute = match unit {
        ExpiryUnit::Seconds | ExpiryUnit::Millis => {
            millis.checked_add(now as i64).ok_or(invalid.clone())?
        }
        ExpiryUnit::UnixSeconds | ExpiryUnit::UnixMillis => millis,
    };
    Ok(absolute as u64)
}

/// The events of a SET that happened: `set`, then `expire` when it gave the key a TTL.
fn set_events(ctx: &Ctx<'_, '_>, key: &[u8], expires: bool) {
    ctx.modified(EventClass::STRING, "set", key);
    if expires {
        ctx.notify(EventClass::GENERIC, "expire", key);
    }
}

/// `SET key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds |
/// PXAT unix-time-milliseconds | KEEPTTL]`
pub fn set(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let value = args.next_bytes()?;
    let options = StringOptions::parse(args, Parsing::Set)?;
    let expires_at = options.expires_at(ctx.now, "set")?;
    if options.get {
        let old = string_at(ctx, key)?.map(StrValue::new);
        match &old {
            Some(old) => reply.bulk(old),
            None => reply.null(),
        }
    }
    // Only a conditional SET needs to know: an unconditional one saves the extra table probe.
    let exists = (options.nx || options.xx) && ctx.locked.get(ctx.db(), key, ctx.now)?.is_some();
    if (options.nx && exists) || (options.xx && !exists) {
        if !exists {
            expire_if_needed(ctx, key)?;
        }
        if !options.get {
            reply.null();
        }
        return Ok(());
    }
    store(ctx, key, StrValue::new(value), options.keep_ttl, expires_at)?;
    set_events(ctx, key, expires_at.is_some());
    let plain =
        !(options.nx || options.xx || options.get || options.keep_ttl) && options.expiry.is_none();
    if plain {
        // `SET key value` replays as sent: nothing copied for the log and the replicas.
        reply.ok();
        return Ok(());
    }
    // Replayed with the condition settled and the expiry absolute.
    ctx.propagate(|| {
        let mut effect = crate::effect_args!(b"SET", key, value);
        match expires_at {
            Some(at) => effect.extend(crate::effect_args!(b"PXAT", at.to_string())),
            None if options.keep_ttl => effect.extend(crate::effect_args!(b"KEEPTTL")),
            None => {}
        }
        effect
    });
    if !options.get {
        reply.ok();
    }
    Ok(())
}

/// `SETNX key value`
pub fn setnx(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let value = args.next_bytes()?;
    if ctx.locked.get(ctx.db(), key, ctx.now)?.is_some() {
        reply.integer(0);
        return Ok(());
    }
    store(ctx, key, StrValue::new(value), false, None)?;
    ctx.modified(EventClass::STRING, "set", key);
    reply.integer(1);
    Ok(())
}

/// `SETEX key seconds value`
pub fn setex(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    set_with_ttl(ctx, args, reply, ExpiryUnit::Seconds, "setex")
}

/// `PSETEX key milliseconds value`
pub fn psetex(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    set_with_ttl(ctx, args, reply, ExpiryUnit::Millis, "psetex")
}

fn set_with_ttl(
    ctx: &mut Ctx<'_, '_>,
    args: &mut Args<'_>,
    reply: &mut Reply,
    unit: ExpiryUnit,
    command: &'static str,
) -> CommandResult {
    let key = args.next_bytes()?;
    let ttl = args.next_i64()?;
    let value = args.next_bytes()?;
    let at = absolute_expiry(ttl, unit, ctx.now, command)?;
    store(ctx, key, StrValue::new(value), false, Some(at))?;
    set_events(ctx, key, true);
    ctx.propagate(|| crate::effect_args!(b"SET", key, value, b"PXAT", at.to_string()));
    reply.ok();
    Ok(())
}

/// `GET key`
pub fn get(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    match ctx.lookup(key)? {
        None => reply.null(),
        Some(Entry {
            value: Value::Str(s),
            ..
        }) => reply.bulk(s),
        Some(_) => return Err(CommandError::WrongType),
    }
    Ok(())
}

/// `GETEX key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT
/// unix-time-milliseconds | PERSIST]`
pub fn getex(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let options = StringOptions::parse(args, Parsing::GetEx)?;
    // Redis validates the expiry only once it has found a string to apply it to.
    let Some(value) = string_at(ctx, key)?.map(StrValue::new) else {
        expire_if_needed(ctx, key)?;
        reply.null();
        return Ok(());
    };
    let expires_at = options.expires_at(ctx.now, "getex")?;
    let (db, now) = (ctx.db(), ctx.now);
    let absolute = matches!(
        options.expiry,
        Some((ExpiryUnit::UnixSeconds | ExpiryUnit::UnixMillis, _))
    );
    match expires_at {
        Some(at) if absolute && at <= now => {
            ctx.locked.remove(db, key, now)?;
            ctx.modified(EventClass::GENERIC, "del", key);
            ctx.propagate(|| crate::effect_args!(b"DEL", key));
        }
        Some(at) => {
            ctx.locked.set_expiry(db, key, Some(at), now)?;
            ctx.modified(EventClass::GENERIC, "expire", key);
            ctx.propagate(|| crate::effect_args!(b"PEXPIREAT", key, at.to_string()));
        }
        None if options.persist => {
            let volatile = ctx
                .locked
                .get(db, key, now)?
                .is_some_and(|e| e.expires_at().is_some());
            if volatile {
                ctx.locked.set_expiry(db, key, None, now)?;
                ctx.modified(EventClass::GENERIC, "persist", key);
                ctx.propagate(|| crate::effect_args!(b"PERSIST", key));
            }
        }
        None => {}
    }
    reply.bulk(&value);
    Ok(())
}

/// `GETDEL key`
pub fn getdel(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let Some(value) = string_at(ctx, key)?.map(StrValue::new) else {
        expire_if_needed(ctx, key)?;
        reply.null();
        return Ok(());
    };
    if ctx.locked.remove(ctx.session.db, key, ctx.now)?.is_some() {
        ctx.modified(EventClass::GENERIC, "del", key);
    }
    reply.bulk(&value);
    Ok(())
}

/// `GETSET key value`
pub fn getset(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let value = args.next_bytes()?;
    let old = string_at(ctx, key)?.map(StrValue::new);
    store(ctx, key, StrValue::new(value), false, None)?;
    ctx.modified(EventClass::STRING, "set", key);
    match old {
        Some(old) => reply.bulk(&old),
        None => reply.null(),
    }
    Ok(())
}

/// `MGET key [key ...]`: a value for each key, nil for missing keys and other types.
pub fn mget(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let keys = args.rest();
    // See `Locked::warm`: 10-key MGET at pipeline 16, 4.7 to 3.9 us of server CPU.
    ctx.locked.warm(ctx.db(), keys.iter().copied());
    reply.array(keys.len());
    for key in keys {
        match ctx.lookup(key)? {
            Some(Entry {
                value: Value::Str(s),
                ..
            }) => reply.bulk(s),
            _ => reply.null(),
        }
    }
    Ok(())
}

/// `MSET key value [key value ...]`
pub fn mset(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let pairs = pairs(args, "mset")?;
    // See `Locked::warm`: 10-key MSET at pipeline 16, 7.4 to 4.8 us of server CPU.
    ctx.locked.warm(ctx.db(), pairs.iter().step_by(2).copied());
    for pair in pairs.chunks_exact(2) {
        store(ctx, pair[0], StrValue::new(pair[1]), false, None)?;
        ctx.modified(EventClass::STRING, "set", pair[0]);
    }
    reply.ok();
    Ok(())
}

/// `MSETNX key value [key value ...]`: sets all or none.
pub fn msetnx(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let pairs = pairs(args, "msetnx")?;
    let (db, now) = (ctx.db(), ctx.now);
    // As Redis's write lookups, the check deletes the expired keys it meets (their `expired`
    // events come before any `set`).
    for pair in pairs.chunks_exact(2) {
        if ctx.locked.get(db, pair[0], now)?.is_some() {
            reply.integer(0);
            return Ok(());
        }
        expire_if_needed(ctx, pair[0])?;
    }
    for pair in pairs.chunks_exact(2) {
        store(ctx, pair[0], StrValue::new(pair[1]), false, None)?;
        ctx.modified(EventClass::STRING, "set", pair[0]);
    }
    reply.integer(1);
    Ok(())
}

/// The key-value arguments of MSET/MSETNX, which must come in pairs.
fn pairs<'a>(args: &Args<'a>, command: &str) -> Result<&'a [&'a [u8]], CommandError> {
    let rest = args.rest();
    if rest.len() % 2 != 0 {
        return Err(CommandError::WrongArity(command.to_string()));
    }
    Ok(rest)
}

/// `APPEND key value`: in place, amortized O(1) per appended byte (see [`StrValue`]).
pub fn append(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let suffix = args.next_bytes()?;
    let limit = length_limit(ctx);
    let len = match string_for_write(ctx, key)? {
        Some(value) => {
            let len = value.len() + suffix.len();
            if len as u64 > limit {
                return Err(CommandError::StringTooLong);
            }
            value.append(suffix);
            len
        }
        None => {
            store(ctx, key, StrValue::new(suffix), false, None)?;
            suffix.len()
        }
    };
    ctx.modified(EventClass::STRING, "append", key);
    reply.count(len);
    Ok(())
}

/// `STRLEN key`
pub fn strlen(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let len = string_at(ctx, key)?.map_or(0, <[u8]>::len);
    reply.count(len);
    Ok(())
}

/// `GETRANGE key start end` (and its old name `SUBSTR`).
pub fn getrange(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let mut start = args.next_i64()?;
    let mut end = args.next_i64()?;
    let value = string_at(ctx, key)?.unwrap_or_default();
    let len = value.len() as i64;
    if start < 0 && end < 0 && start > end {
        reply.bulk(b"");
        return Ok(());
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        reply.bulk(b"");
    } else {
        let slice = &value[start as usize..=end as usize];
        reply.bulk(slice);
    }
    Ok(())
}

/// `SETRANGE key offset value`: in place, O(length of the value) when the string need not grow
/// (see [`StrValue`]).
pub fn setrange(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let offset = args.next_i64()?;
    let patch = args.next_bytes()?;
    if offset < 0 {
        return Err(CommandError::msg("ERR offset is out of range"));
    }
    let end = offset as u64 + patch.len() as u64;
    let limit = length_limit(ctx);
    let len = match string_for_write(ctx, key)? {
        Some(value) => {
            if patch.is_empty() {
                reply.count(value.len());
                return Ok(());
            }
            if end > limit {
                return Err(CommandError::StringTooLong);
            }
            value.set_range(offset as usize, patch);
            value.len()
        }
        None if patch.is_empty() => {
            reply.count(0);
            return Ok(());
        }
        None => {
            if end > limit {
                return Err(CommandError::StringTooLong);
            }
            // Created `raw` and exactly as long as needed, as Redis creates it (a zeroed sds of
            // the whole length).
            let mut bytes = vec![0; end as usize];
            bytes[offset as usize..].copy_from_slice(patch);
            let mut value = StrValue::from(bytes);
            value.mark_raw();
            let len = value.len();
            store(ctx, key, value, false, None)?;
            len
        }
    };
    ctx.modified(EventClass::STRING, "setrange", key);
    reply.count(len);
    Ok(())
}

/// `INCR key`
pub fn incr(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    incr_by(ctx, reply, key, 1)
}

/// `DECR key`
pub fn decr(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    incr_by(ctx, reply, key, -1)
}

/// `INCRBY key increment`
pub fn incrby(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let by = args.next_i64()?;
    incr_by(ctx, reply, key, by)
}

/// `DECRBY key decrement`
pub fn decrby(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let by = args.next_i64()?;
    if by == i64::MIN {
        return Err(CommandError::msg("ERR decrement would overflow"));
    }
    incr_by(ctx, reply, key, -by)
}

fn incr_by(ctx: &mut Ctx<'_, '_>, reply: &mut Reply, key: &[u8], by: i64) -> CommandResult {
    let (db, now) = (ctx.db(), ctx.now);
    let lfu = ctx.engine.lfu();
    // Changed in place, created if missing: one table probe, and (as Redis's write lookups)
    // no hit/miss counting.
    let (entry, created) = ctx.locked.get_or_insert_with(db, key, now, || {
        Entry::new(Value::Str(StrValue::EMPTY), now)
    })?;
    let Value::Str(text) = &mut entry.value else {
        return Err(CommandError::WrongType);
    };
    let current = if created { 0 } else { parse_i64(text)? };
    let new = match current.checked_add(by) {
        Some(new) => new,
        None => return Err(CommandError::Overflow),
    };
    *text = StrValue::new(itoa::Buffer::new().format(new).as_bytes());
    entry.touch(now, lfu);
    ctx.modified(EventClass::STRING, "incrby", key);
    reply.integer(new);
    Ok(())
}

/// `INCRBYFLOAT key increment`, in 80-bit extended precision as Redis computes it.
pub fn incrbyfloat(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let by = args.next_bytes()?;
    let current = match string_at(ctx, key)? {
        Some(current) => current.to_vec(),
        None => {
            expire_if_needed(ctx, key)?;
            b"0".to_vec()
        }
    };
    let sum = crate::longdouble::incr_by_float(&current, by)?;
    // Redis writes the result as a string object, never an integer one: `embstr` even for 3.
    let mut value = StrValue::new(&sum);
    value.mark_not_int();
    overwrite(ctx, key, value)?;
    ctx.modified(EventClass::STRING, "incrbyfloat", key);
    // Replayed as its result: float arithmetic need not give the same digits elsewhere.
    ctx.propagate(|| crate::effect_args!(b"SET", key, &sum, b"KEEPTTL"));
    reply.bulk(&sum);
    Ok(())
}

/// `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]`
pub fn lcs(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key_a = args.next_bytes()?;
    let key_b = args.next_bytes()?;
    let not_strings = CommandError::msg("ERR The specified keys must contain string values");
    let a = string_at(ctx, key_a)
        .map_err(|_| not_strings.clone())?
        .unwrap_or_default()
        .to_vec();
    let b = string_at(ctx, key_b)
        .map_err(|_| not_strings)?
        .unwrap_or_default()
        .to_vec();
    let (mut idx, mut len, mut with_match_len, mut min_match_len) = (false, false, false, 0i64);
    while let Some(option) = args.peek() {
        args.next_bytes()?;
        if option.eq_ignore_ascii_case(b"idx") {
            idx = true;
        } else if option.eq_ignore_ascii_case(b"len") {
            len = true;
        } else if option.eq_ignore_ascii_case(b"withmatchlen") {
            with_match_len = true;
        } else if option.eq_ignore_ascii_case(b"minmatchlen") && !args.is_empty() {
            min_match_len = args.next_i64()?.max(0);
        } else {
            return Err(CommandError::Syntax);
        }
    }
    if idx && len {
        return Err(CommandError::msg(
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    let cells = (a.len() as u64 + 1) * (b.len() as u64 + 1);
    let max = ctx
        .engine
        .config
        .proto_max_bulk_len
        .load(std::sync::atomic::Ordering::Relaxed);
    if cells.saturating_mul(4) > max {
        return Err(CommandError::msg(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }
    let table = LcsTable::new(&a, &b);
    let total = table.at(a.len(), b.len());
    if len && !idx {
        reply.count(total as usize);
        return Ok(());
    }
    let walk = table.walk(&a, &b, min_match_len as u64);
    if idx {
        reply.map(2);
        reply.bulk(b"matches");
        reply.array(walk.ranges.len());
        for r in &walk.ranges {
            reply.array(2 + usize::from(with_match_len));
            reply.array(2);
            reply.count(r.a.0);
            reply.count(r.a.1);
            reply.array(2);
            reply.count(r.b.0);
            reply.count(r.b.1);
            if with_match_len {
                reply.count(r.a.1 - r.a.0 + 1);
            }
        }
        reply.bulk(b"len");
        reply.count(total as usize);
    } else {
        reply.bulk(&walk.common);
    }
    Ok(())
}

/// The dynamic-programming table of LCS lengths of every pair of prefixes.
struct LcsTable {
    width: usize,
    cells: Vec<u32>,
}

/// One matching range: inclusive `(start, end)` in each string.
struct LcsRange {
    a: (usize, usize),
    b: (usize, usize),
}

struct LcsWalk {
    common: Vec<u8>,
    ranges: Vec<LcsRange>,
}

impl LcsTable {
    fn new(a: &[u8], b: &[u8]) -> LcsTable {
        let width = b.len() + 1;
        let mut cells = vec![0u32; (a.len() + 1) * width];
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                cells[i * width + j] = if a[i - 1] == b[j - 1] {
                    cells[(i - 1) * width + j - 1] + 1
                } else {
                    cells[(i - 1) * width + j].max(cells[i * width + j - 1])
                };
            }
        }
        LcsTable { width, cells }
    }

    fn at(&self, i: usize, j: usize) -> u32 {
        self.cells[i * self.width + j]
    }

    /// Walks back from the end collecting the common string and its ranges, exactly in the
    /// order and grouping Redis reports them.
    fn walk(&self, a: &[u8], b: &[u8], min_match_len: u64) -> LcsWalk {
        let mut common = vec![0u8; self.at(a.len(), b.len()) as usize];
        let mut ranges = Vec::new();
        let mut idx = common.len();
        let (mut i, mut j) = (a.len(), b.len());
        let mut range: Option<LcsRange> = None;
        while i > 0 && j > 0 {
            let mut emit = false;
            if a[i - 1] == b[j - 1] {
                common[idx - 1] = a[i - 1];
                match &mut range {
                    None => {
                        range = Some(LcsRange {
                            a: (i - 1, i - 1),
                            b: (j - 1, j - 1),
                        })
                    }
                    Some(r) if r.a.0 == i && r.b.0 == j => {
                        r.a.0 -= 1;
                        r.b.0 -= 1;
                    }
                    Some(_) => emit = true,
                }
                if range.as_ref().is_some_and(|r| r.a.0 == 0 || r.b.0 == 0) {
                    emit = true;
                }
                idx -= 1;
                i -= 1;
                j -= 1;
            } else {
                if self.at(i - 1, j) > self.at(i, j - 1) {
                    i -= 1;
                } else {
                    j -= 1;
                }
                if range.is_some() {
                    emit = true;
                }
            }
            if emit {
                if let Some(r) = range.take() {
                    if min_match_len == 0 || (r.a.1 - r.a.0 + 1) as u64 >= min_match_len {
                        ranges.push(r);
                    }
                }
            }
        }
        LcsWalk { common, ranges }
    }
}

/// SET's key flags for `COMMAND GETKEYSANDFLAGS`, as Redis's `setGetKeys` resolves its
/// `variable_flags`: it reads the old value only with GET (an argument after the value that
/// reads `GET` as a C string, so up to a NUL byte).
fn set_key_flags(args: &[&[u8]]) -> crate::command::KeyFlags {
    let get = args.iter().skip(3).any(|arg| {
        let word = arg.split(|&b| b == 0).next().unwrap_or_default();
        word.eq_ignore_ascii_case(b"get")
    });
    if get {
        &["RW", "access", "update"]
    } else {
        &["OW", "update"]
    }
}

/// Registration block: the string commands' rows of the command table.
pub(crate) static COMMANDS: &[CommandSpec] = &[
    command!("append", 3, [WRITE, DENYOOM, FAST], (1, 1, 1), String, engine!(append), "2.0.0",
        "O(1)", "Appends a string to the value of a key, creating the key if needed.", "key value", key_flags: &["RW", "insert"]),
    command!("decr", 2, [WRITE, DENYOOM, FAST], (1, 1, 1), String, engine!(decr), "1.0.0",
        "O(1)", "Decrements the integer value of a key by one.", "key", key_flags: &["RW", "access", "update"]),
    command!("decrby", 3, [WRITE, DENYOOM, FAST], (1, 1, 1), String, engine!(decrby), "1.0.0",
        "O(1)", "Decrements the integer value of a key by a number.", "key decrement", key_flags: &["RW", "access", "update"]),
    command!(
        "get",
        2,
        [READONLY, FAST],
        (1, 1, 1),
        String,
        engine!(get),
        "1.0.0",
        "O(1)",
        "Returns the string value of a key.",
        "key"
    ),
    command!("getdel", 2, [WRITE, FAST], (1, 1, 1), String, engine!(getdel), "6.2.0",
        "O(1)", "Returns the string value of a key and deletes the key.", "key", key_flags: &["RW", "access", "delete"]),
    command!("getex", -2, [WRITE, FAST], (1, 1, 1), String, engine!(getex), "6.2.0",
        "O(1)", "Returns the string value of a key and changes or removes its expiry.",
        "key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | PERSIST]", key_flags: &["RW", "access", "update"]),
    command!(
        "getrange",
        4,
        [READONLY],
        (1, 1, 1),
        String,
        engine!(getrange),
        "2.4.0",
        "O(N) where N is the length of the returned string",
        "Returns a substring of a string value.",
        "key start end"
    ),
    command!("getset", 3, [WRITE, DENYOOM, FAST], (1, 1, 1), String, engine!(getset), "1.0.0",
        "O(1)", "Sets a key to a string and returns its previous string value.", "key value", key_flags: &["RW", "access", "update"]),
    command!("incr", 2, [WRITE, DENYOOM, FAST], (1, 1, 1), String, engine!(incr), "1.0.0",
        "O(1)", "Increments the integer value of a key by one.", "key", key_flags: &["RW", "access", "update"]),
    command!("incrby", 3, [WRITE, DENYOOM, FAST], (1, 1, 1), String, engine!(incrby), "1.0.0",
        "O(1)", "Increments the integer value of a key by a number.", "key increment", key_flags: &["RW", "access", "update"]),
    command!("incrbyfloat", 3, [WRITE, DENYOOM, FAST], (1, 1, 1), String, engine!(incrbyfloat),
        "2.6.0", "O(1)", "Increments the floating-point value of a key by a number.", "key increment", key_flags: &["RW", "access", "update"]),
    command!(
        "lcs",
        -3,
        [READONLY],
        (1, 2, 1),
        String,
        engine!(lcs),
        "7.0.0",
        "O(N*M) where N and M are the lengths of s1 and s2, respectively",
        "Finds the longest common substring of two strings.",
        "key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]"
    ),
    command!("mget", -2, [READONLY, FAST], (1, -1, 1), String, engine!(mget), "1.0.0",
        "O(N) where N is the number of keys to retrieve.", "Returns the string values of several keys.",
        "key [key ...]", tips: &["request_policy:multi_shard"]),
    command!("mset", -3, [WRITE, DENYOOM], (1, -1, 2), String, engine!(mset), "1.0.1",
        "O(N) where N is the number of keys to set.", "Sets several keys to string values at once.",
        "key value [key value ...]", tips: &["request_policy:multi_shard", "response_policy:all_succeeded"], key_flags: &["OW", "update"]),
    command!("msetnx", -3, [WRITE, DENYOOM], (1, -1, 2), String, engine!(msetnx), "1.0.1",
        "O(N) where N is the number of keys to set.",
        "Sets several keys to string values, only if none of them exists.", "key value [key value ...]",
        tips: &["request_policy:multi_shard", "response_policy:agg_min"], key_flags: &["OW", "insert"]),
    command!("psetex", 4, [WRITE, DENYOOM], (1, 1, 1), String, engine!(psetex), "2.6.0",
        "O(1)", "Sets a string value and an expiry in milliseconds.", "key milliseconds value", key_flags: &["OW", "update"]),
    command!("set", -3, [WRITE, DENYOOM], (1, 1, 1), String, engine!(set), "1.0.0",
        "O(1)", "Sets the string value of a key, optionally with a condition and an expiry.",
        "key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]", key_flags: &["RW", "access", "update", "variable_flags"],
        variable_key_flags: Some(set_key_flags)),
    command!("setex", 4, [WRITE, DENYOOM], (1, 1, 1), String, engine!(setex), "2.0.0",
        "O(1)", "Sets a string value and an expiry in seconds.", "key seconds value", key_flags: &["OW", "update"]),
    command!("setnx", 3, [WRITE, DENYOOM, FAST], (1, 1, 1), String, engine!(setnx), "1.0.0",
        "O(1)", "Sets a string value only if the key does not exist.", "key value", key_flags: &["OW", "insert"]),
    command!(
        "setrange",
        4,
        [WRITE, DENYOOM],
        (1, 1, 1),
        String,
        engine!(setrange),
        "2.2.0",
        "O(1), not counting the time taken to copy the new string in place.",
        "Overwrites part of a string value from an offset, padding with zero bytes.",
        "key offset value"
    ),
    command!("strlen", 2, [READONLY, FAST], (1, 1, 1), String, engine!(strlen), "2.2.0",
        "O(1)", "Returns the length of a string value.", "key", key_flags: &["RO"]),
    command!(
        "substr",
        4,
        [READONLY],
        (1, 1, 1),
        String,
        engine!(getrange),
        "1.0.0",
        "O(N) where N is the length of the returned string",
        "Returns a substring of a string value.",
        "key start end"
    ),
];
