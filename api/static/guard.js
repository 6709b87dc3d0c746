// The guard's own certificate: large QR, details, status warnings; cached for offline use.
import { setupPage, api, ApiError, t, h, fmtDate, fmtTime, say, keyFor, problemText, download } from "./lib/common.js";
import { deviceKey, createDeviceKey, certificateDeviceKey, presentation, WINDOW_S } from "./lib/device.js";
import qrcode from "./vendor/qrcode.js";

const PAGE = "guard";
/** @type {(id: string) => any} the page's own elements, by id */
const $ = (id) => document.getElementById(id);
let current = null;

// -- device binding and the rotating QR (lib/device.js) ------------------------------
let rotation = null;
const svgUrl = (svg) => "data:image/svg+xml;base64," + btoa(unescape(encodeURIComponent(svg)));

function showQr(url) { $("qr").src = url; $("full-img").src = url; }

// EC M is enough on a screen; the presentation is alphanumeric (Base45), version <= 20.
export function rotatingSvg(text) {
  const q = qrcode(0, "M");
  q.addData(text, "Alphanumeric");
  q.make();
  return { svg: q.createSvgTag({ cellSize: 4, margin: 4, scalable: true }), version: (q.getModuleCount() - 17) / 4 };
}

async function renderLive(entry, rec) {
  const now = Math.floor(Date.now() / 1000);
  const p = await presentation(entry.cert.text, rec, now, $("challenge-in").value.trim());
  const { svg, version } = rotatingSvg(p.text);
  showQr(svgUrl(svg));
  const box = $("qr"); box.dataset.window = String(p.windowStart); box.dataset.qrVersion = String(version);
  document.body.dataset.live = "1";
  return p;
}

async function setupDevice(entry) {
  if (rotation) { clearInterval(rotation); rotation = null; }
  document.body.dataset.live = "";
  const bound = entry.cert.text ? await certificateDeviceKey(entry.cert.text).catch(() => null) : null;
  const rec = await deviceKey();
  const mine = bound && rec && bound.x === rec.x && bound.y === rec.y;
  $("live-note").hidden = !mine; $("live-controls").hidden = !mine;
  $("bound-elsewhere").hidden = !(bound && !mine);
  // A first phone is bound here; moving the certificate to another phone is the bureau's.
  $("bind").hidden = !!bound || entry.cert.status !== "valid";
  $("qr-button").hidden = !!(bound && !mine); $("fullscreen").hidden = !!(bound && !mine);
  if (!bound) { showQr(svgUrl(entry.svg)); return; } // not bound yet: the certificate itself
  if (!mine) { showQr(""); return; } // never the static copy of a device-bound certificate
  let last = 0;
  const tick = async () => {
    const now = Math.floor(Date.now() / 1000);
    if (Math.floor(now / WINDOW_S) !== last) { last = Math.floor(now / WINDOW_S); await renderLive(entry, rec); }
  };
  await tick();
  rotation = setInterval(tick, 1000);
}

async function bindThisPhone() {
  const msg = $("bind-msg"); say(msg, "");
  try {
    const { rec, persisted } = await createDeviceKey();
    await api(PAGE, "/v1/me/device-key", { method: "POST", json: { kty: "EC", crv: "P-256", x: rec.x, y: rec.y } });
    say(msg, t("guard.bound") + (persisted ? "" : " " + t("guard.persist.no")), persisted ? "ok" : "warn");
    await load();
  } catch (e) { say(msg, problemText(e), "error"); }
}

function render(entry, offline) {
  current = entry;
  const c = entry.cert;
  $("cert").hidden = false;
  setupDevice(entry).catch((e) => say($("bind-msg"), String(e && e.message || e), "error"));
  $("qr").alt = `QR ${c.number}`; $("full-img").alt = `QR ${c.number}`;
  $("full-name").textContent = `${c.guard_name} · ${c.number}`;
  const dl = $("fields"); dl.textContent = "";
  const row = (k, v) => { if (v != null) dl.append(h("dt", { text: t(k) }), h("dd", { text: String(v) })); };
  row("f.name", c.guard_name); row("f.number", c.number); row("f.level", c.skill_level);
  row("f.employer", c.employer_name || "–");
  row("f.valid", `${fmtDate(c.issued_at)} – ${fmtDate(c.expires_at)}`);
  row("f.status", c.status);
  const b = $("status-banner"); b.hidden = false;
  const expired = new Date(c.expires_at) < new Date();
  if (c.status === "revoked" || expired) { b.className = "banner red"; b.textContent = expired && c.status !== "revoked" ? t("v.expired") : t("guard.revoked"); }
  else if (c.status === "suspended") { b.className = "banner amber"; b.textContent = t("guard.suspended"); }
  else { b.className = "banner green"; b.textContent = t("guard.valid"); }
  document.body.dataset.status = c.status;
  const re = $("reissued");
  if (re) {
    re.hidden = !c.replaces;
    re.textContent = c.replaces ? t("guard.reissued").replace("{n}", c.replaces.number) : "";
  }
  const note = $("offline-note");
  if (offline) { note.hidden = false; note.textContent = `${t("guard.offline")} ${fmtTime(entry.fetched)}`; } else note.hidden = true;
}

// -- the person's own archive (GET /v1/me/archive) -------------------------------------
let archive = null;

function renderArchive(a) {
  archive = a;
  const body = $("archive-body"); body.textContent = "";
  $("archive").hidden = false;
  const span = (from, to) => `${fmtDate(from)} – ${to ? fmtDate(to) : t("archive.now")}`;
  const part = (key, items, line) => {
    body.append(h("h3", { text: t(key) }));
    if (!items || !items.length) { body.append(h("p", { class: "note", text: t("archive.none") })); return; }
    body.append(h("ul", { class: "archive-list", "data-part": key }, items.map((i) => h("li", { text: line(i) }))));
  };
  const tr = (key, raw) => { const v = t(key); return v === key ? raw : v; };
  part("archive.exams", a.exams, (e) => [e.date ? fmtDate(e.date) : "", e.title, e.result ? tr("archive." + e.result, e.result) : "", e.detail].filter(Boolean).join(" · "));
  part("archive.training", a.training, (r) => `${span(r.starts_on, r.ends_on)} · ${r.title} · ${r.hours} ${t("archive.hours")} · ${r.training_unit} · ${t(r.completed ? "archive.completed" : "archive.notcompleted")}${r.certificate_no ? " · " + r.certificate_no : ""}`);
  part("archive.levels", a.level_history, (l) => `${fmtDate(l.evaluated_on)} · ${t("archive.kind." + l.kind)} · ${t(l.passed ? "archive.passed" : "archive.failed")} · ${t("archive.level")} ${l.level_before} → ${l.level_after}`);
  part("archive.certs", a.certificates, (c) => `${c.number} · ${span(c.issued_at, c.expires_at)} · ${t("archive.level")} ${c.skill_level} · ${c.status}${c.status_reason ? " (" + c.status_reason + ")" : ""}${c.employer_name ? " · " + c.employer_name : ""}`);
  part("archive.employment", a.employment, (e) => `${span(e.started_on, e.ended_on)} · ${e.company_name}${e.end_reason ? " · " + e.end_reason : ""}`);
  for (const [key, items] of Object.entries(a.more || {})) {
    body.append(h("h3", { text: `${t("archive.more")}: ${key}` }));
    body.append(h("ul", { class: "archive-list" }, items.map((i) => h("li", { text: Object.values(i).join(" · ") }))));
  }
}

async function loadArchive() {
  try { renderArchive(await api(PAGE, "/v1/me/archive")); }
  catch (e) { $("archive").hidden = true; if (!(e instanceof ApiError) || e.status !== 401) say($("msg"), problemText(e), "error"); }
}

async function load() {
  say($("msg"), "");
  if (keyFor(PAGE)) loadArchive();
  const cached = JSON.parse(localStorage.getItem("gr.guard.cert") || "null");
  if (!keyFor(PAGE)) { $("cert").hidden = true; $("status-banner").hidden = true; return; }
  try {
    const cert = await api(PAGE, "/v1/me/certificate");
    const svg = await api(PAGE, "/v1/me/certificate/qr.svg?scale=10");
    const entry = { cert, svg, fetched: Date.now() };
    localStorage.setItem("gr.guard.cert", JSON.stringify(entry));
    render(entry, false);
  } catch (e) {
    if (e instanceof ApiError) {
      if (e.status === 404) { localStorage.removeItem("gr.guard.cert"); $("cert").hidden = true; say($("msg"), t("guard.none"), "warn"); return; }
      if (e.status === 401) return; // the session ended: common.js shows the sign-in
      say($("msg"), problemText(e), "error");
    }
    if (cached) render(cached, true); else if (!(e instanceof ApiError)) say($("msg"), problemText(e), "error");
  }
}

function openFull() {
  $("full").hidden = false;
  if (document.documentElement.requestFullscreen) document.documentElement.requestFullscreen().catch(() => {});
  $("full-close").focus();
}
function closeFull() {
  $("full").hidden = true;
  if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
}

// The guard signs in with their account, or activates it with the one-time code.
const ready = setupPage(PAGE, { onSignIn: load, roles: ["guard"], activation: true, onSignOut: () => { localStorage.removeItem("gr.guard.cert"); $("cert").hidden = true; $("status-banner").hidden = true; $("archive").hidden = true; archive = null; } });
$("fullscreen").addEventListener("click", openFull);
$("bind").addEventListener("click", bindThisPhone);
$("challenge-in").addEventListener("input", () => { deviceKey().then((rec) => { if (rec && current && document.body.dataset.live === "1") renderLive(current, rec); }); });
$("qr-button").addEventListener("click", openFull);
$("full-close").addEventListener("click", closeFull);
$("card").addEventListener("click", async () => {
  try { await download(PAGE, "/v1/me/card.pdf", `guard-card-${current ? current.cert.number : ""}.pdf`); say($("card-msg"), ""); }
  catch (e) { say($("card-msg"), problemText(e), "error"); }
});
// trust14: the one-time hire code a new employer needs (consent to a takeover by re-hire).
$("hire-code").addEventListener("click", async () => {
  try {
    const r = await api(PAGE, "/v1/me/hire-code", { method: "POST" });
    say($("hire-msg"), `${t("guard.hire.code")}: ${r.code} · ${t("guard.hire.until")} ${fmtTime(r.expires_at)}`, "ok");
  } catch (e) { say($("hire-msg"), problemText(e), "error"); }
});
document.addEventListener("langchange", () => { if (current) render(current, !$("offline-note").hidden); if (archive) renderArchive(archive); });
ready.finally(() => { document.body.dataset.ready = "1"; });
