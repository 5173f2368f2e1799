//! The capabilities the recordings pipeline needs, one trait each, so the
//! same pipeline runs on AWS (S3, SES, DynamoDB, SQS), on the local data
//! folder, and under fault injection in tests.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::job::{JobState, RecordingJob};

/// Why an adapter call failed, and so what the pipeline does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortError {
    /// Worth retrying later (network, throttling, 5xx).
    Transient(String),
    /// The thing is not there (a recording Twilio no longer has).
    NotFound(String),
    /// Retrying will not help (bad request, access denied).
    Permanent(String),
}

impl std::fmt::Display for PortError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PortError::Transient(m) => write!(f, "transient: {m}"),
            PortError::NotFound(m) => write!(f, "not found: {m}"),
            PortError::Permanent(m) => write!(f, "permanent: {m}"),
        }
    }
}

pub type PortResult<T> = Result<T, PortError>;

/// A stored object as the store reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    /// Hex MD5 of the content when the store can tell (S3's ETag for a single PUT with SSE-S3).
    pub md5_hex: Option<String>,
}

/// Recording media from Twilio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    pub bytes: Vec<u8>,
    pub content_type: String,
}

/// Where recordings are kept: S3, or the local data folder.
pub trait RecordingStore: Send + Sync {
    fn put(
        &self,
        key: &str,
        bytes: &[u8],
        content_type: &str,
        metadata: &[(String, String)],
    ) -> impl Future<Output = PortResult<()>> + Send;
    fn head(&self, key: &str) -> impl Future<Output = PortResult<Option<ObjectInfo>>> + Send;
    /// A link that works without Twilio (a presigned URL, a file path).
    fn link(&self, key: &str, expires: Duration)
        -> impl Future<Output = PortResult<String>> + Send;
    /// Whether a copy here is safe without this machine (S3: yes; the local
    /// data folder: no). Twilio's copy is deleted only when it is.
    fn off_site(&self) -> bool {
        true
    }
}

/// Sends a complete MIME message: SES, or `.eml` files in an outbox.
pub trait Mailer: Send + Sync {
    fn send_raw(
        &self,
        from: &str,
        to: &[String],
        mime: &[u8],
    ) -> impl Future<Output = PortResult<String>> + Send;
}

/// The parts of Twilio's REST API the pipeline uses.
pub trait TwilioApi: Send + Sync {
    /// GETs recording media from `url`, the URL the pipeline built from the
    /// configured API base (see [`super::MediaSource`]), never one a callback
    /// posted; `NotFound` for a 404, `Permanent` for media over
    /// [`super::MAX_MEDIA_BYTES`] or an address it may not reach.
    fn download(&self, url: &str) -> impl Future<Output = PortResult<Media>> + Send;
    /// DELETEs a recording; a recording already gone counts as deleted.
    fn delete_recording(&self, recording_sid: &str) -> impl Future<Output = PortResult<()>> + Send;
    /// Creates an SMS; returns its SID (or where it was written).
    fn send_sms(
        &self,
        from: &str,
        to: &str,
        body: &str,
    ) -> impl Future<Output = PortResult<String>> + Send;
}

/// Outcome of asking for a job's lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This worker holds the lease until it saves, releases, or the lease runs out.
    Acquired(JobState),
    /// Another worker holds it: try again later.
    Busy,
}

/// Durable per-recording progress: what has been done, exactly once.
pub trait StateStore: Send + Sync {
    /// Takes the lease on `recording_sid` unless another owner holds an unexpired one.
    fn claim(
        &self,
        recording_sid: &str,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> impl Future<Output = PortResult<Claim>> + Send;
    /// Saves progress; fails (`Permanent`) if `owner` no longer holds the lease.
    fn save(
        &self,
        recording_sid: &str,
        owner: &str,
        state: &JobState,
    ) -> impl Future<Output = PortResult<()>> + Send;
    fn release(
        &self,
        recording_sid: &str,
        owner: &str,
    ) -> impl Future<Output = PortResult<()>> + Send;
    /// Stores a transcription that arrived (it may come before or after the recording).
    fn record_transcription(
        &self,
        recording_sid: &str,
        status: &str,
        text: Option<&str>,
    ) -> impl Future<Output = PortResult<()>> + Send;
    /// Claims `key` for good: `true` for the first caller ever, `false` for
    /// every later one (an effect that must happen at most once, such as an
    /// after-call SMS per CallSid). Atomic across processes.
    fn claim_once(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = PortResult<bool>> + Send;
}

/// The durable queue between the webhook and the worker: SQS, or in-process.
pub trait JobQueue: Send + Sync {
    fn enqueue(
        &self,
        job: &RecordingJob,
        delay: Duration,
    ) -> impl Future<Output = PortResult<()>> + Send;
}
