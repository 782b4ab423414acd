//! Throughput of the checks. (Stub: being written.)
fn main() {}
