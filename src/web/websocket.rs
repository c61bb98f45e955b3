//! WebSocket routes (flask-sock's `@sock.route`): [`App::websocket`] registers a
//! factory that, for each upgrade request that passes the route's hooks, the origin
//! check and the handshake (RFC 6455 §4.2), makes the connection's handler.

use std::cell::Cell;

use crate::http::method::Method;
use crate::http::response::Response;
use crate::http::status::StatusCode;
use crate::http::ws::extension::DeflateConfig;
use crate::http::ws::handshake::{self, Rejected};
use crate::server::websocket::{Upgrade, WebSocketHandler};
use crate::web::app::{App, ViewKind};
use crate::web::blueprint::Blueprint;
use crate::web::error::{HttpError, abort};
use crate::web::request::Request;
use crate::web::scaffold::{AddView, View, default_endpoint};

thread_local! {
    /// The upgrade a WebSocket view made, taken by `App::respond` once the dispatch chain
    /// (hooks, error handlers) is done. A loop runs one request at a time, so one slot
    /// per thread is enough.
    static PENDING: Cell<Option<Box<Upgrade>>> = const { Cell::new(None) };
}

/// The upgrade the WebSocket view of the request just dispatched made, if any.
pub(crate) fn take_upgrade() -> Option<Box<Upgrade>> {
    PENDING.with(Cell::take)
}

/// The view behind a WebSocket route: checks the origin and the handshake, makes the
/// handler, and answers `101`.
fn upgrade_view<F, H>(factory: F) -> View
where
    F: Fn(&Request<'_>) -> Result<H, HttpError> + Send + Sync + 'static,
    H: WebSocketHandler,
{
    Box::new(move |req, response| {
        let config = req.app.config();
        if !origin_allowed(req.header("Origin"), &config.websocket_origins) {
            return Err(abort(StatusCode::FORBIDDEN)
                .with_message("This origin may not open a WebSocket here."));
        }
        switch(req, response, |req| {
            factory(req).map(|h| Box::new(h) as Box<dyn WebSocketHandler>)
        })
    })
}

/// Checks the handshake (RFC 6455 §4.2.1), makes the handler, writes the `101` into
/// `response` and leaves the upgrade for [`take_upgrade`]. The origin is the caller's
/// to check.
pub(crate) fn switch(
    req: &Request<'_>,
    response: &mut Response,
    make: impl FnOnce(&Request<'_>) -> Result<Box<dyn WebSocketHandler>, HttpError>,
) -> Result<(), HttpError> {
    let config = req.app.config();
    let protocols: Vec<&str> = config
        .websocket_protocols
        .iter()
        .map(String::as_str)
        .collect();
    let deflate = config.websocket_deflate.then(DeflateConfig::default);
    let offer = handshake::Config {
        protocols: &protocols,
        deflate,
    };
    let accepted = handshake::accept(req.method().as_str(), req.version(), req.headers, &offer)
        .map_err(refusal)?;
    let handler = make(req)?;
    let mut switching = Response::empty(StatusCode::SWITCHING_PROTOCOLS);
    for (name, value) in accepted.headers() {
        switching.append_header(name, value.to_owned());
    }
    *response = switching;
    PENDING.with(|slot| slot.set(Some(Box::new(Upgrade { accepted, handler }))));
    Ok(())
}

/// A refused handshake as an error for the app's handlers: 400, 405 or 426 with the
/// headers RFC 6455 §4.2.2 and RFC 9110 ask for (`Upgrade: websocket`,
/// `Sec-WebSocket-Version: 13`, `Allow: GET`).
fn refusal(rejected: Rejected) -> HttpError {
    rejected.headers().iter().fold(
        abort(rejected.status()).with_message(rejected.reason()),
        |err, (name, value)| err.with_header(*name, *value),
    )
}

/// Whether a page from `origin` may open a WebSocket: any, when no origins are listed;
/// a request without `Origin` does not come from a browser page, so it is not a
/// cross-site one.
fn origin_allowed(origin: Option<&str>, allowed: &[String]) -> bool {
    match origin {
        _ if allowed.is_empty() => true,
        None => true,
        Some(origin) => allowed
            .iter()
            .any(|a| a == "*" || a.eq_ignore_ascii_case(origin.trim())),
    }
}

impl App {
    /// Registers a WebSocket route (flask-sock's `@sock.route`): for each upgrade
    /// request, `factory` makes the connection's [`WebSocketHandler`].
    ///
    /// The rule takes Flask's variables (`/chat/<room>`); the app's and the blueprint's
    /// `before_request` hooks run first and may refuse (401, 403) before the `101`, and
    /// so may the factory (`Err(abort(..))`). Origins are checked against
    /// [`Config::websocket_origins`](crate::Config::websocket_origins). A request that is
    /// not a WebSocket handshake gets `426 Upgrade Required` (`400` for a bad key).
    ///
    /// ```
    /// use carafe::websocket::{Message, WebSocket, WebSocketHandler};
    /// use carafe::{App, HttpError, Request};
    ///
    /// struct Room { name: String }
    ///
    /// impl WebSocketHandler for Room {
    ///     fn on_message(&mut self, ws: &mut WebSocket<'_>, message: Message<'_>) {
    ///         if let Message::Text(text) = message {
    ///             let _ = ws.send_text(&format!("{}: {text}", self.name));
    ///         }
    ///     }
    /// }
    ///
    /// let mut app = App::new();
    /// app.websocket("/chat/<room>", |req: &Request| {
    ///     Ok::<_, HttpError>(Room { name: req.param_str("room").unwrap_or("").to_owned() })
    /// });
    /// assert_eq!(app.test_client().get("/chat/lobby").send().status(), 426);
    /// ```
    pub fn websocket<F, H>(&mut self, rule: &str, factory: F) -> &mut App
    where
        F: Fn(&Request<'_>) -> Result<H, HttpError> + Send + Sync + 'static,
        H: WebSocketHandler,
    {
        register_websocket(self, rule, factory);
        self
    }
}

impl Blueprint {
    /// Registers a WebSocket route under the blueprint's prefix (see [`App::websocket`]).
    pub fn websocket<F, H>(&mut self, rule: &str, factory: F) -> &mut Blueprint
    where
        F: Fn(&Request<'_>) -> Result<H, HttpError> + Send + Sync + 'static,
        H: WebSocketHandler,
    {
        register_websocket(self, rule, factory);
        self
    }
}

/// Registers a WebSocket route on an app or a blueprint.
fn register_websocket<T, F, H>(target: &mut T, rule: &str, factory: F)
where
    T: AddView,
    F: Fn(&Request<'_>) -> Result<H, HttpError> + Send + Sync + 'static,
    H: WebSocketHandler,
{
    let endpoint = default_endpoint::<F>(rule);
    let view = upgrade_view(factory);
    target.add_boxed_view(rule, &endpoint, &[Method::GET], view, ViewKind::WebSocket);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        let listed = vec!["https://example.com".to_owned()];
        assert!(origin_allowed(Some("https://evil.example"), &[]));
        assert!(origin_allowed(None, &listed));
        assert!(origin_allowed(Some("https://example.com"), &listed));
        assert!(origin_allowed(Some("HTTPS://EXAMPLE.COM"), &listed));
        assert!(!origin_allowed(Some("https://evil.example"), &listed));
        assert!(origin_allowed(Some("https://x"), &["*".to_owned()]));
    }
}
