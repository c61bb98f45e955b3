//! Signed-cookie sessions and flashed messages, through the test client and a socket.

#![cfg(feature = "sessions")]

mod support;

use std::process::Command;

use carafe::{App, Request, redirect};
use support::{TestServer, roundtrip};

/// Set in the child process of the stderr test below.
const CHILD: &str = "CARAFE_SESSIONS_CHILD";

fn app(secret: Option<&str>) -> App {
    let mut app = App::new();
    if let Some(secret) = secret {
        app.secret_key(secret);
    }
    app.get("/count", |req: &Request| {
        let mut session = req.session();
        let n = session.get::<u64>("n").unwrap_or(0) + 1;
        session.insert("n", n);
        n.to_string()
    });
    app.get("/peek", |req: &Request| {
        format!("{:?}", req.session().get::<u64>("n"))
    });
    app.get("/static-page", |_: &Request| "no session here");
    app.get("/logout", |req: &Request| {
        req.session().clear();
        "bye"
    });
    app.get("/remember", |req: &Request| {
        req.session().set_permanent(true);
        "ok"
    });
    app.post("/flash", |req: &Request| {
        req.flash("saved");
        req.flash_with("error", "but one thing failed");
        redirect("/show")
    });
    app.post("/login", |req: &Request| {
        // Flask's habit: hold the session, flash, read the flashes, go on with the session.
        let mut session = req.session();
        session.insert("user", "ada");
        req.flash("logged in");
        let second = req.session();
        let shown = format!(
            "{:?} {:?}",
            second.get::<String>("user"),
            req.get_flashed_messages()
        );
        session.insert("visits", 1);
        shown
    });
    app.get("/show", |req: &Request| {
        format!("{:?}", req.get_flashed_messages())
    });
    app
}

#[test]
fn the_session_survives_round_trips_in_its_cookie() {
    let app = app(Some("s3cret"));
    let client = app.test_client();
    assert_eq!(client.get("/count").send().text(), "1");
    assert_eq!(client.get("/count").send().text(), "2");
    assert_eq!(client.get("/peek").send().text(), "Some(2)");
    let cookie = client.cookie("session").unwrap();
    assert_eq!(cookie.split('.').count(), 3);
}

#[test]
fn tampered_foreign_and_garbage_cookies_give_an_empty_session() {
    let app = app(Some("s3cret"));
    let client = app.test_client();
    client.get("/count").send();
    client.get("/count").send();
    let good = client.cookie("session").unwrap();
    let (payload, rest) = good.split_once('.').unwrap();
    let mut forged_payload = payload.as_bytes().to_vec();
    forged_payload[2] ^= 1;
    let forged = format!("{}.{rest}", String::from_utf8_lossy(&forged_payload));

    let other_app = self::app(Some("another key"));
    let other = other_app.test_client();
    other.get("/count").send();
    let foreign = other.cookie("session").unwrap();

    for cookie in [
        forged.as_str(),
        foreign.as_str(),
        "garbage",
        "a.b.c",
        "",
        &good[..good.len() - 3],
    ] {
        client.set_cookie("session", cookie);
        assert_eq!(client.get("/peek").send().text(), "None", "{cookie:?}");
    }
    client.set_cookie("session", &good);
    assert_eq!(client.get("/peek").send().text(), "Some(2)");
}

#[test]
fn cookies_are_sent_only_when_needed() {
    let app = app(Some("s3cret"));
    let client = app.test_client();
    let resp = client.get("/static-page").send();
    assert_eq!(resp.header("set-cookie"), None);
    assert_eq!(resp.header("vary"), None);
    let resp = client.get("/peek").send();
    assert_eq!(resp.header("set-cookie"), None, "read but not changed");
    assert_eq!(resp.header("vary"), Some("Cookie"));
    let resp = client.get("/count").send();
    let set = resp.header("set-cookie").unwrap();
    assert!(set.starts_with("session="));
    assert!(
        set.contains("; HttpOnly") && set.contains("; SameSite=Lax") && set.contains("; Path=/")
    );
    assert!(
        !set.contains("Max-Age"),
        "a browser-session cookie by default: {set}"
    );
}

#[test]
fn clearing_deletes_the_cookie_and_permanent_sets_max_age() {
    let app = app(Some("s3cret"));
    let client = app.test_client();
    client.get("/count").send();
    let resp = client.get("/logout").send();
    assert!(resp.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_eq!(client.cookie("session"), None);
    let resp = client.get("/remember").send();
    assert!(
        resp.header("set-cookie")
            .unwrap()
            .contains(&format!("Max-Age={}", 31 * 24 * 3600))
    );
}

#[test]
fn without_a_secret_key_reading_works_and_writing_is_a_500() {
    let app = app(None);
    let client = app.test_client();
    assert_eq!(client.get("/peek").send().text(), "None");
    assert_eq!(client.get("/count").send().status(), 500);
}

#[test]
fn flashed_messages_show_once_after_a_redirect() {
    let app = app(Some("s3cret"));
    let client = app.test_client();
    let resp = client.post("/flash").send();
    assert_eq!(resp.status(), 302);
    assert_eq!(
        client.get("/show").send().text(),
        r#"[("message", "saved"), ("error", "but one thing failed")]"#
    );
    assert_eq!(client.get("/show").send().text(), "[]");
}

#[test]
fn holding_the_session_while_flashing_is_fine() {
    let app = app(Some("s3cret"));
    let client = app.test_client();
    let resp = client.post("/login").send();
    assert_eq!(resp.status(), 200, "{}", resp.text());
    assert_eq!(resp.text(), r#"Some("ada") [("message", "logged in")]"#);
    assert_eq!(client.get("/peek").send().text(), "None");
    assert_eq!(client.get("/show").send().text(), "[]", "taken already");
}

#[test]
fn over_a_socket() {
    let server = TestServer::start(app(Some("s3cret")));
    let resp = roundtrip(&server, b"GET /count HTTP/1.1\r\nHost: x\r\n\r\n");
    let set = resp.header("set-cookie").unwrap().to_owned();
    let pair = set.split(';').next().unwrap();
    let resp = roundtrip(
        &server,
        format!("GET /count HTTP/1.1\r\nHost: x\r\nCookie: {pair}\r\n\r\n").as_bytes(),
    );
    assert_eq!(resp.text(), "2");
}

#[test]
fn an_app_that_keeps_sessions_does_not_start_without_a_secret_key() {
    let mut declared = app(None);
    declared.sessions();
    let err = declared.bind("127.0.0.1:0").err().expect("refused");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("secret_key"), "{err}");

    let err = app(Some("")).bind("127.0.0.1:0").err().expect("refused");
    assert!(err.to_string().contains("secret_key"), "{err}");

    let mut misnamed = app(Some("s3cret"));
    misnamed.config_mut().session_cookie_name = "my session".into();
    let err = misnamed.bind("127.0.0.1:0").err().expect("refused");
    assert!(err.to_string().contains("session_cookie_name"), "{err}");

    let mut ready = app(Some("s3cret"));
    ready.sessions();
    let server = TestServer::start(ready);
    let resp = roundtrip(&server, b"GET /count HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(resp.text(), "1");
    // An app that never declared sessions still starts without a key.
    TestServer::start(app(None));
}

/// Runs only as the child process of the test below, whose stderr it reads.
#[test]
fn child_without_a_secret_key() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let server = TestServer::start(app(None));
    let get = |request: &[u8]| roundtrip(&server, request);
    assert_eq!(get(b"GET /count HTTP/1.1\r\nHost: x\r\n\r\n").status, 500);
    assert_eq!(get(b"POST /flash HTTP/1.1\r\nHost: x\r\n\r\n").status, 500);
    let peek = get(b"GET /peek HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!((peek.status, peek.text().as_str()), (200, "None"));
    server.stop().unwrap();
}

#[test]
fn without_a_secret_key_a_change_is_a_500_whose_cause_names_the_key_once() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_without_a_secret_key",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env("RUST_BACKTRACE", "0")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let about_the_key: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("secret key") || l.contains("secret_key"))
        .collect();
    assert_eq!(
        about_the_key.len(),
        2,
        "one report per failed request\n{stderr}"
    );
    for (line, request) in about_the_key.iter().zip(["GET /count:", "POST /flash:"]) {
        assert!(line.starts_with("[carafe] 500"), "{line}");
        assert!(line.contains(request), "{line}");
        for needed in ["Config::secret_key", "CARAFE_SECRET_KEY", "App::sessions"] {
            assert!(line.contains(needed), "{needed} in {line}");
        }
        // Located at the view's own call, not inside carafe.
        assert!(line.contains("tests/sessions.rs:"), "{line}");
    }
    // Nothing else: the panic hook's report would say the same thing a second time.
    assert!(!stderr.contains("panicked at src/"), "{stderr}");
    assert!(
        !stderr.lines().any(|l| l.starts_with("thread '")),
        "{stderr}"
    );
}
