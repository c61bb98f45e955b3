//! Server-sent events: a clock pushed to every subscriber from a plain thread.
//!
//! ```sh
//! cargo run --release --example sse             # open http://127.0.0.1:5000/
//! curl -N localhost:5000/events                 # id: 1, event: tick, data: 1, ...
//! curl -N -H 'Last-Event-ID: 41' localhost:5000/events   # resumes at 42
//! ```
//!
//! The view only registers the subscriber and returns; a `std::thread` does the ticking
//! and pushes through each subscriber's `EventSender`. A subscriber counts from 1, or
//! from the `Last-Event-ID` its browser sends back when it reconnects, plus one.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use carafe::{App, Event, EventSender, Request, Response, SendError};

/// One subscriber: where its events go and the number it gets next.
struct Subscriber {
    events: EventSender,
    next: u64,
}

/// Everyone listening to the clock.
#[derive(Clone, Default)]
pub struct Clock {
    subscribers: Arc<Mutex<Vec<Subscriber>>>,
}

impl Clock {
    /// Sends every subscriber its next tick; forgets those who left. A subscriber whose
    /// buffer is full (reading slower than once a second) gets the same number next time.
    pub fn tick(&self) {
        let mut subscribers = self.subscribers.lock().unwrap();
        subscribers.retain_mut(|s| {
            let n = s.next.to_string();
            match s.events.send(&Event::data(&*n).event("tick").id(&n)) {
                Ok(()) => {
                    s.next += 1;
                    true
                }
                Err(SendError::Full(_)) => true,
                Err(SendError::Closed(_)) => false,
            }
        });
    }

    /// Starts the thread that ticks every `interval`.
    pub fn start(&self, interval: Duration) {
        let clock = self.clone();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(interval);
                clock.tick();
            }
        });
    }
}

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>carafe clock</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; color: #222; }
  h1 { font-weight: 600; } #tick { font-size: 3rem; }
  input { font: inherit; padding: .3rem .5rem; width: 20rem; }
  button { font: inherit; padding: .3rem 1rem; }
  ul { list-style: none; padding: 0; font-family: ui-monospace, monospace; }
  li { padding: .2rem .5rem; border-bottom: 1px solid #eee; }
  .muted { color: #777; }
</style>
<h1>Ticks: <span id="tick">waiting…</span></h1>
<p class="muted">Pushed once a second by a server thread over server-sent events; reload the
page and the browser's <code>Last-Event-ID</code> picks the count up where it was.</p>
<script>
  const source = new EventSource("/events");
  source.addEventListener("tick", (e) => {
    document.getElementById("tick").textContent = e.data;
  });
</script>
"#;

/// The app, apart from `main` so tests can serve exactly this.
pub fn app(clock: Clock) -> App {
    let mut app = App::new();
    app.get("/", |_: &Request| PAGE);
    app.get("/events", move |req: &Request| {
        let next = req
            .last_event_id()
            .and_then(|id| id.trim().parse::<u64>().ok())
            .map_or(1, |last| last + 1);
        let (response, events) = Response::event_stream();
        clock
            .subscribers
            .lock()
            .unwrap()
            .push(Subscriber { events, next });
        response
    });
    app
}

fn main() -> std::io::Result<()> {
    // A line per request on stderr, as Werkzeug prints them; RUST_LOG=warn quiets them.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let clock = Clock::default();
    // TICK_MS: how often the clock ticks (benches/sse_fanout.py makes it tick fast).
    let tick_ms = std::env::var("TICK_MS").ok().and_then(|t| t.parse().ok());
    clock.start(Duration::from_millis(tick_ms.unwrap_or(1000)));
    app(clock).run_from_env(5000)
}
