//! OTLP over gRPC with bodies we encoded ourselves: tonic's generic unary call
//! (`tonic::client::Grpc::unary`) on a tonic channel, with a codec that writes the request's
//! bytes as they are and hands back the answer's bytes. Everything else is tonic's: HTTP/2,
//! TLS, the per-request timeout of the channel, gzip of the message (`grpc-encoding`), the
//! status of the answer.

use bytes::{Buf as _, BufMut as _, Bytes};
use http::uri::PathAndQuery;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;
use tonic::Status;

/// A codec whose messages are already-encoded protobuf.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// One signal's OTLP gRPC service on a channel: its method, the metadata sent with every
/// request (exactly the target's headers) and the compression.
#[derive(Debug, Clone)]
pub(super) struct GrpcRaw {
    pub(super) channel: Channel,
    /// `/opentelemetry.proto.collector.<signal>.v1.<Service>/Export`.
    pub(super) path: &'static str,
    pub(super) metadata: tonic::metadata::MetadataMap,
    pub(super) compression: Option<CompressionEncoding>,
}

impl GrpcRaw {
    /// Sends one encoded `Export…ServiceRequest`; the answer's encoded
    /// `Export…ServiceResponse`.
    pub(super) async fn export(&self, body: Bytes) -> Result<Bytes, Status> {
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        if let Some(c) = self.compression {
            grpc = grpc.send_compressed(c).accept_compressed(c);
        }
        grpc.ready()
            .await
            .map_err(|e| Status::unknown(format!("Service was not ready: {e}")))?;
        let mut request = tonic::Request::new(body);
        *request.metadata_mut() = self.metadata.clone();
        let response = grpc
            .unary(request, PathAndQuery::from_static(self.path), RawCodec)
            .await?;
        Ok(response.into_inner())
    }
}
