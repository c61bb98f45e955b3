//! The streaming decoder: a text packet, then as many binary messages as it announced,
//! then the complete packet.
//!
//! socket.io-protocol README, "Packet encoding": a BINARY_EVENT or BINARY_ACK is sent as
//! its text (with placeholders) and then each attachment as its own Engine.IO binary
//! message. This is socket.io-parser's `Decoder.add` with its `BinaryReconstructor`: a
//! text packet while attachments are awaited, or a binary message when none are, is an
//! error, and the placeholders are checked once the last attachment is in.

use bytes::Bytes;

use super::binary::check_placeholders;
use super::packet::{DEFAULT_MAX_ATTACHMENTS, Error, Packet, decode_text};

/// Where one client's incoming packets stand.
#[derive(Debug)]
pub(crate) struct Decoder {
    max_attachments: usize,
    /// A binary packet and how many attachments it still waits for (at least one).
    partial: Option<(Packet, usize)>,
}

/// What a message did to the decoder: [`Partial`](Status::Partial) is not an error.
#[derive(Debug, PartialEq)]
pub(crate) enum Status {
    /// More attachments are needed before the packet is complete.
    Partial,
    /// A whole packet, its attachments in place.
    Complete(Packet),
}

impl Default for Decoder {
    fn default() -> Decoder {
        Decoder::new(DEFAULT_MAX_ATTACHMENTS)
    }
}

impl Decoder {
    /// A decoder that refuses packets announcing more than `max_attachments` attachments
    /// (socket.io-parser's `maxAttachments`, 10 by default). With Engine.IO's
    /// `maxPayload` per message, that bounds what one partial packet can hold.
    pub(crate) fn new(max_attachments: usize) -> Decoder {
        Decoder {
            max_attachments,
            partial: None,
        }
    }

    /// Takes the data of an Engine.IO text message.
    ///
    /// After an error the decoder is empty again; the caller closes the client anyway.
    pub(crate) fn text(&mut self, text: &str) -> Result<Status, Error> {
        if self.partial.take().is_some() {
            return Err(Error::UnexpectedText);
        }
        let (packet, attachments) = decode_text(text, self.max_attachments)?;
        if attachments == 0 {
            return Ok(Status::Complete(packet));
        }
        self.partial = Some((packet, attachments));
        Ok(Status::Partial)
    }

    /// Takes an Engine.IO binary message: the next attachment of the waiting packet.
    pub(crate) fn binary(&mut self, data: Bytes) -> Result<Status, Error> {
        let Some((mut packet, expected)) = self.partial.take() else {
            return Err(Error::UnexpectedBinary);
        };
        packet.attachments.push(data);
        if packet.attachments.len() < expected {
            self.partial = Some((packet, expected));
            return Ok(Status::Partial);
        }
        if let Some(data) = &packet.data {
            check_placeholders(data, packet.attachments.len())?;
        }
        Ok(Status::Complete(packet))
    }

    /// Whether a binary packet is waiting for attachments.
    pub(crate) fn is_partial(&self) -> bool {
        self.partial.is_some()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::packet::PacketType;
    use super::*;

    fn complete(status: Result<Status, Error>) -> Packet {
        match status {
            Ok(Status::Complete(packet)) => packet,
            other => panic!("not complete: {other:?}"),
        }
    }

    #[test]
    fn plain_packets_complete_at_once() {
        let mut decoder = Decoder::default();
        let packet = complete(decoder.text(r#"2["hello"]"#));
        assert_eq!(packet, Packet::event("/", json!(["hello"]), vec![]));
        assert!(!decoder.is_partial());
    }

    #[test]
    fn binary_event_waits_for_its_attachments() {
        // The socket.io-protocol README's example with two attachments.
        let mut decoder = Decoder::default();
        let text =
            r#"52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#;
        assert_eq!(decoder.text(text), Ok(Status::Partial));
        assert!(decoder.is_partial());
        assert_eq!(
            decoder.binary(Bytes::from_static(&[1, 2])),
            Ok(Status::Partial)
        );
        let packet = complete(decoder.binary(Bytes::from_static(&[3, 4])));
        assert_eq!(packet.kind, PacketType::Event);
        assert_eq!(packet.nsp, "/admin");
        assert_eq!(
            packet.attachments,
            [Bytes::from_static(&[1, 2]), Bytes::from_static(&[3, 4])]
        );
        assert!(!decoder.is_partial());
        // And the decoder goes on with the next packet.
        complete(decoder.text("1/admin,"));
    }

    #[test]
    fn binary_ack() {
        // The socket.io-protocol README's sample session: `461-/admin,1[...]` + binary.
        let mut decoder = Decoder::default();
        let text = r#"61-/admin,1[{"_placeholder":true,"num":0}]"#;
        assert_eq!(decoder.text(text), Ok(Status::Partial));
        let packet = complete(decoder.binary(Bytes::from_static(b"bin")));
        assert_eq!(packet.kind, PacketType::Ack);
        assert_eq!(packet.id, Some(1));
        assert_eq!(packet.encode().text, format!("4{text}"));
    }

    #[test]
    fn out_of_order_messages() {
        // socket.io-parser test/buffer.js: "throws an error when adding an attachment
        // without header" and "... when decoding a binary event without attachments".
        let mut decoder = Decoder::default();
        assert_eq!(
            decoder.binary(Bytes::from_static(b"world")),
            Err(Error::UnexpectedBinary)
        );
        assert_eq!(
            decoder.text(r#"51-["hello",{"_placeholder":true,"num":0}]"#),
            Ok(Status::Partial)
        );
        assert_eq!(decoder.text(r#"2["hello"]"#), Err(Error::UnexpectedText));
        // Like `destroy()`, an error leaves the decoder empty: socket.io-parser's "should
        // resume decoding after calling destroy()".
        assert!(!decoder.is_partial());
        complete(decoder.text(r#"2["hello"]"#));
    }

    #[test]
    fn placeholders_must_point_at_attachments() {
        // socket.io-parser test/buffer.js: an invalid `num` (a string, out of bounds).
        for text in [
            r#"51-["hello",{"_placeholder":true,"num":"splice"}]"#,
            r#"51-["hello",{"_placeholder":true,"num":1}]"#,
            r#"51-["hello",{"_placeholder":true,"num":-1}]"#,
            r#"51-["hello",{"_placeholder":true}]"#,
            r#"51-["hello",{"a":[{"_placeholder":true,"num":0.5}]}]"#,
        ] {
            let mut decoder = Decoder::default();
            assert_eq!(decoder.text(text), Ok(Status::Partial), "{text}");
            assert_eq!(
                decoder.binary(Bytes::from_static(b"world")),
                Err(Error::BadPlaceholder),
                "{text}"
            );
        }
        // A placeholder in a plain EVENT is just an object.
        let mut decoder = Decoder::default();
        complete(decoder.text(r#"2["a",{"_placeholder":true,"num":7}]"#));
    }

    #[test]
    fn attachment_limit() {
        // socket.io-parser test/parser.js "throws an error when receiving too many
        // attachments", with `maxAttachments: 2`.
        let mut decoder = Decoder::new(2);
        let text = r#"53-["hello",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1},{"_placeholder":true,"num":2}]"#;
        assert_eq!(decoder.text(text), Err(Error::TooManyAttachments));
        assert_eq!(
            Decoder::default().text(r#"511-[]"#),
            Err(Error::TooManyAttachments)
        );
        assert_eq!(
            Decoder::default().text(r#"5184467440737095516150-[]"#),
            Err(Error::TooManyAttachments)
        );
    }
}
