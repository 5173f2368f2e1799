#!/usr/bin/env python3
"""The built artifacts work: each `bootstrap` answers the keep-warm event
from template.yaml and its own route, behind a Lambda Runtime API emulator on
127.0.0.1; a function refuses to start without an auth token or with a bad
config.

`make deploy-tests` builds them with [profile.bootstrap-test] (release code
and panic = "abort", without the LTO of the shipped zips, which only makes
the build slow); any release-like build works:

Usage: python3 tests/lambda_bootstrap.py --bin-dir target/bootstrap-test FUNCTION...
"""

import argparse
import re
import shutil
import json
import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "infra"))
from lambda_emulator import RuntimeApi, http_api_event, lambda_env  # noqa: E402

TOKEN = "test-auth-token"
HOST = "abc123.execute-api.eu-west-2.amazonaws.com"
CALL = {
    "AccountSid": "AC0123456789abcdef0123456789abcdef",
    "ApiVersion": "2010-04-01",
    "CallSid": "CA0123456789abcdef0123456789abcdef",
    "CallStatus": "ringing",
    "Direction": "inbound",
    "From": "+447700900555",
    "To": "+442079460123",
}

# What the template gives the functions that touch AWS (names only: nothing
# is contacted at start-up or for a ping).
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "IVR_JOBS_QUEUE_URL": "http://127.0.0.1:9/123456789012/jobs",
    "IVR_STATE_TABLE": "ivr-state",
    "IVR_WORK_TABLE": "ivr-work",
    "IVR_RECORDINGS_BUCKET": "ivr-recordings",
    "IVR_DEAD_LETTER_QUEUE_URL": "http://127.0.0.1:9/123456789012/dead",
    "TWILIO_ACCOUNT_SID": "AC0123456789abcdef0123456789abcdef",
}

failures = []
passed = 0


def check(cond, what):
    global passed
    if cond:
        passed += 1
        print(f"ok   {what}")
    else:
        failures.append(what)
        print(f"FAIL {what}")


def warmup_event():
    """The schedule's Input, read from template.yaml (the same for every function)."""
    with open(os.path.join(REPO, "template.yaml")) as f:
        for line in f:
            line = line.strip()
            if line.startswith("Input: '"):
                return json.loads(line[len("Input: '") : -1])
    raise SystemExit("no warm-up Input in template.yaml")


def layer_config():
    """config.ini supplied as the template supplies it: the ConfigLayer's
    folder unpacked under a stand-in for /opt, at the path the template's
    IVR_CONFIG names. Nothing is compiled in: without it a function cannot start."""
    with open(os.path.join(REPO, "template.yaml")) as f:
        text = f.read()
    path = re.search(r"^\s+IVR_CONFIG: (\S+)$", text, re.M).group(1)
    assert path.startswith("/opt/"), f"IVR_CONFIG {path} is not in a layer (/opt)"
    opt = tempfile.mkdtemp(prefix="ivr-opt-")
    # What `make config-layer` puts in the layer's folder: the checked config.ini.
    shutil.copy(os.path.join(REPO, "config.ini"), os.path.join(opt, path[len("/opt/"):]))
    return os.path.join(opt, path[len("/opt/"):])


LAYER_CONFIG = layer_config()


def run(binary, name, events, extra_env=None, timeout=20):
    api = RuntimeApi(events)
    env = lambda_env(
        api.address,
        f"ivr-{name}",
        {"TWILIO_AUTH_TOKEN": TOKEN, "IVR_CONFIG": LAYER_CONFIG, **(extra_env or {})},
    )
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        answers = api.wait_for(len(events), timeout) if events else []
        if not events:
            proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
        out, err = proc.communicate()
        api.close()
    return answers, proc.returncode, (out + err).decode(errors="replace")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("functions", nargs="+")
    args = ap.parse_args()
    missing = [f for f in args.functions if not os.access(os.path.join(args.bin_dir, f), os.X_OK)]
    if missing:
        raise SystemExit(f"not built in {args.bin_dir}: {' '.join(missing)} (make deploy-tests builds them)")
    warm = warmup_event()
    for name in args.functions:
        binary = os.path.join(args.bin_dir, name)
        answers, _, logs = run(binary, name, [warm], AWS_ENV)
        ok = len(answers) == 1 and answers[0][0] == "response"
        body = json.loads(answers[0][1]["body"]) if ok else {}
        check(ok and answers[0][1]["statusCode"] == 200 and body.get("name") == "ping", f"{name}: answers the warm-up ping ({logs[-300:] if not ok else 'ok'})")
        check('"warm-up ping"' in logs and '"route":"ping"' in logs, f"{name}: logs the warm-up as a ping (JSON)")
        check(TOKEN not in logs, f"{name}: the auth token never appears in logs")

    if "welcome" in args.functions:
        binary = os.path.join(args.bin_dir, "welcome")
        signed = http_api_event("POST", "/ivr", HOST, CALL, TOKEN)
        forged = http_api_event("POST", "/ivr", HOST, CALL, "wrong-token")
        other = http_api_event("POST", "/ivr/menu", HOST, CALL, TOKEN)
        # A Tuesday morning: the office hours gate in config.ini is open.
        answers, _, logs = run(binary, "welcome", [signed, forged, other], {"IVR_NOW": "2026-11-24T10:00:00Z"})
        check(len(answers) == 3, "welcome: answered three events")
        if len(answers) == 3:
            r = answers[0][1]
            hdrs = {k.lower(): v for k, v in r.get("headers", {}).items()}
            check(r["statusCode"] == 200 and hdrs.get("content-type") == "text/xml", "welcome: signed /ivr → 200 text/xml")
            check("<Redirect" in r["body"] and f"https://{HOST}/ivr/menu" in r["body"], "welcome: TwiML redirects to https://HOST/ivr/menu")
            check(answers[1][1]["statusCode"] == 403, "welcome: a forged signature gets 403")
            check(answers[2][1]["statusCode"] == 404, "welcome: another function's route gets 404")
        check('"call_sid":"CA0123456789abcdef0123456789abcdef"' in logs and "latency_us" in logs, "welcome: logs carry CallSid and latency")

        _, code, logs = run(binary, "welcome", [], {"TWILIO_AUTH_TOKEN": ""})
        check(code != 0 and "refusing to start" in logs and "TWILIO_AUTH_TOKEN" in logs, "welcome: refuses to start without an auth token")
        with tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False) as bad:
            bad.write("[ivr]\ntimezone = Mars/Olympus\n[ivr_menu]\nsay = hi\n")
        _, code, logs = run(binary, "welcome", [], {"IVR_CONFIG": bad.name})
        os.unlink(bad.name)
        check(code != 0 and "refusing to start" in logs and ":2: [ivr] timezone" in logs, "welcome: refuses to start on an invalid config, naming the line")
        _, code, logs = run(binary, "welcome", [], {"IVR_CONFIG": "/nonexistent/opt/config.ini"})
        check(code != 0 and "refusing to start" in logs and "cannot read" in logs, "welcome: refuses to start when the config layer is missing")

    if "api" in args.functions:
        binary = os.path.join(args.bin_dir, "api")
        key = "bootstrap-key-0123456789abcdef"
        anonymous = http_api_event("GET", "/api/callbacks", HOST)
        bad_json = http_api_event("POST", "/api/callbacks", HOST, headers={"authorization": f"Bearer {key}", "content-type": "application/json"})
        bad_json["body"] = "{not json"
        answers, _, logs = run(binary, "api", [anonymous, bad_json], {**AWS_ENV, "IVR_API_KEYS": key})
        check(len(answers) == 2, f"api: answered two events ({logs[-300:]})")
        if len(answers) == 2:
            check(answers[0][1]["statusCode"] == 401, "api: no key → 401")
            check(answers[1][1]["statusCode"] == 400, "api: bad JSON → 400")
        check(key not in logs, "api: the API key never appears in logs")
        env = dict(AWS_ENV)
        del env["IVR_WORK_TABLE"]
        _, code, logs = run(binary, "api", [], env)
        check(code != 0 and "refusing to start" in logs and "IVR_WORK_TABLE" in logs, "api: refuses to start without its table")
        _, code, logs = run(binary, "api", [], {**AWS_ENV, "IVR_API_KEYS": "short"})
        check(code != 0 and "refusing to start" in logs and "IVR_API_KEYS" in logs, "api: refuses to start on a malformed key list")

    if "queue-callback" in args.functions:
        binary = os.path.join(args.bin_dir, "queue-callback")
        q = "initiated_by_section=callin&joined=1795000000"
        typed = http_api_event("POST", "/ivr/queue/callback", HOST, {**CALL, "Digits": "07700900123"}, TOKEN, query=q)
        confirm = http_api_event("POST", "/ivr/queue/callback", HOST, {**CALL, "Digits": "1"}, TOKEN, query=q + "&number=%2B447700900123")
        # The work table is unreachable (AWS_ENDPOINT_URL is a closed port).
        answers, _, logs = run(binary, "queue-callback", [typed, confirm], AWS_ENV, timeout=60)
        check(len(answers) == 2, f"queue-callback: answered two events ({logs[-300:]})")
        if len(answers) == 2:
            r = answers[0][1]
            check(r["statusCode"] == 200 and "0 7 7 0 0 9 0 0 1 2 3" in r["body"] and "number=%2B447700900123" in r["body"], "queue-callback: a typed national number is read back and carried as E.164")
            r = answers[1][1]
            check(r["statusCode"] == 200 and "cannot take callback requests" in r["body"] and "<Hangup" not in r["body"], "queue-callback: a store it cannot reach → the caller is told and keeps waiting (200, no 503)")
        check("effect failed" in logs, "queue-callback: the failed store write is logged")
        env = dict(AWS_ENV)
        del env["IVR_WORK_TABLE"]
        _, code, logs = run(binary, "queue-callback", [], env)
        check(code != 0 and "refusing to start" in logs and "IVR_WORK_TABLE" in logs, "queue-callback: refuses to start without its table")

    if "recording-worker" in args.functions:
        binary = os.path.join(args.bin_dir, "recording-worker")
        env = dict(AWS_ENV)
        del env["IVR_DEAD_LETTER_QUEUE_URL"]
        _, code, logs = run(binary, "recording-worker", [], env)
        check(code != 0 and "refusing to start" in logs and "IVR_DEAD_LETTER_QUEUE_URL" in logs, "recording-worker: refuses to start without its dead-letter queue")
    if "recording-status" in args.functions:
        binary = os.path.join(args.bin_dir, "recording-status")
        env = dict(AWS_ENV)
        del env["IVR_JOBS_QUEUE_URL"]
        _, code, logs = run(binary, "recording-status", [], env)
        check(code != 0 and "refusing to start" in logs and "IVR_JOBS_QUEUE_URL" in logs, "recording-status: refuses to start without its job queue")

    print(f"{passed} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
