//! kv-cli binary (filled in by the cli issue).
fn main() {}
