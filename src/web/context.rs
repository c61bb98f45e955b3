//! `context!`: the values a template sees, from anything that implements `Serialize`.
//!
//! minijinja's own `context!` takes only what converts into its `Value`, so a
//! `Vec<Link>` of the app's serde structs did not compile; this one serialises each value
//! (minijinja's `Value::from(Serde(&value))`), keeping minijinja's syntax.

use std::collections::BTreeMap;

use minijinja::Value;
use minijinja::value::Serde;
use serde::Serialize;

/// Builds a template context: `context! { name, links => page.links, ..other }`.
///
/// Each value may be anything that implements `serde::Serialize`: a string, a number, a
/// `Vec` or map of your own `#[derive(Serialize)]` structs, another `context!`, or
/// [`Markup`](crate::Markup) (written without escaping). `name` alone means
/// `name => name`; `..other` merges the keys of another context or serialisable map,
/// with the named keys winning.
///
/// ```
/// use carafe::{App, Request, context};
///
/// #[derive(serde::Serialize)]
/// struct Link { title: String, url: String }
///
/// let mut app = App::new();
/// app.get("/", |req: &Request| {
///     let links = vec![Link { title: "Home".into(), url: "/".into() }];
///     req.render_template_string(
///         "{% for l in links %}<a href='{{ l.url }}'>{{ l.title }}</a>{% endfor %} {{ n }}",
///         context! { links, n => 2 },
///     )
/// });
/// assert_eq!(app.test_client().get("/").send().text(), "<a href='/'>Home</a> 2");
/// ```
#[macro_export]
macro_rules! context {
    () => {
        $crate::__templates::build(::std::vec::Vec::new(), [])
    };
    (
        $($key:ident $(=> $value:expr)?),*
        $(, .. $ctx:expr)* $(,)?
    ) => {{
        let mut pairs = ::std::vec::Vec::new();
        $(
            $crate::__context_pair!(pairs, $key $(=> $value)?);
        )*
        $crate::__templates::build(pairs, [$($crate::__templates::to_value(&$ctx)),*])
    }};
    (
        $(.. $ctx:expr),* $(,)?
    ) => {
        $crate::__templates::build(
            ::std::vec::Vec::new(),
            [$($crate::__templates::to_value(&$ctx)),*],
        )
    };
}

/// One `key` or `key => value` of [`context!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __context_pair {
    ($pairs:ident, $key:ident) => {
        $crate::__context_pair!($pairs, $key => $key)
    };
    ($pairs:ident, $key:ident => $value:expr) => {
        $pairs.push((stringify!($key), $crate::__templates::to_value(&$value)))
    };
}

/// What [`context!`] expands to call.
#[doc(hidden)]
pub mod __templates {
    use super::*;

    /// A value as templates see it.
    pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Value {
        Value::from(Serde(value))
    }

    /// The named pairs (a later one of the same name wins), over the merged contexts
    /// (an earlier one wins), as minijinja's `context!` merges them.
    pub fn build<const N: usize>(pairs: Vec<(&'static str, Value)>, merged: [Value; N]) -> Value {
        // Collected first, so a later pair of the same name replaces an earlier one.
        let map: BTreeMap<&str, Value> = pairs.into_iter().collect();
        let named = Value::from_pairs(map);
        if N == 0 {
            return named;
        }
        minijinja::value::merge_maps(merged.into_iter().rev().chain(std::iter::once(named)))
    }
}
