//! `kv-server [config-file] [--name value ...]`: started like redis-server.

use std::process::ExitCode;

/// Counts allocated bytes for INFO's `used_memory` and `maxmemory` eviction.
#[global_allocator]
static ALLOCATOR: kv_server::memory::CountingAllocator = kv_server::memory::CountingAllocator;

fn main() -> ExitCode {
    kv_server::memory::mark_installed();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if matches!(args.first().map(String::as_str), Some("-v" | "--version")) {
        println!("kv-server v={}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    if let Some("--check-snapshot") = args.first().map(String::as_str) {
        return match args.get(1..) {
            Some([file]) => kv_server::persistence::check_snapshot_file(file),
            _ => {
                eprintln!("Usage: kv-server --check-snapshot <file>");
                ExitCode::FAILURE
            }
        };
    }
    if let Some("--check-aof") = args.first().map(String::as_str) {
        return match args.get(1..).unwrap_or_default() {
            [file] => kv_server::persistence::check_aof_file(file, false),
            [fix, file] | [file, fix] if fix == "--fix" => {
                kv_server::persistence::check_aof_file(file, true)
            }
            _ => {
                eprintln!("Usage: kv-server --check-aof [--fix] <file.manifest|file.aof>");
                ExitCode::FAILURE
            }
        };
    }
    let config = match kv_server::Config::from_args(&args) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("*** FATAL CONFIG ERROR ***\n{e}");
            return ExitCode::FAILURE;
        }
    };
    match kv_server::run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kv-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}
