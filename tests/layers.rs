//! The source tree's layers import only downward: `http` (the protocol, sans-IO) below
//! `server` (the loop and its IO) below `web` (the framework). A lower layer that names
//! a higher one fails here, with the file and line.

use std::fs;
use std::path::Path;

/// Every `crate::…` path in the `.rs` files under `dir` whose first segment is not in
/// `allowed`, as "file:line: text".
fn upward_paths(dir: &Path, allowed: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    for file in files {
        if file.is_dir() {
            found.extend(upward_paths(&file, allowed));
            continue;
        }
        let text = fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let mut rest = code;
            while let Some(at) = rest.find("crate::") {
                let after = &rest[at + "crate::".len()..];
                let segment: String = after
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '{')
                    .collect();
                if !allowed.contains(&segment.as_str()) {
                    found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
                rest = after;
            }
            if code.contains("super::super") {
                found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn http_names_nothing_above_it() {
    let found = upward_paths(Path::new("src/http"), &["http", "config"]);
    assert!(
        found.is_empty(),
        "http imports from above:\n{}",
        found.join("\n")
    );
}

#[test]
fn server_never_names_the_framework() {
    let found = upward_paths(Path::new("src/server"), &["http", "server", "config"]);
    assert!(
        found.is_empty(),
        "server imports from above:\n{}",
        found.join("\n")
    );
}

/// Every `.rs` file under `dir`, in its subdirectories too.
fn sources(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(sources(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn http_does_no_io() {
    let files = sources(Path::new("src/http"));
    assert!(files.iter().any(|f| f.ends_with("ws/protocol.rs")));
    for path in files {
        let text = fs::read_to_string(&path).unwrap();
        // Unit tests and doc examples may use threads to play the other side.
        let code: String = text
            .split("#[cfg(test)]\nmod tests")
            .next()
            .unwrap()
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect();
        for word in ["mio::", "std::net::TcpStream", "std::thread"] {
            assert!(!code.contains(word), "{} uses {word}", path.display());
        }
    }
}

#[test]
fn the_check_sees_an_upward_import() {
    let dir = std::env::temp_dir().join(format!("carafe-layers-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("a.rs"),
        "use crate::http::parse;\nuse crate::web::app::App;\n",
    )
    .unwrap();
    let found = upward_paths(&dir, &["http"]);
    fs::remove_dir_all(&dir).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].ends_with(":2: use crate::web::app::App;"),
        "{found:?}"
    );
}
