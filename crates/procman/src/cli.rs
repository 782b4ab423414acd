//! procman's command line and environment: the options, the variables procman itself reads, the
//! data directory's default, and `--help`, which lists every variable procman reads — its own
//! ([`VARS`]) and the Watchpost library's (`watchpost::config::ENV_VARS`).

use std::net::SocketAddr;
use std::path::PathBuf;

/// How much telemetry procman runs with (`--telemetry`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Watchpost (the default).
    Watchpost,
    /// No logs, metrics or traces at all: the overhead baseline.
    Off,
    /// The hand-assembled stack services use today: the benchmark's peer.
    Common,
}

/// What the command line and the environment asked for.
pub struct Args {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub mode: Mode,
    /// `--catalogue json|yaml`: print the metric catalogue and exit.
    pub catalogue: Option<String>,
    /// `--token-file PATH`: the bearer token (else `PROCMAN_TOKEN`).
    pub token_file: Option<PathBuf>,
}

/// The subsystems procman declares (each has a `LOG_LEVEL_<SUBSYSTEM>` variable).
pub const SUBSYSTEMS: [&str; 4] = ["API", "INSTANCES", "EXEC", "LOGS"];

/// The environment variables procman itself reads: name, default, meaning. The library's are
/// in `watchpost::config::ENV_VARS`; `--help` prints both, and a test checks that every variable
/// named in procman's source is in one of them.
pub const VARS: &[(&str, &str, &str)] = &[
    (
        "LISTEN_ADDR",
        "127.0.0.1:8080",
        "Address of the API listener (`--listen` wins). Beyond loopback only with a token.",
    ),
    (
        "DATA_DIR",
        "$XDG_STATE_HOME/procman, else $HOME/.local/state/procman",
        "Where instance logs are kept, under `logs/instance/<id>/` (`--data-dir` wins). Outside \
         any checkout by default; created 0700.",
    ),
    (
        "PROCMAN_TOKEN",
        "unset",
        "Bearer token every request to either listener must carry (at least 16 characters; \
         `--token-file` reads it from a file instead). Without one procman refuses to listen \
         beyond loopback.",
    ),
    (
        "SHUTDOWN_TIMEOUT",
        "10000",
        "Milliseconds a SIGTERM or SIGINT may take to end procman, its instances and the \
         telemetry flush (100 to 600000); past it every instance is killed and procman exits 1.",
    ),
    (
        "HEADER_TIMEOUT",
        "10000",
        "Milliseconds a client has to send a request head; also how long a kept-alive \
         connection may stay idle (100 to 600000).",
    ),
    (
        "BODY_TIMEOUT",
        "30000",
        "Milliseconds a client has to send a request body, else 408 (100 to 600000).",
    ),
    (
        "MAX_CONNECTIONS",
        "1024, at most half the descriptor limit",
        "API connections served at once; more wait in the listen backlog (1 to 1000000).",
    ),
];

/// The data directory when neither `--data-dir` nor `DATA_DIR` names one: the XDG state
/// directory (`$XDG_STATE_HOME/procman`, else `$HOME/.local/state/procman`), else a directory
/// of the user's under the system's temp dir. Never the working directory: running procman from
/// a checkout must not write into it.
pub fn default_data_dir() -> PathBuf {
    let absolute = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    if let Some(state) = absolute("XDG_STATE_HOME") {
        return state.join("procman");
    }
    if let Some(home) = absolute("HOME") {
        return home.join(".local/state/procman");
    }
    // SAFETY: getuid cannot fail and has no preconditions.
    let uid = unsafe { libc::getuid() };
    std::env::temp_dir().join(format!("procman-{uid}"))
}

/// Reads the command line (and `LISTEN_ADDR`, `DATA_DIR`). `--help` prints [`help`] and exits 0;
/// anything wrong is an error naming it.
pub fn parse_args() -> Result<Args, String> {
    let mut listen = std::env::var("LISTEN_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let mut data_dir = std::env::var_os("DATA_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from);
    let mut telemetry = "on".to_string();
    let mut catalogue = None;
    let mut token_file = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--listen" => listen = value("--listen")?,
            "--data-dir" => data_dir = Some(PathBuf::from(value("--data-dir")?)),
            "--telemetry" => telemetry = value("--telemetry")?,
            "--token-file" => token_file = Some(PathBuf::from(value("--token-file")?)),
            "--catalogue" => {
                let format = value("--catalogue")?;
                if format != "json" && format != "yaml" {
                    return Err(format!(
                        "invalid --catalogue {format:?}: expected json or yaml"
                    ));
                }
                catalogue = Some(format);
            }
            "-h" | "--help" => {
                print!("{}", help());
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
    }
    let listen = listen.parse().map_err(|_| {
        format!("invalid listen address {listen:?}: expected IP:PORT such as 127.0.0.1:8080")
    })?;
    let mode = match telemetry.as_str() {
        "on" => Mode::Watchpost,
        "off" => Mode::Off,
        "common" => Mode::Common,
        other => {
            return Err(format!(
                "invalid --telemetry {other:?}: expected on, off or common"
            ))
        }
    };
    Ok(Args {
        listen,
        data_dir: data_dir.unwrap_or_else(default_data_dir),
        mode,
        catalogue,
        token_file,
    })
}

/// `procman --help`: the usage, the options, and every environment variable procman reads.
pub fn help() -> String {
    let mut out = String::from(
        "procman: Watchpost's reference service, a small process supervisor with an HTTP API.

Usage:
  procman [--listen ADDR] [--data-dir DIR] [--telemetry on|off|common] [--token-file PATH]
  procman --catalogue json|yaml   print the catalogue of every metric procman registers
  procman --help                  print this text

Options:
  --listen ADDR       the API's address (LISTEN_ADDR)
  --data-dir DIR      where instance logs are kept (DATA_DIR)
  --telemetry MODE    on (the default); off: no logs, metrics or traces (the overhead
                      baseline); common: the hand-assembled tracing-subscriber stack (the
                      overhead benchmark's peer)
  --token-file PATH   the bearer token, the first line of PATH (instead of PROCMAN_TOKEN)

The metrics, admin and level routes are on METRICS_LISTEN; the API on LISTEN_ADDR.

Environment, procman's own:
",
    );
    for (name, default, meaning) in VARS {
        variable(&mut out, name, default, meaning);
    }
    out.push('\n');
    wrap(
        &mut out,
        "",
        &format!(
            "Environment, the Watchpost library's (logs, metrics, traces, export); procman's \
             subsystems, for LOG_LEVEL_<SUBSYSTEM>, are {}:",
            SUBSYSTEMS.join(", ")
        ),
    );
    for (name, default, meaning) in watchpost::config::ENV_VARS {
        variable(&mut out, name, default, meaning);
    }
    out
}

/// Appends one variable: its name and default, then its meaning, indented.
fn variable(out: &mut String, name: &str, default: &str, meaning: &str) {
    out.push_str(&format!("  {name}  (default: {default})\n"));
    wrap(out, "      ", meaning);
}

/// Appends `text` as lines of at most 96 columns (a longer word gets a line of its own), each
/// starting with `indent`.
fn wrap(out: &mut String, indent: &str, text: &str) {
    let mut line = String::from(indent);
    for word in text.split_whitespace() {
        let empty = line.len() == indent.len();
        if !empty && line.chars().count() + 1 + word.chars().count() > 96 {
            out.push_str(&line);
            out.push('\n');
            line = String::from(indent);
        } else if !empty {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
}

#[cfg(test)]
mod tests {
    #[test]
    fn help_lists_every_variable_once_with_its_default() {
        let help = super::help();
        for (name, default, _) in super::VARS.iter().chain(watchpost::config::ENV_VARS) {
            let entry = format!("  {name}  (default: {default})\n");
            assert_eq!(help.matches(&entry).count(), 1, "{entry}");
        }
        assert!(help.lines().all(|l| l.chars().count() <= 100), "{help}");
    }

    #[test]
    fn the_data_directory_defaults_outside_the_working_directory() {
        let dir = super::default_data_dir();
        assert!(dir.is_absolute(), "{}", dir.display());
        assert!(
            dir.ends_with("procman")
                || dir
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("procman-")
        );
    }
}
