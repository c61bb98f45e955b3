//! The example apps, exercised route by route: through the test client, and over a socket.
#![cfg(all(feature = "json", feature = "templates", feature = "sessions"))]

mod support;

#[path = "../examples/todo_api.rs"]
#[allow(dead_code)]
mod todo_api;

#[path = "../examples/site.rs"]
#[allow(dead_code)]
mod site;

#[path = "../examples/techempower.rs"]
#[allow(dead_code)]
mod techempower;

use serde_json::{Value, json};
use support::{Reader, TestServer, roundtrip};

#[test]
fn todo_api_crud() {
    let app = todo_api::app();
    let client = app.test_client();
    assert_eq!(client.get("/todos").send().json::<Value>(), json!([]));

    let resp = client
        .post("/todos")
        .json(&json!({"title": "write docs"}))
        .send();
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.header("location"), Some("/todos/1"));
    assert_eq!(
        resp.json::<Value>(),
        json!({"id": 1, "title": "write docs", "done": false})
    );
    client.post("/todos").json(&json!({"title": "ship"})).send();

    assert_eq!(
        client.get("/todos/1").send().json::<Value>()["title"],
        "write docs"
    );
    assert_eq!(
        client
            .get("/todos")
            .send()
            .json::<Value>()
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let resp = client.put("/todos/1").json(&json!({"done": true})).send();
    assert_eq!(
        resp.json::<Value>(),
        json!({"id": 1, "title": "write docs", "done": true})
    );
    let resp = client
        .put("/todos/1")
        .json(&json!({"title": "rewrite docs"}))
        .send();
    assert_eq!(resp.json::<Value>()["title"], "rewrite docs");

    let resp = client.delete("/todos/1").send();
    assert_eq!(resp.status(), 204);
    assert!(resp.body().is_empty());
    assert_eq!(client.get("/todos/1").send().status(), 404);
    assert_eq!(
        client.get("/todos").send().json::<Value>(),
        json!([{"id": 2, "title": "ship", "done": false}])
    );
}

#[test]
fn todo_api_errors_are_json() {
    let app = todo_api::app();
    let client = app.test_client();
    let error = |resp: carafe::TestResponse, status: u16| {
        assert_eq!(resp.status(), status, "{}", resp.text());
        assert_eq!(resp.header("content-type"), Some("application/json"));
        let body: Value = resp.json();
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{body}"
        );
    };
    error(client.get("/todos/99").send(), 404);
    error(
        client.put("/todos/99").json(&json!({"done": true})).send(),
        404,
    );
    error(client.delete("/todos/99").send(), 404);
    error(client.get("/nowhere").send(), 404);
    error(client.get("/todos/abc").send(), 404);
    error(client.patch("/todos").send(), 405);
    let bad_json = client
        .post("/todos")
        .header("Content-Type", "application/json")
        .body("{\"title\": ");
    error(bad_json.send(), 400);
    error(client.post("/todos").body("title=x").send(), 400);
    error(client.post("/todos").json(&json!({})).send(), 422);
    error(
        client.post("/todos").json(&json!({"title": "  "})).send(),
        422,
    );
    // Well-formed JSON that does not fit the input type: 422, whatever the misfit.
    error(client.post("/todos").json(&json!({"title": 7})).send(), 422);
    error(client.post("/todos").json(&json!({"nope": 1})).send(), 422);
    error(client.post("/todos").json(&json!([1, 2])).send(), 422);
    let truncated = client
        .post("/todos")
        .header("Content-Type", "application/json")
        .body("{\"title\": \"a\"");
    error(truncated.send(), 400);
    client.post("/todos").json(&json!({"title": "a"})).send();
    error(
        client.put("/todos/1").json(&json!({"title": ""})).send(),
        422,
    );
}

#[test]
fn todo_api_over_a_socket() {
    let server = TestServer::start(todo_api::app());
    let body = r#"{"title":"over tcp"}"#;
    let resp = roundtrip(
        &server,
        format!(
            "POST /todos HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    assert_eq!(resp.status, 201);
    assert_eq!(resp.header("location"), Some("/todos/1"));
    let resp = roundtrip(&server, b"GET /todos/1 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        serde_json::from_slice::<Value>(&resp.body).unwrap()["title"],
        "over tcp"
    );
}

#[test]
fn site_pages_static_files_and_the_flash_after_redirect() {
    let app = site::app();
    let client = app.test_client();
    let home = client.get("/").send();
    assert_eq!(home.status(), 200);
    assert!(home.text().contains("No one has signed yet."));
    assert!(
        home.text().contains("href=\"/static/style.css\""),
        "{}",
        home.text()
    );

    let css = client.get("/static/style.css").send();
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert!(css.text().contains("font-family"));
    assert_eq!(client.get("/static/app.js").send().status(), 200);

    let resp = client
        .post("/")
        .form(&[("message", "Hello <b>there</b>")])
        .send();
    assert_eq!(resp.status(), 302);
    assert_eq!(resp.header("location"), Some("/"));
    let page = client.get("/").send().text();
    assert!(page.contains("Thanks for signing the guestbook!"));
    assert!(
        page.contains("<li>Hello &lt;b&gt;there&lt;/b&gt;</li>"),
        "{page}"
    );
    // The flash is shown once.
    assert!(!client.get("/").send().text().contains("Thanks for signing"));

    client.post("/").form(&[("message", "   ")]).send();
    assert!(
        client
            .get("/")
            .send()
            .text()
            .contains("Please write something first.")
    );

    let about = client.get("/about").send();
    assert!(about.text().contains("<code>/about</code>"));
    let missing = client.get("/missing").send();
    assert_eq!(missing.status(), 404);
    assert!(missing.text().contains("Nothing lives at"));
}

#[test]
fn site_over_a_socket() {
    let server = TestServer::start(site::app());
    let resp = roundtrip(&server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(resp.status, 200);
    assert!(resp.text().contains("<h1>Guestbook</h1>"));
    let resp = roundtrip(
        &server,
        b"GET /static/style.css HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(resp.status, 200);
}

#[test]
fn techempower_plaintext_and_json_over_a_socket() {
    let server = TestServer::start(techempower::app());
    // Both tests on one keep-alive connection, the second request pipelined behind the first.
    let mut reader = Reader::new(server.connect());
    reader.send(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\nGET /json HTTP/1.1\r\nHost: x\r\n\r\n");
    let checks = [
        ("text/plain; charset=utf-8", &b"Hello, World!"[..]),
        ("application/json", &br#"{"message":"Hello, World!"}"#[..]),
    ];
    for (content_type, body) in checks {
        let resp = reader.response().expect("a response");
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("server"), Some("carafe"));
        let date = resp.header("date").expect("a Date header");
        assert!(date.ends_with(" GMT") && date.len() == 29, "{date}");
        assert_eq!(resp.header("content-type"), Some(content_type));
        assert_eq!(
            resp.header("content-length"),
            Some(body.len().to_string().as_str())
        );
        assert_eq!(resp.body, body);
    }
    let resp = roundtrip(&server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(resp.status, 404);
}
