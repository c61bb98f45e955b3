//! Static files and uploads over real sockets: traversal attempts, validators, ranges,
//! large files, and multipart bodies captured from real clients.

mod support;

use std::path::{Path, PathBuf};

use carafe::{App, Request, send_file};
use support::{Reader, TestServer, roundtrip};

/// A temporary directory with a static folder, a secret next to it, and a symlink out.
struct Site {
    root: PathBuf,
}

impl Site {
    fn new(name: &str) -> Site {
        let root = std::env::temp_dir().join(format!("carafe-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("static/sub")).unwrap();
        std::fs::write(root.join("static/style.css"), "body { color: red }\n").unwrap();
        std::fs::write(root.join("static/sub/a.txt"), "nested\n").unwrap();
        let big: Vec<u8> = (0..4 * 1024 * 1024u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        std::fs::write(root.join("static/big.bin"), &big).unwrap();
        std::fs::write(root.join("secret.txt"), "do not serve\n").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(root.join("secret.txt"), root.join("static/link.txt")).unwrap();
        Site { root }
    }

    fn static_dir(&self) -> PathBuf {
        self.root.join("static")
    }

    fn app(&self) -> App {
        let mut app = App::new();
        app.static_folder(self.static_dir());
        let secret = self.root.join("secret.txt");
        app.get("/download", move |req: &Request| send_file(req, &secret));
        app
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn get(server: &TestServer, target: &str, headers: &str) -> support::Resp {
    roundtrip(
        server,
        format!("GET {target} HTTP/1.1\r\nHost: x\r\n{headers}\r\n").as_bytes(),
    )
}

#[test]
fn serves_files_with_type_and_validators() {
    let site = Site::new("basic");
    let server = TestServer::start(site.app());
    let resp = get(&server, "/static/style.css", "");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.text(), "body { color: red }\n");
    assert_eq!(resp.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(resp.header("accept-ranges"), Some("bytes"));
    assert_eq!(resp.header("cache-control"), Some("no-cache"));
    assert!(
        resp.header("etag")
            .is_some_and(|e| e.starts_with('"') && e.ends_with('"'))
    );
    assert!(
        resp.header("last-modified")
            .is_some_and(|d| d.ends_with(" GMT"))
    );
    assert_eq!(get(&server, "/static/sub/a.txt", "").text(), "nested\n");
    assert_eq!(get(&server, "/download", "").text(), "do not serve\n");
    assert_eq!(get(&server, "/static/missing.txt", "").status, 404);
    assert_eq!(get(&server, "/static/sub", "").status, 404);
}

#[test]
fn traversal_attempts_are_404() {
    let site = Site::new("traversal");
    let server = TestServer::start(site.app());
    for target in [
        "/static/../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/%2E%2E%2Fsecret.txt",
        "/static/sub/..%2F..%2Fsecret.txt",
        "/static/sub/%2e%2e/%2e%2e/secret.txt",
        "/static/..%5csecret.txt",
        "/static/%2Fetc%2Fpasswd",
        "/static//etc/passwd",
        "/static/sub/a.txt%00.css",
        "/static/./style.css",
        "/static/link.txt",
    ] {
        let resp = get(&server, target, "");
        assert_eq!(resp.status, 404, "{target}: {}", resp.text());
        assert!(!resp.text().contains("do not serve"), "{target}");
    }
}

#[test]
fn conditional_requests_get_304() {
    let site = Site::new("conditional");
    let server = TestServer::start(site.app());
    let first = get(&server, "/static/style.css", "");
    let etag = first.header("etag").unwrap().to_owned();
    let modified = first.header("last-modified").unwrap().to_owned();

    for condition in [
        format!("If-None-Match: {etag}\r\n"),
        format!("If-None-Match: \"other\", W/{etag}\r\n"),
        "If-None-Match: *\r\n".to_owned(),
        format!("If-Modified-Since: {modified}\r\n"),
        "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n".to_owned(),
    ] {
        let resp = get(&server, "/static/style.css", &condition);
        assert_eq!(resp.status, 304, "{condition}");
        assert!(resp.body.is_empty());
        assert_eq!(resp.header("etag"), Some(etag.as_str()));
    }
    for condition in [
        "If-None-Match: \"other\"\r\n".to_owned(),
        "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n".to_owned(),
        "If-Modified-Since: yesterday\r\n".to_owned(),
        // If-None-Match wins over a matching date (RFC 9110 13.2.2).
        format!("If-None-Match: \"other\"\r\nIf-Modified-Since: {modified}\r\n"),
    ] {
        assert_eq!(
            get(&server, "/static/style.css", &condition).status,
            200,
            "{condition}"
        );
    }
}

#[test]
fn byte_ranges() {
    let site = Site::new("ranges");
    let server = TestServer::start(site.app());
    let full = std::fs::read(site.static_dir().join("big.bin")).unwrap();
    let len = full.len();

    let resp = get(&server, "/static/big.bin", "Range: bytes=10-19\r\n");
    assert_eq!(resp.status, 206);
    assert_eq!(
        resp.header("content-range"),
        Some(&*format!("bytes 10-19/{len}"))
    );
    assert_eq!(resp.body, &full[10..20]);

    let resp = get(&server, "/static/big.bin", "Range: bytes=-5\r\n");
    assert_eq!(resp.body, &full[len - 5..]);

    let resp = get(&server, "/static/big.bin", "Range: bytes=1000-\r\n");
    assert_eq!(resp.status, 206);
    assert_eq!(resp.body, &full[1000..]);

    let resp = get(
        &server,
        "/static/big.bin",
        &format!("Range: bytes={len}-\r\n"),
    );
    assert_eq!(resp.status, 416);
    assert_eq!(
        resp.header("content-range"),
        Some(&*format!("bytes */{len}"))
    );

    let resp = get(&server, "/static/big.bin", "Range: bytes=0-1, 5-6\r\n");
    assert_eq!((resp.status, resp.body.len()), (200, len));

    let etag = resp.header("etag").unwrap().to_owned();
    let resp = get(
        &server,
        "/static/big.bin",
        &format!("Range: bytes=0-3\r\nIf-Range: {etag}\r\n"),
    );
    assert_eq!((resp.status, resp.body.len()), (206, 4));
    let resp = get(
        &server,
        "/static/big.bin",
        "Range: bytes=0-3\r\nIf-Range: \"stale\"\r\n",
    );
    assert_eq!((resp.status, resp.body.len()), (200, len));
}

#[test]
fn large_files_arrive_whole_and_head_has_no_body() {
    let site = Site::new("large");
    let server = TestServer::start(site.app());
    let full = std::fs::read(site.static_dir().join("big.bin")).unwrap();
    let mut conn = Reader::new(server.connect());
    conn.send(b"GET /static/big.bin HTTP/1.1\r\nHost: x\r\n\r\nHEAD /static/big.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /static/sub/a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    let resp = conn.response().unwrap();
    assert_eq!(
        resp.header("content-type"),
        Some("application/octet-stream")
    );
    assert!(resp.body == full, "{} bytes differ", resp.body.len());
    let head = conn.response_to(true).unwrap();
    assert_eq!(
        head.header("content-length"),
        Some(&*full.len().to_string())
    );
    assert_eq!(conn.response().unwrap().text(), "nested\n");
}

/// Replays a request captured from a real client (method, headers and body as sent).
fn replay(server: &TestServer, capture: &Path) -> support::Resp {
    let bytes = std::fs::read(capture).unwrap();
    roundtrip(server, &bytes)
}

fn upload_app() -> App {
    let mut app = App::new();
    app.post("/upload", |req: &Request| {
        let mut lines = Vec::new();
        for (name, value) in req.form()?.iter() {
            lines.push(format!("field {name}={value}"));
        }
        for file in req.files()?.iter() {
            lines.push(format!(
                "file {} {:?} {} {} bytes {:?}",
                file.name(),
                file.filename(),
                file.content_type(),
                file.data().len(),
                &file.data()[..file.data().len().min(6)]
            ));
        }
        Ok::<_, carafe::HttpError>(lines.join("\n"))
    });
    app
}

#[test]
fn multipart_from_curl() {
    let server = TestServer::start(upload_app());
    let resp = replay(&server, Path::new("tests/fixtures/multipart/curl.http"));
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(
        resp.text(),
        "field name=value\nfield utf=caf\\xc3\\xa9\n\
         file file \"a b.txt\" text/plain 19 bytes [108, 105, 110, 101, 32, 111]\n\
         file pic \"pic.png\" image/png 12 bytes [137, 80, 78, 71, 13, 10]"
    );
}

#[test]
fn multipart_from_chromium() {
    let server = TestServer::start(upload_app());
    let resp = replay(&server, Path::new("tests/fixtures/multipart/chromium.http"));
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(
        resp.text(),
        "field title=café \"quoted\"\nfield note=two\r\nlines\n\
         file empty \"\" application/octet-stream 0 bytes []\n\
         file photo \"my %22photo%22.png\" image/png 12 bytes [137, 80, 78, 71, 13, 10]"
    );
}

#[test]
fn malformed_multipart_is_400() {
    let server = TestServer::start(upload_app());
    for (content_type, body) in [
        ("multipart/form-data", "--b\r\n"),
        (
            "multipart/form-data; boundary=b",
            "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno end",
        ),
        ("multipart/form-data; boundary=b", "garbage"),
    ] {
        let request = format!(
            "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let resp = roundtrip(&server, request.as_bytes());
        assert_eq!(resp.status, 400, "{body:?}");
    }
}
