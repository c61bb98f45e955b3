//! Debug mode: the 500 page shows the cause, the route and a backtrace, only when debug
//! mode is on and only to a client on this machine; production pages reveal nothing.

mod support;

use std::net::SocketAddr;

use carafe::{App, HttpError, Request};
use support::{TestServer, roundtrip};

fn app(debug: bool) -> App {
    let mut app = App::new();
    app.debug(debug);
    app.add_url_rule(
        "/orders/<int:id>",
        Some("show_order"),
        &[carafe::Method::GET],
        |_: &Request| -> &'static str { panic!("the ledger is <locked>") },
    );
    app.get("/io", |_: &Request| {
        std::fs::read_to_string("/definitely/not/here").map_err(HttpError::from)
    });
    app.get("/teapot", |_: &Request| Err::<&str, _>(carafe::abort(418)));
    app
}

#[test]
fn the_debug_page_shows_cause_route_and_backtrace_to_local_clients() {
    let app = app(true);
    let client = app.test_client();
    let resp = client.get("/orders/7").send();
    assert_eq!(resp.status(), 500);
    let page = resp.text();
    assert!(page.contains("the ledger is &lt;locked&gt;"), "{page}");
    assert!(
        page.contains("tests/debug_mode.rs:"),
        "the panic's location: {page}"
    );
    assert!(page.contains("GET /orders/7"), "{page}");
    assert!(page.contains("show_order"), "{page}");
    assert!(page.contains("/orders/&lt;int:id&gt;"), "{page}");
    assert!(page.contains("Backtrace"), "{page}");
    assert!(
        page.contains("debug_mode::app"),
        "a frame of the view's code: {page}"
    );

    let page = client.get("/io").send().text();
    assert!(page.contains("No such file or directory"), "{page}");
    assert!(page.contains("Backtrace"), "{page}");

    // Other errors keep their ordinary pages.
    let resp = client.get("/teapot").send();
    assert_eq!(resp.status(), 418);
    assert!(!resp.text().contains("Backtrace"));
}

#[test]
fn remote_clients_and_production_see_nothing() {
    let remote: SocketAddr = "203.0.113.9:40000".parse().unwrap();
    let debug = app(true);
    let resp = debug
        .test_client()
        .get("/orders/7")
        .remote_addr(remote)
        .send();
    assert_eq!(resp.status(), 500);
    assert!(!resp.text().contains("ledger"), "{}", resp.text());

    let production = app(false);
    for path in ["/orders/7", "/io"] {
        let page = production.test_client().get(path).send().text();
        assert!(
            !page.contains("ledger") && !page.contains("No such file"),
            "{page}"
        );
        assert!(!page.contains("Backtrace"));
    }
}

#[test]
fn over_a_socket_from_loopback() {
    let server = TestServer::start(app(true));
    let resp = roundtrip(&server, b"GET /orders/1 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(resp.status, 500);
    assert!(resp.text().contains("the ledger is &lt;locked&gt;"));
}

#[test]
fn debug_is_off_by_default() {
    assert!(!App::new().config().debug);
}
