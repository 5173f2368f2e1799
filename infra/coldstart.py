#!/usr/bin/env python3
"""Cold start of every Lambda function binary, against a hello-world baseline.

Usage: python3 infra/coldstart.py [--runs N] [--no-build] [--bin-dir DIR] [--hello-bin PATH]
                                  [--functions FUNCTION ...] [--also NAME=PATH ...]

Builds (unless --no-build) the release functions (every folder under
functions/, or --functions) and the `hello-lambda` baseline (infra/hello),
then, N times each, alternating:

  1. starts a minimal Lambda Runtime API emulator on 127.0.0.1 (a fresh
     ephemeral port per run),
  2. starts the binary with AWS_LAMBDA_RUNTIME_API pointing at it, config.ini
     at IVR_CONFIG (a copy standing in for the template's /opt layer) and the
     environment the template gives the functions,
  3. hands it one event: every function the keep-warm ping from template.yaml;
     the menu also a POST /ivr/menu exactly as Twilio sends it, signed with
     X-Twilio-Signature; hello-lambda that same POST (an HTTP event is all it
     reads),
  4. measures process start -> first response delivered to the Runtime API,
     the CPU time it used (wait4) and the peak RSS (VmHWM from
     /proc/PID/status just before the kill),
  5. kills the process (only the ones this script started).

Prints, per binary, median/p90/min, init and invoke, CPU, peak RSS, size and
the ratios to hello-lambda, and exits non-zero if a response is wrong (the
ping JSON; TwiML with <Gather for the signed POST), anything fails, or a
target is missed. Targets: every function <= 1.2x hello-world (median wall
time); peak RSS <= 20 MB. On a busy machine wall times come in ~4 ms steps
(scheduler ticks while waiting for a core); the CPU-time ratio is the
steadier comparison. COLDSTART_DEBUG=1 logs every Runtime API request.

Python 3 standard library only.
"""

import argparse
import base64
import hashlib
import hmac
import http.server
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKEN = "0123456789abcdef0123456789abcdef"  # any value: the function reads TWILIO_AUTH_TOKEN
HOST = "abc123.execute-api.eu-west-2.amazonaws.com"
PATH = "/ivr/menu"
TIMEOUT_S = 10.0
TARGET_RSS_MB = 20.0

TARGET_FUNCTION_RATIO = 1.2  # every function, answering the keep-warm ping
FUNCTIONS = sorted(d for d in os.listdir(os.path.join(REPO, "functions")) if os.path.isdir(os.path.join(REPO, "functions", d)))
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    # No AWS_ENDPOINT_URL: on Lambda there is none (and the SDK client then
    # trusts only AWS's roots); nothing is contacted for a ping anyway.
    "IVR_JOBS_QUEUE_URL": "http://127.0.0.1:9/123456789012/jobs",
    "IVR_DEAD_LETTER_QUEUE_URL": "http://127.0.0.1:9/123456789012/dead",
    "IVR_STATE_TABLE": "ivr-state",
    "IVR_WORK_TABLE": "ivr-work",
    "IVR_API_KEYS": "coldstart-key-0123456789abcdef",
    "IVR_RECORDINGS_BUCKET": "ivr-recordings",
    "TWILIO_ACCOUNT_SID": "AC0123456789abcdef0123456789abcdef",
}


def template_env():
    """Per function, the names of the variables template.yaml gives it (its
    own `Environment: Variables:`), so each function builds the AWS clients
    it builds on Lambda and no others. Read with the standard library: a
    function's block starts at `CodeUri: target/lambda/<name>/`."""
    with open(os.path.join(REPO, "template.yaml")) as f:
        lines = f.read().split("\n")
    names, current, in_vars = {}, None, False
    for line in lines:
        m = re.match(r"^  ([A-Za-z0-9]+):$", line)
        if m:
            current, in_vars = None, False
        m = re.search(r"CodeUri: target/lambda/([a-z0-9-]+)/", line)
        if m:
            current = m.group(1)
            names.setdefault(current, [])
        if current and re.match(r"^        Variables:$", line):
            in_vars = True
            continue
        if in_vars:
            m = re.match(r"^          ([A-Z0-9_]+):", line)
            if m:
                names[current].append(m.group(1))
            else:
                in_vars = False
    return names


TEMPLATE_ENV = template_env()


def function_env(name):
    """The dummy values of AWS_ENV for the variables the template gives `name`."""
    return {k: AWS_ENV[k] for k in TEMPLATE_ENV.get(name, []) if k in AWS_ENV}


def layer_config():
    """The checked config.ini where the functions look for it: a copy, in a
    temporary stand-in for the ConfigLayer's /opt (nothing is compiled in)."""
    opt = tempfile.mkdtemp(prefix="coldstart-opt-")
    path = os.path.join(opt, "config.ini")
    shutil.copy(os.path.join(REPO, "config.ini"), path)
    return path


LAYER_CONFIG = layer_config()


def warmup_event(_request_id):
    """The keep-warm schedule's Input, read from template.yaml: what every
    function answers, and on Lambda often the event that meets a cold start."""
    with open(os.path.join(REPO, "template.yaml")) as f:
        for line in f:
            line = line.strip()
            if line.startswith("Input: '"):
                return json.loads(line[len("Input: '") : -1])
    sys.exit("FAIL: no keep-warm Input in template.yaml")


# What Twilio posts to a voice webhook when the call reaches the menu.
TWILIO_PARAMS = {
    "AccountSid": "AC0123456789abcdef0123456789abcdef",
    "ApiVersion": "2010-04-01",
    "CallSid": "CA0123456789abcdef0123456789abcdef",
    "CallStatus": "in-progress",
    "Called": "+442079460123",
    "CalledCountry": "GB",
    "Caller": "+447700900555",
    "CallerCountry": "GB",
    "Direction": "inbound",
    "From": "+447700900555",
    "FromCountry": "GB",
    "To": "+442079460123",
    "ToCountry": "GB",
}


def twilio_signature(token, url, params):
    """X-Twilio-Signature: base64(HMAC-SHA1(token, url + concat(sorted name+value)))."""
    data = url + "".join(k + v for k, v in sorted(params.items()))
    mac = hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


def apigw_v2_event(request_id):
    """An API Gateway HTTP API (payload format 2.0) event for a signed POST /ivr/menu."""
    body = urllib.parse.urlencode(TWILIO_PARAMS)
    now_ms = int(time.time() * 1000)
    return {
        "version": "2.0",
        "routeKey": "POST " + PATH,
        "rawPath": PATH,
        "rawQueryString": "",
        "headers": {
            "host": HOST,
            "x-forwarded-proto": "https",
            "x-forwarded-port": "443",
            "x-forwarded-for": "54.172.60.1",
            "content-type": "application/x-www-form-urlencoded",
            "content-length": str(len(body)),
            "user-agent": "TwilioProxy/1.1",
            "accept": "*/*",
            "i-twilio-idempotency-token": str(uuid.uuid4()),
            "x-twilio-signature": twilio_signature(TOKEN, "https://" + HOST + PATH, TWILIO_PARAMS),
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": HOST,
            "domainPrefix": "abc123",
            "http": {
                "method": "POST",
                "path": PATH,
                "protocol": "HTTP/1.1",
                "sourceIp": "54.172.60.1",
                "userAgent": "TwilioProxy/1.1",
            },
            "requestId": request_id,
            "routeKey": "POST " + PATH,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "timeEpoch": now_ms,
        },
        "body": body,
        "isBase64Encoded": False,
    }


class Invocation:
    """One cold start: the event to hand out and what came back."""

    def __init__(self, make_event):
        self.request_id = str(uuid.uuid4())
        self.event = json.dumps(make_event(self.request_id)).encode()
        self.handed_out = False
        self.done = threading.Event()  # a response or an error arrived
        self.stop = threading.Event()  # the process is gone: release long polls
        self.t_next = None  # the first GET /next: the runtime's init is done
        self.t_response = None
        self.response = None
        self.error = None


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    """The parts of the Lambda Runtime API a function uses to start and answer once."""

    protocol_version = "HTTP/1.1"
    server_version = "coldstart-emulator"

    def log_message(self, fmt, *args):
        if os.environ.get("COLDSTART_DEBUG"):
            print(f"{time.perf_counter():.4f} {self.client_address[1]} {fmt % args}", file=sys.stderr)

    def _body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _reply(self, status, body=b"{}", headers=None):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        inv = self.server.invocation
        self.log_message("GET %s inv=%s handed=%s", self.path, inv and inv.request_id[:8], inv and inv.handed_out)
        if self.path != "/2018-06-01/runtime/invocation/next" or inv is None:
            return self._reply(404, b'{"errorMessage":"not found"}')
        if inv.handed_out:
            # The next poll after the cold start: hold it until the process is killed.
            inv.stop.wait(TIMEOUT_S * 3)
            self.close_connection = True
            return
        inv.handed_out = True
        inv.t_next = time.perf_counter()
        deadline = int(time.time() * 1000) + 30_000
        self._reply(
            200,
            inv.event,
            {
                "Lambda-Runtime-Aws-Request-Id": inv.request_id,
                "Lambda-Runtime-Deadline-Ms": str(deadline),
                "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:eu-west-2:123456789012:function:coldstart",
                "Lambda-Runtime-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
            },
        )

    def do_POST(self):
        t = time.perf_counter()
        body = self._body()
        inv = self.server.invocation
        parts = self.path.strip("/").split("/")
        # 2018-06-01/runtime/invocation/{id}/response | .../{id}/error | 2018-06-01/runtime/init/error
        if inv is not None and parts[:3] == ["2018-06-01", "runtime", "invocation"] and len(parts) == 5:
            if parts[3] != inv.request_id:
                return self._reply(400, b'{"errorMessage":"unknown request id"}')
            if parts[4] == "response":
                inv.t_response, inv.response = t, body
            elif parts[4] == "error":
                inv.error = "invocation error: " + body.decode(errors="replace")
            else:
                return self._reply(404, b'{"errorMessage":"not found"}')
            self._reply(202, b'{"status":"OK"}')
            inv.done.set()
            return
        if inv is not None and parts == ["2018-06-01", "runtime", "init", "error"]:
            inv.error = "init error: " + body.decode(errors="replace")
            self._reply(202, b'{"status":"OK"}')
            inv.done.set()
            return
        self._reply(404, b'{"errorMessage":"not found"}')


def vm_hwm_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class Emulator(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A killed function's keep-alive connection resets: expected, not news.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def start_emulator(inv):
    """A fresh Runtime API on 127.0.0.1 and an ephemeral port, for one cold start.

    One per run: a killed process's pending long poll can still be sitting in
    the listen backlog, and must not be handed the next run's event.
    """
    server = Emulator(("127.0.0.1", 0), RuntimeApi)
    server.invocation = inv
    # shutdown() after each run waits up to one poll interval (0.5 s by default).
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    return server


def cold_start(binary, name, log, make_event=apigw_v2_event):
    """Starts `binary`, waits for its first response; returns (ms timings, peak RSS KiB, response).

    total = process start -> response POSTed; init = process start -> first
    GET /next (runtime and handler set up); invoke = /next -> response.
    """
    inv = Invocation(make_event)
    server = start_emulator(inv)
    env = {
        "PATH": "/usr/bin:/bin",
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        "AWS_REGION": "eu-west-2",
        "AWS_DEFAULT_REGION": "eu-west-2",
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "1",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[1]coldstart",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/" + name,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "TWILIO_AUTH_TOKEN": TOKEN,
        # config.ini where the template's ConfigLayer puts it (/opt/config.ini
        # on Lambda; a copy in a temporary folder here), and the names the
        # template gives the functions that talk to AWS (nothing is contacted
        # at start-up or for a ping).
        "IVR_CONFIG": LAYER_CONFIG,
        # The template's Globals give every function the account SID.
        "TWILIO_ACCOUNT_SID": AWS_ENV["TWILIO_ACCOUNT_SID"],
        "AWS_ACCESS_KEY_ID": AWS_ENV["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        **function_env(name.split(":")[0]),
    }
    log.seek(0)
    log.truncate()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [os.path.abspath(binary)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        cwd=tempfile.gettempdir(),
    )
    killed = False
    try:
        deadline = t0 + TIMEOUT_S
        finished = False
        while not finished and proc.poll() is None and time.perf_counter() < deadline:
            finished = inv.done.wait(0.05)  # the server thread timestamps the response
        finished = finished or inv.done.is_set()
        hwm = vm_hwm_kb(proc.pid) if proc.poll() is None else None
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)  # only the process started above
            killed = True
        _, wstatus, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(wstatus)
        inv.stop.set()
        server.shutdown()
        server.server_close()
    if not finished:
        log.seek(0)
        if killed:
            what = f"no response within {TIMEOUT_S}s"
        else:
            what = f"exited with status {proc.returncode} without answering"
        sys.exit(f"FAIL: {name}: {what}\n{log.read()[-4000:]}")
    if inv.error:
        log.seek(0)
        sys.exit(f"FAIL: {name}: {inv.error}\n{log.read()[-4000:]}")
    if hwm is None:
        sys.exit(f"FAIL: {name}: exited with status {proc.returncode} before its peak RSS could be read")
    # VmHWM (KiB) of the binary's own address space. Not wait4()'s ru_maxrss:
    # Linux folds the pre-exec high-water mark of the forked Python child into
    # it, so it reports Python's RSS (~20+ MB) for any small binary.
    peak = hwm
    timing = {
        # CPU the process used (all threads, user + system) until the kill: unlike the
        # wall times, not inflated by waiting for a core on a busy machine.
        "cpu": (usage.ru_utime + usage.ru_stime) * 1000,
        "total": (inv.t_response - t0) * 1000,
        "init": (inv.t_next - t0) * 1000,
        "invoke": (inv.t_response - inv.t_next) * 1000,
    }
    return timing, peak, json.loads(inv.response)


def check_menu(resp):
    body = resp.get("body") or ""
    if resp.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    ctype = {k.lower(): v for k, v in (resp.get("headers") or {}).items()}.get("content-type", "")
    if resp.get("statusCode") != 200 or "xml" not in ctype or "<Response>" not in body or "<Gather" not in body:
        sys.exit(f"FAIL: menu did not answer TwiML with <Gather:\n{json.dumps(resp, indent=2)}")


def check_hello(resp):
    if resp.get("statusCode") != 200:
        sys.exit(f"FAIL: hello-lambda did not answer 200:\n{json.dumps(resp, indent=2)}")


def check_ping(resp):
    try:
        ok = resp.get("statusCode") == 200 and json.loads(resp.get("body") or "{}").get("name") == "ping"
    except ValueError:
        ok = False
    if not ok:
        sys.exit(f"FAIL: the keep-warm ping was not answered with the ping JSON:\n{json.dumps(resp, indent=2)}")


def pct(values, p):
    """Nearest-rank percentile."""
    s = sorted(values)
    return s[max(0, min(len(s) - 1, -(-len(s) * p // 100) - 1))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=20, help="cold starts per binary (default 20)")
    ap.add_argument("--no-build", action="store_true", help="use the binaries already built")
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(REPO, "target")
    ap.add_argument("--bin-dir", default=os.path.join(target, "release"), help="where the functions' binaries are")
    ap.add_argument("--hello-bin", default=None, help="the baseline (default: BIN_DIR/hello-lambda)")
    ap.add_argument(
        "--functions",
        nargs="+",
        default=FUNCTIONS,
        metavar="FUNCTION",
        help="functions to measure (default: every folder under functions/)",
    )
    ap.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="another build of the menu function to measure alongside (e.g. another link); repeatable",
    )
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    unknown = [f for f in args.functions if f not in FUNCTIONS]
    if unknown:
        ap.error(f"not a function under functions/: {' '.join(unknown)}")
    hello_bin = args.hello_bin or os.path.join(args.bin_dir, "hello-lambda")

    if not args.no_build:
        cmd = ["cargo", "build", "--release", "-p", "hello-lambda"] + [a for f in args.functions for a in ("-p", f)]
        print("$", " ".join(cmd), file=sys.stderr)
        if subprocess.run(cmd, cwd=REPO).returncode != 0:
            sys.exit("FAIL: build failed; or build yourself and pass --no-build / --bin-dir / --hello-bin")

    # (label, binary, event, check). hello-lambda answers an HTTP event (it
    # cannot read another); every function the keep-warm ping; the menu also a
    # signed POST /ivr/menu, the request a caller's first key press brings.
    rows = [("hello-lambda", hello_bin, apigw_v2_event, check_hello)]
    rows += [(f, os.path.join(args.bin_dir, f), warmup_event, check_ping) for f in args.functions]
    if "menu" in args.functions:
        rows.append(("menu: POST /ivr/menu", os.path.join(args.bin_dir, "menu"), apigw_v2_event, check_menu))
    for spec in args.also:
        name, sep, path = spec.partition("=")
        if not sep or not name or name in (r[0] for r in rows) or not os.access(path, os.X_OK):
            ap.error(f"--also {spec}: want NAME=PATH of an executable, NAME not already measured")
        rows.append((name + ": POST /ivr/menu", path, apigw_v2_event, check_menu))
    for _, b, _, _ in rows:
        if not os.access(b, os.X_OK):
            sys.exit(f"FAIL: {b} is not built (cargo build --release -p hello-lambda -p FUNCTION...)")

    times = {r[0]: {"total": [], "init": [], "invoke": [], "cpu": []} for r in rows}
    rss = {r[0]: [] for r in rows}
    with tempfile.TemporaryFile("w+") as log:
        # One warm-up each (page cache, dynamic loader), not counted.
        for name, binary, event, _ in rows:
            cold_start(binary, name, log, event)
        for _ in range(args.runs):
            for name, binary, event, check in rows:  # alternate, so drift hits all alike
                timing, peak, resp = cold_start(binary, name, log, event)
                check(resp)
                for phase, ms in timing.items():
                    times[name][phase].append(ms)
                rss[name].append(peak / 1024)

    def med(k, phase="total"):
        return statistics.median(times[k][phase])

    def p90(k, phase="total"):
        return pct(times[k][phase], 90)

    base = "hello-lambda"
    print(f"cold start: process start -> first response at the Runtime API, {args.runs} runs each (ms)")
    print(
        f"{'binary':<24}{'median':>8}{'p90':>8}{'min':>8}{'init med':>10}{'invoke med':>12}{'CPU med':>9}"
        f"{'RSS MB max':>12}{'size KiB':>10}{'x median':>10}{'x p90':>8}{'x CPU':>8}"
    )
    missed = []
    for k, b, _, _ in rows:
        r_med, r_p90, r_cpu = med(k) / med(base), p90(k) / p90(base), med(k, "cpu") / med(base, "cpu")
        print(
            f"{k:<24}{med(k):>8.2f}{p90(k):>8.2f}{min(times[k]['total']):>8.2f}"
            f"{med(k, 'init'):>10.2f}{med(k, 'invoke'):>12.2f}{med(k, 'cpu'):>9.2f}"
            f"{max(rss[k]):>12.2f}{os.path.getsize(b) / 1024:>10.0f}{r_med:>9.2f}x{r_p90:>7.2f}x{r_cpu:>7.2f}x"
        )
        if k != base and r_med > TARGET_FUNCTION_RATIO:
            missed.append(f"{k}: {r_med:.2f}x hello-lambda (median wall; target <= {TARGET_FUNCTION_RATIO}x)")
        if max(rss[k]) > TARGET_RSS_MB:
            missed.append(f"{k}: peak RSS {max(rss[k]):.2f} MB (target <= {TARGET_RSS_MB:.0f} MB)")
    print("every response checked: the ping JSON, or 200 TwiML with <Gather for the signed POST")
    for m in missed:
        print("MISSED " + m)
    print("targets: " + ("met" if not missed else "MISSED"))
    return 0 if not missed else 1


if __name__ == "__main__":
    sys.exit(main())
