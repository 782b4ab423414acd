//! The crate's front page (the `//!` comment of `src/lib.rs`) links every public module, so a
//! reader of the docs finds each one from there.

#[test]
fn the_crate_docs_list_every_public_module() {
    let lib = include_str!("../src/lib.rs");
    let docs: String = lib
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .collect::<Vec<_>>()
        .join("\n");
    let modules: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|m| m.trim_end_matches(';').trim())
        .collect();
    assert!(modules.len() >= 8, "{modules:?}");
    for module in modules {
        assert!(
            docs.contains(&format!("* [`{module}`] — ")),
            "the crate docs do not list `{module}`"
        );
    }
}
