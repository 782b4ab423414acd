//! `watchpost lint FILE --format json`, end to end through the binary: exit 0 on a clean
//! exposition, 1 with the findings when rules are broken (each rule of the bad exposition once,
//! about its family), 2 with a message naming the input when an input cannot be read or is not
//! what it should be.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use watchpost_testkit::bad::exposition::{BAD_CATALOGUE_JSON, BAD_EXPOSITION, BAD_RULE_FAMILIES};
use watchpost_testkit::tools::TempDir;

const CLEAN: &str = "\
# HELP shop_orders_total Orders placed, by outcome.
# TYPE shop_orders_total counter
shop_orders_total{outcome=\"ok\"} 12
shop_orders_total{outcome=\"declined\"} 1
# HELP shop_order_duration_seconds Time to place an order.
# TYPE shop_order_duration_seconds histogram
shop_order_duration_seconds_bucket{le=\"0.1\"} 3
shop_order_duration_seconds_bucket{le=\"+Inf\"} 13
shop_order_duration_seconds_sum 4.2
shop_order_duration_seconds_count 13
# HELP process_open_fds Open descriptors.
# TYPE process_open_fds gauge
process_open_fds 9
";

fn watchpost(dir: &TempDir, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_watchpost"))
        .args(args)
        .current_dir(&dir.0) // no ./watchpost.toml
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// rule id → the names of its findings.
fn found(v: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert_eq!(f["count"], 1, "{f}");
            (
                f["id"].as_str().unwrap().to_owned(),
                f["signal_name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn lint_exits_0_when_clean_1_on_violations_2_on_bad_input() {
    let dir = TempDir::new("lint-exit");
    let write = |name: &str, text: &str| {
        let p = dir.0.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let clean = write("clean.prom", CLEAN);
    let bad = write("bad.prom", BAD_EXPOSITION);
    let catalogue = write("bad-catalogue.json", BAD_CATALOGUE_JSON);
    let html = write("page.html", "<html><body>Not found</body></html>\n");
    let not_json = write("catalogue.txt", "procman_instances gauge\n");

    // Clean: 0, no findings, the families counted.
    let out = watchpost(&dir, &["lint", &clean, "--format", "json"], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v = json(&out);
    assert_eq!(v["findings"], Value::Array(vec![]));
    assert_eq!(v["summary"]["coverage"]["metric"]["families"], 3);

    // The same from standard input.
    let out = watchpost(&dir, &["lint", "-", "--format", "json"], Some(CLEAN));
    assert_eq!(out.status.code(), Some(0));

    // Violations: 1, each rule once, about its family.
    let out = watchpost(
        &dir,
        &["lint", &bad, "--format", "json", "--catalogue", &catalogue],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let mut expected: Vec<(String, String)> = BAD_RULE_FAMILIES
        .iter()
        .map(|(id, f)| ((*id).to_owned(), (*f).to_owned()))
        .collect();
    expected.sort();
    assert_eq!(found(&json(&out)), expected);

    // `--fail-on never` reports the same and exits 0.
    let out = watchpost(
        &dir,
        &["lint", &bad, "--format", "json", "--fail-on", "never"],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(found(&json(&out)).len(), BAD_RULE_FAMILIES.len() - 2);

    // Bad input: 2, and the message names the input.
    for (args, name) in [
        (
            vec!["lint", "no-such-file.prom"],
            "no-such-file.prom".to_owned(),
        ),
        (vec!["lint", html.as_str()], html.clone()),
        (
            vec!["lint", clean.as_str(), "--catalogue", not_json.as_str()],
            not_json.clone(),
        ),
        (
            vec!["lint", clean.as_str(), "--catalogue", "missing.json"],
            "missing.json".to_owned(),
        ),
    ] {
        let out = watchpost(&dir, &args, None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(&format!("'{name}'")), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}
