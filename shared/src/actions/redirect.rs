//! `type = redirect`: go to one of our routes.
//!
//! | key | meaning |
//! |---|---|
//! | `path` | **required**: `/ivr`, `/ivr/menu` (`?menu=NAME`), `/ivr/menu/DIGIT`, `/ivr/action/NAME` or `/ivr/hangup` |
//!
//! A path is read with [`Route::parse`], like a request's, and resolved to
//! the section it leads to once every section is known ([`resolve`]).

use super::{ActionType, Invoked};
use crate::answer::Answer;
use crate::config::reader::{Ctx, Sec};
use crate::graph::{EdgeKind, Node};
use crate::routes::Route;
use crate::twiml::{Response, Verb};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// As written in config.ini.
    pub path: String,
    /// Where it leads; set by [`resolve`] once every section is known.
    pub target: Node,
}

impl ActionType for Redirect {
    const TYPE: &'static str = "redirect";

    fn parse(cx: &mut Ctx, sec: &Sec) -> Option<Self> {
        let e = sec.require(cx, "path")?;
        Some(Redirect {
            path: e.value.trim().to_string(),
            target: Node::HangupRoute,
        })
    }

    fn answer(&self, a: &Answer, _: &Invoked, r: &mut Response) {
        r.push(Verb::Redirect {
            url: a.links.configured(&self.path),
        });
    }

    fn edges(&self) -> Vec<(EdgeKind, Node)> {
        vec![(EdgeKind::Next, self.target.clone())]
    }

    fn summary(&self) -> Vec<String> {
        vec![format!("redirect {}", self.path)]
    }
}

/// What [`resolve`] needs to know about the config's sections.
pub(crate) trait Sections {
    fn has_menu(&self, name: &str) -> bool;
    /// `None` when the menu does not exist; else whether it has the option.
    fn menu_has_option(&self, menu: Option<&str>, digit: char) -> bool;
    /// The section name of a menu, for messages.
    fn menu_section(&self, menu: Option<&str>) -> String;
    fn has_action(&self, name: &str) -> bool;
    /// " (did you mean …)" for an unknown action.
    fn action_hint(&self, name: &str) -> String;
}

/// The section a redirect `path` leads to, or why it is no route.
pub(crate) fn resolve(sections: &dyn Sections, path: &str) -> Result<Node, String> {
    if !path.starts_with('/') {
        return Err(format!(
            "`{path}` must be a path starting with `/`, like /ivr/menu or /ivr/action/NAME"
        ));
    }
    let (p, query) = path.split_once('?').unwrap_or((path, ""));
    let mut menu: Option<String> = None;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "menu" if sections.has_menu(&v) => menu = Some(v.into_owned()),
            "menu" => {
                return Err(format!(
                    "`{path}` names menu `{v}`, which has no section [menu_{v}]"
                ))
            }
            "loop_count" => {}
            other => return Err(format!("`{path}`: unknown query parameter `{other}`")),
        }
    }
    let no_route = || {
        format!(
            "`{path}` is no route: use /ivr, /ivr/menu, /ivr/menu/DIGIT, /ivr/action/NAME or /ivr/hangup"
        )
    };
    // twilio-aws-ivr accepted an empty path for the welcome.
    let route = if p.trim_end_matches('/').is_empty() {
        Route::Welcome
    } else {
        Route::parse(p).ok_or_else(no_route)?
    };
    match route {
        Route::Welcome => Ok(Node::Welcome),
        Route::Hangup => Ok(Node::HangupRoute),
        Route::Menu => Ok(Node::Menu(menu)),
        Route::MenuOption(d) => {
            let mut cs = d.chars();
            let digit = match (cs.next(), cs.next()) {
                (Some(c @ '0'..='9'), None) => c,
                _ => return Err(format!("`{path}`: menu options are single digits 0-9")),
            };
            if !sections.menu_has_option(menu.as_deref(), digit) {
                return Err(format!(
                    "`{path}`: [{}] has no option {digit}",
                    sections.menu_section(menu.as_deref())
                ));
            }
            Ok(Node::MenuOption(menu, digit))
        }
        Route::Action(a) => {
            if sections.has_action(&a) {
                Ok(Node::Action(a))
            } else {
                Err(format!(
                    "`{path}`: no section [action_{a}]{}",
                    sections.action_hint(&a)
                ))
            }
        }
        _ => Err(no_route()),
    }
}
