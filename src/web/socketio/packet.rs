//! Socket.IO v5 packets: `<type>[<attachments>-][<nsp>,][<ack id>][<json>]`.
//!
//! socket.io-protocol README, "Packet encoding": the namespace is written only when it is
//! not `/`, the attachment count only for the binary types, and each packet travels as
//! one Engine.IO message (prefix `4`) followed by one binary message per attachment. The
//! reference codec is socket.io-parser 4.2.7 (`Encoder.encodeAsString`,
//! `Decoder.decodeString`, `isPayloadValid`), matched on everything its real clients
//! produce. Where it only accepts input through JavaScript's number coercions (`5 1-`,
//! `50x1-`, `51e0-`, or `2 ["a"]` read as ack id 0), this decoder wants plain ASCII digits;
//! and an EVENT must carry its payload, which the protocol text requires ("MUST be a
//! non-empty array") but the parser leaves to the server.

use std::borrow::Cow;
use std::fmt;

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

/// The event names socket.io-parser refuses in an EVENT (`RESERVED_EVENTS`): the
/// listeners of these names have their own meaning on each side.
const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// socket.io-parser's default `maxAttachments`.
pub(crate) const DEFAULT_MAX_ATTACHMENTS: usize = 10;

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

/// Why a packet was refused. Any of them closes that client, as socket.io's
/// `Client.ondata` does when the decoder throws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Error {
    /// An empty message: no packet type.
    Empty,
    /// A type other than `0`–`6` (socket.io-parser: "unknown packet type").
    UnknownType,
    /// A binary type without a count of at least 1 then `-` ("Illegal attachments").
    IllegalAttachments,
    /// More attachments than allowed ("too many attachments").
    TooManyAttachments,
    /// An ack id too large for 64 bits.
    AckIdTooLarge,
    /// JSON that does not parse, or does not suit the type ("invalid payload").
    InvalidPayload,
    /// A placeholder whose `num` is not the index of an attachment ("illegal attachments").
    BadPlaceholder,
    /// A text packet while attachments were expected ("got plaintext data when
    /// reconstructing a packet").
    UnexpectedText,
    /// A binary message with no packet waiting for it ("got binary data when not
    /// reconstructing a packet").
    UnexpectedBinary,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Empty => "empty Socket.IO packet",
            Error::UnknownType => "unknown packet type",
            Error::IllegalAttachments => "Illegal attachments",
            Error::TooManyAttachments => "too many attachments",
            Error::AckIdTooLarge => "ack id too large",
            Error::InvalidPayload => "invalid payload",
            Error::BadPlaceholder => "illegal attachments",
            Error::UnexpectedText => "got plaintext data when reconstructing a packet",
            Error::UnexpectedBinary => "got binary data when not reconstructing a packet",
        })
    }
}

impl std::error::Error for Error {}

/// Decodes the text of one packet (an Engine.IO message's data, without the `4`).
/// Returns the packet and how many binary attachments must follow it (0 for the plain
/// types); the attachments themselves are the [`Decoder`](super::decoder::Decoder)'s
/// business.
pub(crate) fn decode_text(text: &str, max_attachments: usize) -> Result<(Packet, usize), Error> {
    let bytes = text.as_bytes();
    let (&first, _) = bytes.split_first().ok_or(Error::Empty)?;
    let (kind, binary) = match first {
        b'0' => (PacketType::Connect, false),
        b'1' => (PacketType::Disconnect, false),
        b'2' => (PacketType::Event, false),
        b'3' => (PacketType::Ack, false),
        b'4' => (PacketType::ConnectError, false),
        b'5' => (PacketType::Event, true),
        b'6' => (PacketType::Ack, true),
        _ => return Err(Error::UnknownType),
    };
    let mut at = 1;

    let mut attachments = 0;
    if binary {
        let digits = count_digits(&bytes[at..]);
        if digits == 0 || bytes.get(at + digits) != Some(&b'-') {
            return Err(Error::IllegalAttachments);
        }
        // Saturating: a count too large for usize is as much too many as any other.
        attachments = bytes[at..at + digits].iter().fold(0usize, |n, d| {
            n.saturating_mul(10).saturating_add(usize::from(d - b'0'))
        });
        // socket.io-parser 4.2.7 refuses 0: a binary packet announces what follows.
        if attachments == 0 {
            return Err(Error::IllegalAttachments);
        }
        if attachments > max_attachments {
            return Err(Error::TooManyAttachments);
        }
        at += digits + 1;
    }

    let mut nsp = Cow::Borrowed("/");
    if bytes.get(at) == Some(&b'/') {
        // Up to the first comma, or to the end: `0/admin` is a CONNECT to `/admin`.
        let end = bytes[at..].iter().position(|&b| b == b',').map(|n| at + n);
        // `/` and `,` are ASCII, so both ends are character boundaries.
        nsp = Cow::Owned(text[at..end.unwrap_or(text.len())].to_owned());
        at = end.map_or(text.len(), |end| end + 1);
    }

    let mut id = None;
    let digits = count_digits(&bytes[at..]);
    if digits > 0 {
        let mut n: u64 = 0;
        for &d in &bytes[at..at + digits] {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d - b'0')))
                .ok_or(Error::AckIdTooLarge)?;
        }
        id = Some(n);
        at += digits;
    }

    let data = match &text[at..] {
        "" => None,
        json => Some(serde_json::from_str::<Value>(json).map_err(|_| Error::InvalidPayload)?),
    };
    if !payload_is_valid(kind, data.as_ref()) {
        return Err(Error::InvalidPayload);
    }
    let packet = Packet {
        kind,
        nsp,
        id,
        data,
        attachments: Vec::new(),
    };
    Ok((packet, attachments))
}

/// The length of the run of ASCII digits at the start of `bytes`.
fn count_digits(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|b| b.is_ascii_digit()).count()
}

/// socket.io-parser's `isPayloadValid`, plus the protocol's rule that an EVENT has a
/// payload; an absent payload is otherwise accepted, as the parser does.
fn payload_is_valid(kind: PacketType, data: Option<&Value>) -> bool {
    match (kind, data) {
        (PacketType::Event, None) => false,
        (PacketType::Disconnect, data) => data.is_none(),
        (_, None) => true,
        (PacketType::Connect, Some(data)) => data.is_object(),
        (PacketType::ConnectError, Some(data)) => data.is_object() || data.is_string(),
        (PacketType::Event, Some(data)) => match data.as_array().and_then(|a| a.first()) {
            Some(Value::Number(_)) => true,
            Some(Value::String(name)) => !RESERVED_EVENTS.contains(&name.as_str()),
            _ => false,
        },
        (PacketType::Ack, Some(data)) => data.is_array(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::binary::to_value;
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
    fn edge_cases_as_socket_io_parser_reads_them() {
        // Each as socket.io-parser 4.2.7's Decoder reads it.
        type Case = (
            &'static str,
            PacketType,
            &'static str,
            Option<u64>,
            Option<Value>,
        );
        let cases: &[Case] = &[
            ("0/admin", PacketType::Connect, "/admin", None, None),
            // A namespace needs its slash: digits after the type are an ack id.
            ("0123", PacketType::Connect, "/", Some(123), None),
            (
                "2/,[\"a\"]",
                PacketType::Event,
                "/",
                None,
                Some(json!(["a"])),
            ),
            ("2/", PacketType::Event, "/", None, None),
            ("1/a", PacketType::Disconnect, "/a", None, None),
            ("3", PacketType::Ack, "/", None, None),
            ("3/a,", PacketType::Ack, "/a", None, None),
            ("4", PacketType::ConnectError, "/", None, None),
            (
                "20001[\"a\"]",
                PacketType::Event,
                "/",
                Some(1),
                Some(json!(["a"])),
            ),
            (
                "2[\"a\"] ",
                PacketType::Event,
                "/",
                None,
                Some(json!(["a"])),
            ),
            ("2[1.5]", PacketType::Event, "/", None, Some(json!([1.5]))),
            ("2[-1]", PacketType::Event, "/", None, Some(json!([-1]))),
            (
                "0/a?x=1,{}",
                PacketType::Connect,
                "/a?x=1",
                None,
                Some(json!({})),
            ),
            ("0/a™,{}", PacketType::Connect, "/a™", None, Some(json!({}))),
            ("3/a,0[]", PacketType::Ack, "/a", Some(0), Some(json!([]))),
        ];
        for (text, kind, nsp, id, data) in cases {
            if *text == "2/" {
                // The parser lets an EVENT without payload through; the protocol does not.
                assert_eq!(decode(text).err(), Some(Error::InvalidPayload));
                continue;
            }
            let (packet, attachments) = decode(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(attachments, 0);
            assert_eq!(
                (packet.kind, &*packet.nsp, packet.id, &packet.data),
                (*kind, *nsp, *id, data),
                "{text}"
            );
        }
        assert_eq!(decode(r#"51-/a,3["x"]"#).unwrap().1, 1);
        assert_eq!(decode(r#"501-["x"]"#).unwrap().1, 1);
        assert_eq!(
            decode("218446744073709551615[\"a\"]").unwrap().0.id,
            Some(u64::MAX)
        );
        assert_eq!(
            decode("218446744073709551616[\"a\"]").err(),
            Some(Error::AckIdTooLarge)
        );
    }

    #[test]
    fn malformed_packets() {
        // socket.io-parser test/parser.js "throw an error upon parsing error" first,
        // then cases its Decoder refuses too, then the JavaScript coercions refused here.
        let cases = [
            (r#"442["some","data""#, Error::InvalidPayload),
            (r#"0/admin,"invalid""#, Error::InvalidPayload),
            ("0[]", Error::InvalidPayload),
            ("1/admin,{}", Error::InvalidPayload),
            (r#"2/admin,"invalid"#, Error::InvalidPayload),
            ("2/admin,{}", Error::InvalidPayload),
            (r#"2[{"toString":"foo"}]"#, Error::InvalidPayload),
            (r#"2[true,"foo"]"#, Error::InvalidPayload),
            (r#"2[null,"bar"]"#, Error::InvalidPayload),
            (r#"2["connect"]"#, Error::InvalidPayload),
            (r#"2["disconnect","123"]"#, Error::InvalidPayload),
            ("5", Error::IllegalAttachments),
            ("51", Error::IllegalAttachments),
            ("5a-", Error::IllegalAttachments),
            ("51.23-", Error::IllegalAttachments),
            ("999", Error::UnknownType),
            ("0null", Error::InvalidPayload),
            (r#"2admin,["a"]"#, Error::InvalidPayload),
            (r#"2/a,b,["x"]"#, Error::InvalidPayload),
            ("21a", Error::InvalidPayload),
            (r#"2["a"]x"#, Error::InvalidPayload),
            ("2[]", Error::InvalidPayload),
            ("2{}", Error::InvalidPayload),
            (r#"2["newListener"]"#, Error::InvalidPayload),
            (r#"2["removeListener"]"#, Error::InvalidPayload),
            (r#"2["connect_error"]"#, Error::InvalidPayload),
            (r#"2["disconnecting"]"#, Error::InvalidPayload),
            ("4[]", Error::InvalidPayload),
            ("4null", Error::InvalidPayload),
            ("4 1", Error::InvalidPayload),
            (r#"50-["a"]"#, Error::IllegalAttachments),
            (r#"5-1-["a"]"#, Error::IllegalAttachments),
            (r#"2-1["a"]"#, Error::InvalidPayload),
            ("7", Error::UnknownType),
            ("-1", Error::UnknownType),
            ("", Error::Empty),
            (r#"5 1-["a"]"#, Error::IllegalAttachments),
            (r#"50x1-["a"]"#, Error::IllegalAttachments),
            (r#"51e0-["a"]"#, Error::IllegalAttachments),
            ("2", Error::InvalidPayload),
            (r#"51-"#, Error::InvalidPayload),
            ("2[\"\\ud800\"]", Error::InvalidPayload),
        ];
        for (text, error) in cases {
            assert_eq!(decode(text).err(), Some(error), "{text}");
        }
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
