//! `kv-cli`: a command-line client for kv and any Redis-compatible server.
//!
//! Today: redis-cli's one-shot mode (`kv-cli -p 6380 SET a b`) and reading commands from
//! standard input, one per line, with redis-cli's quoting. Replies print as redis-cli prints
//! them: human-readable on a terminal, raw when the output is piped.

mod format;

use std::io::{BufRead, IsTerminal, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use bytes::BytesMut;
use kv_resp::{encode, Frame, FrameDecoder, Protocol};

/// Options from the command line, named as redis-cli names them.
#[derive(Debug)]
struct Options {
    host: String,
    port: u16,
    password: Option<String>,
    db: i64,
    resp3: bool,
    raw: Option<bool>,
    command: Vec<String>,
}

fn parse_options(args: &[String]) -> Result<Options> {
    let mut options = Options {
        host: "127.0.0.1".into(),
        port: 6379,
        password: None,
        db: 0,
        resp3: false,
        raw: None,
        command: Vec::new(),
    };
    let mut i = 0;
    while i < args.len() {
        let value = |i: usize| {
            args.get(i + 1)
                .cloned()
                .with_context(|| format!("{} needs a value", args[i]))
        };
        match args[i].as_str() {
            "-h" => options.host = value(i)?,
            "-p" => options.port = value(i)?.parse().context("invalid port")?,
            "-a" | "--pass" => options.password = Some(value(i)?),
            "-n" => options.db = value(i)?.parse().context("invalid database number")?,
            "-2" => {
                options.resp3 = false;
                i += 1;
                continue;
            }
            "-3" => {
                options.resp3 = true;
                i += 1;
                continue;
            }
            "--raw" => {
                options.raw = Some(true);
                i += 1;
                continue;
            }
            "--no-raw" => {
                options.raw = Some(false);
                i += 1;
                continue;
            }
            "--help" => {
                println!("Usage: kv-cli [-h host] [-p port] [-a password] [-n db] [-2|-3] [--raw|--no-raw] [cmd [arg ...]]");
                std::process::exit(0);
            }
            other if other.starts_with('-') && options.command.is_empty() => {
                bail!("unrecognized option '{other}'")
            }
            _ => {
                options.command = args[i..].to_vec();
                break;
            }
        }
        i += 2;
    }
    Ok(options)
}

/// A connection that sends commands and reads whole reply frames.
struct Client {
    stream: TcpStream,
    decoder: FrameDecoder,
    buf: BytesMut,
}

impl Client {
    fn connect(options: &Options) -> Result<Client> {
        let stream =
            TcpStream::connect((options.host.as_str(), options.port)).with_context(|| {
                format!(
                    "Could not connect to kv at {}:{}",
                    options.host, options.port
                )
            })?;
        let mut client = Client {
            stream,
            decoder: FrameDecoder::default(),
            buf: BytesMut::with_capacity(16 * 1024),
        };
        if let Some(password) = &options.password {
            client.expect_ok(&["AUTH".into(), password.clone()])?;
        }
        if options.resp3 {
            let reply = client.call(&["HELLO".into(), "3".into()])?;
            if reply.is_error() {
                bail!("HELLO 3 failed: {}", format::raw(&reply));
            }
        }
        if options.db != 0 {
            client.expect_ok(&["SELECT".into(), options.db.to_string()])?;
        }
        Ok(client)
    }

    fn expect_ok(&mut self, command: &[String]) -> Result<()> {
        let reply = self.call(command)?;
        if reply.is_error() {
            bail!("{}", format::raw(&reply));
        }
        Ok(())
    }

    fn call(&mut self, command: &[String]) -> Result<Frame> {
        let mut out = BytesMut::new();
        encode::encode(
            &Frame::command(command.iter().map(|a| a.clone().into_bytes())),
            Protocol::Resp2,
            &mut out,
        );
        self.stream.write_all(&out)?;
        self.read()
    }

    fn read(&mut self) -> Result<Frame> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if let Some(frame) = self.decoder.decode(&mut self.buf)? {
                return Ok(frame);
            }
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                bail!("Server closed the connection");
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<ExitCode> {
    let options = parse_options(args)?;
    let raw = options.raw.unwrap_or(!std::io::stdout().is_terminal());
    let mut client = Client::connect(&options)?;
    let mut stdout = std::io::stdout().lock();
    let run_one = |client: &mut Client, command: &[String], stdout: &mut dyn Write| -> Result<()> {
        let reply = client.call(command)?;
        let text = if raw {
            format::raw(&reply)
        } else {
            format::tty(&reply)
        };
        writeln!(stdout, "{text}")?;
        Ok(())
    };
    if !options.command.is_empty() {
        run_one(&mut client, &options.command, &mut stdout)?;
    } else {
        for line in std::io::stdin().lock().lines() {
            let line = line?;
            let words =
                kv_resp::split_inline(line.as_bytes()).map_err(|e| anyhow::anyhow!("{e}"))?;
            if words.is_empty() {
                continue;
            }
            let command: Vec<String> = words
                .iter()
                .map(|w| String::from_utf8_lossy(w).into_owned())
                .collect();
            run_one(&mut client, &command, &mut stdout)?;
        }
    }
    // Like redis-cli 7.0: an error reply is still a successful run; only failing to talk to
    // the server is not.
    Ok(ExitCode::SUCCESS)
}
