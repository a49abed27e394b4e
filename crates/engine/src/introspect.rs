//! `COMMAND` and its subcommands: the command table, described to clients.

use crate::command::{BeginSearch, CommandSpec, FindKeys, Handler, KeyFlags, KeySpec};
use crate::table::{self, command, engine, NO_KEYS};
use crate::{Args, CommandError, CommandResult, Ctx, Reply};

/// `COMMAND`: every command's description.
pub fn command(_ctx: &mut Ctx<'_, '_>, _args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let all: Vec<_> = table::all().collect();
    reply.array(all.len());
    for spec in all {
        write_info(spec, None, reply);
    }
    Ok(())
}

/// `COMMAND COUNT`
pub fn count(_ctx: &mut Ctx<'_, '_>, _args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    reply.count(table::all().count());
    Ok(())
}

/// `COMMAND INFO [command-name ...]`: nil for unknown names.
pub fn info(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    if args.is_empty() {
        return command(ctx, args, reply);
    }
    let names = args.rest();
    reply.array(names.len());
    for name in names {
        match resolve(name) {
            Some((spec, parent)) => write_info(spec, parent, reply),
            None => reply.null_array(),
        }
    }
    Ok(())
}

/// `COMMAND DOCS [command-name ...]`: a map from name to documentation; unknown names are
/// left out.
pub fn docs(_ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let specs: Vec<(&CommandSpec, Option<&CommandSpec>)> = if args.is_empty() {
        table::all().map(|s| (s, None)).collect()
    } else {
        args.rest().iter().filter_map(|n| resolve(n)).collect()
    };
    reply.map(specs.len());
    for (spec, parent) in specs {
        reply.bulk(full_name(spec, parent).as_bytes());
        write_docs(spec, parent, reply);
    }
    Ok(())
}

/// `COMMAND LIST [FILTERBY MODULE module-name | ACLCAT category | PATTERN pattern]`
pub fn list(_ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    #[derive(Clone, Copy)]
    enum Filter<'a> {
        All,
        Module,
        Category(&'a [u8]),
        Pattern(&'a [u8]),
    }
    let filter = if args.is_empty() {
        Filter::All
    } else if args.eat("filterby") && args.remaining() == 2 {
        if args.eat("module") {
            Filter::Module
        } else if args.eat("aclcat") {
            Filter::Category(args.next_bytes()?)
        } else if args.eat("pattern") {
            Filter::Pattern(args.next_bytes()?)
        } else {
            return Err(CommandError::Syntax);
        }
    } else {
        return Err(CommandError::Syntax);
    };
    let mut names = Vec::new();
    for spec in table::all() {
        let with_subs =
            std::iter::once((spec, None)).chain(spec.subcommands.iter().map(|s| (s, Some(spec))));
        for (s, parent) in with_subs {
            let name = full_name(s, parent);
            let keep = match filter {
                Filter::All => true,
                Filter::Module => false,
                Filter::Category(cat) => s
                    .acl_categories()
                    .iter()
                    .any(|c| c.as_bytes().eq_ignore_ascii_case(cat)),
                Filter::Pattern(p) => crate::glob::matches(p, name.as_bytes(), true),
            };
            // Subcommands are listed too, after their container, as Redis lists them.
            if keep {
                names.push(name);
            }
        }
    }
    reply.array(names.len());
    for name in names {
        reply.bulk(name.as_bytes());
    }
    Ok(())
}

/// `COMMAND GETKEYS command [arg ...]`
pub fn getkeys(ctx: &mut Ctx<'_, '_>, args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let keys = keys_of(ctx, args)?;
    reply.array(keys.len());
    for (key, _) in keys {
        reply.bulk(key);
    }
    Ok(())
}

/// `COMMAND GETKEYSANDFLAGS command [arg ...]`
pub fn getkeysandflags(
    ctx: &mut Ctx<'_, '_>,
    args: &mut Args<'_>,
    reply: &mut Reply,
) -> CommandResult {
    let keys = keys_of(ctx, args)?;
    reply.array(keys.len());
    for (key, flags) in keys {
        reply.array(2);
        reply.bulk(key);
        reply.set(flags.len());
        for flag in flags.iter() {
            reply.simple(flag);
        }
    }
    Ok(())
}

/// The keys of the command named by `args`, each with its flags, with Redis's errors for bad
/// input.
fn keys_of<'a>(
    ctx: &Ctx<'_, '_>,
    args: &Args<'a>,
) -> Result<Vec<(&'a [u8], KeyFlags)>, CommandError> {
    let command = args.rest();
    let (spec, _) = ctx.engine.lookup(command).map_err(|e| match e {
        CommandError::WrongArity(_) => {
            CommandError::msg("ERR Invalid number of arguments specified for command")
        }
        _ => CommandError::msg("ERR Invalid command specified"),
    })?;
    // Names flagged `not_key` (shard channels) are positions for cluster routing only: Redis
    // leaves them out of GETKEYS.
    let keys: Vec<(&[u8], KeyFlags)> = spec
        .keys_and_flags_in(command)
        .into_iter()
        .filter(|(_, flags)| !flags.contains(&"not_key"))
        .filter_map(|(p, flags)| command.get(p).map(|b| (*b, flags)))
        .collect();
    if keys.is_empty() {
        // A key count that names no key is a bad argument, not a command without keys.
        return Err(CommandError::msg(if spec.key_count_at.is_some() {
            "ERR Invalid arguments specified for command"
        } else {
            "ERR The command has no key arguments"
        }));
    }
    Ok(keys)
}

/// `COMMAND HELP`
pub fn help(_ctx: &mut Ctx<'_, '_>, _args: &mut Args<'_>, reply: &mut Reply) -> CommandResult {
    let lines = [
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Return details about all commands.",
        "COUNT",
        "    Return the total number of commands.",
        "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
        "    Return the names of commands, optionally filtered.",
        "INFO [<command-name> ...]",
        "    Return details about the named commands, or all of them.",
        "DOCS [<command-name> ...]",
        "    Return documentation for the named commands, or all of them.",
        "GETKEYS <full-command>",
        "    Return the keys a full command would access.",
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys a full command would access, with their flags.",
        "HELP",
        "    Prints this help.",
    ];
    reply.help(&lines);
    Ok(())
}

/// A command or `container|subcommand` name, ignoring case.
fn resolve(name: &[u8]) -> Option<(&'static CommandSpec, Option<&'static CommandSpec>)> {
    match name.iter().position(|&b| b == b'|') {
        None => table::find(name).map(|s| (s, None)),
        Some(bar) => {
            let parent = table::find(&name[..bar])?;
            let sub = &name[bar + 1..];
            let spec = parent
                .subcommands
                .iter()
                .find(|s| s.name.as_bytes().eq_ignore_ascii_case(sub))?;
            Some((spec, Some(parent)))
        }
    }
}

fn full_name(spec: &CommandSpec, parent: Option<&CommandSpec>) -> String {
    match parent {
        Some(p) => format!("{}|{}", p.name, spec.name),
        None => spec.name.to_string(),
    }
}

/// One command's `COMMAND INFO` entry, the 10-element array Redis 7 sends.
fn write_info(spec: &CommandSpec, parent: Option<&CommandSpec>, reply: &mut Reply) {
    reply.array(10);
    reply.bulk(full_name(spec, parent).as_bytes());
    reply.integer(i64::from(spec.arity));
    // Redis hides `may_replicate` from COMMAND INFO.
    let flags: Vec<_> = spec
        .flags
        .names()
        .filter(|&name| name != "may_replicate")
        .collect();
    reply.set(flags.len());
    for flag in flags {
        reply.simple(flag);
    }
    reply.integer(i64::from(spec.keys.first));
    reply.integer(i64::from(spec.keys.last));
    reply.integer(i64::from(spec.keys.step));
    let categories = spec.acl_categories();
    reply.set(categories.len());
    for category in categories {
        reply.simple(&format!("@{category}"));
    }
    reply.array(spec.tips.len());
    for tip in spec.tips {
        reply.bulk(tip.as_bytes());
    }
    if !spec.key_specs.is_empty() {
        write_key_specs(spec.key_specs, reply);
    } else if let Some(at) = spec.key_count_at {
        let find = [("keynumidx", 0), ("firstkey", 1), ("keystep", 1)];
        write_key_spec(spec, at as i64, "keynum", &find, reply);
    } else if spec.keys.first > 0 {
        let last = if spec.keys.last < 0 {
            spec.keys.last
        } else {
            spec.keys.last - spec.keys.first
        };
        let find = [
            ("lastkey", i64::from(last)),
            ("keystep", i64::from(spec.keys.step)),
            ("limit", 0),
        ];
        write_key_spec(spec, i64::from(spec.keys.first), "range", &find, reply);
    } else {
        reply.array(0);
    }
    reply.array(spec.subcommands.len());
    for sub in spec.subcommands {
        write_info(sub, Some(spec), reply);
    }
}

/// The one key specification kv reports for `spec`: its flags, the search starting at
/// argument `begin`, and a `find_keys` of type `find_type` with the given integer fields.
fn write_key_spec(
    spec: &CommandSpec,
    begin: i64,
    find_type: &str,
    find: &[(&str, i64)],
    reply: &mut Reply,
) {
    reply.array(1);
    reply.map(3);
    write_key_flags(spec.default_key_flags(), reply);
    write_begin_index(begin, reply);
    write_find_keys(find_type, find, reply);
}

/// Key specifications written out in a table row (see [`KeySpec`]), in order.
fn write_key_specs(specs: &[KeySpec], reply: &mut Reply) {
    reply.array(specs.len());
    for spec in specs {
        reply.map(3 + usize::from(spec.notes.is_some()));
        if let Some(notes) = spec.notes {
            reply.bulk(b"notes");
            reply.bulk(notes.as_bytes());
        }
        write_key_flags(spec.flags, reply);
        match spec.begin_search {
            BeginSearch::Index(at) => write_begin_index(at, reply),
            BeginSearch::Unknown => write_unknown(b"begin_search", reply),
        }
        match spec.find_keys {
            FindKeys::Range {
                lastkey,
                keystep,
                limit,
            } => {
                let find = [("lastkey", lastkey), ("keystep", keystep), ("limit", limit)];
                write_find_keys("range", &find, reply);
            }
            FindKeys::Keynum {
                keynumidx,
                firstkey,
                keystep,
            } => {
                let find = [
                    ("keynumidx", keynumidx),
                    ("firstkey", firstkey),
                    ("keystep", keystep),
                ];
                write_find_keys("keynum", &find, reply);
            }
            FindKeys::Unknown => write_unknown(b"find_keys", reply),
        }
    }
}

/// The `flags` entry of a key specification.
fn write_key_flags(flags: KeyFlags, reply: &mut Reply) {
    reply.bulk(b"flags");
    reply.set(flags.len());
    for flag in flags.iter() {
        reply.simple(flag);
    }
}

/// A `begin_search` entry of type `index`, starting at argument `at`.
fn write_begin_index(at: i64, reply: &mut Reply) {
    reply.bulk(b"begin_search");
    reply.map(2);
    reply.bulk(b"type");
    reply.bulk(b"index");
    reply.bulk(b"spec");
    reply.map(1);
    reply.bulk(b"index");
    reply.integer(at);
}

/// A `find_keys` entry of type `find_type` with the given integer fields.
fn write_find_keys(find_type: &str, find: &[(&str, i64)], reply: &mut Reply) {
    reply.bulk(b"find_keys");
    reply.map(2);
    reply.bulk(b"type");
    reply.bulk(find_type.as_bytes());
    reply.bulk(b"spec");
    reply.map(find.len());
    for (name, value) in find {
        reply.bulk(name.as_bytes());
        reply.integer(*value);
    }
}

/// A `begin_search` or `find_keys` entry (`name`) of type `unknown`, with an empty spec.
fn write_unknown(name: &[u8], reply: &mut Reply) {
    reply.bulk(name);
    reply.map(2);
    reply.bulk(b"type");
    reply.bulk(b"unknown");
    reply.bulk(b"spec");
    reply.map(0);
}

/// One command's `COMMAND DOCS` map.
fn write_docs(spec: &CommandSpec, parent: Option<&CommandSpec>, reply: &mut Reply) {
    let arguments = crate::syntax::parse(spec.syntax);
    let subcommands = !spec.subcommands.is_empty();
    reply.map(4 + usize::from(!arguments.is_empty()) + usize::from(subcommands));
    reply.bulk(b"summary");
    reply.bulk(spec.summary.as_bytes());
    reply.bulk(b"since");
    reply.bulk(spec.since.as_bytes());
    reply.bulk(b"group");
    reply.bulk(spec.group.name().as_bytes());
    reply.bulk(b"complexity");
    reply.bulk(spec.complexity.as_bytes());
    if !arguments.is_empty() {
        reply.bulk(b"arguments");
        crate::syntax::write(&arguments, reply);
    }
    if subcommands {
        reply.bulk(b"subcommands");
        reply.map(spec.subcommands.len());
        for sub in spec.subcommands {
            reply.bulk(full_name(sub, Some(spec)).as_bytes());
            write_docs(sub, Some(spec), reply);
        }
    }
    let _ = parent;
}

/// Whether a spec is a pure container (no behaviour of its own).
pub fn is_container(spec: &CommandSpec) -> bool {
    matches!(spec.handler, Handler::Container)
}

/// The subcommands of COMMAND.
pub(crate) static COMMAND_SUBCOMMANDS: &[CommandSpec] = &[
    command!("count", 2, [LOADING, STALE], NO_KEYS, Server, engine!(count), "2.8.13", "O(1)",
        "Returns how many commands there are.", "", extra_acl: &["connection"]),
    command!("docs", -2, [LOADING, STALE], NO_KEYS, Server, engine!(docs), "7.0.0",
        "O(N) where N is the number of commands to look up", "Returns documentation of commands.",
        "[command-name [command-name ...]]", extra_acl: &["connection"], tips: &["nondeterministic_output_order"]),
    command!("getkeys", -4, [LOADING, STALE], NO_KEYS, Server, engine!(getkeys), "2.8.13",
        "O(N) where N is the number of arguments to the command", "Extracts the key names from a full command.",
        "command [arg [arg ...]]", extra_acl: &["connection"]),
    command!("getkeysandflags", -4, [LOADING, STALE], NO_KEYS, Server, engine!(getkeysandflags), "7.0.0",
        "O(N) where N is the number of arguments to the command",
        "Extracts the key names and their access flags from a full command.", "command [arg [arg ...]]",
        extra_acl: &["connection"]),
    command!("help", 2, [LOADING, STALE], NO_KEYS, Server, engine!(help), "5.0.0", "O(1)",
        "Explains the COMMAND subcommands.", "", extra_acl: &["connection"]),
    command!("info", -2, [LOADING, STALE], NO_KEYS, Server, engine!(info), "2.8.13",
        "O(N) where N is the number of commands to look up", "Returns information about commands.",
        "[command-name [command-name ...]]", extra_acl: &["connection"], tips: &["nondeterministic_output_order"]),
    command!("list", -2, [LOADING, STALE], NO_KEYS, Server, engine!(list), "7.0.0",
        "O(N) where N is the total number of Redis commands", "Returns the names of commands, optionally filtered.",
        "[FILTERBY MODULE module-name | ACLCAT category | PATTERN pattern]", extra_acl: &["connection"],
        tips: &["nondeterministic_output_order"]),
];

/// Registration block.
pub(crate) static COMMANDS: &[CommandSpec] = &[
    command!("command", -1, [LOADING, STALE], NO_KEYS, Server, engine!(command), "2.8.13",
        "O(N) where N is the total number of Redis commands", "Returns detailed information about all commands.",
        "", extra_acl: &["connection"], tips: &["nondeterministic_output_order"],
        subcommands: COMMAND_SUBCOMMANDS),
];
