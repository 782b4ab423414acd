//! Reading a crate's own source, for tests that keep the code's shape honest (import layers,
//! names written once).

use std::path::{Path, PathBuf};

/// Every `.rs` file below `dir`, sorted.
pub fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The code of a source file without its `//` comments (doc links are not code) and without
/// its `#[cfg(test)] mod tests` (tests may reach anywhere).
pub fn code(text: &str) -> String {
    let text = text.split("\n#[cfg(test)]\nmod tests").next().unwrap_or("");
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn comments_and_the_test_module_are_not_code() {
        let text = "use a; // b\n/// c\nfn d() {}\n#[cfg(test)]\nmod tests { fn e() {} }\n";
        assert_eq!(super::code(text), "use a; \n\nfn d() {}");
    }
}
