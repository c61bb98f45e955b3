//! Server-sent events: the `text/event-stream` format (HTML Living Standard §9.2) over a
//! pushed response body.
//!
//! Each event is encoded once into bytes and queued whole, so a client never sees half
//! an event, and one event sent to many subscribers can share its encoding
//! ([`Event::encode`]).

use bytes::{BufMut, Bytes, BytesMut};

use crate::http::channel::{BodySender, SendError};
use crate::http::response::Response;

/// One server-sent event: its data, and optionally a type, an id and a retry delay.
///
/// ```
/// use carafe::Event;
///
/// let event = Event::data("line one\nline two").event("tick").id("7");
/// assert_eq!(
///     &event.encode()[..],
///     b"event: tick\nid: 7\ndata: line one\ndata: line two\n\n"
/// );
/// ```
#[derive(Clone, Debug, Default)]
pub struct Event {
    event: Option<String>,
    id: Option<String>,
    retry: Option<u64>,
    data: String,
}

impl Event {
    /// An event carrying `data`; every line of it becomes one `data:` field, so any
    /// text (line breaks included) arrives as it was sent.
    pub fn data(data: impl Into<String>) -> Event {
        Event {
            data: data.into(),
            ..Event::default()
        }
    }

    /// The event's type (`event:`), which a browser dispatches to
    /// `addEventListener(type, ..)`. Line breaks are removed: they would end the field.
    pub fn event(mut self, name: &str) -> Event {
        self.event = Some(single_line(name));
        self
    }

    /// The event's id (`id:`), which a reconnecting browser sends back as
    /// `Last-Event-ID`. Line breaks and NUL are removed (the format forbids them).
    pub fn id(mut self, id: &str) -> Event {
        self.id = Some(single_line(id).replace('\0', ""));
        self
    }

    /// How long a browser waits before reconnecting, in milliseconds (`retry:`).
    pub fn retry(mut self, milliseconds: u64) -> Event {
        self.retry = Some(milliseconds);
        self
    }

    /// The event in the wire format, ready to send to any number of subscribers.
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.data.len() + 32);
        if let Some(event) = &self.event {
            field(&mut out, "event", event);
        }
        if let Some(id) = &self.id {
            field(&mut out, "id", id);
        }
        if let Some(retry) = self.retry {
            field(&mut out, "retry", itoa::Buffer::new().format(retry));
        }
        // CRLF, CR and LF all end a line in the format; each line is one `data:` field.
        let data = self.data.replace("\r\n", "\n").replace('\r', "\n");
        for line in data.split('\n') {
            field(&mut out, "data", line);
        }
        out.put_u8(b'\n');
        out.freeze()
    }
}

fn field(out: &mut BytesMut, name: &str, value: &str) {
    out.put_slice(name.as_bytes());
    out.put_slice(b": ");
    out.put_slice(value.as_bytes());
    out.put_u8(b'\n');
}

fn single_line(text: &str) -> String {
    text.chars().filter(|c| *c != '\n' && *c != '\r').collect()
}

/// Sends server-sent events to one client, from any thread.
///
/// Made by [`Response::event_stream`]. Like [`BodySender`], which it wraps: a full
/// buffer (a client reading slower than events come) and a client gone away are
/// reported, never buffered without limit.
#[derive(Clone, Debug)]
pub struct EventSender {
    body: BodySender,
}

impl EventSender {
    /// Sends one event.
    ///
    /// # Errors
    ///
    /// [`SendError::Full`] when the client is behind; [`SendError::Closed`] once it has gone.
    pub fn send(&self, event: &Event) -> Result<(), SendError> {
        self.body.send(event.encode())
    }

    /// Sends an event already encoded with [`Event::encode`] (one encoding shared by
    /// many subscribers).
    pub fn send_encoded(&self, event: Bytes) -> Result<(), SendError> {
        self.body.send(event)
    }

    /// Sends a comment line, which clients ignore: a keep-alive that stops proxies from
    /// closing a quiet stream.
    pub fn comment(&self, text: &str) -> Result<(), SendError> {
        self.body.send(format!(": {}\n\n", single_line(text)))
    }

    /// Whether the client has gone away.
    pub fn is_closed(&self) -> bool {
        self.body.is_closed()
    }
}

impl Response {
    /// A `text/event-stream` response and the sender that feeds it
    /// (server-sent events, for the browser's `EventSource`).
    ///
    /// The stream stays open until every clone of the sender is dropped. Proxies are
    /// told not to buffer it (`Cache-Control: no-cache`, `X-Accel-Buffering: no`).
    ///
    /// ```
    /// use carafe::{App, Event, Request, Response};
    ///
    /// let mut app = App::new();
    /// app.get("/events", |req: &Request| {
    ///     let first: u64 = req.last_event_id().and_then(|id| id.parse().ok()).unwrap_or(0) + 1;
    ///     let (response, events) = Response::event_stream();
    ///     std::thread::spawn(move || {
    ///         for n in first..first + 2 {
    ///             let _ = events.send(&Event::data(n.to_string()).event("tick").id(&n.to_string()));
    ///         }
    ///     });
    ///     response
    /// });
    /// let resp = app.test_client().get("/events").header("Last-Event-ID", "41").send();
    /// assert_eq!(resp.header("Content-Type"), Some("text/event-stream"));
    /// assert_eq!(resp.text(), "event: tick\nid: 42\ndata: 42\n\nevent: tick\nid: 43\ndata: 43\n\n");
    /// ```
    pub fn event_stream() -> (Response, EventSender) {
        let (response, body) = Response::channel();
        let response = response
            .with_content_type("text/event-stream")
            .with_header("Cache-Control", "no-cache")
            .with_header("X-Accel-Buffering", "no");
        (response, EventSender { body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_multi_line_data() {
        let cases: &[(Event, &str)] = &[
            (Event::data("x"), "data: x\n\n"),
            (Event::data(""), "data: \n\n"),
            (Event::data("a\nb"), "data: a\ndata: b\n\n"),
            (Event::data("a\r\nb\rc"), "data: a\ndata: b\ndata: c\n\n"),
            (Event::data("trailing\n"), "data: trailing\ndata: \n\n"),
            (
                Event::data("d").event("t\r\nx").id("1\n2\x003").retry(1500),
                "event: tx\nid: 123\nretry: 1500\ndata: d\n\n",
            ),
        ];
        for (event, wire) in cases {
            assert_eq!(
                std::str::from_utf8(&event.encode()).unwrap(),
                *wire,
                "{event:?}"
            );
        }
    }

    #[test]
    fn a_stream_response_has_the_type_and_no_buffering() {
        let (response, events) = Response::event_stream();
        assert_eq!(response.header("content-type"), Some("text/event-stream"));
        assert_eq!(response.header("cache-control"), Some("no-cache"));
        assert_eq!(response.header("x-accel-buffering"), Some("no"));
        assert!(events.comment("keep-alive").is_ok());
        drop(response);
        assert!(events.is_closed());
    }
}
