//! Shared server state, the listeners, background jobs and shutdown.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use kv_engine::Engine;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::clients::Clients;
use crate::cmdstats::CommandStats;
use crate::config::Config;
use crate::latency::LatencyMonitor;
use crate::metrics::Metrics;
use crate::monitor::Monitors;
use crate::pause::ClientPause;
use crate::slowlog::SlowLog;

/// Counters for INFO that belong to the server rather than the engine.
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Connections accepted (`total_connections_received`).
    pub connections_received: AtomicU64,
    /// Connections refused by `maxclients` (`rejected_connections`).
    pub rejected_connections: AtomicU64,
    /// Commands that ran (`total_commands_processed`); refused ones do not count, as in Redis.
    pub commands_processed: AtomicU64,
    /// Bytes read from clients (`total_net_input_bytes`).
    pub net_input_bytes: AtomicU64,
    /// Bytes written to clients (`total_net_output_bytes`).
    pub net_output_bytes: AtomicU64,
    /// Bytes of snapshots and of the stream received from a master
    /// (`total_net_repl_input_bytes`).
    pub repl_input_bytes: AtomicU64,
    /// Error replies sent (`total_error_replies`).
    pub error_replies: AtomicU64,
    /// Reads from client sockets (`total_reads_processed`).
    pub reads_processed: AtomicU64,
    /// Writes of replies to client sockets (`total_writes_processed`).
    pub writes_processed: AtomicU64,
    /// Active expire cycles stopped by their time limit with keys still due
    /// (`expired_time_cap_reached_count`).
    pub expire_cycles_capped: AtomicU64,
    /// Time spent in active expire cycles, in ms (`expire_cycle_cpu_milliseconds`).
    pub expire_cycle_ms: AtomicU64,
    /// The share of volatile keys found due but not yet deleted when the last active expire
    /// cycle ended, in hundredths of a percent (`expired_stale_perc`).
    pub expired_stale_hundredths: AtomicU64,
    /// Reply buffers given back after a client went idle (`reply_buffer_shrinks`).
    pub reply_buffer_shrinks: AtomicU64,
    /// Reply buffers that had to grow (`reply_buffer_expands`).
    pub reply_buffer_expands: AtomicU64,
    /// The largest query buffer of a client lately (`client_recent_max_input_buffer`).
    pub recent_max_input: RecentMax,
    /// The most reply bytes a client had waiting beyond the first 16 KB lately
    /// (`client_recent_max_output_buffer`).
    pub recent_max_output: RecentMax,
    /// The most memory seen in use (`used_memory_peak`), sampled as Redis samples it: by the
    /// cron and by INFO.
    pub peak_memory: AtomicU64,
}

impl ServerStats {
    /// Records `used` bytes in use; returns the peak so far.
    pub fn note_memory(&self, used: u64) -> u64 {
        self.peak_memory
            .fetch_max(used, Ordering::Relaxed)
            .max(used)
    }

    /// Zeroes every counter (`CONFIG RESETSTAT`).
    pub fn reset(&self) {
        for counter in [
            &self.connections_received,
            &self.rejected_connections,
            &self.commands_processed,
            &self.net_input_bytes,
            &self.net_output_bytes,
            &self.repl_input_bytes,
            &self.error_replies,
            &self.peak_memory,
            &self.reads_processed,
            &self.writes_processed,
            &self.expire_cycles_capped,
            &self.expire_cycle_ms,
            &self.expired_stale_hundredths,
            &self.reply_buffer_shrinks,
            &self.reply_buffer_expands,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
    }
}

/// The largest value noted in each of the last 8 seconds, as Redis keeps its clients' buffer
/// peaks (`CLIENTS_PEAK_MEM_USAGE_SLOTS`). Noting costs two relaxed loads unless the value is a
/// new peak.
#[derive(Debug)]
pub struct RecentMax {
    base: Instant,
    slots: [RecentSlot; RECENT_SECONDS],
}

/// See [`RecentMax`].
const RECENT_SECONDS: usize = 8;

/// One second of a [`RecentMax`]: which second (counted from its base, plus one: 0 is never
/// used) and the largest value noted in it.
#[derive(Debug, Default)]
struct RecentSlot {
    second: AtomicU64,
    max: AtomicU64,
}

impl Default for RecentMax {
    fn default() -> Self {
        RecentMax {
            base: Instant::now(),
            slots: Default::default(),
        }
    }
}

impl RecentMax {
    fn second(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.base).as_secs() + 1
    }

    /// Notes `value`, seen at `now`.
    pub fn note(&self, value: u64, now: Instant) {
        let second = self.second(now);
        let slot = &self.slots[second as usize % RECENT_SECONDS];
        if slot.second.load(Ordering::Relaxed) != second {
            // A new second for this slot (two threads may race here: the peak is a gauge).
            slot.second.store(second, Ordering::Relaxed);
            slot.max.store(value, Ordering::Relaxed);
        } else if value > slot.max.load(Ordering::Relaxed) {
            slot.max.fetch_max(value, Ordering::Relaxed);
        }
    }

    /// The largest value noted in the last 8 seconds.
    pub fn get(&self, now: Instant) -> u64 {
        let second = self.second(now);
        self.slots
            .iter()
            .filter(|slot| slot.second.load(Ordering::Relaxed) + RECENT_SECONDS as u64 > second)
            .map(|slot| slot.max.load(Ordering::Relaxed))
            .max()
            .unwrap_or(0)
    }
}

/// Everything every connection shares.
#[derive(Debug)]
pub struct Shared {
    /// The data (shared with the replication link's threads).
    pub engine: Arc<Engine>,
    /// The configuration.
    pub config: Config,
    /// Connected clients.
    pub clients: Clients,
    /// Server counters.
    pub stats: ServerStats,
    /// Per-command and per-error counters (INFO commandstats and errorstats).
    pub cmdstats: CommandStats,
    /// Sampled rates (INFO's `instantaneous_*`).
    pub metrics: Metrics,
    /// The slow log.
    pub slowlog: SlowLog,
    /// The latency monitor.
    pub latency: LatencyMonitor,
    /// Clients in MONITOR mode.
    pub monitors: Monitors,
    /// Pub/sub subscribers by channel and pattern; shared with the engine, which publishes
    /// keyspace notifications through it.
    pub pubsub: Arc<crate::pubsub::PubSub>,
    /// Client-side caching: the tracking clients and what they cache.
    pub tracking: Arc<crate::tracking::Tracking>,
    /// `CLIENT PAUSE` state (shared with the engine's expiry hold).
    pub pause: Arc<ClientPause>,
    /// Whether the background expiry task runs (`DEBUG SET-ACTIVE-EXPIRE`).
    pub active_expire: AtomicBool,
    /// When the server started.
    pub started: Instant,
    /// When the server started, in Unix seconds.
    pub started_unix: u64,
    /// Snapshots: saving, loading, and their state for INFO.
    pub persistence: crate::persistence::Persistence,
    /// The append-only file (the engine's effect sink while `appendonly` is on).
    pub aof: Arc<crate::aof::Aof>,
    /// 40 hex characters identifying this run (INFO's `run_id`).
    pub run_id: String,
    /// The TCP port clients connect to (0: none); CONFIG SET port changes it.
    pub port: std::sync::atomic::AtomicU16,
    /// The TCP listeners, one per bound address, which one task accepts on: CONFIG SET port
    /// and bind replace them (their lock also keeps two such changes apart).
    tcp_listeners: parking_lot::Mutex<Vec<TcpListener>>,
    /// Wakes the accepting task when the listeners are replaced.
    tcp_listeners_changed: Notify,
    /// Set once shutdown has begun.
    pub shutting_down: AtomicBool,
    /// Wakes every task that must stop on shutdown.
    pub shutdown: Notify,
    /// Replication: the master service, the link to our master if any.
    pub replication: crate::replication::Replication,
}

impl Shared {
    /// State for a server configured by `config`.
    pub fn new(config: Config) -> Arc<Shared> {
        Arc::new_cyclic(|weak| Shared::with_self(config, weak.clone()))
    }

    fn with_self(config: Config, this: std::sync::Weak<Shared>) -> Shared {
        let databases = config.int("databases").max(1) as usize;
        let engine = Arc::new(Engine::new(databases, 256));
        engine
            .config
            .proto_max_bulk_len
            .store(config.int("proto-max-bulk-len") as u64, Ordering::Relaxed);
        crate::config::apply_engine_settings(&config, &engine);
        let port = config.int("port") as u16;
        let pubsub = Arc::new(crate::pubsub::PubSub::default());
        let notifications = pubsub.clone();
        engine
            .keyspace
            .events
            .set_sink(Box::new(move |channel, message| {
                notifications.publish(channel, message);
            }));
        let tracking = Arc::new(crate::tracking::Tracking::default());
        let invalidations = tracking.clone();
        engine
            .keyspace
            .tracking
            .set_sink(Box::new(move |key, client| {
                invalidations.invalidate(key, client)
            }));
        let pause = Arc::new(ClientPause::default());
        let paused = pause.clone();
        // Keys past their TTL stay while clients are paused, as in Redis.
        engine.expiry_hold.install(move || paused.is_paused());
        let replication = crate::replication::Replication::new(Arc::clone(&engine), this);
        Shared {
            engine,
            replication,
            config,
            clients: Clients::default(),
            stats: ServerStats::default(),
            cmdstats: CommandStats::new(),
            metrics: Metrics::default(),
            slowlog: SlowLog::default(),
            latency: LatencyMonitor::default(),
            monitors: Monitors::default(),
            pubsub,
            tracking,
            pause,
            active_expire: AtomicBool::new(true),
            started: Instant::now(),
            started_unix: kv_engine::now_ms() / 1000,
            persistence: Default::default(),
            aof: Default::default(),
            run_id: run_id(),
            port: port.into(),
            tcp_listeners: Default::default(),
            tcp_listeners_changed: Notify::new(),
            shutting_down: AtomicBool::new(false),
            shutdown: Notify::new(),
        }
    }

    /// Begins a graceful stop: listeners stop accepting, connections close.
    pub fn begin_shutdown(&self) {
        if !self.shutting_down.swap(true, Ordering::SeqCst) {
            tracing::warn!("shutting down");
        }
        self.shutdown.notify_waiters();
    }

    /// Whether shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }
}

/// A random run id, from the OS's hashing randomness (no extra dependency needed).
fn run_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::with_capacity(40);
    while out.len() < 40 {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(Instant::now().elapsed().as_nanos());
        out.push_str(&format!("{:016x}", hasher.finish()));
    }
    out.truncate(40);
    out
}

/// Starts logging, builds the runtime and serves until shutdown.
pub fn run(config: Config) -> Result<()> {
    if crate::daemon::must_detach(&config) {
        return crate::daemon::detach();
    }
    // As Redis: the server works in `dir`, so a relative `logfile` or `pidfile` is there.
    let dir = config.get("dir");
    std::env::set_current_dir(&dir).with_context(|| format!("Can't chdir to '{dir}'"))?;
    init_logging(&config)?;
    // On a single core a work-stealing scheduler has nobody to steal for: the single-threaded
    // one does the same work with less synchronisation.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut builder = if cores == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = builder
        .enable_all()
        .thread_name("kv-worker")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(Shared::new(config)))
}

fn init_logging(config: &Config) -> Result<()> {
    let level = match config.get("loglevel").as_str() {
        "debug" => "debug",
        "verbose" => "info",
        "warning" => "warn",
        _ => "info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let logfile = config.get("logfile");
    if logfile.is_empty() {
        builder.with_writer(|| Unfailing(std::io::stdout())).init();
    } else {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&logfile)
            .with_context(|| format!("cannot open logfile {logfile}"))?;
        let file = std::sync::Arc::new(std::sync::Mutex::new(file));
        builder
            .with_ansi(false)
            .with_writer(move || Unfailing(LockedFile(file.clone())))
            .init();
    }
    Ok(())
}

/// A log destination whose write errors are dropped, as Redis drops them: when nobody reads
/// the log any more (a closed pipe, a full disk), `tracing-subscriber` would report the error
/// with `eprintln!`, which panics when stderr is that closed pipe too, and the panic kills
/// whichever task was logging (the shutdown on SIGTERM, a connection).
struct Unfailing<W>(W);

impl<W: std::io::Write> std::io::Write for Unfailing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = self.0.write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = self.0.flush();
        Ok(())
    }
}

/// The log file, shared by every thread that logs.
struct LockedFile(std::sync::Arc<std::sync::Mutex<std::fs::File>>);

impl std::io::Write for LockedFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut file = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // One event, one write: lines of concurrent events do not interleave.
        file.write_all(buf).map(|()| buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Binds every address of `bind` (a `bind` setting) on `port`; an address written with a
/// leading `-` is optional (as in Redis: skipped when the machine does not have it). Port 0
/// binds none. Each listens with `tcp-backlog`'s queue, as Redis's do.
fn bind_tcp(port: u16, bind: &str, backlog: u32) -> Result<Vec<TcpListener>> {
    let mut listeners = Vec::new();
    // Port 0 or an empty `bind`: no TCP at all (what CONFIG SET can ask for at run time; at
    // start, `bind` refuses it unless the unix socket is there).
    if port == 0 || bind.split_whitespace().next().is_none() {
        return Ok(listeners);
    }
    for word in bind.split_whitespace() {
        let (optional, host) = match word.strip_prefix('-') {
            Some(host) => (true, host),
            None => (false, word),
        };
        let host = match host {
            "*" => "0.0.0.0",
            "::*" => "::",
            other => other,
        };
        let addr: SocketAddr = match host.parse::<std::net::IpAddr>() {
            Ok(ip) => SocketAddr::new(ip, port),
            Err(_) => bail!("invalid bind address '{host}'"),
        };
        let listened = listen(addr, backlog);
        match listened {
            Ok(listener) => listeners.push(listener),
            Err(e) if optional => tracing::debug!("skipping optional bind address {addr}: {e}"),
            Err(e) => return Err(e).with_context(|| format!("could not bind {addr}")),
        }
    }
    if listeners.is_empty() {
        bail!("no address to listen on");
    }
    Ok(listeners)
}

/// The TCP listeners `config` asks for.
fn bind(config: &Config) -> Result<Vec<TcpListener>> {
    let port = config.int("port") as u16;
    let no_tcp = port == 0 || config.get("bind").split_whitespace().next().is_none();
    if no_tcp && config.get("unixsocket").is_empty() {
        bail!("Configured to not listen anywhere, exiting.");
    }
    bind_tcp(port, &config.get("bind"), backlog(config))
}

/// A listener on `addr` with a queue of `backlog` connections.
fn listen(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

/// `tcp-backlog`, as a listen queue length.
fn backlog(config: &Config) -> u32 {
    config.int("tcp-backlog").clamp(1, i64::from(u32::MAX)) as u32
}

/// Listens on the `port` and `bind` now configured (CONFIG SET changed one), as Redis's
/// `changeListenPort` and `changeBindAddr` do: the old listeners are closed first (the new
/// ones may need their addresses), and if the new ones cannot all be bound, the old
/// addresses are listened on again and the error returned, for the caller to restore the
/// old settings. Connected clients stay.
pub fn rebind(shared: &Arc<Shared>) -> Result<()> {
    let port = shared.config.int("port") as u16;
    let backlog = backlog(&shared.config);
    let mut listeners = shared.tcp_listeners.lock();
    let old: Vec<SocketAddr> = listeners
        .iter()
        .filter_map(|l| l.local_addr().ok())
        .collect();
    listeners.clear();
    let result = match bind_tcp(port, &shared.config.get("bind"), backlog) {
        Ok(new) => {
            *listeners = new;
            shared.port.store(port, Ordering::Relaxed);
            Ok(())
        }
        Err(e) => {
            for addr in old {
                match listen(addr, backlog) {
                    Ok(listener) => listeners.push(listener),
                    Err(e) => tracing::warn!("could not listen on {addr} again: {e}"),
                }
            }
            Err(e)
        }
    };
    drop(listeners);
    shared.tcp_listeners_changed.notify_waiters();
    result
}

/// Accepts connections until shutdown; also runs the background jobs.
pub async fn serve(shared: Arc<Shared>) -> Result<()> {
    let listeners = bind(&shared.config)?;
    #[cfg(unix)]
    let unix_listener = bind_unix_socket(&shared.config)?;
    #[cfg(unix)]
    let unix_path = unix_listener.as_ref().map(|(_, path)| path.clone());
    let pidfile = crate::daemon::PidFile::create(&shared.config);
    #[allow(unused_mut)]
    let mut addresses: Vec<String> = listeners
        .iter()
        .filter_map(|l| l.local_addr().ok())
        .map(|a| a.to_string())
        .collect();
    #[cfg(unix)]
    if let Some(path) = &unix_path {
        addresses.push(format!("unix:{path}"));
    }
    tracing::info!(
        "kv-server v={} pid={} port={} listening on {} ready to accept connections",
        env!("CARGO_PKG_VERSION"),
        std::process::id(),
        shared.port.load(Ordering::Relaxed),
        addresses.join(", ")
    );
    crate::memory::mark_startup();
    let writer = shared.clone();
    std::thread::Builder::new()
        .name("kv-aof-writer".into())
        .spawn(move || crate::aof::writer(writer))
        .context("cannot start the AOF writer thread")?;
    tokio::spawn(crate::persistence::load_at_start(shared.clone()));
    crate::replication::start(&shared);
    tokio::spawn(expire_loop(shared.clone()));
    tokio::spawn(metrics_loop(shared.clone()));
    tokio::spawn(signals(shared.clone()));
    *shared.tcp_listeners.lock() = listeners;
    let mut accepting = vec![tokio::spawn(accept_loop(shared.clone()))];
    #[cfg(unix)]
    if let Some((listener, path)) = unix_listener {
        accepting.push(tokio::spawn(accept_unix_loop(
            shared.clone(),
            listener,
            path,
        )));
    }
    while !shared.is_shutting_down() {
        let notified = shared.shutdown.notified();
        if shared.is_shutting_down() {
            break;
        }
        notified.await;
    }
    for task in accepting {
        task.abort();
    }
    shared.tcp_listeners.lock().clear();
    shared.clients.kill_all();
    // Give connections a moment to flush and close.
    let deadline = Instant::now() + Duration::from_secs(2);
    while !shared.clients.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    #[cfg(unix)]
    if let Some(path) = unix_path {
        // As Redis: the socket file goes with the server.
        let _ = std::fs::remove_file(&*path);
    }
    pidfile.remove();
    tracing::warn!("kv-server is now ready to exit, bye bye...");
    Ok(())
}

/// Accepts connections on the TCP listeners until shutdown (when its task is aborted).
async fn accept_loop(shared: Arc<Shared>) {
    let mut turn = 0usize;
    loop {
        // Made before the listeners are polled, so a replacement made after that wakes it.
        let changed = shared.tcp_listeners_changed.notified();
        let accepted = tokio::select! {
            accepted = std::future::poll_fn(|cx| {
                // From a different listener each time, so none can keep the others waiting.
                let listeners = shared.tcp_listeners.lock();
                turn = turn.wrapping_add(1);
                for i in 0..listeners.len() {
                    let listener = &listeners[(turn + i) % listeners.len()];
                    if let std::task::Poll::Ready(accepted) = listener.poll_accept(cx) {
                        return std::task::Poll::Ready(accepted);
                    }
                }
                std::task::Poll::Pending
            }) => accepted,
            _ = changed => continue,
        };
        match accepted {
            Ok((stream, peer)) => {
                let shared = shared.clone();
                tokio::spawn(async move {
                    crate::connection::serve_client(shared, stream, peer).await;
                });
            }
            Err(e) => {
                // Usually EMFILE: back off instead of spinning.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Listens on `unixsocket`, if set: a file left there (by a server that did not stop cleanly)
/// is replaced, as Redis replaces it, and `unixsocketperm` (when not 0) sets its mode.
#[cfg(unix)]
fn bind_unix_socket(config: &Config) -> Result<Option<(tokio::net::UnixListener, Arc<str>)>> {
    use std::os::unix::fs::PermissionsExt;
    let path = config.get("unixsocket");
    if path.is_empty() {
        return Ok(None);
    }
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path)
        .with_context(|| format!("Failed opening Unix socket {path}"))?;
    let mode = crate::config::unix_socket_mode(config);
    if mode != 0 {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot set the mode of the Unix socket {path}"))?;
    }
    Ok(Some((listener, Arc::from(path))))
}

/// Accepts connections on the unix socket at `path` until shutdown.
#[cfg(unix)]
async fn accept_unix_loop(shared: Arc<Shared>, listener: tokio::net::UnixListener, path: Arc<str>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let shared = shared.clone();
                let path = path.clone();
                tokio::spawn(async move {
                    crate::connection::serve_unix_client(shared, stream, path).await;
                });
            }
            Err(e) => {
                tracing::warn!("accept failed on the Unix socket: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Stops gracefully on SIGTERM and SIGINT; ignores SIGHUP, as Redis does (a server started
/// from a terminal outlives it).
async fn signals(shared: Arc<Shared>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int), Ok(mut hangup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::hangup()),
        ) else {
            tracing::warn!("cannot install signal handlers");
            return;
        };
        loop {
            tokio::select! {
                _ = term.recv() => tracing::warn!("Received SIGTERM scheduling shutdown..."),
                _ = int.recv() => tracing::warn!("Received SIGINT scheduling shutdown..."),
                _ = hangup.recv() => continue,
            }
            let saver = shared.clone();
            let saved = tokio::task::spawn_blocking(move || {
                crate::persistence::save_for_shutdown(&saver, false, false)
            })
            .await;
            if matches!(saved, Ok(Ok(()))) {
                crate::aof::close(&shared);
                break;
            }
            // As Redis: a signalled server that cannot save keeps running.
            tracing::warn!(
                "SIGTERM received but errors trying to shut down the server, check the logs for more information"
            );
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    shared.begin_shutdown();
}

/// Deletes expired keys and reclaims expired hash fields in the background, `hz` times a
/// second, as Redis's active expire cycle does: a bounded batch of each per tick, more batches
/// while there is more to do, never more than a quarter of the tick. Like Redis, it stands
/// still while `DEBUG SET-ACTIVE-EXPIRE 0` is in force or clients are paused, and reports slow
/// cycles to the latency monitor as `expire-cycle`.
async fn expire_loop(shared: Arc<Shared>) {
    const BATCH: usize = 2000;
    loop {
        let hz = shared.config.int("hz").clamp(1, 500) as u64;
        let period = Duration::from_millis(1000 / hz);
        tokio::time::sleep(period).await;
        if shared.is_shutting_down() {
            return;
        }
        // A replica's keys expire by its master's DELs.
        if !shared.active_expire.load(Ordering::Relaxed)
            || shared.pause.is_paused()
            || shared.engine.config.replica.load(Ordering::Relaxed)
        {
            continue;
        }
        let started = Instant::now();
        let keyspace = &shared.engine.keyspace;
        let stats = &shared.stats;
        loop {
            let now = kv_engine::now_ms();
            let keys = keyspace.expire_cycle(now, BATCH);
            let fields = keyspace.expire_fields_cycle(now, BATCH);
            if keys < BATCH && fields < BATCH {
                // Every due key is gone: none is stale.
                stats.expired_stale_hundredths.store(0, Ordering::Relaxed);
                break;
            }
            if started.elapsed() >= period / 4 {
                stats.expire_cycles_capped.fetch_add(1, Ordering::Relaxed);
                // Counted up to a bound, so that a huge backlog does not make this slow.
                let due = keyspace.due_keys(now, 100_000) as u64;
                let volatile = keyspace.volatile_keys().max(1) as u64;
                let stale = (due * 10_000 / volatile).min(10_000);
                stats
                    .expired_stale_hundredths
                    .store(stale, Ordering::Relaxed);
                break;
            }
            tokio::task::yield_now().await;
        }
        stats
            .expire_cycle_ms
            .fetch_add(started.elapsed().as_millis() as u64, Ordering::Relaxed);
        let threshold = shared.config.hot.latency_threshold.load(Ordering::Relaxed);
        let millis = started.elapsed().as_millis() as u64;
        shared
            .latency
            .add_if_needed("expire-cycle", millis, threshold);
    }
}

/// Samples the counters behind INFO's instantaneous rates every 100 ms, as Redis's cron does,
/// and does the cron's other chores: save points, eviction left over, sparse tables.
async fn metrics_loop(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ticks: u64 = 0;
    loop {
        tick.tick().await;
        ticks += 1;
        if shared.is_shutting_down() {
            return;
        }
        let stats = &shared.stats;
        stats.note_memory(crate::memory::used());
        crate::persistence::cron(&shared);
        let tracked_max = shared
            .config
            .hot
            .tracking_table_max_keys
            .load(Ordering::Relaxed);
        shared
            .tracking
            .limit(usize::try_from(tracked_max).unwrap_or(0));
        shared.tracking.sync_active(&shared.engine);
        // Once a second, as Redis's client cron: idle clients give their buffers back.
        if ticks % 10 == 0 {
            shared.clients.release_idle(Instant::now());
        }
        // Idle clients too are evicted when `maxmemory-clients` is lowered under their use.
        let client_limit = shared
            .config
            .hot
            .client_memory_limit
            .load(Ordering::Relaxed);
        shared.clients.evict(client_limit, 0);
        // Every shard of every database once in 1.6 s, with the default 16 databases.
        shared.engine.keyspace.shrink_sparse_tables(256);
        // Finishes an eviction that ran out of time with memory still over (Redis's
        // eviction time event), a slice at a time.
        while shared.engine.make_room(&crate::memory::used) == kv_engine::evict::Room::Evicting {
            tokio::task::yield_now().await;
        }
        let metrics = &shared.metrics;
        metrics
            .ops
            .sample(stats.commands_processed.load(Ordering::Relaxed));
        metrics
            .net_input
            .sample(stats.net_input_bytes.load(Ordering::Relaxed));
        metrics
            .net_output
            .sample(stats.net_output_bytes.load(Ordering::Relaxed));
        metrics
            .repl_input
            .sample(stats.repl_input_bytes.load(Ordering::Relaxed));
        let sent = &shared.replication.master.syncs.bytes_sent;
        metrics.repl_output.sample(sent.load(Ordering::Relaxed));
    }
}
