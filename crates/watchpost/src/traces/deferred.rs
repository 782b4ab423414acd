//! The HTTP server layer's request span, made from its staged values ([`crate::staged`]) and
//! kept as they are until the span is kept.
//!
//! Most request spans are dropped by the tail sampler (at the default ratio, nine in ten). Their
//! attributes as OpenTelemetry values (a `String` per text value, each cleaned) would be made
//! and freed unused, so the bridge keeps the staged values in one buffer ([`Deferred`]) and makes
//! the attributes only when the span is kept or waits for its trace, or when an attribute is
//! looked up by key ([`OtelSpan::materialize`]). A span whose trace is sampled from its start
//! (kept, unless it is the rare local root whose caller's flag the sampler overrules) gets its
//! attributes at once: deferring would only add a copy. They are exactly what the bridge's field
//! visitor makes of the span's fields, in the same order, first (`http/staged_tests.rs`
//! compares both).

use opentelemetry::{KeyValue, Value};

use super::bridge::{OtelSpan, MAX_ATTRIBUTES};
use super::sampling::TailSampler;
use crate::staged::SpanValues;

/// The attribute keys of the HTTP server layer's request span, in its field order (the
/// attributes [`Deferred::prepend_to`] makes).
pub(super) const STAGED_KEYS: &[&str] = &[
    "subsystem",
    "http.request.method",
    "http.request.method_original",
    "http.route",
    "url.scheme",
    "client.address",
    "client.port",
    "request_id",
];

/// The span's name, as the visitor makes it of `otel.name` (`"{method} {route}"`).
pub(super) fn span_name(v: &SpanValues<'_>) -> String {
    let mut name = String::with_capacity(v.method.len() + 1 + v.route.len());
    name.push_str(v.method);
    name.push(' ');
    name.push_str(v.route);
    name
}

/// A range of [`Deferred::text`].
type Range = (u32, u32);

/// The staged values of a request span, their text in one buffer.
#[derive(Debug)]
pub(crate) struct Deferred {
    text: String,
    subsystem: Range,
    method: &'static str,
    method_original: Option<Range>,
    route: Range,
    client_ip: Option<Range>,
    client_port: Option<u16>,
    request_id: Range,
    /// Which of [`STAGED_KEYS`] are secret names.
    secret: u64,
}

impl Deferred {
    /// The values of `v`, copied; `secret`: which of [`STAGED_KEYS`] are secret names.
    pub(super) fn new(v: &SpanValues<'_>, secret: u64) -> Self {
        let len = v.subsystem.len()
            + v.method_original.map_or(0, str::len)
            + v.route.len()
            + v.client_ip.map_or(0, str::len)
            + v.request_id.len();
        let mut text = String::with_capacity(len);
        let mut add = |s: &str| {
            let start = text.len() as u32;
            text.push_str(s);
            (start, text.len() as u32)
        };
        Deferred {
            subsystem: add(v.subsystem),
            method: v.method,
            method_original: v.method_original.map(&mut add),
            route: add(v.route),
            client_ip: v.client_ip.map(&mut add),
            client_port: v.client_port,
            request_id: add(v.request_id),
            secret,
            text,
        }
    }

    fn get(&self, (start, end): Range) -> &str {
        &self.text[start as usize..end as usize]
    }

    /// How many attributes it makes.
    pub(super) fn count(&self) -> usize {
        // subsystem, method, route, scheme, request id; the optional ones.
        5 + usize::from(self.method_original.is_some())
            + usize::from(self.client_ip.is_some())
            + usize::from(self.client_port.is_some())
    }

    /// The staged values it holds.
    fn values(&self) -> SpanValues<'_> {
        SpanValues {
            subsystem: self.get(self.subsystem),
            method: self.method,
            method_original: self.method_original.map(|r| self.get(r)),
            route: self.get(self.route),
            client_ip: self.client_ip.map(|r| self.get(r)),
            client_port: self.client_port,
            request_id: self.get(self.request_id),
        }
    }

    /// Puts its attributes before `attributes`.
    pub(super) fn prepend_to(self, tail: &TailSampler, attributes: &mut Vec<KeyValue>) {
        let mut made = Vec::with_capacity(self.count() + attributes.len());
        make_attributes(tail, self.secret, &self.values(), &mut made);
        // Nothing cut: what was added meanwhile counted these in (`OtelSpan::attribute_count`),
        // or, like the slow and parent-sampled marks, is never cut.
        made.append(attributes);
        *attributes = made;
    }
}

/// The request span's attributes from its staged values, cleaned as the visitor cleans the
/// span's fields (`secret`: which of [`STAGED_KEYS`] are secret names), in its field order.
pub(super) fn make_attributes(
    tail: &TailSampler,
    secret: u64,
    v: &SpanValues<'_>,
    attributes: &mut Vec<KeyValue>,
) {
    let mut push = |i: usize, value: Value| {
        if attributes.len() >= MAX_ATTRIBUTES {
            return;
        }
        let key = STAGED_KEYS[i];
        let value = if key == "http.request.method_original" {
            // The caller's own extension method: scanned like any value of theirs.
            tail.clean_value(key, value)
        } else {
            tail.clean_trusted_known(secret & 1 << i != 0, value)
        };
        attributes.push(KeyValue::new(key, value));
    };
    push(0, Value::from(v.subsystem.to_string()));
    push(1, Value::from(v.method));
    if let Some(original) = v.method_original {
        push(2, Value::from(original.to_string()));
    }
    push(3, Value::from(v.route.to_string()));
    push(4, Value::from("http"));
    if let Some(ip) = v.client_ip {
        push(5, Value::from(ip.to_string()));
    }
    if let Some(port) = v.client_port {
        push(6, Value::I64(port.into()));
    }
    push(7, Value::from(v.request_id.to_string()));
}

impl OtelSpan {
    /// Makes the deferred attributes, if any, before the others.
    pub(super) fn materialize(&mut self, tail: &TailSampler) {
        if let Some(d) = self.deferred.take() {
            d.prepend_to(tail, &mut self.attributes);
        }
    }

    /// The number of attributes, the deferred ones included.
    pub(super) fn attribute_count(&self) -> usize {
        self.attributes.len() + self.deferred.as_ref().map_or(0, Deferred::count)
    }
}
