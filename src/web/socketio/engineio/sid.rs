//! Session ids: 20 URL-safe characters from the operating system's random source.
//!
//! A sid is a bearer credential: over long-polling, whoever knows it can read and write
//! as that session (engine.io-protocol README, "Handshake": the client sends it in the
//! query of every later request). It must therefore be unguessable, which is why it
//! comes from `getrandom` (the kernel's CSPRNG) and not from std's `RandomState`: that
//! one seeds SipHash keys from the OS once per thread and then only increments them,
//! makes no cryptographic promise, and yields 64 bits at most. 15 random bytes give 120
//! bits, which encode to exactly 20 base64 characters without padding, the length
//! engine.io's `base64id` produces. Unlike `base64id`, no sequence number is mixed in:
//! with 120 random bits a collision is not a concern (the session table still refuses a
//! duplicate). `-` and `_` replace `+` and `/`, as in `base64id`, so the sid needs no
//! escaping in a URL or a cookie.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The length of a sid in characters.
pub(crate) const SID_LEN: usize = 20;

/// An Engine.IO (or Socket.IO) session id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Sid([u8; SID_LEN]);

impl Sid {
    /// A fresh random sid; fails only when the OS has no random source to give.
    pub(crate) fn generate() -> Result<Sid, getrandom::Error> {
        let mut random = [0u8; SID_LEN / 4 * 3];
        getrandom::fill(&mut random)?;
        let mut sid = [0u8; SID_LEN];
        // 15 bytes encode to exactly 20 characters, so the buffer always fits.
        let _ = URL_SAFE_NO_PAD.encode_slice(random, &mut sid);
        Ok(Sid(sid))
    }

    /// The sid of a request's `sid` query parameter, if it has the form of one. Only the
    /// form is checked; whether the session exists is the session table's business.
    pub(crate) fn parse(text: &str) -> Option<Sid> {
        let bytes: [u8; SID_LEN] = text.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            .then_some(Sid(bytes))
    }

    /// The sid as text.
    pub(crate) fn as_str(&self) -> &str {
        // Only URL-safe base64 characters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sid({})", self.as_str())
    }
}

impl serde::Serialize for Sid {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn generated_sids_have_the_form_and_differ() {
        let mut seen = HashSet::new();
        for _ in 0..1000 {
            let sid = Sid::generate().unwrap();
            assert_eq!(sid.as_str().len(), SID_LEN);
            assert_eq!(Sid::parse(sid.as_str()), Some(sid));
            assert!(seen.insert(sid));
        }
        // Every character of the alphabet turns up: the bits are spread, not clustered.
        let chars: HashSet<char> = seen.iter().flat_map(|s| s.as_str().chars()).collect();
        assert_eq!(chars.len(), 64);
    }

    #[test]
    fn parse_checks_the_form_only() {
        // The engine.io-protocol README's example sid.
        let sid = Sid::parse("lv_VI97HAXpY6yYWAAAC").unwrap();
        assert_eq!(sid.to_string(), "lv_VI97HAXpY6yYWAAAC");
        assert_eq!(format!("{sid:?}"), "Sid(lv_VI97HAXpY6yYWAAAC)");
        assert_eq!(
            serde_json::to_string(&sid).unwrap(),
            "\"lv_VI97HAXpY6yYWAAAC\""
        );
        for bad in [
            "",
            "lv_VI97HAXpY6yYWAAA",
            "lv_VI97HAXpY6yYWAAACx",
            "lv+VI97HAXpY6yYWAAAC",
            "lv/VI97HAXpY6yYWAAAC",
            "lv_VI97HAXpY6yYWAAA=",
            "lv_VI97HAXpY6yYWA€",
        ] {
            assert_eq!(Sid::parse(bad), None, "{bad}");
        }
    }
}
