//! Reconstruction: a serde `Deserializer` over `&serde_json::Value` that answers a
//! request for bytes at a placeholder with its attachment.
//!
//! Leaves are handed to serde_json's own `&Value` deserializer, so numbers, strings and
//! their errors behave exactly as `serde_json::from_value`; arrays, objects, options,
//! newtypes and enums are walked here so that the bytes of a nested field still find
//! their attachment.

use bytes::Bytes;
use serde::de::value::BorrowedStrDeserializer;
use serde::de::{self, DeserializeSeed, Error as _, Unexpected, Visitor};
use serde_json::{Error, Map, Value};

use super::placeholder_num;

/// The deserializer for one node of the tree.
#[derive(Clone, Copy)]
pub(super) struct Deserializer<'de> {
    pub(super) value: &'de Value,
    pub(super) attachments: &'de [Bytes],
}

impl<'de> Deserializer<'de> {
    fn at(self, value: &'de Value) -> Deserializer<'de> {
        Deserializer { value, ..self }
    }

    fn visit_array<V: Visitor<'de>>(
        self,
        items: &'de [Value],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let mut seq = Seq {
            de: self,
            iter: items.iter(),
        };
        let value = visitor.visit_seq(&mut seq)?;
        // As serde_json: a visitor that stops early (a short tuple) is an error.
        match seq.iter.len() {
            0 => Ok(value),
            _ => Err(Error::invalid_length(
                items.len(),
                &"fewer elements in array",
            )),
        }
    }

    fn visit_object<V: Visitor<'de>>(
        self,
        map: &'de Map<String, Value>,
        visitor: V,
    ) -> Result<V::Value, Error> {
        let mut access = Object {
            de: self,
            iter: map.iter(),
            value: None,
        };
        let value = visitor.visit_map(&mut access)?;
        match access.iter.len() {
            0 => Ok(value),
            _ => Err(Error::invalid_length(map.len(), &"fewer elements in map")),
        }
    }
}

/// Leaves and type errors: serde_json's `&Value` deserializer, unchanged.
macro_rules! to_json {
    ($($method:ident$(($($arg:ident: $ty:ty),*))?;)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($($arg: $ty,)*)? visitor: V) -> Result<V::Value, Error> {
            de::Deserializer::$method(self.value, $($($arg,)*)? visitor)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Deserializer<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Array(items) => self.visit_array(items, visitor),
            Value::Object(map) => self.visit_object(map, visitor),
            leaf => de::Deserializer::deserialize_any(leaf, visitor),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match placeholder_num(self.value) {
            Some(Ok(num)) => match usize::try_from(num)
                .ok()
                .and_then(|n| self.attachments.get(n))
            {
                Some(data) => visitor.visit_bytes(data),
                None => Err(Error::custom(
                    "illegal attachments: no attachment for placeholder",
                )),
            },
            Some(Err(())) => Err(Error::custom(
                "illegal attachments: placeholder without a num",
            )),
            None => de::Deserializer::deserialize_bytes(self.value, visitor),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Array(items) => self.visit_array(items, visitor),
            other => de::Deserializer::deserialize_seq(other, visitor),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Object(map) => self.visit_object(map, visitor),
            other => de::Deserializer::deserialize_map(other, visitor),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.value {
            Value::Array(items) => self.visit_array(items, visitor),
            Value::Object(map) => self.visit_object(map, visitor),
            other => de::Deserializer::deserialize_struct(other, name, fields, visitor),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        // Externally tagged, as serde_json: `"Unit"` or `{"Variant": content}`.
        let Value::Object(map) = self.value else {
            return de::Deserializer::deserialize_enum(self.value, name, variants, visitor);
        };
        let mut entries = map.iter();
        match (entries.next(), entries.next()) {
            (Some((variant, value)), None) => visitor.visit_enum(Enum {
                variant,
                content: self.at(value),
            }),
            _ => Err(Error::invalid_value(
                Unexpected::Map,
                &"map with a single key",
            )),
        }
    }

    to_json! {
        deserialize_bool; deserialize_i8; deserialize_i16; deserialize_i32;
        deserialize_i64; deserialize_i128; deserialize_u8; deserialize_u16;
        deserialize_u32; deserialize_u64; deserialize_u128; deserialize_f32;
        deserialize_f64; deserialize_char; deserialize_str; deserialize_string;
        deserialize_unit; deserialize_unit_struct(name: &'static str);
        deserialize_identifier; deserialize_ignored_any;
    }
}

/// The elements of an array.
struct Seq<'de> {
    de: Deserializer<'de>,
    iter: std::slice::Iter<'de, Value>,
}

impl<'de> de::SeqAccess<'de> for Seq<'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        self.iter
            .next()
            .map(|value| seed.deserialize(self.de.at(value)))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// The entries of an object.
struct Object<'de> {
    de: Deserializer<'de>,
    iter: serde_json::map::Iter<'de>,
    /// The value of the key just returned.
    value: Option<&'de Value>,
}

impl<'de> de::MapAccess<'de> for Object<'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some((key, value)) = self.iter.next() else {
            return Ok(None);
        };
        self.value = Some(value);
        seed.deserialize(BorrowedStrDeserializer::new(key))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let value = self
            .value
            .take()
            .ok_or_else(|| Error::custom("map value without a key"))?;
        seed.deserialize(self.de.at(value))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// A variant written as `{"Variant": content}`.
struct Enum<'de> {
    variant: &'de String,
    content: Deserializer<'de>,
}

impl<'de> de::EnumAccess<'de> for Enum<'de> {
    type Error = Error;
    type Variant = Deserializer<'de>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self::Variant), Error> {
        let variant = BorrowedStrDeserializer::new(self.variant);
        Ok((seed.deserialize(variant)?, self.content))
    }
}

impl<'de> de::VariantAccess<'de> for Deserializer<'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        de::Deserialize::deserialize(self)
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_seq(self, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_map(self, visitor)
    }
}
