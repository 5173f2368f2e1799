//! Turning an INI [`Document`] into a [`Config`], collecting every problem:
//! what each section's name makes it, the fixed sections (`[twilio]`,
//! `[aws]`, `[ivr]`, the welcome), menus and their options, hours, then
//! the checks that need the whole config (redirect targets, queues that
//! agent lines serve, the flow graph).

use std::collections::BTreeMap;
use std::path::Path;

use chrono_tz::Tz;

use super::check;
use super::model::*;
use super::reader::{hint, say_limit, Ctx, Diagnostic, Names, Sec, Severity, MAX_NAME_LEN};
use crate::actions::{self, agent_line, redirect, ActionKind};
use crate::hours::{self, OpeningHours};
use crate::ids::{is_email, is_name, is_sid};
use crate::ini::{self, Document, Section};

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const FIXED_SECTIONS: &[&str] = &["twilio", "aws", "ivr", "ivr_welcome", "ivr_menu"];
const HOURS_WHAT: &str = "an hours section (mon … sun, closed_on)";

impl Config {
    /// Parses and validates config text. `Err` holds every error found;
    /// `Ok` carries the warnings (unreachable sections, deprecated keys).
    pub fn parse(text: &str) -> Result<Loaded, Vec<Diagnostic>> {
        build(text)
    }

    /// Reads and validates a file; errors carry the path.
    pub fn load(path: &Path) -> Result<Loaded, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|e| LoadError {
            path: path.display().to_string(),
            diagnostics: vec![Diagnostic::error(
                0,
                None,
                None,
                format!("cannot read: {e}"),
            )],
        })?;
        Self::parse(&text).map_err(|diagnostics| LoadError {
            path: path.display().to_string(),
            diagnostics,
        })
    }
}

/// Reads one section with `f`, then reports the keys `f` never asked for.
fn read<T>(cx: &mut Ctx, s: &Section, what: &str, f: impl FnOnce(&mut Ctx, &Sec) -> T) -> T {
    let sec = Sec::new(s);
    let out = f(cx, &sec);
    sec.finish(cx, what);
    out
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
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "a section name of {} bytes: names are at most {MAX_NAME_LEN}",
            name.len()
        ));
    }
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

fn build(text: &str) -> Result<Loaded, Vec<Diagnostic>> {
    let doc = ini::parse(text).map_err(|errs| {
        errs.into_iter()
            .map(|e| Diagnostic::error(e.line, e.section.as_deref(), e.key.as_deref(), e.message))
            .collect::<Vec<_>>()
    })?;
    let mut cx = Ctx::new(collect_names(&doc));
    let config = build_config(&doc, &mut cx);
    let (errors, mut warnings): (Vec<_>, Vec<_>) = cx
        .diags
        .into_iter()
        .partition(|d| d.severity == Severity::Error);
    match config {
        Some(config) if errors.is_empty() => {
            let mut graph_diags = check::check(&config);
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
    let voice = doc
        .section("ivr")
        .and_then(|s| s.get("voice"))
        .map(|e| e.value.trim());
    let mut names = Names {
        say_limit: say_limit(voice),
        ..Names::default()
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
                if let Some(line) = agent_line::parse(cx, l, Sec::new(s)) {
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
                if let Some(action) = actions::parse(cx, a, Sec::new(s)) {
                    actions.insert(a.to_string(), action);
                }
            }
            Ok(Kind::Hours(h)) => {
                hours_lines.insert(h.to_string(), s.line);
                if let Some(oh) = read(cx, s, HOURS_WHAT, build_hours) {
                    hours.insert(h.to_string(), oh);
                }
            }
        }
    }

    let twilio = doc
        .section("twilio")
        .map(|s| read(cx, s, "[twilio]", build_twilio))
        .unwrap_or_default();
    let aws = doc
        .section("aws")
        .map(|s| read(cx, s, "[aws]", build_aws))
        .unwrap_or_default();
    let ivr = match doc.section("ivr") {
        Some(s) => read(cx, s, "[ivr]", build_ivr),
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
        .map(|s| read(cx, s, "[ivr_welcome]", build_welcome))
        .unwrap_or_default();
    let mut main_menu = match doc.section("ivr_menu") {
        Some(s) => read(cx, s, "a menu", |cx, sec| build_menu(cx, None, sec)),
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
        if let Some(menu) = read(cx, s, "a menu", |cx, sec| build_menu(cx, Some(m), sec)) {
            menus.insert(m.to_string(), menu);
        }
    }
    for (menu, digit, s) in options {
        if let Some(opt) = read(cx, s, "a menu option", |cx, sec| {
            build_option(cx, digit, sec)
        }) {
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
    resolve_redirects(cx, doc, &mut config);
    check_queues(cx, &config);
    Some(config)
}

fn build_twilio(cx: &mut Ctx, sec: &Sec) -> TwilioSettings {
    let account_sid = sec.value("account_sid").and_then(|e| {
        let v = e.value.trim();
        let ok = is_sid(v, "AC");
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

fn build_aws(cx: &mut Ctx, sec: &Sec) -> AwsSettings {
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

fn build_ivr(cx: &mut Ctx, sec: &Sec) -> Option<IvrSettings> {
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

fn build_welcome(cx: &mut Ctx, sec: &Sec) -> Welcome {
    Welcome {
        line: sec.line(),
        gate: sec.gate(cx),
        audio: sec.audio(cx, "play_sample", "say"),
    }
}

fn build_menu(cx: &mut Ctx, name: Option<&str>, sec: &Sec) -> Option<Menu> {
    let audio = sec.audio(cx, "play_sample", "say");
    if audio.is_none() && sec.value("play_sample").is_none() && sec.value("say").is_none() {
        cx.err(
            sec.line(),
            sec.name(),
            Some("play_sample"),
            "a menu needs a prompt: set `play_sample` (a URL) or `say` (text)",
        );
    }
    let no_input_action_on_max_loops = sec.action_ref(cx, "no_input_action_on_max_loops");
    let no_input_max_loops = sec.number(cx, "no_input_max_loops", 1, 100);
    if no_input_action_on_max_loops.is_some() && sec.value("no_input_max_loops").is_none() {
        let line = sec.line_of("no_input_action_on_max_loops");
        cx.err(
            line,
            sec.name(),
            Some("no_input_action_on_max_loops"),
            "has no effect without `no_input_max_loops`",
        );
    }
    Some(Menu {
        name: name.map(str::to_string),
        section: sec.name().to_string(),
        line: sec.line(),
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

fn build_option(cx: &mut Ctx, digit: char, sec: &Sec) -> Option<MenuOption> {
    sec.require(cx, "action");
    Some(MenuOption {
        section: sec.name().to_string(),
        line: sec.line(),
        digit,
        gate: sec.gate(cx),
        audio: sec.audio(cx, "play_sample", "say"),
        action: sec.action_ref(cx, "action")?,
    })
}

fn build_hours(cx: &mut Ctx, sec: &Sec) -> Option<OpeningHours> {
    let mut days: [Vec<hours::TimeRange>; 7] = Default::default();
    let mut ok = true;
    for (i, day) in DAYS.iter().enumerate() {
        if let Some(e) = sec.entry(day) {
            match hours::parse_day(&e.value) {
                Ok(r) => days[i] = r,
                Err(msg) => {
                    cx.err(e.line, sec.name(), Some(day), msg);
                    ok = false;
                }
            }
        }
    }
    let closed_on = match sec.entry("closed_on") {
        Some(e) => match hours::parse_closed_on(&e.value) {
            Ok(c) => c,
            Err(msg) => {
                cx.err(e.line, sec.name(), Some("closed_on"), msg);
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

/// Resolves every redirect `path` to the section it leads to, or reports why it is no route.
fn resolve_redirects(cx: &mut Ctx, doc: &Document, config: &mut Config) {
    let mut resolved = Vec::new();
    for (name, action) in &config.actions {
        if let ActionKind::Redirect(r) = &action.kind {
            match redirect::resolve(config, &r.path) {
                Ok(t) => resolved.push((name.clone(), t)),
                Err(msg) => {
                    let line = doc
                        .section(&action.section)
                        .and_then(|s| s.get("path"))
                        .map_or(action.line, |e| e.line);
                    cx.err(line, &action.section, Some("path"), msg)
                }
            }
        }
    }
    for (name, t) in resolved {
        if let Some(ActionKind::Redirect(r)) = config.actions.get_mut(&name).map(|a| &mut a.kind) {
            r.target = t;
        }
    }
}

/// What a redirect may name, as the loaded config has it.
impl redirect::Sections for Config {
    fn has_menu(&self, name: &str) -> bool {
        self.menus.contains_key(name)
    }

    fn menu_has_option(&self, menu: Option<&str>, digit: char) -> bool {
        self.menu(menu)
            .is_some_and(|m| m.options.contains_key(&digit))
    }

    fn menu_section(&self, menu: Option<&str>) -> String {
        self.menu(menu)
            .map(|m| m.section.clone())
            .unwrap_or_default()
    }

    fn has_action(&self, name: &str) -> bool {
        self.actions.contains_key(name)
    }

    fn action_hint(&self, name: &str) -> String {
        hint(name, self.actions.keys().map(String::as_str))
    }
}
