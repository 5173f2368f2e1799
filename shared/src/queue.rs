//! Call queues: the `type = queue` action, where callers wait in a Twilio
//! queue, and the `[agent_line_NAME]` sections, whose agents take them one
//! at a time (the radio call-in line of the seeds).
//!
//! This module owns both sections' keys and validation, the TwiML of their
//! routes, and the wait-music schedule:
//!
//! | route | answers |
//! |---|---|
//! | `/ivr/action/NAME` (a queue action) | `<Enqueue waitUrl=… action=…>` |
//! | `/ivr/queue/wait?initiated_by_section=NAME` | one pass of the wait music: announcements, the long-wait offer, hold; a `Digits=1` from the offer answers `<Leave/>` |
//! | `/ivr/queue/result?initiated_by_section=NAME` | the `<Enqueue>` action: `QueueResult` → after-call SMS and hang up, the long-wait action, or an apology |
//! | `/ivr/agent/LINE` | an agent calls in: refusal unless listed, else `<Dial><Queue>` (recorded, `hangupOnStar`) |
//! | `/ivr/agent/LINE/next` | the agent's `<Dial>` action: the next caller, or "no callers are waiting" and try again |
//! | `/ivr/agent/LINE/announce` | the `<Queue url>`: played to the caller before the agent is connected |
//!
//! Twilio requests the wait URL when the caller joins and again each time
//! the previous wait document has finished, with `QueuePosition`,
//! `QueueTime` and `AvgQueueTime`: every request is one *pass*, and
//! [`wait_pass`] decides what it holds. Nothing on this path does I/O.

use crate::config::build::{Ctx, Sec};
use crate::config::{is_e164, Action, ActionKind, Audio};
use crate::flow::{single, Effect, Flow, Reply};
use crate::twiml::{
    Dial, DialTarget, Enqueue, Gather, Prompt, QueueNoun, Recording, Response, Verb,
};

/// Keys of a `type = queue` action (besides `type`, `play_sample`/`say` and the hours gate).
pub(crate) const QUEUE_KEYS: &[&str] = &[
    "queue",
    "hold_sample",
    "hold_say",
    "announce_position",
    "announce_wait",
    "announce_every_seconds",
    "long_wait_seconds",
    "long_wait_action",
    "long_wait_sample",
    "long_wait_say",
    "after_call_sms",
];

/// Keys of an `[agent_line_NAME]` section.
pub(crate) const AGENT_LINE_KEYS: &[&str] = &[
    "queue",
    "agents",
    "play_sample",
    "say",
    "record",
    "record_announcement_sample",
    "record_announcement_say",
    "keep_twilio_copy",
    "next_caller_key",
];

/// Played while waiting when neither `hold_sample` nor `hold_say` is set: Twilio's demo track.
pub const DEFAULT_HOLD_MUSIC: &str = "https://demo.twilio.com/docs/classic.mp3";
/// The key that takes the long-wait offer.
pub const LEAVE_KEY: &str = "1";
pub const DEFAULT_LONG_WAIT_OFFER: &str =
    "The wait is longer than usual. To leave a message instead, press 1. Or stay on the line and we will be with you as soon as we can.";
pub const DEFAULT_RECORD_ANNOUNCEMENT: &str = "This call is being recorded.";
pub const AGENT_REFUSAL: &str = "Sorry, this number cannot take calls on this line. Goodbye.";
pub const LINE_NOT_IN_SERVICE: &str = "Sorry, this line is not in service. Goodbye.";
pub const AGENT_NEXT_CALLER: &str = "Next caller.";
pub const AGENT_NO_CALLERS: &str =
    "No callers are waiting. You will be connected as soon as someone calls.";
pub const QUEUE_FULL: &str = "Sorry, all our lines are busy right now.";
pub const QUEUE_TROUBLE: &str = "Sorry, we could not keep you in the queue.";
/// How long one `<Dial>` of an empty queue waits for a caller before the agent hears about it.
pub const AGENT_WAIT_SECONDS: u32 = 60;
/// The pause before dialling an empty queue again (a queue that does not exist yet fails at once).
pub const AGENT_RETRY_PAUSE: u32 = 5;
/// Default length of a `hold_say` pass.
pub const DEFAULT_ANNOUNCE_EVERY: u32 = 60;
/// Seconds the long-wait offer listens after the pass before the wait music starts again.
const OFFER_TIMEOUT: u32 = 2;

/// A `type = queue` action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    /// The Twilio queue's name (its friendly name, at most 64 characters).
    pub queue: String,
    /// What a pass of the wait music plays.
    pub hold: Audio,
    /// With `hold_say`: seconds of silence after the text, i.e. about how
    /// often the announcements come round (`announce_every_seconds`).
    pub hold_pause: u32,
    pub announce_position: bool,
    pub announce_wait: bool,
    pub long_wait: Option<LongWait>,
    pub after_call_sms: Option<String>,
}

/// `long_wait_*`: when the wait is long, offer to leave the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LongWait {
    pub seconds: u32,
    /// The action a caller who presses 1 goes to (usually a voicemail).
    pub action: String,
    pub offer: Option<Audio>,
}

/// An `[agent_line_NAME]` section: who may take callers from a queue, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentLine {
    pub name: String,
    pub section: String,
    pub line: usize,
    pub queue: String,
    /// E.164 numbers allowed to take callers.
    pub agents: Vec<String>,
    /// Played to the agent on calling in.
    pub audio: Option<Audio>,
    pub record: bool,
    /// Played to the caller before the agent is connected (set when `record`).
    pub record_announcement: Option<Audio>,
    /// `None`: the `[aws]` default.
    pub keep_twilio_copy: Option<bool>,
    /// `next_caller_key = *`: the agent ends a conversation with `*` (`hangupOnStar`).
    pub hangup_on_star: bool,
}

/// A section name is a queue name Twilio accepts and a URL or log can carry plainly.
fn is_queue_name(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

fn queue_name(cx: &mut Ctx, sec: &Sec) -> Option<String> {
    let e = sec.require(cx, "queue")?;
    let v = e.value.trim();
    if is_queue_name(v) {
        Some(v.to_string())
    } else {
        cx.err(
            e.line,
            sec.name(),
            Some("queue"),
            format!("`{v}` is not a queue name: up to 64 letters, digits, `_`, `-` and `.`"),
        );
        None
    }
}

/// Builds a `type = queue` action's own part; `None` after reporting errors.
pub(crate) fn build_queue(cx: &mut Ctx, sec: &Sec) -> Option<Queue> {
    let queue = queue_name(cx, sec);
    let hold = sec.audio(cx, "hold_sample", "hold_say");
    let every = sec.number(cx, "announce_every_seconds", 10, 600);
    if let (Some(Audio::Play(_)), Some(e)) = (&hold, sec.value("announce_every_seconds")) {
        cx.err(
            e.line,
            sec.name(),
            Some("announce_every_seconds"),
            "has no effect with `hold_sample`: the announcements come round between plays of the file, so its length sets the interval (or use `hold_say`)",
        );
    }
    let announce_position = sec.boolean(cx, "announce_position").unwrap_or(true);
    let announce_wait = sec.boolean(cx, "announce_wait").unwrap_or(true);
    let seconds = sec.number(cx, "long_wait_seconds", 0, 86_400);
    let action = sec.action_ref(cx, "long_wait_action");
    let offer = sec.audio(cx, "long_wait_sample", "long_wait_say");
    let long_wait = match (
        sec.value("long_wait_seconds"),
        sec.value("long_wait_action"),
    ) {
        (None, None) => {
            for key in ["long_wait_sample", "long_wait_say"] {
                if let Some(e) = sec.value(key) {
                    cx.err(
                        e.line,
                        sec.name(),
                        Some(key),
                        "has no effect without `long_wait_seconds` and `long_wait_action`",
                    );
                }
            }
            None
        }
        (Some(_), None) => {
            sec.require(cx, "long_wait_action");
            None
        }
        (None, Some(_)) => {
            sec.require(cx, "long_wait_seconds");
            None
        }
        (Some(_), Some(_)) => match (seconds, action) {
            (Some(seconds), Some(action)) => Some(LongWait {
                seconds,
                action,
                offer,
            }),
            _ => None,
        },
    };
    let after_call_sms = sec.value("after_call_sms").and_then(|e| {
        let text = e.value.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.chars().count() > 1600 {
            cx.err(
                e.line,
                sec.name(),
                Some("after_call_sms"),
                "is longer than an SMS can be (1600 characters)",
            );
            None
        } else {
            Some(text)
        }
    });
    Some(Queue {
        queue: queue?,
        hold: hold.unwrap_or_else(|| Audio::Play(DEFAULT_HOLD_MUSIC.to_string())),
        hold_pause: every.unwrap_or(DEFAULT_ANNOUNCE_EVERY),
        announce_position,
        announce_wait,
        long_wait,
        after_call_sms,
    })
}

/// Builds an `[agent_line_NAME]` section; `None` after reporting errors.
pub(crate) fn build_agent_line(cx: &mut Ctx, name: &str, sec: &Sec) -> Option<AgentLine> {
    sec.check_keys(cx, AGENT_LINE_KEYS, "an agent line");
    let queue = queue_name(cx, sec);
    let agents = match sec.require(cx, "agents") {
        None => None,
        Some(e) => {
            let mut list: Vec<String> = Vec::new();
            let mut ok = true;
            for a in e.value.split(',').map(str::trim) {
                if !is_e164(a) {
                    ok = false;
                    cx.err(
                        e.line,
                        sec.name(),
                        Some("agents"),
                        format!("`{a}` is not an E.164 phone number (like +447700900010)"),
                    );
                } else if !list.iter().any(|x| x == a) {
                    list.push(a.to_string());
                }
            }
            ok.then_some(list)
        }
    };
    let record = sec.boolean(cx, "record").unwrap_or(false);
    let announcement = sec.audio(cx, "record_announcement_sample", "record_announcement_say");
    let keep_twilio_copy = sec.boolean(cx, "keep_twilio_copy");
    if !record {
        for key in [
            "record_announcement_sample",
            "record_announcement_say",
            "keep_twilio_copy",
        ] {
            if let Some(e) = sec.value(key) {
                cx.err(
                    e.line,
                    sec.name(),
                    Some(key),
                    "has no effect without `record = yes`",
                );
            }
        }
    }
    let hangup_on_star = match sec.value("next_caller_key") {
        None => true,
        Some(e) => match e.value.trim().to_ascii_lowercase().as_str() {
            "*" => true,
            "none" | "no" => false,
            other => {
                cx.err(
                    e.line,
                    sec.name(),
                    Some("next_caller_key"),
                    format!("`{other}`: Twilio lets an agent end a conversation with `*` only (hangupOnStar); use `*` or `none`"),
                );
                true
            }
        },
    };
    Some(AgentLine {
        name: name.to_string(),
        section: sec.name().to_string(),
        line: sec.s.line,
        audio: sec.audio(cx, "play_sample", "say"),
        record,
        record_announcement: record.then(|| {
            announcement.unwrap_or_else(|| Audio::Say(DEFAULT_RECORD_ANNOUNCEMENT.into()))
        }),
        keep_twilio_copy,
        hangup_on_star,
        queue: queue?,
        agents: agents?,
    })
}

/// What Twilio tells the wait URL about the caller's place in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitParams {
    /// `QueuePosition`: 1 is next.
    pub position: u32,
    /// `QueueTime`: seconds this caller has waited.
    pub queue_time: u32,
    /// `AvgQueueTime`: seconds the callers in the queue have waited on average; 0 when unknown.
    pub avg_wait: u32,
}

/// One pass of the wait music, decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitPass {
    /// Said first: the caller's position and the expected wait.
    pub announcement: Option<String>,
    /// Whether the pass offers to leave the queue (`long_wait_*`).
    pub offer: bool,
}

/// The wait-music schedule: what one pass holds. Every pass starts with the
/// announcements (Twilio asks when the caller joins and after each pass,
/// so they come round once per pass: a play of `hold_sample`, or `hold_say`
/// and `announce_every_seconds` of quiet), and once the wait is long the
/// pass offers to leave. `wait` is `None` when the request carried no
/// queue parameters (the offer's own key press, or a malformed request):
/// then the pass just holds.
pub fn wait_pass(q: &Queue, wait: Option<&WaitParams>) -> WaitPass {
    let Some(w) = wait else {
        return WaitPass {
            announcement: None,
            offer: false,
        };
    };
    WaitPass {
        announcement: announcement(w.position, w.avg_wait, q),
        offer: q
            .long_wait
            .as_ref()
            .is_some_and(|lw| long_wait(w, lw.seconds)),
    }
}

/// The expected wait is long: callers have been waiting longer than
/// `threshold` on average (`AvgQueueTime`, Twilio's own statistic for the
/// queue), or this caller already has.
pub fn long_wait(w: &WaitParams, threshold: u32) -> bool {
    w.avg_wait.max(w.queue_time) > threshold
}

/// The words that open a pass: "You are caller number 3. The expected wait
/// is about 4 minutes." `None` when there is nothing to say (both
/// announcements off, or no position and no known wait).
pub fn announcement(position: u32, avg_wait: u32, q: &Queue) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    if q.announce_position && position > 0 {
        parts.push(match position {
            1 => "You are next in line.".to_string(),
            n => format!("You are caller number {n}."),
        });
    }
    if q.announce_wait {
        if let Some(w) = wait_phrase(avg_wait) {
            parts.push(format!("The expected wait is {w}."));
        }
    }
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// `about 4 minutes`, rounded to the nearest minute; `None` when unknown (0).
pub fn wait_phrase(seconds: u32) -> Option<String> {
    match seconds {
        0 => None,
        1..=59 => Some("less than a minute".into()),
        s => match (s + 30) / 60 {
            1 => Some("about 1 minute".into()),
            m => Some(format!("about {m} minutes")),
        },
    }
}

fn number(s: Option<&str>) -> Option<u32> {
    s.and_then(|v| v.trim().parse::<u32>().ok())
}

/// `/ivr/agent/LINE…`: which request of an agent line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentStep {
    /// `/ivr/agent/LINE`: the agent calls in.
    Answer,
    /// `/ivr/agent/LINE/next`: the agent's `<Dial>` ended.
    Next,
    /// `/ivr/agent/LINE/announce`: the `<Queue url>`, on the caller's leg.
    Announce,
}

impl Flow<'_> {
    fn queue_action(&self) -> Option<(&Action, &Queue)> {
        let section = self.param("initiated_by_section")?;
        let action = self.config.action(section)?;
        match &action.kind {
            ActionKind::Queue(q) => Some((action, q)),
            _ => None,
        }
    }

    fn queue_section_url(&self, path: &str, action: &Action) -> String {
        self.url(path, &[("initiated_by_section", action.name.as_str())])
    }

    /// The queue action itself, after its hours gate and prompt.
    pub(crate) fn enqueue(&self, action: &Action, q: &Queue, r: &mut Response) {
        r.push(Verb::Enqueue(Enqueue {
            queue: q.queue.clone(),
            action: Some(self.queue_section_url("/ivr/queue/result", action)),
            wait_url: Some(self.queue_section_url("/ivr/queue/wait", action)),
        }));
    }

    fn hold_prompts(&self, q: &Queue) -> Vec<Prompt> {
        match &q.hold {
            Audio::Play(_) => vec![self.prompt(&q.hold)],
            Audio::Say(_) => vec![
                self.prompt(&q.hold),
                Prompt::Pause {
                    length: q.hold_pause,
                },
            ],
        }
    }

    /// `/ivr/queue/wait`: one pass of the wait music, or `<Leave/>` for the long-wait key.
    pub(crate) fn queue_wait(&self) -> Reply {
        let Some((action, q)) = self.queue_action() else {
            // The config changed while the caller waited (or a stray request):
            // keep them waiting with music; an agent can still take them.
            tracing::warn!("wait URL for a section that is not a queue action: default hold");
            let mut r = Response::new();
            r.push(Verb::Play(crate::twiml::Play {
                url: DEFAULT_HOLD_MUSIC.into(),
            }));
            return Reply::new(r, "queue wait: not a queue action (default hold)");
        };
        if let Some(digits) = self.param("Digits") {
            if digits == LEAVE_KEY {
                if let Some(lw) = &q.long_wait {
                    return Reply::new(
                        single(Verb::Leave),
                        format!("queue {}: leaves for {}", q.queue, lw.action),
                    );
                }
            }
            // Any other key: back to the music (the offer comes round again).
            let mut r = Response::new();
            for p in self.hold_prompts(q) {
                r.push(prompt_verb(p));
            }
            return Reply::new(
                r,
                format!("queue {}: pressed {digits}, still waiting", q.queue),
            );
        }
        let wait = match (
            number(self.param("QueuePosition")),
            number(self.param("QueueTime")),
        ) {
            (Some(position), queue_time) => Some(WaitParams {
                position,
                queue_time: queue_time.unwrap_or(0),
                avg_wait: number(self.param("AvgQueueTime")).unwrap_or(0),
            }),
            (None, _) => None,
        };
        if wait.is_none() {
            tracing::warn!(section = %action.name, "wait URL without QueuePosition: hold only");
        }
        let pass = wait_pass(q, wait.as_ref());
        let mut prompts: Vec<Prompt> = Vec::new();
        if let Some(text) = &pass.announcement {
            prompts.push(Prompt::Say(self.say(text)));
        }
        let mut r = Response::new();
        let outcome = format!(
            "queue {} wait (position {}, {}s{})",
            q.queue,
            wait.map_or("?".to_string(), |w| w.position.to_string()),
            wait.map_or(0, |w| w.queue_time),
            if pass.offer { ", long wait" } else { "" }
        );
        match q.long_wait.as_ref().filter(|_| pass.offer) {
            Some(lw) => {
                prompts.push(match &lw.offer {
                    Some(a) => self.prompt(a),
                    None => Prompt::Say(self.say(DEFAULT_LONG_WAIT_OFFER)),
                });
                prompts.extend(self.hold_prompts(q));
                r.push(Verb::Gather(Gather {
                    num_digits: Some(1),
                    action: Some(self.queue_section_url("/ivr/queue/wait", action)),
                    timeout: Some(OFFER_TIMEOUT),
                    children: prompts,
                }));
            }
            None => {
                prompts.extend(self.hold_prompts(q));
                for p in prompts {
                    r.push(prompt_verb(p));
                }
            }
        }
        Reply::new(r, outcome)
    }

    /// `/ivr/queue/result`: the `<Enqueue>` action, once the caller is out of the queue.
    pub(crate) fn queue_result(&self) -> Reply {
        let result = self.param("QueueResult").unwrap_or("");
        let Some((action, q)) = self.queue_action() else {
            return match result {
                "bridged" | "hangup" => Reply::new(
                    single(Verb::Hangup),
                    format!("queue result {result}: not a queue action"),
                ),
                _ => self.recover("queue result for a section that is not a queue action"),
            };
        };
        let long_wait_or_hangup = |r: &mut Response| {
            match &q.long_wait {
                Some(lw) => r.push(Verb::Redirect {
                    url: self.action_url(&lw.action),
                }),
                None => r.push(Verb::Hangup),
            };
        };
        match result {
            "bridged" => {
                let mut reply = Reply::new(
                    single(Verb::Hangup),
                    format!("queue {}: conversation over", q.queue),
                );
                if let Some(body) = &q.after_call_sms {
                    match self.after_call_sms(body) {
                        Ok(effect) => reply.effects.push(effect),
                        Err(why) => {
                            tracing::warn!(section = %action.name, why, "no after-call SMS");
                            reply.outcome.push_str(&format!(" (no SMS: {why})"));
                        }
                    }
                }
                reply
            }
            "leave" => match &q.long_wait {
                Some(lw) => Reply::new(
                    single(Verb::Redirect {
                        url: self.action_url(&lw.action),
                    }),
                    format!("queue {}: left for {}", q.queue, lw.action),
                ),
                None => self.recover("left a queue that has no long-wait action"),
            },
            // The caller is gone: nothing to say, nobody to text.
            "hangup" => Reply::new(
                single(Verb::Hangup),
                format!("queue {}: caller hung up while waiting", q.queue),
            ),
            // Someone else has the call (REST) or the bridge is being made: stay out of the way.
            "redirected" | "bridging-in-process" => {
                Reply::new(Response::new(), format!("queue {}: {result}", q.queue))
            }
            "queue-full" => {
                let mut r = Response::new();
                r.push(Verb::Say(self.say(QUEUE_FULL)));
                long_wait_or_hangup(&mut r);
                Reply::new(r, format!("queue {}: full", q.queue))
            }
            other => {
                tracing::warn!(queue_result = other, section = %action.name, "queue trouble");
                let mut r = Response::new();
                r.push(Verb::Say(self.say(QUEUE_TROUBLE)));
                long_wait_or_hangup(&mut r);
                Reply::new(
                    r,
                    format!(
                        "queue {}: {}",
                        q.queue,
                        if other.is_empty() {
                            "no QueueResult"
                        } else {
                            other
                        }
                    ),
                )
            }
        }
    }

    /// The thank-you text: from the number the caller called, to the caller, once per call.
    fn after_call_sms(&self, body: &str) -> Result<Effect, &'static str> {
        let call_sid = self
            .param("CallSid")
            .filter(|s| crate::flow::is_sid(s, "CA"))
            .ok_or("no valid CallSid")?;
        let to = self
            .param("From")
            .filter(|p| is_e164(p))
            .ok_or("the caller's number is withheld or not E.164")?;
        let from = self
            .param("To")
            .filter(|p| is_e164(p))
            .ok_or("the called number is not E.164")?;
        Ok(Effect::SendSms {
            key: format!("after-call-sms/{call_sid}"),
            from: from.to_string(),
            to: to.to_string(),
            body: body.to_string(),
        })
    }

    fn agent_url(&self, line: &str, step: AgentStep) -> String {
        let mut u = self.url("/ivr/agent/", &[]);
        u.extend(percent_encoding::utf8_percent_encode(
            line,
            crate::flow::PATH_SEGMENT,
        ));
        match step {
            AgentStep::Answer => {}
            AgentStep::Next => u.push_str("/next"),
            AgentStep::Announce => u.push_str("/announce"),
        }
        u
    }

    /// `<Dial>` of the line's queue: the next caller, recorded if asked.
    fn agent_dial(&self, line: &AgentLine) -> Verb {
        let mut recorded = vec![("initiated_by_section", line.section.as_str())];
        if let Some(from) = self.param("From") {
            recorded.push(("caller", from));
        }
        if let Some(to) = self.param("To") {
            recorded.push(("called", to));
        }
        Verb::Dial(Dial {
            action: Some(self.agent_url(&line.name, AgentStep::Next)),
            timeout: Some(AGENT_WAIT_SECONDS),
            hangup_on_star: line.hangup_on_star,
            record: line.record.then_some(Recording::FromAnswer),
            recording_status_callback: line
                .record
                .then(|| self.url("/ivr/callback/voicemail/alert_sms", &recorded)),
            ..Dial::new(DialTarget::Queue(QueueNoun {
                name: line.queue.clone(),
                url: line
                    .record_announcement
                    .as_ref()
                    .map(|_| self.agent_url(&line.name, AgentStep::Announce)),
            }))
        })
    }

    /// `/ivr/agent/LINE[/next|/announce]`.
    pub(crate) fn agent(&self, name: &str, step: AgentStep) -> Reply {
        let Some(line) = self.config.agent_lines.get(name) else {
            let mut r = Response::new();
            if step != AgentStep::Announce {
                r.push(Verb::Say(self.say(LINE_NOT_IN_SERVICE)));
                r.push(Verb::Hangup);
            }
            tracing::warn!(line = name, "no such agent line");
            return Reply::new(r, "agent: no such line");
        };
        if step == AgentStep::Announce {
            // The caller's leg, just before the agent is connected: no agent check.
            let mut r = Response::new();
            if let Some(a) = &line.record_announcement {
                r.push(self.verb(a));
            }
            return Reply::new(r, format!("agent line {}: announcement", line.name));
        }
        let from = self.param("From").unwrap_or("");
        if !line.agents.iter().any(|a| a == from) {
            tracing::warn!(line = %line.name, "agent call from a number that is not listed");
            let mut r = Response::new();
            r.push(Verb::Say(self.say(AGENT_REFUSAL)));
            r.push(Verb::Hangup);
            return Reply::new(
                r,
                format!("agent line {}: refused an unlisted number", line.name),
            );
        }
        let mut r = Response::new();
        let outcome = match step {
            AgentStep::Answer => {
                if let Some(a) = &line.audio {
                    r.push(self.verb(a));
                }
                "agent answers"
            }
            _ => {
                let status = self.param("DialCallStatus").unwrap_or("");
                let bridged = match self.param("DialBridged") {
                    Some(b) => b.eq_ignore_ascii_case("true"),
                    None => matches!(status, "completed" | "answered"),
                };
                if status == "canceled" {
                    return Reply::new(
                        single(Verb::Hangup),
                        format!("agent line {}: agent hung up", line.name),
                    );
                }
                if bridged {
                    r.push(Verb::Say(self.say(AGENT_NEXT_CALLER)));
                    "next caller"
                } else {
                    r.push(Verb::Say(self.say(AGENT_NO_CALLERS)));
                    r.push(Verb::Pause {
                        length: AGENT_RETRY_PAUSE,
                    });
                    "no callers waiting"
                }
            }
        };
        r.push(self.agent_dial(line));
        Reply::new(r, format!("agent line {}: {outcome}", line.name))
    }
}

fn prompt_verb(p: Prompt) -> Verb {
    match p {
        Prompt::Say(s) => Verb::Say(s),
        Prompt::Play(p) => Verb::Play(p),
        Prompt::Pause { length } => Verb::Pause { length },
    }
}

#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;
