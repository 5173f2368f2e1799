//! The call flow as a graph of sections: for redirect-cycle and
//! reachability checks here, and for `ivr graph` diagrams.

use std::collections::{BTreeMap, BTreeSet};

use super::{ActionKind, Config, Diagnostic, HoursGate, Target};

/// A place in the call flow; named by its config section.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Node {
    Welcome,
    Menu(Option<String>),
    MenuOption(Option<String>, char),
    Action(String),
    /// The built-in `/ivr/hangup` route.
    HangupRoute,
    /// `[agent_line_NAME]`: an entry of its own, for agents.
    AgentLine(String),
}

impl Node {
    /// The config section this node stands for.
    pub fn section(&self) -> String {
        match self {
            Node::Welcome => "ivr_welcome".into(),
            Node::Menu(None) => "ivr_menu".into(),
            Node::Menu(Some(m)) => format!("menu_{m}"),
            Node::MenuOption(None, d) => format!("ivr_menu_option_{d}"),
            Node::MenuOption(Some(m), d) => format!("menu_{m}_option_{d}"),
            Node::Action(a) => format!("action_{a}"),
            Node::HangupRoute => "/ivr/hangup".into(),
            Node::AgentLine(l) => format!("agent_line_{l}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum EdgeKind {
    /// Taken when `hours` says closed.
    Closed(String),
    /// Taken straight away (when open, if the section has hours).
    Next,
    Digit(char),
    NoInputMaxLoops,
    DialBusy,
    DialNoAnswer,
    DialFailed,
    DialCanceled,
    /// A queue's caller pressed 1 when the wait was long.
    LongWait,
    /// An agent line takes callers from a queue action's queue.
    TakesCallers,
}

impl EdgeKind {
    /// True if the caller gets a chance to act (or a call is placed) first,
    /// so a cycle through this edge is not a tight redirect loop.
    pub fn waits(&self) -> bool {
        !matches!(self, EdgeKind::Closed(_) | EdgeKind::Next)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Edge {
    pub from: Node,
    pub to: Node,
    pub kind: EdgeKind,
}

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
            match &action.kind {
                ActionKind::Redirect { target, .. } => edges.push(Edge {
                    from: from.clone(),
                    to: match target {
                        Target::Welcome => Node::Welcome,
                        Target::Hangup => Node::HangupRoute,
                        Target::Menu(m) => Node::Menu(m.clone()),
                        Target::MenuOption(m, d) => Node::MenuOption(m.clone(), *d),
                        Target::Action(a) => Node::Action(a.clone()),
                    },
                    kind: EdgeKind::Next,
                }),
                ActionKind::Menu { menu } => edges.push(Edge {
                    from: from.clone(),
                    to: Node::Menu(Some(menu.clone())),
                    kind: EdgeKind::Next,
                }),
                ActionKind::Forward(f) => {
                    for (to, kind) in [
                        (&f.action_on_busy, EdgeKind::DialBusy),
                        (&f.action_on_no_answer, EdgeKind::DialNoAnswer),
                        (&f.action_on_failed, EdgeKind::DialFailed),
                        (&f.action_on_canceled, EdgeKind::DialCanceled),
                    ] {
                        edges.push(Edge {
                            from: from.clone(),
                            to: Node::Action(to.clone()),
                            kind,
                        });
                    }
                }
                ActionKind::Queue(q) => {
                    if let Some(lw) = &q.long_wait {
                        edges.push(Edge {
                            from: from.clone(),
                            to: Node::Action(lw.action.clone()),
                            kind: EdgeKind::LongWait,
                        });
                    }
                }
                ActionKind::Hangup | ActionKind::Voicemail(_) => {}
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
        let edges: Vec<Edge> = self
            .edges()
            .into_iter()
            .filter(|e| e.kind != EdgeKind::TakesCallers)
            .collect();
        let mut seen = BTreeSet::new();
        let mut stack = self.entries();
        while let Some(n) = stack.pop() {
            if seen.insert(n.clone()) {
                stack.extend(edges.iter().filter(|e| e.from == n).map(|e| e.to.clone()));
            }
        }
        seen
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
    let mut auto: BTreeMap<&Node, Vec<&Node>> = BTreeMap::new();
    for e in edges.iter().filter(|e| !e.kind.waits()) {
        auto.entry(&e.from).or_default().push(&e.to);
    }
    // Depth-first search for a cycle made only of edges taken without waiting.
    let mut state: BTreeMap<&Node, u8> = BTreeMap::new();
    let mut reported: BTreeSet<Vec<Node>> = BTreeSet::new();
    fn dfs<'a>(
        n: &'a Node,
        auto: &BTreeMap<&'a Node, Vec<&'a Node>>,
        state: &mut BTreeMap<&'a Node, u8>,
        path: &mut Vec<&'a Node>,
        cycles: &mut Vec<Vec<Node>>,
    ) {
        state.insert(n, 1);
        path.push(n);
        for next in auto.get(n).into_iter().flatten() {
            match state.get(next).copied().unwrap_or(0) {
                0 => dfs(next, auto, state, path, cycles),
                1 => {
                    let start = path.iter().position(|p| p == next).unwrap_or(0);
                    cycles.push(path[start..].iter().map(|n| (*n).clone()).collect());
                }
                _ => {}
            }
        }
        path.pop();
        state.insert(n, 2);
    }
    let mut cycles = Vec::new();
    let nodes: Vec<&Node> = auto.keys().copied().collect();
    for n in nodes {
        if state.get(n).copied().unwrap_or(0) == 0 {
            dfs(n, &auto, &mut state, &mut Vec::new(), &mut cycles);
        }
    }
    for cycle in cycles {
        let mut key = cycle.clone();
        key.sort();
        if !reported.insert(key) {
            continue;
        }
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
    let used_hours: BTreeSet<String> = edges
        .iter()
        .filter(|e| reachable.contains(&e.from))
        .filter_map(|e| match &e.kind {
            super::EdgeKind::Closed(h) => Some(h.clone()),
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
