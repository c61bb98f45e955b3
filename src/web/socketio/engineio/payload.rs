//! HTTP long-polling payloads: packets joined by the record separator `\x1e`.
//!
//! engine.io-protocol README, "Packet encoding / HTTP long-polling": v4 dropped v3's
//! length prefixes for the separator, and binary packets are always `b` + base64, so a
//! payload is plain UTF-8 text both ways. The reference is engine.io-parser 5.x
//! `encodePayload` / `decodePayload`: decoding splits on every separator, so an empty
//! body or an empty record is a malformed packet, and decoding stops at the first one.

use bytes::{BufMut, BytesMut};

use super::packet::{Error, Frame, Packet, decode_text};

/// The record separator between two packets of a payload.
pub(crate) const SEPARATOR: u8 = 0x1e;

/// Appends the payload of `frames` to `out`: the body of a long-polling `GET` answer
/// (`Content-Type: text/plain; charset=UTF-8`).
pub(crate) fn encode<'f>(frames: impl IntoIterator<Item = &'f Frame> + Clone, out: &mut BytesMut) {
    let len: usize = frames
        .clone()
        .into_iter()
        .map(|f| f.payload_len() + 1)
        .sum();
    out.reserve(len);
    for (i, frame) in frames.into_iter().enumerate() {
        if i > 0 {
            out.put_u8(SEPARATOR);
        }
        frame.write_polling(out);
    }
}

/// The length [`encode`] gives `frames`.
#[cfg(test)]
pub(crate) fn encoded_len<'f>(frames: impl IntoIterator<Item = &'f Frame>) -> usize {
    let mut n = 0;
    for (i, frame) in frames.into_iter().enumerate() {
        n += usize::from(i > 0) + frame.payload_len();
    }
    n
}

/// Reads the body of a long-polling `POST`: the packets in order, borrowing `body`.
///
/// A body over `max_payload` bytes is [`Error::TooLarge`] before anything is read
/// (engine.io answers 413 past `maxHttpBufferSize`, the `maxPayload` of the handshake);
/// one that is not UTF-8 is [`Error::NotUtf8`]. The iterator then yields each packet and
/// ends after the first malformed one, as `decodePayload` does.
pub(crate) fn decode(body: &[u8], max_payload: usize) -> Result<Records<'_>, Error> {
    if body.len() > max_payload {
        return Err(Error::TooLarge);
    }
    let text = std::str::from_utf8(body).map_err(|_| Error::NotUtf8)?;
    Ok(Records { rest: Some(text) })
}

/// The packets of a long-polling payload; see [`decode`].
#[derive(Clone, Debug)]
pub(crate) struct Records<'a> {
    /// What is left to read; `None` once the last record or an error was returned.
    rest: Option<&'a str>,
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Packet<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.rest?;
        // The separator is ASCII and never inside a multi-byte character.
        let (record, tail) = match rest.find(char::from(SEPARATOR)) {
            Some(at) => (&rest[..at], Some(&rest[at + 1..])),
            None => (rest, None),
        };
        let packet = decode_text(record);
        self.rest = if packet.is_ok() { tail } else { None };
        Some(packet)
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::super::packet::PacketType;
    use super::*;

    fn encode_all(frames: &[Frame]) -> Vec<u8> {
        let mut out = BytesMut::new();
        encode(frames, &mut out);
        assert_eq!(out.len(), encoded_len(frames));
        out.to_vec()
    }

    fn decode_all(body: &[u8]) -> Vec<Result<Packet<'_>, Error>> {
        decode(body, 1_000_000).unwrap().collect()
    }

    #[test]
    fn all_packet_types() {
        // engine.io-parser test/index.ts "should encode/decode all packet types".
        let frames = [
            Frame::bare(PacketType::Open),
            Frame::bare(PacketType::Close),
            Frame::text(PacketType::Ping, "probe"),
            Frame::text(PacketType::Pong, "probe"),
            Frame::text(PacketType::Message, "test"),
        ];
        let body = encode_all(&frames);
        assert_eq!(body, b"0\x1e1\x1e2probe\x1e3probe\x1e4test");
        assert_eq!(
            decode_all(&body),
            [
                Ok(Packet::Text(PacketType::Open, "")),
                Ok(Packet::Text(PacketType::Close, "")),
                Ok(Packet::Text(PacketType::Ping, "probe")),
                Ok(Packet::Text(PacketType::Pong, "probe")),
                Ok(Packet::Text(PacketType::Message, "test")),
            ]
        );
    }

    #[test]
    fn string_and_binary() {
        // engine.io-parser test/node.ts "should encode/decode a string + Buffer payload",
        // and the engine.io-protocol README's example.
        let data = Bytes::from_static(&[1, 2, 3, 4]);
        let frames = [
            Frame::text(PacketType::Message, "test"),
            Frame::Binary(data.clone()),
        ];
        let body = encode_all(&frames);
        assert_eq!(body, b"4test\x1ebAQIDBA==");
        assert_eq!(
            decode_all(&body),
            [
                Ok(Packet::Text(PacketType::Message, "test")),
                Ok(Packet::Binary(data)),
            ]
        );
        assert_eq!(
            decode_all(b"4hello\x1e2\x1e4world"),
            [
                Ok(Packet::Text(PacketType::Message, "hello")),
                Ok(Packet::Text(PacketType::Ping, "")),
                Ok(Packet::Text(PacketType::Message, "world")),
            ]
        );
    }

    #[test]
    fn malformed_payloads_stop_at_the_error() {
        // engine.io-parser test/index.ts "should fail to decode a malformed payload".
        for body in [&b"{"[..], b"{}", b"[\"a123\", \"a456\"]"] {
            assert_eq!(decode_all(body), [Err(Error::UnknownType)]);
        }
        // `"".split("\x1e")` is `[""]`: an empty body is one empty, malformed packet.
        assert_eq!(decode_all(b""), [Err(Error::Empty)]);
        assert_eq!(
            decode_all(b"4a\x1e\x1e4b"),
            [
                Ok(Packet::Text(PacketType::Message, "a")),
                Err(Error::Empty)
            ]
        );
        assert_eq!(
            decode_all(b"4a\x1e"),
            [
                Ok(Packet::Text(PacketType::Message, "a")),
                Err(Error::Empty)
            ]
        );
        assert_eq!(
            decode_all(b"4a\x1ex\x1e4b"),
            [
                Ok(Packet::Text(PacketType::Message, "a")),
                Err(Error::UnknownType)
            ]
        );
    }

    #[test]
    fn max_payload_and_utf8() {
        let body = b"4hello\x1e4world";
        assert!(decode(body, body.len()).is_ok());
        assert_eq!(decode(body, body.len() - 1).err(), Some(Error::TooLarge));
        assert_eq!(decode(b"4\xff", 10).err(), Some(Error::NotUtf8));
        // A separator never splits a character: multi-byte text survives.
        assert_eq!(
            decode_all("4€\x1e4ü".as_bytes()),
            [
                Ok(Packet::Text(PacketType::Message, "€")),
                Ok(Packet::Text(PacketType::Message, "ü")),
            ]
        );
    }

    #[test]
    fn round_trip_any_mix() {
        let frames: Vec<Frame> = (0..20u8)
            .map(|i| {
                if i % 3 == 0 {
                    Frame::Binary(Bytes::from(vec![i; usize::from(i)]))
                } else {
                    Frame::text(PacketType::Message, &"x".repeat(usize::from(i)))
                }
            })
            .collect();
        let body = encode_all(&frames);
        let decoded: Vec<Frame> = decode_all(&body)
            .into_iter()
            .map(|p| match p.unwrap() {
                Packet::Text(kind, data) => Frame::text(kind, data),
                Packet::Binary(data) => Frame::Binary(data),
            })
            .collect();
        assert_eq!(decoded, frames);
        assert_eq!(encode_all(&[]), b"");
    }
}
