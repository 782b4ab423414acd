//! The README's "OpenTelemetry environment variables" table is `OTEL_SPEC_VARS` rendered
//! (`UPDATE_README=1` rewrites it), and every variable the code reads from the specification is
//! in it as read, every other `OTEL_*` one as Watchpost's own: the docs cannot drift.

use watchpost::config::{otel_spec_markdown, OtelSupport, ENV_VARS, OTEL_SPEC_VARS};

#[test]
fn readme_opentelemetry_variables_table_matches_the_code() {
    watchpost_testkit::tools::assert_markdown_section(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"),
        "otel_env",
        &otel_spec_markdown(),
    );
    let ours = [
        "OTEL_ENABLED",
        "OTEL_ENDPOINT",
        "OTEL_INSECURE",
        "OTEL_SERVICE_INSTANCE_ID",
    ];
    let ours = [
        &ours[..],
        &["OTEL_BAGGAGE_FIELDS", "OTEL_TRACES_SAMPLER_RATIO"],
    ]
    .concat();
    for (name, _, _) in ENV_VARS.iter().filter(|(n, _, _)| n.starts_with("OTEL_")) {
        let row = OTEL_SPEC_VARS.iter().find(|v| v.name == *name);
        match row {
            Some(v) => assert_ne!(v.support, OtelSupport::NotSupported, "{name} is read"),
            None => assert!(ours.contains(name), "{name} is neither the spec's nor ours"),
        }
    }
    for v in OTEL_SPEC_VARS
        .iter()
        .filter(|v| v.support != OtelSupport::NotSupported)
    {
        assert!(
            ENV_VARS.iter().any(|(n, _, _)| *n == v.name),
            "{} is documented as read but the code does not read it",
            v.name
        );
    }
}
