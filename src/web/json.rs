//! JSON bodies both ways, through serde: `req.json()` and `Json(value)` (Flask's
//! `request.get_json()` and `jsonify`).

use std::cell::RefCell;

use bytes::{Bytes, BytesMut};
use serde::{Deserialize, Serialize};

use crate::http::response::Response;
use crate::http::status::StatusCode;
use crate::web::error::{HttpError, abort};
use crate::web::request::Request;
use crate::web::responder::IntoResponse;

/// A response serialised as JSON with `Content-Type: application/json` (Flask's `jsonify`).
///
/// ```
/// use carafe::{IntoResponse, Json};
/// #[derive(serde::Serialize)]
/// struct Todo { id: u64, title: &'static str }
///
/// let resp = Json(Todo { id: 1, title: "write docs" }).into_response();
/// assert_eq!(resp.header("Content-Type"), Some("application/json"));
/// assert_eq!(resp.body(), Some(&br#"{"id":1,"title":"write docs"}"#[..]));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        match to_bytes(&self.0) {
            // A framework constant: the header check is skipped, as for `Response::text`.
            Ok(body) => Response::with_known_type(body, "application/json"),
            Err(e) => {
                crate::web::fault::report_plain(format_args!(
                    "500 Internal Server Error: could not serialise a JSON response: {e}"
                ));
                abort(500).to_response()
            }
        }
    }
}

impl Response {
    /// A JSON response; like [`Json`], usable where a `Response` is needed.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Response {
        Json(value).into_response()
    }
}

thread_local! {
    /// Serialisation happens here and the bytes are split off: once the response that
    /// held them is written, the next `reserve` reclaims the same memory, so JSON
    /// responses cost no allocation in steady state.
    static SCRATCH: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// The scratch buffer as serde_json's writer. `bytes`' own `Writer` goes through the
/// default `write_all` loop and `remaining_mut` on each of the many small writes a
/// value makes; appending directly cut a small JSON response by about 60 instructions.
struct Scratch<'b>(&'b mut BytesMut);

impl std::io::Write for Scratch<'_> {
    #[inline]
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    #[inline]
    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }

    #[inline]
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Serialises `value` to JSON bytes.
pub(crate) fn to_bytes<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Bytes> {
    SCRATCH.with(|scratch| {
        // A `Serialize` impl that itself builds a JSON response finds the scratch busy.
        let Ok(mut buf) = scratch.try_borrow_mut() else {
            return serde_json::to_vec(value).map(Bytes::from);
        };
        // At least 512 bytes free, as before, but room is reclaimed 4 KiB at a time:
        // rewinding the buffer (`reserve` finds it unique once the last response is
        // written) for every response cost a small one about 65 instructions.
        if buf.capacity() < 512 {
            buf.reserve(4096);
        }
        match serde_json::to_writer(Scratch(&mut buf), value) {
            Ok(()) => Ok(buf.split().freeze()),
            Err(e) => {
                buf.clear();
                Err(e)
            }
        }
    })
}

impl<'a> Request<'a> {
    /// The body parsed as JSON (Flask's `request.get_json()`); borrowed types such as
    /// `&str` point into the request.
    ///
    /// Never a panic, and one consistent answer for an API's clients:
    /// - a `Content-Type` that is not JSON, or a body that is not JSON at all
    ///   (malformed, cut short): `400 Bad Request`;
    /// - well-formed JSON that does not fit `T` (a missing or unknown field, a wrong
    ///   type): `422 Unprocessable Content`, with serde's message.
    ///
    /// ```
    /// use carafe::{App, HttpError, Json, Request};
    /// #[derive(serde::Deserialize)]
    /// struct NewTodo<'a> { title: &'a str }
    ///
    /// let mut app = App::new();
    /// app.post("/todos", |req: &Request| -> Result<String, HttpError> {
    ///     let todo: NewTodo = req.json()?;
    ///     Ok(todo.title.to_uppercase())
    /// });
    /// let client = app.test_client();
    /// assert_eq!(client.post("/todos").json(&serde_json::json!({"title": "a"})).send().text(), "A");
    /// assert_eq!(client.post("/todos").body("{").header("Content-Type", "application/json").send().status(), 400);
    /// assert_eq!(client.post("/todos").body("{}").send().status(), 400); // not declared JSON
    /// assert_eq!(client.post("/todos").json(&serde_json::json!({"title": 1})).send().status(), 422);
    /// assert_eq!(client.post("/todos").json(&serde_json::json!({})).send().status(), 422);
    /// ```
    pub fn json<T: Deserialize<'a>>(&self) -> Result<T, HttpError> {
        if !self.is_json() {
            return Err(abort(400).with_message(
                "Did not attempt to load JSON data because the request Content-Type was not 'application/json'.",
            ));
        }
        serde_json::from_slice(self.body()).map_err(|e| match e.classify() {
            // serde_json's own split: the text was JSON, but not the shape asked for.
            serde_json::error::Category::Data => abort(StatusCode::UNPROCESSABLE_CONTENT)
                .with_message(format!("The JSON does not fit: {e}")),
            _ => abort(400).with_message(format!("Failed to decode JSON object: {e}")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_is_reused_once_responses_are_dropped() {
        let first = to_bytes(&[1, 2, 3]).unwrap();
        let ptr = first.as_ptr();
        drop(first);
        // Enough calls to wrap around the scratch buffer at least once.
        let reused = (0..200).any(|_| to_bytes(&"x".repeat(100)).unwrap().as_ptr() == ptr);
        assert!(reused);
        assert_eq!(
            &to_bytes(&serde_json::json!({"a": 1})).unwrap()[..],
            br#"{"a":1}"#
        );
    }
}
