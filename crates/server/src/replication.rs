//! Replication, wired into the server: the gRPC master service on the client port (a
//! connection whose first bytes are HTTP/2's preface is handed to it), REPLICAOF/SLAVEOF, ROLE,
//! WAIT, INFO replication, and the rules a replica's clients follow (READONLY, MASTERDOWN).
//! The link itself lives in `kv_replication`.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use kv_engine::CommandError;
use kv_replication::master::Master;
use kv_replication::replica::{Replica, Target};
use parking_lot::Mutex;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::connection::Connection;
use crate::server::Shared;

/// The bytes an HTTP/2 connection starts with; a RESP client never sends `PRI ` first.
pub const GRPC_PREFIX: &[u8] = b"PRI ";

/// The settings the replication state reads from the configuration when they change.
pub const SETTINGS: &[&str] = &[
    "repl-backlog-size",
    "repl-timeout",
    "repl-ping-replica-period",
    "min-replicas-to-write",
    "min-replicas-max-lag",
    "client-output-buffer-limit",
];

/// The server's replication state.
pub struct Replication {
    /// The master side, present whatever the role.
    pub master: Arc<Master>,
    /// The link to our master, while this server is a replica.
    replica: Mutex<Option<Replica>>,
    /// Connections for the gRPC server.
    grpc: Mutex<Option<mpsc::UnboundedSender<TcpStream>>>,
    /// A FAILOVER under way, if any.
    pub failover: Mutex<crate::failover::Failover>,
    shared: Weak<Shared>,
}

impl std::fmt::Debug for Replication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replication")
            .field("master", &self.master)
            .finish_non_exhaustive()
    }
}

/// Tells the server what a replica's link did.
struct Host(Weak<Shared>);

impl kv_replication::replica::Host for Host {
    fn received(&self, bytes: u64) {
        if let Some(shared) = self.0.upgrade() {
            shared
                .stats
                .repl_input_bytes
                .fetch_add(bytes, Ordering::Relaxed);
        }
    }

    fn snapshot_received(&self, snapshot: &[u8]) {
        let Some(shared) = self.0.upgrade() else {
            return;
        };
        if shared.aof.is_on() {
            if let Err(e) = crate::aof::prepare_base(&shared, snapshot) {
                tracing::warn!("cannot write the master's snapshot as the AOF base: {e:#}");
            }
        }
    }

    fn dataset_replaced(&self) {
        let Some(shared) = self.0.upgrade() else {
            return;
        };
        // The log must hold the new dataset, and nothing of the old under the new stream:
        // it starts again from the snapshot, or failing that (a full disk) from a rewrite.
        if shared.aof.is_on() {
            if let Err(e) = crate::aof::install_base(&shared) {
                tracing::warn!("cannot start the AOF from the master's snapshot: {e:#}");
                crate::persistence::rewrite_after_sync(&shared);
            }
        }
    }

    fn stream_applied(&self) {
        let Some(shared) = self.0.upgrade() else {
            return;
        };
        let aof = &shared.aof;
        if !aof.is_on() {
            return;
        }
        // Only the link moves the position, so it is the one the message left.
        let (id, offset, db) = shared.replication.master.applied_position();
        aof.mark_stream(&id, offset, db);
        // Under `always` the writer thread writes and syncs as soon as anything is logged.
        if !aof.syncs_every_write() {
            aof.write_pending(false);
        }
    }
}

impl Replication {
    /// The state of a server that is a master, until [`start`] reads `replicaof`.
    pub fn new(engine: Arc<kv_engine::Engine>, shared: Weak<Shared>) -> Replication {
        let auth_shared = shared.clone();
        let authenticate = Box::new(move |user: &str, password: &str| {
            let Some(shared) = auth_shared.upgrade() else {
                return Err("ERR shutting down".to_string());
            };
            let required = shared.config.get("requirepass");
            if required.is_empty() {
                return Ok(());
            }
            let user_ok = user.is_empty() || user == "default";
            if user_ok && password == required {
                Ok(())
            } else if password.is_empty() {
                Err("NOAUTH Authentication required.".to_string())
            } else {
                Err("WRONGPASS invalid username-password pair or user is disabled.".to_string())
            }
        });
        let promote_shared = shared.clone();
        let promote_self = Box::new(move || {
            if let Some(shared) = promote_shared.upgrade() {
                shared
                    .replication
                    .promote(&shared, "failover request from its master");
            }
        });
        Replication {
            master: Master::new(engine, authenticate, promote_self),
            replica: Mutex::new(None),
            grpc: Mutex::new(None),
            failover: Mutex::new(crate::failover::Failover::default()),
            shared,
        }
    }

    /// Whether this server follows a master.
    pub fn is_replica(&self) -> bool {
        self.replica.lock().is_some()
    }

    /// Hands an HTTP/2 connection to the gRPC server; false if it is not running.
    pub fn hand_over(&self, stream: TcpStream) -> bool {
        self.grpc
            .lock()
            .as_ref()
            .is_some_and(|grpc| grpc.send(stream).is_ok())
    }

    /// Follows `host:port`, replacing any master followed before; `failover`: this master
    /// hands over to it (see [`Target::failover`]).
    pub(crate) fn follow(&self, shared: &Shared, host: String, port: u16, failover: bool) {
        let target = Target {
            host,
            port,
            user: shared.config.get("masteruser"),
            password: shared.config.get("masterauth"),
            listening_port: u32::from(shared.port.load(Ordering::Relaxed)),
            announced_ip: shared.config.get("replica-announce-ip"),
            failover,
        };
        let mut slot = self.replica.lock();
        if let Some(old) = slot.take() {
            // Nothing of the old master's stream lands once the new link says where we stand.
            old.stop_and_wait();
        }
        tracing::warn!(
            "Connecting to MASTER {}:{} (this server is now a replica)",
            target.host,
            target.port
        );
        *slot = Some(Replica::start(
            Arc::clone(&self.master),
            Arc::clone(&shared.engine),
            target,
            Arc::new(Host(self.shared.clone())),
        ));
    }

    /// Stops following, if this server did: it becomes a master with a new history.
    /// `why` is for the log.
    pub(crate) fn promote(&self, shared: &Shared, why: &str) {
        let Some(old) = self.replica.lock().take() else {
            return;
        };
        // What the old master sent is applied before the new history begins.
        old.stop_and_wait();
        shared.engine.config.replica.store(false, Ordering::SeqCst);
        self.master.promote();
        tracing::warn!("MASTER MODE enabled ({why})");
    }

    /// For a FAILOVER's link: whether the target took over, once that is known.
    pub(crate) fn handover(&self) -> Option<Result<(), String>> {
        self.replica.lock().as_ref()?.state.lock().handover.clone()
    }

    /// Copies the settings the link reads from the configuration.
    pub fn apply_settings(&self, shared: &Shared) {
        let settings = &self.master.settings;
        let backlog = shared.config.int("repl-backlog-size").max(1) as usize;
        settings.backlog_size.store(backlog, Ordering::Relaxed);
        if let Some(feed) = self.master.feed() {
            feed.resize(backlog);
        }
        let timeout = shared.config.int("repl-timeout").max(1) as u64;
        settings.timeout.store(timeout, Ordering::Relaxed);
        let period = shared.config.int("repl-ping-replica-period").max(1) as u64;
        settings.ping_period.store(period, Ordering::Relaxed);
        let min = shared.config.int("min-replicas-to-write").max(0) as u64;
        settings.min_replicas_to_write.store(min, Ordering::Relaxed);
        let lag = shared.config.int("min-replicas-max-lag").max(0) as u64;
        settings.min_replicas_max_lag.store(lag, Ordering::Relaxed);
        let replica =
            crate::config::output_limit(&shared.config, crate::config::OutputClass::Replica);
        let limit = &settings.output_limit;
        limit.hard.store(replica.hard, Ordering::Relaxed);
        limit.soft.store(replica.soft, Ordering::Relaxed);
        limit
            .soft_seconds
            .store(replica.soft_seconds, Ordering::Relaxed);
    }
}

/// Starts the gRPC server for replicas, the keep-alive pings, and follows `replicaof` if the
/// configuration names a master.
pub fn start(shared: &Arc<Shared>) {
    let replication = &shared.replication;
    replication.apply_settings(shared);
    let (sender, connections) = mpsc::unbounded_channel::<TcpStream>();
    *replication.grpc.lock() = Some(sender);
    let service = replication.master.service();
    tokio::spawn(async move {
        use tokio_stream::StreamExt;
        let incoming = tokio_stream::wrappers::UnboundedReceiverStream::new(connections)
            .map(Ok::<TcpStream, std::io::Error>);
        let served = tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(incoming)
            .await;
        if let Err(e) = served {
            tracing::warn!("the replication service stopped: {e}");
        }
    });
    let pinger = Arc::downgrade(shared);
    tokio::spawn(async move {
        let mut elapsed = 0u64;
        // Since when this master has had no replica while it keeps a backlog.
        let mut alone_since: Option<std::time::Instant> = None;
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let Some(shared) = pinger.upgrade() else {
                return;
            };
            if shared.is_shutting_down() {
                return;
            }
            elapsed += 1;
            let master = &shared.replication.master;
            let alone = !shared.replication.is_replica()
                && master.feed().is_some()
                && master.replicas().is_empty();
            if !alone {
                alone_since = None;
            } else {
                let since = *alone_since.get_or_insert_with(std::time::Instant::now);
                let ttl = shared.config.int("repl-backlog-ttl");
                if ttl > 0 && since.elapsed() >= Duration::from_secs(ttl as u64) {
                    tracing::warn!(
                        "Replication backlog freed after {ttl} seconds without connected replicas."
                    );
                    master.free_backlog();
                    alone_since = None;
                }
            }
            // No PING while a FAILOVER waits for its replica to reach the master's offset.
            let handing_over = shared.replication.failover.lock().is_under_way();
            if elapsed >= master.settings.ping_period.load(Ordering::Relaxed) && !handing_over {
                elapsed = 0;
                master.ping_replicas();
            }
        }
    });
    let configured = shared.config.get("replicaof");
    let Some((host, port)) = configured.split_once(' ') else {
        return;
    };
    let Ok(port) = port.parse() else {
        return;
    };
    let host = host.to_string();
    // A replica from the start: no client write is taken while the dataset loads or after.
    shared.engine.config.replica.store(true, Ordering::SeqCst);
    // The link starts once the dataset is loaded (as Redis loads before it connects): from
    // where a snapshot of this replica left off, if the one loaded says.
    let waiting = Arc::downgrade(shared);
    tokio::spawn(async move {
        loop {
            let Some(shared) = waiting.upgrade() else {
                return;
            };
            if !shared.persistence.is_loading() {
                let position = shared.persistence.loaded_stream_position.lock().take();
                if let Some((id, offset, db)) = position {
                    tracing::warn!(
                        "Continuing replication from {id}:{offset} (where the loaded data stands)"
                    );
                    shared.replication.master.follow(id, offset, db);
                }
                shared.replication.follow(&shared, host, port, false);
                return;
            }
            drop(shared);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
}

/// Tells a gRPC connection from a RESP one by its first bytes, without consuming them.
/// Returns true for gRPC. Waits for the first bytes (or the client's end).
pub async fn is_grpc(stream: &TcpStream) -> bool {
    let mut first = [0u8; 4];
    loop {
        match stream.peek(&mut first).await {
            Ok(n) if n >= GRPC_PREFIX.len() => return &first[..] == GRPC_PREFIX,
            // A prefix of the preface so far (TCP may split it): look again shortly.
            Ok(n) if n > 0 && first[..n] == GRPC_PREFIX[..n] => {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            _ => return false,
        }
    }
}

/// `REPLICAOF host port | NO ONE` (and SLAVEOF).
pub fn replicaof(conn: &mut Connection, args: &[&[u8]]) -> Result<(), CommandError> {
    let shared = Arc::clone(&conn.shared);
    let replication = &shared.replication;
    if replication.failover.lock().is_under_way() {
        return Err(CommandError::msg(
            "ERR REPLICAOF not allowed while failing over.",
        ));
    }
    if args[1].eq_ignore_ascii_case(b"no") && args[2].eq_ignore_ascii_case(b"one") {
        replication.promote(&shared, "user request from REPLICAOF NO ONE");
        conn.reply.ok();
        return Ok(());
    }
    let port = std::str::from_utf8(args[2])
        .ok()
        .and_then(|p| p.parse::<u16>().ok())
        .ok_or(CommandError::msg("ERR Invalid master port"))?;
    let host = String::from_utf8_lossy(args[1]).into_owned();
    let same = replication
        .replica
        .lock()
        .as_ref()
        .is_some_and(|r| r.target.host.eq_ignore_ascii_case(&host) && r.target.port == port);
    if same {
        conn.reply
            .simple("OK Already connected to specified master");
        return Ok(());
    }
    replication.follow(&shared, host, port, false);
    conn.reply.ok();
    Ok(())
}

/// `ROLE`: `master offset [[ip port offset] ...]`, or `slave host port state offset`.
pub fn role(conn: &mut Connection) {
    let replication = &conn.shared.replication;
    let link = replication.replica.lock().as_ref().map(|r| {
        (
            r.target.clone(),
            r.state.lock().status,
            replication.master.position.applied(),
        )
    });
    let reply = &mut conn.reply;
    match link {
        Some((target, status, applied)) => {
            reply.array(5);
            reply.bulk(b"slave");
            reply.bulk(target.host.as_bytes());
            reply.integer(i64::from(target.port));
            reply.bulk(status.as_bytes());
            let offset = if status == "connected" {
                applied as i64
            } else {
                -1
            };
            reply.integer(offset);
        }
        None => {
            let replicas = replication.master.replicas();
            reply.array(3);
            reply.bulk(b"master");
            reply.integer(replication.master.offset() as i64);
            let online: Vec<_> = replicas.iter().filter(|r| r.state == "online").collect();
            reply.array(online.len());
            for r in online {
                reply.array(3);
                reply.bulk(r.ip.as_bytes());
                reply.bulk(r.port.to_string().as_bytes());
                reply.bulk(r.ack_offset.to_string().as_bytes());
            }
        }
    }
}

/// What WAIT waits for, parsed: the connection waits after the command (see
/// `Connection::wait_replicas`).
#[derive(Debug, Clone, Copy)]
pub struct WaitFor {
    /// The stream offset the replicas must have acknowledged.
    pub offset: u64,
    /// How many replicas.
    pub count: usize,
    /// How long at most (None: forever).
    pub timeout: Option<Duration>,
}

/// `WAIT numreplicas timeout`: parses and checks; the wait itself happens in the connection.
pub fn wait(conn: &mut Connection, args: &[&[u8]]) -> Result<Option<WaitFor>, CommandError> {
    if conn.shared.replication.is_replica() {
        return Err(CommandError::msg(
            "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.",
        ));
    }
    let count = kv_resp::parse_i64(args[1]).ok_or(CommandError::NotInteger)?;
    let timeout = kv_resp::parse_i64(args[2]).ok_or(CommandError::msg(
        "ERR timeout is not an integer or out of range",
    ))?;
    if timeout < 0 {
        return Err(CommandError::msg("ERR timeout is negative"));
    }
    let master = &conn.shared.replication.master;
    let wait = WaitFor {
        offset: master.offset(),
        count: usize::try_from(count).unwrap_or(0),
        timeout: (timeout > 0).then(|| Duration::from_millis(timeout as u64)),
    };
    if conn.in_exec || wait.count == 0 {
        // Inside a transaction nothing may wait: the count as it stands.
        conn.reply.count(master.acked(wait.offset));
        return Ok(None);
    }
    Ok(Some(wait))
}

/// Why a command is refused before it runs: on a master, writes while fewer good replicas
/// than `min-replicas-to-write` follow; on a replica, writes from clients while
/// `replica-read-only`, and anything but `stale` commands while the link is down and
/// `replica-serve-stale-data` is off. `writes` and `stale` judge the command (for EXEC, its
/// queue: it writes if one queued command does, and is stale only if all of them are).
pub fn refusal(shared: &Shared, writes: bool, stale: bool) -> Option<CommandError> {
    if !shared.engine.config.replica.load(Ordering::Relaxed) {
        let master = &shared.replication.master;
        if writes && master.too_few_replicas() {
            return Some(CommandError::msg(
                "NOREPLICAS Not enough good replicas to write.",
            ));
        }
        return None;
    }
    if writes && shared.config.flag("replica-read-only") {
        return Some(CommandError::msg(
            "READONLY You can't write against a read only replica.",
        ));
    }
    let connected = shared
        .replication
        .replica
        .lock()
        .as_ref()
        .is_some_and(|r| r.state.lock().status == "connected");
    if !connected && !shared.config.flag("replica-serve-stale-data") && !stale {
        return Some(CommandError::msg(
            "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
        ));
    }
    None
}

/// INFO replication, with Redis 7.0's fields.
pub fn info(shared: &Shared, field: &mut dyn FnMut(&str, String)) {
    let replication = &shared.replication;
    let master = &replication.master;
    let history = master.history();
    let offset = master.offset();
    let link = replication.replica.lock().as_ref().map(|r| {
        (
            r.target.clone(),
            r.state.lock().clone(),
            replication.master.position.applied(),
        )
    });
    match &link {
        Some((target, state, applied)) => {
            field("role", "slave".into());
            field("master_host", target.host.clone());
            field("master_port", target.port.to_string());
            let up = state.status == "connected";
            field("master_link_status", if up { "up" } else { "down" }.into());
            field(
                "master_last_io_seconds_ago",
                if up {
                    state.last_io.elapsed().as_secs().to_string()
                } else {
                    "-1".into()
                },
            );
            let syncing = state.status == "sync";
            field("master_sync_in_progress", u8::from(syncing).to_string());
            field("slave_read_repl_offset", applied.to_string());
            field("slave_repl_offset", applied.to_string());
            if syncing {
                field("master_sync_total_bytes", "-1".into());
                field("master_sync_read_bytes", state.sync_read.to_string());
                field("master_sync_left_bytes", "-1".into());
                field("master_sync_perc", "0.00".into());
                field(
                    "master_sync_last_io_seconds_ago",
                    state.last_io.elapsed().as_secs().to_string(),
                );
            }
            if let Some(since) = state.down_since {
                field(
                    "master_link_down_since_seconds",
                    since.elapsed().as_secs().to_string(),
                );
            }
            field(
                "slave_priority",
                shared.config.int("replica-priority").to_string(),
            );
            field(
                "slave_read_only",
                u8::from(shared.config.flag("replica-read-only")).to_string(),
            );
            field("replica_announced", "1".into());
        }
        None => field("role", "master".into()),
    }
    let replicas = master.replicas();
    field("connected_slaves", replicas.len().to_string());
    let settings = &master.settings;
    if settings.min_replicas_to_write.load(Ordering::Relaxed) > 0
        && settings.min_replicas_max_lag.load(Ordering::Relaxed) > 0
    {
        field("min_slaves_good_slaves", master.good_replicas().to_string());
    }
    for (i, r) in replicas.iter().enumerate() {
        let lag = r.last_ack.elapsed().as_secs();
        field(
            &format!("slave{i}"),
            format!(
                "ip={},port={},state={},offset={},lag={lag}",
                r.ip, r.port, r.state, r.ack_offset
            ),
        );
    }
    field(
        "master_failover_state",
        replication.failover.lock().state_name().into(),
    );
    field("master_replid", history.id);
    field("master_replid2", history.id2);
    field("master_repl_offset", offset.to_string());
    field("second_repl_offset", history.id2_offset.to_string());
    match master.feed() {
        Some(feed) => {
            let (capacity, first, held) = feed.backlog_info();
            field("repl_backlog_active", "1".into());
            field("repl_backlog_size", capacity.to_string());
            field("repl_backlog_first_byte_offset", (first + 1).to_string());
            field("repl_backlog_histlen", held.to_string());
        }
        None => {
            field("repl_backlog_active", "0".into());
            field(
                "repl_backlog_size",
                master
                    .settings
                    .backlog_size
                    .load(Ordering::Relaxed)
                    .to_string(),
            );
            field("repl_backlog_first_byte_offset", "0".into());
            field("repl_backlog_histlen", "0".into());
        }
    }
}
