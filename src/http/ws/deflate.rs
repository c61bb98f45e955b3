//! permessage-deflate (RFC 7692 §7): one raw DEFLATE stream per direction, each message
//! ending on a sync flush whose empty stored block (`00 00 ff ff`) is left off the wire.
//!
//! flate2's pure-Rust backend (miniz_oxide) always uses a 32 KiB window. That is enough to
//! inflate whatever window the client picks (a smaller window only limits back-reference
//! distances), but it cannot promise a client a smaller window for what we send, so the
//! handshake accepts `server_max_window_bits` only when it is 15 (see `extension.rs`).

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::http::ws::close::Failure;

/// The empty stored block a sync flush ends with (RFC 7692 §7.2.1): the sender removes
/// it, the receiver appends it back before inflating (§7.2.2).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Output room given to the first inflate step, as a multiple of the compressed input.
/// Text usually compresses 3–10 times; later steps double.
const FIRST_STEP_RATIO: usize = 4;
const MIN_STEP: usize = 256;
const MAX_STEP: usize = 256 * 1024;

/// The receiving side: inflates the client's messages.
///
/// The DEFLATE state (a 32 KiB window and tables, about 45 KiB) is made on the first
/// compressed message, so a connection that never sends one never pays for it.
pub(crate) struct Inflater {
    inner: Option<Decompress>,
    /// `client_no_context_takeover`: each message is a fresh stream, so the window can be
    /// dropped between messages.
    reset_after_message: bool,
    /// The client ended its stream with a final block: anything after it in the message
    /// is ignored, and the next message starts a new stream.
    ended: bool,
}

impl Inflater {
    pub(crate) fn new(no_context_takeover: bool) -> Inflater {
        Inflater {
            inner: None,
            reset_after_message: no_context_takeover,
            ended: false,
        }
    }

    /// Inflates a piece of a compressed message onto `out`; fails with 1009 as soon as
    /// `out` would pass `max` bytes, so a small bomb never becomes a large buffer, and
    /// with 1007 on data that is not DEFLATE.
    pub(crate) fn inflate(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        max: usize,
    ) -> Result<(), Failure> {
        let inner = self.inner.get_or_insert_with(|| Decompress::new(false));
        let mut input = input;
        let mut step = (input.len() * FIRST_STEP_RATIO).clamp(MIN_STEP, MAX_STEP);
        while !self.ended {
            let len = out.len();
            // One byte of room past the limit tells "exactly max" from "more than max".
            let room = step.min(max.saturating_add(1).saturating_sub(len));
            if room == 0 {
                return Err(Failure::too_big("message over the size limit"));
            }
            out.resize(len + room, 0);
            let (in_before, out_before) = (inner.total_in(), inner.total_out());
            let status = inner.decompress(input, &mut out[len..], FlushDecompress::Sync);
            let used = (inner.total_in() - in_before) as usize;
            let produced = (inner.total_out() - out_before) as usize;
            out.truncate(len + produced);
            let status = status.map_err(|_| Failure::invalid_data("invalid compressed data"))?;
            if out.len() > max {
                return Err(Failure::too_big("message over the size limit"));
            }
            input = input.get(used..).unwrap_or_default();
            if status == Status::StreamEnd {
                self.ended = true;
            } else if used == 0 && produced == 0 {
                // miniz_oxide may hold output back even with room to spare, so only a
                // step that does nothing at all says this input is exhausted.
                break;
            } else if produced == room {
                step = (step * 2).min(MAX_STEP);
            }
        }
        Ok(())
    }

    /// Ends a message: inflates the tail the sender removed, then starts over if either
    /// side asked for no context takeover or the client ended its stream.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>, max: usize) -> Result<(), Failure> {
        self.inflate(&TAIL, out, max)?;
        if self.reset_after_message || self.ended {
            if let Some(inner) = &mut self.inner {
                inner.reset(false);
            }
            self.ended = false;
        }
        Ok(())
    }
}

/// The sending side: compresses the server's messages.
///
/// As for the inflater, the DEFLATE state (about 300 KiB with miniz_oxide's hash chains)
/// is made for the first message compressed.
pub(crate) struct Deflater {
    inner: Option<Compress>,
    level: u32,
    /// `server_no_context_takeover`: every message starts from an empty window.
    reset_after_message: bool,
    /// The compressed message, reused across messages.
    scratch: Vec<u8>,
}

impl Deflater {
    pub(crate) fn new(level: u32, no_context_takeover: bool) -> Deflater {
        Deflater {
            inner: None,
            level: level.min(9),
            reset_after_message: no_context_takeover,
            scratch: Vec::new(),
        }
    }

    /// Compresses one whole message; `None` if the compressor failed, and the message is
    /// then sent uncompressed (RSV1 is per message, RFC 7692 §6).
    pub(crate) fn compress(&mut self, input: &[u8]) -> Option<&[u8]> {
        let level = Compression::new(self.level);
        let inner = self
            .inner
            .get_or_insert_with(|| Compress::new(level, false));
        self.scratch.clear();
        let mut rest = input;
        loop {
            // A sync flush is done once a call returns with output room to spare.
            self.scratch.reserve(rest.len() / 2 + 64);
            let before = inner.total_in();
            if inner
                .compress_vec(rest, &mut self.scratch, FlushCompress::Sync)
                .is_err()
            {
                inner.reset();
                return None;
            }
            rest = rest
                .get((inner.total_in() - before) as usize..)
                .unwrap_or_default();
            if rest.is_empty() && self.scratch.len() < self.scratch.capacity() {
                break;
            }
        }
        if self.reset_after_message {
            inner.reset();
        }
        let body = self.scratch.strip_suffix(&TAIL).unwrap_or(&self.scratch);
        Some(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(deflater: &mut Deflater, inflater: &mut Inflater, message: &[u8]) {
        let compressed = deflater.compress(message).unwrap().to_vec();
        assert!(!compressed.ends_with(&TAIL), "§7.2.1 the tail is removed");
        let mut out = Vec::new();
        inflater.inflate(&compressed, &mut out, usize::MAX).unwrap();
        inflater.finish(&mut out, usize::MAX).unwrap();
        assert_eq!(out, message);
    }

    fn text(n: usize) -> Vec<u8> {
        (0..n).map(|i| b"the quick brown fox "[i % 20]).collect()
    }

    #[test]
    fn round_trips_with_and_without_context_takeover() {
        for takeover in [false, true] {
            let mut deflater = Deflater::new(6, !takeover);
            let mut inflater = Inflater::new(!takeover);
            for message in [text(0), text(1), text(300), text(100_000), text(300)] {
                round_trip(&mut deflater, &mut inflater, &message);
            }
        }
    }

    #[test]
    fn context_takeover_shrinks_repeats() {
        let mut keep = Deflater::new(6, false);
        let mut reset = Deflater::new(6, true);
        let message = b"{\"type\":\"update\",\"id\":12345,\"name\":\"sensor\"}";
        keep.compress(message);
        reset.compress(message);
        let again = keep.compress(message).unwrap().len();
        assert!(again < reset.compress(message).unwrap().len());
    }

    #[test]
    fn inflates_the_rfc_examples() {
        // RFC 7692 §7.2.3.1: "Hello" compressed, then the same with a shared window.
        let mut inflater = Inflater::new(false);
        let mut out = Vec::new();
        inflater
            .inflate(b"\xf2\x48\xcd\xc9\xc9\x07\x00", &mut out, 100)
            .unwrap();
        inflater.finish(&mut out, 100).unwrap();
        assert_eq!(out, b"Hello");
        out.clear();
        inflater
            .inflate(b"\xf2\x00\x11\x00\x00", &mut out, 100)
            .unwrap();
        inflater.finish(&mut out, 100).unwrap();
        assert_eq!(
            out, b"Hello",
            "§7.2.3.2 a back-reference into the previous message"
        );
        // §7.2.3.3: a stored (uncompressed) block; §7.2.3.5: the final-block variant.
        for compressed in [
            &b"\x00\x05\x00\xfa\xffHello\x00"[..],
            &b"\xf3\x48\xcd\xc9\xc9\x07\x00\x00"[..],
        ] {
            let mut out = Vec::new();
            inflater.inflate(compressed, &mut out, 100).unwrap();
            inflater.finish(&mut out, 100).unwrap();
            assert_eq!(out, b"Hello");
        }
        // §7.2.3.6: an empty message compressed as one byte.
        let mut out = Vec::new();
        inflater.inflate(b"\x00", &mut out, 100).unwrap();
        inflater.finish(&mut out, 100).unwrap();
        assert_eq!(out, b"");
    }

    #[test]
    fn inflates_in_any_pieces() {
        let message = text(5000);
        let compressed = Deflater::new(9, true).compress(&message).unwrap().to_vec();
        for split in 0..=compressed.len() {
            let mut inflater = Inflater::new(true);
            let mut out = Vec::new();
            inflater
                .inflate(&compressed[..split], &mut out, 5000)
                .unwrap();
            inflater
                .inflate(&compressed[split..], &mut out, 5000)
                .unwrap();
            inflater.finish(&mut out, 5000).unwrap();
            assert_eq!(out, message, "split at {split}");
        }
    }

    #[test]
    fn stops_a_bomb_at_the_limit() {
        // 10 MiB of zeros compress to about 10 KiB; with a 1 MiB limit inflating must
        // stop just past the limit, not allocate the whole.
        let compressed = Deflater::new(9, true)
            .compress(&vec![0; 10 << 20])
            .unwrap()
            .to_vec();
        assert!(compressed.len() < 20_000);
        let mut out = Vec::new();
        let error = Inflater::new(true)
            .inflate(&compressed, &mut out, 1 << 20)
            .unwrap_err();
        assert_eq!(error.code, crate::http::ws::close::TOO_BIG);
        assert!(out.len() <= (1 << 20) + 1);
        assert!(out.capacity() <= 2 << 20, "{}", out.capacity());
        // Exactly at the limit is allowed.
        let compressed = Deflater::new(9, true)
            .compress(&[7; 1000])
            .unwrap()
            .to_vec();
        let mut out = Vec::new();
        let mut inflater = Inflater::new(true);
        inflater.inflate(&compressed, &mut out, 1000).unwrap();
        inflater.finish(&mut out, 1000).unwrap();
        assert_eq!(out.len(), 1000);
    }

    #[test]
    fn refuses_garbage() {
        let mut out = Vec::new();
        // Block type 3 is invalid in DEFLATE (RFC 1951 §3.2.3).
        let error = Inflater::new(false)
            .inflate(b"\xff\xff\xff", &mut out, 100)
            .unwrap_err();
        assert_eq!(error.code, crate::http::ws::close::INVALID_DATA);
    }
}
