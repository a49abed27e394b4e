//! The one error type of the codec.

use thiserror::Error;

/// Why a byte stream is not valid RESP.
///
/// The `Display` text of each variant is exactly what Redis replies for the same mistake (where
/// Redis has one), so a server can answer `-ERR {error}` and match Redis byte for byte. After a
/// protocol error the stream cannot be resynchronised: a server replies and closes the
/// connection.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A bulk length that is not an integer, is negative where a null is not allowed, or exceeds
    /// [`Limits::max_bulk_len`](crate::Limits::max_bulk_len).
    #[error("Protocol error: invalid bulk length")]
    InvalidBulkLength,
    /// An aggregate length that is not an integer or exceeds
    /// [`Limits::max_array_len`](crate::Limits::max_array_len).
    #[error("Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    /// An inline request whose quotes do not close, or a closing quote not followed by a space.
    #[error("Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
    /// An element of a multibulk request that is not a bulk string; holds the byte found.
    #[error("Protocol error: expected '$', got '{}'", char::from(*.0))]
    ExpectedBulk(u8),
    /// An inline request longer than [`Limits::max_inline_len`](crate::Limits::max_inline_len)
    /// with no newline yet.
    #[error("Protocol error: too big inline request")]
    TooBigInlineRequest,
    /// A multibulk header line longer than the inline limit with no CRLF yet.
    #[error("Protocol error: too big mbulk count string")]
    TooBigMultibulkCount,
    /// A bulk header line longer than the inline limit with no CRLF yet.
    #[error("Protocol error: too big bulk count string")]
    TooBigBulkCount,
    /// A simple string, error or big number line longer than the bulk limit with no CRLF yet.
    #[error("Protocol error: too big line")]
    TooBigLine,
    /// Payload bytes not followed by CRLF where the length said they would be.
    #[error("Protocol error: expected CRLF")]
    ExpectedCrlf,
    /// A frame starting with a byte that is no RESP2 or RESP3 type marker.
    #[error("Protocol error: invalid frame type '{}'", char::from(*.0))]
    InvalidFrameType(u8),
    /// An integer frame whose text is not a 64-bit signed integer.
    #[error("Protocol error: invalid integer")]
    InvalidInteger,
    /// A double frame whose text is not a number, `inf`, `-inf` or `nan`.
    #[error("Protocol error: invalid double")]
    InvalidDouble,
    /// A boolean frame other than `#t` or `#f`.
    #[error("Protocol error: invalid boolean")]
    InvalidBoolean,
    /// A big number frame whose text is not an optionally signed run of digits.
    #[error("Protocol error: invalid big number")]
    InvalidBigNumber,
    /// A verbatim string without its three-byte format and colon.
    #[error("Protocol error: invalid verbatim string")]
    InvalidVerbatim,
    /// Aggregates nested deeper than [`Limits::max_depth`](crate::Limits::max_depth).
    #[error("Protocol error: nesting too deep")]
    TooDeep,
    /// A streamed-string chunk, or an end marker, where the stream does not allow one.
    #[error("Protocol error: invalid streamed frame")]
    InvalidStream,
}
