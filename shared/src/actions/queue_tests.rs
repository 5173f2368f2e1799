//! Call queues: the wait-music schedule, the config keys and their
//! mistakes, and the TwiML of every queue and agent-line route.

use chrono::{DateTime, Utc};

use super::*;
use crate::actions::agent_line::*;
use crate::actions::ActionKind;
use crate::config::{Config, Diagnostic};
use crate::flow::{respond, Call, Params};
use crate::routes::AgentStep;
use crate::routes::Route;
use crate::twiml::{parse, Node};

fn queue() -> Queue {
    Queue {
        queue: "radio".into(),
        hold: Audio::Play(DEFAULT_HOLD_MUSIC.into()),
        hold_pause: 60,
        announce_position: true,
        announce_wait: true,
        long_wait: Some(LongWait {
            seconds: 300,
            action: "vm".into(),
            offer: None,
        }),
        callback: None,
        after_call_sms: None,
    }
}

fn w(position: u32, queue_time: u32, avg_wait: u32) -> WaitParams {
    WaitParams {
        position,
        queue_time,
        avg_wait,
    }
}

#[test]
fn wait_phrases_round_to_the_minute() {
    assert_eq!(wait_phrase(0), None);
    assert_eq!(wait_phrase(1).as_deref(), Some("less than a minute"));
    assert_eq!(wait_phrase(59).as_deref(), Some("less than a minute"));
    assert_eq!(wait_phrase(60).as_deref(), Some("about 1 minute"));
    assert_eq!(wait_phrase(89).as_deref(), Some("about 1 minute"));
    assert_eq!(wait_phrase(90).as_deref(), Some("about 2 minutes"));
    assert_eq!(wait_phrase(240).as_deref(), Some("about 4 minutes"));
    assert_eq!(wait_phrase(3600).as_deref(), Some("about 60 minutes"));
    assert_eq!(wait_phrase(10_800).as_deref(), Some("about 180 minutes"));
}

/// `AvgQueueTime` ≥ 4,294,967,266 overflowed `(s + 30) / 60`: a panic in a
/// debug build, "about 0 minutes" in release.
#[test]
fn absurd_waits_are_not_announced_as_a_figure() {
    for s in [10_801, 4_294_967_265, 4_294_967_266, u32::MAX] {
        assert_eq!(
            wait_phrase(s).as_deref(),
            Some("more than three hours"),
            "{s}"
        );
    }
    let (t, _) = wait(&[
        ("QueuePosition", "2"),
        ("QueueTime", "4294967295"),
        ("AvgQueueTime", "4294967295"),
    ]);
    let said = &t.children[0].children[0].text;
    assert_eq!(
        said,
        "You are caller number 2. The expected wait is more than three hours."
    );
}

#[test]
fn announcements_say_position_and_wait() {
    let q = queue();
    assert_eq!(
        announcement(3, 240, &q).as_deref(),
        Some("You are caller number 3. The expected wait is about 4 minutes.")
    );
    assert_eq!(
        announcement(1, 0, &q).as_deref(),
        Some("You are next in line."),
        "no average yet: position only"
    );
    assert_eq!(
        announcement(2, 30, &q).as_deref(),
        Some("You are caller number 2. The expected wait is less than a minute.")
    );
    // A position Twilio did not give (0) is not announced.
    assert_eq!(
        announcement(0, 120, &q).as_deref(),
        Some("The expected wait is about 2 minutes.")
    );
    assert_eq!(announcement(0, 0, &q), None);
}

#[test]
fn announcements_follow_their_switches() {
    let mut q = queue();
    q.announce_wait = false;
    assert_eq!(
        announcement(3, 240, &q).as_deref(),
        Some("You are caller number 3.")
    );
    q.announce_position = false;
    assert_eq!(announcement(3, 240, &q), None);
    q.announce_wait = true;
    assert_eq!(
        announcement(3, 240, &q).as_deref(),
        Some("The expected wait is about 4 minutes.")
    );
}

#[test]
fn every_pass_announces_and_long_waits_offer_voicemail() {
    let q = queue();
    // The first pass (the caller just joined) and every later one start with the announcement.
    for t in [0, 60, 61, 125, 600] {
        let pass = wait_pass(&q, Some(&w(2, t, 100)));
        assert_eq!(
            pass.announcement.as_deref(),
            Some("You are caller number 2. The expected wait is about 2 minutes."),
            "{t}"
        );
    }
    // 300 s is the threshold: above it (by average, or by this caller's own wait) → offer.
    assert!(!wait_pass(&q, Some(&w(2, 0, 300))).offer);
    assert!(wait_pass(&q, Some(&w(2, 0, 301))).offer);
    assert!(!wait_pass(&q, Some(&w(2, 300, 10))).offer);
    assert!(wait_pass(&q, Some(&w(2, 301, 10))).offer);
    // Without a long-wait action there is nothing to offer.
    let mut no_lw = queue();
    no_lw.long_wait = None;
    assert!(!wait_pass(&no_lw, Some(&w(2, 9999, 9999))).offer);
    // No queue parameters: just hold.
    assert_eq!(
        wait_pass(&q, None),
        WaitPass {
            announcement: None,
            offer: false
        }
    );
}

#[test]
fn queue_names() {
    assert!(is_queue_name("radio-callin-queue"));
    assert!(is_queue_name("support.v2_a"));
    assert!(!is_queue_name(""));
    assert!(!is_queue_name("a b"));
    assert!(!is_queue_name(&"q".repeat(65)));
    assert!(is_queue_name(&"q".repeat(64)));
}

// ---------------------------------------------------------------------------
// Config: keys, defaults and mistakes

const BASE_CONFIG: &str = "\
[ivr]
timezone = Europe/London

[ivr_menu]
say = Press 1.

[ivr_menu_option_1]
action = callin

[action_callin]
type = queue
queue = radio
long_wait_seconds = 300
long_wait_action = vm
after_call_sms = Thanks for calling!

[action_vm]
type = voicemail

[agent_line_dj]
queue = radio
agents = +447700900010, +447700900011
";

/// BASE_CONFIG is 22 lines; extra text starts on line 23.
fn with(extra: &str) -> String {
    format!("{BASE_CONFIG}{extra}")
}

fn loaded(text: &str) -> crate::config::Loaded {
    Config::parse(text).unwrap_or_else(|e| panic!("{e:#?}"))
}

fn errors(text: &str) -> Vec<String> {
    match Config::parse(text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e.iter().map(|d| d.render("c.ini")).collect(),
    }
}

fn assert_error(text: &str, expected: &str) {
    let errs = errors(text);
    assert!(
        errs.iter().any(|e| e == expected),
        "no `{expected}` in {errs:#?}"
    );
}

fn queue_of(c: &Config, name: &str) -> Queue {
    match &c.actions[name].kind {
        ActionKind::Queue(q) => q.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_queue_and_its_agent_line_load_with_defaults() {
    let l = loaded(BASE_CONFIG);
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let q = queue_of(&l.config, "callin");
    assert_eq!(
        q,
        Queue {
            queue: "radio".into(),
            hold: Audio::Play(DEFAULT_HOLD_MUSIC.into()),
            hold_pause: DEFAULT_ANNOUNCE_EVERY,
            announce_position: true,
            announce_wait: true,
            long_wait: Some(LongWait {
                seconds: 300,
                action: "vm".into(),
                offer: None
            }),
            callback: None,
            after_call_sms: Some("Thanks for calling!".into()),
        }
    );
    let line = &l.config.agent_lines["dj"];
    assert_eq!(line.section, "agent_line_dj");
    assert_eq!(line.line, 20);
    assert_eq!(line.agents, ["+447700900010", "+447700900011"]);
    assert!(!line.record && line.record_announcement.is_none());
    assert!(
        line.hangup_on_star,
        "`*` moves to the next caller by default"
    );
    assert_eq!(line.keep_twilio_copy, None);
}

#[test]
fn every_key_is_read() {
    let text = "\
[ivr]
timezone = Europe/London
[ivr_menu]
say = Press 1.
[ivr_menu_option_1]
action = callin
[action_callin]
type = queue
queue = radio.v2
hold_say = Thanks for waiting.
announce_every_seconds = 45
announce_position = no
announce_wait = yes
long_wait_seconds = 0
long_wait_action = vm
long_wait_say = Press 1 for voicemail.
hours = show
hours_action_on_closed = vm
[action_vm]
type = voicemail
[agent_line_dj]
queue = radio.v2
agents = +447700900010,+447700900010
say = Hello.
record = yes
record_announcement_sample = https://example.com/recorded.mp3
keep_twilio_copy = yes
next_caller_key = none
[hours_show]
tue = 0900-1200
";
    let c = loaded(text).config;
    let q = queue_of(&c, "callin");
    assert_eq!(q.hold, Audio::Say("Thanks for waiting.".into()));
    assert_eq!(q.hold_pause, 45);
    assert!(!q.announce_position && q.announce_wait);
    let lw = q.long_wait.unwrap();
    assert_eq!(lw.seconds, 0);
    assert_eq!(lw.offer, Some(Audio::Say("Press 1 for voicemail.".into())));
    assert!(c.actions["callin"].gate.is_some());
    let line = &c.agent_lines["dj"];
    assert_eq!(line.agents, ["+447700900010"], "duplicates are dropped");
    assert_eq!(line.audio, Some(Audio::Say("Hello.".into())));
    assert!(line.record);
    assert_eq!(
        line.record_announcement,
        Some(Audio::Play("https://example.com/recorded.mp3".into()))
    );
    assert_eq!(line.keep_twilio_copy, Some(true));
    assert!(!line.hangup_on_star);
    // record = yes without an announcement: the default one.
    let c = loaded(&text.replace(
        "record_announcement_sample = https://example.com/recorded.mp3\n",
        "",
    ))
    .config;
    assert_eq!(
        c.agent_lines["dj"].record_announcement,
        Some(Audio::Say(DEFAULT_RECORD_ANNOUNCEMENT.into()))
    );
}

#[test]
fn queue_mistakes_name_line_section_and_key() {
    let q = |extra: &str| {
        BASE_CONFIG.replace(
            "queue = radio\nlong_wait",
            &format!("queue = radio\n{extra}long_wait"),
        )
    };
    // [action_callin] is line 10, `queue = radio` line 12; extra keys land on line 13.
    assert_error(
        &BASE_CONFIG.replacen("queue = radio\n", "", 1),
        "c.ini:10: [action_callin] queue: is required",
    );
    assert_error(
        &BASE_CONFIG.replacen("queue = radio\n", "queue = radio line\n", 1),
        "c.ini:12: [action_callin] queue: `radio line` is not a queue name: up to 64 letters, digits, `_`, `-` and `.`",
    );
    assert_error(
        &q("hold_sample = https://x/a.mp3\nhold_say = Wait.\n"),
        "c.ini:14: [action_callin] hold_say: set either `hold_sample` or `hold_say`, not both",
    );
    assert_error(
        &q("hold_sample = hold.mp3\n"),
        "c.ini:13: [action_callin] hold_sample: `hold.mp3` is not an http(s) URL",
    );
    assert_error(
        &q("hold_sample = https://x/a.mp3\nannounce_every_seconds = 60\n"),
        "c.ini:14: [action_callin] announce_every_seconds: has no effect with `hold_sample`: the announcements come round between plays of the file, so its length sets the interval (or use `hold_say`)",
    );
    assert_error(
        &q("announce_every_seconds = 5\n"),
        "c.ini:13: [action_callin] announce_every_seconds: 5 is out of range (10-600)",
    );
    assert_error(
        &q("announce_position = maybe\n"),
        "c.ini:13: [action_callin] announce_position: `maybe` is not yes/no",
    );
    assert_error(
        &q("annouce_wait = yes\n"),
        "c.ini:13: [action_callin] annouce_wait: unknown key for a queue action (did you mean `announce_wait`?)",
    );
    assert_error(
        &q("phone_number = +442079460000\n"),
        "c.ini:13: [action_callin] phone_number: unknown key for a queue action",
    );
    assert_error(
        &BASE_CONFIG.replace("long_wait_action = vm\n", ""),
        "c.ini:10: [action_callin] long_wait_action: is required",
    );
    assert_error(
        &BASE_CONFIG.replace("long_wait_seconds = 300\n", ""),
        "c.ini:10: [action_callin] long_wait_seconds: is required",
    );
    assert_error(
        &BASE_CONFIG.replace("long_wait_action = vm\n", "long_wait_action = vn\n"),
        "c.ini:14: [action_callin] long_wait_action: no section [action_vn] for action `vn` (did you mean `vm`?)",
    );
    assert_error(
        &BASE_CONFIG.replace("long_wait_seconds = 300\n", "long_wait_seconds = soon\n"),
        "c.ini:13: [action_callin] long_wait_seconds: `soon` is not a whole number (0-86400)",
    );
    assert_error(
        &BASE_CONFIG
            .replace("long_wait_seconds = 300\nlong_wait_action = vm\n", "long_wait_say = Press 1.\n"),
        "c.ini:13: [action_callin] long_wait_say: has no effect without `long_wait_seconds` and `long_wait_action`",
    );
    assert_error(
        &BASE_CONFIG.replace("Thanks for calling!", &"x".repeat(1601)),
        "c.ini:15: [action_callin] after_call_sms: is longer than an SMS can be (1600 characters)",
    );
    assert_error(
        &BASE_CONFIG.replace("type = queue", "type = queu"),
        "c.ini:11: [action_callin] type: unknown action type `queu`: use forward, hangup, redirect, voicemail, menu or queue (did you mean `queue`?)",
    );
}

#[test]
fn agent_line_mistakes_name_line_section_and_key() {
    assert_error(
        &BASE_CONFIG.replace("agents = +447700900010, +447700900011\n", ""),
        "c.ini:20: [agent_line_dj] agents: is required",
    );
    assert_error(
        &BASE_CONFIG.replace("+447700900011", "07700 900011"),
        "c.ini:22: [agent_line_dj] agents: `07700 900011` is not an E.164 phone number (like +447700900010)",
    );
    assert_error(
        &BASE_CONFIG.replace("queue = radio\nagents", "agents"),
        "c.ini:20: [agent_line_dj] queue: is required",
    );
    for key in [
        "record_announcement_say = Recorded.",
        "keep_twilio_copy = no",
    ] {
        let k = key.split(' ').next().unwrap();
        assert_error(
            &with(&format!("{key}\n")),
            &format!("c.ini:23: [agent_line_dj] {k}: has no effect without `record = yes`"),
        );
    }
    assert_error(
        &with("next_caller_key = #\n"),
        "c.ini:23: [agent_line_dj] next_caller_key: `#`: Twilio lets an agent end a conversation with `*` only (hangupOnStar); use `*` or `none`",
    );
    assert_error(
        &with("recrod = yes\n"),
        "c.ini:23: [agent_line_dj] recrod: unknown key for an agent line (did you mean `record`?)",
    );
    assert_error(
        &with("record = yes\nrecord_announcement_sample = https://x/a.mp3\nrecord_announcement_say = Hi.\n"),
        "c.ini:25: [agent_line_dj] record_announcement_say: set either `record_announcement_sample` or `record_announcement_say`, not both",
    );
    assert_error(
        &format!("{BASE_CONFIG}[agent_line_d j]\nqueue = radio\n"),
        "c.ini:23: [agent_line_d j] `d j` is not a valid name: use letters, digits, `_` and `-`",
    );
    assert_error(
        &format!("{BASE_CONFIG}[agents_dj]\n"),
        "c.ini:23: [agents_dj] unknown section",
    );
}

#[test]
fn queues_nobody_serves_and_lines_with_nothing_to_take_are_warnings() {
    let text = BASE_CONFIG.replace(
        "[agent_line_dj]\nqueue = radio",
        "[agent_line_dj]\nqueue = radio2",
    );
    let l = loaded(&text);
    let rendered: Vec<String> = l.warnings.iter().map(|d| d.render("c.ini")).collect();
    assert_eq!(
        rendered,
        [
            "c.ini:10: warning: [action_callin] queue: no [agent_line_NAME] takes callers from `radio`: they would wait until they give up",
            "c.ini:20: warning: [agent_line_dj] queue: no queue action puts callers in `radio2`: this line will never have anyone to take",
        ]
    );
}

#[test]
fn an_action_named_like_an_agent_lines_recordings_is_an_error() {
    assert_error(
        &with("[action_agent_line_dj]\ntype = hangup\n"),
        "c.ini:23: [action_agent_line_dj] this action's name is also how [agent_line_dj] labels its recordings: rename one of them",
    );
}

#[test]
fn a_served_queue_is_an_entry_of_its_own() {
    // Nothing on the menu leads to the queue: its own number does.
    let text =
        BASE_CONFIG.replace("action = callin", "action = bye") + "[action_bye]\ntype = hangup\n";
    let l = loaded(&text);
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    assert!(l
        .config
        .reachable()
        .contains(&crate::config::Node::Action("vm".into())));
    // Without an agent line it is just unreachable.
    let text = text.replace(
        "[agent_line_dj]\nqueue = radio\nagents = +447700900010, +447700900011\n",
        "",
    );
    let rendered: Vec<String> = loaded(&text)
        .warnings
        .iter()
        .map(Diagnostic::to_owned)
        .map(|d| d.render("c.ini"))
        .collect();
    assert!(
        rendered
            .iter()
            .any(|r| r.contains("[action_callin] never reached")),
        "{rendered:?}"
    );
}

// ---------------------------------------------------------------------------
// The routes

const REPO: &str = include_str!("../../../config.ini");
const BASE: &str = "https://ivr.example/api";
/// A Tuesday, 10:00 in London: the radio show is on.
const ON_AIR: &str = "2026-11-24T10:00:00Z";
/// A Tuesday, 18:00: the show is over.
const OFF_AIR: &str = "2026-11-24T18:00:00Z";
const CALL: &str = "CA0123456789abcdef0123456789abcdef";
const CALLER: &str = "+447700900555";
const LINE_NUMBER: &str = "+442079460200";
const DJ: &str = "+447700900010";

fn run(cfg: &str, route: Route, params: &[(&str, &str)], now: &str) -> (Node, crate::flow::Reply) {
    let config = Config::parse(cfg).unwrap().config;
    let params = Params::from_pairs(params);
    let call = Call {
        base: BASE,
        params: &params,
        now: DateTime::parse_from_rfc3339(now)
            .unwrap()
            .with_timezone(&Utc),
    };
    let reply = respond(&config, &route, &call);
    (parse(&reply.twiml.render()).unwrap(), reply)
}

fn names(n: &Node) -> Vec<&str> {
    n.children.iter().map(|c| c.name.as_str()).collect()
}

/// The repository's config without its callback offer (what the wait-music tests are about).
fn no_callback() -> String {
    let without = REPO.replace("callback = yes\n", "");
    assert_ne!(without, REPO);
    without
}

fn wait(params: &[(&str, &str)]) -> (Node, crate::flow::Reply) {
    let mut p = vec![("initiated_by_section", "callin")];
    p.extend_from_slice(params);
    run(&no_callback(), Route::QueueWait, &p, ON_AIR)
}

fn result(cfg: &str, params: &[(&str, &str)]) -> (Node, crate::flow::Reply) {
    let mut p = vec![
        ("initiated_by_section", "callin"),
        ("CallSid", CALL),
        ("From", CALLER),
        ("To", LINE_NUMBER),
    ];
    p.extend_from_slice(params);
    run(cfg, Route::QueueResult, &p, ON_AIR)
}

/// The repository's agent line without its PIN (see the PIN tests for it).
fn agent(line: &str, step: AgentStep, params: &[(&str, &str)]) -> (Node, crate::flow::Reply) {
    agent_in(&REPO.replace("pin = 2468\n", ""), line, step, params)
}

fn agent_in(
    cfg: &str,
    line: &str,
    step: AgentStep,
    params: &[(&str, &str)],
) -> (Node, crate::flow::Reply) {
    let mut p = vec![("CallSid", CALL), ("To", "+442079460300")];
    p.extend_from_slice(params);
    run(
        cfg,
        Route::Agent {
            line: line.into(),
            step,
        },
        &p,
        ON_AIR,
    )
}

#[test]
fn the_queue_action_enqueues_with_its_wait_and_result_urls() {
    let (t, r) = run(REPO, Route::Action("callin".into()), &[], ON_AIR);
    assert_eq!(names(&t), ["Say", "Enqueue"]);
    let e = &t.children[1];
    assert_eq!(e.text, "ask-the-plumber");
    assert_eq!(
        e.attr("waitUrl"),
        Some("https://ivr.example/api/ivr/queue/wait?initiated_by_section=callin")
    );
    assert_eq!(e.attr("waitUrlMethod"), Some("POST"));
    assert_eq!(
        e.attr("action"),
        Some("https://ivr.example/api/ivr/queue/result?initiated_by_section=callin")
    );
    assert_eq!(e.attr("method"), Some("POST"));
    assert_eq!(r.outcome, "action callin (queue)");
    assert!(r.effects.is_empty());
}

#[test]
fn closed_hours_skip_the_queue() {
    let (t, r) = run(REPO, Route::Action("callin".into()), &[], OFF_AIR);
    assert_eq!(names(&t), ["Redirect"]);
    assert_eq!(
        t.children[0].text,
        "https://ivr.example/api/ivr/action/callin_closed"
    );
    assert_eq!(r.outcome, "closed (radio_show)");
}

#[test]
fn the_wait_url_announces_then_holds() {
    let (t, r) = wait(&[
        ("QueuePosition", "3"),
        ("QueueTime", "0"),
        ("AvgQueueTime", "240"),
        ("CurrentQueueSize", "3"),
    ]);
    assert_eq!(names(&t), ["Say", "Play"]);
    assert_eq!(
        t.children[0].text,
        "You are caller number 3. The expected wait is about 4 minutes."
    );
    assert_eq!(t.children[0].attr("voice"), Some("Polly.Amy"));
    assert_eq!(
        t.children[1].text,
        "https://demo.twilio.com/docs/classic.mp3"
    );
    assert_eq!(r.outcome, "queue ask-the-plumber wait (position 3, 0s)");
}

#[test]
fn a_long_wait_offers_voicemail_inside_a_gather() {
    let (t, r) = wait(&[
        ("QueuePosition", "6"),
        ("QueueTime", "20"),
        ("AvgQueueTime", "420"),
    ]);
    assert_eq!(names(&t), ["Gather"]);
    let g = &t.children[0];
    assert_eq!(g.attr("numDigits"), Some("1"));
    assert_eq!(g.attr("timeout"), Some("2"));
    assert_eq!(
        g.attr("action"),
        Some("https://ivr.example/api/ivr/queue/wait?initiated_by_section=callin")
    );
    assert_eq!(names(g), ["Say", "Say", "Play"]);
    assert_eq!(
        g.children[0].text,
        "You are caller number 6. The expected wait is about 7 minutes."
    );
    assert!(
        g.children[1].text.contains("press 1"),
        "{}",
        g.children[1].text
    );
    assert!(r.outcome.ends_with(", long wait)"), "{}", r.outcome);
    // The caller's own wait counts too.
    let (t, _) = wait(&[
        ("QueuePosition", "1"),
        ("QueueTime", "301"),
        ("AvgQueueTime", "0"),
    ]);
    assert_eq!(names(&t), ["Gather"]);
}

#[test]
fn the_long_wait_key_leaves_the_queue_other_keys_keep_waiting() {
    let (t, r) = wait(&[("Digits", "1")]);
    assert_eq!(names(&t), ["Leave"]);
    assert_eq!(
        r.outcome,
        "queue ask-the-plumber: leaves for callin_voicemail"
    );
    for other in ["2", "#", "11", "*"] {
        let (t, _) = wait(&[("Digits", other)]);
        assert_eq!(names(&t), ["Play"], "{other}");
    }
}

#[test]
fn a_wait_url_without_queue_parameters_or_section_still_holds() {
    let (t, r) = wait(&[]);
    assert_eq!(names(&t), ["Play"]);
    assert!(r.outcome.contains("position ?"), "{}", r.outcome);
    let (t, _) = wait(&[("QueuePosition", "many")]);
    assert_eq!(names(&t), ["Play"]);
    for section in [
        vec![],
        vec![("initiated_by_section", "nope")],
        vec![("initiated_by_section", "sales")],
    ] {
        let (t, r) = run(REPO, Route::QueueWait, &section, ON_AIR);
        assert_eq!(names(&t), ["Play"], "{section:?}");
        assert_eq!(t.children[0].text, DEFAULT_HOLD_MUSIC);
        assert!(r.outcome.contains("not a queue action"), "{}", r.outcome);
    }
}

#[test]
fn hold_say_passes_are_text_then_quiet() {
    let text = BASE_CONFIG.replace(
        "queue = radio\nlong_wait",
        "queue = radio\nhold_say = Thanks for holding.\nannounce_every_seconds = 45\nlong_wait",
    );
    let (t, _) = run(
        &text,
        Route::QueueWait,
        &[
            ("initiated_by_section", "callin"),
            ("QueuePosition", "2"),
            ("QueueTime", "0"),
        ],
        ON_AIR,
    );
    assert_eq!(names(&t), ["Say", "Say", "Pause"]);
    assert_eq!(t.children[0].text, "You are caller number 2.");
    assert_eq!(t.children[1].text, "Thanks for holding.");
    assert_eq!(t.children[2].attr("length"), Some("45"));
}

#[test]
fn a_finished_conversation_gets_the_after_call_sms_and_a_hangup() {
    let (t, r) = result(REPO, &[("QueueResult", "bridged"), ("QueueTime", "95")]);
    assert_eq!(names(&t), ["Hangup"]);
    assert_eq!(
        r.effects,
        [Effect::SendSms {
            key: format!("after-call-sms/{CALL}"),
            from: LINE_NUMBER.into(),
            to: CALLER.into(),
            body: "Thanks for calling Ask the Plumber! Do you have any feedback for us? Just reply to this message.".into(),
        }]
    );
    // The same callback again asks for the same (keyed) effect: the shell sends it once.
    let (_, again) = result(REPO, &[("QueueResult", "bridged")]);
    assert_eq!(again.effects, r.effects);
    // No after_call_sms: no effect.
    let (t, r) = result(
        &BASE_CONFIG.replace("after_call_sms = Thanks for calling!\n", ""),
        &[("QueueResult", "bridged")],
    );
    assert_eq!(names(&t), ["Hangup"]);
    assert!(r.effects.is_empty());
}

#[test]
fn no_sms_to_a_withheld_number_or_without_a_call_sid() {
    for (k, v) in [
        ("From", "anonymous"),
        ("From", ""),
        ("To", "client:web"),
        ("CallSid", "CA123"),
    ] {
        let params: Vec<(&str, &str)> = [
            ("initiated_by_section", "callin"),
            ("CallSid", CALL),
            ("From", CALLER),
            ("To", LINE_NUMBER),
            ("QueueResult", "bridged"),
        ]
        .into_iter()
        .map(|(n, x)| if n == k { (n, v) } else { (n, x) })
        .collect();
        let (t, r) = run(REPO, Route::QueueResult, &params, ON_AIR);
        assert_eq!(names(&t), ["Hangup"], "{k}={v}");
        assert!(r.effects.is_empty(), "{k}={v}");
        assert!(r.outcome.contains("(no SMS: "), "{}", r.outcome);
    }
}

#[test]
fn no_thank_you_for_a_conversation_that_did_not_happen() {
    // Left for voicemail: on to the long-wait action.
    let (t, r) = result(REPO, &[("QueueResult", "leave")]);
    assert_eq!(names(&t), ["Redirect"]);
    assert_eq!(
        t.children[0].text,
        "https://ivr.example/api/ivr/action/callin_voicemail"
    );
    assert!(r.effects.is_empty());
    // Hung up while waiting.
    let (t, r) = result(REPO, &[("QueueResult", "hangup")]);
    assert_eq!(names(&t), ["Hangup"]);
    assert!(r.effects.is_empty());
    assert_eq!(
        r.outcome,
        "queue ask-the-plumber: caller hung up while waiting"
    );
    // Out of the queue some other way: stay out of the way.
    for other in ["redirected", "bridging-in-process"] {
        let (t, r) = result(REPO, &[("QueueResult", other)]);
        assert!(t.children.is_empty(), "{other}");
        assert!(r.effects.is_empty());
    }
}

#[test]
fn a_full_queue_or_an_error_apologises_then_voicemail() {
    for (q, say) in [
        ("queue-full", QUEUE_FULL),
        ("error", QUEUE_TROUBLE),
        ("system-error", QUEUE_TROUBLE),
        ("", QUEUE_TROUBLE),
    ] {
        let (t, r) = result(REPO, &[("QueueResult", q)]);
        assert_eq!(names(&t), ["Say", "Redirect"], "{q}");
        assert_eq!(t.children[0].text, say);
        assert!(t.children[1].text.ends_with("/ivr/action/callin_voicemail"));
        assert!(r.effects.is_empty());
    }
    // Without a long-wait action: apologise and hang up.
    let no_lw = BASE_CONFIG.replace("long_wait_seconds = 300\nlong_wait_action = vm\n", "");
    let (t, _) = result(&no_lw, &[("QueueResult", "queue-full")]);
    assert_eq!(names(&t), ["Say", "Hangup"]);
    let (t, r) = result(&no_lw, &[("QueueResult", "leave")]);
    assert_eq!(names(&t), ["Say", "Redirect"]);
    assert!(r.outcome.starts_with("recovered"), "{}", r.outcome);
}

#[test]
fn a_result_for_an_unknown_section_is_still_valid_twiml() {
    for section in ["nope", "sales", ""] {
        for (q, expected) in [
            ("bridged", vec!["Hangup"]),
            ("hangup", vec!["Hangup"]),
            ("leave", vec!["Say", "Redirect"]),
        ] {
            let (t, r) = run(
                REPO,
                Route::QueueResult,
                &[
                    ("initiated_by_section", section),
                    ("QueueResult", q),
                    ("From", CALLER),
                    ("To", LINE_NUMBER),
                    ("CallSid", CALL),
                ],
                ON_AIR,
            );
            assert_eq!(names(&t), expected, "{section} {q}");
            assert!(r.effects.is_empty());
        }
    }
}

#[test]
fn a_listed_agent_dials_the_queue_recorded_with_the_announcement() {
    let (t, r) = agent("presenter", AgentStep::Answer, &[("From", DJ)]);
    assert_eq!(names(&t), ["Say", "Dial"]);
    assert!(t.children[0].text.starts_with("You are taking calls"));
    let d = &t.children[1];
    assert_eq!(d.text, "");
    assert_eq!(
        d.attr("action"),
        Some("https://ivr.example/api/ivr/agent/presenter/next")
    );
    assert_eq!(d.attr("hangupOnStar"), Some("true"));
    assert_eq!(d.attr("record"), Some("record-from-answer"));
    assert_eq!(d.attr("timeout"), Some("60"));
    assert_eq!(
        d.attr("recordingStatusCallback"),
        Some("https://ivr.example/api/ivr/callback/voicemail/alert_sms?initiated_by_section=agent_line_presenter&caller=%2B447700900010&called=%2B442079460300")
    );
    assert_eq!(names(d), ["Queue"]);
    assert_eq!(d.children[0].text, "ask-the-plumber");
    assert_eq!(
        d.children[0].attr("url"),
        Some("https://ivr.example/api/ivr/agent/presenter/announce")
    );
    assert_eq!(r.outcome, "agent line presenter: agent answers");
    // The second listed number too.
    let (t, _) = agent("presenter", AgentStep::Answer, &[("From", "+447700900011")]);
    assert_eq!(names(&t), ["Say", "Dial"]);
}

#[test]
fn an_unlisted_number_is_refused_politely() {
    for step in [AgentStep::Answer, AgentStep::Next] {
        for from in ["+447700900555", "", "+4477009000100", "anonymous"] {
            let (t, r) = agent(
                "presenter",
                step,
                &[("From", from), ("DialCallStatus", "completed")],
            );
            assert_eq!(names(&t), ["Say", "Hangup"], "{from}");
            assert_eq!(t.children[0].text, AGENT_REFUSAL);
            assert!(r.outcome.contains("refused"), "{}", r.outcome);
        }
    }
}

#[test]
fn after_a_conversation_the_agent_gets_the_next_caller() {
    for params in [
        vec![("DialCallStatus", "completed"), ("DialBridged", "true")],
        vec![("DialCallStatus", "completed")],
        vec![("DialCallStatus", "answered")],
    ] {
        let mut p = vec![("From", DJ)];
        p.extend(params.iter().copied());
        let (t, r) = agent("presenter", AgentStep::Next, &p);
        assert_eq!(names(&t), ["Say", "Dial"], "{params:?}");
        assert_eq!(t.children[0].text, AGENT_NEXT_CALLER);
        assert_eq!(t.children[1].children[0].name, "Queue");
        assert_eq!(r.outcome, "agent line presenter: next caller");
    }
}

#[test]
fn an_empty_queue_is_announced_and_dialled_again() {
    for params in [
        vec![("DialCallStatus", "no-answer"), ("DialBridged", "false")],
        vec![("DialCallStatus", "completed"), ("DialBridged", "false")],
        vec![("DialCallStatus", "failed")],
        vec![("DialCallStatus", "busy")],
        vec![],
    ] {
        let mut p = vec![("From", DJ)];
        p.extend(params.iter().copied());
        let (t, r) = agent("presenter", AgentStep::Next, &p);
        assert_eq!(names(&t), ["Say", "Pause", "Dial"], "{params:?}");
        assert_eq!(t.children[0].text, AGENT_NO_CALLERS);
        assert_eq!(t.children[1].attr("length"), Some("5"));
        assert_eq!(r.outcome, "agent line presenter: no callers waiting");
    }
    // The agent hung up: nothing more.
    let (t, _) = agent(
        "presenter",
        AgentStep::Next,
        &[("From", DJ), ("DialCallStatus", "canceled")],
    );
    assert_eq!(names(&t), ["Hangup"]);
}

#[test]
fn the_caller_hears_the_recording_announcement() {
    // The caller's leg: no agent check.
    let (t, r) = agent("presenter", AgentStep::Announce, &[("From", CALLER)]);
    assert_eq!(names(&t), ["Say"]);
    assert_eq!(
        t.children[0].text,
        "This call is being recorded, and may be broadcast."
    );
    assert_eq!(r.outcome, "agent line presenter: announcement");
}

#[test]
fn an_unknown_line_is_out_of_service() {
    for step in [AgentStep::Answer, AgentStep::Next] {
        let (t, r) = agent("nope", step, &[("From", DJ)]);
        assert_eq!(names(&t), ["Say", "Hangup"]);
        assert_eq!(t.children[0].text, LINE_NOT_IN_SERVICE);
        assert_eq!(r.outcome, "agent: no such line");
    }
    let (t, _) = agent("nope", AgentStep::Announce, &[]);
    assert!(t.children.is_empty(), "the caller is connected anyway");
}

#[test]
fn an_unrecorded_line_has_no_announcement_and_no_recording() {
    let (t, _) = run(
        BASE_CONFIG,
        Route::Agent {
            line: "dj".into(),
            step: AgentStep::Answer,
        },
        &[("From", DJ)],
        ON_AIR,
    );
    assert_eq!(names(&t), ["Dial"]);
    let d = &t.children[0];
    assert_eq!(d.attr("record"), None);
    assert_eq!(d.attr("recordingStatusCallback"), None);
    assert_eq!(d.children[0].attr("url"), None);
}

#[test]
fn agent_recordings_go_through_the_recordings_pipeline() {
    let params = [
        ("initiated_by_section", "agent_line_presenter"),
        ("caller", DJ),
        ("called", "+442079460300"),
        ("CallSid", CALL),
        ("RecordingStatus", "completed"),
        ("RecordingSid", "RE0123456789abcdef0123456789abcdef"),
        ("RecordingUrl", "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE0123456789abcdef0123456789abcdef"),
        ("RecordingDuration", "95"),
    ];
    let (_, r) = run(REPO, Route::RecordingStatus, &params, ON_AIR);
    assert_eq!(r.outcome, "recording queued");
    match &r.effects[..] {
        [Effect::ProcessRecording(job)] => {
            assert_eq!(job.section, "agent_line_presenter");
            assert_eq!(job.caller.as_deref(), Some(DJ));
            assert_eq!(job.duration_seconds, Some(95));
        }
        other => panic!("{other:?}"),
    }
    // A line that does not record ignores the callback.
    let (_, r) = run(
        BASE_CONFIG,
        Route::RecordingStatus,
        &[
            ("initiated_by_section", "agent_line_dj"),
            ("RecordingSid", "RE0123456789abcdef0123456789abcdef"),
        ],
        ON_AIR,
    );
    assert!(r.effects.is_empty());
    assert_eq!(r.outcome, "ignored: section does not record");
}

// ---------------------------------------------------------------------------
// The agent line's PIN

#[test]
fn with_a_pin_a_listed_agent_is_asked_for_it_before_anything_else() {
    let (t, r) = agent_in(REPO, "presenter", AgentStep::Answer, &[("From", DJ)]);
    assert_eq!(names(&t), ["Gather", "Redirect"]);
    let g = &t.children[0];
    assert_eq!(g.attr("numDigits"), Some("4"));
    assert_eq!(
        g.attr("action"),
        Some("https://ivr.example/api/ivr/agent/presenter/pin?attempt=1")
    );
    assert_eq!(g.children[0].text, PIN_PROMPT);
    // No key: the same URL without Digits, which counts as a wrong try.
    assert_eq!(t.children[1].text, g.attr("action").unwrap());
    assert!(!r.outcome.contains("2468"), "{}", r.outcome);
    // An unlisted number is refused before any PIN is asked.
    let (t, _) = agent_in(REPO, "presenter", AgentStep::Answer, &[("From", CALLER)]);
    assert_eq!(t.children[0].text, AGENT_REFUSAL);
    let (t, _) = agent_in(
        REPO,
        "presenter",
        AgentStep::Pin,
        &[("From", CALLER), ("Digits", "2468")],
    );
    assert_eq!(
        t.children[0].text, AGENT_REFUSAL,
        "the PIN alone is not enough"
    );
}

#[test]
fn the_right_pin_connects_the_agent() {
    let (t, r) = agent_in(
        REPO,
        "presenter",
        AgentStep::Pin,
        &[("From", DJ), ("Digits", "2468"), ("attempt", "2")],
    );
    assert_eq!(names(&t), ["Say", "Dial"]);
    assert!(t.children[0].text.starts_with("You are taking calls"));
    assert_eq!(r.outcome, "agent line presenter: agent answers (PIN)");
}

#[test]
fn three_wrong_pins_end_the_call_politely() {
    let pin = |attempt: &str, digits: &str| {
        let mut p = vec![("From", DJ), ("attempt", attempt)];
        if !digits.is_empty() {
            p.push(("Digits", digits));
        }
        agent_in(REPO, "presenter", AgentStep::Pin, &p)
    };
    let (t, _) = pin("1", "1357");
    assert_eq!(names(&t), ["Say", "Gather", "Redirect"]);
    assert_eq!(t.children[0].text, PIN_WRONG);
    assert_eq!(
        t.children[1].attr("action"),
        Some("https://ivr.example/api/ivr/agent/presenter/pin?attempt=2")
    );
    let (t, _) = pin("2", "");
    assert_eq!(
        t.children[1].attr("action"),
        Some("https://ivr.example/api/ivr/agent/presenter/pin?attempt=3"),
        "no key is a try"
    );
    let (t, r) = pin("3", "24680");
    assert_eq!(names(&t), ["Say", "Hangup"]);
    assert_eq!(t.children[0].text, PIN_REFUSED);
    assert!(!r.outcome.contains("2468"));
    // A forged attempt number cannot buy more tries than three.
    let (t, _) = pin("999", "0000");
    assert_eq!(names(&t), ["Say", "Hangup"]);
}

#[test]
fn pins_compare_whole_and_never_print() {
    let p = Pin::new("2468");
    assert!(p.matches("2468"));
    for wrong in ["", "246", "24680", "2469", "\u{0}468"] {
        assert!(!p.matches(wrong), "{wrong:?}");
    }
    assert_eq!(format!("{:?}", Some(p)), "Some(Pin(…))");
}

#[test]
fn a_recorded_line_without_a_pin_is_a_warning_and_a_bad_pin_an_error() {
    let l = loaded(&REPO.replace("pin = 2468\n", ""));
    let rendered: Vec<String> = l.warnings.iter().map(|d| d.render("c.ini")).collect();
    assert!(
        rendered
            .iter()
            .any(|w| w.contains("[agent_line_presenter] pin: records conversations")),
        "{rendered:?}"
    );
    for bad in ["12", "12ab", "1234567890123"] {
        let errs = errors(&REPO.replace("pin = 2468", &format!("pin = {bad}")));
        assert!(
            errs.iter()
                .any(|e| e.contains("pin: a PIN is 4 to 12 digits")),
            "{bad}: {errs:?}"
        );
    }
}

// ---- the callback offer (`callback = yes`) ----

/// A caller in the repository's queue, with the callback offer on.
fn in_queue(route: Route, params: &[(&str, &str)]) -> (Node, crate::flow::Reply) {
    let mut p = vec![
        ("initiated_by_section", "callin"),
        ("CallSid", CALL),
        ("From", CALLER),
        ("To", LINE_NUMBER),
    ];
    p.extend_from_slice(params);
    run(REPO, route, &p, ON_AIR)
}

fn query_of(url: &str) -> Vec<(String, String)> {
    let q = url.split_once('?').map_or("", |(_, q)| q);
    form_urlencoded::parse(q.as_bytes()).into_owned().collect()
}

fn q<'a>(pairs: &'a [(String, String)], k: &str) -> Option<&'a str> {
    pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

#[test]
fn callback_keys_load_and_their_mistakes_are_named() {
    let l = loaded(&with(""));
    assert_eq!(queue_of(&l.config, "callin").callback, None);
    let on = BASE_CONFIG.replace("queue = radio\nlong", "queue = radio\ncallback = yes\nlong");
    let cb = queue_of(&loaded(&on).config, "callin").callback.unwrap();
    assert_eq!(cb.key, "2");
    assert_eq!(cb.offer, None);
    let custom = on.replace(
        "callback = yes\n",
        "callback = yes\ncallback_key = 5\ncallback_say = Press 5 for a call back.\n",
    );
    let cb = queue_of(&loaded(&custom).config, "callin")
        .callback
        .unwrap();
    assert_eq!(cb.key, "5");
    assert_eq!(
        cb.offer,
        Some(Audio::Say("Press 5 for a call back.".into()))
    );
    // Line 14 is the key's: BASE_CONFIG's [action_callin] starts on line 10.
    assert_error(
        &on.replace("callback = yes\n", "callback = yes\ncallback_key = 1\n"),
        "c.ini:14: [action_callin] callback_key: 1 is the long-wait offer's key here: choose another digit",
    );
    assert_error(
        &on.replace("callback = yes\n", "callback = yes\ncallback_key = 22\n"),
        "c.ini:14: [action_callin] callback_key: `22` is not one key: use a digit 0-9",
    );
    assert_error(
        &on.replace("callback = yes\n", "callback = maybe\n"),
        "c.ini:13: [action_callin] callback: `maybe` is not yes/no",
    );
    assert_error(
        &BASE_CONFIG.replace(
            "queue = radio\nlong",
            "queue = radio\ncallback_key = 3\nlong",
        ),
        "c.ini:13: [action_callin] callback_key: has no effect without `callback = yes`",
    );
    // Without a long wait, 1 may take the callback.
    let one = "[ivr]\ntimezone = Europe/London\n[ivr_menu]\nsay = Hi.\n[ivr_menu_option_1]\naction = q\n[action_q]\ntype = queue\nqueue = radio\ncallback = yes\ncallback_key = 1\n[agent_line_dj]\nqueue = radio\nagents = +447700900010\n";
    assert_eq!(
        queue_of(&loaded(one).config, "q").callback.unwrap().key,
        "1"
    );
}

#[test]
fn every_pass_offers_the_callback_and_carries_the_joining_time() {
    let (t, r) = in_queue(
        Route::QueueWait,
        &[
            ("QueuePosition", "3"),
            ("QueueTime", "90"),
            ("AvgQueueTime", "60"),
        ],
    );
    assert_eq!(names(&t), ["Gather"], "{}", r.twiml.render());
    let g = &t.children[0];
    assert_eq!(names(g), ["Say", "Say", "Play"]);
    assert_eq!(
        g.children[1].text,
        "To be called back instead, press 2. You keep your place in line."
    );
    let query = query_of(g.attr("action").unwrap());
    assert!(g
        .attr("action")
        .unwrap()
        .starts_with("https://ivr.example/api/ivr/queue/wait?"));
    // 10:00:00 less 90 seconds of waiting.
    let joined = DateTime::parse_from_rfc3339("2026-11-24T09:58:30Z").unwrap();
    assert_eq!(
        q(&query, "joined"),
        Some(joined.timestamp().to_string().as_str())
    );
    // A long wait offers both, the voicemail first.
    let (t, _) = in_queue(
        Route::QueueWait,
        &[
            ("QueuePosition", "3"),
            ("QueueTime", "400"),
            ("AvgQueueTime", "60"),
        ],
    );
    let g = &t.children[0];
    assert_eq!(names(g), ["Say", "Say", "Say", "Play"]);
    assert!(g.children[1].text.contains("press 1"));
    assert!(g.children[2].text.contains("press 2"));
}

#[test]
fn the_callback_key_reads_the_callers_number_back() {
    let (t, r) = in_queue(
        Route::QueueWait,
        &[("Digits", "2"), ("joined", "1795000000")],
    );
    assert_eq!(names(&t), ["Gather"]);
    let g = &t.children[0];
    assert_eq!(
        g.attr("numDigits"),
        None,
        "a number or 1, ended by # or the timeout"
    );
    assert_eq!(
        g.children[0].text,
        "We will call you back on 0 7 7 0 0 9 0 0 5 5 5. To confirm, press 1. To use another number, type it now, then press hash."
    );
    let action = g.attr("action").unwrap();
    assert!(
        action.starts_with("https://ivr.example/api/ivr/queue/callback?"),
        "{action}"
    );
    let query = query_of(action);
    assert_eq!(q(&query, "number"), Some(CALLER));
    assert_eq!(q(&query, "joined"), Some("1795000000"));
    assert_eq!(q(&query, "initiated_by_section"), Some("callin"));
    assert!(
        r.effects.is_empty(),
        "nothing is stored before the caller confirms"
    );
    // A withheld number: asked to type one.
    let (t, _) = run(
        REPO,
        Route::QueueWait,
        &[
            ("initiated_by_section", "callin"),
            ("CallSid", CALL),
            ("From", "+266696687"),
            ("To", LINE_NUMBER),
            ("Digits", "2"),
        ],
        ON_AIR,
    );
    let g = &t.children[0];
    assert_eq!(g.children[0].text, CALLBACK_TYPE);
    assert_eq!(q(&query_of(g.attr("action").unwrap()), "number"), None);
}

#[test]
fn confirming_creates_the_callback_once_and_hangs_up() {
    let joined = "1795000000";
    let (t, r) = in_queue(
        Route::QueueCallback,
        &[
            ("Digits", "1"),
            ("number", CALLER),
            ("joined", joined),
            ("tries", "0"),
        ],
    );
    assert_eq!(names(&t), ["Say", "Hangup"]);
    assert_eq!(t.children[0].text, CALLBACK_THANKS);
    assert_eq!(
        r.effects,
        [Effect::CreateCallback(NewCallback {
            to: CALLER.into(),
            from: LINE_NUMBER.into(),
            queue: "ask-the-plumber".into(),
            note: None,
            joined_at: DateTime::from_timestamp(1_795_000_000, 0).unwrap(),
            call_sid: Some(CALL.into()),
        })]
    );
    let sorry = r
        .if_failed
        .expect("what the caller hears if it cannot be stored");
    assert_eq!(
        parse(&sorry.render()).unwrap().children[0].text,
        CALLBACK_TROUBLE,
        "told, and back to the wait music (no hang-up)"
    );
    // A joining time in the future (or none) is now.
    let (_, r) = in_queue(
        Route::QueueCallback,
        &[
            ("Digits", "1"),
            ("number", CALLER),
            ("joined", "9999999999"),
        ],
    );
    match &r.effects[..] {
        [Effect::CreateCallback(n)] => {
            assert_eq!(n.joined_at.to_rfc3339(), "2026-11-24T10:00:00+00:00")
        }
        other => panic!("{other:?}"),
    }
    // No CallSid: no item, an apology, the wait goes on.
    let (t, r) = run(
        REPO,
        Route::QueueCallback,
        &[
            ("initiated_by_section", "callin"),
            ("To", LINE_NUMBER),
            ("Digits", "1"),
            ("number", CALLER),
        ],
        ON_AIR,
    );
    assert_eq!(names(&t), ["Say"]);
    assert!(r.effects.is_empty());
}

#[test]
fn a_typed_national_number_is_made_e164_and_read_back() {
    let (t, r) = in_queue(
        Route::QueueCallback,
        &[
            ("Digits", "07700900123"),
            ("number", CALLER),
            ("joined", "1795000000"),
        ],
    );
    assert!(r.effects.is_empty());
    let g = &t.children[0];
    assert!(
        g.children[0]
            .text
            .starts_with("We will call you back on 0 7 7 0 0 9 0 0 1 2 3."),
        "{}",
        g.children[0].text
    );
    let query = query_of(g.attr("action").unwrap());
    assert_eq!(q(&query, "number"), Some("+447700900123"));
    // … and 1 confirms that one.
    let (_, r) = in_queue(
        Route::QueueCallback,
        &[
            ("Digits", "1"),
            ("number", "+447700900123"),
            ("joined", "1795000000"),
        ],
    );
    assert!(matches!(&r.effects[..], [Effect::CreateCallback(n)] if n.to == "+447700900123"));
}

#[test]
fn an_invalid_number_is_refused_with_a_reprompt_then_given_up_on() {
    let (t, r) = in_queue(Route::QueueCallback, &[("Digits", "999"), ("tries", "0")]);
    assert!(r.effects.is_empty());
    let g = &t.children[0];
    assert_eq!(names(&t), ["Gather"]);
    assert_eq!(g.children[0].text, CALLBACK_REFUSED);
    assert_eq!(g.children[1].text, CALLBACK_TYPE);
    assert_eq!(q(&query_of(g.attr("action").unwrap()), "tries"), Some("1"));
    assert!(r.outcome.contains("refused"), "{}", r.outcome);
    // 1 with nothing to confirm is a number too short to call.
    let (t, _) = in_queue(Route::QueueCallback, &[("Digits", "1"), ("tries", "1")]);
    assert_eq!(
        q(&query_of(t.children[0].attr("action").unwrap()), "tries"),
        Some("2")
    );
    // The third refusal: back to waiting, nothing stored.
    let (t, r) = in_queue(Route::QueueCallback, &[("Digits", "0900"), ("tries", "2")]);
    assert_eq!(names(&t), ["Say"]);
    assert_eq!(t.children[0].text, CALLBACK_GIVE_UP);
    assert!(r.effects.is_empty());
    // A forged `number` is not confirmed: it must be a number worth calling.
    let (t, r) = in_queue(
        Route::QueueCallback,
        &[("Digits", "1"), ("number", "+4487123")],
    );
    assert!(r.effects.is_empty());
    assert_eq!(names(&t), ["Gather"]);
}

#[test]
fn callbacks_where_the_queue_does_not_offer_them_change_nothing() {
    let (t, r) = run(
        &no_callback(),
        Route::QueueCallback,
        &[
            ("initiated_by_section", "callin"),
            ("CallSid", CALL),
            ("To", LINE_NUMBER),
            ("Digits", "1"),
            ("number", CALLER),
        ],
        ON_AIR,
    );
    assert_eq!(names(&t), ["Say"]);
    assert!(r.effects.is_empty());
    let (t, r) = run(
        REPO,
        Route::QueueCallback,
        &[("initiated_by_section", "nope"), ("Digits", "1")],
        ON_AIR,
    );
    assert_eq!(names(&t), ["Play"]);
    assert!(r.effects.is_empty());
    // Pressing 2 where no callback is offered keeps waiting.
    let (t, _) = wait(&[("Digits", "2")]);
    assert_eq!(names(&t), ["Play"]);
}
