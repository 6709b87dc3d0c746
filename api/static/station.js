// Exam staff at the registration point (issue 15, notice §4 §6): find a candidate by the
// ID card shown, capture the photo and two fingers through the biometric pipeline (with
// its duplicate search), print the admission ticket, and check attendance at the venue
// (ticket + live photo + one finger, decided by the fused score).
import { setupPage, api, t, h, say, keyFor, problemText, download, fmtDate } from "./lib/common.js";

const PAGE = "station";
/** @type {(id: string) => any} */
const $ = (id) => document.getElementById(id);
let current = null;

for (const sel of ["position", "a-position"]) {
  for (let p = 1; p <= 10; p++) $(sel).append(h("option", { value: String(p), text: String(p) }));
  $(sel).value = "2";
}

async function loadSessions() {
  const sel = $("session"); sel.textContent = "";
  sel.append(h("option", { value: "", text: t("station.session.any") }));
  try {
    const year = new Date().getFullYear();
    const page = await api(PAGE, `/v1/exam-sessions?year=${year}`, { auth: false });
    for (const s of page.items) sel.append(h("option", { value: String(s.id), text: `${fmtDate(s.sits_on)} · ${s.venue} (${s.registered}/${s.capacity})` }));
    if (page.warning) say($("find-msg"), page.warning, "warn");
  } catch (e) { say($("find-msg"), problemText(e), "error"); }
}

function statusLine(r) {
  const att = r.attended_at ? t("station.attended") : t("station.notattended");
  return `${t("company.face")}: ${r.face || "–"} · ${t("company.fingers")}: ${r.fingers_enrolled ?? 0} · ${att}`;
}

async function refresh() {
  if (!current) return;
  try { current = await api(PAGE, `/v1/exam-registrations/${current.id}`); $("cand-status").textContent = statusLine(current); }
  catch (e) { $("cand-status").textContent = problemText(e); }
}

function choose(r) {
  current = r;
  $("capture").hidden = false; $("capture").dataset.registrationId = String(r.id);
  $("cand-name").textContent = `${r.name} · ${fmtDate(r.sits_on)} ${r.venue} (#${r.id})`;
  ["photo-msg", "finger-msg", "ticket-msg"].forEach((id) => say($(id), ""));
  $("cand-status").textContent = statusLine(r);
}

function outcome(node, kind, body) {
  if (body.status === "held") say(node, `${t("company.held")}: ${body.detail || ""}`, "warn");
  else say(node, `${t("company.enrolled")} (${kind})`, "ok");
}

setupPage(PAGE, { roles: ["exam_staff", "regulator"], onSignIn: loadSessions, onSignOut: () => { $("capture").hidden = true; current = null; } });
loadSessions();

$("find-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  say($("find-msg"), "");
  const body = { id_number: $("s-id").value.trim().toUpperCase() };
  if ($("session").value) body.session_id = Number($("session").value);
  try {
    const found = await api(PAGE, "/v1/exam-registrations/lookup", { method: "POST", json: body });
    if (!found.items.length) { say($("find-msg"), t("station.notfound"), "warn"); $("capture").hidden = true; return; }
    choose(found.items[found.items.length - 1]);
  } catch (e) { say($("find-msg"), problemText(e), "error"); }
});

$("photo-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const file = $("photo").files[0];
  if (!current || !file) return;
  const fd = new FormData(); fd.append("photo", file, file.name);
  say($("photo-msg"), "…", "info");
  try { outcome($("photo-msg"), t("company.face"), await api(PAGE, `/v1/exam-registrations/${current.id}/face`, { method: "POST", form: fd })); }
  catch (e) { say($("photo-msg"), `${t("company.rejected")}: ${problemText(e)}`, "error"); }
  refresh();
});

$("finger-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const file = $("finger").files[0];
  if (!current || !file) return;
  const fd = new FormData(); fd.append("image", file, file.name);
  say($("finger-msg"), "…", "info");
  try { outcome($("finger-msg"), t("company.finger"), await api(PAGE, `/v1/exam-registrations/${current.id}/fingers/${$("position").value}`, { method: "POST", form: fd })); }
  catch (e) { say($("finger-msg"), `${t("company.rejected")}: ${problemText(e)}`, "error"); }
  refresh();
});

$("ticket").addEventListener("click", async () => {
  if (!current) return;
  try { await download(PAGE, `/v1/exam-registrations/${current.id}/ticket.pdf`, `exam-ticket-${current.id}.pdf`); say($("ticket-msg"), t("station.ticket.done"), "ok"); }
  catch (e) { say($("ticket-msg"), problemText(e), "error"); }
});

$("attend-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const photo = $("a-photo").files[0]; const finger = $("a-finger").files[0];
  if (!photo || !finger) return;
  const fd = new FormData();
  fd.append("ticket", $("a-ticket").value.trim()); fd.append("position", $("a-position").value);
  fd.append("photo", photo, photo.name); fd.append("finger", finger, finger.name);
  say($("attend-msg"), "…", "info");
  try {
    const r = await api(PAGE, "/v1/exam-attendance", { method: "POST", form: fd });
    const line = `${r.name}: ${r.admitted ? t("station.admitted") : t("station.refused")} (${r.fused_llr} / ${r.threshold})`;
    say($("attend-msg"), line, r.admitted ? "ok" : "error");
    $("attend-msg").dataset.admitted = String(r.admitted);
  } catch (e) { say($("attend-msg"), problemText(e), "error"); }
});

export { keyFor };
