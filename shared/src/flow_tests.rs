//! Flow units: one request in, TwiML trees and effects out.

use chrono::{DateTime, Utc};

use super::*;
use crate::recordings::RecordingJob;
use crate::twiml::{parse, Node};

const FIXTURE: &str = include_str!("../../tests/fixtures/twilio-aws-ivr.config.ini");
const REPO: &str = include_str!("../../config.ini");
const BASE: &str = "https://ivr.example/api";

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A Tuesday, 10:00 in London.
const OPEN: &str = "2026-11-24T10:00:00Z";

fn run(cfg: &str, route: Route, params: &[(&str, &str)], now: &str) -> (Node, Reply) {
    let config = Config::parse(cfg).unwrap().config;
    let params = Params::from_pairs(params);
    let call = Call {
        base: BASE,
        params: &params,
        now: at(now),
    };
    let reply = respond(&config, &route, &call);
    (parse(&reply.twiml.render()).unwrap(), reply)
}

fn names(n: &Node) -> Vec<&str> {
    n.children.iter().map(|c| c.name.as_str()).collect()
}

#[test]
fn welcome_plays_then_redirects_to_menu() {
    let (t, _) = run(FIXTURE, Route::Welcome, &[], OPEN);
    assert_eq!(names(&t), ["Play", "Redirect"]);
    assert_eq!(t.children[1].text, "https://ivr.example/api/ivr/menu");
    assert_eq!(t.children[1].attr("method"), Some("POST"));
}

#[test]
fn menu_gathers_one_digit_with_prompt_inside() {
    let (t, _) = run(FIXTURE, Route::Menu, &[], OPEN);
    let g = &t.children[0];
    assert_eq!(g.name, "Gather");
    assert_eq!(g.attr("numDigits"), Some("1"));
    assert_eq!(g.attr("action"), Some("https://ivr.example/api/ivr/menu"));
    assert_eq!(names(g), ["Play", "Pause"]);
    assert_eq!(g.children[1].attr("length"), Some("3"));
    // no_input_max_loops = 1: the first pass is the last.
    assert_eq!(
        t.children[1].text,
        "https://ivr.example/api/ivr/action/hangup_with_goodbye"
    );
    assert_eq!(t.children.len(), 2);
}

#[test]
fn menu_loops_until_max_then_runs_the_action() {
    let (t, _) = run(REPO, Route::Menu, &[], OPEN);
    assert_eq!(names(&t), ["Gather", "Say", "Redirect"]);
    assert_eq!(
        t.children[2].text,
        "https://ivr.example/api/ivr/menu?loop_count=1"
    );
    let (t, _) = run(REPO, Route::Menu, &[("loop_count", "1")], OPEN);
    assert_eq!(
        t.children[2].text,
        "https://ivr.example/api/ivr/menu?loop_count=2"
    );
    let (t, _) = run(REPO, Route::Menu, &[("loop_count", "2")], OPEN);
    assert_eq!(names(&t), ["Gather", "Redirect"]);
    assert_eq!(
        t.children[1].text,
        "https://ivr.example/api/ivr/action/goodbye"
    );
}

#[test]
fn bad_loop_counts_start_over() {
    for bad in ["abc", "-3", "1.5", "99999999999999999999"] {
        let (t, r) = run(REPO, Route::Menu, &[("loop_count", bad)], OPEN);
        assert_eq!(t.children[0].name, "Gather", "{bad}");
        assert!(r.outcome.contains("loop 1"), "{bad}: {}", r.outcome);
    }
}

#[test]
fn say_carries_voice_and_language() {
    let (t, _) = run(REPO, Route::Welcome, &[], OPEN);
    let say = &t.children[0];
    assert_eq!(say.name, "Say");
    assert_eq!(say.attr("voice"), Some("Polly.Amy"));
    assert_eq!(say.attr("language"), Some("en-GB"));
}

#[test]
fn digits_on_the_menu_run_the_option() {
    let (t, _) = run(FIXTURE, Route::Menu, &[("Digits", "3")], OPEN);
    assert_eq!(names(&t), ["Play", "Redirect"]);
    assert_eq!(
        t.children[1].text,
        "https://ivr.example/api/ivr/action/forward_example"
    );
    let (t2, _) = run(FIXTURE, Route::MenuOption("3".into()), &[], OPEN);
    assert_eq!(t, t2);
}

#[test]
fn invalid_digits_apologise_and_reprompt() {
    let cfg = FIXTURE.replace("[ivr_menu_option_9]\naction = back_to_menu", "");
    for bad in ["9", "#", "*", " 1", "1/2", "12", "<x>"] {
        let (t, r) = run(&cfg, Route::Menu, &[("Digits", bad)], OPEN);
        assert_eq!(names(&t), ["Say", "Redirect"], "{bad}");
        assert_eq!(t.children[0].text, DEFAULT_INVALID);
        assert_eq!(
            t.children[1].text, "https://ivr.example/api/ivr/menu",
            "{bad}"
        );
        assert_eq!(r.outcome, "invalid choice");
    }
    let (t, _) = run(REPO, Route::MenuOption("7".into()), &[], OPEN);
    assert_eq!(t.children[0].text, "Sorry, that is not one of the options.");
}

#[test]
fn sub_menus_keep_their_name_in_urls() {
    let (t, _) = run(REPO, Route::Action("support_menu".into()), &[], OPEN);
    assert_eq!(
        t.children[0].text,
        "https://ivr.example/api/ivr/menu?menu=support"
    );
    let (t, _) = run(REPO, Route::Menu, &[("menu", "support")], OPEN);
    assert_eq!(
        t.children[0].attr("action"),
        Some("https://ivr.example/api/ivr/menu?menu=support")
    );
    let (t, _) = run(
        REPO,
        Route::Menu,
        &[("menu", "support"), ("Digits", "2")],
        OPEN,
    );
    assert_eq!(
        t.children[0].text,
        "https://ivr.example/api/ivr/action/support_desk"
    );
    let (t, r) = run(REPO, Route::Menu, &[("menu", "nope")], OPEN);
    assert_eq!(names(&t), ["Say", "Redirect"]);
    assert!(r.outcome.starts_with("recovered"));
}

#[test]
fn hours_gate_runs_the_closed_action_first() {
    // Sunday: the office is closed; nothing else in the section plays.
    let (t, r) = run(REPO, Route::Welcome, &[], "2026-11-22T12:00:00Z");
    assert_eq!(names(&t), ["Redirect"]);
    assert_eq!(
        t.children[0].text,
        "https://ivr.example/api/ivr/action/closed_message"
    );
    assert_eq!(r.outcome, "closed (office)");
    // Christmas Day on a Friday morning: closed.
    let (t, _) = run(REPO, Route::Welcome, &[], "2026-12-25T10:00:00Z");
    assert_eq!(names(&t), ["Redirect"]);
    // 0000-1159 in the fixture: 11:59:30 open, 12:00:00 closed (UTC = London in November).
    let morning = |now| {
        run(
            FIXTURE,
            Route::Action("redirect_morning_or_afternoon".into()),
            &[],
            now,
        )
        .0
    };
    assert_eq!(
        morning("2026-11-24T11:59:30Z").children[1].text,
        "https://ivr.example/api/ivr/action/hangup_without_goodbye"
    );
    assert_eq!(
        morning("2026-11-24T12:00:00Z").children[0].text,
        "https://ivr.example/api/ivr/action/redirect_morning_or_afternoon_its_afternoon"
    );
    // 0000-2359 covers the last minute of the day.
    let weekday = run(
        FIXTURE,
        Route::Action("redirect_weekday_or_weekend".into()),
        &[],
        "2026-11-24T23:59:30Z",
    )
    .0;
    assert_eq!(names(&weekday), ["Play", "Redirect"]);
}

#[test]
fn forward_dials_with_callback_and_options() {
    let (t, _) = run(REPO, Route::Action("sales".into()), &[], OPEN);
    assert_eq!(names(&t), ["Say", "Dial"]);
    let d = &t.children[1];
    assert_eq!(d.text, "+442079460000");
    assert_eq!(
        d.attr("action"),
        Some("https://ivr.example/api/ivr/callback/forward/call_status?initiated_by_section=sales")
    );
    assert_eq!(d.attr("timeout"), Some("20"));
    assert_eq!(d.attr("callerId"), Some("+442079460999"));
    assert_eq!(d.attr("record"), Some("record-from-answer-dual"));
    assert!(d
        .attr("recordingStatusCallback")
        .unwrap()
        .ends_with("/ivr/callback/voicemail/alert_sms?initiated_by_section=sales"));
    // Without play_sample (a 500 in twilio-aws-ivr).
    let (t, _) = run(REPO, Route::Action("support_desk".into()), &[], OPEN);
    assert_eq!(names(&t), ["Dial"]);
    assert_eq!(t.children[0].attr("record"), None);
}

#[test]
fn forward_status_maps_outcomes_to_actions() {
    let cb = |status: &str| {
        run(
            FIXTURE,
            Route::ForwardStatus,
            &[
                ("initiated_by_section", "forward_example"),
                ("DialCallStatus", status),
            ],
            OPEN,
        )
        .0
    };
    for s in ["busy", "no-answer", "failed", "canceled"] {
        assert_eq!(
            cb(s).children[0].text,
            "https://ivr.example/api/ivr/action/voicemail_example",
            "{s}"
        );
    }
    assert_eq!(names(&cb("completed")), ["Hangup"]);
    let (t, _) = run(
        REPO,
        Route::ForwardStatus,
        &[
            ("initiated_by_section", "sales"),
            ("DialCallStatus", "canceled"),
        ],
        OPEN,
    );
    assert_eq!(
        t.children[0].text,
        "https://ivr.example/api/ivr/action/goodbye"
    );
}

#[test]
fn forward_status_without_a_forward_section_recovers() {
    for params in [
        vec![("DialCallStatus", "busy")],
        vec![("initiated_by_section", "nope"), ("DialCallStatus", "busy")],
        vec![
            ("initiated_by_section", "hangup_with_goodbye"),
            ("DialCallStatus", "busy"),
        ],
    ] {
        let (t, r) = run(FIXTURE, Route::ForwardStatus, &params, OPEN);
        assert_eq!(names(&t), ["Say", "Redirect"], "{params:?}");
        assert!(r.outcome.starts_with("recovered"), "{}", r.outcome);
    }
}

#[test]
fn voicemail_records_with_callbacks() {
    let (t, _) = run(
        FIXTURE,
        Route::Action("voicemail_example".into()),
        &[],
        OPEN,
    );
    assert_eq!(names(&t), ["Play", "Pause", "Record"]);
    let rec = &t.children[2];
    assert_eq!(rec.attr("timeout"), Some("5"));
    assert_eq!(rec.attr("maxLength"), Some("300"));
    assert_eq!(
        rec.attr("action"),
        Some("https://ivr.example/api/ivr/callback/voicemail/hangup?initiated_by_section=voicemail_example")
    );
    assert_eq!(
        rec.attr("recordingStatusCallback"),
        Some("https://ivr.example/api/ivr/callback/voicemail/alert_sms?initiated_by_section=voicemail_example")
    );
    assert_eq!(rec.attr("recordingStatusCallbackMethod"), Some("POST"));
}

#[test]
fn voicemail_hangup_plays_goodbye_or_just_hangs_up() {
    let (t, _) = run(
        FIXTURE,
        Route::VoicemailHangup,
        &[("initiated_by_section", "voicemail_example")],
        OPEN,
    );
    assert_eq!(names(&t), ["Play", "Hangup"]);
    for bad in [
        vec![],
        vec![("initiated_by_section", "nope")],
        vec![("initiated_by_section", "forward_example")],
    ] {
        let (t, _) = run(FIXTURE, Route::VoicemailHangup, &bad, OPEN);
        assert_eq!(names(&t), ["Hangup"]);
    }
}

const RE: &str = "RE0123456789abcdef0123456789abcdef";

#[test]
fn recording_status_queues_a_completed_recording() {
    let ok = [
        ("initiated_by_section", "voicemail_example"),
        ("caller", "+447700900555"),
        ("called", "+442079460123"),
        ("CallSid", "CA0123456789abcdef0123456789abcdef"),
        ("RecordingStatus", "completed"),
        (
            "RecordingUrl",
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1",
        ),
        ("RecordingDuration", "12"),
        ("RecordingSid", RE),
    ];
    let (t, r) = run(FIXTURE, Route::RecordingStatus, &ok, OPEN);
    assert!(t.children.is_empty());
    assert_eq!(
        r.effects,
        vec![Effect::ProcessRecording(RecordingJob {
            recording_sid: RE.into(),
            call_sid: "CA0123456789abcdef0123456789abcdef".into(),
            recording_url: "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1".into(),
            duration_seconds: Some(12),
            section: "voicemail_example".into(),
            caller: Some("+447700900555".into()),
            called: Some("+442079460123".into()),
            received_at: at(OPEN),
        })]
    );
    // A recorded forward is exported too.
    let fwd: Vec<(&str, &str)> = ok
        .iter()
        .map(|(k, v)| {
            if *k == "initiated_by_section" {
                (*k, "sales")
            } else {
                (*k, *v)
            }
        })
        .collect();
    assert_eq!(
        run(REPO, Route::RecordingStatus, &fwd, OPEN)
            .1
            .effects
            .len(),
        1
    );
    let without = |drop: &str| -> Vec<(&str, &str)> {
        ok.iter().copied().filter(|(k, _)| *k != drop).collect()
    };
    let with = |key: &str, value: &'static str| -> Vec<(&str, &str)> {
        ok.iter()
            .map(|(k, v)| if *k == key { (*k, value) } else { (*k, *v) })
            .collect()
    };
    for params in [
        without("initiated_by_section"),
        without("RecordingUrl"),
        without("RecordingStatus"),
        without("RecordingSid"),
        with("RecordingSid", "RE123"),
        with("RecordingStatus", "in-progress"),
        with("initiated_by_section", "forward_example"),
        with("initiated_by_section", "nope"),
        with("RecordingUrl", "javascript:alert(1)"),
    ] {
        let (_, r) = run(FIXTURE, Route::RecordingStatus, &params, OPEN);
        assert!(r.effects.is_empty(), "{params:?}");
    }
    // Caller numbers that are not E.164 are dropped, not trusted.
    let r = run(
        FIXTURE,
        Route::RecordingStatus,
        &with("caller", "<script>"),
        OPEN,
    )
    .1;
    assert!(matches!(&r.effects[0], Effect::ProcessRecording(j) if j.caller.is_none()));
}

#[test]
fn voicemail_callbacks_carry_the_caller_and_transcription() {
    let cfg = FIXTURE.replace(
        "voicemail_max_length = 300",
        "voicemail_max_length = 300\ntranscribe = yes",
    );
    let (t, _) = run(
        &cfg,
        Route::Action("voicemail_example".into()),
        &[("From", "+447700900555"), ("To", "+442079460123")],
        OPEN,
    );
    let rec = &t.children[2];
    assert_eq!(
        rec.attr("recordingStatusCallback"),
        Some("https://ivr.example/api/ivr/callback/voicemail/alert_sms?initiated_by_section=voicemail_example&caller=%2B447700900555&called=%2B442079460123")
    );
    assert_eq!(rec.attr("transcribe"), Some("true"));
    assert_eq!(
        rec.attr("transcribeCallback"),
        Some("https://ivr.example/api/ivr/callback/voicemail/alert_sms?initiated_by_section=voicemail_example")
    );
    let tr = [
        ("initiated_by_section", "voicemail_example"),
        ("RecordingSid", RE),
        ("TranscriptionStatus", "completed"),
        ("TranscriptionText", "Hello, please call me back."),
    ];
    let (_, r) = run(&cfg, Route::RecordingStatus, &tr, OPEN);
    assert_eq!(
        r.effects,
        vec![Effect::RecordTranscription {
            recording_sid: RE.into(),
            status: "completed".into(),
            text: Some("Hello, please call me back.".into()),
        }]
    );
    // Without transcribe = yes, a transcription callback is ignored.
    assert!(run(FIXTURE, Route::RecordingStatus, &tr, OPEN)
        .1
        .effects
        .is_empty());
}

#[test]
fn unknown_action_recovers_to_the_menu() {
    let (t, r) = run(FIXTURE, Route::Action("nope<&>".into()), &[], OPEN);
    assert_eq!(names(&t), ["Say", "Redirect"]);
    assert_eq!(t.children[1].text, "https://ivr.example/api/ivr/menu");
    assert!(r.outcome.starts_with("recovered"));
}

#[test]
fn overnight_and_dst_hours_through_the_flow() {
    // menu_closed option 1 is gated by the emergency hours (fri 2200-0200).
    let opt = |now| {
        run(
            REPO,
            Route::Menu,
            &[("menu", "closed"), ("Digits", "1")],
            now,
        )
        .0
    };
    let emergency = "https://ivr.example/api/ivr/action/emergency";
    let voicemail = "https://ivr.example/api/ivr/action/voicemail";
    assert_eq!(opt("2026-11-28T01:30:00Z").children[0].text, emergency); // Sat 01:30
    assert_eq!(opt("2026-11-28T02:00:30Z").children[0].text, emergency); // end minute counts whole
    assert_eq!(opt("2026-11-28T02:01:00Z").children[0].text, voicemail);
    // Sunday 1000-1600 on the day clocks go back: 09:30 UTC is 09:30 GMT (closed), 10:30 UTC open.
    assert_eq!(opt("2026-10-25T09:30:00Z").children[0].text, voicemail);
    assert_eq!(opt("2026-10-25T10:30:00Z").children[0].text, emergency);
    // Sunday on the day clocks go forward: 09:30 UTC is 10:30 BST, open.
    assert_eq!(opt("2026-03-29T09:30:00Z").children[0].text, emergency);
    assert_eq!(opt("2026-03-29T08:30:00Z").children[0].text, voicemail);
}
