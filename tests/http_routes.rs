//! HTTP black-box tests: the real `ivr serve`, driven the way Twilio drives it.
//!
//! Routes and TwiML against twilio-aws-ivr's sample config (loaded unchanged)
//! and the repository's config.ini; each known twilio-aws-ivr bug as its own
//! test; the signature check; start-up failures. TwiML is compared as parsed
//! trees, never as strings.

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
        &response(vec![
            play(&s3("connecting.mp3")),
            fixture_dial(&srv),
        ]),
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
// 3. twilio-aws-ivr's bugs, one test each: valid TwiML, never a 5xx

#[test]
fn bug_forward_callback_without_initiated_by_section() {
    let srv = Server::fixture();
    let r = srv.post(
        "/ivr/callback/forward/call_status",
        &with(&[("DialCallStatus", "busy")]),
    );
    assert_twiml(&r, &recovered(&srv));
}

#[test]
fn bug_forward_callback_with_unknown_section() {
    let srv = Server::fixture();
    let r = srv.post(
        "/ivr/callback/forward/call_status?initiated_by_section=no_such_section",
        &with(&[("DialCallStatus", "no-answer")]),
    );
    assert_twiml(&r, &recovered(&srv));
}

#[test]
fn bug_forward_callback_with_section_of_wrong_type() {
    let srv = Server::fixture();
    let r = srv.post(
        "/ivr/callback/forward/call_status?initiated_by_section=hangup_with_goodbye",
        &with(&[("DialCallStatus", "busy")]),
    );
    assert_twiml(&r, &recovered(&srv));
}

#[test]
fn bug_voicemail_hangup_without_initiated_by_section() {
    let srv = Server::fixture();
    let r = srv.post(
        "/ivr/callback/voicemail/hangup",
        &with(&[("RecordingUrl", RECORDING_URL)]),
    );
    assert_twiml(&r, &response(vec![hangup()]));
}

#[test]
fn bug_voicemail_hangup_with_unknown_section() {
    let srv = Server::fixture();
    let r = srv.post(
        "/ivr/callback/voicemail/hangup?initiated_by_section=no_such_section",
        &with(&[("RecordingUrl", RECORDING_URL)]),
    );
    assert_twiml(&r, &response(vec![hangup()]));
}

#[test]
fn bug_voicemail_hangup_with_section_of_wrong_type() {
    let srv = Server::fixture();
    let r = srv.post(
        "/ivr/callback/voicemail/hangup?initiated_by_section=forward_example",
        &with(&[("RecordingUrl", RECORDING_URL)]),
    );
    assert_twiml(&r, &response(vec![hangup()]));
}

fn assert_alert_ignored(path: &str) {
    let srv = Server::fixture();
    let media = MediaServer::start();
    let url = media.recording_url(RECORDING_SID);
    let r = srv.post(path, &recording_status(&url, "completed"));
    assert_twiml(&r, &response(vec![]));
    assert_quiet(&srv, &media, path);
    assert_worker_alive_and_only_control_fetched(&srv, &media);
}

#[test]
fn bug_voicemail_alert_without_initiated_by_section() {
    assert_alert_ignored("/ivr/callback/voicemail/alert_sms");
}

#[test]
fn bug_voicemail_alert_with_unknown_section() {
    assert_alert_ignored("/ivr/callback/voicemail/alert_sms?initiated_by_section=nope");
}

#[test]
fn bug_voicemail_alert_with_section_of_wrong_type() {
    assert_alert_ignored(
        "/ivr/callback/voicemail/alert_sms?initiated_by_section=hangup_with_goodbye",
    );
}

#[test]
fn bug_forward_action_without_play_sample_dials() {
    let text = replace_once(
        &read(&fixture_config()),
        "play_sample = https://audio.example.net/ivr/connecting.mp3\n",
        "",
    );
    let cfg = write_config("forward-no-sample", &text);
    let srv = Server::builder(&cfg.path).start();
    assert_twiml(
        &srv.post("/ivr/action/forward_example", &with(&[])),
        &response(vec![fixture_dial(&srv)]),
    );
}

#[test]
fn bug_menu_digit_without_option_section_apologises() {
    let text = remove_section(&read(&fixture_config()), "ivr_menu_option_5");
    let cfg = write_config("no-option-5", &text);
    let srv = Server::builder(&cfg.path).start();
    assert_twiml(&srv.post("/ivr/menu/5", &with(&[])), &invalid_choice(&srv));
    assert_twiml(
        &srv.post("/ivr/menu", &with(&[("Digits", "5")])),
        &invalid_choice(&srv),
    );
    // The options that exist still work.
    assert_twiml(
        &srv.post("/ivr/menu", &with(&[("Digits", "4")])),
        &response(vec![
            play(&s3("option-voicemail.mp3")),
            redirect(&srv.url("/ivr/action/voicemail_example")),
        ]),
    );
}

#[test]
fn bug_loop_count_not_a_number_restarts_the_menu() {
    let srv = Server::fixture();
    assert_twiml(
        &srv.post("/ivr/menu?loop_count=abc", &with(&[])),
        &fixture_menu(&srv),
    );
    let repo = Server::repo();
    assert_twiml(
        &repo.post("/ivr/menu?loop_count=abc", &with(&[])),
        &response(vec![
            gather(
                &repo.url("/ivr/menu"),
                vec![say_amy(REPO_MENU_SAY), pause(3)],
            ),
            say_amy("Sorry, we did not hear a choice."),
            redirect(&repo.url("/ivr/menu?loop_count=1")),
        ]),
    );
}

#[test]
fn bug_loop_count_negative_restarts_the_menu() {
    let srv = Server::fixture();
    assert_twiml(
        &srv.post("/ivr/menu?loop_count=-3", &with(&[])),
        &fixture_menu(&srv),
    );
    let repo = Server::repo();
    assert_twiml(
        &repo.post("/ivr/menu?loop_count=-3", &with(&[])),
        &response(vec![
            gather(
                &repo.url("/ivr/menu"),
                vec![say_amy(REPO_MENU_SAY), pause(3)],
            ),
            say_amy("Sorry, we did not hear a choice."),
            redirect(&repo.url("/ivr/menu?loop_count=1")),
        ]),
    );
    // Far too large to be a loop count: still a menu, not an error.
    let big = repo.post("/ivr/menu?loop_count=99999999999999999999999", &with(&[]));
    assert_eq!(big.twiml().children[0].name, "Gather", "{}", big.body);
}

fn assert_bad_digits(digits: &str) {
    let srv = Server::fixture();
    let r = srv.post("/ivr/menu", &with(&[("Digits", digits)]));
    assert_twiml(&r, &invalid_choice(&srv));
    let repo = Server::repo();
    let r2 = repo.post("/ivr/menu", &with(&[("Digits", digits)]));
    assert_twiml(
        &r2,
        &response(vec![
            say_amy("Sorry, that is not one of the options."),
            redirect(&repo.url("/ivr/menu")),
        ]),
    );
    for (server, reply) in [(&srv, &r), (&repo, &r2)] {
        for url in urls(&reply.twiml()) {
            assert!(
                url.starts_with(&format!("{}/", server.base)),
                "URL {url} is not on the server"
            );
            assert!(
                !url.contains(['#', '*', ' ']) && !url.contains(digits),
                "caller input reached a URL: {url}"
            );
        }
    }
}

#[test]
fn bug_digits_hash_is_an_invalid_choice() {
    assert_bad_digits("#");
}

#[test]
fn bug_digits_star_is_an_invalid_choice() {
    assert_bad_digits("*");
}

#[test]
fn bug_digits_space_is_an_invalid_choice() {
    assert_bad_digits(" ");
}

#[test]
fn bug_digits_with_slash_is_an_invalid_choice() {
    assert_bad_digits("1/2");
}

#[test]
fn bug_unknown_action_apologises_and_returns_to_menu() {
    let srv = Server::fixture();
    assert_twiml(
        &srv.post("/ivr/action/unknown", &with(&[])),
        &recovered(&srv),
    );
    assert_twiml(
        &srv.post(
            "/ivr/action/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
            &with(&[]),
        ),
        &recovered(&srv),
    );
}

#[test]
fn bug_menu_option_path_percent_encoded_hash() {
    let srv = Server::fixture();
    assert_twiml(
        &srv.post("/ivr/menu/%23", &with(&[])),
        &invalid_choice(&srv),
    );
    assert_twiml(
        &srv.post("/ivr/menu/%2A", &with(&[])),
        &invalid_choice(&srv),
    );
    assert_twiml(&srv.post("/ivr/menu/12", &with(&[])), &invalid_choice(&srv));
}

#[test]
fn bug_unknown_menu_name_recovers() {
    let srv = Server::repo();
    assert_twiml(
        &srv.post("/ivr/menu?menu=nope", &with(&[])),
        &response(vec![
            say_amy(DEFAULT_RECOVER),
            redirect(&srv.url("/ivr/menu")),
        ]),
    );
}

#[test]
fn bug_missing_host_header_is_400() {
    let srv = Server::fixture();
    let body = "Digits=3";
    let r = srv.raw(
        format!(
            "POST /ivr/menu HTTP/1.0\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    r.assert_status(400);
}

#[test]
fn bug_junk_host_header_is_400() {
    let srv = Server::fixture();
    let body = "Digits=3";
    // Signed over the URL the junk Host would make: still refused.
    let sig = shared::signature::compute(
        TOKEN,
        "http://evil.com/x/ivr/menu",
        &[("Digits".to_string(), "3".to_string())],
    );
    let r = srv.raw(
        format!(
            "POST /ivr/menu HTTP/1.1\r\nHost: evil.com/x\r\nX-Twilio-Signature: {sig}\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    r.assert_status(400);
    let r = srv
        .request("/ivr/menu")
        .params(&[("Digits", "3")])
        .header("Host", "evil.com/x")
        .signed_over("http://evil.com/x/ivr/menu")
        .send();
    r.assert_status(400);
}

#[test]
fn bug_forwarded_proto_junk_is_ignored() {
    let srv = Server::fixture();
    let r = srv
        .request("/ivr")
        .params(&with(&[]))
        .header("X-Forwarded-Proto", "javascript")
        .send();
    let tree = r.twiml();
    for url in urls(&tree) {
        if !url.starts_with(S3) {
            assert!(
                url.starts_with(&format!("http://127.0.0.1:{}/", srv.port)),
                "{url}"
            );
        }
    }
    assert_twiml(
        &r,
        &response(vec![
            play(&s3("welcome.mp3")),
            redirect(&srv.url("/ivr/menu")),
        ]),
    );
    // A signature over the junk scheme does not pass.
    srv.request("/ivr")
        .params(&with(&[]))
        .header("X-Forwarded-Proto", "javascript")
        .signed_over(&format!("javascript://127.0.0.1:{}/ivr", srv.port))
        .send()
        .assert_status(403);
}

#[test]
fn bug_forwarded_proto_https_is_honoured() {
    let srv = Server::fixture();
    let https = format!("https://127.0.0.1:{}", srv.port);
    let r = srv
        .request("/ivr")
        .params(&with(&[]))
        .header("X-Forwarded-Proto", "https")
        .signed_over(&format!("{https}/ivr"))
        .send();
    assert_twiml(
        &r,
        &response(vec![
            play(&s3("welcome.mp3")),
            redirect(&format!("{https}/ivr/menu")),
        ]),
    );
    // Signed over http:// while the proxy says https: refused.
    srv.request("/ivr")
        .params(&with(&[]))
        .header("X-Forwarded-Proto", "https")
        .send()
        .assert_status(403);
}

#[test]
fn bug_menus_gather_one_digit_and_never_play_digits() {
    let fixture = Server::fixture();
    let repo = Server::repo();
    let mut replies = vec![];
    for path in [
        "/ivr",
        "/ivr/menu",
        "/ivr/menu?loop_count=1",
        "/ivr/action/forward_example",
        "/ivr/action/voicemail_example",
        "/ivr/action/back_to_menu",
    ] {
        replies.push(fixture.post(path, &with(&[])));
    }
    for path in [
        "/ivr",
        "/ivr/menu",
        "/ivr/menu?loop_count=2",
        "/ivr/menu?menu=support",
        "/ivr/menu?menu=closed",
        "/ivr/action/sales",
    ] {
        replies.push(repo.post(path, &with(&[])));
    }
    let mut gathers = 0;
    for r in &replies {
        let tree = r.twiml();
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
    }
    assert!(gathers >= 6, "expected a Gather per menu, saw {gathers}");
}

#[test]
fn bug_hours_morning_range_ends_at_1159_inclusive() {
    let morning = Server::fixture_at("2026-06-17T10:59:30Z"); // 11:59:30 BST
    assert_twiml(
        &morning.post("/ivr/action/redirect_morning_or_afternoon", &with(&[])),
        &response(vec![
            play(&s3("its-morning.mp3")),
            redirect(&morning.url("/ivr/action/hangup_without_goodbye")),
        ]),
    );
    let noon = Server::fixture_at("2026-06-17T11:00:00Z"); // 12:00:00 BST
    assert_twiml(
        &noon.post("/ivr/action/redirect_morning_or_afternoon", &with(&[])),
        &response(vec![redirect(
            &noon.url("/ivr/action/redirect_morning_or_afternoon_its_afternoon"),
        )]),
    );
    assert_twiml(
        &noon.post(
            "/ivr/action/redirect_morning_or_afternoon_its_afternoon",
            &with(&[]),
        ),
        &response(vec![
            play(&s3("its-afternoon.mp3")),
            hangup(),
        ]),
    );
}

#[test]
fn bug_hours_all_day_range_covers_2359() {
    let late = Server::fixture_at("2026-06-17T22:59:30Z"); // Wednesday 23:59:30 BST
    let weekday = response(vec![
        play(&s3("its-a-weekday.mp3")),
        redirect(&late.url("/ivr/action/hangup_without_goodbye")),
    ]);
    assert_twiml(
        &late.post("/ivr/action/redirect_weekday_or_weekend", &with(&[])),
        &weekday,
    );
    let saturday = Server::fixture_at("2026-06-20T09:00:00Z");
    assert_twiml(
        &saturday.post("/ivr/action/redirect_weekday_or_weekend", &with(&[])),
        &response(vec![redirect(
            &saturday.url("/ivr/action/redirect_weekday_or_weekend_its_a_weekend"),
        )]),
    );
}

#[test]
fn bug_no_tracebacks_or_panics_on_odd_input() {
    // The fixture sets chalice_debug = yes, which made the Python original print tracebacks.
    let srv = Server::fixture();
    let long = "9".repeat(10_000);
    let form_cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("/ivr/menu", with(&[("Digits", &long)])),
        ("/ivr/menu", with(&[("Digits", "\u{0}")])),
        ("/ivr/menu", with(&[("Digits", "1"), ("Digits", "2")])),
        ("/ivr/menu", with(&[("Digits", "٣")])),
        ("/ivr/menu?menu=", with(&[])),
        ("/ivr/menu?menu=%FF", with(&[])),
        ("/ivr/menu?loop_count=%FF", with(&[])),
        ("/ivr/menu?loop_count=", with(&[])),
        ("/ivr/menu/%FF%FE", with(&[])),
        ("/ivr/action/%FF", with(&[])),
        ("/ivr/action/%00", with(&[])),
        (
            "/ivr/callback/forward/call_status?initiated_by_section=forward_example",
            with(&[("DialCallStatus", "<weird>")]),
        ),
        (
            "/ivr/callback/forward/call_status?initiated_by_section=forward_example",
            with(&[]),
        ),
        (
            "/ivr/callback/forward/call_status?initiated_by_section=forward_example&initiated_by_section=voicemail_example",
            with(&[("DialCallStatus", "busy")]),
        ),
        ("/ivr/callback/voicemail/hangup?initiated_by_section=", with(&[])),
        (
            "/ivr/callback/voicemail/alert_sms?initiated_by_section=voicemail_example",
            with(&[("RecordingStatus", "completed"), ("RecordingUrl", "javascript:alert(1)")]),
        ),
    ];
    for (path, params) in &form_cases {
        let r = srv.post(path, params);
        let tree = r.twiml();
        for url in urls(&tree) {
            assert!(
                url.starts_with("http://") || url.starts_with("https://"),
                "{path}: {url}"
            );
        }
    }
    std::thread::sleep(QUIET_PERIOD);
    assert!(
        srv.inventory().is_empty(),
        "nothing for a javascript: URL: {:?}",
        srv.inventory()
    );
    // Bodies that are not well-formed forms, on an open server so that they reach the flow.
    let open = Server::builder(fixture_config()).without_token().start();
    for body in [
        &b"%%%&&=="[..],
        b"Digits=%FF%FE",
        b"Digits=%",
        b"\xff\xfe\x00",
        b"=&=&",
        b"Digits",
    ] {
        open.request("/ivr/menu")
            .body("application/x-www-form-urlencoded", body.to_vec())
            .unsigned()
            .send()
            .twiml();
    }
    for ct in [
        "application/json",
        "text/plain",
        "multipart/form-data; boundary=x",
    ] {
        open.request("/ivr/menu")
            .body(ct, &b"{not json"[..])
            .unsigned()
            .send()
            .twiml();
    }
    // Errors from the server are short and plain.
    for r in [
        srv.request("/ivr/menu").unsigned().send(),
        srv.request("/nope").send(),
        srv.request("/ivr/menu").method("PUT").send(),
    ] {
        assert!(r.body.len() < 200, "{}", r.body);
    }
}

// --- The recording status callback and its alerts ---------------------------
//
// The webhook only checks and queues; `ivr serve`'s worker downloads the
// media from `RecordingUrl` (a local stand-in for Twilio here), stores it in
// the data folder, then sends the alerts (files, without Twilio credentials).

#[test]
fn bug_alert_sms_unsigned_is_403_and_sends_nothing() {
    let srv = Server::fixture();
    let media = MediaServer::start();
    let url = media.recording_url(RECORDING_SID);
    srv.request(ALERT_SMS)
        .params(&recording_status(&url, "completed"))
        .unsigned()
        .send()
        .assert_status(403);
    srv.request(ALERT_SMS)
        .method("GET")
        .unsigned()
        .send()
        .assert_status(403);
    assert_quiet(&srv, &media, "unsigned callback");
    assert_worker_alive_and_only_control_fetched(&srv, &media);
}

#[test]
fn bug_alert_sms_forged_is_403_and_sends_nothing() {
    let srv = Server::fixture();
    let media = MediaServer::start();
    let url = media.recording_url(RECORDING_SID);
    let params = recording_status(&url, "completed");
    srv.request(ALERT_SMS)
        .params(&params)
        .signed_with_token("not-the-token")
        .send()
        .assert_status(403);
    srv.request(ALERT_SMS)
        .params(&params)
        .signature("0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
        .send()
        .assert_status(403);
    // Signed for Twilio's recording URL, sent with the attacker's.
    srv.request(ALERT_SMS)
        .params(&params)
        .signed_params(&recording_status(RECORDING_URL, "completed"))
        .send()
        .assert_status(403);
    // Signed for another caller (the numbers are in the signed URL).
    srv.request(ALERT_SMS)
        .params(&params)
        .signed_over(&srv.url(&ALERT_SMS.replace("900555", "900666")))
        .send()
        .assert_status(403);
    // Signed for a section that sends nothing, sent to the voicemail.
    srv.request(ALERT_SMS)
        .params(&params)
        .signed_over(&srv.url(&ALERT_SMS.replace("voicemail_example", "forward_example")))
        .send()
        .assert_status(403);
    assert_quiet(&srv, &media, "forged callbacks");
    assert_worker_alive_and_only_control_fetched(&srv, &media);
}

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

#[test]
fn bug_alert_sms_for_a_non_voicemail_section_sends_nothing() {
    let srv = Server::fixture();
    let media = MediaServer::start();
    let url = media.recording_url(RECORDING_SID);
    // A forward without `record = yes`.
    let r = srv.post(
        "/ivr/callback/voicemail/alert_sms?initiated_by_section=forward_example&caller=%2B447700900555",
        &recording_status(&url, "completed"),
    );
    assert_twiml(&r, &response(vec![]));
    // A forward without `record` in the repo config, and a menu action.
    let repo = Server::repo();
    for section in ["emergency", "support_menu", "goodbye"] {
        let r = repo.post(
            &format!("/ivr/callback/voicemail/alert_sms?initiated_by_section={section}"),
            &recording_status(&url, "completed"),
        );
        assert_twiml(&r, &response(vec![]));
    }
    assert_quiet(&srv, &media, "non-voicemail section");
    assert!(repo.inventory().is_empty(), "{:?}", repo.inventory());
    assert_worker_alive_and_only_control_fetched(&srv, &media);
}

#[test]
fn bug_alert_sms_without_recording_url_sends_nothing() {
    let srv = Server::fixture();
    let media = MediaServer::start();
    let url = media.recording_url(RECORDING_SID);
    let without: Vec<(&str, &str)> = recording_status(&url, "completed")
        .into_iter()
        .filter(|(k, _)| *k != "RecordingUrl")
        .collect();
    assert_twiml(&srv.post(ALERT_SMS, &without), &response(vec![]));
    // Not an http(s) URL.
    let local_file = format!("file://{}", srv.data_path().join("x").display());
    for bad in [
        "",
        "javascript:alert(1)",
        "ftp://127.0.0.1/x",
        local_file.as_str(),
        "not a url",
    ] {
        assert_twiml(
            &srv.post(ALERT_SMS, &recording_status(bad, "completed")),
            &response(vec![]),
        );
    }
    assert_quiet(&srv, &media, "no usable RecordingUrl");
    assert_worker_alive_and_only_control_fetched(&srv, &media);
}

#[test]
fn bug_alert_sms_recording_in_progress_sends_nothing() {
    let srv = Server::fixture();
    let media = MediaServer::start();
    let url = media.recording_url(RECORDING_SID);
    for status in ["in-progress", "absent", "failed", "", "Completed"] {
        assert_twiml(
            &srv.post(ALERT_SMS, &recording_status(&url, status)),
            &response(vec![]),
        );
    }
    let without: Vec<(&str, &str)> = recording_status(&url, "completed")
        .into_iter()
        .filter(|(k, _)| *k != "RecordingStatus")
        .collect();
    assert_twiml(&srv.post(ALERT_SMS, &without), &response(vec![]));
    assert_quiet(&srv, &media, "recording not completed");
    assert_worker_alive_and_only_control_fetched(&srv, &media);
}

#[test]
fn bug_alert_sms_with_a_bad_recording_sid_sends_nothing() {
    let srv = Server::fixture();
    let media = MediaServer::start();
    // Each would be a fetchable URL at the media server if the SID were not checked.
    for sid in [
        "",
        "RE0123",
        "RE0123456789abcdef0123456789abcdef0",
        "CA0123456789abcdef0123456789abcdef",
        "REzz23456789abcdef0123456789abcdef",
        "RE../../../../etc/passwd0123456789",
    ] {
        let url = media.recording_url(RECORDING_SID);
        assert_twiml(
            &srv.post(ALERT_SMS, &recording_status_for(sid, &url, "completed")),
            &response(vec![]),
        );
    }
    let url = media.recording_url(RECORDING_SID);
    let without: Vec<(&str, &str)> = recording_status(&url, "completed")
        .into_iter()
        .filter(|(k, _)| *k != "RecordingSid")
        .collect();
    assert_twiml(&srv.post(ALERT_SMS, &without), &response(vec![]));
    assert_quiet(&srv, &media, "bad RecordingSid");
    assert_worker_alive_and_only_control_fetched(&srv, &media);
}

/// One SMS, one email (with the caller), one stored object; media fetched once; queue empty.
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
    // The port the server was reached on is part of the URL.
    let here = format!("127.0.0.1:{}", srv.port);
    assert_eq!(ok(&here, None, &format!("http://{here}/ivr/hangup")), 200);
    assert_eq!(ok(&here, None, "http://127.0.0.1/ivr/hangup"), 403);
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
    // Other ports are never implied.
    assert_eq!(ok(h, None, "http://ivr.example.com:8080/ivr/hangup"), 403);
    assert_eq!(ok(h, None, "http://ivr.example.com:443/ivr/hangup"), 403);
    assert_eq!(
        ok(
            "ivr.example.com:8443",
            Some("https"),
            "https://ivr.example.com/ivr/hangup"
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
    // A signed server does not warn.
    let signed = Server::fixture();
    signed.get_unsigned("/ping").assert_status(200);
    std::thread::sleep(std::time::Duration::from_millis(200));
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
