//! What a caught panic said, for the one line (or 500) that reports it.

use std::any::Any;

/// The message of a panic payload: the `&str` or `String` that `panic!` carries.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(a panic without a message)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_of_every_payload() {
        let caught = |f: fn()| std::panic::catch_unwind(f).unwrap_err();
        assert_eq!(panic_message(&*caught(|| panic!("plain"))), "plain");
        assert_eq!(panic_message(&*caught(|| panic!("{}", 7))), "7");
        assert_eq!(
            panic_message(&*caught(|| std::panic::panic_any(3_u8))),
            "(a panic without a message)"
        );
    }
}
