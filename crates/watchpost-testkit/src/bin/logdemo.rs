//! A tiny program that logs through Watchpost, driven by commands on stdin, for end-to-end tests
//! that parse a real process's stdout.
//!
//! Commands (one per line): `emit` (a request-shaped batch of events in every subsystem and
//! level), `inject` (a field value that tries to forge a second line), `secrets` (secret fields,
//! an e-mail address and a card number), `logcrate` (records of the `log` crate: INFO and DEBUG
//! on `logdemo::instances`, INFO and WARN on the noisy `hyper::client`), `level <SUBSYSTEM>
//! <level>` (runtime change), `exit <code>` (logs an ERROR and calls `std::process::exit` at
//! once, no shutdown), `quit`.
//! After each command it logs an ERROR line with msg `sync` on target `logdemo::sync`, and prints
//! `done <command>` on stderr, so a test knows every line of the command is out.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use watchpost::{Config, Subsystem};

mod api {
    pub fn handle_request() {
        let span = tracing::info_span!("request", method = "GET", path = "/instances/{id}");
        let _g = span.enter();
        tracing::debug!(headers = 3, "request received");
        super::instances::get("web-1");
        tracing::info!(status = 200, duration_ms = 1.5, "request handled");
    }
}

mod instances {
    pub fn get(id: &str) {
        let span = tracing::info_span!("get_instance", instance_id = id);
        let _g = span.enter();
        tracing::trace!(step = "lookup", "looking up the instance");
        tracing::debug!(found = true, "instance looked up");
        tracing::warn!(pid = 4242_i64, "instance is slow to answer");
    }
}

mod util {
    /// Not mapped by target: its subsystem comes from the span.
    pub fn shared_helper() {
        tracing::debug!("helper ran");
    }
}

fn main() -> ExitCode {
    let config = match Config::builder("logdemo")
        .service_version(env!("CARGO_PKG_VERSION"))
        .subsystem(Subsystem::new("API").target("logdemo::api"))
        .subsystem(Subsystem::new("INSTANCES").target("logdemo::instances"))
        .subsystem(Subsystem::new("EXEC"))
        .from_env()
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("logdemo: {e}");
            return ExitCode::from(2);
        }
    };
    let telemetry = match watchpost::init(config) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("logdemo: {e}");
            return ExitCode::from(2);
        }
    };
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["emit"] => {
                api::handle_request();
                let span = tracing::info_span!("exec_session", subsystem = "EXEC", exec_id = 7);
                let _g = span.enter();
                util::shared_helper();
            }
            ["inject"] => {
                tracing::info!(
                    name = "x\"\n{\"level\":\"ERROR\"}",
                    "created {}",
                    "\"\n{\"level\":\"ERROR\",\"msg\":\"forged\"}"
                );
            }
            ["secrets"] => {
                tracing::info!(
                    password = "hunter2",
                    api_key = "sk-live-123",
                    note = "mail bob@example.com",
                    "paid with card 4111 1111 1111 1111"
                );
            }
            ["logcrate"] => {
                log::info!(target: "logdemo::instances", "instance {} adopted", "web-2");
                log::debug!(target: "logdemo::instances", "adoption details");
                log::info!(target: "hyper::client", "pooling idle connection");
                log::warn!(target: "hyper::client", "connection reset");
            }
            ["level", sub, level] => {
                let result = watchpost::config::parse_level("level", level)
                    .and_then(|l| telemetry.set_level(sub, l));
                if let Err(e) = result {
                    eprintln!("logdemo: {e}");
                }
            }
            ["quit"] => break,
            ["exit", code] => {
                // Exit at once, without `shutdown`: the line must still come out.
                tracing::error!(target: "logdemo::api", "last words before exit");
                std::process::exit(code.parse().unwrap_or(1));
            }
            _ => eprintln!("logdemo: unknown command {line:?}"),
        }
        // A marker on both streams so a test knows everything of this command is out: ERROR is
        // enabled whatever the configured levels.
        tracing::error!(target: "logdemo::sync", command = %line, "sync");
        let _ = writeln!(std::io::stderr(), "done {line}");
    }
    let _ = telemetry.shutdown();
    ExitCode::SUCCESS
}
