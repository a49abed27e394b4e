//! `--bigkeys` and `--memkeys`: one pass of SCAN over the keyspace, reporting the biggest key
//! of each type as it is found and a summary at the end, line for line as redis-cli 7.0's
//! `findBigKeys` prints them.
//!
//! For each SCAN batch the keys' types are asked for in one pipeline (TYPE), then their sizes
//! in another: the element count (STRLEN, LLEN, SCARD, HLEN, ZCARD, XLEN) for `--bigkeys`,
//! `MEMORY USAGE key [SAMPLES n]` for `--memkeys`. A type the server names that redis-cli does
//! not know (a module's) is counted, with a size only under `--memkeys`. With `-i`, the scan
//! sleeps that long whenever the keys sampled so far are a multiple of 100 after a batch.
//! The summary lists the types in the order redis-cli's dict holds them (see
//! [`dict_order`](crate::modes::dict_order)).

use std::collections::HashMap;
use std::io::{self, Write};

use anyhow::Result;

use crate::connection::ConnectionError;
use crate::format::c_str;
use crate::format::escape::repr;
use crate::modes::call::{self, c_float};
use crate::modes::dict_order::TypeTable;
use crate::modes::scan::{key_bytes, send_scan, sleep_micros};
use crate::modes::special::Special;
use crate::reply::Reply;
use crate::session::{Fatal, Session};

/// What "big" means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// `--bigkeys`: elements (bytes for strings).
    Elements,
    /// `--memkeys`: bytes of memory, with MEMORY USAGE's SAMPLES (0: the server's default).
    Memory {
        /// `--memkeys-samples`.
        samples: u32,
    },
}

/// What is known of one type (redis-cli's `typeinfo`).
#[derive(Debug, Clone)]
struct TypeInfo {
    /// The command that gives a key's size under `--bigkeys`; none for a module's type.
    size_command: Option<&'static str>,
    /// What that size counts.
    unit: &'static str,
    /// The biggest size seen.
    biggest: u64,
    /// Keys of this type.
    count: u64,
    /// Their sizes added up.
    total: u64,
    /// The biggest key's name, quoted (`sdscatrepr`).
    biggest_key: Option<Vec<u8>>,
}

impl TypeInfo {
    /// A type with no key seen yet.
    fn new(size_command: Option<&'static str>, unit: &'static str) -> TypeInfo {
        TypeInfo {
            size_command,
            unit,
            biggest: 0,
            count: 0,
            total: 0,
            biggest_key: None,
        }
    }
}

/// redis-cli's built-in types, in the order it adds them to its dict.
const BUILTIN: [(&str, &str, &str); 6] = [
    ("string", "STRLEN", "bytes"),
    ("list", "LLEN", "items"),
    ("set", "SCARD", "members"),
    ("hash", "HLEN", "fields"),
    ("zset", "ZCARD", "members"),
    ("stream", "XLEN", "entries"),
];

/// The per-type statistics, with the dict order redis-cli would list them in.
#[derive(Debug)]
struct Types {
    /// The statistics by type name.
    info: HashMap<String, TypeInfo>,
    /// The same names in redis-cli's dict.
    order: TypeTable,
}

impl Types {
    /// The built-in types, none seen yet.
    fn new() -> Types {
        let mut types = Types {
            info: HashMap::new(),
            order: TypeTable::new(),
        };
        for (name, command, unit) in BUILTIN {
            types.add(name, TypeInfo::new(Some(command), unit));
        }
        types
    }

    /// Adds a type.
    fn add(&mut self, name: &str, info: TypeInfo) {
        self.order.add(name);
        self.info.insert(name.to_string(), info);
    }

    /// The type TYPE answered for a key (redis-cli's lookup, which also moves its dict's
    /// rehashing along): a known one, a new module type, or none for a key gone meanwhile.
    fn lookup(&mut self, name: &str) -> Option<String> {
        if self.order.find(name) {
            Some(name.to_string())
        } else if name != "none" {
            self.add(name, TypeInfo::new(None, "?"));
            Some(name.to_string())
        } else {
            None
        }
    }

    /// The types in summary order.
    fn in_order(&self) -> Vec<(&str, &TypeInfo)> {
        self.order
            .iter()
            .filter_map(|name| Some((name, self.info.get(name)?)))
            .collect()
    }
}

/// hiredis's `context->err` code for a failed connection, as redis-cli prints it.
fn error_code(e: &ConnectionError) -> i32 {
    match e {
        ConnectionError::Io(..) => 1,
        ConnectionError::Eof => 3,
        ConnectionError::Protocol(_) => 4,
    }
}

/// A line for stderr that ends the run with exit status 1.
fn fatal(parts: &[&[u8]]) -> anyhow::Error {
    Fatal(parts.concat()).into()
}

/// The fatal error for a pipeline whose reply for key `name` could not be read: what
/// (`type`, `size`) was being asked for, hiredis's error code and its text.
fn read_failed(what: &str, name: &[u8], e: &ConnectionError) -> anyhow::Error {
    let code = error_code(e).to_string();
    fatal(&[
        b"Error getting ",
        what.as_bytes(),
        b" for key '",
        name,
        b"' (",
        code.as_bytes(),
        b": ",
        e.errstr().as_bytes(),
        b")",
    ])
}

/// Scans the keyspace and prints what it found; returns the exit status.
pub fn run<W: Write>(session: &mut Session<W>, special: &Special, measure: Measure) -> Result<u8> {
    let mut types = Types::new();
    let total_keys = db_size(session)?;
    session.out().write_all(
        b"\n# Scanning the entire keyspace to find biggest keys as well as\n\
          # average sizes per key type.  You can use -i 0.1 to sleep 0.1 sec\n\
          # per 100 SCAN commands (not usually needed).\n\n",
    )?;
    let unit_of = |info: &TypeInfo| match measure {
        Measure::Elements => info.unit,
        Measure::Memory { .. } => "bytes",
    };

    let (mut sampled, mut total_length, mut cursor) = (0u64, 0u64, 0u64);
    loop {
        let pct = 100.0 * sampled as f64 / total_keys as f64;
        let keys = send_scan(session, &mut cursor, &special.options)?;
        let key_types = key_types(session, &mut types, &keys)?;
        let sizes = key_sizes(session, &types, &keys, &key_types, measure)?;

        let mut out = Vec::new();
        for ((key, kind), size) in keys.iter().zip(&key_types).zip(sizes) {
            let Some(info) = kind.as_ref().and_then(|k| types.info.get_mut(k)) else {
                continue;
            };
            let name = key_bytes(key);
            info.total += size;
            info.count += 1;
            total_length += name.len() as u64;
            sampled += 1;
            if info.biggest < size {
                let mut quoted = Vec::new();
                repr(&mut quoted, name);
                let kind = kind.as_deref().unwrap_or_default();
                write!(
                    out,
                    "[{}%] Biggest {kind:<6} found so far '",
                    c_float(pct, 5, 2, true)
                )?;
                out.extend_from_slice(&quoted);
                writeln!(out, "' with {size} {}", unit_of(info))?;
                info.biggest_key = Some(quoted);
                info.biggest = size;
            }
            if sampled % 1_000_000 == 0 {
                writeln!(
                    out,
                    "[{}%] Sampled {sampled} keys so far",
                    c_float(pct, 5, 2, true)
                )?;
            }
        }
        session.out().write_all(&out)?;
        session.out().flush()?;
        if sampled != 0 && sampled % 100 == 0 && special.interval_micros != 0 {
            sleep_micros(special.interval_micros);
        }
        if cursor == 0 {
            break;
        }
    }

    let mut out = Vec::new();
    out.extend_from_slice(b"\n-------- summary -------\n\n");
    writeln!(out, "Sampled {sampled} keys in the keyspace!")?;
    let average = if total_length == 0 {
        0.0
    } else {
        total_length as f64 / sampled as f64
    };
    writeln!(
        out,
        "Total key length in bytes is {total_length} (avg len {})\n",
        c_float(average, 0, 2, false)
    )?;
    let listed = types.in_order();
    for (name, info) in &listed {
        if let Some(key) = &info.biggest_key {
            write!(out, "Biggest {name:>6} found '")?;
            out.extend_from_slice(key);
            writeln!(out, "' has {} {}", info.biggest, unit_of(info))?;
        }
    }
    out.push(b'\n');
    for (name, info) in &listed {
        let share = if sampled == 0 {
            0.0
        } else {
            100.0 * info.count as f64 / sampled as f64
        };
        let average = if info.count == 0 {
            0.0
        } else {
            info.total as f64 / info.count as f64
        };
        writeln!(
            out,
            "{} {name}s with {} {} ({}% of keys, avg size {})",
            info.count,
            info.total,
            unit_of(info),
            c_float(share, 5, 2, true),
            c_float(average, 0, 2, false)
        )?;
    }
    session.out().write_all(&out)?;
    session.out().flush()?;
    Ok(0)
}

/// DBSIZE (redis-cli's `getDbSize`), as the C `int` it keeps, widened to unsigned.
fn db_size<W: Write>(session: &mut Session<W>) -> Result<u64> {
    match call::command_or_exit(session, &[b"DBSIZE".to_vec()])? {
        Reply::Integer(n) => Ok(i64::from(n as i32) as u64),
        Reply::Error(text) => Err(fatal(&[b"Couldn't determine DBSIZE: ", c_str(&text)])),
        _ => Err(fatal(&[b"Non INTEGER response from DBSIZE!"])),
    }
}

/// Each key's type, asked for in one pipeline (`getKeyTypes`); `None` for a key gone since
/// SCAN.
fn key_types<W: Write>(
    session: &mut Session<W>,
    types: &mut Types,
    keys: &[Reply],
) -> Result<Vec<Option<String>>> {
    for key in keys {
        call::append(session, &[b"TYPE".to_vec(), key_bytes(key).to_vec()]);
    }
    let mut found = Vec::with_capacity(keys.len());
    for key in keys {
        let name = c_str(key_bytes(key));
        let kind = match call::read(session) {
            Err(e) => return Err(read_failed("type", name, &e)),
            Ok(Reply::Status(kind)) => kind,
            Ok(Reply::Error(text)) => {
                return Err(fatal(&[b"TYPE returned an error: ", c_str(&text)]));
            }
            Ok(other) => {
                let number = other.type_number().to_string();
                return Err(fatal(&[
                    b"Invalid reply type (",
                    number.as_bytes(),
                    b") for TYPE on key '",
                    name,
                    b"'!",
                ]));
            }
        };
        found.push(types.lookup(&String::from_utf8_lossy(c_str(&kind))));
    }
    Ok(found)
}

/// The command that gives a key's size, if it has one: `None` for a key gone since SCAN,
/// or of a module's type under `--bigkeys`.
fn size_args(info: Option<&TypeInfo>, measure: Measure, key: &[u8]) -> Option<Vec<Vec<u8>>> {
    let info = info?;
    let key = key.to_vec();
    Some(match measure {
        Measure::Elements => vec![info.size_command?.into(), key],
        Measure::Memory { samples: 0 } => vec![b"MEMORY".to_vec(), b"USAGE".to_vec(), key],
        Measure::Memory { samples } => vec![
            b"MEMORY".to_vec(),
            b"USAGE".to_vec(),
            key,
            b"SAMPLES".to_vec(),
            samples.to_string().into_bytes(),
        ],
    })
}

/// Each key's size, asked for in one pipeline (`getKeySizes`): 0 where [`size_args`] has no
/// command, and (with a warning) where the command fails.
fn key_sizes<W: Write>(
    session: &mut Session<W>,
    types: &Types,
    keys: &[Reply],
    key_types: &[Option<String>],
    measure: Measure,
) -> Result<Vec<u64>> {
    let queries: Vec<Option<Vec<Vec<u8>>>> = keys
        .iter()
        .zip(key_types)
        .map(|(key, kind)| {
            let info = kind.as_deref().and_then(|k| types.info.get(k));
            size_args(info, measure, key_bytes(key))
        })
        .collect();
    for args in queries.iter().flatten() {
        call::append(session, args);
    }
    let mut sizes = Vec::with_capacity(keys.len());
    for (key, query) in keys.iter().zip(&queries) {
        let Some(args) = query else {
            sizes.push(0);
            continue;
        };
        let name = c_str(key_bytes(key));
        match call::read(session) {
            Err(e) => return Err(read_failed("size", name, &e)),
            Ok(Reply::Integer(n)) => sizes.push(n as u64),
            Ok(_) => {
                // The key may have been replaced by one of another type meanwhile.
                let command: &[u8] = match measure {
                    Measure::Elements => &args[0],
                    Measure::Memory { .. } => b"MEMORY USAGE",
                };
                let line = [
                    b"Warning:  ",
                    command,
                    b" on '",
                    name,
                    b"' failed (may have changed type)\n",
                ]
                .concat();
                io::stderr().write_all(&line)?;
                sizes.push(0);
            }
        }
    }
    Ok(sizes)
}
