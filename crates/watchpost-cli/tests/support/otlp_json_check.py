"""Reads an export document of `watchpost console` (stdin) and parses each of its OTLP requests
with the official protobuf schema (opentelemetry-proto's generated classes, strict: an unknown
field fails), as OTLP/JSON says: ids in hex (turned into protobuf JSON's base64 here first),
64-bit integers as strings or numbers, enums as integers. Prints one line per signal with the
items parsed; exits 1 naming what failed."""

import base64
import json
import sys

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

IDS = {"traceId", "spanId", "parentSpanId"}


def unhex(node):
    """OTLP/JSON's hex ids as protobuf JSON's base64 (the one deviation from the mapping)."""
    if isinstance(node, dict):
        return {
            k: base64.b64encode(bytes.fromhex(v)).decode() if k in IDS and isinstance(v, str) else unhex(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [unhex(v) for v in node]
    return node


doc = json.load(sys.stdin)
kinds = {
    "traces": ExportTraceServiceRequest,
    "logs": ExportLogsServiceRequest,
    "metrics": ExportMetricsServiceRequest,
}
for key, value in doc.items():
    if key not in kinds:
        sys.exit(f"unknown member {key!r}")
    try:
        msg = json_format.ParseDict(unhex(value), kinds[key](), ignore_unknown_fields=False)
    except json_format.ParseError as e:
        sys.exit(f"{key}: {e}")
    if key == "traces":
        n = sum(len(ss.spans) for rs in msg.resource_spans for ss in rs.scope_spans)
    elif key == "logs":
        n = sum(len(sl.log_records) for rl in msg.resource_logs for sl in rl.scope_logs)
    else:
        n = 0
        for rm in msg.resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    data = getattr(m, m.WhichOneof("data"))
                    n += len(data.data_points)
    print(f"{key} {n}")
