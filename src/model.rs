//! Plain, validated values shared by every layer: a published `Version`, a traffic
//! `Weight`, a `Target` (function + alias) and a `UtcTime`. Each is parsed once at
//! the edge and cannot hold an invalid value afterwards.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Serialize, Serializer};
use thiserror::Error;

/// A value that failed validation; the message says what is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

/// A value of the caller's, quoted for an error message: at most 60 characters,
/// so a huge field never turns into a huge (and logged) message.
pub fn shown(s: &str) -> String {
    const MAX: usize = 60;
    let n = s.chars().count();
    if n <= MAX {
        return format!("{s:?}");
    }
    let head: String = s.chars().take(MAX).collect();
    format!("{head:?}… ({n} characters)")
}

/// A message cut to `max` characters: the catch-all for messages that quote
/// more than one value of the caller's (or a parser's error that quotes one).
pub fn clipped(message: String, max: usize) -> String {
    if message.chars().count() <= max {
        return message;
    }
    let mut out: String = message.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A published Lambda version number. `$LATEST` and aliases are not versions:
/// an alias can only route between published, immutable versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(u64);

impl Version {
    pub fn new(n: u64) -> Result<Self, InvalidValue> {
        if n == 0 {
            return Err(InvalidValue(
                "version 0 does not exist: published versions start at 1".into(),
            ));
        }
        Ok(Self(n))
    }

    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("$LATEST") {
            return Err(InvalidValue(
                "version \"$LATEST\" cannot be rolled out: publish it first \
                 (aws lambda publish-version) and give the version number it returns"
                    .into(),
            ));
        }
        match s.parse::<u64>() {
            Ok(n) if !s.starts_with('+') => Self::new(n),
            _ => Err(InvalidValue(format!(
                "version {} is not a published version number: give a number such as \"7\" \
                 (aws lambda list-versions-by-function lists them)",
                shown(s)
            ))),
        }
    }

    pub fn number(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Traffic share in percent, held as hundredths of a percent so that comparisons
/// are exact: AWS stores a float fraction whose precision is undocumented, and a
/// weight read back must compare equal to the one written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Weight(u32);

impl Weight {
    pub const ZERO: Weight = Weight(0);
    pub const FULL: Weight = Weight(10_000);

    pub fn from_percent(p: f64) -> Result<Self, InvalidValue> {
        if !p.is_finite() || !(0.0..=100.0).contains(&p) {
            return Err(InvalidValue(format!(
                "weight {p} is out of range: give a percent from 0 to 100"
            )));
        }
        Ok(Self((p * 100.0).round() as u32))
    }

    /// From AWS's `AdditionalVersionWeights` fraction (0.0 to 1.0).
    pub fn from_fraction(f: f64) -> Result<Self, InvalidValue> {
        if !f.is_finite() || !(0.0..=1.0).contains(&f) {
            return Err(InvalidValue(format!(
                "routing weight {f} is not a fraction between 0 and 1"
            )));
        }
        // Down, not to the nearest: a weight set by hand (0.21406) is adopted
        // and written back, and must never come back larger (0.2141) than the
        // human left it. The tolerance (a thousandth of a hundredth of a
        // percent) keeps a float a hair under what was written (0.0999999 for
        // 10%) at its value.
        Ok(Self((f * 10_000.0 + 1e-3).floor() as u32))
    }

    pub fn from_hundredths(h: u32) -> Option<Self> {
        (h <= 10_000).then_some(Self(h))
    }

    pub fn hundredths(self) -> u32 {
        self.0
    }

    pub fn percent(self) -> f64 {
        f64::from(self.0) / 100.0
    }

    pub fn fraction(self) -> f64 {
        f64::from(self.0) / 10_000.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for Weight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_multiple_of(100) {
            write!(f, "{}%", self.0 / 100)
        } else {
            write!(f, "{}%", self.percent())
        }
    }
}

impl Serialize for Weight {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.percent())
    }
}

/// A managed (function, alias) pair.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Target {
    pub function: String,
    pub alias: String,
}

impl Target {
    pub fn new(function: &str, alias: &str) -> Result<Self, InvalidValue> {
        let function = function.trim();
        let alias = alias.trim();
        let fn_ok = !function.is_empty()
            && function.len() <= 140
            && function
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':'));
        if !fn_ok {
            return Err(InvalidValue(format!(
                "function {} is not a Lambda function name: use the name (letters, \
                 digits, - and _, at most 64 characters) or its ARN",
                shown(function)
            )));
        }
        if function.matches(':').count() > 6 {
            return Err(InvalidValue(format!(
                "function {} looks like a qualified ARN: give the unqualified function \
                 name and the alias separately",
                shown(function)
            )));
        }
        let alias_ok = !alias.is_empty()
            && alias.len() <= 128
            && alias
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
            && !alias.chars().all(|c| c.is_ascii_digit());
        if !alias_ok {
            return Err(InvalidValue(format!(
                "alias {} is not a Lambda alias name: 1 to 128 letters, digits, - or _, \
                 not all digits (\"$LATEST\" and version numbers are not aliases)",
                shown(alias)
            )));
        }
        Ok(Self {
            function: function.to_string(),
            alias: alias.to_string(),
        })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.function, self.alias)
    }
}

/// Seconds since the Unix epoch, UTC. The engine never reads a clock: callers pass
/// one of these in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcTime(i64);

impl UtcTime {
    pub fn from_unix(secs: i64) -> Self {
        Self(secs)
    }

    pub fn now() -> Self {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Self(d.as_secs() as i64)
    }

    pub fn unix(self) -> i64 {
        self.0
    }

    pub fn parse_rfc3339(s: &str) -> Result<Self, InvalidValue> {
        let t = humantime::parse_rfc3339_weak(s.trim()).map_err(|e| {
            InvalidValue(format!(
                "time {} is not an RFC 3339 UTC time ({e}): write it like 2026-11-27T13:05:00Z",
                shown(s)
            ))
        })?;
        let secs = t
            .duration_since(UNIX_EPOCH)
            .map_err(|_| {
                InvalidValue(format!(
                    "time {} is before 1970: write a time such as 2026-11-27T13:05:00Z",
                    shown(s)
                ))
            })?
            .as_secs();
        Ok(Self(secs as i64))
    }

    pub fn plus(self, d: Duration) -> Self {
        Self(self.0 + d.as_secs() as i64)
    }

    pub fn minus(self, d: Duration) -> Self {
        Self(self.0 - d.as_secs() as i64)
    }

    /// Whole seconds from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: UtcTime) -> Duration {
        Duration::from_secs((self.0 - earlier.0).max(0) as u64)
    }

    /// Start of the minute this instant falls in (CloudWatch's 1-minute buckets).
    pub fn floor_minute(self) -> Self {
        Self(self.0.div_euclid(60) * 60)
    }
}

impl fmt::Display for UtcTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = UNIX_EPOCH + Duration::from_secs(self.0.max(0) as u64);
        write!(f, "{}", humantime::format_rfc3339_seconds(t))
    }
}

impl Serialize for UtcTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// "90s", "5m", "1h30m": the duration format of policies and of the `bake` field.
pub fn parse_duration(s: &str) -> Result<Duration, InvalidValue> {
    let d = humantime::parse_duration(s.trim()).map_err(|e| {
        InvalidValue(format!(
            "duration {} is not understood ({e}): write it like \"30s\", \"5m\" or \"1h30m\"",
            shown(s)
        ))
    })?;
    if d.subsec_nanos() != 0 {
        return Err(InvalidValue(format!(
            "duration {} has a fraction of a second: use whole seconds",
            shown(s)
        )));
    }
    Ok(d)
}

/// The inverse of [`parse_duration`], shortest form: 300 s -> "5m".
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s == 0 {
        return "0s".into();
    }
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if sec > 0 {
        out.push_str(&format!("{sec}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_refuse() {
        assert_eq!(Version::parse("7").unwrap().number(), 7);
        assert_eq!(Version::parse(" 12 ").unwrap().to_string(), "12");
        for bad in [
            "$LATEST", "$latest", "", "0", "-1", "+3", "v2", "live", "1.5",
        ] {
            let err = Version::parse(bad).unwrap_err().0;
            assert!(!err.is_empty(), "{bad}");
        }
        assert!(Version::parse("$LATEST")
            .unwrap_err()
            .0
            .contains("publish-version"));
    }

    #[test]
    fn weights_round_trip_exactly() {
        let w = Weight::from_percent(12.345).unwrap();
        assert_eq!(w.hundredths(), 1235);
        assert_eq!(Weight::from_fraction(w.fraction()).unwrap(), w);
        // AWS may hand back a float that is not exactly what was written.
        for near in [0.100000001, 0.0999999] {
            assert_eq!(
                Weight::from_fraction(near).unwrap(),
                Weight::from_percent(10.0).unwrap()
            );
        }
        // Set by hand finer than we keep: adopted rounded down, never up.
        assert_eq!(Weight::from_fraction(0.21406).unwrap().hundredths(), 2140);
        assert_eq!(Weight::from_percent(10.0).unwrap().to_string(), "10%");
        assert_eq!(Weight::from_percent(2.5).unwrap().to_string(), "2.5%");
        for bad in [-0.01, 100.01, f64::NAN, f64::INFINITY] {
            assert!(Weight::from_percent(bad).is_err(), "{bad}");
        }
        assert!(Weight::from_fraction(1.5).is_err());
    }

    #[test]
    fn targets_validate_names() {
        assert!(Target::new("hello", "live").is_ok());
        assert!(Target::new(
            "arn:aws:lambda:us-east-1:123456789012:function:hello",
            "live"
        )
        .is_ok());
        for (f, a) in [
            ("", "live"),
            ("hello world", "live"),
            ("hello", ""),
            ("hello", "123"),
            ("hello", "$LATEST"),
            ("hello", "a/b"),
        ] {
            assert!(Target::new(f, a).is_err(), "{f} {a}");
        }
    }

    #[test]
    fn times_and_durations() {
        let t = UtcTime::parse_rfc3339("2026-11-27T13:05:30Z").unwrap();
        assert_eq!(t.to_string(), "2026-11-27T13:05:30Z");
        assert_eq!(t.floor_minute().to_string(), "2026-11-27T13:05:00Z");
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_secs(45)), "45s");
        assert!(parse_duration("five minutes").is_err());
        assert!(parse_duration("1.5s").is_err());
        assert!(UtcTime::parse_rfc3339("yesterday").is_err());
    }
}
