//! The soak test: thousands of connections doing keep-alive, pipelined, chunked and
//! `Expect: 100-continue` requests while faults are injected at random (resets, stalls,
//! half closes, garbage, disconnects mid-response). Every well-formed request must get
//! exactly one correct response, in order, and the process's file descriptors and memory
//! must come back to their baseline afterwards.
//!
//! The long run is ignored by default. Run it with `tests/soak.sh`, which raises `ulimit -n`
//! and runs `cargo test --release --test soak -- --ignored --nocapture`:
//!
//! ```text
//! tests/soak.sh                                      # 60 s, 2000 idle connections
//! SOAK_SECONDS=600 SOAK_CONNECTIONS=5000 tests/soak.sh
//! SOAK_SEED=1234 tests/soak.sh                       # the scripts of an earlier run
//! ```
//!
//! - `SOAK_SECONDS` (60): how long new sessions keep starting.
//! - `SOAK_CONNECTIONS` (2000): idle keep-alive connections held open between sessions,
//!   on top of the one each client is using (those idle past the keep-alive timeout are
//!   closed by the server and found closed by the session that takes them).
//! - `SOAK_CLIENTS` (32): client threads, each running one session at a time.
//! - `SOAK_SEED` (from the clock): the seed, printed at the start. It fixes the script of
//!   every session (session `n` draws from its own generator); timing and interleaving
//!   still differ between runs.
//!
//! A session takes a parked connection or opens a new one, runs a few exchanges on it
//! (a single request, a pipelined batch, a 100-continue upload, a head stalled for less
//! than the head timeout), and ends it: parked for a later session, closed by either
//! side, or broken by a fault. `cargo test` runs a short variant of the same code.

mod client;
mod sessions;
#[path = "../support/mod.rs"]
mod support;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime};

use carafe::{App, Config, HttpError, Request, Response};
use client::{Client, Ids, Kind, Req, Rng};
use sessions::{Shared, Stats, answered, continued, pipelined, run_client, single};
use support::TestServer;

const HEAD_TIMEOUT: Duration = Duration::from_secs(1);
/// Longer than a long stall outlasts the head timeout, so a client continuing after its
/// stall still finds the server lingering (discarding) rather than resetting.
const LINGER_TIMEOUT: Duration = Duration::from_secs(3);
/// Well within the head timeout: the request must still be answered.
pub(crate) const SHORT_STALL_MS: usize = 200;
/// Well past the head timeout: `408` and a close.
pub(crate) const LONG_STALL: Duration = Duration::from_secs(2);
/// Past its keep-alive timeout by this much, a parked connection must be closing (the
/// client then waits for the close, up to `IO_TIMEOUT`).
pub(crate) const EXPIRY_SLACK: Duration = Duration::from_millis(500);
/// Client socket timeouts: a stuck exchange fails the run instead of hanging it.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(20);
/// After the run, how long connections may take to close.
const DRAIN_WAIT: Duration = Duration::from_secs(15);
/// Allowed growth of the resident set over the run.
const RSS_SLACK_KIB: u64 = 64 * 1024;
/// A response large enough to be cut off midway.
pub(crate) const BIG: usize = 1 << 20;
/// Failures after which a client stops: the first few tell the story.
pub(crate) const MAX_FAILURES: usize = 20;

/// Routes whose answers name their request: `/n/<id>`, an echo that returns the body with
/// `X-Id`, a stream of numbered lines, and a response larger than the server's output
/// high-water mark (and large enough to walk away from).
fn app(keep_alive_timeout: Duration) -> App {
    let config = Config {
        head_timeout: HEAD_TIMEOUT,
        keep_alive_timeout,
        linger_timeout: LINGER_TIMEOUT,
        ..Config::default()
    };
    let mut app = App::new().with_config(config);
    app.get("/n/<int:id>", |req: &Request| {
        let id: u64 = req.param("id")?;
        Ok::<_, HttpError>(format!("n {id}"))
    });
    app.post("/echo/<int:id>", |req: &Request| {
        let id: u64 = req.param("id")?;
        Ok::<_, HttpError>(Response::new(req.body().to_vec()).with_header("X-Id", id.to_string()))
    });
    app.get("/stream/<int:id>/<int:pieces>", |req: &Request| {
        let id: u64 = req.param("id")?;
        let pieces: u64 = req.param("pieces")?;
        Ok::<_, HttpError>(Response::stream(
            (0..pieces).map(move |i| format!("{id}:{i}\n")),
        ))
    });
    app.get("/big/<int:id>", |req: &Request| {
        let id: u64 = req.param("id")?;
        Ok::<_, HttpError>(Response::new(vec![b'b'; BIG]).with_header("X-Id", id.to_string()))
    });
    app
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// The resident set, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

/// The resident set after the allocator has given its free pages back: glibc keeps what
/// the client threads freed cached in per-thread arenas, which is not memory in use.
fn trimmed_rss_kib() -> u64 {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases memory that is already free.
    unsafe {
        libc::malloc_trim(0);
    }
    rss_kib()
}

/// Waits (bounded) until no more than `target` descriptors are open; returns the count.
fn fds_settle(target: usize, within: Duration) -> usize {
    let deadline = Instant::now() + within;
    while open_fds() > target && Instant::now() < deadline {
        sleep(Duration::from_millis(50));
    }
    open_fds()
}

/// Raises the soft descriptor limit if the run needs more, up to the hard limit.
fn ensure_fd_limit(needed: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into a valid rlimit struct.
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
        0
    );
    if limit.rlim_cur >= needed {
        return;
    }
    limit.rlim_cur = needed.min(limit.rlim_max);
    // SAFETY: setrlimit reads a valid rlimit struct.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
    assert!(
        limit.rlim_cur >= needed,
        "the run needs {needed} file descriptors but the hard limit is {}: raise `ulimit -Hn` \
         or lower SOAK_CONNECTIONS",
        limit.rlim_max
    );
}

/// Every kind of exchange once, so buffers and allocator arenas exist before the baseline.
fn warm_up(addr: SocketAddr) {
    for i in 0..8 {
        let mut c = Client::connect(addr).unwrap();
        let mut rng = Rng::for_session(0, i);
        let mut ids = Ids(i << 16);
        let mut stats = Stats::default();
        single(&mut c, &mut rng, &mut ids, &mut stats).unwrap();
        pipelined(&mut c, &mut rng, &mut ids, &mut stats, false).unwrap();
        continued(&mut c, &mut rng, &mut ids, &mut stats).unwrap();
        let big = Req {
            id: ids.next(),
            kind: Kind::Length(rng.bytes(256 << 10)),
            close: false,
        };
        c.send(&big.wire(&mut rng)).unwrap();
        answered(&mut c, &big, &mut stats).unwrap();
        let last = Req {
            id: ids.next(),
            kind: Kind::Big,
            close: true,
        };
        c.send(&last.wire(&mut rng)).unwrap();
        answered(&mut c, &last, &mut stats).unwrap();
        c.eof().unwrap();
    }
}

struct Settings {
    seconds: f64,
    /// The server's; parked connections are used again within a third of it, and must
    /// have been closed by the server a little after it.
    keep_alive: Duration,
    connections: usize,
    clients: usize,
    seed: u64,
}

fn env_or<T: FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(value) => value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} does not parse")),
        Err(_) => default,
    }
}

fn seed() -> u64 {
    let clock = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    env_or("SOAK_SEED", clock % 1_000_000_007)
}

/// The descriptor count is per process: one run at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn soak(settings: Settings) {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let Settings {
        seconds,
        keep_alive,
        connections,
        clients,
        seed,
    } = settings;
    // Both ends of every connection live in this process.
    ensure_fd_limit(2 * (connections + clients) as u64 + 256);
    println!(
        "soak: {seconds} s, {connections} parked connections, {clients} clients, \
         SOAK_SEED={seed}"
    );

    let server = TestServer::start(app(keep_alive));
    let started_fds = open_fds();
    warm_up(server.addr);
    let baseline_fds = fds_settle(started_fds, DRAIN_WAIT);
    assert_eq!(
        baseline_fds, started_fds,
        "the warm-up's connections did not close"
    );
    let baseline_rss = trimmed_rss_kib();

    let shared = Shared {
        addr: server.addr,
        seed,
        deadline: Instant::now() + Duration::from_secs_f64(seconds),
        sessions: AtomicU64::new(0),
        parked: Mutex::new(VecDeque::new()),
        park_limit: connections,
        keep_alive,
    };
    let peak_fds = AtomicUsize::new(0);
    let done = AtomicBool::new(false);
    let started = Instant::now();
    let results: Vec<(Stats, Vec<String>)> = std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                peak_fds.fetch_max(open_fds(), Ordering::Relaxed);
                sleep(Duration::from_millis(200));
            }
        });
        let threads: Vec<_> = (0..clients)
            .map(|_| s.spawn(|| run_client(&shared)))
            .collect();
        let results = threads
            .into_iter()
            .map(|t| t.join().expect("a client thread panicked"))
            .collect();
        done.store(true, Ordering::Relaxed);
        results
    });
    let elapsed = started.elapsed();
    let still_parked = shared.parked.into_inner().unwrap();
    let parked_at_end = still_parked.len();
    drop(still_parked);

    let mut stats = Stats::default();
    let mut failures = Vec::new();
    for (s, f) in &results {
        stats.merge(s);
        failures.extend(f.iter().cloned());
    }
    let end_fds = fds_settle(baseline_fds, DRAIN_WAIT);
    let untrimmed_rss = rss_kib();
    let end_rss = trimmed_rss_kib();
    println!(
        "soak: {:.1} s, {} sessions, {} parked at the end",
        elapsed.as_secs_f64(),
        stats.sessions,
        parked_at_end
    );
    stats.print();
    let peak = peak_fds.load(Ordering::Relaxed);
    println!(
        "  fds: baseline {baseline_fds}, peak {peak} (~{} connections), after {end_fds}",
        peak.saturating_sub(baseline_fds) / 2
    );
    println!(
        "  rss: baseline {} KiB, after {} KiB ({:+} KiB; {} KiB before malloc_trim)",
        baseline_rss,
        end_rss,
        end_rss as i64 - baseline_rss as i64,
        untrimmed_rss
    );
    for failure in &failures {
        println!("  FAILED {failure}");
    }

    let fresh = {
        let mut c = Client::connect(server.addr).unwrap();
        c.send(b"GET /n/7 HTTP/1.1\r\nHost: soak\r\n\r\n").unwrap();
        c.response(false).unwrap()
    };
    assert!(
        failures.is_empty(),
        "{} failures (SOAK_SEED={seed}); the first: {}",
        failures.len(),
        failures[0]
    );
    assert_eq!(stats.responses_correct, stats.requests_well_formed);
    assert!(
        stats.requests_well_formed > 0,
        "no request was made: is the run too short?"
    );
    assert_eq!(end_fds, baseline_fds, "file descriptors leaked");
    assert!(
        end_rss < baseline_rss + RSS_SLACK_KIB,
        "resident memory grew by {} KiB",
        end_rss - baseline_rss
    );
    assert_eq!((fresh.status, fresh.body.as_slice()), (200, &b"n 7"[..]));
    server.stop().expect("the server ran without error");
}

/// A few seconds of the soak, so every `cargo test` runs its code.
#[test]
fn a_short_soak() {
    soak(Settings {
        seconds: 2.0,
        keep_alive: Duration::from_millis(1200),
        connections: 200,
        clients: 8,
        seed: seed(),
    });
}

/// The soak itself; `tests/soak.sh` runs it.
#[test]
#[ignore = "minutes long: run tests/soak.sh"]
fn soak_with_faults() {
    soak(Settings {
        seconds: env_or("SOAK_SECONDS", 60.0),
        keep_alive: Duration::from_secs(10),
        connections: env_or("SOAK_CONNECTIONS", 2000),
        clients: env_or("SOAK_CLIENTS", 32),
        seed: seed(),
    });
}
