// Offline tests of jingtong-envelope.mjs: the whole client against the
// protocol's test vectors (testdata/vectors.json) byte for byte, the
// verification failures, the random sources and the mini-program transports.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import smCrypto from 'sm-crypto';
import * as smCryptoV2 from 'sm-crypto-v2';

import {
  EnvelopeError, GatewayError, base64Decode, base64Encode, canonicalQuery, createClient, encodePath, encodeQuery,
  installCryptoShim, libraryPrimitives, myRequestTransport, selectRandomSource, selectTransport, swanRequestTransport, utf8Decode,
  utf8Encode, wxRequestTransport,
} from '../jingtong-envelope.mjs';

const vectors = JSON.parse(readFileSync(new URL('../../testdata/vectors.json', import.meta.url), 'utf8'));
const libraries = { 'sm-crypto': smCrypto, 'sm-crypto-v2': smCryptoV2 };
const hexBytes = (hex) => new Uint8Array(Buffer.from(hex, 'hex'));

// scriptedRandom returns a random source that yields the given byte strings
// in order and fails on any other request.
function scriptedRandom(...hexes) {
  const queue = hexes.map(hexBytes);
  return async (length) => {
    const next = queue.shift();
    assert.ok(next, `unexpected request for ${length} random bytes`);
    assert.equal(length, next.length, 'random request length');
    return next;
  };
}

// scriptedClock returns the given times in order, then the last one.
function scriptedClock(...times) {
  return () => (times.length > 1 ? times.shift() : times[0]);
}

// vectorLibrary wraps a library so that SM2 encryption returns the vectors'
// key ciphertext: SM2 encryption is randomized, and the gateway signature
// covers the SM3 of that exact ciphertext.
function vectorLibrary(library) {
  const sm2 = { ...library.sm2, doEncrypt: () => vectors.key_ciphertext_hex };
  return { ...library, sm2 };
}

// vectorTransport returns the vectors' responses to the vector case's
// session open and request, and records what the client sent.
function vectorTransport(c, sent) {
  return async (request) => {
    sent.push(request);
    if (sent.length === 1) return { status: 200, headers: { 'content-type': 'application/json' }, body: c.open.response_json };
    return {
      status: c.response.status,
      headers: {
        'Content-Type': 'application/vnd.jingtong.envelope',
        'X-Jt-Timestamp': c.response.timestamp,
        'x-jt-nonce': c.response.nonce,
        'X-JT-SIGNATURE': c.response.signature_hex,
        'X-Jt-Content-Type': c.response.content_type,
        'X-Request-Id': 'vector',
      },
      body: c.response.body,
    };
  };
}

function vectorClient(name, c, sent, overrides = {}) {
  const openRequest = JSON.parse(c.open.request_json);
  return createClient({
    baseURL: 'https://gw.example.cn',
    kid: vectors.gateway.kid,
    publicKeyHex: vectors.gateway.public_key_hex,
    library: vectorLibrary(libraries[name]),
    modes: openRequest.modes,
    transport: vectorTransport(c, sent),
    random: scriptedRandom(vectors.key_material_hex, openRequest.nonce, c.request.nonce, c.request.iv_hex),
    now: scriptedClock(openRequest.ts, Number(c.request.timestamp)),
    ...overrides,
  });
}

// sendVectorRequest sends the vector case's request through client.
function sendVectorRequest(client, c) {
  const r = c.request;
  return client.request(r.method, '/api/zones/items/京通', {
    query: r.raw_query,
    headers: { 'Content-Type': r.content_type },
    token: r.authorization.replace(/^Bearer /, ''),
    body: r.plaintext,
  });
}

const runs = [];
for (const c of vectors.cases) {
  for (const name of Object.keys(libraries)) {
    if (name === 'sm-crypto' && c.mode === 'gcm') continue;
    runs.push({ name, c });
  }
}

for (const { name, c } of runs) {
  test(`vectors ${name}/${c.mode}: client sends and accepts the vectors' bytes`, async () => {
    const sent = [];
    const client = vectorClient(name, c, sent);
    const res = await sendVectorRequest(client, c);

    assert.equal(sent.length, 2);
    assert.equal(sent[0].url, 'https://gw.example.cn/api/gateway/session');
    assert.equal(sent[0].body, c.open.request_json, 'session-open body');

    const r = c.request;
    assert.equal(sent[1].method, r.method);
    assert.equal(sent[1].url, `https://gw.example.cn${r.path}?${r.raw_query}`);
    assert.equal(sent[1].body, r.body, 'sealed request body');
    assert.deepEqual(sent[1].headers, {
      'X-JT-Session': c.open.session_id,
      'X-JT-Timestamp': r.timestamp,
      'X-JT-Nonce': r.nonce,
      'X-JT-Signature': r.signature_hex,
      'X-JT-Content-Type': r.content_type,
      Authorization: r.authorization,
      'Content-Type': 'application/vnd.jingtong.envelope',
    });

    assert.equal(res.status, 200);
    assert.equal(res.body, c.response.plaintext);
    assert.deepEqual(res.json(), JSON.parse(c.response.plaintext));
    assert.equal(res.contentType, c.response.content_type);
    assert.deepEqual(res.headers, { 'content-type': c.response.content_type, 'x-request-id': 'vector' });
  });
}

test('vectors: canonical queries', () => {
  for (const q of vectors.queries) {
    if (q.invalid) {
      assert.throws(() => canonicalQuery(q.raw), /invalid percent escape/, q.raw);
    } else {
      assert.equal(canonicalQuery(q.raw), q.canonical ?? '', q.raw); // vectors.json omits an empty canonical form
    }
  }
});

test('response failures: tampered, stale, unsigned and plaintext errors', async (t) => {
  const c = vectors.cases[0];
  const tamper = async (change, overrides = {}) => {
    const sent = [];
    const base = vectorTransport(c, sent);
    const transport = async (request) => {
      const res = await base(request);
      return sent.length === 2 ? change(res) : res;
    };
    return sendVectorRequest(vectorClient('sm-crypto-v2', c, [], { transport, ...overrides }), c);
  };
  const flip = (text, i) => text.slice(0, i) + (text[i] === 'A' ? 'B' : 'A') + text.slice(i + 1);

  await t.test('flipped body byte', () => assert.rejects(
    tamper((res) => ({ ...res, body: flip(res.body, 20) })), { name: 'EnvelopeError', message: /wrong signature/ }));
  await t.test('other status', () => assert.rejects(
    tamper((res) => ({ ...res, status: 201 })), { name: 'EnvelopeError', message: /wrong signature/ }));
  await t.test('stale timestamp', () => assert.rejects(
    tamper((res) => res, { now: scriptedClock(1796342399000, 1796342401234, 1796342401234 + 301000) }),
    { name: 'EnvelopeError', message: /beyond the 300000 ms skew/ }));
  await t.test('no signature on 200', () => assert.rejects(
    tamper((res) => ({ ...res, headers: { 'content-type': 'application/json' } })),
    { name: 'EnvelopeError', message: /no X-JT-Signature/ }));
  await t.test('duplicated signature', () => assert.rejects(
    tamper((res) => ({ ...res, headers: { ...res.headers, 'x-jt-signature': c.response.signature_hex } })),
    { name: 'EnvelopeError', message: /more than one X-JT-Signature/ }));
  await t.test('plaintext gateway error', async () => {
    const err = await tamper(() => ({
      status: 409,
      headers: { 'content-type': 'application/json', date: 'Fri, 04 Dec 2026 00:00:00 GMT' },
      body: '{"error":{"code":"NONCE_REPLAYED","message":"m","request_id":"r-1"}}',
    })).catch((e) => e);
    assert.ok(err instanceof GatewayError, String(err));
    assert.equal(err.status, 409);
    assert.equal(err.code, 'NONCE_REPLAYED');
    assert.equal(err.requestId, 'r-1');
  });
});

test('session open failures: unpinned key, wrong signature, unoffered mode', async (t) => {
  const c = vectors.cases[0];
  const answer = JSON.parse(c.open.response_json);
  const openWith = (changed) => {
    const transport = async () => ({ status: 200, headers: {}, body: JSON.stringify({ ...answer, ...changed }) });
    return vectorClient('sm-crypto-v2', c, [], { transport }).open();
  };
  await t.test('unpinned key', () => assert.rejects(openWith({ kid: 'gw-other' }), { name: 'EnvelopeError', message: /not pinned/ }));
  await t.test('wrong signature', () => assert.rejects(openWith({ expires_at: answer.expires_at + 1 }), {
    name: 'EnvelopeError', message: /wrong SM2 signature/,
  }));
  await t.test('gcm with sm-crypto', () => assert.throws(() => createClient({
    baseURL: 'https://gw.example.cn', kid: 'gw-test-1', publicKeyHex: vectors.gateway.public_key_hex,
    library: smCrypto, mode: 'gcm', transport: async () => ({}), random: async (n) => new Uint8Array(n),
  }), /sm-crypto does not support mode gcm/));
});

test('client retries once in a new session after SESSION_NOT_FOUND', async () => {
  const c = vectors.cases[0];
  const openRequest = JSON.parse(c.open.request_json);
  const sent = [];
  // Both session opens get the vectors' session-open response. The first
  // request gets SESSION_NOT_FOUND, the second the vectors' response.
  const transport = async (request) => {
    sent.push(request);
    if (request.url.endsWith('/api/gateway/session')) return { status: 200, headers: {}, body: c.open.response_json };
    if (sent.length === 2) return { status: 401, headers: {}, body: '{"error":{"code":"SESSION_NOT_FOUND","message":"m"}}' };
    return vectorTransport(c, [{}])(request);
  };
  // Two opens and two requests, so the randomness and clock repeat.
  const client = vectorClient('sm-crypto-v2', c, [], {
    transport,
    random: scriptedRandom(vectors.key_material_hex, openRequest.nonce, c.request.nonce, c.request.iv_hex,
      vectors.key_material_hex, openRequest.nonce, c.request.nonce, c.request.iv_hex),
    now: scriptedClock(openRequest.ts, Number(c.request.timestamp), openRequest.ts, Number(c.request.timestamp)),
  });
  const res = await sendVectorRequest(client, c);
  assert.equal(res.body, c.response.plaintext);
  assert.deepEqual(sent.map((r) => r.url.replace('https://gw.example.cn', '').split('?')[0]),
    ['/api/gateway/session', c.request.path, '/api/gateway/session', c.request.path]);
});

test('random source: crypto, then wx, never Math.random', async () => {
  assert.throws(() => selectRandomSource({}), /no cryptographically secure random source/);
  assert.throws(() => selectRandomSource({ wx: {}, my: { request() {} } }), /no cryptographically secure random source/);

  const calls = [];
  const wx = {
    getRandomValues({ length, success }) {
      calls.push(length);
      setTimeout(() => success({ randomValues: crypto.getRandomValues(new Uint8Array(length)).buffer }), 0);
    },
  };
  const random = selectRandomSource({ wx });
  const bytes = await random(16);
  assert.equal(bytes.length, 16);
  assert.deepEqual(calls, [16]);

  const failing = selectRandomSource({ swan: { getRandomValues: ({ fail }) => fail({ errMsg: 'getRandomValues:fail' }) } });
  await assert.rejects(failing(8), /swan.getRandomValues failed: getRandomValues:fail/);
  const short = selectRandomSource({ my: { getRandomValues: ({ success }) => success({ randomValues: new ArrayBuffer(4) }) } });
  await assert.rejects(short(8), /returned 4 bytes; expected 8/);

  // Neither the client nor the libraries' SM2 encryption calls Math.random.
  const original = Math.random;
  Math.random = () => assert.fail('Math.random called');
  try {
    for (const library of Object.values(libraries)) {
      const client = createClient({
        baseURL: 'https://gw.example.cn', kid: vectors.gateway.kid, publicKeyHex: vectors.gateway.public_key_hex, library,
        transport: async () => ({ status: 503, headers: {}, body: '{"error":{"code":"NOT_READY"}}' }),
      });
      await assert.rejects(client.open(), { name: 'GatewayError', code: 'NOT_READY' });
    }
  } finally {
    Math.random = original;
  }
});

test('installCryptoShim: pool from the runtime source, fails when dry', async () => {
  const target = {};
  let served = 0;
  const random = async (n) => {
    served += n;
    return crypto.getRandomValues(new Uint8Array(n));
  };
  assert.equal(await installCryptoShim({ random, poolSize: 64, target }), true);
  const a = target.crypto.getRandomValues(new Uint8Array(40));
  assert.equal(a.length, 40);
  assert.throws(() => target.crypto.getRandomValues(new Uint8Array(40)), /random pool is exhausted/);
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(target.crypto.getRandomValues(new Uint32Array(10)).length, 10);
  assert.ok(served >= 128, `served ${served} bytes`);
  assert.equal(await installCryptoShim({ random, target }), false, 'second install');
});

test('encoding helpers', () => {
  assert.equal(encodePath('/api/zones/items/京通'), '/api/zones/items/%E4%BA%AC%E9%80%9A');
  assert.equal(encodePath('/a b/%e4%ba%ac/%zz/~x'), '/a%20b/%E4%BA%AC/%25zz/~x');
  assert.throws(() => encodePath('api'), /must start with/);
  assert.equal(encodeQuery({ status: 'published', q: ['京', 'a b'], none: undefined }), 'status=published&q=%E4%BA%AC&q=a%20b');
  assert.equal(encodeQuery('?a=1'), 'a=1');
  for (const n of [0, 1, 2, 3, 4, 5, 31, 32, 33]) {
    const bytes = crypto.getRandomValues(new Uint8Array(n));
    assert.equal(base64Encode(bytes), Buffer.from(bytes).toString('base64'));
    assert.deepEqual(base64Decode(base64Encode(bytes)), bytes);
  }
  assert.deepEqual(base64Decode('EBESExQVFhcYGRobHB0eHw', true), hexBytes('101112131415161718191a1b1c1d1e1f'));
  assert.throws(() => base64Decode('QUJD*A=='), /invalid base64 character/);
  assert.throws(() => base64Decode('QUJ'), /multiple of 4/);
  const text = '京通 Jingtong 😀';
  assert.equal(utf8Decode(utf8Encode(text)), text);
});

test('encoding without TextEncoder and TextDecoder', () => {
  // A runtime without TextEncoder, TextDecoder, Buffer, atob and btoa, as
  // some mini-program base libraries are, must give the same results.
  const texts = ['', 'ascii', '京通 Jingtong', 'emoji 😀 and ü', 'lone \ud800 surrogate'];
  const script = `
    for (const name of ['TextEncoder', 'TextDecoder', 'Buffer', 'atob', 'btoa']) delete globalThis[name];
    const m = await import(${JSON.stringify(new URL('../jingtong-envelope.mjs', import.meta.url).href)});
    const texts = ${JSON.stringify(texts)};
    const invalid = m.utf8Decode(new Uint8Array([0x41, 0xe4, 0xba, 0x42, 0xff, 0xc0, 0x80, 0xed, 0xa0, 0x80]));
    console.log(JSON.stringify({
      hasTextEncoder: typeof TextEncoder !== 'undefined',
      encoded: texts.map((t) => m.toHex(m.utf8Encode(t))),
      decoded: texts.map((t) => m.utf8Decode(m.utf8Encode(t))),
      invalid,
      query: m.canonicalQuery('q=京&b=x+y&a=%e4%ba%ac'),
      path: m.encodePath('/api/zones/items/京通'),
      base64: m.base64Encode(m.utf8Encode('京通')),
    }));`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30000 });
  assert.equal(child.status, 0, child.stderr);
  const got = JSON.parse(child.stdout);

  assert.equal(got.hasTextEncoder, false);
  assert.deepEqual(got.encoded, texts.map((t) => Buffer.from(new TextEncoder().encode(t)).toString('hex')));
  assert.deepEqual(got.decoded, texts.map((t) => new TextDecoder().decode(new TextEncoder().encode(t))));
  assert.match(got.invalid, /^A\ufffd+B\ufffd+$/);
  assert.equal(got.query, 'a=%E4%BA%AC&b=x%20y&q=%E4%BA%AC');
  assert.equal(got.path, '/api/zones/items/%E4%BA%AC%E9%80%9A');
  assert.equal(got.base64, Buffer.from('京通').toString('base64'));
});

// standInRequest is a stand-in for wx.request, my.request and swan.request
// that records the options and calls the outcome callback with res.
function standInRequest(calls, res, outcome = 'success') {
  return {
    request(options) {
      calls.push(options);
      setTimeout(() => options[outcome](res), 0);
    },
  };
}

test('mini-program transports: request and response shapes', async () => {
  const request = {
    method: 'POST', url: 'https://gw.example.cn/x', body: 'c2VhbGVk',
    headers: { 'Content-Type': 'application/vnd.jingtong.envelope', 'X-JT-Nonce': 'n' },
  };
  const lowerHeaders = { 'content-type': 'application/vnd.jingtong.envelope', 'x-jt-nonce': 'n' };

  const wxCalls = [];
  const wx = standInRequest(wxCalls, { statusCode: 200, header: { 'X-Jt-Nonce': 'r' }, data: new TextEncoder().encode('b').buffer });
  assert.deepEqual(await wxRequestTransport(wx)(request), { status: 200, headers: { 'X-Jt-Nonce': 'r' }, body: 'b' });
  assert.equal(wxCalls[0].dataType, 'text');
  assert.deepEqual(wxCalls[0].header, lowerHeaders);
  assert.equal(wxCalls[0].data, 'c2VhbGVk');

  const myCalls = [];
  const my = standInRequest(myCalls, { status: '409', headers: { 'x-jt-nonce': 'r' }, data: '{"error":{}}', error: 19 }, 'fail');
  assert.deepEqual(await myRequestTransport(my)({ ...request, body: undefined }),
    { status: 409, headers: { 'x-jt-nonce': 'r' }, body: '{"error":{}}' });
  assert.deepEqual(myCalls[0].headers, lowerHeaders);
  assert.equal(myCalls[0].dataType, 'text');
  assert.ok(!('data' in myCalls[0]), 'no data for a request without a body');
  await assert.rejects(myRequestTransport(standInRequest([], { error: 12, errorMessage: 'network' }, 'fail'))(request),
    /my.request failed: network/);

  const swanCalls = [];
  const swan = standInRequest(swanCalls, { statusCode: 204, header: {}, data: '' });
  assert.deepEqual(await swanRequestTransport(swan)(request), { status: 204, headers: {}, body: '' });
  assert.equal(swanCalls[0].dataType, 'string');
  assert.deepEqual(swanCalls[0].header, lowerHeaders);

  assert.throws(() => selectTransport({}), /no transport/);
  const chosen = selectTransport({ wx });
  await chosen(request);
  assert.equal(wxCalls.length, 2, 'selectTransport uses wx.request when there is no fetch');
});

test('client options are checked', () => {
  const options = {
    baseURL: 'https://gw.example.cn', kid: 'gw-test-1', publicKeyHex: vectors.gateway.public_key_hex,
    library: smCryptoV2, transport: async () => ({}), random: async (n) => new Uint8Array(n),
  };
  assert.throws(() => createClient({ ...options, baseURL: 'gw.example.cn' }), /baseURL/);
  assert.throws(() => createClient({ ...options, kid: 'gw 1' }), /invalid key ID/);
  assert.throws(() => createClient({ ...options, publicKeyHex: '04ab' }), /130 hex characters/);
  assert.throws(() => createClient({ ...options, library: {} }), /sm-crypto-v2 or sm-crypto module/);
  assert.throws(() => createClient({ ...options, publicKeys: { other: vectors.gateway.public_key_hex } }), /not among the pinned/);
  assert.ok(createClient({ ...options, library: smCryptoV2.default }), 'the default export is accepted too');
});

test('library: the namespace import of sm-crypto is accepted', async () => {
  const namespace = await import('sm-crypto');
  assert.equal(libraryPrimitives(namespace).name, 'sm-crypto');
  assert.equal(libraryPrimitives(smCrypto).name, 'sm-crypto');
  assert.equal(libraryPrimitives(smCryptoV2).name, 'sm-crypto-v2');
  assert.throws(() => libraryPrimitives({ sm2: {} }), TypeError);
});
