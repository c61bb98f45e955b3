//! The handshake's `open` packet and the JSON errors that refuse a request.
//!
//! engine.io-protocol README, "Handshake": the server answers a new session with an
//! `open` packet whose data is `{"sid","upgrades","pingInterval","pingTimeout",
//! "maxPayload"}`, in that order in the reference server (`Socket.onOpen`). A request
//! it refuses gets `{"code":N,"message":"..."}` with the codes of engine.io's
//! `Server.errors` and `Server.errorMessages`, status 403 for `Forbidden` and 400 for
//! the rest (`abortRequest`).

use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;

use super::packet::{Frame, PacketType};
use super::sid::Sid;

/// The transports a session can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transport {
    /// HTTP long-polling: `GET` to receive, `POST` to send.
    Polling,
    /// One WebSocket connection.
    WebSocket,
}

impl Transport {
    /// The transport named by a request's `transport` query parameter.
    pub(crate) fn from_query(name: &str) -> Option<Transport> {
        match name {
            "polling" => Some(Transport::Polling),
            "websocket" => Some(Transport::WebSocket),
            _ => None,
        }
    }
}

/// The heartbeat and size settings a session announces in its `open` packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Settings {
    /// How often the server pings (engine.io default 25 s).
    pub(crate) ping_interval: Duration,
    /// How long the client has to answer a ping (engine.io default 20 s).
    pub(crate) ping_timeout: Duration,
    /// The largest long-polling body and WebSocket message accepted, in bytes
    /// (engine.io's `maxHttpBufferSize`, default 1e6).
    pub(crate) max_payload: usize,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            max_payload: 1_000_000,
        }
    }
}

/// The `open` packet's JSON, fields in the reference server's order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Open<'a> {
    sid: &'a Sid,
    upgrades: &'a [&'a str],
    ping_interval: u128,
    ping_timeout: u128,
    max_payload: usize,
}

/// The `open` packet of a session that starts on `transport`: `0{"sid":...}`. A
/// long-polling session is offered the upgrade to WebSocket; a WebSocket one has nothing
/// to upgrade to (engine.io's `getAvailableUpgrades`).
pub(crate) fn open_packet(sid: &Sid, transport: Transport, settings: &Settings) -> Frame {
    let upgrades: &[&str] = match transport {
        Transport::Polling => &["websocket"],
        Transport::WebSocket => &[],
    };
    let open = Open {
        sid,
        upgrades,
        ping_interval: settings.ping_interval.as_millis(),
        ping_timeout: settings.ping_timeout.as_millis(),
        max_payload: settings.max_payload,
    };
    let mut text = vec![PacketType::Open.digit()];
    // Serialising strings and integers into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut text, &open);
    Frame::Text(Bytes::from(text))
}

/// Why a request was refused, with engine.io's codes and messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErrorCode {
    /// 0: no `transport` query parameter, or an unknown one.
    TransportUnknown = 0,
    /// 1: a `sid` that names no live session.
    SessionIdUnknown = 1,
    /// 2: a handshake (no `sid`) with a method other than `GET`.
    BadHandshakeMethod = 2,
    /// 3: anything else malformed: a transport that does not match the session's, a
    /// WebSocket handshake without the upgrade, a second concurrent `GET` or `POST`.
    BadRequest = 3,
    /// 4: the application refused the handshake.
    Forbidden = 4,
    /// 5: `EIO` is not `4`.
    UnsupportedProtocolVersion = 5,
}

impl ErrorCode {
    /// The reference server's message for the code.
    pub(crate) fn message(self) -> &'static str {
        match self {
            ErrorCode::TransportUnknown => "Transport unknown",
            ErrorCode::SessionIdUnknown => "Session ID unknown",
            ErrorCode::BadHandshakeMethod => "Bad handshake method",
            ErrorCode::BadRequest => "Bad request",
            ErrorCode::Forbidden => "Forbidden",
            ErrorCode::UnsupportedProtocolVersion => "Unsupported protocol version",
        }
    }

    /// The HTTP status of the refusal.
    pub(crate) fn status(self) -> u16 {
        match self {
            ErrorCode::Forbidden => 403,
            _ => 400,
        }
    }

    /// The body of the refusal (`Content-Type: application/json`), with the standard
    /// message or `message` in its place (engine.io lets `allowRequest` give one).
    pub(crate) fn json(self, message: Option<&str>) -> Bytes {
        #[derive(Serialize)]
        struct Body<'a> {
            code: u8,
            message: &'a str,
        }
        let body = Body {
            code: self as u8,
            message: message.unwrap_or(self.message()),
        };
        // A struct of an integer and a string always serialises.
        Bytes::from(serde_json::to_vec(&body).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_packet_matches_the_readme() {
        // engine.io-protocol README, "Handshake", with the socket.io-protocol sample
        // session's values.
        let sid = Sid::parse("lv_VI97HAXpY6yYWAAAC").unwrap();
        let settings = Settings {
            ping_timeout: Duration::from_millis(5000),
            ..Settings::default()
        };
        assert_eq!(
            open_packet(&sid, Transport::Polling, &settings),
            Frame::Text(Bytes::from_static(
                br#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":5000,"maxPayload":1000000}"#
            ))
        );
        assert_eq!(
            open_packet(&sid, Transport::WebSocket, &Settings::default()),
            Frame::Text(Bytes::from_static(
                br#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#
            ))
        );
    }

    #[test]
    fn error_bodies() {
        let cases = [
            (ErrorCode::TransportUnknown, 400, "Transport unknown"),
            (ErrorCode::SessionIdUnknown, 400, "Session ID unknown"),
            (ErrorCode::BadHandshakeMethod, 400, "Bad handshake method"),
            (ErrorCode::BadRequest, 400, "Bad request"),
            (ErrorCode::Forbidden, 403, "Forbidden"),
            (
                ErrorCode::UnsupportedProtocolVersion,
                400,
                "Unsupported protocol version",
            ),
        ];
        for (code, status, message) in cases {
            assert_eq!(code.status(), status);
            assert_eq!(
                code.json(None),
                format!(r#"{{"code":{},"message":"{message}"}}"#, code as u8)
            );
        }
        assert_eq!(
            ErrorCode::Forbidden.json(Some("no \"token\"")),
            r#"{"code":4,"message":"no \"token\""}"#
        );
    }

    #[test]
    fn transports() {
        assert_eq!(Transport::from_query("polling"), Some(Transport::Polling));
        assert_eq!(
            Transport::from_query("websocket"),
            Some(Transport::WebSocket)
        );
        assert_eq!(Transport::from_query("webtransport"), None);
        assert_eq!(Transport::from_query("Polling"), None);
    }
}
