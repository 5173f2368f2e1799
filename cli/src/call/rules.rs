//! What Twilio would reject: a table of the voice verbs and nouns, their
//! attributes, and what may be nested where. `ivr call` checks every TwiML
//! document against it before interpreting it, so a flow that would make
//! Twilio say "an application error has occurred" fails here first.

use shared::twiml::Node;

/// Where a document was fetched from: the call itself, a queue's `waitUrl`,
/// or a `<Queue url>` (played to the dequeued caller before the bridge).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Call,
    QueueWait,
    QueueAnnounce,
}

/// Whether an element carries text (a URL, a number, words to say).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Text {
    Required,
    Optional,
    Forbidden,
}

struct Spec {
    name: &'static str,
    attrs: &'static [&'static str],
    children: &'static [&'static str],
    text: Text,
}

const SSML: &[&str] = &[
    "break",
    "emphasis",
    "lang",
    "p",
    "phoneme",
    "prosody",
    "s",
    "say-as",
    "sub",
    "w",
    "amazon:domain",
    "amazon:effect",
];

/// The verbs `ivr call` interprets, with Twilio's attribute names.
const VERBS: &[Spec] = &[
    Spec {
        name: "Say",
        attrs: &["voice", "language", "loop"],
        children: SSML,
        text: Text::Optional,
    },
    Spec {
        name: "Play",
        attrs: &["loop", "digits"],
        children: &[],
        text: Text::Optional,
    },
    Spec {
        name: "Pause",
        attrs: &["length"],
        children: &[],
        text: Text::Forbidden,
    },
    Spec {
        name: "Gather",
        attrs: &[
            "input",
            "action",
            "method",
            "timeout",
            "speechTimeout",
            "maxSpeechTime",
            "profanityFilter",
            "finishOnKey",
            "numDigits",
            "partialResultCallback",
            "partialResultCallbackMethod",
            "language",
            "hints",
            "bargeIn",
            "debug",
            "actionOnEmptyResult",
            "speechModel",
            "enhanced",
        ],
        children: &["Say", "Play", "Pause"],
        text: Text::Forbidden,
    },
    Spec {
        name: "Redirect",
        attrs: &["method"],
        children: &[],
        text: Text::Required,
    },
    Spec {
        name: "Dial",
        attrs: &[
            "action",
            "method",
            "timeout",
            "hangupOnStar",
            "timeLimit",
            "callerId",
            "record",
            "trim",
            "recordingStatusCallback",
            "recordingStatusCallbackMethod",
            "recordingStatusCallbackEvent",
            "answerOnBridge",
            "ringTone",
            "recordingTrack",
            "sequential",
            "referUrl",
            "referMethod",
        ],
        children: &["Number", "Client", "Conference", "Queue", "Sip"],
        text: Text::Optional,
    },
    Spec {
        name: "Record",
        attrs: &[
            "action",
            "method",
            "timeout",
            "finishOnKey",
            "maxLength",
            "playBeep",
            "trim",
            "recordingStatusCallback",
            "recordingStatusCallbackMethod",
            "recordingStatusCallbackEvent",
            "transcribe",
            "transcribeCallback",
        ],
        children: &[],
        text: Text::Forbidden,
    },
    Spec {
        name: "Hangup",
        attrs: &[],
        children: &[],
        text: Text::Forbidden,
    },
    Spec {
        name: "Reject",
        attrs: &["reason"],
        children: &[],
        text: Text::Forbidden,
    },
    Spec {
        name: "Enqueue",
        attrs: &[
            "action",
            "maxQueueSize",
            "method",
            "waitUrl",
            "waitUrlMethod",
            "workflowSid",
        ],
        children: &["Task"],
        text: Text::Optional,
    },
    Spec {
        name: "Leave",
        attrs: &[],
        children: &[],
        text: Text::Forbidden,
    },
    Spec {
        name: "Sms",
        attrs: &["to", "from", "action", "method", "statusCallback"],
        children: &[],
        text: Text::Required,
    },
    Spec {
        name: "Message",
        attrs: &["to", "from", "action", "method", "statusCallback"],
        children: &[],
        text: Text::Required,
    },
];

/// Nouns: what may be nested in `<Dial>` and `<Enqueue>`.
const NOUNS: &[Spec] = &[
    Spec {
        name: "Number",
        attrs: &[
            "sendDigits",
            "url",
            "method",
            "statusCallbackEvent",
            "statusCallback",
            "statusCallbackMethod",
            "byoc",
            "machineDetection",
            "amdStatusCallbackMethod",
            "amdStatusCallback",
            "machineDetectionTimeout",
            "machineDetectionSpeechThreshold",
            "machineDetectionSpeechEndThreshold",
            "machineDetectionSilenceTimeout",
        ],
        children: &[],
        text: Text::Required,
    },
    Spec {
        name: "Client",
        attrs: &[
            "url",
            "method",
            "statusCallbackEvent",
            "statusCallback",
            "statusCallbackMethod",
        ],
        children: &["Identity", "Parameter"],
        text: Text::Optional,
    },
    Spec {
        name: "Conference",
        attrs: &[
            "muted",
            "beep",
            "startConferenceOnEnter",
            "endConferenceOnExit",
            "waitUrl",
            "waitMethod",
            "maxParticipants",
            "record",
            "region",
            "coach",
            "trim",
            "statusCallbackEvent",
            "statusCallback",
            "statusCallbackMethod",
            "recordingStatusCallback",
            "recordingStatusCallbackMethod",
            "recordingStatusCallbackEvent",
            "eventCallbackUrl",
            "jitterBufferSize",
            "participantLabel",
        ],
        children: &[],
        text: Text::Required,
    },
    Spec {
        name: "Queue",
        attrs: &["url", "method", "reservationSid", "postWorkActivitySid"],
        children: &[],
        text: Text::Required,
    },
    Spec {
        name: "Sip",
        attrs: &[
            "username",
            "password",
            "url",
            "method",
            "statusCallbackEvent",
            "statusCallback",
            "statusCallbackMethod",
            "machineDetection",
            "amdStatusCallbackMethod",
            "amdStatusCallback",
            "machineDetectionTimeout",
            "machineDetectionSpeechThreshold",
            "machineDetectionSpeechEndThreshold",
            "machineDetectionSilenceTimeout",
        ],
        children: &[],
        text: Text::Required,
    },
    Spec {
        name: "Identity",
        attrs: &[],
        children: &[],
        text: Text::Required,
    },
    Spec {
        name: "Parameter",
        attrs: &["name", "value"],
        children: &[],
        text: Text::Forbidden,
    },
    Spec {
        name: "Task",
        attrs: &["priority", "timeout"],
        children: &[],
        text: Text::Required,
    },
];

/// Real Twilio verbs this simulator does not play.
const NOT_SIMULATED: &[&str] = &[
    "Connect",
    "Echo",
    "Pay",
    "Prompt",
    "Refer",
    "Start",
    "Stop",
    "Stream",
    "Siprec",
    "Transcription",
];

/// Verbs allowed in a queue's `waitUrl` document.
const WAIT_VERBS: &[&str] = &[
    "Play", "Say", "Pause", "Hangup", "Redirect", "Leave", "Gather",
];

/// Verbs allowed in a `<Queue url>` document.
const ANNOUNCE_VERBS: &[&str] = &["Play", "Say", "Pause", "Redirect"];

fn spec(table: &'static [Spec], name: &str) -> Option<&'static Spec> {
    table.iter().find(|s| s.name == name)
}

/// Checks a parsed document; the error says what Twilio would reject.
pub fn validate(root: &Node, ctx: Context) -> Result<(), String> {
    if root.name != "Response" {
        return Err(format!(
            "the root element is <{}>, not <Response>",
            root.name
        ));
    }
    if let Some((k, _)) = root.attrs.first() {
        return Err(format!("unknown attribute `{k}` on <Response>"));
    }
    if !root.text.is_empty() {
        return Err(format!("text directly inside <Response>: `{}`", root.text));
    }
    for verb in &root.children {
        if NOT_SIMULATED.contains(&verb.name.as_str()) {
            return Err(format!(
                "<{}> is a Twilio verb that `ivr call` does not simulate",
                verb.name
            ));
        }
        let Some(s) = spec(VERBS, &verb.name) else {
            return Err(if spec(NOUNS, &verb.name).is_some() {
                format!(
                    "invalid nesting: <{}> directly inside <Response> (it belongs inside <Dial>)",
                    verb.name
                )
            } else {
                format!("unknown verb <{}>", verb.name)
            });
        };
        if ctx == Context::QueueWait && !WAIT_VERBS.contains(&s.name) {
            return Err(format!(
                "<{}> is not allowed in a queue's waitUrl document (only {})",
                s.name,
                list(WAIT_VERBS)
            ));
        }
        if ctx == Context::QueueAnnounce && !ANNOUNCE_VERBS.contains(&s.name) {
            return Err(format!(
                "<{}> is not allowed in a <Queue url> document (only {})",
                s.name,
                list(ANNOUNCE_VERBS)
            ));
        }
        if ctx == Context::Call && s.name == "Leave" {
            return Err("<Leave> is only allowed in a queue's waitUrl document".into());
        }
        check_element(verb, s, "Response")?;
    }
    Ok(())
}

fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("<{n}>"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_element(el: &Node, s: &Spec, parent: &str) -> Result<(), String> {
    for (k, v) in &el.attrs {
        if !s.attrs.contains(&k.as_str()) {
            return Err(format!("unknown attribute `{k}` on <{}>", s.name));
        }
        check_value(s.name, k, v)?;
    }
    match s.text {
        Text::Forbidden if !el.text.is_empty() => {
            return Err(format!(
                "unexpected text inside <{}>: `{}`",
                s.name, el.text
            ));
        }
        Text::Required if el.text.is_empty() => {
            return Err(format!("<{}> inside <{parent}> is empty", s.name));
        }
        _ => {}
    }
    if s.name == "Say" {
        // SSML elements carry their own words; they are checked by name only.
        for c in &el.children {
            if !SSML.contains(&c.name.as_str()) {
                return Err(format!(
                    "invalid nesting: <{}> inside <Say> (only SSML such as <break>, <emphasis>, <prosody> may be)",
                    c.name
                ));
            }
        }
        if el.text.is_empty() && el.children.is_empty() {
            return Err("<Say> has nothing to say".into());
        }
        return Ok(());
    }
    for c in &el.children {
        if !s.children.contains(&c.name.as_str()) {
            let allowed = if s.children.is_empty() {
                "nothing may be nested in it".to_string()
            } else {
                format!("only {} may be nested in it", list(s.children))
            };
            return Err(format!(
                "invalid nesting: <{}> inside <{}> ({allowed})",
                c.name, s.name
            ));
        }
        let noun = spec(NOUNS, &c.name)
            .or_else(|| spec(VERBS, &c.name))
            .ok_or_else(|| format!("unknown element <{}>", c.name))?;
        check_element(c, noun, s.name)?;
    }
    match s.name {
        "Play" if el.text.is_empty() && el.attr("digits").is_none() => {
            Err("<Play> needs a URL (or a `digits` attribute)".into())
        }
        "Dial" => {
            if el.text.is_empty() && el.children.is_empty() {
                Err("<Dial> has nothing to dial".into())
            } else if !el.text.is_empty() && !el.children.is_empty() {
                Err(format!(
                    "<Dial> has both a number (`{}`) and nested nouns",
                    el.text
                ))
            } else if el.children.len() > 1
                && el
                    .children
                    .iter()
                    .any(|c| matches!(c.name.as_str(), "Conference" | "Queue"))
            {
                Err("<Dial> may hold only one <Conference> or <Queue>, and nothing else".into())
            } else {
                Ok(())
            }
        }
        "Enqueue" if el.text.is_empty() && el.attr("workflowSid").is_none() => {
            Err("<Enqueue> needs a queue name (or a `workflowSid`)".into())
        }
        _ => Ok(()),
    }
}

fn check_value(verb: &str, attr: &str, value: &str) -> Result<(), String> {
    let bad = |expected: &str| Err(format!("<{verb} {attr}=\"{value}\">: expected {expected}"));
    let uint = |min: u64| value.trim().parse::<u64>().is_ok_and(|n| n >= min);
    let boolean = || matches!(value, "true" | "false");
    let is_method = attr == "method" || attr.ends_with("Method");
    if is_method {
        return if value.eq_ignore_ascii_case("GET") || value.eq_ignore_ascii_case("POST") {
            Ok(())
        } else {
            bad("GET or POST")
        };
    }
    match (verb, attr) {
        (
            _,
            "action" | "waitUrl" | "recordingStatusCallback" | "transcribeCallback" | "url"
            | "statusCallback",
        )
            if value.trim().is_empty() =>
        {
            bad("a URL")
        }
        (_, "loop") if !uint(0) => bad("a whole number (0 = repeat until the call moves on)"),
        ("Pause", "length") if !uint(1) => bad("a whole number of seconds, 1 or more"),
        ("Gather", "numDigits") if !uint(1) => bad("a whole number, 1 or more"),
        ("Gather" | "Dial" | "Record", "timeout") if !uint(0) => bad("a whole number of seconds"),
        ("Record", "maxLength") | ("Dial", "timeLimit") if !uint(1) => {
            bad("a whole number of seconds")
        }
        ("Gather", "finishOnKey")
            if !(value.is_empty() || (value.len() == 1 && is_key(value))) =>
        {
            bad("one key (0-9, # or *) or nothing")
        }
        ("Record", "finishOnKey") if !value.chars().all(|c| is_key(&c.to_string())) => {
            bad("keys (0-9, # or *)")
        }
        ("Gather", "input")
            if value.is_empty()
                || !value
                    .split_whitespace()
                    .all(|t| t == "dtmf" || t == "speech") =>
        {
            bad("dtmf, speech or `dtmf speech`")
        }
        (
            _,
            "actionOnEmptyResult" | "hangupOnStar" | "answerOnBridge" | "playBeep"
            | "transcribe" | "profanityFilter" | "bargeIn" | "debug" | "enhanced" | "sequential",
        ) if !boolean() => bad("true or false"),
        ("Dial", "record")
            if !matches!(
                value,
                "do-not-record"
                    | "record-from-answer"
                    | "record-from-ringing"
                    | "record-from-answer-dual"
                    | "record-from-ringing-dual"
                    | "true"
                    | "false"
            ) =>
        {
            bad("do-not-record, record-from-answer, record-from-ringing, record-from-answer-dual or record-from-ringing-dual")
        }
        ("Dial" | "Record", "trim") if !matches!(value, "trim-silence" | "do-not-trim") => {
            bad("trim-silence or do-not-trim")
        }
        ("Reject", "reason") if !matches!(value, "rejected" | "busy") => bad("rejected or busy"),
        ("Play", "digits") if !value.chars().all(|c| is_key(&c.to_string()) || c == 'w') => {
            bad("keys (0-9, #, *) and `w` for a pause")
        }
        _ => Ok(()),
    }
}

fn is_key(s: &str) -> bool {
    s.len() == 1
        && s.chars()
            .all(|c| c.is_ascii_digit() || c == '#' || c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::twiml::parse;

    fn check(xml: &str) -> Result<(), String> {
        validate(&parse(xml).expect("well-formed"), Context::Call)
    }

    #[test]
    fn accepts_what_the_product_renders() {
        check(
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Gather numDigits="1" action="https://h/ivr/menu" method="POST"><Say voice="Polly.Amy" language="en-GB">Hi</Say><Pause length="3"/></Gather><Say>No input</Say><Redirect method="POST">https://h/ivr/menu?loop_count=1</Redirect></Response>"#,
        )
        .unwrap();
        check(r#"<Response><Dial action="/cb" method="POST" timeout="20" callerId="+442079460999" record="record-from-answer-dual" recordingStatusCallback="/rs" recordingStatusCallbackMethod="POST">+442079460000</Dial></Response>"#).unwrap();
        check(r#"<Response><Record action="/vm" method="POST" timeout="5" maxLength="300" recordingStatusCallback="/rs" recordingStatusCallbackMethod="POST"/><Hangup/></Response>"#).unwrap();
        check("<Response/>").unwrap();
        check(r#"<Response><Dial><Queue url="/about">support</Queue></Dial><Enqueue waitUrl="/wait">support</Enqueue><Sms to="+1" from="+2">hi</Sms></Response>"#).unwrap();
        check(r#"<Response><Say>Hello <break time="1s"/> there</Say></Response>"#).unwrap();
    }

    #[test]
    fn rejects_unknown_verbs() {
        let e = check("<Response><Speak>hi</Speak></Response>").unwrap_err();
        assert_eq!(e, "unknown verb <Speak>");
        let e = check("<Response><say>hi</say></Response>").unwrap_err();
        assert_eq!(e, "unknown verb <say>", "TwiML is case-sensitive");
        let e = check("<Response><Connect/></Response>").unwrap_err();
        assert!(e.contains("does not simulate"), "{e}");
        let e = check("<Response><Number>+1</Number></Response>").unwrap_err();
        assert!(e.contains("belongs inside <Dial>"), "{e}");
    }

    #[test]
    fn rejects_bad_nesting() {
        let e = check("<Response><Gather><Dial>+1</Dial></Gather></Response>").unwrap_err();
        assert_eq!(
            e,
            "invalid nesting: <Dial> inside <Gather> (only <Say>, <Play>, <Pause> may be nested in it)"
        );
        let e = check("<Response><Gather><Gather/></Gather></Response>").unwrap_err();
        assert!(
            e.starts_with("invalid nesting: <Gather> inside <Gather>"),
            "{e}"
        );
        let e = check("<Response><Gather><Redirect>/x</Redirect></Gather></Response>").unwrap_err();
        assert!(
            e.starts_with("invalid nesting: <Redirect> inside <Gather>"),
            "{e}"
        );
        let e = check("<Response><Say><Play>u</Play></Say></Response>").unwrap_err();
        assert!(e.starts_with("invalid nesting: <Play> inside <Say>"), "{e}");
        let e = check("<Response><Hangup><Say>x</Say></Hangup></Response>").unwrap_err();
        assert!(e.contains("nothing may be nested"), "{e}");
        let e = check("<Response><Leave/></Response>").unwrap_err();
        assert!(e.contains("waitUrl"), "{e}");
        let e = check("<Response><Dial>+1<Number>+2</Number></Dial></Response>").unwrap_err();
        assert!(e.contains("both"), "{e}");
        let e = validate(
            &parse("<Response><Dial>+1</Dial></Response>").unwrap(),
            Context::QueueWait,
        )
        .unwrap_err();
        assert!(e.contains("waitUrl"), "{e}");
        let announce = |xml: &str| validate(&parse(xml).unwrap(), Context::QueueAnnounce);
        announce("<Response><Say>This call is being recorded.</Say><Pause/></Response>").unwrap();
        let e = announce("<Response><Gather><Say>x</Say></Gather></Response>").unwrap_err();
        assert!(e.contains("<Queue url>"), "{e}");
        let e = announce("<Response><Leave/></Response>").unwrap_err();
        assert!(e.contains("<Queue url>"), "{e}");
        let e = check("<Gather/>").unwrap_err();
        assert!(e.contains("not <Response>"), "{e}");
    }

    #[test]
    fn rejects_unknown_attributes() {
        let e = check(r#"<Response><Say voice="alice" speed="2">hi</Say></Response>"#).unwrap_err();
        assert_eq!(e, "unknown attribute `speed` on <Say>");
        let e = check(r#"<Response><Gather num_digits="1"/></Response>"#).unwrap_err();
        assert_eq!(e, "unknown attribute `num_digits` on <Gather>");
        let e =
            check(r#"<Response><Dial><Number foo="1">+1</Number></Dial></Response>"#).unwrap_err();
        assert_eq!(e, "unknown attribute `foo` on <Number>");
        let e = check(r#"<Response version="2"/>"#).unwrap_err();
        assert!(e.contains("`version`"), "{e}");
    }

    #[test]
    fn rejects_bad_values_and_text() {
        let e = check(r#"<Response><Redirect method="PUT">/x</Redirect></Response>"#).unwrap_err();
        assert!(e.contains("GET or POST"), "{e}");
        let e = check(r#"<Response><Gather numDigits="0"/></Response>"#).unwrap_err();
        assert!(e.contains("numDigits"), "{e}");
        let e = check(r#"<Response><Pause length="two"/></Response>"#).unwrap_err();
        assert!(e.contains("length"), "{e}");
        let e = check(r#"<Response><Reject reason="nope"/></Response>"#).unwrap_err();
        assert!(e.contains("rejected or busy"), "{e}");
        let e = check("<Response><Redirect/></Response>").unwrap_err();
        assert!(e.contains("empty"), "{e}");
        let e = check("<Response><Say></Say></Response>").unwrap_err();
        assert!(e.contains("nothing to say"), "{e}");
        let e = check("<Response><Hangup>now</Hangup></Response>").unwrap_err();
        assert!(e.contains("unexpected text"), "{e}");
        let e = check("<Response>hello</Response>").unwrap_err();
        assert!(e.contains("text directly inside"), "{e}");
        let e = check(r#"<Response><Dial record="yes">+1</Dial></Response>"#).unwrap_err();
        assert!(e.contains("record-from-answer"), "{e}");
    }
}
