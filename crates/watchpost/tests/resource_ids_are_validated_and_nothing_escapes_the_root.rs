//! Ids reach the filesystem only after validation: traversal, absolute paths, NUL bytes, very
//! long ids and other invalid ids are rejected and counted, events for unregistered resources are
//! counted and never create files, and nothing ever appears outside the root.

use watchpost::logs::ResourceLogConfig;
use watchpost_testkit::tools::TempDir;

fn tree(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        out.push(p.display().to_string());
        if p.is_dir() {
            out.extend(tree(&p));
        }
    }
    out.sort();
    out
}

#[test]
fn resource_ids_are_validated_and_nothing_escapes_the_root() {
    let outer = TempDir::new("escape");
    let root = outer.0.join("root");
    let config = watchpost::Config::builder("svc")
        .resource_logs(ResourceLogConfig::new(&root).kind("instance", "instance_id"))
        .build()
        .unwrap();
    let (telemetry, dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    let logs = telemetry.resource_logs().unwrap();
    logs.register("instance", "good-1").unwrap();

    let long = "a".repeat(129);
    let hostile: Vec<&str> = vec![
        "../../etc/passwd",
        "..",
        ".",
        "../root2",
        "/etc/passwd",
        "a/b",
        "a\\b",
        "nul\0byte",
        "new\nline",
        "",
        " ",
        "-leading-dash",
        ".hidden",
        "a..b",
        &long,
        "ünïcode",
    ];
    for id in &hostile {
        let err = logs.register("instance", id).unwrap_err();
        assert!(err.to_string().contains("resource id"), "{id:?}: {err}");
    }
    tracing::dispatcher::with_default(&dispatch, || {
        for id in &hostile {
            tracing::info!(instance_id = *id, "hostile");
        }
        tracing::info!(instance_id = "never-registered", "stray");
        tracing::info!(instance_id = "good-1", "fine");
        // A non-UTF-8 id can only arrive through Debug formatting: it is escaped, then rejected.
        tracing::info!(instance_id = ?b"\xff\xfe".to_vec(), "bytes");
    });
    logs.flush();
    let stats = logs.stats();
    assert_eq!(
        stats.rejected_ids,
        2 * hostile.len() as u64 + 1,
        "{stats:?}"
    );
    assert_eq!(stats.unregistered, 1);
    assert_eq!(stats.lines, 1);

    let all = tree(&outer.0);
    let root_s = root.display().to_string();
    assert!(
        all.iter().all(|p| p.starts_with(&root_s)),
        "something escaped the root: {all:#?}"
    );
    assert_eq!(
        all,
        [
            root_s.clone(),
            format!("{root_s}/instance"),
            format!("{root_s}/instance/good-1"),
            format!("{root_s}/instance/good-1/svc.log"),
        ],
    );
    assert_eq!(logs.read("instance", "good-1", 10).unwrap().len(), 1);
    assert!(logs.read("instance", "never-registered", 10).is_err());
    assert!(logs.read("instance", "../../etc/passwd", 10).is_err());
}
