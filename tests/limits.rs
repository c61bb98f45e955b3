//! Resource limits: the connection cap, and running out of file descriptors. At a limit
//! the server must keep serving the connections it has and must not spin.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::Duration;

use carafe::{App, Config, Request};
use support::{Reader, TestServer};

/// CPU time (user + system) of a process so far, from /proc.
fn cpu_time(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit_once(") ").unwrap().1.split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_millis(ticks * 1000 / hz)
}

fn app() -> App {
    let mut app = App::new();
    app.get("/", |_: &Request| "ok");
    app
}

fn get(conn: &mut Reader) -> String {
    conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    conn.response().unwrap().text()
}

#[test]
fn at_the_connection_cap_the_server_stops_accepting_without_spinning() {
    let server = TestServer::start(app().with_config(Config {
        max_connections: 20,
        ..Config::default()
    }));
    let mut held: Vec<Reader> = (0..20).map(|_| Reader::new(server.connect())).collect();
    for conn in &mut held {
        assert_eq!(get(conn), "ok");
    }
    // The 21st connects (the kernel's backlog takes it) but is not served yet.
    let mut waiting = Reader::new(server.connect());
    waiting.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    waiting
        .stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut byte = [0u8];
    assert!(
        waiting.stream.read(&mut byte).is_err(),
        "served past the cap"
    );

    // Waiting at the cap costs (almost) no CPU: the listener is deregistered.
    let before = cpu_time("self");
    sleep(Duration::from_secs(1));
    let spent = cpu_time("self") - before;
    assert!(
        spent < Duration::from_millis(300),
        "spent {spent:?} of CPU while idle at the cap"
    );

    // Those already in are still served; when one leaves, the waiting one gets in.
    assert_eq!(get(&mut held[5]), "ok");
    drop(held.pop());
    waiting
        .stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(waiting.response().unwrap().text(), "ok");
}

/// Runs in a child process (selected by `CARAFE_EMFILE_CHILD`): a server whose process
/// may open only a few file descriptors, logging to stderr.
#[test]
fn emfile_child() {
    if std::env::var_os("CARAFE_EMFILE_CHILD").is_none() {
        return;
    }
    struct Stderr;
    impl log::Log for Stderr {
        fn enabled(&self, _: &log::Metadata) -> bool {
            true
        }
        fn log(&self, record: &log::Record) {
            eprintln!("{} {}", record.level(), record.args());
        }
        fn flush(&self) {}
    }
    log::set_logger(&Stderr).unwrap();
    log::set_max_level(log::LevelFilter::Warn);
    let server = app().bind("127.0.0.1:0").unwrap();
    // Room for the fds already open plus a handful of connections.
    let open = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
    let limit = libc::rlimit {
        rlim_cur: open + 8,
        rlim_max: open + 8,
    };
    // SAFETY: setrlimit reads a valid rlimit struct.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
    // On a line of its own: the test harness has already printed "test emfile_child ... ".
    println!("\nPORT {}", server.local_addr().port().unwrap());
    server.run().unwrap();
}

#[test]
fn running_out_of_file_descriptors_backs_off_and_recovers() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "emfile_child", "--nocapture", "--test-threads=1"])
        .env("CARAFE_EMFILE_CHILD", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let port = loop {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "child exited");
        if let Some(port) = line.trim().strip_prefix("PORT ") {
            break port.parse::<u16>().unwrap();
        }
    };
    let connect = || {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Reader::new(stream)
    };
    // More connections than the child can accept.
    let mut first = connect();
    assert_eq!(get(&mut first), "ok");
    let mut extra: Vec<Reader> = (0..30).map(|_| connect()).collect();
    for conn in &mut extra {
        conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    }
    sleep(Duration::from_millis(500));
    // The connection it has is still served.
    assert_eq!(get(&mut first), "ok");
    // Accepts keep failing, but the loop backs off instead of spinning.
    let pid = child.id().to_string();
    let before = cpu_time(&pid);
    sleep(Duration::from_secs(1));
    let spent = cpu_time(&pid) - before;
    assert!(
        spent < Duration::from_millis(300),
        "spent {spent:?} of CPU while out of descriptors"
    );
    // Free descriptors: the waiting connections are accepted and answered, in turn.
    drop(first);
    let mut answered = 0;
    // In connection order: the kernel hands waiting connections over first come, first served.
    for mut conn in extra.drain(..) {
        conn.stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        if conn.response().is_some_and(|r| r.text() == "ok") {
            answered += 1;
        }
        drop(conn); // each close makes room for the next
    }
    assert_eq!(answered, 30);
    child.kill().unwrap();
    child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let complaints = stderr
        .lines()
        .filter(|l| l.contains("accept failed"))
        .count();
    assert_eq!(
        complaints, 1,
        "logged {complaints} times, not once per burst:\n{stderr}"
    );
}

#[test]
fn keep_alive_connections_are_served_while_others_wait_at_the_cap() {
    let server = TestServer::start(app().with_config(Config {
        max_connections: 2,
        ..Config::default()
    }));
    let mut a = Reader::new(server.connect());
    let mut b = Reader::new(server.connect());
    for _ in 0..10 {
        assert_eq!(get(&mut a), "ok");
        assert_eq!(get(&mut b), "ok");
    }
    let _ = std::io::stdout().flush();
}
