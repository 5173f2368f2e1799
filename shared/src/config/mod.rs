//! `config.ini` → a typed, validated [`Config`].
//!
//! The format is a superset of twilio-aws-ivr's: every section and key it
//! knew keeps its meaning. Validation happens once, here, and collects every
//! problem as a [`Diagnostic`] that names the line, section and key, so
//! `ivr check` can list them all before a deploy. A `Config` that loaded
//! without errors cannot make the flow fail at run time.
//!
//! | file | what |
//! |---|---|
//! | `reader` | one section → typed values; every key a parser asks for is known, the rest are reported |
//! | `model` | the validated [`Config`] the flow reads |
//! | `build` | the document → `Config`: section names, the fixed sections, menus, hours, cross-checks |
//! | `check` | the flow graph of a `Config`: redirect cycles (errors), unreachable sections (warnings) |
//!
//! Each action type reads its own keys in `crate::actions`.

mod build;
mod check;
mod model;
pub(crate) mod reader;

pub use crate::actions::agent_line::AgentLine;
pub use crate::actions::forward::Forward;
pub use crate::actions::queue::{LongWait, Queue};
pub use crate::actions::redirect::Redirect;
pub use crate::actions::voicemail::Voicemail;
pub use crate::actions::{Action, ActionKind};
pub use crate::graph::{Edge, EdgeKind, Node};
pub use crate::ids::{is_e164, is_email, is_http_url};
pub use model::*;
pub use reader::{Audio, Diagnostic, HoursGate, Severity};

#[cfg(test)]
mod tests;
