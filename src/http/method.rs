//! Request methods (RFC 9110 §9).

use std::fmt;

/// An HTTP request method.
///
/// The nine standard methods are constants; any other token is an extension method.
///
/// ```
/// use carafe::Method;
/// assert_eq!(Method::from_bytes(b"GET"), Some(Method::GET));
/// assert_eq!(Method::from_bytes(b"PURGE").unwrap().as_str(), "PURGE");
/// assert_eq!(Method::from_bytes(b"BAD METHOD"), None);
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Method(Repr);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr {
    Standard(u8),
    Extension(Box<str>),
}

const STANDARD: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

impl Method {
    /// `GET`
    pub const GET: Method = Method(Repr::Standard(0));
    /// `HEAD`
    pub const HEAD: Method = Method(Repr::Standard(1));
    /// `POST`
    pub const POST: Method = Method(Repr::Standard(2));
    /// `PUT`
    pub const PUT: Method = Method(Repr::Standard(3));
    /// `DELETE`
    pub const DELETE: Method = Method(Repr::Standard(4));
    /// `CONNECT`
    pub const CONNECT: Method = Method(Repr::Standard(5));
    /// `OPTIONS`
    pub const OPTIONS: Method = Method(Repr::Standard(6));
    /// `TRACE`
    pub const TRACE: Method = Method(Repr::Standard(7));
    /// `PATCH`
    pub const PATCH: Method = Method(Repr::Standard(8));

    /// The method named by `name`, or `None` if it is not a token (RFC 9110 §5.6.2).
    ///
    /// Method names are case-sensitive: `get` is an extension method, not `GET`.
    // Inlined into the request path, where it is called from more than one place.
    #[inline(always)]
    pub fn from_bytes(name: &[u8]) -> Option<Method> {
        // The standard methods are matched first so that requests never allocate for them.
        let standard = match name {
            b"GET" => Some(0),
            b"HEAD" => Some(1),
            b"POST" => Some(2),
            b"PUT" => Some(3),
            b"DELETE" => Some(4),
            b"CONNECT" => Some(5),
            b"OPTIONS" => Some(6),
            b"TRACE" => Some(7),
            b"PATCH" => Some(8),
            _ => None,
        };
        if let Some(i) = standard {
            return Some(Method(Repr::Standard(i)));
        }
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
            return None;
        }
        let name = std::str::from_utf8(name).ok()?;
        Some(Method(Repr::Extension(name.into())))
    }

    /// The method's name, e.g. `"GET"`.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Standard(i) => STANDARD[*i as usize],
            Repr::Extension(name) => name,
        }
    }

    /// Whether this is one of the nine methods RFC 9110 defines.
    pub fn is_standard(&self) -> bool {
        matches!(self.0, Repr::Standard(_))
    }

    /// A bit for each standard method, so sets of them cost one integer.
    pub(crate) fn bit(&self) -> Option<u16> {
        match self.0 {
            Repr::Standard(i) => Some(1 << i),
            Repr::Extension(_) => None,
        }
    }
}

/// `tchar` from RFC 9110 §5.6.2.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

impl fmt::Debug for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Method {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Method {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// `req.method() == Method::POST`, as Flask code writes `request.method == "POST"`.
impl PartialEq<Method> for &Method {
    fn eq(&self, other: &Method) -> bool {
        **self == *other
    }
}

/// `Method::POST == req.method()`.
impl PartialEq<&Method> for Method {
    fn eq(&self, other: &&Method) -> bool {
        *self == **other
    }
}

/// A set of methods: the standard ones as bits, extensions listed.
#[derive(Clone, Default, Debug)]
pub(crate) struct MethodSet {
    bits: u16,
    extensions: Vec<Method>,
}

impl MethodSet {
    pub(crate) fn insert(&mut self, method: &Method) {
        match method.bit() {
            Some(bit) => self.bits |= bit,
            None if !self.extensions.contains(method) => self.extensions.push(method.clone()),
            None => {}
        }
    }

    pub(crate) fn contains(&self, method: &Method) -> bool {
        match method.bit() {
            Some(bit) => self.bits & bit != 0,
            None => self.extensions.contains(method),
        }
    }

    pub(crate) fn extend(&mut self, other: &MethodSet) {
        self.bits |= other.bits;
        for m in &other.extensions {
            self.insert(m);
        }
    }

    /// The `Allow` header value: standard methods in a fixed order, then extensions.
    pub(crate) fn allow_header(&self) -> String {
        let mut names: Vec<&str> = Vec::new();
        for (i, name) in STANDARD.iter().enumerate() {
            if self.bits & (1 << i) != 0 {
                names.push(name);
            }
        }
        names.extend(self.extensions.iter().map(Method::as_str));
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_methods() {
        assert_eq!(Method::from_bytes(b"DELETE"), Some(Method::DELETE));
        assert!(Method::from_bytes(b"get").is_some_and(|m| !m.is_standard()));
        assert_eq!(Method::from_bytes(b""), None);
        assert_eq!(Method::from_bytes(b"G(T"), None);
    }

    #[test]
    fn sets() {
        let mut set = MethodSet::default();
        set.insert(&Method::POST);
        set.insert(&Method::GET);
        set.insert(&Method::from_bytes(b"PURGE").unwrap());
        assert!(set.contains(&Method::GET));
        assert!(!set.contains(&Method::PUT));
        assert_eq!(set.allow_header(), "GET, POST, PURGE");
    }
}
