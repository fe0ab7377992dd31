//! The wire framing of the request-response protocol: one frame per request and one per response,
//! each an unsigned LEB128 varint length followed by that many opaque bytes.
//!
//! The length is checked against the configured limit before any of the body is read, so a peer
//! that announces a huge frame costs us a few bytes of reading, not an allocation. The same
//! [`VarintDecoder`] drives both the synchronous [`decode_frame`] (used by tests and fuzzing) and
//! the asynchronous reader used on streams, so both refuse exactly the same inputs.

use std::io;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;

/// The longest encoding of a `u64` as an unsigned LEB128 varint.
pub const MAX_VARINT_LEN: usize = 10;

/// Why a frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The length prefix is not a canonical unsigned LEB128 varint: longer than ten bytes,
    /// overflowing 64 bits, or padded with a redundant zero byte (a second spelling of the same
    /// length, refused so that every frame has exactly one encoding).
    #[error("malformed frame length prefix")]
    MalformedLength,
    /// The frame announces more bytes than this side accepts; the peer sent (or we tried to send)
    /// something larger than the configured `max_request_bytes` / `max_response_bytes`.
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// The announced (or attempted) length.
        len: u64,
        /// The limit in force.
        max: usize,
    },
}

/// Incremental decoder of an unsigned LEB128 varint, fed one byte at a time.
#[derive(Debug, Default)]
pub struct VarintDecoder {
    value: u64,
    read: usize,
}

impl VarintDecoder {
    /// Feeds the next byte. Returns the value once its last byte has been fed.
    pub fn push(&mut self, byte: u8) -> Result<Option<u64>, FrameError> {
        if self.read >= MAX_VARINT_LEN {
            return Err(FrameError::MalformedLength);
        }
        let payload = u64::from(byte & 0x7f);
        let shift = 7 * self.read as u32;
        // The tenth byte may only carry the single top bit of a u64, and must be the last.
        if self.read == MAX_VARINT_LEN - 1 && byte > 1 {
            return Err(FrameError::MalformedLength);
        }
        self.value |= payload << shift;
        self.read += 1;
        if byte & 0x80 == 0 {
            // A last byte of zero after other bytes is a redundant (non-minimal) spelling.
            if byte == 0 && self.read > 1 {
                return Err(FrameError::MalformedLength);
            }
            return Ok(Some(self.value));
        }
        Ok(None)
    }
}

/// Appends `value` as an unsigned LEB128 varint.
pub fn encode_varint(mut value: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Appends one frame (length prefix and body) carrying `payload`.
pub fn encode_frame(payload: &[u8], out: &mut Vec<u8>) {
    encode_varint(payload.len() as u64, out);
    out.extend_from_slice(payload);
}

/// Decodes one frame from the front of `buf`.
///
/// Returns `Ok(None)` while `buf` holds only part of a frame, and `Ok(Some((payload, consumed)))`
/// once it holds a whole one. A length over `max` is refused as soon as the prefix is complete,
/// whether or not the body has arrived.
pub fn decode_frame(buf: &[u8], max: usize) -> Result<Option<(&[u8], usize)>, FrameError> {
    let mut decoder = VarintDecoder::default();
    let mut len = None;
    let mut prefix = 0;
    for &byte in buf.iter().take(MAX_VARINT_LEN) {
        prefix += 1;
        if let Some(value) = decoder.push(byte)? {
            len = Some(value);
            break;
        }
    }
    let Some(len) = len else {
        return if buf.len() >= MAX_VARINT_LEN {
            Err(FrameError::MalformedLength)
        } else {
            Ok(None)
        };
    };
    let body_len = checked_len(len, max)?;
    let body = &buf[prefix..];
    if body.len() < body_len {
        return Ok(None);
    }
    Ok(Some((&body[..body_len], prefix + body_len)))
}

fn checked_len(len: u64, max: usize) -> Result<usize, FrameError> {
    match usize::try_from(len) {
        Ok(n) if n <= max => Ok(n),
        _ => Err(FrameError::TooLarge { len, max }),
    }
}

fn frame_io_error(kind: io::ErrorKind, err: FrameError) -> io::Error {
    io::Error::new(kind, err)
}

/// The [`FrameError`] inside an I/O error produced by this module, if any.
pub fn frame_error(err: &io::Error) -> Option<&FrameError> {
    err.get_ref().and_then(|inner| inner.downcast_ref::<FrameError>())
}

/// Reads one frame of at most `max` bytes from `io`.
///
/// The body is read as it arrives (no up-front allocation of the announced length), so a peer
/// that announces a large frame and stalls holds no more memory than it has actually sent.
pub async fn read_frame<T>(io: &mut T, max: usize) -> io::Result<Vec<u8>>
where
    T: AsyncRead + Unpin + Send,
{
    let mut decoder = VarintDecoder::default();
    let len = loop {
        let mut byte = [0u8; 1];
        io.read_exact(&mut byte).await?;
        match decoder.push(byte[0]) {
            Ok(Some(len)) => break len,
            Ok(None) => {}
            Err(e) => return Err(frame_io_error(io::ErrorKind::InvalidData, e)),
        }
    };
    let len = checked_len(len, max).map_err(|e| frame_io_error(io::ErrorKind::InvalidData, e))?;
    let mut body = Vec::new();
    (&mut *io).take(len as u64).read_to_end(&mut body).await?;
    if body.len() != len {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "frame body cut short"));
    }
    Ok(body)
}

/// Writes one frame carrying `payload`, refusing payloads over `max` before writing anything.
pub async fn write_frame<T>(io: &mut T, payload: &[u8], max: usize) -> io::Result<()>
where
    T: AsyncWrite + Unpin + Send,
{
    checked_len(payload.len() as u64, max).map_err(|e| frame_io_error(io::ErrorKind::InvalidInput, e))?;
    let mut prefix = Vec::with_capacity(MAX_VARINT_LEN);
    encode_varint(payload.len() as u64, &mut prefix);
    io.write_all(&prefix).await?;
    io.write_all(payload).await?;
    io.flush().await
}

/// A request frame. On reading, a frame refused by its length prefix is still handed to the
/// behaviour (as `Refused`, its body unread): libp2p's request-response behaviour reports no
/// event for a request that fails to read, and the sender must be penalised.
#[derive(Debug)]
pub(crate) enum RequestFrame {
    /// A request within the limit.
    Bytes(Vec<u8>),
    /// A request refused by its prefix; the stream is closed without an answer.
    Refused(FrameError),
}

/// The request-response codec: opaque byte requests and responses, each one frame, with the
/// configured size limits.
#[derive(Debug, Clone)]
pub(crate) struct BytesCodec {
    pub(crate) max_request_bytes: usize,
    pub(crate) max_response_bytes: usize,
}

impl libp2p::request_response::Codec for BytesCodec {
    type Protocol = StreamProtocol;
    type Request = RequestFrame;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<RequestFrame>
    where
        T: AsyncRead + Unpin + Send,
    {
        match read_frame(io, self.max_request_bytes).await {
            Ok(bytes) => Ok(RequestFrame::Bytes(bytes)),
            Err(e) => match frame_error(&e) {
                Some(refused) => Ok(RequestFrame::Refused(refused.clone())),
                None => Err(e),
            },
        }
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_frame(io, self.max_response_bytes).await
    }

    async fn write_request<T>(&mut self, _: &StreamProtocol, io: &mut T, req: RequestFrame) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        match req {
            RequestFrame::Bytes(bytes) => write_frame(io, &bytes, self.max_request_bytes).await,
            RequestFrame::Refused(e) => Err(frame_io_error(io::ErrorKind::InvalidInput, e)),
        }
    }

    async fn write_response<T>(&mut self, _: &StreamProtocol, io: &mut T, res: Vec<u8>) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &res, self.max_response_bytes).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_known_encodings() {
        // Values and encodings from the LEB128 definition (and the multiformats unsigned-varint spec).
        let cases: &[(u64, &[u8])] = &[
            (0, &[0x00]),
            (1, &[0x01]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (255, &[0xff, 0x01]),
            (300, &[0xac, 0x02]),
            (16384, &[0x80, 0x80, 0x01]),
            (u64::MAX, &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
        ];
        for (value, bytes) in cases {
            let mut out = Vec::new();
            encode_varint(*value, &mut out);
            assert_eq!(&out[..], *bytes, "encoding {value}");
            let mut d = VarintDecoder::default();
            let mut got = None;
            for b in bytes.iter() {
                got = d.push(*b).unwrap();
            }
            assert_eq!(got, Some(*value));
        }
    }

    #[test]
    fn varint_refuses_non_canonical_and_overflow() {
        let bad: &[&[u8]] = &[
            &[0x80, 0x00],                                                       // 0 spelled in two bytes
            &[0x81, 0x80, 0x00],                                                 // 1 spelled in three bytes
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],       // 2^64
            &[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], // eleven bytes
        ];
        for bytes in bad {
            assert_eq!(
                decode_frame(bytes, usize::MAX),
                Err(FrameError::MalformedLength),
                "{bytes:02x?}"
            );
        }
    }

    #[test]
    fn frame_limits() {
        assert_eq!(
            decode_frame(&[3, b'a', b'b', b'c', b'x'], 3),
            Ok(Some((&b"abc"[..], 4)))
        );
        assert_eq!(decode_frame(&[3, b'a'], 3), Ok(None));
        assert_eq!(decode_frame(&[], 3), Ok(None));
        assert_eq!(decode_frame(&[0x80], 3), Ok(None));
        // Refused on the prefix alone, before the body arrives.
        assert_eq!(decode_frame(&[4], 3), Err(FrameError::TooLarge { len: 4, max: 3 }));
        assert_eq!(decode_frame(&[0], 0), Ok(Some((&b""[..], 1))));
    }

    #[test]
    fn async_reader_refuses_large_frames_and_short_bodies() {
        futures::executor::block_on(async {
            let mut ok = futures::io::Cursor::new(vec![2, 7, 9]);
            assert_eq!(read_frame(&mut ok, 2).await.unwrap(), vec![7, 9]);

            let mut big = futures::io::Cursor::new(vec![3, 7, 9, 1]);
            let err = read_frame(&mut big, 2).await.unwrap_err();
            assert_eq!(frame_error(&err), Some(&FrameError::TooLarge { len: 3, max: 2 }));

            let mut short = futures::io::Cursor::new(vec![5, 1, 2]);
            let err = read_frame(&mut short, 10).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
            assert_eq!(frame_error(&err), None);

            let mut sink = futures::io::Cursor::new(Vec::new());
            let err = write_frame(&mut sink, &[0; 5], 4).await.unwrap_err();
            assert_eq!(frame_error(&err), Some(&FrameError::TooLarge { len: 5, max: 4 }));
            assert!(sink.into_inner().is_empty(), "nothing written for a refused frame");
        });
    }

    mod prop {
        use proptest::prelude::*;

        use super::super::*;

        proptest! {
            #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

            /// Random bytes: the decoder never panics, and whatever it accepts is within the limit
            /// and is exactly what the prefix announced.
            #[test]
            fn decoder_never_panics_and_respects_the_limit(buf in proptest::collection::vec(any::<u8>(), 0..64), max in 0usize..40) {
                match decode_frame(&buf, max) {
                    Ok(Some((payload, consumed))) => {
                        prop_assert!(payload.len() <= max);
                        prop_assert!(consumed <= buf.len());
                        let mut again = Vec::new();
                        encode_frame(payload, &mut again);
                        prop_assert_eq!(&buf[..consumed], &again[..], "one encoding per frame");
                    }
                    Ok(None) => {}
                    Err(FrameError::TooLarge { len, max: m }) => prop_assert!(len > max as u64 && m == max),
                    Err(FrameError::MalformedLength) => {}
                }
                // The stream reader agrees with the buffer decoder.
                let mut cursor = futures::io::Cursor::new(buf.clone());
                let streamed = futures::executor::block_on(read_frame(&mut cursor, max));
                match (decode_frame(&buf, max), streamed) {
                    (Ok(Some((payload, _))), Ok(read)) => prop_assert_eq!(payload, &read[..]),
                    (Ok(None), Err(e)) => prop_assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof),
                    (Err(expected), Err(e)) => prop_assert_eq!(frame_error(&e), Some(&expected)),
                    (decoded, streamed) => prop_assert!(false, "buffer {decoded:?} vs stream {streamed:?}"),
                }
            }

            /// A frame announcing more than the limit is refused whatever follows the prefix.
            #[test]
            fn oversized_frames_are_refused(max in 0usize..100_000, extra in 1u64..1_000_000, tail in proptest::collection::vec(any::<u8>(), 0..32)) {
                let len = max as u64 + extra;
                let mut buf = Vec::new();
                encode_varint(len, &mut buf);
                buf.extend_from_slice(&tail);
                prop_assert_eq!(decode_frame(&buf, max), Err(FrameError::TooLarge { len, max }));
                let mut cursor = futures::io::Cursor::new(buf);
                let err = futures::executor::block_on(read_frame(&mut cursor, max)).unwrap_err();
                prop_assert_eq!(frame_error(&err), Some(&FrameError::TooLarge { len, max }));
            }

            /// Frames within the limit round-trip through both decoders.
            #[test]
            fn frames_round_trip(payload in proptest::collection::vec(any::<u8>(), 0..300), slack in 0usize..10) {
                let max = payload.len() + slack;
                let mut buf = Vec::new();
                encode_frame(&payload, &mut buf);
                prop_assert_eq!(decode_frame(&buf, max), Ok(Some((&payload[..], buf.len()))));
                let mut cursor = futures::io::Cursor::new(buf);
                prop_assert_eq!(futures::executor::block_on(read_frame(&mut cursor, max)).unwrap(), payload);
            }
        }
    }
}
