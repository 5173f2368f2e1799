//! `type = forward`: `<Dial>` a number; when it does not connect, the
//! `DialCallStatus` picks the next action.
//!
//! | route | answers |
//! |---|---|
//! | `/ivr/action/NAME` | `<Dial action=…/call_status?initiated_by_section=NAME>` (recorded with `record = yes`) |
//! | `/ivr/callback/forward/call_status` | busy / no-answer / failed / canceled → `action_on_*`; anything else hangs up |

use super::{ActionType, Invoked};
use crate::answer::{Answer, Reply};
use crate::config::reader::{Ctx, Sec};
use crate::graph::{EdgeKind, Node};
use crate::recordings::job::RecordingPlan;
use crate::routes::Route;
use crate::twiml::{Dial, DialTarget, Recording, Response, Verb};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    pub phone_number: String,
    pub action_on_busy: String,
    pub action_on_no_answer: String,
    pub action_on_failed: String,
    pub action_on_canceled: String,
    pub timeout: Option<u32>,
    pub caller_id: Option<String>,
    pub record: bool,
    /// `None`: the `[aws]` default.
    pub keep_twilio_copy: Option<bool>,
}

impl ActionType for Forward {
    const TYPE: &'static str = "forward";

    fn parse(cx: &mut Ctx, sec: &Sec) -> Option<Self> {
        let required: Vec<bool> = [
            "phone_number",
            "action_on_busy",
            "action_on_no_answer",
            "action_on_failed",
            "action_on_canceled",
        ]
        .iter()
        .map(|k| sec.require(cx, k).is_some())
        .collect();
        let phone = sec.phone(cx, "phone_number");
        let busy = sec.action_ref(cx, "action_on_busy");
        let no_answer = sec.action_ref(cx, "action_on_no_answer");
        let failed = sec.action_ref(cx, "action_on_failed");
        let canceled = sec.action_ref(cx, "action_on_canceled");
        let timeout = sec.number(cx, "timeout", 5, 600);
        let caller_id = sec.phone(cx, "caller_id");
        let record = sec.boolean(cx, "record").unwrap_or(false);
        let keep_twilio_copy = sec.boolean(cx, "keep_twilio_copy");
        if !record {
            sec.pointless_without(cx, "keep_twilio_copy", "`record = yes`");
        }
        if required.contains(&false) {
            return None;
        }
        Some(Forward {
            phone_number: phone?,
            action_on_busy: busy?,
            action_on_no_answer: no_answer?,
            action_on_failed: failed?,
            action_on_canceled: canceled?,
            timeout,
            caller_id,
            record,
            keep_twilio_copy,
        })
    }

    fn answer(&self, a: &Answer, me: &Invoked, r: &mut Response) {
        r.push(Verb::Dial(Dial {
            action: Some(a.section_url(Route::ForwardStatus, me.name)),
            timeout: self.timeout,
            caller_id: self.caller_id.clone(),
            record: self.record.then_some(Recording::FromAnswerDual),
            recording_status_callback: self.record.then(|| a.recording_callback(me.name)),
            ..Dial::new(DialTarget::Number(self.phone_number.clone()))
        }));
    }

    fn edges(&self) -> Vec<(EdgeKind, Node)> {
        [
            (EdgeKind::DialBusy, &self.action_on_busy),
            (EdgeKind::DialNoAnswer, &self.action_on_no_answer),
            (EdgeKind::DialFailed, &self.action_on_failed),
            (EdgeKind::DialCanceled, &self.action_on_canceled),
        ]
        .into_iter()
        .map(|(k, to)| (k, Node::Action(to.clone())))
        .collect()
    }

    fn recording(&self) -> Option<RecordingPlan> {
        self.record
            .then(|| RecordingPlan::export_only(self.keep_twilio_copy))
    }

    fn summary(&self) -> Vec<String> {
        let mut s = format!("forward {}", self.phone_number);
        if self.record {
            s.push_str(" (recorded)");
        }
        vec![s]
    }

    fn ending(&self) -> Option<(&'static str, u32)> {
        Some(("completed", 110))
    }
}

impl Forward {
    /// `/ivr/callback/forward/call_status`: the `<Dial>` ended.
    pub fn status(&self, a: &Answer) -> Reply {
        let status = a.param("DialCallStatus");
        let next = match status {
            Some("busy") => &self.action_on_busy,
            Some("no-answer") => &self.action_on_no_answer,
            Some("failed") => &self.action_on_failed,
            Some("canceled") => &self.action_on_canceled,
            Some(status) => return Reply::single(Verb::Hangup, format!("dial {status}")),
            None => return Reply::single(Verb::Hangup, "dial status missing"),
        };
        Reply::single(
            Verb::Redirect {
                url: a.action_url(next),
            },
            format!("dial {} → {next}", status.unwrap_or_default()),
        )
    }
}
