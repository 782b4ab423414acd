//! OTLP attributes as the console builds and reads them: a [`kv`] pair from a key and a value
//! (what a scrape's labels, a tailed line's keys and an export's attributes become) and a
//! resource's `service.name` ([`service_name`]).
//!
//! ```
//! use watchpost_cli::console::otlp_kv::{kv, service_name, text};
//! use opentelemetry_proto::tonic::resource::v1::Resource;
//! let resource = Resource { attributes: vec![kv("service.name", text("procman"))], ..Resource::default() };
//! assert_eq!(service_name(Some(&resource)), Some("procman"));
//! assert_eq!(service_name(None), None);
//! ```

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;

/// An attribute: `key` = `value`.
pub fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

/// A string value.
pub fn text(s: &str) -> any_value::Value {
    any_value::Value::StringValue(s.to_owned())
}

/// The string value of the attribute `key` among `attrs`, if it has one.
pub fn find_text<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| match &v.value {
            Some(any_value::Value::StringValue(s)) => Some(s.as_str()),
            _ => None,
        })
}

/// A resource's `service.name`, when it has a string one.
pub fn service_name(resource: Option<&Resource>) -> Option<&str> {
    resource.and_then(|r| find_text(&r.attributes, "service.name"))
}
