//! Sessions: what one client does with one connection, from taking it to ending it, and
//! the counts of all it did.

use std::collections::VecDeque;
use std::io::ErrorKind;
use std::net::{Shutdown, SocketAddr};
use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::client::{Client, Ids, Kind, Req, Rng, garbage};
use crate::{EXPIRY_SLACK, LONG_STALL, MAX_FAILURES, SHORT_STALL_MS};

macro_rules! counters {
    ($($name:ident),* $(,)?) => {
        /// What the clients did and saw.
        #[derive(Default)]
        pub(crate) struct Stats {
            $(pub(crate) $name: u64,)*
        }

        impl Stats {
            pub(crate) fn merge(&mut self, other: &Stats) {
                $(self.$name += other.$name;)*
            }

            pub(crate) fn print(&self) {
                $(println!("  {:<32} {:>10}", stringify!($name), self.$name);)*
            }
        }
    };
}

counters!(
    sessions,
    connections_opened,
    connections_reused,
    connect_errors,
    requests_well_formed,
    responses_correct,
    gets,
    heads,
    streams,
    bigs,
    length_uploads,
    chunked_uploads,
    single_requests,
    pipelined_batches,
    continue_uploads,
    short_stalls,
    ended_parked,
    ended_closed_by_client,
    ended_connection_close,
    ended_idle_expired,
    fault_reset,
    fault_half_close,
    fault_garbage,
    fault_long_stall_408,
    fault_disconnect_mid_response,
    failures,
);

/// What the clients share: the server's address, the clock, the parked connections.
pub(crate) struct Shared {
    pub(crate) addr: SocketAddr,
    pub(crate) seed: u64,
    pub(crate) deadline: Instant,
    pub(crate) sessions: AtomicU64,
    pub(crate) parked: Mutex<VecDeque<(Client, Instant)>>,
    /// Most connections parked at once.
    pub(crate) park_limit: usize,
    /// The server's keep-alive timeout.
    pub(crate) keep_alive: Duration,
}

/// One client thread: sessions until the deadline.
pub(crate) fn run_client(shared: &Shared) -> (Stats, Vec<String>) {
    let mut stats = Stats::default();
    let mut failures = Vec::new();
    while Instant::now() < shared.deadline && failures.len() < MAX_FAILURES {
        let session = shared.sessions.fetch_add(1, Ordering::Relaxed);
        let mut rng = Rng::for_session(shared.seed, session);
        stats.sessions += 1;
        if let Err(e) = start_session(shared, &mut rng, session, &mut stats) {
            stats.failures += 1;
            failures.push(format!("session {session}: {e}"));
        }
    }
    (stats, failures)
}

pub(crate) fn start_session(
    shared: &Shared,
    rng: &mut Rng,
    session: u64,
    stats: &mut Stats,
) -> Result<(), String> {
    // Fewer sessions take a parked connection than leave one: the pool fills up.
    let parked = if rng.percent(25) {
        let mut parked = shared.parked.lock().unwrap();
        if rng.percent(70) {
            parked.pop_back()
        } else {
            parked.pop_front()
        }
    } else {
        None
    };
    let mut client = match parked {
        Some((mut client, since)) => {
            let idle = since.elapsed();
            if idle > shared.keep_alive + EXPIRY_SLACK {
                // The server's keep-alive timeout must have closed it.
                stats.ended_idle_expired += 1;
                return client
                    .eof()
                    .map_err(|e| format!("idle for {idle:?}, yet not closed: {e}"));
            }
            if idle > shared.keep_alive / 3 {
                // Close to the keep-alive timeout: either side may close first.
                stats.ended_closed_by_client += 1;
                return Ok(());
            }
            client.quiet().map_err(|e| format!("parked: {e}"))?;
            stats.connections_reused += 1;
            client
        }
        None => match Client::connect(shared.addr) {
            Ok(client) => {
                stats.connections_opened += 1;
                client
            }
            // Ephemeral ports run out when many closed connections wait in TIME_WAIT.
            Err(e) if e.kind() == ErrorKind::AddrNotAvailable => {
                stats.connect_errors += 1;
                sleep(Duration::from_millis(20));
                return Ok(());
            }
            Err(e) => return Err(format!("connect: {e}")),
        },
    };
    let mut ids = Ids(session << 16);
    for _ in 0..rng.below(5) {
        match rng.below(100) {
            0..=39 => single(&mut client, rng, &mut ids, stats).map_err(ctx("single"))?,
            40..=64 => {
                pipelined(&mut client, rng, &mut ids, stats, false).map_err(ctx("pipelined"))?
            }
            65..=84 => continued(&mut client, rng, &mut ids, stats).map_err(ctx("100-continue"))?,
            _ => short_stall(&mut client, rng, &mut ids, stats).map_err(ctx("short stall"))?,
        }
    }
    client.quiet()?;
    end_session(shared, client, rng, &mut ids, stats)
}

pub(crate) fn ctx(what: &'static str) -> impl Fn(String) -> String {
    move |e| format!("{what}: {e}")
}

pub(crate) fn sent(stats: &mut Stats, req: &Req) {
    stats.requests_well_formed += 1;
    match req.kind {
        Kind::Get => stats.gets += 1,
        Kind::Head => stats.heads += 1,
        Kind::Length(_) => stats.length_uploads += 1,
        Kind::Chunked(_) => stats.chunked_uploads += 1,
        Kind::Stream(_) => stats.streams += 1,
        Kind::Big => stats.bigs += 1,
    }
}

pub(crate) fn answered(client: &mut Client, req: &Req, stats: &mut Stats) -> Result<(), String> {
    let resp = client.response(req.is_head())?;
    req.check(&resp)?;
    stats.responses_correct += 1;
    Ok(())
}

/// A batch of small requests, written before any answer is read.
pub(crate) fn batch(rng: &mut Rng, ids: &mut Ids, n: Range<usize>) -> Vec<Req> {
    (0..rng.range(n.start, n.end))
        .map(|_| Req::random(ids.next(), rng, false))
        .collect()
}

pub(crate) fn single(
    c: &mut Client,
    rng: &mut Rng,
    ids: &mut Ids,
    stats: &mut Stats,
) -> Result<(), String> {
    let req = Req::random(ids.next(), rng, true);
    let wire = req.wire(rng);
    c.send_split(&wire, rng)?;
    sent(stats, &req);
    stats.single_requests += 1;
    answered(c, &req, stats)
}

/// Up to 16 requests in one write or cut anywhere; with `close_last`, the last asks for
/// `Connection: close` and is followed by requests that must never be answered.
pub(crate) fn pipelined(
    c: &mut Client,
    rng: &mut Rng,
    ids: &mut Ids,
    stats: &mut Stats,
    close_last: bool,
) -> Result<(), String> {
    let mut reqs = batch(rng, ids, 2..17);
    if close_last {
        reqs.last_mut().unwrap().close = true;
    }
    let mut wire: Vec<u8> = reqs.iter().flat_map(|r| r.wire(rng)).collect();
    if close_last {
        for req in batch(rng, ids, 0..3) {
            wire.extend_from_slice(&req.wire(rng));
        }
    }
    c.send_split(&wire, rng)?;
    stats.pipelined_batches += 1;
    for req in &reqs {
        sent(stats, req);
    }
    for req in &reqs {
        answered(c, req, stats)?;
    }
    if close_last { c.eof() } else { Ok(()) }
}

/// Sends the head alone, waits for `100 Continue`, then sends the body.
pub(crate) fn continued(
    c: &mut Client,
    rng: &mut Rng,
    ids: &mut Ids,
    stats: &mut Stats,
) -> Result<(), String> {
    let req = Req::upload(ids.next(), rng);
    let (head, body) = req.encode(rng, true);
    c.send(&head)?;
    sent(stats, &req);
    let interim = c.response(false)?;
    if interim.status != 100 {
        return Err(format!("status {} instead of 100", interim.status));
    }
    c.send_split(&body, rng)?;
    stats.continue_uploads += 1;
    answered(c, &req, stats)
}

/// Part of a head, a pause well within the head timeout, then the rest.
pub(crate) fn short_stall(
    c: &mut Client,
    rng: &mut Rng,
    ids: &mut Ids,
    stats: &mut Stats,
) -> Result<(), String> {
    let req = Req::random(ids.next(), rng, false);
    let (head, body) = req.encode(rng, false);
    let cut = rng.range(1, head.len() - 1);
    c.send(&head[..cut])?;
    sleep(Duration::from_millis(rng.range(20, SHORT_STALL_MS) as u64));
    c.send(&head[cut..])?;
    c.send(&body)?;
    sent(stats, &req);
    stats.short_stalls += 1;
    answered(c, &req, stats)
}

pub(crate) fn end_session(
    shared: &Shared,
    mut c: Client,
    rng: &mut Rng,
    ids: &mut Ids,
    stats: &mut Stats,
) -> Result<(), String> {
    match rng.below(100) {
        0..=39 => {
            let mut parked = shared.parked.lock().unwrap();
            if parked.len() < shared.park_limit {
                parked.push_back((c, Instant::now()));
                stats.ended_parked += 1;
            } else {
                stats.ended_closed_by_client += 1;
            }
            Ok(())
        }
        40..=51 => {
            stats.ended_closed_by_client += 1;
            Ok(())
        }
        52..=61 => {
            stats.ended_connection_close += 1;
            pipelined(&mut c, rng, ids, stats, true).map_err(ctx("Connection: close"))
        }
        62..=69 => {
            reset_fault(&mut c, rng, ids);
            c.reset();
            stats.fault_reset += 1;
            Ok(())
        }
        70..=77 => {
            stats.fault_half_close += 1;
            half_close(&mut c, rng, ids, stats).map_err(ctx("half close"))
        }
        78..=87 => {
            stats.fault_garbage += 1;
            garbage_fault(&mut c, rng, ids, stats).map_err(ctx("garbage"))
        }
        88..=90 => {
            stats.fault_long_stall_408 += 1;
            long_stall(&mut c, rng, ids).map_err(ctx("long stall"))
        }
        _ => {
            stats.fault_disconnect_mid_response += 1;
            disconnect_mid_response(&mut c, rng, ids);
            Ok(())
        }
    }
}

/// Gets the connection somewhere before its reset: nowhere, mid-head, mid-body, with
/// requests unread, or mid-response.
pub(crate) fn reset_fault(c: &mut Client, rng: &mut Rng, ids: &mut Ids) {
    match rng.below(5) {
        0 => {}
        1 => {
            let (head, _) = Req::random(ids.next(), rng, false).encode(rng, false);
            let _ = c.send(&head[..rng.range(1, head.len())]);
        }
        2 => {
            let (head, body) = Req::upload(ids.next(), rng).encode(rng, false);
            let _ = c.send(&head);
            let _ = c.send(&body[..rng.range(0, body.len())]);
        }
        3 => {
            let wire: Vec<u8> = batch(rng, ids, 1..8)
                .iter()
                .flat_map(|r| r.wire(rng))
                .collect();
            let _ = c.send(&wire);
        }
        _ => {
            let _ = c.send(b"GET /big/0 HTTP/1.1\r\nHost: soak\r\n\r\n");
            let _ = c.take(rng.range(0, 256 << 10));
        }
    }
}

/// A batch, then a shutdown of the client's writing side: every answer must still come,
/// then the close.
pub(crate) fn half_close(
    c: &mut Client,
    rng: &mut Rng,
    ids: &mut Ids,
    stats: &mut Stats,
) -> Result<(), String> {
    let reqs = batch(rng, ids, 1..9);
    let wire: Vec<u8> = reqs.iter().flat_map(|r| r.wire(rng)).collect();
    c.send_split(&wire, rng)?;
    c.stream
        .shutdown(Shutdown::Write)
        .map_err(|e| format!("shutdown: {e}"))?;
    for req in &reqs {
        sent(stats, req);
    }
    for req in &reqs {
        answered(c, req, stats)?;
    }
    c.eof()
}

/// Well-formed requests, garbage, more requests: the first are answered, the garbage gets
/// a 4xx and a close, and nothing after it is answered.
pub(crate) fn garbage_fault(
    c: &mut Client,
    rng: &mut Rng,
    ids: &mut Ids,
    stats: &mut Stats,
) -> Result<(), String> {
    let before = batch(rng, ids, 0..4);
    let mut wire: Vec<u8> = before.iter().flat_map(|r| r.wire(rng)).collect();
    wire.extend_from_slice(&garbage(rng));
    for req in batch(rng, ids, 0..3) {
        wire.extend_from_slice(&req.wire(rng));
    }
    // The server may close while the rest is still on its way.
    let _ = c.send_split(&wire, rng);
    for req in &before {
        sent(stats, req);
    }
    for req in &before {
        answered(c, req, stats)?;
    }
    let refused = c.response(false)?;
    if !(400..500).contains(&refused.status) || refused.header("connection") != Some("close") {
        return Err(format!(
            "garbage answered with {} (Connection {:?})",
            refused.status,
            refused.header("connection")
        ));
    }
    c.eof()
}

/// Part of a head, a pause past the head timeout, the rest: `408` and a close.
pub(crate) fn long_stall(c: &mut Client, rng: &mut Rng, ids: &mut Ids) -> Result<(), String> {
    let (head, _) = Req::random(ids.next(), rng, false).encode(rng, false);
    let cut = rng.range(1, head.len() - 1);
    c.send(&head[..cut])?;
    sleep(LONG_STALL);
    // The server is lingering by now: what follows is read and discarded.
    let _ = c.send(&head[cut..]);
    let resp = c.response(false)?;
    if resp.status != 408 || resp.header("connection") != Some("close") {
        return Err(format!("status {} instead of 408", resp.status));
    }
    c.eof()
}

/// Asks for a large response and goes away having read some of it, or none.
pub(crate) fn disconnect_mid_response(c: &mut Client, rng: &mut Rng, ids: &mut Ids) {
    match rng.below(3) {
        0 => {
            let _ = c.send(b"GET /big/0 HTTP/1.1\r\nHost: soak\r\n\r\n");
            let _ = c.take(rng.range(0, 256 << 10));
        }
        1 => {
            let id = ids.next();
            let _ = c
                .send(format!("GET /stream/{id}/100000 HTTP/1.1\r\nHost: soak\r\n\r\n").as_bytes());
            let _ = c.take(rng.range(0, 256 << 10));
        }
        _ => {
            let _ = c.send(&b"GET /big/0 HTTP/1.1\r\nHost: soak\r\n\r\n".repeat(rng.range(1, 4)));
        }
    }
}
