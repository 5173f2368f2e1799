//! The action types: one file each, owning everything about its type —
//! its keys and their validation, its TwiML, its callback routes, the edges
//! it adds to the flow graph, what it asks of the recordings pipeline, and
//! how `ivr graph` labels it.
//!
//! | type | file | callback routes it answers |
//! |---|---|---|
//! | `hangup` | [`hangup`] | |
//! | `redirect` | [`redirect`] | |
//! | `menu` | [`menu`] | |
//! | `forward` | [`forward`] | `/ivr/callback/forward/call_status` |
//! | `voicemail` | [`voicemail`] | `/ivr/callback/voicemail/hangup` |
//! | `queue` | [`queue`] | `/ivr/queue/wait`, `/ivr/queue/result` |
//!
//! `[agent_line_NAME]` sections are not actions but live beside them in
//! [`agent_line`] (they answer `/ivr/agent/…`). Recording status callbacks
//! (`/ivr/callback/voicemail/alert_sms`) belong to `crate::recordings`,
//! which asks each type for its [`RecordingPlan`].
//!
//! Adding a type: a new file implementing [`ActionType`], and one line in
//! the `action_types!` list below.

pub mod agent_line;
pub mod forward;
pub mod hangup;
pub mod menu;
pub mod queue;
pub mod redirect;
pub mod voicemail;

use crate::answer::Answer;
use crate::config::reader::{hint, Audio, Ctx, HoursGate, Sec};
use crate::graph::{EdgeKind, Node};
use crate::recordings::job::RecordingPlan;
use crate::twiml::Response;

/// What every `[action_NAME]` has, whatever its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    pub name: String,
    pub section: String,
    pub line: usize,
    pub gate: Option<HoursGate>,
    /// Played first (`play_sample` / `say`).
    pub audio: Option<Audio>,
    pub kind: ActionKind,
}

/// The action being answered, as its type sees it.
pub struct Invoked<'a> {
    /// The action's NAME (`[action_NAME]`): what its callbacks carry as `initiated_by_section`.
    pub name: &'a str,
    /// Whether the action's own prompt was played first.
    pub prompted: bool,
}

/// One action type.
pub(crate) trait ActionType: Sized {
    /// The `type = …` value.
    const TYPE: &'static str;
    /// Reads the type's own keys; `None` after reporting what is wrong.
    fn parse(cx: &mut Ctx, sec: &Sec) -> Option<Self>;
    /// The TwiML that follows the hours gate and the action's prompt.
    fn answer(&self, a: &Answer, me: &Invoked, r: &mut Response);
    /// Where the call can go from here (hours gates are added for every type).
    fn edges(&self) -> Vec<(EdgeKind, Node)> {
        Vec::new()
    }
    /// What the recordings pipeline does with a recording this action made.
    fn recording(&self) -> Option<RecordingPlan> {
        None
    }
    /// What the action does, for `ivr graph`'s box (after its prompt).
    fn summary(&self) -> Vec<String>;
    /// How the call ends after this action, for `ivr graph`: the arrow's label and rank.
    fn ending(&self) -> Option<(&'static str, u32)> {
        None
    }
}

macro_rules! action_types {
    ($($variant:ident => $module:ident :: $ty:ident,)*) => {
        /// An action's type and what only that type has.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum ActionKind {
            $($variant($module::$ty),)*
        }

        /// Every `type = …` value, in the order the README lists them.
        pub const TYPES: &[&str] = &[$(<$module::$ty as ActionType>::TYPE,)*];

        impl ActionKind {
            pub fn type_name(&self) -> &'static str {
                match self {
                    $(ActionKind::$variant(_) => <$module::$ty as ActionType>::TYPE,)*
                }
            }

            /// `Err(())` for a type nobody knows; `Ok(None)` after reporting errors.
            fn parse(ty: &str, cx: &mut Ctx, sec: &Sec) -> Result<Option<ActionKind>, ()> {
                $(if ty == <$module::$ty as ActionType>::TYPE {
                    return Ok(<$module::$ty as ActionType>::parse(cx, sec).map(ActionKind::$variant));
                })*
                Err(())
            }

            pub(crate) fn answer(&self, a: &Answer, me: &Invoked, r: &mut Response) {
                match self {
                    $(ActionKind::$variant(x) => x.answer(a, me, r),)*
                }
            }

            pub fn edges(&self) -> Vec<(EdgeKind, Node)> {
                match self {
                    $(ActionKind::$variant(x) => x.edges(),)*
                }
            }

            pub fn recording(&self) -> Option<RecordingPlan> {
                match self {
                    $(ActionKind::$variant(x) => x.recording(),)*
                }
            }

            pub fn summary(&self) -> Vec<String> {
                match self {
                    $(ActionKind::$variant(x) => x.summary(),)*
                }
            }

            pub fn ending(&self) -> Option<(&'static str, u32)> {
                match self {
                    $(ActionKind::$variant(x) => x.ending(),)*
                }
            }
        }
    };
}

action_types! {
    Forward => forward::Forward,
    Hangup => hangup::Hangup,
    Redirect => redirect::Redirect,
    Voicemail => voicemail::Voicemail,
    Menu => menu::MenuAction,
    Queue => queue::Queue,
}

/// Parses one `[action_NAME]` section: the keys every action has, then its type's.
pub(crate) fn parse(cx: &mut Ctx, name: &str, sec: Sec) -> Option<Action> {
    let ty = sec.require(cx, "type")?;
    let ty_value = ty.value.trim().to_ascii_lowercase();
    let gate = sec.gate(cx);
    let audio = sec.audio(cx, "play_sample", "say");
    let kind = match ActionKind::parse(&ty_value, cx, &sec) {
        Ok(kind) => kind,
        Err(()) => {
            let hint = hint(&ty_value, TYPES.iter().copied());
            cx.err(
                ty.line,
                sec.name(),
                Some("type"),
                format!(
                    "unknown action type `{ty_value}`: use {}{hint}",
                    list_types()
                ),
            );
            return None;
        }
    };
    let (section, line) = (sec.name().to_string(), sec.line());
    sec.finish(cx, &format!("a {ty_value} action"));
    Some(Action {
        name: name.to_string(),
        section,
        line,
        gate,
        audio,
        kind: kind?,
    })
}

/// `forward, hangup, …, menu or queue`.
fn list_types() -> String {
    match TYPES.split_last() {
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}
