//! A small website: templates, static files, and a guestbook form that flashes a message
//! through the session after redirecting (Post/Redirect/Get).
//!
//! ```sh
//! SECRET_KEY=change-me cargo run --example site    # http://127.0.0.1:5000/
//! ```

use std::sync::Mutex;

use carafe::{App, Method, Request, context, redirect};
use serde::Serialize;

/// One signature in the guestbook; templates see its fields through serde.
#[derive(Clone, Serialize)]
struct Entry {
    message: String,
}

/// The guestbook, registered once with `app.state` and shared by the views.
type Guestbook = Mutex<Vec<Entry>>;

/// The app, apart from `main` so tests can serve exactly this.
pub fn app() -> App {
    let mut app = App::new();
    app.state(Guestbook::default());
    // Sessions are signed with this key: set SECRET_KEY to a long random value in
    // production. The fallback is for trying the example locally only.
    let secret =
        std::env::var("SECRET_KEY").unwrap_or_else(|_| "development only, not secret".into());
    app.secret_key(secret);
    // Declared, so a missing or empty key stops `run` at once instead of failing each request.
    app.sessions();
    // The folders below are found here, wherever the example is started from.
    app.root_path(concat!(env!("CARGO_MANIFEST_DIR"), "/examples"));
    app.template_folder("templates");
    app.static_folder("static");

    app.add_url_rule("/", Some("index"), &[Method::GET], |req: &Request| {
        let entries = req.state::<Guestbook>()?.lock().unwrap().clone();
        req.render_template("index.html", context! { entries })
    });

    app.add_url_rule("/", Some("sign"), &[Method::POST], |req: &Request| {
        let message = req.form()?.get("message").unwrap_or("").trim().to_owned();
        if message.is_empty() {
            req.flash_with("error", "Please write something first.");
        } else if message.chars().count() > 280 {
            req.flash_with("error", "That is longer than 280 characters.");
        } else {
            req.state::<Guestbook>()?
                .lock()
                .unwrap()
                .push(Entry { message });
            req.flash_with("success", "Thanks for signing the guestbook!");
        }
        // Redirect after a POST, so reloading the page does not post again.
        Ok::<_, carafe::HttpError>(redirect(req.url_for("index", &[])?))
    });

    app.add_url_rule("/about", Some("about"), &[Method::GET], |req: &Request| {
        req.render_template("about.html", context! {})
    });
    // A handler may fail like a view (a template that does not render is a 500).
    app.errorhandler(404, |req: &Request, _: &carafe::HttpError| {
        req.render_template("404.html", context! {})
    });
    app
}

fn main() -> std::io::Result<()> {
    // A line per request on stderr, as Werkzeug prints them; RUST_LOG=warn quiets them.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    app().run_from_env(5000)
}
