//! What the recordings pipeline is handed, and what a section asks of it:
//! plain data, shared by the flow (which decides) and the pipeline (which acts).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A recording Twilio reported as completed, as the webhook saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordingJob {
    pub recording_sid: String,
    pub call_sid: String,
    /// Twilio's `RecordingUrl` (no extension).
    pub recording_url: String,
    pub duration_seconds: Option<u32>,
    /// The section that recorded it (`initiated_by_section`): an action's
    /// name, or `agent_line_NAME` for an agent line.
    pub section: String,
    /// The caller's and the called number, carried in the callback URL.
    pub caller: Option<String>,
    pub called: Option<String>,
    pub received_at: DateTime<Utc>,
}

/// What a recording's section asks of the pipeline: decided once, by the
/// section's own type (see `Config::recording_plan`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingPlan {
    /// SMS alert: (from, to).
    pub sms: Option<(String, String)>,
    pub email_to: Vec<String>,
    pub attach: bool,
    pub transcribe: bool,
    /// `None`: the `[aws] keep_twilio_copy` default.
    pub keep_twilio_copy: Option<bool>,
}

impl RecordingPlan {
    /// Exported and stored, without alerts (a recorded forward or agent call).
    pub fn export_only(keep_twilio_copy: Option<bool>) -> Self {
        RecordingPlan {
            sms: None,
            email_to: Vec::new(),
            attach: false,
            transcribe: false,
            keep_twilio_copy,
        }
    }
}

/// What a stored copy looks like once verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCopy {
    pub key: String,
    pub size: u64,
    pub md5_hex: String,
}

/// Durable progress of one recording; each flag is set only after its step succeeded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobState {
    pub stored: Option<StoredCopy>,
    pub sms_sent: bool,
    pub email_sent: bool,
    pub twilio_deleted: bool,
    pub transcription_status: Option<String>,
    pub transcription_text: Option<String>,
    /// Real attempts so far (a delivery that only waited is not one).
    pub attempts: u32,
    pub last_error: Option<String>,
    /// After a failed attempt: no new attempt before this instant, however
    /// many deliveries of the job arrive (duplicate callbacks, SQS copies).
    #[serde(default)]
    pub retry_at: Option<DateTime<Utc>>,
}

pub fn md5_hex(bytes: &[u8]) -> String {
    use md5::{Digest, Md5};
    let digest = Md5::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
