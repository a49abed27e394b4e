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
//! Records are [`Record`]s serialized with serde and rmp-serde: a `Db` record before the keys
//! of each database that has any, a `Key` record per key (its value in the engine's DUMP
//! encoding without DUMP's footer, its absolute expiry in Unix ms), and an `End` record with
//! the number of keys. Each record is framed by its length, so a reader never trusts a length
//! it has not been able to read in full (a corrupt length cannot make it allocate more than
//! the bytes the file holds), and an error names the offset of the record it is in.
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

/// This format's revision.
pub const VERSION: u16 = 1;

/// The frame length that marks the trailer.
const TRAILER_MARK: u32 = u32::MAX;

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
    /// Bytes after the trailer.
    #[error("unexpected bytes after the trailer at offset {0}")]
    TrailingBytes(u64),
}

/// Writes a snapshot: [`SnapshotWriter::database`] before each database's keys,
/// [`SnapshotWriter::key`] for each key, [`SnapshotWriter::finish`] at the end.
#[derive(Debug)]
pub struct SnapshotWriter<W: Write> {
    out: W,
    crc: u64,
    written: u64,
    keys: u64,
    /// Reused for every record.
    frame: Vec<u8>,
    value: Vec<u8>,
}

impl<W: Write> SnapshotWriter<W> {
    /// Starts a snapshot on `out`, writing its header.
    pub fn new(out: W) -> Result<SnapshotWriter<W>, SnapshotError> {
        let mut writer = SnapshotWriter {
            out,
            crc: 0,
            written: 0,
            keys: 0,
            frame: Vec::new(),
            value: Vec::new(),
        };
        let mut header = MAGIC.to_vec();
        header.extend_from_slice(&VERSION.to_le_bytes());
        writer.put(&header)?;
        Ok(writer)
    }

    /// Announces that the following keys belong to database `index`.
    pub fn database(&mut self, index: usize) -> Result<(), SnapshotError> {
        let index = u32::try_from(index).map_err(|_| self.bad("database index too large"))?;
        self.record(&Record::<Bytes<'_>>::Db { index })
    }

    /// Writes one key with its entry.
    pub fn key(&mut self, key: &[u8], entry: &Entry) -> Result<(), SnapshotError> {
        let mut value = std::mem::take(&mut self.value);
        value.clear();
        encode_value(&entry.value, &mut value);
        let written = self.record(&Record::Key {
            key: Bytes(key),
            value: Bytes(&value),
            expires_at: entry.expires_at(),
        });
        self.value = value;
        self.keys += 1;
        written
    }

    /// Writes the end record and the trailer; returns the output and the number of keys.
    pub fn finish(mut self) -> Result<(W, u64), SnapshotError> {
        let keys = self.keys;
        self.record(&Record::<Bytes<'_>>::End { keys })?;
        self.put(&TRAILER_MARK.to_le_bytes())?;
        let crc = self.crc.to_le_bytes();
        self.put(&crc)?;
        self.out.flush().map_err(|source| SnapshotError::Io {
            offset: self.written,
            source,
        })?;
        Ok((self.out, keys))
    }

    fn record(&mut self, record: &Record<Bytes<'_>>) -> Result<(), SnapshotError> {
        let mut frame = std::mem::take(&mut self.frame);
        frame.clear();
        frame.extend_from_slice(&[0; 4]);
        let encoded = rmp_serde::encode::write(&mut frame, record);
        let result = match encoded {
            Err(e) => Err(self.bad(&e.to_string())),
            Ok(()) => match u32::try_from(frame.len() - 4) {
                Ok(len) if len != TRAILER_MARK => {
                    frame[..4].copy_from_slice(&len.to_le_bytes());
                    self.put(&frame)
                }
                _ => Err(self.bad("record too large")),
            },
        };
        self.frame = frame;
        result
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), SnapshotError> {
        self.out
            .write_all(bytes)
            .map_err(|source| SnapshotError::Io {
                offset: self.written,
                source,
            })?;
        self.crc = crc64(self.crc, bytes);
        self.written += bytes.len() as u64;
        Ok(())
    }

    fn bad(&self, reason: &str) -> SnapshotError {
        SnapshotError::BadRecord {
            offset: self.written,
            reason: reason.to_string(),
        }
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

    /// The next key, or `None` once the end record, the trailer and its checksum have been
    /// read and checked (and nothing follows them).
    pub fn next_key(&mut self) -> Result<Option<LoadedKey>, SnapshotError> {
        if self.done {
            return Ok(None);
        }
        loop {
            let at = self.offset;
            let mut len = [0u8; 4];
            self.fill(&mut len)?;
            let len = u32::from_le_bytes(len);
            if len == TRAILER_MARK {
                return Err(self.bad(at, "trailer before the end record"));
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
            let record: Record<ByteBuf> =
                rmp_serde::from_slice(&frame).map_err(|e| self.bad(at, &e.to_string()))?;
            match record {
                Record::Db { index } => self.db = Some(index as usize),
                Record::Key {
                    key,
                    value,
                    expires_at,
                } => {
                    let Some(db) = self.db else {
                        return Err(self.bad(at, "a key before any database record"));
                    };
                    let value = decode_value(&value.0)
                        .map_err(|e| self.bad(at, &format!("bad value: {}", e.message())))?;
                    self.keys += 1;
                    return Ok(Some(LoadedKey {
                        db,
                        key: key.0,
                        value,
                        expires_at,
                    }));
                }
                Record::End { keys } => {
                    if keys != self.keys {
                        let reason = format!("end record counts {keys} keys, read {}", self.keys);
                        return Err(self.bad(at, &reason));
                    }
                    self.finish()?;
                    self.done = true;
                    return Ok(None);
                }
            }
        }
    }

    /// Reads and checks the trailer, and that nothing follows it.
    fn finish(&mut self) -> Result<(), SnapshotError> {
        let at = self.offset;
        let mut mark = [0u8; 4];
        self.fill(&mut mark)?;
        if u32::from_le_bytes(mark) != TRAILER_MARK {
            return Err(self.bad(at, "a record after the end record"));
        }
        let computed = self.crc;
        let crc_at = self.offset;
        let mut stored = [0u8; 8];
        self.fill(&mut stored)?;
        let stored = u64::from_le_bytes(stored);
        if stored != computed {
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

    fn bad(&self, offset: u64, reason: &str) -> SnapshotError {
        SnapshotError::BadRecord {
            offset,
            reason: reason.to_string(),
        }
    }
}
