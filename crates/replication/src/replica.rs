//! The replica's side of the link: connects to the master, synchronises (partially when the
//! master still has its offset, else from a snapshot), then applies the master's stream, and
//! keeps doing so across dropped links, reconnecting with backoff for as long as it follows.
//!
//! A full synchronisation's snapshot is received whole before anything changes, so clients
//! keep reading the old data meanwhile; it is then loaded with every shard held, so no client
//! sees part of the old data and part of the new. The stream is applied by the link's task as
//! each message arrives (as a connection runs its commands), as of time 0: for the master's
//! stream nothing is ever expired, the master's DELs do the expiring (the engine is in replica
//! mode, where reads hide keys past their TTL without deleting them). A MULTI ... EXEC group
//! is applied under one set of locks. What is applied is forwarded byte for byte into this
//! server's own feed, so its replicas (chained) and its offsets follow the master's exactly.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kv_engine::{Engine, Handler, Protocol, Reply, Session};
use parking_lot::Mutex;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;

use crate::feed::Feed;
use crate::master::{Master, StreamPosition};
use crate::proto::master_message::Kind as In;
use crate::proto::replica_message::Kind as Out;
use crate::proto::replication_client::ReplicationClient;
use crate::proto::{Ack, Hello, ReplicaMessage};
use crate::PROTOCOL_VERSION;

/// Whom to follow and how to introduce ourselves.
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// The master's host.
    pub host: String,
    /// The master's client port.
    pub port: u16,
    /// `masteruser` (empty: the default user).
    pub user: String,
    /// `masterauth` (empty: none).
    pub password: String,
    /// This server's client port, for the master's INFO.
    pub listening_port: u32,
    /// `replica-announce-ip` (empty: the address the master sees).
    pub announced_ip: String,
    /// This server is a master handing over to `host:port` (FAILOVER): the first link asks
    /// it to become the master, and is not made again if that fails.
    pub failover: bool,
}

/// What the server does around a synchronisation.
pub trait Host: Send + Sync + 'static {
    /// A full synchronisation's snapshot arrived whole and is about to replace the dataset
    /// (no lock held): the server may write it out as its own log's next base.
    fn snapshot_received(&self, snapshot: &[u8]);

    /// The snapshot replaced the dataset, and every shard is still held: the server's own log,
    /// if any, must start afresh from it before any later write is logged.
    fn dataset_replaced(&self);

    /// A message of the stream was applied and moved the stream position: the server's own
    /// log, if any, must take its effects now (as a connection's writes are logged before
    /// their replies), not on a timer, or a replica killed right after applying loses what it
    /// had acknowledged; and it notes the position, so a restart continues from there.
    fn stream_applied(&self);

    /// `bytes` of a snapshot or of the stream arrived from the master (INFO's
    /// `total_net_repl_input_bytes`).
    fn received(&self, bytes: u64);
}

/// The link's state, for INFO replication and ROLE.
#[derive(Debug, Clone)]
pub struct LinkState {
    /// `connect` (waiting to reconnect), `connecting`, `sync` (receiving a snapshot) or
    /// `connected` (following the stream).
    pub status: &'static str,
    /// When the master last sent anything.
    pub last_io: Instant,
    /// Since when the link has been down (None while connected).
    pub down_since: Option<Instant>,
    /// Bytes of the snapshot received so far in a full synchronisation.
    pub sync_read: u64,
    /// The last reason the link failed.
    pub last_error: String,
    /// Full synchronisations completed.
    pub full_syncs: u64,
    /// Partial ones.
    pub partial_syncs: u64,
    /// For a FAILOVER's link (see [`Target::failover`]): whether the target took over
    /// (`Ok`) or refused or could not be reached (`Err`, and the link stopped); None until
    /// then.
    pub handover: Option<Result<(), String>>,
}

/// A running link to a master.
#[derive(Debug)]
pub struct Replica {
    /// The master followed.
    pub target: Target,
    /// The link's state.
    pub state: Arc<Mutex<LinkState>>,
    stop: watch::Sender<bool>,
    gate: Gate,
}

/// Held by the link while it applies a message of the stream; `true` once the replica is
/// stopped for good, after which nothing more is applied. [`Replica::stop_and_wait`] sets it,
/// so when that returns no byte of the old master's stream can land any more.
type Gate = Arc<Mutex<bool>>;

impl Replica {
    /// Starts following `target` (on the current tokio runtime): the link is made, and made
    /// again whenever it drops, until [`Replica::stop`].
    pub fn start(
        master: Arc<Master>,
        engine: Arc<Engine>,
        target: Target,
        host: Arc<dyn Host>,
    ) -> Replica {
        engine.config.replica.store(true, Ordering::SeqCst);
        let state = Arc::new(Mutex::new(LinkState {
            status: "connect",
            last_io: Instant::now(),
            down_since: Some(Instant::now()),
            sync_read: 0,
            last_error: String::new(),
            full_syncs: 0,
            partial_syncs: 0,
            handover: None,
        }));
        let (stop, stopped) = watch::channel(false);
        let link = Link {
            master,
            engine,
            target: target.clone(),
            host,
            state: Arc::clone(&state),
            gate: Arc::new(Mutex::new(false)),
        };
        let gate = Arc::clone(&link.gate);
        tokio::spawn(link.run(stopped));
        Replica {
            target,
            state,
            stop,
            gate,
        }
    }

    /// Stops following: the link is closed and not made again.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// Stops following and waits until the message being applied, if any, is: nothing of the
    /// old master's stream lands after what happens next (a promotion's new history, or a new
    /// master's synchronisation). Blocks the calling thread for at most one message's apply.
    pub fn stop_and_wait(&self) {
        self.stop();
        *self.gate.lock() = true;
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Why one connection to the master ended.
type LinkError = String;

/// The link's task.
struct Link {
    master: Arc<Master>,
    engine: Arc<Engine>,
    target: Target,
    host: Arc<dyn Host>,
    state: Arc<Mutex<LinkState>>,
    /// See [`Gate`].
    gate: Gate,
}

impl Link {
    /// Connects, follows, and reconnects with backoff (0.1 s doubling up to 5 s, back to
    /// 0.1 s after a link that synchronised) until told to stop.
    async fn run(self, mut stopped: watch::Receiver<bool>) {
        let mut backoff = Duration::from_millis(100);
        loop {
            if *stopped.borrow() {
                return;
            }
            self.state.lock().status = "connecting";
            let mut synced = false;
            let result = tokio::select! {
                result = self.follow_once(&mut synced) => result,
                _ = stopped.changed() => return,
            };
            {
                let mut state = self.state.lock();
                state.status = "connect";
                state.down_since.get_or_insert_with(Instant::now);
                if let Err(error) = &result {
                    state.last_error.clone_from(error);
                }
            }
            let error = result.err().unwrap_or_else(|| "the link ended".into());
            tracing::warn!(
                "replication link to {}:{} failed: {error}",
                self.target.host,
                self.target.port
            );
            if self.target.failover && self.state.lock().handover.is_none() {
                // The handover failed before the target took over: the server goes back to
                // being a master (FAILOVER's abort), so there is no link to make again.
                self.state.lock().handover = Some(Err(error));
                return;
            }
            if synced {
                backoff = Duration::from_millis(100);
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = stopped.changed() => return,
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// One connection: synchronises and follows the stream until the link fails.
    async fn follow_once(&self, synced: &mut bool) -> Result<(), LinkError> {
        let address = format!("http://{}:{}", self.target.host, self.target.port);
        let endpoint = tonic::transport::Endpoint::from_shared(address)
            .map_err(|e| e.to_string())?
            .connect_timeout(Duration::from_secs(10))
            .tcp_nodelay(true);
        let channel = endpoint.connect().await.map_err(|e| e.to_string())?;
        let limit = 2 * (256 << 10) + 1024;
        let mut client = ReplicationClient::new(channel)
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit);
        let (out, outgoing) = mpsc::channel::<ReplicaMessage>(16);
        let (id, offset) = match self.master.feed() {
            Some(feed) => {
                let (id, end) = feed.position();
                (id, end as i64)
            }
            None => (self.master.history().id, -1),
        };
        let hello = Hello {
            protocol_version: PROTOCOL_VERSION,
            replication_id: id.clone(),
            offset,
            listening_port: self.target.listening_port,
            announced_ip: self.target.announced_ip.clone(),
            user: self.target.user.clone(),
            password: self.target.password.clone(),
            failover: self.target.failover && self.state.lock().handover.is_none(),
        };
        let send = |kind: Out| ReplicaMessage { kind: Some(kind) };
        out.send(send(Out::Hello(hello)))
            .await
            .map_err(|_| "link closed".to_string())?;
        let mut inbound = client
            .link(ReceiverStream::new(outgoing))
            .await
            .map_err(|e| e.message().to_string())?
            .into_inner();
        let limit =
            Duration::from_secs(self.master.settings.timeout.load(Ordering::Relaxed).max(1));
        match receive(&mut inbound, limit).await? {
            In::Welcome(_) => {}
            In::Refused(refused) => return Err(refused.error),
            _ => return Err("the master did not answer Hello".into()),
        }
        self.touch();
        let (feed, start) = match receive(&mut inbound, limit).await? {
            In::Continue(resume) => {
                let offset = u64::try_from(resume.offset).map_err(|e| e.to_string())?;
                self.master.continue_following();
                if resume.replication_id != id {
                    self.master
                        .master_changed_id(resume.replication_id.clone(), offset);
                }
                let feed = self.master.feed().ok_or("no stream to continue")?;
                // Our stream so far is the master's, and leaves the database it selected.
                self.master.position.reset(offset, feed.context());
                self.state.lock().partial_syncs += 1;
                (feed, offset)
            }
            In::FullSync(full) => {
                let offset = u64::try_from(full.offset).map_err(|e| e.to_string())?;
                self.state.lock().status = "sync";
                self.state.lock().sync_read = 0;
                let mut snapshot = Vec::new();
                loop {
                    match receive(&mut inbound, limit).await? {
                        In::SnapshotChunk(chunk) => {
                            self.host.received(chunk.data.len() as u64);
                            snapshot.extend_from_slice(&chunk.data);
                            let mut state = self.state.lock();
                            state.sync_read = snapshot.len() as u64;
                            state.last_io = Instant::now();
                        }
                        In::SnapshotEnd(_) => break,
                        _ => return Err("unexpected message in a snapshot".into()),
                    }
                }
                let engine = Arc::clone(&self.engine);
                let host = Arc::clone(&self.host);
                let loaded = tokio::task::spawn_blocking(move || {
                    replace_dataset(&engine, host.as_ref(), &snapshot)
                })
                .await
                .map_err(|e| e.to_string())?;
                // The snapshot names the database the stream has selected at its offset.
                let db = crate::master::aux_position(&loaded?.aux).map_or(0, |(_, _, db)| db);
                let feed = self.master.follow(full.replication_id, offset, db);
                self.state.lock().full_syncs += 1;
                (feed, offset)
            }
            In::Refused(refused) => return Err(refused.error),
            _ => return Err("the master did not start a synchronisation".into()),
        };
        *synced = true;
        if self.target.failover {
            self.state.lock().handover.get_or_insert(Ok(()));
        }
        {
            let mut state = self.state.lock();
            state.status = "connected";
            state.down_since = None;
            state.last_io = Instant::now();
        }
        // Each message is applied as it arrives, in this task: a thread of its own cost two
        // context switches per message, a third of the replica's CPU under a SET load.
        let mut applier = StreamApplier::new(&self.master.position);
        let mut expected = start;
        // The offset a GetAck asked for, once what was received before it is applied.
        let mut ack_wanted: Option<u64> = None;
        let mut acks = tokio::time::interval(Duration::from_secs(1));
        loop {
            let message = tokio::select! {
                message = receive(&mut inbound, limit) => message?,
                _ = acks.tick() => {
                    let offset = self.master.position.applied() as i64;
                    out.send(send(Out::Ack(Ack { offset }))).await.map_err(|_| "link closed".to_string())?;
                    continue;
                }
            };
            self.touch();
            match message {
                In::Stream(stream) => {
                    if u64::try_from(stream.offset).ok() != Some(expected) {
                        return Err(format!(
                            "stream out of step: expected offset {expected}, got {}",
                            stream.offset
                        ));
                    }
                    expected += stream.data.len() as u64;
                    self.host.received(stream.data.len() as u64);
                    let before = self.master.position.applied();
                    {
                        let stopped = self.gate.lock();
                        if *stopped {
                            return Err("stopped".into());
                        }
                        applier.apply(&self.engine, &feed, &stream.data, &self.master.position)?;
                    }
                    if self.master.position.applied() != before {
                        self.host.stream_applied();
                    }
                }
                // Acknowledged once what was received before it is applied (a command split
                // across messages waits for its end).
                In::GetAck(_) => ack_wanted = Some(expected),
                _ => return Err("unexpected message in the stream".into()),
            }
            let applied = self.master.position.applied();
            if ack_wanted.is_some_and(|wanted| applied >= wanted) {
                ack_wanted = None;
                out.send(send(Out::Ack(Ack {
                    offset: applied as i64,
                })))
                .await
                .map_err(|_| "link closed".to_string())?;
            }
        }
    }

    fn touch(&self) {
        self.state.lock().last_io = Instant::now();
    }
}

/// The master's next message; an error if the link failed or stayed silent for `limit`
/// (`repl-timeout`: the master pings every `repl-ping-replica-period`).
async fn receive(
    inbound: &mut tonic::Streaming<crate::proto::MasterMessage>,
    limit: Duration,
) -> Result<In, LinkError> {
    match tokio::time::timeout(limit, inbound.message()).await {
        Err(_) => Err("timeout: no data from the master".to_string()),
        Ok(Err(status)) => Err(status.message().to_string()),
        Ok(Ok(None)) => Err("the master closed the link".to_string()),
        Ok(Ok(Some(message))) => message.kind.ok_or_else(|| "empty message".to_string()),
    }
}

/// Replaces every database with the snapshot in `bytes`, with every shard held: clients see
/// the old data or the new, never a mix. Keys past their TTL are kept (the master deletes
/// them), and nothing is recorded as an effect of this server's: its log starts again from
/// the snapshot ([`Host::dataset_replaced`]) before the locks are released, so no write of
/// the new stream is ever logged on top of the old dataset.
fn replace_dataset(
    engine: &Engine,
    host: &dyn Host,
    bytes: &[u8],
) -> Result<kv_persist::LoadStats, LinkError> {
    // Checked whole before anything is replaced: the master always writes the checksum, and
    // matching it costs a fraction of decoding the file twice. (A file that matches but does
    // not decode would be a bug in kv; the link then fails and syncs again.)
    if !kv_persist::checksum_ok(bytes) {
        return Err("bad snapshot from the master: checksum mismatch".into());
    }
    host.snapshot_received(bytes);
    let keyspace = &engine.keyspace;
    let mut locked = keyspace.lock_everything(true);
    let mut old = Vec::new();
    for db in 0..keyspace.databases() {
        old.extend(locked.clear(db));
    }
    // As Redis empties a replica's data at a full sync: in the background with
    // replica-lazy-flush yes, here (before the new data comes in) otherwise.
    if keyspace.lazyfree.on_replica_flush.load(Ordering::Relaxed) {
        keyspace.lazyfree.free_flushed(old);
    } else {
        drop(old);
    }
    let log = keyspace.effects.take_sink();
    let loaded = kv_persist::load_held(engine, &mut locked, bytes, 0);
    keyspace.effects.set_sink(log);
    let loaded = loaded.map_err(|e| format!("cannot load the master's snapshot: {e}"))?;
    host.dataset_replaced();
    Ok(loaded)
}

/// Applies one connection's stream, message by message, counting each command in the
/// stream position before its locks are released and forwarding what is applied into this
/// server's own feed (for its chained replicas).
struct StreamApplier {
    decoder: kv_resp::RequestDecoder,
    /// Received bytes not yet decoded (a command split across messages).
    buf: BytesMut,
    /// The bytes received and not yet forwarded: first those of whole items applied, then
    /// those of an open MULTI block (`open_bytes`), then the rest.
    raw: Vec<u8>,
    open_bytes: usize,
    session: Session,
    /// The commands of an open MULTI block.
    transaction: Option<Vec<Vec<Bytes>>>,
}

impl StreamApplier {
    /// The stream goes on in the database it had selected where we stand.
    fn new(position: &StreamPosition) -> StreamApplier {
        StreamApplier {
            decoder: kv_resp::RequestDecoder::default(),
            buf: BytesMut::new(),
            raw: Vec::new(),
            open_bytes: 0,
            session: Session {
                db: position.db(),
                ..Session::default()
            },
            transaction: None,
        }
    }

    /// Applies every whole command (or MULTI ... EXEC block) `chunk` completes.
    fn apply(
        &mut self,
        engine: &Engine,
        feed: &Feed,
        chunk: &[u8],
        position: &StreamPosition,
    ) -> Result<(), LinkError> {
        self.buf.extend_from_slice(chunk);
        self.raw.extend_from_slice(chunk);
        let mut applied_bytes = 0;
        loop {
            let before = self.buf.len();
            let args = match self.decoder.decode(&mut self.buf) {
                Ok(Some(args)) => args,
                Ok(None) => break,
                Err(e) => return Err(format!("bad bytes in the master's stream: {e}")),
            };
            let used = before - self.buf.len();
            let Some(name) = args.first() else { continue };
            if name.eq_ignore_ascii_case(b"multi") {
                self.transaction = Some(Vec::new());
                self.open_bytes += used;
            } else if name.eq_ignore_ascii_case(b"exec") {
                let block = (self.open_bytes + used) as u64;
                match self.transaction.take() {
                    Some(queued) => {
                        apply_transaction(engine, &mut self.session, &queued, block, position);
                    }
                    None => position.advance(block, self.session.db),
                }
                applied_bytes += self.open_bytes + used;
                self.open_bytes = 0;
            } else if let Some(queued) = &mut self.transaction {
                queued.push(args);
                self.open_bytes += used;
            } else {
                apply_command(
                    engine,
                    &mut self.session,
                    &kv_engine::arg_slices(&args),
                    used as u64,
                    position,
                );
                applied_bytes += used;
            }
        }
        // Forwarded once per message: one append, one wake-up of our own replicas.
        if applied_bytes > 0 {
            feed.append_stream(&self.raw[..applied_bytes], self.session.db);
            self.raw.drain(..applied_bytes);
        }
        Ok(())
    }
}

/// Applies one command of the master's stream, `bytes` long.
fn apply_command(
    engine: &Engine,
    session: &mut Session,
    args: &[&[u8]],
    bytes: u64,
    position: &StreamPosition,
) {
    let Ok((spec, skip)) = engine.lookup(args) else {
        tracing::warn!(
            "unknown command in the master's stream: {}",
            String::from_utf8_lossy(args[0])
        );
        position.advance(bytes, session.db);
        return;
    };
    if !matches!(spec.handler, Handler::Engine(_)) {
        // Nothing of the engine's to apply: only counted.
        position.advance(bytes, session.db);
        return;
    }
    let mut reply = Reply::new(Protocol::Resp2);
    // As of time 0: nothing is expired for the master's stream.
    let _ = engine.run_noting(spec, skip, session, args, &mut reply, 0, |session| {
        position.advance(bytes, session.db);
    });
    engine.stats.note_unread_reply(&reply);
}

/// Applies a MULTI ... EXEC group (`bytes` long with MULTI and EXEC) under one set of locks,
/// as EXEC runs it on the master.
fn apply_transaction(
    engine: &Engine,
    session: &mut Session,
    queued: &[Vec<Bytes>],
    bytes: u64,
    position: &StreamPosition,
) {
    let borrowed: Vec<_> = queued
        .iter()
        .map(|args| kv_engine::arg_slices(args))
        .collect();
    let commands: Vec<_> = borrowed
        .iter()
        .filter_map(|args| {
            let (spec, skip) = engine.lookup(args).ok()?;
            Some((spec, skip, &args[..]))
        })
        .collect();
    let plan = engine.transaction_plan(session, commands.iter().copied());
    let mut locked = engine.keyspace.lock(plan);
    let mut reply = Reply::new(Protocol::Resp2);
    for (spec, skip, args) in commands {
        reply.buf.clear();
        engine.run_locked(spec, skip, session, args, &mut reply, 0, &mut locked);
        engine.stats.note_unread_reply(&reply);
    }
    position.advance(bytes, session.db);
    let pending = engine.serve_blocked_in(&mut locked, session.db, 0);
    drop(locked);
    engine.serve_pending(pending, 0);
}
