//! The request head: request line and header fields via `httparse`, then the framing
//! and connection rules of RFC 9112, decided once here.
//!
//! Parsing is a push step: the caller owns the buffer and the header slots, calls
//! [`parse_head`] whenever more bytes arrive, and gets `Ok(None)` until the head is whole.

use crate::config::Config;
use crate::http::status::StatusCode;

/// Header slots on the stack: enough for nearly every request, and cheap to clear.
/// A head with more fields (up to `max_headers`) is parsed again into slots on the heap.
const STACK_HEADERS: usize = 32;

/// The limits the parser enforces, copied out of [`Config`] so the hot path reads one struct.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) max_head_size: usize,
    pub(crate) max_headers: usize,
    pub(crate) max_uri_len: usize,
    pub(crate) max_body_size: usize,
}

impl Limits {
    pub(crate) fn new(config: &Config) -> Limits {
        Limits {
            max_head_size: config.max_head_size,
            max_headers: config.max_headers.max(1),
            max_uri_len: config.max_uri_len,
            max_body_size: config.max_body_size,
        }
    }
}

/// How the request body is delimited (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// `Content-Length` bytes (0 when neither header is present).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// HTTP/1.0 or HTTP/1.1, the only versions this server speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0
    Http10,
    /// HTTP/1.1
    Http11,
}

/// A parsed and validated request head, borrowing the read buffer.
#[derive(Debug)]
pub(crate) struct Head<'b, 'h> {
    pub(crate) method: &'b str,
    pub(crate) target: &'b str,
    pub(crate) version: Version,
    pub(crate) headers: &'h [httparse::Header<'b>],
    /// Length of the head in bytes, including the blank line.
    pub(crate) len: usize,
    pub(crate) framing: Framing,
    /// Whether the connection may carry another request after this one.
    pub(crate) keep_alive: bool,
    pub(crate) expect_continue: bool,
}

/// Why a head was refused; each maps to one status and closes the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ParseError {
    /// Malformed syntax or contradictory framing → 400.
    Bad(&'static str),
    /// Head over the size limit → 431.
    HeadTooLarge,
    /// More header fields than the limit → 431.
    TooManyFields,
    /// Request-target over the limit → 414.
    UriTooLong,
    /// A transfer coding other than chunked → 501.
    UnsupportedCoding,
    /// An `Expect` other than `100-continue` → 417.
    Expectation,
    /// HTTP/2, HTTP/0.9 and other versions this server does not speak → 505.
    Version,
}

impl ParseError {
    pub(crate) fn status(self) -> StatusCode {
        match self {
            ParseError::Bad(_) => StatusCode::BAD_REQUEST,
            ParseError::HeadTooLarge | ParseError::TooManyFields => {
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
            }
            ParseError::UriTooLong => StatusCode::URI_TOO_LONG,
            ParseError::UnsupportedCoding => StatusCode::NOT_IMPLEMENTED,
            ParseError::Expectation => StatusCode::EXPECTATION_FAILED,
            ParseError::Version => StatusCode::HTTP_VERSION_NOT_SUPPORTED,
        }
    }

    /// A short explanation for the error page.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            ParseError::Bad(why) => why,
            ParseError::HeadTooLarge => "request header fields too large",
            ParseError::TooManyFields => "too many header fields",
            ParseError::UriTooLong => "request-target too long",
            ParseError::UnsupportedCoding => "transfer coding not implemented",
            ParseError::Expectation => "expectation not supported",
            ParseError::Version => "HTTP version not supported",
        }
    }
}

/// Where a head's fields are parsed to: [`STACK_HEADERS`] slots in place, and more on
/// the heap only for a head that has more fields than that.
pub(crate) struct HeaderSlots<'b> {
    stack: [httparse::Header<'b>; STACK_HEADERS],
    heap: Vec<httparse::Header<'b>>,
}

impl<'b> HeaderSlots<'b> {
    #[inline]
    pub(crate) fn new() -> HeaderSlots<'b> {
        const EMPTY: HeaderSlots<'static> = HeaderSlots {
            stack: [httparse::EMPTY_HEADER; STACK_HEADERS],
            heap: Vec::new(),
        };
        EMPTY
    }
}

/// Parses the head at the start of `buf`: `Ok(None)` while it is incomplete.
pub(crate) fn parse_head<'b, 'h>(
    buf: &'b [u8],
    slots: &'h mut HeaderSlots<'b>,
    limits: &Limits,
) -> Result<Option<Head<'b, 'h>>, ParseError> {
    let n = limits.max_headers;
    match parse_head_into(buf, &mut slots.stack[..n.min(STACK_HEADERS)], limits) {
        Err(ParseError::TooManyFields) if n > STACK_HEADERS => {
            // Kept for the next head of a pipelined batch: cleared once, not per head.
            if slots.heap.is_empty() {
                slots.heap = vec![httparse::EMPTY_HEADER; n];
            }
            parse_head_into(buf, &mut slots.heap, limits)
        }
        parsed => parsed,
    }
}

fn parse_head_into<'b, 'h>(
    buf: &'b [u8],
    slots: &'h mut [httparse::Header<'b>],
    limits: &Limits,
) -> Result<Option<Head<'b, 'h>>, ParseError> {
    let (method, target, minor, headers, len) = match plain_request_line(buf) {
        // The line is known good: only the fields are left to parse.
        Some(line) => match httparse::parse_headers(&buf[line.len..], slots) {
            Ok(httparse::Status::Complete((len, headers))) => (
                line.method,
                line.target,
                line.minor,
                headers,
                line.len + len,
            ),
            Ok(httparse::Status::Partial) => return check_partial(buf, limits).map(|()| None),
            Err(err) => return Err(head_error(err, buf)),
        },
        None => {
            let mut req = httparse::Request::new(slots);
            let len = match req.parse(buf) {
                Ok(httparse::Status::Complete(len)) => len,
                Ok(httparse::Status::Partial) => return check_partial(buf, limits).map(|()| None),
                Err(err) => return Err(head_error(err, buf)),
            };
            let (Some(method), Some(target), Some(minor)) = (req.method, req.path, req.version)
            else {
                return Err(ParseError::Bad("malformed request line"));
            };
            (method, target, minor, &*req.headers, len)
        }
    };
    if len > limits.max_head_size {
        return Err(ParseError::HeadTooLarge);
    }
    if target.len() > limits.max_uri_len {
        return Err(ParseError::UriTooLong);
    }
    let version = if minor == 0 {
        Version::Http10
    } else {
        Version::Http11
    };
    check_target(method, target)?;
    let fields = scan_fields(headers, version)?;
    Ok(Some(Head {
        method,
        target,
        version,
        headers,
        len,
        framing: fields.framing,
        keep_alive: fields.keep_alive,
        expect_continue: fields.expect_continue,
    }))
}

/// What an `httparse` error means for the client.
fn head_error(err: httparse::Error, buf: &[u8]) -> ParseError {
    match err {
        httparse::Error::TooManyHeaders => ParseError::TooManyFields,
        httparse::Error::Version => version_error(buf),
        httparse::Error::HeaderName => ParseError::Bad("invalid header name"),
        httparse::Error::HeaderValue => ParseError::Bad("invalid header value"),
        _ => ParseError::Bad("malformed request line or header"),
    }
}

/// A request line read without `httparse`: method, target, minor version, and its
/// length with the CRLF.
struct RequestLine<'b> {
    method: &'b str,
    target: &'b str,
    minor: u8,
    len: usize,
}

/// Reads the request line when it has the plain form nearly every client sends: an
/// upper-case method, one space, a printable-ASCII target, one space, `HTTP/1.0` or
/// `HTTP/1.1`, CRLF. Anything else (leading blank lines, other bytes, a line still
/// arriving) is `None`, for `httparse` to decide.
///
/// Every line taken here is one `httparse` reads the same way; reading it here skips
/// its UTF-8 check of the target, a quarter of a small request's parsing.
fn plain_request_line(buf: &[u8]) -> Option<RequestLine<'_>> {
    let method_len = if buf.starts_with(b"GET ") {
        3
    } else {
        let len = buf.iter().position(|&b| !b.is_ascii_uppercase())?;
        if len == 0 || buf[len] != b' ' {
            return None;
        }
        len
    };
    let target_start = method_len + 1;
    let target_len = printable_prefix(&buf[target_start..]);
    let version_start = target_start + target_len + 1;
    if target_len == 0 || buf.get(version_start - 1) != Some(&b' ') {
        return None;
    }
    // Compared as two words: matching the ten bytes as slices cost three times as much.
    let version = buf.get(version_start..version_start + 10)?;
    let (name, end) = version.split_at(8);
    if end != b"\r\n" {
        return None;
    }
    let minor = match u64::from_le_bytes(name.try_into().ok()?) {
        HTTP_11 => 1,
        HTTP_10 => 0,
        _ => return None,
    };
    // SAFETY: both ranges hold ASCII only, checked above, so they are UTF-8.
    let (method, target) = unsafe {
        (
            std::str::from_utf8_unchecked(&buf[..method_len]),
            std::str::from_utf8_unchecked(&buf[target_start..target_start + target_len]),
        )
    };
    Some(RequestLine {
        method,
        target,
        minor,
        len: version_start + 10,
    })
}

const HTTP_11: u64 = u64::from_le_bytes(*b"HTTP/1.1");
const HTTP_10: u64 = u64::from_le_bytes(*b"HTTP/1.0");

/// The length of the run of printable ASCII (`!` to `~`) that starts `bytes`, eight
/// bytes at a time: the per-byte loop was most of a short request line's cost.
fn printable_prefix(bytes: &[u8]) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let mut at = 0;
    while let Some(word) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(word.try_into().unwrap());
        // A high bit for each byte below `!` or above `~`. Borrows and carries can only
        // mark bytes after the first such byte, so the lowest mark is exact.
        let below = word.wrapping_sub(ONES * 0x21) & !word & HIGH;
        let above = (word.wrapping_add(ONES) | word) & HIGH;
        let marks = below | above;
        if marks != 0 {
            return at + (marks.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    at + bytes[at..]
        .iter()
        .position(|b| !(b'!'..=b'~').contains(b))
        .unwrap_or(bytes.len() - at)
}

/// Panics unless `httparse` reads a request line that [`plain_request_line`] reads, at
/// the start of `buf`, the same way: method, target, version and length.
pub(crate) fn check_plain_request_line(buf: &[u8]) {
    let Some(line) = plain_request_line(buf) else {
        return;
    };
    // The line alone, then an empty field section.
    let mut head = buf[..line.len].to_vec();
    head.extend_from_slice(b"\r\n");
    let mut req = httparse::Request::new(&mut []);
    assert_eq!(req.parse(&head), Ok(httparse::Status::Complete(head.len())));
    assert_eq!(
        (req.method, req.path, req.version),
        (Some(line.method), Some(line.target), Some(line.minor)),
        "{:?}",
        String::from_utf8_lossy(&head)
    );
}

/// An incomplete head may already be over a limit; say so now rather than buffer more.
pub(crate) fn check_partial(buf: &[u8], limits: &Limits) -> Result<(), ParseError> {
    // Leading blank lines are skipped by the parser (RFC 9112 §2.2) but still count here.
    let line_end = buf.iter().position(|&b| b == b'\n');
    // "METHOD SP target SP HTTP/1.1": allow room for the method and version around the target.
    if line_end.is_none() && buf.len() > limits.max_uri_len + 32 {
        return Err(ParseError::UriTooLong);
    }
    if buf.len() > limits.max_head_size {
        return Err(ParseError::HeadTooLarge);
    }
    Ok(())
}

/// `httparse` reports any version it does not parse the same way; a well-formed
/// `HTTP/x.y` it could not parse is one we do not speak (505), anything else is garbage (400).
fn version_error(buf: &[u8]) -> ParseError {
    let line = buf
        .split(|&b| b == b'\n')
        .find(|l| !l.is_empty() && *l != b"\r");
    let line = line.unwrap_or(b"");
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    // Exactly "method SP target SP version"; any other shape is not a version problem.
    let mut parts = line.split(|&b| b == b' ');
    let (Some(_), Some(_), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return ParseError::Bad("malformed request line");
    };
    match version {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            ParseError::Version
        }
        _ => ParseError::Bad("malformed HTTP version"),
    }
}

/// The request-target forms of RFC 9112 §3.2: origin (`/p?q`), absolute (`http://h/p`),
/// authority (`h:443`, CONNECT only) and asterisk (`*`, OPTIONS only).
fn check_target(method: &str, target: &str) -> Result<(), ParseError> {
    let ok = if target.starts_with('/') {
        true
    } else if target == "*" {
        method == "OPTIONS"
    } else if method == "CONNECT" {
        !target.contains('/')
    } else {
        split_absolute(target).is_some()
    };
    if ok {
        Ok(())
    } else {
        Err(ParseError::Bad("invalid request-target"))
    }
}

/// Splits an absolute-form target into (authority, path-and-query).
pub(crate) fn split_absolute(target: &str) -> Option<(&str, &str)> {
    let colon = target.find("://")?;
    let scheme = &target[..colon];
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return None;
    }
    let rest = &target[colon + 3..];
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    if authority.is_empty() {
        return None;
    }
    Some((authority, path))
}

struct Fields {
    framing: Framing,
    keep_alive: bool,
    expect_continue: bool,
}

/// Whether a four-byte field name is `Host`, in any case, as one word compare: setting
/// bit 0x20 maps exactly `H`/`h` to `h` (and so on), where `eq_ignore_ascii_case` folds
/// byte by byte, about 25 instructions on every request.
fn is_host(name: &[u8]) -> bool {
    name.try_into()
        .is_ok_and(|word| u32::from_le_bytes(word) | 0x2020_2020 == u32::from_le_bytes(*b"host"))
}

/// One pass over the fields: framing, persistence, Host and Expect (RFC 9112 §6, §9.3).
fn scan_fields(headers: &[httparse::Header<'_>], version: Version) -> Result<Fields, ParseError> {
    let mut content_length: Option<u64> = None;
    let mut codings = Codings::default();
    let mut close = false;
    let mut keep_alive_token = false;
    let mut hosts = 0;
    let mut expect_continue = false;

    for header in headers {
        let name = header.name.as_bytes();
        let value = header.value;
        // Most fields are none of these: the length alone rules them out cheaply.
        match name.len() {
            14 if name.eq_ignore_ascii_case(b"content-length") => {
                let len = parse_content_length(value)?;
                if content_length.is_some_and(|prev| prev != len) {
                    return Err(ParseError::Bad("conflicting Content-Length values"));
                }
                content_length = Some(len);
            }
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => codings.add(value)?,
            10 if name.eq_ignore_ascii_case(b"connection") => {
                for token in list_items(value) {
                    if token.eq_ignore_ascii_case(b"close") {
                        close = true;
                    } else if token.eq_ignore_ascii_case(b"keep-alive") {
                        keep_alive_token = true;
                    }
                }
            }
            4 if is_host(name) => hosts += 1,
            6 if name.eq_ignore_ascii_case(b"expect") => {
                if !value.eq_ignore_ascii_case(b"100-continue") {
                    return Err(ParseError::Expectation);
                }
                expect_continue = true;
            }
            _ => {}
        }
    }

    if version == Version::Http11 && hosts != 1 {
        return Err(ParseError::Bad(if hosts == 0 {
            "missing Host header"
        } else {
            "more than one Host header"
        }));
    }
    if hosts > 1 {
        return Err(ParseError::Bad("more than one Host header"));
    }
    let framing = if codings.present {
        if version == Version::Http10 {
            return Err(ParseError::Bad("Transfer-Encoding in an HTTP/1.0 request"));
        }
        if content_length.is_some() {
            return Err(ParseError::Bad("both Content-Length and Transfer-Encoding"));
        }
        codings.check()?;
        Framing::Chunked
    } else {
        // Checked against the body limit by the caller, which answers 413 through the
        // app: the request exists, so its error handlers apply.
        Framing::Length(content_length.unwrap_or(0))
    };
    let keep_alive = match version {
        Version::Http11 => !close,
        Version::Http10 => keep_alive_token && !close,
    };
    Ok(Fields {
        framing,
        keep_alive,
        // HTTP/1.0 clients cannot expect an interim response (RFC 9110 §10.1.1).
        expect_continue: expect_continue && version == Version::Http11,
    })
}

/// `Content-Length = 1*DIGIT`, allowing a list of identical values (RFC 9112 §6.3 item 5).
fn parse_content_length(value: &[u8]) -> Result<u64, ParseError> {
    let mut result = None;
    for item in value.split(|&b| b == b',') {
        let item = trim(item);
        if item.is_empty() || item.len() > 19 || !item.iter().all(u8::is_ascii_digit) {
            return Err(ParseError::Bad("invalid Content-Length"));
        }
        let n = item.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
        if result.is_some_and(|prev| prev != n) {
            return Err(ParseError::Bad("conflicting Content-Length values"));
        }
        result = Some(n);
    }
    result.ok_or(ParseError::Bad("invalid Content-Length"))
}

/// The codings of every `Transfer-Encoding` field, in order (RFC 9112 §6.1).
#[derive(Default)]
struct Codings {
    present: bool,
    chunked_seen: bool,
    chunked_last: bool,
    chunked_twice: bool,
    other: bool,
}

impl Codings {
    fn add(&mut self, value: &[u8]) -> Result<(), ParseError> {
        self.present = true;
        let mut any = false;
        for coding in list_items(value) {
            any = true;
            if coding.eq_ignore_ascii_case(b"chunked") {
                self.chunked_twice |= self.chunked_seen;
                self.chunked_seen = true;
                self.chunked_last = true;
            } else if coding
                .iter()
                .all(|&b| crate::http::method::is_tchar(b) || b" ;=\"".contains(&b))
            {
                self.other = true;
                self.chunked_last = false;
            } else {
                return Err(ParseError::Bad("invalid Transfer-Encoding"));
            }
        }
        if !any {
            return Err(ParseError::Bad("empty Transfer-Encoding"));
        }
        Ok(())
    }

    /// Chunked must be applied exactly once, last (else the length is unknowable: 400);
    /// any other coding is one this server does not implement (501).
    fn check(&self) -> Result<(), ParseError> {
        if self.chunked_twice || !self.chunked_last {
            return Err(ParseError::Bad("chunked is not the final transfer coding"));
        }
        if self.other {
            return Err(ParseError::UnsupportedCoding);
        }
        Ok(())
    }
}

/// Splits `text` at each `sep` that is not inside a quoted-string (RFC 9110 §5.6.4),
/// for the lists and parameters of fields such as `Sec-WebSocket-Extensions` and
/// `Forwarded`. The pieces are not trimmed.
pub(crate) fn split_unquoted(text: &str, sep: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let text = rest?;
        let (mut quoted, mut escaped) = (false, false);
        for (i, b) in text.bytes().enumerate() {
            match b {
                _ if escaped => escaped = false,
                b'\\' if quoted => escaped = true,
                b'"' => quoted = !quoted,
                _ if b == sep && !quoted => {
                    rest = Some(&text[i + 1..]);
                    return Some(&text[..i]);
                }
                _ => {}
            }
        }
        rest = None;
        Some(text)
    })
}

/// The non-empty, trimmed elements of a comma-separated field value (RFC 9110 §5.6.1).
pub(crate) fn list_items(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim)
        .filter(|item| !item.is_empty())
}

pub(crate) fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names() {
        for name in [&b"host"[..], b"Host", b"HOST", b"hOsT"] {
            assert!(is_host(name), "{name:?}");
        }
        for name in [
            &b"hosts"[..],
            b"hos",
            b"",
            b"h0st",
            b"Hust",
            b"(ost",
            b"HOS\x14",
        ] {
            assert!(!is_host(name), "{name:?}");
        }
        // Exactly what `eq_ignore_ascii_case` says, for every byte in every position.
        for at in 0..4 {
            for b in 0..=255u8 {
                let mut name = *b"host";
                name[at] = b;
                assert_eq!(
                    is_host(&name),
                    name.eq_ignore_ascii_case(b"host"),
                    "{name:?}"
                );
            }
        }
    }

    const LIMITS: Limits = Limits {
        max_head_size: 16 * 1024,
        max_headers: 100,
        max_uri_len: 8 * 1024,
        max_body_size: 1024,
    };

    /// The essentials of a head, owned: method, target, framing, keep-alive, length.
    type Parsed = (String, String, Framing, bool, usize);

    /// Parses with the default test limits.
    fn parse(buf: &[u8]) -> Result<Option<Parsed>, ParseError> {
        parse_with(buf, &LIMITS)
    }

    fn parse_with(buf: &[u8], limits: &Limits) -> Result<Option<Parsed>, ParseError> {
        parse_head(buf, &mut HeaderSlots::new(), limits).map(|head| {
            head.map(|h| {
                (
                    h.method.to_owned(),
                    h.target.to_owned(),
                    h.framing,
                    h.keep_alive,
                    h.len,
                )
            })
        })
    }

    fn status(buf: &[u8]) -> u16 {
        parse(buf).unwrap_err().status().as_u16()
    }

    #[test]
    fn simple_get() {
        let req = b"GET /users/7?x=1 HTTP/1.1\r\nHost: a\r\n\r\n";
        let (method, target, framing, keep_alive, len) = parse(req).unwrap().unwrap();
        assert_eq!(method, "GET");
        assert_eq!(target, "/users/7?x=1");
        assert_eq!(framing, Framing::Length(0));
        assert!(keep_alive);
        assert_eq!(len, req.len());
    }

    #[test]
    fn every_split_point_is_partial_then_complete() {
        let requests: [&[u8]; 3] = [
            b"GET / HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n",
            b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
            b"PUT /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        ];
        for req in requests {
            let whole = parse(req);
            for split in 0..req.len() {
                assert_eq!(parse(&req[..split]), Ok(None), "split at {split}");
            }
            assert!(whole.is_ok() || whole == Err(ParseError::UnsupportedCoding));
        }
    }

    #[test]
    fn keep_alive_rules() {
        let ka = |req: &[u8]| parse(req).unwrap().unwrap().3;
        assert!(ka(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
        assert!(!ka(
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        ));
        assert!(!ka(
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, Close\r\n\r\n"
        ));
        assert!(!ka(b"GET / HTTP/1.0\r\n\r\n"));
        assert!(ka(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    }

    #[test]
    fn framing_rules() {
        let framing = |req: &[u8]| parse(req).map(|h| h.unwrap().2);
        assert_eq!(
            framing(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n"),
            Ok(Framing::Length(12))
        );
        assert_eq!(
            framing(
                b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n"
            ),
            Ok(Framing::Length(3))
        );
        assert_eq!(
            framing(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\n"),
            Ok(Framing::Length(3))
        );
        assert_eq!(
            framing(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n"),
            Ok(Framing::Chunked)
        );
    }

    #[test]
    fn bad_input_statuses() {
        let cases: &[(&[u8], u16)] = &[
            (b"GET / HTTP/1.1\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 2\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
            (b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
            (b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\x01\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n", 400),
            (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n b\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nX-Ctl: a\x01b\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nX-Nul: a\x00b\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nX-Del: a\x7fb\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\n: empty-name\r\n\r\n", 400),
            (b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
            (b"GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505),
            (b"GET / HTTX/1.1\r\nHost: a\r\n\r\n", 400),
            (b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400),
            (b"GET example.com HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"G\x01T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nExpect: something-else\r\n\r\n", 417),
        ];
        for (req, expected) in cases {
            assert_eq!(status(req), *expected, "{:?}", String::from_utf8_lossy(req));
        }
    }

    #[test]
    fn target_forms() {
        let target = |req: &[u8]| parse(req).unwrap().unwrap().1;
        assert_eq!(
            target(b"GET http://example.com/a?b HTTP/1.1\r\nHost: x\r\n\r\n"),
            "http://example.com/a?b"
        );
        assert_eq!(target(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"), "*");
        assert_eq!(
            target(b"CONNECT example.com:443 HTTP/1.1\r\nHost: x\r\n\r\n"),
            "example.com:443"
        );
        assert_eq!(split_absolute("http://h:80/p?q"), Some(("h:80", "/p?q")));
        assert_eq!(split_absolute("https://h?q"), Some(("h", "?q")));
        assert_eq!(split_absolute("http:///p"), None);
    }

    #[test]
    fn leading_blank_lines_are_skipped() {
        let req = b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(parse(req).unwrap().unwrap().4, req.len());
    }

    #[test]
    fn limits() {
        let small = Limits {
            max_head_size: 64,
            max_headers: 2,
            max_uri_len: 16,
            max_body_size: 10,
        };
        let too_many = b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n";
        assert_eq!(parse_with(too_many, &small), Err(ParseError::TooManyFields));
        let long_uri = b"GET /aaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(parse_with(long_uri, &small), Err(ParseError::UriTooLong));
        // Still incomplete, but already past the limits.
        let mut partial = b"GET /".to_vec();
        partial.extend([b'a'; 60]);
        assert_eq!(parse_with(&partial, &small), Err(ParseError::UriTooLong));
        let big_head =
            b"GET / HTTP/1.1\r\nHost: a\r\nA: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        assert_eq!(parse_with(big_head, &small), Err(ParseError::HeadTooLarge));
        // A complete head over the byte limit.
        let mut long = b"GET / HTTP/1.1\r\nHost: a\r\nA: ".to_vec();
        long.extend([b'a'; 40]);
        long.extend(b"\r\n\r\n");
        assert_eq!(parse_with(&long, &small), Err(ParseError::HeadTooLarge));
    }

    #[test]
    fn printable_prefix_is_the_first_other_byte() {
        let naive = |bytes: &[u8]| {
            bytes
                .iter()
                .position(|b| !(b'!'..=b'~').contains(b))
                .unwrap_or(bytes.len())
        };
        // Every byte value at every position of a word and across the word boundary,
        // after printable bytes that sit at the edges of the range.
        for len in 1..20 {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut bytes = vec![b'~'; len];
                    bytes[..at].iter_mut().step_by(2).for_each(|x| *x = b'!');
                    bytes[at] = b;
                    assert_eq!(printable_prefix(&bytes), naive(&bytes), "{bytes:?}");
                    // A second odd byte after the first must not hide it.
                    if at + 1 < len {
                        bytes[at + 1] = 0xff - b;
                        assert_eq!(printable_prefix(&bytes), naive(&bytes), "{bytes:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn plain_request_lines_are_read_as_httparse_reads_them() {
        // The fast path takes the lines clients send...
        for line in [
            &b"GET /plaintext HTTP/1.1\r\n"[..],
            b"POST /a/b?c=d&e=%20 HTTP/1.0\r\n",
            b"DELETE /x HTTP/1.1\r\n",
            b"OPTIONS * HTTP/1.1\r\n",
            b"GET http://example.com/~a!$&'()*+,;=:@ HTTP/1.1\r\n",
        ] {
            assert!(plain_request_line(line).is_some(), "{line:?}");
            check_plain_request_line(line);
        }
        // ...and leaves the rest to httparse.
        for line in [
            &b"\r\nGET / HTTP/1.1\r\n"[..],
            b"get / HTTP/1.1\r\n",
            b"GET  / HTTP/1.1\r\n",
            b"GET / HTTP/1.1\n",
            b"GET / HTTP/1.2\r\n",
            b"GET /\xc3\xa9 HTTP/1.1\r\n",
            b"GET / HTTP/1.1",
            b"GET /",
            b"M-SEARCH * HTTP/1.1\r\n",
        ] {
            assert!(plain_request_line(line).is_none(), "{line:?}");
        }
        // Random lines from pieces near the edges of what is allowed.
        let pieces: &[&[u8]] = &[
            b"GET",
            b"POST",
            b"PATCH",
            b"get",
            b"G-T",
            b" ",
            b"  ",
            b"\t",
            b"/",
            b"/plain",
            b"?",
            b"%",
            b"~",
            b"!",
            b"\x7f",
            b"\x80",
            b"\xc3\xa9",
            b"\x00",
            b"*",
            b"HTTP/1.1",
            b"HTTP/1.0",
            b"HTTP/1.2",
            b"HTTP/2.0",
            b"http/1.1",
            b"\r\n",
            b"\n",
            b"\r",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut taken = 0;
        for _ in 0..200_000 {
            let mut line = Vec::new();
            // Mostly well-formed shapes, with one piece swapped at random.
            let shape: [&[u8]; 6] = [b"GET", b" ", b"/plain", b" ", b"HTTP/1.1", b"\r\n"];
            for (i, piece) in shape.iter().enumerate() {
                if next(3) == 0 {
                    line.extend_from_slice(pieces[next(pieces.len())]);
                }
                if i != next(8) {
                    line.extend_from_slice(piece);
                }
            }
            taken += usize::from(plain_request_line(&line).is_some());
            check_plain_request_line(&line);
        }
        assert!(taken > 10_000, "the fast path took only {taken} lines");
    }

    /// A head with `fields` fields, the last one `Last: yes`.
    fn head_with_fields(fields: usize) -> Vec<u8> {
        let mut req = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
        for i in 1..fields - 1 {
            req.extend(format!("X-{i}: v\r\n").as_bytes());
        }
        req.extend(b"Last: yes\r\n\r\n");
        req
    }

    #[test]
    fn header_slots_beyond_the_stack() {
        let many = Limits {
            max_headers: 300,
            ..LIMITS
        };
        // Around the stack's size, up to the limit, and one over it.
        for (fields, limits) in [
            (STACK_HEADERS, &LIMITS),
            (STACK_HEADERS + 1, &LIMITS),
            (100, &LIMITS),
            (200, &many),
            (300, &many),
        ] {
            let req = head_with_fields(fields);
            let mut slots = HeaderSlots::new();
            // Twice with the same slots, as a pipelined batch reuses them.
            for _ in 0..2 {
                let parsed = parse_head(&req, &mut slots, limits);
                let head = parsed.unwrap().unwrap();
                assert_eq!(head.headers.len(), fields);
                assert_eq!(head.headers[fields - 1].value, b"yes");
                assert_eq!(head.len, req.len());
            }
        }
        assert_eq!(
            parse(&head_with_fields(101)),
            Err(ParseError::TooManyFields)
        );
        assert_eq!(
            parse_with(&head_with_fields(301), &many),
            Err(ParseError::TooManyFields)
        );
    }
}
