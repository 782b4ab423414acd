//! Tail sampling: every span is recorded, the decision is made when a trace's local root ends
//! (see the [module docs](super)), and kept spans go to a [`SpanSink`].

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::trace::{SpanKind, Status, TraceContextExt, TraceId};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    Sampler, SamplingDecision, SamplingResult, ShouldSample, Span, SpanData, SpanProcessor,
};

use crate::internal::TailCounters;
use crate::util::truncate_utf8;

/// The attribute put on local roots with a remote parent: the parent's sampled flag.
pub(crate) const PARENT_SAMPLED: &str = "watchpost.parent_sampled";

/// The attribute of a span marked slow by a measured function: its trace is kept like an error
/// trace (`#[measured(slow = …)]`).
pub(crate) const SLOW: &str = "watchpost.slow";

/// Records every span (the tail sampler decides later) and marks local roots whose remote parent
/// was sampled. The sampled *flag* a span gets (what it passes on in `traceparent`) is the
/// parent's decision when there is a parent, else the ratio's — as for `tracing` spans — so an
/// unsampled caller is never passed on as sampled. Spans not flagged sampled are still recorded
/// (`RecordOnly`) and reach the tail sampler, which may keep them (errors, slow traces).
#[derive(Debug, Clone)]
pub(crate) struct MarkingSampler {
    /// The sampling ratio (`OTEL_TRACES_SAMPLER_RATIO`) for traces that start here.
    pub(crate) ratio: f64,
}

impl ShouldSample for MarkingSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[opentelemetry::trace::Link],
    ) -> SamplingResult {
        let mut result = Sampler::AlwaysOn.should_sample(
            parent_context,
            trace_id,
            name,
            span_kind,
            attributes,
            links,
        );
        let parent = parent_context
            .map(|cx| cx.span().span_context().clone())
            .filter(|sc| sc.is_valid());
        let sampled = match &parent {
            Some(sc) => {
                if sc.is_remote() {
                    result
                        .attributes
                        .push(KeyValue::new(PARENT_SAMPLED, sc.is_sampled()));
                }
                sc.is_sampled()
            }
            None => ratio_keeps(self.ratio, trace_id),
        };
        result.decision = if sampled {
            SamplingDecision::RecordAndSample
        } else {
            SamplingDecision::RecordOnly
        };
        result
    }
}

/// Settings of the tail sampler.
#[derive(Debug, Clone)]
pub(crate) struct TailSettings {
    pub(crate) ratio: f64,
    pub(crate) slow: Duration,
    pub(crate) max_traces: usize,
    pub(crate) max_spans: usize,
    pub(crate) max_attribute_bytes: usize,
}

#[derive(Debug, Default)]
struct Pending {
    spans: Vec<SpanData>,
    error: bool,
}

/// Trace ids are random: their low 64 bits are a good hash on their own.
#[derive(Debug, Default, Clone, Copy)]
struct IdHasher(u64);
impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(29) ^ u64::from_le_bytes(b);
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 ^= v as u64 ^ (v >> 64) as u64;
    }
}
type IdMap<V> = HashMap<TraceId, V, std::hash::BuildHasherDefault<IdHasher>>;

#[derive(Debug, Default)]
struct Buffer {
    traces: IdMap<Pending>,
    order: VecDeque<TraceId>,
    spans: usize,
    decided: IdMap<Verdict>,
    decided_order: VecDeque<TraceId>,
}

/// What the sampler decided for a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Drop,
    /// Kept by the ratio (or because the caller sampled it).
    Keep,
    /// Kept because it failed or was slow: its spans may use the export queue's reserve.
    KeepImportant,
}

impl Verdict {
    fn of(keep: bool, important: bool) -> Self {
        match (keep || important, important) {
            (false, _) => Verdict::Drop,
            (true, false) => Verdict::Keep,
            (true, true) => Verdict::KeepImportant,
        }
    }
}

/// Where kept spans go.
pub(crate) trait SpanSink: Send + Sync + std::fmt::Debug {
    /// `important`: the span belongs to an error or slow trace (the queue keeps room for those).
    fn send(&self, span: SpanData, important: bool);
}

/// Lets spans made with the OTel API (`Telemetry::tracer`) reach the same tail sampler as the
/// bridged ones.
#[derive(Debug)]
pub(crate) struct SharedTail(pub(crate) Arc<TailSampler>);

impl SpanProcessor for SharedTail {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.0.on_start(span, cx)
    }
    fn on_end(&self, span: SpanData) {
        self.0.on_end(span)
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
}

/// The in-process tail sampler (a `SpanProcessor`).
#[derive(Debug)]
pub(crate) struct TailSampler {
    settings: TailSettings,
    buffer: Mutex<Buffer>,
    sink: Arc<dyn SpanSink>,
    redactor: crate::redact::Redactor,
    pub(crate) counters: Arc<TailCounters>,
}

impl TailSampler {
    pub(crate) fn new(
        settings: TailSettings,
        sink: Arc<dyn SpanSink>,
        redactor: crate::redact::Redactor,
        counters: Arc<TailCounters>,
    ) -> Self {
        Self {
            settings,
            buffer: Mutex::new(Buffer::default()),
            sink,
            redactor,
            counters,
        }
    }

    fn ratio_keeps(&self, trace_id: TraceId) -> bool {
        ratio_keeps(self.settings.ratio, trace_id)
    }

    /// Redaction, masking and truncation of one attribute as it is created (the bridge's path):
    /// a secret name's value becomes `[REDACTED]` (the verdict cached per name), e-mail
    /// addresses and card numbers inside strings are masked, long strings are cut.
    pub(crate) fn clean_value(&self, key: &'static str, value: Value) -> Value {
        if self.redactor.is_secret_static(key) {
            return Value::from(crate::redact::REDACTED);
        }
        self.clean_string(value)
    }

    /// [`clean_value`](Self::clean_value) for a value the library made itself (the HTTP server
    /// span's method, route, client address, request id: nothing a caller can put personal data
    /// in): redacted by name and cut, not scanned for e-mail addresses and card numbers.
    pub(crate) fn clean_trusted(&self, key: &'static str, value: Value) -> Value {
        self.clean_trusted_known(self.redactor.is_secret_static(key), value)
    }

    /// [`clean_trusted`](Self::clean_trusted) with the key's verdict known (`secret`: from
    /// [`secret_mask`](Self::secret_mask), decided once for a fixed list of keys).
    pub(crate) fn clean_trusted_known(&self, secret: bool, value: Value) -> Value {
        if secret {
            return Value::from(crate::redact::REDACTED);
        }
        match value {
            Value::String(s) => {
                match truncate_utf8(s.as_str(), self.settings.max_attribute_bytes) {
                    Some(head) => Value::from(format!("{head}…")),
                    None => Value::String(s),
                }
            }
            other => other,
        }
    }

    /// Bit `i` set when `keys[i]` is a secret name (its values are redacted); at most 64 keys.
    pub(crate) fn secret_mask(&self, keys: &[&str]) -> u64 {
        keys.iter()
            .take(64)
            .enumerate()
            .filter(|(_, k)| self.redactor.is_secret_name(k))
            .fold(0, |mask, (i, _)| mask | 1 << i)
    }

    /// [`clean_value`](Self::clean_value) for a name that is not `'static` (an attribute set
    /// through the OpenTelemetry-style API of [`super::SpanExt`]): the verdict is not cached.
    pub(crate) fn clean_named(&self, key: &str, value: Value) -> Value {
        if self.redactor.is_secret_name(key) {
            return Value::from(crate::redact::REDACTED);
        }
        self.clean_string(value)
    }

    /// Masking and truncation of a string value, or of each string of an array (other values
    /// pass unchanged).
    fn clean_string(&self, value: Value) -> Value {
        let s = match value {
            Value::String(s) => s,
            Value::Array(opentelemetry::Array::String(items)) => {
                let items = items
                    .into_iter()
                    .map(|item| match self.clean_string(Value::String(item)) {
                        Value::String(s) => s,
                        other => other.as_str().into_owned().into(),
                    })
                    .collect();
                return Value::Array(opentelemetry::Array::String(items));
            }
            other => return other,
        };
        let masked = self.redactor.mask(s.as_str());
        let text: &str = &masked;
        match truncate_utf8(text, self.settings.max_attribute_bytes) {
            Some(head) => Value::from(format!("{head}…")),
            None => match masked {
                std::borrow::Cow::Owned(m) => Value::from(m),
                std::borrow::Cow::Borrowed(_) => Value::String(s),
            },
        }
    }

    /// `text` (a span name, an event name, a status message) with e-mail addresses and card
    /// numbers masked; unchanged (not copied) when there is nothing to mask or cut.
    /// Cut at the attribute limit too, with the same marker.
    pub(crate) fn mask_text(&self, text: &mut std::borrow::Cow<'static, str>) {
        if let std::borrow::Cow::Owned(m) = self.redactor.mask(text) {
            *text = std::borrow::Cow::Owned(m);
        }
        if let Some(head) = truncate_utf8(text, self.settings.max_attribute_bytes) {
            *text = std::borrow::Cow::Owned(format!("{head}…"));
        }
    }

    /// The same rules for a span made by the OpenTelemetry API (not by our bridge): secret
    /// names, masked values in attributes, event names and attributes, the status message and
    /// the name.
    fn sanitize(&self, span: &mut SpanData) {
        // (`PARENT_SAMPLED` stays: `on_end_clean` reads it, then removes it.)
        for kv in span
            .attributes
            .iter_mut()
            .chain(
                span.events
                    .events
                    .iter_mut()
                    .flat_map(|e| e.attributes.iter_mut()),
            )
            .chain(
                span.links
                    .links
                    .iter_mut()
                    .flat_map(|l| l.attributes.iter_mut()),
            )
        {
            if kv.key.as_str() == PARENT_SAMPLED {
                continue;
            }
            if self.redactor.is_secret_name(kv.key.as_str()) {
                kv.value = Value::from(crate::redact::REDACTED);
            } else if matches!(kv.value, Value::String(_) | Value::Array(_)) {
                let v = std::mem::replace(&mut kv.value, Value::Bool(false));
                kv.value = self.clean_string(v);
            }
        }
        for e in span.events.events.iter_mut() {
            self.mask_text(&mut e.name);
        }
        self.mask_text(&mut span.name);
        if let Status::Error { description } = &mut span.status {
            self.mask_text(description);
        }
    }

    fn emit_one(&self, span: SpanData, verdict: Verdict) {
        if verdict == Verdict::Drop {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            self.counters.kept.fetch_add(1, Ordering::Relaxed);
            self.sink.send(span, verdict == Verdict::KeepImportant);
        }
    }

    fn emit(&self, spans: Vec<SpanData>, verdict: Verdict) {
        let n = spans.len() as u64;
        if verdict == Verdict::Drop {
            self.counters.dropped.fetch_add(n, Ordering::Relaxed);
        } else {
            self.counters.kept.fetch_add(n, Ordering::Relaxed);
            for s in spans {
                self.sink.send(s, verdict == Verdict::KeepImportant);
            }
        }
    }

    fn remember(buf: &mut Buffer, trace_id: TraceId, verdict: Verdict) {
        const REMEMBER: usize = 16_384;
        if buf.decided.insert(trace_id, verdict).is_none() {
            buf.decided_order.push_back(trace_id);
            if buf.decided_order.len() > REMEMBER {
                if let Some(old) = buf.decided_order.pop_front() {
                    buf.decided.remove(&old);
                }
            }
        }
    }
}

impl SpanProcessor for TailSampler {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, mut span: SpanData) {
        self.sanitize(&mut span);
        self.on_end_clean(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        // Undecided traces (their root never ended) are decided now with what is known.
        let pending: Vec<(TraceId, Pending)> = {
            let mut buf = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
            buf.order.clear();
            buf.spans = 0;
            buf.traces.drain().collect()
        };
        for (id, p) in pending {
            let verdict = Verdict::of(self.ratio_keeps(id), p.error);
            self.emit(p.spans, verdict);
        }
        Ok(())
    }
}

/// What the tail sampler judges a span that ended by.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ended {
    pub(crate) trace_id: TraceId,
    /// No parent, or a remote one.
    pub(crate) is_local_root: bool,
    /// The remote caller's sampled flag, for a local root that continues a trace.
    pub(crate) parent_sampled: Option<bool>,
    /// An error status, an ERROR event, or marked slow (by a measured function).
    pub(crate) error: bool,
    /// Lasted at least the slow threshold.
    pub(crate) slow: bool,
}

impl TailSampler {
    /// What the sampler judges a span by, from its parts (the bridge's span data or an SDK
    /// `SpanData`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn ended(
        &self,
        trace_id: TraceId,
        parent_span_id: opentelemetry::trace::SpanId,
        parent_remote: bool,
        status: &Status,
        events: &[opentelemetry::trace::Event],
        attributes: &[KeyValue],
        duration: Option<Duration>,
    ) -> Ended {
        let parent_sampled = attributes.iter().find_map(|kv| {
            (kv.key.as_str() == PARENT_SAMPLED).then_some(matches!(kv.value, Value::Bool(true)))
        });
        let error = matches!(status, Status::Error { .. })
            || events.iter().any(|e| {
                e.attributes
                    .iter()
                    .any(|kv| kv.key.as_str() == "level" && kv.value.as_str() == "ERROR")
            })
            || attributes.iter().any(|kv| kv.key.as_str() == SLOW);
        Ended {
            trace_id,
            is_local_root: parent_span_id == opentelemetry::trace::SpanId::INVALID || parent_remote,
            parent_sampled,
            error,
            slow: duration.is_some_and(|d| d >= self.settings.slow),
        }
    }

    /// `on_end` for a span whose attributes are already clean (made by the bridge).
    pub(crate) fn on_end_clean(&self, span: SpanData) {
        let ended = self.ended(
            span.span_context.trace_id(),
            span.parent_span_id,
            span.parent_span_is_remote,
            &span.status,
            &span.events.events,
            &span.attributes,
            span.end_time.duration_since(span.start_time).ok(),
        );
        self.on_end_with(ended, || span);
    }

    /// Judges a span that ended by `ended`; `make` builds it (its attributes clean) only when it
    /// is kept or has to wait for its trace's decision: a dropped span is never built.
    pub(crate) fn on_end_with(&self, ended: Ended, make: impl FnOnce() -> SpanData) {
        let Ended {
            trace_id,
            is_local_root,
            parent_sampled,
            error,
            slow,
        } = ended;
        // Built at most once: each path below builds it in one place or not at all.
        let mut make = Some(make);
        let mut made = || {
            let mut span = make.take()?();
            if parent_sampled.is_some() {
                span.attributes
                    .retain(|kv| kv.key.as_str() != PARENT_SAMPLED);
            }
            Some(span)
        };
        // A span that is not a local root is built before the lock (it is kept, or waits for
        // its trace, far more often than not); a local root after it, and only if it is kept:
        // nothing is built while the buffer is locked.
        let mut early = if is_local_root { None } else { made() };
        // The common cases (a root without buffered children, a late span) emit one span and
        // allocate nothing here.
        let mut single: Option<Verdict> = None;
        let mut root_of: Option<(Vec<SpanData>, Verdict)> = None;
        let mut to_emit: Vec<(Vec<SpanData>, Verdict)> = Vec::new();
        {
            let mut buf = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(&verdict) = buf.decided.get(&trace_id) {
                // A late span of a decided trace follows the decision (and an error upgrades it
                // for itself: better a partial error trace than none). A local root decided early
                // (the buffer overflowed) is judged again on what only it knows: slow, or a
                // caller that sampled.
                let verdict = if error || (is_local_root && slow) {
                    Verdict::KeepImportant
                } else if is_local_root && parent_sampled == Some(true) && verdict == Verdict::Drop
                {
                    Verdict::Keep
                } else {
                    verdict
                };
                single = Some(verdict);
            } else if is_local_root {
                let pending = if buf.traces.is_empty() {
                    Pending::default()
                } else {
                    let p = buf.traces.remove(&trace_id).unwrap_or_default();
                    if !p.spans.is_empty() {
                        buf.spans -= p.spans.len();
                        buf.order.retain(|t| *t != trace_id);
                    }
                    p
                };
                let verdict = Verdict::of(
                    parent_sampled == Some(true) || self.ratio_keeps(trace_id),
                    error || pending.error || slow,
                );
                Self::remember(&mut buf, trace_id, verdict);
                if pending.spans.is_empty() {
                    single = Some(verdict);
                } else {
                    // Its children, and the root built after the lock.
                    root_of = Some((pending.spans, verdict));
                }
            } else if let Some(span) = early.take() {
                // A child of an undecided trace: it waits for the local root.
                let is_new = !buf.traces.contains_key(&trace_id);
                let p = buf.traces.entry(trace_id).or_default();
                p.error |= error;
                p.spans.push(span);
                buf.spans += 1;
                if is_new {
                    buf.order.push_back(trace_id);
                }
                // Over the bounds: decide the oldest traces early with what is known.
                while buf.order.len() > self.settings.max_traces
                    || buf.spans > self.settings.max_spans
                {
                    let Some(old) = buf.order.pop_front() else {
                        break;
                    };
                    if let Some(p) = buf.traces.remove(&old) {
                        buf.spans -= p.spans.len();
                        let verdict = Verdict::of(self.ratio_keeps(old), p.error);
                        Self::remember(&mut buf, old, verdict);
                        self.counters.overflow.fetch_add(1, Ordering::Relaxed);
                        to_emit.push((p.spans, verdict));
                    }
                }
            }
        }
        match single {
            // Dropped: counted (and a local root never built).
            Some(Verdict::Drop) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
            Some(verdict) => {
                if let Some(span) = early.take().or_else(&mut made) {
                    self.emit_one(span, verdict);
                }
            }
            None => {}
        }
        if let Some((mut spans, verdict)) = root_of {
            spans.extend(made());
            self.emit(spans, verdict);
        }
        for (spans, verdict) in to_emit {
            self.emit(spans, verdict);
        }
    }
}

/// Whether the ratio keeps a trace, decided by its id alone (the same answer wherever it is
/// asked: the tail sampler's verdict and the sampled flag a trace that starts here passes on).
pub(crate) fn ratio_keeps(ratio: f64, trace_id: TraceId) -> bool {
    let bytes = trace_id.to_bytes();
    let low = u64::from_be_bytes(bytes[8..16].try_into().unwrap_or([0; 8]));
    let threshold = (ratio.clamp(0.0, 1.0) * u64::MAX as f64) as u64;
    ratio >= 1.0 || low < threshold
}
