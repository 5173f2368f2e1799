#!/usr/bin/env python3
"""Latency of the work-item API under `ivr serve` (embedded SQLite).

Usage: python3 infra/api_bench.py [--ivr target/release/ivr] [--requests N]

Starts `ivr serve` on 127.0.0.1 (a free port, a fresh data folder, a key in
IVR_API_KEYS), then over one keep-alive connection sends N creates (POST
/api/callbacks, each a different number), N reads (GET /api/callbacks/{id})
and N list pages (GET /api/callbacks?status=pending), one at a time. Prints
p50 / p99 / max per kind as the client saw them (request written → response
read) and as the server logged them (`latency_us` of its request lines).
Fails unless every create is 201, every read and list 200. Kills only the
server it started. Python 3 standard library only.
"""

import argparse
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEY = "bench-key-0123456789abcdef"


def pct(values, p):
    s = sorted(values)
    return s[max(0, min(len(s) - 1, -(-len(s) * p // 100) - 1))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(REPO, "target")
    ap.add_argument("--ivr", default=os.path.join(target, "release", "ivr"))
    ap.add_argument("--requests", type=int, default=1000)
    args = ap.parse_args()
    if not os.access(args.ivr, os.X_OK):
        sys.exit(f"FAIL: {args.ivr} is not built (cargo build --release --bin ivr)")
    data = tempfile.mkdtemp(prefix="ivr-api-bench-")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "IVR_DATA_DIR": data,
        "IVR_API_KEYS": KEY,
        "TWILIO_AUTH_TOKEN": "bench-token",
        "RUST_LOG": "info",
    }
    log_path = os.path.join(data, "serve.log")
    log = open(log_path, "w")
    server = subprocess.Popen(
        [args.ivr, "serve", "--port", "0", "--config", os.path.join(REPO, "config.ini")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        line = server.stdout.readline().strip()
        if not line.startswith("listening on http://"):
            sys.exit(f"FAIL: ivr serve did not start: {line!r}\n{open(log_path).read()}")
        host, port = line[len("listening on http://") :].rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}

        def call(method, path, body=None):
            t0 = time.perf_counter()
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            return (time.perf_counter() - t0) * 1e6, resp.status, data

        client = {"create": [], "read": [], "list": []}
        ids = []
        for n in range(args.requests):
            body = json.dumps({"to": f"+4477009{n:05d}", "from": "+442079460100", "queue": "ask-the-plumber"})
            us, status, data = call("POST", "/api/callbacks", body)
            if status != 201:
                sys.exit(f"FAIL: create {n}: {status} {data[:200]!r}")
            client["create"].append(us)
            ids.append(json.loads(data)["id"])
        for id_ in ids:
            us, status, data = call("GET", f"/api/callbacks/{id_}")
            if status != 200:
                sys.exit(f"FAIL: read {id_}: {status}")
            client["read"].append(us)
        for _ in range(args.requests):
            us, status, data = call("GET", "/api/callbacks?status=pending")
            if status != 200 or len(json.loads(data)["items"]) != min(50, args.requests):
                sys.exit(f"FAIL: list: {status}")
            client["list"].append(us)
        conn.close()
    finally:
        server.send_signal(signal.SIGTERM)  # only the server started above
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
    served = {"POST": [], "GET /api/callbacks/": [], "GET /api/callbacks": []}
    for line in open(log_path):
        try:
            fields = json.loads(line).get("fields", {})
        except ValueError:
            continue
        if fields.get("route") != "api" or "latency_us" not in fields:
            continue
        kind = "POST" if fields["method"] == "POST" else ("GET /api/callbacks/" if fields["path"] != "/api/callbacks" else "GET /api/callbacks")
        served[kind].append(fields["latency_us"])
    shutil.rmtree(data, ignore_errors=True)
    print(f"work-item API under ivr serve ({args.ivr}), SQLite, {args.requests} requests each, one at a time (µs)")
    print(f"{'request':<34}{'client p50':>11}{'p99':>8}{'max':>8}{'server p50':>12}{'p99':>8}")
    for (label, c), s in zip(
        [("create: POST /api/callbacks", client["create"]), ("read: GET /api/callbacks/{id}", client["read"]), ("list: GET ?status=pending (50)", client["list"])],
        served.values(),
    ):
        sp50 = pct(s, 50) if s else float("nan")
        sp99 = pct(s, 99) if s else float("nan")
        print(f"{label:<34}{pct(c, 50):>11.0f}{pct(c, 99):>8.0f}{max(c):>8.0f}{sp50:>12.0f}{sp99:>8.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
