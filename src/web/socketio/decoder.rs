//! Reading packets: the text of one packet, then the streaming decoder that joins a
//! binary packet with the attachments it announced.
//!
//! socket.io-protocol README, "Packet encoding": `<type>[<attachments>-][<nsp>,][<ack
//! id>][<json>]`, where a BINARY_EVENT or BINARY_ACK is followed by each attachment as its
//! own Engine.IO binary message. The reference is socket.io-parser 4.2.7:
//! `Decoder.decodeString` and `isPayloadValid` for the text, `Decoder.add` with its
//! `BinaryReconstructor` for the stream (a text packet while attachments are awaited, or a
//! binary message when none are, is an error, and the placeholders are checked once the
//! last attachment is in).
//!
//! It is matched on everything real clients produce. Where it only accepts input through
//! JavaScript's number coercions (`5 1-`, `5+1-`, `50x1-`, `51e0-`; `2 ["a"]` read as ack
//! id 0; an empty string read as CONNECT), this decoder wants plain ASCII digits; ack ids
//! stop at `u64::MAX` where JavaScript rounds them to floats; a lone surrogate escape in
//! a string reads as U+FFFD; and an EVENT must carry its payload, which the protocol
//! requires ("MUST be a non-empty array") but the parser leaves to the server.

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use serde_json::Value;

use super::binary::check_placeholders;
use super::packet::{Packet, PacketType};

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
/// types); the attachments themselves are the [`Decoder`]'s business.
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
        json => Some(parse_json(json)?),
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

/// Parses the payload. `JSON.parse` keeps a lone surrogate escape such as `"\ud83d"`,
/// which `JSON.stringify` writes for a string cut in the middle of an emoji; a Rust
/// string cannot hold one and serde_json refuses it. Rather than close the client for
/// it, such escapes become U+FFFD, on this error path only.
fn parse_json(json: &str) -> Result<Value, Error> {
    serde_json::from_str(json).or_else(|_| {
        let fixed = replace_lone_surrogates(json).ok_or(Error::InvalidPayload)?;
        serde_json::from_str(&fixed).map_err(|_| Error::InvalidPayload)
    })
}

/// `json` with each `\uXXXX` escape of an unpaired surrogate replaced by `\ufffd`, or
/// `None` if it has none. Escapes are consumed in pairs, so `\\u` is no escape.
fn replace_lone_surrogates(json: &str) -> Option<String> {
    let bytes = json.as_bytes();
    let unit = |at: usize| {
        let hex = bytes.get(at..at + 6)?.strip_prefix(b"\\u")?;
        u16::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
    };
    let (mut out, mut copied, mut at) = (String::new(), 0, 0);
    while at < bytes.len() {
        if bytes[at] != b'\\' {
            at += 1;
            continue;
        }
        match unit(at) {
            Some(0xD800..=0xDBFF) if matches!(unit(at + 6), Some(0xDC00..=0xDFFF)) => at += 12,
            Some(0xD800..=0xDFFF) => {
                // `at` is on a backslash and `at + 6` just after ASCII hex digits: both
                // are character boundaries.
                out.push_str(&json[copied..at]);
                out.push_str("\\ufffd");
                at += 6;
                copied = at;
            }
            _ => at += 2,
        }
    }
    (copied > 0).then(|| out + &json[copied..])
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
    #[cfg(test)]
    pub(crate) fn is_partial(&self) -> bool {
        self.partial.is_some()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn decode(text: &str) -> Result<(Packet, usize), Error> {
        decode_text(text, DEFAULT_MAX_ATTACHMENTS)
    }

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
    fn lone_surrogates_become_replacement_characters() {
        let cases = [
            (r#"2["\ud83d"]"#, json!(["\u{fffd}"])),
            (
                r#"2["a\udc00b","\ud83d\ude00"]"#,
                json!(["a\u{fffd}b", "😀"]),
            ),
            (
                r#"2["x",{"\ud800":"\uDBFF\uDBFF"}]"#,
                json!(["x", {"\u{fffd}": "\u{fffd}\u{fffd}"}]),
            ),
            (r#"2["\\ud800"]"#, json!(["\\ud800"])),
        ];
        for (text, data) in cases {
            assert_eq!(decode(text).unwrap().0.data, Some(data), "{text}");
        }
        for text in [
            r#"2["\ud800"#,
            r#"2["\ud800",]"#,
            r#"2["\ud80"]"#,
            r#"2["\"]"#,
        ] {
            assert_eq!(decode(text).err(), Some(Error::InvalidPayload), "{text}");
        }
        assert_eq!(
            replace_lone_surrogates(r#"["\ud83d\ude00", "\\ud800"]"#),
            None
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
        ];
        for (text, error) in cases {
            assert_eq!(decode(text).err(), Some(error), "{text}");
        }
    }
}
