//! Static and template folders, and files sent by name, resolve against the root path the
//! app names (Flask's `root_path`), whatever the working directory.

mod support;

use std::path::PathBuf;

use carafe::{App, Request, send_file, send_from_directory};
use support::{TestServer, roundtrip};

struct Root(PathBuf);

impl Root {
    fn new(name: &str) -> Root {
        let dir = std::env::temp_dir().join(format!("carafe-root-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("static")).unwrap();
        std::fs::create_dir_all(dir.join("templates")).unwrap();
        std::fs::create_dir_all(dir.join("files")).unwrap();
        std::fs::write(dir.join("static/site.css"), "body{}").unwrap();
        std::fs::write(dir.join("templates/page.txt"), "page {{ n }}").unwrap();
        std::fs::write(dir.join("files/report.txt"), "report").unwrap();
        Root(dir)
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn app(root: &Root, root_first: bool) -> App {
    let mut app = App::new();
    if root_first {
        app.root_path(&root.0);
    }
    app.static_folder("static");
    #[cfg(feature = "templates")]
    app.template_folder("templates");
    if !root_first {
        app.root_path(&root.0);
    }
    #[cfg(feature = "templates")]
    app.get("/page", |req: &Request| {
        req.render_template("page.txt", carafe::context! { n => 1 })
    });
    app.get("/files/<name>", |req: &Request| {
        send_from_directory(req, "files", req.param_str("name").unwrap_or(""))
    });
    app.get("/report", |req: &Request| {
        send_file(req, "files/report.txt")
    });
    app
}

#[test]
fn folders_resolve_against_the_root_path_in_either_order() {
    let root = Root::new("order");
    assert_eq!(
        App::new().root(),
        std::path::Path::new(""),
        "the working directory"
    );
    for root_first in [true, false] {
        let app = app(&root, root_first);
        assert_eq!(app.root(), root.0.as_path());
        let client = app.test_client();
        assert_eq!(client.get("/static/site.css").send().text(), "body{}");
        #[cfg(feature = "templates")]
        assert_eq!(client.get("/page").send().text(), "page 1");
        assert_eq!(client.get("/files/report.txt").send().text(), "report");
        assert_eq!(client.get("/report").send().text(), "report");
    }
}

#[test]
fn over_a_socket() {
    let root = Root::new("socket");
    let server = TestServer::start(app(&root, true));
    let resp = roundtrip(&server, b"GET /static/site.css HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!((resp.status, resp.text()), (200, "body{}".into()));
}

#[test]
fn absolute_folders_ignore_the_root_path() {
    let root = Root::new("absolute");
    let mut app = App::new();
    app.root_path("/nonexistent");
    app.static_folder(root.0.join("static"));
    assert_eq!(
        app.test_client().get("/static/site.css").send().text(),
        "body{}"
    );
}
