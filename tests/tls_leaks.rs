//! TLS connections that end early leave nothing behind: peers that close or reset in
//! the middle of a handshake, right after it, or in the middle of a response. The
//! process's descriptor count (server and client are one process here) comes back to
//! where it was, so every connection the loops took in was closed. Descriptors are per
//! process: this file has one test.
#![cfg(feature = "tls")]

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use carafe::{Request, Response};
use support::Reader;
use support::tls::{Pki, client_hello, connect, start};

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Closes with a reset instead of a FIN.
fn reset(stream: TcpStream) {
    socket2::SockRef::from(&stream)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(stream);
}

fn raw(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
}

/// Sends a whole ClientHello and reads some of the server's answering flight.
fn hello_answered(addr: SocketAddr, hello: &[u8]) -> TcpStream {
    let mut stream = raw(addr);
    stream.write_all(hello).unwrap();
    let mut flight = [0u8; 512];
    let n = stream.read(&mut flight).unwrap();
    assert!(n > 0 && flight[0] == 0x16, "a handshake record: {n}");
    stream
}

fn served(reader: &mut Reader<support::tls::TlsStream>) {
    reader.send(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(reader.response().unwrap().text(), "Hello, World!");
}

#[test]
fn connections_that_end_early_leave_no_descriptor_behind() {
    let pki = Pki::new();
    let mut app = support::demo_app();
    app.get("/large", |_: &Request| Response::new(vec![b'x'; 8_000_000]));
    // Closed because the peer went, not because a timer ran out.
    app.config_mut().head_timeout = Duration::from_secs(60);
    app.config_mut().keep_alive_timeout = Duration::from_secs(60);
    app.config_mut().write_timeout = Duration::from_secs(60);
    let server = start(app, pki.leaf(&["localhost"]).config());
    let client = pki.client();
    let hello = client_hello(&client);
    // Once served, so whatever the server makes on first use exists before counting.
    let mut warm = Reader::new(connect(server.addr, "localhost", &client).unwrap());
    served(&mut warm);
    drop(warm);
    std::thread::sleep(Duration::from_millis(100));
    let baseline = open_fds();

    for _ in 0..10 {
        // Connected, and gone before a byte.
        drop(raw(server.addr));
        reset(raw(server.addr));
        // Half a ClientHello, then a FIN or a reset.
        let mut half = raw(server.addr);
        half.write_all(&hello[..hello.len() / 2]).unwrap();
        drop(half);
        let mut half = raw(server.addr);
        half.write_all(&hello[..hello.len() / 2]).unwrap();
        reset(half);
        // A whole ClientHello: gone before the server's flight is read, and after.
        let mut whole = raw(server.addr);
        whole.write_all(&hello).unwrap();
        reset(whole);
        drop(hello_answered(server.addr, &hello));
        reset(hello_answered(server.addr, &hello));
        // The handshake done, then gone without close_notify, mid-request.
        let mut done = connect(server.addr, "localhost", &client).unwrap();
        done.write_all(b"GET / HTTP/1.1\r\nHost: loc").unwrap();
        done.flush().unwrap();
        drop(done);
        // Mid-response: the server has encrypted records waiting for the socket.
        let mut large = connect(server.addr, "localhost", &client).unwrap();
        large
            .write_all(b"GET /large HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let mut some = [0u8; 16384];
        assert!(large.read(&mut some).unwrap() > 0);
        reset(large.sock);
    }

    let deadline = Instant::now() + Duration::from_secs(5);
    while open_fds() > baseline && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(open_fds(), baseline, "descriptors leaked");
    // And the server serves on.
    let mut after = Reader::new(connect(server.addr, "localhost", &client).unwrap());
    served(&mut after);
    drop(after);
    server.stop().unwrap();
}
