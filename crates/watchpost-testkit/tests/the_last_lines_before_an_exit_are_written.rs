//! Log lines go through a background writer, but a process that exits right after logging
//! (`std::process::exit`, without calling `shutdown`) still writes them: the last lines before
//! an exit are often the ones that explain it.
mod support;

use watchpost_testkit::capture;

#[test]
fn the_last_lines_before_an_exit_are_written() {
    let mut demo = support::logdemo(&[]);
    demo.run("emit"); // the pipeline is up and has written before
    demo.send("exit 3");
    let (code, out, _err) = demo.finish();
    assert_eq!(code, 3);
    let last = out.last().expect("some output");
    let line = capture::parse(last);
    assert_eq!(line["msg"], "last words before exit", "{out:?}");
    assert_eq!(line["level"], "ERROR");
}
