//! `App`: rules, hooks and error handlers, and Flask's dispatch chain
//! (before-request hooks → view → error handlers → after-request hooks → teardown).
//! No IO happens here: the server and the test client hand it a parsed request.

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::config::Config;
use crate::http::method::Method;
use crate::http::response::Response;
use crate::http::status::StatusCode;
use crate::server::{Incoming, Reply, Service};
use crate::web::blocking::{self, Blocking};
use crate::web::blueprint::Blueprint;
use crate::web::error::{HttpError, abort};
use crate::web::fault;
use crate::web::request::Request;
use crate::web::responder::{Responder, redirect_with};
use crate::web::router::{Routed, Router, Rule, UrlBuildError};
use crate::web::scaffold::{AddView, BeforeRequest, Scaffold, View, register, scaffold_methods};

struct ViewEntry {
    view: View,
    blueprint: Option<usize>,
    kind: ViewKind,
}

/// Where a view runs, and what it answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ViewKind {
    /// On the loop: the common case.
    Loop,
    /// On the blocking pool.
    Blocking,
    /// On the loop, answering a WebSocket handshake with `101` and a handler.
    #[cfg(feature = "websocket")]
    WebSocket,
    /// On the loop, in front of the app's hooks, as Flask-SocketIO's WSGI middleware sits
    /// in front of Flask: the Socket.IO endpoint, which answers now, later (a long-poll)
    /// or with a WebSocket upgrade.
    #[cfg(feature = "socketio")]
    Direct,
}

struct BlueprintScope {
    name: String,
    scaffold: Scaffold,
}

/// A web application: rules, hooks, error handlers and configuration.
///
/// ```no_run
/// use carafe::{App, Request};
///
/// fn user(req: &Request) -> Result<String, carafe::HttpError> {
///     let id: u64 = req.param("id")?;
///     Ok(format!("user {id}"))
/// }
///
/// let mut app = App::new();
/// app.get("/", |_req: &Request| "Hello, World!");
/// app.get("/users/<int:id>", user);
/// app.run("127.0.0.1:5000").unwrap();
/// ```
pub struct App {
    config: Config,
    /// Shared with template functions, which outlive a borrow of the app.
    pub(crate) router: std::sync::Arc<Router>,
    views: Vec<ViewEntry>,
    scaffold: Scaffold,
    blueprints: Vec<BlueprintScope>,
    /// Whether any view is other than `ViewKind::Loop`: without one, a request skips
    /// the check.
    any_special: bool,
    #[cfg(feature = "templates")]
    pub(crate) templates: Option<crate::web::templates::Templates>,
    /// Where relative folders and files are found (`App::root_path`); empty for the
    /// working directory.
    root: std::path::PathBuf,
    /// What views share, by type (`App::state`).
    pub(crate) states: crate::web::state::States,
    /// Declared by [`App::sessions`]: a missing secret key is then a start-up error.
    #[cfg(feature = "sessions")]
    pub(crate) keeps_sessions: bool,
}

impl Default for App {
    fn default() -> App {
        App::new()
    }
}

impl App {
    /// An app with no routes and the default [`Config`].
    pub fn new() -> App {
        App {
            config: Config {
                debug: crate::web::debug::debug_from_env(),
                ..Config::default()
            },
            router: Default::default(),
            views: Vec::new(),
            scaffold: Scaffold::default(),
            blueprints: Vec::new(),
            any_special: false,
            #[cfg(feature = "templates")]
            templates: None,
            root: std::path::PathBuf::new(),
            states: Default::default(),
            #[cfg(feature = "sessions")]
            keeps_sessions: false,
        }
    }

    /// Replaces the configuration.
    pub fn with_config(mut self, config: Config) -> App {
        self.config = config;
        #[cfg(feature = "templates")]
        self.sync_template_reload();
        self
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The configuration, to change it before serving.
    pub fn config_mut(&mut self) -> &mut Config {
        &mut self.config
    }

    /// Sets the number of event loops (threads); `0` means one per core.
    pub fn workers(&mut self, n: usize) -> &mut App {
        self.config.workers = n;
        self
    }

    /// Sets the key that signs session cookies (Flask's `SECRET_KEY`).
    pub fn secret_key(&mut self, key: impl Into<String>) -> &mut App {
        self.config.secret_key = Some(key.into());
        self
    }

    /// Registers `view` for `rule` under `endpoint` (default: the function's name),
    /// answering `methods` (Flask's `add_url_rule`).
    ///
    /// # Panics
    ///
    /// If the rule is malformed.
    pub fn add_url_rule<F, R>(
        &mut self,
        rule: &str,
        endpoint: Option<&str>,
        methods: &[Method],
        view: F,
    ) -> &mut App
    where
        F: Fn(&Request<'_>) -> R + Send + Sync + 'static,
        R: Responder,
    {
        register(self, rule, endpoint, methods, view, ViewKind::Loop);
        self
    }

    /// Registers views that run on the blocking pool: any view that may wait (a
    /// database, a file, a sleep, another service). See [`Blocking`].
    ///
    /// ```
    /// # use carafe::{App, Request};
    /// # fn report(_: &Request) -> &'static str { "" }
    /// let mut app = App::new();
    /// app.blocking().get("/report", report);
    /// ```
    pub fn blocking(&mut self) -> Blocking<'_, App> {
        Blocking::new(self)
    }

    fn add_view(
        &mut self,
        rule: &str,
        endpoint: &str,
        methods: &[Method],
        view: View,
        blueprint: Option<usize>,
        kind: ViewKind,
    ) {
        let target = self.views.len();
        let rule = Rule::new(rule, endpoint, methods, target).unwrap_or_else(|e| panic!("{e}"));
        std::sync::Arc::get_mut(&mut self.router)
            .expect("routes are registered before the app serves")
            .add(rule);
        self.any_special |= kind != ViewKind::Loop;
        self.views.push(ViewEntry {
            view,
            blueprint,
            kind,
        });
    }

    scaffold_methods!();

    /// Sets the directory that relative paths are resolved against (Flask's
    /// `root_path`): the static and template folders, and the paths given to
    /// [`send_file`](crate::send_file) and [`send_from_directory`](crate::send_from_directory).
    /// By default they are relative to the working directory. Folders registered before
    /// or after this call resolve the same way.
    ///
    /// ```no_run
    /// use carafe::App;
    /// let mut app = App::new();
    /// // Wherever the binary is started from, find the folders beside the crate.
    /// app.root_path(env!("CARGO_MANIFEST_DIR"));
    /// app.static_folder("static");
    /// ```
    pub fn root_path(&mut self, path: impl Into<std::path::PathBuf>) -> &mut App {
        self.root = path.into();
        #[cfg(feature = "templates")]
        self.load_templates();
        self
    }

    /// The root path set with [`App::root_path`]; empty (the working directory) if none.
    pub fn root(&self) -> &std::path::Path {
        &self.root
    }

    /// Serves the files under `directory` at `/static/<path:filename>`, endpoint `static`
    /// (Flask's `static_folder`), through [`send_from_directory`](crate::send_from_directory).
    /// A relative `directory` is relative to the [root path](App::root_path).
    pub fn static_folder(&mut self, directory: impl Into<std::path::PathBuf>) -> &mut App {
        self.static_folder_at("/static", directory)
    }

    /// Like [`App::static_folder`], at another URL prefix (Flask's `static_url_path`).
    pub fn static_folder_at(
        &mut self,
        url_path: &str,
        directory: impl Into<std::path::PathBuf>,
    ) -> &mut App {
        let directory = directory.into();
        let rule = format!("{}/<path:filename>", url_path.trim_end_matches('/'));
        self.add_url_rule(
            &rule,
            Some("static"),
            &[Method::GET],
            move |req: &Request<'_>| {
                let filename = req.param_str("filename").unwrap_or("");
                crate::web::static_files::send_from_directory(req, &directory, filename)
            },
        )
    }

    /// Mounts a blueprint's routes under its URL prefix, with its hooks and error
    /// handlers applying to those routes only. Endpoints become `"name.endpoint"`.
    pub fn register_blueprint(&mut self, blueprint: Blueprint) -> &mut App {
        let index = self.blueprints.len();
        let (name, routes, scaffold) = blueprint.into_parts();
        for route in routes {
            let endpoint = format!("{name}.{}", route.endpoint);
            self.add_view(
                &route.rule,
                &endpoint,
                &route.methods,
                route.view,
                Some(index),
                route.kind,
            );
        }
        self.blueprints.push(BlueprintScope { name, scaffold });
        self
    }

    /// Builds the URL of `endpoint` with `values` for its variables; other values become
    /// the query string (Flask's `url_for`).
    ///
    /// ```
    /// use carafe::{App, Request};
    /// fn user(_: &Request) -> &'static str { "" }
    /// let mut app = App::new();
    /// app.get("/users/<int:id>", user);
    /// assert_eq!(app.url_for("user", &[("id", &7), ("tab", &"posts")]).unwrap(), "/users/7?tab=posts");
    /// ```
    pub fn url_for(
        &self,
        endpoint: &str,
        values: &[(&str, &dyn std::fmt::Display)],
    ) -> Result<String, UrlBuildError> {
        let owned: Vec<(&str, String)> = values.iter().map(|(k, v)| (*k, v.to_string())).collect();
        let pairs: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.router.url_for(endpoint, &pairs)
    }

    /// The rule list, for diagnostics: (rule, endpoint, methods).
    pub fn rules(&self) -> impl Iterator<Item = (&str, &str, String)> {
        self.router.rules().map(|r| {
            (
                r.text.as_str(),
                r.endpoint.as_str(),
                r.methods.allow_header(),
            )
        })
    }

    pub(crate) fn blueprint_name(&self, index: usize) -> &str {
        &self.blueprints[index].name
    }

    pub(crate) fn view_blueprint(&self, target: usize) -> Option<usize> {
        self.views[target].blueprint
    }

    /// The chain for a request routed to a view on the loop earlier (a blocking view,
    /// now on a pool thread).
    pub(crate) fn dispatch_routed(&self, request: &mut Request<'_>, response: &mut Response) {
        self.dispatch::<false>(request, Ok(Answered::No), true, response);
    }

    /// Answers a request routed to a blocking or WebSocket view.
    #[cold]
    fn respond_special(
        &self,
        request: &mut Request<'_>,
        routed: Result<Answered, HttpError>,
        response: &mut Response,
    ) -> Reply<App> {
        match (self.routed_kind(request), request.rule) {
            (ViewKind::Blocking, Some(rule)) => Reply::Blocking(blocking::job(request, rule)),
            #[cfg(feature = "websocket")]
            (ViewKind::WebSocket, _) => {
                self.dispatch::<false>(request, routed, true, response);
                match crate::web::websocket::take_upgrade() {
                    // After-request hooks may have answered otherwise: then that stands.
                    Some(upgrade) if response.status() == StatusCode::SWITCHING_PROTOCOLS => {
                        Reply::Upgrade(upgrade)
                    }
                    _ => Reply::Ready,
                }
            }
            #[cfg(feature = "socketio")]
            (ViewKind::Direct, Some(rule)) => {
                let view = &self.views[self.router.rule(rule).target].view;
                let req = &*request;
                if let Err(mut err) = guarded(|| view(req, response)) {
                    *response = self.answer_error(req, None, &mut err);
                }
                let upgrade = crate::web::websocket::take_upgrade();
                let later = crate::web::socketio::engineio::server::take_later();
                match (upgrade, later) {
                    (Some(upgrade), _) if response.status() == StatusCode::SWITCHING_PROTOCOLS => {
                        Reply::Upgrade(upgrade)
                    }
                    (_, Some(later)) => Reply::Later(later),
                    _ => Reply::Ready,
                }
            }
            _ => {
                self.dispatch::<false>(request, routed, true, response);
                Reply::Ready
            }
        }
    }

    /// The kind of view routing sent the request to.
    fn routed_kind(&self, request: &Request<'_>) -> ViewKind {
        match request.rule {
            Some(rule) => self.views[self.router.rule(rule).target].kind,
            None => ViewKind::Loop,
        }
    }

    /// Runs the dispatch chain on a routed request, leaving its response in
    /// `response`. Never panics: a panicking view or hook costs this request a 500.
    ///
    /// The response is written in place rather than returned: passed back by value, it
    /// was copied at each step of the chain, and each copy read back bytes just stored
    /// in smaller pieces, which stalls the CPU (about a third of dispatch time).
    ///
    /// `before` is false for a request the server refused after routing (413, 408):
    /// only its error handlers and after-request hooks run.
    ///
    /// `HOT` is true on the request path alone: each value is its own copy of the chain,
    /// so the copy the loop runs has a single caller and is inlined whole (shared with
    /// the refusal and pool paths, its guarded closure was not, a few percent of a
    /// plaintext request).
    #[inline(always)]
    fn dispatch<const HOT: bool>(
        &self,
        request: &mut Request<'_>,
        routed: Result<Answered, HttpError>,
        before: bool,
        response: &mut Response,
    ) {
        let req = &*request;
        // The blueprint's scope (if any) is innermost: its error handlers and after-request
        // hooks come first, its before-request hooks last, as in Flask. The two scopes are
        // named rather than iterated: flattening `[Option<&Scaffold>; 2]` for each pass cost
        // a plaintext request about 90 instructions.
        let inner = req.blueprint_index().map(|i| &self.blueprints[i].scaffold);
        let outer = &self.scaffold;

        let mut error = None;
        // One guard around the hooks and the view: a panic there is a 500 that goes to
        // the error handlers like any other, as an exception does in Flask.
        let outcome = guarded(|| {
            if !before {
                return routed.map(|_| ());
            }
            for hook in &outer.before {
                if let Some(resp) = hook(req)? {
                    *response = resp;
                    return Ok(());
                }
            }
            if let Some(scaffold) = inner {
                for hook in &scaffold.before {
                    if let Some(resp) = hook(req)? {
                        *response = resp;
                        return Ok(());
                    }
                }
            }
            match (routed?, req.rule) {
                (Answered::Yes, _) => Ok(()),
                (Answered::No, Some(rule)) => {
                    (self.views[self.router.rule(rule).target].view)(req, response)
                }
                (Answered::No, None) => Err(abort(StatusCode::NOT_FOUND)),
            }
        });
        if let Err(mut err) = outcome {
            *response = self.answer_error(req, inner, &mut err);
            error = Some(err);
        }
        if !outer.after.is_empty() || inner.is_some_and(|s| !s.after.is_empty()) {
            self.run_after_hooks(req, inner, response);
        }
        // Exclusive again once the chain is done: the session is reached without a
        // `RefCell` borrow.
        #[cfg(feature = "sessions")]
        request.save_session(response);
        let req = &*request;
        if let Some(error) = error {
            self.teardown(req, inner, Some(&error));
        } else if !outer.teardown.is_empty() || inner.is_some_and(|s| !s.teardown.is_empty()) {
            self.teardown(req, inner, None);
        }
    }

    /// Runs the after-request hooks, innermost scope first, in reverse order of
    /// registration; a panic in one is a 500 (whose cause is reported).
    #[inline(never)]
    fn run_after_hooks(
        &self,
        req: &Request<'_>,
        inner: Option<&Scaffold>,
        response: &mut Response,
    ) {
        let ran = guarded(|| {
            if let Some(scaffold) = inner {
                for hook in scaffold.after.iter().rev() {
                    hook(req, response);
                }
            }
            for hook in self.scaffold.after.iter().rev() {
                hook(req, response);
            }
            Ok(())
        });
        if let Err(err) = ran {
            fault::report(req, &err);
            *response = self.error_page(req, &err);
        }
    }

    /// Runs the teardown hooks, innermost scope first, each under its own guard.
    fn teardown(&self, req: &Request<'_>, inner: Option<&Scaffold>, error: Option<&HttpError>) {
        for scaffold in [inner, Some(&self.scaffold)].into_iter().flatten() {
            for hook in scaffold.teardown.iter().rev() {
                let ran = guarded(|| {
                    hook(req, error);
                    Ok(())
                });
                if let Err(err) = ran {
                    fault::report(req, &err);
                }
            }
        }
    }

    /// Routes the request, recording the match on it. An automatic answer (OPTIONS) is
    /// written to `response`; `Err` is a routing error for the error handlers.
    #[inline(always)]
    fn route_request(
        &self,
        req: &mut Request<'_>,
        response: &mut Response,
    ) -> Result<Answered, HttpError> {
        if req.target == "*" {
            // `OPTIONS *`: the server's capabilities, not a resource.
            let allow = self.router.all_methods().allow_header();
            *response = Response::empty(StatusCode::OK).with_header("Allow", allow);
            return Ok(Answered::Yes);
        }
        let Some(path) = req.path.as_deref() else {
            return Err(abort(400).with_message("The path is not valid percent-encoded UTF-8."));
        };
        match self.router.route(path, &req.method, &mut req.params) {
            Routed::Found(rule) => {
                req.rule = Some(rule);
                Ok(Answered::No)
            }
            Routed::Options(allowed) => {
                *response =
                    Response::empty(StatusCode::OK).with_header("Allow", allowed.allow_header());
                Ok(Answered::Yes)
            }
            Routed::MethodNotAllowed(allowed) => {
                Err(abort(StatusCode::METHOD_NOT_ALLOWED)
                    .with_header("Allow", allowed.allow_header()))
            }
            Routed::AddSlash => {
                let mut location = format!("{}{}/", req.script_root(), req.raw_path());
                if !req.query_string().is_empty() {
                    location.push('?');
                    location.push_str(req.query_string());
                }
                Err(HttpError::from_response(redirect_with(
                    location,
                    StatusCode::PERMANENT_REDIRECT,
                )))
            }
            Routed::NotFound if !req.method.is_standard() => {
                Err(abort(StatusCode::NOT_IMPLEMENTED))
            }
            Routed::NotFound => Err(abort(StatusCode::NOT_FOUND)),
        }
    }

    /// [`App::handle_error`] under a guard of its own: the error path runs code too (an
    /// error's headers, the pages), and a panic there must cost one 500, not the loop.
    #[cold]
    fn answer_error(
        &self,
        req: &Request<'_>,
        inner: Option<&Scaffold>,
        err: &mut HttpError,
    ) -> Response {
        match catch_unwind(AssertUnwindSafe(|| self.handle_error(req, inner, err))) {
            Ok(response) => response,
            Err(panic) => {
                fault::report(req, &fault::panic_error(&*panic));
                // Constant headers only: this page cannot fail.
                abort(StatusCode::INTERNAL_SERVER_ERROR).to_response()
            }
        }
    }

    fn handle_error(
        &self,
        req: &Request<'_>,
        inner: Option<&Scaffold>,
        err: &mut HttpError,
    ) -> Response {
        if let Some(resp) = err.take_response() {
            return resp;
        }
        let status = err.status();
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            fault::report(req, err);
        }
        let scopes = [inner, Some(&self.scaffold)];
        let scopes = scopes.iter().flatten();
        let handler = scopes
            .clone()
            .find_map(|s| s.error_handler(status))
            .or_else(|| scopes.clone().find_map(|s| s.any_error.as_ref()));
        let Some(handler) = handler else {
            return self.error_page(req, err);
        };
        let err: &HttpError = err;
        match guarded(|| handler(req, err)) {
            Ok(mut resp) => {
                if resp.status() == StatusCode::OK {
                    resp.set_status(status);
                }
                for (name, value) in err.headers() {
                    if resp.header(name).is_none() {
                        resp.append_header(name.clone(), value.clone());
                    }
                }
                resp
            }
            Err(failed) => {
                // The handler's own failure is reported; the original error already was
                // if it was a 500.
                if failed.status() == StatusCode::INTERNAL_SERVER_ERROR {
                    fault::report(req, &failed);
                }
                self.error_page(req, &failed)
            }
        }
    }
}

impl AddView for App {
    fn add_boxed_view(
        &mut self,
        rule: &str,
        endpoint: &str,
        methods: &[Method],
        view: View,
        kind: ViewKind,
    ) {
        self.add_view(rule, endpoint, methods, view, None, kind);
    }
}

impl Service for App {
    fn config(&self) -> &Config {
        &self.config
    }

    #[inline]
    fn respond(&self, incoming: Incoming<'_>, response: &mut Response) -> Reply<App> {
        let mut request = Request::from_incoming(self, incoming);
        let routed = self.route_request(&mut request, response);
        if self.any_special && matches!(routed, Ok(Answered::No)) {
            return self.respond_special(&mut request, routed, response);
        }
        self.dispatch::<true>(&mut request, routed, true, response);
        Reply::Ready
    }

    fn refuse(&self, incoming: Incoming<'_>, status: StatusCode, response: &mut Response) {
        let mut request = Request::from_incoming(self, incoming);
        // Routed only to find the blueprint whose error handlers apply; the refusal
        // stands whatever routing says.
        let _ = self.route_request(&mut request, response);
        self.dispatch::<false>(&mut request, Err(abort(status)), false, response);
    }
}

/// Runs user code, turning a panic into a 500 for this request only.
#[inline(always)]
fn guarded<T>(f: impl FnOnce() -> Result<T, HttpError>) -> Result<T, HttpError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(outcome) => outcome,
        Err(panic) => Err(fault::panic_error(&*panic)),
    }
}

/// Whether routing answered the request itself (OPTIONS).
enum Answered {
    Yes,
    No,
}
