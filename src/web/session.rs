//! Signed-cookie sessions, like Flask's `session`: the data lives in the client's cookie,
//! JSON-encoded and signed with HMAC-SHA256 under the app's secret key, so the client
//! can read it but not change it.
//!
//! Cookie value: `base64url(json) "." base64url(issued-at) "." base64url(hmac)`, where
//! the HMAC covers the first two parts with a key derived from the secret key. A cookie
//! that is tampered with, signed with another key, malformed or older than
//! `permanent_session_lifetime` is simply an empty session.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::config::Config;
use crate::http::response::Response;
use crate::web::app::App;
use crate::web::cookie::Cookie;
use crate::web::request::Request;

type HmacSha256 = Hmac<Sha256>;

/// Separates the signing key of sessions from any other use of the secret key.
const SALT: &[u8] = b"carafe.session";
/// The key under which Flask keeps the permanent flag.
const PERMANENT: &str = "_permanent";
/// The key under which flashed messages wait for the next request.
const FLASHES: &str = "_flashes";

/// The session of one request (Flask's `session`), from [`Request::session`].
///
/// A handle, not a borrow: each call reaches the session for its own length only, so
/// any number of handles may be held at once, across [`Request::flash`] and
/// [`Request::get_flashed_messages`] too, and none of them can conflict.
///
/// ```
/// use carafe::{App, Request};
///
/// let mut app = App::new();
/// app.secret_key("dev only");
/// app.get("/count", |req: &Request| {
///     let mut session = req.session();
///     let visits = session.get::<u64>("visits").unwrap_or(0) + 1;
///     session.insert("visits", visits);
///     req.flash("counted"); // while `session` is held
///     visits.to_string()
/// });
/// let client = app.test_client();
/// assert_eq!(client.get("/count").send().text(), "1");
/// assert_eq!(client.get("/count").send().text(), "2"); // the cookie came back
/// ```
pub struct Session<'r> {
    /// Loaded before the handle is made (see `Request::session`).
    slot: &'r RefCell<Option<SessionData>>,
}

/// What the session holds, loaded from the cookie on first use.
#[derive(Debug, Default)]
struct SessionData {
    data: Map<String, Value>,
    modified: bool,
    /// Whether a secret key was configured: without one nothing can be stored.
    signing: bool,
    /// Whether the request carried a session cookie (so clearing must delete it).
    had_cookie: bool,
}

impl Session<'_> {
    /// The value under `key`, deserialised; `None` if absent or of another shape.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        // Cloned out first: a `Deserialize` impl runs with the session free.
        let value = self.read(|s| s.data.get(key).cloned())?;
        T::deserialize(value).ok()
    }

    /// Stores `value` under `key`.
    ///
    /// # Panics
    ///
    /// If the app has no secret key, as Flask raises "the session is unavailable because
    /// no secret key was set": the request ends in a 500 whose cause, naming
    /// `secret_key`, is reported once (to the logger, or on stderr without one). Reading
    /// still works without a key; the session is then empty. [`App::sessions`] turns
    /// the missing key into a start-up error instead. Also panics if `value` cannot be
    /// represented as JSON (a map with non-string keys).
    #[track_caller]
    pub fn insert(&mut self, key: impl Into<String>, value: impl Serialize) {
        require_signing(self.read(|s| s.signing));
        // Serialised first: a `Serialize` impl runs with the session free.
        let value =
            serde_json::to_value(value).expect("session values must be representable as JSON");
        self.write(|session| {
            session.data.insert(key.into(), value);
            session.modified = true;
        });
    }

    /// Removes and returns the value under `key`.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.write(|session| {
            let removed = session.data.remove(key);
            session.modified |= removed.is_some();
            removed
        })
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.read(|s| s.data.contains_key(key))
    }

    /// Removes everything; the cookie is deleted.
    pub fn clear(&mut self) {
        self.write(|session| {
            session.modified |= !session.data.is_empty();
            session.data.clear();
        });
    }

    /// Whether the session holds nothing.
    pub fn is_empty(&self) -> bool {
        self.read(|s| s.data.is_empty())
    }

    /// The keys, in order (copied: the session stays free while they are used).
    pub fn keys(&self) -> impl Iterator<Item = String> {
        let keys: Vec<String> = self.read(|s| s.data.keys().cloned().collect());
        keys.into_iter()
    }

    /// Whether the cookie outlives the browser session (for
    /// `permanent_session_lifetime`), as Flask's `session.permanent`.
    pub fn permanent(&self) -> bool {
        self.get(PERMANENT).unwrap_or(false)
    }

    /// Makes the cookie outlive the browser session, or not.
    #[track_caller]
    pub fn set_permanent(&mut self, permanent: bool) {
        if permanent {
            self.insert(PERMANENT, true);
        } else {
            self.remove(PERMANENT);
        }
    }
}

impl Session<'_> {
    /// Runs `f` on the session; no user code runs inside, so no two borrows can meet.
    fn read<R>(&self, f: impl FnOnce(&SessionData) -> R) -> R {
        match &*self.slot.borrow() {
            Some(session) => f(session),
            None => f(&SessionData::default()), // not reached: loaded before the handle
        }
    }

    /// Like `read`, for changes.
    fn write<R>(&self, f: impl FnOnce(&mut SessionData) -> R) -> R {
        f(self
            .slot
            .borrow_mut()
            .get_or_insert_with(SessionData::default))
    }
}

impl std::fmt::Debug for Session<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.read(|s| std::fmt::Debug::fmt(&s.data, f))
    }
}

/// Without a secret key nothing can be stored: the request ends in a 500 whose cause
/// says how to set one, reported once and located at the view's call.
#[track_caller]
fn require_signing(signing: bool) {
    if !signing {
        crate::web::fault::fail(NO_SECRET_KEY.to_owned());
    }
}

/// The cause of a 500 from a session change without a secret key.
const NO_SECRET_KEY: &str = "the session is unavailable because no secret key was set: set \
     Config::secret_key to a long random value (app.secret_key(...), or CARAFE_SECRET_KEY \
     through Config::from_env or App::run_from_env); App::sessions() makes bind refuse to \
     start without one";

impl App {
    /// Declares that the app keeps sessions, so [`App::bind`] refuses to start without a
    /// usable [`secret_key`](App::secret_key) instead of each request failing later.
    ///
    /// Whether a view or hook touches the session cannot be seen before it runs; this
    /// says so up front. Without it, a keyless app starts, reads empty sessions, and
    /// each change to one is a 500 whose reported cause names `secret_key`, as Flask
    /// fails at first use. `bind` also refuses an empty secret key and a
    /// `session_cookie_name` a cookie cannot carry, declared or not.
    ///
    /// ```
    /// use carafe::App;
    /// let mut app = App::new();
    /// app.sessions();
    /// let err = app.bind("127.0.0.1:0").err().unwrap();
    /// assert!(err.to_string().contains("secret_key"));
    /// ```
    pub fn sessions(&mut self) -> &mut App {
        self.keeps_sessions = true;
        self
    }

    /// The start-up check of the session settings (see [`App::sessions`]).
    pub(crate) fn check_sessions(&self) -> Result<(), String> {
        let config = self.config();
        let name = &config.session_cookie_name;
        if name.is_empty() || !name.bytes().all(crate::http::method::is_tchar) {
            return Err(format!(
                "session_cookie_name {name:?} is not a valid cookie name (a token: letters, \
                 digits, !#$%&'*+-.^_`|~)"
            ));
        }
        match config.secret_key.as_deref() {
            Some(key) if key.trim().is_empty() => Err(
                "secret_key is empty: set it to a long random value (app.secret_key(...) or \
                 CARAFE_SECRET_KEY with Config::from_env)"
                    .to_owned(),
            ),
            None if self.keeps_sessions => Err(
                "the app keeps sessions (App::sessions) but no secret_key is set: set it to a \
                 long random value (app.secret_key(...) or CARAFE_SECRET_KEY with \
                 Config::from_env)"
                    .to_owned(),
            ),
            _ => Ok(()),
        }
    }
}

/// The per-request slot the session is loaded into on first use.
#[derive(Debug, Default)]
pub(crate) struct SessionSlot {
    /// A `RefCell<Option<_>>` rather than a `OnceCell<RefCell<_>>`: the same, in 8 bytes
    /// less of every request (an `UnsafeCell` hides the niche an `Option` would use).
    session: RefCell<Option<SessionData>>,
}

impl<'a> Request<'a> {
    /// The session, loaded from its cookie the first time it is asked for (requests
    /// that never ask pay nothing). Changes are sent back as a signed cookie.
    pub fn session(&self) -> Session<'_> {
        let slot = &self.session.session;
        if slot.borrow().is_none() {
            let loaded = self.load_session();
            *slot.borrow_mut() = Some(loaded);
        }
        Session { slot }
    }

    fn load_session(&self) -> SessionData {
        let config = self.app().config();
        let Some(secret) = config.secret_key.as_deref() else {
            return SessionData::default();
        };
        let cookie = self.cookie(&config.session_cookie_name);
        SessionData {
            data: cookie
                .and_then(|value| unsign(secret.as_bytes(), value, config))
                .unwrap_or_default(),
            modified: false,
            signing: true,
            had_cookie: cookie.is_some(),
        }
    }

    /// Adds a message for the next request to show (Flask's `flash`).
    ///
    /// Without a secret key this ends the request in a 500 naming `secret_key`, as
    /// [`Session::insert`] does.
    #[track_caller]
    pub fn flash(&self, message: impl Into<String>) {
        self.flash_with("message", message);
    }

    /// Adds a message with a category (`"error"`, `"info"`, ...).
    #[track_caller]
    pub fn flash_with(&self, category: &str, message: impl Into<String>) {
        let mut session = self.session();
        let mut flashes: Vec<(String, String)> = session.get(FLASHES).unwrap_or_default();
        flashes.push((category.to_owned(), message.into()));
        session.insert(FLASHES, flashes);
    }

    /// Takes the flashed messages as (category, message), removing them from the
    /// session (Flask's `get_flashed_messages(with_categories=True)`).
    pub fn get_flashed_messages(&self) -> Vec<(String, String)> {
        let mut session = self.session();
        if !session.contains_key(FLASHES) {
            return Vec::new();
        }
        let flashes = session.get(FLASHES).unwrap_or_default();
        session.remove(FLASHES);
        flashes
    }

    /// After the dispatch chain: send the session back if it changed.
    #[inline(always)]
    pub(crate) fn save_session(&mut self, resp: &mut Response) {
        let Some(session) = self.session.session.get_mut().as_mut() else {
            return; // never looked at
        };
        // The response depends on the cookie: caches must not share it across users.
        resp.append_header("Vary", "Cookie");
        if !session.modified {
            return;
        }
        let config = self.app.config();
        let name = config.session_cookie_name.clone();
        if session.data.is_empty() {
            if session.had_cookie {
                report_cookie_error(resp.delete_cookie(&name));
            }
            return;
        }
        let Some(secret) = config.secret_key.as_deref() else {
            return; // unreachable: inserting without a key panics first
        };
        let value = sign(secret.as_bytes(), &session.data, now());
        let mut cookie = Cookie::new(name, value)
            .http_only(true)
            .same_site(crate::web::cookie::SameSite::Lax)
            .secure(config.session_cookie_secure);
        if session.data.get(PERMANENT) == Some(&Value::Bool(true)) {
            cookie = cookie.max_age(config.permanent_session_lifetime);
        }
        report_cookie_error(resp.set_cookie(cookie));
    }
}

/// A session cookie the header cannot carry (a misconfigured `session_cookie_name`).
fn report_cookie_error(result: Result<(), crate::web::cookie::CookieError>) {
    if let Err(e) = result {
        crate::web::fault::report_plain(format_args!("the session cookie was not sent: {e}"));
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn mac(secret: &[u8]) -> HmacSha256 {
    // Derive the signing key, so the secret key itself never signs client-visible data.
    let mut derive = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    derive.update(SALT);
    let key = derive.finalize().into_bytes();
    HmacSha256::new_from_slice(&key).expect("HMAC takes keys of any length")
}

/// Encodes and signs session data issued at `issued` (seconds since the epoch).
pub(crate) fn sign(secret: &[u8], data: &Map<String, Value>, issued: u64) -> String {
    let payload = serde_json::to_vec(data).expect("a JSON map always serialises");
    let mut value = base64url_encode(&payload);
    value.push('.');
    value.push_str(&base64url_encode(&issued.to_be_bytes()));
    let mut mac = mac(secret);
    mac.update(value.as_bytes());
    let tag = mac.finalize().into_bytes();
    value.push('.');
    value.push_str(&base64url_encode(&tag));
    value
}

/// Verifies and decodes a session cookie; `None` for anything not signed by `secret`,
/// malformed, or too old.
pub(crate) fn unsign(secret: &[u8], value: &str, config: &Config) -> Option<Map<String, Value>> {
    let (signed, tag) = value.rsplit_once('.')?;
    let tag = base64url_decode(tag)?;
    let mut mac = mac(secret);
    mac.update(signed.as_bytes());
    // Constant-time comparison, so timing reveals nothing about the right tag.
    mac.verify_slice(&tag).ok()?;
    let (payload, issued) = signed.split_once('.')?;
    let issued = u64::from_be_bytes(base64url_decode(issued)?.try_into().ok()?);
    let age = now().checked_sub(issued)?;
    if age > config.permanent_session_lifetime.as_secs() {
        return None;
    }
    serde_json::from_slice(&base64url_decode(payload)?).ok()
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64 with the URL-safe alphabet and no padding (RFC 4648 §5): cookie-safe.
pub(crate) fn base64url_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// The inverse of [`base64url_encode`]; `None` for any character or length it never makes.
pub(crate) fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for chunk in text.as_bytes().chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            let v = ALPHABET.iter().position(|&a| a == c)? as u32;
            n |= v << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        let produced = chunk.len() - 1;
        // Bits beyond the last whole byte must be zero, or two texts would decode alike.
        let spare = bytes[1 + produced..].iter().any(|&b| b != 0);
        if spare && produced < 3 {
            return None;
        }
        out.extend_from_slice(&bytes[1..1 + produced]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trips() {
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let text = base64url_encode(&bytes);
            assert!(!text.contains(['+', '/', '=']));
            assert_eq!(base64url_decode(&text), Some(bytes), "{text}");
        }
        assert_eq!(base64url_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64url_encode(b"fo"), "Zm8");
        assert_eq!(base64url_decode("Zm9"), None); // non-zero spare bits
        assert_eq!(base64url_decode("Z"), None);
        assert_eq!(base64url_decode("Zm+v"), None);
    }

    #[test]
    fn hmac_sha256_known_answer() {
        // RFC 4231 test case 2.
        let mut mac = HmacSha256::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        let tag = mac.finalize().into_bytes();
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    fn data() -> Map<String, Value> {
        let mut map = Map::new();
        map.insert("user".into(), Value::from("ada"));
        map
    }

    #[test]
    fn sign_and_unsign() {
        let config = Config::default();
        let value = sign(b"key", &data(), now());
        assert_eq!(unsign(b"key", &value, &config), Some(data()));
        assert_eq!(unsign(b"other key", &value, &config), None);
    }

    #[test]
    fn tampering_is_detected() {
        let config = Config::default();
        let value = sign(b"key", &data(), now());
        let (payload, rest) = value.split_once('.').unwrap();
        let mut forged = data();
        forged.insert("admin".into(), Value::Bool(true));
        let forged_payload = base64url_encode(&serde_json::to_vec(&forged).unwrap());
        assert_eq!(
            unsign(b"key", &format!("{forged_payload}.{rest}"), &config),
            None
        );
        let mut flipped = value.clone().into_bytes();
        let last = flipped.len() - 2;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            unsign(b"key", std::str::from_utf8(&flipped).unwrap(), &config),
            None
        );
        for bad in ["", ".", "..", "a.b.c", &value[..value.len() - 5], payload] {
            assert_eq!(unsign(b"key", bad, &config), None, "{bad:?}");
        }
    }

    #[test]
    fn old_cookies_expire() {
        let config = Config::default();
        let old = now() - config.permanent_session_lifetime.as_secs() - 10;
        assert_eq!(unsign(b"key", &sign(b"key", &data(), old), &config), None);
        let future = now() + 3600;
        assert_eq!(
            unsign(b"key", &sign(b"key", &data(), future), &config),
            None
        );
    }
}
