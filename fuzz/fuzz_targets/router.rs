//! Arbitrary rules and paths: bad rules are errors, and routing never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        carafe::fuzzing::router(text);
    }
});
