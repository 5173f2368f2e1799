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
    let folders: BTreeSet<String> = std::fs::read_dir(repo().join("functions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(in_template, folders);
    let mut known: BTreeSet<String> = Function::ALL.iter().map(|f| f.name().to_string()).collect();
    // The one function that is not a route: it takes recording jobs off the queue.
    known.insert("recording-worker".to_string());
    assert_eq!(
        known, folders,
        "shared::Function::ALL (+ recording-worker) and functions/ differ"
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
                .any(|l| l.contains("include_str!") && l.contains("config.ini"));
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
            // Rendering TwiML needs no AWS rights at all.
            _ => BTreeSet::new(),
        };
        assert_eq!(rights, expected, "{name}");
    }
}

#[test]
fn every_function_is_in_the_errors_throttles_and_ping_alarms() {
    let t = template();
    let resources = t["Resources"].as_mapping().unwrap();
    let names: BTreeSet<String> = functions(&t).into_iter().map(|(k, _)| k).collect();
    for (alarm, suffix) in [
        ("FunctionErrorsAlarm", ""),
        ("FunctionThrottlesAlarm", ""),
        ("PingFailedAlarm", "Warmup"),
    ] {
        let metrics = resources
            .get(alarm)
            .unwrap_or_else(|| panic!("{alarm} missing"))["Properties"]["Metrics"]
            .as_sequence()
            .unwrap();
        let mut covered = BTreeSet::new();
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
            covered.insert(value.strip_suffix(suffix).unwrap().to_string());
            ids.push(id);
        }
        assert_eq!(covered, names, "{alarm}");
        for id in ids {
            assert!(
                expression.contains(&format!("{id},")) || expression.contains(&format!("{id}]")),
                "{alarm}: {id} is not in {expression}"
            );
        }
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
