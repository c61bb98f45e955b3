//! The access log (`log` target `carafe::access`, level info), one line per request in
//! the common shape `127.0.0.1 "GET /path HTTP/1.1" 200 13 42us`.
//!
//! The time is from the moment the request head was complete to the moment the last
//! byte of its response was handed to the socket, so waiting behind a slow client, a
//! streamed body or the blocking pool is counted. A line is therefore written only once
//! the connection has flushed its output; until then it waits here, in request order.
//! With the logger off nothing is recorded (one atomic load per request).

use std::collections::VecDeque;
use std::time::Instant;

use crate::http::parse::Version;
use crate::http::status::StatusCode;
use crate::server::transport::PeerAddr;

/// Lines of one connection whose responses are not yet all on the socket.
#[derive(Default)]
pub(crate) struct AccessLog {
    lines: VecDeque<Line>,
}

struct Line {
    /// `127.0.0.1 "GET / HTTP/1.1"`.
    request: String,
    status: StatusCode,
    bytes: Option<u64>,
    started: Instant,
    /// The whole response has been produced (its body may still be streaming if not).
    produced: bool,
}

/// Whether access lines are wanted at all.
#[inline]
pub(crate) fn enabled() -> bool {
    log::log_enabled!(target: "carafe::access", log::Level::Info)
}

impl AccessLog {
    /// Records a response; `produced` is false while its body is still to be streamed.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn record(
        &mut self,
        peer: PeerAddr,
        (method, target, version): (&str, &str, Version),
        status: StatusCode,
        bytes: Option<u64>,
        started: Instant,
        produced: bool,
    ) {
        let version = match version {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        };
        self.lines.push_back(Line {
            request: match peer.ip() {
                Some(ip) => format!("{ip} \"{method} {target} {version}\""),
                None => format!("{peer} \"{method} {target} {version}\""),
            },
            status,
            bytes,
            started,
            produced,
        });
    }

    /// The streamed body of the newest response has been produced in full.
    pub(crate) fn body_done(&mut self) {
        if let Some(line) = self.lines.back_mut() {
            line.produced = true;
        }
    }

    /// Everything produced so far is on the socket: write the lines of finished responses.
    #[inline]
    pub(crate) fn flushed(&mut self, now: Instant) {
        if self.lines.is_empty() {
            return;
        }
        self.write(now);
    }

    #[cold]
    fn write(&mut self, now: Instant) {
        while self.lines.front().is_some_and(|line| line.produced) {
            let line = self.lines.pop_front().unwrap();
            let bytes = line.bytes.map_or_else(|| "-".to_owned(), |n| n.to_string());
            log::info!(
                target: "carafe::access",
                "{} {} {} {}us",
                line.request,
                line.status.as_u16(),
                bytes,
                now.saturating_duration_since(line.started).as_micros()
            );
        }
    }
}
