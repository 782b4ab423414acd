//! A latency SLO's threshold must be a bucket boundary of the request histogram (otherwise the
//! share of slower requests cannot be counted): 0.3 s is refused naming the SLO and the key and
//! listing the nearest boundaries (0.25 and 0.5); 0.25 s is accepted.

use watchpost_cli::catalogue::Catalogue;
use watchpost_cli::config::Config;

fn config(threshold: &str) -> Config {
    Config::parse(&format!(
        "[[slo]]\nname = \"fast\"\nkind = \"latency\"\nthreshold = \"{threshold}\"\nobjective = 99\n"
    ))
    .unwrap()
}

#[test]
fn rules_refuse_a_latency_threshold_that_is_not_a_bucket_boundary() {
    let catalogue = Catalogue::parse(include_str!("fixtures/procman-catalogue.json")).unwrap();
    let e = watchpost_cli::slo::generate(&catalogue, &config("0.3"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("slo[0] 'fast': threshold: 0.3 s is not a bucket boundary"),
        "{e}"
    );
    assert!(e.contains("\"0.25\" and \"0.5\""), "{e}");

    let g = watchpost_cli::slo::generate(&catalogue, &config("0.25")).unwrap();
    assert!(g.rules_yaml.contains("le=\\\"0.25\\\""), "{}", g.rules_yaml);
    let exprs = watchpost_cli::slo::expressions(&g);
    assert!(
        exprs.iter().any(|e| e.contains("histogram_quantile(0.99")),
        "{exprs:?}"
    );
}
