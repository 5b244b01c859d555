//! Adapters: the ports implemented on the AWS SDK. Every SDK type stays in here.

pub mod cloudwatch;
pub mod lambda;

pub use cloudwatch::CloudWatchMetrics;
pub use lambda::LambdaAliases;

/// Builds both clients from one shared SDK config: the standard AWS environment
/// (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL` and friends) applies.
pub async fn clients() -> (LambdaAliases, CloudWatchMetrics) {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    (
        LambdaAliases::new(aws_sdk_lambda::Client::new(&config)),
        CloudWatchMetrics::new(aws_sdk_cloudwatch::Client::new(&config)),
    )
}
