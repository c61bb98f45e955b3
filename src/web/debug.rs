//! Debug mode (Flask's `app.debug`): a 500 page that shows what went wrong, templates
//! reloaded from disk, and a start-up banner that says so.
//!
//! The page goes only to clients on the loopback interface, and only in debug mode: the
//! cause of an error (a panic message, a database error, a file path) can reveal what an
//! attacker needs, so the production page says nothing beyond the status.

use std::fmt::Write;

use crate::http::response::Response;
use crate::http::status::StatusCode;
use crate::web::app::App;
use crate::web::error::HttpError;
use crate::web::fault::Panic;
use crate::web::html::escape_str as escape;
use crate::web::request::Request;

/// What `App::run` prints under its address when debug mode is on.
pub(crate) const BANNER: &str = " * Debug mode: on\n\
    WARNING: debug mode shows the cause and a backtrace of every 500 to clients on this \
    machine and reloads templates from disk. Do not use it in production.";

impl App {
    /// Turns debug mode on or off (Flask's `app.debug`). Off by default; `App::new` turns
    /// it on when the environment has `CARAFE_DEBUG=1`.
    ///
    /// In debug mode a 500 page shows the error or panic message, the route and a
    /// backtrace, to clients on the loopback interface only; templates are reloaded
    /// when their files change; `App::run` warns that debug mode is on. Production
    /// error pages reveal nothing.
    ///
    /// ```
    /// use carafe::{App, Request};
    /// let mut app = App::new();
    /// app.debug(true);
    /// app.get("/", |_: &Request| -> &'static str { panic!("out of coffee") });
    /// let page = app.test_client().get("/").send().text();
    /// assert!(page.contains("out of coffee"));
    /// ```
    pub fn debug(&mut self, on: bool) -> &mut App {
        self.config_mut().debug = on;
        #[cfg(feature = "templates")]
        self.sync_template_reload();
        self
    }

    /// The page for an error no handler answered: in debug mode, to a local client, a
    /// 500 shows its cause; otherwise the standard page.
    pub(crate) fn error_page(&self, req: &Request<'_>, err: &HttpError) -> Response {
        if self.config().debug
            && err.status() == StatusCode::INTERNAL_SERVER_ERROR
            // A Unix-socket peer may be a proxy relaying anyone: not local.
            && req.remote_addr().is_some_and(|ip| ip.is_loopback())
        {
            return debug_page(req, err);
        }
        err.to_response()
    }
}

/// Whether the environment asks for debug mode (`CARAFE_DEBUG=1`).
pub(crate) fn debug_from_env() -> bool {
    std::env::var("CARAFE_DEBUG")
        .ok()
        .and_then(|v| crate::config::parse_flag(&v))
        .unwrap_or(false)
}

#[cold]
fn debug_page(req: &Request<'_>, err: &HttpError) -> Response {
    let mut page = String::with_capacity(4096);
    let status = err.status();
    let _ = write!(
        page,
        "<!doctype html>\n<html lang=en>\n<title>{status} (debug mode)</title>\n\
         <style>body{{font-family:sans-serif;margin:2em}}pre{{background:#f4f4f4;\
         padding:1em;overflow:auto}}</style>\n<h1>{status}</h1>\n",
        status = escape(&status.to_string()),
    );
    let cause = err
        .source()
        .map(|e| e.to_string())
        .or_else(|| err.message().map(str::to_owned))
        .unwrap_or_else(|| "aborted with no further cause".to_owned());
    let _ = write!(page, "<h2>Cause</h2>\n<pre>{}</pre>\n", escape(&cause));
    let _ = write!(
        page,
        "<h2>Request</h2>\n<p><code>{} {}</code>",
        escape(req.method().as_str()),
        escape(&req.full_path())
    );
    if let Some(rule) = req.rule_text() {
        let _ = write!(
            page,
            " matched <code>{}</code>, endpoint <code>{}</code>",
            escape(rule),
            escape(req.endpoint().unwrap_or(""))
        );
    } else {
        page.push_str(" matched no rule");
    }
    page.push_str("</p>\n");
    let panic_trace = err
        .source()
        .and_then(|e| e.downcast_ref::<Panic>())
        .and_then(|p| p.backtrace.as_ref());
    match panic_trace.or(err.backtrace()) {
        Some(trace) => {
            let _ = write!(
                page,
                "<h2>Backtrace</h2>\n<pre>{}</pre>\n",
                escape(&trace.to_string())
            );
        }
        None => page.push_str("<h2>Backtrace</h2>\n<p>Not captured for this error.</p>\n"),
    }
    page.push_str(
        "<p>This page is shown because debug mode is on and the client is on this machine. \
         Do not use debug mode in production.</p>\n",
    );
    Response::html(page).with_status(status)
}
