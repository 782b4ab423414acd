//! Standard process metrics (`process_*`, the names Prometheus client libraries use), read from
//! `/proc` on Linux at collection time. Elsewhere they are not registered.

use crate::catalogue;

use super::Metrics;

#[cfg(target_os = "linux")]
pub(crate) fn register(metrics: &Metrics) {
    metrics.observe_f64(&catalogue::PROCESS_CPU, |o| {
        if let Some(s) = Stat::read() {
            o.observe(s.cpu_seconds, &[]);
        }
    });
    type ReadStat = fn(&Stat) -> u64;
    let from_stat: [(&catalogue::MetricDef, ReadStat); 3] = [
        (&catalogue::PROCESS_RESIDENT_MEMORY, |s| s.rss_bytes),
        (&catalogue::PROCESS_VIRTUAL_MEMORY, |s| s.vsize_bytes),
        (&catalogue::PROCESS_THREADS, |s| s.threads),
    ];
    for (def, read) in from_stat {
        metrics.observe_u64(def, move |o| {
            if let Some(s) = Stat::read() {
                o.observe(read(&s), &[]);
            }
        });
    }
    metrics.observe_u64(&catalogue::PROCESS_OPEN_FDS, |o| {
        if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
            // One of them is the descriptor reading the directory.
            o.observe(dir.count().saturating_sub(1) as u64, &[]);
        }
    });
    metrics.observe_u64(&catalogue::PROCESS_MAX_FDS, |o| {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct we own.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
            o.observe(lim.rlim_cur, &[]);
        }
    });
    if let Some(start) = start_time_seconds() {
        metrics.observe_f64(&catalogue::PROCESS_START_TIME, move |o| {
            o.observe(start, &[])
        });
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn register(_metrics: &Metrics) {}

#[cfg(target_os = "linux")]
#[derive(Debug, Clone, Copy)]
struct Stat {
    cpu_seconds: f64,
    rss_bytes: u64,
    vsize_bytes: u64,
    threads: u64,
    start_ticks: u64,
}

#[cfg(target_os = "linux")]
impl Stat {
    fn read() -> Option<Stat> {
        let text = std::fs::read_to_string("/proc/self/stat").ok()?;
        Self::parse(&text)
    }

    /// Parses `/proc/self/stat`. Fields are counted after the command name, which is in
    /// parentheses and may itself contain spaces or parentheses.
    fn parse(text: &str) -> Option<Stat> {
        let rest = &text[text.rfind(')')? + 1..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        // f[0] is field 3 (state): field N is f[N - 3].
        let num = |n: usize| f.get(n - 3)?.parse::<u64>().ok();
        let tck = clock_ticks() as f64;
        Some(Stat {
            cpu_seconds: (num(14)? + num(15)?) as f64 / tck,
            threads: num(20)?,
            start_ticks: num(22)?,
            vsize_bytes: num(23)?,
            rss_bytes: num(24)? * page_size(),
        })
    }
}

#[cfg(target_os = "linux")]
fn clock_ticks() -> u64 {
    sysconf_or(libc::_SC_CLK_TCK, 100)
}

#[cfg(target_os = "linux")]
fn page_size() -> u64 {
    sysconf_or(libc::_SC_PAGESIZE, 4096)
}

/// A positive `sysconf` value, or `fallback`.
#[cfg(target_os = "linux")]
fn sysconf_or(name: libc::c_int, fallback: u64) -> u64 {
    // SAFETY: sysconf has no preconditions.
    let v = unsafe { libc::sysconf(name) };
    if v > 0 {
        v as u64
    } else {
        fallback
    }
}

#[cfg(target_os = "linux")]
fn start_time_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let btime: f64 = stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    Some(btime + Stat::read()?.start_ticks as f64 / clock_ticks() as f64)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_command_names_parse() {
        let line = "4242 (my (odd) cmd) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 150 0 0 20 0 7 0 123456 104857600 2560 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        let s = Stat::parse(line).unwrap();
        assert_eq!(s.threads, 7);
        assert_eq!(s.start_ticks, 123456);
        assert_eq!(s.vsize_bytes, 104_857_600);
        assert_eq!(s.rss_bytes, 2560 * page_size());
        assert!((s.cpu_seconds - 400.0 / clock_ticks() as f64).abs() < 1e-9);
    }

    #[test]
    fn this_process_has_plausible_values() {
        let s = Stat::read().unwrap();
        assert!(s.threads >= 1 && s.rss_bytes > 0 && s.vsize_bytes >= s.rss_bytes);
        let start = start_time_seconds().unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!(
            start <= now + 1.0 && start > now - 86_400.0 * 365.0,
            "{start} vs {now}"
        );
    }
}
