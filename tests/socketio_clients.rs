//! `examples/chat.rs` driven by python-socketio, the official Python client, over
//! long-polling, WebSocket and the upgrade between them (`tests/socketio/clients.py`),
//! on one event loop and on two: with two, a polling session's requests reach either
//! loop, and rooms and broadcasts span both.
//!
//! Needs `pip install "python-socketio[client]" websocket-client requests` (`.ci/run`
//! installs them).
#![cfg(feature = "socketio")]

mod support;

#[path = "../examples/chat.rs"]
#[allow(dead_code)]
mod chat;

use std::process::Command;
use std::time::Duration;

use carafe::socketio::{SocketIo, SocketIoConfig};
use support::TestServer;

fn run_clients(workers: usize) {
    // A refused client's session, should its client leave it open, ends soon.
    let io = SocketIo::with_config(SocketIoConfig {
        connect_timeout: Duration::from_secs(2),
        ..SocketIoConfig::default()
    });
    let mut app = chat::app(&io);
    app.workers(workers);
    // A long-poll still parked when the test ends must not hold the shutdown.
    app.config_mut().shutdown_timeout = Duration::from_millis(500);
    chat::start_clock(&io);
    let server = TestServer::start(app);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/socketio/clients.py");
    let output = Command::new("python3")
        .arg(script)
        .arg("--url")
        .arg(format!("http://{}", server.addr))
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.find("No module named").is_none(),
        "python-socketio is missing: pip install \"python-socketio[client]\" websocket-client requests\n{stderr}"
    );
    assert!(
        output.status.success() && stdout.contains(" passed, 0 failed"),
        "python-socketio checks failed:\n{stdout}\n{stderr}"
    );
}

#[test]
fn python_socketio_on_one_loop() {
    run_clients(1);
}

#[test]
fn python_socketio_on_two_loops() {
    run_clients(2);
}
