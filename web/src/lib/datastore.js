// Offline data of the scanner: the signed trust list and status list tokens, kept in
// localStorage exactly as fetched and verified again every time they are loaded.
import { verifyTrustList, verifyStatusToken, b64decode, b64encode, kidOf, hex } from "./verify.js";

const now = () => Math.floor(Date.now() / 1000);

// The pinned trust anchors (DER SPKI of the trust-list keys). The server embeds them in
// the page (<meta name="guardreg-trust-anchors">) so they arrive with the page itself;
// they are pinned in localStorage on first use. Without the meta tag (a plain static
// copy), the page falls back to trust-on-first-use from /v1/trust-list.json.
export async function anchors() {
  const meta = document.querySelector('meta[name="guardreg-trust-anchors"]');
  const fromPage = meta && meta.content ? meta.content.split(",").filter(Boolean) : [];
  if (fromPage.length) {
    localStorage.setItem("gr.anchors", JSON.stringify(fromPage));
    localStorage.setItem("gr.anchors.source", "page");
    return fromPage.map(b64decode);
  }
  const pinned = JSON.parse(localStorage.getItem("gr.anchors") || "[]");
  if (pinned.length) return pinned.map(b64decode);
  const resp = await fetch("/v1/trust-list.json", { cache: "no-store" });
  const tl = await resp.json();
  const keys = tl.keys.filter((k) => k.purpose === "trust-list").map((k) => k.spki);
  localStorage.setItem("gr.anchors", JSON.stringify(keys));
  localStorage.setItem("gr.anchors.source", "tofu");
  return keys.map(b64decode);
}

export async function anchorKids() {
  return Promise.all((await anchors()).map(async (a) => hex(await kidOf(a))));
}

// Fetch the trust list and every status list shard; store them only if they verify.
export async function refresh() {
  const anc = await anchors();
  const tlBytes = new Uint8Array(await (await fetchOk("/v1/trust-list")).arrayBuffer());
  const trust = await verifyTrustList(tlBytes, anc, now());
  localStorage.setItem("gr.trust", JSON.stringify({ b64: b64encode(tlBytes), fetched: now() }));
  const index = await (await fetchOk("/v1/status-lists")).json();
  const stored = {};
  for (const item of index.items || []) {
    const bytes = new Uint8Array(await (await fetchOk(`/v1/status-lists/${item.shard}`)).arrayBuffer());
    const tok = await verifyStatusToken(bytes, trust, now());
    stored[tok.uri] = { b64: b64encode(bytes), fetched: now(), shard: item.shard };
  }
  localStorage.setItem("gr.status", JSON.stringify(stored));
  return load();
}

async function fetchOk(path) {
  const r = await fetch(path, { cache: "no-store" });
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r;
}

// Load and re-verify what is stored. Returns {trust, statusTokens, error, fetched}.
export async function load() {
  const out = { trust: null, statusTokens: [], error: null, fetched: null };
  try {
    const tl = JSON.parse(localStorage.getItem("gr.trust") || "null");
    if (!tl) return out;
    out.fetched = tl.fetched;
    out.trust = await verifyTrustList(b64decode(tl.b64), await anchors(), now());
    const st = JSON.parse(localStorage.getItem("gr.status") || "{}");
    for (const v of Object.values(st)) {
      try { out.statusTokens.push(await verifyStatusToken(b64decode(v.b64), out.trust, now())); }
      catch (e) { out.error = "status list: " + (e.detail || e.message); }
    }
  } catch (e) {
    out.error = "trust list: " + (e.detail || e.message);
  }
  return out;
}
