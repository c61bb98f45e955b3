//! The request a handler sees: borrowed straight from the read buffer, so building one
//! costs no allocation; query args, forms and cookies are decoded on first use.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use crate::http::method::Method;
use crate::http::parse::{Version, split_absolute};
use crate::http::status::StatusCode;
use crate::http::url::{MultiDict, percent_decode, split_target};
use crate::server::{ConnInfo, Incoming, PeerAddr};
use crate::web::app::App;
use crate::web::error::{HttpError, abort};
use crate::web::multipart::{FileStorage, Files, Multipart};
use crate::web::proxy;
use crate::web::router::{Params, UrlBuildError};

/// An HTTP request, as handlers see it (Flask's `request`).
///
/// It borrows the connection's buffer for `'a`, the span of one dispatch.
///
/// ```
/// use carafe::{App, Request};
///
/// let mut app = App::new();
/// app.post("/items/<int:id>", |req: &Request| {
///     let id: u64 = req.param("id")?;
///     let verbose = req.arg("verbose").is_some();
///     let agent = req.header("User-Agent").unwrap_or("unknown");
///     Ok::<_, carafe::HttpError>(format!("{id} {verbose} {agent} {}", req.body().len()))
/// });
/// let resp = app.test_client().post("/items/7?verbose").header("User-Agent", "t").body("abc").send();
/// assert_eq!(resp.text(), "7 true t 3");
/// ```
pub struct Request<'a> {
    pub(crate) method: Method,
    version: Version,
    pub(crate) target: &'a str,
    authority: Option<&'a str>,
    raw_path: &'a str,
    query: &'a str,
    /// The percent-decoded path; `None` if it does not decode to UTF-8.
    pub(crate) path: Option<Cow<'a, str>>,
    pub(crate) headers: &'a [httparse::Header<'a>],
    body: &'a [u8],
    /// The peer, and whether TLS protects the connection.
    pub(crate) conn: &'a ConnInfo,
    pub(crate) app: &'a App,
    /// The rule that matched, once routed, and where its variables are in `path`.
    pub(crate) rule: Option<usize>,
    pub(crate) params: Params,
    /// What is decoded on first use, behind one cell: most requests use none of it, and
    /// one empty cell costs a request less to build and drop than four.
    decoded: OnceCell<Decoded<'a>>,
    #[cfg(feature = "sessions")]
    pub(crate) session: crate::web::session::SessionSlot,
}

/// A request's lazily decoded parts, each filled on its first use.
#[derive(Default)]
pub(crate) struct Decoded<'a> {
    args: OnceCell<MultiDict>,
    form: OnceCell<Result<MultiDict, (StatusCode, &'static str)>>,
    multipart: OnceCell<Result<Multipart<'a>, &'static str>>,
    pub(crate) cookies: OnceCell<MultiDict>,
}

impl<'a> Request<'a> {
    /// The request the server handed over.
    #[inline(always)]
    pub(crate) fn from_incoming(app: &'a App, incoming: Incoming<'a>) -> Request<'a> {
        Request::new(
            app,
            incoming.method,
            incoming.version,
            incoming.target,
            incoming.headers,
            incoming.body,
            incoming.conn,
        )
    }

    // Built in place in the caller's frame: a call returned it by copy (the request path
    // also builds one for refusals and on the blocking pool, so it is not inlined alone).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        app: &'a App,
        method: Method,
        version: Version,
        target: &'a str,
        headers: &'a [httparse::Header<'a>],
        body: &'a [u8],
        conn: &'a ConnInfo,
    ) -> Request<'a> {
        let (authority, path_and_query) = if target.starts_with('/') || target == "*" {
            (None, target)
        } else if let Some((authority, rest)) = split_absolute(target) {
            (Some(authority), rest)
        } else {
            // Authority-form (CONNECT): there is no path.
            (Some(target), "")
        };
        let (raw_path, query, escaped) = split_target(path_and_query);
        let raw_path = if raw_path.is_empty() { "/" } else { raw_path };
        let path = if escaped {
            percent_decode(raw_path)
        } else {
            Some(Cow::Borrowed(raw_path))
        };
        Request {
            method,
            version,
            target,
            authority,
            raw_path,
            query,
            path,
            headers,
            body,
            conn,
            app,
            rule: None,
            params: Params::default(),
            decoded: OnceCell::new(),
            #[cfg(feature = "sessions")]
            session: Default::default(),
        }
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// HTTP/1.0 or HTTP/1.1.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The percent-decoded path, e.g. `/users/7` (never the query string).
    pub fn path(&self) -> &str {
        self.path.as_deref().unwrap_or(self.raw_path)
    }

    /// The path as sent, still percent-encoded.
    pub fn raw_path(&self) -> &'a str {
        self.raw_path
    }

    /// The query string after `?`, undecoded (empty if none).
    pub fn query_string(&self) -> &'a str {
        self.query
    }

    /// Path and query as sent, e.g. `/search?q=a%20b`.
    pub fn full_path(&self) -> Cow<'a, str> {
        if self.query.is_empty() {
            Cow::Borrowed(self.raw_path)
        } else {
            Cow::Owned(format!("{}?{}", self.raw_path, self.query))
        }
    }

    /// The request-target exactly as it appeared in the request line.
    pub fn target(&self) -> &'a str {
        self.target
    }

    /// The host the client asked for: from an absolute-form target, else the `Host`
    /// header; through trusted proxies, the one they forwarded
    /// ([`Config::trusted_proxies`](crate::Config::trusted_proxies)).
    pub fn host(&self) -> Option<Cow<'a, str>> {
        let direct = self.authority.or_else(|| self.header("Host"));
        let trust = &self.app.config().trusted_proxies;
        if trust.any() {
            return proxy::host(self.headers, trust, direct);
        }
        direct.map(Cow::Borrowed)
    }

    /// `"https"` or `"http"`: how the client reached the app. Through trusted proxies
    /// ([`Config::trusted_proxies`](crate::Config::trusted_proxies)) the one they
    /// forwarded, else whether TLS protects this connection.
    ///
    /// ```
    /// use carafe::{App, Request};
    /// let mut app = App::new();
    /// app.get("/", |req: &Request| format!("{} {}", req.scheme(), req.url()));
    /// let client = app.test_client();
    /// assert_eq!(client.get("/?a=1").send().text(), "http http://localhost/?a=1");
    /// ```
    pub fn scheme(&self) -> &'static str {
        let trust = &self.app.config().trusted_proxies;
        if trust.any()
            && let Some(scheme) = proxy::scheme(self.headers, trust)
        {
            return scheme;
        }
        if self.conn.secure { "https" } else { "http" }
    }

    /// Whether the client reached the app over HTTPS (Flask's `request.is_secure`): TLS
    /// on this connection, or a trusted proxy's word for it.
    pub fn is_secure(&self) -> bool {
        self.scheme() == "https"
    }

    /// The path the app is mounted under behind a proxy that strips it (trusted
    /// `X-Forwarded-Prefix`, WSGI's `SCRIPT_NAME`), without a trailing slash; empty when
    /// the app is at the root. [`Request::url_for`] puts it in front of the URLs it builds.
    pub fn script_root(&self) -> &'a str {
        let trust = &self.app.config().trusted_proxies;
        if trust.x_prefix > 0 {
            return proxy::prefix(self.headers, trust).unwrap_or("");
        }
        ""
    }

    /// The full URL the client asked for, e.g. `https://example.com/shop/a?b=1`.
    pub fn url(&self) -> String {
        format!(
            "{}://{}{}{}",
            self.scheme(),
            self.host().unwrap_or_default(),
            self.script_root(),
            self.full_path()
        )
    }

    /// The URL root: scheme, host and script root, e.g. `https://example.com/shop`
    /// (Werkzeug's `url_root`, without the trailing slash).
    pub fn url_root(&self) -> String {
        format!(
            "{}://{}{}",
            self.scheme(),
            self.host().unwrap_or_default(),
            self.script_root()
        )
    }

    /// The first value of a header, by case-insensitive name; `None` if absent or not UTF-8.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.header_bytes(name)
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The first value of a header as bytes.
    pub fn header_bytes(&self, name: &str) -> Option<&'a [u8]> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    }

    /// Every value of a header, in order (UTF-8 ones).
    pub fn header_all<'n>(&self, name: &'n str) -> impl Iterator<Item = &'a str> + 'n
    where
        'a: 'n,
    {
        self.headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .filter_map(|h| std::str::from_utf8(h.value).ok())
    }

    /// Every header as (name, value bytes), in order.
    pub fn headers(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + 'a {
        self.headers.iter().map(|h| (h.name, h.value))
    }

    /// The `Last-Event-ID` header a reconnecting `EventSource` sends: the id of the last
    /// server-sent event it received (see [`Response::event_stream`](crate::Response::event_stream)).
    pub fn last_event_id(&self) -> Option<&'a str> {
        self.header("Last-Event-ID")
    }

    /// The `Content-Type` header.
    pub fn content_type(&self) -> Option<&'a str> {
        self.header("Content-Type")
    }

    /// The media type without parameters, e.g. `application/json` (Flask's `mimetype`).
    pub fn mimetype(&self) -> &'a str {
        self.content_type()
            .map_or("", |ct| ct.split(';').next().unwrap_or("").trim())
    }

    /// Whether the body is declared JSON: `application/json` or `application/*+json`.
    pub fn is_json(&self) -> bool {
        let mt = self.mimetype();
        mt.eq_ignore_ascii_case("application/json")
            || (mt.len() > 17
                && mt[..12].eq_ignore_ascii_case("application/")
                && mt[mt.len() - 5..].eq_ignore_ascii_case("+json"))
    }

    /// The body, whole (Flask's `get_data()`).
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// The body as UTF-8 text; a 400 if it is not.
    pub fn text(&self) -> Result<&'a str, HttpError> {
        std::str::from_utf8(self.body)
            .map_err(|_| abort(400).with_message("The request body is not valid UTF-8."))
    }

    /// The client's IP address (Flask's `remote_addr`): through trusted proxies, the one
    /// they forwarded; else the socket peer's, `None` for one on a Unix domain socket.
    pub fn remote_addr(&self) -> Option<IpAddr> {
        let trust = &self.app.config().trusted_proxies;
        if trust.any()
            && let Some(ip) = proxy::client_ip(self.headers, trust)
        {
            return Some(ip);
        }
        self.conn.peer.ip()
    }

    /// The socket's peer: a TCP address and port, or a Unix-socket peer.
    pub fn peer_addr(&self) -> PeerAddr {
        self.conn.peer
    }

    /// A route variable parsed as `T`, e.g. `req.param::<u64>("id")`.
    ///
    /// A value that does not parse (an `<int>` too large for `u8`, say) is a 404, as a
    /// URL that names nothing; a name the rule does not have is a 500 (a bug).
    pub fn param<T: FromStr>(&self, name: &str) -> Result<T, HttpError> {
        let Some(value) = self.param_str(name) else {
            return Err(
                abort(500).with_message(format!("the matched rule has no variable {name:?}"))
            );
        };
        value.parse().map_err(|_| abort(StatusCode::NOT_FOUND))
    }

    /// A route variable as text.
    pub fn param_str(&self, name: &str) -> Option<&str> {
        let rule = self.app.router.rule(self.rule?);
        let i = rule.names.iter().position(|n| n == name)?;
        let (start, end) = self.params.get(i)?;
        self.path().get(start..end)
    }

    /// Every route variable as (name, value).
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        let names = self
            .rule
            .map_or(&[][..], |r| &self.app.router.rule(r).names[..]);
        names.iter().enumerate().filter_map(move |(i, name)| {
            let (start, end) = self.params.get(i)?;
            Some((name.as_str(), self.path().get(start..end)?))
        })
    }

    /// The query string as a multi-dict (Flask's `request.args`).
    pub fn args(&self) -> &MultiDict {
        self.decoded()
            .args
            .get_or_init(|| MultiDict::parse_query(self.query))
    }

    /// The first query value for `name`.
    pub fn arg(&self, name: &str) -> Option<&str> {
        self.args().get(name)
    }

    /// Form fields of an `application/x-www-form-urlencoded` or `multipart/form-data`
    /// body (Flask's `request.form`). An empty dict for other content types; a 400 for a
    /// body that cannot be decoded.
    pub fn form(&self) -> Result<&MultiDict, HttpError> {
        self.decoded()
            .form
            .get_or_init(|| self.parse_form())
            .as_ref()
            .map_err(|(status, message)| abort(*status).with_message(*message))
    }

    fn parse_form(&self) -> Result<MultiDict, (StatusCode, &'static str)> {
        let mt = self.mimetype();
        if mt.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            let text = std::str::from_utf8(self.body)
                .map_err(|_| (StatusCode::BAD_REQUEST, "The form body is not valid UTF-8."))?;
            return Ok(MultiDict::parse_query(text));
        }
        match self.multipart() {
            Some(Ok(multipart)) => Ok(multipart.fields.clone()),
            Some(Err(e)) => Err((StatusCode::BAD_REQUEST, e)),
            None => Ok(MultiDict::new()),
        }
    }

    /// The lazily decoded parts, made empty on first use.
    pub(crate) fn decoded(&self) -> &Decoded<'a> {
        self.decoded.get_or_init(Decoded::default)
    }

    /// The parsed multipart body, or `None` if the body is not `multipart/form-data`.
    fn multipart(&self) -> Option<&Result<Multipart<'a>, &'static str>> {
        if !self.mimetype().eq_ignore_ascii_case("multipart/form-data") {
            return None;
        }
        Some(self.decoded().multipart.get_or_init(|| {
            let content_type = self.content_type().unwrap_or("");
            crate::web::multipart::boundary(content_type)
                .and_then(|boundary| crate::web::multipart::parse(self.body, boundary))
        }))
    }

    /// Uploaded files of a `multipart/form-data` body (Flask's `request.files`); empty
    /// for other bodies, a 400 for a malformed one.
    pub fn files(&self) -> Result<&Files<'a>, HttpError> {
        static NONE: Files<'static> = Files::EMPTY;
        match self.multipart() {
            Some(Ok(multipart)) => Ok(&multipart.files),
            Some(Err(e)) => Err(abort(400).with_message(*e)),
            None => Ok(&NONE),
        }
    }

    /// The first file uploaded under `name`.
    pub fn file(&self, name: &str) -> Result<Option<&FileStorage<'a>>, HttpError> {
        Ok(self.files()?.get(name))
    }

    /// The endpoint of the matched rule, e.g. `"user"` or `"admin.index"`.
    pub fn endpoint(&self) -> Option<&str> {
        Some(self.app.router.rule(self.rule?).endpoint.as_str())
    }

    /// The text of the matched rule, e.g. `/users/<int:id>`.
    pub(crate) fn rule_text(&self) -> Option<&str> {
        Some(self.app.router.rule(self.rule?).text.as_str())
    }

    pub(crate) fn blueprint_index(&self) -> Option<usize> {
        self.app
            .view_blueprint(self.app.router.rule(self.rule?).target)
    }

    /// The name of the blueprint whose view handles this request.
    pub fn blueprint(&self) -> Option<&str> {
        self.blueprint_index().map(|i| self.app.blueprint_name(i))
    }

    /// The app handling the request (Flask's `current_app`).
    pub fn app(&self) -> &'a App {
        self.app
    }

    /// [`App::url_for`] for this request: an endpoint starting with `.` is relative to
    /// the current blueprint, and the [`script_root`](Request::script_root) a trusted
    /// proxy mounts the app under comes first, as in Flask.
    pub fn url_for(
        &self,
        endpoint: &str,
        values: &[(&str, &dyn fmt::Display)],
    ) -> Result<String, UrlBuildError> {
        let path = match (endpoint.strip_prefix('.'), self.blueprint()) {
            (Some(local), Some(bp)) => self.app.url_for(&format!("{bp}.{local}"), values),
            (Some(local), None) => self.app.url_for(local, values),
            _ => self.app.url_for(endpoint, values),
        }?;
        Ok(match self.script_root() {
            "" => path,
            root => format!("{root}{path}"),
        })
    }

    /// [`Request::url_for`] as an absolute URL, with the scheme and host the client used
    /// (Flask's `url_for(..., _external=True)`), through trusted proxies.
    ///
    /// ```
    /// use carafe::{App, Config, Request, TrustedProxies};
    ///
    /// fn page(req: &Request) -> String {
    ///     req.url_for_external("page", &[]).unwrap()
    /// }
    /// let mut app = App::new().with_config(Config {
    ///     trusted_proxies: TrustedProxies { x_proto: 1, x_host: 1, x_prefix: 1, ..Default::default() },
    ///     ..Config::default()
    /// });
    /// app.get("/page", page);
    /// let resp = app.test_client().get("/page")
    ///     .header("X-Forwarded-Proto", "https")
    ///     .header("X-Forwarded-Host", "shop.example")
    ///     .header("X-Forwarded-Prefix", "/store")
    ///     .send();
    /// assert_eq!(resp.text(), "https://shop.example/store/page");
    /// ```
    pub fn url_for_external(
        &self,
        endpoint: &str,
        values: &[(&str, &dyn fmt::Display)],
    ) -> Result<String, UrlBuildError> {
        let path = self.url_for(endpoint, values)?;
        Ok(format!(
            "{}://{}{path}",
            self.scheme(),
            self.host().unwrap_or_default()
        ))
    }
}

impl fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("target", &self.target)
            .field("version", &self.version)
            .field("headers", &self.headers.len())
            .field("body", &self.body.len())
            .field("peer", &self.conn.peer)
            .finish()
    }
}
