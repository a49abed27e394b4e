//! `MONITOR`: clients that receive every command the server runs, as Redis's status lines.
//!
//! Each line goes into every monitor's [`Mailbox`], so a monitor that reads slowly never slows
//! the clients whose commands it watches, and one that falls too far behind is disconnected.

use crate::clients::Peer;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::RwLock;

use crate::connection::Connection;
use crate::mailbox::Mailbox;

/// Every monitoring client.
#[derive(Debug, Default)]
pub struct Monitors {
    list: RwLock<Vec<Arc<Mailbox>>>,
    /// `list.len()`, read without the lock on every command.
    count: AtomicUsize,
}

impl Monitors {
    /// Whether anyone is monitoring: the only cost of MONITOR to a command when nobody is.
    pub fn any(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    /// Registers the client of `mailbox` as a monitor.
    pub fn add(&self, mailbox: Arc<Mailbox>) {
        let mut list = self.list.write();
        list.push(mailbox);
        self.count.store(list.len(), Ordering::Relaxed);
    }

    /// Forgets the monitor of client `id`, if it is one.
    pub fn remove(&self, id: u64) {
        let mut list = self.list.write();
        list.retain(|m| m.client().id != id);
        self.count.store(list.len(), Ordering::Relaxed);
    }

    /// Sends `line` to every monitor.
    pub fn feed(&self, line: Bytes) {
        for monitor in self.list.read().iter() {
            monitor.push(&line);
        }
    }
}

/// The line monitors see for a command: `+<unix seconds>.<micros> [<db> <ip:port>] "arg" ...`
/// (`[<db> unix:<path>]` for a client of the unix socket).
pub fn format_line(db: usize, peer: &Peer, args: &[&[u8]]) -> Bytes {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let (secs, micros) = (now.as_secs(), now.subsec_micros());
    let mut line = match peer {
        Peer::Tcp(addr) => format!("+{secs}.{micros:06} [{db} {addr}] "),
        Peer::Unix(path) => format!("+{secs}.{micros:06} [{db} unix:{path}] "),
    }
    .into_bytes();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            line.push(b' ');
        }
        kv_resp::repr(&mut line, arg);
    }
    line.extend_from_slice(b"\r\n");
    Bytes::from(line)
}

/// `MONITOR`: from now on the connection receives every command. A second MONITOR is
/// ignored without a reply, as in Redis.
pub fn start(conn: &mut Connection) {
    if conn.monitoring {
        return;
    }
    let mailbox = conn.mailbox();
    conn.shared.monitors.add(mailbox);
    conn.monitoring = true;
    conn.handle.state.lock().monitor = true;
    conn.reply.ok();
}

/// Leaves monitor mode (RESET, or the connection closing).
pub fn stop(conn: &mut Connection) {
    if conn.monitoring {
        conn.monitoring = false;
        conn.shared.monitors.remove(conn.handle.id);
        conn.handle.state.lock().monitor = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_carry_time_db_and_peer() {
        let peer = Peer::Tcp("127.0.0.1:4242".parse().unwrap());
        let line = format_line(3, &peer, &[b"SET", b"k"]);
        let text = std::str::from_utf8(&line).unwrap();
        let (time, rest) = text[1..].split_once(' ').unwrap();
        let (secs, micros) = time.split_once('.').unwrap();
        assert!(secs.parse::<u64>().unwrap() > 1_600_000_000);
        assert_eq!(micros.len(), 6);
        assert_eq!(rest, "[3 127.0.0.1:4242] \"SET\" \"k\"\r\n");
    }

    #[test]
    fn a_unix_socket_client_shows_as_unix_and_the_path() {
        let line = format_line(0, &Peer::Unix("/tmp/kv.sock".into()), &[b"PING"]);
        let text = std::str::from_utf8(&line).unwrap();
        assert!(
            text.ends_with(" [0 unix:/tmp/kv.sock] \"PING\"\r\n"),
            "{text}"
        );
    }
}
