//! Which events and spans are enabled, and which subsystem an event belongs to.
//!
//! Interest is decided once per callsite (`register_callsite`) from the target and the current
//! levels, and rebuilt with [`tracing_core::callsite::rebuild_interest_cache`] when a level
//! changes at runtime. Only callsites whose subsystem depends on the enclosing span, and whose
//! level is enabled for some subsystems but not others, are checked per event.

use std::sync::atomic::{AtomicU8, Ordering};

use tracing::Level;
use tracing_core::{Interest, LevelFilter, Metadata};

use crate::config::Config;

/// Verbosity of a level: ERROR = 1 … DEBUG = 4, TRACE = 5.
#[inline]
pub(crate) fn verbosity(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

fn level_of_verbosity(v: u8) -> Level {
    match v {
        1 => Level::ERROR,
        2 => Level::WARN,
        3 => Level::INFO,
        _ => Level::DEBUG,
    }
}

/// How an event's subsystem and level are decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Route {
    /// The subsystem its target maps to, if any.
    pub(crate) subsystem: Option<u16>,
    /// A fixed maximum verbosity for its target (noisy dependencies), if any.
    pub(crate) target_verbosity: Option<u8>,
    /// Bit `i` set: field `i` of the callsite has a secret name (fields past 64 are checked by
    /// name when written).
    pub(crate) secret_mask: u64,
    /// Bit `i` set: field `i` is a resource id field (per-resource log fan-out).
    pub(crate) resource_mask: u64,
    /// Bit `i` set: field `i` has a dotted name (`http.route`, `otel.name`): as a span field it
    /// belongs to the trace, not to log lines, so the log layer does not even encode it.
    pub(crate) dotted_mask: u64,
    /// Bit `i` set: field `i` is named like a key the layer writes itself (`level`, `service`,
    /// …): it is written as `fields.<name>`.
    pub(crate) reserved_mask: u64,
    /// Bit `i` set: field `i`'s name is written as it is (nothing in it needs JSON escaping).
    pub(crate) plain_name_mask: u64,
    /// Bit `i` set: field `i`'s value is the library's own and never masked
    /// ([`HTTP_TRUSTED_FIELDS`](crate::catalogue::targets::HTTP_TRUSTED_FIELDS)).
    pub(crate) trusted_mask: u64,
}

/// Routing tables (immutable after start) and the live levels (atomics, changed at runtime).
#[derive(Debug)]
pub(crate) struct Filter {
    pub(crate) names: Vec<String>,
    /// Target prefixes → subsystem, longest first.
    prefixes: Vec<(String, u16)>,
    /// Target prefixes → fixed verbosity, longest first.
    target_levels: Vec<(String, u8)>,
    pub(crate) default: u16,
    span_verbosity: u8,
    levels: Vec<AtomicU8>,
}

fn matches_prefix(target: &str, prefix: &str) -> bool {
    target.starts_with(prefix)
        && (target.len() == prefix.len() || target[prefix.len()..].starts_with("::"))
}

impl Filter {
    pub(crate) fn new(config: &Config) -> Self {
        let mut prefixes: Vec<(String, u16)> = config
            .subsystems
            .iter()
            .enumerate()
            .flat_map(|(i, s)| s.targets().iter().map(move |t| (t.clone(), i as u16)))
            .collect();
        prefixes.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
        let mut target_levels: Vec<(String, u8)> = config
            .target_levels
            .iter()
            .map(|(t, l)| (t.clone(), verbosity(l)))
            .collect();
        target_levels.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
        Self {
            names: config
                .subsystems
                .iter()
                .map(|s| s.name().to_string())
                .collect(),
            prefixes,
            target_levels,
            default: config.default_subsystem as u16,
            span_verbosity: verbosity(&config.span_level),
            levels: config
                .subsystem_levels
                .iter()
                .map(|l| AtomicU8::new(verbosity(l)))
                .collect(),
        }
    }

    pub(crate) fn route(&self, target: &str) -> Route {
        Route {
            subsystem: self
                .prefixes
                .iter()
                .find(|(p, _)| matches_prefix(target, p))
                .map(|(_, i)| *i),
            target_verbosity: self
                .target_levels
                .iter()
                .find(|(p, _)| matches_prefix(target, p))
                .map(|(_, v)| *v),
            secret_mask: 0,
            resource_mask: 0,
            dotted_mask: 0,
            reserved_mask: 0,
            plain_name_mask: 0,
            trusted_mask: 0,
        }
    }

    pub(crate) fn index(&self, name: &str) -> Option<u16> {
        self.names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(name))
            .map(|i| i as u16)
    }

    #[inline]
    pub(crate) fn level_verbosity(&self, subsystem: u16) -> u8 {
        self.levels[subsystem as usize].load(Ordering::Relaxed)
    }

    pub(crate) fn level(&self, subsystem: u16) -> Level {
        level_of_verbosity(self.level_verbosity(subsystem))
    }

    pub(crate) fn set_level(&self, subsystem: u16, level: Level) {
        self.levels[subsystem as usize].store(verbosity(&level), Ordering::Relaxed);
    }

    /// The callsite's interest, from its metadata alone.
    pub(crate) fn interest(&self, meta: &Metadata<'_>) -> Interest {
        let v = verbosity(meta.level());
        if v >= 5 {
            return Interest::never();
        }
        if is_log_callsite(meta) {
            // One callsite per level for every `log` record: decided per record, by its target.
            return if v <= self.max_verbosity() {
                Interest::sometimes()
            } else {
                Interest::never()
            };
        }
        if meta.is_span() {
            return if v <= self.span_verbosity {
                Interest::always()
            } else {
                Interest::never()
            };
        }
        let route = self.route(meta.target());
        if let Some(max) = route.target_verbosity {
            return bool_interest(v <= max);
        }
        if let Some(s) = route.subsystem {
            return bool_interest(v <= self.level_verbosity(s));
        }
        let (min, max) = self.levels.iter().fold((u8::MAX, 0), |(lo, hi), l| {
            let l = l.load(Ordering::Relaxed);
            (lo.min(l), hi.max(l))
        });
        if v <= min {
            Interest::always()
        } else if v > max {
            Interest::never()
        } else {
            Interest::sometimes()
        }
    }

    /// Whether an event of this route and level is enabled when its span-derived subsystem is
    /// `span_subsystem` (`None`: outside any span with a subsystem).
    #[inline]
    pub(crate) fn event_enabled(&self, route: Route, v: u8, span_subsystem: Option<u16>) -> bool {
        if v >= 5 {
            return false;
        }
        if let Some(max) = route.target_verbosity {
            return v <= max;
        }
        let s = route.subsystem.or(span_subsystem).unwrap_or(self.default);
        v <= self.level_verbosity(s)
    }

    pub(crate) fn span_enabled(&self, v: u8) -> bool {
        v <= self.span_verbosity && v < 5
    }

    /// The most verbose level of any subsystem or target (the `log` crate's max level).
    pub(crate) fn max_verbosity(&self) -> u8 {
        self.levels
            .iter()
            .map(|l| l.load(Ordering::Relaxed))
            .chain(self.target_levels.iter().map(|(_, v)| *v))
            .max()
            .unwrap_or(3)
    }

    pub(crate) fn max_level_hint(&self) -> LevelFilter {
        let max = self
            .levels
            .iter()
            .map(|l| l.load(Ordering::Relaxed))
            .chain(self.target_levels.iter().map(|(_, v)| *v))
            .chain(std::iter::once(self.span_verbosity))
            .max()
            .unwrap_or(3);
        LevelFilter::from_level(level_of_verbosity(max))
    }
}

fn bool_interest(enabled: bool) -> Interest {
    if enabled {
        Interest::always()
    } else {
        Interest::never()
    }
}

/// The callsites through which `tracing-log` forwards records of the `log` crate: their target
/// is `log` and the record's own target is a field.
pub(crate) fn is_log_callsite(meta: &Metadata<'_>) -> bool {
    meta.target() == "log" && meta.fields().field("log.target").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Subsystem};

    fn filter() -> Filter {
        let c = Config::builder("svc")
            .subsystem(Subsystem::new("API").target("svc::api"))
            .subsystem(
                Subsystem::new("INSTANCES")
                    .target("svc::instances")
                    .target("svc::api::instances"),
            )
            .env_vars([("LOG_LEVEL", "warn"), ("LOG_LEVEL_INSTANCES", "debug")])
            .build()
            .unwrap();
        Filter::new(&c)
    }

    #[test]
    fn the_longest_target_prefix_wins_and_prefixes_match_whole_path_segments() {
        let f = filter();
        let api = f.index("API");
        let inst = f.index("INSTANCES");
        assert_eq!(f.route("svc::api").subsystem, api);
        assert_eq!(f.route("svc::api::handlers").subsystem, api);
        assert_eq!(f.route("svc::api::instances::x").subsystem, inst);
        assert_eq!(f.route("svc::apis").subsystem, None);
        assert_eq!(f.route("hyper::proto").target_verbosity, Some(2));
        assert_eq!(f.route("hyperlocal").target_verbosity, None);
    }

    #[test]
    fn events_follow_their_subsystem_level_and_noisy_targets_stay_at_warn() {
        let f = filter();
        let r = f.route("svc::instances");
        assert!(f.event_enabled(r, 4, None));
        let r = f.route("svc::api");
        assert!(!f.event_enabled(r, 3, None));
        assert!(f.event_enabled(r, 2, None));
        let r = f.route("other_crate");
        assert!(!f.event_enabled(r, 3, None), "default subsystem is at warn");
        assert!(
            f.event_enabled(r, 4, f.index("INSTANCES")),
            "span subsystem decides"
        );
        let r = f.route("h2::codec");
        assert!(!f.event_enabled(r, 3, f.index("INSTANCES")));
        assert!(!f.event_enabled(r, 5, None));
    }

    #[test]
    fn runtime_level_changes_are_seen_by_the_filter_and_the_hint() {
        let f = filter();
        let api = f.index("API").unwrap();
        assert_eq!(f.max_level_hint(), LevelFilter::DEBUG);
        f.set_level(api, Level::DEBUG);
        assert!(f.event_enabled(f.route("svc::api"), 4, None));
        assert_eq!(f.level(api), Level::DEBUG);
    }
}
