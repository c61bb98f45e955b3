//! Flask's URL converters: which text a variable part of a rule accepts, how specific it
//! is when rules compete, and how a value is written back into a URL.

use std::borrow::Cow;

/// The converter of one `<converter(args):name>` variable.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Converter {
    /// `<name>` or `<string(minlength=1, maxlength=None, length=None):name>`: no slash.
    String { min: usize, max: Option<usize> },
    /// `<int:name>`, args `fixed_digits`, `min`, `max`, `signed`.
    Int {
        fixed_digits: Option<usize>,
        min: Option<i128>,
        max: Option<i128>,
        signed: bool,
    },
    /// `<float:name>`: digits, a dot, digits; args `min`, `max`, `signed`.
    Float {
        min: Option<f64>,
        max: Option<f64>,
        signed: bool,
    },
    /// `<path:name>`: one or more characters, slashes included.
    Path,
    /// `<uuid:name>`: `8-4-4-4-12` hex digits.
    Uuid,
    /// `<any(a, b, c):name>`: one of the listed words.
    Any(Vec<String>),
}

impl Converter {
    /// Builds a converter from its name and the text between its parentheses.
    pub(crate) fn parse(name: &str, args: Option<&str>) -> Result<Converter, String> {
        let args = Args::parse(args.unwrap_or(""))?;
        let converter = match name {
            "default" | "string" => {
                let length = args.number("length", 2)?;
                Converter::String {
                    min: length.or(args.number("minlength", 0)?).unwrap_or(1),
                    max: length.or(args.number("maxlength", 1)?),
                }
            }
            "int" => Converter::Int {
                fixed_digits: args.number("fixed_digits", 0)?,
                min: args.number("min", 1)?,
                max: args.number("max", 2)?,
                signed: args.boolean("signed", 3)?,
            },
            "float" => Converter::Float {
                min: args.number("min", 0)?,
                max: args.number("max", 1)?,
                signed: args.boolean("signed", 2)?,
            },
            "path" => Converter::Path,
            "uuid" => Converter::Uuid,
            "any" => {
                let words = args.take_positional();
                if words.is_empty() {
                    return Err("any() needs at least one word".into());
                }
                Converter::Any(words)
            }
            other => return Err(format!("unknown converter {other:?}")),
        };
        args.check_all_used()?;
        Ok(converter)
    }

    /// Whether the converter can match across `/`.
    pub(crate) fn spans_segments(&self) -> bool {
        matches!(self, Converter::Path)
    }

    /// How specific the converter is: lower is tried first when rules compete.
    pub(crate) fn weight(&self) -> u32 {
        match self {
            Converter::Any(_) => 10,
            Converter::Uuid => 20,
            Converter::Int { .. } | Converter::Float { .. } => 50,
            Converter::String { .. } => 100,
            Converter::Path => 200,
        }
    }

    /// Whether `value` (already percent-decoded) is accepted.
    pub(crate) fn accepts(&self, value: &str) -> bool {
        if value.is_empty() || (!self.spans_segments() && value.contains('/')) {
            return false;
        }
        match self {
            Converter::String { min, max } => {
                let n = value.chars().count();
                n >= *min && max.is_none_or(|max| n <= max)
            }
            Converter::Int {
                fixed_digits,
                min,
                max,
                signed,
            } => {
                let digits = match value.strip_prefix('-') {
                    Some(rest) if *signed => rest,
                    _ => value,
                };
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return false;
                }
                if fixed_digits.is_some_and(|n| digits.len() != n) {
                    return false;
                }
                in_range(value.parse::<i128>().ok(), *min, *max)
            }
            Converter::Float { min, max, signed } => {
                let unsigned = match value.strip_prefix('-') {
                    Some(rest) if *signed => rest,
                    _ => value,
                };
                let Some((whole, frac)) = unsigned.split_once('.') else {
                    return false;
                };
                let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
                digits(whole) && digits(frac) && in_range(value.parse::<f64>().ok(), *min, *max)
            }
            Converter::Path => !value.starts_with('/'),
            Converter::Uuid => is_uuid(value),
            Converter::Any(words) => words.iter().any(|w| w == value),
        }
    }

    /// Writes `value` into a URL (Werkzeug's `to_url`): percent-encoded, slashes kept
    /// only for `path`.
    pub(crate) fn to_url<'v>(&self, value: &'v str) -> Cow<'v, str> {
        crate::http::url::encode_path(value, self.spans_segments())
    }
}

fn in_range<T: PartialOrd>(value: Option<T>, min: Option<T>, max: Option<T>) -> bool {
    match value {
        Some(v) => min.is_none_or(|m| v >= m) && max.is_none_or(|m| v <= m),
        // Too large for the type: fine unless a bound was asked for.
        None => min.is_none() && max.is_none(),
    }
}

fn is_uuid(value: &str) -> bool {
    let b = value.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Converter arguments: `any(a, b)` positional words, `int(min=1, signed=True)` keywords.
struct Args {
    positional: Vec<String>,
    keywords: Vec<(String, String)>,
    used: std::cell::Cell<usize>,
}

impl Args {
    fn parse(text: &str) -> Result<Args, String> {
        let mut args = Args {
            positional: Vec::new(),
            keywords: Vec::new(),
            used: std::cell::Cell::new(0),
        };
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let unquote = |s: &str| s.trim().trim_matches(|c| c == '\'' || c == '"').to_owned();
            match item.split_once('=') {
                Some((key, value)) => args.keywords.push((key.trim().to_owned(), unquote(value))),
                None => args.positional.push(unquote(item)),
            }
        }
        Ok(args)
    }

    /// The argument named `key`, or the positional one at `position`.
    fn get(&self, key: &str, position: usize) -> Option<&str> {
        let found = self
            .keywords
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .or_else(|| self.positional.get(position).map(String::as_str));
        if found.is_some() {
            self.used.set(self.used.get() + 1);
        }
        found
    }

    fn number<T: std::str::FromStr>(
        &self,
        key: &str,
        position: usize,
    ) -> Result<Option<T>, String> {
        match self.get(key, position) {
            None | Some("None") => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| format!("{key}={v} is not a number")),
        }
    }

    fn boolean(&self, key: &str, position: usize) -> Result<bool, String> {
        match self.get(key, position) {
            None | Some("False" | "false") => Ok(false),
            Some("True" | "true") => Ok(true),
            Some(v) => Err(format!("{key}={v} is not True or False")),
        }
    }

    fn take_positional(&self) -> Vec<String> {
        self.used.set(self.used.get() + self.positional.len());
        self.positional.clone()
    }

    fn check_all_used(&self) -> Result<(), String> {
        if self.used.get() < self.keywords.len() + self.positional.len() {
            return Err(format!(
                "unexpected converter arguments in {:?} {:?}",
                self.positional, self.keywords
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(name: &str, args: Option<&str>) -> Converter {
        Converter::parse(name, args).unwrap()
    }

    #[test]
    fn strings() {
        let s = conv("string", None);
        assert!(s.accepts("hello"));
        assert!(!s.accepts(""));
        assert!(!s.accepts("a/b"));
        let two = conv("string", Some("length=2"));
        assert!(two.accepts("en") && !two.accepts("eng"));
        let short = conv("string", Some("minlength=2, maxlength=3"));
        assert!(!short.accepts("a") && short.accepts("ab") && !short.accepts("abcd"));
    }

    #[test]
    fn ints() {
        let i = conv("int", None);
        assert!(i.accepts("42") && i.accepts("007"));
        assert!(!i.accepts("-1") && !i.accepts("4a") && !i.accepts("+1") && !i.accepts("1.0"));
        assert!(i.accepts("999999999999999999999999999999999999999999"));
        let signed = conv("int", Some("signed=True"));
        assert!(signed.accepts("-1") && !signed.accepts("-"));
        let bounded = conv("int", Some("min=1, max=10"));
        assert!(!bounded.accepts("0") && bounded.accepts("10") && !bounded.accepts("11"));
        let fixed = conv("int", Some("fixed_digits=4"));
        assert!(fixed.accepts("2024") && !fixed.accepts("24"));
    }

    #[test]
    fn floats_paths_uuids_any() {
        let f = conv("float", None);
        assert!(f.accepts("1.5") && !f.accepts("1") && !f.accepts(".5") && !f.accepts("-1.5"));
        assert!(conv("float", Some("signed=True")).accepts("-1.5"));
        let p = conv("path", None);
        assert!(p.accepts("a/b/c.txt") && !p.accepts(""));
        let u = conv("uuid", None);
        assert!(u.accepts("6ba7b810-9dad-11d1-80b4-00c04fd430c8"));
        assert!(!u.accepts("6ba7b810-9dad-11d1-80b4-00c04fd430c"));
        assert!(!u.accepts("6ba7b810x9dad-11d1-80b4-00c04fd430c8"));
        let any = conv("any", Some("about, 'help'"));
        assert!(any.accepts("about") && any.accepts("help") && !any.accepts("other"));
    }

    #[test]
    fn bad_definitions() {
        assert!(Converter::parse("nope", None).is_err());
        assert!(Converter::parse("int", Some("min=x")).is_err());
        assert!(Converter::parse("int", Some("bogus=1")).is_err());
        assert!(Converter::parse("any", None).is_err());
        assert!(Converter::parse("int", Some("signed=maybe")).is_err());
    }

    #[test]
    fn weights_order_specific_first() {
        assert!(conv("int", None).weight() < conv("string", None).weight());
        assert!(conv("string", None).weight() < conv("path", None).weight());
    }
}
