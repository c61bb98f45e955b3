//! The hot path allocates nothing: once a keep-alive connection is warm, serving
//! `GET /plaintext` and `GET /json` on the hello example makes no heap allocation on the
//! server's thread. A count, not a time, so it holds on a noisy machine.

#![cfg(feature = "json")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};

#[path = "../examples/hello.rs"]
#[allow(dead_code)]
mod hello;

/// Counts allocations made on threads that opted in.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

fn note() {
    if COUNTED.with(Cell::get) {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; counting has no
// effect on the memory returned.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Sends `count` requests for `path`, `depth` at a time, reading every response.
fn exchange(stream: &mut TcpStream, path: &str, count: usize, depth: usize) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").repeat(depth);
    let mut buf = vec![0u8; 1 << 16];
    for _ in 0..count / depth {
        stream.write_all(request.as_bytes()).unwrap();
        let mut seen = 0;
        let mut pending = Vec::new();
        while seen < depth {
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0, "server closed the connection");
            pending.extend_from_slice(&buf[..n]);
            // Count whole responses: each ends with its 13- or 27-byte body.
            seen = pending.windows(9).filter(|w| w == b"HTTP/1.1 ").count();
            if seen == depth && !(pending.ends_with(b"!") || pending.ends_with(b"}")) {
                seen -= 1;
            }
        }
        assert_eq!(
            pending
                .windows(15)
                .filter(|w| w == b"HTTP/1.1 200 OK")
                .count(),
            depth
        );
    }
}

#[test]
fn a_warm_keep_alive_connection_allocates_nothing() {
    let server = hello::app().bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().tcp().unwrap();
    let stop = server.shutdown_handle();
    let thread = std::thread::spawn(move || {
        COUNTED.with(|c| c.set(true));
        server.run()
    });
    let mut stream = TcpStream::connect(addr).unwrap();
    for (path, depth) in [
        ("/plaintext", 1),
        ("/plaintext", 16),
        ("/json", 1),
        ("/json", 16),
    ] {
        // Warm up: the loop's buffers and the JSON scratch buffer reach their size.
        exchange(&mut stream, path, 64, depth);
        let before = ALLOCATIONS.load(Ordering::SeqCst);
        exchange(&mut stream, path, 2000, depth);
        let after = ALLOCATIONS.load(Ordering::SeqCst);
        assert_eq!(
            after - before,
            0,
            "{path} at depth {depth}: {} allocations",
            after - before
        );
    }
    // The count is live: echoing a body copies it into a new Vec on the server thread.
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n!")
        .unwrap();
    let mut buf = [0u8; 512];
    let n = stream.read(&mut buf).unwrap();
    assert!(buf[..n].ends_with(b"\r\n\r\n!"));
    assert!(
        ALLOCATIONS.load(Ordering::SeqCst) > before,
        "allocations are being counted"
    );
    stop.shutdown();
    thread.join().unwrap().unwrap();
}
