//! Whole conversations through the layer: a stream of client frames cut into reads at
//! every point must give the same events and the same output as one read, and a
//! handshake's negotiation must carry through to the frames.

use bytes::BytesMut;

use crate::http::ws::protocol::{Limits, Protocol, State};
use crate::http::ws::testing::{Got, client, server_frames};

/// A connection's read buffer: each read is appended, `advance` runs, and the bytes it
/// used are dropped, as the server's loop does. Returns the events, the output and the
/// state at the end.
fn converse<'a>(
    mut protocol: Protocol,
    reads: impl IntoIterator<Item = &'a [u8]>,
) -> (Vec<Got>, Vec<u8>, State) {
    let mut buf = Vec::new();
    let mut out = BytesMut::new();
    let mut events = Vec::new();
    for read in reads {
        buf.extend_from_slice(read);
        let used = protocol.advance(&mut buf, &mut out, |e, _| events.push(Got::from(e)));
        assert!(used <= buf.len());
        buf.drain(..used);
    }
    (events, out.to_vec(), protocol.state())
}

/// Checks that `input` gives the same result cut anywhere once, and one byte at a time.
fn same_for_every_split(new: impl Fn() -> Protocol, input: &[u8]) -> (Vec<Got>, Vec<u8>, State) {
    let whole = converse(new(), [input]);
    for split in 0..=input.len() {
        let (a, b) = input.split_at(split);
        assert_eq!(converse(new(), [a, b]), whole, "split at {split}");
    }
    assert_eq!(
        converse(new(), input.chunks(1)),
        whole,
        "one byte at a time"
    );
    whole
}

/// A browser's session: text, a fragmented text with a ping between its fragments, a
/// binary message of a 16-bit length, an unsolicited pong, and the close.
fn session() -> Vec<u8> {
    let binary: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
    client(&[
        (0x81, "hello ☃".as_bytes()),
        (0x01, "frag".as_bytes()),
        (0x89, b"ping!"),
        (0x00, b"men\xe2"),
        (0x80, b"\x82\xact"),
        (0x82, &binary),
        (0x8a, b""),
        (0x88, b"\x03\xe8bye"),
        (0x81, b"after the close"),
    ])
}

#[test]
fn every_split_of_a_session() {
    let (events, out, state) =
        same_for_every_split(|| Protocol::new(Limits::default(), None), &session());
    let binary: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
    assert_eq!(
        events,
        [
            Got::Text("hello ☃".into()),
            Got::Ping(b"ping!".to_vec()),
            Got::Text("fragmen€t".into()),
            Got::Binary(binary),
            Got::Pong(vec![]),
            Got::Close(Some(1000), "bye".into()),
        ]
    );
    assert_eq!(
        server_frames(&out),
        [(0x8a, b"ping!".to_vec()), (0x88, b"\x03\xe8".to_vec())]
    );
    assert_eq!(state, State::Closed);
}

#[test]
fn every_split_of_a_failure() {
    // The fragmented text goes wrong in its second fragment: the first message and the
    // ping are delivered, then 1007, whatever the reads.
    let input = client(&[
        (0x82, b"ok"),
        (0x01, b"valid "),
        (0x89, b""),
        (0x00, b"\xed\xa0\x80"),
        (0x80, b"never read"),
    ]);
    let (events, out, state) =
        same_for_every_split(|| Protocol::new(Limits::default(), None), &input);
    assert_eq!(events, [Got::Binary(b"ok".to_vec()), Got::Ping(vec![])]);
    let frames = server_frames(&out);
    assert_eq!(frames[1].1[..2], 1007u16.to_be_bytes());
    assert_eq!(state, State::Closed);
}

#[test]
fn a_whole_message_is_read_in_place() {
    let mut input = client(&[(0x81, b"no copy"), (0x82, &[9; 1000])]);
    let range = input.as_ptr_range();
    let mut p = Protocol::new(Limits::default(), None);
    let mut seen = 0;
    p.advance(&mut input, &mut BytesMut::new(), |event, _| {
        let ptr = match event {
            crate::http::ws::protocol::Event::Text(t) => t.as_ptr(),
            crate::http::ws::protocol::Event::Binary(b) => b.as_ptr(),
            _ => unreachable!(),
        };
        assert!(range.contains(&ptr), "delivered from the read buffer");
        seen += 1;
    });
    assert_eq!(seen, 2);
}

#[test]
fn a_large_frame_streams_through_a_small_buffer() {
    // 1 MiB in 16 KiB reads: the caller never holds more than one read.
    let message: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
    let input = client(&[(0x82, &message)]);
    let mut p = Protocol::new(Limits::default(), None);
    let mut out = BytesMut::new();
    let mut got = Vec::new();
    for read in input.chunks(16 * 1024) {
        let mut read = read.to_vec();
        let used = p.advance(&mut read, &mut out, |e, _| got.push(Got::from(e)));
        assert!(read.len() - used < 14, "only a header may be left over");
        assert_eq!(used, read.len());
    }
    assert_eq!(got, [Got::Binary(message)]);
}

#[cfg(feature = "deflate")]
mod deflate {
    use super::*;
    use crate::http::parse::Version;
    use crate::http::ws::deflate::Deflater;
    use crate::http::ws::extension::DeflateConfig;
    use crate::http::ws::handshake::{self, Config};

    /// The deflate parameters a handshake with `offer` agrees on.
    fn negotiated(offer: &str) -> crate::http::ws::extension::DeflateParams {
        let headers = [
            httparse::Header {
                name: "Upgrade",
                value: b"websocket",
            },
            httparse::Header {
                name: "Connection",
                value: b"Upgrade",
            },
            httparse::Header {
                name: "Sec-WebSocket-Key",
                value: b"dGhlIHNhbXBsZSBub25jZQ==",
            },
            httparse::Header {
                name: "Sec-WebSocket-Version",
                value: b"13",
            },
            httparse::Header {
                name: "Sec-WebSocket-Extensions",
                value: offer.as_bytes(),
            },
        ];
        let config = Config {
            protocols: &[],
            deflate: Some(DeflateConfig {
                min_size: 0,
                ..DeflateConfig::default()
            }),
        };
        let accepted = handshake::accept("GET", Version::Http11, &headers, &config).unwrap();
        accepted.deflate.unwrap()
    }

    /// Client frames with compressed messages: (first byte, message), compressed with one
    /// stream across messages as a client with context takeover does.
    fn compressed(frames: &[(u8, &[u8])], takeover: bool) -> Vec<u8> {
        let mut deflater = Deflater::new(6, !takeover);
        let owned: Vec<(u8, Vec<u8>)> = frames
            .iter()
            .map(|&(first, message)| match first & 0x40 {
                0 => (first, message.to_vec()),
                _ => (first, deflater.compress(message).unwrap().to_vec()),
            })
            .collect();
        let borrowed: Vec<(u8, &[u8])> = owned.iter().map(|(f, m)| (*f, &m[..])).collect();
        client(&borrowed)
    }

    #[test]
    fn every_split_of_a_compressed_session() {
        for (offer, takeover) in [
            ("permessage-deflate; client_max_window_bits", true),
            ("permessage-deflate; client_no_context_takeover", false),
        ] {
            let params = negotiated(offer);
            let text = "compressible text ".repeat(20);
            let input = compressed(
                &[
                    (0xc1, text.as_bytes()),
                    (0x89, b"p"),
                    (0x82, b"plain binary, not compressed"),
                    (0xc2, &[0; 2000]),
                    (0xc1, text.as_bytes()),
                    (0xc1, b""),
                    (0x88, b""),
                ],
                takeover,
            );
            let (events, out, state) =
                same_for_every_split(|| Protocol::new(Limits::default(), Some(params)), &input);
            assert_eq!(
                events,
                [
                    Got::Text(text.clone()),
                    Got::Ping(b"p".to_vec()),
                    Got::Binary(b"plain binary, not compressed".to_vec()),
                    Got::Binary(vec![0; 2000]),
                    Got::Text(text.clone()),
                    Got::Text(String::new()),
                    Got::Close(None, String::new()),
                ],
                "{offer}"
            );
            assert_eq!(server_frames(&out).len(), 2);
            assert_eq!(state, State::Closed);
        }
    }

    #[test]
    fn a_compressed_message_in_fragments() {
        // RFC 7692 §6.1: RSV1 on the first fragment only; the payloads joined are one
        // compressed message.
        let params = negotiated("permessage-deflate");
        let message = "fragmented and compressed ".repeat(40);
        let data = Deflater::new(6, true)
            .compress(message.as_bytes())
            .unwrap()
            .to_vec();
        let (a, b) = data.split_at(data.len() / 3);
        let input = client(&[(0x41, a), (0x89, b""), (0x80, b)]);
        let (events, _, _) =
            same_for_every_split(|| Protocol::new(Limits::default(), Some(params)), &input);
        assert_eq!(events, [Got::Ping(vec![]), Got::Text(message)]);
        // RSV1 on a continuation frame fails the connection.
        let input = client(&[(0x41, a), (0xc0, b)]);
        let (_, out, _) = converse(Protocol::new(Limits::default(), Some(params)), [&input[..]]);
        assert_eq!(server_frames(&out)[0].1[..2], 1002u16.to_be_bytes());
    }

    #[test]
    fn a_bomb_stops_at_the_message_limit() {
        let params = negotiated("permessage-deflate");
        let bomb = Deflater::new(9, true)
            .compress(&vec![b'a'; 8 << 20])
            .unwrap()
            .to_vec();
        assert!(bomb.len() < 64 * 1024);
        let input = client(&[(0xc2, &bomb)]);
        let limits = Limits {
            max_frame: 1 << 20,
            max_message: 1 << 20,
        };
        let (events, out, state) = converse(Protocol::new(limits, Some(params)), [&input[..]]);
        assert_eq!(events, []);
        assert_eq!(server_frames(&out)[0].1[..2], 1009u16.to_be_bytes());
        assert_eq!(state, State::Closed);
    }

    #[test]
    fn sends_compressed_when_negotiated() {
        let params = negotiated("permessage-deflate");
        let mut p = Protocol::new(Limits::default(), Some(params));
        let mut out = BytesMut::new();
        let text = "a message long enough to compress, a message long enough to compress";
        p.send_text(&mut out, text).unwrap();
        let frames = server_frames(&out);
        assert_eq!(frames[0].0, 0xc1, "RSV1 set: compressed");
        assert!(frames[0].1.len() < text.len());
        // Read back with our own inflater, as a client would.
        let mut inflater = crate::http::ws::deflate::Inflater::new(false);
        let mut back = Vec::new();
        inflater.inflate(&frames[0].1, &mut back, 1 << 20).unwrap();
        inflater.finish(&mut back, 1 << 20).unwrap();
        assert_eq!(back, text.as_bytes());
        // Below the configured size, plain.
        let mut p = Protocol::new(
            Limits::default(),
            Some(crate::http::ws::extension::DeflateParams {
                min_size: 1000,
                ..params
            }),
        );
        let mut out = BytesMut::new();
        p.send_text(&mut out, text).unwrap();
        assert_eq!(server_frames(&out)[0].0, 0x81);
    }
}
