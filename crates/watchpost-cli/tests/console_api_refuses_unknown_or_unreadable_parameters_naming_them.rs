//! The real `watchpost console`'s API answers 400 to a query parameter it does not know or cannot
//! read, with a JSON body naming the parameter and what is allowed; the pages say the same.

#[path = "support/console.rs"]
mod support;

use support::*;

#[test]
fn console_api_refuses_unknown_or_unreadable_parameters_naming_them() {
    let console = start(&[]);
    for (path, parameter, allowed) in [
        ("/api/traces?colour=red", "colour", "min_duration"),
        ("/api/errors?bogus=1", "bogus", "allowed: none"),
        ("/api/stats?bogus=1", "bogus", "allowed: none"),
        ("/api/logs?live=1", "live", "allowed: service"),
        ("/api/traces?min_duration=soon", "min_duration", "250ms"),
        ("/api/traces?errors=maybe", "errors", "true, false"),
        ("/api/traces?limit=0", "limit", "1 to 1000"),
        ("/api/logs?level=loud", "level", "warn"),
        (
            "/api/logs?trace_id=abc",
            "trace_id",
            "32 hexadecimal digits",
        ),
        ("/api/logs?attr=instance_id", "attr", "KEY=VALUE"),
        (
            "/api/metrics?name=nothing_total",
            "name",
            "/api/metrics lists",
        ),
        (
            "/api/traces/not-a-trace",
            "trace_id",
            "32 hexadecimal digits",
        ),
    ] {
        let (status, body) = console.get(path);
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["parameter"], parameter, "{path}: {body}");
        let error = body["error"].as_str().unwrap();
        assert!(error.contains(allowed), "{path}: {error}");
    }
    // A trace id that is well formed but unknown is not a bad request.
    let (status, _) = console.get(&format!("/api/traces/{}", hex(&trace_id(9))));
    assert_eq!(status, 404);
    let (status, body) = console.get(&format!("/api/traces/{}?bogus=1", hex(&trace_id(9))));
    assert_eq!(
        (status, &body["parameter"]),
        (400, &"bogus".into()),
        "{body}"
    );
    // The pages refuse the same way, escaping what they echo.
    let (status, _, _) = watchpost_testkit::http::get(console.ui, "/errors?bogus=1", None);
    assert_eq!(status, 400);
    // The logs page has its own `live` (its script reloads it).
    let (status, _, _) = watchpost_testkit::http::get(console.ui, "/logs?live=1", None);
    assert_eq!(status, 200);
    let (status, _, page) = watchpost_testkit::http::get(console.ui, "/logs?level=%3Cb%3E", None);
    assert_eq!(status, 400);
    assert!(
        page.contains("&#39;&lt;b&gt;&#39; is not a level"),
        "{page}"
    );
}
