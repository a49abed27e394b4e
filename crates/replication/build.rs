//! Generates the gRPC messages and service of `proto/replication.proto`, compiling the .proto
//! with protox (a protobuf compiler in Rust), so building needs no protoc installed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/replication.proto");
    let descriptors = protox::compile(["replication.proto"], ["proto"])?;
    tonic_build::configure()
        .build_client(true)
        .build_server(true)
        // `bytes` fields as `Bytes`: a snapshot chunk shared by several links is not copied.
        .bytes(["."])
        .compile_fds(descriptors)?;
    Ok(())
}
