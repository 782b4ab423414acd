//! A bad variable stops the program at start with a message naming the variable, the value and
//! what is allowed.
mod support;

#[test]
fn invalid_configuration_fails_with_a_clear_message() {
    for (var, value, allowed) in [
        (
            "LOG_LEVEL_INSTANCES",
            "verbose",
            "one of debug, info, warn, error",
        ),
        ("OTEL_ENABLED", "maybe", "one of true, false"),
        ("METRICS_LISTEN", "nonsense", "an IP address and port"),
    ] {
        let demo = support::logdemo(&[(var, value)]);
        let (code, out, err) = demo.finish();
        assert_eq!(code, 2, "{var}={value}");
        assert!(out.is_empty(), "{out:?}");
        let err = err.join("\n");
        assert!(
            err.contains(var) && err.contains(value) && err.contains(allowed),
            "{err}"
        );
    }
}
