//! A returned `String` is HTML, as in Flask: `escape` makes text safe inside it, `Markup`
//! marks trusted HTML, and templates escape what markupsafe escapes (`& < > " '`).

use carafe::{App, Markup, Request, escape};

#[test]
fn escape_makes_client_text_safe_in_a_returned_string() {
    let mut app = App::new();
    app.get("/hello/<name>", |req: &Request| {
        format!(
            "<p>Hello, {}!</p>",
            escape(req.param_str("name").unwrap_or(""))
        )
    });
    let resp = app
        .test_client()
        .get("/hello/%3Cscript%3Ealert('x%22')")
        .send();
    assert_eq!(
        resp.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(
        resp.text(),
        "<p>Hello, &lt;script&gt;alert(&#39;x&#34;&#39;)!</p>"
    );
}

#[test]
fn markup_is_served_as_html_unchanged() {
    let mut app = App::new();
    app.get("/", |_: &Request| Markup::from_trusted("<b>bold</b>"));
    let resp = app.test_client().get("/").send();
    assert_eq!(resp.text(), "<b>bold</b>");
    assert_eq!(
        resp.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(escape("a/b & c").as_str(), "a/b &amp; c");
}

#[cfg(feature = "templates")]
#[test]
fn templates_escape_as_markupsafe_does_and_trust_markup() {
    use carafe::context;
    let mut app = App::new();
    app.get("/", |req: &Request| {
        let name = "</b> & 'ada' \"lovelace\" a/b";
        let link = Markup::from_trusted(r#"<a href="/about">about</a>"#);
        req.render_template_string(
            "{{ name }}|{{ name|e }}|{{ link }}|{{ 3 }}",
            context! { name, link },
        )
    });
    let text = app.test_client().get("/").send().text();
    let escaped = "&lt;/b&gt; &amp; &#39;ada&#39; &#34;lovelace&#34; a/b";
    assert_eq!(
        text,
        format!("{escaped}|{escaped}|<a href=\"/about\">about</a>|3")
    );
}
