//! What events carry: their arguments, typed through serde ([`FromArgs`]) or kept as they
//! came ([`Args`]), and the acknowledgement a client may ask for ([`Ack`]).
//!
//! socket.io-protocol README, "Packet format": an EVENT's payload is `[name, ...args]`
//! and an ACK's is `[...args]`; binary values travel as attachments, with placeholders
//! in the JSON (see [`binary`](super::binary)). A typed argument with `bytes::Bytes`
//! fields gets its attachments back at any depth, and the same type emitted sends them
//! as binary again.

use std::fmt;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::binary;
use super::socket::Socket;

/// The arguments of an event or an acknowledgement, as they came: JSON values with
/// binary parts as attachments. Emitting them again sends the same values, binary as
/// binary.
///
/// ```
/// use carafe::socketio::Args;
///
/// let args = Args::new().arg(&"hello").unwrap().arg(&42).unwrap();
/// assert_eq!(args.len(), 2);
/// assert_eq!(args.get::<String>(0).unwrap(), "hello");
/// assert_eq!(args.get::<u32>(1).unwrap(), 42);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Args {
    pub(crate) values: Vec<Value>,
    pub(crate) attachments: Vec<Bytes>,
}

/// Arguments that could not be read as the type asked for, or a value that could not
/// be serialised.
#[derive(Debug)]
pub struct ArgsError(serde_json::Error);

impl fmt::Display for ArgsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Socket.IO arguments: {}", self.0)
    }
}

impl std::error::Error for ArgsError {}

impl Args {
    /// No arguments.
    pub fn new() -> Args {
        Args::default()
    }

    /// These arguments and one more (`bytes::Bytes` fields become binary attachments).
    pub fn arg<T: Serialize + ?Sized>(mut self, value: &T) -> Result<Args, ArgsError> {
        let (value, attachments) = binary::to_value(value).map_err(ArgsError)?;
        let shift = self.attachments.len();
        self.values.push(if shift == 0 {
            value
        } else {
            renumber(value, shift)
        });
        self.attachments.extend(attachments);
        Ok(self)
    }

    /// How many arguments there are.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Argument `index` as a `T` (binary fields from the attachments).
    pub fn get<T: DeserializeOwned>(&self, index: usize) -> Result<T, ArgsError> {
        let value = self.values.get(index).unwrap_or(&Value::Null);
        binary::from_value(value, &self.attachments).map_err(ArgsError)
    }

    /// All the arguments as one `T`, read from their array: a tuple `(A, B)`, a
    /// `Vec<T>`, a struct read as a sequence.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ArgsError> {
        let array = Value::Array(self.values.clone());
        binary::from_value(&array, &self.attachments).map_err(ArgsError)
    }

    /// The JSON values, binary parts as placeholders `{"_placeholder":true,"num":n}`.
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// The binary attachments, in placeholder order.
    pub fn attachments(&self) -> &[Bytes] {
        &self.attachments
    }
}

/// Shifts the placeholders of `value` by `shift`: it joins arguments that already have
/// `shift` attachments.
fn renumber(value: Value, shift: usize) -> Value {
    match value {
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| renumber(v, shift)).collect())
        }
        Value::Object(mut map) => {
            if map.get("_placeholder") == Some(&Value::Bool(true)) {
                if let Some(num) = map.get("num").and_then(Value::as_u64) {
                    map.insert("num".into(), Value::from(num + shift as u64));
                }
                return Value::Object(map);
            }
            Value::Object(
                map.into_iter()
                    .map(|(k, v)| (k, renumber(v, shift)))
                    .collect(),
            )
        }
        other => other,
    }
}

/// What an event handler takes as its arguments: [`Args`] as they came, or any
/// `T: DeserializeOwned` read from the array of arguments — a tuple `(String,)` for one
/// argument, `(A, B)` for two, `Vec<serde_json::Value>` for any number.
pub trait FromArgs: Sized {
    /// Reads the arguments.
    fn from_args(args: Args) -> Result<Self, ArgsError>;
}

impl FromArgs for Args {
    fn from_args(args: Args) -> Result<Args, ArgsError> {
        Ok(args)
    }
}

impl<T: DeserializeOwned> FromArgs for T {
    fn from_args(args: Args) -> Result<T, ArgsError> {
        args.parse()
    }
}

/// What can be emitted as an event's arguments: any `T: Serialize` is one argument (as
/// Flask-SocketIO's `emit("event", data)`), and [`Args`] are as many as it holds.
pub trait IntoArgs {
    /// The arguments.
    fn into_args(self) -> Result<Args, ArgsError>;
}

impl<T: Serialize + ?Sized> IntoArgs for &T {
    fn into_args(self) -> Result<Args, ArgsError> {
        Args::new().arg(self)
    }
}

impl IntoArgs for Args {
    fn into_args(self) -> Result<Args, ArgsError> {
        Ok(self)
    }
}

/// The acknowledgement a client asked for with its event: call [`Ack::send`] once
/// (Flask-SocketIO sends a handler's return value).
#[derive(Debug)]
pub struct Ack {
    pub(crate) socket: Socket,
    pub(crate) id: u64,
}

impl Ack {
    /// Answers with `data`: one value, or [`Args`] for several.
    pub fn send(self, data: impl IntoArgs) -> Result<(), EmitError> {
        let args = data.into_args()?;
        self.socket.send_ack(self.id, args)
    }
}

/// Why an emit did not go out.
#[derive(Debug)]
pub enum EmitError {
    /// The data did not serialise.
    Args(ArgsError),
    /// The socket is disconnected.
    Disconnected,
}

impl fmt::Display for EmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmitError::Args(e) => e.fmt(f),
            EmitError::Disconnected => f.write_str("the Socket.IO socket is disconnected"),
        }
    }
}

impl std::error::Error for EmitError {}

impl From<ArgsError> for EmitError {
    fn from(e: ArgsError) -> EmitError {
        EmitError::Args(e)
    }
}

/// Why a server-to-client acknowledgement did not come.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckError {
    /// None came within the timeout.
    Timeout,
    /// The socket disconnected first.
    Disconnected,
}

impl fmt::Display for AckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AckError::Timeout => "no acknowledgement within the timeout",
            AckError::Disconnected => "the socket disconnected before acknowledging",
        })
    }
}

impl std::error::Error for AckError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_keep_their_binary_parts_in_order() {
        let args = Args::new()
            .arg(&Bytes::from_static(b"one"))
            .unwrap()
            .arg(&(1, Bytes::from_static(b"two")))
            .unwrap();
        assert_eq!(
            args.attachments(),
            [Bytes::from_static(b"one"), Bytes::from_static(b"two")]
        );
        assert_eq!(args.values()[1][1], binary::placeholder(1));
        let (n, two): (u8, Bytes) = args.get(1).unwrap();
        assert_eq!((n, &two[..]), (1, &b"two"[..]));
        let all: (Bytes, (u8, Bytes)) = args.parse().unwrap();
        assert_eq!(&all.0[..], b"one");
    }

    #[test]
    fn typed_arguments_read_from_the_array() {
        let args = Args {
            values: vec![Value::from("lobby")],
            attachments: Vec::new(),
        };
        let (room,): (String,) = FromArgs::from_args(args.clone()).unwrap();
        assert_eq!(room, "lobby");
        assert!(<(u32,)>::from_args(args).is_err());
    }
}
