//! Flask's application structure: hooks, error handlers, blueprints, url_for, redirects,
//! cookies, and the test client behaving exactly as a socket does.

mod support;

use std::sync::{Arc, Mutex};

use carafe::{
    App, Blueprint, Cookie, HttpError, IntoResponse, Method, Request, Response, SameSite,
    StatusCode, abort, redirect,
};
use support::{TestServer, roundtrip};

type Log = Arc<Mutex<Vec<String>>>;

fn note(log: &Log, what: impl Into<String>) {
    log.lock().unwrap().push(what.into());
}

/// An app whose hooks record the order they run in.
fn hooked_app(log: &Log) -> App {
    let mut app = App::new();
    let l = log.clone();
    app.before_request(move |req: &Request| note(&l, format!("app before {}", req.path())));
    let l = log.clone();
    app.after_request(move |_: &Request, resp: &mut Response| {
        note(&l, "app after 1");
        resp.set_header("X-App", "1");
    });
    let l = log.clone();
    app.after_request(move |_: &Request, _: &mut Response| note(&l, "app after 2"));
    let l = log.clone();
    app.teardown_request(move |_: &Request, err: Option<&HttpError>| {
        note(
            &l,
            format!("app teardown {:?}", err.map(|e| e.status().as_u16())),
        );
    });
    let l = log.clone();
    app.get("/", move |_: &Request| {
        note(&l, "view");
        "home"
    });
    app.get("/fail", |_: &Request| Err::<&str, _>(abort(418)));

    let mut admin = Blueprint::new("admin", "/admin");
    let l = log.clone();
    admin.before_request(move |req: &Request| {
        note(&l, "admin before");
        if req.header("X-Token") != Some("ok") {
            return Some(Response::text("denied").with_status(403));
        }
        None
    });
    let l = log.clone();
    admin.after_request(move |_: &Request, _: &mut Response| note(&l, "admin after"));
    admin.get("/", |req: &Request| {
        format!("admin home, endpoint {}", req.endpoint().unwrap_or("?"))
    });
    admin.get("/boom", |_: &Request| Err::<&str, _>(abort(500)));
    admin.errorhandler(500, |_: &Request, _: &HttpError| "admin-styled 500");
    app.register_blueprint(admin);
    app
}

#[test]
fn hooks_run_in_flask_order() {
    let log = Log::default();
    let app = hooked_app(&log);
    let client = app.test_client();
    let resp = client.get("/").send();
    assert_eq!(
        (resp.text(), resp.header("x-app")),
        ("home".into(), Some("1"))
    );
    assert_eq!(
        *log.lock().unwrap(),
        [
            "app before /",
            "view",
            "app after 2",
            "app after 1",
            "app teardown None"
        ]
    );
    log.lock().unwrap().clear();
    assert_eq!(client.get("/fail").send().status(), 418);
    assert_eq!(
        log.lock().unwrap().last().unwrap(),
        "app teardown Some(418)"
    );
}

#[test]
fn blueprint_hooks_and_error_handlers_apply_to_their_routes_only() {
    let log = Log::default();
    let app = hooked_app(&log);
    let client = app.test_client();
    let resp = client.get("/admin/").send();
    assert_eq!(
        (resp.status(), resp.text()),
        (StatusCode::FORBIDDEN, "denied".into())
    );
    assert_eq!(
        *log.lock().unwrap(),
        [
            "app before /admin/",
            "admin before",
            "admin after",
            "app after 2",
            "app after 1",
            "app teardown None"
        ]
    );
    let resp = client.get("/admin/").header("X-Token", "ok").send();
    assert_eq!(
        resp.text(),
        "admin home, endpoint admin./",
        "closures are named by their rule"
    );
    let resp = client.get("/admin/boom").header("X-Token", "ok").send();
    assert_eq!(
        (resp.status(), resp.text()),
        (StatusCode::INTERNAL_SERVER_ERROR, "admin-styled 500".into())
    );
    // Outside the blueprint, the default 500 page.
    let mut plain = App::new();
    plain.get("/boom", |_: &Request| Err::<&str, _>(abort(500)));
    assert!(
        plain
            .test_client()
            .get("/boom")
            .send()
            .text()
            .contains("Internal Server Error")
    );
}

#[test]
fn before_request_can_abort_and_error_handlers_keep_the_status() {
    let mut app = App::new();
    app.before_request(|req: &Request| {
        if req.path().starts_with("/private") {
            return Err(abort(401).with_header("WWW-Authenticate", "Basic realm=\"x\""));
        }
        Ok(())
    });
    app.get("/private", |_: &Request| "secret");
    app.errorhandler(401, |_: &Request, err: &HttpError| {
        format!("custom {}", err.status().as_u16())
    });
    app.errorhandler(404, |req: &Request, _: &HttpError| {
        (StatusCode::GONE, format!("gone: {}", req.path()))
    });
    let client = app.test_client();
    let resp = client.get("/private").send();
    assert_eq!(
        resp.status(),
        401,
        "a handler's 200 takes the error's status"
    );
    assert_eq!(resp.text(), "custom 401");
    assert_eq!(resp.header("www-authenticate"), Some("Basic realm=\"x\""));
    let resp = client.get("/nope").send();
    assert_eq!(
        (resp.status(), resp.text()),
        (StatusCode::GONE, "gone: /nope".into())
    );
}

#[test]
fn a_panicking_hook_or_error_handler_is_a_500() {
    let mut app = App::new();
    app.get("/", |_: &Request| "ok");
    app.get("/fail", |_: &Request| Err::<&str, _>(abort(400)));
    app.after_request(|req: &Request, _: &mut Response| {
        if req.arg("panic").is_some() {
            panic!("after hook failed");
        }
    });
    app.errorhandler(400, |_: &Request, _: &HttpError| -> &'static str {
        panic!("handler failed")
    });
    let client = app.test_client();
    assert_eq!(client.get("/").send().status(), 200);
    assert_eq!(client.get("/?panic").send().status(), 500);
    assert_eq!(client.get("/fail").send().status(), 500);
}

#[test]
fn a_panicking_view_goes_to_the_500_handler_like_any_error() {
    let mut app = App::new();
    app.get("/", |_: &Request| -> &'static str {
        panic!("the view broke")
    });
    app.after_request(|_: &Request, resp: &mut Response| resp.set_header("X-After", "ran"));
    app.errorhandler(500, |_: &Request, err: &HttpError| {
        let cause = err.source().map(|e| e.to_string()).unwrap_or_default();
        format!(
            "custom 500, cause kept: {}",
            cause.ends_with("the view broke")
        )
    });
    let resp = app.test_client().get("/").send();
    assert_eq!(resp.status(), 500);
    assert_eq!(resp.text(), "custom 500, cause kept: true");
    assert_eq!(resp.header("x-after"), Some("ran"));
}

/// Flask's quickstart: one view on `/hello/` and `/hello/<name>`.
#[test]
fn url_for_picks_the_rule_that_takes_the_values() {
    fn hello(req: &Request) -> String {
        format!("Hello, {}!", req.param_str("name").unwrap_or("World"))
    }
    let mut app = App::new();
    app.get("/hello/", hello);
    app.get("/hello/<name>", hello);
    app.get("/users/<int:id>/posts/<int:page>", hello);
    app.get("/users/<int:id>", hello);
    assert_eq!(
        app.url_for("hello", &[("name", &"ada")]).unwrap(),
        "/hello/ada"
    );
    assert_eq!(app.url_for("hello", &[]).unwrap(), "/hello/");
    assert_eq!(
        app.url_for("hello", &[("name", &"ada"), ("lang", &"en")])
            .unwrap(),
        "/hello/ada?lang=en"
    );
    assert_eq!(app.url_for("hello", &[("id", &7)]).unwrap(), "/users/7");
    assert_eq!(
        app.url_for("hello", &[("id", &7), ("page", &2)]).unwrap(),
        "/users/7/posts/2"
    );
    // A value its converter refuses is not built into that rule.
    assert_eq!(
        app.url_for("hello", &[("id", &"x")]).unwrap(),
        "/hello/?id=x"
    );
    let client = app.test_client();
    assert_eq!(client.get("/hello/ada").send().text(), "Hello, ada!");
}

#[test]
fn the_method_compares_as_flask_code_writes_it() {
    let mut app = App::new();
    app.route("/login", &[Method::GET, Method::POST], |req: &Request| {
        if req.method() == Method::POST && Method::POST == req.method() {
            "posted"
        } else if req.method() == "GET" {
            "form"
        } else {
            "other"
        }
    });
    let client = app.test_client();
    assert_eq!(client.post("/login").send().text(), "posted");
    assert_eq!(client.get("/login").send().text(), "form");
}

/// An error handler that can fail, as rendering a template can.
#[test]
fn error_handlers_may_return_a_result() {
    let mut app = App::new();
    app.get("/missing", |_: &Request| Err::<&str, _>(abort(404)));
    app.get("/gone", |_: &Request| Err::<&str, _>(abort(410)));
    app.errorhandler(
        404,
        |req: &Request, _: &HttpError| -> Result<String, HttpError> {
            Ok(format!("no {}", req.path()))
        },
    );
    app.errorhandler(
        410,
        |_: &Request, _: &HttpError| -> Result<String, HttpError> {
            let page = std::fs::read_to_string("/definitely/not/a/template.html")?;
            Ok(page)
        },
    );
    let client = app.test_client();
    let resp = client.get("/missing").send();
    assert_eq!(
        (resp.status(), resp.text()),
        (StatusCode::NOT_FOUND, "no /missing".into())
    );
    let resp = client.get("/gone").send();
    assert_eq!(resp.status(), 500, "the handler's own failure");
    assert!(resp.text().contains("Internal Server Error"));
}

/// The error path runs the app's own code too (error pages, headers given with an error);
/// a panic there is a 500 for that request, and the loop goes on.
#[test]
fn a_panic_while_answering_an_error_is_a_500_and_the_server_goes_on() {
    let mut app = App::new();
    app.get("/bad-header", |_: &Request| {
        Err::<&str, _>(abort(401).with_header("Not A Token", "x"))
    });
    app.get("/", |_: &Request| "fine");
    let server = TestServer::start(app);
    let resp = roundtrip(&server, b"GET /bad-header HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(resp.status, 500);
    let resp = roundtrip(&server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(resp.text(), "fine");
}

#[test]
fn url_for_and_trailing_slashes() {
    fn user(req: &Request) -> Result<String, HttpError> {
        Ok(format!("user {}", req.param::<u32>("id")?))
    }
    let mut app = App::new();
    app.get("/users/<int:id>", user);
    app.get("/docs/", |req: &Request| {
        req.url_for("user", &[("id", &3), ("tab", &"a&b")]).unwrap()
    });
    let mut shop = Blueprint::new("shop", "/shop");
    shop.add_url_rule(
        "/items/<name>",
        Some("item"),
        &[Method::GET],
        |req: &Request| req.url_for(".item", &[("name", &"über tea")]).unwrap(),
    );
    app.register_blueprint(shop);
    let client = app.test_client();
    assert_eq!(client.get("/docs/").send().text(), "/users/3?tab=a%26b");
    let resp = client.get("/docs?x=1").send();
    assert_eq!(resp.status(), 308);
    assert_eq!(resp.header("location"), Some("/docs/?x=1"));
    assert_eq!(client.get("/users/3/").send().status(), 404);
    assert_eq!(
        client.get("/shop/items/x").send().text(),
        "/shop/items/%C3%BCber%20tea"
    );
    assert_eq!(
        app.url_for("shop.item", &[("name", &"a")]).unwrap(),
        "/shop/items/a"
    );
    assert!(app.url_for("user", &[]).is_err());
    // An int too large for the handler's type is a 404, not a panic.
    assert_eq!(client.get("/users/99999999999").send().status(), 404);
}

#[test]
fn redirects_cookies_and_responses() {
    let mut app = App::new();
    app.get("/old", |_: &Request| redirect("/new"));
    app.get("/set", |_: &Request| {
        let mut resp = Response::text("set");
        resp.set_cookie(
            Cookie::new("theme", "dark")
                .http_only(true)
                .same_site(SameSite::Strict),
        )?;
        Ok::<_, HttpError>(resp)
    });
    app.get("/read", |req: &Request| {
        req.cookie("theme").unwrap_or("none").to_owned()
    });
    app.get("/unset", |_: &Request| {
        let mut resp = Response::text("unset");
        resp.delete_cookie("theme")?;
        Ok::<_, HttpError>(resp)
    });
    app.get("/tuple", |_: &Request| {
        (StatusCode::CREATED, [("X-Id", "7")], "made").into_response()
    });
    let client = app.test_client();
    let resp = client.get("/old").send();
    assert_eq!(
        (resp.status(), resp.header("location")),
        (StatusCode::FOUND, Some("/new"))
    );
    assert_eq!(
        client.get("/set").send().header("set-cookie"),
        Some("theme=dark; Path=/; HttpOnly; SameSite=Strict")
    );
    assert_eq!(client.get("/read").send().text(), "dark");
    client.get("/unset").send();
    assert_eq!(client.get("/read").send().text(), "none");
    let resp = client.get("/tuple").send();
    assert_eq!(
        (resp.status(), resp.header("x-id"), resp.text()),
        (StatusCode::CREATED, Some("7"), "made".into())
    );
}

#[test]
fn request_helpers() {
    let mut app = App::new();
    app.post("/inspect", |req: &Request| {
        let form = req.form()?;
        Ok::<_, HttpError>(format!(
            "{} {} {:?} {:?} {:?} {} {}",
            req.method(),
            req.full_path(),
            req.args().get_all("tag").collect::<Vec<_>>(),
            form.get("name"),
            req.header("x-MIXED-case"),
            req.remote_addr().unwrap(),
            req.url(),
        ))
    });
    let client = app.test_client();
    let resp = client
        .post("/inspect?tag=a&tag=b%20c")
        .header("X-Mixed-Case", "yes")
        .form(&[("name", "Ada Lovelace")])
        .send();
    assert_eq!(
        resp.text(),
        r#"POST /inspect?tag=a&tag=b%20c ["a", "b c"] Some("Ada Lovelace") Some("yes") 127.0.0.1 http://localhost/inspect?tag=a&tag=b%20c"#
    );
}

/// The test client and a socket go through the same parser, chain and encoder: the
/// same request gives the same response, byte for byte apart from the date.
#[test]
fn the_test_client_matches_a_real_socket() {
    let make = || {
        let mut app = App::new();
        app.get("/items/<int:id>", |req: &Request| {
            let id: u32 = req.param("id")?;
            let mut resp = Response::text(format!("item {id}")).with_header("X-Id", id.to_string());
            resp.set_cookie(Cookie::new("seen", id.to_string()))?;
            Ok::<_, HttpError>(resp)
        });
        app.post("/echo", |req: &Request| Response::new(req.body().to_vec()));
        app
    };
    let server = TestServer::start(make());
    let app = make();
    let client = app.test_client();
    let requests: [&[u8]; 4] = [
        b"GET /items/7?x=1 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /items/nope HTTP/1.1\r\nHost: x\r\n\r\n",
        b"DELETE /items/7 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    ];
    let strip_date = |text: &str| {
        text.lines()
            .filter(|l| !l.starts_with("Date: "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    for request in requests {
        let memory = String::from_utf8(client.raw(request)).unwrap();
        let mut conn = support::Reader::new(server.connect());
        conn.send(request);
        let resp = conn.response().unwrap();
        let mut socket = format!(
            "HTTP/1.1 {} {}\r\n",
            resp.status,
            StatusCode::from(resp.status).reason()
        );
        for (name, value) in &resp.headers {
            socket.push_str(&format!("{name}: {value}\r\n"));
        }
        socket.push_str("\r\n");
        socket.push_str(&resp.text());
        assert_eq!(
            strip_date(&memory),
            strip_date(&socket),
            "{}",
            String::from_utf8_lossy(request)
        );
    }
    let resp = roundtrip(&server, b"GET /items/1 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(resp.text(), client.get("/items/1").send().text());
}
