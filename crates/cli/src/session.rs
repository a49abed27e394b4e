//! A session with the server as redis-cli 7.0 keeps one: the connection and what redis-cli
//! remembers about it, the handshake, and running a command the way `issueCommandRepeat`,
//! `cliSendCommand` and `cliReadReply` do.
//!
//! - Connecting (`cliConnect`): open the socket, then `AUTH`, `SELECT`, `HELLO 3`, each only
//!   when asked for. A failing step is reported on stderr ("AUTH failed: ...") and skips the
//!   steps after it, but the connection is kept and used, as redis-cli keeps it.
//! - Running a command: reconnect first if the connection is gone; send it `repeat` times
//!   (pausing `-i` after each), print each reply, follow the database across `SELECT`,
//!   `MULTI`/`EXEC`/`DISCARD` and `RESET`; `MONITOR` and `SUBSCRIBE` print until the server
//!   stops; `SHUTDOWN` may close the connection without an error.
//! - Pushes the server sends by itself are printed with `--show-pushes`, dropped otherwise.
//!
//! Where redis-cli calls `exit(1)` (a protocol error, a reply it cannot print, `-e` and an
//! error reply), the session returns a [`Fatal`] error carrying redis-cli's message.

use std::fmt;
use std::io::{self, Write};
use std::time::Duration;

use anyhow::Result;

use crate::cnum::atoi;
use crate::connection::{Connection, ConnectionError, Target};
use crate::format::{c_str, Formatter, OutputMode, UnknownReplyType};
use crate::options::{Options, Resp3};
use crate::reply::Reply;

/// An end of the run with exit status 1, after printing its message (if any) on stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fatal(pub Vec<u8>);

impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

impl std::error::Error for Fatal {}

impl From<UnknownReplyType> for Fatal {
    fn from(e: UnknownReplyType) -> Fatal {
        Fatal(e.to_string().into_bytes())
    }
}

/// What hiredis does with a push message read while waiting for a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pushes {
    /// hiredis's default: dropped.
    Drop,
    /// `--show-pushes`: printed as they come.
    Print,
    /// Returned as replies (while subscribed, so that messages are printed as replies).
    InBand,
}

/// hiredis's type number of an array (see [`Reply::type_number`]).
const TYPE_ARRAY: u8 = 2;
/// ... of a nil.
const TYPE_NIL: u8 = 4;
/// ... of an error.
const TYPE_ERROR: u8 = 6;
/// ... of a map.
const TYPE_MAP: u8 = 9;

/// The connection and its state; replies go to `out`.
#[derive(Debug)]
pub struct Session<W: Write> {
    options: Options,
    formatter: Formatter,
    show_pushes: bool,
    interactive: bool,
    out: W,
    conn: Option<Connection>,
    pushes: Pushes,
    /// The database the connection is in (redis-cli's `dbnum`).
    db: i32,
    /// The database asked for (`input_dbnum`): `-n`, or the last successful SELECT.
    input_db: i32,
    in_multi: bool,
    pre_multi_db: i32,
    current_resp3: bool,
    last_type: Option<u8>,
    shutdown: bool,
    monitor_mode: bool,
    pubsub_mode: bool,
    /// The command table for `help`, fetched the first time it is asked for.
    docs: Option<crate::interactive::docs::Docs>,
}

impl<W: Write> Session<W> {
    /// A session, not yet connected. `show_pushes` is `--show-pushes` resolved against the
    /// terminal; `interactive` is set when commands come line by line (redis-cli's REPL),
    /// which changes how a dropped connection and `-e` are handled.
    pub fn new(
        options: Options,
        formatter: Formatter,
        show_pushes: bool,
        interactive: bool,
        out: W,
    ) -> Session<W> {
        let input_db = options.db;
        Session {
            options,
            formatter,
            show_pushes,
            interactive,
            out,
            conn: None,
            pushes: Pushes::Drop,
            db: 0,
            input_db,
            in_multi: false,
            pre_multi_db: 0,
            current_resp3: false,
            last_type: None,
            shutdown: false,
            monitor_mode: false,
            pubsub_mode: false,
            docs: None,
        }
    }

    /// Where replies go.
    pub fn out(&mut self) -> &mut W {
        &mut self.out
    }

    /// The open connection, if any, for the special modes that talk to the server directly
    /// (`--pipe`, `--scan`, `--bigkeys`, ...).
    pub fn connection(&mut self) -> Option<&mut Connection> {
        self.conn.as_mut()
    }

    /// The output mode.
    pub fn output_mode(&self) -> OutputMode {
        self.formatter.mode
    }

    /// Points the session at another host and port (the REPL's `connect host port`).
    pub fn set_address(&mut self, host: String, port: i32) {
        self.options.host = host;
        self.options.port = port;
    }

    /// redis-cli's prompt: `host:port[db](TX)> `, or `redis /path.sock> `; IPv6 hosts are
    /// bracketed.
    pub fn prompt(&self) -> String {
        if self.conn.is_none() {
            return "not connected> ".into();
        }
        let mut prompt = match &self.options.socket {
            Some(path) => format!("redis {}", path.display()),
            None if self.options.host.contains(':') => {
                format!("[{}]:{}", self.options.host, self.options.port)
            }
            None => format!("{}:{}", self.options.host, self.options.port),
        };
        if self.db != 0 {
            prompt.push_str(&format!("[{}]", self.db));
        }
        if self.in_multi {
            prompt.push_str("(TX)");
        }
        prompt.push_str("> ");
        prompt
    }

    /// Where to connect: the Unix socket if there is one, else host and port.
    fn target(&self) -> Target {
        match &self.options.socket {
            Some(path) => Target::Unix(path.clone()),
            None => Target::Tcp {
                host: self.options.host.clone(),
                port: self.options.port,
            },
        }
    }

    /// Connects (`cliConnect`) unless connected already, or again if `force`; reports a
    /// failure to connect on stderr unless `quiet`. False when a step failed; the connection
    /// may still be open then (a failed AUTH leaves it so, as in redis-cli).
    pub fn connect(&mut self, force: bool, quiet: bool) -> Result<bool> {
        if self.conn.is_none() || force {
            if self.conn.take().is_some() {
                self.db = 0;
                self.in_multi = false;
            }
            let target = self.target();
            match Connection::open(&target) {
                Ok(conn) => {
                    self.conn = Some(conn);
                    self.pushes = Pushes::Drop;
                }
                Err(reason) => {
                    if !quiet {
                        eprintln!("Could not connect to Redis at {target}: {reason}");
                    }
                    return Ok(false);
                }
            }
            self.current_resp3 = false;
            if !self.auth()? || !self.select()? || !self.switch_protocol()? {
                return Ok(false);
            }
        }
        if self.show_pushes {
            self.pushes = Pushes::Print;
        }
        Ok(true)
    }

    /// Sends a command and waits for its reply, as hiredis's `redisCommand`: `None` when the
    /// connection failed.
    fn call(&mut self, args: &[Vec<u8>]) -> Result<Option<Reply>> {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(None);
        };
        conn.send(args);
        Ok(self.next_reply()?.ok())
    }

    /// `AUTH [user] password`, when there is a password.
    fn auth(&mut self) -> Result<bool> {
        let Some(password) = &self.options.password else {
            return Ok(true);
        };
        // redis-cli formats them with `%s`: each stops at a NUL byte.
        let mut args = vec![b"AUTH".to_vec()];
        if let Some(user) = &self.options.user {
            args.push(c_str(user).to_vec());
        }
        args.push(c_str(password).to_vec());
        self.handshake_step(&args, "AUTH failed")
    }

    /// `SELECT db`, when the connection is not in the database asked for.
    fn select(&mut self) -> Result<bool> {
        if self.input_db == self.db {
            return Ok(true);
        }
        let db = self.input_db;
        let ok = self.handshake_step(
            &[b"SELECT".to_vec(), db.to_string().into_bytes()],
            &format!("SELECT {db} failed"),
        )?;
        if ok {
            self.db = db;
        }
        Ok(ok)
    }

    /// `HELLO 3`, for `-3` or `--json` without `-2`.
    fn switch_protocol(&mut self) -> Result<bool> {
        if self.options.resp3 == Resp3::Off || self.options.resp2 {
            return Ok(true);
        }
        let ok = self.handshake_step(&[b"HELLO".to_vec(), b"3".to_vec()], "HELLO 3 failed")?;
        self.current_resp3 = true;
        // Only an explicit -3 needs RESP3; --json works on either protocol.
        Ok(ok || self.options.resp3 == Resp3::Implicit)
    }

    /// One command of the handshake; failures reported on stderr as `failure: error text`.
    fn handshake_step(&mut self, args: &[Vec<u8>], failure: &str) -> Result<bool> {
        match self.call(args)? {
            None => {
                eprintln!("\nI/O error");
                Ok(false)
            }
            Some(Reply::Error(text)) => {
                let mut line = format!("{failure}: ").into_bytes();
                line.extend_from_slice(c_str(&text));
                line.push(b'\n');
                io::stderr().write_all(&line)?;
                Ok(false)
            }
            Some(_) => Ok(true),
        }
    }

    /// The next reply, handling pushes as hiredis's push callback would.
    fn next_reply(&mut self) -> Result<Result<Reply, ConnectionError>> {
        loop {
            let Some(conn) = self.conn.as_mut() else {
                return Ok(Err(ConnectionError::Eof));
            };
            let reply = match conn.read() {
                Ok(reply) => reply,
                Err(e) => return Ok(Err(e)),
            };
            if matches!(reply, Reply::Push(_)) {
                match self.pushes {
                    Pushes::InBand => {}
                    Pushes::Drop => continue,
                    Pushes::Print => {
                        let text = self.formatter.push(&reply).map_err(Fatal::from)?;
                        self.out.write_all(&text)?;
                        continue;
                    }
                }
            }
            return Ok(Ok(reply));
        }
    }

    /// Runs a command `repeat` times (negative: forever), reconnecting first if the connection
    /// is gone (`issueCommandRepeat`). False when it could not be run to the end; the reason is
    /// on stderr.
    pub fn issue(&mut self, args: &[Vec<u8>], repeat: i64) -> Result<bool> {
        if let Some(name) = args.first() {
            // redis-cli answers help itself, in every mode, once whatever `-r` says.
            let name = c_str(name);
            if name.eq_ignore_ascii_case(b"help") || name == b"?" {
                self.help(&args[1..])?;
                return Ok(true);
            }
        }
        let dropped = match &self.conn {
            None => true,
            Some(conn) => conn.error().is_some_and(ConnectionError::is_dropped),
        };
        if dropped && !self.connect(true, false)? {
            self.print_connection_error();
            return Ok(false);
        }
        if !self.send_command(args, repeat)? {
            self.print_connection_error();
            self.conn = None;
            return Ok(false);
        }
        Ok(true)
    }

    /// Prints the answer to `help args...` from the server's command table (or kv-cli's
    /// built-in copy when the server is away).
    pub fn help(&mut self, args: &[Vec<u8>]) -> Result<()> {
        use crate::interactive::{docs, help};
        let options = &self.options;
        let table = self
            .docs
            .get_or_insert_with(|| docs::fetch(&docs::Source::new(options)));
        let program = format!("kv-cli {}", env!("CARGO_PKG_VERSION"));
        self.out.write_all(&help::help(table, args, &program))?;
        Ok(())
    }

    /// redis-cli's `cliPrintContextError`: "Error: " and why the connection failed (nothing
    /// after the colon when it did not fail, as redis-cli prints after a failed AUTH).
    fn print_connection_error(&self) {
        if let Some(conn) = &self.conn {
            eprintln!(
                "Error: {}",
                conn.error().map_or("", ConnectionError::errstr)
            );
        }
    }

    /// `cliSendCommand`.
    fn send_command(&mut self, args: &[Vec<u8>], mut repeat: i64) -> Result<bool> {
        let Some(command) = args.first() else {
            return Ok(true);
        };
        if self.conn.is_none() {
            return Ok(false);
        }
        let is = |name: &str| c_str(command).eq_ignore_ascii_case(name.as_bytes());
        let as_raw = prints_raw(args);
        if is("shutdown") {
            self.shutdown = true;
        }
        if is("monitor") {
            self.monitor_mode = true;
        }
        if is("subscribe") || is("psubscribe") || is("ssubscribe") {
            self.pubsub_mode = true;
        }
        while repeat < 0 || {
            repeat -= 1;
            repeat >= 0
        } {
            let Some(conn) = self.conn.as_mut() else {
                return Ok(false);
            };
            conn.send(args);

            if self.monitor_mode {
                loop {
                    if !self.read_reply(as_raw)? {
                        return Err(Fatal(Vec::new()).into());
                    }
                    if self.last_type == Some(TYPE_ERROR) {
                        self.monitor_mode = false;
                        return Ok(true);
                    }
                }
            }

            if self.pubsub_mode {
                if self.formatter.mode != OutputMode::Raw {
                    self.out
                        .write_all(b"Reading messages... (press Ctrl-C to quit)\n")?;
                }
                self.pushes = Pushes::InBand;
                while self.pubsub_mode {
                    if !self.read_reply(as_raw)? {
                        return Err(Fatal(Vec::new()).into());
                    }
                    if self.last_type == Some(TYPE_ERROR) {
                        if self.show_pushes {
                            self.pushes = Pushes::Print;
                        }
                        self.pubsub_mode = false;
                    }
                }
                continue;
            }

            if !self.read_reply(as_raw)? {
                return Ok(false);
            }
            self.follow_state(args)?;
            if self.options.interval_micros != 0 {
                // usleep's argument is an unsigned int: C converts the long to it.
                let micros = self.options.interval_micros as u32;
                std::thread::sleep(Duration::from_micros(u64::from(micros)));
            }
            self.out.flush()?;
        }
        Ok(true)
    }

    /// What a successful command changes in redis-cli's idea of the connection.
    fn follow_state(&mut self, args: &[Vec<u8>]) -> Result<()> {
        let is = |name: &str| c_str(&args[0]).eq_ignore_ascii_case(name.as_bytes());
        let failed = self.last_type == Some(TYPE_ERROR);
        if is("select") && args.len() == 2 && !failed {
            self.db = atoi(c_str(&args[1]));
            self.input_db = self.db;
        } else if is("auth") && (args.len() == 2 || args.len() == 3) {
            self.select()?;
        } else if is("multi") && args.len() == 1 && !failed {
            self.in_multi = true;
            self.pre_multi_db = self.db;
        } else if is("exec") && args.len() == 1 && self.in_multi {
            self.in_multi = false;
            if failed || self.last_type == Some(TYPE_NIL) {
                self.db = self.pre_multi_db;
                self.input_db = self.db;
            }
        } else if is("discard") && args.len() == 1 && !failed {
            self.in_multi = false;
            self.db = self.pre_multi_db;
            self.input_db = self.db;
        } else if is("reset") && args.len() == 1 && !failed {
            self.in_multi = false;
            self.db = 0;
            self.input_db = 0;
            self.current_resp3 = false;
        } else if is("hello") {
            match self.last_type {
                Some(TYPE_MAP) => self.current_resp3 = true,
                Some(TYPE_ARRAY) => self.current_resp3 = false,
                _ => {}
            }
        }
        Ok(())
    }

    /// Reads one reply and prints it (`cliReadReply`). False when the connection dropped and
    /// commands come line by line (the caller reconnects); a dropped connection otherwise ends
    /// the run.
    fn read_reply(&mut self, as_raw: bool) -> Result<bool> {
        let reply = match self.next_reply()? {
            Ok(reply) => reply,
            Err(e) => {
                if self.shutdown {
                    self.conn = None;
                    return Ok(true);
                }
                let reconnectable = match &e {
                    ConnectionError::Eof => true,
                    ConnectionError::Io(kind, _) => matches!(
                        kind,
                        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
                    ),
                    ConnectionError::Protocol(_) => false,
                };
                if self.interactive && reconnectable {
                    return Ok(false);
                }
                return Err(Fatal(format!("Error: {}", e.errstr()).into_bytes()).into());
            }
        };
        self.last_type = Some(reply.type_number());
        if let Reply::Error(text) = &reply {
            if !self.interactive && self.options.exit_on_error {
                return Err(Fatal(c_str(text).to_vec()).into());
            }
        }
        let text = self.formatter.reply(&reply, as_raw).map_err(Fatal::from)?;
        self.out.write_all(&text)?;
        self.out.flush()?;
        Ok(true)
    }
}

/// Commands whose replies are text to print as it is in every output mode (redis-cli's
/// `output_raw` list).
pub fn prints_raw(args: &[Vec<u8>]) -> bool {
    let word = |i: usize| args.get(i).map(|a| c_str(a).to_ascii_lowercase());
    let (Some(command), second) = (word(0), word(1)) else {
        return false;
    };
    let second = second.as_deref().unwrap_or(b"");
    let argc = args.len();
    match command.as_slice() {
        b"info" | b"lolwut" => true,
        b"debug" => argc >= 2 && matches!(second, b"htstats" | b"htstats-key" | b"client-eviction"),
        b"memory" => argc >= 2 && matches!(second, b"malloc-stats" | b"doctor"),
        b"cluster" => argc == 2 && matches!(second, b"nodes" | b"info"),
        b"client" => argc >= 2 && matches!(second, b"list" | b"info"),
        b"latency" => (argc == 3 && second == b"graph") || (argc == 2 && second == b"doctor"),
        b"proxy" => argc >= 2 && second == b"info",
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &[&str]) -> Vec<Vec<u8>> {
        line.iter().map(|a| a.as_bytes().to_vec()).collect()
    }

    #[test]
    fn raw_commands() {
        for line in [
            &["INFO"][..],
            &["info", "server"],
            &["LOLWUT"],
            &["DEBUG", "HTSTATS", "0"],
            &["debug", "client-eviction"],
            &["MEMORY", "DOCTOR"],
            &["CLUSTER", "NODES"],
            &["CLIENT", "LIST"],
            &["client", "info"],
            &["LATENCY", "GRAPH", "command"],
            &["LATENCY", "DOCTOR"],
        ] {
            assert!(prints_raw(&args(line)), "{line:?}");
        }
        for line in [
            &["GET", "info"][..],
            &["DEBUG"],
            &["CLUSTER", "NODES", "x"],
            &["CLIENT", "ID"],
            &["LATENCY", "GRAPH"],
            &[],
        ] {
            assert!(!prints_raw(&args(line)), "{line:?}");
        }
    }

    #[test]
    fn prompt() {
        let mut options = Options::default();
        let session = Session::new(
            options.clone(),
            Formatter::new(OutputMode::Standard),
            false,
            true,
            Vec::new(),
        );
        assert_eq!(session.prompt(), "not connected> ");
        options.host = "::1".into();
        let mut session = Session::new(
            options,
            Formatter::new(OutputMode::Standard),
            false,
            true,
            Vec::new(),
        );
        // A connection to nowhere in particular, only for the prompt.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        session.conn = Some(
            Connection::open(&Target::Tcp {
                host: "127.0.0.1".into(),
                port: i32::from(listener.local_addr().unwrap().port()),
            })
            .unwrap(),
        );
        session.db = 2;
        session.in_multi = true;
        assert_eq!(session.prompt(), "[::1]:6379[2](TX)> ");
    }
}
