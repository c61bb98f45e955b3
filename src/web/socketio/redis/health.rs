//! Whether Redis is reachable, as the publishing and subscribing threads find it: one
//! warning when it is lost and one when it is back, whichever thread notices first, and
//! not one per message in between.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The state of one server's link to Redis.
pub(crate) struct Health {
    /// Where Redis is, without credentials, for the log.
    server: String,
    down: AtomicBool,
    /// Messages for other processes dropped during the current outage.
    lost: AtomicU64,
}

impl Health {
    pub(crate) fn new(url: &str) -> Health {
        Health {
            server: redacted(url),
            down: AtomicBool::new(false),
            lost: AtomicU64::new(0),
        }
    }

    /// A thread failed to reach Redis or lost its connection.
    pub(crate) fn lost(&self, error: &dyn std::fmt::Display) {
        if !self.down.swap(true, Ordering::AcqRel) {
            log::warn!(
                "Socket.IO: Redis at {} is unreachable ({error}); emits reach this \
                 process's clients only until it is back",
                self.server
            );
        }
    }

    /// A thread is connected again.
    pub(crate) fn back(&self) {
        if self.down.swap(false, Ordering::AcqRel) {
            let lost = self.lost.swap(0, Ordering::AcqRel);
            log::warn!(
                "Socket.IO: Redis at {} is reachable again; {lost} messages for other \
                 processes were dropped meanwhile",
                self.server
            );
        }
    }

    /// Messages that could not be published because Redis was down.
    pub(crate) fn dropped(&self, count: usize) {
        self.lost.fetch_add(count as u64, Ordering::Relaxed);
    }
}

/// The URL without its password (`redis://user:secret@host/` gives
/// `redis://user@host/`) and without its query, where a Unix socket's `pass=` goes.
fn redacted(url: &str) -> String {
    let url = url.split('?').next().unwrap_or_default();
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let user = rest[..at].split(':').next().unwrap_or_default();
            let separator = if user.is_empty() { "" } else { "@" };
            format!("{scheme}://{user}{separator}{}", &rest[at + 1..])
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_stay_out_of_the_log() {
        assert_eq!(
            redacted("redis://127.0.0.1:6379/"),
            "redis://127.0.0.1:6379/"
        );
        assert_eq!(redacted("redis://u:secret@h:1/0"), "redis://u@h:1/0");
        assert_eq!(redacted("redis://:secret@h/"), "redis://h/");
        assert_eq!(redacted("rediss://u@h/"), "rediss://u@h/");
        assert_eq!(
            redacted("redis+unix:///tmp/r.sock?pass=x"),
            "redis+unix:///tmp/r.sock"
        );
    }
}
