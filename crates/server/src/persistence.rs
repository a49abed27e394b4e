//! Snapshots for the server: SAVE, BGSAVE, LASTSAVE, the `save` points, the save at shutdown,
//! loading the snapshot at start-up (clients get `-LOADING` meanwhile), the write refusals
//! after a failed save (`-MISCONF`), and what INFO persistence reports.
//!
//! The snapshot itself is `kv_persist::save_to_path`: a point-in-time copy taken while clients
//! go on writing (ARCHITECTURE.md, "Snapshots"). A background save runs on a thread of its
//! own; SAVE runs the same code on the calling connection's thread and answers when the file
//! is in place (only that client waits, where Redis's SAVE stops every client).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kv_engine::CommandError;
use kv_persist::{SaveStats, SnapshotError, WriteOptions};
use parking_lot::Mutex;

use crate::server::Shared;

/// Redis's refusal of writes after a failed save, word for word (clients match on it).
pub const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently \
    unable to persist to disk. Commands that may modify the data set are disabled, because this \
    instance is configured to report errors during writes if RDB snapshotting fails \
    (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB \
    error.";

/// Redis's answer while the dataset loads, word for word (clients retry on it).
pub const LOADING: &str = "LOADING Redis is loading the dataset in memory";

/// How long after a failed background save the `save` points wait before trying again
/// (Redis's `CONFIG_BGSAVE_RETRY_DELAY`).
const RETRY_DELAY_SECS: u64 = 5;

/// The server's snapshot state.
#[derive(Debug)]
pub struct Persistence {
    /// Unix seconds of the last successful save, or of the start (LASTSAVE).
    last_save: AtomicU64,
    /// The keyspace's change count when the last successful save began: changes since the
    /// last save are the count now minus this.
    changes_at_save: AtomicU64,
    /// A save (SAVE or BGSAVE) is running.
    saving: AtomicBool,
    /// The running save is a background one (`rdb_bgsave_in_progress`).
    background: AtomicBool,
    /// When the running save began.
    save_started: Mutex<Option<Instant>>,
    /// Whether the last background save succeeded (`rdb_last_bgsave_status`); a successful
    /// SAVE sets it too, a failed one leaves it, as in Redis. Writes are refused (MISCONF)
    /// while it is false.
    last_bgsave_ok: AtomicBool,
    /// Unix seconds of the last background save attempt, for the retry delay.
    last_attempt: AtomicU64,
    /// Seconds the last background save took, -1 before any (`rdb_last_bgsave_time_sec`).
    last_bgsave_secs: AtomicI64,
    /// A BGSAVE was scheduled (inside a transaction) and starts at the next tick.
    scheduled: AtomicBool,
    /// Successful saves (`rdb_saves`).
    saves: AtomicU64,
    /// The extra memory the last background save held at most (`rdb_last_cow_size`).
    last_cow_size: AtomicU64,
    /// The dataset is loading: commands without the `loading` flag get [`LOADING`].
    loading: AtomicBool,
    /// What the last load did: Unix seconds it started, bytes in the file, bytes read, keys
    /// loaded and keys left out as expired.
    load_started: AtomicU64,
    load_total: AtomicU64,
    load_read: AtomicU64,
    load_keys: AtomicU64,
    load_expired: AtomicU64,
    /// The replication stream position the loaded snapshot names (a replica's snapshot: ID,
    /// offset, database), which a replica restarting continues from.
    pub loaded_stream_position: Mutex<Option<(String, u64, usize)>>,
}

impl Persistence {
    /// State at start-up: the dataset counts as saved now, as in Redis.
    pub fn new() -> Persistence {
        Persistence {
            last_save: AtomicU64::new(unix_now()),
            changes_at_save: AtomicU64::new(0),
            saving: AtomicBool::new(false),
            background: AtomicBool::new(false),
            save_started: Mutex::new(None),
            last_bgsave_ok: AtomicBool::new(true),
            last_attempt: AtomicU64::new(0),
            last_bgsave_secs: AtomicI64::new(-1),
            scheduled: AtomicBool::new(false),
            last_cow_size: AtomicU64::new(0),
            saves: AtomicU64::new(0),
            loading: AtomicBool::new(false),
            load_started: AtomicU64::new(0),
            load_total: AtomicU64::new(0),
            load_read: AtomicU64::new(0),
            load_keys: AtomicU64::new(0),
            load_expired: AtomicU64::new(0),
            loaded_stream_position: Mutex::new(None),
        }
    }

    /// Whether the dataset is loading.
    pub fn is_loading(&self) -> bool {
        self.loading.load(Ordering::Relaxed)
    }

    /// Whether a save is running.
    pub fn is_saving(&self) -> bool {
        self.saving.load(Ordering::Acquire)
    }

    /// Unix seconds of the last successful save (LASTSAVE).
    pub fn last_save(&self) -> u64 {
        self.last_save.load(Ordering::Relaxed)
    }
}

impl Default for Persistence {
    fn default() -> Persistence {
        Persistence::new()
    }
}

fn unix_now() -> u64 {
    kv_engine::now_ms() / 1000
}

/// The snapshot file: `dir` joined with `dbfilename`.
pub fn snapshot_path(shared: &Shared) -> PathBuf {
    let dir = shared.config.get("dir");
    let name = shared.config.get("dbfilename");
    if dir.is_empty() {
        PathBuf::from(name)
    } else {
        PathBuf::from(dir).join(name)
    }
}

fn write_options(shared: &Shared) -> WriteOptions {
    WriteOptions {
        compress: shared.config.flag("rdbcompression"),
        checksum: shared.config.flag("rdbchecksum"),
    }
}

/// Why writes are refused for the disk's sake, if they are (Redis's
/// `writeCommandsDeniedByDiskError`): the last background save failed (with
/// `stop-writes-on-bgsave-error` on and save points configured), or the append-only file
/// cannot be written.
pub fn writes_denied(shared: &Shared) -> Option<String> {
    let p = &shared.persistence;
    if !p.last_bgsave_ok.load(Ordering::Relaxed)
        && shared.config.flag("stop-writes-on-bgsave-error")
        && !shared.config.get("save").is_empty()
    {
        return Some(MISCONF.to_string());
    }
    shared
        .aof
        .write_error()
        .map(|e| format!("MISCONF Errors writing to the AOF file: {e}"))
}

/// Claims the right to save; `false` if a save is running.
fn begin(shared: &Shared, background: bool) -> bool {
    let p = &shared.persistence;
    if p.saving
        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return false;
    }
    p.background.store(background, Ordering::Relaxed);
    *p.save_started.lock() = Some(Instant::now());
    if background {
        p.last_attempt.store(unix_now(), Ordering::Relaxed);
    }
    true
}

/// Gives back the right to save that [`begin`] claimed.
fn end(p: &Persistence) {
    *p.save_started.lock() = None;
    p.background.store(false, Ordering::Relaxed);
    p.saving.store(false, Ordering::Release);
}

/// Writes the snapshot (the caller holds the right to save) and records the outcome.
fn save_now(shared: &Shared) -> Result<SaveStats, SnapshotError> {
    let p = &shared.persistence;
    let background = p.background.load(Ordering::Relaxed);
    let changes_before = shared.engine.keyspace.changes();
    let path = snapshot_path(shared);
    let started = Instant::now();
    let options = write_options(shared);
    let master = &shared.replication.master;
    let result = if master.is_following() {
        // A replica's snapshot names where it stands in its master's stream, exactly (the
        // instant is a quiet one), so that after a restart it can continue from there.
        kv_persist::save_to_path_quiet(&shared.engine, &path, options, |_| master.applied_aux())
    } else {
        kv_persist::save_to_path(&shared.engine, &path, options)
    };
    let ok = result.is_ok();
    match &result {
        Ok(stats) => {
            if background {
                p.last_cow_size.store(stats.peak_held, Ordering::Relaxed);
            }
            p.changes_at_save.store(changes_before, Ordering::Relaxed);
            p.last_save.store(unix_now(), Ordering::Relaxed);
            p.saves.fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                "DB saved on disk: {} keys, {} bytes to {} in {:.3} s",
                stats.keys,
                stats.bytes,
                path.display(),
                started.elapsed().as_secs_f64()
            );
        }
        Err(e) => tracing::warn!("Failed saving the DB to {}: {e}", path.display()),
    }
    if background || ok {
        p.last_bgsave_ok.store(ok, Ordering::Relaxed);
    }
    if background {
        p.last_bgsave_secs
            .store(started.elapsed().as_secs() as i64, Ordering::Relaxed);
    }
    end(p);
    result
}

/// Gives the calling thread (a background save or rewrite) the lowest CPU priority (nice 19
/// on Linux): where cores are short, a client's command runs before the next stretch of the
/// save. Without it the save thread takes its full share of a core, and clients queued behind
/// it wait: SET's p99 during back-to-back BGSAVEs was 12x its idle p99 on two cores (see
/// BENCHMARKS.md). Copy-on-write needs no help from this thread, so it cannot make a
/// writer wait for the save; the save only takes longer.
fn yield_to_clients() {
    #[cfg(target_os = "linux")]
    #[allow(unsafe_code)]
    {
        // SAFETY: gettid and setpriority take and return plain integers and touch no memory of
        // ours; on Linux PRIO_PROCESS with a thread id changes only that thread's nice value.
        let result = unsafe {
            let tid = libc::gettid();
            libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 19)
        };
        if result != 0 {
            tracing::debug!(
                "cannot lower the background thread's priority: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}

/// Starts a background save on a thread of its own; `false` if a save is running.
pub fn start_background_save(shared: &Arc<Shared>) -> bool {
    if !begin(shared, true) {
        return false;
    }
    tracing::info!("Background saving started");
    let shared_for_error = shared;
    let shared = Arc::clone(shared);
    let spawned = std::thread::Builder::new()
        .name("kv-bgsave".into())
        .spawn(move || {
            yield_to_clients();
            let _ = save_now(&shared);
        });
    if let Err(e) = spawned {
        // Reported as a failed save, as Redis reports a failed fork.
        tracing::warn!("Can't start the background save thread: {e}");
        let p = &shared_for_error.persistence;
        p.last_bgsave_ok.store(false, Ordering::Relaxed);
        end(p);
    }
    true
}

/// `SAVE`: writes the snapshot and answers when it is on disk.
pub fn save_command(shared: &Shared) -> Result<(), CommandError> {
    if !begin(shared, false) {
        return Err(CommandError::msg("ERR Background save already in progress"));
    }
    match save_now(shared) {
        Ok(_) => Ok(()),
        Err(_) => Err(CommandError::msg("ERR")),
    }
}

/// `BGSAVE [SCHEDULE]`. Inside a transaction the save is scheduled, as Redis does (its fork
/// cannot happen mid-EXEC; kv's snapshot would wait for the transaction's locks).
pub fn bgsave_command(
    shared: &Arc<Shared>,
    args: &[&[u8]],
    in_exec: bool,
) -> Result<&'static str, CommandError> {
    match args {
        [] => {}
        [word] if word.eq_ignore_ascii_case(b"schedule") => {}
        _ => return Err(CommandError::Syntax),
    }
    let p = &shared.persistence;
    if p.background.load(Ordering::Relaxed) && p.is_saving() {
        return Err(CommandError::msg("ERR Background save already in progress"));
    }
    if shared.aof.is_rewriting() && args.is_empty() && !in_exec {
        return Err(CommandError::msg(
            "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE \
             SCHEDULE in order to schedule a BGSAVE whenever possible.",
        ));
    }
    if in_exec || p.is_saving() {
        p.scheduled.store(true, Ordering::Relaxed);
        return Ok("Background saving scheduled");
    }
    if start_background_save(shared) {
        Ok("Background saving started")
    } else {
        p.scheduled.store(true, Ordering::Relaxed);
        Ok("Background saving scheduled")
    }
}

/// `DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]`: saves the snapshot (unless NOSAVE), empties
/// every database (unless NOFLUSH) and loads the file back, all under one acquisition of
/// every shard, so no other client's write can fall between the save and the load (Redis,
/// single-threaded, gets that for free). Keys in the file replace keys of the same name.
pub fn reload(shared: &Shared, options: &[&[u8]], in_exec: bool) -> Result<(), CommandError> {
    let (mut save, mut flush) = (true, true);
    for option in options {
        match option.to_ascii_lowercase().as_slice() {
            b"merge" => {}
            b"noflush" => flush = false,
            b"nosave" => save = false,
            _ => {
                return Err(CommandError::msg(
                    "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.",
                ))
            }
        }
    }
    if in_exec {
        // The transaction holds shard locks; this needs them all.
        return Err(CommandError::msg(
            "ERR DEBUG RELOAD is not allowed inside a transaction",
        ));
    }
    if !begin(shared, false) {
        return Err(CommandError::msg("ERR Background save already in progress"));
    }
    let result = reload_held(shared, save, flush);
    end(&shared.persistence);
    result
}

/// The body of [`reload`], run with the right to save held.
fn reload_held(shared: &Shared, save: bool, flush: bool) -> Result<(), CommandError> {
    let keyspace = &shared.engine.keyspace;
    let mut locked = keyspace.lock_everything(true);
    let path = snapshot_path(shared);
    if save {
        if let Err(e) = kv_persist::save_held_to_path(&locked, &path, write_options(shared)) {
            tracing::warn!(
                "DEBUG RELOAD: failed saving the DB to {}: {e}",
                path.display()
            );
            return Err(CommandError::msg("ERR"));
        }
        shared
            .persistence
            .last_save
            .store(unix_now(), Ordering::Relaxed);
    }
    if flush {
        for db in 0..keyspace.databases() {
            // Dropped here, under the locks: the dataset is being replaced anyway.
            drop(locked.clear(db));
        }
    }
    let loaded = std::fs::File::open(&path)
        .map_err(|source| SnapshotError::Io { offset: 0, source })
        .and_then(|file| {
            let input = std::io::BufReader::with_capacity(256 << 10, file);
            kv_persist::load_held(&shared.engine, &mut locked, input, kv_engine::now_ms())
        });
    if let Err(e) = loaded {
        tracing::warn!("DEBUG RELOAD: failed loading {}: {e}", path.display());
        return Err(CommandError::msg(
            "ERR Error trying to load the RDB dump, check server logs.",
        ));
    }
    drop(locked);
    shared
        .persistence
        .changes_at_save
        .store(keyspace.changes(), Ordering::Relaxed);
    tracing::warn!("DB reloaded by DEBUG RELOAD");
    Ok(())
}

/// The `save` points and BGSAVE SCHEDULE, checked every tick of the server's cron (Redis's
/// `serverCron`): a save starts when, for some point, that many changes were made and more
/// than that many seconds have passed since the last save (and, after a failed save, the retry delay
/// has passed too).
pub fn cron(shared: &Arc<Shared>) {
    let p = &shared.persistence;
    if p.is_saving() || p.is_loading() || shared.is_shutting_down() {
        return;
    }
    if shared.aof.rewrite_scheduled() && !shared.aof.is_rewriting() {
        if let Err(e) = start_rewrite(shared) {
            tracing::warn!("Can't start the scheduled AOF rewrite: {e:?}");
        }
        return;
    }
    if p.scheduled.swap(false, Ordering::Relaxed) {
        start_background_save(shared);
        return;
    }
    if shared.aof.rewrite_due(&shared.config) {
        tracing::info!("Starting automatic rewriting of AOF on growth");
        spawn_rewrite(shared, || {});
    }
    let changes = changes_since_save(shared);
    if changes == 0 {
        return;
    }
    let now = unix_now();
    let since_save = now.saturating_sub(p.last_save());
    let may_retry = p.last_bgsave_ok.load(Ordering::Relaxed)
        || now.saturating_sub(p.last_attempt.load(Ordering::Relaxed)) > RETRY_DELAY_SECS;
    let points = crate::config::parse_save_points(&shared.config.get("save"));
    let due = points
        .iter()
        .find(|&&(seconds, min_changes)| changes >= min_changes && since_save > seconds);
    if let (Some((seconds, _)), true) = (due, may_retry) {
        tracing::info!("{changes} changes in {seconds} seconds. Saving...");
        start_background_save(shared);
    }
}

/// Changes since the last successful save (`rdb_changes_since_last_save`).
pub fn changes_since_save(shared: &Shared) -> u64 {
    let now = shared.engine.keyspace.changes();
    now.wrapping_sub(shared.persistence.changes_at_save.load(Ordering::Relaxed))
}

/// The save before stopping, when save points are configured or SHUTDOWN SAVE asks for it
/// (and SHUTDOWN NOSAVE does not forbid it). Waits for a running background save first.
/// `Err` if the save failed: the caller decides whether to stop anyway.
pub fn save_for_shutdown(
    shared: &Shared,
    force_save: bool,
    no_save: bool,
) -> Result<(), SnapshotError> {
    let wanted = force_save || (!no_save && !shared.config.get("save").is_empty());
    if !wanted || shared.persistence.is_loading() {
        return Ok(());
    }
    tracing::warn!("Saving the final snapshot before exiting.");
    loop {
        if begin(shared, false) {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    save_now(shared).map(|_| ()).inspect_err(|_| {
        tracing::warn!("Error trying to save the DB, can't exit.");
    })
}

/// Loads the snapshot file at start-up, if there is one, while clients get `-LOADING`. A file
/// that cannot be read stops the server with the error (file and offset), before anything can
/// overwrite it.
///
/// The dataset counts as loading from this call on, not from the future's first poll: the
/// server calls it before it spawns its accept loops, so no client ever sees the dataset
/// before it is loaded (as in Redis, which loads before it serves anyone).
///
/// With `appendonly yes` the append-only file is loaded instead, if there is one; otherwise
/// the snapshot, then the log is created with the loaded data as its base. Clients get
/// `-LOADING` until the log is open, so no write goes unlogged.
pub fn load_at_start(shared: Arc<Shared>) -> impl std::future::Future<Output = ()> + Send {
    let appendonly = shared.config.flag("appendonly");
    let manifest = if appendonly {
        let dir = crate::aof::log_dir(&shared);
        match crate::aof::read_manifest(&dir, &shared.config.get("appendfilename")) {
            Ok(manifest) => manifest,
            Err(e) => fail_start(&format!("can't read the AOF manifest: {e:#}")),
        }
    } else {
        None
    };
    let path = snapshot_path(&shared);
    let total = match std::fs::metadata(&path) {
        Ok(_) if manifest.is_some() => None,
        Ok(meta) => Some(meta.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => fail_start(&format!("can't open the snapshot {}: {e}", path.display())),
    };
    if appendonly || total.is_some() {
        let p = &shared.persistence;
        p.load_started.store(unix_now(), Ordering::Relaxed);
        p.load_total.store(total.unwrap_or(0), Ordering::Relaxed);
        p.load_read.store(0, Ordering::Relaxed);
        p.loading.store(true, Ordering::Relaxed);
    }
    async move {
        if let Some(total) = total {
            load_snapshot(Arc::clone(&shared), total).await;
        }
        if appendonly {
            let task_shared = Arc::clone(&shared);
            let opened =
                tokio::task::spawn_blocking(move || open_log(&task_shared, manifest)).await;
            match opened {
                Ok(Ok(())) => {}
                Ok(Err(e)) => fail_start(&format!("{e:#}")),
                Err(e) => fail_start(&format!("loading the AOF failed: {e}")),
            }
        }
        shared.persistence.loading.store(false, Ordering::Relaxed);
    }
}

/// Logs why the server cannot start and exits, before anything is written over the files.
fn fail_start(why: &str) -> ! {
    tracing::error!("{why}");
    eprintln!("kv-server: {why}");
    std::process::exit(1);
}

/// At start with `appendonly yes`: replays the log of `manifest` if there is one, then opens
/// the log for appending; a new log gets the loaded data (from the snapshot) as its base.
fn open_log(
    shared: &Arc<Shared>,
    manifest: Option<kv_persist::aof::Manifest>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let fresh = manifest.is_none();
    if let Some(manifest) = manifest {
        let dir = crate::aof::log_dir(shared);
        let crate::aof::Replayed {
            keys,
            commands,
            stream_position,
        } = crate::aof::load(shared, &manifest, &dir)?;
        *shared.persistence.loaded_stream_position.lock() = stream_position;
        tracing::info!(
            "DB loaded from append only file: {keys} keys from the base, {commands} commands replayed, in {:.3} seconds",
            started.elapsed().as_secs_f64()
        );
        let keyspace = &shared.engine.keyspace;
        let loaded: usize = (0..keyspace.databases())
            .map(|db| keyspace.db_len(db))
            .sum();
        shared
            .persistence
            .load_keys
            .store(loaded as u64, Ordering::Relaxed);
    }
    crate::aof::remove_leftovers(shared);
    crate::aof::open(shared)?;
    let has_data =
        (0..shared.engine.keyspace.databases()).any(|db| shared.engine.keyspace.db_len(db) > 0);
    if fresh && has_data {
        crate::aof::rewrite(shared)?;
    }
    Ok(())
}

/// `BGREWRITEAOF`: rewrites the append-only file on a thread of its own; scheduled, as in
/// Redis, while a background save runs or inside a transaction.
pub fn bgrewriteaof_command(
    shared: &Arc<Shared>,
    in_exec: bool,
) -> Result<&'static str, CommandError> {
    if shared.aof.is_rewriting() {
        return Err(CommandError::msg(
            "ERR Background append only file rewriting already in progress",
        ));
    }
    if in_exec || shared.persistence.is_saving() {
        shared.aof.schedule_rewrite(true);
        return Ok("Background append only file rewriting scheduled");
    }
    start_rewrite(shared)?;
    Ok("Background append only file rewriting started")
}

/// After a replica's full synchronisation replaced the dataset, the log starts again from
/// it (as Redis restarts its AOF after a sync): a rewrite now, or once the running one ends.
pub fn rewrite_after_sync(shared: &Arc<Shared>) {
    if shared.aof.is_rewriting() || shared.persistence.is_saving() {
        shared.aof.schedule_rewrite(true);
    } else if let Err(e) = start_rewrite(shared) {
        tracing::warn!("cannot rewrite the AOF after the sync with the master: {e}");
    }
}

/// Starts a rewrite of the append-only file. With the log off it is opened for the rewrite
/// and closed after it: Redis writes the files even then, and kv needs the log open to
/// route the effects that arrive during the rewrite.
fn start_rewrite(shared: &Arc<Shared>) -> Result<(), CommandError> {
    shared.aof.schedule_rewrite(false);
    let refused = |e: anyhow::Error| CommandError::Other(format!("ERR {e:#}").into());
    crate::aof::claim_rewrite(shared).map_err(refused)?;
    if !shared.aof.is_on() {
        if let Err(e) = crate::aof::open(shared) {
            crate::aof::release_rewrite(shared);
            return Err(refused(e));
        }
        let turn_off = Arc::clone(shared);
        spawn_claimed_rewrite(shared, move || crate::aof::close(&turn_off));
    } else {
        spawn_claimed_rewrite(shared, || {});
    }
    Ok(())
}

/// Runs an AOF rewrite on a thread of its own, then `after`; nothing if one is running.
fn spawn_rewrite(shared: &Arc<Shared>, after: impl FnOnce() + Send + 'static) {
    match crate::aof::claim_rewrite(shared) {
        Ok(()) => spawn_claimed_rewrite(shared, after),
        Err(e) => tracing::warn!("{e:#}"),
    }
}

/// Runs the rewrite claimed with [`crate::aof::claim_rewrite`] on a thread of its own (the
/// claim is taken before, so the rewrite shows as running from now on), then `after`.
fn spawn_claimed_rewrite(shared: &Arc<Shared>, after: impl FnOnce() + Send + 'static) {
    let thread_shared = Arc::clone(shared);
    let spawned = std::thread::Builder::new()
        .name("kv-aof-rewrite".into())
        .spawn(move || {
            yield_to_clients();
            let _ = crate::aof::rewrite_claimed(&thread_shared);
            after();
        });
    if let Err(e) = spawned {
        tracing::warn!("Can't start the AOF rewrite thread: {e}");
        crate::aof::release_rewrite(shared);
    }
}

/// CONFIG SET appendonly: opens the log and rewrites it from the data in memory (yes), or
/// stops logging (no).
pub fn apply_appendonly(shared: &Arc<Shared>) -> Result<(), CommandError> {
    if shared.config.flag("appendonly") {
        if !shared.aof.is_on() {
            crate::aof::open(shared)
                .map_err(|e| CommandError::Other(format!("ERR {e:#}").into()))?;
            spawn_rewrite(shared, || {});
        }
    } else {
        crate::aof::close(shared);
    }
    Ok(())
}

/// The load of [`load_at_start`], with the dataset marked as loading.
async fn load_snapshot(shared: Arc<Shared>, total: u64) {
    let path = snapshot_path(&shared);
    let p = &shared.persistence;
    tracing::info!("Loading the snapshot {} ({total} bytes)", path.display());
    let started = Instant::now();
    let task_shared = Arc::clone(&shared);
    let result = tokio::task::spawn_blocking(move || {
        let shared = task_shared;
        let file =
            std::fs::File::open(&path).map_err(|source| SnapshotError::Io { offset: 0, source })?;
        let progress = Progress {
            inner: std::io::BufReader::with_capacity(256 << 10, file),
            read: &shared.persistence.load_read,
            last_log: Instant::now(),
            total,
        };
        kv_persist::load(&shared.engine, progress, kv_engine::now_ms())
    })
    .await;
    let path = snapshot_path(&shared);
    match result {
        Ok(Ok(stats)) => {
            *p.loaded_stream_position.lock() = kv_replication::master::aux_position(&stats.aux);
            p.load_keys.store(stats.loaded, Ordering::Relaxed);
            p.load_expired.store(stats.expired, Ordering::Relaxed);
            p.changes_at_save
                .store(shared.engine.keyspace.changes(), Ordering::Relaxed);
            tracing::info!(
                "DB loaded from disk: {} keys ({} expired left out) in {:.3} seconds",
                stats.loaded,
                stats.expired,
                started.elapsed().as_secs_f64()
            );
        }
        Ok(Err(e)) => {
            tracing::error!("Can't load the snapshot {}: {e}", path.display());
            eprintln!("kv-server: can't load the snapshot {}: {e}", path.display());
            std::process::exit(1);
        }
        Err(e) => {
            tracing::error!("Loading the snapshot {} failed: {e}", path.display());
            std::process::exit(1);
        }
    }
}

/// The snapshot file being loaded, counting bytes for INFO and logging progress.
struct Progress<'a, R> {
    inner: R,
    read: &'a AtomicU64,
    last_log: Instant,
    total: u64,
}

impl<R: std::io::Read> std::io::Read for Progress<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let read = self.read.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        if self.last_log.elapsed() >= Duration::from_secs(1) {
            self.last_log = Instant::now();
            tracing::info!(
                "Loading the snapshot: {read} of {} bytes ({:.1}%)",
                self.total,
                read as f64 * 100.0 / self.total.max(1) as f64
            );
        }
        Ok(n)
    }
}

/// INFO persistence's snapshot and loading fields (Redis's names, in Redis's order).
pub fn info(shared: &Shared, field: &mut dyn FnMut(&str, String)) {
    let p = &shared.persistence;
    let loading = p.is_loading();
    field("loading", u8::from(loading).to_string());
    field("async_loading", "0".into());
    // kv forks nothing: its "copy-on-write" is the keys a save has encoded and not yet
    // written, which writers add to when they change keys the save has not reached.
    let progress = shared.engine.keyspace.snapshot_progress();
    let current = progress.unwrap_or_default();
    field("current_cow_peak", current.peak_bytes.to_string());
    field("current_cow_size", current.held_bytes.to_string());
    // Read live, so never stale.
    field("current_cow_size_age", "0".into());
    let percent = match progress {
        Some(at) if at.total > 0 => at.handed as f64 * 100.0 / at.total as f64,
        _ => 0.0,
    };
    field("current_fork_perc", format!("{percent:.2}"));
    field("current_save_keys_processed", current.handed.to_string());
    field("current_save_keys_total", current.total.to_string());
    let in_background = p.is_saving() && p.background.load(Ordering::Relaxed);
    field(
        "rdb_changes_since_last_save",
        changes_since_save(shared).to_string(),
    );
    field(
        "rdb_bgsave_in_progress",
        u8::from(in_background).to_string(),
    );
    field("rdb_last_save_time", p.last_save().to_string());
    let status = if p.last_bgsave_ok.load(Ordering::Relaxed) {
        "ok"
    } else {
        "err"
    };
    field("rdb_last_bgsave_status", status.into());
    field(
        "rdb_last_bgsave_time_sec",
        p.last_bgsave_secs.load(Ordering::Relaxed).to_string(),
    );
    let current = match *p.save_started.lock() {
        Some(started) if in_background => started.elapsed().as_secs() as i64,
        _ => -1,
    };
    field("rdb_current_bgsave_time_sec", current.to_string());
    field("rdb_saves", p.saves.load(Ordering::Relaxed).to_string());
    field("rdb_last_cow_size", count(&p.last_cow_size));
    field("rdb_last_load_keys_expired", count(&p.load_expired));
    field("rdb_last_load_keys_loaded", count(&p.load_keys));
    shared.aof.info(field);
    field("module_fork_in_progress", "0".into());
    field("module_fork_last_cow_size", "0".into());
    shared.aof.info_sizes(field);
    if loading {
        let started = p.load_started.load(Ordering::Relaxed);
        let total = p.load_total.load(Ordering::Relaxed);
        let read = p.load_read.load(Ordering::Relaxed);
        let elapsed = unix_now().saturating_sub(started);
        let eta = if read == 0 {
            1
        } else {
            (total.saturating_sub(read) as f64 * elapsed as f64 / read as f64) as u64
        };
        field("loading_start_time", started.to_string());
        field("loading_total_bytes", total.to_string());
        field("loading_rdb_used_mem", crate::memory::used().to_string());
        field("loading_loaded_bytes", read.to_string());
        let percent = read as f64 * 100.0 / total.max(1) as f64;
        field("loading_loaded_perc", format!("{percent:.2}"));
        field("loading_eta_seconds", eta.to_string());
    }
}

/// An INFO counter's value.
pub(crate) fn count(counter: &AtomicU64) -> String {
    counter.load(Ordering::Relaxed).to_string()
}

/// `kv-server --check-snapshot FILE`: reads and checks the whole file (as redis-check-rdb
/// does), printing what it holds or the first fault and its offset. Success if it reads whole.
pub fn check_snapshot_file(file: &str) -> std::process::ExitCode {
    use std::process::ExitCode;
    println!("[offset 0] Checking snapshot file {file}");
    let opened = std::fs::File::open(file);
    let result = opened
        .map_err(|source| SnapshotError::Io { offset: 0, source })
        .and_then(|f| {
            kv_persist::check(
                std::io::BufReader::with_capacity(256 << 10, f),
                kv_engine::now_ms(),
            )
        });
    match result {
        Ok(report) => {
            for (db, keys) in &report.keys_per_db {
                println!("[info] database {db}: {keys} keys");
            }
            let total: u64 = report.keys_per_db.values().sum();
            println!("[offset {}] Checksum OK", report.bytes);
            println!("[offset {}] \\o/ snapshot looks OK! \\o/", report.bytes);
            println!("[info] {total} keys read");
            println!("[info] {} expires", report.with_ttl);
            println!("[info] {} already expired", report.expired);
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("--- SNAPSHOT ERROR DETECTED ---");
            println!("[{file}] {e}");
            ExitCode::FAILURE
        }
    }
}

/// `kv-server --check-aof FILE [--fix]`: checks an incremental AOF file (or every file a
/// manifest names, the base as a snapshot), as redis-check-aof does: reports how far it is
/// valid; with `--fix`, cuts an incremental file back to its last whole command (or MULTI
/// block). Success if every file is valid (or was fixed).
pub fn check_aof_file(file: &str, fix: bool) -> std::process::ExitCode {
    use std::process::ExitCode;
    let path = std::path::Path::new(file);
    let text = std::fs::read(path).unwrap_or_default();
    // A manifest is text lines starting with `file `; anything else is checked as a log file.
    let files: Vec<(std::path::PathBuf, bool)> = match std::str::from_utf8(&text)
        .ok()
        .filter(|t| t.starts_with("file "))
        .map(kv_persist::aof::Manifest::parse)
    {
        Some(Ok(manifest)) => {
            let dir = path.parent().unwrap_or(std::path::Path::new("."));
            let base = manifest.base.iter().map(|f| (dir.join(&f.name), true));
            let incrementals = manifest
                .incrementals
                .iter()
                .map(|f| (dir.join(&f.name), false));
            base.chain(incrementals).collect()
        }
        Some(Err(e)) => {
            println!("Invalid AOF manifest {file}: {e}");
            return ExitCode::FAILURE;
        }
        None => vec![(path.to_path_buf(), false)],
    };
    let mut ok = true;
    for (path, is_base) in files {
        if is_base {
            let code = check_snapshot_file(&path.to_string_lossy());
            ok &= code == ExitCode::SUCCESS;
            continue;
        }
        ok &= check_incremental(&path, fix);
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Checks (and with `fix` repairs) one incremental file; whether it is valid now.
fn check_incremental(path: &std::path::Path, fix: bool) -> bool {
    let name = path.display();
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) => {
            println!("Cannot open {name}: {e}");
            return false;
        }
    };
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut reader = kv_persist::aof::IncrReader::new(std::io::BufReader::new(file), false);
    let (mut commands, mut error) = (0u64, None);
    loop {
        match reader.next_item() {
            Ok(Some(_)) => commands += 1,
            Ok(None) => break,
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    let valid = reader.valid_len();
    println!(
        "AOF analyzed: filename={name}, size={size}, ok_up_to={valid}, commands={commands}, diff={}",
        size - valid.min(size)
    );
    let Some(error) = error else {
        println!("AOF {name} is valid");
        return true;
    };
    println!("AOF {name}: {error}");
    if !fix {
        println!("AOF {name} is not valid. Use the --fix option to try fixing it.");
        return false;
    }
    let cut = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|f| f.set_len(valid).and_then(|()| f.sync_all()));
    match cut {
        Ok(()) => {
            println!("Successfully truncated AOF {name} to {valid} bytes");
            true
        }
        Err(e) => {
            println!("Failed to truncate AOF {name}: {e}");
            false
        }
    }
}
