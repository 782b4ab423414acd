//! The segment files: the record format, listing, and the replay at start.

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::Instant;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;

use super::{now_ms, Counters, DataOptions, HEADER, MAGIC, MAX_RECORD};
use crate::console::store::Store;
use crate::error::Error;
use crate::otlp::Batch;

/// One record: header (length, CRC-32 of the body), then the body (signal, receive time, the
/// request as protobuf).
pub(super) fn record(signal: u8, msg: &impl prost::Message) -> Vec<u8> {
    record_at(signal, now_ms(), msg)
}

/// The length of the record of a request that encodes to `encoded` bytes.
pub(super) fn record_len(encoded: usize) -> usize {
    HEADER + 9 + encoded
}

fn record_at(signal: u8, ms: u64, msg: &impl prost::Message) -> Vec<u8> {
    let mut out = Vec::with_capacity(record_len(msg.encoded_len()));
    out.extend_from_slice(&[0; HEADER]);
    out.push(signal);
    out.extend_from_slice(&ms.to_le_bytes());
    let _ = msg.encode(&mut out);
    let len = (out.len() - HEADER) as u32;
    let mut crc = flate2::Crc::new();
    crc.update(&out[HEADER..]);
    out[..4].copy_from_slice(&len.to_le_bytes());
    out[4..8].copy_from_slice(&crc.sum().to_le_bytes());
    out
}

/// Where reading a segment stopped before its end (the offset of the record that cannot be
/// used), and why.
type Stop = Option<(u64, &'static str)>;

/// Reads into `buf` until it is full or the end: how many bytes were read.
fn fill(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Reads a segment of `size` bytes record by record (one record in memory at a time), handing
/// each (signal, receive time, request) to `each`, which answers false when it cannot use it.
/// With `verify` false only each record's header and receive time are read (the request is
/// skipped, `each` gets it empty, the checksum is not checked). Where and why it stopped
/// before the end, if it did.
fn scan<R: Read + Seek>(
    r: &mut R,
    size: u64,
    verify: bool,
    mut each: impl FnMut(u8, u64, &[u8]) -> bool,
) -> Stop {
    const UNREADABLE: &str = "the file cannot be read from here";
    let mut magic = [0u8; MAGIC.len()];
    match fill(r, &mut magic) {
        Ok(n) if n == MAGIC.len() && &magic == MAGIC => {}
        Ok(_) => {
            return Some((
                0,
                "no segment header (not written by the console, or cut short)",
            ))
        }
        Err(_) => return Some((0, UNREADABLE)),
    }
    let mut off = MAGIC.len() as u64;
    let mut body = Vec::new();
    loop {
        let mut head = [0u8; HEADER];
        match fill(r, &mut head) {
            Ok(0) => return None,
            Ok(n) if n < HEADER => return Some((off, "a record's header is cut short")),
            Ok(_) => {}
            Err(_) => return Some((off, UNREADABLE)),
        }
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        if !(9..=MAX_RECORD).contains(&len) {
            return Some((off, "a record's length cannot be right"));
        }
        // Checked before anything is allocated for it: a wrong length never takes memory.
        if off + (HEADER + len) as u64 > size {
            return Some((off, "a record is cut short (its write was interrupted)"));
        }
        let wanted = if verify { len } else { 9 };
        body.resize(wanted, 0);
        match fill(r, &mut body) {
            Ok(n) if n == wanted => {}
            Ok(_) => return Some((off, "a record is cut short (its write was interrupted)")),
            Err(_) => return Some((off, UNREADABLE)),
        }
        let signal = body[0];
        let sum_ok = !verify || {
            let mut check = flate2::Crc::new();
            check.update(&body);
            check.sum() == crc
        };
        if !sum_ok || !(1..=3).contains(&signal) {
            return Some((off, "a record's checksum does not match"));
        }
        let ms = u64::from_le_bytes(body[1..9].try_into().unwrap_or_default());
        if !verify && r.seek(SeekFrom::Current((len - 9) as i64)).is_err() {
            return Some((off, UNREADABLE));
        }
        if !each(signal, ms, &body[9..]) {
            return Some((off, "a record cannot be decoded"));
        }
        off += (HEADER + len) as u64;
    }
}

fn decode(signal: u8, payload: &[u8]) -> Option<Batch> {
    match signal {
        1 => ExportTraceServiceRequest::decode(payload)
            .ok()
            .map(Batch::Traces),
        2 => ExportLogsServiceRequest::decode(payload)
            .ok()
            .map(Batch::Logs),
        3 => ExportMetricsServiceRequest::decode(payload)
            .ok()
            .map(Batch::Metrics),
        _ => None,
    }
}

/// A segment file.
#[derive(Debug)]
pub(super) struct Segment {
    pub(super) path: PathBuf,
    pub(super) first_ms: u64,
    pub(super) last_ms: u64,
    pub(super) bytes: u64,
}

/// The segments in `dir`, oldest first: only `segment-<digits>.otlp` files.
fn list(dir: &Path) -> crate::Result<Vec<Segment>> {
    let entries = fs::read_dir(dir).map_err(|e| {
        Error::new(format!(
            "--data {}: cannot read the directory: {e}",
            dir.display()
        ))
        .hint("give a directory this user can read and write")
    })?;
    let mut segs: Vec<Segment> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name();
            let ms = name
                .to_str()?
                .strip_prefix("segment-")?
                .strip_suffix(".otlp")
                .filter(|d| {
                    !d.is_empty() && d.len() <= 20 && d.bytes().all(|b| b.is_ascii_digit())
                })?
                .parse::<u64>()
                .ok()?;
            let meta = e.metadata().ok().filter(fs::Metadata::is_file)?;
            Some(Segment {
                path: e.path(),
                first_ms: ms,
                last_ms: ms,
                bytes: meta.len(),
            })
        })
        .collect();
    segs.sort_by_key(|s| s.first_ms);
    Ok(segs)
}

pub(super) fn delete(seg: &Segment, counter: &AtomicU64, why: &str) {
    match fs::remove_file(&seg.path) {
        Ok(()) => {
            counter.fetch_add(1, Ordering::Relaxed);
            tracing::info!(target: "watchpost_cli::console", file = %seg.path.display(), bytes = seg.bytes, reason = why, "deleted a data segment");
        }
        Err(e) => {
            tracing::warn!(target: "watchpost_cli::console", file = %seg.path.display(), error = %e, "cannot delete a data segment");
        }
    }
}

/// At start: deletes what the cap and the retention exclude, replays the rest into the store.
pub(super) fn replay(
    options: &DataOptions,
    store: &RwLock<Store>,
    counters: &Counters,
) -> crate::Result<VecDeque<Segment>> {
    let started = Instant::now();
    let mut segs: VecDeque<Segment> = list(&options.dir)?.into();
    let mut total: u64 = segs.iter().map(|s| s.bytes).sum();
    while total > options.max_bytes {
        let Some(s) = segs.pop_front() else { break };
        total -= s.bytes;
        delete(&s, &counters.deleted_size, "size");
    }
    let cutoff = now_ms().saturating_sub(options.retention.as_millis() as u64);
    let mut kept = VecDeque::new();
    let mut exports = 0u64;
    for mut seg in segs {
        let opened = File::open(&seg.path).and_then(|f| Ok((f.metadata()?.len(), f)));
        let (size, file) = match opened {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(target: "watchpost_cli::console", file = %seg.path.display(), error = %e, "cannot read a data segment; skipped");
                continue;
            }
        };
        let mut r = BufReader::with_capacity(256 << 10, file);
        // First the newest receive time (headers only), then, if the segment is kept, the
        // records one at a time into the store.
        let mut last = seg.first_ms;
        scan(&mut r, size, false, |_, ms, _| {
            last = last.max(ms);
            true
        });
        seg.last_ms = last;
        if seg.last_ms < cutoff {
            delete(&seg, &counters.deleted_retention, "retention");
            continue;
        }
        let bad = match r.seek(SeekFrom::Start(0)) {
            Ok(_) => scan(&mut r, size, true, |signal, _, payload| {
                let Some(batch) = decode(signal, payload) else {
                    return false;
                };
                store
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .add_batch(batch);
                exports += 1;
                true
            }),
            Err(_) => Some((0, "the file cannot be read from here")),
        };
        if let Some((offset, reason)) = bad {
            let skipped = size.saturating_sub(offset);
            counters.tails_skipped.fetch_add(1, Ordering::Relaxed);
            counters.bytes_skipped.fetch_add(skipped, Ordering::Relaxed);
            tracing::warn!(
                target: "watchpost_cli::console",
                file = %seg.path.display(),
                offset,
                skipped_bytes = skipped,
                reason,
                "skipped the unreadable end of a data segment from this offset on; what came before it was replayed"
            );
        }
        kept.push_back(seg);
    }
    counters.replayed.store(exports, Ordering::Relaxed);
    if exports > 0 {
        tracing::info!(
            target: "watchpost_cli::console",
            dir = %options.dir.display(),
            exports,
            segments = kept.len(),
            millis = started.elapsed().as_millis() as u64,
            "replayed the data directory"
        );
    }
    Ok(kept)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::console::persist::DEFAULT_MAX_BYTES;
    use std::time::Duration;

    type Parsed = (Vec<(u8, u64, Vec<u8>)>, Stop);

    fn parse(buf: &[u8]) -> Parsed {
        let mut records = Vec::new();
        let stop = scan(
            &mut std::io::Cursor::new(buf),
            buf.len() as u64,
            true,
            |signal, ms, payload| {
                records.push((signal, ms, payload.to_vec()));
                true
            },
        );
        (records, stop)
    }

    #[test]
    fn a_record_reads_back_and_a_cut_or_changed_one_is_named_by_offset() {
        let req = ExportLogsServiceRequest::default();
        let mut seg = MAGIC.to_vec();
        seg.extend(record(2, &req));
        let one = seg.len();
        seg.extend(record(1, &ExportTraceServiceRequest::default()));
        let (records, bad) = parse(&seg);
        assert_eq!((records.len(), bad), (2, None));
        assert_eq!((records[0].0, records[1].0), (2, 1));
        let (records, bad) = parse(&seg[..seg.len() - 1]);
        assert_eq!(records.len(), 1);
        assert_eq!(bad.map(|b| b.0), Some(one as u64));
        let mut changed = seg.clone();
        let last = changed.len() - 1;
        changed[last] ^= 0xff;
        assert_eq!(parse(&changed).1.map(|b| b.0), Some(one as u64));
        // A length larger than the file: refused before anything is allocated for it.
        let mut huge = MAGIC.to_vec();
        huge.extend_from_slice(&(100u32 << 20).to_le_bytes());
        huge.extend_from_slice(&[0; 12]);
        assert_eq!(
            parse(&huge).1,
            Some((8, "a record is cut short (its write was interrupted)"))
        );
        assert_eq!(parse(b"garbage").1.map(|b| b.0), Some(0));
    }

    pub(crate) fn spans(n: u8) -> ExportTraceServiceRequest {
        use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        trace_id: vec![n; 16],
                        span_id: vec![n; 8],
                        ..Span::default()
                    }],
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        }
    }

    #[test]
    fn a_bad_record_mid_segment_is_counted_with_every_byte_not_replayed() {
        let dir =
            std::env::temp_dir().join(format!("watchpost-persist-bad-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let now = now_ms();
        let mut seg = MAGIC.to_vec();
        seg.extend(record_at(1, now, &spans(1)));
        let bad_at = seg.len();
        let mut second = record_at(1, now, &spans(2));
        let last = second.len() - 1;
        second[last] ^= 0xff;
        seg.extend(second);
        seg.extend(record_at(1, now, &spans(3)));
        fs::write(dir.join(format!("segment-{now}.otlp")), &seg).unwrap();
        let options = DataOptions {
            dir: dir.clone(),
            max_bytes: DEFAULT_MAX_BYTES,
            retention: Duration::from_secs(86_400),
        };
        let store = RwLock::new(Store::new(1 << 20));
        let counters = Counters::default();
        let kept = replay(&options, &store, &counters).unwrap();
        let _ = fs::remove_dir_all(&dir);
        assert_eq!(kept.len(), 1);
        assert_eq!(counters.replayed.load(Ordering::Relaxed), 1);
        assert_eq!(counters.tails_skipped.load(Ordering::Relaxed), 1);
        assert_eq!(
            counters.bytes_skipped.load(Ordering::Relaxed),
            (seg.len() - bad_at) as u64,
            "the bad record and the good one after it are both counted as not replayed"
        );
        assert!(store.read().unwrap().traces.contains_key(&[1; 16]));
    }

    #[test]
    fn a_segment_older_than_the_retention_is_deleted_at_start_and_not_replayed() {
        let dir = std::env::temp_dir().join(format!("watchpost-persist-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let day = 86_400_000;
        let now = now_ms();
        for (first, n) in [(now - 3 * day, 1), (now - 1000, 2)] {
            let mut seg = MAGIC.to_vec();
            seg.extend(record_at(1, first + 10, &spans(n)));
            fs::write(dir.join(format!("segment-{first}.otlp")), seg).unwrap();
        }
        fs::write(dir.join("notes.txt"), "not a segment").unwrap();
        let options = DataOptions {
            dir: dir.clone(),
            max_bytes: DEFAULT_MAX_BYTES,
            retention: Duration::from_secs(2 * 86_400),
        };
        let store = RwLock::new(Store::new(1 << 20));
        let counters = Counters::default();
        let kept = replay(&options, &store, &counters).unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(counters.deleted_retention.load(Ordering::Relaxed), 1);
        assert_eq!(counters.replayed.load(Ordering::Relaxed), 1);
        let store = store.read().unwrap();
        assert!(store.traces.contains_key(&[2; 16]) && !store.traces.contains_key(&[1; 16]));
        let mut left: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            ["notes.txt".into(), format!("segment-{}.otlp", now - 1000)]
        );
        let _ = fs::remove_dir_all(&dir);
    }
}
