//! Key-generic commands (Redis's `db.c` and `expire.c`).

use crate::command::CommandSpec;

/// Registration block: the key-generic commands' rows of the command table.
pub(crate) static COMMANDS: &[CommandSpec] = &[];
