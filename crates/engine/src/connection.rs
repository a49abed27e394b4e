//! Connection commands that need nothing from the connection but the session (the server runs
//! the others: HELLO, AUTH, CLIENT, QUIT, RESET).

use crate::command::CommandSpec;
use crate::table::{command, engine, NO_KEYS};
use crate::{Args, CommandError, CommandResult, Ctx, Protocol, Reply};

/// `PING [message]`
pub fn ping(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let message = match args.rest() {
        [] => None,
        [message] => Some(message),
        _ => return Err(CommandError::WrongArity("ping".into())),
    };
    if ctx.session.subscribed && ctx.session.protocol == Protocol::Resp2 {
        // A RESP2 subscriber reads only pub/sub messages, so PING answers as one.
        reply.array(2);
        reply.bulk(b"pong");
        reply.bulk(message.map_or(&b""[..], |m| &m[..]));
        return Ok(());
    }
    match message {
        None => reply.simple("PONG"),
        Some(message) => reply.bulk(message),
    }
    Ok(())
}

/// `ECHO message`
pub fn echo(_ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    reply.bulk(args.next_bytes()?);
    Ok(())
}

/// `SELECT index`
pub fn select(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let index = args.next_i64()?;
    if i32::try_from(index).is_err() {
        return Err(CommandError::msg(
            "ERR value is out of range, value must between -2147483648 and 2147483647",
        ));
    }
    ctx.session.db = db_index(ctx, index)?;
    reply.ok();
    Ok(())
}

/// A database index argument, checked against `databases`.
pub fn db_index(ctx: &Ctx<'_, '_>, index: i64) -> Result<usize, CommandError> {
    usize::try_from(index)
        .ok()
        .filter(|&i| i < ctx.engine.keyspace.databases())
        .ok_or(CommandError::DbIndexOutOfRange)
}

/// Registration block: the connection commands the engine runs.
pub(crate) static COMMANDS: &[CommandSpec] = &[
    command!(
        "echo",
        2,
        [LOADING, STALE, FAST],
        NO_KEYS,
        Connection,
        engine!(echo),
        "1.0.0",
        "O(1)",
        "Returns the given string.",
        "message"
    ),
    command!("ping", -1, [FAST], NO_KEYS, Connection, engine!(ping), "1.0.0", "O(1)",
        "Returns PONG, or the given message.", "[message]",
        tips: &["request_policy:all_shards", "response_policy:all_succeeded"]),
    command!(
        "select",
        2,
        [LOADING, STALE, FAST],
        NO_KEYS,
        Connection,
        engine!(select),
        "1.0.0",
        "O(1)",
        "Changes the selected database.",
        "index"
    ),
];
