//! HTTP instrumentation: [`HttpLayer`] for servers (axum / tower), [`HttpClientLayer`] for
//! outgoing requests (any tower HTTP client).
//!
//! Map the layer's target `watchpost::http` to your API subsystem, or rely on the request span's
//! `subsystem` field (default `API`, see [`HttpLayer::subsystem`]). The access line itself has
//! the target `watchpost::http::access`, so it can be silenced on its own
//! (`RUST_LOG`-style target levels are not needed: a subsystem mapped to that target works).

mod addr;
#[cfg(feature = "otlp")]
#[doc(hidden)]
pub mod bench;
mod client;
#[cfg(feature = "reqwest")]
mod reqwest;
mod series;
mod server;
#[cfg(test)]
mod staged_tests;

pub use client::{HttpClientLayer, HttpClientService, MAX_HOSTS};
#[cfg(feature = "reqwest")]
pub use reqwest::ReqwestMiddleware;
pub use server::{HttpLayer, HttpService, UNMATCHED};
