//! [`SocketIo`]: the Socket.IO server an app mounts, its settings, and the handle that
//! emits from anywhere.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::adapter::{Adapter, LocalAdapter};
use super::args::{Ack, FromArgs};
use super::args::{ArgsError, IntoArgs};
use super::client::SocketIoHandler;
use super::engineio::cors::Cors;
use super::engineio::handshake::Settings;
use super::engineio::server::{Engine, Options};
use super::engineio::timer::Timer;
use super::namespace::{Broadcast, ConnectOutcome, Namespace, NsInner};
use super::socket::{DisconnectReason, Socket};
use crate::http::method::Method;
use crate::web::app::{App, ViewKind};
use crate::web::scaffold::AddView;

/// The settings of a [`SocketIo`] server (Flask-SocketIO's `SocketIO(...)` keywords).
#[derive(Clone, Debug)]
pub struct SocketIoConfig {
    /// Where the endpoint is mounted (`path`, default `/socket.io/`).
    pub path: String,
    /// How often the server pings each client (`ping_interval`, 25 s).
    pub ping_interval: Duration,
    /// How long a client has to answer a ping before it is dropped (`ping_timeout`, 20 s).
    pub ping_timeout: Duration,
    /// The largest message or long-polling body accepted, in bytes (`max_http_buffer_size`,
    /// 1 000 000); a larger `POST` is answered 413.
    pub max_payload: usize,
    /// Which pages may connect (`cors_allowed_origins`): by default the same origin only.
    pub cors_allowed_origins: Cors,
    /// Whether cross-origin requests may carry cookies (`cors_credentials`, true).
    pub cors_credentials: bool,
    /// How long a client may stay without joining any namespace before it is closed
    /// (socket.io's `connectTimeout`, 45 s).
    pub connect_timeout: Duration,
    /// The Redis that joins this server to others (Flask-SocketIO's `message_queue`),
    /// e.g. `redis://127.0.0.1:6379/`; `None` (the default): this process only.
    ///
    /// With it, broadcasts (`io.emit`, `io.to(room)`, `socket.broadcast()`, `except`),
    /// `io.disconnect(sid)`, `close_room` and [`fetch_sockets`](super::Namespace::fetch_sockets)
    /// reach the sockets of every server on the same Redis and [`channel`](Self::channel),
    /// and what an [`Emitter`](super::Emitter) publishes reaches this one. If Redis is
    /// down, this server's own clients are still served; the others are reached again
    /// once it is back.
    #[cfg(feature = "redis")]
    pub message_queue: Option<String>,
    /// The prefix of the Redis channels (Flask-SocketIO's `channel`), default
    /// `carafe-socketio`: servers and emitters with the same one reach each other.
    #[cfg(feature = "redis")]
    pub channel: String,
}

impl Default for SocketIoConfig {
    fn default() -> SocketIoConfig {
        let settings = Settings::default();
        SocketIoConfig {
            path: "/socket.io/".to_owned(),
            ping_interval: settings.ping_interval,
            ping_timeout: settings.ping_timeout,
            max_payload: settings.max_payload,
            cors_allowed_origins: Cors::SameOrigin,
            cors_credentials: true,
            connect_timeout: Duration::from_secs(45),
            #[cfg(feature = "redis")]
            message_queue: None,
            #[cfg(feature = "redis")]
            channel: super::redis::channels::DEFAULT_PREFIX.to_owned(),
        }
    }
}

/// What every handle of one server shares.
pub(crate) struct Core {
    pub(crate) config: SocketIoConfig,
    namespaces: RwLock<HashMap<String, Namespace>>,
    pub(crate) timer: Timer,
    /// The link to other servers, with a message queue.
    #[cfg(feature = "redis")]
    pub(crate) bus: Option<Arc<super::redis::bus::Bus>>,
}

impl Core {
    /// A namespace with handlers, by name.
    pub(crate) fn namespace(&self, name: &str) -> Option<Namespace> {
        self.namespaces
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    /// The rooms of a new namespace: in memory, or shared through the message queue.
    fn adapter(&self, nsp: &str) -> Box<dyn Adapter> {
        #[cfg(feature = "redis")]
        if let Some(bus) = &self.bus {
            return Box::new(super::redis::adapter::RedisAdapter::new(nsp, bus.clone()));
        }
        let _ = nsp;
        Box::new(LocalAdapter::default())
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        self.timer.stop();
    }
}

/// A Socket.IO server (Flask-SocketIO's `SocketIO`): mount it on an [`App`] with
/// [`attach`](SocketIo::attach), register handlers, and keep clones to emit from
/// anywhere — a handler, a blocking view, a thread of your own. `Clone + Send + Sync`;
/// clones are the same server, across every event loop of the app.
///
/// Methods without a namespace act on the default one, `/`; [`of`](SocketIo::of) names
/// another.
///
/// ```no_run
/// use carafe::socketio::{Ack, Args, SocketIo, Socket};
/// use carafe::App;
///
/// let mut app = App::new();
/// let io = SocketIo::new();
/// io.attach(&mut app);
/// io.on_connect(|socket: &Socket, _auth: Option<serde_json::Value>| {
///     let _ = socket.emit("welcome", &serde_json::json!({ "sid": socket.id() }));
/// });
/// io.on("echo", |socket: &Socket, args: Args, ack: Option<Ack>| {
///     let _ = match ack {
///         Some(ack) => ack.send(args),
///         None => socket.emit("echo", args),
///     };
/// });
/// let ticker = io.clone();
/// io.start_background_task(move || loop {
///     std::thread::sleep(std::time::Duration::from_secs(1));
///     let _ = ticker.to("clock").emit("tick", &1);
/// });
/// app.run("127.0.0.1:5000").unwrap();
/// ```
#[derive(Clone)]
pub struct SocketIo {
    core: Arc<Core>,
}

impl Default for SocketIo {
    fn default() -> SocketIo {
        SocketIo::new()
    }
}

impl SocketIo {
    /// A server with the default settings.
    pub fn new() -> SocketIo {
        SocketIo::with_config(SocketIoConfig::default())
    }

    /// A server with these settings.
    ///
    /// # Panics
    ///
    /// If `message_queue` is set to something that is not a Redis URL. (An unreachable
    /// Redis is no error: it is retried in the background.)
    pub fn with_config(config: SocketIoConfig) -> SocketIo {
        let io = SocketIo {
            core: Arc::new_cyclic(|core| {
                let timer = Timer::default();
                #[cfg(feature = "redis")]
                let bus = config.message_queue.as_deref().map(|url| {
                    let bus = super::redis::bus::Bus::start(
                        url,
                        &config.channel,
                        core.clone(),
                        timer.clone(),
                    );
                    Arc::new(bus.unwrap_or_else(|e| panic!("message_queue {url:?}: {e}")))
                });
                #[cfg(not(feature = "redis"))]
                let _ = core;
                Core {
                    config,
                    namespaces: RwLock::default(),
                    timer,
                    #[cfg(feature = "redis")]
                    bus,
                }
            }),
        };
        io.of("/");
        io
    }

    /// The settings.
    pub fn config(&self) -> &SocketIoConfig {
        &self.core.config
    }

    /// Mounts the endpoint on `app` at the configured path (`/socket.io/`): long-polling
    /// and WebSocket requests of the official clients. It answers in front of the app's
    /// hooks, as Flask-SocketIO's middleware does.
    ///
    /// # Panics
    ///
    /// If the path is not a valid rule.
    pub fn attach(&self, app: &mut App) -> &SocketIo {
        let config = &self.core.config;
        let options = Options {
            settings: Settings {
                ping_interval: config.ping_interval,
                ping_timeout: config.ping_timeout,
                max_payload: config.max_payload,
            },
            cors: config.cors_allowed_origins.clone(),
            cors_credentials: config.cors_credentials,
        };
        let engine = Engine::new(
            SocketIoHandler(self.core.clone()),
            options,
            self.core.timer.clone(),
        );
        let mut path = config.path.clone();
        if !path.ends_with('/') {
            path.push('/');
        }
        app.add_boxed_view(
            &path,
            "socketio",
            &[Method::GET, Method::POST, Method::OPTIONS],
            Box::new(move |req, response| engine.serve(req, response)),
            ViewKind::Direct,
        );
        self
    }

    /// The namespace `name` (`/admin`), made on first use: a client can connect to a
    /// namespace once it exists here.
    pub fn of(&self, name: &str) -> Namespace {
        let name = if name.starts_with('/') {
            name.to_owned()
        } else {
            format!("/{name}")
        };
        let mut namespaces = self
            .core
            .namespaces
            .write()
            .unwrap_or_else(|p| p.into_inner());
        namespaces
            .entry(name.clone())
            .or_insert_with(|| Namespace {
                inner: Arc::new(NsInner::new(
                    &name,
                    self.core.timer.clone(),
                    self.core.adapter(&name),
                )),
            })
            .clone()
    }

    fn main(&self) -> Namespace {
        self.of("/")
    }

    /// The connect handler of `/` (see [`Namespace::on_connect`]).
    pub fn on_connect<F, R>(&self, handler: F) -> &SocketIo
    where
        F: Fn(&Socket, Option<serde_json::Value>) -> R + Send + Sync + 'static,
        R: ConnectOutcome,
    {
        self.main().on_connect(handler);
        self
    }

    /// The disconnect handler of `/` (see [`Namespace::on_disconnect`]).
    pub fn on_disconnect<F>(&self, handler: F) -> &SocketIo
    where
        F: Fn(&Socket, DisconnectReason) + Send + Sync + 'static,
    {
        self.main().on_disconnect(handler);
        self
    }

    /// An event handler of `/` (see [`Namespace::on`]).
    pub fn on<T, F>(&self, event: &str, handler: F) -> &SocketIo
    where
        T: FromArgs,
        F: Fn(&Socket, T, Option<Ack>) + Send + Sync + 'static,
    {
        self.main().on(event, handler);
        self
    }

    /// Sends an event to every socket of `/` (on every server, with a message queue).
    pub fn emit(&self, event: &str, data: impl IntoArgs) -> Result<(), ArgsError> {
        self.main().emit(event, data)
    }

    /// The sockets of `/` in `room`.
    pub fn to(&self, room: &str) -> Broadcast {
        self.main().to(room)
    }

    /// The sockets of `/` but those in `room` (or of that id).
    pub fn except(&self, room: &str) -> Broadcast {
        self.main().except(room)
    }

    /// A socket of `/` by id.
    pub fn socket(&self, id: &str) -> Option<Socket> {
        self.main().socket(id)
    }

    /// Disconnects a socket of `/` by id: `true` if it was connected to this process
    /// (see [`Namespace::disconnect`]).
    pub fn disconnect(&self, id: &str) -> bool {
        self.main().disconnect(id)
    }

    /// Takes every socket of `/` out of `room`.
    pub fn close_room(&self, room: &str) {
        self.main().close_room(room)
    }

    /// Runs `task` on a thread of its own (Flask-SocketIO's `start_background_task`);
    /// it may emit through a clone of this handle.
    pub fn start_background_task<F>(&self, task: F) -> std::thread::JoinHandle<()>
    where
        F: FnOnce() + Send + 'static,
    {
        std::thread::Builder::new()
            .name("socketio-task".into())
            .spawn(task)
            .expect("the OS could not start a thread")
    }
}
