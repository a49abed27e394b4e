//! `--scan`: every key of the database (or those matching `--pattern`), one per line, as
//! redis-cli's `scanMode` lists them: quoted (`"a b"`) in the human-readable output mode, as
//! C's `%s` prints them (up to a NUL byte) otherwise. With `-i`, it sleeps that long after
//! each SCAN call.
//!
//! [`send_scan`] is redis-cli's `sendScan`, which `--bigkeys` and `--memkeys` share: SCAN with
//! MATCH when there is a pattern (and kv-cli's COUNT and TYPE when asked for), each failure
//! ending the run with redis-cli's message.

use std::io::Write;
use std::time::Duration;

use anyhow::Result;

use crate::cnum::strtol;
use crate::format::escape::repr;
use crate::format::{c_str, OutputMode};
use crate::modes::call;
use crate::modes::special::{ModeOptions, Special};
use crate::reply::Reply;
use crate::session::{Fatal, Session};

/// Lists the keys; returns the exit status.
pub fn run<W: Write>(session: &mut Session<W>, special: &Special) -> Result<u8> {
    let mut cursor = 0u64;
    loop {
        let keys = send_scan(session, &mut cursor, &special.options)?;
        let mut out = Vec::new();
        for key in &keys {
            let name = key_bytes(key);
            if special.output == OutputMode::Standard {
                repr(&mut out, name);
            } else {
                out.extend_from_slice(c_str(name));
            }
            out.push(b'\n');
        }
        session.out().write_all(&out)?;
        session.out().flush()?;
        if special.interval_micros != 0 {
            sleep_micros(special.interval_micros);
        }
        if cursor == 0 {
            return Ok(0);
        }
    }
}

/// A key of SCAN's reply as bytes (hiredis's `element->str`: a string, or a status line).
pub fn key_bytes(key: &Reply) -> &[u8] {
    match key {
        Reply::String(bytes) | Reply::Status(bytes) | Reply::Error(bytes) => bytes,
        Reply::Double(text) | Reply::BigNumber(text) => text,
        Reply::Verbatim { text, .. } => text,
        _ => b"",
    }
}

/// One SCAN call from `cursor`, which it moves on; returns the keys. A failure ends the run
/// as redis-cli's `sendScan` ends it.
pub fn send_scan<W: Write>(
    session: &mut Session<W>,
    cursor: &mut u64,
    options: &ModeOptions,
) -> Result<Vec<Reply>> {
    let mut args = vec![b"SCAN".to_vec(), cursor.to_string().into_bytes()];
    if let Some(pattern) = &options.pattern {
        args.extend([b"MATCH".to_vec(), pattern.clone()]);
    }
    if let Some(count) = options.count {
        args.extend([b"COUNT".to_vec(), count.to_string().into_bytes()]);
    }
    if let Some(kind) = &options.scan_type {
        args.extend([b"TYPE".to_vec(), kind.clone()]);
    }
    let fatal = |message: &[u8]| -> anyhow::Error { Fatal(message.to_vec()).into() };
    let items = match call::command_or_exit(session, &args)? {
        Reply::Error(text) => {
            let mut message = b"SCAN error: ".to_vec();
            message.extend_from_slice(c_str(&text));
            return Err(fatal(&message));
        }
        Reply::Array(items) => items,
        _ => return Err(fatal(b"Non ARRAY response from SCAN!")),
    };
    let [next, keys] =
        <[Reply; 2]>::try_from(items).map_err(|_| fatal(b"Invalid element count from SCAN!"))?;
    // redis-cli asserts these types (and aborts); kv-cli says what it got instead.
    let (Reply::String(next), Reply::Array(keys)) = (next, keys) else {
        return Err(fatal(b"Unexpected reply types from SCAN!"));
    };
    // strtoull: a cursor is taken as its leading digits.
    *cursor = strtoull(&next);
    Ok(keys)
}

/// C's `strtoull(text, NULL, 10)` for a cursor: its leading decimal digits, saturating.
fn strtoull(text: &[u8]) -> u64 {
    let parsed = strtol(text);
    if parsed.end == 0 {
        return 0;
    }
    let digits: Vec<u8> = text
        .iter()
        .copied()
        .skip_while(|c| c.is_ascii_whitespace() || *c == b'+')
        .take_while(u8::is_ascii_digit)
        .collect();
    std::str::from_utf8(&digits)
        .ok()
        .and_then(|d| d.parse::<u64>().ok())
        .unwrap_or(u64::MAX)
}

/// `usleep(micros)`, with the C conversion of a long to its unsigned int argument.
pub fn sleep_micros(micros: i64) {
    std::thread::sleep(Duration::from_micros(u64::from(micros as u32)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_as_strtoull_reads_them() {
        assert_eq!(strtoull(b"0"), 0);
        assert_eq!(strtoull(b"17"), 17);
        assert_eq!(strtoull(b"18446744073709551615"), u64::MAX);
        assert_eq!(strtoull(b"12abc"), 12);
        assert_eq!(strtoull(b"abc"), 0);
    }
}
