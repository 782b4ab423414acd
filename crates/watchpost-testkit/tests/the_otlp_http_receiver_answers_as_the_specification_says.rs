//! The test receiver's OTLP/HTTP side behaves as the OTLP specification says a server does, over
//! a real socket: a protobuf body (plain or gzipped) is decoded and answered 200 with a protobuf
//! response, its headers recorded; another `Content-Type` gets 415, a body that cannot be
//! decoded 400, and a refusing receiver 503.

use std::io::Write as _;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message as _;
use watchpost_testkit::otlp::{Mode, Receiver, Signal};

fn request() -> Vec<u8> {
    let span = Span {
        name: "checkout".into(),
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![span],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_otlp_http_receiver_answers_as_the_specification_says() {
    let receiver = Receiver::start_http("127.0.0.1:0".parse().unwrap(), None).await;
    let url = format!("{}/v1/traces", receiver.url());
    let client = reqwest::Client::new();
    let post = |content_type: &'static str, encoding: Option<&'static str>, body: Vec<u8>| {
        let mut r = client
            .post(&url)
            .header("content-type", content_type)
            .header("x-api-key", "k1");
        if let Some(e) = encoding {
            r = r.header("content-encoding", e);
        }
        r.body(body).send()
    };

    let plain = post("application/x-protobuf", None, request())
        .await
        .unwrap();
    assert_eq!(plain.status(), 200);
    assert_eq!(plain.headers()["content-type"], "application/x-protobuf");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&request()).unwrap();
    let gzipped = post("application/x-protobuf", Some("gzip"), gz.finish().unwrap());
    assert_eq!(gzipped.await.unwrap().status(), 200);
    let json = post("application/json", None, b"{}".to_vec())
        .await
        .unwrap();
    assert_eq!(json.status(), 415);
    let garbage = post("application/x-protobuf", None, vec![0xff; 7])
        .await
        .unwrap();
    assert_eq!(garbage.status(), 400);
    let bad_gzip = post("application/x-protobuf", Some("gzip"), request())
        .await
        .unwrap();
    assert_eq!(bad_gzip.status(), 400);
    receiver.set_mode(Mode::Unavailable);
    let refused = post("application/x-protobuf", None, request())
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);

    let received = receiver.stop().await;
    let r = received.lock().unwrap();
    assert_eq!(r.spans.len(), 2, "the plain and the gzipped span");
    assert!(r.spans.iter().all(|s| s.name == "checkout"));
    assert_eq!(r.requests.len(), 2);
    for q in &r.requests {
        assert_eq!((q.transport, q.signal), ("http", Signal::Traces));
        assert_eq!(q.header("x-api-key"), Some("k1"));
    }
}
