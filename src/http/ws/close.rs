//! Close frames (RFC 6455 §5.5.1, §7.4): which status codes may be received and sent,
//! reading a close payload, and the failure that ends a connection with a code.

use bytes::{BufMut, BytesMut};

use crate::http::ws::frame::{self, MAX_CONTROL_PAYLOAD, OpCode};

/// 1000: the purpose of the connection has been fulfilled.
#[cfg(test)]
pub(crate) const NORMAL: u16 = 1000;
/// 1001: the server is going down or the page was left.
pub(crate) const GOING_AWAY: u16 = 1001;
/// 1002: the peer broke the protocol.
pub(crate) const PROTOCOL_ERROR: u16 = 1002;
/// 1007: data inconsistent with the message type, such as text that is not UTF-8.
pub(crate) const INVALID_DATA: u16 = 1007;
/// 1009: a frame or message over the limits.
pub(crate) const TOO_BIG: u16 = 1009;

/// Why the connection is being failed (RFC 6455 §7.1.7): the code and reason of the close
/// frame sent before the TCP connection is closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) code: u16,
    pub(crate) reason: &'static str,
}

impl Failure {
    pub(crate) const fn protocol(reason: &'static str) -> Failure {
        Failure {
            code: PROTOCOL_ERROR,
            reason,
        }
    }

    pub(crate) const fn invalid_data(reason: &'static str) -> Failure {
        Failure {
            code: INVALID_DATA,
            reason,
        }
    }

    pub(crate) const fn too_big(reason: &'static str) -> Failure {
        Failure {
            code: TOO_BIG,
            reason,
        }
    }
}

/// Codes a peer may put in a close frame (RFC 6455 §7.4.1, §7.4.2 and the IANA registry
/// of §11.7): the defined ones except 1004 (reserved), 1005 and 1006 (never sent: they
/// stand for "no code" and "no close frame") and 1015 (TLS failure, never sent); 1012–1014
/// are registered later (restart, try again later, bad gateway); 3000–3999 are for
/// libraries and frameworks, 4000–4999 private. Everything else fails with 1002.
pub(crate) fn is_valid_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Reads a close frame's payload: no payload means no code; otherwise a two-byte code
/// that is allowed and a UTF-8 reason (RFC 6455 §5.5.1).
pub(crate) fn parse_payload(payload: &[u8]) -> Result<(Option<u16>, &str), Failure> {
    match payload {
        [] => Ok((None, "")),
        [_] => Err(Failure::protocol("close payload of one byte")),
        [a, b, reason @ ..] => {
            let code = u16::from_be_bytes([*a, *b]);
            if !is_valid_code(code) {
                return Err(Failure::protocol("invalid close code"));
            }
            let reason = simdutf8::basic::from_utf8(reason)
                .map_err(|_| Failure::invalid_data("close reason is not UTF-8"))?;
            Ok((Some(code), reason))
        }
    }
}

/// Why a close frame could not be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BadClose {
    /// Not a code an endpoint may send (see [`is_valid_code`]).
    Code,
    /// The reason is over 123 bytes: with the code, a control frame holds 125 (§5.5).
    ReasonTooLong,
}

/// Appends a close frame with `code` (none for an empty close) and `reason`.
pub(crate) fn encode(out: &mut BytesMut, code: Option<u16>, reason: &str) -> Result<(), BadClose> {
    let Some(code) = code else {
        frame::encode(out, OpCode::Close, 0, b"");
        return Ok(());
    };
    if !is_valid_code(code) {
        return Err(BadClose::Code);
    }
    if 2 + reason.len() > MAX_CONTROL_PAYLOAD {
        return Err(BadClose::ReasonTooLong);
    }
    frame::encode_header(out, true, 0, OpCode::Close, 2 + reason.len());
    out.put_u16(code);
    out.put_slice(reason.as_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_codes() {
        // RFC 6455 §7.4.1 and the registry: the codes an endpoint may receive.
        for code in [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011] {
            assert!(is_valid_code(code), "§7.4.1 {code}");
        }
        for code in [1012, 1013, 1014, 3000, 3999, 4000, 4999] {
            assert!(is_valid_code(code), "registry {code}");
        }
        // 1004 reserved; 1005, 1006, 1015 must never be sent (§7.4.1); below 1000 unused;
        // 1016–2999 reserved for future RFCs; 5000 and up undefined.
        for code in [
            0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            assert!(!is_valid_code(code), "§7.4.2 {code}");
        }
    }

    #[test]
    fn parses_payloads() {
        assert_eq!(parse_payload(b""), Ok((None, "")));
        assert_eq!(parse_payload(b"\x03\xe8"), Ok((Some(1000), "")));
        assert_eq!(
            parse_payload(b"\x0f\xa0bye \xc3\xa9"),
            Ok((Some(4000), "bye é"))
        );
        assert_eq!(
            parse_payload(b"\x03"),
            Err(Failure::protocol("close payload of one byte")),
            "§5.5.1 a body starts with a two-byte code"
        );
        assert_eq!(
            parse_payload(b"\x03\xed").unwrap_err().code,
            PROTOCOL_ERROR,
            "1005"
        );
        assert_eq!(
            parse_payload(b"\x03\xf7").unwrap_err().code,
            PROTOCOL_ERROR,
            "1015"
        );
        assert_eq!(
            parse_payload(b"\x03\xe8\xff").unwrap_err().code,
            INVALID_DATA,
            "§5.5.1 the reason is UTF-8"
        );
    }

    #[test]
    fn encodes_close_frames() {
        let mut out = BytesMut::new();
        encode(&mut out, Some(NORMAL), "done").unwrap();
        assert_eq!(&out[..], b"\x88\x06\x03\xe8done");
        out.clear();
        encode(&mut out, None, "ignored").unwrap();
        assert_eq!(&out[..], b"\x88\x00");
        assert_eq!(encode(&mut out, Some(1005), ""), Err(BadClose::Code));
        assert_eq!(
            encode(&mut out, Some(NORMAL), &"x".repeat(124)),
            Err(BadClose::ReasonTooLong)
        );
        out.clear();
        encode(&mut out, Some(NORMAL), &"x".repeat(123)).unwrap();
        assert_eq!(out.len(), 2 + 125);
    }
}
