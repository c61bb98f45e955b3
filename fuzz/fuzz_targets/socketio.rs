//! A long-polling body through Engine.IO and the Socket.IO decoder: malformed input is an
//! error, never a panic, and what decodes re-encodes to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    carafe::fuzzing::socketio(data);
});
