//! `watchpost console --data DIR` refuses, exiting 2 with an error naming DIR and the fix: a DIR
//! that another running console uses (it holds `DIR/.lock`; the second would interleave its
//! segments and delete the first one's), and a DIR that other users may write (they could plant
//! segments that are replayed as telemetry). Once the first console stops, DIR is free again.

#[path = "support/console.rs"]
mod support;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use support::*;
use watchpost_testkit::tools::TempDir;

/// Runs a console on `data` that should not start: (exit code, stderr).
fn refused(data: &Path) -> (Option<i32>, String) {
    let out = console_command(&["--data", data.to_str().unwrap()])
        .output()
        .expect("run watchpost console");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn console_refuses_a_data_dir_another_console_uses_or_other_users_can_write() {
    let dir = TempDir::new("console-data-lock");
    let data = dir.0.join("data");
    let first = start(&["--data", data.to_str().unwrap()]);
    let (code, stderr) = refused(&data);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(data.to_str().unwrap()) && stderr.contains("another watchpost console"),
        "{stderr}"
    );
    assert_eq!(
        first.json("/api/stats")["data"]["enabled"],
        true,
        "the first one runs on"
    );
    drop(first);
    // Stopped: the directory is free again.
    let again = start(&["--data", data.to_str().unwrap()]);
    drop(again);

    let open = dir.0.join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (code, stderr) = refused(&open);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(open.to_str().unwrap()) && stderr.contains("chmod 700"),
        "{stderr}"
    );
    assert!(
        std::fs::read_dir(&open).unwrap().next().is_none(),
        "nothing was written to the refused directory"
    );
}
