//! How the special modes talk to the server: one command and its reply, as hiredis's
//! `redisCommand` gives it, or redis-cli's `reconnectingRedisCommand`, which waits for a
//! server that went away; and the C `printf` details their output shares.

use std::io::Write;
use std::time::Duration;

use anyhow::Result;

use crate::connection::ConnectionError;
use crate::reply::Reply;
use crate::session::{Fatal, Session};

/// Sends a command and reads its reply; `Err` when the connection failed (or there is none).
pub fn command<W: Write>(
    session: &mut Session<W>,
    args: &[Vec<u8>],
) -> Result<Reply, ConnectionError> {
    let conn = session.connection().ok_or(ConnectionError::Eof)?;
    conn.send(args);
    conn.read()
}

/// [`command`], where a failed connection ends the run as redis-cli's modes end it: "I/O
/// error" on stderr after a blank line, exit status 1.
pub fn command_or_exit<W: Write>(session: &mut Session<W>, args: &[Vec<u8>]) -> Result<Reply> {
    command(session, args).map_err(|_| Fatal(b"\nI/O error".to_vec()).into())
}

/// Sends a command queued behind others (hiredis's `redisAppendCommand`): its reply is read
/// later with [`read`], in order.
pub fn append<W: Write>(session: &mut Session<W>, args: &[Vec<u8>]) {
    if let Some(conn) = session.connection() {
        conn.send(args);
    }
}

/// The next reply of those [`append`]ed.
pub fn read<W: Write>(session: &mut Session<W>) -> Result<Reply, ConnectionError> {
    session.connection().ok_or(ConnectionError::Eof)?.read()
}

/// redis-cli's `reconnectingRedisCommand`: while the connection is down (closed or reset),
/// prints "Reconnecting... N" on one self-erasing line and tries again every second; any other
/// failure ends the run with "Error: ..." and exit status 1.
pub fn reconnecting<W: Write>(session: &mut Session<W>, args: &[Vec<u8>]) -> Result<Reply> {
    let mut tries = 0u32;
    loop {
        while is_down(session) {
            tries += 1;
            let out = session.out();
            // Cursor to the left edge, clear the line.
            write!(out, "\r\x1b[0KReconnecting... {tries}\r")?;
            out.flush()?;
            session.connect(true, true)?;
            std::thread::sleep(Duration::from_secs(1));
        }
        match command(session, args) {
            Ok(reply) => {
                if tries > 0 {
                    session.out().write_all(b"\r\x1b[0K")?;
                }
                return Ok(reply);
            }
            Err(e) if !e.is_dropped() => {
                return Err(Fatal(format!("Error: {}", e.errstr()).into_bytes()).into());
            }
            // The connection keeps the error: the loop above reconnects.
            Err(_) => {}
        }
    }
}

/// Whether there is no connection, or the one there is was closed or reset.
fn is_down<W: Write>(session: &mut Session<W>) -> bool {
    match session.connection() {
        None => true,
        Some(conn) => conn.error().is_some_and(ConnectionError::is_dropped),
    }
}

/// C's `printf("%W.Pf", x)` (`zero_pad` for `%0W.Pf`): Rust's formatting rounds finite values
/// the same way; infinities and NaN are spelled as glibc spells them, padded with spaces.
pub fn c_float(x: f64, width: usize, precision: usize, zero_pad: bool) -> String {
    if x.is_finite() {
        if zero_pad {
            format!("{x:0width$.precision$}")
        } else {
            format!("{x:width$.precision$}")
        }
    } else {
        let text = if x.is_nan() {
            if x.is_sign_negative() {
                "-nan"
            } else {
                "nan"
            }
        } else if x < 0.0 {
            "-inf"
        } else {
            "inf"
        };
        format!("{text:>width$}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_float_as_printf() {
        assert_eq!(c_float(0.0, 5, 2, true), "00.00");
        assert_eq!(c_float(12.5, 5, 2, true), "12.50");
        assert_eq!(c_float(100.0, 5, 2, true), "100.00");
        assert_eq!(c_float(0.125, 0, 2, false), "0.12");
        assert_eq!(c_float(f64::NAN, 5, 2, true), "  nan");
        assert_eq!(c_float(f64::INFINITY, 5, 2, true), "  inf");
        assert_eq!(c_float(f64::NEG_INFINITY, 0, 2, false), "-inf");
    }
}
