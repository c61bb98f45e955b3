//! Blueprints: a group of routes, hooks and error handlers mounted under a URL prefix.

use crate::http::method::Method;
use crate::http::response::Response;
use crate::http::status::StatusCode;
use crate::web::app::ViewKind;
use crate::web::blocking::Blocking;
use crate::web::error::HttpError;
use crate::web::request::Request;
use crate::web::responder::Responder;
use crate::web::scaffold::{AddView, BeforeRequest, Scaffold, View, register, scaffold_methods};

/// A set of routes registered on an app later, under a prefix (Flask's `Blueprint`).
///
/// Its hooks and error handlers apply only to requests routed to its own views, and its
/// endpoints are named `"<blueprint>.<endpoint>"`.
///
/// ```
/// use carafe::{App, Blueprint, Request};
///
/// fn dashboard(_: &Request) -> &'static str { "admin home" }
///
/// let mut admin = Blueprint::new("admin", "/admin");
/// admin.get("/", dashboard);
/// admin.before_request(|req: &Request| {
///     if req.header("X-Admin").is_none() {
///         return Err(carafe::abort(403));
///     }
///     Ok(())
/// });
///
/// let mut app = App::new();
/// app.register_blueprint(admin);
/// assert_eq!(app.url_for("admin.dashboard", &[]).unwrap(), "/admin/");
/// ```
pub struct Blueprint {
    name: String,
    url_prefix: String,
    routes: Vec<RouteDef>,
    scaffold: Scaffold,
}

/// A route waiting for its blueprint to be registered.
pub(crate) struct RouteDef {
    pub(crate) rule: String,
    pub(crate) endpoint: String,
    pub(crate) methods: Vec<Method>,
    pub(crate) view: View,
    pub(crate) kind: ViewKind,
}

impl Blueprint {
    /// A blueprint named `name` (the endpoint prefix) mounted at `url_prefix`
    /// (`""` or `"/"` for none).
    ///
    /// # Panics
    ///
    /// If `name` contains a dot, which would make endpoint names ambiguous.
    pub fn new(name: &str, url_prefix: &str) -> Blueprint {
        assert!(
            !name.contains('.'),
            "blueprint name {name:?} may not contain a dot"
        );
        Blueprint {
            name: name.to_owned(),
            url_prefix: url_prefix.trim_end_matches('/').to_owned(),
            routes: Vec::new(),
            scaffold: Scaffold::default(),
        }
    }

    /// The blueprint's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Registers `view` for `rule` (relative to the prefix) under `endpoint`
    /// (default: the function's name), answering `methods`.
    ///
    /// # Panics
    ///
    /// When registered on an app, if the rule is malformed.
    pub fn add_url_rule<F, R>(
        &mut self,
        rule: &str,
        endpoint: Option<&str>,
        methods: &[Method],
        view: F,
    ) -> &mut Blueprint
    where
        F: Fn(&Request<'_>) -> R + Send + Sync + 'static,
        R: Responder,
    {
        register(self, rule, endpoint, methods, view, ViewKind::Loop);
        self
    }

    /// Registers views that run on the blocking pool (see [`App::blocking`](crate::App::blocking)).
    pub fn blocking(&mut self) -> Blocking<'_, Blueprint> {
        Blocking::new(self)
    }

    scaffold_methods!();

    pub(crate) fn into_parts(self) -> (String, Vec<RouteDef>, Scaffold) {
        (self.name, self.routes, self.scaffold)
    }
}

impl AddView for Blueprint {
    fn add_boxed_view(
        &mut self,
        rule: &str,
        endpoint: &str,
        methods: &[Method],
        view: View,
        kind: ViewKind,
    ) {
        // Flask joins prefix and rule with exactly one slash.
        let rule = if rule.is_empty() {
            self.url_prefix.clone()
        } else {
            format!("{}/{}", self.url_prefix, rule.trim_start_matches('/'))
        };
        self.routes.push(RouteDef {
            rule,
            endpoint: endpoint.to_owned(),
            methods: methods.to_vec(),
            view,
            kind,
        });
    }
}
