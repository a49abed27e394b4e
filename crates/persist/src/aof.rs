//! The append-only file: every write's effects, logged as RESP commands, in the spirit of
//! Redis 7's multi-part AOF.
//!
//! # Layout
//!
//! A directory (`appenddirname`) holds:
//!
//! - a *base*: a snapshot of the dataset (kv's snapshot format, [`crate::snapshot`]) at the
//!   instant the log was last rewritten, or none before the first rewrite;
//! - *incremental* files: the effects of every write since that instant, as RESP arrays of
//!   bulk strings (what a client would send), `SELECT` where the database changes, and
//!   `MULTI`/`EXEC` around the effects of one command or transaction that are more than one;
//! - a *manifest* naming them, written to a temporary file and renamed into place, so a crash
//!   mid-rewrite leaves the previous manifest (and the files it names) whole.
//!
//! A replica's log also holds *stream marks* ([`encode_stream_mark`]): not commands, but
//! where in its master's replication stream the data replayed up to the mark stands. A log
//! whose last item is a mark (or whose base names a position and nothing follows) tells a
//! restarted replica where to continue from; anything logged after the last mark (a write of
//! its own, the effects of a message whose mark was not written) means it cannot.
//!
//! Loading reads the base, then replays each incremental file in order. The last file may end
//! in the middle of a command (a crash mid-write): that tail is dropped when truncation is
//! allowed (`aof-load-truncated`), and so is an unfinished `MULTI` block. Anything else that
//! does not parse is an error naming the file and the offset.

use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use kv_engine::effects::Effect;
use kv_resp::RequestDecoder;

/// The manifest's file name, after the AOF's base name: `appendonly.aof.manifest`.
pub fn manifest_name(base_name: &str) -> String {
    format!("{base_name}.manifest")
}

/// What one file of the log is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A snapshot the log starts from.
    Base,
    /// Effects since the base.
    Incremental,
}

/// One file the manifest names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFile {
    /// Its name inside the directory.
    pub name: String,
    /// Its sequence number.
    pub seq: u64,
    /// Base or incremental.
    pub kind: FileKind,
}

/// The manifest: the base (if any) and the incremental files, in replay order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// The snapshot the log starts from.
    pub base: Option<LogFile>,
    /// The incremental files, oldest first.
    pub incrementals: Vec<LogFile>,
}

/// A manifest that does not read.
#[derive(Debug, thiserror::Error)]
#[error("bad AOF manifest line {line}: {reason}")]
pub struct ManifestError {
    /// The line (1-based).
    pub line: usize,
    /// What is wrong with it.
    pub reason: String,
}

impl Manifest {
    /// Reads a manifest: one `file NAME seq N type b|i` line per file (Redis 7's syntax).
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let mut manifest = Manifest::default();
        for (index, line) in text.lines().enumerate() {
            let bad = |reason: &str| ManifestError {
                line: index + 1,
                reason: reason.to_string(),
            };
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            let (mut name, mut seq, mut kind) = (None, None, None);
            for pair in words.chunks(2) {
                match pair {
                    ["file", value] => name = Some(value.to_string()),
                    ["seq", value] => {
                        seq = Some(value.parse::<u64>().map_err(|_| bad("bad seq"))?);
                    }
                    ["type", "b"] => kind = Some(FileKind::Base),
                    ["type", "i"] => kind = Some(FileKind::Incremental),
                    ["type", _] => return Err(bad("unknown file type")),
                    _ => return Err(bad("expected `file NAME seq N type b|i`")),
                }
            }
            let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
                return Err(bad("a file, a seq and a type are required"));
            };
            if name.contains('/') {
                return Err(bad("a file name, not a path"));
            }
            let file = LogFile { name, seq, kind };
            match kind {
                FileKind::Base if manifest.base.is_some() => return Err(bad("a second base")),
                FileKind::Base => manifest.base = Some(file),
                FileKind::Incremental => manifest.incrementals.push(file),
            }
        }
        manifest.incrementals.sort_by_key(|f| f.seq);
        Ok(manifest)
    }

    /// The manifest's text.
    pub fn format(&self) -> String {
        let mut out = String::new();
        for file in self.base.iter().chain(&self.incrementals) {
            let kind = match file.kind {
                FileKind::Base => "b",
                FileKind::Incremental => "i",
            };
            let _ = writeln!(out, "file {} seq {} type {kind}", file.name, file.seq);
        }
        out
    }

    /// The last incremental file: where new effects go.
    pub fn current(&self) -> Option<&LogFile> {
        self.incrementals.last()
    }

    /// Every file it names, as paths in `dir`.
    pub fn paths(&self, dir: &Path) -> Vec<PathBuf> {
        self.base
            .iter()
            .chain(&self.incrementals)
            .map(|f| dir.join(&f.name))
            .collect()
    }
}

/// The name of the incremental file number `seq` of the log called `base_name`.
pub fn incremental_name(base_name: &str, seq: u64) -> String {
    format!("{base_name}.{seq}.incr.aof")
}

/// The name of the base snapshot number `seq` of the log called `base_name`.
pub fn base_name(base_name: &str, seq: u64) -> String {
    format!("{base_name}.{seq}.base.kvs")
}

/// Encodes the effects of one command or transaction for the log, after `db`, the database
/// the log's previous command left selected (updated): a `SELECT` where it changes, and
/// `MULTI`/`EXEC` around a group of more than one, so replay applies all or none of it.
pub fn encode_group(out: &mut Vec<u8>, db: &mut Option<usize>, group: &[Effect]) {
    let wrap = group.len() > 1;
    if wrap {
        encode_command(out, &[b"MULTI"]);
    }
    for effect in group {
        if *db != Some(effect.db) {
            let mut index = itoa::Buffer::new();
            encode_command(out, &[b"SELECT", index.format(effect.db).as_bytes()]);
            *db = Some(effect.db);
        }
        encode_command(out, &effect.args);
    }
    if wrap {
        encode_command(out, &[b"EXEC"]);
    }
}

/// The name a stream mark has in the place of a command's.
pub const STREAM_MARK: &[u8] = b"KV-STREAM-AT";

/// Appends a stream mark: the data logged so far is the replication history `id`'s up to
/// `offset`, where the stream has database `db` selected.
pub fn encode_stream_mark(out: &mut Vec<u8>, id: &str, offset: u64, db: usize) {
    let mut offset_digits = itoa::Buffer::new();
    let mut db_digits = itoa::Buffer::new();
    encode_command(
        out,
        &[
            STREAM_MARK,
            id.as_bytes(),
            offset_digits.format(offset).as_bytes(),
            db_digits.format(db).as_bytes(),
        ],
    );
}

/// What a command read from the log is, if it is a stream mark: `Some` of the position it
/// names (`None` inside if it does not read as one, which makes the position unknown).
pub fn stream_mark(args: &[Bytes]) -> Option<Option<(String, u64, usize)>> {
    if args.first().map(|name| &name[..]) != Some(STREAM_MARK) {
        return None;
    }
    let [_, id, offset, db] = args else {
        return Some(None);
    };
    fn text(arg: &Bytes) -> Option<&str> {
        std::str::from_utf8(arg).ok()
    }
    let position = (|| {
        let offset = text(offset)?.parse().ok()?;
        let db = text(db)?.parse().ok()?;
        Some((text(id)?.to_string(), offset, db))
    })();
    Some(position)
}

/// Appends `args` as a RESP array of bulk strings.
pub fn encode_command(out: &mut Vec<u8>, args: &[impl AsRef<[u8]>]) {
    // itoa rather than `write!`: this runs for every write the log or a replica records.
    let mut digits = itoa::Buffer::new();
    out.push(b'*');
    out.extend_from_slice(digits.format(args.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for arg in args {
        let arg = arg.as_ref();
        out.push(b'$');
        out.extend_from_slice(digits.format(arg.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// Why an incremental file stopped being read.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// Bytes that are not a command.
    #[error("bad command at offset {offset}: {reason}")]
    Corrupt {
        /// Where the command starts.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The file ends inside a command (or a MULTI block) and truncation is not allowed.
    #[error("unexpected end of file at offset {offset} (a command cut short)")]
    Truncated {
        /// Where the unfinished command (or MULTI) starts.
        offset: u64,
    },
    /// Reading failed.
    #[error("I/O error at offset {offset}: {source}")]
    Io {
        /// Bytes read before the failure.
        offset: u64,
        /// The failure.
        source: std::io::Error,
    },
}

/// One unit of replay: a command, or a MULTI ... EXEC block read whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A command and its arguments.
    Command(Vec<Bytes>),
    /// The commands between MULTI and EXEC.
    Transaction(Vec<Vec<Bytes>>),
}

/// How much of a file is read at a time.
const CHUNK: usize = 64 << 10;

/// Reads an incremental file command by command, a chunk at a time.
#[derive(Debug)]
pub struct IncrReader<R: Read> {
    input: R,
    buf: bytes::BytesMut,
    decoder: RequestDecoder,
    /// Bytes of the file consumed by the commands returned so far (and any MULTI pending).
    offset: u64,
    /// Bytes of the file read into `buf` so far.
    read: u64,
    eof: bool,
    allow_truncated: bool,
    /// Where the last whole item ends: what a truncated file can be cut back to.
    valid_len: u64,
    /// Set when the end was a truncated tail that was dropped.
    truncated_at: Option<u64>,
}

impl<R: Read> IncrReader<R> {
    /// Reads `input`; a tail cut short (inside a command, or a MULTI block without its EXEC)
    /// is an error unless `allow_truncated`, and then it is dropped.
    pub fn new(input: R, allow_truncated: bool) -> IncrReader<R> {
        IncrReader {
            input,
            buf: bytes::BytesMut::new(),
            decoder: RequestDecoder::default(),
            offset: 0,
            read: 0,
            eof: false,
            allow_truncated,
            valid_len: 0,
            truncated_at: None,
        }
    }

    /// Where the file's whole part ends (after the last item returned).
    pub fn valid_len(&self) -> u64 {
        self.valid_len
    }

    /// Where a dropped tail started, if the file ended in one.
    pub fn truncated_at(&self) -> Option<u64> {
        self.truncated_at
    }

    /// The next command off the file, with its offset; `None` at a clean end (or, when
    /// allowed, at a cut-short tail).
    fn next_command(&mut self) -> Result<Option<(u64, Vec<Bytes>)>, ReplayError> {
        loop {
            if let Some(&first) = self.buf.first() {
                if first != b'*' {
                    return Err(ReplayError::Corrupt {
                        offset: self.offset,
                        reason: format!("expected '*', got {:?}", first as char),
                    });
                }
            }
            let before = self.buf.len();
            match self.decoder.decode(&mut self.buf) {
                Ok(Some(args)) => {
                    let at = self.offset;
                    self.offset += (before - self.buf.len()) as u64;
                    return Ok(Some((at, args)));
                }
                Ok(None) if self.eof => {
                    if self.buf.is_empty() {
                        return Ok(None);
                    }
                    return Err(ReplayError::Truncated {
                        offset: self.offset,
                    });
                }
                Ok(None) => self.fill()?,
                Err(error) => {
                    return Err(ReplayError::Corrupt {
                        offset: self.offset,
                        reason: error.to_string(),
                    })
                }
            }
        }
    }

    fn fill(&mut self) -> Result<(), ReplayError> {
        let mut chunk = vec![0u8; CHUNK];
        let n = self.input.read(&mut chunk).map_err(|e| ReplayError::Io {
            offset: self.read,
            source: e,
        })?;
        if n == 0 {
            self.eof = true;
        }
        self.read += n as u64;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// The next item, with the offset it starts at.
    pub fn next_item(&mut self) -> Result<Option<(u64, Item)>, ReplayError> {
        let truncated = |reader: &mut IncrReader<R>, at: u64| {
            if reader.allow_truncated {
                reader.truncated_at = Some(at);
                Ok(None)
            } else {
                Err(ReplayError::Truncated { offset: at })
            }
        };
        let first = match self.next_command() {
            Ok(Some(command)) => command,
            Ok(None) => return Ok(None),
            Err(ReplayError::Truncated { offset }) => return truncated(self, offset),
            Err(other) => return Err(other),
        };
        let (at, args) = first;
        if !args[0].eq_ignore_ascii_case(b"multi") {
            self.valid_len = self.offset;
            return Ok(Some((at, Item::Command(args))));
        }
        let mut queued = Vec::new();
        loop {
            match self.next_command() {
                Ok(Some((_, args))) if args[0].eq_ignore_ascii_case(b"exec") => {
                    self.valid_len = self.offset;
                    return Ok(Some((at, Item::Transaction(queued))));
                }
                Ok(Some((offset, args))) if args[0].eq_ignore_ascii_case(b"multi") => {
                    return Err(ReplayError::Corrupt {
                        offset,
                        reason: "MULTI inside MULTI".into(),
                    })
                }
                Ok(Some((_, args))) => queued.push(args),
                // A MULTI block the file ends inside: the whole block is the cut-short tail.
                Ok(None) | Err(ReplayError::Truncated { .. }) => return truncated(self, at),
                Err(other) => return Err(other),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    // Test code: a failed unwrap is a failed test.
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_stream_mark_reads_back_and_a_command_is_not_one() {
        let mut out = Vec::new();
        encode_stream_mark(&mut out, "abc", 12345, 7);
        let mut reader = IncrReader::new(&out[..], false);
        let Some((0, Item::Command(args))) = reader.next_item().unwrap() else {
            panic!("not a command");
        };
        assert_eq!(
            stream_mark(&args),
            Some(Some(("abc".to_string(), 12345, 7)))
        );
        let set: Vec<Bytes> = vec!["SET".into(), "k".into()];
        assert_eq!(stream_mark(&set), None);
        let short: Vec<Bytes> = vec![Bytes::from_static(STREAM_MARK), "abc".into()];
        assert_eq!(stream_mark(&short), Some(None));
    }

    fn effect(db: usize, line: &str) -> Effect {
        Effect::new(
            db,
            line.split(' ')
                .map(|w| Bytes::copy_from_slice(w.as_bytes())),
        )
    }

    fn words(line: &str) -> Vec<Bytes> {
        line.split(' ')
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    fn read_all(bytes: &[u8], allow: bool) -> Result<Vec<Item>, ReplayError> {
        let mut reader = IncrReader::new(bytes, allow);
        let mut items = Vec::new();
        while let Some((_, item)) = reader.next_item()? {
            items.push(item);
        }
        Ok(items)
    }

    /// A log of a plain command in db 0, a group of two in db 3, then one in db 3.
    fn sample() -> Vec<u8> {
        let mut out = Vec::new();
        let mut db = None;
        encode_group(&mut out, &mut db, &[effect(0, "SET a 1")]);
        encode_group(
            &mut out,
            &mut db,
            &[effect(3, "RPUSH q x"), effect(3, "LPOP q")],
        );
        encode_group(&mut out, &mut db, &[effect(3, "SET b 2")]);
        out
    }

    #[test]
    fn groups_are_encoded_with_select_and_multi_and_read_back() {
        let bytes = sample();
        let items = read_all(&bytes, false).unwrap();
        assert_eq!(
            items,
            vec![
                Item::Command(words("SELECT 0")),
                Item::Command(words("SET a 1")),
                Item::Transaction(vec![words("SELECT 3"), words("RPUSH q x"), words("LPOP q")]),
                Item::Command(words("SET b 2")),
            ]
        );
    }

    #[test]
    fn a_cut_short_tail_is_dropped_only_when_allowed() {
        let bytes = sample();
        let whole = read_all(&bytes, false).unwrap();
        for cut in 1..bytes.len() {
            let part = &bytes[..cut];
            let mut reader = IncrReader::new(part, true);
            let mut items = Vec::new();
            while let Some((_, item)) = reader.next_item().unwrap() {
                items.push(item);
            }
            // Whole items only, a prefix of the file's.
            assert_eq!(items[..], whole[..items.len()], "cut at {cut}");
            assert!(reader.valid_len() <= cut as u64);
            let strict = read_all(part, false);
            if reader.truncated_at().is_some() {
                assert!(
                    matches!(strict, Err(ReplayError::Truncated { .. })),
                    "cut at {cut}"
                );
            }
        }
    }

    #[test]
    fn garbage_is_corruption_with_its_offset() {
        let mut bytes = sample();
        let at = bytes.len();
        bytes.extend_from_slice(b"hello\r\n");
        match read_all(&bytes, true) {
            Err(ReplayError::Corrupt { offset, .. }) => assert_eq!(offset, at as u64),
            other => panic!("{other:?}"),
        }
        let mut nested = Vec::new();
        encode_command(&mut nested, &[b"MULTI"]);
        encode_command(&mut nested, &[b"MULTI"]);
        assert!(matches!(
            read_all(&nested, true),
            Err(ReplayError::Corrupt { .. })
        ));
    }

    #[test]
    fn manifests_round_trip_and_bad_ones_name_the_line() {
        let manifest = Manifest {
            base: Some(LogFile {
                name: base_name("appendonly.aof", 2),
                seq: 2,
                kind: FileKind::Base,
            }),
            incrementals: vec![LogFile {
                name: incremental_name("appendonly.aof", 5),
                seq: 5,
                kind: FileKind::Incremental,
            }],
        };
        let text = manifest.format();
        assert_eq!(
            text,
            "file appendonly.aof.2.base.kvs seq 2 type b\nfile appendonly.aof.5.incr.aof seq 5 type i\n"
        );
        assert_eq!(Manifest::parse(&text).unwrap(), manifest);
        for bad in [
            "file x seq 1",
            "file x seq one type i",
            "file a/b seq 1 type i",
            "file x seq 1 type z",
        ] {
            let error = Manifest::parse(&format!("# ok\n{bad}\n")).unwrap_err();
            assert_eq!(error.line, 2, "{bad}");
        }
    }
}
