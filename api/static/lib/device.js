// Device binding on the guard's phone (issue 18; certificates/presentation.py): a
// non-extractable P-256 WebCrypto key kept in IndexedDB, registered with the service,
// and the rotating presentation it signs for every 30-second window:
//   SGP1: + Base45(zlib-if-smaller(CBOR [certificate COSE, window start, challenge, sig]))
// with sig = ECDSA P-256 SHA-256 (raw r||s) over CBOR ["SG1-device-proof", cose, t, challenge].
import { encodeCbor, decodeCbor } from "./cbor.js";
import { encodeBase45 } from "./base45.js";
import { decodeText, parseSign1, proofInput, PRESENTATION_PREFIX } from "./verify.js";

export const WINDOW_S = 30;
const DB = "guardreg-device", STORE = "keys", ID = "device";

function idb() {
  return new Promise((resolve, reject) => {
    const r = indexedDB.open(DB, 1);
    r.onupgradeneeded = () => r.result.createObjectStore(STORE);
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}
async function tx(mode, fn) {
  const db = await idb();
  return new Promise((resolve, reject) => {
    const t = db.transaction(STORE, mode);
    const req = fn(t.objectStore(STORE));
    t.oncomplete = () => { db.close(); resolve(req.result); };
    t.onerror = () => { db.close(); reject(t.error); };
  });
}

// The phone's key record {privateKey, publicKey, x, y} or null.
export async function deviceKey() {
  try { return (await tx("readonly", (s) => s.get(ID))) || null; } catch (e) { return null; }
}

// A new key pair: the private key cannot be exported (a copy of the page's storage
// cannot sign), the public key goes to the service as a JWK. Asks the browser to keep
// this site's storage (mobile browsers evict IndexedDB otherwise); returns whether it did.
export async function createDeviceKey() {
  const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
  const jwk = await crypto.subtle.exportKey("jwk", pair.publicKey);
  const rec = { privateKey: pair.privateKey, publicKey: pair.publicKey, x: jwk.x, y: jwk.y, created: Date.now() };
  await tx("readwrite", (s) => s.put(rec, ID));
  let persisted = false;
  try { persisted = !!(navigator.storage && navigator.storage.persist && await navigator.storage.persist()); } catch (e) { persisted = false; }
  return { rec, persisted };
}

const b64url = (u8) => btoa(String.fromCharCode(...u8)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");

// The cnf key of a certificate text as base64url {x, y}, or null when it is not bound.
export async function certificateDeviceKey(text) {
  const msg = parseSign1(await decodeText(text));
  const c = decodeCbor(msg.payload);
  const k = c instanceof Map && c.get(8) instanceof Map ? c.get(8).get(1) : null;
  if (!(k instanceof Map)) return null;
  return { x: b64url(k.get(-2)), y: b64url(k.get(-3)) };
}

async function deflate(bytes) {
  const cs = new CompressionStream("deflate");
  const w = cs.writable.getWriter(); w.write(bytes); w.close();
  return new Uint8Array(await new Response(cs.readable).arrayBuffer());
}

// The presentation of certificate `text` for the window holding `now` (epoch s).
export async function presentation(text, rec, now, challenge = "") {
  const cose = await decodeText(text);
  const t = Math.floor(now / WINDOW_S) * WINDOW_S;
  const ch = new TextEncoder().encode(challenge);
  const sig = new Uint8Array(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, rec.privateKey, proofInput(cose, t, ch)));
  let body = encodeCbor([cose, t, ch, sig]);
  const packed = await deflate(body);
  if (packed.length < body.length) body = packed;
  return { text: PRESENTATION_PREFIX + encodeBase45(body), windowStart: t };
}
