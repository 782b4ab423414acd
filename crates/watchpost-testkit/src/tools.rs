//! External tools a test may need (`promtool`, `prometheus`), and temporary directories.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// The path of an external tool, or `None` with a printed notice (tests then skip). Under
/// `CI=true` a missing tool fails the test instead.
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        let package = match name {
            "amtool" | "alertmanager" => "prometheus-alertmanager",
            _ => "prometheus",
        };
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{name} is required under CI=true but is not installed (apt-get install -y {package})");
        }
        eprintln!(
            "SKIPPED: {name} is not installed (apt-get install -y {package}); skipping this test"
        );
    }
    found
}

/// Runs `promtool check metrics` on an exposition; `None` (with a notice) when promtool is
/// missing outside CI. Returns whether it exited 0, and its combined report.
pub fn promtool_check(text: &str) -> Option<(bool, String)> {
    let promtool = tool("promtool")?;
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some((out.status.success(), report))
}

/// Runs the external tool `name` with `args` in `dir`; `None` (with a notice) when it is
/// missing outside CI. Returns whether it exited 0, and its standard output and error.
pub fn run_tool(name: &str, args: &[&str], dir: &std::path::Path) -> Option<(bool, String)> {
    let path = tool(name)?;
    let out = Command::new(path)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some((out.status.success(), report))
}

/// Runs `amtool check-config` on an Alertmanager configuration; `None` (with a notice) when
/// amtool is missing outside CI. Returns whether it exited 0, and its report.
pub fn amtool_check_config(yaml: &str) -> Option<(bool, String)> {
    let dir = TempDir::new("amtool");
    let file = dir.0.join("alertmanager.yml");
    std::fs::write(&file, yaml).unwrap();
    run_tool("amtool", &["check-config", file.to_str().unwrap()], &dir.0)
}

/// Asserts that `promtool check metrics` finds nothing in `text` (skips, with a notice, when
/// promtool is missing outside CI).
pub fn assert_promtool_clean(text: &str) {
    let Some((ok, report)) = promtool_check(text) else {
        return;
    };
    assert!(ok, "promtool failed: {report}\n---\n{text}");
    assert!(
        report.trim().is_empty(),
        "promtool reported problems: {report}\n---\n{text}"
    );
}

/// Keeps a generated section of a Markdown file (between `<!-- catalogue:{section} -->` markers)
/// equal to `table`: rewrites the file when `UPDATE_README` is set, else asserts they match.
pub fn assert_markdown_section(path: &str, section: &str, table: &str) {
    let doc = std::fs::read_to_string(path).unwrap();
    // Strings only: no type of the library crosses into the caller's build of it.
    let generated = watchpost::catalogue::fill_markdown_section(&doc, section, table)
        .unwrap_or_else(|| panic!("{path} lacks the catalogue:{section} markers"));
    if std::env::var_os("UPDATE_README").is_some() {
        std::fs::write(path, &generated).unwrap();
    } else {
        assert!(
            doc == generated,
            "{path}: the {section} table differs from the catalogue; run UPDATE_README=1 cargo test --workspace readme"
        );
    }
}

/// A fresh, empty directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// Creates `watchpost-<tag>-<pid>-<n>` (emptied first if an earlier run left it).
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("watchpost-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
