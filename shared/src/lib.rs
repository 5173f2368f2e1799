//! The IVR's library: everything between a Twilio webhook and its TwiML.
//!
//! `config.ini` is parsed and validated once into a [`config::Config`]; the
//! pure [`flow`] turns (config, route, parameters, now) into TwiML plus
//! effects; [`web`] applies the HTTP rules every entry point shares
//! (signatures, size limits, public URLs); [`effects`] carries out effects;
//! [`shell`] reads the environment. The Lambda functions and `ivr serve`
//! are thin wrappers around these.
//!
//! One home per concept, in layers (each module uses only those above it
//! in this list; there are no import cycles):
//!
//! | module | owns |
//! |---|---|
//! | [`ids`], [`phone`], [`twiml`], [`ini`], [`hours`], [`signature`], [`graph`] | leaves: identifier checks; typed phone numbers made E.164; the typed TwiML tree and its one writer; the INI reader; opening hours; webhook signatures; flow-graph nodes and searches |
//! | [`routes`] | every path, parsed and written ([`routes::Links`]) |
//! | `config::reader` | reading one section: typed values, diagnostics, unknown keys |
//! | [`answer`] | a request, a reply, effects, and the toolbox for writing TwiML |
//! | [`alerts`] | Twilio's Debugger notifications (`/twilio/alerts`): read, explained by code, logged |
//! | [`actions`] | one file per action type (and agent lines): keys, validation, TwiML, callback routes, graph edges, recording plan |
//! | [`config`] | the validated `Config`, built from the document; the flow-graph checks |
//! | [`flow`] | route → section → hours gate → the section's answer |
//! | [`recordings`] | the recording status callback and the pipeline (export, alerts, delete) behind its ports |
//! | [`effects`], [`shell`], [`web`], `lambda`, `twilio` | the shell: carrying out effects, the environment, HTTP rules, Lambda glue, Twilio's REST API |
//! | [`work`] | work items (callbacks, voicemails): the model and the store trait (beside [`answer`], whose effects name them), the contract, SQLite (`sqlite` feature), and the JSON API (shell) |
//!
//! Not here: HTTP servers and clients for the operator tools (see the `ivr`
//! crate), and anything that needs the network on the TwiML hot path.

pub mod actions;
pub mod alerts;
pub mod answer;
pub mod config;
pub mod effects;
pub mod flow;
pub mod graph;
pub mod hours;
pub mod ids;
pub mod ini;
pub mod phone;
pub mod recordings;
pub mod routes;
pub mod shell;
pub mod signature;
pub mod twiml;
pub mod web;
pub mod work;

#[cfg(feature = "lambda")]
pub mod lambda;
#[cfg(feature = "twilio-rest")]
pub mod twilio;

pub use config::Config;
pub use routes::{Function, Route};
