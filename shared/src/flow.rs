//! The call flow: `(Config, route, parameters, now) → Reply`.
//!
//! Route → section → hours gate → the section's answer. The welcome, the
//! menus and their options are answered here; an action's answer and its
//! callback routes belong to its type in `crate::actions`, a recording's
//! status callback to `crate::recordings::callback`.
//!
//! Pure: no I/O, no clock, no environment. Side effects (an SMS to send)
//! come back as [`Effect`] data for the shell to carry out. Whatever the
//! caller pressed or Twilio posted, the answer is valid TwiML: bad input is
//! apologised for and the caller is taken back to a menu, never handed
//! Twilio's "application error".

use crate::actions::agent_line::AgentLine;
use crate::actions::queue::{self, Queue};
use crate::actions::voicemail::Voicemail;
use crate::actions::{Action, ActionKind, Invoked};
use crate::config::{Config, HoursGate, Menu};
use crate::recordings::callback;
use crate::routes::Route;
use crate::twiml::{Gather, Prompt, Response, Verb};

pub use crate::actions::voicemail::DEFAULT_VOICEMAIL;
pub use crate::answer::{Answer, Call, Effect, Params, Reply, DEFAULT_RECOVER};

/// Spoken when a key has no option and nothing better is configured.
pub const DEFAULT_INVALID: &str = "Sorry, that is not a valid choice.";

/// Answers one TwiML route. `Route::Ping` is answered by the web layer.
pub fn respond(config: &Config, route: &Route, call: &Call) -> Reply {
    let f = Flow {
        config,
        a: Answer::new(
            call,
            config.ivr.voice.as_deref(),
            config.ivr.language.as_deref(),
        ),
    };
    let a = &f.a;
    match route {
        Route::Welcome => f.welcome(),
        Route::Hangup => Reply::single(Verb::Hangup, "hangup"),
        Route::Menu => f.menu(),
        Route::MenuOption(option) => f.menu_option(option),
        Route::Action(name) => f.action(name),
        Route::ForwardStatus => match f.calling_action(|k| match k {
            ActionKind::Forward(x) => Some(x),
            _ => None,
        }) {
            Some((_, forward)) => forward.status(a),
            None => match a.param("initiated_by_section") {
                None => a.recover("forward callback without initiated_by_section"),
                Some(_) => a.recover("forward callback for a section that is not a forward action"),
            },
        },
        Route::VoicemailHangup => Voicemail::hangup(
            f.calling_action(|k| match k {
                ActionKind::Voicemail(x) => Some(x),
                _ => None,
            })
            .map(|(_, v)| v),
            a,
        ),
        Route::RecordingStatus => callback::recording_status(config, a),
        Route::QueueWait => match f.calling_queue() {
            Some((action, q)) => q.wait(a, &action.name),
            None => queue::wait_elsewhere(),
        },
        Route::QueueResult => match f.calling_queue() {
            Some((action, q)) => q.result(a, &action.name),
            None => queue::result_elsewhere(a),
        },
        Route::QueueCallback => match f.calling_queue() {
            Some((action, q)) => q.callback(a, &action.name),
            // Not a queue any more: nothing to confirm; the wait goes on.
            None => queue::wait_elsewhere(),
        },
        Route::Agent { line, step } => match config.agent_lines.get(line) {
            Some(l) => l.answer(a, *step),
            None => AgentLine::not_in_service(a, line, *step),
        },
        Route::TwilioAlerts => crate::alerts::respond(a),
        Route::Ping => Reply::new(Response::new(), "ping"),
    }
}

struct Flow<'a> {
    config: &'a Config,
    a: Answer<'a>,
}

impl Flow<'_> {
    /// The action a callback names in `initiated_by_section`, if it is of the kind `pick` wants.
    fn calling_action<T>(&self, pick: impl Fn(&ActionKind) -> Option<&T>) -> Option<(&Action, &T)> {
        let action = self.config.action(self.a.param("initiated_by_section")?)?;
        pick(&action.kind).map(|x| (action, x))
    }

    fn calling_queue(&self) -> Option<(&Action, &Queue)> {
        self.calling_action(|k| match k {
            ActionKind::Queue(q) => Some(q),
            _ => None,
        })
    }

    /// `Some(reply)` redirecting to the closed action when `gate` says closed.
    fn closed(&self, gate: &Option<HoursGate>) -> Option<Reply> {
        let gate = gate.as_ref()?;
        // Validation guarantees the hours section exists.
        let hours = self.config.hours.get(&gate.hours)?;
        if hours.is_open(self.a.call.now, self.config.ivr.timezone) {
            return None;
        }
        Some(Reply::single(
            Verb::Redirect {
                url: self.a.action_url(&gate.action_on_closed),
            },
            format!("closed ({})", gate.hours),
        ))
    }

    fn welcome(&self) -> Reply {
        let w = &self.config.welcome;
        if let Some(r) = self.closed(&w.gate) {
            return r;
        }
        let mut r = Response::new();
        if let Some(audio) = &w.audio {
            r.push(self.a.verb(audio));
        }
        r.push(Verb::Redirect {
            url: self.a.menu_url(None, None),
        });
        Reply::new(r, "welcome")
    }

    /// The menu named by `?menu=`, or the main menu.
    fn current_menu(&self) -> Result<&Menu, Reply> {
        match self.a.param("menu") {
            None => Ok(&self.config.main_menu),
            Some(name) => self
                .config
                .menus
                .get(name)
                .ok_or_else(|| self.a.recover("unknown menu")),
        }
    }

    fn menu(&self) -> Reply {
        let menu = match self.current_menu() {
            Ok(m) => m,
            Err(r) => return r,
        };
        if let Some(digits) = self.a.call.params.get("Digits").filter(|d| !d.is_empty()) {
            return self.option(menu, digits);
        }
        if let Some(r) = self.closed(&menu.gate) {
            return r;
        }
        // twilio-aws-ivr counts the first play as loop 1; a loop_count that is
        // not a number (or negative) starts over rather than failing the call.
        let loop_count = match self.a.param("loop_count") {
            None => 1,
            Some(v) => match v.parse::<u32>() {
                Ok(n) => n.saturating_add(1).min(1000),
                Err(_) => {
                    tracing::warn!(loop_count = v, "ignoring a loop_count that is not a number");
                    1
                }
            },
        };
        let name = menu.name.as_deref();
        let mut children = vec![self.a.prompt(&menu.audio)];
        if menu.pause > 0 {
            children.push(Prompt::Pause { length: menu.pause });
        }
        let mut r = Response::new();
        r.push(Verb::Gather(Gather {
            num_digits: Some(1),
            action: Some(self.a.menu_url(name, None)),
            timeout: None,
            children,
        }));
        if let Some(max) = menu.no_input_max_loops {
            if loop_count >= max {
                match &menu.no_input_action_on_max_loops {
                    Some(a) => r.push(Verb::Redirect {
                        url: self.a.action_url(a),
                    }),
                    None => r.push(Verb::Hangup),
                };
                return Reply::new(r, format!("menu {} (last loop)", menu.section));
            }
        }
        if let Some(audio) = &menu.no_input {
            r.push(self.a.verb(audio));
        }
        r.push(Verb::Redirect {
            url: self.a.menu_url(name, Some(loop_count)),
        });
        Reply::new(r, format!("menu {} (loop {loop_count})", menu.section))
    }

    fn menu_option(&self, option: &str) -> Reply {
        match self.current_menu() {
            Ok(menu) => self.option(menu, option),
            Err(r) => r,
        }
    }

    /// A key the caller pressed in `menu`.
    fn option(&self, menu: &Menu, pressed: &str) -> Reply {
        let mut chars = pressed.chars();
        let opt = match (chars.next(), chars.next()) {
            (Some(d), None) => menu.options.get(&d),
            _ => None,
        };
        let Some(opt) = opt else {
            let mut r = Response::new();
            match &menu.invalid {
                Some(audio) => r.push(self.a.verb(audio)),
                None => r.push(Verb::Say(self.a.say(DEFAULT_INVALID))),
            };
            r.push(Verb::Redirect {
                url: self.a.menu_url(menu.name.as_deref(), None),
            });
            return Reply::new(r, "invalid choice");
        };
        if let Some(r) = self.closed(&opt.gate) {
            return r;
        }
        let mut r = Response::new();
        if let Some(audio) = &opt.audio {
            r.push(self.a.verb(audio));
        }
        r.push(Verb::Redirect {
            url: self.a.action_url(&opt.action),
        });
        Reply::new(r, format!("pressed {}", opt.digit))
    }

    fn action(&self, name: &str) -> Reply {
        let Some(action) = self.config.action(name) else {
            return self.a.recover("unknown action");
        };
        if let Some(r) = self.closed(&action.gate) {
            return r;
        }
        let mut r = Response::new();
        if let Some(audio) = &action.audio {
            r.push(self.a.verb(audio));
        }
        let me = Invoked {
            name: &action.name,
            prompted: action.audio.is_some(),
        };
        action.kind.answer(&self.a, &me, &mut r);
        Reply::new(
            r,
            format!("action {} ({})", action.name, action.kind.type_name()),
        )
    }
}

#[cfg(test)]
#[path = "flow_tests.rs"]
mod tests;
