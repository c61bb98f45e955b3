//! Entry points for the fuzz targets in `fuzz/` and the randomized tests: each feeds
//! arbitrary bytes to one parser and checks what must hold whatever the input. Not a
//! stable API.

use crate::http::body::{ChunkError, ChunkedDecoder, Cursor};
use crate::web::app::App;
use crate::web::router::{Params, Router, Rule};
use crate::{Method, Request, Response};

/// An app with a few routes of each kind, for [`exchange`].
pub fn app() -> App {
    let mut app = App::new();
    app.config_mut().max_body_size = 64 * 1024;
    app.get("/", |_: &Request| "root");
    app.post("/echo", |req: &Request| Response::new(req.body().to_vec()));
    app.get("/users/<int:id>", |req: &Request| {
        req.param::<u64>("id").map(|id| id.to_string())
    });
    app.get("/files/<path:rest>", |req: &Request| {
        req.param_str("rest").unwrap_or("").to_owned()
    });
    app.post("/form", |req: &Request| {
        let fields = req.form()?.len();
        let files = req.files()?.len();
        Ok::<_, crate::HttpError>(format!("{fields} {files}"))
    });
    app.get("/stream", |_: &Request| Response::stream(["a", "b", "c"]));
    app
}

/// Runs `input` through the HTTP/1.1 exchange, split into reads at the positions
/// `splits` picks, and checks that the output is a sequence of well-formed responses
/// whatever the split.
pub fn exchange(app: &App, input: &[u8], splits: &[u8]) {
    crate::http::parse::check_plain_request_line(input);
    check_responses(&crate::server::h1::feed(app, pieces(input, splits)));
}

/// `input` cut into reads: each of `splits` gives the length of one (1 to 256 bytes),
/// and the last read takes whatever is left.
fn pieces<'a>(input: &'a [u8], splits: &'a [u8]) -> impl Iterator<Item = &'a [u8]> {
    let mut rest = input;
    let mut splits = splits.iter();
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let len = splits
            .next()
            .map_or(rest.len(), |&n| usize::from(n) + 1)
            .min(rest.len());
        let (piece, tail) = rest.split_at(len);
        rest = tail;
        Some(piece)
    })
}

/// Every byte of output belongs to a response with a valid head and framing.
fn check_responses(mut out: &[u8]) {
    while !out.is_empty() {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut headers);
        let head = match resp.parse(out) {
            Ok(httparse::Status::Complete(n)) => n,
            other => panic!(
                "malformed response head: {other:?}: {:?}",
                String::from_utf8_lossy(out)
            ),
        };
        let code = resp.code.expect("a status code");
        let find = |name: &str| {
            resp.headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| std::str::from_utf8(h.value).expect("ASCII header"))
        };
        out = &out[head..];
        if code == 100 || code == 204 || code == 304 {
            continue;
        }
        if let Some(len) = find("content-length") {
            let len: usize = len.parse().expect("numeric Content-Length");
            // An answer to HEAD has the length but not the body: the next response (or
            // nothing) follows at once.
            let head_answer = out.is_empty() || out.starts_with(b"HTTP/1.1 ");
            if len > 0
                && head_answer
                && !out
                    .get(len..)
                    .is_some_and(|r| r.is_empty() || r.starts_with(b"HTTP/1.1 "))
            {
                continue;
            }
            assert!(out.len() >= len, "a body shorter than its Content-Length");
            out = &out[len..];
        } else if find("transfer-encoding").is_some() {
            let mut body = out.to_vec();
            let mut cursor = Cursor::default();
            let done = ChunkedDecoder::new(usize::MAX >> 4)
                .decode(&mut body, &mut cursor)
                .expect("valid chunked framing");
            assert!(done, "a complete chunked body");
            out = &out[cursor.read..];
        } else if out.is_empty() || out.starts_with(b"HTTP/1.1 ") {
            // No framing and nothing or a response after it: the answer to a HEAD
            // request for a streamed body.
            continue;
        } else {
            // Close-delimited: the rest is the body.
            assert_eq!(find("connection"), Some("close"));
            return;
        }
    }
}

/// Decodes `input` as a chunked body fed in pieces chosen by `splits`; the result must
/// not depend on the split, and decoded data never exceeds the limit.
pub fn chunked(input: &[u8], splits: &[u8]) {
    let whole = decode_chunked(input, &[]);
    assert_eq!(decode_chunked(input, splits), whole);
    if let Ok(Some((body, used))) = &whole {
        assert!(body.len() <= 4096);
        assert!(*used <= input.len());
    }
}

type Decoded = Result<Option<(Vec<u8>, usize)>, ChunkError>;

fn decode_chunked(input: &[u8], splits: &[u8]) -> Decoded {
    let mut decoder = ChunkedDecoder::new(4096);
    let mut cursor = Cursor::default();
    let mut buf = Vec::new();
    for piece in pieces(input, splits) {
        buf.extend_from_slice(piece);
        if decoder.decode(&mut buf, &mut cursor)? {
            buf.truncate(cursor.written);
            return Ok(Some((buf, cursor.read)));
        }
    }
    Ok(None)
}

/// Parses rules from the lines of `input` (first line: the path to route); rules that
/// do not parse are errors, never panics, and routing never panics either.
pub fn router(input: &str) {
    let mut lines = input.lines();
    let path = lines.next().unwrap_or("/");
    let mut router = Router::default();
    for (i, text) in lines.take(64).enumerate() {
        if let Ok(rule) = Rule::new(text, &format!("e{i}"), &[Method::GET], i) {
            router.add(rule);
        }
    }
    let mut params = Params::default();
    let _ = router.route(path, &Method::GET, &mut params);
    let _ = router.route(path, &Method::POST, &mut params);
    for i in 0..4 {
        let _ = router.url_for(
            &format!("e{i}"),
            &[("id", path), ("name", path), ("rest", path)],
        );
    }
}

/// Client bytes cut into reads at the positions `splits` picks, through a WebSocket
/// connection that echoes every message, once plain and once with permessage-deflate
/// (when built). Whatever the input: no panic; `advance` never claims more than it was
/// given; the output is a sequence of well-formed server frames (pongs that repeat the
/// pings, echoes that inflate back to the messages, at most one close frame and nothing
/// after it); once closed nothing more comes out; and the events do not depend on the
/// split (only the code of a failure may, when an input breaks two rules at once).
#[cfg(feature = "websocket")]
pub fn ws_frames(input: &[u8], splits: &[u8]) {
    for deflate in ws::modes() {
        let whole = ws::run(input, &[], deflate);
        let split = ws::run(input, splits, deflate);
        assert_eq!(split.events, whole.events, "events depend on the split");
        assert_eq!(split.failed, whole.failed, "a failure depends on the split");
        if whole.failed {
            // Both end on the failure's close frame; what comes before it is the same.
            let before_close = |r: &ws::Run| r.frames[..r.frames.len() - 1].to_vec();
            assert_eq!(before_close(&split), before_close(&whole));
        } else {
            assert_eq!(split.out, whole.out, "output depends on the split");
        }
    }
}

#[cfg(feature = "websocket")]
mod ws {
    use bytes::BytesMut;

    use super::pieces;
    use crate::http::ws::close;
    use crate::http::ws::extension::DeflateParams;
    use crate::http::ws::frame::{self, OpCode, RSV1};
    use crate::http::ws::protocol::{Event, Limits, Protocol, State};

    /// What a run saw: events as (opcode, payload), the output and its frames.
    pub(super) struct Run {
        pub(super) events: Vec<(u8, Vec<u8>)>,
        pub(super) out: Vec<u8>,
        pub(super) frames: Vec<(u8, Vec<u8>)>,
        pub(super) failed: bool,
    }

    /// Plain, and with permessage-deflate keeping its context both ways when built.
    pub(super) fn modes() -> Vec<Option<DeflateParams>> {
        let mut modes = vec![None];
        if cfg!(feature = "deflate") {
            modes.push(Some(DeflateParams {
                server_no_context_takeover: false,
                client_no_context_takeover: false,
                server_max_window_bits: 15,
                client_max_window_bits: 15,
                level: 1,
                min_size: 16,
            }));
        }
        modes
    }

    pub(super) fn run(input: &[u8], splits: &[u8], deflate: Option<DeflateParams>) -> Run {
        // Small limits, so that inputs of a few KiB reach them.
        let limits = Limits {
            max_frame: 2048,
            max_message: 4096,
        };
        let mut protocol = Protocol::new(limits, deflate);
        let mut buf = Vec::new();
        let mut out = BytesMut::new();
        let mut events = Vec::new();
        for piece in pieces(input, splits) {
            buf.extend_from_slice(piece);
            let (closed, out_before, events_before) =
                (protocol.state() == State::Closed, out.len(), events.len());
            let used = protocol.advance(&mut buf, &mut out, |event, send| {
                let (opcode, payload) = match event {
                    Event::Text(text) => {
                        let _ = send.send_text(text);
                        (OpCode::Text, text.as_bytes())
                    }
                    Event::Binary(data) => {
                        let _ = send.send_binary(data);
                        (OpCode::Binary, data)
                    }
                    Event::Ping(data) => (OpCode::Ping, data),
                    Event::Pong(data) => (OpCode::Pong, data),
                    Event::Close { code, reason } => {
                        let mut payload = Vec::new();
                        if let Some(code) = code {
                            payload.extend_from_slice(&code.to_be_bytes());
                        }
                        payload.extend_from_slice(reason.as_bytes());
                        events.push((OpCode::Close as u8, payload));
                        return;
                    }
                };
                events.push((opcode as u8, payload.to_vec()));
            });
            assert!(used <= buf.len(), "used {used} of {}", buf.len());
            if closed {
                assert_eq!(out.len(), out_before, "output after Closed");
                assert_eq!(events.len(), events_before, "events after Closed");
                assert_eq!(used, buf.len(), "input is ignored once Closed");
            }
            buf.drain(..used);
        }
        let frames = check_output(&out, &events, deflate.is_some());
        Run {
            events,
            out: out.to_vec(),
            frames,
            failed: protocol.failure().is_some(),
        }
    }

    /// Splits the output into frames and checks each against the events it answers.
    fn check_output(mut out: &[u8], events: &[(u8, Vec<u8>)], deflate: bool) -> Vec<(u8, Vec<u8>)> {
        let mut frames = Vec::new();
        while !out.is_empty() {
            let header = frame::decode_header(out)
                .expect("a valid header")
                .expect("a whole header");
            assert!(header.fin && header.mask.is_none(), "{header:?}");
            let end = header.header_len + header.len as usize;
            assert!(out.len() >= end, "a truncated frame");
            frames.push((out[0], out[header.header_len..end].to_vec()));
            out = &out[end..];
        }
        let data = |op: u8| op == OpCode::Text as u8 || op == OpCode::Binary as u8;
        let mut messages = events.iter().filter(|(op, _)| data(*op));
        let mut pings = events.iter().filter(|(op, _)| *op == OpCode::Ping as u8);
        #[cfg(feature = "deflate")]
        let mut inflater = crate::http::ws::deflate::Inflater::new(false);
        for (i, (first, payload)) in frames.iter().enumerate() {
            let opcode = first & 0x0f;
            let rsv = first & frame::RSV_MASK;
            assert!(
                rsv == 0 || (rsv == RSV1 && deflate && data(opcode)),
                "RSV {first:#x}"
            );
            if data(opcode) {
                let (op, message) = messages.next().expect("an echo answers a message");
                assert_eq!(opcode, *op);
                if rsv == 0 {
                    assert_eq!(payload, message);
                } else {
                    #[cfg(feature = "deflate")]
                    {
                        let mut back = Vec::new();
                        inflater
                            .inflate(payload, &mut back, usize::MAX)
                            .expect("inflates");
                        inflater.finish(&mut back, usize::MAX).expect("inflates");
                        assert_eq!(&back, message, "the echo inflates back");
                    }
                }
            } else if opcode == OpCode::Pong as u8 {
                assert_eq!(
                    Some(payload),
                    pings.next().map(|(_, p)| p),
                    "a pong repeats a ping"
                );
            } else {
                assert_eq!(opcode, OpCode::Close as u8, "unexpected opcode {first:#x}");
                assert_eq!(i + 1, frames.len(), "nothing after a close frame");
                let (code, _) = close::parse_payload(payload).expect("a valid close payload");
                assert!(code.is_some_and(close::is_valid_code) || payload.is_empty());
            }
        }
        frames
    }
}

/// Reads `input` as the body of a long-polling `POST` and feeds its messages through the
/// Socket.IO decoder, as a session would. Malformed input is an error, never a panic; every
/// Engine.IO packet re-encodes to itself, and every complete Socket.IO packet encodes to
/// frames that decode back to the same packet.
#[cfg(feature = "socketio")]
pub fn socketio(input: &[u8]) {
    use crate::web::socketio::binary::from_value;
    use crate::web::socketio::decoder::{Decoder, Status};
    use crate::web::socketio::engineio::packet::{Error, Frame, Packet};
    use crate::web::socketio::engineio::{packet::PacketType, payload};

    let records = match payload::decode(input, 8192) {
        Ok(records) => records,
        Err(e) => {
            assert!(matches!(e, Error::NotUtf8 | Error::TooLarge), "{e}");
            return;
        }
    };
    let mut decoder = Decoder::new(4);
    for packet in records {
        let Ok(packet) = packet else { return };
        let frame = match &packet {
            Packet::Text(kind, data) => Frame::text(*kind, data),
            Packet::Binary(data) => Frame::Binary(data.clone()),
        };
        let mut body = bytes::BytesMut::new();
        payload::encode([&frame], &mut body);
        let again: Vec<_> = payload::decode(&body, usize::MAX)
            .map(Iterator::collect)
            .unwrap();
        assert_eq!(again, [Ok(packet.clone())]);

        let status = match packet {
            Packet::Text(PacketType::Message, text) => decoder.text(text),
            Packet::Binary(data) => decoder.binary(data),
            Packet::Text(..) => continue,
        };
        let Ok(Status::Complete(packet)) = status else {
            continue;
        };
        // The typed view of the arguments never panics, whatever the tree.
        if let Some(data) = &packet.data {
            let _ = from_value::<serde_json::Value>(data, &packet.attachments);
            let _ = from_value::<(String, bytes::Bytes, Option<bytes::Bytes>)>(
                data,
                &packet.attachments,
            );
        }
        let mut echo = Decoder::new(4);
        let mut result = None;
        for frame in packet.encode().frames() {
            assert!(result.is_none(), "frames after the packet was complete");
            let status = match frame {
                Frame::Text(text) => {
                    let text = std::str::from_utf8(&text).expect("UTF-8 text frame");
                    echo.text(text.strip_prefix('4').expect("a message"))
                }
                Frame::Binary(data) => echo.binary(data),
            };
            match status.expect("an encoded packet decodes") {
                Status::Partial => {}
                Status::Complete(back) => result = Some(back),
            }
        }
        assert_eq!(result.as_ref(), Some(&packet));
    }
}
