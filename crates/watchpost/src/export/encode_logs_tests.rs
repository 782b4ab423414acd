//! Our encoding of queued log lines against the SDK path's (the SDK's `LogRecord` built by
//! `LogMaker::make`, then opentelemetry-proto's transform, which opentelemetry-otlp sends), both
//! decoded with prost and compared field by field.
//!
//! A queued line's values are what its JSON line can hold: strings, integers, floats and
//! booleans (the bridge never makes byte, array or map values), all of them here.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::logs::LoggerProvider as _;
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::transform::logs::tonic::group_logs_by_resource_and_scope;
use opentelemetry_sdk::logs::{LogBatch, SdkLoggerProvider};
use opentelemetry_sdk::Resource;
use prost::Message as _;

use super::LogEncoder;
use crate::export::encode::tests::assert_canonical;
use crate::export::LogMaker;
use crate::logs::PendingLog;

fn maker() -> LogMaker {
    LogMaker {
        logger: SdkLoggerProvider::builder().build().logger("watchpost"),
        scope: InstrumentationScope::builder("watchpost")
            .with_version("9.8.7")
            .build(),
        subsystems: vec!["api".into(), "db".into()],
    }
}

#[allow(clippy::too_many_arguments)]
fn line(
    time: SystemTime,
    verbosity: u8,
    target: &'static str,
    body: &str,
    subsystem: u16,
    ids: Option<([u8; 16], [u8; 8])>,
    fields: &str,
) -> PendingLog {
    PendingLog {
        time,
        verbosity,
        target: target.into(),
        body: body.into(),
        subsystem,
        ids,
        fields: fields.as_bytes().to_vec(),
    }
}

/// Lines of every severity, with and without a trace context, from three targets interleaved,
/// with every kind of field value (escaped strings, integers, floats, booleans, a number too
/// large for an integer, a value that is no number), and a subsystem that is not known.
fn lines() -> Vec<PendingLog> {
    let t = UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789);
    let ids = Some(([7; 16], [9; 8]));
    vec![
        line(
            t,
            1,
            "procman::api",
            "spawn failed: \"x\"",
            0,
            ids,
            r#","instance_id":"inst-1","attempt":3,"ratio":0.5,"cached":true,"note":"a \"quoted\" \\ back\nslash é \u00e9""#,
        ),
        line(
            t,
            2,
            "procman::db",
            "slow query",
            1,
            None,
            r#","ms":-12,"big":18446744073709551616,"neg_zero":-0.0,"exp":1e300,"off":false"#,
        ),
        line(t, 3, "procman::api", "", 0, ids, ""),
        line(
            UNIX_EPOCH,
            4,
            "hyper",
            "é ünïcode ✓",
            7,
            None,
            r#","raw":nope"#,
        ),
        line(
            t,
            0,
            "procman::db",
            "verbosity 0 is debug",
            1,
            ids,
            r#","empty":"""#,
        ),
        line(
            t,
            9,
            "procman::api",
            "verbosity 9 too",
            0,
            None,
            r#","n":0"#,
        ),
    ]
}

fn resource() -> Resource {
    Resource::builder_empty()
        .with_attributes([
            KeyValue::new("service.name", "procman"),
            KeyValue::new("deployment.environment.name", "test"),
            KeyValue::new("process.pid", 4242_i64),
        ])
        .build()
}

/// Scopes sorted by name (the SDK groups records in a hash map), resource attributes by key.
fn normalized(mut request: ExportLogsServiceRequest) -> ExportLogsServiceRequest {
    for rl in &mut request.resource_logs {
        if let Some(r) = &mut rl.resource {
            r.attributes.sort_by(|a, b| a.key.cmp(&b.key));
        }
        rl.scope_logs.sort_by(|a, b| {
            a.scope
                .as_ref()
                .map(|s| &s.name)
                .cmp(&b.scope.as_ref().map(|s| &s.name))
        });
    }
    request
}

/// What the SDK path sends for `lines`.
fn sdk(maker: &LogMaker, lines: &[PendingLog], resource: &Resource) -> ExportLogsServiceRequest {
    let records: Vec<_> = lines.iter().map(|p| maker.make(p)).collect();
    let refs: Vec<_> = records.iter().map(|(r, s)| (r, s)).collect();
    let batch = LogBatch::new(&refs);
    let request = ExportLogsServiceRequest {
        resource_logs: group_logs_by_resource_and_scope(&batch, &resource.into()),
    };
    normalized(ExportLogsServiceRequest::decode(&*request.encode_to_vec()).unwrap())
}

fn decode(bytes: &[u8]) -> ExportLogsServiceRequest {
    normalized(ExportLogsServiceRequest::decode(bytes).expect("our bytes are valid protobuf"))
}

/// Compares record by record first (a readable failure), then everything.
fn assert_same(ours: &ExportLogsServiceRequest, sdk: &ExportLogsServiceRequest) {
    assert_eq!(ours.resource_logs.len(), sdk.resource_logs.len());
    for (o, s) in ours.resource_logs.iter().zip(&sdk.resource_logs) {
        assert_eq!(o.resource, s.resource, "resource");
        assert_eq!(o.schema_url, s.schema_url, "resource schema");
        assert_eq!(o.scope_logs.len(), s.scope_logs.len(), "scopes");
        for (os, ss) in o.scope_logs.iter().zip(&s.scope_logs) {
            assert_eq!(os.scope, ss.scope, "scope");
            assert_eq!(os.schema_url, ss.schema_url, "scope schema");
            assert_eq!(os.log_records.len(), ss.log_records.len(), "{:?}", os.scope);
            for (a, b) in os.log_records.iter().zip(&ss.log_records) {
                assert_eq!(a, b);
            }
        }
    }
    assert_eq!(ours, sdk);
}

#[test]
fn log_lines_encode_to_what_the_sdk_path_sends() {
    let (maker, resource, lines) = (maker(), resource(), lines());
    let mut encoder = LogEncoder::new(&resource);
    let ours = decode(encoder.encode(&maker, &lines));
    let sdk = sdk(&maker, &lines, &resource);
    assert_eq!(ours.resource_logs[0].scope_logs.len(), 3, "three targets");
    let first = &ours.resource_logs[0].scope_logs[1].log_records[0];
    assert_eq!(first.attributes.len(), 6, "subsystem and five fields");
    assert_same(&ours, &sdk);
    // The buffer and scopes are reused; a later batch is encoded afresh.
    let later = &lines[2..];
    assert_same(
        &decode(encoder.encode(&maker, later)),
        &self::sdk(&maker, later, &resource),
    );
}

#[test]
fn an_empty_batch_encodes_as_the_sdk_path_does() {
    let (maker, resource) = (maker(), resource());
    let mut encoder = LogEncoder::new(&resource);
    assert_same(
        &decode(encoder.encode(&maker, &[])),
        &sdk(&maker, &[], &resource),
    );
}

#[test]
fn every_length_prefix_in_a_log_request_is_minimal() {
    let (maker, resource, lines) = (maker(), resource(), lines());
    let mut encoder = LogEncoder::new(&resource);
    for batch in [&lines[..], &lines[..0], &lines[..1], &lines[2..]] {
        let seen = assert_canonical(encoder.encode(&maker, batch), "ExportLogsServiceRequest");
        assert!(seen.lengths > 0);
    }
    // Many records from three targets: wrappers of two- and three-byte lengths, each scope's
    // gap closed.
    let many: Vec<PendingLog> = (0..300).flat_map(|_| self::lines()).collect();
    let seen = assert_canonical(encoder.encode(&maker, &many), "ExportLogsServiceRequest");
    assert!(seen.longest >= 16_384, "{seen:?}");
    assert_same(
        &decode(encoder.encode(&maker, &many)),
        &sdk(&maker, &many, &resource),
    );
}

/// The fields read straight into protobuf are the ones `parse_fields` reads, for every prefix of
/// lines with every kind of value (so for every way a line can be cut or malformed).
#[test]
fn fields_are_read_as_parse_fields_reads_them_whatever_the_cut() {
    use crate::logs::encode::{parse_fields, FieldValue};
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue, KeyValueList};
    let lines = [
        r#","s":"plain","q":"a \"q\" \\ \/ \n\r\t\b\f \u00e9 \u0001 ✓","i":-42,"f":1.5e-3,"t":true,"x":false"#,
        r#","big":18446744073709551616,"inf":inf,"nan":NaN,"raw":nope,"e":"","":"empty key""#,
        r#","bad":"\ud800","after":1"#,
        r#","trail":truex,"n":2"#,
        r#","odd":"a\éb","long":1234567890123456789,"plus":+5,"minus":-,"zeros":007,"m0":-0"#,
        "no comma",
        "",
    ];
    for line in lines {
        for cut in 0..=line.len() {
            let Some(json) = line.as_bytes().get(..cut) else {
                continue;
            };
            let mut buf = Vec::new();
            super::fields(&mut buf, 1, json);
            let ours = KeyValueList::decode(&*buf).expect("valid protobuf").values;
            let theirs: Vec<KeyValue> = parse_fields(json)
                .into_iter()
                .map(|(key, v)| KeyValue {
                    key,
                    value: Some(AnyValue {
                        value: Some(match v {
                            FieldValue::Str(s) => any_value::Value::StringValue(s),
                            FieldValue::Int(i) => any_value::Value::IntValue(i),
                            FieldValue::Float(f) => any_value::Value::DoubleValue(f),
                            FieldValue::Bool(b) => any_value::Value::BoolValue(b),
                        }),
                    }),
                    ..Default::default()
                })
                .collect();
            assert_eq!(
                format!("{ours:?}"),
                format!("{theirs:?}"),
                "{:?}",
                String::from_utf8_lossy(json)
            );
        }
    }
}

/// The word-at-a-time search finds what a byte-at-a-time one finds, at every offset.
#[test]
fn the_quote_search_finds_the_first_quote_or_backslash_at_every_offset() {
    for len in 0..40 {
        for at in 0..=len {
            for mark in [b'"', b'\\'] {
                // Bytes either side of the marks (0x22 ± 1, 0x5c ± 1, high bytes) must not match.
                let mut s: Vec<u8> = (0..len)
                    .map(|i| [b'!', b'#', b'[', b']', 0xe9][i % 5])
                    .collect();
                if at < len {
                    s[at] = mark;
                    if at + 3 < len {
                        s[at + 3] = b'"';
                    }
                }
                let naive = s.iter().position(|&b| b == b'"' || b == b'\\');
                assert_eq!(super::quote_or_backslash(&s), naive, "{s:?}");
            }
        }
    }
}

#[test]
fn short_decimals_are_read_as_the_standard_parser_reads_them() {
    let mut texts: Vec<String> = Vec::new();
    for n in (0..200_000u64)
        .step_by(7)
        .chain([999_999_999_999_999, 123_456_789_012_345])
    {
        for decimals in 1..=3usize {
            let digits = format!("{n:0width$}", width = decimals + 1);
            let (int, frac) = digits.split_at(digits.len() - decimals);
            texts.push(format!("{int}.{frac}"));
            texts.push(format!("-{int}.{frac}"));
        }
    }
    for text in &texts {
        let ours = super::small_decimal(text.as_bytes());
        let expected: f64 = text.parse().unwrap();
        match ours {
            Some(v) => assert_eq!(v.to_bits(), expected.to_bits(), "{text}"),
            // Only beyond 15 digits is it left to the parser.
            None => assert!(text.trim_start_matches('-').len() > 16, "{text}"),
        }
    }
    for other in [
        "1", ".5", "1.", "1.2345", "1e3", "1.2.3", "-", "", "0x1.0", "1.5 ", "١.٥",
    ] {
        assert_eq!(super::small_decimal(other.as_bytes()), None, "{other:?}");
    }
}
