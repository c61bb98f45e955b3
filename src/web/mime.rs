//! Content types by file extension, for static files.

use std::path::Path;

/// The content type for a file name, from its extension; text types carry
/// `charset=utf-8`. Unknown extensions are `application/octet-stream`.
///
/// ```
/// use carafe::mime_type;
/// assert_eq!(mime_type("style.CSS"), "text/css; charset=utf-8");
/// assert_eq!(mime_type("logo.png"), "image/png");
/// assert_eq!(mime_type("archive.bin"), "application/octet-stream");
/// ```
pub fn mime_type(name: impl AsRef<Path>) -> &'static str {
    let ext = name
        .as_ref()
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" | "map" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "md" => "text/markdown; charset=utf-8",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/vnd.microsoft.icon",
        "wasm" => "application/wasm",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "mp3" => "audio/mpeg",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "ogg" => "audio/ogg",
        _ => "application/octet-stream",
    }
}
