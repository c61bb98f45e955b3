//! Several loops, one per thread, each with its own listener on the same port.

mod support;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use carafe::{App, Request};
use support::Reader;

fn app_recording_threads(seen: Arc<Mutex<HashSet<String>>>) -> App {
    let mut app = App::new();
    app.get("/", move |_: &Request| {
        let name = std::thread::current().name().unwrap_or("?").to_owned();
        seen.lock().unwrap().insert(name.clone());
        name
    });
    app
}

#[test]
fn connections_are_spread_over_every_loop_and_shutdown_stops_them_all() {
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let mut app = app_recording_threads(seen.clone());
    app.workers(2);
    let server = app.bind("127.0.0.1:0").unwrap();
    assert_eq!(server.workers(), 2);
    let addr = server.local_addr().tcp().unwrap();
    let stop = server.shutdown_handle();
    let thread = std::thread::spawn(move || server.run());

    // The kernel spreads connections by their addresses: with 64 of them, both loops
    // get some (all on one would have odds of 2^-63).
    let mut conns: Vec<Reader> = (0..64)
        .map(|_| Reader::new(std::net::TcpStream::connect(addr).unwrap()))
        .collect();
    for conn in &mut conns {
        conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    }
    for conn in &mut conns {
        assert_eq!(conn.response().unwrap().status, 200);
    }
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "threads that served: {seen:?}");

    stop.shutdown();
    thread.join().unwrap().unwrap();
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[test]
fn zero_workers_means_one_per_core() {
    let mut app = App::new();
    app.workers(0);
    let server = app.bind("127.0.0.1:0").unwrap();
    let cores = std::thread::available_parallelism().unwrap().get();
    assert_eq!(server.workers(), cores);
}
