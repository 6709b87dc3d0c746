// The public page: file and follow a complaint; read the red/black lists and the
// published inspection results; apply online for the guard exam. No sign-in: every call
// here is a public endpoint.

import { applicationOutcome, chinaToday, openSessions, sessionLabel } from "./lib/exam.js";

const OUTCOMES = {
  "upheld": "属实 · upheld", "not-upheld": "不属实 · not upheld", "referred": "已移送 · referred",
  "pass": "合格 · pass", "minor-findings": "轻微问题 · minor findings",
  "major-findings": "严重问题 · major findings",
};
const STATUS = {
  "received": "已受理 · received", "triaged": "已分派 · triaged",
  "investigating": "调查中 · investigating", "closed": "已办结 · closed",
  "assigned": "已指派调查人员 · investigator assigned",
};

function el(tag, text, cls) {
  const n = document.createElement(tag);
  if (text != null) n.textContent = text;
  if (cls) n.className = cls;
  return n;
}

async function problem(resp) {
  try { const p = await resp.json(); return p.detail || p.title || "HTTP " + resp.status; }
  catch (e) { return "HTTP " + resp.status; }
}

async function submitComplaint(ev) {
  ev.preventDefault();
  const form = ev.target;
  const msg = document.getElementById("complaint-msg");
  const data = new FormData(form);
  for (const k of ["company", "certificate_number", "contact"]) if (!data.get(k)) data.delete(k);
  if (!data.getAll("attachments").some((f) => f instanceof File && f.size)) data.delete("attachments");
  msg.className = ""; msg.textContent = "…";
  const resp = await fetch("/v1/public/complaints", { method: "POST", body: data });
  if (!resp.ok) { msg.className = "error"; msg.textContent = await problem(resp); return; }
  const body = await resp.json();
  msg.className = "ok";
  msg.textContent = "已受理。请保存查询码（只显示这一次）· Received. Keep this tracking code (shown once): ";
  msg.append(el("code", body.tracking_code, "tracking-code"));
  form.reset();
}

async function track(ev) {
  ev.preventDefault();
  const out = document.getElementById("track-result");
  out.replaceChildren();
  const code = /** @type {HTMLInputElement} */ (document.getElementById("t-code")).value.trim();
  const resp = await fetch("/v1/public/complaints/" + encodeURIComponent(code));
  if (!resp.ok) { out.append(el("p", await problem(resp), "error")); return; }
  const c = await resp.json();
  out.append(el("p", "状态 · Status: " + (STATUS[c.status] || c.status), "status"));
  if (c.outcome) out.append(el("p", "结果 · Outcome: " + (OUTCOMES[c.outcome] || c.outcome)));
  if (c.summary) out.append(el("p", c.summary));
  const ol = el("ol");
  for (const s of c.steps) ol.append(el("li", `${s.at.slice(0, 10)} ${STATUS[s.kind] || s.kind}`));
  out.append(ol);
}

async function lists() {
  for (const name of ["red", "black"]) {
    const ul = document.getElementById("list-" + name);
    const resp = await fetch("/v1/public/lists/" + name);
    if (!resp.ok) { ul.append(el("li", await problem(resp), "error")); continue; }
    const body = await resp.json();
    if (!body.items.length) ul.append(el("li", "无 · none"));
    for (const c of body.items) {
      ul.append(el("li", `${c.name} (${c.district}, ${c.credit_code}) · ${c.added_on} · ${c.reason}`));
    }
  }
}

async function inspections() {
  const ul = document.getElementById("inspections");
  const resp = await fetch("/v1/public/inspections");
  if (!resp.ok) { ul.append(el("li", await problem(resp), "error")); return; }
  const body = await resp.json();
  if (!body.items.length) ul.append(el("li", "暂无 · none yet"));
  for (const i of body.items) {
    ul.append(el("li", `${i.inspected_on} · ${i.company_name} · ${OUTCOMES[i.outcome] || i.outcome}` +
      (i.findings ? ` · ${i.findings}` : "")));
  }
}

// -- the guard exam: pick a session, apply, confirm with the texted code ------------------
const examForm = /** @type {HTMLFormElement} */ (document.getElementById("exam-form"));
const codeForm = /** @type {HTMLFormElement} */ (document.getElementById("exam-code-form"));
const examResult = document.getElementById("exam-result");

async function examSessions() {
  const select = /** @type {HTMLSelectElement} */ (document.getElementById("e-session"));
  const msg = document.getElementById("e-sessions-msg");
  msg.className = ""; msg.textContent = "";
  const today = chinaToday();
  const year = Number(today.slice(0, 4));
  const found = [];
  for (const y of [year, year + 1]) {
    const resp = await fetch("/v1/exam-sessions?year=" + y);
    if (!resp.ok) { msg.className = "msg error"; msg.textContent = await problem(resp); return; }
    found.push(...(await resp.json()).items);
  }
  const open = openSessions(found, today);
  select.replaceChildren(...open.map((s) => {
    const o = /** @type {HTMLOptionElement} */ (el("option", sessionLabel(s)));
    o.value = String(s.id);
    return o;
  }));
  if (!open.length) {
    msg.className = "msg warn";
    msg.textContent = "暂无可报名的考试场次 · No exam session is open for application now";
  }
}

/** The application as the person typed it, and the session it is for. */
function application() {
  const data = new FormData(examForm);
  const field = (/** @type {string} */ k) => String(data.get(k) || "").trim();
  return { sessionId: field("session"),
           body: { id_number: field("id_number").toUpperCase(), name: field("name"),
                   phone: field("phone").replace(/[\s-]/g, "") } };
}

/** @param {string} [code] the texted confirmation code, on the second step */
async function sendApplication(code) {
  const { sessionId, body } = application();
  const json = code ? { ...body, confirmation_code: code } : body;
  examResult.replaceChildren(el("p", "…"));
  // One request at a time: a second click would text a second code.
  const buttons = [...document.querySelectorAll("#exam-form button, #exam-code-form button")];
  for (const b of buttons) /** @type {HTMLButtonElement} */ (b).disabled = true;
  let resp, answer = null;
  try {
    resp = await fetch(`/v1/exam-sessions/${encodeURIComponent(sessionId)}/applications`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(json) });
    try { answer = await resp.json(); } catch (e) { answer = null; }
  } finally {
    for (const b of buttons) /** @type {HTMLButtonElement} */ (b).disabled = false;
  }
  const out = applicationOutcome(resp.status, answer, !!code);
  const kinds = { "registered": "ok", "code-sent": "ok", "code-not-taken": "warn", "refused": "error" };
  const p = el("p", out.text, `msg ${kinds[out.kind]} exam-${out.kind}`);
  examResult.replaceChildren(p);
  if (out.kind === "registered") {
    const shown = el("output", answer.registration_code, "code");
    shown.id = "registration-code";
    examResult.append(el("p", "报名码 · Registration code: "), shown,
      el("p", `考试日期 · Exam day: ${answer.sits_on} · 考点 · Venue: ${answer.venue}`));
    codeForm.hidden = true;
    codeForm.reset();
    examForm.reset();
    examSessions();
    return;
  }
  if (out.kind === "code-sent" || out.kind === "code-not-taken") {
    codeForm.hidden = false;
    const input = /** @type {HTMLInputElement} */ (document.getElementById("e-code"));
    if (out.kind === "code-sent") input.value = "";  // a wrong code stays, to be checked
    input.focus();
  }
}

examForm.addEventListener("submit", (ev) => { ev.preventDefault(); sendApplication(); });
codeForm.addEventListener("submit", (ev) => {
  ev.preventDefault();
  const input = /** @type {HTMLInputElement} */ (document.getElementById("e-code"));
  sendApplication(input.value.trim());
});
document.getElementById("e-resend").addEventListener("click", () => sendApplication());

document.getElementById("complaint-form").addEventListener("submit", submitComplaint);
document.getElementById("track-form").addEventListener("submit", track);
lists();
inspections();
examSessions();
