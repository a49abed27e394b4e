//! `DEBUG`: the subcommands kv implements (HELP, OBJECT, SET-ACTIVE-EXPIRE, SLEEP), and the
//! `enable-debug-command` gate in front of them.

use std::sync::atomic::Ordering;
use std::time::Duration;

use kv_engine::{CommandError, LockPlan, Value};

use crate::connection::Connection;

/// Redis's refusal when `enable-debug-command` does not allow this client.
pub const NOT_ALLOWED: &str = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";

/// Redis's LRU clock counts seconds in 24 bits.
const LRU_CLOCK_MAX: u64 = (1 << 24) - 1;

/// Whether `enable-debug-command` lets this client run DEBUG: `yes`, or `local` for a client
/// connected from 127.0.0.1 or ::1 (exactly those, as Redis checks).
pub fn allowed(conn: &Connection) -> bool {
    enabled_for(conn, "enable-debug-command")
}

/// Whether a `no | yes | local` parameter (`enable-debug-command`,
/// `enable-protected-configs`) lets `conn` in: `local` admits loopback clients only.
pub fn enabled_for(conn: &Connection, param: &str) -> bool {
    match conn.shared.config.get(param).as_str() {
        "yes" => true,
        "local" => conn.handle.addr.is_local(),
        _ => false,
    }
}

/// `DEBUG <subcommand> ...`, with `args` the whole command.
pub fn command(conn: &mut Connection, args: &[&[u8]]) -> Result<(), CommandError> {
    let sub = args[1].to_ascii_lowercase();
    match (sub.as_slice(), args.len()) {
        (b"help", 2) => crate::admin::help(conn, HELP),
        (b"object", 3) => object(conn, args[2])?,
        (b"digest", 2) | (b"digest-value", _) => {
            let shared = conn.shared.clone();
            let mut plan = LockPlan::default();
            plan_digest(&shared.engine.keyspace, conn.session.db, args, &mut plan);
            let locked = shared.engine.keyspace.lock(plan);
            digest_under(conn, args, &locked);
        }
        (b"reload", _) => {
            let shared = conn.shared.clone();
            crate::persistence::reload(&shared, &args[2..], conn.in_exec)?;
            conn.reply.ok();
        }
        (b"loadaof", 2) => {
            if conn.in_exec {
                return Err(CommandError::msg(
                    "ERR DEBUG LOADAOF is not allowed inside a transaction",
                ));
            }
            if conn.shared.aof.is_rewriting() {
                return Err(CommandError::msg(
                    "ERR Background append only file rewriting already in progress",
                ));
            }
            if let Err(e) = crate::aof::load_again(&conn.shared) {
                tracing::warn!("DEBUG LOADAOF failed: {e:#}");
                return Err(CommandError::msg(
                    "ERR Error trying to load the AOF files, check server logs.",
                ));
            }
            conn.reply.ok();
        }
        (b"populate", 3..=5) => populate(conn, &args[2..], None)?,
        (b"sleep", 3) => sleep(conn, args[2]),
        (b"set-active-expire", 3) => {
            let on = atoi(args[2]) != 0;
            conn.shared.active_expire.store(on, Ordering::Relaxed);
            conn.reply.ok();
        }
        _ => return Err(crate::admin::subcommand_syntax_error(args)),
    }
    Ok(())
}

/// `DEBUG SLEEP seconds`: replies `+OK` after the pause.
///
/// **Deliberate difference from Redis:** Redis stops the whole server for the pause; kv holds
/// only this client (its connection task awaits a timer, no worker thread blocks), so other
/// clients go on being served. The pause still counts as the command's duration, so it shows in
/// the slow log, the latency monitor and INFO commandstats as in Redis. Inside EXEC it pauses
/// the transaction itself (`multi::run_server_command`).
fn sleep(conn: &mut Connection, seconds: &[u8]) {
    // Redis reads the number with strtod and ignores what cannot be read: garbage is 0.
    let seconds = strtod(seconds);
    let pause = Duration::try_from_secs_f64(seconds).unwrap_or(Duration::ZERO);
    conn.sleep = Some(pause);
    conn.reply.ok();
}

/// `DEBUG OBJECT key`: Redis's description of the key's value, with kv's facts: the entry's
/// address, the encoding `OBJECT ENCODING` reports, the length of the value in kv's DUMP
/// encoding (Redis reports its RDB encoding), and the access clock. Like Redis, it reads the key
/// without touching it and without counting a keyspace hit or miss.
fn object(conn: &mut Connection, key: &[u8]) -> Result<(), CommandError> {
    let shared = conn.shared.clone();
    let keyspace = &shared.engine.keyspace;
    let db = conn.session.db;
    let locked = keyspace.lock(LockPlan {
        write: false,
        shards: kv_engine::ShardList::from_elem((db, keyspace.shard_of(key)), 1),
    });
    object_under(conn, key, &locked)
}

/// Adds to `plan` the shards `DEBUG DIGEST` (every shard, shared) or `DEBUG DIGEST-VALUE`
/// (its keys' shards in database `db`) reads; nothing for other requests.
pub fn plan_digest(
    keyspace: &kv_engine::Keyspace,
    db: usize,
    args: &[&[u8]],
    plan: &mut LockPlan,
) -> bool {
    let sub = args.get(1).map(|s| s.to_ascii_lowercase());
    match (sub.as_deref(), args.len()) {
        (Some(b"digest"), 2) => keyspace.plan_everything(plan),
        (Some(b"digest-value"), _) => plan
            .shards
            .extend(args[2..].iter().map(|key| (db, keyspace.shard_of(key)))),
        _ => return false,
    }
    true
}

/// `DEBUG DIGEST` and `DEBUG DIGEST-VALUE key ...`, with the shards [`plan_digest`] names
/// held by `locked`. Like Redis, status replies: the dataset's digest, or each key's (zeros
/// for a missing key).
pub fn digest_under(conn: &mut Connection, args: &[&[u8]], locked: &kv_engine::Locked<'_>) {
    use kv_engine::digest;
    let now = kv_engine::now_ms();
    if args.len() == 2 {
        let text = digest::hex(&digest::dataset(locked, now));
        conn.reply.simple(&text);
        return;
    }
    conn.reply.array(args.len() - 2);
    for key in &args[2..] {
        let mut value = [0u8; 20];
        if let Some(entry) = locked.entry_raw(conn.session.db, key) {
            digest::mix_entry(&mut value, entry, now);
        }
        conn.reply.simple(&digest::hex(&value));
    }
}

/// `DEBUG POPULATE count [prefix] [size]`: `count` string keys `prefix:N` (Redis's defaults:
/// prefix `key`, value `value:N`, or exactly `size` bytes of it, zero-padded), skipping names
/// that exist. Like Redis it neither notifies nor counts as changes. Each key is written
/// under its own shard's lock, or, inside EXEC, under the transaction's (`under`, which holds
/// the whole database: see [`plan_populate`]), as taking a lock it holds would wait forever.
pub fn populate(
    conn: &mut Connection,
    args: &[&[u8]],
    mut under: Option<&mut kv_engine::Locked<'_>>,
) -> Result<(), CommandError> {
    let positive = |arg: &&[u8]| {
        kv_resp::parse_i64(arg)
            .filter(|n| *n >= 0)
            .ok_or_else(|| CommandError::msg("ERR value is out of range, must be positive"))
    };
    let count = positive(&args[0])?;
    let prefix: &[u8] = args.get(1).map_or(b"key", |p| p);
    let size = args.get(2).map(positive).transpose()?.unwrap_or(0) as usize;
    let keyspace = &conn.shared.engine.keyspace;
    let db = conn.session.db;
    let now = kv_engine::now_ms();
    let mut key = Vec::new();
    for n in 0..count {
        key.clear();
        key.extend_from_slice(prefix);
        key.push(b':');
        key.extend_from_slice(n.to_string().as_bytes());
        let mut value = format!("value:{n}").into_bytes();
        if size > 0 {
            value.resize(size, 0);
        }
        match under.as_deref_mut() {
            Some(locked) => insert_absent(locked, db, &key, &value, now)?,
            None => {
                let mut locked = keyspace.lock(LockPlan {
                    write: true,
                    shards: kv_engine::ShardList::from_elem((db, keyspace.shard_of(&key)), 1),
                });
                insert_absent(&mut locked, db, &key, &value, now)?;
            }
        }
    }
    conn.reply.ok();
    Ok(())
}

/// Writes the string `value` at `key` of `db` unless a live key is there.
fn insert_absent(
    locked: &mut kv_engine::Locked<'_>,
    db: usize,
    key: &[u8],
    value: &[u8],
    now: u64,
) -> Result<(), CommandError> {
    if locked.get(db, key, now)?.is_none() {
        let entry = kv_engine::Entry::new(Value::Str(kv_engine::StrValue::new(value)), now);
        locked.insert(db, key, entry, now)?;
    }
    Ok(())
}

/// Whether `args` (a whole `DEBUG ...` command) is a DEBUG POPULATE.
pub fn is_populate(args: &[&[u8]]) -> bool {
    args.len() >= 3 && args[1].eq_ignore_ascii_case(b"populate")
}

/// If `args` is a DEBUG POPULATE, adds what it writes to `plan`: every shard of `db`,
/// exclusively (its keys are known only by count).
pub fn plan_populate(
    keyspace: &kv_engine::Keyspace,
    db: usize,
    args: &[&[u8]],
    plan: &mut LockPlan,
) {
    if is_populate(args) {
        plan.write = true;
        keyspace.plan_whole_db(plan, db);
    }
}

/// The key of a `DEBUG OBJECT key` request, if `args` is one.
pub fn object_key<'a>(args: &[&'a [u8]]) -> Option<&'a [u8]> {
    match args {
        [_, sub, key] if sub.eq_ignore_ascii_case(b"object") => Some(key),
        _ => None,
    }
}

/// `DEBUG OBJECT key` with `key`'s shard already held by `locked` (inside EXEC).
pub fn object_under(
    conn: &mut Connection,
    key: &[u8],
    locked: &kv_engine::Locked<'_>,
) -> Result<(), CommandError> {
    let db = conn.session.db;
    let now = kv_engine::now_ms();
    let Some(entry) = locked.get(db, key, now)? else {
        return Err(CommandError::NoSuchKey);
    };
    let refcount = entry.value.refcount();
    let idle = entry.access().idle_seconds(now);
    let lru = (now / 1000).saturating_sub(idle) & LRU_CLOCK_MAX;
    let line = format!(
        "Value at:{entry:p} refcount:{refcount} encoding:{} serializedlength:{} lru:{lru} lru_seconds_idle:{idle}",
        entry.value.encoding(),
        serialized_length(&entry.value),
    );
    conn.reply.simple(&line);
    Ok(())
}

/// The length of the value's own encoding in a DUMP payload: without the type tag, the
/// version and the checksum, as Redis's `serializedlength` leaves out its type byte.
fn serialized_length(value: &Value) -> usize {
    const TAG_AND_FOOTER: usize = 1 + 2 + 8;
    kv_engine::dump::serialize(value)
        .len()
        .saturating_sub(TAG_AND_FOOTER)
}

/// C's `atoi`: optional blanks and sign, then digits as far as they go; 0 if there are none.
fn atoi(text: &[u8]) -> i64 {
    let text = trim_leading_space(text);
    let (negative, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let mut n: i64 = 0;
    for &d in digits.iter().take_while(|d| d.is_ascii_digit()) {
        n = n.wrapping_mul(10).wrapping_add(i64::from(d - b'0'));
    }
    if negative {
        n.wrapping_neg()
    } else {
        n
    }
}

/// C's `strtod`: the longest prefix that reads as a number, 0 if none does.
fn strtod(text: &[u8]) -> f64 {
    let text = trim_leading_space(text);
    let end = number_prefix(text);
    std::str::from_utf8(&text[..end])
        .ok()
        .and_then(|number| number.parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// The length of the longest prefix of `text` that is a decimal floating-point number
/// (`[+-]digits[.digits][e[+-]digits]`) or an infinity or NaN word; 0 if there is none.
fn number_prefix(text: &[u8]) -> usize {
    let digits = |from: usize| {
        text[from.min(text.len())..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let sign = usize::from(matches!(text.first(), Some(b'+' | b'-')));
    for word in ["infinity", "inf", "nan"] {
        let end = sign + word.len();
        if text.len() >= end && text[sign..end].eq_ignore_ascii_case(word.as_bytes()) {
            return end;
        }
    }
    let whole = digits(sign);
    let mut end = sign + whole;
    let mut fraction = 0;
    if text.get(end) == Some(&b'.') {
        fraction = digits(end + 1);
        end += 1 + fraction;
    }
    if whole + fraction == 0 {
        return 0;
    }
    if matches!(text.get(end), Some(b'e' | b'E')) {
        let exp_sign = usize::from(matches!(text.get(end + 1), Some(b'+' | b'-')));
        let exp_digits = digits(end + 1 + exp_sign);
        if exp_digits > 0 {
            end += 1 + exp_sign + exp_digits;
        }
    }
    end
}

fn trim_leading_space(text: &[u8]) -> &[u8] {
    let start = text
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(text.len());
    &text[start..]
}

/// `DEBUG HELP`: Redis's text for the subcommands kv implements.
const HELP: &[&str] = &[
    "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DIGEST",
    "    Output a hex signature of the whole dataset (the same data gives the same",
    "    signature, whatever order it was written in).",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the value of each key given.",
    "LOADAOF",
    "    Flush the AOF buffers on disk and reload the AOF in memory.",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys named <prefix>:<num> (prefix 'key' by default)",
    "    holding 'value:<num>', or <size> bytes of it padded with zeros. Keys that",
    "    exist are left alone.",
    "RELOAD [MERGE] [NOFLUSH] [NOSAVE]",
    "    Save the snapshot, empty the dataset and load the snapshot back, as one step.",
    "    NOSAVE loads the existing snapshot file; NOFLUSH keeps the current keys",
    "    (with MERGE, keys in the file replace them).",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "HELP",
    "    Prints this help.",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_as_c_reads_them() {
        assert_eq!(atoi(b"1"), 1);
        assert_eq!(atoi(b" 12abc"), 12);
        assert_eq!(atoi(b"abc"), 0);
        assert_eq!(atoi(b"-3"), -3);
        assert_eq!(strtod(b"0.01"), 0.01);
        assert_eq!(strtod(b"1.5xyz"), 1.5);
        assert_eq!(strtod(b"abc"), 0.0);
        assert_eq!(strtod(b"-1"), -1.0);
        assert_eq!(strtod(b" 2e-3"), 0.002);
        assert_eq!(strtod(b"3e"), 3.0);
        assert_eq!(strtod(b".5."), 0.5);
        assert_eq!(strtod(b"-."), 0.0);
        assert!(strtod(b"INFINITE").is_infinite());
    }
}
