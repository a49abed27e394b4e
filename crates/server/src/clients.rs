//! The registry of connected clients, and the `CLIENT` command.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::AtomicPtr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, RawWakerVTable, Waker};
use std::time::Instant;

use bytes::Bytes;
use dashmap::DashMap;
use parking_lot::Mutex;

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
    /// Set when someone asked this client to close; wakes the connection.
    pub kill: KillSwitch,
    /// Bytes of the connection's query and reply buffers as it last published them
    /// ([`Clients::set_buffers`]): `tot-mem`, and what `maxmemory-clients` limits.
    buffers: AtomicU64,
    /// The connection's mailbox, once it has one: where other connections deliver to it
    /// (invalidations redirected to it).
    pub mailbox: std::sync::OnceLock<std::sync::Weak<crate::mailbox::Mailbox>>,
    /// Reply bytes the connection is writing out (0 between writes): with what waits in its
    /// mailbox, the output CLIENT LIST shows (`obl`, `oll`, `omem`, `events=rw`).
    pub output_pending: AtomicU64,
}

/// Redis's fixed reply buffer of a client: output up to this size is `obl`, what is over it
/// goes to its list of reply chunks of (at least) this size (`oll`, `omem`), and counts
/// against `client-output-buffer-limit`.
pub const REPLY_STATIC_BUFFER: usize = 16 * 1024;

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
    /// Bytes of the arguments of the command running, while a server command reads them
    /// (`argv-mem`; 0 between commands).
    pub argv_mem: usize,
    /// The query buffer's allocated bytes (`qbuf` plus `qbuf-free`).
    pub query_capacity: usize,
    /// The reply buffer's allocated bytes (`rbs`).
    pub reply_capacity: usize,
    /// The most reply bytes one write carried since the reply buffer was last sized (`rbp`).
    pub reply_peak: usize,
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
    /// Their memory (`multi-mem`; see `Transaction::memory`).
    pub multi_mem: usize,
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
        self.kill.trip();
    }

    /// Bytes of its buffers (`tot-mem`): its query and reply buffers, as allocated.
    pub fn memory(&self) -> usize {
        self.buffers.load(Ordering::Relaxed) as usize
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
        let pending = self.output_pending.load(Ordering::Relaxed) as usize
            + self.mailbox().map_or(0, |m| m.len());
        let over = pending.saturating_sub(REPLY_STATIC_BUFFER);
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free={} argv-mem={} multi-mem={} rbs={} rbp={} obl={} oll={} omem={} tot-mem={} events={} cmd={} user=default redir={} resp={}",
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
            state.query_capacity.saturating_sub(qbuf),
            state.argv_mem,
            state.multi_mem,
            state.reply_capacity,
            state.reply_peak,
            pending.min(REPLY_STATIC_BUFFER),
            over.div_ceil(REPLY_STATIC_BUFFER),
            over,
            self.memory(),
            if pending > 0 { "rw" } else { "r" },
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

/// How long a client must have been idle before the cron asks it to give its empty buffers
/// back, as Redis's client cron frees the query buffer of a client idle for more than 2 s.
pub const IDLE_RELEASE: std::time::Duration = std::time::Duration::from_secs(2);

/// Connected clients by id.
#[derive(Debug, Default)]
pub struct Clients {
    by_id: DashMap<u64, Arc<ClientHandle>>,
    next_id: AtomicU64,
    /// The sum of every client's published buffers (see [`ClientHandle::memory`]).
    memory: AtomicU64,
    /// Clients closed by `maxmemory-clients` (INFO's `evicted_clients`).
    pub evicted: AtomicU64,
    /// Held while clients are being evicted: one thread at a time chooses.
    evicting: Mutex<()>,
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
                argv_mem: 0,
                query_capacity: 0,
                reply_capacity: 0,
                reply_peak: 0,
                no_evict: false,
                multi: None,
                multi_mem: 0,
                tracking_redirect: None,
                tracking_bcast: false,
                tracking_broken: false,
                monitor: false,
                subscriptions: (0, 0, 0),
                blocked: false,
                waiter: None,
            }),
            kill: KillSwitch::default(),
            buffers: AtomicU64::new(0),
            mailbox: std::sync::OnceLock::new(),
            output_pending: AtomicU64::new(0),
        });
        self.by_id.insert(id, handle.clone());
        handle
    }

    /// Forgets a closed connection.
    pub fn unregister(&self, id: u64) {
        if let Some((_, handle)) = self.by_id.remove(&id) {
            self.set_buffers(&handle, 0);
        }
    }

    /// Publishes the bytes of `client`'s buffers: its `tot-mem`, and its share of what
    /// `maxmemory-clients` limits. The connection calls it when the sizes change.
    pub fn set_buffers(&self, client: &ClientHandle, bytes: u64) {
        let before = client.buffers.swap(bytes, Ordering::Relaxed);
        if bytes >= before {
            self.memory.fetch_add(bytes - before, Ordering::Relaxed);
        } else {
            self.memory.fetch_sub(before - bytes, Ordering::Relaxed);
        }
    }

    /// The bytes of every client's buffers.
    pub fn memory(&self) -> u64 {
        self.memory.load(Ordering::Relaxed)
    }

    /// While the clients' buffers take `limit` bytes or more (`maxmemory-clients`; 0: no
    /// limit), closes the clients with the largest buffers first, sparing those with CLIENT
    /// NO-EVICT on, as Redis's client eviction does; returns whether `current` (the caller's
    /// own client) was among them: it then closes without running its commands, as in Redis.
    /// Each closed client's buffers stop counting at once. O(clients), and only when over.
    pub fn evict(&self, limit: u64, current: u64) -> bool {
        if limit == 0 || self.memory() < limit {
            return false;
        }
        // Another thread choosing already works until the clients are under the limit.
        let Some(_choosing) = self.evicting.try_lock() else {
            return false;
        };
        let mut candidates: Vec<(u64, Arc<ClientHandle>)> = self
            .by_id
            .iter()
            .filter(|c| !c.kill.is_tripped() && !c.state.lock().no_evict)
            .map(|c| (c.memory() as u64, c.value().clone()))
            .collect();
        candidates.sort_unstable_by_key(|c| std::cmp::Reverse(c.0));
        let mut evicted_self = false;
        for (_, client) in candidates {
            if self.memory() < limit {
                break;
            }
            tracing::info!(
                "Evicting client: {} (maxmemory-clients is {limit} bytes, clients use {})",
                client.describe(),
                self.memory()
            );
            client.kill();
            self.set_buffers(&client, 0);
            self.evicted.fetch_add(1, Ordering::Relaxed);
            evicted_self |= client.id == current;
        }
        evicted_self
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

    /// Asks the clients idle for [`IDLE_RELEASE`] or more that still hold buffers to give
    /// them back (see [`KillSwitch::ask_release`]); the cron calls it once a second, as
    /// Redis's client cron visits every client about once a second.
    pub fn release_idle(&self, now: Instant) {
        for client in self.by_id.iter() {
            let idle_with_buffers = {
                let state = client.state.lock();
                now.duration_since(state.last_interaction) >= IDLE_RELEASE
                    && (state.query_capacity > 0 || state.reply_capacity > 0)
            };
            if idle_with_buffers {
                client.kill.ask_release();
            }
        }
    }

    /// Closes every connection (shutdown).
    pub fn kill_all(&self) {
        for client in self.by_id.iter() {
            client.kill();
        }
    }
}

/// A connection's kill switch: tripped once (CLIENT KILL, shutdown, a mailbox over its
/// limit), it stays tripped and wakes the connection's task.
///
/// A connection waits on it every time it waits for input. A `tokio::sync::Notify` cost two
/// mutex rounds there (a waiter linked in, then unlinked when the input came first), about
/// 1.5% of the server's CPU per request at pipeline 1; here the task's waker is stored once
/// and each later wait only compares it (only the connection's own task waits on its switch,
/// so the stored waker changes only when that task's waker does).
///
/// The same switch carries a second, milder signal: the cron asks a connection idle for a
/// while to give its buffers back ([`KillSwitch::ask_release`]), which wakes it the same way
/// and costs the request path nothing more.
#[derive(Debug, Default)]
pub struct KillSwitch {
    tripped: AtomicBool,
    /// Set by [`KillSwitch::ask_release`], cleared when the connection sees it.
    release: AtomicBool,
    /// The waiting task's waker; changed only under this lock, by that task.
    waker: Mutex<Option<Waker>>,
    /// The stored waker's data and vtable pointers, read without the lock to tell whether
    /// the waker at hand is the stored one (what `Waker::will_wake` compares).
    waker_data: AtomicPtr<()>,
    waker_vtable: AtomicPtr<RawWakerVTable>,
}

impl KillSwitch {
    /// Trips the switch and wakes the task waiting on it, if any.
    pub fn trip(&self) {
        self.tripped.store(true, Ordering::SeqCst);
        if let Some(waker) = self.waker.lock().as_ref() {
            waker.wake_by_ref();
        }
    }

    /// Whether the switch was tripped.
    pub fn is_tripped(&self) -> bool {
        self.tripped.load(Ordering::SeqCst)
    }

    /// Asks the connection to give back its empty buffers, and wakes it if it waits.
    pub fn ask_release(&self) {
        self.release.store(true, Ordering::SeqCst);
        if let Some(waker) = self.waker.lock().as_ref() {
            waker.wake_by_ref();
        }
    }

    /// Resolves once the switch is tripped, or with [`Signal::Release`] once the connection
    /// was asked to give its buffers back (which this clears). Only the connection's own task
    /// may wait on it.
    pub fn signalled(&self) -> Signalled<'_> {
        Signalled(self)
    }

    /// What was signalled, if anything (clearing a release request; a plain load first, as
    /// this runs at every wait for input).
    fn signal(&self) -> Option<Signal> {
        if self.is_tripped() {
            Some(Signal::Kill)
        } else if self.release.load(Ordering::SeqCst) && self.release.swap(false, Ordering::SeqCst)
        {
            Some(Signal::Release)
        } else {
            None
        }
    }

    /// Stores `waker` as the one to wake, unless it already is.
    fn register(&self, waker: &Waker) {
        if self.stores(waker) {
            return;
        }
        let mut stored = self.waker.lock();
        *stored = Some(waker.clone());
        self.waker_data
            .store(waker.data() as *mut (), Ordering::Relaxed);
        self.waker_vtable
            .store(waker.vtable() as *const _ as *mut _, Ordering::Relaxed);
    }

    /// Resolves once the switch is tripped (at once if it already was). Only the
    /// connection's own task may wait on it.
    pub fn tripped(&self) -> Tripped<'_> {
        Tripped(self)
    }

    /// Whether `waker` is the one stored (its pointers are only written by the waiting task,
    /// which is the caller).
    fn stores(&self, waker: &Waker) -> bool {
        std::ptr::eq(self.waker_data.load(Ordering::Relaxed), waker.data())
            && std::ptr::eq(self.waker_vtable.load(Ordering::Relaxed), waker.vtable())
    }
}

/// The future of [`KillSwitch::tripped`].
#[derive(Debug)]
pub struct Tripped<'a>(&'a KillSwitch);

impl Future for Tripped<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let switch = self.0;
        if switch.is_tripped() {
            return Poll::Ready(());
        }
        // A trip after the check above wakes the stored waker: this one, once registered.
        switch.register(cx.waker());
        // A trip that took the lock before this registration found the old waker; its flag
        // was set before it took the lock, so it is seen here.
        if switch.is_tripped() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// What a [`KillSwitch`] signalled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Close the connection.
    Kill,
    /// Give the empty buffers back (the client has been idle).
    Release,
}

/// The future of [`KillSwitch::signalled`].
#[derive(Debug)]
pub struct Signalled<'a>(&'a KillSwitch);

impl Future for Signalled<'_> {
    type Output = Signal;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Signal> {
        let switch = self.0;
        if let Some(signal) = switch.signal() {
            return Poll::Ready(signal);
        }
        switch.register(cx.waker());
        // As in `Tripped`: a signal set before the registration is seen here.
        match switch.signal() {
            Some(signal) => Poll::Ready(signal),
            None => Poll::Pending,
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

    #[tokio::test]
    async fn a_tripped_kill_switch_wakes_its_waiter_and_stays_tripped() {
        let switch = Arc::new(KillSwitch::default());
        // Waited on, given up (input came first), waited on again: the stored waker serves
        // both waits, as a connection's does.
        let mut first = Box::pin(switch.tripped());
        let pending = std::future::poll_fn(|cx| Poll::Ready(first.as_mut().poll(cx))).await;
        assert!(pending.is_pending());
        drop(first);
        let tripper = {
            let switch = Arc::clone(&switch);
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(50));
                switch.trip();
            })
        };
        tokio::select! {
            biased;
            _ = tokio::time::sleep(std::time::Duration::from_secs(10)) => {
                panic!("the trip did not wake the waiting task")
            }
            _ = switch.tripped() => {}
        }
        tripper.join().unwrap();
        assert!(switch.is_tripped());
        // Later waits end at once.
        switch.tripped().await;
    }

    #[tokio::test]
    async fn a_release_request_wakes_the_waiter_once_and_a_kill_wins() {
        let switch = Arc::new(KillSwitch::default());
        let asker = {
            let switch = Arc::clone(&switch);
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(50));
                switch.ask_release();
            })
        };
        tokio::select! {
            biased;
            _ = tokio::time::sleep(std::time::Duration::from_secs(10)) => {
                panic!("the release request did not wake the waiting task")
            }
            signal = switch.signalled() => assert_eq!(signal, Signal::Release),
        }
        asker.join().unwrap();
        // Seen once: the next wait waits, and the kill switch itself is not tripped.
        let noop = std::task::Waker::noop();
        let mut cx = Context::from_waker(noop);
        assert!(Box::pin(switch.signalled())
            .as_mut()
            .poll(&mut cx)
            .is_pending());
        assert!(!switch.is_tripped());
        switch.ask_release();
        switch.trip();
        assert_eq!(switch.signalled().await, Signal::Kill);
    }

    #[tokio::test]
    async fn a_kill_switch_wakes_a_new_waker() {
        let switch = Arc::new(KillSwitch::default());
        // A waker from elsewhere is stored first; the waiting task's own replaces it.
        let noop = std::task::Waker::noop();
        let mut cx = Context::from_waker(noop);
        assert!(Box::pin(switch.tripped())
            .as_mut()
            .poll(&mut cx)
            .is_pending());
        let waiter = tokio::spawn({
            let switch = Arc::clone(&switch);
            async move { switch.tripped().await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        switch.trip();
        tokio::time::timeout(std::time::Duration::from_secs(10), waiter)
            .await
            .expect("the trip woke the task")
            .unwrap();
    }
}
