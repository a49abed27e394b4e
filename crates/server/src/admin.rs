//! The commands the server runs itself: they act on the connection or the server, not on keys.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use kv_engine::{Args, Cancel, CommandError, CommandSpec, Protocol};

use crate::clients::valid_name;
use crate::connection::{Connection, ReplyMode};

/// The version kv reports where clients expect Redis's (HELLO, INFO's `redis_version`): the
/// Redis release whose behaviour kv reproduces. kv's own version is INFO's `kv_version`.
pub const REDIS_COMPAT_VERSION: &str = "7.0.15";

/// Runs a server-side command whose spec and arity the engine has already checked.
pub fn run(conn: &mut Connection, spec: &'static CommandSpec, args: &[&[u8]]) {
    // What this runs may read the client's own activity (CLIENT LIST, INFO), with the
    // query buffer as it is while the command runs, and the command's arguments.
    conn.publish_running(args);
    let container = String::from_utf8_lossy(args[0]).to_ascii_lowercase();
    let is_sub = !spec.name.eq_ignore_ascii_case(&container);
    let skip = if is_sub { 2 } else { 1 };
    let mut rest = Args::new(&args[skip..]);
    let mark = conn.reply.mark();
    let result = match (is_sub.then_some(container.as_str()), spec.name) {
        (None, "auth") => auth(conn, &mut rest),
        (None, "hello") => hello(conn, &mut rest),
        (None, "quit") => {
            conn.reply.ok();
            conn.close = true;
            Ok(())
        }
        (None, "reset") => reset(conn),
        (None, "time") => time(conn),
        (None, "info") => {
            let text = crate::info::render(conn, rest.rest());
            conn.reply.verbatim(text.as_bytes());
            Ok(())
        }
        (None, "shutdown") => shutdown(conn, &mut rest),
        (None, "lastsave") => {
            conn.reply
                .integer(conn.shared.persistence.last_save() as i64);
            Ok(())
        }
        (None, "save") => crate::persistence::save_command(&conn.shared).map(|()| conn.reply.ok()),
        (None, "bgrewriteaof") => {
            crate::persistence::bgrewriteaof_command(&conn.shared, conn.in_exec)
                .map(|status| conn.reply.simple(status))
        }
        (None, "bgsave") => {
            let shared = Arc::clone(&conn.shared);
            crate::persistence::bgsave_command(&shared, rest.rest(), conn.in_exec)
                .map(|status| conn.reply.simple(status))
        }
        (None, "monitor") => {
            crate::monitor::start(conn);
            Ok(())
        }
        (None, "debug") => crate::debug::command(conn, args),
        (None, "multi") => crate::multi::multi(conn),
        (None, "exec") => crate::multi::exec(conn),
        (None, "discard") => crate::multi::discard(conn),
        (
            None,
            name @ ("subscribe" | "unsubscribe" | "psubscribe" | "punsubscribe" | "publish"
            | "ssubscribe" | "sunsubscribe" | "spublish"),
        ) => crate::pubsub::command(conn, name, None, &mut rest),
        (Some("pubsub"), sub) => crate::pubsub::command(conn, "pubsub", Some(sub), &mut rest),
        (Some("client"), "pause") => crate::pause::client_pause(conn, args),
        (Some("client"), "unpause") => {
            crate::pause::client_unpause(conn);
            Ok(())
        }
        (Some("client"), sub) => client(conn, sub, &mut rest),
        (Some("config"), sub) => config(conn, sub, &mut rest),
        (Some("slowlog"), sub) => crate::slowlog::command(conn, sub, args),
        (Some("latency"), sub) => crate::latency::command(conn, sub, args),
        (Some("memory"), sub) => crate::memory::command(conn, sub),
        (None, "replicaof" | "slaveof") => crate::replication::replicaof(conn, args),
        (None, "failover") => crate::failover::command(conn, args),
        (None, "role") => {
            crate::replication::role(conn);
            Ok(())
        }
        (None, "wait") => crate::replication::wait(conn, args).map(|wait| {
            conn.wait_replicas = wait;
        }),
        _ => Err(CommandError::Internal(
            "server command without an implementation",
        )),
    };
    if let Err(e) = result {
        conn.reply.rollback(mark);
        conn.reply.command_error(&e);
    }
}

/// Redis's reply to a subcommand it knows but called with arguments it does not accept
/// (`addReplySubcommandSyntaxError`), for the command `args`.
pub fn subcommand_syntax_error(args: &[&[u8]]) -> CommandError {
    let sub = args.get(1).map_or(&b""[..], |a| &a[..a.len().min(128)]);
    CommandError::Other(
        format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
            String::from_utf8_lossy(sub),
            String::from_utf8_lossy(args[0]).to_ascii_uppercase()
        )
        .into(),
    )
}

fn wrong_pass() -> CommandError {
    CommandError::msg("WRONGPASS invalid username-password pair or user is disabled.")
}

/// Checks a username and password against the default user (kv has no ACL users yet).
fn authenticate(conn: &mut Connection, user: &[u8], password: &[u8]) -> Result<(), CommandError> {
    let required = conn.shared.config.get("requirepass");
    let ok = user == b"default" && (required.is_empty() || password == required.as_bytes());
    if !ok {
        tracing::warn!(
            "authentication failed for client {} ({})",
            conn.handle.id,
            conn.handle.addr
        );
        return Err(wrong_pass());
    }
    conn.authenticated = true;
    Ok(())
}

/// `AUTH [username] password`
fn auth(conn: &mut Connection, args: &mut Args<'_>) -> Result<(), CommandError> {
    let (user, password) = match args.rest() {
        [password] => {
            if conn.shared.config.get("requirepass").is_empty() {
                return Err(CommandError::msg(
                    "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
                ));
            }
            (&b"default"[..], &password[..])
        }
        [user, password] => (&user[..], &password[..]),
        _ => return Err(CommandError::Syntax),
    };
    authenticate(conn, user, password)?;
    conn.reply.ok();
    Ok(())
}

/// `HELLO [protover [AUTH username password] [SETNAME clientname]]`
fn hello(conn: &mut Connection, args: &mut Args<'_>) -> Result<(), CommandError> {
    let mut version = None;
    if !args.is_empty() {
        let v = kv_resp::parse_i64(args.next_bytes()?).ok_or(CommandError::msg(
            "ERR Protocol version is not an integer or out of range",
        ))?;
        if !(2..=3).contains(&v) {
            return Err(CommandError::msg("NOPROTO unsupported protocol version"));
        }
        version = Some(v);
    }
    let (mut credentials, mut name) = (None, None);
    while let Some(option) = args.peek() {
        args.next_bytes()?;
        if option.eq_ignore_ascii_case(b"auth") && args.remaining() >= 2 {
            credentials = Some((args.next_bytes()?, args.next_bytes()?));
        } else if option.eq_ignore_ascii_case(b"setname") && !args.is_empty() {
            name = Some(args.next_bytes()?);
        } else {
            return Err(CommandError::Other(
                format!(
                    "ERR Syntax error in HELLO option '{}'",
                    String::from_utf8_lossy(option)
                )
                .into(),
            ));
        }
    }
    if let Some((user, password)) = credentials {
        authenticate(conn, user, password)?;
    }
    if !conn.authenticated {
        return Err(CommandError::msg("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"));
    }
    if let Some(name) = name {
        set_name(conn, name)?;
    }
    match version {
        Some(3) => conn.set_protocol(Protocol::Resp3),
        Some(_) => conn.set_protocol(Protocol::Resp2),
        None => {}
    }
    let proto = if conn.session.protocol == Protocol::Resp3 {
        3
    } else {
        2
    };
    let reply = &mut conn.reply;
    reply.map(7);
    reply.bulk(b"server");
    reply.bulk(b"redis");
    reply.bulk(b"version");
    reply.bulk(REDIS_COMPAT_VERSION.as_bytes());
    reply.bulk(b"proto");
    reply.integer(proto);
    reply.bulk(b"id");
    reply.integer(conn.handle.id as i64);
    reply.bulk(b"mode");
    reply.bulk(b"standalone");
    reply.bulk(b"role");
    reply.bulk(b"master");
    reply.bulk(b"modules");
    reply.array(0);
    Ok(())
}

/// `RESET`: back to a fresh connection's state, out of MONITOR mode.
fn reset(conn: &mut Connection) -> Result<(), CommandError> {
    crate::multi::end(conn);
    crate::tracking::disable(conn);
    crate::monitor::stop(conn);
    crate::pubsub::unsubscribe_all(conn);
    conn.session.db = 0;
    conn.set_protocol(Protocol::Resp2);
    conn.reply_mode = ReplyMode::On;
    conn.authenticated = conn.shared.config.get("requirepass").is_empty();
    {
        let mut state = conn.handle.state.lock();
        state.name = None;
        state.db = 0;
        state.no_evict = false;
    }
    conn.reply.simple("RESET");
    Ok(())
}

/// `TIME`: seconds and microseconds.
fn time(conn: &mut Connection) -> Result<(), CommandError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    conn.reply.array(2);
    conn.reply.bulk(now.as_secs().to_string().as_bytes());
    conn.reply.bulk(now.subsec_micros().to_string().as_bytes());
    Ok(())
}

/// `SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]`
fn shutdown(conn: &mut Connection, args: &mut Args<'_>) -> Result<(), CommandError> {
    let (mut save, mut nosave, mut abort, mut force) = (false, false, false, false);
    while let Some(option) = args.peek() {
        args.next_bytes()?;
        match option.to_ascii_lowercase().as_slice() {
            b"save" => save = true,
            b"nosave" => nosave = true,
            b"now" => {}
            b"force" => force = true,
            b"abort" => abort = true,
            _ => return Err(CommandError::Syntax),
        }
    }
    if (save && nosave) || (abort && (save || nosave || args.remaining() > 0)) {
        return Err(CommandError::Syntax);
    }
    if abort {
        return Err(CommandError::msg("ERR No shutdown in progress."));
    }
    tracing::warn!("User requested shutdown...");
    if crate::persistence::save_for_shutdown(&conn.shared, save, nosave).is_err() && !force {
        return Err(CommandError::msg(
            "ERR Errors trying to SHUTDOWN. Check logs.",
        ));
    }
    crate::aof::close(&conn.shared);
    conn.shared.begin_shutdown();
    conn.close = true;
    Ok(())
}

fn set_name(conn: &mut Connection, name: &[u8]) -> Result<(), CommandError> {
    if !valid_name(name) {
        return Err(CommandError::msg(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    conn.handle.state.lock().name = (!name.is_empty()).then(|| Bytes::copy_from_slice(name));
    Ok(())
}

/// `CLIENT <subcommand>`
fn client(conn: &mut Connection, sub: &str, args: &mut Args<'_>) -> Result<(), CommandError> {
    match sub {
        "id" => conn.reply.integer(conn.handle.id as i64),
        "tracking" => crate::tracking::client_tracking(conn, args)?,
        "caching" => crate::tracking::client_caching(conn, args)?,
        "getredir" => crate::tracking::client_getredir(conn),
        "trackinginfo" => crate::tracking::client_trackinginfo(conn),
        "getname" => match conn.handle.state.lock().name.clone() {
            Some(name) => conn.reply.bulk(&name),
            None => conn.reply.null(),
        },
        "setname" => {
            set_name(conn, args.next_bytes()?)?;
            conn.reply.ok();
        }
        "info" => {
            let line = conn.handle.describe() + "\n";
            conn.reply.verbatim(line.as_bytes());
        }
        "list" => client_list(conn, args)?,
        "kill" => client_kill(conn, args)?,
        "reply" => {
            let mode = args.next_bytes()?;
            if mode.eq_ignore_ascii_case(b"on") {
                conn.reply_mode = ReplyMode::On;
                conn.reply.ok();
            } else if mode.eq_ignore_ascii_case(b"off") {
                conn.reply_mode = ReplyMode::Off;
            } else if mode.eq_ignore_ascii_case(b"skip") {
                if conn.reply_mode != ReplyMode::Off {
                    conn.reply_mode = ReplyMode::SkipNext;
                }
            } else {
                return Err(CommandError::Syntax);
            }
        }
        "no-evict" => {
            let mode = args.next_bytes()?;
            let on = if mode.eq_ignore_ascii_case(b"on") {
                true
            } else if mode.eq_ignore_ascii_case(b"off") {
                false
            } else {
                return Err(CommandError::Syntax);
            };
            conn.handle.state.lock().no_evict = on;
            conn.reply.ok();
        }
        "unblock" => client_unblock(conn, args)?,
        "help" => help(
            conn,
            &[
                "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GETNAME",
                "    Return the name of the current connection.",
                "ID",
                "    Return the ID of the current connection.",
                "INFO",
                "    Return information about the current client connection.",
                "KILL <ip:port>",
                "    Kill connection made from <ip:port>.",
                "KILL <option> <value> [<option> <value> [...]]",
                "    Kill connections. Options are: ID <client-id>, TYPE (NORMAL|MASTER|REPLICA|PUBSUB),",
                "    USER <username>, ADDR <ip:port>, LADDR <ip:port>, SKIPME (YES|NO).",
                "LIST [TYPE (NORMAL|MASTER|REPLICA|PUBSUB)] [ID <client-id> [<client-id> ...]]",
                "    Return information about client connections.",
                "NO-EVICT (ON|OFF)",
                "    Protect the current client connection from eviction.",
                "PAUSE <timeout> [WRITE|ALL]",
                "    Suspend all, or just write, clients for <timeout> milliseconds.",
                "REPLY (ON|OFF|SKIP)",
                "    Control the replies sent to the current connection.",
                "SETNAME <name>",
                "    Assign the name <name> to the current connection.",
                "UNBLOCK <clientid> [TIMEOUT|ERROR]",
                "    Unblock the specified blocked client.",
                "UNPAUSE",
                "    Stop the current client pause, resuming traffic.",
                "HELP",
                "    Prints this help.",
            ],
        ),
        _ => return Err(CommandError::Internal("CLIENT subcommand without an implementation")),
    }
    Ok(())
}

/// `CLIENT UNBLOCK client-id [TIMEOUT | ERROR]`: 1 if the client was blocked in a blocking
/// command and is no longer, 0 otherwise.
fn client_unblock(conn: &mut Connection, args: &mut Args<'_>) -> Result<(), CommandError> {
    if args.remaining() > 2 {
        return Err(CommandError::msg(
            "ERR unknown subcommand or wrong number of arguments for 'unblock'. Try CLIENT HELP.",
        ));
    }
    let id = args.next_i64()?;
    let why = match args.peek() {
        None => Cancel::Timeout,
        Some(reason) if reason.eq_ignore_ascii_case(b"timeout") => Cancel::Timeout,
        Some(reason) if reason.eq_ignore_ascii_case(b"error") => Cancel::Error,
        Some(_) => {
            return Err(CommandError::msg(
                "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
            ))
        }
    };
    let waiter = u64::try_from(id)
        .ok()
        .and_then(|id| conn.shared.clients.get(id))
        .and_then(|client| client.state.lock().waiter.clone());
    let unblocked = waiter.is_some_and(|w| conn.shared.engine.blocking.cancel(&w, why));
    conn.reply.integer(i64::from(unblocked));
    Ok(())
}

/// `CLIENT LIST [TYPE type] [ID id [id ...]]`
fn client_list(conn: &mut Connection, args: &mut Args<'_>) -> Result<(), CommandError> {
    let mut ids: Option<Vec<u64>> = None;
    let mut kind: Option<Vec<u8>> = None;
    while !args.is_empty() {
        if args.eat("type") {
            let t = args.next_bytes()?.to_ascii_lowercase();
            if !matches!(
                t.as_slice(),
                b"normal" | b"master" | b"replica" | b"slave" | b"pubsub"
            ) {
                return Err(CommandError::Other(
                    format!("ERR Unknown client type '{}'", String::from_utf8_lossy(&t)).into(),
                ));
            }
            kind = Some(t);
        } else if args.eat("id") {
            let mut list = Vec::new();
            while let Some(id) = args.peek() {
                let id = kv_resp::parse_i64(id)
                    .filter(|&i| i > 0)
                    .ok_or(CommandError::msg("ERR Invalid client ID"))?;
                args.next_bytes()?;
                list.push(id as u64);
            }
            if list.is_empty() {
                return Err(CommandError::Syntax);
            }
            ids = Some(list);
        } else {
            return Err(CommandError::Syntax);
        }
    }
    let mut text = String::new();
    for client in conn.shared.clients.all() {
        let type_ok = kind
            .as_deref()
            .is_none_or(|t| t == client.client_type().as_bytes());
        let id_ok = ids.as_ref().is_none_or(|ids| ids.contains(&client.id));
        if type_ok && id_ok {
            text.push_str(&client.describe());
            text.push('\n');
        }
    }
    conn.reply.verbatim(text.as_bytes());
    Ok(())
}

/// `CLIENT KILL ip:port` or `CLIENT KILL <filter> <value> ...`
fn client_kill(conn: &mut Connection, args: &mut Args<'_>) -> Result<(), CommandError> {
    if args.remaining() == 1 {
        let addr = String::from_utf8_lossy(args.next_bytes()?).into_owned();
        let target = conn
            .shared
            .clients
            .all()
            .into_iter()
            .find(|c| c.addr.to_string() == addr);
        return match target {
            Some(client) => {
                kill(conn, &client);
                conn.reply.ok();
                Ok(())
            }
            None => Err(CommandError::msg("ERR No such client")),
        };
    }
    let (mut id, mut addr, mut laddr, mut skip_me, mut kind) = (None, None, None, true, None);
    while !args.is_empty() {
        let option = args.next_bytes()?.to_ascii_lowercase();
        let value = args.next_bytes()?;
        let text = String::from_utf8_lossy(value).into_owned();
        match option.as_slice() {
            b"id" => {
                id = Some(
                    kv_resp::parse_i64(value)
                        .filter(|&i| i > 0)
                        .ok_or(CommandError::msg("ERR client-id should be greater than 0"))?
                        as u64,
                )
            }
            b"addr" => addr = Some(text),
            b"laddr" => laddr = Some(text),
            // `default` is the only user there is, and every client's.
            b"user" if value != b"default" => {
                return Err(CommandError::Other(
                    format!("ERR No such user '{text}'").into(),
                ));
            }
            b"user" => {}
            b"type" => {
                let t = text.to_ascii_lowercase();
                if !matches!(
                    t.as_str(),
                    "normal" | "master" | "replica" | "slave" | "pubsub"
                ) {
                    return Err(CommandError::Other(
                        format!("ERR Unknown client type '{text}'").into(),
                    ));
                }
                kind = Some(t);
            }
            b"skipme" => {
                skip_me = match text.to_ascii_lowercase().as_str() {
                    "yes" => true,
                    "no" => false,
                    _ => return Err(CommandError::Syntax),
                }
            }
            _ => return Err(CommandError::Syntax),
        }
    }
    let mut killed = 0;
    for client in conn.shared.clients.all() {
        let matches = id.is_none_or(|id| client.id == id)
            && addr.as_ref().is_none_or(|a| client.addr.to_string() == *a)
            && laddr
                .as_ref()
                .is_none_or(|a| client.laddr.to_string() == *a)
            && kind.as_ref().is_none_or(|k| k == client.client_type())
            && !(skip_me && client.id == conn.handle.id);
        if matches {
            kill(conn, &client);
            killed += 1;
        }
    }
    conn.reply.integer(killed);
    Ok(())
}

/// Kills `client`; killing oneself closes after the reply, as in Redis.
fn kill(conn: &mut Connection, client: &crate::clients::ClientHandle) {
    if client.id == conn.handle.id {
        conn.close = true;
    } else {
        client.kill();
    }
}

/// `CONFIG <subcommand>`
fn config(conn: &mut Connection, sub: &str, args: &mut Args<'_>) -> Result<(), CommandError> {
    let shared = conn.shared.clone();
    match sub {
        "get" => {
            let mut found: Vec<(String, String)> = Vec::new();
            for pattern in args.rest() {
                let text = String::from_utf8_lossy(pattern).into_owned();
                // A plain name is looked up directly and echoed as the client typed it, as
                // Redis does; only a pattern is matched against every name.
                let matches = if text.contains(['*', '?', '[']) {
                    shared
                        .config
                        .matching(pattern)
                        .into_iter()
                        .map(|(n, v)| (n.to_string(), v))
                        .collect()
                } else {
                    match crate::config::find(&text) {
                        Some(param) => {
                            vec![(text.clone(), param.shown(&shared.config.get(param.name)))]
                        }
                        None => Vec::new(),
                    }
                };
                for (name, value) in matches {
                    if !found.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name)) {
                        found.push((name, value));
                    }
                }
            }
            conn.reply.map(found.len());
            for (name, value) in found {
                conn.reply.bulk(name.as_bytes());
                conn.reply.bulk(value.as_bytes());
            }
        }
        "set" => {
            let rest = args.rest();
            // The arity (-4) guarantees one pair; a pair cut short after it is Redis's syntax
            // error, not an arity error.
            if rest.len() % 2 != 0 {
                return Err(CommandError::Syntax);
            }
            let pairs: Vec<(String, String)> = rest
                .chunks_exact(2)
                .map(|p| {
                    (
                        String::from_utf8_lossy(p[0]).into_owned(),
                        String::from_utf8_lossy(p[1]).into_owned(),
                    )
                })
                .collect();
            let allow_protected = crate::debug::enabled_for(conn, "enable-protected-configs");
            let listening = (shared.config.get("port"), shared.config.get("bind"));
            // What the parameters named were, to put back if applying them fails.
            let before: Vec<(String, String)> = pairs
                .iter()
                .filter_map(|(name, _)| crate::config::find(name))
                .map(|param| (param.name.to_string(), shared.config.get(param.name)))
                .collect();
            let changed = shared
                .config
                .set_many(&pairs, allow_protected)
                .map_err(|e| CommandError::Other(e.into()))?;
            if listening != (shared.config.get("port"), shared.config.get("bind")) {
                if let Err(e) = crate::server::rebind(&shared) {
                    tracing::warn!("CONFIG SET could not listen as asked: {e:#}");
                    let (name, why) = if listening.0 != shared.config.get("port") {
                        ("port", "Unable to listen on this port. Check server logs.")
                    } else {
                        ("bind", "Failed to bind to specified addresses.")
                    };
                    // As Redis: every parameter of the call goes back (nothing else was
                    // applied yet).
                    let _ = shared.config.set_many(&before, true);
                    return Err(CommandError::Other(
                        format!(
                            "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
                        )
                        .into(),
                    ));
                }
            }
            if changed.contains(&"proto-max-bulk-len") {
                let value = shared.config.int("proto-max-bulk-len") as u64;
                shared
                    .engine
                    .config
                    .proto_max_bulk_len
                    .store(value, Ordering::Relaxed);
            }
            if changed
                .iter()
                .any(|name| crate::config::ENGINE_SETTINGS.contains(name))
            {
                crate::config::apply_engine_settings(&shared.config, &shared.engine);
            }
            if changed.contains(&"dir") {
                // Redis moves into the new directory (its check already proved it exists).
                let dir = shared.config.get("dir");
                if let Err(e) = std::env::set_current_dir(&dir) {
                    tracing::warn!("cannot change into {dir}: {e}");
                }
            }
            if changed.contains(&"appendfsync") {
                let policy = crate::aof::Fsync::from_name(&shared.config.get("appendfsync"));
                shared.aof.set_policy(policy);
            }
            if changed.contains(&"appendonly") {
                crate::persistence::apply_appendonly(&shared)?;
            }
            if changed.contains(&"maxmemory") {
                apply_maxmemory(&shared);
            }
            if changed
                .iter()
                .any(|name| crate::replication::SETTINGS.contains(name))
            {
                shared.replication.apply_settings(&shared);
            }
            conn.reply.ok();
        }
        "resetstat" => {
            shared.stats.reset();
            shared.clients.evicted.store(0, Ordering::Relaxed);
            shared.cmdstats.reset();
            shared.metrics.reset();
            let engine_stats = &shared.engine.stats;
            for counter in [
                &engine_stats.keyspace_hits,
                &engine_stats.keyspace_misses,
                &engine_stats.unexpected_error_replies,
            ] {
                counter.store(0, Ordering::Relaxed);
            }
            shared
                .engine
                .keyspace
                .expired_keys
                .store(0, Ordering::Relaxed);
            shared
                .engine
                .keyspace
                .expired_subkeys
                .store(0, Ordering::Relaxed);
            shared.engine.evictor.reset_stats();
            let lazyfree = &shared.engine.keyspace.lazyfree;
            lazyfree.counts.freed.store(0, Ordering::Relaxed);
            let syncs = &shared.replication.master.syncs;
            for counter in [
                &syncs.full,
                &syncs.partial_ok,
                &syncs.partial_err,
                &syncs.bytes_sent,
            ] {
                counter.store(0, Ordering::Relaxed);
            }
            conn.reply.ok();
        }
        "rewrite" => {
            shared
                .config
                .rewrite()
                .map_err(|e| CommandError::Other(e.into()))?;
            conn.reply.ok();
        }
        "help" => help(
            conn,
            &[
                "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GET <pattern>",
                "    Return parameters matching the glob-like <pattern> and their values.",
                "SET <directive> <value>",
                "    Set the configuration <directive> to <value>.",
                "RESETSTAT",
                "    Reset statistics reported by the INFO command.",
                "REWRITE",
                "    Rewrite the configuration file.",
                "HELP",
                "    Prints this help.",
            ],
        ),
        _ => {
            return Err(CommandError::Internal(
                "CONFIG subcommand without an implementation",
            ))
        }
    }
    Ok(())
}

/// A HELP reply: one status line per line of text.
pub(crate) fn help(conn: &mut Connection, lines: &[&str]) {
    conn.reply.help(lines);
}

/// After `CONFIG SET maxmemory`: warns when the new limit is below what is in use and evicts
/// at once, as Redis's `updateMaxmemory` does.
fn apply_maxmemory(shared: &crate::server::Shared) {
    let max = shared.config.int("maxmemory");
    let used = crate::memory::used();
    if max > 0 && (max as u64) < used {
        tracing::warn!(
            "WARNING: the new maxmemory value set via CONFIG SET ({max}) is smaller than the \
             current memory usage ({used}). This will result in key eviction and/or the \
             inability to accept new write commands depending on the maxmemory-policy."
        );
    }
    shared.engine.make_room(&crate::memory::used);
}
