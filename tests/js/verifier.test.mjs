// The browser verifier (api/static/lib/verify.js) and its offline store
// (api/static/lib/datastore.js) run on the SAME vector files as the Python verifier
// (tests/vectors, see make_vectors.py). Run: node --test tests/js/
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const HERE = dirname(fileURLToPath(import.meta.url));
const VEC = join(HERE, "..", "vectors");
const LIB = join(HERE, "..", "..", "api", "static", "lib");
const INDEX = JSON.parse(readFileSync(join(VEC, "index.json"), "utf8"));
const NOW = Math.floor(Date.parse(INDEX.now) / 1000);
const bytes = (name) => new Uint8Array(readFileSync(join(VEC, name)));
const ANCHOR = Uint8Array.from(Buffer.from(INDEX.anchor_spki_b64, "base64"));

// A localStorage for the page's store, empty for each test.
class MemoryStorage {
  constructor() { this.m = new Map(); }
  getItem(k) { return this.m.has(k) ? this.m.get(k) : null; }
  setItem(k, v) { this.m.set(k, String(v)); }
  removeItem(k) { this.m.delete(k); }
  snapshot() { return JSON.stringify([...this.m.entries()].sort()); }
}

const { POLICY, verifyCertificate, verifyTrustList, verifyTrustListPinned, verifyStatusToken, isHighS, malformedLayer } =
  await import(join(LIB, "verify.js"));
const store = await import(join(LIB, "datastore.js"));

const epoch = (iso) => Math.floor(Date.parse(iso) / 1000);

// As tests/certificates/test_vectors.py runs it: trust and status lists at the index's
// `now`, the certificate at the vector's `now` (the device clock) with its clock floor.
async function runVector(v) {
  let trust;
  const anchor = v.anchor_spki_b64 ? Uint8Array.from(Buffer.from(v.anchor_spki_b64, "base64")) : ANCHOR;
  try { trust = await verifyTrustList(bytes(v.trust_list), [anchor], NOW); }
  catch (e) { return { reason: e.reason, verdict: e.reason }; }
  const tokens = [];
  for (const f of Object.values(v.status_lists)) tokens.push(await verifyStatusToken(bytes(f), trust, NOW));
  return verifyCertificate(v.text, { trust, statusTokens: tokens, now: v.now ? epoch(v.now) : NOW,
    clockFloor: v.clock_floor ? epoch(v.clock_floor) : null,
    challenge: v.challenge ? new TextEncoder().encode(v.challenge) : null,
    policy: { ...POLICY, acceptCards: v.accept_cards ?? true } });
}

// Verdict for verdict with the Python verifier: the same reason, and for "malformed"
// the same layer.
for (const v of INDEX.vectors) {
  test(`vector ${v.name}: ${v.expected}${v.malformed ? "/" + v.malformed : ""}`, async () => {
    const r = await runVector(v);
    // A printed card that verifies: reason "valid", verdict "card" (compare the photo).
    const got = r.reason === "valid" && r.presentation === "card" ? "card" : r.reason;
    assert.equal(got, v.expected, r.detail);
    if (v.expected === "card") assert.equal(r.verdict, "card");
    if (v.malformed) assert.equal(malformedLayer(r.detail), v.malformed, r.detail);
    // The page folds a stale list into one amber "stale" verdict.
    if (v.expected.startsWith("stale-") && r.verdict !== v.expected) assert.equal(r.verdict, "stale");
  });
}

test("high-s detection is exact at the half order", () => {
  const half = 0x7FFFFFFF800000007FFFFFFFFFFFFFFFDE737D56D38BCF4279DCE5617E3192A8n;
  const sig = (s) => { const b = new Uint8Array(64); for (let i = 63; i >= 32; i--) { b[i] = Number(s & 0xffn); s >>= 8n; } return b; };
  assert.equal(isHighS(sig(half)), false);
  assert.equal(isHighS(sig(half + 1n)), true);
});

function fakeServer(files) {
  return async (path) => {
    const body = files[path];
    if (body === undefined) throw new Error(`${path}: HTTP 404`);
    const u8 = typeof body === "string" ? new TextEncoder().encode(body) : body;
    return { arrayBuffer: async () => u8.buffer.slice(u8.byteOffset, u8.byteOffset + u8.byteLength),
      json: async () => JSON.parse(new TextDecoder().decode(u8)) };
  };
}
const URI = Object.keys(INDEX.vectors[0].status_lists)[0];
const statusIndex = JSON.stringify({ items: [{ shard: 0, uri: URI }] });
const golden = INDEX.vectors[0].text;

function freshStorage() {
  globalThis.localStorage = new MemoryStorage();
  localStorage.setItem("gr.anchors", JSON.stringify([INDEX.anchor_spki_b64]));
  return localStorage;
}

test("a status-list rollback served to the scanner keeps the newer list", async () => {
  const ls = freshStorage();
  const newer = await store.refresh({ now: NOW, fetcher: fakeServer({
    "/v1/trust-list": bytes("trust-list.cose"), "/v1/status-lists": statusIndex,
    "/v1/status-lists/0": bytes("status-list-newer-revoked.cose") }) });
  assert.deepEqual(newer.refused, []);
  let r = await verifyCertificate(golden, { trust: newer.trust, statusTokens: newer.statusTokens, now: NOW });
  assert.equal(r.verdict, "revoked");
  const before = ls.snapshot();
  // A man in the middle replays the older list, in which the certificate is valid.
  const replay = await store.refresh({ now: NOW, fetcher: fakeServer({
    "/v1/trust-list": bytes("trust-list.cose"), "/v1/status-lists": statusIndex,
    "/v1/status-lists/0": bytes("status-list.cose") }) });
  assert.equal(replay.refused.length, 1);
  assert.equal(replay.refused[0].reason, "rollback");
  assert.match(replay.error, /rollback/);
  const held = JSON.parse(ls.getItem("gr.status"))[URI];
  assert.equal(held.b64, Buffer.from(bytes("status-list-newer-revoked.cose")).toString("base64"));
  assert.equal(ls.snapshot(), before);
  const loaded = await store.load({ now: NOW });
  r = await verifyCertificate(golden, { trust: loaded.trust, statusTokens: loaded.statusTokens, now: NOW });
  assert.equal(r.verdict, "revoked");
  // The age shown is that of the list's own iat (signed 5 minutes before NOW).
  assert.equal(r.statusAgeS, 300);
});

test("a trust-list rollback or a forged list leaves the stored data as it was", async () => {
  const ls = freshStorage();
  await store.refresh({ now: NOW, fetcher: fakeServer({
    "/v1/trust-list": bytes("trust-list.cose"), "/v1/status-lists": statusIndex,
    "/v1/status-lists/0": bytes("status-list.cose") }) });
  const before = ls.snapshot();
  const old = await store.refresh({ now: NOW, fetcher: fakeServer({
    "/v1/trust-list": bytes("trust-list-stale.cose"), "/v1/status-lists": statusIndex,
    "/v1/status-lists/0": bytes("status-list.cose") }) });
  assert.equal(old.refused[0].reason, "rollback");
  assert.equal(ls.snapshot(), before);
  const forged = bytes("trust-list.cose"); forged[forged.length - 3] ^= 0xff;
  const bad = await store.refresh({ now: NOW, fetcher: fakeServer({
    "/v1/trust-list": forged, "/v1/status-lists": statusIndex,
    "/v1/status-lists/0": bytes("status-list.cose") }) });
  assert.equal(bad.refused[0].reason, "bad-signature");
  assert.equal(ls.snapshot(), before);
  assert.ok(bad.trust, "the stored data is still loaded and usable");
});

test("the scanner rolls forward to the announced trust-list key only", async () => {
  const ls = freshStorage();
  await store.refresh({ now: NOW, fetcher: fakeServer({
    "/v1/trust-list": bytes("trust-list.cose"), "/v1/status-lists": JSON.stringify({ items: [] }) }) });
  const successors = JSON.parse(ls.getItem("gr.successors"));
  assert.equal(successors.length, 1);
  const rogue = await store.refresh({ now: NOW, fetcher: fakeServer({
    "/v1/trust-list": bytes("trust-list-rogue.cose"), "/v1/status-lists": JSON.stringify({ items: [] }) }) });
  assert.equal(rogue.refused[0].reason, "unknown-key");
  assert.deepEqual(JSON.parse(ls.getItem("gr.anchors")), [INDEX.anchor_spki_b64]);
  const rolled = await store.refresh({ now: NOW, fetcher: fakeServer({
    "/v1/trust-list": bytes("trust-list-rolled.cose"), "/v1/status-lists": JSON.stringify({ items: [] }) }) });
  assert.deepEqual(rolled.refused, []);
  const anchors = JSON.parse(ls.getItem("gr.anchors"));
  assert.equal(anchors.length, 1);
  assert.notEqual(anchors[0], INDEX.anchor_spki_b64);
  // From now on the old trust-list key is refused.
  await assert.rejects(
    verifyTrustListPinned(bytes("trust-list.cose"), { anchors: anchors.map((a) => Uint8Array.from(Buffer.from(a, "base64"))), successors: [] }, NOW),
    (e) => e.reason === "unknown-key");
});

test("a successor flagged compromised is no longer rolled forward to", async () => {
  const ls = freshStorage();
  const empty = JSON.stringify({ items: [] });
  await store.refresh({ now: NOW, fetcher: fakeServer({ "/v1/trust-list": bytes("trust-list.cose"), "/v1/status-lists": empty }) });
  const before = JSON.parse(ls.getItem("gr.successors"));
  const burnt = await store.refresh({ now: NOW, fetcher: fakeServer({ "/v1/trust-list": bytes("trust-list-successor-burnt.cose"), "/v1/status-lists": empty }) });
  assert.deepEqual(burnt.refused, []);
  const after = JSON.parse(ls.getItem("gr.successors"));
  assert.equal(after.length, 1);
  assert.notDeepEqual(after, before);
  const rolled = await store.refresh({ now: NOW, fetcher: fakeServer({ "/v1/trust-list": bytes("trust-list-rolled.cose"), "/v1/status-lists": empty }) });
  assert.equal(rolled.refused[0].reason, "unknown-key");
  assert.deepEqual(JSON.parse(ls.getItem("gr.anchors")), [INDEX.anchor_spki_b64]);
});

test("the clock floor is kept with the lists and a device clock set back gets clock-wrong", async () => {
  const ls = freshStorage();
  const expired = INDEX.vectors.find((v) => v.name === "expired").text;
  const data = await store.refresh({ now: NOW, fetcher: fakeServer({
    "/v1/trust-list": bytes("trust-list.cose"), "/v1/status-lists": statusIndex,
    "/v1/status-lists/0": bytes("status-list-newer-revoked.cose") }) });
  // the newest iat seen: the newer status list, signed 5 minutes before NOW
  assert.equal(data.clockFloor, NOW - 300);
  assert.equal(Number(ls.getItem("gr.clockFloor")), NOW - 300);
  // the clock set back two days, to before the expired certificate's exp
  const back = NOW - 2 * 86400;
  const loaded = await store.load({ now: back });
  let r = await verifyCertificate(expired, { trust: loaded.trust, statusTokens: loaded.statusTokens, clockFloor: loaded.clockFloor, now: back });
  assert.equal(r.reason, "clock-wrong");
  assert.notEqual(r.verdict, "valid");
  // a replayed older list neither lowers the floor nor is stored
  await store.refresh({ now: NOW, fetcher: fakeServer({
    "/v1/trust-list": bytes("trust-list.cose"), "/v1/status-lists": statusIndex,
    "/v1/status-lists/0": bytes("status-list.cose") }) });
  assert.equal(store.clockFloor(), NOW - 300);
  // set back by less than the skew: still judged on the certificate (expired here)
  r = await verifyCertificate(expired, { trust: loaded.trust, statusTokens: loaded.statusTokens, clockFloor: NOW - 300, now: NOW - 300 - 200 });
  assert.equal(r.reason, "expired");
  // far ahead of the newest signed data
  r = await verifyCertificate(golden, { trust: loaded.trust, statusTokens: loaded.statusTokens, clockFloor: NOW - 300, now: NOW + 31 * 86400 });
  assert.equal(r.reason, "clock-wrong");
});

test("the guard page's presentation (lib/device.js) verifies, and is refused after its window", async () => {
  const { presentation } = await import(join(LIB, "device.js"));
  const jwk = INDEX.device_private_jwk;
  const privateKey = await crypto.subtle.importKey("jwk", jwk, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
  const trust = await verifyTrustList(bytes("trust-list.cose"), [ANCHOR], NOW);
  const statusTokens = [await verifyStatusToken(bytes("status-list.cose"), trust, NOW)];
  const text = INDEX.device_bound_text;
  const p = await presentation(text, { privateKey }, NOW, "K7Q2");
  assert.ok(p.text.startsWith("SGP1:"));
  assert.equal(p.windowStart % 30, 0);
  let r = await verifyCertificate(p.text, { trust, statusTokens, now: NOW, challenge: new TextEncoder().encode("K7Q2") });
  assert.equal(r.reason, "valid", r.detail);
  assert.equal(r.presentation, "live");
  r = await verifyCertificate(p.text, { trust, statusTokens, now: p.windowStart + 30 + 15 + 1 });
  assert.equal(r.reason, "proof-expired");
  r = await verifyCertificate(text, { trust, statusTokens, now: NOW });
  assert.equal(r.reason, "no-device-proof");
  assert.equal(r.verdict, "no-device-proof");
  const other = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
  const forged = await presentation(text, { privateKey: other.privateKey }, NOW);
  r = await verifyCertificate(forged.text, { trust, statusTokens, now: NOW });
  assert.equal(r.reason, "device-mismatch");
  // its QR stays at version 20 or lower at EC M
  const qrcode = (await import(join(LIB, "..", "vendor", "qrcode.js"))).default;
  const q = qrcode(0, "M"); q.addData(p.text, "Alphanumeric"); q.make();
  assert.ok((q.getModuleCount() - 17) / 4 <= 20);
});
