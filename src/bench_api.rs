//! Entry points for the criterion benches in `benches/`: thin wrappers that call the
//! same functions the server calls, so a bench measures the real code path. Not a
//! stable API.

use std::net::{Ipv4Addr, SocketAddr};

use bytes::BytesMut;

use crate::config::Config;
use crate::http::body::{ChunkedDecoder, Cursor};
use crate::http::date::DateCache;
use crate::http::encode::{self, BodyFraming, Persistence};
use crate::http::parse;
use crate::server::h1::{Env, H1};
use crate::web::app::App;
use crate::web::router::{self, Params, Routed, Rule};
use crate::{Method, Response};

/// The parser's limits, as a server with `config` enforces them.
pub struct Limits(parse::Limits);

impl Limits {
    /// The limits of `config`.
    pub fn new(config: &Config) -> Limits {
        Limits(parse::Limits::new(config))
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::new(&Config::default())
    }
}

/// Parses the request head at the start of `buf` with the server's header slots and
/// checks; returns its length and header count, or `None` if incomplete or refused.
pub fn parse_head(buf: &[u8], limits: &Limits) -> Option<(usize, usize)> {
    match parse::parse_head(buf, &mut parse::HeaderSlots::new(), &limits.0) {
        Ok(Some(head)) => Some((head.len, head.headers.len())),
        _ => None,
    }
}

/// Decodes the chunked body at the start of `buf` in place, as the exchange does after a
/// head; returns the encoded bytes used and the decoded length, or `None` if incomplete
/// or refused. `buf` is overwritten, so pass a fresh copy each time.
pub fn decode_chunked(buf: &mut [u8], limit: usize) -> Option<(usize, usize)> {
    let mut cursor = Cursor::default();
    match ChunkedDecoder::new(limit).decode(buf, &mut cursor) {
        Ok(true) => Some((cursor.read, cursor.written)),
        _ => None,
    }
}

/// What routing decided, without the details.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The rule at this index (in the order given) matched.
    Found(usize),
    /// Answered automatically with `Allow`.
    Options,
    /// 405.
    MethodNotAllowed,
    /// 308 to the path with a trailing slash.
    AddSlash,
    /// 404.
    NotFound,
}

/// A router and the params it routes into, as a request holds them.
pub struct Router {
    router: router::Router,
    params: Params,
}

impl Router {
    /// Compiles `rules` (text and methods) in order; the first rule that fails is an error.
    pub fn new(rules: &[(&str, &[Method])]) -> Result<Router, String> {
        let mut router = router::Router::default();
        for (i, (text, methods)) in rules.iter().enumerate() {
            router.add(Rule::new(text, &format!("e{i}"), methods, i)?);
        }
        Ok(Router {
            router,
            params: Params::default(),
        })
    }

    /// Routes a percent-decoded `path`; returns the outcome and how many variables matched.
    pub fn route(&mut self, path: &str, method: &Method) -> (Outcome, usize) {
        let outcome = match self.router.route(path, method, &mut self.params) {
            Routed::Found(i) => Outcome::Found(self.router.rule(i).target),
            Routed::Options(_) => Outcome::Options,
            Routed::MethodNotAllowed(_) => Outcome::MethodNotAllowed,
            Routed::AddSlash => Outcome::AddSlash,
            Routed::NotFound => Outcome::NotFound,
        };
        let vars = (0..).take_while(|&i| self.params.get(i).is_some()).count();
        (outcome, vars)
    }
}

/// The response encoder with a loop's cached `Date`.
pub struct Encoder {
    date: DateCache,
}

impl Encoder {
    /// An encoder with the current date.
    pub fn new() -> Encoder {
        Encoder {
            date: DateCache::new(),
        }
    }

    /// Appends `resp` to `out` as a keep-alive HTTP/1.1 response with `Content-Length`:
    /// the head through the server's encoder, then the body.
    pub fn encode(&self, resp: &Response, out: &mut BytesMut) {
        let body = resp.body().unwrap_or(b"");
        encode::write_head(
            out,
            resp,
            self.date.as_bytes(),
            BodyFraming::Length(body.len() as u64),
            Persistence::KeepAlive,
        );
        out.extend_from_slice(body);
    }
}

impl Default for Encoder {
    fn default() -> Encoder {
        Encoder::new()
    }
}

/// One keep-alive connection's exchange over an app, without a socket: what the
/// server's loop runs for each read.
pub struct Exchange {
    app: App,
    limits: parse::Limits,
    date: DateCache,
    h1: H1,
}

impl Exchange {
    /// A fresh connection to `app`.
    pub fn new(app: App) -> Exchange {
        let limits = parse::Limits::new(app.config());
        Exchange {
            app,
            limits,
            date: DateCache::new(),
            h1: H1::new(),
        }
    }

    /// Answers every complete request in `input`, appending the responses to `out`;
    /// returns the input bytes used.
    pub fn advance(&mut self, input: &mut [u8], out: &mut BytesMut) -> usize {
        let env = Env {
            service: &self.app,
            limits: &self.limits,
            date: self.date.as_bytes(),
            conn: crate::server::ConnInfo::plain(crate::server::PeerAddr::Tcp(SocketAddr::from((
                Ipv4Addr::LOCALHOST,
                1,
            )))),
            origin: None,
        };
        self.h1.advance(input, out, &env)
    }
}

/// One WebSocket connection's protocol, server side, without a socket: what the loop
/// will run for each read of an upgraded connection.
#[cfg(feature = "websocket")]
pub struct WsConnection {
    protocol: crate::http::ws::protocol::Protocol,
    out: BytesMut,
}

#[cfg(feature = "websocket")]
impl WsConnection {
    /// A connection with the default limits and no extension.
    pub fn new() -> WsConnection {
        WsConnection {
            protocol: crate::http::ws::protocol::Protocol::new(Default::default(), None),
            out: BytesMut::new(),
        }
    }

    /// Reads every complete frame in `input`, unmasking it in place; returns the bytes
    /// used and the payload bytes of the messages delivered.
    pub fn advance(&mut self, input: &mut [u8]) -> (usize, usize) {
        use crate::http::ws::protocol::Event;
        let mut delivered = 0;
        self.out.clear();
        let used = self.protocol.advance(input, &mut self.out, |event, _| {
            delivered += match event {
                Event::Text(text) => text.len(),
                Event::Binary(data) => data.len(),
                _ => 0,
            }
        });
        (used, delivered)
    }
}

#[cfg(feature = "websocket")]
impl Default for WsConnection {
    fn default() -> WsConnection {
        WsConnection::new()
    }
}

/// `count` masked client frames of `payload`, text or binary, as a browser sends them.
#[cfg(feature = "websocket")]
pub fn ws_client_frames(text: bool, payload: &[u8], count: usize) -> Vec<u8> {
    use crate::http::ws::frame::{OpCode, encode_masked};
    let opcode = if text { OpCode::Text } else { OpCode::Binary };
    let mut out = BytesMut::new();
    for i in 0..count {
        encode_masked(
            &mut out,
            true,
            0,
            opcode,
            payload,
            [0x37, 0xfa, 0x21, i as u8],
        );
    }
    out.to_vec()
}

/// Appends a server frame (unmasked) with `payload`, text or binary, as `send_*` does.
#[cfg(feature = "websocket")]
pub fn ws_encode(out: &mut BytesMut, text: bool, payload: &[u8]) {
    use crate::http::ws::frame::{OpCode, encode};
    let opcode = if text { OpCode::Text } else { OpCode::Binary };
    encode(out, opcode, 0, payload);
}

/// XORs `buf` with a masking key, as unmasking a payload does.
#[cfg(feature = "websocket")]
pub fn ws_mask(buf: &mut [u8], key: [u8; 4]) {
    crate::http::ws::frame::apply_mask(buf, key, 0);
}

/// The Socket.IO codec, as a session will drive it.
#[cfg(feature = "socketio")]
pub mod socketio {
    use bytes::{Bytes, BytesMut};

    use crate::web::socketio::binary;
    use crate::web::socketio::decoder::{Decoder, Status};
    use crate::web::socketio::engineio::{packet::Frame, payload};
    use crate::web::socketio::packet::{Encoded, Packet};

    /// A packet ready to encode.
    pub struct Event(Packet);

    impl Event {
        /// An EVENT in `nsp` with the JSON array `args` (`[name, ...]`) and, if `binary`
        /// is given, that attachment after the arguments.
        pub fn new(nsp: &'static str, args: &str, binary: Option<&'static [u8]>) -> Event {
            let mut data: serde_json::Value = serde_json::from_str(args).unwrap_or_default();
            let mut attachments = Vec::new();
            if let (Some(bin), Some(items)) = (binary, data.as_array_mut()) {
                let (placeholder, bins) =
                    binary::to_value(&Bytes::from_static(bin)).unwrap_or_default();
                items.push(placeholder);
                attachments = bins;
            }
            Event(Packet::event(nsp, data, attachments))
        }

        /// Encodes the packet once: what an emit to a room costs before any socket.
        pub fn encode(&self) -> Frames {
            Frames(self.0.encode())
        }
    }

    /// An encoded packet.
    #[derive(Clone)]
    pub struct Frames(Encoded);

    impl Frames {
        /// Queues the frames on `queues` sessions, as a room emit does after encoding;
        /// returns how many frames were queued.
        pub fn fan_out(&self, queues: &mut [Queue]) -> usize {
            let mut n = 0;
            for Queue(queue) in queues {
                queue.clear();
                queue.extend(self.0.frames());
                n += queue.len();
            }
            n
        }

        /// Writes the frames as one long-polling response body.
        pub fn polling_body(&self, out: &mut BytesMut) {
            let frames: Vec<Frame> = self.0.frames().collect();
            payload::encode(&frames, out);
        }
    }

    /// A session's queue of frames.
    #[derive(Clone, Default)]
    pub struct Queue(Vec<Frame>);

    /// Decodes a long-polling `POST` body and every Socket.IO message in it; returns the
    /// number of complete packets, or `None` on the first error.
    pub fn decode_body(body: &[u8]) -> Option<usize> {
        let mut decoder = Decoder::default();
        let mut complete = 0;
        for packet in payload::decode(body, usize::MAX).ok()? {
            use crate::web::socketio::engineio::packet::{Packet as Eio, PacketType};
            let status = match packet.ok()? {
                Eio::Text(PacketType::Message, text) => decoder.text(text),
                Eio::Binary(data) => decoder.binary(data),
                Eio::Text(..) => continue,
            };
            if let Status::Complete(_) = status.ok()? {
                complete += 1;
            }
        }
        Some(complete)
    }
}
