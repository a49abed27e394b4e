//! Sends one command to a Redis-compatible server and prints the reply frame.
//!
//! ```text
//! cargo run -p kv-resp --example command -- 127.0.0.1:6379 SET greeting hello
//! cargo run -p kv-resp --example command -- 127.0.0.1:6379 HELLO 3
//! ```
//!
//! Plain blocking `std::net`, to show the codec needs no async runtime.

use std::io::{Read, Write};
use std::net::TcpStream;

use bytes::BytesMut;
use kv_resp::{encode, Frame, FrameDecoder, Protocol};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let address = args.next().unwrap_or_else(|| "127.0.0.1:6379".to_string());
    let command: Vec<String> = args.collect();
    let command = if command.is_empty() {
        vec!["PING".to_string()]
    } else {
        command
    };

    let mut stream = TcpStream::connect(&address)?;
    let mut out = BytesMut::new();
    encode::encode(&Frame::command(command), Protocol::Resp2, &mut out);
    stream.write_all(&out)?;

    let mut decoder = FrameDecoder::default();
    let mut buf = BytesMut::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(frame) = decoder.decode(&mut buf)? {
            println!("{frame:#?}");
            return Ok(());
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err("connection closed before a whole reply arrived".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}
