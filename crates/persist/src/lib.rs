//! # kv-persist
//!
//! Persistence for kv: snapshot files written one key at a time, and (to come) the append-only
//! file that logs the effect of every write so a restart replays it deterministically.
//!
//! - [`snapshot`]: the snapshot file format, its streaming writer and its checking reader.
//! - [`save`], [`load`], [`save_to_path`]: an engine's whole dataset to and from that format.
//!
//! **Architecture invariant:** persistence reads and writes the engine's values through the
//! engine's public API and knows nothing of client connections, the server or replication. It
//! may depend on `kv-engine` and `kv-resp`, never on `kv-server` or `kv-replication`;
//! `cargo xtask ci` checks this.
#![deny(missing_docs)]

pub mod aof;
pub mod snapshot;

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use kv_engine::{CommandError, Engine, EngineConfig, Entry, LockPlan, Locked, ShardSink};

pub use snapshot::{
    Aux, LoadedKey, Piece, SnapshotError, SnapshotReader, SnapshotWriter, WriteOptions,
};

/// How many bytes of frames a thread encodes before it appends them to the file: what one
/// thread handing a shard over holds at most (beyond one value's encoding).
const PIECE_BYTES: usize = 256 << 10;

/// What a save wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SaveStats {
    /// Keys written.
    pub keys: u64,
    /// Bytes written.
    pub bytes: u64,
    /// The most bytes of encoded keys held at once before being written: the save's extra
    /// memory (Redis's `rdb_last_cow_size`, for a save that copies no pages).
    pub peak_held: u64,
}

/// Writes every database of `engine` to `out` as one snapshot of this instant, while other
/// threads go on running commands (see `kv_engine::keyspace`'s snapshot module: a shard is
/// written by the snapshot's walk, or by the first command to write to it after the instant,
/// before it writes). Keys already expired at the instant are left out. Returns `out` and
/// what was written; [`SnapshotError::Busy`] if another snapshot of `engine` is running.
pub fn save<W: Write + Send + 'static>(
    engine: &Engine,
    out: W,
    options: WriteOptions,
) -> Result<(W, SaveStats), SnapshotError> {
    save_from(engine, out, options, |_| {})
}

/// [`save`], telling `starting` the snapshot's epoch before any command can read it (see
/// `Keyspace::snapshot_from`): the effects of commands whose locks read an earlier epoch are
/// in the snapshot, those of this epoch or later are not.
pub fn save_from<W: Write + Send + 'static>(
    engine: &Engine,
    out: W,
    options: WriteOptions,
    starting: impl FnOnce(u64),
) -> Result<(W, SaveStats), SnapshotError> {
    save_with(engine, out, options, false, |epoch| {
        starting(epoch);
        Aux::new()
    })
}

/// [`save`] at a quiet instant (see `Keyspace::snapshot_quiet`): `at_instant` runs while no
/// command is running, so what it reads of the effects recorded so far (a replication
/// stream's offset) splits them exactly into those in the snapshot and those after it. What it
/// returns is written into the snapshot as its [`Aux`] facts.
pub fn save_quiet<W: Write + Send + 'static>(
    engine: &Engine,
    out: W,
    options: WriteOptions,
    at_instant: impl FnOnce(u64) -> Aux,
) -> Result<(W, SaveStats), SnapshotError> {
    save_with(engine, out, options, true, at_instant)
}

/// [`save_from`] or [`save_quiet`].
fn save_with<W: Write + Send + 'static>(
    engine: &Engine,
    out: W,
    options: WriteOptions,
    quiet: bool,
    starting: impl FnOnce(u64) -> Aux,
) -> Result<(W, SaveStats), SnapshotError> {
    let sink = Arc::new(FileSink::new(SnapshotWriter::new(out, options)?, options));
    let shard_sink = Arc::clone(&sink) as Arc<dyn ShardSink>;
    let mut aux = Aux::new();
    let at_instant = |epoch| aux = starting(epoch);
    let started = if quiet {
        engine.keyspace.snapshot_quiet(shard_sink, at_instant)
    } else {
        engine.keyspace.snapshot_from(shard_sink, at_instant)
    };
    started.map_err(|_| SnapshotError::Busy)?;
    sink.drain_slots();
    let state = std::mem::replace(&mut *sink.lock(), SinkState::Finished);
    match state {
        SinkState::Writing(mut writer) => {
            writer.set_aux(aux);
            let bytes = writer.written();
            let (out, keys) = writer.finish()?;
            let peak_held = sink.held_bytes().1;
            // The end record and trailer: a few bytes more than `written` said.
            Ok((
                out,
                SaveStats {
                    keys,
                    bytes,
                    peak_held,
                },
            ))
        }
        SinkState::Failed(error) => Err(error),
        SinkState::Finished => Err(SnapshotError::Busy),
    }
}

/// The shard sink of [`save`]: encodes each shard it is handed into pieces and appends them
/// to one file.
struct FileSink<W: Write> {
    state: Mutex<SinkState<W>>,
    /// Keys writers hand over one at a time, gathered into pieces per thread (a thread picks
    /// its slot by a number of its own), so a key costs its encoding, not an append.
    slots: Box<[Mutex<Option<Piece>>]>,
    /// The walk's keys, gathered across its runs (many short runs per shard would otherwise
    /// each make a small piece, which compresses worse).
    walked: Mutex<Option<Piece>>,
    /// Bytes of keys encoded and not yet appended (the snapshot's extra memory, INFO's
    /// `current_cow_size`), and the most there have been.
    held: AtomicI64,
    peak: AtomicU64,
    /// Set with `SinkState::Failed`, so the threads handing shards over stop encoding.
    failed: AtomicBool,
    /// The snapshot's instant (Unix ms): keys expired by then are left out.
    instant: u64,
    options: WriteOptions,
}

enum SinkState<W: Write> {
    Writing(SnapshotWriter<W>),
    Failed(SnapshotError),
    Finished,
}

/// Slots of [`FileSink::slots`]: at most this many pieces of gathered keys at once.
const SLOTS: usize = 16;

impl<W: Write> FileSink<W> {
    fn new(writer: SnapshotWriter<W>, options: WriteOptions) -> FileSink<W> {
        FileSink {
            state: Mutex::new(SinkState::Writing(writer)),
            slots: (0..SLOTS).map(|_| Mutex::new(None)).collect(),
            walked: Mutex::new(None),
            held: AtomicI64::new(0),
            peak: AtomicU64::new(0),
            failed: AtomicBool::new(false),
            instant: kv_engine::now_ms(),
            options,
        }
    }

    /// This thread's slot.
    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Piece>> {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        thread_local! {
            static NUMBER: usize = NEXT.fetch_add(1, Ordering::Relaxed);
        }
        let number = NUMBER.with(|n| *n);
        self.slots[number % SLOTS]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends what the slots still hold: once every key has been handed over.
    fn drain_slots(&self) {
        for slot in self.slots.iter().chain(std::iter::once(&self.walked)) {
            let piece = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(mut piece) = piece {
                self.append(&mut piece);
            }
        }
    }

    /// Whether `entry` is left out: expired by the snapshot's instant.
    fn left_out(&self, entry: &Entry) -> bool {
        entry.expires_at().is_some_and(|at| at <= self.instant)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SinkState<W>> {
        // A panic while appending leaves a writer no worse than an I/O error would.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn fail(&self, error: SnapshotError) {
        let mut state = self.lock();
        if matches!(*state, SinkState::Writing(_)) {
            *state = SinkState::Failed(error);
            self.failed.store(true, Ordering::Relaxed);
        }
    }

    /// Compresses `piece` on the calling thread, then appends it under the file's lock.
    fn append(&self, piece: &mut Piece) {
        self.held
            .fetch_sub(piece.keys_len() as i64, Ordering::Relaxed);
        if piece.is_empty() {
            return;
        }
        piece.seal(self.options);
        let mut state = self.lock();
        if let SinkState::Writing(writer) = &mut *state {
            if let Err(error) = writer.append(piece) {
                *state = SinkState::Failed(error);
                self.failed.store(true, Ordering::Relaxed);
            }
        }
    }
}

impl<W: Write + Send> ShardSink for FileSink<W> {
    fn save_shard(&self, db: usize, keys: &mut dyn Iterator<Item = (&[u8], &Entry)>) {
        if self.failed.load(Ordering::Relaxed) {
            return;
        }
        let mut piece = None;
        self.gather(&mut piece, db, keys);
        if let Some(mut piece) = piece {
            self.append(&mut piece);
        }
    }

    fn save_key(&self, db: usize, key: &[u8], entry: &Entry) {
        if self.failed.load(Ordering::Relaxed) || self.left_out(entry) {
            return;
        }
        self.gather(&mut self.slot(), db, &mut std::iter::once((key, entry)));
    }

    fn held_bytes(&self) -> (u64, u64) {
        let held = self.held.load(Ordering::Relaxed).max(0) as u64;
        (held, self.peak.load(Ordering::Relaxed))
    }

    fn save_run(&self, db: usize, keys: &mut dyn Iterator<Item = (&[u8], &Entry)>) {
        if self.failed.load(Ordering::Relaxed) {
            return;
        }
        let mut walked = self.walked.lock().unwrap_or_else(PoisonError::into_inner);
        self.gather(&mut walked, db, keys);
    }
}

impl<W: Write> FileSink<W> {
    /// Adds `keys` (of `db`) to the piece gathering in `slot`, appending it whenever it fills
    /// or the database changes.
    fn gather(
        &self,
        slot: &mut Option<Piece>,
        db: usize,
        keys: &mut dyn Iterator<Item = (&[u8], &Entry)>,
    ) {
        let piece = match slot {
            Some(piece) => piece,
            None => match Piece::new(db) {
                Ok(piece) => slot.insert(piece),
                Err(error) => return self.fail(error),
            },
        };
        if piece.db() != db {
            self.append(piece);
            if let Err(error) = piece.restart(db) {
                return self.fail(error);
            }
        }
        // The piece's bytes not yet counted as held are counted before it is appended and
        // at the end: two atomic updates per call, not per key.
        let mut counted = piece.keys_len();
        for (key, entry) in keys {
            if self.left_out(entry) {
                continue;
            }
            if let Err(error) = piece.key(key, entry) {
                return self.fail(error);
            }
            if piece.len() >= PIECE_BYTES {
                self.hold(piece.keys_len() - counted);
                self.append(piece);
                counted = 0;
            }
        }
        self.hold(piece.keys_len() - counted);
    }

    /// Counts `bytes` more of encoded keys as held until appended.
    fn hold(&self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        let now = self.held.fetch_add(bytes as i64, Ordering::Relaxed) + bytes as i64;
        self.peak.fetch_max(now.max(0) as u64, Ordering::Relaxed);
    }
}

/// Writes a snapshot of `engine` to `path` without ever leaving a partial file there: it goes
/// to a temporary file in the same directory, which is flushed to disk and then renamed over
/// `path` (and the directory synced), so a crash mid-save leaves the previous snapshot whole.
pub fn save_to_path(
    engine: &Engine,
    path: &Path,
    options: WriteOptions,
) -> Result<SaveStats, SnapshotError> {
    save_to_path_from(engine, path, options, |_| {})
}

/// [`save_to_path`] with [`save_from`]'s `starting`.
pub fn save_to_path_from(
    engine: &Engine,
    path: &Path,
    options: WriteOptions,
    starting: impl FnOnce(u64),
) -> Result<SaveStats, SnapshotError> {
    replace_file(path, |out| save_from(engine, out, options, starting))
}

/// [`save_to_path`] at a quiet instant, with [`save_quiet`]'s `at_instant` (whose facts go
/// into the file).
pub fn save_to_path_quiet(
    engine: &Engine,
    path: &Path,
    options: WriteOptions,
    at_instant: impl FnOnce(u64) -> Aux,
) -> Result<SaveStats, SnapshotError> {
    replace_file(path, |out| save_quiet(engine, out, options, at_instant))
}

/// Like [`save_to_path`], from shards the caller already holds (every shard of every
/// database, so the file is complete): for DEBUG RELOAD, which saves, empties and loads
/// under one acquisition so no write can fall between.
pub fn save_held_to_path(
    locked: &Locked<'_>,
    path: &Path,
    options: WriteOptions,
) -> Result<SaveStats, SnapshotError> {
    replace_file(path, |out| {
        let now = kv_engine::now_ms();
        let mut writer = SnapshotWriter::new(out, options)?;
        for db in 0..locked.keyspace().databases() {
            let mut piece = Piece::new(db)?;
            for (key, entry) in locked.iter(db, now) {
                piece.key(key.as_bytes(), entry)?;
                if piece.len() >= PIECE_BYTES {
                    piece.seal(options);
                    writer.append(&mut piece)?;
                }
            }
            piece.seal(options);
            writer.append(&mut piece)?;
        }
        let bytes = writer.written();
        let (out, keys) = writer.finish()?;
        Ok((
            out,
            SaveStats {
                keys,
                bytes,
                peak_held: 0,
            },
        ))
    })
}

/// Numbers the temporary files of saves running at once in one process.
static TEMP_FILES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Runs `write` on a temporary file beside `path`, then syncs it and renames it over `path`
/// (and syncs the directory). On any error the temporary file is removed and `path` is left
/// as it was.
fn replace_file(
    path: &Path,
    write: impl FnOnce(BufWriter<File>) -> Result<(BufWriter<File>, SaveStats), SnapshotError>,
) -> Result<SaveStats, SnapshotError> {
    let io = |source| SnapshotError::Io { offset: 0, source };
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("dump");
    let number = TEMP_FILES.fetch_add(1, Ordering::Relaxed);
    let temp_name = format!("temp-{}-{number}-{name}", std::process::id());
    let temp = dir.map_or_else(|| temp_name.clone().into(), |d| d.join(&temp_name));
    let result = (|| {
        let file = File::create(&temp).map_err(io)?;
        let (out, stats) = write(BufWriter::with_capacity(256 << 10, file))?;
        let file = out.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&temp, path).map_err(io)?;
        if let Some(dir) = dir {
            File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        }
        Ok(stats)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// What [`load`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadStats {
    /// Keys stored.
    pub loaded: u64,
    /// Keys left out because they had expired by `now`.
    pub expired: u64,
    /// The snapshot's facts besides its keys.
    pub aux: Aux,
}

/// Loads the snapshot read from `input` into `engine`, as of `now` (Unix ms): each key is
/// stored (replacing a key of the same name) with its expiry, except those already expired.
/// The whole file is checked, checksum included, but keys are stored as they are read: on an
/// error, load into a fresh engine and discard it.
pub fn load<R: Read>(engine: &Engine, input: R, now: u64) -> Result<LoadStats, SnapshotError> {
    let keyspace = &engine.keyspace;
    load_with(input, now, keyspace.databases(), |loaded| {
        let mut locked = keyspace.lock(LockPlan {
            write: true,
            shards: [(loaded.db, keyspace.shard_of(&loaded.key))]
                .into_iter()
                .collect(),
        });
        store(&mut locked, &engine.config, loaded, now)
    })
}

/// [`load`] into shards of `engine` the caller already holds for writing (every shard of every
/// database): for DEBUG RELOAD.
pub fn load_held<R: Read>(
    engine: &Engine,
    locked: &mut Locked<'_>,
    input: R,
    now: u64,
) -> Result<LoadStats, SnapshotError> {
    let databases = locked.keyspace().databases();
    load_with(input, now, databases, |loaded| {
        store(locked, &engine.config, loaded, now)
    })
}

/// Stores one loaded key through `locked`, which holds its shard for writing, in the form the
/// current thresholds call for (as RESTORE does). A hash whose every field has expired is not
/// stored.
fn store(
    locked: &mut Locked<'_>,
    config: &EngineConfig,
    mut loaded: LoadedKey,
    now: u64,
) -> Result<(), CommandError> {
    if !kv_engine::dump::prepare_loaded(&mut loaded.value, config, now) {
        return Ok(());
    }
    // The expiry goes in with the entry: one table probe per key, not three.
    let entry = Entry::new(loaded.value, now).expiring_at(loaded.expires_at);
    locked.insert(loaded.db, &loaded.key, entry, now)?;
    Ok(())
}

/// Reads every key of the snapshot in `input`, checking it, and hands each one not expired by
/// `now` to `store`.
fn load_with<R: Read>(
    input: R,
    now: u64,
    databases: usize,
    mut store: impl FnMut(LoadedKey) -> Result<(), CommandError>,
) -> Result<LoadStats, SnapshotError> {
    let mut reader = SnapshotReader::new(input)?;
    let mut stats = LoadStats::default();
    while let Some(loaded) = reader.next_key()? {
        let bad = |reason: String| SnapshotError::BadRecord {
            offset: reader.offset(),
            reason,
        };
        if loaded.db >= databases {
            let reason = format!(
                "database {} out of range ({databases} configured)",
                loaded.db
            );
            return Err(bad(reason));
        }
        if loaded.expires_at.is_some_and(|at| at <= now) {
            stats.expired += 1;
            continue;
        }
        store(loaded).map_err(|e| bad(e.to_string()))?;
        stats.loaded += 1;
    }
    stats.aux = reader.aux().clone();
    Ok(stats)
}

/// What [`check`] found in a snapshot file that reads whole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Keys per database, for the databases that have any.
    pub keys_per_db: std::collections::BTreeMap<usize, u64>,
    /// Keys with a TTL.
    pub with_ttl: u64,
    /// Keys whose TTL had passed by `now`.
    pub expired: u64,
    /// The file's length.
    pub bytes: u64,
}

/// Reads and checks every record of the snapshot in `input` (its checksum too) without
/// loading anything: `kv-server --check-snapshot`. The error names the offset of the first
/// fault.
pub fn check<R: Read>(input: R, now: u64) -> Result<CheckReport, SnapshotError> {
    let mut reader = SnapshotReader::new(input)?;
    let mut report = CheckReport::default();
    while let Some(key) = reader.next_key()? {
        *report.keys_per_db.entry(key.db).or_default() += 1;
        if let Some(at) = key.expires_at {
            report.with_ttl += 1;
            report.expired += u64::from(at <= now);
        }
    }
    report.bytes = reader.offset();
    Ok(report)
}

/// Loads the snapshot file at `path` into `engine` (see [`load`]).
pub fn load_path(engine: &Engine, path: &Path, now: u64) -> Result<LoadStats, SnapshotError> {
    let file = File::open(path).map_err(|source| SnapshotError::Io { offset: 0, source })?;
    load(engine, BufReader::new(file), now)
}

/// Whether the snapshot in `bytes` ends with a CRC-64 that matches every byte before it: a
/// check of the whole file for a fraction of [`check`]'s cost (no record is decoded), for a
/// snapshot written with `checksum` on. False for a file without one.
pub fn checksum_ok(bytes: &[u8]) -> bool {
    let Some(split) = bytes.len().checked_sub(8) else {
        return false;
    };
    let (body, stored) = bytes.split_at(split);
    let stored = u64::from_le_bytes(stored.try_into().unwrap_or([0; 8]));
    stored != 0 && kv_engine::dump::crc64(0, body) == stored
}

#[cfg(test)]
mod tests {
    // Test code: a failed unwrap is a failed test.
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::snapshot::{MAGIC, VERSION};

    #[test]
    fn checksum_ok_catches_any_flipped_byte() {
        let engine = Engine::new(2, 4);
        run(&engine, "SET a 1; RPUSH l x y z; HSET h f v");
        let (file, _) = save(&engine, Vec::new(), WriteOptions::default()).unwrap();
        assert!(checksum_ok(&file));
        for at in [0, file.len() / 2, file.len() - 1] {
            let mut bad = file.clone();
            bad[at] ^= 1;
            assert!(!checksum_ok(&bad), "byte {at} flipped");
        }
        let unchecked = WriteOptions {
            checksum: false,
            ..WriteOptions::default()
        };
        let (file, _) = save(&engine, Vec::new(), unchecked).unwrap();
        assert!(!checksum_ok(&file));
        assert!(!checksum_ok(b"short"));
    }
    use kv_engine::{Protocol, Reply, Session};

    /// Runs each `;`-separated command line on `engine` (replies are not looked at: the
    /// dataset is compared afterwards).
    fn run(engine: &Engine, script: &str) {
        let mut session = Session::default();
        for line in script.split(';') {
            let args: Vec<&[u8]> = line.split_whitespace().map(str::as_bytes).collect();
            if args.is_empty() {
                continue;
            }
            let mut reply = Reply::new(Protocol::Resp2);
            engine.execute(&mut session, &args, &mut reply);
            assert!(!reply.buf.starts_with(b"-"), "{line}: {:?}", reply.buf);
        }
    }

    /// One key as the tests compare them: database, key, encoded value, expiry.
    type Stored = (usize, Vec<u8>, Vec<u8>, Option<u64>);

    /// Every key of `engine`, sorted.
    fn dataset(engine: &Engine) -> Vec<Stored> {
        let keyspace = &engine.keyspace;
        let locked = keyspace.lock_everything(false);
        let now = kv_engine::now_ms();
        let mut all = Vec::new();
        for db in 0..keyspace.databases() {
            for (key, entry) in locked.iter(db, now) {
                let mut value = Vec::new();
                kv_engine::dump::encode_value(&entry.value, &mut value);
                all.push((db, key.as_bytes().to_vec(), value, entry.expires_at()));
            }
        }
        all.sort();
        all
    }

    fn engine() -> Engine {
        Engine::new(16, 8)
    }

    /// An engine holding every type, TTLs, a hash with field TTLs, and three databases.
    fn sample() -> Engine {
        let engine = engine();
        run(
            &engine,
            "SET s hello; SET n 12345; SET big xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx;\
             RPUSH l a b c; SADD si 1 2 3; SADD ss a b c; ZADD z 1 a 2.5 b -3 c;\
             HSET h f1 v1 f2 v2; HSET hf a 1 b 2; HEXPIRE hf 1000 FIELDS 1 a;\
             SET t v EX 1000; PEXPIRE l 500000;\
             SELECT 3; SET other db3; SELECT 15; LPUSH last x",
        );
        for i in 0..300 {
            run(&engine, &format!("ZADD bigz {i} m{i}; HSET bigh f{i} v{i}"));
        }
        engine
    }

    fn snapshot_of(engine: &Engine) -> Vec<u8> {
        let (bytes, _) = save(engine, Vec::new(), WriteOptions::default()).unwrap();
        bytes
    }

    #[test]
    fn a_snapshot_round_trips_every_type_ttl_and_database() {
        let original = sample();
        let bytes = snapshot_of(&original);
        assert_eq!(&bytes[..6], MAGIC);
        let copy = engine();
        let stats = load(&copy, &bytes[..], kv_engine::now_ms()).unwrap();
        assert_eq!(stats.loaded, 14);
        assert_eq!(dataset(&copy), dataset(&original));
        // Saving the copy writes the same keys again (in another order, perhaps).
        let again = engine();
        load(&again, &snapshot_of(&copy)[..], kv_engine::now_ms()).unwrap();
        assert_eq!(dataset(&again), dataset(&original));
    }

    #[test]
    fn every_combination_of_compression_and_checksum_round_trips() {
        let original = sample();
        let mut sizes = Vec::new();
        for compress in [false, true] {
            for checksum in [false, true] {
                let options = WriteOptions { compress, checksum };
                let (bytes, stats) = save(&original, Vec::new(), options).unwrap();
                assert_eq!(stats.keys, 14);
                let stored_crc = &bytes[bytes.len() - 8..];
                assert_eq!(stored_crc == [0; 8], !checksum);
                let copy = engine();
                load(&copy, &bytes[..], kv_engine::now_ms()).unwrap();
                assert_eq!(dataset(&copy), dataset(&original), "{options:?}");
                sizes.push(bytes.len());
            }
        }
        // The sample's big hash and sorted set compress (7124 bytes to 5121 when written).
        assert!(sizes[2] * 10 < sizes[0] * 8, "{sizes:?}");
    }

    #[test]
    fn an_empty_dataset_is_a_valid_snapshot() {
        let bytes = snapshot_of(&engine());
        let copy = engine();
        assert_eq!(load(&copy, &bytes[..], 0).unwrap(), LoadStats::default());
    }

    #[test]
    fn keys_expired_by_load_time_are_left_out() {
        let original = engine();
        run(&original, "SET keep v; SET soon v PX 100000");
        let bytes = snapshot_of(&original);
        let later = kv_engine::now_ms() + 200_000;
        let copy = engine();
        let stats = load(&copy, &bytes[..], later).unwrap();
        assert_eq!(
            stats,
            LoadStats {
                loaded: 1,
                expired: 1,
                aux: Aux::new(),
            }
        );
    }

    #[test]
    fn facts_given_at_the_instant_come_back_on_load() {
        let original = engine();
        run(&original, "SET a 1");
        let facts: Aux = vec![("repl-offset".into(), b"1234".to_vec())];
        let given = facts.clone();
        let (bytes, _) = save_quiet(&original, Vec::new(), WriteOptions::default(), move |_| {
            given
        })
        .unwrap();
        let stats = load(&engine(), &bytes[..], kv_engine::now_ms()).unwrap();
        assert_eq!((stats.loaded, stats.aux), (1, facts));
    }

    #[test]
    fn every_flipped_byte_is_an_error_never_a_panic() {
        let bytes = snapshot_of(&sample());
        // Flip each byte of a smaller file (the sample's is large): every position must fail.
        let small = engine();
        run(
            &small,
            "SET a 1; RPUSH l x y; SET t v EX 100; SELECT 2; SADD s m",
        );
        let small_bytes = snapshot_of(&small);
        for at in 0..small_bytes.len() {
            let mut bad = small_bytes.clone();
            bad[at] ^= 0x20;
            let result = load(&engine(), &bad[..], 0);
            assert!(result.is_err(), "flipping byte {at} went unnoticed");
        }
        // And some positions of the large one.
        for at in (0..bytes.len()).step_by(97) {
            let mut bad = bytes.clone();
            bad[at] ^= 0xff;
            assert!(load(&engine(), &bad[..], 0).is_err(), "byte {at}");
        }
    }

    #[test]
    fn truncation_anywhere_is_reported_with_its_offset() {
        let small = engine();
        run(&small, "SET a 1; HSET h f v; SELECT 1; ZADD z 1 m");
        let bytes = snapshot_of(&small);
        for cut in 0..bytes.len() {
            let error = load(&engine(), &bytes[..cut], 0).unwrap_err();
            match error {
                SnapshotError::NotASnapshot => assert!(cut < 8),
                SnapshotError::Truncated(offset) => assert!(offset <= cut as u64, "{cut}"),
                other => panic!("cut at {cut}: {other}"),
            }
        }
    }

    #[test]
    fn check_counts_what_a_whole_file_holds_and_names_a_fault() {
        let bytes = snapshot_of(&sample());
        let report = check(&bytes[..], kv_engine::now_ms() + 600_000).unwrap();
        assert_eq!(report.keys_per_db.values().sum::<u64>(), 14);
        assert_eq!(
            report.keys_per_db.keys().copied().collect::<Vec<_>>(),
            vec![0, 3, 15]
        );
        // `t` (1000 s) and `l` (500 s) have TTLs; ten minutes on, `l`'s has passed.
        assert_eq!((report.with_ttl, report.expired), (2, 1));
        assert_eq!(report.bytes, bytes.len() as u64);
        let error = check(&bytes[..bytes.len() - 3], 0).unwrap_err();
        assert!(matches!(error, SnapshotError::Truncated(_)), "{error}");
    }

    #[test]
    fn snapshots_taken_while_writers_run_are_each_one_instant() {
        // Writers keep moving units between pairs of keys while snapshots are written and
        // loaded back: every pair must sum to 100 in every file (keys handed over one at a
        // time by writers, gathered per thread, as well as whole shards by the walk).
        let engine = std::sync::Arc::new(Engine::new(2, 16));
        for i in 0..500 {
            run(
                &engine,
                &format!("MSET a{i} 100 b{i} 0; SELECT 1; SET c{i} x"),
            );
        }
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..3)
            .map(|w| {
                let (engine, stop) = (engine.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut n = w;
                    while !stop.load(Ordering::Relaxed) {
                        let (i, a) = (n % 500, n % 101);
                        run(&engine, &format!("MSET a{i} {a} b{i} {}", 100 - a));
                        n += 7;
                    }
                })
            })
            .collect();
        for _ in 0..20 {
            let bytes = snapshot_of(&engine);
            let copy = Engine::new(2, 16);
            let stats = load(&copy, &bytes[..], kv_engine::now_ms()).unwrap();
            assert_eq!(stats.loaded, 1500);
            let data = dataset(&copy);
            let number = |key: &str| {
                let (_, _, value, _) = data
                    .iter()
                    .find(|d| d.0 == 0 && d.1 == key.as_bytes())
                    .unwrap();
                match kv_engine::dump::decode_value(value).unwrap() {
                    kv_engine::Value::Str(s) => std::str::from_utf8(s.as_bytes())
                        .unwrap()
                        .parse::<u64>()
                        .unwrap(),
                    _ => panic!("not a string"),
                }
            };
            for i in 0..500 {
                assert_eq!(
                    number(&format!("a{i}")) + number(&format!("b{i}")),
                    100,
                    "pair {i}"
                );
            }
        }
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            w.join().unwrap();
        }
    }

    #[test]
    fn headers_and_trailers_are_checked() {
        let bytes = snapshot_of(&sample());
        let mut wrong_magic = bytes.clone();
        wrong_magic[0] = b'R';
        assert!(matches!(
            load(&engine(), &wrong_magic[..], 0),
            Err(SnapshotError::NotASnapshot)
        ));
        let mut newer = bytes.clone();
        newer[6..8].copy_from_slice(&(VERSION + 1).to_le_bytes());
        assert!(matches!(
            load(&engine(), &newer[..], 0),
            Err(SnapshotError::NewerVersion(v)) if v == VERSION + 1
        ));
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(matches!(
            load(&engine(), &trailing[..], 0),
            Err(SnapshotError::TrailingBytes(_))
        ));
        let mut bad_crc = bytes.clone();
        let last = bad_crc.len() - 1;
        bad_crc[last] ^= 1;
        let error = load(&engine(), &bad_crc[..], 0).unwrap_err();
        assert!(
            matches!(error, SnapshotError::Checksum { offset, .. } if offset == last as u64 - 7),
            "{error}"
        );
    }

    #[test]
    fn a_corrupt_length_allocates_nothing_it_cannot_read() {
        // A header, then a frame that claims 4 GB - 2 bytes, then nothing.
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&VERSION.to_le_bytes());
        bytes.extend_from_slice(&(u32::MAX - 1).to_le_bytes());
        bytes.extend_from_slice(b"tiny");
        assert!(matches!(
            load(&engine(), &bytes[..], 0),
            Err(SnapshotError::Truncated(16))
        ));
    }

    #[test]
    fn a_database_beyond_the_configured_ones_is_refused() {
        let bytes = snapshot_of(&sample());
        let few = Engine::new(2, 8);
        let error = load(&few, &bytes[..], 0).unwrap_err();
        assert!(
            error.to_string().contains("database 3 out of range"),
            "{error}"
        );
    }

    #[test]
    fn saving_to_a_path_replaces_the_file_whole() {
        let dir = std::env::temp_dir().join(format!("kv-persist-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("dump.kvs");
        std::fs::write(&path, b"an older snapshot").unwrap();
        let original = sample();
        assert_eq!(
            save_to_path(&original, &path, WriteOptions::default())
                .unwrap()
                .keys,
            14
        );
        let copy = engine();
        load_path(&copy, &path, kv_engine::now_ms()).unwrap();
        assert_eq!(dataset(&copy), dataset(&original));
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("dump.kvs")]);
        // A directory that does not exist fails and leaves nothing.
        let missing = dir.join("no/such/dir/dump.kvs");
        assert!(matches!(
            save_to_path(&original, &missing, WriteOptions::default()),
            Err(SnapshotError::Io { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
