//! The library's modules form layers (ARCHITECTURE.md's diagram): each module uses only the
//! modules below it, so data flows one way and there is no import circle. Read from the source:
//! every `crate::<module>` path outside comments counts, and so do the `crate::` re-exports of
//! the crate root (`crate::Config` is `config`, `crate::Telemetry` is `telemetry`).

use watchpost_testkit::source;

/// Top to bottom. A module may use any module after it in this list, never one before it.
const LAYERS: &[&str] = &[
    "http",
    "telemetry",
    "health",
    "context",
    "export",
    "metrics",
    "logs",
    "traces",
    "staged",
    "internal",
    "redact",
    "config",
    "catalogue",
    "util",
    "error",
];

/// Root re-exports and the module each comes from.
const ROOT_ITEMS: &[(&str, &str)] = &[
    ("Config", "config"),
    ("ConfigBuilder", "config"),
    ("ExportPriority", "config"),
    ("Redaction", "config"),
    ("Subsystem", "config"),
    ("Error", "error"),
    ("ErrorKind", "error"),
    ("SelfStats", "internal"),
    ("init", "telemetry"),
    ("Telemetry", "telemetry"),
    ("TelemetryBuilder", "telemetry"),
];

/// The modules `code` refers to through `crate::`.
fn uses(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        if i > 0
            && (code.as_bytes()[i - 1].is_ascii_alphanumeric() || code.as_bytes()[i - 1] == b'_')
        {
            continue; // `watchpost_crate::` or similar
        }
        let rest = &code[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let module = ROOT_ITEMS
            .iter()
            .find(|(item, _)| *item == name)
            .map_or(name.as_str(), |(_, m)| m);
        found.push(module.to_string());
    }
    found
}

#[test]
fn modules_import_only_the_modules_below_them() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = source::rust_files(&src);
    let mut violations = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_string();
        if module == "lib" {
            continue;
        }
        let Some(level) = LAYERS.iter().position(|m| *m == module) else {
            panic!(
                "module {module} ({}) is not in LAYERS: place it in the diagram",
                rel.display()
            );
        };
        let text = std::fs::read_to_string(file).unwrap();
        for used in uses(&source::code(&text)) {
            if used == module {
                continue;
            }
            match LAYERS.iter().position(|m| *m == used) {
                Some(l) if l > level => {}
                Some(_) => violations.push(format!(
                    "{} uses {used}, which sits above {module}",
                    rel.display()
                )),
                None => violations.push(format!(
                    "{} uses crate::{used}, which is not in LAYERS",
                    rel.display()
                )),
            }
        }
    }
    violations.sort();
    violations.dedup();
    assert!(
        violations.is_empty(),
        "imports that run up:\n{}",
        violations.join("\n")
    );
}
