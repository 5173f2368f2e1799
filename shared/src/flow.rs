//! The call flow: `(Config, route, parameters, now) → Reply`.
//!
//! Pure: no I/O, no clock, no environment. Side effects (an SMS to send)
//! come back as [`Effect`] data for the shell to carry out. Whatever the
//! caller pressed or Twilio posted, the answer is valid TwiML: bad input is
//! apologised for and the caller is taken back to a menu, never handed
//! Twilio's "application error".

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use crate::config::{ActionKind, Audio, Config, HoursGate, Menu};
use crate::recordings::RecordingJob;
use crate::routes::Route;
use crate::twiml::{
    Dial, DialTarget, Gather, Play, Prompt, Record, Recording, Response, Say, Verb,
};

/// Request parameters: the POST form and the query string, in that order.
/// Borrowed from the request where no decoding was needed: a webhook carries
/// some 25 parameters and the flow reads a handful.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params<'a>(pub Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'a> Params<'a> {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_ref())
    }

    pub fn from_query(query: &'a str) -> Self {
        Params(form_urlencoded::parse(query.as_bytes()).collect())
    }

    /// Owned parameters from name/value pairs (tests, tools).
    pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> Params<'static> {
        Params(
            pairs
                .iter()
                .map(|(k, v)| {
                    (
                        Cow::Owned(k.as_ref().to_string()),
                        Cow::Owned(v.as_ref().to_string()),
                    )
                })
                .collect(),
        )
    }
}

/// What the flow knows about one webhook request.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    /// Public base URL (scheme, host, stage), without a trailing slash.
    pub base: &'a str,
    pub params: &'a Params<'a>,
    pub now: DateTime<Utc>,
}

/// A side effect for the shell to carry out after the flow has decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Hand a completed recording to the recordings pipeline (export, alerts, delete).
    ProcessRecording(RecordingJob),
    /// Keep a transcription for the pipeline's alerts.
    RecordTranscription {
        recording_sid: String,
        status: String,
        text: Option<String>,
    },
    /// Send an SMS through Twilio's REST Messages API, at most once per `key`
    /// (the shell claims the key in its state store first).
    SendSms {
        key: String,
        from: String,
        to: String,
        body: String,
    },
}

impl Effect {
    /// A short name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Effect::ProcessRecording(_) => "process-recording",
            Effect::RecordTranscription { .. } => "record-transcription",
            Effect::SendSms { .. } => "send-sms",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub twiml: Response,
    pub effects: Vec<Effect>,
    /// One word or phrase for the logs: what happened on this step.
    pub outcome: String,
}

impl Reply {
    pub(crate) fn new(twiml: Response, outcome: impl Into<String>) -> Self {
        Reply {
            twiml,
            effects: Vec::new(),
            outcome: outcome.into(),
        }
    }
}

/// Escapes a name for one URL path segment; keeps the unreserved `-._~`.
pub(crate) const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Spoken when nothing better is configured.
pub const DEFAULT_INVALID: &str = "Sorry, that is not a valid choice.";
pub const DEFAULT_RECOVER: &str = "Sorry, something went wrong. Let's start again.";
pub const DEFAULT_VOICEMAIL: &str = "Please leave a message after the tone.";

/// Answers one TwiML route. `Route::Ping` is answered by the web layer.
pub fn respond(config: &Config, route: &Route, call: &Call) -> Reply {
    let f = Flow { config, call };
    match route {
        Route::Welcome => f.welcome(),
        Route::Hangup => Reply::new(single(Verb::Hangup), "hangup"),
        Route::Menu => f.menu(),
        Route::MenuOption(option) => f.menu_option(option),
        Route::Action(name) => f.action(name),
        Route::ForwardStatus => f.forward_status(),
        Route::VoicemailHangup => f.voicemail_hangup(),
        Route::RecordingStatus => f.recording_status(),
        Route::QueueWait => f.queue_wait(),
        Route::QueueResult => f.queue_result(),
        Route::Agent { line, step } => f.agent(line, *step),
        Route::Ping => Reply::new(Response::new(), "ping"),
    }
}

pub(crate) fn single(v: Verb) -> Response {
    Response { verbs: vec![v] }
}

pub(crate) struct Flow<'a> {
    pub(crate) config: &'a Config,
    pub(crate) call: &'a Call<'a>,
}

impl Flow<'_> {
    pub(crate) fn url(&self, path: &str, query: &[(&str, &str)]) -> String {
        let mut u = String::with_capacity(self.call.base.len() + path.len() + 32);
        u.push_str(self.call.base);
        u.push_str(path);
        for (i, (k, v)) in query.iter().enumerate() {
            u.push(if i == 0 { '?' } else { '&' });
            u.push_str(k);
            u.push('=');
            u.extend(form_urlencoded::byte_serialize(v.as_bytes()));
        }
        u
    }

    fn menu_url(&self, menu: Option<&str>, loop_count: Option<u32>) -> String {
        let lc = loop_count.map(|n| n.to_string());
        let mut q: Vec<(&str, &str)> = Vec::with_capacity(2);
        if let Some(m) = menu {
            q.push(("menu", m));
        }
        if let Some(lc) = &lc {
            q.push(("loop_count", lc));
        }
        self.url("/ivr/menu", &q)
    }

    pub(crate) fn action_url(&self, name: &str) -> String {
        let mut u = self.url("/ivr/action/", &[]);
        u.extend(percent_encoding::utf8_percent_encode(name, PATH_SEGMENT));
        u
    }

    pub(crate) fn say(&self, text: &str) -> Say {
        Say {
            text: text.to_string(),
            voice: self.config.ivr.voice.clone(),
            language: self.config.ivr.language.clone(),
        }
    }

    pub(crate) fn verb(&self, audio: &Audio) -> Verb {
        match audio {
            Audio::Play(url) => Verb::Play(Play { url: url.clone() }),
            Audio::Say(text) => Verb::Say(self.say(text)),
        }
    }

    pub(crate) fn prompt(&self, audio: &Audio) -> Prompt {
        match audio {
            Audio::Play(url) => Prompt::Play(Play { url: url.clone() }),
            Audio::Say(text) => Prompt::Say(self.say(text)),
        }
    }

    /// Back to the main menu after an apology: how every bad request recovers.
    pub(crate) fn recover(&self, why: &str) -> Reply {
        tracing::warn!(problem = why, "recovering to the main menu");
        let mut r = Response::new();
        r.push(Verb::Say(self.say(DEFAULT_RECOVER)));
        r.push(Verb::Redirect {
            url: self.menu_url(None, None),
        });
        Reply::new(r, format!("recovered: {why}"))
    }

    /// `Some(reply)` redirecting to the closed action when `gate` says closed.
    fn closed(&self, gate: &Option<HoursGate>) -> Option<Reply> {
        let gate = gate.as_ref()?;
        // Validation guarantees the hours section exists.
        let hours = self.config.hours.get(&gate.hours)?;
        if hours.is_open(self.call.now, self.config.ivr.timezone) {
            return None;
        }
        Some(Reply::new(
            single(Verb::Redirect {
                url: self.action_url(&gate.action_on_closed),
            }),
            format!("closed ({})", gate.hours),
        ))
    }

    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.call
            .params
            .get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }

    fn welcome(&self) -> Reply {
        let w = &self.config.welcome;
        if let Some(r) = self.closed(&w.gate) {
            return r;
        }
        let mut r = Response::new();
        if let Some(a) = &w.audio {
            r.push(self.verb(a));
        }
        r.push(Verb::Redirect {
            url: self.menu_url(None, None),
        });
        Reply::new(r, "welcome")
    }

    /// The menu named by `?menu=`, or the main menu.
    fn current_menu(&self) -> Result<&Menu, Reply> {
        match self.param("menu") {
            None => Ok(&self.config.main_menu),
            Some(name) => self
                .config
                .menus
                .get(name)
                .ok_or_else(|| self.recover("unknown menu")),
        }
    }

    fn menu(&self) -> Reply {
        let menu = match self.current_menu() {
            Ok(m) => m,
            Err(r) => return r,
        };
        if let Some(digits) = self.call.params.get("Digits").filter(|d| !d.is_empty()) {
            return self.option(menu, digits);
        }
        if let Some(r) = self.closed(&menu.gate) {
            return r;
        }
        // twilio-aws-ivr counts the first play as loop 1; a loop_count that is
        // not a number (or negative) starts over rather than failing the call.
        let loop_count = match self.param("loop_count") {
            None => 1,
            Some(v) => match v.parse::<u32>() {
                Ok(n) => n.saturating_add(1).min(1000),
                Err(_) => {
                    tracing::warn!(loop_count = v, "ignoring a loop_count that is not a number");
                    1
                }
            },
        };
        let name = menu.name.as_deref();
        let mut children = vec![self.prompt(&menu.audio)];
        if menu.pause > 0 {
            children.push(Prompt::Pause { length: menu.pause });
        }
        let mut r = Response::new();
        r.push(Verb::Gather(Gather {
            num_digits: Some(1),
            action: Some(self.menu_url(name, None)),
            timeout: None,
            children,
        }));
        if let Some(max) = menu.no_input_max_loops {
            if loop_count >= max {
                match &menu.no_input_action_on_max_loops {
                    Some(a) => r.push(Verb::Redirect {
                        url: self.action_url(a),
                    }),
                    None => r.push(Verb::Hangup),
                };
                return Reply::new(r, format!("menu {} (last loop)", menu.section));
            }
        }
        if let Some(a) = &menu.no_input {
            r.push(self.verb(a));
        }
        r.push(Verb::Redirect {
            url: self.menu_url(name, Some(loop_count)),
        });
        Reply::new(r, format!("menu {} (loop {loop_count})", menu.section))
    }

    fn menu_option(&self, option: &str) -> Reply {
        match self.current_menu() {
            Ok(menu) => self.option(menu, option),
            Err(r) => r,
        }
    }

    /// A key the caller pressed in `menu`.
    fn option(&self, menu: &Menu, pressed: &str) -> Reply {
        let mut chars = pressed.chars();
        let opt = match (chars.next(), chars.next()) {
            (Some(d), None) => menu.options.get(&d),
            _ => None,
        };
        let Some(opt) = opt else {
            let mut r = Response::new();
            match &menu.invalid {
                Some(a) => r.push(self.verb(a)),
                None => r.push(Verb::Say(self.say(DEFAULT_INVALID))),
            };
            r.push(Verb::Redirect {
                url: self.menu_url(menu.name.as_deref(), None),
            });
            return Reply::new(r, "invalid choice");
        };
        if let Some(r) = self.closed(&opt.gate) {
            return r;
        }
        let mut r = Response::new();
        if let Some(a) = &opt.audio {
            r.push(self.verb(a));
        }
        r.push(Verb::Redirect {
            url: self.action_url(&opt.action),
        });
        Reply::new(r, format!("pressed {}", opt.digit))
    }

    fn action(&self, name: &str) -> Reply {
        let Some(action) = self.config.action(name) else {
            return self.recover("unknown action");
        };
        if let Some(r) = self.closed(&action.gate) {
            return r;
        }
        let mut r = Response::new();
        if let Some(a) = &action.audio {
            r.push(self.verb(a));
        }
        let section = [("initiated_by_section", action.name.as_str())];
        // The recording callback does not say who called: carry it in its (signed) URL.
        let mut recorded = section.to_vec();
        if let Some(from) = self.param("From") {
            recorded.push(("caller", from));
        }
        if let Some(to) = self.param("To") {
            recorded.push(("called", to));
        }
        match &action.kind {
            ActionKind::Hangup => {
                r.push(Verb::Hangup);
            }
            ActionKind::Redirect { path, .. } => {
                r.push(Verb::Redirect {
                    url: format!("{}{}", self.call.base, path),
                });
            }
            ActionKind::Menu { menu } => {
                r.push(Verb::Redirect {
                    url: self.menu_url(Some(menu), None),
                });
            }
            ActionKind::Forward(f) => {
                r.push(Verb::Dial(Dial {
                    action: Some(self.url("/ivr/callback/forward/call_status", &section)),
                    timeout: f.timeout,
                    caller_id: f.caller_id.clone(),
                    record: f.record.then_some(Recording::FromAnswerDual),
                    recording_status_callback: f
                        .record
                        .then(|| self.url("/ivr/callback/voicemail/alert_sms", &recorded)),
                    ..Dial::new(DialTarget::Number(f.phone_number.clone()))
                }));
            }
            ActionKind::Queue(q) => self.enqueue(action, q, &mut r),
            ActionKind::Voicemail(v) => {
                if action.audio.is_none() {
                    r.push(Verb::Say(self.say(DEFAULT_VOICEMAIL)));
                }
                r.push(Verb::Pause { length: 1 });
                r.push(Verb::Record(Record {
                    action: Some(self.url("/ivr/callback/voicemail/hangup", &section)),
                    timeout: Some(v.timeout),
                    max_length: Some(v.max_length),
                    recording_status_callback: Some(
                        self.url("/ivr/callback/voicemail/alert_sms", &recorded),
                    ),
                    transcribe_callback: v
                        .transcribe
                        .then(|| self.url("/ivr/callback/voicemail/alert_sms", &section)),
                }));
            }
        }
        Reply::new(
            r,
            format!("action {} ({})", action.name, action.kind.type_name()),
        )
    }

    fn forward_status(&self) -> Reply {
        let Some(section) = self.param("initiated_by_section") else {
            return self.recover("forward callback without initiated_by_section");
        };
        let Some(ActionKind::Forward(f)) = self.config.action(section).map(|a| &a.kind) else {
            return self.recover("forward callback for a section that is not a forward action");
        };
        let next = match self.param("DialCallStatus") {
            Some("busy") => &f.action_on_busy,
            Some("no-answer") => &f.action_on_no_answer,
            Some("failed") => &f.action_on_failed,
            Some("canceled") => &f.action_on_canceled,
            Some(status) => {
                return Reply::new(single(Verb::Hangup), format!("dial {status}"));
            }
            None => return Reply::new(single(Verb::Hangup), "dial status missing"),
        };
        Reply::new(
            single(Verb::Redirect {
                url: self.action_url(next),
            }),
            format!(
                "dial {} → {next}",
                self.param("DialCallStatus").unwrap_or_default()
            ),
        )
    }

    fn voicemail_hangup(&self) -> Reply {
        let mut r = Response::new();
        let vm = self
            .param("initiated_by_section")
            .and_then(|s| self.config.action(s))
            .and_then(|a| match &a.kind {
                ActionKind::Voicemail(v) => Some(v),
                _ => None,
            });
        match vm {
            Some(v) => {
                if let Some(a) = &v.hangup {
                    r.push(self.verb(a));
                }
            }
            None => tracing::warn!("voicemail hangup for a section that is not a voicemail action"),
        }
        r.push(Verb::Hangup);
        Reply::new(r, "voicemail recorded")
    }

    /// Twilio's recording status callback, and its transcription callback
    /// (same URL; told apart by `TranscriptionStatus`). Never alerts by
    /// itself: it hands the recording to the pipeline.
    fn recording_status(&self) -> Reply {
        let ok = |outcome: &str| Reply::new(Response::new(), outcome);
        let Some(section) = self.param("initiated_by_section") else {
            return ok("ignored: no initiated_by_section");
        };
        // An action, or an agent line (`agent_line_NAME`) recording its calls.
        let (section, action) = match self.config.agent_line_by_section(section) {
            Some(line) if line.record => (line.section.clone(), None),
            Some(_) => return ok("ignored: section does not record"),
            None => match self.config.action(section) {
                Some(a) => (a.name.clone(), Some(a)),
                None => return ok("ignored: unknown section"),
            },
        };
        let records = match action.map(|a| &a.kind) {
            None => true,
            Some(ActionKind::Voicemail(_)) => true,
            Some(ActionKind::Forward(f)) => f.record,
            Some(_) => false,
        };
        if !records {
            return ok("ignored: section does not record");
        }
        let Some(recording_sid) = self.param("RecordingSid").filter(|s| is_sid(s, "RE")) else {
            return ok("ignored: no valid RecordingSid");
        };
        if let Some(status) = self.param("TranscriptionStatus") {
            let transcribes =
                matches!(action.map(|a| &a.kind), Some(ActionKind::Voicemail(v)) if v.transcribe);
            if !transcribes {
                return ok("ignored: section does not transcribe");
            }
            let mut reply = ok("transcription");
            reply.effects.push(Effect::RecordTranscription {
                recording_sid: recording_sid.to_string(),
                status: status.to_string(),
                text: self.param("TranscriptionText").map(str::to_string),
            });
            return reply;
        }
        if self.param("RecordingStatus") != Some("completed") {
            return ok("ignored: recording not completed");
        }
        let Some(url) = self
            .param("RecordingUrl")
            .filter(|u| crate::config::is_http_url(u))
        else {
            return ok("ignored: no valid RecordingUrl");
        };
        let phone = |name: &str| {
            self.param(name)
                .filter(|p| crate::config::is_e164(p))
                .map(str::to_string)
        };
        let mut reply = ok("recording queued");
        reply.effects.push(Effect::ProcessRecording(RecordingJob {
            recording_sid: recording_sid.to_string(),
            call_sid: self.param("CallSid").unwrap_or("unknown").to_string(),
            recording_url: url.to_string(),
            duration_seconds: self.param("RecordingDuration").and_then(|d| d.parse().ok()),
            section,
            caller: phone("caller"),
            called: phone("called"),
            received_at: self.call.now,
        }));
        reply
    }
}

/// Twilio SIDs: a two-letter prefix and 32 hex digits.
pub(crate) fn is_sid(s: &str, prefix: &str) -> bool {
    s.len() == 34 && s.starts_with(prefix) && s[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
#[path = "flow_tests.rs"]
mod tests;
