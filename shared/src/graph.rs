//! The call flow as a graph: places (config sections) and the transitions
//! between them, with the two searches validation needs.
//!
//! Each section type says which edges leave it (menus here in the config,
//! actions in `crate::actions`); `config::check` assembles them for the
//! redirect-cycle and reachability checks, and `ivr graph` draws them.
//! Pure data and algorithms: this module depends only on `routes`.
//! Both searches are iterative and linear in the size of the graph, so a
//! config of tens of thousands of sections is checked in milliseconds and
//! cannot overflow the stack.

use std::collections::{BTreeMap, BTreeSet};

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
            Node::HangupRoute => crate::routes::Route::Hangup.path(),
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

/// Every node reachable from `roots` along `edges`.
pub fn reachable<'a>(
    roots: impl IntoIterator<Item = &'a Node>,
    edges: impl IntoIterator<Item = &'a Edge>,
) -> BTreeSet<Node> {
    let mut out: BTreeMap<&Node, Vec<&Node>> = BTreeMap::new();
    for e in edges {
        out.entry(&e.from).or_default().push(&e.to);
    }
    let mut seen: BTreeSet<&Node> = BTreeSet::new();
    let mut stack: Vec<&Node> = roots.into_iter().collect();
    while let Some(n) = stack.pop() {
        if seen.insert(n) {
            stack.extend(out.get(n).into_iter().flatten().copied());
        }
    }
    seen.into_iter().cloned().collect()
}

/// Cycles made only of edges taken without waiting for the caller, each
/// once, as the path from its first node round to the node before it.
/// An iterative depth-first search (colours: unseen, on the path, done).
pub fn cycles_without_waiting(edges: &[Edge]) -> Vec<Vec<Node>> {
    let mut auto: BTreeMap<&Node, Vec<&Node>> = BTreeMap::new();
    for e in edges.iter().filter(|e| !e.kind.waits()) {
        auto.entry(&e.from).or_default().push(&e.to);
    }
    const ON_PATH: u8 = 1;
    const DONE: u8 = 2;
    let mut colour: BTreeMap<&Node, u8> = BTreeMap::new();
    let mut cycles = Vec::new();
    let mut reported: BTreeSet<Vec<Node>> = BTreeSet::new();
    let starts: Vec<&Node> = auto.keys().copied().collect();
    for start in starts {
        if colour.contains_key(start) {
            continue;
        }
        // The path, each node with the index of the next successor to try.
        let mut path: Vec<(&Node, usize)> = vec![(start, 0)];
        colour.insert(start, ON_PATH);
        while let Some((node, next)) = path.last_mut() {
            let succ = auto.get(*node).and_then(|s| s.get(*next)).copied();
            *next += 1;
            match succ {
                None => {
                    colour.insert(*node, DONE);
                    path.pop();
                }
                Some(s) => match colour.get(s).copied() {
                    None => {
                        colour.insert(s, ON_PATH);
                        path.push((s, 0));
                    }
                    Some(ON_PATH) => {
                        let from = path.iter().position(|(p, _)| *p == s).unwrap_or(0);
                        let cycle: Vec<Node> =
                            path[from..].iter().map(|(n, _)| (*n).clone()).collect();
                        let mut key = cycle.clone();
                        key.sort();
                        if reported.insert(key) {
                            cycles.push(cycle);
                        }
                    }
                    Some(_) => {}
                },
            }
        }
    }
    cycles
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(from: &str, to: &str, kind: EdgeKind) -> Edge {
        Edge {
            from: Node::Action(from.into()),
            to: Node::Action(to.into()),
            kind,
        }
    }

    #[test]
    fn finds_tight_cycles_only() {
        let edges = vec![
            edge("a", "b", EdgeKind::Next),
            edge("b", "a", EdgeKind::Next),
            edge("c", "d", EdgeKind::Next),
            edge("d", "c", EdgeKind::DialBusy),
        ];
        let cycles = cycles_without_waiting(&edges);
        assert_eq!(
            cycles,
            vec![vec![Node::Action("a".into()), Node::Action("b".into())]]
        );
    }

    #[test]
    fn a_long_chain_is_searched_without_recursion() {
        let n = 100_000;
        let mut edges: Vec<Edge> = (0..n)
            .map(|i| edge(&i.to_string(), &(i + 1).to_string(), EdgeKind::Next))
            .collect();
        assert!(cycles_without_waiting(&edges).is_empty());
        edges.push(edge(&n.to_string(), "0", EdgeKind::Next));
        assert_eq!(cycles_without_waiting(&edges)[0].len(), n + 1);
        let roots = [Node::Action("0".into())];
        assert_eq!(reachable(&roots, &edges).len(), n + 1);
    }
}
