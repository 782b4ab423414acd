//! `examples/log_crate.rs`: records of the `log` crate become JSON lines like `tracing` events,
//! in the subsystem their target is declared in, at that subsystem's level, with the trace ids
//! of the span they were logged in.

use watchpost_testkit::capture::{parse, Line};
use watchpost_testkit::process::{command, example, Process};

fn run(env: &[(&str, &str)]) -> Vec<Line> {
    let mut cmd = command(example(env!("CARGO_MANIFEST_DIR"), "log_crate"));
    cmd.envs(env.iter().copied());
    let mut program = Process::spawn(&mut cmd, "log_crate");
    assert_eq!(program.wait(), 0);
    program.stdout.iter().map(|l| parse(&l)).collect()
}

#[test]
fn the_log_crate_example_writes_log_records_as_json_lines() {
    let lines = run(&[]);
    let summary: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["level"].as_str().unwrap(),
                l["subsystem"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [("INFO", "STORAGE"), ("WARN", "STORAGE"), ("INFO", "APP")],
        "{lines:#?}"
    );
    assert_eq!(lines[0]["msg"], "opened /var/lib/demo/data with 3 segments");
    assert_eq!(
        lines[1]["msg"],
        "segment 2 of /var/lib/demo/data was not closed cleanly; replaying it"
    );
    // Both records were logged inside the `startup` span: its trace, its span.
    let trace = lines[0]["trace_id"].as_str().expect("a trace id");
    assert_eq!(trace.len(), 32);
    assert_eq!(lines[1]["trace_id"], trace);
    assert_eq!(lines[0]["span_id"], lines[1]["span_id"]);
    // The `tracing` event after the span: no trace, its own field.
    assert_eq!(lines[2]["msg"], "ready");
    assert_eq!(lines[2]["segments"], 3);
    assert!(!lines[2].contains_key("trace_id"));
    for line in &lines {
        assert_eq!(line["service"], "log-demo");
    }

    // The subsystem's own level applies to the dependency's records.
    let debug = run(&[("LOG_LEVEL_STORAGE", "debug")]);
    assert_eq!(debug.len(), 4, "{debug:#?}");
    assert_eq!(debug[0]["level"], "DEBUG");
    assert_eq!(debug[0]["msg"], "opening /var/lib/demo/data");
    assert_eq!(debug[0]["subsystem"], "STORAGE");
}
