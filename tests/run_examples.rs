//! The examples as a person runs them: the built binary, its start-up banner, and the
//! request lines it prints on stderr.

#![cfg(feature = "json")]

mod support;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStderr, Command, Stdio};

use support::Reader;

/// A built example, started on a free port; killed when dropped.
pub struct Running {
    child: Child,
    /// Kept whole: its buffer may already hold what followed the banner.
    stderr: BufReader<ChildStderr>,
    pub port: u16,
    /// What it printed on stderr up to and including the banner's address line.
    pub banner: String,
}

impl Running {
    pub fn start(example: &str, env: &[(&str, &str)]) -> Running {
        // `cargo test` builds the examples beside the test binaries' `deps` folder (a run
        // limited to `--test run_examples` does not: `cargo build --examples` first).
        let exe = std::env::current_exe().unwrap();
        let bin = exe
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .join("examples")
            .join(example);
        assert!(bin.exists(), "{} is built by cargo test", bin.display());
        let mut child = Command::new(bin)
            .env("PORT", "0")
            .env_remove("RUST_LOG")
            .env_remove("CARAFE_DEBUG")
            .env_remove("TLS_CERT")
            .env_remove("TLS_KEY")
            .envs(env.iter().copied())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut banner = String::new();
        let port = loop {
            let mut line = String::new();
            assert!(stderr.read_line(&mut line).unwrap() > 0, "exited: {banner}");
            banner.push_str(&line);
            if let Some(rest) = line.split("://127.0.0.1:").nth(1) {
                break rest.split('/').next().unwrap().parse().unwrap();
            }
        };
        Running {
            child,
            stderr,
            port,
            banner,
        }
    }

    pub fn get(&self, path: &str) -> support::Resp {
        let stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let mut reader = Reader::new(stream);
        reader.send(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
        reader.response().unwrap()
    }

    /// Stops it as Ctrl-C would and returns the rest of its stderr.
    pub fn stop(mut self) -> String {
        // SAFETY: kill sends a signal to a child this test started and has not reaped.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let mut rest = String::new();
        self.stderr.read_to_string(&mut rest).unwrap();
        assert!(self.child.wait().unwrap().success(), "{rest}");
        rest
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn hello_prints_a_line_per_request() {
    let hello = Running::start("hello", &[]);
    assert!(hello.banner.contains(" * Running on"), "{}", hello.banner);
    assert_eq!(hello.get("/").status, 200);
    assert_eq!(hello.get("/nowhere").status, 404);
    let log = hello.stop();
    assert!(
        log.contains(r#"127.0.0.1 "GET / HTTP/1.1" 200 13 "#),
        "{log}"
    );
    assert!(log.contains(r#""GET /nowhere HTTP/1.1" 404 "#), "{log}");
}

#[test]
fn rust_log_quiets_the_request_lines() {
    let hello = Running::start("hello", &[("RUST_LOG", "warn")]);
    assert_eq!(hello.get("/").status, 200);
    let log = hello.stop();
    assert!(!log.contains("GET /"), "{log}");
}

#[test]
fn carafe_debug_turns_debug_mode_on_with_a_warning() {
    let hello = Running::start("hello", &[("CARAFE_DEBUG", "1"), ("RUST_LOG", "warn")]);
    let rest = hello.stop();
    assert!(rest.contains(" * Debug mode: on"), "{rest}");
    assert!(rest.contains("Do not use it in production"), "{rest}");

    let hello = Running::start("hello", &[("RUST_LOG", "warn")]);
    let rest = hello.stop();
    assert!(!rest.contains("Debug mode: on"), "{rest}");
}

/// A child process killed when dropped, so a failed check leaves none running.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What one example is asked over its Unix socket, and what its answer must hold.
struct UnixCase {
    example: &'static str,
    path: &'static str,
    env: &'static [(&'static str, &'static str)],
    /// Header lines (each ending in CRLF) added to the request.
    headers: &'static str,
    body_holds: &'static str,
}

const fn case(example: &'static str, path: &'static str) -> UnixCase {
    UnixCase {
        example,
        path,
        env: &[],
        headers: "",
        body_holds: "",
    }
}

#[test]
fn every_example_serves_on_a_unix_socket_when_host_says_so() {
    use std::io::Write;
    use std::os::unix::net::UnixStream;
    let mut cases = vec![
        case("hello", "/"),
        case("techempower", "/plaintext"),
        case("todo_api", "/todos"),
        case("blocking", "/fast"),
        case("sse", "/"),
    ];
    #[cfg(all(feature = "templates", feature = "sessions"))]
    cases.push(case("site", "/"));
    #[cfg(feature = "websocket")]
    cases.push(case("websocket", "/"));
    // CARAFE_* settings apply on a Unix socket too: the one proxy in front is trusted.
    #[cfg(feature = "websocket")]
    cases.push(UnixCase {
        env: &[("CARAFE_PROXY_X_FOR", "1")],
        headers: "X-Forwarded-For: 203.0.113.9\r\n",
        body_holds: r#""remote_addr":"203.0.113.9""#,
        ..case("behind_proxy", "/whoami")
    });
    // The Engine.IO handshake: the open packet with a session id.
    #[cfg(feature = "socketio")]
    cases.push(UnixCase {
        body_holds: r#"0{"sid":""#,
        ..case("chat", "/socket.io/?EIO=4&transport=polling")
    });
    for UnixCase {
        example,
        path,
        env,
        headers,
        body_holds,
    } in cases
    {
        let socket = std::env::temp_dir().join(format!(
            "carafe-example-{example}-{}.sock",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&socket);
        let exe = std::env::current_exe().unwrap();
        let bin = exe
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .join("examples")
            .join(example);
        assert!(bin.exists(), "{} is built by cargo test", bin.display());
        let mut child = KillOnDrop(
            Command::new(bin)
                .env("HOST", format!("unix:{}", socket.display()))
                .env("PORT", "1")
                .env("RUST_LOG", "warn")
                .envs(env.iter().copied())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let mut stderr = BufReader::new(child.0.stderr.take().unwrap());
        let mut banner = String::new();
        while !banner.contains(" * Running on unix:") {
            let mut line = String::new();
            assert!(
                stderr.read_line(&mut line).unwrap() > 0,
                "{example}: {banner}"
            );
            banner.push_str(&line);
        }
        assert!(banner.contains(&socket.display().to_string()), "{banner}");
        let mut stream = UnixStream::connect(&socket).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        assert!(
            response.starts_with("HTTP/1.1 200 OK"),
            "{example}: {response}"
        );
        let body = response.split_once("\r\n\r\n").map_or("", |(_, body)| body);
        assert!(body.contains(body_holds), "{example}: {response}");
        drop(child);
        let _ = std::fs::remove_file(&socket);
    }
}

/// Every example serves HTTPS when `TLS_CERT` and `TLS_KEY` name PEM files.
#[cfg(feature = "tls")]
#[test]
fn every_example_serves_https_from_pem_files() {
    use support::tls::{Pki, connect};

    let pki = Pki::new();
    let dir = std::env::temp_dir().join(format!("carafe-examples-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = pki.leaf(&["localhost"]).write(&dir, "localhost");
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let client = pki.client();
    let mut examples = vec![
        "behind_proxy",
        "blocking",
        "hello",
        "site",
        "sse",
        "techempower",
        "todo_api",
        "websocket",
    ];
    if cfg!(feature = "socketio") {
        examples.push("chat");
    }
    for example in examples {
        let running = Running::start(
            example,
            &[("TLS_CERT", cert), ("TLS_KEY", key), ("RUST_LOG", "warn")],
        );
        assert!(
            running.banner.contains("Running on https://127.0.0.1:"),
            "{example}: {}",
            running.banner
        );
        let stream = connect(([127, 0, 0, 1], running.port).into(), "localhost", &client)
            .unwrap_or_else(|e| panic!("{example}: {e}"));
        let mut conn = Reader::new(stream);
        conn.send(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
        let status = conn.response().unwrap().status;
        assert!((200..500).contains(&status), "{example}: {status}");
        running.stop();
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `TLS_CERT=adhoc`: a development certificate, its fingerprint printed at start.
#[cfg(feature = "tls")]
#[test]
fn tls_cert_adhoc_serves_a_development_certificate() {
    use support::tls::{connect_trusting_anything, fingerprint};

    let hello = Running::start("hello", &[("TLS_CERT", "adhoc"), ("RUST_LOG", "warn")]);
    let stream = connect_trusting_anything(([127, 0, 0, 1], hello.port).into());
    let served = fingerprint(&stream.conn.peer_certificates().unwrap()[0]);
    let mut conn = Reader::new(stream);
    conn.send(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(conn.response().unwrap().text(), "Hello, World!");
    let rest = hello.stop();
    assert!(
        rest.contains("self-signed development certificate"),
        "{rest}"
    );
    assert!(rest.contains(&served), "{served} not in {rest}");
}

/// Without the `tls` feature, `TLS_CERT` is refused rather than ignored.
#[cfg(not(feature = "tls"))]
#[test]
fn tls_cert_without_the_tls_feature_is_an_error() {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join("hello");
    let out = Command::new(bin)
        .env("PORT", "0")
        .env("TLS_CERT", "adhoc")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("`tls` feature"), "{stderr}");
}
