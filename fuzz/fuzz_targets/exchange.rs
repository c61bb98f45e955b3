//! Bytes from the network, split into reads anywhere: the exchange must answer with
//! well-formed responses and never panic.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;

static APP: LazyLock<carafe::App> = LazyLock::new(carafe::fuzzing::app);

fuzz_target!(|data: &[u8]| {
    // The first byte says how many of the next bytes choose the read sizes.
    let Some((&n, rest)) = data.split_first() else { return };
    let (splits, input) = rest.split_at(usize::from(n % 16).min(rest.len()));
    carafe::fuzzing::exchange(&APP, input, splits);
});
