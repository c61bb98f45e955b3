//! The access log's time runs from the complete request head to the last byte handed
//! to the socket: time spent waiting for the body, on the blocking pool or behind a
//! streamed body counts. Refused requests (413) are logged too.

mod support;

use std::sync::Mutex;
use std::time::Duration;

use carafe::{App, Request, Response};
use support::{Reader, TestServer};

/// Collects access lines (a process has one logger, so this file has one test).
struct Capture(Mutex<Vec<String>>);

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.target() == "carafe::access"
    }
    fn log(&self, record: &log::Record) {
        if record.target() == "carafe::access" {
            self.0.lock().unwrap().push(record.args().to_string());
        }
    }
    fn flush(&self) {}
}

static CAPTURE: Capture = Capture(Mutex::new(Vec::new()));

/// The microseconds at the end of an access line.
fn micros(line: &str) -> u64 {
    line.rsplit(' ')
        .next()
        .and_then(|t| t.strip_suffix("us"))
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no time in {line:?}"))
}

#[test]
fn times_run_from_the_head_to_the_last_byte_on_the_socket() {
    log::set_logger(&CAPTURE).unwrap();
    log::set_max_level(log::LevelFilter::Info);

    let mut app = App::new();
    app.config_mut().max_body_size = 1000;
    app.post("/upload", |req: &Request| format!("{}", req.body().len()));
    app.blocking().get("/slow", |_: &Request| {
        std::thread::sleep(Duration::from_millis(150));
        "slept"
    });
    app.get("/pushed", |_: &Request| {
        let (response, body) = Response::channel();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(150));
            let _ = body.send("late");
        });
        response
    });
    let server = TestServer::start(app);
    let mut conn = Reader::new(server.connect());

    // The body comes 150 ms after the head.
    conn.send(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n");
    std::thread::sleep(Duration::from_millis(150));
    conn.send(b"body");
    assert_eq!(conn.response().unwrap().text(), "4");
    conn.send(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(conn.response().unwrap().text(), "slept");
    conn.send(b"GET /pushed HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(conn.response().unwrap().text(), "late");
    conn.send(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n");
    assert_eq!(conn.response().unwrap().status, 413);
    drop(conn);
    server.stop().unwrap();

    let lines = CAPTURE.0.lock().unwrap();
    assert_eq!(lines.len(), 4, "{lines:#?}");
    for (line, prefix) in lines.iter().zip([
        r#"127.0.0.1 "POST /upload HTTP/1.1" 200 1 "#,
        r#"127.0.0.1 "GET /slow HTTP/1.1" 200 5 "#,
        r#"127.0.0.1 "GET /pushed HTTP/1.1" 200 - "#,
        r#"127.0.0.1 "POST /upload HTTP/1.1" 413 "#,
    ]) {
        assert!(
            line.starts_with(prefix),
            "{line:?} should start with {prefix:?}"
        );
    }
    for line in &lines[..3] {
        // Well over what the view alone takes (microseconds), a little under the
        // client-side 150 ms since the server sees the head slightly later.
        assert!(micros(line) >= 100_000, "{line:?} misses the wait");
    }
}
