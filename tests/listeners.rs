//! Listening on a Unix domain socket, and on sockets inherited from the parent process
//! (`LISTEN_FDS`, as systemd socket activation and `systemfd` hand them over).

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use carafe::{App, Listen, ListenAddr, Request};

fn app() -> App {
    let mut app = App::new();
    app.get("/who", |req: &Request| {
        format!("remote={:?} peer={}", req.remote_addr(), req.peer_addr())
    });
    app
}

fn sock_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("carafe-test-{name}-{}.sock", std::process::id()))
}

fn get_over<S: Read + Write>(mut stream: S, path: &str) -> String {
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn serves_on_a_unix_socket_with_an_explicit_peer() {
    let path = sock_path("serve");
    let _ = std::fs::remove_file(&path);
    let mut app = app();
    app.config_mut().unix_socket_mode = Some(0o660);
    let server = app.bind(format!("unix:{}", path.display())).unwrap();
    assert_eq!(server.local_addr(), ListenAddr::Unix(path.clone()));
    assert_eq!(
        server.local_addr().to_string(),
        format!("unix:{}", path.display())
    );
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660);
    let stop = server.shutdown_handle();
    let thread = std::thread::spawn(move || server.run());
    let response = get_over(UnixStream::connect(&path).unwrap(), "/who");
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(response.ends_with("remote=None peer=unix"), "{response}");
    stop.shutdown();
    thread.join().unwrap().unwrap();
}

#[test]
fn a_stale_socket_file_is_replaced_with_several_loops() {
    let path = sock_path("stale");
    let _ = std::fs::remove_file(&path);
    // A socket file whose process is gone.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let mut app = app();
    app.workers(2);
    let server = app.bind(format!("unix:{}", path.display())).unwrap();
    let stop = server.shutdown_handle();
    let thread = std::thread::spawn(move || server.run());
    for _ in 0..4 {
        let response = get_over(UnixStream::connect(&path).unwrap(), "/who");
        assert!(response.ends_with("peer=unix"), "{response}");
    }
    stop.shutdown();
    thread.join().unwrap().unwrap();
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn one_server_serves_on_several_addresses() {
    let path = sock_path("many");
    let _ = std::fs::remove_file(&path);
    let mut app = app();
    app.workers(2);
    let server = app
        .bind_many([
            Listen::http("127.0.0.1:0"),
            Listen::http(format!("unix:{}", path.display())),
            Listen::http("127.0.0.1:0"),
        ])
        .unwrap();
    let addrs = server.local_addrs().to_vec();
    assert_eq!(addrs.len(), 3);
    assert_eq!(server.local_addr(), addrs[0]);
    assert_eq!(addrs[1], ListenAddr::Unix(path.clone()));
    assert_ne!(addrs[0], addrs[2]);
    let stop = server.shutdown_handle();
    let thread = std::thread::spawn(move || server.run());
    for _ in 0..2 {
        for addr in [&addrs[0], &addrs[2]] {
            let response = get_over(TcpStream::connect(addr).unwrap(), "/who");
            assert!(response.contains("peer=127.0.0.1:"), "{response}");
        }
        let response = get_over(UnixStream::connect(&path).unwrap(), "/who");
        assert!(response.ends_with("peer=unix"), "{response}");
    }
    stop.shutdown();
    thread.join().unwrap().unwrap();
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn if_one_address_cannot_be_bound_none_is() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_addr = taken.local_addr().unwrap();
    let err = app()
        .bind_many([Listen::http("127.0.0.1:0"), Listen::http(taken_addr)])
        .err()
        .expect("the second address is taken");
    assert!(err.to_string().contains(&taken_addr.to_string()), "{err}");
    assert!(app().bind_many([]).is_err());
}

/// Runs as the child of the tests below: serves on what it inherited, says where.
#[test]
fn inherited_child() {
    if std::env::var("CARAFE_INHERITED_CHILD").is_err() {
        return;
    }
    // An address that cannot be bound: only the inherited socket can make this work.
    let server = app().bind("192.0.2.1:1").unwrap();
    #[cfg(feature = "signals")]
    server.shutdown_on_signals().unwrap();
    println!("\nLISTENING {}", server.local_addr());
    server.run().unwrap();
}

/// Starts this test binary as a server on `listener`, passed as descriptor 3.
fn spawn_inheriting(listener: &TcpListener) -> std::process::Child {
    use std::os::fd::AsRawFd;
    let fd = listener.as_raw_fd();
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "--exact",
            "inherited_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("CARAFE_INHERITED_CHILD", "1")
        .env("LISTEN_FDS", "1")
        .env_remove("LISTEN_PID")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    // SAFETY: between fork and exec only async-signal-safe calls are made: dup2 puts the
    // listener at descriptor 3 without close-on-exec, as the LISTEN_FDS protocol wants
    // (when it is 3 already, dup2 does nothing, so the flag is cleared by hand).
    unsafe {
        command.pre_exec(move || {
            let ok = if fd == 3 {
                libc::fcntl(3, libc::F_SETFD, 0) >= 0
            } else {
                libc::dup2(fd, 3) >= 0
            };
            if ok {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    let mut child = command.spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    loop {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "child exited");
        if let Some(addr) = line.trim().strip_prefix("LISTENING ") {
            assert_eq!(addr, listener.local_addr().unwrap().to_string());
            break;
        }
    }
    // The child's harness still reports its result when it exits: keep reading.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    child
}

fn terminate(child: &mut std::process::Child) {
    // SAFETY: kill with a valid pid and signal number.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    // With signal handling the child shuts down gracefully; without, SIGTERM ends it.
    #[cfg(feature = "signals")]
    assert!(status.success(), "{status}");
    let _ = status;
}

#[test]
fn serves_on_an_inherited_socket_and_a_restart_loses_no_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut first = spawn_inheriting(&listener);
    let response = get_over(TcpStream::connect(addr).unwrap(), "/who");
    assert!(
        response.contains("remote=Some(127.0.0.1) peer=127.0.0.1:"),
        "{response}"
    );
    terminate(&mut first);
    // Nobody accepts now, but the socket is still open here: connections wait in its
    // backlog instead of being refused.
    let waiting: Vec<TcpStream> = (0..5)
        .map(|_| {
            let stream = TcpStream::connect(addr).expect("not refused between processes");
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            stream
        })
        .collect();
    let mut second = spawn_inheriting(&listener);
    for stream in waiting {
        let response = get_over(stream, "/who");
        assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    }
    terminate(&mut second);
}
