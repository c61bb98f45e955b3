//! Binary data in the JSON tree: placeholders beside a list of attachments.
//!
//! socket.io-protocol README, "Packet encoding": binary values are taken out of the
//! payload, each replaced by `{"_placeholder":true,"num":n}`, and sent after it in
//! placeholder order (socket.io-parser's `deconstructPacket` / `reconstructPacket`).
//!
//! The value tree is `serde_json::Value`, which has no binary node, so a binary node *is*
//! its placeholder, and `num` indexes the packet's `Vec<Bytes>` of attachments. The tree
//! is kept in that wire form in both directions; binary enters and leaves it only through
//! serde, which already has a binary type of its own:
//!
//! - [`to_value`] (deconstruct) serialises any `T: Serialize` to a `Value`, turning every
//!   `serialize_bytes` (a `bytes::Bytes`, a `serde_bytes` buffer) into the next
//!   placeholder, at any depth.
//! - [`from_value`] (reconstruct) deserialises any `T: Deserialize` from a `Value` and
//!   the attachments; a field that asks for bytes (`deserialize_bytes`/`byte_buf`) at a
//!   placeholder gets its attachment. Everywhere else a placeholder is the plain object it
//!   is, so a `serde_json::Value` argument still sees it.
//!
//! This is what makes typed arguments easy later: a handler's `T` and an emit's payload
//! go through serde once, binary fields and all, with no wrapper value type to convert to
//! and from. The cost is one copy of each attachment through serde's `&[u8]`.

use bytes::Bytes;
use serde::Serialize;
use serde::de::Deserialize;
use serde_json::Value;

use super::decoder::Error;

mod de;
mod ser;

/// The placeholder for attachment `num`.
pub(crate) fn placeholder(num: usize) -> Value {
    serde_json::json!({ "_placeholder": true, "num": num })
}

/// The attachment index of `value` if it is a placeholder, as socket.io-parser tells one:
/// an object whose `_placeholder` is `true`. `Some(Err(()))` for one whose `num` is not
/// a non-negative integer.
fn placeholder_num(value: &Value) -> Option<Result<u64, ()>> {
    let object = value.as_object()?;
    if object.get("_placeholder") != Some(&Value::Bool(true)) {
        return None;
    }
    Some(object.get("num").and_then(Value::as_u64).ok_or(()))
}

/// Checks that every placeholder in `data` points at one of `count` attachments
/// (`reconstructPacket` throws "illegal attachments" otherwise). Run once the last
/// attachment has arrived.
pub(crate) fn check_placeholders(data: &Value, count: usize) -> Result<(), Error> {
    // Recursion is bounded: serde_json refuses input nested deeper than 128.
    match data {
        Value::Array(items) => items.iter().try_for_each(|v| check_placeholders(v, count)),
        Value::Object(map) => match placeholder_num(data) {
            Some(Ok(num)) if num < count as u64 => Ok(()),
            Some(_) => Err(Error::BadPlaceholder),
            None => map.values().try_for_each(|v| check_placeholders(v, count)),
        },
        _ => Ok(()),
    }
}

/// Deconstructs `value`: its JSON tree with a placeholder for each binary value, and the
/// binary values in placeholder order.
///
/// Fails like `serde_json::to_value` does (a map key that is not a string, a
/// `Serialize` impl that fails).
pub(crate) fn to_value<T: Serialize + ?Sized>(
    value: &T,
) -> Result<(Value, Vec<Bytes>), serde_json::Error> {
    let mut attachments = Vec::new();
    let tree = value.serialize(ser::Serializer {
        attachments: &mut attachments,
    })?;
    Ok((tree, attachments))
}

/// Reconstructs a `T` from a tree with placeholders and the attachments they point at.
/// Strings can be borrowed from `value`.
pub(crate) fn from_value<'de, T: Deserialize<'de>>(
    value: &'de Value,
    attachments: &'de [Bytes],
) -> Result<T, serde_json::Error> {
    T::deserialize(de::Deserializer { value, attachments })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    fn b(data: &'static [u8]) -> Bytes {
        Bytes::from_static(data)
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Upload {
        name: String,
        data: Bytes,
        thumbs: Vec<Bytes>,
        extra: Option<Bytes>,
        meta: Value,
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    enum Shape {
        Unit,
        Newtype(Bytes),
        Tuple(u8, Bytes),
        Struct { data: Bytes },
    }

    #[test]
    fn deconstruct_like_socket_io_parser() {
        // socket.io-parser test/buffer.js and test/arraybuffer.js ("encodes a nested
        // Buffer", "encodes ArrayBuffers deep in JSON"), placeholders numbered in
        // document order.
        let (tree, bins) = to_value(&("a", json!({}), b"abc".as_slice())).unwrap();
        assert_eq!(
            tree,
            json!(["a", {}, [97, 98, 99]]),
            "a plain slice is a sequence"
        );
        assert!(bins.is_empty());

        let data = ("a", BTreeMap::from([("b", ("c", b(b"abc")))]));
        let (tree, bins) = to_value(&data).unwrap();
        assert_eq!(tree, json!(["a", {"b": ["c", placeholder(0)]}]));
        assert_eq!(bins, [b(b"abc")]);

        // "encodes ArrayBuffers deep in JSON": the same tree from nested structs.
        #[derive(Serialize)]
        struct Why {
            why: Bytes,
        }
        #[derive(Serialize)]
        struct Inner {
            a: &'static str,
            b: BTreeMap<&'static str, Bytes>,
        }
        #[derive(Serialize)]
        struct Deep {
            a: &'static str,
            b: Why,
            c: Inner,
        }
        let value = Deep {
            a: "hi",
            b: Why { why: b(&[0; 3]) },
            c: Inner {
                a: "bye",
                b: BTreeMap::from([("a", b(&[0; 6]))]),
            },
        };
        let (tree, bins) = to_value(&value).unwrap();
        let deep = json!({"a": "hi", "b": {"why": placeholder(0)}, "c": {"a": "bye", "b": {"a": placeholder(1)}}});
        assert_eq!(tree, deep);
        assert_eq!(bins, [b(&[0; 3]), b(&[0; 6])]);
    }

    #[test]
    fn round_trip_in_any_nesting() {
        let upload = Upload {
            name: "cat.png".into(),
            data: b(b"\x89PNG"),
            thumbs: vec![b(b"t1"), b(b""), b(b"t3")],
            extra: Some(b(b"x")),
            meta: json!({"n": 1, "f": 1.5, "neg": -3, "s": "é", "nul": null, "l": [true]}),
        };
        let (tree, bins) = to_value(&upload).unwrap();
        assert_eq!(tree["data"], placeholder(0));
        assert_eq!(
            tree["thumbs"],
            json!([placeholder(1), placeholder(2), placeholder(3)])
        );
        assert_eq!(tree["extra"], placeholder(4));
        assert_eq!(bins.len(), 5);
        check_placeholders(&tree, bins.len()).unwrap();
        assert_eq!(from_value::<Upload>(&tree, &bins).unwrap(), upload);

        for shape in [
            Shape::Unit,
            Shape::Newtype(b(b"n")),
            Shape::Tuple(7, b(b"t")),
            Shape::Struct { data: b(b"s") },
        ] {
            let (tree, bins) = to_value(&shape).unwrap();
            assert_eq!(bins.len(), usize::from(shape != Shape::Unit));
            assert_eq!(from_value::<Shape>(&tree, &bins).unwrap(), shape);
        }
        let args = ("event", 1u8, (b(b"x"), None::<Bytes>), vec![Some(b(b"y"))]);
        let (tree, bins) = to_value(&args).unwrap();
        assert_eq!(
            tree,
            json!(["event", 1, [placeholder(0), null], [placeholder(1)]])
        );
        type Args<'a> = (&'a str, u8, (Bytes, Option<Bytes>), Vec<Option<Bytes>>);
        let back: Args = from_value(&tree, &bins).unwrap();
        assert_eq!(back, args);
    }

    #[test]
    fn placeholders_stay_objects_for_untyped_values() {
        let tree = json!(["a", placeholder(0)]);
        let bins = [b(b"z")];
        assert_eq!(from_value::<Value>(&tree, &bins).unwrap(), tree);
        let (name, data): (String, Bytes) = from_value(&tree, &bins).unwrap();
        assert_eq!((name.as_str(), data), ("a", b(b"z")));
    }

    #[test]
    fn reconstruct_errors_never_panic() {
        let bins = [b(b"z")];
        for tree in [
            json!([placeholder(1)]),
            json!([{"_placeholder": true, "num": "0"}]),
            json!([{"_placeholder": true}]),
            json!([{"_placeholder": false, "num": 0}]),
            json!([1]),
            json!([null]),
        ] {
            assert!(from_value::<(Bytes,)>(&tree, &bins).is_err(), "{tree}");
        }
        // A tuple shorter than the array is an error, as in serde_json.
        assert!(from_value::<(u8,)>(&json!([1, 2]), &[]).is_err());
        assert!(from_value::<Shape>(&json!({"Unit": 1, "Tuple": 2}), &[]).is_err());
        assert!(from_value::<Shape>(&json!({"Nope": 1}), &[]).is_err());
    }

    #[test]
    fn check_placeholders_like_reconstruct_packet() {
        assert_eq!(check_placeholders(&json!(["a", placeholder(0)]), 1), Ok(()));
        assert_eq!(
            check_placeholders(&json!(["a", placeholder(1)]), 1),
            Err(Error::BadPlaceholder)
        );
        assert_eq!(
            check_placeholders(&json!({"x": [[placeholder(2)]]}), 2),
            Err(Error::BadPlaceholder)
        );
        assert_eq!(
            check_placeholders(&json!({"_placeholder": "yes", "num": 9}), 0),
            Ok(())
        );
        // More attachments than placeholders is fine: socket.io-parser ignores the rest.
        assert_eq!(check_placeholders(&json!([]), 3), Ok(()));
    }

    #[test]
    fn map_keys_must_be_strings_or_numbers() {
        let ok = BTreeMap::from([(1u8, b(b"x"))]);
        let (tree, _) = to_value(&ok).unwrap();
        assert_eq!(tree, json!({"1": placeholder(0)}));
        let bad = BTreeMap::from([((1u8, 2u8), 3u8)]);
        assert!(to_value(&bad).is_err());
        assert_eq!(to_value(&f64::NAN).unwrap().0, Value::Null);
    }
}
