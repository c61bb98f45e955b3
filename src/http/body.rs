//! The chunked transfer coding (RFC 9112 §7.1), decoded in place.
//!
//! Decoded data is never longer than its encoding, so the decoder compacts the body
//! inside the read buffer: data bytes move left over the framing they were wrapped in.
//! A request's body therefore ends up contiguous right after its head with no second
//! buffer and no allocation, and any split of the input across reads is resumed exactly.

/// Why a chunked body was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChunkError {
    /// Bad framing → 400, and the connection can no longer be trusted.
    Invalid(&'static str),
    /// More decoded data than the body limit → 413.
    TooLarge,
}

/// Longest chunk extension or trailer section we skip over; beyond it the peer is abusive.
const MAX_EXTENSION_BYTES: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Reading the hex digits of a chunk size.
    Size,
    /// After the size: optional whitespace and `;name=value` extensions, up to CR.
    Extension,
    /// Expecting the LF of the size line.
    SizeLf,
    /// Copying chunk data.
    Data,
    DataCr,
    DataLf,
    /// At the start of a trailer line (or of the final CRLF).
    TrailerStart,
    /// Inside a trailer field line.
    Trailer,
    TrailerLf,
    EndLf,
    Done,
}

/// Resumable decoder state for one chunked body.
#[derive(Clone, Debug)]
pub(crate) struct ChunkedDecoder {
    state: State,
    /// Bytes left in the current chunk (or the size being accumulated).
    remaining: u64,
    digits: u8,
    /// Bytes of extensions or trailers seen in the current section.
    skipped: usize,
    limit: u64,
}

/// Where decoding stands within the body region of the buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Cursor {
    /// Encoded bytes consumed so far.
    pub(crate) read: usize,
    /// Decoded bytes so far; always `<= read`.
    pub(crate) written: usize,
}

impl ChunkedDecoder {
    /// A decoder that refuses bodies longer than `limit` decoded bytes.
    pub(crate) fn new(limit: usize) -> ChunkedDecoder {
        ChunkedDecoder {
            state: State::Size,
            remaining: 0,
            digits: 0,
            skipped: 0,
            limit: limit as u64,
        }
    }

    /// Decodes what it can of `buf[cursor.read..]`, writing data to `buf[cursor.written..]`.
    ///
    /// Returns `Ok(true)` once the whole body, trailers included, has been read; then
    /// `buf[..cursor.written]` is the body and `cursor.read` bytes of input were used.
    pub(crate) fn decode(
        &mut self,
        buf: &mut [u8],
        cursor: &mut Cursor,
    ) -> Result<bool, ChunkError> {
        while cursor.read < buf.len() {
            if self.state == State::Data {
                let available = buf.len() - cursor.read;
                let n = available.min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
                buf.copy_within(cursor.read..cursor.read + n, cursor.written);
                cursor.read += n;
                cursor.written += n;
                self.remaining -= n as u64;
                if self.remaining == 0 {
                    self.state = State::DataCr;
                }
                continue;
            }
            let b = buf[cursor.read];
            cursor.read += 1;
            self.step(b, cursor.written)?;
            if self.state == State::Done {
                return Ok(true);
            }
        }
        Ok(self.state == State::Done)
    }

    /// Advances over one framing byte.
    fn step(&mut self, b: u8, decoded: usize) -> Result<(), ChunkError> {
        use State::*;
        self.state = match (self.state, b) {
            (Size, _) if b.is_ascii_hexdigit() => {
                self.digits = self.digits.saturating_add(1);
                self.remaining = self
                    .remaining
                    .saturating_mul(16)
                    .saturating_add(u64::from(hex_value(b)));
                // Checked per digit, so a run of digits can never overflow.
                if decoded as u64 + self.remaining > self.limit {
                    return Err(ChunkError::TooLarge);
                }
                Size
            }
            (Size, b';' | b' ' | b'\t') if self.has_size() => Extension,
            (Size, b'\r') if self.has_size() => SizeLf,
            (Size, _) => return Err(ChunkError::Invalid("invalid chunk size")),
            (Extension, b'\r') => SizeLf,
            (Extension, _) if is_field_byte(b) => {
                self.skip()?;
                Extension
            }
            (Extension, _) => return Err(ChunkError::Invalid("invalid chunk extension")),
            (SizeLf, b'\n') => {
                self.skipped = 0;
                let size = std::mem::take(&mut self.remaining);
                self.digits = 0;
                if size == 0 {
                    TrailerStart
                } else {
                    self.remaining = size;
                    Data
                }
            }
            (SizeLf, _) => return Err(ChunkError::Invalid("chunk size line not ended by CRLF")),
            (DataCr, b'\r') => DataLf,
            (DataLf, b'\n') => Size,
            (DataCr | DataLf, _) => {
                return Err(ChunkError::Invalid("chunk data not followed by CRLF"));
            }
            (TrailerStart, b'\r') => EndLf,
            (TrailerStart, b' ' | b'\t') => {
                return Err(ChunkError::Invalid("obsolete line folding in trailers"));
            }
            (TrailerStart | Trailer, _) if is_field_byte(b) => {
                self.skip()?;
                Trailer
            }
            (Trailer, b'\r') => TrailerLf,
            (TrailerLf, b'\n') => TrailerStart,
            (EndLf, b'\n') => Done,
            (TrailerStart | Trailer | TrailerLf | EndLf, _) => {
                return Err(ChunkError::Invalid("invalid trailer section"));
            }
            (Data | Done, _) => unreachable!("data is copied in bulk and decoding stops when done"),
        };
        Ok(())
    }

    fn has_size(&self) -> bool {
        self.digits > 0
    }

    fn skip(&mut self) -> Result<(), ChunkError> {
        self.skipped += 1;
        if self.skipped > MAX_EXTENSION_BYTES {
            return Err(ChunkError::Invalid("chunk extensions or trailers too long"));
        }
        Ok(())
    }
}

fn hex_value(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}

/// Bytes allowed inside extensions and trailer lines: visible characters, space, tab and
/// obs-text; never a bare CR, LF or other control (RFC 9112 §7.1.1, §5.5).
fn is_field_byte(b: u8) -> bool {
    b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces split at `splits`, as successive reads would deliver it.
    fn decode_split(
        input: &[u8],
        splits: &[usize],
        limit: usize,
    ) -> Result<(Vec<u8>, usize), ChunkError> {
        let mut decoder = ChunkedDecoder::new(limit);
        let mut cursor = Cursor::default();
        let mut buf = Vec::new();
        let mut start = 0;
        for &end in splits.iter().chain([&input.len()]) {
            buf.extend_from_slice(&input[start..end]);
            start = end;
            if decoder.decode(&mut buf, &mut cursor)? {
                buf.truncate(cursor.written);
                return Ok((buf, cursor.read));
            }
        }
        Err(ChunkError::Invalid("incomplete"))
    }

    fn decode(input: &[u8]) -> Result<(Vec<u8>, usize), ChunkError> {
        decode_split(input, &[], 1 << 20)
    }

    const BODIES: &[(&[u8], &[u8])] = &[
        (b"0\r\n\r\n", b""),
        (b"5\r\nhello\r\n0\r\n\r\n", b"hello"),
        (b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", b"hello world"),
        (b"A\r\n0123456789\r\n00\r\n\r\n", b"0123456789"),
        (
            b"a;name=value;flag\r\n0123456789\r\n0 ; last\r\n\r\n",
            b"0123456789",
        ),
        (
            b"3 \r\nabc\r\n0\r\nExpires: never\r\nX-Sum: 1\r\n\r\n",
            b"abc",
        ),
        (b"0003\r\n\r\n\r\r\n0\r\n\r\n", b"\r\n\r"),
    ];

    #[test]
    fn decodes_bodies() {
        for (input, body) in BODIES {
            let (decoded, used) = decode(input).unwrap();
            assert_eq!(decoded, *body, "{:?}", String::from_utf8_lossy(input));
            assert_eq!(used, input.len());
        }
    }

    #[test]
    fn every_split_point() {
        for (input, body) in BODIES {
            for split in 0..=input.len() {
                let (decoded, used) = decode_split(input, &[split], 1 << 20).unwrap();
                assert_eq!(decoded, *body, "split at {split}");
                assert_eq!(used, input.len());
            }
        }
    }

    #[test]
    fn one_byte_at_a_time() {
        for (input, body) in BODIES {
            let splits: Vec<usize> = (1..input.len()).collect();
            assert_eq!(decode_split(input, &splits, 1 << 20).unwrap().0, *body);
        }
    }

    #[test]
    fn stops_at_the_end_of_the_body() {
        let input = b"3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
        let (decoded, used) = decode(input).unwrap();
        assert_eq!(decoded, b"abc");
        assert_eq!(&input[used..], b"GET / HTTP/1.1\r\n");
    }

    #[test]
    fn rejects_bad_framing() {
        let bad: &[&[u8]] = &[
            b"\r\n",
            b"x\r\n",
            b";ext\r\n",
            b"5\nhello\r\n0\r\n\r\n",
            b"5\r\nhelloX\r\n",
            b"5\r\nhello\n0\r\n\r\n",
            b"5\r\nhello\r\n0\r\n\n",
            b"5\r\nhello\r\n0\r\nTrailer: x\n\r\n",
            b"5\r\nhello\r\n0\r\n folded\r\n\r\n",
            b"3;bad\x01ext\r\nabc\r\n",
            b"3\r\r\nabc\r\n",
            b"-3\r\nabc\r\n",
            b"0x3\r\nabc\r\n",
        ];
        for input in bad {
            assert!(
                matches!(decode(input), Err(ChunkError::Invalid(_))),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn enforces_the_limit() {
        assert_eq!(
            decode_split(b"b\r\nhello world\r\n0\r\n\r\n", &[], 10),
            Err(ChunkError::TooLarge)
        );
        assert_eq!(
            decode_split(b"6\r\nhello \r\n6\r\nworld!\r\n0\r\n\r\n", &[], 10),
            Err(ChunkError::TooLarge)
        );
        assert_eq!(
            decode(b"ffffffffffffffffffff\r\n"),
            Err(ChunkError::TooLarge)
        );
        assert!(decode_split(b"a\r\n0123456789\r\n0\r\n\r\n", &[], 10).is_ok());
    }

    #[test]
    fn bounds_extensions() {
        let mut input = b"1;".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_EXTENSION_BYTES + 1));
        assert!(matches!(decode(&input), Err(ChunkError::Invalid(_))));
    }
}
