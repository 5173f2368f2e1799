//! `type = queue`: callers wait in a Twilio queue until an agent line
//! ([`super::agent_line`]) takes them one at a time (the radio call-in
//! line of the seeds). This file owns the action's keys and validation,
//! the TwiML of its routes, and the wait-music schedule:
//!
//! | route | answers |
//! |---|---|
//! | `/ivr/action/NAME` (a queue action) | `<Enqueue waitUrl=… action=…>` |
//! | `/ivr/queue/wait?initiated_by_section=NAME` | one pass of the wait music: announcements, the long-wait offer, hold; a `Digits=1` from the offer answers `<Leave/>` |
//! | `/ivr/queue/result?initiated_by_section=NAME` | the `<Enqueue>` action: `QueueResult` → after-call SMS and hang up, the long-wait action, or an apology |
//! | `/ivr/queue/callback?initiated_by_section=NAME&joined=…` | the callback offer (`callback = yes`): the number read back or typed, then the work item |
//!
//! **Callbacks.** With `callback = yes` every pass also offers "to be
//! called back instead, press 2". The conversation that follows stays in
//! the wait (the caller keeps their place until it is settled): the
//! caller's number read back digit by digit, 1 to confirm or another
//! number typed and `#` ([`crate::phone`] makes it E.164 by the called
//! number's country, or refuses it with a re-prompt). Confirmed, the reply
//! carries [`Effect::CreateCallback`] — created once per `CallSid` by the
//! shell — with the time the caller joined the queue as their place in
//! line, thanks them and hangs up; the `<Enqueue>` action then sees
//! `QueueResult=hangup` and has nothing more to do. If the item cannot be
//! stored the caller is told so and keeps waiting. The passes carry the
//! joining time (`joined`, Unix seconds, signed with the URL) because the
//! `<Gather>` requests that follow have no `QueueTime`.
//!
//! Twilio requests the wait URL when the caller joins and again each time
//! the previous wait document has finished, with `QueuePosition`,
//! `QueueTime` and `AvgQueueTime`: every request is one *pass*, and
//! [`wait_pass`] decides what it holds. Nothing on this path does I/O.

use super::{ActionType, Invoked};
use crate::answer::{Answer, Effect, Reply};
use crate::config::reader::{Audio, Ctx, Sec};
use crate::graph::{EdgeKind, Node};
use crate::ids::{is_e164, is_queue_name, is_sid};
use crate::phone;
use crate::routes::Route;
use crate::twiml::{Enqueue, Gather, Play, Prompt, Response, Verb};
use crate::work::NewCallback;
use chrono::{DateTime, Utc};

/// The key that takes the callback offer, unless `callback_key` says otherwise.
pub const DEFAULT_CALLBACK_KEY: &str = "2";
/// The callback offer; `{key}` is the key.
pub const DEFAULT_CALLBACK_OFFER: &str =
    "To be called back instead, press {key}. You keep your place in line.";
/// Said before the number typed or read back.
pub const CALLBACK_READ_BACK: &str = "We will call you back on";
pub const CALLBACK_CONFIRM: &str =
    "To confirm, press 1. To use another number, type it now, then press hash.";
pub const CALLBACK_TYPE: &str =
    "Please type the number we should call you back on, with its area code, then press hash.";
pub const CALLBACK_REFUSED: &str = "Sorry, that is not a number we can call back.";
pub const CALLBACK_GIVE_UP: &str =
    "Sorry, we could not take that number. You keep your place in line.";
pub const CALLBACK_THANKS: &str =
    "Thank you. We will call you back; you keep your place in line. Goodbye.";
pub const CALLBACK_TROUBLE: &str =
    "Sorry, we cannot take callback requests right now. You keep your place in line.";
/// Numbers typed before the offer gives up and the caller goes back to waiting.
pub const CALLBACK_TRIES: u32 = 3;
/// Seconds a callback prompt waits for the next key (1 alone confirms after this).
const CALLBACK_TIMEOUT: u32 = 5;
/// Played while waiting when neither `hold_sample` nor `hold_say` is set: Twilio's demo track.
pub const DEFAULT_HOLD_MUSIC: &str = "https://demo.twilio.com/docs/classic.mp3";
/// The key that takes the long-wait offer.
pub const LEAVE_KEY: &str = "1";
pub const DEFAULT_LONG_WAIT_OFFER: &str =
    "The wait is longer than usual. To leave a message instead, press 1. Or stay on the line and we will be with you as soon as we can.";
pub const QUEUE_FULL: &str = "Sorry, all our lines are busy right now.";
pub const QUEUE_TROUBLE: &str = "Sorry, we could not keep you in the queue.";
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
    /// `callback = yes`: every pass offers a callback instead of waiting.
    pub callback: Option<CallbackOffer>,
    pub after_call_sms: Option<String>,
}

/// `callback_*`: the offer of a callback that keeps the caller's place in line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackOffer {
    /// The key that takes it (`callback_key`, one digit).
    pub key: String,
    /// `callback_sample` / `callback_say`; the default names the key.
    pub offer: Option<Audio>,
}

/// `long_wait_*`: when the wait is long, offer to leave the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LongWait {
    pub seconds: u32,
    /// The action a caller who presses 1 goes to (usually a voicemail).
    pub action: String,
    pub offer: Option<Audio>,
}

/// The `queue` key, shared with agent lines: a queue name Twilio accepts.
pub(crate) fn queue_name(cx: &mut Ctx, sec: &Sec) -> Option<String> {
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

/// `callback`, `callback_key`, `callback_sample` / `callback_say`.
fn parse_callback(cx: &mut Ctx, sec: &Sec, long_wait: bool) -> Option<CallbackOffer> {
    let on = sec.boolean(cx, "callback").unwrap_or(false);
    if !on {
        for key in ["callback_key", "callback_sample", "callback_say"] {
            sec.pointless_without(cx, key, "`callback = yes`");
        }
        return None;
    }
    let key = match sec.value("callback_key") {
        None => DEFAULT_CALLBACK_KEY.to_string(),
        Some(e) => {
            let v = e.value.trim();
            if v.len() != 1 || !v.bytes().all(|b| b.is_ascii_digit()) {
                cx.err(
                    e.line,
                    sec.name(),
                    Some("callback_key"),
                    format!("`{v}` is not one key: use a digit 0-9"),
                );
                return None;
            }
            if long_wait && v == LEAVE_KEY {
                cx.err(
                    e.line,
                    sec.name(),
                    Some("callback_key"),
                    format!("{LEAVE_KEY} is the long-wait offer's key here: choose another digit"),
                );
                return None;
            }
            v.to_string()
        }
    };
    let offer = sec.audio(cx, "callback_sample", "callback_say");
    Some(CallbackOffer { key, offer })
}

impl ActionType for Queue {
    const TYPE: &'static str = "queue";

    fn parse(cx: &mut Ctx, sec: &Sec) -> Option<Self> {
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
        let callback = parse_callback(cx, sec, long_wait.is_some());
        let after_call_sms = sec.text(cx, "after_call_sms").and_then(|text| {
            if text.chars().count() > 1600 {
                cx.err(
                    sec.line_of("after_call_sms"),
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
            callback,
            after_call_sms,
        })
    }

    fn answer(&self, a: &Answer, me: &Invoked, r: &mut Response) {
        r.push(Verb::Enqueue(Enqueue {
            queue: self.queue.clone(),
            action: Some(a.section_url(Route::QueueResult, me.name)),
            wait_url: Some(a.section_url(Route::QueueWait, me.name)),
        }));
    }

    fn edges(&self) -> Vec<(EdgeKind, Node)> {
        self.long_wait
            .iter()
            .map(|lw| (EdgeKind::LongWait, Node::Action(lw.action.clone())))
            .collect()
    }

    fn summary(&self) -> Vec<String> {
        let mut lines = vec![format!("queue {}", self.queue)];

        let said: Vec<&str> = [
            self.announce_position.then_some("position"),
            self.announce_wait.then_some("wait"),
        ]
        .into_iter()
        .flatten()
        .collect();
        let mut s = format!("hold: {}", self.hold.describe());
        if !said.is_empty() {
            s.push_str(&format!(", announces {}", said.join(" and ")));
        }
        lines.push(s);
        if let Some(lw) = &self.long_wait {
            lines.push(format!("long wait: over {}s", lw.seconds));
        }
        if let Some(cb) = &self.callback {
            lines.push(format!("callback offer: press {}", cb.key));
        }
        lines
    }

    fn ending(&self) -> Option<(&'static str, u32)> {
        Some(match self.after_call_sms {
            Some(_) => ("after the call: SMS", 110),
            None => ("after the call", 110),
        })
    }
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

/// Longest wait announced as a figure; beyond it Twilio's statistic is
/// more likely stale or wrong than useful, and a caller hears no number.
pub const LONGEST_ANNOUNCED_WAIT: u32 = 3 * 3600;

/// `about 4 minutes`, rounded to the nearest minute; `None` when unknown (0).
/// The seconds come from a request: any `u32` gives a sensible phrase.
pub fn wait_phrase(seconds: u32) -> Option<String> {
    match seconds {
        0 => None,
        1..=59 => Some("less than a minute".into()),
        s if s > LONGEST_ANNOUNCED_WAIT => Some("more than three hours".into()),
        s => match s.saturating_add(30) / 60 {
            1 => Some("about 1 minute".into()),
            m => Some(format!("about {m} minutes")),
        },
    }
}

/// A callback prompt: digits (ended by `#` or the timeout) go to
/// `/ivr/queue/callback` with the joining time, the number proposed for a
/// 1 (if any) and the refusals so far, all in the signed URL.
fn callback_gather(
    a: &Answer,
    name: &str,
    joined: &str,
    number: Option<&str>,
    tries: u32,
    children: Vec<Prompt>,
) -> Verb {
    let tries = tries.to_string();
    let mut query = vec![("initiated_by_section", name), ("joined", joined)];
    if let Some(n) = number {
        query.push(("number", n));
    }
    query.push(("tries", &tries));
    Verb::Gather(Gather {
        num_digits: None,
        action: Some(a.links.to(&Route::QueueCallback, &query)),
        timeout: Some(CALLBACK_TIMEOUT),
        children,
    })
}

/// When the caller joined the queue: the `joined` the passes carry (Unix
/// seconds, never in the future), else now.
fn joined(a: &Answer) -> DateTime<Utc> {
    a.param("joined")
        .and_then(|v| v.parse::<i64>().ok())
        .and_then(|t| DateTime::from_timestamp(t, 0))
        .filter(|t| *t <= a.call.now)
        .unwrap_or(a.call.now)
}

fn number(s: Option<&str>) -> Option<u32> {
    s.and_then(|v| v.trim().parse::<u32>().ok())
}

/// `/ivr/queue/wait` for a section that is not a queue action (the config
/// changed while the caller waited, or a stray request): keep them waiting
/// with music; an agent can still take them.
pub fn wait_elsewhere() -> Reply {
    tracing::warn!("wait URL for a section that is not a queue action: default hold");
    Reply::single(
        Verb::Play(Play {
            url: DEFAULT_HOLD_MUSIC.into(),
        }),
        "queue wait: not a queue action (default hold)",
    )
}

/// `/ivr/queue/result` for a section that is not a queue action.
pub fn result_elsewhere(a: &Answer) -> Reply {
    let result = a.param("QueueResult").unwrap_or("");
    match result {
        "bridged" | "hangup" => Reply::single(
            Verb::Hangup,
            format!("queue result {result}: not a queue action"),
        ),
        _ => a.recover("queue result for a section that is not a queue action"),
    }
}

impl Queue {
    fn hold_prompts(&self, a: &Answer) -> Vec<Prompt> {
        match &self.hold {
            Audio::Play(_) => vec![a.prompt(&self.hold)],
            Audio::Say(_) => vec![
                a.prompt(&self.hold),
                Prompt::Pause {
                    length: self.hold_pause,
                },
            ],
        }
    }

    /// `/ivr/queue/wait`: one pass of the wait music, or `<Leave/>` for the long-wait key.
    pub fn wait(&self, a: &Answer, name: &str) -> Reply {
        let q = self;
        if let Some(digits) = a.param("Digits") {
            if digits == LEAVE_KEY {
                if let Some(lw) = &q.long_wait {
                    return Reply::single(
                        Verb::Leave,
                        format!("queue {}: leaves for {}", q.queue, lw.action),
                    );
                }
            }
            if q.callback.as_ref().is_some_and(|cb| cb.key == digits) {
                return q.callback_start(a, name);
            }
            // Any other key: back to the music (the offer comes round again).
            let mut r = Response::new();
            for p in q.hold_prompts(a) {
                r.push(p.into());
            }
            return Reply::new(
                r,
                format!("queue {}: pressed {digits}, still waiting", q.queue),
            );
        }
        let wait = match (
            number(a.param("QueuePosition")),
            number(a.param("QueueTime")),
        ) {
            (Some(position), queue_time) => Some(WaitParams {
                position,
                queue_time: queue_time.unwrap_or(0),
                avg_wait: number(a.param("AvgQueueTime")).unwrap_or(0),
            }),
            (None, _) => None,
        };
        if wait.is_none() {
            tracing::warn!(section = %name, "wait URL without QueuePosition: hold only");
        }
        let pass = wait_pass(q, wait.as_ref());
        let mut prompts: Vec<Prompt> = Vec::new();
        if let Some(text) = &pass.announcement {
            prompts.push(Prompt::Say(a.say(text)));
        }
        let mut r = Response::new();
        let outcome = format!(
            "queue {} wait (position {}, {}s{})",
            q.queue,
            wait.map_or("?".to_string(), |w| w.position.to_string()),
            wait.map_or(0, |w| w.queue_time),
            if pass.offer { ", long wait" } else { "" }
        );
        let long_wait = q.long_wait.as_ref().filter(|_| pass.offer);
        if let Some(lw) = long_wait {
            prompts.push(match &lw.offer {
                Some(audio) => a.prompt(audio),
                None => Prompt::Say(a.say(DEFAULT_LONG_WAIT_OFFER)),
            });
        }
        if let Some(cb) = &q.callback {
            prompts.push(match &cb.offer {
                Some(audio) => a.prompt(audio),
                None => Prompt::Say(a.say(&DEFAULT_CALLBACK_OFFER.replace("{key}", &cb.key))),
            });
        }
        prompts.extend(q.hold_prompts(a));
        if long_wait.is_some() || q.callback.is_some() {
            // The joining time rides along for the callback's place in line.
            let joined =
                (a.call.now.timestamp() - i64::from(wait.map_or(0, |w| w.queue_time))).to_string();
            let mut query = vec![("initiated_by_section", name)];
            if q.callback.is_some() {
                query.push(("joined", &joined));
            }
            r.push(Verb::Gather(Gather {
                num_digits: Some(1),
                action: Some(a.links.to(&Route::QueueWait, &query)),
                timeout: Some(OFFER_TIMEOUT),
                children: prompts,
            }));
        } else {
            for p in prompts {
                r.push(p.into());
            }
        }
        Reply::new(r, outcome)
    }

    /// The callback key, pressed in the wait: the caller's own number read
    /// back to confirm, or (withheld, or not one to call back) a request to type one.
    fn callback_start(&self, a: &Answer, name: &str) -> Reply {
        let called = a.param("To").filter(|t| is_e164(t));
        let Some(called) = called else {
            return self.callback_trouble(a, "the called number (To) is not E.164");
        };
        let joined = joined(a).timestamp().to_string();
        match a.param("From").filter(|f| phone::is_callable(f)) {
            Some(from) => self.callback_read_back(a, name, &joined, from, called, 0),
            None => self.callback_ask(a, name, &joined, None, 0),
        }
    }

    /// "We will call you back on 0 7 7 0 0 …": 1 confirms `number`, or another is typed.
    fn callback_read_back(
        &self,
        a: &Answer,
        name: &str,
        joined: &str,
        number: &str,
        called: &str,
        tries: u32,
    ) -> Reply {
        let text = format!(
            "{CALLBACK_READ_BACK} {}. {CALLBACK_CONFIRM}",
            phone::spoken(number, called)
        );
        Reply::single(
            callback_gather(
                a,
                name,
                joined,
                Some(number),
                tries,
                vec![Prompt::Say(a.say(&text))],
            ),
            format!("queue {}: callback to {number}?", self.queue),
        )
    }

    /// "Please type the number…", after `before` (an apology) if any.
    fn callback_ask(
        &self,
        a: &Answer,
        name: &str,
        joined: &str,
        before: Option<&str>,
        tries: u32,
    ) -> Reply {
        let mut children = Vec::new();
        if let Some(b) = before {
            children.push(Prompt::Say(a.say(b)));
        }
        children.push(Prompt::Say(a.say(CALLBACK_TYPE)));
        Reply::single(
            callback_gather(a, name, joined, None, tries, children),
            format!(
                "queue {}: callback number asked (try {})",
                self.queue,
                tries + 1
            ),
        )
    }

    /// The callback cannot be taken: say so; the wait music comes back (the
    /// document ends and Twilio asks the wait URL again).
    fn callback_trouble(&self, a: &Answer, why: &str) -> Reply {
        tracing::warn!(queue = %self.queue, why, "no callback");
        Reply::single(
            Verb::Say(a.say(CALLBACK_TROUBLE)),
            format!("queue {}: no callback ({why})", self.queue),
        )
    }

    /// `/ivr/queue/callback`: what the caller pressed after the read-back or
    /// the request to type a number.
    pub fn callback(&self, a: &Answer, name: &str) -> Reply {
        if self.callback.is_none() {
            return self.callback_trouble(a, "callbacks are not offered in this queue");
        }
        let Some(called) = a.param("To").filter(|t| is_e164(t)) else {
            return self.callback_trouble(a, "the called number (To) is not E.164");
        };
        let joined_at = joined(a);
        let joined = joined_at.timestamp().to_string();
        let tries = number(a.param("tries")).unwrap_or(0);
        let proposed = a.param("number").filter(|n| phone::is_callable(n));
        let digits = a.param("Digits").unwrap_or("");
        if digits == "1" {
            if let Some(to) = proposed {
                return self.callback_confirmed(a, to, called, joined_at);
            }
        }
        if digits.is_empty() {
            // Nothing typed: back to the wait music.
            return Reply::new(
                Response::new(),
                format!("queue {}: callback not asked for after all", self.queue),
            );
        }
        match phone::normalise(digits, called) {
            Ok(n) => self.callback_read_back(a, name, &joined, &n, called, tries),
            Err(why) => {
                tracing::info!(queue = %self.queue, %why, "callback number refused");
                if tries + 1 >= CALLBACK_TRIES {
                    Reply::single(
                        Verb::Say(a.say(CALLBACK_GIVE_UP)),
                        format!(
                            "queue {}: callback number refused ({why}), gave up",
                            self.queue
                        ),
                    )
                } else {
                    let mut r =
                        self.callback_ask(a, name, &joined, Some(CALLBACK_REFUSED), tries + 1);
                    r.outcome = format!("queue {}: callback number refused ({why})", self.queue);
                    r
                }
            }
        }
    }

    fn callback_confirmed(
        &self,
        a: &Answer,
        to: &str,
        called: &str,
        joined_at: DateTime<Utc>,
    ) -> Reply {
        let Some(call_sid) = a.param("CallSid").filter(|s| is_sid(s, "CA")) else {
            return self.callback_trouble(a, "no valid CallSid");
        };
        let mut r = Response::new();
        r.push(Verb::Say(a.say(CALLBACK_THANKS)));
        r.push(Verb::Hangup);
        let mut reply = Reply::new(
            r,
            format!("queue {}: callback to {to} asked for", self.queue),
        );
        reply.effects.push(Effect::CreateCallback(NewCallback {
            to: to.to_string(),
            from: called.to_string(),
            queue: self.queue.clone(),
            note: None,
            joined_at,
            call_sid: Some(call_sid.to_string()),
        }));
        let mut sorry = Response::new();
        sorry.push(Verb::Say(a.say(CALLBACK_TROUBLE)));
        reply.if_failed = Some(sorry);
        reply
    }

    /// `/ivr/queue/result`: the `<Enqueue>` action, once the caller is out of the queue.
    pub fn result(&self, a: &Answer, name: &str) -> Reply {
        let q = self;
        let result = a.param("QueueResult").unwrap_or("");
        let long_wait_or_hangup = |r: &mut Response| {
            match &q.long_wait {
                Some(lw) => r.push(Verb::Redirect {
                    url: a.action_url(&lw.action),
                }),
                None => r.push(Verb::Hangup),
            };
        };
        match result {
            "bridged" => {
                let mut reply = Reply::single(
                    Verb::Hangup,
                    format!("queue {}: conversation over", q.queue),
                );
                if let Some(body) = &q.after_call_sms {
                    match after_call_sms(a, body) {
                        Ok(effect) => reply.effects.push(effect),
                        Err(why) => {
                            tracing::warn!(section = %name, why, "no after-call SMS");
                            reply.outcome.push_str(&format!(" (no SMS: {why})"));
                        }
                    }
                }
                reply
            }
            "leave" => match &q.long_wait {
                Some(lw) => Reply::single(
                    Verb::Redirect {
                        url: a.action_url(&lw.action),
                    },
                    format!("queue {}: left for {}", q.queue, lw.action),
                ),
                None => a.recover("left a queue that has no long-wait action"),
            },
            // The caller is gone: nothing to say, nobody to text.
            "hangup" => Reply::single(
                Verb::Hangup,
                format!("queue {}: caller hung up while waiting", q.queue),
            ),
            // Someone else has the call (REST) or the bridge is being made: stay out of the way.
            "redirected" | "bridging-in-process" => {
                Reply::new(Response::new(), format!("queue {}: {result}", q.queue))
            }
            "queue-full" => {
                let mut r = Response::new();
                r.push(Verb::Say(a.say(QUEUE_FULL)));
                long_wait_or_hangup(&mut r);
                Reply::new(r, format!("queue {}: full", q.queue))
            }
            other => {
                tracing::warn!(queue_result = other, section = %name, "queue trouble");
                let mut r = Response::new();
                r.push(Verb::Say(a.say(QUEUE_TROUBLE)));
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
}

/// The thank-you text: from the number the caller called, to the caller, once per call.
fn after_call_sms(a: &Answer, body: &str) -> Result<Effect, &'static str> {
    let call_sid = a
        .param("CallSid")
        .filter(|s| is_sid(s, "CA"))
        .ok_or("no valid CallSid")?;
    let to = a
        .param("From")
        .filter(|p| is_e164(p))
        .ok_or("the caller's number is withheld or not E.164")?;
    let from = a
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

#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;
