//! `ivr call`: a call simulator that plays Twilio's part.
//!
//! It starts a call the way Twilio does (a signed POST to the entry URL),
//! interprets each TwiML answer as Twilio would, and prints what the caller
//! experiences, one event per line. Keys come from `--press` or the
//! terminal, forward outcomes from `--dial` or the terminal. Anything
//! Twilio would reject (unknown verbs or attributes, bad nesting, non-2xx,
//! the wrong Content-Type, XML that is not well-formed, a redirect loop)
//! ends the simulation with a non-zero exit and the reason.
//!
//! Two targets: a running server (`--url`, default the local `ivr serve`),
//! or a config file run in-process through the same `shared::web::App` the
//! server and the Lambda functions use (`--config`), with a pinned clock
//! (`--at`). Effects (SMS alerts) are printed in-process, never carried out.

mod events;
mod media;
mod rules;
mod transport;

use std::collections::VecDeque;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};
use http::Method;
use shared::config::Config;
use shared::flow::Effect;
use shared::shell::{self, Clock};
use shared::twiml::Node;
use url::Url;

use events::{Event, Printer};
use rules::Context;
use transport::{Answer, Transport};

/// Where `ivr serve` listens by default (`make run`).
pub const DEFAULT_URL: &str = "http://127.0.0.1:3000/ivr";
/// Shown under `ivr call --help`.
pub const EXAMPLES: &str = "\
Examples:
  make run                     # one terminal: the IVR on http://127.0.0.1:3000
  ivr call                     # another: press keys on the terminal, read the call
  ivr call --config config.ini --at 2026-12-25T10:00:00Z --press 1 --dial busy
  ivr call --config config.ini --press 2,-,- --json
  ivr call --config config.ini --entry /ivr/action/callin --queue-position 4 --queue-avg-wait 420 --press 1
  ivr call --url http://127.0.0.1:3000/ivr/agent/presenter --from +447700900010 --dial completed,no-answer,canceled
  TWILIO_AUTH_TOKEN=… ivr call --url https://abc123.execute-api.eu-west-2.amazonaws.com/api/ivr

Every request is signed with X-Twilio-Signature (TWILIO_AUTH_TOKEN, else [twilio] auth_token;
in-process without either, a throwaway token on both sides). Exit status: 0 when the call ends
normally (a <Hangup>, the end of the TwiML, the caller hanging up), 1 with the reason otherwise.";

/// The made-up origin of the in-process IVR.
const IN_PROCESS_BASE: &str = "http://ivr.invalid";

#[derive(Args, Debug)]
pub struct CallArgs {
    /// Entry URL of a running IVR, local or deployed [default: http://127.0.0.1:3000/ivr]
    #[arg(long, conflicts_with = "config")]
    pub url: Option<String>,
    /// Run this config.ini in-process instead: no server needed
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// With --config: the path the call comes in on (a call-in line's own number: /ivr/action/NAME; an agent line's: /ivr/agent/NAME)
    #[arg(long, default_value = "/ivr", requires = "config")]
    pub entry: String,
    /// Keys for each <Gather> in turn: `1`, `42#`, `-` for no input, `hangup` for the caller hanging up
    #[arg(long, value_delimiter = ',', value_parser = parse_keys, allow_hyphen_values = true)]
    pub press: Option<Vec<Keys>>,
    /// Outcome of each <Dial> in turn (of a <Queue>: completed = a caller was taken)
    #[arg(long, value_delimiter = ',', value_enum)]
    pub dial: Option<Vec<DialOutcome>>,
    /// How each <Enqueue> in turn ends after --queue-passes of wait music: an agent takes the call, or the caller hangs up [default: bridged]
    #[arg(long, value_delimiter = ',', value_enum)]
    pub queue: Option<Vec<QueueOutcome>>,
    /// Passes of a queue's wait music (requests of its waitUrl) before --queue's outcome
    #[arg(long, default_value_t = 1)]
    pub queue_passes: u32,
    /// The caller's place in the queue, as Twilio reports it to the waitUrl (QueuePosition)
    #[arg(long, default_value_t = 1)]
    pub queue_position: u32,
    /// Seconds the callers in the queue have waited on average (AvgQueueTime; 0 = no data yet)
    #[arg(long, default_value_t = 0)]
    pub queue_avg_wait: u32,
    /// Pin the clock to this RFC 3339 instant (in-process only; start a server with IVR_NOW instead)
    #[arg(long, value_parser = parse_instant)]
    pub at: Option<DateTime<Utc>>,
    /// Print the transcript as JSON lines
    #[arg(long)]
    pub json: bool,
    /// The caller's number
    #[arg(long, default_value = "+447700900555")]
    pub from: String,
    /// The number called (the IVR's Twilio number)
    #[arg(long, default_value = "+442079460100")]
    pub to: String,
    /// The CallSid to use [default: a random one]
    #[arg(long)]
    pub call_sid: Option<String>,
    /// How long each simulated <Record> lasts, in seconds
    #[arg(long, default_value_t = 12)]
    pub record_seconds: u32,
    /// How long an answered <Dial> lasts, in seconds
    #[arg(long, default_value_t = 60)]
    pub dial_seconds: u32,
    /// For an IVR on this machine: seconds to keep serving recording audio until its pipeline fetched it (0: don't wait)
    #[arg(long, default_value_t = 10)]
    pub media_wait: u64,
    /// The Twilio REST base the IVR downloads recordings from (its TWILIO_API_BASE, e.g. a stand-in):
    /// RecordingUrls are posted there, and no media server of ours is started
    #[arg(long, env = "TWILIO_API_BASE", value_parser = parse_api_base)]
    pub api_base: Option<String>,
    /// Give up after this many requests (a redirect loop?)
    #[arg(long, default_value_t = 50)]
    pub max_requests: usize,
}

/// One scripted answer to a `<Gather>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keys {
    Pressed(String),
    Nothing,
    Hangup,
}

/// An http(s) URL without a trailing `/` (paths are appended to it).
fn parse_api_base(s: &str) -> Result<String, String> {
    let base = s.trim().trim_end_matches('/');
    match Url::parse(base) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
            Ok(base.to_string())
        }
        _ => Err(format!("`{s}` is not an http(s) URL")),
    }
}

fn parse_keys(s: &str) -> Result<Keys, String> {
    let s = s.trim();
    match s {
        "-" | "" => Ok(Keys::Nothing),
        "hangup" => Ok(Keys::Hangup),
        _ if s.chars().all(is_key) => Ok(Keys::Pressed(s.to_string())),
        _ => Err(format!(
            "`{s}`: keys are 0-9, # and *; `-` is no input, `hangup` hangs up"
        )),
    }
}

fn is_key(c: char) -> bool {
    c.is_ascii_digit() || c == '#' || c == '*'
}

fn parse_instant(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("not an RFC 3339 instant such as 2026-12-25T10:00:00Z: {e}"))
}

/// How a wait in a queue ends; sent to the `<Enqueue>` action as `QueueResult`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QueueOutcome {
    /// An agent dials the queue and takes the call.
    Bridged,
    /// The caller hangs up while waiting.
    Hangup,
}

impl QueueOutcome {
    fn as_str(self) -> &'static str {
        match self {
            QueueOutcome::Bridged => "bridged",
            QueueOutcome::Hangup => "hangup",
        }
    }
}

/// What happens to a `<Dial>`; sent to its action as `DialCallStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DialOutcome {
    Completed,
    Busy,
    NoAnswer,
    Failed,
    Canceled,
}

impl DialOutcome {
    fn as_str(self) -> &'static str {
        match self {
            DialOutcome::Completed => "completed",
            DialOutcome::Busy => "busy",
            DialOutcome::NoAnswer => "no-answer",
            DialOutcome::Failed => "failed",
            DialOutcome::Canceled => "canceled",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        <Self as ValueEnum>::from_str(s.trim(), true).ok()
    }
}

pub fn run(args: CallArgs) -> ExitCode {
    let mut printer = Printer::new(args.json);
    let result = Sim::new(&args).and_then(|mut sim| {
        let r = sim.call(&mut printer);
        if r.is_ok() {
            let unused = sim.inputs.press.as_ref().map_or(0, VecDeque::len);
            if unused > 0 {
                eprintln!(
                    "ivr call: note: {unused} --press entr{} left unused",
                    if unused == 1 { "y" } else { "ies" }
                );
            }
            let unused = sim.inputs.dial.as_ref().map_or(0, VecDeque::len);
            if unused > 0 {
                eprintln!("ivr call: note: {unused} --dial outcome(s) left unused");
            }
            let unused = sim.inputs.queue.as_ref().map_or(0, VecDeque::len);
            if unused > 0 {
                eprintln!("ivr call: note: {unused} --queue outcome(s) left unused");
            }
        }
        r
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            if args.json {
                printer.emit(Event::Error {
                    message: message.clone(),
                });
            }
            eprintln!("ivr call: error: {message}");
            ExitCode::from(1)
        }
    }
}

/// A request Twilio is about to make.
#[derive(Debug, Clone)]
struct Request {
    method: Method,
    url: Url,
    /// Parameters on top of the call's own (`Digits`, `DialCallStatus`, …).
    extra: Vec<(String, String)>,
}

/// A TwiML document and where it came from.
struct Doc {
    url: Url,
    root: Node,
}

/// What a document asks for once its verbs have run.
enum Next {
    /// Fetch the next document.
    Fetch { req: Request },
    /// The call is over.
    End(String),
    /// The document ran out of verbs.
    DocEnd,
    /// `<Leave>` (in a queue's wait document).
    Leave,
}

/// Where keys and dial outcomes come from.
struct Inputs {
    press: Option<VecDeque<Keys>>,
    dial: Option<VecDeque<DialOutcome>>,
    queue: Option<VecDeque<QueueOutcome>>,
    terminal: bool,
}

impl Inputs {
    /// How the next wait in a queue ends: `--queue`, else an agent takes the call.
    fn queue(&mut self) -> QueueOutcome {
        self.queue
            .as_mut()
            .and_then(VecDeque::pop_front)
            .unwrap_or(QueueOutcome::Bridged)
    }

    fn keys(&mut self, what: &str) -> Result<Keys, String> {
        if let Some(q) = &mut self.press {
            if let Some(k) = q.pop_front() {
                return Ok(k);
            }
            if !self.terminal {
                return Err(format!(
                    "--press has no entry left for this {what} (add a key, or `-` for no input)"
                ));
            }
        } else if !self.terminal {
            return Err(format!(
                "a {what} waits for keys: pass --press (e.g. --press 1,-) or run on a terminal"
            ));
        }
        loop {
            match prompt("keys? (digits, # or *; empty = no input; h = hang up) > ")? {
                None => return Ok(Keys::Hangup),
                Some(line) => match line.trim() {
                    "h" | "hangup" | "q" => return Ok(Keys::Hangup),
                    other => match parse_keys(other) {
                        Ok(k) => return Ok(k),
                        Err(e) => eprintln!("  {e}"),
                    },
                },
            }
        }
    }

    fn dial(&mut self, target: &str) -> Result<DialOutcome, String> {
        if let Some(q) = &mut self.dial {
            if let Some(o) = q.pop_front() {
                return Ok(o);
            }
            if !self.terminal {
                return Err(format!(
                    "--dial has no outcome left for the <Dial> to {target}"
                ));
            }
        } else if !self.terminal {
            return Err(format!(
                "the <Dial> to {target} needs an outcome: pass --dial completed|busy|no-answer|failed|canceled"
            ));
        }
        loop {
            let q = format!(
                "dial {target}: outcome? completed, busy, no-answer, failed, canceled (empty = completed) > "
            );
            match prompt(&q)? {
                None => return Ok(DialOutcome::Canceled),
                Some(line) if line.trim().is_empty() => return Ok(DialOutcome::Completed),
                Some(line) => match DialOutcome::parse(&line) {
                    Some(o) => return Ok(o),
                    None => eprintln!("  `{}` is not an outcome", line.trim()),
                },
            }
        }
    }
}

/// Asks on stderr, reads a line from stdin; `None` at end of input.
fn prompt(question: &str) -> Result<Option<String>, String> {
    eprint!("{question}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) => {
            eprintln!();
            Ok(None)
        }
        Ok(_) => Ok(Some(line)),
        Err(e) => Err(format!("cannot read the terminal: {e}")),
    }
}

/// A callback Twilio makes later, without steering the call.
struct Deferred {
    what: &'static str,
    req: Request,
}

struct Sim {
    transport: Transport,
    entry: Url,
    token: Option<String>,
    call_sid: String,
    account_sid: String,
    from: String,
    to: String,
    now: DateTime<Utc>,
    inputs: Inputs,
    record_seconds: u32,
    media_wait: u64,
    api_base: Option<String>,
    dial_seconds: u32,
    max_requests: usize,
    requests: usize,
    sids: u32,
    deferred: Vec<Deferred>,
    /// Serves recording media when the IVR runs on this machine.
    media: Option<media::MediaServer>,
    recordings: usize,
    queue_passes: u32,
    queue_position: u32,
    queue_avg_wait: u32,
}

impl Sim {
    fn new(args: &CallArgs) -> Result<Self, String> {
        let inputs = Inputs {
            press: args.press.clone().map(VecDeque::from),
            dial: args.dial.clone().map(VecDeque::from),
            queue: args.queue.clone().map(VecDeque::from),
            terminal: std::io::stdin().is_terminal(),
        };
        let env_token = std::env::var("TWILIO_AUTH_TOKEN")
            .ok()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty());
        let (transport, entry, token, account_sid, now) = match &args.config {
            Some(path) => {
                // The same start-up as the functions and `ivr serve`, minus the public URL.
                let mut st = shell::startup_in_process(path, args.at.map(Clock::pinned))?;
                // Both sides hold the same token, so every request is signature-checked.
                let token = st
                    .app
                    .auth_token
                    .get_or_insert_with(|| random_hex(32))
                    .clone();
                let account_sid = shell::account_sid(&st.app.config);
                let base = Url::parse(IN_PROCESS_BASE).map_err(|e| e.to_string())?;
                if !args.entry.starts_with('/') {
                    return Err(format!(
                        "--entry `{}` must be a path such as /ivr/action/callin",
                        args.entry
                    ));
                }
                let entry = base.join(&args.entry).map_err(|e| e.to_string())?;
                let now = st.clock.now();
                (
                    Transport::in_process(st.app, st.clock, base),
                    entry,
                    Some(token),
                    account_sid,
                    now,
                )
            }
            None => {
                if args.at.is_some() {
                    return Err(
                        "--at pins the clock only in-process (--config); start the server with IVR_NOW=… instead"
                            .into(),
                    );
                }
                let raw = args.url.as_deref().unwrap_or(DEFAULT_URL);
                let mut entry =
                    Url::parse(raw).map_err(|e| format!("--url `{raw}` is not a URL: {e}"))?;
                if !matches!(entry.scheme(), "http" | "https") {
                    return Err(format!("--url `{raw}` is not an http(s) URL"));
                }
                if entry.path() == "/" {
                    entry.set_path("/ivr");
                }
                // The token: the environment, else the local config.ini that `make run` serves.
                let local = Config::load(std::path::Path::new("config.ini"))
                    .ok()
                    .map(|l| l.config);
                let token =
                    env_token.or_else(|| local.as_ref().and_then(|c| c.twilio.auth_token.clone()));
                if token.is_none() {
                    eprintln!(
                        "ivr call: note: no TWILIO_AUTH_TOKEN (env or [twilio] auth_token in ./config.ini): requests go UNSIGNED"
                    );
                }
                let account_sid = std::env::var("TWILIO_ACCOUNT_SID")
                    .ok()
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty())
                    .or_else(|| local.as_ref().and_then(|c| c.twilio.account_sid.clone()));
                (Transport::http(), entry, token, account_sid, Utc::now())
            }
        };
        let account_sid = account_sid
            .filter(|s| is_sid(s, "AC"))
            .unwrap_or_else(|| format!("AC{}", "0".repeat(32)));
        let call_sid = match &args.call_sid {
            Some(s) if is_sid(s, "CA") => s.clone(),
            Some(s) => {
                return Err(format!(
                    "--call-sid `{s}` is not CA followed by 32 hex digits"
                ))
            }
            None => format!("CA{}", random_hex(32)),
        };
        Ok(Sim {
            transport,
            entry,
            token,
            call_sid,
            account_sid,
            from: args.from.clone(),
            to: args.to.clone(),
            now,
            inputs,
            record_seconds: args.record_seconds,
            media_wait: args.media_wait,
            api_base: args.api_base.clone(),
            dial_seconds: args.dial_seconds,
            max_requests: args.max_requests.max(1),
            requests: 0,
            sids: 0,
            deferred: Vec::new(),
            media: None,
            recordings: 0,
            queue_passes: args.queue_passes.max(1),
            queue_position: args.queue_position,
            queue_avg_wait: args.queue_avg_wait,
        })
    }

    /// The whole call, from Twilio's first request to the last callback.
    fn call(&mut self, out: &mut Printer) -> Result<(), String> {
        out.emit(Event::Call {
            call_sid: self.call_sid.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            method: "POST".into(),
            url: self.entry.to_string(),
        });
        let first = Request {
            method: Method::POST,
            url: self.entry.clone(),
            extra: Vec::new(),
        };
        let mut doc = self.fetch(first, out).map_err(|e| {
            if matches!(self.transport, Transport::Http { .. }) && e.starts_with("cannot reach") {
                format!("{e}\n  is the IVR running? start it with `make run` (ivr serve), or run a config in-process with --config config.ini")
            } else {
                e
            }
        })?;
        let reason = loop {
            match self.run_doc(&doc, out)? {
                Next::Fetch { req, .. } => doc = self.fetch(req, out)?,
                Next::End(reason) => break reason,
                Next::DocEnd => break "end of TwiML: Twilio hangs up".to_string(),
                Next::Leave => return Err("<Leave> outside a queue".into()),
            }
        };
        // Callbacks Twilio makes once the recording is ready: after the call.
        for d in std::mem::take(&mut self.deferred) {
            out.emit(Event::Callback {
                what: d.what.into(),
                method: d.req.method.to_string(),
                url: d.req.url.to_string(),
            });
            self.send(&d.req, out, false)?;
        }
        if let Some(m) = self.media.as_ref().filter(|_| self.media_wait > 0) {
            // The IVR's pipeline fetches the media in the background: wait for it.
            let fetched = m.wait_for(
                self.recordings,
                std::time::Duration::from_secs(self.media_wait),
            );
            out.emit(Event::Effect {
                what: format!(
                    "recording media fetched {fetched} of {} time(s)",
                    self.recordings
                ),
            });
        }
        out.emit(Event::End {
            reason,
            requests: self.requests,
        });
        Ok(())
    }

    /// Parameters Twilio sends with every call webhook.
    fn call_params(&self) -> Vec<(String, String)> {
        // `send` counts the request before it asks: the first one is number 1.
        let status = if self.requests <= 1 {
            "ringing"
        } else {
            "in-progress"
        };
        [
            ("AccountSid", self.account_sid.as_str()),
            ("ApiVersion", "2010-04-01"),
            ("CallSid", self.call_sid.as_str()),
            ("CallStatus", status),
            ("Called", self.to.as_str()),
            ("Caller", self.from.as_str()),
            ("Direction", "inbound"),
            ("From", self.from.as_str()),
            ("To", self.to.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// Signs and sends a request; checks the status. `twiml`: the answer
    /// steers the call, so its Content-Type matters too.
    fn send(&mut self, req: &Request, out: &mut Printer, twiml: bool) -> Result<Answer, String> {
        self.requests += 1;
        if self.requests > self.max_requests {
            return Err(format!(
                "more than {} requests in one call: redirect loop? (raise --max-requests if the flow is really this long)",
                self.max_requests
            ));
        }
        let mut params = if twiml {
            self.call_params()
        } else {
            vec![
                ("AccountSid".to_string(), self.account_sid.clone()),
                ("CallSid".to_string(), self.call_sid.clone()),
            ]
        };
        params.extend(req.extra.iter().cloned());
        let mut url = req.url.clone();
        let form = if req.method == Method::GET {
            url.query_pairs_mut().extend_pairs(&params);
            Vec::new()
        } else {
            params
        };
        let signature = self
            .token
            .as_deref()
            .map(|t| shared::signature::compute(t, url.as_str(), &form));
        let what = format!("{} {url}", req.method);
        let answer = self
            .transport
            .send(&req.method, &url, &form, signature.as_deref())?;
        for effect in &answer.effects {
            match effect {
                Effect::ProcessRecording(job) => out.emit(Event::Effect {
                    what: format!(
                        "recording {} queued for export, alerts and deletion at Twilio (not carried out in-process)",
                        job.recording_sid
                    ),
                }),
                Effect::RecordTranscription { recording_sid, status, .. } => out.emit(Event::Effect {
                    what: format!("transcription {status} kept for {recording_sid}"),
                }),
                Effect::SendSms { from, to, body, .. } => out.emit(Event::Sms {
                    from: Some(from.clone()),
                    to: Some(to.clone()),
                    body: body.clone(),
                }),
                Effect::CreateCallback(new) => out.emit(Event::Effect {
                    what: format!(
                        "callback to {} from {} in queue {} (a work item under `ivr serve`; not stored in-process)",
                        new.to, new.from, new.queue
                    ),
                }),
            }
        }
        if !(200..300).contains(&answer.status) {
            let body = answer.body.trim();
            let body = shorten(body, 200);
            let hint = if answer.status == 403 && body.contains("X-Twilio-Signature") {
                if self.token.is_some() {
                    "\n  the server checks signatures with its own TWILIO_AUTH_TOKEN and the URL it believes Twilio used (IVR_PUBLIC_URL): both must match this call's"
                } else {
                    "\n  the server checks signatures: set TWILIO_AUTH_TOKEN to its auth token"
                }
            } else {
                ""
            };
            return Err(format!(
                "{what} answered HTTP {}{}{}{hint}",
                answer.status,
                if body.is_empty() { "" } else { ": " },
                body
            ));
        }
        if twiml && !matches!(answer.content_type.as_str(), "text/xml" | "application/xml") {
            return Err(format!(
                "{what} answered Content-Type `{}`; Twilio expects TwiML as text/xml or application/xml",
                answer.content_type
            ));
        }
        Ok(answer)
    }

    /// Fetches a TwiML document and checks it as Twilio would.
    fn fetch(&mut self, req: Request, out: &mut Printer) -> Result<Doc, String> {
        self.fetch_as(req, Context::Call, out)
    }

    fn fetch_as(&mut self, req: Request, ctx: Context, out: &mut Printer) -> Result<Doc, String> {
        let answer = self.send(&req, out, true)?;
        let what = format!("TwiML from {} {}", req.method, req.url);
        let root = shared::twiml::parse(&answer.body).map_err(|e| {
            if e.starts_with("not well-formed") {
                format!("{what} is {e}")
            } else {
                format!("{what} is not well-formed: {e}")
            }
        })?;
        rules::validate(&root, ctx).map_err(|e| format!("{what}: {e}"))?;
        Ok(Doc { url: req.url, root })
    }

    /// A new SID with this prefix, derived from the CallSid (stable per call).
    fn sid(&mut self, prefix: &str) -> String {
        self.sids += 1;
        let a = fnv1a(format!("{}/{prefix}/{}", self.call_sid, self.sids).as_bytes());
        let b = fnv1a(format!("{a:x}/{}", self.sids).as_bytes());
        format!("{prefix}{a:016x}{b:016x}")
    }

    /// Plays the verbs of one document.
    fn run_doc(&mut self, doc: &Doc, out: &mut Printer) -> Result<Next, String> {
        for verb in &doc.root.children {
            match verb.name.as_str() {
                "Say" | "Play" | "Pause" => prompt_event(verb, false, out),
                "Gather" => {
                    if let Some(next) = self.gather(verb, doc, out)? {
                        return Ok(next);
                    }
                }
                "Redirect" => {
                    let method = method_of(verb, "method")?;
                    let url = resolve(&doc.url, &verb.text)?;
                    out.emit(Event::Redirect {
                        method: method.to_string(),
                        url: url.to_string(),
                    });
                    return Ok(Next::Fetch {
                        req: Request {
                            method,
                            url,
                            extra: Vec::new(),
                        },
                    });
                }
                "Dial" => {
                    if let Some(next) = self.dial(verb, doc, out)? {
                        return Ok(next);
                    }
                }
                "Record" => return self.record(verb, doc, out),
                "Hangup" => {
                    out.emit(Event::Hangup);
                    return Ok(Next::End("hangup".into()));
                }
                "Reject" => {
                    let reason = verb.attr("reason").unwrap_or("rejected").to_string();
                    out.emit(Event::Reject { reason });
                    return Ok(Next::End("rejected".into()));
                }
                "Leave" => {
                    out.emit(Event::Leave);
                    return Ok(Next::Leave);
                }
                "Enqueue" => {
                    if let Some(next) = self.enqueue(verb, doc, out)? {
                        return Ok(next);
                    }
                }
                "Sms" | "Message" => {
                    out.emit(Event::Sms {
                        from: verb.attr("from").map(str::to_string),
                        to: verb.attr("to").map(str::to_string),
                        body: verb.text.clone(),
                    });
                    if let Some(action) = verb.attr("action") {
                        let sms_sid = self.sid("SM");
                        return Ok(Next::Fetch {
                            req: Request {
                                method: method_of(verb, "method")?,
                                url: resolve(&doc.url, action)?,
                                extra: vec![
                                    ("SmsSid".into(), sms_sid),
                                    ("SmsStatus".into(), "sending".into()),
                                ],
                            },
                        });
                    }
                }
                other => {
                    // The rules already refused anything else.
                    return Err(format!("<{other}> cannot be simulated"));
                }
            }
        }
        Ok(Next::DocEnd)
    }

    fn gather(&mut self, g: &Node, doc: &Doc, out: &mut Printer) -> Result<Option<Next>, String> {
        for p in &g.children {
            prompt_event(p, true, out);
        }
        let num_digits = g
            .attr("numDigits")
            .and_then(|n| n.trim().parse::<u32>().ok());
        let timeout = g
            .attr("timeout")
            .and_then(|n| n.trim().parse::<u32>().ok())
            .unwrap_or(5);
        let finish = g.attr("finishOnKey").unwrap_or("#");
        let dtmf = g
            .attr("input")
            .is_none_or(|i| i.split_whitespace().any(|t| t == "dtmf"));
        let keys = self.inputs.keys("<Gather>")?;
        let pressed = match keys {
            Keys::Hangup => {
                out.emit(Event::CallerHangup);
                return Ok(Some(Next::End("caller hung up".into())));
            }
            Keys::Nothing => None,
            Keys::Pressed(_) if !dtmf => {
                return Err(
                    "this <Gather> listens for speech only, which `ivr call` cannot simulate: use `-` for it"
                        .into(),
                );
            }
            Keys::Pressed(p) => Some(p),
        };
        // What Twilio would submit: digits up to the finish key or numDigits.
        let mut digits = String::new();
        let mut finished_on = String::new();
        if let Some(p) = &pressed {
            let mut chars = p.chars();
            for c in chars.by_ref() {
                if finish.contains(c) && !finish.is_empty() {
                    finished_on.push(c);
                    break;
                }
                digits.push(c);
                if num_digits.is_some_and(|n| digits.chars().count() as u32 >= n) {
                    break;
                }
            }
            let rest: String = chars.collect();
            if !rest.is_empty() {
                return Err(format!(
                    "pressed `{p}`, but this <Gather> stops after `{digits}{finished_on}` (numDigits {}, finishOnKey `{finish}`); `{rest}` would be left over",
                    num_digits.map_or("unlimited".to_string(), |n| n.to_string()),
                ));
            }
        }
        out.emit(Event::Gather {
            num_digits,
            timeout,
            pressed: pressed.clone(),
        });
        let on_empty = g.attr("actionOnEmptyResult") == Some("true");
        if digits.is_empty() && !on_empty {
            // No input: Twilio moves on to the next verb.
            return Ok(None);
        }
        let url = match g.attr("action") {
            Some(a) => resolve(&doc.url, a)?,
            None => doc.url.clone(),
        };
        Ok(Some(Next::Fetch {
            req: Request {
                method: method_of(g, "method")?,
                url,
                extra: vec![
                    ("Digits".into(), digits),
                    ("FinishedOnKey".into(), finished_on),
                ],
            },
        }))
    }

    fn dial(&mut self, d: &Node, doc: &Doc, out: &mut Printer) -> Result<Option<Next>, String> {
        let target = if d.children.is_empty() {
            d.text.clone()
        } else {
            d.children
                .iter()
                .map(|n| match n.name.as_str() {
                    "Number" | "Sip" => n.text.clone(),
                    "Client" => format!(
                        "client {}",
                        n.children
                            .iter()
                            .find(|c| c.name == "Identity")
                            .map_or(n.text.as_str(), |c| c.text.as_str())
                    ),
                    other => format!("{} {}", other.to_ascii_lowercase(), n.text),
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let outcome = self.inputs.dial(&target)?;
        let duration = if outcome == DialOutcome::Completed {
            self.dial_seconds
        } else {
            0
        };
        out.emit(Event::Dial {
            target,
            outcome: outcome.as_str().into(),
            duration,
        });
        let queue = d.children.iter().find(|n| n.name == "Queue");
        if let (Some(q), DialOutcome::Completed) = (queue, outcome) {
            if let Some(url) = q.attr("url") {
                self.announce(q, &doc.url, url, out)?;
            }
        }
        let recorded = d
            .attr("record")
            .is_some_and(|r| r.starts_with("record-from") || r == "true");
        if outcome == DialOutcome::Completed && recorded {
            if let Some(cb) = d.attr("recordingStatusCallback") {
                let dual = d.attr("record").is_some_and(|r| r.ends_with("-dual"));
                self.defer_recording(d, &doc.url, cb, duration, "DialVerb", dual)?;
            }
        }
        let Some(action) = d.attr("action") else {
            return Ok(None);
        };
        let dial_sid = self.sid("CA");
        let mut extra: Vec<(String, String)> = vec![
            ("DialCallStatus".into(), outcome.as_str().into()),
            ("DialCallDuration".into(), duration.to_string()),
            ("DialCallSid".into(), dial_sid),
        ];
        if queue.is_some() {
            extra.push((
                "DialBridged".into(),
                (outcome == DialOutcome::Completed).to_string(),
            ));
        }
        Ok(Some(Next::Fetch {
            req: Request {
                method: method_of(d, "method")?,
                url: resolve(&doc.url, action)?,
                extra,
            },
        }))
    }

    /// A `<Queue url>`: the dequeued caller hears it before the bridge.
    fn announce(
        &mut self,
        q: &Node,
        base: &Url,
        url: &str,
        out: &mut Printer,
    ) -> Result<(), String> {
        let queue_sid = self.sid("QU");
        let req = Request {
            method: method_of(q, "method")?,
            url: resolve(base, url)?,
            extra: vec![
                ("QueueSid".into(), queue_sid),
                ("QueueTime".into(), "30".into()),
                ("DequeingCallSid".into(), self.call_sid.clone()),
            ],
        };
        out.emit(Event::Callback {
            what: "queue url (played to the caller)".into(),
            method: req.method.to_string(),
            url: req.url.to_string(),
        });
        let doc = self.fetch_as(req, Context::QueueAnnounce, out)?;
        for verb in &doc.root.children {
            match verb.name.as_str() {
                "Say" => out.emit(Event::Announce {
                    text: verb.text.clone(),
                }),
                "Play" => out.emit(Event::Announce {
                    text: format!("(audio) {}", verb.text),
                }),
                _ => {}
            }
        }
        Ok(())
    }

    fn record(&mut self, r: &Node, doc: &Doc, out: &mut Printer) -> Result<Next, String> {
        let max_length = r
            .attr("maxLength")
            .and_then(|n| n.trim().parse::<u32>().ok())
            .unwrap_or(3600);
        let timeout = r
            .attr("timeout")
            .and_then(|n| n.trim().parse::<u32>().ok())
            .unwrap_or(5);
        let seconds = self.record_seconds.min(max_length);
        let (sid, url) = self.recording();
        out.emit(Event::Record {
            max_length,
            timeout,
            seconds,
            recording_url: url.clone(),
        });
        if let Some(cb) = r.attr("recordingStatusCallback") {
            self.defer_recording_with(r, &doc.url, cb, seconds, "RecordVerb", false, &sid, &url)?;
        }
        // Without an action, Twilio posts the recording to the current document's URL.
        let target = match r.attr("action") {
            Some(a) => resolve(&doc.url, a)?,
            None => doc.url.clone(),
        };
        Ok(Next::Fetch {
            req: Request {
                method: method_of(r, "method")?,
                url: target,
                extra: vec![
                    ("RecordingUrl".into(), url),
                    ("RecordingSid".into(), sid),
                    ("RecordingDuration".into(), seconds.to_string()),
                ],
            },
        })
    }

    /// A new recording: its SID and URL at Twilio — or, for an IVR on this
    /// machine, at a media server of ours, so its pipeline can fetch it.
    fn recording(&mut self) -> (String, String) {
        let sid = self.sid("RE");
        let path = format!("/2010-04-01/Accounts/{}/Recordings/{sid}", self.account_sid);
        if let Some(api) = &self.api_base {
            self.recordings += 1;
            return (sid, format!("{api}{path}"));
        }
        if self.media.is_none()
            && self.media_wait > 0
            && matches!(self.transport, Transport::Http { .. })
            && media::is_loopback(&self.entry)
        {
            self.media = media::MediaServer::start();
        }
        let url = match &self.media {
            Some(m) => format!("{}{path}", m.base()),
            None => format!("https://api.twilio.com{path}"),
        };
        self.recordings += 1;
        (sid, url)
    }

    fn defer_recording(
        &mut self,
        verb: &Node,
        base: &Url,
        callback: &str,
        seconds: u32,
        source: &str,
        dual: bool,
    ) -> Result<(), String> {
        let (sid, url) = self.recording();
        self.defer_recording_with(verb, base, callback, seconds, source, dual, &sid, &url)
    }

    #[allow(clippy::too_many_arguments)]
    fn defer_recording_with(
        &mut self,
        verb: &Node,
        base: &Url,
        callback: &str,
        seconds: u32,
        source: &str,
        dual: bool,
        sid: &str,
        url: &str,
    ) -> Result<(), String> {
        let events = verb
            .attr("recordingStatusCallbackEvent")
            .unwrap_or("completed");
        if !events.split([' ', ',']).any(|e| e.trim() == "completed") {
            return Ok(());
        }
        let start = self.now.to_rfc2822();
        self.deferred.push(Deferred {
            what: "recording status completed",
            req: Request {
                method: method_of(verb, "recordingStatusCallbackMethod")?,
                url: resolve(base, callback)?,
                extra: vec![
                    ("RecordingSid".into(), sid.to_string()),
                    ("RecordingUrl".into(), url.to_string()),
                    ("RecordingStatus".into(), "completed".into()),
                    ("RecordingDuration".into(), seconds.to_string()),
                    (
                        "RecordingChannels".into(),
                        if dual { "2" } else { "1" }.into(),
                    ),
                    ("RecordingSource".into(), source.to_string()),
                    ("RecordingStartTime".into(), start),
                    ("ErrorCode".into(), "0".into()),
                ],
            },
        });
        Ok(())
    }

    fn enqueue(&mut self, e: &Node, doc: &Doc, out: &mut Printer) -> Result<Option<Next>, String> {
        let queue = if e.text.is_empty() {
            format!("workflow {}", e.attr("workflowSid").unwrap_or_default())
        } else {
            e.text.clone()
        };
        out.emit(Event::Enqueue {
            queue: queue.clone(),
        });
        let queue_sid = self.sid("QU");
        let outcome = self.inputs.queue();
        let position = self.queue_position.max(1);
        let avg_wait = self.queue_avg_wait;
        let wait_params = |queue_time: u32| -> Vec<(String, String)> {
            [
                ("QueueSid", queue_sid.clone()),
                ("QueuePosition", position.to_string()),
                ("QueueTime", queue_time.to_string()),
                ("AvgQueueTime", avg_wait.to_string()),
                ("CurrentQueueSize", position.to_string()),
                ("MaxQueueSize", "100".to_string()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
        };
        let action_req = |result: &str, queue_time: u32| -> Result<Option<Request>, String> {
            let Some(action) = e.attr("action") else {
                return Ok(None);
            };
            Ok(Some(Request {
                method: method_of(e, "method")?,
                url: resolve(&doc.url, action)?,
                extra: vec![
                    ("QueueResult".into(), result.into()),
                    ("QueueSid".into(), queue_sid.clone()),
                    ("QueueTime".into(), queue_time.to_string()),
                ],
            }))
        };
        // Passes of the wait document; Twilio requests it again when a pass ends.
        let wait_req = |queue_time: u32| -> Result<Option<Request>, String> {
            match e.attr("waitUrl") {
                Some(u) => Ok(Some(Request {
                    method: method_of(e, "waitUrlMethod")?,
                    url: resolve(&doc.url, u)?,
                    extra: wait_params(queue_time),
                })),
                None => Ok(None),
            }
        };
        let mut queue_time = 0u32;
        let mut passes = 0u32;
        let mut wait = match wait_req(0)? {
            Some(req) => Some(self.fetch_as(req, Context::QueueWait, out)?),
            None => None,
        };
        let result = loop {
            let Some(w) = wait.take() else {
                break outcome.as_str();
            };
            let seconds = pass_seconds(&w.root);
            match self.run_doc(&w, out)? {
                Next::End(reason) => {
                    // Hung up in the queue (or a <Hangup> there): Twilio still tells the action.
                    if let Some(req) = action_req("hangup", queue_time + seconds)? {
                        self.callback("queue result hangup", &req, out)?;
                    }
                    return Ok(Some(Next::End(reason)));
                }
                Next::Leave => break "leave",
                Next::Fetch { req, .. } => {
                    // The offer's key press, or a <Redirect>: the next wait document.
                    queue_time += seconds;
                    wait = Some(self.fetch_as(req, Context::QueueWait, out)?);
                }
                Next::DocEnd => {
                    queue_time += seconds;
                    passes += 1;
                    if passes < self.queue_passes {
                        if let Some(req) = wait_req(queue_time)? {
                            wait = Some(self.fetch_as(req, Context::QueueWait, out)?);
                        }
                    }
                }
            }
        };
        out.emit(Event::Dequeue {
            queue,
            result: result.into(),
        });
        if result == "hangup" {
            out.emit(Event::CallerHangup);
            if let Some(req) = action_req("hangup", queue_time)? {
                self.callback("queue result hangup", &req, out)?;
            }
            return Ok(Some(Next::End("caller hung up".into())));
        }
        // Bridged: the action comes once the conversation is over.
        let queue_time = if result == "bridged" {
            queue_time + self.dial_seconds
        } else {
            queue_time
        };
        Ok(action_req(result, queue_time)?.map(|req| Next::Fetch { req }))
    }

    /// A request whose answer does not steer the call (the caller is gone).
    fn callback(&mut self, what: &str, req: &Request, out: &mut Printer) -> Result<(), String> {
        out.emit(Event::Callback {
            what: what.into(),
            method: req.method.to_string(),
            url: req.url.to_string(),
        });
        self.send(req, out, true).map(|_| ())
    }
}

/// About how long a wait document plays: pauses, a second per 15
/// characters said, 30 seconds per file played, and a Gather's timeout.
fn pass_seconds(root: &Node) -> u32 {
    fn of(n: &Node) -> u32 {
        let loops = n
            .attr("loop")
            .and_then(|l| l.trim().parse::<u32>().ok())
            .unwrap_or(1)
            .max(1);
        match n.name.as_str() {
            "Pause" => n
                .attr("length")
                .and_then(|l| l.trim().parse::<u32>().ok())
                .unwrap_or(1),
            "Say" => loops * (n.text.chars().count() as u32).div_ceil(15),
            "Play" => loops * 30,
            "Gather" => {
                n.children.iter().map(of).sum::<u32>()
                    + n.attr("timeout")
                        .and_then(|l| l.trim().parse::<u32>().ok())
                        .unwrap_or(5)
            }
            _ => 0,
        }
    }
    root.children.iter().map(of).sum()
}

/// `<Say>`, `<Play>` and `<Pause>`: what the caller hears.
fn prompt_event(el: &Node, in_gather: bool, out: &mut Printer) {
    let loops = el
        .attr("loop")
        .and_then(|n| n.trim().parse::<u32>().ok())
        .unwrap_or(1);
    match el.name.as_str() {
        "Say" => {
            let mut text = el.text.clone();
            for c in &el.children {
                let words = ssml_text(c);
                if !words.is_empty() {
                    if !text.is_empty() {
                        text.push(' ');
                    }
                    text.push_str(&words);
                }
            }
            out.emit(Event::Say {
                text,
                voice: el.attr("voice").map(str::to_string),
                language: el.attr("language").map(str::to_string),
                loops,
                in_gather,
            })
        }
        "Play" => out.emit(Event::Play {
            url: Some(el.text.clone()).filter(|t| !t.is_empty()),
            digits: el.attr("digits").map(str::to_string),
            loops,
            in_gather,
        }),
        "Pause" => out.emit(Event::Pause {
            seconds: el
                .attr("length")
                .and_then(|n| n.trim().parse::<u32>().ok())
                .unwrap_or(1),
            in_gather,
        }),
        _ => {}
    }
}

/// The words of an SSML element (`<sub alias=…>` says its alias).
fn ssml_text(el: &Node) -> String {
    if el.name == "sub" {
        if let Some(a) = el.attr("alias") {
            return a.to_string();
        }
    }
    let mut parts = vec![el.text.clone()];
    parts.extend(el.children.iter().map(ssml_text));
    parts.retain(|p| !p.is_empty());
    parts.join(" ")
}

/// An attribute holding GET or POST (default POST, as Twilio).
fn method_of(el: &Node, attr: &str) -> Result<Method, String> {
    match el.attr(attr).map(str::to_ascii_uppercase).as_deref() {
        None | Some("POST") => Ok(Method::POST),
        Some("GET") => Ok(Method::GET),
        Some(other) => Err(format!(
            "<{} {attr}=\"{other}\">: expected GET or POST",
            el.name
        )),
    }
}

/// Relative URLs resolve against the current document's URL, as Twilio does.
fn resolve(base: &Url, reference: &str) -> Result<Url, String> {
    let url = base
        .join(reference.trim())
        .map_err(|e| format!("`{reference}` is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("`{reference}` is not an http(s) URL"));
    }
    Ok(url)
}

fn is_sid(s: &str, prefix: &str) -> bool {
    s.len() == 34 && s.starts_with(prefix) && s[2..].chars().all(|c| c.is_ascii_hexdigit())
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// `n` random hex digits (for a CallSid, or a throwaway in-process auth token).
fn random_hex(n: usize) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::with_capacity(n + 16);
    let mut i = 0u64;
    while out.len() < n {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        h.write_u32(std::process::id());
        out.push_str(&format!("{:016x}", h.finish()));
        i += 1;
    }
    out.truncate(n);
    out
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn shorten(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut i = max;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    format!("{}…", &s[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse() {
        assert_eq!(parse_keys("1"), Ok(Keys::Pressed("1".into())));
        assert_eq!(parse_keys("12#"), Ok(Keys::Pressed("12#".into())));
        assert_eq!(parse_keys("-"), Ok(Keys::Nothing));
        assert_eq!(parse_keys("hangup"), Ok(Keys::Hangup));
        assert!(parse_keys("1a").is_err());
    }

    #[test]
    fn relative_urls_resolve_against_the_document() {
        let base = Url::parse("https://h.example/api/ivr/menu?loop_count=1").unwrap();
        assert_eq!(
            resolve(&base, "/ivr/action/x").unwrap().as_str(),
            "https://h.example/ivr/action/x"
        );
        assert_eq!(
            resolve(&base, "option?x=1").unwrap().as_str(),
            "https://h.example/api/ivr/option?x=1"
        );
        assert!(resolve(&base, "mailto:a@b").is_err());
    }

    #[test]
    fn sids() {
        assert!(is_sid(&format!("CA{}", random_hex(32)), "CA"));
        assert!(!is_sid("CA123", "CA"));
    }
}
