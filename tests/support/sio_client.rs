//! A small blocking Socket.IO v5 client over the WebSocket transport (tungstenite): one
//! namespace, events with JSON arguments and binary attachments, acknowledgements. It
//! answers Engine.IO pings and keeps events that arrive while it waits for something
//! else.

use std::collections::VecDeque;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::Message as Msg;

pub const TIMEOUT: Duration = Duration::from_secs(5);

/// What the server sent: an event with its arguments and attachments, an ack, or the
/// namespace's DISCONNECT.
#[derive(Debug)]
enum Incoming {
    Event(String, Vec<Value>, Vec<Vec<u8>>),
    Ack(u64, Vec<Value>),
    Disconnect,
}

pub struct SioClient {
    ws: tungstenite::WebSocket<TcpStream>,
    pub sid: String,
    nsp: String,
    next_id: u64,
    kept: VecDeque<Incoming>,
    disconnected: bool,
}

impl SioClient {
    /// Connects to `/`.
    pub fn connect(addr: SocketAddr) -> SioClient {
        SioClient::connect_to(addr, "/", None)
    }

    /// Connects to a namespace, with an auth payload.
    pub fn connect_to(addr: SocketAddr, nsp: &str, auth: Option<Value>) -> SioClient {
        let stream = TcpStream::connect(addr).expect("connect");
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (ws, _) = tungstenite::client(url, stream).expect("WebSocket handshake");
        let mut client = SioClient {
            ws,
            sid: String::new(),
            nsp: nsp.to_owned(),
            next_id: 0,
            kept: VecDeque::new(),
            disconnected: false,
        };
        let open = client.text(TIMEOUT).expect("the open packet");
        assert!(open.starts_with('0'), "{open}");
        let auth = auth.map(|a| a.to_string()).unwrap_or_default();
        client.send(format!("40{}{auth}", client.prefix()));
        let connect = client.text(TIMEOUT).expect("CONNECT");
        let body = connect
            .strip_prefix(&format!("40{}", client.prefix()))
            .unwrap_or_else(|| panic!("not a CONNECT: {connect}"));
        let body: Value = serde_json::from_str(body).unwrap();
        client.sid = body["sid"].as_str().expect("a socket id").to_owned();
        client
    }

    /// `nsp,` for a namespace other than `/`.
    fn prefix(&self) -> String {
        if self.nsp == "/" {
            String::new()
        } else {
            format!("{},", self.nsp)
        }
    }

    fn send(&mut self, text: String) {
        self.ws.send(Msg::text(text)).expect("send");
    }

    /// Sends an event with JSON arguments.
    pub fn emit(&mut self, event: &str, args: &[Value]) {
        let mut array = vec![json!(event)];
        array.extend_from_slice(args);
        let text = format!("42{}{}", self.prefix(), Value::Array(array));
        self.send(text);
    }

    /// Sends an event asking for an ack, and waits for its arguments.
    pub fn call(&mut self, event: &str, args: &[Value]) -> Vec<Value> {
        let id = self.next_id;
        self.next_id += 1;
        let mut array = vec![json!(event)];
        array.extend_from_slice(args);
        let text = format!("42{}{id}{}", self.prefix(), Value::Array(array));
        self.send(text);
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(at) = self
                .kept
                .iter()
                .position(|m| matches!(m, Incoming::Ack(n, _) if *n == id))
                && let Some(Incoming::Ack(_, args)) = self.kept.remove(at)
            {
                return args;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no ack to {event:?}");
            self.receive(left);
        }
    }

    /// The arguments of the next event of that name within `timeout` (others are kept).
    pub fn next(&mut self, event: &str, timeout: Duration) -> Option<Vec<Value>> {
        self.next_with_attachments(event, timeout)
            .map(|(args, _)| args)
    }

    /// The same, with the binary attachments.
    pub fn next_with_attachments(
        &mut self,
        event: &str,
        timeout: Duration,
    ) -> Option<(Vec<Value>, Vec<Vec<u8>>)> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(at) = self
                .kept
                .iter()
                .position(|m| matches!(m, Incoming::Event(name, ..) if name == event))
                && let Some(Incoming::Event(_, args, attachments)) = self.kept.remove(at)
            {
                return Some((args, attachments));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.receive(left);
        }
    }

    /// Whether the server disconnected this socket within `timeout`.
    pub fn disconnected_within(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.disconnected {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            self.receive(left);
        }
        true
    }

    /// Reads one Socket.IO packet (with its attachments) into `kept`, if one comes.
    fn receive(&mut self, timeout: Duration) {
        let Some(text) = self.text(timeout) else {
            return;
        };
        let Some(packet) = text.strip_prefix('4') else {
            return;
        };
        let (kind, rest) = packet.split_at(1);
        let rest = rest.strip_prefix(&self.prefix()).unwrap_or(rest);
        match kind {
            "1" => {
                self.disconnected = true;
                self.kept.push_back(Incoming::Disconnect);
            }
            "2" | "5" => {
                let (count, json) = match kind {
                    "5" => {
                        let (count, json) = rest.split_once('-').expect("attachment count");
                        (count.parse().expect("a count"), json)
                    }
                    _ => (0, rest),
                };
                let mut args: Vec<Value> = serde_json::from_str(json).expect("event JSON");
                let name = args.remove(0).as_str().unwrap_or_default().to_owned();
                let attachments = (0..count).map(|_| self.binary()).collect();
                self.kept
                    .push_back(Incoming::Event(name, args, attachments));
            }
            "3" => {
                let start = rest.find('[').expect("ack JSON");
                let id = rest[..start].parse().expect("an ack id");
                let args = serde_json::from_str(&rest[start..]).expect("ack JSON");
                self.kept.push_back(Incoming::Ack(id, args));
            }
            _ => {}
        }
    }

    fn binary(&mut self) -> Vec<u8> {
        match self.ws.read().expect("an attachment") {
            Msg::Binary(data) => data.to_vec(),
            other => panic!("expected an attachment, got {other:?}"),
        }
    }

    /// The next Engine.IO text message within `timeout`, answering pings.
    fn text(&mut self, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.ws.get_mut().set_read_timeout(Some(left)).unwrap();
            match self.ws.read() {
                Ok(Msg::Text(text)) if text.as_str() == "2" => self.send("3".into()),
                Ok(Msg::Text(text)) => return Some(text.to_string()),
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return None;
                }
                Err(e) => panic!("the connection failed: {e}"),
            }
        }
    }
}
