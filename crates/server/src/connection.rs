//! One client's connection: read what arrived, execute every complete command in it, write all
//! the replies back in one go, repeat.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kv_engine::{CommandSpec, Flags, Handler, Protocol, Reply, Session};
use kv_resp::{Limits, RequestDecoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::clients::ClientHandle;
use crate::server::Shared;

/// Smallest free space kept in the read buffer before each read.
const READ_CHUNK: usize = 16 * 1024;

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
}

/// Serves one accepted connection until it closes.
pub async fn serve_client(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    let laddr = stream.local_addr().unwrap_or(peer);
    #[cfg(unix)]
    let fd = std::os::fd::AsRawFd::as_raw_fd(&stream) as i64;
    #[cfg(not(unix))]
    let fd = -1;
    let _ = stream.set_nodelay(true);
    shared
        .stats
        .connections_received
        .fetch_add(1, Ordering::Relaxed);
    let mut stream = stream;
    if let Some(refusal) = refusal(&shared, peer) {
        shared
            .stats
            .rejected_connections
            .fetch_add(1, Ordering::Relaxed);
        tracing::warn!("refusing connection from {peer}: {}", refusal.trim_end());
        let _ = stream.write_all(refusal.as_bytes()).await;
        return;
    }
    let handle = shared.clients.register(peer, laddr, fd);
    let mut connection = Connection {
        authenticated: shared.config.get("requirepass").is_empty(),
        shared: shared.clone(),
        handle: handle.clone(),
        session: Session::default(),
        reply: Reply::new(Protocol::Resp2),
        reply_mode: ReplyMode::On,
        close: false,
    };
    if let Err(e) = connection.run(stream).await {
        tracing::debug!("client {} ({peer}) closed: {e}", handle.id);
    }
    shared.clients.unregister(handle.id);
}

/// Why a new connection must be turned away, as the error line to send it, if it must.
fn refusal(shared: &Shared, peer: SocketAddr) -> Option<String> {
    let maxclients = shared.config.int("maxclients").max(1) as usize;
    if shared.clients.len() >= maxclients {
        return Some("-ERR max number of clients reached\r\n".to_string());
    }
    let protected =
        shared.config.flag("protected-mode") && shared.config.get("requirepass").is_empty();
    if protected && !peer.ip().is_loopback() {
        return Some(PROTECTED_MODE_REFUSAL.to_string());
    }
    None
}

/// Redis's explanation for a refused non-loopback client in protected mode.
const PROTECTED_MODE_REFUSAL: &str = "-DENIED kv is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to kv you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to kv from the same host the server is running, however MAKE SURE kv is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the kv configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

impl Connection {
    async fn run(&mut self, stream: TcpStream) -> std::io::Result<()> {
        let (mut reader, mut writer) = stream.into_split();
        let mut input = BytesMut::with_capacity(READ_CHUNK);
        let mut decoder = RequestDecoder::new(self.limits());
        loop {
            self.process(&mut input, &mut decoder);
            if !self.reply.buf.is_empty() {
                self.shared
                    .stats
                    .net_output_bytes
                    .fetch_add(self.reply.buf.len() as u64, Ordering::Relaxed);
                writer.write_all(&self.reply.buf).await?;
                self.reply.buf.clear();
            }
            if self.close || self.handle.killed.load(Ordering::SeqCst) {
                return Ok(());
            }
            input.reserve(READ_CHUNK);
            let timeout = self.shared.config.hot.timeout.load(Ordering::Relaxed);
            let idle = async {
                if timeout > 0 {
                    tokio::time::sleep(Duration::from_secs(timeout as u64)).await;
                } else {
                    std::future::pending::<()>().await;
                }
            };
            let read = tokio::select! {
                read = reader.read_buf(&mut input) => read?,
                _ = self.handle.kill.notified() => return Ok(()),
                _ = self.shared.shutdown.notified() => return Ok(()),
                _ = idle => {
                    tracing::debug!("closing idle client {}", self.handle.id);
                    return Ok(());
                }
            };
            if read == 0 {
                return Ok(());
            }
            self.shared
                .stats
                .net_input_bytes
                .fetch_add(read as u64, Ordering::Relaxed);
            let limit = self
                .shared
                .config
                .hot
                .query_buffer_limit
                .load(Ordering::Relaxed)
                .max(1) as usize;
            if input.len() > limit {
                tracing::warn!(
                    "closing client {} ({}) that reached max query buffer length ({} bytes)",
                    self.handle.id,
                    self.handle.addr,
                    input.len()
                );
                return Ok(());
            }
            decoder.set_limits(self.limits());
        }
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

    /// Executes every complete request in `input`.
    fn process(&mut self, input: &mut BytesMut, decoder: &mut RequestDecoder) {
        while !self.close {
            match decoder.decode(input) {
                Ok(Some(args)) => self.execute(&args),
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(
                        "protocol error from client {} ({}): {e}",
                        self.handle.id,
                        self.handle.addr
                    );
                    self.reply.error(&format!("ERR {e}"));
                    self.close = true;
                }
            }
        }
        self.handle.state.lock().query_buffer = input.len();
    }

    /// Runs one command and leaves its reply (if any is due) in the reply buffer.
    pub fn execute(&mut self, args: &[Bytes]) {
        let shared = self.shared.clone();
        shared
            .stats
            .commands_processed
            .fetch_add(1, Ordering::Relaxed);
        let mark = self.reply.mark();
        let skip_this = self.reply_mode != ReplyMode::On;
        if self.reply_mode == ReplyMode::SkipNext {
            self.reply_mode = ReplyMode::On;
        }
        match self.shared.engine.lookup(args) {
            Err(e) => self.reply.command_error(&e),
            Ok((spec, skip)) => {
                if !self.authenticated && !spec.has(Flags::NO_AUTH) {
                    self.reply.error("NOAUTH Authentication required.");
                } else {
                    self.note_command(args, spec, skip);
                    match spec.handler {
                        Handler::Engine(_) => {
                            shared
                                .engine
                                .run(spec, skip, &mut self.session, args, &mut self.reply);
                        }
                        Handler::Server | Handler::Container => crate::admin::run(self, spec, args),
                    }
                }
            }
        }
        if self.reply.buf.get(mark) == Some(&b'-') {
            shared.stats.error_replies.fetch_add(1, Ordering::Relaxed);
        }
        // CLIENT REPLY OFF/SKIP drop replies; only a CLIENT REPLY ON that took effect answers.
        if skip_this && !(self.reply_mode == ReplyMode::On && is_reply_on(args)) {
            self.reply.rollback(mark);
        }
    }

    /// Records the command for CLIENT LIST and idle time.
    fn note_command(&self, args: &[Bytes], spec: &'static CommandSpec, skip: usize) {
        let container = if skip == 2 {
            kv_engine::table::find(&args[0]).map(|c| c.name)
        } else {
            None
        };
        let mut state = self.handle.state.lock();
        state.last_interaction = Instant::now();
        state.db = self.session.db;
        state.last_command = (container, spec.name);
    }

    /// Switches the reply protocol (HELLO, RESET).
    pub fn set_protocol(&mut self, protocol: Protocol) {
        self.session.protocol = protocol;
        self.reply.protocol = protocol;
        self.handle.state.lock().resp = if protocol == Protocol::Resp3 { 3 } else { 2 };
    }
}

fn is_reply_on(args: &[Bytes]) -> bool {
    args.len() == 3
        && args[0].eq_ignore_ascii_case(b"client")
        && args[1].eq_ignore_ascii_case(b"reply")
        && args[2].eq_ignore_ascii_case(b"on")
}
