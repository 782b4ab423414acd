"""Sends spans and log records with the OpenTelemetry Python SDK to a watchpost OTLP receiver,
once over gRPC and once over HTTP/protobuf (gzip), then exits.

usage: otlp_sender.py GRPC_ADDR HTTP_ADDR

Per transport (service `py-grpc` or `py-http`): 5 spans in 3 traces and 2 log records —
a well-formed server span with a CLIENT child, a server span named by its path
(`GET /orders/12345`: span.name-not-route), an internal span with an e-mail address in an
attribute (privacy.personal-data), a WARN record inside the first request and a WARN record with
an e-mail address in an attribute (privacy.personal-data, on a log record).
"""

import logging
import sys

from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogs
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogs
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpans
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind


def send(service, span_exporter, log_exporter):
    resource = Resource.create({"service.name": service})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(log_exporter))
    log = logging.getLogger(service)
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(LoggingHandler(level=logging.INFO, logger_provider=logger_provider))
    tracer = tracer_provider.get_tracer("otlp_sender")

    with tracer.start_as_current_span(
        "GET /orders/{id}",
        kind=SpanKind.SERVER,
        attributes={
            "http.request.method": "GET",
            "http.route": "/orders/{id}",
            "url.scheme": "http",
            "http.response.status_code": 200,
        },
    ):
        with tracer.start_as_current_span(
            "SELECT orders", kind=SpanKind.CLIENT, attributes={"db.system.name": "postgresql"}
        ):
            pass
        log.warning("order lookup was slow")

    with tracer.start_as_current_span(
        "GET /orders/12345",
        kind=SpanKind.SERVER,
        attributes={
            "http.request.method": "GET",
            "http.route": "/orders/{id}",
            "url.scheme": "http",
            "http.response.status_code": 200,
        },
    ):
        with tracer.start_as_current_span("load order"):
            pass

    with tracer.start_as_current_span("notify", attributes={"customer": "alice@example.com"}):
        pass

    log.warning("reminder not sent", extra={"contact": "bob@example.com"})

    tracer_provider.force_flush()
    logger_provider.force_flush()
    tracer_provider.shutdown()
    logger_provider.shutdown()


def main():
    grpc_addr, http_addr = sys.argv[1], sys.argv[2]
    send(
        "py-grpc",
        GrpcSpans(endpoint=grpc_addr, insecure=True),
        GrpcLogs(endpoint=grpc_addr, insecure=True),
    )
    send(
        "py-http",
        HttpSpans(endpoint=f"http://{http_addr}/v1/traces", compression=Compression.Gzip),
        HttpLogs(endpoint=f"http://{http_addr}/v1/logs", compression=Compression.Gzip),
    )
    print("sent", flush=True)


if __name__ == "__main__":
    main()
