//! Turning an INI [`Document`] into a [`Config`], collecting every problem.

use std::collections::{BTreeMap, BTreeSet};

use chrono_tz::Tz;

use super::graph;
use super::*;
use crate::hours::{self, OpeningHours};
use crate::ini::{self, Document, Entry, Section};

const TWILIO_KEYS: &[&str] = &["account_sid", "auth_token"];
const AWS_KEYS: &[&str] = &[
    "lambda_ping_endpoint",
    "lambda_ping_frequency_minutes",
    "chalice_debug",
];
const IVR_KEYS: &[&str] = &["timezone", "voice", "language"];
const GATE_KEYS: &[&str] = &["hours", "hours_action_on_closed"];
const WELCOME_KEYS: &[&str] = &["hours", "hours_action_on_closed", "play_sample", "say"];
const MENU_KEYS: &[&str] = &[
    "hours",
    "hours_action_on_closed",
    "play_sample",
    "say",
    "pause",
    "no_input_sample",
    "no_input_say",
    "no_input_max_loops",
    "no_input_action_on_max_loops",
    "invalid_sample",
    "invalid_say",
];
const OPTION_KEYS: &[&str] = &[
    "hours",
    "hours_action_on_closed",
    "play_sample",
    "say",
    "action",
];
const ACTION_COMMON: &[&str] = &[
    "type",
    "hours",
    "hours_action_on_closed",
    "play_sample",
    "say",
];
const FORWARD_KEYS: &[&str] = &[
    "phone_number",
    "action_on_busy",
    "action_on_no_answer",
    "action_on_failed",
    "action_on_canceled",
    "timeout",
    "caller_id",
    "record",
    "keep_twilio_copy",
];
const VOICEMAIL_KEYS: &[&str] = &[
    "hangup_sample",
    "hangup_say",
    "voicemail_alert_sms_from",
    "voicemail_alert_sms_to",
    "voicemail_timeout",
    "voicemail_max_length",
    "voicemail_alert_email_to",
    "voicemail_alert_email_attach",
    "transcribe",
    "keep_twilio_copy",
];
const REDIRECT_KEYS: &[&str] = &["path"];
const MENU_ACTION_KEYS: &[&str] = &["menu"];
const ACTION_TYPES: &[&str] = &[
    "forward",
    "hangup",
    "redirect",
    "voicemail",
    "menu",
    "queue",
];
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const FIXED_SECTIONS: &[&str] = &["twilio", "aws", "ivr", "ivr_welcome", "ivr_menu"];

/// What the flow can name, known before any section is built so that
/// references can be checked in one pass.
pub(crate) struct Names {
    actions: BTreeSet<String>,
    hours: BTreeSet<String>,
    menus: BTreeSet<String>,
}

pub(crate) struct Ctx {
    diags: Vec<Diagnostic>,
    names: Names,
}

impl Ctx {
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

/// Accessors for one section that report in its name.
pub(crate) struct Sec<'a> {
    pub(crate) s: &'a Section,
}

impl<'a> Sec<'a> {
    pub(crate) fn name(&self) -> &'a str {
        &self.s.name
    }

    pub(crate) fn entry(&self, key: &str) -> Option<&'a Entry> {
        self.s.get(key)
    }

    /// A present, non-empty value.
    pub(crate) fn value(&self, key: &str) -> Option<&'a Entry> {
        self.entry(key).filter(|e| !e.value.trim().is_empty())
    }

    pub(crate) fn check_keys(&self, cx: &mut Ctx, allowed: &[&str], what: &str) {
        for e in &self.s.entries {
            if !allowed.contains(&e.key.as_str()) {
                let hint = match suggest(&e.key, allowed.iter().copied()) {
                    Some(s) => format!(" (did you mean `{s}`?)"),
                    None => String::new(),
                };
                cx.err(
                    e.line,
                    self.name(),
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
                let line = self.entry(key).map_or(self.s.line, |e| e.line);
                cx.err(line, self.name(), Some(key), "is required");
                None
            }
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
        let e = self.value(key)?;
        let v = e.value.trim();
        if is_http_url(v) {
            Some(v.to_string())
        } else {
            cx.err(
                e.line,
                self.name(),
                Some(key),
                format!("`{v}` is not an http(s) URL"),
            );
            None
        }
    }

    pub(crate) fn phone(&self, cx: &mut Ctx, key: &str) -> Option<String> {
        let e = self.value(key)?;
        let v = e.value.trim();
        if is_e164(v) {
            Some(v.to_string())
        } else {
            cx.err(
                e.line,
                self.name(),
                Some(key),
                format!("`{v}` is not an E.164 phone number (like +442079460000)"),
            );
            None
        }
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
            (None, Some(s)) => Some(Audio::Say(
                s.value.split_whitespace().collect::<Vec<_>>().join(" "),
            )),
            (None, None) => None,
        }
    }

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

    pub(crate) fn gate(&self, cx: &mut Ctx) -> Option<HoursGate> {
        let hours = self.value("hours");
        let closed = self.value("hours_action_on_closed");
        match (hours, closed) {
            (None, None) => None,
            (Some(_), None) => {
                self.require(cx, "hours_action_on_closed");
                None
            }
            (None, Some(c)) => {
                cx.err(
                    c.line,
                    self.name(),
                    Some("hours_action_on_closed"),
                    "has no effect without `hours`",
                );
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

fn hint<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    match suggest(name, candidates) {
        Some(s) => format!(" (did you mean `{s}`?)"),
        None => String::new(),
    }
}

/// The closest candidate within a small edit distance, for "did you mean".
pub(crate) fn suggest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
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

pub fn is_e164(v: &str) -> bool {
    let digits = v.strip_prefix('+').unwrap_or("");
    (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// A plausible address (`local@domain.tld`): enough to catch typos, not RFC 5322.
pub fn is_email(v: &str) -> bool {
    match v.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !v.chars().any(|c| {
                    c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"')
                })
                && !domain.contains('@')
        }
        None => false,
    }
}

pub fn is_http_url(v: &str) -> bool {
    let rest = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"));
    match rest {
        Some(rest) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty()
                && !v.chars().any(|c| c.is_whitespace() || c.is_control())
                && host.chars().all(|c| {
                    c.is_ascii_alphanumeric()
                        || matches!(c, '.' | '-' | ':' | '@' | '_' | '[' | ']')
                })
        }
        None => false,
    }
}

/// Names of actions, menus and hours: what goes into URLs and section names.
fn is_name(v: &str) -> bool {
    !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

enum Kind<'a> {
    Fixed,
    MainOption(char),
    SubMenu(&'a str),
    SubOption(&'a str, char),
    Action(&'a str),
    Hours(&'a str),
    AgentLine(&'a str),
}

fn classify(name: &str) -> Result<Kind<'_>, String> {
    if FIXED_SECTIONS.contains(&name) {
        return Ok(Kind::Fixed);
    }
    let digit = |s: &str| -> Result<char, String> {
        let mut chars = s.chars();
        match (chars.next(), chars.next()) {
            (Some(d @ '0'..='9'), None) => Ok(d),
            _ => Err(format!("menu options are single digits 0-9, not `{s}`")),
        }
    };
    let named = |n: &str| -> Result<(), String> {
        if is_name(n) {
            Ok(())
        } else {
            Err(format!(
                "`{n}` is not a valid name: use letters, digits, `_` and `-`"
            ))
        }
    };
    if let Some(d) = name.strip_prefix("ivr_menu_option_") {
        return digit(d).map(Kind::MainOption);
    }
    if let Some(rest) = name.strip_prefix("menu_") {
        if let Some(pos) = rest.rfind("_option_") {
            let (menu, d) = (&rest[..pos], &rest[pos + "_option_".len()..]);
            named(menu)?;
            return digit(d).map(|d| Kind::SubOption(menu, d));
        }
        named(rest)?;
        return Ok(Kind::SubMenu(rest));
    }
    if let Some(a) = name.strip_prefix("action_") {
        named(a)?;
        return Ok(Kind::Action(a));
    }
    if let Some(h) = name.strip_prefix("hours_") {
        named(h)?;
        return Ok(Kind::Hours(h));
    }
    if let Some(l) = name.strip_prefix("agent_line_") {
        named(l)?;
        return Ok(Kind::AgentLine(l));
    }
    let mut known: Vec<&str> = FIXED_SECTIONS.to_vec();
    known.extend([
        "ivr_menu_option_1",
        "action_NAME",
        "hours_NAME",
        "menu_NAME",
        "agent_line_NAME",
    ]);
    Err(format!("unknown section{}", hint(name, known.into_iter())))
}

pub(super) fn build(text: &str) -> Result<Loaded, Vec<Diagnostic>> {
    let doc = ini::parse(text).map_err(|errs| {
        errs.into_iter()
            .map(|e| Diagnostic::error(e.line, e.section.as_deref(), e.key.as_deref(), e.message))
            .collect::<Vec<_>>()
    })?;
    let mut cx = Ctx {
        diags: Vec::new(),
        names: collect_names(&doc),
    };
    let config = build_config(&doc, &mut cx);
    let (errors, mut warnings): (Vec<_>, Vec<_>) = cx
        .diags
        .into_iter()
        .partition(|d| d.severity == Severity::Error);
    match config {
        Some(config) if errors.is_empty() => {
            let mut graph_diags = graph::check(&config);
            let graph_errors: Vec<_> = graph_diags
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .cloned()
                .collect();
            if !graph_errors.is_empty() {
                return Err(graph_errors);
            }
            warnings.append(&mut graph_diags);
            warnings.sort_by_key(|d| d.line);
            Ok(Loaded { config, warnings })
        }
        _ => {
            let mut errors = errors;
            errors.sort_by_key(|d| d.line);
            Err(errors)
        }
    }
}

fn collect_names(doc: &Document) -> Names {
    let mut names = Names {
        actions: BTreeSet::new(),
        hours: BTreeSet::new(),
        menus: BTreeSet::new(),
    };
    for s in &doc.sections {
        match classify(&s.name) {
            Ok(Kind::Action(a)) => {
                names.actions.insert(a.to_string());
            }
            Ok(Kind::Hours(h)) => {
                names.hours.insert(h.to_string());
            }
            Ok(Kind::SubMenu(m)) => {
                names.menus.insert(m.to_string());
            }
            _ => {}
        }
    }
    names
}

fn build_config(doc: &Document, cx: &mut Ctx) -> Option<Config> {
    let mut options: Vec<(Option<&str>, char, &Section)> = Vec::new();
    let mut sub_menus: Vec<(&str, &Section)> = Vec::new();
    let mut actions = BTreeMap::new();
    let mut hours = BTreeMap::new();
    let mut hours_lines = BTreeMap::new();
    let mut agent_lines = BTreeMap::new();
    for s in &doc.sections {
        match classify(&s.name) {
            Err(msg) => cx.err(s.line, &s.name, None, msg),
            Ok(Kind::Fixed) => {}
            Ok(Kind::AgentLine(l)) => {
                if let Some(line) = crate::queue::build_agent_line(cx, l, &Sec { s }) {
                    agent_lines.insert(l.to_string(), line);
                }
            }
            Ok(Kind::MainOption(d)) => options.push((None, d, s)),
            Ok(Kind::SubOption(m, d)) => {
                if cx.names.menus.contains(m) {
                    options.push((Some(m), d, s));
                } else {
                    cx.err(
                        s.line,
                        &s.name,
                        None,
                        format!("option of a menu that has no section [menu_{m}]"),
                    );
                }
            }
            Ok(Kind::SubMenu(m)) => sub_menus.push((m, s)),
            Ok(Kind::Action(a)) => {
                if let Some(action) = build_action(cx, a, s) {
                    actions.insert(a.to_string(), action);
                }
            }
            Ok(Kind::Hours(h)) => {
                hours_lines.insert(h.to_string(), s.line);
                if let Some(oh) = build_hours(cx, s) {
                    hours.insert(h.to_string(), oh);
                }
            }
        }
    }

    let twilio = doc
        .section("twilio")
        .map(|s| build_twilio(cx, s))
        .unwrap_or_default();
    let aws = doc
        .section("aws")
        .map(|s| build_aws(cx, s))
        .unwrap_or_default();
    let ivr = match doc.section("ivr") {
        Some(s) => build_ivr(cx, s),
        None => {
            cx.diags.push(Diagnostic::error(
                0,
                Some("ivr"),
                None,
                "missing section: [ivr] with `timezone` is required",
            ));
            None
        }
    };
    let welcome = doc
        .section("ivr_welcome")
        .map(|s| build_welcome(cx, s))
        .unwrap_or_default();
    let mut main_menu = match doc.section("ivr_menu") {
        Some(s) => build_menu(cx, None, s),
        None => {
            cx.diags.push(Diagnostic::error(
                0,
                Some("ivr_menu"),
                None,
                "missing section: the main menu [ivr_menu] is required",
            ));
            None
        }
    };
    let mut menus = BTreeMap::new();
    for (m, s) in sub_menus {
        if let Some(menu) = build_menu(cx, Some(m), s) {
            menus.insert(m.to_string(), menu);
        }
    }
    for (menu, digit, s) in options {
        if let Some(opt) = build_option(cx, digit, s) {
            let target = match menu {
                None => main_menu.as_mut(),
                Some(m) => menus.get_mut(m),
            };
            if let Some(target) = target {
                target.options.insert(digit, opt);
            }
        }
    }
    // Redirect paths may name options, which exist only now.
    let mut config = Config {
        twilio,
        aws,
        ivr: ivr?,
        welcome,
        main_menu: main_menu?,
        menus,
        actions,
        hours,
        hours_lines,
        agent_lines,
    };
    check_redirect_targets(cx, doc, &mut config);
    check_queues(cx, &config);
    Some(config)
}

fn build_twilio(cx: &mut Ctx, s: &Section) -> TwilioSettings {
    let sec = Sec { s };
    sec.check_keys(cx, TWILIO_KEYS, "[twilio]");
    let account_sid = sec.value("account_sid").and_then(|e| {
        let v = e.value.trim();
        let ok =
            v.len() == 34 && v.starts_with("AC") && v[2..].bytes().all(|b| b.is_ascii_hexdigit());
        if !ok {
            cx.err(
                e.line,
                "twilio",
                Some("account_sid"),
                format!("`{v}` is not an account SID (AC followed by 32 hex digits)"),
            );
        }
        ok.then(|| v.to_string())
    });
    let auth_token = sec.value("auth_token").map(|e| {
        cx.warn(
            e.line,
            "twilio",
            Some("auth_token"),
            "a secret in config.ini ends up in git and in the deployed package; prefer the TWILIO_AUTH_TOKEN environment variable",
        );
        e.value.trim().to_string()
    });
    TwilioSettings {
        account_sid,
        auth_token,
    }
}

fn build_aws(cx: &mut Ctx, s: &Section) -> AwsSettings {
    let sec = Sec { s };
    sec.check_keys(cx, AWS_KEYS, "[aws]");
    let ping_endpoint = sec.url(cx, "lambda_ping_endpoint");
    if let Some(e) = sec.value("lambda_ping_endpoint") {
        cx.warn(
            e.line,
            "aws",
            Some("lambda_ping_endpoint"),
            "no longer needed: every function is pinged directly on the lambda_ping_frequency_minutes schedule",
        );
    }
    let ses_sender = sec.value("ses_sender").and_then(|e| {
        let v = e.value.trim();
        if is_email(v) {
            Some(v.to_string())
        } else {
            cx.err(
                e.line,
                "aws",
                Some("ses_sender"),
                format!("`{v}` is not an email address"),
            );
            None
        }
    });
    AwsSettings {
        ping_frequency_minutes: sec
            .number(cx, "lambda_ping_frequency_minutes", 0, 60)
            .unwrap_or(5),
        keep_twilio_copy: sec.boolean(cx, "keep_twilio_copy").unwrap_or(false),
        // A SigV4 presigned URL lives at most 7 days.
        recording_link_expiry_hours: sec
            .number(cx, "recording_link_expiry_hours", 1, 168)
            .unwrap_or(168),
        ses_sender,
        ping_endpoint,
        debug: sec.boolean(cx, "chalice_debug").unwrap_or(false),
    }
}

fn build_ivr(cx: &mut Ctx, s: &Section) -> Option<IvrSettings> {
    let sec = Sec { s };
    sec.check_keys(cx, IVR_KEYS, "[ivr]");
    let tz = sec.require(cx, "timezone").and_then(|e| {
        let v = e.value.trim();
        match v.parse::<Tz>() {
            Ok(tz) => Some(tz),
            Err(_) => {
                let hint = hint(v, chrono_tz::TZ_VARIANTS.iter().map(|t| t.name()));
                cx.err(
                    e.line,
                    "ivr",
                    Some("timezone"),
                    format!("unknown timezone `{v}`{hint}"),
                );
                None
            }
        }
    });
    let voice = sec.value("voice").and_then(|e| {
        let v = e.value.trim();
        if v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        {
            Some(v.to_string())
        } else {
            cx.err(
                e.line,
                "ivr",
                Some("voice"),
                format!("`{v}` is not a Twilio voice name (like `alice` or `Polly.Amy`)"),
            );
            None
        }
    });
    let language = sec.value("language").and_then(|e| {
        let v = e.value.trim();
        let mut parts = v.split('-');
        let first_ok = parts.next().is_some_and(|p| {
            (2..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic())
        });
        if first_ok
            && parts
                .all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            Some(v.to_string())
        } else {
            cx.err(
                e.line,
                "ivr",
                Some("language"),
                format!("`{v}` is not a language tag (like `en-GB`)"),
            );
            None
        }
    });
    Some(IvrSettings {
        timezone: tz?,
        voice,
        language,
    })
}

fn build_welcome(cx: &mut Ctx, s: &Section) -> Welcome {
    let sec = Sec { s };
    sec.check_keys(cx, WELCOME_KEYS, "[ivr_welcome]");
    Welcome {
        line: s.line,
        gate: sec.gate(cx),
        audio: sec.audio(cx, "play_sample", "say"),
    }
}

fn build_menu(cx: &mut Ctx, name: Option<&str>, s: &Section) -> Option<Menu> {
    let sec = Sec { s };
    sec.check_keys(cx, MENU_KEYS, "a menu");
    let audio = sec.audio(cx, "play_sample", "say");
    if audio.is_none() && sec.value("play_sample").is_none() && sec.value("say").is_none() {
        cx.err(
            s.line,
            &s.name,
            Some("play_sample"),
            "a menu needs a prompt: set `play_sample` (a URL) or `say` (text)",
        );
    }
    let no_input_action_on_max_loops = sec.action_ref(cx, "no_input_action_on_max_loops");
    let no_input_max_loops = sec.number(cx, "no_input_max_loops", 1, 100);
    if no_input_action_on_max_loops.is_some() && sec.value("no_input_max_loops").is_none() {
        let line = sec
            .value("no_input_action_on_max_loops")
            .map_or(s.line, |e| e.line);
        cx.err(
            line,
            &s.name,
            Some("no_input_action_on_max_loops"),
            "has no effect without `no_input_max_loops`",
        );
    }
    Some(Menu {
        name: name.map(str::to_string),
        section: s.name.clone(),
        line: s.line,
        gate: sec.gate(cx),
        pause: sec.number(cx, "pause", 0, 60).unwrap_or(2),
        no_input: sec.audio(cx, "no_input_sample", "no_input_say"),
        no_input_max_loops,
        no_input_action_on_max_loops,
        invalid: sec.audio(cx, "invalid_sample", "invalid_say"),
        options: BTreeMap::new(),
        audio: audio?,
    })
}

fn build_option(cx: &mut Ctx, digit: char, s: &Section) -> Option<MenuOption> {
    let sec = Sec { s };
    sec.check_keys(cx, OPTION_KEYS, "a menu option");
    sec.require(cx, "action");
    Some(MenuOption {
        section: s.name.clone(),
        line: s.line,
        digit,
        gate: sec.gate(cx),
        audio: sec.audio(cx, "play_sample", "say"),
        action: sec.action_ref(cx, "action")?,
    })
}

fn build_action(cx: &mut Ctx, name: &str, s: &Section) -> Option<Action> {
    let sec = Sec { s };
    let ty = sec.require(cx, "type")?;
    let ty_value = ty.value.trim().to_ascii_lowercase();
    let specific: &[&str] = match ty_value.as_str() {
        "forward" => FORWARD_KEYS,
        "voicemail" => VOICEMAIL_KEYS,
        "redirect" => REDIRECT_KEYS,
        "menu" => MENU_ACTION_KEYS,
        "queue" => crate::queue::QUEUE_KEYS,
        "hangup" => &[],
        other => {
            let hint = hint(other, ACTION_TYPES.iter().copied());
            cx.err(
                ty.line,
                &s.name,
                Some("type"),
                format!("unknown action type `{other}`: use forward, hangup, redirect, voicemail, menu or queue{hint}"),
            );
            return None;
        }
    };
    let allowed: Vec<&str> = ACTION_COMMON.iter().chain(specific).copied().collect();
    sec.check_keys(cx, &allowed, &format!("a {ty_value} action"));
    let gate = sec.gate(cx);
    let audio = sec.audio(cx, "play_sample", "say");
    let kind = match ty_value.as_str() {
        "hangup" => ActionKind::Hangup,
        "queue" => ActionKind::Queue(crate::queue::build_queue(cx, &sec)?),
        "redirect" => {
            let e = sec.require(cx, "path")?;
            // Resolved once every option is known (check_redirect_targets).
            ActionKind::Redirect {
                path: e.value.trim().to_string(),
                target: Target::Hangup,
            }
        }
        "menu" => {
            let e = sec.require(cx, "menu")?;
            let m = e.value.trim();
            if !cx.names.menus.contains(m) {
                let hint = hint(m, cx.names.menus.iter().map(String::as_str));
                cx.err(
                    e.line,
                    &s.name,
                    Some("menu"),
                    format!("no section [menu_{m}]{hint}"),
                );
                return None;
            }
            ActionKind::Menu {
                menu: m.to_string(),
            }
        }
        "forward" => {
            let required: Vec<Option<&Entry>> = [
                "phone_number",
                "action_on_busy",
                "action_on_no_answer",
                "action_on_failed",
                "action_on_canceled",
            ]
            .iter()
            .map(|k| sec.require(cx, k))
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
            if keep_twilio_copy.is_some() && !record {
                let line = sec.value("keep_twilio_copy").map_or(s.line, |e| e.line);
                cx.err(
                    line,
                    &s.name,
                    Some("keep_twilio_copy"),
                    "has no effect without `record = yes`",
                );
            }
            if required.iter().any(Option::is_none) {
                return None;
            }
            ActionKind::Forward(Forward {
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
        "voicemail" => {
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
                    let list: Vec<String> =
                        e.value.split(',').map(|a| a.trim().to_string()).collect();
                    for a in &list {
                        if !is_email(a) {
                            cx.err(
                                e.line,
                                &s.name,
                                Some("voicemail_alert_email_to"),
                                format!("`{a}` is not an email address"),
                            );
                        }
                    }
                    list
                }
            };
            let alert_email_attach = sec
                .boolean(cx, "voicemail_alert_email_attach")
                .unwrap_or(false);
            if alert_email_attach && alert_email_to.is_empty() {
                let line = sec
                    .value("voicemail_alert_email_attach")
                    .map_or(s.line, |e| e.line);
                cx.err(
                    line,
                    &s.name,
                    Some("voicemail_alert_email_attach"),
                    "has no effect without `voicemail_alert_email_to`",
                );
            }
            ActionKind::Voicemail(Voicemail {
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
        _ => unreachable!("type checked above"),
    };
    let _ = GATE_KEYS;
    Some(Action {
        name: name.to_string(),
        section: s.name.clone(),
        line: s.line,
        gate,
        audio,
        kind,
    })
}

fn build_hours(cx: &mut Ctx, s: &Section) -> Option<OpeningHours> {
    let sec = Sec { s };
    let mut allowed: Vec<&str> = DAYS.to_vec();
    allowed.push("closed_on");
    sec.check_keys(cx, &allowed, "an hours section (mon … sun, closed_on)");
    let mut days: [Vec<hours::TimeRange>; 7] = Default::default();
    let mut ok = true;
    for (i, day) in DAYS.iter().enumerate() {
        if let Some(e) = sec.entry(day) {
            match hours::parse_day(&e.value) {
                Ok(r) => days[i] = r,
                Err(msg) => {
                    cx.err(e.line, &s.name, Some(day), msg);
                    ok = false;
                }
            }
        }
    }
    let closed_on = match sec.entry("closed_on") {
        Some(e) => match hours::parse_closed_on(&e.value) {
            Ok(c) => c,
            Err(msg) => {
                cx.err(e.line, &s.name, Some("closed_on"), msg);
                ok = false;
                Vec::new()
            }
        },
        None => Vec::new(),
    };
    ok.then(|| OpeningHours::new(days, closed_on))
}

/// Queues and agent lines that do not meet: callers nobody takes, agents
/// with nobody to take (warnings); an action whose name clashes with an agent
/// line's recordings label (an error).
fn check_queues(cx: &mut Ctx, config: &Config) {
    for line in config.agent_lines.values() {
        if config.queue_actions_of(line).next().is_none() {
            cx.warn(
                line.line,
                &line.section,
                Some("queue"),
                format!(
                    "no queue action puts callers in `{}`: this line will never have anyone to take",
                    line.queue
                ),
            );
        }
        let clash = format!("agent_line_{}", line.name);
        if let Some(a) = config.actions.get(&clash) {
            cx.err(
                a.line,
                &a.section,
                None,
                format!(
                    "this action's name is also how [{}] labels its recordings: rename one of them",
                    line.section
                ),
            );
        }
    }
    for a in config.actions.values() {
        if let ActionKind::Queue(q) = &a.kind {
            if !config.agent_lines.values().any(|l| l.queue == q.queue) {
                cx.warn(
                    a.line,
                    &a.section,
                    Some("queue"),
                    format!(
                        "no [agent_line_NAME] takes callers from `{}`: they would wait until they give up",
                        q.queue
                    ),
                );
            }
        }
    }
}

/// Resolves every redirect `path` to a [`Target`], or reports why it is no route.
fn check_redirect_targets(cx: &mut Ctx, doc: &Document, config: &mut Config) {
    let mut resolved = Vec::new();
    for (name, action) in &config.actions {
        if let ActionKind::Redirect { path, .. } = &action.kind {
            let line = doc
                .section(&action.section)
                .and_then(|s| s.get("path"))
                .map_or(action.line, |e| e.line);
            match resolve_path(config, path) {
                Ok(t) => resolved.push((name.clone(), t)),
                Err(msg) => cx.err(line, &action.section, Some("path"), msg),
            }
        }
    }
    for (name, t) in resolved {
        if let Some(Action {
            kind: ActionKind::Redirect { target, .. },
            ..
        }) = config.actions.get_mut(&name)
        {
            *target = t;
        }
    }
}

fn resolve_path(config: &Config, path: &str) -> Result<Target, String> {
    if !path.starts_with('/') {
        return Err(format!(
            "`{path}` must be a path starting with `/`, like /ivr/menu or /ivr/action/NAME"
        ));
    }
    let (p, query) = path.split_once('?').unwrap_or((path, ""));
    let mut menu: Option<String> = None;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "menu" if config.menus.contains_key(v.as_ref()) => menu = Some(v.into_owned()),
            "menu" => {
                return Err(format!(
                    "`{path}` names menu `{v}`, which has no section [menu_{v}]"
                ))
            }
            "loop_count" => {}
            other => return Err(format!("`{path}`: unknown query parameter `{other}`")),
        }
    }
    let p = p.trim_end_matches('/');
    match p {
        "/ivr" | "" => Ok(Target::Welcome),
        "/ivr/hangup" => Ok(Target::Hangup),
        "/ivr/menu" => Ok(Target::Menu(menu)),
        _ => {
            if let Some(d) = p.strip_prefix("/ivr/menu/") {
                let mut cs = d.chars();
                let digit = match (cs.next(), cs.next()) {
                    (Some(c @ '0'..='9'), None) => c,
                    _ => return Err(format!("`{path}`: menu options are single digits 0-9")),
                };
                let m = config
                    .menu(menu.as_deref())
                    .map(|m| m.section.clone())
                    .unwrap_or_default();
                let has = config
                    .menu(menu.as_deref())
                    .is_some_and(|m| m.options.contains_key(&digit));
                if !has {
                    return Err(format!("`{path}`: [{m}] has no option {digit}"));
                }
                return Ok(Target::MenuOption(menu, digit));
            }
            if let Some(a) = p.strip_prefix("/ivr/action/") {
                if config.actions.contains_key(a) {
                    return Ok(Target::Action(a.to_string()));
                }
                return Err(format!(
                    "`{path}`: no section [action_{a}]{}",
                    hint(a, config.actions.keys().map(String::as_str))
                ));
            }
            Err(format!(
                "`{path}` is no route: use /ivr, /ivr/menu, /ivr/menu/DIGIT, /ivr/action/NAME or /ivr/hangup"
            ))
        }
    }
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
    fn e164_and_urls() {
        assert!(is_e164("+442079460000"));
        assert!(!is_e164("442079460000"));
        assert!(!is_e164("+0442079460000"));
        assert!(!is_e164("+44 20 7946 0000"));
        assert!(is_http_url(
            "https://audio.example.net/ivr/welcome.mp3"
        ));
        assert!(is_http_url("http://127.0.0.1:8080/a%20b.mp3"));
        assert!(!is_http_url("ftp://x/y.mp3"));
        assert!(!is_http_url("https:///y.mp3"));
        assert!(!is_http_url("https://x y/z.mp3"));
    }
}
