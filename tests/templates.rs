//! Templates: inheritance, autoescaping, Flask's template globals, failures.

#![cfg(all(feature = "templates", feature = "sessions"))]

mod support;

use std::path::PathBuf;

use carafe::{App, Method, Request, context, redirect};

struct Folder(PathBuf);

impl Folder {
    fn new(name: &str) -> Folder {
        let dir =
            std::env::temp_dir().join(format!("carafe-templates-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("templates/parts")).unwrap();
        let write = |file: &str, text: &str| {
            std::fs::write(dir.join("templates").join(file), text).unwrap()
        };
        write(
            "base.html",
            "<title>{% block title %}{% endblock %}</title>{% block body %}{% endblock %}",
        );
        write(
            "page.html",
            "{% extends 'base.html' %}{% block title %}{{ title }}{% endblock %}\
             {% block body %}<p>{{ message }}</p><a href=\"{{ url_for('user', id=7, tab='a b') }}\">u</a> \
             {{ request.path }} {{ request.args.q }} {{ request.endpoint }}{% endblock %}",
        );
        write("note.txt", "{{ message }}");
        write(
            "parts/flashes.html",
            "{% for m in get_flashed_messages() %}[{{ m }}]{% endfor %}",
        );
        write("session.html", "{{ session.name }}");
        write("broken.html", "{{ undefined_function() }}");
        std::fs::write(dir.join("secret.html"), "top secret").unwrap();
        Folder(dir)
    }

    fn app(&self) -> App {
        let mut app = App::new();
        app.secret_key("template tests");
        app.template_folder(self.0.join("templates"));
        app.add_url_rule(
            "/users/<int:id>",
            Some("user"),
            &[Method::GET],
            |_: &Request| "user",
        );
        app.get("/page", |req: &Request| {
            req.render_template(
                "page.html",
                context! { title => "T & C", message => "<script>alert(1)</script>" },
            )
        });
        app.get("/note", |req: &Request| {
            req.render_template("note.txt", context! { message => "<raw>" })
        });
        app.get("/render/<path:name>", |req: &Request| {
            req.render_template(req.param_str("name").unwrap_or(""), context! {})
        });
        app.post("/flash", |req: &Request| {
            req.flash("<hello>");
            redirect("/render/parts/flashes.html")
        });
        app.get("/login", |req: &Request| {
            req.session().insert("name", "ada");
            "ok"
        });
        app
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn inheritance_escaping_and_globals() {
    let folder = Folder::new("basic");
    let app = folder.app();
    let client = app.test_client();
    let resp = client.get("/page?q=find+me").send();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(
        resp.text(),
        "<title>T &amp; C</title><p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\
         <a href=\"/users/7?tab=a+b\">u</a> /page find me /page"
    );
    // Only HTML is escaped.
    assert_eq!(client.get("/note").send().text(), "<raw>");
}

#[test]
fn flashed_messages_and_session_in_templates() {
    let folder = Folder::new("flash");
    let app = folder.app();
    let client = app.test_client();
    assert_eq!(client.post("/flash").send().status(), 302);
    assert_eq!(
        client.get("/render/parts/flashes.html").send().text(),
        "[&lt;hello&gt;]"
    );
    assert_eq!(
        client.get("/render/parts/flashes.html").send().text(),
        "",
        "shown once"
    );
    client.get("/login").send();
    assert_eq!(client.get("/render/session.html").send().text(), "ada");
}

#[test]
fn failures_are_500_and_reveal_nothing() {
    let folder = Folder::new("failures");
    let app = folder.app();
    let client = app.test_client();
    for name in [
        "missing.html",
        "../secret.html",
        "parts/../../secret.html",
        ".hidden.html",
        "broken.html",
    ] {
        let resp = client.get(&format!("/render/{name}")).send();
        assert_eq!(resp.status(), 500, "{name}");
        assert!(
            !resp.text().contains("secret") && !resp.text().contains("undefined_function"),
            "{name}"
        );
    }
}

#[test]
fn string_templates_work_without_a_folder() {
    let mut app = App::new();
    app.get("/", |req: &Request| {
        req.render_template_string("{{ 1 + 2 }} {{ request.method }}", context! {})
    });
    app.get("/file", |req: &Request| {
        req.render_template("x.html", context! {})
    });
    let client = app.test_client();
    assert_eq!(client.get("/").send().text(), "3 GET");
    assert_eq!(client.get("/file").send().status(), 500);
}

#[test]
fn debug_mode_reloads_changed_templates_and_production_caches_them() {
    let folder = Folder::new("reload");
    for debug in [true, false] {
        std::fs::write(folder.0.join("templates/note.txt"), "first {{ message }}").unwrap();
        let mut app = folder.app();
        app.debug(debug);
        let client = app.test_client();
        assert_eq!(client.get("/note").send().text(), "first <raw>");
        std::fs::write(
            folder.0.join("templates/note.txt"),
            "second, longer {{ message }}",
        )
        .unwrap();
        let expected = if debug {
            "second, longer <raw>"
        } else {
            "first <raw>"
        };
        assert_eq!(client.get("/note").send().text(), expected, "debug {debug}");
    }
}
