//! A test client that needs no socket: requests are written as HTTP/1.1 bytes and go
//! through the same parser, dispatch chain and encoder as on the network.

use std::cell::RefCell;
use std::net::{Ipv4Addr, SocketAddr};

use bytes::BytesMut;

use crate::http::body::{ChunkedDecoder, Cursor};
use crate::http::date::DateCache;
use crate::http::method::Method;
use crate::http::parse::Limits;
use crate::http::status::StatusCode;
use crate::server::h1::{Env, H1, Phase};
use crate::web::app::App;

/// Sends requests to an app in memory, keeping cookies between them like a browser
/// (Flask's `app.test_client()`).
///
/// ```
/// use carafe::{App, Request};
///
/// let mut app = App::new();
/// app.get("/hello/<name>", |req: &Request| format!("Hello, {}!", req.param_str("name").unwrap()));
/// let client = app.test_client();
/// let resp = client.get("/hello/Ada").send();
/// assert_eq!(resp.status(), 200);
/// assert_eq!(resp.text(), "Hello, Ada!");
/// assert_eq!(client.get("/nope").send().status(), 404);
/// ```
pub struct TestClient<'a> {
    app: &'a App,
    cookies: RefCell<Vec<(String, String)>>,
}

impl App {
    /// A client that calls this app without a socket.
    pub fn test_client(&self) -> TestClient<'_> {
        crate::web::fault::watch_panics(self.config().debug);
        TestClient {
            app: self,
            cookies: RefCell::new(Vec::new()),
        }
    }
}

impl<'a> TestClient<'a> {
    /// The app under test.
    #[cfg_attr(not(feature = "websocket"), allow(dead_code))]
    pub(crate) fn app(&self) -> &'a App {
        self.app
    }

    /// A request with any method.
    pub fn request(&self, method: Method, path: &str) -> TestRequest<'_, 'a> {
        TestRequest {
            client: self,
            method,
            path: path.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
            remote_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            fields: Vec::new(),
            files: Vec::new(),
        }
    }

    /// A `GET` request.
    pub fn get(&self, path: &str) -> TestRequest<'_, 'a> {
        self.request(Method::GET, path)
    }

    /// A `POST` request.
    pub fn post(&self, path: &str) -> TestRequest<'_, 'a> {
        self.request(Method::POST, path)
    }

    /// A `PUT` request.
    pub fn put(&self, path: &str) -> TestRequest<'_, 'a> {
        self.request(Method::PUT, path)
    }

    /// A `PATCH` request.
    pub fn patch(&self, path: &str) -> TestRequest<'_, 'a> {
        self.request(Method::PATCH, path)
    }

    /// A `DELETE` request.
    pub fn delete(&self, path: &str) -> TestRequest<'_, 'a> {
        self.request(Method::DELETE, path)
    }

    /// A `HEAD` request.
    pub fn head(&self, path: &str) -> TestRequest<'_, 'a> {
        self.request(Method::HEAD, path)
    }

    /// An `OPTIONS` request.
    pub fn options(&self, path: &str) -> TestRequest<'_, 'a> {
        self.request(Method::OPTIONS, path)
    }

    /// The value of a cookie the client holds, unquoted as `req.cookie()` gives it.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies
            .borrow()
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| crate::web::cookie::plain_value(v).into_owned())
    }

    /// Sets a cookie as if a response had set it (quoted if the value needs it).
    pub fn set_cookie(&self, name: &str, value: &str) {
        let mut jar = self.cookies.borrow_mut();
        jar.retain(|(n, _)| n != name);
        let wire = crate::web::cookie::wire_value(value).into_owned();
        jar.push((name.to_owned(), wire));
    }

    /// Runs raw request bytes through the app; returns the raw response bytes.
    ///
    /// For tests of the protocol itself: malformed input, pipelining, framing.
    pub fn raw(&self, input: &[u8]) -> Vec<u8> {
        self.raw_from(input, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
    }

    fn raw_from(&self, input: &[u8], peer: SocketAddr) -> Vec<u8> {
        let date = DateCache::new();
        let limits = Limits::new(self.app.config());
        let env = Env {
            service: self.app,
            limits: &limits,
            date: date.as_bytes(),
            conn: crate::server::ConnInfo::plain(crate::server::PeerAddr::Tcp(peer)),
            origin: None,
        };
        let mut h1 = H1::new();
        let mut input = input.to_vec();
        let mut out = BytesMut::new();
        let mut output = Vec::new();
        let mut used = 0;
        loop {
            let n = h1.advance(&mut input[used..], &mut out, &env);
            used += n;
            // Taking the output each time plays the part of a client that reads everything.
            let produced = !out.is_empty();
            output.extend_from_slice(&out);
            out.clear();
            h1.flushed(std::time::Instant::now());
            if h1.phase() != Phase::Streaming && n == 0 && !produced {
                return output;
            }
            if !produced && h1.awaits_push() {
                // A body pushed from another thread: wait for its next piece or its end.
                h1.wait_for_push();
            }
        }
    }

    fn jar_header(&self) -> Option<String> {
        let jar = self.cookies.borrow();
        (!jar.is_empty()).then(|| {
            jar.iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    fn store_cookies(&self, resp: &TestResponse) {
        let mut jar = self.cookies.borrow_mut();
        for value in resp.header_all("set-cookie") {
            let pair = value.split(';').next().unwrap_or("");
            let Some((name, val)) = pair.split_once('=') else {
                continue;
            };
            let (name, val) = (name.trim(), val.trim());
            jar.retain(|(n, _)| n != name);
            let lower = value.to_ascii_lowercase();
            let expired = lower.contains("max-age=0") || lower.contains("expires=thu, 01 jan 1970");
            if !expired {
                jar.push((name.to_owned(), val.to_owned()));
            }
        }
    }
}

/// A request being built by a [`TestClient`].
pub struct TestRequest<'c, 'a> {
    client: &'c TestClient<'a>,
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    remote_addr: SocketAddr,
    /// Form fields and files, encoded when the request is sent.
    fields: Vec<(String, String)>,
    files: Vec<TestFile>,
}

/// A file attached with [`TestRequest::file`].
struct TestFile {
    field: String,
    filename: String,
    content_type: String,
    data: Vec<u8>,
}

impl TestRequest<'_, '_> {
    /// Sends as from `addr` (default `127.0.0.1`), for what depends on the client's
    /// address (Flask's `environ_base={"REMOTE_ADDR": ...}`).
    pub fn remote_addr(mut self, addr: SocketAddr) -> Self {
        self.remote_addr = addr;
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Adds form fields (Flask's `data={...}`): sent `application/x-www-form-urlencoded`,
    /// or as parts of a `multipart/form-data` body once a file is attached.
    pub fn form(mut self, fields: &[(&str, &str)]) -> Self {
        self.fields.extend(
            fields
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
        );
        self
    }

    /// Adds one form field (see [`TestRequest::form`]).
    pub fn field(self, name: &str, value: &str) -> Self {
        self.form(&[(name, value)])
    }

    /// Attaches a file under the form field `field`, as a browser uploads one: the body
    /// becomes `multipart/form-data` (RFC 7578) with the fields as parts beside it.
    ///
    /// ```
    /// use carafe::{App, HttpError, Request};
    /// let mut app = App::new();
    /// app.post("/upload", |req: &Request| -> Result<String, HttpError> {
    ///     let file = req.file("doc")?.ok_or(carafe::abort(400))?;
    ///     Ok(format!("{} {} {}", req.form()?.get("title").unwrap_or(""), file.filename(), file.data().len()))
    /// });
    /// let resp = app.test_client().post("/upload")
    ///     .field("title", "notes")
    ///     .file("doc", "a.txt", "text/plain", "hello")
    ///     .send();
    /// assert_eq!(resp.text(), "notes a.txt 5");
    /// ```
    pub fn file(
        mut self,
        field: &str,
        filename: &str,
        content_type: &str,
        data: impl Into<Vec<u8>>,
    ) -> Self {
        self.files.push(TestFile {
            field: field.to_owned(),
            filename: filename.to_owned(),
            content_type: content_type.to_owned(),
            data: data.into(),
        });
        self
    }

    /// The body and content type for the fields and files, if any were given.
    fn encode_form(&mut self) {
        if !self.files.is_empty() {
            let (content_type, body) = multipart_body(&self.fields, &self.files);
            self.headers.push(("Content-Type".to_owned(), content_type));
            self.body = body;
        } else if !self.fields.is_empty() {
            let query: crate::http::url::MultiDict = self.fields.iter().cloned().collect();
            self.headers.push((
                "Content-Type".to_owned(),
                "application/x-www-form-urlencoded".to_owned(),
            ));
            self.body = query.to_query().into_bytes();
        }
    }

    /// Sets a JSON body and its content type.
    #[cfg(feature = "json")]
    pub fn json<T: serde::Serialize + ?Sized>(self, value: &T) -> Self {
        let body = serde_json::to_vec(value).expect("serializable test body");
        self.header("Content-Type", "application/json").body(body)
    }

    /// Sends the request and returns the response.
    ///
    /// # Panics
    ///
    /// If the app's output is not a well-formed response (a bug in carafe).
    pub fn send(self) -> TestResponse {
        let (client, is_head, peer) = (self.client, self.method == Method::HEAD, self.remote_addr);
        let input = self.into_bytes();
        let output = client.raw_from(&input, peer);
        let resp = TestResponse::parse_whole(&output, is_head);
        client.store_cookies(&resp);
        resp
    }

    /// The request as HTTP/1.1 bytes, with `Host`, `Content-Length` and the client's
    /// cookies added where missing.
    pub(crate) fn into_bytes(mut self) -> Vec<u8> {
        self.encode_form();
        let mut head = format!("{} {} HTTP/1.1\r\n", self.method, self.path);
        let has = |name: &str| {
            self.headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name))
        };
        if !has("host") {
            head.push_str("Host: localhost\r\n");
        }
        if !has("content-length") && !has("transfer-encoding") && !self.body.is_empty() {
            head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        if !has("cookie")
            && let Some(cookies) = self.client.jar_header()
        {
            head.push_str(&format!("Cookie: {cookies}\r\n"));
        }
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let mut input = head.into_bytes();
        input.extend_from_slice(&self.body);
        input
    }
}

/// A `multipart/form-data` body: its content type (with a boundary found in no part)
/// and its bytes.
fn multipart_body(fields: &[(String, String)], files: &[TestFile]) -> (String, Vec<u8>) {
    let contents = || {
        fields
            .iter()
            .map(|(_, value)| value.as_bytes())
            .chain(files.iter().map(|f| f.data.as_slice()))
    };
    let mut n = 0u32;
    let boundary = loop {
        let candidate = format!("carafe-test-boundary-{n}");
        if !contents().any(|c| {
            c.windows(candidate.len())
                .any(|w| w == candidate.as_bytes())
        }) {
            break candidate;
        }
        n += 1;
    };
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        body.extend_from_slice(
            format!(
                "Content-Disposition: form-data; {}\r\n\r\n",
                disposition_param("name", name)
            )
            .as_bytes(),
        );
        body.extend_from_slice(value.as_bytes());
        body.extend_from_slice(b"\r\n");
    }
    for file in files {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        body.extend_from_slice(
            format!(
                "Content-Disposition: form-data; {}; {}\r\nContent-Type: {}\r\n\r\n",
                disposition_param("name", &file.field),
                disposition_param("filename", &file.filename),
                file.content_type
            )
            .as_bytes(),
        );
        body.extend_from_slice(&file.data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// `key="value"`, and for a value a quoted string cannot carry plainly (a quote, a
/// backslash, a line break, non-ASCII) also `key*=UTF-8''...` (RFC 8187), which the
/// parser prefers.
fn disposition_param(key: &str, value: &str) -> String {
    let plain = value
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
    if plain {
        return format!("{key}=\"{value}\"");
    }
    let fallback: String = value
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{key}=\"{fallback}\"; {key}*=UTF-8''{encoded}")
}

/// A response received by a [`TestClient`], body complete.
#[derive(Debug, Clone)]
pub struct TestResponse {
    status: StatusCode,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl TestResponse {
    /// Parses the first final response the app wrote.
    ///
    /// # Panics
    ///
    /// If it is not a well-formed response (a bug in carafe).
    pub(crate) fn parse_whole(output: &[u8], is_head: bool) -> TestResponse {
        TestResponse::parse(output, is_head)
            .unwrap_or_else(|| panic!("malformed response: {:?}", String::from_utf8_lossy(output)))
    }

    /// Parses the first final response in `bytes` (skipping `100 Continue`).
    fn parse(mut bytes: &[u8], is_head: bool) -> Option<TestResponse> {
        loop {
            let mut slots = [httparse::EMPTY_HEADER; 128];
            let mut resp = httparse::Response::new(&mut slots);
            let httparse::Status::Complete(len) = resp.parse(bytes).ok()? else {
                return None;
            };
            let status = StatusCode::from_u16(resp.code?)?;
            if status.is_informational() {
                bytes = &bytes[len..];
                continue;
            }
            let headers: Vec<(String, String)> = resp
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_owned(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .collect();
            let rest = &bytes[len..];
            let find = |name: &str| {
                headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.as_str())
            };
            let body = if is_head || status.forbids_body() {
                Vec::new()
            } else if find("transfer-encoding").is_some() {
                let mut buf = rest.to_vec();
                let mut cursor = Cursor::default();
                let done = ChunkedDecoder::new(usize::MAX >> 4)
                    .decode(&mut buf, &mut cursor)
                    .ok()?;
                if !done {
                    return None;
                }
                buf.truncate(cursor.written);
                buf
            } else if let Some(len) = find("content-length") {
                rest.get(..len.parse::<usize>().ok()?)?.to_vec()
            } else {
                rest.to_vec()
            };
            return Some(TestResponse {
                status,
                headers,
                body,
            });
        }
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header.
    pub fn header_all<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> + 's {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header, in order.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    ///
    /// # Panics
    ///
    /// If the body is not JSON of that shape: it is a test.
    #[cfg(feature = "json")]
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("response is not the expected JSON ({e}): {}", self.text()))
    }
}
