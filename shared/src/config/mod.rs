//! `config.ini` → a typed, validated [`Config`].
//!
//! The format is a superset of twilio-aws-ivr's: every section and key it
//! knew keeps its meaning. Validation happens once, here, and collects every
//! problem as a [`Diagnostic`] that names the line, section and key, so
//! `ivr check` can list them all before a deploy. A `Config` that loaded
//! without errors cannot make the flow fail at run time.

pub(crate) mod build;
mod graph;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use chrono_tz::Tz;

use crate::hours::OpeningHours;

pub use crate::queue::{AgentLine, LongWait, Queue};
pub use build::{is_e164, is_email, is_http_url};
pub use graph::{Edge, EdgeKind, Node};

/// Something a caller hears: a recording or text-to-speech.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audio {
    Play(String),
    Say(String),
}

/// `hours` + `hours_action_on_closed`: checked before anything else in a section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoursGate {
    pub hours: String,
    pub action_on_closed: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TwilioSettings {
    pub account_sid: Option<String>,
    pub auth_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    /// 0 = keep-warm pings off.
    pub ping_frequency_minutes: u32,
    /// Default for every recording: keep Twilio's copy after exporting it.
    pub keep_twilio_copy: bool,
    /// How long links to stored recordings work (presigned URL expiry).
    pub recording_link_expiry_hours: u32,
    /// SES sender for email alerts (`IVR_SES_SENDER` overrides).
    pub ses_sender: Option<String>,
    /// Accepted from old configs; the deploy schedules its own pings.
    pub ping_endpoint: Option<String>,
    pub debug: bool,
}

impl Default for AwsSettings {
    fn default() -> Self {
        Self {
            ping_frequency_minutes: 5,
            keep_twilio_copy: false,
            recording_link_expiry_hours: 168,
            ses_sender: None,
            ping_endpoint: None,
            debug: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IvrSettings {
    pub timezone: Tz,
    pub voice: Option<String>,
    pub language: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Welcome {
    pub line: usize,
    pub gate: Option<HoursGate>,
    pub audio: Option<Audio>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Menu {
    /// `None` for the main menu `[ivr_menu]`, `Some(NAME)` for `[menu_NAME]`.
    pub name: Option<String>,
    pub section: String,
    pub line: usize,
    pub gate: Option<HoursGate>,
    pub audio: Audio,
    pub pause: u32,
    pub no_input: Option<Audio>,
    pub no_input_max_loops: Option<u32>,
    pub no_input_action_on_max_loops: Option<String>,
    pub invalid: Option<Audio>,
    /// Keyed by the digit `'0'..='9'`.
    pub options: BTreeMap<char, MenuOption>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuOption {
    pub section: String,
    pub line: usize,
    pub digit: char,
    pub gate: Option<HoursGate>,
    pub audio: Option<Audio>,
    pub action: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    pub name: String,
    pub section: String,
    pub line: usize,
    pub gate: Option<HoursGate>,
    pub audio: Option<Audio>,
    pub kind: ActionKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionKind {
    Hangup,
    Redirect {
        path: String,
        target: Target,
    },
    Forward(Forward),
    Voicemail(Voicemail),
    Menu {
        menu: String,
    },
    /// Callers wait in a Twilio queue until an agent line takes them.
    Queue(Queue),
}

impl ActionKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            ActionKind::Hangup => "hangup",
            ActionKind::Redirect { .. } => "redirect",
            ActionKind::Forward(_) => "forward",
            ActionKind::Voicemail(_) => "voicemail",
            ActionKind::Menu { .. } => "menu",
            ActionKind::Queue(_) => "queue",
        }
    }
}

/// Where a redirect `path` leads, resolved at load time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Welcome,
    Hangup,
    Menu(Option<String>),
    MenuOption(Option<String>, char),
    Action(String),
}

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

/// A validated IVR.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub twilio: TwilioSettings,
    pub aws: AwsSettings,
    pub ivr: IvrSettings,
    pub welcome: Welcome,
    pub main_menu: Menu,
    pub menus: BTreeMap<String, Menu>,
    pub actions: BTreeMap<String, Action>,
    pub hours: BTreeMap<String, OpeningHours>,
    /// `[hours_NAME]` line numbers, for diagrams and messages.
    pub hours_lines: BTreeMap<String, usize>,
    /// `[agent_line_NAME]`, by NAME: who takes callers from a queue.
    pub agent_lines: BTreeMap<String, AgentLine>,
}

impl Config {
    /// The main menu for `None`, a `[menu_NAME]` for `Some(NAME)`.
    pub fn menu(&self, name: Option<&str>) -> Option<&Menu> {
        match name {
            None => Some(&self.main_menu),
            Some(n) => self.menus.get(n),
        }
    }

    pub fn action(&self, name: &str) -> Option<&Action> {
        self.actions.get(name)
    }

    /// Whether a recording made by `action` is deleted from Twilio once exported.
    pub fn keeps_twilio_copy(&self, action: &Action) -> bool {
        let own = match &action.kind {
            ActionKind::Forward(f) => f.keep_twilio_copy,
            ActionKind::Voicemail(v) => v.keep_twilio_copy,
            _ => None,
        };
        own.unwrap_or(self.aws.keep_twilio_copy)
    }

    /// The agent line a recording's `initiated_by_section` names (`agent_line_NAME`).
    pub fn agent_line_by_section(&self, section: &str) -> Option<&AgentLine> {
        section
            .strip_prefix("agent_line_")
            .and_then(|name| self.agent_lines.get(name))
    }

    /// Queue actions an agent line takes callers from (same queue name).
    pub fn queue_actions_of<'a>(&'a self, line: &'a AgentLine) -> impl Iterator<Item = &'a Action> {
        self.actions
            .values()
            .filter(move |a| matches!(&a.kind, ActionKind::Queue(q) if q.queue == line.queue))
    }

    /// Parses and validates config text. `Err` holds every error found;
    /// `Ok` carries the warnings (unreachable sections, deprecated keys).
    pub fn parse(text: &str) -> Result<Loaded, Vec<Diagnostic>> {
        build::build(text)
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

/// A valid config plus what `ivr check` should still mention.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Diagnostic>,
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

/// A config file that could not be loaded.
#[derive(Debug, Clone)]
pub struct LoadError {
    pub path: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self
            .diagnostics
            .iter()
            .map(|d| d.render(&self.path))
            .collect();
        write!(f, "{}", lines.join("; "))
    }
}

impl std::error::Error for LoadError {}

#[cfg(test)]
mod tests;
