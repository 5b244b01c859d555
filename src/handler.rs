//! The handler: one payload in, one response out. The Lambda runtime and the
//! local CLI both call exactly this.

use serde_json::Value;

use crate::command::{Change, Command, InputError, TargetSpec};
use crate::config::{Config, ConfigError, POLICY_VAR, TARGETS_VAR};
use crate::engine::decide::group;
use crate::engine::Manual;
use crate::error::Error;
use crate::executor::Executor;
use crate::idle::IdleBook;
use crate::json::JsonError;
use crate::model::{GroupName, Target, UtcTime};
use crate::onboarding::{self, Catalog};
use crate::policy::{OnFailure, Policy, PolicySpec};
use crate::ports::{
    AliasRead, AliasWrite, AuditSink, Checks, Discover, MetricsRead, NoAudit, NoChecks, NoDiscovery,
};
use crate::report::{Reported, Response, TargetResult};

/// The largest payload read, in bytes of JSON text: 256 KiB, the most an
/// EventBridge event (our schedule's tick) can carry. A tick for a thousand
/// targets with policies fits, a manual command is a few hundred bytes. Lambda
/// would take up to 6 MB synchronously; reading that much only gives a caller a
/// way to make us parse and hold it.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

/// Counts serialized bytes and stops at the limit, so sizing a huge `Value`
/// costs no more than sizing one at the limit.
struct Bounded(usize);

impl std::io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        if self.0 > MAX_PAYLOAD_BYTES {
            return Err(std::io::Error::other("over the limit"));
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A payload's text, its size checked before it is parsed.
pub fn parse_payload(payload: &[u8]) -> Result<Value, Error> {
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(Error::TooLarge {
            limit: MAX_PAYLOAD_BYTES,
        });
    }
    crate::json::parse(payload).map_err(|e| match e {
        JsonError::Syntax(e) => Error::NotJson(e),
        duplicate => Error::DuplicateKey(duplicate),
    })
}

/// Where the Embedded Metric Format line of each decision goes.
pub type LineSink = Box<dyn Fn(&str) + Send + Sync>;

pub struct Handler<S, M, A = NoAudit, C = NoChecks, D = NoDiscovery> {
    pub executor: Executor<S, M, C>,
    pub config: Config,
    pub audit: A,
    /// Each decision carried out, as an EMF line (`emf.rs`); none: no lines.
    pub emf: Option<LineSink>,
    /// The functions onboarded by tag (`onboarding.rs`); none: configured
    /// targets only.
    pub catalog: Option<Catalog<D>>,
    /// Which idle targets a tick reads (`idle.rs`); none: every target,
    /// every tick.
    pub idle: Option<IdleBook>,
}

impl<S, M, C> Handler<S, M, NoAudit, C> {
    pub fn new(executor: Executor<S, M, C>, config: Config) -> Self {
        Self {
            executor,
            config,
            audit: NoAudit,
            emf: None,
            catalog: None,
            idle: None,
        }
    }
}

impl<S, M, A, C, D> Handler<S, M, A, C, D> {
    /// Announces every transition to `audit` as well as in the log.
    pub fn with_audit<B: AuditSink>(self, audit: B) -> Handler<S, M, B, C, D> {
        Handler {
            executor: self.executor,
            config: self.config,
            audit,
            emf: self.emf,
            catalog: self.catalog,
            idle: self.idle,
        }
    }

    /// Also manages every function that `source` finds tagged
    /// `lambda-rollout:alias`, found again at most every `interval`; none:
    /// the configured targets only.
    pub fn with_onboarding<E: Discover>(
        self,
        source: Option<E>,
        interval: std::time::Duration,
    ) -> Handler<S, M, A, C, E> {
        Handler {
            executor: self.executor,
            config: self.config,
            audit: self.audit,
            emf: self.emf,
            catalog: source.map(|s| Catalog::new(s, interval, crate::config::policy_text)),
            idle: self.idle,
        }
    }

    /// A target found idle is read again every `every` ticks (1: every
    /// tick), at once when an event says its function changed.
    pub fn with_idle_reads(self, every: u32) -> Self {
        Self {
            idle: Some(IdleBook::new(every)),
            ..self
        }
    }

    /// Writes every decision carried out (not a dry run) to `sink` as one
    /// Embedded Metric Format line: the Lambda's standard output.
    pub fn with_emf(self, sink: LineSink) -> Self {
        Self {
            emf: Some(sink),
            ..self
        }
    }
}

impl<S, M, A, C, D> Handler<S, M, A, C, D>
where
    S: AliasRead + AliasWrite,
    M: MetricsRead,
    A: AuditSink,
    C: Checks,
    D: Discover,
{
    /// The payload as text (the Lambda runtime and the CLI).
    pub async fn handle_bytes(&self, payload: &[u8], now: UtcTime) -> Result<Response, Error> {
        self.handle(&parse_payload(payload)?, now).await
    }

    /// The payload already parsed; the same size limit applies to its JSON.
    /// Every transition is then announced to the audit sink; failing to
    /// announce is logged and changes nothing: the alias is already written.
    pub async fn handle(&self, payload: &Value, now: UtcTime) -> Result<Response, Error> {
        let out = self.decide(payload, now).await;
        let transitions: Vec<TargetResult> = match &out {
            Ok(r) => r
                .results
                .iter()
                .filter(|t| t.is_transition())
                .cloned()
                .collect(),
            // A manual command that lost the race twice: a conflict to announce.
            Err(e @ Error::Conflict { target }) => vec![TargetResult::failed(
                target,
                Reported::Conflict,
                None,
                e.to_string(),
                false,
            )],
            Err(_) => Vec::new(),
        };
        if !transitions.is_empty() {
            if let Err(e) = self.audit.emit(&transitions).await {
                tracing::warn!(error = %e, events = transitions.len(), "audit events not emitted; the transitions stand");
            }
        }
        // Last, so that the metrics line ends the invocation's log.
        if let (Some(sink), Ok(r)) = (&self.emf, &out) {
            for line in r.results.iter().filter_map(|t| crate::emf::line(t, now)) {
                sink(&line);
            }
        }
        out
    }

    async fn decide(&self, payload: &Value, now: UtcTime) -> Result<Response, Error> {
        if serde_json::to_writer(Bounded(0), payload).is_err() {
            return Err(Error::TooLarge {
                limit: MAX_PAYLOAD_BYTES,
            });
        }
        match Command::parse(payload)? {
            Command::Tick { targets, dry_run } => self.tick(targets, None, dry_run, now).await,
            Command::Changed { function, change } => {
                // Read at once, whatever this instance remembered of it.
                let woken = self.idle.as_ref().map_or(0, |i| i.wake(&function));
                if let (Change::Tags, Some(catalog)) = (change, &self.catalog) {
                    catalog.expire().await;
                }
                tracing::info!(function = %function, ?change, woken, "a Lambda API call changed a function");
                match self.tick(None, Some(&function), false, now).await {
                    // No target at all: not this orchestrator's function.
                    Err(Error::Config(e))
                        if e.var == TARGETS_VAR
                            && self.config.configured().is_ok_and(|c| c.is_empty()) =>
                    {
                        Ok(Response::of(Vec::new()))
                    }
                    other => other,
                }
            }
            Command::Manual {
                target,
                action,
                policy,
                dry_run,
            } => {
                if let (Manual::Start { .. }, Some(g)) =
                    (&action, self.group_of(&target, now).await)
                {
                    return Err(Error::Input(InputError(format!(
                        "{target} is a member of group {g}, whose members are started together: \
                         send {{\"action\": \"start\", \"group\": \"{g}\"}}"
                    ))));
                }
                // Only start and resume need the policy: the others must work
                // even when the configured one is broken (then with defaults).
                let policy = match self.policy_for(&target, &policy, now).await {
                    Ok(p) => p,
                    Err(e) if action.needs_policy() => return Err(e),
                    Err(e) => {
                        tracing::warn!(error = %e, "the policy does not resolve; the command goes on with the defaults");
                        Policy::defaults()
                    }
                };
                let r = self
                    .executor
                    .command(&target, &action, &policy, now, dry_run)
                    .await?;
                Ok(Response::of(vec![r]))
            }
            Command::Status { target, policy } => {
                let policy = self.policy_for(&target, &policy, now).await?;
                let r = self.executor.status(&target, &policy, now).await?;
                Ok(Response::of(vec![r]))
            }
            Command::Group {
                group,
                action,
                versions,
                dry_run,
            } => {
                let members = self
                    .group_members(group, action.needs_policy(), now)
                    .await?;
                if let Some((f, _)) = versions
                    .iter()
                    .find(|(f, _)| members.iter().all(|(t, _)| t.function != *f))
                {
                    return Err(Error::Input(InputError(format!(
                        "versions names {}, which is not a member of group {group}: name its \
                         members' functions",
                        crate::model::shown(f)
                    ))));
                }
                let results = self
                    .executor
                    .group_command(group, &members, &action, &versions, now, dry_run)
                    .await?;
                Ok(Response::of(results))
            }
            Command::GroupStatus { group } => {
                let members = self.group_members(group, true, now).await?;
                let all = (0..members.len()).collect();
                let (results, groups) = self
                    .executor
                    .tick_groups(&members, &[(group, all)], now, true)
                    .await;
                Ok(Response {
                    results,
                    groups,
                    not_read: 0,
                })
            }
            Command::Alarm { name, state } => self.alarm(&name, &state, now).await,
            Command::RunCheck {
                target,
                due,
                policy,
            } => {
                // The policy the check began under, as the dispatcher wrote it.
                let policy = PolicySpec::resolve(&[&policy])?;
                let r = self.executor.run_check(&target, &due, &policy, now).await?;
                Ok(Response::of(vec![r]))
            }
        }
    }

    /// An alarm changed state. The targets it gates are the configured ones
    /// whose policy (their own, else the environment's) names it in `alarms`:
    /// the same list a tick reads, so an alarm rolls back (or, on_failure
    /// pause, pauses) at once exactly what the next tick would have; a
    /// watched promotion is reverted. Anything but `ALARM` changes nothing; the
    /// ticks judge the rest.
    async fn alarm(&self, name: &str, state: &str, now: UtcTime) -> Result<Response, Error> {
        let env = self.config.policy()?;
        let (managed, _, _) = self.managed(now).await?;
        let gated: Vec<&TargetSpec> = managed
            .iter()
            .filter(|s| {
                s.policy
                    .alarms
                    .as_ref()
                    .or(env.alarms.as_ref())
                    .is_some_and(|alarms| alarms.iter().any(|a| a == name))
            })
            .collect();
        tracing::info!(
            alarm = name,
            state,
            targets = gated.len(),
            "alarm state change"
        );
        if state != "ALARM" {
            return Ok(Response::of(Vec::new()));
        }
        let reason = format!("alarm {name:?} went to ALARM");
        let mut results = Vec::with_capacity(gated.len());
        for spec in gated {
            let target = &spec.target;
            // A rollback needs no policy: a broken one must not stop it. One
            // that resolves may say on_failure pause: freeze, for a human.
            // (The managed list is at hand: one lookup a target, not a merge.)
            let policy =
                PolicySpec::resolve(&[&spec.policy, env]).unwrap_or_else(|_| Policy::defaults());
            let reason = Some(reason.clone());
            let action = match policy.on_failure {
                OnFailure::Pause => Manual::Pause { reason },
                OnFailure::Rollback => Manual::Rollback { reason },
            };
            let r = match self
                .executor
                .command(target, &action, &policy, now, false)
                .await
            {
                Ok(r) => r,
                Err(e) => e.result(false),
            };
            results.push(r);
        }
        Ok(Response::of(results))
    }

    /// A tick over `given` targets, else over the managed ones (of
    /// `function` alone, for an event). Of the managed, a target found idle
    /// is read only when due (`idle.rs`); given targets and dry runs are
    /// always read: someone is looking.
    async fn tick(
        &self,
        given: Option<Vec<TargetSpec>>,
        function: Option<&str>,
        dry_run: bool,
        now: UtcTime,
    ) -> Result<Response, Error> {
        let env_policy = self.config.policy()?;
        let from_payload = given.is_some();
        let (specs, onboarded, refused) = match given {
            Some(t) => (t, 0, Vec::new()),
            None => self.managed(now).await?,
        };
        // An event for one function ticks its group whole: a group is
        // judged on all its members or not at all.
        let woken: Vec<GroupName> = specs
            .iter()
            .filter(|s| function.is_some_and(|only| only == s.target.function))
            .filter_map(|s| s.group)
            .collect();
        let wanted_spec = |s: &TargetSpec| {
            function.is_none_or(|only| only == s.target.function)
                || s.group.is_some_and(|g| woken.contains(&g))
        };
        let wanted = |f: &str| function.is_none_or(|only| only == f);
        // Every policy is validated before anything is read or written,
        // and a bad one is reported against where it came from: a team's
        // own (onboarded) only for its function.
        let configured = specs.len() - onboarded;
        let mut refused: Vec<TargetResult> = refused
            .into_iter()
            .filter(|r| wanted(&r.function))
            .collect();
        let mut resolved = Vec::with_capacity(specs.len());
        let mut group_of: Vec<Option<GroupName>> = Vec::with_capacity(specs.len());
        for (i, s) in specs.iter().enumerate() {
            if !wanted_spec(s) {
                continue;
            }
            match PolicySpec::resolve(&[&s.policy, env_policy]) {
                Ok(p) => {
                    resolved.push((s.target.clone(), p));
                    group_of.push(s.group);
                }
                Err(e) if i >= configured => refused.push(TargetResult::failed(
                    &s.target,
                    Reported::Error,
                    None,
                    format!("its policy parameter over {POLICY_VAR}: {e}"),
                    dry_run,
                )),
                Err(e) => {
                    let message = format!("targets[{i}] ({}): {e}", s.target);
                    return Err(if from_payload {
                        Error::Input(InputError(message))
                    } else {
                        Error::Config(ConfigError {
                            var: TARGETS_VAR,
                            message,
                        })
                    });
                }
            }
        }
        // A group whose policy it cannot take is refused whole (rule G0).
        let mut unfit: Vec<(GroupName, String)> = Vec::new();
        for ((_, p), g) in resolved.iter().zip(&group_of) {
            let Some(g) = *g else { continue };
            if unfit.iter().all(|(u, _)| *u != g) {
                if let Err(why) = group::rule_g0_policy_fits(g, p) {
                    unfit.push((g, why));
                }
            }
        }
        let why_unfit = |g: &Option<GroupName>| {
            g.and_then(|g| unfit.iter().find(|(u, _)| *u == g).map(|(_, why)| why))
        };
        for ((t, _), g) in resolved.iter().zip(&group_of) {
            if let Some(why) = why_unfit(g) {
                refused.push(TargetResult::failed(
                    t,
                    Reported::Error,
                    None,
                    why.clone(),
                    dry_run,
                ));
            }
        }
        let (mut resolved, mut group_of): (Vec<_>, Vec<_>) = resolved
            .into_iter()
            .zip(group_of)
            .filter(|(_, g)| why_unfit(g).is_none())
            .unzip();
        // What the reads find is remembered for the managed targets; an
        // event's own reads are not a tick, so they do not count as one.
        let idle = self.idle.as_ref().filter(|_| !from_payload && !dry_run);
        let mut not_read = 0;
        if let Some(idle) = idle.filter(|_| function.is_none()) {
            let targets: Vec<Target> = resolved.iter().map(|(t, _)| t.clone()).collect();
            let mut due = idle.due(&targets);
            // A group is read whole, or not at all.
            let due_groups: Vec<GroupName> = due
                .iter()
                .zip(&group_of)
                .filter_map(|(d, g)| g.filter(|_| *d))
                .collect();
            for (d, g) in due.iter_mut().zip(&group_of) {
                *d |= g.is_some_and(|g| due_groups.contains(&g));
            }
            let before = resolved.len();
            (resolved, group_of) = resolved
                .into_iter()
                .zip(group_of)
                .zip(due)
                .filter_map(|(x, d)| d.then_some(x))
                .unzip();
            not_read = before - resolved.len();
        }
        let mut groups: Vec<(GroupName, Vec<usize>)> = Vec::new();
        for (i, g) in group_of.iter().enumerate() {
            let Some(g) = g else { continue };
            match groups.iter_mut().find(|(name, _)| name == g) {
                Some((_, members)) => members.push(i),
                None => groups.push((*g, vec![i])),
            }
        }
        let (mut results, groups) = self
            .executor
            .tick_groups(&resolved, &groups, now, dry_run)
            .await;
        if let Some(idle) = idle {
            idle.record(&results);
            if not_read > 0 {
                tracing::info!(
                    not_read,
                    every = idle.every(),
                    "idle targets not read this tick"
                );
            }
        }
        for r in &mut refused {
            r.dry_run = dry_run;
            crate::executor::log(r);
        }
        results.extend(refused);
        Ok(Response {
            results,
            groups,
            not_read,
        })
    }

    /// The group `target` is a managed member of, if any.
    async fn group_of(&self, target: &Target, now: UtcTime) -> Option<GroupName> {
        let (managed, _, _) = self.managed(now).await.ok()?;
        managed
            .into_iter()
            .find(|s| s.target == *target)
            .and_then(|s| s.group)
    }

    /// A managed group's members, each with the group's policy over the
    /// environment's. `strict`: a policy that does not resolve (or that a
    /// group cannot take, rule G0) is an error; otherwise the defaults
    /// stand in, as for any command that must work at 3 a.m.
    /// A group's members, each with the group's policy resolved; `strict`
    /// refuses a policy that does not resolve, else the defaults stand in.
    pub async fn group_members(
        &self,
        group: GroupName,
        strict: bool,
        now: UtcTime,
    ) -> Result<Vec<(Target, Policy)>, Error> {
        let env = self.config.policy();
        let (managed, _, _) = self.managed(now).await?;
        let specs: Vec<TargetSpec> = managed
            .into_iter()
            .filter(|s| s.group == Some(group))
            .collect();
        if specs.is_empty() {
            return Err(Error::Input(InputError(format!(
                "no group {group} among the managed targets: define it in {TARGETS_VAR} as \
                 {{\"group\": \"{group}\", \"targets\": [...]}}, or tag its members {} \
                 (README, Release groups); a tick reports why a tagged group is refused",
                onboarding::GROUP_TAG
            ))));
        }
        let mut out = Vec::with_capacity(specs.len());
        for s in specs {
            let resolved = match &env {
                Ok(env) => PolicySpec::resolve(&[&s.policy, env]).map_err(Error::from),
                Err(e) => Err(Error::Config(e.clone())),
            }
            .and_then(|p| {
                group::rule_g0_policy_fits(group, &p)
                    .map(|()| p)
                    .map_err(|why| Error::Input(InputError(why)))
            });
            let policy = match resolved {
                Ok(p) => p,
                Err(e) if strict => return Err(e),
                Err(e) => {
                    tracing::warn!(error = %e, "the group's policy does not resolve; the command goes on with the defaults");
                    Policy::defaults()
                }
            };
            out.push((s.target, policy));
        }
        Ok(out)
    }

    /// The policy a tick would judge `target` by: its configured (or its
    /// team's) one over the environment's.
    pub async fn policy_of(&self, target: &Target, now: UtcTime) -> Result<Policy, Error> {
        self.policy_for(target, &PolicySpec::default(), now).await
    }

    /// The payload's policy over the managed target's over the environment's.
    async fn policy_for(
        &self,
        target: &Target,
        own: &PolicySpec,
        now: UtcTime,
    ) -> Result<Policy, Error> {
        let env = self.config.policy()?;
        let managed = match self.managed(now).await {
            Ok((m, _, _)) => m,
            Err(_) => Vec::new(),
        };
        let theirs = managed
            .into_iter()
            .find(|t| t.target == *target)
            .map(|t| t.policy)
            .unwrap_or_default();
        Ok(PolicySpec::resolve(&[own, &theirs, env])?)
    }

    /// The targets a tick manages without being told: the configured ones,
    /// then those onboarded by tag (how many), and the tagged functions
    /// refused (README, Onboarding). None at all is an error that says how to
    /// have some.
    async fn managed(
        &self,
        now: UtcTime,
    ) -> Result<(Vec<TargetSpec>, usize, Vec<TargetResult>), Error> {
        let configured = self.config.configured()?;
        let Some(catalog) = &self.catalog else {
            return Ok((self.config.targets()?.to_vec(), 0, Vec::new()));
        };
        let found = catalog.current(now).await;
        let (targets, refused) = onboarding::merge(configured, &found);
        if targets.is_empty() && refused.is_empty() {
            return Err(Error::Config(ConfigError {
                var: TARGETS_VAR,
                message: format!(
                    "no targets: none configured and no function tagged {}; tag one \
                     (README, Onboarding) or set {TARGETS_VAR}",
                    onboarding::ALIAS_TAG
                ),
            }));
        }
        let onboarded = targets.len() - configured.len();
        Ok((targets, onboarded, refused))
    }
}
