//! `Sec-WebSocket-Extensions` (RFC 6455 §9.1) and the permessage-deflate negotiation of
//! RFC 7692 §5 and §7.1: the client lists offers in order of preference, the server
//! accepts at most one and answers with the parameters both sides then follow.
//!
//! An offer whose parameters are unknown, repeated or out of range is declined (§7.1:
//! "the server MUST decline an extension negotiation offer..."), and the next offer is
//! tried; declining all of them just means messages go uncompressed.

use crate::http::parse::split_unquoted;

/// What the server wants from permessage-deflate, whatever the client offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DeflateConfig {
    /// Compress each message on its own: no 32 KiB window and deflate state kept per
    /// connection between messages, at the cost of a worse ratio on small messages.
    pub(crate) server_no_context_takeover: bool,
    /// Ask clients to do the same, so the inflater can be reset after each message.
    pub(crate) client_no_context_takeover: bool,
    /// DEFLATE level, 0 (store) to 9 (smallest).
    pub(crate) level: u32,
    /// Messages shorter than this are sent uncompressed: below a few dozen bytes deflate
    /// only adds bytes, and it always costs time. RSV1 is per message (RFC 7692 §6).
    pub(crate) min_size: usize,
}

impl Default for DeflateConfig {
    fn default() -> DeflateConfig {
        DeflateConfig {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            level: 6,
            min_size: 64,
        }
    }
}

/// The permessage-deflate parameters a connection runs with once the handshake is done,
/// with the server's own choices from [`DeflateConfig`] alongside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DeflateParams {
    /// The server resets its compressor after each message.
    pub(crate) server_no_context_takeover: bool,
    /// The client resets its compressor after each message, so we may reset the inflater.
    pub(crate) client_no_context_takeover: bool,
    /// The window the server compresses with; always 15 (see `deflate.rs`).
    pub(crate) server_max_window_bits: u8,
    /// The largest window the client may compress with: what it offered, else 15. Any
    /// is inflated with our 32 KiB window.
    pub(crate) client_max_window_bits: u8,
    pub(crate) level: u32,
    pub(crate) min_size: usize,
}

/// The offers of all the header's lines, in order, as (name, parameters after the first
/// `;`) pairs; a line that is not text offers nothing.
fn offers<'a>(values: &'a [&'a [u8]]) -> impl Iterator<Item = (&'a str, Option<&'a str>)> {
    values
        .iter()
        .filter_map(|value| std::str::from_utf8(value).ok())
        .flat_map(|value| split_unquoted(value, b','))
        .filter_map(|offer| {
            let mut parts = offer.splitn(2, ';');
            let name = parts.next().unwrap_or("").trim();
            (!name.is_empty()).then(|| (name, parts.next()))
        })
}

/// A parameter's value with the quotes of a quoted-string removed. §9.1 asks that the
/// unquoted value still be a token, so an escape or a space inside is refused.
fn unquote(value: &str) -> Option<&str> {
    let value = match value.strip_prefix('"') {
        Some(inner) => inner.strip_suffix('"')?,
        None => value,
    };
    let is_token = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"\"(),/:;<=>?@[\\]{}".contains(&b));
    is_token.then_some(value)
}

/// A window size: a decimal from 8 to 15 without leading zeros (RFC 7692 §7.1.2).
fn window_bits(value: &str) -> Option<u8> {
    match value.as_bytes() {
        [d @ b'8'..=b'9'] => Some(d - b'0'),
        [b'1', d @ b'0'..=b'5'] => Some(10 + d - b'0'),
        _ => None,
    }
}

/// One permessage-deflate offer, read; `None` if it must be declined.
#[derive(Default)]
struct Offer {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: offered without a value, "the client supports any size".
    client_max_window_bits: Option<Option<u8>>,
}

fn read_offer(params: Option<&str>) -> Option<Offer> {
    let mut offer = Offer::default();
    for param in params.into_iter().flat_map(|p| split_unquoted(p, b';')) {
        let (name, value) = match param.split_once('=') {
            Some((name, value)) => (name.trim(), Some(unquote(value.trim())?)),
            None => (param.trim(), None),
        };
        // Each parameter at most once (§7.1), flags without a value, bits with one
        // (`client_max_window_bits` may also come bare, §7.1.2.2).
        match (name.to_ascii_lowercase().as_str(), value) {
            ("server_no_context_takeover", None) if !offer.server_no_context_takeover => {
                offer.server_no_context_takeover = true;
            }
            ("client_no_context_takeover", None) if !offer.client_no_context_takeover => {
                offer.client_no_context_takeover = true;
            }
            ("server_max_window_bits", Some(value)) if offer.server_max_window_bits.is_none() => {
                offer.server_max_window_bits = Some(window_bits(value)?);
            }
            ("client_max_window_bits", value) if offer.client_max_window_bits.is_none() => {
                offer.client_max_window_bits = Some(match value {
                    Some(value) => Some(window_bits(value)?),
                    None => None,
                });
            }
            _ => return None,
        }
    }
    Some(offer)
}

/// Accepts the first permessage-deflate offer in the `Sec-WebSocket-Extensions` lines
/// `values` that we can honour; returns the parameters and the response header's value.
pub(crate) fn negotiate_deflate(
    values: &[&[u8]],
    config: &DeflateConfig,
) -> Option<(DeflateParams, String)> {
    offers(values)
        .filter(|(name, _)| name.eq_ignore_ascii_case("permessage-deflate"))
        .find_map(|(_, params)| {
            let offer = read_offer(params)?;
            // A smaller server window can't be honoured with a fixed 32 KiB window
            // (deflate.rs): declining lets the client fall back to its next offer.
            if offer.server_max_window_bits.is_some_and(|bits| bits < 15) {
                return None;
            }
            Some(accept(&offer, config))
        })
}

fn accept(offer: &Offer, config: &DeflateConfig) -> (DeflateParams, String) {
    let params = DeflateParams {
        // §7.1.1.1: the server may add this even if not offered.
        server_no_context_takeover: offer.server_no_context_takeover
            || config.server_no_context_takeover,
        // §7.1.1.2: offered, it is the client's promise; the server may also demand it.
        client_no_context_takeover: offer.client_no_context_takeover
            || config.client_no_context_takeover,
        server_max_window_bits: 15,
        client_max_window_bits: offer.client_max_window_bits.flatten().unwrap_or(15),
        level: config.level,
        min_size: config.min_size,
    };
    let mut response = String::from("permessage-deflate");
    if params.server_no_context_takeover {
        response.push_str("; server_no_context_takeover");
    }
    if params.client_no_context_takeover {
        response.push_str("; client_no_context_takeover");
    }
    // §7.1.2.1: an offered server_max_window_bits is accepted by answering it.
    if offer.server_max_window_bits.is_some() {
        response.push_str("; server_max_window_bits=15");
    }
    // client_max_window_bits is never answered: leaving it out says we inflate any
    // window up to 32 KiB (§7.1.2.2), which we do.
    (params, response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn negotiate(lines: &[&str]) -> Option<(DeflateParams, String)> {
        let values: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
        negotiate_deflate(&values, &DeflateConfig::default())
    }

    fn response(lines: &[&str]) -> Option<String> {
        negotiate(lines).map(|(_, response)| response)
    }

    #[test]
    fn accepts_what_browsers_offer() {
        // Chromium and Firefox.
        let (params, answer) = negotiate(&["permessage-deflate; client_max_window_bits"]).unwrap();
        assert_eq!(answer, "permessage-deflate");
        assert_eq!(
            (params.server_max_window_bits, params.client_max_window_bits),
            (15, 15)
        );
        assert!(!params.server_no_context_takeover && !params.client_no_context_takeover);
        // Safari's older form and a client preferring no context takeover.
        assert_eq!(
            response(&["permessage-deflate"]).unwrap(),
            "permessage-deflate"
        );
        assert_eq!(
            response(&[
                "permessage-deflate; client_no_context_takeover; server_no_context_takeover"
            ])
            .unwrap(),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        );
    }

    #[test]
    fn parameter_table() {
        // (offer, response or declined, the rule)
        let cases: &[(&str, Option<&str>, &str)] = &[
            (
                "permessage-deflate; server_max_window_bits=15",
                Some("permessage-deflate; server_max_window_bits=15"),
                "§7.1.2.1 accepted by echoing",
            ),
            (
                "permessage-deflate; server_max_window_bits=10",
                None,
                "§7.1.2.1 a window we can't honour",
            ),
            (
                "permessage-deflate; server_max_window_bits",
                None,
                "§7.1.2.1 needs a value",
            ),
            (
                "permessage-deflate; server_max_window_bits=16",
                None,
                "§7.1.2.1 8 to 15",
            ),
            (
                "permessage-deflate; server_max_window_bits=7",
                None,
                "§7.1.2.1 8 to 15",
            ),
            (
                "permessage-deflate; server_max_window_bits=015",
                None,
                "§7.1.2.1 no leading zeros",
            ),
            (
                "permessage-deflate; server_max_window_bits=\"15\"",
                Some("permessage-deflate; server_max_window_bits=15"),
                "§9.1 quoted-string value",
            ),
            (
                "permessage-deflate; client_max_window_bits=10",
                Some("permessage-deflate"),
                "§7.1.2.2 any client window inflates",
            ),
            (
                "permessage-deflate; client_max_window_bits=8",
                Some("permessage-deflate"),
                "§7.1.2.2 8 is allowed",
            ),
            (
                "permessage-deflate; client_max_window_bits=0",
                None,
                "§7.1.2.2 8 to 15",
            ),
            (
                "permessage-deflate; client_max_window_bits=abc",
                None,
                "§7.1.2.2 a decimal",
            ),
            (
                "permessage-deflate; server_no_context_takeover=1",
                None,
                "§7.1.1.1 no value",
            ),
            (
                "permessage-deflate; client_no_context_takeover=1",
                None,
                "§7.1.1.2 no value",
            ),
            (
                "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
                None,
                "§7.1 duplicate",
            ),
            (
                "permessage-deflate; client_max_window_bits; client_max_window_bits=9",
                None,
                "§7.1 duplicate",
            ),
            (
                "permessage-deflate; mystery",
                None,
                "§7.1 unknown parameter",
            ),
            ("permessage-deflate; =5", None, "§9.1 syntax"),
            (
                "permessage-deflate; server_max_window_bits=\"1 5\"",
                None,
                "§9.1 quoted value must be a token",
            ),
            (
                "PerMessage-Deflate; Server_No_Context_Takeover",
                Some("permessage-deflate; server_no_context_takeover"),
                "tokens compare case-insensitively",
            ),
            (
                "x-webkit-deflate-frame",
                None,
                "other extensions are not ours",
            ),
        ];
        for (offer, expected, rule) in cases {
            assert_eq!(response(&[offer]).as_deref(), *expected, "{rule}: {offer}");
        }
    }

    #[test]
    fn the_first_acceptable_offer_wins() {
        // §7.1: offers in preference order; a declined one falls through to the next.
        assert_eq!(
            response(&[concat!(
                "permessage-deflate; server_max_window_bits=10, ",
                "permessage-deflate; client_no_context_takeover"
            )])
            .unwrap(),
            "permessage-deflate; client_no_context_takeover"
        );
        assert_eq!(
            response(&[
                "foo; a=\"x,y\"",
                "permessage-deflate; mystery",
                "permessage-deflate"
            ])
            .unwrap(),
            "permessage-deflate",
            "offers span header lines; a comma inside quotes splits nothing"
        );
        let (params, _) =
            negotiate(&["permessage-deflate; client_max_window_bits=9, permessage-deflate"])
                .unwrap();
        assert_eq!(params.client_max_window_bits, 9);
    }

    #[test]
    fn the_server_may_add_no_context_takeover() {
        let config = DeflateConfig {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            ..DeflateConfig::default()
        };
        let (params, response) = negotiate_deflate(&[b"permessage-deflate"], &config).unwrap();
        assert_eq!(
            response,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        );
        assert!(params.server_no_context_takeover && params.client_no_context_takeover);
    }

    #[test]
    fn nothing_offered_nothing_accepted() {
        assert_eq!(negotiate(&[]), None);
        assert_eq!(negotiate(&["", " , ;"]), None);
        assert_eq!(
            negotiate_deflate(&[b"permessage-deflate\xff"], &DeflateConfig::default()),
            None
        );
    }
}
