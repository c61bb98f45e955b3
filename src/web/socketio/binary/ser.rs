//! Deconstruction: a serde `Serializer` into `serde_json::Value` that turns every byte
//! string into the next placeholder and keeps the bytes aside.
//!
//! Everything but bytes and the containers that may hold them is handed to
//! `serde_json::value::Serializer`, so numbers, floats and strings come out exactly as
//! `serde_json::to_value` makes them; containers and enums follow its layout
//! (sequences as arrays, structs and maps as objects, variants externally tagged).

use bytes::Bytes;
use serde::ser::{self, Error as _, Serialize};
use serde_json::{Error, Map, Value};

use super::placeholder;

/// The serializer; `attachments` collects the bytes in placeholder order.
pub(super) struct Serializer<'b> {
    pub(super) attachments: &'b mut Vec<Bytes>,
}

impl Serializer<'_> {
    fn reborrow(&mut self) -> Serializer<'_> {
        Serializer {
            attachments: self.attachments,
        }
    }
}

/// Leaves go straight to serde_json's own value serializer.
macro_rules! leaves {
    ($($method:ident($ty:ty);)*) => {$(
        fn $method(self, v: $ty) -> Result<Value, Error> {
            ser::Serializer::$method(serde_json::value::Serializer, v)
        }
    )*};
}

impl<'b> ser::Serializer for Serializer<'b> {
    type Ok = Value;
    type Error = Error;
    type SerializeSeq = Seq<'b>;
    type SerializeTuple = Seq<'b>;
    type SerializeTupleStruct = Seq<'b>;
    type SerializeTupleVariant = Seq<'b>;
    type SerializeMap = Object<'b>;
    type SerializeStruct = Object<'b>;
    type SerializeStructVariant = Object<'b>;

    leaves! {
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_i128(i128);
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_u128(u128);
        serialize_f32(f32);
        serialize_f64(f64);
        serialize_char(char);
        serialize_str(&str);
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<Value, Error> {
        // serde hands over a borrowed slice, so the attachment is a copy.
        self.attachments.push(Bytes::copy_from_slice(v));
        Ok(placeholder(self.attachments.len() - 1))
    }

    fn serialize_none(self) -> Result<Value, Error> {
        Ok(Value::Null)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<Value, Error> {
        Ok(Value::Null)
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, Error> {
        Ok(Value::Null)
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, Error> {
        Ok(Value::String(variant.to_owned()))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Value, Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, Error> {
        let mut map = Map::new();
        map.insert(variant.to_owned(), value.serialize(self)?);
        Ok(Value::Object(map))
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Seq<'b>, Error> {
        Ok(Seq {
            ser: self,
            items: Vec::with_capacity(len.unwrap_or(0).min(4096)),
            variant: None,
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<Seq<'b>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Seq<'b>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Seq<'b>, Error> {
        let mut seq = self.serialize_seq(Some(len))?;
        seq.variant = Some(variant);
        Ok(seq)
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Object<'b>, Error> {
        Ok(Object {
            ser: self,
            map: Map::new(),
            key: None,
            variant: None,
        })
    }

    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<Object<'b>, Error> {
        self.serialize_map(Some(len))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Object<'b>, Error> {
        let mut object = self.serialize_map(Some(len))?;
        object.variant = Some(variant);
        Ok(object)
    }
}

/// `{variant: value}` for a variant, `value` otherwise.
fn tagged(variant: Option<&'static str>, value: Value) -> Value {
    match variant {
        Some(variant) => {
            let mut map = Map::new();
            map.insert(variant.to_owned(), value);
            Value::Object(map)
        }
        None => value,
    }
}

/// An array being built: sequences, tuples and tuple variants.
pub(super) struct Seq<'b> {
    ser: Serializer<'b>,
    items: Vec<Value>,
    variant: Option<&'static str>,
}

impl Seq<'_> {
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.items.push(value.serialize(self.ser.reborrow())?);
        Ok(())
    }

    fn finish(self) -> Value {
        tagged(self.variant, Value::Array(self.items))
    }
}

macro_rules! seq_impl {
    ($($trait:ident::$method:ident;)*) => {$(
        impl ser::$trait for Seq<'_> {
            type Ok = Value;
            type Error = Error;

            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
                self.push(value)
            }

            fn end(self) -> Result<Value, Error> {
                Ok(self.finish())
            }
        }
    )*};
}

seq_impl! {
    SerializeSeq::serialize_element;
    SerializeTuple::serialize_element;
    SerializeTupleStruct::serialize_field;
    SerializeTupleVariant::serialize_field;
}

/// An object being built: maps, structs and struct variants.
pub(super) struct Object<'b> {
    ser: Serializer<'b>,
    map: Map<String, Value>,
    /// A map key waiting for its value.
    key: Option<String>,
    variant: Option<&'static str>,
}

impl Object<'_> {
    fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), Error> {
        let value = value.serialize(self.ser.reborrow())?;
        self.map.insert(key.to_owned(), value);
        Ok(())
    }

    fn finish(self) -> Value {
        tagged(self.variant, Value::Object(self.map))
    }
}

impl ser::SerializeMap for Object<'_> {
    type Ok = Value;
    type Error = Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        // JSON keys are strings; like serde_json, numbers and booleans are written as
        // their text.
        self.key = Some(match key.serialize(serde_json::value::Serializer)? {
            Value::String(key) => key,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return Err(Error::custom("key must be a string")),
        });
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let key = self
            .key
            .take()
            .ok_or_else(|| Error::custom("map value without a key"))?;
        self.field(&key, value)
    }

    fn end(self) -> Result<Value, Error> {
        Ok(self.finish())
    }
}

macro_rules! struct_impl {
    ($($trait:ident;)*) => {$(
        impl ser::$trait for Object<'_> {
            type Ok = Value;
            type Error = Error;

            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), Error> {
                self.field(key, value)
            }

            fn end(self) -> Result<Value, Error> {
                Ok(self.finish())
            }
        }
    )*};
}

struct_impl! {
    SerializeStruct;
    SerializeStructVariant;
}
