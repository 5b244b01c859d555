//! The alias store on aws-sdk-lambda: every conversion between SDK types and
//! ours happens here.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_lambda::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::operation::get_alias::GetAliasError;
use aws_sdk_lambda::types::AliasRoutingConfiguration;
use aws_sdk_lambda::Client;

use super::budget::{Budget, Permit};
use crate::engine::{AliasState, Canary, PublishedVersion};
use crate::model::{Target, Version, Weight};
use crate::ports::{AliasRead, AliasSnapshot, AliasWrite, StoreError};

#[derive(Debug, Clone)]
pub struct LambdaAliases {
    client: Client,
    /// Control-plane calls wait for it; none: unlimited (tests, benchmarks
    /// that measure without it).
    budget: Option<Arc<Budget>>,
}

impl LambdaAliases {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            budget: None,
        }
    }

    /// Every call this store makes waits for `budget` first.
    pub fn with_budget(self, budget: Arc<Budget>) -> Self {
        Self {
            budget: Some(budget),
            ..self
        }
    }

    /// Waits for the budget; the call is counted until the permit drops.
    async fn admit(&self) -> Option<Permit<'_>> {
        match &self.budget {
            Some(b) => Some(b.admit().await),
            None => None,
        }
    }
}

/// What an SDK error is, asked through its predicates rather than its text.
struct Kind {
    not_found: bool,
    conflict: bool,
    throttled: bool,
    rejected: bool,
}

/// Reads never conflict.
fn read_kind(not_found: bool, throttled: bool, rejected: bool) -> Kind {
    Kind {
        not_found,
        conflict: false,
        throttled,
        rejected,
    }
}

/// What a ResourceNotFoundException was about: Lambda answers the same kind
/// for a missing function and a missing alias, so the alias store asks
/// GetFunction which it is rather than reading the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Missing {
    Function,
    Alias,
}

fn map_error<E, R>(
    e: SdkError<E, R>,
    kind: impl Fn(&E) -> Kind,
    target: &Target,
    missing: Missing,
) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let message = e
        .as_service_error()
        .and_then(|s| s.message())
        .map(str::to_string)
        .unwrap_or_else(|| DisplayErrorContext(&e).to_string());
    let k = e.as_service_error().map(&kind);
    let source = Box::new(e);
    match k {
        Some(k) if k.not_found => {
            let message = match missing {
                Missing::Alias => format!(
                    "alias {} of function {} does not exist: create it pointing at the stable \
                     version with aws lambda create-alias --function-name {} --name {} \
                     --function-version <stable version>",
                    target.alias, target.function, target.function, target.alias
                ),
                Missing::Function => format!(
                    "function {} does not exist in this account and region (check the name and \
                     AWS_REGION): {message}",
                    target.function
                ),
            };
            StoreError::NotFound { message, source }
        }
        Some(k) if k.conflict => StoreError::Conflict { source },
        Some(k) if k.throttled => StoreError::Throttled { source },
        Some(k) if k.rejected => StoreError::Rejected { message, source },
        _ => StoreError::Unavailable { message, source },
    }
}

/// A function named by ARN must be the one this client reaches: calls go by
/// the plain name (the form CloudWatch's dimensions use), so an ARN of another
/// account or region would otherwise stand for a same-named function here.
/// The alias's own ARN, as Lambda returns it, says where it is.
fn check_home(target: &Target, alias_arn: Option<&str>) -> Result<(), StoreError> {
    let Some(home) = &target.home else {
        return Ok(());
    };
    let unverifiable = || {
        StoreError::Unmanageable(format!(
            "alias {target} came back without a readable AliasArn ({}): cannot check that \
             function {} is in this account and region; name it by its plain name",
            alias_arn.unwrap_or("none"),
            home.given
        ))
    };
    let Some(arn) = alias_arn else {
        return Err(unverifiable());
    };
    // arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME:ALIAS
    let parts: Vec<&str> = arn.split(':').collect();
    let [_, partition, _, region, account, ..] = parts.as_slice() else {
        return Err(unverifiable());
    };
    let same = home.partition.as_deref().is_none_or(|p| p == *partition)
        && home.region.as_deref().is_none_or(|r| r == *region)
        && home.account == *account;
    if same {
        return Ok(());
    }
    Err(StoreError::Unmanageable(format!(
        "function {} is not in the account and region lambda-rollout works in (account \
         {account}, region {region}, where {target} is {arn}): run lambda-rollout with that \
         account's credentials and AWS_REGION, or name the function here by its plain name",
        home.given
    )))
}

/// Maps an alias configuration to our model; refuses what cannot be managed.
fn to_state(
    target: &Target,
    function_version: Option<&str>,
    weights: Option<&HashMap<String, f64>>,
    description: Option<&str>,
) -> Result<AliasState, StoreError> {
    let fv = function_version.unwrap_or_default();
    let stable = Version::parse(fv).map_err(|_| {
        StoreError::Unmanageable(format!(
            "alias {target} points at {fv:?}, not a published version: lambda-rollout manages \
             aliases on published versions; point it at one with aws lambda update-alias \
             --function-version N"
        ))
    })?;
    let canary = match weights.map(|w| w.iter().collect::<Vec<_>>()) {
        None => None,
        Some(w) if w.is_empty() => None,
        Some(w) if w.len() == 1 => {
            let (v, f) = w[0];
            let version = Version::parse(v).map_err(|e| {
                StoreError::Unmanageable(format!("alias {target} routes to {v:?}: {e}"))
            })?;
            let weight = Weight::from_fraction(*f)
                .map_err(|e| StoreError::Unmanageable(format!("alias {target}: {e}")))?;
            Some(Canary { version, weight })
        }
        Some(w) => {
            return Err(StoreError::Unmanageable(format!(
                "alias {target} routes to {} additional versions; lambda-rollout manages one",
                w.len()
            )))
        }
    };
    Ok(AliasState {
        stable,
        canary,
        description: description.unwrap_or_default().to_string(),
    })
}

impl LambdaAliases {
    /// After a ResourceNotFoundException on the alias: is it the function
    /// that is missing, or only the alias?
    async fn missing(&self, target: &Target) -> Missing {
        let _permit = self.admit().await;
        let found = self
            .client
            .get_function()
            .function_name(&target.function)
            .send()
            .await;
        match found {
            Ok(_) => Missing::Alias,
            Err(_) => Missing::Function,
        }
    }
}

impl LambdaAliases {
    /// A function's environment variables (GetFunctionConfiguration): the
    /// orchestrator's targets and policy, for the commands people run
    /// elsewhere (`wait`, `status`, `list`) to see what it sees.
    pub async fn environment_of(
        &self,
        function: &str,
    ) -> Result<HashMap<String, String>, StoreError> {
        let _permit = self.admit().await;
        let out = self
            .client
            .get_function_configuration()
            .function_name(function)
            .send()
            .await
            .map_err(|e| {
                let not_found = e
                    .as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception());
                let detail = DisplayErrorContext(&e).to_string();
                let source = Box::new(e);
                if not_found {
                    StoreError::NotFound {
                        message: format!(
                            "orchestrator function {function} does not exist in this account                              and region (the stack's OrchestratorName output names it)"
                        ),
                        source,
                    }
                } else {
                    StoreError::Unavailable {
                        message: format!("reading {function}'s configuration: {detail}"),
                        source,
                    }
                }
            })?;
        Ok(out
            .environment()
            .and_then(|e| e.variables())
            .cloned()
            .unwrap_or_default())
    }
}

impl AliasRead for LambdaAliases {
    async fn read_alias(&self, target: &Target) -> Result<AliasSnapshot, StoreError> {
        // The permit ends with the call: `missing` below makes one of its own.
        let sent = {
            let _permit = self.admit().await;
            self.client
                .get_alias()
                .function_name(&target.function)
                .name(&target.alias)
                .send()
                .await
        };
        let out = match sent {
            Ok(out) => out,
            Err(e) => {
                let not_found = e
                    .as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception());
                let missing = if not_found {
                    self.missing(target).await
                } else {
                    Missing::Function
                };
                let kind = |s: &GetAliasError| {
                    read_kind(
                        s.is_resource_not_found_exception(),
                        s.is_too_many_requests_exception(),
                        s.is_invalid_parameter_value_exception(),
                    )
                };
                return Err(map_error(e, kind, target, missing));
            }
        };
        check_home(target, out.alias_arn())?;
        let state = to_state(
            target,
            out.function_version(),
            out.routing_config()
                .and_then(|r| r.additional_version_weights()),
            out.description(),
        )?;
        let revision = out
            .revision_id()
            .ok_or_else(|| {
                StoreError::Unmanageable(format!(
                    "alias {target} came back without a RevisionId: writes could not be guarded"
                ))
            })?
            .to_string();
        Ok(AliasSnapshot { state, revision })
    }

    async fn published_versions(
        &self,
        target: &Target,
    ) -> Result<Vec<PublishedVersion>, StoreError> {
        // Page by page by hand, not the SDK's paginator: each page is a call,
        // and each call waits for the budget.
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = {
                let _permit = self.admit().await;
                self.client
                    .list_versions_by_function()
                    .function_name(&target.function)
                    .set_marker(marker.take())
                    .send()
                    .await
            };
            let page = page.map_err(|e| {
                map_error(
                    e,
                    |s| {
                        read_kind(
                            s.is_resource_not_found_exception(),
                            s.is_too_many_requests_exception(),
                            s.is_invalid_parameter_value_exception(),
                        )
                    },
                    target,
                    Missing::Function,
                )
            })?;
            for f in page.versions() {
                // $LATEST is listed too; it cannot be routed to.
                let Ok(version) = Version::parse(f.version().unwrap_or_default()) else {
                    continue;
                };
                out.push(PublishedVersion {
                    version,
                    role: f.role().unwrap_or_default().to_string(),
                    dead_letter_target: f
                        .dead_letter_config()
                        .and_then(|d| d.target_arn())
                        .map(str::to_string),
                });
            }
            match page.next_marker() {
                Some(m) if !m.is_empty() => marker = Some(m.to_string()),
                _ => break,
            }
        }
        Ok(out)
    }
}

impl AliasWrite for LambdaAliases {
    async fn write_alias(
        &self,
        target: &Target,
        alias: &AliasState,
        revision: &str,
    ) -> Result<String, StoreError> {
        let weights: HashMap<String, f64> = alias
            .canary
            .iter()
            .map(|c| (c.version.to_string(), c.weight.fraction()))
            .collect();
        // An empty map clears the routing; leaving it out would keep it.
        let routing = AliasRoutingConfiguration::builder()
            .set_additional_version_weights(Some(weights))
            .build();
        let _permit = self.admit().await;
        let out = self
            .client
            .update_alias()
            .function_name(&target.function)
            .name(&target.alias)
            .function_version(alias.stable.to_string())
            .routing_config(routing)
            .description(&alias.description)
            .revision_id(revision)
            .send()
            .await
            .map_err(|e| {
                map_error(
                    e,
                    |s| Kind {
                        not_found: s.is_resource_not_found_exception(),
                        conflict: s.is_precondition_failed_exception(),
                        throttled: s.is_too_many_requests_exception(),
                        rejected: s.is_invalid_parameter_value_exception()
                            || s.is_resource_conflict_exception(),
                    },
                    target,
                    // Read a moment ago: gone since, with its function or alone.
                    Missing::Alias,
                )
            })?;
        Ok(out.revision_id().unwrap_or_default().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> Target {
        Target::new("hello", "live").unwrap()
    }

    #[test]
    fn alias_configurations_map_to_the_model() {
        let w: HashMap<String, f64> = [("7".to_string(), 0.25)].into();
        let s = to_state(&t(), Some("6"), Some(&w), Some("d")).unwrap();
        assert_eq!(s.stable.number(), 6);
        assert_eq!(s.canary.unwrap().version.number(), 7);
        assert_eq!(s.canary.unwrap().weight.percent(), 25.0);
        let empty = HashMap::new();
        assert_eq!(
            to_state(&t(), Some("6"), Some(&empty), None)
                .unwrap()
                .canary,
            None
        );
        assert_eq!(to_state(&t(), Some("6"), None, None).unwrap().canary, None);
    }

    #[test]
    fn an_arn_must_name_the_account_and_region_reached() {
        let here = Some("arn:aws:lambda:us-east-1:123456789012:function:hello:live");
        for ok in [
            "hello",
            "arn:aws:lambda:us-east-1:123456789012:function:hello",
            "123456789012:function:hello",
        ] {
            let t = Target::new(ok, "live").unwrap();
            assert!(check_home(&t, here).is_ok(), "{ok}");
        }
        for (other, want) in [
            (
                "arn:aws:lambda:eu-west-1:123456789012:function:hello",
                "region us-east-1",
            ),
            (
                "arn:aws:lambda:us-east-1:999999999999:function:hello",
                "account 123456789012",
            ),
            ("999999999999:function:hello", "account 123456789012"),
            (
                "arn:aws-cn:lambda:us-east-1:123456789012:function:hello",
                "not in the account",
            ),
        ] {
            let t = Target::new(other, "live").unwrap();
            let e = check_home(&t, here).unwrap_err().to_string();
            assert!(e.contains(want) && e.contains(other), "{other}: {e}");
        }
        let partial = Target::new("123456789012:function:hello", "live").unwrap();
        assert!(check_home(&partial, None).is_err());
        assert!(check_home(&t(), None).is_ok(), "a plain name needs no ARN");
    }

    #[test]
    fn unmanageable_aliases_are_refused_with_the_fix() {
        let e = to_state(&t(), Some("$LATEST"), None, None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("published version") && e.contains("update-alias"),
            "{e}"
        );
        let two: HashMap<String, f64> = [("7".to_string(), 0.1), ("8".to_string(), 0.1)].into();
        let e = to_state(&t(), Some("6"), Some(&two), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("2 additional versions"), "{e}");
    }
}
