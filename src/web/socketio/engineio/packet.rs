//! Engine.IO v4 packets: `<type digit>[<data>]` as text, or a binary message.
//!
//! The engine.io-protocol README ("Packet encoding") defines one form per transport: over
//! WebSocket each packet is its own frame, a text frame holding the type digit and the
//! data and a binary frame holding a binary message as is; over HTTP long-polling packets
//! are joined into a payload (see [`payload`](super::payload)). The reference decoder is
//! engine.io-parser 5.x `decodePacket`, matched here: an unknown type is an error, `b`
//! starts a base64 binary message in either transport, and data may be empty.

use std::fmt;

use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use bytes::{BufMut, Bytes, BytesMut};

/// The seven packet types of Engine.IO v4, by their wire digit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum PacketType {
    /// `0`: the handshake answer, with the session's JSON.
    Open,
    /// `1`: the transport can be closed.
    Close,
    /// `2`: sent by the server every `pingInterval` (v4 reversed v3's direction); `2probe`
    /// from the client tests a new WebSocket during an upgrade.
    Ping,
    /// `3`: the answer to a ping; `3probe` answers the probe.
    Pong,
    /// `4`: a message for the layer above (Socket.IO).
    Message,
    /// `5`: the client switches to the probed transport.
    Upgrade,
    /// `6`: ends a pending long-polling `GET` during an upgrade.
    Noop,
}

impl PacketType {
    /// The type of a wire digit, `b'0'..=b'6'`.
    pub(crate) fn from_digit(digit: u8) -> Option<PacketType> {
        Some(match digit {
            b'0' => PacketType::Open,
            b'1' => PacketType::Close,
            b'2' => PacketType::Ping,
            b'3' => PacketType::Pong,
            b'4' => PacketType::Message,
            b'5' => PacketType::Upgrade,
            b'6' => PacketType::Noop,
            _ => return None,
        })
    }

    /// The wire digit.
    pub(crate) fn digit(self) -> u8 {
        b'0' + self as u8
    }
}

/// One decoded packet, its text borrowed from the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Packet<'a> {
    /// A packet of any type with its text data, empty when there is none (`2` is a plain
    /// ping, `2probe` the upgrade probe, `4hello` a message).
    Text(PacketType, &'a str),
    /// A binary message: a WebSocket binary frame, or `b` + base64 in a text form.
    Binary(Bytes),
}

/// Why an Engine.IO packet or payload was refused; the session is closed
/// (engine.io's `onClose("parse error")`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Error {
    /// An empty packet: no type digit (also an empty record between two separators).
    Empty,
    /// A first character that is neither `0`–`6` nor `b`.
    UnknownType,
    /// `b` followed by something that is not base64.
    Base64,
    /// A long-polling body that is not UTF-8.
    NotUtf8,
    /// A long-polling body longer than `maxPayload`: engine.io answers 413.
    TooLarge,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Empty => "empty Engine.IO packet",
            Error::UnknownType => "unknown Engine.IO packet type",
            Error::Base64 => "invalid base64 in a binary Engine.IO packet",
            Error::NotUtf8 => "Engine.IO payload is not UTF-8",
            Error::TooLarge => "Engine.IO payload larger than maxPayload",
        })
    }
}

impl std::error::Error for Error {}

/// Base64 as Node's `Buffer.from(s, "base64")` reads what clients send: the standard
/// alphabet, padding optional. Node also skips characters outside the alphabet; those
/// are refused here, since no client writes them.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Decodes one packet in text form: a WebSocket text frame, or one record of a
/// long-polling payload.
pub(crate) fn decode_text(text: &str) -> Result<Packet<'_>, Error> {
    let Some(&first) = text.as_bytes().first() else {
        return Err(Error::Empty);
    };
    // The first byte is ASCII in every accepted case, so slicing after it is on a char
    // boundary.
    if first == b'b' {
        return LENIENT
            .decode(&text[1..])
            .map(|data| Packet::Binary(Bytes::from(data)))
            .map_err(|_| Error::Base64);
    }
    let kind = PacketType::from_digit(first).ok_or(Error::UnknownType)?;
    Ok(Packet::Text(kind, &text[1..]))
}

/// One encoded packet in the form a WebSocket frame carries it; long-polling payloads are
/// built from the same frames. Cloning shares the bytes, so a packet encoded once can be
/// queued for any number of sessions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Frame {
    /// The type digit and the data: a WebSocket text frame, UTF-8 by construction.
    Text(Bytes),
    /// A binary message: a WebSocket binary frame, `b` + base64 in long-polling.
    Binary(Bytes),
}

impl Frame {
    /// A text packet: the type digit followed by `data`.
    pub(crate) fn text(kind: PacketType, data: &str) -> Frame {
        let mut buf = BytesMut::with_capacity(1 + data.len());
        buf.put_u8(kind.digit());
        buf.extend_from_slice(data.as_bytes());
        Frame::Text(buf.freeze())
    }

    /// A packet without data (`1`, `2`, `3`, `5`, `6`), without allocating.
    pub(crate) fn bare(kind: PacketType) -> Frame {
        const DIGITS: &[u8; 7] = b"0123456";
        let at = kind as usize;
        Frame::Text(Bytes::from_static(&DIGITS[at..at + 1]))
    }

    /// `3probe`: the answer to the upgrade probe `2probe`.
    pub(crate) fn pong_probe() -> Frame {
        Frame::Text(Bytes::from_static(b"3probe"))
    }

    /// The length of this frame inside a long-polling payload.
    pub(crate) fn payload_len(&self) -> usize {
        match self {
            Frame::Text(text) => text.len(),
            Frame::Binary(data) => 1 + base64_len(data.len()),
        }
    }

    /// Appends this frame's long-polling form: the text as is, binary as `b` + base64.
    pub(crate) fn write_polling(&self, out: &mut BytesMut) {
        match self {
            Frame::Text(text) => out.extend_from_slice(text),
            Frame::Binary(data) => {
                out.put_u8(b'b');
                let start = out.len();
                out.resize(start + base64_len(data.len()), 0);
                // The slice was sized by `base64_len`, so the encoder always fits.
                let written = STANDARD.encode_slice(data, &mut out[start..]).unwrap_or(0);
                out.truncate(start + written);
            }
        }
    }
}

/// Padded base64 length of `n` bytes.
fn base64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

#[cfg(test)]
mod tests {
    use super::*;

    fn polling(frame: &Frame) -> String {
        let mut out = BytesMut::new();
        frame.write_polling(&mut out);
        assert_eq!(out.len(), frame.payload_len());
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn decodes_every_type() {
        // engine.io-parser test/index.ts "should encode/decode all packet types".
        let cases = [
            ("0", PacketType::Open, ""),
            ("1", PacketType::Close, ""),
            ("2probe", PacketType::Ping, "probe"),
            ("3probe", PacketType::Pong, "probe"),
            ("4test", PacketType::Message, "test"),
            ("5", PacketType::Upgrade, ""),
            ("6", PacketType::Noop, ""),
            ("41€", PacketType::Message, "1€"),
        ];
        for (text, kind, data) in cases {
            assert_eq!(decode_text(text), Ok(Packet::Text(kind, data)), "{text}");
            assert_eq!(Frame::text(kind, data), Frame::Text(Bytes::from(text)));
        }
    }

    #[test]
    fn refuses_malformed_packets() {
        // engine.io-parser test/index.ts "should fail to decode a malformed packet", and
        // "should fail to decode a malformed payload" record by record.
        assert_eq!(decode_text(""), Err(Error::Empty));
        for text in [
            "a123",
            "{",
            "{}",
            "[\"a123\", \"a456\"]",
            "7",
            "9",
            "€",
            "-1",
        ] {
            assert_eq!(decode_text(text), Err(Error::UnknownType), "{text}");
        }
        for text in ["b!!!!", "bA", "bAQIDBA===", "b€"] {
            assert_eq!(decode_text(text), Err(Error::Base64), "{text}");
        }
    }

    #[test]
    fn binary_as_base64() {
        // engine.io-parser test/node.ts "should encode/decode a Buffer as base64".
        let data = Bytes::from_static(&[1, 2, 3, 4]);
        assert_eq!(polling(&Frame::Binary(data.clone())), "bAQIDBA==");
        assert_eq!(decode_text("bAQIDBA=="), Ok(Packet::Binary(data.clone())));
        // Node's decoder takes unpadded base64 too.
        assert_eq!(decode_text("bAQIDBA"), Ok(Packet::Binary(data)));
        assert_eq!(decode_text("b"), Ok(Packet::Binary(Bytes::new())));
        assert_eq!(polling(&Frame::Binary(Bytes::new())), "b");
        for n in 0..10 {
            let data = Bytes::from((0..n).collect::<Vec<u8>>());
            let text = polling(&Frame::Binary(data.clone()));
            assert_eq!(decode_text(&text), Ok(Packet::Binary(data)));
        }
    }

    #[test]
    fn bare_frames() {
        for digit in b'0'..=b'6' {
            let kind = PacketType::from_digit(digit).unwrap();
            assert_eq!(kind.digit(), digit);
            assert_eq!(Frame::bare(kind), Frame::text(kind, ""));
        }
        assert_eq!(Frame::pong_probe(), Frame::text(PacketType::Pong, "probe"));
        assert_eq!(polling(&Frame::pong_probe()), "3probe");
    }
}
