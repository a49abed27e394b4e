//! Bounds the decoder enforces before it trusts a length a peer declares.

/// Caller-chosen limits, checked before anything is allocated or waited for.
///
/// A declared length never makes the decoder reserve memory: lengths only bound how far it
/// reads into bytes that have already arrived. The defaults are Redis's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest bulk string accepted (Redis's `proto-max-bulk-len`, 512 MB by default).
    pub max_bulk_len: u64,
    /// Most elements accepted in one aggregate (Redis refuses more than `i32::MAX`).
    pub max_array_len: u64,
    /// Deepest nesting of aggregates accepted. Requests are never nested; replies rarely more
    /// than a few levels.
    pub max_depth: usize,
    /// Longest inline request, and longest length header, accepted while no line end has
    /// arrived (Redis's `PROTO_INLINE_MAX_SIZE`, 64 KB).
    pub max_inline_len: usize,
}

impl Limits {
    /// Redis's defaults.
    pub const DEFAULT: Limits = Limits {
        max_bulk_len: 512 * 1024 * 1024,
        max_array_len: i32::MAX as u64,
        max_depth: 128,
        max_inline_len: 64 * 1024,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}
