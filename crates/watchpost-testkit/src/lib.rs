//! Test support shared by the workspace's tests (a dev-dependency of every crate), and the demo
//! programs `logdemo` and `otlpdemo` that this crate's end-to-end tests drive.
//!
//! Nothing here depends on `watchpost`'s types, so `watchpost`'s own tests can use it too (a
//! dev-dependency cycle) without mixing two builds of the library.
//!
//! * [`capture`]: log lines captured from an in-memory writer, and JSON-line parsing;
//! * [`process`]: child processes with a clean environment, their output as lines, their
//!   listeners, a graceful stop, and their `/metrics`;
//! * [`demo`]: drivers for `logdemo` and `otlpdemo` (given their paths);
//! * [`http`]: a minimal HTTP/1.1 GET over a real socket;
//! * [`otlp`]: a real OTLP receiver (gRPC or HTTP/protobuf) that counts or collects what it
//!   receives, with each request's headers;
//! * [`prometheus`]: a real Prometheus server, queried over its API;
//! * [`source`]: a crate's own source files and their code without comments (shape tests);
//! * [`tools`]: external tools (`promtool`, `prometheus`), temporary directories, generated
//!   README sections;
//! * [`webdriver`]: headless Chromium over WebDriver (pages loaded, DOM read, screenshots).

#![warn(missing_docs)]

pub mod bad;
pub mod capture;
pub mod demo;
pub mod http;
pub mod otlp;
pub mod process;
pub mod prometheus;
pub mod source;
pub mod tools;
pub mod webdriver;
