//! The one place engine errors become Redis's error replies.

use std::borrow::Cow;

use thiserror::Error;

/// Why a command failed. `Display` is the exact error line Redis sends (without the leading
/// `-` and trailing CRLF), so every command reports the same failure with the same words.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CommandError {
    /// The key holds a value of another type.
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
    /// An argument that must be a 64-bit integer is not, or is out of range.
    #[error("ERR value is not an integer or out of range")]
    NotInteger,
    /// An argument that must be a float is not.
    #[error("ERR value is not a valid float")]
    NotFloat,
    /// Arguments that do not fit the command's syntax.
    #[error("ERR syntax error")]
    Syntax,
    /// The key does not exist where the command needs it.
    #[error("ERR no such key")]
    NoSuchKey,
    /// An increment that would overflow a 64-bit integer.
    #[error("ERR increment or decrement would overflow")]
    Overflow,
    /// A database index that is not a number or not below `databases`.
    #[error("ERR DB index is out of range")]
    DbIndexOutOfRange,
    /// An expire time that is not positive or overflows, for the named command.
    #[error("ERR invalid expire time in '{0}' command")]
    InvalidExpireTime(&'static str),
    /// The wrong number of arguments for the named command (its full name, e.g. `client|kill`).
    #[error("ERR wrong number of arguments for '{0}' command")]
    WrongArity(String),
    /// A command name the table does not know; holds the rest of the message, with the
    /// client's bytes as sent (see [`CommandError::to_bytes`]).
    #[error("ERR unknown command {}", String::from_utf8_lossy(.0))]
    UnknownCommand(Vec<u8>),
    /// A subcommand the container does not know: `(subcommand as sent, CONTAINER)`.
    #[error("ERR unknown subcommand '{}'. Try {} HELP.", String::from_utf8_lossy(.0), .1)]
    UnknownSubcommand(Vec<u8>, String),
    /// A string that would grow past `proto-max-bulk-len`.
    #[error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")]
    StringTooLong,
    /// Any other error line, code included (e.g. `ERR index out of range`).
    #[error("{0}")]
    Other(Cow<'static, str>),
    /// A bug in kv rather than in the request; reported, never a crash.
    #[error("ERR internal error: {0}")]
    Internal(&'static str),
}

impl CommandError {
    /// An error with a fixed text, code included.
    pub const fn msg(text: &'static str) -> CommandError {
        CommandError::Other(Cow::Borrowed(text))
    }

    /// The error line as sent to the client: the same words as `Display`, but names and
    /// arguments the client sent are echoed as raw bytes, as Redis echoes them.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            CommandError::UnknownCommand(tail) => [&b"ERR unknown command "[..], tail].concat(),
            CommandError::UnknownSubcommand(sub, container) => [
                &b"ERR unknown subcommand '"[..],
                sub,
                format!("'. Try {container} HELP.").as_bytes(),
            ]
            .concat(),
            other => other.to_string().into_bytes(),
        }
    }

    /// The error code: the first word (`ERR`, `WRONGTYPE`, ...), for INFO's `errorstats`.
    pub fn code(&self) -> String {
        let text = self.to_string();
        text.split(' ').next().unwrap_or("ERR").to_string()
    }
}

/// The result of running a command.
pub type CommandResult = Result<(), CommandError>;
