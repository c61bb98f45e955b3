//! State registered once on the app and reached from any view by its type.

mod support;

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use carafe::{App, HttpError, Request};
use support::{TestServer, roundtrip};

struct Settings {
    greeting: &'static str,
}

#[derive(Default)]
struct Hits(AtomicU64);

fn app() -> App {
    let mut app = App::new();
    app.state(Settings { greeting: "hello" });
    app.state(Hits::default());
    app.state(Mutex::new(Vec::<String>::new()));
    app.get("/", |req: &Request| -> Result<String, HttpError> {
        let hits = req.state::<Hits>()?.0.fetch_add(1, Ordering::Relaxed) + 1;
        Ok(format!("{} #{hits}", req.state::<Settings>()?.greeting))
    });
    app.post(
        "/names/<name>",
        |req: &Request| -> Result<String, HttpError> {
            let mut names = req.state::<Mutex<Vec<String>>>()?.lock().unwrap();
            names.push(req.param_str("name").unwrap_or("").to_owned());
            Ok(names.join(","))
        },
    );
    app.get("/missing", |req: &Request| -> Result<String, HttpError> {
        Ok(req.state::<u8>()?.to_string())
    });
    app
}

#[test]
fn views_reach_state_by_type() {
    let app = app();
    let client = app.test_client();
    assert_eq!(client.get("/").send().text(), "hello #1");
    assert_eq!(client.get("/").send().text(), "hello #2");
    assert_eq!(client.post("/names/ada").send().text(), "ada");
    assert_eq!(client.post("/names/bob").send().text(), "ada,bob");
}

#[test]
fn a_type_never_registered_is_a_500_naming_it() {
    let mut app = app();
    app.errorhandler(500, |_: &Request, err: &HttpError| {
        err.source().map(|e| e.to_string()).unwrap_or_default()
    });
    let resp = app.test_client().get("/missing").send();
    assert_eq!(resp.status(), 500);
    assert!(
        resp.text().contains("u8") && resp.text().contains("App::state"),
        "{}",
        resp.text()
    );
}

#[test]
fn registering_again_replaces() {
    let mut app = app();
    app.state(Settings { greeting: "hi" });
    assert_eq!(app.test_client().get("/").send().text(), "hi #1");
}

#[test]
fn shared_by_every_loop() {
    let mut app = app();
    app.workers(2);
    let server = TestServer::start(app);
    for n in 1..=4 {
        let resp = roundtrip(&server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(resp.text(), format!("hello #{n}"));
    }
}
