//! kv-cli's interactive mode, driven in a real terminal: each client runs in a tmux pane of its
//! own (a private tmux server per pane), keys are typed with `send-keys` and the screen is read
//! with `capture-pane`, as a person would see it.
//!
//! Where redis-cli 7.0 does the same thing, kv-cli and redis-cli are run side by side against
//! the same kv-server and their screens must be the same: whole sessions (prompt, replies,
//! `SELECT` and `MULTI` in the prompt, repeat counts, quoting errors), hints, Tab completion
//! and `HELP`. The rest is checked against what redis-cli is known to do: history kept in
//! `KVCLI_HISTFILE` across two runs without the password-carrying lines, the reconnection
//! messages, the built-in command table when the server is away.
//!
//! Needs tmux and redis-cli (CI installs both) and kv-server built beside kv-cli (`cargo
//! test --workspace` builds it). When tmux or kv-server is missing each test says so and
//! stops, except under CI (`CI` set), where that is a failure.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{available, KV_CLI};
use kv_testkit::{free_port, Server};

/// The pane's size: wide enough for most hints, as a terminal would be.
const WIDTH: u16 = 160;
const HEIGHT: u16 = 50;

/// How long to wait for the screen to show what is expected.
const PATIENCE: Duration = Duration::from_secs(15);

/// kv-server on a free port, or `None` after a note when it or tmux is missing (outside CI).
fn kv_server() -> Option<Server> {
    let tmux = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !available("tmux", tmux, "apt-get install tmux") {
        return None;
    }
    common::kv_server(&[])
}

/// A scratch directory for one test, used as HOME and for history files; removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("kv-cli-interactive-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A word quoted for the shell.
fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// One program running in a tmux pane of a private tmux server, which is killed on drop.
struct Pane {
    socket: PathBuf,
}

impl Pane {
    /// Runs `program args` with `env` (and HOME set to `home`) in a new pane; when it ends,
    /// the pane shows `[exit N]`.
    fn start(program: &str, args: &[String], env: &[(&str, String)], home: &Path) -> Pane {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let socket = std::env::temp_dir().join(format!(
            "kv-cli-tmux-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        let mut line = format!("env HOME={}", quote(&home.display().to_string()));
        for (name, value) in env {
            line.push_str(&format!(" {name}={}", quote(value)));
        }
        line.push_str(&format!(" {}", quote(program)));
        for arg in args {
            line.push_str(&format!(" {}", quote(arg)));
        }
        line.push_str("; echo \"[exit $?]\"; sleep 600");
        let pane = Pane { socket };
        pane.tmux(&[
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            &WIDTH.to_string(),
            "-y",
            &HEIGHT.to_string(),
            &line,
        ]);
        pane
    }

    /// Runs a tmux command on this pane's server.
    fn tmux(&self, args: &[&str]) -> String {
        let output = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Types `text` as it is.
    fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "t", "-l", "--", text]);
    }

    /// Presses keys named as tmux names them (`Enter`, `Tab`, `C-u`, `Up`).
    fn press(&self, key: &str) {
        self.tmux(&["send-keys", "-t", "t", key]);
    }

    /// The screen and its history, wrapped lines joined, trailing blanks dropped.
    fn screen(&self) -> String {
        let text = self.tmux(&["capture-pane", "-p", "-J", "-t", "t", "-S", "-1000"]);
        let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
        lines.join("\n").trim_end().to_string()
    }

    /// The screen, once `done` says it shows what was waited for and it stopped changing.
    fn wait(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        let mut last = String::new();
        loop {
            let screen = self.screen();
            if done(&screen) && screen == last {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "waited for {what}; the screen shows:\n{screen}"
            );
            last = screen;
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    /// The screen, once it stopped changing.
    fn settle(&self) -> String {
        self.wait("a settled screen", |_| true)
    }

    /// The last line of the screen, once it starts with `start` and is settled.
    fn last_line(&self, start: &str) -> String {
        // The screen shows no trailing blanks.
        let start = start.trim_end();
        let screen = self.wait(start, |s| last(s).starts_with(start));
        last(&screen).to_string()
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// The last line of a screen.
fn last(screen: &str) -> &str {
    screen.lines().last().unwrap_or_default()
}

/// How many lines of the screen are prompts (`host:port[db](TX)> ...`, `not connected> ...`).
fn prompts(screen: &str) -> usize {
    screen.lines().filter(|l| is_prompt(l)).count()
}

/// Whether a line of the screen starts with a prompt.
fn is_prompt(line: &str) -> bool {
    if line.starts_with("not connected>") {
        return true;
    }
    let Some((host, rest)) = line.split_once(':') else {
        return false;
    };
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    let rest = &rest[digits..];
    let rest = match rest.strip_prefix('[') {
        Some(db) => db.split_once(']').map_or("", |(_, after)| after),
        None => rest,
    };
    let rest = rest.strip_prefix("(TX)").unwrap_or(rest);
    !host.is_empty() && !host.contains(' ') && digits > 0 && rest.starts_with('>')
}

/// A client, to run in a pane against `port`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Client {
    Kv,
    Redis,
}

impl Client {
    /// A pane running this client against `port`, with no history or preferences file unless
    /// `env` names one.
    fn start(self, port: u16, home: &Path, env: &[(&str, String)]) -> Pane {
        let mut env = env.to_vec();
        let (program, history, rc) = match self {
            Client::Kv => (KV_CLI, "KVCLI_HISTFILE", "KVCLI_RCFILE"),
            Client::Redis => ("redis-cli", "REDISCLI_HISTFILE", "REDISCLI_RCFILE"),
        };
        for name in [history, rc] {
            if !env.iter().any(|(n, _)| *n == name) {
                env.push((name, "/dev/null".into()));
            }
        }
        let pane = Pane::start(program, &["-p".into(), port.to_string()], &env, home);
        let prompt = format!("127.0.0.1:{port}> ");
        pane.wait("the first prompt", |s| {
            last(s).starts_with(prompt.trim_end())
        });
        pane
    }
}

/// Types `lines` one by one, each after the previous one's reply and next prompt; returns the
/// screen.
fn session(pane: &Pane, lines: &[&str]) -> String {
    for line in lines {
        let before = prompts(&pane.screen());
        pane.type_text(line);
        pane.press("Enter");
        pane.wait(&format!("the prompt after {line:?}"), |s| {
            prompts(s) > before && is_prompt(last(s)) && last(s).ends_with('>')
        });
    }
    pane.screen()
}

/// For each input, the prompt line showing it and its hint, in `client`.
fn hints(client: Client, port: u16, home: &Path, inputs: &[&str]) -> Vec<String> {
    let pane = client.start(port, home, &[]);
    let prompt = format!("127.0.0.1:{port}> ");
    inputs
        .iter()
        .map(|input| {
            pane.press("C-u");
            pane.type_text(input);
            let line = pane.last_line(&format!("{prompt}{input}"));
            pane.press("C-u");
            pane.wait("a cleared line", |s| last(s) == prompt.trim_end());
            line
        })
        .collect()
}

#[test]
fn a_session_looks_as_in_redis_cli() {
    let Some(server) = kv_server() else { return };
    let home = Scratch::new("session");
    let lines = [
        "FLUSHALL",
        "SET greeting \"hello world\"",
        "GET greeting",
        "GET nosuchkey",
        "RPUSH list a 'b c' \"d\\x41\"",
        "LRANGE list 0 -1",
        "3 INCR counter",
        "0 PING",
        "SET \"open",
        "HSET h f 1",
        "HGETALL h",
        "SELECT 2",
        "SET x 1",
        "MULTI",
        "INCR x",
        "GET x",
        "EXEC",
        "SELECT 0",
        "NOSUCHCOMMAND a",
        ":set nonsense",
        "restart",
        "EXISTS greeting list",
    ];
    let mut screens = Vec::new();
    for client in [Client::Redis, Client::Kv] {
        let pane = client.start(server.port, &home, &[]);
        screens.push(session(&pane, &lines));
    }
    assert_eq!(screens[1], screens[0]);

    // What redis-cli showed is what was expected, to make sure the comparison compared
    // something.
    let port = server.port;
    let screen = &screens[1];
    for expected in [
        format!("127.0.0.1:{port}> GET greeting\n\"hello world\""),
        "1) \"a\"\n2) \"b c\"\n3) \"dA\"".to_string(),
        "(integer) 1\n(integer) 2\n(integer) 3".to_string(),
        "Invalid redis-cli repeat command option value.".to_string(),
        "Invalid argument(s)".to_string(),
        format!("127.0.0.1:{port}[2]> MULTI\nOK\n127.0.0.1:{port}[2](TX)> INCR x\nQUEUED"),
        "1) (integer) 2\n2) \"2\"".to_string(),
        format!("127.0.0.1:{port}> EXISTS greeting list\n(integer) 2"),
    ] {
        assert!(screen.contains(&expected), "{expected:?} in:\n{screen}");
    }
}

#[test]
fn hints_look_as_in_redis_cli() {
    let Some(server) = kv_server() else { return };
    let home = Scratch::new("hints");
    let inputs = [
        "SET",
        "SET ",
        "SET k",
        "SET k v",
        "set k v nx ex 10",
        "SE",
        "CONFIG",
        "CONFIG GET",
        "config get a b",
        "GET \"open",
        "ZADD k",
        "MSET a b c",
        "CLIENT LIST",
        "EXPIRE k",
        "HELP",
        "3 PING",
        "PING x y",
        "SCAN 0",
        "XADD s",
    ];
    let kv = hints(Client::Kv, server.port, &home, &inputs);
    let redis = hints(Client::Redis, server.port, &home, &inputs);
    assert_eq!(kv, redis);
    let prompt = format!("127.0.0.1:{}> ", server.port);
    assert!(kv[2].starts_with(&format!("{prompt}SET k value [NX|XX] [GET] [EX seconds|")));
    assert_eq!(
        kv[7],
        format!("{prompt}CONFIG GET parameter [parameter ...]")
    );
    assert_eq!(kv[5], format!("{prompt}SE"));
}

#[test]
fn tab_completes_as_in_redis_cli() {
    let Some(server) = kv_server() else { return };
    let home = Scratch::new("tab");
    let port = server.port;
    let prompt = format!("127.0.0.1:{port}> ");
    // (typed, Tab presses): the line after each press.
    let cases: &[(&str, usize)] = &[
        ("se", 4),
        ("config g", 2),
        ("CONFIG ", 3),
        ("help @str", 3),
        ("help  con", 2),
        ("zz", 1),
        ("lpu", 3),
    ];
    let mut screens = Vec::new();
    for client in [Client::Kv, Client::Redis] {
        let pane = client.start(port, &home, &[]);
        let mut lines = Vec::new();
        for (typed, presses) in cases {
            pane.press("C-u");
            pane.type_text(typed);
            pane.last_line(&format!("{prompt}{typed}"));
            for _ in 0..*presses {
                pane.press("Tab");
                // The line changes, or stays (past the last candidate, or with none).
                std::thread::sleep(Duration::from_millis(200));
                lines.push(last(&pane.settle()).to_string());
            }
            // A key other than Tab takes the candidate shown; C-u then clears the line.
            pane.press("C-u");
            pane.press("C-u");
            pane.wait("a cleared line", |s| last(s) == prompt.trim_end());
        }
        screens.push(lines);
    }
    assert_eq!(screens[0], screens[1]);
    let kv = &screens[0];
    assert!(kv[0].starts_with(&format!("{prompt}SELECT")));
    assert!(kv[1].starts_with(&format!("{prompt}SET key value")));
    assert!(kv[4].starts_with(&format!("{prompt}CONFIG GET parameter")));
}

#[test]
fn help_looks_as_in_redis_cli() {
    let Some(server) = kv_server() else { return };
    let home = Scratch::new("help");
    let lines = [
        "HELP SET",
        "help config get",
        "? @hyperloglog",
        "HELP CONFIG",
        "help nosuchcommand",
    ];
    let mut screens = Vec::new();
    for client in [Client::Kv, Client::Redis] {
        let pane = client.start(server.port, &home, &[]);
        screens.push(session(&pane, &lines));
    }
    assert_eq!(screens[0], screens[1]);
    assert!(screens[0].contains("  SET key value [NX|XX] [GET]"));
    assert!(screens[0].contains("  group: string"));

    // HELP alone names kv-cli.
    let pane = Client::Kv.start(server.port, &home, &[]);
    let screen = session(&pane, &["HELP"]);
    assert!(
        screen.contains(&format!(
            "kv-cli {}\nTo get help about Redis commands type:",
            env!("CARGO_PKG_VERSION")
        )),
        "{screen}"
    );
    assert!(
        screen.contains("Set your preferences in ~/.kvclirc"),
        "{screen}"
    );
}

#[test]
fn history_is_kept_in_kvcli_histfile_across_runs() {
    let Some(server) = kv_server() else { return };
    let home = Scratch::new("history");
    let file = home.join("history");
    let env = [("KVCLI_HISTFILE", file.display().to_string())];
    let port = server.port;

    let pane = Client::Kv.start(port, &home, &env);
    session(
        &pane,
        &[
            "SET a 1",
            "SET a 1",
            "AUTH secret",
            "HELLO 3 AUTH default secret",
            "CONFIG SET requirepass \"\"",
            "GET a",
            "\"open",
        ],
    );
    pane.type_text("quit");
    pane.press("Enter");
    pane.wait("the exit", |s| s.ends_with("[exit 0]"));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "SET a 1\nGET a\n\"open\nquit\n"
    );
    drop(pane);

    // A second run starts with that history: Up goes back through it.
    let pane = Client::Kv.start(port, &home, &env);
    let prompt = format!("127.0.0.1:{port}> ");
    pane.press("Up");
    assert_eq!(
        pane.last_line(&format!("{prompt}quit")),
        format!("{prompt}quit")
    );
    pane.press("Up");
    pane.press("Up");
    assert!(pane
        .last_line(&format!("{prompt}GET a"))
        .starts_with(&format!("{prompt}GET a")));
    pane.press("Enter");
    let screen = pane.wait("GET's reply", |s| {
        s.contains("\"1\"") && last(s) == prompt.trim_end()
    });
    assert!(
        screen.ends_with(&format!("{prompt}GET a\n\"1\"\n{}", prompt.trim_end())),
        "{screen}"
    );
    // Ctrl-D on an empty line ends the run, as in redis-cli.
    pane.press("C-d");
    pane.wait("the exit", |s| s.ends_with("[exit 0]"));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "SET a 1\nGET a\n\"open\nquit\nGET a\n"
    );
}

#[test]
fn reconnects_with_redis_cli_notices() {
    let Some(mut server) = kv_server() else {
        return;
    };
    let home = Scratch::new("reconnect");
    let port = server.port;
    let pane = Client::Kv.start(port, &home, &[]);
    session(&pane, &["SELECT 1", "PING"]);
    // The server goes away.
    let pid = server.pid();
    let _ = Command::new("kill").arg(pid.to_string()).status();
    server.wait_exit(Duration::from_secs(10));
    let screen = session(&pane, &["PING", "PING"]);
    let expected = format!(
        "127.0.0.1:{port}[1]> PING\n\
         Error: Server closed the connection\n\
         not connected> PING\n\
         Could not connect to Redis at 127.0.0.1:{port}: Connection refused\n\
         not connected>"
    );
    assert!(screen.ends_with(&expected), "{screen}");
    drop(pane);

    // `connect` moves to another server, into the database asked for before.
    let Some(other) = kv_server() else { return };
    let pane = Client::Kv.start(other.port, &home, &[]);
    let screen = session(
        &pane,
        &[
            &format!("connect 127.0.0.1 {}", free_port()),
            &format!("connect localhost {}", other.port),
        ],
    );
    assert!(
        screen.contains("not connected> connect localhost"),
        "{screen}"
    );
    assert!(
        screen.ends_with(&format!("localhost:{}>", other.port)),
        "{screen}"
    );
}

#[test]
fn the_built_in_table_when_the_server_is_away() {
    let Some(_server) = kv_server() else { return };
    let home = Scratch::new("away");
    let port = free_port();
    let pane = Pane::start(
        KV_CLI,
        &["-p".into(), port.to_string()],
        &[
            ("KVCLI_HISTFILE", "/dev/null".into()),
            ("KVCLI_RCFILE", "/dev/null".into()),
        ],
        &home,
    );
    let screen = pane.wait("the prompt", |s| last(s) == "not connected>");
    assert!(
        screen.starts_with(&format!(
            "Could not connect to Redis at 127.0.0.1:{port}: Connection refused"
        )),
        "{screen}"
    );
    pane.type_text("GETRANGE k");
    assert_eq!(
        pane.last_line("not connected> GETRANGE k"),
        "not connected> GETRANGE k start end"
    );
    pane.press("C-u");
    let screen = session(&pane, &["HELP GETRANGE"]);
    assert!(
        screen.contains("  GETRANGE key start end\n  summary: "),
        "{screen}"
    );
}

#[test]
fn preferences_file_and_hints_switch() {
    let Some(server) = kv_server() else { return };
    let home = Scratch::new("prefs");
    std::fs::write(home.join(".kvclirc"), ":set nohints\n:set bogus\n").unwrap();
    let port = server.port;
    let prompt = format!("127.0.0.1:{port}> ");
    // KVCLI_RCFILE unset: ~/.kvclirc is read.
    let pane = Pane::start(
        KV_CLI,
        &["-p".into(), port.to_string()],
        &[("KVCLI_HISTFILE", "/dev/null".into())],
        &home,
    );
    let screen = pane.wait("the prompt", |s| last(s) == prompt.trim_end());
    assert!(
        screen.starts_with(".kvclirc: unknown redis-cli preference 'bogus'"),
        "{screen}"
    );
    pane.type_text("GET k");
    assert_eq!(
        pane.last_line(&format!("{prompt}GET k")),
        format!("{prompt}GET k")
    );
    pane.press("C-u");
    session(&pane, &[":set hints"]);
    pane.type_text("GETRANGE k");
    assert_eq!(
        pane.last_line(&format!("{prompt}GETRANGE k")),
        format!("{prompt}GETRANGE k start end")
    );
}
