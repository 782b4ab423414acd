//! Every Rust excerpt in the README's "Instrument your service" section names its example on its
//! first line (`// examples/<name>.rs`) and is copied from that file: its lines, indentation
//! aside, appear in the file in the same order and next to each other; a `// …` line stands for
//! lines left out. Editing an example without its excerpt (or the other way round) fails here.

const SECTION: &str = "## Instrument your service";

/// The pieces of `excerpt` between `// …` lines, each as trimmed lines.
fn pieces(excerpt: &[&str]) -> Vec<Vec<String>> {
    excerpt
        .split(|l| l.trim() == "// …")
        .map(|p| p.iter().map(|l| l.trim().to_string()).collect::<Vec<_>>())
        .filter(|p: &Vec<String>| !p.is_empty())
        .collect()
}

/// Whether `pieces` appear in `file`'s trimmed lines, each one contiguous, in order.
fn copied(file: &str, pieces: &[Vec<String>]) -> Result<(), String> {
    let lines: Vec<&str> = file.lines().map(str::trim).collect();
    let mut from = 0;
    for piece in pieces {
        let at = (from..lines.len().saturating_sub(piece.len() - 1))
            .find(|&i| piece.iter().zip(&lines[i..]).all(|(a, b)| a == b));
        match at {
            Some(i) => from = i + piece.len(),
            None => return Err(piece.join("\n")),
        }
    }
    Ok(())
}

#[test]
fn readme_excerpts_are_copied_from_the_examples() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let start = readme.find(SECTION).expect("the README has the section");
    let rest = &readme[start + SECTION.len()..];
    let section = &rest[..rest.find("\n## ").unwrap_or(rest.len())];

    let mut checked = Vec::new();
    for block in section.split("```rust\n").skip(1) {
        let block = &block[..block.find("```").expect("a closed code block")];
        let lines: Vec<&str> = block.lines().collect();
        let name = lines[0]
            .strip_prefix("// examples/")
            .and_then(|n| n.strip_suffix(".rs"))
            .unwrap_or_else(|| panic!("an excerpt without its file: {:?}", lines[0]));
        let path = format!("{root}/crates/watchpost/examples/{name}.rs");
        let file = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        if let Err(missing) = copied(&file, &pieces(&lines[1..])) {
            panic!("README excerpt not in examples/{name}.rs as it is there:\n{missing}");
        }
        checked.push(name);
    }
    for example in ["axum_service", "worker", "log_crate"] {
        assert!(
            checked.contains(&example),
            "no excerpt of {example}: {checked:?}"
        );
    }

    // The check itself: an edited line, or pieces out of order, are caught.
    let file = "a\n    b\nc\nd\n";
    assert!(copied(file, &pieces(&["a", "b", "// …", "d"])).is_ok());
    assert!(copied(file, &pieces(&["a", "c"])).is_err());
    assert!(copied(file, &pieces(&["d", "// …", "a"])).is_err());
}
