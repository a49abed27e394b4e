//! The PUBLISH fan-out benchmark: one publisher, [`SUBSCRIBERS`] subscribers on one channel,
//! messages delivered per second, kv against Redis.
//!
//! The server runs pinned to core 0 (as in the rest of `cargo xtask bench`); the subscribers
//! are a second xtask process (`cargo xtask fanout-subscribers`, not listed in the help) pinned
//! to core 1 with the publisher, `redis-benchmark -c 1 -P 16 PUBLISH ...`, so the load never
//! competes with the server. The subscriber process connects and subscribes every client, says
//! `ready`, and times from the first message any client receives to the last message the last
//! client receives.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

/// Subscribed clients.
pub const SUBSCRIBERS: usize = 100;
/// Messages published per run.
pub const MESSAGES: usize = 20_000;
/// The channel.
const CHANNEL: &str = "fanout";
/// The payload: 32 bytes, as the rest of the benchmark's values.
const PAYLOAD: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

/// The bytes of one message as a RESP2 subscriber reads it.
fn message_len() -> usize {
    format!(
        "*3\r\n$7\r\nmessage\r\n${}\r\n{CHANNEL}\r\n${}\r\n{PAYLOAD}\r\n",
        CHANNEL.len(),
        PAYLOAD.len()
    )
    .len()
}

/// Measures one run against the server on `port`: messages delivered per second, over all
/// subscribers.
pub fn measure(port: u16) -> Result<f64> {
    let exe = std::env::current_exe().context("cannot find the xtask binary")?;
    let mut subscribers = Command::new("taskset")
        .args(["-c", "1"])
        .arg(exe)
        .args(["fanout-subscribers", &port.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot start the subscriber process")?;
    let stdout = subscribers.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    match lines.next() {
        Some(Ok(line)) if line == "ready" => {}
        other => bail!("the subscriber process did not get ready: {other:?}"),
    }
    let publisher = Command::new("taskset")
        .args(["-c", "1", "redis-benchmark", "-p", &port.to_string()])
        .args(["-c", "1", "-P", "16", "-n", &MESSAGES.to_string(), "-q"])
        .args(["PUBLISH", CHANNEL, PAYLOAD])
        .stdout(Stdio::null())
        .status()
        .context("cannot run redis-benchmark")?;
    ensure!(publisher.success(), "redis-benchmark failed");
    let result = lines
        .next()
        .context("the subscriber process printed no result")??;
    ensure!(
        subscribers.wait()?.success(),
        "the subscriber process failed"
    );
    let seconds: f64 = result
        .parse()
        .with_context(|| format!("not a duration: {result}"))?;
    Ok((SUBSCRIBERS * MESSAGES) as f64 / seconds)
}

/// The subscriber process: subscribes [`SUBSCRIBERS`] clients on `port`, prints `ready`, then
/// prints the seconds from the first message received to the last.
pub fn subscribers(port: &str) -> Result<()> {
    let port: u16 = port.parse().context("not a port")?;
    let mut streams = Vec::new();
    for _ in 0..SUBSCRIBERS {
        let mut stream = TcpStream::connect(("127.0.0.1", port))?;
        let request = format!(
            "*2\r\n$9\r\nSUBSCRIBE\r\n${}\r\n{CHANNEL}\r\n",
            CHANNEL.len()
        );
        stream.write_all(request.as_bytes())?;
        let confirmation = format!(
            "*3\r\n$9\r\nsubscribe\r\n${}\r\n{CHANNEL}\r\n:1\r\n",
            CHANNEL.len()
        );
        let mut buf = vec![0u8; confirmation.len()];
        stream.read_exact(&mut buf)?;
        ensure!(buf == confirmation.as_bytes(), "unexpected SUBSCRIBE reply");
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        streams.push(stream);
    }
    println!("ready");
    std::io::stdout().flush()?;
    let expected = MESSAGES * message_len();
    let readers: Vec<_> = streams
        .into_iter()
        .map(|mut stream| {
            std::thread::spawn(move || -> Result<(Instant, Instant)> {
                let mut chunk = vec![0u8; 256 * 1024];
                let mut got = 0;
                let mut first = None;
                while got < expected {
                    let n = stream.read(&mut chunk)?;
                    ensure!(n > 0, "the server closed a subscriber");
                    first.get_or_insert_with(Instant::now);
                    got += n;
                }
                Ok((first.unwrap_or_else(Instant::now), Instant::now()))
            })
        })
        .collect();
    let mut first: Option<Instant> = None;
    let mut last: Option<Instant> = None;
    for reader in readers {
        let (start, end) = match reader.join() {
            Ok(result) => result?,
            Err(_) => bail!("a subscriber thread panicked"),
        };
        first = Some(first.map_or(start, |f| f.min(start)));
        last = Some(last.map_or(end, |l| l.max(end)));
    }
    let (Some(first), Some(last)) = (first, last) else {
        bail!("no subscriber");
    };
    println!("{}", last.duration_since(first).as_secs_f64());
    Ok(())
}
