//! Test support: the shared test kit (`kv-testkit`: server processes on free loopback ports,
//! raw RESP helpers), plus what only kv-server's own tests can have: the kv-server binary built
//! for them, and a `redis` crate client.
// Each test file includes this module and uses some of it.
#![allow(dead_code, unused_imports)]

use std::ops::{Deref, DerefMut};
use std::process::Command;

pub use kv_testkit::{exchange, free_port, read_at_least, read_lines, read_to_close, resp, Proxy};

/// How long a test waits for a background save or AOF rewrite of many keys. Their threads run
/// at nice 19, so processes of the test run's own session that keep the cores busy (other
/// tests' servers, a parallel build) come first: a rewrite of 1M keys that takes 0.25 s idle
/// took 19.6 s beside two busy loops. A save that never ends still fails, minutes later.
pub const SAVE_LIMIT: std::time::Duration = std::time::Duration::from_secs(300);

/// A kv-server or redis-server process, killed on drop (a [`kv_testkit::Server`]).
pub struct Server(kv_testkit::Server);

impl Server {
    /// Starts the kv-server binary built for these tests, with extra `--name value` options
    /// (a config file, if any, comes first, as redis-server wants it). Without a `--save` among
    /// them it saves nothing (`--save ""`), as the reference Redis runs, so no test leaves a
    /// snapshot behind.
    pub fn kv(extra: &[&str]) -> Server {
        let (file, options) = match extra.first() {
            Some(first) if !first.starts_with("--") => (Some(*first), &extra[1..]),
            _ => (None, extra),
        };
        let no_save: &[&str] = if options.contains(&"--save") {
            &[]
        } else {
            &["--save", ""]
        };
        Server(kv_testkit::Server::start(|port| {
            let mut command = Command::new(env!("CARGO_BIN_EXE_kv-server"));
            command
                .args(file)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(no_save)
                .args(options);
            command
        }))
    }

    /// Starts the reference Redis (Debian's redis-server, installed by `cargo xtask test`).
    pub fn redis(extra: &[&str]) -> Server {
        Server(kv_testkit::Server::redis(extra))
    }

    /// Starts the reference Redis with the config file `file`, then `--name value` options.
    pub fn redis_with_file(file: &str, extra: &[&str]) -> Server {
        Server(kv_testkit::Server::redis_with_file(Some(file), extra))
    }

    /// A `redis` crate client.
    pub fn client(&self) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .and_then(|c| c.get_connection())
            .expect("cannot connect")
    }
}

impl Deref for Server {
    type Target = kv_testkit::Server;

    fn deref(&self) -> &kv_testkit::Server {
        &self.0
    }
}

impl DerefMut for Server {
    fn deref_mut(&mut self) -> &mut kv_testkit::Server {
        &mut self.0
    }
}

/// `CONFIG SET name value`, which must succeed.
pub fn config_set(con: &mut redis::Connection, name: &str, value: impl redis::ToRedisArgs) {
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg(name)
        .arg(value)
        .query(con)
        .unwrap_or_else(|e| panic!("CONFIG SET {name}: {e}"));
}

/// `CONFIG GET name`: the value of one parameter.
pub fn config_get(con: &mut redis::Connection, name: &str) -> String {
    let mut pair: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg(name)
        .query(con)
        .unwrap_or_else(|e| panic!("CONFIG GET {name}: {e}"));
    pair.pop()
        .unwrap_or_else(|| panic!("CONFIG GET {name}: no value"))
}
