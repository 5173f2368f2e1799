//! Carrying out the flow's effects: one runner for every entry point.
//!
//! The flow returns [`Effect`]s as data; [`Effects`] carries them out on
//! the ports an entry point has — a [`JobQueue`] for recordings, a
//! [`StateStore`] for transcriptions and once-only claims, a [`TwilioApi`]
//! for SMS, a [`WorkStore`] for callbacks asked for in the queue. A Lambda
//! function that renders TwiML only has none of them ([`Effects::none`]);
//! the recording webhook has a queue and a state store (SQS, DynamoDB); the
//! queue result a state store and Twilio; the queue's callback offer the
//! work table; `ivr serve` all four (its in-process queue, local or AWS
//! state, Twilio's REST API or the SMS folder, SQLite). An effect whose port
//! is missing is refused, so a route that starts producing a new effect
//! fails loudly (503, or the reply's own [`if_failed`](crate::answer::Reply::if_failed)
//! words for a caller who is still listening) instead of silently doing nothing.
//!
//! [`serve_one`] is the request loop every HTTP entry point shares: the
//! app, then its effects, then one log line.

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::flow::Effect;
use crate::recordings::{
    keep_transcription, send_sms_once, Claim, JobQueue, JobState, Media, PortResult, RecordingJob,
    StateStore, TwilioApi,
};
use crate::shell::Clock;
use crate::web::{App, Handled, WebRequest, WebResponse};
use crate::work::{
    new_id, CancelOutcome, Created, IdempotencyKey, ListFilter, NewCallback, Page, StoreError,
    WorkItem, WorkStore,
};

/// Carries out the flow's effects: `Ok` with what was done, `Err` with why
/// not (the request then answers 503). [`Effects`] is the implementation
/// every entry point uses; the trait keeps [`serve_one`] open to test doubles.
pub trait EffectRunner: Send + Sync {
    fn run(&self, effect: &Effect) -> impl Future<Output = Result<String, String>> + Send;
}

/// A port this entry point does not have. It has no values, so an
/// `Option<Absent>` is always `None`; it only fills the type parameter.
#[derive(Debug, Clone, Copy)]
pub enum Absent {}

/// The effect runner: the ports effects are carried out with, each one
/// optional. Build it with [`Effects::none`] and the `with_*` methods.
#[derive(Debug, Clone)]
pub struct Effects<Q = Absent, K = Absent, T = Absent, W = Absent> {
    queue: Option<Q>,
    state: Option<K>,
    twilio: Option<T>,
    work: Option<W>,
}

/// The runner of a function whose routes have no effects.
pub type NoEffects = Effects;

impl Effects {
    /// No ports: every effect is refused.
    pub const fn none() -> Self {
        Effects {
            queue: None,
            state: None,
            twilio: None,
            work: None,
        }
    }
}

impl Default for Effects {
    fn default() -> Self {
        Effects::none()
    }
}

impl<Q, K, T, W> Effects<Q, K, T, W> {
    /// Recordings ([`Effect::ProcessRecording`]) go onto `queue`.
    pub fn with_queue<Q2: JobQueue>(self, queue: Q2) -> Effects<Q2, K, T, W> {
        Effects {
            queue: Some(queue),
            state: self.state,
            twilio: self.twilio,
            work: self.work,
        }
    }

    /// Transcriptions are kept, and SMS claimed once, in `state`.
    pub fn with_state<K2: StateStore>(self, state: K2) -> Effects<Q, K2, T, W> {
        Effects {
            queue: self.queue,
            state: Some(state),
            twilio: self.twilio,
            work: self.work,
        }
    }

    /// SMS ([`Effect::SendSms`]) go out through `twilio` (with a state store to claim them in).
    pub fn with_twilio<T2: TwilioApi>(self, twilio: T2) -> Effects<Q, K, T2, W> {
        Effects {
            queue: self.queue,
            state: self.state,
            twilio: Some(twilio),
            work: self.work,
        }
    }

    /// Callbacks asked for in the queue ([`Effect::CreateCallback`]) become work items in `work`.
    pub fn with_work<W2: WorkStore>(self, work: W2) -> Effects<Q, K, T, W2> {
        Effects {
            queue: self.queue,
            state: self.state,
            twilio: self.twilio,
            work: Some(work),
        }
    }
}

/// The idempotency key of the callback a call asked for: one per `CallSid`
/// however often Twilio repeats the webhook. It has a space, which an API
/// client's `Idempotency-Key` (visible ASCII only) cannot, so the two never meet.
pub fn call_callback_key(call_sid: &str) -> IdempotencyKey {
    IdempotencyKey {
        key: format!("call {call_sid}"),
        fingerprint: "asked for in the queue".into(),
    }
}

impl<Q: JobQueue, K: StateStore, T: TwilioApi, W: WorkStore> EffectRunner for Effects<Q, K, T, W> {
    async fn run(&self, effect: &Effect) -> Result<String, String> {
        let cannot = || format!("this function cannot carry out {}", effect.name());
        match effect {
            Effect::ProcessRecording(job) => {
                let queue = self.queue.as_ref().ok_or_else(cannot)?;
                queue
                    .enqueue(job, Duration::ZERO)
                    .await
                    .map(|_| format!("queued {}", job.recording_sid))
                    .map_err(|e| e.to_string())
            }
            Effect::RecordTranscription {
                recording_sid,
                status,
                text,
            } => {
                let state = self.state.as_ref().ok_or_else(cannot)?;
                keep_transcription(state, recording_sid, status, text.as_deref()).await
            }
            Effect::SendSms {
                key,
                from,
                to,
                body,
            } => {
                let (Some(state), Some(twilio)) = (&self.state, &self.twilio) else {
                    return Err(cannot());
                };
                // Never an error: the caller is still on the line (see `send_sms_once`).
                Ok(send_sms_once(state, twilio, key, from, to, body, Utc::now()).await)
            }
            Effect::CreateCallback(new) => {
                let work = self.work.as_ref().ok_or_else(cannot)?;
                let call_sid = new
                    .call_sid
                    .as_deref()
                    .ok_or("a callback asked for in the queue needs its CallSid")?;
                let key = call_callback_key(call_sid);
                match work
                    .create_callback(new, Some(&key), new_id(), Utc::now())
                    .await
                {
                    Ok(Created::New(item)) => Ok(format!("created callback {}", item.id)),
                    Ok(Created::Existing(item)) => {
                        Ok(format!("callback {} already there", item.id))
                    }
                    Err(e) => Err(e.to_string()),
                }
            }
        }
    }
}

/// Runs a request through the app and its effects, and logs one JSON line.
/// An effect that cannot be carried out answers 503: the recording stays at
/// Twilio and the API's 5xx alarm tells the operator.
pub async fn serve_one<R: EffectRunner>(
    app: &App,
    runner: &R,
    clock: &Clock,
    req: &WebRequest,
) -> Handled {
    let started = Instant::now();
    let mut handled = app.handle(req, clock.now());
    for effect in &handled.effects {
        match runner.run(effect).await {
            Ok(done) => tracing::info!(effect = effect.name(), result = %done, "effect"),
            Err(e) => {
                tracing::error!(effect = effect.name(), error = %e, "effect failed");
                handled.outcome = format!("effect failed: {e}");
                handled.response = match handled.if_failed.take() {
                    Some(instead) => {
                        handled.outcome.push_str(" (the caller was told)");
                        instead
                    }
                    None => WebResponse {
                        status: 503,
                        content_type: "text/plain; charset=utf-8",
                        body: "temporarily unable to accept this callback".into(),
                    },
                };
                break;
            }
        }
    }
    let latency_us = started.elapsed().as_micros() as u64;
    tracing::info!(
        route = handled.route,
        method = %req.method,
        path = %req.path,
        call_sid = handled.call_sid.as_deref().unwrap_or(""),
        status = handled.response.status,
        outcome = %handled.outcome,
        latency_us,
        "request"
    );
    handled
}

impl JobQueue for Absent {
    async fn enqueue(&self, _: &RecordingJob, _: Duration) -> PortResult<()> {
        match *self {}
    }
}

impl StateStore for Absent {
    async fn claim(&self, _: &str, _: &str, _: DateTime<Utc>, _: Duration) -> PortResult<Claim> {
        match *self {}
    }

    async fn save(&self, _: &str, _: &str, _: &JobState) -> PortResult<()> {
        match *self {}
    }

    async fn release(&self, _: &str, _: &str) -> PortResult<()> {
        match *self {}
    }

    async fn record_transcription(&self, _: &str, _: &str, _: Option<&str>) -> PortResult<()> {
        match *self {}
    }

    async fn claim_once(&self, _: &str, _: DateTime<Utc>) -> PortResult<bool> {
        match *self {}
    }
}

impl WorkStore for Absent {
    async fn create_callback(
        &self,
        _: &NewCallback,
        _: Option<&IdempotencyKey>,
        _: String,
        _: DateTime<Utc>,
    ) -> Result<Created, StoreError> {
        match *self {}
    }

    async fn get(&self, _: &str) -> PortResult<Option<WorkItem>> {
        match *self {}
    }

    async fn list(&self, _: ListFilter, _: Option<&str>, _: usize) -> PortResult<Page> {
        match *self {}
    }

    async fn cancel(&self, _: &str, _: &str, _: DateTime<Utc>) -> PortResult<CancelOutcome> {
        match *self {}
    }
}

impl TwilioApi for Absent {
    async fn download(&self, _: &str) -> PortResult<Media> {
        match *self {}
    }

    async fn delete_recording(&self, _: &str) -> PortResult<()> {
        match *self {}
    }

    async fn send_sms(&self, _: &str, _: &str, _: &str) -> PortResult<String> {
        match *self {}
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Mutex;

    use http::{HeaderMap, HeaderValue, Method};

    use super::*;
    use crate::config::Config;
    use crate::recordings::PortError;

    /// One fake for every port, recording what it was asked.
    #[derive(Default)]
    struct Fake {
        log: Mutex<Vec<String>>,
        claimed: Mutex<HashSet<String>>,
        fail: bool,
    }

    impl Fake {
        fn failing() -> Self {
            Fake {
                fail: true,
                ..Fake::default()
            }
        }

        fn note(&self, what: String) -> PortResult<()> {
            if self.fail {
                return Err(PortError::Transient("down".into()));
            }
            self.log.lock().unwrap().push(what);
            Ok(())
        }

        fn log(&self) -> Vec<String> {
            self.log.lock().unwrap().clone()
        }
    }

    impl JobQueue for &Fake {
        async fn enqueue(&self, job: &RecordingJob, delay: Duration) -> PortResult<()> {
            self.note(format!("enqueue {} {delay:?}", job.recording_sid))
        }
    }

    impl StateStore for &Fake {
        async fn claim(
            &self,
            _: &str,
            _: &str,
            _: DateTime<Utc>,
            _: Duration,
        ) -> PortResult<Claim> {
            Ok(Claim::Busy)
        }

        async fn save(&self, _: &str, _: &str, _: &JobState) -> PortResult<()> {
            Ok(())
        }

        async fn release(&self, _: &str, _: &str) -> PortResult<()> {
            Ok(())
        }

        async fn record_transcription(
            &self,
            sid: &str,
            status: &str,
            text: Option<&str>,
        ) -> PortResult<()> {
            self.note(format!("transcription {sid} {status} {text:?}"))
        }

        async fn claim_once(&self, key: &str, _: DateTime<Utc>) -> PortResult<bool> {
            Ok(self.claimed.lock().unwrap().insert(key.to_string()))
        }
    }

    impl TwilioApi for &Fake {
        async fn download(&self, url: &str) -> PortResult<Media> {
            Err(PortError::NotFound(url.into()))
        }

        async fn delete_recording(&self, _: &str) -> PortResult<()> {
            Ok(())
        }

        async fn send_sms(&self, from: &str, to: &str, body: &str) -> PortResult<String> {
            self.note(format!("sms {from} {to} {body}"))
                .map(|_| "SM1".into())
        }
    }

    const RE: &str = "RE0123456789abcdef0123456789abcdef";
    const CA: &str = "CA0123456789abcdef0123456789abcdef";

    fn job() -> RecordingJob {
        RecordingJob {
            recording_sid: RE.into(),
            call_sid: CA.into(),
            recording_url: "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1".into(),
            duration_seconds: Some(12),
            section: "voicemail_example".into(),
            caller: None,
            called: None,
            received_at: Utc::now(),
        }
    }

    fn sms() -> Effect {
        Effect::SendSms {
            key: "after-call-sms/CA1".into(),
            from: "+447700900001".into(),
            to: "+447700900002".into(),
            body: "Thanks".into(),
        }
    }

    fn transcription() -> Effect {
        Effect::RecordTranscription {
            recording_sid: RE.into(),
            status: "completed".into(),
            text: Some("hello".into()),
        }
    }

    #[tokio::test]
    async fn without_ports_every_effect_is_refused_by_name() {
        let none = Effects::none();
        for effect in [Effect::ProcessRecording(job()), transcription(), sms()] {
            let e = none.run(&effect).await.unwrap_err();
            assert_eq!(
                e,
                format!("this function cannot carry out {}", effect.name())
            );
        }
    }

    #[tokio::test]
    async fn each_effect_runs_on_its_port() {
        let fake = Fake::default();
        let all = Effects::none()
            .with_queue(&fake)
            .with_state(&fake)
            .with_twilio(&fake);
        assert_eq!(
            all.run(&Effect::ProcessRecording(job())).await,
            Ok(format!("queued {RE}"))
        );
        assert_eq!(
            all.run(&transcription()).await,
            Ok(format!("transcription completed kept for {RE}"))
        );
        assert_eq!(
            all.run(&sms()).await,
            Ok("after-call-sms/CA1: sent SM1".into())
        );
        assert_eq!(
            all.run(&sms()).await,
            Ok("after-call-sms/CA1: already sent, not sent again".into())
        );
        assert_eq!(
            fake.log(),
            [
                format!("enqueue {RE} 0ns"),
                format!("transcription {RE} completed Some(\"hello\")"),
                "sms +447700900001 +447700900002 Thanks".into(),
            ]
        );
    }

    #[tokio::test]
    async fn an_sms_needs_both_state_and_twilio() {
        let fake = Fake::default();
        let state_only = Effects::none().with_state(&fake);
        assert!(state_only.run(&sms()).await.is_err());
        let twilio_only = Effects::none().with_twilio(&fake);
        assert!(twilio_only.run(&sms()).await.is_err());
        assert!(fake.log().is_empty());
    }

    #[tokio::test]
    async fn port_failures_are_errors_except_for_sms() {
        let fake = Fake::failing();
        let all = Effects::none()
            .with_queue(&fake)
            .with_state(&fake)
            .with_twilio(&fake);
        assert_eq!(
            all.run(&Effect::ProcessRecording(job())).await,
            Err("transient: down".into())
        );
        assert!(all.run(&transcription()).await.is_err());
        let sent = all.run(&sms()).await.unwrap();
        assert!(sent.contains("not sent"), "{sent}");
    }

    fn recording_callback() -> WebRequest {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::HOST, HeaderValue::from_static("ivr.example"));
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("initiated_by_section", "voicemail_example"),
                ("CallSid", CA),
                ("RecordingStatus", "completed"),
                (
                    "RecordingUrl",
                    "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1",
                ),
                ("RecordingSid", RE),
            ])
            .finish();
        WebRequest {
            method: Method::POST,
            path: "/ivr/callback/voicemail/alert_sms".into(),
            query: None,
            headers,
            body: body.into_bytes(),
            stage_prefix: None,
        }
    }

    fn app() -> App {
        let fixture = include_str!("../../tests/fixtures/twilio-aws-ivr.config.ini");
        App {
            config: Config::parse(fixture).unwrap().config,
            auth_token: None,
            public_url: None,
            default_scheme: "https",
            only: None,
        }
    }

    #[tokio::test]
    async fn serve_one_runs_effects_and_answers_503_when_one_fails() {
        let clock = Clock::from_env().unwrap();
        let app = app();
        let fake = Fake::default();
        let queued = serve_one(
            &app,
            &Effects::none().with_queue(&fake),
            &clock,
            &recording_callback(),
        )
        .await;
        assert_eq!(queued.response.status, 200);
        assert_eq!(fake.log(), [format!("enqueue {RE} 0ns")]);

        let refused = serve_one(&app, &Effects::none(), &clock, &recording_callback()).await;
        assert_eq!(refused.response.status, 503);
        assert_eq!(
            refused.outcome,
            "effect failed: this function cannot carry out process-recording"
        );
    }

    /// The repository's config.ini (its queue offers callbacks), open (unsigned).
    fn repo_app() -> App {
        App {
            // Read, not compiled in: a config edit rebuilds no function (tests/template.rs).
            config: Config::parse(
                &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../config.ini"))
                    .unwrap(),
            )
            .unwrap()
            .config,
            ..app()
        }
    }

    /// The caller pressed 1 to confirm the callback to their own number.
    fn callback_confirmed() -> WebRequest {
        let mut req = recording_callback();
        req.path = "/ivr/queue/callback".into();
        req.query = Some(
            "initiated_by_section=callin&joined=1795000000&number=%2B447700900555&tries=0".into(),
        );
        req.body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("CallSid", CA),
                ("From", "+447700900555"),
                ("To", "+442079460100"),
                ("Digits", "1"),
            ])
            .finish()
            .into_bytes();
        req
    }

    /// A work store that is down.
    struct DownWork;

    impl WorkStore for DownWork {
        async fn create_callback(
            &self,
            _: &NewCallback,
            _: Option<&IdempotencyKey>,
            _: String,
            _: DateTime<Utc>,
        ) -> Result<Created, StoreError> {
            Err(PortError::Transient("table unavailable".into()).into())
        }

        async fn get(&self, _: &str) -> PortResult<Option<WorkItem>> {
            Err(PortError::Transient("table unavailable".into()))
        }

        async fn list(&self, _: ListFilter, _: Option<&str>, _: usize) -> PortResult<Page> {
            Err(PortError::Transient("table unavailable".into()))
        }

        async fn cancel(&self, _: &str, _: &str, _: DateTime<Utc>) -> PortResult<CancelOutcome> {
            Err(PortError::Transient("table unavailable".into()))
        }
    }

    #[cfg(feature = "sqlite")]
    #[tokio::test]
    async fn a_confirmed_callback_is_one_work_item_however_often_it_is_posted() {
        let clock = Clock::from_env().unwrap();
        let app = repo_app();
        let store = std::sync::Arc::new(crate::work::sqlite::SqliteWork::in_memory());
        let runner = Effects::none().with_work(store.clone());
        let mut outcomes = Vec::new();
        for _ in 0..3 {
            let h = serve_one(&app, &runner, &clock, &callback_confirmed()).await;
            assert_eq!(h.response.status, 200);
            assert!(h.response.body.contains("<Hangup"), "{}", h.response.body);
            outcomes.push(h);
        }
        let page = store.list(ListFilter::default(), None, 10).await.unwrap();
        assert_eq!(page.items.len(), 1, "{:?}", page.items);
        let item = &page.items[0];
        assert_eq!(
            (item.to.as_str(), item.from.as_str(), item.queue.as_str()),
            ("+447700900555", "+442079460100", "ask-the-plumber")
        );
        assert_eq!(item.call_sid.as_deref(), Some(CA));
        assert_eq!(item.joined_at.timestamp(), 1_795_000_000);
        // An API client cannot reach the call's key: `Idempotency-Key` is visible ASCII only.
        assert!(call_callback_key(CA).key.contains(' '));
    }

    #[tokio::test]
    async fn a_callback_the_store_cannot_take_is_apologised_for_not_a_503() {
        let clock = Clock::from_env().unwrap();
        let h = serve_one(
            &repo_app(),
            &Effects::none().with_work(DownWork),
            &clock,
            &callback_confirmed(),
        )
        .await;
        assert_eq!(h.response.status, 200);
        assert!(
            h.response
                .body
                .contains("cannot take callback requests right now"),
            "{}",
            h.response.body
        );
        assert!(
            !h.response.body.contains("<Hangup"),
            "the caller keeps waiting"
        );
        assert!(
            h.outcome.contains("table unavailable") && h.outcome.contains("the caller was told"),
            "{}",
            h.outcome
        );
        // Without a work store at all: the same apology (the function is misconfigured).
        let h = serve_one(&repo_app(), &Effects::none(), &clock, &callback_confirmed()).await;
        assert_eq!(h.response.status, 200);
        assert!(
            h.outcome.contains("cannot carry out create-callback"),
            "{}",
            h.outcome
        );
    }
}
