//! The response a handler returns, and the conversions that let handlers return plain values.

use std::borrow::Cow;
use std::fmt;
use std::io::Read;

use bytes::Bytes;

use crate::http::channel::{self, BodySender, Receiver};
use crate::http::status::StatusCode;

/// A header name or value: borrowed when static, so common headers cost no allocation.
pub type HeaderText = Cow<'static, str>;

/// An HTTP response: status, headers and body.
///
/// The framework owns the framing headers: `Content-Length`, `Transfer-Encoding`,
/// `Connection` and `Date` are written by the encoder and any set here are ignored.
///
/// ```
/// use carafe::{Response, StatusCode};
///
/// let resp = Response::text("created")
///     .with_status(StatusCode::CREATED)
///     .with_header("Location", "/todos/1");
/// assert_eq!(resp.status(), StatusCode::CREATED);
/// assert_eq!(resp.header("location"), Some("/todos/1"));
/// assert_eq!(resp.header("Content-Type"), Some("text/plain; charset=utf-8"));
/// assert_eq!(resp.body(), Some(&b"created"[..]));
/// ```
pub struct Response {
    pub(crate) status: StatusCode,
    /// Kept apart from `headers` because nearly every response has one: no Vec needed.
    pub(crate) content_type: Option<HeaderText>,
    pub(crate) headers: Vec<(HeaderText, HeaderText)>,
    pub(crate) body: Body,
}

/// What follows the head.
pub(crate) enum Body {
    Empty,
    Full(Bytes),
    /// Pieces of unknown total length: sent with chunked encoding, pulled as the socket drains.
    Stream(Box<dyn Iterator<Item = Bytes> + Send>),
    /// `len` bytes read in pieces as the socket drains (files).
    Reader {
        reader: Box<dyn Read + Send>,
        len: u64,
    },
    /// Pieces pushed from other threads through a [`BodySender`], sent as they arrive.
    /// Boxed: its drop (a lock) kept out of the drop of every other body.
    Channel(Box<Receiver>),
}

impl Response {
    /// A `200 OK` response with `body` and no content type.
    pub fn new(body: impl Into<Bytes>) -> Response {
        Response {
            status: StatusCode::OK,
            content_type: None,
            headers: Vec::new(),
            body: Body::Full(body.into()),
        }
    }

    /// A response with only a status, e.g. `204 No Content`.
    pub fn empty(status: StatusCode) -> Response {
        Response {
            status,
            content_type: None,
            headers: Vec::new(),
            body: Body::Empty,
        }
    }

    /// `text/plain; charset=utf-8`.
    pub fn text(body: impl Into<Bytes>) -> Response {
        Response::with_known_type(body.into(), "text/plain; charset=utf-8")
    }

    /// `text/html; charset=utf-8` (what Flask gives a returned string).
    pub fn html(body: impl Into<Bytes>) -> Response {
        Response::with_known_type(body.into(), "text/html; charset=utf-8")
    }

    /// A `200 OK` response with `body` and a content type the framework itself names: a
    /// constant known to be a valid field value, so the per-response check is skipped (it
    /// is a few percent of a plaintext request's instructions). Built whole: setting the
    /// type on a built response moved it once more.
    pub(crate) fn with_known_type(body: Bytes, content_type: &'static str) -> Response {
        debug_assert!(is_field_value(content_type.as_bytes()), "{content_type:?}");
        Response {
            status: StatusCode::OK,
            content_type: Some(HeaderText::Borrowed(content_type)),
            headers: Vec::new(),
            body: Body::Full(body),
        }
    }

    /// A body produced in pieces, sent with chunked encoding without blocking the loop:
    /// the next piece is pulled only when the client has taken the previous ones.
    ///
    /// The iterator runs on the event loop, so each `next()` must be quick.
    ///
    /// ```
    /// use carafe::Response;
    /// let resp = Response::stream((1..=3).map(|i| format!("line {i}\n")))
    ///     .with_content_type("text/plain");
    /// assert_eq!(resp.body(), None); // not in memory
    /// ```
    pub fn stream<I>(pieces: I) -> Response
    where
        I: IntoIterator + 'static,
        I::IntoIter: Send,
        I::Item: Into<Bytes>,
    {
        let pieces = pieces.into_iter().map(Into::into);
        Response {
            body: Body::Stream(Box::new(pieces)),
            ..Response::empty(StatusCode::OK)
        }
    }

    /// A body of exactly `len` bytes read from `reader` as the client takes them.
    ///
    /// If the reader ends early or fails, the connection is closed (the length was promised).
    pub fn from_reader(reader: impl Read + Send + 'static, len: u64) -> Response {
        Response {
            body: Body::Reader {
                reader: Box::new(reader),
                len,
            },
            ..Response::empty(StatusCode::OK)
        }
    }

    /// A response whose body is pushed from any thread through the returned sender, and
    /// sent (chunked) as pieces arrive: server push without tying up the loop.
    ///
    /// The body ends when every clone of the sender is dropped. The sender's queue holds
    /// 256 KiB; past that `send` reports [`SendError::Full`](crate::SendError::Full)
    /// rather than growing (see [`Response::channel_with_limit`]).
    ///
    /// ```
    /// use carafe::{App, Request, Response};
    ///
    /// let mut app = App::new();
    /// app.get("/count", |_: &Request| {
    ///     let (response, body) = Response::channel();
    ///     std::thread::spawn(move || {
    ///         for i in 1..=3 {
    ///             if body.send(format!("{i}\n")).is_err() {
    ///                 return; // the client went away
    ///             }
    ///         }
    ///     }); // the sender is dropped here: the body ends
    ///     response.with_content_type("text/plain")
    /// });
    /// assert_eq!(app.test_client().get("/count").send().text(), "1\n2\n3\n");
    /// ```
    pub fn channel() -> (Response, BodySender) {
        Response::channel_with_limit(channel::DEFAULT_LIMIT)
    }

    /// [`Response::channel`] with a queue of `limit` bytes.
    pub fn channel_with_limit(limit: usize) -> (Response, BodySender) {
        let (sender, receiver) = channel::channel(limit);
        let response = Response {
            body: Body::Channel(Box::new(receiver)),
            ..Response::empty(StatusCode::OK)
        };
        (response, sender)
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Sets the status.
    pub fn set_status(&mut self, status: impl Into<StatusCode>) {
        self.status = status.into();
    }

    /// Returns the response with another status.
    pub fn with_status(mut self, status: impl Into<StatusCode>) -> Response {
        self.set_status(status);
        self
    }

    /// Returns the response with another `Content-Type`.
    ///
    /// # Panics
    ///
    /// If the value holds CR, LF or NUL.
    pub fn with_content_type(mut self, value: impl Into<HeaderText>) -> Response {
        let value = value.into();
        check_value("Content-Type", &value);
        self.content_type = Some(value);
        self
    }

    /// Returns the response with a header set (replacing any of the same name).
    ///
    /// # Panics
    ///
    /// If the name is not a token or the value holds CR, LF or NUL (header injection);
    /// inside a handler that panic becomes a 500.
    pub fn with_header(
        mut self,
        name: impl Into<HeaderText>,
        value: impl Into<HeaderText>,
    ) -> Response {
        self.set_header(name, value);
        self
    }

    /// Sets a header, replacing any of the same name (case-insensitive).
    ///
    /// # Panics
    ///
    /// As [`Response::with_header`].
    pub fn set_header(&mut self, name: impl Into<HeaderText>, value: impl Into<HeaderText>) {
        let (name, value) = (name.into(), value.into());
        check_header(&name, &value);
        if name.eq_ignore_ascii_case("content-type") {
            self.content_type = Some(value);
            return;
        }
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
        self.headers.push((name, value));
    }

    /// Adds a header, keeping others of the same name (for `Set-Cookie`, `Vary`, ...).
    ///
    /// # Panics
    ///
    /// As [`Response::with_header`].
    pub fn append_header(&mut self, name: impl Into<HeaderText>, value: impl Into<HeaderText>) {
        let (name, value) = (name.into(), value.into());
        if name.eq_ignore_ascii_case("content-type") {
            return self.set_header(name, value);
        }
        check_header(&name, &value);
        self.headers.push((name, value));
    }

    /// Removes every header of that name.
    pub fn remove_header(&mut self, name: &str) {
        if name.eq_ignore_ascii_case("content-type") {
            self.content_type = None;
        }
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        if name.eq_ignore_ascii_case("content-type") {
            return self.content_type.as_deref();
        }
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| &**v)
    }

    /// Every header as (name, value), `Content-Type` first.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        let content_type = self.content_type.as_deref().map(|v| ("Content-Type", v));
        content_type
            .into_iter()
            .chain(self.headers.iter().map(|(n, v)| (&**n, &**v)))
    }

    /// The body, when it is in memory (`None` for streamed and file bodies).
    pub fn body(&self) -> Option<&[u8]> {
        match &self.body {
            Body::Empty => Some(&[]),
            Body::Full(bytes) => Some(bytes),
            Body::Stream(_) | Body::Reader { .. } | Body::Channel(_) => None,
        }
    }

    /// Replaces the body with bytes in memory.
    pub fn set_body(&mut self, body: impl Into<Bytes>) {
        self.body = Body::Full(body.into());
    }

    /// The body's length when known before sending.
    pub(crate) fn body_len(&self) -> Option<u64> {
        match &self.body {
            Body::Empty => Some(0),
            Body::Full(bytes) => Some(bytes.len() as u64),
            Body::Reader { len, .. } => Some(*len),
            Body::Stream(_) | Body::Channel(_) => None,
        }
    }
}

/// Refuses what would let a value end the header line or a name break the field syntax.
fn check_header(name: &str, value: &str) {
    assert!(
        !name.is_empty() && name.bytes().all(crate::http::method::is_tchar),
        "invalid header name {name:?}"
    );
    check_value(name, value);
}

fn check_value(name: &str, value: &str) {
    assert!(
        is_field_value(value.as_bytes()),
        "header value for {name} contains CR, LF or another control character"
    );
}

/// Whether `value` is a valid field value: no control character but tab (RFC 9110 §5.5).
///
/// Checked on every header a handler sets, so eight bytes are screened at a time.
pub(crate) fn is_field_value(value: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let allowed = |b: &u8| *b == b'\t' || (*b >= 0x20 && *b != 0x7f);
    let mut words = value.chunks_exact(8);
    for word in &mut words {
        let x = u64::from_le_bytes(word.try_into().unwrap());
        // A high bit is set for each byte below 0x20 or equal to 0x7f (ASCII only, which
        // is all a control can be); only then are the bytes looked at one by one.
        let below_space = x.wrapping_sub(ONES * 0x20) & !x;
        let delete = (x ^ (ONES * 0x7f)).wrapping_sub(ONES) & !(x ^ (ONES * 0x7f));
        if (below_space | delete) & HIGH != 0 && !word.iter().all(allowed) {
            return false;
        }
    }
    words.remainder().iter().all(allowed)
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body = match &self.body {
            Body::Empty => "empty".to_owned(),
            Body::Full(b) => format!("{} bytes", b.len()),
            Body::Stream(_) => "stream".to_owned(),
            Body::Reader { len, .. } => format!("{len} bytes from a reader"),
            Body::Channel(_) => "pushed".to_owned(),
        };
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers().collect::<Vec<_>>())
            .field("body", &body)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_is_one_header() {
        let mut resp = Response::text("x");
        resp.set_header("content-type", "application/json");
        assert_eq!(resp.headers().count(), 1);
        assert_eq!(resp.header("Content-Type"), Some("application/json"));
        resp.remove_header("Content-Type");
        assert_eq!(resp.header("content-type"), None);
    }

    #[test]
    fn set_replaces_append_keeps() {
        let mut resp = Response::new("");
        resp.set_header("X-A", "1");
        resp.set_header("x-a", "2");
        resp.append_header("Set-Cookie", "a=1");
        resp.append_header("Set-Cookie", "b=2");
        let headers: Vec<_> = resp.headers().collect();
        assert_eq!(
            headers,
            [("x-a", "2"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]
        );
    }

    #[test]
    fn field_values() {
        assert!(is_field_value(b"text/plain; charset=utf-8"));
        assert!(is_field_value(b"tab\tand obs-text \xe9\xff"));
        assert!(is_field_value(b""));
        for bad in [0u8, 1, b'\n', b'\r', 0x1f, 0x7f] {
            for at in 0..20 {
                let mut value = vec![b'a'; 20];
                value[at] = bad;
                assert!(!is_field_value(&value), "{bad:#x} at {at}");
            }
        }
        for ok in [b' ', b'~', 0x80, 0xff, b'\t'] {
            assert!(is_field_value(&[ok; 17]), "{ok:#x}");
        }
    }

    #[test]
    #[should_panic(expected = "contains CR, LF")]
    fn refuses_header_injection() {
        Response::new("").set_header("Location", "/a\r\nSet-Cookie: evil=1");
    }

    #[test]
    #[should_panic(expected = "invalid header name")]
    fn refuses_bad_names() {
        Response::new("").set_header("Bad Name", "x");
    }
}
