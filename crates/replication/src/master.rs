//! The master's side of the link: the `Replication` gRPC service, the registry of replicas it
//! serves (for INFO, ROLE and WAIT), and the write stream's history.
//!
//! One [`Master`] lives as long as the server, whatever its role: a replica serves its own
//! replicas from it too (chained replication), with the stream it receives forwarded byte for
//! byte into the same [`Feed`].
//!
//! A link goes: `Hello` (version and credentials checked, else `Refused`), then a partial
//! resynchronisation (`Continue`) when the replica's history is this one (or the one before a
//! promotion) and the backlog still holds its offset, else a full one (`FullSync`, the
//! snapshot in chunks, `SnapshotEnd`); then the stream, read from the backlog. The backlog is
//! the only buffer: a replica that falls so far behind that the backlog no longer holds its
//! next byte is disconnected and resyncs, so a slow replica never makes the master's memory
//! grow.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kv_engine::Engine;
use parking_lot::{Condvar, Mutex};
use tokio::sync::{mpsc, watch, Notify};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::feed::{Feed, OutputLimit};
use crate::proto::master_message::Kind as Out;
use crate::proto::replica_message::Kind as In;
use crate::proto::replication_server::{Replication, ReplicationServer};
use crate::proto::{
    Continue, FullSync, GetAck, Hello, MasterMessage, Refused, ReplicaMessage, SnapshotChunk,
    SnapshotEnd, Stream, Welcome,
};
use crate::PROTOCOL_VERSION;

/// Bytes of snapshot or stream in one message at most.
const MESSAGE_BYTES: usize = 256 << 10;

/// Checks a replica's `masteruser`/`masterauth`: `Err` is the error line to refuse it with.
pub type Authenticate = dyn Fn(&str, &str) -> Result<(), String> + Send + Sync;

/// Makes this server a master (stops following its own master): a FAILOVER hands over to it.
pub type Promote = dyn Fn() + Send + Sync;

/// The settings a link reads as it goes, changeable at run time (CONFIG SET).
#[derive(Debug)]
pub struct Settings {
    /// `repl-backlog-size`, bytes.
    pub backlog_size: AtomicUsize,
    /// `repl-ping-replica-period`, seconds.
    pub ping_period: AtomicU64,
    /// `repl-timeout`, seconds.
    pub timeout: AtomicU64,
    /// `min-replicas-to-write`: writes are refused with fewer good replicas (0: never).
    pub min_replicas_to_write: AtomicU64,
    /// `min-replicas-max-lag`, seconds: a good replica acknowledged within this long.
    pub min_replicas_max_lag: AtomicU64,
    /// `client-output-buffer-limit replica`, which the feed holds each link to.
    pub output_limit: Arc<OutputLimit>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            backlog_size: AtomicUsize::new(1 << 20),
            ping_period: AtomicU64::new(10),
            timeout: AtomicU64::new(60),
            min_replicas_to_write: AtomicU64::new(0),
            min_replicas_max_lag: AtomicU64::new(10),
            output_limit: Arc::default(),
        }
    }
}

/// Synchronisations served (INFO stats' `sync_full`, `sync_partial_ok`, `sync_partial_err`).
#[derive(Debug, Default)]
pub struct SyncCounts {
    /// Full synchronisations.
    pub full: AtomicU64,
    /// Partial ones granted.
    pub partial_ok: AtomicU64,
    /// Partial ones asked for and refused (a full one followed).
    pub partial_err: AtomicU64,
    /// Snapshots made for full synchronisations (fewer than `full` when replicas that asked
    /// at once shared one).
    pub snapshots: AtomicU64,
    /// Bytes of snapshots and of the stream sent to replicas (INFO's
    /// `total_net_repl_output_bytes`).
    pub bytes_sent: AtomicU64,
}

/// A connected replica, as INFO replication and ROLE show it.
#[derive(Debug, Clone)]
pub struct ReplicaInfo {
    /// The address it announced, or the one its link comes from.
    pub ip: String,
    /// The port its clients use.
    pub port: u32,
    /// `wait_bgsave` while its snapshot is being made, `send_bulk` while it is sent,
    /// `online` once it follows the stream.
    pub state: &'static str,
    /// The offset it last acknowledged.
    pub ack_offset: u64,
    /// When it last acknowledged.
    pub last_ack: Instant,
}

/// Where a replica stands in its master's stream: the offset it has applied and the database
/// the stream has selected there. Both outlive a dropped link (a partial resynchronisation
/// continues from them) and go into the replica's snapshots (a restart continues from them).
/// The applier updates them before it releases the locks of the command it applied, the
/// database first: a reader that takes every lock (a snapshot's instant), or that reads the
/// offset first, never sees an offset past the database it reads.
#[derive(Debug, Default)]
pub struct StreamPosition {
    applied: AtomicU64,
    db: AtomicUsize,
}

impl StreamPosition {
    /// The offset applied.
    pub fn applied(&self) -> u64 {
        self.applied.load(Ordering::SeqCst)
    }

    /// The database the stream has selected at that offset.
    pub fn db(&self) -> usize {
        self.db.load(Ordering::SeqCst)
    }

    /// Both, read in the order that keeps them consistent.
    pub fn read(&self) -> (u64, usize) {
        let applied = self.applied();
        (applied, self.db())
    }

    /// Starts over at `offset` in database `db`.
    pub fn reset(&self, offset: u64, db: usize) {
        self.db.store(db, Ordering::SeqCst);
        self.applied.store(offset, Ordering::SeqCst);
    }

    /// `bytes` more were applied, leaving the stream in database `db`.
    pub fn advance(&self, bytes: u64, db: usize) {
        self.db.store(db, Ordering::SeqCst);
        self.applied.fetch_add(bytes, Ordering::SeqCst);
    }
}

/// The history of the stream: its ID, and the previous one a promotion left (Redis's
/// `master_replid2` and `second_replid_offset`).
#[derive(Debug, Clone)]
pub struct History {
    /// The current ID.
    pub id: String,
    /// The ID before the last promotion (all zeros if none).
    pub id2: String,
    /// The offset up to which `id2`'s history is this one's (-1 if none).
    pub id2_offset: i64,
}

/// The master's replication state; see the module documentation.
pub struct Master {
    engine: Arc<Engine>,
    /// The stream's history IDs.
    history: Mutex<History>,
    /// The stream, once a replica has asked for it (or this server follows a master).
    feed: Mutex<Option<Arc<Feed>>>,
    /// Whether the feed is the engine's replication sink (a master's) or is fed by a master's
    /// stream (a replica's).
    following: Mutex<bool>,
    /// Where this server stands in its master's stream, while it follows one.
    pub position: StreamPosition,
    replicas: Mutex<BTreeMap<u64, ReplicaInfo>>,
    /// The snapshot being made for full synchronisations, while it is being made: a replica
    /// asking meanwhile shares it instead of starting another.
    building: Mutex<Option<Arc<SharedSnapshot>>>,
    /// The stream's end when its backlog was last freed (`repl-backlog-ttl`), where the next
    /// one starts.
    freed_at: AtomicU64,
    next_link: AtomicU64,
    /// Woken when a replica acknowledges (WAIT).
    acked: Notify,
    /// Tells every link to ask for an acknowledgement now.
    get_ack: watch::Sender<u64>,
    /// Tells every link to end (the history changed under it).
    generation: watch::Sender<u64>,
    /// Run-time settings.
    pub settings: Arc<Settings>,
    /// Synchronisations served.
    pub syncs: SyncCounts,
    authenticate: Box<Authenticate>,
    promote_self: Box<Promote>,
}

impl std::fmt::Debug for Master {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Master")
            .field("history", &*self.history.lock())
            .finish_non_exhaustive()
    }
}

/// An all-zero replication ID: "none".
pub fn no_id() -> String {
    "0".repeat(crate::id::ID_LEN)
}

impl Master {
    /// A master of `engine`'s data with a new history.
    pub fn new(
        engine: Arc<Engine>,
        authenticate: Box<Authenticate>,
        promote_self: Box<Promote>,
    ) -> Arc<Master> {
        Arc::new(Master {
            engine,
            history: Mutex::new(History {
                id: crate::id::new_id(),
                id2: no_id(),
                id2_offset: -1,
            }),
            feed: Mutex::new(None),
            following: Mutex::new(false),
            position: StreamPosition::default(),
            replicas: Mutex::new(BTreeMap::new()),
            building: Mutex::new(None),
            freed_at: AtomicU64::new(0),
            next_link: AtomicU64::new(1),
            acked: Notify::new(),
            get_ack: watch::channel(0).0,
            generation: watch::channel(0).0,
            settings: Arc::new(Settings::default()),
            syncs: SyncCounts::default(),
            authenticate,
            promote_self,
        })
    }

    /// The gRPC service to serve on the client port.
    pub fn service(self: &Arc<Master>) -> ReplicationServer<Service> {
        ReplicationServer::new(Service(Arc::clone(self)))
            .max_decoding_message_size(2 * MESSAGE_BYTES + 1024)
            .max_encoding_message_size(2 * MESSAGE_BYTES + 1024)
    }

    /// The history IDs.
    pub fn history(&self) -> History {
        self.history.lock().clone()
    }

    /// The stream's end offset (`master_repl_offset`): 0 before any replica asked for it.
    pub fn offset(&self) -> u64 {
        let freed_at = self.freed_at.load(Ordering::SeqCst);
        self.feed
            .lock()
            .as_ref()
            .map_or(freed_at, |f| f.position().1)
    }

    /// The stream, if there is one.
    pub fn feed(&self) -> Option<Arc<Feed>> {
        self.feed.lock().clone()
    }

    /// The stream, created (and installed as the engine's replication sink) if there is none
    /// yet; a replica's is fed by its master instead.
    fn feed_or_start(&self) -> Arc<Feed> {
        let mut slot = self.feed.lock();
        if let Some(feed) = &*slot {
            return Arc::clone(feed);
        }
        let id = self.history.lock().id.clone();
        let feed = Feed::new(
            id,
            self.freed_at.load(Ordering::SeqCst),
            0,
            self.settings.backlog_size.load(Ordering::Relaxed),
            Arc::clone(&self.settings.output_limit),
        );
        if !*self.following.lock() {
            let sink = Arc::clone(&feed) as Arc<dyn kv_engine::effects::EffectSink>;
            self.engine
                .keyspace
                .effects
                .set_replication_sink(Some(sink));
        }
        *slot = Some(Arc::clone(&feed));
        feed
    }

    /// The replicas connected now, by link number.
    pub fn replicas(&self) -> Vec<ReplicaInfo> {
        self.replicas.lock().values().cloned().collect()
    }

    /// This server now follows a master whose stream is `id` at `offset`, with database `db`
    /// selected there: a new feed of that history (fed by the replica link), and every replica
    /// of the old history disconnected (they reconnect and learn the new one).
    pub fn follow(&self, id: String, offset: u64, db: usize) -> Arc<Feed> {
        *self.following.lock() = true;
        self.position.reset(offset, db);
        self.engine.keyspace.effects.set_replication_sink(None);
        let feed = Feed::new(
            id.clone(),
            offset,
            db,
            self.settings.backlog_size.load(Ordering::Relaxed),
            Arc::clone(&self.settings.output_limit),
        );
        *self.feed.lock() = Some(Arc::clone(&feed));
        {
            let mut history = self.history.lock();
            history.id = id;
            history.id2 = no_id();
            history.id2_offset = -1;
        }
        self.end_links();
        feed
    }

    /// This server follows a master again and continues its stream where it was (a partial
    /// resynchronisation): the feed stops being the engine's replication sink.
    pub fn continue_following(&self) {
        *self.following.lock() = true;
        self.engine.keyspace.effects.set_replication_sink(None);
    }

    /// Whether this server follows a master.
    pub fn is_following(&self) -> bool {
        *self.following.lock()
    }

    /// This server's master changed its history to `id` (it was promoted) at `offset`: the
    /// old ID becomes the secondary one, as on the master, and links of the old history are
    /// ended so they learn the new one.
    pub fn master_changed_id(&self, id: String, offset: u64) {
        let old = match &*self.feed.lock() {
            Some(feed) => feed.set_id(id.clone()),
            None => return,
        };
        let mut history = self.history.lock();
        history.id2 = old;
        history.id2_offset = offset as i64;
        history.id = id;
        drop(history);
        self.end_links();
    }

    /// This server stops following (REPLICAOF NO ONE) or never did: a new history ID, the old
    /// kept as the secondary one so replicas of the old master continue partially (PSYNC2),
    /// and the feed becomes the engine's replication sink.
    pub fn promote(&self) {
        *self.following.lock() = false;
        let new = crate::id::new_id();
        let feed = self.feed.lock().clone();
        let mut history = self.history.lock();
        match &feed {
            Some(feed) => {
                let old = feed.set_id(new.clone());
                history.id2 = old;
                history.id2_offset = feed.position().1 as i64;
            }
            None => {
                history.id2 = std::mem::replace(&mut history.id, new.clone());
                history.id2_offset = -1;
            }
        }
        history.id = new;
        drop(history);
        // Links of the old history end before the new one has a byte: none is ever sent over
        // them (a replica given some would be past the secondary ID's offset, and would need
        // a full sync to continue).
        self.end_links();
        if let Some(feed) = feed {
            let sink = feed as Arc<dyn kv_engine::effects::EffectSink>;
            self.engine
                .keyspace
                .effects
                .set_replication_sink(Some(sink));
        }
    }

    /// Frees the backlog of a master that has had no replica for `repl-backlog-ttl`: the
    /// stream stops being recorded, and the history changes (no replica could continue the
    /// old one without its bytes), as Redis does. A replica keeps its backlog (it may be
    /// promoted and serve its old master's other replicas).
    pub fn free_backlog(&self) {
        if *self.following.lock() || !self.replicas.lock().is_empty() {
            return;
        }
        let Some(feed) = self.feed.lock().take() else {
            return;
        };
        // The offset goes on from here when a replica asks again (as Redis's does).
        self.freed_at.store(feed.position().1, Ordering::SeqCst);
        self.engine.keyspace.effects.set_replication_sink(None);
        let mut history = self.history.lock();
        history.id = crate::id::new_id();
        history.id2 = no_id();
        history.id2_offset = -1;
    }

    /// Ends every replica link (each reconnects and resynchronises).
    pub fn end_links(&self) {
        self.generation.send_modify(|g| *g += 1);
    }

    /// Asks every replica to acknowledge its offset now (WAIT).
    pub fn request_acks(&self) {
        self.get_ack.send_modify(|n| *n += 1);
    }

    /// Replicas online that acknowledged within `min-replicas-max-lag` seconds (Redis's
    /// `repl_good_slaves_count`).
    pub fn good_replicas(&self) -> usize {
        let lag = Duration::from_secs(self.settings.min_replicas_max_lag.load(Ordering::Relaxed));
        self.replicas
            .lock()
            .values()
            .filter(|r| r.state == "online" && r.last_ack.elapsed() <= lag)
            .count()
    }

    /// Whether `min-replicas-to-write` refuses writes now: fewer good replicas than it asks.
    pub fn too_few_replicas(&self) -> bool {
        let wanted = self.settings.min_replicas_to_write.load(Ordering::Relaxed);
        wanted > 0
            && self.settings.min_replicas_max_lag.load(Ordering::Relaxed) > 0
            && (self.good_replicas() as u64) < wanted
    }

    /// How many replicas have acknowledged `offset` or beyond.
    pub fn acked(&self, offset: u64) -> usize {
        self.replicas
            .lock()
            .values()
            .filter(|r| r.state == "online" && r.ack_offset >= offset)
            .count()
    }

    /// Waits until `count` replicas have acknowledged `offset`, or `timeout` (None: forever)
    /// passes; returns how many have (WAIT).
    pub async fn wait_for(&self, offset: u64, count: usize, timeout: Option<Duration>) -> usize {
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        self.request_acks();
        loop {
            let notified = self.acked.notified();
            let now = self.acked(offset);
            if now >= count {
                return now;
            }
            match deadline {
                Some(at) => {
                    if tokio::time::timeout_at(at, notified).await.is_err() {
                        return self.acked(offset);
                    }
                }
                None => notified.await,
            }
        }
    }

    /// Appends the keep-alive PING to the stream, if replicas follow it: the cron calls this
    /// every `repl-ping-replica-period` seconds.
    pub fn ping_replicas(&self) {
        if *self.following.lock() || self.replicas.lock().is_empty() {
            return;
        }
        if let Some(feed) = self.feed() {
            feed.ping();
        }
    }

    /// The offset a replica in `hello` can continue from, if it can: its history is this one
    /// (or was, up to the promotion) and the backlog holds its next byte.
    fn continue_from(&self, feed: &Feed, link: u64, hello: &Hello) -> Option<u64> {
        let offset = u64::try_from(hello.offset).ok()?;
        let history = self.history.lock();
        let ours = hello.replication_id == history.id
            || (hello.replication_id == history.id2
                && i64::try_from(offset).is_ok_and(|o| o <= history.id2_offset));
        drop(history);
        (ours && feed.pin(link, offset)).then_some(offset)
    }

    fn set_state(&self, link: u64, state: &'static str) {
        if let Some(info) = self.replicas.lock().get_mut(&link) {
            info.state = state;
        }
    }

    /// Runs one replica's link until it ends.
    async fn run_link(
        self: Arc<Master>,
        peer: Option<SocketAddr>,
        mut inbound: Streaming<ReplicaMessage>,
        out: mpsc::Sender<Result<MasterMessage, Status>>,
    ) {
        let send = |kind: Out| MasterMessage { kind: Some(kind) };
        let hello = match inbound.message().await {
            Ok(Some(ReplicaMessage {
                kind: Some(In::Hello(hello)),
            })) => hello,
            _ => return,
        };
        if hello.protocol_version != PROTOCOL_VERSION {
            let error = format!(
                "ERR replication protocol version mismatch: the replica speaks {}, this master {}",
                hello.protocol_version, PROTOCOL_VERSION
            );
            let _ = out.send(Ok(send(Out::Refused(Refused { error })))).await;
            return;
        }
        if let Err(error) = (self.authenticate)(&hello.user, &hello.password) {
            let _ = out.send(Ok(send(Out::Refused(Refused { error })))).await;
            return;
        }
        if hello.failover {
            // Our master hands over to us: it must be the master we follow, at our history.
            if hello.replication_id != self.history.lock().id {
                let error = "ERR PSYNC FAILOVER replid must match my replid.".to_string();
                let _ = out.send(Ok(send(Out::Refused(Refused { error })))).await;
                return;
            }
            tracing::warn!("MASTER MODE enabled (failover request from {peer:?})");
            (self.promote_self)();
        }
        let welcome = Out::Welcome(Welcome {
            protocol_version: PROTOCOL_VERSION,
        });
        if out.send(Ok(send(welcome))).await.is_err() {
            return;
        }
        let link = self.next_link.fetch_add(1, Ordering::Relaxed);
        let ip = if hello.announced_ip.is_empty() {
            peer.map_or_else(|| "?".to_string(), |p| p.ip().to_string())
        } else {
            hello.announced_ip.clone()
        };
        self.replicas.lock().insert(
            link,
            ReplicaInfo {
                ip,
                port: hello.listening_port,
                state: "wait_bgsave",
                ack_offset: 0,
                last_ack: Instant::now(),
            },
        );
        let _registered = Registered(&self, link);
        let mut generation = self.generation.subscribe();
        generation.mark_unchanged();
        let feed = self.feed_or_start();
        let _pinned = Pinned(&feed, link);
        let start = match self.continue_from(&feed, link, &hello) {
            Some(offset) => {
                self.syncs.partial_ok.fetch_add(1, Ordering::Relaxed);
                let id = self.history.lock().id.clone();
                let message = Out::Continue(Continue {
                    replication_id: id,
                    offset: offset as i64,
                });
                if out.send(Ok(send(message))).await.is_err() {
                    return;
                }
                offset
            }
            None => {
                if hello.offset >= 0 {
                    self.syncs.partial_err.fetch_add(1, Ordering::Relaxed);
                }
                self.syncs.full.fetch_add(1, Ordering::Relaxed);
                match self.full_sync(link, &feed, &out).await {
                    Some(offset) => offset,
                    None => return,
                }
            }
        };
        self.set_state(link, "online");
        self.stream(link, &feed, start, inbound, out, generation)
            .await;
    }

    /// Sends a snapshot and returns the stream offset it is at; `None` if the link or the
    /// snapshot failed. The snapshot is the one being made, if one is (every replica asking
    /// while it is made shares it), else a new one of this instant.
    async fn full_sync(
        self: &Arc<Self>,
        link: u64,
        feed: &Arc<Feed>,
        out: &mpsc::Sender<Result<MasterMessage, Status>>,
    ) -> Option<u64> {
        let (shared, reader) = {
            let mut building = self.building.lock();
            let joined = building
                .as_ref()
                .and_then(|shared| Some((Arc::clone(shared), shared.join()?)));
            match joined {
                Some(joined) => joined,
                None => {
                    let shared = Arc::new(SharedSnapshot::default());
                    // A new snapshot's start is held: joining it cannot fail.
                    let reader = shared.join()?;
                    let master = Arc::clone(self);
                    let at_feed = Arc::clone(feed);
                    let making = Arc::clone(&shared);
                    let saving = std::thread::Builder::new()
                        .name("kv-repl-snapshot".into())
                        .spawn(move || snapshot(&master, &at_feed, &making));
                    if saving.is_err() {
                        return None;
                    }
                    self.syncs.snapshots.fetch_add(1, Ordering::Relaxed);
                    *building = Some(Arc::clone(&shared));
                    (shared, reader)
                }
            }
        };
        let _reading = Reading(&shared, reader);
        let mut changes = shared.changes.subscribe();
        let mut next = 0;
        let mut offset = None;
        loop {
            changes.borrow_and_update();
            let (pieces, done) = shared.read(reader, next);
            next += pieces.len();
            for piece in pieces {
                let message = match piece {
                    Piece::Start(id, at) => {
                        // The stream from the snapshot's offset is kept for this link (the
                        // snapshot's own pin holds it until then).
                        if !feed.pin(link, at) {
                            return None;
                        }
                        offset = Some(at);
                        self.set_state(link, "send_bulk");
                        Out::FullSync(FullSync {
                            replication_id: id,
                            offset: at as i64,
                        })
                    }
                    Piece::Chunk(data) => {
                        self.syncs
                            .bytes_sent
                            .fetch_add(data.len() as u64, Ordering::Relaxed);
                        Out::SnapshotChunk(SnapshotChunk { data })
                    }
                    Piece::End => Out::SnapshotEnd(SnapshotEnd {}),
                    Piece::Failed => return None,
                };
                if out
                    .send(Ok(MasterMessage {
                        kind: Some(message),
                    }))
                    .await
                    .is_err()
                {
                    return None;
                }
            }
            if done {
                return offset;
            }
            if changes.changed().await.is_err() {
                return None;
            }
        }
    }

    /// Where a snapshot taken now (every shard held) stands in the stream: the history's ID,
    /// the offset and the database the stream has selected there. A replica's data is at the
    /// offset it applied (its feed's end may lag that by a chunk not yet forwarded).
    pub fn snapshot_position(&self, feed: &Feed) -> (String, u64, usize) {
        if self.is_following() {
            self.applied_position()
        } else {
            feed.position_for_snapshot()
        }
    }

    /// Where a replica's data stands in its master's stream: the history's ID, the offset it
    /// applied and the database the stream has selected there (exact with every shard held,
    /// or on the link's task, the only one that moves it).
    pub fn applied_position(&self) -> (String, u64, usize) {
        let (applied, db) = self.position.read();
        (self.history.lock().id.clone(), applied, db)
    }

    /// [`stream_aux`] of [`Master::applied_position`]: the facts a replica's snapshot or log
    /// base carries, so that a restart on it continues from there.
    pub fn applied_aux(&self) -> kv_persist::Aux {
        let (id, offset, db) = self.applied_position();
        stream_aux(&id, offset, db)
    }

    /// The snapshot `shared` is complete (or failed): later replicas start another.
    fn snapshot_made(&self, shared: &Arc<SharedSnapshot>) {
        let mut building = self.building.lock();
        if building.as_ref().is_some_and(|b| Arc::ptr_eq(b, shared)) {
            *building = None;
        }
    }

    /// Sends the stream from `sent` on as it grows, and reads the replica's acknowledgements,
    /// until the link ends, times out, falls out of the backlog or its history changes.
    async fn stream(
        &self,
        link: u64,
        feed: &Arc<Feed>,
        mut sent: u64,
        mut inbound: Streaming<ReplicaMessage>,
        out: mpsc::Sender<Result<MasterMessage, Status>>,
        mut generation: watch::Receiver<u64>,
    ) {
        // The timeout counts from here: a long full sync is not silence.
        if let Some(info) = self.replicas.lock().get_mut(&link) {
            info.last_ack = Instant::now();
        }
        let end = feed.subscribe();
        let mut get_ack = self.get_ack.subscribe();
        get_ack.mark_unchanged();
        let mut check = tokio::time::interval(Duration::from_millis(500));
        loop {
            let target = end.end();
            // Checked before sending, not only when `select!` below happens to pick it: bytes
            // of a history that replaced this link's must not reach it.
            if generation.has_changed().unwrap_or(true) {
                return;
            }
            while sent < target {
                let Some(bytes) = feed.read(link, sent) else {
                    // Cut for its lag (client-output-buffer-limit replica): it must resync.
                    return;
                };
                let bytes = Bytes::from(bytes);
                for start in (0..bytes.len()).step_by(MESSAGE_BYTES) {
                    let piece = bytes.slice(start..bytes.len().min(start + MESSAGE_BYTES));
                    let len = piece.len() as u64;
                    let message = Out::Stream(Stream {
                        offset: sent as i64,
                        data: piece,
                    });
                    if out
                        .send(Ok(MasterMessage {
                            kind: Some(message),
                        }))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    self.syncs.bytes_sent.fetch_add(len, Ordering::Relaxed);
                    sent += len;
                }
            }
            tokio::select! {
                () = end.moved() => {
                    // Let the writers that are ready run first: their bytes then go out in one
                    // message instead of one each (as Redis writes a replica's buffer once per
                    // event-loop turn).
                    tokio::task::yield_now().await;
                }
                _ = generation.changed() => return,
                changed = get_ack.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let ask = MasterMessage { kind: Some(Out::GetAck(GetAck {})) };
                    if out.send(Ok(ask)).await.is_err() {
                        return;
                    }
                }
                message = inbound.message() => match message {
                    Ok(Some(ReplicaMessage { kind: Some(In::Ack(ack)) })) => {
                        if let Some(info) = self.replicas.lock().get_mut(&link) {
                            info.ack_offset = u64::try_from(ack.offset).unwrap_or(0);
                            info.last_ack = Instant::now();
                        }
                        self.acked.notify_waiters();
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => return,
                },
                _ = check.tick() => {
                    let timeout = Duration::from_secs(self.settings.timeout.load(Ordering::Relaxed).max(1));
                    let last = self.replicas.lock().get(&link).map(|r| r.last_ack);
                    if last.is_some_and(|at| at.elapsed() > timeout) {
                        return;
                    }
                }
            }
        }
    }
}

/// Lets go of a link's pin on the stream when the link ends, however it ends.
struct Pinned<'a>(&'a Feed, u64);

impl Drop for Pinned<'_> {
    fn drop(&mut self) {
        self.0.unpin(self.1);
    }
}

/// Removes a link's entry from the registry when the link ends, however it ends.
struct Registered<'a>(&'a Master, u64);

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.0.replicas.lock().remove(&self.1);
        self.0.acked.notify_waiters();
    }
}

/// What the snapshot thread hands the links.
#[derive(Clone)]
enum Piece {
    /// The snapshot is of the stream's history `0` at offset `1`.
    Start(String, u64),
    /// Bytes of the snapshot file.
    Chunk(Bytes),
    /// The snapshot is complete.
    End,
    /// The snapshot failed.
    Failed,
}

/// Pieces a shared snapshot holds at most beyond what its slowest link has sent (2 MiB of
/// chunks): the snapshot thread waits for room, so a slow replica slows the snapshot instead
/// of growing the master's memory.
const SNAPSHOT_WINDOW: usize = 8;

/// A snapshot for full synchronisations, shared by the links that send it. A replica that asks
/// while it is being made joins it as long as its first piece is still held, and is sent all
/// of it; pieces every link has sent are dropped, and the snapshot thread waits while
/// [`SNAPSHOT_WINDOW`] pieces are held. With no link left to send it, it is abandoned.
#[derive(Default)]
struct SharedSnapshot {
    made: Mutex<Made>,
    /// Signalled when a link moves on (room for the snapshot thread).
    room: Condvar,
    /// Bumped at each new piece.
    changes: watch::Sender<u64>,
}

#[derive(Default)]
struct Made {
    /// The pieces held, the first being piece number `first`.
    pieces: VecDeque<Piece>,
    first: usize,
    /// The last piece (End or Failed) is in.
    done: bool,
    /// Each joined link's next piece number (None once it has left).
    readers: Vec<Option<usize>>,
}

impl Made {
    fn has_readers(&self) -> bool {
        self.readers.iter().any(Option::is_some)
    }

    /// Drops the pieces every link has sent.
    fn trim(&mut self) {
        let slowest = self.readers.iter().flatten().min().copied();
        let upto = slowest.unwrap_or(self.first + self.pieces.len());
        while self.first < upto && self.pieces.pop_front().is_some() {
            self.first += 1;
        }
    }
}

impl SharedSnapshot {
    /// Joins as a link that sends it from the start, if the start is still held.
    fn join(&self) -> Option<usize> {
        let mut made = self.made.lock();
        if made.first != 0 {
            return None;
        }
        made.readers.push(Some(0));
        Some(made.readers.len() - 1)
    }

    /// The pieces from number `next` on for link `reader`, which has sent those before, and
    /// whether the last piece is among them.
    fn read(&self, reader: usize, next: usize) -> (Vec<Piece>, bool) {
        let mut made = self.made.lock();
        let skip = next.saturating_sub(made.first);
        let pieces: Vec<Piece> = made.pieces.iter().skip(skip).cloned().collect();
        if let Some(slot) = made.readers.get_mut(reader) {
            *slot = Some(next);
        }
        made.trim();
        let done = made.done;
        drop(made);
        self.room.notify_all();
        (pieces, done)
    }

    /// Link `reader` is done with it.
    fn leave(&self, reader: usize) {
        let mut made = self.made.lock();
        if let Some(slot) = made.readers.get_mut(reader) {
            *slot = None;
        }
        made.trim();
        drop(made);
        self.room.notify_all();
    }

    /// Whether any link still waits for it.
    fn wanted(&self) -> bool {
        self.made.lock().has_readers()
    }

    /// Adds a piece once there is room for it; false (and nothing added) if no link wants it
    /// any more.
    fn push(&self, piece: Piece) -> bool {
        let mut made = self.made.lock();
        loop {
            made.trim();
            if !made.has_readers() {
                return false;
            }
            if made.pieces.len() < SNAPSHOT_WINDOW {
                break;
            }
            self.room.wait(&mut made);
        }
        made.done = matches!(piece, Piece::End | Piece::Failed);
        made.pieces.push_back(piece);
        drop(made);
        self.changes.send_modify(|n| *n += 1);
        true
    }
}

/// A link's membership of a shared snapshot, left however the link ends.
struct Reading<'a>(&'a SharedSnapshot, usize);

impl Drop for Reading<'_> {
    fn drop(&mut self) {
        self.0.leave(self.1);
    }
}

/// Writes a snapshot of `master`'s data into `shared`, the stream's position at its instant
/// first. Waits its turn while another snapshot (a BGSAVE) is running, and gives up once no
/// link wants it. Runs on its own thread.
fn snapshot(master: &Master, feed: &Feed, shared: &Arc<SharedSnapshot>) {
    let options = kv_persist::WriteOptions::default();
    let engine = &master.engine;
    // Pins share the links' numbering.
    let pin = master.next_link.fetch_add(1, Ordering::Relaxed);
    let _pinned = Pinned(feed, pin);
    loop {
        let writer = ChunkWriter {
            shared: Arc::clone(shared),
            buf: Vec::with_capacity(MESSAGE_BYTES),
        };
        let saved = kv_persist::save_quiet(engine, writer, options, |_| {
            // Every shard is held while this runs: the first piece never waits for room.
            let (id, offset, db) = master.snapshot_position(feed);
            // The stream from here is kept until the links reading the snapshot pin it.
            feed.pin(pin, offset);
            shared.push(Piece::Start(id.clone(), offset));
            stream_aux(&id, offset, db)
        });
        match saved {
            Ok((mut writer, _)) => {
                if writer.flush_chunk().is_ok() {
                    shared.push(Piece::End);
                }
                break;
            }
            Err(kv_persist::SnapshotError::Busy) if shared.wanted() => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(_) => {
                shared.push(Piece::Failed);
                break;
            }
        }
    }
    // Later replicas start a snapshot of their own.
    master.snapshot_made(shared);
}

/// The facts a snapshot carries about the stream it is at: Redis's RDB AUX names.
pub fn stream_aux(id: &str, offset: u64, db: usize) -> kv_persist::Aux {
    vec![
        ("repl-id".into(), id.as_bytes().to_vec()),
        ("repl-offset".into(), offset.to_string().into_bytes()),
        ("repl-stream-db".into(), db.to_string().into_bytes()),
    ]
}

/// The stream position in a snapshot's facts, if it names one: ID, offset, database.
pub fn aux_position(aux: &kv_persist::Aux) -> Option<(String, u64, usize)> {
    let find = |name: &str| {
        aux.iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    };
    let id = find("repl-id")?;
    if id.len() != crate::id::ID_LEN {
        return None;
    }
    let offset = find("repl-offset")?.parse().ok()?;
    let db = find("repl-stream-db")?.parse().ok()?;
    Some((id.to_string(), offset, db))
}

/// A `Write` that adds what it is given to a shared snapshot, in chunks.
struct ChunkWriter {
    shared: Arc<SharedSnapshot>,
    buf: Vec<u8>,
}

impl ChunkWriter {
    /// Adds the bytes gathered as a piece; an error once no link wants the snapshot (the save
    /// then stops).
    fn flush_chunk(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(MESSAGE_BYTES));
        if self.shared.push(Piece::Chunk(chunk.into())) {
            Ok(())
        } else {
            Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "no replica wants the snapshot",
            ))
        }
    }
}

impl std::io::Write for ChunkWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= MESSAGE_BYTES {
            self.flush_chunk()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The gRPC service: each `Link` call runs [`Master::run_link`] on a task of its own.
#[derive(Debug, Clone)]
pub struct Service(Arc<Master>);

/// The stream of messages a link sends.
pub type LinkStream =
    Pin<Box<dyn tokio_stream::Stream<Item = Result<MasterMessage, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl Replication for Service {
    type LinkStream = LinkStream;

    async fn link(
        &self,
        request: Request<Streaming<ReplicaMessage>>,
    ) -> Result<Response<LinkStream>, Status> {
        let peer = request.remote_addr();
        let inbound = request.into_inner();
        let (out, messages) = mpsc::channel(16);
        tokio::spawn(Arc::clone(&self.0).run_link(peer, inbound, out));
        Ok(Response::new(Box::pin(ReceiverStream::new(messages))))
    }
}

#[cfg(test)]
mod tests {
    // Test code: a failed unwrap is a failed test.
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn chunk() -> Piece {
        Piece::Chunk(Bytes::from_static(b"x"))
    }

    #[test]
    fn a_shared_snapshot_holds_a_window_and_is_joined_only_from_its_start() {
        let shared = Arc::new(SharedSnapshot::default());
        let (fast, slow) = (shared.join().unwrap(), shared.join().unwrap());
        for _ in 0..SNAPSHOT_WINDOW {
            assert!(shared.push(chunk()));
        }
        // The window is full: the next piece waits until the slowest link moves on.
        let producer = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || shared.push(chunk()))
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(!producer.is_finished());
        assert_eq!(shared.read(fast, 0).0.len(), SNAPSHOT_WINDOW);
        assert_eq!(shared.read(fast, SNAPSHOT_WINDOW).0.len(), 0);
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            !producer.is_finished(),
            "the slow link still holds the window"
        );
        shared.read(slow, SNAPSHOT_WINDOW);
        assert!(producer.join().unwrap());
        // Its start is gone: a replica asking now needs a snapshot of its own.
        assert!(shared.join().is_none());
        // Once every link has left, the snapshot is not wanted.
        shared.leave(fast);
        shared.leave(slow);
        assert!(!shared.wanted());
        assert!(!shared.push(chunk()));
    }
}
