//! Cookies: reading the `Cookie` header and writing `Set-Cookie` (RFC 6265).
//!
//! Values are written as Werkzeug's `dump_cookie` writes them: bare when every byte is a
//! `cookie-octet` (RFC 6265 §4.1.1), otherwise in double quotes with `"` and `\`
//! backslash-escaped and `,`, `;`, controls and non-ASCII bytes as `\ooo` octal escapes.
//! Reading undoes both, so any string a view sets comes back unchanged.

use std::borrow::Cow;
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
/// )?;
/// assert_eq!(
///     resp.header("Set-Cookie"),
///     Some("theme=dark; Max-Age=3600; Path=/; Secure; HttpOnly; SameSite=Lax")
/// );
/// // Any value can be set: one a cookie cannot carry bare is quoted, as Flask does.
/// let mut resp = Response::text("hi");
/// resp.set_cookie(Cookie::new("username", "the username"))?;
/// assert_eq!(resp.header("Set-Cookie"), Some("username=\"the username\"; Path=/"));
/// # Ok::<(), carafe::CookieError>(())
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
    /// Any value is accepted: one with characters a cookie cannot carry bare (a space,
    /// `"`, `,`, `;`, `\`, controls, non-ASCII) is quoted and escaped when it is set,
    /// and [`Request::cookie`] gives back the original. The name is checked by
    /// [`Response::set_cookie`].
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Cookie {
        Cookie {
            name: name.into(),
            value: value.into(),
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

/// `cookie-octet` of RFC 6265 §4.1.1: what a value may hold without quotes.
fn is_cookie_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e)
}

/// The value as it goes on the wire: bare if it can be, else quoted and escaped the way
/// Werkzeug's `_cookie_quote` does (a space stays as it is inside the quotes).
fn quote_value(value: &str) -> Cow<'_, str> {
    if value.bytes().all(is_cookie_octet) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    out.push('"');
    for &b in value.as_bytes() {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            b' ' => out.push(' '),
            _ if is_cookie_octet(b) => out.push(b as char),
            _ => {
                out.push('\\');
                for shift in [6, 3, 0] {
                    out.push(char::from(b'0' + (b >> shift & 7)));
                }
            }
        }
    }
    out.push('"');
    Cow::Owned(out)
}

/// The inverse of [`quote_value`]: a value in double quotes loses them and its escapes
/// (`\ooo` is a byte, `\c` is `c`); bytes that are not UTF-8 become U+FFFD, as in
/// Werkzeug's `parse_cookie`. Any other value is taken as it is.
fn unquote_value(value: &str) -> Cow<'_, str> {
    let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return Cow::Borrowed(value);
    };
    if !inner.contains('\\') {
        return Cow::Borrowed(inner);
    }
    let bytes = inner.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' || i + 1 == bytes.len() {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let octal = bytes.get(i + 1..i + 4).filter(|d| {
            matches!(d[0], b'0'..=b'3') && d[1..].iter().all(|c| matches!(c, b'0'..=b'7'))
        });
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') << 6 | (d[1] - b'0') << 3 | (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(bytes[i + 1]);
                i += 2;
            }
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// A cookie that cannot be written into a `Set-Cookie` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieError(String);

impl fmt::Display for CookieError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CookieError {}

impl Cookie {
    /// Whether the header can carry this cookie: the name must be a token (RFC 6265
    /// §4.1.1), and the path and domain must not end the header or the attribute early.
    fn check(&self) -> Result<(), CookieError> {
        if self.name.is_empty() || !self.name.bytes().all(crate::http::method::is_tchar) {
            return Err(CookieError(format!(
                "invalid cookie name {:?}: a name is a token (letters, digits, !#$%&'*+-.^_`|~)",
                self.name
            )));
        }
        for (attribute, value) in [("Path", &self.path), ("Domain", &self.domain)] {
            if let Some(value) = value
                && value.bytes().any(|b| b == b';' || b.is_ascii_control())
            {
                return Err(CookieError(format!(
                    "invalid {attribute} {value:?} for cookie {}: ';' and control characters \
                     cannot be sent",
                    self.name
                )));
            }
        }
        Ok(())
    }
}

impl fmt::Display for Cookie {
    /// The `Set-Cookie` header value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.name, quote_value(&self.value))?;
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
    /// Adds a `Set-Cookie` header (Flask's `set_cookie`).
    ///
    /// Fails, leaving the response unchanged, if the name is not a token or the path or
    /// domain hold `;` or control characters; `?` turns that into a 500 whose cause is
    /// reported. Every value can be set.
    pub fn set_cookie(&mut self, cookie: Cookie) -> Result<(), CookieError> {
        cookie.check()?;
        self.append_header("Set-Cookie", cookie.to_string());
        Ok(())
    }

    /// Tells the browser to drop a cookie set for path `/` (Flask's `delete_cookie`).
    ///
    /// Fails, as [`Response::set_cookie`], if `name` is not a token.
    pub fn delete_cookie(&mut self, name: &str) -> Result<(), CookieError> {
        self.set_cookie(
            Cookie::new(name, "")
                .expires(UNIX_EPOCH)
                .max_age(Duration::ZERO),
        )
    }
}

/// The pairs of a `Cookie` header: `a=1; b="two"`, values unquoted and unescaped.
pub(crate) fn parse_cookie_header(header: &str) -> impl Iterator<Item = (&str, Cow<'_, str>)> {
    header.split(';').filter_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        let name = name.trim();
        (!name.is_empty()).then(|| (name, unquote_value(value.trim())))
    })
}

/// One cookie's value as a `Cookie` header carries it (for the test client's jar).
pub(crate) fn wire_value(value: &str) -> Cow<'_, str> {
    quote_value(value)
}

/// One cookie's value from its wire form (for the test client's jar).
pub(crate) fn plain_value(value: &str) -> Cow<'_, str> {
    unquote_value(value)
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
        let pairs: Vec<_> = parse_cookie_header(r#"a=1; b="two"; junk; =x; c=3=3"#)
            .map(|(n, v)| (n, v.into_owned()))
            .collect();
        assert_eq!(
            pairs,
            [("a", "1".into()), ("b", "two".into()), ("c", "3=3".into())]
        );
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
        resp.delete_cookie("id").unwrap();
        assert_eq!(
            resp.header("set-cookie"),
            Some("id=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/")
        );
    }

    /// What Werkzeug's `dump_cookie` writes for the same values.
    #[test]
    fn quotes_values_as_werkzeug_does() {
        for (value, wire) in [
            ("dark", "dark"),
            ("", ""),
            ("the username", r#""the username""#),
            ("a;b", r#""a\073b""#),
            ("a,b", r#""a\054b""#),
            ("x\"y", r#""x\"y""#),
            ("x\\y", r#""x\\y""#),
            ("é", r#""\303\251""#),
            ("\r\n\0", r#""\015\012\000""#),
            ("<a=/x?y=[1]>{}", "<a=/x?y=[1]>{}"),
        ] {
            assert_eq!(quote_value(value), wire, "{value:?}");
            assert_eq!(unquote_value(wire), value, "{wire:?}");
        }
        // What other clients send: escapes of plain characters, and a stray backslash.
        assert_eq!(unquote_value(r#""\a\""#), "a\\");
        assert_eq!(unquote_value(r#""\377""#), "\u{fffd}");
        assert_eq!(unquote_value("\""), "\"");
    }

    #[test]
    fn refuses_only_what_the_header_cannot_carry() {
        let mut resp = Response::new("");
        for bad in [
            Cookie::new("", "x"),
            Cookie::new("a b", "x"),
            Cookie::new("a;b", "x"),
            Cookie::new("é", "x"),
            Cookie::new("a", "x").domain("evil.com; Secure"),
            Cookie::new("a", "x").path(Some("/\r\nX: y")),
        ] {
            let err = resp.set_cookie(bad.clone()).unwrap_err();
            assert!(err.to_string().contains("invalid"), "{bad:?}: {err}");
        }
        assert!(resp.delete_cookie("a=b").is_err());
        assert_eq!(resp.header("set-cookie"), None, "nothing was set");
        resp.set_cookie(Cookie::new("a", "x; Domain=evil.com"))
            .unwrap();
        assert_eq!(
            resp.header("set-cookie"),
            Some(r#"a="x\073 Domain=evil.com"; Path=/"#)
        );
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
