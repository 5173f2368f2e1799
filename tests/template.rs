//! template.yaml and the workspace agree: one function per folder in
//! functions/, every served route is an API route for GET and POST, and
//! every function has its keep-warm schedule carrying the warm-up event.

use std::collections::BTreeSet;
use std::path::Path;

use serde_yaml::Value;
use shared::Function;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

fn template() -> Value {
    let text = std::fs::read_to_string(repo().join("template.yaml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

/// `!Ref X` and friends parse as tagged values; this unwraps the tag.
fn untag(v: &Value) -> &Value {
    match v {
        Value::Tagged(t) => &t.value,
        other => other,
    }
}

fn functions(t: &Value) -> Vec<(String, &Value)> {
    t["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(k, r)| (k.as_str().unwrap().to_string(), r))
        .collect()
}

/// The function a resource deploys: its `CodeUri` is the zip `make build`
/// writes, `target/lambda/<binary>/bootstrap.zip`.
fn binary(r: &Value) -> String {
    let uri = r["Properties"]["CodeUri"].as_str().unwrap();
    uri.strip_prefix("target/lambda/")
        .and_then(|u| u.strip_suffix("/bootstrap.zip"))
        .unwrap_or_else(|| panic!("CodeUri {uri} is not a zip make build writes"))
        .to_string()
}

#[test]
fn every_function_folder_is_in_the_template_and_vice_versa() {
    let t = template();
    let in_template: BTreeSet<String> = functions(&t).iter().map(|(_, r)| binary(r)).collect();
    // Folders only: functions/ also holds files the crates share (build.rs).
    let folders: BTreeSet<String> = std::fs::read_dir(repo().join("functions"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    assert_eq!(in_template, folders);
    let mut known: BTreeSet<String> = Function::ALL.iter().map(|f| f.name().to_string()).collect();
    // Not Twilio routes: the worker takes recording jobs off the queue; the
    // work-item API answers other systems.
    known.insert("recording-worker".to_string());
    known.insert("api".to_string());
    assert_eq!(
        known, folders,
        "shared::Function::ALL (+ recording-worker, api) and functions/ differ"
    );
    for (name, r) in functions(&t) {
        // A built artifact: SAM has nothing to build, cargo's cache decides.
        assert!(r["Metadata"]["BuildMethod"].is_null(), "{name}");
    }
    let globals = &t["Globals"]["Function"];
    assert_eq!(globals["Runtime"], "provided.al2023");
    assert_eq!(globals["Handler"], "bootstrap");
}

/// config.ini is a layer beside the code, not part of it: every function
/// has the layer and reads `/opt/config.ini`, which is where Lambda unpacks
/// the layer's folder; no function crate can see config.ini at build time.
#[test]
fn the_config_ships_in_a_layer_every_function_reads() {
    let t = template();
    let layer = &t["Resources"]["ConfigLayer"];
    assert_eq!(layer["Type"], "AWS::Serverless::LayerVersion");
    let content = layer["Properties"]["ContentUri"].as_str().unwrap();
    assert_eq!(content, "target/config-layer");
    let globals = &t["Globals"]["Function"];
    let layers = globals["Layers"].as_sequence().unwrap();
    assert_eq!(untag(&layers[0]), "ConfigLayer");
    let path = globals["Environment"]["Variables"]["IVR_CONFIG"]
        .as_str()
        .unwrap();
    assert_eq!(path, format!("/opt/{}", "config.ini"));
    assert_eq!(
        path,
        shared::shell::LAYER_CONFIG,
        "where the functions look by default"
    );
    // The Makefile fills the layer's folder with the checked config.
    let makefile = std::fs::read_to_string(repo().join("Makefile")).unwrap();
    assert!(
        makefile.contains(&format!("CONFIG_LAYER := {content}\n"))
            && makefile.contains("cp $(CONFIG) $(CONFIG_LAYER)/config.ini"),
        "make build writes {content}/config.ini"
    );
    // Nothing a function is built from reads config.ini: an edit rebuilds nothing.
    for dir in ["shared/src", "functions", "aws/src"] {
        for file in rust_files(&repo().join(dir)) {
            let text = std::fs::read_to_string(&file).unwrap();
            let test_only = file.to_string_lossy().contains("test");
            let embeds = text
                .lines()
                .any(|l| l.contains("include_str!") && l.contains("/config.ini\")"));
            assert!(
                test_only || !embeds,
                "{} compiles config.ini in",
                file.display()
            );
        }
    }
}

fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out
}

#[test]
fn every_served_route_is_an_api_route_for_get_and_post() {
    let t = template();
    let fns = functions(&t);
    for f in Function::ALL {
        let (name, r) = fns
            .iter()
            .find(|(_, r)| binary(r) == f.name())
            .unwrap_or_else(|| panic!("{} missing", f.name()));
        let events = r["Properties"]["Events"].as_mapping().unwrap();
        let mut methods = BTreeSet::new();
        for (_, e) in events {
            if e["Type"] == "HttpApi" {
                assert_eq!(e["Properties"]["Path"].as_str(), Some(f.path()), "{name}");
                assert_eq!(untag(&e["Properties"]["ApiId"]), "Api", "{name}");
                methods.insert(e["Properties"]["Method"].as_str().unwrap().to_string());
            }
        }
        assert_eq!(
            methods,
            ["GET", "POST"].iter().map(|s| s.to_string()).collect(),
            "{name}"
        );
    }
}

#[test]
fn every_function_has_its_warm_up_schedule() {
    let t = template();
    for (name, r) in functions(&t) {
        let warm = r["Properties"]["Events"]
            .as_mapping()
            .unwrap()
            .values()
            .find(|e| e["Type"] == "Schedule")
            .unwrap_or_else(|| panic!("{name} has no schedule"));
        let input: serde_json::Value =
            serde_json::from_str(warm["Properties"]["Input"].as_str().unwrap()).unwrap();
        assert_eq!(input["version"], "2.0", "{name}");
        assert_eq!(input["rawPath"], "/ping", "{name}");
        assert_eq!(input["requestContext"]["http"]["method"], "GET", "{name}");
        assert_eq!(
            input["headers"]["user-agent"],
            shared::web::WARMUP_USER_AGENT,
            "{name}"
        );
    }
}

/// Every `Action` a function's policies grant, flattened (SAM policy templates by name).
fn granted(r: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for p in r["Properties"]["Policies"]
        .as_sequence()
        .into_iter()
        .flatten()
    {
        let Some(m) = p.as_mapping() else { continue };
        for (k, v) in m {
            if k == "Statement" {
                for st in v.as_sequence().into_iter().flatten() {
                    match untag(&st["Action"]) {
                        Value::String(a) => {
                            out.insert(a.clone());
                        }
                        Value::Sequence(list) => {
                            out.extend(list.iter().filter_map(|a| a.as_str().map(str::to_string)))
                        }
                        _ => {}
                    }
                }
            } else {
                out.insert(format!("template:{}", k.as_str().unwrap()));
            }
        }
    }
    out
}

#[test]
fn least_privilege_each_function_gets_only_the_rights_it_uses() {
    let t = template();
    for (name, r) in functions(&t) {
        assert!(r["Properties"]["Role"].is_null(), "{name} has a role");
        let rights = granted(r);
        let expected: BTreeSet<String> = match binary(r).as_str() {
            "recording-status" => ["template:SQSSendMessagePolicy", "dynamodb:UpdateItem"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            // A confirmed callback: conditional puts in one transaction, a read of one already there.
            "queue-callback" => ["dynamodb:GetItem", "dynamodb:PutItem"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            // Claims each after-call SMS once; the SMS itself is a Twilio REST call.
            "queue-result" => ["dynamodb:PutItem".to_string()].into_iter().collect(),
            "recording-worker" => [
                "s3:PutObject",
                "s3:GetObject",
                "dynamodb:GetItem",
                "dynamodb:UpdateItem",
                "sqs:ChangeMessageVisibility",
                "sqs:SendMessage",
                "ses:SendEmail",
                "ses:SendRawEmail",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            // Work items: reads, conditional writes (alone or in transactions), the list index.
            "api" => [
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:DeleteItem",
                "dynamodb:Query",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            // Rendering TwiML needs no AWS rights at all.
            _ => BTreeSet::new(),
        };
        assert_eq!(rights, expected, "{name}");
    }
}

/// CloudWatch takes at most 10 metrics (`MetricStat`s) per alarm, so each
/// kind of alarm is a pair: the call path and the back office. Together
/// they cover every function once.
#[test]
fn every_function_is_in_the_errors_throttles_and_ping_alarms() {
    let t = template();
    let resources = t["Resources"].as_mapping().unwrap();
    let names: BTreeSet<String> = functions(&t).into_iter().map(|(k, _)| k).collect();
    for (alarms, suffix) in [
        (["FunctionErrorsAlarm", "BackOfficeErrorsAlarm"], ""),
        (["FunctionThrottlesAlarm", "BackOfficeThrottlesAlarm"], ""),
        (["PingFailedAlarm", "BackOfficePingFailedAlarm"], "Warmup"),
    ] {
        let mut covered = BTreeSet::new();
        for alarm in alarms {
            let metrics = resources
                .get(alarm)
                .unwrap_or_else(|| panic!("{alarm} missing"))["Properties"]["Metrics"]
                .as_sequence()
                .unwrap();
            let mut ids = Vec::new();
            let mut expression = String::new();
            for m in metrics {
                let id = m["Id"].as_str().unwrap().to_string();
                if let Some(e) = m["Expression"].as_str() {
                    expression = e.to_string();
                    continue;
                }
                let value = untag(&m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]);
                let value = value.as_str().unwrap();
                let function = value.strip_suffix(suffix).unwrap().to_string();
                assert!(covered.insert(function), "{alarm}: {value} twice");
                ids.push(id);
            }
            assert!(
                ids.len() <= 10,
                "{alarm} has {} metrics; CloudWatch takes 10",
                ids.len()
            );
            for id in ids {
                assert!(
                    expression.contains(&format!("{id},"))
                        || expression.contains(&format!("{id}]")),
                    "{alarm}: {id} is not in {expression}"
                );
            }
        }
        assert_eq!(covered, names, "{alarms:?}");
    }
}

#[test]
fn recordings_bucket_is_private_encrypted_and_tls_only() {
    let t = template();
    let b = &t["Resources"]["RecordingsBucket"]["Properties"];
    let pab = &b["PublicAccessBlockConfiguration"];
    for k in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(pab[k], true, "{k}");
    }
    assert!(!b["BucketEncryption"].is_null());
    let stmt =
        &t["Resources"]["RecordingsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0];
    assert_eq!(stmt["Effect"], "Deny");
    assert_eq!(stmt["Condition"]["Bool"]["aws:SecureTransport"], "false");
}

#[test]
fn the_auth_token_is_a_no_echo_parameter() {
    let t = template();
    assert_eq!(t["Parameters"]["TwilioAuthToken"]["NoEcho"], true);
    let text = std::fs::read_to_string(repo().join("template.yaml")).unwrap();
    assert!(!text.contains("auth_token ="), "no secrets in the template");
}

/// The work table is the one `aws/src/work.rs` reads: key `pk`, the
/// `by_place` index (hash `list`, range `place`); the API function gets the
/// table's name, the keys as a secret, and rights on the index.
#[test]
fn the_work_table_and_api_keys_are_what_the_api_function_reads() {
    let t = template();
    assert_eq!(t["Parameters"]["ApiKeys"]["NoEcho"], true);
    let table = &t["Resources"]["WorkTable"]["Properties"];
    assert_eq!(table["KeySchema"][0]["AttributeName"], "pk");
    let index = &table["GlobalSecondaryIndexes"][0];
    assert_eq!(index["IndexName"], "by_place");
    assert_eq!(index["KeySchema"][0]["AttributeName"], "list");
    assert_eq!(index["KeySchema"][1]["AttributeName"], "place");
    assert_eq!(index["Projection"]["ProjectionType"], "ALL");
    let f = &t["Resources"]["ApiFunction"]["Properties"];
    let vars = &f["Environment"]["Variables"];
    assert!(serde_yaml::to_string(&vars["IVR_WORK_TABLE"])
        .unwrap()
        .contains("WorkTable"));
    assert!(serde_yaml::to_string(&vars["IVR_API_KEYS"])
        .unwrap()
        .contains("ApiKeys"));
    let policy = serde_yaml::to_string(&f["Policies"]).unwrap();
    assert!(policy.contains("/index/by_place"), "{policy}");
    let events = serde_yaml::to_string(&f["Events"]).unwrap();
    for (path, method) in [
        ("/api/callbacks", "GET"),
        ("/api/callbacks", "POST"),
        ("/api/callbacks/{id}", "GET"),
        ("/api/callbacks/{id}", "DELETE"),
    ] {
        assert!(
            f["Events"]
                .as_mapping()
                .unwrap()
                .values()
                .any(|e| e["Properties"]["Path"] == path && e["Properties"]["Method"] == method),
            "{method} {path} in {events}"
        );
    }
}

/// `make deploy` checks the secrets, the AWS region and credentials before
/// it builds anything: a missing one costs a second, not a full build.
#[test]
fn deploy_checks_secrets_and_aws_before_building_anything() {
    let home = std::env::temp_dir().join(format!("ivr-preflight-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let cases: [(&[(&str, &str)], &str); 4] = [
        (&[], "TWILIO_AUTH_TOKEN is not set"),
        (
            &[("TWILIO_AUTH_TOKEN", "t"), ("TWILIO_ACCOUNT_SID", "AC123")],
            "TWILIO_ACCOUNT_SID is not an account SID",
        ),
        (&[("TWILIO_AUTH_TOKEN", "t")], "no AWS region"),
        (
            &[("TWILIO_AUTH_TOKEN", "t"), ("AWS_REGION", "eu-west-2")],
            "no AWS credentials",
        ),
    ];
    for (env, expected) in cases {
        let out = std::process::Command::new("make")
            .args(["--no-print-directory", "deploy"])
            .current_dir(repo())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &home)
            .envs(env.iter().copied())
            .output()
            .expect("make runs");
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.status.success(), "{env:?}: {said}");
        assert!(said.contains(expected), "{env:?}: {said}");
        assert!(
            !said.contains("cargo"),
            "{env:?} built something first: {said}"
        );
    }
    let _ = std::fs::remove_dir_all(&home);
}

// ---------------------------------------------------------------------------
// Monitoring: the reachability canary, Twilio's alerts, the dashboard and
// the saved queries (issue 15).

/// The tag of `!Ref X`, `!Sub …` and friends, without the `!`.
fn tag(v: &Value) -> Option<String> {
    match v {
        Value::Tagged(t) => Some(t.tag.to_string().trim_start_matches('!').to_string()),
        _ => None,
    }
}

/// `!Ref name`?
fn is_ref(v: &Value, name: &str) -> bool {
    tag(v).as_deref() == Some("Ref") && untag(v) == name
}

/// The text of `!Sub "…"` or `!Sub ["…", {vars}]`.
fn sub_text(v: &Value) -> String {
    assert_eq!(tag(v).as_deref(), Some("Sub"), "not a !Sub: {v:?}");
    match untag(v) {
        Value::String(s) => s.clone(),
        Value::Sequence(parts) => parts[0].as_str().unwrap().to_string(),
        other => panic!("odd !Sub {other:?}"),
    }
}

/// `text` with each `${name}` replaced by `<name>`, and the names.
fn sub_names(text: &str) -> (String, Vec<String>) {
    let (mut out, mut names, mut rest) = (String::new(), Vec::new(), text);
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let j = after.find('}').expect("an unclosed ${");
        names.push(after[..j].to_string());
        out.push_str(&format!("<{}>", &after[..j]));
        rest = &after[j + 1..];
    }
    out.push_str(rest);
    (out, names)
}

fn of_type<'a>(t: &'a Value, ty: &str) -> Vec<(String, &'a Value)> {
    t["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == ty)
        .map(|(k, r)| (k.as_str().unwrap().to_string(), r))
        .collect()
}

fn resource_type(t: &Value, name: &str) -> Option<String> {
    t["Resources"][name]["Type"].as_str().map(str::to_string)
}

/// Every function's log group (its `LoggingConfig`), by resource name.
fn function_log_groups(t: &Value) -> BTreeSet<String> {
    functions(t)
        .iter()
        .map(|(name, r)| {
            let g = &r["Properties"]["LoggingConfig"]["LogGroup"];
            assert_eq!(tag(g).as_deref(), Some("Ref"), "{name}");
            untag(g).as_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn the_canary_calls_the_stacks_own_url_with_the_repository_script() {
    let t = template();
    let canary = &t["Resources"]["ReachabilityCanary"];
    assert_eq!(canary["Type"], "AWS::Synthetics::Canary");
    assert_eq!(canary["Condition"], "CanaryEnabled");
    let p = &canary["Properties"];
    // The base of the stack's own outputs: what Twilio is told to call.
    let base = sub_text(&p["RunConfig"]["EnvironmentVariables"]["IVR_BASE_URL"]);
    assert!(base.starts_with("https://${Api}."), "{base}");
    assert_eq!(
        format!("{base}/ping"),
        sub_text(&t["Outputs"]["PingUrl"]["Value"])
    );
    assert_eq!(
        format!("{base}/ivr"),
        sub_text(&t["Outputs"]["WebhookUrl"]["Value"])
    );
    // The inlined script is the repository's, which the monitoring tests run.
    let file = std::fs::read_to_string(repo().join("infra/canary/reachability.js")).unwrap();
    assert_eq!(
        p["Code"]["Script"].as_str().unwrap(),
        file,
        "template.yaml's canary script and infra/canary/reachability.js differ"
    );
    assert_eq!(p["Code"]["Handler"], "reachability.handler");
    assert!(file.contains("module.exports = { handler,"));
    assert!(file.contains("process.env.IVR_BASE_URL"));
    assert!(file.contains("const DEFAULT_TIMEOUT_MS = 3000;"));
    // Everything that exists for the canary goes with it.
    for name in [
        "CanaryArtifactsBucket",
        "CanaryArtifactsBucketPolicy",
        "CanaryRole",
        "ReachabilityAlarm",
    ] {
        assert_eq!(t["Resources"][name]["Condition"], "CanaryEnabled", "{name}");
    }
    assert_eq!(t["Outputs"]["CanaryName"]["Condition"], "CanaryEnabled");
    assert!(
        is_ref(&p["ExecutionRoleArn"], "CanaryRole")
            || tag(&p["ExecutionRoleArn"]).as_deref() == Some("GetAtt")
    );
    assert_eq!(
        sub_text(&p["ArtifactS3Location"]),
        "s3://${CanaryArtifactsBucket}/canary"
    );
    let bucket = &t["Resources"]["CanaryArtifactsBucket"]["Properties"];
    assert_eq!(
        bucket["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"],
        true
    );
}

/// `CanaryRateMinutes` sets the schedule and the alarm's period through one
/// mapping (one run per period); 0 turns the canary off.
#[test]
fn the_canary_interval_is_a_parameter_and_zero_turns_it_off() {
    let t = template();
    let param = &t["Parameters"]["CanaryRateMinutes"];
    assert_eq!(param["Type"], "Number");
    let allowed: Vec<u64> = param["AllowedValues"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert!(allowed.contains(&0) && allowed.contains(&param["Default"].as_u64().unwrap()));
    let map = t["Mappings"]["CanarySchedule"].as_mapping().unwrap();
    let keys: Vec<String> = map
        .keys()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    assert_eq!(keys, allowed.iter().map(u64::to_string).collect::<Vec<_>>());
    for n in allowed.iter().copied().filter(|n| *n > 0) {
        let row = &map[&Value::String(n.to_string())];
        let expected = match n {
            1 => "rate(1 minute)".to_string(),
            60 => "rate(1 hour)".to_string(),
            n => format!("rate({n} minutes)"),
        };
        assert_eq!(row["Expression"], expected.as_str());
        assert_eq!(row["PeriodSeconds"].as_u64(), Some(n * 60));
    }
    let find = |v: &Value, column: &str| {
        assert_eq!(tag(v).as_deref(), Some("FindInMap"));
        let args = untag(v).as_sequence().unwrap();
        assert_eq!(args[0], "CanarySchedule");
        assert!(is_ref(&args[1], "CanaryRateMinutes"));
        assert_eq!(args[2], column);
    };
    find(
        &t["Resources"]["ReachabilityCanary"]["Properties"]["Schedule"]["Expression"],
        "Expression",
    );
    find(
        &t["Resources"]["ReachabilityAlarm"]["Properties"]["Period"],
        "PeriodSeconds",
    );
    let cond = &t["Conditions"]["CanaryEnabled"];
    assert_eq!(tag(cond).as_deref(), Some("Not"));
    let eq = &untag(cond)[0];
    assert_eq!(tag(eq).as_deref(), Some("Equals"));
    assert!(is_ref(&untag(eq)[0], "CanaryRateMinutes"));
    assert_eq!(untag(eq)[1].as_u64(), Some(0));
}

#[test]
fn the_reachability_alarm_fires_after_two_failed_runs_and_clears() {
    let t = template();
    let a = &t["Resources"]["ReachabilityAlarm"]["Properties"];
    assert_eq!(a["Namespace"], "CloudWatchSynthetics");
    assert_eq!(a["MetricName"], "SuccessPercent");
    assert_eq!(a["Dimensions"][0]["Name"], "CanaryName");
    assert!(is_ref(&a["Dimensions"][0]["Value"], "ReachabilityCanary"));
    assert_eq!(a["EvaluationPeriods"], 2);
    assert_eq!(a["DatapointsToAlarm"], 2);
    assert_eq!(a["ComparisonOperator"], "LessThanThreshold");
    assert_eq!(a["Threshold"], 100);
}

/// Every alarm tells the topic when it fires and when it clears.
#[test]
fn every_alarm_notifies_the_topic_and_clears() {
    let t = template();
    let alarms = of_type(&t, "AWS::CloudWatch::Alarm");
    assert!(alarms.len() >= 9, "{alarms:?}");
    for (name, a) in alarms {
        for key in ["AlarmActions", "OKActions"] {
            let actions = a["Properties"][key]
                .as_sequence()
                .unwrap_or_else(|| panic!("{name} has no {key}"));
            assert_eq!(actions.len(), 1, "{name} {key}");
            assert!(is_ref(&actions[0], "AlarmTopic"), "{name} {key}");
        }
    }
}

/// Metric filters: (resource, log group, namespace, metric, dimension keys, pattern).
fn metric_filters(t: &Value) -> Vec<(String, String, String, String, BTreeSet<String>, String)> {
    of_type(t, "AWS::Logs::MetricFilter")
        .into_iter()
        .map(|(name, r)| {
            let p = &r["Properties"];
            let m = &p["MetricTransformations"][0];
            let dims = m["Dimensions"]
                .as_sequence()
                .into_iter()
                .flatten()
                .map(|d| d["Key"].as_str().unwrap().to_string())
                .collect();
            (
                name,
                untag(&p["LogGroupName"]).as_str().unwrap().to_string(),
                sub_names(&sub_text(&m["MetricNamespace"])).0,
                m["MetricName"].as_str().unwrap().to_string(),
                dims,
                p["FilterPattern"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn twilio_errors_are_counted_by_code_and_alarmed() {
    let t = template();
    let filters = metric_filters(&t);
    let find = |name: &str| {
        filters
            .iter()
            .find(|f| f.0 == name)
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    let errors = find("TwilioErrorsMetricFilter");
    assert_eq!(errors.1, "TwilioAlertsLogs");
    assert!(errors.5.contains(r#"$.fields.message = "twilio alert""#));
    assert!(errors.5.contains(r#"$.fields.alert_level = "error""#));
    let by_code = find("TwilioAlertsByCodeMetricFilter");
    assert_eq!(by_code.1, "TwilioAlertsLogs");
    assert!(by_code.4.contains("Code"));
    let a = &t["Resources"]["TwilioErrorsAlarm"]["Properties"];
    assert_eq!(sub_names(&sub_text(&a["Namespace"])).0, errors.2);
    assert_eq!(a["MetricName"], errors.3.as_str());
    assert_eq!(a["Statistic"], "Sum");
    assert_eq!(a["Threshold"], 1);
    // The function's log group is the one the filters read.
    let f = &t["Resources"]["TwilioAlertsFunction"]["Properties"];
    assert!(is_ref(&f["LoggingConfig"]["LogGroup"], "TwilioAlertsLogs"));
    assert_eq!(
        sub_text(&t["Outputs"]["TwilioAlertsUrl"]["Value"]),
        format!(
            "https://${{Api}}.execute-api.${{AWS::Region}}.amazonaws.com{}",
            Function::TwilioAlerts.path()
        )
    );
}

/// The recording metrics match what the Lambda worker logs (aws/src/lambda.rs).
#[test]
fn recording_metrics_match_the_worker_log_lines() {
    let t = template();
    let worker = std::fs::read_to_string(repo().join("aws/src/lambda.rs")).unwrap();
    for (metric, outcome) in [
        ("RecordingsStored", "done"),
        ("RecordingsRetried", "retry"),
        ("RecordingsDeadLettered", "failed"),
    ] {
        let f = metric_filters(&t)
            .into_iter()
            .find(|f| f.3 == metric)
            .unwrap_or_else(|| panic!("no filter for {metric}"));
        assert_eq!(f.1, "RecordingWorkerLogs", "{metric}");
        assert!(
            f.5.contains(&format!(r#"$.fields.outcome = "{outcome}""#))
                && f.5.contains(r#"$.fields.route = "recording-worker""#),
            "{metric}: {}",
            f.5
        );
        assert!(
            worker.contains(r#"route = "recording-worker", "#)
                && worker.contains(&format!(r#"outcome = "{outcome}""#)),
            "the worker no longer logs outcome {outcome}"
        );
    }
}

/// What AWS publishes for the resources this template creates: namespace,
/// the dimension the dashboard uses, and the metric names.
const AWS_METRICS: &[(&str, &str, &[&str])] = &[
    (
        "AWS/Lambda",
        "FunctionName",
        &["Duration", "Errors", "Throttles", "Invocations"],
    ),
    (
        "AWS/ApiGateway",
        "ApiId",
        &["Count", "4xx", "5xx", "Latency", "IntegrationLatency"],
    ),
    (
        "AWS/Events",
        "RuleName",
        &["Invocations", "FailedInvocations"],
    ),
    (
        "AWS/SQS",
        "QueueName",
        &[
            "ApproximateNumberOfMessagesVisible",
            "ApproximateAgeOfOldestMessage",
            "NumberOfMessagesSent",
        ],
    ),
    (
        "CloudWatchSynthetics",
        "CanaryName",
        &["SuccessPercent", "Duration", "Failed"],
    ),
];

/// The dashboard's widgets name only metrics that something in this stack
/// writes: AWS's own metrics of a resource defined here (the dimension
/// names that resource), or a metric filter's metric with exactly its
/// dimensions. Log widgets query only these functions' log groups.
#[test]
fn the_dashboard_reads_only_metrics_the_template_or_the_code_emits() {
    let t = template();
    let body = &t["Resources"]["Dashboard"]["Properties"]["DashboardBody"];
    let vars = untag(body)[1].clone();
    let (json, names) = sub_names(&sub_text(body));
    // Every substitution is a resource, an attribute, a warm-up rule, a variable or a pseudo parameter.
    for n in &names {
        let (res, _) = n.split_once('.').unwrap_or((n, ""));
        let ok = matches!(n.as_str(), "AWS::Region" | "AWS::StackName")
            || !vars[n.as_str()].is_null()
            || resource_type(&t, res).is_some()
            || n.strip_suffix("Warmup").is_some_and(|f| {
                t["Resources"][f]["Properties"]["Events"]["Warmup"]["Type"] == "Schedule"
            });
        assert!(ok, "${{{n}}} names nothing in the template");
    }
    let body: serde_json::Value = serde_json::from_str(&json).expect("the dashboard body is JSON");
    let custom: Vec<(String, String, BTreeSet<String>)> = metric_filters(&t)
        .into_iter()
        .map(|f| (f.2, f.3, f.4))
        .collect();
    let is_custom = |ns: &str, metric: &str, dims: &BTreeSet<String>| {
        custom
            .iter()
            .any(|(n, m, d)| n == ns && m == metric && d == dims)
    };
    let canary_var = |v: &str| {
        let name = v.trim_start_matches('<').trim_end_matches('>');
        let chosen = &vars[name];
        tag(chosen).as_deref() == Some("If")
            && untag(chosen)[0] == "CanaryEnabled"
            && untag(&untag(chosen)[1]) == "ReachabilityCanary"
    };
    let resolves = |dim: &str, value: &str| -> bool {
        let Some(v) = value.strip_prefix('<').and_then(|v| v.strip_suffix('>')) else {
            return false;
        };
        match dim {
            "FunctionName" => resource_type(&t, v).as_deref() == Some("AWS::Serverless::Function"),
            "ApiId" => resource_type(&t, v).as_deref() == Some("AWS::Serverless::HttpApi"),
            "RuleName" => v.strip_suffix("Warmup").is_some_and(|f| {
                resource_type(&t, f).as_deref() == Some("AWS::Serverless::Function")
            }),
            "QueueName" => v
                .strip_suffix(".QueueName")
                .is_some_and(|q| resource_type(&t, q).as_deref() == Some("AWS::SQS::Queue")),
            "CanaryName" => canary_var(value),
            _ => false,
        }
    };
    let mut shown: BTreeSet<(String, String)> = BTreeSet::new();
    let mut per_function: std::collections::BTreeMap<(String, String), BTreeSet<String>> =
        Default::default();
    let mut log_queries = Vec::new();
    for w in body["widgets"].as_array().unwrap() {
        let p = &w["properties"];
        let title = p["title"].as_str().unwrap_or("(text)");
        match w["type"].as_str().unwrap() {
            "text" => {}
            "log" => {
                let q = p["query"].as_str().unwrap();
                let mut sources = BTreeSet::new();
                let mut rest = q;
                while let Some(s) = rest.strip_prefix("SOURCE '<") {
                    let (group, after) = s.split_once(">' | ").unwrap();
                    assert_eq!(
                        resource_type(&t, group).as_deref(),
                        Some("AWS::Logs::LogGroup"),
                        "{title}: {group}"
                    );
                    sources.insert(group.to_string());
                    rest = after;
                }
                assert_eq!(sources, function_log_groups(&t), "{title}");
                log_queries.push(rest.to_string());
            }
            "metric" => {
                for m in p["metrics"].as_array().unwrap() {
                    let m = m.as_array().unwrap();
                    if let Some(e) = m[0]["expression"].as_str() {
                        if let Some(search) = e.strip_prefix("SEARCH('{") {
                            let (schema, after) = search.split_once('}').unwrap();
                            let mut parts = schema.split(',');
                            let ns = parts.next().unwrap().trim_matches('"').to_string();
                            let dims: BTreeSet<String> = parts.map(str::to_string).collect();
                            let metric = after
                                .split_once("MetricName=\"")
                                .and_then(|(_, r)| r.split_once('"'))
                                .map(|(m, _)| m.to_string())
                                .unwrap_or_else(|| panic!("{title}: {e}"));
                            assert!(is_custom(&ns, &metric, &dims), "{title}: {e}");
                            shown.insert((ns, metric));
                        }
                        continue;
                    }
                    let ns = m[0].as_str().unwrap().to_string();
                    let metric = m[1].as_str().unwrap().to_string();
                    let mut dims = Vec::new();
                    let mut i = 2;
                    while i + 1 < m.len() && m[i].is_string() {
                        dims.push((
                            m[i].as_str().unwrap().to_string(),
                            m[i + 1].as_str().unwrap().to_string(),
                        ));
                        i += 2;
                    }
                    let stat = m
                        .last()
                        .and_then(|o| o["stat"].as_str())
                        .unwrap_or("")
                        .to_string();
                    match AWS_METRICS.iter().find(|(n, _, _)| *n == ns) {
                        Some((_, dim, metrics)) => {
                            assert!(metrics.contains(&metric.as_str()), "{title}: {ns} {metric}");
                            assert_eq!(dims.len(), 1, "{title}: {m:?}");
                            assert_eq!(dims[0].0, *dim, "{title}: {m:?}");
                            assert!(
                                resolves(dim, &dims[0].1),
                                "{title}: {m:?} names nothing here"
                            );
                            if ns == "AWS/Lambda" {
                                per_function
                                    .entry((metric.clone(), stat))
                                    .or_default()
                                    .insert(dims[0].1.clone());
                            }
                        }
                        None => {
                            let keys = dims.iter().map(|(k, _)| k.clone()).collect();
                            assert!(
                                is_custom(&ns, &metric, &keys),
                                "{title}: {ns} {metric} {keys:?} is written by no metric filter"
                            );
                        }
                    }
                    shown.insert((ns, metric));
                }
            }
            other => panic!("a {other} widget"),
        }
    }
    // Per function: latency p50 and p99, and errors, for every function.
    let all: BTreeSet<String> = functions(&t)
        .into_iter()
        .map(|(name, _)| format!("<{name}>"))
        .collect();
    for key in [("Duration", "p50"), ("Duration", "p99"), ("Errors", "Sum")] {
        let k = (key.0.to_string(), key.1.to_string());
        assert_eq!(per_function.get(&k), Some(&all), "{key:?}");
    }
    // And the rest of the picture the issue asks for.
    let custom_ns = "IVR/<AWS::StackName>";
    for (ns, metric) in [
        ("CloudWatchSynthetics", "SuccessPercent"),
        ("AWS/ApiGateway", "5xx"),
        (custom_ns, "TwilioAlerts"),
        (custom_ns, "TwilioErrors"),
        ("AWS/Events", "Invocations"),
        ("AWS/Events", "FailedInvocations"),
        (custom_ns, "RecordingsStored"),
        (custom_ns, "RecordingsRetried"),
        (custom_ns, "RecordingsDeadLettered"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("AWS/SQS", "ApproximateAgeOfOldestMessage"),
    ] {
        assert!(
            shown.contains(&(ns.to_string(), metric.to_string())),
            "no widget shows {ns} {metric}"
        );
    }
    assert!(
        log_queries.iter().any(|q| q.contains("@initDuration")),
        "cold starts"
    );
    assert!(
        log_queries
            .iter()
            .any(|q| q.contains("fields.status >= 500")),
        "5xx by function"
    );
}

#[test]
fn saved_queries_search_every_function_log_group() {
    let t = template();
    let queries = of_type(&t, "AWS::Logs::QueryDefinition");
    let names: BTreeSet<String> = queries
        .iter()
        .map(|(_, q)| sub_text(&q["Properties"]["Name"]))
        .collect();
    let expected: BTreeSet<String> = [
        "calls by outcome (run over the last day)",
        "slowest requests",
        "every request of one CallSid",
    ]
    .iter()
    .map(|n| format!("${{AWS::StackName}}/{n}"))
    .collect();
    assert_eq!(names, expected);
    for (name, q) in &queries {
        let groups: BTreeSet<String> = q["Properties"]["LogGroupNames"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|g| {
                assert_eq!(tag(g).as_deref(), Some("Ref"), "{name}");
                untag(g).as_str().unwrap().to_string()
            })
            .collect();
        assert_eq!(groups, function_log_groups(&t), "{name}");
        let text = q["Properties"]["QueryString"].as_str().unwrap();
        assert!(text.contains("fields."), "{name}: {text}");
    }
}
