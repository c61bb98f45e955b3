//! Response heads and chunk framing, written straight into the write buffer.

use std::mem::MaybeUninit;

use bytes::{BufMut, BytesMut};

use crate::http::date::DATE_LEN;
use crate::http::response::Response;

/// How the body that follows the head is delimited (RFC 9112 §6.3), decided by the
/// connection, never by the handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyFraming {
    /// `Content-Length: n`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Neither: the body ends when the connection closes (streams to HTTP/1.0 clients).
    UntilClose,
    /// No body and no length: 1xx, 204, and 304 (RFC 9110 §8.6).
    Forbidden,
}

/// What the `Connection` header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Persistence {
    /// HTTP/1.1 default: no header.
    KeepAlive,
    /// `Connection: keep-alive`, needed by HTTP/1.0 clients.
    KeepAlive10,
    /// `Connection: close`.
    Close,
    /// `Connection: Upgrade`, with `101 Switching Protocols`.
    #[cfg(feature = "websocket")]
    Upgrade,
}

/// Headers the framework owns; a handler's values for them are dropped.
fn is_framing_header(name: &str) -> bool {
    name.eq_ignore_ascii_case("content-length")
        || name.eq_ignore_ascii_case("transfer-encoding")
        || name.eq_ignore_ascii_case("connection")
        || name.eq_ignore_ascii_case("date")
}

/// The start of a `200 OK` head with the framework's `Server`, up to the date.
const OK_START: &[u8] = b"HTTP/1.1 200 OK\r\nServer: carafe\r\nDate: ";
const CONTENT_TYPE: &[u8] = b"\r\nContent-Type: ";
const CONTENT_LENGTH: &[u8] = b"\r\nContent-Length: ";
/// The longest content type and body [`write_common`] takes; longer ones go the general way.
const COMMON_CONTENT_TYPE_MAX: usize = 64;
const COMMON_BODY_MAX: usize = 128;
/// Room for a common response: the fixed parts, the content type, the length's digits
/// (at most three, as the body is short) and the body.
const COMMON_MAX: usize = OK_START.len()
    + DATE_LEN
    + CONTENT_TYPE.len()
    + COMMON_CONTENT_TYPE_MAX
    + CONTENT_LENGTH.len()
    + 3
    + 4
    + COMMON_BODY_MAX;

/// Writes the commonest response whole, if `resp` with `body` is one: `200 OK` with the
/// framework's `Server`, `Date`, a short `Content-Type`, `Content-Length` and a short
/// body, kept alive (HTTP/1.1), no other headers. Returns whether it did.
///
/// The bytes are what [`write_head`] followed by the body would write, put straight into
/// the buffer's spare room after one capacity check, instead of one check per piece.
/// (Assembled in a stack buffer and appended, they were zeroed, written, then read
/// back before the writes had landed: a stall on every response.)
pub(crate) fn write_common(
    out: &mut BytesMut,
    resp: &Response,
    date: &[u8; DATE_LEN],
    body: &[u8],
) -> bool {
    let Some(content_type) = &resp.content_type else {
        return false;
    };
    if resp.status().as_u16() != 200
        || !resp.headers.is_empty()
        || content_type.len() > COMMON_CONTENT_TYPE_MAX
        || body.len() > COMMON_BODY_MAX
    {
        return false;
    }
    out.reserve(COMMON_MAX);
    let room = &mut out.spare_capacity_mut()[..COMMON_MAX];
    let mut n = 0;
    for piece in [
        OK_START,
        date,
        CONTENT_TYPE,
        content_type.as_bytes(),
        CONTENT_LENGTH,
    ] {
        n = put(room, n, piece);
    }
    // At most three digits: written in place, cheaper than formatting and copying them.
    const _: () = assert!(COMMON_BODY_MAX < 1000);
    let len = body.len();
    if len >= 100 {
        room[n].write(b'0' + (len / 100) as u8);
        n += 1;
    }
    if len >= 10 {
        room[n].write(b'0' + (len / 10 % 10) as u8);
        n += 1;
    }
    room[n].write(b'0' + (len % 10) as u8);
    n += 1;
    n = put(room, n, b"\r\n\r\n");
    n = put(room, n, body);
    // SAFETY: the first `n` bytes of the spare room were written just above, and
    // `n <= COMMON_MAX` (the slice was that long), which `reserve` made room for.
    unsafe { out.set_len(out.len() + n) };
    true
}

/// Copies `piece` into `room` at `at`; returns where it ends.
#[inline(always)]
fn put(room: &mut [MaybeUninit<u8>], at: usize, piece: &[u8]) -> usize {
    let end = at + piece.len();
    for (slot, &byte) in room[at..end].iter_mut().zip(piece) {
        slot.write(byte);
    }
    end
}

/// Writes the status line and headers of `resp`, ending with the blank line.
pub(crate) fn write_head(
    out: &mut BytesMut,
    resp: &Response,
    date: &[u8; DATE_LEN],
    framing: BodyFraming,
    persistence: Persistence,
) {
    // One reservation up front; the pieces below then only copy.
    out.reserve(192 + resp.headers.len() * 64);
    let status = resp.status();
    let own_server = resp.headers.is_empty() || resp.header("server").is_none();
    match (status.as_u16(), own_server) {
        (200, true) => out.put_slice(b"HTTP/1.1 200 OK\r\nServer: carafe\r\nDate: "),
        (code, _) => {
            out.put_slice(b"HTTP/1.1 ");
            out.put_slice(itoa::Buffer::new().format(code).as_bytes());
            out.put_u8(b' ');
            out.put_slice(status.reason().as_bytes());
            if own_server {
                out.put_slice(b"\r\nServer: carafe\r\nDate: ");
            } else {
                out.put_slice(b"\r\nDate: ");
            }
        }
    }
    out.put_slice(date);
    if let Some(content_type) = &resp.content_type {
        out.put_slice(b"\r\nContent-Type: ");
        out.put_slice(content_type.as_bytes());
    }
    for (name, value) in &resp.headers {
        if is_framing_header(name) {
            continue;
        }
        out.put_slice(b"\r\n");
        out.put_slice(name.as_bytes());
        out.put_slice(b": ");
        out.put_slice(value.as_bytes());
    }
    match framing {
        BodyFraming::Length(len) => {
            out.put_slice(b"\r\nContent-Length: ");
            out.put_slice(itoa::Buffer::new().format(len).as_bytes());
        }
        BodyFraming::Chunked => out.put_slice(b"\r\nTransfer-Encoding: chunked"),
        BodyFraming::UntilClose | BodyFraming::Forbidden => {}
    }
    match persistence {
        Persistence::KeepAlive => out.put_slice(b"\r\n\r\n"),
        Persistence::KeepAlive10 => out.put_slice(b"\r\nConnection: keep-alive\r\n\r\n"),
        Persistence::Close => out.put_slice(b"\r\nConnection: close\r\n\r\n"),
        #[cfg(feature = "websocket")]
        Persistence::Upgrade => out.put_slice(b"\r\nConnection: Upgrade\r\n\r\n"),
    }
}

/// The interim response that tells a client to send the body it is holding back.
pub(crate) fn write_continue(out: &mut BytesMut) {
    out.put_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
}

/// One chunk of a chunked body; empty data is skipped (it would end the body).
pub(crate) fn write_chunk(out: &mut BytesMut, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    let mut size = [0u8; 16];
    let mut i = size.len();
    let mut n = data.len();
    while n > 0 || i == size.len() {
        i -= 1;
        size[i] = b"0123456789abcdef"[n & 15];
        n >>= 4;
    }
    out.reserve(data.len() + 20);
    out.put_slice(&size[i..]);
    out.put_slice(b"\r\n");
    out.put_slice(data);
    out.put_slice(b"\r\n");
}

/// The last chunk, with no trailers.
pub(crate) fn write_last_chunk(out: &mut BytesMut) {
    out.put_slice(b"0\r\n\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::status::StatusCode;

    const DATE: &[u8; DATE_LEN] = b"Sun, 06 Nov 1994 08:49:37 GMT";

    fn head(resp: &Response, framing: BodyFraming, persistence: Persistence) -> String {
        let mut out = BytesMut::new();
        write_head(&mut out, resp, DATE, framing, persistence);
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn ok_head() {
        let resp = Response::text("hi");
        assert_eq!(
            head(&resp, BodyFraming::Length(2), Persistence::KeepAlive),
            "HTTP/1.1 200 OK\r\nServer: carafe\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\n\r\n"
        );
    }

    /// The one-append path writes exactly what the general one does, and only for the
    /// responses it is meant for.
    #[test]
    fn common_response_matches_general_path() {
        let cases = [
            (Response::text("Hello, World!"), true),
            (Response::text(""), true),
            (Response::text("x".repeat(9)), true),
            (Response::text("x".repeat(100)), true),
            (Response::text("x".repeat(105)), true),
            (Response::text("x".repeat(COMMON_BODY_MAX)), true),
            (Response::text("x".repeat(COMMON_BODY_MAX + 1)), false),
            (Response::new("no type"), false),
            (Response::text("hi").with_header("X-A", "1"), false),
            (Response::text("hi").with_status(StatusCode::CREATED), false),
            (
                Response::new("hi").with_content_type("x".repeat(COMMON_CONTENT_TYPE_MAX + 1)),
                false,
            ),
        ];
        for (resp, common) in cases {
            let body = resp.body().unwrap_or(b"").to_vec();
            let mut fast = BytesMut::new();
            assert_eq!(write_common(&mut fast, &resp, DATE, &body), common);
            if common {
                let mut general = BytesMut::new();
                let framing = BodyFraming::Length(body.len() as u64);
                write_head(&mut general, &resp, DATE, framing, Persistence::KeepAlive);
                general.extend_from_slice(&body);
                assert_eq!(fast, general);
            } else {
                assert!(fast.is_empty());
            }
        }
    }

    #[test]
    fn other_statuses_framing_and_persistence() {
        let resp = Response::empty(StatusCode::NOT_FOUND).with_header("X-A", "1");
        let text = head(&resp, BodyFraming::Chunked, Persistence::Close);
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"));
        assert!(text.contains("X-A: 1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"));
        let resp = Response::empty(StatusCode::from(299));
        assert!(
            head(&resp, BodyFraming::Forbidden, Persistence::KeepAlive10)
                .starts_with("HTTP/1.1 299 \r\n")
        );
        assert!(
            head(&resp, BodyFraming::Forbidden, Persistence::KeepAlive10)
                .ends_with("Connection: keep-alive\r\n\r\n")
        );
    }

    #[test]
    fn handlers_cannot_set_framing_headers() {
        let resp = Response::new("x")
            .with_header("Content-Length", "999")
            .with_header("Transfer-Encoding", "chunked")
            .with_header("Connection", "upgrade")
            .with_header("Server", "mine");
        let text = head(&resp, BodyFraming::Length(1), Persistence::KeepAlive);
        assert_eq!(text.matches("Content-Length").count(), 1);
        assert!(text.contains("Content-Length: 1\r\n"));
        assert!(!text.contains("chunked") && !text.contains("upgrade"));
        assert!(text.contains("Server: mine\r\n") && !text.contains("carafe"));
    }

    #[test]
    fn chunks() {
        let mut out = BytesMut::new();
        write_chunk(&mut out, b"hello");
        write_chunk(&mut out, b"");
        write_chunk(&mut out, &[b'x'; 300]);
        write_last_chunk(&mut out);
        let expected = [
            &b"5\r\nhello\r\n12c\r\n"[..],
            &[b'x'; 300],
            b"\r\n0\r\n\r\n",
        ]
        .concat();
        assert_eq!(&out[..], &expected[..]);
    }
}
