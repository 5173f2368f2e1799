//! `type = menu`: go to a sub-menu `[menu_NAME]`.
//!
//! | key | meaning |
//! |---|---|
//! | `menu` | **required**: the NAME of a `[menu_NAME]` |

use super::{ActionType, Invoked};
use crate::answer::Answer;
use crate::config::reader::{Ctx, Sec};
use crate::graph::{EdgeKind, Node};
use crate::twiml::{Response, Verb};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuAction {
    pub menu: String,
}

impl ActionType for MenuAction {
    const TYPE: &'static str = "menu";

    fn parse(cx: &mut Ctx, sec: &Sec) -> Option<Self> {
        sec.require(cx, "menu")?;
        Some(MenuAction {
            menu: sec.menu_ref(cx, "menu")?,
        })
    }

    fn answer(&self, a: &Answer, _: &Invoked, r: &mut Response) {
        r.push(Verb::Redirect {
            url: a.menu_url(Some(&self.menu), None),
        });
    }

    fn edges(&self) -> Vec<(EdgeKind, Node)> {
        vec![(EdgeKind::Next, Node::Menu(Some(self.menu.clone())))]
    }

    fn summary(&self) -> Vec<String> {
        vec![format!("go to menu_{}", self.menu)]
    }
}
