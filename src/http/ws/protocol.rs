//! The server side of an open WebSocket connection (RFC 6455 §5–§7), without IO: bytes
//! read from the socket go in, messages come out through a callback, and every frame to
//! send (answers to pings, the close handshake, the application's messages) is appended
//! to the connection's write buffer.
//!
//! ```text
//!  read buffer ──advance──▶ frames ──▶ Event::{Text, Binary, Ping, Pong, Close} ──▶ on_event
//!                               └──▶ pong / close echo ──▶ write buffer ◀── Sender::send_*
//! ```
//!
//! A message that arrives as one whole frame in one read, the common case, is unmasked in
//! place and handed out straight from the read buffer. Everything else (fragments, a
//! frame split across reads, compressed messages) is joined in the connection's own
//! buffer, bounded by [`Limits`]. A frame is consumed as its bytes arrive, so the caller's
//! read buffer never has to hold more than one read, and a limit or an invalid text
//! prefix fails the connection before the rest of the message is waited for.

use bytes::BytesMut;

use crate::http::ws::close::{self, Failure};
use crate::http::ws::extension::DeflateParams;
use crate::http::ws::frame::{self, OpCode, RSV_MASK, RSV1};
use crate::http::ws::message::{self, Assembly, Kind, Message};
#[cfg(test)]
use crate::http::ws::send::{SendError, SharedFrame};
use crate::http::ws::send::{Sender, Writer};

/// Sizes past which the connection fails with 1009 (RFC 6455 §7.4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Limits {
    /// The largest frame payload, checked on the header before the payload is read.
    pub(crate) max_frame: usize,
    /// The largest message, after joining its fragments and inflating it.
    pub(crate) max_message: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_frame: 16 << 20,
            max_message: 16 << 20,
        }
    }
}

/// What the peer sent, borrowed from the read buffer or the connection's message buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event<'a> {
    Text(&'a str),
    Binary(&'a [u8]),
    /// Already answered with a pong.
    Ping(&'a [u8]),
    /// Solicited or not (a heartbeat, RFC 6455 §5.5.3); nothing is owed.
    Pong(&'a [u8]),
    /// The peer's close frame. Unless the callback sends its own close, the code is
    /// echoed once it returns (§5.5.1) and the handshake is complete.
    Close {
        code: Option<u16>,
        reason: &'a str,
    },
}

/// Where the closing handshake stands (RFC 6455 §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// Messages flow both ways.
    Open,
    /// Our close frame is queued; the peer's is awaited. Messages still arrive.
    Closing,
    /// Both close frames are exchanged, or the connection failed: once the write buffer
    /// is flushed, the server closes the TCP connection first (§7.1.1).
    Closed,
}

/// A data frame whose header is consumed and whose payload is still arriving.
#[derive(Clone, Copy, Debug)]
struct Partial {
    mask: [u8; 4],
    /// Payload bytes already read: the masking key's rotation (§5.3).
    offset: usize,
    remaining: usize,
    fin: bool,
}

/// One WebSocket connection, server side.
pub(crate) struct Protocol {
    limits: Limits,
    frame: Option<Partial>,
    message: Assembly,
    /// The peer's close frame arrived or the connection failed: input is ignored.
    done: bool,
    failure: Option<Failure>,
    writer: Writer,
}

impl Protocol {
    /// A connection whose handshake negotiated `deflate` (permessage-deflate), or not.
    pub(crate) fn new(limits: Limits, deflate: Option<DeflateParams>) -> Protocol {
        #[cfg(feature = "deflate")]
        let inflate = deflate.map(|d| d.client_no_context_takeover);
        // Without the feature the handshake never negotiates it.
        #[cfg(not(feature = "deflate"))]
        let inflate: Option<bool> = deflate.and(None);
        Protocol {
            limits,
            frame: None,
            message: Assembly::new(inflate),
            done: false,
            failure: None,
            writer: Writer::new(deflate.as_ref()),
        }
    }

    pub(crate) fn state(&self) -> State {
        match (self.writer.close_sent(), self.done) {
            (false, _) => State::Open,
            (true, false) => State::Closing,
            (true, true) => State::Closed,
        }
    }

    /// Why the connection failed, if it did: the code and reason of the close frame sent.
    pub(crate) fn failure(&self) -> Option<Failure> {
        self.failure
    }

    /// Reads the frames at the start of `input`, unmasking them in place; returns how many
    /// bytes were used: the caller keeps the rest (at most an incomplete frame header or
    /// control frame) for the next call. Each message and control frame is handed to
    /// `on_event`, with a [`Sender`] to answer through; pings are answered and a close
    /// echoed here. On a protocol error a close frame with the error's code is queued and
    /// the connection is [`State::Closed`]; from then on, as after the peer's close
    /// frame, all input is used and ignored.
    pub(crate) fn advance(
        &mut self,
        input: &mut [u8],
        out: &mut BytesMut,
        mut on_event: impl FnMut(Event<'_>, &mut Sender<'_>),
    ) -> usize {
        let mut used = 0;
        while !self.done {
            match self.step(&mut input[used..], out, &mut on_event) {
                Ok(0) => break,
                Ok(n) => used += n,
                Err(failure) => self.fail(failure, out),
            }
        }
        if self.done { input.len() } else { used }
    }

    /// Reads one frame, or what has arrived of one; returns the bytes used.
    fn step(
        &mut self,
        input: &mut [u8],
        out: &mut BytesMut,
        on_event: &mut impl FnMut(Event<'_>, &mut Sender<'_>),
    ) -> Result<usize, Failure> {
        if self.frame.is_some() {
            return self.payload(input, out, on_event);
        }
        let Some(header) =
            frame::decode_header(input).map_err(|e| Failure::protocol(e.reason()))?
        else {
            return Ok(0);
        };
        // §5.1: a server MUST close the connection on an unmasked frame.
        let mask = header
            .mask
            .ok_or(Failure::protocol("unmasked client frame"))?;
        let start = header.header_len;
        if header.opcode.is_control() {
            // §5.2: RSV bits only with an extension that defines them; RFC 7692 §6.1
            // defines RSV1 for data messages only.
            if header.rsv != 0 {
                return Err(Failure::protocol("reserved bit on a control frame"));
            }
            // At most 125 bytes (checked on the header): wait for all of it.
            let end = start + header.len as usize;
            let Some(frame) = input.get_mut(..end) else {
                return Ok(0);
            };
            let payload = &mut frame[start..];
            frame::apply_mask(payload, mask, 0);
            self.control(header.opcode, payload, out, on_event)?;
            return Ok(end);
        }
        if header.rsv & (RSV_MASK & !RSV1) != 0 {
            return Err(Failure::protocol("reserved bit set"));
        }
        let compressed = header.rsv & RSV1 != 0;
        let kind = match header.opcode {
            OpCode::Text => Some(Kind::Text),
            OpCode::Binary => Some(Kind::Binary),
            _ => None,
        };
        match kind {
            // §5.4: a new message may not start inside another.
            Some(_) if self.message.in_progress() => {
                return Err(Failure::protocol("new message inside a fragmented one"));
            }
            // RFC 7692 §6.1: RSV1 marks the first frame of a compressed message.
            Some(_) if compressed && !self.message.inflates() => {
                return Err(Failure::protocol("RSV1 without permessage-deflate"));
            }
            None if !self.message.in_progress() => {
                return Err(Failure::protocol("continuation frame without a message"));
            }
            None if compressed => {
                return Err(Failure::protocol("RSV1 on a continuation frame"));
            }
            _ => {}
        }
        let len = match usize::try_from(header.len) {
            Ok(len) if len <= self.limits.max_frame => len,
            _ => return Err(Failure::too_big("frame over the size limit")),
        };
        // Compressed sizes say nothing of the message's; the inflater checks those.
        let growing = if compressed || kind.is_none() && self.message.compressed() {
            0
        } else {
            len
        };
        if self.message.len() + growing > self.limits.max_message {
            return Err(Failure::too_big("message over the size limit"));
        }
        if let Some(kind) = kind {
            // The common case: a whole plain message in this read, read in place.
            if header.fin && !compressed && input.len() - start >= len {
                let payload = &mut input[start..start + len];
                frame::apply_mask(payload, mask, 0);
                let event = match kind {
                    Kind::Text => Event::Text(message::text(payload)?),
                    Kind::Binary => Event::Binary(payload),
                };
                on_event(event, &mut self.sender(out));
                return Ok(start + len);
            }
            self.message.begin(kind, compressed);
        }
        self.frame = Some(Partial {
            mask,
            offset: 0,
            remaining: len,
            fin: header.fin,
        });
        Ok(start + self.payload(&mut input[start..], out, on_event)?)
    }

    /// Takes what has arrived of the current data frame's payload.
    fn payload(
        &mut self,
        input: &mut [u8],
        out: &mut BytesMut,
        on_event: &mut impl FnMut(Event<'_>, &mut Sender<'_>),
    ) -> Result<usize, Failure> {
        let Some(frame) = &mut self.frame else {
            return Ok(0);
        };
        let n = frame.remaining.min(input.len());
        let piece = &mut input[..n];
        frame::apply_mask(piece, frame.mask, frame.offset);
        frame.offset += n;
        frame.remaining -= n;
        let (ended, fin) = (frame.remaining == 0, frame.fin);
        self.message
            .push(piece, self.limits.max_message, ended && fin)?;
        if ended {
            self.frame = None;
            if fin {
                let event = match self.message.finish(self.limits.max_message)? {
                    Message::Text(text) => Event::Text(text),
                    Message::Binary(data) => Event::Binary(data),
                };
                on_event(event, &mut self.writer.sender(out));
                self.message.clear();
            }
        }
        Ok(n)
    }

    /// Handles a ping, pong or close frame whose payload is unmasked.
    fn control(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        out: &mut BytesMut,
        on_event: &mut impl FnMut(Event<'_>, &mut Sender<'_>),
    ) -> Result<(), Failure> {
        match opcode {
            OpCode::Ping => {
                // §5.5.2: a pong with the same payload, unless our close is already out.
                let _ = self.writer.control(out, OpCode::Pong, payload);
                on_event(Event::Ping(payload), &mut self.sender(out));
            }
            OpCode::Pong => on_event(Event::Pong(payload), &mut self.sender(out)),
            _ => {
                let (code, reason) = close::parse_payload(payload)?;
                // §1.4, §5.5.1: whatever follows the close frame is not read.
                self.done = true;
                on_event(Event::Close { code, reason }, &mut self.sender(out));
                // Echo the code (§5.5.1) unless the callback answered, or our close
                // already went out (then this completes the handshake).
                let _ = self.writer.close(out, code, "");
            }
        }
        Ok(())
    }

    /// Sends outside [`Protocol::advance`]: a message from another thread, a ping.
    pub(crate) fn sender<'a>(&'a mut self, out: &'a mut BytesMut) -> Sender<'a> {
        self.writer.sender(out)
    }

    /// Fails the connection (§7.1.7): queues a close frame with the code, unless ours is
    /// already out, and reads nothing more.
    fn fail(&mut self, failure: Failure, out: &mut BytesMut) {
        let _ = self.writer.close(out, Some(failure.code), failure.reason);
        self.failure = Some(failure);
        self.done = true;
        self.frame = None;
        self.message.clear();
    }

    /// Queues a text message.
    #[cfg(test)]
    pub(crate) fn send_text(&mut self, out: &mut BytesMut, text: &str) -> Result<(), SendError> {
        self.sender(out).send_text(text)
    }

    /// Queues a binary message.
    #[cfg(test)]
    pub(crate) fn send_binary(&mut self, out: &mut BytesMut, data: &[u8]) -> Result<(), SendError> {
        self.sender(out).send_binary(data)
    }

    /// Queues a ping of at most 125 bytes.
    #[cfg(test)]
    pub(crate) fn send_ping(
        &mut self,
        out: &mut BytesMut,
        payload: &[u8],
    ) -> Result<(), SendError> {
        self.sender(out).send_ping(payload)
    }

    /// Queues an unsolicited pong.
    #[cfg(test)]
    pub(crate) fn send_pong(
        &mut self,
        out: &mut BytesMut,
        payload: &[u8],
    ) -> Result<(), SendError> {
        self.sender(out).send_pong(payload)
    }

    /// Starts the closing handshake: the state is `Closing` until the peer's close frame
    /// arrives (or `Closed` if it already has).
    #[cfg(test)]
    pub(crate) fn send_close(
        &mut self,
        out: &mut BytesMut,
        code: u16,
        reason: &str,
    ) -> Result<(), SendError> {
        self.sender(out).send_close(code, reason)
    }

    /// Queues a frame encoded once for many connections.
    #[cfg(test)]
    pub(crate) fn send_shared(
        &mut self,
        out: &mut BytesMut,
        frame: &SharedFrame,
    ) -> Result<(), SendError> {
        self.sender(out).send_shared(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::ws::testing::{Got, client, close_code, feed, limits, server_frames};

    /// Client frames, as [`client`] takes them.
    type Frames = &'static [(u8, &'static [u8])];

    /// Frames each of which fails the connection: (the rule, frames, the close code).
    const FAILURES: &[(&str, Frames, u16)] = &[
        ("§5.2 RSV1 without an extension", &[(0xc1, b"hi")], 1002),
        ("§5.2 RSV2", &[(0xa1, b"hi")], 1002),
        ("§5.2 RSV3", &[(0x92, b"hi")], 1002),
        ("§5.2 reserved data opcode 0x3", &[(0x83, b"")], 1002),
        ("§5.2 reserved control opcode 0xB", &[(0x8b, b"")], 1002),
        ("§5.5 ping over 125 bytes", &[(0x89, &[b'x'; 126])], 1002),
        ("§5.5 fragmented ping", &[(0x09, b"a")], 1002),
        ("§5.5 RSV1 on a control frame", &[(0xc9, b"a")], 1002),
        ("§5.4 continuation without a message", &[(0x80, b"a")], 1002),
        (
            "§5.4 text inside a fragmented text",
            &[(0x01, b"a"), (0x81, b"b")],
            1002,
        ),
        (
            "§5.4 binary inside a fragmented text",
            &[(0x01, b"a"), (0x02, b"b")],
            1002,
        ),
        ("§8.1 text not UTF-8", &[(0x81, b"\xce\xba\xff")], 1007),
        (
            "§8.1 fragmented text not UTF-8",
            &[(0x01, b"\xce"), (0x80, b"\xba\xff")],
            1007,
        ),
        (
            "§8.1 text ending mid-sequence",
            &[(0x01, b"a\xe2"), (0x80, b"\x82")],
            1007,
        ),
        ("§5.5.1 close payload of one byte", &[(0x88, b"\x03")], 1002),
        ("§7.4.1 close code 1004", &[(0x88, b"\x03\xec")], 1002),
        ("§7.4.1 close code 1005", &[(0x88, b"\x03\xed")], 1002),
        ("§7.4.1 close code 1006", &[(0x88, b"\x03\xee")], 1002),
        ("§7.4.1 close code 1015", &[(0x88, b"\x03\xf7")], 1002),
        ("§7.4.2 close code 999", &[(0x88, b"\x03\xe7")], 1002),
        ("§7.4.2 close code 2000", &[(0x88, b"\x07\xd0")], 1002),
        ("§7.4.2 close code 5000", &[(0x88, b"\x13\x88")], 1002),
        (
            "§5.5.1 close reason not UTF-8",
            &[(0x88, b"\x03\xe8\xc3")],
            1007,
        ),
    ];

    /// Feeds `input` and checks it failed the connection with `code`, and that nothing
    /// more is read or sent afterwards.
    fn assert_fails(rule: &str, input: &[u8], limits: Limits, code: u16) {
        let mut p = Protocol::new(limits, None);
        let mut out = BytesMut::new();
        let (events, used) = feed(&mut p, input, &mut out);
        assert_eq!(used, input.len(), "{rule}: all input is used");
        assert_eq!(events, [], "{rule}");
        let frames = server_frames(&out);
        assert_eq!(
            (frames.len(), close_code(&frames)),
            (1, Some(code)),
            "{rule}"
        );
        assert_eq!(p.state(), State::Closed, "{rule}");
        assert_eq!(p.failure().map(|f| f.code), Some(code), "{rule}");
        let late = client(&[(0x81, b"late")]);
        assert_eq!(
            feed(&mut p, &late, &mut out),
            (vec![], late.len()),
            "{rule}"
        );
        assert_eq!(
            p.send_text(&mut out, "late"),
            Err(SendError::Closed),
            "{rule}"
        );
        assert_eq!(server_frames(&out).len(), 1, "{rule}");
    }

    #[test]
    fn failures_table() {
        for (rule, frames, code) in FAILURES {
            assert_fails(rule, &client(frames), Limits::default(), *code);
        }
        assert_fails(
            "§5.1 unmasked client frame",
            b"\x81\x02hi",
            Limits::default(),
            1002,
        );
        let top_bit = b"\x82\xff\x80\0\0\0\0\0\0\0\0\0\0\0";
        assert_fails("§5.2 64-bit length MSB", top_bit, Limits::default(), 1002);
        let over = client(&[(0x82, &[0; 11])]);
        assert_fails("§7.4.1 frame over the limit", &over, limits(10, 100), 1009);
        assert_fails(
            "§7.4.1 frame over the message limit",
            &over,
            limits(100, 10),
            1009,
        );
        let fragments = client(&[(0x02, &[0; 6]), (0x80, &[0; 6])]);
        assert_fails(
            "§7.4.1 message over the limit",
            &fragments,
            limits(10, 10),
            1009,
        );
    }

    #[test]
    fn messages_and_control_frames() {
        let mut p = Protocol::new(Limits::default(), None);
        let mut out = BytesMut::new();
        let input = client(&[
            (0x81, "héllo".as_bytes()),
            (0x82, b"\x00\xff"),
            (0x81, b""),
            // §5.4: a fragmented text with a ping between its fragments (§5.5).
            (0x01, b"frag"),
            (0x89, b"are you there"),
            (0x00, b""),
            (0x80, b"mented"),
            // §5.5.3: an unsolicited pong is reported and not answered.
            (0x8a, b"heartbeat"),
            (0x02, b"\x01"),
            (0x80, b"\x02"),
        ]);
        let (events, used) = feed(&mut p, &input, &mut out);
        assert_eq!(used, input.len());
        assert_eq!(
            events,
            [
                Got::Text("héllo".into()),
                Got::Binary(vec![0, 255]),
                Got::Text(String::new()),
                Got::Ping(b"are you there".to_vec()),
                Got::Text("fragmented".into()),
                Got::Pong(b"heartbeat".to_vec()),
                Got::Binary(vec![1, 2]),
            ]
        );
        // §5.5.2: the pong carries the ping's payload.
        assert_eq!(server_frames(&out), [(0x8a, b"are you there".to_vec())]);
        assert_eq!(p.state(), State::Open);
    }

    #[test]
    fn keeps_an_incomplete_header_or_control_frame() {
        let mut p = Protocol::new(Limits::default(), None);
        let mut out = BytesMut::new();
        let ping = client(&[(0x89, b"ping")]);
        for end in 0..ping.len() {
            let (events, used) = feed(&mut p, &ping[..end], &mut out);
            assert_eq!((events, used), (vec![], 0), "{end} bytes of a ping");
        }
        // A data frame's header is taken once whole, and its payload as it arrives.
        let text = client(&[(0x81, b"hello")]);
        assert_eq!(feed(&mut p, &text[..5], &mut out), (vec![], 0));
        assert_eq!(feed(&mut p, &text[..8], &mut out), (vec![], 8));
        assert_eq!(
            feed(&mut p, &text[8..], &mut out),
            (vec![Got::Text("hello".into())], 3)
        );
        assert!(out.is_empty());
    }

    #[test]
    fn invalid_text_fails_before_the_message_ends() {
        // §8.1 fail fast: the first fragment is already invalid, the rest never comes.
        let mut p = Protocol::new(Limits::default(), None);
        let mut out = BytesMut::new();
        let (_, used) = feed(&mut p, &client(&[(0x01, b"ok \xf4\x90")]), &mut out);
        assert_eq!(close_code(&server_frames(&out)), Some(1007));
        assert_eq!((used, p.state()), (6 + 5, State::Closed));
        // Within one frame: the invalid prefix of a 1000-byte text frame fails on arrival.
        let mut p = Protocol::new(Limits::default(), None);
        let mut out = BytesMut::new();
        let mut text = b"abc\xc0\xaf".to_vec();
        text.resize(1000, b'a');
        let frame = client(&[(0x81, &text)]);
        feed(&mut p, &frame[..8 + 10], &mut out);
        assert_eq!(close_code(&server_frames(&out)), Some(1007));
        // A prefix cut inside a valid sequence is not invalid.
        let mut p = Protocol::new(Limits::default(), None);
        let mut out = BytesMut::new();
        let frame = client(&[(0x81, "€uro".as_bytes())]);
        assert_eq!(feed(&mut p, &frame[..8], &mut out).1, 8);
        assert!(out.is_empty() && p.state() == State::Open);
        assert_eq!(
            feed(&mut p, &frame[8..], &mut out).0,
            [Got::Text("€uro".into())]
        );
    }

    #[test]
    fn limits_fail_on_the_header() {
        // The payload of an oversized frame is never waited for.
        let mut p = Protocol::new(limits(1024, 4096), None);
        let mut out = BytesMut::new();
        let frame = client(&[(0x82, &[0; 2000])]);
        let (_, used) = feed(&mut p, &frame[..8], &mut out);
        assert_eq!((used, close_code(&server_frames(&out))), (8, Some(1009)));
        // Exactly at the limits is allowed.
        let mut p = Protocol::new(limits(1024, 2048), None);
        let mut out = BytesMut::new();
        let input = client(&[(0x02, &[1; 1024]), (0x80, &[2; 1024]), (0x82, &[3; 1024])]);
        let (events, _) = feed(&mut p, &input, &mut out);
        assert_eq!(events.len(), 2);
        assert!(out.is_empty());
    }

    #[test]
    fn the_peer_closes() {
        // §5.5.1: the code is echoed; §7.1.1: the server then closes TCP (Closed).
        for code in [
            1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999,
        ] {
            let mut p = Protocol::new(Limits::default(), None);
            let mut out = BytesMut::new();
            let mut payload = code.to_be_bytes().to_vec();
            payload.extend_from_slice(b"bye");
            let input = client(&[(0x88, &payload), (0x81, b"ignored")]);
            let (events, used) = feed(&mut p, &input, &mut out);
            assert_eq!(
                events,
                [Got::Close(Some(code), "bye".into())],
                "§7.4.1 {code}"
            );
            assert_eq!(used, input.len(), "§1.4 data after the close is ignored");
            assert_eq!(server_frames(&out), [(0x88, code.to_be_bytes().to_vec())]);
            assert_eq!(p.state(), State::Closed);
            assert_eq!(p.failure(), None);
            assert_eq!(p.send_text(&mut out, "late"), Err(SendError::Closed));
        }
        // A close without a code is answered without one.
        let mut p = Protocol::new(Limits::default(), None);
        let mut out = BytesMut::new();
        assert_eq!(
            feed(&mut p, &client(&[(0x88, b"")]), &mut out).0,
            [Got::Close(None, String::new())]
        );
        assert_eq!(&out[..], b"\x88\x00");
    }

    #[test]
    fn the_callback_may_answer_a_close_itself() {
        let mut p = Protocol::new(Limits::default(), None);
        let mut out = BytesMut::new();
        let mut input = client(&[(0x88, b"\x03\xe9")]);
        p.advance(&mut input, &mut out, |_, send| {
            send.send_text("last words").unwrap();
            send.send_close(1000, "done").unwrap();
        });
        let frames = server_frames(&out);
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[1], (0x88, b"\x03\xe8done".to_vec()));
        assert_eq!(p.state(), State::Closed);
    }
}
