//! The client side of the soak: a seeded generator, well-formed requests that know their
//! answers, the garbage a server must refuse, and a blocking connection that reports
//! problems instead of panicking.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::ops::Range;
use std::thread::sleep;
use std::time::Duration;

use crate::{BIG, IO_TIMEOUT};

/// splitmix64: small, fast, and the same everywhere.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn for_session(seed: u64, session: u64) -> Rng {
        let mut rng = Rng(seed ^ session.wrapping_mul(0xD1B5_4A32_D192_ED03));
        rng.next();
        rng
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// In `lo..hi`; `lo` when the range is empty.
    pub(crate) fn range(&mut self, lo: usize, hi: usize) -> usize {
        if hi <= lo {
            lo
        } else {
            lo + self.below((hi - lo) as u64) as usize
        }
    }

    pub(crate) fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }

    pub(crate) fn bytes_in(&mut self, len: Range<usize>) -> Vec<u8> {
        let n = self.range(len.start, len.end);
        self.bytes(n)
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
        out.truncate(n);
        out
    }
}

pub(crate) enum Kind {
    Get,
    Head,
    Length(Vec<u8>),
    Chunked(Vec<u8>),
    Stream(u64),
    /// `BIG` bytes: more than the server buffers before waiting for the client to read.
    Big,
}

/// A well-formed request and what its response must be.
pub(crate) struct Req {
    pub(crate) id: u64,
    pub(crate) kind: Kind,
    /// Asks for `Connection: close`.
    pub(crate) close: bool,
}

impl Req {
    /// Bodies are small unless `large` allows an occasional big one (never in a batch:
    /// a pipelining client that does not read must not fill both socket buffers).
    pub(crate) fn random(id: u64, rng: &mut Rng, large: bool) -> Req {
        let body = |rng: &mut Rng| {
            let len = if large && rng.percent(5) {
                rng.range(64 << 10, 256 << 10)
            } else {
                rng.range(0, 2048)
            };
            rng.bytes(len)
        };
        let kind = match rng.below(10) {
            0..=2 => Kind::Get,
            3 => Kind::Head,
            4 | 5 => Kind::Length(body(rng)),
            6 | 7 => Kind::Chunked(body(rng)),
            _ if rng.percent(5) => Kind::Big,
            _ => Kind::Stream(rng.below(50)),
        };
        Req {
            id,
            kind,
            close: false,
        }
    }

    pub(crate) fn upload(id: u64, rng: &mut Rng) -> Req {
        let body = rng.bytes_in(1..64 << 10);
        let kind = if rng.percent(50) {
            Kind::Length(body)
        } else {
            Kind::Chunked(body)
        };
        Req {
            id,
            kind,
            close: false,
        }
    }

    pub(crate) fn is_head(&self) -> bool {
        matches!(self.kind, Kind::Head)
    }

    /// The head and the body as sent, the body chunked at random sizes if it is chunked.
    pub(crate) fn encode(&self, rng: &mut Rng, expect_continue: bool) -> (Vec<u8>, Vec<u8>) {
        let id = self.id;
        let mut head = match &self.kind {
            Kind::Get => format!("GET /n/{id} HTTP/1.1\r\nHost: soak\r\n"),
            Kind::Head => format!("HEAD /n/{id} HTTP/1.1\r\nHost: soak\r\n"),
            Kind::Stream(pieces) => format!("GET /stream/{id}/{pieces} HTTP/1.1\r\nHost: soak\r\n"),
            Kind::Big => format!("GET /big/{id} HTTP/1.1\r\nHost: soak\r\n"),
            Kind::Length(body) => format!(
                "POST /echo/{id} HTTP/1.1\r\nHost: soak\r\nContent-Length: {}\r\n",
                body.len()
            ),
            Kind::Chunked(_) => {
                format!("POST /echo/{id} HTTP/1.1\r\nHost: soak\r\nTransfer-Encoding: chunked\r\n")
            }
        };
        if rng.percent(30) {
            head += &format!("X-Pad: {}\r\n", "p".repeat(rng.range(0, 400)));
        }
        if expect_continue {
            head += "Expect: 100-continue\r\n";
        }
        if self.close {
            head += "Connection: close\r\n";
        }
        head += "\r\n";
        let body = match &self.kind {
            Kind::Length(body) => body.clone(),
            Kind::Chunked(body) => chunked(body, rng),
            _ => Vec::new(),
        };
        (head.into_bytes(), body)
    }

    pub(crate) fn wire(&self, rng: &mut Rng) -> Vec<u8> {
        let (mut head, body) = self.encode(rng, false);
        head.extend_from_slice(&body);
        head
    }

    pub(crate) fn check(&self, resp: &Resp) -> Result<(), String> {
        let id = self.id;
        if resp.status != 200 {
            return Err(format!("request {id}: status {}", resp.status));
        }
        if (resp.header("connection") == Some("close")) != self.close {
            return Err(format!(
                "request {id}: Connection {:?}, close asked: {}",
                resp.header("connection"),
                self.close
            ));
        }
        let expected = match &self.kind {
            Kind::Get => format!("n {id}").into_bytes(),
            Kind::Head => {
                let len = format!("n {id}").len().to_string();
                if resp.header("content-length") != Some(&len) || !resp.body.is_empty() {
                    return Err(format!("request {id}: HEAD answered wrongly"));
                }
                return Ok(());
            }
            Kind::Length(body) | Kind::Chunked(body) => {
                if resp.header("x-id") != Some(&id.to_string()) {
                    return Err(format!(
                        "request {id}: echo answered for {:?}",
                        resp.header("x-id")
                    ));
                }
                body.clone()
            }
            Kind::Big => {
                if resp.header("x-id") != Some(&id.to_string()) {
                    return Err(format!(
                        "request {id}: big answered for {:?}",
                        resp.header("x-id")
                    ));
                }
                vec![b'b'; BIG]
            }
            Kind::Stream(pieces) => {
                if resp.header("transfer-encoding") != Some("chunked") {
                    return Err(format!("request {id}: stream not chunked"));
                }
                (0..*pieces)
                    .flat_map(|i| format!("{id}:{i}\n").into_bytes())
                    .collect()
            }
        };
        if resp.body != expected {
            let at = resp
                .body
                .iter()
                .zip(&expected)
                .position(|(a, b)| a != b)
                .unwrap_or(resp.body.len().min(expected.len()));
            return Err(format!(
                "request {id}: body of {} bytes, expected {}, first difference at {at}",
                resp.body.len(),
                expected.len()
            ));
        }
        Ok(())
    }
}

/// `body` in chunks of random sizes, sometimes with extensions, hex case and trailers.
pub(crate) fn chunked(body: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 64);
    let mut rest = body;
    while !rest.is_empty() {
        let n = rng.range(1, rest.len().min(8192) + 1);
        let size = if rng.percent(50) {
            format!("{n:x}")
        } else {
            format!("{n:X}")
        };
        out.extend_from_slice(size.as_bytes());
        if rng.percent(10) {
            out.extend_from_slice(b";ext=soak");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&rest[..n]);
        out.extend_from_slice(b"\r\n");
        rest = &rest[n..];
    }
    out.extend_from_slice(b"0\r\n");
    if rng.percent(10) {
        out.extend_from_slice(b"X-Trailer: yes\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Bytes the server must refuse with a 4xx, after which it reads no further request.
pub(crate) fn garbage(rng: &mut Rng) -> Vec<u8> {
    match rng.below(6) {
        0 => {
            let mut bytes = rng.bytes_in(1..64);
            bytes[0] = rng.below(9) as u8; // a control byte cannot start a request line
            bytes.extend_from_slice(b"\r\n\r\n");
            bytes
        }
        1 => b"GET /n/1 HTTP/1.1\r\nHost soak\r\n\r\n".to_vec(),
        2 => b"POST /echo/1 HTTP/1.1\r\nHost: soak\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
            .to_vec(),
        3 => b"POST /echo/1 HTTP/1.1\r\nHost: soak\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"
            .to_vec(),
        4 => format!(
            "GET /n/1 HTTP/1.1\r\nHost: soak\r\nX-Big: {}\r\n\r\n",
            "a".repeat(20 << 10)
        )
        .into_bytes(),
        _ => b"GET /n/1 HTTP/1.1\r\nHost: soak\r\nTransfer-Encoding: gzip\r\n\r\n".to_vec(),
    }
}

/// Per-session request ids: unique across the run, so a response answers one request only.
pub(crate) struct Ids(pub(crate) u64);

impl Ids {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 += 1;
        self.0
    }
}

pub(crate) struct Resp {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Resp {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A blocking client connection that reports problems instead of panicking.
pub(crate) struct Client {
    pub(crate) stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    pub(crate) fn connect(addr: SocketAddr) -> std::io::Result<Client> {
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(Client {
            stream,
            buf: Vec::new(),
        })
    }

    pub(crate) fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.stream
            .write_all(bytes)
            .map_err(|e| format!("write: {e}"))
    }

    /// Sends `bytes` whole or cut at random points, sometimes pausing between pieces.
    pub(crate) fn send_split(&mut self, bytes: &[u8], rng: &mut Rng) -> Result<(), String> {
        if bytes.len() < 2 || rng.percent(40) {
            return self.send(bytes);
        }
        let mut cuts: Vec<usize> = (0..rng.range(1, 5))
            .map(|_| rng.range(1, bytes.len()))
            .collect();
        cuts.push(0);
        cuts.push(bytes.len());
        cuts.sort_unstable();
        cuts.dedup();
        for piece in cuts.windows(2) {
            self.send(&bytes[piece[0]..piece[1]])?;
            if rng.percent(20) {
                sleep(Duration::from_millis(1));
            }
        }
        Ok(())
    }

    /// Reads more; `false` at EOF or reset.
    pub(crate) fn fill(&mut self) -> Result<bool, String> {
        let mut chunk = [0u8; 65536];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(true);
                }
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return Ok(false),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("read: {e}")),
            }
        }
    }

    pub(crate) fn fill_or(&mut self, what: &str) -> Result<(), String> {
        if self.fill()? {
            Ok(())
        } else {
            Err(format!("connection closed {what}"))
        }
    }

    /// One whole response; `head` says it answers a HEAD request.
    pub(crate) fn response(&mut self, head: bool) -> Result<Resp, String> {
        let (mut resp, len) = loop {
            let mut slots = [httparse::EMPTY_HEADER; 32];
            let mut parsed = httparse::Response::new(&mut slots);
            match parsed.parse(&self.buf) {
                Ok(httparse::Status::Complete(len)) => {
                    let headers = parsed
                        .headers
                        .iter()
                        .map(|h| {
                            (
                                h.name.to_owned(),
                                String::from_utf8_lossy(h.value).into_owned(),
                            )
                        })
                        .collect();
                    let status = parsed.code.unwrap_or(0);
                    break (
                        Resp {
                            status,
                            headers,
                            body: Vec::new(),
                        },
                        len,
                    );
                }
                Ok(httparse::Status::Partial) if self.buf.is_empty() => {
                    self.fill_or("before a response")?
                }
                Ok(httparse::Status::Partial) => self.fill_or("mid-head")?,
                Err(e) => {
                    let start = String::from_utf8_lossy(&self.buf[..self.buf.len().min(80)]);
                    return Err(format!("malformed response head ({e}): {start:?}"));
                }
            }
        };
        self.buf.drain(..len);
        if head || resp.status < 200 || resp.status == 204 || resp.status == 304 {
            return Ok(resp);
        }
        if let Some(len) = resp.header("content-length") {
            let len: usize = len
                .parse()
                .map_err(|_| format!("bad Content-Length {len:?}"))?;
            resp.body = self.take(len)?;
        } else if resp.header("transfer-encoding") == Some("chunked") {
            loop {
                let line = self.line()?;
                let size = std::str::from_utf8(&line)
                    .ok()
                    .and_then(|s| usize::from_str_radix(s.split(';').next()?.trim(), 16).ok())
                    .ok_or_else(|| format!("bad chunk size line {line:?}"))?;
                if size == 0 {
                    while !self.line()?.is_empty() {}
                    break;
                }
                resp.body.extend_from_slice(&self.take(size)?);
                if !self.line()?.is_empty() {
                    return Err("chunk not followed by CRLF".into());
                }
            }
        } else {
            return Err(format!(
                "a {} response without framing headers",
                resp.status
            ));
        }
        Ok(resp)
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<Vec<u8>, String> {
        while self.buf.len() < n {
            self.fill_or("mid-body")?;
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// One line without its CRLF.
    pub(crate) fn line(&mut self) -> Result<Vec<u8>, String> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = self.buf[..i].to_vec();
                self.buf.drain(..i + 2);
                return Ok(line);
            }
            self.fill_or("mid-chunk")?;
        }
    }

    /// The server closes next, with nothing more sent.
    pub(crate) fn eof(&mut self) -> Result<(), String> {
        if self.buf.is_empty() && !self.fill()? {
            return Ok(());
        }
        let start = String::from_utf8_lossy(&self.buf[..self.buf.len().min(80)]);
        Err(format!("unexpected bytes instead of a close: {start:?}"))
    }

    /// Nothing unasked for has arrived, and the connection is still open.
    pub(crate) fn quiet(&mut self) -> Result<(), String> {
        if !self.buf.is_empty() {
            return Err(format!("{} unasked-for bytes", self.buf.len()));
        }
        let mut byte = [0u8; 1];
        self.stream
            .set_nonblocking(true)
            .map_err(|e| e.to_string())?;
        let peeked = self.stream.peek(&mut byte);
        self.stream
            .set_nonblocking(false)
            .map_err(|e| e.to_string())?;
        match peeked {
            Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(()),
            Ok(0) => Err("closed by the server on a keep-alive connection".into()),
            Ok(_) => Err("unasked-for bytes after the last response".into()),
            Err(e) => Err(format!("peek: {e}")),
        }
    }

    /// Closes with a reset instead of a FIN.
    pub(crate) fn reset(self) {
        let _ = socket2::SockRef::from(&self.stream).set_linger(Some(Duration::ZERO));
    }
}
