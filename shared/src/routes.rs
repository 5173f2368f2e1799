//! The webhook routes Twilio calls, and which function serves each.
//!
//! The paths are twilio-aws-ivr's, so a Twilio number configured for it
//! keeps working, plus the call queue's (`/ivr/queue/…`, `/ivr/agent/…`)
//! and Twilio's Debugger webhook (`/twilio/alerts`); the function names are
//! the binaries in `functions/`.
//!
//! | path | function | who calls it |
//! |---|---|---|
//! | `/ping` | `ping` | anyone (unsigned): keep-warm schedules, the reachability canary |
//! | `/ivr` | `welcome` | a number's "A call comes in" webhook |
//! | `/ivr/menu` | `menu` | TwiML redirects and `<Gather>` |
//! | `/ivr/menu/{option}` | `menu-option` | the menu, for one digit |
//! | `/ivr/action/{action}` | `action` | TwiML redirects; a call-in line's number |
//! | `/ivr/callback/forward/call_status` | `forward-status` | `<Dial action>` of a forward |
//! | `/ivr/callback/voicemail/hangup` | `voicemail-hangup` | `<Record action>` of a voicemail |
//! | `/ivr/callback/voicemail/alert_sms` | `recording-status` | recording and transcription callbacks |
//! | `/ivr/hangup` | `hangup` | TwiML redirects |
//! | `/ivr/queue/wait` | `queue-wait` | `<Enqueue waitUrl>` |
//! | `/ivr/queue/result` | `queue-result` | `<Enqueue action>` |
//! | `/ivr/queue/callback` | `queue-callback` | the callback offer's `<Gather>`s, in the wait (it creates the work item) |
//! | `/ivr/agent/{line}` (`…/next`, `…/announce`, `…/pin`) | `agent` | an agent line's number, its `<Dial>` and `<Queue url>` |
//! | `/twilio/alerts` | `twilio-alerts` | the Console Debugger's webhook: Twilio's errors and warnings ([`crate::alerts`]) |
//!
//! Every path is parsed ([`Route::parse`]) and written ([`Route::path`],
//! [`Links`]) here and nowhere else: a callback URL in TwiML, a redirect
//! `path` in config.ini and an API Gateway route all go through this file.

/// Escapes a name for one URL path segment; keeps the unreserved `-._~`.
const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `/ivr/agent/LINE…`: which request of an agent line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentStep {
    /// `/ivr/agent/LINE`: the agent calls in.
    Answer,
    /// `/ivr/agent/LINE/next`: the agent's `<Dial>` ended.
    Next,
    /// `/ivr/agent/LINE/announce`: the `<Queue url>`, on the caller's leg.
    Announce,
    /// `/ivr/agent/LINE/pin`: the PIN the agent typed (`pin = …`).
    Pin,
}

/// A parsed request path (without the API Gateway stage).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Ping,
    Welcome,
    Hangup,
    Menu,
    /// `/ivr/menu/{option}`: the raw, percent-decoded path segment.
    MenuOption(String),
    /// `/ivr/action/{action}`: the raw, percent-decoded path segment.
    Action(String),
    ForwardStatus,
    VoicemailHangup,
    RecordingStatus,
    /// `/ivr/queue/wait`: a queue's wait URL (and its long-wait key).
    QueueWait,
    /// `/ivr/queue/result`: a queue's `<Enqueue>` action.
    QueueResult,
    /// `/ivr/queue/callback`: the number to call back, typed or confirmed in the wait.
    QueueCallback,
    /// `/ivr/agent/{line}`, `…/next`, `…/announce`: an agent line.
    Agent {
        /// The raw, percent-decoded line name.
        line: String,
        step: AgentStep,
    },
    /// `/twilio/alerts`: Twilio's Debugger webhook (errors and warnings).
    TwilioAlerts,
}

/// One deployable function per route family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    Ping,
    Welcome,
    Hangup,
    Menu,
    MenuOption,
    Action,
    ForwardStatus,
    VoicemailHangup,
    RecordingStatus,
    QueueWait,
    QueueResult,
    QueueCallback,
    Agent,
    TwilioAlerts,
}

impl Function {
    pub const ALL: [Function; 14] = [
        Function::Ping,
        Function::Welcome,
        Function::Hangup,
        Function::Menu,
        Function::MenuOption,
        Function::Action,
        Function::ForwardStatus,
        Function::VoicemailHangup,
        Function::RecordingStatus,
        Function::QueueWait,
        Function::QueueResult,
        Function::QueueCallback,
        Function::Agent,
        Function::TwilioAlerts,
    ];

    /// The binary (and `functions/` folder) name.
    pub fn name(self) -> &'static str {
        match self {
            Function::Ping => "ping",
            Function::Welcome => "welcome",
            Function::Hangup => "hangup",
            Function::Menu => "menu",
            Function::MenuOption => "menu-option",
            Function::Action => "action",
            Function::ForwardStatus => "forward-status",
            Function::VoicemailHangup => "voicemail-hangup",
            Function::RecordingStatus => "recording-status",
            Function::QueueWait => "queue-wait",
            Function::QueueResult => "queue-result",
            Function::QueueCallback => "queue-callback",
            Function::Agent => "agent",
            Function::TwilioAlerts => "twilio-alerts",
        }
    }

    /// The API route it serves, in API Gateway's `{param}` notation
    /// (`{param+}`: the rest of the path, slashes included).
    pub fn path(self) -> &'static str {
        match self {
            Function::Ping => "/ping",
            Function::Welcome => "/ivr",
            Function::Hangup => "/ivr/hangup",
            Function::Menu => "/ivr/menu",
            Function::MenuOption => "/ivr/menu/{option}",
            Function::Action => "/ivr/action/{action}",
            Function::ForwardStatus => "/ivr/callback/forward/call_status",
            Function::VoicemailHangup => "/ivr/callback/voicemail/hangup",
            Function::RecordingStatus => "/ivr/callback/voicemail/alert_sms",
            Function::QueueWait => "/ivr/queue/wait",
            Function::QueueResult => "/ivr/queue/result",
            Function::QueueCallback => "/ivr/queue/callback",
            Function::Agent => "/ivr/agent/{path+}",
            Function::TwilioAlerts => "/twilio/alerts",
        }
    }
}

impl Route {
    /// Matches a path such as `/ivr/menu/3`; a trailing slash is tolerated.
    pub fn parse(path: &str) -> Option<Route> {
        let p = if path.len() > 1 {
            path.trim_end_matches('/')
        } else {
            path
        };
        Some(match p {
            "/ping" => Route::Ping,
            "/ivr" => Route::Welcome,
            "/ivr/hangup" => Route::Hangup,
            "/ivr/menu" => Route::Menu,
            "/ivr/callback/forward/call_status" => Route::ForwardStatus,
            "/ivr/callback/voicemail/hangup" => Route::VoicemailHangup,
            "/ivr/callback/voicemail/alert_sms" => Route::RecordingStatus,
            "/ivr/queue/wait" => Route::QueueWait,
            "/ivr/queue/result" => Route::QueueResult,
            "/ivr/queue/callback" => Route::QueueCallback,
            "/twilio/alerts" => Route::TwilioAlerts,
            _ => {
                if let Some(seg) = p.strip_prefix("/ivr/menu/") {
                    Route::MenuOption(decode_segment(seg)?)
                } else if let Some(seg) = p.strip_prefix("/ivr/action/") {
                    Route::Action(decode_segment(seg)?)
                } else if let Some(rest) = p.strip_prefix("/ivr/agent/") {
                    let (line, step) = match rest.split_once('/') {
                        None => (rest, AgentStep::Answer),
                        Some((line, "next")) => (line, AgentStep::Next),
                        Some((line, "announce")) => (line, AgentStep::Announce),
                        Some((line, "pin")) => (line, AgentStep::Pin),
                        Some(_) => return None,
                    };
                    Route::Agent {
                        line: decode_segment(line)?,
                        step,
                    }
                } else {
                    return None;
                }
            }
        })
    }

    pub fn function(&self) -> Function {
        match self {
            Route::Ping => Function::Ping,
            Route::Welcome => Function::Welcome,
            Route::Hangup => Function::Hangup,
            Route::Menu => Function::Menu,
            Route::MenuOption(_) => Function::MenuOption,
            Route::Action(_) => Function::Action,
            Route::ForwardStatus => Function::ForwardStatus,
            Route::VoicemailHangup => Function::VoicemailHangup,
            Route::RecordingStatus => Function::RecordingStatus,
            Route::QueueWait => Function::QueueWait,
            Route::QueueResult => Function::QueueResult,
            Route::QueueCallback => Function::QueueCallback,
            Route::Agent { .. } => Function::Agent,
            Route::TwilioAlerts => Function::TwilioAlerts,
        }
    }
}

impl Route {
    /// The route's path, segments percent-encoded: `Route::parse(&r.path()) == Some(r)`.
    pub fn path(&self) -> String {
        let fixed = match self {
            Route::Ping => "/ping",
            Route::Welcome => "/ivr",
            Route::Hangup => "/ivr/hangup",
            Route::Menu => "/ivr/menu",
            Route::ForwardStatus => "/ivr/callback/forward/call_status",
            Route::VoicemailHangup => "/ivr/callback/voicemail/hangup",
            Route::RecordingStatus => "/ivr/callback/voicemail/alert_sms",
            Route::QueueWait => "/ivr/queue/wait",
            Route::QueueResult => "/ivr/queue/result",
            Route::QueueCallback => "/ivr/queue/callback",
            Route::TwilioAlerts => "/twilio/alerts",
            Route::MenuOption(seg) => return segment_path("/ivr/menu/", seg, ""),
            Route::Action(seg) => return segment_path("/ivr/action/", seg, ""),
            Route::Agent { line, step } => {
                let tail = match step {
                    AgentStep::Answer => "",
                    AgentStep::Next => "/next",
                    AgentStep::Announce => "/announce",
                    AgentStep::Pin => "/pin",
                };
                return segment_path("/ivr/agent/", line, tail);
            }
        };
        fixed.to_string()
    }
}

fn segment_path(prefix: &str, seg: &str, tail: &str) -> String {
    let mut p = String::with_capacity(prefix.len() + seg.len() + tail.len() + 8);
    p.push_str(prefix);
    p.extend(percent_encoding::utf8_percent_encode(seg, PATH_SEGMENT));
    p.push_str(tail);
    p
}

/// Absolute URLs of our own routes on the public base URL Twilio calls
/// (scheme, host, stage; no trailing slash): what TwiML links to.
#[derive(Debug, Clone, Copy)]
pub struct Links<'a> {
    base: &'a str,
}

impl<'a> Links<'a> {
    pub fn new(base: &'a str) -> Self {
        Links { base }
    }

    /// `route` with `query` (values form-encoded, in the order given).
    pub fn to(&self, route: &Route, query: &[(&str, &str)]) -> String {
        self.with_query(&route.path(), query)
    }

    /// A path the config names literally (a redirect's `path`, validated at load).
    pub fn configured(&self, path: &str) -> String {
        self.with_query(path, &[])
    }

    fn with_query(&self, path: &str, query: &[(&str, &str)]) -> String {
        let mut u = String::with_capacity(self.base.len() + path.len() + 32);
        u.push_str(self.base);
        u.push_str(path);
        for (i, (k, v)) in query.iter().enumerate() {
            u.push(if i == 0 { '?' } else { '&' });
            u.push_str(k);
            u.push('=');
            u.extend(form_urlencoded::byte_serialize(v.as_bytes()));
        }
        u
    }
}

fn decode_segment(seg: &str) -> Option<String> {
    if seg.is_empty() || seg.contains('/') {
        return None;
    }
    Some(
        percent_encoding::percent_decode_str(seg)
            .decode_utf8_lossy()
            .into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_function_path() {
        for f in Function::ALL {
            let concrete = f
                .path()
                .replace("{option}", "1")
                .replace("{action}", "x")
                .replace("{path+}", "dj");
            assert_eq!(
                Route::parse(&concrete).map(|r| r.function()),
                Some(f),
                "{concrete}"
            );
        }
    }

    #[test]
    fn paths_parse_back() {
        for r in [
            Route::Welcome,
            Route::Menu,
            Route::MenuOption("3".into()),
            Route::Action("a b/ü".into()),
            Route::RecordingStatus,
            Route::TwilioAlerts,
            Route::Agent {
                line: "d j".into(),
                step: AgentStep::Next,
            },
            Route::Agent {
                line: "dj".into(),
                step: AgentStep::Announce,
            },
        ] {
            assert_eq!(Route::parse(&r.path()), Some(r.clone()), "{}", r.path());
        }
        assert_eq!(
            Links::new("https://x/api").to(&Route::Menu, &[("menu", "a b"), ("loop_count", "2")]),
            "https://x/api/ivr/menu?menu=a+b&loop_count=2"
        );
    }

    #[test]
    fn decodes_segments_and_rejects_others() {
        assert_eq!(
            Route::parse("/ivr/menu/%23"),
            Some(Route::MenuOption("#".into()))
        );
        assert_eq!(
            Route::parse("/ivr/action/a%20b/"),
            Some(Route::Action("a b".into()))
        );
        assert_eq!(Route::parse("/ivr/menu/1/2"), None);
        assert_eq!(Route::parse("/ivr/action/"), None);
        assert_eq!(Route::parse("/nope"), None);
    }

    #[test]
    fn agent_paths_name_the_line_and_the_step() {
        let agent = |line: &str, step| {
            Some(Route::Agent {
                line: line.into(),
                step,
            })
        };
        assert_eq!(
            Route::parse("/ivr/agent/dj"),
            agent("dj", AgentStep::Answer)
        );
        assert_eq!(
            Route::parse("/ivr/agent/dj/"),
            agent("dj", AgentStep::Answer)
        );
        assert_eq!(
            Route::parse("/ivr/agent/dj/next"),
            agent("dj", AgentStep::Next)
        );
        assert_eq!(
            Route::parse("/ivr/agent/d%20j/announce"),
            agent("d j", AgentStep::Announce)
        );
        assert_eq!(
            Route::parse("/ivr/agent/dj/pin"),
            agent("dj", AgentStep::Pin)
        );
        assert_eq!(Route::parse("/ivr/agent/dj/other"), None);
        assert_eq!(Route::parse("/ivr/agent/dj/next/x"), None);
        assert_eq!(Route::parse("/ivr/agent/"), None);
        assert_eq!(Route::parse("/ivr/agent//next"), None);
        assert_eq!(Route::parse("/ivr/queue/wait/"), Some(Route::QueueWait));
        assert_eq!(Route::parse("/ivr/queue/result"), Some(Route::QueueResult));
        assert_eq!(Route::parse("/ivr/queue/leave"), None);
    }

    #[test]
    fn twilio_alerts_is_its_own_route_and_function() {
        assert_eq!(Route::parse("/twilio/alerts"), Some(Route::TwilioAlerts));
        assert_eq!(Route::parse("/twilio/alerts/"), Some(Route::TwilioAlerts));
        assert_eq!(Route::parse("/twilio"), None);
        assert_eq!(Route::parse("/twilio/alerts/x"), None);
        assert_eq!(Route::TwilioAlerts.function(), Function::TwilioAlerts);
        assert_eq!(Function::TwilioAlerts.name(), "twilio-alerts");
    }

    /// The table in this module's documentation names every function and its path.
    #[test]
    fn the_module_doc_table_lists_every_function() {
        let doc: Vec<&str> = include_str!("routes.rs")
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .filter(|l| l.starts_with("//! | `"))
            .collect();
        for f in Function::ALL {
            let name = format!("| `{}` |", f.name());
            let row = doc
                .iter()
                .find(|l| l.contains(&name))
                .unwrap_or_else(|| panic!("no row for {} in the module doc", f.name()));
            let first = f.path().split('{').next().unwrap_or_default();
            assert!(row.contains(&format!("`{first}")), "{row} vs {}", f.path());
        }
    }
}
