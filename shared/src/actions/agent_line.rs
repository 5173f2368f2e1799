//! `[agent_line_NAME]`: who may take callers from a queue, and how. Agents
//! call the line's own number; each conversation ends with `*` (or the
//! caller hanging up) and the next caller is put through.
//!
//! | route | answers |
//! |---|---|
//! | `/ivr/agent/LINE` | an agent calls in: refusal unless listed, else `<Dial><Queue>` (recorded, `hangupOnStar`) |
//! | `/ivr/agent/LINE/next` | the agent's `<Dial>` action: the next caller, or "no callers are waiting" and try again |
//! | `/ivr/agent/LINE/announce` | the `<Queue url>`: played to the caller before the agent is connected |

use crate::answer::{Answer, Reply};
use crate::config::reader::{Audio, Ctx, Sec};
use crate::ids::is_e164;
use crate::recordings::job::RecordingPlan;
use crate::routes::{AgentStep, Route};
use crate::twiml::{Dial, DialTarget, QueueNoun, Recording, Response, Verb};

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
        let outcome = match step {
            AgentStep::Answer => {
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
        lines.push(s);
        lines
    }
}
