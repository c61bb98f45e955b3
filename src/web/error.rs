//! `HttpError`, `abort`, and the default error pages.

use std::borrow::Cow;
use std::fmt;

use crate::http::response::{HeaderText, Response};
use crate::http::status::StatusCode;

/// An error that ends a request with an HTTP status, like Werkzeug's `HTTPException`.
///
/// Return it from a handler (`Err(abort(404))`, or `?` on any `Result<_, HttpError>`);
/// the app's error handlers for its status turn it into a response, or the default
/// error page does. Any `std::error::Error` converts into a `500 Internal Server Error`
/// whose cause is logged but never shown to the client.
///
/// ```
/// use carafe::{abort, HttpError, Request};
///
/// fn show(req: &Request) -> Result<String, HttpError> {
///     let id: u64 = req.param("id")?;
///     if id != 1 {
///         return Err(abort(404).with_message("no such todo"));
///     }
///     let text = std::str::from_utf8(b"ok")?; // a Utf8Error would become a 500
///     Ok(text.to_owned())
/// }
/// ```
pub struct HttpError(Box<Inner>);

/// Boxed so that `Result<Response, HttpError>` is no larger than a response: handlers'
/// results move through the dispatch chain on every request, errors only rarely.
struct Inner {
    status: StatusCode,
    message: Option<Cow<'static, str>>,
    headers: Vec<(HeaderText, HeaderText)>,
    response: Option<Response>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
    /// Where the source was attached, for the debug page; taken only while an app in
    /// debug mode is running (see `fault::capture_backtraces`).
    backtrace: Option<std::backtrace::Backtrace>,
}

/// An [`HttpError`] with `status`, like Flask's `abort(404)`.
///
/// ```
/// let err = carafe::abort(403);
/// assert_eq!(err.status(), 403);
/// ```
pub fn abort(status: impl Into<StatusCode>) -> HttpError {
    HttpError::new(status.into())
}

impl HttpError {
    /// An error with `status` and the standard description.
    pub fn new(status: impl Into<StatusCode>) -> HttpError {
        HttpError(Box::new(Inner {
            status: status.into(),
            message: None,
            headers: Vec::new(),
            response: None,
            source: None,
            backtrace: None,
        }))
    }

    /// An error that is answered with exactly `response`, skipping the error handlers
    /// (Flask's `abort(response)`).
    pub fn from_response(response: Response) -> HttpError {
        let mut err = HttpError::new(response.status());
        err.0.response = Some(response);
        err
    }

    /// Replaces the standard description shown on the error page.
    pub fn with_message(mut self, message: impl Into<Cow<'static, str>>) -> HttpError {
        self.0.message = Some(message.into());
        self
    }

    /// Keeps `source` as the error's cause: reported (with a 500) and shown on the debug
    /// page, never on the production error page.
    ///
    /// ```
    /// let err = carafe::abort(503).with_source(std::io::Error::other("database down"));
    /// assert_eq!(err.source().unwrap().to_string(), "database down");
    /// ```
    pub fn with_source(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> HttpError {
        self.0.source = Some(Box::new(source));
        self.0.backtrace = crate::web::fault::backtrace();
        self
    }

    /// Adds a header to the error response (e.g. `WWW-Authenticate` with a 401).
    pub fn with_header(
        mut self,
        name: impl Into<HeaderText>,
        value: impl Into<HeaderText>,
    ) -> HttpError {
        self.0.headers.push((name.into(), value.into()));
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    /// The message given with [`HttpError::with_message`], if any.
    pub fn message(&self) -> Option<&str> {
        self.0.message.as_deref()
    }

    /// The message, or the standard description of the status.
    pub fn description(&self) -> &str {
        self.0
            .message
            .as_deref()
            .unwrap_or_else(|| description(self.0.status))
    }

    /// The underlying error, for errors converted from a `std::error::Error`.
    pub fn source(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        self.0.source.as_deref()
    }

    /// Where the source was attached, in debug mode.
    pub(crate) fn backtrace(&self) -> Option<&std::backtrace::Backtrace> {
        self.0.backtrace.as_ref()
    }

    /// Headers to send with the error response.
    pub(crate) fn headers(&self) -> &[(HeaderText, HeaderText)] {
        &self.0.headers
    }

    /// The response given to [`HttpError::from_response`], if any.
    pub(crate) fn take_response(&mut self) -> Option<Response> {
        self.0.response.take()
    }

    /// The default error page, as Flask renders it.
    pub fn to_response(&self) -> Response {
        let body = format!(
            "<!doctype html>\n<html lang=en>\n<title>{status} {reason}</title>\n<h1>{reason}</h1>\n<p>{description}</p>\n",
            status = self.0.status.as_u16(),
            reason = self.0.status.reason(),
            description = crate::web::html::escape_str(self.description()),
        );
        let mut resp = Response::html(body).with_status(self.0.status);
        for (name, value) in &self.0.headers {
            resp.append_header(name.clone(), value.clone());
        }
        resp
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for HttpError {
    fn from(err: E) -> HttpError {
        HttpError::new(StatusCode::INTERNAL_SERVER_ERROR).with_source(err)
    }
}

impl From<StatusCode> for HttpError {
    fn from(status: StatusCode) -> HttpError {
        HttpError::new(status)
    }
}

impl fmt::Debug for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpError")
            .field("status", &self.0.status)
            .field("message", &self.0.message)
            .field("source", &self.0.source)
            .finish()
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.0.status, self.description())?;
        if let Some(source) = &self.0.source {
            write!(f, " ({source})")?;
        }
        Ok(())
    }
}

/// Werkzeug's descriptions of the common error statuses.
fn description(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "The browser (or proxy) sent a request that this server could not understand.",
        401 => "The server could not verify that you are authorized to access the URL requested.",
        403 => "You don't have the permission to access the requested resource.",
        404 => {
            "The requested URL was not found on the server. If you entered the URL manually \
             please check your spelling and try again."
        }
        405 => "The method is not allowed for the requested URL.",
        408 => "The server closed the network connection because the request took too long.",
        413 => "The data value transmitted exceeds the capacity limit.",
        414 => "The length of the requested URL exceeds the capacity limit for this server.",
        415 => "The server does not support the media type transmitted in the request.",
        416 => "The server cannot provide the requested range.",
        422 => "The request was well-formed but could not be followed due to semantic errors.",
        429 => "This user has exceeded an allotted request count. Try again later.",
        431 => "One or more header fields exceeds the maximum size.",
        500 => "The server encountered an internal error and was unable to complete your request.",
        501 => "The server does not support the action requested by the browser.",
        503 => "The server is temporarily unable to service your request. Please try again later.",
        505 => "The server does not support the HTTP version of the request.",
        _ => status.reason(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_page_and_message() {
        let resp = abort(404).to_response();
        assert_eq!(resp.status(), 404);
        let body = std::str::from_utf8(resp.body().unwrap()).unwrap();
        assert!(body.contains("<title>404 Not Found</title>"));
        let resp = abort(400).with_message("bad <id>").to_response();
        let body = std::str::from_utf8(resp.body().unwrap()).unwrap();
        assert!(body.contains("bad &lt;id&gt;"));
    }

    #[test]
    fn std_errors_become_500_without_leaking() {
        let err: HttpError = "x".parse::<u32>().unwrap_err().into();
        assert_eq!(err.status(), 500);
        assert!(err.source().is_some());
        let resp = err.to_response();
        let body = std::str::from_utf8(resp.body().unwrap()).unwrap();
        assert!(!body.contains("invalid digit"));
    }

    #[test]
    fn headers_and_custom_responses() {
        let resp = abort(401)
            .with_header("WWW-Authenticate", "Basic")
            .to_response();
        assert_eq!(resp.header("www-authenticate"), Some("Basic"));
        let mut err = HttpError::from_response(Response::text("teapot").with_status(418));
        assert_eq!(err.status(), 418);
        assert_eq!(err.take_response().unwrap().body(), Some(&b"teapot"[..]));
    }
}
