//! The locked door: with `PROCMAN_TOKEN` set, every route of both listeners answers 401 JSON
//! without the token or with a wrong one, and works with it — but the probes; procman refuses to
//! listen beyond loopback without a token, naming the variable; its data directories are 0700
//! and its log files 0600 even under umask 000.
//!
//! The probes `/healthz` and `/readyz` are open on purpose: a kubelet's or a load balancer's
//! probe carries no credentials, and behind the lock it would read "not ready" for good. Open,
//! they reveal only what their status code says (live; ready or not): without the token
//! `/readyz`'s body is the status alone, and its details (listener names, the exporter's error,
//! which can name the collector or a file, lost-line counts) need the token.
mod support;

use std::os::unix::fs::PermissionsExt as _;

use watchpost_testkit::process;

const TOKEN: &str = "correct-horse-battery-staple";

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn files_under(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        out.push(e.path());
        if e.path().is_dir() {
            files_under(&e.path(), out);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_door_is_locked() {
    // Beyond loopback without a token: refused at start, naming the variable.
    let out = process::command(env!("CARGO_BIN_EXE_procman"))
        .args(["--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("PROCMAN_TOKEN") && stderr.contains("LISTEN_ADDR"),
        "{stderr}"
    );

    // SAFETY: umask only changes this test process's file-creation mask (one test per binary);
    // procman inherits it.
    unsafe { libc::umask(0) };
    let pm = support::Procman::spawn(&[("PROCMAN_TOKEN", TOKEN)]);
    let c = reqwest::Client::new();
    let api = |path: &str| pm.url(path);
    let admin = |path: &str| format!("http://{}{path}", pm.metrics);
    let routes = [
        ("GET", api("/instances")),
        ("POST", api("/instances")),
        ("GET", api("/instances/x")),
        ("DELETE", api("/instances/x")),
        ("POST", api("/instances/x/exec")),
        ("GET", api("/instances/x/logs")),
        ("GET", admin("/metrics")),
        ("GET", admin("/metrics/catalogue")),
        ("PUT", admin("/admin/log-level/API")),
    ];
    for (method, url) in &routes {
        for auth in [None, Some("Bearer wrong-token-wrong-token"), Some(TOKEN)] {
            let mut req = c.request(method.parse().unwrap(), url);
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 401, "{method} {url} with {auth:?}");
            assert_eq!(r.headers()["content-type"], "application/json");
        }
    }
    let bearer = format!("Bearer {TOKEN}");

    // The probes answer anyone; readiness's details only with the token.
    for base in [pm.url(""), admin("")] {
        for auth in [None, Some("Bearer wrong-token-wrong-token")] {
            let mut req = c.get(format!("{base}/healthz"));
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 200, "{base}/healthz with {auth:?}");
            assert_eq!(r.text().await.unwrap(), r#"{"status":"live"}"#);

            let mut req = c.get(format!("{base}/readyz"));
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            assert!(status == 200 || status == 503, "{base}/readyz: {status}");
            assert_eq!(r.headers()["content-type"], "application/json");
            let body = r.text().await.unwrap();
            let expected = if status == 200 { "ready" } else { "unready" };
            assert_eq!(
                body,
                format!(r#"{{"status":"{expected}"}}"#),
                "the status alone without the token: {base}/readyz with {auth:?}"
            );
        }
        let body = c
            .get(format!("{base}/readyz"))
            .header("authorization", &bearer)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            body.contains(r#""checks":{"listeners":"#),
            "the details with the token: {body}"
        );
    }
    let r = c
        .post(api("/instances"))
        .header("authorization", &bearer)
        .body(r#"{"command":"sh","args":["-c","echo hi; sleep 3007"]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let metrics = c
        .get(admin("/metrics"))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let mut paths = Vec::new();
    files_under(&pm.data_dir.0, &mut paths);
    let logs: Vec<_> = paths.iter().filter(|p| p.is_file()).collect();
    assert!(!logs.is_empty(), "log files were written");
    for p in &paths {
        let expected = if p.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(p), expected, "{}", p.display());
    }
    assert_eq!(pm.terminate(), 0);
}
