//! Client bytes on an open WebSocket, split into reads anywhere: the connection must
//! answer with well-formed server frames, stop once closed and never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte says how many of the next bytes choose the read sizes.
    let Some((&n, rest)) = data.split_first() else { return };
    let (splits, input) = rest.split_at(usize::from(n % 16).min(rest.len()));
    carafe::fuzzing::ws_frames(input, splits);
});
