//! The alert email as a complete MIME message, written once for SES and
//! for the local `.eml` outbox alike.

use base64::Engine;
use chrono::{DateTime, Utc};

use super::job::{JobState, RecordingJob};
use super::ports::Media;
use crate::config::Config;

/// A voicemail alert: caller, called number, local time, duration,
/// transcription, and the link; the audio attached when asked.
#[allow(clippy::too_many_arguments)]
pub fn voicemail_email(
    config: &Config,
    job: &RecordingJob,
    state: &JobState,
    link: &str,
    from: &str,
    to: &[String],
    attachment: Option<&Media>,
    now: DateTime<Utc>,
) -> String {
    let tz = config.ivr.timezone;
    let when = job
        .received_at
        .with_timezone(&tz)
        .format("%a %-d %b %Y %H:%M %Z")
        .to_string();
    let caller = job.caller.as_deref().unwrap_or("an unknown number");
    let subject = format!("New voicemail from {caller}");
    let mut text = String::new();
    text.push_str(&format!("New voicemail from {caller}.\n\n"));
    text.push_str(&format!("Caller:    {caller}\n"));
    text.push_str(&format!(
        "Called:    {}\n",
        job.called.as_deref().unwrap_or("unknown")
    ));
    text.push_str(&format!("Received:  {when}\n"));
    if let Some(d) = job.duration_seconds {
        text.push_str(&format!("Duration:  {d} s\n"));
    }
    text.push_str(&format!("Section:   [action_{}]\n", job.section));
    text.push_str(&format!("Call SID:  {}\n\n", job.call_sid));
    match (
        &state.transcription_text,
        state.transcription_status.as_deref(),
    ) {
        (Some(t), _) => text.push_str(&format!("Transcription:\n{t}\n\n")),
        (None, Some(status)) => text.push_str(&format!("Transcription: {status}\n\n")),
        (None, None) => {}
    }
    text.push_str(&format!("Listen: {link}\n"));
    if attachment.is_some() {
        text.push_str("The recording is attached.\n");
    }

    let b64 = base64::engine::general_purpose::STANDARD;
    let mut m = String::new();
    m.push_str(&format!("From: {from}\r\n"));
    m.push_str(&format!("To: {}\r\n", to.join(", ")));
    m.push_str(&format!("Subject: {}\r\n", encode_header(&subject)));
    m.push_str(&format!("Date: {}\r\n", now.to_rfc2822()));
    m.push_str(&format!(
        "Message-ID: <{}.{}@ivr>\r\n",
        job.recording_sid,
        now.timestamp()
    ));
    m.push_str("MIME-Version: 1.0\r\n");
    let body_part = format!(
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
        wrap(&b64.encode(text.as_bytes()))
    );
    match attachment {
        None => m.push_str(&body_part),
        Some(media) => {
            let boundary = format!("ivr-{}", job.recording_sid);
            m.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n"
            ));
            m.push_str(&format!("--{boundary}\r\n{body_part}"));
            m.push_str(&format!(
                "--{boundary}\r\nContent-Type: {}\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"{}.mp3\"\r\n\r\n{}\r\n",
                media.content_type,
                job.recording_sid,
                wrap(&b64.encode(&media.bytes))
            ));
            m.push_str(&format!("--{boundary}--\r\n"));
        }
    }
    m
}

/// RFC 2047 for headers that are not plain ASCII.
fn encode_header(v: &str) -> String {
    if v.is_ascii() {
        v.to_string()
    } else {
        format!(
            "=?utf-8?B?{}?=",
            base64::engine::general_purpose::STANDARD.encode(v.as_bytes())
        )
    }
}

/// Base64 lines of 76 characters, as MIME wants.
fn wrap(s: &str) -> String {
    s.as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\r\n")
}
