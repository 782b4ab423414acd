//! Tests of the environment table (`env.rs`), and the rule that every variable's name is written
//! once in the library.

use super::*;
use crate::config::{Config, Subsystem};

fn build(vars: &[(&str, &str)]) -> Result<Config, Error> {
    Config::builder("procman")
        .subsystem(Subsystem::new("API").target("procman::api"))
        .subsystem(Subsystem::new("INSTANCES").target("procman::instances"))
        .env_vars(vars.iter().copied())
        .build()
}

#[test]
fn invalid_values_name_the_variable_the_value_and_what_is_allowed() {
    for (var, value, allowed) in [
        ("LOG_LEVEL_INSTANCES", "verbose", "debug, info, warn, error"),
        ("LOG_LEVEL", "loud", "debug, info, warn, error"),
        ("OTEL_ENABLED", "maybe", "true, false"),
        ("OTEL_INSECURE", "yes please", "true, false"),
        ("LOG_STANDARD_FIELDS", "sometimes", "true, false"),
        ("METRICS_LISTEN", "nonsense", "IP address and port"),
        ("OTEL_ENDPOINT", "no port here", "host:port"),
        ("LOG_LEVEL_API", "trace", "TRACE is not allowed"),
        ("OTEL_SERVICE_NAME", "has space", "ASCII letters"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "0", "1 to 1000000"),
        ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "lots", "1 to 1000000"),
        ("OTEL_BSP_SCHEDULE_DELAY", "-5", "milliseconds"),
        ("EXPORT_PRIORITY", "high", "one of idle, low, normal"),
    ] {
        let err = build(&[(var, value)]).unwrap_err().to_string();
        assert!(err.contains(var), "{err}");
        assert!(err.contains(&format!("{value:?}")), "{err}");
        assert!(err.contains(allowed), "{err}");
    }
}

#[test]
fn export_batching_comes_from_the_standard_variables_and_a_batch_never_exceeds_its_queue() {
    let c = build(&[
        ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "100"),
        ("OTEL_BSP_SCHEDULE_DELAY", "250"),
        ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "8"),
    ])
    .unwrap();
    assert_eq!(
        c.span_batching,
        Batching {
            queue_size: 100,
            batch_size: 100,
            delay: std::time::Duration::from_millis(250)
        }
    );
    assert_eq!(c.log_batching.batch_size, 8);
    assert_eq!(c.log_batching.queue_size, Batching::default().queue_size);
    let defaults = build(&[]).unwrap();
    let documented = |name: &str| ENV_VARS.iter().find(|(n, _, _)| *n == name).unwrap().1;
    assert_eq!(
        defaults.span_batching.batch_size.to_string(),
        documented("OTEL_BSP_MAX_EXPORT_BATCH_SIZE")
    );
    assert_eq!(
        defaults.log_batching.queue_size.to_string(),
        documented("OTEL_BLRP_MAX_QUEUE_SIZE")
    );
    assert_eq!(
        defaults.span_batching.delay.as_millis().to_string(),
        documented("OTEL_BSP_SCHEDULE_DELAY")
    );

    let err = build(&[
        ("OTEL_BSP_MAX_QUEUE_SIZE", "10"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "64"),
    ])
    .unwrap_err()
    .to_string();
    assert!(err.contains("OTEL_BSP_MAX_EXPORT_BATCH_SIZE"), "{err}");
    assert!(err.contains("\"64\""), "{err}");
    assert!(err.contains("queue size, 10"), "{err}");
}

#[test]
fn subsystem_variables_override_the_global_level_and_unknown_ones_are_collected() {
    let c = build(&[
        ("LOG_LEVEL", "warn"),
        ("LOG_LEVEL_INSTANCES", "DEBUG"),
        ("LOG_LEVEL_NETWORK", "debug"),
    ])
    .unwrap();
    assert_eq!(c.level_of("API"), Some(Level::WARN));
    assert_eq!(c.level_of("instances"), Some(Level::DEBUG));
    assert_eq!(c.level_of("APP"), Some(Level::WARN));
    assert_eq!(c.unknown_level_vars, vec!["LOG_LEVEL_NETWORK".to_string()]);
}

#[test]
fn endpoints_accept_host_port_and_urls() {
    for ok in [
        "127.0.0.1:4317",
        "collector:4317",
        "http://c:4317",
        "https://c.example:443/",
    ] {
        assert!(build(&[("OTEL_ENDPOINT", ok)]).is_ok(), "{ok}");
    }
    for bad in ["", "collector", "http://c", "c:notaport", ":4317"] {
        assert!(build(&[("OTEL_ENDPOINT", bad)]).is_err(), "{bad}");
    }
}

#[test]
fn the_standard_endpoint_applies_only_when_ours_is_not_set() {
    let standard = build(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317")]).unwrap();
    assert_eq!(standard.otel_endpoint(), "http://c:4317");
    // Ours set: the standard one is not even parsed.
    let ours = build(&[
        ("OTEL_ENDPOINT", "d:4317"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "not an endpoint"),
    ])
    .unwrap();
    assert_eq!(ours.otel_endpoint(), "d:4317");
}

#[test]
fn ipv6_metrics_listen_parses() {
    let c = build(&[("METRICS_LISTEN", "[::1]:9000")]).unwrap();
    assert!(c.metrics_listen().is_ipv6());
}

#[test]
fn every_entry_is_found_by_its_own_name_and_env_vars_is_the_table() {
    let mut names: Vec<_> = TABLE.iter().map(|v| v.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), TABLE.len(), "a name is in the table twice");
    // No entry (a pattern, say) shadows another: each is found by its name, a pattern by a
    // name it stands for.
    for var in TABLE {
        let example = var
            .name
            .replace("<SIGNAL>", "LOGS")
            .replace("<SUBSYSTEM>", "API");
        assert_eq!(lookup(&example).unwrap().name, var.name);
    }
    assert!(is_ours("LOG_LEVEL_ANYTHING") && !is_ours("LOG_LEVELS") && !is_ours("PATH"));
    assert!(is_ours("OTEL_EXPORTER_OTLP_TRACES_HEADERS"));
    assert!(!is_ours("OTEL_EXPORTER_OTLP_SPANS_HEADERS") && !is_ours("OTEL_LOG_LEVEL"));
    let text: Vec<_> = TABLE
        .iter()
        .map(|v| (v.name, v.default, v.meaning))
        .collect();
    assert_eq!(ENV_VARS, text);
}

/// Every variable's name is written once in the library's code: in its entry of [`TABLE`].
///
/// The rule, precisely. In every `src/**/*.rs` file of this crate, leave out comments (doc
/// comments too: they are documentation, and their examples are doctests), every item
/// marked `#[cfg(test)]` and the files of test modules (`*_tests.rs`). In the string literals that remain, count the places where a name
/// stands as a whole word (no letter, digit or `_` right before or after it) and not right
/// after a backtick. For the pattern `LOG_LEVEL_<SUBSYSTEM>` the name counted is its prefix,
/// `LOG_LEVEL_` (so it counts in `LOG_LEVEL_<NAME>` too, not in `LOG_LEVEL_API`); a pattern
/// with a fixed part after its `<PART>` (`OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT`) is counted
/// whole. Every count must be 1.
///
/// Why only string literals: an identifier such as `env::METRICS_LISTEN` is checked by the
/// compiler, a copy of a name in a string is not. Why not right after a backtick: that is a
/// Markdown code span in text for a person, such as the README meaning of the standard
/// endpoint variable, which mentions ours in backticks; no code looks such a string up.
#[test]
fn every_variable_name_is_written_once_in_the_library() {
    let src = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src"));
    let mut strings = Vec::new();
    for path in watchpost_testkit::source::rust_files(src) {
        if path.to_string_lossy().ends_with("_tests.rs") {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        strings.extend(
            string_literals(&source)
                .into_iter()
                .map(|s| (s, path.clone())),
        );
    }
    let mut wrong = Vec::new();
    for var in TABLE {
        // A pattern with a fixed part after its `<PART>` is counted whole: several share
        // their prefix (`OTEL_EXPORTER_OTLP_`).
        let name = match var.placeholder() {
            Some((_, suffix)) if !suffix.is_empty() => var.name,
            _ => var.prefix(),
        };
        let found: Vec<_> = strings
            .iter()
            .filter(|(s, _)| count_name(s, name) > 0)
            .collect();
        let count: usize = found.iter().map(|(s, _)| count_name(s, name)).sum();
        if count != 1 {
            wrong.push(format!("{} is written {count} times: {found:?}", var.name));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn the_name_scanner_skips_comments_test_items_and_markdown() {
    let source = r##"
        // "A" in a comment
        /* "A" /* nested */ "A" */
        /// "A" in a doc comment
        const X: &str = "A, and `A` in prose, and AB";
        const Y: &str = r#"A"#;
        const Z: char = '{';
        fn f<'a>(s: &'a str) -> &'a str { s }
        #[cfg(test)]
        mod tests { fn g() { let _ = ("A", '}'); } }
        const W: &[u8] = b"A";
    "##;
    let strings = string_literals(source);
    let counts: usize = strings.iter().map(|s| count_name(s, "A")).sum();
    assert_eq!(counts, 3, "{strings:?}");
}

/// The string literals of Rust `source`, as written (escapes unresolved), outside comments and
/// items marked `#[cfg(test)]`.
fn string_literals(source: &str) -> Vec<String> {
    let s: Vec<char> = source.chars().collect();
    let at = |i: usize, text: &str| {
        text.chars()
            .enumerate()
            .all(|(j, c)| s.get(i + j) == Some(&c))
    };
    let word = |c: Option<&char>| c.is_some_and(|c| c.is_alphanumeric() || *c == '_');
    let mut strings = Vec::new();
    let mut depth = 0;
    // After `#[cfg(test)]`, until its item starts (at a `{`) or ends (at a `;`).
    let mut test_attribute = false;
    // Inside a test item: the depth its closing `}` returns to.
    let mut test_item_until: Option<usize> = None;
    let mut i = 0;
    while i < s.len() {
        let start = i;
        if at(i, "//") {
            while i < s.len() && s[i] != '\n' {
                i += 1;
            }
        } else if at(i, "/*") {
            let mut open = 0;
            loop {
                if at(i, "/*") {
                    open += 1;
                    i += 2;
                } else if at(i, "*/") {
                    open -= 1;
                    i += 2;
                    if open == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if at(i, "#[cfg(test)]") {
            test_attribute = true;
            i += "#[cfg(test)]".len();
        } else if word(s.get(i)) {
            while word(s.get(i)) {
                i += 1;
            }
            let raw = matches!(&s[start..i], ['r'] | ['b', 'r']);
            if raw && matches!(s.get(i), Some('#' | '"')) {
                let hashes = s[i..].iter().take_while(|c| **c == '#').count();
                i += hashes;
                if s.get(i) == Some(&'"') {
                    let end = format!("\"{}", "#".repeat(hashes));
                    let from = i + 1;
                    i = from;
                    while !at(i, &end) {
                        i += 1;
                    }
                    if test_item_until.is_none() {
                        strings.push(s[from..i].iter().collect());
                    }
                    i += end.len();
                } // else a raw identifier such as `r#type`
            }
        } else if s[i] == '"' {
            i += 1;
            while s[i] != '"' {
                i += if s[i] == '\\' { 2 } else { 1 };
            }
            if test_item_until.is_none() {
                strings.push(s[start + 1..i].iter().collect());
            }
            i += 1;
        } else if s[i] == '\'' {
            if s.get(i + 1) == Some(&'\\') {
                i += 3;
                while s[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if s.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1; // a lifetime
            }
        } else {
            match s[i] {
                '{' => {
                    if std::mem::take(&mut test_attribute) && test_item_until.is_none() {
                        test_item_until = Some(depth);
                    }
                    depth += 1;
                }
                '}' => {
                    depth -= 1;
                    if test_item_until == Some(depth) {
                        test_item_until = None;
                    }
                }
                ';' => test_attribute = false,
                _ => {}
            }
            i += 1;
        }
    }
    strings
}

/// How often `name` stands in `text` as a whole word, not right after a backtick.
fn count_name(text: &str, name: &str) -> usize {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    text.match_indices(name)
        .filter(|(at, _)| {
            let before = text[..*at].chars().next_back();
            let after = text[at + name.len()..].chars().next();
            !word(before) && before != Some('`') && !word(after)
        })
        .count()
}
