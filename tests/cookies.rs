//! Cookies set by views come back to `req.cookie()` unchanged, whatever the value, over a
//! socket as through the test client.

mod support;

use carafe::{App, Cookie, Request, Response};
use support::{TestServer, roundtrip};

/// Values a browser cannot carry bare: Werkzeug quotes them and escapes the rest.
const VALUES: &[&str] = &[
    "the username",
    "plain",
    "",
    "a;b",
    "a,b",
    "quo\"te",
    "back\\slash",
    "\\073 looks escaped",
    "\"quoted\"",
    "tab\tand\nnewline\r",
    "nul\0byte",
    "naïve café ☕",
    " leading and trailing ",
    "x=y; Domain=evil.example",
];

fn app() -> App {
    let mut app = App::new();
    app.get("/set/<int:i>", |req: &Request| {
        let i: usize = req.param("i")?;
        let mut resp = Response::text("set");
        resp.set_cookie(Cookie::new("value", VALUES[i]))?;
        Ok::<_, carafe::HttpError>(resp)
    });
    app.get("/get", |req: &Request| {
        Response::text(req.cookie("value").unwrap_or("(none)").to_owned())
    });
    app.get("/bad-name", |_: &Request| {
        let mut resp = Response::text("unreachable");
        resp.set_cookie(Cookie::new("user name", "x"))?;
        Ok::<_, carafe::HttpError>(resp)
    });
    app
}

#[test]
fn a_name_the_header_cannot_carry_is_an_error_not_a_panic() {
    let app = app();
    let resp = app.test_client().get("/bad-name").send();
    assert_eq!(resp.status(), 500);
    assert_eq!(resp.header("set-cookie"), None);
}

#[test]
fn any_value_round_trips_through_the_test_client() {
    let app = app();
    let client = app.test_client();
    for (i, value) in VALUES.iter().enumerate() {
        let resp = client.get(&format!("/set/{i}")).send();
        assert_eq!(resp.status(), 200, "{value:?}");
        let set = resp.header("set-cookie").unwrap();
        let attributes: Vec<&str> = set.split(';').skip(1).collect();
        assert_eq!(attributes, [" Path=/"], "the value stays inside: {set}");
        assert_eq!(client.get("/get").send().text(), *value, "{set}");
    }
}

#[test]
fn flasks_quickstart_cookie_over_a_socket() {
    let server = TestServer::start(app());
    let resp = roundtrip(&server, b"GET /set/0 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(resp.status, 200);
    let set = resp.header("set-cookie").unwrap();
    assert_eq!(set, "value=\"the username\"; Path=/");
    let pair = set.split("; Path").next().unwrap();
    let resp = roundtrip(
        &server,
        format!("GET /get HTTP/1.1\r\nHost: x\r\nCookie: other=1; {pair}\r\n\r\n").as_bytes(),
    );
    assert_eq!(resp.text(), "the username");
}
