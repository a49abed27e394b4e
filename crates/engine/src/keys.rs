//! Key-generic commands (Redis's `db.c`, `expire.c` and `object.c`): deleting, renaming,
//! copying and moving keys, their expiry, iteration over the keyspace, whole-database
//! commands, and `OBJECT`. `DUMP` and `RESTORE` live in [`crate::dump`] with their payload.

use std::sync::atomic::Ordering;

use crate::args::parse_i64;
use crate::command::{CommandSpec, Handler, Locks};
use crate::keyspace::{key_hash, ShardContents, ShardList};
use crate::table::{command, engine, NO_KEYS};
use crate::{
    dump, Args, CommandError, CommandResult, CompactBytes, Ctx, Engine, Entry, EventClass,
    LockPlan, Reply, Session,
};

/// COPY and MOVE to the same place.
const SAME_OBJECT: CommandError =
    CommandError::msg("ERR source and destination objects are the same");

/// An `int` argument outside C's `int` range, as `getIntFromObjectOrReply` words it.
const INT_RANGE: CommandError =
    CommandError::msg("ERR value is out of range, value must between -2147483648 and 2147483647");

/// `OBJECT IDLETIME` while an LFU eviction policy is selected.
const LFU_SELECTED: CommandError = CommandError::msg(
    "ERR An LFU maxmemory policy is selected, idle time not tracked. \
     Please note that when switching between policies at runtime LRU and LFU data \
     will take some time to adjust.",
);

/// `OBJECT FREQ` while no LFU eviction policy is selected.
const NO_LFU: CommandError = CommandError::msg(
    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. \
     Please note that when switching between policies at runtime LRU and LFU data \
     will take some time to adjust.",
);

// ---------------------------------------------------------------------------------------------
// Argument helpers
// ---------------------------------------------------------------------------------------------

/// An argument read as Redis's `getIntFromObjectOrReply`: a 64-bit integer that must fit a C
/// `int`. `msg`, when given, replaces both error texts (as SWAPDB's "invalid first DB index").
fn int_arg(arg: &[u8], msg: Option<&'static str>) -> Result<i32, CommandError> {
    let value = parse_i64(arg).map_err(|e| msg.map_or(e, CommandError::msg))?;
    i32::try_from(value).map_err(|_| msg.map_or(INT_RANGE, CommandError::msg))
}

/// A database index, if it names one of the engine's databases.
fn existing_db(engine: &Engine, index: i32) -> Option<usize> {
    usize::try_from(index)
        .ok()
        .filter(|&db| db < engine.keyspace.databases())
}

/// A database-index argument: parsed as an `int`, then checked against `databases`.
fn db_arg(engine: &Engine, arg: &[u8]) -> Result<usize, CommandError> {
    existing_db(engine, int_arg(arg, None)?).ok_or(CommandError::DbIndexOutOfRange)
}

/// A 64-bit value that differs from call to call, for RANDOMKEY.
fn random_u64() -> u64 {
    crate::random::Rng::new().next_u64()
}

/// Deletes `key` in the selected database if its TTL has come, publishing its `expired` event
/// (Redis's `expireIfNeeded`): what Redis's write lookup does to an expired key, even when the
/// command then changes nothing. Write commands call it where they found no live key and will
/// not store one (storing reclaims an expired key by itself), so a hit costs nothing.
///
/// Only the key's own TTL counts, as in Redis: a hash whose fields have all expired stays
/// until something writes to it.
pub(crate) fn expire_if_needed(ctx: &mut Ctx<'_, '_>, key: &[u8]) -> CommandResult {
    let (db, now) = (ctx.db(), ctx.now);
    // As of time 0 every stored entry is live: this reads the entry whatever its expiry.
    let due = ctx
        .locked
        .get(db, key, 0)?
        .is_some_and(|entry| entry.key_expired(now));
    if due {
        ctx.locked.remove(db, key, now)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Existence, type, deletion
// ---------------------------------------------------------------------------------------------

/// `DEL key [key ...]`: how many of the keys existed and were deleted.
pub fn del(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let lazy = ctx.engine.config.lazy_user_del.load(Ordering::Relaxed);
    delete_keys(ctx, args, reply, lazy)
}

/// `UNLINK key [key ...]`: DEL that frees large values (see `lazyfree`) on a background
/// thread, so the reply does not wait for the memory to be given back.
pub fn unlink(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    delete_keys(ctx, args, reply, true)
}

/// Deletes the keys of DEL and UNLINK; `lazy`: large values are freed in the background.
fn delete_keys(
    ctx: &mut Ctx<'_, '_>,
    args: &mut Args<'_>,
    reply: &mut Reply,
    lazy: bool,
) -> CommandResult {
    let (db, now) = (ctx.db(), ctx.now);
    let mut deleted = 0;
    for key in args.rest() {
        if let Some(entry) = ctx.locked.remove(db, key, now)? {
            if lazy {
                ctx.engine.keyspace.lazyfree.free_value(entry.value);
            }
            ctx.modified(EventClass::GENERIC, "del", key);
            deleted += 1;
        }
    }
    reply.count(deleted);
    Ok(())
}

/// `EXISTS key [key ...]`: how many of the arguments name live keys; a key given twice counts
/// twice.
pub fn exists(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let mut found = 0;
    for key in args.rest() {
        if ctx.peek(key)?.is_some() {
            found += 1;
        }
    }
    reply.count(found);
    Ok(())
}

/// `TYPE key`: the type name as a status reply, `none` when missing.
pub fn type_(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let name = ctx.peek(key)?.map_or("none", |e| e.value.type_name());
    reply.simple(name);
    Ok(())
}

/// `TOUCH key [key ...]`: marks the keys as just accessed (for `OBJECT IDLETIME`); replies how
/// many exist. A read lookup records the access by itself.
pub fn touch(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let mut touched = 0;
    for key in args.rest() {
        if ctx.lookup(key)?.is_some() {
            touched += 1;
        }
    }
    reply.count(touched);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Renaming, copying, moving
// ---------------------------------------------------------------------------------------------

/// `RENAME key newkey`
pub fn rename(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    rename_generic(ctx, args, reply, false)
}

/// `RENAMENX key newkey`
pub fn renamenx(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    rename_generic(ctx, args, reply, true)
}

/// RENAME and RENAMENX: moves the entry (value, TTL and access time) to the new name, replacing
/// what was there unless `nx`.
fn rename_generic(
    ctx: &mut Ctx<'_, '_>,
    args: &mut Args<'_>,
    reply: &mut Reply,
    nx: bool,
) -> CommandResult {
    let from = args.next_bytes()?;
    let to = args.next_bytes()?;
    let (db, now) = (ctx.db(), ctx.now);
    if ctx.locked.get(db, from, now)?.is_none() {
        expire_if_needed(ctx, from)?;
        return Err(CommandError::NoSuchKey);
    }
    // Renaming a key to itself changes nothing, but still needs the key to exist.
    if from == to {
        rename_reply(reply, nx, false);
        return Ok(());
    }
    if nx {
        if ctx.locked.get(db, to, now)?.is_some() {
            reply.integer(0);
            return Ok(());
        }
    } else {
        // A destination that exists is deleted first and the key added anew, as Redis does:
        // the insert below then publishes `new` for it.
        if let Some(old) = ctx.locked.remove(db, to, now)? {
            ctx.engine.keyspace.dispose_deleted(old);
        }
    }
    let entry = ctx
        .locked
        .remove(db, from, now)?
        .ok_or(CommandError::NoSuchKey)?;
    ctx.locked.insert(db, to, entry, now)?;
    ctx.modified(EventClass::GENERIC, "rename_from", from);
    ctx.modified(EventClass::GENERIC, "rename_to", to);
    rename_reply(reply, nx, true);
    Ok(())
}

/// RENAME's `+OK`, or RENAMENX's 1 or 0.
fn rename_reply(reply: &mut Reply, nx: bool, renamed: bool) {
    if nx {
        reply.integer(i64::from(renamed));
    } else {
        reply.ok();
    }
}

/// COPY's options after `source destination`.
#[derive(Debug, Default)]
struct CopyOptions {
    /// The `DB destination-db` index, checked to exist.
    db: Option<usize>,
    /// `REPLACE`: overwrite an existing destination.
    replace: bool,
}

impl CopyOptions {
    /// Parses `[DB destination-db] [REPLACE]` in any order and number, reporting the first
    /// problem in argument order, as Redis does.
    fn parse(engine: &Engine, options: &[&[u8]]) -> Result<CopyOptions, CommandError> {
        let mut parsed = CopyOptions::default();
        let mut args = Args::new(options);
        while let Some(option) = args.peek() {
            args.next_bytes()?;
            if option.eq_ignore_ascii_case(b"replace") {
                parsed.replace = true;
            } else if option.eq_ignore_ascii_case(b"db") && !args.is_empty() {
                parsed.db = Some(db_arg(engine, args.next_bytes()?)?);
            } else {
                return Err(CommandError::Syntax);
            }
        }
        Ok(parsed)
    }
}

/// `COPY source destination [DB destination-db] [REPLACE]`: 1 if copied, 0 if the source is
/// missing or the destination exists without REPLACE. The copy keeps the source's TTL.
pub fn copy(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let source = args.next_bytes()?;
    let destination = args.next_bytes()?;
    let options = CopyOptions::parse(ctx.engine, args.rest())?;
    let (db, now) = (ctx.db(), ctx.now);
    let target_db = options.db.unwrap_or(db);
    if target_db == db && source == destination {
        return Err(SAME_OBJECT);
    }
    let Some(entry) = ctx.lookup(source)? else {
        expire_if_needed(ctx, source)?;
        reply.integer(0);
        return Ok(());
    };
    let copy = Entry {
        value: entry.value.clone(),
        expires_at: entry.expires_at,
        access: crate::Access::new(now).cell(),
    };
    if options.replace {
        // As Redis, a replaced destination is deleted and the copy added anew (`new` first).
        if let Some(old) = ctx.locked.remove(target_db, destination, now)? {
            ctx.engine.keyspace.dispose_deleted(old);
        }
    } else if ctx.locked.get(target_db, destination, now)?.is_some() {
        reply.integer(0);
        return Ok(());
    }
    ctx.locked.insert(target_db, destination, copy, now)?;
    ctx.modified_in(target_db, EventClass::GENERIC, "copy_to", destination);
    reply.integer(1);
    Ok(())
}

/// COPY's lock plan: the source in the session's database and the destination in the target
/// database. When the options are malformed the handler fails before touching a key, so the
/// session's database stands in for the target.
fn plan_copy(engine: &Engine, session: &Session, args: &[&[u8]]) -> LockPlan {
    let options = args.get(3..).unwrap_or_default();
    let target_db = CopyOptions::parse(engine, options)
        .ok()
        .and_then(|o| o.db)
        .unwrap_or(session.db);
    let keyspace = &engine.keyspace;
    let source = args.get(1).map(|key| (session.db, keyspace.shard_of(key)));
    let destination = args.get(2).map(|key| (target_db, keyspace.shard_of(key)));
    LockPlan {
        write: true,
        shards: source.into_iter().chain(destination).collect(),
    }
}

/// `MOVE key db`: moves the entry (value, TTL, access time) to another database; 1 if moved, 0
/// if the key is missing or already exists there.
pub fn move_(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let target_db = db_arg(ctx.engine, args.next_bytes()?)?;
    let (db, now) = (ctx.db(), ctx.now);
    if target_db == db {
        return Err(SAME_OBJECT);
    }
    if ctx.locked.get(db, key, now)?.is_none() {
        expire_if_needed(ctx, key)?;
        reply.integer(0);
        return Ok(());
    }
    if ctx.locked.get(target_db, key, now)?.is_some() {
        reply.integer(0);
        return Ok(());
    }
    let entry = ctx
        .locked
        .remove(db, key, now)?
        .ok_or(CommandError::NoSuchKey)?;
    ctx.locked.insert(target_db, key, entry, now)?;
    ctx.modified_in(db, EventClass::GENERIC, "move_from", key);
    ctx.modified_in(target_db, EventClass::GENERIC, "move_to", key);
    reply.integer(1);
    Ok(())
}

/// MOVE's lock plan: the key's shard in the session's database and, when the index is valid,
/// in the target database.
fn plan_move(engine: &Engine, session: &Session, args: &[&[u8]]) -> LockPlan {
    let mut plan = LockPlan {
        write: true,
        shards: ShardList::new(),
    };
    let Some(key) = args.get(1) else {
        return plan;
    };
    let shard = engine.keyspace.shard_of(key);
    plan.shards.push((session.db, shard));
    if let Some(target) = args.get(2).and_then(|arg| db_arg(engine, arg).ok()) {
        plan.shards.push((target, shard));
    }
    plan
}

// ---------------------------------------------------------------------------------------------
// Whole databases
// ---------------------------------------------------------------------------------------------

/// `SWAPDB index1 index2`: exchanges the contents of two databases.
pub fn swapdb(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let (a, b) = swapdb_indexes(ctx.engine, args.rest())?;
    if a != b {
        let watches = &ctx.engine.keyspace.watches;
        watches.touch_db(ctx.locked, a, Some(b), ctx.now);
        watches.touch_db(ctx.locked, b, Some(a), ctx.now);
    }
    ctx.locked.swap_dbs(a, b)?;
    reply.ok();
    Ok(())
}

/// SWAPDB's two indexes, with Redis's errors: both are parsed before either is range-checked.
fn swapdb_indexes(engine: &Engine, args: &[&[u8]]) -> Result<(usize, usize), CommandError> {
    let (Some(first), Some(second)) = (args.first(), args.get(1)) else {
        return Err(CommandError::Syntax);
    };
    let a = int_arg(first, Some("ERR invalid first DB index"))?;
    let b = int_arg(second, Some("ERR invalid second DB index"))?;
    match (existing_db(engine, a), existing_db(engine, b)) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(CommandError::DbIndexOutOfRange),
    }
}

/// SWAPDB's lock plan: every shard of both databases, or nothing when the indexes are invalid
/// (the handler then fails without touching a key).
fn plan_swapdb(engine: &Engine, _session: &Session, args: &[&[u8]]) -> LockPlan {
    let mut plan = LockPlan {
        write: true,
        shards: ShardList::new(),
    };
    if let Ok((a, b)) = swapdb_indexes(engine, args.get(1..).unwrap_or_default()) {
        engine.keyspace.plan_whole_db(&mut plan, a);
        engine.keyspace.plan_whole_db(&mut plan, b);
    }
    plan
}

/// FLUSHDB's and FLUSHALL's `[ASYNC | SYNC]`: true for ASYNC; without either, as
/// `lazyfree-lazy-user-flush` says.
fn flush_mode(ctx: &Ctx<'_, '_>, args: &Args<'_>) -> Result<bool, CommandError> {
    match args.rest() {
        [] => Ok(ctx.engine.config.lazy_user_flush.load(Ordering::Relaxed)),
        [mode] if mode.eq_ignore_ascii_case(b"sync") => Ok(false),
        [mode] if mode.eq_ignore_ascii_case(b"async") => Ok(true),
        _ => Err(CommandError::Syntax),
    }
}

/// Frees what a flush removed: on a background thread for ASYNC (so the reply does not wait
/// for the memory to be freed), here otherwise or if no thread can be started.
fn free_flushed(ctx: &Ctx<'_, '_>, removed: Vec<ShardContents>, asynchronous: bool) {
    if asynchronous {
        ctx.engine.keyspace.lazyfree.free_flushed(removed);
    }
}

/// `FLUSHDB [ASYNC | SYNC]`: empties the selected database.
pub fn flushdb(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let asynchronous = flush_mode(ctx, args)?;
    let watches = &ctx.engine.keyspace.watches;
    watches.touch_db(ctx.locked, ctx.db(), None, ctx.now);
    let tracking = &ctx.engine.keyspace.tracking;
    tracking.invalidate(None, Some(ctx.session.client_id));
    let removed = ctx.locked.clear(ctx.db());
    free_flushed(ctx, removed, asynchronous);
    reply.ok();
    Ok(())
}

/// `FLUSHALL [ASYNC | SYNC]`: empties every database.
pub fn flushall(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let asynchronous = flush_mode(ctx, args)?;
    let databases = ctx.engine.keyspace.databases();
    for db in 0..databases {
        ctx.engine
            .keyspace
            .watches
            .touch_db(ctx.locked, db, None, ctx.now);
    }
    let tracking = &ctx.engine.keyspace.tracking;
    tracking.invalidate(None, Some(ctx.session.client_id));
    let removed = (0..databases).flat_map(|db| ctx.locked.clear(db)).collect();
    free_flushed(ctx, removed, asynchronous);
    reply.ok();
    Ok(())
}

/// `DBSIZE`: keys in the selected database, expired ones not yet reclaimed included (as Redis
/// counts them): the count the last command to change the database published, O(1) as
/// Redis's. Alone it holds no lock; in a transaction it holds the whole database, so that no
/// other command changes the count meanwhile, and the transaction's own changes count.
pub fn dbsize(ctx: &mut Ctx<'_, '_>, _args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    reply.count(ctx.locked.db_len(ctx.db()));
    Ok(())
}

/// DBSIZE's locks alone: none (see [`dbsize`]).
fn plan_dbsize(_engine: &Engine, _session: &Session, _args: &[&[u8]]) -> LockPlan {
    LockPlan::default()
}

/// Whether `key` matches a KEYS or SCAN pattern. A lone `*` matches every key, the empty one
/// included, as Redis special-cases it; other patterns go through the glob matcher.
fn pattern_matches(pattern: &[u8], key: &[u8]) -> bool {
    pattern == b"*" || crate::glob::matches(pattern, key, false)
}

/// `KEYS pattern`: every live key matching the pattern, in no particular order.
pub fn keys(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let pattern = args.next_bytes()?;
    let found: Vec<&CompactBytes> = ctx
        .locked
        .iter(ctx.db(), ctx.now)
        .map(|(key, _)| key)
        .filter(|key| pattern_matches(pattern, key))
        .collect();
    reply.array(found.len());
    for key in found {
        reply.bulk(key);
    }
    Ok(())
}

/// `RANDOMKEY`: a random live key, or nil when there is none.
///
/// Alone it holds one shard that has keys, picked at random (see [`plan_randomkey`]), and
/// picks a random key in it (a random bucket of its table, as Redis picks one): O(1) while
/// few keys are past their TTL, and close to uniform because keys spread evenly over shards.
/// When that shard has no live key it runs again holding the whole database, moving from
/// shard to shard; so does it in a transaction. Keys picked past their TTL are deleted after
/// the command, as Redis's lookup deletes them.
pub fn randomkey(ctx: &mut Ctx<'_, '_>, _args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let (db, now) = (ctx.db(), ctx.now);
    let held: smallvec::SmallVec<[usize; 1]> = ctx.locked.held_shards(db).collect();
    let start = match held.len() {
        0 => 0,
        n => (random_u64() % n as u64) as usize,
    };
    for step in 0..held.len() {
        let shard = held[(start + step) % held.len()];
        // As Redis's dbRandomKey: a key picked past its TTL is deleted and another is
        // picked, so a database of expired keys alone is emptied and answers nil. Deletion
        // waits for the command's end here, so the keys already noted are set aside.
        let mut noted: Vec<&CompactBytes> = Vec::new();
        for _ in 0..RANDOMKEY_PICKS {
            let Some((key, entry)) = ctx.locked.random_raw(db, shard)? else {
                break;
            };
            if !entry.is_expired(now) {
                reply.bulk(key);
                return Ok(());
            }
            if !noted.contains(&key) {
                ctx.locked.note_expired(db, key);
                noted.push(key);
            }
        }
        if noted.is_empty() {
            // The shard stores no key.
            continue;
        }
        // Mostly keys past their TTL: the live ones, if any, are listed.
        let live: Vec<&CompactBytes> = ctx
            .locked
            .iter_shard_raw(db, shard)?
            .filter(|(key, entry)| {
                let expired = entry.is_expired(now);
                if expired && !noted.contains(key) {
                    ctx.locked.note_expired(db, key);
                }
                !expired
            })
            .map(|(key, _)| key)
            .collect();
        if !live.is_empty() {
            reply.bulk(live[(random_u64() % live.len() as u64) as usize]);
            return Ok(());
        }
    }
    if ctx.locked.holds_whole_db(db) {
        reply.null();
    } else {
        ctx.locked.ask_whole_db();
    }
    Ok(())
}

/// RANDOMKEY's locks alone: the first shard holding keys by the lock-free counts, from a
/// random one on (none when the counts say the database is empty: the handler then asks for
/// the whole database, which is how an empty one is known for sure).
fn plan_randomkey(engine: &Engine, session: &Session, _args: &[&[u8]]) -> LockPlan {
    let keyspace = &engine.keyspace;
    let mut plan = LockPlan::default();
    if let Some(shard) = keyspace.random_shard_with_keys(session.db) {
        plan.shards.push((session.db, shard));
    }
    plan
}

/// How many random picks RANDOMKEY makes in a shard before it lists the shard's live keys:
/// as many picks past their TTL in a row are rare unless most of the shard's keys are.
const RANDOMKEY_PICKS: usize = 16;

// ---------------------------------------------------------------------------------------------
// SCAN
// ---------------------------------------------------------------------------------------------

/// How a SCAN cursor names a position in the keyspace.
///
/// A SCAN visits the shards of the database in order, and the keys of each shard in one of two
/// orders, one `u64` naming the shard, the order and the position in it:
///
/// ```text
/// | shard: log2(shards) bits | 0 | layout generation: the rest | bucket index: 32 bits |
/// | shard: log2(shards) bits | 1 | hash prefix: the rest (63 - log2(shards) bits)    |
/// ```
///
/// - By bucket (the usual order): the buckets of the shard's table in index order, from the
///   cursor's index on. A key stays in its bucket until the table is rebuilt (it grows, is
///   rehashed in place, shrinks, or is replaced by a flush or a SWAPDB), and each rebuild
///   changes the table's layout generation ([`Locked::buckets_from`]), which the cursor
///   holds. So a call costs O(COUNT) buckets, as Redis's does, and while the generation stays,
///   a key present for the whole iteration is met exactly once.
/// - By hash prefix: the shard's keys ordered by the top bits of their hash, which no table
///   layout changes. A cursor whose shard's table was rebuilt since it was given starts the
///   shard again in this order (keys the shard already returned may then come again, as
///   Redis allows), and it finishes the shard whatever happens to its table. A call costs
///   O(keys in the shard): the keys are not stored in hash order, so it takes at least an
///   eighth of what remains of the shard, which bounds the shard to about 8 calls.
///
/// Either way a key present for the whole iteration is returned at least once, however the
/// keyspace grows, shrinks or rehashes in between, and a key added or removed meanwhile may or
/// may not be; every shard finishes, so every iteration does. Cursor 0 is the start (shard 0,
/// bucket 0), and the reply cursor is 0 only when the iteration is over. Every `u64` is a
/// valid cursor, so a client-made cursor cannot break anything: it just starts somewhere.
#[derive(Debug, Clone, Copy)]
struct CursorLayout {
    /// Bits that hold the shard index: log2 of the shard count (a power of two, at least 2).
    shard_bits: u32,
    /// How many shards there are.
    shards: usize,
}

/// Where in its shard a cursor is (see [`CursorLayout`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InShard {
    /// At bucket `index` of the table whose layout generation is `layout` (its low bits).
    Bucket { layout: u32, index: usize },
    /// At the keys whose hash prefix is `prefix` or more.
    Prefix(u64),
}

/// Bits of a cursor that hold a bucket index: tables of up to 2^32 buckets per shard.
const BUCKET_BITS: u32 = 32;

impl CursorLayout {
    /// The layout for `engine`'s shard count.
    fn new(engine: &Engine) -> CursorLayout {
        let shards = engine.keyspace.shard_count();
        CursorLayout {
            shard_bits: shards.trailing_zeros(),
            shards,
        }
    }

    /// Bits after the shard index and the order bit.
    fn rest_bits(self) -> u32 {
        63 - self.shard_bits
    }

    /// Bits that hold a layout generation (its low bits: a cursor matches a generation
    /// modulo this many bits).
    fn layout_bits(self) -> u32 {
        self.rest_bits().saturating_sub(BUCKET_BITS)
    }

    /// The largest hash prefix.
    fn max_prefix(self) -> u64 {
        u64::MAX >> (64 - self.rest_bits())
    }

    /// The position a key with this hash has in its shard's prefix order.
    fn prefix_of(self, hash: u64) -> u64 {
        hash >> (64 - self.rest_bits())
    }

    /// Whether `layout` (a table's generation) is the one a cursor holds as `held`.
    fn same_layout(self, held: u32, layout: u32) -> bool {
        let mask = (1u64 << self.layout_bits()) - 1;
        u64::from(held) & mask == u64::from(layout) & mask
    }

    /// `(shard, position in it)` of a cursor.
    fn decode(self, cursor: u64) -> (usize, InShard) {
        let shard = (cursor >> (64 - self.shard_bits)) as usize;
        let rest = cursor & self.max_prefix();
        if cursor & (1 << self.rest_bits()) != 0 {
            return (shard, InShard::Prefix(rest));
        }
        let index = (rest & ((1 << BUCKET_BITS) - 1)) as usize;
        let layout = (rest >> BUCKET_BITS) as u32;
        (shard, InShard::Bucket { layout, index })
    }

    /// The cursor of `(shard, at)`; 0 (the end) once `shard` is past the last shard.
    fn encode(self, shard: usize, at: InShard) -> u64 {
        if shard >= self.shards {
            return 0;
        }
        let rest = match at {
            InShard::Bucket { layout, index } => {
                let mask = (1u64 << self.layout_bits()) - 1;
                ((u64::from(layout) & mask) << BUCKET_BITS) | index as u64
            }
            InShard::Prefix(prefix) => (1 << self.rest_bits()) | (prefix & self.max_prefix()),
        };
        ((shard as u64) << (64 - self.shard_bits)) | rest
    }

    /// The cursor of the start of `shard` (0 past the last one).
    fn start_of(self, shard: usize) -> u64 {
        self.encode(
            shard,
            InShard::Bucket {
                layout: 0,
                index: 0,
            },
        )
    }

    /// The cursor just after the keys of `shard` whose prefix is `prefix`.
    fn after_prefix(self, shard: usize, prefix: u64) -> u64 {
        if prefix >= self.max_prefix() {
            self.start_of(shard + 1)
        } else {
            self.encode(shard, InShard::Prefix(prefix + 1))
        }
    }
}

/// A SCAN cursor argument, read as Redis reads it with `strtoul`: optional sign (a minus
/// negates modulo 2^64), decimal digits, nothing else; the empty string is 0.
pub(crate) fn parse_cursor(arg: &[u8]) -> Result<u64, CommandError> {
    let invalid = CommandError::msg("ERR invalid cursor");
    // C's isspace: space, \t, \n, \v, \f, \r.
    if arg
        .first()
        .is_some_and(|&b| b == b' ' || (b'\t'..=b'\r').contains(&b))
    {
        return Err(invalid);
    }
    if arg.is_empty() {
        return Ok(0);
    }
    let (negative, digits) = match arg[0] {
        b'-' => (true, &arg[1..]),
        b'+' => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() {
        return Err(invalid);
    }
    let mut value = 0u64;
    for &digit in digits {
        if !digit.is_ascii_digit() {
            return Err(invalid);
        }
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(digit - b'0')))
            .ok_or_else(|| invalid.clone())?;
    }
    Ok(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// SCAN's options after the cursor.
#[derive(Debug)]
struct ScanOptions<'a> {
    /// How many keys to examine (before filtering).
    count: usize,
    /// `MATCH pattern`.
    pattern: Option<&'a [u8]>,
    /// `TYPE type`.
    type_name: Option<&'a [u8]>,
}

impl<'a> ScanOptions<'a> {
    /// Parses `[MATCH pattern] [COUNT count] [TYPE type]`, in any order, the last of each
    /// winning.
    fn parse(args: &mut Args<'a>) -> Result<ScanOptions<'a>, CommandError> {
        let mut options = ScanOptions {
            count: 10,
            pattern: None,
            type_name: None,
        };
        while let Some(option) = args.peek() {
            args.next_bytes()?;
            if args.is_empty() {
                return Err(CommandError::Syntax);
            }
            if option.eq_ignore_ascii_case(b"count") {
                let count = args.next_i64()?;
                if count < 1 {
                    return Err(CommandError::Syntax);
                }
                options.count = usize::try_from(count).unwrap_or(usize::MAX);
            } else if option.eq_ignore_ascii_case(b"match") {
                options.pattern = Some(args.next_bytes()?);
            } else if option.eq_ignore_ascii_case(b"type") {
                options.type_name = Some(args.next_bytes()?);
            } else {
                return Err(CommandError::Syntax);
            }
        }
        Ok(options)
    }
}

/// The live keys a SCAN step found, with their entries (for the TYPE filter).
type ScanBatch<'l> = Vec<(&'l CompactBytes, &'l Entry)>;

/// SCAN's locks: the shards of the selected database from the cursor's on, as many as hold
/// about COUNT keys by their counts (at least one; all the rest of a database of few keys),
/// for reading. A call then holds up one shard of a large database at a time, not all of
/// them. The counts are hints read without locks: a shard's keys changing before its lock is
/// taken only changes how many keys the call returns, as the step stops where the held shards
/// end.
fn plan_scan(engine: &Engine, session: &Session, args: &[&[u8]]) -> LockPlan {
    let layout = CursorLayout::new(engine);
    let keyspace = &engine.keyspace;
    // Arguments the command will refuse plan the first shard: the call only replies an error.
    let cursor = args.get(1).and_then(|c| parse_cursor(c).ok()).unwrap_or(0);
    let count = args
        .get(2..)
        .and_then(|options| ScanOptions::parse(&mut Args::new(options)).ok())
        .map_or(1, |options| options.count);
    let (first, _) = layout.decode(cursor);
    let mut plan = LockPlan::default();
    let mut keys = 0;
    for shard in first..layout.shards {
        plan.shards.push((session.db, shard));
        keys += keyspace.shard_len(session.db, shard);
        if keys >= count {
            break;
        }
    }
    plan
}

/// One step of a SCAN: about `count` keys from `cursor` on, from the shards the call holds
/// (see [`plan_scan`]), and the cursor to continue from. Keys past their TTL but not yet
/// deleted are in the batch too: SCAN deletes those it meets, as Redis's does. See
/// [`CursorLayout`] for the two orders a shard is walked in.
fn scan_step<'l>(
    ctx: &'l Ctx<'_, '_>,
    cursor: u64,
    count: usize,
) -> Result<(u64, ScanBatch<'l>), CommandError> {
    let layout = CursorLayout::new(ctx.engine);
    let db = ctx.db();
    let (mut shard, mut at) = layout.decode(cursor);
    let first = shard;
    let mut found = Vec::new();
    // As Redis's: a call looks at up to ten empty buckets per key asked for.
    let mut buckets_left = count.saturating_mul(10);
    // The shards after the held ones are for the next call. The cursor's own shard is always
    // read (an error if it is not held), so a call never answers its own cursor.
    while shard < layout.shards && (shard == first || ctx.locked.holds(db, shard)) {
        let step = match at {
            // An empty table costs nothing to skip (most shards of a small database).
            InShard::Bucket { index: 0, .. } if ctx.locked.shard_keys(db, shard)? == 0 => None,
            InShard::Bucket {
                layout: held,
                index,
            } => {
                let (buckets, now, nodes) = ctx.locked.buckets_from(db, shard, index)?;
                if (index > 0 && !layout.same_layout(held, now)) || buckets > (1 << BUCKET_BITS) {
                    // The table was rebuilt since the cursor was given (or is too large
                    // for a bucket index): the shard again, by hash prefix.
                    at = InShard::Prefix(0);
                    continue;
                }
                let walk = BucketWalk {
                    shard,
                    index,
                    buckets,
                    generation: now,
                };
                scan_buckets(layout, walk, nodes, count, &mut buckets_left, &mut found)
            }
            InShard::Prefix(from) => scan_by_prefix(ctx, layout, shard, from, count, &mut found)?,
        };
        if let Some(next) = step {
            return Ok((next, found));
        }
        shard += 1;
        at = InShard::Bucket {
            layout: 0,
            index: 0,
        };
        if found.len() >= count || buckets_left == 0 {
            break;
        }
    }
    Ok((layout.start_of(shard), found))
}

/// Where a SCAN step walks a shard's buckets from (see [`scan_buckets`]).
#[derive(Debug, Clone, Copy)]
struct BucketWalk {
    shard: usize,
    /// The first bucket to look at.
    index: usize,
    /// How many buckets the table has.
    buckets: usize,
    /// The table's layout generation.
    generation: u32,
}

/// A SCAN step over the buckets of a shard (`nodes`, those of `walk`): keys until `found`
/// holds `count`, or until `buckets_left` runs out (`scan::walk_buckets`). The cursor to
/// continue from, or `None` once the shard's last bucket is taken.
fn scan_buckets<'l>(
    layout: CursorLayout,
    walk: BucketWalk,
    nodes: impl Iterator<Item = Option<(&'l CompactBytes, &'l Entry)>>,
    count: usize,
    buckets_left: &mut usize,
    found: &mut ScanBatch<'l>,
) -> Option<u64> {
    let range = (walk.index, walk.buckets);
    let next = crate::scan::walk_buckets(nodes, range, count, buckets_left, found)?;
    let at = InShard::Bucket {
        layout: walk.generation,
        index: next,
    };
    Some(layout.encode(walk.shard, at))
}

/// A SCAN step over `shard` in hash-prefix order from `from` on: at least `count` keys (less
/// what `found` holds) and at least an eighth of what remains of the shard, plus any key
/// sharing the last prefix taken. The cursor to continue from, or `None` if the shard is done.
///
/// Each call costs O(keys in the shard): its keys are not stored in hash order, so finding the
/// next ones means looking at all of them. Taking at least an eighth of what is left bounds the
/// shard to about 8 calls (O(N) in all) instead of one per COUNT keys (O(N^2 / COUNT)).
fn scan_by_prefix<'l>(
    ctx: &'l Ctx<'_, '_>,
    layout: CursorLayout,
    shard: usize,
    from: u64,
    count: usize,
    found: &mut ScanBatch<'l>,
) -> Result<Option<u64>, CommandError> {
    let keyspace = &ctx.engine.keyspace;
    let mut candidates: Vec<(u64, &CompactBytes, &Entry)> = ctx
        .locked
        .iter_shard_raw(ctx.db(), shard)?
        .map(|(key, entry)| (layout.prefix_of(key_hash(keyspace, key)), key, entry))
        .filter(|(prefix, _, _)| *prefix >= from)
        .collect();
    // Redis's COUNT is a hint: returning more is allowed.
    let room = count
        .saturating_sub(found.len())
        .max(candidates.len() / 8)
        .max(1);
    if candidates.len() > room {
        // Keep the `room` lowest prefixes, plus any key tied with the last of them.
        candidates.select_nth_unstable_by_key(room - 1, |c| c.0);
        let last = candidates[room - 1].0;
        found.extend(
            candidates
                .into_iter()
                .filter(|c| c.0 <= last)
                .map(|(_, k, e)| (k, e)),
        );
        return Ok(Some(layout.after_prefix(shard, last)));
    }
    found.extend(candidates.into_iter().map(|(_, k, e)| (k, e)));
    Ok(None)
}

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`: the next cursor and a batch of
/// keys; see [`CursorLayout`] for the guarantee. COUNT bounds the keys examined, so with MATCH
/// or TYPE a batch may hold fewer, even none, before the iteration ends.
pub fn scan(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let cursor = parse_cursor(args.next_bytes()?)?;
    let options = ScanOptions::parse(args)?;
    let (next, batch) = scan_step(ctx, cursor, options.count)?;
    let (db, now) = (ctx.db(), ctx.now);
    let mut keys: Vec<&CompactBytes> = Vec::with_capacity(batch.len());
    let mut type_checks = 0;
    for (key, entry) in batch {
        if options.pattern.is_some_and(|p| !pattern_matches(p, key)) {
            continue;
        }
        if entry.is_expired(now) {
            // Redis deletes each key past its TTL that its scan meets and MATCH lets through;
            // with TYPE its lookup does, which also counts a miss and sends `keymiss`.
            if options.type_name.is_some() {
                ctx.peek(key)?;
            } else {
                ctx.locked.note_expired(db, key);
            }
            continue;
        }
        if let Some(wanted) = options.type_name {
            // Redis looks each key up to learn its type, which counts as a keyspace hit.
            type_checks += 1;
            if !entry
                .value
                .type_name()
                .as_bytes()
                .eq_ignore_ascii_case(wanted)
            {
                continue;
            }
        }
        keys.push(key);
    }
    ctx.engine
        .stats
        .keyspace_hits
        .fetch_add(type_checks, Ordering::Relaxed);
    reply.array(2);
    reply.bulk(itoa::Buffer::new().format(next).as_bytes());
    reply.array(keys.len());
    for key in keys {
        reply.bulk(key);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Expiry
// ---------------------------------------------------------------------------------------------

/// The `NX | XX | GT | LT` conditions of the EXPIRE family.
#[derive(Debug, Default, Clone, Copy)]
struct ExpireCondition {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

impl ExpireCondition {
    /// Parses the options after the time, as Redis's `parseExtendedExpireArgumentsOrReply`:
    /// unknown words first, then the incompatible combinations.
    fn parse(args: &Args<'_>) -> Result<ExpireCondition, CommandError> {
        let mut c = ExpireCondition::default();
        for option in args.rest() {
            if option.eq_ignore_ascii_case(b"nx") {
                c.nx = true;
            } else if option.eq_ignore_ascii_case(b"xx") {
                c.xx = true;
            } else if option.eq_ignore_ascii_case(b"gt") {
                c.gt = true;
            } else if option.eq_ignore_ascii_case(b"lt") {
                c.lt = true;
            } else {
                // Redis formats the option as a C string: it ends at the first NUL byte.
                let shown = option.split(|&b| b == 0).next().unwrap_or_default();
                return Err(CommandError::Other(
                    format!("ERR Unsupported option {}", String::from_utf8_lossy(shown)).into(),
                ));
            }
        }
        if c.nx && (c.xx || c.gt || c.lt) {
            return Err(CommandError::msg(
                "ERR NX and XX, GT or LT options at the same time are not compatible",
            ));
        }
        if c.gt && c.lt {
            return Err(CommandError::msg(
                "ERR GT and LT options at the same time are not compatible",
            ));
        }
        Ok(c)
    }

    /// Whether the new expiry `when` may replace `current` (None: the key is persistent, which
    /// GT and LT treat as an infinite TTL).
    fn allows(self, when: i64, current: Option<i64>) -> bool {
        match current {
            None => !(self.xx || self.gt),
            Some(current) => {
                !(self.nx || (self.gt && when <= current) || (self.lt && when >= current))
            }
        }
    }
}

/// How a command gives an expiry time: the EXPIRE family, and the hash-field forms (HEXPIRE
/// family, HGETEX and HSETEX's `EX`/`PX`/`EXAT`/`PXAT`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ExpireForm {
    /// The command's name, for `invalid expire time in '...' command`.
    pub(crate) name: &'static str,
    /// Seconds rather than milliseconds.
    pub(crate) seconds: bool,
    /// A Unix time rather than a time from now.
    pub(crate) absolute: bool,
}

impl ExpireForm {
    /// The form an `EX`, `PX`, `EXAT` or `PXAT` option names, if `word` is one.
    pub(crate) fn from_option(name: &'static str, word: &[u8]) -> Option<ExpireForm> {
        let (seconds, absolute) = match word.to_ascii_lowercase().as_slice() {
            b"ex" => (true, false),
            b"px" => (false, false),
            b"exat" => (true, true),
            b"pxat" => (false, true),
            _ => return None,
        };
        Some(ExpireForm {
            name,
            seconds,
            absolute,
        })
    }
}

/// `EXPIRE key seconds [NX | XX | GT | LT]`
pub fn expire(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let form = ExpireForm {
        name: "expire",
        seconds: true,
        absolute: false,
    };
    expire_generic(ctx, args, reply, form)
}

/// `PEXPIRE key milliseconds [NX | XX | GT | LT]`
pub fn pexpire(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let form = ExpireForm {
        name: "pexpire",
        seconds: false,
        absolute: false,
    };
    expire_generic(ctx, args, reply, form)
}

/// `EXPIREAT key unix-time-seconds [NX | XX | GT | LT]`
pub fn expireat(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let form = ExpireForm {
        name: "expireat",
        seconds: true,
        absolute: true,
    };
    expire_generic(ctx, args, reply, form)
}

/// `PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT]`
pub fn pexpireat(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let form = ExpireForm {
        name: "pexpireat",
        seconds: false,
        absolute: true,
    };
    expire_generic(ctx, args, reply, form)
}

/// The time argument as absolute Unix milliseconds, refusing what would overflow as Redis's
/// `expireGenericCommand` does. Negative results are allowed: they are in the past.
fn expire_when(value: i64, form: ExpireForm, now: u64) -> Result<i64, CommandError> {
    let invalid = CommandError::InvalidExpireTime(form.name);
    let millis = if form.seconds {
        value.checked_mul(1000).ok_or(invalid.clone())?
    } else {
        value
    };
    let base = if form.absolute {
        0
    } else {
        i64::try_from(now).unwrap_or(i64::MAX)
    };
    millis.checked_add(base).ok_or(invalid)
}

/// The EXPIRE family: sets the key's expiry if the condition allows it; a time already past
/// deletes the key. Replies 1 when the key was changed, 0 otherwise.
fn expire_generic(
    ctx: &mut Ctx<'_, '_>,
    args: &mut Args<'_>,
    reply: &mut Reply,
    form: ExpireForm,
) -> CommandResult {
    let key = args.next_bytes()?;
    let time = args.next_bytes()?;
    // Redis checks the options before the number.
    let condition = ExpireCondition::parse(args)?;
    let (db, now) = (ctx.db(), ctx.now);
    let when = expire_when(parse_i64(time)?, form, now)?;
    let Some(entry) = ctx.locked.get(db, key, now)? else {
        expire_if_needed(ctx, key)?;
        reply.integer(0);
        return Ok(());
    };
    let current = entry
        .expires_at()
        .map(|at| i64::try_from(at).unwrap_or(i64::MAX));
    if !condition.allows(when, current) {
        reply.integer(0);
        return Ok(());
    }
    match u64::try_from(when) {
        Ok(at) if at > now => {
            ctx.locked.set_expiry(db, key, Some(at), now)?;
            ctx.modified(EventClass::GENERIC, "expire", key);
            // Replayed at its absolute time, with the condition settled.
            ctx.propagate(|| crate::effect_args!(b"PEXPIREAT", key, at.to_string()));
        }
        _ => {
            // A time already past deletes the key as expiring it would
            // (`lazyfree-lazy-expire`), reported as `del`.
            if let Some(old) = ctx.locked.remove(db, key, now)? {
                ctx.engine.keyspace.dispose_expired(old);
            }
            ctx.modified(EventClass::GENERIC, "del", key);
            ctx.propagate(|| crate::effect_args!(b"DEL", key));
        }
    }
    reply.integer(1);
    Ok(())
}

/// What the TTL family reports.
#[derive(Debug, Clone, Copy)]
struct TtlForm {
    /// Milliseconds rather than seconds (rounded to the nearest).
    millis: bool,
    /// The absolute expiry time rather than the time left.
    absolute: bool,
}

/// `TTL key`: seconds left (rounded), -1 without expiry, -2 when missing.
pub fn ttl(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    ttl_generic(
        ctx,
        args,
        reply,
        TtlForm {
            millis: false,
            absolute: false,
        },
    )
}

/// `PTTL key`: milliseconds left, -1 without expiry, -2 when missing.
pub fn pttl(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    ttl_generic(
        ctx,
        args,
        reply,
        TtlForm {
            millis: true,
            absolute: false,
        },
    )
}

/// `EXPIRETIME key`: the expiry as Unix seconds (rounded), -1 without expiry, -2 when missing.
pub fn expiretime(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    ttl_generic(
        ctx,
        args,
        reply,
        TtlForm {
            millis: false,
            absolute: true,
        },
    )
}

/// `PEXPIRETIME key`: the expiry as Unix milliseconds, -1 without expiry, -2 when missing.
pub fn pexpiretime(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    ttl_generic(
        ctx,
        args,
        reply,
        TtlForm {
            millis: true,
            absolute: true,
        },
    )
}

/// The TTL family, as Redis's `ttlGenericCommand` computes it, rounding included.
fn ttl_generic(
    ctx: &mut Ctx<'_, '_>,
    args: &mut Args<'_>,
    reply: &mut Reply,
    form: TtlForm,
) -> CommandResult {
    let key = args.next_bytes()?;
    let now = i64::try_from(ctx.now).unwrap_or(i64::MAX);
    let Some(entry) = ctx.peek(key)? else {
        reply.integer(-2);
        return Ok(());
    };
    let Some(at) = entry.expires_at() else {
        reply.integer(-1);
        return Ok(());
    };
    let at = i64::try_from(at).unwrap_or(i64::MAX);
    let ms = if form.absolute {
        at
    } else {
        at.saturating_sub(now).max(0)
    };
    reply.integer(if form.millis {
        ms
    } else {
        ms.saturating_add(500) / 1000
    });
    Ok(())
}

/// `PERSIST key`: 1 if an expiry was removed, 0 if the key is missing or persistent.
pub fn persist(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let key = args.next_bytes()?;
    let (db, now) = (ctx.db(), ctx.now);
    let Some(entry) = ctx.locked.get(db, key, now)? else {
        expire_if_needed(ctx, key)?;
        reply.integer(0);
        return Ok(());
    };
    let volatile = entry.expires_at().is_some();
    if volatile {
        ctx.locked.set_expiry(db, key, None, now)?;
        ctx.modified(EventClass::GENERIC, "persist", key);
    }
    reply.integer(i64::from(volatile));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// OBJECT
// ---------------------------------------------------------------------------------------------

/// `OBJECT ENCODING key`: the name Redis would give the value's representation; nil if missing.
pub fn object_encoding(
    ctx: &mut Ctx<'_, '_>,
    args: &mut Args<'_>,
    reply: &mut Reply,
) -> CommandResult {
    match ctx.peek(args.next_bytes()?)? {
        Some(entry) => reply.bulk(entry.value.encoding().as_bytes()),
        None => reply.null(),
    }
    Ok(())
}

/// `OBJECT FREQ key`: the key's LFU counter, decayed to now; nil if missing. Only an LFU
/// policy counts accesses: under another, Redis's error.
pub fn object_freq(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let now = ctx.now;
    let lfu = ctx.engine.lfu();
    match (ctx.peek(args.next_bytes()?)?, lfu) {
        (None, _) => reply.null(),
        (Some(entry), Some(lfu)) => reply.integer(i64::from(entry.access().frequency(now, lfu))),
        (Some(_), None) => return Err(NO_LFU),
    }
    Ok(())
}

/// `OBJECT IDLETIME key`: whole seconds since the key was last read or written; nil if
/// missing. An LFU policy does not track it: Redis's error then.
pub fn object_idletime(
    ctx: &mut Ctx<'_, '_>,
    args: &mut Args<'_>,
    reply: &mut Reply,
) -> CommandResult {
    let now = ctx.now;
    let lfu = ctx.engine.lfu();
    match (ctx.peek(args.next_bytes()?)?, lfu) {
        (None, _) => reply.null(),
        (Some(entry), None) => reply.count(entry.access().idle_seconds(now) as usize),
        (Some(_), Some(_)) => return Err(LFU_SELECTED),
    }
    Ok(())
}

/// `OBJECT REFCOUNT key`: 1, or `i32::MAX` for the small integers Redis shares between keys;
/// nil if missing.
pub fn object_refcount(
    ctx: &mut Ctx<'_, '_>,
    args: &mut Args<'_>,
    reply: &mut Reply,
) -> CommandResult {
    match ctx.peek(args.next_bytes()?)? {
        Some(entry) => reply.integer(entry.value.refcount()),
        None => reply.null(),
    }
    Ok(())
}

/// `OBJECT HELP`
pub fn object_help(
    _ctx: &mut Ctx<'_, '_>,
    _args: &mut Args<'_>,
    reply: &mut Reply,
) -> CommandResult {
    let lines = [
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    ];
    reply.help(&lines);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Registration
// ---------------------------------------------------------------------------------------------

/// The subcommands of OBJECT.
static OBJECT_SUBCOMMANDS: &[CommandSpec] = &[
    command!("encoding", 3, [READONLY], (2, 2, 1), Generic, engine!(object_encoding), "2.2.3", "O(1)",
        "Returns the internal encoding of a key's value.", "key", tips: &["nondeterministic_output"], key_flags: &["RO"]),
    command!("freq", 3, [READONLY], (2, 2, 1), Generic, engine!(object_freq), "4.0.0", "O(1)",
        "Returns the logarithmic access frequency counter of a key's value.", "key",
        tips: &["nondeterministic_output"], key_flags: &["RO"]),
    command!(
        "help",
        2,
        [LOADING, STALE],
        NO_KEYS,
        Generic,
        engine!(object_help),
        "6.2.0",
        "O(1)",
        "Explains the OBJECT subcommands.",
        ""
    ),
    command!("idletime", 3, [READONLY], (2, 2, 1), Generic, engine!(object_idletime), "2.2.3", "O(1)",
        "Returns how long ago a key was last accessed, in seconds.", "key", tips: &["nondeterministic_output"], key_flags: &["RO"]),
    command!("refcount", 3, [READONLY], (2, 2, 1), Generic, engine!(object_refcount), "2.2.3", "O(1)",
        "Returns how many references a key's value has.", "key", tips: &["nondeterministic_output"], key_flags: &["RO"]),
];

/// Registration block: the key-generic commands' rows of the command table.
pub(crate) static COMMANDS: &[CommandSpec] = &[
    command!("copy", -3, [WRITE, DENYOOM], (1, 2, 1), Generic, engine!(copy), "6.2.0",
        "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.",
        "Copies a key's value and TTL to another key, possibly in another database.",
        "source destination [DB destination-db] [REPLACE]", locks: Locks::Custom(plan_copy)),
    command!("dbsize", 1, [READONLY, FAST], NO_KEYS, Generic, engine!(dbsize), "1.0.0", "O(1)",
        "Returns the number of keys in the selected database.", "", locks: Locks::Narrow(plan_dbsize),
        tips: &["request_policy:all_shards", "response_policy:agg_sum"]),
    command!("del", -2, [WRITE], (1, -1, 1), Generic, engine!(del), "1.0.0",
        "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).",
        "Deletes keys and counts how many existed.", "key [key ...]",
        tips: &["request_policy:multi_shard", "response_policy:agg_sum"], key_flags: &["RM", "delete"]),
    command!("dump", 2, [READONLY], (1, 1, 1), Generic, engine!(dump::dump), "2.6.0",
        "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1).",
        "Serializes a key's value into a payload RESTORE accepts.", "key", tips: &["nondeterministic_output"]),
    command!("exists", -2, [READONLY, FAST], (1, -1, 1), Generic, engine!(exists), "1.0.0",
        "O(N) where N is the number of keys to check.",
        "Counts how many of the given keys exist, repeats included.", "key [key ...]",
        tips: &["request_policy:multi_shard", "response_policy:agg_sum"], key_flags: &["RO"]),
    command!(
        "expire",
        -3,
        [WRITE, FAST],
        (1, 1, 1),
        Generic,
        engine!(expire),
        "1.0.0",
        "O(1)",
        "Sets a key's time to live in seconds.",
        "key seconds [NX | XX | GT | LT]"
    ),
    command!(
        "expireat",
        -3,
        [WRITE, FAST],
        (1, 1, 1),
        Generic,
        engine!(expireat),
        "1.2.0",
        "O(1)",
        "Sets a key's expiry to a Unix time in seconds.",
        "key unix-time-seconds [NX | XX | GT | LT]"
    ),
    command!(
        "expiretime",
        2,
        [READONLY, FAST],
        (1, 1, 1),
        Generic,
        engine!(expiretime),
        "7.0.0",
        "O(1)",
        "Returns a key's expiry as a Unix time in seconds.",
        "key"
    ),
    command!("flushall", -1, [WRITE], NO_KEYS, Generic, engine!(flushall), "1.0.0",
        "O(N) where N is the total number of keys in all databases", "Deletes every key of every database.",
        "[ASYNC | SYNC]", locks: Locks::All, extra_acl: &["dangerous"],
        tips: &["request_policy:all_shards", "response_policy:all_succeeded"]),
    command!("flushdb", -1, [WRITE], NO_KEYS, Generic, engine!(flushdb), "1.0.0",
        "O(N) where N is the number of keys in the selected database", "Deletes every key of the selected database.",
        "[ASYNC | SYNC]", locks: Locks::Db, extra_acl: &["dangerous"],
        tips: &["request_policy:all_shards", "response_policy:all_succeeded"]),
    command!("keys", 2, [READONLY], NO_KEYS, Generic, engine!(keys), "1.0.0",
        "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.",
        "Returns every key name matching a pattern.", "pattern", locks: Locks::Db, extra_acl: &["dangerous"],
        tips: &["request_policy:all_shards", "nondeterministic_output_order"]),
    command!("move", 3, [WRITE, FAST], (1, 1, 1), Generic, engine!(move_), "1.0.0", "O(1)",
        "Moves a key to another database.", "key db", locks: Locks::Custom(plan_move), key_flags: &["RW", "access", "update"]),
    command!("object", -2, [], NO_KEYS, Generic, Handler::Container, "2.2.3", "Depends on subcommand.",
        "A container for commands that inspect how a value is stored.", "", subcommands: OBJECT_SUBCOMMANDS),
    command!(
        "persist",
        2,
        [WRITE, FAST],
        (1, 1, 1),
        Generic,
        engine!(persist),
        "2.2.0",
        "O(1)",
        "Removes a key's expiry.",
        "key"
    ),
    command!(
        "pexpire",
        -3,
        [WRITE, FAST],
        (1, 1, 1),
        Generic,
        engine!(pexpire),
        "2.6.0",
        "O(1)",
        "Sets a key's time to live in milliseconds.",
        "key milliseconds [NX | XX | GT | LT]"
    ),
    command!(
        "pexpireat",
        -3,
        [WRITE, FAST],
        (1, 1, 1),
        Generic,
        engine!(pexpireat),
        "2.6.0",
        "O(1)",
        "Sets a key's expiry to a Unix time in milliseconds.",
        "key unix-time-milliseconds [NX | XX | GT | LT]"
    ),
    command!(
        "pexpiretime",
        2,
        [READONLY, FAST],
        (1, 1, 1),
        Generic,
        engine!(pexpiretime),
        "7.0.0",
        "O(1)",
        "Returns a key's expiry as a Unix time in milliseconds.",
        "key"
    ),
    command!("pttl", 2, [READONLY, FAST], (1, 1, 1), Generic, engine!(pttl), "2.6.0", "O(1)",
        "Returns a key's time to live in milliseconds.", "key", tips: &["nondeterministic_output"]),
    command!("randomkey", 1, [READONLY], NO_KEYS, Generic, engine!(randomkey), "1.0.0", "O(1)",
        "Returns a random key name from the selected database.", "", locks: Locks::Narrow(plan_randomkey),
        tips: &["request_policy:all_shards", "nondeterministic_output"]),
    command!(
        "rename",
        3,
        [WRITE],
        (1, 2, 1),
        Generic,
        engine!(rename),
        "1.0.0",
        "O(1)",
        "Renames a key, overwriting the destination.",
        "key newkey"
    ),
    command!(
        "renamenx",
        3,
        [WRITE, FAST],
        (1, 2, 1),
        Generic,
        engine!(renamenx),
        "1.0.0",
        "O(1)",
        "Renames a key only if the new name is not taken.",
        "key newkey"
    ),
    command!("restore", -4, [WRITE, DENYOOM], (1, 1, 1), Generic, engine!(dump::restore), "2.6.0",
        "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).",
        "Creates a key from a payload made by DUMP.",
        "key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]",
        extra_acl: &["dangerous"], key_flags: &["OW", "update"]),
    command!("scan", -2, [READONLY], NO_KEYS, Generic, engine!(scan), "2.8.0",
        "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
        "Iterates over the key names of the selected database.", "cursor [MATCH pattern] [COUNT count] [TYPE type]",
        locks: Locks::Custom(plan_scan), tips: &["nondeterministic_output", "request_policy:special"]),
    command!("swapdb", 3, [WRITE, FAST], NO_KEYS, Generic, engine!(swapdb), "4.0.0",
        "O(N) where N is the count of clients watching or blocking on keys from both databases.",
        "Exchanges the contents of two databases.", "index1 index2", locks: Locks::Custom(plan_swapdb),
        extra_acl: &["dangerous"]),
    command!("touch", -2, [READONLY, FAST], (1, -1, 1), Generic, engine!(touch), "3.2.1",
        "O(N) where N is the number of keys that will be touched.",
        "Marks keys as just accessed and counts how many exist.", "key [key ...]",
        tips: &["request_policy:multi_shard", "response_policy:agg_sum"], key_flags: &["RO"]),
    command!("ttl", 2, [READONLY, FAST], (1, 1, 1), Generic, engine!(ttl), "1.0.0", "O(1)",
        "Returns a key's time to live in seconds.", "key", tips: &["nondeterministic_output"]),
    command!(
        "type",
        2,
        [READONLY, FAST],
        (1, 1, 1),
        Generic,
        engine!(type_),
        "1.0.0",
        "O(1)",
        "Returns the type of a key's value.",
        "key",
        key_flags: &["RO"]
    ),
    command!("unlink", -2, [WRITE, FAST], (1, -1, 1), Generic, engine!(unlink), "4.0.0",
        "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.",
        "Deletes keys, freeing their memory in the background, and counts how many existed.", "key [key ...]",
        tips: &["request_policy:multi_shard", "response_policy:agg_sum"], key_flags: &["RM", "delete"]),
];

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::HashMap;
    use std::num::NonZeroU64;

    use bytes::Bytes;
    use kv_resp::{Frame, FrameDecoder};

    use super::*;
    use crate::Value;
    use crate::{now_ms, Engine, Session};

    /// An engine and one client session, driven through `Engine::execute` like the server does.
    /// Shared with the DUMP/RESTORE tests.
    pub(crate) struct Client {
        pub(crate) engine: Engine,
        pub(crate) session: Session,
    }

    impl Client {
        pub(crate) fn new() -> Client {
            Client {
                engine: Engine::new(16, 16),
                session: Session::default(),
            }
        }

        /// Switches the session's protocol, as HELLO would.
        pub(crate) fn set_protocol(&mut self, protocol: crate::Protocol) {
            self.session.protocol = protocol;
        }

        /// Runs one command given as raw arguments and decodes its single reply.
        pub(crate) fn run(&mut self, args: &[&[u8]]) -> Frame {
            let mut reply = Reply::new(self.session.protocol);
            self.engine.execute(&mut self.session, args, &mut reply);
            let mut buf = reply.buf;
            let frame = FrameDecoder::default()
                .decode(&mut buf)
                .expect("a well-formed reply")
                .expect("a complete reply");
            assert!(buf.is_empty(), "more than one reply to {args:?}");
            frame
        }

        /// Runs a command written as space-separated words.
        pub(crate) fn cmd(&mut self, line: &str) -> Frame {
            let words: Vec<&[u8]> = line.split_whitespace().map(str::as_bytes).collect();
            self.run(&words)
        }

        /// Runs one command given as raw arguments as of `now` (Unix ms), as a connection
        /// does with the time it read once for a batch: expiry tests set the clock instead of
        /// sleeping.
        pub(crate) fn run_at(&mut self, args: &[&[u8]], now: u64) -> Frame {
            let mut reply = Reply::new(self.session.protocol);
            match self.engine.lookup(args) {
                Ok((spec, skip)) => {
                    // The test session has no waker, so nothing blocks.
                    let waiter =
                        self.engine
                            .run_at(spec, skip, &mut self.session, args, &mut reply, now);
                    assert!(waiter.is_none(), "{args:?} blocked");
                }
                Err(e) => reply.command_error(&e),
            }
            let mut buf = reply.buf;
            let frame = FrameDecoder::default()
                .decode(&mut buf)
                .expect("a well-formed reply")
                .expect("a complete reply");
            assert!(buf.is_empty(), "more than one reply to {args:?}");
            frame
        }

        /// Runs a command written as space-separated words, as of `now` (Unix ms).
        pub(crate) fn cmd_at(&mut self, line: &str, now: u64) -> Frame {
            let words: Vec<&[u8]> = line.split_whitespace().map(str::as_bytes).collect();
            self.run_at(&words, now)
        }

        /// Stores an entry directly, bypassing commands (for states commands cannot create,
        /// such as a key whose expiry has passed but that is not reclaimed yet).
        pub(crate) fn put(&self, db: usize, key: &[u8], entry: Entry) {
            let keyspace = &self.engine.keyspace;
            let mut locked = keyspace.lock(LockPlan {
                write: true,
                shards: smallvec::smallvec![(db, keyspace.shard_of(key))],
            });
            locked.insert(db, key, entry, 0).expect("shard is locked");
        }

        /// Stores a key that expired long ago.
        pub(crate) fn put_expired(&self, db: usize, key: &[u8]) {
            self.put(
                db,
                key,
                Entry {
                    value: Value::Str(crate::StrValue::new(b"stale")),
                    expires_at: NonZeroU64::new(1),
                    access: crate::Access::new(0).cell(),
                },
            );
        }

        /// The integer reply of a command.
        pub(crate) fn int(&mut self, line: &str) -> i64 {
            match self.cmd(line) {
                Frame::Integer(n) => n,
                other => panic!("{line}: {other:?}"),
            }
        }

        /// The keys of a KEYS reply or the batch of a SCAN reply, sorted.
        fn key_list(frame: Frame) -> Vec<Vec<u8>> {
            let Frame::Array(items) = frame else {
                panic!("{frame:?}")
            };
            let mut keys: Vec<Vec<u8>> = items
                .into_iter()
                .map(|f| match f {
                    Frame::Bulk(b) => b.to_vec(),
                    other => panic!("{other:?}"),
                })
                .collect();
            keys.sort();
            keys
        }
    }

    fn ok() -> Frame {
        Frame::simple("OK")
    }

    /// An integer reply.
    pub(crate) fn int(n: i64) -> Frame {
        Frame::Integer(n)
    }

    /// A bulk string reply.
    pub(crate) fn bulk(s: &str) -> Frame {
        Frame::bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    /// An error reply.
    pub(crate) fn err(s: &'static str) -> Frame {
        Frame::error(s)
    }

    /// An array of bulk strings.
    pub(crate) fn bulks(items: &[&str]) -> Frame {
        Frame::Array(items.iter().map(|s| bulk(s)).collect())
    }

    fn strings(items: &[&str]) -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = items.iter().map(|s| s.as_bytes().to_vec()).collect();
        v.sort();
        v
    }

    #[test]
    fn del_unlink_exists_and_type() {
        let mut c = Client::new();
        c.cmd("SET a 1");
        c.cmd("SET b 2");
        assert_eq!(c.cmd("EXISTS a a b nope"), int(3));
        assert_eq!(c.cmd("TYPE a"), Frame::simple("string"));
        assert_eq!(c.cmd("TYPE nope"), Frame::simple("none"));
        assert_eq!(c.cmd("DEL a a b c"), int(2));
        assert_eq!(c.cmd("EXISTS a b"), int(0));
        c.cmd("SET a 1");
        assert_eq!(c.cmd("UNLINK a nope"), int(1));
        assert_eq!(
            c.cmd("DEL"),
            err("ERR wrong number of arguments for 'del' command")
        );
        // An expired but unreclaimed key is invisible and does not count as deleted.
        c.put_expired(0, b"old");
        assert_eq!(c.cmd("EXISTS old"), int(0));
        assert_eq!(c.cmd("TYPE old"), Frame::simple("none"));
        assert_eq!(c.cmd("DEL old"), int(0));
        assert_eq!(c.cmd("DBSIZE"), int(0));
    }

    #[test]
    fn lookups_count_hits_and_misses() {
        let mut c = Client::new();
        c.cmd("SET a 1");
        let stats = |c: &Client| {
            (
                c.engine.stats.keyspace_hits.load(Ordering::Relaxed),
                c.engine.stats.keyspace_misses.load(Ordering::Relaxed),
            )
        };
        let before = stats(&c);
        c.cmd("EXISTS a nope");
        c.cmd("TTL a");
        c.cmd("DEL nope");
        c.cmd("RENAME a b");
        let after = stats(&c);
        assert_eq!((after.0 - before.0, after.1 - before.1), (2, 1));
    }

    #[test]
    fn rename_and_renamenx() {
        let mut c = Client::new();
        assert_eq!(c.cmd("RENAME nope x"), err("ERR no such key"));
        assert_eq!(c.cmd("RENAME nope nope"), err("ERR no such key"));
        assert_eq!(c.cmd("RENAMENX nope x"), err("ERR no such key"));
        c.cmd("SET a 1");
        assert_eq!(c.cmd("RENAME a a"), ok());
        assert_eq!(c.cmd("RENAMENX a a"), int(0));
        c.cmd("PEXPIRE a 100000");
        assert_eq!(c.cmd("RENAME a b"), ok());
        assert_eq!(c.cmd("GET b"), bulk("1"));
        assert_eq!(c.cmd("EXISTS a"), int(0));
        // The TTL travels with the value.
        assert!((99_000..=100_000).contains(&c.int("PTTL b")));
        c.cmd("SET c 3");
        assert_eq!(c.cmd("RENAMENX b c"), int(0));
        assert_eq!(c.cmd("GET c"), bulk("3"));
        assert_eq!(c.cmd("RENAMENX b d"), int(1));
        assert_eq!(c.cmd("GET d"), bulk("1"));
        // RENAME overwrites, and the overwritten key's TTL goes with it.
        c.cmd("SET e 5");
        c.cmd("PEXPIRE c 5000");
        assert_eq!(c.cmd("RENAME e c"), ok());
        assert_eq!(c.cmd("GET c"), bulk("5"));
        assert_eq!(c.cmd("TTL c"), int(-1));
        assert_eq!(c.engine.keyspace.db_volatile(0), 1);
    }

    #[test]
    fn copy_within_and_across_databases() {
        let mut c = Client::new();
        c.cmd("SET x 1");
        c.cmd("PEXPIRE x 100000");
        assert_eq!(c.cmd("COPY x y"), int(1));
        assert_eq!(c.cmd("GET y"), bulk("1"));
        assert!(c.int("PTTL y") > 99_000);
        assert_eq!(c.cmd("COPY x y"), int(0));
        c.cmd("SET x 2");
        assert_eq!(c.cmd("COPY x y REPLACE replace"), int(1));
        assert_eq!(c.cmd("GET y"), bulk("2"));
        assert_eq!(c.cmd("TTL y"), int(-1));
        assert_eq!(c.cmd("COPY x y DB 1"), int(1));
        assert_eq!(c.cmd("COPY x x db 1"), int(1));
        assert_eq!(c.cmd("COPY x x db 1"), int(0));
        assert_eq!(c.cmd("COPY x y db 0"), int(0));
        assert_eq!(c.cmd("COPY nope y"), int(0));
        c.cmd("SELECT 1");
        assert_eq!(c.cmd("GET y"), bulk("2"));
        assert_eq!(c.cmd("GET x"), bulk("2"));
        c.cmd("SELECT 0");
        assert_eq!(
            c.cmd("COPY x x"),
            err("ERR source and destination objects are the same")
        );
        assert_eq!(
            c.cmd("COPY x x db 0"),
            err("ERR source and destination objects are the same")
        );
        assert_eq!(c.cmd("COPY x y db 16"), err("ERR DB index is out of range"));
        assert_eq!(c.cmd("COPY x y db -1"), err("ERR DB index is out of range"));
        assert_eq!(
            c.cmd("COPY nope y db 99"),
            err("ERR DB index is out of range")
        );
        assert_eq!(
            c.cmd("COPY x y db abc"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(
            c.cmd("COPY x y db 2147483648"),
            err("ERR value is out of range, value must between -2147483648 and 2147483647")
        );
        assert_eq!(c.cmd("COPY x y db"), err("ERR syntax error"));
        assert_eq!(c.cmd("COPY x y foo"), err("ERR syntax error"));
        // The first problem in argument order is the one reported.
        assert_eq!(
            c.cmd("COPY x y db 99 foo"),
            err("ERR DB index is out of range")
        );
        assert_eq!(c.cmd("COPY x y foo db 99"), err("ERR syntax error"));
        assert_eq!(
            c.cmd("COPY x"),
            err("ERR wrong number of arguments for 'copy' command")
        );
    }

    #[test]
    fn lock_plans_cover_the_keys_touched() {
        let engine = Engine::new(16, 16);
        let session = Session {
            db: 3,
            ..Session::default()
        };
        let shard = |key: &[u8]| engine.keyspace.shard_of(key);
        let args = |line: &'static str| -> Vec<&'static [u8]> {
            line.split_whitespace().map(str::as_bytes).collect()
        };
        let plan = plan_copy(&engine, &session, &args("copy a b db 7 replace"));
        assert!(plan.write);
        assert_eq!(
            plan.shards.to_vec(),
            vec![(3, shard(b"a")), (7, shard(b"b"))]
        );
        let plan = plan_copy(&engine, &session, &args("copy a b db 99"));
        assert_eq!(
            plan.shards.to_vec(),
            vec![(3, shard(b"a")), (3, shard(b"b"))]
        );
        let plan = plan_move(&engine, &session, &args("move a 5"));
        assert_eq!(
            plan.shards.to_vec(),
            vec![(3, shard(b"a")), (5, shard(b"a"))]
        );
        let plan = plan_move(&engine, &session, &args("move a x"));
        assert_eq!(plan.shards.to_vec(), vec![(3, shard(b"a"))]);
        let plan = plan_swapdb(&engine, &session, &args("swapdb 1 2"));
        assert_eq!(plan.shards.len(), 32);
        assert!(plan.shards.iter().all(|&(db, _)| db == 1 || db == 2));
        assert!(plan_swapdb(&engine, &session, &args("swapdb 1 99"))
            .shards
            .is_empty());
    }

    #[test]
    fn move_between_databases() {
        let mut c = Client::new();
        c.cmd("SET x 1");
        c.cmd("PEXPIRE x 100000");
        assert_eq!(
            c.cmd("MOVE x 0"),
            err("ERR source and destination objects are the same")
        );
        assert_eq!(c.cmd("MOVE x 16"), err("ERR DB index is out of range"));
        assert_eq!(c.cmd("MOVE x -1"), err("ERR DB index is out of range"));
        assert_eq!(
            c.cmd("MOVE x abc"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(
            c.cmd("MOVE x 99999999999"),
            err("ERR value is out of range, value must between -2147483648 and 2147483647")
        );
        assert_eq!(c.cmd("MOVE nope 1"), int(0));
        assert_eq!(c.cmd("MOVE x 1"), int(1));
        assert_eq!(c.cmd("EXISTS x"), int(0));
        c.cmd("SET x 2");
        assert_eq!(c.cmd("MOVE x 1"), int(0));
        assert_eq!(c.cmd("GET x"), bulk("2"));
        c.cmd("SELECT 1");
        assert_eq!(c.cmd("GET x"), bulk("1"));
        assert!(c.int("PTTL x") > 99_000);
        assert_eq!(c.engine.keyspace.db_volatile(1), 1);
        assert_eq!(c.engine.keyspace.db_volatile(0), 0);
    }

    #[test]
    fn swapdb_exchanges_contents() {
        let mut c = Client::new();
        c.cmd("SET a 0");
        c.cmd("PEXPIRE a 100000");
        c.cmd("SELECT 1");
        c.cmd("SET b 1");
        assert_eq!(c.cmd("SWAPDB 0 1"), ok());
        assert_eq!(c.cmd("GET a"), bulk("0"));
        assert_eq!(c.cmd("EXISTS b"), int(0));
        assert!(c.int("PTTL a") > 99_000);
        c.cmd("SELECT 0");
        assert_eq!(c.cmd("GET b"), bulk("1"));
        assert_eq!(c.cmd("SWAPDB 0 0"), ok());
        assert_eq!(c.cmd("GET b"), bulk("1"));
        assert_eq!(c.cmd("SWAPDB a 1"), err("ERR invalid first DB index"));
        assert_eq!(c.cmd("SWAPDB a b"), err("ERR invalid first DB index"));
        assert_eq!(c.cmd("SWAPDB 0 b"), err("ERR invalid second DB index"));
        assert_eq!(
            c.cmd("SWAPDB 99999999999 0"),
            err("ERR invalid first DB index")
        );
        assert_eq!(c.cmd("SWAPDB 0 16"), err("ERR DB index is out of range"));
        assert_eq!(c.cmd("SWAPDB -1 0"), err("ERR DB index is out of range"));
    }

    #[test]
    fn flushdb_flushall_and_dbsize() {
        let mut c = Client::new();
        c.cmd("SET a 1");
        c.cmd("SET b 2");
        c.cmd("PEXPIRE b 100000");
        c.cmd("SELECT 1");
        c.cmd("SET c 3");
        assert_eq!(c.cmd("DBSIZE"), int(1));
        assert_eq!(c.cmd("FLUSHDB foo"), err("ERR syntax error"));
        assert_eq!(c.cmd("FLUSHDB async sync"), err("ERR syntax error"));
        assert_eq!(c.cmd("FLUSHDB"), ok());
        assert_eq!(c.cmd("DBSIZE"), int(0));
        c.cmd("SELECT 0");
        assert_eq!(c.cmd("DBSIZE"), int(2));
        assert_eq!(c.cmd("FLUSHDB ASYNC"), ok());
        assert_eq!(c.cmd("DBSIZE"), int(0));
        assert_eq!(c.engine.keyspace.db_volatile(0), 0);
        for mode in ["", " sync", " ASYNC"] {
            for db in 0..3 {
                c.cmd(&format!("SELECT {db}"));
                c.cmd("SET k v");
            }
            assert_eq!(c.cmd(&format!("FLUSHALL{mode}")), ok());
            assert!((0..16).all(|db| c.engine.keyspace.db_len(db) == 0));
        }
        assert_eq!(c.cmd("FLUSHALL foo"), err("ERR syntax error"));
        assert_eq!(c.cmd("FLUSHALL sync sync"), err("ERR syntax error"));
        assert_eq!(
            c.cmd("DBSIZE x"),
            err("ERR wrong number of arguments for 'dbsize' command")
        );
    }

    #[test]
    fn keys_matches_patterns() {
        let mut c = Client::new();
        for key in ["hello", "hallo", "hxllo", "other"] {
            c.cmd(&format!("SET {key} 1"));
        }
        c.run(&[b"SET", b"", b"empty"]);
        c.put_expired(0, b"hillo");
        assert_eq!(
            Client::key_list(c.cmd("KEYS h?llo")),
            strings(&["hallo", "hello", "hxllo"])
        );
        assert_eq!(
            Client::key_list(c.cmd("KEYS h[ae]llo")),
            strings(&["hallo", "hello"])
        );
        // A lone `*` matches the empty key too; `**` goes through the matcher, which does not.
        assert_eq!(
            Client::key_list(c.cmd("KEYS *")),
            strings(&["", "hallo", "hello", "hxllo", "other"])
        );
        assert_eq!(
            Client::key_list(c.cmd("KEYS **")),
            strings(&["hallo", "hello", "hxllo", "other"])
        );
        assert_eq!(Client::key_list(c.cmd("KEYS nothing*")), strings(&[]));
    }

    /// The distinct keys 300 RANDOMKEY calls returned, sorted.
    fn randomkey_picks(c: &mut Client) -> Vec<Vec<u8>> {
        let mut keys: Vec<Vec<u8>> = (0..300)
            .map(|_| match c.cmd("RANDOMKEY") {
                Frame::Bulk(k) => k.to_vec(),
                other => panic!("{other:?}"),
            })
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    #[test]
    fn warming_ahead_changes_nothing_and_never_waits() {
        let mut c = Client::new();
        c.cmd("SET live 1");
        c.put_expired(0, b"old");
        let keyspace = &c.engine.keyspace;
        let counters = |c: &Client| {
            (
                c.engine.stats.keyspace_hits.load(Ordering::Relaxed),
                c.engine.stats.keyspace_misses.load(Ordering::Relaxed),
                c.engine.keyspace.expired_keys.load(Ordering::Relaxed),
            )
        };
        let before = counters(&c);
        let access = |key: &[u8]| {
            let locked = keyspace.lock(LockPlan {
                write: false,
                shards: smallvec::smallvec![(0, keyspace.shard_of(key))],
            });
            locked
                .entry_raw(0, key)
                .map(|entry| entry.access.load(Ordering::Relaxed))
        };
        let (live_access, old_access) = (access(b"live"), access(b"old"));
        keyspace.warm_ahead(0, &[b"live", b"old", b"missing", b"live", b"live"]);
        // Out-of-range databases are ignored.
        keyspace.warm_ahead(99, &[b"live", b"old"]);
        assert_eq!(counters(&c), before);
        assert_eq!((access(b"live"), access(b"old")), (live_access, old_access));
        // The key past its TTL is still stored (only a command reclaims it).
        assert_eq!(keyspace.db_len(0), 2);
        // A shard held for writing, by this very thread, is skipped, not waited for.
        let held = keyspace.lock(LockPlan {
            write: true,
            shards: smallvec::smallvec![(0, keyspace.shard_of(b"live"))],
        });
        keyspace.warm_ahead(0, &[b"live", b"missing"]);
        drop(held);
    }

    #[test]
    fn randomkey_returns_live_keys() {
        let mut c = Client::new();
        assert_eq!(c.cmd("RANDOMKEY"), Frame::NullBulk);
        c.put_expired(0, b"old");
        assert_eq!(c.cmd("RANDOMKEY"), Frame::NullBulk);
        for key in ["a", "b", "c"] {
            c.cmd(&format!("SET {key} 1"));
        }
        let keys = randomkey_picks(&mut c);
        assert_eq!(keys, strings(&["a", "b", "c"]));
    }

    #[test]
    fn randomkey_finds_the_few_keys_left_in_sparse_tables() {
        let mut c = Client::new();
        for i in 0..20_000 {
            c.cmd(&format!("SET key:{i} 1"));
        }
        // Tables keep their buckets when keys go: random buckets are mostly empty now.
        for i in 3..20_000 {
            c.cmd(&format!("DEL key:{i}"));
        }
        let keys = randomkey_picks(&mut c);
        assert_eq!(keys, strings(&["key:0", "key:1", "key:2"]));
        // The cron's shrinking gives the room back, once.
        let keyspace = &c.engine.keyspace;
        assert!(keyspace.shrink_sparse_tables(usize::MAX) > 0);
        assert_eq!(keyspace.shrink_sparse_tables(usize::MAX), 0);
        for key in ["key:0", "key:1", "key:2"] {
            assert_eq!(
                c.cmd(&format!("GET {key}")),
                Frame::Bulk(Bytes::from_static(b"1"))
            );
        }
        assert_eq!(c.int("DBSIZE"), 3);
    }

    #[test]
    fn randomkey_finds_the_live_key_among_expired_ones() {
        let mut c = Client::new();
        for i in 0..2_000 {
            c.put_expired(0, format!("old:{i}").as_bytes());
        }
        c.cmd("SET live 1");
        for _ in 0..20 {
            assert_eq!(c.cmd("RANDOMKEY"), Frame::Bulk(Bytes::from_static(b"live")));
        }
        // Every pick past its TTL was deleted, as Redis's RANDOMKEY deletes them.
        assert!(c.int("DBSIZE") < 2_001);
    }

    /// Runs a SCAN loop to the end with `options`, returning every batch's keys.
    fn scan_all(c: &mut Client, options: &str) -> Vec<Vec<u8>> {
        let mut cursor = "0".to_string();
        let mut keys = Vec::new();
        for _ in 0..100_000 {
            let Frame::Array(mut reply) = c.cmd(&format!("SCAN {cursor} {options}")) else {
                panic!()
            };
            let batch = reply.pop().expect("batch");
            let Some(Frame::Bulk(next)) = reply.pop() else {
                panic!()
            };
            keys.extend(Client::key_list(batch));
            cursor = String::from_utf8(next.to_vec()).expect("digits");
            if cursor == "0" {
                keys.sort();
                return keys;
            }
        }
        panic!("SCAN never finished");
    }

    #[test]
    fn scan_options_and_errors() {
        let mut c = Client::new();
        for i in 0..30 {
            c.cmd(&format!("SET key:{i} {i}"));
        }
        c.run(&[b"SET", b"", b"empty"]);
        c.put_expired(0, b"key:old");
        let mut all: Vec<Vec<u8>> = (0..30).map(|i| format!("key:{i}").into_bytes()).collect();
        all.push(Vec::new());
        all.sort();
        assert_eq!(scan_all(&mut c, ""), all);
        assert_eq!(scan_all(&mut c, "COUNT 1"), all);
        assert_eq!(scan_all(&mut c, "count 1000 match *"), all);
        assert_eq!(scan_all(&mut c, "TYPE STRING"), all);
        assert_eq!(scan_all(&mut c, "type list"), Vec::<Vec<u8>>::new());
        assert_eq!(
            scan_all(&mut c, "MATCH key:1? count 3"),
            strings(&[
                "key:10", "key:11", "key:12", "key:13", "key:14", "key:15", "key:16", "key:17",
                "key:18", "key:19"
            ])
        );
        assert_eq!(
            scan_all(&mut c, "MATCH nope MATCH key:2 COUNT 5 COUNT 7 TYPE string"),
            strings(&["key:2"])
        );
        assert_eq!(scan_all(&mut c, "MATCH **"), all[1..].to_vec());
        // One call with a large COUNT covers everything and ends the iteration.
        let Frame::Array(reply) = c.cmd("SCAN 0 COUNT 1000") else {
            panic!()
        };
        assert_eq!(reply[0], bulk("0"));
        assert_eq!(c.cmd("SCAN abc"), err("ERR invalid cursor"));
        assert_eq!(
            c.cmd("SCAN 18446744073709551616"),
            err("ERR invalid cursor")
        );
        assert_eq!(c.cmd("SCAN abc COUNT 0"), err("ERR invalid cursor"));
        assert_eq!(c.cmd("SCAN 0 COUNT 0"), err("ERR syntax error"));
        assert_eq!(c.cmd("SCAN 0 COUNT -1"), err("ERR syntax error"));
        assert_eq!(
            c.cmd("SCAN 0 COUNT x"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(c.cmd("SCAN 0 MATCH"), err("ERR syntax error"));
        assert_eq!(c.cmd("SCAN 0 foo bar"), err("ERR syntax error"));
        assert_eq!(c.cmd("SCAN 0 COUNT 5 extra"), err("ERR syntax error"));
    }

    #[test]
    fn scan_cursors_parse_like_strtoul() {
        assert_eq!(parse_cursor(b"0"), Ok(0));
        assert_eq!(parse_cursor(b""), Ok(0));
        assert_eq!(parse_cursor(b"+12"), Ok(12));
        assert_eq!(parse_cursor(b"007"), Ok(7));
        assert_eq!(parse_cursor(b"-1"), Ok(u64::MAX));
        assert_eq!(parse_cursor(b"-18446744073709551615"), Ok(1));
        assert_eq!(parse_cursor(b"18446744073709551615"), Ok(u64::MAX));
        for bad in [
            &b"-"[..],
            b"+",
            b" 1",
            b"\x0b1",
            b"1 ",
            b"0x1",
            b"18446744073709551616",
            b"-18446744073709551616",
        ] {
            assert!(parse_cursor(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn scan_accepts_any_cursor() {
        let mut c = Client::new();
        c.cmd("SET a 1");
        for cursor in ["18446744073709551615", "-1", "9223372036854775808", "12345"] {
            let Frame::Array(reply) = c.cmd(&format!("SCAN {cursor}")) else {
                panic!()
            };
            assert_eq!(reply.len(), 2);
        }
    }

    #[test]
    fn cursor_layout_round_trips_and_ends_at_zero() {
        let engine = Engine::new(1, 16);
        let layout = CursorLayout::new(&engine);
        assert_eq!(layout.shard_bits, 4);
        assert_eq!(layout.layout_bits(), 27);
        let bucket = InShard::Bucket {
            layout: 9,
            index: 77,
        };
        assert_eq!(layout.decode(layout.encode(5, bucket)), (5, bucket));
        let prefix = InShard::Prefix(123_456_789);
        assert_eq!(layout.decode(layout.encode(5, prefix)), (5, prefix));
        assert_eq!(
            layout.decode(u64::MAX),
            (15, InShard::Prefix(u64::MAX >> 5))
        );
        assert_eq!(
            layout.after_prefix(3, 9),
            layout.encode(3, InShard::Prefix(10))
        );
        assert_eq!(
            layout.after_prefix(3, layout.max_prefix()),
            layout.start_of(4)
        );
        assert_eq!(layout.after_prefix(15, layout.max_prefix()), 0);
        assert_eq!(layout.start_of(0), 0);
        assert_ne!(layout.start_of(1), 0);
        assert_eq!(layout.start_of(16), 0);
        // Generations match on the bits a cursor holds.
        assert!(layout.same_layout(3, 3 + (1 << 27)));
        assert!(!layout.same_layout(3, 4));
        // The production layout: 256 shards.
        let engine = Engine::new(1, 256);
        let layout = CursorLayout::new(&engine);
        assert_eq!(layout.layout_bits(), 23);
        let far = InShard::Bucket {
            layout: (1 << 23) - 1,
            index: (1 << 32) - 1,
        };
        assert_eq!(layout.decode(layout.encode(255, far)), (255, far));
    }

    /// A small deterministic generator for the property test.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    #[test]
    fn scan_locks_only_the_shards_it_reads() {
        let mut c = Client::new();
        let plan = |c: &Client, line: &str| {
            let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
            let (spec, _) = c.engine.lookup(&args).unwrap();
            let plan = c.engine.lock_plan(spec, &c.session, &args);
            assert!(!plan.write);
            plan.shards.len()
        };
        // A database of few keys: every shard, so one call can return them all.
        c.cmd("SET a 1");
        assert_eq!(plan(&c, "SCAN 0"), 16);
        for i in 0..2_000 {
            c.cmd(&format!("SET key:{i} v"));
        }
        assert_eq!(plan(&c, "SCAN 0 COUNT 10"), 1);
        assert!(plan(&c, "SCAN 0 COUNT 500") > 1);
        assert!(plan(&c, "SCAN 0 COUNT 500") < 16);
        // From a cursor in the last shard, that shard alone.
        assert_eq!(plan(&c, &format!("SCAN {} COUNT 10", u64::MAX)), 1);
        // Refused arguments plan a shard: the call replies an error.
        assert_eq!(plan(&c, "SCAN x"), 1);
        assert_eq!(plan(&c, "SCAN 0 COUNT"), 1);
    }

    /// Runs one SCAN call; the reply's cursor and keys.
    fn scan_once(c: &mut Client, cursor: &str, options: &str) -> (String, Vec<Vec<u8>>) {
        let Frame::Array(mut reply) = c.cmd(&format!("SCAN {cursor} {options}")) else {
            panic!()
        };
        let batch = Client::key_list(reply.pop().expect("batch"));
        let Some(Frame::Bulk(next)) = reply.pop() else {
            panic!()
        };
        (String::from_utf8(next.to_vec()).expect("digits"), batch)
    }

    #[test]
    fn scan_calls_cost_about_count_keys_in_large_shards() {
        let mut c = Client::new();
        for i in 0..20_000 {
            c.cmd(&format!("SET key:{i} v"));
        }
        // About 1,250 keys a shard: a call takes COUNT of them, not the whole shard's worth.
        let (mut cursor, batch) = scan_once(&mut c, "0", "COUNT 10");
        assert!(!batch.is_empty() && batch.len() <= 10, "{}", batch.len());
        let mut seen: HashMap<Vec<u8>, usize> = batch.into_iter().map(|k| (k, 1)).collect();
        let mut calls = 1;
        while cursor != "0" {
            let (next, batch) = scan_once(&mut c, &cursor, "COUNT 10");
            assert!(batch.len() <= 10);
            for key in batch {
                *seen.entry(key).or_default() += 1;
            }
            cursor = next;
            calls += 1;
        }
        // Nothing changed meanwhile: every key exactly once, in about 2,000 calls.
        assert_eq!(seen.len(), 20_000);
        assert!(seen.values().all(|&n| n == 1));
        assert!((2_000..2_100).contains(&calls), "{calls} calls");
    }

    /// Tables filled to the brim and then emptied by deletions are shrunk by the cron, every
    /// one of them, however many of their slots the deletions left as tombstones (which
    /// hashbrown's `capacity()` does not count as room; `is_sparse` counts buckets).
    #[test]
    fn a_table_emptied_by_deletions_is_shrunk() {
        // One database of two shards (the fewest there are), about 3,600 keys each: a table of
        // 4,096 buckets filled to hashbrown's limit (3,584), or one of 8,192 if it passed it.
        let mut c = Client {
            engine: Engine::new(1, 2),
            session: Session::default(),
        };
        for i in 0..7_168 {
            c.cmd(&format!("SET k:{i} v"));
        }
        for i in 10..7_168 {
            c.cmd(&format!("DEL k:{i}"));
        }
        assert_eq!(c.engine.keyspace.db_len(0), 10);
        // Both tables hold under a tenth of what they have room for.
        assert_eq!(c.engine.keyspace.shrink_sparse_tables(usize::MAX), 2);
        assert_eq!(c.engine.keyspace.shrink_sparse_tables(usize::MAX), 0);
        for i in 0..10 {
            assert_eq!(c.cmd(&format!("GET k:{i}")), Frame::Bulk(Bytes::from("v")));
        }
    }

    #[test]
    fn scan_finishes_while_every_table_is_rebuilt_between_calls() {
        let mut c = Client::new();
        for i in 0..300 {
            c.cmd(&format!("SET stable:{i} v"));
        }
        let mut seen: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut cursor = "0".to_string();
        let mut calls = 0;
        loop {
            let (next, batch) = scan_once(&mut c, &cursor, "COUNT 5");
            for key in batch {
                *seen.entry(key).or_default() += 1;
            }
            cursor = next;
            if cursor == "0" {
                break;
            }
            calls += 1;
            // Every shard's table grows, then shrinks back: each is rebuilt twice.
            for i in 0..3_000 {
                c.cmd(&format!("SET churn:{i} v"));
            }
            for i in 0..3_000 {
                c.cmd(&format!("DEL churn:{i}"));
            }
            assert!(c.engine.keyspace.shrink_sparse_tables(usize::MAX) > 0);
            // A shard whose table was rebuilt finishes in hash order, at least an eighth of
            // what remains at a time.
            assert!(calls < 16 * 40, "SCAN does not finish");
        }
        for i in 0..300 {
            let key = format!("stable:{i}").into_bytes();
            assert!(seen.contains_key(&key), "stable:{i} missed");
        }
    }

    #[test]
    fn scan_returns_every_stable_key_while_the_keyspace_changes() {
        for seed in 1..=6u64 {
            let mut rng = XorShift(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let mut c = Client::new();
            let stable = 200 + (rng.next() % 300) as usize;
            for i in 0..stable {
                c.cmd(&format!("SET stable:{i} v"));
            }
            let mut churn: Vec<usize> = Vec::new();
            let mut next_churn = 0;
            let mut seen: HashMap<Vec<u8>, usize> = HashMap::new();
            let mut cursor = "0".to_string();
            let mut calls = 0;
            loop {
                let count = 1 + rng.next() % 25;
                let Frame::Array(mut reply) = c.cmd(&format!("SCAN {cursor} COUNT {count}")) else {
                    panic!()
                };
                let batch = Client::key_list(reply.pop().expect("batch"));
                let Some(Frame::Bulk(next)) = reply.pop() else {
                    panic!()
                };
                for key in batch {
                    *seen.entry(key).or_default() += 1;
                }
                cursor = String::from_utf8(next.to_vec()).expect("digits");
                if cursor == "0" {
                    break;
                }
                calls += 1;
                assert!(calls < 10_000, "SCAN does not progress");
                // Grow (forcing the shard tables to rehash) or shrink between calls.
                if rng.next() % 3 == 0 && !churn.is_empty() {
                    let drop = (rng.next() % churn.len() as u64) as usize + 1;
                    for _ in 0..drop.min(churn.len()) {
                        let i = churn.swap_remove((rng.next() % churn.len() as u64) as usize);
                        c.cmd(&format!("DEL churn:{i}"));
                    }
                    // As the cron would: tables left sparse shrink, rehashing their keys.
                    c.engine.keyspace.shrink_sparse_tables(usize::MAX);
                } else {
                    for _ in 0..(rng.next() % 60) {
                        c.cmd(&format!("SET churn:{next_churn} v"));
                        churn.push(next_churn);
                        next_churn += 1;
                    }
                }
            }
            for i in 0..stable {
                let key = format!("stable:{i}").into_bytes();
                assert!(seen.contains_key(&key), "seed {seed}: stable:{i} missed");
            }
        }
    }

    #[test]
    fn expire_options_and_errors() {
        let mut c = Client::new();
        c.cmd("SET k v");
        let nx_xx = err("ERR NX and XX, GT or LT options at the same time are not compatible");
        assert_eq!(c.cmd("EXPIRE k 100 nx xx"), nx_xx);
        assert_eq!(c.cmd("EXPIRE k 100 nx gt"), nx_xx);
        assert_eq!(c.cmd("EXPIRE k 100 NX LT"), nx_xx);
        assert_eq!(c.cmd("EXPIRE k abc nx xx"), nx_xx);
        assert_eq!(
            c.cmd("EXPIRE k 100 gt lt"),
            err("ERR GT and LT options at the same time are not compatible")
        );
        assert_eq!(c.cmd("EXPIRE k 100 foo"), err("ERR Unsupported option foo"));
        assert_eq!(c.cmd("EXPIRE k abc foo"), err("ERR Unsupported option foo"));
        assert_eq!(
            c.run(&[b"EXPIRE", b"k", b"1", b"n\0x"]),
            err("ERR Unsupported option n")
        );
        assert_eq!(
            c.cmd("EXPIRE k abc"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(
            c.cmd("EXPIRE nope abc"),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(
            c.cmd("EXPIRE k 9223372036854775807"),
            err("ERR invalid expire time in 'expire' command")
        );
        assert_eq!(
            c.cmd("EXPIRE k 9223372036854775"),
            err("ERR invalid expire time in 'expire' command")
        );
        assert_eq!(
            c.cmd("EXPIRE k -9223372036854776"),
            err("ERR invalid expire time in 'expire' command")
        );
        assert_eq!(
            c.cmd("PEXPIRE k 9223372036854775807"),
            err("ERR invalid expire time in 'pexpire' command")
        );
        assert_eq!(
            c.cmd("EXPIREAT k 9223372036854775807"),
            err("ERR invalid expire time in 'expireat' command")
        );
        assert_eq!(c.cmd("TTL k"), int(-1));
        // The largest absolute time is accepted.
        assert_eq!(c.cmd("PEXPIREAT k 9223372036854775807"), int(1));
        assert_eq!(c.cmd("PEXPIRETIME k"), int(i64::MAX));
        assert_eq!(
            c.cmd("EXPIRE k"),
            err("ERR wrong number of arguments for 'expire' command")
        );
    }

    #[test]
    fn expire_conditions() {
        let mut c = Client::new();
        assert_eq!(c.cmd("EXPIRE nope 10"), int(0));
        assert_eq!(c.cmd("EXPIRE nope 10 xx"), int(0));
        c.cmd("SET k v");
        // A persistent key has an infinite TTL: GT never passes, LT always does.
        assert_eq!(c.cmd("EXPIRE k 100 gt"), int(0));
        assert_eq!(c.cmd("EXPIRE k 100 xx"), int(0));
        assert_eq!(c.cmd("EXPIRE k 100 xx gt"), int(0));
        assert_eq!(c.cmd("TTL k"), int(-1));
        assert_eq!(c.cmd("EXPIRE k 200 lt"), int(1));
        assert_eq!(c.cmd("TTL k"), int(200));
        assert_eq!(c.cmd("EXPIRE k 100 nx"), int(0));
        assert_eq!(c.cmd("EXPIRE k 300 xx"), int(1));
        // The same time is not greater. Checked at the absolute time: a relative one read a
        // millisecond later is a later time, and the check would depend on the clock.
        let Frame::Integer(at) = c.cmd("PEXPIRETIME k") else {
            panic!("PEXPIRETIME is an integer");
        };
        assert_eq!(c.cmd(&format!("PEXPIREAT k {at} gt")), int(0));
        assert_eq!(c.cmd("EXPIRE k 400 gt"), int(1));
        assert_eq!(c.cmd("EXPIRE k 400 lt"), int(0));
        assert_eq!(c.cmd("EXPIRE k 50 LT XX"), int(1));
        assert_eq!(c.cmd("TTL k"), int(50));
        assert_eq!(c.cmd("PERSIST k"), int(1));
        assert_eq!(c.cmd("PERSIST k"), int(0));
        assert_eq!(c.cmd("PERSIST nope"), int(0));
        assert_eq!(c.cmd("TTL k"), int(-1));
        assert_eq!(c.cmd("EXPIRE k 10 nx"), int(1));
        assert_eq!(c.engine.keyspace.db_volatile(0), 1);
    }

    #[test]
    fn expiry_in_the_past_deletes() {
        let mut c = Client::new();
        for line in [
            "EXPIRE k 0",
            "EXPIRE k -1",
            "PEXPIRE k -9223372036854775808",
            "PEXPIREAT k 1",
            "EXPIREAT k 1",
        ] {
            c.cmd("SET k v");
            assert_eq!(c.cmd(line), int(1), "{line}");
            assert_eq!(c.cmd("EXISTS k"), int(0), "{line}");
        }
        // A failing condition keeps the key even when the time is past.
        c.cmd("SET k v");
        assert_eq!(c.cmd("PEXPIREAT k 1 gt"), int(0));
        assert_eq!(c.cmd("EXISTS k"), int(1));
        assert_eq!(c.engine.keyspace.db_volatile(0), 0);
    }

    #[test]
    fn short_expiry_takes_effect() {
        let mut c = Client::new();
        c.cmd("SET k v");
        assert_eq!(c.cmd("PEXPIRE k 5"), int(1));
        std::thread::sleep(std::time::Duration::from_millis(15));
        assert_eq!(c.cmd("EXISTS k"), int(0));
        assert_eq!(c.cmd("TTL k"), int(-2));
        assert_eq!(c.cmd("EXPIRE k 10"), int(0));
        assert_eq!(c.cmd("PERSIST k"), int(0));
    }

    #[test]
    fn ttl_family_reports_and_rounds() {
        let mut c = Client::new();
        for line in [
            "TTL nope",
            "PTTL nope",
            "EXPIRETIME nope",
            "PEXPIRETIME nope",
        ] {
            assert_eq!(c.cmd(line), int(-2), "{line}");
        }
        c.cmd("SET k v");
        for line in ["TTL k", "PTTL k", "EXPIRETIME k", "PEXPIRETIME k"] {
            assert_eq!(c.cmd(line), int(-1), "{line}");
        }
        c.cmd("PEXPIREAT k 1999999999500");
        assert_eq!(c.cmd("EXPIRETIME k"), int(2_000_000_000));
        assert_eq!(c.cmd("PEXPIRETIME k"), int(1_999_999_999_500));
        c.cmd("PEXPIREAT k 1999999999499");
        assert_eq!(c.cmd("EXPIRETIME k"), int(1_999_999_999));
        c.cmd("EXPIREAT k 2000000000");
        assert_eq!(c.cmd("PEXPIRETIME k"), int(2_000_000_000_000));
        // TTL rounds the milliseconds left to the nearest second.
        let at = now_ms() + 100_000;
        c.cmd(&format!("PEXPIREAT k {at}"));
        let ttl = c.int("TTL k");
        assert!(ttl == 100 || ttl == 99, "{ttl}");
        let pttl = c.int("PTTL k");
        assert!((99_000..=100_000).contains(&pttl), "{pttl}");
    }

    #[test]
    fn touch_counts_and_resets_idle_time() {
        let mut c = Client::new();
        c.put(
            0,
            b"k",
            Entry {
                value: Value::Str(crate::StrValue::new(b"v")),
                expires_at: None,
                access: crate::Access::new(now_ms() - 100_000).cell(),
            },
        );
        c.put_expired(0, b"old");
        assert!((100..=101).contains(&c.int("OBJECT IDLETIME k")));
        assert_eq!(c.cmd("TOUCH k k nope old"), int(2));
        assert_eq!(c.cmd("OBJECT IDLETIME k"), int(0));
        assert_eq!(
            c.cmd("TOUCH"),
            err("ERR wrong number of arguments for 'touch' command")
        );
    }

    #[test]
    fn writes_treat_expired_keys_as_missing() {
        let mut c = Client::new();
        c.put_expired(0, b"n");
        assert_eq!(c.cmd("INCRBY n 5"), int(5));
        assert_eq!(c.cmd("TTL n"), int(-1));
        c.put_expired(0, b"s");
        assert_eq!(c.cmd("APPEND s ab"), int(2));
        assert_eq!(c.cmd("DBSIZE"), int(2));
        assert_eq!(c.cmd("GET s"), Frame::bulk("ab"));
    }

    /// With `lazyfree-lazy-expire` a large value whose time came goes to the background
    /// thread whichever path deletes it (EXPIRE with a time past, a lookup, the active cycle),
    /// and without it none does.
    #[test]
    fn expired_large_values_are_freed_in_the_background_with_lazy_expire() {
        let mut c = Client::new();
        let freed = |c: &Client| {
            let counts = &c.engine.keyspace.lazyfree.counts;
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while counts.pending.load(Ordering::Relaxed) > 0 {
                assert!(std::time::Instant::now() < deadline, "never freed");
                std::thread::yield_now();
            }
            counts.freed.load(Ordering::Relaxed)
        };
        // A set of 600 members: a hash table, 600 steps to free.
        let big_set = |c: &mut Client, key: &str| {
            let mut args: Vec<Vec<u8>> = vec![b"SADD".to_vec(), key.as_bytes().to_vec()];
            args.extend((0..600).map(|i| format!("member:{i}").into_bytes()));
            let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            assert_eq!(c.run(&args), Frame::Integer(600));
        };
        let expire_soon = |c: &mut Client, key: &str| {
            assert_eq!(c.cmd(&format!("PEXPIRE {key} 1")), Frame::Integer(1));
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        big_set(&mut c, "inline");
        expire_soon(&mut c, "inline");
        assert_eq!(c.cmd("EXISTS inline"), Frame::Integer(0));
        assert_eq!(freed(&c), 0);
        c.engine
            .keyspace
            .lazyfree
            .on_expire
            .store(true, Ordering::Relaxed);
        big_set(&mut c, "past");
        assert_eq!(c.cmd("PEXPIREAT past 1"), Frame::Integer(1));
        assert_eq!(freed(&c), 1);
        big_set(&mut c, "looked-up");
        expire_soon(&mut c, "looked-up");
        assert_eq!(c.cmd("EXISTS looked-up"), Frame::Integer(0));
        assert_eq!(freed(&c), 2);
        big_set(&mut c, "cycled");
        expire_soon(&mut c, "cycled");
        assert_eq!(c.engine.keyspace.expire_cycle(crate::now_ms(), 10), 1);
        assert_eq!(freed(&c), 3);
    }

    #[test]
    fn mget_and_mset_meet_each_expired_key_once() {
        // MGET and MSET look their keys up twice (`Locked::warm`, then for real): only the
        // real lookups count, expire and notify.
        let mut c = Client::new();
        let seen = record_events(&c, "EAm");
        c.put_expired(0, b"a");
        c.put_expired(0, b"b");
        assert_eq!(c.cmd("SET c 1"), ok());
        seen.lock().clear();
        let hits = |c: &Client| c.engine.stats.keyspace_hits.load(Ordering::Relaxed);
        let misses = |c: &Client| c.engine.stats.keyspace_misses.load(Ordering::Relaxed);
        let before = (hits(&c), misses(&c));
        assert_eq!(
            c.cmd("MGET a c nope"),
            Frame::Array(vec![Frame::NullBulk, Frame::bulk("1"), Frame::NullBulk])
        );
        assert_eq!((hits(&c), misses(&c)), (before.0 + 1, before.1 + 2));
        // A read holds a shared lock: it reclaims what it found expired once it is done.
        assert_eq!(
            *seen.lock(),
            ["0 keymiss a", "0 keymiss nope", "0 expired a"]
        );
        seen.lock().clear();
        assert_eq!(c.cmd("MSET b 2 d 3"), ok());
        assert_eq!(*seen.lock(), ["0 expired b", "0 set b", "0 set d"]);
        assert_eq!(c.cmd("DBSIZE"), int(3));
        assert_eq!(c.engine.keyspace.expired_keys.load(Ordering::Relaxed), 2);
    }

    /// Records the keyevent notifications of `classes` from now on as `"<db> <event> <key>"`.
    /// Enables the keyspace-event `classes` on `c`'s engine and records each keyevent
    /// notification as `"<db> <event> <key>"`; the log fills as commands run.
    pub(crate) fn record_events(
        c: &Client,
        classes: &str,
    ) -> std::sync::Arc<parking_lot::Mutex<Vec<String>>> {
        let seen = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
        let log = seen.clone();
        let events = &c.engine.keyspace.events;
        events.set_classes(crate::notify::parse_classes(classes).expect("valid"));
        events.set_sink(Box::new(move |channel, message| {
            let channel = String::from_utf8_lossy(channel);
            let (db, event) = channel
                .trim_start_matches("__keyevent@")
                .split_once("__:")
                .expect("a keyevent channel");
            let key = String::from_utf8_lossy(message);
            log.lock().push(format!("{db} {event} {key}"));
        }));
        seen
    }

    /// Runs each command and checks the events of `classes` it published, in order.
    fn check_events(c: &mut Client, classes: &str, cases: &[(&str, &[&str])]) {
        let seen = record_events(c, classes);
        for (line, expected) in cases {
            c.cmd(line);
            let published = std::mem::take(&mut *seen.lock());
            assert_eq!(published, *expected, "{line}");
        }
    }

    #[test]
    fn key_commands_publish_redis_events() {
        let mut c = Client::new();
        for key in ["old1", "old2", "old3", "old4", "old5"] {
            c.put_expired(0, key.as_bytes());
        }
        check_events(
            &mut c,
            "EA",
            &[
                ("MSET a 1 b 2", &["0 set a", "0 set b"]),
                ("DEL a nope b a", &["0 del a", "0 del b"]),
                ("UNLINK nope", &[]),
                ("SET k v", &["0 set k"]),
                ("EXPIRE nope 10", &[]),
                ("EXPIRE k 100", &["0 expire k"]),
                ("EXPIRE k 100 NX", &[]),
                ("PEXPIREAT k 4102444800000 GT", &["0 expire k"]),
                ("PERSIST k", &["0 persist k"]),
                ("PERSIST k", &[]),
                ("EXPIRE k 0", &["0 del k"]),
                ("SET k v", &["0 set k"]),
                ("RENAME k k", &[]),
                ("RENAME k r", &["0 rename_from k", "0 rename_to r"]),
                ("SET k v", &["0 set k"]),
                ("RENAMENX k r", &[]),
                ("RENAMENX k r2", &["0 rename_from k", "0 rename_to r2"]),
                ("MOVE r 1", &["0 move_from r", "1 move_to r"]),
                ("MOVE r2 0", &[]),
                ("COPY r2 c", &["0 copy_to c"]),
                ("COPY r2 c", &[]),
                ("COPY r2 c DB 1 REPLACE", &["1 copy_to c"]),
                ("COPY nope c", &[]),
                // A write command that finds an expired key deletes it, even to do nothing.
                ("EXPIRE old1 100", &["0 expired old1"]),
                ("PERSIST old2", &["0 expired old2"]),
                ("RENAME old3 x", &["0 expired old3"]),
                ("MOVE old4 1", &["0 expired old4"]),
                ("COPY old5 x", &["0 expired old5"]),
            ],
        );
    }

    #[test]
    fn string_and_sort_commands_publish_redis_events() {
        let mut c = Client::new();
        for key in [
            "old1", "old2", "old3", "old4", "old5", "old6", "old7", "old8",
        ] {
            c.put_expired(0, key.as_bytes());
        }
        check_events(
            &mut c,
            "EA",
            &[
                ("SET s v", &["0 set s"]),
                ("SET s v NX", &[]),
                ("SET nope v XX", &[]),
                ("SET s v XX EX 100", &["0 set s", "0 expire s"]),
                ("SET s v KEEPTTL GET", &["0 set s"]),
                ("SET s v EX 0", &[]),
                ("SETNX s v", &[]),
                ("SETNX n v", &["0 set n"]),
                ("SETEX n 10 v", &["0 set n", "0 expire n"]),
                ("PSETEX n 10000 v", &["0 set n", "0 expire n"]),
                ("GETSET n w", &["0 set n"]),
                ("MSETNX n 1 m 2", &[]),
                ("MSETNX m 1 o 2", &["0 set m", "0 set o"]),
                ("GETEX n", &[]),
                ("GETEX n PERSIST", &[]),
                ("GETEX n EX 100", &["0 expire n"]),
                ("GETEX n PERSIST", &["0 persist n"]),
                ("GETEX n PERSIST", &[]),
                ("GETEX n PXAT 1", &["0 del n"]),
                ("GETDEL m", &["0 del m"]),
                ("GETDEL m", &[]),
                ("APPEND a x", &["0 append a"]),
                ("SETRANGE a 0 y", &["0 setrange a"]),
                ("INCR i", &["0 incrby i"]),
                ("DECRBY i 5", &["0 incrby i"]),
                ("INCR a", &[]),
                ("INCRBYFLOAT i 1.5", &["0 incrbyfloat i"]),
                ("RPUSH l 2 1", &["0 rpush l"]),
                ("SORT l STORE d", &["0 sortstore d"]),
                ("SORT l LIMIT 0 0 STORE d", &["0 del d"]),
                ("SORT l LIMIT 0 0 STORE d", &[]),
                ("SET old1 v XX", &["0 expired old1"]),
                ("GETDEL old2", &["0 expired old2"]),
                ("MSETNX old3 1 o 2", &["0 expired old3"]),
                ("GETEX old4 EX 100", &["0 expired old4"]),
                ("INCRBYFLOAT old5 abc", &["0 expired old5"]),
                ("SORT old6 STORE d", &["0 expired old6"]),
                ("SET d x", &["0 set d"]),
                ("SORT old7 STORE d", &["0 expired old7", "0 del d"]),
                ("INCR old8", &["0 expired old8", "0 incrby old8"]),
            ],
        );
    }

    #[test]
    fn replacing_a_destination_adds_the_key_anew() {
        let mut c = Client::new();
        c.cmd("MSET a 1 b 2");
        check_events(
            &mut c,
            "Egn",
            &[
                (
                    "RENAME a b",
                    &["0 new b", "0 rename_from a", "0 rename_to b"],
                ),
                (
                    "RENAME b c",
                    &["0 new c", "0 rename_from b", "0 rename_to c"],
                ),
                ("COPY c d", &["0 new d", "0 copy_to d"]),
                ("COPY c d REPLACE", &["0 new d", "0 copy_to d"]),
                ("COPY c d DB 2 REPLACE", &["2 new d", "2 copy_to d"]),
                ("MOVE c 1", &["1 new c", "0 move_from c", "1 move_to c"]),
            ],
        );
    }

    #[test]
    fn changes_fail_watches_and_no_ops_do_not() {
        let cases = [
            ("SET k v NX", false),
            ("SET k v XX", true),
            ("EXPIRE k 100", true),
            ("EXPIRE k 100 XX", false),
            ("PERSIST k", false),
            ("DEL other", false),
            ("DEL k", true),
            ("RENAME k other", true),
            ("RENAME other k", true),
            ("MOVE k 1", true),
            ("COPY other k", false),
            ("COPY other k REPLACE", true),
            ("COPY k other", false),
            ("INCRBYFLOAT k 1", false),
            ("APPEND k x", true),
            ("GETEX k PX 100000", true),
            ("GETDEL k", true),
            ("SORT l STORE k", true),
        ];
        for (line, fails) in cases {
            let mut c = Client::new();
            c.cmd("MSET k v other o");
            c.cmd("RPUSH l 1");
            c.cmd("WATCH k");
            c.cmd(line);
            let mut plan = LockPlan {
                write: false,
                shards: ShardList::new(),
            };
            c.engine.watched_shards(&c.session, &mut plan);
            let locked = c.engine.keyspace.lock(plan);
            let failed = c.engine.watch_failed(&c.session, &locked, now_ms());
            assert_eq!(failed, fails, "{line}");
        }
    }

    #[test]
    fn reads_reset_idle_time_but_inspection_does_not() {
        let mut c = Client::new();
        c.put(
            0,
            b"k",
            Entry {
                value: Value::Str(crate::StrValue::new(b"v")),
                expires_at: None,
                access: crate::Access::new(now_ms() - 100_000).cell(),
            },
        );
        c.cmd("TYPE k");
        c.cmd("EXISTS k");
        c.cmd("TTL k");
        assert!((100..=101).contains(&c.int("OBJECT IDLETIME k")));
        c.cmd("GET k");
        assert_eq!(c.cmd("OBJECT IDLETIME k"), int(0));
    }

    #[test]
    fn object_subcommands() {
        let mut c = Client::new();
        for (value, encoding, refcount) in [
            ("0", "int", i64::from(i32::MAX)),
            ("123", "int", i64::from(i32::MAX)),
            ("9999", "int", i64::from(i32::MAX)),
            ("10000", "int", 1),
            ("-1", "int", 1),
            ("-9223372036854775808", "int", 1),
            ("+1", "embstr", 1),
            ("01", "embstr", 1),
            ("12345678901234567890", "embstr", 1),
            ("abc", "embstr", 1),
        ] {
            c.cmd(&format!("SET k {value}"));
            assert_eq!(c.cmd("OBJECT ENCODING k"), bulk(encoding), "{value}");
            assert_eq!(c.cmd("OBJECT REFCOUNT k"), int(refcount), "{value}");
        }
        c.run(&[b"SET", b"k", &[b'x'; 45]]);
        assert_eq!(c.cmd("OBJECT ENCODING k"), bulk("raw"));
        assert_eq!(c.cmd("object idletime k"), int(0));
        assert_eq!(
            c.cmd("OBJECT FREQ k"),
            err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
        );
        for sub in ["ENCODING", "FREQ", "IDLETIME", "REFCOUNT"] {
            assert_eq!(
                c.cmd(&format!("OBJECT {sub} nope")),
                Frame::NullBulk,
                "{sub}"
            );
        }
        let Frame::Array(help) = c.cmd("OBJECT HELP") else {
            panic!()
        };
        assert_eq!(help.len(), 15);
        assert_eq!(
            help[0],
            Frame::simple("OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
        );
        assert_eq!(help[14], Frame::simple("    Prints this help."));
        assert_eq!(
            c.cmd("OBJECT foo k"),
            err("ERR unknown subcommand 'foo'. Try OBJECT HELP.")
        );
        assert_eq!(
            c.cmd("OBJECT"),
            err("ERR wrong number of arguments for 'object' command")
        );
        assert_eq!(
            c.cmd("OBJECT encoding k x"),
            err("ERR wrong number of arguments for 'object|encoding' command")
        );
        assert_eq!(
            c.cmd("OBJECT help x"),
            err("ERR wrong number of arguments for 'object|help' command")
        );
    }

    /// The facts `COMMAND INFO` reports for each row, as Redis 7.0.15 reports them: name,
    /// arity, flags, first/last/step, ACL categories, tips.
    const REDIS_INFO: &[&str] = &[
        "copy -3 write,denyoom 1 2 1 @keyspace,@write,@slow",
        "dbsize 1 readonly,fast 0 0 0 @keyspace,@read,@fast request_policy:all_shards,response_policy:agg_sum",
        "del -2 write 1 -1 1 @keyspace,@write,@slow request_policy:multi_shard,response_policy:agg_sum",
        "dump 2 readonly 1 1 1 @keyspace,@read,@slow nondeterministic_output",
        "exists -2 readonly,fast 1 -1 1 @keyspace,@read,@fast request_policy:multi_shard,response_policy:agg_sum",
        "expire -3 write,fast 1 1 1 @keyspace,@write,@fast",
        "expireat -3 write,fast 1 1 1 @keyspace,@write,@fast",
        "expiretime 2 readonly,fast 1 1 1 @keyspace,@read,@fast",
        "flushall -1 write 0 0 0 @keyspace,@write,@slow,@dangerous request_policy:all_shards,response_policy:all_succeeded",
        "flushdb -1 write 0 0 0 @keyspace,@write,@slow,@dangerous request_policy:all_shards,response_policy:all_succeeded",
        "keys 2 readonly 0 0 0 @keyspace,@read,@slow,@dangerous request_policy:all_shards,nondeterministic_output_order",
        "move 3 write,fast 1 1 1 @keyspace,@write,@fast",
        "object -2 - 0 0 0 @slow",
        "object|encoding 3 readonly 2 2 1 @keyspace,@read,@slow nondeterministic_output",
        "object|freq 3 readonly 2 2 1 @keyspace,@read,@slow nondeterministic_output",
        "object|help 2 loading,stale 0 0 0 @keyspace,@slow",
        "object|idletime 3 readonly 2 2 1 @keyspace,@read,@slow nondeterministic_output",
        "object|refcount 3 readonly 2 2 1 @keyspace,@read,@slow nondeterministic_output",
        "persist 2 write,fast 1 1 1 @keyspace,@write,@fast",
        "pexpire -3 write,fast 1 1 1 @keyspace,@write,@fast",
        "pexpireat -3 write,fast 1 1 1 @keyspace,@write,@fast",
        "pexpiretime 2 readonly,fast 1 1 1 @keyspace,@read,@fast",
        "pttl 2 readonly,fast 1 1 1 @keyspace,@read,@fast nondeterministic_output",
        "randomkey 1 readonly 0 0 0 @keyspace,@read,@slow request_policy:all_shards,nondeterministic_output",
        "rename 3 write 1 2 1 @keyspace,@write,@slow",
        "renamenx 3 write,fast 1 2 1 @keyspace,@write,@fast",
        "restore -4 write,denyoom 1 1 1 @keyspace,@write,@slow,@dangerous",
        "scan -2 readonly 0 0 0 @keyspace,@read,@slow nondeterministic_output,request_policy:special",
        "swapdb 3 write,fast 0 0 0 @keyspace,@write,@fast,@dangerous",
        "touch -2 readonly,fast 1 -1 1 @keyspace,@read,@fast request_policy:multi_shard,response_policy:agg_sum",
        "ttl 2 readonly,fast 1 1 1 @keyspace,@read,@fast nondeterministic_output",
        "type 2 readonly,fast 1 1 1 @keyspace,@read,@fast",
        "unlink -2 write,fast 1 -1 1 @keyspace,@write,@fast request_policy:multi_shard,response_policy:agg_sum",
    ];

    /// One row in the format of [`REDIS_INFO`].
    fn info_line(spec: &CommandSpec, parent: Option<&CommandSpec>) -> String {
        let name = match parent {
            Some(p) => format!("{}|{}", p.name, spec.name),
            None => spec.name.to_string(),
        };
        let flags: Vec<_> = spec.flags.names().collect();
        let flags = if flags.is_empty() {
            "-".to_string()
        } else {
            flags.join(",")
        };
        let acl: Vec<String> = spec
            .acl_categories()
            .iter()
            .map(|c| format!("@{c}"))
            .collect();
        let line = format!(
            "{name} {} {flags} {} {} {} {}",
            spec.arity,
            spec.keys.first,
            spec.keys.last,
            spec.keys.step,
            acl.join(",")
        );
        if spec.tips.is_empty() {
            line
        } else {
            format!("{line} {}", spec.tips.join(","))
        }
    }

    #[test]
    fn rows_match_redis_command_info() {
        let mut ours = Vec::new();
        for spec in COMMANDS {
            ours.push(info_line(spec, None));
            ours.extend(
                spec.subcommands
                    .iter()
                    .map(|sub| info_line(sub, Some(spec))),
            );
        }
        assert_eq!(ours, REDIS_INFO);
        for spec in COMMANDS.iter().chain(OBJECT_SUBCOMMANDS) {
            assert!(
                !spec.summary.is_empty() && !spec.since.is_empty() && !spec.complexity.is_empty(),
                "{}",
                spec.name
            );
        }
    }
}
