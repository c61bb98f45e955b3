//! A chunked body split into reads anywhere decodes the same as in one piece.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else { return };
    let (splits, input) = rest.split_at(usize::from(n % 16).min(rest.len()));
    carafe::fuzzing::chunked(input, splits);
});
