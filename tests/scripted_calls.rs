//! Scripted calls: the product's end-to-end tests.
//!
//! Each test runs `ivr call` the way an operator would — in-process against
//! a config (`--config … --at … --press … --dial … --json`), or over HTTP
//! against `ivr serve` with signatures checked end to end — and asserts the
//! transcript: what the caller hears, what they press, where the call goes.
//! The repository's `config.ini` and twilio-aws-ivr's sample config are both
//! covered: every menu option, every forward outcome, the hours states (open,
//! closed, a holiday, past midnight, both DST change days), invalid input,
//! and no input until the maximum loops.
//!
//! The radio call-in line (a call queue and its agent line) is driven from
//! both sides: callers in open and closed hours, with short and long waits,
//! pressing 1 for voicemail or hanging up; agents from listed and unlisted
//! numbers, moving from caller to caller. The after-call SMS is sent once
//! per finished conversation — through `ivr serve` into its SMS folder, and
//! through Prism (Twilio's OpenAPI spec) as a real REST call.
//!
//! Also here: a check that the README's diagram is `ivr graph config.ini`.
//! Tests of the simulator itself (its TwiML rules, transports and options)
//! are in `cli/tests/simulator.rs`.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

// Instants, Europe/London (and common's TUESDAY_MORNING: Tuesday 10:00 GMT, the office open).
/// Tuesday 12:45 GMT: the office's lunch break.
const TUESDAY_LUNCH: &str = "2026-11-24T12:45:00Z";
/// Tuesday 18:00 GMT: the office is closed, the emergency line open.
const TUESDAY_EVENING: &str = "2026-11-24T18:00:00Z";
/// Tuesday 14:00 GMT: an afternoon.
const TUESDAY_AFTERNOON: &str = "2026-11-24T14:00:00Z";
/// Sunday 12:00 GMT: the office is closed, the emergency line open (1000-1600).
const SUNDAY_NOON: &str = "2026-11-22T12:00:00Z";
/// Christmas Day, a Friday, 10:00 GMT: both hours sections are closed on 12-25.
const CHRISTMAS: &str = "2026-12-25T10:00:00Z";
/// Saturday 01:30 GMT: past midnight, inside Friday's 2200-0200.
const SATURDAY_PAST_MIDNIGHT: &str = "2026-11-28T01:30:00Z";
/// Friday 01:30 GMT: past midnight after Thursday, whose hours end at 2200.
const FRIDAY_PAST_MIDNIGHT: &str = "2026-11-27T01:30:00Z";
/// Wednesday 08:30 UTC = 09:30 BST: open only if summer time is applied.
const SUMMER_MORNING: &str = "2026-06-17T08:30:00Z";
/// Clocks go forward (Sunday 29 March 2026): 09:30 UTC is 10:30 BST, inside 1000-1600.
const SPRING_FORWARD_OPEN: &str = "2026-03-29T09:30:00Z";
/// 15:30 UTC is 16:30 BST, past 1600.
const SPRING_FORWARD_CLOSED: &str = "2026-03-29T15:30:00Z";
/// Clocks go back (Sunday 25 October 2026): 09:30 UTC is 09:30 GMT, before 1000.
const FALL_BACK_CLOSED: &str = "2026-10-25T09:30:00Z";
/// 15:30 UTC is 15:30 GMT, inside 1000-1600.
const FALL_BACK_OPEN: &str = "2026-10-25T15:30:00Z";

fn repo(at: &str, press: &str, dial: &str) -> Vec<String> {
    let t = call(&repo_config(), at, press, dial);
    t.assert_ok();
    t.lines()
}

fn fixture(at: &str, press: &str, dial: &str) -> Vec<String> {
    let t = call(&fixture_config(), at, press, dial);
    t.assert_ok();
    t.lines()
}

// ---------------------------------------------------------------------------
// The repository's config.ini

const WELCOME: &[&str] = &["say Thank you for calling Acme Plumbing."];
const MAIN_MENU: &[&str] = &[
    "redirect /ivr/menu",
    "  say For sales, press 1. For support, press 2. To leave a message, press 3. For our opening hours, press 4. To hear this again, press 9.",
    "  pause 3",
];
const MAIN_MENU_PROMPT: &[&str] = &[
    "  say For sales, press 1. For support, press 2. To leave a message, press 3. For our opening hours, press 4. To hear this again, press 9.",
    "  pause 3",
];
const SUPPORT_MENU: &[&str] = &[
    "say Connecting you to support.",
    "redirect /ivr/action/support_menu",
    "redirect /ivr/menu?menu=support",
    "  say For a breakdown, press 1. For anything else, press 2. To go back, press 0.",
    "  pause 2",
];
const CLOSED: &[&str] = &[
    "redirect /ivr/action/closed_message",
    "say We are closed right now.",
    "redirect /ivr/action/closed_choice",
    "redirect /ivr/menu?menu=closed",
    "  say For a breakdown, press 1. To leave a message, press 2.",
    "  pause 2",
];
const VOICEMAIL: &[&str] = &[
    "redirect /ivr/action/voicemail",
    "say Please leave your name, number and a short message after the tone.",
    "pause 1",
    "record max 300",
    "say Thank you. We will call you back as soon as we can. Goodbye.",
    "hangup",
    "callback /ivr/callback/voicemail/alert_sms?initiated_by_section=voicemail&caller=%2B447700900555&called=%2B442079460100",
    "recording <RE> queued for export, alerts and deletion at Twilio (not carried out in-process)",
    "end: hangup",
];
const GOODBYE: &[&str] = &[
    "redirect /ivr/action/goodbye",
    "say Thank you for calling. Goodbye.",
    "hangup",
    "end: hangup",
];
const SALES: &[&str] = &[
    "redirect /ivr/action/sales",
    "say Putting you through to sales.",
];
const EMERGENCY: &[&str] = &[
    "redirect /ivr/action/emergency",
    "say Connecting you to the engineer on call.",
];
const HANGUP_AFTER_DIAL: &[&str] = &["hangup", "end: hangup"];

#[test]
fn repo_option_1_sales_answered() {
    assert_eq!(
        repo(TUESDAY_MORNING, "1", "completed"),
        script(&[
            WELCOME,
            MAIN_MENU,
            &["gather 1"],
            SALES,
            &["dial +442079460000 completed", "hangup"],
            // record = yes: Twilio reports the call recording once it is ready.
            &[
                "callback /ivr/callback/voicemail/alert_sms?initiated_by_section=sales&caller=%2B447700900555&called=%2B442079460100",
                "recording <RE> queued for export, alerts and deletion at Twilio (not carried out in-process)",
                "end: hangup",
            ],
        ])
    );
}

#[test]
fn repo_option_1_sales_busy_no_answer_failed_go_to_voicemail() {
    for outcome in ["busy", "no-answer", "failed"] {
        assert_eq!(
            repo(TUESDAY_MORNING, "1", outcome),
            script(&[
                WELCOME,
                MAIN_MENU,
                &["gather 1"],
                SALES,
                &[&format!("dial +442079460000 {outcome}")],
                VOICEMAIL,
            ]),
            "{outcome}"
        );
    }
}

#[test]
fn repo_option_1_sales_canceled_says_goodbye() {
    assert_eq!(
        repo(TUESDAY_MORNING, "1", "canceled"),
        script(&[
            WELCOME,
            MAIN_MENU,
            &["gather 1"],
            SALES,
            &["dial +442079460000 canceled"],
            GOODBYE,
        ])
    );
}

#[test]
fn repo_option_2_support_breakdown_reaches_the_engineer() {
    assert_eq!(
        repo(TUESDAY_MORNING, "2,1", "completed"),
        script(&[
            WELCOME,
            MAIN_MENU,
            &["gather 2"],
            SUPPORT_MENU,
            &["gather 1"],
            EMERGENCY,
            &["dial +447700900123 completed"],
            HANGUP_AFTER_DIAL,
        ])
    );
}

#[test]
fn repo_option_2_support_desk_every_outcome() {
    for (outcome, then) in [
        ("completed", HANGUP_AFTER_DIAL),
        ("busy", VOICEMAIL),
        ("no-answer", VOICEMAIL),
        ("failed", VOICEMAIL),
        ("canceled", GOODBYE),
    ] {
        assert_eq!(
            repo(TUESDAY_MORNING, "2,2", outcome),
            script(&[
                WELCOME,
                MAIN_MENU,
                &["gather 2"],
                SUPPORT_MENU,
                &["gather 2", "redirect /ivr/action/support_desk"],
                &[&format!("dial +442079460001 {outcome}")],
                then,
            ]),
            "{outcome}"
        );
    }
}

#[test]
fn repo_option_2_support_back_to_the_main_menu() {
    assert_eq!(
        repo(TUESDAY_MORNING, "2,0,hangup", ""),
        script(&[
            WELCOME,
            MAIN_MENU,
            &["gather 2"],
            SUPPORT_MENU,
            &["gather 0", "redirect /ivr/action/back_to_menu"],
            MAIN_MENU,
            &["caller hangs up", "end: caller hung up"],
        ])
    );
}

#[test]
fn repo_option_2_support_no_input_until_voicemail() {
    assert_eq!(
        repo(TUESDAY_MORNING, "2,-,-", ""),
        script(&[
            WELCOME,
            MAIN_MENU,
            &["gather 2"],
            SUPPORT_MENU,
            &["gather -", "redirect /ivr/menu?menu=support&loop_count=1"],
            &[
                "  say For a breakdown, press 1. For anything else, press 2. To go back, press 0.",
                "  pause 2",
                "gather -",
            ],
            VOICEMAIL,
        ])
    );
}

#[test]
fn repo_option_3_voicemail() {
    assert_eq!(
        repo(TUESDAY_MORNING, "3", ""),
        script(&[WELCOME, MAIN_MENU, &["gather 3"], VOICEMAIL])
    );
}

#[test]
fn repo_option_4_opening_hours_then_back_to_the_menu() {
    assert_eq!(
        repo(TUESDAY_MORNING, "4,3", ""),
        script(&[
            WELCOME,
            MAIN_MENU,
            &[
                "gather 4",
                "redirect /ivr/action/opening_hours",
                "say We are open Monday to Friday, nine till half past twelve and half past one till half past five, and Saturday mornings.",
            ],
            MAIN_MENU,
            &["gather 3"],
            VOICEMAIL,
        ])
    );
}

#[test]
fn repo_option_9_repeats_the_menu() {
    assert_eq!(
        repo(TUESDAY_MORNING, "9,3", ""),
        script(&[
            WELCOME,
            MAIN_MENU,
            &["gather 9", "redirect /ivr/action/back_to_menu"],
            MAIN_MENU,
            &["gather 3"],
            VOICEMAIL,
        ])
    );
}

#[test]
fn repo_invalid_input_apologises_and_repeats() {
    assert_eq!(
        repo(TUESDAY_MORNING, "7,*,3", ""),
        script(&[
            WELCOME,
            MAIN_MENU,
            &["gather 7", "say Sorry, that is not one of the options."],
            MAIN_MENU,
            &["gather *", "say Sorry, that is not one of the options."],
            MAIN_MENU,
            &["gather 3"],
            VOICEMAIL,
        ])
    );
}

#[test]
fn repo_hash_alone_is_no_input() {
    // `#` is <Gather>'s finishOnKey: pressed alone it submits nothing.
    assert_eq!(
        repo(TUESDAY_MORNING, "#,3", ""),
        script(&[
            WELCOME,
            MAIN_MENU,
            &[
                "gather #",
                "say Sorry, we did not hear a choice.",
                "redirect /ivr/menu?loop_count=1",
            ],
            MAIN_MENU_PROMPT,
            &["gather 3"],
            VOICEMAIL,
        ])
    );
}

#[test]
fn repo_no_input_until_the_maximum_loops() {
    assert_eq!(
        repo(TUESDAY_MORNING, "-,-,-", ""),
        script(&[
            WELCOME,
            MAIN_MENU,
            &[
                "gather -",
                "say Sorry, we did not hear a choice.",
                "redirect /ivr/menu?loop_count=1",
            ],
            MAIN_MENU_PROMPT,
            &[
                "gather -",
                "say Sorry, we did not hear a choice.",
                "redirect /ivr/menu?loop_count=2",
            ],
            MAIN_MENU_PROMPT,
            &["gather -"],
            GOODBYE,
        ])
    );
}

#[test]
fn repo_closed_sunday_breakdown_reaches_the_engineer() {
    assert_eq!(
        repo(SUNDAY_NOON, "1", "no-answer"),
        script(&[
            CLOSED,
            &["gather 1"],
            EMERGENCY,
            &["dial +447700900123 no-answer"],
            VOICEMAIL,
        ])
    );
}

#[test]
fn repo_closed_menu_message_option() {
    assert_eq!(
        repo(SUNDAY_NOON, "2", ""),
        script(&[CLOSED, &["gather 2"], VOICEMAIL])
    );
}

#[test]
fn repo_closed_menu_invalid_then_no_input_goes_to_voicemail() {
    // The closed menu allows one loop: after it, no input leads to voicemail.
    assert_eq!(
        repo(SUNDAY_NOON, "5,-", ""),
        script(&[
            CLOSED,
            &[
                "gather 5",
                "say Sorry, please press 1 or 2.",
                "redirect /ivr/menu?menu=closed"
            ],
            &[
                "  say For a breakdown, press 1. To leave a message, press 2.",
                "  pause 2",
                "gather -",
            ],
            VOICEMAIL,
        ])
    );
}

#[test]
fn repo_closed_in_the_evening_the_emergency_line_is_open() {
    assert_eq!(
        repo(TUESDAY_EVENING, "1", "completed"),
        script(&[
            CLOSED,
            &["gather 1"],
            EMERGENCY,
            &["dial +447700900123 completed"],
            HANGUP_AFTER_DIAL,
        ])
    );
}

#[test]
fn repo_closed_at_lunch() {
    assert_eq!(
        repo(TUESDAY_LUNCH, "2", ""),
        script(&[CLOSED, &["gather 2"], VOICEMAIL])
    );
}

#[test]
fn repo_holiday_everything_is_closed() {
    // Christmas Day: the office is closed and so is the emergency line.
    assert_eq!(
        repo(CHRISTMAS, "1", ""),
        script(&[CLOSED, &["gather 1"], VOICEMAIL])
    );
}

#[test]
fn repo_past_midnight() {
    // Saturday 01:30 is inside Friday's 2200-0200 emergency range.
    assert_eq!(
        repo(SATURDAY_PAST_MIDNIGHT, "1", "busy"),
        script(&[
            CLOSED,
            &["gather 1"],
            EMERGENCY,
            &["dial +447700900123 busy"],
            VOICEMAIL,
        ])
    );
    // Friday 01:30: Thursday's range ended at 22:00, so the line is closed.
    assert_eq!(
        repo(FRIDAY_PAST_MIDNIGHT, "1", ""),
        script(&[CLOSED, &["gather 1"], VOICEMAIL])
    );
}

#[test]
fn repo_summer_time_opening() {
    // 08:30 UTC in June is 09:30 in London: open.
    assert_eq!(
        repo(SUMMER_MORNING, "3", ""),
        script(&[WELCOME, MAIN_MENU, &["gather 3"], VOICEMAIL])
    );
}

#[test]
fn repo_dst_change_days() {
    let engineer = |at: &str| {
        assert_eq!(
            repo(at, "1", "completed"),
            script(&[
                CLOSED,
                &["gather 1"],
                EMERGENCY,
                &["dial +447700900123 completed"],
                HANGUP_AFTER_DIAL,
            ]),
            "{at}: the emergency line should be open"
        );
    };
    let voicemail = |at: &str| {
        assert_eq!(
            repo(at, "1", ""),
            script(&[CLOSED, &["gather 1"], VOICEMAIL]),
            "{at}: the emergency line should be closed"
        );
    };
    // Spring forward: 09:30 UTC is 10:30 BST (open), 15:30 UTC is 16:30 BST (closed).
    engineer(SPRING_FORWARD_OPEN);
    voicemail(SPRING_FORWARD_CLOSED);
    // Fall back: 09:30 UTC is 09:30 GMT (closed), 15:30 UTC is 15:30 GMT (open).
    voicemail(FALL_BACK_CLOSED);
    engineer(FALL_BACK_OPEN);
}

// ---------------------------------------------------------------------------
// The radio call-in line: its own number (/ivr/action/callin) and the
// presenter's (/ivr/agent/presenter)

/// `ivr call --config config.ini --entry ENTRY --at AT --json ARGS…`.
fn line_call(entry: &str, at: &str, args: &[&str]) -> Transcript {
    line_call_in(&repo_config(), entry, at, args)
}

fn line_call_in(config: &Path, entry: &str, at: &str, args: &[&str]) -> Transcript {
    let mut cmd = ivr_command();
    cmd.arg("call")
        .arg("--config")
        .arg(config)
        .args(["--entry", entry, "--at", at, "--json"])
        .args(args);
    run_call(cmd, true)
}

/// The repository's config.ini without its callback offer: the transcripts
/// below are about the rounds of waiting themselves (the offer has its own,
/// [`callin_asks_for_a_callback_and_hangs_up`], and `cli/tests/work_api.rs`).
fn repo_without_callback() -> TempConfig {
    let text = read(&repo_config());
    write_config("no-callback", &replace_once(&text, "callback = yes\n", ""))
}

fn callin(at: &str, args: &[&str]) -> Vec<String> {
    let cfg = repo_without_callback();
    let t = line_call_in(&cfg.path, "/ivr/action/callin", at, args);
    t.assert_ok();
    t.lines()
}

#[test]
fn callin_asks_for_a_callback_and_hangs_up() {
    let t = line_call(
        "/ivr/action/callin",
        TUESDAY_MORNING,
        &[
            "--queue-position",
            "3",
            "--queue",
            "hangup",
            "--press",
            "2,1",
        ],
    );
    t.assert_ok();
    assert_eq!(
        t.lines(),
        script(&[
            CALLIN,
            &[
                "  say You are caller number 3.",
                "  say To be called back instead, press 2. You keep your place in line.",
                "  play https://demo.twilio.com/docs/classic.mp3",
                "gather 2",
                "  say We will call you back on 0 7 7 0 0 9 0 0 5 5 5. To confirm, press 1. To use another number, type it now, then press hash.",
                "gather 1",
                // The effect comes with the answer, before its TwiML plays.
                "callback to +447700900555 from +442079460100 in queue ask-the-plumber (a work item under `ivr serve`; not stored in-process)",
                "say Thank you. We will call you back; you keep your place in line. Goodbye.",
                "hangup",
                "callback /ivr/queue/result?initiated_by_section=callin",
                "end: hangup",
            ],
        ])
    );
}

const CALLIN: &[&str] = &[
    "say Welcome to Ask the Plumber on Radio Acme. We will put you on air as soon as we can.",
    "enqueue ask-the-plumber",
];
const HOLD: &str = "play https://demo.twilio.com/docs/classic.mp3";
const OFFER: &str =
    "  say It is busy today. To leave your question as a message instead, press 1. Or stay on the line.";
const THANKS: &str = "sms +447700900555 Thanks for calling Ask the Plumber! Do you have any feedback for us? Just reply to this message.";
const CALLIN_VOICEMAIL: &[&str] = &[
    "redirect /ivr/action/callin_voicemail",
    "say Leave your question for the plumber after the tone, and we may answer it on air.",
    "pause 1",
    "record max 120",
    "say Thank you. Goodbye.",
    "hangup",
    "callback /ivr/callback/voicemail/alert_sms?initiated_by_section=callin_voicemail&caller=%2B447700900555&called=%2B442079460100",
    "recording <RE> queued for export, alerts and deletion at Twilio (not carried out in-process)",
    "end: hangup",
];

#[test]
fn callin_open_hours_enqueue_announce_and_text_after_the_call() {
    assert_eq!(
        callin(
            TUESDAY_MORNING,
            &[
                "--queue-position",
                "3",
                "--queue-avg-wait",
                "240",
                "--queue-passes",
                "2"
            ]
        ),
        script(&[
            CALLIN,
            &[
                "say You are caller number 3. The expected wait is about 4 minutes.",
                HOLD,
                "say You are caller number 3. The expected wait is about 4 minutes.",
                HOLD,
                "dequeue ask-the-plumber bridged",
                // The conversation is over: the thank-you text, then goodbye.
                THANKS,
                "hangup",
                "end: hangup",
            ],
        ])
    );
}

#[test]
fn callin_next_in_line_with_no_wait_statistics_yet() {
    assert_eq!(
        callin(TUESDAY_MORNING, &[]),
        script(&[
            CALLIN,
            &[
                "say You are next in line.",
                HOLD,
                "dequeue ask-the-plumber bridged",
                THANKS,
                "hangup",
                "end: hangup",
            ],
        ])
    );
}

#[test]
fn callin_closed_hours_go_straight_to_voicemail() {
    for at in [TUESDAY_EVENING, SUNDAY_NOON, CHRISTMAS] {
        assert_eq!(
            callin(at, &[]),
            script(&[
                &[
                    "redirect /ivr/action/callin_closed",
                    "say Ask the Plumber is on air on Tuesday mornings, from nine till twelve.",
                ],
                CALLIN_VOICEMAIL,
            ]),
            "{at}"
        );
    }
}

#[test]
fn callin_long_wait_press_1_leaves_for_voicemail() {
    assert_eq!(
        callin(
            TUESDAY_MORNING,
            &[
                "--queue-position",
                "6",
                "--queue-avg-wait",
                "420",
                "--press",
                "1"
            ]
        ),
        script(&[
            CALLIN,
            &[
                "  say You are caller number 6. The expected wait is about 7 minutes.",
                OFFER,
                "  play https://demo.twilio.com/docs/classic.mp3",
                "gather 1",
                "leave",
                "dequeue ask-the-plumber leave",
            ],
            // No thank-you text: there was no conversation.
            CALLIN_VOICEMAIL,
        ])
    );
}

#[test]
fn callin_long_wait_stay_on_the_line_until_the_presenter_answers() {
    assert_eq!(
        callin(
            TUESDAY_MORNING,
            &[
                "--queue-position",
                "2",
                "--queue-avg-wait",
                "400",
                "--queue-passes",
                "2",
                "--press",
                "-,-",
            ]
        ),
        script(&[
            CALLIN,
            &[
                "  say You are caller number 2. The expected wait is about 7 minutes.",
                OFFER,
                "  play https://demo.twilio.com/docs/classic.mp3",
                "gather -",
                "  say You are caller number 2. The expected wait is about 7 minutes.",
                OFFER,
                "  play https://demo.twilio.com/docs/classic.mp3",
                "gather -",
                "dequeue ask-the-plumber bridged",
                THANKS,
                "hangup",
                "end: hangup",
            ],
        ])
    );
}

#[test]
fn callin_hanging_up_in_the_queue_gets_no_text() {
    assert_eq!(
        callin(
            TUESDAY_MORNING,
            &[
                "--queue-position",
                "4",
                "--queue-passes",
                "2",
                "--queue",
                "hangup"
            ]
        ),
        script(&[
            CALLIN,
            &[
                "say You are caller number 4.",
                HOLD,
                "say You are caller number 4.",
                HOLD,
                "dequeue ask-the-plumber hangup",
                "caller hangs up",
                "callback /ivr/queue/result?initiated_by_section=callin",
                "end: caller hung up",
            ],
        ])
    );
    // Hanging up at the long-wait offer: the same.
    let lines = callin(
        TUESDAY_MORNING,
        &["--queue-avg-wait", "900", "--press", "hangup"],
    );
    assert_eq!(
        &lines[lines.len() - 3..],
        [
            "caller hangs up",
            "callback /ivr/queue/result?initiated_by_section=callin",
            "end: caller hung up"
        ]
    );
    assert!(!lines.iter().any(|l| l.starts_with("sms ")), "{lines:#?}");
}

const PRESENTER: &str = "+447700900010";
const PRESENTER_LINE: &str = "+442079460300";

/// The repository's presenter PIN (`[agent_line_presenter] pin`).
const PRESENTER_PIN: &str = "2468";

/// A presenter's call: a listed one types the PIN, then takes the `dial` outcomes.
fn presenter(from: &str, dial: &str) -> Transcript {
    let mut args = vec!["--from", from, "--to", PRESENTER_LINE];
    if !dial.is_empty() {
        args.extend(["--press", PRESENTER_PIN, "--dial", dial]);
    }
    line_call("/ivr/agent/presenter", TUESDAY_MORNING, &args)
}

#[test]
fn presenter_takes_callers_one_after_another() {
    let t = presenter(PRESENTER, "completed,completed,no-answer,canceled");
    t.assert_ok();
    let recorded = "callback /ivr/callback/voicemail/alert_sms?initiated_by_section=agent_line_presenter&caller=%2B447700900010&called=%2B442079460300";
    let taken = [
        "dial queue ask-the-plumber completed",
        "callback /ivr/agent/presenter/announce",
        "announce This call is being recorded, and may be broadcast.",
    ];
    assert_eq!(
        t.lines(),
        script(&[
            // Caller ID is not enough: the PIN first.
            &["  say Please enter your PIN.", "gather 2468"],
            &["say You are taking calls for Ask the Plumber. Press star to end a call and take the next caller."],
            &taken,
            // The caller hung up, or the presenter pressed *: the next one.
            &["say Next caller."],
            &taken,
            &["say Next caller."],
            // Nobody is waiting: said, then the queue is dialled again.
            &[
                "dial queue ask-the-plumber no-answer",
                "say No callers are waiting. You will be connected as soon as someone calls.",
                "pause 5",
                // The presenter hangs up.
                "dial queue ask-the-plumber canceled",
                "hangup",
            ],
            // Both conversations were recorded: into the recordings pipeline.
            &[
                recorded,
                "recording <RE> queued for export, alerts and deletion at Twilio (not carried out in-process)",
                recorded,
                "recording <RE> queued for export, alerts and deletion at Twilio (not carried out in-process)",
                "end: hangup",
            ],
        ])
    );
    // The agent's dial: the queue, recorded, hangupOnStar, its action the next route.
    let dial = t.events.iter().find(|e| e["event"] == "dial").unwrap();
    assert_eq!(dial["target"], "queue ask-the-plumber");
}

#[test]
fn the_second_listed_presenter_is_served_too() {
    let t = presenter("+447700900011", "canceled");
    t.assert_ok();
    assert_eq!(t.lines()[3], "dial queue ask-the-plumber canceled");
}

#[test]
fn a_forged_presenter_number_without_the_pin_is_sent_away() {
    let t = line_call(
        "/ivr/agent/presenter",
        TUESDAY_MORNING,
        &[
            "--from",
            PRESENTER,
            "--to",
            PRESENTER_LINE,
            "--press",
            "1111,2222,3333",
        ],
    );
    t.assert_ok();
    assert_eq!(
        t.lines(),
        [
            "  say Please enter your PIN.",
            "gather 1111",
            "say That PIN is not right.",
            "  say Please enter your PIN.",
            "gather 2222",
            "say That PIN is not right.",
            "  say Please enter your PIN.",
            "gather 3333",
            "say Sorry, that PIN is not right. Goodbye.",
            "hangup",
            "end: hangup"
        ]
    );
}

#[test]
fn an_unlisted_number_cannot_take_callers() {
    for from in ["+447700900555", "+447700900012"] {
        let t = presenter(from, "");
        t.assert_ok();
        assert_eq!(
            t.lines(),
            [
                "say Sorry, this number cannot take calls on this line. Goodbye.",
                "hangup",
                "end: hangup"
            ]
        );
    }
}

#[test]
fn the_call_in_line_over_http_texts_once_per_conversation() {
    let cfg = repo_without_callback();
    let server = Server::builder(&cfg.path).now(TUESDAY_MORNING).start();
    // Written by the webhook before it answers: there when the reply is.
    let texts = || -> Vec<Value> {
        let mut out: Vec<Value> = server
            .sms_files()
            .iter()
            .map(|p| {
                serde_json::from_str(&read(p))
                    .unwrap_or_else(|e| panic!("{} is not JSON: {e}", p.display()))
            })
            .collect();
        out.sort_by_key(|v: &Value| v.to_string());
        out
    };
    let callin_url = format!("{}/ivr/action/callin", server.base);
    let call = |extra: &[&str]| {
        let args = [&["--call-sid", CALL_SID][..], extra].concat();
        let t = call_url(&callin_url, Some(TOKEN), "", "", &args);
        t.assert_ok();
        t
    };
    // Hung up while waiting, or left for voicemail: no text.
    call(&["--queue", "hangup"]);
    call(&[
        "--queue-avg-wait",
        "900",
        "--press",
        "1",
        "--media-wait",
        "0",
    ]);
    assert_eq!(texts(), Vec::<Value>::new(), "no conversation, no text");
    // A conversation: one text, from the line's number to the caller.
    let t = call(&[]);
    assert!(t
        .lines()
        .contains(&"dequeue ask-the-plumber bridged".to_string()));
    let expected = serde_json::json!({
        "from": "+442079460100",
        "to": "+447700900555",
        "body": "Thanks for calling Ask the Plumber! Do you have any feedback for us? Just reply to this message.",
    });
    assert_eq!(texts(), vec![expected.clone()]);
    // Twilio posts the same result again (a retry), and the same call again: still one text.
    for _ in 0..2 {
        let r = server.post(
            "/ivr/queue/result?initiated_by_section=callin",
            &[
                ("CallSid", CALL_SID),
                ("From", "+447700900555"),
                ("To", "+442079460100"),
                ("QueueResult", "bridged"),
                ("QueueTime", "95"),
            ],
        );
        r.assert_status(200);
        assert!(r.body.contains("<Hangup/>"), "{}", r.body);
    }
    call(&[]);
    assert_eq!(texts(), vec![expected]);
}

const CALL_SID: &str = "CA00000000000000000000000000c0ffee";

#[test]
fn the_after_call_sms_is_a_twilio_rest_call_prism_accepts_once_per_call() {
    let prism = Prism::start();
    let server = Server::builder(repo_config())
        .now(TUESDAY_MORNING)
        .env("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
        .env("TWILIO_API_BASE", &prism.base)
        .start();
    let result = |q: &str| {
        server.post(
            "/ivr/queue/result?initiated_by_section=callin",
            &[
                ("AccountSid", ACCOUNT_SID),
                ("CallSid", CALL_SID),
                ("From", "+447700900555"),
                ("To", "+442079460100"),
                ("QueueResult", q),
            ],
        )
    };
    // No conversation: nothing sent.
    for q in ["hangup", "leave"] {
        assert_eq!(result(q).status, 200, "{q}");
    }
    // The conversation ends, and Twilio's callback comes twice.
    for _ in 0..2 {
        let r = result("bridged");
        r.assert_status(200);
        assert!(r.body.contains("<Hangup/>"), "{}", r.body);
    }
    // The server logs each effect before it answers, but its stderr reaches
    // this test through a pipe: wait for both lines.
    let sms_lines = || -> Vec<String> {
        server
            .stderr()
            .lines()
            .filter(|l| l.contains("\"effect\":\"send-sms\""))
            .map(str::to_string)
            .collect()
    };
    server.wait_until("two send-sms effect lines on stderr", || {
        sms_lines().len() >= 2
    });
    let log = server.stderr();
    let sms_lines = sms_lines();
    assert_eq!(
        sms_lines.len(),
        2,
        "two bridged callbacks, two effects:\n{log}"
    );
    // The first was sent (Prism answered 201 with a Message SID: the request passed its validation) …
    assert!(
        sms_lines[0].contains(&format!("after-call-sms/{CALL_SID}: sent SM")),
        "{}\nprism:\n{}",
        sms_lines[0],
        prism.log_text()
    );
    // … the second was not sent again.
    assert!(
        sms_lines[1].contains("already sent, not sent again"),
        "{}",
        sms_lines[1]
    );
    // Prism writes its log after it has answered: wait for the request to show.
    let messages = format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json");
    let prism_log = prism.wait_for_log("the Messages request", |log| log.contains(&messages));
    let posts = prism_log.matches(&messages).count();
    assert!(posts >= 1, "Prism saw no Messages request:\n{prism_log}");
    assert!(!log.contains(": not sent:"), "{log}");
}

// ---------------------------------------------------------------------------
// twilio-aws-ivr's sample config, unchanged

const S3: &str = "https://audio.example.net/ivr";

fn fx(lines: &[&str]) -> Vec<String> {
    lines.iter().map(|l| l.replace("{S3}", S3)).collect()
}

const FX_WELCOME: &[&str] = &[
    "play {S3}/welcome.mp3",
    "redirect /ivr/menu",
    "  play {S3}/main-menu.mp3",
    "  pause 3",
];
const FX_GOODBYE: &[&str] = &[
    "redirect /ivr/action/hangup_with_goodbye",
    "play {S3}/goodbye.mp3",
    "hangup",
    "end: hangup",
];
const FX_HANGUP: &[&str] = &[
    "redirect /ivr/action/hangup_without_goodbye",
    "hangup",
    "end: hangup",
];
const FX_VOICEMAIL: &[&str] = &[
    "redirect /ivr/action/voicemail_example",
    "play {S3}/lines-busy.mp3",
    "pause 1",
    "record max 300",
    "play {S3}/lines-busy-bye.mp3",
    "hangup",
    "callback /ivr/callback/voicemail/alert_sms?initiated_by_section=voicemail_example&caller=%2B447700900555&called=%2B442079460100",
    "recording <RE> queued for export, alerts and deletion at Twilio (not carried out in-process)",
    "end: hangup",
];

fn fx_script(parts: &[&[&str]]) -> Vec<String> {
    fx(&script(parts).iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn fixture_options_0_and_1_hang_up() {
    assert_eq!(
        fixture(TUESDAY_MORNING, "0", ""),
        fx_script(&[
            FX_WELCOME,
            &["gather 0", "play {S3}/option-sample.mp3"],
            FX_HANGUP,
        ])
    );
    assert_eq!(
        fixture(TUESDAY_MORNING, "1", ""),
        fx_script(&[
            FX_WELCOME,
            &["gather 1", "play {S3}/option-hangup.mp3"],
            FX_HANGUP,
        ])
    );
}

#[test]
fn fixture_option_2_redirect() {
    assert_eq!(
        fixture(TUESDAY_MORNING, "2", ""),
        fx_script(&[
            FX_WELCOME,
            &[
                "gather 2",
                "play {S3}/option-redirect.mp3",
                "redirect /ivr/action/redirect_example",
                "play {S3}/redirecting.mp3",
            ],
            FX_GOODBYE,
        ])
    );
}

#[test]
fn fixture_option_3_forward_every_outcome() {
    for outcome in ["completed", "busy", "no-answer", "failed", "canceled"] {
        let then: &[&str] = if outcome == "completed" {
            &["hangup", "end: hangup"]
        } else {
            FX_VOICEMAIL
        };
        assert_eq!(
            fixture(TUESDAY_MORNING, "3", outcome),
            fx_script(&[
                FX_WELCOME,
                &[
                    "gather 3",
                    "play {S3}/option-forward.mp3",
                    "redirect /ivr/action/forward_example",
                    "play {S3}/connecting.mp3",
                    &format!("dial +442079460000 {outcome}"),
                ],
                then,
            ]),
            "{outcome}"
        );
    }
}

#[test]
fn fixture_option_4_voicemail() {
    assert_eq!(
        fixture(TUESDAY_MORNING, "4", ""),
        fx_script(&[
            FX_WELCOME,
            &["gather 4", "play {S3}/option-voicemail.mp3"],
            FX_VOICEMAIL,
        ])
    );
}

fn fixture_hours(at: &str, digit: &str) -> Vec<String> {
    fixture(at, digit, "")
}

const FX_MORNING: &[&str] = &[
    "gather 5",
    "play {S3}/option-morning-afternoon.mp3",
    "redirect /ivr/action/redirect_morning_or_afternoon",
    "play {S3}/its-morning.mp3",
    "redirect /ivr/action/hangup_without_goodbye",
    "hangup",
    "end: hangup",
];
const FX_AFTERNOON: &[&str] = &[
    "gather 5",
    "play {S3}/option-morning-afternoon.mp3",
    "redirect /ivr/action/redirect_morning_or_afternoon",
    "redirect /ivr/action/redirect_morning_or_afternoon_its_afternoon",
    "play {S3}/its-afternoon.mp3",
    "hangup",
    "end: hangup",
];
const FX_WEEKDAY: &[&str] = &[
    "gather 6",
    "play {S3}/option-weekday-weekend.mp3",
    "redirect /ivr/action/redirect_weekday_or_weekend",
    "play {S3}/its-a-weekday.mp3",
    "redirect /ivr/action/hangup_without_goodbye",
    "hangup",
    "end: hangup",
];
const FX_WEEKEND: &[&str] = &[
    "gather 6",
    "play {S3}/option-weekday-weekend.mp3",
    "redirect /ivr/action/redirect_weekday_or_weekend",
    "redirect /ivr/action/redirect_weekday_or_weekend_its_a_weekend",
    "play {S3}/its-a-weekend.mp3",
    "hangup",
    "end: hangup",
];

#[test]
fn fixture_option_5_morning_or_afternoon() {
    assert_eq!(
        fixture_hours(TUESDAY_MORNING, "5"),
        fx_script(&[FX_WELCOME, FX_MORNING])
    );
    assert_eq!(
        fixture_hours(TUESDAY_AFTERNOON, "5"),
        fx_script(&[FX_WELCOME, FX_AFTERNOON])
    );
    // Past midnight is a morning.
    assert_eq!(
        fixture_hours(SATURDAY_PAST_MIDNIGHT, "5"),
        fx_script(&[FX_WELCOME, FX_MORNING])
    );
}

#[test]
fn fixture_option_6_weekday_or_weekend() {
    assert_eq!(
        fixture_hours(TUESDAY_MORNING, "6"),
        fx_script(&[FX_WELCOME, FX_WEEKDAY])
    );
    assert_eq!(
        fixture_hours(SUNDAY_NOON, "6"),
        fx_script(&[FX_WELCOME, FX_WEEKEND])
    );
    // Saturday 01:30 is the weekend, though Friday evening was a weekday.
    assert_eq!(
        fixture_hours(SATURDAY_PAST_MIDNIGHT, "6"),
        fx_script(&[FX_WELCOME, FX_WEEKEND])
    );
    // The sample config knows no holidays: Christmas Day 2026 is a Friday.
    assert_eq!(
        fixture_hours(CHRISTMAS, "6"),
        fx_script(&[FX_WELCOME, FX_WEEKDAY])
    );
}

#[test]
fn fixture_dst_change_days() {
    // Spring forward: 11:30 UTC is 12:30 BST, an afternoon.
    assert_eq!(
        fixture_hours("2026-03-29T11:30:00Z", "5"),
        fx_script(&[FX_WELCOME, FX_AFTERNOON])
    );
    // Fall back: 11:30 UTC is 11:30 GMT, still the morning.
    assert_eq!(
        fixture_hours("2026-10-25T11:30:00Z", "5"),
        fx_script(&[FX_WELCOME, FX_MORNING])
    );
    // Both are Sundays.
    assert_eq!(
        fixture_hours("2026-03-29T11:30:00Z", "6"),
        fx_script(&[FX_WELCOME, FX_WEEKEND])
    );
}

#[test]
fn fixture_options_7_8_9_back_to_the_menu() {
    for digit in ["7", "8", "9"] {
        assert_eq!(
            fixture(TUESDAY_MORNING, &format!("{digit},0"), ""),
            fx_script(&[
                FX_WELCOME,
                &[
                    &format!("gather {digit}"),
                    "redirect /ivr/action/back_to_menu",
                    "play {S3}/back-to-menu.mp3",
                ],
                &FX_WELCOME[1..],
                &["gather 0", "play {S3}/option-sample.mp3"],
                FX_HANGUP,
            ]),
            "{digit}"
        );
    }
}

#[test]
fn fixture_no_input_hangs_up_after_one_loop() {
    assert_eq!(
        fixture(TUESDAY_MORNING, "-", ""),
        fx_script(&[FX_WELCOME, &["gather -"], FX_GOODBYE])
    );
}

#[test]
fn fixture_invalid_input() {
    assert_eq!(
        fixture(TUESDAY_MORNING, "*,-", ""),
        fx_script(&[
            FX_WELCOME,
            &["gather *", "say Sorry, that is not a valid choice."],
            &FX_WELCOME[1..],
            &["gather -"],
            FX_GOODBYE,
        ])
    );
}

// ---------------------------------------------------------------------------
// Against `ivr serve`, signed end to end

#[test]
fn against_ivr_serve_signed_end_to_end() {
    let server = Server::builder(repo_config()).now(TUESDAY_MORNING).start();
    let url = format!("{}/ivr", server.base);

    // The same call, over HTTP with signatures, as in-process.
    let t = call_url(&url, Some(TOKEN), "1", "busy", &[]);
    t.assert_ok();
    let lines = t.lines();
    let in_process = repo(TUESDAY_MORNING, "1", "busy");
    // In-process mode says the recording would be queued; over HTTP the
    // server's pipeline really fetches the audio the simulator serves.
    let expected: Vec<String> = in_process
        .into_iter()
        .map(|l| {
            if l.starts_with("recording <RE> queued") {
                "recording media fetched 1 of 1 time(s)".to_string()
            } else {
                l
            }
        })
        .collect();
    assert_eq!(lines, expected);
    assert_eq!(t.events.last().unwrap()["requests"], 8);
    assert!(t.events[0]["url"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:"));

    // The wrong token: the server refuses the very first request.
    call_url(&url, Some("not-the-token"), "1", "busy", &[])
        .assert_failed("answered HTTP 403: invalid X-Twilio-Signature");
    // No token: unsigned, and refused.
    let t = call_url(&url, None, "1", "busy", &[]);
    t.assert_failed("answered HTTP 403: missing X-Twilio-Signature");
    assert!(t.stderr.contains("UNSIGNED"), "{}", t.stderr);
}

// ---------------------------------------------------------------------------
// `ivr graph` and the README

fn graph(path: &Path, format: &str) -> String {
    let out = ivr_command()
        .arg("graph")
        .arg(path)
        .args(["--format", format])
        .output()
        .expect("run ivr graph");
    assert!(
        out.status.success(),
        "ivr graph failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn graph_of_the_repository_config() {
    let m = graph(&repo_config(), "mermaid");
    assert!(m.starts_with("flowchart TD\n"), "{m}");
    for needle in [
        "incoming([\"incoming call\"])",
        "hours__ivr_welcome{\"hours office?\"}",
        "incoming --> hours__ivr_welcome",
        "hours__ivr_welcome -->|\"open\"| ivr_welcome",
        "hours__ivr_welcome -->|\"closed\"| action_closed_message",
        "ivr_menu -->|\"press 1\"| action_sales",
        "ivr_menu -->|\"no input ×3\"| action_goodbye",
        "action_sales -->|\"busy\"| action_voicemail",
        "action_sales -->|\"canceled\"| action_goodbye",
        "action_sales[\"action_sales<br/>say “Putting you through to sales.”<br/>forward +442079460000 (recorded)\"]",
        "action_voicemail -->|\"after the message\"| hangup",
        // The call-in line: its own number, hours, long-wait branch, after-call text.
        "incoming__action_callin([\"incoming call to /ivr/action/callin\"])",
        "incoming__action_callin --> hours__action_callin",
        "hours__action_callin -->|\"closed\"| action_callin_closed",
        "action_callin -->|\"long wait: press 1\"| action_callin_voicemail",
        "action_callin -->|\"after the call: SMS\"| hangup",
        "queue ask-the-plumber<br/>hold: play classic.mp3, announces position and wait<br/>long wait: over 300s",
        // The agent line: an entry of its own, taking callers from the queue.
        "agent_line_presenter([\"agent_line_presenter<br/>agents call /ivr/agent/presenter<br/>agents: +447700900010, +447700900011",
        "agent_line_presenter -.->|\"takes the next caller\"| action_callin",
    ] {
        assert!(m.contains(needle), "missing `{needle}` in\n{m}");
    }
    assert!(!m.contains("unreachable"), "{m}");
    let d = graph(&repo_config(), "dot");
    assert!(
        d.contains("\"agent_line_presenter\" -> \"action_callin\" [label=\"takes the next caller\", style=dashed];"),
        "{d}"
    );
    assert!(d.starts_with("digraph ivr {"), "{d}");
    assert!(
        d.contains("\"action_sales\" -> \"action_voicemail\" [label=\"busy\"];"),
        "{d}"
    );
    // Deterministic.
    assert_eq!(m, graph(&repo_config(), "mermaid"));
}

#[test]
fn graph_of_the_fixture_config() {
    let m = graph(&fixture_config(), "mermaid");
    for needle in [
        "incoming --> ivr_welcome",
        "ivr_welcome[\"ivr_welcome<br/>play welcome.mp3\"]",
        "hours__action_redirect_morning_or_afternoon{\"hours open_mornings_only?\"}",
        "ivr_menu -->|\"no input\"| action_hangup_with_goodbye",
        "action_forward_example -->|\"no-answer\"| action_voicemail_example",
    ] {
        assert!(m.contains(needle), "missing `{needle}` in\n{m}");
    }
}

/// The README embeds `ivr graph config.ini` between these markers, framed as
/// "\n```mermaid\n" + output + "```\n". `UPDATE_README=1 cargo test` rewrites it.
#[test]
fn readme_diagram_is_current() {
    const START: &str = "<!-- ivr-graph:start -->";
    const END: &str = "<!-- ivr-graph:end -->";
    let readme_path = repo_root().join("README.md");
    let expected = format!("\n```mermaid\n{}```\n", graph(&repo_config(), "mermaid"));
    let readme = std::fs::read_to_string(&readme_path)
        .unwrap_or_else(|e| panic!("{}: {e}", readme_path.display()));
    let (Some(s), Some(e)) = (readme.find(START), readme.find(END)) else {
        panic!(
            "README.md lacks the {START} … {END} markers; put this between them:\n{START}{expected}{END}"
        );
    };
    assert!(s < e, "the markers are out of order");
    let current = &readme[s + START.len()..e];
    if current != expected && std::env::var_os("UPDATE_README").is_some() {
        let updated = format!("{}{expected}{}", &readme[..s + START.len()], &readme[e..]);
        std::fs::write(&readme_path, updated).expect("write README.md");
        return;
    }
    assert!(
        current == expected,
        "README.md's diagram is stale: run `UPDATE_README=1 cargo test -p ivr --test scripted_calls readme` or paste:\n{START}{expected}{END}"
    );
}
