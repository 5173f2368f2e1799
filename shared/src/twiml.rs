//! TwiML as a small typed tree with exactly one writer.
//!
//! Attribute names are spelled the way Twilio spells them only in
//! [`Response::render`], and the types make invalid nesting unrepresentable:
//! a [`Gather`] can only hold `<Say>`, `<Play>` and `<Pause>`, and a [`Dial`]
//! holds either a number or one `<Queue>` noun. Everything written goes
//! through quick-xml, which escapes text and attributes.

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    pub verbs: Vec<Verb>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verb {
    Say(Say),
    Play(Play),
    Pause {
        length: u32,
    },
    Gather(Gather),
    Redirect {
        url: String,
    },
    Dial(Dial),
    Record(Record),
    /// Puts the caller in a queue (`<Enqueue>`).
    Enqueue(Enqueue),
    /// Takes the caller out of the queue; only valid in a queue's wait document.
    Leave,
    Hangup,
    Reject,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Say {
    pub text: String,
    pub voice: Option<String>,
    pub language: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Play {
    pub url: String,
}

/// What may be nested in a `<Gather>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    Say(Say),
    Play(Play),
    Pause { length: u32 },
}

/// Every prompt can stand on its own as a verb.
impl From<Prompt> for Verb {
    fn from(p: Prompt) -> Verb {
        match p {
            Prompt::Say(s) => Verb::Say(s),
            Prompt::Play(p) => Verb::Play(p),
            Prompt::Pause { length } => Verb::Pause { length },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Gather {
    pub num_digits: Option<u32>,
    pub action: Option<String>,
    pub timeout: Option<u32>,
    pub children: Vec<Prompt>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dial {
    pub target: DialTarget,
    pub action: Option<String>,
    pub timeout: Option<u32>,
    pub caller_id: Option<String>,
    pub record: Option<Recording>,
    pub recording_status_callback: Option<String>,
    /// `hangupOnStar="true"`: the caller may end the dialled leg with `*` and carry on.
    pub hangup_on_star: bool,
}

impl Dial {
    /// A dial of `target` with every option off.
    pub fn new(target: DialTarget) -> Self {
        Dial {
            target,
            action: None,
            timeout: None,
            caller_id: None,
            record: None,
            recording_status_callback: None,
            hangup_on_star: false,
        }
    }
}

/// What a `<Dial>` connects to: a phone number, or the first caller waiting in a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialTarget {
    /// Written as the `<Dial>`'s text.
    Number(String),
    Queue(QueueNoun),
}

/// `<Queue>`, the noun: the queue to take the next caller from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueNoun {
    pub name: String,
    /// TwiML played to the dequeued caller before the two are connected
    /// (only `<Say>`, `<Play>`, `<Pause>` and `<Redirect>` are allowed in it).
    pub url: Option<String>,
}

/// `<Dial record=…>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recording {
    /// `record-from-answer`: one channel.
    FromAnswer,
    /// `record-from-answer-dual`: each party on its own channel.
    FromAnswerDual,
}

impl Recording {
    fn attribute(self) -> &'static str {
        match self {
            Recording::FromAnswer => "record-from-answer",
            Recording::FromAnswerDual => "record-from-answer-dual",
        }
    }
}

/// `<Enqueue>`: the caller waits in `queue`, hearing the `wait_url` TwiML,
/// until an agent dials the queue or the caller leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enqueue {
    pub queue: String,
    /// Requested when the caller leaves the queue (`QueueResult`).
    pub action: Option<String>,
    /// Requested for the TwiML the caller hears while waiting (`QueuePosition`, `AvgQueueTime`, …).
    pub wait_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    pub action: Option<String>,
    pub timeout: Option<u32>,
    pub max_length: Option<u32>,
    pub recording_status_callback: Option<String>,
    /// `transcribe="true"` with this `transcribeCallback` when set.
    pub transcribe_callback: Option<String>,
}

impl Response {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, verb: Verb) -> &mut Self {
        self.verbs.push(verb);
        self
    }

    /// The XML document Twilio expects, with declaration.
    pub fn render(&self) -> String {
        let mut w = Writer::new(Vec::with_capacity(1024));
        // Writing into a Vec cannot fail; the results are ignored for that reason.
        let _ = w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
        if self.verbs.is_empty() {
            let _ = w.write_event(Event::Empty(BytesStart::new("Response")));
        } else {
            let _ = w.write_event(Event::Start(BytesStart::new("Response")));
            for verb in &self.verbs {
                write_verb(&mut w, verb);
            }
            let _ = w.write_event(Event::End(BytesEnd::new("Response")));
        }
        // quick-xml only emits the UTF-8 it was given.
        String::from_utf8(w.into_inner()).unwrap_or_default()
    }
}

type W = Writer<Vec<u8>>;

/// A character XML 1.0 cannot carry (so neither can TwiML): controls other
/// than tab, newline and carriage return, and U+FFFE / U+FFFF.
pub fn is_xml_illegal(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

/// Text as XML 1.0 can carry it: validation refuses the characters it
/// cannot, and should one arrive anyway it becomes U+FFFD rather than a
/// document Twilio cannot parse.
fn xml_safe(t: &str) -> std::borrow::Cow<'_, str> {
    if t.chars().any(is_xml_illegal) {
        t.chars()
            .map(|c| if is_xml_illegal(c) { '\u{fffd}' } else { c })
            .collect::<String>()
            .into()
    } else {
        t.into()
    }
}

fn element(w: &mut W, name: &str, attrs: &[(&str, Option<&str>)], text: Option<&str>) {
    let mut start = BytesStart::new(name);
    for (k, v) in attrs {
        if let Some(v) = v {
            start.push_attribute((*k, *v));
        }
    }
    match text {
        Some(t) => {
            let _ = w.write_event(Event::Start(start));
            let _ = w.write_event(Event::Text(BytesText::new(&xml_safe(t))));
            let _ = w.write_event(Event::End(BytesEnd::new(name)));
        }
        None => {
            let _ = w.write_event(Event::Empty(start));
        }
    }
}

fn num(n: Option<u32>) -> Option<String> {
    n.map(|n| n.to_string())
}

fn write_say(w: &mut W, s: &Say) {
    element(
        w,
        "Say",
        &[
            ("voice", s.voice.as_deref()),
            ("language", s.language.as_deref()),
        ],
        Some(&s.text),
    );
}

fn write_play(w: &mut W, p: &Play) {
    element(w, "Play", &[], Some(&p.url));
}

fn write_pause(w: &mut W, length: u32) {
    element(w, "Pause", &[("length", Some(&length.to_string()))], None);
}

fn write_verb(w: &mut W, verb: &Verb) {
    match verb {
        Verb::Say(s) => write_say(w, s),
        Verb::Play(p) => write_play(w, p),
        Verb::Pause { length } => write_pause(w, *length),
        Verb::Redirect { url } => element(w, "Redirect", &[("method", Some("POST"))], Some(url)),
        Verb::Hangup => element(w, "Hangup", &[], None),
        Verb::Reject => element(w, "Reject", &[], None),
        Verb::Gather(g) => {
            let nd = num(g.num_digits);
            let to = num(g.timeout);
            let mut start = BytesStart::new("Gather");
            for (k, v) in [
                ("numDigits", nd.as_deref()),
                ("action", g.action.as_deref()),
                ("method", g.action.as_ref().map(|_| "POST")),
                ("timeout", to.as_deref()),
            ] {
                if let Some(v) = v {
                    start.push_attribute((k, v));
                }
            }
            if g.children.is_empty() {
                let _ = w.write_event(Event::Empty(start));
                return;
            }
            let _ = w.write_event(Event::Start(start));
            for c in &g.children {
                match c {
                    Prompt::Say(s) => write_say(w, s),
                    Prompt::Play(p) => write_play(w, p),
                    Prompt::Pause { length } => write_pause(w, *length),
                }
            }
            let _ = w.write_event(Event::End(BytesEnd::new("Gather")));
        }
        Verb::Dial(d) => {
            let to = num(d.timeout);
            let mut start = BytesStart::new("Dial");
            for (k, v) in [
                ("action", d.action.as_deref()),
                ("method", d.action.as_ref().map(|_| "POST")),
                ("timeout", to.as_deref()),
                ("callerId", d.caller_id.as_deref()),
                ("hangupOnStar", d.hangup_on_star.then_some("true")),
                ("record", d.record.map(Recording::attribute)),
                (
                    "recordingStatusCallback",
                    d.recording_status_callback.as_deref(),
                ),
                (
                    "recordingStatusCallbackMethod",
                    d.recording_status_callback.as_ref().map(|_| "POST"),
                ),
            ] {
                if let Some(v) = v {
                    start.push_attribute((k, v));
                }
            }
            let _ = w.write_event(Event::Start(start));
            match &d.target {
                DialTarget::Number(n) => {
                    let _ = w.write_event(Event::Text(BytesText::new(n)));
                }
                DialTarget::Queue(q) => element(
                    w,
                    "Queue",
                    &[
                        ("url", q.url.as_deref()),
                        ("method", q.url.as_ref().map(|_| "POST")),
                    ],
                    Some(&q.name),
                ),
            }
            let _ = w.write_event(Event::End(BytesEnd::new("Dial")));
        }
        Verb::Enqueue(e) => element(
            w,
            "Enqueue",
            &[
                ("action", e.action.as_deref()),
                ("method", e.action.as_ref().map(|_| "POST")),
                ("waitUrl", e.wait_url.as_deref()),
                ("waitUrlMethod", e.wait_url.as_ref().map(|_| "POST")),
            ],
            Some(&e.queue),
        ),
        Verb::Leave => element(w, "Leave", &[], None),
        Verb::Record(r) => {
            let to = num(r.timeout);
            let ml = num(r.max_length);
            element(
                w,
                "Record",
                &[
                    ("action", r.action.as_deref()),
                    ("method", r.action.as_ref().map(|_| "POST")),
                    ("timeout", to.as_deref()),
                    ("maxLength", ml.as_deref()),
                    (
                        "recordingStatusCallback",
                        r.recording_status_callback.as_deref(),
                    ),
                    (
                        "recordingStatusCallbackMethod",
                        r.recording_status_callback.as_ref().map(|_| "POST"),
                    ),
                    ("transcribe", r.transcribe_callback.as_ref().map(|_| "true")),
                    ("transcribeCallback", r.transcribe_callback.as_deref()),
                ],
                None,
            );
        }
    }
}

/// A parsed TwiML element, for tests that compare trees rather than strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Node>,
}

impl Node {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses a TwiML document into a [`Node`] tree (root = `<Response>`).
pub fn parse(xml: &str) -> Result<Node, String> {
    use quick_xml::events::Event as E;
    use quick_xml::Reader;
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    let start_node = |e: &BytesStart| -> Result<Node, String> {
        let mut attrs = Vec::new();
        for a in e.attributes() {
            let a = a.map_err(|e| e.to_string())?;
            let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
            let value = a.unescape_value().map_err(|e| e.to_string())?.into_owned();
            attrs.push((key, value));
        }
        Ok(Node {
            name: String::from_utf8_lossy(e.name().as_ref()).into_owned(),
            attrs,
            text: String::new(),
            children: Vec::new(),
        })
    };
    loop {
        match reader
            .read_event()
            .map_err(|e| format!("not well-formed: {e}"))?
        {
            E::Start(e) => stack.push(start_node(&e)?),
            E::Empty(e) => {
                let node = start_node(&e)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            E::Text(t) => {
                let text = t.unescape().map_err(|e| e.to_string())?;
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(text.trim());
                } else if !text.trim().is_empty() {
                    return Err("text outside the root element".into());
                }
            }
            E::End(_) => {
                let node = stack.pop().ok_or("unbalanced end tag")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            E::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err("not well-formed: unclosed element".into());
    }
    root.ok_or_else(|| "no root element".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_response() {
        assert_eq!(
            Response::new().render(),
            r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#
        );
    }

    #[test]
    fn escapes_text_and_attributes() {
        let mut r = Response::new();
        r.push(Verb::Say(Say {
            text: "Fish & <chips> \"now\"".into(),
            voice: Some("Polly.Amy".into()),
            language: Some("en-GB".into()),
        }));
        r.push(Verb::Redirect {
            url: "https://h/ivr/menu?a=1&b=<2>".into(),
        });
        let xml = r.render();
        assert!(xml.contains("Fish &amp; &lt;chips&gt;"), "{xml}");
        let tree = parse(&xml).unwrap();
        assert_eq!(tree.children[0].text, "Fish & <chips> \"now\"");
        assert_eq!(tree.children[0].attr("voice"), Some("Polly.Amy"));
        assert_eq!(tree.children[1].text, "https://h/ivr/menu?a=1&b=<2>");
    }

    #[test]
    fn gather_nests_prompts_with_twilio_attribute_names() {
        let mut r = Response::new();
        r.push(Verb::Gather(Gather {
            num_digits: Some(1),
            action: Some("https://h/ivr/menu".into()),
            timeout: None,
            children: vec![
                Prompt::Play(Play {
                    url: "https://h/m.mp3".into(),
                }),
                Prompt::Pause { length: 3 },
            ],
        }));
        let tree = parse(&r.render()).unwrap();
        let g = &tree.children[0];
        assert_eq!(g.name, "Gather");
        assert_eq!(g.attr("numDigits"), Some("1"));
        assert_eq!(g.attr("method"), Some("POST"));
        assert_eq!(g.children[0].name, "Play");
        assert_eq!(g.children[1].attr("length"), Some("3"));
    }

    #[test]
    fn dial_and_record_attributes() {
        let mut r = Response::new();
        r.push(Verb::Dial(Dial {
            action: Some("https://h/cb".into()),
            timeout: Some(20),
            caller_id: Some("+447700900000".into()),
            record: Some(Recording::FromAnswerDual),
            recording_status_callback: Some("https://h/rec".into()),
            ..Dial::new(DialTarget::Number("+442079460000".into()))
        }));
        r.push(Verb::Record(Record {
            action: Some("https://h/vm".into()),
            timeout: Some(5),
            max_length: Some(300),
            recording_status_callback: Some("https://h/rs".into()),
            transcribe_callback: None,
        }));
        let tree = parse(&r.render()).unwrap();
        let d = &tree.children[0];
        assert_eq!(d.text, "+442079460000");
        assert_eq!(d.attr("callerId"), Some("+447700900000"));
        assert_eq!(d.attr("record"), Some("record-from-answer-dual"));
        assert_eq!(d.attr("recordingStatusCallbackMethod"), Some("POST"));
        assert_eq!(d.attr("hangupOnStar"), None);
        assert!(d.children.is_empty());
        let rec = &tree.children[1];
        assert_eq!(rec.attr("maxLength"), Some("300"));
        assert_eq!(rec.attr("timeout"), Some("5"));
        assert_eq!(rec.attr("recordingStatusCallback"), Some("https://h/rs"));
    }

    #[test]
    fn queues_enqueue_leave_and_a_dial_of_a_queue() {
        let mut r = Response::new();
        r.push(Verb::Enqueue(Enqueue {
            queue: "radio & friends".into(),
            action: Some("https://h/ivr/queue/result?initiated_by_section=a&b".into()),
            wait_url: Some("https://h/ivr/queue/wait".into()),
        }));
        r.push(Verb::Leave);
        r.push(Verb::Dial(Dial {
            action: Some("https://h/ivr/agent/dj/next".into()),
            hangup_on_star: true,
            record: Some(Recording::FromAnswer),
            ..Dial::new(DialTarget::Queue(QueueNoun {
                name: "radio".into(),
                url: Some("https://h/ivr/agent/dj/announce".into()),
            }))
        }));
        r.push(Verb::Dial(Dial::new(DialTarget::Queue(QueueNoun {
            name: "plain".into(),
            url: None,
        }))));
        let xml = r.render();
        assert!(xml.contains("radio &amp; friends"), "{xml}");
        let tree = parse(&xml).unwrap();
        let e = &tree.children[0];
        assert_eq!(e.name, "Enqueue");
        assert_eq!(e.text, "radio & friends");
        assert_eq!(
            e.attr("action"),
            Some("https://h/ivr/queue/result?initiated_by_section=a&b")
        );
        assert_eq!(e.attr("method"), Some("POST"));
        assert_eq!(e.attr("waitUrl"), Some("https://h/ivr/queue/wait"));
        assert_eq!(e.attr("waitUrlMethod"), Some("POST"));
        assert_eq!(tree.children[1].name, "Leave");
        assert!(tree.children[1].attrs.is_empty() && tree.children[1].text.is_empty());
        let d = &tree.children[2];
        assert_eq!(d.text, "", "a queue dial has no number");
        assert_eq!(d.attr("hangupOnStar"), Some("true"));
        assert_eq!(d.attr("record"), Some("record-from-answer"));
        assert_eq!(d.children.len(), 1);
        let q = &d.children[0];
        assert_eq!(q.name, "Queue");
        assert_eq!(q.text, "radio");
        assert_eq!(q.attr("url"), Some("https://h/ivr/agent/dj/announce"));
        assert_eq!(q.attr("method"), Some("POST"));
        let plain = &tree.children[3].children[0];
        assert!(plain.attrs.is_empty(), "{:?}", plain.attrs);
        assert!(tree.children[3].attrs.is_empty());
    }

    #[test]
    fn parse_rejects_malformed() {
        assert!(parse("<Response><Say>hi</Response>").is_err());
        assert!(parse("").is_err());
    }
}
