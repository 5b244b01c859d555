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

/// A number of the caller's, for a message: 1e-300 as `1e-300`, not as 300
/// zeros.
pub fn number(x: f64) -> String {
    if x != 0.0 && x.is_finite() && (x.abs() < 1e-3 || x.abs() >= 1e9) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
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

    /// Whether `p` percent is kept exactly: weights are hundredths of a
    /// percent, and a finer one would be stored rounded.
    pub fn is_exact_percent(p: f64) -> bool {
        let hundredths = p * 100.0;
        (hundredths - hundredths.round()).abs() <= 1e-6
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

/// Where a function named by ARN says it lives. lambda-rollout calls Lambda
/// and CloudWatch in the account and region of its own credentials, by the
/// function's plain name (the only form CloudWatch's `FunctionName` dimension
/// knows): the alias store checks the alias it reads against this, so an ARN
/// of another account or region is refused instead of silently standing for a
/// same-named function here.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ArnHome {
    /// `aws`, `aws-cn`, ...; absent in a partial ARN.
    pub partition: Option<String>,
    /// Absent in a partial ARN.
    pub region: Option<String>,
    pub account: String,
    /// The function as the caller wrote it, for messages.
    pub given: String,
}

/// A managed (function, alias) pair. `function` is the plain function name
/// whatever form the caller used (name, full ARN, partial ARN): one identity for
/// the API calls, the metric dimensions, duplicate detection and reports. Two
/// targets are the same target when their names and aliases are; `home` is
/// what an ARN claimed, checked when the alias is read.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub function: String,
    pub alias: String,
    /// Boxed: rare, and a `Target` travels in every error and result.
    #[serde(skip)]
    pub home: Option<Box<ArnHome>>,
}

impl PartialEq for Target {
    fn eq(&self, other: &Self) -> bool {
        self.function == other.function && self.alias == other.alias
    }
}

impl Eq for Target {}

impl std::hash::Hash for Target {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.function.hash(state);
        self.alias.hash(state);
    }
}

/// Lambda's limits: a function name of 1 to 64 characters, a function ARN of
/// at most 140 (GetAlias, UpdateAlias: FunctionName).
pub const MAX_FUNCTION_NAME: usize = 64;
pub const MAX_FUNCTION_ARN: usize = 140;
const FUNCTION_FORMS: &str = "use the name (1 to 64 letters, digits, - or _), its ARN \
     (arn:aws:lambda:REGION:ACCOUNT:function:NAME) or a partial ARN (ACCOUNT:function:NAME)";

fn is_name(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
}

/// A function named for lambda-rollout to invoke (a hook): its name, with
/// an alias or version if given (`smoke-test`, `smoke-test:live`). Names only:
/// the template's permissions are scoped by name.
pub fn invocable_function(s: &str) -> Result<(), InvalidValue> {
    let (name, qualifier) = match s.split_once(':') {
        Some((n, q)) => (n, Some(q)),
        None => (s, None),
    };
    let qualifier_ok = qualifier.is_none_or(|q| q == "$LATEST" || is_name(q, 128));
    if is_name(name, MAX_FUNCTION_NAME) && qualifier_ok {
        return Ok(());
    }
    Err(InvalidValue(format!(
        "function {} is not a Lambda function name: 1 to {MAX_FUNCTION_NAME} letters, digits, - \
         or _, optionally :ALIAS or :VERSION (\"smoke-test\", \"smoke-test:live\")",
        shown(s)
    )))
}

/// `us-east-1`, `us-gov-west-1`, `cn-north-1`, `us-isob-east-1`: Lambda's
/// region pattern.
fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let Some((last, rest)) = parts.split_last() else {
        return false;
    };
    let lower = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase());
    last.len() == 1
        && last.chars().all(|c| c.is_ascii_digit())
        && rest.len() >= 2
        && rest[0].len() == 2
        && rest.iter().all(|p| lower(p))
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.chars().all(|c| c.is_ascii_digit())
}

/// A function as the caller named it, taken apart: the plain name, where an
/// ARN says it lives, and a qualifier if one was given.
struct FunctionRef<'a> {
    name: &'a str,
    home: Option<Box<ArnHome>>,
    qualifier: Option<&'a str>,
}

fn function_ref(given: &str) -> Result<FunctionRef<'_>, InvalidValue> {
    let bad = |why: &str| {
        InvalidValue(format!(
            "function {} is not a Lambda function name or ARN ({why}): {FUNCTION_FORMS}",
            shown(given)
        ))
    };
    if given.chars().count() > MAX_FUNCTION_ARN {
        return Err(bad(&format!(
            "{} characters; Lambda takes at most {MAX_FUNCTION_ARN} for an ARN, \
             {MAX_FUNCTION_NAME} for a name",
            given.chars().count()
        )));
    }
    let parts: Vec<&str> = given.split(':').collect();
    let home = |partition: Option<&str>, region: Option<&str>, account: &str| {
        Box::new(ArnHome {
            partition: partition.map(str::to_string),
            region: region.map(str::to_string),
            account: account.to_string(),
            given: given.to_string(),
        })
    };
    let (name, home, qualifier) = match parts.as_slice() {
        [name] => (*name, None, None),
        [name, q] => (*name, None, Some(*q)),
        ["arn", partition, service, region, account, "function", rest @ ..]
            if matches!(rest.len(), 1 | 2) =>
        {
            if !partition.starts_with("aws") || *service != "lambda" {
                return Err(bad("an ARN of another service"));
            }
            if !is_region(region) {
                return Err(bad(&format!("{} is not a region", shown(region))));
            }
            if !is_account(account) {
                return Err(bad("the account is not 12 digits"));
            }
            (
                rest[0],
                Some(home(Some(partition), Some(region), account)),
                rest.get(1).copied(),
            )
        }
        [account, "function", rest @ ..] if matches!(rest.len(), 1 | 2) => {
            if !is_account(account) {
                return Err(bad("the account is not 12 digits"));
            }
            (
                rest[0],
                Some(home(None, None, account)),
                rest.get(1).copied(),
            )
        }
        _ => return Err(bad("not one of the forms Lambda accepts")),
    };
    if !is_name(name, MAX_FUNCTION_NAME) {
        let why = if name.len() > MAX_FUNCTION_NAME {
            format!(
                "the name is {} characters, at most {MAX_FUNCTION_NAME}",
                name.len()
            )
        } else {
            "a name holds only letters, digits, - and _".to_string()
        };
        return Err(bad(&why));
    }
    Ok(FunctionRef {
        name,
        home,
        qualifier,
    })
}

/// A function in any form Lambda accepts (name, ARN, partial ARN, with or
/// without a qualifier), as the plain name every target is known by.
pub fn function_name(given: &str) -> Result<String, InvalidValue> {
    function_ref(given.trim()).map(|f| f.name.to_string())
}

fn alias_name_ok(alias: &str) -> bool {
    is_name(alias, 128) && !alias.chars().all(|c| c.is_ascii_digit())
}

impl Target {
    /// A number of this target's own, the same in every instance and every
    /// run (FNV-1a of its name): what spreads a fleet's periodic work (idle
    /// reads, tallies) over ticks instead of bunching it into one.
    pub fn slot(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self
            .function
            .bytes()
            .chain([b':'])
            .chain(self.alias.bytes())
        {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h
    }

    /// The function in any form Lambda accepts: `F`, `F:ALIAS`,
    /// `arn:aws:lambda:REGION:ACCOUNT:function:F[:ALIAS]`,
    /// `ACCOUNT:function:F[:ALIAS]`. A qualifier must name `alias` itself: a
    /// version or `$LATEST` is not something lambda-rollout can manage.
    pub fn new(function: &str, alias: &str) -> Result<Self, InvalidValue> {
        let function = function.trim();
        let alias = alias.trim();
        let f = function_ref(function)?;
        if !alias_name_ok(alias) {
            return Err(InvalidValue(format!(
                "alias {} is not a Lambda alias name: 1 to 128 letters, digits, - or _, \
                 not all digits (\"$LATEST\" and version numbers are not aliases)",
                shown(alias)
            )));
        }
        match f.qualifier {
            None => {}
            Some(q) if q == alias => {}
            Some(q) => {
                let what =
                    if q.eq_ignore_ascii_case("$LATEST") || q.chars().all(|c| c.is_ascii_digit()) {
                        format!("version {}", shown(q))
                    } else {
                        format!("alias {}", shown(q))
                    };
                return Err(InvalidValue(format!(
                    "function {} names {what}, but the alias is {}: give the unqualified \
                     function and the alias separately",
                    shown(function),
                    shown(alias)
                )));
            }
        }
        Ok(Self {
            function: f.name.to_string(),
            alias: alias.to_string(),
            home: f.home,
        })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.function, self.alias)
    }
}

/// A release group's name (README, Release groups): 1 to 32 letters, digits,
/// `-` or `_`. Short, because every member's alias description carries it
/// beside the rollout's record in 256 characters; held inline (`Copy`), as
/// the record that carries it is.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupName {
    len: u8,
    bytes: [u8; GroupName::MAX],
}

impl GroupName {
    pub const MAX: usize = 32;

    pub fn new(s: &str) -> Result<Self, InvalidValue> {
        let s = s.trim();
        if !is_name(s, Self::MAX) {
            return Err(InvalidValue(format!(
                "group {} is not a group name: 1 to {} letters, digits, - or _ (\"checkout\")",
                shown(s),
                Self::MAX
            )));
        }
        let mut bytes = [0; Self::MAX];
        bytes[..s.len()].copy_from_slice(s.as_bytes());
        Ok(Self {
            len: s.len() as u8,
            bytes,
        })
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII letters, digits, - and _ are ever stored.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl fmt::Display for GroupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for GroupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl Serialize for GroupName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
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
    fn every_form_lambda_accepts_is_one_target() {
        let plain = Target::new("hello", "live").unwrap();
        assert_eq!(plain.home, None);
        for form in [
            "hello",
            "hello:live",
            "arn:aws:lambda:us-east-1:123456789012:function:hello",
            "arn:aws:lambda:us-east-1:123456789012:function:hello:live",
            "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:hello",
            "arn:aws-cn:lambda:cn-north-1:123456789012:function:hello",
            "123456789012:function:hello",
            "123456789012:function:hello:live",
            " hello ",
        ] {
            let t = Target::new(form, "live").unwrap_or_else(|e| panic!("{form}: {e}"));
            assert_eq!(t, plain, "{form}");
            assert_eq!(t.function, "hello", "{form}");
            assert_eq!(t.to_string(), "hello:live", "{form}");
        }
        let arn = Target::new(
            "arn:aws:lambda:eu-west-1:123456789012:function:hello",
            "live",
        )
        .unwrap();
        let home = arn.home.unwrap();
        assert_eq!(home.region.as_deref(), Some("eu-west-1"));
        assert_eq!(home.account, "123456789012");
        assert_eq!(home.partition.as_deref(), Some("aws"));
        let partial = Target::new("123456789012:function:hello", "live").unwrap();
        assert_eq!(partial.home.unwrap().region, None);
        // The longest name Lambda takes, and the longest ARN.
        assert!(Target::new(&"f".repeat(64), "live").is_ok());
        let long_arn = format!(
            "arn:aws:lambda:us-east-1:123456789012:function:{}",
            "f".repeat(64)
        );
        assert!(long_arn.len() <= MAX_FUNCTION_ARN);
        assert!(Target::new(&long_arn, "live").is_ok());
    }

    #[test]
    fn targets_refuse_what_lambda_refuses() {
        let cases = [
            ("", "live", "not a Lambda function name"),
            ("hello world", "live", "only letters, digits"),
            (
                &*"f".repeat(65),
                "live",
                "the name is 65 characters, at most 64",
            ),
            (&*"f".repeat(141), "live", "141 characters"),
            ("hello", "", "not a Lambda alias name"),
            ("hello", "123", "not a Lambda alias name"),
            ("hello", "$LATEST", "not a Lambda alias name"),
            ("hello", "a/b", "not a Lambda alias name"),
            (
                "hello:prod",
                "live",
                "names alias \"prod\", but the alias is \"live\"",
            ),
            ("hello:7", "live", "names version \"7\""),
            ("hello:$LATEST", "live", "names version \"$LATEST\""),
            ("123456789012:function:hello:7", "live", "names version"),
            (
                "arn:aws:lambda:us-east-1:123456789012:function:hello:prod",
                "live",
                "names alias",
            ),
            (
                "arn:aws:s3:us-east-1:123456789012:function:hello",
                "live",
                "another service",
            ),
            (
                "arn:aws:lambda:mars:123456789012:function:hello",
                "live",
                "\"mars\" is not a region",
            ),
            (
                "arn:aws:lambda:us-east-1:1234:function:hello",
                "live",
                "12 digits",
            ),
            (
                "arn:aws:lambda:us-east-1:123456789012:layer:hello",
                "live",
                "not one of the forms",
            ),
            ("function:hello", "live", "names alias \"hello\""),
            ("a:b:c", "live", "not one of the forms"),
            ("12345:function:hello", "live", "12 digits"),
        ];
        for (f, a, want) in cases {
            let e = Target::new(f, a).unwrap_err().0;
            assert!(e.contains(want), "{f} {a}: {e}");
            assert!(e.chars().count() < 400, "{f}: {e}");
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
