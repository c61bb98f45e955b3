//! [`Emitter`]: emitting to the clients of servers attached to Redis from a process
//! that serves none — a worker, a cron job, a command-line tool (Flask-SocketIO's
//! `SocketIO(message_queue=...)` without an app, socket.io's redis-emitter). It
//! publishes the same envelopes a server does, on the calling thread.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::{Client, Connection, RedisResult};

use super::channels::{Channels, DEFAULT_PREFIX};
use super::envelope::{Body, Envelope, new_uid};
use crate::web::socketio::adapter::Target;
use crate::web::socketio::args::{ArgsError, IntoArgs};
use crate::web::socketio::socket::event_packet;

const IO_TIMEOUT: Duration = Duration::from_secs(2);

/// Emits to the clients of every carafe server attached to the same Redis, without
/// serving anyone. `Clone + Send + Sync`; [`to`](Emitter::to), [`except`](Emitter::except)
/// and [`of`](Emitter::of) return a new emitter that shares the connection. Each call
/// publishes before it returns (a process may exit right after), reconnecting once if
/// Redis closed the connection. It waits on Redis, so it is not for an event loop's
/// handlers: a server emits through its [`SocketIo`](crate::socketio::SocketIo), which never waits.
///
/// ```no_run
/// use carafe::socketio::Emitter;
/// use serde_json::json;
///
/// # fn main() -> Result<(), carafe::socketio::EmitterError> {
/// let emitter = Emitter::new("redis://127.0.0.1:6379/")?;
/// emitter.to("news").emit("headline", &json!({ "text": "carafe 0.1" }))?;
/// emitter.of("/admin").emit("alert", "disk almost full")?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Emitter {
    link: Arc<Link>,
    nsp: String,
    target: Target,
}

/// The connection every emitter made from one [`Emitter::new`] shares.
struct Link {
    client: Client,
    connection: Mutex<Option<Connection>>,
    channels: Channels,
    uid: u64,
}

impl Emitter {
    /// An emitter on the Redis at `url` (`redis://host:port/db`, the servers'
    /// `SocketIoConfig::message_queue`), on the default channel prefix. Connects at once,
    /// so a wrong address shows here.
    pub fn new(url: &str) -> Result<Emitter, EmitterError> {
        Emitter::with_channel(url, DEFAULT_PREFIX)
    }

    /// An emitter whose channels start with `channel`, the servers'
    /// `SocketIoConfig::channel`.
    pub fn with_channel(url: &str, channel: &str) -> Result<Emitter, EmitterError> {
        let client = Client::open(url)?;
        let connection = connect(&client)?;
        Ok(Emitter {
            link: Arc::new(Link {
                client,
                connection: Mutex::new(Some(connection)),
                channels: Channels::new(channel),
                uid: new_uid(),
            }),
            nsp: "/".to_owned(),
            target: Target::default(),
        })
    }

    /// The same emitter for the namespace `nsp` (`/admin`), to all its sockets.
    pub fn of(&self, nsp: &str) -> Emitter {
        let nsp = if nsp.starts_with('/') {
            nsp.to_owned()
        } else {
            format!("/{nsp}")
        };
        Emitter {
            link: self.link.clone(),
            nsp,
            target: Target::default(),
        }
    }

    /// Adds a room to send to (all sockets of the namespace when none is named).
    pub fn to(&self, room: &str) -> Emitter {
        let mut emitter = self.clone();
        emitter.target.rooms.push(room.to_owned());
        emitter
    }

    /// Leaves out the sockets in `room` (or the socket of that id).
    pub fn except(&self, room: &str) -> Emitter {
        let mut emitter = self.clone();
        emitter.target.except.push(room.to_owned());
        emitter
    }

    /// Sends an event (`data` is one argument, or `Args` for several) to the sockets
    /// named, on every server: how many servers got it.
    pub fn emit(&self, event: &str, data: impl IntoArgs) -> Result<usize, EmitterError> {
        let packet = event_packet(&self.nsp, event, data.into_args()?);
        self.publish(Body::Broadcast {
            target: self.target.clone(),
            packet: packet.encode(),
        })
    }

    /// Disconnects the sockets named, on every server: how many servers got it.
    pub fn disconnect(&self) -> Result<usize, EmitterError> {
        self.publish(Body::Disconnect {
            target: self.target.clone(),
        })
    }

    /// Takes every socket of the namespace out of `room`, on every server.
    pub fn close_room(&self, room: &str) -> Result<usize, EmitterError> {
        self.publish(Body::CloseRoom {
            room: room.to_owned(),
        })
    }

    fn publish(&self, body: Body) -> Result<usize, EmitterError> {
        let link = &self.link;
        let payload = Envelope {
            origin: link.uid,
            nsp: self.nsp.clone(),
            body,
        }
        .encode();
        let channel = link.channels.namespace(&self.nsp);
        let mut connection = link
            .connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(c) = connection.as_mut()
            && let Ok(receivers) = publish(c, &channel, &payload)
        {
            return Ok(receivers);
        }
        // No connection, or one Redis closed (a restart): once more on a new one.
        *connection = None;
        let c = connection.insert(connect(&link.client)?);
        Ok(publish(c, &channel, &payload)?)
    }
}

fn connect(client: &Client) -> RedisResult<Connection> {
    let connection = client.get_connection_with_timeout(IO_TIMEOUT)?;
    connection.set_read_timeout(Some(IO_TIMEOUT))?;
    connection.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(connection)
}

fn publish(connection: &mut Connection, channel: &str, payload: &[u8]) -> RedisResult<usize> {
    redis::cmd("PUBLISH")
        .arg(channel)
        .arg(payload)
        .query(connection)
}

impl fmt::Debug for Emitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emitter")
            .field("namespace", &self.nsp)
            .field("rooms", &self.target.rooms)
            .field("except", &self.target.except)
            .finish()
    }
}

/// Why an [`Emitter`] could not send.
#[derive(Debug)]
#[non_exhaustive]
pub enum EmitterError {
    /// The data did not serialise.
    Args(ArgsError),
    /// Redis refused the URL, could not be reached, or failed the command.
    Redis(redis::RedisError),
}

impl fmt::Display for EmitterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmitterError::Args(e) => e.fmt(f),
            EmitterError::Redis(e) => write!(f, "Redis: {e}"),
        }
    }
}

impl std::error::Error for EmitterError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EmitterError::Args(e) => Some(e),
            EmitterError::Redis(e) => Some(e),
        }
    }
}

impl From<ArgsError> for EmitterError {
    fn from(e: ArgsError) -> EmitterError {
        EmitterError::Args(e)
    }
}

impl From<redis::RedisError> for EmitterError {
    fn from(e: redis::RedisError) -> EmitterError {
        EmitterError::Redis(e)
    }
}
