// Offline verification of SG1 guard certificates in the browser (WebCrypto),
// following docs/credential-format.md: trust list pinned to the trust-list key,
// status list tokens signed by the status-list key, 2-bit status entries.
import { decodeCbor, encodeCbor } from "./cbor.js";
import { decodeBase45 } from "./base45.js";

export const POLICY = {
  skewS: 300,                  // clock skew allowed
  maxTrustListAgeS: 7 * 86400, // trust list older than this = stale
  maxStatusAgeS: 24 * 3600,    // status data older than this = stale
  maxTextChars: 4096,
  // The trusted clock: a clock more than this far past the newest signed time seen (the
  // floor) is wrong (clock-wrong), as is one behind the floor by more than skewS.
  maxClockAheadS: 30 * 86400,
  // Device binding (certificates/presentation.py): the rotating presentation's window
  // and the skew allowed around it; a device-bound certificate needs a live proof.
  proofWindowS: 30,
  proofSkewS: 15,
  requireDeviceProof: true,
  // The printed card (certificates/cards.py): "card: compare the photo", or refused
  // (card-not-accepted) where the regulator's checkpoint policy says so
  // (setting checkpoint_accept_cards, served at /v1/verifier-policy).
  acceptCards: true,
};
export const PRESENTATION_PREFIX = "SGP1:";
const PROOF_CONTEXT = "SG1-device-proof";
// Algorithms a guard certificate may use (the Python VerificationPolicy.allowed_algs).
const CERT_ALGS = ["ES256", "EdDSA", "SM2SM3"];

// SM2SM3: SubjectPublicKeyInfo id-ecPublicKey + sm2p256v1 (1.2.156.10197.1.301), the
// group order, and the verifier of the vendored sm-crypto (loaded on first use). The
// signer identity is the GM/T 0009 default "1234567812345678" (sm-crypto's default).
const SM2_SPKI_PREFIX = "3059301306072a8648ce3d020106082a811ccf5501822d034200";
const SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123n;
let sm2lib = null;
const bigOf = (u8) => { let v = 0n; for (const x of u8) v = (v << 8n) | BigInt(x); return v; };

async function sm2Verify(spki, tbs, signature) {
  if (spki.length !== 91 || hex(spki.subarray(0, 26)) !== SM2_SPKI_PREFIX || spki[26] !== 4)
    throw new VerifyError("algorithm-mismatch", "not an SM2 key");
  if (!sm2lib) sm2lib = (await import("../vendor/sm2.js")).default;
  const pub = hex(spki.subarray(26));
  if (!sm2lib.verifyPublicKey(pub)) throw new VerifyError("algorithm-mismatch", "SM2 key not on the curve");
  if (signature.length !== 64) return false;
  // The range checks sm-crypto leaves to its caller (as certificates/sm2.py does for gmssl).
  const r = bigOf(signature.subarray(0, 32)), s = bigOf(signature.subarray(32));
  if (r < 1n || r >= SM2_N || s < 1n || s >= SM2_N || (r + s) % SM2_N === 0n) return false;
  return sm2lib.doVerifySignature(Array.from(tbs), hex(signature), pub, { hash: true });
}

// -65540: SM2 with SM3 (private use, see docs/credential-format.md; certificates/sm2.py).
const ALGS = { [-7]: "ES256", [-8]: "EdDSA", [-37]: "PS256", [-65540]: "SM2SM3" };
// Order of the P-256 group: (r, s) and (r, n - s) both verify, so the issuer signs low-s
// and the verifier refuses high-s (one certificate, one text), as the Python one does.
const P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551n;
export function isHighS(signature) {
  if (signature.length !== 64) return false;
  let s = 0n;
  for (const x of signature.subarray(32)) s = (s << 8n) | BigInt(x);
  return s > P256_N / 2n;
}
const TRUST_LIST_TYP = "application/guardreg-trustlist+cbor";
const STATUS_LIST_TYP = "application/statuslist+cwt";

export class VerifyError extends Error {
  constructor(reason, detail) { super(detail || reason); this.reason = reason; this.detail = detail; }
}

export const hex = (u8) => Array.from(u8, (x) => x.toString(16).padStart(2, "0")).join("");
export const b64decode = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
export function b64encode(u8) {
  let s = ""; for (let i = 0; i < u8.length; i += 0x8000) s += String.fromCharCode(...u8.subarray(i, i + 0x8000));
  return btoa(s);
}

export async function inflateZlib(bytes, cap) {
  const ds = new DecompressionStream("deflate");
  const writer = ds.writable.getWriter();
  writer.write(bytes).catch(() => {});
  writer.close().catch(() => {});
  const reader = ds.readable.getReader();
  const chunks = []; let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > cap) { reader.cancel().catch(() => {}); throw new VerifyError("malformed", "compression: output too large"); }
      chunks.push(value);
    }
  } catch (e) {
    if (e instanceof VerifyError) throw e;
    throw new VerifyError("malformed", "compression: bad zlib stream");
  }
  const out = new Uint8Array(total); let o = 0;
  for (const c of chunks) { out.set(c, o); o += c.length; }
  return out;
}

// The guard-certificate profile (certificates/cose.py decode_guard_sign1, and
// docs/credential-format.md): tag 18 optional, NO CWT tag 61, the unprotected header an
// empty map (alg, kid and every other header protected), alg present and an integer.
export function parseSign1(bytes) {
  let msg;
  try { msg = decodeCbor(bytes); } catch (e) { throw new VerifyError("malformed", "cbor: " + e.message); }
  if (msg && typeof msg === "object" && "tag" in msg) {
    if (msg.tag === 61) throw new VerifyError("malformed", "cose: CWT tag 61 is not part of this profile");
    if (msg.tag !== 18) throw new VerifyError("malformed", "cose: unexpected CBOR tag " + msg.tag);
    msg = msg.value;
  }
  if (!Array.isArray(msg) || msg.length !== 4) throw new VerifyError("malformed", "cose: not a COSE_Sign1");
  const [pb, unprot, payload, signature] = msg;
  if (!(pb instanceof Uint8Array) || !(unprot instanceof Map) || !(payload instanceof Uint8Array) || !(signature instanceof Uint8Array))
    throw new VerifyError("malformed", "cose: bad structure");
  let prot = new Map();
  if (pb.length) {
    try { prot = decodeCbor(pb); } catch (e) { throw new VerifyError("malformed", "cose: protected header"); }
    if (!(prot instanceof Map)) throw new VerifyError("malformed", "cose: protected header is not a map");
  }
  if (unprot.size) throw new VerifyError("malformed", "cose: headers must be protected (unprotected map not empty)");
  if (!prot.has(1)) throw new VerifyError("malformed", "cose: no alg header");
  if (!Number.isInteger(prot.get(1))) throw new VerifyError("malformed", "cose: alg must be an integer");
  const alg = ALGS[prot.get(1)];
  if (!alg) throw new VerifyError("algorithm-mismatch", "unsupported COSE algorithm " + prot.get(1));
  const kid = prot.get(4);
  if (!(kid instanceof Uint8Array) || !kid.length || kid.length > 64) throw new VerifyError("malformed", "cose: kid");
  if (alg !== "PS256" && signature.length !== 64) throw new VerifyError("malformed", "cose: signature length");  // ES256, EdDSA, SM2SM3
  return { protectedBytes: pb, protected: prot, payload, signature, alg, kid };
}

export async function kidOf(spki) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", spki)).slice(0, 8);
}

async function checkSig(alg, spki, msg) {
  const tbs = encodeCbor(["Signature1", msg.protectedBytes, new Uint8Array(0), msg.payload]);
  let key;
  try {
    if (alg === "ES256") {
      key = await crypto.subtle.importKey("spki", spki, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
      return await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, msg.signature, tbs);
    }
    if (alg === "EdDSA") {
      key = await crypto.subtle.importKey("spki", spki, { name: "Ed25519" }, false, ["verify"]);
      return await crypto.subtle.verify({ name: "Ed25519" }, key, msg.signature, tbs);
    }
    if (alg === "SM2SM3") return await sm2Verify(spki, tbs, msg.signature);
    if (alg === "PS256") {
      key = await crypto.subtle.importKey("spki", spki, { name: "RSA-PSS", hash: "SHA-256" }, false, ["verify"]);
      return await crypto.subtle.verify({ name: "RSA-PSS", saltLength: 32 }, key, msg.signature, tbs);
    }
  } catch (e) {
    throw new VerifyError("algorithm-mismatch", "key does not fit " + alg);
  }
  throw new VerifyError("algorithm-mismatch", "unsupported alg " + alg);
}

// Try every candidate (the kid is only a hint). Returns the key that verified; a key the
// trust list flags compromised is refused whatever the dates ("key-compromised").
async function verifyWith(msg, candidates) {
  if (!candidates.length) throw new VerifyError("unknown-key", "no trusted key with this kid");
  let bad = 0;
  for (const c of candidates) {
    if (c.alg !== msg.alg) continue;
    let ok = false;
    try { ok = await checkSig(msg.alg, c.spki, msg); } catch (e) { continue; /* mismatch */ }
    if (!ok) { bad++; continue; }
    if (c.cmp != null) throw new VerifyError("key-compromised", "signed with a key declared compromised");
    return c;
  }
  if (bad) throw new VerifyError("bad-signature", "signature does not verify");
  throw new VerifyError("algorithm-mismatch", "algorithm does not match the key");
}

function usableFor(key, iat, now, skew) {
  if (iat + skew < key.nbf) return false;
  if (key.ret != null && iat > key.ret + skew) return false;
  return key.naf == null || now <= key.naf + skew;
}

export async function sha256Hex(bytes) {
  return hex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
}

function decodeTrustPayload(msg) {
  let d;
  try { d = decodeCbor(msg.payload); } catch (e) { throw new VerifyError("malformed", "trust list payload"); }
  if (!(d instanceof Map) || !Array.isArray(d.get("keys")) || typeof d.get("iss") !== "string") throw new VerifyError("malformed", "trust list payload");
  const keys = d.get("keys").map((k) => {
    if (!(k instanceof Map) || !(k.get("kid") instanceof Uint8Array) || !(k.get("spki") instanceof Uint8Array)) throw new VerifyError("malformed", "trust list entry");
    return { kid: hex(k.get("kid")), alg: k.get("alg"), use: k.get("use"), spki: k.get("spki"),
      nbf: k.get("nbf"), naf: k.get("naf") ?? null, ret: k.get("ret") ?? null, cmp: k.get("cmp") ?? null };
  });
  const next = d.get("next") ?? [];
  if (!Array.isArray(next) || !next.every((x) => x instanceof Uint8Array && x.length === 32)) throw new VerifyError("malformed", "trust list next");
  return { issuer: d.get("iss"), iat: d.get("iat"), exp: d.get("exp"), keys, next: next.map(hex) };
}

// pins: {anchors: [SPKI Uint8Array], successors: [hex SHA-256 of SPKI]}. A list signed by
// a pinned anchor is verified as usual; one signed by another key only when the list
// names that key (use trust-list) and its SPKI digest was announced in advance (pins.
// successors, from a list verified earlier): then that key becomes the only anchor.
// Returns {trust, pins} (the new pins). Successor digests are sticky (see trustlist.py).
export async function verifyTrustListPinned(token, pins, now, policy = POLICY) {
  const msg = parseSign1(token);
  if (msg.protected.get(16) !== TRUST_LIST_TYP) throw new VerifyError("malformed", "not a trust list");
  const kh = hex(msg.kid);
  let cands = [];
  for (const a of pins.anchors) if (hex(await kidOf(a)) === kh) cands.push({ alg: msg.alg, spki: a, kid: kh });
  let tl = null, rolled = false;
  if (!cands.length && (pins.successors || []).length) {
    tl = decodeTrustPayload(msg);
    for (const k of tl.keys) {
      if (k.use === "trust-list" && k.kid === kh && pins.successors.includes(await sha256Hex(k.spki))) cands.push({ alg: msg.alg, spki: k.spki, kid: kh });
    }
    rolled = cands.length > 0;
  }
  if (!cands.length) throw new VerifyError("unknown-key", "trust list not signed by the pinned or announced key");
  const signer = await verifyWith(msg, cands);
  if (!tl) tl = decodeTrustPayload(msg);
  const bad = new Set(tl.keys.filter((k) => k.use === "trust-list" && k.cmp != null).map((k) => k.kid));
  if (bad.has(signer.kid)) throw new VerifyError("key-compromised", "trust list signed by a compromised key");
  tl.stale = now > tl.exp ? "trust list expired" : now - tl.iat > policy.maxTrustListAgeS ? "trust list too old" : null;
  let newPins;
  if (rolled) newPins = { anchors: [signer.spki], successors: tl.next };
  else {
    const kept = [];
    for (const a of pins.anchors) if (!bad.has(hex(await kidOf(a)))) kept.push(a);
    // A successor the list flags compromised is dropped; then the list's announcement is taken.
    const burnt = new Set();
    for (const k of tl.keys) if (k.use === "trust-list" && k.cmp != null) burnt.add(await sha256Hex(k.spki));
    const held = (pins.successors || []).filter((h) => !burnt.has(h));
    newPins = { anchors: kept, successors: held.length ? held : tl.next.filter((h) => !burnt.has(h)) };
  }
  return { trust: tl, pins: newPins };
}

// anchors: array of SPKI Uint8Array (pinned trust-list keys). now: epoch seconds.
export async function verifyTrustList(token, anchors, now, policy = POLICY) {
  return (await verifyTrustListPinned(token, { anchors, successors: [] }, now, policy)).trust;
}

export async function verifyStatusToken(token, trust, now, policy = POLICY) {
  const msg = parseSign1(token);
  if (msg.protected.get(16) !== STATUS_LIST_TYP) throw new VerifyError("malformed", "not a status list token");
  let c;
  try { c = decodeCbor(msg.payload); } catch (e) { throw new VerifyError("malformed", "claims: status list claims"); }
  const sl = c instanceof Map ? c.get(65533) : null;
  if (!sl || typeof c.get(2) !== "string" || !(sl.get("lst") instanceof Uint8Array)) throw new VerifyError("malformed", "status list claims");
  const kh = hex(msg.kid);
  const key = await verifyWith(msg, trust.keys.filter((k) => k.kid === kh && k.use === "status-list"));
  const iat = c.get(6), exp = c.get(4);
  if (!usableFor(key, iat, now, policy.skewS)) throw new VerifyError("unknown-key", "status list key not valid at iat");
  const bits = sl.get("bits");
  if (![1, 2, 4, 8].includes(bits)) throw new VerifyError("malformed", "status list bits");
  const lst = await inflateZlib(sl.get("lst"), 4 << 20);
  const ttl = c.get(65534) ?? null;
  const stale = now > exp + policy.skewS ? "status list expired"
    : now - iat > policy.maxStatusAgeS ? "status list too old"
    : ttl != null && now > iat + ttl + policy.skewS ? "status list past its TTL" : null;
  return { uri: c.get(2), iat, exp, ttl, bits, lst, stale };
}

export function statusAt(token, idx) {
  if (!Number.isInteger(idx) || idx < 0) return null;
  const perByte = 8 / token.bits;
  const byte = Math.floor(idx / perByte);
  if (byte >= token.lst.length) return null;
  return (token.lst[byte] >> ((idx % perByte) * token.bits)) & ((1 << token.bits) - 1);
}

function parseClaims(payload) {
  let c;
  try { c = decodeCbor(payload); } catch (e) { throw new VerifyError("malformed", "claims: " + e.message); }
  if (!(c instanceof Map)) throw new VerifyError("malformed", "claims: not a map");
  const g = c.get(-65537);
  const sr = c.get(65535) instanceof Map ? c.get(65535).get("status_list") : null;
  const num = (v) => (typeof v === "number" && v >= 0 ? v : null);
  if (!(g instanceof Map) || num(c.get(4)) == null || num(c.get(6)) == null)
    throw new VerifyError("malformed", "claims: missing exp/iat/guard");
  if (typeof c.get(1) !== "string" || !c.get(1)) throw new VerifyError("malformed", "claims: iss");
  if (!(sr instanceof Map)) throw new VerifyError("malformed", "claims: status claim must hold a status_list map");
  const idx = sr.get("idx");
  // The same rule as certificates/cwt.py: a uint32, nothing else (not -1, "7" or 7.5).
  if (!Number.isInteger(idx) || idx < 0 || idx >= 2 ** 32) throw new VerifyError("malformed", "claims: status idx must be a uint32");
  if (typeof sr.get("uri") !== "string" || !sr.get("uri")) throw new VerifyError("malformed", "claims: status uri");
  let cnf = null;
  if (c.has(8)) {
    // The same rule as certificates/presentation.py DeviceKey.from_cnf: {1: EC2 P-256 COSE_Key}.
    const m = c.get(8), k = m instanceof Map && m.size === 1 ? m.get(1) : null;
    if (!(k instanceof Map) || k.get(1) !== 2 || k.get(-1) !== 1 || [...k.keys()].some((x) => ![1, -1, -2, -3, 2].includes(x)))
      throw new VerifyError("malformed", "claims: cnf must hold one EC2 P-256 COSE_Key");
    if (!(k.get(-2) instanceof Uint8Array) || !(k.get(-3) instanceof Uint8Array)) throw new VerifyError("malformed", "claims: cnf key needs x and y");
    if (k.get(-2).length !== 32 || k.get(-3).length !== 32) throw new VerifyError("malformed", "claims: cnf key is not a P-256 point");
    cnf = { x: k.get(-2), y: k.get(-3) };
  }
  const card = checkCard(g.get(6), g.get(1), cnf != null);
  return {
    cnf, card,
    iss: c.get(1), exp: c.get(4), nbf: num(c.get(5)), iat: c.get(6),
    status: { idx, uri: sr.get("uri") },
    number: g.get(1), guard_name: g.get(2), skill_level: g.get(3),
    employer_id: g.get(4) ?? null, employer_name: g.get(5) ?? null,
  };
}

// The card rule of certificates/cwt.py check_card: serial a uint 1..9999, the number ends
// in "-C<serial>", no cnf; a number with a "-C<n>" suffix needs the card claim.
function checkCard(serial, number, hasCnf) {
  if (typeof number !== "string" || !number) throw new VerifyError("malformed", "claims: certificate number");
  const m = /^(.+)-C([0-9]+)$/.exec(number);
  if (serial === undefined) {
    if (m) throw new VerifyError("malformed", "claims: a card number (-C<n>) needs the card claim");
    return null;
  }
  if (!Number.isInteger(serial) || serial < 1 || serial > 9999) throw new VerifyError("malformed", "claims: card serial must be a uint 1..9999");
  if (!m || m[2] !== String(serial)) throw new VerifyError("malformed", "claims: card number must end in -C<serial>");
  if (hasCnf) throw new VerifyError("malformed", "claims: a card is bound to no device (no cnf)");
  return serial;
}

async function unpack(body) {
  let raw;
  try { raw = decodeBase45(body); } catch (e) { throw new VerifyError("malformed", e.message.startsWith("base45:") ? e.message : "base45: " + e.message); }
  if (raw.length >= 2 && (raw[0] & 0x0f) === 8 && ((raw[0] << 8) | raw[1]) % 31 === 0) raw = await inflateZlib(raw, 64 * 1024);
  return raw;
}

export async function decodeText(text) {
  if (text.length > POLICY.maxTextChars) throw new VerifyError("oversized", "text too long");
  if (!text.startsWith("SG1:")) throw new VerifyError("malformed", "prefix: not an SG1 certificate");
  return unpack(text.slice(4));
}

// A certificate (SG1:) or a rotating presentation (SGP1:, certificates/presentation.py):
// {cose, proof} with proof = {cert, t, challenge, sig} or null.
export async function decodeAny(text) {
  if (text.length > POLICY.maxTextChars) throw new VerifyError("oversized", "text too long");
  if (!text.startsWith(PRESENTATION_PREFIX)) return { cose: await decodeText(text), proof: null };
  const raw = await unpack(text.slice(PRESENTATION_PREFIX.length));
  let arr;
  try { arr = decodeCbor(raw); } catch (e) { throw new VerifyError("malformed", "cbor: " + e.message); }
  if (!Array.isArray(arr) || arr.length !== 4) throw new VerifyError("malformed", "cose: presentation must be an array of 4");
  const [cert, t, challenge, sig] = arr;
  if (!(cert instanceof Uint8Array) || !(challenge instanceof Uint8Array) || !(sig instanceof Uint8Array))
    throw new VerifyError("malformed", "cose: presentation: cert, challenge, sig must be bstr");
  if (!Number.isInteger(t) || t < 0 || t >= 2 ** 32) throw new VerifyError("malformed", "cose: presentation: t must be an epoch uint");
  if (challenge.length > 32 || sig.length !== 64) throw new VerifyError("malformed", "cose: presentation: challenge or signature size");
  return { cose: cert, proof: { cert, t, challenge, sig } };
}

export const proofInput = (cert, t, challenge) => encodeCbor([PROOF_CONTEXT, cert, t, challenge]);

async function deviceKey(cnf) {
  const raw = new Uint8Array(65); raw[0] = 4; raw.set(cnf.x, 1); raw.set(cnf.y, 33);
  try { return await crypto.subtle.importKey("raw", raw, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]); }
  catch (e) { throw new VerifyError("malformed", "claims: cnf key is not a P-256 point"); }
}

// Step 13 of certificates/verification.py: returns "live", "static" or "card" (the
// card policy itself is applied after the status, as in Python).
async function checkDeviceProof(claims, key, proof, now, policy, challenge) {
  if (claims.card != null) {
    if (proof) throw new VerifyError("device-mismatch", "presentation of a card (a card is bound to no device)");
    return "card";
  }
  if (!claims.cnf) {
    if (proof) throw new VerifyError("device-mismatch", "presentation of a certificate bound to no device");
    return "static";
  }
  if (!proof) {
    if (policy.requireDeviceProof) throw new VerifyError("no-device-proof", "copy: no live device proof");
    return "static";
  }
  const ok = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, proof.sig, proofInput(proof.cert, proof.t, proof.challenge));
  if (!ok) throw new VerifyError("device-mismatch", "not signed by the device this certificate is bound to");
  if (!(proof.t - policy.proofSkewS <= now && now <= proof.t + policy.proofWindowS + policy.proofSkewS))
    throw new VerifyError("proof-expired", "device proof outside its time window");
  if (challenge && challenge.length && hex(proof.challenge) !== hex(challenge))
    throw new VerifyError("challenge-mismatch", "the device answered another challenge");
  return "live";
}

// The trusted clock (certificates/verification.py check_clock): clock-wrong when now is
// behind the floor (newest signed time seen) by more than the skew, or far ahead of it.
export function checkClock(now, floor, policy = POLICY) {
  if (now + policy.skewS < floor) throw new VerifyError("clock-wrong", "this device's clock is behind signed data seen: set the clock");
  if (policy.maxClockAheadS != null && now > floor + policy.maxClockAheadS)
    throw new VerifyError("clock-wrong", "this device's clock is far ahead of the newest signed data: set the clock or sync");
}

// Verify a certificate text offline.
// trust: result of verifyTrustList; statusTokens: array of verifyStatusToken results;
// clockFloor: the newest signed time (epoch s) the store has seen (datastore.load()).
// Returns {verdict, reason, detail, claims, stale: [..reasons], trustAgeS, statusAgeS}:
// `reason` is the Python verifier's reason (certificates.errors.Reason, or "valid"),
// `verdict` what the page shows (every staleness folded into one amber "stale").
// challenge: the bytes this verifier showed the guard's phone (Uint8Array), if any.
export async function verifyCertificate(text, { trust, statusTokens, now, clockFloor = null, challenge = null, policy = POLICY }) {
  const out = { verdict: "valid", reason: "valid", detail: null, claims: null, stale: [], staleReason: null, trustAgeS: null, statusAgeS: null, presentation: null };
  try {
    if (!trust) throw new VerifyError("stale-trust-list", "no trust list on this device yet: go online once");
    out.trustAgeS = now - trust.iat;
    const { cose, proof } = await decodeAny(text);
    const msg = parseSign1(cose);
    // A guard certificate has no typ header: a typed token (an exam admission ticket,
    // SGX1:) is never a certificate, whatever its prefix (issue 15).
    if (msg.protected.has(16)) throw new VerifyError("malformed", "cose: not a guard certificate (typed token)");
    if (!CERT_ALGS.includes(msg.alg)) throw new VerifyError("algorithm-mismatch", msg.alg + " not allowed");
    checkClock(now, Math.max(trust.iat, clockFloor ?? trust.iat), policy);
    if (trust.stale) { out.stale.push(trust.stale); out.staleReason = "stale-trust-list"; }
    if (msg.alg === "ES256" && isHighS(msg.signature)) throw new VerifyError("bad-signature", "high-s ECDSA signature (not canonical)");
    const kh = hex(msg.kid);
    const key = await verifyWith(msg, trust.keys.filter((k) => k.kid === kh && k.use === "certificate"));
    const claims = parseClaims(msg.payload);
    const devKey = claims.cnf ? await deviceKey(claims.cnf) : null;
    out.claims = claims;
    if (claims.iss !== trust.issuer) throw new VerifyError("wrong-issuer", "issuer is not the trust list's issuer");
    if (!usableFor(key, claims.iat, now, policy.skewS)) throw new VerifyError("unknown-key", "key not valid for this certificate");
    if (now > claims.exp + policy.skewS) throw new VerifyError("expired", "certificate expired");
    if ((claims.nbf != null && now + policy.skewS < claims.nbf) || now + policy.skewS < claims.iat)
      throw new VerifyError("not-yet-valid", "certificate not valid yet");
    if (!claims.status) throw new VerifyError("stale-status-list", "certificate has no status reference");
    const tok = statusTokens.find((t) => t.uri === claims.status.uri);
    if (!tok) throw new VerifyError("stale-status-list", "no status list on this device for " + claims.status.uri);
    out.statusAgeS = now - tok.iat;
    const v = statusAt(tok, claims.status.idx);
    if (v == null) throw new VerifyError("stale-status-list", "index outside the status list");
    if (tok.stale) { out.stale.push(tok.stale); out.staleReason ??= "stale-status-list"; }
    out.presentation = await checkDeviceProof(claims, devKey, proof, now, policy, challenge);
    if (v === 2) throw new VerifyError("suspended", "suspended (status list)");
    if (v !== 0) throw new VerifyError("revoked", "revoked (status list)");
    if (out.presentation === "card" && policy.acceptCards === false)
      throw new VerifyError("card-not-accepted", "printed cards are not accepted at checkpoints");
    if (out.presentation === "card") out.verdict = "card";
    if (out.stale.length) { out.verdict = "stale"; out.reason = out.staleReason; out.detail = out.stale.join("; "); }
  } catch (e) {
    if (!(e instanceof VerifyError)) { out.verdict = out.reason = "malformed"; out.detail = String(e && e.message || e); return out; }
    out.verdict = out.reason = e.reason; out.detail = e.detail;
  }
  return out;
}

// The layer a "malformed" detail names (prefix, base45, compression, cbor, cose, claims).
export function malformedLayer(detail) {
  const m = /^(prefix|base45|compression|cbor|cose|claims):/.exec(detail || "");
  return m ? m[1] : null;
}

export function colourOf(verdict) {
  if (verdict === "valid") return "green";
  if (verdict === "card") return "blue";  // a card: valid, but only the photo proves who holds it
  if (["suspended", "stale", "stale-trust-list", "stale-status-list", "rollback", "clock-wrong", "no-device-proof"].includes(verdict)) return "amber";
  return "red";
}
