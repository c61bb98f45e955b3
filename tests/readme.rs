//! The README's Socket.IO example needs the `socketio` feature, so the README's doctests
//! (compiled with the default features) skip it; it is compiled instead as the `socketio`
//! module's doctest (`cargo test --features socketio --doc`). This keeps the two the same.

/// The lines of the first code block after `after` in `text`, fence lines excluded.
fn block_after<'t>(text: &'t str, after: &str) -> Vec<&'t str> {
    let from = text
        .find(after)
        .unwrap_or_else(|| panic!("{after:?} not found"));
    text[from..]
        .lines()
        .skip_while(|line| !line.trim_start_matches("/// ").starts_with("```"))
        .skip(1)
        .take_while(|line| !line.trim_start_matches("/// ").starts_with("```"))
        .collect()
}

#[test]
fn the_readme_s_socket_io_example_is_the_module_doctest() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let lib = std::fs::read_to_string(format!("{root}/src/lib.rs")).unwrap();
    assert!(
        readme.contains("## Socket.IO\n\nWith the `socketio` feature"),
        "the README's Socket.IO section moved"
    );
    let in_readme = block_after(&readme, "## Socket.IO\n");
    let in_docs: Vec<&str> = block_after(&lib, "/// Socket.IO (v5, over Engine.IO v4)")
        .into_iter()
        .map(|line| {
            line.strip_prefix("/// ")
                .unwrap_or(line.trim_start_matches("///"))
        })
        // Lines a doctest hides are the doctest's own.
        .filter(|line| !line.starts_with("# "))
        .collect();
    assert!(in_readme.len() > 10, "{in_readme:?}");
    assert_eq!(in_readme, in_docs);
}
