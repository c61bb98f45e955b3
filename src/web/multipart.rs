//! `multipart/form-data` bodies (RFC 7578 over RFC 2046 §5.1): form fields and uploaded
//! files, borrowed from the request body without copying file contents.

use std::borrow::Cow;
use std::io;
use std::path::Path;

use crate::http::url::{MultiDict, percent_decode};

/// Most parts one body may have: each costs a little memory, so a body of empty parts
/// must not be able to cost a lot.
const MAX_PARTS: usize = 1000;
/// Most header fields in one part.
const MAX_PART_HEADERS: usize = 32;

/// An uploaded file (Werkzeug's `FileStorage`), borrowing the request body.
///
/// ```
/// use carafe::{App, Request};
///
/// let mut app = App::new();
/// app.post("/upload", |req: &Request| {
///     let file = req.file("doc")?.ok_or(carafe::abort(400))?;
///     Ok::<_, carafe::HttpError>(format!("{} ({} bytes)", file.filename(), file.data().len()))
/// });
/// let body = "--b\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"a.txt\"\r\n\
///             Content-Type: text/plain\r\n\r\nhello\r\n--b--\r\n";
/// let resp = app.test_client().post("/upload")
///     .header("Content-Type", "multipart/form-data; boundary=b")
///     .body(body)
///     .send();
/// assert_eq!(resp.text(), "a.txt (5 bytes)");
/// ```
#[derive(Debug, Clone)]
pub struct FileStorage<'a> {
    name: String,
    filename: String,
    content_type: &'a str,
    headers: Vec<(&'a str, &'a str)>,
    data: &'a [u8],
}

impl<'a> FileStorage<'a> {
    /// The form field's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file name the client sent, as sent: never use it as a path without
    /// [`secure_filename`].
    pub fn filename(&self) -> &str {
        &self.filename
    }

    /// The part's `Content-Type` (`application/octet-stream` when absent).
    pub fn content_type(&self) -> &'a str {
        self.content_type
    }

    /// A header of the part, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// The file's contents.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// Writes the contents to `path`.
    pub fn save(&self, path: impl AsRef<Path>) -> io::Result<()> {
        std::fs::write(path, self.data)
    }
}

/// The files of a multipart body, by field name, in order.
#[derive(Debug, Clone, Default)]
pub struct Files<'a> {
    items: Vec<FileStorage<'a>>,
}

impl<'a> Files<'a> {
    pub(crate) const EMPTY: Files<'static> = Files { items: Vec::new() };

    /// The first file sent under `name`.
    pub fn get(&self, name: &str) -> Option<&FileStorage<'a>> {
        self.items.iter().find(|f| f.name == name)
    }

    /// Every file sent under `name` (an `<input type=file multiple>`).
    pub fn get_all<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s FileStorage<'a>> + 's {
        self.items.iter().filter(move |f| f.name == name)
    }

    /// Every file, in order.
    pub fn iter(&self) -> impl Iterator<Item = &FileStorage<'a>> {
        self.items.iter()
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// A parsed multipart body.
#[derive(Debug, Default)]
pub(crate) struct Multipart<'a> {
    pub(crate) fields: MultiDict,
    pub(crate) files: Files<'a>,
}

/// The `boundary` parameter of a `multipart/form-data` content type.
pub(crate) fn boundary(content_type: &str) -> Result<&str, &'static str> {
    let value = parameters(content_type)
        .find(|(name, _)| name.eq_ignore_ascii_case("boundary"))
        .map(|(_, value)| value)
        .ok_or("The multipart body has no boundary.")?;
    // RFC 2046 §5.1.1: 1 to 70 characters from a restricted set, not ending in a space.
    let valid = (1..=70).contains(&value.len())
        && !value.ends_with(' ')
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&b));
    match value {
        Cow::Borrowed(value) if valid => Ok(value),
        _ => Err("The multipart boundary is not valid."),
    }
}

/// The `; name=value` parameters after the first item of a header value; quoted values
/// are unquoted (RFC 9110 §5.6.4).
fn parameters(value: &str) -> impl Iterator<Item = (&str, Cow<'_, str>)> {
    let mut rest = value.split_once(';').map_or("", |(_, rest)| rest);
    std::iter::from_fn(move || {
        loop {
            rest = rest.trim_start_matches([' ', '\t', ';']);
            if rest.is_empty() {
                return None;
            }
            let eq = rest.find(['=', ';']);
            let Some(eq) = eq.filter(|&i| rest.as_bytes()[i] == b'=') else {
                // A parameter without a value: skip it.
                rest = rest.find(';').map_or("", |i| &rest[i..]);
                continue;
            };
            let name = rest[..eq].trim();
            let after = rest[eq + 1..].trim_start();
            let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
                unquote(quoted)
            } else {
                let end = after.find(';').unwrap_or(after.len());
                (Cow::Borrowed(after[..end].trim_end()), &after[end..])
            };
            rest = remaining;
            return Some((name, value));
        }
    })
}

/// The contents of a quoted-string (after its opening quote) and what follows it.
fn unquote(text: &str) -> (Cow<'_, str>, &str) {
    let mut out: Option<String> = None;
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => {
                let value = out.map_or(Cow::Borrowed(&text[..i]), Cow::Owned);
                return (value, &text[i + 1..]);
            }
            '\\' => {
                let owned = out.get_or_insert_with(|| text[..i].to_owned());
                if let Some((_, escaped)) = chars.next() {
                    owned.push(escaped);
                }
            }
            c => {
                if let Some(owned) = &mut out {
                    owned.push(c);
                }
            }
        }
    }
    // Unterminated: take the rest.
    (out.map_or(Cow::Borrowed(text), Cow::Owned), "")
}

/// Parses `body` delimited by `boundary`.
pub(crate) fn parse<'a>(body: &'a [u8], boundary: &str) -> Result<Multipart<'a>, &'static str> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    // The first delimiter may open the body or follow a preamble and a line break.
    let mut pos = if body.starts_with(delimiter) {
        delimiter.len()
    } else {
        find_delimiter(body, 0, delimiter)
            .ok_or("The multipart body has no opening boundary.")?
            .1
    };
    let mut result = Multipart::default();
    let mut parts = 0;
    loop {
        let rest = &body[pos..];
        if rest.starts_with(b"--") {
            return Ok(result); // the close delimiter; an epilogue may follow
        }
        // Transport padding, then the line break that ends the delimiter line.
        let padding = rest
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        let rest = &rest[padding..];
        let line_end = match rest {
            [b'\r', b'\n', ..] => 2,
            [b'\n', ..] => 1,
            _ => return Err("A multipart boundary line is malformed."),
        };
        pos += padding + line_end;
        parts += 1;
        if parts > MAX_PARTS {
            return Err("The multipart body has too many parts.");
        }
        let (headers_len, headers) = part_headers(&body[pos..])?;
        let content_start = pos + headers_len;
        let (content_end, next) = find_delimiter(body, content_start, delimiter)
            .ok_or("The multipart body ends without its closing boundary.")?;
        add_part(&mut result, &headers, &body[content_start..content_end])?;
        pos = next;
    }
}

/// A part's header fields as (name, value).
type PartHeaders<'a> = Vec<(&'a str, &'a str)>;

/// The header block of a part: its length and its fields.
fn part_headers(bytes: &[u8]) -> Result<(usize, PartHeaders<'_>), &'static str> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_PART_HEADERS];
    match httparse::parse_headers(bytes, &mut slots) {
        Ok(httparse::Status::Complete((len, headers))) => {
            let mut pairs = Vec::with_capacity(headers.len());
            for h in headers {
                let value = std::str::from_utf8(h.value)
                    .map_err(|_| "A multipart part header is not valid UTF-8.")?;
                pairs.push((h.name, value));
            }
            Ok((len, pairs))
        }
        Ok(httparse::Status::Partial) => Err("The multipart body ends inside a part's headers."),
        Err(httparse::Error::TooManyHeaders) => Err("A multipart part has too many headers."),
        Err(_) => Err("A multipart part's headers are malformed."),
    }
}

/// Finds `CRLF--boundary` (or a bare LF before it) at or after `from`; returns where the
/// content before it ends and where the bytes after the delimiter begin.
fn find_delimiter(body: &[u8], from: usize, delimiter: &[u8]) -> Option<(usize, usize)> {
    let mut i = from;
    while i < body.len() {
        let lf = i + body[i..].iter().position(|&b| b == b'\n')?;
        if body[lf + 1..].starts_with(delimiter) {
            let end = if lf > from && body[lf - 1] == b'\r' {
                lf - 1
            } else {
                lf
            };
            return Some((end.max(from), lf + 1 + delimiter.len()));
        }
        i = lf + 1;
    }
    None
}

fn add_part<'a>(
    result: &mut Multipart<'a>,
    headers: &[(&'a str, &'a str)],
    data: &'a [u8],
) -> Result<(), &'static str> {
    let disposition = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-disposition"))
        .map(|(_, v)| *v)
        .ok_or("A multipart part has no Content-Disposition.")?;
    let kind = disposition.split(';').next().unwrap_or("").trim();
    if !kind.eq_ignore_ascii_case("form-data") {
        return Err("A multipart part is not form-data.");
    }
    let mut name = None;
    let mut filename = None;
    let mut filename_ext = None;
    for (key, value) in parameters(disposition) {
        if key.eq_ignore_ascii_case("name") {
            name = Some(value);
        } else if key.eq_ignore_ascii_case("filename") {
            filename = Some(value);
        } else if key.eq_ignore_ascii_case("filename*") {
            filename_ext = decode_ext_value(&value);
        }
    }
    let name = name.ok_or("A multipart part has no name.")?.into_owned();
    let content_type = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| *v);
    match filename_ext.or(filename.map(Cow::into_owned)) {
        Some(filename) => result.files.items.push(FileStorage {
            name,
            filename,
            content_type: content_type.unwrap_or("application/octet-stream"),
            headers: headers.to_vec(),
            data,
        }),
        None => {
            // Browsers send UTF-8 (the page's charset); replace what is not.
            result
                .fields
                .append(name, String::from_utf8_lossy(data).into_owned());
        }
    }
    Ok(())
}

/// RFC 8187 `ext-value`: `UTF-8''percent%20encoded`.
fn decode_ext_value(value: &str) -> Option<String> {
    let mut parts = value.splitn(3, '\'');
    let charset = parts.next()?;
    let _language = parts.next()?;
    let encoded = parts.next()?;
    if !charset.eq_ignore_ascii_case("utf-8") {
        return None;
    }
    percent_decode(encoded).map(Cow::into_owned)
}

/// A file name safe to use as a path component (Werkzeug's `secure_filename`): only
/// ASCII letters, digits, `.`, `_` and `-`; no directories, no leading dots.
///
/// ```
/// use carafe::secure_filename;
/// assert_eq!(secure_filename("My cool movie.mov"), "My_cool_movie.mov");
/// assert_eq!(secure_filename("../../../etc/passwd"), "etc_passwd");
/// assert_eq!(secure_filename("i contain cool \u{fc}ml\u{e4}uts.txt"), "i_contain_cool_umlauts.txt");
/// ```
pub fn secure_filename(filename: &str) -> String {
    // Transliterate what is easy, drop the rest of non-ASCII.
    let ascii: String = filename
        .chars()
        .filter_map(|c| match c {
            'ä' | 'à' | 'á' | 'â' | 'ã' | 'å' => Some('a'),
            'ö' | 'ò' | 'ó' | 'ô' | 'õ' => Some('o'),
            'ü' | 'ù' | 'ú' | 'û' => Some('u'),
            'é' | 'è' | 'ê' | 'ë' => Some('e'),
            'ï' | 'ì' | 'í' | 'î' => Some('i'),
            'ç' => Some('c'),
            'ñ' => Some('n'),
            'ß' => Some('s'),
            c if c.is_ascii() => Some(c),
            _ => None,
        })
        .collect();
    let joined = ascii
        .split(['/', '\\'])
        .flat_map(|part| part.split_whitespace())
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("_");
    let cleaned: String = joined
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .collect();
    cleaned.trim_matches(['.', '_']).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok<'a>(body: &'a [u8], boundary: &str) -> Multipart<'a> {
        parse(body, boundary).unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(body)))
    }

    #[test]
    fn boundaries() {
        assert_eq!(boundary("multipart/form-data; boundary=abc"), Ok("abc"));
        assert_eq!(
            boundary("multipart/form-data; charset=utf-8; boundary=\"a b:c\""),
            Ok("a b:c")
        );
        assert_eq!(
            boundary("multipart/form-data;boundary=----WebKitFormBoundaryx7"),
            Ok("----WebKitFormBoundaryx7")
        );
        assert!(boundary("multipart/form-data").is_err());
        assert!(boundary("multipart/form-data; boundary=").is_err());
        assert!(boundary(&format!("multipart/form-data; boundary={}", "a".repeat(71))).is_err());
        assert!(boundary("multipart/form-data; boundary=\"a\\\"b\"").is_err());
    }

    /// What `curl -F name=value -F 'file=@a b.txt;type=text/plain'` sends (captured).
    const CURL: &[u8] = b"--------------------------d74496d66958873e\r\n\
Content-Disposition: form-data; name=\"name\"\r\n\
\r\n\
value\r\n\
--------------------------d74496d66958873e\r\n\
Content-Disposition: form-data; name=\"file\"; filename=\"a b.txt\"\r\n\
Content-Type: text/plain\r\n\
\r\n\
line one\r\nline two\n\r\n\
--------------------------d74496d66958873e--\r\n";

    #[test]
    fn curl_payload() {
        let form = parse_ok(CURL, "------------------------d74496d66958873e");
        assert_eq!(form.fields.get("name"), Some("value"));
        let file = form.files.get("file").unwrap();
        assert_eq!(file.filename(), "a b.txt");
        assert_eq!(file.content_type(), "text/plain");
        assert_eq!(file.data(), b"line one\r\nline two\n");
    }

    /// A Chromium form with a text field, an empty file input and a binary file.
    const CHROMIUM: &[u8] = b"------WebKitFormBoundaryeLKCTsn0QJ0SiZ5K\r\n\
Content-Disposition: form-data; name=\"title\"\r\n\
\r\n\
caf\xc3\xa9 \"quoted\"\r\n\
------WebKitFormBoundaryeLKCTsn0QJ0SiZ5K\r\n\
Content-Disposition: form-data; name=\"empty\"; filename=\"\"\r\n\
Content-Type: application/octet-stream\r\n\
\r\n\
\r\n\
------WebKitFormBoundaryeLKCTsn0QJ0SiZ5K\r\n\
Content-Disposition: form-data; name=\"photo\"; filename=\"p%22x.png\"\r\n\
Content-Type: image/png\r\n\
\r\n\
\x89PNG\r\n\x1a\n\x00\x00\r\n--not-a-boundary\r\n\
------WebKitFormBoundaryeLKCTsn0QJ0SiZ5K--\r\n";

    #[test]
    fn chromium_payload() {
        let form = parse_ok(CHROMIUM, "----WebKitFormBoundaryeLKCTsn0QJ0SiZ5K");
        assert_eq!(form.fields.get("title"), Some("café \"quoted\""));
        let empty = form.files.get("empty").unwrap();
        assert_eq!((empty.filename(), empty.data()), ("", &b""[..]));
        let photo = form.files.get("photo").unwrap();
        assert_eq!(photo.filename(), "p%22x.png");
        assert_eq!(
            photo.data(),
            b"\x89PNG\r\n\x1a\n\x00\x00\r\n--not-a-boundary"
        );
        assert_eq!(photo.header("content-type"), Some("image/png"));
        assert_eq!(form.files.len(), 2);
    }

    #[test]
    fn preamble_epilogue_padding_and_ext_filenames() {
        let body = b"preamble\r\n--b \t\r\nContent-Disposition: form-data; name=\"f\"; \
filename*=UTF-8''na%C3%AFve.txt\r\n\r\nx\r\n--b--\r\nepilogue";
        let form = parse_ok(body, "b");
        assert_eq!(form.files.get("f").unwrap().filename(), "naïve.txt");
        let repeated = b"--b\r\nContent-Disposition: form-data; name=\"t\"\r\n\r\n1\r\n\
--b\r\nContent-Disposition: form-data; name=\"t\"\r\n\r\n2\r\n--b--";
        let form = parse_ok(repeated, "b");
        assert_eq!(form.fields.get_all("t").collect::<Vec<_>>(), ["1", "2"]);
    }

    #[test]
    fn malformed_bodies_are_errors() {
        let cases: &[&[u8]] = &[
            b"",
            b"no boundary here",
            b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated",
            b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n",
            b"--b\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nx\r\n--b--",
            b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--",
            b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--",
            b"--bX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--b--",
            b"--b\r\nBad Header\r\n\r\nx\r\n--b--",
        ];
        for case in cases {
            assert!(
                parse(case, "b").is_err(),
                "{:?}",
                String::from_utf8_lossy(case)
            );
        }
    }

    #[test]
    fn too_many_parts() {
        let part = "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n\r\n";
        let body = format!("{}--b--", part.repeat(MAX_PARTS + 1));
        assert_eq!(
            parse(body.as_bytes(), "b").unwrap_err(),
            "The multipart body has too many parts."
        );
        let body = format!("{}--b--", part.repeat(MAX_PARTS));
        assert_eq!(parse(body.as_bytes(), "b").unwrap().fields.len(), MAX_PARTS);
    }

    #[test]
    fn mutated_bodies_never_panic() {
        // A cheap deterministic fuzz: flip, drop and duplicate bytes of real payloads.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for base in [CURL, CHROMIUM] {
            for _ in 0..3000 {
                let mut body = base.to_vec();
                for _ in 0..(next() % 4 + 1) {
                    let at = (next() as usize) % body.len();
                    match next() % 3 {
                        0 => body[at] = next() as u8,
                        1 => {
                            body.remove(at);
                        }
                        _ => body.insert(at, body[at]),
                    }
                }
                let _ = parse(&body, "------------------------d74496d66958873e");
                let _ = parse(&body, "----WebKitFormBoundaryeLKCTsn0QJ0SiZ5K");
            }
        }
    }

    #[test]
    fn secure_filenames() {
        assert_eq!(secure_filename("../../etc/passwd"), "etc_passwd");
        assert_eq!(
            secure_filename("..\\..\\windows\\win.ini"),
            "windows_win.ini"
        );
        assert_eq!(secure_filename(".bashrc"), "bashrc");
        assert_eq!(secure_filename("__init__.py"), "init__.py");
        assert_eq!(secure_filename("a\u{0}b.txt"), "ab.txt");
        assert_eq!(secure_filename("..."), "");
    }
}
