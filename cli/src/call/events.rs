//! What the caller experiences, one event per line: human-readable, or JSON
//! lines (`--json`) for scripts.

use std::io::Write;

use serde_json::{json, Map, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The call starts: Twilio's first request.
    Call {
        call_sid: String,
        from: String,
        to: String,
        method: String,
        url: String,
    },
    Say {
        text: String,
        voice: Option<String>,
        language: Option<String>,
        loops: u32,
        in_gather: bool,
    },
    Play {
        url: Option<String>,
        digits: Option<String>,
        loops: u32,
        in_gather: bool,
    },
    Pause {
        seconds: u32,
        in_gather: bool,
    },
    Gather {
        num_digits: Option<u32>,
        timeout: u32,
        /// `None`: the caller pressed nothing.
        pressed: Option<String>,
    },
    Redirect {
        method: String,
        url: String,
    },
    Dial {
        /// `+442079460000`, `queue support`, `conference Room`, `client alice`, `sip:…`.
        target: String,
        outcome: String,
        duration: u32,
    },
    Record {
        max_length: u32,
        timeout: u32,
        seconds: u32,
        recording_url: String,
    },
    /// A callback that does not steer the call (`recordingStatusCallback`).
    Callback {
        what: String,
        method: String,
        url: String,
    },
    /// An SMS: from `<Sms>`/`<Message>`, or an effect of the flow (in-process mode).
    Sms {
        from: Option<String>,
        to: Option<String>,
        body: String,
    },
    /// Something the IVR did off the call (a recording queued, media fetched).
    Effect {
        what: String,
    },
    Enqueue {
        queue: String,
    },
    /// The caller is out of the queue: `bridged` (an agent answered) or `leave`.
    Dequeue {
        queue: String,
        result: String,
    },
    Leave,
    /// What the dequeued caller hears before an agent is connected (`<Queue url>`).
    Announce {
        text: String,
    },
    Hangup,
    Reject {
        reason: String,
    },
    /// The caller hung up (`--press hangup`, or end of input on a terminal).
    CallerHangup,
    End {
        reason: String,
        requests: usize,
    },
    Error {
        message: String,
    },
}

impl Event {
    pub fn name(&self) -> &'static str {
        match self {
            Event::Call { .. } => "call",
            Event::Say { .. } => "say",
            Event::Play { .. } => "play",
            Event::Pause { .. } => "pause",
            Event::Gather { .. } => "gather",
            Event::Redirect { .. } => "redirect",
            Event::Dial { .. } => "dial",
            Event::Record { .. } => "record",
            Event::Callback { .. } => "callback",
            Event::Sms { .. } => "sms",
            Event::Effect { .. } => "effect",
            Event::Enqueue { .. } => "enqueue",
            Event::Dequeue { .. } => "dequeue",
            Event::Leave => "leave",
            Event::Announce { .. } => "announce",
            Event::Hangup => "hangup",
            Event::Reject { .. } => "reject",
            Event::CallerHangup => "caller_hangup",
            Event::End { .. } => "end",
            Event::Error { .. } => "error",
        }
    }

    /// One JSON object: `{"event": NAME, …fields}`; absent options are left out.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("event".into(), json!(self.name()));
        let mut put = |k: &str, v: Value| {
            if !v.is_null() {
                m.insert(k.into(), v);
            }
        };
        match self {
            Event::Call {
                call_sid,
                from,
                to,
                method,
                url,
            } => {
                put("call_sid", json!(call_sid));
                put("from", json!(from));
                put("to", json!(to));
                put("method", json!(method));
                put("url", json!(url));
            }
            Event::Say {
                text,
                voice,
                language,
                loops,
                in_gather,
            } => {
                put("text", json!(text));
                put("voice", json!(voice));
                put("language", json!(language));
                put("loop", json!(loops));
                put("in_gather", json!(in_gather));
            }
            Event::Play {
                url,
                digits,
                loops,
                in_gather,
            } => {
                put("url", json!(url));
                put("digits", json!(digits));
                put("loop", json!(loops));
                put("in_gather", json!(in_gather));
            }
            Event::Pause { seconds, in_gather } => {
                put("seconds", json!(seconds));
                put("in_gather", json!(in_gather));
            }
            Event::Gather {
                num_digits,
                timeout,
                pressed,
            } => {
                put("num_digits", json!(num_digits));
                put("timeout", json!(timeout));
                // null is meaningful here: nothing was pressed.
                m.insert("pressed".into(), json!(pressed));
            }
            Event::Redirect { method, url } => {
                put("method", json!(method));
                put("url", json!(url));
            }
            Event::Dial {
                target,
                outcome,
                duration,
            } => {
                put("target", json!(target));
                put("outcome", json!(outcome));
                put("duration", json!(duration));
            }
            Event::Record {
                max_length,
                timeout,
                seconds,
                recording_url,
            } => {
                put("max_length", json!(max_length));
                put("timeout", json!(timeout));
                put("seconds", json!(seconds));
                put("recording_url", json!(recording_url));
            }
            Event::Callback { what, method, url } => {
                put("what", json!(what));
                put("method", json!(method));
                put("url", json!(url));
            }
            Event::Sms { from, to, body } => {
                put("from", json!(from));
                put("to", json!(to));
                put("body", json!(body));
            }
            Event::Effect { what } => put("what", json!(what)),
            Event::Enqueue { queue } => put("queue", json!(queue)),
            Event::Dequeue { queue, result } => {
                put("queue", json!(queue));
                put("result", json!(result));
            }
            Event::Reject { reason } => put("reason", json!(reason)),
            Event::Announce { text } => put("text", json!(text)),
            Event::End { reason, requests } => {
                put("reason", json!(reason));
                put("requests", json!(requests));
            }
            Event::Error { message } => put("message", json!(message)),
            Event::Leave | Event::Hangup | Event::CallerHangup => {}
        }
        Value::Object(m)
    }

    /// The human-readable line.
    pub fn to_line(&self) -> String {
        let indent = |in_gather: bool| if in_gather { "  " } else { "" };
        let times = |loops: u32| match loops {
            1 => String::new(),
            0 => " (repeating)".to_string(),
            n => format!(" ×{n}"),
        };
        match self {
            Event::Call {
                call_sid,
                from,
                to,
                method,
                url,
            } => format!("call {call_sid} from {from} to {to}: {method} {url}"),
            Event::Say {
                text,
                voice,
                language,
                loops,
                in_gather,
            } => {
                let how: Vec<&str> = [voice.as_deref(), language.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect();
                let how = if how.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", how.join(", "))
                };
                format!("{}say{how}{}: {text}", indent(*in_gather), times(*loops))
            }
            Event::Play {
                url,
                digits,
                loops,
                in_gather,
            } => match (url, digits) {
                (_, Some(d)) => format!("{}play digits {d}", indent(*in_gather)),
                (Some(u), None) => format!("{}play {u}{}", indent(*in_gather), times(*loops)),
                (None, None) => format!("{}play", indent(*in_gather)),
            },
            Event::Pause { seconds, in_gather } => {
                format!("{}pause {seconds}s", indent(*in_gather))
            }
            Event::Gather {
                num_digits,
                pressed,
                ..
            } => {
                let what = match num_digits {
                    Some(1) => "gather 1 digit".to_string(),
                    Some(n) => format!("gather {n} digits"),
                    None => "gather".to_string(),
                };
                match pressed {
                    Some(p) => format!("{what} → pressed {p}"),
                    None => format!("{what} → no input"),
                }
            }
            Event::Redirect { method, url } => format!("redirect {method} {url}"),
            Event::Dial {
                target,
                outcome,
                duration,
            } => {
                if *duration > 0 {
                    format!("dial {target} → {outcome} ({duration}s)")
                } else {
                    format!("dial {target} → {outcome}")
                }
            }
            Event::Record {
                max_length,
                seconds,
                ..
            } => format!("record (max {max_length}s) → recorded {seconds}s"),
            Event::Callback { what, method, url } => format!("{what} → {method} {url}"),
            Event::Sms { from, to, body } => format!(
                "sms {} → {}: {body}",
                from.as_deref().unwrap_or("(call's number)"),
                to.as_deref().unwrap_or("(caller)")
            ),
            Event::Effect { what } => format!("ivr: {what}"),
            Event::Enqueue { queue } => format!("enqueue {queue}"),
            Event::Dequeue { queue, result } => format!("out of queue {queue} → {result}"),
            Event::Leave => "leave the queue".into(),
            Event::Announce { text } => format!("the caller hears: {text}"),
            Event::Hangup => "hangup".into(),
            Event::Reject { reason } => format!("reject ({reason})"),
            Event::CallerHangup => "caller hangs up".into(),
            Event::End { reason, requests } => {
                format!("call ended: {reason} ({requests} requests)")
            }
            Event::Error { message } => format!("error: {message}"),
        }
    }
}

/// Prints events as they happen, and keeps them.
pub struct Printer {
    pub json: bool,
    pub events: Vec<Event>,
}

impl Printer {
    pub fn new(json: bool) -> Self {
        Printer {
            json,
            events: Vec::new(),
        }
    }

    pub fn emit(&mut self, e: Event) {
        let line = if self.json {
            json_line(&e)
        } else {
            e.to_line()
        };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
        self.events.push(e);
    }
}

/// The JSON object on one line, `"event"` first so the lines read well.
pub fn json_line(e: &Event) -> String {
    let mut v = e.to_json();
    let Some(obj) = v.as_object_mut() else {
        return v.to_string();
    };
    let name = obj.remove("event").unwrap_or(Value::Null);
    let rest = v.to_string();
    match rest.strip_prefix('{') {
        Some("}") | None => format!("{{\"event\":{name}}}"),
        Some(tail) => format!("{{\"event\":{name},{tail}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_json() {
        let say = Event::Say {
            text: "For sales, press 1.".into(),
            voice: Some("Polly.Amy".into()),
            language: Some("en-GB".into()),
            loops: 1,
            in_gather: true,
        };
        assert_eq!(
            say.to_line(),
            "  say (Polly.Amy, en-GB): For sales, press 1."
        );
        assert_eq!(
            say.to_json(),
            json!({"event":"say","in_gather":true,"language":"en-GB","loop":1,"text":"For sales, press 1.","voice":"Polly.Amy"})
        );
        let g = Event::Gather {
            num_digits: Some(1),
            timeout: 5,
            pressed: None,
        };
        assert_eq!(g.to_line(), "gather 1 digit → no input");
        assert_eq!(g.to_json()["pressed"], Value::Null);
        assert!(
            json_line(&g).starts_with(r#"{"event":"gather","#),
            "{}",
            json_line(&g)
        );
        assert_eq!(json_line(&Event::Hangup), r#"{"event":"hangup"}"#);
        assert_eq!(
            Event::Dial {
                target: "+442079460000".into(),
                outcome: "busy".into(),
                duration: 0
            }
            .to_line(),
            "dial +442079460000 → busy"
        );
        assert_eq!(
            Event::Pause {
                seconds: 3,
                in_gather: false
            }
            .to_line(),
            "pause 3s"
        );
    }
}
