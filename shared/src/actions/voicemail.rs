//! `type = voicemail`: a prompt, a second's pause, then `<Record>`; the
//! recording goes through the recordings pipeline, which alerts by SMS
//! and email.
//!
//! | route | answers |
//! |---|---|
//! | `/ivr/action/NAME` | prompt (default "Please leave a message after the tone."), `<Pause>`, `<Record>` |
//! | `/ivr/callback/voicemail/hangup` | the `<Record>` action: `hangup_sample`/`hangup_say`, then `<Hangup/>` |

use super::{ActionType, Invoked};
use crate::answer::{Answer, Reply};
use crate::config::reader::{Audio, Ctx, Sec};
use crate::ids::is_email;
use crate::recordings::job::RecordingPlan;
use crate::routes::Route;
use crate::twiml::{Record, Response, Verb};

pub const DEFAULT_VOICEMAIL: &str = "Please leave a message after the tone.";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Voicemail {
    pub hangup: Option<Audio>,
    pub alert_sms_from: Option<String>,
    pub alert_sms_to: Option<String>,
    pub alert_email_to: Vec<String>,
    pub alert_email_attach: bool,
    pub transcribe: bool,
    /// `None`: the `[aws]` default.
    pub keep_twilio_copy: Option<bool>,
    pub timeout: u32,
    pub max_length: u32,
}

impl ActionType for Voicemail {
    const TYPE: &'static str = "voicemail";

    fn parse(cx: &mut Ctx, sec: &Sec) -> Option<Self> {
        let alert_sms_from = sec.phone(cx, "voicemail_alert_sms_from");
        let alert_sms_to = sec.phone(cx, "voicemail_alert_sms_to");
        match (
            sec.value("voicemail_alert_sms_from"),
            sec.value("voicemail_alert_sms_to"),
        ) {
            (Some(_), None) => {
                sec.require(cx, "voicemail_alert_sms_to");
            }
            (None, Some(_)) => {
                sec.require(cx, "voicemail_alert_sms_from");
            }
            _ => {}
        }
        let alert_email_to: Vec<String> = match sec.value("voicemail_alert_email_to") {
            None => Vec::new(),
            Some(e) => {
                let list: Vec<String> = e.value.split(',').map(|a| a.trim().to_string()).collect();
                for a in list.iter().filter(|a| !is_email(a)) {
                    cx.err(
                        e.line,
                        sec.name(),
                        Some("voicemail_alert_email_to"),
                        format!("`{a}` is not an email address"),
                    );
                }
                list
            }
        };
        let alert_email_attach = sec
            .boolean(cx, "voicemail_alert_email_attach")
            .unwrap_or(false);
        if alert_email_attach && alert_email_to.is_empty() {
            cx.err(
                sec.line_of("voicemail_alert_email_attach"),
                sec.name(),
                Some("voicemail_alert_email_attach"),
                "has no effect without `voicemail_alert_email_to`",
            );
        }
        Some(Voicemail {
            hangup: sec.audio(cx, "hangup_sample", "hangup_say"),
            alert_sms_from,
            alert_sms_to,
            alert_email_to,
            alert_email_attach,
            transcribe: sec.boolean(cx, "transcribe").unwrap_or(false),
            keep_twilio_copy: sec.boolean(cx, "keep_twilio_copy"),
            timeout: sec.number(cx, "voicemail_timeout", 1, 60).unwrap_or(5),
            max_length: sec
                .number(cx, "voicemail_max_length", 1, 14400)
                .unwrap_or(300),
        })
    }

    fn answer(&self, a: &Answer, me: &Invoked, r: &mut Response) {
        if !me.prompted {
            r.push(Verb::Say(a.say(DEFAULT_VOICEMAIL)));
        }
        r.push(Verb::Pause { length: 1 });
        r.push(Verb::Record(Record {
            action: Some(a.section_url(Route::VoicemailHangup, me.name)),
            timeout: Some(self.timeout),
            max_length: Some(self.max_length),
            recording_status_callback: Some(a.recording_callback(me.name)),
            transcribe_callback: self
                .transcribe
                .then(|| a.section_url(Route::RecordingStatus, me.name)),
        }));
    }

    fn recording(&self) -> Option<RecordingPlan> {
        Some(RecordingPlan {
            sms: self.alert_sms_from.clone().zip(self.alert_sms_to.clone()),
            email_to: self.alert_email_to.clone(),
            attach: self.alert_email_attach,
            transcribe: self.transcribe,
            keep_twilio_copy: self.keep_twilio_copy,
        })
    }

    fn summary(&self) -> Vec<String> {
        let mut s = format!("voicemail, max {}s", self.max_length);
        if let Some(to) = &self.alert_sms_to {
            s.push_str(&format!(", SMS to {to}"));
        }
        vec![s]
    }

    fn ending(&self) -> Option<(&'static str, u32)> {
        Some(("after the message", 2))
    }
}

impl Voicemail {
    /// `/ivr/callback/voicemail/hangup`: the message is recorded; say goodbye.
    pub fn hangup(voicemail: Option<&Voicemail>, a: &Answer) -> Reply {
        let mut r = Response::new();
        match voicemail {
            Some(v) => {
                if let Some(audio) = &v.hangup {
                    r.push(a.verb(audio));
                }
            }
            None => tracing::warn!("voicemail hangup for a section that is not a voicemail action"),
        }
        r.push(Verb::Hangup);
        Reply::new(r, "voicemail recorded")
    }
}
