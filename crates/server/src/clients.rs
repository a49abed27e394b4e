//! The registry of connected clients, and the `CLIENT` command.

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use dashmap::DashMap;
use parking_lot::Mutex;
use tokio::sync::Notify;

/// One end of a client's connection: a TCP address, or the server's unix socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// An address and port.
    Tcp(SocketAddr),
    /// The path of the server's `unixsocket` (both ends of a unix connection show it).
    Unix(Arc<str>),
}

impl Peer {
    /// Redis's `islocalClient`: a unix socket, or a TCP client from 127.0.0.1 or ::1 (what
    /// `enable-debug-command local` admits).
    pub fn is_local(&self) -> bool {
        match self {
            Peer::Tcp(addr) => {
                let ip = addr.ip();
                ip == std::net::Ipv4Addr::LOCALHOST || ip == std::net::Ipv6Addr::LOCALHOST
            }
            Peer::Unix(_) => true,
        }
    }

    /// Whether protected mode lets this client in: a unix socket, or any loopback address.
    pub fn is_loopback(&self) -> bool {
        match self {
            Peer::Tcp(addr) => addr.ip().is_loopback(),
            Peer::Unix(_) => true,
        }
    }
}

/// As `CLIENT LIST` shows it: `ip:port`, or for a unix socket `path:0`.
impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Tcp(addr) => addr.fmt(f),
            Peer::Unix(path) => write!(f, "{path}:0"),
        }
    }
}

/// What other connections may see or change about a client.
#[derive(Debug)]
pub struct ClientHandle {
    /// Unique, increasing id (`CLIENT ID`).
    pub id: u64,
    /// The peer's address.
    pub addr: Peer,
    /// Our side of the connection.
    pub laddr: Peer,
    /// The socket's file descriptor, for `CLIENT LIST`.
    pub fd: i64,
    /// When the connection was accepted.
    pub created: Instant,
    /// Fields the connection updates as it goes.
    pub state: Mutex<ClientState>,
    /// Set when someone asked this client to close.
    pub killed: AtomicBool,
    /// Wakes the connection when it is killed.
    pub kill: Notify,
    /// The connection's mailbox, once it has one: where other connections deliver to it
    /// (invalidations redirected to it).
    pub mailbox: std::sync::OnceLock<std::sync::Weak<crate::mailbox::Mailbox>>,
}

/// The mutable part of a client's description.
#[derive(Debug, Clone)]
pub struct ClientState {
    /// `CLIENT SETNAME` name.
    pub name: Option<Bytes>,
    /// Selected database.
    pub db: usize,
    /// Protocol version (2 or 3).
    pub resp: u8,
    /// The last command: its container (for a subcommand) and its name.
    pub last_command: (Option<&'static str>, &'static str),
    /// When the last command ran.
    pub last_interaction: Instant,
    /// Bytes buffered but not yet parsed.
    pub query_buffer: usize,
    /// Whether eviction must spare this client.
    pub no_evict: bool,
    /// Whether the client is in MONITOR mode (flag `O`).
    pub monitor: bool,
    /// Channels, patterns and shard channels it subscribes to (`sub=`, `psub=`, `ssub=`;
    /// flag `P` when any).
    pub subscriptions: (usize, usize, usize),
    /// With tracking on, the client its invalidations are redirected to (0: none; `redir=`,
    /// flag `t`).
    pub tracking_redirect: Option<u64>,
    /// Tracking in BCAST mode (flag `B`).
    pub tracking_bcast: bool,
    /// The client invalidations are redirected to is gone (flag `R`).
    pub tracking_broken: bool,
    /// Commands queued, while the client is inside MULTI (`multi=`; flag `x`).
    pub multi: Option<usize>,
    /// Whether the client is waiting for a `CLIENT PAUSE` to end (flag `b`).
    pub blocked: bool,
    /// The wait of a blocking command (BLPOP, ...) it is in (flag `b`), for CLIENT UNBLOCK.
    pub waiter: Option<Arc<kv_engine::Waiter>>,
}

impl ClientState {
    /// The `flags` field of `CLIENT LIST`, in Redis's letter order (`N` when none applies);
    /// `unix`: whether the client came through the unix socket (`U`).
    fn flags(&self, unix: bool) -> String {
        let mut flags = String::new();
        if self.monitor {
            flags.push('O');
        }
        if self.subscriptions != (0, 0, 0) {
            flags.push('P');
        }
        if self.multi.is_some() {
            flags.push('x');
        }
        if self.blocked || self.waiter.is_some() {
            flags.push('b');
        }
        if self.tracking_redirect.is_some() {
            flags.push('t');
        }
        if self.tracking_broken {
            flags.push('R');
        }
        if self.tracking_bcast {
            flags.push('B');
        }
        if unix {
            flags.push('U');
        }
        if self.no_evict {
            flags.push('e');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        flags
    }
}

/// The size a connection's reply buffer is counted at (Redis's `PROTO_REPLY_CHUNK_BYTES`).
const REPLY_BUFFER: usize = 16 * 1024;

impl ClientHandle {
    /// Redis's class of the client, as `CLIENT LIST TYPE` and `CLIENT KILL TYPE` match it:
    /// `pubsub` while it subscribes to anything, else `normal` (kv has no replicas or masters
    /// yet; a MONITOR client is `normal`, as in Redis).
    pub fn client_type(&self) -> &'static str {
        if self.state.lock().subscriptions != (0, 0, 0) {
            "pubsub"
        } else {
            "normal"
        }
    }

    /// Asks the connection to close; it does so at its next wake-up.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.kill.notify_one();
    }

    /// Bytes of its buffers (`tot-mem`): a 16 KiB reply buffer and its query buffer.
    pub fn memory(&self) -> usize {
        REPLY_BUFFER + self.state.lock().query_buffer
    }

    /// The line `CLIENT LIST` and `CLIENT INFO` print for this client, in Redis's field order.
    pub fn describe(&self) -> String {
        let state = self.state.lock().clone();
        let now = Instant::now();
        let name = state
            .name
            .as_ref()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default();
        let qbuf = state.query_buffer;
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs={} rbp={} obl=0 oll=0 omem=0 tot-mem={} events=r cmd={} user=default redir={} resp={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            name,
            now.duration_since(self.created).as_secs(),
            now.duration_since(state.last_interaction).as_secs(),
            state.flags(matches!(self.addr, Peer::Unix(_))),
            state.db,
            state.subscriptions.0,
            state.subscriptions.1,
            state.subscriptions.2,
            state.multi.map_or(-1, |n| n as i64),
            qbuf,
            REPLY_BUFFER.saturating_sub(qbuf.min(REPLY_BUFFER)),
            REPLY_BUFFER,
            qbuf,
            REPLY_BUFFER + qbuf,
            match state.last_command {
                (_, "") => "NULL".to_string(),
                (Some(container), name) => format!("{container}|{name}"),
                (None, name) => name.to_string(),
            },
            state.tracking_redirect.map_or(-1, |id| id as i64),
            state.resp,
        )
    }

    /// The connection's mailbox, if it has one.
    pub fn mailbox(&self) -> Option<Arc<crate::mailbox::Mailbox>> {
        self.mailbox.get().and_then(std::sync::Weak::upgrade)
    }
}

/// Connected clients by id.
#[derive(Debug, Default)]
pub struct Clients {
    by_id: DashMap<u64, Arc<ClientHandle>>,
    next_id: AtomicU64,
}

impl Clients {
    /// Registers a new connection and returns its handle.
    pub fn register(&self, addr: Peer, laddr: Peer, fd: i64) -> Arc<ClientHandle> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let now = Instant::now();
        let handle = Arc::new(ClientHandle {
            id,
            addr,
            laddr,
            fd,
            created: now,
            state: Mutex::new(ClientState {
                name: None,
                db: 0,
                resp: 2,
                last_command: (None, ""),
                last_interaction: now,
                query_buffer: 0,
                no_evict: false,
                multi: None,
                tracking_redirect: None,
                tracking_bcast: false,
                tracking_broken: false,
                monitor: false,
                subscriptions: (0, 0, 0),
                blocked: false,
                waiter: None,
            }),
            killed: AtomicBool::new(false),
            kill: Notify::new(),
            mailbox: std::sync::OnceLock::new(),
        });
        self.by_id.insert(id, handle.clone());
        handle
    }

    /// Forgets a closed connection.
    pub fn unregister(&self, id: u64) {
        self.by_id.remove(&id);
    }

    /// How many clients are connected.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether no client is connected.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// The client with `id`, if connected.
    pub fn get(&self, id: u64) -> Option<Arc<ClientHandle>> {
        self.by_id.get(&id).map(|c| c.value().clone())
    }

    /// Every client, ordered by id.
    pub fn all(&self) -> Vec<Arc<ClientHandle>> {
        let mut all: Vec<_> = self.by_id.iter().map(|e| e.value().clone()).collect();
        all.sort_by_key(|c| c.id);
        all
    }

    /// Closes every connection (shutdown).
    pub fn kill_all(&self) {
        for client in self.by_id.iter() {
            client.kill();
        }
    }
}

/// Whether `name` is acceptable to `CLIENT SETNAME`: printable ASCII without spaces.
pub fn valid_name(name: &[u8]) -> bool {
    name.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(addr: &str) -> Peer {
        Peer::Tcp(addr.parse().unwrap())
    }

    #[test]
    fn local_peers_are_the_unix_socket_and_the_loopback_addresses() {
        assert!(tcp("127.0.0.1:1").is_local());
        assert!(tcp("[::1]:1").is_local());
        assert!(!tcp("127.0.0.2:1").is_local());
        assert!(tcp("127.0.0.2:1").is_loopback());
        assert!(!tcp("10.0.0.1:1").is_local());
        assert!(!tcp("10.0.0.1:1").is_loopback());
        let unix = Peer::Unix("/tmp/kv.sock".into());
        assert!(unix.is_local() && unix.is_loopback());
        assert_eq!(unix.to_string(), "/tmp/kv.sock:0");
        assert_eq!(tcp("[::1]:6379").to_string(), "[::1]:6379");
    }
}
