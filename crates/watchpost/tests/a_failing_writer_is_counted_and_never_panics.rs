//! A writer that fails (closed pipe, full disk) never panics the application; every lost line is
//! counted.
use std::io;

struct DiskFull;

impl io::Write for DiskFull {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::from_raw_os_error(28)) // ENOSPC
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failing_writer_is_counted_and_never_panics() {
    let config = watchpost::Config::builder("svc").build().unwrap();
    let (telemetry, dispatch) = watchpost::Telemetry::builder(config)
        .writer(|| DiskFull)
        .into_dispatch();
    tracing::dispatcher::with_default(&dispatch, || {
        for i in 0..100 {
            tracing::info!(i, "a line that cannot be written");
        }
        tracing::debug!("filtered out, so not a failure");
    });
    assert_eq!(telemetry.self_stats().log_write_errors, 100);
}

#[test]
fn a_closed_pipe_is_counted_too() {
    // A real pipe whose read end is closed: writes fail with EPIPE (SIGPIPE is ignored by Rust).
    let mut fds = [0; 2];
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    unsafe { libc::close(fds[0]) };
    let file: std::fs::File = unsafe { std::os::fd::FromRawFd::from_raw_fd(fds[1]) };
    let file = std::sync::Arc::new(file);
    let config = watchpost::Config::builder("svc").build().unwrap();
    let (telemetry, dispatch) = watchpost::Telemetry::builder(config)
        .writer(move || file.clone())
        .into_dispatch();
    tracing::dispatcher::with_default(&dispatch, || tracing::error!("nobody is reading"));
    assert_eq!(telemetry.self_stats().log_write_errors, 1);
}
