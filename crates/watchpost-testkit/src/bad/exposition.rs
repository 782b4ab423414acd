//! A deliberately bad exposition: each `metric.*` rule of `watchpost lint` broken exactly once,
//! each by a family of its own with an obvious name, and a catalogue that adds
//! `metric.undeclared` and `metric.catalogue-mismatch` once each.
//!
//! Not here: `metric.parse-error` (a broken line), `metric.series-growth` (needs two scrapes) and
//! `metric.no-application-metric` (needs an exposition with only third-party families): they
//! cannot coexist with the rest. Without the catalogue, `metric.undeclared` and
//! `metric.catalogue-mismatch` do not fire either.
//!
//! The exposition is Prometheus text 0.0.4 (`# UNIT` is a comment to Prometheus, read by
//! `watchpost lint`), and every family but the one of `metric.no-help` has its HELP.

/// The bad exposition (Prometheus text format).
pub const BAD_EXPOSITION: &str = r#"# HELP bad_latency_milliseconds Latency of the last job, in a non-base unit.
# TYPE bad_latency_milliseconds gauge
bad_latency_milliseconds 12
# TYPE bad_no_help_total counter
bad_no_help_total 1
# HELP bad_events_untotalled Events seen, as a counter without the _total suffix.
# TYPE bad_events_untotalled counter
bad_events_untotalled 4
# HELP bad_queued_total Jobs queued now, a gauge named like a counter.
# TYPE bad_queued_total gauge
bad_queued_total 2
# HELP bad_items_count Items held, a gauge with a reserved suffix.
# TYPE bad_items_count gauge
bad_items_count 7
# HELP bad_reserved_label_ratio Fill ratio, a gauge with a reserved label.
# TYPE bad_reserved_label_ratio gauge
bad_reserved_label_ratio{le="1"} 0.5
# HELP bad_type_gauge Something, with its type in its name.
# TYPE bad_type_gauge gauge
bad_type_gauge 1
# HELP bad:colon_ratio Something, with a colon in its name.
# TYPE bad:colon_ratio gauge
bad:colon_ratio 0.25
# HELP bad_camelCase_items Items, named in camelCase.
# TYPE bad_camelCase_items gauge
bad_camelCase_items 3
# HELP bad_wait_ms Wait time, with an abbreviated unit.
# TYPE bad_wait_ms gauge
bad_wait_ms 5
# HELP bad_duplicate_series Something, with one series written twice.
# TYPE bad_duplicate_series gauge
bad_duplicate_series{kind="a"} 1
bad_duplicate_series{kind="a"} 1
# HELP bad_unit_mismatch_seconds Something in seconds, declared in bytes.
# TYPE bad_unit_mismatch_seconds gauge
# UNIT bad_unit_mismatch_seconds bytes
bad_unit_mismatch_seconds 1
# HELP bad_high_cardinality_items Items per shard, with one shard too many.
# TYPE bad_high_cardinality_items gauge
bad_high_cardinality_items{shard="s0"} 1
bad_high_cardinality_items{shard="s1"} 1
bad_high_cardinality_items{shard="s2"} 1
bad_high_cardinality_items{shard="s3"} 1
bad_high_cardinality_items{shard="s4"} 1
bad_high_cardinality_items{shard="s5"} 1
bad_high_cardinality_items{shard="s6"} 1
bad_high_cardinality_items{shard="s7"} 1
bad_high_cardinality_items{shard="s8"} 1
bad_high_cardinality_items{shard="s9"} 1
bad_high_cardinality_items{shard="s10"} 1
bad_high_cardinality_items{shard="s11"} 1
bad_high_cardinality_items{shard="s12"} 1
bad_high_cardinality_items{shard="s13"} 1
bad_high_cardinality_items{shard="s14"} 1
bad_high_cardinality_items{shard="s15"} 1
bad_high_cardinality_items{shard="s16"} 1
bad_high_cardinality_items{shard="s17"} 1
bad_high_cardinality_items{shard="s18"} 1
bad_high_cardinality_items{shard="s19"} 1
bad_high_cardinality_items{shard="s20"} 1
bad_high_cardinality_items{shard="s21"} 1
bad_high_cardinality_items{shard="s22"} 1
bad_high_cardinality_items{shard="s23"} 1
bad_high_cardinality_items{shard="s24"} 1
bad_high_cardinality_items{shard="s25"} 1
bad_high_cardinality_items{shard="s26"} 1
bad_high_cardinality_items{shard="s27"} 1
bad_high_cardinality_items{shard="s28"} 1
bad_high_cardinality_items{shard="s29"} 1
bad_high_cardinality_items{shard="s30"} 1
bad_high_cardinality_items{shard="s31"} 1
bad_high_cardinality_items{shard="s32"} 1
bad_high_cardinality_items{shard="s33"} 1
bad_high_cardinality_items{shard="s34"} 1
bad_high_cardinality_items{shard="s35"} 1
bad_high_cardinality_items{shard="s36"} 1
bad_high_cardinality_items{shard="s37"} 1
bad_high_cardinality_items{shard="s38"} 1
bad_high_cardinality_items{shard="s39"} 1
bad_high_cardinality_items{shard="s40"} 1
bad_high_cardinality_items{shard="s41"} 1
bad_high_cardinality_items{shard="s42"} 1
bad_high_cardinality_items{shard="s43"} 1
bad_high_cardinality_items{shard="s44"} 1
bad_high_cardinality_items{shard="s45"} 1
bad_high_cardinality_items{shard="s46"} 1
bad_high_cardinality_items{shard="s47"} 1
bad_high_cardinality_items{shard="s48"} 1
bad_high_cardinality_items{shard="s49"} 1
bad_high_cardinality_items{shard="s50"} 1
bad_high_cardinality_items{shard="s51"} 1
bad_high_cardinality_items{shard="s52"} 1
bad_high_cardinality_items{shard="s53"} 1
bad_high_cardinality_items{shard="s54"} 1
bad_high_cardinality_items{shard="s55"} 1
bad_high_cardinality_items{shard="s56"} 1
bad_high_cardinality_items{shard="s57"} 1
bad_high_cardinality_items{shard="s58"} 1
bad_high_cardinality_items{shard="s59"} 1
bad_high_cardinality_items{shard="s60"} 1
bad_high_cardinality_items{shard="s61"} 1
bad_high_cardinality_items{shard="s62"} 1
bad_high_cardinality_items{shard="s63"} 1
bad_high_cardinality_items{shard="s64"} 1
bad_high_cardinality_items{shard="s65"} 1
bad_high_cardinality_items{shard="s66"} 1
bad_high_cardinality_items{shard="s67"} 1
bad_high_cardinality_items{shard="s68"} 1
bad_high_cardinality_items{shard="s69"} 1
bad_high_cardinality_items{shard="s70"} 1
bad_high_cardinality_items{shard="s71"} 1
bad_high_cardinality_items{shard="s72"} 1
bad_high_cardinality_items{shard="s73"} 1
bad_high_cardinality_items{shard="s74"} 1
bad_high_cardinality_items{shard="s75"} 1
bad_high_cardinality_items{shard="s76"} 1
bad_high_cardinality_items{shard="s77"} 1
bad_high_cardinality_items{shard="s78"} 1
bad_high_cardinality_items{shard="s79"} 1
bad_high_cardinality_items{shard="s80"} 1
bad_high_cardinality_items{shard="s81"} 1
bad_high_cardinality_items{shard="s82"} 1
bad_high_cardinality_items{shard="s83"} 1
bad_high_cardinality_items{shard="s84"} 1
bad_high_cardinality_items{shard="s85"} 1
bad_high_cardinality_items{shard="s86"} 1
bad_high_cardinality_items{shard="s87"} 1
bad_high_cardinality_items{shard="s88"} 1
bad_high_cardinality_items{shard="s89"} 1
bad_high_cardinality_items{shard="s90"} 1
bad_high_cardinality_items{shard="s91"} 1
bad_high_cardinality_items{shard="s92"} 1
bad_high_cardinality_items{shard="s93"} 1
bad_high_cardinality_items{shard="s94"} 1
bad_high_cardinality_items{shard="s95"} 1
bad_high_cardinality_items{shard="s96"} 1
bad_high_cardinality_items{shard="s97"} 1
bad_high_cardinality_items{shard="s98"} 1
bad_high_cardinality_items{shard="s99"} 1
bad_high_cardinality_items{shard="s100"} 1
# HELP bad_id_label_items Items per path, labelled with a path that carries an id.
# TYPE bad_id_label_items gauge
bad_id_label_items{path="/users/12345/items"} 1
# HELP bad_denormalized_items Items by kind, with a series that sums the others.
# TYPE bad_denormalized_items gauge
bad_denormalized_items{kind="a"} 1
bad_denormalized_items{kind="b"} 2
bad_denormalized_items{kind="all"} 3
# HELP bad_lonely_requests_total Requests served, never timed.
# TYPE bad_lonely_requests_total counter
bad_lonely_requests_total 9
# HELP bad_undeclared_items Items, missing from the catalogue.
# TYPE bad_undeclared_items gauge
bad_undeclared_items 1
# HELP bad_catalogue_mismatch_items Items by kind, with a kind the catalogue does not allow.
# TYPE bad_catalogue_mismatch_items gauge
bad_catalogue_mismatch_items{kind="c"} 1
"#;

/// A catalogue (the library's JSON) that declares every family of [`BAD_EXPOSITION`] but
/// `bad_undeclared_items`, and gives `bad_catalogue_mismatch_items` a closed set without its
/// value `c`; every other declaration matches (types, labels, units, budgets) but the budget of
/// `bad_high_cardinality_items`' `shard` (100, with 101 values: a declared budget replaces the
/// default limit). `bad_id_label_items`' `path` has a budget, which excuses UUIDs, long hex and
/// IP addresses but not a number in a path.
pub const BAD_CATALOGUE_JSON: &str = r#"{
  "service_prefix": "bad",
  "metrics": [
    {"name": "bad_latency_milliseconds", "instrument": "gauge", "type": "gauge", "unit": "", "help": "", "subsystem": "", "labels": [], "buckets": [], "series_budget": 1000},
    {"name": "bad_no_help_total", "instrument": "counter", "type": "counter", "unit": "", "help": "", "subsystem": "", "labels": [], "buckets": [], "series_budget": 1000},
    {"name": "bad_events_untotalled", "instrument": "counter", "type": "counter", "unit": "", "help": "", "subsystem": "", "labels": [], "buckets": [], "series_budget": 1000},
    {"name": "bad_queued_total", "instrument": "gauge", "type": "gauge", "unit": "", "help": "", "subsystem": "", "labels": [], "buckets": [], "series_budget": 1000},
    {"name": "bad_items_count", "instrument": "gauge", "type": "gauge", "unit": "", "help": "", "subsystem": "", "labels": [], "buckets": [], "series_budget": 1000},
    {"name": "bad_reserved_label_ratio", "instrument": "gauge", "type": "gauge", "unit": "", "help": "", "subsystem": "", "labels": [], "buckets": [], "series_budget": 1000},
    {"name": "bad_type_gauge", "instrument": "gauge", "type": "gauge", "unit": "", "help": "", "subsystem": "", "labels": [], "buckets": [], "series_budget": 1000},
    {"name": "bad:colon_ratio", "instrument": "gauge", "type": "gauge", "unit": "", "help": "", "subsystem": "", "labels": [], "buckets": [], "series_budget": 1000},
    {"name": "bad_camelCase_items", "instrument": "gauge", "type": "gauge", "unit": "", "help": "", "subsystem": "", "labels": [], "buckets": [], "series_budget": 1000},
    {"name": "bad_wait_ms", "instrument": "gauge", "type": "gauge", "unit": "", "help": "", "subsystem": "", "labels": [], "buckets": [], "series_budget": 1000},
    {"name": "bad_duplicate_series", "instrument": "gauge", "type": "gauge", "unit": "", "help": "", "subsystem": "", "labels": [{"name": "kind", "values": ["a"]}], "buckets": [], "series_budget": 1000},
    {"name": "bad_unit_mismatch_seconds", "instrument": "gauge", "type": "gauge", "unit": "seconds", "help": "", "subsystem": "", "labels": [], "buckets": [], "series_budget": 1000},
    {"name": "bad_high_cardinality_items", "instrument": "gauge", "type": "gauge", "unit": "", "help": "", "subsystem": "", "labels": [{"name": "shard", "budget": 100}], "buckets": [], "series_budget": 1000},
    {"name": "bad_id_label_items", "instrument": "gauge", "type": "gauge", "unit": "", "help": "", "subsystem": "", "labels": [{"name": "path", "budget": 10}], "buckets": [], "series_budget": 1000},
    {"name": "bad_denormalized_items", "instrument": "gauge", "type": "gauge", "unit": "", "help": "", "subsystem": "", "labels": [{"name": "kind", "values": ["a", "b", "all"]}], "buckets": [], "series_budget": 1000},
    {"name": "bad_lonely_requests_total", "instrument": "counter", "type": "counter", "unit": "", "help": "", "subsystem": "", "labels": [], "buckets": [], "series_budget": 1000},
    {"name": "bad_catalogue_mismatch_items", "instrument": "gauge", "type": "gauge", "unit": "", "help": "", "subsystem": "", "labels": [{"name": "kind", "values": ["a", "b"]}], "buckets": [], "series_budget": 1000}
  ]
}
"#;

/// Rule id → the one family of [`BAD_EXPOSITION`] that breaks it (the last two need
/// [`BAD_CATALOGUE_JSON`]).
pub const BAD_RULE_FAMILIES: &[(&str, &str)] = &[
    ("metric.no-help", "bad_no_help_total"),
    ("metric.non-base-unit", "bad_latency_milliseconds"),
    ("metric.counter-without-total", "bad_events_untotalled"),
    ("metric.total-on-non-counter", "bad_queued_total"),
    ("metric.reserved-suffix", "bad_items_count"),
    ("metric.reserved-label", "bad_reserved_label_ratio"),
    ("metric.type-in-name", "bad_type_gauge"),
    ("metric.colon-in-name", "bad:colon_ratio"),
    ("metric.camel-case", "bad_camelCase_items"),
    ("metric.unit-abbreviation", "bad_wait_ms"),
    ("metric.duplicate", "bad_duplicate_series"),
    ("metric.unit-suffix", "bad_unit_mismatch_seconds"),
    ("metric.high-cardinality", "bad_high_cardinality_items"),
    ("metric.id-like-label", "bad_id_label_items"),
    ("metric.denormalized", "bad_denormalized_items"),
    (
        "metric.requests-without-histogram",
        "bad_lonely_requests_total",
    ),
    ("metric.undeclared", "bad_undeclared_items"),
    ("metric.catalogue-mismatch", "bad_catalogue_mismatch_items"),
];
