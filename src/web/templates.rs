//! Templates through minijinja (Jinja2's syntax), like Flask's `render_template`: a
//! template folder, autoescaping for `.html`, `.htm` and `.xml`, and the globals Flask
//! templates expect (`request`, `session`, `url_for`, `get_flashed_messages`).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use minijinja::value::{Kwargs, Serde, Value, ValueKind};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, State};
use serde::Serialize;

use crate::http::response::Response;
use crate::web::app::App;
use crate::web::error::{HttpError, abort};
use crate::web::html::escape_str;
use crate::web::request::Request;
use crate::web::router::Router;

/// The app's template environment.
pub(crate) struct Templates {
    env: Environment<'static>,
    /// The folder as given, resolved against the root path when loading.
    directory: PathBuf,
}

impl App {
    /// Loads templates from `directory` (Flask's `template_folder`; a relative one is
    /// relative to the [root path](App::root_path)). Names are paths relative to it; names
    /// with `..` or a leading dot are refused. Templates are reloaded when they change in
    /// debug mode ([`App::debug`]), cached otherwise.
    pub fn template_folder(&mut self, directory: impl Into<PathBuf>) -> &mut App {
        self.templates = Some(Templates {
            env: new_env(),
            directory: directory.into(),
        });
        self.load_templates();
        self
    }

    /// Points the template loader at the folder under the current root path.
    pub(crate) fn load_templates(&mut self) {
        let directory = match &self.templates {
            Some(templates) => self.root().join(&templates.directory),
            None => return,
        };
        let debug = self.config().debug;
        if let Some(templates) = &mut self.templates {
            templates.env.set_loader(minijinja::path_loader(directory));
            templates.env.set_auto_reload(debug);
        }
    }

    /// Templates are checked for changes on disk in debug mode only (a `stat` per
    /// lookup), as Flask's `TEMPLATES_AUTO_RELOAD` defaults to debug mode.
    pub(crate) fn sync_template_reload(&mut self) {
        let debug = self.config().debug;
        if let Some(templates) = &mut self.templates {
            templates.env.set_auto_reload(debug);
        }
    }
}

impl Request<'_> {
    /// Renders the template `name` with `context` into a `text/html` response
    /// (Flask's `render_template`). A missing template or a rendering error is a 500,
    /// logged with its cause and never shown to the client.
    ///
    /// Besides `context`, templates see `request` (`path`, `full_path`, `method`,
    /// `args`, `url`, `endpoint`), `session`, `url_for(endpoint, **values)` and
    /// `get_flashed_messages(with_categories=false)`.
    pub fn render_template<S: Serialize>(
        &self,
        name: &str,
        context: S,
    ) -> Result<Response, HttpError> {
        let templates = self.templates()?;
        let template = templates
            .env
            .get_template(name)
            .map_err(|e| render_failed(name, e))?;
        self.render_with(name, context, |ctx| template.render(ctx))
    }

    /// Renders a template given as a string, with the same context as
    /// [`Request::render_template`].
    ///
    /// ```
    /// use carafe::{App, Request, context};
    /// let mut app = App::new();
    /// app.get("/hi/<name>", |req: &Request| {
    ///     let name = req.param_str("name").unwrap_or("");
    ///     req.render_template_string("<p>Hi {{ name }} at {{ request.path }}</p>", context! { name })
    /// });
    /// let resp = app.test_client().get("/hi/%3Cb%3E").send();
    /// assert_eq!(resp.text(), "<p>Hi &lt;b&gt; at /hi/&lt;b&gt;</p>");
    /// ```
    ///
    /// A template given as a string is HTML, escaped as a `.html` file is (Flask does
    /// the same).
    pub fn render_template_string<S: Serialize>(
        &self,
        source: &str,
        context: S,
    ) -> Result<Response, HttpError> {
        let env = match self.app.templates.as_ref() {
            Some(templates) => &templates.env,
            None => default_env(),
        };
        self.render_with("<string>", context, |ctx| env.render_str(source, ctx))
    }

    fn templates(&self) -> Result<&Templates, HttpError> {
        self.app.templates.as_ref().ok_or_else(|| {
            abort(500).with_source(TemplateError(
                "render_template called but no template folder is set (app.template_folder)"
                    .to_owned(),
            ))
        })
    }

    fn render_with<S: Serialize>(
        &self,
        name: &str,
        context: S,
        render: impl FnOnce(Value) -> Result<String, Error>,
    ) -> Result<Response, HttpError> {
        let flashes_taken = Arc::new(AtomicBool::new(false));
        let globals = minijinja::context! {
            request => self.template_request(),
            session => self.template_session(),
            url_for => url_for_function(
                self.app.router.clone(),
                self.blueprint().map(str::to_owned),
                self.script_root().to_owned(),
            ),
            get_flashed_messages => self.flashes_function(flashes_taken.clone()),
        };
        // The caller's values win over the globals of the same name.
        let ctx = minijinja::context! { ..Value::from(Serde(&context)), ..globals };
        let html = render(ctx).map_err(|e| render_failed(name, e))?;
        #[cfg(feature = "sessions")]
        if flashes_taken.load(Ordering::Relaxed) {
            // Shown once, as in Flask: drop them only if the template asked for them.
            self.get_flashed_messages();
        }
        Ok(Response::html(html))
    }

    fn template_request(&self) -> Value {
        let args: Vec<(String, String)> = self
            .args()
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        minijinja::context! {
            path => self.path(),
            full_path => self.full_path().into_owned(),
            method => self.method().as_str(),
            url => self.url(),
            args => Serde(args.into_iter().collect::<std::collections::BTreeMap<_, _>>()),
            endpoint => self.endpoint(),
        }
    }

    /// Whether there is a session to show. Loading the session for every page would add
    /// `Vary: Cookie` everywhere, so templates only look when there is one.
    #[cfg(feature = "sessions")]
    fn has_session_cookie(&self) -> bool {
        let config = self.app().config();
        config.secret_key.is_some() && self.cookie(&config.session_cookie_name).is_some()
    }

    #[cfg(feature = "sessions")]
    fn template_session(&self) -> Value {
        if !self.has_session_cookie() {
            return Value::from(());
        }
        let session = self.session();
        let map: std::collections::BTreeMap<String, serde_json::Value> = session
            .keys()
            .filter_map(|k| Some((k.clone(), session.get::<serde_json::Value>(&k)?)))
            .collect();
        Value::from(Serde(map))
    }

    #[cfg(not(feature = "sessions"))]
    fn template_session(&self) -> Value {
        Value::from(())
    }

    /// `get_flashed_messages(with_categories=false)`: the messages are read now, and
    /// removed from the session after rendering if the template called it.
    fn flashes_function(&self, taken: Arc<AtomicBool>) -> Value {
        #[cfg(feature = "sessions")]
        let flashes: Vec<(String, String)> = if self.has_session_cookie() {
            self.session().get("_flashes").unwrap_or_default()
        } else {
            Vec::new()
        };
        #[cfg(not(feature = "sessions"))]
        let flashes: Vec<(String, String)> = Vec::new();
        Value::from_function(move |kwargs: Kwargs| -> Result<Value, Error> {
            let with_categories: bool = kwargs
                .get::<Option<bool>>("with_categories")?
                .unwrap_or(false);
            kwargs.assert_all_used()?;
            taken.store(true, Ordering::Relaxed);
            Ok(if with_categories {
                Value::from(Serde(&flashes))
            } else {
                Value::from(Serde(flashes.iter().map(|(_, m)| m).collect::<Vec<_>>()))
            })
        })
    }
}

/// `url_for(endpoint, **values)` for templates; `.name` is relative to `blueprint`, and
/// the URL starts with the request's `script_root`.
fn url_for_function(router: Arc<Router>, blueprint: Option<String>, root: String) -> Value {
    Value::from_function(
        move |endpoint: &str, kwargs: Kwargs| -> Result<String, Error> {
            let endpoint = match (endpoint.strip_prefix('.'), &blueprint) {
                (Some(local), Some(bp)) => format!("{bp}.{local}"),
                (Some(local), None) => local.to_owned(),
                _ => endpoint.to_owned(),
            };
            let mut values = Vec::new();
            for key in kwargs.args() {
                let value: Value = kwargs.get(key)?;
                values.push((key.to_owned(), value.to_string()));
            }
            let pairs: Vec<(&str, &str)> = values
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            router
                .url_for(&endpoint, &pairs)
                .map(|path| format!("{root}{path}"))
                .map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))
        },
    )
}

/// Why a template could not be rendered: the cause of a 500.
#[derive(Debug)]
struct TemplateError(String);

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TemplateError {}

fn render_failed(name: &str, err: Error) -> HttpError {
    let mut detail = format!("template {name:?} failed: {err}");
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        detail.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    abort(500).with_source(TemplateError(detail))
}

/// The environment for string templates of an app without a template folder.
fn default_env() -> &'static Environment<'static> {
    static ENV: std::sync::OnceLock<Environment<'static>> = std::sync::OnceLock::new();
    ENV.get_or_init(new_env)
}

/// An environment that escapes as Flask's Jinja does: for `.html`, `.htm`, `.xml`,
/// `.xhtml` and `.svg` files and for string templates, and only `& < > " '`
/// (markupsafe's set; minijinja alone also escapes `/`).
fn new_env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|name| {
        let html = name == "<string>"
            || [".html", ".htm", ".xml", ".xhtml", ".svg"]
                .iter()
                .any(|ext| name.ends_with(ext));
        if html {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env.set_formatter(|out, state, value| {
        if matches!(state.auto_escape(), AutoEscape::Html) && !value.is_safe() {
            if let Some(text) = value.as_str() {
                return out.write_str(&escape_str(text)).map_err(Error::from);
            }
            if matches!(
                value.kind(),
                ValueKind::Seq | ValueKind::Map | ValueKind::Iterable
            ) {
                return out
                    .write_str(&escape_str(&value.to_string()))
                    .map_err(Error::from);
            }
        }
        minijinja::escape_formatter(out, state, value)
    });
    env.add_filter("escape", escape_filter);
    env.add_filter("e", escape_filter);
    env
}

/// `|escape` and `|e` with markupsafe's set of characters for HTML.
fn escape_filter(state: &mut State, value: &Value) -> Result<Value, Error> {
    if value.is_safe() {
        return Ok(value.clone());
    }
    match state.auto_escape() {
        AutoEscape::Html | AutoEscape::None => {
            let text = value.to_string();
            Ok(Value::from_safe_string(escape_str(&text).into_owned()))
        }
        _ => minijinja::filters::escape(state, value),
    }
}
