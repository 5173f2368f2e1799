//! Job progress in DynamoDB, one item per recording.
//!
//! Item layout (partition key `recording_sid`, a string):
//!
//! | attribute              | type | written by                 | meaning |
//! |------------------------|------|----------------------------|---------|
//! | `recording_sid`        | S    | all                        | Twilio's RecordingSid (the key) |
//! | `state`                | S    | `save`                     | [`JobState`] as JSON, transcription fields left out (null) |
//! | `lease_owner`          | S    | `claim`, removed by `release` | the worker holding the lease |
//! | `lease_until`          | N    | `claim`, removed by `release` | lease expiry, epoch milliseconds |
//! | `transcription_status` | S    | `record_transcription`     | Twilio's `TranscriptionStatus` |
//! | `transcription_text`   | S    | `record_transcription`     | the text (absent when none) |
//! | `expires_at`           | N    | all writes                 | TTL, epoch seconds, [`TTL_DAYS`] after the last write |
//!
//! [`StateStore::claim_once`] keys (such as `after-call-sms/<CallSid>`) share
//! the table: an item whose `recording_sid` is the key, with `claimed_at`
//! (epoch seconds) and `expires_at`, written once by a conditional PutItem.
//!
//! `save` never writes the transcription attributes, so a transcription that
//! arrives while a worker holds the lease survives that worker's save;
//! `claim` merges them into the [`JobState`] it returns.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};
use shared::recordings::{Claim, JobState, PortError, PortResult, StateStore};

use crate::error::port_error;

/// How long an item outlives its last write (the table's TTL attribute is `expires_at`).
pub const TTL_DAYS: i64 = 30;

const KEY: &str = "recording_sid";

/// [`StateStore`] on one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoState {
    pub client: aws_sdk_dynamodb::Client,
    pub table: String,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn expires_at(now: DateTime<Utc>) -> AttributeValue {
    n((now + chrono::Duration::days(TTL_DAYS)).timestamp())
}

impl DynamoState {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoState {
            client,
            table: table.into(),
        }
    }

    fn update(
        &self,
        sid: &str,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(KEY, s(sid))
    }

    /// The stored state of one recording (transcription merged), without
    /// taking a lease; `None` if there is no item. For operators and tests.
    pub async fn get(&self, sid: &str) -> PortResult<Option<JobState>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(KEY, s(sid))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| port_error("DynamoDB GetItem", e))?;
        out.item().map(state_from_item).transpose()
    }
}

/// The [`JobState`] an item holds: `state` JSON plus the transcription attributes.
pub fn state_from_item(item: &HashMap<String, AttributeValue>) -> PortResult<JobState> {
    let mut state = match item.get("state") {
        Some(AttributeValue::S(json)) => serde_json::from_str::<JobState>(json)
            .map_err(|e| PortError::Permanent(format!("DynamoDB item: corrupt state JSON: {e}")))?,
        Some(_) => {
            return Err(PortError::Permanent(
                "DynamoDB item: `state` is not a string".into(),
            ))
        }
        None => JobState::default(),
    };
    if let Some(AttributeValue::S(status)) = item.get("transcription_status") {
        state.transcription_status = Some(status.clone());
        state.transcription_text = match item.get("transcription_text") {
            Some(AttributeValue::S(t)) => Some(t.clone()),
            _ => None,
        };
    }
    Ok(state)
}

/// The `state` attribute: the JSON of `state` without the transcription,
/// which lives in attributes of its own.
pub fn state_json(state: &JobState) -> String {
    let mut stored = state.clone();
    stored.transcription_status = None;
    stored.transcription_text = None;
    serde_json::to_string(&stored).unwrap_or_else(|_| "{}".into())
}

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

impl StateStore for DynamoState {
    async fn claim(
        &self,
        sid: &str,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> PortResult<Claim> {
        let until =
            now + chrono::Duration::from_std(lease).unwrap_or_else(|_| chrono::Duration::days(1));
        let result = self
            .update(sid)
            .update_expression("SET lease_owner = :me, lease_until = :until, expires_at = :exp")
            // An expired lease (lease_until <= now) is free, as in the local adapter.
            .condition_expression(
                "attribute_not_exists(lease_until) OR lease_until <= :now OR lease_owner = :me",
            )
            .expression_attribute_values(":me", s(owner))
            .expression_attribute_values(":until", n(millis(until)))
            .expression_attribute_values(":now", n(millis(now)))
            .expression_attribute_values(":exp", expires_at(now))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => {
                let state = match out.attributes() {
                    Some(item) => state_from_item(item)?,
                    None => JobState::default(),
                };
                Ok(Claim::Acquired(state))
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Ok(Claim::Busy)
            }
            Err(e) => Err(port_error("DynamoDB UpdateItem (claim)", e)),
        }
    }

    async fn save(&self, sid: &str, owner: &str, state: &JobState) -> PortResult<()> {
        let result = self
            .update(sid)
            .update_expression("SET #state = :state, expires_at = :exp")
            .condition_expression("lease_owner = :me")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":state", s(state_json(state)))
            .expression_attribute_values(":me", s(owner))
            .expression_attribute_values(":exp", expires_at(Utc::now()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Err(PortError::Permanent("lease lost".into()))
            }
            Err(e) => Err(port_error("DynamoDB UpdateItem (save)", e)),
        }
    }

    async fn release(&self, sid: &str, owner: &str) -> PortResult<()> {
        let result = self
            .update(sid)
            .update_expression("REMOVE lease_owner, lease_until")
            .condition_expression("lease_owner = :me")
            .expression_attribute_values(":me", s(owner))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Not ours (any more): nothing to release, as in the local adapter.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(port_error("DynamoDB UpdateItem (release)", e)),
        }
    }

    async fn record_transcription(
        &self,
        sid: &str,
        status: &str,
        text: Option<&str>,
    ) -> PortResult<()> {
        let mut update = self
            .update(sid)
            .expression_attribute_values(":status", s(status))
            .expression_attribute_values(":exp", expires_at(Utc::now()));
        update = match text {
            Some(t) => update
                .update_expression("SET transcription_status = :status, transcription_text = :text, expires_at = :exp")
                .expression_attribute_values(":text", s(t)),
            None => update.update_expression("SET transcription_status = :status, expires_at = :exp REMOVE transcription_text"),
        };
        update
            .send()
            .await
            .map_err(|e| port_error("DynamoDB UpdateItem (transcription)", e))?;
        Ok(())
    }

    async fn claim_once(&self, key: &str, now: DateTime<Utc>) -> PortResult<bool> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(KEY, s(key))
            .item("claimed_at", n(now.timestamp()))
            .item("expires_at", expires_at(now))
            .condition_expression("attribute_not_exists(#key)")
            .expression_attribute_names("#key", KEY)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(port_error("DynamoDB PutItem (claim once)", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_json_leaves_transcription_out_and_item_merges_it_back() {
        let state = JobState {
            sms_sent: true,
            attempts: 2,
            transcription_status: Some("stale".into()),
            transcription_text: Some("stale".into()),
            ..JobState::default()
        };
        let json = state_json(&state);
        assert!(!json.contains("stale"), "{json}");
        let mut item = HashMap::new();
        item.insert("state".to_string(), s(json));
        item.insert("transcription_status".to_string(), s("completed"));
        item.insert("transcription_text".to_string(), s("hello"));
        let back = state_from_item(&item).unwrap();
        assert!(back.sms_sent);
        assert_eq!(back.attempts, 2);
        assert_eq!(back.transcription_status.as_deref(), Some("completed"));
        assert_eq!(back.transcription_text.as_deref(), Some("hello"));
    }

    #[test]
    fn missing_state_is_default_and_corrupt_state_is_permanent() {
        assert_eq!(
            state_from_item(&HashMap::new()).unwrap(),
            JobState::default()
        );
        let mut item = HashMap::new();
        item.insert("state".to_string(), s("{not json"));
        assert!(matches!(
            state_from_item(&item),
            Err(PortError::Permanent(_))
        ));
    }
}
