//! Log lines captured from an in-memory writer, and JSON-line parsing.

use std::io;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};
use tracing_subscriber::fmt::MakeWriter;

/// One log line parsed as a JSON object.
pub type Line = Map<String, Value>;

/// An in-memory writer (`std::io::Write` and `MakeWriter`) that collects every write; each
/// `write_all` of a log line is one line. Clones share the buffer.
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    /// The captured text, line by line.
    pub fn lines(&self) -> Vec<String> {
        let buf = self.0.lock().unwrap();
        let text = std::str::from_utf8(&buf).expect("UTF-8 output");
        text.lines().map(str::to_string).collect()
    }

    /// Every captured line as a JSON object; panics naming the first line that is not one.
    pub fn json(&self) -> Vec<Line> {
        parse_all(&self.lines())
    }
}

impl io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Parses a line as one JSON object, failing the test with the line if it is not one.
pub fn parse(line: &str) -> Line {
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(m)) => m,
        other => panic!("not a JSON object line: {line:?} ({other:?})"),
    }
}

/// [`parse`] for each line.
pub fn parse_all(lines: &[String]) -> Vec<Line> {
    lines.iter().map(|l| parse(l)).collect()
}

/// The (level, subsystem, msg) of each line; panics if a line lacks one of them.
pub fn msgs(lines: &[Line]) -> Vec<(String, String, String)> {
    lines
        .iter()
        .map(|l| {
            (
                l["level"].as_str().unwrap().to_string(),
                l["subsystem"].as_str().unwrap().to_string(),
                l["msg"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The top-level keys of a JSON object line, in the order they are written (for tests of the
/// key order that do not depend on `serde_json`'s `preserve_order` feature); panics if `line`
/// is not one JSON object.
///
/// ```
/// let keys = watchpost_testkit::capture::keys(r#"{"b":1,"a":{"x":[1,"}"]},"c":"\"q\""}"#);
/// assert_eq!(keys, ["b", "a", "c"]);
/// ```
pub fn keys(line: &str) -> Vec<String> {
    parse(line); // one JSON object, or the test fails here
    let b = line.trim().as_bytes();
    // The end of the string starting at `b[i] == '"'` (the index after its closing quote).
    let string_end = |mut i: usize| {
        i += 1;
        while b[i] != b'"' {
            i += if b[i] == b'\\' { 2 } else { 1 };
        }
        i + 1
    };
    let mut keys = Vec::new();
    let mut i = 1; // after `{`
    let mut depth = 0;
    let mut expect_key = true;
    while i < b.len() {
        match b[i] {
            b'"' => {
                let end = string_end(i);
                if depth == 0 && expect_key {
                    let key: String = serde_json::from_slice(&b[i..end]).unwrap();
                    keys.push(key);
                    expect_key = false;
                }
                i = end;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth -= 1,
            b',' if depth == 0 => expect_key = true,
            _ => {}
        }
        i += 1;
    }
    keys
}
