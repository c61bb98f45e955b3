//! The fuzz targets' checks on stable Rust: real requests from `fuzz/seeds/`, mutated by a
//! deterministic generator and cut into reads at random points. A fixed number of inputs
//! by default, the same on every machine; `CARAFE_FUZZ_SECONDS=60 cargo test --release
//! --test random_input` runs for a time instead.
//! (`fuzz/run.sh` runs the same targets under libFuzzer with coverage guidance.)

use std::path::Path;
use std::time::{Duration, Instant};

/// xorshift64*: reproducible without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
        .collect();
    seeds.sort();
    seeds
}

/// Flips, inserts, deletes, duplicates and splices bytes, favouring the ones HTTP cares about.
fn mutate(rng: &mut Rng, seed: &[u8], all: &[Vec<u8>]) -> Vec<u8> {
    const INTERESTING: &[u8] = b"\r\n :;,\"\\-0123456789aF\x00\x7f\xff\t/%?";
    let mut data = seed.to_vec();
    for _ in 0..=rng.below(6) {
        let at = rng.below(data.len() + 1);
        match rng.below(6) {
            0 if at < data.len() => data[at] = rng.next() as u8,
            1 if at < data.len() => data[at] = INTERESTING[rng.below(INTERESTING.len())],
            2 if at < data.len() => {
                let end = (at + rng.below(16)).min(data.len());
                data.drain(at..end);
            }
            3 => data.insert(at, INTERESTING[rng.below(INTERESTING.len())]),
            4 => {
                let other = &all[rng.below(all.len())];
                let from = rng.below(other.len());
                let end = (from + rng.below(64)).min(other.len());
                data.splice(at..at, other[from..end].iter().copied());
            }
            _ if at < data.len() => {
                let end = (at + rng.below(32)).min(data.len());
                let copy = data[at..end].to_vec();
                data.splice(at..at, copy);
            }
            _ => {}
        }
    }
    data
}

/// Inputs to try: a fixed count, or as many as fit in `CARAFE_FUZZ_SECONDS`.
enum Budget {
    Runs(usize),
    Until(Instant),
}

impl Budget {
    fn from_env() -> Budget {
        match std::env::var("CARAFE_FUZZ_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
        {
            Some(seconds) => Budget::Until(Instant::now() + Duration::from_secs(seconds)),
            None => Budget::Runs(3000),
        }
    }

    fn more(&self, runs: usize) -> bool {
        match self {
            Budget::Runs(n) => runs < *n,
            Budget::Until(deadline) => Instant::now() < *deadline,
        }
    }
}

/// Runs `check` on seeds, then on mutations, until the time budget is spent.
fn run(target: &str, mut check: impl FnMut(&[u8], &[u8])) -> usize {
    let seeds = seeds(target);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ target.len() as u64);
    let budget = Budget::from_env();
    let mut runs = 0;
    for seed in &seeds {
        check(seed, &[]);
        runs += 1;
    }
    while budget.more(runs) {
        let seed = &seeds[rng.below(seeds.len())];
        let data = mutate(&mut rng, seed, &seeds);
        let splits: Vec<u8> = (0..rng.below(12)).map(|_| rng.next() as u8 % 64).collect();
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&data, &splits)));
        if let Err(panic) = run {
            eprintln!(
                "failing input for {target}: {:?} split {splits:?}",
                String::from_utf8_lossy(&data)
            );
            std::panic::resume_unwind(panic);
        }
        runs += 1;
    }
    runs
}

#[test]
fn exchange_answers_any_input_with_well_formed_responses() {
    let app = carafe::fuzzing::app();
    let runs = run("exchange", |data, splits| {
        carafe::fuzzing::exchange(&app, data, splits)
    });
    assert!(runs > 100, "only {runs} runs");
}

#[test]
fn chunked_bodies_decode_the_same_whatever_the_split() {
    let runs = run("chunked", carafe::fuzzing::chunked);
    assert!(runs > 100);
}

#[test]
fn routing_never_panics() {
    let runs = run("router", |data, _| {
        if let Ok(text) = std::str::from_utf8(data) {
            carafe::fuzzing::router(text);
        }
    });
    assert!(runs > 100);
}

#[cfg(feature = "websocket")]
#[test]
fn websocket_frames_are_answered_the_same_whatever_the_split() {
    let runs = run("ws_frames", carafe::fuzzing::ws_frames);
    assert!(runs > 100);
}

#[cfg(feature = "socketio")]
#[test]
fn socketio_payloads_decode_or_fail_cleanly_and_round_trip() {
    let runs = run("socketio", |data, _| carafe::fuzzing::socketio(data));
    assert!(runs > 100);
}
