//! Blocking views: registered through [`App::blocking`] or [`Blueprint::blocking`], they
//! run with their request's hooks and error handlers on the server's pool of OS threads,
//! so a view that waits (a database, a file, a sleep) never holds up the event loop.
//!
//! The loop routes the request, copies it (it borrows the loop's read buffer, which is
//! reused at once), and hands the copy to the pool; the response comes back through the
//! loop's mailbox and is sent in the request's turn.

use crate::http::method::Method;
use crate::http::parse::Version;
use crate::http::response::Response;
use crate::http::status::StatusCode;
use crate::server::{BlockingJob, ConnInfo};
use crate::web::app::{App, ViewKind};
use crate::web::blueprint::Blueprint;
use crate::web::request::Request;
use crate::web::responder::Responder;
use crate::web::router::Params;
use crate::web::scaffold::{register, route_methods};

/// Registers views that run on the blocking pool instead of the event loop
/// (from [`App::blocking`] or [`Blueprint::blocking`]).
///
/// Mark a view blocking when it may wait: a database query, a file read beyond the page
/// cache, a call to another service, a sleep. Its before-request hooks, after-request
/// hooks and error handlers run on the pool too, so they see the same request.
///
/// ```
/// use carafe::{App, Request};
///
/// fn report(_: &Request) -> String {
///     std::thread::sleep(std::time::Duration::from_millis(10)); // e.g. a slow query
///     "done".to_owned()
/// }
///
/// let mut app = App::new();
/// app.blocking().get("/report", report);
/// app.get("/fast", |_: &Request| "fast"); // runs on the loop, never waits behind /report
/// assert_eq!(app.test_client().get("/report").send().text(), "done");
/// ```
pub struct Blocking<'a, T> {
    target: &'a mut T,
}

impl<'a, T> Blocking<'a, T> {
    pub(crate) fn new(target: &'a mut T) -> Blocking<'a, T> {
        Blocking { target }
    }
}

/// The registration methods of [`Blocking`], for an app and for a blueprint.
macro_rules! blocking_methods {
    ($target:ty) => {
        impl Blocking<'_, $target> {
            /// Registers a blocking `view` for `rule` under `endpoint` (default: the
            /// function's name), answering `methods`.
            ///
            /// # Panics
            ///
            /// If the rule is malformed.
            pub fn add_url_rule<F, R>(
                &mut self,
                rule: &str,
                endpoint: Option<&str>,
                methods: &[Method],
                view: F,
            ) -> &mut Self
            where
                F: Fn(&Request<'_>) -> R + Send + Sync + 'static,
                R: Responder,
            {
                register(
                    self.target,
                    rule,
                    endpoint,
                    methods,
                    view,
                    ViewKind::Blocking,
                );
                self
            }

            route_methods!();
        }
    };
}

blocking_methods!(App);
blocking_methods!(Blueprint);

/// A request copied out of the loop's buffer, to be rebuilt on a pool thread: the
/// target, every header name and value, and the body in one buffer (one allocation for
/// the bytes, one for where they are).
struct OwnedRequest {
    method: Method,
    version: Version,
    bytes: Box<[u8]>,
    /// The target, then each header's name and value, as ranges of `bytes`; the body is
    /// what follows the last.
    spans: Vec<(u32, u32)>,
    conn: ConnInfo,
    rule: usize,
    params: Params,
}

impl OwnedRequest {
    fn copy(request: &Request<'_>, rule: usize) -> OwnedRequest {
        let headers = request.headers;
        let body = request.body();
        let size = request.target().len()
            + headers
                .iter()
                .map(|h| h.name.len() + h.value.len())
                .sum::<usize>()
            + body.len();
        let mut bytes = Vec::with_capacity(size);
        let mut spans = Vec::with_capacity(1 + 2 * headers.len());
        // Within the body limit and the head limit, so the offsets fit in 32 bits.
        let mut push = |piece: &[u8]| {
            let start = bytes.len() as u32;
            bytes.extend_from_slice(piece);
            spans.push((start, bytes.len() as u32));
        };
        push(request.target().as_bytes());
        for header in headers {
            push(header.name.as_bytes());
            push(header.value);
        }
        bytes.extend_from_slice(body);
        OwnedRequest {
            method: request.method().clone(),
            version: request.version(),
            bytes: bytes.into_boxed_slice(),
            spans,
            conn: *request.conn,
            rule,
            params: request.params,
        }
    }

    /// Runs the routed request's dispatch chain (hooks, view, error handlers) here.
    fn run(self, app: &App) -> Response {
        let piece = |(start, end): (u32, u32)| &self.bytes[start as usize..end as usize];
        // Every piece was a `&str` (the target, the names) or bytes when copied.
        let text = |span| std::str::from_utf8(piece(span)).unwrap_or_default();
        let target = text(self.spans[0]);
        let headers: Vec<httparse::Header<'_>> = self.spans[1..]
            .chunks_exact(2)
            .map(|pair| httparse::Header {
                name: text(pair[0]),
                value: piece(pair[1]),
            })
            .collect();
        let body_start = self.spans.last().map_or(0, |(_, end)| *end as usize);
        let mut request = Request::new(
            app,
            self.method,
            self.version,
            target,
            &headers,
            &self.bytes[body_start..],
            &self.conn,
        );
        // The same path decodes to the same spans: the loop's routing still holds.
        request.rule = Some(self.rule);
        request.params = self.params;
        let mut response = Response::empty(StatusCode::OK);
        app.dispatch_routed(&mut request, &mut response);
        response
    }
}

/// The job that answers a request routed to a blocking view, off the loop.
pub(crate) fn job(request: &Request<'_>, rule: usize) -> BlockingJob<App> {
    let owned = OwnedRequest::copy(request, rule);
    Box::new(move |app: &App| owned.run(app))
}
