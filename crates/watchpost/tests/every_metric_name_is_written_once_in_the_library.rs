//! Every metric the library registers is named in exactly one place of its code: its catalogue
//! definition. Read from the source, outside comments and test modules: a string literal that
//! holds the name (as declared, without the service prefix) counts. (`info`, `<svc>_info` as
//! declared, is also a log level's name, so it cannot be told apart this way and is left out.)
use watchpost::catalogue;
use watchpost_testkit::source;

#[test]
fn every_metric_name_is_written_once_in_the_library() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = source::rust_files(&src);
    let sources: Vec<(String, String)> = files
        .iter()
        .map(|f| {
            let rel = f.strip_prefix(&src).unwrap().display().to_string();
            (rel, source::code(&std::fs::read_to_string(f).unwrap()))
        })
        .collect();
    let defs = catalogue::BUILTIN
        .iter()
        .chain(catalogue::RESOURCE_LOGS)
        .chain(catalogue::HTTP);
    let mut problems = Vec::new();
    for def in defs.filter(|d| d.name() != "info") {
        let literal = format!("\"{}\"", def.name());
        let places: Vec<&str> = sources
            .iter()
            .filter(|(_, code)| code.contains(&literal))
            .map(|(rel, _)| rel.as_str())
            .collect();
        let count: usize = sources
            .iter()
            .map(|(_, code)| code.matches(&literal).count())
            .sum();
        if count != 1 || places != ["catalogue/builtin.rs"] {
            problems.push(format!(
                "{} appears {count} times, in {places:?}",
                def.name()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
