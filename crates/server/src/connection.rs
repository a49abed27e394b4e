//! One client's connection: read what arrived, execute every complete command in it, write all
//! the replies back in one go, repeat.
//!
//! Around each command the connection does what Redis's `processCommand` and `call` do: it
//! refuses commands that may not run (counting them as rejected in INFO commandstats), holds
//! commands while a CLIENT PAUSE covers them, times the command, and reports it to the
//! per-command counters, the slow log, the latency monitor and MONITOR.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use kv_engine::{
    ArgSlices, Cancel, CommandError, CommandSpec, Flags, Handler, Protocol, Reply, Session, Waiter,
    Waker,
};
use kv_resp::{Limits, RequestDecoder};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use crate::clients::{ClientHandle, Peer, Signal, REPLY_STATIC_BUFFER};
use crate::mailbox::Mailbox;
use crate::pubsub::Subscriptions;
use crate::server::Shared;

/// Requests whose keys a batch looks up at once, ahead of running them (see
/// `Connection::warm_ahead`): a pipeline's usual depth, and about as many lookups as the
/// processor keeps in flight.
const WARM_WINDOW: usize = 16;

/// Smallest free space kept in the read buffer before each read.
const READ_CHUNK: usize = 16 * 1024;

/// Reply bytes a batch of pipelined requests may accumulate before they are written out
/// mid-batch: a client's unread replies stay within this plus one reply.
const REPLY_FLUSH_AT: usize = 1024 * 1024;

/// Whether replies are sent (`CLIENT REPLY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyMode {
    /// Every reply is sent.
    On,
    /// No reply is sent.
    Off,
    /// The next command's reply is dropped, then back to `On`.
    SkipNext,
}

/// A connected client and everything kept about it.
#[derive(Debug)]
pub struct Connection {
    /// Server-wide state.
    pub shared: Arc<Shared>,
    /// This client's entry in the registry.
    pub handle: Arc<ClientHandle>,
    /// What the engine keeps per client (database, protocol).
    pub session: Session,
    /// Replies not yet written.
    pub reply: Reply,
    /// Whether AUTH (or HELLO AUTH) has succeeded, or no password is needed.
    pub authenticated: bool,
    /// `CLIENT REPLY` state.
    pub reply_mode: ReplyMode,
    /// Close once the pending replies are written (QUIT, protocol errors).
    pub close: bool,
    /// Where MONITOR lines and pub/sub messages for this client wait; made the first time
    /// one is needed ([`Connection::mailbox`]).
    pub mailbox: Option<Arc<Mailbox>>,
    /// Whether the client is in MONITOR mode.
    pub monitoring: bool,
    /// The channels and patterns the client subscribes to.
    pub subscriptions: Subscriptions,
    /// A pause `DEBUG SLEEP` asked for; taken as part of the command, after its handler.
    pub sleep: Option<Duration>,
    /// WAIT's wait, done after the command (which writes no reply itself).
    pub wait_replicas: Option<crate::replication::WaitFor>,
    /// Since when the pending replies have been over the soft output buffer limit, if they are.
    over_soft_since: Option<Instant>,
    /// The queue of commands since MULTI, while in a transaction.
    pub transaction: Option<crate::multi::Transaction>,
    /// Set while EXEC runs the queue (BGSAVE then only schedules a save, as in Redis).
    pub in_exec: bool,
    /// While EXEC runs a server command: how the transaction so far changed each database's
    /// number of keys, not yet published (see `Locked::unpublished_counts`), for INFO.
    pub exec_counts: kv_engine::CountChanges,
    /// The append-only file's position the pending replies must see synced first (under
    /// `appendfsync always`): past the effects of this client's writes. 0: none.
    durable_at: u64,
    /// The client-side caching options, while tracking is on.
    pub tracking: Option<crate::tracking::Options>,
    /// `CLIENT CACHING YES|NO`, for the next command.
    pub caching: Option<bool>,
    /// The blocking command this client waits in, if any: no further command runs until it
    /// ends.
    blocked: Option<Blocked>,
    /// Notified when the wait of a blocking command ends (the session's waker).
    unblocked: Arc<Notify>,
    /// When the previous command ended, or the read that brought the current batch completed:
    /// where the next command's duration starts. Chaining the clock like this reads it once
    /// per command instead of twice (a clock read is a measurable share of a pipelined GET);
    /// the price is that a duration also covers decoding its request, well under a
    /// microsecond.
    clock: Instant,
    /// Wall-clock time (Unix ms) at `wall_base`, read once per batch of input: a command's
    /// time is derived from it and [`Connection::clock`] instead of reading the clock again.
    wall_ms: u64,
    /// The instant `wall_ms` was read at.
    wall_base: Instant,
    /// What this connection's commands changed in shared state and has not published yet:
    /// see [`Connection::publish_activity`].
    activity: Activity,
    /// The last command looked up, tried first for the next request.
    last_lookup: kv_engine::LastLookup,
    /// When to give back buffer space a large request or reply left (see
    /// [`Connection::plan_shrink`]); `None` while the buffers are small or in use.
    shrink_at: Option<tokio::time::Instant>,
    /// Set when an idle client gave its read buffer back, until its next input: the buffer
    /// is not grown again before input needs it.
    input_released: bool,
    /// Set once the client left the server's registries ([`Connection::leave`]).
    left: bool,
    /// The query buffer's allocated size as last seen, for [`Connection::note_buffers`].
    input_capacity: usize,
    /// The most bytes the query buffer held, and the largest write, since the shrink timer
    /// was armed ([`Connection::plan_shrink`]).
    window_peaks: (usize, usize),
    /// Bytes in the query buffer while the current batch runs: Redis's `qbuf` during a
    /// command, which counts the batch's requests until the batch is done.
    batch_bytes: usize,
    /// Bytes of the running server command's arguments, while [`Connection::publish_running`]
    /// publishes them (`argv-mem`).
    running_argv: usize,
    /// The most reply bytes one write carried since the reply buffer was last sized, and
    /// what CLIENT LIST was last told of it.
    reply_peak: (usize, usize),
    /// The reply buffer's capacity at the last write, to count its growth.
    reply_capacity: usize,
}

/// Buffer space a connection keeps between batches; beyond it, what a large request or reply
/// grew is given back [`SHRINK_AFTER`] later unless requests or replies used half of it
/// meanwhile, as Redis's client cron shrinks the query and reply buffers of clients idle or
/// whose recent peak is small.
const BUFFER_KEEP: usize = 64 * 1024;

/// See [`BUFFER_KEEP`].
const SHRINK_AFTER: Duration = Duration::from_secs(2);

/// A connection's activity kept back from shared state until the end of its batch of input.
///
/// Publishing per command took the client-state lock and three shared counters' cache lines
/// for every request of a pipelined batch; per batch, once. Nothing can tell the difference:
/// what reads these (CLIENT LIST, INFO, ...) runs as a server command, which publishes first,
/// or on another connection, which sees this one's batch as Redis would, before or after it.
#[derive(Debug, Default)]
struct Activity {
    /// The last command that ran: its container, name, and when it started.
    last_command: Option<(Option<&'static str>, &'static str, Instant)>,
    /// Commands run, for `total_commands_processed`.
    commands: u64,
    /// Calls by command, for `commandstats`.
    tally: crate::cmdstats::Tally,
}

/// A blocking command waiting for a key.
#[derive(Debug)]
struct Blocked {
    /// The engine's side of the wait.
    waiter: Arc<Waiter>,
    /// When it times out.
    deadline: Option<tokio::time::Instant>,
    /// Whether CLIENT REPLY had the reply suppressed.
    skip_reply: bool,
    /// The command, logged in the slow log once it is served or times out, as Redis logs a
    /// blocked command: `None` until the command is known.
    call: Option<BlockedCall>,
}

/// A blocking command that waits, for [`Connection::log_if_slow`] once its wait ends.
#[derive(Debug)]
struct BlockedCall {
    spec: &'static CommandSpec,
    skip: usize,
    /// Copied out of the read buffer, which later requests reuse.
    args: Vec<bytes::Bytes>,
    /// Microseconds it ran before it started waiting.
    usec: u64,
}

/// Why a connection's task woke up between commands.
enum Wake {
    /// This many bytes arrived (0: the peer closed).
    Input(usize),
    /// MONITOR lines or pub/sub messages are waiting.
    Mail,
    /// The blocking command's wait may have ended (served, or unblocked by another client).
    Unblocked,
    /// The blocking command's timeout passed.
    TimedOut,
    /// The connection must close (killed, shutdown, idle).
    Stop,
    /// Idle for [`SHRINK_AFTER`] with large buffers: give the space back.
    Shrink,
    /// The client has been idle for a while (`Clients::release_idle`): give the empty buffers
    /// back altogether.
    Release,
}

/// Redis's refusal of a command that may grow memory while memory is over `maxmemory`.
const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// A command refused before it ran: the command if it was found (its `rejected_calls` count),
/// and the error.
type Refusal = (Option<&'static CommandSpec>, CommandError);

/// Serves one connection accepted on a TCP port until it closes.
pub async fn serve_client(shared: Arc<Shared>, mut stream: TcpStream, peer: SocketAddr) {
    let laddr = stream.local_addr().unwrap_or(peer);
    #[cfg(unix)]
    let fd = std::os::fd::AsRawFd::as_raw_fd(&stream) as i64;
    #[cfg(not(unix))]
    let fd = -1;
    let _ = stream.set_nodelay(true);
    let Some(handle) = admit(&shared, &mut stream, Peer::Tcp(peer), Peer::Tcp(laddr), fd).await
    else {
        return;
    };
    // A replica's gRPC link comes to the client port too: its first bytes tell it apart.
    // Until they come the client is idle (`timeout` applies) and may be killed.
    let timeout = shared.config.hot.timeout.load(Ordering::Relaxed);
    let idle = async {
        match timeout {
            0 => std::future::pending::<()>().await,
            secs => tokio::time::sleep(Duration::from_secs(secs as u64)).await,
        }
    };
    let grpc = tokio::select! {
        grpc = crate::replication::is_grpc(&stream) => Some(grpc),
        _ = idle => None,
        _ = handle.kill.tripped() => None,
    };
    match grpc {
        Some(false) => {}
        Some(true) => {
            shared.clients.unregister(handle.id);
            if !shared.replication.hand_over(stream) {
                tracing::warn!(
                    "dropping a gRPC connection from {peer}: the replication service is not running"
                );
            }
            return;
        }
        None => {
            shared.clients.unregister(handle.id);
            return;
        }
    }
    let (reader, writer) = stream.into_split();
    serve_admitted(shared, handle, reader, writer).await;
}

/// Serves one connection accepted on the unix socket at `path` until it closes.
#[cfg(unix)]
pub async fn serve_unix_client(
    shared: Arc<Shared>,
    mut stream: tokio::net::UnixStream,
    path: Arc<str>,
) {
    let fd = std::os::fd::AsRawFd::as_raw_fd(&stream) as i64;
    let peer = Peer::Unix(path);
    let Some(handle) = admit(&shared, &mut stream, peer.clone(), peer, fd).await else {
        return;
    };
    let (reader, writer) = stream.into_split();
    serve_admitted(shared, handle, reader, writer).await;
}

/// Counts a new connection and registers it as a client, or sends it the error that turns it
/// away (`maxclients`, protected mode) and returns `None`.
async fn admit<S: AsyncWrite + Unpin>(
    shared: &Shared,
    stream: &mut S,
    peer: Peer,
    local: Peer,
    fd: i64,
) -> Option<Arc<ClientHandle>> {
    shared
        .stats
        .connections_received
        .fetch_add(1, Ordering::Relaxed);
    if let Some(refusal) = refusal(shared, &peer) {
        shared
            .stats
            .rejected_connections
            .fetch_add(1, Ordering::Relaxed);
        tracing::warn!("refusing connection from {peer}: {}", refusal.trim_end());
        let _ = stream.write_all(refusal.as_bytes()).await;
        return None;
    }
    Some(shared.clients.register(peer, local, fd))
}

/// Serves a registered client over `reader` and `writer` until it closes, then clears what it
/// leaves behind.
async fn serve_admitted<R, W>(shared: Arc<Shared>, handle: Arc<ClientHandle>, reader: R, writer: W)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let unblocked = Arc::new(Notify::new());
    let waker = {
        let unblocked = unblocked.clone();
        Waker::new(move || unblocked.notify_one())
    };
    let mut connection = Connection {
        authenticated: shared.config.get("requirepass").is_empty(),
        shared: shared.clone(),
        handle: handle.clone(),
        session: Session {
            waker: Some(waker),
            client_id: handle.id,
            ..Session::default()
        },
        reply: Reply::new(Protocol::Resp2),
        reply_mode: ReplyMode::On,
        close: false,
        mailbox: None,
        monitoring: false,
        subscriptions: Subscriptions::default(),
        sleep: None,
        wait_replicas: None,
        transaction: None,
        in_exec: false,
        exec_counts: Default::default(),
        durable_at: 0,
        tracking: None,
        caching: None,
        over_soft_since: None,
        blocked: None,
        unblocked,
        clock: Instant::now(),
        wall_ms: kv_engine::now_ms(),
        wall_base: Instant::now(),
        activity: Activity::default(),
        last_lookup: Default::default(),
        shrink_at: None,
        input_released: false,
        left: false,
        input_capacity: 0,
        window_peaks: (0, 0),
        batch_bytes: 0,
        running_argv: 0,
        reply_peak: (0, 0),
        reply_capacity: 0,
    };
    if let Err(e) = connection.run(reader, writer).await {
        tracing::debug!("client {} ({}) closed: {e}", handle.id, handle.addr);
    }
    connection.leave();
}

/// Why a new connection must be turned away, as the error line to send it, if it must.
fn refusal(shared: &Shared, peer: &Peer) -> Option<String> {
    let maxclients = shared.config.int("maxclients").max(1) as usize;
    if shared.clients.len() >= maxclients {
        return Some("-ERR max number of clients reached\r\n".to_string());
    }
    let protected =
        shared.config.flag("protected-mode") && shared.config.get("requirepass").is_empty();
    if protected && !peer.is_loopback() {
        return Some(PROTECTED_MODE_REFUSAL.to_string());
    }
    None
}

/// Lets the tasks already queued on this thread run before the current one goes on.
///
/// `tokio::task::yield_now` also polls for new I/O events before the task runs again: a
/// system call (`epoll_wait` with no timeout) per batch of connections, which at pipeline 1
/// is one more call for every two requests. Here the task wakes itself, so the scheduler
/// queues it behind the others and polls for events only on its own schedule, as Redis's
/// event loop writes its replies once per poll.
#[derive(Default)]
struct YieldToQueued {
    yielded: bool,
}

impl std::future::Future for YieldToQueued {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.yielded {
            return std::task::Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

/// Redis's explanation for a refused non-loopback client in protected mode.
const PROTECTED_MODE_REFUSAL: &str = "-DENIED kv is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to kv you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to kv from the same host the server is running, however MAKE SURE kv is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the kv configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

impl Connection {
    async fn run<R, W>(&mut self, mut reader: R, mut writer: W) -> io::Result<()>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let mut input = BytesMut::with_capacity(READ_CHUNK);
        let mut decoder = RequestDecoder::new(self.limits());
        // A second decoder, to read the keys of a batch's requests ahead of running them.
        let mut lookahead = RequestDecoder::new(self.limits());
        loop {
            let executed = self
                .process(&mut input, &mut decoder, &mut lookahead, &mut writer)
                .await?;
            if executed > 0 && !self.reply.buf.is_empty() {
                // Let the other connections whose input is ready run their commands first, so
                // that replies go out in a burst, as Redis writes them all after its event
                // loop's reads. The peers (often one load generator) are then woken once per
                // burst instead of once per reply: a reply written while its reader sleeps
                // costs a cross-core wake-up, which on a virtual machine is an exit to the
                // hypervisor. Measured: 10-25% less server CPU per request for pipelined
                // loads; for MSET at pipeline 1, where each command is long enough for the
                // reader to fall asleep between replies, the wake-ups had taken 27% of kv's
                // CPU, and throughput went from 0.72 to 1.1 of Redis's. GET and SET at
                // pipeline 1 did not move (see BENCHMARKS.md).
                YieldToQueued::default().await;
            }
            if self.close {
                // Gone for every other client before its last replies leave (QUIT's +OK):
                // Redis frees a quitting client before any other client's command runs.
                self.leave();
            }
            if !self.flush(&mut writer).await? || self.close || self.handle.kill.is_tripped() {
                return Ok(());
            }
            self.plan_shrink(&input);
            if !self.input_released {
                input.reserve(READ_CHUNK);
            }
            match self.wait(&mut reader, &mut input).await? {
                Wake::Input(0) | Wake::Stop => return Ok(()),
                Wake::Input(read) => {
                    self.input_released = false;
                    // Messages published before this input arrived go out before its
                    // replies: a client that saw a PUBLISH answered, then pings its
                    // subscriber connection, reads the message before the pong, as in Redis.
                    if let Some(mailbox) = &self.mailbox {
                        mailbox.drain_into(&mut self.reply.buf);
                    }
                    self.window_peaks.0 = self.window_peaks.0.max(input.len());
                    self.clock = Instant::now();
                    self.wall_ms = kv_engine::now_ms();
                    self.wall_base = self.clock;
                    if !self.note_input(read, input.len(), input.capacity()) {
                        return Ok(());
                    }
                    decoder.set_limits(self.limits());
                    lookahead.set_limits(self.limits());
                }
                Wake::Mail => {
                    if let Some(mailbox) = &self.mailbox {
                        mailbox.drain_into(&mut self.reply.buf);
                    }
                }
                Wake::Unblocked => self.finish_blocked(false),
                Wake::TimedOut => self.finish_blocked(true),
                Wake::Shrink => {
                    decoder.shrink();
                    lookahead.shrink();
                    self.shrink(&mut input);
                }
                Wake::Release => {
                    decoder.shrink();
                    lookahead.shrink();
                    self.release(&mut input);
                }
            }
        }
    }

    /// Arms the shrink timer when a batch left more buffer space than [`BUFFER_KEEP`] behind
    /// (a large request read, a large reply written), and disarms it otherwise. An armed timer
    /// is not pushed back by later batches: a client that keeps sending small requests gets
    /// its space back too, as Redis's client cron shrinks a buffer whose recent peak is small,
    /// idle or not.
    fn plan_shrink(&mut self, input: &BytesMut) {
        let large = (input.is_empty() && input.capacity() > BUFFER_KEEP)
            || (self.reply.buf.is_empty() && self.reply.buf.capacity() > BUFFER_KEEP);
        if !large {
            self.shrink_at = None;
        } else if self.shrink_at.is_none() {
            self.shrink_at = Some(tokio::time::Instant::now() + SHRINK_AFTER);
            self.window_peaks = (0, 0);
        }
    }

    /// Gives back the space of the empty buffers beyond what a connection starts with, unless
    /// the requests or replies since the timer was armed used half of it or more (then it
    /// looks again later).
    fn shrink(&mut self, input: &mut BytesMut) {
        self.shrink_at = None;
        let (input_peak, reply_peak) = std::mem::take(&mut self.window_peaks);
        if input.is_empty() && input.capacity() > BUFFER_KEEP && input_peak * 2 < input.capacity() {
            *input = BytesMut::with_capacity(READ_CHUNK);
        }
        if self.reply.buf.is_empty()
            && self.reply.buf.capacity() > BUFFER_KEEP
            && reply_peak * 2 < self.reply.buf.capacity()
        {
            self.reply.buf = BytesMut::with_capacity(REPLY_STATIC_BUFFER);
            self.reply_capacity = self.reply.buf.capacity();
            self.reply_peak.0 = 0;
            self.shared
                .stats
                .reply_buffer_shrinks
                .fetch_add(1, Ordering::Relaxed);
        }
        self.input_capacity = input.capacity();
        // Smaller buffers: nothing to evict.
        self.note_buffers();
    }

    /// Takes the client out of everything other clients see it in: its blocking command's
    /// wait (leaving nothing behind on its keys), MONITOR, pub/sub, its transaction and
    /// watches, client tracking, and the client list. Once, when it closes.
    fn leave(&mut self) {
        if self.left {
            return;
        }
        self.left = true;
        self.publish_activity(None);
        if let Some(blocked) = self.blocked.take() {
            self.shared
                .engine
                .blocking
                .cancel(&blocked.waiter, Cancel::Disconnect);
        }
        crate::monitor::stop(self);
        crate::pubsub::unsubscribe_all(self);
        crate::multi::end(self);
        crate::tracking::disable(self);
        self.shared.clients.unregister(self.handle.id);
    }

    /// Gives back the empty buffers of a client idle for a while, as Redis's client cron
    /// frees an idle client's query buffer: the next read and reply allocate again. Until
    /// input arrives the read buffer is not grown back (a subscriber's messages do not).
    fn release(&mut self, input: &mut BytesMut) {
        if input.is_empty() && input.capacity() > 0 {
            *input = BytesMut::new();
            self.input_released = true;
        }
        if self.reply.buf.is_empty() && self.reply.buf.capacity() > 0 {
            self.reply.buf = BytesMut::new();
            self.reply_capacity = 0;
            self.reply_peak.0 = 0;
            self.shared
                .stats
                .reply_buffer_shrinks
                .fetch_add(1, Ordering::Relaxed);
        }
        self.shrink_at = None;
        self.input_capacity = input.capacity();
        self.note_buffers();
    }

    /// Publishes the sizes of this connection's buffers and MULTI queue when they changed
    /// (CLIENT LIST's `tot-mem`), then applies `maxmemory-clients` (Redis checks it before every command);
    /// false if this very client was evicted and must close.
    pub(crate) fn note_buffers(&mut self) -> bool {
        let clients = &self.shared.clients;
        let queued = self.transaction.as_ref().map_or(0, |t| t.memory());
        let bytes = (self.input_capacity + self.reply.buf.capacity() + queued) as u64;
        if bytes != self.handle.memory() as u64 || self.reply_peak.0 != self.reply_peak.1 {
            clients.set_buffers(&self.handle, bytes);
            let mut state = self.handle.state.lock();
            state.query_capacity = self.input_capacity;
            state.reply_capacity = self.reply.buf.capacity();
            state.reply_peak = self.reply_peak.0;
            self.reply_peak.1 = self.reply_peak.0;
        }
        let limit = self
            .shared
            .config
            .hot
            .client_memory_limit
            .load(Ordering::Relaxed);
        if clients.evict(limit, self.handle.id) {
            tracing::info!(
                "closing client {} ({}): evicted by maxmemory-clients",
                self.handle.id,
                self.handle.addr
            );
            return false;
        }
        true
    }

    /// Sends the reply of the blocking command this client waits in, if its wait is over
    /// (`timed_out`: end it now as a timeout, unless it was served meanwhile).
    fn finish_blocked(&mut self, timed_out: bool) {
        let Some(blocked) = &mut self.blocked else {
            return;
        };
        if timed_out {
            let now = kv_engine::now_ms();
            if blocked.waiter.deadline().is_some_and(|at| at > now) {
                // A timer set short of a far deadline: set it again.
                blocked.deadline = timer_deadline(&blocked.waiter, now);
                return;
            }
            self.shared
                .engine
                .blocking
                .cancel(&blocked.waiter, Cancel::Timeout);
        }
        // A wake-up left over from an earlier wait finds nothing: keep waiting.
        let Some(reply) = blocked.waiter.take_reply() else {
            return;
        };
        // The pop that served this client is logged by now (the reply is published after the
        // serving write's effects are recorded): it is acknowledged once durable, as any write.
        self.durable_at = self.durable_at.max(self.shared.aof.position());
        let skip_reply = blocked.skip_reply;
        let call = blocked.call.take();
        self.blocked = None;
        self.handle.state.lock().waiter = None;
        self.clock = Instant::now();
        if !skip_reply {
            let mark = self.reply.mark();
            self.reply.buf.extend_from_slice(&reply);
            self.count_error(mark);
        }
        if let Some(call) = call {
            let args = kv_engine::arg_slices(&call.args);
            self.log_if_slow(call.spec, call.skip, &args, call.usec);
        }
    }

    /// Puts the messages this client's own command published to it (keyspace notifications
    /// of its writes, over RESP3) before the command's reply, written since `mark`: Redis
    /// writes them into the output buffer as they happen, before the reply.
    fn deliver_own_messages(&mut self, mark: usize) {
        let Some(mailbox) = &self.mailbox else {
            return;
        };
        if mailbox.is_empty() {
            return;
        }
        let reply = self.reply.buf.split_off(mark);
        mailbox.drain_into(&mut self.reply.buf);
        self.reply.buf.unsplit(reply);
    }

    /// This connection's mailbox, made on first use.
    pub fn mailbox(&mut self) -> Arc<Mailbox> {
        self.mailbox
            .get_or_insert_with(|| {
                let limits = self.shared.config.hot.output_limits.clone();
                let mailbox = Arc::new(Mailbox::new(self.handle.clone(), limits));
                let _ = self.handle.mailbox.set(Arc::downgrade(&mailbox));
                mailbox
            })
            .clone()
    }

    /// Waits for input, MONITOR lines or pub/sub messages, or a reason to close.
    async fn wait<R: AsyncRead + Unpin>(
        &self,
        reader: &mut R,
        input: &mut BytesMut,
    ) -> io::Result<Wake> {
        // Monitors never time out, as Redis exempts them; nor do clients in a blocking
        // command, which have a timeout of their own.
        let timeout = if self.monitoring || self.blocked.is_some() {
            0
        } else {
            self.shared.config.hot.timeout.load(Ordering::Relaxed)
        };
        let idle = async {
            if timeout > 0 {
                tokio::time::sleep(Duration::from_secs(timeout as u64)).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        let mail = async {
            match &self.mailbox {
                Some(mailbox) => mailbox.ready.notified().await,
                None => std::future::pending::<()>().await,
            }
        };
        let unblocked = async {
            match &self.blocked {
                Some(_) => self.unblocked.notified().await,
                None => std::future::pending::<()>().await,
            }
        };
        let timed_out = async {
            match self.blocked.as_ref().and_then(|b| b.deadline) {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending::<()>().await,
            }
        };
        let shrink = async {
            match self.shrink_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending::<()>().await,
            }
        };
        // In a fixed order, which saves drawing a random one per wait: the kill first, and a
        // blocked client's wake-ups before its input, so that a client that keeps sending
        // while blocked cannot hold them off; the mailbox after the input, as reading
        // input drains it too.
        Ok(tokio::select! {
            biased;
            // Shutdown reaches connections as a kill too (`Clients::kill_all`), so waiting
            // here on the kill alone saves registering with a second notifier on every read.
            signal = self.handle.kill.signalled() => match signal {
                Signal::Kill => Wake::Stop,
                Signal::Release => Wake::Release,
            },
            _ = unblocked => Wake::Unblocked,
            _ = timed_out => Wake::TimedOut,
            read = reader.read_buf(input) => Wake::Input(read?),
            _ = mail => Wake::Mail,
            _ = shrink => Wake::Shrink,
            _ = idle => {
                tracing::debug!("closing idle client {}", self.handle.id);
                Wake::Stop
            }
        })
    }

    /// Accounts for `read` new bytes; false when the query buffer (`buffered` bytes) is over
    /// its limit and the client must be closed.
    fn note_input(&mut self, read: usize, buffered: usize, capacity: usize) -> bool {
        let stats = &self.shared.stats;
        stats
            .net_input_bytes
            .fetch_add(read as u64, Ordering::Relaxed);
        stats.reads_processed.fetch_add(1, Ordering::Relaxed);
        stats.recent_max_input.note(capacity as u64, self.clock);
        let limit = self
            .shared
            .config
            .hot
            .query_buffer_limit
            .load(Ordering::Relaxed)
            .max(1) as usize;
        if buffered > limit {
            tracing::warn!(
                "closing client {} ({}) that reached max query buffer length ({buffered} bytes)",
                self.handle.id,
                self.handle.addr,
            );
            return false;
        }
        self.input_capacity = capacity;
        self.note_buffers()
    }

    /// Writes the pending replies; false if the client was killed while the write waited (a
    /// client that never reads must not keep its task, or a killer, waiting forever).
    async fn flush<W: AsyncWrite + Unpin>(&mut self, writer: &mut W) -> io::Result<bool> {
        if self.reply.buf.is_empty() {
            return Ok(true);
        }
        if self.durable_at > 0 {
            // A write is acknowledged once the log holds it: synced (`appendfsync always`),
            // or written out to the OS (the others).
            let aof = &self.shared.aof;
            if !aof.syncs_every_write() {
                aof.write_pending(false);
            }
            aof.durable(self.durable_at).await;
            self.durable_at = 0;
        }
        let stats = &self.shared.stats;
        stats
            .net_output_bytes
            .fetch_add(self.reply.buf.len() as u64, Ordering::Relaxed);
        stats.writes_processed.fetch_add(1, Ordering::Relaxed);
        let capacity = self.reply.buf.capacity();
        if capacity > self.reply_capacity {
            if self.reply_capacity > 0 {
                stats.reply_buffer_expands.fetch_add(1, Ordering::Relaxed);
            }
            self.reply_capacity = capacity;
        }
        // What is over Redis's fixed 16 KB reply buffer is what Redis counts as output.
        let over = self.reply.buf.len().saturating_sub(REPLY_STATIC_BUFFER);
        stats.recent_max_output.note(over as u64, self.clock);
        let pending = &self.handle.output_pending;
        pending.store(self.reply.buf.len() as u64, Ordering::Relaxed);
        tokio::select! {
            biased;
            written = writer.write_all(&self.reply.buf) => written?,
            _ = self.handle.kill.tripped() => return Ok(false),
        }
        pending.store(0, Ordering::Relaxed);
        let written = self.reply.buf.len();
        self.reply.buf.clear();
        self.reply_peak.0 = self.reply_peak.0.max(written);
        self.window_peaks.1 = self.window_peaks.1.max(written);
        if capacity > self.handle.memory().saturating_sub(self.input_capacity)
            || self.reply_peak.0 > self.reply_peak.1
        {
            // The reply buffer grew (its bytes count towards `maxmemory-clients`), or a
            // larger write than CLIENT LIST knows of went out.
            return Ok(self.note_buffers());
        }
        Ok(true)
    }

    /// The decoder limits from the live configuration.
    fn limits(&self) -> Limits {
        Limits {
            max_bulk_len: self
                .shared
                .engine
                .config
                .proto_max_bulk_len
                .load(Ordering::Relaxed),
            ..Limits::default()
        }
    }

    /// Executes every complete request in `input`, then drops them from it; how many there
    /// were.
    async fn process<W: AsyncWrite + Unpin>(
        &mut self,
        input: &mut BytesMut,
        decoder: &mut RequestDecoder,
        lookahead: &mut RequestDecoder,
        writer: &mut W,
    ) -> io::Result<usize> {
        let mut executed = 0;
        // Where the requests whose keys were looked up ahead end (see `warm_ahead`).
        let mut warmed_to = 0;
        self.batch_bytes = input.len();
        // Requests run in place: their arguments are slices of `input`, which is not touched
        // until the batch is done. Taking each argument out of the buffer as a `Bytes` cost
        // two atomic reference-count operations per argument (5% of a pipelined GET's CPU).
        let mut consumed = 0;
        // A blocked client's further commands wait in the buffer, as in Redis.
        while !self.close && self.blocked.is_none() {
            let mut args = ArgSlices::new();
            match decoder.decode_borrowed(&input[consumed..], &mut args) {
                Ok(decoded) if !decoded.complete => {
                    consumed += decoded.consumed;
                    break;
                }
                Ok(decoded) => {
                    consumed += decoded.consumed;
                    // The requests after this one, if any (none at pipeline 1: no cost there).
                    if consumed >= warmed_to && consumed < input.len() && self.warms_ahead() {
                        warmed_to = self.warm_ahead(input, consumed, lookahead);
                    }
                    self.execute(&args, writer).await?;
                    executed += 1;
                    // A batch whose replies grow large sends what it has before running more,
                    // so a client that pipelines big replies and never reads waits on its own
                    // socket instead of growing the server's memory.
                    if self.reply.buf.len() >= REPLY_FLUSH_AT {
                        // The write may wait long on a client that does not read: CLIENT
                        // LIST shows it as of now meanwhile (its last command, its input).
                        self.publish_activity(Some(input.len() - consumed));
                        if !self.flush(writer).await? {
                            self.close = true;
                        }
                    }
                }
                Err(e) => {
                    tracing::debug!(
                        "protocol error from client {} ({}): {e}",
                        self.handle.id,
                        self.handle.addr
                    );
                    let mark = self.reply.mark();
                    self.reply.error(&format!("ERR {e}"));
                    self.count_error(mark);
                    self.close = true;
                }
            }
        }
        input.advance(consumed);
        self.publish_activity(Some(input.len()));
        Ok(executed)
    }

    /// Whether this client's next requests are worth looking ahead at: it may run commands
    /// (authenticated, not queueing a transaction) on a database large enough for their keys
    /// to miss the caches.
    fn warms_ahead(&self) -> bool {
        self.authenticated
            && self.transaction.is_none()
            && self.shared.engine.keyspace.worth_warming(self.session.db)
    }

    /// Looks up ahead the keys of the next [`WARM_WINDOW`] complete requests of `input` from
    /// `from` (which starts a request: the one after the request about to run), so that the
    /// misses of their lookups overlap (see `Keyspace::warm_ahead`: pipelined GET and SET of
    /// random keys over 632,000 keys went 9% to 18% faster, BENCHMARKS.md). Takes each
    /// request's first argument as its key, as it is for most commands: a guess that is wrong (`PING msg`) costs one useless lookup, and nothing
    /// is changed. Stops at an inline request, whose decoding would copy it. Returns where the
    /// requests it looked at end (the end of `input` if the first has no key: not worth it).
    fn warm_ahead(&self, input: &[u8], from: usize, lookahead: &mut RequestDecoder) -> usize {
        lookahead.reset();
        let mut keys = [(0, 0); WARM_WINDOW];
        let mut found = 0;
        let mut at = from;
        while found < WARM_WINDOW && input.get(at) == Some(&b'*') {
            let mut args = ArgSlices::new();
            match lookahead.decode_borrowed(&input[at..], &mut args) {
                Ok(decoded) if decoded.complete => {
                    // A multibulk request's arguments are slices of `input`: kept as offsets,
                    // as `args` borrows the decoder until the next call.
                    let offset = |key: &&[u8]| {
                        let start = (key.as_ptr() as usize).checked_sub(input.as_ptr() as usize)?;
                        (start + key.len() <= input.len()).then_some((start, key.len()))
                    };
                    at += decoded.consumed;
                    match args.get(1).and_then(offset) {
                        Some(key) => {
                            keys[found] = key;
                            found += 1;
                        }
                        // Pipelines mostly repeat one command: one without a key (PING,
                        // DBSIZE) says the batch will not gain, and decoding costs.
                        None if found == 0 => return input.len(),
                        None => {}
                    }
                }
                _ => break,
            }
        }
        if found > 1 {
            let mut slices: [&[u8]; WARM_WINDOW] = [&[]; WARM_WINDOW];
            for (slice, &(start, len)) in slices.iter_mut().zip(&keys[..found]) {
                *slice = &input[start..start + len];
            }
            let keyspace = &self.shared.engine.keyspace;
            keyspace.warm_ahead(self.session.db, &slices[..found]);
        }
        at
    }

    /// Runs one command and leaves its reply (if any is due) in the reply buffer. `writer` is
    /// where earlier replies go if the command must wait for a CLIENT PAUSE to end.
    pub async fn execute<W: AsyncWrite + Unpin>(
        &mut self,
        args: &[&[u8]],
        writer: &mut W,
    ) -> io::Result<()> {
        let skip_reply = self.reply_mode != ReplyMode::On;
        if self.reply_mode == ReplyMode::SkipNext {
            self.reply_mode = ReplyMode::On;
        }
        let (spec, skip) = match self.admit(args) {
            Ok(found) => found,
            Err(refusal) => {
                self.refuse(refusal, skip_reply, args);
                return Ok(());
            }
        };
        let mut started = self.clock;
        self.note_command(args, spec, skip, started);
        let pause_spec = match &self.transaction {
            Some(transaction) if skip == 1 && spec.name == "exec" => transaction.pause_spec(spec),
            _ => spec,
        };
        if !self.monitoring && self.shared.pause.holds(pause_spec) {
            self.publish_activity(None);
            // Replies to earlier commands go out now, as Redis sends them while it holds this one.
            if !self.flush(writer).await? || !self.wait_unpaused(pause_spec).await {
                self.close = true;
                return Ok(());
            }
            // Checked again, as Redis processes a held command afresh: the server may have
            // become a replica meanwhile (FAILOVER), so a write must now be refused.
            if let Err(refusal) = self.admit(args) {
                self.refuse(refusal, skip_reply, args);
                return Ok(());
            }
            started = Instant::now();
        }
        if self.transaction.is_some() && !crate::multi::runs_immediately(spec, skip) {
            let mark = self.reply.mark();
            crate::multi::queue(self, spec, skip, args);
            self.drop_skipped_reply(mark, skip_reply, args);
            return Ok(());
        }
        let mark = self.reply.mark();
        let waiter = crate::tracking::bcast_batch(|| self.dispatch(spec, skip, args));
        // Recorded on this thread while the command ran (dispatch does not await).
        self.durable_at = self.durable_at.max(crate::aof::take_recorded());
        if let Some(waiter) = waiter {
            self.block(waiter, skip_reply);
        }
        if self.subscriptions.total() > 0 {
            self.deliver_own_messages(mark);
        }
        if self.tracking.is_some() {
            crate::tracking::after_command(self, spec, skip, args);
        }
        if let Some(pause) = self.sleep.take() {
            if !self.sleep_unless_killed(pause).await {
                self.close = true;
            }
        }
        if let Some(wait) = self.wait_replicas.take() {
            let master = Arc::clone(&self.shared.replication.master);
            tokio::select! {
                acked = master.wait_for(wait.offset, wait.count, wait.timeout) => {
                    self.reply.count(acked);
                }
                _ = self.handle.kill.tripped() => self.close = true,
                _ = self.shared.shutdown.notified() => self.close = true,
            }
        }
        let ended = Instant::now();
        self.clock = ended;
        let usec = ended.duration_since(started).as_micros() as u64;
        let failed = self.count_error(mark);
        match &mut self.blocked {
            // Counted and shown to MONITOR now, logged once its wait ends
            // (`finish_blocked`), as Redis does.
            Some(blocked) => {
                blocked.call = Some(BlockedCall {
                    spec,
                    skip,
                    args: kv_engine::owned_args(args),
                    usec,
                });
                self.activity.commands += 1;
                self.tally(spec, usec, failed);
                self.feed_monitors(spec, skip, args);
            }
            None => self.after_call(spec, skip, args, usec, failed),
        }
        let pushed = !failed && crate::pubsub::confirms_by_push(spec.name);
        self.drop_skipped_reply(mark, skip_reply && !pushed, args);
        self.enforce_output_limits();
        Ok(())
    }

    /// Closes the client, dropping its pending replies, once they break the
    /// `client-output-buffer-limit` of its class (as Redis closes it: what is over the limit is
    /// never sent).
    fn enforce_output_limits(&mut self) {
        let pubsub = self.subscriptions.total() > 0;
        let limit = self.shared.config.hot.output_limits.get(pubsub);
        if limit.hard == 0 && limit.soft == 0 {
            return;
        }
        // Redis leaves out the first 16 KB of replies (its client's fixed reply buffer).
        let pending = (self.reply.buf.len() + self.mailbox.as_ref().map_or(0, |m| m.len()))
            .saturating_sub(REPLY_STATIC_BUFFER);
        if crate::mailbox::over_limit(limit, pending as u64, &mut self.over_soft_since, u64::MAX) {
            tracing::warn!(
                "closing client {} ({}) that reached its output buffer limit ({pending} bytes)",
                self.handle.id,
                self.handle.addr
            );
            self.reply.buf.clear();
            self.close = true;
        }
    }

    /// Answers a command `admit` refused; inside MULTI that fails the whole transaction, as
    /// in Redis.
    fn refuse(&mut self, refusal: Refusal, skip_reply: bool, args: &[&[u8]]) {
        if let Some(transaction) = &mut self.transaction {
            transaction.abort();
        }
        self.reject(refusal, skip_reply, args);
    }

    /// Decides whether the command may run, in Redis's order: known and well-formed, DEBUG
    /// allowed, authenticated, and not a keyspace command from a monitor.
    fn admit(&mut self, args: &[&[u8]]) -> Result<(&'static CommandSpec, usize), Refusal> {
        let engine = &self.shared.engine;
        let (spec, skip) = engine
            .lookup_repeated(&mut self.last_lookup, args)
            .map_err(|e| {
                let spec = match e {
                    CommandError::WrongArity(_) => refused_spec(args),
                    _ => None,
                };
                (spec, e)
            })?;
        if skip == 1 && spec.name == "debug" && !crate::debug::allowed(self) {
            return Err((Some(spec), CommandError::msg(crate::debug::NOT_ALLOWED)));
        }
        if !self.authenticated && !spec.has(Flags::NO_AUTH) {
            return Err((
                Some(spec),
                CommandError::msg("NOAUTH Authentication required."),
            ));
        }
        self.check_memory(spec, skip)?;
        self.check_disk(spec, skip)?;
        self.check_replica(spec, skip)?;
        let touches_keys =
            spec.has(Flags::READONLY) || spec.has(Flags::WRITE) || spec.has(Flags::MAY_REPLICATE);
        if self.monitoring && touches_keys {
            // Redis treats a monitor as a replica, and replicas may not use the keyspace.
            return Err((
                Some(spec),
                CommandError::msg("ERR Replica can't interact with the keyspace"),
            ));
        }
        if self.shared.persistence.is_loading() && !spec.has(Flags::LOADING) {
            return Err((Some(spec), CommandError::msg(crate::persistence::LOADING)));
        }
        if self.subscriptions.total() > 0 {
            let name = match skip {
                2 => kv_engine::table::find(args[0]).map_or_else(
                    || spec.name.to_string(),
                    |c| format!("{}|{}", c.name, spec.name),
                ),
                _ => spec.name.to_string(),
            };
            if let Some(refusal) = crate::pubsub::refused_in_subscriber_mode(self, &name) {
                return Err((Some(spec), refusal));
            }
        }
        Ok((spec, skip))
    }

    /// With `maxmemory` set, evicts what the policy allows before the command runs (as
    /// Redis's `performEvictions` before every command), then refuses the command if memory
    /// is still over and it may grow memory: a `denyoom` command, an EXEC queuing one, or
    /// anything queued inside MULTI (where only EXEC, DISCARD, QUIT and RESET still pass).
    fn check_memory(&self, spec: &'static CommandSpec, skip: usize) -> Result<(), Refusal> {
        let engine = &self.shared.engine;
        if engine.config.eviction.maxmemory.load(Ordering::Relaxed) == 0 {
            return Ok(());
        }
        if engine.make_room(&crate::memory::used) != kv_engine::evict::Room::Exhausted {
            return Ok(());
        }
        let name = if skip == 1 { spec.name } else { "" };
        let refused = spec.has(Flags::DENYOOM)
            || match &self.transaction {
                Some(t) if name == "exec" => t.queues(Flags::DENYOOM),
                Some(_) => !matches!(name, "discard" | "quit" | "reset"),
                None => false,
            };
        match refused {
            true => Err((Some(spec), CommandError::msg(OOM))),
            false => Ok(()),
        }
    }

    /// After a failed save (with `stop-writes-on-bgsave-error`) or while the append-only file
    /// cannot be written, refuses what Redis refuses: write commands, an EXEC queuing one,
    /// and PING (so that health checks notice).
    fn check_disk(&self, spec: &'static CommandSpec, skip: usize) -> Result<(), Refusal> {
        let Some(why) = crate::persistence::writes_denied(&self.shared) else {
            return Ok(());
        };
        let refused = self.writes(spec, skip) || (skip == 1 && spec.name == "ping");
        match refused {
            true => Err((Some(spec), CommandError::Other(why.into()))),
            false => Ok(()),
        }
    }

    /// Whether the command writes: a write command, or an EXEC whose queue holds one.
    fn writes(&self, spec: &'static CommandSpec, skip: usize) -> bool {
        spec.has(Flags::WRITE)
            || (skip == 1
                && spec.name == "exec"
                && self
                    .transaction
                    .as_ref()
                    .is_some_and(|t| t.queues(Flags::WRITE)))
    }

    /// On a replica: refuses writes (`replica-read-only`) and, while the link is down with
    /// `replica-serve-stale-data no`, what is not `stale` (an EXEC whose queue holds a
    /// command that is not, as Redis judges EXEC by its queue: the server may have become a
    /// stale replica since the commands were queued).
    fn check_replica(&self, spec: &'static CommandSpec, skip: usize) -> Result<(), Refusal> {
        let stale = spec.has(Flags::STALE)
            && !(skip == 1
                && spec.name == "exec"
                && self
                    .transaction
                    .as_ref()
                    .is_some_and(|t| !t.all_queued(Flags::STALE)));
        match crate::replication::refusal(&self.shared, self.writes(spec, skip), stale) {
            Some(error) => Err((Some(spec), error)),
            None => Ok(()),
        }
    }

    /// Answers a refused command with its error and counts the refusal.
    fn reject(&mut self, (spec, error): Refusal, skip_reply: bool, args: &[&[u8]]) {
        let mark = self.reply.mark();
        // The client's own bytes are echoed as sent (unknown command names, ...).
        self.reply.command_error(&error);
        if spec.is_some_and(|s| s.name == "exec") {
            crate::multi::abort_refused_exec(self, mark);
        }
        self.count_error(mark);
        if let Some(spec) = spec {
            self.shared.cmdstats.record_rejected(spec);
        }
        self.drop_skipped_reply(mark, skip_reply, args);
    }

    /// The time a command runs at, in Unix ms, without a system call.
    fn now_ms(&self) -> u64 {
        self.wall_ms
            + self
                .clock
                .saturating_duration_since(self.wall_base)
                .as_millis() as u64
    }

    /// Runs an admitted command; returns the waiter of a blocking command that must wait.
    fn dispatch(
        &mut self,
        spec: &'static CommandSpec,
        skip: usize,
        args: &[&[u8]],
    ) -> Option<Arc<Waiter>> {
        match spec.handler {
            Handler::Engine(_) if self.transaction.is_some() && spec.name == "watch" => {
                self.reply.error("ERR WATCH inside MULTI is not allowed");
                None
            }
            // Borrowing the fields apart avoids touching the Arc's shared refcount per command.
            Handler::Engine(_) => {
                let now = self.now_ms();
                self.shared
                    .engine
                    .run_at(spec, skip, &mut self.session, args, &mut self.reply, now)
            }
            Handler::Server | Handler::Container => {
                crate::admin::run(self, spec, args);
                None
            }
        }
    }

    /// Puts this client in the wait of a blocking command: no command of its runs until
    /// [`Connection::finish_blocked`] sends the reply.
    fn block(&mut self, waiter: Arc<Waiter>, skip_reply: bool) {
        let deadline = timer_deadline(&waiter, self.now_ms());
        self.handle.state.lock().waiter = Some(waiter.clone());
        self.blocked = Some(Blocked {
            waiter,
            deadline,
            skip_reply,
            call: None,
        });
    }

    /// Waits for a CLIENT PAUSE holding `spec` to end; false if the client must close instead.
    async fn wait_unpaused(&self, spec: &'static CommandSpec) -> bool {
        self.handle.state.lock().blocked = true;
        let _held = crate::pause::Held::new(&self.shared.pause);
        let released = tokio::select! {
            _ = self.shared.pause.wait(spec) => true,
            _ = self.handle.kill.tripped() => false,
            _ = self.shared.shutdown.notified() => false,
        };
        self.handle.state.lock().blocked = false;
        released
    }

    /// DEBUG SLEEP's pause; false if the client must close instead.
    async fn sleep_unless_killed(&self, pause: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(pause) => true,
            _ = self.handle.kill.tripped() => false,
            _ = self.shared.shutdown.notified() => false,
        }
    }

    /// Counts the reply written since `mark` if it is an error (`total_error_replies`,
    /// `errorstats`); returns whether it was.
    pub(crate) fn count_error(&self, mark: usize) -> bool {
        let written = &self.reply.buf[mark..];
        if written.first() != Some(&b'-') {
            return false;
        }
        self.shared
            .stats
            .error_replies
            .fetch_add(1, Ordering::Relaxed);
        // The code is within the first 32 bytes of the line; stop at its end.
        let head = &written[1..written.len().min(33)];
        let line = head.split(|&b| b == b'\r').next().unwrap_or(head);
        self.shared.cmdstats.record_error(line);
        true
    }

    /// What follows a command that ran: counters, slow log, latency monitor, MONITOR.
    pub(crate) fn after_call(
        &mut self,
        spec: &'static CommandSpec,
        skip: usize,
        args: &[&[u8]],
        usec: u64,
        failed: bool,
    ) {
        self.activity.commands += 1;
        self.tally(spec, usec, failed);
        self.log_if_slow(spec, skip, args, usec);
        self.feed_monitors(spec, skip, args);
    }

    /// Counts a command in commandstats and the latency monitor.
    fn tally(&mut self, spec: &'static CommandSpec, usec: u64, failed: bool) {
        let shared = &self.shared;
        let track = shared.config.hot.latency_tracking.load(Ordering::Relaxed);
        shared
            .cmdstats
            .tally_call(&mut self.activity.tally, spec, usec, failed, track);
        crate::latency::record_command(self, spec, usec);
    }

    /// Logs a command in the slow log if it took long enough: when it ran, or for a command
    /// that blocked, when its wait ended (as Redis logs it, after the command that served it).
    fn log_if_slow(&mut self, spec: &'static CommandSpec, skip: usize, args: &[&[u8]], usec: u64) {
        let shared = &self.shared;
        if !spec.has(Flags::SKIP_SLOWLOG) {
            if let Some(max_len) = crate::slowlog::threshold_met(self, usec) {
                let shown = crate::redact::shown_args(spec, skip, args);
                let name = self.handle.state.lock().name.clone().unwrap_or_default();
                let peer = self.handle.addr.to_string();
                shared.slowlog.push(&shown, usec, peer, name, max_len);
            }
        }
    }

    /// Shows a command to the clients in MONITOR mode, as it runs.
    fn feed_monitors(&self, spec: &'static CommandSpec, skip: usize, args: &[&[u8]]) {
        let shared = &self.shared;
        // Redis never shows administrative commands to monitors.
        if shared.monitors.any() && !spec.has(Flags::SKIP_MONITOR) && !spec.has(Flags::ADMIN) {
            let shown = crate::redact::shown_args(spec, skip, args);
            let line = crate::monitor::format_line(self.session.db, &self.handle.addr, &shown);
            shared.monitors.feed(line);
        }
    }

    /// Drops the reply CLIENT REPLY OFF/SKIP suppress; only a CLIENT REPLY ON that took effect
    /// answers.
    fn drop_skipped_reply(&mut self, mark: usize, skip_reply: bool, args: &[&[u8]]) {
        if skip_reply && !(self.reply_mode == ReplyMode::On && is_reply_on(args)) {
            self.reply.rollback(mark);
        }
    }

    /// Records the command, run at `now`, for CLIENT LIST and idle time (published with
    /// [`Connection::publish_activity`]).
    fn note_command(
        &mut self,
        args: &[&[u8]],
        spec: &'static CommandSpec,
        skip: usize,
        now: Instant,
    ) {
        let container = if skip == 2 {
            kv_engine::table::find(args[0]).map(|c| c.name)
        } else {
            None
        };
        self.activity.last_command = Some((container, spec.name, now));
    }

    /// Publishes the activity kept back since the last call (see [`Activity`]): the last
    /// command and the selected database for CLIENT LIST, the command counters for INFO; and
    /// `query_buffer`, the bytes of input left unparsed, when given.
    pub(crate) fn publish_activity(&mut self, query_buffer: Option<usize>) {
        let activity = &mut self.activity;
        let shared = &self.shared;
        if activity.commands > 0 {
            shared
                .stats
                .commands_processed
                .fetch_add(activity.commands, Ordering::Relaxed);
            activity.commands = 0;
        }
        shared.cmdstats.flush(&mut activity.tally);
        let last_command = activity.last_command.take();
        if last_command.is_none() && query_buffer.is_none() {
            return;
        }
        let mut state = self.handle.state.lock();
        if let Some((container, name, at)) = last_command {
            state.last_interaction = at;
            state.db = self.session.db;
            state.last_command = (container, name);
        }
        if let Some(len) = query_buffer {
            state.query_buffer = len;
            state.argv_mem = self.running_argv;
        }
    }

    /// [`Connection::publish_activity`] before a server command (`args`) runs: CLIENT LIST
    /// and CLIENT INFO then show this client's query buffer as the command sees it, and the
    /// command's arguments (`argv-mem`), as Redis shows them.
    pub(crate) fn publish_running(&mut self, args: &[&[u8]]) {
        self.running_argv = args.iter().map(|arg| arg.len()).sum();
        self.publish_activity(Some(self.batch_bytes));
        self.running_argv = 0;
    }

    /// Switches the reply protocol (HELLO, RESET).
    pub fn set_protocol(&mut self, protocol: Protocol) {
        self.session.protocol = protocol;
        self.reply.protocol = protocol;
        if protocol == Protocol::Resp3 {
            // A RESP3 client can be sent invalidations redirected to it.
            self.mailbox();
        }
        // A subscriber's messages follow its protocol.
        crate::pubsub::note_mode(self);
        self.handle.state.lock().resp = if protocol == Protocol::Resp3 { 3 } else { 2 };
    }
}

/// When to check whether `waiter`'s timeout has passed, from `now` (Unix ms): its deadline,
/// or a year from now for a deadline further off than a timer can be set.
fn timer_deadline(waiter: &Waiter, now: u64) -> Option<tokio::time::Instant> {
    const LONGEST_TIMER_MS: u64 = 365 * 24 * 3600 * 1000;
    let wait = waiter.deadline()?.saturating_sub(now).min(LONGEST_TIMER_MS);
    Some(tokio::time::Instant::now() + Duration::from_millis(wait))
}

/// The command a request that failed its arity check names, as Redis finds it to count the
/// refusal: the command itself, or its subcommand when it has subcommands and one is given.
fn refused_spec(args: &[&[u8]]) -> Option<&'static CommandSpec> {
    let base = kv_engine::table::find(args.first()?)?;
    match args.get(1) {
        Some(sub) if !base.subcommands.is_empty() => base
            .subcommands
            .iter()
            .find(|s| s.name.as_bytes().eq_ignore_ascii_case(sub)),
        _ => Some(base),
    }
}

fn is_reply_on(args: &[&[u8]]) -> bool {
    args.len() == 3
        && args[0].eq_ignore_ascii_case(b"client")
        && args[1].eq_ignore_ascii_case(b"reply")
        && args[2].eq_ignore_ascii_case(b"on")
}
