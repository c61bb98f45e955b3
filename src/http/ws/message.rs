//! Message assembly (RFC 6455 §5.4, §5.6): the payloads of a message that did not arrive
//! as one whole frame in one read, joined in a buffer the connection owns, inflated on the
//! way in when compressed (RFC 7692 §6.2), and checked as UTF-8 while they arrive.
//!
//! A text message fails (1007) as soon as its bytes so far can no longer be the start of
//! valid UTF-8 (§8.1): a prefix that ends inside a multi-byte sequence is not yet invalid,
//! but one whose sequence has already gone wrong is. The check resumes where the last one
//! stopped, so it costs one pass over the message plus the final whole-message pass that
//! hands out a `&str`.

use crate::http::ws::close::Failure;
#[cfg(feature = "deflate")]
use crate::http::ws::deflate::Inflater;

/// Capacity kept for the next message; a larger buffer is given back after its message.
const KEEP_CAPACITY: usize = 64 * 1024;

/// The kind of data message (RFC 6455 §5.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Text,
    Binary,
}

/// A complete message, borrowed from wherever it was assembled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Message<'a> {
    Text(&'a str),
    Binary(&'a [u8]),
}

/// Checks a whole text message in one pass.
pub(crate) fn text(payload: &[u8]) -> Result<&str, Failure> {
    // Chat-sized messages are mostly ASCII, and under 64 bytes both std's validator and
    // simdutf8's (which falls back to std there) cost about twice `is_ascii`: 9–10 ns
    // against 4–5 ns for 32 bytes here, a quarter of reading the whole frame.
    if payload.is_ascii() {
        // SAFETY: bytes that are all ASCII are valid UTF-8.
        return Ok(unsafe { std::str::from_utf8_unchecked(payload) });
    }
    simdutf8::basic::from_utf8(payload).map_err(|_| Failure::invalid_data("text is not UTF-8"))
}

/// A message in progress, or none.
pub(crate) struct Assembly {
    current: Option<(Kind, bool)>,
    buf: Vec<u8>,
    /// The prefix of `buf` known to be valid UTF-8 and not to end inside a sequence.
    checked: usize,
    #[cfg(feature = "deflate")]
    inflater: Option<Inflater>,
}

impl Assembly {
    /// `inflate_reset`: whether permessage-deflate was negotiated and, if so, whether
    /// the inflater starts over after each message (no client context takeover).
    pub(crate) fn new(inflate_reset: Option<bool>) -> Assembly {
        #[cfg(not(feature = "deflate"))]
        let _ = inflate_reset;
        Assembly {
            current: None,
            buf: Vec::new(),
            checked: 0,
            #[cfg(feature = "deflate")]
            inflater: inflate_reset.map(Inflater::new),
        }
    }

    /// Whether compressed messages (RSV1) can be read.
    #[cfg(feature = "deflate")]
    pub(crate) fn inflates(&self) -> bool {
        self.inflater.is_some()
    }

    #[cfg(not(feature = "deflate"))]
    pub(crate) fn inflates(&self) -> bool {
        false
    }

    /// Whether a message has started and not ended: only continuation frames may follow.
    pub(crate) fn in_progress(&self) -> bool {
        self.current.is_some()
    }

    /// Whether the message in progress is compressed.
    pub(crate) fn compressed(&self) -> bool {
        matches!(self.current, Some((_, true)))
    }

    /// Bytes of the message so far (inflated, if it is compressed).
    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    /// Starts a message; the caller has checked none is in progress and that compression
    /// was negotiated if `compressed`.
    pub(crate) fn begin(&mut self, kind: Kind, compressed: bool) {
        self.current = Some((kind, compressed));
    }

    /// Adds a piece of payload, unmasked. `last`: the piece ends the message, whose
    /// text check [`Assembly::finish`] then makes in one pass.
    pub(crate) fn push(&mut self, data: &[u8], max: usize, last: bool) -> Result<(), Failure> {
        let Some((kind, compressed)) = self.current else {
            return Err(Failure::protocol("continuation frame without a message"));
        };
        if compressed {
            self.inflate(data, max)?;
        } else {
            if self.buf.len() + data.len() > max {
                return Err(Failure::too_big("message over the size limit"));
            }
            self.buf.extend_from_slice(data);
        }
        if kind == Kind::Text && !last {
            self.check_prefix()?;
        }
        Ok(())
    }

    #[cfg(feature = "deflate")]
    fn inflate(&mut self, data: &[u8], max: usize) -> Result<(), Failure> {
        match &mut self.inflater {
            Some(inflater) => inflater.inflate(data, &mut self.buf, max),
            None => Err(Failure::protocol(
                "compressed message without permessage-deflate",
            )),
        }
    }

    #[cfg(not(feature = "deflate"))]
    fn inflate(&mut self, _: &[u8], _: usize) -> Result<(), Failure> {
        Err(Failure::protocol(
            "compressed message without permessage-deflate",
        ))
    }

    /// Fails if the text so far can no longer become valid UTF-8.
    fn check_prefix(&mut self) -> Result<(), Failure> {
        match simdutf8::compat::from_utf8(&self.buf[self.checked..]) {
            Ok(_) => self.checked = self.buf.len(),
            // Ends inside a sequence that may still complete: check it again next time.
            Err(e) if e.error_len().is_none() => self.checked += e.valid_up_to(),
            Err(_) => return Err(Failure::invalid_data("text is not UTF-8")),
        }
        Ok(())
    }

    /// Ends the message: the rest of the inflation, the whole-text check, and the message.
    /// Call [`Assembly::clear`] once it has been handed on.
    pub(crate) fn finish(&mut self, max: usize) -> Result<Message<'_>, Failure> {
        let Some((kind, compressed)) = self.current else {
            return Err(Failure::protocol("continuation frame without a message"));
        };
        if compressed {
            self.finish_inflate(max)?;
        }
        Ok(match kind {
            Kind::Text => Message::Text(text(&self.buf)?),
            Kind::Binary => Message::Binary(&self.buf),
        })
    }

    #[cfg(feature = "deflate")]
    fn finish_inflate(&mut self, max: usize) -> Result<(), Failure> {
        match &mut self.inflater {
            Some(inflater) => inflater.finish(&mut self.buf, max),
            None => Err(Failure::protocol(
                "compressed message without permessage-deflate",
            )),
        }
    }

    #[cfg(not(feature = "deflate"))]
    fn finish_inflate(&mut self, _: usize) -> Result<(), Failure> {
        Err(Failure::protocol(
            "compressed message without permessage-deflate",
        ))
    }

    /// Forgets the message, keeping a modest buffer for the next.
    pub(crate) fn clear(&mut self) {
        self.current = None;
        self.checked = 0;
        self.buf.clear();
        if self.buf.capacity() > KEEP_CAPACITY {
            self.buf.shrink_to(KEEP_CAPACITY);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::ws::close::{INVALID_DATA, TOO_BIG};

    fn text_in_pieces(pieces: &[&[u8]]) -> Result<String, (usize, Failure)> {
        let mut assembly = Assembly::new(None);
        assembly.begin(Kind::Text, false);
        for (i, piece) in pieces.iter().enumerate() {
            let last = i + 1 == pieces.len();
            assembly.push(piece, 1 << 20, last).map_err(|e| (i, e))?;
        }
        match assembly.finish(1 << 20) {
            Ok(Message::Text(text)) => Ok(text.to_owned()),
            Ok(Message::Binary(_)) => unreachable!(),
            Err(e) => Err((pieces.len(), e)),
        }
    }

    #[test]
    fn joins_pieces() {
        assert_eq!(
            text_in_pieces(&[b"Hel", b"lo, ", b"world"]).unwrap(),
            "Hello, world"
        );
        // "é" and "𝄞" cut inside their sequences are not yet wrong.
        assert_eq!(text_in_pieces(&[b"caf\xc3", b"\xa9"]).unwrap(), "café");
        assert_eq!(
            text_in_pieces(&[b"\xf0", b"\x9d", b"\x84", b"\x9e!"]).unwrap(),
            "𝄞!"
        );
        assert_eq!(text_in_pieces(&[b"", b"", b"ok"]).unwrap(), "ok");
    }

    #[test]
    fn fails_as_soon_as_the_prefix_is_invalid() {
        // RFC 6455 §8.1 and Autobahn 6.4: the piece that makes the text invalid fails,
        // not the end of the message. (index of the failing piece, pieces)
        let cases: &[(usize, &[&[u8]])] = &[
            (0, &[b"\xff", b"rest"]),
            (1, &[b"ok", b"\xc0\xaf", b"rest"]),
            // U+110000 as a four-byte sequence: out of range from its second byte.
            (
                1,
                &[
                    b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5",
                    b"\xf4\x90\x80\x80",
                    b"edited",
                ],
            ),
            // A lead byte then an ASCII byte.
            (1, &[b"\xe2", b"\x82a", b"b"]),
            // A surrogate (U+D800) is invalid from its second byte.
            (1, &[b"a", b"\xed\xa0", b"\x80"]),
            // Valid prefixes until the end, where a sequence is left open.
            (3, &[b"a", b"\xe2\x82", b""]),
        ];
        for (at, pieces) in cases {
            let (i, failure) = text_in_pieces(pieces).unwrap_err();
            assert_eq!((i, failure.code), (*at, INVALID_DATA), "{pieces:?}");
        }
    }

    #[test]
    fn binary_is_not_checked_and_limits_hold() {
        let mut assembly = Assembly::new(None);
        assembly.begin(Kind::Binary, false);
        assembly.push(b"\xff\xfe", 4, false).unwrap();
        assert_eq!(assembly.len(), 2);
        assert_eq!(assembly.push(b"abc", 4, true).unwrap_err().code, TOO_BIG);
        assembly.clear();
        assert!(!assembly.in_progress());
        assembly.begin(Kind::Binary, false);
        assembly.push(b"\xff\xfe\x00\x01", 4, true).unwrap();
        assert_eq!(assembly.finish(4), Ok(Message::Binary(b"\xff\xfe\x00\x01")));
    }

    #[test]
    fn compressed_needs_the_extension() {
        let mut assembly = Assembly::new(None);
        assert!(!assembly.inflates());
        assembly.begin(Kind::Text, true);
        assert_eq!(
            assembly.push(b"\xf2\x48", 100, false).unwrap_err().code,
            1002
        );
    }

    #[test]
    fn gives_back_a_large_buffer() {
        let mut assembly = Assembly::new(None);
        assembly.begin(Kind::Binary, false);
        assembly.push(&vec![0; 1 << 20], 1 << 20, true).unwrap();
        assembly.clear();
        assert!(assembly.buf.capacity() <= KEEP_CAPACITY);
    }

    #[cfg(feature = "deflate")]
    #[test]
    fn inflates_text_and_checks_it() {
        use crate::http::ws::deflate::Deflater;
        let mut deflater = Deflater::new(6, false);
        let mut assembly = Assembly::new(Some(false));
        assert!(assembly.inflates());
        for message in ["héllo wörld ".repeat(50), String::new()] {
            let compressed = deflater.compress(message.as_bytes()).unwrap().to_vec();
            assembly.begin(Kind::Text, true);
            let (a, b) = compressed.split_at(compressed.len() / 2);
            assembly.push(a, 1 << 20, false).unwrap();
            assembly.push(b, 1 << 20, true).unwrap();
            assert_eq!(assembly.finish(1 << 20), Ok(Message::Text(&message)));
            assembly.clear();
        }
        let compressed = deflater.compress(b"\xff not text").unwrap().to_vec();
        assembly.begin(Kind::Text, true);
        assert_eq!(
            assembly.push(&compressed, 100, false).unwrap_err().code,
            INVALID_DATA
        );
    }
}
