"""A minimal AWS Lambda Runtime API on 127.0.0.1, for running a real
`bootstrap` binary outside AWS (tests and cold-start benchmarks).

It hands out the queued events in order (GET .../invocation/next), records
each response or error by request id, and records an init error. Standard
library only.
"""

import base64
import hashlib
import hmac
import http.server
import json
import queue
import threading
import time
import urllib.parse
import uuid

API = "/2018-06-01/runtime"


def twilio_signature(token, url, params):
    """X-Twilio-Signature: base64(HMAC-SHA1(token, url + sorted name+value pairs))."""
    data = url + "".join(k + v for k, v in sorted(params.items()))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def http_api_event(method, path, host, params=None, token=None, headers=None, query=""):
    """An API Gateway HTTP API (payload 2.0) event, signed like Twilio signs when `token` is given."""
    params = params or {}
    body = urllib.parse.urlencode(params) if method == "POST" else ""
    hdrs = {"host": host, "x-forwarded-proto": "https", "user-agent": "TwilioProxy/1.1"}
    if method == "POST":
        hdrs["content-type"] = "application/x-www-form-urlencoded"
    if token is not None:
        url = f"https://{host}{path}" + (f"?{query}" if query else "")
        hdrs["x-twilio-signature"] = twilio_signature(token, url, params if method == "POST" else {})
    hdrs.update(headers or {})
    now_ms = int(time.time() * 1000)
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": hdrs,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": host.split(".")[0],
            "domainName": host,
            "domainPrefix": host.split(".")[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "54.172.60.1",
                "userAgent": hdrs["user-agent"],
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "timeEpoch": now_ms,
        },
        "body": body,
        "isBase64Encoded": False,
    }


class RuntimeApi:
    """Serve `events` to one bootstrap process; collect what it answers."""

    def __init__(self, events):
        self.pending = queue.Queue()
        for e in events:
            self.pending.put(e)
        self.responses = {}  # request id -> (kind, payload, monotonic time)
        self.order = []  # request ids in the order handed out
        self.init_error = None
        self.done = threading.Condition()
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _reply(self, status, body=b"{}", headers=None):
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path != f"{API}/invocation/next":
                    return self._reply(404)
                try:
                    event = api.pending.get(timeout=30)
                except queue.Empty:
                    return self._reply(500)
                rid = str(uuid.uuid4())
                api.order.append(rid)
                self._reply(
                    200,
                    json.dumps(event).encode(),
                    {
                        "Lambda-Runtime-Aws-Request-Id": rid,
                        "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 10_000),
                        "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:eu-west-2:123456789012:function:ivr",
                        "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000",
                    },
                )

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                payload = self.rfile.read(length)
                now = time.monotonic()
                parts = self.path[len(API) :].strip("/").split("/")
                with api.done:
                    if parts == ["init", "error"]:
                        api.init_error = payload
                    elif len(parts) == 3 and parts[0] == "invocation":
                        api.responses[parts[1]] = (parts[2], payload, now)
                    else:
                        return self._reply(404)
                    api.done.notify_all()
                self._reply(202)

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                # A killed bootstrap drops its long-poll connection: expected.
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        # close() waits for serve_forever to notice shutdown(), up to one poll
        # interval (0.5 s by default: most of a deploy-tests run's wall time).
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def wait_for(self, count, timeout):
        """Wait until `count` invocations were answered; returns [(kind, json|bytes, t)] in order."""
        deadline = time.monotonic() + timeout
        with self.done:
            while len(self.responses) < count and self.init_error is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.done.wait(left)
        out = []
        for rid in self.order:
            if rid in self.responses:
                kind, payload, t = self.responses[rid]
                try:
                    payload = json.loads(payload)
                except ValueError:
                    pass
                out.append((kind, payload, t))
        return out

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def lambda_env(api_address, function_name, extra=None):
    """The environment Lambda gives a provided.al2023 function."""
    env = {
        "PATH": "/usr/bin:/bin",
        "AWS_LAMBDA_RUNTIME_API": api_address,
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/22/[$LATEST]0123456789abcdef",
        "AWS_REGION": "eu-west-2",
    }
    env.update(extra or {})
    return env
