//! permessage-deflate (RFC 7692) over a real socket: negotiated in the handshake,
//! compressed both ways, and a decompression bomb stopped by the message limit.
#![cfg(feature = "deflate")]

mod support;

use std::io::{Read, Write};

use carafe::websocket::{Message, WebSocket, WebSocketHandler};
use carafe::{App, HttpError, Request};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use support::TestServer;

struct Echo;

impl WebSocketHandler for Echo {
    fn on_message(&mut self, ws: &mut WebSocket<'_>, message: Message<'_>) {
        let _ = ws.send(message);
    }
}

fn server(max_message: usize) -> TestServer {
    let mut app = App::new();
    app.config_mut().websocket_max_message = max_message;
    app.websocket("/echo", |_: &Request| Ok::<_, HttpError>(Echo));
    TestServer::start(app)
}

/// Opens with a permessage-deflate offer; returns the stream and the response head.
fn open(server: &TestServer) -> (std::net::TcpStream, String) {
    let mut stream = server.connect();
    stream
        .write_all(
            b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
              Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n",
        )
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    (stream, String::from_utf8(head).unwrap())
}

/// A message compressed as a client does it (RFC 7692 §7.2.1): deflate, sync flush,
/// the final empty block's four bytes removed.
fn compress(data: &[u8]) -> Vec<u8> {
    let mut deflate = Compress::new(Compression::default(), false);
    let mut out = Vec::with_capacity(data.len() + 64);
    deflate
        .compress_vec(data, &mut out, FlushCompress::Sync)
        .unwrap();
    assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
    out.truncate(out.len() - 4);
    out
}

fn inflate(data: &[u8]) -> Vec<u8> {
    let mut input = data.to_vec();
    input.extend([0, 0, 0xff, 0xff]);
    let mut inflate = Decompress::new(false);
    let mut out = Vec::with_capacity(1 << 20);
    inflate
        .decompress_vec(&input, &mut out, FlushDecompress::Sync)
        .unwrap();
    out
}

/// A masked client frame with `first` as its first byte (FIN, RSV1, opcode).
fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [1u8, 2, 3, 4];
    let mut out = vec![first];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n < 65536 => {
            out.push(0x80 | 126);
            out.extend((n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend((n as u64).to_be_bytes());
        }
    }
    out.extend(mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// The next server frame: (first byte, payload).
fn read_frame(stream: &mut std::net::TcpStream) -> (u8, Vec<u8>) {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).unwrap();
    let len = match head[1] & 0x7f {
        126 => {
            let mut n = [0u8; 2];
            stream.read_exact(&mut n).unwrap();
            u16::from_be_bytes(n) as usize
        }
        127 => {
            let mut n = [0u8; 8];
            stream.read_exact(&mut n).unwrap();
            u64::from_be_bytes(n) as usize
        }
        n => n as usize,
    };
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).unwrap();
    (head[0], payload)
}

#[test]
fn messages_are_compressed_both_ways() {
    let server = server(16 << 20);
    let (mut stream, head) = open(&server);
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert!(
        head.contains("Sec-WebSocket-Extensions: permessage-deflate"),
        "{head}"
    );
    let text = "a fairly repetitive message, ".repeat(100);
    let compressed = compress(text.as_bytes());
    assert!(compressed.len() < text.len() / 10);
    // FIN + RSV1 (compressed) + text.
    stream.write_all(&frame(0xC1, &compressed)).unwrap();
    let (first, payload) = read_frame(&mut stream);
    assert_eq!(first, 0xC1, "the echo comes back compressed");
    assert_eq!(inflate(&payload), text.as_bytes());
    // A short message is sent as it is (compressing it would only add bytes).
    stream.write_all(&frame(0xC1, &compress(b"hi"))).unwrap();
    assert_eq!(read_frame(&mut stream), (0x81, b"hi".to_vec()));
}

#[test]
fn a_decompression_bomb_stops_at_the_message_limit() {
    let server = server(1 << 20);
    let (mut stream, head) = open(&server);
    assert!(head.contains("permessage-deflate"), "{head}");
    // 64 MiB of zeros compress to about 64 KiB; the limit is 1 MiB.
    let bomb = compress(&vec![0u8; 64 << 20]);
    assert!(bomb.len() < 1 << 20);
    stream.write_all(&frame(0xC2, &bomb)).unwrap();
    let (first, payload) = read_frame(&mut stream);
    assert_eq!(first, 0x88);
    assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), 1009);
}
