//! A service's metric catalogue, as exported by the library (`GET /metrics/catalogue`, the JSON
//! of `watchpost::catalogue::Catalogue::to_json`): what `lint --catalogue` checks an exposition
//! against and `docs` writes as Markdown.
//!
//! Names are the Prometheus family names as scraped (counters end in `_total`, the service
//! prefix included), the same names [`crate::exposition`] gives families.
//!
//! ```
//! use watchpost_cli::catalogue::{Catalogue, LabelValues};
//!
//! let json = r#"{"service_prefix": "svc", "metrics": [
//!   {"name": "svc_jobs_total", "instrument": "counter", "type": "counter", "unit": "",
//!    "help": "Jobs run", "subsystem": "JOBS",
//!    "labels": [{"name": "outcome", "values": ["ok", "failed"]}, {"name": "queue", "budget": 8}],
//!    "buckets": [], "series_budget": 16}]}"#;
//! let c = Catalogue::parse(json).unwrap();
//! let jobs = c.get("svc_jobs_total").unwrap();
//! assert_eq!(jobs.kind, "counter");
//! assert_eq!(jobs.label("queue").unwrap().values, LabelValues::Budget(8));
//!
//! let e = Catalogue::parse("{\"metrics\": 3}").unwrap_err();
//! assert!(e.to_string().starts_with("not a Watchpost metric catalogue"), "{e}");
//! ```

use std::collections::HashMap;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::source;

/// The values a label may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelValues {
    /// Exactly these values.
    Closed(Vec<String>),
    /// At most this many distinct values.
    Budget(u64),
}

/// One declared label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueLabel {
    /// The label's name.
    pub name: String,
    /// Its values: a closed set or a budget.
    pub values: LabelValues,
}

/// One declared metric.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogueMetric {
    /// The Prometheus family name (with the service prefix; counters end in `_total`).
    pub name: String,
    /// The OpenTelemetry instrument (`counter`, `updowncounter`, `gauge`, `histogram`).
    pub instrument: String,
    /// The Prometheus type (`counter`, `gauge`, `histogram`).
    pub kind: String,
    /// The Prometheus unit (`""`, `seconds`, `bytes`).
    pub unit: String,
    /// The help text.
    pub help: String,
    /// The subsystem (`""`: none).
    pub subsystem: String,
    /// The labels.
    pub labels: Vec<CatalogueLabel>,
    /// Histogram bucket boundaries (empty otherwise).
    pub buckets: Vec<f64>,
    /// The most series the labels allow, if given.
    pub series_budget: Option<u64>,
}

impl CatalogueMetric {
    /// The declared label `name`.
    pub fn label(&self, name: &str) -> Option<&CatalogueLabel> {
        self.labels.iter().find(|l| l.name == name)
    }
}

/// A service's catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalogue {
    /// The service's metric prefix.
    pub service_prefix: String,
    /// The metrics, in the catalogue's order.
    pub metrics: Vec<CatalogueMetric>,
    index: HashMap<String, usize>,
}

#[derive(Deserialize)]
struct RawCatalogue {
    #[serde(default)]
    service_prefix: String,
    metrics: Vec<RawMetric>,
}

#[derive(Deserialize)]
struct RawMetric {
    name: String,
    #[serde(default)]
    instrument: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    unit: String,
    #[serde(default)]
    help: String,
    #[serde(default)]
    subsystem: String,
    #[serde(default)]
    labels: Vec<RawLabel>,
    #[serde(default)]
    buckets: Vec<f64>,
    #[serde(default)]
    series_budget: Option<u64>,
}

#[derive(Deserialize)]
struct RawLabel {
    name: String,
    #[serde(default)]
    values: Option<Vec<String>>,
    #[serde(default)]
    budget: Option<u64>,
}

impl Catalogue {
    /// Parses the library's catalogue JSON.
    pub fn parse(text: &str) -> Result<Catalogue> {
        let raw: RawCatalogue = serde_json::from_str(text).map_err(|e| {
            Error::new(format!("not a Watchpost metric catalogue: {e}")).hint(
                "give the JSON a Watchpost service serves at /metrics/catalogue \
                 ({\"service_prefix\", \"metrics\": [{\"name\", \"type\", \"labels\", …}]})",
            )
        })?;
        let mut metrics = Vec::with_capacity(raw.metrics.len());
        let mut index = HashMap::new();
        for m in raw.metrics {
            let mut labels = Vec::with_capacity(m.labels.len());
            for l in m.labels {
                let values = match (l.values, l.budget) {
                    (Some(v), None) => LabelValues::Closed(v),
                    (None, Some(n)) => LabelValues::Budget(n),
                    _ => {
                        return Err(Error::new(format!(
                            "not a Watchpost metric catalogue: label '{}' of '{}' needs exactly one of \"values\" and \"budget\"",
                            l.name, m.name
                        )))
                    }
                };
                labels.push(CatalogueLabel {
                    name: l.name,
                    values,
                });
            }
            if index.insert(m.name.clone(), metrics.len()).is_some() {
                return Err(Error::new(format!(
                    "not a Watchpost metric catalogue: '{}' is declared twice",
                    m.name
                )));
            }
            metrics.push(CatalogueMetric {
                name: m.name,
                instrument: m.instrument,
                kind: m.kind,
                unit: m.unit,
                help: m.help,
                subsystem: m.subsystem,
                labels,
                buckets: m.buckets,
                series_budget: m.series_budget,
            });
        }
        Ok(Catalogue {
            service_prefix: raw.service_prefix,
            metrics,
            index,
        })
    }

    /// The metric named `name` (a Prometheus family name).
    pub fn get(&self, name: &str) -> Option<&CatalogueMetric> {
        self.index.get(name).map(|&i| &self.metrics[i])
    }
}

/// Reads the catalogue `spec` names: a file, a URL or `-`. Errors name the input.
pub async fn load(spec: &str) -> Result<Catalogue> {
    let text = source::read(spec, "application/json").await?;
    Catalogue::parse(&text).map_err(|e| {
        let message = format!("'{spec}' is {}", e.message());
        Error::new(message).hint(
            "give the JSON a Watchpost service serves at /metrics/catalogue, saved to a file or as a URL",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_librarys_own_export_is_read() {
        let mut defs = watchpost::catalogue::BUILTIN.to_vec();
        defs.extend_from_slice(watchpost::catalogue::HTTP);
        let json = watchpost::catalogue::Catalogue::new("svc", defs).to_json();
        let c = Catalogue::parse(&json).unwrap();
        assert_eq!(c.service_prefix, "svc");
        let http = c.get("svc_http_request_duration_seconds").unwrap();
        assert_eq!(http.kind, "histogram");
        assert_eq!(http.label("path").unwrap().values, LabelValues::Budget(64));
        assert!(
            matches!(http.label("method").unwrap().values, LabelValues::Closed(ref v) if v.len() == 10)
        );
        assert_eq!(
            c.get("svc_http_request_duration_seconds").unwrap().unit,
            "seconds"
        );
        assert!(c.get("process_cpu_seconds_total").is_some());
    }

    #[test]
    fn a_label_with_both_values_and_budget_is_refused() {
        let e = Catalogue::parse(
            r#"{"metrics":[{"name":"a","type":"gauge","labels":[{"name":"x","values":[],"budget":1}]}]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("label 'x' of 'a'"), "{e}");
        assert!(Catalogue::parse("<html>").is_err());
    }
}
