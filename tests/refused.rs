//! Errors the server raises after a request exists (413 body too large, 408 body too
//! slow, 503 pool full) go through the app's error handlers and after-request hooks,
//! so a JSON API answers them in JSON; errors before a request exists stay plain.

mod support;

use std::time::Duration;

use carafe::{App, Blueprint, HttpError, Request, Response};
use support::{Reader, TestServer};

fn api() -> App {
    let mut app = App::new();
    app.config_mut().max_body_size = 100;
    app.config_mut().body_timeout = Duration::from_millis(200);
    app.errorhandler_any(|_: &Request, err: &HttpError| {
        Response::new(format!(r#"{{"error":{}}}"#, err.status().as_u16()))
            .with_content_type("application/json")
    });
    app.after_request(|_: &Request, resp: &mut Response| {
        resp.set_header("X-After", "1");
    });
    app.post("/upload", |req: &Request| format!("{}", req.body().len()));
    let mut admin = Blueprint::new("admin", "/admin");
    admin.errorhandler(413, |_: &Request, _: &HttpError| "admin says too large");
    admin.post("/upload", |_: &Request| "ok");
    app.register_blueprint(admin);
    app
}

fn assert_json_error(resp: &support::Resp, status: u16) {
    assert_eq!(resp.status, status);
    assert_eq!(resp.header("Content-Type"), Some("application/json"));
    assert_eq!(resp.text(), format!(r#"{{"error":{status}}}"#));
    assert_eq!(resp.header("X-After"), Some("1"));
    assert_eq!(resp.header("Connection"), Some("close"));
}

#[test]
fn a_declared_body_over_the_limit_is_a_413_from_the_app() {
    let server = TestServer::start(api());
    let mut conn = Reader::new(server.connect());
    conn.send(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n");
    assert_json_error(&conn.response().unwrap(), 413);
    assert!(conn.is_closed());
}

#[test]
fn a_chunked_body_over_the_limit_is_a_413_from_the_app() {
    let server = TestServer::start(api());
    let mut conn = Reader::new(server.connect());
    conn.send(b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    conn.send(format!("80\r\n{}\r\n0\r\n\r\n", "a".repeat(128)).as_bytes());
    assert_json_error(&conn.response().unwrap(), 413);
}

#[test]
fn a_blueprint_handler_answers_for_its_own_routes() {
    let server = TestServer::start(api());
    let mut conn = Reader::new(server.connect());
    conn.send(b"POST /admin/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n");
    let resp = conn.response().unwrap();
    assert_eq!(resp.status, 413);
    assert_eq!(resp.text(), "admin says too large");
}

#[test]
fn a_body_that_stops_arriving_is_a_408_from_the_app() {
    let server = TestServer::start(api());
    let mut conn = Reader::new(server.connect());
    conn.send(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\nonly part");
    assert_json_error(&conn.response().unwrap(), 408);
}

#[test]
fn a_full_pool_is_a_503_from_the_app_with_retry_after() {
    let mut app = api();
    app.config_mut().blocking_threads = 1;
    app.config_mut().blocking_queue = 0;
    let (entered_tx, entered) = std::sync::mpsc::channel::<()>();
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let (entered_tx, gate) = (
        std::sync::Mutex::new(entered_tx),
        std::sync::Mutex::new(gate),
    );
    app.blocking().get("/slow", move |_: &Request| {
        entered_tx.lock().unwrap().send(()).unwrap();
        gate.lock().unwrap().recv().unwrap();
        "slept"
    });
    let server = TestServer::start(app);
    let mut busy = Reader::new(server.connect());
    busy.send(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    entered.recv_timeout(Duration::from_secs(5)).unwrap();
    let mut refused = Reader::new(server.connect());
    refused.send(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    let resp = refused.response().unwrap();
    assert_eq!(resp.status, 503);
    assert_eq!(resp.text(), r#"{"error":503}"#);
    assert_eq!(resp.header("Retry-After"), Some("1"));
    // The request was read whole: the connection goes on.
    refused.send(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi");
    assert_eq!(refused.response().unwrap().text(), "2");
    release.send(()).unwrap();
    assert_eq!(busy.response().unwrap().text(), "slept");
}

#[test]
fn a_malformed_head_stays_the_server_s_plain_answer() {
    let server = TestServer::start(api());
    let mut conn = Reader::new(server.connect());
    conn.send(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 2\r\n\r\n");
    let resp = conn.response().unwrap();
    assert_eq!(resp.status, 400);
    assert_eq!(resp.header("X-After"), None);
}

#[test]
fn the_test_client_sees_the_same_413() {
    let app = api();
    let resp = app
        .test_client()
        .post("/upload")
        .body(vec![b'x'; 101])
        .send();
    assert_eq!(resp.status(), 413);
    assert_eq!(resp.text(), r#"{"error":413}"#);
}
