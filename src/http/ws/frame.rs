//! The base framing protocol (RFC 6455 §5.2): frame headers read from the front of a
//! buffer, payloads unmasked in place, and server frames written out.
//!
//! A header is at most 14 bytes, so it is decoded whole or not at all: a partial header
//! is `Ok(None)` and the caller retries with more bytes, as with httparse. Everything a
//! header alone can break (reserved opcodes, the 64-bit length's top bit, control frame
//! rules) is refused here, as early as the bytes allow; what depends on the connection
//! (masking, RSV bits, message order, limits) is the protocol's to check.

use bytes::{BufMut, Bytes, BytesMut};

/// The RSV1 bit, claimed by permessage-deflate for "compressed" (RFC 7692 §6).
pub(crate) const RSV1: u8 = 0x40;
/// All three RSV bits of the first byte.
pub(crate) const RSV_MASK: u8 = 0x70;
/// Longest payload of a control frame (RFC 6455 §5.5).
pub(crate) const MAX_CONTROL_PAYLOAD: usize = 125;
/// Longest header a server writes: no mask key, at most a 64-bit length.
pub(crate) const MAX_SERVER_HEADER: usize = 10;

/// Frame opcodes (RFC 6455 §5.2); the others are reserved and fail the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum OpCode {
    Continuation = 0x0,
    Text = 0x1,
    Binary = 0x2,
    Close = 0x8,
    Ping = 0x9,
    Pong = 0xa,
}

impl OpCode {
    /// The opcode in the low nibble of a frame's first byte, if it is defined.
    pub(crate) fn from_u8(bits: u8) -> Option<OpCode> {
        Some(match bits {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xa => OpCode::Pong,
            _ => return None,
        })
    }

    /// Control opcodes have the high bit of the nibble set (RFC 6455 §5.5).
    pub(crate) fn is_control(self) -> bool {
        self as u8 & 0x8 != 0
    }
}

/// A decoded frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    /// Last frame of its message.
    pub(crate) fin: bool,
    /// The RSV bits in place (`0x70` of the first byte).
    pub(crate) rsv: u8,
    pub(crate) opcode: OpCode,
    /// The masking key; every client frame must have one (RFC 6455 §5.3).
    pub(crate) mask: Option<[u8; 4]>,
    /// Payload length. Non-minimal encodings are accepted: §5.2 asks for the minimal
    /// one but gives no rule to fail on, and tungstenite and `ws` accept them too.
    pub(crate) len: u64,
    /// Bytes of header before the payload, 2 to 14.
    pub(crate) header_len: usize,
}

/// A header no connection may accept; each fails the connection with 1002 (RFC 6455 §7.4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// Opcodes 0x3–0x7 and 0xB–0xF are reserved (§5.2).
    ReservedOpcode,
    /// The most significant bit of a 64-bit length must be 0 (§5.2).
    LengthTopBit,
    /// Control frames carry at most 125 bytes (§5.5).
    ControlTooLong,
    /// Control frames must not be fragmented (§5.5).
    ControlFragmented,
}

impl FrameError {
    /// The reason sent in the close frame.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            FrameError::ReservedOpcode => "reserved opcode",
            FrameError::LengthTopBit => "payload length with the top bit set",
            FrameError::ControlTooLong => "control frame over 125 bytes",
            FrameError::ControlFragmented => "fragmented control frame",
        }
    }
}

/// Decodes the frame header at the start of `buf`: `Ok(None)` until all of it is there.
///
/// Errors are reported as soon as the bytes that show them have arrived, so a bad first
/// two bytes fail the connection without waiting for the rest.
pub(crate) fn decode_header(buf: &[u8]) -> Result<Option<Header>, FrameError> {
    let &[b0, b1, ref rest @ ..] = buf else {
        return Ok(None);
    };
    let opcode = OpCode::from_u8(b0 & 0x0f).ok_or(FrameError::ReservedOpcode)?;
    let fin = b0 & 0x80 != 0;
    let short_len = b1 & 0x7f;
    if opcode.is_control() {
        if !fin {
            return Err(FrameError::ControlFragmented);
        }
        if usize::from(short_len) > MAX_CONTROL_PAYLOAD {
            return Err(FrameError::ControlTooLong);
        }
    }
    let (len, rest) = match short_len {
        126 => match rest {
            &[a, b, ref rest @ ..] => (u64::from(u16::from_be_bytes([a, b])), rest),
            _ => return Ok(None),
        },
        127 => match rest.split_first_chunk::<8>() {
            Some((bytes, rest)) => {
                let len = u64::from_be_bytes(*bytes);
                if len >> 63 != 0 {
                    return Err(FrameError::LengthTopBit);
                }
                (len, rest)
            }
            None => return Ok(None),
        },
        n => (u64::from(n), rest),
    };
    let mask = if b1 & 0x80 != 0 {
        match rest.first_chunk::<4>() {
            Some(key) => Some(*key),
            None => return Ok(None),
        }
    } else {
        None
    };
    let header_len = buf.len() - rest.len() + if mask.is_some() { 4 } else { 0 };
    Ok(Some(Header {
        fin,
        rsv: b0 & RSV_MASK,
        opcode,
        mask,
        len,
        header_len,
    }))
}

/// XORs `buf` with the masking key (RFC 6455 §5.3), where `buf` starts `offset` bytes
/// into the payload: the key is applied by payload position, so a payload unmasked in
/// pieces rotates the key by each piece's offset.
///
/// Masking and unmasking are the same operation. It runs a 64-bit word at a time, four
/// words to a 32-byte block, a shape the compiler turns into vector XORs for long
/// payloads while a short one costs a few word operations.
pub(crate) fn apply_mask(buf: &mut [u8], mask: [u8; 4], offset: usize) {
    let r = offset % 4;
    let key = [
        mask[r],
        mask[(r + 1) % 4],
        mask[(r + 2) % 4],
        mask[(r + 3) % 4],
    ];
    let key8 = [
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ];
    let word = u64::from_ne_bytes(key8);
    let mut blocks = buf.chunks_exact_mut(32);
    for block in &mut blocks {
        xor_words(block, word);
    }
    let rest = blocks.into_remainder();
    let tail = rest.len() - rest.len() % 8;
    let (words, bytes) = rest.split_at_mut(tail);
    xor_words(words, word);
    // Words are a multiple of 4 long, so the last bytes start at key position 0 again.
    for (b, k) in bytes.iter_mut().zip(key8) {
        *b ^= k;
    }
}

/// XORs each whole 8-byte word of `buf` with `word`.
#[inline(always)]
fn xor_words(buf: &mut [u8], word: u64) {
    for chunk in buf.chunks_exact_mut(8) {
        if let Ok(bytes) = <&mut [u8; 8]>::try_from(chunk) {
            *bytes = (u64::from_ne_bytes(*bytes) ^ word).to_ne_bytes();
        }
    }
}

/// Appends an unmasked header (servers never mask, RFC 6455 §5.1) with the shortest
/// length encoding.
pub(crate) fn encode_header(out: &mut BytesMut, fin: bool, rsv: u8, opcode: OpCode, len: usize) {
    let b0 = if fin { 0x80 } else { 0 } | (rsv & RSV_MASK) | opcode as u8;
    if len < 126 {
        out.put_slice(&[b0, len as u8]);
    } else if let Ok(len) = u16::try_from(len) {
        let [a, b] = len.to_be_bytes();
        out.put_slice(&[b0, 126, a, b]);
    } else {
        out.put_slice(&[b0, 127]);
        out.put_u64(len as u64);
    }
}

/// Appends a whole unfragmented frame.
pub(crate) fn encode(out: &mut BytesMut, opcode: OpCode, rsv: u8, payload: &[u8]) {
    out.reserve(MAX_SERVER_HEADER + payload.len());
    encode_header(out, true, rsv, opcode, payload.len());
    out.put_slice(payload);
}

/// A whole frame encoded once, to be written to many connections (a broadcast): cloning
/// it shares the bytes.
pub(crate) fn encode_shared(opcode: OpCode, payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(MAX_SERVER_HEADER + payload.len());
    encode(&mut out, opcode, 0, payload);
    out.freeze()
}

/// Appends a masked frame, as a client sends it: for tests, benches and fuzz seeds.
pub(crate) fn encode_masked(
    out: &mut BytesMut,
    fin: bool,
    rsv: u8,
    opcode: OpCode,
    payload: &[u8],
    key: [u8; 4],
) {
    let start = out.len();
    encode_header(out, fin, rsv, opcode, payload.len());
    out[start + 1] |= 0x80;
    out.put_slice(&key);
    let at = out.len();
    out.put_slice(payload);
    apply_mask(&mut out[at..], key, 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(first: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
        let mut out = BytesMut::new();
        let opcode = OpCode::from_u8(first & 0x0f).unwrap();
        encode_masked(
            &mut out,
            first & 0x80 != 0,
            first & RSV_MASK,
            opcode,
            payload,
            key,
        );
        out.to_vec()
    }

    fn header(buf: &[u8]) -> Header {
        decode_header(buf).unwrap().unwrap()
    }

    #[test]
    fn decodes_the_rfc_examples() {
        // RFC 6455 §5.7: a single-frame unmasked text message "Hello".
        let h = header(b"\x81\x05Hello");
        assert_eq!(
            (h.fin, h.opcode, h.len, h.header_len),
            (true, OpCode::Text, 5, 2)
        );
        assert_eq!(h.mask, None);
        // The masked "Hello".
        let mut frame = *b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
        let h = header(&frame);
        assert_eq!(h.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
        assert_eq!(h.header_len, 6);
        apply_mask(&mut frame[6..], h.mask.unwrap(), 0);
        assert_eq!(&frame[6..], b"Hello");
        // A fragmented unmasked text message: "Hel" then "lo".
        let h = header(b"\x01\x03Hel");
        assert_eq!((h.fin, h.opcode), (false, OpCode::Text));
        let h = header(b"\x80\x02lo");
        assert_eq!((h.fin, h.opcode), (true, OpCode::Continuation));
        // 256 bytes and 64 KiB binary messages.
        let h = header(b"\x82\x7E\x01\x00");
        assert_eq!((h.len, h.header_len), (256, 4));
        let h = header(b"\x82\x7F\x00\x00\x00\x00\x00\x01\x00\x00");
        assert_eq!((h.len, h.header_len), (65536, 10));
    }

    #[test]
    fn a_partial_header_is_not_an_error() {
        let frame = masked(0x82, &[7; 70000], [1, 2, 3, 4]);
        for end in 0..14 {
            assert_eq!(decode_header(&frame[..end]), Ok(None), "{end} bytes");
        }
        assert_eq!(header(&frame[..14]).len, 70000);
    }

    #[test]
    fn accepts_non_minimal_lengths() {
        // §5.2 says "the minimal number of bytes MUST be used", but names no failure;
        // refusing them would only break peers that interoperate elsewhere.
        assert_eq!(header(b"\x82\x7E\x00\x05").len, 5);
        assert_eq!(header(b"\x82\x7F\x00\x00\x00\x00\x00\x00\x00\x05").len, 5);
    }

    #[test]
    fn refuses_what_no_connection_accepts() {
        let cases: &[(&[u8], FrameError, &str)] = &[
            (b"\x83\x80", FrameError::ReservedOpcode, "§5.2 opcode 0x3"),
            (b"\x87\x80", FrameError::ReservedOpcode, "§5.2 opcode 0x7"),
            (b"\x8b\x80", FrameError::ReservedOpcode, "§5.2 opcode 0xB"),
            (b"\x8f\x80", FrameError::ReservedOpcode, "§5.2 opcode 0xF"),
            (
                b"\x82\xff\x80\x00\x00\x00\x00\x00\x00\x00",
                FrameError::LengthTopBit,
                "§5.2 64-bit length MSB",
            ),
            (
                b"\x09\x80",
                FrameError::ControlFragmented,
                "§5.5 ping without FIN",
            ),
            (
                b"\x08\x80",
                FrameError::ControlFragmented,
                "§5.5 close without FIN",
            ),
            (
                b"\x89\xfe",
                FrameError::ControlTooLong,
                "§5.5 ping of 126+ bytes",
            ),
            (
                b"\x8a\xff",
                FrameError::ControlTooLong,
                "§5.5 pong of 64-bit length",
            ),
            (
                b"\x88\xfe",
                FrameError::ControlTooLong,
                "§5.5 close of 126+ bytes",
            ),
        ];
        for (input, error, rule) in cases {
            assert_eq!(decode_header(input), Err(*error), "{rule}");
        }
        // 125 bytes is the most a control frame may carry.
        assert_eq!(header(b"\x89\xfd\0\0\0\0").len, 125);
    }

    #[test]
    fn masking_rotates_with_the_offset() {
        let key = [0xde, 0xad, 0xbe, 0xef];
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7) as u8).collect();
        let mut whole = data.clone();
        apply_mask(&mut whole, key, 0);
        for (i, b) in whole.iter().enumerate() {
            assert_eq!(*b, data[i] ^ key[i % 4]);
        }
        for split in 0..data.len() {
            let mut pieces = data.clone();
            let (a, b) = pieces.split_at_mut(split);
            apply_mask(a, key, 0);
            apply_mask(b, key, split);
            assert_eq!(pieces, whole, "split at {split}");
        }
        apply_mask(&mut whole, key, 0);
        assert_eq!(whole, data);
    }

    #[test]
    fn encodes_the_shortest_length() {
        let cases: &[(usize, &[u8])] = &[
            (0, b"\x81\x00"),
            (125, b"\x81\x7d"),
            (126, b"\x81\x7e\x00\x7e"),
            (65535, b"\x81\x7e\xff\xff"),
            (65536, b"\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00"),
        ];
        for (len, head) in cases {
            let payload = vec![b'x'; *len];
            let mut out = BytesMut::new();
            encode(&mut out, OpCode::Text, 0, &payload);
            assert_eq!(&out[..head.len()], *head, "{len}");
            assert_eq!(&out[head.len()..], &payload[..]);
            let h = header(&out);
            assert_eq!(
                (h.fin, h.opcode, h.mask, h.len),
                (true, OpCode::Text, None, *len as u64)
            );
        }
        let mut out = BytesMut::new();
        encode(&mut out, OpCode::Text, RSV1, b"");
        assert_eq!(&out[..], b"\xc1\x00");
        encode_header(&mut out, false, 0, OpCode::Continuation, 3);
        assert_eq!(&out[2..], b"\x00\x03");
    }

    #[test]
    fn a_shared_frame_is_one_allocation() {
        let frame = encode_shared(OpCode::Binary, b"tick");
        let copy = frame.clone();
        assert_eq!(&frame[..], b"\x82\x04tick");
        assert_eq!(frame.as_ptr(), copy.as_ptr());
    }
}
