//! Adapters: the ports implemented on the AWS SDK. Every SDK type stays in here.

pub mod budget;
pub mod cloudwatch;
pub mod eventbridge;
pub mod invoke;
pub mod lambda;
pub mod onboarding;

pub use budget::Budget;
pub use cloudwatch::CloudWatchMetrics;
pub use eventbridge::EventBridgeAudit;
pub use invoke::{DispatchTo, LambdaChecks};
pub use lambda::LambdaAliases;
pub use onboarding::TaggedFunctions;

/// Every adapter, on one shared SDK configuration.
pub struct Clients {
    pub aliases: LambdaAliases,
    pub metrics: CloudWatchMetrics,
    pub audit: EventBridgeAudit,
    pub checks: LambdaChecks,
    pub onboarding: TaggedFunctions,
}

/// Builds the clients from one shared SDK config: the standard AWS environment
/// (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL` and friends) applies. The
/// alias store's Lambda calls keep within `control_plane_rate` a second
/// (`budget.rs`).
///
/// Timeouts: the SDK sets none per attempt by default, so one stalled
/// connection could eat the whole 60 s invocation and leave every target
/// undecided. An attempt gets 5 s (the SDK retries it, three attempts with
/// backoff, throttling included) and a call 20 s in all.
pub async fn clients(
    audit_bus: Option<String>,
    dispatch: DispatchTo,
    control_plane_rate: u32,
) -> Clients {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(2))
        .operation_attempt_timeout(std::time::Duration::from_secs(5))
        .operation_timeout(std::time::Duration::from_secs(20))
        .build();
    // Adaptive retry: on throttling the client also slows its own sending
    // (a token bucket), so a tick over hundreds of targets backs off as a
    // whole instead of each call retrying into the limit.
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(timeouts)
        .retry_config(aws_config::retry::RetryConfig::adaptive())
        .load()
        .await;
    let lambda = aws_sdk_lambda::Client::new(&config);
    Clients {
        aliases: LambdaAliases::new(lambda.clone())
            .with_budget(std::sync::Arc::new(Budget::per_second(control_plane_rate))),
        metrics: CloudWatchMetrics::new(aws_sdk_cloudwatch::Client::new(&config)),
        audit: EventBridgeAudit::new(aws_sdk_eventbridge::Client::new(&config), audit_bus),
        checks: LambdaChecks::new(lambda, dispatch),
        onboarding: TaggedFunctions::new(
            aws_sdk_resourcegroupstagging::Client::new(&config),
            aws_sdk_ssm::Client::new(&config),
        ),
    }
}
