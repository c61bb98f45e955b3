//! Without a logger, every 500's cause still reaches stderr, once per occurrence, with the
//! method and path; other requests print nothing (the access log stays opt-in). The app
//! runs in a child process so its stderr can be read.

mod support;

use std::process::Command;

use carafe::{App, HttpError, Request, Response, abort};
use support::{TestServer, roundtrip};

const CHILD: &str = "CARAFE_STDERR_CHILD";

fn app() -> App {
    let mut app = App::new();
    app.get("/ok", |_: &Request| "fine");
    app.get("/missing-thing", |_: &Request| Err::<&str, _>(abort(404)));
    app.get("/panic", |_: &Request| -> &'static str {
        panic!("the view broke")
    });
    app.get("/io", |_: &Request| {
        std::fs::read_to_string("/definitely/not/here").map(Response::text)
    });
    app.get("/aborted", |_: &Request| {
        Err::<&str, _>(abort(500).with_message("the ledger is locked"))
    });
    #[cfg(feature = "templates")]
    app.get("/template", |req: &Request| {
        req.render_template_string("{{ 1 + }}", carafe::context! {})
    });
    app.after_request(|req: &Request, _: &mut Response| {
        if req.path() == "/after" {
            panic!("the after hook broke");
        }
    });
    app.get("/after", |_: &Request| "fine until after");
    app.errorhandler(418, |_: &Request, _: &HttpError| -> &'static str {
        panic!("the error handler broke")
    });
    app.get("/teapot", |_: &Request| Err::<&str, _>(abort(418)));
    app
}

const PATHS: [&str; 8] = [
    "/ok",
    "/missing-thing",
    "/panic",
    "/io",
    "/aborted",
    "/template",
    "/after",
    "/teapot",
];

#[test]
fn child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let server = TestServer::start(app());
    for path in PATHS {
        roundtrip(
            &server,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
        );
    }
    server.stop().unwrap();
}

#[test]
fn causes_of_500s_reach_stderr_without_a_logger() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let reports: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("[carafe]"))
        .collect();
    let about = |path: &str| -> Vec<&str> {
        reports
            .iter()
            .copied()
            .filter(|l| l.contains(&format!("GET {path}:")))
            .collect()
    };
    let mut expected = vec![
        ("/panic", "the view broke"),
        ("/io", "No such file or directory"),
        ("/aborted", "the ledger is locked"),
        ("/after", "the after hook broke"),
        ("/teapot", "the error handler broke"),
    ];
    if cfg!(feature = "templates") {
        expected.push(("/template", "syntax error"));
    }
    for (path, cause) in &expected {
        let lines = about(path);
        assert_eq!(lines.len(), 1, "{path}: one report\n{stderr}");
        assert!(lines[0].contains(cause), "{path}: {}", lines[0]);
        assert!(lines[0].contains("500"), "{}", lines[0]);
    }
    for path in ["/ok", "/missing-thing"] {
        assert!(about(path).is_empty(), "{path}\n{stderr}");
    }
    assert_eq!(reports.len(), expected.len(), "{stderr}");
}
