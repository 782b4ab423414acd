//! The OTLP receiver (gRPC and HTTP/protobuf). (Stub: being written.)
