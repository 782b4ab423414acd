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
    /// An access line, ids and a histogram written by hand for procman alone: the benchmark's
    /// lower bound (see `floor.rs`).
    Floor,
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
         any checkout by default; created 0700. Without an absolute XDG_STATE_HOME or HOME, the \
         fallback is `<temp dir>/procman-<uid>` (e.g. /tmp/procman-1000), in the temp dir every \
         user shares: created without following symlinks, it must be a directory of procman's \
         user that no one else can open, or procman refuses to start (set DATA_DIR).",
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
/// of the user's under the system's temp dir ([`private_temp_dir`]). Never the working
/// directory: running procman from a checkout must not write into it.
///
/// # Errors
/// The temp-dir fallback cannot be created, or is not a private directory of this user; the
/// message names `DATA_DIR`.
pub fn default_data_dir() -> Result<PathBuf, String> {
    let absolute = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    if let Some(state) = absolute("XDG_STATE_HOME") {
        return Ok(state.join("procman"));
    }
    if let Some(home) = absolute("HOME") {
        return Ok(home.join(".local/state/procman"));
    }
    // SAFETY: getuid cannot fail and has no preconditions.
    let uid = unsafe { libc::getuid() };
    private_temp_dir(&std::env::temp_dir().join(format!("procman-{uid}")), uid)
}

/// `dir`, a directory in a place every user can write to (the temp dir), made safe to keep
/// logs in: created alone (not its parents) with mode 0700, which never follows a symlink;
/// when it exists already, it must be — by `lstat`, not through a symlink — a real directory
/// owned by `uid` with no permission for group or others. Anything else (a symlink or a
/// directory someone else planted, one opened to others) is refused: procman would write its
/// files where another user can read or redirect them.
fn private_temp_dir(dir: &std::path::Path, uid: u32) -> Result<PathBuf, String> {
    use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _};
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(format!(
                "cannot create the data directory {} ({e}); set DATA_DIR to a directory of yours",
                dir.display()
            ))
        }
    }
    let meta = std::fs::symlink_metadata(dir).map_err(|e| {
        format!(
            "cannot inspect the data directory {} ({e}); set DATA_DIR to a directory of yours",
            dir.display()
        )
    })?;
    let why = if meta.file_type().is_symlink() {
        Some("it is a symbolic link")
    } else if !meta.file_type().is_dir() {
        Some("it is not a directory")
    } else if meta.uid() != uid {
        Some("another user owns it")
    } else if meta.mode() & 0o077 != 0 {
        Some("other users have permissions on it")
    } else {
        None
    };
    match why {
        Some(why) => Err(format!(
            "refusing the data directory {}: {why}, in the temp dir every user shares; set \
             DATA_DIR to a directory of yours (or remove it)",
            dir.display()
        )),
        None => Ok(dir.to_path_buf()),
    }
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
        "floor" => Mode::Floor,
        other => {
            return Err(format!(
                "invalid --telemetry {other:?}: expected on, off, common or floor"
            ))
        }
    };
    let data_dir = match data_dir {
        Some(dir) => dir,
        None => default_data_dir()?,
    };
    Ok(Args {
        listen,
        data_dir,
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
  procman [--listen ADDR] [--data-dir DIR] [--telemetry on|off|common|floor] [--token-file PATH]
  procman --catalogue json|yaml   print the catalogue of every metric procman registers
  procman --help                  print this text

Options:
  --listen ADDR       the API's address (LISTEN_ADDR)
  --data-dir DIR      where instance logs are kept (DATA_DIR; by default the XDG state dir,
                      else a private procman-<uid> in the temp dir, refused if not private)
  --telemetry MODE    on (the default); off: no logs, metrics or traces (the overhead
                      baseline); common: the hand-assembled tracing-subscriber stack (the
                      overhead benchmark's peer); floor: an access line, ids and a histogram
                      written by hand for procman alone (the benchmark's lower bound)
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
        let dir = super::default_data_dir().unwrap();
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

    #[test]
    fn a_temp_dir_fallback_is_created_private_and_refused_unless_private() {
        use std::os::unix::fs::PermissionsExt as _;
        // SAFETY: getuid cannot fail and has no preconditions.
        let uid = unsafe { libc::getuid() };
        let root =
            std::env::temp_dir().join(format!("procman-cli-test-{}-{}", std::process::id(), uid));
        std::fs::create_dir(&root).unwrap();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;

        // Created alone, 0700, and taken again as it is.
        let fresh = root.join("fresh");
        assert_eq!(super::private_temp_dir(&fresh, uid).unwrap(), fresh);
        assert_eq!(mode(&fresh), 0o700);
        assert_eq!(super::private_temp_dir(&fresh, uid).unwrap(), fresh);

        // Planted: a symlink to a directory elsewhere, a directory open to others, another
        // user's directory, a file. Each refused, naming DATA_DIR; nothing created through them.
        let target = root.join("target");
        std::fs::create_dir(&target).unwrap();
        let link = root.join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let open = root.join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let file = root.join("file");
        std::fs::write(&file, "").unwrap();
        for (planted, owner, why) in [
            (&link, uid, "symbolic link"),
            (&open, uid, "other users"),
            (&fresh, uid.wrapping_add(1), "another user"),
            (&file, uid, "not a directory"),
        ] {
            let err = super::private_temp_dir(planted, owner).unwrap_err();
            assert!(err.contains("DATA_DIR") && err.contains(why), "{err}");
        }
        assert_eq!(std::fs::read_dir(&target).unwrap().count(), 0);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
