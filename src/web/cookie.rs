//! Cookies: reading the `Cookie` header and writing `Set-Cookie` (RFC 6265).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::http::date::format_http_date;
use crate::http::response::Response;
use crate::http::url::MultiDict;
use crate::web::request::Request;

/// The `SameSite` attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SameSite {
    /// Sent with same-site requests and top-level cross-site navigations.
    Lax,
    /// Sent with same-site requests only.
    Strict,
    /// Sent with every request; requires `Secure`.
    None,
}

/// A cookie to set on a response, with every attribute of Flask's `set_cookie`.
///
/// ```
/// use carafe::{Cookie, Response, SameSite};
/// use std::time::Duration;
///
/// let mut resp = Response::text("hi");
/// resp.set_cookie(
///     Cookie::new("theme", "dark")
///         .max_age(Duration::from_secs(3600))
///         .http_only(true)
///         .secure(true)
///         .same_site(SameSite::Lax),
/// );
/// assert_eq!(
///     resp.header("Set-Cookie"),
///     Some("theme=dark; Max-Age=3600; Path=/; Secure; HttpOnly; SameSite=Lax")
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cookie {
    name: String,
    value: String,
    max_age: Option<Duration>,
    expires: Option<SystemTime>,
    path: Option<String>,
    domain: Option<String>,
    secure: bool,
    http_only: bool,
    same_site: Option<SameSite>,
}

impl Cookie {
    /// A cookie for path `/`, living as long as the browser session.
    ///
    /// # Panics
    ///
    /// If the name is not a token or the value holds characters a cookie cannot carry
    /// (space, `"`, `,`, `;`, `\`, controls): encode such values first.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Cookie {
        let (name, value) = (name.into(), value.into());
        assert!(
            !name.is_empty() && name.bytes().all(crate::http::method::is_tchar),
            "invalid cookie name {name:?}"
        );
        assert!(
            value.bytes().all(is_cookie_octet),
            "invalid character in cookie {name}'s value"
        );
        Cookie {
            name,
            value,
            max_age: None,
            expires: None,
            path: Some("/".to_owned()),
            domain: None,
            secure: false,
            http_only: false,
            same_site: None,
        }
    }

    /// `Max-Age`: seconds until the browser drops it.
    pub fn max_age(mut self, age: Duration) -> Cookie {
        self.max_age = Some(age);
        self
    }

    /// `Expires`: when the browser drops it.
    pub fn expires(mut self, when: SystemTime) -> Cookie {
        self.expires = Some(when);
        self
    }

    /// `Path`; `None` leaves it to the browser's default.
    pub fn path(mut self, path: Option<&str>) -> Cookie {
        self.path = path.map(str::to_owned);
        self
    }

    /// `Domain`.
    pub fn domain(mut self, domain: &str) -> Cookie {
        self.domain = Some(domain.to_owned());
        self
    }

    /// `Secure`: HTTPS only.
    pub fn secure(mut self, secure: bool) -> Cookie {
        self.secure = secure;
        self
    }

    /// `HttpOnly`: hidden from scripts.
    pub fn http_only(mut self, http_only: bool) -> Cookie {
        self.http_only = http_only;
        self
    }

    /// `SameSite`.
    pub fn same_site(mut self, same_site: SameSite) -> Cookie {
        self.same_site = Some(same_site);
        self
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value.
    pub fn value(&self) -> &str {
        &self.value
    }
}

/// `cookie-octet` of RFC 6265 §4.1.1.
fn is_cookie_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e)
}

/// Attribute values must not end the header or the attribute early.
fn check_attribute(value: &str) {
    assert!(
        !value.bytes().any(|b| b == b';' || b.is_ascii_control()),
        "invalid cookie attribute value {value:?}"
    );
}

impl fmt::Display for Cookie {
    /// The `Set-Cookie` header value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.name, self.value)?;
        if let Some(when) = self.expires {
            let secs = when
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs();
            let date = format_http_date(secs);
            write!(f, "; Expires={}", String::from_utf8_lossy(&date))?;
        }
        if let Some(age) = self.max_age {
            write!(f, "; Max-Age={}", age.as_secs())?;
        }
        if let Some(domain) = &self.domain {
            write!(f, "; Domain={domain}")?;
        }
        if let Some(path) = &self.path {
            write!(f, "; Path={path}")?;
        }
        if self.secure {
            f.write_str("; Secure")?;
        }
        if self.http_only {
            f.write_str("; HttpOnly")?;
        }
        match self.same_site {
            Some(SameSite::Lax) => f.write_str("; SameSite=Lax")?,
            Some(SameSite::Strict) => f.write_str("; SameSite=Strict")?,
            Some(SameSite::None) => f.write_str("; SameSite=None")?,
            None => {}
        }
        Ok(())
    }
}

impl Response {
    /// Adds a `Set-Cookie` header.
    ///
    /// # Panics
    ///
    /// If the path or domain hold `;` or control characters.
    pub fn set_cookie(&mut self, cookie: Cookie) {
        for value in [&cookie.path, &cookie.domain].into_iter().flatten() {
            check_attribute(value);
        }
        self.append_header("Set-Cookie", cookie.to_string());
    }

    /// Tells the browser to drop a cookie set for path `/` (Flask's `delete_cookie`).
    pub fn delete_cookie(&mut self, name: &str) {
        self.set_cookie(
            Cookie::new(name, "")
                .expires(UNIX_EPOCH)
                .max_age(Duration::ZERO),
        );
    }
}

/// The pairs of a `Cookie` header: `a=1; b="two"`.
pub(crate) fn parse_cookie_header(header: &str) -> impl Iterator<Item = (&str, &str)> {
    header.split(';').filter_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        let name = name.trim();
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        (!name.is_empty()).then_some((name, value))
    })
}

impl Request<'_> {
    /// The cookies the client sent (Flask's `request.cookies`).
    pub fn cookies(&self) -> &MultiDict {
        self.decoded().cookies.get_or_init(|| {
            self.header_all("Cookie")
                .flat_map(parse_cookie_header)
                .collect()
        })
    }

    /// The value of one cookie.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies().get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cookie_headers() {
        let pairs: Vec<_> = parse_cookie_header(r#"a=1; b="two"; junk; =x; c=3=3"#).collect();
        assert_eq!(pairs, [("a", "1"), ("b", "two"), ("c", "3=3")]);
    }

    #[test]
    fn formats_every_attribute() {
        let cookie = Cookie::new("id", "abc")
            .expires(UNIX_EPOCH + Duration::from_secs(784_111_777))
            .max_age(Duration::from_secs(60))
            .domain("example.com")
            .path(Some("/app"))
            .secure(true)
            .http_only(true)
            .same_site(SameSite::Strict);
        assert_eq!(
            cookie.to_string(),
            "id=abc; Expires=Sun, 06 Nov 1994 08:49:37 GMT; Max-Age=60; Domain=example.com; \
             Path=/app; Secure; HttpOnly; SameSite=Strict"
        );
        let mut resp = Response::new("");
        resp.delete_cookie("id");
        assert_eq!(
            resp.header("set-cookie"),
            Some("id=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/")
        );
    }

    #[test]
    #[should_panic(expected = "invalid character")]
    fn refuses_values_that_break_the_header() {
        Cookie::new("a", "x; Domain=evil.com");
    }

    #[test]
    fn request_cookies() {
        let mut app = crate::App::new();
        app.get("/", |req: &Request| {
            format!("{:?} {:?}", req.cookie("a"), req.cookie("missing"))
        });
        let resp = app
            .test_client()
            .get("/")
            .header("Cookie", "a=1; b=2")
            .send();
        assert_eq!(resp.text(), r#"Some("1") None"#);
    }
}
