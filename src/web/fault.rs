//! What went wrong when a request ends in a 500: the panic caught in a view or hook, and
//! the one report of its cause per occurrence.
//!
//! A report goes to the `log` crate when a logger takes it, and to stderr otherwise, so a
//! failing view is never silent in an app that installed no logger. The access log is
//! separate and stays opt-in.

use std::any::Any;
use std::backtrace::Backtrace;
use std::cell::RefCell;
use std::fmt;
use std::panic::PanicHookInfo;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::http::status::StatusCode;
use crate::web::error::{HttpError, abort};
use crate::web::request::Request;

/// A panic caught while answering a request: the cause of its 500.
#[derive(Debug)]
pub(crate) struct Panic {
    pub(crate) message: String,
    /// `file:line:column`, when the panic hook saw it.
    pub(crate) location: Option<String>,
    /// Where it panicked, in debug mode.
    pub(crate) backtrace: Option<Backtrace>,
}

impl fmt::Display for Panic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(location) => write!(f, "panicked at {location}: {}", self.message),
            None => write!(f, "panicked: {}", self.message),
        }
    }
}

impl std::error::Error for Panic {}

/// What the panic hook saw of the last panic on this thread, taken by the guard that
/// catches it.
struct Seen {
    location: String,
    backtrace: Option<Backtrace>,
}

thread_local! {
    static LAST_PANIC: RefCell<Option<Seen>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();
/// Set once an app in debug mode binds or makes a test client: a backtrace costs
/// milliseconds, so one is taken only while a debug page may show it.
static CAPTURE_BACKTRACES: AtomicBool = AtomicBool::new(false);

/// A backtrace of here, if an app in debug mode may show it.
pub(crate) fn backtrace() -> Option<Backtrace> {
    CAPTURE_BACKTRACES
        .load(Ordering::Relaxed)
        .then(Backtrace::force_capture)
}

/// Installs, once per process, a panic hook that notes where a panic happened before
/// handing it to the hook that was there (the standard one prints it as usual). Nothing
/// runs per request: the hook runs only when something panics.
pub(crate) fn watch_panics(debug: bool) {
    if debug {
        CAPTURE_BACKTRACES.store(true, Ordering::Relaxed);
    }
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info: &PanicHookInfo<'_>| {
            let seen = Seen {
                location: info.location().map_or_else(String::new, |l| l.to_string()),
                backtrace: backtrace(),
            };
            // `try_with`: a panic while the thread's locals are torn down has no slot.
            let _ = LAST_PANIC.try_with(|last| {
                if let Ok(mut last) = last.try_borrow_mut() {
                    *last = Some(seen);
                }
            });
            previous(info);
        }));
    });
}

/// Ends the request in a 500 whose cause is `message`, as a panic in the view would,
/// but without the panic hook's own report: the cause is the app's configuration, so
/// it is reported once, by the guard around the view, at the caller's location.
#[cfg(feature = "sessions")]
#[cold]
#[track_caller]
pub(crate) fn fail(message: String) -> ! {
    let seen = Seen {
        location: std::panic::Location::caller().to_string(),
        backtrace: backtrace(),
    };
    let _ = LAST_PANIC.try_with(|last| {
        if let Ok(mut last) = last.try_borrow_mut() {
            *last = Some(seen);
        }
    });
    std::panic::resume_unwind(Box::new(message))
}

/// The 500 for a caught panic, carrying its message (and what the hook saw) as the cause.
#[cold]
pub(crate) fn panic_error(payload: &(dyn Any + Send)) -> HttpError {
    let message = crate::server::panic_message(payload).to_owned();
    let seen = LAST_PANIC
        .try_with(|last| last.try_borrow_mut().ok().and_then(|mut l| l.take()))
        .ok()
        .flatten();
    let (location, backtrace) = match seen {
        Some(seen) => (Some(seen.location), seen.backtrace),
        None => (None, None),
    };
    abort(StatusCode::INTERNAL_SERVER_ERROR).with_source(Panic {
        message,
        location,
        backtrace,
    })
}

/// Reports why `req` ends in a 500: once, with the method and path.
#[cold]
pub(crate) fn report(req: &Request<'_>, err: &HttpError) {
    let cause: &dyn fmt::Display = match (err.source(), err.message()) {
        (Some(source), _) => source,
        (None, Some(message)) => &Message(message),
        (None, None) => &Message("aborted with no further cause"),
    };
    emit(format_args!(
        "{} on {} {}: {cause}",
        err.status(),
        req.method(),
        req.path()
    ));
}

/// Reports a failure that has no request to name.
#[cfg(feature = "json")]
#[cold]
pub(crate) fn report_plain(what: fmt::Arguments<'_>) {
    emit(what);
}

struct Message<'m>(&'m str);

impl fmt::Display for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// To the logger if one takes errors from carafe, else to stderr.
fn emit(line: fmt::Arguments<'_>) {
    if log::log_enabled!(log::Level::Error) {
        log::error!("{line}");
    } else {
        eprintln!("[carafe] {line}");
    }
}
