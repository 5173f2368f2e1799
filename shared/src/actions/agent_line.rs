//! `[agent_line_NAME]`: who may take callers from a queue, and how. Agents
//! call the line's own number; each conversation ends with `*` (or the
//! caller hanging up) and the next caller is put through.
//!
//! | route | answers |
//! |---|---|
//! | `/ivr/agent/LINE` | an agent calls in: refusal unless listed, else `<Dial><Queue>` (recorded, `hangupOnStar`) |
//! | `/ivr/agent/LINE/next` | the agent's `<Dial>` action: the next caller, or "no callers are waiting" and try again |
//! | `/ivr/agent/LINE/announce` | the `<Queue url>`: played to the caller before the agent is connected |
//! | `/ivr/agent/LINE/pin?attempt=N` | with `pin`: the PIN the agent typed; right → connected, wrong → again, three wrong → goodbye |
//!
//! Caller ID is easy to forge with many carriers, so a line may ask for a
//! PIN too (`pin = 4–12 digits`), after the caller-ID check. The PIN is
//! compared in constant time and appears in no log line or outcome.

use crate::answer::{Answer, Reply};
use crate::config::reader::{Audio, Ctx, Sec};
use crate::ids::is_e164;
use crate::recordings::job::RecordingPlan;
use crate::routes::{AgentStep, Route};
use crate::twiml::{Dial, DialTarget, Gather, Prompt, QueueNoun, Recording, Response, Verb};

pub const DEFAULT_RECORD_ANNOUNCEMENT: &str = "This call is being recorded.";
pub const AGENT_REFUSAL: &str = "Sorry, this number cannot take calls on this line. Goodbye.";
pub const LINE_NOT_IN_SERVICE: &str = "Sorry, this line is not in service. Goodbye.";
pub const AGENT_NEXT_CALLER: &str = "Next caller.";
pub const AGENT_NO_CALLERS: &str =
    "No callers are waiting. You will be connected as soon as someone calls.";
/// How long one `<Dial>` of an empty queue waits for a caller before the agent hears about it.
pub const AGENT_WAIT_SECONDS: u32 = 60;
/// The pause before dialling an empty queue again (a queue that does not exist yet fails at once).
pub const AGENT_RETRY_PAUSE: u32 = 5;
pub const PIN_PROMPT: &str = "Please enter your PIN.";
pub const PIN_WRONG: &str = "That PIN is not right.";
pub const PIN_REFUSED: &str = "Sorry, that PIN is not right. Goodbye.";
/// Tries at the PIN before the line hangs up.
pub const PIN_TRIES: u32 = 3;
/// Seconds the PIN prompt waits for the first key.
const PIN_TIMEOUT: u32 = 10;

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
    /// Digits an agent types after the caller-ID check (`pin`).
    pub pin: Option<Pin>,
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(…)")
    }
}

/// A PIN that never prints itself.
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(String);

impl Pin {
    pub fn new(digits: &str) -> Self {
        Pin(digits.to_string())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `typed` is the PIN, in time that depends on neither.
    pub fn matches(&self, typed: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), typed.as_bytes());
        let mut diff = a.len() ^ b.len();
        for i in 0..a.len().max(b.len()) {
            let x = a.get(i).copied().unwrap_or(0);
            let y = b.get(i).copied().unwrap_or(0xff);
            diff |= usize::from(x ^ y);
        }
        diff == 0
    }
}

/// Parses an `[agent_line_NAME]` section; `None` after reporting errors.
pub(crate) fn parse(cx: &mut Ctx, name: &str, sec: Sec) -> Option<AgentLine> {
    let line = parse_keys(cx, name, &sec);
    sec.finish(cx, "an agent line");
    line
}

fn parse_keys(cx: &mut Ctx, name: &str, sec: &Sec) -> Option<AgentLine> {
    let queue = super::queue::queue_name(cx, sec);
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
            sec.pointless_without(cx, key, "`record = yes`");
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
    let pin = sec.value("pin").and_then(|e| {
        let v = e.value.trim();
        if (4..=12).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit()) {
            Some(Pin::new(v))
        } else {
            cx.err(
                e.line,
                sec.name(),
                Some("pin"),
                "a PIN is 4 to 12 digits (what an agent can type on a phone)",
            );
            None
        }
    });
    if record && pin.is_none() && sec.value("pin").is_none() {
        cx.warn(
            sec.line(),
            sec.name(),
            Some("pin"),
            "records conversations, but anyone who forges a listed caller ID can take calls: set `pin`",
        );
    }
    Some(AgentLine {
        name: name.to_string(),
        section: sec.name().to_string(),
        line: sec.line(),
        audio: sec.audio(cx, "play_sample", "say"),
        record,
        record_announcement: record.then(|| {
            announcement.unwrap_or_else(|| Audio::Say(DEFAULT_RECORD_ANNOUNCEMENT.into()))
        }),
        keep_twilio_copy,
        hangup_on_star,
        pin,
        queue: queue?,
        agents: agents?,
    })
}

impl AgentLine {
    /// What the recordings pipeline does with this line's recorded calls:
    /// exported like a recorded forward, without alerts.
    pub fn recording(&self) -> Option<RecordingPlan> {
        self.record
            .then(|| RecordingPlan::export_only(self.keep_twilio_copy))
    }

    fn url(&self, a: &Answer, step: AgentStep) -> String {
        a.links.to(
            &Route::Agent {
                line: self.name.clone(),
                step,
            },
            &[],
        )
    }

    /// `<Dial>` of the line's queue: the next caller, recorded if asked.
    fn dial(&self, a: &Answer) -> Verb {
        Verb::Dial(Dial {
            action: Some(self.url(a, AgentStep::Next)),
            timeout: Some(AGENT_WAIT_SECONDS),
            hangup_on_star: self.hangup_on_star,
            record: self.record.then_some(Recording::FromAnswer),
            recording_status_callback: self.record.then(|| a.recording_callback(&self.section)),
            ..Dial::new(DialTarget::Queue(QueueNoun {
                name: self.queue.clone(),
                url: self
                    .record_announcement
                    .as_ref()
                    .map(|_| self.url(a, AgentStep::Announce)),
            }))
        })
    }

    /// The PIN prompt for try `attempt`; no key (or too few) is a wrong try.
    fn ask_pin(&self, a: &Answer, pin: &Pin, attempt: u32, before: Option<&str>) -> Reply {
        let n = attempt.to_string();
        let url = a.links.to(
            &Route::Agent {
                line: self.name.clone(),
                step: AgentStep::Pin,
            },
            &[("attempt", &n)],
        );
        let mut r = Response::new();
        if let Some(text) = before {
            r.push(Verb::Say(a.say(text)));
        }
        r.push(Verb::Gather(Gather {
            num_digits: u32::try_from(pin.len()).ok(),
            action: Some(url.clone()),
            timeout: Some(PIN_TIMEOUT),
            children: vec![Prompt::Say(a.say(PIN_PROMPT))],
        }));
        r.push(Verb::Redirect { url });
        Reply::new(
            r,
            format!("agent line {}: PIN asked (try {attempt})", self.name),
        )
    }

    /// `/ivr/agent/LINE[/next|/announce]` for a line that does not exist.
    pub fn not_in_service(a: &Answer, name: &str, step: AgentStep) -> Reply {
        let mut r = Response::new();
        if step != AgentStep::Announce {
            r.push(Verb::Say(a.say(LINE_NOT_IN_SERVICE)));
            r.push(Verb::Hangup);
        }
        tracing::warn!(line = name, "no such agent line");
        Reply::new(r, "agent: no such line")
    }

    /// `/ivr/agent/LINE[/next|/announce]`.
    pub fn answer(&self, a: &Answer, step: AgentStep) -> Reply {
        let line = self;
        if step == AgentStep::Announce {
            // The caller's leg, just before the agent is connected: no agent check.
            let mut r = Response::new();
            if let Some(audio) = &line.record_announcement {
                r.push(a.verb(audio));
            }
            return Reply::new(r, format!("agent line {}: announcement", line.name));
        }
        let from = a.param("From").unwrap_or("");
        if !line.agents.iter().any(|x| x == from) {
            tracing::warn!(line = %line.name, "agent call from a number that is not listed");
            let mut r = Response::new();
            r.push(Verb::Say(a.say(AGENT_REFUSAL)));
            r.push(Verb::Hangup);
            return Reply::new(
                r,
                format!("agent line {}: refused an unlisted number", line.name),
            );
        }
        let mut r = Response::new();
        let outcome = match (step, &line.pin) {
            (AgentStep::Answer, Some(pin)) => return line.ask_pin(a, pin, 1, None),
            (AgentStep::Pin, Some(pin)) => {
                let attempt = a
                    .param("attempt")
                    .and_then(|n| n.parse::<u32>().ok())
                    .unwrap_or(1)
                    .clamp(1, PIN_TRIES);
                if !pin.matches(a.param("Digits").unwrap_or("")) {
                    if attempt >= PIN_TRIES {
                        tracing::warn!(line = %line.name, "agent PIN wrong three times");
                        let mut r = Response::new();
                        r.push(Verb::Say(a.say(PIN_REFUSED)));
                        r.push(Verb::Hangup);
                        return Reply::new(r, format!("agent line {}: PIN refused", line.name));
                    }
                    return line.ask_pin(a, pin, attempt + 1, Some(PIN_WRONG));
                }
                if let Some(audio) = &line.audio {
                    r.push(a.verb(audio));
                }
                "agent answers (PIN)"
            }
            (AgentStep::Answer | AgentStep::Pin, _) => {
                if let Some(audio) = &line.audio {
                    r.push(a.verb(audio));
                }
                "agent answers"
            }
            _ => {
                let status = a.param("DialCallStatus").unwrap_or("");
                let bridged = match a.param("DialBridged") {
                    Some(b) => b.eq_ignore_ascii_case("true"),
                    None => matches!(status, "completed" | "answered"),
                };
                if status == "canceled" {
                    return Reply::single(
                        Verb::Hangup,
                        format!("agent line {}: agent hung up", line.name),
                    );
                }
                if bridged {
                    r.push(Verb::Say(a.say(AGENT_NEXT_CALLER)));
                    "next caller"
                } else {
                    r.push(Verb::Say(a.say(AGENT_NO_CALLERS)));
                    r.push(Verb::Pause {
                        length: AGENT_RETRY_PAUSE,
                    });
                    "no callers waiting"
                }
            }
        };
        r.push(line.dial(a));
        Reply::new(r, format!("agent line {}: {outcome}", line.name))
    }

    /// Lines for `ivr graph`'s box.
    pub fn summary(&self) -> Vec<String> {
        let mut lines = vec![
            format!(
                "agents call {}",
                Route::Agent {
                    line: self.name.clone(),
                    step: AgentStep::Answer
                }
                .path()
            ),
            format!("agents: {}", self.agents.join(", ")),
        ];
        if let Some(audio) = &self.audio {
            lines.push(audio.describe());
        }
        let mut s = format!("takes callers from {}", self.queue);
        if self.record {
            s.push_str(", recorded");
        }
        if self.hangup_on_star {
            s.push_str(", * for the next");
        }
        if self.pin.is_some() {
            s.push_str(", PIN");
        }
        lines.push(s);
        lines
    }
}
