//! A failed TLS handshake is logged once, at debug level, and nothing louder: a port on
//! the internet sees scanners and broken clients all day.
#![cfg(feature = "tls")]

mod support;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use support::tls::{Pki, connect, start};
use support::{CAPTURE, Reader};

/// The TLS records logged so far.
fn tls_records() -> Vec<(log::Level, String)> {
    CAPTURE
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, target, _)| target.contains("tls"))
        .map(|(level, _, text)| (*level, text.clone()))
        .collect()
}

/// Waits for the server to have logged `n` TLS records.
fn wait_for(n: usize) -> Vec<(log::Level, String)> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let records = tls_records();
        if records.len() >= n || Instant::now() > deadline {
            return records;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn each_failed_handshake_is_one_debug_line() {
    log::set_logger(&CAPTURE).unwrap();
    log::set_max_level(log::LevelFilter::Debug);
    let pki = Pki::new();
    let server = start(support::demo_app(), pki.leaf(&["localhost"]).config());

    // Plain HTTP, junk, a client that distrusts the certificate.
    let mut plain = Reader::new(server.connect());
    plain.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(plain.response().unwrap().status, 400);
    let mut junk = server.connect();
    junk.write_all(&[0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5])
        .unwrap();
    let _ = junk.read_to_end(&mut Vec::new());
    assert!(connect(server.addr, "localhost", &Pki::new().client()).is_err());
    let records = wait_for(3);
    assert_eq!(records.len(), 3, "{records:?}");
    assert!(
        records.iter().all(|(level, _)| *level == log::Level::Debug),
        "{records:?}"
    );
    assert!(records[0].1.contains("plain HTTP"), "{records:?}");
    assert!(records[1].1.contains("TLS failed"), "{records:?}");
    assert!(records[2].1.contains("TLS failed"), "{records:?}");

    // A good client after them: served, and nothing more is logged for TLS.
    let mut conn = Reader::new(connect(server.addr, "localhost", &pki.client()).unwrap());
    conn.send(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    assert_eq!(conn.response().unwrap().status, 200);
    drop(conn);
    server.stop().unwrap();
    assert_eq!(tls_records().len(), 3, "{:?}", tls_records());
    let loud: Vec<_> = CAPTURE
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|(level, _, _)| *level <= log::Level::Warn)
        .cloned()
        .collect();
    assert!(loud.is_empty(), "{loud:?}");
}
