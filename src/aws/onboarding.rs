//! Self-service onboarding on the SDK: the tagged functions from the
//! Resource Groups Tagging API (GetResources, 100 a page, outside Lambda's
//! control-plane quota: its own is 15 calls a second), and the teams'
//! policies from SSM (GetParameters, 10 names a call).

use std::collections::HashMap;

use aws_sdk_resourcegroupstagging::error::DisplayErrorContext;
use aws_sdk_resourcegroupstagging::types::TagFilter;

use crate::ports::{Discover, DiscoveryError, ParameterText, Tagged};

/// GetResources' largest page.
const RESOURCES_PER_PAGE: i32 = 100;
/// GetParameters' most names a call.
const NAMES_PER_CALL: usize = 10;
/// A runaway paginator (a service answering the same token forever) stops
/// here: 100,000 functions, far past Lambda's default quotas.
const MAX_PAGES: usize = 1000;

#[derive(Debug, Clone)]
pub struct TaggedFunctions {
    tagging: aws_sdk_resourcegroupstagging::Client,
    ssm: aws_sdk_ssm::Client,
}

impl TaggedFunctions {
    pub fn new(tagging: aws_sdk_resourcegroupstagging::Client, ssm: aws_sdk_ssm::Client) -> Self {
        Self { tagging, ssm }
    }
}

fn failed<E>(call: &'static str, e: E) -> DiscoveryError
where
    E: std::error::Error + Send + Sync + 'static,
{
    DiscoveryError {
        call,
        message: crate::model::clipped(DisplayErrorContext(&e).to_string(), 300),
        source: Some(std::sync::Arc::new(e)),
    }
}

impl Discover for TaggedFunctions {
    async fn tagged(&self, key: &str) -> Result<Vec<Tagged>, DiscoveryError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let page = self
                .tagging
                .get_resources()
                .resource_type_filters("lambda:function")
                .tag_filters(TagFilter::builder().key(key).build())
                .resources_per_page(RESOURCES_PER_PAGE)
                .set_pagination_token(token.take())
                .send()
                .await
                .map_err(|e| failed("GetResources", e))?;
            for r in page.resource_tag_mapping_list() {
                let Some(arn) = r.resource_arn() else {
                    continue;
                };
                out.push(Tagged {
                    arn: arn.to_string(),
                    tags: r
                        .tags()
                        .iter()
                        .map(|t| (t.key().to_string(), t.value().to_string()))
                        .collect(),
                });
            }
            match page.pagination_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => return Ok(out),
            }
        }
        Err(DiscoveryError::new(
            "GetResources",
            format!("more than {MAX_PAGES} pages of tagged functions"),
        ))
    }

    async fn parameters(
        &self,
        names: &[String],
    ) -> Result<HashMap<String, ParameterText>, DiscoveryError> {
        let mut out: HashMap<String, ParameterText> =
            names.iter().map(|n| (n.clone(), None)).collect();
        for chunk in names.chunks(NAMES_PER_CALL) {
            let answer = self
                .ssm
                .get_parameters()
                .set_names(Some(chunk.to_vec()))
                .with_decryption(false)
                .send()
                .await
                .map_err(|e| failed("GetParameters", e))?;
            for p in answer.parameters() {
                if let (Some(name), Some(value)) = (p.name(), p.value()) {
                    out.insert(name.to_string(), Some(value.to_string()));
                }
            }
        }
        Ok(out)
    }
}
