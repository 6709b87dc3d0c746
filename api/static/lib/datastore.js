// Offline data of the scanner: the signed trust list and status list tokens, kept in
// localStorage exactly as fetched and verified again every time they are loaded.
// Rollback-proof: nothing is stored unless it verifies (signature, role, expiry), and a
// list older (by its own iat) than the one held is refused, so a man in the middle
// replaying an old signed list cannot turn a revoked certificate back into a valid one.
// Bad data from the network leaves the stored data as it was and says so.
// The trusted clock: "gr.clockFloor" holds the newest iat of any list accepted (never
// lowered); load() returns it as clockFloor for verifyCertificate, which answers
// clock-wrong when the device clock is behind it or far ahead of it.
import { verifyTrustListPinned, verifyStatusToken, b64decode, b64encode, kidOf, hex } from "./verify.js";

const wallClock = () => Math.floor(Date.now() / 1000);

export function clockFloor() {
  const v = Number(localStorage.getItem("gr.clockFloor"));
  return Number.isFinite(v) && v > 0 ? v : null;
}

function raiseFloor(iat) {
  if (Number.isInteger(iat) && iat > (clockFloor() ?? 0)) localStorage.setItem("gr.clockFloor", String(iat));
}

function readPins() {
  const anchors = JSON.parse(localStorage.getItem("gr.anchors") || "[]");
  const successors = JSON.parse(localStorage.getItem("gr.successors") || "[]");
  return { anchors: anchors.map(b64decode), successors };
}

function writePins(pins) {
  localStorage.setItem("gr.anchors", JSON.stringify(pins.anchors.map(b64encode)));
  localStorage.setItem("gr.successors", JSON.stringify(pins.successors || []));
}

// The pinned trust anchors (DER SPKI of the trust-list keys). The server embeds them in
// the page (<meta name="guardreg-trust-anchors">) so they arrive with the page itself;
// they are pinned in localStorage on first use. Without the meta tag (a plain static
// copy), the page falls back to trust-on-first-use from /v1/trust-list.json. Pinned
// anchors roll forward only to a successor key announced (by hash) in a verified list.
export async function pins() {
  const meta = typeof document !== "undefined" ? /** @type {HTMLMetaElement | null} */ (document.querySelector('meta[name="guardreg-trust-anchors"]')) : null;
  const fromPage = meta && meta.content && !meta.content.includes("{{") ? meta.content.split(",").filter(Boolean) : [];
  const held = readPins();
  if (fromPage.length) {
    const same = JSON.stringify(fromPage) === localStorage.getItem("gr.anchors");
    localStorage.setItem("gr.anchors", JSON.stringify(fromPage));
    localStorage.setItem("gr.anchors.source", "page");
    if (!same) localStorage.setItem("gr.successors", "[]");
    return { anchors: fromPage.map(b64decode), successors: same ? held.successors : [] };
  }
  if (held.anchors.length) return held;
  const resp = await fetch("/v1/trust-list.json", { cache: "no-store" });
  const tl = await resp.json();
  const keys = tl.keys.filter((k) => k.purpose === "trust-list" && !k.compromised_since).map((k) => k.spki);
  localStorage.setItem("gr.anchors", JSON.stringify(keys));
  localStorage.setItem("gr.anchors.source", "tofu");
  return { anchors: keys.map(b64decode), successors: [] };
}

export async function anchors() { return (await pins()).anchors; }

export async function anchorKids() {
  return Promise.all((await anchors()).map(async (a) => hex(await kidOf(a))));
}

// Fetch the trust list and every status list shard; store each one only if it verifies
// and is not older than the one held. Returns load() plus `refused`: what was refused
// and why (the stored data is then unchanged).
export async function refresh({ now = wallClock(), fetcher = fetchOk } = {}) {
  const refused = [];
  const pinned = await pins();
  const tlBytes = new Uint8Array(await (await fetcher("/v1/trust-list")).arrayBuffer());
  let trust;
  try {
    const r = await verifyTrustListPinned(tlBytes, pinned, now);
    trust = r.trust;
    const held = JSON.parse(localStorage.getItem("gr.trust") || "null");
    if (held && held.iat != null && trust.iat < held.iat) throw Object.assign(new Error(), { reason: "rollback", detail: `trust list issued at ${trust.iat} is older than the one held (${held.iat})` });
    localStorage.setItem("gr.trust", JSON.stringify({ b64: b64encode(tlBytes), fetched: now, iat: trust.iat }));
    writePins(r.pins);
    raiseFloor(trust.iat);
  } catch (e) {
    refused.push({ list: "trust list", reason: e.reason || "malformed", detail: e.detail || e.message });
    const out = await load({ now });
    out.refused = refused;
    out.error = "refused: " + refused.map((x) => `${x.list} (${x.reason})`).join(", ");
    return out;
  }
  const index = await (await fetcher("/v1/status-lists")).json();
  const stored = JSON.parse(localStorage.getItem("gr.status") || "{}");
  for (const item of index.items || []) {
    const shard = Number(item.shard);
    if (!Number.isInteger(shard) || shard < 0) continue;
    try {
      const bytes = new Uint8Array(await (await fetcher(`/v1/status-lists/${shard}`)).arrayBuffer());
      const tok = await verifyStatusToken(bytes, trust, now);
      if (tok.uri !== item.uri) throw Object.assign(new Error(), { reason: "malformed", detail: "status list for another URI" });
      const held = stored[tok.uri];
      if (held && held.iat != null && tok.iat < held.iat) throw Object.assign(new Error(), { reason: "rollback", detail: `status list issued at ${tok.iat} is older than the one held (${held.iat})` });
      stored[tok.uri] = { b64: b64encode(bytes), fetched: now, shard, iat: tok.iat };
      raiseFloor(tok.iat);
    } catch (e) {
      refused.push({ list: item.uri, reason: e.reason || "malformed", detail: e.detail || e.message });
    }
  }
  localStorage.setItem("gr.status", JSON.stringify(stored));
  const out = await load({ now });
  out.refused = refused;
  if (refused.length) out.error = "refused: " + refused.map((x) => `${x.list} (${x.reason})`).join(", ");
  return out;
}

async function fetchOk(path) {
  const r = await fetch(path, { cache: "no-store" });
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r;
}

// Load and re-verify what is stored. Returns {trust, statusTokens, clockFloor, error, fetched}.
export async function load({ now = wallClock() } = {}) {
  const out = { trust: null, statusTokens: [], clockFloor: clockFloor(), error: null, fetched: null, refused: [] };
  try {
    const tl = JSON.parse(localStorage.getItem("gr.trust") || "null");
    if (!tl) return out;
    out.fetched = tl.fetched;
    out.trust = (await verifyTrustListPinned(b64decode(tl.b64), await pins(), now)).trust;
    const st = JSON.parse(localStorage.getItem("gr.status") || "{}");
    for (const v of Object.values(st)) {
      try { out.statusTokens.push(await verifyStatusToken(b64decode(v.b64), out.trust, now)); }
      catch (e) { out.error = "status list: " + (e.detail || e.message); }
    }
  } catch (e) {
    out.error = "trust list: " + (e.detail || e.message);
  }
  return out;
}
