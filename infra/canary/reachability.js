'use strict';
// The outside-in reachability check: what Twilio sees of the IVR.
//
// Two requests to the public base URL (the stack's API URL, e.g.
// https://abc.execute-api.eu-west-2.amazonaws.com), each of which must be
// answered completely within the timeout (3 s):
//
//   GET  /ping  200, application/json, {"name":"ping","invokedAt":"<RFC 3339>"}
//   POST /ivr   403 naming X-Twilio-Signature: an unsigned call is refused,
//               so the function behind the route runs and checks signatures
//
// The same file runs in two places. As a CloudWatch Synthetics canary
// (template.yaml inlines it; handler `reachability.handler`), the base URL
// comes from IVR_BASE_URL and a failed check throws, which fails the run.
// With plain Node.js (no packages: only node's http and https):
//
//   node infra/canary/reachability.js https://abc.execute-api.eu-west-2.amazonaws.com
//
// prints one JSON line per check and exits 0 when both pass, 1 when not.
// Plain http is accepted for loopback addresses only (tests against
// `ivr serve`). IVR_CANARY_TIMEOUT_MS overrides the 3 s.

const http = require('http');
const https = require('https');

const DEFAULT_TIMEOUT_MS = 3000;
const MAX_BODY_BYTES = 64 * 1024;
const USER_AGENT = 'ivr-reachability-canary';
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);
// An RFC 3339 instant with an offset, as /ping reports the IVR's clock.
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** The base URL without a trailing slash; throws on anything the canary must not call. */
function baseUrl(raw) {
  if (!raw || !String(raw).trim()) {
    throw new Error('no base URL: pass it as the first argument or set IVR_BASE_URL');
  }
  let u;
  try {
    u = new URL(String(raw).trim());
  } catch (e) {
    throw new Error(`not a URL: ${raw}`);
  }
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && LOOPBACK.has(u.hostname))) {
    throw new Error(`the canary calls https URLs only (http for loopback tests): ${raw}`);
  }
  if (u.search || u.hash) {
    throw new Error(`a base URL has no query or fragment: ${raw}`);
  }
  return u.toString().replace(/\/+$/, '');
}

function timeoutMs(env) {
  const n = Number(env.IVR_CANARY_TIMEOUT_MS);
  return Number.isFinite(n) && n > 0 ? n : DEFAULT_TIMEOUT_MS;
}

/** One request on a fresh connection; resolves with the whole answer or rejects within `limitMs`. */
function fetchOnce(url, { method = 'GET', body = null, headers = {}, limitMs }) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const u = new URL(url);
    const lib = u.protocol === 'https:' ? https : http;
    const req = lib.request(u, {
      method,
      agent: false,
      headers: { 'user-agent': USER_AGENT, ...headers },
    });
    let settled = false;
    const finish = (fn, value) => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        fn(value);
      }
    };
    const timer = setTimeout(() => {
      finish(reject, new Error(`no complete answer within ${limitMs} ms`));
      req.destroy();
    }, limitMs);
    req.on('error', (e) => finish(reject, new Error(`request failed: ${e.code || e.message}`)));
    req.on('response', (res) => {
      const chunks = [];
      let size = 0;
      res.on('data', (c) => {
        size += c.length;
        if (size > MAX_BODY_BYTES) {
          finish(reject, new Error(`answer larger than ${MAX_BODY_BYTES} bytes`));
          req.destroy();
          return;
        }
        chunks.push(c);
      });
      res.on('error', (e) => finish(reject, new Error(`answer broken off: ${e.code || e.message}`)));
      res.on('end', () =>
        finish(resolve, {
          status: res.statusCode,
          contentType: String(res.headers['content-type'] || ''),
          body: Buffer.concat(chunks).toString('utf8'),
          ms: Date.now() - started,
        }),
      );
    });
    if (body !== null) {
      req.write(body);
    }
    req.end();
  });
}

/** GET /ping: 200 with the ping JSON. Returns a problem, or null. */
function pingProblem(r) {
  if (r.status !== 200) {
    return `status ${r.status}, expected 200`;
  }
  if (!r.contentType.toLowerCase().startsWith('application/json')) {
    return `content type ${JSON.stringify(r.contentType)}, expected application/json`;
  }
  let v;
  try {
    v = JSON.parse(r.body);
  } catch (e) {
    return `body is not JSON: ${r.body.slice(0, 200)}`;
  }
  if (v === null || typeof v !== 'object' || v.name !== 'ping') {
    return `body is not the ping JSON: ${r.body.slice(0, 200)}`;
  }
  if (typeof v.invokedAt !== 'string' || !RFC3339.test(v.invokedAt) || !Number.isFinite(Date.parse(v.invokedAt))) {
    return `invokedAt is not an RFC 3339 instant: ${JSON.stringify(v.invokedAt)}`;
  }
  return null;
}

/** Unsigned POST /ivr: 403, and from the IVR (it names the missing signature). */
function unsignedProblem(r) {
  if (r.status !== 403) {
    return `status ${r.status}, expected 403 for an unsigned request`;
  }
  if (!r.body.includes('X-Twilio-Signature')) {
    return `403 but not the IVR's refusal: ${r.body.slice(0, 200)}`;
  }
  return null;
}

const CHECKS = [
  {
    name: 'ping',
    path: '/ping',
    options: { method: 'GET' },
    problem: pingProblem,
  },
  {
    name: 'unsigned-ivr-refused',
    path: '/ivr',
    options: {
      method: 'POST',
      body: 'CallSid=CA00000000000000000000000000000000&From=%2B15005550006&To=%2B15005550006',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    },
    problem: unsignedProblem,
  },
];

/** Runs every check against `base`; resolves with one result per check (never rejects for a failed check). */
async function runChecks(base, env = process.env) {
  const root = baseUrl(base);
  const limitMs = timeoutMs(env);
  const results = [];
  for (const c of CHECKS) {
    const url = root + c.path;
    let result;
    try {
      const r = await fetchOnce(url, { ...c.options, limitMs });
      const problem = c.problem(r) || (r.ms > limitMs ? `answered in ${r.ms} ms, over ${limitMs} ms` : null);
      result = { check: c.name, url, ok: problem === null, status: r.status, ms: r.ms, problem };
    } catch (e) {
      result = { check: c.name, url, ok: false, status: null, ms: null, problem: e.message };
    }
    results.push(result);
  }
  return results;
}

/** The canary's entry point: throws (fails the run) unless every check passed. */
async function handler() {
  const results = await runChecks(process.env.IVR_BASE_URL);
  for (const r of results) {
    console.log(JSON.stringify(r));
  }
  const failed = results.filter((r) => !r.ok);
  if (failed.length > 0) {
    throw new Error(`unreachable: ${failed.map((r) => `${r.check} (${r.url}): ${r.problem}`).join('; ')}`);
  }
  return 'reachable';
}

module.exports = { handler, runChecks, baseUrl, pingProblem, unsignedProblem };

if (require.main === module) {
  runChecks(process.argv[2] || process.env.IVR_BASE_URL)
    .then((results) => {
      for (const r of results) {
        console.log(JSON.stringify(r));
      }
      const ok = results.every((r) => r.ok);
      console.log(JSON.stringify({ reachable: ok }));
      process.exit(ok ? 0 : 1);
    })
    .catch((e) => {
      console.error(`reachability: ${e.message}`);
      process.exit(1);
    });
}
