//! Blocking views run on the pool, over real sockets: the loop keeps answering others
//! meanwhile, pipelined responses keep their order and the input behind a pending one
//! waits in the client's socket, a full pool answers 503, a panic is one 500, a client
//! that leaves is noticed, a view may outlast the idle timeout, and shutdown waits for
//! views in flight up to `shutdown_timeout`.

mod support;

use std::io::{ErrorKind, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use carafe::{App, Blueprint, Request};
use support::{Reader, TestServer};

/// A gate a view waits at until the test opens it, and a signal that the view began.
#[derive(Clone)]
struct Gate {
    entered: Arc<Mutex<Sender<()>>>,
    open: Arc<Mutex<Receiver<()>>>,
}

struct GateControl {
    entered: Receiver<()>,
    open: Sender<()>,
}

fn gate() -> (Gate, GateControl) {
    let (entered_tx, entered_rx) = channel();
    let (open_tx, open_rx) = channel();
    (
        Gate {
            entered: Arc::new(Mutex::new(entered_tx)),
            open: Arc::new(Mutex::new(open_rx)),
        },
        GateControl {
            entered: entered_rx,
            open: open_tx,
        },
    )
}

impl Gate {
    fn pass(&self) {
        self.entered.lock().unwrap().send(()).unwrap();
        self.open
            .lock()
            .unwrap()
            .recv_timeout(Duration::from_secs(20))
            .expect("the test opens the gate");
    }
}

impl GateControl {
    fn wait_entered(&self) {
        self.entered
            .recv_timeout(Duration::from_secs(10))
            .expect("the view started");
    }
}

fn app_with_gate(gate: Gate) -> App {
    let mut app = App::new();
    app.blocking().get("/slow", move |_: &Request| {
        gate.pass();
        "slept"
    });
    app.get("/fast", |_: &Request| "fast");
    app
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").into_bytes()
}

#[test]
fn a_fast_route_is_answered_while_a_blocking_view_waits() {
    let (gate, control) = gate();
    let server = TestServer::start(app_with_gate(gate));
    let mut slow = Reader::new(server.connect());
    slow.send(&get("/slow"));
    control.wait_entered();
    // The view is still waiting: the loop answers another connection meanwhile.
    let mut fast = Reader::new(server.connect());
    fast.send(&get("/fast"));
    assert_eq!(fast.response().unwrap().text(), "fast");
    control.open.send(()).unwrap();
    let resp = slow.response().unwrap();
    assert_eq!((resp.status, resp.text().as_str()), (200, "slept"));
    // And the connection goes on serving.
    slow.send(&get("/fast"));
    assert_eq!(slow.response().unwrap().text(), "fast");
}

#[test]
fn pipelined_responses_keep_their_order_behind_a_blocking_one() {
    let (gate, control) = gate();
    let server = TestServer::start(app_with_gate(gate));
    let mut reader = Reader::new(server.connect());
    let mut pipeline = get("/slow");
    pipeline.extend(get("/fast"));
    pipeline.extend(get("/slow"));
    pipeline.extend(get("/fast"));
    reader.send(&pipeline);
    control.wait_entered();
    control.open.send(()).unwrap();
    control.wait_entered();
    control.open.send(()).unwrap();
    let texts: Vec<String> = (0..4).map(|_| reader.response().unwrap().text()).collect();
    assert_eq!(texts, ["slept", "fast", "slept", "fast"]);
}

#[test]
fn a_hundred_blocking_views_run_at_once() {
    // Each view waits until all hundred are running: with fewer threads than views this
    // never finishes (and the reads below time out).
    let barrier = Arc::new(Barrier::new(100));
    let mut app = App::new();
    app.config_mut().blocking_threads = 100;
    app.blocking().get("/together", move |_: &Request| {
        barrier.wait();
        "together"
    });
    let server = TestServer::start(app);
    let mut readers: Vec<Reader> = (0..100).map(|_| Reader::new(server.connect())).collect();
    for reader in &mut readers {
        reader.send(&get("/together"));
    }
    for reader in &mut readers {
        assert_eq!(reader.response().unwrap().text(), "together");
    }
}

#[test]
fn a_full_pool_answers_503_with_retry_after() {
    let (gate, control) = gate();
    let mut app = app_with_gate(gate);
    app.config_mut().blocking_threads = 1;
    app.config_mut().blocking_queue = 0;
    let server = TestServer::start(app);
    let mut busy = Reader::new(server.connect());
    busy.send(&get("/slow"));
    control.wait_entered();
    let mut refused = Reader::new(server.connect());
    refused.send(&get("/slow"));
    let resp = refused.response().unwrap();
    assert_eq!(resp.status, 503);
    assert!(resp.header("Retry-After").is_some());
    // A fast route is unaffected.
    refused.send(&get("/fast"));
    assert_eq!(refused.response().unwrap().text(), "fast");
    control.open.send(()).unwrap();
    assert_eq!(busy.response().unwrap().text(), "slept");
}

#[test]
fn a_panic_in_a_blocking_view_is_one_500_and_the_thread_lives_on() {
    let mut app = App::new();
    app.config_mut().blocking_threads = 1;
    app.blocking()
        .get("/panic", |_: &Request| -> &'static str { panic!("boom") });
    app.blocking().get("/thread", |_: &Request| {
        std::thread::current().name().unwrap_or("").to_owned()
    });
    let server = TestServer::start(app);
    let mut reader = Reader::new(server.connect());
    reader.send(&get("/panic"));
    assert_eq!(reader.response().unwrap().status, 500);
    reader.send(&get("/thread"));
    let resp = reader.response().unwrap();
    assert_eq!(resp.status, 200);
    assert!(
        resp.text().starts_with("carafe-blocking-"),
        "{}",
        resp.text()
    );
}

#[test]
fn hooks_and_error_handlers_of_a_blocking_view_run_on_the_pool() {
    let mut admin = Blueprint::new("admin", "/admin");
    admin.before_request(|req: &Request| {
        let thread = std::thread::current().name().unwrap_or("").to_owned();
        if req.header("X-Deny").is_some() {
            return Err(carafe::abort(403));
        }
        assert!(
            thread.starts_with("carafe-blocking-"),
            "hook ran on {thread}"
        );
        Ok(())
    });
    admin.errorhandler(403, |_: &Request, _: &carafe::HttpError| {
        format!("denied on {}", std::thread::current().name().unwrap_or(""))
    });
    admin.blocking().get("/report", |req: &Request| {
        format!("report {}", req.arg("q").unwrap_or(""))
    });
    let mut app = App::new();
    app.register_blueprint(admin);
    let server = TestServer::start(app);
    let mut reader = Reader::new(server.connect());
    reader.send(&get("/admin/report?q=sales"));
    assert_eq!(reader.response().unwrap().text(), "report sales");
    reader.send(b"GET /admin/report HTTP/1.1\r\nHost: x\r\nX-Deny: 1\r\n\r\n");
    let resp = reader.response().unwrap();
    assert_eq!(resp.status, 403);
    assert!(
        resp.text().starts_with("denied on carafe-blocking-"),
        "{}",
        resp.text()
    );
}

#[test]
fn a_request_body_reaches_a_blocking_view() {
    let mut app = App::new();
    app.blocking().post("/upload", |req: &Request| {
        format!(
            "{} {}",
            req.body().len(),
            req.header("X-Name").unwrap_or("")
        )
    });
    let server = TestServer::start(app);
    let mut reader = Reader::new(server.connect());
    let body = vec![b'z'; 100_000];
    let mut request = format!(
        "POST /upload HTTP/1.1\r\nHost: x\r\nX-Name: zed\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend(&body);
    reader.send(&request);
    assert_eq!(reader.response().unwrap().text(), "100000 zed");
}

#[test]
fn a_result_for_a_closed_connection_never_reaches_the_next_one() {
    let (gate, control) = gate();
    let finished = Arc::new(AtomicUsize::new(0));
    let done = finished.clone();
    let mut app = App::new();
    app.blocking().get("/slow", move |_: &Request| {
        gate.pass();
        done.fetch_add(1, Ordering::SeqCst);
        "for the first client"
    });
    app.get("/fast", |_: &Request| "for the second client");
    let server = TestServer::start(app);
    {
        let mut first = Reader::new(server.connect());
        first.send(&get("/slow"));
        control.wait_entered();
        // Leaves while its view runs.
    }
    // The first connection's slot is free and may be taken by this one (whether it is
    // cannot be seen from here; `src/server/event_loop.rs` has the test that makes sure).
    std::thread::sleep(Duration::from_millis(100));
    let mut second = Reader::new(server.connect());
    control.open.send(()).unwrap();
    while finished.load(Ordering::SeqCst) == 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(100));
    second.send(&get("/fast"));
    let resp = second.response().unwrap();
    assert_eq!(resp.text(), "for the second client");
    second
        .stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut extra = [0u8; 64];
    match std::io::Read::read(&mut second.stream, &mut extra) {
        Ok(n) => assert_eq!(n, 0, "unexpected bytes: {:?}", &extra[..n]),
        Err(e) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "{e}"
        ),
    }
}

#[test]
fn shutdown_waits_for_a_blocking_view_in_flight() {
    let (gate, control) = gate();
    let server = TestServer::start(app_with_gate(gate));
    let mut reader = Reader::new(server.connect());
    reader.send(&get("/slow"));
    control.wait_entered();
    let handle = server.handle.clone();
    handle.shutdown();
    std::thread::sleep(Duration::from_millis(100));
    control.open.send(()).unwrap();
    let resp = reader.response().unwrap();
    assert_eq!(resp.text(), "slept");
    assert_eq!(resp.header("Connection"), Some("close"));
    server.stop().unwrap();
}

#[test]
fn the_test_client_runs_blocking_views_inline() {
    let mut app = App::new();
    app.blocking().get("/db/<int:id>", |req: &Request| {
        let id: u64 = req.param("id")?;
        Ok::<_, carafe::HttpError>(format!("row {id}"))
    });
    let client = app.test_client();
    assert_eq!(client.get("/db/7").send().text(), "row 7");
    assert_eq!(client.get("/db/x").send().status(), 404);
}

#[test]
fn a_blocking_view_may_outlast_the_keep_alive_timeout() {
    let (gate, control) = gate();
    let mut app = app_with_gate(gate);
    app.config_mut().keep_alive_timeout = Duration::from_millis(100);
    let server = TestServer::start(app);
    let mut slow = Reader::new(server.connect());
    slow.send(&get("/slow"));
    control.wait_entered();
    // An idle connection beside it is closed once the keep-alive timeout passes...
    let mut idle = Reader::new(server.connect());
    idle.send(&get("/fast"));
    assert_eq!(idle.response().unwrap().text(), "fast");
    assert!(idle.is_closed(), "the idle connection was closed");
    // ...while the one waiting for its view, as long, is not idle: it gets its answer.
    control.open.send(()).unwrap();
    let resp = slow
        .response()
        .expect("the answer, not a closed connection");
    assert_eq!((resp.status, resp.text().as_str()), (200, "slept"));
}

#[test]
fn shutdown_cuts_off_a_view_that_outlasts_the_shutdown_timeout() {
    let (gate, control) = gate();
    let mut app = app_with_gate(gate);
    let timeout = Duration::from_millis(300);
    app.config_mut().shutdown_timeout = timeout;
    let server = TestServer::start(app);
    let mut reader = Reader::new(server.connect());
    reader.send(&get("/slow"));
    control.wait_entered();
    let asked = Instant::now();
    let (stopped_tx, stopped) = channel();
    std::thread::spawn(move || stopped_tx.send(server.stop()).unwrap());
    let result = stopped
        .recv_timeout(Duration::from_secs(5))
        .expect("run returned well before the 10 s default");
    let took = asked.elapsed();
    assert!(result.is_ok(), "{result:?}");
    assert!(
        took >= timeout,
        "returned after {took:?}, before the timeout"
    );
    // The view never answered: the client's connection ends without a response.
    assert!(reader.response().is_none());
    // The view finishes on its thread; its answer finds no loop.
    control.open.send(()).unwrap();
}

#[test]
fn input_behind_a_pending_view_waits_in_the_socket_not_in_the_server() {
    let (gate, control) = gate();
    let mut app = app_with_gate(gate);
    app.get("/n/<int:n>", |req: &Request| {
        let n: u64 = req.param("n")?;
        Ok::<_, carafe::HttpError>(n.to_string())
    });
    let server = TestServer::start(app);
    let stream = server.connect();
    let mut reader = Reader::new(stream.try_clone().unwrap());
    reader.send(&get("/slow"));
    control.wait_entered();
    // Pipelined requests of 4 KiB each, written without blocking until the socket takes
    // no more: the server has stopped reading, so the kernel's buffers fill up. A server
    // that went on reading would take all of them into its own memory.
    let padding = "p".repeat(4000);
    let request = |n: usize| format!("GET /n/{n} HTTP/1.1\r\nHost: x\r\nX-Pad: {padding}\r\n\r\n");
    let limit: usize = 64 << 20;
    let mut writer = stream;
    writer.set_nonblocking(true).unwrap();
    let (mut sent, mut written, mut pending) = (0usize, 0usize, request(0).into_bytes());
    let mut stalled_since: Option<Instant> = None;
    while written < limit {
        match writer.write(&pending) {
            Ok(n) => {
                written += n;
                pending.drain(..n);
                stalled_since = None;
                if pending.is_empty() {
                    sent += 1;
                    pending = request(sent).into_bytes();
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                let since = *stalled_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= Duration::from_millis(300) {
                    break; // nothing taken for a while: the server is not reading
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("write: {e}"),
        }
    }
    assert!(
        written < limit,
        "the server read {written} bytes behind a pending view"
    );
    assert!(sent > 0, "not even one request fit in the socket buffers");
    // Once the view answers, everything is read and answered, in order.
    writer.set_nonblocking(false).unwrap();
    let rest = std::thread::spawn(move || {
        writer.write_all(&pending).unwrap();
        sent + 1
    });
    control.open.send(()).unwrap();
    assert_eq!(reader.response().unwrap().text(), "slept");
    let total = rest.join().unwrap();
    for n in 0..total {
        assert_eq!(reader.response().unwrap().text(), n.to_string());
    }
}
