//! `/ivr/callback/voicemail/alert_sms`: Twilio's recording status callback,
//! and its transcription callback (same URL; told apart by
//! `TranscriptionStatus`), for every section that records — a voicemail,
//! a forward with `record = yes`, an agent line with `record = yes`.
//!
//! Never alerts by itself: it checks what it was sent and hands the
//! recording to the pipeline as an [`Effect`]. Whether a section records,
//! transcribes or keeps Twilio's copy is its type's [`RecordingPlan`].
//!
//! [`RecordingPlan`]: super::RecordingPlan

use crate::answer::{Answer, Effect, Reply};
use crate::config::Config;
use crate::ids::{is_e164, is_http_url, is_sid};
use crate::recordings::job::RecordingJob;
use crate::twiml::Response;

pub fn recording_status(config: &Config, a: &Answer) -> Reply {
    let ok = |outcome: &str| Reply::new(Response::new(), outcome);
    let Some(section) = a.param("initiated_by_section") else {
        return ok("ignored: no initiated_by_section");
    };
    // An action, or an agent line (`agent_line_NAME`) recording its calls.
    let section = match config.agent_line_by_section(section) {
        Some(line) => line.section.as_str(),
        None => match config.action(section) {
            Some(action) => action.name.as_str(),
            None => return ok("ignored: unknown section"),
        },
    };
    let Some(plan) = config.recording_plan(section) else {
        return ok("ignored: section does not record");
    };
    let Some(recording_sid) = a.param("RecordingSid").filter(|s| is_sid(s, "RE")) else {
        return ok("ignored: no valid RecordingSid");
    };
    if let Some(status) = a.param("TranscriptionStatus") {
        if !plan.transcribe {
            return ok("ignored: section does not transcribe");
        }
        let mut reply = ok("transcription");
        reply.effects.push(Effect::RecordTranscription {
            recording_sid: recording_sid.to_string(),
            status: status.to_string(),
            text: a.param("TranscriptionText").map(str::to_string),
        });
        return reply;
    }
    if a.param("RecordingStatus") != Some("completed") {
        return ok("ignored: recording not completed");
    }
    let Some(url) = a.param("RecordingUrl").filter(|u| is_http_url(u)) else {
        return ok("ignored: no valid RecordingUrl");
    };
    let phone = |name: &str| a.param(name).filter(|p| is_e164(p)).map(str::to_string);
    let mut reply = ok("recording queued");
    reply.effects.push(Effect::ProcessRecording(RecordingJob {
        recording_sid: recording_sid.to_string(),
        call_sid: a.param("CallSid").unwrap_or("unknown").to_string(),
        recording_url: url.to_string(),
        duration_seconds: a.param("RecordingDuration").and_then(|d| d.parse().ok()),
        section: section.to_string(),
        caller: phone("caller"),
        called: phone("called"),
        received_at: a.call.now,
    }));
    reply
}
