// Jingtong transport envelope, protocol version 1 (docs/protocol.md): a
// client for WeChat, Alipay and Baidu mini-programs, browsers and Node 20.
//
// The caller passes in the SM library: sm-crypto-v2 1.15.1 (modes gcm and
// cbc-hmac) or sm-crypto 0.5.8 (mode cbc-hmac only, because it has no GCM).
// The module imports nothing and uses no Node-only API, so that a
// mini-program build tool can bundle it as it is.
//
//   import * as smCryptoV2 from 'sm-crypto-v2';
//   import { createClient } from './jingtong-envelope.mjs';
//
//   const client = createClient({
//     baseURL: 'http://127.0.0.1:8080',
//     kid: 'gw-1',
//     publicKeyHex: '04…', // pinned; never taken from the key listing
//     library: smCryptoV2,
//   });
//   const res = await client.request('GET', '/api/zones/admin/zones', {
//     query: { status: 'published' }, token,
//   });
//   res.status; res.body; res.json();
//
// By default the key material, nonces and IVs come from
// crypto.getRandomValues or the mini-program runtime's getRandomValues, and
// the module throws rather than fall back to Math.random. The SM library
// draws the randomness of SM2 encryption itself. See installCryptoShim for
// runtimes without crypto.getRandomValues.

export const PROTOCOL_VERSION = 1;
export const ENVELOPE_CONTENT_TYPE = 'application/vnd.jingtong.envelope';
export const MODE_GCM = 'gcm';
export const MODE_CBC_HMAC = 'cbc-hmac';

/** The gateway's default clock skew window in milliseconds (±300 s). */
export const DEFAULT_SKEW_MS = 300000;
/** How long before expiry a session is replaced, in milliseconds. */
export const DEFAULT_RENEW_BEFORE_MS = 60000;
/** The session-open path of the gateway assembly in localdev. */
export const DEFAULT_OPEN_PATH = '/api/gateway/session';

const KEY_MATERIAL_SIZE = 32;
const NONCE_SIZE = 16;
const GCM_NONCE_SIZE = 12;
const GCM_TAG_SIZE = 16;
const CBC_IV_SIZE = 16;
const BLOCK_SIZE = 16;
const MAC_SIZE = 32;

const HEADER_SESSION = 'X-JT-Session';
const HEADER_TIMESTAMP = 'X-JT-Timestamp';
const HEADER_NONCE = 'X-JT-Nonce';
const HEADER_SIGNATURE = 'X-JT-Signature';
const HEADER_CONTENT_TYPE = 'X-JT-Content-Type';

const KID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
const PUBLIC_KEY_PATTERN = /^04[0-9a-fA-F]{128}$/;
const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;
const TIMESTAMP_PATTERN = /^[1-9][0-9]{0,15}$/;
const NONCE_PATTERN = /^[0-9a-f]{32}$/;
const SIGNATURE_PATTERN = /^[0-9a-f]{64}$/;
const METHOD_PATTERN = /^[A-Z]{1,16}$/;
const BASE_URL_PATTERN = /^(https?:\/\/[^/?#]+)(\/[^?#]*)?$/;
const ENVELOPE_TYPE_PATTERN = /^application\/vnd\.jingtong\.envelope[ \t]*(;|$)/i;

/**
 * GatewayError is an error response that no session protects, such as
 * SESSION_NOT_FOUND or TIMESTAMP_SKEW. Nothing authenticates it, so treat
 * it as a hint only.
 */
export class GatewayError extends Error {
  constructor({ status, code = '', message = '', requestId = '', details, date = '' }) {
    const summary = code ? `HTTP status ${status} with code ${code}: ${message}` : `HTTP status ${status}`;
    super(`jingtong-envelope: gateway returned ${summary}`);
    this.name = 'GatewayError';
    this.status = status;
    this.code = code;
    this.gatewayMessage = message;
    this.requestId = requestId;
    this.details = details;
    /** The Date response header, for correcting the client clock. */
    this.date = date;
  }
}

/**
 * EnvelopeError is a response that failed verification: a wrong or missing
 * signature, a stale timestamp or a body that does not open. Treat the
 * response as forged.
 */
export class EnvelopeError extends Error {
  constructor(message, options) {
    super(`jingtong-envelope: ${message}`, options);
    this.name = 'EnvelopeError';
  }
}

// ---------------------------------------------------------------------------
// Bytes, text, hex and base64, without Buffer, atob or btoa, which
// mini-program runtimes lack.

const textEncoder = typeof TextEncoder === 'function' ? new TextEncoder() : null;
const textDecoder = typeof TextDecoder === 'function' ? new TextDecoder('utf-8') : null;

/** Encodes a string as UTF-8. A lone surrogate becomes U+FFFD. */
export function utf8Encode(text) {
  if (textEncoder) return textEncoder.encode(text);
  const out = [];
  for (const char of text) {
    let cp = char.codePointAt(0);
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
    if (cp < 0x80) {
      out.push(cp);
    } else if (cp < 0x800) {
      out.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
    } else {
      out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
    }
  }
  return new Uint8Array(out);
}

/** Decodes UTF-8. An invalid sequence becomes U+FFFD. */
export function utf8Decode(bytes) {
  if (textDecoder) return textDecoder.decode(bytes);
  let out = '';
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i];
    // The lead byte gives the sequence length and the first bits of the
    // code point; 0x80–0xC1 and 0xF5–0xFF never lead a sequence.
    let size = 0;
    let cp = 0;
    if (b < 0x80) {
      size = 1;
      cp = b;
    } else if (b >= 0xc2 && b < 0xe0) {
      size = 2;
      cp = b & 0x1f;
    } else if (b >= 0xe0 && b < 0xf0) {
      size = 3;
      cp = b & 0x0f;
    } else if (b >= 0xf0 && b < 0xf5) {
      size = 4;
      cp = b & 0x07;
    }
    let valid = size > 0 && i + size <= bytes.length;
    for (let j = 1; valid && j < size; j++) {
      valid = (bytes[i + j] & 0xc0) === 0x80;
      cp = (cp << 6) | (bytes[i + j] & 0x3f);
    }
    const min = [0, 0, 0x80, 0x800, 0x10000][size];
    if (!valid || cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      out += '\ufffd';
      i += 1;
      continue;
    }
    out += String.fromCodePoint(cp);
    i += size;
  }
  return out;
}

/** Returns lowercase hex. */
export function toHex(bytes) {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
  return out;
}

/** Decodes hex of either case. */
export function fromHex(hex) {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new TypeError('jingtong-envelope: invalid hex string');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function concatBytes(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Encodes standard base64 with padding (RFC 4648, section 4). */
export function base64Encode(bytes) {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += BASE64_ALPHABET[(n >> 18) & 63] + BASE64_ALPHABET[(n >> 12) & 63];
    out += i + 1 < bytes.length ? BASE64_ALPHABET[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.length ? BASE64_ALPHABET[n & 63] : '=';
  }
  return out;
}

/**
 * Decodes base64 in the standard alphabet with padding, or in base64url
 * without padding when url is true. It throws on any other character and
 * on a wrong length.
 */
export function base64Decode(text, url = false) {
  const alphabet = url ? BASE64URL_ALPHABET : BASE64_ALPHABET;
  let body = text;
  if (!url) {
    if (text.length % 4 !== 0) throw new TypeError('jingtong-envelope: base64 length is not a multiple of 4');
    body = text.replace(/={1,2}$/, '');
  }
  if (body.length % 4 === 1) throw new TypeError('jingtong-envelope: invalid base64 length');
  const out = new Uint8Array(Math.floor((body.length * 3) / 4));
  let bits = 0;
  let value = 0;
  let j = 0;
  for (let i = 0; i < body.length; i++) {
    const v = alphabet.indexOf(body[i]);
    if (v < 0) throw new TypeError(`jingtong-envelope: invalid base64 character at offset ${i}`);
    value = (value << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[j++] = (value >> bits) & 0xff;
    }
  }
  return out;
}

/** Compares two strings in time that depends only on their lengths. */
export function constantTimeEqual(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

// ---------------------------------------------------------------------------
// Randomness.

// runtimeGlobals returns the runtime objects that may supply randomness and
// transport. Mini-program runtimes expose wx, my and swan as globals that
// are not always properties of globalThis.
function runtimeGlobals() {
  const g = typeof globalThis === 'object' ? globalThis : {};
  return {
    crypto: g.crypto,
    fetch: typeof g.fetch === 'function' ? g.fetch.bind(g) : undefined,
    wx: typeof wx === 'object' && wx !== null ? wx : g.wx,
    my: typeof my === 'object' && my !== null ? my : g.my,
    swan: typeof swan === 'object' && swan !== null ? swan : g.swan,
  };
}

/**
 * Returns a random source over a Web Crypto object: an async function of a
 * length that resolves to that many random bytes.
 */
export function cryptoRandomSource(cryptoObject) {
  return async (length) => {
    const out = new Uint8Array(length);
    // getRandomValues fills at most 65536 bytes per call.
    for (let i = 0; i < length; i += 65536) cryptoObject.getRandomValues(out.subarray(i, Math.min(length, i + 65536)));
    return out;
  };
}

/**
 * Returns a random source over a mini-program API object whose
 * getRandomValues({length, success, fail}) calls success with
 * {randomValues: ArrayBuffer}, as wx.getRandomValues does (WeChat base
 * library 2.15.0 and later).
 */
export function miniProgramRandomSource(api, name = 'getRandomValues') {
  return (length) => new Promise((resolve, reject) => {
    api.getRandomValues({
      length,
      success(res) {
        const bytes = res && res.randomValues ? new Uint8Array(res.randomValues) : new Uint8Array(0);
        if (bytes.length !== length) {
          reject(new Error(`jingtong-envelope: ${name} returned ${bytes.length} bytes; expected ${length}`));
          return;
        }
        resolve(bytes);
      },
      fail(err) {
        reject(new Error(`jingtong-envelope: ${name} failed: ${describe(err)}`));
      },
    });
  });
}

/**
 * Returns the runtime's secure random source: crypto.getRandomValues
 * (browsers, Node 20), else wx.getRandomValues (WeChat), my.getRandomValues
 * (Alipay) or swan.getRandomValues (Baidu). It throws when there is none,
 * because Math.random must never make keys, nonces or IVs.
 */
export function selectRandomSource(env = runtimeGlobals()) {
  if (env.crypto && typeof env.crypto.getRandomValues === 'function') return cryptoRandomSource(env.crypto);
  // NOTE: WeChat documents wx.getRandomValues. That Alipay and Baidu
  // runtimes that offer my.getRandomValues or swan.getRandomValues use the
  // same callback shape is an assumption; pass options.random where it
  // does not hold.
  for (const name of ['wx', 'my', 'swan']) {
    const api = env[name];
    if (api && typeof api.getRandomValues === 'function') return miniProgramRandomSource(api, `${name}.getRandomValues`);
  }
  throw new Error('jingtong-envelope: no cryptographically secure random source: the runtime has neither '
    + 'crypto.getRandomValues nor wx, my or swan.getRandomValues; pass options.random');
}

/**
 * Installs globalThis.crypto.getRandomValues, backed by a pool of bytes from
 * random, where the runtime has none. sm-crypto 0.5 throws when it loads
 * without it, and sm-crypto-v2 draws the randomness of SM2 encryption from
 * it, so call this and await it before loading either library in a
 * mini-program. The pool refills in the background when half used, and
 * getRandomValues throws when it runs dry rather than return weak bytes.
 * Resolves to false when the runtime already had a source.
 */
export async function installCryptoShim({ random = selectRandomSource(), poolSize = 16384, target = globalThis } = {}) {
  if (target.crypto && typeof target.crypto.getRandomValues === 'function') return false;
  let pool = await random(poolSize);
  let refilling = null;
  const refill = () => {
    if (refilling) return;
    refilling = random(poolSize).then((bytes) => {
      pool = concatBytes(pool, bytes);
    }).catch(() => {}).then(() => {
      refilling = null;
    });
  };
  const getRandomValues = (view) => {
    const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    if (bytes.length > pool.length) {
      refill();
      throw new Error('jingtong-envelope: the random pool is exhausted; try again shortly');
    }
    bytes.set(pool.subarray(0, bytes.length));
    pool.fill(0, 0, bytes.length);
    pool = pool.subarray(bytes.length);
    if (pool.length < poolSize / 2) refill();
    return view;
  };
  target.crypto = Object.assign(target.crypto || {}, { getRandomValues });
  return true;
}

// ---------------------------------------------------------------------------
// The SM primitives of each library, behind one interface.

/**
 * Returns the SM2, SM3 and SM4 operations of sm-crypto-v2 or sm-crypto,
 * passed in as the module object or its default export.
 */
export function libraryPrimitives(library) {
  // A namespace import of a CommonJS package (import * as m) may expose
  // only some of its exports next to `default`, as Node does for
  // sm-crypto 0.5, so fall back to `default` when the object is incomplete.
  const complete = (m) => m && m.sm2 && typeof m.sm3 === 'function' && m.sm4;
  const lib = complete(library) ? library : library && library.default;
  if (!complete(lib)) {
    throw new TypeError('jingtong-envelope: options.library must be the sm-crypto-v2 or sm-crypto module');
  }
  return typeof lib.hkdf === 'function' ? smCryptoV2Primitives(lib) : smCryptoPrimitives(lib);
}

// Every signature check passes {hash: true, der: true}: SM3(Z‖M) with the
// default user ID, and a DER signature. Older libraries default to
// hash: false.
const SIGNATURE_OPTIONS = { hash: true, der: true };

function smCryptoV2Primitives(lib) {
  return {
    name: 'sm-crypto-v2',
    modes: [MODE_GCM, MODE_CBC_HMAC],
    sm3: (data) => lib.sm3(data),
    hmac: (key, data) => lib.sm3(data, { key }),
    hkdf: (ikm, salt, info, length) => lib.hkdf(ikm, salt, info, length),
    sm2Encrypt: (data, publicKeyHex) => lib.sm2.doEncrypt(data, publicKeyHex, 1),
    sm2Verify: (message, signatureHex, publicKeyHex) =>
      lib.sm2.doVerifySignature(message, signatureHex, publicKeyHex, SIGNATURE_OPTIONS),
    cbcEncrypt: (key, iv, data) => lib.sm4.encrypt(data, key, { mode: 'cbc', iv, padding: 'pkcs#7', output: 'array' }),
    cbcDecrypt: (key, iv, data) => lib.sm4.decrypt(data, key, { mode: 'cbc', iv, padding: 'pkcs#7', output: 'array' }),
    gcmEncrypt(key, iv, data, aad) {
      const r = lib.sm4.encrypt(data, key, { mode: 'gcm', iv, associatedData: aad, outputTag: true, output: 'array' });
      return concatBytes(r.output, r.tag);
    },
    gcmDecrypt: (key, iv, data, aad) => lib.sm4.decrypt(data.subarray(0, data.length - GCM_TAG_SIZE), key, {
      mode: 'gcm', iv, associatedData: aad, tag: data.subarray(data.length - GCM_TAG_SIZE), output: 'array',
    }),
  };
}

// sm-crypto 0.5 takes number arrays and hex strings rather than
// Uint8Array, and has no HKDF and no GCM.
function smCryptoPrimitives(lib) {
  const hmac = (key, data) => lib.sm3(Array.from(data), { key: Array.from(key) });
  return {
    name: 'sm-crypto',
    modes: [MODE_CBC_HMAC],
    sm3: (data) => lib.sm3(Array.from(data)),
    hmac,
    hkdf: (ikm, salt, info, length) => hkdfSM3(hmac, ikm, salt, info, length),
    sm2Encrypt: (data, publicKeyHex) => lib.sm2.doEncrypt(Array.from(data), publicKeyHex, 1),
    sm2Verify: (message, signatureHex, publicKeyHex) =>
      lib.sm2.doVerifySignature(message, signatureHex, publicKeyHex, SIGNATURE_OPTIONS),
    cbcEncrypt: (key, iv, data) => new Uint8Array(lib.sm4.encrypt(Array.from(data), toHex(key),
      { mode: 'cbc', iv: toHex(iv), padding: 'pkcs#7', output: 'array' })),
    cbcDecrypt: (key, iv, data) => new Uint8Array(lib.sm4.decrypt(Array.from(data), toHex(key),
      { mode: 'cbc', iv: toHex(iv), padding: 'pkcs#7', output: 'array' })),
  };
}

// hkdfSM3 is HKDF (RFC 5869) over an HMAC-SM3 function that returns hex.
function hkdfSM3(hmac, ikm, salt, info, length) {
  const prk = fromHex(hmac(salt, ikm));
  const out = new Uint8Array(length);
  let block = new Uint8Array(0);
  for (let i = 1, offset = 0; offset < length; i++) {
    block = fromHex(hmac(prk, concatBytes(block, info, [i])));
    out.set(block.subarray(0, length - offset), offset);
    offset += block.length;
  }
  return out;
}

// ---------------------------------------------------------------------------
// The protocol: strings to sign, canonical query, keys and bodies.

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

// percentEncode encodes every byte outside A–Z a–z 0–9 - . _ ~ (and the
// characters in keep) as %XX with uppercase hex.
function percentEncode(bytes, keep = '') {
  let out = '';
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    out += b < 0x80 && (UNRESERVED.test(c) || keep.includes(c)) ? c : `%${b < 16 ? '0' : ''}${b.toString(16).toUpperCase()}`;
  }
  return out;
}

// decodeFormComponent decodes application/x-www-form-urlencoded text to
// bytes: + is a space and %XX the byte XX. Any other % throws.
function decodeFormComponent(text) {
  const out = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '+') {
      out.push(0x20);
    } else if (c === '%') {
      const h = text.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(h)) throw new TypeError(`jingtong-envelope: invalid percent escape in query at offset ${i}`);
      out.push(parseInt(h, 16));
      i += 2;
    } else {
      const cp = text.codePointAt(i);
      const char = String.fromCodePoint(cp);
      out.push(...utf8Encode(char));
      i += char.length - 1;
    }
  }
  return out;
}

/**
 * Returns the canonical form of a raw query (without ?) that the request
 * signature covers (docs/protocol.md, section 5.3). It throws on an invalid
 * percent escape, which the gateway rejects with INVALID_REQUEST.
 */
export function canonicalQuery(raw) {
  const pairs = raw.split('&').filter((part) => part !== '').map((part) => {
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    return [percentEncode(decodeFormComponent(name)), percentEncode(decodeFormComponent(value))];
  });
  // The encoded strings are ASCII, so comparing UTF-16 code units compares bytes.
  pairs.sort((a, b) => {
    if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
    if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1;
    return 0;
  });
  return pairs.map(([name, value]) => `${name}=${value}`).join('&');
}

/**
 * Percent-encodes a path as the client must send and sign it: every byte
 * outside A–Z a–z 0–9 - . _ ~ / as %XX with uppercase hex. A valid %XX
 * escape already in the path is kept, in uppercase.
 */
export function encodePath(path) {
  if (!path.startsWith('/')) throw new TypeError(`jingtong-envelope: path ${JSON.stringify(path)} must start with /`);
  let out = '';
  for (let i = 0; i < path.length; i++) {
    const c = path[i];
    if (c === '%' && /^[0-9A-Fa-f]{2}$/.test(path.slice(i + 1, i + 3))) {
      out += `%${path.slice(i + 1, i + 3).toUpperCase()}`;
      i += 2;
      continue;
    }
    const char = String.fromCodePoint(path.codePointAt(i));
    out += percentEncode(utf8Encode(char), '/');
    i += char.length - 1;
  }
  return out;
}

/**
 * Encodes a query object ({name: value or [values]}) as a raw query, with
 * every byte outside A–Z a–z 0–9 - . _ ~ as %XX. A string passes as it is,
 * without a leading ?.
 */
export function encodeQuery(query) {
  if (query === undefined || query === null) return '';
  if (typeof query === 'string') return query.replace(/^\?/, '');
  const parts = [];
  for (const [name, value] of Object.entries(query)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v === undefined || v === null) continue;
      parts.push(`${percentEncode(utf8Encode(name))}=${percentEncode(utf8Encode(String(v)))}`);
    }
  }
  return parts.join('&');
}

/** Returns the session-open string that the gateway signs (section 3.3). */
export function sessionStringToSign(primitives, openRequest, answer) {
  return ['JT-SESSION-V1', answer.session_id, answer.expires_at, answer.mode, answer.kid,
    openRequest.ts, openRequest.nonce, primitives.sm3(utf8Encode(openRequest.key))].join('\n');
}

/** Returns the request string to sign (section 5.4). */
export function requestStringToSign(f) {
  return ['JT-REQUEST-V1', f.session, f.method, f.path, f.query, f.timestamp, f.nonce,
    f.contentType, f.authorization, f.bodySm3].join('\n');
}

/** Returns the response string to sign (section 6). */
export function responseStringToSign(f) {
  return ['JT-RESPONSE-V1', f.session, f.status, f.requestNonce, f.timestamp, f.nonce,
    f.contentType, f.bodySm3].join('\n');
}

/**
 * Derives the session keys with HKDF-SM3 (section 4) from the 32 bytes of
 * key material and the 16 bytes of the session ID.
 */
export function deriveSessionKeys(primitives, keyMaterial, sessionIdBytes, mode) {
  const length = mode === MODE_GCM ? 96 : 160;
  const block = primitives.hkdf(keyMaterial, sessionIdBytes, utf8Encode(`JT-KEYS-V1:${mode}`), length);
  const keys = { mode, block, requestMac: block.slice(0, 32), responseMac: block.slice(32, 64) };
  if (mode === MODE_GCM) {
    keys.request = { enc: block.slice(64, 80) };
    keys.response = { enc: block.slice(80, 96) };
  } else {
    keys.request = { enc: block.slice(64, 80), mac: block.slice(80, 112) };
    keys.response = { enc: block.slice(112, 128), mac: block.slice(128, 160) };
  }
  return keys;
}

// bitLength returns the bit length of data as a 64-bit big-endian integer,
// the AL of the cbc-hmac tag.
function bitLength(data) {
  const bits = data.length * 8;
  const out = new Uint8Array(8);
  const high = Math.floor(bits / 0x100000000);
  const low = bits >>> 0;
  for (let i = 0; i < 4; i++) {
    out[3 - i] = (high >>> (8 * i)) & 0xff;
    out[7 - i] = (low >>> (8 * i)) & 0xff;
  }
  return out;
}

/**
 * Seals a body (section 5.1) under one direction's keys: N‖C‖T for gcm,
 * IV‖C‖HMAC-SM3(A‖IV‖C‖AL) for cbc-hmac. The additional data A is the
 * message's X-JT-Nonce in hex. iv is 12 random bytes for gcm, 16 for
 * cbc-hmac.
 */
export function sealBody(primitives, mode, keys, iv, plaintext, nonceHex) {
  const aad = utf8Encode(nonceHex);
  if (mode === MODE_GCM) return concatBytes(iv, primitives.gcmEncrypt(keys.enc, iv, plaintext, aad));
  const c = primitives.cbcEncrypt(keys.enc, iv, plaintext);
  const tag = fromHex(primitives.hmac(keys.mac, concatBytes(aad, iv, c, bitLength(aad))));
  return concatBytes(iv, c, tag);
}

/** Opens a sealed body; it throws an EnvelopeError when it does not open. */
export function openBody(primitives, mode, keys, sealed, nonceHex) {
  const aad = utf8Encode(nonceHex);
  if (mode === MODE_GCM) {
    if (sealed.length < GCM_NONCE_SIZE + GCM_TAG_SIZE) throw new EnvelopeError('sealed body is too short');
    try {
      return primitives.gcmDecrypt(keys.enc, sealed.subarray(0, GCM_NONCE_SIZE), sealed.subarray(GCM_NONCE_SIZE), aad);
    } catch (err) {
      throw new EnvelopeError('sealed body does not open', { cause: err });
    }
  }
  const cipherLength = sealed.length - CBC_IV_SIZE - MAC_SIZE;
  if (cipherLength < BLOCK_SIZE || cipherLength % BLOCK_SIZE !== 0) throw new EnvelopeError('sealed body has an invalid length');
  const iv = sealed.subarray(0, CBC_IV_SIZE);
  const c = sealed.subarray(CBC_IV_SIZE, CBC_IV_SIZE + cipherLength);
  const tag = toHex(sealed.subarray(CBC_IV_SIZE + cipherLength));
  // Check the tag before decrypting, so that padding errors never show.
  if (!constantTimeEqual(primitives.hmac(keys.mac, concatBytes(aad, iv, c, bitLength(aad))), tag)) {
    throw new EnvelopeError('sealed body does not open');
  }
  try {
    return primitives.cbcDecrypt(keys.enc, iv, c);
  } catch (err) {
    throw new EnvelopeError('sealed body does not open', { cause: err });
  }
}

// ---------------------------------------------------------------------------
// Transports. A transport is an async function of
// {method, url, headers: {name: value}, body: string or undefined} that
// resolves to {status, headers: {name: value}, body: string}. Response
// header names may come in any case.

/** Returns a transport over fetch (browsers, Node 20). */
export function fetchTransport(fetchFunction = runtimeGlobals().fetch) {
  if (typeof fetchFunction !== 'function') throw new TypeError('jingtong-envelope: fetch is not available');
  return async ({ method, url, headers, body }) => {
    // A redirect would send the protected request to another path, whose
    // signature cannot match, so fail instead of following it.
    const resp = await fetchFunction(url, { method, headers, body, redirect: 'error' });
    const out = {};
    resp.headers.forEach((value, name) => {
      out[name] = value;
    });
    return { status: resp.status, headers: out, body: await resp.text() };
  };
}

// lowerCaseNames copies headers with lowercase names, so that they replace
// the content-type that wx.request and my.request add by default.
function lowerCaseNames(headers) {
  const out = {};
  for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] = value;
  return out;
}

// responseText returns the response body as text. The adapters ask for text
// (dataType other than json), but a runtime may still hand over an
// ArrayBuffer or parsed JSON.
function responseText(data) {
  if (data === undefined || data === null) return '';
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer) return utf8Decode(new Uint8Array(data));
  if (ArrayBuffer.isView(data)) return utf8Decode(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return JSON.stringify(data);
}

function describe(err) {
  if (err === undefined || err === null) return 'no details';
  if (typeof err === 'string') return err;
  return err.errMsg || err.errorMessage || err.message || JSON.stringify(err);
}

/**
 * Returns a transport over WeChat's wx.request: request headers in
 * `header`, response in {statusCode, header, data}. dataType 'text' stops
 * wx.request from parsing the body as JSON.
 */
export function wxRequestTransport(api = runtimeGlobals().wx) {
  return ({ method, url, headers, body }) => new Promise((resolve, reject) => {
    const options = {
      url,
      method,
      header: lowerCaseNames(headers),
      dataType: 'text',
      responseType: 'text',
      success: (res) => resolve({ status: Number(res.statusCode), headers: res.header || {}, body: responseText(res.data) }),
      fail: (err) => reject(new Error(`jingtong-envelope: wx.request failed: ${describe(err)}`)),
    };
    if (body !== undefined) options.data = body;
    api.request(options);
  });
}

/**
 * Returns a transport over Alipay's my.request: request headers in
 * `headers`, response in {status, headers, data}, dataType 'text'.
 */
export function myRequestTransport(api = runtimeGlobals().my) {
  const toResponse = (res) => ({ status: Number(res.status), headers: res.headers || {}, body: responseText(res.data) });
  return ({ method, url, headers, body }) => new Promise((resolve, reject) => {
    const options = {
      url,
      method,
      headers: lowerCaseNames(headers),
      dataType: 'text',
      success: (res) => resolve(toResponse(res)),
      fail: (err) => {
        // NOTE: older Alipay clients report an HTTP error status through
        // fail (error 19) rather than success. A failure that carries a
        // status is taken as the gateway's response; this shape is read
        // from Alipay's documentation, not checked on a device.
        if (err && Number(err.status) > 0) {
          resolve(toResponse(err));
          return;
        }
        reject(new Error(`jingtong-envelope: my.request failed: ${describe(err)}`));
      },
    };
    if (body !== undefined) options.data = body;
    api.request(options);
  });
}

/**
 * Returns a transport over Baidu's swan.request: request headers in
 * `header`, response in {statusCode, header, data}. dataType 'string' stops
 * swan.request from parsing the body as JSON.
 */
export function swanRequestTransport(api = runtimeGlobals().swan) {
  return ({ method, url, headers, body }) => new Promise((resolve, reject) => {
    const options = {
      url,
      method,
      header: lowerCaseNames(headers),
      dataType: 'string',
      responseType: 'text',
      success: (res) => resolve({ status: Number(res.statusCode), headers: res.header || {}, body: responseText(res.data) }),
      fail: (err) => reject(new Error(`jingtong-envelope: swan.request failed: ${describe(err)}`)),
    };
    if (body !== undefined) options.data = body;
    api.request(options);
  });
}

/** Returns fetch where the runtime has it, else wx, my or swan.request. */
export function selectTransport(env = runtimeGlobals()) {
  if (typeof env.fetch === 'function') return fetchTransport(env.fetch);
  if (env.wx && typeof env.wx.request === 'function') return wxRequestTransport(env.wx);
  if (env.my && typeof env.my.request === 'function') return myRequestTransport(env.my);
  if (env.swan && typeof env.swan.request === 'function') return swanRequestTransport(env.swan);
  throw new Error('jingtong-envelope: no transport: the runtime has neither fetch nor wx, my or swan.request; pass options.transport');
}

// headerValue looks a header up without regard to case. It returns
// undefined when the header is absent and throws when it appears under two
// spellings, because each protocol header may appear once.
function headerValue(headers, name) {
  const lower = name.toLowerCase();
  let found;
  for (const [key, value] of Object.entries(headers || {})) {
    if (key.toLowerCase() !== lower) continue;
    if (found !== undefined) throw new EnvelopeError(`the response has more than one ${name} header`);
    found = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return found;
}

// ---------------------------------------------------------------------------
// The client.

/**
 * Creates a client of the gateway.
 *
 * options:
 *   baseURL       the gateway origin, with an optional path prefix, such as
 *                 'http://127.0.0.1:8080'. Required.
 *   kid           ID of the pinned gateway key to encrypt the key material
 *                 to. Required.
 *   publicKeyHex  that key, 04‖X‖Y in 130 hex characters; or
 *   publicKeys    {kid: publicKeyHex} of every pinned key, for rotation.
 *   library       the sm-crypto-v2 or sm-crypto module. Required.
 *   mode / modes  the body mode, or modes in order of preference. Default:
 *                 ['gcm', 'cbc-hmac'] with sm-crypto-v2, ['cbc-hmac'] with
 *                 sm-crypto.
 *   transport     see fetchTransport; default selectTransport().
 *   random        async (length) => Uint8Array; default
 *                 selectRandomSource().
 *   now           () => Unix milliseconds; default Date.now.
 *   adjustClock   on TIMESTAMP_SKEW, correct the clock from the response's
 *                 Date header and retry once; default true.
 *   skewMs, renewBeforeMs, openPath: see the DEFAULT_ constants.
 */
export function createClient(options) {
  return new EnvelopeClient(options);
}

/**
 * EnvelopeClient protects requests to the gateway. It opens a session on
 * first use, replaces it shortly before it expires, and shares one session
 * open between concurrent requests. Create it with createClient.
 */
export class EnvelopeClient {
  constructor(options = {}) {
    const match = BASE_URL_PATTERN.exec(options.baseURL || '');
    if (!match) throw new TypeError(`jingtong-envelope: baseURL ${JSON.stringify(options.baseURL)} must be an http or https URL without query`);
    this.origin = match[1];
    this.basePath = (match[2] || '').replace(/\/+$/, '');

    if (!KID_PATTERN.test(options.kid || '')) throw new TypeError(`jingtong-envelope: invalid key ID ${JSON.stringify(options.kid)}`);
    this.kid = options.kid;
    const pinned = options.publicKeys || { [options.kid]: options.publicKeyHex };
    this.publicKeys = {};
    for (const [kid, hex] of Object.entries(pinned)) {
      if (!PUBLIC_KEY_PATTERN.test(hex || '')) throw new TypeError(`jingtong-envelope: public key of ${kid} must be 04‖X‖Y in 130 hex characters`);
      this.publicKeys[kid] = hex.toLowerCase();
    }
    if (!this.publicKeys[this.kid]) throw new TypeError(`jingtong-envelope: key ID ${this.kid} is not among the pinned public keys`);

    this.primitives = libraryPrimitives(options.library);
    this.modes = [...(options.modes || (options.mode ? [options.mode] : this.primitives.modes))];
    if (this.modes.length === 0 || this.modes.length > 8) throw new TypeError('jingtong-envelope: offer 1 to 8 modes');
    for (const mode of this.modes) {
      if (!this.primitives.modes.includes(mode)) throw new TypeError(`jingtong-envelope: ${this.primitives.name} does not support mode ${mode}`);
    }

    this.transport = options.transport || selectTransport();
    this.random = options.random || selectRandomSource();
    this.now = options.now || Date.now;
    this.adjustClock = options.adjustClock !== false;
    this.skewMs = options.skewMs || DEFAULT_SKEW_MS;
    this.renewBeforeMs = options.renewBeforeMs || DEFAULT_RENEW_BEFORE_MS;
    this.openPath = options.openPath || DEFAULT_OPEN_PATH;
    /** Milliseconds added to now(), from the gateway's Date header. */
    this.clockOffset = 0;
    this.current = null;
    this.opening = null;
  }

  time() {
    return Math.round(this.now() + this.clockOffset);
  }

  /**
   * Opens a new session and makes it the current one. Resolves to
   * {id, mode, kid, expiresAt}.
   */
  async open() {
    for (let attempt = 0; ; attempt++) {
      try {
        const session = await this.openOnce();
        this.current = session;
        return { id: session.id, mode: session.mode, kid: session.kid, expiresAt: session.expiresAt };
      } catch (err) {
        if (attempt === 0 && this.clockCorrected(err)) continue;
        throw err;
      }
    }
  }

  async openOnce() {
    const keyMaterial = await this.random(KEY_MATERIAL_SIZE);
    const key = this.primitives.sm2Encrypt(keyMaterial, this.publicKeys[this.kid]);
    if (!/^[0-9a-f]{256}$/.test(key)) throw new Error('jingtong-envelope: SM2 encryption did not return 256 lowercase hex characters');
    const request = { kid: this.kid, key, modes: this.modes, ts: this.time(), nonce: toHex(await this.random(NONCE_SIZE)) };

    const response = await this.transport({
      method: 'POST',
      url: this.origin + this.basePath + this.openPath,
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(request),
    });
    if (response.status !== 200) throw gatewayError(response);
    let answer;
    try {
      answer = JSON.parse(response.body);
    } catch (err) {
      throw new EnvelopeError('session-open response is not JSON', { cause: err });
    }
    return this.verifyOpen(request, answer, keyMaterial);
  }

  // verifyOpen checks the gateway's signature on the session-open response
  // and derives the session keys.
  verifyOpen(request, answer, keyMaterial) {
    if (!answer || typeof answer.session_id !== 'string' || !SESSION_ID_PATTERN.test(answer.session_id)
      || !Number.isSafeInteger(answer.expires_at) || typeof answer.mode !== 'string'
      || typeof answer.kid !== 'string' || typeof answer.sig !== 'string') {
      throw new EnvelopeError('session-open response lacks session_id, expires_at, mode, kid or sig');
    }
    const publicKey = this.publicKeys[answer.kid];
    if (!publicKey) throw new EnvelopeError(`session-open response is signed by key ${JSON.stringify(answer.kid)}, which is not pinned`);
    if (!this.primitives.sm2Verify(sessionStringToSign(this.primitives, request, answer), answer.sig, publicKey)) {
      throw new EnvelopeError('session-open response has a wrong SM2 signature');
    }
    // The signature makes the fields trustworthy; check that they make sense.
    if (!request.modes.includes(answer.mode)) throw new EnvelopeError(`gateway chose mode ${answer.mode}, which was not offered`);
    const sessionIdBytes = base64Decode(answer.session_id, true);
    const keys = deriveSessionKeys(this.primitives, keyMaterial, sessionIdBytes, answer.mode);
    keyMaterial.fill(0);
    return { id: answer.session_id, mode: answer.mode, kid: answer.kid, expiresAt: answer.expires_at, keys };
  }

  // session returns the current session, opening one when there is none or
  // it expires within renewBeforeMs. Concurrent callers share one open.
  async session() {
    if (this.current && this.time() + this.renewBeforeMs < this.current.expiresAt) return this.current;
    if (!this.opening) {
      this.opening = this.open().finally(() => {
        this.opening = null;
      });
    }
    await this.opening;
    return this.current;
  }

  /**
   * Sends one protected request and resolves to the verified, decrypted
   * response {status, headers, contentType, body, bytes, json()}: body is
   * the text, bytes the plaintext bytes and headers have lowercase names.
   * A gateway error that no session protects rejects with a GatewayError,
   * and a response that fails verification with an EnvelopeError. An error
   * response of the route itself, such as 401 UNAUTHORIZED, is protected
   * and resolves like any other response.
   *
   * path is the path on the gateway, such as '/api/zones/admin/zones';
   * non-ASCII characters are percent-encoded. options:
   *   query    an object or a raw query string
   *   body     an object (sent as JSON), a string or a Uint8Array
   *   headers  more request headers. Content-Type is the body's media
   *            type, and X-JT-* headers are dropped.
   *   token    a bearer token, sent as Authorization: Bearer <token>
   *
   * On SESSION_NOT_FOUND it opens a new session and sends the request once
   * more, with a new nonce.
   */
  async request(method, path, options = {}) {
    const prepared = this.prepare(method, path, options);
    for (let attempt = 0; ; attempt++) {
      const session = await this.session();
      try {
        return await this.send(session, prepared);
      } catch (err) {
        if (attempt < 2 && err instanceof GatewayError && err.code === 'SESSION_NOT_FOUND') {
          if (this.current === session) this.current = null;
          continue;
        }
        if (attempt < 2 && this.clockCorrected(err)) continue;
        throw err;
      }
    }
  }

  /**
   * Closes the current session on the gateway (DELETE on the session path),
   * so that it cannot be used any more. The next request opens a new one.
   */
  async close() {
    const session = this.current;
    this.current = null;
    if (!session || this.time() >= session.expiresAt) return;
    try {
      await this.send(session, this.prepare('DELETE', this.openPath, {}));
    } catch (err) {
      if (!(err instanceof GatewayError && err.code === 'SESSION_NOT_FOUND')) throw err;
    }
  }

  // prepare encodes the parts of a request that do not depend on the session.
  prepare(method, path, options) {
    const upper = String(method).toUpperCase();
    if (!METHOD_PATTERN.test(upper)) throw new TypeError(`jingtong-envelope: invalid method ${JSON.stringify(method)}`);
    const q = path.indexOf('?');
    const pathQuery = q < 0 ? '' : path.slice(q + 1);
    const encodedPath = this.basePath + encodePath(q < 0 ? path : path.slice(0, q));
    const rawQuery = [pathQuery, encodeQuery(options.query)].filter((part) => part !== '').join('&');
    const query = canonicalQuery(rawQuery);

    const headers = {};
    let contentType = '';
    let authorization = options.token ? `Bearer ${options.token}` : '';
    for (const [name, value] of Object.entries(options.headers || {})) {
      const lower = name.toLowerCase();
      if (lower === 'content-type') {
        contentType = String(value);
      } else if (lower === 'authorization') {
        if (!authorization) authorization = String(value);
      } else if (!lower.startsWith('x-jt-') && lower !== 'content-length' && lower !== 'host') {
        headers[name] = String(value);
      }
    }

    let plaintext = new Uint8Array(0);
    const { body } = options;
    if (body instanceof Uint8Array || body instanceof ArrayBuffer) {
      plaintext = new Uint8Array(body);
      contentType = contentType || 'application/octet-stream';
    } else if (typeof body === 'string') {
      plaintext = utf8Encode(body);
      contentType = contentType || 'text/plain; charset=utf-8';
    } else if (body !== undefined && body !== null) {
      plaintext = utf8Encode(JSON.stringify(body));
      contentType = contentType || 'application/json';
    }
    if (plaintext.length === 0) contentType = '';

    const url = this.origin + encodedPath + (rawQuery ? `?${rawQuery}` : '');
    return { method: upper, path: encodedPath, url, query, headers, contentType, authorization, plaintext };
  }

  // send protects one prepared request in session, sends it and verifies
  // the response.
  async send(session, p) {
    const nonce = toHex(await this.random(NONCE_SIZE));
    const timestamp = String(this.time());
    let wire = '';
    if (p.plaintext.length > 0) {
      const iv = await this.random(session.mode === MODE_GCM ? GCM_NONCE_SIZE : CBC_IV_SIZE);
      wire = base64Encode(sealBody(this.primitives, session.mode, session.keys.request, iv, p.plaintext, nonce));
    }
    const toSign = requestStringToSign({
      session: session.id, method: p.method, path: p.path, query: p.query, timestamp, nonce,
      contentType: p.contentType, authorization: p.authorization, bodySm3: this.primitives.sm3(utf8Encode(wire)),
    });

    const headers = { ...p.headers };
    headers[HEADER_SESSION] = session.id;
    headers[HEADER_TIMESTAMP] = timestamp;
    headers[HEADER_NONCE] = nonce;
    headers[HEADER_SIGNATURE] = this.primitives.hmac(session.keys.requestMac, utf8Encode(toSign));
    if (p.contentType) headers[HEADER_CONTENT_TYPE] = p.contentType;
    if (p.authorization) headers.Authorization = p.authorization;
    if (wire) headers['Content-Type'] = ENVELOPE_CONTENT_TYPE;

    const response = await this.transport({ method: p.method, url: p.url, headers, body: wire || undefined });
    return this.verifyResponse(response, session, nonce);
  }

  /**
   * Checks a response to the request with X-JT-Nonce requestNonce in session
   * (section 6) and returns its plaintext form.
   */
  verifyResponse(response, session, requestNonce) {
    const signature = headerValue(response.headers, HEADER_SIGNATURE);
    if (signature === undefined) {
      if (response.status >= 400) throw gatewayError(response);
      throw new EnvelopeError(`the response (HTTP status ${response.status}) has no ${HEADER_SIGNATURE} header`);
    }
    const timestamp = headerValue(response.headers, HEADER_TIMESTAMP) ?? '';
    const nonce = headerValue(response.headers, HEADER_NONCE) ?? '';
    if (!SIGNATURE_PATTERN.test(signature) || !TIMESTAMP_PATTERN.test(timestamp) || !NONCE_PATTERN.test(nonce)) {
      throw new EnvelopeError(`the response has a missing or malformed ${HEADER_SIGNATURE}, ${HEADER_TIMESTAMP} or ${HEADER_NONCE} header`);
    }
    const wire = response.body ?? '';
    const contentType = headerValue(response.headers, HEADER_CONTENT_TYPE) ?? '';
    const expected = this.primitives.hmac(session.keys.responseMac, utf8Encode(responseStringToSign({
      session: session.id, status: response.status, requestNonce, timestamp, nonce, contentType,
      bodySm3: this.primitives.sm3(utf8Encode(wire)),
    })));
    if (!constantTimeEqual(expected, signature)) throw new EnvelopeError('the response has a wrong signature');
    const drift = Number(timestamp) - this.time();
    if (Math.abs(drift) > this.skewMs) {
      throw new EnvelopeError(`the response timestamp ${timestamp} is ${drift} ms from the local clock, beyond the ${this.skewMs} ms skew`);
    }

    let bytes = new Uint8Array(0);
    if (wire.length > 0) {
      const bodyType = headerValue(response.headers, 'Content-Type') ?? '';
      if (!ENVELOPE_TYPE_PATTERN.test(bodyType)) throw new EnvelopeError(`the response Content-Type is ${JSON.stringify(bodyType)}`);
      let sealed;
      try {
        sealed = base64Decode(wire);
      } catch (err) {
        throw new EnvelopeError('the response body is not base64', { cause: err });
      }
      bytes = openBody(this.primitives, session.mode, session.keys.response, sealed, nonce);
    }

    const headers = {};
    for (const [name, value] of Object.entries(response.headers || {})) {
      const lower = name.toLowerCase();
      if (!lower.startsWith('x-jt-') && lower !== 'content-type' && lower !== 'content-length') headers[lower] = value;
    }
    if (contentType) headers['content-type'] = contentType;
    const text = utf8Decode(bytes);
    return { status: response.status, headers, contentType, body: text, bytes, json: () => JSON.parse(text) };
  }

  // clockCorrected reports whether err is TIMESTAMP_SKEW and the clock
  // offset changed by more than a second after reading its Date header.
  clockCorrected(err) {
    if (!this.adjustClock || !(err instanceof GatewayError) || err.code !== 'TIMESTAMP_SKEW') return false;
    const server = Date.parse(err.date);
    if (Number.isNaN(server)) return false;
    const offset = server - this.now();
    if (Math.abs(offset - this.clockOffset) < 1000) return false;
    this.clockOffset = offset;
    return true;
  }
}

// gatewayError reads a plaintext error response.
function gatewayError(response) {
  let body = {};
  try {
    body = JSON.parse(response.body || '{}').error || {};
  } catch {
    body = {};
  }
  return new GatewayError({
    status: response.status,
    code: typeof body.code === 'string' ? body.code : '',
    message: typeof body.message === 'string' ? body.message : '',
    requestId: typeof body.request_id === 'string' ? body.request_id : '',
    details: body.details,
    date: headerValue(response.headers, 'Date') ?? '',
  });
}
