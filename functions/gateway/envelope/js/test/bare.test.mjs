// Tests of the protocol with the bare npm packages, sm-crypto 0.5.8 and
// sm-crypto-v2 1.15.1, against a running gateway (see live.mjs). They do not
// use jingtong-envelope.mjs. Instead a second, independent client follows
// docs/protocol.md step by step, so that a fault shared by the module and
// the gateway cannot hide. Node APIs (Buffer, fetch, crypto) are fine here.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import smCrypto from 'sm-crypto';
import * as smCryptoV2 from 'sm-crypto-v2';

import { adminPath, adminQuery, flipChar, gateway, runs, skipLive, staleMs } from './live.mjs';

const v2 = smCryptoV2.default;
const hex = (bytes) => Buffer.from(bytes).toString('hex');
const unhex = (text) => new Uint8Array(Buffer.from(text, 'hex'));
const utf8 = (text) => new Uint8Array(Buffer.from(text, 'utf8'));
const concat = (...parts) => new Uint8Array(Buffer.concat(parts.map((p) => Buffer.from(p))));
const random = (n) => crypto.getRandomValues(new Uint8Array(n));

// Each library's primitives, called as docs/protocol.md names them.
const libraries = {
  'sm-crypto': {
    sm3: (data) => smCrypto.sm3(Array.from(data)),
    hmac: (key, data) => smCrypto.sm3(Array.from(data), { key: Array.from(key) }),
    // sm-crypto has no HKDF: RFC 5869 over HMAC-SM3.
    hkdf(ikm, salt, info, length) {
      const prk = unhex(this.hmac(salt, ikm));
      let block = new Uint8Array(0);
      let out = new Uint8Array(0);
      for (let i = 1; out.length < length; i++) {
        block = unhex(this.hmac(prk, concat(block, info, [i])));
        out = concat(out, block);
      }
      return out.slice(0, length);
    },
    encryptKey: (data, publicKeyHex) => smCrypto.sm2.doEncrypt(Array.from(data), publicKeyHex, 1),
    verify: (message, sig, publicKeyHex) => smCrypto.sm2.doVerifySignature(message, sig, publicKeyHex, { hash: true, der: true }),
    cbcEncrypt: (key, iv, data) => new Uint8Array(smCrypto.sm4.encrypt(Array.from(data), hex(key),
      { mode: 'cbc', iv: hex(iv), padding: 'pkcs#7', output: 'array' })),
    cbcDecrypt: (key, iv, data) => new Uint8Array(smCrypto.sm4.decrypt(Array.from(data), hex(key),
      { mode: 'cbc', iv: hex(iv), padding: 'pkcs#7', output: 'array' })),
  },
  'sm-crypto-v2': {
    sm3: (data) => v2.sm3(data),
    hmac: (key, data) => v2.sm3(data, { key }),
    hkdf: (ikm, salt, info, length) => v2.hkdf(ikm, salt, info, length),
    encryptKey: (data, publicKeyHex) => v2.sm2.doEncrypt(data, publicKeyHex, 1),
    verify: (message, sig, publicKeyHex) => v2.sm2.doVerifySignature(message, sig, publicKeyHex, { hash: true, der: true }),
    cbcEncrypt: (key, iv, data) => v2.sm4.encrypt(data, key, { mode: 'cbc', iv, padding: 'pkcs#7', output: 'array' }),
    cbcDecrypt: (key, iv, data) => v2.sm4.decrypt(data, key, { mode: 'cbc', iv, padding: 'pkcs#7', output: 'array' }),
    gcmEncrypt(key, iv, data, aad) {
      const r = v2.sm4.encrypt(data, key, { mode: 'gcm', iv, associatedData: aad, outputTag: true, output: 'array' });
      return concat(r.output, r.tag);
    },
    gcmDecrypt: (key, iv, data, aad) => v2.sm4.decrypt(data.slice(0, -16), key,
      { mode: 'gcm', iv, associatedData: aad, tag: data.slice(-16), output: 'array' }),
  },
};

// alBytes is AL of the cbc-hmac tag: the bit length of the 32-byte
// additional data as a 64-bit big-endian integer.
const alBytes = unhex('0000000000000100');

// openSession runs section 3 and derives the section 4 keys.
async function openSession(lib, mode, ts = Date.now()) {
  const keyMaterial = random(32);
  const request = { kid: gateway.kid, key: lib.encryptKey(keyMaterial, gateway.publicKeyHex), modes: [mode], ts, nonce: hex(random(16)) };
  const resp = await fetch(`${gateway.url}/api/gateway/session`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(request),
  });
  const answer = await resp.json();
  if (resp.status !== 200) return { status: resp.status, code: answer.error.code };

  const signed = ['JT-SESSION-V1', answer.session_id, answer.expires_at, answer.mode, answer.kid, request.ts,
    request.nonce, lib.sm3(utf8(request.key))].join('\n');
  assert.equal(answer.kid, gateway.kid, 'signed by the pinned key');
  assert.ok(lib.verify(signed, answer.sig, gateway.publicKeyHex), 'gateway SM2 signature verifies');
  assert.equal(answer.mode, mode);

  const block = lib.hkdf(keyMaterial, new Uint8Array(Buffer.from(answer.session_id, 'base64url')),
    utf8(`JT-KEYS-V1:${mode}`), mode === 'gcm' ? 96 : 160);
  const keys = { requestMac: block.slice(0, 32), responseMac: block.slice(32, 64) };
  if (mode === 'gcm') {
    keys.request = { enc: block.slice(64, 80) };
    keys.response = { enc: block.slice(80, 96) };
  } else {
    keys.request = { enc: block.slice(64, 80), mac: block.slice(80, 112) };
    keys.response = { enc: block.slice(112, 128), mac: block.slice(128, 160) };
  }
  return { status: 200, id: answer.session_id, mode, keys };
}

// canonicalQuery is section 5.3 for queries whose names and values are
// unreserved characters only (A–Z a–z 0–9 - . _ ~), which need no
// decoding or encoding: the pairs sorted by name, then by value.
function canonicalQuery(raw) {
  const pairs = raw.split('&').filter((part) => part !== '').map((part) => {
    const [name, value = ''] = part.split('=');
    assert.match(`${name}${value}`, /^[A-Za-z0-9._~-]*$/, 'this test sends unreserved characters only');
    return [name, value];
  });
  pairs.sort((a, b) => {
    if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
    if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1;
    return 0;
  });
  return pairs.map(([name, value]) => `${name}=${value}`).join('&');
}

// protect builds a protected request (section 5): the sealed body, the
// signed string and the headers.
function protect(lib, session, { method, path, query = '', body, contentType = '', token = '', timestamp = Date.now() }) {
  const nonce = hex(random(16));
  const aad = utf8(nonce);
  let wire = '';
  if (body !== undefined) {
    const plaintext = utf8(body);
    let sealed;
    if (session.mode === 'gcm') {
      const iv = random(12);
      sealed = concat(iv, lib.gcmEncrypt(session.keys.request.enc, iv, plaintext, aad));
    } else {
      const iv = random(16);
      const c = lib.cbcEncrypt(session.keys.request.enc, iv, plaintext);
      sealed = concat(iv, c, unhex(lib.hmac(session.keys.request.mac, concat(aad, iv, c, alBytes))));
    }
    wire = Buffer.from(sealed).toString('base64');
  }
  const authorization = token ? `Bearer ${token}` : '';
  const signed = ['JT-REQUEST-V1', session.id, method, path, canonicalQuery(query), String(timestamp), nonce, contentType,
    authorization, lib.sm3(utf8(wire))].join('\n');
  const headers = {
    'X-JT-Session': session.id,
    'X-JT-Timestamp': String(timestamp),
    'X-JT-Nonce': nonce,
    'X-JT-Signature': lib.hmac(session.keys.requestMac, utf8(signed)),
  };
  if (contentType) headers['X-JT-Content-Type'] = contentType;
  if (authorization) headers.Authorization = authorization;
  if (wire) headers['Content-Type'] = 'application/vnd.jingtong.envelope';
  return { method, url: `${gateway.url}${path}${query ? `?${query}` : ''}`, headers, body: wire || undefined, nonce };
}

// send sends a protected request and, when the response is protected,
// verifies and opens it (section 6).
async function send(lib, session, request) {
  const resp = await fetch(request.url, { method: request.method, headers: request.headers, body: request.body });
  const wire = await resp.text();
  const signature = resp.headers.get('X-JT-Signature');
  if (signature === null) return { status: resp.status, code: JSON.parse(wire).error.code };

  const timestamp = resp.headers.get('X-JT-Timestamp');
  const nonce = resp.headers.get('X-JT-Nonce');
  const contentType = resp.headers.get('X-JT-Content-Type') ?? '';
  const signed = ['JT-RESPONSE-V1', session.id, resp.status, request.nonce, timestamp, nonce, contentType,
    lib.sm3(utf8(wire))].join('\n');
  assert.equal(lib.hmac(session.keys.responseMac, utf8(signed)), signature, 'response signature');
  assert.ok(Math.abs(Number(timestamp) - Date.now()) <= 300000, 'response timestamp within the skew');

  let plaintext = '';
  if (wire !== '') {
    assert.match(resp.headers.get('Content-Type'), /^application\/vnd\.jingtong\.envelope/);
    const sealed = new Uint8Array(Buffer.from(wire, 'base64'));
    const aad = utf8(nonce);
    let bytes;
    if (session.mode === 'gcm') {
      bytes = lib.gcmDecrypt(session.keys.response.enc, sealed.slice(0, 12), sealed.slice(12), aad);
    } else {
      const iv = sealed.slice(0, 16);
      const c = sealed.slice(16, -32);
      assert.equal(lib.hmac(session.keys.response.mac, concat(aad, iv, c, alBytes)), hex(sealed.slice(-32)), 'body tag');
      bytes = lib.cbcDecrypt(session.keys.response.enc, iv, c);
    }
    plaintext = Buffer.from(bytes).toString('utf8');
  }
  return { status: resp.status, contentType, plaintext };
}

function assertRejected(res, status, code) {
  assert.deepEqual(res, { status, code });
}

for (const run of runs) {
  test(`bare ${run.library}/${run.mode} against the gateway`, { skip: skipLive }, async (t) => {
    const lib = libraries[run.library];
    const session = await openSession(lib, run.mode);
    assert.equal(session.status, 200, `session open: ${session.code}`);
    const login = () => protect(lib, session, {
      method: 'POST', path: '/api/gateway/dev/login', body: '{"user":"operator"}', contentType: 'application/json',
    });
    let token;
    const admin = (options = {}) => protect(lib, session, { method: 'GET', path: adminPath, query: adminQuery, token, ...options });

    await t.test('identified zones admin call as the development operator', async () => {
      const res = await send(lib, session, login());
      assert.equal(res.status, 200, res.plaintext);
      token = JSON.parse(res.plaintext).token;
      const zones = await send(lib, session, admin());
      assert.equal(zones.status, 200, zones.plaintext);
      assert.equal(zones.contentType, 'application/json; charset=utf-8');
      const data = JSON.parse(zones.plaintext).data;
      assert.ok(data.length > 0 && data.every((z) => z.status === 'published'), zones.plaintext);
    });

    await t.test('tampered signature and body are rejected', async () => {
      const signed = admin();
      signed.headers['X-JT-Signature'] = flipChar(signed.headers['X-JT-Signature'], 3);
      assertRejected(await send(lib, session, signed), 400, 'ENVELOPE_INVALID');
      const body = login();
      body.body = flipChar(body.body, 10);
      assertRejected(await send(lib, session, body), 400, 'ENVELOPE_INVALID');
    });

    await t.test('replayed request is rejected', async () => {
      const request = admin();
      assert.equal((await send(lib, session, request)).status, 200);
      assertRejected(await send(lib, session, request), 409, 'NONCE_REPLAYED');
    });

    await t.test('stale timestamps are rejected', async () => {
      assertRejected(await send(lib, session, admin({ timestamp: Date.now() - staleMs })), 400, 'TIMESTAMP_SKEW');
      assertRejected(await send(lib, session, admin({ timestamp: Date.now() + staleMs })), 400, 'TIMESTAMP_SKEW');
      assertRejected(await openSession(lib, run.mode, Date.now() - staleMs), 400, 'TIMESTAMP_SKEW');
    });

    await t.test('unknown session is rejected', async () => {
      const stranger = { ...session, id: Buffer.from(random(16)).toString('base64url') };
      assertRejected(await send(lib, stranger, protect(lib, stranger, { method: 'GET', path: adminPath, query: adminQuery, token })),
        401, 'SESSION_NOT_FOUND');
    });
  });
}
