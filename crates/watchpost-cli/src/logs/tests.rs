use super::*;

const T: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const U: &str = "0af7651916cd43dd8448eb211c80319c";

fn check(lines: &[String]) -> Report {
    let mut report = Report::default();
    let mut c = LogChecker::new(&CheckSettings::default());
    for l in lines {
        c.line(l.as_bytes(), &mut report);
    }
    c.finish(&mut report);
    report
}

fn line(second: u32, level: &str, msg: &str, trace: Option<&str>, extra: &str) -> String {
    let trace = trace.map_or(String::new(), |t| {
        format!(r#","trace_id":"{t}","span_id":"00f067aa0ba902b7""#)
    });
    format!(
        r#"{{"time":"2026-11-30T10:00:{second:02}.000Z","level":"{level}","msg":"{msg}","subsystem":"API"{trace}{extra}}}"#
    )
}

fn access(second: u32, trace: Option<&str>, status: u16, level: &str) -> String {
    line(
        second,
        level,
        "request handled",
        trace,
        &format!(
            r#","method":"GET","path":"/instances/{{id}}","status":{status},"duration_ms":0.4,"request_id":"r1""#
        ),
    )
}

/// A clean service: startup, two requests with one INFO each, a DEBUG detail, an instance event.
fn clean() -> Vec<String> {
    vec![
        line(0, "INFO", "listening", None, ""),
        line(
            1,
            "DEBUG",
            "spawned",
            Some(T),
            r#","instance_id":"a1b2c3d4e5f6""#,
        ),
        access(1, Some(T), 201, "INFO"),
        line(
            2,
            "WARN",
            "exec timed out",
            Some(U),
            r#","instance_id":"a1b2c3d4e5f6""#,
        ),
        access(2, Some(U), 504, "WARN"),
        line(
            3,
            "INFO",
            "instance exited",
            None,
            r#","instance_id":"a1b2c3d4e5f6","code":0"#,
        ),
        line(
            4,
            "INFO",
            "instance exited",
            None,
            r#","instance_id":"ffffeeee0000","code":0"#,
        ),
        line(
            5,
            "INFO",
            "instance exited",
            None,
            r#","instance_id":"ffffeeee0001","code":0"#,
        ),
    ]
}

fn only(report: &Report, id: &str, n: u64) {
    for r in crate::rules::ALL {
        let expected = if r.id == id { n } else { 0 };
        assert_eq!(
            report.count(r.id),
            expected,
            "{}: {}",
            r.id,
            report.render_human(false)
        );
    }
}

#[test]
fn a_clean_service_breaks_no_rule() {
    let r = check(&clean());
    only(&r, "", 0);
    assert_eq!(r.coverage(Signal::Log).unwrap()["lines"], 8);
}

#[test]
fn a_line_that_is_not_json_is_invalid() {
    let mut l = clean();
    l.push("plain text line".into());
    l.push("[1,2]".into());
    only(&check(&l), "log.invalid-json", 2);
}

#[test]
fn a_line_without_subsystem_misses_a_key() {
    let mut l = clean();
    l.push(r#"{"time":"2026-11-30T10:00:09Z","level":"DEBUG","msg":"x"}"#.into());
    let r = check(&l);
    only(&r, "log.missing-key", 1);
    assert_eq!(r.tallies()[0].samples[0].context["key"], "subsystem");
}

#[test]
fn trace_lines_are_found() {
    let mut l = clean();
    l.push(line(9, "TRACE", "poll", None, ""));
    only(&check(&l), "log.trace-level", 1);
}

#[test]
fn a_repeated_idle_message_is_noise_but_events_about_resources_are_not() {
    let mut l = clean();
    for s in 10..13 {
        l.push(line(s, "INFO", "housekeeping done", None, ""));
    }
    let r = check(&l);
    only(&r, "log.noisy-when-idle", 1);
    assert_eq!(r.tallies()[0].samples[0].signal_name, "housekeeping done");
}

#[test]
fn lines_inside_a_request_window_are_not_idle() {
    let mut l = clean();
    for _ in 0..3 {
        // One second, inside the access line's window of 2026-11-30T10:00:20 - 5 s.
        l.push(line(17, "INFO", "cache refreshed", None, ""));
    }
    l.push(line(
        20,
        "INFO",
        "request handled",
        Some("11111111111111111111111111111111"),
        r#","method":"GET","path":"/slow","status":200,"duration_ms":5000.0"#,
    ));
    only(&check(&l), "", 0);
}

#[test]
fn two_info_lines_in_one_request_are_too_many() {
    let mut l = clean();
    l.push(line(
        9,
        "INFO",
        "instance created",
        Some("22222222222222222222222222222222"),
        "",
    ));
    l.push(access(
        9,
        Some("22222222222222222222222222222222"),
        201,
        "INFO",
    ));
    let r = check(&l);
    only(&r, "log.too-many-info", 1);
    assert_eq!(
        r.tallies()[0].samples[0].context["trace_id"],
        "22222222222222222222222222222222"
    );
}

#[test]
fn an_access_line_without_a_trace_id_is_found() {
    let mut l = clean();
    l.push(access(9, None, 200, "INFO"));
    only(&check(&l), "log.missing-trace-id", 1);
}

#[test]
fn a_line_naming_a_known_resource_without_its_field_is_found() {
    let mut l = clean();
    l.push(line(9, "DEBUG", "cleaning up a1b2c3d4e5f6", Some(T), ""));
    let r = check(&l);
    only(&r, "log.resource-without-id", 1);
    assert_eq!(r.tallies()[0].samples[0].context["id"], "a1b2c3d4e5f6");
}

#[test]
fn a_5xx_without_an_explaining_line_is_found() {
    let mut l = clean();
    l.push(access(
        9,
        Some("33333333333333333333333333333333"),
        500,
        "WARN",
    ));
    let r = check(&l);
    only(&r, "log.server-error-unlogged", 1);
    assert_eq!(r.tallies()[0].samples[0].context["status"], 500);
}

#[test]
fn facts_carry_error_and_warning_traces() {
    let mut report = Report::default();
    let mut c = LogChecker::new(&CheckSettings::default());
    for l in clean() {
        c.line(l.as_bytes(), &mut report);
    }
    let facts = c.finish(&mut report);
    assert!(facts.read);
    assert!(facts.error_trace_ids.contains(U), "the 504's trace");
    assert!(facts.warn_trace_ids.contains(U));
    assert!(!facts.error_trace_ids.contains(T));
}

#[test]
fn rfc3339_times_parse_across_offsets_and_fractions() {
    assert_eq!(
        parse_rfc3339("2026-11-30T10:00:00Z"),
        parse_rfc3339("2026-11-30T11:00:00+01:00")
    );
    assert_eq!(
        parse_rfc3339("2000-03-01T00:00:00Z"),
        Some(951_868_800_000_000_000)
    );
    assert_eq!(
        parse_rfc3339("2026-11-30T10:00:00.123456789Z").map(|n| n % 1_000_000_000),
        Some(123_456_789)
    );
    for bad in [
        "2026-13-01T00:00:00Z",
        "2026-11-30T10:00:00",
        "2026-11-30T10:00:00.Z",
        "2026-11-30 10:00:00+1",
    ] {
        assert_eq!(parse_rfc3339(bad), None, "{bad}");
    }
}

#[test]
fn secrets_and_personal_data_are_found_in_any_field_but_masks_are_not() {
    let mut l = clean();
    l.push(line(
        9,
        "DEBUG",
        "login",
        Some(T),
        r#","password":"hunter2""#,
    ));
    l.push(line(
        9,
        "DEBUG",
        "mail sent to bob@example.com",
        Some(T),
        "",
    ));
    l.push(line(
        9,
        "DEBUG",
        "masked",
        Some(T),
        r#","password":"[REDACTED]","to":"[REDACTED:email]""#,
    ));
    let r = check(&l);
    assert_eq!(r.count("privacy.secret"), 1, "{}", r.render_human(false));
    assert_eq!(
        r.count("privacy.personal-data"),
        1,
        "{}",
        r.render_human(false)
    );
    let json = r.to_json().to_string();
    assert!(
        !json.contains("hunter2") && !json.contains("bob@example.com"),
        "the report repeats the secret: {json}"
    );
}

#[test]
fn hostile_durations_and_upper_case_trace_ids_are_handled() {
    let mut l = clean();
    // A negative and an absurd duration: ignored for the request window, no overflow.
    l.push(line(
        9,
        "INFO",
        "request handled",
        Some("44444444444444444444444444444444"),
        r#","method":"GET","path":"/a","status":200,"duration_ms":-1e33"#,
    ));
    l.push(line(
        9,
        "INFO",
        "request handled",
        Some("55555555555555555555555555555555"),
        r#","method":"GET","path":"/a","status":200,"duration_ms":1e300"#,
    ));
    only(&check(&l), "", 0);
    // An upper-case trace id is the same trace as its lower-case form.
    let mut report = Report::default();
    let mut c = LogChecker::new(&CheckSettings::default());
    c.line(
        line(
            9,
            "ERROR",
            "boom",
            Some("ABCDEF0123456789ABCDEF0123456789"),
            "",
        )
        .as_bytes(),
        &mut report,
    );
    let facts = c.finish(&mut report);
    assert!(
        facts
            .error_trace_ids
            .contains("abcdef0123456789abcdef0123456789"),
        "{facts:?}"
    );
}

#[test]
fn lines_from_before_the_check_are_checked_but_not_joined() {
    let mut report = Report::default();
    let mut c = LogChecker::new(&CheckSettings::default());
    c.join_from(parse_rfc3339("2026-11-30T10:00:05Z").unwrap());
    c.line(
        line(1, "ERROR", "old error", Some(T), "").as_bytes(),
        &mut report,
    );
    c.line(
        line(9, "ERROR", "new error", Some(U), "").as_bytes(),
        &mut report,
    );
    c.line(
        line(2, "TRACE", "old trace line", None, "").as_bytes(),
        &mut report,
    );
    let facts = c.finish(&mut report);
    assert!(!facts.error_trace_ids.contains(T));
    assert!(facts.error_trace_ids.contains(U));
    assert_eq!(
        report.count("log.trace-level"),
        1,
        "old lines still go through the line rules"
    );
}

#[test]
fn overlapping_request_windows_are_kept_as_one() {
    let mut c = LogChecker::new(&CheckSettings::default());
    let mut report = Report::default();
    for i in 0..10_000u32 {
        let t = format!("2026-11-30T10:00:{:02}.{:06}Z", i / 1000, (i % 1000) * 1000);
        let l = format!(
            r#"{{"time":"{t}","level":"INFO","msg":"request handled","subsystem":"API","trace_id":"{i:032x}","method":"GET","path":"/a","status":200,"duration_ms":0.5}}"#
        );
        c.line(l.as_bytes(), &mut report);
    }
    assert!(c.windows.len() <= 2, "{} windows kept", c.windows.len());
}
