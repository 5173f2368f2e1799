//! The flow graph of a loaded [`Config`]: every edge, from the sections
//! that define them (menus here, actions in `crate::actions`), and the
//! checks over it — redirect cycles that never wait for the caller
//! (errors) and sections or hours nothing reaches (warnings).

use std::collections::BTreeSet;

use super::model::Config;
use super::reader::{Diagnostic, HoursGate};
use crate::graph::{self, Edge, EdgeKind, Node};

impl Config {
    /// Every transition the flow can take, in a stable order.
    pub fn edges(&self) -> Vec<Edge> {
        let mut edges = Vec::new();
        let gate = |edges: &mut Vec<Edge>, from: &Node, g: &Option<HoursGate>| {
            if let Some(g) = g {
                edges.push(Edge {
                    from: from.clone(),
                    to: Node::Action(g.action_on_closed.clone()),
                    kind: EdgeKind::Closed(g.hours.clone()),
                });
            }
        };
        gate(&mut edges, &Node::Welcome, &self.welcome.gate);
        edges.push(Edge {
            from: Node::Welcome,
            to: Node::Menu(None),
            kind: EdgeKind::Next,
        });
        for menu in std::iter::once(&self.main_menu).chain(self.menus.values()) {
            let from = Node::Menu(menu.name.clone());
            gate(&mut edges, &from, &menu.gate);
            for (d, opt) in &menu.options {
                let node = Node::MenuOption(menu.name.clone(), *d);
                edges.push(Edge {
                    from: from.clone(),
                    to: node.clone(),
                    kind: EdgeKind::Digit(*d),
                });
                gate(&mut edges, &node, &opt.gate);
                edges.push(Edge {
                    from: node,
                    to: Node::Action(opt.action.clone()),
                    kind: EdgeKind::Next,
                });
            }
            if let Some(a) = &menu.no_input_action_on_max_loops {
                edges.push(Edge {
                    from: from.clone(),
                    to: Node::Action(a.clone()),
                    kind: EdgeKind::NoInputMaxLoops,
                });
            }
        }
        for action in self.actions.values() {
            let from = Node::Action(action.name.clone());
            gate(&mut edges, &from, &action.gate);
            for (kind, to) in action.kind.edges() {
                edges.push(Edge {
                    from: from.clone(),
                    to,
                    kind,
                });
            }
        }
        for line in self.agent_lines.values() {
            for a in self.queue_actions_of(line) {
                edges.push(Edge {
                    from: Node::AgentLine(line.name.clone()),
                    to: Node::Action(a.name.clone()),
                    kind: EdgeKind::TakesCallers,
                });
            }
        }
        edges
    }

    /// Where calls come in: the welcome, and every queue action an agent
    /// line serves (a call-in line usually has a number of its own, pointed
    /// at `/ivr/action/NAME`).
    pub fn entries(&self) -> Vec<Node> {
        let mut roots = vec![Node::Welcome];
        for line in self.agent_lines.values() {
            for a in self.queue_actions_of(line) {
                let n = Node::Action(a.name.clone());
                if !roots.contains(&n) {
                    roots.push(n);
                }
            }
        }
        roots
    }

    /// Sections a caller can reach from an entry, by any path (agent lines are not).
    pub fn reachable(&self) -> BTreeSet<Node> {
        let edges = self.edges();
        graph::reachable(
            &self.entries(),
            edges.iter().filter(|e| e.kind != EdgeKind::TakesCallers),
        )
    }

    fn line_of(&self, node: &Node) -> usize {
        match node {
            Node::Welcome => self.welcome.line,
            Node::Menu(m) => self.menu(m.as_deref()).map_or(0, |m| m.line),
            Node::MenuOption(m, d) => self
                .menu(m.as_deref())
                .and_then(|m| m.options.get(d))
                .map_or(0, |o| o.line),
            Node::Action(a) => self.actions.get(a).map_or(0, |a| a.line),
            Node::HangupRoute => 0,
            Node::AgentLine(l) => self.agent_lines.get(l).map_or(0, |l| l.line),
        }
    }
}

/// Redirect cycles (errors) and unreachable sections (warnings).
pub(super) fn check(config: &Config) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let edges = config.edges();
    for cycle in graph::cycles_without_waiting(&edges) {
        let first = &cycle[0];
        let names: Vec<String> = cycle
            .iter()
            .chain(std::iter::once(first))
            .map(|n| format!("[{}]", n.section()))
            .collect();
        diags.push(Diagnostic::error(
            config.line_of(first),
            Some(&first.section()),
            None,
            format!(
                "redirect cycle that never waits for the caller: {}",
                names.join(" → ")
            ),
        ));
    }

    let reachable = config.reachable();
    let mut all: Vec<Node> = Vec::new();
    all.extend(config.menus.keys().map(|m| Node::Menu(Some(m.clone()))));
    for menu in std::iter::once(&config.main_menu).chain(config.menus.values()) {
        all.extend(
            menu.options
                .keys()
                .map(|d| Node::MenuOption(menu.name.clone(), *d)),
        );
    }
    all.extend(config.actions.keys().map(|a| Node::Action(a.clone())));
    for n in all {
        if !reachable.contains(&n) {
            diags.push(Diagnostic::warning(
                config.line_of(&n),
                Some(&n.section()),
                None,
                "never reached: no menu, option or action leads here",
            ));
        }
    }
    let used_hours: BTreeSet<&String> = edges
        .iter()
        .filter(|e| reachable.contains(&e.from))
        .filter_map(|e| match &e.kind {
            EdgeKind::Closed(h) => Some(h),
            _ => None,
        })
        .collect();
    for (h, line) in &config.hours_lines {
        if !used_hours.contains(h) {
            diags.push(Diagnostic::warning(
                *line,
                Some(&format!("hours_{h}")),
                None,
                "never used: no reachable section sets `hours` to it",
            ));
        }
    }
    diags
}
