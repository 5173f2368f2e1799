//! What every route's answer is made of: the request as the flow sees it
//! ([`Call`], [`Params`]), the answer ([`Reply`]: TwiML plus [`Effect`]s for
//! the shell), and [`Answer`], the toolbox a section uses to write one
//! (spoken text in the IVR's voice, links to our own routes, the apology
//! that takes a lost caller back to the menu).
//!
//! Below the config and the action types, above TwiML and routes: the
//! action types write their TwiML with this and nothing else.

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use crate::config::reader::Audio;
use crate::recordings::job::RecordingJob;
use crate::routes::{Links, Route};
use crate::twiml::{Play, Prompt, Response, Say, Verb};
use crate::work::NewCallback;

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
    /// Create the callback a caller asked for in the queue, at most once
    /// per call (the shell keys it on the `CallSid`) and at most one live
    /// callback per queue and number (the work store's rule).
    CreateCallback(NewCallback),
}

impl Effect {
    /// A short name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Effect::ProcessRecording(_) => "process-recording",
            Effect::RecordTranscription { .. } => "record-transcription",
            Effect::SendSms { .. } => "send-sms",
            Effect::CreateCallback(_) => "create-callback",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub twiml: Response,
    pub effects: Vec<Effect>,
    /// What the caller hears instead when an effect cannot be carried out
    /// (the TwiML above promised its result); `None`: the request answers
    /// 503, for Twilio to retry or give up on.
    pub if_failed: Option<Response>,
    /// One word or phrase for the logs: what happened on this step.
    pub outcome: String,
}

impl Reply {
    pub fn new(twiml: Response, outcome: impl Into<String>) -> Self {
        Reply {
            twiml,
            effects: Vec::new(),
            if_failed: None,
            outcome: outcome.into(),
        }
    }

    /// A reply of one verb.
    pub fn single(verb: Verb, outcome: impl Into<String>) -> Self {
        Reply::new(Response { verbs: vec![verb] }, outcome)
    }
}

/// Spoken when a request cannot be followed: the caller starts again at the menu.
pub const DEFAULT_RECOVER: &str = "Sorry, something went wrong. Let's start again.";

/// The toolbox for writing one answer: the request, our links, the IVR's voice.
pub struct Answer<'a> {
    pub call: &'a Call<'a>,
    pub links: Links<'a>,
    voice: Option<&'a str>,
    language: Option<&'a str>,
}

impl<'a> Answer<'a> {
    pub fn new(call: &'a Call<'a>, voice: Option<&'a str>, language: Option<&'a str>) -> Self {
        Answer {
            call,
            links: Links::new(call.base),
            voice,
            language,
        }
    }

    /// A parameter with surrounding whitespace trimmed; `None` when absent or blank.
    pub fn param(&self, name: &str) -> Option<&'a str> {
        self.call
            .params
            .get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }

    pub fn say(&self, text: &str) -> Say {
        Say {
            text: text.to_string(),
            voice: self.voice.map(str::to_string),
            language: self.language.map(str::to_string),
        }
    }

    /// The one place configured audio becomes TwiML.
    pub fn prompt(&self, audio: &Audio) -> Prompt {
        match audio {
            Audio::Play(url) => Prompt::Play(Play { url: url.clone() }),
            Audio::Say(text) => Prompt::Say(self.say(text)),
        }
    }

    pub fn verb(&self, audio: &Audio) -> Verb {
        self.prompt(audio).into()
    }

    /// `/ivr/menu`, optionally of a sub-menu and with a loop count.
    pub fn menu_url(&self, menu: Option<&str>, loop_count: Option<u32>) -> String {
        let lc = loop_count.map(|n| n.to_string());
        let mut q: Vec<(&str, &str)> = Vec::with_capacity(2);
        if let Some(m) = menu {
            q.push(("menu", m));
        }
        if let Some(lc) = &lc {
            q.push(("loop_count", lc));
        }
        self.links.to(&Route::Menu, &q)
    }

    pub fn action_url(&self, name: &str) -> String {
        self.links.to(&Route::Action(name.to_string()), &[])
    }

    /// A callback route that must know which section asked for it.
    pub fn section_url(&self, route: Route, section: &str) -> String {
        self.links.to(&route, &[("initiated_by_section", section)])
    }

    /// The recording status callback of `section`. The callback does not
    /// say who called, so the caller and the called number ride in its
    /// (signed) URL.
    pub fn recording_callback(&self, section: &str) -> String {
        let mut q = vec![("initiated_by_section", section)];
        if let Some(from) = self.param("From") {
            q.push(("caller", from));
        }
        if let Some(to) = self.param("To") {
            q.push(("called", to));
        }
        self.links.to(&Route::RecordingStatus, &q)
    }

    /// Back to the main menu after an apology: how every bad request recovers.
    pub fn recover(&self, why: &str) -> Reply {
        tracing::warn!(problem = why, "recovering to the main menu");
        let mut r = Response::new();
        r.push(Verb::Say(self.say(DEFAULT_RECOVER)));
        r.push(Verb::Redirect {
            url: self.menu_url(None, None),
        });
        Reply::new(r, format!("recovered: {why}"))
    }
}
