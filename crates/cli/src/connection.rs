//! One connection to a server, over TCP or a Unix socket: connecting as hiredis does, sending
//! commands, reading replies. Like a hiredis context, a connection that failed stays failed
//! and keeps saying why.

use std::fmt;
use std::io::{self, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use bytes::BytesMut;
use kv_resp::{encode, Frame, Protocol};

use crate::reply::{read_reply, ReadError, Reply};

/// Where to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A host name or address and a port (as given: redis-cli does not range-check it).
    Tcp {
        /// The host.
        host: String,
        /// The port.
        port: i32,
    },
    /// A Unix socket.
    Unix(PathBuf),
}

impl fmt::Display for Target {
    /// As redis-cli names it in "Could not connect to Redis at ...".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Tcp { host, port } => write!(f, "{host}:{port}"),
            Target::Unix(path) => write!(f, "{}", path.display()),
        }
    }
}

/// The byte stream under a connection.
#[derive(Debug)]
pub enum Stream {
    /// A TCP socket.
    Tcp(TcpStream),
    /// A Unix socket.
    Unix(UnixStream),
}

impl Stream {
    /// A second handle on the same socket, for a thread that writes while another reads
    /// (`--pipe`).
    pub fn try_clone(&self) -> io::Result<Stream> {
        match self {
            Stream::Tcp(s) => s.try_clone().map(Stream::Tcp),
            Stream::Unix(s) => s.try_clone().map(Stream::Unix),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Unix(s) => s.flush(),
        }
    }
}

/// A connection: commands out, replies in.
#[derive(Debug)]
pub struct Connection {
    stream: BufReader<Stream>,
    /// The error that broke the connection, if one did (hiredis's `context->err`).
    error: Option<ConnectionError>,
}

/// Why a connection stopped working, kept for every later call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionError {
    /// A socket error; the `io::ErrorKind` tells resets from the rest.
    Io(io::ErrorKind, String),
    /// The server closed the connection.
    Eof,
    /// The server sent something that is not RESP.
    Protocol(String),
}

impl ConnectionError {
    /// The text redis-cli prints after "Error: ".
    pub fn errstr(&self) -> &str {
        match self {
            ConnectionError::Io(_, text) | ConnectionError::Protocol(text) => text,
            ConnectionError::Eof => "Server closed the connection",
        }
    }

    /// Whether reconnecting may help: the connection dropped (hiredis's `REDIS_ERR_IO` and
    /// `REDIS_ERR_EOF`), rather than the server speaking nonsense.
    pub fn is_dropped(&self) -> bool {
        !matches!(self, ConnectionError::Protocol(_))
    }
}

impl From<ReadError> for ConnectionError {
    fn from(e: ReadError) -> ConnectionError {
        match e {
            ReadError::Eof => ConnectionError::Eof,
            ReadError::Io(e) => ConnectionError::Io(e.kind(), strerror(&e)),
            ReadError::Protocol(text) => ConnectionError::Protocol(text),
        }
    }
}

impl Connection {
    /// Connects as hiredis does: IPv4 addresses first (IPv6 only when there is none), each
    /// tried in turn; the error is the text redis-cli prints after "Could not connect to Redis
    /// at ADDRESS: ".
    pub fn open(target: &Target) -> Result<Connection, String> {
        let stream = match target {
            Target::Tcp { host, port } => {
                let stream = connect_tcp(host, *port)?;
                // As hiredis: small requests go out at once.
                let _ = stream.set_nodelay(true);
                Stream::Tcp(stream)
            }
            Target::Unix(path) => {
                Stream::Unix(UnixStream::connect(path).map_err(|e| strerror(&e))?)
            }
        };
        Ok(Connection {
            stream: BufReader::with_capacity(16 * 1024, stream),
            error: None,
        })
    }

    /// A second handle on the connection's socket (see [`Stream::try_clone`]). Bytes already
    /// buffered for reading stay with this connection.
    pub fn try_clone_stream(&self) -> io::Result<Stream> {
        self.stream.get_ref().try_clone()
    }

    /// The error that broke this connection, if any.
    pub fn error(&self) -> Option<&ConnectionError> {
        self.error.as_ref()
    }

    /// Sends one command. A write error breaks the connection; the next read reports it.
    pub fn send(&mut self, args: &[Vec<u8>]) {
        if self.error.is_some() {
            return;
        }
        let mut out = BytesMut::new();
        encode::encode(
            &Frame::command(args.iter().cloned()),
            Protocol::Resp2,
            &mut out,
        );
        if let Err(e) = self.stream.get_mut().write_all(&out) {
            self.error = Some(ConnectionError::Io(e.kind(), strerror(&e)));
        }
    }

    /// Reads the next reply, push messages included.
    pub fn read(&mut self) -> Result<Reply, ConnectionError> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        read_reply(&mut self.stream).map_err(|e| {
            let error = ConnectionError::from(e);
            self.error = Some(error.clone());
            error
        })
    }
}

/// hiredis's TCP connect: the port is printed into a six-byte buffer (so at most five
/// characters of it count) and looked up as a service; a negative one is no service at all.
fn connect_tcp(host: &str, port: i32) -> Result<TcpStream, String> {
    let mut service = port.to_string();
    service.truncate(5);
    if service.starts_with('-') {
        return Err("Servname not supported for ai_socktype".into());
    }
    // A numeric service is taken modulo 2^16, as glibc's getaddrinfo does.
    let port = service.parse::<u32>().unwrap_or(0) as u16;
    let addresses: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| strerror(&e))?
        .collect();
    let ipv4: Vec<SocketAddr> = addresses
        .iter()
        .copied()
        .filter(SocketAddr::is_ipv4)
        .collect();
    let candidates = if ipv4.is_empty() { addresses } else { ipv4 };
    let mut last_error = "Name or service not known".to_string();
    for address in candidates {
        match TcpStream::connect(address) {
            Ok(stream) => return Ok(stream),
            Err(e) => last_error = strerror(&e),
        }
    }
    Err(last_error)
}

/// An I/O error as C's `strerror` (or `gai_strerror`) words it: Rust's text without its
/// " (os error N)" suffix or its name-lookup preamble.
pub fn strerror(e: &io::Error) -> String {
    let text = e.to_string();
    let text = text
        .strip_prefix("failed to lookup address information: ")
        .unwrap_or(&text);
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_string(),
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strerror_words_as_c() {
        let refused = io::Error::from_raw_os_error(111);
        assert_eq!(strerror(&refused), "Connection refused");
        let missing = io::Error::from_raw_os_error(2);
        assert_eq!(strerror(&missing), "No such file or directory");
    }

    #[test]
    fn targets_are_named_as_redis_cli_names_them() {
        let tcp = Target::Tcp {
            host: "127.0.0.1".into(),
            port: 1,
        };
        assert_eq!(tcp.to_string(), "127.0.0.1:1");
        assert_eq!(
            Target::Unix(PathBuf::from("/tmp/x.sock")).to_string(),
            "/tmp/x.sock"
        );
    }

    #[test]
    fn connection_errors_as_redis_cli_prints_them() {
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = free.local_addr().unwrap().port();
        drop(free);
        let target = Target::Tcp {
            host: "127.0.0.1".into(),
            port: i32::from(port),
        };
        assert_eq!(Connection::open(&target).unwrap_err(), "Connection refused");
        let negative = Target::Tcp {
            host: "127.0.0.1".into(),
            port: -5,
        };
        assert_eq!(
            Connection::open(&negative).unwrap_err(),
            "Servname not supported for ai_socktype"
        );
        let socket = Target::Unix(PathBuf::from("/nonexistent/kv-cli-test.sock"));
        assert_eq!(
            Connection::open(&socket).unwrap_err(),
            "No such file or directory"
        );
    }

    #[test]
    fn a_broken_connection_keeps_its_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let target = Target::Tcp {
            host: "127.0.0.1".into(),
            port: i32::from(listener.local_addr().unwrap().port()),
        };
        let mut conn = Connection::open(&target).unwrap();
        let (mut peer, _) = listener.accept().unwrap();
        peer.write_all(b"+OK\r\n").unwrap();
        drop(peer);
        conn.send(&[b"PING".to_vec()]);
        assert_eq!(conn.read().unwrap(), Reply::Status(b"OK".to_vec()));
        assert_eq!(conn.read().unwrap_err(), ConnectionError::Eof);
        assert_eq!(
            conn.error().map(ConnectionError::errstr),
            Some("Server closed the connection")
        );
        assert_eq!(conn.read().unwrap_err(), ConnectionError::Eof);
    }
}
