//! Every line a real process writes is one JSON object whose keys start with time, level, msg,
//! subsystem, the standard fields service, version and environment, then `trace_id`/`span_id`
//! inside spans, followed by event then span fields.
mod support;

use watchpost_testkit::capture;

#[test]
fn every_line_is_json_with_the_standard_keys() {
    let mut demo = support::logdemo(&[("LOG_LEVEL", "debug"), ("ENV", "e2e")]);
    let raw = demo.run("emit");
    let (code, rest, _) = demo.finish();
    assert_eq!(code, 0);
    assert!(rest.is_empty(), "unexpected trailing output {rest:?}");
    let lines = capture::parse_all(&raw);
    assert_eq!(lines.len(), 5, "{raw:#?}");
    for (line, raw) in lines.iter().zip(&raw) {
        let keys: Vec<&str> = line.keys().map(String::as_str).collect();
        let standard = [
            "time",
            "level",
            "msg",
            "subsystem",
            "service",
            "version",
            "environment",
        ];
        assert_eq!(&keys[..7], standard, "{raw}");
        // Also on the raw text, independent of the parser.
        assert_eq!(capture::keys(raw)[..7], standard, "{raw}");
        // The standard fields: the service's name, version and environment (`ENV`).
        assert_eq!(line["service"], "logdemo", "{raw}");
        assert_eq!(line["version"], env!("CARGO_PKG_VERSION"), "{raw}");
        assert_eq!(line["environment"], "e2e", "{raw}");
        let time = line["time"].as_str().unwrap();
        assert_eq!(time.len(), 27, "{time}");
        assert!(time.ends_with('Z') && time.as_bytes()[10] == b'T' && time.as_bytes()[19] == b'.');
        // Every line here is inside a span, so it carries the span's ids, right after the
        // standard fields.
        assert_eq!(&keys[7..9], ["trace_id", "span_id"], "{raw}");
        let hex = |v: &serde_json::Value, n: usize| {
            let s = v.as_str().unwrap();
            s.len() == n
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        assert!(
            hex(&line["trace_id"], 32) && hex(&line["span_id"], 16),
            "{raw}"
        );
    }
    // One request is one trace; the exec session is another.
    let trace = |i: usize| lines[i]["trace_id"].as_str().unwrap().to_string();
    assert!((1..4).all(|i| trace(i) == trace(0)));
    assert_ne!(trace(4), trace(0));
    assert_ne!(
        lines[1]["span_id"], lines[0]["span_id"],
        "the inner span has its own id"
    );
    let summary = capture::msgs(&lines);
    assert_eq!(
        summary,
        [
            ("DEBUG", "API", "request received"),
            ("DEBUG", "INSTANCES", "instance looked up"),
            ("WARN", "INSTANCES", "instance is slow to answer"),
            ("INFO", "API", "request handled"),
            ("DEBUG", "EXEC", "helper ran"),
        ]
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    );
    // Types are kept; the event's own fields come first, then span fields innermost first.
    let warn = &lines[2];
    assert_eq!(warn["pid"], 4242);
    assert_eq!(warn["instance_id"], "web-1");
    assert_eq!(warn["path"], "/instances/{id}");
    let raw_warn = &raw[2];
    assert!(raw_warn.find("\"pid\"").unwrap() < raw_warn.find("\"instance_id\"").unwrap());
    assert!(raw_warn.find("\"instance_id\"").unwrap() < raw_warn.find("\"method\"").unwrap());
    assert_eq!(lines[3]["duration_ms"], 1.5);
    assert_eq!(lines[3]["status"], 200);
    assert_eq!(lines[1]["found"], true);
    assert_eq!(lines[4]["exec_id"], 7);
}
