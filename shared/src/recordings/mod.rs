//! The recordings pipeline: a finished recording at Twilio → a verified copy
//! in our store → SMS and email alerts → Twilio's copy deleted. Each step
//! happens once, whatever Twilio retries and however many workers race, and
//! nothing is deleted from Twilio before its copy is verified.
//!
//! The webhook only validates and enqueues a [`RecordingJob`]; a worker runs
//! [`Pipeline::process`] until it says [`Outcome::Done`]. Progress lives in a
//! [`StateStore`] under a lease, so a crash or a retry resumes where it
//! stopped instead of starting again. The backoff is kept there too
//! (`JobState::retry_at`), and so is the attempt count: a delivery of a job
//! that is in progress or waiting for its backoff is a [`Outcome::Wait`],
//! not an attempt, however many copies the queue or Twilio deliver.
//!
//! Media is fetched from the configured Twilio API base only, never from
//! the posted `RecordingUrl` as such ([`MediaSource`]); a copy that is only
//! on this machine's disk never lets Twilio's copy be deleted
//! ([`RecordingStore::off_site`]).

pub mod callback;
pub(crate) mod job;
pub mod local;
pub mod mail;
pub mod media;
pub mod ports;

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::Config;
pub use job::{md5_hex, JobState, RecordingJob, RecordingPlan, StoredCopy};
pub use media::{MediaSource, Reach, MAX_MEDIA_BYTES};
pub use ports::{
    Claim, JobQueue, Mailer, Media, ObjectInfo, PortError, PortResult, RecordingStore, StateStore,
    TwilioApi,
};

/// What the worker should do with the job after one pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// A step failed: try again after `after` (counts toward the attempt limit).
    Retry {
        after: Duration,
        reason: String,
    },
    /// Nothing failed, it is just not time yet (a transcription to wait for,
    /// another worker holding the lease): look again after `after`, without
    /// counting an attempt.
    Wait {
        after: Duration,
        reason: String,
    },
    /// Retrying cannot help; the job goes where an operator sees it.
    Failed {
        reason: String,
    },
}

/// Knobs that come from the environment or `[aws]`, not from a job.
#[derive(Debug, Clone)]
pub struct Settings {
    pub email_from: Option<String>,
    pub link_expiry: Duration,
    pub lease: Duration,
    /// How long to hold alerts back for a transcription that may still come.
    pub transcription_wait: Duration,
    /// Never delete from Twilio (no credentials to do it with, locally).
    pub never_delete: bool,
    /// Where media is downloaded from (the Twilio API base and account);
    /// the posted `RecordingUrl` is only checked against it.
    pub media: MediaSource,
    /// Real attempts (waits do not count) before a recording is given up on
    /// and dead-lettered, whatever the queue: the count is in the state store.
    pub max_attempts: u32,
    /// SMS alerts are files for the developer (`ivr serve` without Twilio
    /// credentials), not texts: they may carry a `file://` link. A text to
    /// a phone only ever carries an http(s) link.
    pub sms_to_files: bool,
}

/// Attempts before a recording is dead-lettered (SQS's redrive policy,
/// `maxReceiveCount` in template.yaml, is 10 too: the backstop).
pub const MAX_ATTEMPTS: u32 = 10;

impl Settings {
    pub fn from_config(config: &Config) -> Self {
        Settings {
            email_from: std::env::var("IVR_SES_SENDER")
                .ok()
                .filter(|v| !v.trim().is_empty())
                .or_else(|| config.aws.ses_sender.clone()),
            link_expiry: Duration::from_secs(
                u64::from(config.aws.recording_link_expiry_hours) * 3600,
            ),
            lease: Duration::from_secs(60),
            transcription_wait: Duration::from_secs(600),
            never_delete: false,
            media: media_from_env(config),
            max_attempts: MAX_ATTEMPTS,
            sms_to_files: false,
        }
    }
}

/// `TWILIO_API_BASE` (else Twilio's), `TWILIO_ACCOUNT_SID` (else `[twilio]
/// account_sid`), read as the shell reads them; loopback stand-ins only
/// without credentials (no account SID or no auth token). Entry points that
/// hold a Twilio client set [`Settings::media`] from the client itself.
fn media_from_env(config: &Config) -> MediaSource {
    let env = |name: &str| {
        std::env::var(name)
            .ok()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let account = env("TWILIO_ACCOUNT_SID").or_else(|| config.twilio.account_sid.clone());
    let token = env("TWILIO_AUTH_TOKEN").or_else(|| config.twilio.auth_token.clone());
    let base = env("TWILIO_API_BASE").unwrap_or_else(|| media::DEFAULT_API_BASE.to_string());
    let credentials = account.is_some() && token.is_some();
    MediaSource::new(&base, account.as_deref(), !credentials)
}

/// Delay before attempt `n` (1-based): 2 s, 4 s, 8 s … capped at 15 minutes (SQS's maximum delay).
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(2u64.saturating_pow(attempt.clamp(1, 20)).min(900))
}

/// `recordings/YYYY/MM/DD/<CallSid>/<RecordingSid>.mp3`, dated in the IVR's timezone.
pub fn object_key(config: &Config, job: &RecordingJob) -> String {
    let local = job.received_at.with_timezone(&config.ivr.timezone);
    format!(
        "recordings/{}/{}/{}.mp3",
        local.format("%Y/%m/%d"),
        sanitize(&job.call_sid),
        sanitize(&job.recording_sid)
    )
}

fn sanitize(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// One pass of the pipeline over one job, with the adapters it runs on.
pub struct Pipeline<'a, S, M, T, K> {
    pub config: &'a Config,
    pub settings: &'a Settings,
    pub store: &'a S,
    pub mailer: &'a M,
    pub twilio: &'a T,
    pub state: &'a K,
}

impl<S: RecordingStore, M: Mailer, T: TwilioApi, K: StateStore> Pipeline<'_, S, M, T, K> {
    /// Advances `job` as far as it can. Safe to call again, concurrently or
    /// after a crash: steps already done are skipped.
    pub async fn process(&self, job: &RecordingJob, owner: &str, now: DateTime<Utc>) -> Outcome {
        let sid = job.recording_sid.as_str();
        let mut state = match self.state.claim(sid, owner, now, self.settings.lease).await {
            Ok(Claim::Acquired(s)) => s,
            Ok(Claim::Busy) => {
                return Outcome::Wait {
                    after: self.settings.lease,
                    reason: "another worker holds this recording".into(),
                }
            }
            Err(e) => return retry_or_fail(1, self.settings.max_attempts, &e, "claiming the job"),
        };
        if let Some(at) = state.retry_at.filter(|at| *at > now) {
            // A duplicate delivery (Twilio's retried callback, another SQS
            // copy) of a job waiting for its backoff: not an attempt.
            self.release(sid, owner).await;
            return Outcome::Wait {
                after: until(now, at),
                reason: format!(
                    "backing off after attempt {}: next attempt at {}",
                    state.attempts,
                    at.to_rfc3339()
                ),
            };
        }
        state.attempts = state.attempts.saturating_add(1);
        let attempt = state.attempts;
        let result = self.steps(job, &mut state, now).await;
        let outcome = match result {
            Ok(outcome) => {
                state.last_error = None;
                state.retry_at = None;
                outcome
            }
            Err((what, e)) => {
                tracing::warn!(recording_sid = sid, step = what, error = %e, attempt, "recording step failed");
                state.last_error = Some(format!("{what}: {e}"));
                let outcome = retry_or_fail(attempt, self.settings.max_attempts, &e, what);
                state.retry_at = match &outcome {
                    Outcome::Retry { after, .. } => {
                        Some(now + chrono::Duration::from_std(*after).unwrap_or_default())
                    }
                    _ => None,
                };
                outcome
            }
        };
        if let Err(e) = self.state.save(sid, owner, &state).await {
            tracing::warn!(recording_sid = sid, error = %e, "could not save progress");
        }
        self.release(sid, owner).await;
        outcome
    }

    async fn release(&self, sid: &str, owner: &str) {
        if let Err(e) = self.state.release(sid, owner).await {
            tracing::warn!(recording_sid = sid, error = %e, "could not release the lease");
        }
    }

    /// The URL to download `job`'s media from (never the posted one as such).
    fn media_url(&self, job: &RecordingJob) -> Result<String, (&'static str, PortError)> {
        self.settings.media.media_url(job).map_err(|e| {
            tracing::warn!(recording_sid = %job.recording_sid, error = %e, "RecordingUrl refused");
            ("checking the RecordingUrl", PortError::Permanent(e))
        })
    }

    async fn steps(
        &self,
        job: &RecordingJob,
        state: &mut JobState,
        now: DateTime<Utc>,
    ) -> Result<Outcome, (&'static str, PortError)> {
        let sid = job.recording_sid.as_str();
        let Some(plan) = self.config.recording_plan(&job.section) else {
            // The config changed since the call: keep the recording, touch nothing else.
            tracing::warn!(recording_sid = sid, section = %job.section, "section no longer records: storing only, Twilio copy kept");
            self.store_copy(job, state)
                .await
                .map_err(|e| ("storing", e))?;
            return Ok(Outcome::Done);
        };
        if plan.transcribe && state.transcription_status.is_none() {
            let waited = now
                .signed_duration_since(job.received_at)
                .to_std()
                .unwrap_or_default();
            if waited < self.settings.transcription_wait {
                // Not an attempt: undo the count so waiting never exhausts the retries.
                state.attempts = state.attempts.saturating_sub(1);
                return Ok(Outcome::Wait {
                    after: Duration::from_secs(30),
                    reason: "waiting for Twilio's transcription".into(),
                });
            }
            tracing::info!(
                recording_sid = sid,
                "no transcription came; alerting without it"
            );
        }
        let media = if state.stored.is_none() || (plan.attach && !state.email_sent) {
            let url = self.media_url(job)?;
            Some(
                self.twilio
                    .download(&url)
                    .await
                    .map_err(|e| ("downloading from Twilio", e))?,
            )
        } else {
            None
        };
        if state.stored.is_none() {
            let media = media.as_ref().ok_or((
                "downloading from Twilio",
                PortError::Transient("no media".into()),
            ))?;
            state.stored = Some(
                self.put_verified(job, state, media)
                    .await
                    .map_err(|e| ("storing the copy", e))?,
            );
            tracing::info!(recording_sid = sid, key = %state.stored.as_ref().map(|s| s.key.as_str()).unwrap_or(""), "recording stored and verified");
        }
        let Some(stored) = state.stored.clone() else {
            return Err((
                "storing the copy",
                PortError::Transient("no stored copy".into()),
            ));
        };
        let link = self
            .store
            .link(&stored.key, self.settings.link_expiry)
            .await
            .map_err(|e| ("linking the copy", e))?;
        let wants_delete = !self.config.keeps_twilio_copy(&plan) && !self.settings.never_delete;
        // Our copy only on this machine's disk is not enough to delete Twilio's.
        let deletes = wants_delete && self.store.off_site();
        if let (Some((from, to)), false) = (&plan.sms, state.sms_sent) {
            let body = sms_body(job, &link, self.settings.sms_to_files, deletes);
            self.twilio
                .send_sms(from, to, &body)
                .await
                .map_err(|e| ("sending the SMS alert", e))?;
            state.sms_sent = true;
        }
        if !plan.email_to.is_empty() && !state.email_sent {
            let from = self.settings.email_from.clone().ok_or((
                "sending the email alert",
                PortError::Permanent("no sender: set IVR_SES_SENDER or [aws] ses_sender".into()),
            ))?;
            let attachment = if plan.attach { media.as_ref() } else { None };
            let mime = mail::voicemail_email(
                self.config,
                job,
                state,
                &link,
                &from,
                &plan.email_to,
                attachment,
                now,
            );
            self.mailer
                .send_raw(&from, &plan.email_to, mime.as_bytes())
                .await
                .map_err(|e| ("sending the email alert", e))?;
            state.email_sent = true;
        }
        if wants_delete && !deletes && !state.twilio_deleted {
            tracing::info!(
                recording_sid = sid,
                "Twilio's copy kept: our copy is only on this machine's disk"
            );
        }
        if deletes && !state.twilio_deleted {
            // The copy was verified when stored; check it is still there right before deleting.
            match self
                .store
                .head(&stored.key)
                .await
                .map_err(|e| ("re-checking the copy", e))?
            {
                Some(info) if info.size == stored.size => {}
                _ => {
                    state.stored = None;
                    return Err((
                        "re-checking the copy",
                        PortError::Transient("stored copy missing; storing again".into()),
                    ));
                }
            }
            self.twilio
                .delete_recording(sid)
                .await
                .map_err(|e| ("deleting Twilio's copy", e))?;
            state.twilio_deleted = true;
            tracing::info!(recording_sid = sid, "Twilio's copy deleted");
        }
        Ok(Outcome::Done)
    }

    async fn store_copy(&self, job: &RecordingJob, state: &mut JobState) -> PortResult<()> {
        if state.stored.is_none() {
            let url = self.media_url(job).map_err(|(_, e)| e)?;
            let media = self.twilio.download(&url).await?;
            state.stored = Some(self.put_verified(job, state, &media).await?);
        }
        Ok(())
    }

    async fn put_verified(
        &self,
        job: &RecordingJob,
        state: &JobState,
        media: &Media,
    ) -> PortResult<StoredCopy> {
        if media.bytes.is_empty() {
            return Err(PortError::Transient(
                "Twilio returned an empty recording".into(),
            ));
        }
        let key = object_key(self.config, job);
        let md5_hex = md5_hex(&media.bytes);
        self.store
            .put(
                &key,
                &media.bytes,
                &media.content_type,
                &metadata(job, state),
            )
            .await?;
        match self.store.head(&key).await? {
            Some(info)
                if info.size == media.bytes.len() as u64
                    && info
                        .md5_hex
                        .as_ref()
                        .is_none_or(|m| m.eq_ignore_ascii_case(&md5_hex)) =>
            {
                Ok(StoredCopy {
                    key,
                    size: info.size,
                    md5_hex,
                })
            }
            Some(info) => Err(PortError::Transient(format!(
                "stored copy does not match: {} bytes, md5 {:?}; expected {} bytes, md5 {md5_hex}",
                info.size,
                info.md5_hex,
                media.bytes.len()
            ))),
            None => Err(PortError::Transient(
                "stored copy not found after writing it".into(),
            )),
        }
    }
}

/// Carries out [`Effect::RecordTranscription`](crate::flow::Effect): the
/// same for every runner, local or AWS.
pub async fn keep_transcription<K: StateStore>(
    state: &K,
    recording_sid: &str,
    status: &str,
    text: Option<&str>,
) -> Result<String, String> {
    state
        .record_transcription(recording_sid, status, text)
        .await
        .map(|_| format!("transcription {status} kept for {recording_sid}"))
        .map_err(|e| e.to_string())
}

/// Carries out [`crate::flow::Effect::SendSms`]: claims `key` in `state`,
/// then sends through `twilio` — so the SMS goes at most once per key,
/// whatever Twilio retries or duplicates. Never fails the request that
/// asked for it (the caller is still on the line): problems are logged at
/// error level and described in the returned text. A claimed SMS whose
/// sending failed is not retried; a missing thank-you beats a second one.
pub async fn send_sms_once<K: StateStore, T: TwilioApi>(
    state: &K,
    twilio: &T,
    key: &str,
    from: &str,
    to: &str,
    body: &str,
    now: DateTime<Utc>,
) -> String {
    match state.claim_once(key, now).await {
        Ok(true) => {}
        Ok(false) => return format!("{key}: already sent, not sent again"),
        Err(e) => {
            tracing::error!(key, error = %e, "SMS not sent: cannot claim it (so it cannot be sent exactly once)");
            return format!("{key}: not sent: claiming failed: {e}");
        }
    }
    match twilio.send_sms(from, to, body).await {
        Ok(sid) => format!("{key}: sent {sid}"),
        Err(e) => {
            tracing::error!(key, error = %e, "SMS not sent: Twilio refused or could not be reached; not retried");
            format!("{key}: not sent: {e}")
        }
    }
}

/// A transient failure is retried after [`backoff`] until `max` attempts;
/// anything else (and the last attempt) fails for good.
fn retry_or_fail(attempt: u32, max: u32, e: &PortError, what: &str) -> Outcome {
    match e {
        PortError::Transient(_) if attempt < max => Outcome::Retry {
            after: backoff(attempt),
            reason: format!("{what}: {e}"),
        },
        PortError::Transient(_) => Outcome::Failed {
            reason: format!("gave up after {attempt} attempts: {what}: {e}"),
        },
        PortError::NotFound(_) | PortError::Permanent(_) => Outcome::Failed {
            reason: format!("{what}: {e}"),
        },
    }
}

/// From `now` until `at`, in whole seconds rounded up (a queue's delays are
/// whole seconds), at least one.
fn until(now: DateTime<Utc>, at: DateTime<Utc>) -> Duration {
    let ms = u64::try_from(at.signed_duration_since(now).num_milliseconds()).unwrap_or(0);
    Duration::from_secs(ms.div_ceil(1000).max(1))
}

/// The SMS alert. A text to a phone carries the link only if a phone can
/// open it (http(s): the presigned S3 link); a copy on this machine's disk
/// is described instead. SMS files (no Twilio credentials) keep the link.
fn sms_body(job: &RecordingJob, link: &str, to_files: bool, twilio_deletes: bool) -> String {
    let from = job
        .caller
        .as_deref()
        .map(|c| format!(" from {c}"))
        .unwrap_or_default();
    let duration = job
        .duration_seconds
        .map(|d| format!(" ({d}s)"))
        .unwrap_or_default();
    let head = format!("New voicemail{from}{duration}");
    if to_files || link.starts_with("https://") || link.starts_with("http://") {
        format!("{head}: {link}")
    } else if twilio_deletes {
        format!("{head}: stored locally")
    } else {
        format!("{head}: stored locally; Twilio's copy kept")
    }
}

/// S3 user metadata must be ASCII: anything else is percent-encoded.
fn metadata(job: &RecordingJob, state: &JobState) -> Vec<(String, String)> {
    let mut m = vec![
        ("section".to_string(), job.section.clone()),
        ("call-sid".to_string(), job.call_sid.clone()),
    ];
    if let Some(c) = &job.caller {
        m.push(("from".into(), c.clone()));
    }
    if let Some(c) = &job.called {
        m.push(("to".into(), c.clone()));
    }
    if let Some(d) = job.duration_seconds {
        m.push(("duration".into(), d.to_string()));
    }
    if let Some(t) = &state.transcription_text {
        // S3 allows 2 KB of user metadata in all; encoding can triple the size.
        m.push(("transcription".into(), t.chars().take(400).collect()));
    }
    m.into_iter()
        .map(|(k, v)| {
            let v: String = percent_encoding::utf8_percent_encode(&v, &NON_PRINTABLE).to_string();
            (k, v)
        })
        .collect()
}

const NON_PRINTABLE: percent_encoding::AsciiSet = percent_encoding::CONTROLS.add(b'%');

#[cfg(test)]
mod tests;

#[cfg(test)]
mod agent_line_plan {
    use super::*;

    fn config(extra: &str) -> Config {
        let text = format!(
            "[ivr]\ntimezone = Europe/London\n[ivr_menu]\nsay = Hi.\n[ivr_menu_option_1]\naction = q\n\
             [action_q]\ntype = queue\nqueue = radio\n[agent_line_dj]\nqueue = radio\nagents = +447700900010\n{extra}"
        );
        Config::parse(&text).unwrap().config
    }

    #[test]
    fn recorded_agent_calls_are_exported_and_deleted_without_alerts() {
        let deletes = |extra: &str| {
            let c = config(extra);
            c.recording_plan("agent_line_dj").map(|p| {
                (
                    p.sms.is_none() && p.email_to.is_empty() && !p.transcribe,
                    !c.keeps_twilio_copy(&p),
                )
            })
        };
        assert_eq!(deletes("record = yes\n"), Some((true, true)));
        assert_eq!(
            deletes("record = yes\nkeep_twilio_copy = yes\n"),
            Some((true, false))
        );
        assert_eq!(deletes(""), None, "a line that does not record");
        assert_eq!(
            config("record = yes\n").recording_plan("agent_line_other"),
            None
        );
    }
}
