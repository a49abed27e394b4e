//! The command line, read as redis-cli 7.0's `parseOptions` reads it.
//!
//! Options come first, each matched exactly; the first argument that does not start with `-`
//! begins the command. An option that needs a value but comes last, or any unknown option, is
//! refused with redis-cli's message. Numbers are read with C's conversions (see [`crate::cnum`]),
//! so `-p abc` is port 0 and `-r 2x` repeats twice, as in redis-cli.
//!
//! Supported: `-h -p -s -a --user --pass --askpass -u -n -2 -3 --no-auth-warning -r -i -x -X
//! -d -D -e --raw --no-raw --csv --json --quoted-json --quoted-input --show-pushes --help
//! --version`, and the special modes' options, read by [`crate::modes::special`] (`--pipe`,
//! `--scan`, `--bigkeys`, `--latency`, `--stat`, ...). redis-cli's other options (`-c`,
//! `--eval`, `--rdb`, ...) are refused as unknown until kv-cli has them.

use std::fmt;
use std::path::PathBuf;

use crate::cnum::{atof, atoi, strtoll};
use crate::format::OutputMode;
use crate::modes::special::{self, ModeOptions};
use crate::uri;

/// Whether the connection switches to RESP3 (`HELLO 3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resp3 {
    /// Stay on RESP2.
    Off,
    /// `-3`: HELLO 3 must succeed.
    Explicit,
    /// Implied by `--json`/`--quoted-json`: a failing HELLO 3 is only reported.
    Implicit,
}

/// Everything the command line sets, with redis-cli's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// `-h`: the host (127.0.0.1).
    pub host: String,
    /// `-p`: the port (6379), as `atoi` read it: not range-checked, as in redis-cli 7.0.
    pub port: i32,
    /// `-s`: a Unix socket, which takes the place of host and port.
    pub socket: Option<PathBuf>,
    /// `--user`: the ACL user for `AUTH user password`.
    pub user: Option<Vec<u8>>,
    /// `-a`/`--pass` (or a URI's): the password.
    pub password: Option<Vec<u8>>,
    /// `--askpass`: read the password from standard input instead.
    pub askpass: bool,
    /// `--no-auth-warning`: no warning about a password on the command line.
    pub no_auth_warning: bool,
    /// `-n`: the database to SELECT after connecting.
    pub db: i32,
    /// `-2`: RESP2 asked for explicitly (beats `--json`'s implied RESP3).
    pub resp2: bool,
    /// `-3` or implied by `--json`.
    pub resp3: Resp3,
    /// `-r`: how many times to run the command; negative is forever.
    pub repeat: i64,
    /// `-i`: the pause after each run, in microseconds (`seconds * 1e6` truncated, as redis-cli).
    pub interval_micros: i64,
    /// `-x`: the command's last argument is read from standard input.
    pub stdin_last_arg: bool,
    /// `-X tag`: the argument equal to `tag` is replaced by standard input.
    pub stdin_tag: Option<Vec<u8>>,
    /// The output mode chosen by a flag; `None`: by whether stdout is a terminal.
    pub output: Option<OutputMode>,
    /// `-d`: between an aggregate's elements in raw output.
    pub bulk_delimiter: Vec<u8>,
    /// `-D`: after each reply in raw output.
    pub reply_delimiter: Vec<u8>,
    /// `-e`: an error reply ends the one-shot run with exit status 1.
    pub exit_on_error: bool,
    /// `--quoted-input`: each command argument is one quoted string to unquote.
    pub quoted_input: bool,
    /// `--show-pushes`: whether to print RESP3 pushes; `None`: when stdout is a terminal.
    pub show_pushes: Option<bool>,
    /// The special modes' options (`--scan`, `--pipe`, `--latency`, ...).
    pub modes: ModeOptions,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            host: "127.0.0.1".into(),
            port: 6379,
            socket: None,
            user: None,
            password: None,
            askpass: false,
            no_auth_warning: false,
            db: 0,
            resp2: false,
            resp3: Resp3::Off,
            repeat: 1,
            interval_micros: 0,
            stdin_last_arg: false,
            stdin_tag: None,
            output: None,
            bulk_delimiter: b"\n".to_vec(),
            reply_delimiter: b"\n".to_vec(),
            exit_on_error: false,
            quoted_input: false,
            show_pushes: None,
            modes: ModeOptions::default(),
        }
    }
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Connect and run `command` (empty: read commands from standard input).
    Run {
        /// The options.
        options: Box<Options>,
        /// The command and its arguments.
        command: Vec<Vec<u8>>,
    },
    /// `--help`, or `-h` without a value: print the usage and exit 0.
    Help,
    /// `--version`/`-v`: print the version and exit 0.
    Version,
}

/// A command line redis-cli would refuse, with its message; the exit status is 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// The outcome of reading the command line: the warnings redis-cli prints on stderr while
/// reading it (printed whatever follows), then the action or the error.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// Lines for stderr, in order.
    pub warnings: Vec<String>,
    /// What to do.
    pub action: Result<Action, UsageError>,
}

/// The warning printed when a password is given with `-a`, `--pass` or `-u`.
pub const AUTH_WARNING: &str =
    "Warning: Using a password with '-a' or '-u' option on the command line interface may not be safe.";

/// Reads the arguments after the program name.
pub fn parse(args: &[Vec<u8>]) -> Parsed {
    let mut warnings = Vec::new();
    let action = parse_into(args, &mut warnings);
    Parsed { warnings, action }
}

/// [`parse`]'s work: the options in order, then the checks redis-cli makes after them.
fn parse_into(args: &[Vec<u8>], warnings: &mut Vec<String>) -> Result<Action, UsageError> {
    let mut o = Options::default();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_slice();
        let has_value = i + 1 < args.len();
        let value = args.get(i + 1).map(Vec::as_slice).unwrap_or_default();
        let text = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
        // Options that take a value consume it only when there is one.
        let mut took_value = has_value;
        if let Some(step) =
            special::parse_option(arg, args.get(i + 1).map(Vec::as_slice), &mut o.modes)
        {
            i += step.map_err(UsageError)?;
            continue;
        }
        match arg {
            b"-h" if has_value => o.host = text(value),
            b"-h" | b"--help" => return Ok(Action::Help),
            b"-v" | b"--version" => return Ok(Action::Version),
            b"-x" => {
                o.stdin_last_arg = true;
                took_value = false;
            }
            b"-X" if has_value => o.stdin_tag = Some(value.to_vec()),
            b"-p" if has_value => o.port = atoi(value),
            b"-s" if has_value => o.socket = Some(path(value)),
            b"-r" if has_value => o.repeat = strtoll(value),
            b"-i" if has_value => o.interval_micros = (atof(value) * 1_000_000.0) as i64,
            b"-n" if has_value => o.db = atoi(value),
            b"-a" | b"--pass" if has_value => o.password = Some(value.to_vec()),
            b"--user" if has_value => o.user = Some(value.to_vec()),
            b"-u" if has_value => {
                let parsed = uri::parse(value).map_err(|e| UsageError(e.to_string()))?;
                o.user = parsed.user.or(o.user);
                o.password = parsed.password.or(o.password);
                o.host = parsed.host.unwrap_or(o.host);
                o.port = parsed.port.unwrap_or(o.port);
                o.db = parsed.db.unwrap_or(o.db);
            }
            b"-d" if has_value => o.bulk_delimiter = value.to_vec(),
            b"-D" if has_value => o.reply_delimiter = value.to_vec(),
            b"--show-pushes" if has_value => {
                if value.first().is_some_and(|c| c.eq_ignore_ascii_case(&b'n')) {
                    o.show_pushes = Some(false);
                } else if value.first().is_some_and(|c| c.eq_ignore_ascii_case(&b'y')) {
                    o.show_pushes = Some(true);
                } else {
                    warnings.push(format!(
                        "Unknown --show-pushes value '{}' (valid: '[y]es', '[n]o')",
                        text(value)
                    ));
                }
            }
            _ => {
                took_value = false;
                match arg {
                    b"--no-auth-warning" => o.no_auth_warning = true,
                    b"--askpass" => o.askpass = true,
                    b"--raw" => o.output = Some(OutputMode::Raw),
                    b"--no-raw" => o.output = Some(OutputMode::Standard),
                    b"--csv" => o.output = Some(OutputMode::Csv),
                    b"--json" | b"--quoted-json" => {
                        // Not to overwrite an explicit -3.
                        if o.resp3 == Resp3::Off {
                            o.resp3 = Resp3::Implicit;
                        }
                        o.output = Some(if arg == b"--json" {
                            OutputMode::Json
                        } else {
                            OutputMode::QuotedJson
                        });
                    }
                    b"--quoted-input" => o.quoted_input = true,
                    b"-e" => o.exit_on_error = true,
                    b"-2" => o.resp2 = true,
                    b"-3" => o.resp3 = Resp3::Explicit,
                    _ if arg.first() == Some(&b'-') => {
                        return Err(UsageError(format!(
                            "Unrecognized option or bad number of args for: '{}'",
                            text(arg)
                        )));
                    }
                    // The command starts here.
                    _ => break,
                }
            }
        }
        i += if took_value { 2 } else { 1 };
    }

    if o.resp2 && o.resp3 == Resp3::Explicit {
        return Err(UsageError(
            "Options -2 and -3 are mutually exclusive.".into(),
        ));
    }
    if !o.no_auth_warning && o.password.is_some() {
        warnings.push(AUTH_WARNING.into());
    }
    if o.stdin_last_arg && o.stdin_tag.is_some() {
        return Err(UsageError(
            "Options -x and -X are mutually exclusive.".into(),
        ));
    }
    Ok(Action::Run {
        options: Box::new(o),
        command: args[i.min(args.len())..].to_vec(),
    })
}

/// A path from an argument's bytes.
fn path(bytes: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
}

/// kv-cli's `--help` text, laid out as redis-cli's for the options kv-cli has.
pub fn usage() -> String {
    format!(
        "kv-cli {version}

Usage: kv-cli [OPTIONS] [cmd [arg [arg ...]]]
  -h <hostname>      Server hostname (default: 127.0.0.1).
  -p <port>          Server port (default: 6379).
  -s <socket>        Server socket (overrides hostname and port).
  -a <password>      Password to use when connecting to the server.
                     You can also use the REDISCLI_AUTH environment
                     variable to pass this password more safely
                     (if both are used, this argument takes precedence).
  --user <username>  Used to send ACL style 'AUTH username pass'. Needs -a.
  --pass <password>  Alias of -a for consistency with the new --user option.
  --askpass          Force user to input password with mask from STDIN.
                     If this argument is used, '-a' and REDISCLI_AUTH
                     environment variable will be ignored.
  -u <uri>           Server URI (redis://[[user]:password@]host[:port][/db]).
  -r <repeat>        Execute specified command N times (negative: forever).
  -i <interval>      When -r is used, waits <interval> seconds per command.
                     It is possible to specify sub-second times like -i 0.1.
  -n <db>            Database number.
  -2                 Start session in RESP2 protocol mode.
  -3                 Start session in RESP3 protocol mode.
  -x                 Read last argument from STDIN.
  -X <tag>           Read <tag> argument from STDIN.
  -d <delimiter>     Delimiter between response bulks for raw formatting (default: \\n).
  -D <delimiter>     Delimiter between responses for raw formatting (default: \\n).
  -e                 Return exit error code when command execution fails.
  --raw              Use raw formatting for replies (default when STDOUT is
                     not a tty).
  --no-raw           Force formatted output even when STDOUT is not a tty.
  --quoted-input     Force input to be handled as quoted strings.
  --csv              Output in CSV format.
  --json             Output in JSON format (default RESP3, use -2 if you want to use with RESP2).
  --quoted-json      Same as --json, but produce ASCII-safe quoted strings, not Unicode.
  --show-pushes <yn> Whether to print RESP3 PUSH messages.  Enabled by default when
                     STDOUT is a tty but can be overridden with --show-pushes no.
  --stat             Print rolling stats about server: mem, clients, ...
  --latency          Enter a special mode continuously sampling latency.
                     If you use this mode in an interactive session it runs
                     forever displaying real-time stats. Otherwise if --raw or
                     --csv is specified, or if you redirect the output to a non
                     TTY, it samples the latency for 1 second (you can use
                     -i to change the interval), then produces a single output
                     and exits.
  --latency-history  Like --latency but tracking latency changes over time.
                     Default time interval is 15 sec. Change it using -i.
  --latency-dist     Shows latency as a spectrum, requires xterm 256 colors.
                     Default time interval is 1 sec. Change it using -i.
  --mono             With --latency-dist, shades of grey instead of colors.
  --pipe             Transfer raw Redis protocol from stdin to server.
  --pipe-timeout <n> In --pipe mode, abort with error if after sending all data.
                     no reply is received within <n> seconds.
                     Default timeout: 30. Use 0 to wait forever.
  --bigkeys          Sample Redis keys looking for keys with many elements (complexity).
  --memkeys          Sample Redis keys looking for keys consuming a lot of memory.
  --memkeys-samples <n> Sample Redis keys looking for keys consuming a lot of memory.
                     And define number of key elements to sample
  --scan             List all keys using the SCAN command.
  --pattern <pat>    Keys pattern when using the --scan, --bigkeys or --memkeys
                     options (default: *).
  --quoted-pattern <pat> Same as --pattern, but the specified string can be
                         quoted, in order to pass an otherwise non binary-safe string.
  --count <count>    Count option when using the --scan, --bigkeys or --memkeys (SCAN's
                     COUNT; the server's default when not given).
  --type <type>      Only keys of this type (SCAN's TYPE), with --scan, --bigkeys
                     or --memkeys.
  --intrinsic-latency <sec> Run a test to measure intrinsic system latency.
                     The test will run for the specified amount of seconds.
  --no-auth-warning  Don't show warning message when using password on command
                     line interface.
  --help             Output this help and exit.
  --version          Output version and exit.

Examples:
  cat /etc/passwd | kv-cli -x set mypasswd
  kv-cli -r 100 lpush mylist x
  kv-cli -r 100 -i 1 info | grep used_memory_human:
  kv-cli --quoted-input set '\"null-\\x00-separated\"' value
  kv-cli --scan --pattern '*:12345*'
  kv-cli bench -t set,get -n 100000 -c 50 -P 16

When no command is given, kv-cli reads commands from standard input, one per line.
`kv-cli bench --help` describes the load generator.
",
        version = env!("CARGO_PKG_VERSION")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &[&str]) -> Vec<Vec<u8>> {
        line.iter().map(|a| a.as_bytes().to_vec()).collect()
    }

    fn run(line: &[&str]) -> (Options, Vec<Vec<u8>>) {
        match parse(&args(line)).action {
            Ok(Action::Run { options, command }) => (*options, command),
            other => panic!("{line:?}: {other:?}"),
        }
    }

    fn refused(line: &[&str]) -> String {
        match parse(&args(line)).action {
            Err(UsageError(message)) => message,
            other => panic!("{line:?} should be refused: {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let (o, command) = run(&[]);
        assert_eq!(o, Options::default());
        assert_eq!(
            (o.host.as_str(), o.port, o.db, o.repeat),
            ("127.0.0.1", 6379, 0, 1)
        );
        assert!(command.is_empty());
    }

    #[test]
    fn connection_options() {
        let (o, command) = run(&[
            "-h", "example", "-p", "6380", "-n", "2", "--user", "bob", "-a", "secret", "GET", "k",
        ]);
        assert_eq!((o.host.as_str(), o.port, o.db), ("example", 6380, 2));
        assert_eq!(o.user.as_deref(), Some(&b"bob"[..]));
        assert_eq!(o.password.as_deref(), Some(&b"secret"[..]));
        assert_eq!(command, args(&["GET", "k"]));
        assert_eq!(run(&["--pass", "p"]).0.password.as_deref(), Some(&b"p"[..]));
        assert_eq!(
            run(&["-s", "/tmp/kv.sock"]).0.socket,
            Some(PathBuf::from("/tmp/kv.sock"))
        );
        assert!(run(&["--askpass"]).0.askpass);
    }

    #[test]
    fn numbers_read_as_c_does() {
        assert_eq!(run(&["-p", "abc"]).0.port, 0);
        assert_eq!(run(&["-p", "99999"]).0.port, 99999);
        assert_eq!(run(&["-n", "abc"]).0.db, 0);
        assert_eq!(run(&["-r", "2x"]).0.repeat, 2);
        assert_eq!(run(&["-r", "-1"]).0.repeat, -1);
        assert_eq!(run(&["-r", "abc"]).0.repeat, 0);
        assert_eq!(run(&["-i", "0.1"]).0.interval_micros, 100_000);
        assert_eq!(run(&["-i", "1.5"]).0.interval_micros, 1_500_000);
        assert_eq!(run(&["-i", "abc"]).0.interval_micros, 0);
    }

    #[test]
    fn uri_sets_what_it_names_and_later_options_win() {
        let (o, _) = run(&["-u", "redis://u:p@h:1/3"]);
        assert_eq!(
            (o.user.as_deref(), o.password.as_deref()),
            (Some(&b"u"[..]), Some(&b"p"[..]))
        );
        assert_eq!((o.host.as_str(), o.port, o.db), ("h", 1, 3));
        let (o, _) = run(&["-u", "redis://u:p@h:1/3", "-a", "zz", "-n", "4"]);
        assert_eq!(o.password.as_deref(), Some(&b"zz"[..]));
        assert_eq!((o.user.as_deref(), o.db), (Some(&b"u"[..]), 4));
        let (o, _) = run(&["-p", "7", "-u", "redis://h"]);
        assert_eq!((o.host.as_str(), o.port), ("h", 7));
        assert_eq!(refused(&["-u", "http://h"]), "Invalid URI scheme");
        assert!(refused(&["-u", "rediss://h"]).contains("TLS"));
        assert_eq!(refused(&["-u", "redis://p%@h"]), "Incomplete URI encoding");
    }

    #[test]
    fn output_modes() {
        assert_eq!(run(&[]).0.output, None);
        assert_eq!(run(&["--raw"]).0.output, Some(OutputMode::Raw));
        assert_eq!(run(&["--no-raw"]).0.output, Some(OutputMode::Standard));
        assert_eq!(run(&["--raw", "--csv"]).0.output, Some(OutputMode::Csv));
        let (o, _) = run(&["--json"]);
        assert_eq!(
            (o.output, o.resp3),
            (Some(OutputMode::Json), Resp3::Implicit)
        );
        let (o, _) = run(&["-3", "--quoted-json"]);
        assert_eq!(
            (o.output, o.resp3),
            (Some(OutputMode::QuotedJson), Resp3::Explicit)
        );
        let (o, _) = run(&["--json", "-2"]);
        assert!(o.resp2);
        let (o, _) = run(&["-d", ",", "-D", "|"]);
        assert_eq!(
            (o.bulk_delimiter, o.reply_delimiter),
            (b",".to_vec(), b"|".to_vec())
        );
        assert_eq!(run(&["--show-pushes", "no"]).0.show_pushes, Some(false));
        assert_eq!(run(&["--show-pushes", "Yes"]).0.show_pushes, Some(true));
        let parsed = parse(&args(&["--show-pushes", "maybe", "PING"]));
        assert_eq!(
            parsed.warnings,
            ["Unknown --show-pushes value 'maybe' (valid: '[y]es', '[n]o')"]
        );
        assert!(parsed.action.is_ok());
    }

    #[test]
    fn stdin_and_error_flags() {
        let (o, command) = run(&["-x", "SET", "k"]);
        assert!(o.stdin_last_arg);
        assert_eq!(command, args(&["SET", "k"]));
        assert_eq!(
            run(&["-X", "tag", "ECHO", "tag"]).0.stdin_tag,
            Some(b"tag".to_vec())
        );
        assert!(run(&["-e"]).0.exit_on_error);
        assert!(run(&["--quoted-input"]).0.quoted_input);
        assert_eq!(
            refused(&["-x", "-X", "t"]),
            "Options -x and -X are mutually exclusive."
        );
    }

    #[test]
    fn the_command_starts_at_the_first_non_option() {
        let (_, command) = run(&["SET", "-p", "--raw"]);
        assert_eq!(command, args(&["SET", "-p", "--raw"]));
    }

    #[test]
    fn refusals_as_redis_cli() {
        assert_eq!(
            refused(&["--bogus"]),
            "Unrecognized option or bad number of args for: '--bogus'"
        );
        // A value-taking option as the last argument.
        assert_eq!(
            refused(&["-p"]),
            "Unrecognized option or bad number of args for: '-p'"
        );
        assert_eq!(
            refused(&["-a"]),
            "Unrecognized option or bad number of args for: '-a'"
        );
        assert_eq!(
            refused(&["-3", "-2"]),
            "Options -2 and -3 are mutually exclusive."
        );
        assert_eq!(
            refused(&["-2", "-3"]),
            "Options -2 and -3 are mutually exclusive."
        );
        // Not yet in kv-cli: refused as unknown rather than half-done.
        assert!(refused(&["--eval", "x.lua", "--ldb"]).starts_with("Unrecognized option"));
        assert!(refused(&["--hotkeys"]).starts_with("Unrecognized option"));
        // A mode option lacking its value is unknown, as in redis-cli.
        assert_eq!(
            refused(&["--scan", "--pattern"]),
            "Unrecognized option or bad number of args for: '--pattern'"
        );
        assert_eq!(
            refused(&["--quoted-pattern", "\"a"]),
            "Invalid quoted string specified for --quoted-pattern."
        );
    }

    #[test]
    fn mode_options() {
        let (o, command) = run(&["--scan", "--pattern", "a*", "-i", "0.5", "KEYS"]);
        assert!(o.modes.scan);
        assert_eq!(o.modes.pattern.as_deref(), Some(&b"a*"[..]));
        assert_eq!(o.interval_micros, 500_000);
        assert_eq!(command, args(&["KEYS"]));
        let (o, _) = run(&["--latency-history", "--raw", "--pipe-timeout", "3"]);
        assert!(o.modes.latency_history && o.modes.pipe_timeout == 3);
        assert_eq!(o.output, Some(OutputMode::Raw));
    }

    #[test]
    fn help_and_version() {
        assert_eq!(parse(&args(&["--help"])).action, Ok(Action::Help));
        // -h without a host is a request for help, as in redis-cli.
        assert_eq!(parse(&args(&["-p", "1", "-h"])).action, Ok(Action::Help));
        assert_eq!(parse(&args(&["--version"])).action, Ok(Action::Version));
        assert_eq!(parse(&args(&["-v"])).action, Ok(Action::Version));
        assert!(usage().contains("--no-auth-warning"));
    }

    #[test]
    fn auth_warning() {
        for line in [
            &["-a", "p"][..],
            &["--pass", "p"],
            &["-u", "redis://p@h"],
            &["-u", "redis://:@h"],
        ] {
            assert_eq!(parse(&args(line)).warnings, [AUTH_WARNING], "{line:?}");
        }
        for line in [
            &["-a", "p", "--no-auth-warning"][..],
            &["--no-auth-warning", "-u", "redis://p@h"],
            &["--user", "u"],
            &["--askpass"],
            &["-u", "redis://h"],
        ] {
            assert!(parse(&args(line)).warnings.is_empty(), "{line:?}");
        }
    }
}
