//! HTML escaping (markupsafe's `escape` and `Markup`), for views that build HTML by hand,
//! for templates, and for the pages the framework writes itself.

use std::borrow::Cow;
use std::fmt;

use crate::http::response::Response;
use crate::web::responder::IntoResponse;

/// Escapes `& < > " '` (as markupsafe does) so `text` can sit inside an element or a
/// quoted attribute, and marks the result as HTML.
///
/// **The rule against cross-site scripting**: a view that returns a `String` or `&str`
/// is served as `text/html`, as in Flask, so any text from a client (a route variable,
/// a query argument, a form field, a cookie, a header) that goes into such a string must
/// pass through `escape` first. Templates ending in `.html` do this for every `{{ }}`.
///
/// ```
/// use carafe::{App, Request, escape};
///
/// let mut app = App::new();
/// app.get("/hello/<name>", |req: &Request| {
///     format!("<p>Hello, {}!</p>", escape(req.param_str("name").unwrap_or("")))
/// });
/// let page = app.test_client().get("/hello/%3Cscript%3E").send().text();
/// assert_eq!(page, "<p>Hello, &lt;script&gt;!</p>");
/// ```
pub fn escape(text: &str) -> Markup {
    Markup(escape_str(text).into_owned())
}

/// [`escape`] without the copy when nothing needs escaping.
pub(crate) fn escape_str(text: &str) -> Cow<'_, str> {
    if !text.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// HTML that is trusted as it is (markupsafe's `Markup`): served as `text/html`, and
/// written into templates without escaping.
///
/// Make one from text with [`escape`], or from HTML you wrote yourself with
/// [`Markup::from_trusted`]; never from anything a client sent.
///
/// ```
/// use carafe::{IntoResponse, Markup, escape};
///
/// let mut html = Markup::from_trusted("<h1>Results for ");
/// html.push(escape("<b>cats</b>"));
/// html.push(Markup::from_trusted("</h1>"));
/// assert_eq!(html.as_str(), "<h1>Results for &lt;b&gt;cats&lt;/b&gt;</h1>");
/// assert_eq!(html.into_response().header("Content-Type"), Some("text/html; charset=utf-8"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Markup(String);

impl Markup {
    /// Marks `html` as safe without escaping it: only for HTML the app wrote itself.
    pub fn from_trusted(html: impl Into<String>) -> Markup {
        Markup(html.into())
    }

    /// Appends more markup (escape text first with [`escape`]).
    pub fn push(&mut self, more: Markup) {
        self.0.push_str(&more.0);
    }

    /// The HTML.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The HTML, as a `String`.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Markup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl IntoResponse for Markup {
    fn into_response(self) -> Response {
        Response::html(self.0)
    }
}

/// As a string; inside a template (minijinja), as a string already safe, so it is not
/// escaped a second time.
#[cfg(feature = "json")]
impl serde::Serialize for Markup {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[cfg(feature = "templates")]
        if minijinja::value::serializing_for_value() {
            return minijinja::Value::from_safe_string(self.0.clone()).serialize(serializer);
        }
        serializer.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_what_markupsafe_escapes() {
        assert_eq!(super::escape_str("plain a/b"), "plain a/b");
        assert_eq!(
            super::escape_str(r#"<a href="x">&'</a>"#),
            "&lt;a href=&#34;x&#34;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }
}
