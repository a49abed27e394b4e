//! The append-only file (`appendonly yes`): every write's effects (the engine's `effects`
//! module) logged in `appenddirname` in the multi-part layout of `kv_persist::aof`, synced to
//! disk per `appendfsync`, replayed at start, rewritten by BGREWRITEAOF.
//!
//! - **Appending.** The engine hands each command's effects to [`Aof`] (an `EffectSink`)
//!   under the command's shard locks, so one key's effects are logged in the order they ran.
//!   They are encoded into the current incremental file's buffer; a writer thread writes the
//!   buffer out and syncs it.
//! - **`appendfsync always`.** A connection whose command logged something waits, before it
//!   sends its replies, until the writer has synced past that command's bytes: a write is
//!   acknowledged only once durable. One sync covers every command logged before it, so
//!   concurrent clients share syncs (group commit). `everysec` syncs once a second, `no` leaves
//!   it to the OS; both write the buffer out at once.
//! - **Rewriting.** A new incremental file is opened and added to the manifest first; then a
//!   snapshot is taken as the new base, and the effects of commands whose locks read its epoch
//!   or a later one go to the new file, the earlier ones to the old (they are in the base).
//!   Then the manifest becomes base + new file, and the old files are deleted. A crash at any
//!   point leaves a manifest whose files replay to every acknowledged write.

use std::cell::Cell;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use kv_engine::effects::{Effect, EffectSink};
use kv_persist::aof::{self, FileKind, LogFile, Manifest};
use parking_lot::{Condvar, Mutex};

use crate::server::Shared;

/// `appendfsync`: when the log reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Fsync {
    /// Before the write is acknowledged.
    Always = 0,
    /// Once a second.
    EverySec = 1,
    /// When the OS decides.
    No = 2,
}

impl Fsync {
    /// The policy named `name` (a checked `appendfsync` value).
    pub fn from_name(name: &str) -> Fsync {
        match name {
            "always" => Fsync::Always,
            "no" => Fsync::No,
            _ => Fsync::EverySec,
        }
    }

    fn from_u8(n: u8) -> Fsync {
        match n {
            0 => Fsync::Always,
            2 => Fsync::No,
            _ => Fsync::EverySec,
        }
    }
}

thread_local! {
    /// The log offset after the last effects this thread recorded (0: none since taken).
    static RECORDED: Cell<u64> = const { Cell::new(0) };
}

/// The log offset after the effects the calling thread recorded since the last call (0 if
/// none): what a connection must see synced, under `always`, before it replies.
pub fn take_recorded() -> u64 {
    RECORDED.with(|r| r.replace(0))
}

/// One incremental file being appended to.
#[derive(Debug)]
struct Incremental {
    file: Arc<File>,
    /// Encoded effects not yet written to the file.
    pending: Vec<u8>,
    /// The database the file's last command selected.
    db: Option<usize>,
}

impl Incremental {
    fn create(path: &Path) -> Result<Incremental> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        Ok(Incremental {
            file: Arc::new(file),
            pending: Vec::new(),
            db: None,
        })
    }
}

/// The open log.
#[derive(Debug)]
struct Log {
    dir: PathBuf,
    /// `appendfilename`: the files' common prefix.
    name: String,
    manifest: Manifest,
    current: Incremental,
    /// During a rewrite: the new incremental file, and the first epoch whose effects go there
    /// (`u64::MAX` until the snapshot has one).
    next: Option<(u64, Incremental)>,
    /// The highest file number handed out, in the manifest or not yet (a full sync's base is
    /// written before it is named there).
    last_seq: u64,
    /// Counts the bases installed from full syncs: a rewrite that began before one has a base
    /// of data that no longer exists, and is dropped.
    generation: u64,
}

impl Log {
    /// A file number no other file of this log has or will have.
    fn take_seq(&mut self) -> u64 {
        let in_manifest = self
            .manifest
            .base
            .iter()
            .chain(&self.manifest.incrementals)
            .map(|f| f.seq)
            .max()
            .unwrap_or(0);
        self.last_seq = self.last_seq.max(in_manifest) + 1;
        self.last_seq
    }

    /// A file of `kind` with a number of its own, named after the log.
    fn new_file(&mut self, kind: FileKind) -> LogFile {
        let seq = self.take_seq();
        let name = match kind {
            FileKind::Base => aof::base_name(&self.name, seq),
            FileKind::Incremental => aof::incremental_name(&self.name, seq),
        };
        LogFile { name, seq, kind }
    }
}

/// The append-only file's state, and the engine's effect sink while it is on.
#[derive(Debug)]
pub struct Aof {
    log: Mutex<Option<Log>>,
    /// Held while pending bytes are taken and written, so batches reach the files in the
    /// order they were taken (connections and the writer thread both write).
    io: Mutex<()>,
    /// Wakes the writer thread.
    wake: Condvar,
    /// Bytes of effects recorded since the start (all files): a position in the log.
    recorded: AtomicU64,
    /// The position up to which the log is written and synced as `appendfsync` asks.
    synced: tokio::sync::watch::Sender<u64>,
    policy: AtomicU8,
    /// A rewrite is running (`aof_rewrite_in_progress`).
    rewriting: AtomicBool,
    /// BGREWRITEAOF came while a background save ran, or inside a transaction: the cron
    /// starts the rewrite when it can (`aof_rewrite_scheduled`).
    scheduled: AtomicBool,
    /// Why the last write (or sync) failed, if it did (`aof_last_write_status`).
    write_error: Mutex<Option<String>>,
    /// Whether `write_error` is set.
    write_failing: AtomicBool,
    /// Whether the last rewrite succeeded (`aof_last_bgrewrite_status`).
    last_rewrite_ok: AtomicBool,
    /// Rewrites done (`aof_rewrites`).
    rewrites: AtomicU64,
    /// Failed rewrites since the last one that succeeded.
    consecutive_failures: AtomicU64,
    /// When the running rewrite began.
    rewrite_started: Mutex<Option<Instant>>,
    /// Seconds the last rewrite took, -1 before any.
    last_rewrite_secs: std::sync::atomic::AtomicI64,
    /// The extra memory the last rewrite's snapshot held at most (`aof_last_cow_size`).
    last_cow_size: AtomicU64,
    /// A full sync's snapshot written out as the next base ([`prepare_base`]), and its size,
    /// until [`install_base`] names it in the manifest.
    prepared: Mutex<Option<(LogFile, u64)>>,
    /// The log's size after the last rewrite, for `auto-aof-rewrite-percentage`.
    base_size: AtomicU64,
    /// The log's size now (`aof_current_size`).
    size: AtomicU64,
}

impl Default for Aof {
    fn default() -> Aof {
        Aof {
            log: Mutex::new(None),
            io: Mutex::new(()),
            wake: Condvar::new(),
            recorded: AtomicU64::new(0),
            synced: tokio::sync::watch::channel(0).0,
            policy: AtomicU8::new(Fsync::EverySec as u8),
            rewriting: AtomicBool::new(false),
            scheduled: AtomicBool::new(false),
            write_error: Mutex::new(None),
            write_failing: AtomicBool::new(false),
            last_rewrite_ok: AtomicBool::new(true),
            rewrites: AtomicU64::new(0),
            consecutive_failures: AtomicU64::new(0),
            rewrite_started: Mutex::new(None),
            last_rewrite_secs: std::sync::atomic::AtomicI64::new(-1),
            last_cow_size: AtomicU64::new(0),
            prepared: Mutex::new(None),
            base_size: AtomicU64::new(0),
            size: AtomicU64::new(0),
        }
    }
}

impl EffectSink for Aof {
    fn record(&self, epoch: u64, group: &[Effect]) {
        let mut log = self.log.lock();
        let Some(log) = log.as_mut() else {
            return;
        };
        let target = match &mut log.next {
            Some((from, next)) if epoch >= *from => next,
            _ => &mut log.current,
        };
        let position = self.append(target, |out, db| aof::encode_group(out, db, group));
        RECORDED.with(|r| r.set(position));
    }
}

impl Aof {
    /// Whether the log is on.
    pub fn is_on(&self) -> bool {
        self.log.lock().is_some()
    }

    /// Logs a stream mark (`kv_persist::aof::encode_stream_mark`): a replica's data so far
    /// is its master's stream `id` up to `offset`, in database `db`. Called by the replication
    /// link after each message it applied, so a replica restarted from its log continues from
    /// there. During a rewrite it goes where the effects of the message went: to the new
    /// file once the snapshot's instant has passed (the old file's effects before it are in
    /// the new base, which names its own position), to the old one before.
    pub fn mark_stream(&self, id: &str, offset: u64, db: usize) {
        let mut log = self.log.lock();
        let Some(log) = log.as_mut() else {
            return;
        };
        let target = match &mut log.next {
            Some((from, next)) if *from != u64::MAX => next,
            _ => &mut log.current,
        };
        self.append(target, |out, _| {
            aof::encode_stream_mark(out, id, offset, db);
        });
    }

    /// Encodes into `target`'s buffer (called with the log's mutex held) and counts the bytes
    /// in the log's position, which it returns.
    fn append(
        &self,
        target: &mut Incremental,
        encode: impl FnOnce(&mut Vec<u8>, &mut Option<usize>),
    ) -> u64 {
        let before = target.pending.len();
        encode(&mut target.pending, &mut target.db);
        let added = (target.pending.len() - before) as u64;
        let position = self.recorded.fetch_add(added, Ordering::SeqCst) + added;
        // Under `always` the writer thread writes and syncs; it sleeps only on an empty
        // buffer (checked under this mutex), so only the first bytes after it drained need
        // to wake it. Otherwise connections write what they logged themselves
        // ([`Aof::write_pending`]), with no thread switch per command.
        if before == 0 && self.policy() == Fsync::Always {
            self.wake.notify_one();
        }
        position
    }

    /// Whether a rewrite is running.
    pub fn is_rewriting(&self) -> bool {
        self.rewriting.load(Ordering::Relaxed)
    }

    /// Whether the log has grown enough since its last rewrite for an automatic one
    /// (`auto-aof-rewrite-percentage` over the base, once past `auto-aof-rewrite-min-size`).
    pub fn rewrite_due(&self, config: &crate::config::Config) -> bool {
        let percentage = config.int("auto-aof-rewrite-percentage").max(0) as u64;
        if percentage == 0 || !self.is_on() || self.is_rewriting() {
            return false;
        }
        let size = self.size.load(Ordering::Relaxed);
        let base = self.base_size.load(Ordering::Relaxed).max(1);
        size >= config.int("auto-aof-rewrite-min-size").max(0) as u64
            && size.saturating_sub(base) * 100 / base >= percentage
    }

    /// Whether a rewrite waits to start.
    pub fn rewrite_scheduled(&self) -> bool {
        self.scheduled.load(Ordering::Relaxed)
    }

    /// Marks a rewrite as waiting to start (or no longer waiting).
    pub fn schedule_rewrite(&self, scheduled: bool) {
        self.scheduled.store(scheduled, Ordering::Relaxed);
    }

    /// Sets `appendfsync`.
    pub fn set_policy(&self, policy: Fsync) {
        self.policy.store(policy as u8, Ordering::Relaxed);
    }

    fn policy(&self) -> Fsync {
        Fsync::from_u8(self.policy.load(Ordering::Relaxed))
    }

    /// Whether `appendfsync always` is in force: the writer thread then writes and syncs.
    pub fn syncs_every_write(&self) -> bool {
        self.policy() == Fsync::Always
    }

    /// Writes what is pending to the files, syncing them if `sync`; whether it all went well.
    /// Under `everysec` and `no` a connection calls it before it sends replies to writes, as
    /// Redis writes its buffer before it replies: a write acknowledged is in the OS's hands.
    ///
    /// Bytes a failed write did not get out stay pending, ahead of anything logged since, and
    /// go out on the next call: a full or failing disk delays the log but never leaves a hole
    /// in it. While writes fail, write commands are refused (`-MISCONF`, see
    /// [`Aof::write_error`]) and, under `always`, the writes waiting to be acknowledged wait
    /// until the disk takes them.
    pub fn write_pending(&self, sync: bool) -> bool {
        let _io = self.io.lock();
        let (work, position) = {
            let mut log = self.log.lock();
            let position = self.recorded.load(Ordering::SeqCst);
            let Some(log) = log.as_mut() else {
                return true;
            };
            let mut work = vec![(
                Arc::clone(&log.current.file),
                std::mem::take(&mut log.current.pending),
            )];
            if let Some((_, next)) = &mut log.next {
                work.push((Arc::clone(&next.file), std::mem::take(&mut next.pending)));
            }
            (work, position)
        };
        let mut error = None;
        let mut bytes_written = 0u64;
        let mut work = work;
        for (file, bytes) in &mut work {
            let mut handle: &File = file;
            let (written, result) = write_some(&mut handle, bytes);
            bytes_written += written as u64;
            // What stays in `bytes` is what did not get out.
            bytes.drain(..written);
            let result = result.and_then(|()| if sync { file.sync_data() } else { Ok(()) });
            if let Err(e) = result {
                error.get_or_insert(e);
            }
        }
        self.size.fetch_add(bytes_written, Ordering::Relaxed);
        let ok = error.is_none();
        if let Some(e) = error {
            if let Some(log) = self.log.lock().as_mut() {
                // Back in front of the same file's later bytes. A file a rewrite retired
                // meanwhile is not found: its effects are in the new base already.
                for (file, rest) in work.into_iter().filter(|(_, rest)| !rest.is_empty()) {
                    let target = std::iter::once(&mut log.current)
                        .chain(log.next.as_mut().map(|(_, n)| n))
                        .find(|i| Arc::ptr_eq(&i.file, &file));
                    if let Some(target) = target {
                        let later = std::mem::replace(&mut target.pending, rest);
                        target.pending.extend_from_slice(&later);
                    }
                }
            }
            if self.set_write_error(Some(describe(&e))).is_none() {
                tracing::warn!("Error writing to the AOF file: {}", describe(&e));
            }
        } else if self.write_failing.load(Ordering::Relaxed) && self.set_write_error(None).is_some()
        {
            tracing::warn!("AOF write error looks solved, Redis can write again.");
        }
        if ok {
            // `always` counts a position durable once synced; the others once written.
            if sync || self.policy() != Fsync::Always {
                self.advance_synced(position);
            }
        }
        ok
    }

    /// Marks the log durable up to `position`, waking the connections waiting for it.
    fn advance_synced(&self, position: u64) {
        self.synced.send_if_modified(|at| {
            let moved = position > *at;
            *at = (*at).max(position);
            moved
        });
    }

    /// The log position after everything recorded so far.
    pub fn position(&self) -> u64 {
        self.recorded.load(Ordering::SeqCst)
    }

    /// Why writing the log last failed, while it fails (as `strerror` words it): Redis then
    /// refuses writes with `-MISCONF Errors writing to the AOF file: ...`.
    pub fn write_error(&self) -> Option<String> {
        // Every command asks: a relaxed load, not the mutex, while all is well.
        if !self.write_failing.load(Ordering::Relaxed) {
            return None;
        }
        self.write_error.lock().clone()
    }

    /// Sets or clears the write error (with the flag [`Aof::write_error`] reads first).
    fn set_write_error(&self, error: Option<String>) -> Option<String> {
        let mut last = self.write_error.lock();
        self.write_failing.store(error.is_some(), Ordering::Relaxed);
        std::mem::replace(&mut *last, error)
    }

    /// Under `always`, waits until the log is synced up to `position` (a value of
    /// [`take_recorded`]); at once otherwise.
    pub async fn durable(&self, position: u64) {
        if position == 0 || self.policy() != Fsync::Always {
            return;
        }
        let mut synced = self.synced.subscribe();
        let _ = synced.wait_for(|&at| at >= position).await;
    }

    /// INFO persistence's AOF fields, up to `aof_last_cow_size`.
    pub fn info(&self, field: &mut dyn FnMut(&str, String)) {
        use crate::persistence::count;
        let flag = |b: bool| if b { "ok" } else { "err" }.to_string();
        field("aof_enabled", u8::from(self.is_on()).to_string());
        field(
            "aof_rewrite_in_progress",
            u8::from(self.rewriting.load(Ordering::Relaxed)).to_string(),
        );
        field(
            "aof_rewrite_scheduled",
            u8::from(self.rewrite_scheduled()).to_string(),
        );
        field(
            "aof_last_rewrite_time_sec",
            self.last_rewrite_secs.load(Ordering::Relaxed).to_string(),
        );
        let current = match *self.rewrite_started.lock() {
            Some(started) => started.elapsed().as_secs() as i64,
            None => -1,
        };
        field("aof_current_rewrite_time_sec", current.to_string());
        field(
            "aof_last_bgrewrite_status",
            flag(self.last_rewrite_ok.load(Ordering::Relaxed)),
        );
        field("aof_rewrites", count(&self.rewrites));
        field(
            "aof_rewrites_consecutive_failures",
            self.consecutive_failures
                .load(Ordering::Relaxed)
                .to_string(),
        );
        field("aof_last_write_status", flag(self.write_error().is_none()));
        field("aof_last_cow_size", count(&self.last_cow_size));
    }

    /// Bytes recorded and not yet synced to the file (INFO's `aof_buffer_length`, MEMORY
    /// STATS' `aof.buffer`); 0 while the log is off.
    pub fn buffer_length(&self) -> u64 {
        if !self.is_on() {
            return 0;
        }
        self.recorded
            .load(Ordering::Relaxed)
            .saturating_sub(*self.synced.borrow())
    }

    /// INFO persistence's AOF sizes, shown while the log is on (after the module fields, as
    /// in Redis).
    pub fn info_sizes(&self, field: &mut dyn FnMut(&str, String)) {
        use crate::persistence::count;
        if !self.is_on() {
            return;
        }
        field("aof_current_size", count(&self.size));
        field("aof_base_size", count(&self.base_size));
        field(
            "aof_pending_rewrite",
            u8::from(self.rewrite_scheduled()).to_string(),
        );
        field("aof_buffer_length", self.buffer_length().to_string());
        // The writer thread syncs itself; no sync is ever queued or put off.
        field("aof_pending_bio_fsync", "0".into());
        field("aof_delayed_fsync", "0".into());
    }
}

/// Writes as much of `bytes` as `out` takes: how many went out, and the error that stopped
/// the rest (interrupted writes are retried; a write that takes nothing is an error).
fn write_some(out: &mut impl Write, bytes: &[u8]) -> (usize, std::io::Result<()>) {
    let mut written = 0;
    while written < bytes.len() {
        match out.write(&bytes[written..]) {
            Ok(0) => return (written, Err(std::io::ErrorKind::WriteZero.into())),
            Ok(n) => written += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return (written, Err(e)),
        }
    }
    (written, Ok(()))
}

/// An I/O error in `strerror`'s words, as Redis reports it ("No space left on device").
fn describe(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.find(" (os error ") {
        Some(end) => text[..end].to_string(),
        None => text,
    }
}

/// The log's directory: `dir` joined with `appenddirname`.
pub fn log_dir(shared: &Shared) -> PathBuf {
    let dir = shared.config.get("dir");
    let name = shared.config.get("appenddirname");
    if dir.is_empty() {
        PathBuf::from(name)
    } else {
        PathBuf::from(dir).join(name)
    }
}

/// Writes `manifest` into `dir` under `name`'s manifest name: to a temporary file, synced and
/// renamed into place, then the directory synced.
fn write_manifest(dir: &Path, name: &str, manifest: &Manifest) -> Result<()> {
    let path = dir.join(aof::manifest_name(name));
    let temp = dir.join(format!("temp-{}", aof::manifest_name(name)));
    let mut file =
        File::create(&temp).with_context(|| format!("cannot write {}", temp.display()))?;
    file.write_all(manifest.format().as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temp, &path)?;
    File::open(dir).and_then(|d| d.sync_all())?;
    Ok(())
}

/// Deletes the temporary files a server killed during a rewrite (its new base being written)
/// or a manifest update left in the log's directory: no manifest names them, so nothing reads
/// them, and a base is as large as a snapshot. They are named `temp-...` after the log's name.
/// Called at start only, before anything of this process writes there.
pub fn remove_leftovers(shared: &Shared) {
    let (dir, name) = (log_dir(shared), shared.config.get("appendfilename"));
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let file_name = file_name.to_string_lossy();
        if file_name.starts_with("temp-") && file_name.contains(name.as_str()) {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => tracing::info!("Removed the leftover temporary file {file_name}"),
                Err(e) => tracing::warn!("cannot remove the leftover file {file_name}: {e}"),
            }
        }
    }
}

/// Reads the manifest in `dir`, if there is one.
pub fn read_manifest(dir: &Path, name: &str) -> Result<Option<Manifest>> {
    let path = dir.join(aof::manifest_name(name));
    match std::fs::read_to_string(&path) {
        Ok(text) => Manifest::parse(&text)
            .map(Some)
            .with_context(|| format!("in {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Opens the log for appending, creating the directory and a manifest with one empty
/// incremental file if there is none, and installs it as the engine's effect sink.
pub fn open(shared: &Arc<Shared>) -> Result<()> {
    let dir = log_dir(shared);
    let name = shared.config.get("appendfilename");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut manifest = read_manifest(&dir, &name)?.unwrap_or_default();
    if manifest.current().is_none() {
        let seq = manifest
            .incrementals
            .iter()
            .map(|f| f.seq)
            .max()
            .unwrap_or(0)
            + 1;
        manifest.incrementals.push(LogFile {
            name: aof::incremental_name(&name, seq),
            seq,
            kind: FileKind::Incremental,
        });
        write_manifest(&dir, &name, &manifest)?;
    }
    let current_name = manifest
        .current()
        .map(|f| f.name.clone())
        .unwrap_or_default();
    let current = Incremental::create(&dir.join(&current_name))?;
    let size: u64 = manifest
        .paths(&dir)
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let aof = &shared.aof;
    aof.size.store(size, Ordering::Relaxed);
    aof.set_write_error(None);
    aof.set_policy(Fsync::from_name(&shared.config.get("appendfsync")));
    *aof.log.lock() = Some(Log {
        dir,
        name,
        manifest,
        current,
        next: None,
        last_seq: 0,
        generation: 0,
    });
    shared
        .engine
        .keyspace
        .effects
        .set_sink(Some(Arc::clone(&shared.aof) as Arc<dyn EffectSink>));
    Ok(())
}

/// Stops logging (CONFIG SET appendonly no): what is buffered is written and synced first.
pub fn close(shared: &Shared) {
    // No effect is recorded once the sink is gone, so this writes the last of them.
    shared.engine.keyspace.effects.set_sink(None);
    let aof = &shared.aof;
    aof.write_pending(true);
    aof.log.lock().take();
    // With the log off, nothing is left to wait for (if the disk refused the last bytes,
    // they go with the log, as Redis's buffer does): waiting writes are acknowledged, and
    // writes are no longer refused for the log's sake.
    aof.set_write_error(None);
    aof.advance_synced(aof.position());
}

/// `DEBUG LOADAOF`: writes out and syncs what is logged, then empties the dataset and
/// replays the log from the files on disk, all with every shard held for writing, so no
/// other client's command falls in between or sees the dataset part-way. The replayed
/// commands are not logged again. `Err` before anything was emptied if there is no log on
/// disk; after, if the log cannot be replayed (what was replayed stays).
pub fn load_again(shared: &Shared) -> Result<()> {
    let keyspace = &shared.engine.keyspace;
    let mut locked = keyspace.lock_everything(true);
    // Every write before these locks is in the buffer; none can come after.
    if !shared.aof.write_pending(true) {
        anyhow::bail!("cannot write the AOF before loading it");
    }
    let dir = log_dir(shared);
    let name = shared.config.get("appendfilename");
    let manifest = read_manifest(&dir, &name)?
        .with_context(|| format!("no AOF manifest in {}", dir.display()))?;
    for db in 0..keyspace.databases() {
        drop(locked.clear(db));
    }
    let sink = keyspace.effects.take_sink();
    let result = replay(shared, &manifest, &dir, Some(&mut locked));
    keyspace.effects.set_sink(sink);
    drop(locked);
    let Replayed { keys, commands, .. } = result?;
    tracing::warn!(
        "Append Only File loaded by DEBUG LOADAOF ({keys} keys from the base, {commands} commands)"
    );
    Ok(())
}

/// The writer thread: under `always`, writes and syncs what is recorded as soon as it is;
/// under `everysec`, syncs once a second what connections wrote; under `no`, writes what no
/// connection did (effects of the server's own deletions). Runs until the server stops.
pub fn writer(shared: Arc<Shared>) {
    let aof = &shared.aof;
    let mut last_sync = Instant::now();
    let mut synced_to = 0u64;
    loop {
        if shared.is_shutting_down() && !aof.is_on() {
            return;
        }
        let policy = aof.policy();
        {
            let mut log = aof.log.lock();
            let idle = log.as_ref().is_none_or(|l| {
                l.current.pending.is_empty()
                    && l.next.as_ref().is_none_or(|(_, n)| n.pending.is_empty())
            });
            if idle || policy != Fsync::Always {
                aof.wake.wait_for(&mut log, Duration::from_millis(100));
            }
        }
        let position = aof.recorded.load(Ordering::SeqCst);
        // Only what was recorded since the last good sync needs one: an idle log is not
        // synced (Redis neither), and a sync that failed is retried until one succeeds.
        let unsynced = position > synced_to;
        let sync = match policy {
            Fsync::Always => unsynced,
            Fsync::EverySec => unsynced && last_sync.elapsed() >= Duration::from_secs(1),
            Fsync::No => false,
        };
        let ok = aof.write_pending(sync);
        if ok && sync {
            synced_to = position;
            last_sync = Instant::now();
        }
        if !ok {
            // A failing disk: try again shortly rather than spin (Redis retries once a
            // second; the writes waiting under `always` are acknowledged sooner this way).
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Rewrites the log: a new base from a snapshot and a fresh incremental file (see the module
/// documentation). Runs on the caller's thread.
pub fn rewrite(shared: &Shared) -> Result<()> {
    claim_rewrite(shared)?;
    rewrite_claimed(shared)
}

/// Marks a rewrite as running (INFO's `aof_rewrite_in_progress`), or fails if one is: taken
/// before a background rewrite's thread starts, so that from the reply of BGREWRITEAOF on,
/// whatever must not run during a rewrite (DEBUG LOADAOF, another rewrite) sees it. Follow
/// with [`rewrite_claimed`], or [`release_rewrite`] if the rewrite cannot start.
pub fn claim_rewrite(shared: &Shared) -> Result<()> {
    if shared.aof.rewriting.swap(true, Ordering::SeqCst) {
        anyhow::bail!("Background append only file rewriting already in progress");
    }
    Ok(())
}

/// Gives up a claim taken by [`claim_rewrite`] for a rewrite that never started.
pub fn release_rewrite(shared: &Shared) {
    shared.aof.rewriting.store(false, Ordering::SeqCst);
}

/// [`rewrite`], for a caller that took the claim ([`claim_rewrite`]); releases it.
pub fn rewrite_claimed(shared: &Shared) -> Result<()> {
    let aof = &shared.aof;
    let started = Instant::now();
    *aof.rewrite_started.lock() = Some(started);
    let result = rewrite_now(shared);
    *aof.rewrite_started.lock() = None;
    aof.last_rewrite_secs
        .store(started.elapsed().as_secs() as i64, Ordering::Relaxed);
    aof.rewriting.store(false, Ordering::SeqCst);
    match result {
        // Neither done nor failed: the log was started again from a full sync's snapshot.
        Ok(None) => {
            tracing::info!(
                "Background AOF rewrite dropped: a sync with the master replaced the data"
            );
            Ok(())
        }
        Ok(Some(peak_held)) => {
            aof.last_rewrite_ok.store(true, Ordering::Relaxed);
            aof.rewrites.fetch_add(1, Ordering::Relaxed);
            aof.consecutive_failures.store(0, Ordering::Relaxed);
            aof.last_cow_size.store(peak_held, Ordering::Relaxed);
            tracing::info!("Background AOF rewrite finished successfully");
            Ok(())
        }
        Err(e) => {
            aof.last_rewrite_ok.store(false, Ordering::Relaxed);
            aof.consecutive_failures.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("Background AOF rewrite failed: {e:#}");
            Err(e)
        }
    }
}

/// The body of [`rewrite`]; the most bytes its snapshot held at once, or `None` if a full
/// sync started the log again meanwhile ([`install_base`]).
fn rewrite_now(shared: &Shared) -> Result<Option<u64>> {
    let aof = &shared.aof;
    // 1. A new incremental file, named in the manifest before anything goes to it.
    let (dir, name, seq, generation) = {
        let mut guard = aof.log.lock();
        let log = guard.as_mut().context("the AOF is off")?;
        let incremental = log.new_file(FileKind::Incremental);
        let seq = incremental.seq;
        let next = Incremental::create(&log.dir.join(&incremental.name))?;
        let mut manifest = log.manifest.clone();
        manifest.incrementals.push(incremental);
        write_manifest(&log.dir, &log.name, &manifest)?;
        log.manifest = manifest;
        log.next = Some((u64::MAX, next));
        (log.dir.clone(), log.name.clone(), seq, log.generation)
    };
    // 2. The base: a snapshot; effects of its epoch on go to the new file.
    let base = aof::base_name(&name, seq);
    let options = kv_persist::WriteOptions {
        compress: shared.config.flag("rdbcompression"),
        checksum: shared.config.flag("rdbchecksum"),
    };
    let master = &shared.replication.master;
    let following = master.is_following();
    let saved = loop {
        let route_from = |epoch| {
            if let Some((from, _)) = aof.log.lock().as_mut().and_then(|l| l.next.as_mut()) {
                *from = epoch;
            }
        };
        let path = dir.join(&base);
        let saved = if following {
            // A replica's base names where it stands in its master's stream, read at a quiet
            // instant so it splits the applied stream exactly (as its snapshots do): the log
            // can say where to continue from even before its next stream mark.
            kv_persist::save_to_path_quiet(&shared.engine, &path, options, |epoch| {
                route_from(epoch);
                master.applied_aux()
            })
        } else {
            kv_persist::save_to_path_from(&shared.engine, &path, options, route_from)
        };
        match saved {
            // A BGSAVE is taking its snapshot: one at a time, so wait for it.
            Err(kv_persist::SnapshotError::Busy) => std::thread::sleep(Duration::from_millis(20)),
            other => break other,
        }
    };
    // The files are swapped with `io` held, so no write is between taking pending bytes and
    // putting back what it could not write (see `Aof::write_pending`).
    let _io = aof.io.lock();
    let mut guard = aof.log.lock();
    let log = guard
        .as_mut()
        .context("the AOF was turned off during the rewrite")?;
    if log.generation != generation {
        // A full sync installed its snapshot as the base meanwhile, and this rewrite's files
        // left the manifest with the rest of the old log.
        let _ = std::fs::remove_file(dir.join(&base));
        return Ok(None);
    }
    let saved = match saved {
        Ok(saved) => saved,
        Err(e) => {
            // The new file stays in the manifest after the old ones: replay still works, once
            // the old file has what it still had to write.
            if let Some((_, next)) = log.next.take() {
                let old = std::mem::replace(&mut log.current, next);
                let mut handle: &File = &old.file;
                let (written, result) = write_some(&mut handle, &old.pending);
                if result.is_err() {
                    // A failing disk: keep the writes, at the front of the new file.
                    let later = std::mem::replace(
                        &mut log.current.pending,
                        old.pending[written..].to_vec(),
                    );
                    log.current.pending.extend_from_slice(&later);
                }
            }
            return Err(e.into());
        }
    };
    // 3. Base + new file; the old files go.
    let old = log.manifest.clone();
    let Some((_, next)) = log.next.take() else {
        anyhow::bail!("the rewrite lost its incremental file");
    };
    let manifest = Manifest {
        base: Some(LogFile {
            name: base,
            seq,
            kind: FileKind::Base,
        }),
        incrementals: old.current().cloned().into_iter().collect(),
    };
    write_manifest(&log.dir, &log.name, &manifest)?;
    log.manifest = manifest;
    log.current = next;
    for file in old.base.iter().chain(&old.incrementals) {
        if log.manifest.current().is_none_or(|c| c.name != file.name) {
            let _ = std::fs::remove_file(log.dir.join(&file.name));
        }
    }
    aof.base_size.store(saved.bytes, Ordering::Relaxed);
    aof.size.store(saved.bytes, Ordering::Relaxed);
    Ok(Some(saved.peak_held))
}

/// Writes a full sync's `snapshot` (kv's snapshot format, as a base is) into the log's
/// directory as its next base, synced, before the dataset is replaced: the slow part of
/// starting the log again, done without any lock. [`install_base`] then names it.
pub fn prepare_base(shared: &Shared, snapshot: &[u8]) -> Result<()> {
    let aof = &shared.aof;
    let (dir, file) = {
        let mut guard = aof.log.lock();
        let log = guard.as_mut().context("the AOF is off")?;
        (log.dir.clone(), log.new_file(FileKind::Base))
    };
    let path = dir.join(&file.name);
    let written = File::create(&path)
        .and_then(|mut f| f.write_all(snapshot).and_then(|()| f.sync_all()))
        .with_context(|| format!("cannot write {}", path.display()));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&path);
        return Err(e);
    }
    if let Some((stale, _)) = aof.prepared.lock().replace((file, snapshot.len() as u64)) {
        // From a sync whose load failed.
        let _ = std::fs::remove_file(dir.join(stale.name));
    }
    Ok(())
}

/// Starts the log again from the base [`prepare_base`] wrote: the manifest becomes that base
/// and a new empty incremental file, and the old files go. Called with every shard held, right
/// after the snapshot replaced the dataset, so the first write logged after it is the first
/// write on the new data. What was buffered for the old files is dropped (it was the old
/// data's), and a rewrite under way is superseded.
pub fn install_base(shared: &Shared) -> Result<()> {
    let aof = &shared.aof;
    let (base, size) = aof
        .prepared
        .lock()
        .take()
        .context("no base was written for the log")?;
    {
        let _io = aof.io.lock();
        let mut guard = aof.log.lock();
        let log = guard.as_mut().context("the AOF is off")?;
        let incremental = log.new_file(FileKind::Incremental);
        let current = Incremental::create(&log.dir.join(&incremental.name))?;
        let manifest = Manifest {
            base: Some(base),
            incrementals: vec![incremental],
        };
        write_manifest(&log.dir, &log.name, &manifest)?;
        let old = std::mem::replace(&mut log.manifest, manifest);
        log.current = current;
        log.next = None;
        log.generation += 1;
        for file in old.base.iter().chain(&old.incrementals) {
            let _ = std::fs::remove_file(log.dir.join(&file.name));
        }
    }
    aof.base_size.store(size, Ordering::Relaxed);
    aof.size.store(size, Ordering::Relaxed);
    // Writes waiting for the dropped bytes (`appendfsync always`) wait no more.
    aof.advance_synced(aof.position());
    Ok(())
}

/// Replays the log in `dir` into the engine (at start, before clients may write): the base,
/// then each incremental file; a cut-short tail of the last one is dropped (and cut off the
/// file) when `aof-load-truncated` allows it.
pub fn load(shared: &Shared, manifest: &Manifest, dir: &Path) -> Result<Replayed> {
    replay(shared, manifest, dir, None)
}

/// What a replay of the log did.
#[derive(Debug, Default)]
pub struct Replayed {
    /// Keys loaded from the base.
    pub keys: u64,
    /// Commands replayed from the incremental files.
    pub commands: u64,
    /// Where the data stands in a master's replication stream, if the log says (see
    /// `kv_persist::aof`'s stream marks): ID, offset, database.
    pub stream_position: Option<(String, u64, usize)>,
}

/// Replays the log described by `manifest`: the base, then the incremental files' commands.
/// With `held` (every shard, for writing) the commands run under those locks, so that no
/// other client sees the dataset part-way; otherwise each takes its own.
fn replay(
    shared: &Shared,
    manifest: &Manifest,
    dir: &Path,
    mut held: Option<&mut kv_engine::Locked<'_>>,
) -> Result<Replayed> {
    let engine = &shared.engine;
    let now = kv_engine::now_ms();
    let mut keys = 0;
    // The latest stream position named so far; none once something is logged after it.
    let mut stream_position = None;
    if let Some(base) = &manifest.base {
        let path = dir.join(&base.name);
        let stats = match held.as_deref_mut() {
            Some(locked) => File::open(&path)
                .map_err(|source| kv_persist::SnapshotError::Io { offset: 0, source })
                .and_then(|file| {
                    let input = std::io::BufReader::with_capacity(256 << 10, file);
                    kv_persist::load_held(engine, locked, input, now)
                }),
            None => kv_persist::load_path(engine, &path, now),
        }
        .with_context(|| format!("cannot load the AOF base {}", path.display()))?;
        keys = stats.loaded;
        stream_position = kv_replication::master::aux_position(&stats.aux);
    }
    let allow_truncated = shared.config.flag("aof-load-truncated");
    let mut commands = 0;
    let last = manifest.incrementals.len();
    for (i, file) in manifest.incrementals.iter().enumerate() {
        let path = dir.join(&file.name);
        let input = match File::open(&path) {
            Ok(input) => input,
            // Created in the manifest, never written: nothing to replay.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && i + 1 == last => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot open {}", path.display())),
        };
        let mut reader = aof::IncrReader::new(
            std::io::BufReader::with_capacity(256 << 10, input),
            allow_truncated && i + 1 == last,
        );
        let mut session = kv_engine::Session::default();
        let mut reply = kv_engine::Reply::new(kv_engine::Protocol::Resp2);
        let mut run = |args: &[bytes::Bytes], session: &mut kv_engine::Session| -> Result<()> {
            let args = &kv_engine::arg_slices(args)[..];
            reply.buf.clear();
            let Ok((spec, skip)) = engine.lookup(args) else {
                anyhow::bail!("unknown command '{}'", String::from_utf8_lossy(args[0]));
            };
            match held.as_deref_mut() {
                Some(locked) => {
                    let now = kv_engine::now_ms();
                    engine.run_locked(spec, skip, session, args, &mut reply, now, locked);
                }
                None => {
                    let _ = engine.run(spec, skip, session, args, &mut reply);
                }
            }
            engine.stats.note_unread_reply(&reply);
            Ok(())
        };
        loop {
            let item = reader
                .next_item()
                .with_context(|| format!("in {}", path.display()))?;
            let Some((offset, item)) = item else {
                break;
            };
            if let aof::Item::Command(args) = &item {
                if let Some(position) = aof::stream_mark(args) {
                    // The base may name a later position than the marks written before its
                    // rewrite's instant, which went to the file after it: the later one holds.
                    let later = |(_, at, _): &(String, u64, usize)| {
                        stream_position.as_ref().is_none_or(|(_, was, _)| at >= was)
                    };
                    stream_position = match position {
                        Some(position) if !later(&position) => stream_position,
                        // A mark that does not read leaves the position unknown.
                        position => position,
                    };
                    continue;
                }
            }
            // Logged after the last mark: the data is past the position it names.
            stream_position = None;
            let replayed = match &item {
                aof::Item::Command(args) => run(args, &mut session),
                aof::Item::Transaction(queued) => {
                    queued.iter().try_for_each(|a| run(a, &mut session))
                }
            };
            replayed.with_context(|| format!("in {} at offset {offset}", path.display()))?;
            commands += 1;
        }
        if let Some(at) = reader.truncated_at() {
            let length = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(at);
            tracing::warn!(
                "!!! Warning: short read while loading the AOF {}: dropping the last {} bytes (from offset {at}), a command cut short !!!",
                path.display(),
                length.saturating_sub(at)
            );
            OpenOptions::new()
                .write(true)
                .open(&path)
                .and_then(|f| f.set_len(at))
                .with_context(|| format!("cannot truncate {}", path.display()))?;
        }
    }
    Ok(Replayed {
        keys,
        commands,
        stream_position,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A disk that takes `room` more bytes, then is full.
    struct Disk {
        taken: Vec<u8>,
        room: usize,
    }

    impl Write for Disk {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            if self.room == 0 {
                return Err(std::io::Error::from_raw_os_error(28));
            }
            // Short writes, as a nearly full disk gives them.
            let n = bytes.len().min(self.room).min(4);
            self.taken.extend_from_slice(&bytes[..n]);
            self.room -= n;
            Ok(n)
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_full_disk_takes_a_prefix_and_says_why() {
        let mut disk = Disk {
            taken: Vec::new(),
            room: 10,
        };
        let (written, result) = write_some(&mut disk, b"0123456789abcdef");
        assert_eq!(written, 10);
        assert_eq!(disk.taken, b"0123456789");
        assert_eq!(describe(&result.unwrap_err()), "No space left on device");
        disk.room = 100;
        let (written, result) = write_some(&mut disk, b"abcdef");
        assert_eq!((written, result.is_ok()), (6, true));
        assert_eq!(disk.taken, b"0123456789abcdef");
    }
}
