//! Audit events on aws-sdk-eventbridge: one event per transition, source
//! `lambda-rollout`, detail-type `Rollout Transition`, the detail being the
//! transition as reported (function, alias, decision, green, stable, canary,
//! weights, reason, health). PutEvents takes 10 entries a call.

use aws_sdk_eventbridge::error::DisplayErrorContext;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_eventbridge::Client;

use crate::ports::{AuditError, AuditSink};
use crate::report::TargetResult;

pub const SOURCE: &str = "lambda-rollout";
pub const DETAIL_TYPE: &str = "Rollout Transition";
const ENTRIES_PER_CALL: usize = 10;

#[derive(Debug, Clone)]
pub struct EventBridgeAudit {
    client: Client,
    /// The bus's name or ARN; None announces nothing (the log line stays).
    bus: Option<String>,
}

impl EventBridgeAudit {
    pub fn new(client: Client, bus: Option<String>) -> Self {
        Self { client, bus }
    }
}

impl AuditSink for EventBridgeAudit {
    async fn emit(&self, transitions: &[TargetResult]) -> Result<(), AuditError> {
        let Some(bus) = &self.bus else {
            return Ok(());
        };
        for chunk in transitions.chunks(ENTRIES_PER_CALL) {
            let entries = chunk
                .iter()
                .map(|t| {
                    let detail = serde_json::to_string(t).map_err(|e| AuditError {
                        message: format!("cannot serialize a transition: {e}"),
                        source: Some(Box::new(e)),
                    })?;
                    Ok(PutEventsRequestEntry::builder()
                        .event_bus_name(bus)
                        .source(SOURCE)
                        .detail_type(DETAIL_TYPE)
                        .resources(format!("{}:{}", t.function, t.alias))
                        .detail(detail)
                        .build())
                })
                .collect::<Result<Vec<_>, AuditError>>()?;
            let out = self
                .client
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| AuditError {
                    message: format!("PutEvents to {bus}: {}", DisplayErrorContext(&e)),
                    source: Some(Box::new(e)),
                })?;
            // PutEvents answers 200 with per-entry failures.
            if out.failed_entry_count() > 0 {
                let why: Vec<String> = out
                    .entries()
                    .iter()
                    .filter_map(|e| e.error_message().map(str::to_string))
                    .collect();
                return Err(AuditError {
                    message: format!(
                        "PutEvents to {bus}: {} of {} entries failed: {}",
                        out.failed_entry_count(),
                        chunk.len(),
                        why.join("; ")
                    ),
                    source: None,
                });
            }
        }
        Ok(())
    }
}
