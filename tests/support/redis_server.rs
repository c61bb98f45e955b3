//! A `redis-server` for one test, on a free high port of 127.0.0.1, without persistence;
//! killed when dropped. Installed with apt-get when missing (as root); without it the
//! tests that need it are skipped, except under CI, where it must be there.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
}

/// Whether `redis-server` can be run, installing it once if it is missing.
fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        let runs = || {
            Command::new("redis-server")
                .arg("--version")
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if runs() {
            return true;
        }
        eprintln!("redis-server is missing: trying apt-get install -y redis-server");
        let apt = |args: &[&str]| {
            Command::new("apt-get")
                .args(args)
                .env("DEBIAN_FRONTEND", "noninteractive")
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        let _ = apt(&["install", "-y", "-qq", "redis-server"])
            || (apt(&["update", "-qq"]) && apt(&["install", "-y", "-qq", "redis-server"]));
        runs()
    })
}

impl RedisServer {
    /// A server on a free port, or `None` (with a note on stderr) when redis-server is
    /// absent and cannot be installed. Under CI (`CI` set) that is a failure instead.
    pub fn start() -> Option<RedisServer> {
        if !available() {
            assert!(
                std::env::var_os("CI").is_none(),
                "redis-server is missing and could not be installed"
            );
            eprintln!("SKIPPED: redis-server is missing and could not be installed");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        Some(RedisServer::start_on(port))
    }

    /// A server on `port` (again, after [`kill`](Self::kill)), ready to answer.
    pub fn start_on(port: u16) -> RedisServer {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let server = RedisServer {
            port,
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !server.answers() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn answers(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let mut reply = [0u8; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }

    /// How many carafe servers are subscribed (on the default channel prefix): `PUBLISH`
    /// tells how many got a message, which they ignore (it is not an envelope).
    pub fn subscribers(&self) -> i64 {
        let client = redis::Client::open(self.url()).expect("a Redis URL");
        let mut connection = client.get_connection().expect("Redis answers");
        redis::cmd("PUBLISH")
            .arg("carafe-socketio#/probe#")
            .arg("probe")
            .query(&mut connection)
            .expect("PUBLISH")
    }

    /// Waits (bounded) until `n` servers are subscribed.
    pub fn wait_for_subscribers(&self, n: i64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.subscribers() < n {
            assert!(Instant::now() < deadline, "{n} servers did not subscribe");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
