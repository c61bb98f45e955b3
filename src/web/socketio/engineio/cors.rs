//! Which pages may talk to the Engine.IO endpoint, and the CORS headers that tell the
//! browser so (the Fetch standard's CORS protocol).
//!
//! The choices are Flask-SocketIO's `cors_allowed_origins` (python-engineio's
//! `_cors_allowed_origins` and `_cors_headers`): by default only the page's own origin,
//! `*` for any, or a list. A request that names a refused origin is answered 400; one
//! without `Origin` is not from a browser page, so it is not a cross-site one. Allowed
//! origins are echoed back rather than answered with `*`, so that credentials (cookies)
//! may be sent: `*` and `Access-Control-Allow-Credentials` exclude each other.

use crate::http::response::HeaderText;
use crate::web::request::Request;

/// Which origins may use the Socket.IO endpoint (Flask-SocketIO's `cors_allowed_origins`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Cors {
    /// Only pages served by this host (the default, as in Flask-SocketIO).
    #[default]
    SameOrigin,
    /// Any origin (`cors_allowed_origins="*"`).
    Any,
    /// These origins, as `scheme://host[:port]` (`cors_allowed_origins=[...]`).
    Origins(Vec<String>),
}

impl Cors {
    /// Whether a request from `origin` (its `Origin` header) may go on.
    pub(crate) fn allows(&self, origin: Option<&str>, host: Option<&str>) -> bool {
        let Some(origin) = origin.map(str::trim) else {
            return true;
        };
        match self {
            Cors::Any => true,
            Cors::Origins(list) => list.iter().any(|o| o.eq_ignore_ascii_case(origin)),
            Cors::SameOrigin => {
                let Some(host) = host else { return false };
                ["http://", "https://"].iter().any(|scheme| {
                    origin
                        .strip_prefix(scheme)
                        .is_some_and(|rest| rest.eq_ignore_ascii_case(host))
                })
            }
        }
    }

    /// The headers an allowed request's answer carries; a preflight (`OPTIONS`) also
    /// learns the methods and the headers it asked about.
    pub(crate) fn headers(
        &self,
        req: &Request<'_>,
        credentials: bool,
    ) -> Vec<(HeaderText, HeaderText)> {
        let mut headers: Vec<(HeaderText, HeaderText)> = Vec::new();
        let Some(origin) = req.header("Origin") else {
            return headers;
        };
        headers.push((
            "Access-Control-Allow-Origin".into(),
            origin.trim().to_owned().into(),
        ));
        // The answer depends on the origin: caches must keep one per origin.
        headers.push(("Vary".into(), "Origin".into()));
        if credentials {
            headers.push(("Access-Control-Allow-Credentials".into(), "true".into()));
        }
        if req.method().as_str() == "OPTIONS" {
            headers.push((
                "Access-Control-Allow-Methods".into(),
                "OPTIONS, GET, POST".into(),
            ));
            if let Some(asked) = req.header("Access-Control-Request-Headers") {
                headers.push((
                    "Access-Control-Allow-Headers".into(),
                    asked.to_owned().into(),
                ));
            }
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        let host = Some("example.com:5000");
        assert!(Cors::SameOrigin.allows(None, host));
        assert!(Cors::SameOrigin.allows(Some("http://example.com:5000"), host));
        assert!(Cors::SameOrigin.allows(Some("https://EXAMPLE.com:5000"), host));
        assert!(!Cors::SameOrigin.allows(Some("http://evil.example"), host));
        assert!(!Cors::SameOrigin.allows(Some("http://example.com:5000"), None));
        assert!(Cors::Any.allows(Some("http://evil.example"), host));
        let list = Cors::Origins(vec!["https://app.example".into()]);
        assert!(list.allows(Some("https://app.example"), host));
        assert!(!list.allows(Some("http://example.com:5000"), host));
    }
}
