//! HTTP black-box tests: the real `ivr serve`, driven the way Twilio drives it.
//!
//! Routes and TwiML against twilio-aws-ivr's sample config (loaded unchanged)
//! and the repository's config.ini; each known twilio-aws-ivr bug as rows of
//! one table; the signature check; start-up failures. TwiML is compared as
//! parsed trees, never as strings.

mod common;

use common::*;
use shared::flow::{DEFAULT_INVALID, DEFAULT_RECOVER};

const S3: &str = "https://audio.example.net/ivr";

fn s3(file: &str) -> String {
    format!("{S3}/{file}")
}

/// What Twilio posts on every voice webhook.
const CALL: &[(&str, &str)] = &[
    ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
    ("CallSid", "CAfedcba9876543210fedcba9876543210"),
    ("From", "+447700900555"),
    ("To", "+442079460123"),
    ("CallStatus", "in-progress"),
    ("Direction", "inbound"),
    ("ApiVersion", "2010-04-01"),
];

fn with<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut v: Vec<(&str, &str)> = CALL.to_vec();
    v.extend_from_slice(extra);
    v
}

/// How every bad request recovers on the fixture (no voice configured).
fn recovered(srv: &Server) -> Node {
    response(vec![say(DEFAULT_RECOVER), redirect(&srv.url("/ivr/menu"))])
}

/// The fixture's answer to a key that is not an option.
fn invalid_choice(srv: &Server) -> Node {
    response(vec![say(DEFAULT_INVALID), redirect(&srv.url("/ivr/menu"))])
}

fn fixture_menu(srv: &Server) -> Node {
    response(vec![
        gather(
            &srv.url("/ivr/menu"),
            vec![play(&s3("main-menu.mp3")), pause(3)],
        ),
        redirect(&srv.url("/ivr/action/hangup_with_goodbye")),
    ])
}

fn fixture_dial(srv: &Server) -> Node {
    node(
        "Dial",
        &[
            (
                "action",
                &srv.url("/ivr/callback/forward/call_status?initiated_by_section=forward_example"),
            ),
            ("method", "POST"),
        ],
        "+442079460000",
        vec![],
    )
}

const REPO_MENU_SAY: &str = "For sales, press 1. For support, press 2. To leave a message, press 3. For our opening hours, press 4. To hear this again, press 9.";
const REPO_SUPPORT_SAY: &str =
    "For a breakdown, press 1. For anything else, press 2. To go back, press 0.";
const REPO_WELCOME_SAY: &str = "Thank you for calling Acme Plumbing.";

fn repo_welcome(srv: &Server) -> Node {
    response(vec![
        say_amy(REPO_WELCOME_SAY),
        redirect(&srv.url("/ivr/menu")),
    ])
}

fn repo_closed(srv: &Server) -> Node {
    response(vec![redirect(&srv.url("/ivr/action/closed_message"))])
}

/// `[menu_closed]` option 1: the emergency line, gated by `[hours_emergency]`.
fn press_emergency(srv: &Server) -> Reply {
    srv.post("/ivr/menu?menu=closed", &with(&[("Digits", "1")]))
}

fn emergency_open(srv: &Server) -> Node {
    response(vec![redirect(&srv.url("/ivr/action/emergency"))])
}

fn emergency_closed(srv: &Server) -> Node {
    response(vec![redirect(&srv.url("/ivr/action/voicemail"))])
}

const CALL_SID: &str = "CAfedcba9876543210fedcba9876543210";
/// `From` and `To` of CALL.
const CALLER: &str = "+447700900555";
const CALLED: &str = "+442079460123";
/// The fixture's voicemail `alert_sms_from` / `alert_sms_to`.
const SMS_FROM: &str = "+447700900000";
const SMS_TO: &str = "+447700900001";

/// The recording status callback as the fixture's `<Record>` names it for CALL.
const ALERT_SMS: &str = "/ivr/callback/voicemail/alert_sms?initiated_by_section=voicemail_example&caller=%2B447700900555&called=%2B442079460123";
/// The same callback without the numbers (an action request without From/To).
const ALERT_SMS_BARE: &str =
    "/ivr/callback/voicemail/alert_sms?initiated_by_section=voicemail_example";
/// The repo's recorded forward (`[action_sales]`, `record = yes`).
const ALERT_SALES: &str = "/ivr/callback/voicemail/alert_sms?initiated_by_section=sales&caller=%2B447700900555&called=%2B442079460123";

const RECORDING_SID: &str = "RE0123456789abcdef0123456789abcdef";
/// Another recording, for the control that proves the worker was alive.
const CONTROL_SID: &str = "REffffffffffffffffffffffffffffffff";
const RECORDING_URL: &str =
    "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Recordings/RE0123456789abcdef0123456789abcdef";

/// What Twilio posts on a recording status callback (no From/To: the
/// numbers come from the callback URL's query).
fn recording_status_for<'a>(
    sid: &'a str,
    url: &'a str,
    status: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("AccountSid", ACCOUNT_SID),
        ("CallSid", CALL_SID),
        ("RecordingSid", sid),
        ("RecordingUrl", url),
        ("RecordingStatus", status),
        ("RecordingDuration", "42"),
        ("RecordingChannels", "1"),
        ("RecordingStartTime", "Wed, 17 Jun 2026 09:00:05 +0000"),
        ("RecordingSource", "RecordVerb"),
        ("RecordingTrack", "both"),
    ]
}

fn recording_status<'a>(url: &'a str, status: &'a str) -> Vec<(&'a str, &'a str)> {
    recording_status_for(RECORDING_SID, url, status)
}

/// Where a recording received at `local_date` (`YYYY/MM/DD` in the IVR timezone) is stored.
fn recording_key(local_date: &str, sid: &str) -> String {
    format!("recordings/{local_date}/{CALL_SID}/{sid}.mp3")
}

/// After a quiet period: nothing fetched from the media server, no file in the data folder.
fn assert_quiet(srv: &Server, media: &MediaServer, what: &str) {
    std::thread::sleep(QUIET_PERIOD);
    assert!(
        media.requests().is_empty(),
        "{what}: media fetched: {:?}",
        media.requests()
    );
    assert!(
        srv.inventory().is_empty(),
        "{what}: files written: {:?}\nstderr:\n{}",
        srv.inventory(),
        srv.stderr()
    );
}

/// A valid voicemail callback for another recording is processed: the worker
/// was alive while the ignored requests were not acted on, and they were not
/// acted on later either (only the control was fetched).
fn assert_worker_alive_and_only_control_fetched(srv: &Server, media: &MediaServer) {
    let url = media.recording_url(CONTROL_SID);
    assert_twiml(
        &srv.post(
            ALERT_SMS,
            &recording_status_for(CONTROL_SID, &url, "completed"),
        ),
        &response(vec![]),
    );
    srv.wait_until("the control recording's SMS", || srv.sms_files().len() == 1);
    srv.wait_for_idle_queue();
    assert_eq!(
        media.requests(),
        vec![format!(
            "GET /2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{CONTROL_SID}.mp3"
        )],
        "only the control recording may be fetched"
    );
    assert!(srv.state(RECORDING_SID).is_none(), "{:?}", srv.inventory());
}

fn read_json(path: &std::path::Path) -> serde_json::Value {
    let text = read(path);
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON ({e}): {text}", path.display()))
}

/// A field of a state file (`{"state": {...}, lease...}`, or the fields at the top).
fn state_field(v: &serde_json::Value, name: &str) -> serde_json::Value {
    match v.get("state") {
        Some(s) if s.is_object() => s[name].clone(),
        _ => v[name].clone(),
    }
}

/// The fixture with an email alert (and, if `transcribe`, transcriptions) on its voicemail.
fn voicemail_config(tag: &str, transcribe: bool) -> TempConfig {
    let mut extra = String::from("voicemail_alert_email_to = office@example.com\n");
    if transcribe {
        extra.push_str("transcribe = yes\n");
    }
    let text = replace_once(
        &read(&fixture_config()),
        "voicemail_max_length = 300\n",
        &format!("voicemail_max_length = 300\n{extra}"),
    );
    write_config(tag, &text)
}

// ===========================================================================
// 1. Every route of the fixture config, signed

#[test]
fn fixture_welcome_plays_then_redirects_to_menu() {
    let srv = Server::fixture();
    let expected = response(vec![
        play(&s3("welcome.mp3")),
        redirect(&srv.url("/ivr/menu")),
    ]);
    assert_twiml(&srv.post("/ivr", &with(&[])), &expected);
    // A number may be configured to call the webhook with GET.
    assert_twiml(&srv.request("/ivr").method("GET").send(), &expected);
}

#[test]
fn fixture_menu_gathers_one_digit_then_gives_up_after_one_loop() {
    let srv = Server::fixture();
    assert_twiml(&srv.post("/ivr/menu", &with(&[])), &fixture_menu(&srv));
    // An empty Digits is Twilio's "no input", not a key.
    assert_twiml(
        &srv.post("/ivr/menu", &with(&[("Digits", "")])),
        &fixture_menu(&srv),
    );
}

#[test]
fn fixture_menu_digit_plays_option_sample_and_redirects_to_its_action() {
    let srv = Server::fixture();
    let options: &[(&str, Option<&str>, &str)] = &[
        ("0", Some("option-sample.mp3"), "hangup_without_goodbye"),
        ("1", Some("option-hangup.mp3"), "hangup_without_goodbye"),
        ("2", Some("option-redirect.mp3"), "redirect_example"),
        ("3", Some("option-forward.mp3"), "forward_example"),
        ("4", Some("option-voicemail.mp3"), "voicemail_example"),
        (
            "5",
            Some("option-morning-afternoon.mp3"),
            "redirect_morning_or_afternoon",
        ),
        (
            "6",
            Some("option-weekday-weekend.mp3"),
            "redirect_weekday_or_weekend",
        ),
        ("7", None, "back_to_menu"),
        ("8", None, "back_to_menu"),
        ("9", None, "back_to_menu"),
    ];
    for (digit, sample, action) in options {
        let mut verbs: Vec<Node> = sample.iter().map(|s| play(&s3(s))).collect();
        verbs.push(redirect(&srv.url(&format!("/ivr/action/{action}"))));
        let expected = response(verbs);
        assert_twiml(
            &srv.post("/ivr/menu", &with(&[("Digits", digit)])),
            &expected,
        );
        assert_twiml(
            &srv.post(&format!("/ivr/menu/{digit}"), &with(&[])),
            &expected,
        );
    }
}

#[test]
fn fixture_menu_option_path_4() {
    let srv = Server::fixture();
    assert_twiml(
        &srv.post("/ivr/menu/4", &with(&[])),
        &response(vec![
            play(&s3("option-voicemail.mp3")),
            redirect(&srv.url("/ivr/action/voicemail_example")),
        ]),
    );
}

#[test]
fn fixture_forward_action_dials_with_status_callback() {
    let srv = Server::fixture();
    assert_twiml(
        &srv.post("/ivr/action/forward_example", &with(&[])),
        &response(vec![play(&s3("connecting.mp3")), fixture_dial(&srv)]),
    );
}

fn fixture_record(srv: &Server, status_callback: &str) -> Node {
    node(
        "Record",
        &[
            (
                "action",
                &srv.url("/ivr/callback/voicemail/hangup?initiated_by_section=voicemail_example"),
            ),
            ("method", "POST"),
            ("timeout", "5"),
            ("maxLength", "300"),
            ("recordingStatusCallback", &srv.url(status_callback)),
            ("recordingStatusCallbackMethod", "POST"),
        ],
        "",
        vec![],
    )
}

#[test]
fn fixture_voicemail_action_records_with_callbacks() {
    let srv = Server::fixture();
    // The status callback carries the caller and the called number (signed, in its URL).
    assert_twiml(
        &srv.post("/ivr/action/voicemail_example", &with(&[])),
        &response(vec![
            play(&s3("lines-busy.mp3")),
            pause(1),
            fixture_record(&srv, ALERT_SMS),
        ]),
    );
    // Only the numbers the action request had.
    let no_numbers: Vec<(&str, &str)> = CALL
        .iter()
        .copied()
        .filter(|(k, _)| *k != "From" && *k != "To")
        .collect();
    assert_twiml(
        &srv.post("/ivr/action/voicemail_example", &no_numbers),
        &response(vec![
            play(&s3("lines-busy.mp3")),
            pause(1),
            fixture_record(&srv, ALERT_SMS_BARE),
        ]),
    );
    let only_from: Vec<(&str, &str)> = CALL.iter().copied().filter(|(k, _)| *k != "To").collect();
    assert_twiml(
        &srv.post("/ivr/action/voicemail_example", &only_from),
        &response(vec![
            play(&s3("lines-busy.mp3")),
            pause(1),
            fixture_record(&srv, &format!("{ALERT_SMS_BARE}&caller=%2B447700900555")),
        ]),
    );
}

#[test]
fn voicemail_transcribe_yes_asks_twilio_for_a_transcription() {
    let cfg = voicemail_config("vm-transcribe-twiml", true);
    let srv = Server::builder(&cfg.path).start();
    let mut record = fixture_record(&srv, ALERT_SMS);
    record.attrs.push(("transcribe".into(), "true".into()));
    record
        .attrs
        .push(("transcribeCallback".into(), srv.url(ALERT_SMS_BARE)));
    assert_twiml(
        &srv.post("/ivr/action/voicemail_example", &with(&[])),
        &response(vec![play(&s3("lines-busy.mp3")), pause(1), record]),
    );
    // Without `transcribe = yes` (the fixture, email or not) nothing is asked.
    let plain = voicemail_config("vm-no-transcribe-twiml", false);
    let srv = Server::builder(&plain.path).start();
    assert_twiml(
        &srv.post("/ivr/action/voicemail_example", &with(&[])),
        &response(vec![
            play(&s3("lines-busy.mp3")),
            pause(1),
            fixture_record(&srv, ALERT_SMS),
        ]),
    );
}

#[test]
fn fixture_other_actions() {
    let srv = Server::fixture();
    let cases = [
        (
            "hangup_with_goodbye",
            response(vec![play(&s3("goodbye.mp3")), hangup()]),
        ),
        ("hangup_without_goodbye", response(vec![hangup()])),
        (
            "redirect_example",
            response(vec![
                play(&s3("redirecting.mp3")),
                redirect(&srv.url("/ivr/action/hangup_with_goodbye")),
            ]),
        ),
        (
            "back_to_menu",
            response(vec![
                play(&s3("back-to-menu.mp3")),
                redirect(&srv.url("/ivr/menu")),
            ]),
        ),
    ];
    for (action, expected) in cases {
        assert_twiml(
            &srv.post(&format!("/ivr/action/{action}"), &with(&[])),
            &expected,
        );
    }
}

#[test]
fn fixture_forward_status_routes_each_dial_outcome() {
    let srv = Server::fixture();
    let path = "/ivr/callback/forward/call_status?initiated_by_section=forward_example";
    for status in ["busy", "no-answer", "failed", "canceled"] {
        assert_twiml(
            &srv.post(
                path,
                &with(&[("DialCallStatus", status), ("DialCallSid", "CA1")]),
            ),
            &response(vec![redirect(&srv.url("/ivr/action/voicemail_example"))]),
        );
    }
    assert_twiml(
        &srv.post(
            path,
            &with(&[
                ("DialCallStatus", "completed"),
                ("DialCallSid", "CA1"),
                ("DialCallDuration", "73"),
            ]),
        ),
        &response(vec![hangup()]),
    );
}

#[test]
fn fixture_voicemail_hangup_plays_goodbye_and_hangs_up() {
    let srv = Server::fixture();
    assert_twiml(
        &srv.post(
            "/ivr/callback/voicemail/hangup?initiated_by_section=voicemail_example",
            &with(&[
                ("RecordingUrl", RECORDING_URL),
                ("RecordingDuration", "42"),
                ("Digits", "hangup"),
            ]),
        ),
        &response(vec![play(&s3("lines-busy-bye.mp3")), hangup()]),
    );
}

#[test]
fn fixture_hangup_route() {
    let srv = Server::fixture();
    assert_twiml(
        &srv.post("/ivr/hangup", &with(&[])),
        &response(vec![hangup()]),
    );
}

fn assert_ping(srv: &Server, expected_offset: &str, instant: &str) {
    let r = srv.get_unsigned("/ping");
    r.assert_status(200);
    assert!(
        r.content_type.starts_with("application/json"),
        "ping content type {}",
        r.content_type
    );
    let v = r.json();
    assert_eq!(v["name"], "ping", "{}", r.body);
    let at = v["invokedAt"]
        .as_str()
        .unwrap_or_else(|| panic!("no invokedAt in {}", r.body));
    let parsed = chrono::DateTime::parse_from_rfc3339(at)
        .unwrap_or_else(|e| panic!("invokedAt `{at}` is not RFC 3339: {e}"));
    assert!(
        at.ends_with(expected_offset),
        "invokedAt `{at}` is not in the IVR timezone (offset {expected_offset})"
    );
    let want = chrono::DateTime::parse_from_rfc3339(instant).expect("test instant");
    assert_eq!(parsed, want, "invokedAt `{at}` is not IVR_NOW");
}

#[test]
fn ping_reports_the_time_in_the_ivr_timezone_unsigned() {
    let summer = Server::fixture();
    assert_ping(&summer, "+01:00", WEEKDAY_10AM);
    // Twilio never calls /ping; the scheduler does, unsigned, with POST or GET.
    summer.request("/ping").unsigned().send().assert_status(200);
    let winter = Server::fixture_at("2026-01-14T10:00:00Z");
    assert_ping(&winter, "+00:00", "2026-01-14T10:00:00Z");
}

#[test]
fn ping_follows_the_clock_change_on_a_dst_day() {
    assert_ping(
        &Server::repo_at("2026-03-29T00:59:00Z"),
        "+00:00",
        "2026-03-29T00:59:00Z",
    );
    assert_ping(
        &Server::repo_at("2026-03-29T01:00:00Z"),
        "+01:00",
        "2026-03-29T01:00:00Z",
    );
}

// ===========================================================================
// 2. The repository's config.ini: speech, sub-menus, opening hours

#[test]
fn repo_say_prompts_carry_voice_and_language() {
    let srv = Server::repo();
    assert_twiml(&srv.post("/ivr", &with(&[])), &repo_welcome(&srv));
    assert_twiml(
        &srv.post("/ivr/menu", &with(&[])),
        &response(vec![
            gather(
                &srv.url("/ivr/menu"),
                vec![say_amy(REPO_MENU_SAY), pause(3)],
            ),
            say_amy("Sorry, we did not hear a choice."),
            redirect(&srv.url("/ivr/menu?loop_count=1")),
        ]),
    );
    assert_twiml(
        &srv.post("/ivr/menu", &with(&[("Digits", "2")])),
        &response(vec![
            say_amy("Connecting you to support."),
            redirect(&srv.url("/ivr/action/support_menu")),
        ]),
    );
}

#[test]
fn repo_menu_loops_on_no_input_then_takes_the_max_loops_action() {
    let srv = Server::repo();
    let gather_main = || {
        gather(
            &srv.url("/ivr/menu"),
            vec![say_amy(REPO_MENU_SAY), pause(3)],
        )
    };
    assert_twiml(
        &srv.post("/ivr/menu?loop_count=1", &with(&[])),
        &response(vec![
            gather_main(),
            say_amy("Sorry, we did not hear a choice."),
            redirect(&srv.url("/ivr/menu?loop_count=2")),
        ]),
    );
    assert_twiml(
        &srv.post("/ivr/menu?loop_count=2", &with(&[])),
        &response(vec![
            gather_main(),
            redirect(&srv.url("/ivr/action/goodbye")),
        ]),
    );
    assert_twiml(
        &srv.post("/ivr/action/goodbye", &with(&[])),
        &response(vec![say_amy("Thank you for calling. Goodbye."), hangup()]),
    );
}

#[test]
fn repo_sub_menu_via_menu_action() {
    let srv = Server::repo();
    assert_twiml(
        &srv.post("/ivr/action/support_menu", &with(&[])),
        &response(vec![redirect(&srv.url("/ivr/menu?menu=support"))]),
    );
    assert_twiml(
        &srv.post("/ivr/menu?menu=support", &with(&[])),
        &response(vec![
            gather(
                &srv.url("/ivr/menu?menu=support"),
                vec![say_amy(REPO_SUPPORT_SAY), pause(2)],
            ),
            redirect(&srv.url("/ivr/menu?menu=support&loop_count=1")),
        ]),
    );
    assert_twiml(
        &srv.post("/ivr/menu?menu=support", &with(&[("Digits", "1")])),
        &response(vec![redirect(&srv.url("/ivr/action/emergency"))]),
    );
    assert_twiml(
        &srv.post("/ivr/menu?menu=support", &with(&[("Digits", "2")])),
        &response(vec![redirect(&srv.url("/ivr/action/support_desk"))]),
    );
    assert_twiml(
        &srv.post("/ivr/menu?menu=support", &with(&[("Digits", "0")])),
        &response(vec![redirect(&srv.url("/ivr/action/back_to_menu"))]),
    );
    assert_twiml(
        &srv.post("/ivr/action/back_to_menu", &with(&[])),
        &response(vec![redirect(&srv.url("/ivr/menu"))]),
    );
    // A sub-menu without its own invalid prompt uses the default, and stays in the sub-menu.
    assert_twiml(
        &srv.post("/ivr/menu?menu=support", &with(&[("Digits", "5")])),
        &response(vec![
            say_amy(DEFAULT_INVALID),
            redirect(&srv.url("/ivr/menu?menu=support")),
        ]),
    );
}

#[test]
fn repo_forward_with_caller_id_timeout_and_recording() {
    let srv = Server::repo();
    let cb = |p: &str| srv.url(&format!("{p}?initiated_by_section=sales"));
    assert_twiml(
        &srv.post("/ivr/action/sales", &with(&[])),
        &response(vec![
            say_amy("Putting you through to sales."),
            node(
                "Dial",
                &[
                    ("action", &cb("/ivr/callback/forward/call_status")),
                    ("method", "POST"),
                    ("timeout", "20"),
                    ("callerId", "+442079460999"),
                    ("record", "record-from-answer-dual"),
                    ("recordingStatusCallback", &srv.url(ALERT_SALES)),
                    ("recordingStatusCallbackMethod", "POST"),
                ],
                "+442079460000",
                vec![],
            ),
        ]),
    );
}

#[test]
fn repo_invalid_digit_says_the_invalid_prompt_and_returns_to_menu() {
    let srv = Server::repo();
    assert_twiml(
        &srv.post("/ivr/menu", &with(&[("Digits", "7")])),
        &response(vec![
            say_amy("Sorry, that is not one of the options."),
            redirect(&srv.url("/ivr/menu")),
        ]),
    );
}

#[test]
fn repo_hours_weekday_morning_welcome_plays() {
    let srv = Server::repo_at("2026-06-17T09:00:00Z"); // Wednesday 10:00 BST
    assert_twiml(&srv.post("/ivr", &with(&[])), &repo_welcome(&srv));
}

#[test]
fn repo_hours_saturday_morning_open_lunchtime_closed() {
    let sat = Server::repo_at("2026-06-20T09:00:00Z"); // Saturday 10:00 BST
    assert_twiml(&sat.post("/ivr", &with(&[])), &repo_welcome(&sat));
    let lunch = Server::repo_at("2026-06-19T11:45:00Z"); // Friday 12:45 BST, between ranges
    assert_twiml(&lunch.post("/ivr", &with(&[])), &repo_closed(&lunch));
    // The last minute written (1230) is open through 12:30:59.
    let last = Server::repo_at("2026-06-19T11:30:30Z");
    assert_twiml(&last.post("/ivr", &with(&[])), &repo_welcome(&last));
}

#[test]
fn repo_hours_sunday_closed_goes_to_closed_message() {
    let srv = Server::repo_at("2026-06-21T09:00:00Z"); // Sunday 10:00 BST
    assert_twiml(&srv.post("/ivr", &with(&[])), &repo_closed(&srv));
    assert_twiml(
        &srv.post("/ivr/action/closed_message", &with(&[])),
        &response(vec![
            say_amy("We are closed right now."),
            redirect(&srv.url("/ivr/action/closed_choice")),
        ]),
    );
    assert_twiml(
        &srv.post("/ivr/action/closed_choice", &with(&[])),
        &response(vec![redirect(&srv.url("/ivr/menu?menu=closed"))]),
    );
}

#[test]
fn repo_hours_christmas_day_closed() {
    let srv = Server::repo_at("2026-12-25T10:00:00Z"); // Friday 10:00 GMT
    assert_twiml(&srv.post("/ivr", &with(&[])), &repo_closed(&srv));
    let good_friday = Server::repo_at("2026-04-03T09:00:00Z"); // 10:00 BST, closed_on date
    assert_twiml(
        &good_friday.post("/ivr", &with(&[])),
        &repo_closed(&good_friday),
    );
    let normal_friday = Server::repo_at("2026-04-10T09:00:00Z");
    assert_twiml(
        &normal_friday.post("/ivr", &with(&[])),
        &repo_welcome(&normal_friday),
    );
}

fn repo_voicemail(srv: &Server) -> Node {
    let cb = |p: &str| srv.url(&format!("{p}?initiated_by_section=voicemail"));
    response(vec![
        say_amy("Please leave your name, number and a short message after the tone."),
        pause(1),
        node(
            "Record",
            &[
                ("action", &cb("/ivr/callback/voicemail/hangup")),
                ("method", "POST"),
                ("timeout", "5"),
                ("maxLength", "300"),
                (
                    "recordingStatusCallback",
                    &srv.url("/ivr/callback/voicemail/alert_sms?initiated_by_section=voicemail&caller=%2B447700900555&called=%2B442079460123"),
                ),
                ("recordingStatusCallbackMethod", "POST"),
            ],
            "",
            vec![],
        ),
    ])
}

#[test]
fn repo_emergency_open_friday_night_and_past_midnight() {
    let fri = Server::repo_at("2026-11-27T23:30:00Z"); // Friday 23:30 GMT
    assert_twiml(&press_emergency(&fri), &emergency_open(&fri));
    // The office itself is closed.
    assert_twiml(&fri.post("/ivr", &with(&[])), &repo_closed(&fri));
    // Friday's 2200-0200 runs into Saturday.
    let sat = Server::repo_at("2026-11-28T01:30:00Z"); // Saturday 01:30 GMT
    assert_twiml(&press_emergency(&sat), &emergency_open(&sat));
    let last_minute = Server::repo_at("2026-11-28T02:00:30Z"); // the end minute counts whole
    assert_twiml(
        &press_emergency(&last_minute),
        &emergency_open(&last_minute),
    );
}

#[test]
fn repo_emergency_closed_saturday_0230_goes_to_voicemail() {
    let srv = Server::repo_at("2026-11-28T02:30:00Z"); // Saturday 02:30 GMT
    assert_twiml(&press_emergency(&srv), &emergency_closed(&srv));
    assert_twiml(
        &srv.post("/ivr/action/voicemail", &with(&[])),
        &repo_voicemail(&srv),
    );
}

#[test]
fn repo_emergency_closed_sunday_night_but_dials_when_reached() {
    let srv = Server::repo_at("2026-11-29T00:30:00Z"); // Sunday 00:30 GMT
    assert_twiml(&press_emergency(&srv), &emergency_closed(&srv));
    // The action itself has no hours: reached directly, it dials.
    assert_twiml(
        &srv.post("/ivr/action/emergency", &with(&[])),
        &response(vec![
            say_amy("Connecting you to the engineer on call."),
            node(
                "Dial",
                &[
                    (
                        "action",
                        &srv.url(
                            "/ivr/callback/forward/call_status?initiated_by_section=emergency",
                        ),
                    ),
                    ("method", "POST"),
                    ("timeout", "30"),
                ],
                "+447700900123",
                vec![],
            ),
        ]),
    );
}

#[test]
fn repo_hours_dst_spring_forward_2026_03_29() {
    // Sunday: the emergency line opens at 10:00 local, which is 09:00 UTC after the change.
    let before = Server::repo_at("2026-03-29T08:30:00Z"); // 09:30 BST
    assert_twiml(&press_emergency(&before), &emergency_closed(&before));
    let after = Server::repo_at("2026-03-29T09:30:00Z"); // 10:30 BST (09:30 if read as GMT)
    assert_twiml(&press_emergency(&after), &emergency_open(&after));
    // Monday after: the office opens at 09:00 BST = 08:00 UTC.
    let monday = Server::repo_at("2026-03-30T08:30:00Z");
    assert_twiml(&monday.post("/ivr", &with(&[])), &repo_welcome(&monday));
}

#[test]
fn repo_hours_dst_fall_back_2026_10_25() {
    let before = Server::repo_at("2026-10-25T09:30:00Z"); // 09:30 GMT (10:30 if read as BST)
    assert_twiml(&press_emergency(&before), &emergency_closed(&before));
    let after = Server::repo_at("2026-10-25T10:00:00Z"); // 10:00 GMT
    assert_twiml(&press_emergency(&after), &emergency_open(&after));
    // Monday after: 08:30 UTC is 08:30 GMT, before the office opens.
    let monday = Server::repo_at("2026-10-26T08:30:00Z");
    assert_twiml(&monday.post("/ivr", &with(&[])), &repo_closed(&monday));
}

// ===========================================================================
// 3. twilio-aws-ivr's bugs, as one table: every request answers valid TwiML
// (or the refusal it must be), never a 5xx, a traceback or a panic.
//
// A row is one request and what it must get, or one check of what must (not)
// have happened by then. The rows of one bug run in order, on servers of their
// own (one per `On`, started when first needed) and a media stand-in of their
// own; bugs run side by side. A failure names the bug and the row.

/// Which server a row goes to (within one bug, one server per value).
#[derive(Debug, Clone, Copy, PartialEq)]
enum On {
    /// The fixture, signed, on a weekday morning.
    Fixture,
    /// The repository's config.ini, signed, on a weekday morning.
    Repo,
    /// The fixture at this instant.
    FixtureAt(&'static str),
    /// The fixture without an auth token, so that any body reaches the flow.
    FixtureOpen,
    /// The fixture without `[action_forward_example]`'s `play_sample`.
    FixtureWithoutForwardSample,
    /// The fixture without `[ivr_menu_option_5]`.
    FixtureWithoutOption5,
}

impl On {
    /// The server (and the edited config it reads, kept until it stops).
    fn start(self) -> (Server, Option<TempConfig>) {
        let edited = |tag: &str, text: String| {
            let cfg = write_config(tag, &text);
            (Server::builder(&cfg.path).start(), Some(cfg))
        };
        match self {
            On::Fixture => (Server::fixture(), None),
            On::Repo => (Server::repo(), None),
            On::FixtureAt(now) => (Server::fixture_at(now), None),
            On::FixtureOpen => (
                Server::builder(fixture_config()).without_token().start(),
                None,
            ),
            On::FixtureWithoutForwardSample => edited(
                "forward-no-sample",
                replace_once(
                    &read(&fixture_config()),
                    "play_sample = https://audio.example.net/ivr/connecting.mp3\n",
                    "",
                ),
            ),
            On::FixtureWithoutOption5 => edited(
                "no-option-5",
                remove_section(&read(&fixture_config()), "ivr_menu_option_5"),
            ),
        }
    }
}

/// A recording status callback for RECORDING_SID, its media at the bug's
/// stand-in and its status `completed`, but for this.
#[derive(Debug, Clone, Copy)]
enum Rec {
    /// `RecordingStatus` is this.
    Status(&'static str),
    /// This parameter is left out.
    Without(&'static str),
    /// `RecordingSid` is this (the media URL is still RECORDING_SID's).
    Sid(&'static str),
    /// `RecordingUrl` is this.
    Url(&'static str),
    /// `RecordingUrl` is a `file://` URL into the server's data folder.
    LocalFileUrl,
}

impl Rec {
    fn params(self, c: &Ctx) -> Vec<(String, String)> {
        let url = c.media.recording_url(RECORDING_SID);
        let local_file = format!("file://{}", c.srv.data_path().join("x").display());
        let params = match self {
            Rec::Status(status) => recording_status(&url, status),
            Rec::Without(name) => recording_status(&url, "completed")
                .into_iter()
                .filter(|(k, _)| *k != name)
                .collect(),
            Rec::Sid(sid) => recording_status_for(sid, &url, "completed"),
            Rec::Url(bad) => recording_status(bad, "completed"),
            Rec::LocalFileUrl => recording_status(&local_file, "completed"),
        };
        owned(&params)
    }
}

/// What a row sends.
enum Req {
    /// A signed form POST of CALL and these parameters.
    Post(&'static str, Vec<(String, String)>),
    /// A signed recording status callback (Twilio posts no CALL with it).
    Recording(&'static str, Rec),
    /// An unsigned POST of this body with this content type.
    Body(&'static str, &'static str, &'static [u8]),
    /// Anything else, built by hand, with what it is for the failure message.
    Custom(&'static str, fn(&Ctx) -> Reply),
}

/// What a row's reply must be.
enum Expect {
    /// 200 TwiML equal (as a tree) to this.
    Twiml(fn(&Server) -> Node),
    /// This status: a refusal.
    Status(u16),
    /// Fragments: checks of the reply, given the parameters sent.
    Check(fn(&Server, &Reply, &[(String, String)])),
}

/// What must (not) have happened by a row that sends nothing.
#[derive(Debug)]
enum After {
    /// After a quiet period: nothing fetched from the media stand-in, no file in the data folder.
    Quiet,
    /// No file in the data folder.
    NothingWritten,
    /// A valid callback for another recording is processed, and only its media fetched.
    OnlyTheControlAlerts,
}

impl After {
    fn check(&self, c: &Ctx, bug: &str) {
        match self {
            After::Quiet => assert_quiet(c.srv, c.media, bug),
            After::NothingWritten => assert!(
                c.srv.inventory().is_empty(),
                "files written: {:?}",
                c.srv.inventory()
            ),
            After::OnlyTheControlAlerts => {
                assert_worker_alive_and_only_control_fetched(c.srv, c.media)
            }
        }
    }
}

enum Step {
    Ask(Req, Expect),
    Then(After),
}

/// A twilio-aws-ivr bug: the name its test had (without `bug_`), and its rows.
struct Bug {
    name: &'static str,
    rows: Vec<Row>,
}

struct Row {
    on: On,
    step: Step,
}

/// What a row runs with.
struct Ctx<'a> {
    srv: &'a Server,
    media: &'a MediaServer,
}

fn bug(name: &'static str, rows: Vec<Row>) -> Bug {
    Bug { name, rows }
}

fn ask(on: On, req: Req, expect: Expect) -> Row {
    Row {
        on,
        step: Step::Ask(req, expect),
    }
}

fn then(on: On, after: After) -> Row {
    Row {
        on,
        step: Step::Then(after),
    }
}

/// A signed POST of CALL plus `extra`.
fn post(route: &'static str, extra: &[(&str, &str)]) -> Req {
    Req::Post(route, owned(&with(extra)))
}

/// A signed recording status callback to `route`.
fn rec(route: &'static str, rec: Rec) -> Req {
    Req::Recording(route, rec)
}

fn owned(params: &[(&str, &str)]) -> Vec<(String, String)> {
    params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn refs(params: &[(String, String)]) -> Vec<(&str, &str)> {
    params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

impl Row {
    fn run(&self, c: &Ctx, bug: &str) {
        let (req, expect) = match &self.step {
            Step::Ask(req, expect) => (req, expect),
            Step::Then(after) => return after.check(c, bug),
        };
        let (reply, params) = match req {
            Req::Post(route, params) => (c.srv.post(route, &refs(params)), params.clone()),
            Req::Recording(route, rec) => {
                let params = rec.params(c);
                (c.srv.post(route, &refs(&params)), params)
            }
            Req::Body(route, content_type, body) => (
                c.srv
                    .request(route)
                    .body(content_type, body.to_vec())
                    .unsigned()
                    .send(),
                Vec::new(),
            ),
            Req::Custom(_, build) => (build(c), Vec::new()),
        };
        match expect {
            Expect::Twiml(tree) => assert_twiml(&reply, &tree(c.srv)),
            Expect::Status(status) => {
                reply.assert_status(*status);
            }
            Expect::Check(check) => check(c.srv, &reply, &params),
        }
    }

    /// The row, for a failure message.
    fn describe(&self) -> String {
        let req = match &self.step {
            Step::Then(after) => return format!("then {after:?}"),
            Step::Ask(req, _) => req,
        };
        let mut what = match req {
            Req::Post(route, params) => {
                let extra: Vec<String> = params[CALL.len()..]
                    .iter()
                    .map(|(k, v)| format!("{k}={v:?}"))
                    .collect();
                if extra.is_empty() {
                    format!("POST {route}")
                } else {
                    format!("POST {route} with {}", extra.join(" "))
                }
            }
            Req::Recording(route, rec) => format!("recording callback {rec:?} to {route}"),
            Req::Body(route, content_type, body) => format!(
                "unsigned POST {route} of {content_type} {:?}",
                String::from_utf8_lossy(body)
            ),
            Req::Custom(what, _) => what.to_string(),
        };
        if what.len() > 160 {
            let mut end = 160;
            while !what.is_char_boundary(end) {
                end -= 1;
            }
            what.truncate(end);
            what.push('…');
        }
        what
    }
}

/// Runs one bug's rows in order; the first failure ends it.
fn run_bug(bug: &Bug) -> Result<(), String> {
    let media = MediaServer::start();
    let mut servers: Vec<(On, Server, Option<TempConfig>)> = Vec::new();
    for (i, row) in bug.rows.iter().enumerate() {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let k = match servers.iter().position(|(on, ..)| *on == row.on) {
                Some(k) => k,
                None => {
                    let (srv, cfg) = row.on.start();
                    servers.push((row.on, srv, cfg));
                    servers.len() - 1
                }
            };
            let c = Ctx {
                srv: &servers[k].1,
                media: &media,
            };
            row.run(&c, bug.name);
        }));
        if let Err(panic) = outcome {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "(no message)".into());
            return Err(format!(
                "bug_{}, row {} of {} ({:?}: {}):\n{message}",
                bug.name,
                i + 1,
                bug.rows.len(),
                row.on,
                row.describe()
            ));
        }
    }
    Ok(())
}

/// How many bugs run at once (each starts one or two servers).
const BUG_WORKERS: usize = 4;

#[test]
fn twilio_aws_ivr_bugs_answer_valid_twiml_never_a_5xx() {
    let bugs = bugs();
    let mut names: Vec<&str> = bugs.iter().map(|b| b.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), bugs.len(), "a bug is in the table twice");
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..BUG_WORKERS.min(bugs.len()) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(bug) = bugs.get(i) else { break };
                if let Err(e) = run_bug(bug) {
                    failures.lock().unwrap_or_else(|p| p.into_inner()).push(e);
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap_or_else(|p| p.into_inner());
    assert!(
        failures.is_empty(),
        "{} of {} bugs failed:\n\n{}",
        failures.len(),
        bugs.len(),
        failures.join("\n\n")
    );
}

// --- Expected replies and checks for the table --------------------------------

fn empty_response(_: &Server) -> Node {
    response(vec![])
}

fn hangup_only(_: &Server) -> Node {
    response(vec![hangup()])
}

fn fixture_welcome(srv: &Server) -> Node {
    response(vec![
        play(&s3("welcome.mp3")),
        redirect(&srv.url("/ivr/menu")),
    ])
}

/// The repo's main menu on its first loop.
fn repo_menu(srv: &Server) -> Node {
    response(vec![
        gather(
            &srv.url("/ivr/menu"),
            vec![say_amy(REPO_MENU_SAY), pause(3)],
        ),
        say_amy("Sorry, we did not hear a choice."),
        redirect(&srv.url("/ivr/menu?loop_count=1")),
    ])
}

fn repo_invalid_choice(srv: &Server) -> Node {
    response(vec![
        say_amy("Sorry, that is not one of the options."),
        redirect(&srv.url("/ivr/menu")),
    ])
}

fn first_verb_is_gather(_: &Server, r: &Reply, _: &[(String, String)]) {
    assert_eq!(r.twiml().children[0].name, "Gather", "{}", r.body);
}

/// Every URL is on the server, and the posted `Digits` reached none.
fn digits_kept_out_of_urls(srv: &Server, r: &Reply, params: &[(String, String)]) {
    let digits = params
        .iter()
        .find(|(k, _)| k == "Digits")
        .map(|(_, v)| v.as_str())
        .expect("a row with Digits");
    for url in urls(&r.twiml()) {
        assert!(
            url.starts_with(&format!("{}/", srv.base)),
            "URL {url} is not on the server"
        );
        assert!(
            !url.contains(['#', '*', ' ']) && !url.contains(digits),
            "caller input reached a URL: {url}"
        );
    }
}

fn fixture_invalid_digits(srv: &Server, r: &Reply, params: &[(String, String)]) {
    assert_twiml(r, &invalid_choice(srv));
    digits_kept_out_of_urls(srv, r, params);
}

fn repo_invalid_digits(srv: &Server, r: &Reply, params: &[(String, String)]) {
    assert_twiml(r, &repo_invalid_choice(srv));
    digits_kept_out_of_urls(srv, r, params);
}

/// Every `<Gather>` takes one digit by POST with its prompt (only Play, Say
/// and Pause) inside, and nothing is `<Play digits>`; returns how many Gathers.
fn gathers_by_the_rules(r: &Reply) -> usize {
    let tree = r.twiml();
    let mut gathers = 0;
    for n in walk(&tree) {
        assert!(
            !(n.name == "Play" && n.attr("digits").is_some()),
            "<Play digits> in {}",
            r.body
        );
        if n.name == "Gather" {
            gathers += 1;
            assert_eq!(n.attr("numDigits"), Some("1"), "{}", r.body);
            assert_eq!(n.attr("method"), Some("POST"), "{}", r.body);
            assert!(
                n.children
                    .iter()
                    .any(|c| c.name == "Play" || c.name == "Say"),
                "the prompt must be inside <Gather>: {}",
                r.body
            );
            assert!(
                n.children
                    .iter()
                    .all(|c| matches!(c.name.as_str(), "Play" | "Say" | "Pause")),
                "{}",
                r.body
            );
        }
    }
    gathers
}

/// A menu: at least one `<Gather>`, each by the rules.
fn a_menu_gathers_one_digit(_: &Server, r: &Reply, _: &[(String, String)]) {
    assert!(
        gathers_by_the_rules(r) >= 1,
        "expected a Gather in the menu: {}",
        r.body
    );
}

/// Not a menu: any `<Gather>` by the rules, no `<Play digits>`.
fn no_digits_played(_: &Server, r: &Reply, _: &[(String, String)]) {
    gathers_by_the_rules(r);
}

fn urls_are_http(_: &Server, r: &Reply, _: &[(String, String)]) {
    for url in urls(&r.twiml()) {
        assert!(
            url.starts_with("http://") || url.starts_with("https://"),
            "{url}"
        );
    }
}

fn is_twiml(_: &Server, r: &Reply, _: &[(String, String)]) {
    r.twiml();
}

/// Errors from the server are short and plain.
fn short_error(_: &Server, r: &Reply, _: &[(String, String)]) {
    assert!(r.body.len() < 200, "{}", r.body);
}

// --- Requests built by hand for the table -------------------------------------

fn raw_post_without_host(c: &Ctx) -> Reply {
    let body = "Digits=3";
    c.srv.raw(
        format!(
            "POST /ivr/menu HTTP/1.0\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
}

/// Signed over the URL the junk Host would make.
fn raw_post_with_junk_host(c: &Ctx) -> Reply {
    let body = "Digits=3";
    let sig = shared::signature::compute(
        TOKEN,
        "http://evil.com/x/ivr/menu",
        &[("Digits".to_string(), "3".to_string())],
    );
    c.srv.raw(
        format!(
            "POST /ivr/menu HTTP/1.1\r\nHost: evil.com/x\r\nX-Twilio-Signature: {sig}\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
}

fn post_with_junk_host(c: &Ctx) -> Reply {
    c.srv
        .request("/ivr/menu")
        .params(&[("Digits", "3")])
        .header("Host", "evil.com/x")
        .signed_over("http://evil.com/x/ivr/menu")
        .send()
}

/// `POST /ivr` as CALL, with `X-Forwarded-Proto: proto`.
fn welcome_via<'a>(c: &Ctx<'a>, proto: &str) -> Request<'a> {
    c.srv
        .request("/ivr")
        .params(&with(&[]))
        .header("X-Forwarded-Proto", proto)
}

/// Every URL but the prompts' is on the server as it was reached; the welcome as usual.
fn welcome_on_the_server(srv: &Server, r: &Reply, _: &[(String, String)]) {
    for url in urls(&r.twiml()) {
        if !url.starts_with(S3) {
            assert!(
                url.starts_with(&format!("http://127.0.0.1:{}/", srv.port)),
                "{url}"
            );
        }
    }
    assert_twiml(r, &fixture_welcome(srv));
}

fn welcome_over_https(srv: &Server) -> Node {
    let https = format!("https://127.0.0.1:{}", srv.port);
    response(vec![
        play(&s3("welcome.mp3")),
        redirect(&format!("{https}/ivr/menu")),
    ])
}

/// The signed, completed recording callback for RECORDING_SID, to be spoiled.
fn callback<'a>(c: &Ctx<'a>) -> Request<'a> {
    let url = c.media.recording_url(RECORDING_SID);
    c.srv
        .request(ALERT_SMS)
        .params(&recording_status(&url, "completed"))
}

fn fixture_option_4(srv: &Server) -> Node {
    response(vec![
        play(&s3("option-voicemail.mp3")),
        redirect(&srv.url("/ivr/action/voicemail_example")),
    ])
}

fn repo_recovered(srv: &Server) -> Node {
    response(vec![
        say_amy(DEFAULT_RECOVER),
        redirect(&srv.url("/ivr/menu")),
    ])
}

/// The table: each bug of twilio-aws-ivr, as the requests that showed it.
#[rustfmt::skip]
fn bugs() -> Vec<Bug> {
    use After::*;
    use Expect::*;
    use On::*;
    const FORM: &str = "application/x-www-form-urlencoded";
    const JUNK: &[u8] = b"{not json";
    let long_digits = "9".repeat(10_000);
    let odd = |route, extra| ask(Fixture, post(route, extra), Check(urls_are_http));
    vec![
        // Callbacks that name no section, an unknown one, or one of the wrong type.
        bug("forward_callback_without_initiated_by_section", vec![
            ask(Fixture, post("/ivr/callback/forward/call_status", &[("DialCallStatus", "busy")]), Twiml(recovered)),
        ]),
        bug("forward_callback_with_unknown_section", vec![
            ask(Fixture, post("/ivr/callback/forward/call_status?initiated_by_section=no_such_section", &[("DialCallStatus", "no-answer")]), Twiml(recovered)),
        ]),
        bug("forward_callback_with_section_of_wrong_type", vec![
            ask(Fixture, post("/ivr/callback/forward/call_status?initiated_by_section=hangup_with_goodbye", &[("DialCallStatus", "busy")]), Twiml(recovered)),
        ]),
        bug("voicemail_hangup_without_initiated_by_section", vec![
            ask(Fixture, post("/ivr/callback/voicemail/hangup", &[("RecordingUrl", RECORDING_URL)]), Twiml(hangup_only)),
        ]),
        bug("voicemail_hangup_with_unknown_section", vec![
            ask(Fixture, post("/ivr/callback/voicemail/hangup?initiated_by_section=no_such_section", &[("RecordingUrl", RECORDING_URL)]), Twiml(hangup_only)),
        ]),
        bug("voicemail_hangup_with_section_of_wrong_type", vec![
            ask(Fixture, post("/ivr/callback/voicemail/hangup?initiated_by_section=forward_example", &[("RecordingUrl", RECORDING_URL)]), Twiml(hangup_only)),
        ]),
        // Recording callbacks like those: answered, ignored, and the worker stays alive.
        bug("voicemail_alert_without_initiated_by_section", vec![
            ask(Fixture, rec("/ivr/callback/voicemail/alert_sms", Rec::Status("completed")), Twiml(empty_response)),
            then(Fixture, Quiet),
            then(Fixture, OnlyTheControlAlerts),
        ]),
        bug("voicemail_alert_with_unknown_section", vec![
            ask(Fixture, rec("/ivr/callback/voicemail/alert_sms?initiated_by_section=nope", Rec::Status("completed")), Twiml(empty_response)),
            then(Fixture, Quiet),
            then(Fixture, OnlyTheControlAlerts),
        ]),
        bug("voicemail_alert_with_section_of_wrong_type", vec![
            ask(Fixture, rec("/ivr/callback/voicemail/alert_sms?initiated_by_section=hangup_with_goodbye", Rec::Status("completed")), Twiml(empty_response)),
            then(Fixture, Quiet),
            then(Fixture, OnlyTheControlAlerts),
        ]),
        // Optional sections and keys left out.
        bug("forward_action_without_play_sample_dials", vec![
            ask(FixtureWithoutForwardSample, post("/ivr/action/forward_example", &[]), Twiml(|srv| response(vec![fixture_dial(srv)]))),
        ]),
        bug("menu_digit_without_option_section_apologises", vec![
            ask(FixtureWithoutOption5, post("/ivr/menu/5", &[]), Twiml(invalid_choice)),
            ask(FixtureWithoutOption5, post("/ivr/menu", &[("Digits", "5")]), Twiml(invalid_choice)),
            // The options that exist still work.
            ask(FixtureWithoutOption5, post("/ivr/menu", &[("Digits", "4")]), Twiml(fixture_option_4)),
        ]),
        // A loop count that is not a count restarts the menu.
        bug("loop_count_not_a_number_restarts_the_menu", vec![
            ask(Fixture, post("/ivr/menu?loop_count=abc", &[]), Twiml(fixture_menu)),
            ask(Repo, post("/ivr/menu?loop_count=abc", &[]), Twiml(repo_menu)),
        ]),
        bug("loop_count_negative_restarts_the_menu", vec![
            ask(Fixture, post("/ivr/menu?loop_count=-3", &[]), Twiml(fixture_menu)),
            ask(Repo, post("/ivr/menu?loop_count=-3", &[]), Twiml(repo_menu)),
            // Far too large to be a loop count: still a menu, not an error.
            ask(Repo, post("/ivr/menu?loop_count=99999999999999999999999", &[]), Check(first_verb_is_gather)),
        ]),
        // Keys that are not options: the invalid prompt, and the key in no URL.
        bug("digits_hash_is_an_invalid_choice", vec![
            ask(Fixture, post("/ivr/menu", &[("Digits", "#")]), Check(fixture_invalid_digits)),
            ask(Repo, post("/ivr/menu", &[("Digits", "#")]), Check(repo_invalid_digits)),
        ]),
        bug("digits_star_is_an_invalid_choice", vec![
            ask(Fixture, post("/ivr/menu", &[("Digits", "*")]), Check(fixture_invalid_digits)),
            ask(Repo, post("/ivr/menu", &[("Digits", "*")]), Check(repo_invalid_digits)),
        ]),
        bug("digits_space_is_an_invalid_choice", vec![
            ask(Fixture, post("/ivr/menu", &[("Digits", " ")]), Check(fixture_invalid_digits)),
            ask(Repo, post("/ivr/menu", &[("Digits", " ")]), Check(repo_invalid_digits)),
        ]),
        bug("digits_with_slash_is_an_invalid_choice", vec![
            ask(Fixture, post("/ivr/menu", &[("Digits", "1/2")]), Check(fixture_invalid_digits)),
            ask(Repo, post("/ivr/menu", &[("Digits", "1/2")]), Check(repo_invalid_digits)),
        ]),
        // Unknown names in paths and queries.
        bug("unknown_action_apologises_and_returns_to_menu", vec![
            ask(Fixture, post("/ivr/action/unknown", &[]), Twiml(recovered)),
            ask(Fixture, post("/ivr/action/%3Cscript%3Ealert(1)%3C%2Fscript%3E", &[]), Twiml(recovered)),
        ]),
        bug("menu_option_path_percent_encoded_hash", vec![
            ask(Fixture, post("/ivr/menu/%23", &[]), Twiml(invalid_choice)),
            ask(Fixture, post("/ivr/menu/%2A", &[]), Twiml(invalid_choice)),
            ask(Fixture, post("/ivr/menu/12", &[]), Twiml(invalid_choice)),
        ]),
        bug("unknown_menu_name_recovers", vec![
            ask(Repo, post("/ivr/menu?menu=nope", &[]), Twiml(repo_recovered)),
        ]),
        // The Host header and the proxy's scheme.
        bug("missing_host_header_is_400", vec![
            ask(Fixture, Req::Custom("HTTP/1.0 POST /ivr/menu without a Host header", raw_post_without_host), Status(400)),
        ]),
        // Signed over the URL the junk Host would make: still refused.
        bug("junk_host_header_is_400", vec![
            ask(Fixture, Req::Custom("raw POST /ivr/menu, Host: evil.com/x, signed for it", raw_post_with_junk_host), Status(400)),
            ask(Fixture, Req::Custom("POST /ivr/menu, Host: evil.com/x, signed for it", post_with_junk_host), Status(400)),
        ]),
        bug("forwarded_proto_junk_is_ignored", vec![
            ask(Fixture, Req::Custom("POST /ivr, X-Forwarded-Proto: javascript", |c| welcome_via(c, "javascript").send()), Check(welcome_on_the_server)),
            // A signature over the junk scheme does not pass.
            ask(Fixture, Req::Custom("POST /ivr, X-Forwarded-Proto: javascript, signed over javascript://", |c| {
                welcome_via(c, "javascript").signed_over(&format!("javascript://127.0.0.1:{}/ivr", c.srv.port)).send()
            }), Status(403)),
        ]),
        bug("forwarded_proto_https_is_honoured", vec![
            ask(Fixture, Req::Custom("POST /ivr, X-Forwarded-Proto: https, signed over https://", |c| {
                welcome_via(c, "https").signed_over(&format!("https://127.0.0.1:{}/ivr", c.srv.port)).send()
            }), Twiml(welcome_over_https)),
            // Signed over http:// while the proxy says https: refused.
            ask(Fixture, Req::Custom("POST /ivr, X-Forwarded-Proto: https, signed over http://", |c| welcome_via(c, "https").send()), Status(403)),
        ]),
        // Menus gather one digit with the prompt inside; nothing plays digits.
        bug("menus_gather_one_digit_and_never_play_digits", vec![
            ask(Fixture, post("/ivr", &[]), Check(no_digits_played)),
            ask(Fixture, post("/ivr/menu", &[]), Check(a_menu_gathers_one_digit)),
            ask(Fixture, post("/ivr/menu?loop_count=1", &[]), Check(a_menu_gathers_one_digit)),
            ask(Fixture, post("/ivr/action/forward_example", &[]), Check(no_digits_played)),
            ask(Fixture, post("/ivr/action/voicemail_example", &[]), Check(no_digits_played)),
            ask(Fixture, post("/ivr/action/back_to_menu", &[]), Check(no_digits_played)),
            ask(Repo, post("/ivr", &[]), Check(no_digits_played)),
            ask(Repo, post("/ivr/menu", &[]), Check(a_menu_gathers_one_digit)),
            ask(Repo, post("/ivr/menu?loop_count=2", &[]), Check(a_menu_gathers_one_digit)),
            ask(Repo, post("/ivr/menu?menu=support", &[]), Check(a_menu_gathers_one_digit)),
            ask(Repo, post("/ivr/menu?menu=closed", &[]), Check(a_menu_gathers_one_digit)),
            ask(Repo, post("/ivr/action/sales", &[]), Check(no_digits_played)),
        ]),
        // Range ends are inclusive to the minute.
        bug("hours_morning_range_ends_at_1159_inclusive", vec![
            // 11:59:30 BST
            ask(FixtureAt("2026-06-17T10:59:30Z"), post("/ivr/action/redirect_morning_or_afternoon", &[]), Twiml(|srv| {
                response(vec![play(&s3("its-morning.mp3")), redirect(&srv.url("/ivr/action/hangup_without_goodbye"))])
            })),
            // 12:00:00 BST
            ask(FixtureAt("2026-06-17T11:00:00Z"), post("/ivr/action/redirect_morning_or_afternoon", &[]), Twiml(|srv| {
                response(vec![redirect(&srv.url("/ivr/action/redirect_morning_or_afternoon_its_afternoon"))])
            })),
            ask(FixtureAt("2026-06-17T11:00:00Z"), post("/ivr/action/redirect_morning_or_afternoon_its_afternoon", &[]), Twiml(|_| {
                response(vec![play(&s3("its-afternoon.mp3")), hangup()])
            })),
        ]),
        bug("hours_all_day_range_covers_2359", vec![
            // Wednesday 23:59:30 BST
            ask(FixtureAt("2026-06-17T22:59:30Z"), post("/ivr/action/redirect_weekday_or_weekend", &[]), Twiml(|srv| {
                response(vec![play(&s3("its-a-weekday.mp3")), redirect(&srv.url("/ivr/action/hangup_without_goodbye"))])
            })),
            // Saturday
            ask(FixtureAt("2026-06-20T09:00:00Z"), post("/ivr/action/redirect_weekday_or_weekend", &[]), Twiml(|srv| {
                response(vec![redirect(&srv.url("/ivr/action/redirect_weekday_or_weekend_its_a_weekend"))])
            })),
        ]),
        // Odd input. The fixture sets chalice_debug = yes, which made the Python original print tracebacks.
        bug("no_tracebacks_or_panics_on_odd_input", vec![
            odd("/ivr/menu", &[("Digits", long_digits.as_str())]),
            odd("/ivr/menu", &[("Digits", "\u{0}")]),
            odd("/ivr/menu", &[("Digits", "1"), ("Digits", "2")]),
            odd("/ivr/menu", &[("Digits", "٣")]),
            odd("/ivr/menu?menu=", &[]),
            odd("/ivr/menu?menu=%FF", &[]),
            odd("/ivr/menu?loop_count=%FF", &[]),
            odd("/ivr/menu?loop_count=", &[]),
            odd("/ivr/menu/%FF%FE", &[]),
            odd("/ivr/action/%FF", &[]),
            odd("/ivr/action/%00", &[]),
            odd("/ivr/callback/forward/call_status?initiated_by_section=forward_example", &[("DialCallStatus", "<weird>")]),
            odd("/ivr/callback/forward/call_status?initiated_by_section=forward_example", &[]),
            odd("/ivr/callback/forward/call_status?initiated_by_section=forward_example&initiated_by_section=voicemail_example", &[("DialCallStatus", "busy")]),
            odd("/ivr/callback/voicemail/hangup?initiated_by_section=", &[]),
            odd("/ivr/callback/voicemail/alert_sms?initiated_by_section=voicemail_example", &[("RecordingStatus", "completed"), ("RecordingUrl", "javascript:alert(1)")]),
            // Nothing for a javascript: URL.
            then(Fixture, Quiet),
            // Bodies that are not well-formed forms, on an open server so that they reach the flow.
            ask(FixtureOpen, Req::Body("/ivr/menu", FORM, b"%%%&&=="), Check(is_twiml)),
            ask(FixtureOpen, Req::Body("/ivr/menu", FORM, b"Digits=%FF%FE"), Check(is_twiml)),
            ask(FixtureOpen, Req::Body("/ivr/menu", FORM, b"Digits=%"), Check(is_twiml)),
            ask(FixtureOpen, Req::Body("/ivr/menu", FORM, b"\xff\xfe\x00"), Check(is_twiml)),
            ask(FixtureOpen, Req::Body("/ivr/menu", FORM, b"=&=&"), Check(is_twiml)),
            ask(FixtureOpen, Req::Body("/ivr/menu", FORM, b"Digits"), Check(is_twiml)),
            ask(FixtureOpen, Req::Body("/ivr/menu", "application/json", JUNK), Check(is_twiml)),
            ask(FixtureOpen, Req::Body("/ivr/menu", "text/plain", JUNK), Check(is_twiml)),
            ask(FixtureOpen, Req::Body("/ivr/menu", "multipart/form-data; boundary=x", JUNK), Check(is_twiml)),
            // Errors from the server are short and plain.
            ask(Fixture, Req::Custom("unsigned POST /ivr/menu", |c| c.srv.request("/ivr/menu").unsigned().send()), Check(short_error)),
            ask(Fixture, Req::Custom("POST /nope", |c| c.srv.request("/nope").send()), Check(short_error)),
            ask(Fixture, Req::Custom("PUT /ivr/menu", |c| c.srv.request("/ivr/menu").method("PUT").send()), Check(short_error)),
        ]),
        // The recording status callback, unsigned or forged: refused, nothing sent.
        bug("alert_sms_unsigned_is_403_and_sends_nothing", vec![
            ask(Fixture, Req::Custom("unsigned recording callback", |c| callback(c).unsigned().send()), Status(403)),
            ask(Fixture, Req::Custom("unsigned GET of the recording callback", |c| c.srv.request(ALERT_SMS).method("GET").unsigned().send()), Status(403)),
            then(Fixture, Quiet),
            then(Fixture, OnlyTheControlAlerts),
        ]),
        bug("alert_sms_forged_is_403_and_sends_nothing", vec![
            ask(Fixture, Req::Custom("recording callback signed with another token", |c| callback(c).signed_with_token("not-the-token").send()), Status(403)),
            ask(Fixture, Req::Custom("recording callback with a made-up signature", |c| callback(c).signature("0/KCTR6DLpKmkAf8muzZqo1nDgQ=").send()), Status(403)),
            // Signed for Twilio's recording URL, sent with the attacker's.
            ask(Fixture, Req::Custom("recording callback signed for another RecordingUrl", |c| {
                callback(c).signed_params(&recording_status(RECORDING_URL, "completed")).send()
            }), Status(403)),
            // Signed for another caller (the numbers are in the signed URL).
            ask(Fixture, Req::Custom("recording callback signed for another caller", |c| {
                callback(c).signed_over(&c.srv.url(&ALERT_SMS.replace("900555", "900666"))).send()
            }), Status(403)),
            // Signed for a section that sends nothing, sent to the voicemail.
            ask(Fixture, Req::Custom("recording callback signed for forward_example", |c| {
                callback(c).signed_over(&c.srv.url(&ALERT_SMS.replace("voicemail_example", "forward_example"))).send()
            }), Status(403)),
            then(Fixture, Quiet),
            then(Fixture, OnlyTheControlAlerts),
        ]),
        // Signed recording callbacks that must send nothing: answered, ignored.
        bug("alert_sms_for_a_non_voicemail_section_sends_nothing", vec![
            // A forward without `record = yes`.
            ask(Fixture, rec("/ivr/callback/voicemail/alert_sms?initiated_by_section=forward_example&caller=%2B447700900555", Rec::Status("completed")), Twiml(empty_response)),
            // A forward without `record` in the repo config, and a menu action.
            ask(Repo, rec("/ivr/callback/voicemail/alert_sms?initiated_by_section=emergency", Rec::Status("completed")), Twiml(empty_response)),
            ask(Repo, rec("/ivr/callback/voicemail/alert_sms?initiated_by_section=support_menu", Rec::Status("completed")), Twiml(empty_response)),
            ask(Repo, rec("/ivr/callback/voicemail/alert_sms?initiated_by_section=goodbye", Rec::Status("completed")), Twiml(empty_response)),
            then(Fixture, Quiet),
            then(Repo, NothingWritten),
            then(Fixture, OnlyTheControlAlerts),
        ]),
        bug("alert_sms_without_recording_url_sends_nothing", vec![
            ask(Fixture, rec(ALERT_SMS, Rec::Without("RecordingUrl")), Twiml(empty_response)),
            // Not an http(s) URL.
            ask(Fixture, rec(ALERT_SMS, Rec::Url("")), Twiml(empty_response)),
            ask(Fixture, rec(ALERT_SMS, Rec::Url("javascript:alert(1)")), Twiml(empty_response)),
            ask(Fixture, rec(ALERT_SMS, Rec::Url("ftp://127.0.0.1/x")), Twiml(empty_response)),
            ask(Fixture, rec(ALERT_SMS, Rec::LocalFileUrl), Twiml(empty_response)),
            ask(Fixture, rec(ALERT_SMS, Rec::Url("not a url")), Twiml(empty_response)),
            then(Fixture, Quiet),
            then(Fixture, OnlyTheControlAlerts),
        ]),
        bug("alert_sms_recording_in_progress_sends_nothing", vec![
            ask(Fixture, rec(ALERT_SMS, Rec::Status("in-progress")), Twiml(empty_response)),
            ask(Fixture, rec(ALERT_SMS, Rec::Status("absent")), Twiml(empty_response)),
            ask(Fixture, rec(ALERT_SMS, Rec::Status("failed")), Twiml(empty_response)),
            ask(Fixture, rec(ALERT_SMS, Rec::Status("")), Twiml(empty_response)),
            ask(Fixture, rec(ALERT_SMS, Rec::Status("Completed")), Twiml(empty_response)),
            ask(Fixture, rec(ALERT_SMS, Rec::Without("RecordingStatus")), Twiml(empty_response)),
            then(Fixture, Quiet),
            then(Fixture, OnlyTheControlAlerts),
        ]),
        // Each would be a fetchable URL at the media server if the SID were not checked.
        bug("alert_sms_with_a_bad_recording_sid_sends_nothing", vec![
            ask(Fixture, rec(ALERT_SMS, Rec::Sid("")), Twiml(empty_response)),
            ask(Fixture, rec(ALERT_SMS, Rec::Sid("RE0123")), Twiml(empty_response)),
            ask(Fixture, rec(ALERT_SMS, Rec::Sid("RE0123456789abcdef0123456789abcdef0")), Twiml(empty_response)),
            ask(Fixture, rec(ALERT_SMS, Rec::Sid("CA0123456789abcdef0123456789abcdef")), Twiml(empty_response)),
            ask(Fixture, rec(ALERT_SMS, Rec::Sid("REzz23456789abcdef0123456789abcdef")), Twiml(empty_response)),
            ask(Fixture, rec(ALERT_SMS, Rec::Sid("RE../../../../etc/passwd0123456789")), Twiml(empty_response)),
            ask(Fixture, rec(ALERT_SMS, Rec::Without("RecordingSid")), Twiml(empty_response)),
            then(Fixture, Quiet),
            then(Fixture, OnlyTheControlAlerts),
        ]),
    ]
}

// --- The recording status callback and its alerts ---------------------------
//
// The webhook only checks and queues; `ivr serve`'s worker downloads the
// media from `RecordingUrl` (a local stand-in for Twilio here), stores it in
// the data folder, then sends the alerts (files, without Twilio credentials).

#[test]
fn alert_signed_completed_stores_the_recording_then_sends_one_sms() {
    // 00:30 BST on Thursday 18 June, 23:30 UTC on the 17th: stored under the local date.
    let srv = Server::fixture_at("2026-06-17T23:30:00Z");
    let media = MediaServer::start();
    let url = media.recording_url(RECORDING_SID);
    assert_twiml(
        &srv.post(ALERT_SMS, &recording_status(&url, "completed")),
        &response(vec![]),
    );
    srv.wait_until("the SMS alert", || !srv.sms_files().is_empty());
    srv.wait_for_idle_queue();
    std::thread::sleep(QUIET_PERIOD);

    let key = recording_key("2026/06/18", RECORDING_SID);
    assert_eq!(srv.recordings(), vec![key.clone()], "{:?}", srv.inventory());
    let stored = srv.data_dir.path().join(&key);
    assert!(
        std::fs::read(&stored).expect("the stored copy") == MediaServer::bytes(RECORDING_SID),
        "the stored copy is not the served media"
    );
    let meta = read_json(&srv.data_dir.path().join(format!("{key}.json")));
    assert_eq!(meta["from"], CALLER, "{meta}");
    assert_eq!(meta["to"], CALLED, "{meta}");
    assert_eq!(meta["duration"], "42", "{meta}");
    assert_eq!(meta["section"], "voicemail_example", "{meta}");

    let files = srv.sms_files();
    assert_eq!(files.len(), 1, "{files:?}");
    let sms = read_json(&files[0]);
    assert_eq!(sms["from"], SMS_FROM, "{sms}");
    assert_eq!(sms["to"], SMS_TO, "{sms}");
    let link = format!("file://{}", srv.data_path().join(&key).display());
    assert_eq!(
        sms["body"],
        format!("New voicemail from {CALLER} (42s): {link}"),
        "{sms}"
    );
    // The link works without Twilio: it is the stored copy.
    let linked = link.strip_prefix("file://").unwrap_or_default();
    assert!(
        std::fs::read(linked).ok() == Some(MediaServer::bytes(RECORDING_SID)),
        "{link} is not the recording"
    );
    assert!(
        !sms.to_string().contains("127.0.0.1"),
        "Twilio's URL in {sms}"
    );

    assert!(srv.job_files().is_empty(), "{:?}", srv.inventory());
    assert!(srv.dead_jobs().is_empty(), "{:?}", srv.inventory());
    assert!(srv.outbox_files().is_empty(), "no email configured");
    assert_eq!(media.fetches(RECORDING_SID), 1, "{:?}", media.requests());
    assert_eq!(media.requests().len(), 1, "{:?}", media.requests());
    let state = srv.state(RECORDING_SID).expect("a state file");
    assert_eq!(state_field(&state, "sms_sent"), true, "{state}");
    // Without Twilio credentials Twilio's copy is never deleted.
    assert_eq!(state_field(&state, "twilio_deleted"), false, "{state}");
}

fn assert_alerted_once(srv: &Server, media: &MediaServer) {
    srv.wait_until("the SMS alert", || !srv.sms_files().is_empty());
    srv.wait_until("the email alert", || !srv.outbox_files().is_empty());
    srv.wait_for_idle_queue();
    std::thread::sleep(QUIET_PERIOD);
    srv.wait_for_idle_queue();
    assert_eq!(srv.sms_files().len(), 1, "{:?}", srv.inventory());
    assert_eq!(srv.outbox_files().len(), 1, "{:?}", srv.inventory());
    let key = recording_key("2026/06/17", RECORDING_SID);
    assert_eq!(srv.recordings(), vec![key.clone()], "{:?}", srv.inventory());
    assert!(
        std::fs::read(srv.data_dir.path().join(&key)).ok()
            == Some(MediaServer::bytes(RECORDING_SID)),
        "the stored copy is not the served media"
    );
    assert_eq!(media.fetches(RECORDING_SID), 1, "{:?}", media.requests());
    assert!(srv.dead_jobs().is_empty(), "{:?}", srv.inventory());
    let sms = read_json(&srv.sms_files()[0]);
    assert!(
        sms["body"].as_str().unwrap_or_default().contains(CALLER),
        "{sms}"
    );
    let eml = read(&srv.outbox_files()[0]);
    assert!(
        eml.contains(&format!("\r\nSubject: New voicemail from {CALLER}\r\n"))
            || eml.starts_with(&format!("Subject: New voicemail from {CALLER}\r\n")),
        "{eml}"
    );
    assert!(eml.contains("\r\nTo: office@example.com\r\n"), "{eml}");
    let text = eml_text(&eml);
    let link = format!("file://{}", srv.data_path().join(&key).display());
    for want in [CALLER, CALLED, link.as_str()] {
        assert!(text.contains(want), "no `{want}` in the email:\n{text}");
    }
}

/// DESIGN.md: "Retried callbacks cause each effect once." Twilio retries a
/// status callback it did not see answered in time, with the same RecordingSid.
#[test]
fn alert_retried_callback_sequentially_alerts_once() {
    let cfg = voicemail_config("vm-email-seq", false);
    let srv = Server::builder(&cfg.path).start();
    let media = MediaServer::start();
    let url = media.recording_url(RECORDING_SID);
    for _ in 0..3 {
        assert_twiml(
            &srv.post(ALERT_SMS, &recording_status(&url, "completed")),
            &response(vec![]),
        );
    }
    assert_alerted_once(&srv, &media);
    // Once more, long after the first was done.
    assert_twiml(
        &srv.post(ALERT_SMS, &recording_status(&url, "completed")),
        &response(vec![]),
    );
    srv.wait_for_idle_queue();
    assert_alerted_once(&srv, &media);
}

/// Posts `params` to `path` from `n` threads at once; every reply must be `<Response/>`.
fn post_concurrently(srv: &Server, path: &str, params: &[(&str, &str)], n: usize) {
    let barrier = std::sync::Barrier::new(n);
    let replies: Vec<std::thread::Result<Reply>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    srv.post(path, params)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join()).collect()
    });
    for r in replies {
        let r = r.unwrap_or_else(|_| {
            panic!(
                "a concurrent duplicate callback was not answered 200 (see above); server stderr:\n{}",
                srv.stderr()
            )
        });
        assert_twiml(&r, &response(vec![]));
    }
}

#[test]
fn alert_retried_callback_concurrently_alerts_once() {
    let cfg = voicemail_config("vm-email-conc", false);
    let srv = Server::builder(&cfg.path).start();
    let media = MediaServer::start();
    let url = media.recording_url(RECORDING_SID);
    let params = recording_status(&url, "completed");
    post_concurrently(&srv, ALERT_SMS, &params, 3);
    assert_alerted_once(&srv, &media);
    // More bursts of the same callback, while and after it was processed.
    for _ in 0..10 {
        post_concurrently(&srv, ALERT_SMS, &params, 3);
    }
    assert_alerted_once(&srv, &media);
}

#[test]
fn alert_recorded_forward_is_stored_without_alerts() {
    let srv = Server::repo();
    let media = MediaServer::start();
    let url = media.recording_url(RECORDING_SID);
    let mut params = recording_status(&url, "completed");
    for (k, v) in params.iter_mut() {
        match *k {
            "RecordingSource" => *v = "DialVerb",
            "RecordingChannels" => *v = "2",
            _ => {}
        }
    }
    assert_twiml(&srv.post(ALERT_SALES, &params), &response(vec![]));
    srv.wait_until("the stored recording", || !srv.recordings().is_empty());
    srv.wait_for_idle_queue();
    std::thread::sleep(QUIET_PERIOD);
    let key = recording_key("2026/06/17", RECORDING_SID);
    assert_eq!(srv.recordings(), vec![key.clone()], "{:?}", srv.inventory());
    assert!(
        std::fs::read(srv.data_dir.path().join(&key)).ok()
            == Some(MediaServer::bytes(RECORDING_SID)),
        "the stored copy is not the served media"
    );
    let meta = read_json(&srv.data_dir.path().join(format!("{key}.json")));
    assert_eq!(meta["section"], "sales", "{meta}");
    assert_eq!(meta["from"], CALLER, "{meta}");
    assert_eq!(meta["to"], CALLED, "{meta}");
    assert!(srv.sms_files().is_empty(), "{:?}", srv.inventory());
    assert!(srv.outbox_files().is_empty(), "{:?}", srv.inventory());
    assert!(srv.job_files().is_empty(), "{:?}", srv.inventory());
    assert!(srv.dead_jobs().is_empty(), "{:?}", srv.inventory());
    assert_eq!(media.fetches(RECORDING_SID), 1, "{:?}", media.requests());
}

#[test]
fn alert_recording_gone_from_twilio_is_dead_lettered_and_logged() {
    let srv = Server::fixture();
    let media = MediaServer::start();
    media.forget(RECORDING_SID);
    let url = media.recording_url(RECORDING_SID);
    assert_twiml(
        &srv.post(ALERT_SMS, &recording_status(&url, "completed")),
        &response(vec![]),
    );
    srv.wait_until("the job in jobs/dead/", || !srv.dead_jobs().is_empty());
    srv.wait_for_idle_queue();
    let dead = srv.dead_jobs();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(
        dead[0].ends_with(format!("{RECORDING_SID}.json")),
        "{dead:?}"
    );
    assert!(read(&dead[0]).contains(RECORDING_SID), "{}", read(&dead[0]));
    assert!(media.fetches(RECORDING_SID) >= 1, "{:?}", media.requests());
    // The JSON log's error level (not the word in some message).
    let line = srv.stderr_line(&["\"level\":\"ERROR\"", RECORDING_SID]);
    assert!(
        line.is_some(),
        "no error line about {RECORDING_SID} on stderr:\n{}",
        srv.stderr()
    );
    std::thread::sleep(QUIET_PERIOD);
    assert!(srv.sms_files().is_empty(), "{:?}", srv.inventory());
    assert!(srv.outbox_files().is_empty(), "{:?}", srv.inventory());
    assert!(srv.recordings().is_empty(), "{:?}", srv.inventory());
    assert!(srv.job_files().is_empty(), "{:?}", srv.inventory());
}

fn transcription(sid: &str, url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AccountSid", ACCOUNT_SID.to_string()),
        ("CallSid", CALL_SID.to_string()),
        ("RecordingSid", sid.to_string()),
        ("RecordingUrl", url.to_string()),
        (
            "TranscriptionSid",
            "TR0123456789abcdef0123456789abcdef".to_string(),
        ),
        ("TranscriptionStatus", "completed".to_string()),
        ("TranscriptionText", TRANSCRIPT.to_string()),
        ("TranscriptionType", "fast".to_string()),
        (
            "TranscriptionUrl",
            format!("{url}/Transcriptions/TR0123456789abcdef0123456789abcdef"),
        ),
        ("Url", "https://example.test/unused".to_string()),
    ]
}

const TRANSCRIPT: &str = "Hi, it's Sam at number 12, the boiler is leaking. Please call me back.";

fn as_refs<'a>(ps: &'a [(&'a str, String)]) -> Vec<(&'a str, &'a str)> {
    ps.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[test]
fn alert_transcription_is_kept_in_the_state_file() {
    let cfg = voicemail_config("vm-transcribe", true);
    let srv = Server::builder(&cfg.path).start();
    let media = MediaServer::start();
    let url = media.recording_url(RECORDING_SID);
    // The transcription comes to the URL without the numbers.
    let t = transcription(RECORDING_SID, &url);
    assert_twiml(&srv.post(ALERT_SMS_BARE, &as_refs(&t)), &response(vec![]));
    srv.wait_until("the transcription in the state file", || {
        srv.state(RECORDING_SID).is_some_and(|s| {
            state_field(&s, "transcription_status") == "completed"
                && state_field(&s, "transcription_text") == TRANSCRIPT
        })
    });
    // Keeping it alerts nobody and fetches nothing.
    std::thread::sleep(QUIET_PERIOD);
    assert!(media.requests().is_empty(), "{:?}", media.requests());
    assert!(srv.sms_files().is_empty(), "{:?}", srv.inventory());
    assert!(srv.outbox_files().is_empty(), "{:?}", srv.inventory());
    // The recording's callback then alerts once, with the transcription in the email.
    assert_twiml(
        &srv.post(ALERT_SMS, &recording_status(&url, "completed")),
        &response(vec![]),
    );
    assert_alerted_once(&srv, &media);
    let text = eml_text(&read(&srv.outbox_files()[0]));
    assert!(text.contains(TRANSCRIPT), "{text}");
    let state = srv.state(RECORDING_SID).expect("a state file");
    assert_eq!(
        state_field(&state, "transcription_text"),
        TRANSCRIPT,
        "{state}"
    );
    assert_eq!(state_field(&state, "sms_sent"), true, "{state}");
    assert_eq!(state_field(&state, "email_sent"), true, "{state}");
}

#[test]
fn alert_transcription_for_a_section_that_does_not_transcribe_is_ignored() {
    let media = MediaServer::start();
    let url = media.recording_url(RECORDING_SID);
    let t = transcription(RECORDING_SID, &url);
    // The fixture's voicemail has no `transcribe = yes`; sales is a recorded forward.
    let fixture = Server::fixture();
    assert_twiml(
        &fixture.post(ALERT_SMS_BARE, &as_refs(&t)),
        &response(vec![]),
    );
    let repo = Server::repo();
    assert_twiml(&repo.post(ALERT_SALES, &as_refs(&t)), &response(vec![]));
    assert_quiet(&fixture, &media, "transcription without transcribe = yes");
    assert!(repo.inventory().is_empty(), "{:?}", repo.inventory());
    // Unsigned, to a section that does transcribe: refused, nothing kept.
    let cfg = voicemail_config("vm-transcribe-unsigned", true);
    let srv = Server::builder(&cfg.path).start();
    srv.request(ALERT_SMS_BARE)
        .params(&as_refs(&t))
        .unsigned()
        .send()
        .assert_status(403);
    assert_quiet(&srv, &media, "unsigned transcription");
}

// ===========================================================================
// 4. Authentication and HTTP edges

#[test]
fn auth_missing_signature_is_403_on_every_twiml_route() {
    let srv = Server::fixture();
    for path in [
        "/ivr",
        "/ivr/hangup",
        "/ivr/menu",
        "/ivr/menu/3",
        "/ivr/action/forward_example",
        "/ivr/callback/forward/call_status?initiated_by_section=forward_example",
        "/ivr/callback/voicemail/hangup?initiated_by_section=voicemail_example",
        ALERT_SMS,
    ] {
        srv.request(path)
            .params(&with(&[("Digits", "3")]))
            .unsigned()
            .send()
            .assert_status(403);
        srv.request(path)
            .method("GET")
            .unsigned()
            .send()
            .assert_status(403);
    }
}

#[test]
fn auth_wrong_signature_is_403() {
    let srv = Server::fixture();
    for sig in [
        "not base64 at all",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "0/KCTR6DLpKmkAf8muzZqo1nDgQ=",
        "",
    ] {
        srv.request("/ivr/menu")
            .params(&with(&[("Digits", "3")]))
            .signature(sig)
            .send()
            .assert_status(403);
    }
}

#[test]
fn auth_signature_with_wrong_token_is_403() {
    let srv = Server::fixture();
    srv.request("/ivr/menu")
        .params(&with(&[("Digits", "3")]))
        .signed_with_token("another-accounts-token")
        .send()
        .assert_status(403);
}

#[test]
fn auth_tampered_request_is_403() {
    let srv = Server::fixture();
    // A changed value.
    srv.request("/ivr/menu")
        .params(&with(&[("Digits", "4")]))
        .signed_params(&with(&[("Digits", "3")]))
        .send()
        .assert_status(403);
    // An added parameter.
    srv.request("/ivr/menu")
        .params(&with(&[("Digits", "3")]))
        .signed_params(&with(&[]))
        .send()
        .assert_status(403);
    // A changed query string.
    srv.request("/ivr/callback/forward/call_status?initiated_by_section=voicemail_example")
        .params(&with(&[("DialCallStatus", "busy")]))
        .signed_over(
            &srv.url("/ivr/callback/forward/call_status?initiated_by_section=forward_example"),
        )
        .send()
        .assert_status(403);
    // A changed path.
    srv.request("/ivr/menu/4")
        .params(&with(&[]))
        .signed_over(&srv.url("/ivr/menu/3"))
        .send()
        .assert_status(403);
    // The untampered request passes.
    srv.post("/ivr/menu", &with(&[("Digits", "3")]))
        .assert_status(200);
}

#[test]
fn auth_port_variations_as_the_server_sees_them() {
    let srv = Server::fixture();
    let ok = |host: &str, proto: Option<&str>, signed: &str| {
        let mut r = srv
            .request("/ivr/hangup")
            .params(&with(&[]))
            .header("Host", host)
            .signed_over(signed);
        if let Some(p) = proto {
            r = r.header("X-Forwarded-Proto", p);
        }
        r.send().status
    };
    // The port the server was reached on is part of the URL; like
    // twilio-python's RequestValidator, the URL without it passes too.
    let here = format!("127.0.0.1:{}", srv.port);
    assert_eq!(ok(&here, None, &format!("http://{here}/ivr/hangup")), 200);
    assert_eq!(ok(&here, None, "http://127.0.0.1/ivr/hangup"), 200);
    // Default ports: signed with or without them, both pass.
    let h = "ivr.example.com";
    assert_eq!(ok(h, None, "http://ivr.example.com/ivr/hangup"), 200);
    assert_eq!(ok(h, None, "http://ivr.example.com:80/ivr/hangup"), 200);
    assert_eq!(
        ok(
            "ivr.example.com:80",
            None,
            "http://ivr.example.com/ivr/hangup"
        ),
        200
    );
    assert_eq!(
        ok(
            "ivr.example.com:80",
            None,
            "http://ivr.example.com:80/ivr/hangup"
        ),
        200
    );
    assert_eq!(
        ok(h, Some("https"), "https://ivr.example.com:443/ivr/hangup"),
        200
    );
    assert_eq!(
        ok(
            "ivr.example.com:443",
            Some("https"),
            "https://ivr.example.com/ivr/hangup"
        ),
        200
    );
    // A signature without the port the request came to passes (as above);
    // other ports are never implied.
    assert_eq!(ok(h, None, "http://ivr.example.com:8080/ivr/hangup"), 403);
    assert_eq!(ok(h, None, "http://ivr.example.com:443/ivr/hangup"), 403);
    assert_eq!(
        ok(
            "ivr.example.com:8443",
            Some("https"),
            "https://ivr.example.com/ivr/hangup"
        ),
        200
    );
    assert_eq!(
        ok(
            "ivr.example.com:8443",
            Some("https"),
            "https://ivr.example.com:9443/ivr/hangup"
        ),
        403
    );
    assert_eq!(
        ok(h, Some("https"), "http://ivr.example.com/ivr/hangup"),
        403
    );
}

const JSON_BODY: &str =
    r#"{"CallSid":"CA0123456789abcdef0123456789abcdef","CallStatus":"completed"}"#;
/// sha256sum of JSON_BODY.
const JSON_BODY_SHA256: &str = "a711eb883e74c37e523a26b22ee95f327f89fd4d1d1dfea038b1689cfde2bd6f";

#[test]
fn auth_json_body_with_body_sha256() {
    let srv = Server::fixture();
    let path = format!("/ivr/hangup?bodySHA256={JSON_BODY_SHA256}");
    assert_twiml(
        &srv.request(&path)
            .body("application/json", JSON_BODY)
            .send(),
        &response(vec![hangup()]),
    );
    // The same signature and hash with another body.
    let tampered = JSON_BODY.replace("completed", "failed");
    srv.request(&path)
        .body("application/json", tampered)
        .send()
        .assert_status(403);
    // Without bodySHA256 nothing ties the body to the signature.
    srv.request("/ivr/hangup")
        .body("application/json", JSON_BODY)
        .send()
        .assert_status(403);
    // Unsigned.
    srv.request(&path)
        .body("application/json", JSON_BODY)
        .unsigned()
        .send()
        .assert_status(403);
}

#[test]
fn auth_get_with_query_is_signed_over_the_url_alone() {
    // A webhook set to GET: Twilio's parameters are in the signed query string.
    let srv = Server::fixture();
    let path = "/ivr/menu?CallSid=CA1&From=%2B447700900555&Digits=3";
    assert_twiml(
        &srv.request(path).method("GET").send(),
        &response(vec![
            play(&s3("option-forward.mp3")),
            redirect(&srv.url("/ivr/action/forward_example")),
        ]),
    );
    srv.request("/ivr/menu?CallSid=CA1&From=%2B447700900555&Digits=4")
        .method("GET")
        .signed_over(&srv.url(path))
        .send()
        .assert_status(403);
}

#[test]
fn auth_body_over_64_kib_is_413() {
    let srv = Server::fixture();
    let big = "a".repeat(64 * 1024 + 1);
    srv.request("/ivr/menu")
        .body("application/x-www-form-urlencoded", format!("Pad={big}"))
        .send()
        .assert_status(413);
    // Exactly 64 KiB, signed, is served.
    let pad = "b".repeat(64 * 1024 - "Pad=".len());
    assert_eq!(format!("Pad={pad}").len(), 64 * 1024);
    assert_twiml(
        &srv.post("/ivr/hangup", &[("Pad", &pad)]),
        &response(vec![hangup()]),
    );
}

#[test]
fn auth_unknown_path_is_404() {
    let srv = Server::fixture();
    for path in [
        "/nope",
        "/ivr/menu/1/2",
        "/ivr/action/",
        "/ivr/callback",
        "/",
    ] {
        srv.post(path, &with(&[])).assert_status(404);
        srv.get_unsigned(path).assert_status(404);
    }
}

#[test]
fn auth_other_methods_are_405() {
    let srv = Server::fixture();
    for method in ["PUT", "DELETE", "PATCH"] {
        srv.request("/ivr/menu")
            .method(method)
            .params(&with(&[]))
            .send()
            .assert_status(405);
    }
}

#[test]
fn auth_public_url_is_what_is_signed_and_linked() {
    let srv = Server::builder(fixture_config())
        .public_url("https://example.test/prod")
        .start();
    let r = srv
        .request("/ivr/menu")
        .params(&with(&[]))
        .signed_over("https://example.test/prod/ivr/menu")
        .send();
    assert_twiml(
        &r,
        &response(vec![
            gather(
                "https://example.test/prod/ivr/menu",
                vec![play(&s3("main-menu.mp3")), pause(3)],
            ),
            redirect("https://example.test/prod/ivr/action/hangup_with_goodbye"),
        ]),
    );
    let r = srv
        .request("/ivr/callback/forward/call_status?initiated_by_section=forward_example")
        .params(&with(&[("DialCallStatus", "busy")]))
        .signed_over("https://example.test/prod/ivr/callback/forward/call_status?initiated_by_section=forward_example")
        .send();
    assert_twiml(
        &r,
        &response(vec![redirect(
            "https://example.test/prod/ivr/action/voicemail_example",
        )]),
    );
    // With IVR_PUBLIC_URL the Host header is not needed (HTTP/1.0 without one).
    let sig = shared::signature::compute(TOKEN, "https://example.test/prod/ivr/hangup", &[]);
    srv.raw(
        format!(
            "POST /ivr/hangup HTTP/1.0\r\nX-Twilio-Signature: {sig}\r\nContent-Length: 0\r\n\r\n"
        )
        .as_bytes(),
    )
    .assert_status(200);
    // Signed over the local URL, or without the stage: refused.
    srv.request("/ivr/menu")
        .params(&with(&[]))
        .signed_over(&format!("{}/ivr/menu", srv.base))
        .send()
        .assert_status(403);
    srv.request("/ivr/menu")
        .params(&with(&[]))
        .signed_over("https://example.test/ivr/menu")
        .send()
        .assert_status(403);
}

// ===========================================================================
// 5. Open mode

#[test]
fn open_mode_without_token_serves_unsigned_and_warns() {
    let srv = Server::builder(fixture_config()).without_token().start();
    assert!(
        srv.stderr_contains("NOT signature-checked"),
        "no loud warning on stderr:\n{}",
        srv.stderr()
    );
    assert_twiml(
        &srv.request("/ivr/menu")
            .params(&with(&[("Digits", "3")]))
            .unsigned()
            .send(),
        &response(vec![
            play(&s3("option-forward.mp3")),
            redirect(&srv.url("/ivr/action/forward_example")),
        ]),
    );
    // A signed server does not warn. The warning would come before the
    // start-up banner's last line: once that line is read, so would it be.
    let signed = Server::fixture();
    signed.get_unsigned("/ping").assert_status(200);
    assert!(
        signed.stderr_contains("behind a tunnel, set IVR_PUBLIC_URL"),
        "no start-up banner on stderr:\n{}",
        signed.stderr()
    );
    assert!(
        !signed.stderr().contains("NOT signature-checked"),
        "{}",
        signed.stderr()
    );
}

// ===========================================================================
// 6. Config errors stop `ivr serve` and are listed by `ivr check`

fn broken_config() -> (TempConfig, usize, usize) {
    let fixture = read(&fixture_config());
    let text = replace_once(
        &fixture,
        "timezone = Europe/London",
        "timezone = Mars/Olympus",
    );
    let text = replace_once(
        &text,
        "[ivr_menu_option_3]\nplay_sample = https://audio.example.net/ivr/option-forward.mp3\naction = forward_example",
        "[ivr_menu_option_3]\nplay_sample = https://audio.example.net/ivr/option-forward.mp3\naction = no_such_action",
    );
    let tz_line = line_of(&text, "timezone = Mars/Olympus");
    let action_line = line_of(&text, "action = no_such_action");
    (write_config("broken", &text), tz_line, action_line)
}

#[test]
fn config_error_stops_serve_with_path_and_line() {
    let (cfg, tz_line, _) = broken_config();
    let path = cfg.path.display().to_string();
    let (status, stdout, stderr) = run_ivr(
        &["serve", "--config", &path, "--port", "0"],
        &[("TWILIO_AUTH_TOKEN", TOKEN)],
    );
    assert!(!status.success(), "serve started on a broken config");
    assert!(
        !stdout.contains("listening on"),
        "serve listened on a broken config: {stdout}"
    );
    let want = format!("{path}:{tz_line}: [ivr] timezone");
    assert!(stderr.contains(&want), "no `{want}` in stderr:\n{stderr}");
}

#[test]
fn config_error_check_lists_every_error_and_exits_1() {
    let (cfg, tz_line, action_line) = broken_config();
    let path = cfg.path.display().to_string();
    let (status, stdout, stderr) = run_ivr(&["check", &path], &[]);
    assert_eq!(
        status.code(),
        Some(1),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let all = format!("{stdout}{stderr}");
    for want in [
        format!("{path}:{tz_line}: [ivr] timezone: "),
        format!("{path}:{action_line}: [ivr_menu_option_3] action: "),
    ] {
        assert!(all.contains(&want), "no `{want}` in:\n{all}");
    }
}

#[test]
fn check_accepts_the_fixture_and_the_repo_config() {
    for cfg in [fixture_config(), repo_config()] {
        let path = cfg.display().to_string();
        let (status, stdout, stderr) = run_ivr(&["check", &path], &[]);
        assert_eq!(
            status.code(),
            Some(0),
            "{path}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
    }
}
