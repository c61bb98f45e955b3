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
use crate::web::app::App;
use crate::web::blueprint::Blueprint;
use crate::web::request::Request;
use crate::web::responder::Responder;
use crate::web::router::Params;
use crate::web::scaffold::default_endpoint;

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
                let endpoint = endpoint.map_or_else(|| default_endpoint::<F>(rule), str::to_owned);
                self.target.add_boxed_view(
                    rule,
                    &endpoint,
                    methods,
                    crate::web::scaffold::boxed_view(view),
                    crate::web::app::ViewKind::Blocking,
                );
                self
            }

            /// A blocking view for `rule` and `methods`.
            pub fn route<F, R>(&mut self, rule: &str, methods: &[Method], view: F) -> &mut Self
            where
                F: Fn(&Request<'_>) -> R + Send + Sync + 'static,
                R: Responder,
            {
                self.add_url_rule(rule, None, methods, view)
            }

            /// A blocking view for `GET` (and `HEAD`) on `rule`.
            pub fn get<F, R>(&mut self, rule: &str, view: F) -> &mut Self
            where
                F: Fn(&Request<'_>) -> R + Send + Sync + 'static,
                R: Responder,
            {
                self.route(rule, &[Method::GET], view)
            }

            /// A blocking view for `POST` on `rule`.
            pub fn post<F, R>(&mut self, rule: &str, view: F) -> &mut Self
            where
                F: Fn(&Request<'_>) -> R + Send + Sync + 'static,
                R: Responder,
            {
                self.route(rule, &[Method::POST], view)
            }

            /// A blocking view for `PUT` on `rule`.
            pub fn put<F, R>(&mut self, rule: &str, view: F) -> &mut Self
            where
                F: Fn(&Request<'_>) -> R + Send + Sync + 'static,
                R: Responder,
            {
                self.route(rule, &[Method::PUT], view)
            }

            /// A blocking view for `DELETE` on `rule`.
            pub fn delete<F, R>(&mut self, rule: &str, view: F) -> &mut Self
            where
                F: Fn(&Request<'_>) -> R + Send + Sync + 'static,
                R: Responder,
            {
                self.route(rule, &[Method::DELETE], view)
            }

            /// A blocking view for `PATCH` on `rule`.
            pub fn patch<F, R>(&mut self, rule: &str, view: F) -> &mut Self
            where
                F: Fn(&Request<'_>) -> R + Send + Sync + 'static,
                R: Responder,
            {
                self.route(rule, &[Method::PATCH], view)
            }
        }
    };
}

blocking_methods!(App);
blocking_methods!(Blueprint);

/// A request copied out of the loop's buffer, to be rebuilt on a pool thread.
struct OwnedRequest {
    method: Method,
    version: Version,
    target: Box<str>,
    /// Names and values, with where each value starts in `values`.
    names: Vec<(Box<str>, usize, usize)>,
    values: Vec<u8>,
    body: Box<[u8]>,
    conn: ConnInfo,
    rule: usize,
    params: Params,
}

impl OwnedRequest {
    fn copy(request: &Request<'_>, rule: usize) -> OwnedRequest {
        let mut values = Vec::new();
        let names = request
            .headers
            .iter()
            .map(|h| {
                let start = values.len();
                values.extend_from_slice(h.value);
                (Box::from(h.name), start, values.len())
            })
            .collect();
        OwnedRequest {
            method: request.method().clone(),
            version: request.version(),
            target: request.target().into(),
            names,
            values,
            body: request.body().into(),
            conn: *request.conn,
            rule,
            params: request.params,
        }
    }

    /// Runs the routed request's dispatch chain (hooks, view, error handlers) here.
    fn run(self, app: &App) -> Response {
        let headers: Vec<httparse::Header<'_>> = self
            .names
            .iter()
            .map(|(name, start, end)| httparse::Header {
                name,
                value: &self.values[*start..*end],
            })
            .collect();
        let mut request = Request::new(
            app,
            self.method,
            self.version,
            &self.target,
            &headers,
            &self.body,
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
