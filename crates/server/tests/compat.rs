//! Differential compatibility test: kv must answer every command byte for byte like Redis 7.0.
//!
//! Two tests share the machinery below, each with its own pair of servers (a kv-server built
//! for these tests and Debian's `redis-server`, both on free loopback ports):
//!
//! - [`corpus_matches_redis`] replays the hand-written command sequences in `tests/compat/*.txt`.
//! - [`random_commands_match_redis`] replays seeded random commands drawn from [`TEMPLATES`].
//!
//! Every command goes to both servers as a RESP multibulk request; exactly one reply is read
//! from each with [`FrameDecoder`], and the raw reply bytes are compared. All differences are
//! collected and printed as one report at the end; the test fails when one of them is not
//! excused by `tests/compat/allowed.txt` (deliberate differences, also documented in
//! `docs/differences.md`).
//!
//! Keyspace notifications are compared too: each session enables [`NOTIFY_CLASSES`] on both
//! servers, and a second connection to each (an observer) subscribes to every notification
//! channel. After each command, each observer is pinged and the messages that arrived before
//! the pong are compared, as one more reply (shown as `events after: COMMAND`). The random
//! test holds both servers' active expire cycles still ([`active_expiry`]): each cycle
//! deletes a key past its TTL at a moment of its own, which changes what later commands find.
//! Its `expired` notifications are still matched across the session rather than command by
//! command, and one that the other server never sent (after a wait at the session's end) is a
//! difference (`expired events unmatched at the end of the session`).
//!
//! # Corpus format
//!
//! One command per line in redis-cli inline syntax (split by [`split_inline`], so quotes and
//! `\xHH` escapes work as in Redis inline commands). Blank lines and lines starting with `#` are
//! ignored. A `---` line starts a new, independent session: both servers are emptied with
//! FLUSHALL and reconnected, so protocol (HELLO 3), selected database and client name start
//! over. Two directives:
//!
//! - `!nondeterministic CMD ARGS...` sends the command to both but only checks that both
//!   replies have the same RESP type (so both are errors, or both are not): TIME, CLIENT ID,
//!   TTL and the like.
//! - `!sleep N` sleeps N milliseconds, for expiry tests.
//!
//! # Environment
//!
//! - `KV_COMPAT_SEED`: the random test's seed (decimal or `0x` hex; default [`DEFAULT_SEED`],
//!   so CI is reproducible). The seed is printed. Every random difference is printed as an
//!   inline command line that can be pasted into the corpus, followed by the earlier commands
//!   of its session that touched the same keys.
//! - `KV_COMPAT_RANDOM`: how many random commands to send (default [`DEFAULT_RANDOM`]).
//! - `KV_COMPAT_TRACE`: a file to write every random command to, one `random #N: COMMAND`
//!   line each, for differences whose history names other keys (a key that expired meanwhile).
//!
//! The same seed replays the same commands as long as kv's `COMMAND LIST` is unchanged: the
//! random test only uses templates for commands kv lists (see [`Template`]).

mod support;

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kv_resp::{split_inline, Frame, FrameDecoder, Limits};
use kv_testkit::Rng;
use support::Server;

/// Where the corpus and the allow-list live.
const COMPAT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/compat");

/// The allow-list's file name inside [`COMPAT_DIR`]; it is not a corpus file.
const ALLOWED_FILE: &str = "allowed.txt";

/// The keyspace notifications every session enables: every class, new keys included (key
/// misses are left out: they would double the traffic and mostly repeat the replies).
const NOTIFY_CLASSES: &str = "KEAn";

/// The random test's seed when `KV_COMPAT_SEED` is not set.
const DEFAULT_SEED: u64 = 0x6b76_636f_6d70_6174;

/// How many random commands to send when `KV_COMPAT_RANDOM` is not set.
const DEFAULT_RANDOM: usize = 2000;

/// Random commands per session: a fresh session now and then keeps one early difference from
/// cascading into every later reply.
const RANDOM_SESSION_LEN: usize = 100;

/// At most this many differences are printed in full; the rest are only counted.
const MAX_PRINTED: usize = 200;

/// Longest reply, in bytes, shown whole in the report; longer ones are shown in part.
const MAX_SHOWN: usize = 300;

/// How many agreeing bytes the report shows before the first difference of a long reply.
const SHOWN_BEFORE_DIFFERENCE: usize = 60;

// ------------------------------------------------------------------------------------------
// The two tests
// ------------------------------------------------------------------------------------------

/// Replays every corpus file against both servers.
#[test]
fn corpus_matches_redis() {
    let allowed = AllowList::load();
    let sessions = load_corpus();
    let mut pair = Pair::start();
    let mut run = Run::default();
    for session in &sessions {
        pair.fresh_session();
        let mut last_place = None;
        for step in &session.steps {
            match step {
                Step::Sleep(ms) => std::thread::sleep(Duration::from_millis(*ms)),
                Step::Command(command) => {
                    run.check(&mut pair, command);
                    last_place = Some(&command.place);
                }
            }
        }
        // The whole dataset each session leaves behind must agree too, not only the replies.
        if let Some(place) = last_place {
            let command = digest(place);
            let (kv, redis) = pair.call(&command.args);
            if kv.raw() != redis.raw() {
                // Keys whose TTL ran out as the session ended go when each server's expiry
                // gets to them (Redis counts one until then, kv not at all): give both a
                // second to finish before comparing for good.
                std::thread::sleep(Duration::from_millis(1100));
            }
            run.check(&mut pair, &command);
        }
    }
    let title = format!(
        "compat corpus: {} commands in {} sessions from {}",
        run.checked,
        sessions.len(),
        COMPAT_DIR
    );
    finish(&title, &run, &allowed);
}

/// Replays `KV_COMPAT_RANDOM` seeded random commands against both servers.
#[test]
fn random_commands_match_redis() {
    let allowed = AllowList::load();
    let seed = env_number("KV_COMPAT_SEED").unwrap_or(DEFAULT_SEED);
    let count = env_number("KV_COMPAT_RANDOM").map_or(DEFAULT_RANDOM, |n| n as usize);
    let mut pair = Pair::start();
    let implemented = pair.kv_command_list();
    let templates: Vec<&Template> = TEMPLATES
        .iter()
        .filter(|t| implemented.contains(&t.command.to_ascii_lowercase()))
        .collect();
    assert!(!templates.is_empty(), "kv implements none of the templates");
    let exact_templates: Vec<&Template> = templates
        .iter()
        .copied()
        .filter(|t| t.compare == Compare::Exact)
        .collect();
    println!(
        "==> compat random: seed {seed:#x} (set KV_COMPAT_SEED to change), {count} commands, \
         {} of {} templates active",
        templates.len(),
        TEMPLATES.len()
    );
    let mut rng = Rng(seed);
    let mut run = Run {
        expired_lag: Some(ExpiredLag::default()),
        ..Run::default()
    };
    let mut session: Vec<Command> = Vec::new();
    let mut trace = std::env::var_os("KV_COMPAT_TRACE").map(|path| {
        std::fs::File::create(&path)
            .map(std::io::BufWriter::new)
            .unwrap_or_else(|e| panic!("cannot create KV_COMPAT_TRACE {path:?}: {e}"))
    });
    // Whether a MULTI is open on the connection (see the transaction templates).
    let mut in_transaction = false;
    for i in 0..count {
        if i % RANDOM_SESSION_LEN == 0 {
            if i > 0 {
                run.settle_expired(&mut pair, &format!("random #{}", i - 1));
            }
            pair.fresh_session();
            active_expiry(&mut pair, false);
            session.clear();
            in_transaction = false;
            // Every other session speaks RESP3, where nulls, maps and doubles look different.
            if (i / RANDOM_SESSION_LEN) % 2 == 1 {
                run.check(&mut pair, &hello3(format!("random #{i}")));
            }
        }
        let pool = if in_transaction {
            &exact_templates
        } else {
            &templates
        };
        let mut template = *rng.pick(pool);
        let mut args = generate(&mut rng, template);
        // A difference the allow-list excuses (ZRANK's third argument: queued by kv, an arity
        // error for Redis 7.0) would decide whether a whole transaction runs, and every
        // reply after it would differ: inside MULTI, draw again.
        for _ in 0..100 {
            if !in_transaction || allowed.reason_for(&render_inline(&args)).is_none() {
                break;
            }
            template = *rng.pick(pool);
            args = generate(&mut rng, template);
        }
        // MULTI opens a transaction and EXEC or DISCARD ends it, unless refused for their
        // arity (that leaves the state as it was; a nested MULTI keeps it open).
        if args.len() == 1 {
            match template.command {
                "MULTI" => in_transaction = true,
                "EXEC" | "DISCARD" => in_transaction = false,
                _ => {}
            }
        }
        let command = Command {
            place: format!("random #{i}"),
            text: render_inline(&args),
            args,
            compare: template.compare,
        };
        if let Some(trace) = &mut trace {
            writeln!(trace, "{}: {}", command.place, command.text).expect("trace file written");
        }
        if run.check(&mut pair, &command) {
            let difference = run.differences.last_mut().expect("check just recorded it");
            difference.context = related(&session, &command);
        }
        session.push(command);
    }
    run.settle_expired(&mut pair, &format!("random #{}", count.saturating_sub(1)));
    let title = format!("compat random: {count} commands, seed {seed:#x}");
    finish(&title, &run, &allowed);
}

/// Runs (`on`) or holds still both servers' active expire cycles (`DEBUG SET-ACTIVE-EXPIRE`).
/// The random test holds them, so that a key past its TTL goes only when a command meets it,
/// at the same command on both: each cycle deletes it at a moment of its own, and what a
/// command then finds differs (an emptying `*STORE` into it sends `del` where the key is still
/// there, nothing where the cycle sent `expired` before: both are Redis's behaviour, at
/// different moments).
fn active_expiry(pair: &mut Pair, on: bool) {
    let args = [
        Bytes::from_static(b"DEBUG"),
        Bytes::from_static(b"SET-ACTIVE-EXPIRE"),
        Bytes::from_static(if on { b"1" } else { b"0" }),
    ];
    let (kv, redis) = pair.call(&args);
    for reply in [kv, redis] {
        assert_eq!(reply.raw(), b"+OK\r\n", "DEBUG SET-ACTIVE-EXPIRE");
    }
}

/// `DEBUG DIGEST` after the session that ended at `place`: kv's digest is Redis 7.0's
/// algorithm, so equal datasets give equal digests. Reported (and allowed) as
/// `dataset after <place>`.
fn digest(place: &str) -> Command {
    Command {
        place: place.to_owned(),
        text: format!("dataset after {place}"),
        args: vec![Bytes::from_static(b"DEBUG"), Bytes::from_static(b"DIGEST")],
        compare: Compare::Exact,
    }
}

/// `HELLO 3`, compared by type only: its reply holds the server version and client id.
fn hello3(place: String) -> Command {
    Command {
        place,
        text: "HELLO 3".to_owned(),
        args: vec![Bytes::from_static(b"HELLO"), Bytes::from_static(b"3")],
        compare: Compare::TypeOnly,
    }
}

/// The last few commands of `session` that name one of the keys `command` names, plus every
/// SELECT and SWAPDB: the history needed to replay a random difference.
fn related(session: &[Command], command: &Command) -> Vec<String> {
    const MAX_CONTEXT: usize = 12;
    let keys: Vec<&Bytes> = command.args[1..]
        .iter()
        .filter(|a| KEYS.contains(&a.as_ref()) || LEX_KEYS.contains(&a.as_ref()))
        .collect();
    let shares_arg = |earlier: &Command| {
        let name = earlier.args[0].to_ascii_uppercase();
        matches!(name.as_slice(), b"SELECT" | b"SWAPDB")
            || earlier.args[1..].iter().any(|a| keys.contains(&a))
    };
    let mut context: Vec<String> = session
        .iter()
        .rev()
        .filter(|earlier| shares_arg(earlier))
        .take(MAX_CONTEXT)
        .map(|earlier| format!("{}: {}", earlier.place, earlier.text))
        .collect();
    context.reverse();
    context
}

/// Reads an unsigned number from the environment, decimal or `0x` hex.
fn env_number(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    let text = text.trim();
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    Some(parsed.unwrap_or_else(|e| panic!("{name}={text:?} is not a number: {e}")))
}

// ------------------------------------------------------------------------------------------
// The corpus
// ------------------------------------------------------------------------------------------

/// How two replies are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compare {
    /// The raw bytes must be identical.
    Exact,
    /// Only the RESP type byte must agree (`!nondeterministic`).
    TypeOnly,
}

/// One command to send to both servers.
#[derive(Debug)]
struct Command {
    /// Where it comes from, for the report: `file.txt:12` or `random #7`.
    place: String,
    /// The command as written (or rendered as an inline line), for the report and allow-list.
    text: String,
    /// The arguments, command name first.
    args: Vec<Bytes>,
    compare: Compare,
}

/// One line of a session that does something.
#[derive(Debug)]
enum Step {
    Command(Command),
    /// `!sleep N`, in milliseconds.
    Sleep(u64),
}

/// Commands that run on a fresh pair of connections to emptied servers.
#[derive(Debug, Default)]
struct Session {
    steps: Vec<Step>,
}

/// Reads every `*.txt` corpus file (except the allow-list), in name order.
fn load_corpus() -> Vec<Session> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(COMPAT_DIR)
        .expect("the corpus directory tests/compat must exist")
        .map(|entry| entry.expect("readable corpus directory").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .filter(|p| p.file_name().is_some_and(|n| n != ALLOWED_FILE))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus files in {COMPAT_DIR}");
    files.iter().flat_map(|path| parse_file(path)).collect()
}

/// Splits one corpus file into sessions.
fn parse_file(path: &Path) -> Vec<Session> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .expect("a corpus path has a file name");
    let text = std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {name}: {e}"));
    let mut sessions = vec![Session::default()];
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        let place = format!("{name}:{}", i + 1);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let trimmed = line.trim_ascii();
        if trimmed.is_empty() || trimmed.starts_with(b"#") {
            continue;
        }
        if trimmed == b"---" {
            sessions.push(Session::default());
            continue;
        }
        let step = parse_step(place, trimmed);
        sessions
            .last_mut()
            .expect("there is always a current session")
            .steps
            .push(step);
    }
    sessions.retain(|s| !s.steps.is_empty());
    sessions
}

/// Parses a non-blank, non-comment line: a directive or a command.
fn parse_step(place: String, line: &[u8]) -> Step {
    if let Some(ms) = line.strip_prefix(b"!sleep ") {
        let ms = std::str::from_utf8(ms)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| panic!("{place}: `!sleep` wants milliseconds"));
        return Step::Sleep(ms);
    }
    let (compare, command) = match line.strip_prefix(b"!nondeterministic ") {
        Some(rest) => (Compare::TypeOnly, rest),
        None => (Compare::Exact, line),
    };
    assert!(
        !command.starts_with(b"!"),
        "{place}: unknown directive (only `!sleep N` and `!nondeterministic CMD`)"
    );
    let args = split_inline(command).unwrap_or_else(|e| panic!("{place}: {e}"));
    assert!(!args.is_empty(), "{place}: no command");
    Step::Command(Command {
        place,
        text: String::from_utf8_lossy(command).into_owned(),
        args,
        compare,
    })
}

// ------------------------------------------------------------------------------------------
// Talking to the servers
// ------------------------------------------------------------------------------------------

/// What one server answered to one command.
#[derive(Debug, Clone)]
enum Reply {
    /// One complete frame: its exact bytes, and the frame decoded from them.
    Frame { raw: Vec<u8>, frame: Frame },
    /// No frame: the connection closed, timed out, or sent bytes that are not RESP.
    Failed(String),
}

impl Reply {
    /// The reply's bytes; none for a failure.
    fn raw(&self) -> &[u8] {
        match self {
            Reply::Frame { raw, .. } => raw,
            Reply::Failed(_) => &[],
        }
    }

    /// The escaped text shown in the report. A long reply is shown from a little before
    /// `first_difference` (a byte offset), so the report shows where it stops agreeing.
    fn show(&self, first_difference: usize) -> String {
        match self {
            Reply::Frame { raw, .. } if raw.len() > MAX_SHOWN => {
                let start = first_difference.saturating_sub(SHOWN_BEFORE_DIFFERENCE);
                let end = raw.len().min(start + MAX_SHOWN);
                let part = escape(&raw[start.min(end)..end]);
                format!("bytes {start}..{end} of {}: {part}", raw.len())
            }
            Reply::Frame { raw, .. } => escape(raw),
            Reply::Failed(why) => format!("<no reply: {why}>"),
        }
    }
}

/// The offset of the first byte where `a` and `b` differ (the shorter length if one is a
/// prefix of the other).
fn first_difference(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// A raw connection that reads replies one frame at a time, keeping their bytes.
struct Conn {
    stream: TcpStream,
    /// Bytes read but not yet decoded; the decoder only ever sees this grow between calls.
    buf: BytesMut,
    /// The same bytes as `buf`, kept because decoding consumes them and the report wants them.
    raw: Vec<u8>,
    decoder: FrameDecoder,
    /// Set after a failure: the stream can no longer be trusted, so later calls fail at once
    /// instead of each waiting for the read timeout.
    broken: Option<String>,
}

impl Conn {
    /// Connects to `server`, with the support module's read timeout.
    fn open(server: &Server) -> Conn {
        let stream = server.raw();
        stream
            .set_write_timeout(Some(Duration::from_secs(5)))
            .expect("set a write timeout");
        Conn {
            stream,
            buf: BytesMut::new(),
            raw: Vec::new(),
            decoder: FrameDecoder::new(Limits::DEFAULT),
            broken: None,
        }
    }

    /// A connection that enables [`NOTIFY_CLASSES`] and subscribes to every keyspace
    /// notification.
    fn observer(server: &Server) -> Conn {
        let mut conn = Conn::open(server);
        let words = |text: &str| -> Vec<Bytes> {
            text.split(' ')
                .map(|w| Bytes::copy_from_slice(w.as_bytes()))
                .collect()
        };
        let set = format!("CONFIG SET notify-keyspace-events {NOTIFY_CLASSES}");
        conn.call(&words(&set));
        conn.call(&words("PSUBSCRIBE __key*__:*"));
        conn
    }

    /// Pings this observer and gathers the messages that come before the pong, as one
    /// reply: the concatenation of their bytes (empty when none came).
    fn events(&mut self) -> Reply {
        if let Err(why) = self.send(&[Bytes::from_static(b"PING")]) {
            return Reply::Failed(why);
        }
        let mut raw = Vec::new();
        let mut frames = Vec::new();
        loop {
            match self.read_reply() {
                Ok(Reply::Frame { raw: bytes, frame }) => {
                    if bytes.starts_with(b"*2\r\n$4\r\npong\r\n") {
                        return Reply::Frame {
                            raw,
                            frame: Frame::Array(frames),
                        };
                    }
                    raw.extend_from_slice(&bytes);
                    frames.push(frame);
                }
                Ok(failed) => return failed,
                Err(why) => return Reply::Failed(why),
            }
        }
    }

    /// Sends `args` as a multibulk request and reads exactly one reply.
    fn call(&mut self, args: &[Bytes]) -> Reply {
        if let Some(why) = &self.broken {
            return Reply::Failed(format!("connection unusable since earlier: {why}"));
        }
        let reply = self.send(args).and_then(|()| self.read_reply());
        reply.unwrap_or_else(|why| {
            self.broken = Some(why.clone());
            Reply::Failed(why)
        })
    }

    /// Writes one request.
    fn send(&mut self, args: &[Bytes]) -> Result<(), String> {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_ref()).collect();
        self.stream
            .write_all(&support::resp(&args))
            .map_err(|e| format!("write failed: {e}"))
    }

    /// Reads until one whole frame has arrived and returns it with its bytes.
    fn read_reply(&mut self) -> Result<Reply, String> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            let before = self.buf.len();
            match self.decoder.decode(&mut self.buf) {
                Ok(Some(frame)) => {
                    let used = before - self.buf.len();
                    let raw = self.raw.drain(..used).collect();
                    return Ok(Reply::Frame { raw, frame });
                }
                Ok(None) => {}
                Err(e) => return Err(format!("not RESP: {e}")),
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err("connection closed".to_owned()),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    self.raw.extend_from_slice(&chunk[..n]);
                }
                Err(e) => return Err(format!("read failed: {e}")),
            }
        }
    }
}

/// Both servers allow DEBUG, for the dataset digests compared after each session.
const DEBUG_ON: &[&str] = &["--enable-debug-command", "yes"];

/// A kv-server and a redis-server, with one connection to each, and one observer of each
/// one's keyspace notifications.
struct Pair {
    kv: Server,
    redis: Server,
    kv_conn: Conn,
    redis_conn: Conn,
    kv_events: Conn,
    redis_events: Conn,
}

impl Pair {
    /// Starts both servers and connects to them.
    fn start() -> Pair {
        let kv = Server::kv(DEBUG_ON);
        let redis = Server::redis(DEBUG_ON);
        let kv_conn = Conn::open(&kv);
        let redis_conn = Conn::open(&redis);
        let kv_events = Conn::observer(&kv);
        let redis_events = Conn::observer(&redis);
        Pair {
            kv,
            redis,
            kv_conn,
            redis_conn,
            kv_events,
            redis_events,
        }
    }

    /// Starts a session: both servers emptied, fresh connections (so RESP2, database 0).
    ///
    /// A server that cannot FLUSHALL (kv before it implements the command) is restarted
    /// instead, which empties it just as well.
    fn fresh_session(&mut self) {
        if !flushall(&mut Conn::open(&self.kv)) {
            self.kv = Server::kv(DEBUG_ON);
        }
        if !flushall(&mut Conn::open(&self.redis)) {
            self.redis = Server::redis(DEBUG_ON);
        }
        self.kv_conn = Conn::open(&self.kv);
        self.redis_conn = Conn::open(&self.redis);
        self.kv_events = Conn::observer(&self.kv);
        self.redis_events = Conn::observer(&self.redis);
    }

    /// The notifications each observer received since the last call: kv's, then Redis's.
    fn events(&mut self) -> (Reply, Reply) {
        (self.kv_events.events(), self.redis_events.events())
    }

    /// Sends `args` to both servers: kv's reply first, then Redis's.
    fn call(&mut self, args: &[Bytes]) -> (Reply, Reply) {
        (self.kv_conn.call(args), self.redis_conn.call(args))
    }

    /// The lower-case names `COMMAND LIST` reports on kv: what the random test may send.
    fn kv_command_list(&mut self) -> Vec<String> {
        let args = [Bytes::from_static(b"COMMAND"), Bytes::from_static(b"LIST")];
        let Reply::Frame {
            frame: Frame::Array(names),
            ..
        } = Conn::open(&self.kv).call(&args)
        else {
            panic!("kv-server did not answer COMMAND LIST with an array");
        };
        names
            .iter()
            .filter_map(|name| match name {
                Frame::Bulk(b) | Frame::Simple(b) => {
                    Some(String::from_utf8_lossy(b).to_ascii_lowercase())
                }
                _ => None,
            })
            .collect()
    }
}

/// Sends FLUSHALL on `conn`; whether the server answered `+OK`.
fn flushall(conn: &mut Conn) -> bool {
    let reply = conn.call(&[Bytes::from_static(b"FLUSHALL")]);
    matches!(reply, Reply::Frame { raw, .. } if raw == b"+OK\r\n")
}

// ------------------------------------------------------------------------------------------
// Comparing and reporting
// ------------------------------------------------------------------------------------------

/// One command whose replies differ.
#[derive(Debug)]
struct Difference {
    place: String,
    command: String,
    kv: String,
    redis: String,
    /// Earlier commands of the session that explain the state, shown under the difference.
    context: Vec<String>,
}

/// What one test has seen so far.
#[derive(Debug, Default)]
struct Run {
    checked: usize,
    /// How many of them Redis answered with an error: a generator that produces mostly
    /// errors tests little beyond argument checking.
    errors: usize,
    differences: Vec<Difference>,
    /// `expired` notifications not yet matched, when they may come at different commands
    /// (the random test); `None` compares them command by command like the rest.
    expired_lag: Option<ExpiredLag>,
}

/// Each server's `expired` notifications (RESP bytes) that the other has not sent yet.
#[derive(Debug, Default)]
struct ExpiredLag {
    kv: Vec<Vec<u8>>,
    redis: Vec<Vec<u8>>,
}

impl ExpiredLag {
    /// Adds the servers' new notifications and drops every pair that now matches.
    fn add(&mut self, kv: Vec<Vec<u8>>, redis: Vec<Vec<u8>>) {
        self.kv.extend(kv);
        self.redis.extend(redis);
        let mut i = 0;
        while i < self.kv.len() {
            if let Some(j) = self.redis.iter().position(|r| *r == self.kv[i]) {
                self.redis.remove(j);
                self.kv.remove(i);
            } else {
                i += 1;
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.kv.is_empty() && self.redis.is_empty()
    }
}

/// Takes the `expired` notifications out of an observer's `events`: returns the rest, as a
/// reply of its own, and the RESP bytes of each `expired` one.
fn split_expired(events: Reply) -> (Reply, Vec<Vec<u8>>) {
    let Reply::Frame {
        frame: Frame::Array(messages),
        ..
    } = events
    else {
        return (events, Vec::new());
    };
    let (expired, rest): (Vec<Frame>, Vec<Frame>) =
        messages.into_iter().partition(is_expired_notification);
    let encoded = |frame: &Frame| {
        let mut bytes = BytesMut::new();
        kv_resp::encode::encode(frame, kv_resp::Protocol::Resp2, &mut bytes);
        bytes.to_vec()
    };
    let raw = rest.iter().flat_map(encoded).collect();
    let expired = expired.iter().map(encoded).collect();
    (
        Reply::Frame {
            raw,
            frame: Frame::Array(rest),
        },
        expired,
    )
}

/// Whether `message` (a `pmessage` of the observer) tells of a key that expired.
fn is_expired_notification(message: &Frame) -> bool {
    let Frame::Array(parts) = message else {
        return false;
    };
    match parts.as_slice() {
        [_, _, Frame::Bulk(channel), Frame::Bulk(payload)] => {
            (channel.starts_with(b"__keyspace@") && payload.as_ref() == b"expired")
                || (channel.starts_with(b"__keyevent@") && channel.ends_with(b"__:expired"))
        }
        _ => false,
    }
}

impl Run {
    /// Sends `command` to both servers and records a difference if their replies disagree.
    /// Returns whether they disagreed.
    fn check(&mut self, pair: &mut Pair, command: &Command) -> bool {
        self.checked += 1;
        let (kv, redis) = pair.call(&command.args);
        if matches!(redis.raw().first(), Some(b'-' | b'!')) {
            self.errors += 1;
        }
        let mut differ = false;
        if !agree(command.compare, &kv, &redis) {
            self.record(command, &command.text, &kv, &redis);
            differ = true;
        }
        let (kv, redis) = self.unmatched_events(pair);
        if !agree(Compare::Exact, &kv, &redis) {
            self.record(
                command,
                &format!("events after: {}", command.text),
                &kv,
                &redis,
            );
            differ = true;
        }
        differ
    }

    /// The notifications both observers received since the last call (kv's, then Redis's),
    /// less the `expired` ones that [`Run::expired_lag`] matches across commands.
    fn unmatched_events(&mut self, pair: &mut Pair) -> (Reply, Reply) {
        let (kv, redis) = pair.events();
        let Some(lag) = &mut self.expired_lag else {
            return (kv, redis);
        };
        let (kv, kv_expired) = split_expired(kv);
        let (redis, redis_expired) = split_expired(redis);
        lag.add(kv_expired, redis_expired);
        (kv, redis)
    }

    /// At the end of a session (before its keys are flushed), waits for both active expire
    /// cycles to catch up if an `expired` notification is still unmatched, then records what
    /// remains unmatched as a difference at `place`.
    fn settle_expired(&mut self, pair: &mut Pair, place: &str) {
        if self.expired_lag.as_ref().is_none_or(ExpiredLag::is_empty) {
            return;
        }
        // Keys one server has deleted (RANDOMKEY deletes those it happens to pick) may still be
        // on the other: both cycles run for two periods at hz 10, then are held again.
        active_expiry(pair, true);
        std::thread::sleep(Duration::from_millis(300));
        active_expiry(pair, false);
        let command = Command {
            place: place.to_owned(),
            text: "expired events unmatched at the end of the session".to_owned(),
            args: Vec::new(),
            compare: Compare::Exact,
        };
        let (kv, redis) = self.unmatched_events(pair);
        if !agree(Compare::Exact, &kv, &redis) {
            self.record(&command, "events at the end of the session", &kv, &redis);
        }
        let lag = self.expired_lag.take().unwrap_or_default();
        if !lag.is_empty() {
            let unmatched = |messages: Vec<Vec<u8>>| Reply::Frame {
                raw: messages.concat(),
                frame: Frame::Array(Vec::new()),
            };
            self.record(
                &command,
                &command.text,
                &unmatched(lag.kv),
                &unmatched(lag.redis),
            );
        }
        self.expired_lag = Some(ExpiredLag::default());
    }

    /// Records that `kv` and `redis` differ after `command`, reported as `text`.
    fn record(&mut self, command: &Command, text: &str, kv: &Reply, redis: &Reply) {
        let at = first_difference(kv.raw(), redis.raw());
        self.differences.push(Difference {
            place: command.place.clone(),
            command: text.to_owned(),
            kv: kv.show(at),
            redis: redis.show(at),
            context: Vec::new(),
        });
    }
}

/// Whether two replies agree under `compare`.
fn agree(compare: Compare, kv: &Reply, redis: &Reply) -> bool {
    match (kv, redis) {
        (Reply::Frame { raw: a, .. }, Reply::Frame { raw: b, .. }) => match compare {
            Compare::Exact => a == b,
            // The first byte is the RESP type, so this also means "both errors or neither".
            Compare::TypeOnly => a.first() == b.first(),
        },
        // Both closed the connection (QUIT). Whether the next read sees EOF or a reset is up to
        // TCP timing, so the reasons are not compared.
        (Reply::Failed(_), Reply::Failed(_)) => true,
        _ => false,
    }
}

/// Prints the report for `run` and fails the test if a difference is not allowed.
fn finish(title: &str, run: &Run, allowed: &AllowList) {
    let mut report = String::new();
    let mut unexpected = 0;
    for (i, diff) in run.differences.iter().enumerate() {
        let excuse = allowed.reason_for(&diff.command);
        if excuse.is_none() {
            unexpected += 1;
        }
        if i < MAX_PRINTED {
            let tag = excuse.map_or(String::new(), |why| format!("  [allowed: {why}]"));
            // Writing to a String cannot fail.
            let _ = write!(
                report,
                "{}: {}{tag}\n    kv:    {}\n    redis: {}\n",
                diff.place, diff.command, diff.kv, diff.redis
            );
            for earlier in &diff.context {
                let _ = writeln!(report, "    after  {earlier}");
            }
        }
    }
    if run.differences.len() > MAX_PRINTED {
        let _ = writeln!(
            report,
            "... and {} more differences",
            run.differences.len() - MAX_PRINTED
        );
    }
    let unused: Vec<&str> = allowed
        .entries
        .iter()
        .filter(|(pattern, _)| {
            !run.differences
                .iter()
                .any(|d| glob_match(pattern.as_bytes(), d.command.as_bytes()))
        })
        .map(|(pattern, _)| pattern.as_str())
        .collect();
    if !unused.is_empty() {
        // Not an error: the random test meets only some of them. In the corpus run it hints
        // that a deliberate difference is gone and its entry can go too.
        let _ = writeln!(
            report,
            "allow-list entries that excused nothing: {unused:?}"
        );
    }
    let total = run.differences.len();
    println!(
        "==> {title} ({} answered with an error by Redis): {total} differences \
         ({} allowed, {unexpected} unexpected)\n{report}",
        run.errors,
        total - unexpected
    );
    assert_eq!(
        unexpected, 0,
        "{title}: {unexpected} replies differ from Redis and are not in tests/compat/{ALLOWED_FILE} \
         (report above)"
    );
}

/// The deliberate differences: `tests/compat/allowed.txt`.
///
/// Each non-comment line is `PATTERN # REASON`: a glob (`*` any run of characters, `?` one
/// character, compared ignoring ASCII case) matched against the command as written in the
/// corpus or rendered by the random test. The reason is required; the same difference must be
/// documented in `docs/differences.md`.
#[derive(Debug)]
struct AllowList {
    entries: Vec<(String, String)>,
}

impl AllowList {
    /// Reads the allow-list; a missing file means nothing is allowed.
    fn load() -> AllowList {
        let path = Path::new(COMPAT_DIR).join(ALLOWED_FILE);
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let entries = text
            .lines()
            .enumerate()
            .map(|(i, line)| (i + 1, line.trim()))
            .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
            .map(|(n, line)| {
                let (pattern, reason) = line
                    .rsplit_once(" # ")
                    .unwrap_or_else(|| panic!("{ALLOWED_FILE}:{n}: want `PATTERN # REASON`"));
                (pattern.trim().to_owned(), reason.trim().to_owned())
            })
            .collect();
        AllowList { entries }
    }

    /// The reason `command` may differ, if an entry matches it.
    fn reason_for(&self, command: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(pattern, _)| glob_match(pattern.as_bytes(), command.as_bytes()))
            .map(|(_, reason)| reason.as_str())
    }
}

/// Glob matching with `*` and `?` only, ignoring ASCII case: enough for the allow-list.
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| glob_match(rest, &text[skip..])),
        Some((&p, rest)) => match text.split_first() {
            Some((&t, text_rest)) if p == b'?' || p.eq_ignore_ascii_case(&t) => {
                glob_match(rest, text_rest)
            }
            _ => false,
        },
    }
}

/// Bytes as printable text in double quotes, with the escapes [`split_inline`] understands:
/// `\"`, `\\`, `\r`, `\n`, `\t` and `\xHH` for any other byte that is not printable ASCII.
fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b' ' | b'!'..=b'~' => out.push(char::from(b)),
            _ => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push('"');
    out
}

/// Renders arguments as one inline command line that [`split_inline`] splits back into them,
/// so a random difference can be pasted into the corpus as is.
fn render_inline(args: &[Bytes]) -> String {
    let words: Vec<String> = args.iter().map(|a| render_arg(a)).collect();
    words.join(" ")
}

/// One argument for [`render_inline`]: bare when that is unambiguous, else double-quoted.
fn render_arg(arg: &[u8]) -> String {
    let bare = !arg.is_empty()
        && arg
            .iter()
            .all(|&b| b.is_ascii_graphic() && b != b'"' && b != b'\'' && b != b'\\');
    if bare {
        String::from_utf8_lossy(arg).into_owned()
    } else {
        escape(arg)
    }
}

/// The report's rendering of random commands must read back as the same arguments, or a
/// pasted reproduction would test something else.
#[test]
fn rendered_commands_split_back() {
    let pools = [
        KEYS,
        VALUES,
        INTS,
        FLOATS,
        INDEXES,
        OFFSETS,
        TTLS,
        ABSTIMES,
        DBS,
        LEX_KEYS,
        MEMBERS,
        SCORES,
        SCORE_BOUNDS,
        LEX_BOUNDS,
        LIMITS,
        WEIGHTS,
    ];
    let args: Vec<Bytes> = pools
        .iter()
        .flat_map(|pool| pool.iter())
        .map(|arg| Bytes::from_static(arg))
        .chain([Bytes::from_static(b"\\x41\"'\t\x7f\x80")])
        .collect();
    let split = split_inline(render_inline(&args).as_bytes()).expect("rendered line splits");
    assert_eq!(split, args);
}

/// The allow-list's glob: `*`, `?`, ASCII case ignored, the whole text must match.
#[test]
fn allow_list_globs() {
    assert!(glob_match(b"DUMP *", b"dump key"));
    assert!(glob_match(
        b"OBJECT ENCODING after-*",
        b"OBJECT ENCODING after-append"
    ));
    assert!(glob_match(b"GET ?", b"GET a"));
    assert!(!glob_match(b"GET ?", b"GET ab"));
    assert!(!glob_match(b"DUMP *", b"RESTORE DUMP x"));
    assert!(glob_match(b"*", b""));
}

/// `expired` notifications are taken out of an observer's messages, and each one is matched
/// with the other server's however many commands apart they come.
#[test]
fn expired_notifications_match_across_commands() {
    let message = |channel: &str, payload: &str| {
        Frame::Array(
            ["pmessage", "__key*__:*", channel, payload]
                .into_iter()
                .map(|part| Frame::Bulk(Bytes::copy_from_slice(part.as_bytes())))
                .collect(),
        )
    };
    let events = Reply::Frame {
        raw: Vec::new(),
        frame: Frame::Array(vec![
            message("__keyspace@0__:k", "expired"),
            message("__keyspace@0__:k", "del"),
            message("__keyevent@0__:expired", "k"),
        ]),
    };
    let (rest, expired) = split_expired(events);
    let mut del = BytesMut::new();
    kv_resp::encode::encode(
        &message("__keyspace@0__:k", "del"),
        kv_resp::Protocol::Resp2,
        &mut del,
    );
    assert_eq!(rest.raw(), &del[..]);
    assert_eq!(expired.len(), 2);
    let mut lag = ExpiredLag::default();
    lag.add(expired.clone(), Vec::new());
    lag.add(Vec::new(), expired[1..].to_vec());
    assert_eq!(lag.kv, expired[..1]);
    assert!(lag.redis.is_empty());
    lag.add(Vec::new(), expired[..1].to_vec());
    assert!(lag.is_empty());
}

// ------------------------------------------------------------------------------------------
// The random generator
// ------------------------------------------------------------------------------------------

/// A random argument from one of the static pools.
fn pick_bytes(rng: &mut Rng, items: &[&'static [u8]]) -> Bytes {
    Bytes::from_static(items[rng.below(items.len())])
}

/// A command shape for the random test: a command name and its argument template.
///
/// `args` is a space-separated list of literal words and `{placeholders}`; each placeholder
/// expands to zero or more arguments (see [`expand`]). Templates whose command kv does not list
/// in `COMMAND LIST` are skipped, so templates for commands being implemented can be added
/// ahead of time and start running the day kv gains the command.
#[derive(Debug)]
struct Template {
    command: &'static str,
    args: &'static str,
    compare: Compare,
}

/// A template compared byte for byte.
const fn exact(command: &'static str, args: &'static str) -> Template {
    Template {
        command,
        args,
        compare: Compare::Exact,
    }
}

/// A template whose replies are compared by type only (relative TTL readings).
const fn type_only(command: &'static str, args: &'static str) -> Template {
    Template {
        command,
        args,
        compare: Compare::TypeOnly,
    }
}

/// Every random command shape.
///
/// Relative expiry times are set but never read back exactly (the reading depends on when each
/// server ran the command): TTL and friends compare by type only. GT and LT come only with
/// absolute times, which lie years away from any relative expiry, so no comparison they make
/// can depend on timing.
const TEMPLATES: &[Template] = &[
    // Strings.
    exact("SET", "{key} {val} {setopts}"),
    exact("SET", "{key} {val}"),
    exact("GET", "{key}"),
    exact("GETEX", "{key} {getexopts}"),
    exact("GETDEL", "{key}"),
    exact("GETSET", "{key} {val}"),
    exact("MGET", "{keys}"),
    exact("MSET", "{pairs}"),
    exact("MSETNX", "{pairs}"),
    exact("SETNX", "{key} {val}"),
    exact("SETEX", "{key} {ttl} {val}"),
    exact("PSETEX", "{key} {ttl} {val}"),
    exact("APPEND", "{key} {val}"),
    exact("STRLEN", "{key}"),
    exact("GETRANGE", "{key} {index} {index}"),
    exact("SUBSTR", "{key} {index} {index}"),
    exact("SETRANGE", "{key} {offset} {val}"),
    exact("INCR", "{key}"),
    exact("DECR", "{key}"),
    exact("INCRBY", "{key} {int}"),
    exact("DECRBY", "{key} {int}"),
    exact("INCRBYFLOAT", "{key} {float}"),
    exact("LCS", "{key} {key} {lcsopts}"),
    // Lists (their element order is deterministic, so every reply compares exactly).
    exact("LPUSH", "{key} {vals}"),
    exact("RPUSH", "{key} {vals}"),
    exact("LPUSHX", "{key} {vals}"),
    exact("RPUSHX", "{key} {vals}"),
    exact("LPOP", "{key}"),
    exact("RPOP", "{key} {index}"),
    exact("LLEN", "{key}"),
    exact("LRANGE", "{key} {index} {index}"),
    exact("LINDEX", "{key} {index}"),
    exact("LSET", "{key} {index} {val}"),
    exact("LINSERT", "{key} {side} {val} {val}"),
    exact("LREM", "{key} {index} {val}"),
    exact("LTRIM", "{key} {index} {index}"),
    exact("LPOS", "{key} {val}"),
    exact("LMOVE", "{key} {key} {end} {end}"),
    exact("RPOPLPUSH", "{key} {key}"),
    exact("LMPOP", "{numkeys} {end}"),
    // Blocking forms: on one connection they answer at once or time out after 10 ms.
    exact("BLPOP", "{key} {key} 0.01"),
    exact("BRPOP", "{key} 0.01"),
    exact("BLMOVE", "{key} {key} {end} {end} 0.01"),
    exact("BRPOPLPUSH", "{key} {key} 0.01"),
    exact("BLMPOP", "0.01 {numkeys} {end}"),
    exact("BZPOPMIN", "{key} {key} 0.01"),
    exact("BZPOPMAX", "{key} 0.01"),
    exact("BZMPOP", "0.01 {numkeys} {minmax} {zmpopopts}"),
    // Hashes (only replies whose order is defined: no HGETALL/HKEYS/HVALS/HRANDFIELD).
    exact("HSET", "{key} {fieldpairs}"),
    exact("HSETNX", "{key} {field} {val}"),
    exact("HGET", "{key} {field}"),
    exact("HMGET", "{key} {fields}"),
    exact("HDEL", "{key} {fields}"),
    exact("HLEN", "{key}"),
    exact("HSTRLEN", "{key} {field}"),
    exact("HEXISTS", "{key} {field}"),
    exact("HINCRBY", "{key} {field} {int}"),
    exact("HINCRBYFLOAT", "{key} {field} {float}"),
    // Sets: only replies whose order cannot differ (counts, flags, stores) are compared byte
    // for byte; SRANDMEMBER and SMEMBERS by type only. No SPOP: what it removes is random.
    exact("SADD", "{key} {vals}"),
    exact("SREM", "{key} {vals}"),
    exact("SCARD", "{key}"),
    exact("SISMEMBER", "{key} {val}"),
    exact("SMISMEMBER", "{key} {vals}"),
    exact("SMOVE", "{key} {key} {val}"),
    exact("SINTERCARD", "{numkeys}"),
    exact("SINTERCARD", "{numkeys} LIMIT {int}"),
    exact("SINTERSTORE", "{key} {keys}"),
    exact("SUNIONSTORE", "{key} {keys}"),
    exact("SDIFFSTORE", "{key} {keys}"),
    type_only("SMEMBERS", "{key}"),
    type_only("SRANDMEMBER", "{key} {count}"),
    // Encodings: hashes and sets on keys of their own, written with members that are mostly
    // integers and values that are mostly short, while the thresholds move now and then, so
    // random writes cross every conversion (and the forms never go back); OBJECT ENCODING
    // compares the forms. The thresholds stay set for the rest of the run, which changes no
    // other template's reply (counts and stores do not depend on a collection's form).
    exact("HSET", "{enckey} {encpairs}"),
    exact("HDEL", "{enckey} {fields}"),
    exact("HSETNX", "{enckey} {field} {encmember}"),
    exact("HINCRBYFLOAT", "{enckey} {field} {float}"),
    exact("SADD", "{enckey} {encmembers}"),
    exact("SREM", "{enckey} {encmembers}"),
    exact("SMOVE", "{enckey} {enckey} {encmember}"),
    exact("SINTERSTORE", "{enckey} {enckey} {enckey}"),
    exact("SUNIONSTORE", "{enckey} {enckey} {enckey}"),
    exact("SDIFFSTORE", "{enckey} {enckey} {enckey}"),
    exact("OBJECT", "ENCODING {enckey}"),
    exact("OBJECT", "ENCODING {enckey}"),
    exact("HLEN", "{enckey}"),
    exact("SCARD", "{enckey}"),
    exact("CONFIG", "SET hash-max-listpack-entries {threshold}"),
    exact("CONFIG", "SET hash-max-listpack-value {threshold}"),
    exact("CONFIG", "SET set-max-intset-entries {threshold}"),
    // Sorted sets: replies are ordered, so everything compares byte for byte except random
    // picks (ZRANDMEMBER) and ZSCAN, which walks a large set in hash order. A member longer
    // than 64 bytes turns a set into a skiplist. Lexicographic ranges are only defined over
    // equal scores, so they run on keys of their own where every score is 0.
    exact("ZADD", "{key} {zaddopts} {zpairs}"),
    exact("ZADD", "{key} {zpairs}"),
    exact("ZINCRBY", "{key} {score} {member}"),
    exact("ZREM", "{key} {members}"),
    exact("ZCARD", "{key}"),
    exact("ZSCORE", "{key} {member}"),
    exact("ZMSCORE", "{key} {members}"),
    exact("ZRANK", "{key} {member}"),
    exact("ZREVRANK", "{key} {member}"),
    exact("ZCOUNT", "{key} {scorebound} {scorebound}"),
    exact("ZRANGE", "{key} {index} {index} {zrangeopts}"),
    exact(
        "ZRANGE",
        "{key} {scorebound} {scorebound} BYSCORE {zrangeopts}",
    ),
    exact("ZRANGE", "{key} 0 -1 WITHSCORES"),
    exact("ZRANGESTORE", "{key} {key} {index} {index} {zrangeopts}"),
    exact(
        "ZRANGESTORE",
        "{key} {key} {scorebound} {scorebound} BYSCORE {zrangeopts}",
    ),
    exact("ZREVRANGE", "{key} {index} {index} {withscores}"),
    exact(
        "ZRANGEBYSCORE",
        "{key} {scorebound} {scorebound} {zrangeopts}",
    ),
    exact(
        "ZREVRANGEBYSCORE",
        "{key} {scorebound} {scorebound} {zrangeopts}",
    ),
    exact("ZREMRANGEBYRANK", "{key} {index} {index}"),
    exact("ZREMRANGEBYSCORE", "{key} {scorebound} {scorebound}"),
    exact("ZPOPMIN", "{key} {optcount}"),
    exact("ZPOPMAX", "{key} {optcount}"),
    exact("ZMPOP", "{numkeys} {minmax} {zmpopopts}"),
    exact("ZUNION", "{numkeys} {withscores}"),
    exact("ZUNION", "2 {key} {key} {combineopts}"),
    exact("ZINTER", "2 {key} {key} {combineopts}"),
    exact("ZINTER", "{numkeys} {withscores}"),
    exact("ZDIFF", "{numkeys} {withscores}"),
    exact("ZUNIONSTORE", "{key} 2 {key} {key} {combineopts}"),
    exact("ZUNIONSTORE", "{key} {numkeys}"),
    exact("ZINTERSTORE", "{key} {numkeys}"),
    exact("ZINTERSTORE", "{key} 2 {key} {key} {combineopts}"),
    exact("ZDIFFSTORE", "{key} {numkeys}"),
    exact("ZINTERCARD", "{numkeys} {intercardopts}"),
    type_only("ZRANDMEMBER", "{key} {count} {withscores}"),
    type_only("ZSCAN", "{key} 0 COUNT 1000"),
    exact("ZADD", "{lexkey} {lexpairs}"),
    exact("ZRANGEBYLEX", "{lexkey} {lexbound} {lexbound} {lexlimit}"),
    exact(
        "ZREVRANGEBYLEX",
        "{lexkey} {lexbound} {lexbound} {lexlimit}",
    ),
    exact(
        "ZRANGE",
        "{lexkey} {lexbound} {lexbound} BYLEX {zrangeopts}",
    ),
    exact("ZLEXCOUNT", "{lexkey} {lexbound} {lexbound}"),
    exact("ZREMRANGEBYLEX", "{lexkey} {lexbound} {lexbound}"),
    exact("ZRANGE", "{lexkey} 0 -1"),
    // SORT: ALPHA with STORE compares whole byte strings, a total order, so the count and the
    // stored list are the same for sets, whose own order differs between the servers (BY
    // nosort with STORE sorts a set by bytes too). SORT_RO (no STORE: ties under C's strcoll,
    // a set's order under BY nosort) compares by type only. Never a numeric sort: after a
    // weight strtod cannot represent (5e-324), Redis 7.0 leaves errno at ERANGE and fails later
    // numeric sorts (docs/differences.md); the corpus covers numbers.
    exact("SORT", "{key} ALPHA {sortopts} STORE {key}"),
    type_only("SORT_RO", "{key} ALPHA {sortopts}"),
    // Connection.
    exact("PING", "{optval}"),
    exact("ECHO", "{val}"),
    exact("SELECT", "{db}"),
    // Keys (active once kv lists them).
    exact("DEL", "{keys}"),
    exact("UNLINK", "{keys}"),
    exact("EXISTS", "{keys}"),
    exact("TOUCH", "{keys}"),
    exact("TYPE", "{key}"),
    exact("RENAME", "{key} {key}"),
    exact("RENAMENX", "{key} {key}"),
    exact("COPY", "{key} {key} {copyopts}"),
    exact("MOVE", "{key} {db}"),
    exact("EXPIRE", "{key} {ttl} {setflag}"),
    exact("PEXPIRE", "{key} {ttl} {setflag}"),
    exact("EXPIREAT", "{key} {abstime} {expireflag}"),
    exact("PEXPIREAT", "{key} {abstime} {expireflag}"),
    exact("PERSIST", "{key}"),
    // Keys set to expire in the past are counted until lazy or active expiry reclaims them,
    // and when that happens differs between the servers (Redis's active expiry is timed).
    type_only("DBSIZE", ""),
    exact("SWAPDB", "{db} {db}"),
    // Transactions on one connection: queued replies, EXECABORT after a refused command,
    // nested MULTI, WATCH inside MULTI, EXEC failed by this connection's own writes to a
    // watched key. Inside MULTI only templates compared exactly are drawn (EXEC's reply holds
    // every queued command's).
    exact("MULTI", ""),
    exact("EXEC", ""),
    exact("DISCARD", ""),
    exact("WATCH", "{keys}"),
    exact("UNWATCH", ""),
    // Every type's encoding, a string's following how it was last written.
    exact("OBJECT", "ENCODING {key}"),
    // A key name as the pattern matches at most that one key, so the order cannot differ; a
    // COUNT above the key space makes SCAN finish in one call.
    exact("KEYS", "{key}"),
    exact("SCAN", "0 MATCH {key} COUNT 1000"),
    type_only("RANDOMKEY", ""),
    type_only("TTL", "{key}"),
    type_only("PTTL", "{key}"),
    type_only("EXPIRETIME", "{key}"),
    type_only("PEXPIRETIME", "{key}"),
];

/// Builds one random command from `template`, sometimes with one argument too few or too many
/// so that arity errors are exercised too.
fn generate(rng: &mut Rng, template: &Template) -> Vec<Bytes> {
    let mut args = vec![random_case(rng, template.command)];
    for word in template.args.split_whitespace() {
        match word.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
            Some(placeholder) => args.extend(expand(rng, placeholder)),
            None => args.push(random_case(rng, word)),
        }
    }
    if rng.one_in(30) && args.len() > 1 {
        args.pop();
    } else if rng.one_in(30) && !TIMEOUT_LAST.contains(&template.command) {
        args.push(pick_bytes(rng, VALUES));
    }
    args
}

/// Blocking commands whose last argument is the timeout: an extra argument would become a
/// timeout of seconds (a value such as `5.` or `42`), longer than the harness waits for a
/// reply.
const TIMEOUT_LAST: &[&str] = &[
    "BLPOP",
    "BRPOP",
    "BLMOVE",
    "BRPOPLPUSH",
    "BZPOPMIN",
    "BZPOPMAX",
];

/// `word` in upper, lower or mixed case: names and options are case-insensitive.
fn random_case(rng: &mut Rng, word: &str) -> Bytes {
    let text: String = match rng.below(4) {
        0 => word.to_ascii_lowercase(),
        1 => word
            .chars()
            .map(|c| {
                if rng.one_in(2) {
                    c.to_ascii_lowercase()
                } else {
                    c.to_ascii_uppercase()
                }
            })
            .collect(),
        _ => word.to_ascii_uppercase(),
    };
    Bytes::from(text)
}

/// The ~20 keys random commands share, so that they collide often.
// The pools are tables: rustfmt would put each value on a line of its own.
#[rustfmt::skip]
const KEYS: &[&[u8]] = &[
    b"k0", b"k1", b"k2", b"k3", b"k4", b"k5", b"k6", b"k7", b"k8", b"k9", b"k10", b"k11",
    b"counter", b"float", b"str", b"", b"key with spaces", b"\x00\xff\r\n", b"{tag}a", b"{tag}b",
];

/// Values: integers at and past the 64-bit limits, floats, empty, binary, plain text.
#[rustfmt::skip]
/// Hash field names: few, so fields collide.
const FIELDS: &[&[u8]] = &[b"f1", b"f2", b"f3", b"", b"\xff"];

const VALUES: &[&[u8]] = &[
    b"",
    b"0",
    b"1",
    b"-1",
    b"10",
    b"42",
    b"-100",
    b"007",
    b"+1",
    b"-0",
    b" 1",
    b"1 ",
    b"0x10",
    b"9223372036854775807",
    b"-9223372036854775808",
    b"9223372036854775808",
    b"-9223372036854775809",
    b"99999999999999999999999",
    b"3.14",
    b"-2.5",
    b"1e3",
    b"1.5e308",
    b"5e-324",
    b"0.1",
    b".5",
    b"5.",
    b"inf",
    b"-inf",
    b"nan",
    b"abc",
    b"abcdef",
    b"bcdefg",
    b"hello world",
    b"ohmytext",
    b"mynewtext",
    b"\x00",
    b"\x00\xff\r\n\x01",
    b"\xe2\x82\xac",
    b"a\"quote'",
    b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
];

/// Integer arguments (increments, counts): valid, at the limits, and not integers at all.
#[rustfmt::skip]
const INTS: &[&[u8]] = &[
    b"0", b"1", b"-1", b"2", b"5", b"100", b"-100", b"9223372036854775807",
    b"-9223372036854775808", b"9223372036854775808", b"-9223372036854775809", b"abc", b"",
    b"1.5", b" 1", b"+1", b"-0", b"0x10", b"1e3",
];

/// SRANDMEMBER counts: small ones either way and invalid ones, never a huge negative one
/// (Redis would build a reply that large).
#[rustfmt::skip]
const COUNTS: &[&[u8]] = &[
    b"0", b"1", b"2", b"5", b"100", b"-1", b"-3", b"-20", b"abc", b"", b"1.5",
    b"9223372036854775807", b"-9223372036854775808",
];

/// Float increments for INCRBYFLOAT.
#[rustfmt::skip]
const FLOATS: &[&[u8]] = &[
    b"0", b"1", b"-1", b"0.1", b"-0.1", b"3.0e3", b"1e308", b"-1e308", b"1.5e308", b"5e-324",
    b"0.30000000000000004", b"10.5", b"inf", b"-inf", b"nan", b"abc", b"", b" 1", b"1.0.0",
    b"9223372036854775807", b"1e-10",
];

/// GETRANGE/SUBSTR indexes: negative, out of range, at the limits, invalid.
#[rustfmt::skip]
const INDEXES: &[&[u8]] = &[
    b"0", b"1", b"2", b"3", b"5", b"10", b"100", b"-1", b"-2", b"-3", b"-5", b"-100",
    b"9223372036854775807", b"-9223372036854775808", b"abc", b"1.5", b"",
];

/// SETRANGE offsets: small ones (padding), the 512 MB limit, invalid ones. Never a large
/// valid one, which would make both servers allocate that much.
#[rustfmt::skip]
const OFFSETS: &[&[u8]] = &[
    b"0", b"1", b"2", b"5", b"10", b"50", b"-1", b"536870912", b"9223372036854775807", b"abc",
    b"",
];

/// Relative expiry times: far enough in the future never to expire during the run, plus
/// invalid and overflowing ones.
#[rustfmt::skip]
const TTLS: &[&[u8]] = &[
    b"1000000", b"2000000", b"100000000", b"0", b"-1", b"-1000", b"abc", b"", b"1.5",
    b"9223372036854775807", b"9223372036854775", b"9223372036854776", b"-9223372036854775808",
];

/// Absolute expiry times: in the past (expire at once), far future, invalid, overflowing.
#[rustfmt::skip]
const ABSTIMES: &[&[u8]] = &[
    b"1", b"100", b"4102444800", b"4102444800000", b"5000000000", b"5000000000000", b"0",
    b"-1", b"abc", b"9223372036854775807", b"9223372036854775", b"-9223372036854775808",
];

/// Database numbers: valid, out of range, invalid.
#[rustfmt::skip]
const DBS: &[&[u8]] = &[
    b"0", b"1", b"2", b"15", b"16", b"-1", b"abc", b"99999999999", b"",
];

/// Keys only the lexicographic templates use, so that every score in them stays 0.
#[rustfmt::skip]
const LEX_KEYS: &[&[u8]] = &[b"lex1", b"lex2"];

/// Keys of the encoding templates: only hashes and sets are ever written to them.
const ENC_KEYS: &[&[u8]] = &[b"enc1", b"enc2", b"enc3"];

/// Set members and hash values for the encoding templates: mostly integers as an intset holds
/// them (16-, 32- and 64-bit), some that only look like integers, a long one.
#[rustfmt::skip]
const ENC_MEMBERS: &[&[u8]] = &[
    b"0", b"1", b"2", b"3", b"-1", b"7", b"100", b"70000", b"-70000", b"4294967296",
    b"9223372036854775807", b"-9223372036854775808", b"007", b"a", b"",
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
];

/// Encoding thresholds to move to: small, so that conversions happen, and the defaults.
const THRESHOLDS: &[&[u8]] = &[b"0", b"1", b"2", b"3", b"4", b"64", b"512"];

/// Sorted-set members: few, so they collide; one longer than 64 bytes, which makes a set a
/// skiplist.
#[rustfmt::skip]
const MEMBERS: &[&[u8]] = &[
    b"a", b"b", b"c", b"d", b"e", b"", b"m1", b"1", b"\x00\xff",
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
];

/// Scores: integers, fractions, signed zero, infinities in every spelling, hex, and ones
/// Redis refuses (NaN, overflow, spaces, empty).
#[rustfmt::skip]
const SCORES: &[&[u8]] = &[
    b"0", b"1", b"-1", b"2", b"3", b"2.5", b"-0", b"0.1", b"0.2", b"1e3", b"inf", b"-inf",
    b"+inf", b"nan", b"abc", b"", b"0x10", b"1e400", b" 1", b"1e-400",
];

/// Ends of score ranges: open and closed, infinite, and malformed.
#[rustfmt::skip]
const SCORE_BOUNDS: &[&[u8]] = &[
    b"-inf", b"+inf", b"inf", b"0", b"1", b"(1", b"(0", b"2.5", b"(2.5", b"-1", b"(-1", b"abc",
    b"(", b"", b"1e400", b"nan", b"((1", b" 2",
];

/// Ends of lexicographic ranges: `-`, `+`, open and closed members, and malformed ones.
#[rustfmt::skip]
const LEX_BOUNDS: &[&[u8]] = &[
    b"-", b"+", b"[a", b"(a", b"[b", b"(b", b"[c", b"(d", b"[", b"(", b"a", b"[m1", b"(\x00",
];

/// LIMIT offsets and counts: negative ones select nothing (offset) or everything (count).
#[rustfmt::skip]
const LIMITS: &[&[u8]] = &[b"0", b"1", b"2", b"-1", b"5", b"-5", b"x"];

/// WEIGHTS values, NaN products and invalid ones included.
#[rustfmt::skip]
const WEIGHTS: &[&[u8]] = &[b"1", b"2", b"0", b"-1", b"0.5", b"inf", b"nan", b"x"];

/// Expands one `{placeholder}` of a template into its arguments.
fn expand(rng: &mut Rng, placeholder: &str) -> Vec<Bytes> {
    let one = |items: &[&'static [u8]], rng: &mut Rng| vec![pick_bytes(rng, items)];
    match placeholder {
        "key" => one(KEYS, rng),
        "val" => one(VALUES, rng),
        "int" => one(INTS, rng),
        "float" => one(FLOATS, rng),
        "index" => one(INDEXES, rng),
        "offset" => one(OFFSETS, rng),
        "ttl" => one(TTLS, rng),
        "abstime" => one(ABSTIMES, rng),
        "db" => one(DBS, rng),
        "optval" => repeat(rng, 0, 1, |rng| one(VALUES, rng)),
        "vals" => repeat(rng, 1, 3, |rng| one(VALUES, rng)),
        "end" => {
            let word = if rng.one_in(2) { "LEFT" } else { "RIGHT" };
            vec![random_case(rng, word)]
        }
        "side" => {
            let word = if rng.one_in(2) { "BEFORE" } else { "AFTER" };
            vec![random_case(rng, word)]
        }
        "count" => one(COUNTS, rng),
        "optcount" => repeat(rng, 0, 1, |rng| one(COUNTS, rng)),
        "lexkey" => one(LEX_KEYS, rng),
        "enckey" => one(ENC_KEYS, rng),
        "encmember" => one(ENC_MEMBERS, rng),
        "encmembers" => repeat(rng, 1, 3, |rng| one(ENC_MEMBERS, rng)),
        "encpairs" => repeat(rng, 1, 3, |rng| {
            vec![pick_bytes(rng, FIELDS), pick_bytes(rng, ENC_MEMBERS)]
        }),
        "threshold" => one(THRESHOLDS, rng),
        "member" => one(MEMBERS, rng),
        "members" => repeat(rng, 1, 3, |rng| one(MEMBERS, rng)),
        "score" => one(SCORES, rng),
        "scorebound" => one(SCORE_BOUNDS, rng),
        "lexbound" => one(LEX_BOUNDS, rng),
        "zpairs" => {
            let mut args = repeat(rng, 1, 3, |rng| {
                vec![pick_bytes(rng, SCORES), pick_bytes(rng, MEMBERS)]
            });
            if rng.one_in(10) {
                args.push(pick_bytes(rng, MEMBERS));
            }
            args
        }
        "lexpairs" => repeat(rng, 1, 3, |rng| {
            vec![Bytes::from_static(b"0"), pick_bytes(rng, MEMBERS)]
        }),
        "withscores" => repeat(rng, 0, 1, |rng| vec![random_case(rng, "WITHSCORES")]),
        "minmax" => {
            let word = *rng.pick(&["MIN", "MAX", "MIN", "MAX", "LEFT"]);
            vec![random_case(rng, word)]
        }
        "lexlimit" => repeat(rng, 0, 1, |rng| {
            vec![
                random_case(rng, "LIMIT"),
                pick_bytes(rng, LIMITS),
                pick_bytes(rng, LIMITS),
            ]
        }),
        "intercardopts" => repeat(rng, 0, 1, |rng| {
            vec![random_case(rng, "LIMIT"), pick_bytes(rng, INTS)]
        }),
        "zaddopts" => options(rng, &["NX", "XX", "GT", "LT", "CH", "INCR"]),
        "zrangeopts" => options(rng, &["BYSCORE", "REV", "LIMIT", "WITHSCORES"]),
        "zmpopopts" => options(rng, &["COUNT"]),
        "combineopts" => options(rng, &["WEIGHTS", "AGGREGATE", "WITHSCORES"]),
        "field" => one(FIELDS, rng),
        "fields" => repeat(rng, 1, 3, |rng| one(FIELDS, rng)),
        "fieldpairs" => repeat(rng, 1, 3, |rng| {
            vec![pick_bytes(rng, FIELDS), pick_bytes(rng, VALUES)]
        }),
        "numkeys" => {
            let keys = repeat(rng, 1, 3, |rng| one(KEYS, rng));
            let mut args = vec![Bytes::from(keys.len().to_string())];
            args.extend(keys);
            args
        }
        "keys" => repeat(rng, 1, 4, |rng| one(KEYS, rng)),
        "pairs" => pairs(rng),
        "setopts" => options(
            rng,
            &["NX", "XX", "GET", "EX", "PX", "EXAT", "PXAT", "KEEPTTL"],
        ),
        "getexopts" => options(rng, &["EX", "PX", "EXAT", "PXAT", "PERSIST"]),
        "lcsopts" => options(rng, &["LEN", "IDX", "MINMATCHLEN", "WITHMATCHLEN"]),
        "copyopts" => options(rng, &["REPLACE", "DB"]),
        "sortopts" => sort_options(rng),
        "setflag" => options(rng, &["NX", "XX"]),
        "expireflag" => options(rng, &["NX", "XX", "GT", "LT"]),
        other => panic!("template placeholder {{{other}}} is unknown"),
    }
}

/// Up to three SORT options besides ALPHA and STORE (which the templates fix), repeats and
/// conflicts included: DESC, ASC, LIMIT, BY nosort, and GET patterns that name the element,
/// string keys, hash fields, or nothing.
fn sort_options(rng: &mut Rng) -> Vec<Bytes> {
    const PATTERNS: &[&[u8]] = &[b"#", b"k*", b"*", b"k*->f1", b"nostar", b"*->"];
    let mut args = Vec::new();
    for _ in 0..rng.below(4) {
        match rng.below(5) {
            0 => args.push(random_case(rng, "DESC")),
            1 => args.push(random_case(rng, "ASC")),
            2 => {
                args.push(random_case(rng, "LIMIT"));
                args.push(pick_bytes(rng, INDEXES));
                args.push(pick_bytes(rng, INDEXES));
            }
            3 => {
                args.push(random_case(rng, "BY"));
                args.push(random_case(rng, "nosort"));
            }
            _ => {
                args.push(random_case(rng, "GET"));
                args.push(pick_bytes(rng, PATTERNS));
            }
        }
    }
    args
}

/// Between `min` and `max` (inclusive) expansions of `each`, concatenated.
fn repeat(
    rng: &mut Rng,
    min: usize,
    max: usize,
    each: impl Fn(&mut Rng) -> Vec<Bytes>,
) -> Vec<Bytes> {
    let n = min + rng.below(max - min + 1);
    (0..n).flat_map(|_| each(rng)).collect()
}

/// One to three key-value pairs, and now and then a dangling key (an odd argument count).
fn pairs(rng: &mut Rng) -> Vec<Bytes> {
    let mut args = repeat(rng, 1, 3, |rng| {
        vec![pick_bytes(rng, KEYS), pick_bytes(rng, VALUES)]
    });
    if rng.one_in(10) {
        args.push(pick_bytes(rng, KEYS));
    }
    args
}

/// Up to three distinct options from `names` in random order and case (rarely one twice),
/// each followed by its value where it takes one. Conflicting combinations are the point.
fn options(rng: &mut Rng, names: &[&str]) -> Vec<Bytes> {
    let mut chosen: Vec<&str> = names.to_vec();
    rng.shuffle(&mut chosen);
    chosen.truncate(rng.below(4).min(names.len()));
    if rng.one_in(15) {
        if let Some(&first) = chosen.first() {
            chosen.push(first);
        }
    }
    let mut args = Vec::new();
    for name in chosen {
        args.push(random_case(rng, name));
        let values: &[&[&'static [u8]]] = match name {
            "EX" | "PX" => &[TTLS],
            "EXAT" | "PXAT" => &[ABSTIMES],
            "MINMATCHLEN" => &[INTS],
            "DB" => &[DBS],
            "COUNT" => &[COUNTS],
            "LIMIT" => &[LIMITS, LIMITS],
            "WEIGHTS" => &[WEIGHTS, WEIGHTS],
            "AGGREGATE" => &[&[b"SUM", b"MIN", b"MAX", b"max", b"avg"]],
            _ => &[],
        };
        for items in values {
            args.push(pick_bytes(rng, items));
        }
    }
    args
}
