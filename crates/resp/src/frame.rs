//! The value model: one [`Frame`] per RESP2 or RESP3 message.

use bytes::Bytes;

/// One RESP message, of any RESP2 or RESP3 type.
///
/// String payloads are [`Bytes`]: binary-safe, and when decoded, zero-copy slices of the read
/// buffer. RESP2's two nulls are kept apart from RESP3's single null so that a reply built
/// once encodes correctly for either protocol (see [`encode`](crate::encode)).
#[derive(Debug, Clone)]
pub enum Frame {
    /// `+OK\r\n`: a short status line, never containing CR or LF.
    Simple(Bytes),
    /// `-ERR message\r\n`: an error whose first word is its code.
    Error(Bytes),
    /// `:42\r\n`: a signed 64-bit integer.
    Integer(i64),
    /// `$5\r\nhello\r\n`: a binary-safe string.
    Bulk(Bytes),
    /// `*2\r\n...`: an ordered list of frames.
    Array(Vec<Frame>),
    /// `$-1\r\n`: RESP2's null string (RESP3 encodes it as `_`).
    NullBulk,
    /// `*-1\r\n`: RESP2's null array (RESP3 encodes it as `_`).
    NullArray,
    /// `_\r\n`: RESP3's null (RESP2 encodes it as a null string).
    Null,
    /// `#t\r\n` or `#f\r\n`.
    Boolean(bool),
    /// `,3.14\r\n`, also `inf`, `-inf` and `nan`.
    Double(f64),
    /// `(12345678901234567890\r\n`: an integer of any size, as its decimal text.
    BigNumber(Bytes),
    /// `!21\r\nSYNTAX invalid syntax\r\n`: an error that may hold any bytes.
    BulkError(Bytes),
    /// `=15\r\ntxt:Some string\r\n`: text with a three-byte format hint (`txt`, `mkd`).
    Verbatim {
        /// The format hint, such as `*b"txt"`.
        format: [u8; 3],
        /// The text after the colon.
        text: Bytes,
    },
    /// `%1\r\n+key\r\n:1\r\n`: key-value pairs in order.
    Map(Vec<(Frame, Frame)>),
    /// `~2\r\n...`: an unordered collection of distinct frames.
    Set(Vec<Frame>),
    /// `|1\r\n+ttl\r\n:3600\r\n` followed by the frame it describes: out-of-band metadata.
    Attribute {
        /// The metadata pairs.
        attributes: Vec<(Frame, Frame)>,
        /// The frame the metadata is about.
        data: Box<Frame>,
    },
    /// `>3\r\n...`: out-of-band data the server pushes (pub/sub messages, invalidations).
    Push(Vec<Frame>),
}

impl Frame {
    /// A simple status string, e.g. `Frame::simple("OK")`.
    pub fn simple(text: impl Into<Bytes>) -> Frame {
        Frame::Simple(text.into())
    }

    /// An error, e.g. `Frame::error("ERR syntax error")`.
    pub fn error(text: impl Into<Bytes>) -> Frame {
        Frame::Error(text.into())
    }

    /// A bulk string.
    pub fn bulk(data: impl Into<Bytes>) -> Frame {
        Frame::Bulk(data.into())
    }

    /// A request as clients send it: an array of bulk strings.
    pub fn command<I, A>(args: I) -> Frame
    where
        I: IntoIterator<Item = A>,
        A: Into<Bytes>,
    {
        Frame::Array(args.into_iter().map(|a| Frame::Bulk(a.into())).collect())
    }

    /// True for the error kinds, simple or bulk.
    pub fn is_error(&self) -> bool {
        matches!(self, Frame::Error(_) | Frame::BulkError(_))
    }

    /// True for any of the three nulls.
    pub fn is_null(&self) -> bool {
        matches!(self, Frame::Null | Frame::NullBulk | Frame::NullArray)
    }
}

/// Structural equality, except that a NaN double equals a NaN double: the protocol carries
/// `nan` as a value, and a decoded `nan` must compare equal to the one that was encoded.
impl PartialEq for Frame {
    fn eq(&self, other: &Frame) -> bool {
        use Frame::*;
        match (self, other) {
            (Simple(a), Simple(b))
            | (Error(a), Error(b))
            | (Bulk(a), Bulk(b))
            | (BigNumber(a), BigNumber(b))
            | (BulkError(a), BulkError(b)) => a == b,
            (Integer(a), Integer(b)) => a == b,
            (Boolean(a), Boolean(b)) => a == b,
            (Double(a), Double(b)) => a == b || (a.is_nan() && b.is_nan()),
            (Array(a), Array(b)) | (Set(a), Set(b)) | (Push(a), Push(b)) => a == b,
            (Map(a), Map(b)) => a == b,
            (NullBulk, NullBulk) | (NullArray, NullArray) | (Null, Null) => true,
            (
                Verbatim {
                    format: f1,
                    text: t1,
                },
                Verbatim {
                    format: f2,
                    text: t2,
                },
            ) => f1 == f2 && t1 == t2,
            (
                Attribute {
                    attributes: a1,
                    data: d1,
                },
                Attribute {
                    attributes: a2,
                    data: d2,
                },
            ) => a1 == a2 && d1 == d2,
            _ => false,
        }
    }
}

impl From<&'static str> for Frame {
    /// A bulk string from a literal.
    fn from(s: &'static str) -> Frame {
        Frame::Bulk(Bytes::from_static(s.as_bytes()))
    }
}

impl From<i64> for Frame {
    fn from(n: i64) -> Frame {
        Frame::Integer(n)
    }
}
