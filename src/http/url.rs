//! Percent-encoding (RFC 3986 §2.1), query strings and the multi-dict they decode into.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::str::FromStr;

/// Decodes `%XX` escapes; `None` if an escape is malformed or the result is not UTF-8.
///
/// Borrows when there is nothing to decode, so ordinary paths cost no allocation.
pub(crate) fn percent_decode(text: &str) -> Option<Cow<'_, str>> {
    // Most paths have no escape at all: one plain scan, no copy.
    if !text.bytes().any(|b| b == b'%') {
        return Some(Cow::Borrowed(text));
    }
    decode(text, false)
}

/// Splits an origin-form target at its first `?` into path and query, and reports
/// whether the path holds a `%` (and so needs [`percent_decode`]).
///
/// One pass, eight bytes at a time, where a scan for `?` and then one for `%` cost a
/// short path about 60 instructions more. Inlined by force into the request path, which
/// is built from more than one place.
#[inline(always)]
pub(crate) fn split_target(path_and_query: &str) -> (&str, &str, bool) {
    let bytes = path_and_query.as_bytes();
    match first_of(b'?', b'%', bytes) {
        None => (path_and_query, "", false),
        Some(i) if bytes[i] == b'?' => (&path_and_query[..i], &path_and_query[i + 1..], false),
        Some(i) => match bytes[i..].iter().position(|&b| b == b'?') {
            Some(q) => (&path_and_query[..i + q], &path_and_query[i + q + 1..], true),
            None => (path_and_query, "", true),
        },
    }
}

/// The index of the first `a` or `b` in `bytes`.
fn first_of(a: u8, b: u8, bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut words = bytes.chunks_exact(8);
    let mut offset = 0;
    for word in &mut words {
        let x = u64::from_le_bytes(word.try_into().unwrap());
        let (xa, xb) = (x ^ (ONES * u64::from(a)), x ^ (ONES * u64::from(b)));
        // The high bit of each zero byte of `xa` or `xb` is set; a false positive can
        // only sit above a true one, so the lowest set bit is the first match.
        let found = ((xa.wrapping_sub(ONES) & !xa) | (xb.wrapping_sub(ONES) & !xb)) & HIGH;
        if found != 0 {
            return Some(offset + found.trailing_zeros() as usize / 8);
        }
        offset += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&c| c == a || c == b)
        .map(|i| offset + i)
}

/// Decodes a `application/x-www-form-urlencoded` component: `+` is a space, and
/// malformed escapes are kept as they are (as browsers and Werkzeug do).
pub(crate) fn form_decode(text: &str) -> Cow<'_, str> {
    match decode(text, true) {
        Some(decoded) => decoded,
        None => {
            // Not UTF-8 after decoding: replace the bad bytes rather than drop the field.
            let bytes = decode_bytes(text.as_bytes(), true, true).unwrap_or_default();
            Cow::Owned(String::from_utf8_lossy(&bytes).into_owned())
        }
    }
}

fn decode(text: &str, plus_is_space: bool) -> Option<Cow<'_, str>> {
    let bytes = text.as_bytes();
    // A plain loop: paths are short, and `contains` sets up a vectorised search.
    if !bytes
        .iter()
        .any(|&b| b == b'%' || (plus_is_space && b == b'+'))
    {
        return Some(Cow::Borrowed(text));
    }
    let decoded = decode_bytes(bytes, plus_is_space, plus_is_space)?;
    String::from_utf8(decoded).ok().map(Cow::Owned)
}

fn decode_bytes(bytes: &[u8], plus_is_space: bool, lenient: bool) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => match (
                bytes.get(i + 1).and_then(hex),
                bytes.get(i + 2).and_then(hex),
            ) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 3;
                    continue;
                }
                _ if lenient => out.push(b'%'),
                _ => return None,
            },
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    Some(out)
}

fn hex(b: &u8) -> Option<u8> {
    (*b as char).to_digit(16).map(|d| d as u8)
}

/// Characters left as they are in a path segment (RFC 3986 `pchar` minus `%`).
fn is_path_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b)
}

/// Percent-encodes text for a path; `keep_slash` leaves `/` alone (the `path` converter).
pub(crate) fn encode_path(text: &str, keep_slash: bool) -> Cow<'_, str> {
    encode(
        text,
        |b| is_path_safe(b) || (keep_slash && b == b'/'),
        false,
    )
}

/// Encodes a query-string key or value, spaces as `+` (form encoding).
pub fn encode_query_component(text: &str) -> Cow<'_, str> {
    encode(
        text,
        |b| b.is_ascii_alphanumeric() || b"-._~".contains(&b),
        true,
    )
}

fn encode(text: &str, keep: impl Fn(u8) -> bool, space_as_plus: bool) -> Cow<'_, str> {
    if text.bytes().all(&keep) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for b in text.bytes() {
        if keep(b) {
            out.push(b as char);
        } else if b == b' ' && space_as_plus {
            out.push('+');
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    Cow::Owned(out)
}

/// An ordered multi-dict of strings, like Werkzeug's `MultiDict`: query args and form fields.
///
/// ```
/// use carafe::MultiDict;
/// let args = MultiDict::parse_query("tag=a&tag=b&q=hello+world&page=2");
/// assert_eq!(args.get("q"), Some("hello world"));
/// assert_eq!(args.get_all("tag").collect::<Vec<_>>(), ["a", "b"]);
/// assert_eq!(args.get_as::<u32>("page"), Some(2));
/// assert_eq!(args.get("missing"), None);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MultiDict {
    items: Vec<(String, String)>,
}

impl MultiDict {
    /// An empty multi-dict.
    pub fn new() -> MultiDict {
        MultiDict::default()
    }

    /// Decodes `a=1&b=2` (form encoding: `+` is a space); repeated keys are all kept.
    pub fn parse_query(query: &str) -> MultiDict {
        let items = query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (
                    form_decode(key).into_owned(),
                    form_decode(value).into_owned(),
                )
            })
            .collect();
        MultiDict { items }
    }

    /// The first value for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.items
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The first value for `key`, parsed; `None` if missing or unparsable
    /// (Werkzeug's `get(key, type=int)`).
    pub fn get_as<T: FromStr>(&self, key: &str) -> Option<T> {
        self.get(key)?.parse().ok()
    }

    /// Every value for `key`, in order (Werkzeug's `getlist`).
    pub fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.items
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.items.iter().any(|(k, _)| k == key)
    }

    /// Adds a value, keeping earlier ones.
    pub fn append(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.items.push((key.into(), value.into()));
    }

    /// Every (key, value) pair in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.items.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Encodes back to `a=1&b=2`.
    pub fn to_query(&self) -> String {
        let mut out = String::new();
        for (i, (k, v)) in self.items.iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            out.push_str(&encode_query_component(k));
            out.push('=');
            out.push_str(&encode_query_component(v));
        }
        out
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for MultiDict {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> MultiDict {
        MultiDict {
            items: iter
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_targets() {
        let cases = [
            ("/", ("/", "", false)),
            ("/plaintext", ("/plaintext", "", false)),
            ("/a?b=1", ("/a", "b=1", false)),
            ("/a%20b?q=%20", ("/a%20b", "q=%20", true)),
            ("/a?q=%20", ("/a", "q=%20", false)),
            ("/%", ("/%", "", true)),
            ("?", ("", "", false)),
            ("/0123456789abcdef?x", ("/0123456789abcdef", "x", false)),
            ("/0123456789abcde%41", ("/0123456789abcde%41", "", true)),
            ("/é?€", ("/é", "€", false)),
            (
                "/\u{ff}\u{ff}\u{ff}\u{ff}?",
                ("/\u{ff}\u{ff}\u{ff}\u{ff}", "", false),
            ),
        ];
        for (target, expected) in cases {
            assert_eq!(split_target(target), expected, "{target:?}");
        }
        // Every position of each needle, against the plain scans it replaces.
        for len in 0..24 {
            for at in 0..len {
                for needle in ["?", "%", "\u{7f}", "\u{80}"] {
                    let mut target = "a".repeat(len);
                    target.replace_range(at..at + 1, needle);
                    let q = target.find('?');
                    let path = &target[..q.unwrap_or(target.len())];
                    let query = q.map_or("", |q| &target[q + 1..]);
                    let expected = (path, query, path.contains('%'));
                    assert_eq!(split_target(&target), expected, "{target:?}");
                }
            }
        }
    }

    #[test]
    fn decode_paths() {
        assert!(matches!(
            percent_decode("/plain"),
            Some(Cow::Borrowed("/plain"))
        ));
        assert_eq!(percent_decode("/a%20b/%C3%A9").unwrap(), "/a b/é");
        assert_eq!(percent_decode("/a+b").unwrap(), "/a+b");
        assert_eq!(percent_decode("/%2e%2E/x").unwrap(), "/../x");
        assert_eq!(percent_decode("/bad%zz"), None);
        assert_eq!(percent_decode("/bad%4"), None);
        assert_eq!(percent_decode("/bad%ff"), None);
    }

    #[test]
    fn decode_forms() {
        assert_eq!(form_decode("a+b%21"), "a b!");
        assert_eq!(form_decode("100%"), "100%");
        assert_eq!(form_decode("%ff"), "\u{fffd}");
    }

    #[test]
    fn encode_round_trips() {
        assert_eq!(encode_path("a b/c", false), "a%20b%2Fc");
        assert_eq!(encode_path("a b/c", true), "a%20b/c");
        assert_eq!(encode_path("é", false), "%C3%A9");
        assert_eq!(encode_query_component("a b&c=d"), "a+b%26c%3Dd");
        let dict = MultiDict::parse_query("x=1&y=a+b&x=%26");
        assert_eq!(MultiDict::parse_query(&dict.to_query()), dict);
    }

    #[test]
    fn query_edge_cases() {
        let args = MultiDict::parse_query("&flag&=v&k=&a=b=c");
        assert_eq!(args.get("flag"), Some(""));
        assert_eq!(args.get(""), Some("v"));
        assert_eq!(args.get("k"), Some(""));
        assert_eq!(args.get("a"), Some("b=c"));
        assert_eq!(args.len(), 4);
    }
}
