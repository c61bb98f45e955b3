//! What servers and emitters publish to each other: one binary envelope per operation,
//! carrying the packet as already encoded for Engine.IO, so a process that receives a
//! broadcast hands the same bytes to its sockets without decoding them.
//!
//! Layout: integers are big-endian; a string (UTF-8) or a byte string is a `u32` length
//! and its bytes; a list is a `u32` count and its items.
//!
//! | field | |
//! |---|---|
//! | magic | `CRF1`: anything else on the channel is ignored |
//! | origin | `u64`, the uid of the publishing process, which ignores its own messages |
//! | kind | `u8`, below |
//! | namespace | string |
//!
//! and then, by kind:
//!
//! | kind | fields |
//! |---|---|
//! | 1 broadcast | rooms (list), except (list), the packet's text message (`4` + packet, bytes), its binary attachments (list of bytes) |
//! | 2 close room | room |
//! | 3 disconnect | rooms, except |
//! | 4 fetch sockets | request id (`u64`), rooms, except |
//! | 5 sockets (the answer, on the asker's response channel) | request id, socket count, then per socket its id and its rooms (list) |

use bytes::Bytes;

use crate::web::socketio::adapter::{SocketInfo, Target};
use crate::web::socketio::packet::Encoded;

const MAGIC: &[u8; 4] = b"CRF1";

/// One message between processes.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Envelope {
    /// The uid of the process that published it.
    pub(crate) origin: u64,
    pub(crate) nsp: String,
    pub(crate) body: Body,
}

/// What a message asks of the processes that get it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Body {
    Broadcast {
        target: Target,
        packet: Encoded,
    },
    CloseRoom {
        room: String,
    },
    Disconnect {
        target: Target,
    },
    FetchSockets {
        request: u64,
        target: Target,
    },
    Sockets {
        request: u64,
        sockets: Vec<SocketInfo>,
    },
}

/// A random process uid, from the OS random source; std's per-process random hash keys
/// if it has none.
pub(crate) fn new_uid() -> u64 {
    let mut bytes = [0u8; 8];
    match getrandom::fill(&mut bytes) {
        Ok(()) => u64::from_be_bytes(bytes),
        Err(_) => {
            use std::hash::BuildHasher;
            std::collections::hash_map::RandomState::new()
                .hash_one((std::process::id(), std::time::SystemTime::now()))
        }
    }
}

impl Envelope {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::with_capacity(64 + self.nsp.len()));
        w.0.extend_from_slice(MAGIC);
        w.u64(self.origin);
        w.0.push(match &self.body {
            Body::Broadcast { .. } => 1,
            Body::CloseRoom { .. } => 2,
            Body::Disconnect { .. } => 3,
            Body::FetchSockets { .. } => 4,
            Body::Sockets { .. } => 5,
        });
        w.bytes(self.nsp.as_bytes());
        match &self.body {
            Body::Broadcast { target, packet } => {
                w.target(target);
                w.bytes(&packet.text);
                w.len(packet.attachments.len());
                for attachment in &packet.attachments {
                    w.bytes(attachment);
                }
            }
            Body::CloseRoom { room } => w.bytes(room.as_bytes()),
            Body::Disconnect { target } => w.target(target),
            Body::FetchSockets { request, target } => {
                w.u64(*request);
                w.target(target);
            }
            Body::Sockets { request, sockets } => {
                w.u64(*request);
                w.len(sockets.len());
                for socket in sockets {
                    w.bytes(socket.id.as_bytes());
                    w.list(&socket.rooms);
                }
            }
        }
        w.0
    }

    /// The envelope in `bytes`, or `None` if they are not one (another publisher on the
    /// channel, or a newer layout).
    pub(crate) fn decode(bytes: Bytes) -> Option<Envelope> {
        if !bytes.starts_with(MAGIC) {
            return None;
        }
        let mut r = Reader { bytes, at: 4 };
        let origin = r.u64()?;
        let kind = r.u8()?;
        let nsp = r.string()?;
        let body = match kind {
            1 => {
                let target = r.target()?;
                let text = r.bytes()?;
                // The text goes out as a WebSocket text frame as it is.
                std::str::from_utf8(&text).ok()?;
                let count = r.count()?;
                let mut attachments = Vec::with_capacity(count);
                for _ in 0..count {
                    attachments.push(r.bytes()?);
                }
                Body::Broadcast {
                    target,
                    packet: Encoded { text, attachments },
                }
            }
            2 => Body::CloseRoom { room: r.string()? },
            3 => Body::Disconnect {
                target: r.target()?,
            },
            4 => Body::FetchSockets {
                request: r.u64()?,
                target: r.target()?,
            },
            5 => {
                let request = r.u64()?;
                let count = r.count()?;
                let mut sockets = Vec::with_capacity(count);
                for _ in 0..count {
                    sockets.push(SocketInfo {
                        id: r.string()?,
                        rooms: r.list()?,
                    });
                }
                Body::Sockets { request, sockets }
            }
            _ => return None,
        };
        (r.at == r.bytes.len()).then_some(Envelope { origin, nsp, body })
    }
}

struct Writer(Vec<u8>);

impl Writer {
    fn u64(&mut self, n: u64) {
        self.0.extend_from_slice(&n.to_be_bytes());
    }

    fn len(&mut self, n: usize) {
        // Redis caps a message at 512 MB, so a length past u32 never gets through anyway.
        self.0
            .extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes());
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.len(bytes.len());
        self.0.extend_from_slice(bytes);
    }

    fn list(&mut self, items: &[String]) {
        self.len(items.len());
        for item in items {
            self.bytes(item.as_bytes());
        }
    }

    fn target(&mut self, target: &Target) {
        self.list(&target.rooms);
        self.list(&target.except);
    }
}

struct Reader {
    bytes: Bytes,
    at: usize,
}

impl Reader {
    fn take(&mut self, n: usize) -> Option<Bytes> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())?;
        let taken = self.bytes.slice(self.at..end);
        self.at = end;
        Some(taken)
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?[..].try_into().ok()?))
    }

    fn u32(&mut self) -> Option<usize> {
        let n = u32::from_be_bytes(self.take(4)?[..].try_into().ok()?);
        usize::try_from(n).ok()
    }

    /// A count of items, each at least four bytes long: no more than could follow, so
    /// a bad count cannot reserve much.
    fn count(&mut self) -> Option<usize> {
        let n = self.u32()?;
        (n <= (self.bytes.len() - self.at) / 4).then_some(n)
    }

    fn bytes(&mut self) -> Option<Bytes> {
        let n = self.u32()?;
        self.take(n)
    }

    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }

    fn list(&mut self) -> Option<Vec<String>> {
        let count = self.count()?;
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            items.push(self.string()?);
        }
        Some(items)
    }

    fn target(&mut self) -> Option<Target> {
        Some(Target {
            rooms: self.list()?,
            except: self.list()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::web::socketio::packet::Packet;

    fn round_trip(body: Body) {
        let envelope = Envelope {
            origin: 0x0123_4567_89ab_cdef,
            nsp: "/admin".to_owned(),
            body,
        };
        let bytes = envelope.encode();
        assert_eq!(Envelope::decode(Bytes::from(bytes.clone())), Some(envelope));
        // Every truncation is refused, not misread.
        for n in 0..bytes.len() {
            assert_eq!(Envelope::decode(Bytes::copy_from_slice(&bytes[..n])), None);
        }
    }

    fn target() -> Target {
        Target {
            rooms: vec!["a".into(), "b".into()],
            except: vec!["c".into()],
        }
    }

    #[test]
    fn every_kind_round_trips() {
        let packet = Packet::event(
            "/admin",
            json!(["said", {"_placeholder": true, "num": 0}, "é"]),
            vec![Bytes::from_static(&[0, 1, 255])],
        );
        round_trip(Body::Broadcast {
            target: target(),
            packet: packet.encode(),
        });
        round_trip(Body::Broadcast {
            target: Target::default(),
            packet: Packet::event("/", json!(["x"]), vec![]).encode(),
        });
        round_trip(Body::CloseRoom { room: "r".into() });
        round_trip(Body::Disconnect { target: target() });
        round_trip(Body::FetchSockets {
            request: 7,
            target: target(),
        });
        round_trip(Body::Sockets {
            request: u64::MAX,
            sockets: vec![
                SocketInfo {
                    id: "s1".into(),
                    rooms: vec!["r".into(), "s1".into()],
                },
                SocketInfo {
                    id: "s2".into(),
                    rooms: vec![],
                },
            ],
        });
    }

    #[test]
    fn foreign_messages_are_refused() {
        assert_eq!(Envelope::decode(Bytes::from_static(b"")), None);
        // What socket.io's adapter publishes (msgpack) is not an envelope.
        assert_eq!(Envelope::decode(Bytes::from_static(b"\x93\xa4emit")), None);
        let mut bytes = Envelope {
            origin: 1,
            nsp: "/".into(),
            body: Body::CloseRoom { room: "r".into() },
        }
        .encode();
        bytes.push(0);
        assert_eq!(
            Envelope::decode(Bytes::from(bytes.clone())),
            None,
            "trailing"
        );
        bytes.pop();
        bytes[12] = 9;
        assert_eq!(Envelope::decode(Bytes::from(bytes)), None, "unknown kind");
        // A huge count with nothing behind it.
        let mut huge = Vec::from(&MAGIC[..]);
        huge.extend_from_slice(&[0; 8]);
        huge.push(5);
        huge.extend_from_slice(&1u32.to_be_bytes());
        huge.push(b'/');
        huge.extend_from_slice(&[0; 8]);
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(Envelope::decode(Bytes::from(huge)), None);
    }

    #[test]
    fn uids_differ() {
        assert_ne!(new_uid(), new_uid());
    }
}
