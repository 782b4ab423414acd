//! A supervisor may stop procman the moment it says it listens: procman listens for SIGTERM
//! before it prints that line, so the stop is its clean shutdown (exit 0), not the signal's
//! default action (killed, nothing flushed).
mod support;

#[test]
fn a_sigterm_right_after_listening_is_a_clean_stop() {
    for round in 0..5 {
        let mut pm = support::Procman::spawn(&[]);
        // Straight from this process (not through `kill(1)`, which would add milliseconds).
        // SAFETY: signals the child this test spawned and has not waited for yet.
        unsafe { libc::kill(pm.process.child.id() as i32, libc::SIGTERM) };
        let code = pm.process.wait();
        assert_eq!(
            code, 0,
            "round {round}: exit {code} (-1: killed by the signal)"
        );
    }
}
