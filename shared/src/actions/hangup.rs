//! `type = hangup`: the prompt, if any, then `<Hangup/>`. No keys of its own.

use super::{ActionType, Invoked};
use crate::answer::Answer;
use crate::config::reader::{Ctx, Sec};
use crate::twiml::{Response, Verb};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hangup;

impl ActionType for Hangup {
    const TYPE: &'static str = "hangup";

    fn parse(_: &mut Ctx, _: &Sec) -> Option<Self> {
        Some(Hangup)
    }

    fn answer(&self, _: &Answer, _: &Invoked, r: &mut Response) {
        r.push(Verb::Hangup);
    }

    fn summary(&self) -> Vec<String> {
        vec!["hang up".into()]
    }

    fn ending(&self) -> Option<(&'static str, u32)> {
        Some(("", 2))
    }
}
