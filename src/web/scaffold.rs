//! What an app and a blueprint share (Flask's `Scaffold`): views and how they are boxed,
//! the hooks and error handlers, and the registration methods both offer.

use crate::http::method::Method;
use crate::http::response::Response;
use crate::http::status::StatusCode;
use crate::web::app::ViewKind;
use crate::web::error::HttpError;
use crate::web::request::Request;
use crate::web::responder::{IntoResponse, Responder};

/// A view: what a rule dispatches to. It writes its response in place (see [`App::handle`]).
pub(crate) type View =
    Box<dyn Fn(&Request<'_>, &mut Response) -> Result<(), HttpError> + Send + Sync>;
pub(crate) type BeforeHook =
    Box<dyn Fn(&Request<'_>) -> Result<Option<Response>, HttpError> + Send + Sync>;
pub(crate) type AfterHook = Box<dyn Fn(&Request<'_>, &mut Response) + Send + Sync>;
pub(crate) type TeardownHook = Box<dyn Fn(&Request<'_>, Option<&HttpError>) + Send + Sync>;
pub(crate) type ErrorHandler =
    Box<dyn Fn(&Request<'_>, &HttpError) -> Result<Response, HttpError> + Send + Sync>;

/// Hooks and error handlers: what an app and a blueprint both have (Flask's `Scaffold`).
#[derive(Default)]
pub(crate) struct Scaffold {
    pub(crate) before: Vec<BeforeHook>,
    pub(crate) after: Vec<AfterHook>,
    pub(crate) teardown: Vec<TeardownHook>,
    pub(crate) errors: Vec<(StatusCode, ErrorHandler)>,
    pub(crate) any_error: Option<ErrorHandler>,
}

impl Scaffold {
    pub(crate) fn error_handler(&self, status: StatusCode) -> Option<&ErrorHandler> {
        self.errors
            .iter()
            .find(|(s, _)| *s == status)
            .map(|(_, h)| h)
    }
}

/// Where views are registered: an app, or a blueprint until it is mounted.
pub(crate) trait AddView {
    /// Registers a boxed view under `endpoint`.
    fn add_boxed_view(
        &mut self,
        rule: &str,
        endpoint: &str,
        methods: &[Method],
        view: View,
        kind: ViewKind,
    );
}

/// Boxes `view` and registers it on `target` under `endpoint` (default: the function's
/// name, or for a closure the rule).
pub(crate) fn register<T, F, R>(
    target: &mut T,
    rule: &str,
    endpoint: Option<&str>,
    methods: &[Method],
    view: F,
    kind: ViewKind,
) where
    T: AddView,
    F: Fn(&Request<'_>) -> R + Send + Sync + 'static,
    R: Responder,
{
    let endpoint = endpoint.map_or_else(|| default_endpoint::<F>(rule), str::to_owned);
    target.add_boxed_view(rule, &endpoint, methods, boxed_view(view), kind);
}

/// What a `before_request` hook returns: `()` or `None` to go on, a response to answer
/// with it instead of the view, or an error for the error handlers.
pub trait BeforeRequest {
    /// `Ok(None)` to continue, `Ok(Some(response))` to short-circuit.
    fn into_before(self) -> Result<Option<Response>, HttpError>;
}

impl BeforeRequest for () {
    fn into_before(self) -> Result<Option<Response>, HttpError> {
        Ok(None)
    }
}

impl<R: IntoResponse> BeforeRequest for Option<R> {
    fn into_before(self) -> Result<Option<Response>, HttpError> {
        Ok(self.map(IntoResponse::into_response))
    }
}

impl<T: BeforeRequest, E: Into<HttpError>> BeforeRequest for Result<T, E> {
    fn into_before(self) -> Result<Option<Response>, HttpError> {
        self.map_err(Into::into)?.into_before()
    }
}

/// The route methods of whatever has an `add_url_rule` (an app, a blueprint, and the
/// blocking registrations of both): `route`, `get`, `post`, `put`, `delete`, `patch`.
macro_rules! route_methods {
    () => {
        /// Registers `view` for `rule` and `methods` (Flask's `@app.route(rule, methods=...)`).
        ///
        /// The endpoint is the function's name (for a closure: the rule text).
        ///
        /// # Panics
        ///
        /// If the rule is malformed, like Flask raising at import time.
        pub fn route<F, R>(&mut self, rule: &str, methods: &[Method], view: F) -> &mut Self
        where
            F: Fn(&Request<'_>) -> R + Send + Sync + 'static,
            R: Responder,
        {
            self.add_url_rule(rule, None, methods, view)
        }

        /// `GET` (and `HEAD`) on `rule`.
        pub fn get<F, R>(&mut self, rule: &str, view: F) -> &mut Self
        where
            F: Fn(&Request<'_>) -> R + Send + Sync + 'static,
            R: Responder,
        {
            self.route(rule, &[Method::GET], view)
        }

        /// `POST` on `rule`.
        pub fn post<F, R>(&mut self, rule: &str, view: F) -> &mut Self
        where
            F: Fn(&Request<'_>) -> R + Send + Sync + 'static,
            R: Responder,
        {
            self.route(rule, &[Method::POST], view)
        }

        /// `PUT` on `rule`.
        pub fn put<F, R>(&mut self, rule: &str, view: F) -> &mut Self
        where
            F: Fn(&Request<'_>) -> R + Send + Sync + 'static,
            R: Responder,
        {
            self.route(rule, &[Method::PUT], view)
        }

        /// `DELETE` on `rule`.
        pub fn delete<F, R>(&mut self, rule: &str, view: F) -> &mut Self
        where
            F: Fn(&Request<'_>) -> R + Send + Sync + 'static,
            R: Responder,
        {
            self.route(rule, &[Method::DELETE], view)
        }

        /// `PATCH` on `rule`.
        pub fn patch<F, R>(&mut self, rule: &str, view: F) -> &mut Self
        where
            F: Fn(&Request<'_>) -> R + Send + Sync + 'static,
            R: Responder,
        {
            self.route(rule, &[Method::PATCH], view)
        }
    };
}
pub(crate) use route_methods;

/// Defines the methods an [`App`] and a [`Blueprint`] share: routes, hooks, error handlers.
macro_rules! scaffold_methods {
    () => {
        crate::web::scaffold::route_methods!();

        /// Runs `hook` before each view; it may answer instead (return a response) or
        /// fail with an [`HttpError`]. Return `()` or `None` to go on.
        pub fn before_request<F, R>(&mut self, hook: F) -> &mut Self
        where
            F: Fn(&Request<'_>) -> R + Send + Sync + 'static,
            R: BeforeRequest,
        {
            self.scaffold
                .before
                .push(Box::new(move |req| hook(req).into_before()));
            self
        }

        /// Runs `hook` on every response before it is sent; hooks run in reverse order of
        /// registration, as in Flask.
        pub fn after_request<F>(&mut self, hook: F) -> &mut Self
        where
            F: Fn(&Request<'_>, &mut Response) + Send + Sync + 'static,
        {
            self.scaffold.after.push(Box::new(hook));
            self
        }

        /// Runs `hook` after every request, even when it failed; it sees the error if any.
        pub fn teardown_request<F>(&mut self, hook: F) -> &mut Self
        where
            F: Fn(&Request<'_>, Option<&HttpError>) + Send + Sync + 'static,
        {
            self.scaffold.teardown.push(Box::new(hook));
            self
        }

        /// Answers errors with `status` (from `abort`, routing, or a failed view) with
        /// `handler`. A response the handler leaves at `200` gets the error's status.
        ///
        /// The handler returns what a view may, a `Result` included: if it fails (a
        /// template that does not render, say), its own error gets the default page and
        /// its cause is reported.
        pub fn errorhandler<F, R>(&mut self, status: impl Into<StatusCode>, handler: F) -> &mut Self
        where
            F: Fn(&Request<'_>, &HttpError) -> R + Send + Sync + 'static,
            R: Responder,
        {
            let status = status.into();
            self.scaffold.errors.retain(|(s, _)| *s != status);
            self.scaffold.errors.push((
                status,
                Box::new(move |req, err| handler(req, err).into_outcome()),
            ));
            self
        }

        /// Answers every error that has no handler for its own status.
        pub fn errorhandler_any<F, R>(&mut self, handler: F) -> &mut Self
        where
            F: Fn(&Request<'_>, &HttpError) -> R + Send + Sync + 'static,
            R: Responder,
        {
            self.scaffold.any_error =
                Some(Box::new(move |req, err| handler(req, err).into_outcome()));
            self
        }
    };
}
pub(crate) use scaffold_methods;

/// Wraps a typed view into the boxed form the router dispatches to.
pub(crate) fn boxed_view<F, R>(view: F) -> View
where
    F: Fn(&Request<'_>) -> R + Send + Sync + 'static,
    R: Responder,
{
    Box::new(move |req, response| {
        *response = view(req).into_outcome()?;
        Ok(())
    })
}

/// The endpoint name Flask would give: the function's name; for closures, the rule.
pub(crate) fn default_endpoint<F>(rule: &str) -> String {
    let name = std::any::type_name::<F>();
    if name.contains("{{closure}}") || name.contains('<') {
        return rule.to_owned();
    }
    name.rsplit("::").next().unwrap_or(rule).to_owned()
}
