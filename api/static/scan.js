// Checkpoint scanner: camera + jsQR, online verification with the officer's key,
// offline verification in the page (WebCrypto) with the cached signed lists.
import { setupPage, api, ApiError, t, h, fmtAge, fmtTime, fmtDate, say, keyFor, problemText } from "./lib/common.js";
import { verifyCertificate, colourOf, POLICY } from "./lib/verify.js";
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

// The regulator's checkpoint policy (printed cards accepted or not), kept for offline use.
const checkpointPolicy = () => { try { return JSON.parse(localStorage.getItem("gr.policy") || "{}"); } catch (e) { return {}; } };
async function refreshPolicy() {
  try { const p = await api(PAGE, "/v1/verifier-policy", { auth: false }); localStorage.setItem("gr.policy", JSON.stringify(p)); }
  catch (e) { /* keep the stored one */ }
}

async function refreshData() {
  refreshPolicy();
  try { data = await store.refresh(); }
  catch (e) { data = await store.load(); if (!data.error) data.error = e.message; }
  renderDataAge();
}

// -- verdict -------------------------------------------------------------------------
// Status by colour AND icon AND words (never colour alone); values translated.
const ICONS = { green: "✓", red: "✕", amber: "!", blue: "▣", lookup: "#" };
const tr = (key, fallback) => { const v = t(key); return v === key ? fallback : v; };
const serviceName = (s) => { const code = typeof s === "string" ? s : s.code || s.service || s.name || ""; return tr("svc." + code, code); };
const levelName = (n) => tr("lvl." + n, String(n));

function showVerdict(r) {
  lastResult = r;
  const box = $("verdict");
  const lookup = r.mode === "lookup";
  const colour = lookup ? "lookup" : colourOf(r.verdict);
  // Offline or without a key there is no face check: the portrait is shown large.
  const faceOk = !lookup && r.mode === "online" && navigator.onLine && !!keyFor(PAGE) && !!(r.cert && r.cert.number);
  box.className = "verdict " + colour + (faceOk ? "" : " photo-large");
  box.dataset.verdict = r.verdict; box.dataset.mode = r.mode;
  $("verdict-icon").textContent = ICONS[colour] || "?";
  const banner = $("verdict-banner");
  banner.hidden = !lookup; banner.textContent = lookup ? t("scan.lookup.banner") : "";
  $("verdict-word").textContent = lookup ? t("v.lookup") : (t("v." + r.verdict) || r.verdict.toUpperCase());
  // The words under the big word: what the colour means, in plain language.
  $("verdict-status").textContent = lookup ? `${t("f.status")}: ${tr("st." + r.verdict, r.verdict)}` : tr("d." + r.verdict, "");
  const dl = $("verdict-fields"); dl.textContent = "";
  const c = r.cert || {};
  const row = (k, v, cls) => { if (v != null && v !== "") dl.append(h("dt", { text: t(k), class: cls || "" }), h("dd", { text: String(v), class: cls || "" })); };
  row("f.name", c.guard_name); row("f.level", c.skill_level != null ? levelName(c.skill_level) : null);
  row(c.card ? "f.cardno" : "f.number", c.number, "num");
  row("f.employer", (r.employer && r.employer.name) || c.employer_name || (r.employer_note ? t("f.noemployer") : null));
  if (c.expires_at) row("f.valid", `${t("f.until")} ${fmtDate(c.expires_at)}`);
  if (r.services) row("f.services", r.services.length ? r.services.map(serviceName).join("、") : "–");
  const img = $("verdict-photo");
  const noPhoto = $("verdict-nophoto");
  if (r.photo) {
    img.src = r.photo; img.alt = t("f.photo.of").replace("{name}", c.guard_name || ""); img.hidden = false; noPhoto.hidden = true;
  } else {
    img.hidden = true; img.removeAttribute("src");
    noPhoto.hidden = lookup ? true : false;
    noPhoto.textContent = r.photo_note ? t("f.nophoto.note") : r.mode === "offline" ? t("face.noportrait") : t("f.nophoto.note");
  }
  const meta = [t("scan.mode." + r.mode), `${t("f.checked")} ${fmtTime(new Date())}`];
  if (r.statusAgeS != null) meta.push(`${t("data.status")} ${fmtAge(r.statusAgeS)} ${t("data.ago")}`);
  if (r.trustAgeS != null) meta.push(`${t("data.trust")} ${fmtAge(r.trustAgeS)} ${t("data.ago")}`);
  $("verdict-meta").textContent = meta.join(" · ");
  renderFace(r, faceOk, lookup);
  box.hidden = false;
  box.scrollTop = 0;
  $("next").focus({ preventScroll: true });
}

// -- live face check (POST /v1/verifications/face-check) -----------------------------
let faceResult = null;
function renderFace(r, faceOk, lookup) {
  const sec = $("face");
  sec.hidden = lookup;
  $("face-take").hidden = !faceOk;
  const off = $("face-offline");
  off.hidden = faceOk; off.textContent = faceOk ? "" : t("face.offline");
  const out = $("face-result"); out.textContent = "";
  if (!faceResult) return;
  const f = faceResult;
  out.dataset.result = f.result || "error";
  if (f.error) { out.append(f.error); return; }
  out.append(t("face.r." + f.result));
  if (f.strength) out.append(h("span", { class: "sub", text: t("face.s." + f.strength) }));
  if (f.result === "poor-photo") out.append(h("span", { class: "sub", text: `${t("face.retake")} ${tr("face.fix." + (f.retake_check || ""), t("face.fix.other"))}` }));
  out.append(h("span", { class: "sub", text: t("face.discarded") }));
}

async function faceCheck(file) {
  if (!file || !lastResult || !lastResult.cert) return;
  const fd = new FormData();
  fd.append("number", lastResult.cert.number);
  fd.append("photo", file, "photo.jpg");
  faceResult = null; $("face-result").textContent = t("face.checking");
  try { faceResult = await api(PAGE, "/v1/verifications/face-check", { method: "POST", form: fd }); }
  catch (e) { faceResult = { error: problemText(e) }; }
  finally { $("face-photo").value = ""; }  // the page keeps no copy of the photo either
  showVerdict(lastResult);
}

async function verifyOffline(text) {
  data = await store.load();
  renderDataAge();
  const r = await verifyCertificate(text, { trust: data.trust, statusTokens: data.statusTokens, clockFloor: data.clockFloor, now: nowS(),
    challenge: challenge ? new TextEncoder().encode(challenge) : null, policy: { ...POLICY, acceptCards: checkpointPolicy().accept_cards !== false } });
  const cl = r.claims;
  return { mode: "offline", verdict: r.verdict, detail: r.detail, trustAgeS: r.trustAgeS, statusAgeS: r.statusAgeS,
    cert: cl && { number: cl.number, guard_name: cl.guard_name, skill_level: cl.skill_level, employer_name: cl.employer_name, expires_at: cl.exp, card: cl.card } };
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
          services: b.permitted_services, photo: b.photo, photo_note: b.photo_note, employer_note: b.employer_note };
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) say($("cam-msg"), t("auth.expired"), "error");
        result = null; // fall back to offline verification
      }
    }
    if (!result) result = await verifyOffline(text);
    faceResult = null;
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
    // A number look-up checks no signature: shown in a colour and words of its own.
    const verdict = b.status || (b.valid ? "valid" : "malformed");
    faceResult = null;
    showVerdict({ mode: "lookup", verdict, cert: b.certificate || b, photo: null, photo_note: null });
  } catch (e) {
    if (e instanceof ApiError && e.status === 404 && e.problem && /certificate/i.test(e.problem.detail || "")) say(msg, t("scan.lookup.notfound"), "error");
    else if (e instanceof ApiError && (e.status === 404 || e.status === 405)) say(msg, t("scan.lookup.unavailable"), "error");
    else say(msg, problemText(e), "error");
  }
}

// Signed out, the scanner still verifies offline; an officer signed in also checks online.
const signed = setupPage(PAGE, { gate: false, place: "end", roles: ["checkpoint_officer", "regulator"] });
$("camera").addEventListener("click", () => (scanning ? stopCamera() : startCamera()));
$("next").addEventListener("click", () => { $("verdict").hidden = true; faceResult = null; challenge = null; $("challenge-box").hidden = true; $("camera").focus(); });
$("challenge-new").addEventListener("click", newChallenge);
$("face-take").addEventListener("click", () => $("face-photo").click());
$("face-photo").addEventListener("change", (e) => faceCheck(e.target.files && e.target.files[0]));
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
