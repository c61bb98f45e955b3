//! What a view may return, and how it becomes a [`Response`]: Flask's `make_response`
//! rules (a string is HTML, bytes are octet-stream, a `(status, value)` pair sets the
//! status) and `redirect`.

use bytes::Bytes;

use crate::http::response::{HeaderText, Response};
use crate::http::status::StatusCode;
use crate::web::error::HttpError;

/// A value a handler can return as a response.
///
/// Strings become `text/html; charset=utf-8` as in Flask, bytes
/// `application/octet-stream`; a `(status, value)` pair sets the status.
///
/// ```
/// use carafe::{IntoResponse, StatusCode};
/// let resp = (StatusCode::NOT_FOUND, "no such page").into_response();
/// assert_eq!(resp.status(), 404);
/// let resp = (201, String::from("made")).into_response();
/// assert_eq!(resp.status(), 201);
/// ```
///
/// A view may return `impl IntoResponse` (or `impl Responder`). Under edition 2024 such a
/// return type captures every lifetime in the arguments, the request's included, and a
/// view's response must not borrow the request; say it borrows nothing with `use<>`:
///
/// ```
/// use carafe::{App, IntoResponse, Request};
///
/// fn index(_: &Request) -> impl IntoResponse + use<> {
///     "Hello, World!"
/// }
///
/// let mut app = App::new();
/// app.get("/", index);
/// assert_eq!(app.test_client().get("/").send().text(), "Hello, World!");
/// ```
///
/// (The registration's bound could be written to accept the capturing form, but only by
/// giving up the inference that lets a closure be written `|req| ...` without a type.)
pub trait IntoResponse {
    /// Converts into a [`Response`].
    fn into_response(self) -> Response;
}

impl IntoResponse for Response {
    fn into_response(self) -> Response {
        self
    }
}

impl IntoResponse for &'static str {
    fn into_response(self) -> Response {
        Response::html(self)
    }
}

impl IntoResponse for String {
    fn into_response(self) -> Response {
        Response::html(self)
    }
}

impl IntoResponse for &'static [u8] {
    fn into_response(self) -> Response {
        Response::new(self).with_content_type("application/octet-stream")
    }
}

impl IntoResponse for Vec<u8> {
    fn into_response(self) -> Response {
        Response::new(self).with_content_type("application/octet-stream")
    }
}

impl IntoResponse for Bytes {
    fn into_response(self) -> Response {
        Response::new(self).with_content_type("application/octet-stream")
    }
}

impl IntoResponse for StatusCode {
    fn into_response(self) -> Response {
        Response::empty(self)
    }
}

impl<T: IntoResponse> IntoResponse for (StatusCode, T) {
    fn into_response(self) -> Response {
        self.1.into_response().with_status(self.0)
    }
}

impl<T: IntoResponse> IntoResponse for (u16, T) {
    fn into_response(self) -> Response {
        self.1.into_response().with_status(self.0)
    }
}

impl<T: IntoResponse, const N: usize> IntoResponse
    for (StatusCode, [(&'static str, &'static str); N], T)
{
    fn into_response(self) -> Response {
        let mut resp = self.2.into_response().with_status(self.0);
        for (name, value) in self.1 {
            resp.append_header(name, value);
        }
        resp
    }
}

/// What a handler returns: a response, or an error for the error handlers.
///
/// Implemented for every [`IntoResponse`] type, for [`HttpError`], and for
/// `Result<T, E>` where `T: IntoResponse` and `E: Into<HttpError>`, so handlers can use `?`.
pub trait Responder {
    /// Converts into the handler's outcome.
    fn into_outcome(self) -> Result<Response, HttpError>;
}

impl<T: IntoResponse> Responder for T {
    fn into_outcome(self) -> Result<Response, HttpError> {
        Ok(self.into_response())
    }
}

impl Responder for HttpError {
    fn into_outcome(self) -> Result<Response, HttpError> {
        Err(self)
    }
}

impl<T: IntoResponse, E: Into<HttpError>> Responder for Result<T, E> {
    fn into_outcome(self) -> Result<Response, HttpError> {
        self.map(IntoResponse::into_response).map_err(Into::into)
    }
}

/// A redirect to `location` with `302 Found`, like Flask's `redirect()`.
///
/// ```
/// let resp = carafe::redirect("/login");
/// assert_eq!(resp.status(), 302);
/// assert_eq!(resp.header("Location"), Some("/login"));
/// ```
pub fn redirect(location: impl Into<HeaderText>) -> Response {
    redirect_with(location, StatusCode::FOUND)
}

/// A redirect with a chosen status (301, 303, 307, 308, ...).
pub fn redirect_with(location: impl Into<HeaderText>, status: StatusCode) -> Response {
    let location = location.into();
    let body = format!(
        "<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n<h1>Redirecting...</h1>\n\
         <p>You should be redirected automatically to the target URL: \
         <a href=\"{0}\">{0}</a>. If not, click the link.\n",
        crate::web::html::escape_str(&location)
    );
    Response::html(body)
        .with_status(status)
        .with_header("Location", location)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        let resp = "hi".into_response();
        assert_eq!(
            resp.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        let resp = vec![1u8, 2].into_response();
        assert_eq!(
            resp.header("content-type"),
            Some("application/octet-stream")
        );
        let resp = (StatusCode::CREATED, [("Location", "/x")], "made").into_response();
        assert_eq!(resp.status(), 201);
        assert_eq!(resp.header("location"), Some("/x"));
        let outcome: Result<&str, HttpError> = Err(crate::abort(404));
        assert_eq!(outcome.into_outcome().unwrap_err().status(), 404);
    }

    #[test]
    fn redirects_escape_the_location_in_the_body() {
        let resp = redirect("/a?b=<c>");
        let body = std::str::from_utf8(resp.body().unwrap()).unwrap();
        assert!(body.contains("/a?b=&lt;c&gt;"));
        assert_eq!(resp.header("location"), Some("/a?b=<c>"));
    }
}
