//! Self-service onboarding (README, Onboarding): a function tagged
//! `lambda-rollout:alias = ALIAS` is managed with no change to
//! lambda-rollout's stack, by the policy its team keeps in the SSM parameter
//! its `lambda-rollout:policy` tag names (else the orchestrator's policy).
//!
//! Why an SSM parameter: a tag value holds at most 256 characters and none of
//! `{ } " ,`, so a policy does not fit in tags; a parameter belongs to the
//! team's own stack (`AWS::SSM::Parameter`, changed with its deploys), holds
//! 4 KB of JSON, and is read ten at a time, outside Lambda's quota. The
//! names are held under one prefix, which is what the orchestrator's role may
//! read.
//!
//! The tagged functions are found with the Resource Groups Tagging API and
//! kept for `interval` between ticks ([`Catalog`]): a warm orchestrator asks
//! once every few minutes, not every tick.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use crate::command::TargetSpec;
use crate::model::{shown, Target, UtcTime};
use crate::ports::Discover;
pub use crate::ports::{ParameterText, Tagged};
use crate::report::{Reported, TargetResult};

/// The tag that onboards a function: its value is the alias to manage.
pub const ALIAS_TAG: &str = "lambda-rollout:alias";
/// The tag that names the team's policy: an SSM parameter under
/// [`PARAMETER_PREFIX`].
pub const POLICY_TAG: &str = "lambda-rollout:policy";
/// Where policy parameters live: the orchestrator's role reads these alone.
pub const PARAMETER_PREFIX: &str = "/lambda-rollout/";

/// A tagged function whose tags or policy do not say what to do: reported
/// at every tick, never read nor written, until its team fixes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub function: String,
    pub alias: String,
    pub reason: String,
}

impl Refusal {
    /// What a tick reports for it.
    pub fn result(&self) -> TargetResult {
        let target = Target {
            function: self.function.clone(),
            alias: self.alias.clone(),
            home: None,
        };
        TargetResult::failed(&target, Reported::Error, None, self.reason.clone(), false)
    }
}

/// A tagged function as lambda-rollout takes it.
#[derive(Debug, Clone, PartialEq)]
pub enum Onboarded {
    /// Managed, by its team's policy (empty: the orchestrator's). Boxed: a
    /// policy is large beside a refusal.
    Managed(Box<TargetSpec>),
    Refused(Refusal),
}

/// The target a function's tags name, and the policy parameter if one is
/// named: read_tags is rule O1 of README's Onboarding.
pub fn read_tags(t: &Tagged) -> Result<(Target, Option<String>), Refusal> {
    let function = t.arn.rsplit(':').next().unwrap_or(&t.arn).to_string();
    let alias = t.tag(ALIAS_TAG).unwrap_or_default().trim();
    let refuse = |reason: String| Refusal {
        function: function.clone(),
        alias: alias.to_string(),
        reason,
    };
    let target = Target::new(&t.arn, alias).map_err(|e| {
        refuse(format!(
            "tag {ALIAS_TAG}: {e}; set it to the alias to roll out"
        ))
    })?;
    let parameter = match t.tag(POLICY_TAG).map(str::trim) {
        None | Some("") => None,
        Some(p) => {
            policy_parameter_ok(p).map_err(|e| refuse(format!("tag {POLICY_TAG}: {e}")))?;
            Some(p.to_string())
        }
    };
    Ok((target, parameter))
}

/// Rule O2: a policy parameter is named in full under [`PARAMETER_PREFIX`]:
/// the orchestrator may read nothing else, and saying so beats AccessDenied.
pub fn policy_parameter_ok(name: &str) -> Result<(), String> {
    let rest = name.strip_prefix(PARAMETER_PREFIX).unwrap_or_default();
    let chars_ok = rest
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/'));
    if rest.is_empty() || !chars_ok || rest.ends_with('/') || rest.contains("//") {
        return Err(format!(
            "{} is not an SSM parameter name under {PARAMETER_PREFIX} (letters, digits, \
             _ . - /): name your team's policy parameter {PARAMETER_PREFIX}YOUR-NAME",
            shown(name)
        ));
    }
    Ok(())
}

/// Rule O3: every tagged function, managed by its policy or refused with the
/// reason; `policies` holds each named parameter's text (None: it does not
/// exist). `parse` turns a text into a policy, or says what is wrong with it.
pub fn onboard(
    tagged: &[Tagged],
    policies: &HashMap<String, ParameterText>,
    parse: impl Fn(&str) -> Result<crate::policy::PolicySpec, String>,
) -> Vec<Onboarded> {
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(tagged.len());
    for t in tagged {
        let (target, parameter) = match read_tags(t) {
            Ok(x) => x,
            Err(refused) => {
                out.push(Onboarded::Refused(refused));
                continue;
            }
        };
        // One function, one alias: the tagging API names each function once,
        // but a repeat would be ticked twice.
        if !seen.insert(target.clone()) {
            continue;
        }
        let refuse = |reason: String| {
            Onboarded::Refused(Refusal {
                function: target.function.clone(),
                alias: target.alias.clone(),
                reason,
            })
        };
        let policy = match &parameter {
            None => Ok(Default::default()),
            Some(name) => match policies.get(name) {
                Some(Some(text)) => parse(text)
                    .map_err(|e| refuse(format!("policy parameter {name}: {e}; fix its value"))),
                _ => Err(refuse(format!(
                    "policy parameter {name} (tag {POLICY_TAG}) does not exist: create it \
                     with the policy's JSON, or remove the tag for the orchestrator's policy"
                ))),
            },
        };
        match policy {
            Ok(policy) => out.push(Onboarded::Managed(Box::new(TargetSpec {
                target,
                policy,
                group: None,
            }))),
            Err(refused) => out.push(refused),
        }
    }
    out
}

/// The parameters the tags name, each once, in order.
pub fn parameters_named(tagged: &[Tagged]) -> Vec<String> {
    let mut seen = HashSet::new();
    tagged
        .iter()
        .filter_map(|t| read_tags(t).ok().and_then(|(_, p)| p))
        .filter(|p| seen.insert(p.clone()))
        .collect()
}

/// Rule O4: the targets a tick manages: the configured ones as configured,
/// then every onboarded one not already among them (the platform team's
/// `TargetsJson` wins over a team's tags), and the refused to report.
pub fn merge(
    configured: &[TargetSpec],
    onboarded: &[Onboarded],
) -> (Vec<TargetSpec>, Vec<TargetResult>) {
    let mut targets: Vec<TargetSpec> = configured.to_vec();
    let known: HashSet<Target> = configured.iter().map(|s| s.target.clone()).collect();
    let mut refused = Vec::new();
    for o in onboarded {
        match o {
            Onboarded::Managed(spec) if !known.contains(&spec.target) => {
                targets.push((**spec).clone())
            }
            Onboarded::Managed(_) => {}
            Onboarded::Refused(r) => refused.push(r.result()),
        }
    }
    (targets, refused)
}

/// How long a discovery stands, by default: a team that tags a function
/// waits at most this for its first tick.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);

struct Found {
    at: UtcTime,
    onboarded: Arc<[Onboarded]>,
    /// An event said the tags changed: found again at the next look.
    expired: bool,
}

/// The tagged functions, found at most once per `interval`. A discovery that
/// fails keeps the last one (a rollout under way is not dropped for one
/// failed call); with none yet, no function is onboarded this tick.
pub struct Catalog<D> {
    source: D,
    interval: Duration,
    parse: fn(&str) -> Result<crate::policy::PolicySpec, String>,
    found: tokio::sync::Mutex<Option<Found>>,
}

impl<D: Discover> Catalog<D> {
    pub fn new(
        source: D,
        interval: Duration,
        parse: fn(&str) -> Result<crate::policy::PolicySpec, String>,
    ) -> Self {
        Self {
            source,
            interval,
            parse,
            found: tokio::sync::Mutex::new(None),
        }
    }

    /// The onboarded functions as of `now`. One caller discovers at a time:
    /// the lock is held across the calls, so concurrent ticks share one.
    pub async fn current(&self, now: UtcTime) -> Arc<[Onboarded]> {
        let mut found = self.found.lock().await;
        if let Some(f) = found.as_ref().filter(|f| !f.expired) {
            let age = now.unix().saturating_sub(f.at.unix());
            if age >= 0 && (age as u64) < self.interval.as_secs() {
                return f.onboarded.clone();
            }
        }
        match self.discover().await {
            Ok(onboarded) => {
                tracing::info!(functions = onboarded.len(), "tagged functions discovered");
                let onboarded: Arc<[Onboarded]> = onboarded.into();
                *found = Some(Found {
                    at: now,
                    onboarded: onboarded.clone(),
                    expired: false,
                });
                onboarded
            }
            Err(e) => {
                let last = found.as_ref().map(|f| f.onboarded.clone());
                tracing::warn!(
                    error = %e,
                    kept = last.as_ref().map_or(0, |l| l.len()),
                    "tagged functions not discovered; the last discovery stands"
                );
                last.unwrap_or_else(|| Vec::new().into())
            }
        }
    }

    /// A tag changed: the next look discovers again (the last discovery
    /// stands if that fails).
    pub async fn expire(&self) {
        if let Some(f) = self.found.lock().await.as_mut() {
            f.expired = true;
        }
    }

    async fn discover(&self) -> Result<Vec<Onboarded>, crate::ports::DiscoveryError> {
        let tagged = self.source.tagged(ALIAS_TAG).await?;
        let names = parameters_named(&tagged);
        let policies = if names.is_empty() {
            HashMap::new()
        } else {
            self.source.parameters(&names).await?
        };
        Ok(onboard(&tagged, &policies, self.parse))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::PolicySpec;
    use crate::ports::DiscoveryError;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    fn tagged(name: &str, tags: &[(&str, &str)]) -> Tagged {
        Tagged {
            arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{name}"),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn parse(text: &str) -> Result<PolicySpec, String> {
        crate::config::policy_text(text)
    }

    #[test]
    fn the_alias_tag_names_the_target_and_the_policy_tag_its_parameter() {
        let t = tagged(
            "checkout",
            &[
                (ALIAS_TAG, "live"),
                (POLICY_TAG, "/lambda-rollout/checkout"),
            ],
        );
        let (target, p) = read_tags(&t).unwrap();
        assert_eq!(target, Target::new("checkout", "live").unwrap());
        assert_eq!(p.as_deref(), Some("/lambda-rollout/checkout"));
        let (_, p) = read_tags(&tagged("a", &[(ALIAS_TAG, "live")])).unwrap();
        assert_eq!(p, None);
    }

    #[test]
    fn bad_tags_are_refused_with_what_to_fix() {
        for (tags, says) in [
            (vec![(ALIAS_TAG, "$LATEST")], "tag lambda-rollout:alias"),
            (vec![(ALIAS_TAG, "12")], "not all digits"),
            (vec![(ALIAS_TAG, "")], "tag lambda-rollout:alias"),
            (
                vec![(ALIAS_TAG, "live"), (POLICY_TAG, "/other/team")],
                "under /lambda-rollout/",
            ),
            (
                vec![(ALIAS_TAG, "live"), (POLICY_TAG, "/lambda-rollout/")],
                "YOUR-NAME",
            ),
            (
                vec![(ALIAS_TAG, "live"), (POLICY_TAG, "/lambda-rollout/a b")],
                "not an SSM parameter name",
            ),
        ] {
            let Err(Refusal {
                function, reason, ..
            }) = read_tags(&tagged("f", &tags))
            else {
                panic!("{tags:?} accepted")
            };
            assert_eq!(function, "f");
            assert!(reason.contains(says), "{tags:?}: {reason}");
            assert!(reason.len() < 400, "{reason}");
        }
    }

    #[test]
    fn each_function_gets_its_own_policy_or_a_reason() {
        let ts = vec![
            tagged(
                "a",
                &[(ALIAS_TAG, "live"), (POLICY_TAG, "/lambda-rollout/a")],
            ),
            tagged(
                "b",
                &[(ALIAS_TAG, "live"), (POLICY_TAG, "/lambda-rollout/missing")],
            ),
            tagged(
                "c",
                &[(ALIAS_TAG, "live"), (POLICY_TAG, "/lambda-rollout/bad")],
            ),
            tagged("d", &[(ALIAS_TAG, "prod")]),
            tagged("d", &[(ALIAS_TAG, "prod")]),
        ];
        assert_eq!(
            parameters_named(&ts),
            [
                "/lambda-rollout/a",
                "/lambda-rollout/missing",
                "/lambda-rollout/bad"
            ]
        );
        let policies: HashMap<String, ParameterText> = [
            (
                "/lambda-rollout/a".to_string(),
                Some(r#"{"bake":"2m"}"#.to_string()),
            ),
            ("/lambda-rollout/missing".to_string(), None),
            (
                "/lambda-rollout/bad".to_string(),
                Some(r#"{"steps":[50,10]}"#.to_string()),
            ),
        ]
        .into_iter()
        .collect();
        let out = onboard(&ts, &policies, parse);
        assert_eq!(out.len(), 4, "the repeated function once: {out:?}");
        let Onboarded::Managed(a) = &out[0] else {
            panic!("{out:?}")
        };
        assert_eq!(a.policy.bake.as_deref(), Some("2m"));
        let reason = |o: &Onboarded| match o {
            Onboarded::Refused(r) => r.reason.clone(),
            m => panic!("managed: {m:?}"),
        };
        assert!(
            reason(&out[1]).contains("does not exist"),
            "{}",
            reason(&out[1])
        );
        assert!(reason(&out[2]).contains("policy parameter /lambda-rollout/bad"));
        assert!(reason(&out[2]).contains("strictly"), "{}", reason(&out[2]));
        let Onboarded::Managed(d) = &out[3] else {
            panic!("{out:?}")
        };
        assert_eq!(d.target.alias, "prod");
        assert_eq!(d.policy, PolicySpec::default());
    }

    #[test]
    fn configured_targets_win_over_tags_and_refusals_are_reported() {
        let configured = vec![TargetSpec {
            target: Target::new("a", "live").unwrap(),
            policy: parse(r#"{"bake":"9m"}"#).unwrap(),
            group: None,
        }];
        let onboarded = onboard(
            &[
                tagged("a", &[(ALIAS_TAG, "live")]),
                tagged("b", &[(ALIAS_TAG, "live")]),
                tagged("c", &[(ALIAS_TAG, "0")]),
            ],
            &HashMap::new(),
            parse,
        );
        let (targets, refused) = merge(&configured, &onboarded);
        let names: Vec<String> = targets.iter().map(|s| s.target.to_string()).collect();
        assert_eq!(names, ["a:live", "b:live"]);
        assert_eq!(targets[0].policy.bake.as_deref(), Some("9m"));
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].function, "c");
        assert_eq!(refused[0].decision, Reported::Error);
        assert!(!refused[0].changed);
    }

    /// Counts its calls; answers from a list that the test changes.
    #[derive(Default)]
    struct Source {
        calls: AtomicUsize,
        answer: Mutex<Option<Vec<Tagged>>>,
    }

    impl Discover for &Source {
        async fn tagged(&self, _: &str) -> Result<Vec<Tagged>, DiscoveryError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.answer
                .lock()
                .unwrap()
                .clone()
                .ok_or_else(|| DiscoveryError::new("GetResources", "throttled"))
        }
        async fn parameters(
            &self,
            names: &[String],
        ) -> Result<HashMap<String, ParameterText>, DiscoveryError> {
            Ok(names.iter().map(|n| (n.clone(), None)).collect())
        }
    }

    #[tokio::test]
    async fn a_discovery_stands_for_its_interval_and_outlives_a_failed_one() {
        let source = Source::default();
        *source.answer.lock().unwrap() = Some(vec![tagged("a", &[(ALIAS_TAG, "live")])]);
        let catalog = Catalog::new(&source, Duration::from_secs(300), parse);
        let t0 = UtcTime::from_unix(1_800_000_000);
        assert_eq!(catalog.current(t0).await.len(), 1);
        assert_eq!(
            catalog
                .current(t0.plus(Duration::from_secs(299)))
                .await
                .len(),
            1
        );
        assert_eq!(source.calls.load(Ordering::SeqCst), 1, "cached");
        // Expired and the call fails: the last discovery stands.
        *source.answer.lock().unwrap() = None;
        let later = t0.plus(Duration::from_secs(300));
        assert_eq!(catalog.current(later).await.len(), 1);
        assert_eq!(source.calls.load(Ordering::SeqCst), 2);
        // It answers again: the new list, and a missing parameter refused.
        *source.answer.lock().unwrap() = Some(vec![
            tagged("a", &[(ALIAS_TAG, "live")]),
            tagged(
                "b",
                &[(ALIAS_TAG, "live"), (POLICY_TAG, "/lambda-rollout/b")],
            ),
        ]);
        let now = catalog.current(later.plus(Duration::from_secs(1))).await;
        assert_eq!(now.len(), 2);
        assert!(matches!(now[1], Onboarded::Refused(_)));
        // A tag changed: found again at once, not at the interval's end.
        let calls = source.calls.load(Ordering::SeqCst);
        catalog.expire().await;
        catalog.current(later.plus(Duration::from_secs(2))).await;
        assert_eq!(source.calls.load(Ordering::SeqCst), calls + 1);
        // Never discovered and failing: nothing onboarded, nothing panics.
        let empty = Source::default();
        let catalog = Catalog::new(&empty, Duration::from_secs(300), parse);
        assert!(catalog.current(t0).await.is_empty());
    }
}
