//! This crate's demo programs, started through the drivers in `watchpost_testkit::demo` (only
//! integration tests know the programs' paths).
#![allow(dead_code)]

use watchpost_testkit::demo::{Demo, Service};

/// Spawns `logdemo` with `env` on top of a clean environment.
pub fn logdemo(env: &[(&str, &str)]) -> Demo {
    Demo::spawn(env!("CARGO_BIN_EXE_logdemo"), env)
}

/// Spawns `otlpdemo` with `env` on top of a clean environment.
pub fn otlpdemo(env: &[(&str, &str)]) -> Service {
    Service::spawn(env!("CARGO_BIN_EXE_otlpdemo"), env)
}

/// Spawns `otlpdemo` exporting to `receiver` with every trace kept (ratio 1), then `env`.
pub fn otlpdemo_exporting_to(receiver: std::net::SocketAddr, env: &[(&str, &str)]) -> Service {
    Service::spawn_exporting_to(env!("CARGO_BIN_EXE_otlpdemo"), receiver, env)
}
