//! Work items: the callbacks and voicemails an agent must deal with.
//!
//! A work item is created exactly once (per `Idempotency-Key`, and at most
//! one live callback per queue and number), kept in a real database behind
//! one trait ([`WorkStore`]: SQLite under `ivr serve`, DynamoDB on AWS), and
//! offered to other systems through a JSON API ([`api`]). Everything here
//! but the stores is pure.
//!
//! | status | meaning |
//! |---|---|
//! | `pending` | waiting for an agent (from `retry_at` on, after a failed attempt) |
//! | `dialing` | claimed by one agent, being dialled |
//! | `done` | the customer was reached |
//! | `failed` | the last allowed attempt failed |
//! | `canceled` | taken off the list, with a reason |

pub mod api;
#[cfg(any(test, feature = "contract-tests"))]
pub mod contract;
#[cfg(feature = "sqlite")]
pub mod sqlite;
mod store;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

pub use store::{CancelOutcome, Created, IdempotencyKey, ListFilter, Page, StoreError, WorkStore};

/// Items per page of a list.
pub const PAGE_SIZE: usize = 50;
/// The longest note accepted (characters).
pub const MAX_NOTE_CHARS: usize = 2000;
/// The longest cancel reason accepted (characters).
pub const MAX_REASON_CHARS: usize = 500;
/// The reason of a cancel that gives none.
pub const DEFAULT_CANCEL_REASON: &str = "canceled by operator";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Callback,
    Voicemail,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::Callback, Kind::Voicemail];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Callback => "callback",
            Kind::Voicemail => "voicemail",
        }
    }

    pub fn parse(v: &str) -> Option<Kind> {
        Self::ALL.into_iter().find(|k| k.as_str() == v)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Dialing,
    Done,
    Failed,
    Canceled,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Pending,
        Status::Dialing,
        Status::Done,
        Status::Failed,
        Status::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Dialing => "dialing",
            Status::Done => "done",
            Status::Failed => "failed",
            Status::Canceled => "canceled",
        }
    }

    pub fn parse(v: &str) -> Option<Status> {
        Self::ALL.into_iter().find(|s| s.as_str() == v)
    }

    /// Still to be dealt with: at most one live callback per queue and number.
    pub fn is_live(self) -> bool {
        matches!(self, Status::Pending | Status::Dialing)
    }
}

/// One try at calling the customer back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub at: DateTime<Utc>,
    /// Twilio's `DialCallStatus` (`completed`, `busy`, `no-answer`, `failed`, …).
    pub status: String,
    /// Twilio's `AnsweredBy`, where known (`human`, `machine_start`, …).
    pub answered_by: Option<String>,
}

/// A callback or a voicemail, as stored and as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkItem {
    pub id: String,
    pub kind: Kind,
    pub status: Status,
    /// The number to call back (E.164).
    pub to: String,
    /// The number to call from: the one the customer dialled (E.164).
    pub from: String,
    pub queue: String,
    /// When the customer first joined the queue: their place in line.
    pub joined_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// After a failed attempt: not offered again before this.
    pub retry_at: Option<DateTime<Utc>>,
    pub attempts: Vec<Attempt>,
    /// The call it came from (a callback asked for in the queue).
    pub call_sid: Option<String>,
    /// A voicemail's recording: its SID, where it is stored, its length.
    pub recording_sid: Option<String>,
    pub recording_key: Option<String>,
    pub duration_seconds: Option<u32>,
    pub transcription: Option<String>,
    pub note: Option<String>,
    pub cancel_reason: Option<String>,
}

impl WorkItem {
    /// The list order: place in line, then id (unique, so a total order).
    /// Fixed-width UTC text, so byte order is time order (also in DynamoDB).
    pub fn place(&self) -> String {
        place_key(self.joined_at, &self.id)
    }
}

pub fn place_key(joined_at: DateTime<Utc>, id: &str) -> String {
    format!(
        "{}#{id}",
        joined_at.to_rfc3339_opts(SecondsFormat::Micros, true)
    )
}

/// A callback to create (from the API, or asked for in the queue).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCallback {
    pub to: String,
    pub from: String,
    pub queue: String,
    pub note: Option<String>,
    /// The caller's place in line; the API's callbacks join now.
    pub joined_at: DateTime<Utc>,
    pub call_sid: Option<String>,
}

impl NewCallback {
    /// The item this creates, as `id` at `now`.
    pub fn item(&self, id: String, now: DateTime<Utc>) -> WorkItem {
        WorkItem {
            id,
            kind: Kind::Callback,
            status: Status::Pending,
            to: self.to.clone(),
            from: self.from.clone(),
            queue: self.queue.clone(),
            joined_at: self.joined_at,
            created_at: now,
            updated_at: now,
            retry_at: None,
            attempts: Vec::new(),
            call_sid: self.call_sid.clone(),
            recording_sid: None,
            recording_key: None,
            duration_seconds: None,
            transcription: None,
            note: self.note.clone(),
            cancel_reason: None,
        }
    }
}

/// A fresh item id: `WI` and 32 hex digits, like Twilio's SIDs. Unique, not
/// secret (the API needs a key anyway): 128 bits from the process's random
/// hasher keys, the clock and a counter.
pub fn new_id() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let half = |salt: u64| {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(salt);
        h.write_u64(n);
        h.write_u128(nanos);
        h.write_u32(std::process::id());
        h.finish()
    };
    format!("WI{:016x}{:016x}", half(1), half(2))
}

/// Whether `v` looks like an id [`new_id`] made.
pub fn is_item_id(v: &str) -> bool {
    v.len() == 34 && v.starts_with("WI") && v[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// Text a stranger wrote (a note, a reason): within `max` characters, no
/// characters XML cannot carry, no other control characters than newlines
/// and tabs. Pages escape it when they show it.
pub fn check_text(v: &str, max: usize) -> Result<(), String> {
    if v.chars().count() > max {
        return Err(format!("longer than {max} characters"));
    }
    if let Some(c) = v.chars().find(|&c| {
        (c.is_control() && c != '\n' && c != '\t' && c != '\r') || crate::twiml::is_xml_illegal(c)
    }) {
        return Err(format!("contains the control character U+{:04X}", c as u32));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_recognised() {
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| new_id()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(ids.iter().all(|i| is_item_id(i)));
        assert!(!is_item_id("WI123"));
        assert!(!is_item_id("CA0123456789abcdef0123456789abcdef"));
    }

    #[test]
    fn place_orders_by_time_then_id() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let a = place_key(t("2026-12-02T09:59:59.999Z"), "WIb");
        let b = place_key(t("2026-12-02T10:00:00Z"), "WIa");
        let c = place_key(t("2026-12-02T10:00:00Z"), "WIb");
        assert!(a < b && b < c, "{a} {b} {c}");
    }

    #[test]
    fn text_checks() {
        assert!(check_text("call after 5pm\nthanks", 100).is_ok());
        assert!(
            check_text("<script>alert(1)</script>", 100).is_ok(),
            "escaped when shown"
        );
        assert!(check_text("a\u{0}b", 100).is_err());
        assert!(check_text("a\u{1b}[31m", 100).is_err());
        assert!(check_text(&"x".repeat(101), 100).is_err());
        assert!(check_text(&"é".repeat(100), 100).is_ok());
    }

    #[test]
    fn status_and_kind_names_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
        assert_eq!(Status::parse("PENDING"), None);
    }
}
