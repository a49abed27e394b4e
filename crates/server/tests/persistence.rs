//! Snapshots over TCP, with real kv-server processes restarted on the same directory: every
//! type, TTL, database and OBJECT ENCODING survives SAVE and a restart; BGSAVE reports its
//! progress,
//! refuses a second save while it runs and resets the change count; a BGSAVE taken while
//! clients write is one instant (no half of an MSET, no gap in a client's sequence of
//! writes); the `save` points, SHUTDOWN and SIGTERM save when they should and only then; a
//! corrupt or truncated file stops the start-up, names the file and offset and is left as it
//! was; clients get `-LOADING` while the file loads (and never the dataset before it is
//! loaded); a failed BGSAVE refuses writes with Redis's MISCONF until a save succeeds (a
//! failed SAVE refuses nothing); the
//! replies and INFO fields are Redis 7.0's, byte for byte where they can be; `rdbcompression`
//! changes the file, not what loads from it.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use support::{free_port, read_to_close, resp, Server, SAVE_LIMIT};

/// Redis's refusal of writes after a failed save.
const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently \
    unable to persist to disk. Commands that may modify the data set are disabled, because this \
    instance is configured to report errors during writes if RDB snapshotting fails \
    (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB \
    error.";

/// Redis's answer while the dataset loads.
const LOADING: &str = "LOADING Redis is loading the dataset in memory";

/// kv's snapshot file name (`dbfilename`'s default).
const SNAPSHOT: &str = "dump.kvs";

/// A directory of this test's own, emptied at the start and removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let path =
            std::env::temp_dir().join(format!("kv-persist-it-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn as_str(&self) -> &str {
        self.0.to_str().unwrap()
    }

    /// The snapshot file kv writes there by default.
    fn snapshot(&self) -> PathBuf {
        self.0.join(SNAPSHOT)
    }

    /// The names of the files in the directory, sorted.
    fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// kv-server on `dir`, with extra options (without `--save` it saves nothing on its own),
/// once it has loaded its snapshot.
fn kv_at(dir: &TempDir, extra: &[&str]) -> Server {
    let server = kv_loading_at(dir, extra);
    let mut raw = Raw::connect(server.port);
    let deadline = Instant::now() + Duration::from_secs(60);
    while raw.info("persistence")["loading"] != "0" {
        assert!(Instant::now() < deadline, "the snapshot never loaded");
        thread::sleep(Duration::from_millis(10));
    }
    server
}

/// kv-server on `dir`, perhaps still loading its snapshot.
fn kv_loading_at(dir: &TempDir, extra: &[&str]) -> Server {
    let mut args = vec!["--dir", dir.as_str()];
    args.extend_from_slice(extra);
    Server::kv(&args)
}

/// One RESP2 reply.
#[derive(Debug, Clone, PartialEq)]
enum Resp {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Resp>>),
}

impl Resp {
    /// The text of a bulk or simple string reply.
    fn text(&self) -> String {
        match self {
            Resp::Bulk(Some(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
            Resp::Simple(s) => s.clone(),
            other => panic!("not a string: {other:?}"),
        }
    }
}

/// A raw RESP connection that reads replies exactly as they were sent.
struct Raw {
    reader: BufReader<TcpStream>,
}

impl Raw {
    fn connect(port: u16) -> Raw {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("cannot connect");
        Raw::new(stream)
    }

    fn new(stream: TcpStream) -> Raw {
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        Raw {
            reader: BufReader::new(stream),
        }
    }

    /// Sends one command without reading its reply.
    fn send(&mut self, args: &[&str]) {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.reader.get_mut().write_all(&resp(&args)).unwrap();
    }

    /// Sends several commands in one write (a pipeline).
    fn send_all(&mut self, commands: &[&[&str]]) {
        let mut bytes = Vec::new();
        for args in commands {
            let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
            bytes.extend(resp(&args));
        }
        self.reader.get_mut().write_all(&bytes).unwrap();
    }

    /// Reads one reply: the value and the bytes it came in.
    fn read(&mut self) -> (Resp, Vec<u8>) {
        let mut raw = Vec::new();
        let value = self.read_value(&mut raw);
        (value, raw)
    }

    fn read_line(&mut self, raw: &mut Vec<u8>) -> String {
        let mut line = Vec::new();
        let n = self.reader.read_until(b'\n', &mut line).unwrap();
        assert!(n > 0, "connection closed while reading a reply");
        raw.extend_from_slice(&line);
        assert!(line.ends_with(b"\r\n"), "{line:?}");
        String::from_utf8(line[..line.len() - 2].to_vec()).unwrap()
    }

    fn read_value(&mut self, raw: &mut Vec<u8>) -> Resp {
        let line = self.read_line(raw);
        let (tag, rest) = line.split_at(1);
        match tag {
            "+" => Resp::Simple(rest.to_string()),
            "-" => Resp::Error(rest.to_string()),
            ":" => Resp::Int(rest.parse().unwrap()),
            "$" => {
                let len: i64 = rest.parse().unwrap();
                if len < 0 {
                    return Resp::Bulk(None);
                }
                let mut data = vec![0; len as usize + 2];
                self.reader.read_exact(&mut data).unwrap();
                raw.extend_from_slice(&data);
                data.truncate(len as usize);
                Resp::Bulk(Some(data))
            }
            "*" => {
                let len: i64 = rest.parse().unwrap();
                if len < 0 {
                    return Resp::Array(None);
                }
                Resp::Array(Some((0..len).map(|_| self.read_value(raw)).collect()))
            }
            _ => panic!("not a RESP2 reply: {line:?}"),
        }
    }

    /// Sends a command and reads its reply.
    fn call(&mut self, args: &[&str]) -> Resp {
        self.send(args);
        self.read().0
    }

    /// Sends a command and returns its reply's bytes, as sent.
    fn call_raw(&mut self, args: &[&str]) -> String {
        self.send(args);
        String::from_utf8(self.read().1).unwrap()
    }

    /// INFO `section`, as a map.
    fn info(&mut self, section: &str) -> BTreeMap<String, String> {
        parse_info(&self.call(&["INFO", section]).text())
    }

    fn info_u64(&mut self, section: &str, name: &str) -> u64 {
        let info = self.info(section);
        let value = info
            .get(name)
            .unwrap_or_else(|| panic!("INFO {section} has no {name}"));
        value.parse().unwrap()
    }

    fn lastsave(&mut self) -> u64 {
        match self.call(&["LASTSAVE"]) {
            Resp::Int(n) => n as u64,
            other => panic!("LASTSAVE: {other:?}"),
        }
    }

    fn dbsize(&mut self) -> u64 {
        match self.call(&["DBSIZE"]) {
            Resp::Int(n) => n as u64,
            other => panic!("DBSIZE: {other:?}"),
        }
    }

    /// Polls INFO persistence until no background save runs ([`SAVE_LIMIT`] at most); the
    /// last INFO.
    fn wait_bgsave(&mut self) -> BTreeMap<String, String> {
        let deadline = Instant::now() + SAVE_LIMIT;
        loop {
            let info = self.info("persistence");
            if info["rdb_bgsave_in_progress"] == "0" {
                return info;
            }
            assert!(Instant::now() < deadline, "the background save never ended");
            thread::sleep(Duration::from_millis(20));
        }
    }
}

/// INFO's `name:value` lines, as a map.
fn parse_info(text: &str) -> BTreeMap<String, String> {
    info_names(text)
        .into_iter()
        .zip(
            text.lines()
                .filter_map(|l| l.split_once(':'))
                .map(|(_, v)| v),
        )
        .map(|(n, v)| (n, v.to_string()))
        .collect()
}

/// INFO's field names, in order.
fn info_names(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(n, _)| n.to_string())
        .collect()
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Waits until the Unix clock is past `secs` (LASTSAVE has a one-second grain: a save must
/// end in a later second to show).
fn wait_past_second(secs: u64) {
    while unix_secs() <= secs {
        thread::sleep(Duration::from_millis(20));
    }
}

/// Sends SHUTDOWN with `options` and waits for the process to exit by itself: the connection
/// closes with no reply, and the exit is a success.
fn shutdown(server: &mut Server, options: &[&str]) {
    let mut raw = Raw::connect(server.port);
    let mut args = vec!["SHUTDOWN"];
    args.extend_from_slice(options);
    raw.send(&args);
    let mut stream = raw.reader.into_inner();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let rest = read_to_close(&mut stream);
    assert_eq!(String::from_utf8_lossy(&rest), "", "SHUTDOWN {options:?}");
    let status = server
        .wait_exit(Duration::from_secs(30))
        .expect("the server did not exit after SHUTDOWN");
    assert!(status.success(), "SHUTDOWN {options:?}: {status}");
}

/// Writes `{prefix}{i}` = `{value_prefix}{i}` for each `i` below `count`, with MSETs of 1000
/// keys, 20 to a pipeline.
fn fill(con: &mut redis::Connection, prefix: &str, value_prefix: &str, count: usize) {
    let keys: Vec<usize> = (0..count).collect();
    for batch in keys.chunks(20_000) {
        let mut pipe = redis::pipe();
        for chunk in batch.chunks(1000) {
            let cmd = pipe.cmd("MSET");
            for i in chunk {
                cmd.arg(format!("{prefix}{i}"))
                    .arg(format!("{value_prefix}{i}"));
            }
            cmd.ignore();
        }
        let () = pipe.query(con).unwrap();
    }
}

/// Runs each command of `script` (one per line, words split on spaces) on `con`.
fn run(con: &mut redis::Connection, script: &str) {
    for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let mut cmd = redis::cmd(line.split(' ').next().unwrap());
        for word in line.split(' ').skip(1) {
            cmd.arg(word);
        }
        let _: redis::Value = cmd.query(con).unwrap_or_else(|e| panic!("{line}: {e}"));
    }
}

/// What a key holds, as the round trip compares it.
#[derive(Debug, Clone, PartialEq)]
struct KeyDump {
    kind: String,
    encoding: String,
    /// PEXPIRETIME: the absolute expiry in ms, -1 without one.
    expires_at: i64,
    /// The value: a string's bytes; a list's elements in order; a hash's field/value pairs,
    /// sorted; a set's members sorted; a sorted set's members and scores in order.
    value: Vec<Vec<u8>>,
    /// A listpack hash's fields in HGETALL's order (its insertion order, which Redis keeps).
    hash_order: Vec<Vec<u8>>,
    /// A hash's fields' absolute expiries (HPEXPIRETIME), in the order of `value`'s fields.
    field_expiry: Vec<i64>,
}

/// Every key of databases `dbs`, read back type by type.
fn dump(con: &mut redis::Connection, dbs: &[u32]) -> BTreeMap<(u32, Vec<u8>), KeyDump> {
    let mut all = BTreeMap::new();
    for &db in dbs {
        let () = redis::cmd("SELECT").arg(db).query(con).unwrap();
        let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(con).unwrap();
        for key in keys {
            let kind: String = redis::cmd("TYPE").arg(&key).query(con).unwrap();
            let encoding: String = redis::cmd("OBJECT")
                .arg("ENCODING")
                .arg(&key)
                .query(con)
                .unwrap();
            let expires_at: i64 = redis::cmd("PEXPIRETIME").arg(&key).query(con).unwrap();
            let mut field_expiry = Vec::new();
            let mut hash_order = Vec::new();
            let value: Vec<Vec<u8>> = match kind.as_str() {
                "string" => vec![redis::cmd("GET").arg(&key).query(con).unwrap()],
                "list" => redis::cmd("LRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .query(con)
                    .unwrap(),
                "hash" => {
                    let flat: Vec<Vec<u8>> = redis::cmd("HGETALL").arg(&key).query(con).unwrap();
                    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = flat
                        .chunks(2)
                        .map(|p| (p[0].clone(), p[1].clone()))
                        .collect();
                    if encoding.starts_with("listpack") {
                        hash_order = pairs.iter().map(|(f, _)| f.clone()).collect();
                    }
                    pairs.sort();
                    let mut cmd = redis::cmd("HPEXPIRETIME");
                    cmd.arg(&key).arg("FIELDS").arg(pairs.len());
                    for (field, _) in &pairs {
                        cmd.arg(field);
                    }
                    field_expiry = cmd.query(con).unwrap();
                    pairs.into_iter().flat_map(|(f, v)| [f, v]).collect()
                }
                "set" => {
                    let mut members: Vec<Vec<u8>> =
                        redis::cmd("SMEMBERS").arg(&key).query(con).unwrap();
                    members.sort();
                    members
                }
                "zset" => redis::cmd("ZRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES")
                    .query(con)
                    .unwrap(),
                other => panic!("unexpected type {other}"),
            };
            all.insert(
                (db, key),
                KeyDump {
                    kind,
                    encoding,
                    expires_at,
                    value,
                    hash_order,
                    field_expiry,
                },
            );
        }
    }
    let () = redis::cmd("SELECT").arg(0).query(con).unwrap();
    all
}

/// Every type and encoding, binary keys and values, key TTLs and hash field TTLs, in
/// databases 0, 5 and 15.
fn write_every_type(con: &mut redis::Connection) {
    run(
        con,
        "SET str hello-world
         SET int 12345
         SET neg -9876543210
         SET float 3.25
         RPUSH list a b c
         PEXPIRE list 500000
         HSET hash f1 v1 f2 v2 f3 v3
         HSET hfttl a 1 b 2 c 3
         HEXPIRE hfttl 1000 FIELDS 1 a
         SADD intset 1 2 3 -5 100000 9223372036854775807
         SADD strset apple banana cherry
         ZADD zset 1 a 2.5 b -3 c
         ZADD zinf -inf low +inf high 0 zero
         SET ttl v EX 1000
         SELECT 5
         SET five 5
         ZADD z5 1 x 2 y
         HSET h5 f v
         SET ttl5 x PX 600000
         SELECT 15
         LPUSH last x y z
         SADD s15 m n
         SET str15 in-db-15 EX 2000
         SELECT 0",
    );
    let all_bytes: Vec<u8> = (0..=255u8).collect();
    let _: () = redis::cmd("SET")
        .arg(&b"bin\x00\r\nkey"[..])
        .arg(&all_bytes)
        .query(con)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("raw")
        .arg("x".repeat(100))
        .query(con)
        .unwrap();
    let mut pipe = redis::pipe();
    pipe.cmd("RPUSH")
        .arg("biglist")
        .arg((0..1000).collect::<Vec<i32>>())
        .ignore();
    pipe.cmd("SADD")
        .arg("bigintset")
        .arg((0..1000).collect::<Vec<i32>>())
        .ignore();
    let members: Vec<String> = (0..600).map(|i| format!("member-{i}")).collect();
    pipe.cmd("SADD").arg("bigstrset").arg(&members).ignore();
    let big_hash: Vec<(String, String)> = (0..600)
        .map(|i| (format!("f{i}"), format!("value {i}")))
        .collect();
    pipe.cmd("HSET").arg("bighash").arg(&big_hash).ignore();
    pipe.cmd("HEXPIRE")
        .arg("bighash")
        .arg(3000)
        .arg("FIELDS")
        .arg(2)
        .arg("f1")
        .arg("f2")
        .ignore();
    let long_field = "L".repeat(70);
    pipe.cmd("HSET")
        .arg("longfield")
        .arg(&long_field)
        .arg("v")
        .ignore();
    let scored: Vec<(f64, String)> = (0..200)
        .map(|i| (i as f64 * 0.5, format!("m{i}")))
        .collect();
    pipe.cmd("ZADD").arg("bigzset").arg(&scored).ignore();
    pipe.cmd("EXPIRE").arg("bigzset").arg(5000).ignore();
    let small_scored: Vec<(f64, String)> = (0..100).map(|i| (i as f64, format!("s{i}"))).collect();
    pipe.cmd("ZADD")
        .arg("smallzset")
        .arg(&small_scored)
        .ignore();
    let () = pipe.query(con).unwrap();
}

/// The keys of some databases, as [`dump`] reads them.
type Dataset = BTreeMap<(u32, Vec<u8>), KeyDump>;

/// How `after` differs from `before`, one line per difference (encodings compared only if
/// `encodings`); values are summarized, not printed whole.
fn differences(before: &Dataset, after: &Dataset, encodings: bool) -> Vec<String> {
    let mut found = Vec::new();
    for (key, b) in before {
        let name = format!("db {} {:?}", key.0, String::from_utf8_lossy(&key.1));
        let Some(a) = after.get(key) else {
            found.push(format!("{name}: missing"));
            continue;
        };
        if a.kind != b.kind {
            found.push(format!("{name}: type {} became {}", b.kind, a.kind));
        }
        if encodings && a.encoding == b.encoding && a.hash_order != b.hash_order {
            found.push(format!("{name}: the order of the fields changed"));
        }
        if encodings && a.encoding != b.encoding {
            found.push(format!(
                "{name}: encoding {} became {}",
                b.encoding, a.encoding
            ));
        }
        if a.expires_at != b.expires_at {
            found.push(format!(
                "{name}: expiry {} became {}",
                b.expires_at, a.expires_at
            ));
        }
        if a.value != b.value {
            let at = a.value.iter().zip(&b.value).position(|(x, y)| x != y);
            found.push(format!(
                "{name}: value of {} items became {} items (first difference at {at:?})",
                b.value.len(),
                a.value.len()
            ));
        }
        if a.field_expiry != b.field_expiry {
            found.push(format!(
                "{name}: field expiries {:?} became {:?}",
                b.field_expiry, a.field_expiry
            ));
        }
    }
    for key in after.keys().filter(|k| !before.contains_key(*k)) {
        found.push(format!(
            "db {} {:?}: appeared",
            key.0,
            String::from_utf8_lossy(&key.1)
        ));
    }
    found
}

/// Writes every type ([`write_every_type`]) on a server in its own directory, SAVEs, kills
/// the server, starts a new one on the directory: the dataset before, the dataset after, and
/// the new server.
fn save_and_restart(name: &str) -> (Dataset, Dataset, Server, TempDir) {
    let dir = TempDir::new(name);
    let server = kv_at(&dir, &[]);
    let mut con = server.client();
    write_every_type(&mut con);
    let dbs = [0, 5, 15];
    let before = dump(&mut con, &dbs);
    let mut raw = Raw::connect(server.port);
    assert_eq!(raw.call(&["SAVE"]), Resp::Simple("OK".into()));
    assert_eq!(dir.files(), [SNAPSHOT], "no temporary file is left");
    drop(raw);
    drop(con);
    drop(server); // SIGKILL: nothing more is written.
    let server = kv_at(&dir, &[]);
    let after = dump(&mut server.client(), &dbs);
    (before, after, server, dir)
}

/// SAVE and a restart bring back every key of every type, in every database, with its value,
/// its expiry to the millisecond and its hash fields' expiries; INFO counts the keys loaded.
#[test]
fn save_and_restart_bring_back_every_type_ttl_and_database() {
    let (before, after, server, _dir) = save_and_restart("round-trip");
    // The dataset covers what it claims to.
    let encodings: Vec<&str> = before.values().map(|k| k.encoding.as_str()).collect();
    for encoding in [
        "int",
        "embstr",
        "raw",
        "quicklist",
        "listpack",
        "listpackex",
        "hashtable",
        "intset",
        "skiplist",
    ] {
        assert!(
            encodings.contains(&encoding),
            "no {encoding} in {encodings:?}"
        );
    }
    assert!(before.keys().any(|(db, _)| *db == 5));
    assert!(before.keys().any(|(db, _)| *db == 15));
    let with_ttl = before.values().filter(|k| k.expires_at > 0).count();
    assert_eq!(with_ttl, 5);
    let fields_with_ttl: usize = before
        .values()
        .map(|k| k.field_expiry.iter().filter(|&&t| t > 0).count())
        .sum();
    assert_eq!(fields_with_ttl, 3);

    let found = differences(&before, &after, false);
    assert!(found.is_empty(), "after the restart:\n{}", found.join("\n"));
    // The TTL counts down from the same absolute expiry.
    let mut con = server.client();
    let ttl: i64 = redis::cmd("PTTL").arg("ttl").query(&mut con).unwrap();
    assert!(ttl > 970_000 && ttl <= 1_000_000, "PTTL {ttl}");
    let mut raw = Raw::connect(server.port);
    let info = raw.info("persistence");
    assert_eq!(info["rdb_last_load_keys_loaded"], before.len().to_string());
    assert_eq!(info["rdb_last_load_keys_expired"], "0");
    // The load is no change to save again.
    assert_eq!(info["rdb_changes_since_last_save"], "0");
}

/// After SAVE and a restart every key has the OBJECT ENCODING it had (a collection loads in
/// the form its content calls for, as in Redis).
#[test]
fn save_and_restart_keep_every_encoding() {
    let (before, after, _server, _dir) = save_and_restart("encodings");
    let found = differences(&before, &after, true);
    assert!(found.is_empty(), "after the restart:\n{}", found.join("\n"));
}

/// BGSAVE answers "Background saving started"; a second BGSAVE, or a SAVE, while it runs is
/// refused with Redis's words; when it ends LASTSAVE has advanced, INFO counts the save, its
/// status is ok and the changes since the last save are 0, then count the writes made after.
#[test]
fn bgsave_reports_its_progress_and_refuses_a_second_save() {
    let dir = TempDir::new("bgsave");
    let server = kv_at(&dir, &[]);
    let mut con = server.client();
    let mut raw = Raw::connect(server.port);
    let started_at = raw.lastsave();
    let info = raw.info("persistence");
    assert_eq!(info["rdb_saves"], "0");
    assert_eq!(info["rdb_last_bgsave_status"], "ok");
    assert_eq!(info["rdb_last_bgsave_time_sec"], "-1");
    assert_eq!(info["rdb_current_bgsave_time_sec"], "-1");
    fill(&mut con, "key:", "value:", 200_000);
    assert_eq!(
        raw.info_u64("persistence", "rdb_changes_since_last_save"),
        200_000
    );
    wait_past_second(started_at);

    assert_eq!(raw.call_raw(&["BGSAVE"]), "+Background saving started\r\n");
    // While it runs: INFO, BGSAVE, SAVE, INFO in one go. If both INFOs saw this save running
    // (the save count unchanged between them), the two requests between came while it ran.
    raw.send_all(&[
        &["INFO", "persistence"],
        &["BGSAVE"],
        &["SAVE"],
        &["INFO", "persistence"],
    ]);
    let first = parse_info(&raw.read().0.text());
    let (bgsave, _) = raw.read();
    let (save, _) = raw.read();
    let second = parse_info(&raw.read().0.text());
    let busy = Resp::Error("ERR Background save already in progress".into());
    let mut extra_saves = 0;
    if first["rdb_bgsave_in_progress"] == "1"
        && second["rdb_bgsave_in_progress"] == "1"
        && first["rdb_saves"] == "0"
        && second["rdb_saves"] == "0"
    {
        assert_eq!(bgsave, busy);
        assert_eq!(save, busy);
        assert!(first["rdb_current_bgsave_time_sec"].parse::<i64>().unwrap() >= 0);
    } else {
        // The save was too quick to catch: then they started saves of their own.
        eprintln!("the background save ended before it could be caught");
        if bgsave != busy {
            assert_eq!(bgsave, Resp::Simple("Background saving started".into()));
            extra_saves += 1;
        }
        if save != busy {
            assert_eq!(save, Resp::Simple("OK".into()));
            extra_saves += 1;
        }
    }
    let info = raw.wait_bgsave();
    assert_eq!(info["rdb_last_bgsave_status"], "ok");
    assert_eq!(info["rdb_saves"], (1 + extra_saves).to_string());
    assert_eq!(info["rdb_changes_since_last_save"], "0");
    assert_eq!(info["rdb_current_bgsave_time_sec"], "-1");
    assert!(info["rdb_last_bgsave_time_sec"].parse::<i64>().unwrap() >= 0);
    let lastsave = raw.lastsave();
    assert!(
        lastsave > started_at,
        "LASTSAVE {started_at} then {lastsave}"
    );
    assert_eq!(info["rdb_last_save_time"], lastsave.to_string());
    assert_eq!(dir.files(), [SNAPSHOT]);

    run(&mut con, "SET a 1\nSET b 2\nDEL a");
    assert_eq!(
        raw.info_u64("persistence", "rdb_changes_since_last_save"),
        3
    );
}

/// A BGSAVE taken while clients write is the dataset of one instant: every MSET of a pair of
/// keys whose values add up to 100 is in it whole or not at all, and each client's
/// sequence of SETs (each sent after the previous one was answered) is in it up to some
/// point and not beyond.
#[test]
fn bgsave_under_concurrent_writes_is_one_instant() {
    const FILLER: usize = 100_000;
    const PAIRS: usize = 2000;
    const WRITERS: usize = 3;
    let dir = TempDir::new("point-in-time");
    let server = kv_at(&dir, &[]);
    let mut con = server.client();
    fill(&mut con, "filler:", "f", FILLER);
    let mut pipe = redis::pipe();
    for i in 0..PAIRS {
        pipe.cmd("MSET")
            .arg(format!("a:{i}"))
            .arg(50)
            .arg(format!("b:{i}"))
            .arg(50)
            .ignore();
    }
    let () = pipe.query(&mut con).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let msets = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..WRITERS)
        .map(|t| {
            let mut con = server.client();
            let stop = Arc::clone(&stop);
            let msets = Arc::clone(&msets);
            thread::spawn(move || {
                let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ t as u64;
                let mut seq = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    // Ten pairs an MSET, each pair adding up to 100.
                    let mut cmd = redis::cmd("MSET");
                    for _ in 0..10 {
                        state = state
                            .wrapping_mul(6_364_136_223_846_793_005)
                            .wrapping_add(1_442_695_040_888_963_407);
                        let pair = (state >> 33) as usize % PAIRS;
                        let a = (state >> 20) % 101;
                        cmd.arg(format!("a:{pair}")).arg(a);
                        cmd.arg(format!("b:{pair}")).arg(100 - a);
                    }
                    let () = cmd.query(&mut con).unwrap();
                    let () = redis::cmd("SET")
                        .arg(format!("seq:{t}:{seq}"))
                        .arg(seq)
                        .query(&mut con)
                        .unwrap();
                    seq += 1;
                    msets.fetch_add(1, Ordering::Relaxed);
                }
                seq
            })
        })
        .collect();
    // Let the writers get going, then save while they write.
    let deadline = Instant::now() + Duration::from_secs(10);
    while msets.load(Ordering::Relaxed) < 50 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    let mut raw = Raw::connect(server.port);
    let before_save = msets.load(Ordering::Relaxed);
    assert_eq!(
        raw.call(&["BGSAVE"]),
        Resp::Simple("Background saving started".into())
    );
    let info = raw.wait_bgsave();
    let during_save = msets.load(Ordering::Relaxed) - before_save;
    stop.store(true, Ordering::Relaxed);
    let written: Vec<u64> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    assert_eq!(info["rdb_last_bgsave_status"], "ok");
    assert!(written.iter().all(|&n| n > 0), "{written:?}");
    eprintln!("{during_save} MSETs ran while the save ran; {written:?} per writer");
    drop(raw);
    drop(con);
    drop(server);

    let server = kv_at(&dir, &[]);
    let mut con = server.client();
    let mut mget = redis::cmd("MGET");
    for i in 0..PAIRS {
        mget.arg(format!("a:{i}")).arg(format!("b:{i}"));
    }
    let values: Vec<Option<u64>> = mget.query(&mut con).unwrap();
    for (i, pair) in values.chunks(2).enumerate() {
        let (a, b) = (pair[0].unwrap(), pair[1].unwrap());
        assert_eq!(a + b, 100, "pair {i}: {a} + {b}: half of an MSET was saved");
    }
    // Each writer's sequence is saved up to some point, without gaps.
    let mut saved_seq = 0;
    for (t, &count) in written.iter().enumerate() {
        let mut exists = redis::pipe();
        for n in 0..count {
            exists.cmd("EXISTS").arg(format!("seq:{t}:{n}"));
        }
        let present: Vec<u8> = exists.query(&mut con).unwrap();
        let prefix = present.iter().take_while(|&&p| p == 1).count();
        assert!(
            present[prefix..].iter().all(|&p| p == 0),
            "writer {t}: a later write was saved without an earlier one"
        );
        saved_seq += prefix;
    }
    let keys = FILLER + 2 * PAIRS + saved_seq;
    let mut raw = Raw::connect(server.port);
    assert_eq!(raw.dbsize(), keys as u64);
    assert_eq!(
        raw.info_u64("persistence", "rdb_last_load_keys_loaded"),
        keys as u64
    );
}

/// With `save 1 1`, one write is saved by itself within seconds (LASTSAVE advances, the file
/// appears) and is there after a restart.
#[test]
fn a_save_point_saves_by_itself() {
    let dir = TempDir::new("save-point");
    let server = kv_at(&dir, &["--save", "1 1"]);
    let mut raw = Raw::connect(server.port);
    let started_at = raw.lastsave();
    assert_eq!(raw.call(&["SET", "k", "v"]), Resp::Simple("OK".into()));
    let deadline = Instant::now() + Duration::from_secs(8);
    while raw.lastsave() == started_at || !dir.snapshot().exists() {
        assert!(Instant::now() < deadline, "the save point never saved");
        thread::sleep(Duration::from_millis(50));
    }
    let info = raw.wait_bgsave();
    assert_eq!(info["rdb_saves"], "1");
    assert_eq!(info["rdb_changes_since_last_save"], "0");
    drop(raw);
    drop(server);
    let server = kv_at(&dir, &[]);
    let mut raw = Raw::connect(server.port);
    assert_eq!(raw.call(&["GET", "k"]), Resp::Bulk(Some(b"v".to_vec())));
}

/// SHUTDOWN saves when save points are configured and not otherwise, SHUTDOWN NOSAVE never
/// saves, SHUTDOWN SAVE always does, and SIGTERM saves when save points are configured.
#[test]
fn shutdown_and_sigterm_save_when_they_should() {
    let dir = TempDir::new("shutdown");
    let get = |server: &Server, key: &str| Raw::connect(server.port).call(&["GET", key]);
    let set = |server: &Server, key: &str| {
        assert_eq!(
            Raw::connect(server.port).call(&["SET", key, "1"]),
            Resp::Simple("OK".into())
        );
    };
    let one = Resp::Bulk(Some(b"1".to_vec()));

    // Save points configured: SHUTDOWN saves.
    let mut server = kv_at(&dir, &["--save", "3600 1"]);
    set(&server, "by-shutdown");
    shutdown(&mut server, &[]);
    assert!(dir.snapshot().exists());

    // Save points configured, SHUTDOWN NOSAVE: not saved.
    let mut server = kv_at(&dir, &["--save", "3600 1"]);
    assert_eq!(get(&server, "by-shutdown"), one);
    set(&server, "by-nosave");
    shutdown(&mut server, &["NOSAVE"]);

    // No save points: SHUTDOWN does not save.
    let mut server = kv_at(&dir, &[]);
    assert_eq!(get(&server, "by-nosave"), Resp::Bulk(None));
    set(&server, "by-plain-shutdown");
    shutdown(&mut server, &[]);

    // No save points, SHUTDOWN SAVE: saved.
    let mut server = kv_at(&dir, &[]);
    assert_eq!(get(&server, "by-plain-shutdown"), Resp::Bulk(None));
    set(&server, "by-shutdown-save");
    shutdown(&mut server, &["SAVE"]);

    // Save points configured, SIGTERM: saved.
    let mut server = kv_at(&dir, &["--save", "3600 1"]);
    assert_eq!(get(&server, "by-shutdown-save"), one);
    set(&server, "by-sigterm");
    let killed = Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = server
        .wait_exit(Duration::from_secs(30))
        .expect("no exit after SIGTERM");
    assert!(status.success(), "{status}");

    let server = kv_at(&dir, &[]);
    for key in ["by-shutdown", "by-shutdown-save", "by-sigterm"] {
        assert_eq!(get(&server, key), one, "{key}");
    }
    for key in ["by-nosave", "by-plain-shutdown"] {
        assert_eq!(get(&server, key), Resp::Bulk(None), "{key}");
    }
}

/// A child process, killed and reaped on drop (so a failed assertion leaves no server
/// running).
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// kv-server on `port` and `dir`, without save points; its output piped to the test if
/// `piped`, else dropped.
fn spawn_kv(port: u16, dir: &TempDir, piped: bool) -> Reaped {
    let output = || if piped { Stdio::piped() } else { Stdio::null() };
    Reaped(
        Command::new(env!("CARGO_BIN_EXE_kv-server"))
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--dir", dir.as_str()])
            .stdout(output())
            .stderr(output())
            .spawn()
            .unwrap(),
    )
}

/// Starts kv-server on `dir` (a free port, no save points) expecting it to fail: its exit
/// status and everything it printed.
fn start_expecting_failure(dir: &TempDir) -> (std::process::ExitStatus, String) {
    for _ in 0..5 {
        let mut child = spawn_kv(free_port(), dir, true);
        let status = wait_child(&mut child.0, Duration::from_secs(20));
        if status.is_none() {
            // Still running: stopped, so that its output ends.
            let _ = child.0.kill();
        }
        let mut output = String::new();
        let mut errors = String::new();
        child
            .0
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut output)
            .unwrap();
        child
            .0
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut errors)
            .unwrap();
        output.push_str(&errors);
        let Some(status) = status else {
            panic!("kv-server kept running on a bad snapshot:\n{output}");
        };
        if output.contains("could not bind") {
            continue; // Another process took the port first.
        }
        return (status, output);
    }
    panic!("no free port after 5 tries");
}

/// Waits up to `timeout` for `child` to exit.
fn wait_child(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        thread::sleep(Duration::from_millis(10));
    }
    None
}

/// A snapshot with a byte flipped in its middle, with its checksum flipped, or truncated,
/// stops the start-up: kv-server exits with a failure and a message naming the file and the
/// offset, and leaves the file exactly as it was.
#[test]
fn a_corrupt_or_truncated_snapshot_stops_the_start() {
    let dir = TempDir::new("corrupt");
    let server = kv_at(&dir, &[]);
    let mut con = server.client();
    fill(&mut con, "key:", "value:", 2000);
    run(
        &mut con,
        "RPUSH l a b c\nHSET h f v\nZADD z 1 m\nSADD s x y",
    );
    let mut raw = Raw::connect(server.port);
    assert_eq!(raw.call(&["SAVE"]), Resp::Simple("OK".into()));
    drop(raw);
    drop(con);
    drop(server);
    let good = std::fs::read(dir.snapshot()).unwrap();
    assert!(good.len() > 1000, "{} bytes", good.len());

    let mut flipped = good.clone();
    flipped[good.len() / 2] ^= 0x5a;
    let mut bad_checksum = good.clone();
    *bad_checksum.last_mut().unwrap() ^= 1;
    let cases = [
        ("a byte flipped in the middle", flipped),
        ("the checksum flipped", bad_checksum),
        ("truncated to half", good[..good.len() / 2].to_vec()),
        ("truncated by one byte", good[..good.len() - 1].to_vec()),
    ];
    let path = dir.snapshot();
    for (what, bytes) in cases {
        std::fs::write(&path, &bytes).unwrap();
        let (status, output) = start_expecting_failure(&dir);
        assert!(!status.success(), "{what}: {status}\n{output}");
        assert!(
            output.contains(&path.display().to_string()),
            "{what}: the file is not named:\n{output}"
        );
        assert!(output.contains("offset"), "{what}: no offset:\n{output}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "{what}: the file changed"
        );
        assert_eq!(dir.files(), [SNAPSHOT], "{what}");
    }
    // The good file still starts the server.
    std::fs::write(&path, &good).unwrap();
    let server = kv_at(&dir, &[]);
    assert_eq!(Raw::connect(server.port).dbsize(), 2004);
}

/// While a large snapshot loads, commands get exactly `-LOADING` and INFO (allowed while
/// loading) says `loading:1` with the file's size; then the whole dataset is there. (If the
/// load is too quick to catch, only what was seen is checked.)
#[test]
fn clients_get_loading_while_the_snapshot_loads() {
    const KEYS: usize = 300_000;
    let dir = TempDir::new("loading");
    let server = kv_at(&dir, &[]);
    let mut con = server.client();
    fill(&mut con, "key:", "v", KEYS);
    let mut raw = Raw::connect(server.port);
    assert_eq!(raw.call(&["SAVE"]), Resp::Simple("OK".into()));
    drop(raw);
    drop(con);
    drop(server);
    let size = std::fs::metadata(dir.snapshot()).unwrap().len();

    let server = kv_loading_at(&dir, &[]);
    let mut raw = Raw::connect(server.port);
    let (mut seen_loading, mut seen_info_loading) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "the load never ended");
        raw.send_all(&[
            &["INFO", "persistence"],
            &["GET", "key:1"],
            &["SET", "new", "x"],
        ]);
        let before = parse_info(&raw.read().0.text());
        let (get, _) = raw.read();
        let (set, _) = raw.read();
        if before["loading"] == "1" {
            seen_info_loading += 1;
            assert_eq!(before["loading_total_bytes"], size.to_string());
            let read: u64 = before["loading_loaded_bytes"].parse().unwrap();
            assert!(read <= size);
            assert!(before.contains_key("loading_start_time"));
            assert!(before.contains_key("loading_eta_seconds"));
            assert!(before.contains_key("loading_loaded_perc"));
        } else {
            assert!(!before.contains_key("loading_total_bytes"));
        }
        match get {
            Resp::Error(error) => {
                assert_eq!(error, LOADING);
                // Loading was on when INFO ran, before the GET.
                assert_eq!(before["loading"], "1", "-LOADING after INFO said loading:0");
                assert_eq!(set, Resp::Error(LOADING.into()));
                seen_loading += 1;
            }
            Resp::Bulk(Some(value)) => {
                assert_eq!(value, b"v1");
                assert_eq!(set, Resp::Simple("OK".into()));
                break;
            }
            other => panic!("GET while loading: {other:?}"),
        }
        thread::sleep(Duration::from_millis(5));
    }
    eprintln!("-LOADING seen {seen_loading} times, INFO loading:1 {seen_info_loading} times");
    let info = raw.info("persistence");
    assert_eq!(info["loading"], "0");
    assert_eq!(info["rdb_last_load_keys_loaded"], KEYS.to_string());
    assert_eq!(raw.dbsize(), KEYS as u64 + 1);
    assert_eq!(
        raw.call(&["GET", &format!("key:{}", KEYS - 1)]),
        Resp::Bulk(Some(format!("v{}", KEYS - 1).into_bytes()))
    );
}

/// A client that connects the moment the port opens never sees the dataset before the
/// snapshot is loaded: its first GET answers `-LOADING` or the saved value, never nil.
#[test]
fn no_client_sees_the_dataset_before_it_is_loaded() {
    let dir = TempDir::new("loading-race");
    let server = kv_at(&dir, &[]);
    let mut raw = Raw::connect(server.port);
    assert_eq!(raw.call(&["SET", "k", "v"]), Resp::Simple("OK".into()));
    assert_eq!(raw.call(&["SAVE"]), Resp::Simple("OK".into()));
    drop(raw);
    drop(server);

    let (mut tries, mut loading) = (0, 0);
    for _ in 0..150 {
        let port = free_port();
        let mut child = spawn_kv(port, &dir, false);
        let deadline = Instant::now() + Duration::from_secs(10);
        let stream = loop {
            if let Ok(stream) = TcpStream::connect(("127.0.0.1", port)) {
                break Some(stream);
            }
            if Instant::now() > deadline || !matches!(child.0.try_wait(), Ok(None)) {
                break None;
            }
        };
        if let Some(stream) = stream {
            let mut raw = Raw::new(stream);
            raw.send_all(&[&["GET", "k"], &["INFO", "server"]]);
            let (get, _) = raw.read();
            let info = parse_info(&raw.read().0.text());
            // Only a reply from the process started here counts (another test's server may
            // have taken the port).
            if info.get("process_id") == Some(&child.0.id().to_string()) {
                tries += 1;
                match get {
                    Resp::Error(e) if e == LOADING => loading += 1,
                    Resp::Bulk(Some(v)) => assert_eq!(v, b"v"),
                    other => panic!("the first GET answered {other:?} before the load"),
                }
            }
        }
        drop(child);
    }
    eprintln!("{tries} starts, -LOADING {loading} times");
    assert!(tries > 100, "only {tries} starts were ours");
}

/// Waits (10 s at most) until the last background save has failed.
fn wait_bgsave_failed(raw: &mut Raw) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info = raw.info("persistence");
        if info["rdb_bgsave_in_progress"] == "0" && info["rdb_last_bgsave_status"] == "err" {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the background save did not fail"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// After a failed BGSAVE (its directory deleted), with save points configured, writes and
/// PING get MISCONF exactly as Redis 7.0 words it (and a MULTI queuing a write is aborted as
/// in Redis), reads still work; a successful BGSAVE lifts the refusal, and so does
/// `CONFIG SET stop-writes-on-bgsave-error no`.
#[test]
fn a_failed_save_refuses_writes_with_misconf_until_a_save_succeeds() {
    let redis_dir = TempDir::new("misconf-redis");
    let kv_dir = TempDir::new("misconf-kv");
    let redis = Server::redis(&["--save", "3600 1", "--dir", redis_dir.as_str()]);
    let kv = kv_at(&kv_dir, &["--save", "3600 1"]);
    let mut replies = Vec::new();
    for (server, dir) in [(&redis, &redis_dir), (&kv, &kv_dir)] {
        let mut raw = Raw::connect(server.port);
        assert_eq!(raw.call(&["SET", "k", "v"]), Resp::Simple("OK".into()));
        std::fs::remove_dir_all(dir.path()).unwrap();
        assert_eq!(
            raw.call(&["BGSAVE"]),
            Resp::Simple("Background saving started".into())
        );
        wait_bgsave_failed(&mut raw);
        let mut seen = vec![
            raw.call_raw(&["SET", "k", "w"]),
            raw.call_raw(&["PING"]),
            raw.call_raw(&["GET", "k"]),
            raw.call_raw(&["INCR", "n"]),
            raw.call_raw(&["MULTI"]),
            raw.call_raw(&["SET", "k", "w"]),
            raw.call_raw(&["EXEC"]),
            raw.call_raw(&["MULTI"]),
            raw.call_raw(&["GET", "k"]),
            raw.call_raw(&["EXEC"]),
        ];
        // The refusal lifted by the configuration.
        seen.push(raw.call_raw(&["CONFIG", "SET", "stop-writes-on-bgsave-error", "no"]));
        seen.push(raw.call_raw(&["SET", "k", "w"]));
        seen.push(raw.call_raw(&["PING"]));
        seen.push(raw.call_raw(&["CONFIG", "SET", "stop-writes-on-bgsave-error", "yes"]));
        seen.push(raw.call_raw(&["SET", "k", "v"]));
        replies.push(seen);
    }
    let misconf = format!("-{MISCONF}\r\n");
    assert_eq!(replies[0][0], misconf, "Redis's words changed?");
    assert_eq!(replies[1], replies[0], "kv's replies differ from Redis's");
    assert_eq!(replies[1][2], "$1\r\nv\r\n");
    assert_eq!(replies[1][14], misconf);

    // kv: with its directory back, a BGSAVE succeeds and writes are accepted again. (Redis
    // cannot do this part: it has moved into the directory that was deleted.)
    std::fs::create_dir_all(kv_dir.path()).unwrap();
    let mut raw = Raw::connect(kv.port);
    assert_eq!(
        raw.call(&["BGSAVE"]),
        Resp::Simple("Background saving started".into())
    );
    let info = raw.wait_bgsave();
    assert_eq!(info["rdb_last_bgsave_status"], "ok");
    assert_eq!(raw.call(&["SET", "k", "x"]), Resp::Simple("OK".into()));
    assert_eq!(raw.call(&["PING"]), Resp::Simple("PONG".into()));
    assert!(kv_dir.snapshot().exists());
}

/// A failed SAVE answers `-ERR` and, unlike a failed BGSAVE, refuses nothing afterwards (as
/// in Redis: only the background save's status gates writes); on kv, a SAVE that succeeds
/// after a failed BGSAVE lifts the refusal, as Redis's `rdbSave` resets that status.
#[test]
fn a_failed_save_refuses_nothing_and_a_successful_save_lifts_misconf() {
    let redis_dir = TempDir::new("failed-save-redis");
    let kv_dir = TempDir::new("failed-save-kv");
    let redis = Server::redis(&["--save", "3600 1", "--dir", redis_dir.as_str()]);
    let kv = kv_at(&kv_dir, &["--save", "3600 1"]);
    let mut replies = Vec::new();
    for (server, dir) in [(&redis, &redis_dir), (&kv, &kv_dir)] {
        let mut raw = Raw::connect(server.port);
        std::fs::remove_dir_all(dir.path()).unwrap();
        replies.push(vec![
            raw.call_raw(&["SAVE"]),
            raw.call_raw(&["SET", "k", "v"]),
            raw.call_raw(&["PING"]),
        ]);
    }
    assert_eq!(replies[0][0], "-ERR\r\n", "Redis's reply changed?");
    assert_eq!(replies[1], replies[0], "kv's replies differ from Redis's");

    let mut raw = Raw::connect(kv.port);
    assert_eq!(
        raw.call(&["BGSAVE"]),
        Resp::Simple("Background saving started".into())
    );
    wait_bgsave_failed(&mut raw);
    assert_eq!(raw.call_raw(&["SET", "k", "w"]), format!("-{MISCONF}\r\n"));
    std::fs::create_dir_all(kv_dir.path()).unwrap();
    assert_eq!(raw.call(&["SAVE"]), Resp::Simple("OK".into()));
    assert_eq!(raw.call(&["SET", "k", "w"]), Resp::Simple("OK".into()));
}

/// Starts redis-server or kv-server with their defaults for persistence (no `--save`), in
/// `dir`.
fn start_with_defaults(program: &str, dir: &TempDir) -> kv_testkit::Server {
    kv_testkit::Server::start(|port| {
        let mut command = Command::new(program);
        command
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--dir", dir.as_str()]);
        if program == "redis-server" {
            command.args(["--appendonly", "no"]);
        }
        command
    })
}

/// The replies of the persistence commands and settings, byte for byte as Redis 7.0's:
/// argument errors, protected and immutable settings, invalid save points, the defaults,
/// SAVE refused inside MULTI and BGSAVE scheduled by EXEC.
#[test]
fn replies_are_redis_byte_for_byte() {
    let redis_dir = TempDir::new("replies-redis");
    let kv_dir = TempDir::new("replies-kv");
    let redis = start_with_defaults("redis-server", &redis_dir);
    let kv = start_with_defaults(env!("CARGO_BIN_EXE_kv-server"), &kv_dir);
    let script: &[&[&str]] = &[
        &["BGSAVE", "x"],
        &["BGSAVE", "SCHEDULE", "x"],
        &["SAVE", "x"],
        &["LASTSAVE", "x"],
        &["CONFIG", "SET", "dir", "/tmp"],
        &["CONFIG", "SET", "dbfilename", "x"],
        &["CONFIG", "SET", "save", "1 2 3"],
        &["CONFIG", "SET", "save", "abc 1"],
        &["CONFIG", "SET", "save", "-1 1"],
        &["CONFIG", "SET", "rdbchecksum", "no"],
        &["CONFIG", "SET", "rdbcompression", "maybe"],
        &["CONFIG", "GET", "save"],
        &["CONFIG", "GET", "rdbcompression"],
        &["CONFIG", "GET", "rdbchecksum"],
        &["CONFIG", "GET", "stop-writes-on-bgsave-error"],
        &["CONFIG", "SET", "save", "100 10 20 5"],
        &["CONFIG", "GET", "save"],
        &["CONFIG", "SET", "save", ""],
        &["CONFIG", "GET", "save"],
        &["SHUTDOWN", "NOSAVE", "SAVE"],
        &["SHUTDOWN", "ABORT"],
        &["SHUTDOWN", "BOGUS"],
        &["MULTI"],
        &["SAVE"],
        &["EXEC"],
        &["MULTI"],
        &["SAVE", "x"],
        &["EXEC"],
        &["MULTI"],
        &["BGSAVE", "x"],
        &["EXEC"],
        &["MULTI"],
        &["BGSAVE"],
        &["EXEC"],
    ];
    let mut replies = Vec::new();
    for server in [&redis, &kv] {
        let mut raw = Raw::connect(server.port);
        let seen: Vec<String> = script.iter().map(|args| raw.call_raw(args)).collect();
        replies.push(seen);
    }
    for ((args, r), k) in script.iter().zip(&replies[0]).zip(&replies[1]) {
        assert_eq!(k, r, "{args:?}");
    }
    assert_eq!(
        replies[1].last().unwrap(),
        "*1\r\n+Background saving scheduled\r\n"
    );
    // The scheduled save runs at the server's next tick.
    let mut raw = Raw::connect(kv.port);
    let deadline = Instant::now() + Duration::from_secs(10);
    while raw.info_u64("persistence", "rdb_saves") == 0 {
        assert!(Instant::now() < deadline, "the scheduled BGSAVE never ran");
        thread::sleep(Duration::from_millis(20));
    }
    assert!(kv_dir.snapshot().exists());

    // With the protected settings allowed: a path is still no file name.
    let redis = Server::redis(&[
        "--enable-protected-configs",
        "yes",
        "--dir",
        redis_dir.as_str(),
    ]);
    let kv = kv_at(&kv_dir, &["--enable-protected-configs", "yes"]);
    let script: &[&[&str]] = &[
        &["CONFIG", "SET", "dbfilename", "a/b"],
        &["CONFIG", "SET", "dbfilename", "other.db"],
        &["CONFIG", "GET", "dbfilename"],
        &["CONFIG", "SET", "dir", "/nonexistent-kv-dir"],
        &["CONFIG", "SET", "dir", "/etc/passwd"],
        &["CONFIG", "SET", "dir", ""],
        // Kept (and shown) as the absolute path it names.
        &["CONFIG", "SET", "dir", "/tmp/../tmp/"],
        &["CONFIG", "GET", "dir"],
    ];
    let mut replies = Vec::new();
    for server in [&redis, &kv] {
        let mut raw = Raw::connect(server.port);
        let seen: Vec<String> = script.iter().map(|args| raw.call_raw(args)).collect();
        replies.push(seen);
    }
    assert_eq!(replies[1], replies[0]);
}

/// Without `dir`, CONFIG GET dir shows where the server started, as an absolute path.
#[test]
fn dir_defaults_to_the_directory_the_server_started_in() {
    let server = Server::kv(&[]);
    let reply = Raw::connect(server.port).call(&["CONFIG", "GET", "dir"]);
    let here = std::fs::canonicalize(".").unwrap();
    let expected = Resp::Array(Some(vec![
        Resp::Bulk(Some(b"dir".to_vec())),
        Resp::Bulk(Some(here.to_str().unwrap().as_bytes().to_vec())),
    ]));
    assert_eq!(reply, expected);
}

/// With the protected settings allowed, CONFIG SET dir and dbfilename move where SAVE writes.
#[test]
fn dir_and_dbfilename_set_at_runtime_choose_the_file() {
    let dir = TempDir::new("runtime-dir");
    let other = TempDir::new("runtime-dir-other");
    let server = kv_at(&dir, &["--enable-protected-configs", "yes"]);
    let mut raw = Raw::connect(server.port);
    assert_eq!(raw.call(&["SET", "k", "v"]), Resp::Simple("OK".into()));
    let ok = Resp::Simple("OK".into());
    assert_eq!(raw.call(&["CONFIG", "SET", "dir", other.as_str()]), ok);
    assert_eq!(raw.call(&["SAVE"]), ok);
    assert_eq!(other.files(), [SNAPSHOT]);
    assert_eq!(
        raw.call(&["CONFIG", "SET", "dbfilename", "elsewhere.kvs"]),
        ok
    );
    assert_eq!(raw.call(&["SAVE"]), ok);
    assert_eq!(other.files(), [SNAPSHOT, "elsewhere.kvs"]);
    assert!(dir.files().is_empty());
    drop(raw);
    drop(server);
    let server = kv_at(&other, &["--dbfilename", "elsewhere.kvs"]);
    assert_eq!(
        Raw::connect(server.port).call(&["GET", "k"]),
        Resp::Bulk(Some(b"v".to_vec()))
    );
}

/// INFO persistence has the snapshot fields Redis 7.0 has, in Redis's order; after a restart
/// `rdb_last_load_keys_loaded` is the number of keys loaded and `rdb_last_load_keys_expired`
/// counts the keys that expired in between.
#[test]
fn info_persistence_has_redis_fields_and_counts_the_load() {
    let redis = Server::redis(&[]);
    let dir = TempDir::new("info");
    let server = kv_at(&dir, &[]);
    let redis_names = info_names(
        &Raw::connect(redis.port)
            .call(&["INFO", "persistence"])
            .text(),
    );
    let kv_names = info_names(
        &Raw::connect(server.port)
            .call(&["INFO", "persistence"])
            .text(),
    );
    // Redis's fields, in Redis's order.
    assert_eq!(kv_names, redis_names);
    // And with the append-only file on.
    let (kv_aof_dir, redis_aof_dir) = (TempDir::new("info-aof"), TempDir::new("info-aof-r"));
    let redis_aof = Server::redis(&["--appendonly", "yes", "--dir", redis_aof_dir.as_str()]);
    let kv_aof = kv_at(&kv_aof_dir, &["--appendonly", "yes"]);
    let names = |port| info_names(&Raw::connect(port).call(&["INFO", "persistence"]).text());
    assert_eq!(names(kv_aof.port), names(redis_aof.port));
    drop((kv_aof, redis_aof));

    let mut raw = Raw::connect(server.port);
    let info = raw.info("persistence");
    assert_eq!(info["loading"], "0");
    assert_eq!(info["rdb_last_load_keys_loaded"], "0");
    let mut con = server.client();
    fill(&mut con, "key:", "v", 1234);
    run(&mut con, "SET soon x PX 300\nSELECT 3\nSET other y");
    assert_eq!(raw.call(&["SAVE"]), Resp::Simple("OK".into()));
    drop(raw);
    drop(con);
    drop(server);
    thread::sleep(Duration::from_millis(400));
    let server = kv_at(&dir, &["--enable-debug-command", "yes"]);
    let mut raw = Raw::connect(server.port);
    let info = raw.info("persistence");
    assert_eq!(info["rdb_last_load_keys_loaded"], "1235");
    assert_eq!(info["rdb_last_load_keys_expired"], "1");
    assert_eq!(raw.dbsize(), 1234);

    // A background save's progress, while it runs.
    assert_eq!(
        raw.call(&["DEBUG", "POPULATE", "300000"]),
        Resp::Simple("OK".into())
    );
    assert_eq!(
        raw.call(&["BGSAVE"]),
        Resp::Simple("Background saving started".into())
    );
    // The save's thread may not have begun its walk yet.
    let mut info = raw.info("persistence");
    while info["current_save_keys_total"] == "0" && info["rdb_bgsave_in_progress"] == "1" {
        thread::sleep(Duration::from_millis(1));
        info = raw.info("persistence");
    }
    assert_eq!(
        info["rdb_bgsave_in_progress"], "1",
        "the save ended too soon"
    );
    // POPULATE's key:0 to key:299999 take in the 1234 filled ones; plus `other` in db 3.
    assert_eq!(info["current_save_keys_total"], "300001");
    let processed: u64 = info["current_save_keys_processed"].parse().unwrap();
    assert!(processed <= 300001);
    let percent: f64 = info["current_fork_perc"].parse().unwrap();
    assert!((0.0..=100.0).contains(&percent));
    let deadline = Instant::now() + SAVE_LIMIT;
    while raw.info("persistence")["rdb_bgsave_in_progress"] == "1" {
        assert!(Instant::now() < deadline, "the save never ended");
        thread::sleep(Duration::from_millis(20));
    }
    let info = raw.info("persistence");
    assert_eq!(info["current_save_keys_total"], "0");
    assert_eq!(info["current_fork_perc"], "0.00");
    // Keys encoded and waiting to be written out: at most a piece per slot and the walk's.
    let cow: u64 = info["rdb_last_cow_size"].parse().unwrap();
    assert!((1..=17 * (256 << 10) + (64 << 10)).contains(&cow), "{cow}");
}

/// `rdbcompression no` writes a larger file of compressible data than `yes`; both files load
/// back the same dataset.
#[test]
fn rdbcompression_changes_the_file_not_the_data() {
    let dir = TempDir::new("compression");
    let server = kv_at(&dir, &[]);
    let mut con = server.client();
    let mut pipe = redis::pipe();
    for i in 0..2000 {
        pipe.cmd("SET")
            .arg(format!("key:{i}"))
            .arg(format!("{i}:{}", "abcdefgh".repeat(25)))
            .ignore();
    }
    let big_hash: Vec<(String, String)> = (0..300)
        .map(|i| (format!("field:{i}"), "x".repeat(50)))
        .collect();
    pipe.cmd("HSET").arg("hash").arg(&big_hash).ignore();
    let () = pipe.query(&mut con).unwrap();
    let before = dump(&mut con, &[0]);
    let mut raw = Raw::connect(server.port);
    let ok = Resp::Simple("OK".into());
    assert_eq!(raw.call(&["CONFIG", "SET", "rdbcompression", "no"]), ok);
    assert_eq!(raw.call(&["SAVE"]), ok);
    let plain = std::fs::read(dir.snapshot()).unwrap();
    assert_eq!(raw.call(&["CONFIG", "SET", "rdbcompression", "yes"]), ok);
    assert_eq!(raw.call(&["SAVE"]), ok);
    let compressed = std::fs::read(dir.snapshot()).unwrap();
    assert!(
        compressed.len() * 2 < plain.len(),
        "compressed {} bytes, plain {} bytes",
        compressed.len(),
        plain.len()
    );
    drop(raw);
    drop(con);
    drop(server);

    for (what, bytes) in [("compressed", &compressed), ("plain", &plain)] {
        std::fs::write(dir.snapshot(), bytes).unwrap();
        let server = kv_at(&dir, &[]);
        let after = dump(&mut server.client(), &[0]);
        let found = differences(&before, &after, false);
        assert!(found.is_empty(), "{what}:\n{}", found.join("\n"));
    }
}

/// `kv-server --check-snapshot FILE` reads a good file whole and reports its keys (exit 0),
/// and names the offset of the fault in a damaged one (exit 1), without starting a server.
#[test]
fn check_snapshot_reports_keys_or_the_fault() {
    let dir = TempDir::new("check");
    let server = kv_at(&dir, &[]);
    let mut con = server.client();
    run(
        &mut con,
        "SET a 1\nRPUSH l x y\nSET t v EX 1000\nSELECT 4\nSADD s m",
    );
    let _: () = redis::cmd("SAVE").query(&mut con).unwrap();
    let check = |file: &Path| {
        let output = Command::new(env!("CARGO_BIN_EXE_kv-server"))
            .arg("--check-snapshot")
            .arg(file)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        (output.status.code(), text)
    };
    let (code, text) = check(&dir.snapshot());
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("[info] 4 keys read"), "{text}");
    assert!(text.contains("[info] database 4: 1 keys"), "{text}");
    assert!(text.contains("[info] 1 expires"), "{text}");

    let bytes = std::fs::read(dir.snapshot()).unwrap();
    let damaged = dir.path().join("damaged.kvs");
    std::fs::write(&damaged, &bytes[..bytes.len() - 5]).unwrap();
    let (code, text) = check(&damaged);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("SNAPSHOT ERROR") && text.contains("offset"),
        "{text}"
    );
}
