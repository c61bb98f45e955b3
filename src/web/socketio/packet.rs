//! Socket.IO v5 packets, and writing them: `<type>[<attachments>-][<nsp>,][<ack
//! id>][<json>]`.
//!
//! socket.io-protocol README, "Packet encoding": the namespace is written only when it is
//! not `/`, the attachment count only for the binary types, and each packet travels as
//! one Engine.IO message (prefix `4`) followed by one binary message per attachment. The
//! reference is socket.io-parser 4.2.7's `Encoder.encodeAsString`. Reading is in
//! [`decoder`](super::decoder).

use std::borrow::Cow;

use bytes::{BufMut, Bytes, BytesMut};
use serde_json::Value;

use super::engineio::packet::{Frame, PacketType as EioType};

/// The type of a packet, as the application sees it: a `BINARY_EVENT` (5) is an
/// [`Event`](PacketType::Event) with attachments and a `BINARY_ACK` (6) an
/// [`Ack`](PacketType::Ack) with attachments, as socket.io-parser's decoder reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum PacketType {
    /// 0: join a namespace; from the server, the namespace's socket id.
    Connect,
    /// 1: leave a namespace.
    Disconnect,
    /// 2 (5 with attachments): an event, `[name, ...args]`.
    Event,
    /// 3 (6 with attachments): the answer to an event that asked for one.
    Ack,
    /// 4: the server refused the namespace.
    ConnectError,
}

/// One Socket.IO packet.
///
/// `data` is the JSON payload with each binary value replaced by a placeholder
/// `{"_placeholder":true,"num":n}` that points into `attachments` (see
/// [`binary`](super::binary)): the tree is kept in the form the wire carries, so encoding
/// writes it as is and decoding hands it over without a rewrite.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Packet {
    pub(crate) kind: PacketType,
    /// The namespace, `/` when the packet names none.
    pub(crate) nsp: Cow<'static, str>,
    /// The acknowledgement id: an EVENT that wants an ACK, and the ACK that answers it.
    pub(crate) id: Option<u64>,
    pub(crate) data: Option<Value>,
    /// Binary attachments, in placeholder order. Only EVENT and ACK carry them; encoding
    /// ignores them on the other types, as socket.io-parser only looks for binary there.
    pub(crate) attachments: Vec<Bytes>,
}

impl Packet {
    fn new(kind: PacketType, nsp: impl Into<Cow<'static, str>>, data: Option<Value>) -> Packet {
        Packet {
            kind,
            nsp: nsp.into(),
            id: None,
            data,
            attachments: Vec::new(),
        }
    }

    /// CONNECT: from a client with its optional auth object, from the server with
    /// `{"sid": ...}`.
    pub(crate) fn connect(nsp: impl Into<Cow<'static, str>>, data: Option<Value>) -> Packet {
        Packet::new(PacketType::Connect, nsp, data)
    }

    /// DISCONNECT, which has no payload.
    pub(crate) fn disconnect(nsp: impl Into<Cow<'static, str>>) -> Packet {
        Packet::new(PacketType::Disconnect, nsp, None)
    }

    /// CONNECT_ERROR with `{"message": message}`, as the reference server sends it.
    pub(crate) fn connect_error(nsp: impl Into<Cow<'static, str>>, message: &str) -> Packet {
        let data = serde_json::json!({ "message": message });
        Packet::new(PacketType::ConnectError, nsp, Some(data))
    }

    /// EVENT: `data` is the array `[name, ...args]` with placeholders for `attachments`.
    pub(crate) fn event(
        nsp: impl Into<Cow<'static, str>>,
        data: Value,
        attachments: Vec<Bytes>,
    ) -> Packet {
        Packet {
            attachments,
            ..Packet::new(PacketType::Event, nsp, Some(data))
        }
    }

    /// ACK of the event `id`: `data` is the array of answer values.
    pub(crate) fn ack(
        nsp: impl Into<Cow<'static, str>>,
        id: u64,
        data: Value,
        attachments: Vec<Bytes>,
    ) -> Packet {
        Packet {
            id: Some(id),
            attachments,
            ..Packet::new(PacketType::Ack, nsp, Some(data))
        }
    }

    /// The packet with an acknowledgement id.
    pub(crate) fn with_id(self, id: u64) -> Packet {
        Packet {
            id: Some(id),
            ..self
        }
    }

    /// The event name of an EVENT: its first element, a string or a number.
    pub(crate) fn event_name(&self) -> Option<&Value> {
        match (self.kind, &self.data) {
            (PacketType::Event, Some(Value::Array(items))) => items.first(),
            _ => None,
        }
    }

    /// Whether this packet goes out as BINARY_EVENT or BINARY_ACK.
    fn is_binary(&self) -> bool {
        matches!(self.kind, PacketType::Event | PacketType::Ack) && !self.attachments.is_empty()
    }

    /// The wire type digit.
    fn type_digit(&self) -> u8 {
        match (self.kind, self.is_binary()) {
            (PacketType::Connect, _) => b'0',
            (PacketType::Disconnect, _) => b'1',
            (PacketType::Event, false) => b'2',
            (PacketType::Ack, false) => b'3',
            (PacketType::ConnectError, _) => b'4',
            (PacketType::Event, true) => b'5',
            (PacketType::Ack, true) => b'6',
        }
    }

    /// Encodes the packet once into the Engine.IO messages that carry it; cloning the
    /// result shares the bytes, so an emit to a room of any size serialises once.
    pub(crate) fn encode(&self) -> Encoded {
        let mut text = BytesMut::with_capacity(64 + self.nsp.len());
        text.put_u8(EioType::Message.digit());
        text.put_u8(self.type_digit());
        let mut digits = itoa::Buffer::new();
        if self.is_binary() {
            text.extend_from_slice(digits.format(self.attachments.len()).as_bytes());
            text.put_u8(b'-');
        }
        // `Encoder.encodeAsString`: `if (obj.nsp && "/" !== obj.nsp)`.
        if !self.nsp.is_empty() && self.nsp != "/" {
            text.extend_from_slice(self.nsp.as_bytes());
            text.put_u8(b',');
        }
        if let Some(id) = self.id {
            text.extend_from_slice(digits.format(id).as_bytes());
        }
        if let Some(data) = &self.data {
            // A `Value` always serialises, and a `BytesMut` writer never fails.
            let _ = serde_json::to_writer((&mut text).writer(), data);
        }
        Encoded {
            text: text.freeze(),
            attachments: if self.is_binary() {
                self.attachments.clone()
            } else {
                Vec::new()
            },
        }
    }
}

/// A packet encoded for Engine.IO, ready to queue on any number of sessions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Encoded {
    /// `4` + the packet text: a WebSocket text frame as is, one record of a long-polling
    /// payload as is.
    pub(crate) text: Bytes,
    /// The attachments, each one Engine.IO binary message sent right after `text`.
    pub(crate) attachments: Vec<Bytes>,
}

impl Encoded {
    /// The Engine.IO frames in the order they must be sent.
    pub(crate) fn frames(&self) -> impl Iterator<Item = Frame> + '_ {
        std::iter::once(Frame::Text(self.text.clone()))
            .chain(self.attachments.iter().cloned().map(Frame::Binary))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::binary::to_value;
    use super::super::decoder::{DEFAULT_MAX_ATTACHMENTS, Error, decode_text};
    use super::*;

    fn decode(text: &str) -> Result<(Packet, usize), Error> {
        decode_text(text, DEFAULT_MAX_ATTACHMENTS)
    }

    /// Encodes `packet`, checks the text without the Engine.IO `4`, and decodes it back.
    fn round_trip(packet: Packet, text: &str) {
        let encoded = packet.encode();
        assert_eq!(encoded.text, format!("4{text}"), "{packet:?}");
        let (mut back, attachments) = decode(text).unwrap();
        assert_eq!(attachments, packet.attachments.len(), "{text}");
        back.attachments = encoded.attachments.clone();
        assert_eq!(back, packet, "{text}");
    }

    #[test]
    fn socket_io_parser_encodings() {
        // socket.io-parser test/parser.js, the strings its 4.2.7 Encoder gives.
        round_trip(
            Packet::connect("/woot", Some(json!({"token": "123"}))),
            r#"0/woot,{"token":"123"}"#,
        );
        round_trip(Packet::disconnect("/woot"), "1/woot,");
        round_trip(
            Packet::event("/", json!(["a", 1, {}]), vec![]),
            r#"2["a",1,{}]"#,
        );
        round_trip(
            Packet::event("/", json!([1, "a", {}]), vec![]),
            r#"2[1,"a",{}]"#,
        );
        round_trip(
            Packet::event("/test", json!(["a", 1, {}]), vec![]).with_id(1),
            r#"2/test,1["a",1,{}]"#,
        );
        round_trip(
            Packet::ack("/", 123, json!(["a", 1, {}]), vec![]),
            r#"3123["a",1,{}]"#,
        );
        let error = Packet::new(PacketType::ConnectError, "/", Some(json!("Unauthorized")));
        round_trip(error, r#"4"Unauthorized""#);
        round_trip(
            Packet::connect_error("/", "Unauthorized"),
            r#"4{"message":"Unauthorized"}"#,
        );
    }

    #[test]
    fn protocol_readme_examples() {
        // socket.io-protocol README, "Packet encoding / Examples".
        round_trip(Packet::connect("/", None), "0");
        let sid = json!({"sid": "oSO0OpakMV_3jnilAAAA"});
        round_trip(
            Packet::connect("/admin", Some(sid)),
            r#"0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}"#,
        );
        round_trip(
            Packet::connect_error("/", "Not authorized"),
            r#"4{"message":"Not authorized"}"#,
        );
        round_trip(Packet::event("/", json!(["foo"]), vec![]), r#"2["foo"]"#);
        round_trip(
            Packet::event("/admin", json!(["bar"]), vec![]),
            r#"2/admin,["bar"]"#,
        );
        round_trip(
            Packet::event("/", json!(["foo"]), vec![]).with_id(12),
            r#"212["foo"]"#,
        );
        round_trip(
            Packet::ack("/admin", 13, json!(["bar"]), vec![]),
            r#"3/admin,13["bar"]"#,
        );
        round_trip(Packet::disconnect("/"), "1");
        round_trip(Packet::disconnect("/admin"), "1/admin,");
        let (data, bins) = to_value(&("baz", Bytes::from_static(&[1, 2, 3, 4]))).unwrap();
        round_trip(
            Packet::event("/", data, bins),
            r#"51-["baz",{"_placeholder":true,"num":0}]"#,
        );
        let args = (
            "baz",
            Bytes::from_static(&[1, 2]),
            Bytes::from_static(&[3, 4]),
        );
        let (data, bins) = to_value(&args).unwrap();
        let packet = Packet::event("/admin", data, bins);
        assert_eq!(
            packet.encode().frames().collect::<Vec<_>>(),
            [
                Frame::Text(Bytes::from_static(
                    br#"452-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#
                )),
                Frame::Binary(Bytes::from_static(&[1, 2])),
                Frame::Binary(Bytes::from_static(&[3, 4])),
            ]
        );
        let (data, bins) = to_value(&("bar", Bytes::from_static(&[1, 2, 3, 4]))).unwrap();
        round_trip(
            Packet::ack("/", 15, data, bins),
            r#"61-15["bar",{"_placeholder":true,"num":0}]"#,
        );
    }

    #[test]
    fn binary_encodings_from_the_parser_suite() {
        // socket.io-parser test/buffer.js and test/arraybuffer.js, as its Encoder
        // writes them.
        let abc = Bytes::from_static(b"abc");
        let (data, bins) = to_value(&("a", abc.clone())).unwrap();
        let packet = Packet::event("/cool", data, bins).with_id(23);
        round_trip(packet, r#"51-/cool,23["a",{"_placeholder":true,"num":0}]"#);
        let (data, bins) = to_value(&("a", json!({}), ("c",))).unwrap();
        assert!(bins.is_empty());
        assert_eq!(data, json!(["a", {}, ["c"]]));
        let (data, bins) = to_value(&("a", Bytes::from_static(b"xxx"), json!({}))).unwrap();
        let packet = Packet::ack("/back", 127, data, bins);
        round_trip(
            packet,
            r#"61-/back,127["a",{"_placeholder":true,"num":0},{}]"#,
        );
        let deep =
            json!({"a": "b", "c": 4, "e": {"g": null}, "h": {"_placeholder": true, "num": 0}});
        let packet = Packet::event("/", json!(["a", deep]), vec![Bytes::from_static(&[0; 9])]);
        round_trip(
            packet.with_id(600),
            r#"51-600["a",{"a":"b","c":4,"e":{"g":null},"h":{"_placeholder":true,"num":0}}]"#,
        );
    }

    #[test]
    fn encoding_details() {
        // An empty namespace is written like `/` (`if (obj.nsp && ...)`).
        assert_eq!(Packet::connect("", None).encode().text, "40");
        // Attachments ride only on EVENT and ACK.
        let mut connect = Packet::connect("/", Some(json!({})));
        connect.attachments.push(Bytes::from_static(b"x"));
        assert_eq!(connect.encode().frames().count(), 1);
        // An EVENT without attachments is a plain EVENT, placeholders and all.
        let plain = Packet::event("/", json!(["a", {"_placeholder": true, "num": 0}]), vec![]);
        assert!(plain.encode().text.starts_with(b"42["));
        assert_eq!(plain.event_name(), Some(&json!("a")));
        // Floats are read correctly rounded (serde_json's `float_roundtrip`), so they
        // come back from their own encoding; found by the fuzz target.
        let text = r#"2[111105555555000003093,1.1110555555500001e20,5e-324,-0.0]"#;
        let (packet, _) = decode(text).unwrap();
        let again = packet.encode();
        assert_eq!(
            decode(std::str::from_utf8(&again.text[1..]).unwrap())
                .unwrap()
                .0,
            packet
        );
        // Encoding once and cloning shares the buffer.
        let encoded = Packet::event("/", json!(["x"]), vec![]).encode();
        assert_eq!(encoded.clone().text.as_ptr(), encoded.text.as_ptr());
    }
}
