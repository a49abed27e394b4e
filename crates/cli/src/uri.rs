//! `-u redis://user:password@host:port/db`, read as redis-cli 7.0's `parseRedisUri` reads it.
//!
//! The reading is literal, as redis-cli's is: the first `@` ends the user information, the
//! first `:` before it ends the user name, the first `:` after it starts the port (even past a
//! `/`), the first `/` starts the database; numbers are read with C's `atoi`; the user name
//! and password are percent-decoded. No IPv6 brackets, no query parameters.

use std::fmt;

use crate::cnum::atoi;

/// What a URI sets; `None` leaves the option as it was.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RedisUri {
    /// The ACL user name, when the user information has a `:`.
    pub user: Option<Vec<u8>>,
    /// The password, when there is user information (`@`).
    pub password: Option<Vec<u8>>,
    /// The host name.
    pub host: Option<String>,
    /// The port, as `atoi` read it (not range-checked, as in redis-cli 7.0).
    pub port: Option<i32>,
    /// The database number.
    pub db: Option<i32>,
}

/// Why a URI was refused, with redis-cli's message (kv-cli's own for `rediss://`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UriError {
    /// Neither `redis://` nor `rediss://`.
    InvalidScheme,
    /// `rediss://`: TLS, which kv-cli does not have yet.
    TlsUnsupported,
    /// A `%` without two characters after it.
    IncompleteEncoding,
    /// A `%` followed by something other than two hexadecimal digits.
    IllegalEncoding,
}

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UriError::InvalidScheme => "Invalid URI scheme",
            UriError::TlsUnsupported => {
                "rediss:// (TLS) is not supported: kv-cli has no TLS support yet"
            }
            UriError::IncompleteEncoding => "Incomplete URI encoding",
            UriError::IllegalEncoding => "Illegal character in URI encoding",
        })
    }
}

impl std::error::Error for UriError {}

/// Parses `uri` as redis-cli does.
pub fn parse(uri: &[u8]) -> Result<RedisUri, UriError> {
    /// The scheme kv-cli speaks.
    const SCHEME: &[u8] = b"redis://";
    /// The TLS scheme, refused until kv-cli has TLS.
    const TLS_SCHEME: &[u8] = b"rediss://";
    let starts_with = |prefix: &[u8]| {
        uri.len() >= prefix.len() && uri[..prefix.len()].eq_ignore_ascii_case(prefix)
    };
    if starts_with(TLS_SCHEME) {
        return Err(UriError::TlsUnsupported);
    }
    if !starts_with(SCHEME) {
        return Err(UriError::InvalidScheme);
    }
    let mut parsed = RedisUri::default();
    let mut curr = SCHEME.len();
    let end = uri.len();
    let find = |from: usize, byte: u8| {
        uri[from..]
            .iter()
            .position(|&b| b == byte)
            .map(|i| from + i)
    };
    if curr == end {
        return Ok(parsed);
    }

    // User information.
    if let Some(at) = find(curr, b'@') {
        if let Some(colon) = find(curr, b':').filter(|&colon| colon < at) {
            parsed.user = Some(percent_decode(uri, curr, colon)?);
            curr = colon + 1;
        }
        parsed.password = Some(percent_decode(uri, curr, at)?);
        curr = at + 1;
    }
    if curr == end {
        return Ok(parsed);
    }

    // Host and port.
    let path = find(curr, b'/');
    if uri[curr] != b'/' {
        let mut host_end = path.unwrap_or(end);
        if let Some(colon) = find(curr, b':') {
            parsed.port = Some(atoi(&uri[colon + 1..]));
            host_end = colon;
        }
        parsed.host = Some(String::from_utf8_lossy(&uri[curr..host_end.max(curr)]).into_owned());
    }
    curr = path.map_or(end, |p| p + 1);
    if curr == end {
        return Ok(parsed);
    }

    // Database.
    parsed.db = Some(atoi(&uri[curr..]));
    Ok(parsed)
}

/// Percent-decodes `uri[start..end]`. As in redis-cli, the two digits after a `%` are read
/// from the whole URI, so a `%` near the end of the range looks past it.
fn percent_decode(uri: &[u8], start: usize, end: usize) -> Result<Vec<u8>, UriError> {
    let mut out = Vec::with_capacity(end - start);
    let mut i = start;
    while i < end {
        if uri[i] == b'%' {
            if end - i < 2 {
                return Err(UriError::IncompleteEncoding);
            }
            let digit = |at: usize| {
                uri.get(at)
                    .map(u8::to_ascii_lowercase)
                    .and_then(|c| char::from(c).to_digit(16))
            };
            let (Some(high), Some(low)) = (digit(i + 1), digit(i + 2)) else {
                return Err(UriError::IllegalEncoding);
            };
            // Two hex digits make at most 255.
            out.push((high * 16 + low) as u8);
            i += 3;
        } else {
            out.push(uri[i]);
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(text: &str) -> RedisUri {
        parse(text.as_bytes()).unwrap()
    }

    fn some(text: &str) -> Option<Vec<u8>> {
        Some(text.as_bytes().to_vec())
    }

    #[test]
    fn the_usual_forms() {
        assert_eq!(uri("redis://"), RedisUri::default());
        assert_eq!(
            uri("redis://127.0.0.1:6380"),
            RedisUri {
                host: Some("127.0.0.1".into()),
                port: Some(6380),
                ..RedisUri::default()
            }
        );
        assert_eq!(
            uri("redis://:pw@localhost:6380/3"),
            RedisUri {
                user: some(""),
                password: some("pw"),
                host: Some("localhost".into()),
                port: Some(6380),
                db: Some(3),
            }
        );
        assert_eq!(
            uri("redis://pw@h"),
            RedisUri {
                password: some("pw"),
                host: Some("h".into()),
                ..RedisUri::default()
            }
        );
        assert_eq!(uri("redis://h:1/").db, None);
        assert_eq!(uri("redis:///4").host, None);
        assert_eq!(uri("redis:///4").db, Some(4));
        // The scheme is case-insensitive.
        assert_eq!(uri("REDIS://h").host.as_deref(), Some("h"));
    }

    #[test]
    fn percent_decoding() {
        let u = uri("redis://us%65r:p%41%4a@h");
        assert_eq!((u.user, u.password), (some("user"), some("pAJ")));
        assert_eq!(uri("redis://%ff@h").password, Some(vec![0xff]));
        assert_eq!(parse(b"redis://p%@h"), Err(UriError::IncompleteEncoding));
        assert_eq!(parse(b"redis://p%zz@h"), Err(UriError::IllegalEncoding));
        // The second digit is read past the password: '@' is no hex digit.
        assert_eq!(parse(b"redis://p%4@h"), Err(UriError::IllegalEncoding));
    }

    #[test]
    fn literal_reading_as_redis_cli() {
        // Each case checked against redis-cli 7.0's connection attempt.
        let u = uri("redis://127.0.0.1/1:16379");
        assert_eq!(
            (u.host.as_deref(), u.port, u.db),
            (Some("127.0.0.1/1"), Some(16379), Some(1))
        );
        let u = uri("redis://[::1]:16379");
        assert_eq!((u.host.as_deref(), u.port), (Some("["), Some(0)));
        let u = uri("redis://a@b@h:1");
        assert_eq!((u.password, u.host.as_deref()), (some("a"), Some("b@h")));
        let u = uri("redis://u:p:q@h");
        assert_eq!((u.user, u.password), (some("u"), some("p:q")));
        assert_eq!(uri("redis://h:16379?db=1").port, Some(16379));
        assert_eq!(uri("redis://h:abc").port, Some(0));
        assert_eq!(uri("redis://h:99999").port, Some(99999));
        assert_eq!(uri("redis://h/abc").db, Some(0));
        assert_eq!(uri("redis://:6380").host.as_deref(), Some(""));
    }

    #[test]
    fn refused_schemes() {
        assert_eq!(parse(b"http://h"), Err(UriError::InvalidScheme));
        assert_eq!(parse(b"redis:/h"), Err(UriError::InvalidScheme));
        assert_eq!(parse(b"rediss://h:6380"), Err(UriError::TlsUnsupported));
        assert_eq!(parse(b"REDISS://h"), Err(UriError::TlsUnsupported));
        assert!(UriError::TlsUnsupported.to_string().contains("TLS"));
    }
}
