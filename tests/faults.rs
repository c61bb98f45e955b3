//! Faults from the peer and from handlers: resets, early closes, broken pipes, half
//! closes, panics mid-body. The server drops what is broken, serves everyone else, and
//! leaks no file descriptor.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread::sleep;
use std::time::{Duration, Instant};

use carafe::{App, Config, Request, Response};
use support::{Reader, TestServer, roundtrip};

fn app() -> App {
    let config = Config {
        linger_timeout: Duration::from_millis(200),
        keep_alive_timeout: Duration::from_millis(500),
        ..Config::default()
    };
    let mut app = App::new().with_config(config);
    app.get("/", |_: &Request| "ok");
    app.get("/big", |_: &Request| Response::new(vec![b'b'; 8 << 20]));
    app.post("/echo", |req: &Request| Response::new(req.body().to_vec()));
    app.get("/broken-stream", |_: &Request| {
        Response::stream((0..).map(|i| {
            assert!(i < 100, "the stream broke");
            vec![b's'; 1024]
        }))
    });
    app
}

/// Closes with a reset instead of a FIN.
fn reset(stream: TcpStream) {
    socket2::SockRef::from(&stream)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(stream);
}

/// The descriptor count is per process, so the tests of this file run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn alive(server: &TestServer) {
    assert_eq!(
        roundtrip(server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").text(),
        "ok"
    );
}

#[test]
fn resets_mid_request_and_mid_response() {
    let _serial = serial();
    let server = TestServer::start(app());
    let mut partial = server.connect();
    partial
        .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        .unwrap();
    sleep(Duration::from_millis(50));
    reset(partial);
    alive(&server);

    let mut reading = server.connect();
    reading
        .write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 4096];
    reading.read_exact(&mut buf).unwrap();
    reset(reading);
    alive(&server);
}

#[test]
fn closing_with_a_response_pending_breaks_the_pipe_quietly() {
    let _serial = serial();
    let server = TestServer::start(app());
    for _ in 0..10 {
        let mut conn = server.connect();
        conn.write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\nGET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        drop(conn);
    }
    alive(&server);
}

#[test]
fn half_closed_clients_get_every_pipelined_answer() {
    let _serial = serial();
    let server = TestServer::start(app());
    let mut conn = Reader::new(server.connect());
    conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nPOST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhiGET / HTTP/1.1\r\nHost: x\r\n\r\n");
    conn.stream.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(conn.response().unwrap().text(), "ok");
    assert_eq!(conn.response().unwrap().text(), "hi");
    assert_eq!(conn.response().unwrap().text(), "ok");
    assert!(conn.is_closed());
}

#[test]
fn a_body_that_panics_midway_ends_only_its_connection() {
    let _serial = serial();
    let server = TestServer::start(app());
    let mut conn = server.connect();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.write_all(
        b"GET /broken-stream HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .unwrap();
    let mut received = Vec::new();
    conn.read_to_end(&mut received).unwrap();
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(text.contains("Transfer-Encoding: chunked"));
    assert!(
        !text.ends_with("0\r\n\r\n"),
        "the body must not look complete"
    );
    assert_eq!(
        text.matches("HTTP/1.1 ").count(),
        1,
        "nothing after the broken body"
    );
    alive(&server);
}

#[test]
fn no_file_descriptor_leaks_after_a_storm_of_faults() {
    let _serial = serial();
    let server = TestServer::start(app());
    // Before any connection: the server's poll, waker and listener, and ours.
    let baseline = open_fds();
    for i in 0..200 {
        let mut conn = server.connect();
        match i % 8 {
            0 => reset(conn),
            1 => {
                let _ = conn.write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
                reset(conn);
            }
            2 => {
                let _ = conn.write_all(b"\x00\x01garbage\r\n\r\n");
            }
            3 => {
                let _ = conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
                let _ = conn.shutdown(std::net::Shutdown::Write);
                let mut sink = Vec::new();
                let _ = conn.read_to_end(&mut sink);
            }
            4 => {
                let _ =
                    conn.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n1");
            }
            5 => {
                let _ = conn.write_all(b"GET /broken-stream HTTP/1.1\r\nHost: x\r\n\r\n");
                let mut sink = Vec::new();
                let _ = conn.read_to_end(&mut sink);
            }
            6 => {
                let _ = conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
            }
            _ => drop(conn),
        }
    }
    alive(&server);
    // Give lingering and idle connections their (short) timeouts: every connection,
    // faulty or not, must be gone.
    let deadline = Instant::now() + Duration::from_secs(10);
    while open_fds() > baseline && Instant::now() < deadline {
        sleep(Duration::from_millis(100));
    }
    assert_eq!(open_fds(), baseline, "descriptors leaked");
}
