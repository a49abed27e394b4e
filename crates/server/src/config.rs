//! Configuration: one table of parameters, read from a redis.conf-style file and the command
//! line, changed at run time by `CONFIG SET`, reported by `CONFIG GET`, written back by
//! `CONFIG REWRITE`.
//!
//! Every parameter kv accepts is a row of [`PARAMS`]. Rows kv acts on say so in their doc;
//! the encoding thresholds of hashes, sets and sorted sets (`hash-max-listpack-*`,
//! `set-max-intset-entries`, `zset-max-listpack-*`, and their `ziplist` aliases) steer kv's
//! small forms, through [`apply_engine_settings`]; the other encoding-tuning rows (lists,
//! streams, HyperLogLogs) are accepted and reported as Redis does, so tools that set them keep
//! working. Parameters for
//! features kv does not have yet (snapshots, AOF, replication) accept only their "off" value, so
//! a configuration that asks for them fails loudly instead of being silently ignored.

use std::collections::HashMap;
use std::path::PathBuf;

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

/// How a parameter's value is checked and written back.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// `yes` or `no`.
    Bool,
    /// An integer within `min..=max`.
    Int {
        /// Smallest accepted value.
        min: i64,
        /// Largest accepted value.
        max: i64,
    },
    /// A byte count with an optional unit (`1gb`, `512mb`, `64k`) within `min..=max`.
    Memory {
        /// Smallest accepted value.
        min: i64,
        /// Largest accepted value.
        max: i64,
    },
    /// Free text.
    Text,
    /// One of a fixed set of words.
    Enum(&'static [&'static str]),
    /// Checked by a function returning the canonical value or the reason it is refused.
    Custom(fn(&str) -> Result<String, String>),
    /// Checked by a function that also receives the current value, which a new value may
    /// change only in part (`client-output-buffer-limit pubsub ...` leaves the other classes).
    Merge(fn(&str, &str) -> Result<String, String>),
    /// Checked like [`Kind::Custom`], and shown (CONFIG GET, CONFIG REWRITE) through the
    /// second function: for a value whose stored form must say more than Redis shows.
    Shown(fn(&str) -> Result<String, String>, fn(&str) -> String),
}

/// One configuration parameter.
#[derive(Debug)]
pub struct Param {
    /// Canonical name.
    pub name: &'static str,
    /// Older names that read and write the same value (`slaveof` for `replicaof`).
    pub aliases: &'static [&'static str],
    /// Value when nothing sets it, in canonical form.
    pub default: &'static str,
    /// Validation.
    pub kind: Kind,
    /// Only settable at start-up.
    pub immutable: bool,
}

macro_rules! param {
    ($name:literal, $default:literal, $kind:expr) => {
        Param {
            name: $name,
            aliases: &[],
            default: $default,
            kind: $kind,
            immutable: false,
        }
    };
    ($name:literal, $default:literal, $kind:expr, immutable) => {
        Param {
            name: $name,
            aliases: &[],
            default: $default,
            kind: $kind,
            immutable: true,
        }
    };
    ($name:literal, $default:literal, $kind:expr, aliases: $aliases:expr) => {
        Param {
            name: $name,
            aliases: $aliases,
            default: $default,
            kind: $kind,
            immutable: false,
        }
    };
}

const INT: Kind = Kind::Int {
    min: 0,
    max: i32::MAX as i64,
};
const MEMORY: Kind = Kind::Memory {
    min: 0,
    max: i64::MAX,
};
/// A count of entries, as Redis's `size_t` integer settings (the `*-max-*-entries` thresholds).
const ENTRIES: Kind = Kind::Int {
    min: 0,
    max: i64::MAX,
};
const LOG_LEVELS: &[&str] = &["debug", "verbose", "notice", "warning"];
const EVICTION: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];

/// Every parameter kv accepts.
pub static PARAMS: &[Param] = &[
    // Network and clients: acted on by the listener and connections.
    param!("port", "6379", Kind::Int { min: 0, max: 65535 }),
    param!("bind", "127.0.0.1 -::1", Kind::Text),
    param!("unixsocket", "", Kind::Text, immutable),
    param!(
        "unixsocketperm",
        "0",
        Kind::Custom(octal_permissions),
        immutable
    ),
    param!("protected-mode", "yes", Kind::Bool),
    param!("requirepass", "", Kind::Text),
    param!(
        "maxclients",
        "10000",
        Kind::Int {
            min: 1,
            max: u32::MAX as i64
        }
    ),
    param!("timeout", "0", INT),
    param!("tcp-keepalive", "300", INT),
    param!("tcp-backlog", "511", INT, immutable),
    param!(
        "client-query-buffer-limit",
        "1073741824",
        Kind::Memory {
            min: 1024 * 1024,
            max: i64::MAX
        }
    ),
    param!(
        "proto-max-bulk-len",
        "536870912",
        Kind::Memory {
            min: 1024 * 1024,
            max: i64::MAX
        }
    ),
    param!(
        "databases",
        "16",
        Kind::Int {
            min: 1,
            max: i32::MAX as i64
        },
        immutable
    ),
    param!(
        "enable-debug-command",
        "no",
        Kind::Enum(&["no", "yes", "local"]),
        immutable
    ),
    param!("loglevel", "notice", Kind::Enum(LOG_LEVELS)),
    param!("logfile", "", Kind::Text, immutable),
    param!("daemonize", "no", Kind::Bool, immutable),
    param!("pidfile", "", Kind::Text, immutable),
    param!("dir", "", Kind::Custom(directory)),
    param!(
        "enable-protected-configs",
        "no",
        Kind::Enum(&["no", "yes", "local"]),
        immutable
    ),
    param!(
        "hz",
        "10",
        Kind::Int {
            min: 1,
            max: i32::MAX as i64
        }
    ),
    param!(
        "slowlog-log-slower-than",
        "10000",
        Kind::Int {
            min: -1,
            max: i64::MAX
        }
    ),
    param!(
        "slowlog-max-len",
        "128",
        Kind::Int {
            min: 0,
            max: i64::MAX
        }
    ),
    param!(
        "latency-monitor-threshold",
        "0",
        Kind::Int {
            min: 0,
            max: i64::MAX
        }
    ),
    param!("latency-tracking", "yes", Kind::Bool),
    param!(
        "latency-tracking-info-percentiles",
        "50 99 99.9",
        Kind::Custom(percentile_list)
    ),
    param!("maxmemory", "0", MEMORY),
    param!(
        "maxmemory-clients",
        "0",
        Kind::Custom(check_memory_or_percent)
    ),
    param!("maxmemory-policy", "noeviction", Kind::Enum(EVICTION)),
    param!(
        "maxmemory-samples",
        "5",
        Kind::Int {
            min: 1,
            max: i32::MAX as i64
        }
    ),
    param!(
        "maxmemory-eviction-tenacity",
        "10",
        Kind::Int { min: 0, max: 100 }
    ),
    param!("lfu-log-factor", "10", INT),
    param!("lfu-decay-time", "1", INT),
    param!("active-expire-effort", "1", Kind::Int { min: 1, max: 10 }),
    // Persistence (`persistence.rs`). Redis 7.0's save points apply with or without a config
    // file.
    param!("save", "3600 1 300 100 60 10000", Kind::Custom(save_points)),
    param!("rdbcompression", "yes", Kind::Bool),
    param!("rdbchecksum", "yes", Kind::Bool, immutable),
    param!("stop-writes-on-bgsave-error", "yes", Kind::Bool),
    param!(
        "tracking-table-max-keys",
        "1000000",
        Kind::Int {
            min: 0,
            max: i64::MAX
        }
    ),
    param!(
        "client-output-buffer-limit",
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        Kind::Merge(output_buffer_limits)
    ),
    param!(
        "notify-keyspace-events",
        "",
        Kind::Shown(keyspace_events, keyspace_events_shown)
    ),
    param!("appendonly", "no", Kind::Bool),
    param!(
        "appendfsync",
        "everysec",
        Kind::Enum(&["always", "everysec", "no"])
    ),
    param!(
        "appenddirname",
        "appendonlydir",
        Kind::Custom(dir_name),
        immutable
    ),
    param!("aof-load-truncated", "yes", Kind::Bool),
    param!("auto-aof-rewrite-percentage", "100", INT),
    param!("auto-aof-rewrite-min-size", "67108864", MEMORY),
    param!("no-appendfsync-on-rewrite", "no", Kind::Bool),
    // Not Redis's `dump.rdb`: kv's snapshot format is its own, and a kv started in a Redis
    // directory must neither read nor overwrite Redis's file.
    param!("dbfilename", "dump.kvs", Kind::Custom(file_name)),
    param!("appendfilename", "appendonly.aof", Kind::Text, immutable),
    // Replication: acted on by `replication.rs` (REPLICATION_SETTINGS) and the replica link.
    param!("replicaof", "", Kind::Custom(master_address), aliases: &["slaveof"]),
    param!("masterauth", "", Kind::Text),
    param!("masteruser", "", Kind::Text),
    param!("replica-read-only", "yes", Kind::Bool, aliases: &["slave-read-only"]),
    param!("replica-serve-stale-data", "yes", Kind::Bool, aliases: &["slave-serve-stale-data"]),
    param!(
        "repl-backlog-size",
        "1048576",
        Kind::Memory {
            min: 1,
            max: i64::MAX
        }
    ),
    param!("repl-backlog-ttl", "3600", INT),
    param!(
        "repl-timeout",
        "60",
        Kind::Int {
            min: 1,
            max: i32::MAX as i64
        }
    ),
    param!("repl-ping-replica-period", "10", Kind::Int { min: 1, max: i32::MAX as i64 }, aliases: &["repl-ping-slave-period"]),
    param!("min-replicas-to-write", "0", INT, aliases: &["min-slaves-to-write"]),
    param!("min-replicas-max-lag", "10", INT, aliases: &["min-slaves-max-lag"]),
    param!("replica-priority", "100", INT, aliases: &["slave-priority"]),
    param!("replica-announce-ip", "", Kind::Text, aliases: &["slave-announce-ip"]),
    param!("replica-announce-port", "0", Kind::Int { min: 0, max: 65535 }, aliases: &["slave-announce-port"]),
    // Encoding tuning: accepted and reported. The hash, set and sorted-set thresholds steer
    // the engine's small forms (ENGINE_SETTINGS); the others are not acted on. Redis 7.0's
    // built-in default for hash-max-listpack-entries is 512 (its sample redis.conf says 128).
    param!("hash-max-listpack-entries", "512", ENTRIES, aliases: &["hash-max-ziplist-entries"]),
    param!("hash-max-listpack-value", "64", MEMORY, aliases: &["hash-max-ziplist-value"]),
    param!("list-max-listpack-size", "-2", Kind::Int { min: i32::MIN as i64, max: i32::MAX as i64 }, aliases: &["list-max-ziplist-size"]),
    param!("list-compress-depth", "0", INT),
    param!("set-max-intset-entries", "512", ENTRIES),
    param!("zset-max-listpack-entries", "128", ENTRIES, aliases: &["zset-max-ziplist-entries"]),
    param!("zset-max-listpack-value", "64", MEMORY, aliases: &["zset-max-ziplist-value"]),
    param!("hll-sparse-max-bytes", "3000", MEMORY),
    param!("stream-node-max-bytes", "4096", MEMORY),
    param!(
        "stream-node-max-entries",
        "100",
        Kind::Int {
            min: 0,
            max: i64::MAX
        }
    ),
    param!("activerehashing", "yes", Kind::Bool),
    param!("lazyfree-lazy-user-del", "no", Kind::Bool),
    param!("lazyfree-lazy-user-flush", "no", Kind::Bool),
    param!("lazyfree-lazy-expire", "no", Kind::Bool),
    param!("lazyfree-lazy-server-del", "no", Kind::Bool),
    param!("lazyfree-lazy-eviction", "no", Kind::Bool),
    param!("replica-lazy-flush", "no", Kind::Bool, aliases: &["slave-lazy-flush"]),
    param!("io-threads", "1", Kind::Int { min: 1, max: 128 }, immutable),
    // The rest of Redis 7.0's default redis.conf: accepted, checked and reported as Redis
    // does, so a Redis configuration file starts kv too, and not acted on (kv has no fork,
    // logo, process title, RDB preamble or jemalloc; its replication always streams the
    // snapshot). See docs/differences.md.
    param!("always-show-logo", "no", Kind::Bool, immutable),
    param!("set-proc-title", "yes", Kind::Bool, immutable),
    param!(
        "proc-title-template",
        "{title} {listen-addr} {server-mode}",
        Kind::Custom(proc_title_template)
    ),
    param!("rdb-del-sync-files", "no", Kind::Bool),
    param!("repl-diskless-sync", "yes", Kind::Bool),
    param!("repl-diskless-sync-delay", "5", INT),
    param!("repl-diskless-sync-max-replicas", "0", INT),
    param!(
        "repl-diskless-load",
        "disabled",
        Kind::Enum(&["disabled", "on-empty-db", "swapdb"])
    ),
    param!("repl-disable-tcp-nodelay", "no", Kind::Bool),
    param!(
        "acllog-max-len",
        "128",
        Kind::Int {
            min: 0,
            max: i64::MAX
        }
    ),
    param!(
        "oom-score-adj",
        "no",
        Kind::Enum(&["no", "yes", "relative", "absolute"])
    ),
    param!(
        "oom-score-adj-values",
        "0 200 800",
        Kind::Custom(oom_score_adj_values)
    ),
    param!("disable-thp", "yes", Kind::Bool, immutable),
    param!("aof-use-rdb-preamble", "yes", Kind::Bool),
    param!("aof-timestamp-enabled", "no", Kind::Bool),
    param!("dynamic-hz", "yes", Kind::Bool),
    param!("aof-rewrite-incremental-fsync", "yes", Kind::Bool),
    param!("rdb-save-incremental-fsync", "yes", Kind::Bool),
    param!("jemalloc-bg-thread", "yes", Kind::Bool),
];

/// `latency-tracking-info-percentiles`: numbers from 0 to 100, separated by spaces (none at
/// all for an empty string), checked in order and shown as C's `%f` shows them, trailing
/// zeros removed, as Redis does.
fn percentile_list(value: &str) -> Result<String, String> {
    let mut shown = Vec::new();
    for word in value.split(' ').filter(|w| !w.is_empty()) {
        let percentile: f64 = word
            .parse()
            .ok()
            .filter(|p: &f64| !p.is_nan())
            .ok_or("Invalid latency-tracking-info-percentiles parameters")?;
        if !(0.0..=100.0).contains(&percentile) {
            return Err(
                "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                    .into(),
            );
        }
        shown.push(crate::cmdstats::trimmed_percentile(percentile));
    }
    Ok(shown.join(" "))
}

/// The percentiles INFO latencystats reports (`latency-tracking-info-percentiles`).
pub fn info_percentiles(config: &Config) -> Vec<f64> {
    config
        .get("latency-tracking-info-percentiles")
        .split(' ')
        .filter_map(|word| word.parse().ok())
        .collect()
}

/// `unixsocketperm`: an octal number up to 0777, read as C's `strtoll(value, _, 8)` reads it
/// (leading spaces, a sign, nothing at all for 0) and shown in octal, as Redis's
/// `OCTAL_CONFIG` parameters are.
fn octal_permissions(value: &str) -> Result<String, String> {
    if value.is_empty() {
        return Ok("0".into());
    }
    let digits = value.trim_start();
    let (negative, digits) = match digits.as_bytes().first() {
        Some(b'-') => (true, &digits[1..]),
        Some(b'+') => (false, &digits[1..]),
        _ => (false, digits),
    };
    let mode = u32::from_str_radix(digits, 8)
        .ok()
        .filter(|_| !digits.starts_with(['+', '-']))
        .ok_or_else(|| "argument couldn't be parsed as an octal number".to_string())?;
    match mode {
        0 => Ok("0".into()),
        mode if negative || mode > 0o777 => {
            Err("argument must be between 0 and 777 inclusive".into())
        }
        mode => Ok(format!("{mode:o}")),
    }
}

/// The mode `unixsocketperm` sets on the socket file (0: leave it as created).
pub fn unix_socket_mode(config: &Config) -> u32 {
    u32::from_str_radix(&config.get("unixsocketperm"), 8).unwrap_or(0)
}

/// `proc-title-template`: Redis's `validateProcTitleTemplate`: the template expands (`{{`
/// is a brace, a `{name}` must be a variable Redis knows, a `{` must be closed) to something
/// other than spaces, with an empty title. Of the variables, only the address and the ports
/// are never empty on a standalone server without a unix socket (and, as kv reads it, without
/// a config file).
fn proc_title_template(value: &str) -> Result<String, String> {
    const EMPTY: &[&str] = &["title", "server-mode", "unixsocket", "config-file"];
    const FILLED: &[&str] = &["listen-addr", "port", "tls-port"];
    let invalid = || "template format is invalid or contains unknown variables".to_string();
    let mut rest = value;
    let mut shows_something = false;
    loop {
        let Some(open) = rest.find('{') else {
            shows_something |= rest.chars().any(|c| c != ' ');
            break;
        };
        shows_something |= rest[..open].chars().any(|c| c != ' ');
        let after = &rest[open + 1..];
        if let Some(quoted) = after.strip_prefix('{') {
            shows_something = true;
            rest = quoted;
            continue;
        }
        let close = after.find('}').ok_or_else(invalid)?;
        let name = &after[..close];
        if FILLED.contains(&name) {
            shows_something = true;
        } else if !EMPTY.contains(&name) {
            return Err(invalid());
        }
        rest = &after[close + 1..];
    }
    if shows_something {
        Ok(value.to_string())
    } else {
        Err(invalid())
    }
}

/// `oom-score-adj-values`: three integers (for masters, replicas and background children),
/// each between -2000 and 2000, as Redis checks them.
fn oom_score_adj_values(value: &str) -> Result<String, String> {
    let values: Vec<&str> = value.split_whitespace().collect();
    if values.len() != 3 {
        return Err("wrong number of arguments".to_string());
    }
    for v in &values {
        match kv_resp::parse_i64(v.as_bytes()) {
            Some(n) if (-2000..=2000).contains(&n) => {}
            _ => {
                return Err(
                    "Invalid oom-score-adj-values, elements must be between -2000 and 2000."
                        .to_string(),
                )
            }
        }
    }
    Ok(values.join(" "))
}

/// `dir`: must be an existing directory.
/// `dir`: an existing directory, kept as its absolute path, as Redis (which changes into it
/// and reports `getcwd`) shows it; relative paths are relative to the current directory.
fn directory(value: &str) -> Result<String, String> {
    let resolved = std::fs::canonicalize(value).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "No such file or directory".to_string(),
        _ => {
            let text = e.to_string();
            text.split(" (os error")
                .next()
                .unwrap_or_default()
                .to_string()
        }
    })?;
    if !resolved.is_dir() {
        return Err("Not a directory".to_string());
    }
    Ok(resolved.to_string_lossy().into_owned())
}

/// `save`: `<seconds> <changes>` pairs, or nothing (no automatic snapshots).
fn save_points(value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() || value == "\"\"" {
        return Ok(String::new());
    }
    let words: Vec<&str> = value.split_whitespace().collect();
    let valid = words.len() % 2 == 0
        && words
            .iter()
            .all(|w| kv_resp::parse_i64(w.as_bytes()).is_some_and(|n| n >= 0));
    if !valid {
        return Err("Invalid save parameters".to_string());
    }
    Ok(words.join(" "))
}

/// The save points of a checked `save` value: `(seconds, changes)` pairs.
pub fn parse_save_points(value: &str) -> Vec<(u64, u64)> {
    let numbers: Vec<u64> = value
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    numbers.chunks_exact(2).map(|p| (p[0], p[1])).collect()
}

/// `dbfilename`: a file name, not a path (Redis's `isValidDBfilename`).
fn file_name(value: &str) -> Result<String, String> {
    if value.contains('/') {
        Err("dbfilename can't be a path, just a filename".to_string())
    } else {
        Ok(value.to_string())
    }
}

/// `appenddirname`: a directory name inside `dir`, not a path (Redis's check).
fn dir_name(value: &str) -> Result<String, String> {
    if value.contains('/') {
        Err("appenddirname can't be a path, just a dirname".to_string())
    } else {
        Ok(value.to_string())
    }
}

/// Parameters naming files the server writes: CONFIG SET refuses them unless
/// `enable-protected-configs` allows it, as Redis 7.0 does.
const PROTECTED: &[&str] = &["dir", "dbfilename"];

/// The classes of `client-output-buffer-limit`, in the order Redis writes them.
const OUTPUT_CLASSES: [&str; 3] = ["normal", "slave", "pubsub"];

/// One class's `client-output-buffer-limit`: bytes, bytes, seconds (0: no limit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutputLimit {
    /// Past this, the client is disconnected at once.
    pub hard: u64,
    /// Past this for longer than `soft_seconds`, the client is disconnected.
    pub soft: u64,
    /// How long the soft limit may be exceeded.
    pub soft_seconds: u64,
}

/// A class of `client-output-buffer-limit`.
#[derive(Debug, Clone, Copy)]
pub enum OutputClass {
    /// Normal clients.
    Normal = 0,
    /// Replica links.
    Replica = 1,
    /// Pub/sub clients.
    Pubsub = 2,
}

/// The `client-output-buffer-limit` of `class` as `config` has it now.
pub fn output_limit(config: &Config, class: OutputClass) -> OutputLimit {
    read_output_limits(&config.get("client-output-buffer-limit"))[class as usize]
}

/// Reads a stored `client-output-buffer-limit` value: the limits of normal, replica and
/// pub/sub clients.
fn read_output_limits(value: &str) -> [OutputLimit; 3] {
    let mut limits = [OutputLimit::default(); 3];
    let words: Vec<&str> = value.split_whitespace().collect();
    for group in words.chunks_exact(4) {
        let class = OUTPUT_CLASSES.iter().position(|c| *c == group[0]);
        let number = |w: &str| w.parse::<u64>().unwrap_or(0);
        if let Some(class) = class {
            limits[class] = OutputLimit {
                hard: number(group[1]),
                soft: number(group[2]),
                soft_seconds: number(group[3]),
            };
        }
    }
    limits
}

/// `client-output-buffer-limit <class> <hard> <soft> <seconds> ...`: the classes given
/// replace theirs in `current`, the others stay (as in Redis); sizes take units (`32mb`).
fn output_buffer_limits(current: &str, raw: &str) -> Result<String, String> {
    let words: Vec<&str> = raw.split_whitespace().collect();
    if words.len() % 4 != 0 {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut limits = read_output_limits(current);
    for group in words.chunks_exact(4) {
        let class = match group[0].to_ascii_lowercase().as_str() {
            "normal" => 0,
            "slave" | "replica" => 1,
            "pubsub" => 2,
            _ => {
                return Err("Invalid client class specified in buffer limit configuration.".into())
            }
        };
        let size = |w: &str| parse_memory(w).and_then(|n| u64::try_from(n).ok());
        let (Some(hard), Some(soft), Some(soft_seconds)) =
            (size(group[1]), size(group[2]), group[3].parse::<u64>().ok())
        else {
            return Err(
                "Error in hard, soft or soft_seconds setting in buffer limit configuration.".into(),
            );
        };
        limits[class] = OutputLimit {
            hard,
            soft,
            soft_seconds,
        };
    }
    Ok(OUTPUT_CLASSES
        .iter()
        .zip(limits)
        .map(|(class, l)| format!("{class} {} {} {}", l.hard, l.soft, l.soft_seconds))
        .collect::<Vec<_>>()
        .join(" "))
}

/// `notify-keyspace-events`: stored with one letter per class, so that nothing is lost (Redis
/// shows `KEAn` as `AKE`, yet keeps the `n`).
fn keyspace_events(value: &str) -> Result<String, String> {
    kv_engine::notify::parse_classes(value)
        .map(kv_engine::notify::format_every_class)
        .ok_or_else(|| "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".to_string())
}

/// `notify-keyspace-events` as Redis shows it (`AKE` for `KEA`).
fn keyspace_events_shown(stored: &str) -> String {
    kv_engine::notify::format_classes(kv_engine::notify::parse_classes(stored).unwrap_or_default())
}

/// `replicaof host port` (or `no one`, or nothing: a master). Read at start; at run time
/// REPLICAOF changes the role.
fn master_address(value: &str) -> Result<String, String> {
    if value.is_empty() || value.eq_ignore_ascii_case("no one") {
        return Ok(String::new());
    }
    match value.split_whitespace().collect::<Vec<_>>()[..] {
        [host, port] if port.parse::<u16>().is_ok() => Ok(format!("{host} {port}")),
        _ => Err("Invalid master port".to_string()),
    }
}

/// Finds a parameter by name or alias, ignoring case.
pub fn find(name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| {
        p.name.eq_ignore_ascii_case(name) || p.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    })
}

/// Checks a byte count or a percentage (`10%`, of `maxmemory`), as Redis checks its
/// `PERCENT_CONFIG` parameters (`maxmemory-clients`).
fn check_memory_or_percent(raw: &str) -> Result<String, String> {
    if let Some(percent) = raw
        .strip_suffix('%')
        .and_then(|n| kv_resp::parse_i64(n.as_bytes()))
        .filter(|&n| n >= 0)
    {
        if percent > 100 {
            return Err("percentage argument must be less or equal to 100".into());
        }
        return Ok(format!("{percent}%"));
    }
    parse_memory(raw)
        .map(|n| n.to_string())
        .ok_or_else(|| "argument must be a memory or percent value".into())
}

/// The limit `maxmemory-clients` sets on all clients' buffers, in bytes (0: none), as Redis's
/// `getClientEvictionLimit` works it out: a percentage is of `maxmemory` (none without
/// one), and a limit under 128 KB counts as 128 KB, so that a mistaken setting cannot leave
/// the server unable to talk to anyone.
pub fn client_memory_limit(config: &Config) -> u64 {
    let setting = config.get("maxmemory-clients");
    let limit = match setting.strip_suffix('%') {
        Some(percent) => {
            let percent = percent.parse::<u64>().unwrap_or(0);
            let maxmemory = config.int("maxmemory").max(0) as u64;
            (maxmemory as f64 * percent as f64 / 100.0) as u64
        }
        None => setting.parse::<u64>().unwrap_or(0),
    };
    if limit == 0 {
        0
    } else {
        limit.max(128 << 10)
    }
}

/// Parses a memory value as Redis's `memtoull`: digits with an optional unit
/// (k=1000, kb=1024, m, mb, g, gb), case-insensitive; a sign is refused.
pub fn parse_memory(text: &str) -> Option<i64> {
    if text.starts_with('-') {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !c.is_ascii_digit() && c != '-')
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(digits_end);
    let multiplier: i64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    let n: i64 = number.parse().ok()?;
    n.checked_mul(multiplier)
}

impl Param {
    /// The value as CONFIG GET shows it, from its stored form.
    pub fn shown(&self, stored: &str) -> String {
        match self.kind {
            Kind::Shown(_, show) => show(stored),
            _ => stored.to_string(),
        }
    }

    /// The canonical value for `raw`, or the reason it is refused (Redis's wording), when the
    /// value is `current` now.
    pub fn check(&self, raw: &str, current: &str) -> Result<String, String> {
        match self.kind {
            Kind::Merge(merge) => merge(current, raw),
            Kind::Bool => match raw.to_ascii_lowercase().as_str() {
                "yes" => Ok("yes".into()),
                "no" => Ok("no".into()),
                _ => Err("argument must be 'yes' or 'no'".into()),
            },
            Kind::Int { min, max } => {
                // Redis reads these with `string2ll`: no `+`, no leading zeros, no spaces.
                let n: i64 = kv_resp::parse_i64(raw.as_bytes())
                    .ok_or_else(|| "argument couldn't be parsed into an integer".to_string())?;
                if n < min || n > max {
                    return Err(format!(
                        "argument must be between {min} and {max} inclusive"
                    ));
                }
                // Redis silently caps hz at its maximum useful value.
                let n = if self.name == "hz" { n.min(500) } else { n };
                Ok(n.to_string())
            }
            Kind::Memory { min, max } => {
                let n = parse_memory(raw)
                    .ok_or_else(|| "argument must be a memory value".to_string())?;
                if n < min || n > max {
                    return Err(format!(
                        "argument must be between {min} and {max} inclusive"
                    ));
                }
                Ok(n.to_string())
            }
            Kind::Text => Ok(raw.to_string()),
            Kind::Enum(words) => words
                .iter()
                .find(|w| w.eq_ignore_ascii_case(raw))
                .map(|w| w.to_string())
                .ok_or_else(|| {
                    format!(
                        "argument(s) must be one of the following: {}",
                        words.join(", ")
                    )
                }),
            Kind::Custom(check) | Kind::Shown(check, _) => check(raw),
        }
    }
}

/// Parameters the engine reads, through [`apply_engine_settings`], whenever they change.
pub const ENGINE_SETTINGS: &[&str] = &[
    "zset-max-listpack-entries",
    "zset-max-listpack-value",
    "hash-max-listpack-entries",
    "hash-max-listpack-value",
    "set-max-intset-entries",
    "notify-keyspace-events",
    "maxmemory",
    "maxmemory-policy",
    "maxmemory-samples",
    "maxmemory-eviction-tenacity",
    "lfu-log-factor",
    "lfu-decay-time",
    "lazyfree-lazy-user-del",
    "lazyfree-lazy-user-flush",
    "lazyfree-lazy-expire",
    "lazyfree-lazy-server-del",
    "lazyfree-lazy-eviction",
    "replica-lazy-flush",
];

/// Copies the parameters the engine consults into its atomics: at start-up, and after a
/// `CONFIG SET` of one of [`ENGINE_SETTINGS`].
pub fn apply_engine_settings(config: &Config, engine: &kv_engine::Engine) {
    let classes = kv_engine::notify::parse_classes(&config.get("notify-keyspace-events"));
    engine
        .keyspace
        .events
        .set_classes(classes.unwrap_or_default());
    let read = |name: &str| u64::try_from(config.int(name)).unwrap_or(0);
    let read_u32 = |name: &str| u32::try_from(config.int(name)).unwrap_or(u32::MAX);
    let eviction = &engine.config.eviction;
    let policy = kv_engine::evict::Policy::from_name(&config.get("maxmemory-policy"));
    eviction.set_policy(policy.unwrap_or(kv_engine::evict::Policy::NoEviction));
    for (name, target) in [
        ("maxmemory-samples", &eviction.samples),
        ("maxmemory-eviction-tenacity", &eviction.tenacity),
        ("lfu-log-factor", &eviction.lfu_log_factor),
        ("lfu-decay-time", &eviction.lfu_decay_time),
    ] {
        target.store(read_u32(name), Ordering::Relaxed);
    }
    let limits = &engine.config;
    for (name, target) in [
        ("maxmemory", &eviction.maxmemory),
        (
            "zset-max-listpack-entries",
            &limits.zset_max_listpack_entries,
        ),
        ("zset-max-listpack-value", &limits.zset_max_listpack_value),
        (
            "hash-max-listpack-entries",
            &limits.hash_max_listpack_entries,
        ),
        ("hash-max-listpack-value", &limits.hash_max_listpack_value),
        ("set-max-intset-entries", &limits.set_max_intset_entries),
    ] {
        target.store(read(name), Ordering::Relaxed);
    }
    let lazyfree = &engine.keyspace.lazyfree;
    for (name, target) in [
        ("lazyfree-lazy-user-del", &limits.lazy_user_del),
        ("lazyfree-lazy-user-flush", &limits.lazy_user_flush),
        ("lazyfree-lazy-expire", &lazyfree.on_expire),
        ("lazyfree-lazy-server-del", &lazyfree.on_server_del),
        ("lazyfree-lazy-eviction", &lazyfree.on_eviction),
        ("replica-lazy-flush", &lazyfree.on_replica_flush),
    ] {
        target.store(config.flag(name), Ordering::Relaxed);
    }
}

/// The live configuration.
#[derive(Debug)]
pub struct Config {
    values: RwLock<HashMap<&'static str, String>>,
    /// The file it was read from, for `CONFIG REWRITE`.
    pub file: Option<PathBuf>,
    /// Values read on every read from a socket, kept parsed so that costs an atomic load.
    pub hot: HotValues,
}

/// Parsed copies of the parameters the connection loop consults all the time (on every read or
/// after every command), refreshed whenever the configuration changes.
#[derive(Debug, Default)]
pub struct HotValues {
    /// `timeout`, in seconds (0: never).
    pub timeout: AtomicI64,
    /// `client-query-buffer-limit`, in bytes.
    pub query_buffer_limit: AtomicI64,
    /// `slowlog-log-slower-than`, in microseconds (negative: the slow log is off).
    pub slowlog_slower_than: AtomicI64,
    /// `slowlog-max-len`, in entries.
    pub slowlog_max_len: AtomicI64,
    /// `latency-monitor-threshold`, in milliseconds (0: the latency monitor is off).
    pub latency_threshold: AtomicI64,
    /// `latency-tracking`: whether commands' latencies go into INFO latencystats.
    pub latency_tracking: std::sync::atomic::AtomicBool,
    /// `client-output-buffer-limit` of normal and pub/sub clients.
    pub output_limits: Arc<OutputLimits>,
    /// `tracking-table-max-keys` (0: no limit).
    pub tracking_table_max_keys: AtomicI64,
    /// The limit `maxmemory-clients` sets, in bytes (0: none; see [`client_memory_limit`]).
    pub client_memory_limit: AtomicU64,
}

/// The output buffer limits of the client classes kv has, readable without a lock (mailboxes
/// check them on every message).
#[derive(Debug, Default)]
pub struct OutputLimits {
    /// Normal clients (MONITOR clients included, as in Redis).
    pub normal: [AtomicU64; 3],
    /// Clients that subscribe to channels, patterns or shard channels.
    pub pubsub: [AtomicU64; 3],
}

impl OutputLimits {
    /// The limits of the pub/sub class, or of the normal class.
    pub fn get(&self, pubsub: bool) -> OutputLimit {
        let [hard, soft, soft_seconds] = if pubsub { &self.pubsub } else { &self.normal };
        OutputLimit {
            hard: hard.load(Ordering::Relaxed),
            soft: soft.load(Ordering::Relaxed),
            soft_seconds: soft_seconds.load(Ordering::Relaxed),
        }
    }

    fn store(&self, pubsub: bool, limit: OutputLimit) {
        let [hard, soft, soft_seconds] = if pubsub { &self.pubsub } else { &self.normal };
        hard.store(limit.hard, Ordering::Relaxed);
        soft.store(limit.soft, Ordering::Relaxed);
        soft_seconds.store(limit.soft_seconds, Ordering::Relaxed);
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A bad line in the file.
    #[error("{file}:{line}: {message}\n>>> '{text}'")]
    File {
        /// The file.
        file: String,
        /// 1-based line number.
        line: usize,
        /// The line as written.
        text: String,
        /// What is wrong with it.
        message: String,
    },
    /// A bad command-line option.
    #[error("command line: {0}")]
    Args(String),
    /// The file could not be read.
    #[error("cannot read config file {0}: {1}")]
    Io(String, std::io::Error),
}

impl Config {
    /// Every parameter at its default.
    pub fn defaults() -> Config {
        let config = Config {
            values: RwLock::new(
                PARAMS
                    .iter()
                    .map(|p| (p.name, p.default.to_string()))
                    .collect(),
            ),
            file: None,
            hot: HotValues::default(),
        };
        config.refresh_hot();
        config
    }

    /// Re-parses [`HotValues`] from the current values.
    fn refresh_hot(&self) {
        self.hot
            .timeout
            .store(self.int("timeout"), Ordering::Relaxed);
        self.hot
            .query_buffer_limit
            .store(self.int("client-query-buffer-limit"), Ordering::Relaxed);
        self.hot
            .slowlog_slower_than
            .store(self.int("slowlog-log-slower-than"), Ordering::Relaxed);
        self.hot
            .slowlog_max_len
            .store(self.int("slowlog-max-len"), Ordering::Relaxed);
        self.hot
            .latency_threshold
            .store(self.int("latency-monitor-threshold"), Ordering::Relaxed);
        self.hot
            .latency_tracking
            .store(self.flag("latency-tracking"), Ordering::Relaxed);
        self.hot
            .tracking_table_max_keys
            .store(self.int("tracking-table-max-keys"), Ordering::Relaxed);
        self.hot
            .client_memory_limit
            .store(client_memory_limit(self), Ordering::Relaxed);
        let [normal, _replica, pubsub] =
            read_output_limits(&self.get("client-output-buffer-limit"));
        self.hot.output_limits.store(false, normal);
        self.hot.output_limits.store(true, pubsub);
    }

    /// Reads `kv-server [config-file] [--name value ...]` as redis-server does: the file first,
    /// then each `--name value...` as if it were one more line of the file.
    pub fn from_args(args: &[String]) -> Result<Config, ConfigError> {
        let mut config = Config::defaults();
        let mut rest = args;
        if let Some(first) = args.first() {
            if !first.starts_with("--") {
                let text = std::fs::read_to_string(first)
                    .map_err(|e| ConfigError::Io(first.clone(), e))?;
                config.load_text(&text, first)?;
                // Absolute, as Redis keeps it: the server moves into `dir` (CONFIG REWRITE
                // still finds the file, INFO shows where it is).
                config.file =
                    Some(std::fs::canonicalize(first).unwrap_or_else(|_| PathBuf::from(first)));
                rest = &args[1..];
            }
        }
        let mut i = 0;
        while i < rest.len() {
            let Some(name) = rest[i].strip_prefix("--") else {
                return Err(ConfigError::Args(format!(
                    "expected an option, got '{}'",
                    rest[i]
                )));
            };
            let mut values = Vec::new();
            i += 1;
            while i < rest.len() && !rest[i].starts_with("--") {
                values.push(rest[i].clone());
                i += 1;
            }
            let param = find(name)
                .ok_or_else(|| ConfigError::Args(format!("unknown option '--{name}'")))?;
            let value = param
                .check(&values.join(" "), &config.get(param.name))
                .map_err(|m| ConfigError::Args(format!("--{name}: {m}")))?;
            config.values.write().insert(param.name, value);
        }
        if config.get("dir").is_empty() {
            // Where the server was started, as an absolute path (CONFIG GET dir).
            let here = directory(".").map_err(|m| ConfigError::Args(format!("dir: {m}")))?;
            config.values.write().insert("dir", here);
        }
        config.refresh_hot();
        Ok(config)
    }

    /// Applies the lines of a redis.conf-style text; `origin` names it in errors.
    pub fn load_text(&mut self, text: &str, origin: &str) -> Result<(), ConfigError> {
        // As in Redis, a file's `save` lines add up: the first replaces the defaults, the
        // next ones add points (and `save ""` clears them).
        let mut saw_save = false;
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let error = |message: String| ConfigError::File {
                file: origin.to_string(),
                line: index + 1,
                text: line.to_string(),
                message,
            };
            let words = kv_resp::split_inline(line.as_bytes())
                .map_err(|_| error("Unbalanced quotes in configuration line".into()))?;
            let words: Vec<String> = words
                .iter()
                .map(|w| String::from_utf8_lossy(w).into_owned())
                .collect();
            let Some((name, values)) = words.split_first() else {
                continue;
            };
            let param = find(name)
                .ok_or_else(|| error("Bad directive or wrong number of arguments".into()))?;
            let mut value = param
                .check(&values.join(" "), &self.get(param.name))
                .map_err(error)?;
            if param.name == "save" {
                let earlier = self.get("save");
                if saw_save && !value.is_empty() && !earlier.is_empty() {
                    value = format!("{earlier} {value}");
                }
                saw_save = true;
            }
            self.values.write().insert(param.name, value);
        }
        self.refresh_hot();
        Ok(())
    }

    /// The current value of `name` (a canonical name from [`PARAMS`]).
    pub fn get(&self, name: &str) -> String {
        self.values.read().get(name).cloned().unwrap_or_default()
    }

    /// The current value of an integer or memory parameter.
    pub fn int(&self, name: &str) -> i64 {
        self.get(name).parse().unwrap_or(0)
    }

    /// The current value of a boolean parameter.
    pub fn flag(&self, name: &str) -> bool {
        self.get(name) == "yes"
    }

    /// Sets several parameters at once, all or none (`CONFIG SET`): each `(name, value)` is
    /// checked first, and the error names the offending argument as Redis does.
    /// `allow_protected`: whether the caller may change the [`PROTECTED`] parameters.
    pub fn set_many(
        &self,
        pairs: &[(String, String)],
        allow_protected: bool,
    ) -> Result<Vec<&'static str>, String> {
        let mut checked: Vec<(&'static Param, String)> = Vec::new();
        for (name, raw) in pairs {
            let failed = |why: &str| {
                format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}")
            };
            let Some(param) = find(name) else {
                return Err(format!(
                    "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
                ));
            };
            if param.immutable {
                return Err(failed("can't set immutable config"));
            }
            if !allow_protected && PROTECTED.contains(&param.name) {
                return Err(failed("can't set protected config"));
            }
            if checked.iter().any(|(p, _)| p.name == param.name) {
                return Err(failed("duplicate parameter"));
            }
            let value = param
                .check(raw, &self.get(param.name))
                .map_err(|why| failed(&why))?;
            checked.push((param, value));
        }
        let changed = {
            let mut values = self.values.write();
            checked
                .into_iter()
                .map(|(param, value)| {
                    values.insert(param.name, value);
                    param.name
                })
                .collect()
        };
        self.refresh_hot();
        Ok(changed)
    }

    /// `(name, value)` of every parameter (aliases included) matching `pattern`.
    pub fn matching(&self, pattern: &[u8]) -> Vec<(&'static str, String)> {
        let values = self.values.read();
        let mut out = Vec::new();
        for param in PARAMS {
            for name in std::iter::once(&param.name).chain(param.aliases) {
                if kv_engine::glob::matches(pattern, name.as_bytes(), true) {
                    let stored = values.get(param.name).cloned().unwrap_or_default();
                    out.push((*name, param.shown(&stored)));
                }
            }
        }
        out
    }

    /// Writes the current configuration back to its file (`CONFIG REWRITE`): lines for
    /// parameters at their default are dropped, changed ones are updated in place, new ones
    /// appended; comments and unknown text are kept.
    pub fn rewrite(&self) -> Result<(), String> {
        let Some(path) = &self.file else {
            return Err("ERR The server is running without a config file".into());
        };
        let old = std::fs::read_to_string(path).unwrap_or_default();
        let values = self.values.read();
        let mut written = std::collections::HashSet::new();
        let mut out = String::new();
        for line in old.lines() {
            let name = line.split_whitespace().next().unwrap_or("");
            match find(name).filter(|_| !line.trim_start().starts_with('#')) {
                Some(param) => {
                    let value = values.get(param.name).cloned().unwrap_or_default();
                    if written.insert(param.name) && value != param.default {
                        out.push_str(&format!("{} {}\n", param.name, quote(&value)));
                    }
                }
                None => {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        for param in PARAMS {
            let value = values.get(param.name).cloned().unwrap_or_default();
            if !written.contains(param.name) && value != param.default {
                out.push_str(&format!("{} {}\n", param.name, quote(&value)));
            }
        }
        let tmp = path.with_extension("rewrite.tmp");
        std::fs::write(&tmp, out)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| format!("ERR Rewriting config file: {e}"))
    }
}

/// A value as a config-file word: quoted when empty or containing spaces.
fn quote(value: &str) -> String {
    if value.is_empty() || value.contains(char::is_whitespace) || value.contains('"') {
        format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unixsocketperm_reads_octal_as_strtoll_does() {
        for (input, shown) in [("700", "700"), ("0777", "777"), (" 755", "755"), ("", "0")] {
            assert_eq!(octal_permissions(input), Ok(shown.to_string()), "{input}");
        }
        for input in ["8", "abc", "7x", " ", "-", "+-1", "99999999999999999999"] {
            assert_eq!(
                octal_permissions(input),
                Err("argument couldn't be parsed as an octal number".to_string()),
                "{input:?}"
            );
        }
        for input in ["1000", "-1"] {
            assert_eq!(
                octal_permissions(input),
                Err("argument must be between 0 and 777 inclusive".to_string()),
                "{input}"
            );
        }
    }

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("100"), Some(100));
        assert_eq!(parse_memory("1kb"), Some(1024));
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("2GB"), Some(2 * 1024 * 1024 * 1024));
        assert_eq!(parse_memory("1x"), None);
        assert_eq!(parse_memory("-1"), None, "memtoull refuses a sign");
        assert_eq!(parse_memory(""), None);
    }

    #[test]
    fn values_are_checked_with_redis_wording() {
        let maxclients = find("maxclients").unwrap();
        assert_eq!(
            maxclients.check("0", ""),
            Err("argument must be between 1 and 4294967295 inclusive".into())
        );
        assert_eq!(
            maxclients.check("abc", ""),
            Err("argument couldn't be parsed into an integer".into())
        );
        assert_eq!(find("hz").unwrap().check("1000", ""), Ok("500".into()));
        assert_eq!(
            find("protected-mode").unwrap().check("YES", ""),
            Ok("yes".into())
        );
        assert_eq!(find("SLAVEOF").unwrap().name, "replicaof");
    }

    #[test]
    fn save_lines_of_a_file_add_up() {
        let mut config = Config::defaults();
        config
            .load_text("save 900 1\nsave 300 10\n", "kv.conf")
            .unwrap();
        assert_eq!(config.get("save"), "900 1 300 10");
        config.load_text("save \"\"\n", "kv.conf").unwrap();
        assert_eq!(config.get("save"), "");
        assert!(config.load_text("save 900\n", "kv.conf").is_err());
    }

    #[test]
    fn file_errors_name_the_line() {
        let mut config = Config::defaults();
        let err = config
            .load_text("port 7000\n# comment\nfoo bar\n", "kv.conf")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "kv.conf:3: Bad directive or wrong number of arguments\n>>> 'foo bar'"
        );
        assert_eq!(config.get("port"), "7000");
    }

    #[test]
    fn command_line_overrides_file() {
        let config = Config::from_args(&[
            "--port".into(),
            "7001".into(),
            "--bind".into(),
            "127.0.0.1".into(),
            "::1".into(),
        ])
        .unwrap();
        assert_eq!(config.get("port"), "7001");
        assert_eq!(config.get("bind"), "127.0.0.1 ::1");
        assert!(Config::from_args(&["--nope".into(), "1".into()]).is_err());
    }

    #[test]
    fn set_many_is_all_or_nothing() {
        let config = Config::defaults();
        let err = config
            .set_many(
                &[
                    ("hz".into(), "15".into()),
                    ("maxclients".into(), "abc".into()),
                ],
                false,
            )
            .unwrap_err();
        assert!(err.contains("'maxclients'"));
        assert_eq!(config.get("hz"), "10");
        assert_eq!(
            config
                .set_many(
                    &[("hz".into(), "1".into()), ("hz".into(), "2".into())],
                    false
                )
                .unwrap_err(),
            "ERR CONFIG SET failed (possibly related to argument 'hz') - duplicate parameter"
        );
    }
}
