//! Logging through the `log` crate: one access line per request, and faults reported.

mod support;

use carafe::{App, Request, Response};
use support::{CAPTURE, Reader, TestServer};

#[test]
fn access_lines_and_faults_are_logged() {
    log::set_logger(&CAPTURE).unwrap();
    log::set_max_level(log::LevelFilter::Info);

    let mut app = App::new();
    app.get("/hello", |_: &Request| Response::text("Hello, World!"));
    app.get("/stream", |_: &Request| Response::stream(["a", "b"]));
    app.get("/panic", |_: &Request| -> &'static str {
        panic!("the handler broke")
    });
    app.get("/io", |_: &Request| {
        std::fs::read_to_string("/definitely/not/here").map(|_| "found")
    });
    let server = TestServer::start(app);
    let mut conn = Reader::new(server.connect());
    for target in ["/hello", "/missing?q=1", "/stream", "/panic", "/io"] {
        conn.send(format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
        conn.response().unwrap();
    }
    conn.send(b"HEAD /hello HTTP/1.0\r\n\r\n");
    conn.response_to(true).unwrap();
    drop(conn);
    server.stop().unwrap();

    let records = CAPTURE.0.lock().unwrap();
    let access: Vec<&str> = records
        .iter()
        .filter(|(_, target, _)| target == "carafe::access")
        .map(|(_, _, line)| line.as_str())
        .collect();
    let expected = [
        r#"127.0.0.1 "GET /hello HTTP/1.1" 200 13 "#,
        r#"127.0.0.1 "GET /missing?q=1 HTTP/1.1" 404 207 "#,
        r#"127.0.0.1 "GET /stream HTTP/1.1" 200 - "#,
        r#"127.0.0.1 "GET /panic HTTP/1.1" 500 "#,
        r#"127.0.0.1 "GET /io HTTP/1.1" 500 "#,
        r#"127.0.0.1 "HEAD /hello HTTP/1.0" 200 13 "#,
    ];
    assert_eq!(access.len(), expected.len(), "{access:#?}");
    for (line, prefix) in access.iter().zip(expected) {
        assert!(
            line.starts_with(prefix),
            "{line:?} should start with {prefix:?}"
        );
        assert!(line.ends_with("us"), "{line:?} ends with the time taken");
    }
    let errors: Vec<&str> = records
        .iter()
        .filter(|(level, _, _)| *level == log::Level::Error)
        .map(|(_, _, line)| line.as_str())
        .collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("GET /panic: panicked at") && e.ends_with("the handler broke")),
        "{errors:#?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("GET /io: No such file or directory")),
        "{errors:#?}"
    );
}
