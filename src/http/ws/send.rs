//! The sending half of a connection: the application's messages, pings and the close
//! frame, encoded into the write buffer (RFC 6455 §5.2, servers never mask), compressed
//! when permessage-deflate is on, and refused once our close frame is out (§5.5.1).

use bytes::{Bytes, BytesMut};

use crate::http::ws::close::{self, BadClose};
#[cfg(feature = "deflate")]
use crate::http::ws::deflate::Deflater;
use crate::http::ws::extension::DeflateParams;
#[cfg(feature = "deflate")]
use crate::http::ws::frame::RSV1;
use crate::http::ws::frame::{self, MAX_CONTROL_PAYLOAD, OpCode};

/// Why a frame was not queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SendError {
    /// A close frame was already sent: nothing may follow it (§5.5.1).
    Closed,
    /// A ping, pong or close payload over 125 bytes (§5.5).
    ControlTooLong,
    /// A close code an endpoint may not send (§7.4).
    BadCloseCode,
}

/// A data frame encoded once, to be queued on many connections (a broadcast): clones
/// share the bytes. Never compressed, which RSV1 being per message allows (RFC 7692 §6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SharedFrame(Bytes);

impl SharedFrame {
    pub(crate) fn text(text: &str) -> SharedFrame {
        SharedFrame(frame::encode_shared(OpCode::Text, text.as_bytes()))
    }

    pub(crate) fn binary(data: &[u8]) -> SharedFrame {
        SharedFrame(frame::encode_shared(OpCode::Binary, data))
    }
}

/// The sending half: whether our close is out, and the compressor.
pub(crate) struct Writer {
    close_sent: bool,
    /// The compressor and the shortest message worth compressing.
    #[cfg(feature = "deflate")]
    deflater: Option<(Deflater, usize)>,
}

impl Writer {
    pub(crate) fn new(deflate: Option<&DeflateParams>) -> Writer {
        #[cfg(not(feature = "deflate"))]
        let _ = deflate;
        Writer {
            close_sent: false,
            #[cfg(feature = "deflate")]
            deflater: deflate.map(|d| {
                (
                    Deflater::new(d.level, d.server_no_context_takeover),
                    d.min_size,
                )
            }),
        }
    }

    pub(crate) fn close_sent(&self) -> bool {
        self.close_sent
    }

    pub(crate) fn sender<'a>(&'a mut self, out: &'a mut BytesMut) -> Sender<'a> {
        Sender { writer: self, out }
    }

    fn data(
        &mut self,
        out: &mut BytesMut,
        opcode: OpCode,
        payload: &[u8],
    ) -> Result<(), SendError> {
        if self.close_sent {
            return Err(SendError::Closed);
        }
        #[cfg(feature = "deflate")]
        if let Some((deflater, min_size)) = &mut self.deflater
            && payload.len() >= *min_size
            && let Some(compressed) = deflater.compress(payload)
        {
            frame::encode(out, opcode, RSV1, compressed);
            return Ok(());
        }
        frame::encode(out, opcode, 0, payload);
        Ok(())
    }

    pub(crate) fn control(
        &mut self,
        out: &mut BytesMut,
        opcode: OpCode,
        payload: &[u8],
    ) -> Result<(), SendError> {
        if self.close_sent {
            return Err(SendError::Closed);
        }
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(SendError::ControlTooLong);
        }
        frame::encode(out, opcode, 0, payload);
        Ok(())
    }

    pub(crate) fn close(
        &mut self,
        out: &mut BytesMut,
        code: Option<u16>,
        reason: &str,
    ) -> Result<(), SendError> {
        if self.close_sent {
            return Err(SendError::Closed);
        }
        close::encode(out, code, reason).map_err(|e| match e {
            BadClose::Code => SendError::BadCloseCode,
            BadClose::ReasonTooLong => SendError::ControlTooLong,
        })?;
        self.close_sent = true;
        Ok(())
    }
}

/// Sends from inside [`Protocol::advance`]'s callback, in order with the pongs and the
/// close echo it queues.
///
/// [`Protocol::advance`]: crate::http::ws::protocol::Protocol::advance
pub(crate) struct Sender<'a> {
    writer: &'a mut Writer,
    out: &'a mut BytesMut,
}

impl Sender<'_> {
    /// A shorter-lived sender over the same connection and buffer.
    pub(crate) fn reborrow(&mut self) -> Sender<'_> {
        Sender {
            writer: self.writer,
            out: self.out,
        }
    }

    /// Queues a text message, compressed if permessage-deflate is on and it is long enough.
    pub(crate) fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.writer.data(self.out, OpCode::Text, text.as_bytes())
    }

    /// Queues a binary message, compressed as for text.
    pub(crate) fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.writer.data(self.out, OpCode::Binary, data)
    }

    /// Queues a ping of at most 125 bytes.
    pub(crate) fn send_ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.writer.control(self.out, OpCode::Ping, payload)
    }

    /// Queues an unsolicited pong, a one-way heartbeat (§5.5.3).
    #[cfg(test)]
    pub(crate) fn send_pong(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.writer.control(self.out, OpCode::Pong, payload)
    }

    /// Starts (or answers) the closing handshake; nothing can be sent after it.
    pub(crate) fn send_close(&mut self, code: u16, reason: &str) -> Result<(), SendError> {
        self.writer.close(self.out, Some(code), reason)
    }

    /// Queues a frame encoded once for many connections.
    pub(crate) fn send_shared(&mut self, frame: &SharedFrame) -> Result<(), SendError> {
        if self.writer.close_sent {
            return Err(SendError::Closed);
        }
        self.out.extend_from_slice(&frame.0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use super::*;
    use crate::http::ws::protocol::{Limits, Protocol, State};
    use crate::http::ws::testing::{client, feed, server_frames};

    #[test]
    fn the_server_closes_first() {
        let mut p = Protocol::new(Limits::default(), None);
        let mut out = BytesMut::new();
        p.send_close(&mut out, 1001, "restart").unwrap();
        assert_eq!(p.state(), State::Closing);
        // §5.5.1: no data frames, pings or a second close after ours.
        assert_eq!(p.send_text(&mut out, "x"), Err(SendError::Closed));
        assert_eq!(p.send_binary(&mut out, b"x"), Err(SendError::Closed));
        assert_eq!(p.send_ping(&mut out, b"x"), Err(SendError::Closed));
        assert_eq!(p.send_close(&mut out, 1000, ""), Err(SendError::Closed));
        // Messages still arrive until the peer's close; pings go unanswered.
        let input = client(&[(0x81, b"in flight"), (0x89, b"p"), (0x88, b"\x03\xe9")]);
        let (events, _) = feed(&mut p, &input, &mut out);
        assert_eq!(events.len(), 3);
        assert_eq!(server_frames(&out), [(0x88, b"\x03\xe9restart".to_vec())]);
        assert_eq!(p.state(), State::Closed);
    }

    #[test]
    fn sending() {
        let mut p = Protocol::new(Limits::default(), None);
        let mut out = BytesMut::new();
        p.send_text(&mut out, "hi").unwrap();
        p.send_binary(&mut out, &[0; 200]).unwrap();
        p.send_ping(&mut out, b"").unwrap();
        p.send_pong(&mut out, b"beat").unwrap();
        p.send_shared(&mut out, &SharedFrame::text("all")).unwrap();
        assert_eq!(
            p.send_ping(&mut out, &[0; 126]),
            Err(SendError::ControlTooLong)
        );
        assert_eq!(
            p.send_close(&mut out, 1006, ""),
            Err(SendError::BadCloseCode)
        );
        assert_eq!(
            p.send_close(&mut out, 1000, &"x".repeat(124)),
            Err(SendError::ControlTooLong)
        );
        assert_eq!(p.state(), State::Open);
        let firsts: Vec<u8> = server_frames(&out).iter().map(|f| f.0).collect();
        assert_eq!(firsts, [0x81, 0x82, 0x89, 0x8a, 0x81]);
        assert_eq!(p.send_shared(&mut out, &SharedFrame::binary(b"")), Ok(()));
        p.send_close(&mut out, 1000, "").unwrap();
        assert_eq!(
            p.send_shared(&mut out, &SharedFrame::binary(b"")),
            Err(SendError::Closed)
        );
    }
}
