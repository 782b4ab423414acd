//! `watchpost.toml`: exclusions and level overrides, each with a required reason, and the
//! check's settings.
//!
//! ```toml
//! [check]
//! resource_fields = ["instance_id"]   # default: ["instance_id"]
//! max_label_values = 100              # default: 100
//!
//! [[exclude]]
//! rule = "metric.no-help"
//! name = "legacy_*"                   # optional: a signal name, `*` matches any run of characters
//! reason = "exported by a vendored library we cannot change"
//!
//! [[override]]
//! rule = "span.no-client-span"
//! level = "violation"                 # violation | improvement | information
//! reason = "every route of this service calls the database"
//! ```
//!
//! `[service]` and `[[slo]]` declare service-level objectives for `watchpost rules`: see
//! [`crate::slo`].

use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::finding::Level;
use crate::rules;

/// The parsed `watchpost.toml` (all parts optional).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Settings of `check` and `lint`.
    #[serde(default)]
    pub check: CheckSettings,
    /// Findings not to report (they are still counted in the summary as excluded).
    #[serde(default)]
    pub exclude: Vec<Exclude>,
    /// Rules whose level differs from the default.
    #[serde(default, rename = "override")]
    pub overrides: Vec<Override>,
    /// `[service]`: the service the generated alert rules are for (see [`crate::slo`]).
    #[serde(default)]
    pub service: Option<crate::slo::ServiceSettings>,
    /// `[[slo]]`: service-level objectives (see [`crate::slo`]).
    #[serde(default)]
    pub slo: Vec<crate::slo::Slo>,
}

/// `[check]`: what the checks need to know about the service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckSettings {
    /// Fields that carry a resource id (lines with them go to per-resource logs).
    /// Default: `["instance_id"]`.
    pub resource_fields: Vec<String>,
    /// Distinct values one label may have in one family before `metric.high-cardinality`.
    /// Default: 100.
    pub max_label_values: usize,
}

impl Default for CheckSettings {
    fn default() -> CheckSettings {
        CheckSettings {
            resource_fields: vec!["instance_id".to_owned()],
            max_label_values: 100,
        }
    }
}

/// `[[exclude]]`: findings of `rule` (about `name`, if given) are not reported.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exclude {
    /// A rule id (see `watchpost explain`).
    pub rule: String,
    /// A signal name pattern; `*` matches any run of characters. Default: every name.
    #[serde(default)]
    pub name: Option<String>,
    /// Why (required, non-empty): shown in the report next to the excluded count.
    pub reason: String,
}

/// `[[override]]`: findings of `rule` are reported at `level`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    /// A rule id.
    pub rule: String,
    /// `violation`, `improvement` or `information`.
    pub level: String,
    /// Why (required, non-empty).
    pub reason: String,
}

impl Config {
    /// Reads and validates a `watchpost.toml`.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::new(format!("cannot read '{}': {e}", path.display())))?;
        Config::parse(&text).map_err(|e| {
            Error::new(format!("'{}': {}", path.display(), e.message()))
                .hint("see `watchpost explain` for the rule ids; every exclusion and override needs a reason")
        })
    }

    /// Parses and validates the text of a `watchpost.toml`.
    ///
    /// ```
    /// use watchpost_cli::config::Config;
    /// let c = Config::parse("[[exclude]]\nrule = \"metric.no-help\"\nreason = \"vendored\"\n").unwrap();
    /// assert_eq!(c.exclude.len(), 1);
    /// let e = Config::parse("[[exclude]]\nrule = \"metric.no-help\"\nreason = \"\"\n").unwrap_err();
    /// assert!(e.to_string().contains("reason"));
    /// let e = Config::parse("[[exclude]]\nrule = \"metric.nope\"\nreason = \"x\"\n").unwrap_err();
    /// assert!(e.to_string().contains("unknown rule 'metric.nope'"));
    /// ```
    pub fn parse(text: &str) -> Result<Config> {
        let config: Config =
            toml::from_str(text).map_err(|e| Error::new(e.message().to_owned()))?;
        for (i, ex) in config.exclude.iter().enumerate() {
            check_rule(&ex.rule, &format!("exclude[{i}]"))?;
            check_reason(&ex.reason, &format!("exclude[{i}] ({})", ex.rule))?;
        }
        for (i, ov) in config.overrides.iter().enumerate() {
            check_rule(&ov.rule, &format!("override[{i}]"))?;
            check_reason(&ov.reason, &format!("override[{i}] ({})", ov.rule))?;
            if Level::parse(&ov.level).is_none() {
                return Err(Error::new(format!(
                    "override[{i}] ({}): unknown level '{}'; allowed: violation, improvement, information",
                    ov.rule, ov.level
                )));
            }
        }
        crate::slo::validate(&config)?;
        Ok(config)
    }

    /// The exclusion that covers a finding of `rule` about `name`, if any.
    pub fn excluded(&self, rule: &str, name: &str) -> Option<&Exclude> {
        self.exclude
            .iter()
            .find(|e| e.rule == rule && e.name.as_deref().is_none_or(|p| glob(p, name)))
    }

    /// The level findings of `rule` are reported at.
    pub fn level(&self, rule: &rules::Rule) -> Level {
        self.overrides
            .iter()
            .rev()
            .find(|o| o.rule == rule.id)
            .and_then(|o| Level::parse(&o.level))
            .unwrap_or(rule.level)
    }
}

fn check_rule(id: &str, at: &str) -> Result<()> {
    if rules::by_id(id).is_none() {
        return Err(Error::new(format!("{at}: unknown rule '{id}'")));
    }
    Ok(())
}

fn check_reason(reason: &str, at: &str) -> Result<()> {
    if reason.trim().is_empty() {
        return Err(Error::new(format!("{at}: the reason is empty; say why")));
    }
    Ok(())
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (i, part) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_prefixes_suffixes_and_middles() {
        assert!(glob("go_*", "go_gc_duration_seconds"));
        assert!(!glob("go_*", "process_go"));
        assert!(glob("*_total", "a_total"));
        assert!(glob("a*c*e", "abcde"));
        assert!(!glob("a*c*e", "abcdef"));
        assert!(glob("exact", "exact"));
        assert!(!glob("exact", "exactly"));
        assert!(glob("*", ""));
    }

    #[test]
    fn the_last_override_wins_and_unknown_keys_are_refused() {
        let c = Config::parse(
            "[[override]]\nrule = \"log.trace-level\"\nlevel = \"information\"\nreason = \"a\"\n\
             [[override]]\nrule = \"log.trace-level\"\nlevel = \"improvement\"\nreason = \"b\"\n",
        )
        .unwrap();
        assert_eq!(c.level(&rules::LOG_TRACE_LEVEL), Level::Improvement);
        assert!(Config::parse("[check]\nresource_field = []\n").is_err());
    }
}
