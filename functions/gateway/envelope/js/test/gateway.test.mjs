// Tests of jingtong-envelope.mjs against a running gateway (see live.mjs).
// They open a session, log in as the development operator and call the
// zones admin API through the envelope. They check that the gateway rejects
// tampered, replayed and stale requests, and that a closed session is gone.
// The same flow then runs over stand-ins for wx.request, my.request and
// swan.request.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import smCrypto from 'sm-crypto';
import * as smCryptoV2 from 'sm-crypto-v2';

import {
  GatewayError, createClient, fetchTransport, myRequestTransport, selectRandomSource, swanRequestTransport,
  wxRequestTransport,
} from '../jingtong-envelope.mjs';
import { adminPath, adminQuery, flipChar, gateway, runs, skipLive, staleMs } from './live.mjs';

const libraries = { 'sm-crypto': smCrypto, 'sm-crypto-v2': smCryptoV2 };

// recordingTransport sends through fetch and records each request as sent.
// A function in transport.next changes the next request before it is sent.
function recordingTransport() {
  const base = fetchTransport();
  const transport = async (request) => {
    const change = transport.next;
    transport.next = null;
    const sent = change ? change(request) : request;
    transport.sent.push(sent);
    return base(sent);
  };
  transport.sent = [];
  transport.next = null;
  transport.fetch = base;
  return transport;
}

function newClient(run, options = {}) {
  return createClient({
    baseURL: gateway.url,
    kid: gateway.kid,
    publicKeyHex: gateway.publicKeyHex,
    library: libraries[run.library],
    mode: run.mode,
    ...options,
  });
}

// loginOperator logs in as the development operator through the envelope
// and returns the token.
async function loginOperator(client) {
  const login = await client.request('POST', '/api/gateway/dev/login', { body: { user: 'operator' } });
  assert.equal(login.status, 200, login.body);
  assert.equal(login.json().subject, 'dev-operator');
  return login.json().token;
}

// checkAdminZones checks the decrypted response of the admin zones call.
function checkAdminZones(res) {
  assert.equal(res.status, 200, res.body);
  assert.equal(res.contentType, 'application/json; charset=utf-8');
  const zones = res.json().data;
  assert.ok(Array.isArray(zones), `zones: ${res.body}`);
  assert.ok(zones.length > 0, 'at least one published zone');
  assert.ok(zones.length <= 5, `${zones.length} zones for page_size=5`);
  for (const zone of zones) assert.equal(zone.status, 'published', zone.id);
}

async function rejectsWith(promise, status, code) {
  const err = await promise.then(() => assert.fail(`expected ${code}`), (e) => e);
  assert.ok(err instanceof GatewayError, String(err));
  assert.equal(err.status, status, err.message);
  assert.equal(err.code, code, err.message);
}

for (const run of runs) {
  test(`client ${run.library}/${run.mode} against the gateway`, { skip: skipLive }, async (t) => {
    const transport = recordingTransport();
    let offset = 0;
    const client = newClient(run, { transport, now: () => Date.now() + offset, adjustClock: false });
    let token;

    await t.test('session open', async () => {
      const session = await client.open();
      assert.equal(session.mode, run.mode);
      assert.equal(session.kid, gateway.kid);
      assert.ok(session.expiresAt > Date.now(), 'expires in the future');
    });

    await t.test('identified zones admin call as the development operator', async () => {
      token = await loginOperator(client);
      checkAdminZones(await client.request('GET', adminPath, { query: { status: 'published', page_size: 5 }, token }));
    });

    await t.test('plaintext admin call needs the envelope', async () => {
      const res = await fetch(`${gateway.url}${adminPath}?${adminQuery}`, { headers: { Authorization: `Bearer ${token}` } });
      assert.equal(res.status, 401);
      assert.equal((await res.json()).error.code, 'ENVELOPE_REQUIRED');
    });

    await t.test('tampered signature is rejected', async () => {
      transport.next = (r) => ({ ...r, headers: { ...r.headers, 'X-JT-Signature': flipChar(r.headers['X-JT-Signature'], 7) } });
      await rejectsWith(client.request('GET', adminPath, { query: adminQuery, token }), 400, 'ENVELOPE_INVALID');
    });

    await t.test('tampered body is rejected', async () => {
      transport.next = (r) => ({ ...r, body: flipChar(r.body, 20) });
      await rejectsWith(client.request('POST', '/api/gateway/dev/login', { body: { user: 'operator' } }), 400, 'ENVELOPE_INVALID');
    });

    await t.test('tampered query is rejected', async () => {
      transport.next = (r) => ({ ...r, url: r.url.replace('status=published', 'status=draft') });
      await rejectsWith(client.request('GET', adminPath, { query: adminQuery, token }), 400, 'ENVELOPE_INVALID');
    });

    await t.test('replayed request is rejected', async () => {
      checkAdminZones(await client.request('GET', adminPath, { query: adminQuery, token }));
      const replay = await transport.fetch(transport.sent.at(-1));
      assert.equal(replay.status, 409, replay.body);
      assert.equal(JSON.parse(replay.body).error.code, 'NONCE_REPLAYED');
    });

    await t.test('stale timestamp is rejected', async () => {
      offset = -staleMs;
      try {
        await rejectsWith(client.request('GET', adminPath, { query: adminQuery, token }), 400, 'TIMESTAMP_SKEW');
      } finally {
        offset = 0;
      }
    });

    await t.test('closed session is gone, and the client opens a new one', async () => {
      checkAdminZones(await client.request('GET', adminPath, { query: adminQuery, token }));
      const old = transport.sent.at(-1);
      await client.close();
      assert.equal(transport.sent.at(-1).method, 'DELETE');
      const res = await transport.fetch(old);
      assert.equal(res.status, 401, res.body);
      assert.equal(JSON.parse(res.body).error.code, 'SESSION_NOT_FOUND');

      const next = await client.request('GET', adminPath, { query: adminQuery, token });
      checkAdminZones(next);
      assert.notEqual(transport.sent.at(-1).headers['X-JT-Session'], old.headers['X-JT-Session'], 'a new session');
    });
  });
}

test('client corrects a stale clock from the Date header', { skip: skipLive }, async () => {
  const client = newClient(runs[1], { now: () => Date.now() - staleMs });
  const token = await loginOperator(client);
  checkAdminZones(await client.request('GET', adminPath, { query: adminQuery, token }));
  assert.ok(Math.abs(client.clockOffset - staleMs) < 5000, `clock offset ${client.clockOffset} ms`);
});

// miniProgramStandIn is a stand-in for a mini-program API object over
// fetch: request() with the given field names, and getRandomValues() with
// the callback shape of wx.getRandomValues. Response header names come in
// Go's canonical case (X-Jt-Signature), as some runtimes pass them on.
function miniProgramStandIn({ requestHeaders, responseHeaders, status }) {
  const calls = [];
  const api = {
    calls,
    request(options) {
      calls.push(options);
      assert.ok(['text', 'string'].includes(options.dataType), `dataType ${options.dataType}`);
      fetch(options.url, { method: options.method, headers: options[requestHeaders], body: options.data })
        .then(async (resp) => {
          const header = {};
          resp.headers.forEach((value, name) => {
            header[name.replace(/(^|-)([a-z])/g, (m) => m.toUpperCase())] = value;
          });
          options.success({ [status]: resp.status, [responseHeaders]: header, data: await resp.text() });
        }, (err) => options.fail({ errMsg: `request:fail ${err.message}` }));
    },
    getRandomValues({ length, success }) {
      setTimeout(() => success({ randomValues: crypto.getRandomValues(new Uint8Array(length)).buffer }), 0);
    },
  };
  return api;
}

const standIns = [
  { name: 'wx', run: runs[1], transport: wxRequestTransport, shape: { requestHeaders: 'header', responseHeaders: 'header', status: 'statusCode' } },
  { name: 'my', run: runs[0], transport: myRequestTransport, shape: { requestHeaders: 'headers', responseHeaders: 'headers', status: 'status' } },
  { name: 'swan', run: runs[2], transport: swanRequestTransport, shape: { requestHeaders: 'header', responseHeaders: 'header', status: 'statusCode' } },
];

for (const standIn of standIns) {
  test(`${standIn.name}.request and ${standIn.name}.getRandomValues stand-ins against the gateway`, { skip: skipLive }, async () => {
    const api = miniProgramStandIn(standIn.shape);
    // Only the mini-program API is in this runtime: no fetch, no crypto.
    const random = selectRandomSource({ [standIn.name]: api });
    const client = newClient(standIn.run, { transport: standIn.transport(api), random });

    const token = await loginOperator(client);
    checkAdminZones(await client.request('GET', adminPath, { query: { status: 'published', page_size: 5 }, token }));
    const last = api.calls.at(-1);
    const replay = await fetch(last.url, { method: last.method, headers: last[standIn.shape.requestHeaders] });
    assert.equal(replay.status, 409);
    assert.equal((await replay.json()).error.code, 'NONCE_REPLAYED');
  });
}
