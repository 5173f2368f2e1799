//! Work items in DynamoDB (`IVR_WORK_TABLE`): the [`WorkStore`] the API
//! function uses on AWS. The same contract tests as SQLite's run against it
//! (moto, `aws/tests/work_contract.rs`).
//!
//! One table, partition key `pk` (S), three kinds of item:
//!
//! | `pk` | attributes | meaning |
//! |---|---|---|
//! | `item#<id>` | `list` = `item`, `place`, `status`, `kind`, `queue`, `to`, `item` (the [`WorkItem`] as JSON) | the work item |
//! | `live#<queue>#<to>` | `item_id` | the one live callback for that queue and number |
//! | `idem#<key>` | `fingerprint`, `item_id`, `expires_at` (TTL) | an `Idempotency-Key` that was used |
//!
//! The global secondary index `by_place` (hash `list`, range `place`) lists
//! items in place-in-line order. A new item, its live lock and its key are
//! written in one transaction, each conditional on not existing: of
//! concurrent creators exactly one succeeds, and the others read what it wrote.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use chrono::{DateTime, Utc};
use shared::recordings::PortError;
use shared::work::{
    CancelOutcome, Created, IdempotencyKey, ListFilter, NewCallback, Page, Status, StoreError,
    WorkItem, WorkStore,
};

use crate::error::port_error;

/// The variable naming the table.
pub const ENV_WORK_TABLE: &str = "IVR_WORK_TABLE";
/// The index that lists items in place-in-line order.
pub const PLACE_INDEX: &str = "by_place";
/// How long an `Idempotency-Key` is remembered.
pub const KEY_TTL_DAYS: i64 = 7;
/// Rounds of "someone else wrote first: read what they wrote".
const ROUNDS: usize = 6;

#[derive(Debug, Clone)]
pub struct DynamoWork {
    pub client: aws_sdk_dynamodb::Client,
    pub table: String,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn item_pk(id: &str) -> String {
    format!("item#{id}")
}

fn live_pk(queue: &str, to: &str) -> String {
    format!("live#{queue}#{to}")
}

fn idem_pk(key: &str) -> String {
    format!("idem#{key}")
}

fn decode(attrs: &HashMap<String, AttributeValue>) -> Result<WorkItem, PortError> {
    let json = attrs
        .get("item")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| PortError::Permanent("a work item without its JSON".into()))?;
    serde_json::from_str(json)
        .map_err(|e| PortError::Permanent(format!("a stored item is unreadable: {e}")))
}

fn string(attrs: &HashMap<String, AttributeValue>, name: &str) -> Option<String> {
    attrs.get(name).and_then(|v| v.as_s().ok()).cloned()
}

fn built<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, PortError> {
    r.map_err(|e| PortError::Permanent(format!("DynamoDB request: {e}")))
}

/// Whether a transaction failed only because a condition did not hold.
fn lost_race<E>(
    e: &aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    e.as_service_error().is_some_and(|se| {
        matches!(
            se.code(),
            Some("TransactionCanceledException" | "ConditionalCheckFailedException")
        )
    })
}

impl DynamoWork {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoWork {
            client,
            table: table.into(),
        }
    }

    pub fn from_conf(conf: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self::new(aws_sdk_dynamodb::Client::new(conf), table)
    }

    async fn get_raw(
        &self,
        pk: String,
    ) -> Result<Option<HashMap<String, AttributeValue>>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| port_error("DynamoDB GetItem", e))?;
        Ok(out.item().cloned())
    }

    async fn load(&self, id: &str) -> Result<Option<WorkItem>, PortError> {
        self.get_raw(item_pk(id))
            .await?
            .as_ref()
            .map(decode)
            .transpose()
    }

    /// The item's PutItem, for the caller to add its condition and build.
    fn item_put(&self, item: &WorkItem) -> aws_sdk_dynamodb::types::builders::PutBuilder {
        let json = serde_json::to_string(item).expect("a work item serialises");
        Put::builder()
            .table_name(&self.table)
            .item("pk", s(item_pk(&item.id)))
            .item("list", s("item"))
            .item("place", s(item.place()))
            .item("status", s(item.status.as_str()))
            .item("kind", s(item.kind.as_str()))
            .item("queue", s(&item.queue))
            .item("to", s(&item.to))
            .item("item", s(json))
    }

    fn key_put(
        &self,
        key: &IdempotencyKey,
        item_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Put, PortError> {
        let expires = (now + chrono::Duration::days(KEY_TTL_DAYS)).timestamp();
        built(
            Put::builder()
                .table_name(&self.table)
                .item("pk", s(idem_pk(&key.key)))
                .item("fingerprint", s(&key.fingerprint))
                .item("item_id", s(item_id))
                .item("expires_at", AttributeValue::N(expires.to_string()))
                .condition_expression("attribute_not_exists(pk)")
                .build(),
        )
    }

    async fn transact(&self, writes: Vec<TransactWriteItem>) -> Result<bool, PortError> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if lost_race(&e) => Ok(false),
            Err(e) => Err(port_error("DynamoDB TransactWriteItems", e)),
        }
    }

    /// One round of create; `None`: another writer got in first, look again.
    async fn create_round(
        &self,
        new: &NewCallback,
        key: Option<&IdempotencyKey>,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Created>, StoreError> {
        if let Some(k) = key {
            if let Some(seen) = self.get_raw(idem_pk(&k.key)).await? {
                if string(&seen, "fingerprint").as_deref() != Some(k.fingerprint.as_str()) {
                    return Err(StoreError::KeyReused);
                }
                let item_id = string(&seen, "item_id").unwrap_or_default();
                let item = self.load(&item_id).await?.ok_or_else(|| {
                    PortError::Permanent(format!("idempotency key names a missing item {item_id}"))
                })?;
                return Ok(Some(Created::Existing(item)));
            }
        }
        let live = self.get_raw(live_pk(&new.queue, &new.to)).await?;
        if let Some(lock) = live {
            let item_id = string(&lock, "item_id").unwrap_or_default();
            let Some(mut item) = self.load(&item_id).await? else {
                return Ok(None);
            };
            if !item.status.is_live() {
                return Ok(None); // being released: look again
            }
            let mut writes = Vec::new();
            if new.note.is_some() && new.note != item.note {
                item.note = new.note.clone();
                item.updated_at = now;
                // Only while it is live (a concurrent cancel wins); notes: last writer wins.
                let put = built(
                    self.item_put(&item)
                        .condition_expression("#s IN (:pending, :dialing)")
                        .expression_attribute_names("#s", "status")
                        .expression_attribute_values(":pending", s("pending"))
                        .expression_attribute_values(":dialing", s("dialing"))
                        .build(),
                )?;
                writes.push(TransactWriteItem::builder().put(put).build());
            }
            if let Some(k) = key {
                writes.push(
                    TransactWriteItem::builder()
                        .put(self.key_put(k, &item.id, now)?)
                        .build(),
                );
            }
            if !writes.is_empty() && !self.transact(writes).await? {
                return Ok(None);
            }
            return Ok(Some(Created::Existing(item)));
        }
        let item = new.item(id.to_string(), now);
        let put = built(
            self.item_put(&item)
                .condition_expression("attribute_not_exists(pk)")
                .build(),
        )?;
        let lock = built(
            Put::builder()
                .table_name(&self.table)
                .item("pk", s(live_pk(&new.queue, &new.to)))
                .item("item_id", s(&item.id))
                .condition_expression("attribute_not_exists(pk)")
                .build(),
        )?;
        let mut writes = vec![
            TransactWriteItem::builder().put(put).build(),
            TransactWriteItem::builder().put(lock).build(),
        ];
        if let Some(k) = key {
            writes.push(
                TransactWriteItem::builder()
                    .put(self.key_put(k, &item.id, now)?)
                    .build(),
            );
        }
        Ok(self.transact(writes).await?.then_some(Created::New(item)))
    }
}

impl WorkStore for DynamoWork {
    async fn create_callback(
        &self,
        new: &NewCallback,
        key: Option<&IdempotencyKey>,
        id: String,
        now: DateTime<Utc>,
    ) -> Result<Created, StoreError> {
        for _ in 0..ROUNDS {
            if let Some(done) = self.create_round(new, key, &id, now).await? {
                return Ok(done);
            }
        }
        Err(PortError::Transient("too many concurrent writers; try again".into()).into())
    }

    async fn get(&self, id: &str) -> Result<Option<WorkItem>, PortError> {
        self.load(id).await
    }

    async fn list(
        &self,
        filter: ListFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page, PortError> {
        let mut items = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(PLACE_INDEX)
                .expression_attribute_names("#l", "list")
                .expression_attribute_values(":l", s("item"))
                .set_exclusive_start_key(start.take());
            q = match after {
                Some(a) => q
                    .key_condition_expression("#l = :l AND place > :after")
                    .expression_attribute_values(":after", s(a)),
                None => q.key_condition_expression("#l = :l"),
            };
            let mut conditions = Vec::new();
            if let Some(st) = filter.status {
                conditions.push("#s = :s");
                q = q
                    .expression_attribute_names("#s", "status")
                    .expression_attribute_values(":s", s(st.as_str()));
            }
            if let Some(k) = filter.kind {
                conditions.push("#k = :k");
                q = q
                    .expression_attribute_names("#k", "kind")
                    .expression_attribute_values(":k", s(k.as_str()));
            }
            if !conditions.is_empty() {
                q = q.filter_expression(conditions.join(" AND "));
            }
            let out = q
                .send()
                .await
                .map_err(|e| port_error("DynamoDB Query", e))?;
            for attrs in out.items() {
                items.push(decode(attrs)?);
                if items.len() > limit {
                    break;
                }
            }
            match out.last_evaluated_key() {
                Some(k) if items.len() <= limit => start = Some(k.clone()),
                _ => break,
            }
        }
        Ok(Page::from_one_past(items, limit))
    }

    async fn cancel(
        &self,
        id: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<CancelOutcome, PortError> {
        for _ in 0..ROUNDS {
            let Some(mut item) = self.load(id).await? else {
                return Ok(CancelOutcome::NotFound);
            };
            if !item.status.is_live() {
                return Ok(CancelOutcome::Finished(item));
            }
            let was = item.status;
            item.status = Status::Canceled;
            item.cancel_reason = Some(reason.to_string());
            item.retry_at = None;
            item.updated_at = now;
            let put = built(
                self.item_put(&item)
                    .condition_expression("#s = :was")
                    .expression_attribute_names("#s", "status")
                    .expression_attribute_values(":was", s(was.as_str()))
                    .build(),
            )?;
            let release = built(
                Delete::builder()
                    .table_name(&self.table)
                    .key("pk", s(live_pk(&item.queue, &item.to)))
                    .condition_expression("attribute_not_exists(pk) OR item_id = :id")
                    .expression_attribute_values(":id", s(id))
                    .build(),
            )?;
            let writes = vec![
                TransactWriteItem::builder().put(put).build(),
                TransactWriteItem::builder().delete(release).build(),
            ];
            if self.transact(writes).await? {
                return Ok(CancelOutcome::Canceled(item));
            }
        }
        Err(PortError::Transient(
            "too many concurrent writers; try again".into(),
        ))
    }
}
