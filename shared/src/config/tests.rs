//! Config loading: the fixture and the repository's config load, and every
//! class of mistake is reported with its line, section and key.

use super::*;
use crate::hours::TimeRange;

const FIXTURE: &str = include_str!("../../../tests/fixtures/twilio-aws-ivr.config.ini");
const REPO: &str = include_str!("../../../config.ini");

const MINIMAL: &str = "[ivr]\ntimezone = Europe/London\n[ivr_menu]\nsay = Press 1.\n[ivr_menu_option_1]\naction = bye\n[action_bye]\ntype = hangup\n";

fn errors(text: &str) -> Vec<Diagnostic> {
    match Config::parse(text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e,
    }
}

/// Asserts one error at `line` whose rendering contains every fragment.
fn assert_error(text: &str, line: usize, fragments: &[&str]) {
    let errs = errors(text);
    let rendered: Vec<String> = errs.iter().map(|d| d.render("config.ini")).collect();
    let hit = errs
        .iter()
        .zip(&rendered)
        .any(|(d, r)| d.line == line && fragments.iter().all(|f| r.contains(f)));
    assert!(
        hit,
        "no error on line {line} with {fragments:?} in {rendered:#?}"
    );
}

#[test]
fn fixture_loads_unchanged_with_its_meaning() {
    let loaded = Config::parse(FIXTURE).expect("fixture must load");
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let c = loaded.config;
    assert_eq!(c.ivr.timezone, chrono_tz::Europe::London);
    assert_eq!(c.twilio.account_sid, None);
    assert_eq!(c.aws.ping_frequency_minutes, 5);
    assert!(c.aws.debug);
    assert_eq!(c.main_menu.pause, 3);
    assert_eq!(c.main_menu.no_input_max_loops, Some(1));
    assert_eq!(c.main_menu.options.len(), 10);
    assert_eq!(c.main_menu.options[&'3'].action, "forward_example");
    let fwd = match &c.actions["forward_example"].kind {
        ActionKind::Forward(f) => f.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(fwd.phone_number, "+442079460000");
    assert_eq!(fwd.action_on_busy, "voicemail_example");
    match &c.actions["voicemail_example"].kind {
        ActionKind::Voicemail(v) => {
            assert_eq!((v.timeout, v.max_length), (5, 300));
            assert_eq!(v.alert_sms_to.as_deref(), Some("+447700900001"));
        }
        other => panic!("{other:?}"),
    }
    match &c.actions["back_to_menu"].kind {
        ActionKind::Redirect(r) => {
            assert_eq!(r.path, "/ivr/menu");
            assert_eq!(r.target, Node::Menu(None));
        }
        other => panic!("{other:?}"),
    }
    // Blank days are closed all day, as in twilio-aws-ivr.
    assert!(c.hours["open_weekdays_only"].day(5).is_empty());
    assert_eq!(
        c.hours["open_mornings_only"].day(0),
        &[TimeRange::new(0, 719).unwrap()][..]
    );
}

#[test]
fn repository_config_demonstrates_every_feature() {
    let loaded = Config::parse(REPO).unwrap_or_else(|e| panic!("{e:#?}"));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let c = loaded.config;
    assert!(c.ivr.voice.is_some() && c.ivr.language.is_some());
    assert!(matches!(c.welcome.audio, Some(Audio::Say(_))));
    assert!(c.welcome.gate.is_some());
    assert!(c.main_menu.invalid.is_some() && c.main_menu.no_input.is_some());
    assert!(!c.menus.is_empty(), "a sub-menu");
    let kinds: Vec<&str> = c.actions.values().map(|a| a.kind.type_name()).collect();
    for k in [
        "forward",
        "hangup",
        "redirect",
        "voicemail",
        "menu",
        "queue",
    ] {
        assert!(kinds.contains(&k), "no {k} action");
    }
    assert!(c.actions.values().any(|a| matches!(&a.kind, ActionKind::Queue(q) if q.long_wait.is_some() && q.after_call_sms.is_some() && a.gate.is_some())));
    assert!(
        c.agent_lines.values().any(|l| l.record && l.hangup_on_star),
        "a recorded agent line"
    );
    assert!(c.actions.values().any(|a| matches!(&a.kind, ActionKind::Forward(f) if f.record && f.timeout.is_some() && f.caller_id.is_some())));
    assert!(c.actions.values().any(
        |a| matches!(&a.kind, ActionKind::Voicemail(v) if matches!(v.hangup, Some(Audio::Say(_))))
    ));
    let all_ranges: Vec<TimeRange> = c
        .hours
        .values()
        .flat_map(|h| (0..7).flat_map(|d| h.day(d).to_vec()))
        .collect();
    assert!(
        all_ranges.iter().any(|r| r.is_overnight()),
        "an overnight range"
    );
    assert!(
        c.hours.values().any(|h| (0..7).any(|d| h.day(d).len() > 1)),
        "several ranges a day"
    );
    assert!(
        c.hours
            .values()
            .any(|h| (0..7).any(|d| h.day(d) == [TimeRange::ALL_DAY])),
        "open all day"
    );
    assert!(
        c.hours.values().any(|h| !h.closed_on().is_empty()),
        "closed_on"
    );
    assert!(
        c.hours
            .values()
            .any(|h| (0..7).any(|d| h.day(d).is_empty())),
        "closed all day"
    );
}

#[test]
fn minimal_config_and_embedded_default_load() {
    Config::parse(MINIMAL).unwrap();
    Config::parse(REPO).unwrap();
}

#[test]
fn percent_in_values_is_literal() {
    let text = MINIMAL.replace(
        "say = Press 1.",
        "play_sample = https://x.example/Press%201%25.mp3",
    );
    let c = Config::parse(&text).unwrap().config;
    assert_eq!(
        c.main_menu.audio,
        Audio::Play("https://x.example/Press%201%25.mp3".into())
    );
}

#[test]
fn unknown_section_with_suggestion() {
    assert_error(
        &format!("{MINIMAL}[ivr_welcom]\nsay = hi\n"),
        9,
        &["[ivr_welcom]", "unknown section", "ivr_welcome"],
    );
    assert_error(
        &format!("{MINIMAL}[ivr_menu_option_10]\naction = bye\n"),
        9,
        &["single digits"],
    );
}

#[test]
fn unknown_key_with_suggestion() {
    let text = MINIMAL.replace(
        "type = hangup",
        "type = hangup\npaly_sample = https://x/y.mp3",
    );
    assert_error(
        &text,
        9,
        &["[action_bye] paly_sample:", "did you mean `play_sample`"],
    );
}

#[test]
fn key_of_another_action_type_is_unknown() {
    let text = MINIMAL.replace(
        "type = hangup",
        "type = hangup\nphone_number = +441234567890",
    );
    assert_error(
        &text,
        9,
        &["phone_number", "unknown key for a hangup action"],
    );
}

#[test]
fn missing_mandatory_keys() {
    assert_error("[ivr_menu]\nsay = x\n", 0, &["[ivr]", "timezone"]);
    assert_error("[ivr]\ntimezone = UTC\n", 0, &["[ivr_menu]"]);
    assert_error(
        &MINIMAL.replace("type = hangup", ""),
        7,
        &["[action_bye] type: is required"],
    );
    assert_error(
        &format!("{MINIMAL}[action_f]\ntype = forward\nphone_number = +442079460000\n"),
        9,
        &["action_on_busy: is required"],
    );
    assert_error(
        &format!("{MINIMAL}[action_r]\ntype = redirect\n"),
        9,
        &["path: is required"],
    );
    assert_error(
        &MINIMAL.replace("say = Press 1.", "pause = 2"),
        3,
        &["needs a prompt"],
    );
    assert_error(
        &MINIMAL.replace("action = bye", ""),
        5,
        &["action: is required"],
    );
}

#[test]
fn references_that_do_not_exist() {
    assert_error(
        &MINIMAL.replace("action = bye", "action = by"),
        6,
        &["no section [action_by]", "did you mean `bye`"],
    );
    let text = MINIMAL.replace(
        "type = hangup",
        "type = hangup\nhours = office\nhours_action_on_closed = bye",
    );
    assert_error(
        &text,
        9,
        &["[action_bye] hours:", "no section [hours_office]"],
    );
    assert_error(
        &format!("{MINIMAL}[action_m]\ntype = menu\nmenu = sales\n"),
        11,
        &["no section [menu_sales]"],
    );
    assert_error(
        &format!("{MINIMAL}[menu_x_option_1]\naction = bye\n"),
        9,
        &["no section [menu_x]"],
    );
    let text = MINIMAL.replace("type = hangup", "type = hangup\nhours = h");
    assert_error(
        &format!("{text}[hours_h]\nmon = open\n"),
        7,
        &["hours_action_on_closed: is required"],
    );
}

#[test]
fn malformed_times_and_ranges() {
    let base = format!("{MINIMAL}[hours_h]\n");
    assert_error(
        &format!("{base}mon = 9-17\n"),
        10,
        &["[hours_h] mon:", "HHMM-HHMM"],
    );
    assert_error(&format!("{base}tue = 0900-2500\n"), 10, &["tue:", "2500"]);
    assert_error(
        &format!("{base}closed_on = 02-30\n"),
        10,
        &["closed_on:", "02-30"],
    );
    assert_error(&format!("{base}mon = 0900-1200,\n"), 10, &["mon:"]);
}

#[test]
fn phone_numbers_must_be_e164() {
    let text = format!(
        "{MINIMAL}[action_f]\ntype = forward\nphone_number = 02079460000\naction_on_busy = bye\naction_on_no_answer = bye\naction_on_failed = bye\naction_on_canceled = bye\ncaller_id = +44 20\n"
    );
    assert_error(&text, 11, &["phone_number:", "E.164"]);
    assert_error(&text, 16, &["caller_id:", "E.164"]);
    let vm = format!(
        "{MINIMAL}[action_v]\ntype = voicemail\nvoicemail_alert_sms_from = +447700900000\n"
    );
    assert_error(&vm, 9, &["voicemail_alert_sms_to: is required"]);
}

#[test]
fn urls_must_be_http() {
    let text = MINIMAL.replace("say = Press 1.", "play_sample = ftp://x/menu.mp3");
    assert_error(&text, 4, &["[ivr_menu] play_sample:", "not an http(s) URL"]);
    let both = MINIMAL.replace(
        "say = Press 1.",
        "say = Press 1.\nplay_sample = https://x/m.mp3",
    );
    assert_error(&both, 4, &["either `play_sample` or `say`"]);
}

#[test]
fn redirect_path_must_be_a_route() {
    let r = |p: &str| {
        format!(
            "{MINIMAL}[action_r]\ntype = redirect\npath = {p}\n[ivr_menu_option_2]\naction = r\n"
        )
    };
    assert_error(&r("/ivr/nowhere"), 11, &["[action_r] path:", "is no route"]);
    assert_error(&r("ivr/menu"), 11, &["starting with `/`"]);
    assert_error(
        &r("/ivr/action/byee"),
        11,
        &["no section [action_byee]", "did you mean `bye`"],
    );
    assert_error(&r("/ivr/menu/7"), 11, &["has no option 7"]);
    assert_error(&r("/ivr/menu?menu=x"), 11, &["no section [menu_x]"]);
    Config::parse(&r("/ivr/menu/1")).unwrap();
    Config::parse(&r("/ivr/hangup")).unwrap();
}

#[test]
fn unknown_timezone_with_suggestion() {
    assert_error(
        &MINIMAL.replace("Europe/London", "Europe/Londn"),
        2,
        &["unknown timezone", "Europe/London"],
    );
}

#[test]
fn out_of_range_numbers() {
    assert_error(
        &MINIMAL.replace("say = Press 1.", "say = Press 1.\npause = 99"),
        5,
        &["pause:", "out of range"],
    );
    assert_error(
        &MINIMAL.replace(
            "say = Press 1.",
            "say = Press 1.\nno_input_max_loops = many",
        ),
        5,
        &["not a whole number"],
    );
    assert_error(
        &format!("{MINIMAL}[aws]\nlambda_ping_frequency_minutes = 61\n"),
        10,
        &["out of range (0-60)"],
    );
    let vm = format!("{MINIMAL}[action_v]\ntype = voicemail\nvoicemail_max_length = 0\n");
    assert_error(&vm, 11, &["voicemail_max_length:", "out of range"]);
}

#[test]
fn redirect_cycles_that_never_reach_caller_input() {
    let text = format!(
        "{MINIMAL}[action_a]\ntype = redirect\npath = /ivr/action/b\n[action_b]\ntype = redirect\npath = /ivr/action/a\n[ivr_menu_option_2]\naction = a\n"
    );
    assert_error(
        &text,
        9,
        &["redirect cycle", "[action_a] → [action_b] → [action_a]"],
    );
    // A cycle through a menu waits for the caller: fine.
    let ok = format!(
        "{MINIMAL}[action_a]\ntype = redirect\npath = /ivr/menu\n[ivr_menu_option_2]\naction = a\n"
    );
    Config::parse(&ok).unwrap();
    // Through hours: closed → itself never waits.
    let gate = MINIMAL.replace(
        "type = hangup",
        "type = hangup\nhours = h\nhours_action_on_closed = bye",
    );
    assert_error(
        &format!("{gate}[hours_h]\nmon = open\n"),
        7,
        &["redirect cycle", "[action_bye] → [action_bye]"],
    );
}

#[test]
fn unreachable_sections_are_warnings() {
    let text = format!("{MINIMAL}[action_lonely]\ntype = hangup\n[hours_unused]\nmon = open\n");
    let loaded = Config::parse(&text).unwrap();
    let rendered: Vec<String> = loaded.warnings.iter().map(|d| d.render("c.ini")).collect();
    assert!(rendered.contains(&"c.ini:9: warning: [action_lonely] never reached: no menu, option or action leads here".to_string()), "{rendered:?}");
    assert!(
        rendered
            .iter()
            .any(|r| r.starts_with("c.ini:11: warning: [hours_unused]")),
        "{rendered:?}"
    );
}

#[test]
fn legacy_ping_endpoint_is_accepted_and_reported() {
    let text = format!("{MINIMAL}[aws]\nlambda_ping_endpoint = https://x.execute-api.eu-west-2.amazonaws.com/api/ping\nlambda_ping_frequency_minutes = 5\n");
    let loaded = Config::parse(&text).unwrap();
    assert!(loaded
        .warnings
        .iter()
        .any(|w| w.key.as_deref() == Some("lambda_ping_endpoint")));
}

#[test]
fn bad_account_sid_and_syntax_errors_have_lines() {
    assert_error(
        &format!("{MINIMAL}[twilio]\naccount_sid = AC123\n"),
        10,
        &["[twilio] account_sid:", "AC followed by 32 hex"],
    );
    assert_error(
        &format!("{MINIMAL}[ivr]\ntimezone = UTC\n"),
        9,
        &["section defined twice"],
    );
    assert_error(
        &format!("{MINIMAL}just words\n"),
        9,
        &["expected `key = value`"],
    );
}

/// A config with one section of every kind, each valid on its own, that the
/// README test below changes one documented key at a time.
const EVERY_KIND: &str = "\
[twilio]
[aws]
[ivr]
timezone = Europe/London
[ivr_welcome]
say = Hello.
[ivr_menu]
say = Press a key.
[ivr_menu_option_1]
action = t_forward
[ivr_menu_option_2]
action = t_redirect
[ivr_menu_option_3]
action = t_menu
[ivr_menu_option_4]
action = t_queue
[ivr_menu_option_5]
action = sales
[menu_support]
say = Support.
[menu_support_option_1]
action = t_hangup
[action_t_forward]
type = forward
phone_number = +442079460000
action_on_busy = t_voicemail
action_on_no_answer = t_voicemail
action_on_failed = t_voicemail
action_on_canceled = t_voicemail
record = yes
[action_t_voicemail]
type = voicemail
voicemail_alert_email_to = office@example.com
[action_t_redirect]
type = redirect
path = /ivr/menu
[action_t_hangup]
type = hangup
[action_t_menu]
type = menu
menu = support
[action_t_queue]
type = queue
queue = ask-the-plumber
[agent_line_dj]
queue = ask-the-plumber
agents = +447700900010
record = yes
[action_goodbye]
type = hangup
[action_sales]
type = hangup
[action_voicemail]
type = voicemail
[action_callin_voicemail]
type = voicemail
[hours_office]
mon = 0900-1700
[hours_t]
";

/// The section of [`EVERY_KIND`] a README heading documents.
fn documented_section(heading: &str) -> Option<&'static str> {
    let code = heading.split('`').nth(1)?;
    Some(match code {
        "[twilio]" => "twilio",
        "[aws]" => "aws",
        "[ivr]" => "ivr",
        "[ivr_welcome]" => "ivr_welcome",
        "[ivr_menu]" => "ivr_menu",
        "[ivr_menu_option_N]" => "ivr_menu_option_1",
        "[hours_NAME]" => "hours_t",
        "[agent_line_NAME]" => "agent_line_dj",
        "type = forward" => "action_t_forward",
        "type = voicemail" => "action_t_voicemail",
        "type = redirect" => "action_t_redirect",
        "type = hangup" => "action_t_hangup",
        "type = menu" => "action_t_menu",
        "type = queue" => "action_t_queue",
        _ => return None,
    })
}

/// Keys that only make sense with a partner, and the partner's value.
fn companions(key: &str) -> &'static [(&'static str, &'static str)] {
    match key {
        "hours" => &[("hours_action_on_closed", "goodbye")],
        "hours_action_on_closed" => &[("hours", "office")],
        "no_input_action_on_max_loops" => &[("no_input_max_loops", "3")],
        "long_wait_sample" | "long_wait_say" => &[
            ("long_wait_seconds", "300"),
            ("long_wait_action", "goodbye"),
        ],
        "callback_key" | "callback_sample" | "callback_say" => &[("callback", "yes")],
        _ => &[],
    }
}

/// `EVERY_KIND` with `pairs` set in `section` (replacing what it had).
fn with_keys(section: &str, pairs: &[(String, String)]) -> String {
    let mut out = String::new();
    let mut current = String::new();
    let flush = |out: &mut String, current: &str| {
        if current == section {
            for (k, v) in pairs {
                out.push_str(&format!("{k} = {v}\n"));
            }
        }
    };
    for line in EVERY_KIND.lines() {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            flush(&mut out, &current);
            current = name.to_string();
        } else if current == section {
            let key = line.split('=').next().unwrap_or("").trim();
            if pairs.iter().any(|(k, _)| k == key) {
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    flush(&mut out, &current);
    out
}

/// Every key in the README's configuration tables, with the example the
/// table gives, is accepted by validation: the docs and the validator
/// cannot drift apart (they did: `[aws] ses_sender` was documented and refused).
#[test]
fn every_key_the_readme_documents_is_accepted_with_its_example() {
    assert!(
        Config::parse(EVERY_KIND).is_ok(),
        "{:#?}",
        Config::parse(EVERY_KIND).err()
    );
    let readme = include_str!("../../../README.md");
    let mut section: Option<&str> = None;
    let mut checked = 0;
    for line in readme.lines() {
        if line.starts_with("## ") {
            section = None;
        }
        if line.starts_with("### ") || line.starts_with("**`type = ") {
            section = documented_section(line);
            continue;
        }
        let Some(sec) = section else { continue };
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() != 5 || !cells[1].starts_with('`') {
            continue;
        }
        let keys: Vec<&str> = cells[1].split('`').skip(1).step_by(2).collect();
        let example = cells[3].replace("*(empty)*", "");
        let values: Vec<&str> = example.split('`').skip(1).step_by(2).collect();
        // `key = value` examples name their key; bare ones go to the row's keys.
        let mut pairs: Vec<(String, String)> = Vec::new();
        if let Some((k, v)) = values.first().and_then(|v| v.split_once(" = ")) {
            pairs.push((k.trim().to_string(), v.trim().to_string()));
        } else if cells[1].contains(" / ") {
            let v = values.first().copied().unwrap_or("");
            let key = if v.starts_with("http") {
                keys[0]
            } else {
                keys[1]
            };
            let v = if v.is_empty() && key.ends_with("_sample") {
                "https://example.com/a.mp3"
            } else if v.is_empty() {
                "Hello."
            } else {
                v
            };
            pairs.push((key.to_string(), v.to_string()));
        } else if values.len() == keys.len() {
            pairs.extend(
                keys.iter()
                    .zip(&values)
                    .map(|(k, v)| (k.to_string(), v.to_string())),
            );
        } else if let [v] = values[..] {
            pairs.extend(keys.iter().map(|k| (k.to_string(), v.to_string())));
        } else {
            // No example: the key must still be known.
            pairs.extend(keys.iter().map(|k| (k.to_string(), String::new())));
        }
        if keys.contains(&"mon") && keys.contains(&"sun") {
            let v = pairs[0].1.clone();
            pairs = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
                .iter()
                .map(|d| (d.to_string(), v.clone()))
                .collect();
        }
        let named: Vec<String> = pairs.iter().map(|(k, _)| k.clone()).collect();
        for k in &named {
            for (ck, cv) in companions(k) {
                if !pairs.iter().any(|(k, _)| k == ck) {
                    pairs.push((ck.to_string(), cv.to_string()));
                }
            }
        }
        let text = with_keys(sec, &pairs);
        if let Err(errs) = Config::parse(&text) {
            let rendered: Vec<String> = errs.iter().map(|d| d.render("README")).collect();
            panic!("[{sec}] {pairs:?} as the README documents it is refused:\n{rendered:#?}");
        }
        checked += 1;
    }
    assert!(
        checked >= 50,
        "only {checked} documented keys found: did the README's tables move?"
    );
}

#[test]
fn aws_keys_the_readme_documents_are_read() {
    let text = MINIMAL.replace(
        "[ivr]",
        "[aws]\nses_sender = ivr@example.com\nkeep_twilio_copy = yes\nrecording_link_expiry_hours = 24\n[ivr]",
    );
    let c = Config::parse(&text)
        .expect("documented [aws] keys load")
        .config;
    assert_eq!(c.aws.ses_sender.as_deref(), Some("ivr@example.com"));
    assert!(c.aws.keep_twilio_copy);
    assert_eq!(c.aws.recording_link_expiry_hours, 24);
}

/// What an adversarial run found `ivr check` accepting, though the server
/// then wrote TwiML that is not well-formed XML, or Twilio cannot speak.
#[test]
fn text_twiml_cannot_carry_or_twilio_cannot_speak_is_refused() {
    for (bad, what) in [
        ("Hello\u{0}there", "U+0000"),
        ("Hello\u{1b}there", "U+001B"),
        ("Hello\u{fffe}", "U+FFFE"),
    ] {
        let text = MINIMAL.replace("say = Press 1.", &format!("say = {bad}"));
        assert_error(&text, 4, &["[ivr_menu] say:", what, "cannot carry"]);
    }
    let long = "word ".repeat(700); // 3,499 characters once folded
    let text = MINIMAL.replace("say = Press 1.", &format!("say = {long}"));
    assert!(Config::parse(&text).is_ok(), "4,096 with the basic voices");
    let polly = text.replace("[ivr]\n", "[ivr]\nvoice = Polly.Amy\n");
    assert_error(
        &polly,
        5,
        &["[ivr_menu] say:", "3499 characters", "at most 3000"],
    );
    let longer = MINIMAL.replace("say = Press 1.", &format!("say = {}", "word ".repeat(900)));
    assert_error(&longer, 4, &["at most 4096"]);
}

#[test]
fn urls_need_a_real_host() {
    for bad in [
        "http://@/a.mp3",
        "http://[[[::::]]]/a.mp3",
        "http://example.com:99999/a.mp3",
    ] {
        let text = MINIMAL.replace("say = Press 1.", &format!("play_sample = {bad}"));
        assert_error(&text, 4, &["play_sample", "is not an http(s) URL"]);
    }
}

#[test]
fn huge_names_are_refused_quickly() {
    let name = "x".repeat(1 << 20);
    let text = format!("{MINIMAL}[action_{name}]\ntype = hangup\n");
    let errs = errors(&text);
    assert!(
        errs.iter()
            .any(|d| d.line == 9 && d.message.contains("names are at most 100")),
        "{errs:?}"
    );
}

/// A chain of 30,000 redirects overflowed the stack of a debug build
/// (recursive search); the graph searches are iterative now.
#[test]
fn a_long_redirect_chain_is_checked() {
    let n = 30_000;
    let mut text = MINIMAL.replace("action = bye", "action = a0");
    for i in 0..n {
        text.push_str(&format!(
            "[action_a{i}]\ntype = redirect\npath = /ivr/action/a{}\n",
            i + 1
        ));
    }
    text.push_str(&format!("[action_a{n}]\ntype = hangup\n"));
    let loaded = Config::parse(&text).expect("a chain is no cycle");
    assert_eq!(loaded.config.actions.len(), n + 2);
    let cyclic = text.replace(
        &format!("[action_a{n}]\ntype = hangup"),
        &format!("[action_a{n}]\ntype = redirect\npath = /ivr/action/a0"),
    );
    let errs = errors(&cyclic);
    assert!(
        errs.iter().any(|d| d.message.contains("redirect cycle")),
        "{:?}",
        &errs[..1]
    );
}
