//! `--stat`: a rolling line of the server's figures every `-i` seconds (1 by default), from
//! INFO, as redis-cli 7.0's `statMode` prints it: keys (all databases), memory used, clients,
//! blocked clients, requests processed (and how many since the last line), connections
//! received, and a SAVE/AOF/LOAD note while one runs. The two header lines come first and
//! every 20 lines. An error reply ends the run ("ERROR: ..."); a server that goes away is waited
//! for ("Reconnecting...").
//!
//! Fields are found as redis-cli finds them, by the first occurrence of their name anywhere in
//! INFO's text (so `bgsave_in_progress` is read from `rdb_bgsave_in_progress`).

use std::io::Write;

use anyhow::Result;

use crate::cnum::strtol;
use crate::format::c_str;
use crate::modes::call;
use crate::modes::scan::{key_bytes, sleep_micros};
use crate::modes::special::Special;
use crate::reply::Reply;
use crate::session::{Fatal, Session};

/// The two header lines.
pub const HEADER: &str = "------- data ------ --------------------- load -------------------- - child -\n\
                          keys       mem      clients blocked requests            connections          \n";

/// Prints the figures until interrupted (or an error); returns the exit status.
pub fn run<W: Write>(session: &mut Session<W>, special: &Special) -> Result<u8> {
    let interval = if special.interval_micros == 0 {
        1_000_000
    } else {
        special.interval_micros
    };
    let mut previous_requests = 0i64;
    for line_number in 0u64.. {
        let info = match call::reconnecting(session, &[b"INFO".to_vec()])? {
            Reply::Error(text) => {
                let mut message = b"ERROR: ".to_vec();
                message.extend_from_slice(c_str(&text));
                message.push(b'\n');
                session.out().write_all(&message)?;
                session.out().flush()?;
                return Err(Fatal(Vec::new()).into());
            }
            reply => c_str(key_bytes(&reply)).to_vec(),
        };
        let out = session.out();
        if line_number % 20 == 0 {
            out.write_all(HEADER.as_bytes())?;
        }
        out.write_all(line(&info, &mut previous_requests).as_bytes())?;
        out.flush()?;
        sleep_micros(interval);
    }
    Ok(0)
}

/// One line of figures from INFO's text; `previous_requests` is the last line's request count
/// (0 on the first line), updated.
pub fn line(info: &[u8], previous_requests: &mut i64) -> String {
    let keys: i64 = (0..20)
        .filter_map(|db| long_field(info, format!("db{db}:keys").as_bytes()))
        .sum();
    let keys = keys.to_string();
    let memory = bytes_to_human(long_field(info, b"used_memory").unwrap_or(i64::MIN), &keys);
    let field = |name: &[u8]| long_field(info, name).unwrap_or(i64::MIN);
    let requests = field(b"total_commands_processed");
    let delta = if *previous_requests == 0 {
        0
    } else {
        requests.wrapping_sub(*previous_requests)
    };
    *previous_requests = requests;
    let requests = format!("{requests} (+{delta})");
    let mut line = format!(
        "{keys:<11}{memory:<8} {:<8}{:<8}{requests:<19} {:<12}",
        field(b"connected_clients"),
        field(b"blocked_clients"),
        field(b"total_connections_received"),
    );
    let children = field(b"bgsave_in_progress")
        | field(b"aof_rewrite_in_progress") << 1
        | field(b"loading") << 2;
    line.push_str(match children {
        1 => "SAVE",
        2 => "AOF",
        3 => "SAVE+AOF",
        4 => "LOAD",
        _ => "",
    });
    line.push('\n');
    line
}

/// redis-cli's `getInfoField`: the text after the first occurrence of `name` and one more
/// byte (the colon), up to a CR or a comma.
pub fn info_field<'a>(info: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let at = info.windows(name.len()).position(|w| w == name)?;
    let rest = info.get(at + name.len() + 1..).unwrap_or_default();
    let end = rest
        .iter()
        .position(|&b| b == b'\r' || b == b',')
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

/// `getLongInfoField`: the field read with `strtol`; `None` when it is missing.
pub fn long_field(info: &[u8], name: &[u8]) -> Option<i64> {
    info_field(info, name).map(|value| strtol(value).value)
}

/// redis-cli's `bytesToHuman`: `100B`, `2.00K`, `1.50M`, `3.25G`. From a terabyte on it writes
/// nothing, so its buffer keeps what was there (`previous`, the keys column).
pub fn bytes_to_human(n: i64, previous: &str) -> String {
    if n < 0 {
        let magnitude = n.wrapping_neg();
        if magnitude < 0 {
            // LONG_MIN stays negative once negated in C.
            return format!("-{magnitude}B");
        }
        let rest = bytes_to_human(magnitude, previous.get(1..).unwrap_or_default());
        return format!("-{rest}");
    }
    const K: i64 = 1024;
    let d = n as f64;
    if n < K {
        format!("{n}B")
    } else if n < K * K {
        format!("{:.2}K", d / K as f64)
    } else if n < K * K * K {
        format!("{:.2}M", d / (K * K) as f64)
    } else if n < K * K * K * K {
        format!("{:.2}G", d / (K * K * K) as f64)
    } else {
        previous.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &[u8] = b"# Server\r\nredis_version:7.0.15\r\n\
        # Clients\r\nconnected_clients:3\r\nblocked_clients:1\r\n\
        # Memory\r\nused_memory:1465192\r\nused_memory_human:1.40M\r\n\
        # Persistence\r\nloading:0\r\nasync_loading:0\r\nrdb_bgsave_in_progress:1\r\n\
        aof_rewrite_in_progress:0\r\n\
        # Stats\r\ntotal_connections_received:24\r\ntotal_commands_processed:535\r\n\
        # Keyspace\r\ndb0:keys=9,expires=0,avg_ttl=0\r\ndb3:keys=2,expires=1,avg_ttl=5\r\n";

    #[test]
    fn fields_as_redis_cli_finds_them() {
        assert_eq!(info_field(INFO, b"used_memory"), Some(&b"1465192"[..]));
        assert_eq!(info_field(INFO, b"db0:keys"), Some(&b"9"[..]));
        assert_eq!(long_field(INFO, b"bgsave_in_progress"), Some(1));
        assert_eq!(long_field(INFO, b"db1:keys"), None);
    }

    #[test]
    fn lines_as_redis_cli_prints_them() {
        let mut previous = 0;
        assert_eq!(
            line(INFO, &mut previous),
            "11         1.40M    3       1       535 (+0)            24          SAVE\n"
        );
        let later = String::from_utf8_lossy(INFO).replace(":535", ":540");
        assert_eq!(
            line(later.as_bytes(), &mut previous),
            "11         1.40M    3       1       540 (+5)            24          SAVE\n"
        );
        assert_eq!(HEADER.lines().count(), 2);
    }

    #[test]
    fn human_bytes() {
        assert_eq!(bytes_to_human(0, ""), "0B");
        assert_eq!(bytes_to_human(1023, ""), "1023B");
        assert_eq!(bytes_to_human(1024, ""), "1.00K");
        assert_eq!(bytes_to_human(1_465_192, ""), "1.40M");
        assert_eq!(bytes_to_human(3 << 30, ""), "3.00G");
        assert_eq!(bytes_to_human(-2048, ""), "-2.00K");
        assert_eq!(bytes_to_human(1 << 40, "12"), "12");
    }
}
