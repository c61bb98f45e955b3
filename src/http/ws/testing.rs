//! What the layer's tests share: client frames as a browser masks them, events and
//! server frames as owned values to compare.

use bytes::BytesMut;

use crate::http::ws::frame::{self, OpCode, RSV_MASK, encode_masked};
use crate::http::ws::protocol::{Event, Limits, Protocol};

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Client frames, masked: each is (first byte: FIN, RSV and opcode; payload). The first
/// byte is written as given, so reserved opcodes and bits can be sent too.
pub(crate) fn client(frames: &[(u8, &[u8])]) -> Vec<u8> {
    let mut out = BytesMut::new();
    for (i, &(first, payload)) in frames.iter().enumerate() {
        let opcode = OpCode::from_u8(first & 0x0f).unwrap_or(OpCode::Binary);
        let key = [KEY[0], KEY[1], KEY[2], i as u8];
        let at = out.len();
        let fin = first & 0x80 != 0;
        encode_masked(&mut out, fin, first & RSV_MASK, opcode, payload, key);
        out[at] = first;
    }
    out.to_vec()
}

/// An event, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Got {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<u16>, String),
}

impl From<Event<'_>> for Got {
    fn from(event: Event<'_>) -> Got {
        match event {
            Event::Text(t) => Got::Text(t.to_owned()),
            Event::Binary(b) => Got::Binary(b.to_vec()),
            Event::Ping(p) => Got::Ping(p.to_vec()),
            Event::Pong(p) => Got::Pong(p.to_vec()),
            Event::Close { code, reason } => Got::Close(code, reason.to_owned()),
        }
    }
}

/// Feeds `input` in one read; returns the events and the bytes used.
pub(crate) fn feed(p: &mut Protocol, input: &[u8], out: &mut BytesMut) -> (Vec<Got>, usize) {
    let mut input = input.to_vec();
    let mut events = Vec::new();
    let used = p.advance(&mut input, out, |e, _| events.push(Got::from(e)));
    (events, used)
}

/// Splits server output into (first byte, payload) frames, checking each is whole and
/// unmasked.
pub(crate) fn server_frames(mut out: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while !out.is_empty() {
        let h = frame::decode_header(out).unwrap().expect("a whole header");
        assert_eq!(h.mask, None, "§5.1 a server never masks");
        let end = h.header_len + h.len as usize;
        frames.push((out[0], out[h.header_len..end].to_vec()));
        out = &out[end..];
    }
    frames
}

/// The code of the close frame that ends `frames`, if one does.
pub(crate) fn close_code(frames: &[(u8, Vec<u8>)]) -> Option<u16> {
    match frames.last() {
        Some((0x88, payload)) if payload.len() >= 2 => {
            Some(u16::from_be_bytes([payload[0], payload[1]]))
        }
        _ => None,
    }
}

pub(crate) fn limits(max_frame: usize, max_message: usize) -> Limits {
    Limits {
        max_frame,
        max_message,
    }
}
