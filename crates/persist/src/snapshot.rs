//! Snapshot files: the whole dataset, streamed one key at a time.
//!
//! # Format
//!
//! ```text
//! file    := header frame* trailer
//! header  := "KVSNAP" version:u16le
//! frame   := length:u32le record            (length < 0xFFFF_FFFF; the record is MessagePack)
//! trailer := 0xFFFF_FFFF:u32le crc:u64le    (CRC-64/Jones of every byte before `crc`)
//! ```
//!
//! Records are [`Record`]s serialized with serde and rmp-serde: a `Db` record before each run
//! of keys of one database (runs of different databases may alternate: a point-in-time
//! snapshot writes shards in the order they are handed over), a `Key` record per key (its
//! value in the engine's DUMP encoding without DUMP's footer, its absolute expiry in Unix ms),
//! any `Aux` records (named facts about the snapshot, such as the replication stream position
//! a replica's snapshot is at: Redis's RDB AUX fields; version 2 on), and an `End` record with
//! the number of keys. Each record is framed by its length, so a
//! reader never trusts a length it has not been able to read in full (a corrupt length cannot
//! make it allocate more than the bytes the file holds), and an error names the offset of the
//! record it is in.
//!
//! With compression on, a run of frames (a [`Piece`]) is stored as one `Block` record: the
//! frames compressed with LZ4, and their length, at most [`MAX_BLOCK`] (a reader refuses more
//! before it allocates). A block holds `Db` and `Key` frames only. A zero checksum means the
//! file was written without one (`rdbchecksum no`), as in Redis, and is not checked.
//!
//! The version counts this format's revisions; a reader refuses a newer one. The value
//! encodings are versioned by the engine's DUMP format (`kv_engine::dump`), whose tags are
//! never reused.

use std::io::{self, Read, Write};

use kv_engine::dump::{crc64, decode_value, encode_value};
use kv_engine::{Entry, Value};
use serde::{Deserialize, Serialize};

/// The file's first bytes.
pub const MAGIC: &[u8; 6] = b"KVSNAP";

/// This format's revision (2: `Aux` records).
pub const VERSION: u16 = 2;

/// The frame length that marks the trailer.
const TRAILER_MARK: u32 = u32::MAX;

/// The most bytes of frames one compressed block may hold once decompressed.
pub const MAX_BLOCK: usize = 4 << 20;

/// One record of the file, as written (borrowing) and read (owning: `B` is `Vec<u8>`).
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
enum Record<B> {
    /// The keys that follow belong to database `index`.
    Db { index: u32 },
    /// One key: its value (the engine's DUMP encoding, no footer) and absolute expiry.
    Key {
        key: B,
        value: B,
        expires_at: Option<u64>,
    },
    /// The end of the records, with the number of `Key` records written.
    End { keys: u64 },
    /// Frames compressed with LZ4 (block format), `raw_len` bytes once decompressed.
    Block { raw_len: u32, data: B },
    /// A fact about the snapshot rather than a key (as Redis's RDB AUX fields): a replica's
    /// snapshot names the replication history and offset it is at (see [`Aux`]).
    Aux { name: B, value: B },
}

/// Facts a snapshot carries besides its keys, by name (version 2 on).
pub type Aux = Vec<(String, Vec<u8>)>;

/// How a snapshot is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOptions {
    /// Compress runs of keys with LZ4 (Redis's `rdbcompression`).
    pub compress: bool,
    /// End the file with a CRC-64 of its bytes; zero otherwise (Redis's `rdbchecksum`).
    pub checksum: bool,
}

impl Default for WriteOptions {
    fn default() -> WriteOptions {
        WriteOptions {
            compress: true,
            checksum: true,
        }
    }
}

/// A borrowed byte string that serde writes as MessagePack binary (a plain `&[u8]` would be
/// an array of integers).
#[derive(Debug, PartialEq, Eq)]
struct Bytes<'a>(&'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

/// An owned byte string read from MessagePack binary.
#[derive(Debug, PartialEq, Eq)]
struct ByteBuf(Vec<u8>);

impl<'de> Deserialize<'de> for ByteBuf {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<ByteBuf, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = ByteBuf;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<ByteBuf, E> {
                Ok(ByteBuf(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<ByteBuf, E> {
                Ok(ByteBuf(v))
            }
        }
        deserializer.deserialize_byte_buf(Visitor)
    }
}

/// What can be wrong with a snapshot file, and where.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Reading or writing failed.
    #[error("I/O error at offset {offset}: {source}")]
    Io {
        /// Bytes read or written before the failure.
        offset: u64,
        /// The failure.
        source: io::Error,
    },
    /// The file does not start with [`MAGIC`].
    #[error("not a kv snapshot (no KVSNAP header)")]
    NotASnapshot,
    /// The file was written by a newer kv.
    #[error("snapshot format version {0} is newer than this kv reads ({VERSION})")]
    NewerVersion(u16),
    /// The file ends before its trailer.
    #[error("truncated at offset {0}")]
    Truncated(u64),
    /// A record that does not decode, or one out of place.
    #[error("bad record at offset {offset}: {reason}")]
    BadRecord {
        /// Where the record's frame starts.
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// The checksum in the trailer does not match the file's bytes.
    #[error(
        "checksum mismatch at offset {offset}: stored {stored:016x}, computed {computed:016x}"
    )]
    Checksum {
        /// Where the checksum is.
        offset: u64,
        /// The trailer's checksum.
        stored: u64,
        /// The checksum of the bytes read.
        computed: u64,
    },
    /// Another snapshot of the same engine is being taken.
    #[error("a snapshot is already being taken")]
    Busy,
    /// Bytes after the trailer.
    #[error("unexpected bytes after the trailer at offset {0}")]
    TrailingBytes(u64),
}

/// A run of keys of one database, encoded as frames apart from the file (by whichever thread
/// hands a shard over), then appended to it whole by [`SnapshotWriter::append`].
#[derive(Debug)]
pub struct Piece {
    db: u32,
    frames: Vec<u8>,
    /// The length of the frames' leading database record.
    header: usize,
    keys: u64,
    /// Reused for each value's encoding.
    value: Vec<u8>,
    /// The compressed block, when [`Piece::seal`] made one.
    block: Vec<u8>,
}

impl Piece {
    /// An empty run of keys of database `db`.
    pub fn new(db: usize) -> Result<Piece, SnapshotError> {
        let db = u32::try_from(db).map_err(|_| bad(0, "database index too large"))?;
        let mut piece = Piece {
            db,
            frames: Vec::new(),
            header: 0,
            keys: 0,
            value: Vec::new(),
            block: Vec::new(),
        };
        piece.clear();
        Ok(piece)
    }

    /// The database its keys belong to.
    pub fn db(&self) -> usize {
        self.db as usize
    }

    /// Empties the run and makes it one of database `db`'s keys.
    pub fn restart(&mut self, db: usize) -> Result<(), SnapshotError> {
        self.db = u32::try_from(db).map_err(|_| bad(0, "database index too large"))?;
        self.clear();
        Ok(())
    }

    /// Empties the run, keeping its buffers and database.
    fn clear(&mut self) {
        self.frames.clear();
        self.block.clear();
        self.keys = 0;
        let db = Record::<Bytes<'_>>::Db { index: self.db };
        // A `Db` record always encodes.
        let _ = frame(&mut self.frames, &db);
        self.header = self.frames.len();
    }

    /// Adds one key with its entry.
    pub fn key(&mut self, key: &[u8], entry: &Entry) -> Result<(), SnapshotError> {
        let mut value = std::mem::take(&mut self.value);
        value.clear();
        encode_value(&entry.value, &mut value);
        let record = Record::Key {
            key: Bytes(key),
            value: Bytes(&value),
            expires_at: entry.expires_at(),
        };
        let framed = frame(&mut self.frames, &record);
        self.value = value;
        self.keys += 1;
        framed
    }

    /// Bytes of frames held.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// The length of its keys' records (its frames but the leading database record).
    pub fn keys_len(&self) -> usize {
        self.frames.len() - self.header
    }

    /// Whether the run holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys == 0
    }

    /// Compresses the frames into one block if `options` ask for it and it saves space.
    /// Meant for the thread that encoded the piece, before it appends it.
    pub fn seal(&mut self, options: WriteOptions) {
        self.block.clear();
        // Below a kilobyte (a key or two a writer handed over) LZ4 saves too little to matter.
        if !options.compress || self.frames.len() < 1024 || self.frames.len() > MAX_BLOCK {
            return;
        }
        let compressed = lz4_flex::block::compress(&self.frames);
        let raw_len = self.frames.len() as u32;
        let record = Record::Block {
            raw_len,
            data: Bytes(&compressed),
        };
        if frame(&mut self.block, &record).is_err() || self.block.len() >= self.frames.len() {
            self.block.clear();
        }
    }
}

/// Appends `record` to `out` as one frame.
fn frame(out: &mut Vec<u8>, record: &Record<Bytes<'_>>) -> Result<(), SnapshotError> {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    let encoded = rmp_serde::encode::write(out, record);
    let result = match encoded {
        Err(e) => Err(bad(start as u64, &e.to_string())),
        Ok(()) => match u32::try_from(out.len() - start - 4) {
            Ok(len) if len != TRAILER_MARK => {
                out[start..start + 4].copy_from_slice(&len.to_le_bytes());
                Ok(())
            }
            _ => Err(bad(start as u64, "record too large")),
        },
    };
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// A malformed record at `offset`.
fn bad(offset: u64, reason: &str) -> SnapshotError {
    SnapshotError::BadRecord {
        offset,
        reason: reason.to_string(),
    }
}

/// Writes a snapshot: the header on [`SnapshotWriter::new`], [`Piece`]s of keys with
/// [`SnapshotWriter::append`], the end record and trailer on [`SnapshotWriter::finish`].
#[derive(Debug)]
pub struct SnapshotWriter<W: Write> {
    out: W,
    options: WriteOptions,
    crc: u64,
    written: u64,
    keys: u64,
    aux: Aux,
}

impl<W: Write> SnapshotWriter<W> {
    /// Starts a snapshot on `out`, writing its header.
    pub fn new(out: W, options: WriteOptions) -> Result<SnapshotWriter<W>, SnapshotError> {
        let mut writer = SnapshotWriter {
            out,
            options,
            crc: 0,
            written: 0,
            keys: 0,
            aux: Aux::new(),
        };
        let mut header = MAGIC.to_vec();
        header.extend_from_slice(&VERSION.to_le_bytes());
        writer.put(&header)?;
        Ok(writer)
    }

    /// The options the file is written with.
    pub fn options(&self) -> WriteOptions {
        self.options
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Appends `piece` (its block if [`Piece::seal`] made one) and empties it for reuse.
    pub fn append(&mut self, piece: &mut Piece) -> Result<(), SnapshotError> {
        if piece.is_empty() {
            return Ok(());
        }
        let bytes = if piece.block.is_empty() {
            &piece.frames
        } else {
            &piece.block
        };
        let result = self.put(bytes);
        if result.is_ok() {
            self.keys += piece.keys;
        }
        piece.clear();
        result
    }

    /// Sets the facts written before the end record.
    pub fn set_aux(&mut self, aux: Aux) {
        self.aux = aux;
    }

    /// Writes the facts set, the end record and the trailer; returns the output and the
    /// number of keys.
    pub fn finish(mut self) -> Result<(W, u64), SnapshotError> {
        let keys = self.keys;
        let mut end = Vec::new();
        for (name, value) in &self.aux {
            let record = Record::Aux {
                name: Bytes(name.as_bytes()),
                value: Bytes(value),
            };
            frame(&mut end, &record)?;
        }
        frame(&mut end, &Record::<Bytes<'_>>::End { keys })?;
        self.put(&end)?;
        self.put(&TRAILER_MARK.to_le_bytes())?;
        let crc = if self.options.checksum { self.crc } else { 0 };
        self.put(&crc.to_le_bytes())?;
        self.out.flush().map_err(|source| SnapshotError::Io {
            offset: self.written,
            source,
        })?;
        Ok((self.out, keys))
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), SnapshotError> {
        self.out
            .write_all(bytes)
            .map_err(|source| SnapshotError::Io {
                offset: self.written,
                source,
            })?;
        if self.options.checksum {
            self.crc = crc64(self.crc, bytes);
        }
        self.written += bytes.len() as u64;
        Ok(())
    }
}

/// One key read from a snapshot.
#[derive(Debug, PartialEq)]
pub struct LoadedKey {
    /// Its database.
    pub db: usize,
    /// The key.
    pub key: Vec<u8>,
    /// Its value.
    pub value: Value,
    /// Its absolute expiry in Unix ms, if any.
    pub expires_at: Option<u64>,
}

/// Reads a snapshot key by key, checking the checksum at the end.
#[derive(Debug)]
pub struct SnapshotReader<R: Read> {
    input: R,
    offset: u64,
    crc: u64,
    db: Option<usize>,
    keys: u64,
    done: bool,
    /// The frames of the compressed block being read, how far they have been read, and the
    /// block's offset in the file (what errors inside it name).
    block: Vec<u8>,
    block_read: usize,
    block_at: u64,
    aux: Aux,
}

impl<R: Read> SnapshotReader<R> {
    /// Opens a snapshot on `input`, checking its header.
    pub fn new(input: R) -> Result<SnapshotReader<R>, SnapshotError> {
        let mut reader = SnapshotReader {
            input,
            offset: 0,
            crc: 0,
            db: None,
            keys: 0,
            done: false,
            block: Vec::new(),
            block_read: 0,
            block_at: 0,
            aux: Aux::new(),
        };
        let mut header = [0u8; 8];
        reader.fill(&mut header).map_err(|e| match e {
            SnapshotError::Truncated(_) => SnapshotError::NotASnapshot,
            other => other,
        })?;
        if &header[..6] != MAGIC {
            return Err(SnapshotError::NotASnapshot);
        }
        let version = u16::from_le_bytes([header[6], header[7]]);
        if version > VERSION {
            return Err(SnapshotError::NewerVersion(version));
        }
        Ok(reader)
    }

    /// Bytes read so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The facts read so far (all of them once `next_key` has returned `None`).
    pub fn aux(&self) -> &Aux {
        &self.aux
    }

    /// The next key, or `None` once the end record, the trailer and its checksum have been
    /// read and checked (and nothing follows them).
    pub fn next_key(&mut self) -> Result<Option<LoadedKey>, SnapshotError> {
        if self.done {
            return Ok(None);
        }
        loop {
            let in_block = self.block_read < self.block.len();
            let (at, record) = if in_block {
                self.block_record()?
            } else {
                self.file_record()?
            };
            match record {
                Record::Db { index } => self.db = Some(index as usize),
                Record::Key {
                    key,
                    value,
                    expires_at,
                } => {
                    let Some(db) = self.db else {
                        return Err(bad(at, "a key before any database record"));
                    };
                    let value = decode_value(&value.0)
                        .map_err(|e| bad(at, &format!("bad value: {}", e.message())))?;
                    self.keys += 1;
                    return Ok(Some(LoadedKey {
                        db,
                        key: key.0,
                        value,
                        expires_at,
                    }));
                }
                Record::End { .. } | Record::Block { .. } | Record::Aux { .. } if in_block => {
                    return Err(bad(
                        at,
                        "an end, block or aux record inside a compressed block",
                    ));
                }
                Record::Aux { name, value } => {
                    let name = String::from_utf8(name.0)
                        .map_err(|_| bad(at, "an aux record's name is not UTF-8"))?;
                    self.aux.push((name, value.0));
                }
                Record::End { keys } => {
                    if keys != self.keys {
                        let reason = format!("end record counts {keys} keys, read {}", self.keys);
                        return Err(bad(at, &reason));
                    }
                    self.finish()?;
                    self.done = true;
                    return Ok(None);
                }
                Record::Block { raw_len, data } => {
                    let raw_len = raw_len as usize;
                    // Checked before decompressing: LZ4 expands at most 255 times.
                    if raw_len > MAX_BLOCK || raw_len > data.0.len().saturating_mul(255) {
                        return Err(bad(at, "compressed block too large"));
                    }
                    self.block = lz4_flex::block::decompress(&data.0, raw_len)
                        .ok()
                        .filter(|frames| frames.len() == raw_len)
                        .ok_or_else(|| bad(at, "compressed block does not decompress"))?;
                    self.block_read = 0;
                    self.block_at = at;
                }
            }
        }
    }

    /// The next record of the file itself, and its offset.
    fn file_record(&mut self) -> Result<(u64, Record<ByteBuf>), SnapshotError> {
        let at = self.offset;
        let mut len = [0u8; 4];
        self.fill(&mut len)?;
        let len = u32::from_le_bytes(len);
        if len == TRAILER_MARK {
            return Err(bad(at, "trailer before the end record"));
        }
        // Read through `take`, so a corrupt length allocates no more than the file holds.
        let mut frame = Vec::new();
        let read = (&mut self.input)
            .take(u64::from(len))
            .read_to_end(&mut frame)
            .map_err(|source| SnapshotError::Io {
                offset: self.offset,
                source,
            })?;
        self.crc = crc64(self.crc, &frame);
        self.offset += read as u64;
        if read < len as usize {
            return Err(SnapshotError::Truncated(self.offset));
        }
        let record = rmp_serde::from_slice(&frame).map_err(|e| bad(at, &e.to_string()))?;
        Ok((at, record))
    }

    /// The next record of the current compressed block; errors name the block's offset.
    fn block_record(&mut self) -> Result<(u64, Record<ByteBuf>), SnapshotError> {
        let at = self.block_at;
        let rest = &self.block[self.block_read..];
        let frame = rest
            .get(..4)
            .map(|len| u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize)
            .and_then(|len| rest.get(4..4 + len))
            .ok_or_else(|| bad(at, "truncated frame inside a compressed block"))?;
        let record = rmp_serde::from_slice(frame).map_err(|e| {
            bad(
                at,
                &format!("in a compressed block at byte {}: {e}", self.block_read),
            )
        })?;
        self.block_read += 4 + frame.len();
        Ok((at, record))
    }

    /// Reads and checks the trailer, and that nothing follows it.
    fn finish(&mut self) -> Result<(), SnapshotError> {
        let at = self.offset;
        let mut mark = [0u8; 4];
        self.fill(&mut mark)?;
        if u32::from_le_bytes(mark) != TRAILER_MARK {
            return Err(bad(at, "a record after the end record"));
        }
        let computed = self.crc;
        let crc_at = self.offset;
        let mut stored = [0u8; 8];
        self.fill(&mut stored)?;
        let stored = u64::from_le_bytes(stored);
        // Zero: written without a checksum (`rdbchecksum no`).
        if stored != 0 && stored != computed {
            return Err(SnapshotError::Checksum {
                offset: crc_at,
                stored,
                computed,
            });
        }
        let mut extra = [0u8; 1];
        match self.input.read(&mut extra) {
            Ok(0) => Ok(()),
            Ok(_) => Err(SnapshotError::TrailingBytes(self.offset)),
            Err(source) => Err(SnapshotError::Io {
                offset: self.offset,
                source,
            }),
        }
    }

    /// Fills `buf` from the input, adding it to the checksum.
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), SnapshotError> {
        match self.input.read_exact(buf) {
            Ok(()) => {
                self.crc = crc64(self.crc, buf);
                self.offset += buf.len() as u64;
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                Err(SnapshotError::Truncated(self.offset))
            }
            Err(source) => Err(SnapshotError::Io {
                offset: self.offset,
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    // Test code: a failed unwrap is a failed test.
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A file of `frames` (encoded with [`frame`]), then an end record for `keys` and a trailer.
    fn file(records: &[Record<Bytes<'_>>], keys: u64) -> Vec<u8> {
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&VERSION.to_le_bytes());
        for record in records {
            frame(&mut bytes, record).unwrap();
        }
        frame(&mut bytes, &Record::End { keys }).unwrap();
        bytes.extend_from_slice(&TRAILER_MARK.to_le_bytes());
        bytes.extend_from_slice(&0u64.to_le_bytes());
        bytes
    }

    fn read_all(bytes: &[u8]) -> Result<Vec<LoadedKey>, SnapshotError> {
        let mut reader = SnapshotReader::new(bytes)?;
        let mut keys = Vec::new();
        while let Some(key) = reader.next_key()? {
            keys.push(key);
        }
        Ok(keys)
    }

    /// The frames of one string key in database 0.
    fn one_key() -> Vec<u8> {
        let mut piece = Piece::new(0).unwrap();
        let value = Value::Str(kv_engine::StrValue::new(b"value"));
        piece.key(b"k", &Entry::new(value, 0)).unwrap();
        piece.frames
    }

    #[test]
    fn a_block_is_read_as_the_frames_it_holds() {
        let frames = one_key();
        let data = lz4_flex::block::compress(&frames);
        let block = Record::Block {
            raw_len: frames.len() as u32,
            data: Bytes(&data),
        };
        let keys = read_all(&file(&[block], 1)).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].key, b"k");
    }

    #[test]
    fn a_block_claiming_too_much_is_refused_before_decompressing() {
        let frames = one_key();
        let data = lz4_flex::block::compress(&frames);
        for raw_len in [
            MAX_BLOCK as u32 + 1,
            u32::MAX - 1,
            (data.len() * 255 + 1) as u32,
        ] {
            let block = Record::Block {
                raw_len,
                data: Bytes(&data),
            };
            let error = read_all(&file(&[block], 1)).unwrap_err();
            assert!(error.to_string().contains("too large"), "{error}");
        }
        // A length that is merely wrong does not decompress to it.
        let block = Record::Block {
            raw_len: frames.len() as u32 + 1,
            data: Bytes(&data),
        };
        let error = read_all(&file(&[block], 1)).unwrap_err();
        assert!(error.to_string().contains("does not decompress"), "{error}");
    }

    #[test]
    fn blocks_inside_blocks_and_end_records_inside_blocks_are_refused() {
        let frames = one_key();
        let data = lz4_flex::block::compress(&frames);
        let inner = Record::Block {
            raw_len: frames.len() as u32,
            data: Bytes(&data),
        };
        for nested in [inner, Record::End { keys: 0 }] {
            let mut outer_frames = Vec::new();
            frame(&mut outer_frames, &nested).unwrap();
            let outer_data = lz4_flex::block::compress(&outer_frames);
            let outer = Record::Block {
                raw_len: outer_frames.len() as u32,
                data: Bytes(&outer_data),
            };
            let error = read_all(&file(&[outer], 0)).unwrap_err();
            assert!(
                error.to_string().contains("inside a compressed block"),
                "{error}"
            );
        }
    }

    #[test]
    fn a_frame_cut_short_inside_a_block_is_an_error() {
        let frames = one_key();
        let cut = &frames[..frames.len() - 1];
        let data = lz4_flex::block::compress(cut);
        let block = Record::Block {
            raw_len: cut.len() as u32,
            data: Bytes(&data),
        };
        let error = read_all(&file(&[block], 1)).unwrap_err();
        assert!(error.to_string().contains("truncated frame"), "{error}");
    }
}
