//! The locked door: with a token configured (`PROCMAN_TOKEN`, or `--token-file`), every request
//! to either listener must carry `Authorization: Bearer <token>`; others get a 401 JSON answer.
//! The probes `/healthz` and `/readyz` are the exception (`probes`: they say live or ready, and
//! the details only with the token). The comparison takes the same time wherever the first
//! difference is.

use std::path::Path;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The secret every request must present.
#[derive(Clone)]
pub struct Token(Arc<[u8]>);

impl Token {
    /// The token from `--token-file` (its first line), else from `PROCMAN_TOKEN`; `None` if
    /// neither is set. An empty token is an error naming where it came from.
    pub fn load(file: Option<&Path>) -> Result<Option<Token>, String> {
        let (value, source) = match file {
            Some(path) => (
                std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read --token-file {}: {e}", path.display()))?,
                format!("--token-file {}", path.display()),
            ),
            None => match std::env::var("PROCMAN_TOKEN") {
                Ok(v) => (v, "PROCMAN_TOKEN".to_string()),
                Err(_) => return Ok(None),
            },
        };
        let token = value.lines().next().unwrap_or("").trim();
        if token.len() < 16 {
            return Err(format!(
                "invalid token in {source}: expected at least 16 characters"
            ));
        }
        Ok(Some(Token(Arc::from(token.as_bytes()))))
    }

    /// Whether `header` (an `Authorization` value) is `Bearer <this token>`.
    pub fn accepts(&self, header: Option<&HeaderValue>) -> bool {
        let given = header
            .and_then(|h| h.as_bytes().strip_prefix(b"Bearer "))
            .unwrap_or(b"");
        constant_time_eq(given, &self.0)
    }
}

/// Equal contents, compared without an early exit (the length is not secret).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The caller a front end names in `x-user-id` (1 to 64 visible ASCII characters; anything else
/// is ignored) becomes the request's `user_id`, on every log line and span of the request.
/// procman does not authenticate it: it is whatever the caller's gateway says. With a token,
/// only a request that passed the check gets one (a refused caller cannot put a name of its
/// choice on the refusal); without one, the HTTP layer copies the header itself
/// ([`crate::api::router`]).
fn record_caller(req: &Request) {
    if let Some(user) = req
        .headers()
        .get(crate::api::X_USER_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| (1..=64).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_graphic()))
    {
        watchpost::context::set("user_id", user);
    }
}

/// The middleware: 401 unless the request carries the token.
pub async fn require(State(token): State<Token>, req: Request, next: Next) -> Response {
    if token.accepts(req.headers().get(header::AUTHORIZATION)) {
        record_caller(&req);
        return next.run(req).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::WWW_AUTHENTICATE, "Bearer"),
        ],
        r#"{"error":"unauthorized","message":"send Authorization: Bearer <token> (PROCMAN_TOKEN)"}"#,
    )
        .into_response()
}

/// Adds the token check to `router` when a token is configured.
pub fn protect(router: axum::Router, token: Option<&Token>) -> axum::Router {
    match token {
        Some(t) => router.layer(axum::middleware::from_fn_with_state(t.clone(), require)),
        None => router,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_bearer_token_is_accepted() {
        let t = Token(Arc::from(&b"0123456789abcdef"[..]));
        let ok = HeaderValue::from_static("Bearer 0123456789abcdef");
        assert!(t.accepts(Some(&ok)));
        for bad in [
            "Bearer 0123456789abcdeF",
            "Bearer 0123456789abcde",
            "0123456789abcdef",
            "Bearer ",
        ] {
            assert!(!t.accepts(Some(&HeaderValue::from_static(bad))), "{bad}");
        }
        assert!(!t.accepts(None));
    }
}
