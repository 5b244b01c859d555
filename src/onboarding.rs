//! Self-service onboarding (README, Onboarding): a function tagged
//! `lambda-rollout:alias = ALIAS` is managed with no change to
//! lambda-rollout's stack, by the policy its team keeps in the SSM parameter
//! its `lambda-rollout:policy` tag names (else the orchestrator's policy).
//! Functions tagged `lambda-rollout:group = NAME` alike are one release group,
//! onboarded whole or not at all.
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
use crate::engine::state::MAX_MEMBERS;
use crate::model::{shown, GroupName, Target, UtcTime};
use crate::ports::Discover;
pub use crate::ports::{ParameterText, Tagged};
use crate::report::{Reported, TargetResult};

/// The tag that onboards a function: its value is the alias to manage.
pub const ALIAS_TAG: &str = "lambda-rollout:alias";
/// The tag that names the team's policy: an SSM parameter under
/// [`PARAMETER_PREFIX`].
pub const POLICY_TAG: &str = "lambda-rollout:policy";
/// The tag that makes a function a member of a release group (README,
/// Release groups): every function tagged with the same name is one.
pub const GROUP_TAG: &str = "lambda-rollout:group";
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

/// What a function's tags say.
#[derive(Debug, Clone, PartialEq)]
pub struct Tags {
    pub target: Target,
    /// The policy parameter, if one is named.
    pub parameter: Option<String>,
    pub group: Option<GroupName>,
}

/// The target a function's tags name, the policy parameter if one is
/// named, and its group if it has one: read_tags is rule O1 of README's
/// Onboarding.
pub fn read_tags(t: &Tagged) -> Result<Tags, Refusal> {
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
    let group = group_tag(t).map_err(|e| refuse(format!("tag {GROUP_TAG}: {e}")))?;
    Ok(Tags {
        target,
        parameter,
        group,
    })
}

/// The group a function's tag names; an empty value names none.
fn group_tag(t: &Tagged) -> Result<Option<GroupName>, String> {
    match t.tag(GROUP_TAG).map(str::trim) {
        None | Some("") => Ok(None),
        Some(g) => GroupName::new(g)
            .map(Some)
            .map_err(|e| format!("{}; tag every member with the same name", e.0)),
    }
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
    // Each group member's place in `out`, its group and its parameter.
    let mut grouped: Vec<(usize, GroupName, Option<String>)> = Vec::new();
    for t in tagged {
        let Tags {
            target,
            parameter,
            group,
        } = match read_tags(t) {
            Ok(x) => x,
            Err(refused) => {
                // A member refused for its own tags still refuses its group.
                if let Ok(Some(g)) = group_tag(t) {
                    grouped.push((out.len(), g, None));
                }
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
        if let Some(g) = group {
            grouped.push((out.len(), g, parameter.clone()));
        }
        match policy {
            Ok(policy) => out.push(Onboarded::Managed(Box::new(TargetSpec {
                target,
                policy,
                group,
            }))),
            Err(refused) => out.push(refused),
        }
    }
    rule_o5_groups_whole(&mut out, &grouped);
    out
}

/// Rule O5: a group is onboarded whole or not at all. Its members must name
/// one policy (the same parameter, or none: they are judged alike), be at
/// most [`MAX_MEMBERS`], and none of them be refused; otherwise every member
/// is refused, the reason saying which member and what to fix.
fn rule_o5_groups_whole(out: &mut [Onboarded], grouped: &[(usize, GroupName, Option<String>)]) {
    let mut done = HashSet::new();
    for g in grouped.iter().map(|(_, g, _)| *g) {
        if !done.insert(g) {
            continue;
        }
        let members: Vec<&(usize, GroupName, Option<String>)> =
            grouped.iter().filter(|(_, m, _)| *m == g).collect();
        let who = |i: usize| match &out[i] {
            Onboarded::Managed(s) => s.target.to_string(),
            Onboarded::Refused(r) => format!("{}:{}", r.function, r.alias),
        };
        let refused = members.iter().find_map(|(i, _, _)| match &out[*i] {
            Onboarded::Refused(r) => Some(format!(
                "group {g} is onboarded whole, and its member {} is refused: fix that                  member's tags or policy",
                who(*i)
            ))
            .filter(|_| !r.reason.is_empty()),
            Onboarded::Managed(_) => None,
        });
        let policies: HashSet<&Option<String>> = members.iter().map(|(_, _, p)| p).collect();
        let why = refused.or_else(|| {
            if members.len() > usize::from(MAX_MEMBERS) {
                Some(format!(
                    "group {g} has {} functions tagged {GROUP_TAG}: a group has at most                      {MAX_MEMBERS}; split it in two",
                    members.len()
                ))
            } else if policies.len() > 1 {
                let named = |p: &Option<String>| p.clone().unwrap_or_else(|| "none".into());
                let (a, b) = (members[0], members.iter().find(|m| m.2 != members[0].2)?);
                Some(format!(
                    "group {g}: its members name different policies ({} {}, {} {}): tag every                      member {POLICY_TAG} with the same parameter, or none",
                    who(a.0),
                    named(&a.2),
                    who(b.0),
                    named(&b.2)
                ))
            } else {
                None
            }
        });
        let Some(why) = why else { continue };
        for (i, _, _) in &members {
            if let Onboarded::Managed(s) = &out[*i] {
                out[*i] = Onboarded::Refused(Refusal {
                    function: s.target.function.clone(),
                    alias: s.target.alias.clone(),
                    reason: why.clone(),
                });
            }
        }
    }
}

/// The parameters the tags name, each once, in order.
pub fn parameters_named(tagged: &[Tagged]) -> Vec<String> {
    let mut seen = HashSet::new();
    tagged
        .iter()
        .filter_map(|t| read_tags(t).ok().and_then(|tags| tags.parameter))
        .filter(|p| seen.insert(p.clone()))
        .collect()
}

/// Rule O4: the targets a tick manages: the configured ones as configured,
/// then every onboarded one not already among them (the platform team's
/// `TargetsJson` wins over a team's tags), and the refused to report. A
/// tagged group is taken whole (O5): one that shares its name with a
/// configured group, or has a member that is configured, is refused whole
/// rather than rolled out without that member.
pub fn merge(
    configured: &[TargetSpec],
    onboarded: &[Onboarded],
) -> (Vec<TargetSpec>, Vec<TargetResult>) {
    let mut targets: Vec<TargetSpec> = configured.to_vec();
    let known: HashSet<Target> = configured.iter().map(|s| s.target.clone()).collect();
    let configured_groups: HashSet<GroupName> = configured.iter().filter_map(|s| s.group).collect();
    let clash = |g: GroupName| -> Option<String> {
        if configured_groups.contains(&g) {
            return Some(format!(
                "group {g} is configured in TargetsJson, which lists its members: add this                  function there, or tag the group by another name"
            ));
        }
        onboarded.iter().find_map(|o| match o {
            Onboarded::Managed(s) if s.group == Some(g) && known.contains(&s.target) => {
                Some(format!(
                    "group {g} is onboarded whole, and its member {} is configured in                      TargetsJson: remove it there or untag it",
                    s.target
                ))
            }
            _ => None,
        })
    };
    let mut refused = Vec::new();
    for o in onboarded {
        match o {
            Onboarded::Managed(spec) if known.contains(&spec.target) => {}
            Onboarded::Managed(spec) => match spec.group.and_then(clash) {
                None => targets.push((**spec).clone()),
                Some(why) => refused.push(
                    Refusal {
                        function: spec.target.function.clone(),
                        alias: spec.target.alias.clone(),
                        reason: why,
                    }
                    .result(),
                ),
            },
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
        let tags = read_tags(&t).unwrap();
        assert_eq!(tags.target, Target::new("checkout", "live").unwrap());
        assert_eq!(tags.parameter.as_deref(), Some("/lambda-rollout/checkout"));
        assert_eq!(tags.group, None);
        let tags = read_tags(&tagged("a", &[(ALIAS_TAG, "live")])).unwrap();
        assert_eq!(tags.parameter, None);
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

    fn member(name: &str, group: &str, policy: Option<&str>) -> Tagged {
        let mut tags = vec![(ALIAS_TAG, "live"), (GROUP_TAG, group)];
        if let Some(p) = policy {
            tags.push((POLICY_TAG, p));
        }
        tagged(name, &tags)
    }

    fn reasons(out: &[Onboarded]) -> Vec<String> {
        out.iter()
            .map(|o| match o {
                Onboarded::Refused(r) => r.reason.clone(),
                Onboarded::Managed(s) => format!("managed in {:?}", s.group.map(|g| g.to_string())),
            })
            .collect()
    }

    #[test]
    fn functions_tagged_with_one_group_are_onboarded_as_one_or_refused_whole() {
        let shared = Some("/lambda-rollout/checkout");
        let policies: HashMap<String, ParameterText> = [(
            "/lambda-rollout/checkout".to_string(),
            Some(r#"{"bake":"2m"}"#.to_string()),
        )]
        .into_iter()
        .collect();
        let cases: Vec<(&str, Vec<Tagged>, Vec<&str>)> = vec![
            (
                "one policy for all",
                vec![
                    member("api", "checkout", shared),
                    member("worker", "checkout", shared),
                    tagged("search", &[(ALIAS_TAG, "live")]),
                ],
                vec![
                    "managed in Some(\"checkout\")",
                    "managed in Some(\"checkout\")",
                    "managed in None",
                ],
            ),
            (
                "different policies",
                vec![
                    member("api", "checkout", shared),
                    member("worker", "checkout", None),
                    tagged("search", &[(ALIAS_TAG, "live")]),
                ],
                vec![
                    "different policies (api:live /lambda-rollout/checkout, worker:live none)",
                    "different policies",
                    "managed in None",
                ],
            ),
            (
                "a member's own tags refused",
                vec![
                    member("api", "checkout", shared),
                    tagged("worker", &[(ALIAS_TAG, "$LATEST"), (GROUP_TAG, "checkout")]),
                ],
                vec![
                    "its member worker:$LATEST is refused",
                    "tag lambda-rollout:alias",
                ],
            ),
            (
                "a member's parameter missing",
                vec![
                    member("api", "checkout", shared),
                    member("worker", "checkout", Some("/lambda-rollout/gone")),
                ],
                vec!["its member worker:live is refused", "does not exist"],
            ),
            (
                "a bad group name",
                vec![member("api", "check out!", None)],
                vec!["tag lambda-rollout:group: group \"check out!\" is not a group name"],
            ),
            (
                "an empty group tag is no group",
                vec![member("api", " ", None)],
                vec!["managed in None"],
            ),
        ];
        for (name, tagged, want) in cases {
            let got = reasons(&onboard(&tagged, &policies, parse));
            assert_eq!(got.len(), want.len(), "{name}: {got:?}");
            for (g, w) in got.iter().zip(&want) {
                assert!(g.contains(w), "{name}: {g:?} does not say {w:?}");
                assert!(g.len() < 400, "{name}: {g}");
            }
        }
        let many: Vec<Tagged> = (0..=MAX_MEMBERS)
            .map(|i| member(&format!("f{i}"), "big", None))
            .collect();
        let got = reasons(&onboard(&many, &HashMap::new(), parse));
        assert!(
            got.iter().all(|r| r.contains("group big has 51 functions")),
            "{:?}",
            &got[..2]
        );
    }

    #[test]
    fn a_tagged_group_that_meets_the_configuration_is_refused_whole() {
        let configured = vec![
            TargetSpec {
                target: Target::new("api", "live").unwrap(),
                policy: PolicySpec::default(),
                group: None,
            },
            TargetSpec {
                target: Target::new("web", "live").unwrap(),
                policy: PolicySpec::default(),
                group: Some(GroupName::new("shop").unwrap()),
            },
        ];
        let onboarded = onboard(
            &[
                member("api", "checkout", None),
                member("worker", "checkout", None),
                member("cart", "shop", None),
                member("mail", "notify", None),
                member("sms", "notify", None),
            ],
            &HashMap::new(),
            parse,
        );
        let (targets, refused) = merge(&configured, &onboarded);
        let names: Vec<String> = targets.iter().map(|s| s.target.to_string()).collect();
        assert_eq!(names, ["api:live", "web:live", "mail:live", "sms:live"]);
        assert_eq!(targets[0].group, None, "the configured entry wins");
        assert_eq!(targets[2].group, Some(GroupName::new("notify").unwrap()));
        let said: Vec<(String, String)> = refused
            .iter()
            .map(|r| (r.function.clone(), r.reason.clone()))
            .collect();
        assert_eq!(said.len(), 2, "{said:?}");
        assert_eq!(said[0].0, "worker");
        assert!(
            said[0].1.contains("its member api:live is configured"),
            "{said:?}"
        );
        assert_eq!(said[1].0, "cart");
        assert!(
            said[1]
                .1
                .contains("group shop is configured in TargetsJson"),
            "{said:?}"
        );
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
