"""Sends a two-service trace, log records and metrics with the OpenTelemetry Python SDK to
`watchpost console`, then prints the trace id.

usage: console_sender.py GRPC_ADDR HTTP_ADDR

`frontend` (over OTLP/gRPC) handles `GET /checkout`: a SERVER span with a CLIENT child
`GET /stock/{sku}` whose context travels in a `traceparent` header (the W3C propagator) to
`backend` (over OTLP/HTTP, gzip), which answers in a SERVER span with an INTERNAL child
`SELECT stock` that fails (`error.type` = `timeout`). Each service logs one record inside its
server span (the backend's a WARN with `instance_id`), and exports a request counter and a
duration histogram.
"""

import logging
import sys
import time

from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogs
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcMetrics
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogs
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetrics
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpans
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator


class Service:
    def __init__(self, name, spans, logs, metrics):
        resource = Resource.create({"service.name": name, "instance_id": f"{name}-1"})
        self.tracer_provider = TracerProvider(resource=resource)
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
        self.logger_provider = LoggerProvider(resource=resource)
        self.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
        self.reader = PeriodicExportingMetricReader(metrics, export_interval_millis=3_600_000)
        self.meter_provider = MeterProvider(resource=resource, metric_readers=[self.reader])
        self.log = logging.getLogger(name)
        self.log.propagate = False
        self.log.setLevel(logging.INFO)
        self.log.addHandler(LoggingHandler(level=logging.INFO, logger_provider=self.logger_provider))
        self.tracer = self.tracer_provider.get_tracer("console_sender")
        meter = self.meter_provider.get_meter("console_sender")
        self.requests = meter.create_counter(f"{name}_requests", unit="{request}")
        self.duration = meter.create_histogram(f"{name}_request_duration", unit="s")

    def finish(self):
        self.tracer_provider.force_flush()
        self.logger_provider.force_flush()
        self.meter_provider.force_flush()
        self.tracer_provider.shutdown()
        self.logger_provider.shutdown()
        self.meter_provider.shutdown()


def backend_handle(backend, headers):
    ctx = TraceContextTextMapPropagator().extract(headers)
    with backend.tracer.start_as_current_span(
        "GET /stock/{sku}",
        context=ctx,
        kind=SpanKind.SERVER,
        attributes={"http.request.method": "GET", "http.route": "/stock/{sku}", "http.response.status_code": 503},
    ) as server:
        with backend.tracer.start_as_current_span("SELECT stock") as query:
            time.sleep(0.002)
            query.set_attribute("error.type", "timeout")
            query.set_status(Status(StatusCode.ERROR, "statement timeout"))
        backend.log.warning("stock lookup timed out", extra={"instance_id": "i-42", "subsystem": "STOCK"})
        server.set_status(Status(StatusCode.ERROR))
    backend.requests.add(1, {"http.route": "/stock/{sku}"})
    backend.duration.record(0.004, {"http.route": "/stock/{sku}"})


def main():
    grpc_addr, http_addr = sys.argv[1], sys.argv[2]
    frontend = Service(
        "frontend",
        GrpcSpans(endpoint=grpc_addr, insecure=True),
        GrpcLogs(endpoint=grpc_addr, insecure=True),
        GrpcMetrics(endpoint=grpc_addr, insecure=True),
    )
    backend = Service(
        "backend",
        HttpSpans(endpoint=f"http://{http_addr}/v1/traces", compression=Compression.Gzip),
        HttpLogs(endpoint=f"http://{http_addr}/v1/logs", compression=Compression.Gzip),
        HttpMetrics(endpoint=f"http://{http_addr}/v1/metrics", compression=Compression.Gzip),
    )
    with frontend.tracer.start_as_current_span(
        "GET /checkout",
        kind=SpanKind.SERVER,
        attributes={"http.request.method": "GET", "http.route": "/checkout", "http.response.status_code": 200},
    ) as root:
        frontend.log.info("checkout started")
        with frontend.tracer.start_as_current_span(
            "GET /stock/{sku}",
            kind=SpanKind.CLIENT,
            attributes={"http.request.method": "GET", "server.address": "backend"},
        ):
            headers = {}
            TraceContextTextMapPropagator().inject(headers)
            backend_handle(backend, headers)
        trace_id = format(root.get_span_context().trace_id, "032x")
    frontend.requests.add(1, {"http.route": "/checkout"})
    frontend.duration.record(0.01, {"http.route": "/checkout"})
    backend.finish()
    frontend.finish()
    print(trace_id, flush=True)


if __name__ == "__main__":
    main()
