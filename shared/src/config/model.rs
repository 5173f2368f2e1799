//! The validated config: what the flow reads at run time.

use std::collections::BTreeMap;
use std::fmt;

use chrono_tz::Tz;

use super::reader::{Audio, Diagnostic, HoursGate};
use crate::actions::agent_line::AgentLine;
use crate::actions::{Action, ActionKind};
use crate::hours::OpeningHours;
use crate::recordings::job::RecordingPlan;

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

    /// What the recordings pipeline does with a recording `section` made
    /// (an action's NAME, or `agent_line_NAME`); `None`: it does not record.
    pub fn recording_plan(&self, section: &str) -> Option<RecordingPlan> {
        match self.agent_line_by_section(section) {
            Some(line) => line.recording(),
            None => self.action(section)?.kind.recording(),
        }
    }

    /// Whether a recording with this plan is deleted from Twilio once exported.
    pub fn keeps_twilio_copy(&self, plan: &RecordingPlan) -> bool {
        plan.keep_twilio_copy.unwrap_or(self.aws.keep_twilio_copy)
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

    /// Every queue this IVR fills or takes callers from (queue actions and
    /// agent lines): the queues a callback may name.
    pub fn queues(&self) -> std::collections::BTreeSet<String> {
        let filled = self.actions.values().filter_map(|a| match &a.kind {
            ActionKind::Queue(q) => Some(q.queue.clone()),
            _ => None,
        });
        filled
            .chain(self.agent_lines.values().map(|l| l.queue.clone()))
            .collect()
    }

    /// Whether any section sends email alerts (so the shell needs a mailer).
    pub fn sends_email(&self) -> bool {
        self.actions
            .values()
            .filter_map(|a| a.kind.recording())
            .any(|p| !p.email_to.is_empty())
    }
}

/// A valid config plus what `ivr check` should still mention.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Diagnostic>,
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
