//! Values and messages longer than the limit are cut on a character boundary and marked; the line
//! stays valid JSON.
use watchpost_testkit::capture::Capture;

#[test]
fn oversized_values_are_truncated_with_a_marker() {
    let capture = Capture::default();
    let config = watchpost::Config::builder("svc")
        .max_field_bytes(100)
        .build()
        .unwrap();
    let (_t, dispatch) = watchpost::Telemetry::builder(config)
        .writer(capture.clone())
        .into_dispatch();
    let big = "é".repeat(1000); // 2000 bytes, 2-byte characters
    let debug_big = vec![7u8; 500];
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info!(big = %big, list = ?debug_big, small = "ok", "{}", big);
    });
    let lines = capture.json();
    assert_eq!(lines.len(), 1);
    let l = &lines[0];
    let marker = watchpost::logs::TRUNCATED_MARKER;
    for key in ["big", "list", "msg"] {
        let v = l[key].as_str().unwrap();
        assert!(v.ends_with(marker), "{key}: {v}");
        assert!(v.len() <= 100 + marker.len(), "{key} is {} bytes", v.len());
    }
    assert_eq!(
        l["big"].as_str().unwrap().trim_end_matches(marker),
        "é".repeat(50)
    );
    assert_eq!(l["small"], "ok");
}
