//! A supervisor may stop procman the moment it says it listens: procman listens for SIGTERM
//! before it prints that line, so the stop is its clean shutdown (exit 0), not the signal's
//! default action (killed, nothing flushed).
mod support;

#[test]
fn a_sigterm_right_after_listening_is_a_clean_stop() {
    for round in 0..5 {
        let mut pm = support::Procman::spawn(&[]);
        pm.process.sigterm();
        let code = pm.process.wait();
        assert_eq!(
            code, 0,
            "round {round}: exit {code} (-1: killed by the signal)"
        );
    }
}
