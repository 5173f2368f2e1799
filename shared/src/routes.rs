//! The webhook routes Twilio calls, and which function serves each.
//!
//! The paths are twilio-aws-ivr's, so a Twilio number configured for it
//! keeps working; the function names are the binaries in `functions/`.

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
}

impl Function {
    pub const ALL: [Function; 9] = [
        Function::Ping,
        Function::Welcome,
        Function::Hangup,
        Function::Menu,
        Function::MenuOption,
        Function::Action,
        Function::ForwardStatus,
        Function::VoicemailHangup,
        Function::RecordingStatus,
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
        }
    }

    /// The API route it serves, in API Gateway's `{param}` notation.
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
            _ => {
                if let Some(seg) = p.strip_prefix("/ivr/menu/") {
                    Route::MenuOption(decode_segment(seg)?)
                } else if let Some(seg) = p.strip_prefix("/ivr/action/") {
                    Route::Action(decode_segment(seg)?)
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
        }
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
            let concrete = f.path().replace("{option}", "1").replace("{action}", "x");
            assert_eq!(
                Route::parse(&concrete).map(|r| r.function()),
                Some(f),
                "{concrete}"
            );
        }
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
}
