//! The IVR's library: everything between a Twilio webhook and its TwiML.
//!
//! `config.ini` is parsed and validated once into a [`config::Config`]; the
//! pure [`flow`] turns (config, route, parameters, now) into TwiML plus
//! effects; [`web`] applies the HTTP rules every entry point shares
//! (signatures, size limits, public URLs); [`shell`] carries out effects and
//! reads the environment. The Lambda functions and `ivr serve` are thin
//! wrappers around these.
//!
//! Not here: HTTP servers and clients for the operator tools (see the `ivr`
//! crate), and anything that needs the network on the TwiML hot path.

pub mod config;
pub mod flow;
pub mod hours;
pub mod ini;
pub mod queue;
pub mod recordings;
pub mod routes;
pub mod shell;
pub mod signature;
pub mod twiml;
pub mod web;

#[cfg(feature = "lambda")]
pub mod lambda;
#[cfg(feature = "twilio-rest")]
pub mod twilio;

pub use config::Config;
pub use routes::{Function, Route};
