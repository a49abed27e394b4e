//! `kv-cli bench`'s command line: redis-benchmark's main options, with kv-cli's connection
//! options (`kv-cli -p 6380 bench ...`) as defaults that `-h`, `-p`, `-s`, `-a`, `--user` and
//! `--dbnum` override.
//!
//! Unlike redis-benchmark, a value that is not a number is refused rather than read as 0.

use std::path::PathBuf;

use crate::bench::client::Login;
use crate::bench::workload::{self, Test};
use crate::connection::Target;
use crate::options::Options;

/// A benchmark run, as the command line describes it.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the server is.
    pub target: Target,
    /// How the clients log in.
    pub login: Login,
    /// `-c`: parallel clients (50).
    pub clients: usize,
    /// `--threads`: event loops (threads) the clients are spread over (1).
    pub threads: usize,
    /// `-n`: requests per test (100000).
    pub requests: u64,
    /// `-P`: requests sent at once by a client (1).
    pub pipeline: u64,
    /// `-r`: the range of the random numbers replacing `__rand_int__` (none: not replaced).
    pub keyspace: Option<u64>,
    /// The tests to run (`-t`), each with its command.
    pub tests: Vec<Test>,
    /// `-d`: the size of SET/LPUSH/... values in bytes (3).
    pub data_size: usize,
    /// `-q`: one line per test.
    pub quiet: bool,
    /// `--csv`: CSV instead of the report.
    pub csv: bool,
}

/// What the command line asks for.
#[derive(Debug, Clone)]
pub enum Parsed {
    /// Run the tests.
    Run(Box<Config>),
    /// `--help`: print the usage.
    Help,
}

/// Reads `kv-cli bench`'s arguments (those after `bench`), starting from kv-cli's `options`.
pub fn parse(options: &Options, args: &[Vec<u8>]) -> Result<Parsed, String> {
    let mut target = match &options.socket {
        Some(path) => Target::Unix(path.clone()),
        None => Target::Tcp {
            host: options.host.clone(),
            port: options.port,
        },
    };
    let mut login = Login {
        user: options.user.clone(),
        password: options.password.clone(),
        db: i64::from(options.db),
    };
    let (mut clients, mut requests, mut pipeline, mut data_size) =
        (50usize, 100_000u64, 1u64, 3usize);
    let (mut keyspace, mut tests, mut quiet, mut csv) = (None, None, false, false);
    let mut threads = 1usize;
    let mut i = 0;
    while i < args.len() {
        let arg = String::from_utf8_lossy(&args[i]).into_owned();
        let value = || -> Result<String, String> {
            args.get(i + 1)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .ok_or_else(|| format!("Option {arg} needs a value"))
        };
        let number = |text: String| -> Result<u64, String> {
            text.trim()
                .parse::<u64>()
                .map_err(|_| format!("Invalid value for {arg}: '{text}'"))
        };
        let mut takes_value = true;
        match arg.as_str() {
            "-h" => {
                let port = match &target {
                    Target::Tcp { port, .. } => *port,
                    Target::Unix(_) => 6379,
                };
                target = Target::Tcp {
                    host: value()?,
                    port,
                };
            }
            "-p" => {
                let port = number(value()?)?;
                let port = i32::try_from(port).map_err(|_| format!("Invalid port {port}"))?;
                let host = match &target {
                    Target::Tcp { host, .. } => host.clone(),
                    Target::Unix(_) => "127.0.0.1".into(),
                };
                target = Target::Tcp { host, port };
            }
            "-s" => target = Target::Unix(PathBuf::from(value()?)),
            "-a" => login.password = Some(value()?.into_bytes()),
            "--user" => login.user = Some(value()?.into_bytes()),
            "--dbnum" => login.db = number(value()?)? as i64,
            "-c" => clients = number(value()?)? as usize,
            "--threads" => threads = number(value()?)? as usize,
            "-n" => requests = number(value()?)?,
            "-P" => pipeline = number(value()?)?,
            "-d" => data_size = number(value()?)? as usize,
            "-r" => keyspace = Some(number(value()?)?),
            "-t" => tests = Some(value()?),
            "-q" => {
                quiet = true;
                takes_value = false;
            }
            "--csv" => {
                csv = true;
                takes_value = false;
            }
            "--help" => return Ok(Parsed::Help),
            _ => {
                return Err(format!(
                    "Unrecognized option or bad number of args for: '{arg}'"
                ))
            }
        }
        i += if takes_value { 2 } else { 1 };
    }
    if clients == 0 {
        return Err("Invalid value for -c: at least one client is needed".into());
    }
    if threads == 0 {
        return Err("Invalid value for --threads: at least one thread is needed".into());
    }
    if pipeline == 0 {
        return Err("Invalid value for -P: at least one request per batch is needed".into());
    }
    let keyspace = keyspace.filter(|&k| k > 0);
    let tests = workload::select(tests.as_deref(), data_size, keyspace.is_some())
        .map_err(|e| e.to_string())?;
    Ok(Parsed::Run(Box::new(Config {
        target,
        login,
        clients,
        threads,
        requests,
        pipeline,
        keyspace,
        tests,
        data_size,
        quiet,
        csv,
    })))
}

/// `kv-cli bench --help`.
pub fn usage() -> &'static str {
    "Usage: kv-cli [-h <host>] [-p <port>] bench [OPTIONS]

A load generator with redis-benchmark's main options. For each test it prints the
throughput, the latency percentiles (p50, p99, p99.9) and a latency histogram.

  -h <hostname>      Server hostname (default 127.0.0.1)
  -p <port>          Server port (default 6379)
  -s <socket>        Server socket (overrides host and port)
  -a <password>      Password for Redis Auth
  --user <username>  Used to send ACL style 'AUTH username pass'. Needs -a.
  --dbnum <db>       SELECT the specified db number (default 0)
  -c <clients>       Number of parallel connections (default 50)
  -n <requests>      Total number of requests (default 100000)
  -d <size>          Data size of SET/GET value in bytes (default 3)
  -P <numreq>        Pipeline <numreq> requests. Default 1 (no pipeline).
  --threads <num>    Spread the clients over <num> event loops (threads). Default 1.
  -r <keyspacelen>   Use random keys for SET/GET/INCR, random values for SADD,
                     random members and scores for ZADD.
                     Using this option the benchmark will expand the string
                     __rand_int__ inside an argument with a 12 digits number in
                     the specified range from 0 to keyspacelen-1. The
                     substitution changes every time a command is executed.
  -t <tests>         Only run the comma separated list of tests. The test
                     names are the same as the ones produced as output:
                     ping, ping_inline, ping_mbulk, set, get, incr, lpush, rpush,
                     lpop, rpop, sadd, hset, spop, zadd, zpopmin, lrange (lrange_100,
                     lrange_300, lrange_500, lrange_600), mset, xadd.
                     Without -t, every test but xadd.
  -q                 Quiet. Just show query/sec values and latency percentiles
  --csv              Output in CSV format
  --help             Output this help and exit.

A live progress line is shown on stderr when it is a terminal. The exit status is 1
when a client could not connect or a reply was an error.

Examples:
  kv-cli bench -t set,get -n 100000 -c 50 -q
  kv-cli -p 6380 bench -t set -r 1000000 -d 100 -P 16
"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &[&str]) -> Vec<Vec<u8>> {
        line.iter().map(|a| a.as_bytes().to_vec()).collect()
    }

    fn config(line: &[&str]) -> Config {
        match parse(&Options::default(), &args(line)) {
            Ok(Parsed::Run(config)) => *config,
            other => panic!("{line:?}: {other:?}"),
        }
    }

    #[test]
    fn defaults_as_redis_benchmark() {
        let c = config(&[]);
        assert_eq!(
            (c.clients, c.requests, c.pipeline, c.data_size),
            (50, 100_000, 1, 3)
        );
        assert_eq!(
            (c.keyspace, c.quiet, c.csv, c.threads),
            (None, false, false, 1)
        );
        assert_eq!(c.tests.len(), 19);
        assert_eq!(
            c.target,
            Target::Tcp {
                host: "127.0.0.1".into(),
                port: 6379
            }
        );
    }

    #[test]
    fn options() {
        let c = config(&[
            "-h", "example", "-p", "6380", "-c", "4", "-n", "2000", "-P", "16", "-d", "100", "-r",
            "1000", "-t", "set,get", "-q", "--csv", "-a", "pw", "--user", "u", "--dbnum", "3",
        ]);
        assert_eq!(
            c.target,
            Target::Tcp {
                host: "example".into(),
                port: 6380
            }
        );
        assert_eq!(
            (c.clients, c.requests, c.pipeline, c.data_size),
            (4, 2000, 16, 100)
        );
        assert_eq!((c.keyspace, c.quiet, c.csv), (Some(1000), true, true));
        assert_eq!(c.tests.len(), 2);
        assert_eq!(c.login.password.as_deref(), Some(&b"pw"[..]));
        assert_eq!((c.login.user.as_deref(), c.login.db), (Some(&b"u"[..]), 3));
        assert_eq!(config(&["-r", "0"]).keyspace, None);
        assert!(matches!(config(&["-s", "/tmp/s"]).target, Target::Unix(_)));
        assert_eq!(config(&["--threads", "4"]).threads, 4);
    }

    #[test]
    fn kv_cli_options_are_the_defaults() {
        let options = Options {
            port: 7000,
            db: 2,
            password: Some(b"secret".to_vec()),
            ..Options::default()
        };
        let Ok(Parsed::Run(c)) = parse(&options, &[]) else {
            panic!("not parsed");
        };
        assert_eq!(
            c.target,
            Target::Tcp {
                host: "127.0.0.1".into(),
                port: 7000
            }
        );
        assert_eq!(
            (c.login.db, c.login.password.as_deref()),
            (2, Some(&b"secret"[..]))
        );
    }

    #[test]
    fn refusals() {
        let refused = |line: &[&str]| parse(&Options::default(), &args(line)).unwrap_err();
        assert_eq!(refused(&["-c", "x"]), "Invalid value for -c: 'x'");
        assert_eq!(refused(&["-n"]), "Option -n needs a value");
        assert!(refused(&["-c", "0"]).contains("at least one client"));
        assert!(refused(&["-P", "0"]).contains("at least one request"));
        assert!(refused(&["--threads", "0"]).contains("at least one thread"));
        assert!(refused(&["-t", "nope"]).starts_with("Unknown test 'nope'"));
        assert!(refused(&["--bogus"]).starts_with("Unrecognized option"));
        assert!(matches!(
            parse(&Options::default(), &args(&["--help"])),
            Ok(Parsed::Help)
        ));
    }
}
