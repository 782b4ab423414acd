//! `main() -> Result<(), Box<dyn Error>>` prints the error's `Debug`: for a Watchpost error
//! that is its message and hint (which setting, which address, what to do), not
//! `Error { kind: Listen { … } }`. Run through `examples/axum_service.rs` with its metrics
//! address taken.

use watchpost_testkit::process::{command, example, Process};

#[test]
fn a_program_that_cannot_start_prints_the_errors_message() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let mut cmd = command(example(env!("CARGO_MANIFEST_DIR"), "axum_service"));
    cmd.env("LISTEN_ADDR", "127.0.0.1:0")
        .env("METRICS_LISTEN", &address)
        .env(
            "DATA_DIR",
            std::env::temp_dir().join("watchpost-axum-service-taken"),
        );
    let mut program = Process::spawn(&mut cmd, "axum_service");
    assert_eq!(program.wait(), 1, "main returned the error");
    let stderr: Vec<String> = program.stderr.iter().collect();
    let printed = stderr.join("\n");
    let expected = format!("Error: cannot listen on {address} (METRICS_LISTEN): ");
    assert!(printed.starts_with(&expected), "{printed}");
    assert!(
        printed.ends_with("; choose a free address and port"),
        "{printed}"
    );
    assert!(!printed.contains("kind"), "{printed}");
    drop(taken);
}
