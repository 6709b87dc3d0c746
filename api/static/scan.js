// Checkpoint scanner: camera + jsQR, online verification with the officer's key,
// offline verification in the page (WebCrypto) with the cached signed lists.
import { setupPage, api, ApiError, t, h, fmtAge, fmtTime, fmtDate, say, keyFor, problemText } from "./lib/common.js";
import { verifyCertificate, colourOf } from "./lib/verify.js";
import * as store from "./lib/datastore.js";

const PAGE = "scan";
/** @type {(id: string) => any} the page's own elements, by id */
const $ = (id) => document.getElementById(id);
let data = { trust: null, statusTokens: [], error: null };
let stream = null, scanning = false, busy = false, lastResult = null;
const nowS = () => Math.floor(Date.now() / 1000);

function renderDataAge() {
  const p = $("data-age"); p.textContent = "";
  if (!data.trust) { p.append(t("data.none") + (data.error ? ` (${data.error})` : "")); p.className = "data-age stale"; return; }
  const parts = [];
  const tAge = nowS() - data.trust.iat;
  parts.push(`${t("data.trust")} ${fmtAge(tAge)} ${t("data.ago")}${data.trust.stale ? " – " + t("data.stale") : ""}`);
  if (!data.statusTokens.length) parts.push(t("data.status") + ": –");
  for (const s of data.statusTokens) {
    parts.push(`${t("data.status")} ${fmtAge(nowS() - s.iat)} ${t("data.ago")}${s.stale ? " – " + t("data.stale") : ""}`);
  }
  // Data the network offered and this device refused (older, forged): the stored data
  // was kept; say so.
  if (data.refused && data.refused.length) parts.push(`${t("data.rollback")}: ${data.refused.map((x) => x.list + " (" + x.reason + ")").join(", ")}`);
  const stale = data.trust.stale || data.statusTokens.some((s) => s.stale) || !data.statusTokens.length;
  p.className = "data-age " + (stale ? "stale" : "fresh");
  parts.forEach((x, i) => { if (i) p.append(h("br")); p.append(x); });
  p.dataset.trustAgeS = String(tAge);
}

async function refreshData() {
  try { data = await store.refresh(); }
  catch (e) { data = await store.load(); if (!data.error) data.error = e.message; }
  renderDataAge();
}

// -- verdict -------------------------------------------------------------------------
function showVerdict(r) {
  lastResult = r;
  const box = $("verdict");
  const colour = colourOf(r.verdict);
  box.className = "verdict " + colour;
  box.dataset.verdict = r.verdict; box.dataset.mode = r.mode;
  $("verdict-word").textContent = t("v." + r.verdict) || r.verdict.toUpperCase();
  const dl = $("verdict-fields"); dl.textContent = "";
  const c = r.cert || {};
  const row = (k, v) => { if (v != null && v !== "") dl.append(h("dt", { text: t(k) }), h("dd", { text: String(v) })); };
  row("f.name", c.guard_name); row("f.number", c.number); row("f.level", c.skill_level);
  row("f.employer", (r.employer && r.employer.name) || c.employer_name);
  if (c.expires_at) row("f.valid", `${t("f.until")} ${fmtDate(c.expires_at)}`);
  if (r.services) row("f.services", r.services.length ? r.services.map((s) => (typeof s === "string" ? s : s.name || s.code || JSON.stringify(s))).join(", ") : "–");
  if (r.detail && r.verdict !== "valid") row("f.detail", r.detail);
  const img = $("verdict-photo");
  if (r.photo) { img.src = r.photo; img.alt = t("f.photo"); img.hidden = false; } else { img.hidden = true; img.removeAttribute("src"); }
  const meta = [t("scan.mode." + r.mode), `${t("f.checked")} ${fmtTime(new Date())}`];
  if (r.statusAgeS != null) meta.push(`${t("data.status")} ${fmtAge(r.statusAgeS)} ${t("data.ago")}`);
  if (r.trustAgeS != null) meta.push(`${t("data.trust")} ${fmtAge(r.trustAgeS)} ${t("data.ago")}`);
  if (r.photo_note) meta.push(r.photo_note);
  $("verdict-meta").textContent = meta.join(" · ");
  box.hidden = false;
  box.scrollTop = 0;
  $("next").focus({ preventScroll: true });
}

async function verifyOffline(text) {
  data = await store.load();
  renderDataAge();
  const r = await verifyCertificate(text, { trust: data.trust, statusTokens: data.statusTokens, clockFloor: data.clockFloor, now: nowS(),
    challenge: challenge ? new TextEncoder().encode(challenge) : null });
  const cl = r.claims;
  return { mode: "offline", verdict: r.verdict, detail: r.detail, trustAgeS: r.trustAgeS, statusAgeS: r.statusAgeS,
    cert: cl && { number: cl.number, guard_name: cl.guard_name, skill_level: cl.skill_level, employer_name: cl.employer_name, expires_at: cl.exp } };
}

// A checkpoint code the guard's phone signs into its live QR (optional): a copy made
// before the code was shown cannot carry it.
let challenge = null;
function newChallenge() {
  const A = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789", r = crypto.getRandomValues(new Uint8Array(4));
  challenge = Array.from(r, (x) => A[x % A.length]).join("");
  $("challenge").textContent = challenge; $("challenge-box").hidden = false;
}

async function verifyText(text, frameAt = performance.now()) {
  if (busy) return; busy = true;
  try {
    let result = null;
    if (keyFor(PAGE) && navigator.onLine) {
      try {
        const b = await api(PAGE, "/v1/verifications", { method: "POST", json: { text, include_photo: true, ...(challenge ? { challenge } : {}) } });
        result = { mode: "online", verdict: b.verdict, detail: b.detail, cert: b.certificate, employer: b.employer,
          services: b.permitted_services, photo: b.photo, photo_note: b.photo_note };
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) say($("cam-msg"), t("auth.expired"), "error");
        result = null; // fall back to offline verification
      }
    }
    if (!result) result = await verifyOffline(text);
    showVerdict(result);
    $("verdict").dataset.ms = String(Math.round((performance.now() - frameAt) * 10) / 10);
  } finally { busy = false; }
}

// -- camera --------------------------------------------------------------------------
async function startCamera() {
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
  } catch (e) { say($("cam-msg"), t("scan.nocamera") + " (" + e.name + ")", "error"); return; }
  const v = $("video"); v.srcObject = stream; await v.play().catch(() => {});
  $("camera").dataset.i18n = "scan.stop"; $("camera").textContent = t("scan.stop");
  scanning = true; tick();
}
function stopCamera() {
  scanning = false;
  if (stream) stream.getTracks().forEach((tr) => tr.stop());
  stream = null; $("video").srcObject = null;
  $("camera").dataset.i18n = "scan.start"; $("camera").textContent = t("scan.start");
}
function tick() {
  if (!scanning) return;
  const v = $("video"), c = $("canvas");
  if (!$("verdict").hidden || busy || v.readyState < 2 || !window.jsQR) { setTimeout(tick, 200); return; }
  const w = v.videoWidth, hgt = v.videoHeight;
  if (w && hgt) {
    const frameAt = performance.now();
    const scale = Math.min(1, 800 / Math.max(w, hgt));
    c.width = Math.round(w * scale); c.height = Math.round(hgt * scale);
    const ctx = c.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(v, 0, 0, c.width, c.height);
    const img = ctx.getImageData(0, 0, c.width, c.height);
    const code = window.jsQR(img.data, img.width, img.height, { inversionAttempts: "attemptBoth" });
    if (code && code.data) { verifyText(code.data.trim(), frameAt).finally(() => setTimeout(tick, 250)); return; }
  }
  setTimeout(tick, 150);
}

// -- manual entry ---------------------------------------------------------------------
async function lookup(number) {
  const msg = $("lookup-msg"); say(msg, "");
  try {
    const b = await api(PAGE, "/v1/public/certificates/" + encodeURIComponent(number.trim().toUpperCase()), { auth: false });
    const verdict = b.verdict || (b.status === "valid" ? "valid" : b.status) || "malformed";
    showVerdict({ mode: "lookup", verdict, detail: b.detail || b.status_reason, cert: b.certificate || b, employer: b.employer,
      services: b.permitted_services, photo: null, photo_note: null });
  } catch (e) {
    if (e instanceof ApiError && e.status === 404 && e.problem && /certificate/i.test(e.problem.detail || "")) say(msg, t("scan.lookup.notfound"), "error");
    else if (e instanceof ApiError && (e.status === 404 || e.status === 405)) say(msg, t("scan.lookup.unavailable"), "error");
    else say(msg, problemText(e), "error");
  }
}

// Signed out, the scanner still verifies offline; an officer signed in also checks online.
const signed = setupPage(PAGE, { gate: false, place: "end", roles: ["checkpoint_officer", "regulator"] });
$("camera").addEventListener("click", () => (scanning ? stopCamera() : startCamera()));
$("next").addEventListener("click", () => { $("verdict").hidden = true; challenge = null; $("challenge-box").hidden = true; $("camera").focus(); });
$("challenge-new").addEventListener("click", newChallenge);
$("refresh").addEventListener("click", refreshData);
$("lookup-form").addEventListener("submit", (e) => { e.preventDefault(); const n = $("number").value; if (n.trim()) lookup(n); });
$("text-form").addEventListener("submit", (e) => { e.preventDefault(); const x = $("qrtext").value.trim(); if (x) verifyText(x); });
document.addEventListener("langchange", () => { renderDataAge(); if (!$("verdict").hidden && lastResult) showVerdict(lastResult); });
window.addEventListener("online", refreshData);

(async () => {
  await signed;
  data = await store.load(); renderDataAge();
  if (navigator.onLine) await refreshData();
  setInterval(() => { if (navigator.onLine) refreshData(); else renderDataAge(); }, 5 * 60 * 1000);
  document.body.dataset.ready = "1";
  if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) startCamera();
  else say($("cam-msg"), t("scan.nocamera"), "error");
})();
