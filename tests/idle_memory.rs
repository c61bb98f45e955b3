//! An idle keep-alive connection keeps no buffer: after a large upload that arrived in
//! pieces, and after a large response taken slowly, the memory the server thread holds
//! per connection goes back to what an untouched connection holds. Counted in bytes
//! allocated and not yet freed on the server's thread, so it holds on a noisy machine.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::TcpStream;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::thread::sleep;
use std::time::Duration;

use carafe::{App, Request, Response};
use support::Reader;

/// Tracks live heap bytes allocated by threads that opted in.
struct LiveBytes;

static LIVE: AtomicIsize = AtomicIsize::new(0);

thread_local! {
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

fn add(bytes: isize) {
    if COUNTED.with(Cell::get) {
        LIVE.fetch_add(bytes, Ordering::SeqCst);
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; counting has no
// effect on the memory returned.
unsafe impl GlobalAlloc for LiveBytes {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        add(layout.size() as isize);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        add(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        add(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: LiveBytes = LiveBytes;

/// The tests share one counter, so they run one at a time: a server thread of one freeing
/// memory while the other counts would make either fail.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

const CONNECTIONS: usize = 40;
const UPLOAD: usize = 32 * 1024;
/// Larger than loopback's socket buffers can take at once, so some of it waits in the
/// connection's own buffer.
const DOWNLOAD: usize = 16 << 20;
const DOWNLOADERS: usize = 4;

/// Sends `bytes` and reads one response.
fn roundtrip_on(conn: &mut Reader, bytes: &[u8]) -> support::Resp {
    conn.send(bytes);
    conn.response().expect("a response")
}

fn app() -> App {
    let mut app = App::new();
    app.get("/", |_: &Request| "ok");
    app.post("/len", |req: &Request| req.body().len().to_string());
    app.get("/big", |_: &Request| Response::new(vec![b'b'; DOWNLOAD]));
    app
}

/// Waits until the live count stops moving (the loop has finished its work).
fn settled() -> isize {
    let mut last = LIVE.load(Ordering::SeqCst);
    loop {
        sleep(Duration::from_millis(100));
        let now = LIVE.load(Ordering::SeqCst);
        if now == last {
            return now;
        }
        last = now;
    }
}

#[test]
fn idle_connections_give_their_buffers_back() {
    let _alone = one_at_a_time();
    let server = app().bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().tcp().unwrap();
    let stop = server.shutdown_handle();
    let thread = std::thread::spawn(move || {
        COUNTED.with(|c| c.set(true));
        server.run()
    });

    let mut conns: Vec<Reader> = (0..CONNECTIONS)
        .map(|_| Reader::new(TcpStream::connect(addr).unwrap()))
        .collect();
    for conn in &mut conns {
        assert_eq!(
            roundtrip_on(conn, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").text(),
            "ok"
        );
    }
    let untouched = settled();

    for conn in &mut conns {
        // An upload in two pieces: the first read leaves a partial request behind.
        let head = format!("POST /len HTTP/1.1\r\nHost: x\r\nContent-Length: {UPLOAD}\r\n\r\n");
        let body = vec![b'u'; UPLOAD];
        conn.send(head.as_bytes());
        conn.send(&body[..UPLOAD / 2]);
        sleep(Duration::from_millis(20));
        assert_eq!(
            roundtrip_on(conn, &body[UPLOAD / 2..]).text(),
            UPLOAD.to_string()
        );
    }
    for conn in &mut conns[..DOWNLOADERS] {
        // A response larger than the socket buffers, read only after a pause: the rest
        // waits in the connection's own buffer meanwhile.
        conn.send(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    }
    sleep(Duration::from_millis(200));
    for conn in &mut conns[..DOWNLOADERS] {
        let resp = conn.response().expect("a response");
        assert_eq!(resp.body.len(), DOWNLOAD);
    }
    let after = settled();

    let per_conn = (after - untouched) / CONNECTIONS as isize;
    println!("server heap: {untouched} B with untouched connections, {after} B after traffic");
    assert!(
        per_conn < 1024,
        "each idle connection kept {per_conn} more bytes after its traffic"
    );

    // The connections still work.
    for conn in &mut conns {
        assert_eq!(
            roundtrip_on(conn, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").text(),
            "ok"
        );
    }
    drop(conns);
    stop.shutdown();
    thread.join().unwrap().unwrap();
}

#[test]
fn the_live_count_sees_held_memory() {
    let _alone = one_at_a_time();
    // The counter must move when the server thread holds memory, or the test above
    // could not fail.
    COUNTED.with(|c| c.set(true));
    let before = LIVE.load(Ordering::SeqCst);
    let held = vec![0u8; 1 << 20];
    let during = LIVE.load(Ordering::SeqCst);
    drop(held);
    COUNTED.with(|c| c.set(false));
    assert!(during - before >= 1 << 20);
}
