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
<h1>Ticks: <span id="tick">waiting…</span></h1>
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
    let clock = Clock::default();
    clock.start(Duration::from_secs(1));
    app(clock).run_from_env(5000)
}
