//! Properties of the flow under hostile input, checked with proptest on a
//! bounded number of cases (seconds, not minutes):
//!
//! - whatever numbers or text Twilio's parameters carry, on every route of
//!   every section, the flow never panics and answers well-formed TwiML;
//! - every config that validation accepts renders well-formed TwiML on
//!   every route.

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use shared::config::Config;
use shared::flow::{respond, Call, Params};
use shared::routes::{AgentStep, Route};
use shared::twiml::{is_xml_illegal, parse};

const REPO: &str = include_str!("../../config.ini");
const FIXTURE: &str = include_str!("../../tests/fixtures/twilio-aws-ivr.config.ini");

fn now(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_764_000_000 + seconds.rem_euclid(14 * 86_400), 0).unwrap()
}

/// Every route the config can be asked, each section's own included.
fn routes(config: &Config) -> Vec<Route> {
    let mut out = vec![
        Route::Welcome,
        Route::Hangup,
        Route::Menu,
        Route::ForwardStatus,
        Route::VoicemailHangup,
        Route::RecordingStatus,
        Route::QueueWait,
        Route::QueueResult,
        Route::Action("no-such-action".into()),
        Route::MenuOption("#".into()),
    ];
    out.extend((0..10).map(|d| Route::MenuOption(d.to_string())));
    out.extend(config.actions.keys().map(|a| Route::Action(a.clone())));
    for line in config
        .agent_lines
        .keys()
        .map(String::as_str)
        .chain(["nobody"])
    {
        for step in [AgentStep::Answer, AgentStep::Next, AgentStep::Announce] {
            out.push(Route::Agent {
                line: line.to_string(),
                step,
            });
        }
    }
    out
}

/// The sections a callback may name, and a few it may not.
fn sections(config: &Config) -> Vec<String> {
    let mut out: Vec<String> = config.actions.keys().cloned().collect();
    out.extend(config.agent_lines.values().map(|l| l.section.clone()));
    out.extend(config.menus.keys().cloned());
    out.extend(["".into(), "agent_line_".into(), "nope".into()]);
    out
}

/// Rendered and read back: parses, has a `<Response>` root, and carries no
/// character XML 1.0 forbids.
fn assert_well_formed(xml: &str, what: &str) {
    if let Some(c) = xml.chars().find(|c| is_xml_illegal(*c)) {
        panic!("{what}: U+{:04X} in {xml}", u32::from(c));
    }
    match parse(xml) {
        Ok(root) => assert_eq!(root.name, "Response", "{what}: {xml}"),
        Err(e) => panic!("{what}: {e} in {xml}"),
    }
}

fn answer_everything(config: &Config, params: &[(String, String)], at: DateTime<Utc>) {
    let params = Params::from_pairs(params);
    let call = Call {
        base: "https://ivr.example/api",
        params: &params,
        now: at,
    };
    for route in routes(config) {
        let reply = respond(config, &route, &call);
        assert_well_formed(&reply.twiml.render(), &format!("{route:?} {params:?}"));
    }
}

/// A number as Twilio might send it, or as an attacker would.
fn number_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u32>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        (4_294_967_200u64..=4_294_967_300).prop_map(|n| n.to_string()),
        "[0-9]{20,40}",
        "-?[0-9]{0,3}\\.[0-9]{0,3}",
        any::<String>(),
    ]
}

/// Any text, including controls, markup and the odd huge value.
fn text_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[<>&\"'\\x00-\\x1f\u{fffe}]{0,20}",
        Just("x".repeat(70_000)),
        Just("<script>alert(1)</script>".to_string()),
    ]
}

const NUMERIC: &[&str] = &[
    "QueuePosition",
    "QueueTime",
    "AvgQueueTime",
    "CurrentQueueSize",
    "RecordingDuration",
    "DialCallDuration",
    "loop_count",
    "Digits",
];
const TEXTUAL: &[&str] = &[
    "DialCallStatus",
    "DialBridged",
    "QueueResult",
    "RecordingStatus",
    "RecordingSid",
    "RecordingUrl",
    "CallSid",
    "AccountSid",
    "From",
    "To",
    "TranscriptionStatus",
    "TranscriptionText",
    "menu",
];

fn hostile_params(config: &Config) -> impl Strategy<Value = Vec<(String, String)>> {
    let sections = sections(config);
    (
        proptest::collection::vec(number_like(), NUMERIC.len()),
        proptest::collection::vec(text_like(), TEXTUAL.len()),
        proptest::sample::select(sections),
        proptest::collection::vec(any::<bool>(), NUMERIC.len() + TEXTUAL.len()),
    )
        .prop_map(|(numbers, texts, section, present)| {
            let mut p = vec![("initiated_by_section".to_string(), section)];
            let names = NUMERIC.iter().chain(TEXTUAL);
            let values = numbers.into_iter().chain(texts);
            for ((name, value), keep) in names.zip(values).zip(present) {
                if keep {
                    p.push((name.to_string(), value));
                }
            }
            p
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn hostile_parameters_get_well_formed_twiml_on_every_route(
        params in hostile_params(&Config::parse(REPO).unwrap().config),
        at in any::<i64>(),
    ) {
        let config = Config::parse(REPO).unwrap().config;
        answer_everything(&config, &params, now(at));
    }

    #[test]
    fn the_twilio_aws_ivr_sample_answers_hostile_parameters(
        params in hostile_params(&Config::parse(FIXTURE).unwrap().config),
        at in any::<i64>(),
    ) {
        let config = Config::parse(FIXTURE).unwrap().config;
        answer_everything(&config, &params, now(at));
    }

    /// Replaces values in the repository's config with hostile text; every
    /// variant that validation accepts must render well-formed TwiML.
    #[test]
    fn every_accepted_config_renders_well_formed_twiml(
        edits in proptest::collection::vec((any::<proptest::sample::Index>(), text_like()), 1..4),
    ) {
        let lines: Vec<&str> = REPO.lines().collect();
        let values: Vec<usize> = (0..lines.len())
            .filter(|&i| {
                let l = lines[i].trim_start();
                !l.starts_with(['#', ';', '[']) && l.contains('=')
            })
            .collect();
        let mut edited: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        for (index, text) in &edits {
            let i = values[index.index(values.len())];
            let key = edited[i].split('=').next().unwrap_or("").to_string();
            // One line per value: a newline would only start another key.
            edited[i] = format!("{key}= {}", text.replace(['\n', '\r'], " "));
        }
        let text = edited.join("\n");
        if let Ok(loaded) = Config::parse(&text) {
            let params = vec![
                ("From".to_string(), "+447700900123".to_string()),
                ("To".to_string(), "+442079460100".to_string()),
                ("CallSid".to_string(), format!("CA{}", "a".repeat(32))),
            ];
            answer_everything(&loaded.config, &params, now(0));
        }
    }
}
