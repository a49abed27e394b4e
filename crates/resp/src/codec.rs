//! `tokio_util::codec` adapters, behind the `codec` feature.
//!
//! [`RespCodec`] is for the client side of a connection (decode any frame, encode frames);
//! [`RequestCodec`] is for the server side (decode requests, encode reply frames). Both encode
//! for the [`Protocol`] they are set to, which a server switches after `HELLO 3`.

use bytes::{Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::{encode, Frame, FrameDecoder, Limits, Protocol, ProtocolError, RequestDecoder};

/// Errors of the codec adapters: the stream broke the protocol, or the transport failed.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The peer sent bytes that are not valid RESP.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// Reading or writing the transport failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Decodes [`Frame`]s and encodes frames, for clients.
#[derive(Debug, Default)]
pub struct RespCodec {
    decoder: FrameDecoder,
    /// The protocol frames are encoded in.
    pub protocol: Protocol,
}

impl RespCodec {
    /// A codec with the given decoding limits, encoding in `protocol`.
    pub fn new(limits: Limits, protocol: Protocol) -> RespCodec {
        RespCodec {
            decoder: FrameDecoder::new(limits),
            protocol,
        }
    }
}

impl Decoder for RespCodec {
    type Item = Frame;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, CodecError> {
        Ok(self.decoder.decode(src)?)
    }
}

impl Encoder<&Frame> for RespCodec {
    type Error = CodecError;

    fn encode(&mut self, frame: &Frame, dst: &mut BytesMut) -> Result<(), CodecError> {
        encode::encode(frame, self.protocol, dst);
        Ok(())
    }
}

impl Encoder<Frame> for RespCodec {
    type Error = CodecError;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), CodecError> {
        encode::encode(&frame, self.protocol, dst);
        Ok(())
    }
}

/// Decodes client requests into argument vectors and encodes replies, for servers.
#[derive(Debug, Default)]
pub struct RequestCodec {
    decoder: RequestDecoder,
    /// The protocol replies are encoded in.
    pub protocol: Protocol,
}

impl RequestCodec {
    /// A codec with the given request limits, replying in `protocol`.
    pub fn new(limits: Limits, protocol: Protocol) -> RequestCodec {
        RequestCodec {
            decoder: RequestDecoder::new(limits),
            protocol,
        }
    }
}

impl Decoder for RequestCodec {
    type Item = Vec<Bytes>;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Vec<Bytes>>, CodecError> {
        Ok(self.decoder.decode(src)?)
    }
}

impl Encoder<&Frame> for RequestCodec {
    type Error = CodecError;

    fn encode(&mut self, frame: &Frame, dst: &mut BytesMut) -> Result<(), CodecError> {
        encode::encode(frame, self.protocol, dst);
        Ok(())
    }
}

impl Encoder<Frame> for RequestCodec {
    type Error = CodecError;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), CodecError> {
        encode::encode(&frame, self.protocol, dst);
        Ok(())
    }
}
