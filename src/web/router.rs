//! Rules with Flask's variable syntax, matching in one pass that also decides 404 versus
//! 405, and building URLs back from endpoints (`url_for`).
//!
//! Fully static rules are found with one hash lookup. Rules with variables are grouped by
//! their first path segment and tried most specific first, as Werkzeug sorts them: static
//! segments before variables, narrow converters (`int`, `uuid`) before `string`, `path` last.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use crate::http::method::{Method, MethodSet};
use crate::web::converter::Converter;

/// Most variables one rule may have; matching keeps their spans in a fixed array.
pub(crate) const MAX_PARAMS: usize = 8;

/// One compiled URL rule.
#[derive(Debug)]
pub(crate) struct Rule {
    pub(crate) text: String,
    pub(crate) endpoint: String,
    pub(crate) methods: MethodSet,
    tokens: Vec<Token>,
    pub(crate) names: Vec<String>,
    /// What the rule dispatches to (an index the app owns).
    pub(crate) target: usize,
    /// Precedence among rules with variables: compared segment by segment, lower first.
    sort_key: Vec<u32>,
}

#[derive(Debug)]
enum Token {
    Literal(String),
    Var(Converter),
}

impl Rule {
    /// Parses `text` (e.g. `/users/<int:id>`) into a rule answering `methods`.
    ///
    /// `GET` implies `HEAD`, as in Flask.
    pub(crate) fn new(
        text: &str,
        endpoint: &str,
        methods: &[Method],
        target: usize,
    ) -> Result<Rule, String> {
        if !text.starts_with('/') {
            return Err(format!("URL rule {text:?} must start with '/'"));
        }
        let mut tokens = Vec::new();
        let mut names: Vec<String> = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('<') {
            let close = rest[open..]
                .find('>')
                .map(|i| open + i)
                .ok_or_else(|| format!("unclosed '<' in URL rule {text:?}"))?;
            push_literal(&mut tokens, &rest[..open], text)?;
            let (converter, name) = parse_variable(&rest[open + 1..close])
                .map_err(|e| format!("{e} in URL rule {text:?}"))?;
            if names.contains(&name) {
                return Err(format!(
                    "variable {name:?} appears twice in URL rule {text:?}"
                ));
            }
            names.push(name);
            tokens.push(Token::Var(converter));
            rest = &rest[close + 1..];
        }
        push_literal(&mut tokens, rest, text)?;
        if names.len() > MAX_PARAMS {
            return Err(format!(
                "URL rule {text:?} has more than {MAX_PARAMS} variables"
            ));
        }
        let mut set = MethodSet::default();
        for m in methods {
            set.insert(m);
        }
        if set.contains(&Method::GET) {
            set.insert(&Method::HEAD);
        }
        let sort_key = sort_key(text, &tokens);
        Ok(Rule {
            text: text.to_owned(),
            endpoint: endpoint.to_owned(),
            methods: set,
            tokens,
            names,
            target,
            sort_key,
        })
    }

    fn is_static(&self) -> bool {
        self.names.is_empty()
    }

    /// The first path segment when it is plain text, the key its group is filed under.
    fn static_first_segment(&self) -> Option<&str> {
        let first = self.text[1..].split('/').next().unwrap_or("");
        (!first.contains('<')).then_some(first)
    }

    /// Matches the whole of `path`, recording variable spans in `params`.
    fn matches(&self, path: &str, params: &mut Params) -> bool {
        params.len = 0;
        match_tokens(&self.tokens, path, 0, params)
    }

    /// Builds this rule's URL path from `values`, or `None` if one is missing or not accepted.
    fn build(&self, values: &[(&str, &str)]) -> Option<String> {
        let mut out = String::with_capacity(self.text.len() + 16);
        let mut var = 0;
        for token in &self.tokens {
            match token {
                Token::Literal(text) => out.push_str(text),
                Token::Var(converter) => {
                    let name = &self.names[var];
                    var += 1;
                    let (_, value) = values.iter().find(|(k, _)| k == name)?;
                    if !converter.accepts(value) {
                        return None;
                    }
                    out.push_str(&converter.to_url(value));
                }
            }
        }
        Some(out)
    }
}

fn push_literal(tokens: &mut Vec<Token>, literal: &str, text: &str) -> Result<(), String> {
    if literal.contains('>') {
        return Err(format!("stray '>' in URL rule {text:?}"));
    }
    if !literal.is_empty() {
        tokens.push(Token::Literal(literal.to_owned()));
    }
    Ok(())
}

/// `name`, `conv:name` or `conv(args):name`.
fn parse_variable(spec: &str) -> Result<(Converter, String), String> {
    let (conv, name) = match spec.rsplit_once(':') {
        Some((conv, name)) => (conv.trim(), name.trim()),
        None => ("default", spec.trim()),
    };
    let valid_name = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid_name {
        return Err(format!("invalid variable name {name:?}"));
    }
    let (conv_name, args) = match conv.split_once('(') {
        Some((n, rest)) => {
            let args = rest
                .strip_suffix(')')
                .ok_or_else(|| format!("unclosed '(' in converter {conv:?}"))?;
            (n.trim(), Some(args))
        }
        None => (conv, None),
    };
    Ok((Converter::parse(conv_name, args)?, name.to_owned()))
}

/// Per segment: 0 if static, else the narrowest converter's weight (minus one when
/// the segment also has fixed text, which makes it more specific).
fn sort_key(text: &str, tokens: &[Token]) -> Vec<u32> {
    let mut weights = tokens.iter().filter_map(|t| match t {
        Token::Var(c) => Some(c.weight()),
        Token::Literal(_) => None,
    });
    text[1..]
        .split('/')
        .map(|segment| {
            let vars = segment.matches('<').count();
            if vars == 0 {
                return 0;
            }
            let weight = (0..vars)
                .filter_map(|_| weights.next())
                .max()
                .unwrap_or(100);
            let has_text = segment.split('<').next().is_some_and(|s| !s.is_empty())
                || segment.rsplit('>').next().is_some_and(|s| !s.is_empty());
            weight - u32::from(has_text)
        })
        .collect()
}

/// Variable spans found by a match, as byte ranges of the matched path.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Params {
    spans: [(u32, u32); MAX_PARAMS],
    len: usize,
}

impl Params {
    fn push(&mut self, start: usize, end: usize) {
        self.spans[self.len] = (start as u32, end as u32);
        self.len += 1;
    }

    /// The span of the `i`-th variable.
    pub(crate) fn get(&self, i: usize) -> Option<(usize, usize)> {
        (i < self.len).then(|| (self.spans[i].0 as usize, self.spans[i].1 as usize))
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

fn match_tokens(tokens: &[Token], path: &str, pos: usize, params: &mut Params) -> bool {
    let Some((first, rest)) = tokens.split_first() else {
        return pos == path.len();
    };
    match first {
        Token::Literal(text) => {
            path[pos..].starts_with(text.as_str())
                && match_tokens(rest, path, pos + text.len(), params)
        }
        Token::Var(converter) => {
            let tail = &path[pos..];
            let limit = if converter.spans_segments() {
                tail.len()
            } else {
                memchr(b'/', tail.as_bytes()).unwrap_or(tail.len())
            };
            let try_end = |end: usize, params: &mut Params| {
                if end == 0 || !tail.is_char_boundary(end) || !converter.accepts(&tail[..end]) {
                    return false;
                }
                params.push(pos, pos + end);
                if match_tokens(rest, path, pos + end, params) {
                    return true;
                }
                params.len -= 1;
                false
            };
            let next_is_slash =
                matches!(rest.first(), Some(Token::Literal(t)) if t.starts_with('/'));
            if rest.is_empty() {
                // The last token takes everything that is left.
                try_end(tail.len(), params)
            } else if next_is_slash && !converter.spans_segments() {
                try_end(limit, params)
            } else if converter.spans_segments() {
                // Lazy, like Werkzeug's `[^/].*?`.
                (1..=limit).any(|end| try_end(end, params))
            } else {
                // Greedy within the segment, like `[^/]+`.
                (1..=limit).rev().any(|end| try_end(end, params))
            }
        }
    }
}

/// FxHash, rustc's hasher: a multiply and a rotate per word, far cheaper than SipHash
/// for short keys. Flooding is not a concern here: the tables hold the app's own rules,
/// and a client's path is only ever looked up, never inserted.
#[derive(Default)]
struct FxHasher(u64);

type FxBuild = BuildHasherDefault<FxHasher>;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, mut bytes: &[u8]) {
        while let Some((word, rest)) = bytes.split_first_chunk::<8>() {
            self.add(u64::from_le_bytes(*word));
            bytes = rest;
        }
        if let Some((word, rest)) = bytes.split_first_chunk::<4>() {
            self.add(u64::from(u32::from_le_bytes(*word)));
            bytes = rest;
        }
        for &byte in bytes {
            self.add(u64::from(byte));
        }
    }

    #[inline]
    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// The first `needle` in `haystack`: paths are short, so a plain loop beats `str::find`.
#[inline]
pub(crate) fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

/// The outcome of routing one request.
#[derive(Debug)]
pub(crate) enum Routed {
    /// A rule matched path and method; its variables are in the `Params` passed in.
    Found(usize),
    /// `OPTIONS` for a path with no explicit OPTIONS rule: answer with `Allow`.
    Options(MethodSet),
    /// The path matched but not the method: 405 with `Allow`.
    MethodNotAllowed(MethodSet),
    /// Only the path with a trailing slash matches: redirect there (308).
    AddSlash,
    NotFound,
}

/// Static rule texts up to which a lookup scans instead of hashing the path.
const STATIC_SCAN_MAX: usize = 8;

/// The static rules, grouped by their exact text.
///
/// Most apps have a handful: comparing the path's length with each text, and the bytes
/// only where the lengths agree, costs a request fewer instructions than hashing the
/// path and probing a table. Larger tables are looked up through the hash map.
#[derive(Default)]
struct Statics {
    groups: Vec<(String, Vec<usize>)>,
    /// Text → index into `groups`.
    by_text: HashMap<String, usize, FxBuild>,
}

impl Statics {
    /// The group for `text`, created empty if new.
    fn entry(&mut self, text: &str) -> &mut Vec<usize> {
        let next = self.groups.len();
        let i = *self.by_text.entry(text.to_owned()).or_insert(next);
        if i == next {
            self.groups.push((text.to_owned(), Vec::new()));
        }
        &mut self.groups[i].1
    }

    /// The rules whose text is exactly `path` (empty if none).
    #[inline]
    fn get(&self, path: &str) -> &[usize] {
        if self.groups.len() > STATIC_SCAN_MAX {
            return self.get_hashed(path);
        }
        match self.groups.iter().find(|(text, _)| text == path) {
            Some((_, rules)) => rules,
            None => &[],
        }
    }

    /// `get` for a large table. Out of line, so the scan is inlined into routing
    /// without the hashing's registers and code.
    #[inline(never)]
    fn get_hashed(&self, path: &str) -> &[usize] {
        self.by_text
            .get(path)
            .map_or(&[][..], |&i| self.groups[i].1.as_slice())
    }
}

/// Every rule of an app, indexed for matching and for `url_for`.
#[derive(Default)]
pub(crate) struct Router {
    rules: Vec<Rule>,
    statics: Statics,
    by_first_segment: HashMap<String, Vec<usize>, FxBuild>,
    dynamic_first: Vec<usize>,
    endpoints: HashMap<String, Vec<usize>>,
    /// Some rule ends in a slash after more than `/`: only then can a 404 be a redirect,
    /// so an app without such rules answers 404s without building the slashed path.
    slashed_rules: bool,
}

impl Router {
    pub(crate) fn add(&mut self, rule: Rule) {
        let index = self.rules.len();
        self.slashed_rules |= rule.text.len() > 1 && rule.text.ends_with('/');
        let rules = &self.rules;
        let built = self.endpoints.entry(rule.endpoint.clone()).or_default();
        // Rules taking more variables are tried first when building, as Werkzeug sorts
        // them, so `url_for` uses the rule that consumes the values it is given
        // (`/hello/<name>` for `name=...`, `/hello/` without). Stable: ties keep their order.
        let at = built
            .iter()
            .position(|&i| rules[i].names.len() < rule.names.len())
            .unwrap_or(built.len());
        built.insert(at, index);
        let group = if rule.is_static() {
            self.statics.entry(&rule.text)
        } else if let Some(first) = rule.static_first_segment() {
            self.by_first_segment.entry(first.to_owned()).or_default()
        } else {
            &mut self.dynamic_first
        };
        self.rules.push(rule);
        group.push(index);
        // Stable, so equally specific rules keep their registration order.
        let rules = &self.rules;
        group.sort_by(|a, b| rules[*a].sort_key.cmp(&rules[*b].sort_key));
    }

    pub(crate) fn rule(&self, index: usize) -> &Rule {
        &self.rules[index]
    }

    pub(crate) fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter()
    }

    /// Routes a percent-decoded path, recording variable spans in `params`.
    // Inlined into the request path by force: it is also reached from refusals and the
    // blocking pool, and with those call sites the compiler stopped inlining it (about
    // 100 instructions a request, measured with callgrind).
    #[inline(always)]
    pub(crate) fn route(&self, path: &str, method: &Method, params: &mut Params) -> Routed {
        let statics = self.statics.get(path);
        // A static rule matches by its key alone.
        if let Some(&index) = statics
            .iter()
            .find(|&&i| self.rules[i].methods.contains(method))
        {
            params.len = 0;
            return Routed::Found(index);
        }
        let mut path_matched = !statics.is_empty();
        for index in self.dynamic_candidates(path) {
            let rule = &self.rules[index];
            if rule.matches(path, params) {
                if rule.methods.contains(method) {
                    return Routed::Found(index);
                }
                path_matched = true;
            }
        }
        if path_matched {
            // The path is known but not the method: a second pass, off the hot path,
            // gathers what is allowed.
            let mut allowed = MethodSet::default();
            for &index in statics {
                allowed.extend(&self.rules[index].methods);
            }
            let mut scratch = Params::default();
            for index in self.dynamic_candidates(path) {
                if self.rules[index].matches(path, &mut scratch) {
                    allowed.extend(&self.rules[index].methods);
                }
            }
            allowed.insert(&Method::OPTIONS);
            return if *method == Method::OPTIONS {
                Routed::Options(allowed)
            } else {
                Routed::MethodNotAllowed(allowed)
            };
        }
        if self.slashed_rules && !path.ends_with('/') && self.matches_any(&format!("{path}/")) {
            return Routed::AddSlash;
        }
        Routed::NotFound
    }

    /// Whether any rule matches `path`, whatever the method.
    fn matches_any(&self, path: &str) -> bool {
        let mut params = Params::default();
        !self.statics.get(path).is_empty()
            || self
                .dynamic_candidates(path)
                .any(|i| self.rules[i].matches(path, &mut params))
    }

    /// Rules with variables that may match `path`, most specific first.
    fn dynamic_candidates<'r>(&'r self, path: &str) -> impl Iterator<Item = usize> + 'r {
        let rest = path.get(1..).unwrap_or("");
        let first = &rest[..memchr(b'/', rest.as_bytes()).unwrap_or(rest.len())];
        let grouped = if self.by_first_segment.is_empty() {
            &[][..]
        } else {
            self.by_first_segment
                .get(first)
                .map_or(&[][..], Vec::as_slice)
        };
        grouped.iter().chain(&self.dynamic_first).copied()
    }

    /// All the methods any rule answers, for `OPTIONS *`.
    pub(crate) fn all_methods(&self) -> MethodSet {
        let mut all = MethodSet::default();
        for rule in &self.rules {
            all.extend(&rule.methods);
        }
        all.insert(&Method::OPTIONS);
        all
    }

    /// Builds a URL for `endpoint` (Flask's `url_for`): of its rules, those with more
    /// variables first, the first whose variables are all given and accepted; values that
    /// are not variables become the query string.
    pub(crate) fn url_for(
        &self,
        endpoint: &str,
        values: &[(&str, &str)],
    ) -> Result<String, UrlBuildError> {
        let indexes = self
            .endpoints
            .get(endpoint)
            .ok_or_else(|| UrlBuildError(format!("no endpoint named {endpoint:?}")))?;
        for &index in indexes {
            let rule = &self.rules[index];
            let Some(mut url) = rule.build(values) else {
                continue;
            };
            let mut first = true;
            for (key, value) in values {
                if rule.names.iter().any(|n| n == key) {
                    continue;
                }
                url.push(if first { '?' } else { '&' });
                first = false;
                url.push_str(&crate::http::url::encode_query_component(key));
                url.push('=');
                url.push_str(&crate::http::url::encode_query_component(value));
            }
            return Ok(url);
        }
        let wanted: Vec<&str> = indexes
            .iter()
            .map(|&i| self.rules[i].text.as_str())
            .collect();
        Err(UrlBuildError(format!(
            "could not build a URL for {endpoint:?}: values {:?} do not fit {wanted:?}",
            values.iter().map(|(k, _)| k).collect::<Vec<_>>()
        )))
    }
}

/// `url_for` found no rule for the endpoint that fits the values given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlBuildError(String);

impl fmt::Display for UrlBuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UrlBuildError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(rules: &[(&str, &[Method])]) -> Router {
        let mut router = Router::default();
        for (i, (text, methods)) in rules.iter().enumerate() {
            router.add(Rule::new(text, &format!("r{i}"), methods, i).unwrap());
        }
        router
    }

    /// Routes `path` and returns the matched rule's text and its variables.
    fn found(router: &Router, method: Method, path: &str) -> Option<(String, Vec<String>)> {
        let mut params = Params::default();
        match router.route(path, &method, &mut params) {
            Routed::Found(rule) => {
                let values = (0..params.len())
                    .map(|i| {
                        let (s, e) = params.get(i).unwrap();
                        path[s..e].to_owned()
                    })
                    .collect();
                Some((router.rule(rule).text.clone(), values))
            }
            _ => None,
        }
    }

    const GET: &[Method] = &[Method::GET];

    impl Router {
        fn route_simple(&self, path: &str, method: &Method) -> Routed {
            self.route(path, method, &mut Params::default())
        }
    }

    /// Static rules are scanned in a small table and hashed in a large one; both find
    /// every text, group rules sharing one, and miss texts of equal length.
    #[test]
    fn static_tables_small_and_large() {
        for count in [1, STATIC_SCAN_MAX, STATIC_SCAN_MAX + 1, 40] {
            let texts: Vec<String> = (0..count).map(|i| format!("/s{i:02}")).collect();
            let mut rules: Vec<(&str, &[Method])> =
                texts.iter().map(|t| (t.as_str(), GET)).collect();
            rules.push(("/s00", &[Method::POST]));
            let r = router(&rules);
            for text in &texts {
                assert_eq!(found(&r, Method::GET, text).unwrap().0, *text, "{count}");
            }
            assert_eq!(found(&r, Method::POST, "/s00").unwrap().0, "/s00");
            assert!(found(&r, Method::GET, "/s99").is_none(), "{count}");
            assert!(found(&r, Method::GET, "/s0").is_none(), "{count}");
            assert!(matches!(
                r.route_simple("/s00", &Method::DELETE),
                Routed::MethodNotAllowed(_)
            ));
        }
    }

    #[test]
    fn static_and_variables() {
        let r = router(&[
            ("/", GET),
            ("/users/<int:id>", GET),
            ("/users/me", GET),
            ("/users/<name>", GET),
            ("/files/<path:rest>", GET),
            ("/v<int:version>/items", GET),
            ("/items/<uuid:id>", GET),
            ("/price/<float:x>", GET),
        ]);
        assert_eq!(found(&r, Method::GET, "/").unwrap().0, "/");
        assert_eq!(
            found(&r, Method::GET, "/users/42").unwrap(),
            ("/users/<int:id>".into(), vec!["42".into()])
        );
        assert_eq!(found(&r, Method::GET, "/users/me").unwrap().0, "/users/me");
        assert_eq!(found(&r, Method::GET, "/users/bob").unwrap().1, ["bob"]);
        assert_eq!(
            found(&r, Method::GET, "/files/a/b/c.txt").unwrap().1,
            ["a/b/c.txt"]
        );
        assert_eq!(found(&r, Method::GET, "/v2/items").unwrap().1, ["2"]);
        assert_eq!(
            found(
                &r,
                Method::GET,
                "/items/6ba7b810-9dad-11d1-80b4-00c04fd430c8"
            )
            .unwrap()
            .0,
            "/items/<uuid:id>"
        );
        assert_eq!(found(&r, Method::GET, "/price/2.50").unwrap().1, ["2.50"]);
        assert!(found(&r, Method::GET, "/price/2").is_none());
        assert!(found(&r, Method::GET, "/users/a/b").is_none());
        assert!(found(&r, Method::GET, "/files/").is_none());
        assert!(found(&r, Method::GET, "/nope").is_none());
    }

    #[test]
    fn head_follows_get_and_405_lists_allowed() {
        let r = router(&[
            ("/a", GET),
            ("/a", &[Method::POST]),
            ("/b/<int:id>", &[Method::PUT]),
        ]);
        assert!(found(&r, Method::HEAD, "/a").is_some());
        match r.route_simple("/a", &Method::DELETE) {
            Routed::MethodNotAllowed(allowed) => {
                assert_eq!(allowed.allow_header(), "GET, HEAD, POST, OPTIONS")
            }
            other => panic!("{other:?}"),
        }
        match r.route_simple("/b/1", &Method::OPTIONS) {
            Routed::Options(allowed) => assert_eq!(allowed.allow_header(), "PUT, OPTIONS"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            r.route_simple("/b/x", &Method::PUT),
            Routed::NotFound
        ));
    }

    #[test]
    fn method_decides_between_rules_of_one_path() {
        let r = router(&[("/users/me", GET), ("/users/<name>", &[Method::POST])]);
        assert_eq!(
            found(&r, Method::POST, "/users/me").unwrap().0,
            "/users/<name>"
        );
    }

    #[test]
    fn trailing_slash_redirect() {
        let r = router(&[("/docs/", GET), ("/page", GET)]);
        assert!(matches!(
            r.route_simple("/docs", &Method::GET),
            Routed::AddSlash
        ));
        assert!(matches!(
            r.route_simple("/page/", &Method::GET),
            Routed::NotFound
        ));
    }

    #[test]
    fn path_in_the_middle_and_mixed_segments() {
        let r = router(&[("/<path:p>/edit", GET), ("/img/<name>.<ext>", GET)]);
        assert_eq!(found(&r, Method::GET, "/a/b/edit").unwrap().1, ["a/b"]);
        assert_eq!(
            found(&r, Method::GET, "/img/photo.tar.gz").unwrap().1,
            ["photo.tar", "gz"]
        );
    }

    #[test]
    fn url_for_builds_and_encodes() {
        let r = router(&[
            ("/users/<int:id>", GET),
            ("/files/<path:p>", GET),
            ("/s/<name>", GET),
        ]);
        assert_eq!(r.url_for("r0", &[("id", "5")]).unwrap(), "/users/5");
        assert_eq!(
            r.url_for("r0", &[("id", "5"), ("q", "a b")]).unwrap(),
            "/users/5?q=a+b"
        );
        assert_eq!(
            r.url_for("r1", &[("p", "a b/c")]).unwrap(),
            "/files/a%20b/c"
        );
        assert_eq!(
            r.url_for("r2", &[("name", "a/b")]),
            Err(UrlBuildError(
                "could not build a URL for \"r2\": values [\"name\"] do not fit [\"/s/<name>\"]"
                    .into()
            ))
        );
        assert!(r.url_for("r0", &[("id", "x")]).is_err());
        assert!(r.url_for("r0", &[]).is_err());
        assert!(r.url_for("nope", &[]).is_err());
    }

    #[test]
    fn bad_rules() {
        for bad in [
            "no-slash",
            "/<int:id",
            "/a>",
            "/<bogus:x>",
            "/<int:1x>",
            "/<a>/<a>",
            "/<int(min=1:x>",
        ] {
            assert!(Rule::new(bad, "e", GET, 0).is_err(), "{bad}");
        }
    }

    #[test]
    fn many_routes_pick_the_right_one() {
        let texts: Vec<String> = (0..100)
            .map(|i| {
                if i % 2 == 0 {
                    format!("/s{i}")
                } else {
                    format!("/d{i}/<int:id>")
                }
            })
            .collect();
        let rules: Vec<(&str, &[Method])> = texts.iter().map(|t| (t.as_str(), GET)).collect();
        let r = router(&rules);
        assert_eq!(found(&r, Method::GET, "/s42").unwrap().0, "/s42");
        assert_eq!(
            found(&r, Method::GET, "/d41/7").unwrap(),
            ("/d41/<int:id>".into(), vec!["7".into()])
        );
    }
}
