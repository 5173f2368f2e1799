//! `ivr graph`: the call flow as a picture.
//!
//! The incoming call → hours checks (open / closed) → menus and the digits
//! that leave them → actions → forward fallbacks → voicemail → hang up, as a
//! Mermaid flowchart (GitHub renders it in Markdown) or Graphviz DOT. A call
//! queue served by an agent line is an entry of its own (its own number);
//! agent lines are drawn as entries too, with a dashed arrow to the queues
//! they take callers from.
//! Sections nothing leads to are drawn apart, in a subgraph titled
//! "unreachable". The output is deterministic: the same config always gives
//! the same text, so the README's copy can be checked by a test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::ExitCode;

use clap::ValueEnum;
use shared::config::{Audio, Config, EdgeKind, Node};
use shared::Route;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Mermaid flowchart (GitHub renders ```mermaid blocks)
    Mermaid,
    /// Graphviz (`dot -Tsvg`)
    Dot,
}

pub fn run(path: &Path, format: Format) -> ExitCode {
    let shown = path.display().to_string();
    match Config::load(path) {
        Ok(loaded) => {
            print!("{}", render(&loaded.config, format));
            ExitCode::SUCCESS
        }
        Err(e) => {
            for d in &e.diagnostics {
                eprintln!("{}", d.render(&shown));
            }
            eprintln!(
                "{shown}: {} error(s); run `ivr check {shown}`",
                e.diagnostics.len()
            );
            ExitCode::from(1)
        }
    }
}

/// A box in the picture.
#[derive(Debug, Clone, PartialEq, Eq)]
enum G {
    /// The incoming call.
    Start,
    /// A call straight to a section (a call-in line's own number).
    Entry(Node),
    /// The hours check in front of a section.
    Hours(Node),
    Section(Node),
    /// The call ends.
    End,
}

impl G {
    /// Sort key: start, then each section with its hours check just before it, then the end.
    fn key(&self) -> (u8, Option<&Node>, u8) {
        match self {
            G::Start => (0, None, 0),
            G::Entry(n) => (0, Some(n), 1),
            G::Hours(n) => (1, Some(n), 0),
            G::Section(n) => (1, Some(n), 1),
            G::End => (2, None, 0),
        }
    }

    fn id(&self) -> String {
        match self {
            G::Start => "incoming".into(),
            G::End => "hangup".into(),
            G::Entry(n) => format!("incoming__{}", escape_id(&section_name(n))),
            G::Hours(n) => format!("hours__{}", escape_id(&section_name(n))),
            G::Section(n) => escape_id(&section_name(n)),
        }
    }
}

/// An arrow; `rank` orders the arrows leaving one box.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Arrow {
    from: G,
    to: G,
    label: String,
    rank: u32,
    /// Not a step of a call: an agent line taking callers from a queue.
    dashed: bool,
}

fn section_name(n: &Node) -> String {
    n.section()
}

/// Letters, digits and `_` stay; anything else becomes `_xHH_`.
fn escape_id(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("_x{b:02x}_"));
            }
        }
    }
    out
}

/// The flow as boxes and arrows, before any syntax.
struct Picture {
    boxes: Vec<(G, Vec<String>)>,
    arrows: Vec<Arrow>,
    unreachable: BTreeSet<String>,
}

fn edge_rank(kind: &EdgeKind) -> u32 {
    match kind {
        EdgeKind::Closed(_) => 1,
        EdgeKind::Next => 2,
        EdgeKind::Digit(d) => 10 + u32::from(*d),
        EdgeKind::NoInputMaxLoops => 100,
        EdgeKind::DialBusy => 111,
        EdgeKind::DialNoAnswer => 112,
        EdgeKind::DialFailed => 113,
        EdgeKind::DialCanceled => 114,
        EdgeKind::LongWait => 120,
        EdgeKind::TakesCallers => 130,
    }
}

/// What shapes the picture: which sections have an hours check in front,
/// and which menu options are drawn as arrows rather than boxes.
struct Layout<'a> {
    config: &'a Config,
    edges: Vec<shared::config::Edge>,
    /// Sections with an hours check in front of them: node → hours name.
    gated: BTreeMap<Node, String>,
    /// How many arrows lead into each node.
    incoming: BTreeMap<Node, usize>,
}

impl<'a> Layout<'a> {
    fn new(config: &'a Config) -> Self {
        let edges = config.edges();
        let mut gated = BTreeMap::new();
        let mut incoming: BTreeMap<Node, usize> = BTreeMap::new();
        for e in &edges {
            if let EdgeKind::Closed(h) = &e.kind {
                gated.insert(e.from.clone(), h.clone());
            }
            *incoming.entry(e.to.clone()).or_default() += 1;
        }
        Layout {
            config,
            edges,
            gated,
            incoming,
        }
    }

    /// A menu option that says nothing is drawn as the digit's arrow (through
    /// its hours check, if it has one) rather than as a box of its own.
    fn collapsed(&self, n: &Node) -> bool {
        let option = match n {
            Node::MenuOption(m, d) => self
                .config
                .menu(m.as_deref())
                .and_then(|m| m.options.get(d)),
            _ => None,
        };
        option.is_some_and(|o| o.audio.is_none() && self.incoming.get(n).copied() == Some(1))
    }

    /// The box an arrow into `n` points at.
    fn into(&self, n: &Node) -> G {
        if *n == Node::HangupRoute {
            G::End
        } else if self.gated.contains_key(n) {
            G::Hours(n.clone())
        } else {
            G::Section(n.clone())
        }
    }

    /// Where a section leads straight on to (a collapsed option's action).
    fn next_of(&self, n: &Node) -> Option<Node> {
        self.edges
            .iter()
            .find(|x| x.from == *n && x.kind == EdgeKind::Next)
            .map(|x| x.to.clone())
    }

    /// The other entries than the welcome (call-in lines' own numbers).
    fn entries(&self) -> Vec<Node> {
        self.config
            .entries()
            .into_iter()
            .filter(|n| *n != Node::Welcome)
            .collect()
    }

    /// The arrows into the flow: the incoming call and each other entry.
    fn entry_arrows(&self) -> Vec<Arrow> {
        let mut arrows = vec![plain(G::Start, self.into(&Node::Welcome), "", 0)];
        for n in self.entries() {
            arrows.push(plain(G::Entry(n.clone()), self.into(&n), "", 0));
        }
        arrows
    }

    /// "open" out of every hours check.
    fn open_arrows(&self) -> Vec<Arrow> {
        let mut arrows = Vec::new();
        for n in self.gated.keys() {
            let to = if self.collapsed(n) {
                match self.next_of(n) {
                    Some(next) => self.into(&next),
                    None => continue,
                }
            } else {
                G::Section(n.clone())
            };
            arrows.push(plain(G::Hours(n.clone()), to, "open", 0));
        }
        arrows
    }

    /// One arrow per edge of the flow (a collapsed option's two edges make one).
    fn edge_arrows(&self) -> Vec<Arrow> {
        let mut arrows = Vec::new();
        for e in &self.edges {
            let rank = edge_rank(&e.kind);
            let from = G::Section(e.from.clone());
            let (from, to, label) = match &e.kind {
                EdgeKind::Closed(_) => (
                    G::Hours(e.from.clone()),
                    self.into(&e.to),
                    "closed".to_string(),
                ),
                EdgeKind::Next if self.collapsed(&e.from) => continue,
                EdgeKind::Digit(d) if self.collapsed(&e.to) && !self.gated.contains_key(&e.to) => {
                    let Some(next) = self.next_of(&e.to) else {
                        continue;
                    };
                    (from, self.into(&next), format!("press {d}"))
                }
                EdgeKind::Digit(d) => (from, self.into(&e.to), format!("press {d}")),
                EdgeKind::Next => (from, self.into(&e.to), String::new()),
                EdgeKind::NoInputMaxLoops => {
                    (from, self.into(&e.to), no_input_label(self.config, &e.from))
                }
                EdgeKind::DialBusy => (from, self.into(&e.to), "busy".into()),
                EdgeKind::DialNoAnswer => (from, self.into(&e.to), "no-answer".into()),
                EdgeKind::DialFailed => (from, self.into(&e.to), "failed".into()),
                EdgeKind::DialCanceled => (from, self.into(&e.to), "canceled".into()),
                EdgeKind::LongWait => (from, self.into(&e.to), "long wait: press 1".into()),
                EdgeKind::TakesCallers => (
                    from,
                    G::Section(e.to.clone()),
                    "takes the next caller".into(),
                ),
            };
            arrows.push(Arrow {
                dashed: e.kind == EdgeKind::TakesCallers,
                from,
                to,
                label,
                rank,
            });
        }
        arrows
    }

    /// Where the call ends: menus that give up, and each action's own ending.
    fn end_arrows(&self) -> Vec<Arrow> {
        let config = self.config;
        let mut arrows = Vec::new();
        for menu in std::iter::once(&config.main_menu).chain(config.menus.values()) {
            if menu.no_input_max_loops.is_some() && menu.no_input_action_on_max_loops.is_none() {
                let n = Node::Menu(menu.name.clone());
                let label = no_input_label(config, &n);
                arrows.push(plain(G::Section(n), G::End, &label, 100));
            }
        }
        for a in config.actions.values() {
            if let Some((label, rank)) = a.kind.ending() {
                arrows.push(plain(
                    G::Section(Node::Action(a.name.clone())),
                    G::End,
                    label,
                    rank,
                ));
            }
        }
        arrows
    }

    /// Every section's box (a collapsed option is only an arrow), the entries' and the end's.
    fn boxes(&self, arrows: &[Arrow]) -> (Vec<(G, Vec<String>)>, BTreeSet<String>) {
        let config = self.config;
        let reachable = config.reachable();
        let mut nodes: Vec<Node> = vec![Node::Welcome];
        for menu in std::iter::once(&config.main_menu).chain(config.menus.values()) {
            nodes.push(Node::Menu(menu.name.clone()));
            for d in menu.options.keys() {
                nodes.push(Node::MenuOption(menu.name.clone(), *d));
            }
        }
        nodes.extend(config.actions.keys().map(|a| Node::Action(a.clone())));
        nodes.extend(
            config
                .agent_lines
                .keys()
                .map(|l| Node::AgentLine(l.clone())),
        );
        nodes.sort();
        let mut boxes = vec![(G::Start, vec!["incoming call".to_string()])];
        for n in self.entries() {
            let path = match &n {
                Node::Action(a) => Route::Action(a.clone()).path(),
                other => other.section(),
            };
            boxes.push((G::Entry(n), vec![format!("incoming call to {path}")]));
        }
        let mut unreachable = BTreeSet::new();
        for n in nodes {
            let agent_line = matches!(n, Node::AgentLine(_));
            if !reachable.contains(&n) && !agent_line {
                unreachable.insert(G::Section(n.clone()).id());
                unreachable.insert(G::Hours(n.clone()).id());
            }
            if let Some(h) = self.gated.get(&n) {
                boxes.push((G::Hours(n.clone()), vec![format!("hours {h}?")]));
            }
            if !self.collapsed(&n) {
                let label = describe(config, &n);
                boxes.push((G::Section(n), label));
            }
        }
        if arrows.iter().any(|a| a.to == G::End) {
            boxes.push((G::End, vec!["hang up".to_string()]));
        }
        (boxes, unreachable)
    }
}

/// A solid arrow.
fn plain(from: G, to: G, label: &str, rank: u32) -> Arrow {
    Arrow {
        from,
        to,
        label: label.to_string(),
        rank,
        dashed: false,
    }
}

fn picture(config: &Config) -> Picture {
    let layout = Layout::new(config);
    let mut arrows = layout.entry_arrows();
    arrows.extend(layout.open_arrows());
    arrows.extend(layout.edge_arrows());
    arrows.extend(layout.end_arrows());
    arrows.sort_by(|a, b| {
        (a.from.key(), a.rank, a.to.key(), &a.label).cmp(&(
            b.from.key(),
            b.rank,
            b.to.key(),
            &b.label,
        ))
    });
    arrows.dedup();
    let (boxes, unreachable) = layout.boxes(&arrows);
    Picture {
        boxes,
        arrows,
        unreachable,
    }
}

fn no_input_label(config: &Config, menu: &Node) -> String {
    match menu {
        Node::Menu(m) => match config.menu(m.as_deref()).and_then(|m| m.no_input_max_loops) {
            Some(1) => "no input".into(),
            Some(n) => format!("no input ×{n}"),
            None => "no input".into(),
        },
        _ => "no input".into(),
    }
}

/// What a section does, as lines: its name, what the caller hears, what happens.
fn describe(config: &Config, n: &Node) -> Vec<String> {
    let mut lines = vec![n.section()];
    let audio = |lines: &mut Vec<String>, a: &Option<Audio>| {
        if let Some(a) = a {
            lines.push(audio_line(a));
        }
    };
    match n {
        Node::Welcome => audio(&mut lines, &config.welcome.audio),
        Node::Menu(m) => {
            if let Some(menu) = config.menu(m.as_deref()) {
                lines.push(format!("menu: {}", audio_line(&menu.audio)));
            }
        }
        Node::MenuOption(m, d) => {
            if let Some(o) = config.menu(m.as_deref()).and_then(|m| m.options.get(d)) {
                audio(&mut lines, &o.audio);
            }
        }
        Node::Action(name) => {
            if let Some(a) = config.action(name) {
                audio(&mut lines, &a.audio);
                lines.extend(a.kind.summary());
            }
        }
        Node::HangupRoute => lines.push("hang up".into()),
        Node::AgentLine(name) => {
            if let Some(l) = config.agent_lines.get(name) {
                lines.extend(l.summary());
            }
        }
    }
    lines
}

fn audio_line(a: &Audio) -> String {
    a.describe()
}

pub fn render(config: &Config, format: Format) -> String {
    let p = picture(config);
    match format {
        Format::Mermaid => mermaid(&p),
        Format::Dot => dot(&p),
    }
}

/// Text inside a quoted Mermaid label: entity codes for what Mermaid would read as syntax.
fn mermaid_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '&' => out.push_str("#amp;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn mermaid_box(g: &G, lines: &[String]) -> String {
    let text = lines
        .iter()
        .map(|l| mermaid_text(l))
        .collect::<Vec<_>>()
        .join("<br/>");
    let id = g.id();
    match g {
        G::Start | G::Entry(_) | G::Section(Node::AgentLine(_)) => {
            format!("{id}([\"{text}\"])")
        }
        G::Hours(_) => format!("{id}{{\"{text}\"}}"),
        G::Section(_) => format!("{id}[\"{text}\"]"),
        G::End => format!("{id}((\"{text}\"))"),
    }
}

fn mermaid(p: &Picture) -> String {
    let mut out = String::from("flowchart TD\n");
    let (apart, main): (Vec<_>, Vec<_>) = p
        .boxes
        .iter()
        .partition(|(g, _)| p.unreachable.contains(&g.id()));
    for (g, lines) in &main {
        out.push_str(&format!("    {}\n", mermaid_box(g, lines)));
    }
    if !apart.is_empty() {
        out.push_str("    subgraph unreachable_sections[\"unreachable\"]\n");
        for (g, lines) in &apart {
            out.push_str(&format!("        {}\n", mermaid_box(g, lines)));
        }
        out.push_str("    end\n");
    }
    for a in &p.arrows {
        let arrow = if a.dashed { "-.->" } else { "-->" };
        if a.label.is_empty() {
            out.push_str(&format!("    {} {arrow} {}\n", a.from.id(), a.to.id()));
        } else {
            out.push_str(&format!(
                "    {} {arrow}|\"{}\"| {}\n",
                a.from.id(),
                mermaid_text(&a.label),
                a.to.id()
            ));
        }
    }
    if !apart.is_empty() {
        out.push_str("    classDef unreachable stroke-dasharray: 5 5\n");
        let ids: Vec<String> = apart.iter().map(|(g, _)| g.id()).collect();
        out.push_str(&format!("    class {} unreachable\n", ids.join(",")));
    }
    out
}

fn dot_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn dot_box(g: &G, lines: &[String]) -> String {
    let text = lines
        .iter()
        .map(|l| dot_text(l))
        .collect::<Vec<_>>()
        .join("\\n");
    let shape = match g {
        G::Start | G::Entry(_) | G::Section(Node::AgentLine(_)) => ", shape=oval",
        G::Hours(_) => ", shape=diamond",
        G::Section(_) => "",
        G::End => ", shape=doublecircle",
    };
    format!("\"{}\" [label=\"{text}\"{shape}];", g.id())
}

fn dot(p: &Picture) -> String {
    let mut out = String::from("digraph ivr {\n    rankdir=TB;\n    node [shape=box];\n");
    let (apart, main): (Vec<_>, Vec<_>) = p
        .boxes
        .iter()
        .partition(|(g, _)| p.unreachable.contains(&g.id()));
    for (g, lines) in &main {
        out.push_str(&format!("    {}\n", dot_box(g, lines)));
    }
    if !apart.is_empty() {
        out.push_str("    subgraph cluster_unreachable {\n        label=\"unreachable\";\n        style=dashed;\n");
        for (g, lines) in &apart {
            out.push_str(&format!("        {}\n", dot_box(g, lines)));
        }
        out.push_str("    }\n");
    }
    for a in &p.arrows {
        let mut attrs: Vec<String> = Vec::new();
        if !a.label.is_empty() {
            attrs.push(format!("label=\"{}\"", dot_text(&a.label)));
        }
        if a.dashed {
            attrs.push("style=dashed".into());
        }
        let label = if attrs.is_empty() {
            String::new()
        } else {
            format!(" [{}]", attrs.join(", "))
        };
        out.push_str(&format!(
            "    \"{}\" -> \"{}\"{label};\n",
            a.from.id(),
            a.to.id()
        ));
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        match Config::parse(text) {
            Ok(l) => l.config,
            Err(d) => panic!("{d:?}"),
        }
    }

    const SMALL: &str = "\
[ivr]
timezone = Europe/London

[ivr_welcome]
say = Hello \"there\" & welcome <friend> #1
hours = office
hours_action_on_closed = bye

[ivr_menu]
say = Press 1.
no_input_max_loops = 2

[ivr_menu_option_1]
action = sales

[ivr_menu_option_2]
say = One moment.
action = bye

[ivr_menu_option_3]
hours = office
hours_action_on_closed = vm
action = sales

[action_sales]
type = forward
phone_number = +442079460000
action_on_busy = vm
action_on_no_answer = vm
action_on_failed = vm
action_on_canceled = bye

[action_vm]
type = voicemail
voicemail_alert_sms_from = +447700900000
voicemail_alert_sms_to = +447700900001

[action_bye]
type = hangup
say = Goodbye.

[action_old-thing]
type = redirect
path = /ivr/menu

[hours_office]
mon = 0900-1700
";

    #[test]
    fn mermaid_of_a_small_flow() {
        let out = render(&config(SMALL), Format::Mermaid);
        let expected = "\
flowchart TD
    incoming([\"incoming call\"])
    hours__ivr_welcome{\"hours office?\"}
    ivr_welcome[\"ivr_welcome<br/>say “Hello #quot;there#quot; #amp; welcome #lt;friend#gt; #35;1”\"]
    ivr_menu[\"ivr_menu<br/>menu: say “Press 1.”\"]
    ivr_menu_option_2[\"ivr_menu_option_2<br/>say “One moment.”\"]
    hours__ivr_menu_option_3{\"hours office?\"}
    action_bye[\"action_bye<br/>say “Goodbye.”<br/>hang up\"]
    action_sales[\"action_sales<br/>forward +442079460000\"]
    action_vm[\"action_vm<br/>voicemail, max 300s, SMS to +447700900001\"]
    hangup((\"hang up\"))
    subgraph unreachable_sections[\"unreachable\"]
        action_old_x2d_thing[\"action_old-thing<br/>redirect /ivr/menu\"]
    end
    incoming --> hours__ivr_welcome
    hours__ivr_welcome -->|\"open\"| ivr_welcome
    hours__ivr_welcome -->|\"closed\"| action_bye
    ivr_welcome --> ivr_menu
    ivr_menu -->|\"press 1\"| action_sales
    ivr_menu -->|\"press 2\"| ivr_menu_option_2
    ivr_menu -->|\"press 3\"| hours__ivr_menu_option_3
    ivr_menu -->|\"no input ×2\"| hangup
    ivr_menu_option_2 --> action_bye
    hours__ivr_menu_option_3 -->|\"open\"| action_sales
    hours__ivr_menu_option_3 -->|\"closed\"| action_vm
    action_bye --> hangup
    action_old_x2d_thing --> ivr_menu
    action_sales -->|\"completed\"| hangup
    action_sales -->|\"busy\"| action_vm
    action_sales -->|\"no-answer\"| action_vm
    action_sales -->|\"failed\"| action_vm
    action_sales -->|\"canceled\"| action_bye
    action_vm -->|\"after the message\"| hangup
    classDef unreachable stroke-dasharray: 5 5
    class action_old_x2d_thing unreachable
";
        assert_eq!(out, expected, "\n{out}");
        assert_eq!(
            out,
            render(&config(SMALL), Format::Mermaid),
            "deterministic"
        );
    }

    #[test]
    fn dot_of_a_small_flow() {
        let out = render(&config(SMALL), Format::Dot);
        assert!(out.starts_with("digraph ivr {\n"), "{out}");
        assert!(out.ends_with("}\n"), "{out}");
        assert!(
            out.contains("\"hours__ivr_welcome\" [label=\"hours office?\", shape=diamond];"),
            "{out}"
        );
        assert!(
            out.contains("\"ivr_welcome\" [label=\"ivr_welcome\\nsay “Hello \\\"there\\\" & welcome <friend> #1”\"];"),
            "{out}"
        );
        assert!(out.contains("subgraph cluster_unreachable {"), "{out}");
        assert!(
            out.contains("\"action_sales\" -> \"action_vm\" [label=\"busy\"];"),
            "{out}"
        );
        assert!(
            out.contains("\"incoming\" -> \"hours__ivr_welcome\";"),
            "{out}"
        );
    }

    #[test]
    fn ids_are_safe() {
        assert_eq!(escape_id("action_a-b"), "action_a_x2d_b");
        assert_eq!(escape_id("menu_x"), "menu_x");
    }

    #[test]
    fn repository_configs_render() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for path in [
            root.join("config.ini"),
            root.join("tests/fixtures/twilio-aws-ivr.config.ini"),
        ] {
            let c = Config::load(&path).expect("valid").config;
            let out = render(&c, Format::Mermaid);
            assert!(out.starts_with("flowchart TD\n"));
            // Every arrow joins boxes that are declared.
            let declared: BTreeSet<String> =
                picture(&c).boxes.iter().map(|(g, _)| g.id()).collect();
            for a in picture(&c).arrows {
                assert!(declared.contains(&a.from.id()), "{}", a.from.id());
                assert!(declared.contains(&a.to.id()), "{}", a.to.id());
            }
        }
    }
}
