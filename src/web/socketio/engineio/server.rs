//! The Engine.IO endpoint: the table of sessions, and the answer to each request of the
//! protocol (engine.io-protocol README v4, "Transports" and "Handshake"; the reference
//! server is engine.io 6.x `Server.handleRequest` and `verify`).
//!
//! - no `sid`: a handshake, by long-polling (`GET`, answered with the `open` packet) or
//!   by WebSocket straight away (`transport=websocket`, the `open` packet is its first
//!   message);
//! - a `sid` and `transport=polling`: `GET` receives (parked until something is sent),
//!   `POST` sends;
//! - a `sid` and `transport=websocket`: the upgrade's new connection.
//!
//! Refusals are 400 with the error JSON (`{"code":N,"message":...}`), as in `verify`.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Instant;

use super::conn::{CloseReason, Conn, GetOutcome, Hooks, Incoming, polling_response};
use super::cors::Cors;
use super::handshake::{ErrorCode, Settings, Transport, open_packet};
use super::packet::{Error as PacketError, Packet, PacketType};
use super::payload;
use super::sid::Sid;
use super::timer::Timer;
use super::ws::EngineWs;
use crate::http::response::{HeaderText, Response};
use crate::http::status::StatusCode;
use crate::server::completion::Completion;
use crate::web::error::HttpError;
use crate::web::request::Request;

/// A deferred answer: what `Reply::Later` carries.
type Later = Box<dyn FnOnce(Completion) + Send>;

thread_local! {
    /// The long-poll a request parked, taken by the app once the view returns (as
    /// WebSocket upgrades are): a loop runs one request at a time.
    static LATER: Cell<Option<Later>> = const { Cell::new(None) };
}

/// The deferred answer the view of the request just served asked for, if any.
pub(crate) fn take_later() -> Option<Later> {
    LATER.with(Cell::take)
}

/// The layer above Engine.IO (Socket.IO): what it keeps per session and what it hears.
pub(crate) trait Handler: Send + Sync + Sized + 'static {
    /// Per-session data, made from the handshake request.
    type Data: Send + Sync + 'static;

    fn data(&self, req: &Request<'_>) -> Self::Data;

    /// A session opened (its handshake was answered, or is on its way).
    fn on_open(&self, conn: &Arc<Conn<Self::Data>>);

    /// A message arrived. Runs on the thread that read it (a loop).
    fn on_message(&self, conn: &Arc<Conn<Self::Data>>, message: Incoming<'_>);

    /// The session ended; runs once, on whichever thread ended it.
    fn on_close(&self, conn: &Arc<Conn<Self::Data>>, reason: CloseReason);
}

/// Settings of the endpoint beyond the handshake's.
pub(crate) struct Options {
    pub(crate) settings: Settings,
    pub(crate) cors: Cors,
    pub(crate) cors_credentials: bool,
}

/// The Engine.IO server: its sessions and the layer above.
pub(crate) struct Engine<H: Handler> {
    pub(crate) handler: H,
    pub(crate) options: Options,
    sessions: Mutex<HashMap<Sid, Arc<Conn<H::Data>>>>,
    pub(crate) timer: Timer,
    /// Itself, for the sessions' hooks.
    this: Weak<Engine<H>>,
}

impl<H: Handler> Hooks<H::Data> for Engine<H> {
    fn closed(&self, conn: &Arc<Conn<H::Data>>, reason: CloseReason) {
        self.sessions().remove(&conn.sid);
        self.handler.on_close(conn, reason);
    }
}

/// A refusal with engine.io's JSON body.
fn refuse(code: ErrorCode, headers: &[(HeaderText, HeaderText)]) -> Response {
    let mut response = Response::new(code.json(None))
        .with_status(code.status())
        .with_content_type("application/json");
    for (name, value) in headers {
        response.append_header(name.clone(), value.clone());
    }
    response
}

impl<H: Handler> Engine<H> {
    pub(crate) fn new(handler: H, options: Options, timer: Timer) -> Arc<Engine<H>> {
        Arc::new_cyclic(|this| Engine {
            handler,
            options,
            sessions: Mutex::new(HashMap::new()),
            timer,
            this: this.clone(),
        })
    }

    fn sessions(&self) -> MutexGuard<'_, HashMap<Sid, Arc<Conn<H::Data>>>> {
        self.sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Makes a session and files it under a fresh sid.
    pub(crate) fn open(
        &self,
        data: H::Data,
        websocket: Option<crate::server::websocket::WebSocketHandle>,
    ) -> Option<Arc<Conn<H::Data>>> {
        let hooks: Weak<dyn Hooks<H::Data>> = self.this.clone();
        let mut sessions = self.sessions();
        let sid = loop {
            match Sid::generate() {
                Ok(sid) if !sessions.contains_key(&sid) => break sid,
                Ok(_) => continue,
                Err(e) => {
                    log::error!("no random source for an Engine.IO sid: {e}");
                    return None;
                }
            }
        };
        let conn = Conn::new(
            sid,
            data,
            self.options.settings,
            websocket,
            hooks,
            self.timer.clone(),
        );
        sessions.insert(sid, conn.clone());
        drop(sessions);
        self.handler.on_open(&conn);
        Some(conn)
    }

    /// Answers one request to the endpoint.
    pub(crate) fn serve(
        &self,
        req: &Request<'_>,
        response: &mut Response,
    ) -> Result<(), HttpError> {
        let cors = &self.options.cors;
        if !cors.allows(req.header("Origin"), req.host().as_deref()) {
            let body = ErrorCode::Forbidden.json(Some("Not an accepted origin."));
            *response = Response::new(body)
                .with_status(ErrorCode::Forbidden.status())
                .with_content_type("application/json");
            return Ok(());
        }
        let headers = cors.headers(req, self.options.cors_credentials);
        let method = req.method().as_str();
        if method == "OPTIONS" {
            let mut preflight = Response::empty(StatusCode::NO_CONTENT);
            for (name, value) in headers {
                preflight.append_header(name, value);
            }
            *response = preflight;
            return Ok(());
        }
        let args = req.args();
        if args.get("EIO") != Some("4") {
            *response = refuse(ErrorCode::UnsupportedProtocolVersion, &headers);
            return Ok(());
        }
        let Some(transport) = args.get("transport").and_then(Transport::from_query) else {
            *response = refuse(ErrorCode::TransportUnknown, &headers);
            return Ok(());
        };
        let upgrade = req
            .header("Upgrade")
            .is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
        let Some(sid) = args.get("sid") else {
            if method != "GET" {
                *response = refuse(ErrorCode::BadHandshakeMethod, &headers);
                return Ok(());
            }
            return match transport {
                Transport::Polling => {
                    let data = self.handler.data(req);
                    let Some(conn) = self.open(data, None) else {
                        *response = Response::text("503 Service Unavailable\n").with_status(503);
                        return Ok(());
                    };
                    let open = open_packet(&conn.sid, Transport::Polling, &self.options.settings);
                    *response = polling_response(&[open], headers);
                    Ok(())
                }
                Transport::WebSocket if upgrade => {
                    let engine = self.this.upgrade();
                    let data = self.handler.data(req);
                    crate::web::websocket::switch(req, response, move |_| match engine {
                        Some(engine) => Ok(Box::new(EngineWs::new_session(engine, data))),
                        None => Err(crate::web::error::abort(503)),
                    })
                }
                Transport::WebSocket => {
                    *response = refuse(ErrorCode::BadRequest, &headers);
                    Ok(())
                }
            };
        };
        let conn = Sid::parse(sid).and_then(|sid| self.sessions().get(&sid).cloned());
        let Some(conn) = conn else {
            *response = refuse(ErrorCode::SessionIdUnknown, &headers);
            return Ok(());
        };
        match (transport, method) {
            (Transport::WebSocket, "GET") if upgrade && !conn.is_websocket() => {
                let engine = self.this.upgrade();
                crate::web::websocket::switch(req, response, move |_| match engine {
                    Some(engine) => Ok(Box::new(EngineWs::probe(engine, conn))),
                    None => Err(crate::web::error::abort(503)),
                })
            }
            (Transport::Polling, "GET") => {
                match conn.on_get(&headers) {
                    GetOutcome::Now(now) => *response = now,
                    GetOutcome::Park => {
                        let later: Later =
                            Box::new(move |completion| conn.park(completion, headers));
                        LATER.with(|slot| slot.set(Some(later)));
                    }
                    GetOutcome::Refused { close } => {
                        if close {
                            conn.close(CloseReason::TransportError);
                        }
                        *response = refuse(ErrorCode::BadRequest, &headers);
                    }
                }
                Ok(())
            }
            (Transport::Polling, "POST") => {
                *response = self.post(&conn, req.body(), headers);
                Ok(())
            }
            _ => {
                *response = refuse(ErrorCode::BadRequest, &headers);
                Ok(())
            }
        }
    }

    /// A long-polling `POST`: the packets of its body, in order.
    fn post(
        &self,
        conn: &Arc<Conn<H::Data>>,
        body: &[u8],
        headers: Vec<(HeaderText, HeaderText)>,
    ) -> Response {
        match conn.begin_post() {
            Ok(()) => {}
            Err(close) => {
                if close {
                    conn.close(CloseReason::TransportError);
                }
                return refuse(ErrorCode::BadRequest, &headers);
            }
        }
        let outcome = match payload::decode(body, conn.settings.max_payload) {
            // engine.io answers 413 past maxHttpBufferSize (the handshake's maxPayload).
            Err(PacketError::TooLarge) => Err(StatusCode::CONTENT_TOO_LARGE),
            Err(_) => Err(StatusCode::BAD_REQUEST),
            Ok(records) => {
                let mut outcome = Ok(());
                for packet in records {
                    match packet {
                        Ok(packet) => {
                            if !self.receive(conn, packet) {
                                break;
                            }
                        }
                        Err(_) => {
                            outcome = Err(StatusCode::BAD_REQUEST);
                            break;
                        }
                    }
                }
                outcome
            }
        };
        conn.end_post();
        let mut response = match outcome {
            Ok(()) => Response::new("ok").with_content_type("text/html"),
            Err(status) => {
                if status == StatusCode::BAD_REQUEST {
                    conn.close(CloseReason::ParseError);
                }
                Response::text(format!("{status}\n")).with_status(status)
            }
        };
        for (name, value) in headers {
            response.append_header(name, value);
        }
        response
    }

    /// Acts on one packet from the client, by either transport; `false` once the session
    /// has closed.
    pub(crate) fn receive(&self, conn: &Arc<Conn<H::Data>>, packet: Packet<'_>) -> bool {
        match packet {
            Packet::Text(PacketType::Message, data) => {
                self.handler.on_message(conn, Incoming::Text(data))
            }
            Packet::Binary(data) => self.handler.on_message(conn, Incoming::Binary(data)),
            Packet::Text(PacketType::Pong, _) => conn.on_pong(Instant::now()),
            Packet::Text(PacketType::Close, _) => conn.close(CloseReason::TransportClose),
            Packet::Text(PacketType::Noop, _) => {}
            // A client never sends `open`; pings and upgrades belong to the probe.
            Packet::Text(PacketType::Open | PacketType::Ping | PacketType::Upgrade, _) => {
                conn.close(CloseReason::ParseError)
            }
        }
        !conn.is_closed()
    }
}
