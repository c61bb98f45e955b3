//! The request as the client made it, when it came through proxies the app trusts:
//! Werkzeug's `ProxyFix` for `X-Forwarded-For`, `-Proto`, `-Host`, `-Port` and `-Prefix`,
//! and RFC 7239's `Forwarded`.
//!
//! Each header is trusted for a configured number of hops ([`TrustedProxies`]), counted
//! from the right: every proxy appends what it saw, so the right-most values are the ones
//! the app's own proxies wrote, and anything further left came from the client and may
//! be forged. With no hop trusted (the default), the headers are ignored. A value that
//! does not parse is ignored too, never trusted because it is present.

use std::borrow::Cow;
use std::net::IpAddr;

use crate::config::TrustedProxies;
use crate::http::parse::split_unquoted;

/// The `n`-th value from the right of a comma-separated header that may be repeated:
/// what the `n`-th proxy in front of the app wrote. `None` if there are fewer values.
fn from_right<'a>(values: impl Iterator<Item = &'a str>, n: usize) -> Option<&'a str> {
    if n == 0 {
        return None;
    }
    let all: Vec<&str> = values.flat_map(|v| v.split(',')).map(str::trim).collect();
    all.len().checked_sub(n).map(|i| all[i])
}

/// A forwarded header's values, all occurrences in order.
fn values<'a>(
    headers: &'a [httparse::Header<'a>],
    name: &'static str,
) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .iter()
        .filter(move |h| h.name.eq_ignore_ascii_case(name))
        .filter_map(|h| std::str::from_utf8(h.value).ok())
}

/// The client's address from the trusted proxies, if they say one that parses.
pub(crate) fn client_ip(
    headers: &[httparse::Header<'_>],
    trust: &TrustedProxies,
) -> Option<IpAddr> {
    if let Some(element) = forwarded_element(headers, trust.forwarded)
        && let Some(ip) = forwarded_param(element, "for").and_then(|v| node_ip(&v))
    {
        return Some(ip);
    }
    from_right(values(headers, "x-forwarded-for"), trust.x_for).and_then(|v| v.parse().ok())
}

/// `http` or `https`, from the trusted proxies.
pub(crate) fn scheme(
    headers: &[httparse::Header<'_>],
    trust: &TrustedProxies,
) -> Option<&'static str> {
    let known = |v: &str| match v.to_ascii_lowercase().as_str() {
        "http" => Some("http"),
        "https" => Some("https"),
        _ => None,
    };
    if let Some(element) = forwarded_element(headers, trust.forwarded)
        && let Some(proto) = forwarded_param(element, "proto").and_then(|v| known(&v))
    {
        return Some(proto);
    }
    from_right(values(headers, "x-forwarded-proto"), trust.x_proto).and_then(known)
}

/// The host (with port, if any) the client asked for, from the trusted proxies.
pub(crate) fn host<'a>(
    headers: &'a [httparse::Header<'a>],
    trust: &TrustedProxies,
    direct: Option<&'a str>,
) -> Option<Cow<'a, str>> {
    let forwarded = forwarded_element(headers, trust.forwarded)
        .and_then(|element| forwarded_param(element, "host"))
        .filter(|h| is_host(h));
    let host: Option<Cow<'a, str>> = match forwarded {
        Some(host) => Some(host),
        None => from_right(values(headers, "x-forwarded-host"), trust.x_host)
            .filter(|h| is_host(h))
            .map(Cow::Borrowed),
    };
    let port = from_right(values(headers, "x-forwarded-port"), trust.x_port)
        .and_then(|p| p.parse::<u16>().ok());
    match (host.or(direct.map(Cow::Borrowed)), port) {
        (Some(host), Some(port)) => Some(Cow::Owned(format!("{}:{port}", strip_port(&host)))),
        (host, _) => host,
    }
}

/// The path prefix the app is mounted under, from the trusted proxies (no trailing `/`).
pub(crate) fn prefix<'a>(
    headers: &'a [httparse::Header<'a>],
    trust: &TrustedProxies,
) -> Option<&'a str> {
    let prefix = from_right(values(headers, "x-forwarded-prefix"), trust.x_prefix)?;
    let prefix = prefix.trim_end_matches('/');
    let valid = prefix.starts_with('/')
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-._~%!$&'()*+,;=:@".contains(&b));
    (valid || prefix.is_empty()).then_some(prefix)
}

/// A host name or address as `Host` carries it: letters, digits, `-`, `.`, `:` and the
/// brackets of an IPv6 literal, at most 255 bytes.
fn is_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b))
}

/// `example.com:8080` → `example.com`; `[::1]:80` → `[::1]`.
fn strip_port(host: &str) -> &str {
    match host.rfind(':') {
        Some(i) if !host[i..].contains(']') && host[..i].matches(':').count() == 0 => &host[..i],
        Some(i) if host.starts_with('[') && host[..i].ends_with(']') => &host[..i],
        _ => host,
    }
}

/// The element of `Forwarded` the `n`-th proxy from the right wrote (RFC 7239 §4: each
/// proxy appends one).
fn forwarded_element<'a>(headers: &'a [httparse::Header<'a>], n: usize) -> Option<&'a str> {
    if n == 0 {
        return None;
    }
    let elements: Vec<&str> = values(headers, "forwarded")
        .flat_map(|value| split_outside_quotes(value, b','))
        .collect();
    elements.len().checked_sub(n).map(|i| elements[i])
}

/// A parameter of a `Forwarded` element (`for=...;proto=...`), unquoted.
fn forwarded_param<'a>(element: &'a str, name: &str) -> Option<Cow<'a, str>> {
    split_outside_quotes(element, b';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        if !key.trim().eq_ignore_ascii_case(name) {
            return None;
        }
        let value = value.trim();
        match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            // quoted-string (RFC 9110 §5.6.4): backslash escapes any character.
            Some(quoted) if quoted.contains('\\') => {
                let mut out = String::with_capacity(quoted.len());
                let mut chars = quoted.chars();
                while let Some(c) = chars.next() {
                    out.push(if c == '\\' { chars.next()? } else { c });
                }
                Some(Cow::Owned(out))
            }
            Some(quoted) => Some(Cow::Borrowed(quoted)),
            None => Some(Cow::Borrowed(value)),
        }
    })
}

/// The IP address of a `for=` node (RFC 7239 §6): `192.0.2.43`, `192.0.2.43:4711`,
/// `[2001:db8::17]` or `[2001:db8::17]:4711`. `unknown` and obfuscated names give none.
fn node_ip(node: &str) -> Option<IpAddr> {
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    node.split(':').next()?.parse().ok()
}

/// Splits on `sep` where it is not inside a quoted string; trimmed, blanks dropped.
fn split_outside_quotes(text: &str, sep: u8) -> impl Iterator<Item = &str> {
    split_unquoted(text, sep)
        .map(str::trim)
        .filter(|piece| !piece.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> Vec<httparse::Header<'static>> {
        pairs
            .iter()
            .map(|(name, value)| httparse::Header {
                name,
                value: value.as_bytes(),
            })
            .collect()
    }

    fn trust(x_for: usize, forwarded: usize) -> TrustedProxies {
        TrustedProxies {
            x_for,
            x_proto: x_for,
            x_host: x_for,
            x_port: x_for,
            x_prefix: x_for,
            forwarded,
        }
    }

    #[test]
    fn untrusted_headers_are_ignored() {
        let h = headers(&[
            ("X-Forwarded-For", "6.6.6.6"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "evil.example"),
            ("Forwarded", "for=6.6.6.6;proto=https"),
        ]);
        let none = TrustedProxies::default();
        assert_eq!(client_ip(&h, &none), None);
        assert_eq!(scheme(&h, &none), None);
        assert_eq!(
            host(&h, &none, Some("app.example")).as_deref(),
            Some("app.example")
        );
        assert_eq!(prefix(&h, &none), None);
    }

    #[test]
    fn the_trusted_hop_is_counted_from_the_right() {
        // The client forged 6.6.6.6; our one proxy appended the address it saw.
        let h = headers(&[("X-Forwarded-For", "6.6.6.6, 10.1.2.3")]);
        assert_eq!(client_ip(&h, &trust(1, 0)), "10.1.2.3".parse().ok());
        assert_eq!(client_ip(&h, &trust(2, 0)), "6.6.6.6".parse().ok());
        assert_eq!(client_ip(&h, &trust(3, 0)), None, "fewer values than hops");
        // Values spread over several header lines count as one list.
        let h = headers(&[
            ("X-Forwarded-For", "1.1.1.1"),
            ("X-Forwarded-For", "2.2.2.2"),
        ]);
        assert_eq!(client_ip(&h, &trust(1, 0)), "2.2.2.2".parse().ok());
    }

    #[test]
    fn malformed_values_are_ignored() {
        let h = headers(&[
            ("X-Forwarded-For", "not-an-ip"),
            ("X-Forwarded-Proto", "gopher"),
            ("X-Forwarded-Host", "bad host/with path"),
            ("X-Forwarded-Port", "99999"),
            ("X-Forwarded-Prefix", "no-slash"),
        ]);
        let t = trust(1, 0);
        assert_eq!(client_ip(&h, &t), None);
        assert_eq!(scheme(&h, &t), None);
        assert_eq!(host(&h, &t, Some("direct")).as_deref(), Some("direct"));
        assert_eq!(prefix(&h, &t), None);
    }

    #[test]
    fn proto_host_port_and_prefix() {
        let h = headers(&[
            ("X-Forwarded-Proto", "HTTPS"),
            ("X-Forwarded-Host", "www.example.com"),
            ("X-Forwarded-Port", "8443"),
            ("X-Forwarded-Prefix", "/shop/"),
        ]);
        let t = trust(1, 0);
        assert_eq!(scheme(&h, &t), Some("https"));
        assert_eq!(host(&h, &t, None).as_deref(), Some("www.example.com:8443"));
        assert_eq!(prefix(&h, &t), Some("/shop"));
        // The port alone replaces the direct host's port.
        let h = headers(&[("X-Forwarded-Port", "443")]);
        assert_eq!(host(&h, &t, Some("app:8000")).as_deref(), Some("app:443"));
        assert_eq!(
            host(&h, &t, Some("[::1]:8000")).as_deref(),
            Some("[::1]:443")
        );
    }

    #[test]
    fn rfc7239_forwarded() {
        let h = headers(&[
            (
                "Forwarded",
                r#"for=6.6.6.6;proto=http, for="[2001:db8:cafe::17]:4711";proto=https;host="shop.example""#,
            ),
            ("X-Forwarded-For", "9.9.9.9"),
        ]);
        let t = trust(1, 1);
        assert_eq!(client_ip(&h, &t), "2001:db8:cafe::17".parse().ok());
        assert_eq!(scheme(&h, &t), Some("https"));
        assert_eq!(host(&h, &t, None).as_deref(), Some("shop.example"));
        assert_eq!(client_ip(&h, &trust(0, 2)), "6.6.6.6".parse().ok());
        // An obfuscated or unknown node gives no address; X-Forwarded-For then applies.
        let h = headers(&[("Forwarded", "for=unknown"), ("X-Forwarded-For", "9.9.9.9")]);
        assert_eq!(client_ip(&h, &trust(1, 1)), "9.9.9.9".parse().ok());
        let h = headers(&[("Forwarded", "for=_hidden;proto=https")]);
        assert_eq!(client_ip(&h, &trust(0, 1)), None);
        assert_eq!(node_ip("192.0.2.43:47011"), "192.0.2.43".parse().ok());
        // Commas and semicolons inside quotes do not split.
        let h = headers(&[("Forwarded", r#"for=1.2.3.4;host="a\"b,c;d""#)]);
        assert_eq!(
            forwarded_param(forwarded_element(&h, 1).unwrap(), "host").as_deref(),
            Some("a\"b,c;d")
        );
    }
}
