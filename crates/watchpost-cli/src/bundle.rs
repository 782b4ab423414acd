//! `watchpost bundle --out deploy/`: everything a team needs to run a service's monitoring on the
//! existing engines, generated from its catalogue and `watchpost.toml`:
//!
//! ```text
//! deploy/
//!   README.md                                   what is here and how to start it
//!   compose.yaml                                Prometheus, Alertmanager, Grafana, Tempo, Loki, the Collector
//!   prometheus/prometheus.yml                   scrape config, rule files
//!   prometheus/rules/<svc>-rules.yml            SLO recording and alert rules, symptom alerts
//!   prometheus/rules/<svc>-rules.test.yml       their `promtool test rules` file
//!   alertmanager/alertmanager.yml               routing by severity
//!   grafana/provisioning/datasources/datasources.yml
//!   grafana/provisioning/dashboards/dashboards.yml
//!   grafana/dashboards/<svc>.json               the dashboard
//!   otelcol/config.yaml                         OTLP in; traces to Tempo, logs to Loki, metrics to Prometheus
//!   tempo/tempo.yaml                            a single-binary Tempo on local disk
//! ```
//!
//! Every file is a pure function of the inputs (no timestamps), so a repository can keep the
//! bundle and a test can check that it is current.

use std::collections::BTreeMap;
use std::path::Path;

use crate::alertmanager::{self, AlertmanagerOptions};
use crate::catalogue::Catalogue;
use crate::config::Config;
use crate::dashboard::{self, DashboardOptions};
use crate::error::{Error, Result};
use crate::slo;

/// What a bundle needs besides the catalogue and `watchpost.toml`.
#[derive(Debug, Clone, clap::Args)]
pub struct BundleArgs {
    /// The service's catalogue (JSON of `GET /metrics/catalogue`): a file, a URL or -.
    #[arg(long, value_name = "FILE|URL|-")]
    pub catalogue: String,
    /// Objectives and settings (default: ./watchpost.toml if it exists).
    #[arg(long, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// Where to write the bundle (created; files of the bundle are replaced, others kept).
    #[arg(long, value_name = "DIR")]
    pub out: std::path::PathBuf,
    /// The service's metrics address as Prometheus (in compose) reaches it.
    #[arg(
        long,
        value_name = "HOST:PORT",
        default_value = "host.docker.internal:9464"
    )]
    pub scrape_target: String,
    /// Fail when a file of the bundle in --out differs from what would be written (nothing is
    /// written): for CI.
    #[arg(long)]
    pub check: bool,
}

/// The bundle's files, by path relative to its directory.
pub fn files(
    catalogue: &Catalogue,
    config: &Config,
    scrape_target: &str,
) -> Result<BTreeMap<String, String>> {
    let generated = slo::generate(catalogue, config)?;
    let svc = config
        .service
        .as_ref()
        .and_then(|s| s.name.clone())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| catalogue.service_prefix.clone());
    let rules = format!("{}.yml", generated.file_stem);
    let tests = format!("{}.test.yml", generated.file_stem);
    let dashboard = dashboard::generate(catalogue, &DashboardOptions::default());
    let problems = dashboard::problems(catalogue, &dashboard);
    if !problems.is_empty() {
        return Err(Error::new(format!(
            "the dashboard queries what the catalogue does not declare: {}",
            problems
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        )));
    }
    let am = alertmanager::generate(&AlertmanagerOptions::default());
    let mut out = BTreeMap::new();
    out.insert(format!("prometheus/rules/{rules}"), generated.rules_yaml);
    out.insert(format!("prometheus/rules/{tests}"), generated.tests_yaml);
    out.insert(
        "prometheus/prometheus.yml".to_owned(),
        prometheus_yml(&svc, scrape_target, &rules),
    );
    out.insert("alertmanager/alertmanager.yml".to_owned(), am);
    out.insert(
        format!("grafana/dashboards/{svc}.json"),
        format!("{:#}\n", dashboard),
    );
    out.insert(
        "grafana/provisioning/datasources/datasources.yml".to_owned(),
        DATASOURCES.to_owned(),
    );
    out.insert(
        "grafana/provisioning/dashboards/dashboards.yml".to_owned(),
        DASHBOARDS.to_owned(),
    );
    out.insert("otelcol/config.yaml".to_owned(), OTELCOL.to_owned());
    out.insert("tempo/tempo.yaml".to_owned(), TEMPO.to_owned());
    out.insert("compose.yaml".to_owned(), COMPOSE.to_owned());
    out.insert("README.md".to_owned(), readme(&svc));
    Ok(out)
}

/// Writes the bundle (or, with `check`, compares it): the paths that differ.
pub fn write(dir: &Path, files: &BTreeMap<String, String>, check: bool) -> Result<Vec<String>> {
    let mut differ = Vec::new();
    for (rel, text) in files {
        let path = dir.join(rel);
        let current = std::fs::read_to_string(&path).ok();
        if current.as_deref() == Some(text.as_str()) {
            continue;
        }
        differ.push(rel.clone());
        if check {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::new(format!("cannot create '{}': {e}", parent.display())))?;
        }
        std::fs::write(&path, text)
            .map_err(|e| Error::new(format!("cannot write '{}': {e}", path.display())))?;
    }
    Ok(differ)
}

fn prometheus_yml(svc: &str, target: &str, rules: &str) -> String {
    format!(
        "# Generated by `watchpost bundle`: do not edit; regenerate.\n\
global:\n  scrape_interval: 15s\n  evaluation_interval: 15s\n\
rule_files:\n  - rules/{rules}\n\
alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [\"alertmanager:9093\"]\n\
scrape_configs:\n  - job_name: {svc}\n    static_configs:\n      - targets: [\"{target}\"]\n        labels:\n          service: {svc}\n"
    )
}

const DATASOURCES: &str = "# Generated by `watchpost bundle`.
apiVersion: 1
datasources:
  - name: Prometheus
    uid: prometheus
    type: prometheus
    access: proxy
    url: http://prometheus:9090
    isDefault: true
  - name: Tempo
    uid: tempo
    type: tempo
    access: proxy
    url: http://tempo:3200
    jsonData:
      # Logs arrive over OTLP: Loki keeps the trace id as structured metadata, not in the line.
      tracesToLogsV2:
        datasourceUid: loki
        customQuery: true
        query: '{service_name=\"$${__span.tags[\"service.name\"]}\"} | trace_id=\"$${__trace.traceId}\"'
  - name: Loki
    uid: loki
    type: loki
    access: proxy
    url: http://loki:3100
    jsonData:
      derivedFields:
        - name: trace_id
          matcherType: label
          matcherRegex: trace_id
          url: '$${__value.raw}'
          datasourceUid: tempo
";

const DASHBOARDS: &str = "# Generated by `watchpost bundle`.
apiVersion: 1
providers:
  - name: watchpost
    type: file
    options:
      path: /var/lib/grafana/dashboards
";

const OTELCOL: &str =
    "# Generated by `watchpost bundle`: OTLP in (gRPC 4317, HTTP 4318); traces to Tempo, logs to
# Loki (its OTLP endpoint). Metrics are scraped from /metrics, so OTLP metrics are accepted and
# dropped here (sending them on too would count every request twice); or run the service with
# OTEL_METRICS_EXPORTER=none.
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 0.0.0.0:4317 }
      http: { endpoint: 0.0.0.0:4318 }
processors:
  batch: {}
  memory_limiter: { check_interval: 1s, limit_mib: 512 }
exporters:
  otlp/tempo:
    endpoint: tempo:4317
    tls: { insecure: true }
  otlphttp/loki:
    endpoint: http://loki:3100/otlp
  nop: {}
service:
  pipelines:
    traces:  { receivers: [otlp], processors: [memory_limiter, batch], exporters: [otlp/tempo] }
    logs:    { receivers: [otlp], processors: [memory_limiter, batch], exporters: [otlphttp/loki] }
    metrics: { receivers: [otlp], exporters: [nop] }
";

const TEMPO: &str =
    "# Generated by `watchpost bundle`: a single-binary Tempo keeping traces on local disk.
server:
  http_listen_port: 3200
distributor:
  receivers:
    otlp:
      protocols:
        grpc: { endpoint: 0.0.0.0:4317 }
storage:
  trace:
    backend: local
    local: { path: /var/tempo/traces }
    wal: { path: /var/tempo/wal }
";

const COMPOSE: &str =
    "# Generated by `watchpost bundle`: `docker compose up`, then Grafana on http://127.0.0.1:3000.
# Every port is published on 127.0.0.1 only.
services:
  prometheus:
    image: prom/prometheus:v3.5.0
    command:
      - --config.file=/etc/prometheus/prometheus.yml
      - --storage.tsdb.path=/prometheus
      # The longest SLO period (30 days) plus a margin: the period's ratio needs all of it.
      - --storage.tsdb.retention.time=35d
    volumes: [\"./prometheus:/etc/prometheus:ro\", \"prometheus-data:/prometheus\"]
    ports: [\"127.0.0.1:9090:9090\"]
    extra_hosts: [\"host.docker.internal:host-gateway\"]
  alertmanager:
    image: prom/alertmanager:v0.28.1
    command: [--config.file=/etc/alertmanager/alertmanager.yml]
    volumes: [\"./alertmanager:/etc/alertmanager:ro\"]
    ports: [\"127.0.0.1:9093:9093\"]
  grafana:
    image: grafana/grafana:12.1.0
    environment:
      GF_AUTH_ANONYMOUS_ENABLED: \"true\"
      GF_AUTH_ANONYMOUS_ORG_ROLE: Viewer
    volumes:
      - ./grafana/provisioning:/etc/grafana/provisioning:ro
      - ./grafana/dashboards:/var/lib/grafana/dashboards:ro
    ports: [\"127.0.0.1:3000:3000\"]
  tempo:
    image: grafana/tempo:2.8.1
    command: [-config.file=/etc/tempo.yaml]
    volumes: [\"./tempo/tempo.yaml:/etc/tempo.yaml:ro\"]
  loki:
    image: grafana/loki:3.5.3
    command: [-config.file=/etc/loki/local-config.yaml]
  otelcol:
    image: otel/opentelemetry-collector-contrib:0.130.0
    command: [--config=/etc/otelcol/config.yaml]
    volumes: [\"./otelcol:/etc/otelcol:ro\"]
    ports: [\"127.0.0.1:4317:4317\", \"127.0.0.1:4318:4318\"]
volumes:
  prometheus-data: {}
";

fn readme(svc: &str) -> String {
    format!(
        "# Monitoring bundle for `{svc}`\n\n\
Generated by `watchpost bundle` from the service's metric catalogue and `watchpost.toml`; do not\n\
edit by hand — change the inputs and regenerate (`watchpost bundle … --check` fails when this\n\
directory is stale).\n\n\
- `prometheus/`: scrape config and the rules (`promtool check config prometheus/prometheus.yml`,\n  `promtool test rules prometheus/rules/{svc}-rules.test.yml`).\n\
- `alertmanager/alertmanager.yml`: pages and tickets routed by `severity` (`amtool check-config`).\n\
- `grafana/`: datasources (Prometheus; Tempo and Loki linked by trace id) and the dashboard.\n\
- `otelcol/config.yaml`: point the service's `OTEL_EXPORTER_OTLP_ENDPOINT` at\n  `http://127.0.0.1:4318` (OTLP/HTTP, the default), or at `http://127.0.0.1:4317` with\n  `OTEL_EXPORTER_OTLP_PROTOCOL=grpc` (the collector listens without TLS: keep the `http://`, an\n  endpoint without a scheme means TLS).\n\
- `compose.yaml`: `docker compose up` starts all of it; the service runs on the host, its\n  `METRICS_LISTEN` reachable from the Prometheus container (`--scrape-target` at generation).\n"
    )
}

/// `watchpost bundle`: writes (or with `--check` compares) the bundle; the paths that differ.
pub async fn run(args: &BundleArgs, config: &Config) -> Result<Vec<String>> {
    let catalogue = crate::catalogue::load(&args.catalogue).await?;
    let files = files(&catalogue, config, &args.scrape_target)?;
    write(&args.out, &files, args.check)
}
