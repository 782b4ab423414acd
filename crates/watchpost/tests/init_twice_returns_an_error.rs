//! The global subscriber is installed once; a second `init` is a clear error, not a panic, and the
//! first pipeline keeps working.
#[test]
fn init_twice_returns_an_error() {
    let config = || watchpost::Config::builder("svc").build().unwrap();
    let first = watchpost::init(config()).expect("first init");
    let err = watchpost::init(config()).unwrap_err();
    assert_eq!(err.kind(), &watchpost::ErrorKind::AlreadyInitialized);
    assert!(
        err.to_string().contains("call watchpost::init once"),
        "{err}"
    );
    first.set_level("APP", tracing::Level::WARN).unwrap();
    assert!(!tracing::enabled!(tracing::Level::INFO));
    assert!(tracing::enabled!(tracing::Level::WARN));
    first.shutdown().unwrap();
}
