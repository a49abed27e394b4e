//! The command table behind `HELP`, hints and Tab completion: redis-cli 7.0's "help entries".
//!
//! At start redis-cli asks the server for `COMMAND DOCS` and makes one entry per command and
//! per subcommand (`CONFIG` and `CONFIG GET` both), named in capitals, with the argument
//! syntax built from the docs' argument trees (`key value [NX|XX] [GET] ...`), plus one entry
//! per command group (`@string`); the entries are sorted by name. kv-cli does the same, with
//! the same rules for the syntax line (see [`Docs::from_command_docs`]).
//!
//! When the server cannot be reached, redis-cli falls back on the table compiled into it;
//! kv-cli's is kv-server's own `COMMAND DOCS`, kept in `builtin_docs.tsv` beside this file
//! (regenerate it with `cargo test -p kv-cli -- --ignored regenerate_builtin_docs` after
//! `cargo build -p kv-server`). When the server answers `COMMAND DOCS` with an error (a server
//! older than Redis 7), the built-in table is used and completed with the commands `COMMAND`
//! lists that it lacks, their syntax guessed from their arity, as redis-cli does.

use crate::connection::{Connection, Target};
use crate::format::c_str;
use crate::options::Options;
use crate::reply::Reply;

/// kv-server's `COMMAND DOCS`, one command or subcommand a line: name, syntax, summary,
/// since, group, separated by tabs. Lines starting with `#` are comments.
const BUILTIN: &str = include_str!("builtin_docs.tsv");

/// Whether an entry is a command or a group of commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A command or a subcommand (`SET`, `CONFIG GET`).
    Command,
    /// A command group, named with an `@` (`@string`): a topic for `HELP`.
    Group,
}

/// One help entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Command or group.
    pub kind: Kind,
    /// The words of the name: `["CONFIG", "GET"]`, `["@string"]`.
    pub words: Vec<String>,
    /// The whole name, as completed and printed: `CONFIG GET`.
    pub full: String,
    /// The argument syntax: `parameter [parameter ...]` (empty for groups).
    pub params: String,
    /// One line on what the command does.
    pub summary: Option<String>,
    /// The version that introduced it.
    pub since: Option<String>,
    /// Its group (`string`, `server`, ...).
    pub group: Option<String>,
}

impl Entry {
    /// A command entry named `words` (capitalized here).
    fn command(words: Vec<String>) -> Entry {
        let words: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
        Entry {
            kind: Kind::Command,
            full: words.join(" "),
            words,
            params: String::new(),
            summary: None,
            since: None,
            group: None,
        }
    }
}

/// Where the table came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The server's `COMMAND DOCS`.
    Server,
    /// The table built into kv-cli (possibly completed from the server's `COMMAND`).
    Builtin,
}

/// The help entries, sorted by name (groups, named with `@`, first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Docs {
    entries: Vec<Entry>,
    /// Where the table came from.
    pub origin: Origin,
}

impl Docs {
    /// Every entry, in order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The command entries, in order.
    pub fn commands(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| e.kind == Kind::Command)
    }

    /// The entry named `full` (exactly, in capitals), if any.
    #[cfg(test)]
    pub fn get(&self, full: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.full == full)
    }

    /// The table made from a `COMMAND DOCS` reply (a RESP2 array of name, docs pairs, or a
    /// RESP3 map), as redis-cli's `cliInitHelp` makes it; `None` when the reply is neither.
    ///
    /// The syntax line of each command is its arguments joined with spaces, each argument
    /// written (`cliAddArgument`) as: its token and a space (`EX `), then its name, or for a
    /// `oneof` its alternatives joined with `|`, or for a `block` its parts joined with
    /// spaces; a `pure-token` is the token alone; `multiple` adds ` [...  ...]` with the
    /// repeated part (and the token again for `multiple_token`); `optional` wraps it all in
    /// brackets. An empty token or name is written `""`.
    pub fn from_command_docs(reply: &Reply) -> Option<Docs> {
        if !matches!(reply, Reply::Map(_) | Reply::Array(_)) {
            return None;
        }
        let mut entries = Vec::new();
        for (name, docs) in pairs(reply).unwrap_or_default() {
            let Some(name) = text(name) else { continue };
            add_command(&mut entries, vec![name], docs);
        }
        Some(Docs::with_groups(entries, Origin::Server))
    }

    /// The table built into kv-cli: kv-server's own `COMMAND DOCS`.
    pub fn builtin() -> Docs {
        Docs::from_table(BUILTIN)
    }

    /// The entries of `commands`, with one entry for each group they name, sorted.
    fn with_groups(mut entries: Vec<Entry>, origin: Origin) -> Docs {
        let mut groups: Vec<String> = entries.iter().filter_map(|e| e.group.clone()).collect();
        groups.sort();
        groups.dedup();
        entries.extend(groups.into_iter().map(|group| {
            let name = format!("@{group}");
            Entry {
                kind: Kind::Group,
                words: vec![name.clone()],
                full: name,
                params: String::new(),
                summary: None,
                since: None,
                group: None,
            }
        }));
        entries.sort_by(|a, b| a.full.cmp(&b.full));
        Docs { entries, origin }
    }

    /// Adds the commands of a `COMMAND` reply that the table lacks (`cliOldIntegrateHelp`), for
    /// servers without `COMMAND DOCS`: the syntax is guessed from the arity (`key` when the
    /// first argument is a key, then `arg` for each other one, `...options...` when more may
    /// follow), with "Help not available" as the summary. They go after the sorted entries, in
    /// the server's order. A malformed entry ends the scan, as in redis-cli.
    pub fn integrate_command_list(&mut self, reply: &Reply) {
        let Reply::Array(commands) = reply else {
            return;
        };
        for command in commands {
            let Reply::Array(fields) = command else {
                return;
            };
            let (
                Some(Reply::String(name)),
                Some(Reply::Integer(arity)),
                Some(Reply::Integer(first_key)),
            ) = (fields.first(), fields.get(1), fields.get(3))
            else {
                return;
            };
            let name = String::from_utf8_lossy(c_str(name)).into_owned();
            if self
                .entries
                .iter()
                .any(|e| e.words[0].eq_ignore_ascii_case(&name))
            {
                continue;
            }
            let mut params = String::new();
            // The command name itself is counted in the arity. Capped: a server's arity is small.
            let mut args = arity.unsigned_abs().saturating_sub(1).min(1024);
            if *first_key == 1 {
                params.push_str("key ");
                args = args.saturating_sub(1);
            }
            for _ in 0..args {
                params.push_str("arg ");
            }
            if *arity < 0 {
                params.push_str("...options...");
            }
            let mut entry = Entry::command(vec![name]);
            entry.params = params;
            entry.summary = Some("Help not available".into());
            entry.since = Some("Not known".into());
            entry.group = Some("generic".into());
            self.entries.push(entry);
        }
    }

    /// The command entries as the lines of `builtin_docs.tsv`.
    #[cfg(test)]
    pub fn to_table(&self) -> String {
        let field = |value: Option<&str>| value.unwrap_or("").replace(['\t', '\n', '\r'], " ");
        let mut out = String::new();
        for entry in self.commands() {
            let fields = [
                field(Some(&entry.full)),
                field(Some(&entry.params)),
                field(entry.summary.as_deref()),
                field(entry.since.as_deref()),
                field(entry.group.as_deref()),
            ];
            out.push_str(&fields.join("\t"));
            out.push('\n');
        }
        out
    }

    /// The table written by [`Docs::to_table`]; empty fields are missing values.
    fn from_table(table: &str) -> Docs {
        let some = |value: &str| (!value.is_empty()).then(|| value.to_string());
        let entries = table
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .map(|line| {
                let mut fields = line.split('\t');
                let full = fields.next().unwrap_or_default();
                let mut entry = Entry::command(full.split(' ').map(str::to_string).collect());
                entry.params = fields.next().unwrap_or_default().to_string();
                entry.summary = fields.next().and_then(some);
                entry.since = fields.next().and_then(some);
                entry.group = fields.next().and_then(some);
                entry
            })
            .collect();
        Docs::with_groups(entries, Origin::Builtin)
    }
}

/// Adds the entry for the command named `words` described by `docs`, then its subcommands'.
fn add_command(entries: &mut Vec<Entry>, words: Vec<String>, docs: &Reply) {
    let mut entry = Entry::command(words.clone());
    let mut subcommands = Vec::new();
    for (key, value) in pairs(docs).unwrap_or_default() {
        match text(key).as_deref() {
            Some("summary") => entry.summary = text(value),
            Some("since") => entry.since = text(value),
            Some("group") => entry.group = text(value),
            Some("arguments") => concat_arguments(&mut entry.params, value, " "),
            Some("subcommands") => subcommands = pairs(value).unwrap_or_default(),
            _ => {}
        }
    }
    entries.push(entry);
    for (name, docs) in subcommands {
        let Some(name) = text(name) else { continue };
        // Subcommands are named `command|subcommand`.
        let sub = match name.split_once('|') {
            Some((_, sub)) => sub.to_string(),
            None => name,
        };
        let mut words = words.clone();
        words.push(sub);
        add_command(entries, words, docs);
    }
}

/// Appends each argument of the `arguments` array, `separator` between them.
fn concat_arguments(params: &mut String, arguments: &Reply, separator: &str) {
    let arguments = elements(arguments);
    for (i, argument) in arguments.iter().enumerate() {
        add_argument(params, argument);
        if i + 1 != arguments.len() {
            params.push_str(separator);
        }
    }
}

/// Appends one argument, as redis-cli's `cliAddArgument` writes it.
fn add_argument(params: &mut String, argument: &Reply) {
    let Some(fields) = pairs(argument) else {
        return;
    };
    let mut name = None;
    let mut kind = None;
    let mut token = String::new();
    let mut arguments = None;
    let (mut optional, mut multiple, mut multiple_token) = (false, false, false);
    for (key, value) in fields {
        match text(key).as_deref() {
            Some("name") => name = text(value),
            Some("token") => push_or_empty(&mut token, &text(value).unwrap_or_default()),
            Some("type") => kind = text(value),
            Some("arguments") => arguments = Some(value),
            Some("flags") => {
                for flag in elements(value) {
                    match text(flag).as_deref() {
                        Some("optional") => optional = true,
                        Some("multiple") => multiple = true,
                        Some("multiple_token") => multiple_token = true,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }

    let mut repeated = String::new();
    match kind.as_deref() {
        Some("key" | "string" | "integer" | "double" | "pattern" | "unix-time" | "token") => {
            push_or_empty(&mut repeated, name.as_deref().unwrap_or_default());
        }
        Some("oneof") => {
            if let Some(arguments) = arguments {
                concat_arguments(&mut repeated, arguments, "|");
            }
        }
        Some("block") => {
            if let Some(arguments) = arguments {
                concat_arguments(&mut repeated, arguments, " ");
            }
        }
        // A pure token is its token alone; redis-cli reports an unknown type on stderr and
        // leaves it out, kv-cli leaves it out quietly.
        _ => {}
    }

    if !token.is_empty() && kind.as_deref() != Some("pure-token") {
        token.push(' ');
    }
    if optional {
        params.push('[');
    }
    params.push_str(&token);
    params.push_str(&repeated);
    if multiple {
        params.push_str(" [");
        if multiple_token {
            params.push_str(&token);
        }
        params.push_str(&repeated);
        params.push_str(" ...]");
    }
    if optional {
        params.push(']');
    }
}

/// Appends `value`, or `""` when it is empty (`sdscat_orempty`).
fn push_or_empty(out: &mut String, value: &str) {
    out.push_str(if value.is_empty() { "\"\"" } else { value });
}

/// The key-value pairs of a map, or of an array read two by two (RESP2's form of a map).
fn pairs(reply: &Reply) -> Option<Vec<(&Reply, &Reply)>> {
    match reply {
        Reply::Map(pairs) => Some(pairs.iter().map(|(k, v)| (k, v)).collect()),
        Reply::Array(items) => Some(items.chunks_exact(2).map(|p| (&p[0], &p[1])).collect()),
        _ => None,
    }
}

/// The elements of an array or a set.
fn elements(reply: &Reply) -> &[Reply] {
    match reply {
        Reply::Array(items) | Reply::Set(items) => items,
        _ => &[],
    }
}

/// A string or status reply as text (up to a NUL, as C reads it).
fn text(reply: &Reply) -> Option<String> {
    match reply {
        Reply::String(bytes) | Reply::Status(bytes) => {
            Some(String::from_utf8_lossy(c_str(bytes)).into_owned())
        }
        Reply::Verbatim { text, .. } => Some(String::from_utf8_lossy(c_str(text)).into_owned()),
        _ => None,
    }
}

/// Where to ask for the table: the server and credentials the session uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The server.
    pub target: Target,
    /// `--user`, for `AUTH user password`.
    pub user: Option<Vec<u8>>,
    /// The password, if any.
    pub password: Option<Vec<u8>>,
}

impl Source {
    /// The server and credentials that `options` name.
    pub fn new(options: &Options) -> Source {
        let target = match &options.socket {
            Some(path) => Target::Unix(path.clone()),
            None => Target::Tcp {
                host: options.host.clone(),
                port: options.port,
            },
        };
        Source {
            target,
            user: options.user.clone(),
            password: options.password.clone(),
        }
    }
}

/// The table for the server at `source`: its `COMMAND DOCS`; the built-in table when it cannot
/// be reached or reads badly; the built-in table completed with its `COMMAND` when it answers
/// `COMMAND DOCS` with an error. A connection of its own is used and closed, so nothing is
/// printed and the session's connection is left as it is.
pub fn fetch(source: &Source) -> Docs {
    let Ok(mut conn) = Connection::open(&source.target) else {
        return Docs::builtin();
    };
    if let Some(password) = &source.password {
        let mut auth = vec![b"AUTH".to_vec()];
        if let Some(user) = &source.user {
            auth.push(c_str(user).to_vec());
        }
        auth.push(c_str(password).to_vec());
        conn.send(&auth);
        // A failed AUTH shows in COMMAND DOCS's error, as it does in redis-cli.
        if conn.read().is_err() {
            return Docs::builtin();
        }
    }
    conn.send(&[b"COMMAND".to_vec(), b"DOCS".to_vec()]);
    match conn.read() {
        Ok(Reply::Error(_)) => {
            let mut docs = Docs::builtin();
            conn.send(&[b"COMMAND".to_vec()]);
            if let Ok(reply) = conn.read() {
                docs.integrate_command_list(&reply);
            }
            docs
        }
        Ok(reply) => Docs::from_command_docs(&reply).unwrap_or_else(Docs::builtin),
        Err(_) => Docs::builtin(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::BufReader;

    /// redis-server 7.0.15's `COMMAND DOCS` for a few commands (raw RESP, as it sent it).
    pub(crate) const REDIS_DOCS: &[u8] = include_bytes!("testdata/redis-7.0-command-docs.resp");

    /// The table made from [`REDIS_DOCS`].
    pub(crate) fn redis_docs() -> Docs {
        let reply = crate::reply::read_reply(&mut BufReader::new(REDIS_DOCS)).unwrap();
        Docs::from_command_docs(&reply).unwrap()
    }

    fn params(docs: &Docs, full: &str) -> String {
        docs.get(full)
            .unwrap_or_else(|| panic!("no {full}"))
            .params
            .clone()
    }

    /// What `HELP <command>` printed in redis-cli 7.0.15 connected to redis-server 7.0.15, for
    /// the syntax line.
    #[test]
    fn syntax_lines_as_redis_cli_builds_them() {
        let docs = redis_docs();
        for (full, expected) in [
            ("SET", "key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]"),
            ("CONFIG GET", "parameter [parameter ...]"),
            ("CONFIG SET", "parameter value [parameter value ...]"),
            ("CONFIG", ""),
            ("MSET", "key value [key value ...]"),
            ("ZADD", "key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]"),
            ("CLIENT LIST", "[TYPE NORMAL|MASTER|REPLICA|PUBSUB] [ID client-id [client-id ...]]"),
            ("XADD", "key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value [field value ...]"),
            ("MIGRATE", "host port key|\"\" destination-db timeout [COPY] [REPLACE] [[AUTH password]|[AUTH2 username password]] [KEYS key [key ...]]"),
            ("SORT", "key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC|DESC] [ALPHA] [STORE destination]"),
            ("BITFIELD", "key [GET encoding offset|[OVERFLOW WRAP|SAT|FAIL] SET encoding offset value|INCRBY encoding offset increment [GET encoding offset|[OVERFLOW WRAP|SAT|FAIL] SET encoding offset value|INCRBY encoding offset increment ...]]"),
            ("CLIENT KILL", "ip:port|[ID client-id]|[TYPE NORMAL|MASTER|SLAVE|REPLICA|PUBSUB]|[USER username]|[ADDR ip:port]|[LADDR ip:port]|[SKIPME yes/no] [[ID client-id]|[TYPE NORMAL|MASTER|SLAVE|REPLICA|PUBSUB]|[USER username]|[ADDR ip:port]|[LADDR ip:port]|[SKIPME yes/no] ...]"),
            ("PFSELFTEST", ""),
            ("PING", "[message]"),
            ("GEOSEARCH", "key FROMMEMBER member|FROMLONLAT longitude latitude BYRADIUS radius M|KM|FT|MI|BYBOX width height M|KM|FT|MI [ASC|DESC] [COUNT count [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]"),
        ] {
            assert_eq!(params(&docs, full), expected, "{full}");
        }
    }

    #[test]
    fn entries_sorted_with_groups_first() {
        let docs = redis_docs();
        let names: Vec<&str> = docs.entries().iter().map(|e| e.full.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
        assert!(names[0].starts_with('@'));
        let config = docs.get("CONFIG GET").unwrap();
        assert_eq!(config.words, ["CONFIG", "GET"]);
        assert_eq!(config.group.as_deref(), Some("server"));
        assert_eq!(config.since.as_deref(), Some("2.0.0"));
        assert_eq!(
            config.summary.as_deref(),
            Some("Get the values of configuration parameters")
        );
        assert_eq!(docs.get("@server").unwrap().kind, Kind::Group);
        assert_eq!(docs.origin, Origin::Server);
    }

    #[test]
    fn the_same_table_from_a_resp3_map() {
        fn to_map(reply: &Reply) -> Reply {
            match reply {
                Reply::Array(items)
                    if items.len() % 2 == 0
                        && items.first().is_some_and(|i| matches!(i, Reply::String(_))) =>
                {
                    Reply::Map(
                        items
                            .chunks_exact(2)
                            .map(|p| (p[0].clone(), to_map(&p[1])))
                            .collect(),
                    )
                }
                Reply::Array(items) => Reply::Array(items.iter().map(to_map).collect()),
                other => other.clone(),
            }
        }
        let reply = crate::reply::read_reply(&mut BufReader::new(REDIS_DOCS)).unwrap();
        let map = to_map(&reply);
        assert!(matches!(map, Reply::Map(_)));
        assert_eq!(Docs::from_command_docs(&map).unwrap(), redis_docs());
        assert_eq!(Docs::from_command_docs(&Reply::Integer(1)), None);
    }

    #[test]
    fn builtin_table_round_trips() {
        let builtin = Docs::builtin();
        assert_eq!(builtin.origin, Origin::Builtin);
        assert!(builtin
            .get("SET")
            .is_some_and(|e| e.params.starts_with("key value")));
        assert!(builtin.get("CONFIG GET").is_some());
        assert!(builtin
            .get("@string")
            .is_some_and(|e| e.kind == Kind::Group));
        assert_eq!(Docs::from_table(&builtin.to_table()), builtin);
        let docs = redis_docs();
        assert_eq!(Docs::from_table(&docs.to_table()).entries, docs.entries);
    }

    #[test]
    fn old_servers_command_list() {
        fn command(name: &str, arity: i64, first_key: i64) -> Reply {
            Reply::Array(vec![
                Reply::String(name.into()),
                Reply::Integer(arity),
                Reply::Array(vec![]),
                Reply::Integer(first_key),
            ])
        }
        let mut docs = redis_docs();
        let before = docs.entries().len();
        docs.integrate_command_list(&Reply::Array(vec![
            command("get", 2, 1),
            command("mymodule.cmd", -3, 1),
            command("other", 3, 0),
            Reply::Integer(1),
            command("never", 1, 0),
        ]));
        let added: Vec<(&str, &str)> = docs.entries()[before..]
            .iter()
            .map(|e| (e.full.as_str(), e.params.as_str()))
            .collect();
        assert_eq!(
            added,
            [
                ("MYMODULE.CMD", "key arg ...options..."),
                ("OTHER", "arg arg ")
            ]
        );
        let entry = docs.get("OTHER").unwrap();
        assert_eq!(entry.summary.as_deref(), Some("Help not available"));
        assert_eq!(entry.since.as_deref(), Some("Not known"));
        assert_eq!(entry.group.as_deref(), Some("generic"));
    }

    /// Writes `builtin_docs.tsv` from the kv-server built beside this test binary.
    #[test]
    #[ignore = "a generator, not a check: run it after kv-server's command docs change"]
    fn regenerate_builtin_docs() {
        let exe = std::env::current_exe().unwrap();
        let server = exe
            .parent()
            .and_then(|deps| deps.parent())
            .unwrap()
            .join("kv-server");
        assert!(
            server.exists(),
            "build kv-server first: {}",
            server.display()
        );
        let server = kv_testkit::Server::start(|port| {
            let mut command = std::process::Command::new(&server);
            command.args(["--port", &port.to_string()]);
            command
        });
        let docs = fetch(&Source {
            target: Target::Tcp {
                host: "127.0.0.1".into(),
                port: i32::from(server.port),
            },
            user: None,
            password: None,
        });
        assert_eq!(docs.origin, Origin::Server);
        let header = "# kv-server's COMMAND DOCS, the help table kv-cli uses when the server is away.\n\
                      # Columns: name, syntax, summary, since, group. Generated by\n\
                      # `cargo test -p kv-cli -- --ignored regenerate_builtin_docs`: do not edit.\n";
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/interactive/builtin_docs.tsv");
        std::fs::write(&path, format!("{header}{}", docs.to_table())).unwrap();
    }
}
