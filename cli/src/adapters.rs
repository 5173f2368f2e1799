//! One enum per port, so `ivr serve` picks its adapters at start-up
//! (local folder or AWS, Twilio REST or local) and runs one `Pipeline` type.

use std::time::Duration;

use chrono::{DateTime, Utc};
use shared::recordings::local::{LocalMailer, LocalState, LocalStore};
use shared::recordings::{
    Claim, JobState, Mailer, Media, ObjectInfo, PortResult, RecordingStore, StateStore, TwilioApi,
};
use shared::twilio::TwilioClient;

use crate::worker::LocalTwilio;

pub enum AnyStore {
    Local(LocalStore),
    S3(ivr_aws::S3Store),
}

pub enum AnyMailer {
    Local(LocalMailer),
    Ses(ivr_aws::SesMailer),
}

pub enum AnyState {
    Local(LocalState),
    Dynamo(ivr_aws::DynamoState),
}

#[derive(Clone)]
pub enum AnyTwilio {
    Local(LocalTwilio),
    Rest(TwilioClient),
}

impl RecordingStore for AnyStore {
    async fn put(
        &self,
        key: &str,
        bytes: &[u8],
        ct: &str,
        meta: &[(String, String)],
    ) -> PortResult<()> {
        match self {
            AnyStore::Local(s) => s.put(key, bytes, ct, meta).await,
            AnyStore::S3(s) => s.put(key, bytes, ct, meta).await,
        }
    }

    async fn head(&self, key: &str) -> PortResult<Option<ObjectInfo>> {
        match self {
            AnyStore::Local(s) => s.head(key).await,
            AnyStore::S3(s) => s.head(key).await,
        }
    }

    async fn link(&self, key: &str, expires: Duration) -> PortResult<String> {
        match self {
            AnyStore::Local(s) => s.link(key, expires).await,
            AnyStore::S3(s) => s.link(key, expires).await,
        }
    }
}

impl Mailer for AnyMailer {
    async fn send_raw(&self, from: &str, to: &[String], mime: &[u8]) -> PortResult<String> {
        match self {
            AnyMailer::Local(m) => m.send_raw(from, to, mime).await,
            AnyMailer::Ses(m) => m.send_raw(from, to, mime).await,
        }
    }
}

impl StateStore for AnyState {
    async fn claim(
        &self,
        sid: &str,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> PortResult<Claim> {
        match self {
            AnyState::Local(s) => s.claim(sid, owner, now, lease).await,
            AnyState::Dynamo(s) => s.claim(sid, owner, now, lease).await,
        }
    }

    async fn save(&self, sid: &str, owner: &str, state: &JobState) -> PortResult<()> {
        match self {
            AnyState::Local(s) => s.save(sid, owner, state).await,
            AnyState::Dynamo(s) => s.save(sid, owner, state).await,
        }
    }

    async fn release(&self, sid: &str, owner: &str) -> PortResult<()> {
        match self {
            AnyState::Local(s) => s.release(sid, owner).await,
            AnyState::Dynamo(s) => s.release(sid, owner).await,
        }
    }

    async fn record_transcription(
        &self,
        sid: &str,
        status: &str,
        text: Option<&str>,
    ) -> PortResult<()> {
        match self {
            AnyState::Local(s) => s.record_transcription(sid, status, text).await,
            AnyState::Dynamo(s) => s.record_transcription(sid, status, text).await,
        }
    }

    async fn claim_once(&self, key: &str, now: DateTime<Utc>) -> PortResult<bool> {
        match self {
            AnyState::Local(s) => s.claim_once(key, now).await,
            AnyState::Dynamo(s) => s.claim_once(key, now).await,
        }
    }
}

impl TwilioApi for AnyTwilio {
    async fn download(&self, url: &str) -> PortResult<Media> {
        match self {
            AnyTwilio::Local(t) => t.download(url).await,
            AnyTwilio::Rest(t) => t.download(url).await,
        }
    }

    async fn delete_recording(&self, sid: &str) -> PortResult<()> {
        match self {
            AnyTwilio::Local(t) => t.delete_recording(sid).await,
            AnyTwilio::Rest(t) => t.delete_recording(sid).await,
        }
    }

    async fn send_sms(&self, from: &str, to: &str, body: &str) -> PortResult<String> {
        match self {
            AnyTwilio::Local(t) => t.send_sms(from, to, body).await,
            AnyTwilio::Rest(t) => TwilioApi::send_sms(t, from, to, body).await,
        }
    }
}
