//! The one trait both work-item databases implement, and what its answers mean.
//! The contract ([`super::contract`]) is run against every implementation.

use std::future::Future;

use chrono::{DateTime, Utc};

use super::{Kind, NewCallback, Status, WorkItem};
use crate::recordings::PortError;

/// An `Idempotency-Key` and a fingerprint of the request it came with: a
/// repeat with the same key and fingerprint is the same request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub key: String,
    pub fingerprint: String,
}

/// What creating a callback did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// A new item.
    New(WorkItem),
    /// Nothing new: the item this `Idempotency-Key` created before, or the
    /// live callback for the same queue and number (its note updated when
    /// the request brought one).
    Existing(WorkItem),
}

impl Created {
    pub fn item(&self) -> &WorkItem {
        match self {
            Created::New(i) | Created::Existing(i) => i,
        }
    }
}

/// What cancelling did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    Canceled(WorkItem),
    /// Already `done`, `failed` or `canceled`: left as it was.
    Finished(WorkItem),
    NotFound,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    Port(PortError),
    /// The `Idempotency-Key` was used before with a different request.
    KeyReused,
}

impl From<PortError> for StoreError {
    fn from(e: PortError) -> Self {
        StoreError::Port(e)
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Port(e) => e.fmt(f),
            StoreError::KeyReused => {
                f.write_str("the Idempotency-Key was used with another request")
            }
        }
    }
}

/// Which items a list shows; `None` = any.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub status: Option<Status>,
    pub kind: Option<Kind>,
}

impl ListFilter {
    pub fn matches(&self, item: &WorkItem) -> bool {
        self.status.is_none_or(|s| s == item.status) && self.kind.is_none_or(|k| k == item.kind)
    }
}

/// One page of a list: oldest place in line first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub items: Vec<WorkItem>,
    /// The last item's [`WorkItem::place`] when more may follow.
    pub next: Option<String>,
}

impl Page {
    /// A page of `limit` from `items`, read one past it: the extra item
    /// only says that more follow.
    pub fn from_one_past(mut items: Vec<WorkItem>, limit: usize) -> Page {
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(WorkItem::place)
        } else {
            None
        };
        Page { items, next }
    }
}

/// The work-item database. Every write is atomic: concurrent callers of
/// [`WorkStore::create_callback`] with one key, or for one queue and number,
/// create one item between them.
pub trait WorkStore: Send + Sync {
    /// Creates a pending callback, unless `key` was seen (then that item,
    /// or [`StoreError::KeyReused`] for another request) or a live callback
    /// for the same queue and `to` exists (then that one, its note replaced
    /// by the request's if it has one). `id` is the new item's id.
    fn create_callback(
        &self,
        new: &NewCallback,
        key: Option<&IdempotencyKey>,
        id: String,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Created, StoreError>> + Send;

    fn get(&self, id: &str) -> impl Future<Output = Result<Option<WorkItem>, PortError>> + Send;

    /// Up to `limit` items matching `filter`, placed after `after` (a
    /// [`Page::next`]), oldest place in line first.
    fn list(
        &self,
        filter: ListFilter,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = Result<Page, PortError>> + Send;

    /// A live item becomes `canceled` with `reason`.
    fn cancel(
        &self,
        id: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<CancelOutcome, PortError>> + Send;
}

/// A shared store is a store: the API and the effect runner of one process use one.
impl<W: WorkStore> WorkStore for std::sync::Arc<W> {
    async fn create_callback(
        &self,
        new: &NewCallback,
        key: Option<&IdempotencyKey>,
        id: String,
        now: DateTime<Utc>,
    ) -> Result<Created, StoreError> {
        (**self).create_callback(new, key, id, now).await
    }

    async fn get(&self, id: &str) -> Result<Option<WorkItem>, PortError> {
        (**self).get(id).await
    }

    async fn list(
        &self,
        filter: ListFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page, PortError> {
        (**self).list(filter, after, limit).await
    }

    async fn cancel(
        &self,
        id: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<CancelOutcome, PortError> {
        (**self).cancel(id, reason, now).await
    }
}
