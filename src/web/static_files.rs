//! Files from disk: `send_file`, `send_from_directory` and the app's static folder, with
//! validators (ETag, Last-Modified), conditional requests (RFC 9110 §13) and single byte
//! ranges (RFC 9110 §14). Bodies are read in pieces as the client takes them.
//!
//! Opening a file and reading its metadata happen on the event loop; with the page cache
//! warm that is quick, but a cold or network disk would stall the loop for that moment.

use std::fs::File;
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use crate::http::date::{format_http_date, parse_http_date};
use crate::http::parse::list_items;
use crate::http::response::Response;
use crate::http::status::StatusCode;
use crate::web::error::{HttpError, abort};
use crate::web::mime::mime_type;
use crate::web::request::Request;

/// Sends the file at `path` (Flask's `send_file`): content type from the extension,
/// `ETag` and `Last-Modified`, `304 Not Modified` for a matching conditional request,
/// `206` for a single byte range and `416` for one that cannot be satisfied.
///
/// A missing file (or a directory) is a 404. A relative path is relative to the app's
/// [root path](crate::App::root_path), as in Flask. The path is used as given otherwise:
/// to serve a name from a client, use [`send_from_directory`].
///
/// ```no_run
/// use carafe::{App, Request, send_file};
/// let mut app = App::new();
/// app.get("/report", |req: &Request| send_file(req, "reports/latest.pdf"));
/// ```
pub fn send_file(req: &Request<'_>, path: impl AsRef<Path>) -> Result<Response, HttpError> {
    let path = req.app().root().join(path.as_ref());
    let path = path.as_path();
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
            return Err(abort(StatusCode::NOT_FOUND));
        }
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {
            return Err(abort(StatusCode::FORBIDDEN));
        }
        Err(e) => return Err(e.into()),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(abort(StatusCode::NOT_FOUND));
    }
    let len = meta.len();
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .unwrap_or(Duration::ZERO);
    let etag = format!(
        "\"{:x}-{:x}-{:x}\"",
        modified.as_secs(),
        modified.subsec_nanos(),
        len
    );
    let last_modified = String::from_utf8_lossy(&format_http_date(modified.as_secs())).into_owned();

    let mut resp = Response::empty(StatusCode::OK);
    resp.set_header("ETag", etag.clone());
    resp.set_header("Last-Modified", last_modified);
    resp.set_header("Accept-Ranges", "bytes");
    resp.set_header(
        "Cache-Control",
        match req.app().config().send_file_max_age {
            Some(age) => format!("public, max-age={}", age.as_secs()),
            None => "no-cache".to_owned(),
        },
    );
    if not_modified(req, &etag, modified.as_secs()) {
        resp.set_status(StatusCode::NOT_MODIFIED);
        return Ok(resp);
    }
    resp.set_header("Content-Type", mime_type(path));
    let range = if req.method().as_str() == "GET" && if_range_holds(req, &etag, modified.as_secs())
    {
        req.header("Range").map(|value| parse_range(value, len))
    } else {
        None
    };
    let (start, count) = match range {
        Some(RangeRequest::Satisfiable { start, end }) => {
            resp.set_status(StatusCode::PARTIAL_CONTENT);
            resp.set_header("Content-Range", format!("bytes {start}-{end}/{len}"));
            (start, end - start + 1)
        }
        Some(RangeRequest::Unsatisfiable) => {
            resp.set_status(StatusCode::RANGE_NOT_SATISFIABLE);
            resp.set_header("Content-Range", format!("bytes */{len}"));
            return Ok(resp);
        }
        Some(RangeRequest::Ignored) | None => (0, len),
    };
    let mut file = file;
    if start > 0 {
        file.seek(SeekFrom::Start(start))?;
    }
    let body = Response::from_reader(file.take(count), count);
    resp.body = body.body;
    Ok(resp)
}

/// Sends `filename` from inside `directory` (Flask's `send_from_directory`; a relative
/// directory is relative to the app's [root path](crate::App::root_path)): a name that
/// would leave the directory (`..`, an absolute path, a backslash, a NUL, or a symbolic
/// link pointing outside) is a 404, as is a missing file.
///
/// ```no_run
/// use carafe::{App, Request, send_from_directory};
/// let mut app = App::new();
/// app.get("/downloads/<path:name>", |req: &Request| {
///     send_from_directory(req, "downloads", req.param_str("name").unwrap_or(""))
/// });
/// ```
pub fn send_from_directory(
    req: &Request<'_>,
    directory: impl AsRef<Path>,
    filename: &str,
) -> Result<Response, HttpError> {
    let path = safe_join(&req.app().root().join(directory), filename)
        .ok_or_else(|| abort(StatusCode::NOT_FOUND))?;
    send_file(req, path)
}

/// `directory/filename`, or `None` if `filename` could name anything outside it.
pub(crate) fn safe_join(directory: &Path, filename: &str) -> Option<PathBuf> {
    if filename.is_empty() || filename.contains(['\0', '\\']) {
        return None;
    }
    let relative = Path::new(filename);
    // Only plain names: no root, no `..`, no `.` games, no Windows prefixes.
    if !relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
    {
        return None;
    }
    let joined = directory.join(relative);
    // Symbolic links are resolved: the real file must still be inside the real directory.
    let real_dir = directory.canonicalize().ok()?;
    let real = joined.canonicalize().ok()?;
    real.starts_with(&real_dir).then_some(real)
}

/// Whether a conditional GET or HEAD can be answered `304` (RFC 9110 §13.2.2: when
/// `If-None-Match` is present, `If-Modified-Since` is ignored).
fn not_modified(req: &Request<'_>, etag: &str, modified: u64) -> bool {
    let method = req.method().as_str();
    if method != "GET" && method != "HEAD" {
        return false;
    }
    let mut tags = req.header_all("If-None-Match").peekable();
    if tags.peek().is_some() {
        return tags
            .flat_map(|v| list_items(v.as_bytes()))
            .any(|tag| tag == b"*" || weak_match(tag, etag.as_bytes()));
    }
    match req.header("If-Modified-Since").and_then(parse_http_date) {
        Some(since) => modified <= since,
        None => false,
    }
}

/// Weak comparison: equal opaque tags, whether or not either is marked `W/`.
fn weak_match(a: &[u8], b: &[u8]) -> bool {
    let strip = |t: &[u8]| -> Vec<u8> { t.strip_prefix(b"W/").unwrap_or(t).to_vec() };
    strip(a) == strip(b)
}

/// `If-Range` (RFC 9110 §13.1.5): the range applies only if the validator still matches,
/// compared strongly; otherwise the whole file is sent.
fn if_range_holds(req: &Request<'_>, etag: &str, modified: u64) -> bool {
    match req.header("If-Range").map(str::trim) {
        None => true,
        Some(value) if value.starts_with('"') => value == etag,
        Some(value) if value.starts_with("W/") => false,
        Some(value) => parse_http_date(value) == Some(modified),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum RangeRequest {
    /// Bytes `start..=end`.
    Satisfiable { start: u64, end: u64 },
    /// A range that selects nothing in the file: 416.
    Unsatisfiable,
    /// Syntax we may ignore (RFC 9110 §14.2): other units, several ranges, garbage.
    Ignored,
}

/// One `bytes=` range against a file of `len` bytes.
fn parse_range(value: &str, len: u64) -> RangeRequest {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeRequest::Ignored;
    };
    if spec.contains(',') {
        // Several ranges would need multipart/byteranges; a full 200 is allowed instead.
        return RangeRequest::Ignored;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Ignored;
    };
    let number = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
    };
    match (first.trim(), last.trim()) {
        ("", suffix) => match number(suffix) {
            Some(0) => RangeRequest::Unsatisfiable,
            Some(_) if len == 0 => RangeRequest::Unsatisfiable,
            Some(n) => RangeRequest::Satisfiable {
                start: len.saturating_sub(n),
                end: len - 1,
            },
            None => RangeRequest::Ignored,
        },
        (first, last) => {
            let Some(start) = number(first) else {
                return RangeRequest::Ignored;
            };
            let end = match last {
                "" => None,
                last => match number(last) {
                    Some(end) if end >= start => Some(end),
                    _ => return RangeRequest::Ignored,
                },
            };
            if start >= len {
                return RangeRequest::Unsatisfiable;
            }
            RangeRequest::Satisfiable {
                start,
                end: end.map_or(len - 1, |end| end.min(len - 1)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        use RangeRequest::*;
        assert_eq!(
            parse_range("bytes=0-9", 100),
            Satisfiable { start: 0, end: 9 }
        );
        assert_eq!(
            parse_range("bytes=90-", 100),
            Satisfiable { start: 90, end: 99 }
        );
        assert_eq!(
            parse_range("bytes=90-200", 100),
            Satisfiable { start: 90, end: 99 }
        );
        assert_eq!(
            parse_range("bytes=-10", 100),
            Satisfiable { start: 90, end: 99 }
        );
        assert_eq!(
            parse_range("bytes=-1000", 100),
            Satisfiable { start: 0, end: 99 }
        );
        assert_eq!(parse_range("bytes=100-", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-", 0), Unsatisfiable);
        assert_eq!(parse_range("bytes=5-1", 100), Ignored);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Ignored);
        assert_eq!(parse_range("items=0-1", 100), Ignored);
        assert_eq!(parse_range("bytes=x-1", 100), Ignored);
        assert_eq!(parse_range("bytes=+1-2", 100), Ignored);
    }

    #[test]
    fn joins_only_inside_the_directory() {
        let dir = std::env::temp_dir().join(format!("carafe-join-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub/a.txt"), "a").unwrap();
        assert!(safe_join(&dir, "sub/a.txt").is_some());
        for bad in [
            "../x",
            "sub/../../x",
            "/etc/passwd",
            "sub\\a.txt",
            "a\0b",
            "",
            "./sub/a.txt",
            "sub/missing",
        ] {
            assert_eq!(safe_join(&dir, bad), None, "{bad:?}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
