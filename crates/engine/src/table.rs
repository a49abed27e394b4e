//! The command table: one row per command, the single source of truth for everything generic.
//!
//! Facts (arity, flags, key positions, ACL categories, tips) match Redis 7; summaries are
//! kv's own words. A differential test compares `COMMAND INFO` for every row with a real Redis.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::command::CommandSpec;
use crate::{
    connection, introspect, keys, multi, server_commands, t_hash, t_list, t_set, t_sort, t_string,
    t_zset,
};

/// Builds one row; fields not given keep [`CommandSpec::DEFAULT`].
macro_rules! command {
    (
        $name:literal, $arity:expr, [$($flag:ident),*], $keys:expr,
        $group:ident, $handler:expr, $since:literal, $complexity:literal, $summary:literal,
        $syntax:literal $(, $field:ident: $value:expr)* $(,)?
    ) => {
        $crate::command::CommandSpec {
            name: $name,
            arity: $arity,
            flags: $crate::command::Flags::NONE$(.with($crate::command::Flags::$flag))*,
            keys: $crate::command::KeyRange::from_tuple($keys),
            group: $crate::command::Group::$group,
            handler: $handler,
            since: $since,
            complexity: $complexity,
            summary: $summary,
            syntax: $syntax,
            $($field: $value,)*
            ..$crate::command::CommandSpec::DEFAULT
        }
    };
}

/// Shorthand for a command the engine runs.
macro_rules! engine {
    ($path:path) => {
        $crate::command::Handler::Engine($path)
    };
}

pub(crate) use {command, engine};

/// Key positions of a command without keys.
pub(crate) const NO_KEYS: (i32, i32, i32) = (0, 0, 0);

/// Every family's registration block; together, every command kv implements.
static FAMILIES: &[&[CommandSpec]] = &[
    t_string::COMMANDS,
    t_list::COMMANDS,
    t_hash::COMMANDS,
    t_set::COMMANDS,
    t_zset::COMMANDS,
    t_sort::COMMANDS,
    multi::COMMANDS,
    keys::COMMANDS,
    connection::COMMANDS,
    introspect::COMMANDS,
    server_commands::COMMANDS,
];

/// Every command, family by family.
pub fn all() -> impl Iterator<Item = &'static CommandSpec> {
    FAMILIES.iter().flat_map(|family| family.iter())
}

/// The row for `name`, ignoring ASCII case.
pub fn find(name: &[u8]) -> Option<&'static CommandSpec> {
    // foldhash rather than SipHash: this lookup runs for every command, on trusted keys.
    static INDEX: OnceLock<HashMap<Vec<u8>, &'static CommandSpec, foldhash::fast::RandomState>> =
        OnceLock::new();
    let index = INDEX.get_or_init(|| {
        all()
            .filter(|c| !c.name.is_empty())
            .map(|c| (c.name.as_bytes().to_vec(), c))
            .collect()
    });
    let mut lower = [0u8; 32];
    if name.len() > lower.len() {
        return None;
    }
    for (l, b) in lower.iter_mut().zip(name) {
        *l = b.to_ascii_lowercase();
    }
    index.get(&lower[..name.len()]).copied()
}
