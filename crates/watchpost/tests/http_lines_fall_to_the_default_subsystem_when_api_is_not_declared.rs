//! `HttpLayer` puts its request span in subsystem `API`; an application that does not declare
//! `API` gets its access lines (and the lines inside the request) in the default subsystem,
//! `APP`, at `LOG_LEVEL`, and one that does gets them in `API`, at `LOG_LEVEL_API`.

use std::net::SocketAddr;

use axum::routing::get;
use watchpost_testkit::capture::Capture;

/// The subsystems of the lines one request writes, with `config` (levels from `env`).
fn subsystems_of_one_request(declare_api: bool, env: &[(&str, &str)]) -> Vec<(String, String)> {
    let capture = Capture::default();
    let mut config = watchpost::Config::builder("web").env_vars(env.iter().copied());
    if declare_api {
        config = config.subsystem(watchpost::Subsystem::new("API"));
    }
    let (telemetry, dispatch) = watchpost::Telemetry::builder(config.build().unwrap())
        .writer(capture.clone())
        .into_dispatch();
    // One thread runs the server and the client, inside the pipeline's dispatch.
    tracing::dispatcher::with_default(&dispatch, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let app = axum::Router::new()
                .route(
                    "/work",
                    get(|| async {
                        tracing::debug!("working");
                        "done"
                    }),
                )
                .layer(watchpost::http::HttpLayer::new(&telemetry));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let app = app.into_make_service_with_connect_info::<SocketAddr>();
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            let response = reqwest::get(format!("http://{addr}/work")).await.unwrap();
            assert_eq!(response.text().await.unwrap(), "done");
        });
    });
    telemetry.force_flush(std::time::Duration::from_secs(5));
    capture
        .json()
        .iter()
        .map(|l| {
            (
                l["msg"].as_str().unwrap().to_string(),
                l["subsystem"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn http_lines_fall_to_the_default_subsystem_when_api_is_not_declared() {
    let undeclared = subsystems_of_one_request(false, &[("LOG_LEVEL", "debug")]);
    assert_eq!(
        undeclared,
        owned(&[("working", "APP"), ("request handled", "APP")])
    );

    let declared = subsystems_of_one_request(true, &[("LOG_LEVEL_API", "debug")]);
    assert_eq!(
        declared,
        owned(&[("working", "API"), ("request handled", "API")])
    );

    // Declared, its own level rules: LOG_LEVEL=debug does not reach it.
    let quiet =
        subsystems_of_one_request(true, &[("LOG_LEVEL", "debug"), ("LOG_LEVEL_API", "warn")]);
    assert_eq!(quiet, owned(&[]));
}
