//! A capturing writer and helpers for in-process tests.
#![allow(dead_code)]

use std::io;
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;

/// Collects every write; each `write_all` from the layer is one line.
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    pub fn lines(&self) -> Vec<String> {
        let buf = self.0.lock().unwrap();
        let text = std::str::from_utf8(&buf).expect("UTF-8 output");
        text.lines().map(str::to_string).collect()
    }

    pub fn json(&self) -> Vec<serde_json::Map<String, serde_json::Value>> {
        self.lines()
            .iter()
            .map(|l| match serde_json::from_str(l) {
                Ok(serde_json::Value::Object(m)) => m,
                other => panic!("not a JSON object: {l:?} ({other:?})"),
            })
            .collect()
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
