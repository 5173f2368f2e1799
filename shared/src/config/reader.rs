//! Reading one INI section into typed values, and the diagnostics that
//! reading produces.
//!
//! A [`Sec`] remembers every key it was asked for, present or not. Once a
//! section's parser has asked for everything it understands,
//! [`Sec::finish`] reports the entries nobody asked for as unknown keys,
//! with a "did you mean" drawn from the keys that were asked for. So the
//! list of a section's keys is its parser's code: there is no second list
//! to fall out of step with it.
//!
//! Every section parser (the fixed sections in `build`, each action type in
//! `crate::actions`) reads through this module; it depends only on the INI
//! reader and the identifier checks.

use std::cell::RefCell;
use std::collections::BTreeSet;

use crate::ids::{is_e164, is_http_url};
use crate::ini::{Entry, Section};
use crate::twiml::is_xml_illegal;

/// Something a caller hears: a recording or text-to-speech.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audio {
    Play(String),
    Say(String),
}

impl Audio {
    /// One short line for diagrams: `say “…”` or `play FILE`.
    pub fn describe(&self) -> String {
        match self {
            Audio::Say(text) => format!("say “{}”", shorten(text, 40)),
            Audio::Play(url) => {
                let file = url
                    .split(['?', '#'])
                    .next()
                    .unwrap_or(url)
                    .rsplit('/')
                    .find(|s| !s.is_empty())
                    .unwrap_or(url);
                format!("play {file}")
            }
        }
    }
}

/// At most `max` characters, cut at a word where possible.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    let cut = match cut.rfind(' ') {
        Some(i) if i > max / 2 => &cut[..i],
        _ => &cut[..],
    };
    format!("{}…", cut.trim_end_matches([',', '.', ';', ':', ' ']))
}

/// `hours` + `hours_action_on_closed`: checked before anything else in a section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoursGate {
    pub hours: String,
    pub action_on_closed: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem, located as precisely as the file allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// 1-based; 0 when the problem is about the file as a whole.
    pub line: usize,
    pub section: Option<String>,
    pub key: Option<String>,
    pub message: String,
}

impl Diagnostic {
    pub fn error(
        line: usize,
        section: Option<&str>,
        key: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            severity: Severity::Error,
            line,
            section: section.map(str::to_string),
            key: key.map(str::to_string),
            message: message.into(),
        }
    }

    pub fn warning(
        line: usize,
        section: Option<&str>,
        key: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(line, section, key, message)
        }
    }

    /// `PATH:LINE: [section] key: message`, as `ivr check` prints it.
    pub fn render(&self, path: &str) -> String {
        let mut out = format!("{path}:{}: ", self.line);
        if self.severity == Severity::Warning {
            out.push_str("warning: ");
        }
        if let Some(s) = &self.section {
            out.push_str(&format!("[{s}] "));
        }
        if let Some(k) = &self.key {
            out.push_str(&format!("{k}: "));
        }
        out.push_str(&self.message);
        out
    }
}

/// What the flow can name, known before any section is built so that
/// references can be checked in one pass.
#[derive(Debug, Default)]
pub(crate) struct Names {
    pub(crate) actions: BTreeSet<String>,
    pub(crate) hours: BTreeSet<String>,
    pub(crate) menus: BTreeSet<String>,
    /// The longest text `<Say>` speaks in the `[ivr]` voice.
    pub(crate) say_limit: usize,
}

/// Twilio speaks at most this many characters in one `<Say>` with a Polly
/// or Google voice, and [`BASIC_SAY_LIMIT`] with its basic ones.
pub const NEURAL_SAY_LIMIT: usize = 3000;
pub const BASIC_SAY_LIMIT: usize = 4096;

/// The `<Say>` limit for a voice name (`None`: Twilio's default, a basic voice).
pub fn say_limit(voice: Option<&str>) -> usize {
    match voice {
        Some(v) if v.starts_with("Polly.") || v.starts_with("Google.") => NEURAL_SAY_LIMIT,
        _ => BASIC_SAY_LIMIT,
    }
}

/// The diagnostics collected so far, and the names references may use.
pub(crate) struct Ctx {
    pub(crate) diags: Vec<Diagnostic>,
    pub(crate) names: Names,
}

impl Ctx {
    pub(crate) fn new(names: Names) -> Self {
        Ctx {
            diags: Vec::new(),
            names,
        }
    }

    pub(crate) fn err(
        &mut self,
        line: usize,
        section: &str,
        key: Option<&str>,
        msg: impl Into<String>,
    ) {
        self.diags
            .push(Diagnostic::error(line, Some(section), key, msg));
    }

    pub(crate) fn warn(
        &mut self,
        line: usize,
        section: &str,
        key: Option<&str>,
        msg: impl Into<String>,
    ) {
        self.diags
            .push(Diagnostic::warning(line, Some(section), key, msg));
    }
}

/// Accessors for one section that report in its name and remember what they read.
pub(crate) struct Sec<'a> {
    s: &'a Section,
    asked: RefCell<Vec<String>>,
}

impl<'a> Sec<'a> {
    pub(crate) fn new(s: &'a Section) -> Self {
        Sec {
            s,
            asked: RefCell::new(Vec::new()),
        }
    }

    pub(crate) fn name(&self) -> &'a str {
        &self.s.name
    }

    /// The line of the section header.
    pub(crate) fn line(&self) -> usize {
        self.s.line
    }

    /// The line of `key` if present, else the section's.
    pub(crate) fn line_of(&self, key: &str) -> usize {
        self.entry(key).map_or(self.s.line, |e| e.line)
    }

    pub(crate) fn entry(&self, key: &str) -> Option<&'a Entry> {
        let mut asked = self.asked.borrow_mut();
        if !asked.iter().any(|k| k == key) {
            asked.push(key.to_string());
        }
        self.s.get(key)
    }

    /// A present, non-empty value.
    pub(crate) fn value(&self, key: &str) -> Option<&'a Entry> {
        self.entry(key).filter(|e| !e.value.trim().is_empty())
    }

    /// Reports every entry no parser asked for; `what` names the section's kind.
    pub(crate) fn finish(self, cx: &mut Ctx, what: &str) {
        let asked = self.asked.into_inner();
        for e in &self.s.entries {
            if !asked.contains(&e.key) {
                let hint = hint(&e.key, asked.iter().map(String::as_str));
                cx.err(
                    e.line,
                    &self.s.name,
                    Some(&e.key),
                    format!("unknown key for {what}{hint}"),
                );
            }
        }
    }

    pub(crate) fn require(&self, cx: &mut Ctx, key: &str) -> Option<&'a Entry> {
        match self.value(key) {
            Some(e) => Some(e),
            None => {
                cx.err(self.line_of(key), self.name(), Some(key), "is required");
                None
            }
        }
    }

    /// Reports `key` as having no effect when it is set (and `needed` is false).
    pub(crate) fn pointless_without(&self, cx: &mut Ctx, key: &str, needed: &str) {
        if let Some(e) = self.value(key) {
            cx.err(
                e.line,
                self.name(),
                Some(key),
                format!("has no effect without {needed}"),
            );
        }
    }

    pub(crate) fn number(&self, cx: &mut Ctx, key: &str, min: u32, max: u32) -> Option<u32> {
        let e = self.value(key)?;
        match e.value.trim().parse::<u32>() {
            Ok(n) if (min..=max).contains(&n) => Some(n),
            Ok(n) => {
                cx.err(
                    e.line,
                    self.name(),
                    Some(key),
                    format!("{n} is out of range ({min}-{max})"),
                );
                None
            }
            Err(_) => {
                cx.err(
                    e.line,
                    self.name(),
                    Some(key),
                    format!("`{}` is not a whole number ({min}-{max})", e.value.trim()),
                );
                None
            }
        }
    }

    pub(crate) fn boolean(&self, cx: &mut Ctx, key: &str) -> Option<bool> {
        let e = self.value(key)?;
        match e.value.trim().to_ascii_lowercase().as_str() {
            "1" | "yes" | "true" | "on" => Some(true),
            "0" | "no" | "false" | "off" => Some(false),
            other => {
                cx.err(
                    e.line,
                    self.name(),
                    Some(key),
                    format!("`{other}` is not yes/no"),
                );
                None
            }
        }
    }

    pub(crate) fn url(&self, cx: &mut Ctx, key: &str) -> Option<String> {
        self.checked(cx, key, is_http_url, "is not an http(s) URL")
    }

    pub(crate) fn phone(&self, cx: &mut Ctx, key: &str) -> Option<String> {
        self.checked(
            cx,
            key,
            is_e164,
            "is not an E.164 phone number (like +442079460000)",
        )
    }

    /// The trimmed value when `valid` accepts it, else "`value` `what`".
    fn checked(
        &self,
        cx: &mut Ctx,
        key: &str,
        valid: fn(&str) -> bool,
        what: &str,
    ) -> Option<String> {
        let e = self.value(key)?;
        let v = e.value.trim();
        if valid(v) {
            Some(v.to_string())
        } else {
            cx.err(e.line, self.name(), Some(key), format!("`{v}` {what}"));
            None
        }
    }

    /// Free text with its whitespace runs folded to single spaces; refused
    /// when it holds a character TwiML cannot carry.
    pub(crate) fn text(&self, cx: &mut Ctx, key: &str) -> Option<String> {
        let e = self.value(key)?;
        if let Some(c) = e.value.chars().find(|c| is_xml_illegal(*c)) {
            cx.err(
                e.line,
                self.name(),
                Some(key),
                format!(
                    "contains the control character U+{:04X}, which TwiML (XML) cannot carry",
                    u32::from(c)
                ),
            );
            return None;
        }
        Some(e.value.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    /// Text for `<Say>`: [`Sec::text`] within what Twilio speaks in the IVR's voice.
    pub(crate) fn spoken(&self, cx: &mut Ctx, key: &str) -> Option<String> {
        let text = self.text(cx, key)?;
        let limit = cx.names.say_limit;
        let n = text.chars().count();
        if n > limit {
            cx.err(
                self.line_of(key),
                self.name(),
                Some(key),
                format!("is {n} characters long; Twilio speaks at most {limit} in one <Say> with this voice"),
            );
            return None;
        }
        Some(text)
    }

    /// `PREFIX_sample` (a URL) or `PREFIX_say` (text); `play_sample`/`say` for the main prompt.
    pub(crate) fn audio(&self, cx: &mut Ctx, sample_key: &str, say_key: &str) -> Option<Audio> {
        let sample = self.value(sample_key);
        let say = self.value(say_key);
        match (sample, say) {
            (Some(_), Some(s)) => {
                cx.err(
                    s.line,
                    self.name(),
                    Some(say_key),
                    format!("set either `{sample_key}` or `{say_key}`, not both"),
                );
                None
            }
            (Some(_), None) => self.url(cx, sample_key).map(Audio::Play),
            (None, Some(_)) => self.spoken(cx, say_key).map(Audio::Say),
            (None, None) => None,
        }
    }

    /// A reference to an `[action_NAME]`.
    pub(crate) fn action_ref(&self, cx: &mut Ctx, key: &str) -> Option<String> {
        let e = self.value(key)?;
        let name = e.value.trim();
        if cx.names.actions.contains(name) {
            Some(name.to_string())
        } else {
            let hint = hint(name, cx.names.actions.iter().map(String::as_str));
            cx.err(
                e.line,
                self.name(),
                Some(key),
                format!("no section [action_{name}] for action `{name}`{hint}"),
            );
            None
        }
    }

    /// A reference to a `[menu_NAME]`.
    pub(crate) fn menu_ref(&self, cx: &mut Ctx, key: &str) -> Option<String> {
        let e = self.value(key)?;
        let m = e.value.trim();
        if cx.names.menus.contains(m) {
            Some(m.to_string())
        } else {
            let hint = hint(m, cx.names.menus.iter().map(String::as_str));
            cx.err(
                e.line,
                self.name(),
                Some(key),
                format!("no section [menu_{m}]{hint}"),
            );
            None
        }
    }

    /// The hours gate every flow section may have.
    pub(crate) fn gate(&self, cx: &mut Ctx) -> Option<HoursGate> {
        let hours = self.value("hours");
        let closed = self.value("hours_action_on_closed");
        match (hours, closed) {
            (None, None) => None,
            (Some(_), None) => {
                self.require(cx, "hours_action_on_closed");
                None
            }
            (None, Some(_)) => {
                self.pointless_without(cx, "hours_action_on_closed", "`hours`");
                None
            }
            (Some(h), Some(_)) => {
                let name = h.value.trim();
                let ok = cx.names.hours.contains(name);
                if !ok {
                    let hint = hint(name, cx.names.hours.iter().map(String::as_str));
                    cx.err(
                        h.line,
                        self.name(),
                        Some("hours"),
                        format!("no section [hours_{name}]{hint}"),
                    );
                }
                let action = self.action_ref(cx, "hours_action_on_closed");
                match (ok, action) {
                    (true, Some(action_on_closed)) => Some(HoursGate {
                        hours: name.to_string(),
                        action_on_closed,
                    }),
                    _ => None,
                }
            }
        }
    }
}

/// Longest section name or key that is read as one (longer ones are refused).
pub(crate) const MAX_NAME_LEN: usize = 100;

/// ` (did you mean `x`?)` when a candidate is close enough, else nothing.
pub(crate) fn hint<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    match suggest(name, candidates) {
        Some(s) => format!(" (did you mean `{s}`?)"),
        None => String::new(),
    }
}

/// The closest candidate within a small edit distance, for "did you mean".
pub(crate) fn suggest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
    // Nothing is named like a megabyte of text; and the distance is quadratic.
    if word.len() > MAX_NAME_LEN {
        return None;
    }
    let limit = (word.len() / 3).clamp(1, 3);
    candidates
        .map(|c| (levenshtein(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string())
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_find_near_misses() {
        assert_eq!(
            suggest("paly_sample", ["play_sample", "say"].into_iter()).as_deref(),
            Some("play_sample")
        );
        assert_eq!(suggest("xyz", ["play_sample", "say"].into_iter()), None);
    }

    #[test]
    fn shortens_long_prompts_at_a_word() {
        assert_eq!(
            shorten(
                "For sales, press 1. For support, press 2. To leave a message",
                40
            ),
            "For sales, press 1. For support, press…"
        );
        assert_eq!(shorten("Short.", 40), "Short.");
    }

    #[test]
    fn keys_nobody_asked_for_are_unknown() {
        let doc = crate::ini::parse("[s]\nplay_sample = x\npaly_sample = y\n").unwrap();
        let mut cx = Ctx::new(Names::default());
        let sec = Sec::new(&doc.sections[0]);
        sec.value("play_sample");
        sec.value("absent");
        sec.finish(&mut cx, "a test");
        assert_eq!(cx.diags.len(), 1, "{:?}", cx.diags);
        assert_eq!(cx.diags[0].key.as_deref(), Some("paly_sample"));
        assert!(cx.diags[0].message.contains("did you mean `play_sample`"));
    }
}
