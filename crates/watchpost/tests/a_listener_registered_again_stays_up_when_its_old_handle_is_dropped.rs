//! A listener restarted under the same name registers again; the old handle, dropped after the
//! new registration (the usual order when a server is replaced), must not mark the new listener
//! stopped — nor may the old handle's `up` speak for the new one.

use watchpost::health::ListenerState;

#[test]
fn a_listener_registered_again_stays_up_when_its_old_handle_is_dropped() {
    let config = watchpost::Config::builder("svc").build().unwrap();
    let (telemetry, _dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    let health = telemetry.health();

    let old = health.listener("api");
    old.up();
    assert!(health.readiness().ready);

    let new = health.listener("api");
    assert_eq!(
        health.readiness().listeners,
        vec![("api".to_string(), ListenerState::Starting)],
        "one entry per name, the new registration's"
    );
    old.up();
    assert!(
        !health.readiness().ready,
        "the old handle does not speak for the new listener"
    );
    new.up();
    drop(old);
    let readiness = health.readiness();
    assert_eq!(
        readiness.listeners,
        vec![("api".to_string(), ListenerState::Up)]
    );
    assert!(readiness.ready, "{readiness:?}");

    drop(new);
    assert_eq!(
        health.readiness().listeners,
        vec![("api".to_string(), ListenerState::Stopped)]
    );
}
