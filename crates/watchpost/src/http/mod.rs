//! HTTP instrumentation: [`HttpLayer`] for servers (axum / tower).
//!
//! Map the layer's target `watchpost::http` to your API subsystem, or rely on the request span's
//! `subsystem` field (default `API`, see [`HttpLayer::subsystem`]).

mod server;

pub use server::{HttpLayer, HttpService, UNMATCHED};
