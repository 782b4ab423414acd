//! `watchpost`: lint an exposition, check a running service against the standard, write docs.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use watchpost_cli::check::CheckOptions;
use watchpost_cli::config::Config;
use watchpost_cli::finding::Level;
use watchpost_cli::report::Report;
use watchpost_cli::{check, docs, lint, rules, Error};

#[derive(Parser)]
#[command(
    name = "watchpost",
    version,
    about = "Check a service's logs, traces and metrics against the Watchpost standard"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Lint a metrics exposition (Prometheus text 0.0.4 or OpenMetrics) and, optionally, its
    /// catalogue.
    Lint {
        /// The exposition: a URL (scraped once), a file, or - for standard input.
        source: String,
        #[command(flatten)]
        common: Common,
    },
    /// Review a running service over a window of time: its /metrics, its JSON log lines and the
    /// OTLP it exports to us.
    Check {
        /// The service's metrics URL, scraped when the window opens, every --scrape-interval and
        /// when it closes (the last good scrape is linted, growth is measured from the first).
        #[arg(long, value_name = "URL")]
        metrics: Option<String>,
        /// JSON log lines: a file (read from its start and followed) or - (standard input, until
        /// it ends).
        #[arg(long, value_name = "FILE|-")]
        logs: Option<String>,
        /// Receive OTLP over gRPC on this address (e.g. 127.0.0.1:4317).
        #[arg(long, value_name = "ADDR")]
        otlp: Option<String>,
        /// Receive OTLP over HTTP/protobuf on this address (e.g. 127.0.0.1:4318).
        #[arg(long, value_name = "ADDR")]
        otlp_http: Option<String>,
        /// How long to watch, e.g. 30s or 2m. Default: until the logs on standard input end, or
        /// Ctrl-C.
        #[arg(long, value_name = "DURATION")]
        duration: Option<String>,
        /// After the window, wait this long for late OTLP exports.
        #[arg(long, value_name = "DURATION", default_value = "2s")]
        grace: String,
        /// Time between scrapes of --metrics.
        #[arg(long, value_name = "DURATION", default_value = "10s")]
        scrape_interval: String,
        /// Print this line on standard error once every receiver listens (for scripts).
        #[arg(long, hide = true)]
        ready_line: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Write the metric catalogue, the library's configuration table or the rule table as
    /// Markdown, or check that a file's generated sections are up to date.
    Docs {
        /// The service's catalogue: a JSON file exported by the library (`GET
        /// /metrics/catalogue`), a URL, or -.
        #[arg(long, value_name = "FILE|URL|-")]
        catalogue: Option<String>,
        /// Which table: metrics (needs --catalogue), config or rules.
        #[arg(long, value_enum, default_value = "metrics")]
        table: docs::Table,
        /// Check that FILE's section `<!-- watchpost:NAME -->` equals the table; exit 1 if it drifted.
        #[arg(long, value_name = "FILE", conflicts_with = "write")]
        check: Option<PathBuf>,
        /// Write the table into FILE's section `<!-- watchpost:NAME -->`.
        #[arg(long, value_name = "FILE")]
        write: Option<PathBuf>,
        /// The section's NAME (default: the table's name).
        #[arg(long)]
        section: Option<String>,
    },
    /// Write a Grafana dashboard (JSON) for a service from its metric catalogue: RED per route,
    /// saturation, telemetry health, SLOs and a row per subsystem.
    Dashboard(watchpost_cli::dashboard::DashboardArgs),
    /// Write Prometheus recording and alerting rules (SLO burn rates from watchpost.toml's
    /// [[slo]], and the standard's symptom alerts) and their `promtool test rules` file.
    Rules(watchpost_cli::slo::RulesArgs),
    /// Write an Alertmanager configuration routing the generated alerts by severity.
    Alertmanager(watchpost_cli::alertmanager::AlertmanagerArgs),
    /// Write everything to run the service's monitoring on the usual engines (Prometheus with
    /// the rules and their tests, Alertmanager, Grafana provisioning and dashboard, an
    /// OpenTelemetry Collector, a compose file), or check that a directory holds it.
    Bundle(watchpost_cli::bundle::BundleArgs),
    /// A local observability console: receive OTLP (gRPC, HTTP protobuf or JSON), keep it in
    /// memory under a byte budget, and show traces, logs, errors, services and metrics on a web
    /// page (and as JSON under /api/).
    Console(watchpost_cli::console::ConsoleArgs),
    /// List the rules of `lint` and `check` (ids, levels, what breaks them), or explain one.
    Explain {
        /// A rule id, e.g. metric.denormalized (default: all of them, as a Markdown table).
        rule: Option<String>,
    },
}

#[derive(Args, Clone)]
struct Common {
    /// The service's metric catalogue (JSON exported by the library, a file or a URL): metrics
    /// are checked against it.
    #[arg(long, value_name = "FILE|URL")]
    catalogue: Option<String>,
    /// Also lint third-party metrics (process_*, go_*, …), exempt by default.
    #[arg(long)]
    include_third_party: bool,
    /// Distinct values one label may have in one family (overrides watchpost.toml's
    /// `[check] max_label_values`; default 100).
    #[arg(long, value_name = "N")]
    max_label_values: Option<usize>,
    /// Exclusions, level overrides and settings (default: ./watchpost.toml if it exists).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Report format.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// Exit with status 1 when a finding is at this level or worse.
    #[arg(long, value_enum, default_value = "violation")]
    fail_on: FailOn,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Human,
    Json,
    Jsonl,
}

#[derive(Clone, Copy, ValueEnum)]
enum FailOn {
    Violation,
    Improvement,
    Information,
    Never,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("watchpost: {e}");
            ExitCode::from(2)
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::new(format!("cannot start the runtime: {e}")))
}

fn load_config(common: &Common) -> Result<Config, Error> {
    let mut config = read_config(common.config.as_ref())?;
    if let Some(n) = common.max_label_values {
        config.check.max_label_values = n;
    }
    Ok(config)
}

fn read_config(path: Option<&PathBuf>) -> Result<Config, Error> {
    match path {
        Some(p) => Config::load(p),
        None if std::path::Path::new("watchpost.toml").exists() => {
            Config::load(std::path::Path::new("watchpost.toml"))
        }
        None => Ok(Config::default()),
    }
}

fn run(cli: Cli) -> Result<ExitCode, Error> {
    match cli.command {
        Command::Lint { source, common } => {
            let config = load_config(&common)?;
            let rt = runtime()?;
            let report = rt.block_on(lint::run(
                &source,
                common.catalogue.as_deref(),
                common.include_third_party,
                config,
            ))?;
            finish(&report, &common)
        }
        Command::Check {
            metrics,
            logs,
            otlp,
            otlp_http,
            duration,
            grace,
            scrape_interval,
            ready_line,
            common,
        } => {
            let config = load_config(&common)?;
            let options = CheckOptions {
                metrics,
                logs,
                otlp,
                otlp_http,
                duration: duration
                    .as_deref()
                    .map(|d| parse_duration(d, "--duration"))
                    .transpose()?,
                grace: parse_duration(&grace, "--grace")?,
                scrape_interval: parse_duration(&scrape_interval, "--scrape-interval")?,
                catalogue: common.catalogue.clone(),
                include_third_party: common.include_third_party,
            };
            let rt = runtime()?;
            let report = rt.block_on(async {
                let running = check::start(options, config).await?;
                if ready_line {
                    let addr = |a: Option<std::net::SocketAddr>| {
                        a.map_or("-".to_owned(), |a| a.to_string())
                    };
                    eprintln!(
                        "watchpost: listening otlp-grpc={} otlp-http={}",
                        addr(running.otlp_grpc_addr()),
                        addr(running.otlp_http_addr())
                    );
                }
                running.wait().await
            })?;
            finish(&report, &common)
        }
        Command::Docs {
            catalogue,
            table,
            check,
            write,
            section,
        } => {
            let rt = runtime()?;
            let text = rt.block_on(docs::table(table, catalogue.as_deref()))?;
            let section = section.unwrap_or_else(|| table.section().to_owned());
            if let Some(path) = check {
                return match docs::check_section(&path, &section, &text)? {
                    true => Ok(ExitCode::SUCCESS),
                    false => {
                        eprintln!(
                            "watchpost: the section '{section}' of '{}' is out of date\nhint: run the same command with --write instead of --check",
                            path.display()
                        );
                        Ok(ExitCode::from(1))
                    }
                };
            }
            if let Some(path) = write {
                docs::write_section(&path, &section, &text)?;
                return Ok(ExitCode::SUCCESS);
            }
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Dashboard(args) => {
            print!(
                "{}",
                runtime()?.block_on(watchpost_cli::dashboard::run(&args))?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Rules(args) => watchpost_cli::slo::run(&args).map(|()| ExitCode::SUCCESS),
        Command::Bundle(args) => {
            let config = read_config(args.config.as_ref())?;
            let differ = runtime()?.block_on(watchpost_cli::bundle::run(&args, &config))?;
            if args.check && !differ.is_empty() {
                eprintln!(
                    "watchpost: the bundle in '{}' is out of date: {}\nhint: run the same command without --check",
                    args.out.display(),
                    differ.join(", ")
                );
                return Ok(ExitCode::from(1));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Alertmanager(args) => {
            watchpost_cli::alertmanager::run(&args).map(|()| ExitCode::SUCCESS)
        }
        Command::Console(args) if args.action.is_some() => {
            let action = args
                .action
                .as_ref()
                .ok_or_else(|| Error::new("no action"))?;
            runtime()?
                .block_on(watchpost_cli::console::transfer::run(action))
                .map(|()| ExitCode::SUCCESS)
        }
        Command::Console(args) => {
            // The console logs through the library (JSON lines on stdout) and serves its own
            // /metrics: it dogfoods Watchpost.
            let telemetry = watchpost::init(watchpost_cli::console::telemetry_config()?)
                .map_err(|e| Error::new(format!("the console's own telemetry: {e}")))?;
            let result = runtime()?.block_on(watchpost_cli::console::run(&args, Some(&telemetry)));
            let _ = telemetry.shutdown();
            result.map(|()| ExitCode::SUCCESS)
        }
        Command::Explain { rule: None } => {
            print!("{}", rules::markdown_table());
            Ok(ExitCode::SUCCESS)
        }
        Command::Explain { rule: Some(id) } => {
            let r = rules::by_id(&id).ok_or_else(|| {
                Error::new(format!("unknown rule '{id}'"))
                    .hint("`watchpost explain` lists every rule id")
            })?;
            println!(
                "{} ({}, {}): {}",
                r.id,
                r.level,
                r.signal.as_str(),
                r.summary
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn finish(report: &Report, common: &Common) -> Result<ExitCode, Error> {
    let out = match common.format {
        Format::Human => report.render_human(std::io::stdout().is_terminal()),
        Format::Json => format!("{:#}\n", report.to_json()),
        Format::Jsonl => report.to_jsonl(),
    };
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
    let fail = match common.fail_on {
        FailOn::Violation => Some(Level::Violation),
        FailOn::Improvement => Some(Level::Improvement),
        FailOn::Information => Some(Level::Information),
        FailOn::Never => None,
    };
    Ok(if fail.is_some_and(|l| report.fails(l)) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `30s`, `2m`, `500ms`, `1h` (the units of [`watchpost_cli::duration::parse`]).
fn parse_duration(s: &str, what: &str) -> Result<std::time::Duration, Error> {
    watchpost_cli::duration::parse(s).ok_or_else(|| {
        Error::new(format!("{what}: cannot read '{s}' as a duration"))
            .hint("write a number and a unit: 500ms, 30s, 2m, 1h")
    })
}
