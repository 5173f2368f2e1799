//! Twilio's own error reports: the Console Debugger's webhook
//! (`POST /twilio/alerts`, [`crate::routes::Route::TwilioAlerts`]).
//!
//! When Twilio cannot fetch or use our TwiML (errors 11200, 12100, …) or a
//! call or message fails on its side (13227, 21610, 30003, …), the caller
//! hears "an application error has occurred" or the SMS never arrives, and
//! nothing on our side notices. With the Debugger webhook pointed here,
//! every error and warning Twilio records is one JSON log line (message
//! `twilio alert`) with the code, what it means in words, the URL that
//! failed and the call it happened on; the template counts the errors by
//! code (a metric filter on these lines) and alarms on them.
//!
//! The notification is a signed form post (checked by the web layer like
//! every webhook): `Sid`, `AccountSid`, `Level` (`Error` or `Warning`),
//! `Timestamp`, `PayloadType` (`application/json`) and `Payload`, a JSON
//! document with `error_code`, `resource_sid`, `more_info` (`Msg`, `url`,
//! …) and `webhook` (`request` with `url` and `parameters`, `response`).
//! Whatever arrives, the answer is an empty `<Response/>`: a notification
//! we cannot read is logged with the problem, never answered with a 5xx
//! (Twilio would only report that as another error).
//!
//! Pure, like the flow: reading the notification is [`parse`]; logging it
//! is [`respond`]. Nothing here does I/O beyond the log line.

use serde_json::Value;

use crate::answer::{Answer, Params, Reply};
use crate::ids::is_sid;
use crate::twiml::Response;

/// The `code` logged when the notification carries no readable error code.
pub const UNKNOWN_CODE: &str = "unknown";

/// Longest text taken from a notification into a log line (characters).
const MAX_TEXT: usize = 512;

/// How severe Twilio says the event is (`Level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
    /// Anything else (Twilio documents only the two above).
    Other,
}

impl Level {
    fn parse(s: &str) -> Option<Level> {
        match s.trim().to_ascii_lowercase().as_str() {
            "error" => Some(Level::Error),
            "warning" | "warn" => Some(Level::Warning),
            "" => None,
            _ => Some(Level::Other),
        }
    }

    /// Lower case, as logged (`alert_level`) and counted (`Level` dimension).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Other => "other",
        }
    }
}

/// One Debugger notification, as far as it could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// `Sid`: the Debugger event (`NO…`).
    pub sid: Option<String>,
    pub level: Level,
    /// `Timestamp`: when it happened at Twilio.
    pub timestamp: Option<String>,
    /// The error code: ASCII digits only (it becomes a metric dimension).
    pub code: Option<String>,
    /// Twilio's own words (`more_info.Msg`).
    pub detail: Option<String>,
    /// The URL Twilio failed on (`webhook.request.url`, else `more_info.url`).
    pub url: Option<String>,
    /// The call it happened on (`CallSid` of the failed request, else a `CA…` resource).
    pub call_sid: Option<String>,
    /// `resource_sid`: the call, message or recording concerned.
    pub resource_sid: Option<String>,
    /// Why (part of) the notification could not be read.
    pub problem: Option<&'static str>,
}

impl Alert {
    /// The code, or [`UNKNOWN_CODE`].
    pub fn code_or_unknown(&self) -> &str {
        self.code.as_deref().unwrap_or(UNKNOWN_CODE)
    }

    /// What the code means, in words.
    pub fn meaning(&self) -> &'static str {
        match &self.code {
            Some(code) => meaning(code).unwrap_or(
                "a code this IVR has no description for: see Twilio's error dictionary (docs)",
            ),
            None => "no error code in the notification",
        }
    }

    /// The page of Twilio's error dictionary for the code.
    pub fn docs(&self) -> Option<String> {
        self.code
            .as_ref()
            .map(|c| format!("https://www.twilio.com/docs/api/errors/{c}"))
    }
}

/// The common voice and messaging codes: what each means for this IVR.
/// Sorted by code (a test checks).
pub const CODES: &[(&str, &str)] = &[
    ("11100", "invalid URL format: a webhook URL Twilio was given is not a valid URL"),
    ("11200", "HTTP retrieval failure: Twilio could not fetch a webhook (timeout, refused connection or a non-2xx answer); the caller heard \"an application error has occurred\""),
    ("11205", "HTTP connection failure: Twilio could not connect to the webhook's server"),
    ("11206", "HTTP protocol violation: the webhook's server did not answer with valid HTTP"),
    ("11210", "HTTP bad host name: the webhook URL's host name does not resolve (DNS)"),
    ("11215", "HTTP too many redirects: the webhook URL redirects too often"),
    ("11220", "TLS handshake error: Twilio could not set up HTTPS with the webhook's server (certificate or protocol)"),
    ("11750", "TwiML response body too large: the webhook answered more than Twilio accepts"),
    ("12100", "document parse failure: the webhook's answer is not well-formed XML, so not TwiML"),
    ("12200", "schema validation warning: the TwiML has a verb, noun or attribute Twilio does not know"),
    ("12300", "invalid Content-Type: the webhook answered with a content type Twilio does not accept for TwiML"),
    ("13214", "Dial: invalid callerId: the forward's caller_id is not a number this account may show"),
    ("13223", "Dial: invalid phone number format"),
    ("13224", "Dial: Twilio does not support calling this number, or the number is invalid"),
    ("13225", "Dial: forbidden phone number (a premium-rate or blocked destination)"),
    ("13227", "Dial: no international authorization: the account's Voice geographic permissions do not allow calling this country"),
    ("15003", "call progress: a status callback URL answered with an error status"),
    ("20003", "authentication failed: the account SID or auth token used for Twilio's REST API is wrong"),
    ("20404", "not found: the REST API resource (a recording, call or message) does not exist (any more)"),
    ("21210", "caller ID not verified: the 'From' number is neither a Twilio number of this account nor a verified caller ID"),
    ("21211", "invalid 'To' phone number"),
    ("21212", "invalid 'From' phone number (the SMS sender or caller ID)"),
    ("21214", "the 'To' phone number cannot be reached"),
    ("21408", "SMS to this region is not enabled: the account's Messaging geographic permissions do not allow it"),
    ("21610", "the recipient has unsubscribed (replied STOP): no SMS reaches it until it replies START"),
    ("21612", "the 'To' phone number cannot receive SMS from this sender"),
    ("21614", "the 'To' number is not a mobile number (a landline cannot receive SMS)"),
    ("30001", "message queue overflow: too many messages queued for this sender"),
    ("30002", "account suspended"),
    ("30003", "unreachable destination handset: the phone is off or out of coverage"),
    ("30004", "message blocked by the recipient or the carrier"),
    ("30005", "unknown destination handset: the number does not exist or is out of service"),
    ("30006", "landline or unreachable carrier: the number cannot receive SMS"),
    ("30007", "carrier violation: the message was filtered (spam or carrier rules)"),
    ("30008", "unknown error: the carrier gave no reason for the failed SMS"),
    ("30034", "message from an unregistered number: US A2P 10DLC registration is missing"),
];

/// What `code` means, if it is in [`CODES`].
pub fn meaning(code: &str) -> Option<&'static str> {
    CODES
        .binary_search_by(|(c, _)| (*c).cmp(code))
        .ok()
        .map(|i| CODES[i].1)
}

/// Reads a Debugger notification. Never fails: what cannot be read is
/// left out, and [`Alert::problem`] says why.
pub fn parse(params: &Params) -> Alert {
    let text = |name: &str| params.get(name).and_then(clean);
    let mut alert = Alert {
        sid: text("Sid"),
        level: Level::Other,
        timestamp: text("Timestamp"),
        code: None,
        detail: None,
        url: None,
        call_sid: None,
        resource_sid: None,
        problem: None,
    };
    let level = params.get("Level").and_then(Level::parse);
    let payload = match params.get("Payload").map(str::trim) {
        None | Some("") => {
            alert.problem = Some("no Payload");
            None
        }
        Some(p) => match serde_json::from_str::<Value>(p) {
            Ok(v) if v.is_object() => Some(v),
            Ok(_) => {
                alert.problem = Some("Payload is not a JSON object");
                None
            }
            Err(_) => {
                alert.problem = Some("Payload is not JSON");
                None
            }
        },
    };
    let Some(p) = payload else {
        alert.level = level.unwrap_or(Level::Other);
        return alert;
    };
    let more = &p["more_info"];
    alert.code = code(&p["error_code"]).or_else(|| code(&more["ErrorCode"]));
    alert.detail = string(&more["Msg"]).or_else(|| string(&more["msg"]));
    let request = &p["webhook"]["request"];
    alert.url = string(&request["url"]).or_else(|| string(&more["url"]));
    alert.resource_sid = string(&p["resource_sid"]);
    alert.call_sid = string(&request["parameters"]["CallSid"])
        .filter(|s| is_sid(s, "CA"))
        .or_else(|| alert.resource_sid.clone().filter(|s| is_sid(s, "CA")));
    alert.level = level
        .or_else(|| string(&more["LogLevel"]).and_then(|l| Level::parse(&l)))
        .unwrap_or(Level::Other);
    if alert.code.is_none() {
        alert.problem = Some("no error_code in the Payload");
    }
    alert
}

/// Answers a Debugger notification: one log line, an empty `<Response/>`.
pub fn respond(a: &Answer) -> Reply {
    let alert = parse(a.call.params);
    log(&alert);
    Reply::new(
        Response::new(),
        format!(
            "twilio {} {}",
            alert.level.as_str(),
            alert.code_or_unknown()
        ),
    )
}

/// The one log line of a notification, at the level Twilio gave it.
pub fn log(alert: &Alert) {
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    let (sid, when, url, call_sid, detail, resource) = (
        s(&alert.sid),
        s(&alert.timestamp),
        s(&alert.url),
        s(&alert.call_sid),
        s(&alert.detail),
        s(&alert.resource_sid),
    );
    let docs = alert.docs().unwrap_or_default();
    let code = alert.code_or_unknown();
    let meaning = alert.meaning();
    let level = alert.level.as_str();
    let problem = alert.problem.unwrap_or("");
    macro_rules! line {
        ($macro:ident) => {
            tracing::$macro!(
                alert_sid = %sid,
                alert_level = level,
                code,
                meaning,
                url = %url,
                call_sid = %call_sid,
                detail = %detail,
                resource_sid = %resource,
                twilio_time = %when,
                docs = %docs,
                problem,
                "twilio alert"
            )
        };
    }
    match alert.level {
        Level::Error => line!(error),
        Level::Warning | Level::Other => line!(warn),
    }
}

/// A string value, trimmed and clipped; `None` when absent, empty or not text.
fn string(v: &Value) -> Option<String> {
    v.as_str().and_then(clean)
}

fn clean(s: &str) -> Option<String> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    Some(match t.char_indices().nth(MAX_TEXT) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None => t.to_string(),
    })
}

/// An error code: a string or number of 1–6 digits. `"32009,Your TwiML…"`
/// (how some `more_info.ErrorCode`s read) gives its leading digits.
fn code(v: &Value) -> Option<String> {
    let raw = match v {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.as_u64()?.to_string(),
        _ => return None,
    };
    let digits: String = raw.chars().take_while(|c| c.is_ascii_digit()).collect();
    let rest = &raw[digits.len()..];
    let ok = (1..=6).contains(&digits.len()) && (rest.is_empty() || rest.starts_with(','));
    ok.then_some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answer::Call;
    use crate::twiml::Response;

    const CALL: &str = "CA0123456789abcdef0123456789abcdef";

    fn payload(code: &str, url: &str, msg: &str) -> String {
        serde_json::json!({
            "resource_sid": CALL,
            "service_sid": null,
            "error_code": code,
            "more_info": {"Msg": msg, "ErrorCode": code, "LogLevel": "ERROR", "url": url},
            "webhook": {
                "type": "application/json",
                "request": {
                    "url": url,
                    "method": "POST",
                    "headers": {},
                    "parameters": {"CallSid": CALL, "From": "+447700900555"}
                },
                "response": {"status_code": 502, "headers": {}, "body": null}
            }
        })
        .to_string()
    }

    fn notification(level: &str, payload: &str) -> Params<'static> {
        Params::from_pairs(&[
            ("Sid", "NO0123456789abcdef0123456789abcdef"),
            ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
            ("Level", level),
            ("Timestamp", "2026-06-17T09:00:00Z"),
            ("PayloadType", "application/json"),
            ("Payload", payload),
        ])
    }

    #[test]
    fn reads_a_retrieval_failure() {
        let url = "https://abc.execute-api.eu-west-2.amazonaws.com/ivr/menu";
        let a = parse(&notification(
            "Error",
            &payload("11200", url, "Bad Gateway"),
        ));
        assert_eq!(a.level, Level::Error);
        assert_eq!(a.code.as_deref(), Some("11200"));
        assert_eq!(a.url.as_deref(), Some(url));
        assert_eq!(a.call_sid.as_deref(), Some(CALL));
        assert_eq!(a.detail.as_deref(), Some("Bad Gateway"));
        assert_eq!(a.sid.as_deref(), Some("NO0123456789abcdef0123456789abcdef"));
        assert_eq!(a.timestamp.as_deref(), Some("2026-06-17T09:00:00Z"));
        assert_eq!(a.problem, None);
        assert!(a.meaning().starts_with("HTTP retrieval failure"));
        assert_eq!(
            a.docs().as_deref(),
            Some("https://www.twilio.com/docs/api/errors/11200")
        );
    }

    #[test]
    fn reads_parse_failures_and_dial_permissions() {
        let a = parse(&notification(
            "Error",
            &payload("12100", "https://x/ivr", ""),
        ));
        assert_eq!(a.code.as_deref(), Some("12100"));
        assert!(a.meaning().contains("not well-formed XML"));
        assert_eq!(a.detail, None);
        let a = parse(&notification(
            "Warning",
            &payload("13227", "https://x/ivr", ""),
        ));
        assert_eq!(a.level, Level::Warning);
        assert!(a.meaning().contains("geographic permissions"));
    }

    #[test]
    fn level_is_case_insensitive_and_falls_back_to_the_payload() {
        let p = payload("11200", "https://x/ivr", "");
        assert_eq!(parse(&notification("ERROR", &p)).level, Level::Error);
        assert_eq!(parse(&notification("WARNING", &p)).level, Level::Warning);
        assert_eq!(parse(&notification("INFO", &p)).level, Level::Other);
        let no_level = Params::from_pairs(&[("Payload", p.as_str())]);
        assert_eq!(parse(&no_level).level, Level::Error, "more_info.LogLevel");
    }

    #[test]
    fn codes_as_numbers_or_in_more_info() {
        let p = r#"{"error_code": 13224, "resource_sid": "CAxyz"}"#;
        let a = parse(&notification("Error", p));
        assert_eq!(a.code.as_deref(), Some("13224"));
        assert_eq!(a.call_sid, None, "CAxyz is no call SID");
        let p = r#"{"more_info": {"ErrorCode": "32009,Your TwiML tried to Dial"}}"#;
        assert_eq!(
            parse(&notification("Warning", p)).code.as_deref(),
            Some("32009")
        );
        for bad in [
            r#"{"error_code": "11200; DROP"}"#,
            r#"{"error_code": "1234567"}"#,
            r#"{"error_code": -1}"#,
            r#"{"error_code": 1.5}"#,
            r#"{"error_code": ["11200"]}"#,
            r#"{"error_code": ""}"#,
        ] {
            let a = parse(&notification("Error", bad));
            assert_eq!(a.code, None, "{bad}");
            assert_eq!(a.code_or_unknown(), UNKNOWN_CODE);
            assert_eq!(a.problem, Some("no error_code in the Payload"), "{bad}");
        }
    }

    #[test]
    fn the_call_comes_from_the_request_or_a_call_resource() {
        let p = format!(r#"{{"error_code": "30003", "resource_sid": "{CALL}"}}"#);
        assert_eq!(
            parse(&notification("Error", &p)).call_sid.as_deref(),
            Some(CALL)
        );
        let p = r#"{"error_code": "30003", "resource_sid": "SM0123456789abcdef0123456789abcdef"}"#;
        let a = parse(&notification("Error", p));
        assert_eq!(a.call_sid, None);
        assert_eq!(
            a.resource_sid.as_deref(),
            Some("SM0123456789abcdef0123456789abcdef")
        );
    }

    #[test]
    fn malformed_notifications_are_read_as_far_as_they_go() {
        let deep = "[".repeat(100_000);
        for (payload, problem) in [
            ("", "no Payload"),
            ("   ", "no Payload"),
            ("{not json", "Payload is not JSON"),
            ("[1, 2]", "Payload is not a JSON object"),
            ("\"11200\"", "Payload is not a JSON object"),
            (deep.as_str(), "Payload is not JSON"),
        ] {
            let a = parse(&notification("Error", payload));
            assert_eq!(a.problem, Some(problem), "{payload:.20}");
            assert_eq!(a.code, None);
            assert_eq!(a.level, Level::Error);
            assert_eq!(a.meaning(), "no error code in the notification");
        }
        let a = parse(&Params::default());
        assert_eq!((a.level, a.problem), (Level::Other, Some("no Payload")));
        // Wrong types where text is expected are left out, not errors.
        let p = r#"{"error_code": "12100", "webhook": {"request": {"url": 5, "parameters": "x"}}, "more_info": []}"#;
        let a = parse(&notification("Error", p));
        assert_eq!((a.url, a.call_sid, a.problem), (None, None, None));
    }

    #[test]
    fn long_text_is_clipped_on_a_character_boundary() {
        let long = "é".repeat(2000);
        let a = parse(&notification("Error", &payload("11200", &long, &long)));
        let url = a.url.unwrap();
        assert_eq!(url.chars().count(), MAX_TEXT + 1);
        assert!(url.ends_with('…'));
    }

    #[test]
    fn the_code_table_is_sorted_unique_and_numeric() {
        for w in CODES.windows(2) {
            assert!(w[0].0 < w[1].0, "{} before {}", w[0].0, w[1].0);
        }
        for (code, text) in CODES {
            assert!(code.len() == 5 && code.bytes().all(|b| b.is_ascii_digit()));
            assert!(!text.is_empty());
            assert_eq!(meaning(code), Some(*text));
        }
        for code in [
            "11200", "11205", "11206", "11210", "12100", "12200", "12300", "13224", "13227",
            "21610", "21211", "30003", "30005", "30006", "30007", "30008",
        ] {
            assert!(meaning(code).is_some(), "{code} has no meaning");
        }
        assert_eq!(meaning("99999"), None);
    }

    #[test]
    fn answers_an_empty_response_whatever_arrives() {
        for params in [
            notification("Error", &payload("11200", "https://x/ivr", "Bad Gateway")),
            notification("Warning", "{oops"),
            Params::default(),
        ] {
            let call = Call {
                base: "https://ivr.example",
                params: &params,
                now: chrono::DateTime::from_timestamp(0, 0).unwrap(),
            };
            let reply = respond(&Answer::new(&call, None, None));
            assert_eq!(reply.twiml, Response::new());
            assert!(reply.effects.is_empty());
            assert!(reply.outcome.starts_with("twilio "), "{}", reply.outcome);
        }
    }
}
