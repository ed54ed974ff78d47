// Settings of the tests against a running gateway. They read the gateway
// from the environment and are skipped when it is not set:
//
//   JT_GATEWAY_URL             the gateway origin, such as http://127.0.0.1:8080
//   JT_GATEWAY_KID             the ID of the pinned gateway key, such as gw-1
//   JT_GATEWAY_PUBLIC_KEY_HEX  that key, 04‖X‖Y in hex
//
// The gateway must offer development login (JT_DEV_LOGIN=true, as in
// localdev) and route /api/zones/admin to zones, as localdev does.

const url = process.env.JT_GATEWAY_URL;
const kid = process.env.JT_GATEWAY_KID;
const publicKeyHex = process.env.JT_GATEWAY_PUBLIC_KEY_HEX;

/** The gateway under test, or null when the environment does not name one. */
export const gateway = url && kid && publicKeyHex ? { url: url.replace(/\/+$/, ''), kid, publicKeyHex } : null;

/** The skip option of node:test for the live tests. */
export const skipLive = gateway ? false
  : 'JT_GATEWAY_URL, JT_GATEWAY_KID and JT_GATEWAY_PUBLIC_KEY_HEX are not set; see test/live.mjs';

/** The library and mode pairs that every live test runs. */
export const runs = [
  { library: 'sm-crypto', mode: 'cbc-hmac' },
  { library: 'sm-crypto-v2', mode: 'gcm' },
  { library: 'sm-crypto-v2', mode: 'cbc-hmac' },
];

/** The zones admin call that the development operator makes. */
export const adminPath = '/api/zones/admin/zones';
export const adminQuery = 'status=published&page_size=5';

/** Ten minutes: twice the gateway's default skew window. */
export const staleMs = 10 * 60 * 1000;

/** Returns text with the character at i replaced, keeping the alphabet of hex and base64. */
export function flipChar(text, i) {
  return text.slice(0, i) + (text[i] === '0' ? '1' : '0') + text.slice(i + 1);
}
