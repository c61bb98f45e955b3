//! The opening handshake, server side (RFC 6455 §4.2): check an upgrade request's head,
//! compute `Sec-WebSocket-Accept`, pick a subprotocol and negotiate permessage-deflate.
//!
//! The result is either what to answer with `101 Switching Protocols` and run the
//! connection with, or the status, reason and headers of the refusal (§4.2.1: "the
//! server MUST stop processing the client's handshake and return an HTTP response with an
//! appropriate error code").

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
#[cfg(test)]
use bytes::{BufMut, BytesMut};
use sha1::{Digest, Sha1};

use crate::http::parse::Version;
use crate::http::status::StatusCode;
use crate::http::ws::extension::{self, DeflateConfig, DeflateParams};

/// The GUID every server appends to the client's key (RFC 6455 §1.3).
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// What the server supports.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Config<'a> {
    /// Subprotocols, any order: the client's order of preference decides.
    pub(crate) protocols: &'a [&'a str],
    /// permessage-deflate, if the server offers it; ignored without the `deflate` feature.
    pub(crate) deflate: Option<DeflateConfig>,
}

/// An accepted handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Accepted {
    accept: [u8; 28],
    /// The subprotocol chosen, one of `Config::protocols`.
    pub(crate) protocol: Option<String>,
    /// permessage-deflate as negotiated, to build the connection's protocol with.
    pub(crate) deflate: Option<DeflateParams>,
    /// The `Sec-WebSocket-Extensions` answer that goes with `deflate`.
    extensions: Option<String>,
}

impl Accepted {
    /// The `Sec-WebSocket-Accept` value.
    pub(crate) fn accept(&self) -> &str {
        // Base64 output is ASCII, so this never takes the default.
        std::str::from_utf8(&self.accept).unwrap_or_default()
    }

    /// The headers of the `101` response, in the order they are written.
    pub(crate) fn headers(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            Some(("Upgrade", "websocket")),
            Some(("Connection", "Upgrade")),
            Some(("Sec-WebSocket-Accept", self.accept())),
            self.protocol
                .as_deref()
                .map(|p| ("Sec-WebSocket-Protocol", p)),
            self.extensions
                .as_deref()
                .map(|e| ("Sec-WebSocket-Extensions", e)),
        ]
        .into_iter()
        .flatten()
    }

    /// Appends the whole `101 Switching Protocols` head.
    #[cfg(test)]
    pub(crate) fn write_response(&self, out: &mut BytesMut) {
        out.put_slice(b"HTTP/1.1 101 Switching Protocols\r\n");
        for (name, value) in self.headers() {
            out.put_slice(name.as_bytes());
            out.put_slice(b": ");
            out.put_slice(value.as_bytes());
            out.put_slice(b"\r\n");
        }
        out.put_slice(b"\r\n");
    }
}

/// Why an upgrade request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rejected {
    /// §4.2.1 item 1: the method must be GET.
    NotGet,
    /// §4.2.1 item 1: HTTP/1.1 or higher.
    OldHttp,
    /// §4.2.1 item 3: `Upgrade` must list `websocket`.
    NoUpgrade,
    /// §4.2.1 item 4: `Connection` must list `Upgrade`.
    NoConnectionUpgrade,
    /// §4.2.1 item 6, §4.4: only version 13 is spoken.
    UnsupportedVersion,
    /// §4.2.1 item 5: one key, 16 bytes in base64.
    BadKey,
}

impl Rejected {
    pub(crate) fn status(self) -> StatusCode {
        match self {
            Rejected::NotGet => StatusCode::METHOD_NOT_ALLOWED,
            Rejected::OldHttp | Rejected::BadKey => StatusCode::BAD_REQUEST,
            Rejected::NoUpgrade | Rejected::NoConnectionUpgrade | Rejected::UnsupportedVersion => {
                StatusCode::UPGRADE_REQUIRED
            }
        }
    }

    /// Text for the response body and the log.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Rejected::NotGet => "a WebSocket handshake must be a GET request",
            Rejected::OldHttp => "a WebSocket handshake needs HTTP/1.1",
            Rejected::NoUpgrade => "this resource needs an Upgrade: websocket request",
            Rejected::NoConnectionUpgrade => "the Connection header must include Upgrade",
            Rejected::UnsupportedVersion => "only WebSocket version 13 is supported",
            Rejected::BadKey => "Sec-WebSocket-Key must be 16 bytes in base64",
        }
    }

    /// Headers the response must carry: `Allow` for 405 (RFC 9110 §15.5.6), `Upgrade`
    /// for 426 (§15.5.22) and the versions we speak for a bad version (RFC 6455 §4.4).
    pub(crate) fn headers(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Rejected::NotGet => &[("Allow", "GET")],
            Rejected::OldHttp | Rejected::BadKey => &[],
            Rejected::NoUpgrade | Rejected::NoConnectionUpgrade => {
                &[("Upgrade", "websocket"), ("Connection", "Upgrade")]
            }
            Rejected::UnsupportedVersion => &[
                ("Sec-WebSocket-Version", "13"),
                ("Upgrade", "websocket"),
                ("Connection", "Upgrade"),
            ],
        }
    }
}

/// The value of `Sec-WebSocket-Accept` for a client's key (RFC 6455 §4.2.2 item 5.4):
/// base64 of the SHA-1 of the key as sent followed by the GUID.
pub(crate) fn accept_key(key: &[u8]) -> [u8; 28] {
    let digest = Sha1::new().chain_update(key).chain_update(GUID).finalize();
    let mut out = [0u8; 28];
    // 20 bytes always encode to 28 characters: the slice is exactly large enough.
    let _ = STANDARD.encode_slice(digest, &mut out);
    out
}

/// Every value of the header `name`, one per line (a list header may be split across
/// lines, RFC 9110 §5.3).
fn values<'h>(headers: &'h [httparse::Header<'_>], name: &str) -> impl Iterator<Item = &'h [u8]> {
    headers
        .iter()
        .filter(move |h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value)
}

/// The comma-separated elements of a list header's lines, trimmed.
fn elements<'h>(headers: &'h [httparse::Header<'_>], name: &str) -> impl Iterator<Item = &'h [u8]> {
    values(headers, name)
        .flat_map(|value| value.split(|&b| b == b','))
        .map(|element| element.trim_ascii())
        .filter(|element| !element.is_empty())
}

fn has_token(headers: &[httparse::Header<'_>], name: &str, token: &str) -> bool {
    elements(headers, name).any(|e| e.eq_ignore_ascii_case(token.as_bytes()))
}

/// Checks an upgrade request (RFC 6455 §4.2.1) and decides the answer (§4.2.2).
pub(crate) fn accept(
    method: &str,
    version: Version,
    headers: &[httparse::Header<'_>],
    config: &Config<'_>,
) -> Result<Accepted, Rejected> {
    if method != "GET" {
        return Err(Rejected::NotGet);
    }
    if version != Version::Http11 {
        return Err(Rejected::OldHttp);
    }
    // Upgrade lists products (`websocket`, possibly beside others, RFC 9110 §7.8);
    // Connection lists options (`keep-alive, Upgrade` from Firefox).
    if !has_token(headers, "upgrade", "websocket") {
        return Err(Rejected::NoUpgrade);
    }
    if !has_token(headers, "connection", "upgrade") {
        return Err(Rejected::NoConnectionUpgrade);
    }
    let mut versions = values(headers, "sec-websocket-version");
    if !(versions.next().is_some_and(|v| v.trim_ascii() == b"13") && versions.next().is_none()) {
        return Err(Rejected::UnsupportedVersion);
    }
    let mut keys = values(headers, "sec-websocket-key");
    let (Some(key), None) = (keys.next(), keys.next()) else {
        return Err(Rejected::BadKey);
    };
    let key = key.trim_ascii();
    // 16 bytes are 24 characters with padding; room for 18 lets the decoder's length
    // estimate pass, and anything else that decodes is the wrong length.
    let mut nonce = [0u8; 18];
    if key.len() != 24 || STANDARD.decode_slice(key, &mut nonce) != Ok(16) {
        return Err(Rejected::BadKey);
    }

    // §4.2.2 item 5.4: the first of the client's protocols, in its order, we support.
    let protocol = elements(headers, "sec-websocket-protocol")
        .find_map(|offered| {
            config
                .protocols
                .iter()
                .find(|ours| ours.as_bytes() == offered)
        })
        .map(|p| p.to_string());

    let (deflate, extensions) = match config.deflate {
        Some(deflate) if cfg!(feature = "deflate") => {
            let lines: Vec<&[u8]> = values(headers, "sec-websocket-extensions").collect();
            extension::negotiate_deflate(&lines, &deflate).unzip()
        }
        _ => (None, None),
    };

    Ok(Accepted {
        accept: accept_key(key),
        protocol,
        deflate,
        extensions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The handshake of RFC 6455 §1.3 as a browser sends it, with `extra` headers.
    fn request<'a>(extra: &[(&'a str, &'a str)]) -> Vec<httparse::Header<'a>> {
        let base = [
            ("Host", "server.example.com"),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Origin", "http://example.com"),
            ("Sec-WebSocket-Version", "13"),
        ];
        let mut headers: Vec<_> = base
            .iter()
            .filter(|(name, _)| !extra.iter().any(|(n, _)| n == name))
            .chain(extra.iter().filter(|(_, v)| !v.is_empty()))
            .map(|&(name, value)| httparse::Header {
                name,
                value: value.as_bytes(),
            })
            .collect();
        headers.sort_by_key(|h| h.name == "Host");
        headers
    }

    fn try_accept(extra: &[(&str, &str)], config: &Config<'_>) -> Result<Accepted, Rejected> {
        accept("GET", Version::Http11, &request(extra), config)
    }

    #[test]
    fn the_rfc_example() {
        // RFC 6455 §1.3.
        assert_eq!(
            &accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        let accepted = try_accept(&[], &Config::default()).unwrap();
        assert_eq!(accepted.accept(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(
            (accepted.protocol.as_deref(), accepted.deflate),
            (None, None)
        );
        let mut out = BytesMut::new();
        accepted.write_response(&mut out);
        assert_eq!(
            &out[..],
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        );
    }

    #[test]
    fn request_table() {
        type Case<'a> = (&'a [(&'a str, &'a str)], Result<(), Rejected>, &'a str);
        let cases: &[Case<'_>] = &[
            (
                &[("Upgrade", "WebSocket")],
                Ok(()),
                "§4.2.1 item 3 case-insensitive",
            ),
            (
                &[("Upgrade", "h2c, websocket")],
                Ok(()),
                "Upgrade is a list",
            ),
            (
                &[("Connection", "keep-alive, Upgrade")],
                Ok(()),
                "§4.2.1 item 4 a list (Firefox)",
            ),
            (
                &[("Connection", "upgrade")],
                Ok(()),
                "Connection tokens are case-insensitive",
            ),
            (
                &[("Sec-WebSocket-Version", " 13 ")],
                Ok(()),
                "OWS around the value",
            ),
            (
                &[("Upgrade", "")],
                Err(Rejected::NoUpgrade),
                "§4.2.1 item 3 missing",
            ),
            (
                &[("Upgrade", "websocket2")],
                Err(Rejected::NoUpgrade),
                "§4.2.1 item 3 another protocol",
            ),
            (
                &[("Connection", "")],
                Err(Rejected::NoConnectionUpgrade),
                "§4.2.1 item 4 missing",
            ),
            (
                &[("Connection", "keep-alive")],
                Err(Rejected::NoConnectionUpgrade),
                "§4.2.1 item 4 without upgrade",
            ),
            (
                &[("Sec-WebSocket-Version", "")],
                Err(Rejected::UnsupportedVersion),
                "§4.2.1 item 6 missing",
            ),
            (
                &[("Sec-WebSocket-Version", "8")],
                Err(Rejected::UnsupportedVersion),
                "§4.4 an older draft",
            ),
            (
                &[("Sec-WebSocket-Version", "13, 8")],
                Err(Rejected::UnsupportedVersion),
                "§4.2.1 item 6 exactly 13",
            ),
            (
                &[("Sec-WebSocket-Key", "")],
                Err(Rejected::BadKey),
                "§4.2.1 item 5 missing",
            ),
            (
                &[("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ")],
                Err(Rejected::BadKey),
                "padding",
            ),
            (
                &[("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZSE=")],
                Err(Rejected::BadKey),
                "17 bytes",
            ),
            (
                &[("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25j")],
                Err(Rejected::BadKey),
                "15 bytes",
            ),
            (
                &[("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=!")],
                Err(Rejected::BadKey),
                "not base64",
            ),
            (
                &[("Sec-WebSocket-Key", "the sample nonce")],
                Err(Rejected::BadKey),
                "16 bytes, not encoded",
            ),
        ];
        for (extra, expected, rule) in cases {
            let got = try_accept(extra, &Config::default()).map(|_| ());
            assert_eq!(got, *expected, "{rule}");
        }
    }

    #[test]
    fn the_request_line() {
        let headers = request(&[]);
        let config = Config::default();
        assert_eq!(
            accept("POST", Version::Http11, &headers, &config),
            Err(Rejected::NotGet)
        );
        assert_eq!(
            accept("get", Version::Http11, &headers, &config),
            Err(Rejected::NotGet)
        );
        assert_eq!(
            accept("GET", Version::Http10, &headers, &config),
            Err(Rejected::OldHttp)
        );
    }

    #[test]
    fn one_key_and_one_version() {
        let mut headers = request(&[]);
        headers.push(httparse::Header {
            name: "Sec-WebSocket-Key",
            value: b"AAAAAAAAAAAAAAAAAAAAAA==",
        });
        let config = Config::default();
        assert_eq!(
            accept("GET", Version::Http11, &headers, &config),
            Err(Rejected::BadKey)
        );
        let mut headers = request(&[]);
        headers.push(httparse::Header {
            name: "sec-websocket-version",
            value: b"8",
        });
        assert_eq!(
            accept("GET", Version::Http11, &headers, &config),
            Err(Rejected::UnsupportedVersion)
        );
    }

    #[test]
    fn refusals_map_to_responses() {
        assert_eq!(Rejected::UnsupportedVersion.status().as_u16(), 426);
        assert!(
            Rejected::UnsupportedVersion
                .headers()
                .contains(&("Sec-WebSocket-Version", "13"))
        );
        assert_eq!(Rejected::NoUpgrade.status().as_u16(), 426);
        assert!(
            Rejected::NoUpgrade
                .headers()
                .contains(&("Upgrade", "websocket"))
        );
        assert_eq!(Rejected::BadKey.status().as_u16(), 400);
        assert_eq!(Rejected::NotGet.status().as_u16(), 405);
        assert_eq!(Rejected::NotGet.headers(), &[("Allow", "GET")]);
    }

    #[test]
    fn subprotocols() {
        let config = Config {
            protocols: &["graphql-ws", "chat", "superchat"],
            deflate: None,
        };
        let chosen = |offer: &str| {
            try_accept(&[("Sec-WebSocket-Protocol", offer)], &config)
                .unwrap()
                .protocol
        };
        // §4.2.2 item 5.4: the client's order decides among those the server supports.
        assert_eq!(chosen("superchat, chat").as_deref(), Some("superchat"));
        assert_eq!(chosen("mqtt,  chat ,superchat").as_deref(), Some("chat"));
        assert_eq!(chosen("mqtt").as_deref(), None);
        assert_eq!(
            chosen("Chat").as_deref(),
            None,
            "protocol names are compared exactly"
        );
        let accepted = try_accept(&[("Sec-WebSocket-Protocol", "chat")], &config).unwrap();
        assert!(
            accepted
                .headers()
                .any(|h| h == ("Sec-WebSocket-Protocol", "chat"))
        );
        // Offered across two lines.
        let mut headers = request(&[("Sec-WebSocket-Protocol", "mqtt")]);
        headers.push(httparse::Header {
            name: "Sec-WebSocket-Protocol",
            value: b"chat",
        });
        let accepted = accept("GET", Version::Http11, &headers, &config).unwrap();
        assert_eq!(accepted.protocol.as_deref(), Some("chat"));
    }

    #[test]
    fn deflate_only_when_configured_and_built() {
        let offer = [(
            "Sec-WebSocket-Extensions",
            "permessage-deflate; client_max_window_bits",
        )];
        let plain = try_accept(&offer, &Config::default()).unwrap();
        assert_eq!(plain.deflate, None);
        assert_eq!(plain.headers().count(), 3);
        let config = Config {
            protocols: &[],
            deflate: Some(DeflateConfig::default()),
        };
        let accepted = try_accept(&offer, &config).unwrap();
        if cfg!(feature = "deflate") {
            assert_eq!(accepted.deflate.map(|d| d.server_max_window_bits), Some(15));
            assert!(
                accepted
                    .headers()
                    .any(|h| h == ("Sec-WebSocket-Extensions", "permessage-deflate"))
            );
        } else {
            assert_eq!(accepted.deflate, None);
        }
    }
}
